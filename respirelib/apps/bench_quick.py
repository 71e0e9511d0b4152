"""``respirenet bench quick`` and ``respirenet bench demo``: what a quick-profile setting learns, and what the demo costs.

``bench quick`` trains stage 1 of the quick profile (or any profile) once per seed for each
candidate setting, a named set of profile overrides such as
``adamw='{"stage1": {"optimizer": "adamw"}}'``, scores each run on its test cycles with the
label-free evaluation inputs and reports, per candidate, the mean ± standard deviation over
seeds of the 4-class Sp, Se and Score, every class's test recall and the training time. It
is how the quick profile and the default training padding were chosen
(``results/quick_profile_tuning.json``, ``results/padding_choice_quick_synthetic.json``).

``bench demo`` runs the whole demo (``respirenet demo``: every notebook, the default seeds)
from an installed environment and checks it against the demo's targets: its wall time, with the
machine's load beside the figure, and the learning targets of the full model (enough seeds, every
class recalled by every seed, a small spread of the score). It is a benchmark, never a test: its
time depends on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from respirelib.apps.bench_common import _data_record, _emit, bench_record, target
from respirelib.runs import REPO_ROOT
from respirelib.training.metrics import MAX_SCORE_STD_POINTS, MIN_CLASS_RECALL, MIN_DEMO_SEEDS, class_recalls

DEMO_TARGET_S = 10 * 60


OVERRIDES_HELP = ("a JSON object of profile overrides: sections stage1, stage2, audio, features, augment or model, "
                  "each mapping settings of that section to values, e.g. '{\"stage1\": {\"optimizer\": \"sgd\", "
                  "\"lr\": 0.001}}' (the settings are the fields of TrainConfig, AudioConfig, FeatureConfig, "
                  "AugmentConfig and ModelConfig; an unknown one is refused with the list)")


def _parse_overrides(text: str, *, what: str = "--base") -> dict:
    """A JSON object of profile overrides, checked against the profile's sections and settings."""
    from respirelib.training.profiles import get_profile

    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{what}: the overrides are not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{what}: the overrides must be a JSON object, e.g. "
                                         '\'{"stage1": {"epochs": 4}}\'')
    try:
        get_profile("quick").with_overrides(value)  # every profile has the same sections and settings
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{what}: {error}") from None
    return value


def _parse_candidate(text: str) -> tuple[str, dict]:
    name, separator, overrides = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"a candidate is NAME=JSON (e.g. adamw='{{\"stage1\": ...}}'), got {text!r}")
    return name, _parse_overrides(overrides, what=f"candidate {name!r}")


def _merge(base: dict, extra: dict) -> dict:
    merged = {part: dict(fields) for part, fields in base.items()}
    for part, fields in extra.items():
        merged.setdefault(part, {}).update(fields)
    return merged


def measure_run(data_dir, run_dir: Path, *, profile: str, seed: int, overrides: dict, init: str,
                device: str, progress: bool) -> dict:
    """Train stage 1 and evaluate it once; the scores, recalls and times of the run."""
    from respirelib.experiments.run import evaluate_run, train_run
    from respirelib.model.checkpoint import load_checkpoint

    started = time.perf_counter()
    train_run(data_dir, run_dir, profile=profile, seed=seed, init=init, device=device, progress=progress,
              overrides=overrides)
    trained = time.perf_counter()
    metrics = evaluate_run(run_dir, device=device, progress=progress)["stage1"]
    history = [json.loads(line) for line in (run_dir / "stage1" / "history.jsonl").read_text().splitlines()]
    # The epoch the run kept, by its own selection metric (the Score or the mean class recall).
    selected_epoch = load_checkpoint(run_dir / "stage1" / "checkpoints" / "best.pt")["epoch"]
    four, two = metrics["four_class"], metrics["two_class"]
    return {"seed": seed, "run": str(run_dir), "precision": metrics["training_precision"], "sp": four["sp"], "se": four["se"], "score": four["score"],
            "score_2class": two["score"], "class_recall": class_recalls(metrics["confusion"]),
            "selected_epoch": selected_epoch, "val_scores": [r.get("val_score") for r in history],
            "fit_s": round(sum(r.get("seconds", 0.0) for r in history), 1),
            "train_run_s": round(trained - started, 1), "evaluate_s": round(time.perf_counter() - trained, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def summarise_candidate(runs: list[dict]) -> dict:
    """Mean and sample std (ddof 1) over seeds, in percent points, plus the worst class recall."""
    def stats(values):
        values = np.asarray(values, dtype=float)
        std = float(values.std(ddof=1)) if len(values) > 1 else None
        return {"mean": round(float(values.mean()), 2), "std": None if std is None else round(std, 2)}

    per_class = [[r for r in column if r is not None] for column in zip(*(run["class_recall"] for run in runs))]
    defined = [r for column in per_class for r in column]
    return {"n_seeds": len(runs), **{key: stats([100 * run[key] for run in runs])
                                     for key in ("sp", "se", "score", "score_2class")},
            "class_recall_mean": [round(100 * float(np.mean(column)), 1) if column else None for column in per_class],
            "min_class_recall": round(100 * min(defined), 1) if defined else None,
            "fit_s_mean": round(float(np.mean([run["fit_s"] for run in runs])), 1)}


def bench_quick(candidates: list[tuple[str, dict]], *, data_dir=None, profile: str = "quick",
                seeds=(0, 1, 2), base_overrides: dict | None = None, root: str | Path | None = None,
                init: str = "random", device: str = "cpu", progress: bool = False) -> dict:
    """Every candidate trained and scored once per seed; one record with a summary per candidate."""
    import torch

    from respirelib.data.icbhi import load_icbhi
    from respirelib.training.profiles import profile_data_dir
    from respirelib.storage import new_run_dir

    data_dir = profile_data_dir(data_dir, profile)
    dataset = load_icbhi(data_dir, errors="raise")
    root = Path(root) if root is not None else new_run_dir(REPO_ROOT / "runs", f"bench-{profile}")
    results = []
    for name, overrides in candidates:
        merged = _merge(base_overrides or {}, overrides)
        runs = [measure_run(data_dir, root / f"{name}-seed{seed}", profile=profile, seed=seed, overrides=merged,
                            init=init, device=device, progress=progress) for seed in seeds]
        results.append({"name": name, "overrides": merged, "summary": summarise_candidate(runs), "runs": runs})
    targets = []
    for result in results:
        summary = result["summary"]
        if summary["min_class_recall"] is not None:
            targets.append(target(f"{result['name']}: lowest class recall (%)", summary["min_class_recall"],
                                  unit="%", at_least=100 * MIN_CLASS_RECALL))
        if summary["score"]["std"] is not None:
            targets.append(target(f"{result['name']}: std of the 4-class score (points)", summary["score"]["std"],
                                  unit="points", at_most=MAX_SCORE_STD_POINTS))
    return bench_record("quick", data=_data_record(dataset, write_s=None),
                        results={"profile": profile, "seeds": list(seeds), "init": init, "device": device,
                                 "torch_threads": torch.get_num_threads(), "evaluation": "label-free inputs "
                                 "(AudioConfig.eval_padding), checkpoint selected on validation patients",
                                 "command": "respirenet " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None,
                                 "candidates": results},
                        targets=targets)


def demo_learning_targets(run_dir: str | Path) -> list[dict]:
    """The demo's learning targets, as benchmark targets, from a finished pipeline run (see ``learning_targets``).

    At least :data:`MIN_DEMO_SEEDS` seeds of the full model (+CBA+BRC, official split), every class
    recalled at :data:`MIN_CLASS_RECALL` or more by every seed, and a standard deviation of the 4-class
    Score over those seeds of at most :data:`MAX_SCORE_STD_POINTS` points. A missing figure (one seed:
    no spread) counts as not met.
    """
    from respirelib.experiments.readme import learning_targets, readme_record

    found = learning_targets(readme_record(run_dir, command="respirenet bench demo"))
    name = f"{found['row']}, {found['split']} split"
    return [target(f"{name}: seeds trained", found["n_seeds"], unit="seeds", at_least=MIN_DEMO_SEEDS),
            target(f"{name}: lowest class recall of any seed", found["lowest_recall"] if found["lowest_recall"]
                   is not None else 0.0, unit="%", at_least=100 * MIN_CLASS_RECALL),
            target(f"{name}: std of the 4-class score over seeds",
                   found["score_std"] if found["score_std"] is not None else float("inf"), unit="points",
                   at_most=MAX_SCORE_STD_POINTS, interval=found["score_std_ci"])]


def notebook_seconds(run_dir: str | Path) -> dict[str, float]:
    """Seconds each executed notebook of a pipeline run took, as papermill recorded them (``{stem: s}``)."""
    seconds = {}
    for executed in sorted((Path(run_dir) / "notebooks").glob("*.ipynb")):
        duration = json.loads(executed.read_text()).get("metadata", {}).get("papermill", {}).get("duration")
        if duration is not None:
            seconds[executed.stem] = round(float(duration), 1)
    return seconds


def bench_demo(*, data_dir=None, seeds=None, runs: str | Path | None = None, precision: str = "auto",
               progress: bool = False) -> dict:
    """Run ``respirenet demo`` end to end (synthetic data written if missing, every notebook) against its targets.

    Runs :func:`respirelib.apps.launch.start_pipeline` with the demo's choices, as the command does
    (``seeds=None``: the demo's default seeds), and records its wall time (target: ten minutes) and the
    learning targets of :func:`demo_learning_targets`, with each notebook's share of the time
    (:func:`notebook_seconds`). ``precision`` is the demo's (``"fp32"`` times a CPU without native bf16
    on one that has it).
    """
    from respirelib.apps.launch import pipeline_seeds, start_pipeline

    runs = Path(runs) if runs is not None else REPO_ROOT / "runs"
    seeds = pipeline_seeds("quick", seeds=seeds)
    argv = (["demo", "--seeds", *map(str, seeds), "--runs", str(runs)] + (["--data", str(data_dir)] if data_dir else [])
            + (["--precision", precision] if precision != "auto" else []))
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    out = start_pipeline(profile="quick", data=data_dir, seeds=list(seeds), runs=runs, precision=precision,
                         progress=progress)
    elapsed = time.perf_counter() - started
    data = json.loads((out / "environment.json").read_text())["data"]
    marker = data.get("synthetic_marker") or {}
    return bench_record("demo", data={"label": data.get("label"), "path": data.get("root", data_dir),
                                      "scale": marker.get("scale"), "seed": marker.get("seed"),
                                      "difficulty": marker.get("difficulty"),
                                      "fingerprint": data.get("fingerprint"), "write_s": None},
                        results={"command": "respirenet " + shlex.join(argv), "seconds": round(elapsed, 1),
                                 "seeds": list(seeds), "load_average_before": load_before, "run": str(out),
                                 "notebook_seconds": notebook_seconds(out)},
                        targets=[target("respirenet demo, wall time", elapsed, unit="s", at_most=DEMO_TARGET_S),
                                 *demo_learning_targets(out)])


def add_bench_quick_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", type=_parse_candidate, action="append", required=True, metavar="NAME=JSON",
                        help=f"a named setting to measure, repeat for several; JSON is {OVERRIDES_HELP}")
    parser.add_argument("--base", type=_parse_overrides, default=None, metavar="JSON",
                        help="overrides applied to every candidate, the same kind of JSON (default: none)")
    parser.add_argument("--data", type=Path, default=None, help="ICBHI folder (default: the profile's synthetic set)")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--root", type=Path, default=None, help="where the runs go (default: a new runs/bench-*)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quiet", action="store_true")


def run_bench_quick(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_quick(args.candidate, data_dir=args.data, profile=args.profile, seeds=args.seeds,
                             base_overrides=args.base, root=args.root, device=args.device,
                             progress=not args.quiet)
    return _emit(record, args)


def add_bench_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="ICBHI folder (default: the synthetic set)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the demo's seeds")
    parser.add_argument("--runs", type=Path, default=None, help="where the demo's run directory goes (default: runs/)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="the demo's training precision (default: auto, as make demo)")
    parser.add_argument("--quiet", action="store_true")


def run_bench_demo(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_demo(data_dir=args.data, seeds=args.seeds, runs=args.runs, precision=args.precision,
                            progress=not args.quiet)
    return _emit(record, args)
