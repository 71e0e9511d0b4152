"""The paper's experiments as sets of runs: Table I rows, the Table II sweep, several seeds.

Training runs live under ``<root>/train/<split>-<variant>-seed<seed>/``. Variants:

- ``cnn``: the base model, without concatenation augmentation and blank region clipping
  (Table I, "CNN");
- ``full``: with both ("+CBA+BRC"); fine-tuning it per device gives "+FT";
- ``len<N>s``: ``full`` with an N-second input (Table II).

:func:`ensure_run` trains and evaluates a run that is missing, resumes one that was
interrupted, and only reads one that is complete, so notebooks can be re-run cheaply.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from respirelib.experiment import evaluate_run, finetune_run, train_run
from respirelib.progress import announce

VARIANT_OVERRIDES = {"cnn": {"stage1": {"concat": False, "clip_blank": False}}, "full": {}}
ROW_NAMES = {"cnn": "CNN", "full": "+CBA+BRC", "finetuned": "+FT"}


def variant_overrides(variant: str) -> dict:
    """Profile overrides of a variant name (``cnn``, ``full`` or ``len<N>s``)."""
    if variant in VARIANT_OVERRIDES:
        return VARIANT_OVERRIDES[variant]
    match = re.fullmatch(r"len(\d+(?:\.\d+)?)s", variant)
    if match and 1 <= float(match.group(1)) <= 9:
        return {"audio": {"cycle_duration": float(match.group(1))}}
    raise ValueError(f"unknown variant {variant!r}: use 'cnn', 'full' or 'len<N>s' with N from 1 to 9")


def model_run_dir(root: str | Path, *, split: str, variant: str, seed: int) -> Path:
    return Path(root) / "train" / f"{split}-{variant}-seed{seed}"


def ensure_run(root: str | Path, data_dir: str | Path, *, split: str, variant: str, seed: int,
               profile: str, init: str, device: str = "auto", finetune: bool = False, train: bool = True,
               progress: bool = True) -> Path:
    """A trained and evaluated run for (split, variant, seed) under ``root``; train only what is missing.

    A run killed at any point is continued: ``run.json`` (written before the first epoch)
    marks a started run, resumed from its last checkpoint or, killed in its first epoch,
    from the start in the same directory; an evaluation counts as done only once both its
    metrics and its predictions are written.
    """
    run_dir = model_run_dir(root, split=split, variant=variant, seed=seed)
    complete = _evaluated(run_dir, "metrics")
    if not complete and not train:
        raise FileNotFoundError(f"{run_dir} has no finished run and training was not asked for (train=False)")
    if not complete:
        announce(root, run_dir.name, "stage1")  # "run k/N: ..., elapsed, remaining" under a pipeline's plan
        train_run(data_dir, run_dir, profile=profile, seed=seed, split=split, init=init, device=device,
                  resume=(run_dir / "run.json").is_file(), progress=progress, overrides=variant_overrides(variant))
        # metrics.json without its predictions: what an evaluation killed half-way left
        evaluate_run(run_dir, device=device, overwrite=(run_dir / "metrics.json").exists(), progress=progress)
    if finetune and not _evaluated(run_dir, "metrics_finetuned"):
        if not train:
            raise FileNotFoundError(f"{run_dir} has no fine-tuned models and training was not asked for")
        announce(root, run_dir.name, "stage2")
        finetune_run(run_dir, device=device, resume=(run_dir / "stage2").is_dir(), progress=progress)
        evaluate_run(run_dir, device=device, overwrite=True, progress=progress)
    return run_dir


def _evaluated(run_dir: Path, stem: str) -> bool:
    """Both files of an evaluation are there (``evaluate_run`` writes the metrics, then the predictions)."""
    return (run_dir / f"{stem}.json").is_file() and (run_dir / f"{stem}_predictions.csv").is_file()


def _parse_name(name: str) -> tuple[str, str, int] | None:
    match = re.fullmatch(r"(official|patient)-(.+)-seed(\d+)", name)
    return (match.group(1), match.group(2), int(match.group(3))) if match else None


def collect_metrics(root: str | Path) -> pd.DataFrame:
    """One row per (run, stage): split, variant, seed, stage, row name, and the metrics in percent."""
    rows = []
    for run_dir in sorted((Path(root) / "train").glob("*-seed*")):
        parsed = _parse_name(run_dir.name)
        if parsed is None:
            continue
        split, variant, seed = parsed
        for stage, file_name in (("stage1", "metrics.json"), ("finetuned", "metrics_finetuned.json")):
            path = run_dir / file_name
            if not path.is_file():
                continue
            metrics = json.loads(path.read_text())
            row_name = ROW_NAMES["finetuned"] if stage == "finetuned" else ROW_NAMES.get(variant, variant)
            record = {"run": run_dir.name, "split": split, "variant": variant, "seed": seed, "stage": stage,
                      "row": row_name, "data": metrics["data"], "init": metrics["init"],
                      "profile": metrics["profile"]}
            for task, key in (("4-class", "four_class"), ("2-class", "two_class")):
                for metric in ("sp", "se", "score"):
                    value = metrics[key][metric]
                    record[f"{task} {metric}"] = None if value is None else 100 * value
            rows.append(record)
    return pd.DataFrame(rows)


METRIC_COLUMNS = tuple(f"{task} {metric}" for task in ("4-class", "2-class") for metric in ("sp", "se", "score"))


def summarise(metrics: pd.DataFrame, *, by=("split", "row")) -> pd.DataFrame:
    """Mean and sample standard deviation over seeds of every metric (percent), and ``n seeds``.

    Columns ``<metric> mean`` and ``<metric> std`` for each of :data:`METRIC_COLUMNS`.
    """
    grouped = metrics.groupby(list(by), sort=False)
    table = pd.concat({"mean": grouped[list(METRIC_COLUMNS)].mean(),
                       "std": grouped[list(METRIC_COLUMNS)].std(ddof=1)}, axis=1)
    table.columns = [f"{metric} {stat}" for stat, metric in table.columns]
    table["n seeds"] = grouped.size()
    return table


def format_mean_std(mean: float, std: float) -> str:
    """``"55.2 ± 0.8"``; only the mean for one seed; ``"–"`` when undefined."""
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:.1f} ± {std:.1f}" if std is not None and np.isfinite(std) else f"{mean:.1f}"


def side_by_side(summary: pd.DataFrame, paper_table: dict, *, task: str = "4-class") -> pd.DataFrame:
    """Our Table I rows next to the paper's, with the gap (ours − paper, points) for Sp, Se and Score."""
    rows = []
    for (split, row_name), values in summary.iterrows():
        paper = paper_table.get((split, task, row_name))
        record = {"split": split, "row": row_name}
        for index, metric in enumerate(("sp", "se", "score")):
            mean, std = values[f"{task} {metric} mean"], values[f"{task} {metric} std"]
            record[f"{metric} ours"] = format_mean_std(mean, std)
            record[f"{metric} paper"] = paper[index] if paper else None
            record[f"{metric} gap"] = round(mean - paper[index], 1) if paper and np.isfinite(mean) else None
        record["n seeds"] = int(values["n seeds"])
        rows.append(record)
    return pd.DataFrame(rows)
