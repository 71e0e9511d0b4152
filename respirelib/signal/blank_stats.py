"""How often the high-frequency band is blank, cycle by cycle and device by device.

The paper (§II-A, blank region clipping) reports that about 20% of the Meditron
samples and all Litt3200 samples have nothing in 1.5-2 kHz. :func:`cycle_blank_stats`
measures that on a cycle cache, on the inputs the network actually sees: each cycle
padded or windowed to the fixed input length (:func:`respirelib.signal.samples.evaluation_set`),
turned into its scaled Mel spectrogram in batches. A cycle counts as blank only if
every one of its windows is. :func:`blank_band_fractions` condenses the table per
device.

Two measures are reported, because they answer different questions:

``band_blank``
    The paper's statistic: the Mel rows lying wholly inside ``low_hz``-``high_hz``
    are blank (:func:`respirelib.signal.clipping.band_is_blank`; by default all of them).
``blank_rows``
    What blank region clipping would cut: the unbroken run of blank rows from the
    top (:func:`respirelib.signal.clipping.blank_rows_batch`). ``clipped`` is the share of
    cycles where it is at least one row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from respirelib.signal.cache import CycleCache
from respirelib.signal.clipping import BLANK_FRACTION, BLANK_THRESHOLD, band_is_blank, blank_rows_batch
from respirelib.config import AudioConfig, FeatureConfig
from respirelib.signal.features import TorchMelFrontend
from respirelib.signal.samples import evaluation_set

STAT_COLUMNS = ("recording", "device", "label", "blank_rows", "band_blank")


def _recording_chunks(cycles: pd.DataFrame, rows: np.ndarray, max_cycles: int) -> list[np.ndarray]:
    """``rows`` split into chunks of whole recordings (smart padding needs a cycle's neighbours)."""
    recordings = cycles.loc[rows, "recording"].astype(str).to_numpy()
    order = np.argsort(recordings, kind="stable")
    rows, recordings = rows[order], recordings[order]
    starts = np.flatnonzero(np.r_[True, recordings[1:] != recordings[:-1]])
    chunks, first = [], 0
    for start in starts[1:]:
        if start - first >= max_cycles:
            chunks.append(rows[first:start])
            first = start
    chunks.append(rows[first:])
    return [chunk for chunk in chunks if len(chunk)]


def cycle_blank_stats(cache: CycleCache, rows=None, *, audio: AudioConfig = AudioConfig(),
                      config: FeatureConfig = FeatureConfig(), low_hz: float = 1500.0,
                      high_hz: float = 2000.0, threshold: float = BLANK_THRESHOLD,
                      min_fraction: float = BLANK_FRACTION, row_fraction: float = 1.0,
                      batch_size: int = 256, chunk_cycles: int = 512) -> pd.DataFrame:
    """Blank high-frequency rows of every cycle's fixed-length input(s).

    Parameters
    ----------
    cache : CycleCache
        Pre-processed cycles (:func:`respirelib.signal.cache.build_cycle_cache`).
    rows : array-like of int or None
        Index labels of ``cache.cycles`` to measure (default: all).
    audio : AudioConfig
        Input length and padding (as for evaluation).
    config : FeatureConfig
        The Mel spectrogram and its scaling.
    low_hz, high_hz : float
        The band of the paper's statistic.
    threshold, min_fraction, row_fraction : float
        Blankness of a value, a row and the band (see :func:`respirelib.signal.clipping.band_is_blank`).
    batch_size : int
        Inputs per spectrogram batch.
    chunk_cycles : int
        About this many cycles' inputs are held in memory at once.

    Returns
    -------
    stats : pd.DataFrame [shape=(n_cycles, 5)]
        Indexed like ``cache.cycles.loc[rows]``, columns :data:`STAT_COLUMNS`:
        ``blank_rows`` (int; the fewest over the cycle's windows) and
        ``band_blank`` (bool; true when every window's band is blank).
    """
    cycles = cache.cycles
    rows = cycles.index.to_numpy() if rows is None else np.asarray(rows, dtype=np.int64)
    mel = TorchMelFrontend(config)
    n_blank, band, owners = [], [], []
    with torch.inference_mode():
        for chunk in _recording_chunks(cycles, rows, chunk_cycles):
            samples = evaluation_set(cache, chunk, config=audio)
            for wave in torch.split(samples.waves, batch_size):
                spec = mel.minmax(mel.db(wave))  # the paper's statistic reads the min-max scale, whatever config.scaling
                n_blank.append(blank_rows_batch(spec, threshold=threshold, min_fraction=min_fraction).numpy())
                band.append(np.atleast_1d(band_is_blank(spec, config=config, low_hz=low_hz, high_hz=high_hz,
                                                        threshold=threshold, min_fraction=min_fraction,
                                                        row_fraction=row_fraction)))
            owners.append(samples.cycle_rows)
    if not owners:
        return pd.DataFrame(columns=list(STAT_COLUMNS))
    windows = pd.DataFrame({"blank_rows": np.concatenate(n_blank), "band_blank": np.concatenate(band)},
                           index=np.concatenate(owners))
    per_cycle = windows.groupby(level=0).agg(blank_rows=("blank_rows", "min"), band_blank=("band_blank", "all"))
    stats = cycles.loc[rows, ["recording", "device", "label"]].astype(str)
    return stats.join(per_cycle).astype({"blank_rows": "int64", "band_blank": "bool"})


def blank_band_fractions(stats: pd.DataFrame) -> pd.DataFrame:
    """Per-device shares of blank cycles, from :func:`cycle_blank_stats`.

    Returns
    -------
    fractions : pd.DataFrame
        One row per device (sorted by name), columns ``cycles`` (count),
        ``band_blank`` (share whose band is blank: the paper's statistic),
        ``clipped`` (share with at least one blank top row) and
        ``mean_blank_rows`` (over the clipped cycles; 0 where none is).
    """
    grouped = stats.assign(clipped=stats["blank_rows"] > 0).groupby("device", sort=True)
    fractions = pd.DataFrame({
        "cycles": grouped.size(),
        "band_blank": grouped["band_blank"].mean(),
        "clipped": grouped["clipped"].mean(),
        "mean_blank_rows": grouped["blank_rows"].apply(lambda n: float(n[n > 0].mean()) if (n > 0).any() else 0.0),
    })
    fractions.index.name = "device"
    return fractions
