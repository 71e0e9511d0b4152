"""Figures for Grad-CAM++ maps: one overlay, a gallery, and the Fig. 3 before/after pair.

Each panel draws the spectrogram (grey) or the model's image (its own colours)
with the map on top, low frequencies at the bottom. The vertical axis is the
image's row grid, as the network sees it, labelled in Hz at the row frequencies
(a Mel axis, like ``librosa.display.specshow(y_axis="mel")``); the horizontal
axis is time in seconds. ``times_s`` and ``freqs_hz`` are those of the map's
columns and rows (:func:`respirelib.explain.gradcam.map_axes`); the background may have
another size (a spectrogram under an image-sized map) and is stretched over the
same extent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.cm
import matplotlib.colors
import matplotlib.figure
import matplotlib.ticker
import numpy as np

from respirelib.config import FeatureConfig
from respirelib.explain.gradcam import blank_image_rows, top_rows_mass

CAM_CMAP = "jet"
CAM_LABEL = "Grad-CAM++ (per-image scale)"


def _as_array(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _background(spec_or_image) -> tuple[np.ndarray, dict]:
    """The array imshow draws and its colour options: grey spectrogram or RGB image."""
    array = _as_array(spec_or_image).astype(np.float32)
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return array, {"cmap": "gray"}
    if array.ndim == 3 and array.shape[-1] == 3:
        # An image normalised for the model is shown with its own range, per channel.
        low = array.min(axis=(0, 1), keepdims=True)
        span = array.max(axis=(0, 1), keepdims=True) - low
        return (array - low) / np.where(span > 0, span, 1), {}
    raise ValueError(f"expected a spectrogram (rows, frames) or an image (3, rows, frames), got {array.shape}")


def _frequency_ticks(ax, freqs_hz: np.ndarray) -> None:
    """Ticks at round frequencies, placed on the row grid by interpolation."""
    rows = np.arange(len(freqs_hz))
    ticks = matplotlib.ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(freqs_hz[0], freqs_hz[-1])
    ticks = ticks[(ticks >= freqs_hz[0]) & (ticks <= freqs_hz[-1])]
    ax.set_yticks(np.interp(ticks, freqs_hz, rows), [f"{tick:g}" for tick in ticks])


def _colorbar(fig, axes) -> None:
    # Drawn from an opaque mappable: the overlay's transparency would wash out the scale.
    scale = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0.0, 1.0), cmap=CAM_CMAP)
    fig.colorbar(scale, ax=axes, label=CAM_LABEL)


def _draw_overlay(ax, spec_or_image, cam, *, times_s, freqs_hz, alpha: float, title: str | None):
    """Background with the map on top; ``cam=None`` draws the background alone on its own grid."""
    background, options = _background(spec_or_image)
    grid = _as_array(cam) if cam is not None else background[..., 0] if background.ndim == 3 else background
    times_s, freqs_hz = np.asarray(times_s, dtype=float), np.asarray(freqs_hz, dtype=float)
    if grid.ndim != 2 or grid.shape != (len(freqs_hz), len(times_s)):
        raise ValueError(f"map of shape {grid.shape} needs {grid.shape[-2:]} = (len(freqs_hz), len(times_s)), "
                         f"got ({len(freqs_hz)}, {len(times_s)})")
    if np.any(np.diff(freqs_hz) <= 0):
        raise ValueError("freqs_hz must increase from row 0 (the lowest band) upwards")
    height = grid.shape[0]
    step = (times_s[-1] - times_s[0]) / (len(times_s) - 1) if len(times_s) > 1 else 1.0
    extent = (times_s[0] - step / 2, times_s[-1] + step / 2, -0.5, height - 0.5)
    ax.imshow(background, origin="lower", aspect="auto", extent=extent, interpolation="nearest", **options)
    if cam is not None:
        ax.imshow(grid, origin="lower", aspect="auto", extent=extent, cmap=CAM_CMAP, vmin=0.0, vmax=1.0,
                  alpha=alpha, interpolation="nearest")
    _frequency_ticks(ax, freqs_hz)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    if title is not None:
        ax.set_title(title)


def plot_gradcam_overlay(spec_or_image, cam, *, times_s, freqs_hz, title: str | None = None,
                         alpha: float = 0.5) -> matplotlib.figure.Figure:
    """One spectrogram (or model image) with its Grad-CAM++ map on top.

    Parameters
    ----------
    spec_or_image : array or tensor [shape=(rows, frames) or (3, height, width)]
        A scaled spectrogram (drawn in grey) or the model's 3-channel image (drawn
        in its colours); row 0 the lowest band.
    cam : array [shape=(height, width)]
        A map from :func:`respirelib.explain.gradcam.gradcam_maps`, values in [0, 1].
    times_s : array [shape=(width,)]
    freqs_hz : array [shape=(height,)]
        The map's axes (:func:`respirelib.explain.gradcam.map_axes`), increasing.
    title : str, optional
    alpha : float
        Opacity of the map.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    fig = matplotlib.figure.Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.subplots()
    _draw_overlay(ax, spec_or_image, cam, times_s=times_s, freqs_hz=freqs_hz, alpha=alpha, title=title)
    _colorbar(fig, ax)
    return fig


def _per_panel(values, n: int, name: str) -> list:
    """One axis array for every panel, from a shared array or a sequence of them."""
    if values[0] is not None and np.ndim(values[0]) == 0:
        return [values] * n
    if len(values) != n:
        raise ValueError(f"{name} must be one array or one per panel ({n}), got {len(values)}")
    return list(values)


def plot_gradcam_gallery(specs, cams, *, titles: Sequence[str], times_s, freqs_hz, ncols: int = 4,
                         alpha: float = 0.5, suptitle: str | None = None,
                         spans_s: Sequence | None = None) -> matplotlib.figure.Figure:
    """A grid of overlays, e.g. several cycles, classes or layers, with one colour bar.

    Parameters
    ----------
    specs : sequence of arrays
        Backgrounds, as in :func:`plot_gradcam_overlay`.
    cams : sequence of arrays [shape=(height, width)] or array [shape=(n, height, width)]
        A ``None`` entry (with ``None`` as its background) leaves an empty slot
        showing only its title, e.g. "no wrongly classified cycle", so rows of the
        grid stay aligned.
    titles : sequence of str
    times_s, freqs_hz : array or sequence of arrays
        One array shared by all panels, or one per panel (clipped images have
        their own frequencies; ``None`` for an empty slot).
    ncols : int
    alpha : float
    suptitle : str, optional
        A title over the whole grid (e.g. the data and the model's initialisation).
    spans_s : sequence of (float, float) or None, optional
        Per panel, where the cycle's own audio begins and ends in the input (s): dashed white
        lines mark the edges that lie inside the input, padding outside them.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    n = len(cams)
    if n == 0 or len(specs) != n or len(titles) != n:
        raise ValueError(f"need as many backgrounds and titles as maps (>= 1), got {len(specs)}, {len(titles)}, {n}")
    times, freqs = _per_panel(times_s, n, "times_s"), _per_panel(freqs_hz, n, "freqs_hz")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = matplotlib.figure.Figure(figsize=(3.4 * ncols + 0.8, 2.6 * nrows + (0.4 if suptitle else 0.0)),
                                   layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    drawn = []
    spans = list(spans_s) if spans_s is not None else [None] * n
    for ax, spec, cam, title, panel_times, panel_freqs, span in zip(axes, specs, cams, titles, times, freqs, spans):
        if cam is None:
            ax.set_axis_off()
            ax.text(0.5, 0.5, title, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True)
            continue
        _draw_overlay(ax, spec, cam, times_s=panel_times, freqs_hz=panel_freqs, alpha=alpha, title=title)
        if span is not None:
            low, high = float(np.min(panel_times)), float(np.max(panel_times))
            for edge in span:
                if low < edge < high:
                    ax.axvline(edge, color="white", linestyle="--", linewidth=1.2)
        drawn.append(ax)
    for ax in axes[n:]:
        ax.set_axis_off()
    if drawn:
        _colorbar(fig, drawn)
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig


def plot_clipping_attention(before_spec, before_cam, after_spec, after_cam, *, times_s, before_freqs_hz,
                            after_freqs_hz, n_blank_rows: int, feature_config: FeatureConfig = FeatureConfig(),
                            title: str | None = None, alpha: float = 0.5) -> matplotlib.figure.Figure:
    """The Fig. 3 pair: a cycle's map before and after blank region clipping.

    A dashed line marks the top image rows that the blank region occupies before
    clipping, on both panels; each panel's title gives the share of its map in
    those rows, as :func:`respirelib.explain.gradcam.blank_band_attention` measures it.

    Parameters
    ----------
    before_spec, after_spec : array or tensor
        Backgrounds, as in :func:`plot_gradcam_overlay`.
    before_cam, after_cam : array [shape=(height, width)]
    times_s : array [shape=(width,)]
    before_freqs_hz, after_freqs_hz : array [shape=(height,)]
        Row frequencies without and with clipping (``map_axes(...,
        n_blank_rows=n_blank_rows)`` for the latter).
    n_blank_rows : int
        Blank Mel rows at the top before clipping.
    feature_config : FeatureConfig
    title : str, optional
    alpha : float

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    before_cam, after_cam = _as_array(before_cam), _as_array(after_cam)
    height = before_cam.shape[0]
    image_rows = int(blank_image_rows(n_blank_rows, height=height, n_mels=feature_config.n_mels))
    masses = top_rows_mass(np.stack([before_cam, after_cam]), image_rows)
    fig = matplotlib.figure.Figure(figsize=(11.0, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = [(before_spec, before_cam, before_freqs_hz, "before clipping", "in the blank rows"),
              (after_spec, after_cam, after_freqs_hz, "after clipping", "in the same rows")]
    for ax, (spec, cam, freqs, name, where), mass in zip(axes, panels, masses):
        _draw_overlay(ax, spec, cam, times_s=times_s, freqs_hz=freqs, alpha=alpha,
                      title=f"{name}: {100 * mass:.0f}% of the map {where}")
        if image_rows > 0:
            ax.axhline(height - image_rows - 0.5, color="white", linestyle="--", linewidth=1.2)
    _colorbar(fig, axes.tolist())
    if title is not None:
        fig.suptitle(title)
    return fig


def _draw_probabilities(ax, probabilities, *, class_names: Sequence[str], true_class: int | None,
                        target: int | None) -> None:
    probabilities = np.asarray(probabilities, dtype=float)
    predicted = int(probabilities.argmax())
    colors = ["tab:orange" if index == predicted else "tab:blue" for index in range(len(class_names))]
    positions = np.arange(len(class_names))[::-1]
    ax.barh(positions, probabilities, color=colors)
    for position, value in zip(positions, probabilities):
        ax.text(min(value + 0.02, 0.85), position, f"{value:.2f}", va="center")
    names = [f"{name} (true)" if index == true_class else name for index, name in enumerate(class_names)]
    ax.set_yticks(positions, names)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    explained = f"; map explains {class_names[target]}" if target is not None else ""
    ax.set_title(f"predicted: {class_names[predicted]}{explained}")


def plot_cycle_explanation(wave, *, sr: int, own, spectrogram, spec_times_s, spec_freqs_hz, cam,
                           cam_background, times_s, freqs_hz, probabilities, class_names: Sequence[str],
                           clipped=None, clipped_freqs_hz=None, n_blank_rows: int = 0,
                           true_class: int | None = None, target: int | None = None,
                           title: str | None = None, alpha: float = 0.5) -> matplotlib.figure.Figure:
    """Everything about one model input: waveform, spectrograms, probabilities and the Grad-CAM++ map.

    Panels: the waveform (the cycle dark, the padding borrowed from neighbours or
    repeated light), the Mel spectrogram, the clipped spectrogram (when given),
    the class probabilities (predicted class orange) and the map over the
    spectrogram the model saw.

    Parameters
    ----------
    wave : np.ndarray [shape=(n_samples,)]
        The fixed-length model input.
    sr : int
    own : np.ndarray [shape=(n_samples,), dtype=bool]
        True on the samples of the cycle itself.
    spectrogram : np.ndarray [shape=(n_mels, n_frames)]
        Scaled Mel spectrogram of ``wave``, row 0 the lowest band.
    spec_times_s, spec_freqs_hz : np.ndarray [shape=(n_frames,)], [shape=(n_mels,)]
        Its axes (:func:`respirelib.explain.gradcam.map_axes`).
    cam : np.ndarray [shape=(height, width)]
    cam_background : np.ndarray [shape=(n_mels, n_frames)]
        The spectrogram the model saw (clipped or not), drawn under the map.
    times_s, freqs_hz : np.ndarray [shape=(width,)], [shape=(height,)]
        The map's axes.
    probabilities : np.ndarray [shape=(n_classes,)]
    class_names : sequence of str
    clipped : np.ndarray [shape=(n_mels, n_frames)], optional
        The spectrogram after blank region clipping; ``None`` leaves its panel out.
    clipped_freqs_hz : np.ndarray [shape=(n_mels,)], optional
        Row frequencies of ``clipped``.
    n_blank_rows : int
        Blank top rows found in ``spectrogram`` (marked with a dashed line).
    true_class, target : int, optional
        The cycle's label and the class the map explains.
    title : str, optional
    alpha : float

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    wave, own = np.asarray(wave, dtype=float), np.asarray(own, dtype=bool)
    if wave.shape != own.shape:
        raise ValueError(f"own must mark every sample of wave, got shapes {own.shape} and {wave.shape}")
    layout = [["wave", "probs"], ["mel", "clipped" if clipped is not None else "mel"], ["cam", "cam"]]
    fig = matplotlib.figure.Figure(figsize=(11.0, 9.5), layout="constrained")
    axes = fig.subplot_mosaic(layout)

    seconds = np.arange(len(wave)) / sr
    if not own.all():
        axes["wave"].plot(seconds, wave, color="0.75", linewidth=0.6, label="padding (neighbours or copies)")
    axes["wave"].plot(seconds, np.where(own, wave, np.nan), color="tab:blue", linewidth=0.6, label="the cycle")
    axes["wave"].set_xlim(seconds[0], seconds[-1])
    axes["wave"].set_xlabel("time (s)")
    axes["wave"].set_ylabel("amplitude")
    axes["wave"].set_title(f"model input ({len(wave) / sr:g} s at {sr} Hz)")
    axes["wave"].legend(loc="upper right", fontsize="small")

    _draw_probabilities(axes["probs"], probabilities, class_names=class_names, true_class=true_class, target=target)

    blank = f", top {n_blank_rows} rows blank" if n_blank_rows else ", no blank band"
    _draw_overlay(axes["mel"], spectrogram, None, times_s=spec_times_s, freqs_hz=spec_freqs_hz, alpha=alpha,
                  title=f"Mel spectrogram{blank}")
    if n_blank_rows:
        axes["mel"].axhline(len(spec_freqs_hz) - n_blank_rows - 0.5, color="white", linestyle="--", linewidth=1.0)
    if clipped is not None:
        _draw_overlay(axes["clipped"], clipped, None, times_s=spec_times_s, freqs_hz=clipped_freqs_hz, alpha=alpha,
                      title="after blank region clipping" if n_blank_rows else "clipping: unchanged")
    _draw_overlay(axes["cam"], cam_background, cam, times_s=times_s, freqs_hz=freqs_hz, alpha=alpha,
                  title="Grad-CAM++ over the spectrogram the model saw")
    _colorbar(fig, axes["cam"])
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_blank_band_summary(summary, *, title: str | None = None) -> matplotlib.figure.Figure:
    """The Fig. 3 number per device: share of the map in the blank band's rows, before vs after clipping.

    Parameters
    ----------
    summary : pd.DataFrame
        From :func:`respirelib.explain.gradcam.summarise_blank_band_attention` (columns
        ``device``, ``n_cycles``, ``mass_before``, ``mass_after``, ``area_share``).
        Devices without such cycles are shown with ``n=0`` and no bars.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    devices = summary["device"].astype(str).tolist()
    positions = np.arange(len(devices))
    fig = matplotlib.figure.Figure(figsize=(1.3 * len(devices) + 3.0, 3.6), layout="constrained")
    ax = fig.subplots()
    width = 0.38
    before = summary["mass_before"].to_numpy(dtype=float)
    after = summary["mass_after"].to_numpy(dtype=float)
    ax.bar(positions - width / 2, 100 * before, width, label="before clipping", color="tab:red")
    ax.bar(positions + width / 2, 100 * after, width, label="after clipping (same rows)", color="tab:green")
    area = summary["area_share"].to_numpy(dtype=float)
    ax.scatter(positions, 100 * area, marker="_", s=600, color="black", label="uniform map (area share)", zorder=3)
    for position, n in zip(positions, summary["n_cycles"]):
        if n == 0:
            ax.text(position, 0.02, "no cycle with\na blank band", ha="center", va="bottom", color="0.4",
                    fontsize="small", transform=ax.get_xaxis_transform())
    ax.set_xticks(positions, [f"{name}\nn={int(n)}" for name, n in zip(devices, summary["n_cycles"])])
    ax.set_ylabel("% of the map in the blank rows")
    # Fitted to the bars and the uniform marks (room above for the legend), not 0-100: bars of 10-20 % would
    # otherwise be stubs.
    shown = np.concatenate([before, after, area]) * 100
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 10.0
    ax.set_ylim(0, min(100.0, max(5.0, 1.45 * top)))
    ax.legend(fontsize="small", loc="upper right")
    if title is not None:
        ax.set_title(title)
    return fig
