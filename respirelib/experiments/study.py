"""The paper's experiments as sets of runs: Table I rows, the Table II sweep, several seeds.

Training runs live under ``<root>/train/<split>-<variant>-seed<seed>/``. Variants:

- ``cnn``: the base model, without concatenation augmentation and blank region clipping
  (Table I, "CNN");
- ``full``: with both ("+CBA+BRC"); fine-tuning it per device gives "+FT";
- ``len<N>s``: ``full`` with an N-second input (Table II).

Splits: ``official`` (60/40), ``patient`` (80/20, fold 0 of a patient-wise 5-fold) and
``patient-cv`` (all five folds, each run named ``patient-fold<k>``): the cross-validation
the paper's conclusion asks for, aggregated as mean ± std over folds (and seeds). The
patient split's seed is fixed (``split_seed``, default 0), separate from the training
seed, so the seeds of one split share their test patients and their spread is training
variance alone.

:func:`ensure_run` trains and evaluates a run that is missing, resumes one that was
interrupted, and only reads one that is complete, so notebooks can be re-run cheaply.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from respirelib.training.experiment import evaluate_run, finetune_run, train_run
from respirelib.training.metrics import bootstrap_intervals, bootstrap_intervals_over_sets, format_entry
from respirelib.training.progress import announce
from respirelib.training.variants import (CV_FOLDS, ROW_NAMES, VARIANT_OVERRIDES, _split_scheme,  # noqa: F401
                                          expand_splits, model_run_dir, split_group, variant_overrides)


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
        scheme, fold = _split_scheme(split)
        announce(root, run_dir.name, "stage1")  # "run k/N: ..., elapsed, remaining" under a pipeline's plan
        train_run(data_dir, run_dir, profile=profile, seed=seed, split=scheme, fold=fold, init=init, device=device,
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
    match = re.fullmatch(r"(official|patient(?:-fold\d+)?)-(.+)-seed(\d+)", name)
    return (match.group(1), match.group(2), int(match.group(3))) if match else None


def collect_metrics(root: str | Path) -> pd.DataFrame:
    """One row per (run, stage): split, variant, seed, stage, row name, and the metrics in percent.

    ``split`` is the table the run belongs to (the folds of a cross-validation share
    ``patient-cv``; ``fold`` says which), and each metric has its 95% interval as
    ``<metric> ci`` (a [low, high] pair in percent, or None).
    """
    rows = []
    for run_dir in sorted((Path(root) / "train").glob("*-seed*")):
        parsed = _parse_name(run_dir.name)
        if parsed is None:
            continue
        split_label, variant, seed = parsed
        for stage, file_name in (("stage1", "metrics.json"), ("finetuned", "metrics_finetuned.json")):
            path = run_dir / file_name
            if not path.is_file():
                continue
            metrics = json.loads(path.read_text())
            row_name = ROW_NAMES["finetuned"] if stage == "finetuned" else ROW_NAMES.get(variant, variant)
            record = {"run": run_dir.name, "split": split_group(split_label), "fold": _split_scheme(split_label)[1],
                      "variant": variant, "seed": seed, "stage": stage, "row": row_name, "data": metrics["data"],
                      "init": metrics["init"], "profile": metrics["profile"],
                      "predictions": str(path.with_name(path.stem + "_predictions.csv"))}
            for task, key in (("4-class", "four_class"), ("2-class", "two_class")):
                for metric in ("sp", "se", "score"):
                    value = metrics[key][metric]
                    record[f"{task} {metric}"] = None if value is None else 100 * value
                    interval = metrics.get("ci", {}).get(key, {}).get(metric, {}).get("ci")
                    record[f"{task} {metric} ci"] = None if interval is None else [100 * v for v in interval]
            rows.append(record)
    return pd.DataFrame(rows)


METRIC_COLUMNS = tuple(f"{task} {metric}" for task in ("4-class", "2-class") for metric in ("sp", "se", "score"))


def pooled_intervals(predictions: list[str | Path], *, n_resamples: int = 1000, seed: int = 0) -> dict:
    """95% patient-level bootstrap interval of the mean over runs, from their predictions CSVs.

    Runs scored on the same cycles (seeds of one split) are resampled together; runs on
    different test sets (folds) each on their own patients (see
    :func:`respirelib.training.metrics.bootstrap_intervals_over_sets`).
    """
    sets: dict[tuple, list[pd.DataFrame]] = {}
    for path in predictions:
        table = pd.read_csv(path).sort_values("cycle_row")
        sets.setdefault(tuple(table["cycle_row"]), []).append(table)
    stacked = [(tables[0]["label_id"].to_numpy(), np.stack([t["pred"].to_numpy() for t in tables]),
                tables[0]["patient"].to_numpy()) for tables in sets.values()]
    if len(stacked) == 1:
        return bootstrap_intervals(*stacked[0], n_resamples=n_resamples, seed=seed)
    return bootstrap_intervals_over_sets(stacked, n_resamples=n_resamples, seed=seed)


def summarise(metrics: pd.DataFrame, *, by=("split", "row"), intervals: bool = True) -> pd.DataFrame:
    """Mean and sample standard deviation over seeds (and folds) of every metric (percent), and ``n seeds``.

    Columns ``<metric> mean`` and ``<metric> std`` for each of :data:`METRIC_COLUMNS`, ``n seeds``
    (runs in the group), ``n folds``, and with ``intervals`` the 95% interval of the mean,
    ``<metric> ci`` ([low, high] in percent, from :func:`pooled_intervals`).
    """
    grouped = metrics.groupby(list(by), sort=False)
    table = pd.concat({"mean": grouped[list(METRIC_COLUMNS)].mean(),
                       "std": grouped[list(METRIC_COLUMNS)].std(ddof=1)}, axis=1)
    table.columns = [f"{metric} {stat}" for stat, metric in table.columns]
    table["n seeds"] = grouped.size()
    table["n folds"] = grouped["fold"].nunique() if "fold" in metrics else 1
    if intervals:
        pooled = {key: pooled_intervals(list(group["predictions"])) for key, group in grouped}
        for column in METRIC_COLUMNS:
            task, metric = column.split(" ")
            key = "four_class" if task == "4-class" else "two_class"
            table[f"{column} ci"] = [None if pooled[index][key][metric]["ci"] is None
                                     else [100 * v for v in pooled[index][key][metric]["ci"]]
                                     for index in table.index]
    return table


def format_mean_std(mean: float, std: float) -> str:
    """``"55.2 ± 0.8"``; only the mean for one seed; ``"–"`` when undefined."""
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:.1f} ± {std:.1f}" if std is not None and np.isfinite(std) else f"{mean:.1f}"


def format_ours(mean: float, std: float, ci) -> str:
    """``"55.2 ± 0.8 [51.0, 59.3]"``: mean ± std over seeds, then the 95% interval (percent)."""
    text = format_mean_std(mean, std)
    return text if text == "–" or ci is None or not isinstance(ci, (list, tuple)) else \
        f"{text} [{ci[0]:.1f}, {ci[1]:.1f}]"


def side_by_side(summary: pd.DataFrame, paper_table: dict, *, task: str = "4-class") -> pd.DataFrame:
    """Our Table I rows next to the paper's, with the gap (ours − paper, points) for Sp, Se and Score.

    "ours" reads ``mean ± std [95% interval]`` (percent); the paper gives no intervals.
    """
    rows = []
    for (split, row_name), values in summary.iterrows():
        paper = paper_table.get((split, task, row_name))
        record = {"split": split, "row": row_name}
        for index, metric in enumerate(("sp", "se", "score")):
            mean, std = values[f"{task} {metric} mean"], values[f"{task} {metric} std"]
            record[f"{metric} ours"] = format_ours(mean, std, values.get(f"{task} {metric} ci"))
            record[f"{metric} paper"] = paper[index] if paper else None
            record[f"{metric} gap"] = round(mean - paper[index], 1) if paper and np.isfinite(mean) else None
        record["n seeds"] = int(values["n seeds"])
        if int(values.get("n folds", 1)) > 1:
            record["n folds"] = int(values["n folds"])
        rows.append(record)
    return pd.DataFrame(rows)


def _noise(values: pd.Series, task: str) -> tuple[float, float, int, list | None]:
    column = f"{task} score"
    return (values[f"{column} mean"], values[f"{column} std"], int(values["n seeds"]), values.get(f"{column} ci"))


def noise_statements(summary: pd.DataFrame, *, task: str = "4-class") -> list[str]:
    """Sentences saying, for each pair of rows of one split, whether their Score difference is within the noise.

    Two kinds of noise: training (the seeds' spread: a difference under twice the standard
    error of the difference of means) and the test set (the rows' 95% patient-bootstrap
    intervals overlap). A difference is called real only when it clears both.
    """
    sentences = []
    for split, group in summary.groupby(level=0, sort=False):
        rows = list(group.index.get_level_values(1))
        for i, first in enumerate(rows):
            for second in rows[i + 1:]:
                m1, s1, n1, ci1 = _noise(group.loc[(split, first)], task)
                m2, s2, n2, ci2 = _noise(group.loc[(split, second)], task)
                if not (np.isfinite(m1) and np.isfinite(m2)):
                    continue
                diff = m2 - m1
                seeds_known = n1 > 1 and n2 > 1 and np.isfinite(s1) and np.isfinite(s2)
                bound = 2 * np.sqrt(s1 ** 2 / n1 + s2 ** 2 / n2) if seeds_known else None
                overlap = ci1 is not None and ci2 is not None and ci1[0] <= ci2[1] and ci2[0] <= ci1[1]
                reasons = []
                if bound is not None and abs(diff) < bound:
                    reasons.append(f"smaller than twice its standard error over seeds ({bound:.1f})")
                if overlap:
                    reasons.append("the 95% intervals of the test patients overlap")
                if bound is None:
                    reasons.append("one seed only: the training noise is unknown")
                verdict = ("within the noise: " + "; ".join(reasons)) if reasons else \
                    "larger than both the seed spread and the test-set interval"
                sentences.append(f"{split}, {task} Score: {second} − {first} = {diff:+.1f} points, {verdict}.")
    return sentences


OPTIMISM_ROWS = (
    ("ours: selected on validation, label-free test inputs", "no"),
    ("last epoch (no selection), label-free test inputs", "no"),
    ("selected on the test set (the reference code)", "yes: the checkpoint"),
    ("label-aware test padding (the paper as written)", "yes: the test inputs"),
)


def optimism_table(root: str | Path, *, split: str = "official", variant: str = "full", task: str = "4-class",
                   device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """How much of a published number comes from how it was measured, from the same trained runs.

    Rows: our protocol; the last epoch; the reference code's test-selected checkpoint; the
    paper's label-aware test padding; and one seed beside the mean ± std over seeds and the
    best of them. Each cell is ``value [95% interval]`` in percent (seed-averaged rows:
    ``mean ± std [interval of the mean]``). Diagnostics are computed once per run
    (:func:`respirelib.training.experiment.diagnose_run`) and never feed back into selection.
    """
    from respirelib.training.experiment import diagnose_run

    key = "four_class" if task == "4-class" else "two_class"
    runs = sorted((Path(root) / "train").glob(f"{split}-{variant}-seed*"),
                  key=lambda p: int(p.name.rsplit("seed", 1)[1]))
    runs = [run for run in runs if (run / "metrics.json").is_file()]
    if not runs:
        return pd.DataFrame()
    first = runs[0]
    ours = json.loads((first / "metrics.json").read_text())["ci"][key]
    diagnostics = diagnose_run(first, device=device, progress=progress)
    entries = [ours, diagnostics["last_epoch"]["ci"][key] if "ci" in diagnostics["last_epoch"] else None,
               diagnostics["test_selected"]["ci"][key] if "ci" in diagnostics["test_selected"] else None,
               diagnostics["label_aware_padding"]["ci"][key]]
    seed_name = first.name.rsplit("-", 1)[1]
    records = []
    for (name, reads), entry in zip(OPTIMISM_ROWS, entries):
        record = {"measured as": name, "reads test labels": reads, "runs": f"1 ({seed_name})"}
        for metric in ("sp", "se", "score"):
            record[metric] = format_entry(entry[metric] if entry is not None else None)
        if entry is None:
            record["reads test labels"] += " (not monitored in this run: TrainConfig.monitor_test)"
        records.append(record)
    if len(runs) > 1:
        metrics = collect_metrics(root)
        metrics = metrics[(metrics["run"].isin([r.name for r in runs])) & (metrics["stage"] == "stage1")]
        summary = summarise(metrics).iloc[0]
        record = {"measured as": "ours, mean ± std over seeds", "reads test labels": "no", "runs": str(len(runs))}
        for metric in ("sp", "se", "score"):
            record[metric] = format_ours(summary[f"{task} {metric} mean"], summary[f"{task} {metric} std"],
                                         summary.get(f"{task} {metric} ci"))
        records.append(record)
        best = metrics.loc[metrics[f"{task} score"].idxmax()]
        best_ci = json.loads((Path(root) / "train" / best["run"] / "metrics.json").read_text())["ci"][key]
        record = {"measured as": "ours, the best single seed", "reads test labels": "yes: the seed",
                  "runs": f"1 of {len(runs)} (seed{best['seed']})"}
        record.update({metric: format_entry(best_ci[metric]) for metric in ("sp", "se", "score")})
        records.append(record)
    return pd.DataFrame(records)
