"""Figures of the signal chain (notebooks 02 and 03): waveforms, filter, spectrograms,
padding, concatenation (the paper's Fig. 2) and blank region clipping (Fig. 3).

Every function returns a new ``matplotlib.figure.Figure`` (never pyplot state) with
time in seconds and frequency in Hz on labelled axes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import librosa
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from respirelib.signal.clipping import BLANK_FRACTION, BLANK_THRESHOLD, blank_rows, clip_rows_batch
from respirelib.config import CLASS_NAMES, PADDING_METHODS, AudioConfig, FeatureConfig
from respirelib.signal.features import log_mel, scale_spectrogram
from respirelib.signal.padding import pad_cycle
from respirelib.signal.preprocess import filter_sos, preprocess_recording, zero_phase_response
from respirelib.viz.colours import CLASS_COLOURS


def _row_edges_hz(n_rows: int, *, fmin: float, fmax: float) -> np.ndarray:
    """Boundaries (Hz) of ``n_rows`` rows equally spaced in Mel between fmin and fmax."""
    mels = np.linspace(librosa.hz_to_mel(fmin), librosa.hz_to_mel(fmax), n_rows + 1)
    return librosa.mel_to_hz(mels)


def level_label(config: FeatureConfig) -> str:
    """The colour bar's label for spectrograms scaled as ``config.scaling`` says (see
    :func:`respirelib.signal.features.log_mel`): dB relative to each spectrogram's loudest cell, scaled to
    0-1 per spectrogram (1 its loudest cell, 0 its quietest, at most top_db below) or standardised."""
    if config.scaling == "standard":
        return "level: dB standardised (0 = mean, in std)"
    return "level: dB scaled to 0–1 (1 = loudest)"


def mel_frequency_axis(ax) -> None:
    """Space ``ax``'s y axis (Hz) like the Mel scale, ticks labelled in Hz: low frequencies get room."""
    import librosa

    ax.set_yscale("function", functions=(lambda hz: librosa.hz_to_mel(np.maximum(hz, 0)),
                                         lambda mel: librosa.mel_to_hz(np.maximum(mel, 0))))
    top = ax.get_ylim()[1]
    ticks = [t for t in (0, 250, 500, 1000, 2000, 4000, 8000, 16000) if t <= top]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])


def _draw_spectrogram(ax, spec: np.ndarray, *, config: FeatureConfig, fmax: float | None = None,
                      t0: float = 0.0):
    """Mel spectrogram on a time (s) x frequency (Hz) grid; returns the mesh for a colour bar."""
    n_rows, n_frames = spec.shape
    frame_s = config.hop_length / config.sample_rate
    times = t0 + (np.arange(n_frames + 1) - 0.5) * frame_s
    freqs = _row_edges_hz(n_rows, fmin=config.fmin, fmax=config.fmax if fmax is None else fmax)
    mesh = ax.pcolormesh(times, freqs, spec, cmap=config.colormap, shading="flat", rasterized=True)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Frequency (Hz)")
    return mesh


def plot_waveform(y: np.ndarray, *, sr: int, title: str | None = None) -> Figure:
    """A waveform against time.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
    title : str or None
    """
    fig = Figure(figsize=(8, 2.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(np.arange(len(y)) / sr, y, linewidth=0.6)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude (full scale)")
    ax.set_xlim(0, len(y) / sr)
    if title:
        ax.set_title(title)
    return fig


def plot_filter_response(config: AudioConfig = AudioConfig(), *, orig_sr: int | None = 44100) -> Figure:
    """Magnitude response of the pre-processing filter, designed and measured.

    Parameters
    ----------
    config : AudioConfig
        The filter's edges, order and target rate.
    orig_sr : int or None
        Also measure the whole chain (resampling from this rate, then filtering)
        by passing an impulse through :func:`respirelib.signal.preprocess.preprocess_recording`.
    """
    sr = config.sample_rate
    freqs = np.geomspace(5, sr / 2, 800)
    designed = 20 * np.log10(np.maximum(zero_phase_response(filter_sos(config), sr=sr, freqs=freqs), 1e-12))
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.semilogx(freqs, designed, label=f"zero-phase Butterworth, order {config.filter_order}")
    if orig_sr is not None:
        impulse = np.zeros(4 * orig_sr)
        impulse[len(impulse) // 2] = 1.0
        chain = preprocess_recording(impulse, sr=orig_sr, config=dataclasses.replace(config, normalize=False))
        spectrum = np.abs(np.fft.rfft(chain.astype(np.float64))) * orig_sr / sr
        bins = np.fft.rfftfreq(len(chain), d=1 / sr)
        keep = bins >= freqs[0]
        ax.semilogx(bins[keep], 20 * np.log10(np.maximum(spectrum[keep], 1e-12)), linestyle="--",
                    label=f"measured chain from {orig_sr / 1000:g} kHz (resampler + filter)")
    ax.axhline(-3, color="grey", linewidth=0.8, linestyle=":")
    for edge in (config.low_hz, min(config.high_hz, sr / 2)):
        ax.axvline(edge, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(-80, 5)
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel("Gain (dB)")
    ax.set_title(f"Pre-processing filter, {config.low_hz:g}-{config.high_hz:g} Hz at {sr} Hz")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_spectrogram(spec: np.ndarray, *, config: FeatureConfig = FeatureConfig(),
                     title: str | None = None, mel_axis: bool = False) -> Figure:
    """A scaled Mel spectrogram with time (s) and frequency (Hz) axes.

    Parameters
    ----------
    spec : np.ndarray [shape=(n_mels, n_frames)]
        E.g. from :func:`respirelib.signal.features.log_mel`; row 0 the lowest band.
    config : FeatureConfig
        The configuration that made it.
    mel_axis : bool
        Space the frequency axis like the Mel scale (:func:`mel_frequency_axis`), for a wide band
        (0–22 kHz) whose low end would otherwise be a sliver.
    """
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.subplots()
    mesh = _draw_spectrogram(ax, spec, config=config)
    if mel_axis:
        mel_frequency_axis(ax)
    fig.colorbar(mesh, ax=ax, label=level_label(config))
    if title:
        ax.set_title(title)
    return fig


def plot_padding_strategies(cycles: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray, index: int, *,
                            sr: int, duration: float = 7.0, methods: Sequence[str] = PADDING_METHODS,
                            reach: int = 1) -> Figure:
    """One cycle padded by each method, the audio's origin shaded.

    Parameters
    ----------
    cycles, labels, index :
        A recording's cycles and classes, and the cycle to pad (see
        :func:`respirelib.signal.padding.pad_cycle`).
    sr : int
    duration : float
        Target length in seconds.
    methods : sequence of str
        Padding methods, one row each (``"repeat"`` is shown without randomness).
    reach : int
        Smart padding's reach.
    """
    labels = np.asarray(labels)
    fig = Figure(figsize=(9, 1.9 * len(methods)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(methods), 1, sharex=True, sharey=True))
    used_sources: set[int] = set()
    for ax, method in zip(axes, methods):
        y, sources = pad_cycle(cycles, labels, index, sr=sr, duration=duration, method=method,
                               reach=reach, return_sources=True)
        t = np.arange(len(y)) / sr
        ax.plot(t, y, color="black", linewidth=0.5)
        change = np.flatnonzero(np.diff(sources)) + 1
        for start, stop in zip(np.r_[0, change], np.r_[change, len(y)]):
            source = int(sources[start])
            if source < 0:
                continue
            used_sources.add(source)
            colour = "gold" if source == index else CLASS_COLOURS[CLASS_NAMES[labels[source]]]
            ax.axvspan(start / sr, stop / sr, color=colour, alpha=0.25, linewidth=0)
        ax.set_ylabel("Amplitude (full scale)")
        ax.set_title(f"{method} padding", loc="left", fontsize="medium")
    axes[-1].set_xlabel("Time (s)")
    axes[-1].set_xlim(0, duration)
    def name(i: int) -> str:
        return f"cycle {i} ({CLASS_NAMES[labels[i]]})"

    handles = [Patch(color="gold", alpha=0.4, label=f"{name(index)} and its copies")]
    handles += [Patch(color=CLASS_COLOURS[CLASS_NAMES[labels[i]]], alpha=0.4, label=f"neighbour {name(i)}")
                for i in sorted(used_sources - {index})]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), fontsize="small")
    return fig


def plot_concatenation(first: np.ndarray, second: np.ndarray, *, sr: int,
                       config: FeatureConfig = FeatureConfig(),
                       names: tuple[str, str] = ("sample A", "sample B")) -> Figure:
    """Two cycles and the new sample made by joining them (like the paper's Fig. 2).

    Parameters
    ----------
    first, second : np.ndarray [shape=(n_i,)]
        The two cycles, in the order they are joined.
    sr : int
        Must equal ``config.sample_rate``.
    config : FeatureConfig
    names : tuple of str
        Titles of the two parts.
    """
    fig = Figure(figsize=(9, 5), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[max(len(first), 1), max(len(second), 1)])
    for column, (part, name) in enumerate(zip((first, second), names)):
        ax = fig.add_subplot(grid[0, column])
        _draw_spectrogram(ax, log_mel(part, sr=sr, config=config), config=config)
        ax.set_title(name)
    ax = fig.add_subplot(grid[1, :])
    joined = np.concatenate([first, second])
    mesh = _draw_spectrogram(ax, log_mel(joined, sr=sr, config=config), config=config)
    ax.axvline(len(first) / sr, color="white", linestyle="--", linewidth=1.2)
    ax.set_title(f"new sample: {names[0]} + {names[1]}")
    fig.colorbar(mesh, ax=fig.axes, label=level_label(config), shrink=0.8)
    return fig


def plot_clipping(spec: np.ndarray, *, config: FeatureConfig = FeatureConfig(),
                  threshold: float = BLANK_THRESHOLD, min_fraction: float = BLANK_FRACTION,
                  reference_off_by_one: bool = False, title: str | None = None) -> Figure:
    """A spectrogram before and after blank region clipping (like the paper's Fig. 3).

    Parameters
    ----------
    spec : np.ndarray [shape=(n_mels, n_frames)]
        Min-max scaled spectrogram, row 0 the lowest band.
    config : FeatureConfig
        Its ``blank_level`` says what counts as blank: ``"mean"`` reads the threshold on the
        standardised spectrogram (quiet rows count), as :class:`~respirelib.signal.frontend.FeatureFrontend` does.
    threshold, min_fraction, reference_off_by_one :
        As in :func:`respirelib.signal.clipping.clip_blank_region`.
    title : str or None
    """
    n_rows = spec.shape[0]
    # Standardising a min-max scaled spectrogram gives the standardised dB spectrogram (both are affine in dB).
    detect = spec if config.blank_level == "floor" else scale_spectrogram(spec, method="standard")
    n_blank = blank_rows(detect, threshold=threshold, min_fraction=min_fraction)
    cut = n_blank + 1 if reference_off_by_one and n_blank + 1 < n_rows else n_blank
    clipped = clip_rows_batch(torch.as_tensor(spec)[None], torch.tensor([cut]))[0].numpy()
    cut_hz = _row_edges_hz(n_rows, fmin=config.fmin, fmax=config.fmax)[n_rows - cut]
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    before, after = fig.subplots(1, 2, sharex=True)
    mesh = _draw_spectrogram(before, spec, config=config)
    if cut:
        before.axhline(cut_hz, color="cyan", linestyle="--", linewidth=1.2)
    what = "blank rows" if config.blank_level == "floor" else "rows below the mean level"
    before.set_title(f"before: {n_blank} {what}" + (f", cut above {cut_hz:.0f} Hz" if cut else ""))
    _draw_spectrogram(after, clipped, config=config, fmax=cut_hz)
    after.set_title(f"after: {n_rows - cut} rows stretched to {n_rows}")
    fig.colorbar(mesh, ax=[before, after], label=level_label(config))
    if title:
        fig.suptitle(title)
    return fig


def plot_spectrogram_grid(spectrograms: dict[str, np.ndarray], *, config: FeatureConfig = FeatureConfig(),
                          ncols: int = 2, title: str | None = None) -> Figure:
    """Several spectrograms of one configuration side by side, one titled panel each.

    Parameters
    ----------
    spectrograms : dict of str to np.ndarray [shape=(n_mels, n_frames)]
        Panel title to scaled spectrogram (e.g. a sample and its augmented copies).
    config : FeatureConfig
        The configuration that made them.
    ncols : int
        Panels per row.
    title : str or None
    """
    nrows = -(-len(spectrograms) // ncols)
    fig = Figure(figsize=(5 * ncols, 2.6 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)).ravel()
    mesh = None
    for ax, (name, spec) in zip(axes, spectrograms.items()):
        mesh = _draw_spectrogram(ax, spec, config=config)
        ax.set_title(name, loc="left", fontsize="medium")
    for ax in axes[len(spectrograms):]:
        ax.set_axis_off()
    if mesh is not None:
        fig.colorbar(mesh, ax=axes.tolist(), label=level_label(config), shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def plot_class_balance(counts: dict[str, Sequence[int] | np.ndarray], *,
                       class_names: Sequence[str] = CLASS_NAMES, title: str | None = None) -> Figure:
    """Samples per class under several schemes, as grouped bars with their counts written on them.

    Parameters
    ----------
    counts : dict of str to array-like of int [shape=(n_classes,)]
        Scheme name (e.g. "original", "with concatenation") to its class counts.
    class_names : sequence of str
    title : str or None
    """
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(class_names))
    width = 0.8 / max(len(counts), 1)
    for k, (name, values) in enumerate(counts.items()):
        bars = ax.bar(x + (k - (len(counts) - 1) / 2) * width, np.asarray(values), width, label=name)
        ax.bar_label(bars, fontsize="x-small", padding=1)
    ax.set_xticks(x, class_names)
    ax.set_ylabel("samples")
    fig.legend(loc="outside lower center", ncols=min(3, len(counts)), fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def plot_blank_fractions(fractions, *, paper: dict[str, float] | None = None,
                         title: str | None = None) -> Figure:
    """Per-device share of cycles with a blank high-frequency band, beside the paper's figures.

    Parameters
    ----------
    fractions : pd.DataFrame
        From :func:`respirelib.signal.blank_stats.blank_band_fractions` (index device,
        columns ``band_blank`` and ``clipped``).
    paper : dict of str to float or None
        The paper's share per device (e.g. ``{"Litt3200": 1.0, "Meditron": 0.2}``), drawn as markers.
    title : str or None
    """
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    devices = list(fractions.index)
    x = np.arange(len(devices))
    for offset, column, label in ((-0.2, "band_blank", "1.5-2 kHz band blank"),
                                  (0.2, "clipped", "clipped (>= 1 blank top row)")):
        bars = ax.bar(x + offset, 100 * fractions[column].to_numpy(dtype=float), 0.4, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize="x-small", padding=1)
    if paper:
        known = [(i, paper[d]) for i, d in enumerate(devices) if d in paper]
        if known:
            ax.scatter([i - 0.2 for i, _ in known], [100 * v for _, v in known], marker="_", s=600,
                       color="black", linewidths=2, zorder=3, label="paper (§II-A)")
    ax.set_xticks(x, devices)
    ax.set_ylim(0, 110)
    ax.set_ylabel("cycles (%)")
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    if title:
        ax.set_title(title)
    return fig
