"""Gathering a pipeline run's numbers into the paper's tables, side by side with the paper's own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from respirelib import paper
from respirelib.training import study
from respirelib.training.metrics import format_entry

TASKS = (("4-class", "four_class"), ("2-class", "two_class"))


def metrics_with_intervals(metrics: dict) -> pd.DataFrame:
    """One run's Sp, Se and Score (percent) with their 95% intervals, a row per task."""
    ci = metrics["ci"]
    rows = [{"task": name, **{metric.capitalize() + " (%)": format_entry(ci[key][metric])
                              for metric in ("sp", "se", "score")}} for name, key in TASKS]
    return pd.DataFrame(rows).set_index("task")


def run_labels(run_dir: str | Path) -> dict:
    """What the numbers of a run stand on: data (its label: synthetic, or the release check's verdict),
    initialisation, profile, provenance."""
    run_dir = Path(run_dir)
    environment = json.loads((run_dir / "environment.json").read_text()) if (run_dir / "environment.json").is_file() \
        else {}
    metrics = study.collect_metrics(run_dir)
    inits = sorted(set(metrics["init"])) if not metrics.empty else []
    profiles = sorted(set(metrics["profile"])) if not metrics.empty else []
    data = environment.get("data", {})
    synthetic = data.get("synthetic", bool(not metrics.empty and (metrics["data"] == "synthetic").any()))
    return {"synthetic": synthetic, "data": "synthetic" if synthetic else data.get("label") or "ICBHI", "inits": inits,
            "random_init": any("random" in init for init in inits), "profiles": profiles,
            "commit": environment.get("commit"), "hardware": environment.get("hardware"),
            "fingerprint": data.get("fingerprint"), "packages": environment.get("packages")}


def table_one(run_dir: str | Path, *, task: str = "4-class") -> pd.DataFrame:
    """Table I rows (CNN, +CBA+BRC, +FT) for every split that ran, with the paper's numbers and the gaps."""
    metrics = study.collect_metrics(run_dir)
    if metrics.empty:
        return pd.DataFrame()
    metrics = metrics[metrics["variant"].isin(["cnn", "full"])]
    order = {"CNN": 0, "+CBA+BRC": 1, "+FT": 2}
    summary = study.summarise(metrics)
    summary = summary.iloc[sorted(range(len(summary)), key=lambda i: (summary.index[i][0],
                                                                        order.get(summary.index[i][1], 9)))]
    return study.side_by_side(summary, paper.TABLE_I, task=task)


def table_two(run_dir: str | Path) -> pd.DataFrame:
    """Score (%) per input length for the ``len<N>s`` runs, with the paper's Table II."""
    metrics = study.collect_metrics(run_dir)
    if metrics.empty:
        return pd.DataFrame()
    sweep = metrics[metrics["variant"].str.fullmatch(r"len\d+(?:\.\d+)?s") & (metrics["stage"] == "stage1")]
    if sweep.empty:
        return pd.DataFrame()
    sweep = sweep.assign(seconds=sweep["variant"].str.slice(3, -1).astype(float))
    table = sweep.groupby("seconds")["4-class score"].agg(["mean", "std", "count"])
    table["paper"] = [paper.TABLE_II.get(int(s)) for s in table.index]
    table["gap"] = (table["mean"] - table["paper"]).round(1)
    return table.reset_index()


def table_three(run_dir: str | Path) -> pd.DataFrame:
    """Per-device score change (points) from fine-tuning, per split, with the paper's Table III."""
    rows = []
    for path in sorted((Path(run_dir) / "train").glob("*-full-seed*/metrics_finetuned.json")):
        metrics = json.loads(path.read_text())
        for device, change in metrics["per_device_change"].items():
            value = change.get("score_change")
            rows.append({"split": metrics["split"], "seed": metrics["seed"], "device": device,
                         "change": None if value is None else 100 * value, "note": change.get("note")})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["change"] = pd.to_numeric(frame["change"])
    table = frame.groupby(["split", "device"], sort=False).agg(
        mean=("change", "mean"), std=("change", "std"), runs=("change", "count"), note=("note", "first"))
    table["paper"] = [paper.TABLE_III[device] for _, device in table.index]
    table["gap"] = (table["mean"] - table["paper"]).round(1)
    return table.reset_index()


def noise_in_words(run_dir: str | Path, *, task: str = "4-class") -> list[str]:
    """:func:`respirelib.training.study.noise_statements` for the Table I rows of a pipeline run."""
    metrics = study.collect_metrics(run_dir)
    if metrics.empty:
        return []
    return study.noise_statements(study.summarise(metrics[metrics["variant"].isin(["cnn", "full"])]), task=task)


def optimism(run_dir: str | Path, *, split: str = "official", task: str = "4-class",
             device: str = "auto") -> pd.DataFrame:
    """The optimism table of a pipeline run's full-model runs (see :func:`respirelib.training.study.optimism_table`)."""
    return study.optimism_table(run_dir, split=split, task=task, device=device)


def per_device_intervals(run_dir: str | Path, *, split: str = "official") -> pd.DataFrame:
    """Per-device 4-class Score (percent, 95% interval) before and after fine-tuning, first seed's run."""
    runs = sorted((Path(run_dir) / "train").glob(f"{split}-full-seed*/metrics_finetuned.json"))
    if not runs:
        return pd.DataFrame()
    before = json.loads(runs[0].with_name("metrics.json").read_text())["ci"]["per_device"]
    after = json.loads(runs[0].read_text())["ci"]["per_device"]
    rows = []
    for device in before:
        rows.append({"device": device, "run": runs[0].parent.name,
                     "Score stage 1 (%)": format_entry(before[device]["four_class"]["score"]),
                     "Score fine-tuned (%)": format_entry(after[device]["four_class"]["score"])})
    return pd.DataFrame(rows)


def gather_results(run_dir: str | Path) -> dict:
    """Every table and label of a run, JSON-ready (what notebook 07 shows and writes)."""
    def records(frame: pd.DataFrame) -> list:
        return json.loads(frame.to_json(orient="records")) if not frame.empty else []

    return {"labels": run_labels(run_dir), "table_one_4class": records(table_one(run_dir, task="4-class")),
            "table_one_2class": records(table_one(run_dir, task="2-class")),
            "table_two": records(table_two(run_dir)), "table_three": records(table_three(run_dir)),
            "noise": noise_in_words(run_dir),
            "optimism": {split: records(optimism(run_dir, split=split)) for split in ("official", "patient")}}


def banner(labels: dict) -> str:
    """The unmistakable headline: which data and which initialisation the numbers come from."""
    data = ("SYNTHETIC DATA — these numbers are NOT ICBHI results" if labels["synthetic"]
            else f"REAL DATA: {labels['data']}")
    init = "RANDOM INITIALISATION (no ImageNet weights)" if labels["random_init"] else "ImageNet initialisation"
    profiles = ", ".join(labels["profiles"]) or "no runs"
    return f"{data}\n{init}\nprofile: {profiles}"
