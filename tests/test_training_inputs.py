"""Concatenated training samples are padded the way the original cycles are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from respirelib.config import AudioConfig, AugmentConfig
from respirelib.signal.cache import CycleCache
from respirelib.signal.samples import training_set

SR = 4000


def _cache(rng) -> CycleCache:
    """Two recordings of short cycles: one normal-heavy, one with crackles (labels 0/1)."""
    lengths = [3000, 2000, 2500, 1800, 2200, 2600, 1900, 2100]
    labels = [0, 1, 0, 0, 1, 0, 1, 0]
    recordings = ["r1"] * 4 + ["r2"] * 4
    waves = [rng.normal(size=n).astype(np.float32) for n in lengths]
    cycles = pd.DataFrame({"recording": recordings, "cycle_index": [0, 1, 2, 3] * 2, "label_id": labels,
                           "device": ["Meditron"] * 8})
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return CycleCache(np.concatenate(waves), offsets, cycles, SR, Path("memory"))


def _contains(haystack: np.ndarray, needle: np.ndarray) -> bool:
    return any(np.array_equal(haystack[i:i + len(needle)], needle) for i in range(len(haystack) - len(needle) + 1))


def _concatenations(cache, padding, reach=1):
    audio = AudioConfig(padding=padding, cycle_duration=4.0, smart_reach=reach)
    samples = training_set(cache, np.arange(len(cache)), audio=audio, augment=AugmentConfig(), seed=0)
    new = samples.cycle_rows == -1
    assert new.sum() > 0  # crackles (3) are brought up to the normal count (5)
    return samples.waves[torch.as_tensor(new)].numpy()


@pytest.mark.parametrize("padding", ["context", "smart"])
def test_concatenations_borrow_their_recordings_neighbours_like_the_originals(rng, padding):
    cache = _cache(rng)
    cycles = [cache.cycle(i) for i in range(len(cache))]
    for wave in _concatenations(cache, padding):
        # Find the two crackle cycles it joins (crackles are rows 1, 4 and 6).
        parts = [i for i in (1, 4, 6) if _contains(wave, cycles[i])]
        assert len(parts) >= 2 or _contains(wave, np.concatenate([cycles[1], cycles[1]]))
        # At least one neighbour of its parts, in the recording, lent audio: no input is pure repeats.
        neighbours = {0, 2, 3, 5, 7}
        borrowed = [j for j in neighbours if _contains(wave, cycles[j][:200]) or _contains(wave, cycles[j][-200:])]
        assert borrowed, "a concatenation shorter than the input carries no neighbour's audio"


def test_concatenation_neighbours_follow_the_context_chain(rng):
    cache = _cache(rng)
    cycles = [cache.cycle(i) for i in range(len(cache))]
    n = 4 * SR
    seen = 0
    concatenations = _concatenations(cache, "context")
    for wave in concatenations:
        for first in (1, 4, 6):
            for second in (1, 4, 6):
                if first == second:
                    continue
                joined = np.concatenate([cycles[first], cycles[second]])
                # Context order: the cycle after `second` first, then the one before `first`.
                after = cycles[second + 1] if second + 1 < 8 and second != 3 else np.zeros(0, np.float32)
                need = n - len(joined)
                take_after = min(len(after), need)
                before = cycles[first - 1] if first not in (0, 4) else np.zeros(0, np.float32)
                take_before = min(len(before), need - take_after)
                # Whatever is still missing is copies of the concatenation, as for an original cycle.
                expected = np.concatenate([before[len(before) - take_before:], joined, after[:take_after]])
                if np.array_equal(wave[:len(expected)], expected) and np.array_equal(
                        wave[len(expected):], np.resize(joined, n - len(expected))):
                    seen += 1
    assert seen == len(concatenations)


def test_label_free_repeat_padding_of_concatenations_repeats_them(rng):
    cache = _cache(rng)
    cycles = [cache.cycle(i) for i in range(len(cache))]
    for wave in _concatenations(cache, "repeat"):
        first = next(i for i in (1, 4, 6) if np.array_equal(wave[:len(cycles[i])], cycles[i]))
        assert first in (1, 4, 6)
        assert not any(_contains(wave, cycles[j][:200]) for j in (0, 2, 3, 5, 7))
