"""Blank region clipping: remove empty high-frequency rows of a spectrogram.

Some devices record nothing above about 1.5 kHz, which leaves a blank band at
the top of the spectrogram and a sharp edge below it. The paper cuts those rows
and stretches the rest back to the full height; a spectrogram without a blank
band is left unchanged.

Works on per-sample scaled spectrograms in [0, 1] (``FeatureConfig(scaling=
"minmax")``) with row 0 the lowest Mel band, so the scan starts at the last row.
A value below ``threshold`` (default 10/255) counts as blank, and a row is blank
when at least ``min_fraction`` (default 80%) of its values are, as in the
reference. The blank rows are the unbroken run of blank rows from the top; a
spectrogram that is blank everywhere (silence) is left as it is.

Departures from the reference implementation: it thresholds the grey level of
the 'magma'-coloured image, where this module thresholds the scaled spectrogram
itself (magma's grey level is a little darker, so the reference's threshold is
slightly looser); it always removes at least one row, even with no blank band
(an off-by-one, available here as ``reference_off_by_one=True``); and it crops
and stretches the 3x resized image, where this module works on the spectrogram
before the image is made. Stretching is linear interpolation with half-pixel
centres (``torch.nn.functional.interpolate(..., align_corners=False)``, as
OpenCV's linear resize).
"""

from __future__ import annotations

import numpy as np
import torch

from respirelib.config import FeatureConfig
from respirelib.signal.features import mel_band_edges

BLANK_THRESHOLD = 10 / 255
BLANK_FRACTION = 0.8


def _blank_row_mask(spec: torch.Tensor, threshold: float, min_fraction: float) -> torch.Tensor:
    """(batch, n_rows) True where a row is blank."""
    return (spec < threshold).to(torch.float32).mean(dim=-1) >= min_fraction


def _top_run(spec: torch.Tensor, threshold: float, min_fraction: float) -> torch.Tensor:
    """Length of the unbroken run of blank rows starting at the highest row."""
    from_top = _blank_row_mask(spec, threshold, min_fraction).flip(-1).to(torch.int64)
    return torch.cumprod(from_top, dim=-1).sum(dim=-1)


def blank_rows_batch(spec: torch.Tensor, *, threshold: float = BLANK_THRESHOLD,
                     min_fraction: float = BLANK_FRACTION) -> torch.Tensor:
    """Number of blank rows at the top (highest frequencies) of each spectrogram.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, n_mels, n_frames)]
        Scaled to [0, 1]; row 0 is the lowest band.
    threshold : float
        Values below it are blank.
    min_fraction : float
        A row is blank when at least this fraction of its values are.

    Returns
    -------
    n_blank : torch.Tensor [shape=(batch,), dtype=int64]
        0 for a spectrogram without a blank band, and for one blank everywhere.
    """
    run = _top_run(spec, threshold, min_fraction)
    return torch.where(run < spec.shape[-2], run, torch.zeros_like(run))


def stretch_rows(spec: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """Stretch the lowest ``kept[b]`` rows of each spectrogram back to the full height.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, n_rows, n_frames)]
    kept : torch.Tensor [shape=(batch,), integer]
        Rows to keep, from row 0; ``kept == n_rows`` returns the sample unchanged.

    Returns
    -------
    stretched : torch.Tensor [shape=(batch, n_rows, n_frames)]
    """
    batch, n_rows, n_frames = spec.shape
    kept = kept.to(device=spec.device).reshape(-1, 1)
    dtype = spec.dtype if spec.is_floating_point() else torch.float32
    rows = torch.arange(n_rows, device=spec.device, dtype=torch.float64)
    # Half-pixel centres: output row r samples source position (r + 0.5) * kept / n_rows - 0.5.
    source = ((rows + 0.5) * kept / n_rows - 0.5).clamp(min=0)
    source = torch.minimum(source, (kept - 1).to(torch.float64))
    low = source.floor().long()
    high = torch.minimum(low + 1, kept - 1)
    weight = (source - low).to(dtype).unsqueeze(-1)

    def take(index: torch.Tensor) -> torch.Tensor:
        return spec.gather(1, index.unsqueeze(-1).expand(batch, n_rows, n_frames)).to(dtype)

    return torch.lerp(take(low), take(high), weight)


def clip_blank_region_batch(spec: torch.Tensor, *, threshold: float = BLANK_THRESHOLD,
                            min_fraction: float = BLANK_FRACTION,
                            reference_off_by_one: bool = False) -> torch.Tensor:
    """Cut the blank top rows of each spectrogram and stretch the rest to full height.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, n_mels, n_frames)]
        Scaled to [0, 1]; row 0 is the lowest band.
    threshold, min_fraction : float
        See :func:`blank_rows_batch`.
    reference_off_by_one : bool
        Cut one row more than the blank run, as the reference does (so even a
        spectrogram with no blank band loses its top row); an all-blank one is
        left alone, as there.

    Returns
    -------
    clipped : torch.Tensor [shape=(batch, n_mels, n_frames)]
        Samples without blank rows are returned exactly as they were.
    """
    return clip_rows_batch(spec, blank_cut_batch(spec, threshold=threshold, min_fraction=min_fraction,
                                                 reference_off_by_one=reference_off_by_one))


def blank_cut_batch(spec: torch.Tensor, *, threshold: float = BLANK_THRESHOLD,
                    min_fraction: float = BLANK_FRACTION, reference_off_by_one: bool = False) -> torch.Tensor:
    """Rows that :func:`clip_blank_region_batch` cuts from each spectrogram [shape=(batch,), int64].

    Deciding the rows once, on the un-augmented input, lets training clip the same rows
    after augmentation: added noise or a speed change fills a blank band, which would
    otherwise no longer be clipped (see :func:`clip_rows_batch`).
    """
    n_rows = spec.shape[-2]
    run = _top_run(spec, threshold, min_fraction)
    cut = run + 1 if reference_off_by_one else run
    return torch.where(cut < n_rows, cut, torch.zeros_like(cut))


def clip_rows_batch(spec: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
    """Cut ``cut[b]`` top rows of spectrogram ``b`` and stretch the rest to full height.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, n_mels, n_frames)]
    cut : torch.Tensor [shape=(batch,), integer]
        From :func:`blank_cut_batch` (0 leaves a sample unchanged).

    Returns
    -------
    clipped : torch.Tensor [shape=(batch, n_mels, n_frames)]
    """
    return stretch_rows(spec, spec.shape[-2] - cut.to(spec.device))


def blank_rows(spec: np.ndarray, *, threshold: float = BLANK_THRESHOLD,
               min_fraction: float = BLANK_FRACTION) -> int:
    """Number of blank rows at the top of one spectrogram (see :func:`blank_rows_batch`).

    Parameters
    ----------
    spec : np.ndarray [shape=(n_mels, n_frames)]

    Returns
    -------
    n_blank : int
    """
    tensor = torch.as_tensor(np.asarray(spec))[None]
    return int(blank_rows_batch(tensor, threshold=threshold, min_fraction=min_fraction)[0])


def clip_blank_region(spec: np.ndarray, *, threshold: float = BLANK_THRESHOLD,
                      min_fraction: float = BLANK_FRACTION, reference_off_by_one: bool = False) -> np.ndarray:
    """Blank region clipping of one spectrogram (see :func:`clip_blank_region_batch`).

    Parameters
    ----------
    spec : np.ndarray [shape=(n_mels, n_frames)]

    Returns
    -------
    clipped : np.ndarray [shape=(n_mels, n_frames)]
    """
    spec = np.asarray(spec)
    clipped = clip_blank_region_batch(torch.as_tensor(spec)[None], threshold=threshold,
                                      min_fraction=min_fraction, reference_off_by_one=reference_off_by_one)
    return clipped[0].numpy().astype(spec.dtype, copy=False)


def band_rows(*, config: FeatureConfig = FeatureConfig(), low_hz: float = 1500.0,
              high_hz: float = 2000.0) -> np.ndarray:
    """Indices of the Mel rows whose whole band lies in [low_hz, high_hz].

    Row ``k`` spans ``edges[k]`` to ``edges[k + 2]`` of
    :func:`respirelib.signal.features.mel_band_edges` (its triangular filter's support).

    Returns
    -------
    rows : np.ndarray [shape=(n_rows,), dtype=int64]
    """
    edges = mel_band_edges(config)
    # A small tolerance keeps the top row, whose upper edge is fmax up to rounding.
    tolerance = 1e-6 * config.fmax
    inside = (edges[:-2] >= low_hz - tolerance) & (edges[2:] <= high_hz + tolerance)
    rows = np.flatnonzero(inside)
    if rows.size == 0:
        raise ValueError(f"no Mel band of this config lies within {low_hz}-{high_hz} Hz")
    return rows


def band_is_blank(spec: np.ndarray | torch.Tensor, *, config: FeatureConfig = FeatureConfig(),
                  low_hz: float = 1500.0, high_hz: float = 2000.0, threshold: float = BLANK_THRESHOLD,
                  min_fraction: float = BLANK_FRACTION, row_fraction: float = 1.0) -> bool | np.ndarray:
    """Whether a frequency band of a spectrogram carries no energy (the paper's 1.5-2 kHz statistic).

    Parameters
    ----------
    spec : np.ndarray or torch.Tensor [shape=(..., n_mels, n_frames)]
        Scaled spectrograms (e.g. from :func:`respirelib.signal.features.log_mel`), with
        ``config`` the configuration that made them.
    config : FeatureConfig
    low_hz, high_hz : float
        The band; the Mel rows lying wholly inside it are tested (:func:`band_rows`).
    threshold, min_fraction : float
        A row is blank when at least ``min_fraction`` of its values are below
        ``threshold`` (as in :func:`blank_rows_batch`).
    row_fraction : float
        The band is blank when at least this fraction of its rows are blank
        (default: all of them).

    Returns
    -------
    blank : bool or np.ndarray [shape=(...,), dtype=bool]
        A bool for one spectrogram, an array for a stack.

    Notes
    -----
    The 64 ms Hann window's side lobes stay above the default threshold (about
    77 dB below the peak) for roughly 200 Hz past a sharp cut-off, so a device that
    stops exactly at 1.5 kHz leaves the lowest rows of the band non-blank. Use
    ``row_fraction`` below 1 (or a higher ``low_hz``) to count such devices.
    """
    if isinstance(spec, torch.Tensor):
        spec = spec.detach().cpu().numpy()
    spec = np.asarray(spec)
    if spec.shape[-2] != config.n_mels:
        raise ValueError(f"spectrogram has {spec.shape[-2]} rows but the config has {config.n_mels} Mel bands")
    rows = band_rows(config=config, low_hz=low_hz, high_hz=high_hz)
    row_blank = (spec[..., rows, :] < threshold).mean(axis=-1) >= min_fraction
    blank = row_blank.mean(axis=-1) >= row_fraction
    return bool(blank) if blank.ndim == 0 else blank
