"""Counting the test inputs that label-aware smart padding would change."""

from __future__ import annotations

import pandas as pd

from respirelib.signal.leakage import padding_differences, padding_leak_summary


def _table(labels, durations, split="test"):
    starts = pd.Series(durations).cumsum().shift(fill_value=0.0)
    return pd.DataFrame({"recording": "r", "cycle_index": range(len(labels)), "start": starts,
                         "end": starts + pd.Series(durations), "label_id": labels, "split": split})


def test_a_normal_cycle_beside_a_wheeze_gets_another_input():
    # normal, wheeze, normal, crackle; all 2 s, input 5 s. The normal cycles refuse their abnormal
    # neighbours (label-free padding takes them); the abnormal ones may borrow normal neighbours anyway.
    table = padding_differences(_table([0, 2, 0, 1], [2.0] * 4), duration=5.0)
    assert list(table["differs"]) == [True, False, True, False]
    assert list(table["refused_abnormal"]) == [True, False, True, False]
    same = padding_differences(_table([0, 0, 0, 0], [2.0] * 4), duration=5.0)
    assert not same["differs"].any()
    long_only = padding_differences(_table([0, 2], [6.0, 6.0]), duration=5.0)
    assert long_only.empty


def test_summary_counts():
    summary = padding_leak_summary(_table([0, 2, 0, 0], [2.0] * 4), duration=5.0)
    assert summary["n_short"] == 4 and summary["n_differs"] == 2
    assert summary["n_short_normal"] == 3 and summary["n_normal_refused_abnormal"] == 2
    assert summary["share_normal_refused_abnormal"] == 2 / 3


def test_on_the_real_annotation_files(shared_annotations):
    from respirelib.data.icbhi import load_icbhi

    cycles = load_icbhi(shared_annotations, audio="ignore").cycles
    summary = padding_leak_summary(cycles, part="test")
    assert summary["n_cycles"] == 2756
    assert summary["n_short"] == int((cycles.loc[cycles["split"] == "test", "duration"] < 7.0).sum())
    # About one short test cycle in six would get another input from its labels.
    assert 0.12 < summary["share_differs"] < 0.25
    assert 0.12 < summary["share_normal_refused_abnormal"] < 0.25
    # Exactly, at the paper's 7 s inputs, as the README and notebook 02 state it (whatever a profile uses).
    at_7s = padding_leak_summary(cycles, part="test", duration=7.0)
    assert (at_7s["n_differs"], at_7s["n_short"]) == (464, 2749)
    assert (at_7s["n_normal_refused_abnormal"], at_7s["n_short_normal"]) == (289, 1578)


def test_the_shipped_record_is_the_real_annotations_count(shared_annotations):
    """results/padding_leak_icbhi.json (tools/padding_leak_record.py), which notebook 02 shows to a reader
    without ICBHI, equals the count recomputed from the real annotation files at each recorded length."""
    import json

    from respirelib.data.icbhi import load_icbhi
    from respirelib.training.profiles import get_profile
    from tests.conftest import REPO_ROOT

    record = json.loads((REPO_ROOT / "results" / "padding_leak_icbhi.json").read_text())
    cycles = load_icbhi(shared_annotations, audio="ignore").cycles
    assert record["cycles"] == len(cycles) and record["tool"] == "tools/padding_leak_record.py" and record["commit"]
    audio = get_profile("paper").audio
    assert {"3", "7"} <= set(record["by_duration"])
    for seconds, recorded in record["by_duration"].items():
        assert recorded == padding_leak_summary(cycles, part="test", sr=audio.sample_rate, duration=float(seconds),
                                                reach=audio.smart_reach), seconds


def test_the_padding_example_is_one_whose_smart_and_context_inputs_differ():
    """Notebook 02's example: smart padding borrows a neighbour, and its input is not the context one."""
    from respirelib.signal.leakage import padding_example

    # Recording a: a wheeze before a normal cycle (smart and context padding agree). Recording b: a crackle
    # between a wheeze (which smart padding refuses) and a normal cycle (which it takes). All short, all 44.1 kHz.
    a = _table([2, 0], [1.0, 1.0]).assign(recording="a")
    b = _table([2, 1, 0], [1.0, 1.0, 1.0]).assign(recording="b")
    cycles = pd.concat([a, b], ignore_index=True).assign(duration=lambda t: t["end"] - t["start"])
    rates = pd.Series({"a": 44100, "b": 44100})
    for seed in range(6):
        chosen = padding_example(cycles, rates, duration=7.0, seed=seed)
        assert (chosen["recording"], chosen["cycle_index"]) == ("b", 1), seed
    differs = padding_differences(cycles, duration=7.0)
    assert differs.loc[(differs["recording"] == "b") & (differs["cycle_index"] == 1), "differs"].all()


def test_the_leak_in_words_counts_and_says_when_there_is_nothing_to_count():
    from respirelib.signal.leakage import padding_leak_in_words

    leak = padding_leak_summary(_table([0, 2, 0, 1], [2.0] * 4), part="test", duration=5.0)
    words = padding_leak_in_words(leak, source="these annotations")
    assert f"**{leak['n_differs']} of 4 short test cycles ({leak['share_differs']:.1%})**" in words
    # A part whose cycles are all longer than the input (as on a few real recordings): nothing to share out.
    none = padding_leak_summary(_table([0, 2], [9.0, 9.0]), part="test", duration=5.0)
    assert none["share_differs"] is None
    assert "no short test cycles (0 of 0)" in padding_leak_in_words(none, source="x")
