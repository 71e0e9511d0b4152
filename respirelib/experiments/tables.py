"""The paper's tables from a set of runs: Table I and its noise in words, Table II, Table III, the optimism table.

Each takes the root of a set of runs (a pipeline's run directory, or any folder whose ``train/``
:mod:`respirelib.experiments.study` filled) and returns a DataFrame: ours beside the paper's
numbers (real ICBHI, a reference: never subtracted from ours, which may be synthetic). Rows are
compared paired (:func:`compare_rows`). Notebooks 04, 05 and 07 show them; :func:`gather_results`
is what notebook 07 records. "ours" reads ``mean ± std`` over seeds in percent, the interval
of the mean (test patients resampled) in a column of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from respirelib import paper
from respirelib.config import CLASS_NAMES
from respirelib.data.names import DEVICES
from respirelib.experiments.run import diagnose_run
from respirelib.experiments.study import collect_metrics, training_facts
from respirelib.experiments.variants import parse_run_name, split_group
from respirelib.training.metrics import (bootstrap_intervals, bootstrap_intervals_over_sets,
                                         exceeds_noise, format_entry, format_mean_std, format_signed,
                                         format_signed_interval, paired_bootstrap)

TASKS = (("4-class", "four_class"), ("2-class", "two_class"))
TABLE_ONE_VARIANTS = ("cnn", "full")


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


def format_ours(mean: float, std: float, ci) -> str:
    """``"55.2 ± 0.8 [51.0, 59.3]"``: mean ± std over seeds, then the 95% interval (percent)."""
    text = format_mean_std(mean, std, percent=False)
    return text if text == "–" or ci is None or not isinstance(ci, (list, tuple)) else \
        f"{text} [{ci[0]:.1f}, {ci[1]:.1f}]"


TABLE_ONE_HEADERS = {"sp ours": "Sp ours (%)", "se ours": "Se ours (%)", "score ours": "Score ours (%)",
                     "sp paper": "Sp paper, real ICBHI (%)", "se paper": "Se paper, real ICBHI (%)",
                     "score paper": "Score paper, real ICBHI (%)"}
"""Column headers of :func:`table_one` on the page (``table.rename(columns=TABLE_ONE_HEADERS)``)."""
INTERVAL_COLUMN = "Score 95% interval of the mean (%, test patients resampled)"
INTERVAL_NOTE = ("The interval resamples the test patients only (a patient bootstrap of the seeds' mean Score): "
                 "it says how much the test set's choice of patients moves the mean, not how much training "
                 "moves it. The training noise is the ± (standard deviation over seeds), which can be the wider "
                 "of the two; the paired comparisons below show both.")


def side_by_side(summary: pd.DataFrame, paper_table: dict, *, task: str = "4-class") -> pd.DataFrame:
    """Our Table I rows, compact, with the paper's numbers as a reference beside them (never subtracted).

    ``<metric> ours`` reads ``mean ± std`` over seeds (percent); :data:`INTERVAL_COLUMN` the 95%
    patient-bootstrap interval of the mean Score; ``<metric> paper`` the paper's (real ICBHI)
    number. The paper gives no intervals.
    """
    rows = []
    for (split, row_name), values in summary.iterrows():
        paper = paper_table.get((split, task, row_name))
        record = {"split": split, "row": row_name, "n seeds": int(values["n seeds"])}
        if int(values.get("n folds", 1)) > 1:
            record["n folds"] = int(values["n folds"])
        for metric in ("sp", "se", "score"):
            record[f"{metric} ours"] = format_mean_std(values[f"{task} {metric} mean"],
                                                       values[f"{task} {metric} std"], percent=False)
        ci = values.get(f"{task} score ci")
        record[INTERVAL_COLUMN] = f"[{ci[0]:.1f}, {ci[1]:.1f}]" if isinstance(ci, (list, tuple)) else "–"
        for index, metric in enumerate(("sp", "se", "score")):
            record[f"{metric} paper"] = paper[index] if paper else None
        rows.append(record)
    return pd.DataFrame(rows)


def _pair_label(fold: int, seed: int, n_folds: int) -> str:
    return f"fold {fold} seed {seed}" if n_folds > 1 else f"seed {seed}"


def _paired_sets(first: pd.DataFrame, second: pd.DataFrame, *,
                 device: str | None = None) -> tuple[list[tuple], list[str]]:
    """The runs of two rows matched by (fold, seed), as :func:`paired_bootstrap` sets (one per test set),
    and the label of each pair in the order of the sets. ``device`` keeps only that device's test cycles
    (none: the pair is left out)."""
    matched = first.merge(second, on=["fold", "seed"], suffixes=(" first", " second")).sort_values(["fold", "seed"])
    n_folds = matched["fold"].nunique()
    grouped: dict[tuple, list] = {}
    for _, pair in matched.iterrows():
        tables = [pd.read_csv(pair[f"predictions {which}"]).sort_values("cycle_row") for which in ("first", "second")]
        if not np.array_equal(tables[0]["cycle_row"], tables[1]["cycle_row"]):
            raise ValueError(f"{pair['predictions first']} and {pair['predictions second']} score different test "
                             "cycles: they cannot be compared paired")
        if device is not None:
            tables = [table[table["device"] == device] for table in tables]
            if tables[0].empty:
                continue
        grouped.setdefault(tuple(tables[0]["cycle_row"]), []).append((tables, _pair_label(pair["fold"], pair["seed"],
                                                                                          n_folds)))
    sets, labels = [], []
    for pairs in grouped.values():
        reference = pairs[0][0][0]
        sets.append((reference["label_id"].to_numpy(),
                     np.stack([tables[0]["pred"].to_numpy() for tables, _ in pairs]),
                     np.stack([tables[1]["pred"].to_numpy() for tables, _ in pairs]),
                     reference["patient"].to_numpy()))
        labels += [label for _, label in pairs]
    return sets, labels


def _in_words(split: str, first: str, second: str, task: str, entry: dict, labels: list[str], *,
              device: str | None = None) -> str:
    """One generated sentence on whether ``second − first`` exceeds the noise (:func:`exceeds_noise`)."""
    per_pair = ", ".join("–" if d is None else f"{label} {format_signed(100 * d)}"
                         for label, d in zip(labels, entry["per_pair"]))
    interval = ("no interval (the Score is undefined in most resamples)" if entry["ci"] is None else
                f"95 % paired interval over test patients {format_signed_interval(entry['ci'])}")
    where = f"{split}, {device}" if device else split
    mean = "–" if entry["mean"] is None else format_signed(100 * entry["mean"])
    head = f"{where}, {task} Score: {second} − {first} = {mean} points ({per_pair}; {interval})"
    if exceeds_noise(entry):
        return (f"{head}: **exceeds the noise**: the interval excludes 0 and all {len(labels)} seeds agree in "
                "sign.")
    if entry["per_pair"] and all(d == 0 for d in entry["per_pair"]):
        return f"{head}: no difference: both rows give the same predictions" + (
            f" in all {len(labels)} seeds." if len(labels) > 1 else " (one seed only: the training noise is unknown).")
    reasons = []
    if entry["ci"] is None or entry["ci"][0] <= 0 <= entry["ci"][1]:
        reasons.append("the interval includes 0 (the test patients alone could give it)")
    if len(labels) < 2:
        reasons.append("one seed only: the training noise is unknown")
    elif not (all(d is not None and d > 0 for d in entry["per_pair"])
              or all(d is not None and d < 0 for d in entry["per_pair"])):
        reasons.append("not every seed moves the same way (training noise alone could give it)")
    return f"{head}: within the noise: {'; '.join(reasons)}."


ROW_ORDER = {"CNN": 0, "+CBA+BRC": 1, "+FT": 2}  # Table I's rows, in the paper's order
COMPARISON_COLUMNS = ["split", "compared", "per seed (points)", "mean (points)", "95% paired interval (points)",
                      "exceeds the noise", "in words"]


def compare_rows(metrics: pd.DataFrame, *, task: str = "4-class", n_resamples: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
    """Paired comparison of every pair of rows of each split (in table order), from their predictions.

    Rows are compared on the runs they share (same fold and seed, so the same test cycles): the
    per-seed differences (the training noise), their mean, and a paired patient-bootstrap interval
    (:func:`respirelib.training.metrics.paired_bootstrap`: the test-patient noise). The verdict is
    :func:`respirelib.training.metrics.exceeds_noise`.

    Parameters
    ----------
    metrics : pd.DataFrame
        :func:`respirelib.experiments.study.collect_metrics` rows (any selection).
    task : {"4-class", "2-class"}

    Returns
    -------
    table : pd.DataFrame
        ``split``, ``compared``, ``per seed (points)``, ``mean (points)``, ``95% paired interval (points)``,
        ``exceeds the noise`` and ``in words``; empty without a pair of rows.
    """
    records = []
    for split, group in (metrics.groupby("split", sort=False) if not metrics.empty else ()):
        rows = sorted(pd.unique(group["row"]), key=lambda name: ROW_ORDER.get(name, 9))
        for i, first in enumerate(rows):
            for second in rows[i + 1:]:
                record = _comparison(group, split, first, second, task=task, n_resamples=n_resamples, seed=seed)
                if record is not None:
                    records.append(record)
    return pd.DataFrame(records, columns=COMPARISON_COLUMNS)


def _comparison(group: pd.DataFrame, split: str, first: str, second: str, *, task: str, n_resamples: int,
                seed: int, device: str | None = None) -> dict | None:
    """One row of :func:`compare_rows` (``second − first`` on the runs they share; ``device``: on that device's
    test cycles only), or None where they share no run with test cycles."""
    sets, labels = _paired_sets(group[group["row"] == first], group[group["row"] == second], device=device)
    if not sets:
        return None
    key = "four_class" if task == "4-class" else "two_class"
    entry = paired_bootstrap(sets, n_resamples=n_resamples, seed=seed)[key]["score"]
    return {"split": split, "compared": f"{second} − {first}",
            "per seed (points)": ", ".join("–" if d is None else format_signed(100 * d) for d in entry["per_pair"]),
            "mean (points)": None if entry["mean"] is None else 100 * entry["mean"],
            "95% paired interval (points)": "–" if entry["ci"] is None else format_signed_interval(entry["ci"]),
            "exceeds the noise": "yes" if exceeds_noise(entry) else "no",
            "in words": _in_words(split, first, second, task, entry, labels, device=device)}


def compare_devices(metrics: pd.DataFrame, *, task: str = "4-class", n_resamples: int = 1000,
                    seed: int = 0) -> pd.DataFrame:
    """Table III's paired view: per split and device, +FT − +CBA+BRC on that device's test cycles.

    The same comparison as :func:`compare_rows` (per-seed differences, paired patient-bootstrap interval,
    :func:`respirelib.training.metrics.exceeds_noise`), restricted to one device's test cycles: a device with
    few test patients gets a wide interval. Devices without test cycles are left out.

    Parameters
    ----------
    metrics : pd.DataFrame
        :func:`respirelib.experiments.study.collect_metrics` rows; their predictions carry ``device``.

    Returns
    -------
    table : pd.DataFrame
        A ``device`` column, then the columns of :func:`compare_rows`.
    """
    records = []
    for split, group in (metrics.groupby("split", sort=False) if not metrics.empty else ()):
        for device in DEVICES:
            record = _comparison(group, split, "+CBA+BRC", "+FT", task=task, n_resamples=n_resamples, seed=seed,
                                 device=device)
            if record is not None:
                records.append({"device": device, **record})
    return pd.DataFrame(records, columns=["device", *COMPARISON_COLUMNS])


def device_comparisons(run_dir: str | Path, *, task: str = "4-class", splits=None) -> pd.DataFrame:
    """:func:`compare_devices` for the full-model runs under ``run_dir`` (``splits``: as :func:`table_one`)."""
    return compare_devices(_table_one_metrics(run_dir, splits=splits, stages=None, variants=["full"]), task=task)


def comparisons_in_words(comparisons: pd.DataFrame, *, task: str = "4-class") -> str:
    """A closing paragraph generated from :func:`compare_rows`: which differences exceed the noise, which do not."""
    if comparisons.empty:
        return "Only one row ran: there is nothing to compare (train more rows or seeds to compare them)."
    exceed = comparisons[comparisons["exceeds the noise"] == "yes"]
    within = comparisons[comparisons["exceeds the noise"] == "no"]

    def described(row) -> str:
        if pd.isna(row["mean (points)"]):  # None in a float column reads back as NaN
            return f"{row['compared']} ({row['split']}, undefined)"
        return (f"{row['compared']} ({row['split']}, {format_signed(row['mean (points)'])} points, "
                f"paired interval {row['95% paired interval (points)']})")

    def listed(frame: pd.DataFrame) -> str:
        return "; ".join(described(row) for _, row in frame.iterrows())

    n_pairs = max(len(str(cell).split(", ")) for cell in comparisons["per seed (points)"])
    text = (f"In this run, {len(exceed)} of the {len(comparisons)} paired {task} Score comparisons exceed the noise"
            + (f": {listed(exceed)}." if len(exceed) else "."))
    if len(within):
        text += f" Within the noise: {listed(within)}."
    if n_pairs < 2:
        text += (" With one seed per row the training noise is unknown, so no difference can be called real: "
                 "run several seeds (`seeds=[0, 1, 2]`).")
    return text


def _table_one_metrics(run_dir: str | Path, *, splits, stages, variants) -> pd.DataFrame:
    """:func:`collect_metrics` of the Table I runs under ``run_dir`` (the selection of :func:`table_one`)."""
    metrics = collect_metrics(run_dir)
    if metrics.empty:
        return metrics
    keep = metrics["variant"].isin(list(variants))
    if splits is not None:  # split labels or groups ("patient-fold2" and "patient-cv" both mean "patient-cv")
        keep &= metrics["split"].isin({split_group(split) for split in splits})
    if stages is not None:
        keep &= metrics["stage"].isin(list(stages))
    return metrics[keep]


def _table_one_summary(run_dir: str | Path, *, splits, stages, variants) -> pd.DataFrame:
    """:func:`summarise` of the Table I runs under ``run_dir``, rows in the paper's order; empty without runs."""
    metrics = _table_one_metrics(run_dir, splits=splits, stages=stages, variants=variants)
    if metrics.empty:
        return pd.DataFrame()
    summary = summarise(metrics)
    return summary.iloc[sorted(range(len(summary)), key=lambda i: (summary.index[i][0],
                                                                     ROW_ORDER.get(summary.index[i][1], 9)))]


def table_one(run_dir: str | Path, *, task: str = "4-class", splits=None, stages=None,
              variants=TABLE_ONE_VARIANTS) -> pd.DataFrame:
    """Table I rows (CNN, +CBA+BRC, +FT) for every split that ran, with the paper's numbers for reference.

    Parameters
    ----------
    run_dir : str or Path
        The root of the set of runs (runs in ``run_dir/train/``).
    task : {"4-class", "2-class"}
    splits : list of str or None
        Only these splits (labels as the notebooks take them: ``official``, ``patient``,
        ``patient-cv``); None: every split that ran.
    stages : list of str or None
        Only these stages (``stage1``; ``finetuned`` gives the +FT row); None: both.
    variants : tuple of str
        The variants whose runs make rows (``full`` alone: +CBA+BRC and +FT).
    """
    summary = _table_one_summary(run_dir, splits=splits, stages=stages, variants=variants)
    return side_by_side(summary, paper.TABLE_I, task=task) if not summary.empty else pd.DataFrame()


def row_comparisons(run_dir: str | Path, *, task: str = "4-class", splits=None, stages=None,
                    variants=TABLE_ONE_VARIANTS) -> pd.DataFrame:
    """:func:`compare_rows` for the rows of :func:`table_one` (same selection)."""
    metrics = _table_one_metrics(run_dir, splits=splits, stages=stages, variants=variants)
    return compare_rows(metrics, task=task)


def noise_in_words(run_dir: str | Path, *, task: str = "4-class", splits=None, stages=None,
                   variants=TABLE_ONE_VARIANTS) -> list[str]:
    """The generated sentences of :func:`row_comparisons` (same selection)."""
    return list(row_comparisons(run_dir, task=task, splits=splits, stages=stages, variants=variants)["in words"])


def table_two(run_dir: str | Path) -> pd.DataFrame:
    """Score (%) per input length for the ``len<N>s`` runs, with the paper's Table II."""
    metrics = collect_metrics(run_dir)
    if metrics.empty:
        return pd.DataFrame()
    sweep = metrics[metrics["variant"].str.fullmatch(r"len\d+(?:\.\d+)?s") & (metrics["stage"] == "stage1")]
    if sweep.empty:
        return pd.DataFrame()
    sweep = sweep.assign(seconds=sweep["variant"].str.slice(3, -1).astype(float))
    table = sweep.groupby("seconds")["4-class score"].agg(["mean", "std", "count"])
    table["paper"] = [paper.TABLE_II.get(int(s)) for s in table.index]  # real ICBHI: a reference, not subtracted
    return table.reset_index()


def device_changes(run_dir: str | Path, *, splits=None) -> pd.DataFrame:
    """One row per fine-tuned run and device: ``split`` (its table), ``seed``, ``device``, ``score_change``
    (points; NaN where undefined) and ``note``; from each full run's ``metrics_finetuned.json``."""
    rows = []
    groups = None if splits is None else {split_group(split) for split in splits}
    for path in sorted((Path(run_dir) / "train").glob("*-full-seed*/metrics_finetuned.json")):
        parsed = parse_run_name(path.parent.name)
        if parsed is None or (groups is not None and split_group(parsed[0]) not in groups):
            continue
        metrics = json.loads(path.read_text())
        for device, change in metrics["per_device_change"].items():
            value = change.get("score_change")
            rows.append({"split": split_group(parsed[0]), "seed": parsed[2], "device": device,
                         "score_change": None if value is None else 100 * value, "note": change.get("note")})
    frame = pd.DataFrame(rows, columns=["split", "seed", "device", "score_change", "note"])
    frame["score_change"] = pd.to_numeric(frame["score_change"])
    return frame


def _notes_over_seeds(group: pd.DataFrame) -> str | None:
    """What every run of one device says, seeds with the same note together ("seed 0: ...; seeds 1, 2: ...")."""
    notes = group["note"].where(group["note"].notna(), "fine-tuned weights kept")
    if (notes == "fine-tuned weights kept").all():
        return None
    parts = []
    for note, seeds in group.groupby(notes, sort=False)["seed"]:
        seeds = sorted(set(int(s) for s in seeds))
        parts.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}: {note}")
    return "; ".join(parts)


def table_three(run_dir: str | Path, *, splits=None) -> pd.DataFrame:
    """Per-device score change (points) from fine-tuning, per split: each seed's change, their mean and std, the
    note of every seed, and the paper's Table III (real ICBHI) beside it.

    Each seed's change is paired (the same run's test cycles of that device, before and after)."""
    frame = device_changes(run_dir, splits=splits)
    if frame.empty:
        return pd.DataFrame()
    grouped = frame.groupby(["split", "device"], sort=False)
    table = grouped.agg(mean=("score_change", "mean"), std=("score_change", "std"), runs=("score_change", "count"))
    table["per seed"] = [", ".join(format_signed(v) if np.isfinite(v) else "–" for v in group["score_change"])
                         for _, group in grouped]
    table["note"] = [_notes_over_seeds(group) for _, group in grouped]
    table["paper"] = [paper.TABLE_III[device] for _, device in table.index]  # real ICBHI: a reference
    return table.reset_index()


def class_recalls_per_seed(run_dir: str | Path) -> list[dict]:
    """Every trained run's test recall per class (%, in :data:`CLASS_NAMES` order), per row and seed, and its
    4-class Score (%): ``[{"split", "row", "seed", "recall": [...], "score"}, ...]``."""
    metrics = collect_metrics(run_dir)
    return [{"split": parse_run_name(record["run"])[0], "row": record["row"], "seed": record["seed"],
             "recall": [None if r is None else round(r, 1) for r in record["class recall"]],
             "score": round(record["4-class score"], 4)}
            for record in metrics.to_dict("records")]


def recall_table(run_dir: str | Path, *, splits=None) -> pd.DataFrame:
    """:func:`class_recalls_per_seed` as a table: one row per split, row and seed; a column per class's test
    recall (%) and the 4-class Score (%). ``splits`` keeps only those split labels or groups."""
    groups = None if splits is None else {split_group(split) for split in splits}
    records = [{"split": r["split"], "row": r["row"], "seed": r["seed"],
                **{f"{name} recall (%)": value for name, value in zip(CLASS_NAMES, r["recall"])},
                "4-class Score (%)": r["score"]}
               for r in class_recalls_per_seed(run_dir) if groups is None or split_group(r["split"]) in groups]
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    return frame.sort_values(["split", "row", "seed"], key=lambda column: column.map(ROW_ORDER).fillna(9)
                             if column.name == "row" else column).reset_index(drop=True)



def weak_recalls_in_words(recalls: pd.DataFrame, *, threshold: float = 30.0) -> str:
    """A generated sentence on :func:`recall_table`: which runs recall some class below ``threshold`` percent.

    A run can reach a fair Score while giving up a class; this says so by name (row, seed, class, recall)."""
    if recalls.empty:
        return "No trained run to read recalls from."
    columns = [f"{name} recall (%)" for name in CLASS_NAMES]
    weak = []
    for _, run in recalls.iterrows():
        low = [f"{name} {run[column]:.1f} %" for name, column in zip(CLASS_NAMES, columns)
               if pd.notna(run[column]) and run[column] < threshold]
        if low:
            weak.append(f"{run['row']} seed {run['seed']} ({run['split']}: {', '.join(low)})")
    if not weak:
        return f"Every one of the {len(recalls)} runs recalls every class at {threshold:g} % or more."
    return (f"{len(weak)} of the {len(recalls)} runs recall some class below {threshold:g} %: {'; '.join(weak)}. "
            "Such a run reaches its Score by giving up a class, and the mean ± std of Table I includes it.")

def metrics_with_intervals(metrics: dict) -> pd.DataFrame:
    """One run's Sp, Se and Score (percent) with their 95% intervals, a row per task."""
    ci = metrics["ci"]
    rows = [{"task": name, **{metric.capitalize() + " (%)": format_entry(ci[key][metric])
                              for metric in ("sp", "se", "score")}} for name, key in TASKS]
    return pd.DataFrame(rows).set_index("task")


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
    (:func:`respirelib.experiments.run.diagnose_run`) and never feed back into selection.
    """
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


def _leading_number(cell) -> float | None:
    """The value of a formatted cell (``"62.6 [58.0, 67.1]"``, ``"62.6 ± 1.2 [...]"``); None for "–"."""
    try:
        return float(str(cell).split(" ")[0])
    except ValueError:
        return None


def optimism_in_words(optimism: pd.DataFrame) -> str:
    """What an :func:`optimism_table` shows, in sentences generated from its cells (4-class, percent)."""
    if optimism.empty:
        return "No evaluated runs: no optimism table."
    rows = {row["measured as"]: row for _, row in optimism.iterrows()}
    ours = rows[OPTIMISM_ROWS[0][0]]
    parts = []
    for name, what in ((OPTIMISM_ROWS[3][0], "Padding each test cycle with neighbours chosen by the test labels"),
                       (OPTIMISM_ROWS[2][0], "Choosing the checkpoint on the test set"),
                       (OPTIMISM_ROWS[1][0], "Taking the last epoch instead of the validation choice")):
        row = rows.get(name)
        if row is None or _leading_number(row["score"]) is None or _leading_number(ours["score"]) is None:
            continue
        pairs = [(label, _leading_number(ours[metric]), _leading_number(row[metric]))
                 for metric, label in (("sp", "Sp"), ("se", "Se"), ("score", "Score"))]
        pairs = [(label, before, after) for label, before, after in pairs if before is not None and after is not None]
        moves = ", ".join(f"{label} {before:.1f} → {after:.1f} %" for label, before, after in pairs)
        seed = str(ours["runs"]).split("(")[-1].rstrip(")")
        if all(before == after for _, before, after in pairs):
            parts.append(f"{what} changes nothing in {seed} ({moves}).")
        else:
            parts.append(f"{what} moves {moves} in {seed}.")
    best, spread = rows.get("ours, the best single seed"), rows.get("ours, mean ± std over seeds")
    if best is not None and spread is not None:
        parts.append(f"The best single seed reads a Score of {_leading_number(best['score']):.1f} against a mean of "
                     f"{_leading_number(spread['score']):.1f} over {spread['runs']} seeds: reporting the best seed "
                     "alone would add the difference.")
    return (f"The same trained models, measured {len(optimism)} ways. " + " ".join(parts)
            + " Rows that read the test labels are diagnostics of how a published number can be inflated, "
              "not results.")


def run_labels(run_dir: str | Path) -> dict:
    """What the numbers of a run stand on: data (its label: synthetic, or the release check's verdict),
    initialisation, profile, provenance."""
    run_dir = Path(run_dir)
    environment = json.loads((run_dir / "environment.json").read_text()) if (run_dir / "environment.json").is_file() \
        else {}
    metrics = collect_metrics(run_dir)
    inits = sorted(set(metrics["init"])) if not metrics.empty else []
    profiles = sorted(set(metrics["profile"])) if not metrics.empty else []
    data = environment.get("data", {})
    synthetic = data.get("synthetic", bool(not metrics.empty and (metrics["data"] == "synthetic").any()))
    return {"synthetic": synthetic, "data": "synthetic" if synthetic else data.get("label") or "ICBHI", "inits": inits,
            "random_init": any("random" in init for init in inits), "profiles": profiles,
            "commit": environment.get("commit"), "hardware": environment.get("hardware"),
            "fingerprint": data.get("fingerprint"), "packages": environment.get("packages"),
            "seeds": sorted(set(int(s) for s in metrics["seed"])) if not metrics.empty else [],
            **training_facts(run_dir)}


def provenance_table(labels: dict) -> pd.DataFrame:
    """:func:`run_labels` as a two-column table for a reader: what the numbers stand on."""
    hardware = labels.get("hardware") or {}
    facts = {"data": labels["data"] + (f" (fingerprint {labels['fingerprint']})" if labels.get("fingerprint") else ""),
             "initialisation": ", ".join(labels["inits"]) or "–", "profile": ", ".join(labels["profiles"]) or "–",
             "seeds": ", ".join(map(str, labels.get("seeds", []))) or "–",
             "precision": " / ".join(labels.get("precision", [])) or "–",
             "torch threads": " / ".join(map(str, labels.get("threads", []))) or "–",
             "CPU": f"{hardware.get('cpu_model') or hardware.get('processor') or '–'}, {hardware.get('cpu_count')} cores",
             "GPU": hardware.get("gpu") or "none",
             "torch": (labels.get("packages") or {}).get("torch") or "–", "commit": labels.get("commit") or "–"}
    return pd.DataFrame({"": list(facts), "value": list(facts.values())})


def gather_results(run_dir: str | Path) -> dict:
    """Every table and label of a run, JSON-ready (what notebook 07 shows and writes)."""
    def records(frame: pd.DataFrame) -> list:
        return json.loads(frame.to_json(orient="records")) if not frame.empty else []

    comparisons = row_comparisons(run_dir)
    return {"labels": run_labels(run_dir), "table_one_4class": records(table_one(run_dir, task="4-class")),
            "table_one_2class": records(table_one(run_dir, task="2-class")),
            "table_two": records(table_two(run_dir)), "table_three": records(table_three(run_dir)),
            "comparisons": records(comparisons), "noise": list(comparisons["in words"]),
            "recalls": class_recalls_per_seed(run_dir),
            "optimism": {split: records(optimism_table(run_dir, split=split)) for split in ("official", "patient")}}


def banner(labels: dict) -> str:
    """The unmistakable headline: which data and which initialisation the numbers come from."""
    data = ("SYNTHETIC DATA — these numbers are NOT ICBHI results" if labels["synthetic"]
            else f"REAL DATA: {labels['data']}")
    init = "RANDOM INITIALISATION (no ImageNet weights)" if labels["random_init"] else "ImageNet initialisation"
    profiles = ", ".join(labels["profiles"]) or "no runs"
    return f"{data}\n{init}\nprofile: {profiles}"
