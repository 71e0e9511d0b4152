"""Figures for notebook 01: what the dataset holds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from respirelib.data.icbhi import CLASS_ORDER
from respirelib.data.names import DEVICES
from respirelib.viz.colours import CLASS_COLOURS



def _title(ax, text: str, data_label: str | None) -> None:
    ax.set_title(f"{text}{f' ({data_label} data)' if data_label else ''}")


def plot_class_and_device_counts(cycles: pd.DataFrame, *, data_label: str | None = None) -> plt.Figure:
    """Bars of cycles per class and per device, and the class mix within each device (stacked, %)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    class_counts = cycles["label"].value_counts().reindex(CLASS_ORDER, fill_value=0)
    axes[0].bar(class_counts.index, class_counts.values, color=[CLASS_COLOURS[c] for c in CLASS_ORDER])
    axes[0].set_ylabel("cycles")
    _title(axes[0], "Cycles per class", data_label)
    device_counts = cycles["device"].value_counts().reindex(DEVICES, fill_value=0)
    axes[1].bar(device_counts.index, device_counts.values, color="#8c8c8c")
    axes[1].set_ylabel("cycles")
    _title(axes[1], "Cycles per device", data_label)
    mix = pd.crosstab(cycles["device"], cycles["label"], normalize="index").reindex(index=DEVICES,
                                                                                     columns=CLASS_ORDER)
    mix.fillna(0).mul(100).plot.bar(stacked=True, ax=axes[2], color=[CLASS_COLOURS[c] for c in CLASS_ORDER],
                                    rot=0)
    axes[2].set_ylabel("share of the device's cycles (%)")
    axes[2].set_xlabel("")
    axes[2].legend(title="class", bbox_to_anchor=(1.0, 1.0), loc="upper left")
    _title(axes[2], "Class mix per device", data_label)
    fig.tight_layout()
    return fig


def plot_cycle_durations(cycles: pd.DataFrame, *, fixed_length: float = 7.0,
                         data_label: str | None = None) -> plt.Figure:
    """Histogram of cycle lengths (s) per class, with the paper's fixed input length marked."""
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.histplot(data=cycles, x="duration", hue="label", hue_order=CLASS_ORDER, palette=CLASS_COLOURS,
                 bins=np.arange(0, cycles["duration"].max() + 0.5, 0.25), multiple="stack", ax=ax)
    ax.axvline(fixed_length, color="black", linestyle="--")
    ax.text(fixed_length, ax.get_ylim()[1] * 0.9, f" {fixed_length:g} s input (Table II)", va="top")
    ax.set_xlabel("cycle length (s)")
    ax.set_ylabel("cycles")
    _title(ax, "Breathing-cycle lengths", data_label)
    fig.tight_layout()
    return fig


def plot_split_composition(cycles: pd.DataFrame, *, data_label: str | None = None) -> plt.Figure:
    """Cycles per device and per class in the official train and test parts."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    official = cycles[cycles["split"].isin(["train", "test"])]
    by_device = pd.crosstab(official["device"], official["split"]).reindex(index=DEVICES, columns=["train", "test"],
                                                                          fill_value=0)
    by_device.plot.bar(ax=axes[0], rot=0, color=["#4c72b0", "#dd8452"])
    axes[0].set_ylabel("cycles")
    axes[0].set_xlabel("")
    _title(axes[0], "Official split by device", data_label)
    by_class = pd.crosstab(official["label"], official["split"]).reindex(index=list(CLASS_ORDER),
                                                                        columns=["train", "test"], fill_value=0)
    by_class.plot.bar(ax=axes[1], rot=0, color=["#4c72b0", "#dd8452"])
    axes[1].set_ylabel("cycles")
    axes[1].set_xlabel("")
    _title(axes[1], "Official split by class", data_label)
    fig.tight_layout()
    return fig


def plot_cycles_per_patient(cycles: pd.DataFrame, *, data_label: str | None = None) -> plt.Figure:
    """Cycles per patient, sorted, coloured by the patient's main device."""
    per_patient = cycles.groupby("patient", observed=True).agg(
        cycles=("cycle_index", "size"), device=("device", lambda d: d.value_counts().index[0]))
    per_patient = per_patient.sort_values("cycles", ascending=False)
    palette = dict(zip(DEVICES, sns.color_palette("colorblind", len(DEVICES))))
    fig, ax = plt.subplots(figsize=(12, 3.5))
    ax.bar(np.arange(len(per_patient)), per_patient["cycles"], color=[palette[d] for d in per_patient["device"]])
    ax.set_xlabel("patients, sorted by cycle count")
    ax.set_ylabel("cycles")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=palette[d]) for d in DEVICES], labels=list(DEVICES),
              title="main device")
    _title(ax, "Cycles per patient", data_label)
    fig.tight_layout()
    return fig


def plot_example_cycle(y: np.ndarray, *, sr: int, title: str, fmax: float = 2000.0) -> plt.Figure:
    """Waveform (amplitude vs s) and log-power spectrogram (Hz vs s) of one cycle."""
    import librosa
    import librosa.display

    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    times = np.arange(len(y)) / sr
    axes[0].plot(times, y, linewidth=0.6)
    axes[0].set_ylabel("amplitude")
    axes[0].set_title(title)
    n_fft = 256 if sr <= 8000 else 2048
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=n_fft // 4)) ** 2
    image = librosa.display.specshow(librosa.power_to_db(power, ref=np.max), sr=sr, hop_length=n_fft // 4,
                                     x_axis="s", y_axis="hz", ax=axes[1], cmap="magma")
    axes[1].set_ylim(0, min(fmax, sr / 2))
    axes[1].set_ylabel("frequency (Hz)")
    axes[1].set_xlabel("time (s)")
    fig.colorbar(image, ax=axes, format="%+.0f dB", label="power (dB re max)")
    return fig
