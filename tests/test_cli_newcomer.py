"""The command line as a newcomer meets it (issue 23): defaults that work, errors whose advice works.

Each check runs the command as a user would, in a process of its own, and looks at its exit
status and message: no traceback, the file named, and where the message gives a command, that
command is run too. Only the plans are read in this process, with the notebooks' start replaced,
so that nothing trains. The parser's options are checked against the README's command table and
``--help``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from respirelib.apps.cli import build_parser, main
from respirelib.config import DEFAULT_INIT
from tests.conftest import REPO_ROOT
from tests.icbhi_release import SPLIT, small_release, release  # noqa: F401  (fixtures)


def respirenet(*args, stdin=subprocess.DEVNULL, timeout: float = 300) -> subprocess.CompletedProcess:
    """``respirenet ARGS`` in a new process of this interpreter, importing this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "respirelib.apps.cli", *map(str, args)], cwd=REPO_ROOT, env=env,
                          stdin=stdin, capture_output=True, text=True, timeout=timeout)


def failed(result: subprocess.CompletedProcess, *expected: str, status: int = 2) -> str:
    """Assert a clean failure (``status``, no traceback, each of ``expected`` said); return stderr."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    return result.stderr


def succeeded(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0 and "Traceback" not in result.stderr, (result.stdout, result.stderr)
    return result.stdout


# ----------------------------------------------------------------------------- --help and the README


def _leaf_parsers(parser: argparse.ArgumentParser, path: tuple = ()):
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
        return
    for name, sub in subparsers[0].choices.items():
        yield from _leaf_parsers(sub, (*path, name))


def _readme_commands() -> dict[tuple, set[str]]:
    """The README's command table: each ``respirenet`` command path and the options its row names."""
    section = (REPO_ROOT / "README.md").read_text().split("## The command line", 1)[1].split("\n## ", 1)[0]
    documented: dict[tuple, set[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `respirenet"):
            continue
        first_cell = re.split(r"(?<!\\)\|", line)[1]
        for span in re.findall(r"`(respirenet [^`]*)`", first_cell):
            words, path = span.split()[1:], []
            for word in words:
                if not re.fullmatch(r"[a-z]+(-[a-z]+)*", word):
                    break
                path.append(word)
            documented.setdefault(tuple(path), set()).update(re.findall(r"--[a-z][a-z0-9-]*", span))
    return documented


UNIVERSAL_OPTIONS = {"--help", "--quiet"}  # the README says once that every command takes them


def test_the_readme_table_names_every_command_and_option_and_nothing_else():
    documented = _readme_commands()
    leaves = dict(_leaf_parsers(build_parser()))
    assert set(documented) == set(leaves), "README rows and commands differ"
    for path, parser in leaves.items():
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - UNIVERSAL_OPTIONS
        name = "respirenet " + " ".join(path)
        assert not options - documented[path], f"{name}: options missing from the README's row"
        assert not documented[path] - options, f"{name}: the README's row names options the command lacks"


def test_help_shows_every_default():
    for path, parser in _leaf_parsers(build_parser()):
        for action in parser._actions:
            if action.nargs == 0 or action.required or not (action.option_strings or action.nargs in ("?", "*")):
                continue  # flags, and arguments that must be given, have no default to show
            helped = parser._get_formatter()._get_help_string(action)
            assert "default" in helped.lower(), f"respirenet {' '.join(path)} {action.option_strings}: no default"
    help_text = " ".join(succeeded(respirenet("train", "--help")).split())
    assert f"said loudly (default: {DEFAULT_INIT})" in help_text and "(0-4) (default: 0)" in help_text


def test_help_and_argument_errors_come_without_loading_torch():
    """`respirenet --help` and a refused argument answer at once: building the parser imports no torch (seconds)."""
    probe = ("import sys\nfrom respirelib.apps.cli import build_parser\nbuild_parser()\n"
             "print(sorted(name for name in ('torch', 'torchvision', 'librosa', 'matplotlib') if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[]", (loaded.stdout, loaded.stderr)


# ----------------------------------------------------------------------------- defaults that work


def test_train_pipeline_and_demo_share_one_init_default_that_works_for_every_profile(capsys):
    from respirelib.experiments.run import resolve_init
    from respirelib.training.profiles import get_profile

    parser = build_parser()
    for command in (["train", "--out", "x"], ["pipeline"], ["demo"]):
        assert parser.parse_args(command).init == DEFAULT_INIT == "imagenet-if-available"
    assert resolve_init(get_profile("quick"), DEFAULT_INIT) == "random"  # the quick network has no weights
    out = capsys.readouterr().out
    assert out.count("RANDOM initialisation") == 1 and "width 16" in out
    with pytest.raises(ValueError, match="--init random or --init imagenet-if-available"):
        resolve_init(get_profile("quick"), "imagenet")


def test_train_without_the_weights_stops_before_any_work_and_its_advice_works(tiny_synthetic, tmp_path):
    run = tmp_path / "run"
    failed(respirenet("train", "--out", run, "--data", tiny_synthetic, "--profile", "smoke", "--init",
                    "imagenet"), "resnet18-", "--init random")
    assert not run.exists(), "a failed train must leave no folder to be taken for a claimed run"
    succeeded(respirenet("train", "--out", run, "--data", tiny_synthetic, "--profile", "smoke", "--init",
                       "random", "--epochs", "1", "--quiet"))
    assert json.loads((run / "run.json").read_text())["init"] == "random init"


# ----------------------------------------------------------------------------- plans that count what runs


def _started(monkeypatch, tmp_path, argv) -> dict:
    """``respirenet ARGV`` up to the point where the notebooks would start: what it would run them with."""
    import respirelib.apps.launch

    started = {}

    def run_pipeline(*, out, request, progress, plan):
        started.update(out=out, request=request, plan=plan)
        return out

    monkeypatch.setattr(respirelib.apps.launch, "run_pipeline", run_pipeline)
    assert main([*argv, "--runs", str(tmp_path / "runs"), "--quiet"]) == 0
    return started


def test_the_plan_counts_every_seed_split_and_stage_the_notebooks_train(tiny_synthetic, tmp_path, monkeypatch, capsys):
    import respirelib.experiments.progress

    started = _started(monkeypatch, tmp_path, ["demo", "--data", str(tiny_synthetic)])
    seeds = dict(started["request"].extra)["seeds"]
    assert seeds == [0, 1, 2, 3, 4]  # the quick profile's five seeds, as the notebooks get them
    assert sorted({run["seed"] for run in started["plan"]["runs"]}) == seeds
    # two Table I rows of stage 1 per seed, and stage 2 of the full model per seed
    assert [run["stage"] for run in started["plan"]["runs"]].count("stage1") == 2 * len(seeds)
    assert len(started["plan"]["runs"]) == 3 * len(seeds)

    started = _started(monkeypatch, tmp_path, ["pipeline", "--profile", "smoke", "--data", str(tiny_synthetic),
                                               "--splits", "official", "patient-cv", "--seeds", "3", "--init",
                                               "random"])
    assert dict(started["request"].extra) == {"splits": ["official", "patient-cv"], "seeds": [3]}
    assert len(started["plan"]["runs"]) == 6 * 2 + 6  # official and five folds, two rows, then stage 2 of one

    monkeypatch.setattr(respirelib.experiments.progress, "project", lambda data, runs, **kw: {
        "runs": [{**run, "projected_s": 10.0} for run in runs], "total_s": 10.0 * len(runs), "device": "cpu",
        "profile": kw["profile"], "basis": "a test", "train_samples_per_s": 1, "eval_samples_per_s": 1, "note": "-"})
    _started(monkeypatch, tmp_path, ["pipeline", "--profile", "quick", "--data", str(tiny_synthetic), "--project"])
    assert "for 15 training runs (10 stage-1, 5 stage-2)" in capsys.readouterr().out


def test_a_cpu_run_projected_over_an_hour_asks_first(tiny_synthetic, tmp_path, monkeypatch):
    import respirelib.experiments.progress
    from respirelib.apps.launch import confirm_long_run

    runs = tmp_path / "runs"
    refused = respirenet("pipeline", "--profile", "paper", "--data", tiny_synthetic, "--device", "cpu",
                         "--runs", runs, "--quiet", timeout=120)  # stdin is no terminal: no one can answer
    failed(refused, "--yes", "over an hour")
    assert "projected time:" in refused.stdout and (not runs.exists() or list(runs.iterdir()) == [])

    long = {"total_s": 7200.0, "device": "cpu"}
    confirm_long_run(long, assume_yes=True)
    confirm_long_run(long, ask=lambda question: "y")
    confirm_long_run({**long, "device": "cuda:0"})  # a GPU is not asked about
    with pytest.raises(ValueError, match="--yes"):
        confirm_long_run(long, ask=lambda question: "n")
    monkeypatch.setattr(respirelib.experiments.progress, "project", lambda data, runs, **kw: {
        "runs": runs, "total_s": 7200.0, "device": "cpu", "profile": "paper", "basis": "a test",
        "train_samples_per_s": 1, "eval_samples_per_s": 1, "note": "-"})
    started = _started(monkeypatch, tmp_path, ["pipeline", "--profile", "paper", "--data", str(tiny_synthetic),
                                               "--init", "random", "--yes"])  # the advice, followed
    assert started["plan"]["total_s"] == 7200.0


def test_a_pipeline_checks_data_and_weights_before_it_makes_a_run(tiny_synthetic, tmp_path):
    runs = tmp_path / "runs"
    failed(respirenet("demo", "--data", tmp_path / "nope", "--runs", runs), str(tmp_path / "nope"))
    failed(respirenet("pipeline", "--profile", "smoke", "--data", tiny_synthetic, "--init", "imagenet",
                    "--runs", runs), "resnet18-", "--init random")
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_resumed_pipeline_keeps_its_choices_and_says_so(tiny_synthetic, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    request = {"profile": "smoke", "data_dir": str(tiny_synthetic), "seed": 0, "device": "cpu", "init": "imagenet",
               "extra": []}
    (run / "pipeline.json").write_text(json.dumps({"request": request, "notebooks": {}}))
    failed(respirenet("pipeline", "--out", run, "--from", "04", "--init", "random"),
           "--init random (the run has imagenet)", "start a new run")
    # the advice, followed: resumed without the option (a notebook that does not exist stops it right after)
    result = respirenet("pipeline", "--out", run, "--from", "99")
    failed(result, "unknown notebook '99'")
    assert "with its choices: --profile smoke" in result.stdout and "--init imagenet" in result.stdout


# ----------------------------------------------------------------------------- advice that is right


def test_predict_names_the_stethoscope_and_the_compute_device_apart(model_file, tiny_synthetic, tmp_path):
    import torch

    recording = sorted(tiny_synthetic.glob("*.wav"))[0]
    failed(respirenet("predict", tiny_synthetic, "--model", model_file), f"{tiny_synthetic}: a folder")
    mp3 = tmp_path / "sound.mp3"
    shutil.copy(recording, mp3)
    failed(respirenet("predict", mp3, "--model", model_file), f"{mp3}: a .mp3 file", "WAV and FLAC")
    if not torch.cuda.is_available():
        failed(respirenet("predict", recording, "--model", model_file, "--device", "cuda"), "use --device cpu")
    out = tmp_path / "out"
    succeeded(respirenet("predict", recording, "--model", model_file, "--device", "cpu", "--stethoscope",
                       "Meditron", "--json", out / "a.json"))
    succeeded(respirenet("predict", recording, "--model", model_file, "--csv", out / "b.csv"))  # 2nd format
    predicted = json.loads((out / "a.json").read_text())["recordings"][0]
    assert predicted["device"] == "Meditron" and predicted["device_source"] == "argument"
    assert sorted(path.name for path in out.iterdir()) == [
        "a.json", f"a_{recording.stem}_timeline.png", "b.csv", f"b_{recording.stem}_timeline.png"]


def test_explain_and_the_other_commands_give_advice_that_works(smoke_run, tmp_path):
    data = json.loads((smoke_run / "run.json").read_text())["data_dir"]
    err = failed(respirenet("explain", "--run", smoke_run, "--cycle", "nosuch:0", "--out", tmp_path / "x.png"),
                 "no recording 'nosuch'")
    advice = shlex.split(re.search(r"list them with `respirenet ([^`]+)`", err).group(1))
    listed = succeeded(respirenet(*advice))
    some = next(path.stem for path in sorted(Path(data).glob("*.txt")) if path.stem[0].isdigit())
    assert re.search(rf"^{some}\s", listed, re.MULTILINE), "the advice must list the recordings' names"

    failed(respirenet("evaluate", smoke_run, "--quiet"), "--overwrite replaces it")
    failed(respirenet("finetune", smoke_run, "--device", "cpu", "--quiet"), "continue it with --resume")


def test_data_verify_says_synthetic_stops_quietly_in_a_pipe_and_keeps_its_words(tiny_synthetic):
    verify = subprocess.Popen([sys.executable, "-m", "respirelib.apps.cli", "data", "verify", str(tiny_synthetic)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    verify.stdout.readline()  # `| head -1`: the reader leaves while the report is still being written
    verify.stdout.close()
    assert "Traceback" not in verify.stderr.read() and verify.wait(timeout=120) != 0
    verify.stderr.close()
    summary = respirenet("data", "verify", tiny_synthetic, "--no-audio").stdout.splitlines()[-1]
    assert summary.startswith("SYNTHETIC dataset") and summary.endswith("audio not checked (on request)")


def test_download_offline_suggests_a_zip_saved_from_a_browser_and_that_works(tmp_path, request):
    with socket.socket() as probe:  # a port nothing listens on: the machine is as good as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "ICBHI"
    err = failed(respirenet("data", "download", out, "--url", f"http://127.0.0.1:{port}/ICBHI_final_database.zip",
                            "--retries", "0", "--quiet"), "after 1 attempt (", "nothing was received", "--url")
    assert ".part" not in err and sorted(tmp_path.iterdir()) == []  # no empty DIR-download/ left behind
    advice = shlex.split(err.strip().rsplit("\n", 1)[-1])
    assert advice[:4] == ["respirenet", "data", "download", str(out)] and advice[4] == "--url"

    release = request.getfixturevalue("small_release")  # the advice, followed (needs ../shared's annotations)
    browser = tmp_path / "Downloads"
    browser.mkdir()
    (browser / "ICBHI_final_database.zip").write_bytes(release.zip_bytes)
    (browser / SPLIT).write_bytes(release.metadata[SPLIT])
    result = respirenet(*advice[1:5], browser / "ICBHI_final_database.zip", "--quiet")
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr  # 1: a five-recording copy differs
    assert f"data: {out}" in result.stdout and (out / SPLIT).is_file()


def test_gpu_check_tiny_cpu_uses_the_project_environment(tmp_path):
    copy = tmp_path / "repo"
    (copy / "tools").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "tools" / "gpu_check.sh", copy / "tools" / "gpu_check.sh")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python3").write_text("#!/bin/sh\nexit 1\n")  # a system Python without the project's packages
    (fake_bin / "python3").chmod(stat.S_IRWXU)
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    env["PATH"] = f"{fake_bin}{os.pathsep}{env['PATH']}"
    command = ["bash", str(copy / "tools" / "gpu_check.sh"), "--tiny-cpu", str(tmp_path / "out")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "make venv" in result.stderr and "fetch_gpu_wheels" not in result.stderr
    venv_python = copy / ".venv" / "bin" / "python"  # what `make venv` makes: now it is the one used
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {tmp_path / 'calls'}\n")
    venv_python.chmod(stat.S_IRWXU)
    subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "calls").read_text()
    assert ".venv/bin/python tools/gpu_check.py --tiny-cpu" in calls


def test_internal_wording_does_not_reach_the_user(tiny_icbhi, tmp_path):
    partial = tmp_path / "set.partial"
    partial.mkdir()
    err = failed(respirenet("synth", tmp_path / "set", "--scale", "0.01", "--quiet"), str(partial))
    assert "[Errno" not in err
    for wav in tiny_icbhi.glob("*.wav"):
        wav.unlink()
    err = failed(respirenet("train", "--out", tmp_path / "run", "--data", tiny_icbhi, "--profile", "smoke",
                          "--init", "random"), "no audio files")
    assert "audio=" not in err and not (tmp_path / "run").exists()


def test_bench_quick_refuses_unknown_settings_naming_the_valid_ones(capsys):
    for candidate, expected in (('x={"nosuch": 1}', ["unknown override section 'nosuch'",
                                                     "stage1, stage2, audio, features, augment, model"]),
                                ('x={"stage1": {"nosuch": 1}}', ["unknown stage1 setting(s) 'nosuch'", "optimizer"]),
                                ('x={"stage1": 1}', ["must map its settings to values"])):
        with pytest.raises(SystemExit) as exit_status:  # argparse's own exit for a bad option value
            main(["bench", "quick", "--candidate", candidate])
        failed(subprocess.CompletedProcess([], exit_status.value.code, "", capsys.readouterr().err), *expected)


# ----------------------------------------------------------------------------- numbers shown, quietly


def test_finetune_prints_words_not_dicts(smoke_run):
    from respirelib.apps.cli import _describe_finetuning

    statuses = json.loads((smoke_run / "stage2" / "devices.json").read_text())
    lines = [_describe_finetuning(status) for status in statuses.values()]
    assert all("{" not in line and "'" not in line for line in lines)
    trained = [name for name, status in statuses.items() if status["status"] == "trained"]
    for name in trained:
        assert f"epoch {statuses[name]['best_epoch']} kept" in _describe_finetuning(statuses[name])


def test_the_pipelines_kernels_do_not_print_their_tcp_warning(tmp_path, capfd):
    import nbformat

    from respirelib.apps.notebooks import run_papermill

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "n.ipynb")
    run_papermill(tmp_path / "n.ipynb", tmp_path / "out.ipynb", parameters={}, cwd=tmp_path, progress=False)
    captured = capfd.readouterr()
    assert (tmp_path / "out.ipynb").is_file() and "without encryption" not in captured.out + captured.err
