"""Figures for Grad-CAM++ maps: one overlay, a gallery, and the Fig. 3 before/after pair.

Each panel draws the spectrogram (grey) or the model's image (its own colours)
with the map on top, low frequencies at the bottom. The vertical axis is the
image's row grid, as the network sees it, labelled in Hz at the row frequencies
(a Mel axis, like ``librosa.display.specshow(y_axis="mel")``); the horizontal
axis is time in seconds. ``times_s`` and ``freqs_hz`` are those of the map's
columns and rows (:func:`respirelib.explain.map_axes`); the background may have
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
from respirelib.explain import blank_image_rows, top_rows_mass

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
    cam = _as_array(cam)
    times_s, freqs_hz = np.asarray(times_s, dtype=float), np.asarray(freqs_hz, dtype=float)
    if cam.ndim != 2 or cam.shape != (len(freqs_hz), len(times_s)):
        raise ValueError(f"map of shape {cam.shape} needs {cam.shape[-2:]} = (len(freqs_hz), len(times_s)), "
                         f"got ({len(freqs_hz)}, {len(times_s)})")
    if np.any(np.diff(freqs_hz) <= 0):
        raise ValueError("freqs_hz must increase from row 0 (the lowest band) upwards")
    height = cam.shape[0]
    step = (times_s[-1] - times_s[0]) / (len(times_s) - 1) if len(times_s) > 1 else 1.0
    extent = (times_s[0] - step / 2, times_s[-1] + step / 2, -0.5, height - 0.5)
    background, options = _background(spec_or_image)
    ax.imshow(background, origin="lower", aspect="auto", extent=extent, interpolation="nearest", **options)
    ax.imshow(cam, origin="lower", aspect="auto", extent=extent, cmap=CAM_CMAP, vmin=0.0, vmax=1.0,
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
        A map from :func:`respirelib.explain.gradcam_maps`, values in [0, 1].
    times_s : array [shape=(width,)]
    freqs_hz : array [shape=(height,)]
        The map's axes (:func:`respirelib.explain.map_axes`), increasing.
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
    if np.ndim(values[0]) == 0:
        return [values] * n
    if len(values) != n:
        raise ValueError(f"{name} must be one array or one per panel ({n}), got {len(values)}")
    return list(values)


def plot_gradcam_gallery(specs, cams, *, titles: Sequence[str], times_s, freqs_hz, ncols: int = 4,
                         alpha: float = 0.5) -> matplotlib.figure.Figure:
    """A grid of overlays, e.g. several cycles, classes or layers, with one colour bar.

    Parameters
    ----------
    specs : sequence of arrays
        Backgrounds, as in :func:`plot_gradcam_overlay`.
    cams : sequence of arrays [shape=(height, width)] or array [shape=(n, height, width)]
    titles : sequence of str
    times_s, freqs_hz : array or sequence of arrays
        One array shared by all panels, or one per panel (clipped images have
        their own frequencies).
    ncols : int
    alpha : float

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
    fig = matplotlib.figure.Figure(figsize=(3.4 * ncols + 0.8, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, spec, cam, title, panel_times, panel_freqs in zip(axes, specs, cams, titles, times, freqs):
        _draw_overlay(ax, spec, cam, times_s=panel_times, freqs_hz=panel_freqs, alpha=alpha, title=title)
    for ax in axes[n:]:
        ax.set_axis_off()
    _colorbar(fig, axes[:n].tolist())
    return fig


def plot_clipping_attention(before_spec, before_cam, after_spec, after_cam, *, times_s, before_freqs_hz,
                            after_freqs_hz, n_blank_rows: int, feature_config: FeatureConfig = FeatureConfig(),
                            title: str | None = None, alpha: float = 0.5) -> matplotlib.figure.Figure:
    """The Fig. 3 pair: a cycle's map before and after blank region clipping.

    A dashed line marks the top image rows that the blank region occupies before
    clipping, on both panels; each panel's title gives the share of its map in
    those rows, as :func:`respirelib.explain.blank_band_attention` measures it.

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
