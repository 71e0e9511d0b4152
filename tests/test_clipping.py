"""Blank region clipping: detection, cutting, stretching, and the 1.5-2 kHz band statistic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from respirelib.signal.clipping import (BLANK_FRACTION, BLANK_THRESHOLD, band_is_blank, band_rows, blank_rows,
                                 blank_cut_batch, blank_rows_batch, clip_blank_region, clip_blank_region_batch,
                                 clip_rows_batch)
from respirelib.config import FeatureConfig
from respirelib.signal.features import log_mel, mel_band_edges

SR = 4000


def lowpassed_noise(cutoff_hz: float, *, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """White noise with every FFT bin above ``cutoff_hz`` removed."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / SR) > cutoff_hz] = 0
    return np.fft.irfft(spectrum, n)


def rows_blank_by_definition(spec: np.ndarray) -> np.ndarray:
    """Row-by-row reading of the documented rule, written independently of the module."""
    return np.array([np.mean(row < BLANK_THRESHOLD) >= BLANK_FRACTION for row in spec])


def stretched(kept_rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Linear resize of the kept rows back to ``n_rows`` (OpenCV/torch half-pixel convention)."""
    image = torch.as_tensor(kept_rows)[None, None]
    return F.interpolate(image, size=(n_rows, kept_rows.shape[1]), mode="bilinear", align_corners=False)[0, 0].numpy()


def test_full_band_input_is_unchanged():
    spec = log_mel(np.random.default_rng(1).standard_normal(2 * SR), sr=SR)
    assert blank_rows(spec) == 0
    assert np.array_equal(clip_blank_region(spec), spec)


def test_band_limited_input_loses_exactly_its_blank_rows():
    spec = log_mel(lowpassed_noise(1500.0), sr=SR)
    blank = rows_blank_by_definition(spec)
    expected = int(np.argmin(blank[::-1]))  # length of the blank run from the top row
    centres = mel_band_edges()[1:-1]
    assert expected >= np.sum(centres > 1650)  # the band well above the cut-off is blank
    assert blank_rows(spec) == expected
    clipped = clip_blank_region(spec)
    assert clipped.shape == spec.shape
    np.testing.assert_allclose(clipped, stretched(spec[:64 - expected], 64), atol=1e-6)


def test_synthetic_blank_rows_are_counted_exactly():
    rng = np.random.default_rng(2)
    spec = rng.uniform(0.2, 1.0, size=(64, 50))
    spec[-7:] = rng.uniform(0.0, BLANK_THRESHOLD * 0.99, size=(7, 50))
    spec[-9, :39] = 0.0  # 78% blank: not a blank row, so the run stops above it
    spec[-8, :40] = 0.0  # 80% blank: a blank row
    assert blank_rows(spec) == 8
    spec[-3, :] = 0.5  # a non-blank row inside the band breaks the run
    assert blank_rows(spec) == 2


def test_all_blank_spectrogram_is_left_alone():
    silence = np.zeros((64, 30))
    assert blank_rows(silence) == 0
    assert np.array_equal(clip_blank_region(silence), silence)
    assert np.array_equal(clip_blank_region(silence, reference_off_by_one=True), silence)


def test_reference_off_by_one_cuts_one_row_more():
    rng = np.random.default_rng(3)
    full = rng.uniform(0.2, 1.0, size=(64, 40)).astype(np.float32)
    np.testing.assert_allclose(clip_blank_region(full, reference_off_by_one=True), stretched(full[:63], 64),
                               atol=1e-6)
    limited = full.copy()
    limited[-5:] = 0.0
    np.testing.assert_allclose(clip_blank_region(limited, reference_off_by_one=True),
                               stretched(limited[:58], 64), atol=1e-6)


def test_batch_matches_single_spectrograms():
    rng = np.random.default_rng(4)
    specs = rng.uniform(0.2, 1.0, size=(4, 64, 30)).astype(np.float32)
    for i, n_blank in enumerate([0, 3, 10, 1]):
        if n_blank:
            specs[i, -n_blank:] = 0.0
    batch = torch.as_tensor(specs)
    assert blank_rows_batch(batch).tolist() == [0, 3, 10, 1]
    clipped = clip_blank_region_batch(batch)
    assert clipped.shape == batch.shape
    for i in range(4):
        np.testing.assert_allclose(clipped[i].numpy(), clip_blank_region(specs[i]), atol=1e-7)
    assert torch.equal(clipped[0], batch[0])


def test_band_rows_lie_inside_the_band():
    rows = band_rows(low_hz=1500, high_hz=2000)
    edges = mel_band_edges()
    assert np.all(edges[rows] >= 1500) and np.all(edges[rows + 2] <= 2000 + 1e-6)
    assert rows[-1] == 63 and edges[rows[0] - 1] < 1500
    with pytest.raises(ValueError, match="no Mel band"):
        band_rows(low_hz=1000, high_hz=1010)


def test_band_is_blank_tells_band_limited_from_full_band():
    limited = log_mel(lowpassed_noise(1300.0), sr=SR)
    full = log_mel(lowpassed_noise(2000.0, seed=5), sr=SR)
    assert band_is_blank(limited) is True
    assert band_is_blank(full) is False
    # A cut exactly at 1.5 kHz leaks into the band's lowest rows (window side lobes).
    at_edge = log_mel(lowpassed_noise(1500.0), sr=SR)
    assert band_is_blank(at_edge) is False
    assert band_is_blank(at_edge, row_fraction=0.7) is True
    stack = torch.as_tensor(np.stack([limited, full, limited]))
    np.testing.assert_array_equal(band_is_blank(stack), [True, False, True])


def test_clipping_figure_reports_the_cut():
    from respirelib.viz.signal import plot_clipping

    spec = log_mel(lowpassed_noise(1300.0), sr=SR)
    fig = plot_clipping(spec)
    before, after = fig.axes[:2]
    assert f"{blank_rows(spec)} blank rows" in before.get_title()
    assert 1300 < after.get_ylim()[1] < 1600  # the cut-off plus the window's leakage
    assert after.get_ylabel() == "Frequency (Hz)"
    # The mean blank level cuts what the frontend cuts: the quiet top rows of full-band brown noise too.
    from respirelib.signal.frontend import FeatureFrontend

    brown = np.cumsum(np.random.default_rng(7).standard_normal(3 * SR))
    config = FeatureConfig(image_scale=1.0, blank_level="mean")
    cut = int(FeatureFrontend(config).blank_cut(torch.as_tensor(brown - brown.mean(), dtype=torch.float32)[None])[0])
    fig = plot_clipping(log_mel(brown - brown.mean(), sr=SR, config=config), config=config)
    assert cut > 5 and f"before: {cut} rows below the mean level" in fig.axes[0].get_title()


# ----------------------------------------------------------------------------- clipping under augmentation

def _band_limited_batch(n: int = 4) -> torch.Tensor:
    """``n`` inputs band-limited at 1.0-1.4 kHz (a different number of blank rows each)."""
    cutoffs = np.linspace(1000, 1400, n)
    return torch.from_numpy(np.stack([lowpassed_noise(c, seconds=3.0, seed=i) for i, c in enumerate(cutoffs)])
                            .astype(np.float32))


def test_noise_fills_the_blank_band_so_rows_are_decided_before_augmentation():
    from respirelib.signal.augment import add_noise
    from respirelib.signal.frontend import FeatureFrontend

    frontend = FeatureFrontend(FeatureConfig(image_scale=1.0))
    clean = _band_limited_batch()
    cut = frontend.blank_cut(clean)
    assert (cut >= 5).all()
    noisy = add_noise(clean, snr_db=30.0, generator=torch.Generator().manual_seed(0))
    # The measured problem: after noise at 30 dB SNR the blank rows are gone.
    assert (frontend.blank_cut(noisy) == 0).all()
    unclipped = frontend.spectrogram(noisy, clip=False)
    torch.testing.assert_close(frontend.spectrogram(noisy), unclipped)  # deciding on the noisy input clips nothing
    fixed = frontend.spectrogram(noisy, cut=cut)
    torch.testing.assert_close(fixed, clip_rows_batch(unclipped, cut))
    assert not torch.allclose(fixed, unclipped)


def test_training_clips_the_rows_of_the_unaugmented_input(monkeypatch, tmp_path):
    from respirelib.config import AugmentConfig
    from respirelib.signal.frontend import FeatureFrontend
    from respirelib.training.profiles import TrainConfig
    from respirelib.signal.samples import SampleSet
    from respirelib.training.train import fit

    waves = _band_limited_batch(8)
    train = SampleSet(waves, torch.tensor([0, 1, 2, 3] * 2), np.arange(8), np.full(8, "Litt3200", dtype=object))
    frontend = FeatureFrontend(FeatureConfig(image_scale=1.0))
    expected = frontend.blank_cut(waves)
    seen = []
    original = FeatureFrontend.forward

    def spy(self, wave, *, clip=None, cut=None):
        if torch.is_grad_enabled():  # training batches (selection runs under no_grad)
            seen.append(cut.clone())
        return original(self, wave, clip=clip, cut=cut)

    monkeypatch.setattr(FeatureFrontend, "forward", spy)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    augment = AugmentConfig(p_waveform=1.0, noise_weight=1.0, speed_weight=0, loudness_weight=0, pitch_weight=0)
    fit(model, frontend, train, train, config=TrainConfig(epochs=1, batch_size=8, samples_per_epoch=8),
        augment=augment, sr=4000, out_dir=tmp_path / "stage", seed=0, progress=False)
    assert len(seen) == 1 and len(set(expected.tolist())) > 2
    # Each batch input is clipped by its own un-augmented rows (the noisy inputs would give 0).
    assert set(seen[0].tolist()) <= set(expected.tolist()) and (seen[0] >= 5).all()


def test_standardised_spectrograms_lose_the_rows_blank_on_the_min_max_scale():
    """The blank threshold is a grey level of the min-max scale: with standard scaling (mean 0) the
    quiet upper rows of a full-band sound, below its spectrogram's mean, must not count as blank."""
    from respirelib.signal.frontend import FeatureFrontend

    # Brown noise: full band, about 30 dB quieter at 2 kHz than at 50 Hz, nothing blank.
    full_band = torch.as_tensor(np.stack([np.cumsum(np.random.default_rng(seed).standard_normal(3 * SR))
                                          for seed in (3, 4)]), dtype=torch.float32)
    full_band = full_band - full_band.mean(dim=1, keepdim=True)
    waves = torch.cat([_band_limited_batch(), full_band])
    minmax = FeatureFrontend(FeatureConfig(image_scale=1.0))
    standard = FeatureFrontend(FeatureConfig(image_scale=1.0, scaling="standard", image_mode="replicate"))
    cut = minmax.blank_cut(waves)
    assert (cut[:-2] >= 5).all() and (cut[-2:] == 0).all()
    torch.testing.assert_close(standard.blank_cut(waves), cut, rtol=0, atol=0)
    torch.testing.assert_close(standard.blank_rows(waves), minmax.blank_rows(waves), rtol=0, atol=0)
    unclipped = standard.spectrogram(waves, clip=False)
    # What a grey-level rule applied to the standardised values would cut from the full-band sounds:
    assert (blank_cut_batch(unclipped[-2:]) > 0).all()
    torch.testing.assert_close(standard.spectrogram(waves), clip_rows_batch(unclipped, cut))


def test_the_mean_blank_level_also_cuts_a_quiet_top_band():
    """blank_level="mean" reads the grey-level rule on the standardised spectrogram: the quiet upper rows of a
    full-band sound (below its mean level) are cut and the rest stretched; the paper's rule cuts nothing there."""
    from respirelib.signal.frontend import FeatureFrontend

    with pytest.raises(ValueError, match="blank_level"):
        FeatureConfig(blank_level="median")
    brown = torch.as_tensor(np.stack([np.cumsum(np.random.default_rng(seed).standard_normal(3 * SR))
                                      for seed in (5, 6)]), dtype=torch.float32)
    waves = torch.cat([_band_limited_batch(2), brown - brown.mean(dim=1, keepdim=True)])
    floor = FeatureFrontend(FeatureConfig(image_scale=1.0))
    mean = FeatureFrontend(FeatureConfig(image_scale=1.0, blank_level="mean"))
    floor_cut, mean_cut = floor.blank_cut(waves), mean.blank_cut(waves)
    assert (floor_cut[2:] == 0).all() and (mean_cut[2:] > 5).all()
    assert (mean_cut >= floor_cut).all()  # a blank row is below the mean level too
    standardised = mean.mel.standardize(mean.mel.db(waves))
    expected = [int(np.argmin(rows_blank_by_definition(s)[::-1])) for s in standardised.numpy()]
    assert mean_cut.tolist() == expected
    spec, cut, n_blank = mean.unclipped(waves)
    assert cut.tolist() == expected and n_blank.tolist() == floor.blank_rows(waves).tolist()
    torch.testing.assert_close(mean.spectrogram(waves), clip_rows_batch(spec, cut))
    torch.testing.assert_close(spec, floor.spectrogram(waves, clip=False))  # the network's scale is unchanged
