"""Figures of results next to the paper's: the cycle-length sweep (Table II) and per-device gains (Table III)."""

from __future__ import annotations

import matplotlib.figure
import numpy as np
import pandas as pd


def _label(ax, data_label: str | None, init: str | None) -> None:
    tags = [t for t in (f"{data_label} data" if data_label else None, init) if t]
    if tags:
        ax.text(0.99, 0.02, ", ".join(tags), transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
                color="crimson" if data_label == "synthetic" else "black")


def plot_cycle_length_sweep(ours: pd.DataFrame, paper: dict[float, float], *, data_label: str | None = None,
                            init: str | None = None) -> matplotlib.figure.Figure:
    """ICBHI score (%) against input length (s): ours (mean ± std over seeds) and the paper's Table II.

    ``ours`` has columns ``seconds`` and ``score`` (one row per run).
    """
    fig = matplotlib.figure.Figure(figsize=(7, 4))
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
    _label(ax, data_label, init)
    return fig


def plot_device_gains(ours: pd.DataFrame, paper: dict[str, float], *, data_label: str | None = None,
                      init: str | None = None) -> matplotlib.figure.Figure:
    """Score change (points) from device-specific fine-tuning, per device: ours next to the paper's Table III.

    ``ours`` has columns ``device`` and ``score_change`` (points; missing where undefined).
    """
    fig = matplotlib.figure.Figure(figsize=(7, 4))
    ax = fig.subplots()
    devices = list(paper)
    positions = np.arange(len(devices))
    ax.bar(positions - 0.2, [paper[d] for d in devices], width=0.4, color="grey", label="paper (ICBHI)")
    means = ours.groupby("device")["score_change"].mean().reindex(devices) if not ours.empty else \
        pd.Series(np.nan, index=devices)
    ax.bar(positions + 0.2, means.fillna(0).to_numpy(), width=0.4, label="this run")
    for position, value in zip(positions, means):
        if not np.isfinite(value):
            ax.text(position + 0.2, 0, "n/a", ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(positions, devices)
    ax.set_ylabel("score change from fine-tuning (points)")
    ax.set_title("Table III: device-specific fine-tuning")
    ax.legend()
    _label(ax, data_label, init)
    return fig
