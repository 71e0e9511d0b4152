"""Pre-processing: filter response, resampling, normalisation, cycle extraction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from respirelib.config import AudioConfig
from respirelib.signal.preprocess import (bandpass_sos, extract_cycles, filter_sos, normalize_peak,
                                   preprocess_recording, zero_phase_response)

SR = 4000


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def measured_gain_db(config: AudioConfig, *, sr: int, freqs: list[float]) -> np.ndarray:
    """Gain of the whole chain at ``freqs``, from its response to an impulse at ``sr``."""
    impulse = np.zeros(4 * sr)
    impulse[len(impulse) // 2] = 1.0
    out = preprocess_recording(impulse, sr=sr, config=dataclasses.replace(config, normalize=False))
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64))) * sr / config.sample_rate
    bins = np.fft.rfftfreq(len(out), d=1 / config.sample_rate)
    return 20 * np.log10(np.interp(freqs, bins, spectrum) + 1e-300)


def test_zero_phase_filter_is_minus_3_db_at_50_hz_and_flat_in_passband():
    gain = measured_gain_db(AudioConfig(), sr=SR, freqs=[50.0, 200.0, 500.0, 1000.0, 1500.0, 1900.0])
    assert gain[0] == pytest.approx(-3.01, abs=0.1)
    assert np.all(np.abs(gain[1:]) < 0.01)


def test_filter_blocks_dc_and_low_frequencies():
    gain = measured_gain_db(AudioConfig(), sr=SR, freqs=[0.0, 10.0, 25.0])
    assert gain[0] < -100
    assert gain[1] < -60
    assert gain[2] < -20


def test_designed_edges_match_for_single_and_double_pass():
    freqs = np.array([50.0, 1500.0])
    double = zero_phase_response(bandpass_sos(sr=SR, low_hz=50, high_hz=1500), sr=SR, freqs=freqs)
    single = np.abs(zero_phase_response(bandpass_sos(sr=SR, low_hz=50, high_hz=1500, zero_phase=False),
                                        sr=SR, freqs=freqs)) ** 0.5
    np.testing.assert_allclose(20 * np.log10(double), -3.01, atol=0.05)
    np.testing.assert_allclose(20 * np.log10(single), -3.01, atol=0.05)


def test_upper_edge_at_nyquist_gives_highpass_only_and_lower_edge_adds_lowpass():
    assert filter_sos(AudioConfig()).shape[0] == 3  # order 5 high-pass: three sections
    assert filter_sos(AudioConfig(high_hz=1800)).shape[0] == 6
    gain = measured_gain_db(AudioConfig(high_hz=1800), sr=SR, freqs=[1000.0, 1800.0, 1950.0])
    assert abs(gain[0]) < 0.05
    assert gain[1] == pytest.approx(-3.01, abs=0.1)
    assert gain[2] < -10


def test_resampling_from_44k_keeps_passband_and_removes_what_would_alias():
    sr = 44100
    t = np.arange(sr) / sr
    config = AudioConfig(normalize=False)
    kept = preprocess_recording(np.sin(2 * np.pi * 1000 * t), sr=sr, config=config)
    aliased = preprocess_recording(np.sin(2 * np.pi * 2500 * t), sr=sr, config=config)
    assert len(kept) == SR
    middle = slice(500, -500)
    assert np.sqrt(2) * kept[middle].std() == pytest.approx(1.0, abs=0.01)
    assert np.abs(aliased[middle]).max() < 1e-3


def test_output_is_float32_peak_normalised(rng):
    y = 0.01 * rng.standard_normal(3 * 10000)
    out = preprocess_recording(y, sr=10000)
    assert out.dtype == np.float32
    assert out.shape == (3 * SR,)
    assert np.abs(out).max() == pytest.approx(1.0)


def test_silence_stays_zero_and_tiny_inputs_pass():
    assert np.all(preprocess_recording(np.zeros(1000), sr=SR) == 0)
    assert preprocess_recording(np.ones(5), sr=SR).shape == (5,)


def test_normalize_peak_batch_rows_are_independent():
    y = np.array([[0.5, -2.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    out = normalize_peak(y)
    np.testing.assert_allclose(out, [[0.25, -1.0, 0.5], [0.0, 0.0, 0.0]])
    assert out.dtype == np.float32


def test_rejects_multichannel_input():
    with pytest.raises(ValueError, match="mono"):
        preprocess_recording(np.zeros((2, 100)), sr=SR)


def test_extract_cycles_rounds_to_samples_and_clips_to_recording():
    y = np.arange(1000, dtype=np.float32)
    cycles = extract_cycles(y, sr=100, starts=[0.0, 1.234, 9.5], ends=[1.234, 2.0, 12.0])
    np.testing.assert_array_equal(cycles[0], np.arange(0, 123))
    np.testing.assert_array_equal(cycles[1], np.arange(123, 200))
    np.testing.assert_array_equal(cycles[2], np.arange(950, 1000))
    cycles[0][:] = -1
    assert y[0] == 0  # copies, not views


def test_extract_cycles_rejects_reversed_boundaries():
    with pytest.raises(ValueError, match="cycle 1"):
        extract_cycles(np.zeros(100), sr=10, starts=[0.0, 5.0], ends=[1.0, 4.0])


def test_waveform_and_filter_figures_have_labelled_axes(rng):
    from respirelib.viz.signal import plot_filter_response, plot_waveform

    wave = plot_waveform(rng.standard_normal(400), sr=SR, title="noise")
    assert wave.axes[0].get_xlabel() == "Time (s)"
    response = plot_filter_response(AudioConfig(), orig_sr=8000)
    ax = response.axes[0]
    assert ax.get_xlabel() == "Frequency (Hz)" and ax.get_ylabel() == "Gain (dB)"
    assert len(ax.get_lines()) >= 2  # designed and measured responses
