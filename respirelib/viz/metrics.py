"""Figures for evaluation: confusion matrices and training curves.

The figures are built with ``matplotlib.figure.Figure`` (not pyplot), so nothing is
registered globally; in a notebook, end the cell with the figure to show it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.figure
import numpy as np
import pandas as pd
import seaborn as sns

from respirelib.training.metrics import CLASS_NAMES

NORMALIZE_CHOICES = ("true", None)
LOSS_COLUMNS = ("train_loss", "val_loss")
SCORE_COLUMNS = ("val_score", "val_se", "val_sp", "val_mean_recall")
CURVE_LABELS = {"train_loss": "training loss (augmented inputs, dropout on)",
                "val_loss": "validation loss (plain inputs, dropout off)",
                "val_score": "validation ICBHI score", "val_se": "validation sensitivity (Se)",
                "val_sp": "validation specificity (Sp)", "val_mean_recall": "validation mean class recall"}
"""The legend of each history column, in words."""


def plot_confusion_matrix(cm, *, class_names: Sequence[str] = CLASS_NAMES, normalize: str | None = "true",
                          title: str | None = None, cmap: str = "Blues") -> matplotlib.figure.Figure:
    """Heatmap of a confusion matrix, each cell showing its count and its row percentage.

    Parameters
    ----------
    cm : array-like of int [shape=(n_classes, n_classes)]
        Rows are true classes, columns predicted ones (:func:`respirelib.training.metrics.confusion_matrix`).
    class_names : sequence of str
    normalize : {"true", None}
        ``"true"`` colours cells by the fraction of their row (recall on the diagonal),
        so rare classes stay readable; ``None`` colours by raw counts.
    title : str, optional
    cmap : str

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    if normalize not in NORMALIZE_CHOICES:
        raise ValueError(f"normalize must be 'true' or None, got {normalize!r}")
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(f"need a square matrix with one row per class name, got shape {cm.shape} "
                         f"for {len(class_names)} names")
    row_totals = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_fraction = np.where(row_totals > 0, cm / np.where(row_totals > 0, row_totals, 1), np.nan)
    labels = np.array([[f"{count}\n{100 * fraction:.1f}%" if not np.isnan(fraction) else f"{count}\n–"
                        for count, fraction in zip(count_row, fraction_row)]
                       for count_row, fraction_row in zip(cm, row_fraction)])

    size = 1.2 + 1.1 * len(class_names)
    fig = matplotlib.figure.Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = fig.subplots()
    # A class with no cycles has no row fraction; colour it as 0 so seaborn still annotates it.
    colours = np.nan_to_num(row_fraction) if normalize == "true" else cm
    sns.heatmap(colours, annot=labels, fmt="", cmap=cmap, square=True, ax=ax,
                vmin=0, vmax=1 if normalize == "true" else None,
                xticklabels=class_names, yticklabels=class_names,
                cbar_kws={"label": "fraction of true class" if normalize == "true" else "cycles"})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title if title is not None else f"Confusion matrix ({int(cm.sum())} cycles)")
    return fig


def plot_training_curves(history: pd.DataFrame, *, title: str | None = None,
                         selected_by: str = "val_score") -> matplotlib.figure.Figure:
    """Loss and validation ICBHI numbers per epoch, side by side.

    Parameters
    ----------
    history : pd.DataFrame
        One row per epoch; columns used when present: ``epoch`` (else the row
        number), ``train_loss``, ``val_loss``, ``val_score``, ``val_se``, ``val_sp``
        and ``val_mean_recall`` (fractions in [0, 1], plotted as percent). Missing columns are
        skipped; an empty panel says so.
    title : str, optional
    selected_by : str
        The column whose best epoch selection kept (``"val_" + TrainConfig.select_metric``), marked
        with its value.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    epochs = history["epoch"].to_numpy() if "epoch" in history else np.arange(1, len(history) + 1)
    fig = matplotlib.figure.Figure(figsize=(10, 3.8), layout="constrained")
    loss_ax, score_ax = fig.subplots(1, 2)

    panels = ((loss_ax, LOSS_COLUMNS, 1.0, "loss"), (score_ax, SCORE_COLUMNS, 100.0, "validation (%)"))
    for ax, columns, scale, ylabel in panels:
        present = [column for column in columns if column in history and history[column].notna().any()]
        for column in present:
            style = "-" if column in ("train_loss", selected_by) else "--"
            values = history[column].to_numpy(dtype=float)
            measured = ~np.isnan(values)  # validation may run only every few epochs
            ax.plot(epochs[measured], values[measured] * scale, style, marker="o", markersize=3,
                    label=CURVE_LABELS.get(column, column))
        if present:
            ax.legend(frameon=False, fontsize="small")
        else:
            ax.text(0.5, 0.5, f"no {', '.join(columns)} recorded", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    if selected_by in history and history[selected_by].notna().any():
        # nanargmax takes the first of equal values, as selection keeps the first epoch that reached them.
        best = int(np.nanargmax(history[selected_by].to_numpy(dtype=float)))
        score_ax.axvline(epochs[best], color="grey", lw=0.8, ls=":")
        score_ax.annotate(f"selected: {CURVE_LABELS.get(selected_by, selected_by).removeprefix('validation ')} "
                          f"{100 * history[selected_by].iloc[best]:.1f}",
                          (epochs[best], 100 * history[selected_by].iloc[best]),
                          textcoords="offset points", fontsize=8,
                          # Written towards the middle, so a late best epoch keeps its label inside the panel.
                          **({"xytext": (-4, 4), "ha": "right"} if best >= len(epochs) / 2
                             else {"xytext": (4, 4), "ha": "left"}))
    if title is not None:
        fig.suptitle(title)
    return fig
