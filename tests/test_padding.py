"""Fixed-length inputs: padding methods, smart padding's neighbours, windows of long cycles."""

from __future__ import annotations

import numpy as np
import pytest

from respirelib.config import NORMAL, PADDING_METHODS
from respirelib.signal.padding import (fixed_length_windows, pad_cycle, pad_to_length,
                                window_starts)

SR = 100  # a low rate keeps every array tiny; the code is rate-agnostic


def constant_cycles(lengths):
    """Cycle i is filled with the value i + 1, so every output sample names its source."""
    return [np.full(n, i + 1, dtype=np.float32) for i, n in enumerate(lengths)]


def contains_run(haystack: np.ndarray, needle: np.ndarray) -> bool:
    windows = np.lib.stride_tricks.sliding_window_view(haystack, len(needle))
    return bool(np.any(np.all(windows == needle, axis=1)))


@pytest.mark.parametrize("method", PADDING_METHODS)
@pytest.mark.parametrize("duration", [1.0, 3.0, 7.0, 9.0])
def test_every_method_gives_the_target_length_and_keeps_the_cycle_whole(method, duration):
    rng = np.random.default_rng(1)
    cycles = [rng.standard_normal(n).astype(np.float32) for n in (120, 70, 90)]
    y = pad_cycle(cycles, [0, 1, 1], 1, sr=SR, duration=duration, method=method)
    assert y.shape == (int(duration * SR),)
    assert y.dtype == np.float32
    expected = cycles[1] if len(cycles[1]) <= len(y) else cycles[1][:len(y)]
    assert contains_run(y, expected)


def allowed_neighbours(labels, index):
    return {j for j in (index - 1, index + 1)
            if 0 <= j < len(labels) and labels[j] in (labels[index], NORMAL)}


def test_smart_padding_uses_only_allowed_neighbours():
    rng = np.random.default_rng(2)
    for _ in range(40):
        n_cycles = int(rng.integers(1, 7))
        lengths = rng.integers(20, 260, size=n_cycles)
        labels = rng.integers(0, 4, size=n_cycles)
        cycles = constant_cycles(lengths)
        for index in range(n_cycles):
            y, sources = pad_cycle(cycles, labels, index, sr=SR, duration=7.0, return_sources=True)
            used = set(np.unique(y).astype(int) - 1)
            assert used <= allowed_neighbours(labels, index) | {index}
            np.testing.assert_array_equal(sources, y.astype(int) - 1)


def test_smart_padding_prefers_following_then_preceding_then_repeats():
    cycles = constant_cycles([100, 200, 150, 100])
    y = pad_cycle(cycles, [0, 1, 0, 2], 1, sr=SR, duration=7.0)
    # Cycle 1 (crackle): after it cycle 2 (normal, allowed), before it cycle 0 (normal).
    expected = np.concatenate([np.full(100, 1), np.full(200, 2), np.full(150, 3), np.full(250, 2)])
    np.testing.assert_array_equal(y, expected)


def test_smart_padding_takes_adjacent_parts_of_long_neighbours():
    rng = np.random.default_rng(3)
    cycles = [rng.standard_normal(n) for n in (600, 300, 600)]
    y = pad_cycle(cycles, [0, 0, 0], 1, sr=SR, duration=7.0)
    np.testing.assert_array_equal(y[:300], cycles[1])
    np.testing.assert_array_equal(y[300:], cycles[2][:400])  # the start of the next cycle


def test_smart_padding_repeats_when_no_neighbour_is_allowed():
    cycles = constant_cycles([300, 200, 300])
    y = pad_cycle(cycles, [1, 2, 3], 1, sr=SR, duration=7.0)
    np.testing.assert_array_equal(y, np.full(700, 2))


def test_smart_padding_reach_uses_contiguous_neighbours_only():
    cycles = constant_cycles([50, 50, 100, 50, 50])
    labels = [0, 2, 1, 0, 0]
    y, sources = pad_cycle(cycles, labels, 2, sr=SR, duration=4.0, reach=2, return_sources=True)
    # Following: 3 and 4 (normal). Preceding: 1 is a wheeze, so 0 is out of reach too.
    assert set(np.unique(sources)) == {2, 3, 4}
    np.testing.assert_array_equal(sources[:200], np.repeat([2, 3, 4], [100, 50, 50]))


def test_repeat_padding_is_deterministic_without_rng_and_seeded_with_one():
    cycles = [np.arange(1, 151, dtype=np.float32)]
    plain = [pad_cycle(cycles, [0], 0, sr=SR, duration=7.0, method="repeat") for _ in range(2)]
    np.testing.assert_array_equal(plain[0], plain[1])
    np.testing.assert_array_equal(plain[0][:150], cycles[0])  # cycle first without rng
    draws = [pad_cycle(cycles, [0], 0, sr=SR, duration=7.0, method="repeat", rng=np.random.default_rng(s))
             for s in range(20)]
    again = [pad_cycle(cycles, [0], 0, sr=SR, duration=7.0, method="repeat", rng=np.random.default_rng(s))
             for s in range(20)]
    for a, b in zip(draws, again):
        np.testing.assert_array_equal(a, b)
    ends_with_cycle = [np.array_equal(d[-150:], cycles[0]) for d in draws]
    assert any(ends_with_cycle) and not all(ends_with_cycle)
    tiled = np.tile(cycles[0], 5)  # 750 samples
    for d, at_end in zip(draws, ends_with_cycle):  # either way the cycle repeats periodically
        np.testing.assert_array_equal(d, tiled[-700:] if at_end else tiled[:700])


def test_zero_and_reflect_padding():
    cycle = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    zero = pad_to_length(cycle, sr=1, duration=7, method="zero")
    np.testing.assert_array_equal(zero, [1, 2, 3, 4, 0, 0, 0])
    reflect = pad_to_length(cycle, sr=1, duration=7, method="reflect")
    np.testing.assert_array_equal(reflect, [1, 2, 3, 4, 3, 2, 1])
    np.testing.assert_array_equal(pad_to_length(cycle[:1], sr=1, duration=3, method="reflect"), [1, 1, 1])


def test_pad_cycle_rejects_bad_arguments():
    cycles = constant_cycles([10, 0])
    with pytest.raises(ValueError, match="method"):
        pad_cycle(cycles, [0, 0], 0, sr=SR, method="mirror")
    with pytest.raises(ValueError, match="empty"):
        pad_cycle(cycles, [0, 0], 1, sr=SR)
    with pytest.raises(ValueError, match="labels"):
        pad_cycle(cycles, [0], 0, sr=SR)


def test_window_starts_cover_the_cycle_with_half_length_hop():
    np.testing.assert_array_equal(window_starts(500, n_target=700, hop=350), [0])
    np.testing.assert_array_equal(window_starts(1400, n_target=700, hop=350), [0, 350, 700])
    np.testing.assert_array_equal(window_starts(1500, n_target=700, hop=350), [0, 350, 700, 800])


def test_fixed_length_windows_label_each_window_with_its_cycle():
    rng = np.random.default_rng(4)
    lengths = [300, 1500, 100, 700]
    cycles = [rng.standard_normal(n).astype(np.float32) for n in lengths]
    labels = np.array([0, 1, 2, 3])
    windows, cycle_index = fixed_length_windows(cycles, labels, sr=SR, duration=7.0)
    np.testing.assert_array_equal(cycle_index, [0, 1, 1, 1, 1, 2, 3])
    assert windows.shape == (7, 700) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[1], cycles[1][:700])
    np.testing.assert_array_equal(windows[4], cycles[1][-700:])
    np.testing.assert_array_equal(windows[6], cycles[3])
    np.testing.assert_array_equal(labels[cycle_index], [0, 1, 1, 1, 1, 2, 3])
    again, _ = fixed_length_windows(cycles, labels, sr=SR, duration=7.0)
    np.testing.assert_array_equal(windows, again)


def test_fixed_length_windows_of_an_empty_recording():
    windows, cycle_index = fixed_length_windows([], [], sr=SR, duration=2.0)
    assert windows.shape == (0, 200) and cycle_index.shape == (0,)


def test_windows_of_a_cycle_combine_by_mean_and_vote():
    from respirelib.training.metrics import combine_window_predictions

    scores = np.array([[0.1, 0.9, 0, 0], [0.6, 0.4, 0, 0], [0.2, 0.0, 0.8, 0], [0.3, 0.2, 0.5, 0]])
    cycle_index = np.array([0, 0, 1, 1])
    mean = combine_window_predictions(scores, cycle_index, rule="mean")
    np.testing.assert_allclose(mean.scores, [[0.35, 0.65, 0, 0], [0.25, 0.1, 0.65, 0]])
    votes = combine_window_predictions(scores, cycle_index, rule="vote")
    np.testing.assert_array_equal(votes.scores, [[0.5, 0.5, 0, 0], [0, 0, 1, 0]])
    assert votes.pred[0] == 0  # a tie goes to normal, as in the reference


def test_padding_figure_has_one_labelled_row_per_method():
    from respirelib.viz.signal import plot_padding_strategies

    cycles = constant_cycles([150, 200, 100])
    fig = plot_padding_strategies(cycles, [0, 1, 2], 1, sr=SR, duration=5.0)
    assert len(fig.axes) == len(PADDING_METHODS)
    assert fig.axes[-1].get_xlabel() == "Time (s)"
    assert [ax.get_title(loc="left") for ax in fig.axes] == [f"{m} padding" for m in PADDING_METHODS]
