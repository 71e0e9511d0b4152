"""``respirenet bench transfer``: train on the synthetic default only, score 2-class on real recordings.

For each seed the profile (default: quick) trains stage 1 on its own synthetic set
(:func:`respirelib.training.profiles.profile_data_dir`; a real folder is refused), the run is
exported (:func:`respirelib.inference.export.export_model`) and every annotated cycle of the
real folder is predicted as ``respirenet predict --annotations`` would
(:func:`respirelib.inference.transfer.predict_real_cycles`: no label reaches an input). The
record gives, per seed and pooled over seeds, the 2-class specificity and sensitivity with
their counts and exact intervals, the per-recording calls and the targets (each at least 0.5,
on the pooled counts). Stage 2 is not trained: the synthetic device models would be chosen
for the real recordings by device name, and the question here is what the synthetic data
teaches, not what fine-tuning adds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
import time
from pathlib import Path

from respirelib.apps.bench_common import _data_record, _emit, bench_record, target
from respirelib.apps.bench_quick import _parse_overrides
from respirelib.runs import REPO_ROOT

TARGET_SPECIFICITY = 0.5
TARGET_SENSITIVITY = 0.5
CAVEAT = ("Cycles of one recording and recordings of one patient are not independent: the exact intervals "
          "treat cycles as independent and so understate the uncertainty. A handful of recordings from four "
          "patients says whether the synthetic set teaches something that carries over to real lung sounds "
          "at all, not how well; a real download (respirenet data download) is the real test.")


def transfer_run(data_dir, real_dir, run_dir: Path, *, profile: str, seed: int, init: str, device: str,
                 overrides: dict | None = None, progress: bool = False) -> tuple[dict, object]:
    """Train one seed, export it, predict the real cycles; the seed's record and its cycle table."""
    from respirelib.experiments.run import train_run
    from respirelib.inference.export import export_model, load_exported_model
    from respirelib.inference.transfer import per_recording_counts, predict_real_cycles, two_class_transfer

    started = time.perf_counter()
    train_run(data_dir, run_dir, profile=profile, seed=seed, init=init, device=device, progress=progress,
              overrides=overrides)
    trained = time.perf_counter()
    model_file, _ = export_model(run_dir, run_dir / "export" / "model.pt")
    cycles = predict_real_cycles(load_exported_model(model_file), real_dir)
    precision = json.loads((run_dir / "run.json").read_text()).get("precision") or {}
    return {"seed": seed, "run": str(run_dir), "precision": precision.get("used"),
            "train_s": round(trained - started, 1),
            "predict_s": round(time.perf_counter() - trained, 1),
            "two_class": two_class_transfer(cycles["true_label"], cycles["class"]),
            "per_recording": per_recording_counts(cycles),
            "cycles": cycles.round(4).to_dict(orient="records")}, cycles


def bench_transfer(real_dir, *, profile: str = "quick", seeds=(0,), root: str | Path | None = None,
                   init: str = "random", device: str = "cpu", overrides: dict | None = None,
                   progress: bool = False) -> dict:
    """The transfer check (see the module docstring); one :func:`bench_record`."""
    import pandas as pd
    import torch

    from respirelib.data.icbhi import load_icbhi
    from respirelib.experiments.provenance import data_record
    from respirelib.inference.transfer import two_class_transfer
    from respirelib.storage import new_run_dir
    from respirelib.training.profiles import profile_data_dir

    data_dir = profile_data_dir(None, profile, progress=progress)
    dataset = load_icbhi(data_dir, errors="raise")
    real = load_icbhi(real_dir, errors="raise")
    root = Path(root) if root is not None else new_run_dir(REPO_ROOT / "runs", f"bench-transfer-{profile}")
    runs, tables = [], []
    for seed in seeds:
        record, cycles = transfer_run(data_dir, real_dir, root / f"seed{seed}", profile=profile, seed=seed,
                                      init=init, device=device, overrides=overrides, progress=progress)
        runs.append(record)
        tables.append(cycles)
    pooled = pd.concat(tables, ignore_index=True)
    overall = two_class_transfer(pooled["true_label"], pooled["class"])
    targets = [target("2-class specificity on the real normal cycles (all seeds)", overall["specificity"] or 0.0,
                      unit="fraction", at_least=TARGET_SPECIFICITY),
               target("2-class sensitivity on the real abnormal cycles (all seeds)", overall["sensitivity"] or 0.0,
                      unit="fraction", at_least=TARGET_SENSITIVITY)]
    return bench_record("transfer", data=_data_record(dataset, write_s=None),
                        results={"profile": profile, "seeds": list(seeds), "init": init, "device": device,
                                 "overrides": overrides or {}, "torch_threads": torch.get_num_threads(),
                                 "stage": "stage 1 only (no device fine-tuning)",
                                 "command": "respirenet " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None,
                                 "real_data": {**data_record(real),
                                               "cycles_by_class": real.cycles["label"].value_counts().to_dict()},
                                 "evaluation": "respirenet predict --annotations path: label-free inputs, the "
                                               "annotation flags echoed as true_label only; abnormal = any of "
                                               "crackle, wheeze, both",
                                 "two_class_all_seeds": overall, "caveat": CAVEAT, "runs": runs},
                        targets=targets)


def format_transfer(record: dict) -> str:
    """Counts and intervals per seed and pooled, in a few lines."""
    def line(name: str, scores: dict) -> str:
        sp_ci, se_ci = scores["specificity_ci"], scores["sensitivity_ci"]
        return (f"{name:10s} specificity {scores['true_negative']}/{scores['n_normal']} = {scores['specificity']:.2f} "
                f"[{sp_ci[0]:.2f}, {sp_ci[1]:.2f}]   sensitivity {scores['true_positive']}/{scores['n_abnormal']} = "
                f"{scores['sensitivity']:.2f} [{se_ci[0]:.2f}, {se_ci[1]:.2f}]")

    lines = [f"trained on {record['data']['label']} data ({record['data']['path']}), profile {record['profile']}, "
             f"{record['stage']}; scored on {record['real_data']['label']} ({record['real_data']['root']})"]
    lines += [line(f"seed {run['seed']}", run["two_class"]) for run in record["runs"]]
    lines.append(line("all seeds", record["two_class_all_seeds"]))
    for t in record["targets"]:
        lines.append(f"{t['name']}: {t['measured']:.2f} (target >= {t['target']:g}: {'met' if t['met'] else 'NOT met'})")
    lines.append(record["caveat"])
    return "\n".join(lines)


def add_bench_transfer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", type=Path, required=True,
                        help="real ICBHI recordings with annotations (e.g. ../shared/icbhi-audio-sample)")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                        help="the profile trained on its synthetic set")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds, each scored on its own")
    parser.add_argument("--root", type=Path, default=None, help="where the runs go (default: a new runs/bench-*)")
    parser.add_argument("--device", default="cpu", help="where the networks train and run: cpu, cuda or auto")
    parser.add_argument("--base", type=_parse_overrides, default=None, metavar="JSON",
                        help="profile overrides for every seed, as `bench quick --base` takes them (default: none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_bench_transfer(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_transfer(args.real, profile=args.profile, seeds=args.seeds, root=args.root,
                                device=args.device, overrides=args.base, progress=not args.quiet)
    code = _emit(record, args)
    if not args.json:
        print(format_transfer(record))
    return code
