"""Mel features: librosa reference, batched torch parity, scaling, images, orientation."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from respirelib.config import FeatureConfig
from respirelib.signal.features import (TorchMelFrontend, colormap_table, log_mel, mel_band_edges, mel_spectrogram,
                                 scale_spectrogram, spectrogram_to_image)

SR = 4000
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture
def signals():
    """Three 2-s signals of different character: noise, a quiet tone, a band-limited chirp."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    noise = rng.standard_normal(len(t))
    tone = 1e-3 * np.sin(2 * np.pi * 300 * t)
    chirp = librosa.chirp(fmin=100, fmax=1200, sr=SR, duration=2.0)
    return np.stack([noise, tone, chirp])


def test_log_mel_shape_range_and_reference_settings(signals):
    spec = log_mel(signals[0], sr=SR)
    assert spec.shape == (64, 1 + signals.shape[1] // 128)
    assert spec.min() == pytest.approx(0.0) and spec.max() == pytest.approx(1.0)
    db = librosa.power_to_db(mel_spectrogram(signals[0], sr=SR), ref=np.max, top_db=80.0)
    np.testing.assert_allclose(spec, (db - db.min()) / (db.max() - db.min()))
    assert log_mel(np.zeros(7 * SR), sr=SR).shape == (64, 219)


def test_sample_rate_must_match_config(signals):
    with pytest.raises(ValueError, match="4000 Hz"):
        log_mel(signals[0], sr=8000)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_frontend_matches_librosa_in_float64(signals, device):
    frontend = TorchMelFrontend().double().to(device)
    batch = torch.as_tensor(signals, device=device)
    power = frontend.power(batch).cpu().numpy()
    expected_power = np.stack([mel_spectrogram(s, sr=SR) for s in signals])
    np.testing.assert_allclose(power, expected_power, rtol=1e-9, atol=1e-12 * expected_power.max())
    spec = frontend(batch).cpu().numpy()
    expected = np.stack([log_mel(s, sr=SR) for s in signals])
    assert np.abs(spec - expected).max() < 1e-6


@pytest.mark.parametrize("device", DEVICES)
def test_torch_frontend_matches_librosa_in_float32(signals, device):
    frontend = TorchMelFrontend().to(device)
    spec = frontend(torch.as_tensor(signals, dtype=torch.float32, device=device)).cpu().numpy()
    expected = np.stack([log_mel(s.astype(np.float32), sr=SR) for s in signals])
    assert spec.dtype == np.float32
    assert np.abs(spec - expected).max() < 1e-3  # 1e-3 of the [0, 1] range = 0.08 dB


def test_standard_scaling_per_sample(signals):
    config = FeatureConfig(scaling="standard", image_mode="replicate")
    spec = TorchMelFrontend(config).double()(torch.as_tensor(signals))
    assert torch.allclose(spec.mean(dim=(1, 2)), torch.zeros(3, dtype=spec.dtype), atol=1e-9)
    assert torch.allclose(spec.std(dim=(1, 2), correction=0), torch.ones(3, dtype=spec.dtype))
    expected = scale_spectrogram(librosa.power_to_db(mel_spectrogram(signals[2], sr=SR), ref=np.max),
                                 method="standard")
    np.testing.assert_allclose(spec[2].numpy(), expected, atol=1e-6)


def test_low_frequencies_are_at_row_zero():
    t = np.arange(SR) / SR
    spec = log_mel(np.sin(2 * np.pi * 200 * t), sr=SR)
    loudest_row = int(spec.mean(axis=1).argmax())
    centres = mel_band_edges()[1:-1]
    assert abs(centres[loudest_row] - 200) < 25
    assert loudest_row < 10


def test_colormap_image_shape_values_and_resize(signals):
    spec = TorchMelFrontend()(torch.as_tensor(signals, dtype=torch.float32))
    images = spectrogram_to_image(spec)  # default: magma, 3x
    assert images.shape == (3, 3, 64 * 3, spec.shape[2] * 3)
    flat = spectrogram_to_image(spec, config=FeatureConfig(image_scale=1))
    assert flat.shape == (3, 3, 64, spec.shape[2])
    table = colormap_table("magma")
    levels = (spec.clamp(0, 1) * 255).long()
    assert torch.equal(flat.permute(0, 2, 3, 1), table[levels])
    assert spectrogram_to_image(spec, size=(224, 224)).shape == (3, 3, 224, 224)


def test_replicated_image_has_three_equal_channels(signals):
    spec = TorchMelFrontend()(torch.as_tensor(signals, dtype=torch.float32))
    images = spectrogram_to_image(spec, config=FeatureConfig(image_mode="replicate", image_scale=1))
    assert torch.equal(images[:, 0], spec) and torch.equal(images[:, 1], spec) and torch.equal(images[:, 2], spec)


def test_spectrogram_and_concatenation_figures_use_seconds_and_hertz(signals):
    from respirelib.viz.signal import plot_concatenation, plot_spectrogram

    fig = plot_spectrogram(log_mel(signals[0], sr=SR))
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("Time (s)", "Frequency (Hz)")
    assert fig.axes[0].get_ylim() == pytest.approx((50, 2000), rel=1e-6)
    fig = plot_concatenation(signals[0][:SR], signals[2][:SR // 2], sr=SR)
    joined = [ax for ax in fig.axes if ax.get_title().startswith("new sample")][0]
    assert joined.get_xlim()[1] == pytest.approx(1.5, abs=0.05)


def test_normalising_before_the_resize_equals_normalising_after():
    from respirelib.signal.features import spectrogram_to_image

    spec = torch.rand(2, 64, 40, generator=torch.Generator().manual_seed(0))
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    for mode in ("colormap", "replicate"):
        config = FeatureConfig(image_mode=mode, image_scale=3.0)
        after = (spectrogram_to_image(spec, config=config) - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
        before = spectrogram_to_image(spec, config=config, normalize=(mean, std))
        torch.testing.assert_close(before, after, atol=1e-5, rtol=1e-5)
