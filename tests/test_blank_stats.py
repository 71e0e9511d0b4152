"""Per-cycle and per-device blank high-frequency band statistics on a hand-made cycle cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from respirelib.signal.blank_stats import STAT_COLUMNS, blank_band_fractions, cycle_blank_stats
from respirelib.signal.cache import CycleCache
from respirelib.config import AudioConfig

SR = 4000


def _noise(seconds: float, *, cutoff_hz: float | None, seed: int) -> np.ndarray:
    """White noise, with every FFT bin above ``cutoff_hz`` removed when given."""
    n = int(seconds * SR)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    if cutoff_hz is not None:
        spectrum[np.fft.rfftfreq(n, 1 / SR) > cutoff_hz] = 0
    y = np.fft.irfft(spectrum, n)
    return (y / np.abs(y).max()).astype(np.float32)


def _cache(cycles: list[tuple[str, str, np.ndarray]]) -> CycleCache:
    """A cache of (recording, device, audio) cycles, all normal, in the given order."""
    rows = []
    for recording, device, _ in cycles:
        rows.append({"recording": recording, "device": device, "label": "normal", "label_id": 0,
                     "cycle_index": sum(r["recording"] == recording for r in rows)})
    waves = [c for _, _, c in cycles]
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in waves])])
    return CycleCache(waves=np.concatenate(waves), offsets=offsets, cycles=pd.DataFrame(rows), sr=SR,
                      path=Path("unused"))


def test_band_limited_device_is_blank_and_full_band_is_not():
    cache = _cache([
        ("r1_full", "AKGC417L", _noise(1.5, cutoff_hz=None, seed=1)),
        ("r1_full", "AKGC417L", _noise(2.0, cutoff_hz=None, seed=2)),
        ("r2_limited", "Litt3200", _noise(1.0, cutoff_hz=1300, seed=3)),
        ("r2_limited", "Litt3200", _noise(4.0, cutoff_hz=1300, seed=4)),  # longer than the input: two windows
        ("r3_mixed", "Meditron", _noise(1.2, cutoff_hz=1300, seed=5)),
        ("r4_mixed", "Meditron", _noise(1.2, cutoff_hz=None, seed=6)),
    ])
    stats = cycle_blank_stats(cache, audio=AudioConfig(cycle_duration=3.0), chunk_cycles=2, batch_size=3)
    assert list(stats.columns) == list(STAT_COLUMNS)
    assert list(stats.index) == list(cache.cycles.index)
    assert stats["band_blank"].tolist() == [False, False, True, True, True, False]
    assert (stats.loc[stats["band_blank"], "blank_rows"] > 0).all()
    assert (stats.loc[~stats["band_blank"], "blank_rows"] == 0).all()

    fractions = blank_band_fractions(stats)
    assert list(fractions.index) == ["AKGC417L", "Litt3200", "Meditron"]
    assert fractions["cycles"].tolist() == [2, 2, 2]
    assert fractions["band_blank"].tolist() == [0.0, 1.0, 0.5]
    assert fractions["clipped"].tolist() == [0.0, 1.0, 0.5]
    assert fractions.loc["AKGC417L", "mean_blank_rows"] == 0.0
    assert fractions.loc["Litt3200", "mean_blank_rows"] > 0


def test_rows_subset_and_row_fraction():
    cache = _cache([("r1", "Litt3200", _noise(1.0, cutoff_hz=1300, seed=1)),
                    ("r2", "AKGC417L", _noise(1.0, cutoff_hz=None, seed=2))])
    stats = cycle_blank_stats(cache, rows=[1], audio=AudioConfig(cycle_duration=2.0))
    assert list(stats.index) == [1] and not stats.loc[1, "band_blank"]
    # A cut-off inside the band leaves only its upper rows blank: counted with a lower row_fraction.
    partial = _cache([("r1", "Litt3200", _noise(1.0, cutoff_hz=1600, seed=1))])
    strict = cycle_blank_stats(partial, audio=AudioConfig(cycle_duration=2.0))
    loose = cycle_blank_stats(partial, audio=AudioConfig(cycle_duration=2.0), row_fraction=0.3)
    assert not strict.loc[0, "band_blank"] and loose.loc[0, "band_blank"]


def test_the_fig3_verdict_needs_both_parts_beyond_the_patient_noise():
    from respirelib.explain.gradcam import blank_band_in_words

    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(12), 5)
    area = np.full(60, 0.18)

    def cycles(before, after):
        return pd.DataFrame({"mass_before": before, "mass_after": after, "area_share": area})

    strong = cycles(0.30 + 0.01 * rng.standard_normal(60), 0.20 + 0.01 * rng.standard_normal(60))
    assert "this run repeats the paper's Fig. 3 story" in blank_band_in_words(strong, patients)
    # Slightly above chance and a hair lower after clipping, well inside the patient noise: no story.
    weak = cycles(0.19 + 0.05 * rng.standard_normal(60), 0.19 + 0.05 * rng.standard_normal(60))
    words = blank_band_in_words(weak, patients)
    assert "does **not** show" in words and "repeats" not in words
    assert "12 test patients" in words and "95 % patient-bootstrap interval" in words
    assert "cannot test" in blank_band_in_words(strong.iloc[:0], [])


def test_the_statistic_reads_the_min_max_scale_whatever_the_network_scaling():
    """The paper's blank band is a level near the floor: with standardised network inputs the quiet (not blank)
    top rows of a brown-noise cycle must not count, and the statistic must equal the min-max one."""
    from respirelib.config import FeatureConfig

    brown = np.cumsum(np.random.default_rng(8).standard_normal(2 * SR))
    brown = ((brown - brown.mean()) / np.abs(brown - brown.mean()).max()).astype(np.float32)
    cache = _cache([("r1_brown", "AKGC417L", brown), ("r2_limited", "Litt3200", _noise(2.0, cutoff_hz=1300, seed=9))])
    audio = AudioConfig(cycle_duration=3.0)
    paper = cycle_blank_stats(cache, audio=audio)
    standard = cycle_blank_stats(cache, audio=audio, config=FeatureConfig(scaling="standard", image_mode="replicate"))
    pd.testing.assert_frame_equal(standard, paper)
    assert standard["blank_rows"].tolist()[0] == 0 and standard["blank_rows"].tolist()[1] > 0
