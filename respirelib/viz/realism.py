"""Figures of the realism report: real and synthetic recordings of the same device side by side.

Every function returns a new ``matplotlib.figure.Figure``; the numbers come from
:func:`respirelib.signal.realism.realism_report`.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


STATISTIC_LABELS = {
    "band_50_100_db": "power 50-100 Hz (dB of total)", "band_100_300_db": "power 100-300 Hz (dB of total)",
    "band_300_600_db": "power 300-600 Hz (dB of total)", "band_600_1200_db": "power 600-1200 Hz (dB of total)",
    "band_1200_2000_db": "power 1200-2000 Hz (dB of total)", "level_dbfs": "level (dBFS, as recorded)",
    "crest_db": "crest factor (dB)", "noise_floor_db": "floor between breaths (dB re mean)",
    "breath_noise_db": "breath-to-noise ratio (dB)", "heart_db": "heart over breath (dB)",
    "heart_reach_db": "600-2000 Hz rise at heart sounds (dB)",
    "impulses_per_s": "transients per second", "tonal_share": "share of tonal frames",
}


def plot_realism_spectra(freqs: np.ndarray, real: dict, synthetic: dict, *, title: str | None = None) -> Figure:
    """The mean long-term spectrum of the real and the synthetic recordings, one panel per device.

    Parameters
    ----------
    freqs : np.ndarray [shape=(n_bins,)]
    real, synthetic : dict of str to np.ndarray [shape=(n_bins,)]
        Device -> mean relative spectrum in dB (:attr:`RealismReport.real_spectra` and
        :attr:`RealismReport.synthetic_spectra`, or the ``spectra_db`` of a saved record).
    title : str, optional
    """
    freqs = np.asarray(freqs, dtype=float)
    devices = sorted(real)
    fig = Figure(figsize=(4.2 * len(devices), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(devices), sharey=True, squeeze=False)).ravel()
    keep = freqs >= 50.0
    for ax, device in zip(axes, devices):
        ax.plot(freqs[keep], np.asarray(real[device])[keep], color="black", label="real")
        if device in synthetic:
            ax.plot(freqs[keep], np.asarray(synthetic[device])[keep], color="tab:orange", label="synthetic")
        ax.set_xscale("log")
        ax.set_title(device, loc="left")
        ax.set_xlabel("Frequency (Hz)")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("power per bin (dB of total)")
    fig.suptitle(title or "Long-term spectra of the normal cycles: real vs synthetic")
    return fig


def plot_transfer(records: dict[str, dict], *, title: str | None = None) -> Figure:
    """2-class specificity and sensitivity on real cycles with their exact intervals, one group per record.

    Parameters
    ----------
    records : dict of str to dict
        Name -> the ``two_class_all_seeds`` entry of a ``respirenet bench transfer`` record
        (:func:`respirelib.inference.transfer.two_class_transfer`).
    title : str, optional
    """
    fig = Figure(figsize=(1.8 + 1.8 * len(records), 3.2), layout="constrained")
    ax = fig.subplots()
    width = 0.35
    for k, (name, scores) in enumerate(records.items()):
        for j, (metric, colour) in enumerate((("specificity", "tab:green"), ("sensitivity", "tab:red"))):
            value, (low, high) = scores[metric], scores[f"{metric}_ci"]
            x = k + (j - 0.5) * width
            ax.bar(x, value, width, color=colour, label=metric if k == 0 else None)
            ax.errorbar(x, value, yerr=[[value - low], [high - value]], color="black", capsize=3)
            count = (f"{scores['true_negative']}/{scores['n_normal']}" if metric == "specificity"
                     else f"{scores['true_positive']}/{scores['n_abnormal']}")
            ax.text(x, min(high, 1.0) + 0.02, count, ha="center", fontsize="small")
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="target 0.5")
    # Wrapped to the width of a group: long setting names would run into each other.
    ax.set_xticks(range(len(records)), [textwrap.fill(name, 22) for name in records])
    ax.set_ylim(0, 1.3)
    ax.set_ylabel("fraction of real cycles")
    ax.legend(fontsize="small", loc="upper left", ncols=3)
    ax.set_title(title or "Trained on synthetic data only, scored 2-class on real ICBHI cycles (95 % exact CI)",
                 fontsize="medium")
    return fig


def plot_realism_statistics(comparison: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Each statistic per device: the real recordings' range and median beside the synthetic median and IQR.

    A synthetic marker is filled when its distance lies within the tolerance and hollow when not.

    Parameters
    ----------
    comparison : pd.DataFrame
        :func:`respirelib.signal.realism.compare_statistics`.
    title : str, optional
    """
    statistics = list(dict.fromkeys(comparison["statistic"]))
    devices = sorted(comparison["device"].unique())
    ncols = 4
    nrows = -(-len(statistics) // ncols)
    fig = Figure(figsize=(3.4 * ncols, 2.3 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, name in zip(axes, statistics):
        rows = comparison[comparison["statistic"] == name].set_index("device").reindex(devices)
        y = np.arange(len(devices))
        ax.hlines(y - 0.12, rows["real_min"], rows["real_max"], color="black", lw=3, label="real range")
        ax.plot(rows["real_median"], y - 0.12, "D", color="black", markersize=4)
        ax.hlines(y + 0.12, rows["synthetic_q25"], rows["synthetic_q75"], color="tab:orange", lw=3,
                  label="synthetic IQR")
        for k, (_, row) in enumerate(rows.iterrows()):
            ax.plot(row["synthetic_median"], k + 0.12, "o", color="tab:orange",
                    markerfacecolor="tab:orange" if row["within"] else "white")
        ax.set_yticks(y, devices, fontsize="small")
        ax.set_ylim(-0.6, len(devices) - 0.4)
        ax.set_title(STATISTIC_LABELS.get(name, name), fontsize="small", loc="left")
    for ax in axes[len(statistics):]:
        ax.set_axis_off()
    axes[0].legend(fontsize="x-small", loc="best")
    within, compared = int(comparison["within"].sum()), len(comparison)
    fig.suptitle(title or f"Real vs synthetic, normal cycles: {within} of {compared} statistics within tolerance "
                          "(filled: within, hollow: outside)")
    return fig
