"""Runs killed (SIGKILL, real subprocesses) at every kind of write, then run again by the pipeline's code.

Each child process (forked from a server that imported the project once) runs what notebooks 04/05 and ``respirenet export`` run for one run
(:func:`respirelib.experiments.study.ensure_run` with fine-tuning, then :func:`export_model`) in the
smoke profile; ``RESPIRENET_KILL_AT`` (:mod:`respirelib.storage`) makes it SIGKILL itself
at an exact write. After each kill the files on disk are checked, and the last, uninterrupted
attempt must give exactly the metrics of the session's uninterrupted run (CPU is deterministic).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from respirelib.model.checkpoint import load_checkpoint
from respirelib.inference.export import load_exported_model
from respirelib.storage import KILL_AT_ENV
from respirelib.experiments.progress import PROGRESS_FILE, planned_runs, write_plan

pytestmark = pytest.mark.slow

SCORES = ("four_class", "two_class", "confusion", "per_device", "n_cycles")


def _pipeline_run(root: str, data: str, cache: str, kill_at: str | None, whole: bool) -> None:
    """What the child process runs (``whole``: with stage 2 and the export); ``kill_at`` arms the fault point."""
    os.environ["RESPIRENET_CACHE"] = cache
    if kill_at:
        os.environ[KILL_AT_ENV] = kill_at
    else:
        os.environ.pop(KILL_AT_ENV, None)
    from respirelib.inference.export import export_model
    from respirelib.experiments.study import ensure_run

    run = ensure_run(root, data, split="official", variant="full", seed=0, profile="smoke", init="random",
                     device="cpu", finetune=whole, progress=False)
    if whole:
        export_model(run, f"{root}/export/model.pt")


def _child(root: Path, data: Path, *, cache: Path, kill_at: str | None = None, whole: bool = True):
    # Forked from a server that imported the project once (seconds saved per child), yet each child is a
    # fresh process of its own, killed for real.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["respirelib.experiments.study", "respirelib.inference.export", "tests.test_faults"])
    process = context.Process(target=_pipeline_run, args=(str(root), str(data), str(cache), kill_at, whole))
    process.start()
    return process


def _finish(process) -> int:
    process.join(timeout=300)
    return process.exitcode


def _scores(path: Path) -> dict:
    metrics = json.loads(path.read_text())
    return {key: metrics[key] for key in SCORES}


def _assert_same_results(root: Path, reference: Path, *, whole: bool = True) -> None:
    run = root / "train" / "official-full-seed0"
    for name in ("metrics.json", "metrics_finetuned.json") if whole else ("metrics.json",):
        assert _scores(run / name) == _scores(reference / name), name
        predictions = name.replace(".json", "_predictions.csv")
        assert (run / predictions).read_text() == (reference / predictions).read_text(), predictions
    if not whole:
        return
    exported = load_exported_model(root / "export" / "model.pt")
    assert exported.describe()  # complete and loadable
    assert (root / "export" / "MODEL_CARD.md").is_file()


def _leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob(".*") if ".tmp" in p.name or p.name.startswith(".cycles-")]


def test_a_run_killed_at_every_kind_of_write_ends_like_an_uninterrupted_one(tiny_synthetic, smoke_run, tmp_path):
    root, cache = tmp_path / "pipeline", tmp_path / "cache"
    run = root / "train" / "official-full-seed0"

    def killed(pattern: str) -> None:
        assert _finish(_child(root, tiny_synthetic, cache=cache, kill_at=pattern)) == -signal.SIGKILL, pattern

    # 1. half-way through writing the cycle cache: nothing that looks like a cache is left
    killed("*/waves.npy")
    assert not list(cache.glob("cycles-*")) and list(cache.glob(".cycles-*"))
    # 2. in the first epoch (its validation checkpoint): run.json, no last.pt
    killed("*/stage1/checkpoints/best.pt")
    assert (run / "run.json").is_file() and not (run / "stage1" / "checkpoints" / "last.pt").exists()
    # 3. while writing epoch 2's checkpoint: epoch 1's is intact, the half-written one is aside
    killed("*/stage1/checkpoints/last.pt#2")
    assert load_checkpoint(run / "stage1" / "checkpoints" / "last.pt")["epoch"] == 0
    assert list((run / "stage1" / "checkpoints").glob(".last.pt.*.tmp"))
    # 4. during the evaluation: metrics.json complete, its predictions not yet written
    killed("*/metrics_predictions.csv")
    assert json.loads((run / "metrics.json").read_text())["four_class"]
    # 5. in stage 2, writing the first device's checkpoint
    killed("*/stage2/*/checkpoints/last.pt")
    assert not (run / "stage2" / "devices.json").exists()
    # 6. during the export, between the model file and its card
    killed("*/export/MODEL_CARD.md")
    assert (root / "export" / "model.pt").is_file() and not (root / "export" / "MODEL_CARD.md").exists()

    assert _finish(_child(root, tiny_synthetic, cache=cache)) == 0
    _assert_same_results(root, smoke_run)
    assert _leftovers(root, cache) == []  # each killed write's temporary was removed by the next one
    history = (run / "stage1" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2]


def test_two_pipelines_at_once_share_the_data_and_a_cache_being_built(tiny_synthetic, smoke_run, tmp_path):
    cache = tmp_path / "cache"  # empty: both build the same cache at the same time
    roots = [tmp_path / "first", tmp_path / "second"]
    for root in roots:  # as `respirenet pipeline` plans them: each run then reports its place
        write_plan(root, {"runs": planned_runs(["official"], [0], ablation=False, finetune=False)})
    processes = [_child(root, tiny_synthetic, cache=cache, whole=False) for root in roots]
    assert [_finish(process) for process in processes] == [0, 0]
    for root in roots:
        _assert_same_results(root, smoke_run, whole=False)  # stage 1 and its evaluation: all they share
        lines = (root / PROGRESS_FILE).read_text().splitlines()
        assert [line.split(";")[0] for line in lines] == ["run 1/1: official-full-seed0, stage 1"]
    assert len(list(cache.glob("cycles-*"))) == 1 and _leftovers(cache) == []


def test_two_pipelines_writing_the_default_synthetic_set_at_once_write_it_once(tmp_path, monkeypatch):
    import threading

    import respirelib.data.data_dirs as data_dirs
    import respirelib.data.synth as synth

    target = tmp_path / "data" / "synthetic-scale0.03-seed0"
    monkeypatch.setattr(data_dirs, "default_synthetic_dir", lambda **_: target)
    writes, real_write = [], synth.write_synthetic_icbhi

    def counted_write(*args, **kwargs):
        writes.append(args[0])
        return real_write(*args, **kwargs)

    monkeypatch.setattr(synth, "write_synthetic_icbhi", counted_write)
    results, errors = [], []

    def pipeline():
        try:
            results.append(data_dirs.resolve_data_dir(None, scale=0.03, seed=0, progress=False))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=pipeline) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and results == [target, target] and writes == [target]
    assert (target / data_dirs.SYNTHETIC_MARKER).is_file()


def test_two_train_commands_started_at_once_into_one_new_folder_one_trains_the_other_stops(tiny_synthetic,
                                                                                          tmp_path):
    """The claim is atomic across processes: exactly one `respirenet train --out X` proceeds, the other is told why."""
    import subprocess
    import sys

    out = tmp_path / "X"
    command = [sys.executable, "-m", "respirelib.apps.cli", "train", "--data", str(tiny_synthetic), "--out", str(out),
               "--profile", "smoke", "--init", "random", "--epochs", "1", "--device", "cpu", "--quiet"]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    children = [subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    outputs = [child.communicate(timeout=600) for child in children]
    codes = [child.returncode for child in children]
    assert sorted(codes) == [0, 2], outputs
    loser_err = outputs[codes.index(2)][1]
    assert f"{out} already exists" in loser_err and "never overwritten" in loser_err, loser_err
    assert "Traceback" not in loser_err
    request = json.loads((out / "run.json").read_text())
    assert request["seed"] == 0 and (out / "stage1" / "checkpoints" / "best.pt").is_file()
