"""A dataset's headline figures as a plain dict (what ``respirenet data summary`` prints)."""

from __future__ import annotations

import pandas as pd

from respirelib.data.icbhi import CLASS_ORDER, ICBHIDataset
from respirelib.data.names import DEVICES


def data_summary(dataset: ICBHIDataset) -> dict:
    """Counts of recordings, patients, cycles, classes, devices and the official split.

    Returns a JSON-ready dict with ``recordings``, ``patients``, ``cycles``,
    ``class_counts``, ``device_counts`` (cycles per device), ``split`` (train/test
    recordings and cycles), ``overlap_patients`` (patients on both sides of the
    official split), ``cycle_duration`` statistics (s), ``data`` (the dataset's
    :attr:`~respirelib.data.icbhi.ICBHIDataset.data_label`), ``has_audio``, ``sample_rates`` (recordings per rate) and the
    loader ``report``.
    """
    cycles, recordings = dataset.cycles, dataset.recordings
    split = {}
    for part in ("train", "test"):
        split[part] = {"recordings": int((recordings["split"] == part).sum()),
                       "cycles": int((cycles["split"] == part).sum())}
    train_patients = set(cycles.loc[cycles["split"] == "train", "patient"])
    test_patients = set(cycles.loc[cycles["split"] == "test", "patient"])
    durations = cycles["duration"]
    summary = {
        "data": dataset.data_label,
        "root": str(dataset.root),
        "has_audio": dataset.has_audio,
        "recordings": int(len(recordings)),
        "patients": int(recordings["patient"].nunique()),
        "cycles": int(len(cycles)),
        "class_counts": {name: int((cycles["label"] == name).sum()) for name in CLASS_ORDER},
        "device_counts": {name: int((cycles["device"] == name).sum()) for name in DEVICES},
        "split": split,
        "overlap_patients": sorted(int(p) for p in train_patients & test_patients),
        "cycle_duration": {"min": round(float(durations.min()), 3), "mean": round(float(durations.mean()), 3),
                           "median": round(float(durations.median()), 3), "max": round(float(durations.max()), 3)},
        "report": dataset.report.to_dict(),
    }
    if dataset.has_audio:
        rates = recordings["sample_rate"].value_counts().sort_index()
        summary["sample_rates"] = {str(int(rate)): int(n) for rate, n in rates.items()}
        summary["audio_hours"] = round(float(recordings["audio_duration"].sum()) / 3600, 3)
    if dataset.is_synthetic:
        summary["synthetic"] = dataset.synthetic
    return summary


def recording_list(dataset: ICBHIDataset) -> list[dict]:
    """One JSON-ready row per recording: ``recording`` (the name other commands take), ``device``,
    ``split`` (official, or None) and ``cycles`` (numbered 0 to ``cycles - 1`` in its annotation file)."""
    recordings = dataset.recordings.sort_values("recording")
    return [{"recording": str(row.recording), "device": str(row.device),
             "split": None if pd.isna(row.split) else str(row.split), "cycles": int(row.n_cycles)}
            for row in recordings.itertuples()]


def format_recording_list(rows: list[dict]) -> str:
    """:func:`recording_list` as aligned text, one line per recording."""
    width = max((len(row["recording"]) for row in rows), default=9)
    lines = [f"{'recording':{width}s}  {'device':8s}  {'split':5s}  cycles"]
    lines += [f"{row['recording']:{width}s}  {row['device']:8s}  {row['split'] or '–':5s}  {row['cycles']}"
              for row in rows]
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """A short human-readable rendering of :func:`data_summary`."""
    lines = []
    if summary["data"] == "synthetic":
        lines.append("*** SYNTHETIC DATA: not the ICBHI database; no number from it is an ICBHI result ***")
    lines += [f"data folder   {summary['root']} ({summary['data']}, "
              f"{'with audio' if summary['has_audio'] else 'annotations only'})",
              f"recordings    {summary['recordings']}",
              f"patients      {summary['patients']}",
              f"cycles        {summary['cycles']}",
              "classes       " + ", ".join(f"{k} {v}" for k, v in summary["class_counts"].items()),
              "devices       " + ", ".join(f"{k} {v}" for k, v in summary["device_counts"].items()),
              "official      " + ", ".join(f"{part} {v['recordings']} recordings / {v['cycles']} cycles"
                                           for part, v in summary["split"].items()),
              f"in both parts patients {', '.join(map(str, summary['overlap_patients'])) or 'none'}",
              "cycle length  " + ", ".join(f"{k} {v:.2f} s" for k, v in summary["cycle_duration"].items())]
    if "sample_rates" in summary:
        lines.append("sample rates  " + ", ".join(f"{k} Hz: {v}" for k, v in summary["sample_rates"].items()))
    counts = summary["report"]["counts"]
    lines.append("loader report " + ", ".join(f"{n} {action}" for action, n in counts.items()))
    lines += [f"  [{e['action']}] {e['path']}: {e['detail']}" for e in summary["report"]["entries"]]
    if summary["report"].get("verdict"):
        lines.append(summary["report"]["verdict"]["line"])
    return "\n".join(lines)


def split_by_device(recordings, *, unit: str = "recordings"):
    """Recordings (or cycles, ``unit="cycles"``) per device in each part of the official split."""
    values = recordings["n_cycles"] if unit == "cycles" else None
    table = pd.crosstab(recordings["device"], recordings["split"].fillna("unlisted"), values=values,
                        aggfunc="sum" if values is not None else None)
    return table.reindex(index=list(DEVICES), fill_value=0).fillna(0).astype(int)


def pick_examples(cycles, *, per_class: int = 1, seed: int = 0):
    """``per_class`` random cycles of each class (seeded), for listening and looking."""
    picked = [group.sample(min(per_class, len(group)), random_state=seed)
              for _, group in cycles.groupby("label", observed=True)]
    return pd.concat(picked) if picked else cycles.iloc[0:0]
