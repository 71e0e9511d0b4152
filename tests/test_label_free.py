"""No label shapes a validation or test input: evaluation padding is label-free."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from respirelib.config import LABEL_AWARE_DIAGNOSTIC, AudioConfig
from respirelib.signal.padding import fixed_length_windows, pad_cycle


def _recording(rng, lengths=(3000, 9000, 2000, 5000)):
    return [rng.normal(size=n).astype(np.float32) for n in lengths]


def test_context_padding_borrows_every_neighbour_and_reads_no_label(rng):
    cycles = _recording(rng)
    y, sources = pad_cycle(cycles, None, 2, sr=4000, duration=7.0, method="context", return_sources=True)
    # Cycle 2 (0.5 s) takes the following cycle, then the preceding one, whatever their classes.
    assert set(np.unique(sources)) == {1, 2, 3}
    smart = pad_cycle(cycles, [0, 1, 2, 0], 2, sr=4000, duration=7.0, method="smart", return_sources=True)[1]
    assert set(np.unique(smart)) == {2, 3}  # the crackle neighbour is refused for a wheeze cycle
    with pytest.raises(ValueError, match="needs labels"):
        pad_cycle(cycles, None, 2, sr=4000, method="smart")


@pytest.mark.parametrize("method", ["context", "repeat", "zero", "reflect"])
def test_label_free_methods_ignore_any_labels_they_are_given(rng, method):
    cycles = _recording(rng)
    a, _ = fixed_length_windows(cycles, [0, 1, 2, 3], sr=4000, duration=2.0, method=method)
    b, _ = fixed_length_windows(cycles, [3, 3, 0, 1], sr=4000, duration=2.0, method=method)
    c, _ = fixed_length_windows(cycles, None, sr=4000, duration=2.0, method=method)
    assert a.tobytes() == b.tobytes() == c.tobytes()


def test_eval_padding_is_checked():
    with pytest.raises(ValueError, match="eval_padding"):
        AudioConfig(eval_padding="smart")
    assert AudioConfig().eval_padding == "context"


@pytest.fixture(scope="module")
def prepared(tiny_synthetic):
    from respirelib.experiments.run import prepare_data
    from respirelib.training.profiles import get_profile

    return prepare_data(tiny_synthetic, get_profile("smoke"), split="official", progress=False)


def _permuted(cache, rows, seed):
    cycles = cache.cycles.copy()
    order = np.random.default_rng(seed).permutation(rows)
    for column in ("label_id", "crackle", "wheeze", "label"):
        if column in cycles:
            cycles.loc[rows, column] = cycles.loc[order, column].to_numpy()
    return dataclasses.replace(cache, cycles=cycles)


@pytest.mark.parametrize("part", ["val", "test"])
def test_permuting_labels_leaves_every_evaluation_input_byte_identical(prepared, part):
    from respirelib.signal.samples import evaluation_set

    audio = AudioConfig(cycle_duration=3.0)
    rows = prepared.rows(part)
    assert len(rows) > 5
    before = evaluation_set(prepared.cache, rows, config=audio)
    changed_labels = 0
    for seed in range(3):
        permuted = _permuted(prepared.cache, rows, seed)
        changed_labels += int((permuted.cycles.loc[rows, "label_id"] != prepared.cache.cycles.loc[rows, "label_id"]).sum())
        after = evaluation_set(permuted, rows, config=audio)
        assert after.waves.numpy().tobytes() == before.waves.numpy().tobytes()
        np.testing.assert_array_equal(after.cycle_rows, before.cycle_rows)
    assert changed_labels > 0
    # The property can fail: the paper's label-aware padding (kept as a named diagnostic) changes inputs.
    diagnostic = [evaluation_set(c, rows, config=audio, padding=LABEL_AWARE_DIAGNOSTIC).waves.numpy().tobytes()
                  for c in (prepared.cache, _permuted(prepared.cache, rows, 0), _permuted(prepared.cache, rows, 1))]
    assert len(set(diagnostic)) > 1


def test_prediction_refuses_the_label_aware_diagnostic():
    from respirelib.signal.samples import label_free_padding

    assert label_free_padding(AudioConfig(eval_padding="zero")) == "zero"
    with pytest.raises(ValueError, match="reads the labels"):
        label_free_padding(AudioConfig(eval_padding=LABEL_AWARE_DIAGNOSTIC))


def test_recording_inputs_locate_each_cycle_in_its_inputs(rng):
    from respirelib.signal.samples import recording_inputs

    cycles = _recording(rng)
    audio = AudioConfig(cycle_duration=2.0)
    inputs = recording_inputs(cycles, sr=4000, config=audio)
    windows, owner = fixed_length_windows(cycles, None, sr=4000, duration=2.0, method="context")
    assert inputs.waves.tobytes() == windows.tobytes() and inputs.owner.tolist() == owner.tolist()
    assert inputs.n_windows.tolist() == [1, 2, 1, 1] and inputs.first.tolist() == [0, 1, 3, 4]
    assert inputs.starts[inputs.owner == 1].tolist() == [0, 1000]  # the last window ends at the cycle's end
    for wave, own, cycle, start in zip(inputs.waves, inputs.own, inputs.owner, inputs.starts):
        own_audio = cycles[cycle][max(start, 0):max(start, 0) + own.sum()]
        assert own.sum() == min(len(cycles[cycle]), audio.n_samples) and wave[own].tobytes() == own_audio.tobytes()
    with pytest.raises(ValueError, match="reads the labels"):
        recording_inputs(cycles, sr=4000, config=AudioConfig(eval_padding=LABEL_AWARE_DIAGNOSTIC))
    with pytest.raises(ValueError, match="at least one sample"):
        recording_inputs(cycles, sr=4000, config=audio, hop_seconds=1e-5)
