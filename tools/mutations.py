"""Do the guards still bite? Break each honest-evaluation promise in a copy of the repository and run its tests.

Each mutation replaces text in a file of a fresh copy of the repository (the files git
tracks or would track; ``../shared`` linked beside it when present), then runs the tests
named for it with ``pytest -x``. A mutation is *caught* when a test fails, and the table
names the first failing test; it *survived* when every test passed. The mutations are
those of issue 20 (the ones the suite caught before and the ones that survived it) and
one more: a training loop that never steps its optimiser.

A mutation whose text is no longer in its file is an error before anything runs: when
code moves, update the mutation here (``--check`` only looks for the texts, in a second).
Not part of ``make test``: every mutation runs a pytest session of its own (3 to 30 s each
on two idle cores, a smoke run included; about five minutes for all of them with the
baseline, three with ``--survived``; many times that on a loaded machine).

Usage::

    python tools/mutations.py                 # all mutations, after a baseline run without one
    python tools/mutations.py --survived      # only those that survived before issue 20
    python tools/mutations.py --only selection-on-test-rows --no-baseline
    python tools/mutations.py --check         # are all the texts still where they were?
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HONEST = "tests/test_honest_evaluation.py"


@dataclass(frozen=True)
class Mutation:
    """``replacements`` are ``(file, old text, new text)``; each old text must occur exactly once."""

    name: str
    description: str
    replacements: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...]
    survived_before: bool | None = False  # survived the suite before issue 20 (None: not measured then)


MUTATIONS = (
    Mutation("score-max-and-swap", "4-class Score = max(Sp, Se); Sp and Se swapped",
             (("respirelib/training/metrics.py", '"sp": sp, "se": se4, "score": (sp + se4) / 2,',
               '"sp": se4, "se": sp, "score": np.maximum(sp, se4),'),),
             ("tests/test_metrics.py",)),
    Mutation("label-aware-evaluation-padding", "evaluation inputs padded with the label-aware rule",
             (("respirelib/signal/samples.py",
               "method=_eval_method(padding or config.eval_padding))",
               "method=_eval_method(LABEL_AWARE_DIAGNOSTIC))"),),
             ("tests/test_label_free.py", "tests/test_export_predict.py")),
    Mutation("bootstrap-resamples-cycles", "bootstrap resamples cycles instead of patients (in metrics)",
             (("respirelib/training/metrics.py",
               "patient_codes, patient_ids = pd.factorize(patients, sort=True)",
               "patient_codes, patient_ids = np.arange(len(patients)), np.arange(len(patients))"),),
             ("tests/test_metrics.py",)),
    Mutation("predict-ignores-annotations", "predict ignores --annotations",
             (("respirelib/inference/predict.py", "    if annotations is not None:\n        annotations = Path(annotations)",
               "    if False:\n        annotations = Path(annotations)"),),
             ("tests/test_export_predict.py",)),
    Mutation("predict-pads-by-repeating", "predict pads cycles by repeating them",
             (("respirelib/inference/predict.py", "inputs = recording_inputs(segments, sr=sr, config=audio)",
               'inputs = recording_inputs(segments, sr=sr, config=audio, padding="repeat")'),),
             ("tests/test_export_predict.py", "tests/test_label_free.py")),
    Mutation("blank-rows-after-augmentation", "blank rows decided after augmentation",
             (("respirelib/training/train.py",
               'train_cut = frontend.blank_cut(train_waves) if getattr(frontend, "clip_blank", False) else None',
               "train_cut = None"),),
             ("tests/test_clipping.py", "tests/test_training_inputs.py", "tests/test_augment.py")),
    Mutation("writes-in-place", "writes in place instead of temporary file + rename",
             (("respirelib/storage.py",
               'handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=".tmp", '
               "dir=path.parent)",
               "handle, temporary = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), str(path)"),),
             ("tests/test_faults.py",)),
    Mutation("selection-on-test-rows", "stage-1 checkpoint selection reads the test rows",
             (("respirelib/experiments/run.py", "return prepared.rows(profile_stage.select_on, device_name)",
               'return prepared.rows("test", device_name)'),),
             (f"{HONEST}::test_checkpoint_selection_scores_validation_patients_only",), survived_before=True),
    Mutation("train-frontend-without-clipping", "stage-1 frontend built with clip_blank=False",
             (("respirelib/experiments/run.py",
               "frontend = FeatureFrontend(profile_obj.features, clip_blank=stage.clip_blank)",
               "frontend = FeatureFrontend(profile_obj.features, clip_blank=False)"),),
             (f"{HONEST}::test_the_full_variant_clips_blank_regions_and_the_cnn_variant_does_not",),
             survived_before=True),
    Mutation("run-frontend-without-clipping", "a loaded run's frontends (evaluation, stage 2) built with "
             "clip_blank=False",
             (("respirelib/experiments/run.py",
               "return FeatureFrontend(self.profile.features, clip_blank=stage.clip_blank)",
               "return FeatureFrontend(self.profile.features, clip_blank=False)"),),
             (f"{HONEST}::test_the_full_variant_clips_blank_regions_and_the_cnn_variant_does_not",),
             survived_before=True),
    Mutation("finetuned-ignores-stage2", "metrics_finetuned.json never uses the stage-2 models",
             (("respirelib/experiments/run.py",
               'model = run.model(run.run_dir / "stage2" / device_name / "checkpoints" / "best.pt")',
               'model = run.model(run.run_dir / "stage1" / "checkpoints" / "best.pt")'),),
             (f"{HONEST}::test_finetuned_metrics_score_a_device_with_its_kept_stage_two_model",),
             survived_before=True),
    Mutation("split-with-training-seed", "train_run draws the split with the training seed (run.json says 0)",
             (("respirelib/experiments/run.py",
               "prepared = prepare_data(data_dir, profile_obj, split=split, split_seed=split_seed, fold=fold,",
               "prepared = prepare_data(data_dir, profile_obj, split=split, split_seed=seed, fold=fold,"),),
             (f"{HONEST}::test_training_patients_come_from_the_fixed_split_seed",), survived_before=True),
    Mutation("evaluate-run-resamples-cycles", "evaluate_run passes cycle ids as patients to the bootstrap",
             (("respirelib/experiments/run.py",
               'patients = run.prepared.dataset.cycles.loc[table["cycle_row"], "patient"].to_numpy()',
               'patients = table["cycle_row"].to_numpy()'),),
             (f"{HONEST}::test_metric_intervals_resample_patients_not_cycles",), survived_before=True),
    Mutation("optimizer-never-steps", "the training loop never steps its optimiser (a model that learns nothing)",
             (("respirelib/training/train.py", "            optimizer.step()\n", "            pass\n"),),
             ("tests/test_learning.py",), survived_before=None),
)


BEFORE = {True: "survived", False: "caught", None: "not measured"}


def check_texts(mutations, root: Path = REPO_ROOT) -> None:
    """Raise if an old text is not in its file exactly once (the code moved: update the mutation)."""
    problems = []
    for mutation in mutations:
        for file, old, _ in mutation.replacements:
            path = root / file
            count = path.read_text().count(old) if path.is_file() else -1
            if count != 1:
                where = "the file does not exist" if count < 0 else f"found {count} times, not once"
                problems.append(f"{mutation.name}: {file}: {where}: {old!r}")
    if problems:
        raise SystemExit("mutations out of date with the code:\n  " + "\n  ".join(problems))


def copy_repository(target: Path) -> Path:
    """The files git tracks or would track, copied to ``target/repo``; ``target/shared`` links to ../shared."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True).stdout.split("\0")
    repo = target / "repo"
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    shared = REPO_ROOT.parent / "shared"
    if shared.is_dir():
        (target / "shared").symlink_to(shared.resolve())
    return repo


def apply(mutation: Mutation, repo: Path) -> None:
    for file, old, new in mutation.replacements:
        path = repo / file
        path.write_text(path.read_text().replace(old, new, 1))


def run_tests(repo: Path, tests, *, stop_first: bool, timeout: float) -> tuple[str, list, float]:
    """``("passed" | "failed" | "error: ...", failing tests, seconds)`` of a pytest run in ``repo``.

    Each failing test is its id and the first line of its failure message.
    """
    report = repo / "mutation-junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
               *(["-x"] if stop_first else []), *tests]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"error: no result within {timeout:g} s", [], time.perf_counter() - started
    seconds = time.perf_counter() - started
    failing: list[tuple[str, str]] = []
    if report.is_file():
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            problem = case.find("failure") if case.find("failure") is not None else case.find("error")
            if problem is not None:
                message = (problem.get("message") or "").strip().splitlines()[:1]
                failing.append((f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}",
                                message[0][:160] if message else ""))
    if done.returncode == 0:
        return "passed", failing, seconds
    if done.returncode == 1 or failing:
        return "failed", failing, seconds
    return f"error: pytest exit {done.returncode}: {done.stdout[-300:]}{done.stderr[-300:]}", failing, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutations only")
    parser.add_argument("--survived", action="store_true",
                        help="only the mutations that survived before issue 20 (and the one not measured then)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the tests without mutations")
    parser.add_argument("--all-failures", action="store_true", help="run every named test, not up to the first "
                                                                    "failure (slower; names every catching test)")
    parser.add_argument("--check", action="store_true", help="only check that every text is found, and exit")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per pytest run (default 1200)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if (not args.only or m.name in args.only)
              and (not args.survived or m.survived_before is not False)]
    unknown = set(args.only or ()) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutations {sorted(unknown)}; --list shows them")
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:34} {BEFORE[m.survived_before]:16} {m.description}")
        return 0
    check_texts(chosen)
    if args.check:
        print(f"all {len(chosen)} mutations find their texts")
        return 0
    with tempfile.TemporaryDirectory(prefix="respirenet-mutations-") as scratch:
        if not args.no_baseline:
            tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
            outcome, failing, seconds = run_tests(copy_repository(Path(scratch) / "baseline"), tests,
                                                  stop_first=False, timeout=args.timeout * 2)
            print(f"baseline (no mutation): {outcome} in {seconds:.0f} s", flush=True)
            if outcome != "passed":
                print("the tests fail without a mutation, so a failure would prove nothing:\n  "
                      + "\n  ".join(f"{name}: {message}" for name, message in failing))
                return 1
        rows = []
        for index, mutation in enumerate(chosen):
            repo = copy_repository(Path(scratch) / f"m{index}")
            apply(mutation, repo)
            outcome, failing, seconds = run_tests(repo, mutation.tests, stop_first=not args.all_failures,
                                                  timeout=args.timeout)
            verdict = {"failed": "caught", "passed": "SURVIVED"}.get(outcome, outcome)
            rows.append((mutation, verdict, failing, seconds))
            print(f"{mutation.name}: {verdict} in {seconds:.0f} s", flush=True)
            for name, message in failing:
                print(f"    {name}: {message}", flush=True)
            shutil.rmtree(repo.parent, ignore_errors=True)
    print("\n| mutation | before issue 20 | now | caught by | seconds |\n| --- | --- | --- | --- | --- |")
    for mutation, verdict, failing, seconds in rows:
        print(f"| {mutation.description} | {BEFORE[mutation.survived_before]} | {verdict} | "
              f"{', '.join(f'`{name}`' for name, _ in failing) or '–'} | {seconds:.0f} |")
    return 0 if all(verdict == "caught" for _, verdict, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
