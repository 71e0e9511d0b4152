"""Concatenation-based augmentation, batched waveform augmentations, class-balanced sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from respirelib.signal.augment import (add_noise, augment_batch, change_loudness, change_speed, circular_shift,
                                class_balanced_sampler, pitch_shift)
from respirelib.signal.concat import REFERENCE_RECIPES, augmentation_counts, concatenate_augment
from respirelib.config import AugmentConfig

SR = 4000


def labelled_cycles(counts, rng):
    """Cycles whose first sample encodes their index, so provenance can be checked."""
    labels = np.repeat(np.arange(4), counts)
    cycles = [np.r_[float(i), rng.standard_normal(int(rng.integers(5, 20)))] for i in range(len(labels))]
    return cycles, labels


# ---- concatenation-based augmentation -------------------------------------------------

@pytest.mark.parametrize("scheme", ["paper", "reference"])
def test_concatenation_brings_every_class_up_to_normal(scheme):
    rng = np.random.default_rng(0)
    cycles, labels = labelled_cycles([40, 25, 12, 5], rng)
    new_cycles, new_labels, provenance = concatenate_augment(cycles, labels, scheme=scheme,
                                                             rng=np.random.default_rng(1))
    after = np.bincount(np.r_[labels, new_labels], minlength=4)
    np.testing.assert_array_equal(after, [40, 40, 40, 40])
    assert len(new_cycles) == len(new_labels) == len(provenance)
    for sample, (i, j) in zip(new_cycles, provenance):
        np.testing.assert_array_equal(sample, np.concatenate([cycles[i], cycles[j]]))


def test_scale_grows_normal_too_and_counts_are_documented():
    labels = np.repeat(np.arange(4), [10, 4, 12, 0])
    np.testing.assert_array_equal(augmentation_counts(labels, scale=1), [0, 6, 0, 0])
    np.testing.assert_array_equal(augmentation_counts(labels, scale=2), [10, 16, 8, 0])


def test_paper_scheme_joins_two_different_cycles_of_the_same_class():
    rng = np.random.default_rng(2)
    cycles, labels = labelled_cycles([50, 3, 10, 1], rng)
    _, new_labels, provenance = concatenate_augment(cycles, labels, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(labels[provenance[:, 0]], new_labels)
    np.testing.assert_array_equal(labels[provenance[:, 1]], new_labels)
    several = np.isin(new_labels, [1, 2])
    assert np.all(provenance[several, 0] != provenance[several, 1])
    single = new_labels == 3  # one 'both' cycle: it can only be joined with itself
    assert np.all(provenance[single, 0] == provenance[single, 1])


def test_reference_scheme_follows_its_mixing_recipes():
    rng = np.random.default_rng(4)
    cycles, labels = labelled_cycles([3000, 30, 30, 30], rng)
    _, new_labels, provenance = concatenate_augment(cycles, labels, scheme="reference",
                                                    rng=np.random.default_rng(5))
    pairs = labels[provenance]
    for label in (1, 2, 3):  # normal gets no new samples at scale 1
        rows = pairs[new_labels == label]
        assert len(rows) == 2970
        recipes = REFERENCE_RECIPES[label]
        for first, second, probability in recipes:
            share = np.mean((rows[:, 0] == first) & (rows[:, 1] == second))
            assert share == pytest.approx(probability, abs=0.035), (label, first, second)


def test_concatenation_is_seeded_and_skips_empty_classes():
    rng = np.random.default_rng(6)
    cycles, labels = labelled_cycles([20, 5, 0, 2], rng)
    a = concatenate_augment(cycles, labels, scheme="reference", rng=np.random.default_rng(7))
    b = concatenate_augment(cycles, labels, scheme="reference", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a[2], b[2])
    assert 2 not in a[1]
    # 'both' cannot use C+W or W+C without wheezes; the other recipes fill its 18 samples.
    assert np.sum(a[1] == 3) == 18
    with pytest.raises(ValueError, match="scheme"):
        concatenate_augment(cycles, labels, scheme="mixup", rng=rng)


# ---- waveform augmentations ------------------------------------------------------------

@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(2 * SR) / SR
    tones = torch.stack([torch.sin(2 * math.pi * f * t) for f in (200.0, 300.0, 450.0, 600.0)])
    return 0.5 * tones + 0.05 * torch.randn(tones.shape, generator=g)


def peak_frequency(wave: torch.Tensor) -> torch.Tensor:
    spectrum = torch.fft.rfft(wave * torch.hann_window(wave.shape[-1]), dim=-1).abs()
    return spectrum.argmax(dim=-1) * SR / wave.shape[-1]


def test_augment_batch_keeps_shape_and_row_order_and_is_seeded(batch):
    config = AugmentConfig(p_waveform=1.0, noise_weight=0, speed_weight=0, pitch_weight=0, p_shift=0)
    out = augment_batch(batch, sr=SR, config=config, generator=torch.Generator().manual_seed(1))
    ratio = out / batch  # loudness only: each row is its own input times a gain
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-5)
    full = AugmentConfig(p_waveform=1.0, p_shift=1.0)
    a = augment_batch(batch, sr=SR, config=full, generator=torch.Generator().manual_seed(2))
    b = augment_batch(batch, sr=SR, config=full, generator=torch.Generator().manual_seed(2))
    c = augment_batch(batch, sr=SR, config=full, generator=torch.Generator().manual_seed(3))
    assert a.shape == batch.shape and a.dtype == batch.dtype
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augment_batch_with_zero_probabilities_is_identity(batch):
    config = AugmentConfig(p_waveform=0.0, p_shift=0.0)
    out = augment_batch(batch, sr=SR, config=config, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, batch)
    assert out is not batch


def test_augment_batch_applies_about_p_waveform_of_the_time():
    wave = torch.randn(400, 256, generator=torch.Generator().manual_seed(4))
    config = AugmentConfig(p_waveform=0.3, p_shift=0.0)
    out = augment_batch(wave, sr=SR, config=config, generator=torch.Generator().manual_seed(5))
    changed = (out != wave).any(dim=1).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.07)


def test_circular_shift_matches_roll(batch):
    shifts = torch.tensor([0, 5, -7, 9000])
    out = circular_shift(batch, shift=shifts)
    for row, s in enumerate(shifts.tolist()):
        assert torch.equal(out[row], torch.roll(batch[row], s))


def test_speed_change_scales_frequency_and_keeps_length(batch):
    assert torch.allclose(change_speed(batch, factor=1.0), batch)
    out = change_speed(batch, factor=torch.tensor([1.25, 0.8, 1.0, 1.1]))
    assert out.shape == batch.shape
    expected = torch.tensor([250.0, 240.0, 450.0, 660.0])
    assert torch.allclose(peak_frequency(out), expected, atol=2.0)


def test_pitch_shift_moves_tones_and_keeps_duration(batch):
    out = pitch_shift(batch, semitones=torch.tensor([12.0, 0.0, -12.0, 3.0]), n_fft=256, hop_length=64)
    assert out.shape == batch.shape
    expected = torch.tensor([400.0, 300.0, 225.0, 600.0 * 2 ** 0.25])
    assert torch.allclose(peak_frequency(out), expected, atol=4.0)
    same = pitch_shift(batch, semitones=0.0, n_fft=256, hop_length=64)
    assert torch.allclose(same, batch, atol=5e-4)  # float32 round-off; exact in float64


def test_noise_hits_the_requested_snr_and_loudness_scales(batch):
    g = torch.Generator().manual_seed(6)
    snr = torch.tensor([10.0, 20.0, 30.0, 0.0])
    noisy = add_noise(batch, snr_db=snr, generator=g)
    measured = 10 * torch.log10(batch.pow(2).mean(1) / (noisy - batch).pow(2).mean(1))
    assert torch.allclose(measured, snr, atol=0.5)
    assert torch.allclose(change_loudness(batch, gain=torch.tensor([2.0, 0.5, 1.0, 1.5])),
                          batch * torch.tensor([[2.0], [0.5], [1.0], [1.5]]))


# ---- sampler ---------------------------------------------------------------------------

def test_class_balanced_sampler_draws_classes_uniformly_and_is_seeded():
    labels = np.repeat(np.arange(4), [700, 200, 80, 20])
    sampler = class_balanced_sampler(labels, num_samples=20000, seed=0)
    drawn = np.fromiter(iter(sampler), dtype=np.int64)
    assert len(drawn) == 20000
    shares = np.bincount(labels[drawn], minlength=4) / len(drawn)
    np.testing.assert_allclose(shares, 0.25, atol=0.015)
    again = np.fromiter(iter(class_balanced_sampler(labels, num_samples=20000, seed=0)), dtype=np.int64)
    np.testing.assert_array_equal(drawn, again)
    assert len(class_balanced_sampler(labels, seed=1)) == len(labels)
