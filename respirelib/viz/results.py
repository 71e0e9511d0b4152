"""Figures of results next to the paper's: the cycle-length sweep (Table II) and per-device gains (Table III)."""

from __future__ import annotations

import matplotlib.figure
import numpy as np
import pandas as pd


def _label(fig, data_label: str | None, init: str | None) -> None:
    """The data stamp under the axes (a figure label: the layout keeps it clear of anything drawn inside)."""
    tags = [t for t in (f"{data_label} data" if data_label else None, init) if t]
    if tags:
        fig.supxlabel(", ".join(tags), x=0.99, ha="right", fontsize=9,
                      color="crimson" if data_label == "synthetic" else "black")


def plot_cycle_length_sweep(ours: pd.DataFrame, paper: dict[float, float], *, data_label: str | None = None,
                            init: str | None = None) -> matplotlib.figure.Figure:
    """ICBHI score (%) against input length (s): ours (mean ± std over seeds) and the paper's Table II.

    ``ours`` has columns ``seconds`` and ``score`` (one row per run).
    """
    fig = matplotlib.figure.Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    lengths, scores = list(paper), list(paper.values())
    ax.plot(lengths, scores, "o--", color="grey", label="paper (80/20, ICBHI)")
    if not ours.empty:
        stats = ours.groupby("seconds")["score"].agg(["mean", "std"]).reset_index()
        ax.errorbar(stats["seconds"], stats["mean"], yerr=stats["std"].fillna(0), fmt="o-", capsize=3,
                    label="this run")
    ax.set_xlabel("input length (s)")
    ax.set_ylabel("4-class ICBHI score (%)")
    ax.set_xticks(np.arange(1, 10))
    ax.legend()
    ax.set_title("Table II: input length")
    _label(fig, data_label, init)
    return fig


def plot_device_gains(ours: pd.DataFrame, paper: dict[str, float], *, data_label: str | None = None,
                      init: str | None = None, title: str = "Table III: device-specific fine-tuning"
                      ) -> matplotlib.figure.Figure:
    """Score change (points) from device-specific fine-tuning, per device: ours next to the paper's Table III.

    ``ours`` has columns ``device`` and ``score_change`` (points; missing where undefined), one row
    per run (seed). Our bars are the mean over seeds, with error bars of one standard deviation over
    seeds where two or more seeds have a number; "n/a" marks a device without one.
    """
    fig = matplotlib.figure.Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    devices = list(paper)
    positions = np.arange(len(devices))
    ax.bar(positions - 0.2, [paper[d] for d in devices], width=0.4, color="grey", label="paper (real ICBHI)")
    stats = (ours.groupby("device")["score_change"].agg(["mean", "std", "count"]).reindex(devices) if not ours.empty
             else pd.DataFrame({"mean": np.nan, "std": np.nan, "count": 0}, index=devices))
    n_seeds = int(ours.groupby("device")["score_change"].count().max()) if not ours.empty else 0
    ax.bar(positions + 0.2, stats["mean"].fillna(0).to_numpy(), width=0.4,
           yerr=stats["std"].to_numpy(dtype=float), capsize=4, error_kw={"elinewidth": 1},
           label=f"this run (mean ± std over {n_seeds} seed{'s' if n_seeds != 1 else ''})")
    for position, value in zip(positions, stats["mean"]):
        if not np.isfinite(value):
            ax.text(position + 0.2, 0, "n/a", ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(positions, devices)
    ax.set_ylabel("score change from fine-tuning (points)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    _label(fig, data_label, init)
    return fig
