"""Timeline of a prediction: the recording's waveform above the four class probabilities over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from respirelib.config import CLASS_NAMES
from respirelib.viz.colours import CLASS_COLOURS

MAX_WAVEFORM_POINTS = 4000


def _envelope(signal: np.ndarray, *, sr: int, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block minimum and maximum of a long signal, so plotting stays fast and looks the same.

    Returns
    -------
    times, low, high : np.ndarray [shape=(n_blocks,)]
    """
    block = max(1, int(np.ceil(len(signal) / max_points)))
    n_blocks = int(np.ceil(len(signal) / block))
    padded = np.pad(signal, (0, n_blocks * block - len(signal)), mode="edge").reshape(n_blocks, block)
    times = (np.arange(n_blocks) * block + block / 2) / sr
    return times, padded.min(axis=1), padded.max(axis=1)


def _segments(starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of horizontal segments ``values[i]`` over ``[starts[i], ends[i]]``, separated by gaps (NaN)."""
    xs = np.column_stack([starts, ends, np.full(len(starts), np.nan)]).ravel()
    ys = np.column_stack([values, values, np.full(len(values), np.nan)]).ravel()
    return xs, ys


def plot_prediction_timeline(signal: np.ndarray, *, sr: int, table: pd.DataFrame,
                             class_names: tuple[str, ...] = CLASS_NAMES, title: str | None = None,
                             data_label: str | None = None) -> Figure:
    """Waveform (top) and class probabilities over time (bottom) of one recording.

    Parameters
    ----------
    signal : np.ndarray [shape=(n,)]
        The (pre-processed) recording.
    sr : int
        Its sample rate.
    table : pd.DataFrame
        A :class:`respirelib.inference.predict.PredictionResult` table: ``start``, ``end`` (s),
        ``class`` and ``p_<class>`` per row. With a ``cycle`` column (annotated cycles)
        each cycle is shaded in the waveform in its predicted class's colour, its
        boundaries are dashed lines and its probabilities are drawn as steps over the
        cycle; with a ``true_label`` column too, a band above the waveform shows each
        cycle's annotated class. Otherwise (sliding windows) the probabilities are drawn
        at each window's centre.
    class_names : tuple of str
        In the order of :data:`respirelib.viz.colours.CLASS_COLOURS` (the classes' one colour each).
    title : str, optional
    data_label : str, optional
        The data the model learnt from (e.g. ``"synthetic"``), stamped under the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"expected a non-empty mono signal, got shape {signal.shape}")
    missing = [c for c in ("start", "end", *(f"p_{name}" for name in class_names)) if c not in table]
    if missing:
        raise ValueError(f"table lacks columns {', '.join(missing)}")
    colours = {name: CLASS_COLOURS.get(name, "0.5") for name in class_names}
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    wave_ax, prob_ax = fig.subplots(2, 1, sharex=True, height_ratios=(1, 2))
    times, low, high = _envelope(signal, sr=sr, max_points=MAX_WAVEFORM_POINTS)
    wave_ax.fill_between(times, low, high, color="0.3", linewidth=0.5)
    wave_ax.set_ylabel("amplitude")
    starts, ends = table["start"].to_numpy(float), table["end"].to_numpy(float)
    per_cycle = "cycle" in table
    if per_cycle:
        for start, end, name in zip(starts, ends, table["class"]):
            wave_ax.axvspan(start, end, color=colours.get(name, "0.8"), alpha=0.2, linewidth=0)
        for ax in (wave_ax, prob_ax):
            ax.vlines(np.union1d(starts, ends), 0, 1, transform=ax.get_xaxis_transform(), colors="0.5",
                      linewidth=0.6, linestyles="dashed")
        wave_ax.set_title("shading: predicted class of each cycle; dashed: cycle boundaries"
                          + ("; top band: annotated (true) class" if "true_label" in table else ""),
                          loc="right", fontsize="small")
        if "true_label" in table:
            for start, end, name in zip(starts, ends, table["true_label"]):
                wave_ax.axvspan(start, end, ymin=0.9, ymax=1.0, color=colours.get(name, "0.5"), linewidth=0)
                wave_ax.text((start + end) / 2, 0.95, name, transform=wave_ax.get_xaxis_transform(), ha="center",
                             va="center", fontsize=7, color="white", clip_on=True)
    for name in class_names:
        values = table[f"p_{name}"].to_numpy(float)
        if per_cycle:
            prob_ax.plot(*_segments(starts, ends, values), color=colours[name], linewidth=2, label=name)
        else:
            prob_ax.plot((starts + ends) / 2, values, color=colours[name], marker="o", markersize=3, label=name)
    prob_ax.set_ylim(-0.02, 1.02)
    prob_ax.set_xlim(0, len(signal) / sr)
    prob_ax.set_xlabel("time (s)")
    prob_ax.set_ylabel("probability per cycle" if per_cycle else "probability (window centres)")
    prob_ax.legend(loc="upper right", ncols=len(class_names), fontsize="small")
    prob_ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    if data_label:
        fig.supxlabel(f"model trained on {data_label} data", x=0.99, ha="right", fontsize=9,
                      color="crimson" if data_label == "synthetic" else "black")
    return fig
