"""Rows of Table I compared paired (same seeds, same test patients), in words; Table I compact, the paper beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from respirelib.experiments import tables
from respirelib.training.metrics import format_signed

N_PATIENTS, PER_PATIENT = 30, 8


def _predictions(path, correct_per_patient, *, shuffle_rows: bool = False):
    """A predictions CSV: every patient has labels 0,1,2,3,0,1,2,3; right on its first ``k`` cycles."""
    labels = np.tile(np.arange(PER_PATIENT) % 4, N_PATIENTS)
    within = np.tile(np.arange(PER_PATIENT), N_PATIENTS)
    right = within < np.repeat(np.asarray(correct_per_patient), PER_PATIENT)
    table = pd.DataFrame({"cycle_row": np.arange(labels.size) + (1 if shuffle_rows else 0), "label_id": labels,
                          "pred": np.where(right, labels, (labels + 1) % 4),
                          "patient": np.repeat(np.arange(100, 100 + N_PATIENTS), PER_PATIENT)})
    table.to_csv(path, index=False)
    return str(path)


def _metrics(tmp_path, rows: dict) -> pd.DataFrame:
    """collect_metrics-like rows: ``rows`` maps a row name to one correct-count array per seed."""
    records = []
    for name, seeds in rows.items():
        for seed, correct in enumerate(seeds):
            records.append({"split": "official", "fold": 0, "seed": seed, "row": name,
                            "predictions": _predictions(tmp_path / f"{name}-{seed}.csv", correct)})
    return pd.DataFrame(records)


def test_a_row_better_for_every_patient_and_seed_is_said_to_exceed_the_noise(tmp_path):
    hard = np.random.default_rng(0).integers(1, 7, size=N_PATIENTS)
    table = tables.compare_rows(_metrics(tmp_path, {"+CBA+BRC": [hard + 1, hard + 1, hard], "CNN": [hard, hard, hard - 1]}))
    assert list(table["compared"]) == ["+CBA+BRC − CNN"]  # the paper's order, whatever order the runs came in
    row = table.iloc[0]
    assert row["exceeds the noise"] == "yes" and row["mean (points)"] > 0
    assert len(row["per seed (points)"].split(", ")) == 3
    assert "exceeds the noise" in row["in words"] and "seed 0 +" in row["in words"]
    assert "paired interval over test patients" in row["in words"]
    assert f"= {format_signed(row['mean (points)'])} points" in row["in words"]  # the table and the sentence agree


def test_identical_rows_and_one_seed_are_within_the_noise(tmp_path):
    hard = np.random.default_rng(1).integers(1, 7, size=N_PATIENTS)
    same = tables.compare_rows(_metrics(tmp_path, {"CNN": [hard, hard + 1], "+CBA+BRC": [hard, hard + 1]})).iloc[0]
    assert same["exceeds the noise"] == "no" and same["mean (points)"] == 0
    assert "no difference: both rows give the same predictions in all 2 seeds" in same["in words"]
    one = tables.compare_rows(_metrics(tmp_path, {"CNN": [hard], "+CBA+BRC": [hard + 1]})).iloc[0]
    assert one["exceeds the noise"] == "no" and "one seed only" in one["in words"]


def test_rows_scored_on_different_cycles_are_refused(tmp_path):
    hard = np.full(N_PATIENTS, 3)
    metrics = _metrics(tmp_path, {"CNN": [hard], "+CBA+BRC": [hard]})
    _predictions(metrics.loc[1, "predictions"], hard, shuffle_rows=True)
    with pytest.raises(ValueError, match="different test cycles"):
        tables.compare_rows(metrics)


def test_table_one_is_compact_and_never_subtracts_the_paper():
    summary = pd.DataFrame({"4-class sp mean": [70.0], "4-class sp std": [2.0], "4-class se mean": [52.0],
                            "4-class se std": [12.1], "4-class score mean": [61.0], "4-class score std": [5.0],
                            "4-class score ci": [[58.1, 63.9]], "n seeds": [3], "n folds": [1]},
                           index=pd.MultiIndex.from_tuples([("official", "+CBA+BRC")]))
    table = tables.side_by_side(summary, {("official", "4-class", "+CBA+BRC"): (72.9, 38.3, 55.6)})
    row = table.iloc[0]
    assert not [c for c in table.columns if "gap" in c]
    assert row["se ours"] == "52.0 ± 12.1" and row[tables.INTERVAL_COLUMN] == "[58.1, 63.9]"
    assert (row["sp paper"], row["se paper"], row["score paper"]) == (72.9, 38.3, 55.6)
    assert all("[" not in str(row[f"{m} ours"]) for m in ("sp", "se", "score"))
    assert "test patients" in tables.INTERVAL_COLUMN and "not how much training" in tables.INTERVAL_NOTE
    assert all("real ICBHI" in tables.TABLE_ONE_HEADERS[f"{m} paper"] for m in ("sp", "se", "score"))


def test_the_optimism_table_is_said_in_words_from_its_own_cells():
    rows = [(name, "1 (seed0)", "71.0 [60.0, 80.0]", "54.2 [40.0, 66.0]", "62.6 [55.0, 70.0]")
            for name, _ in tables.OPTIMISM_ROWS]
    rows[3] = (tables.OPTIMISM_ROWS[3][0], "1 (seed0)", "91.3 [85.0, 96.0]", "57.1 [45.0, 69.0]", "74.2 [68.0, 80.0]")
    rows += [("ours, mean ± std over seeds", "3", "70.0 ± 2.0 [60.0, 80.0]", "50.0 ± 3.0 [40.0, 60.0]",
              "60.0 ± 1.5 [55.0, 65.0]"),
             ("ours, the best single seed", "1 of 3 (seed2)", "72.0 [60.0, 80.0]", "55.0 [40.0, 66.0]",
              "63.5 [55.0, 70.0]")]
    table = pd.DataFrame(rows, columns=["measured as", "runs", "sp", "se", "score"])
    words = tables.optimism_in_words(table)
    assert words.startswith("The same trained models, measured 6 ways.")
    assert "test labels moves Sp 71.0 → 91.3 %, Se 54.2 → 57.1 %, Score 62.6 → 74.2 % in seed0" in words
    assert "on the test set changes nothing in seed0" in words
    assert "Score of 63.5 against a mean of 60.0 over 3 seeds" in words


def test_devices_are_compared_on_their_own_test_cycles(tmp_path):
    """Fine-tuning that helps every patient of one device, and leaves the other's predictions untouched: the
    first device's change exceeds the noise, the second's is exactly 0 and within it."""
    hard = np.random.default_rng(2).integers(1, 7, size=N_PATIENTS)
    metrics = _metrics(tmp_path, {"+CBA+BRC": [hard, hard, hard], "+FT": [hard + 1, hard + 1, hard + 1]})
    devices = np.where(np.repeat(np.arange(N_PATIENTS), PER_PATIENT) < N_PATIENTS // 2, "Litt3200", "Meditron")
    for _, run in metrics.iterrows():
        table = pd.read_csv(run["predictions"]).assign(device=devices)
        if run["row"] == "+FT":  # Meditron keeps its stage-1 predictions
            stage1 = pd.read_csv(metrics.loc[(metrics["row"] == "+CBA+BRC") & (metrics["seed"] == run["seed"]),
                                             "predictions"].iloc[0])
            table.loc[devices == "Meditron", "pred"] = stage1.loc[devices == "Meditron", "pred"]
        table.to_csv(run["predictions"], index=False)
    compared = tables.compare_devices(metrics).set_index("device")
    assert list(compared.index) == ["Meditron", "Litt3200"]  # the project's device order; no AKGC417L cycles
    assert compared.loc["Litt3200", "exceeds the noise"] == "yes" and compared.loc["Litt3200", "mean (points)"] > 0
    assert compared.loc["Meditron", "exceeds the noise"] == "no" and compared.loc["Meditron", "mean (points)"] == 0
    assert compared.loc["Litt3200", "in words"].startswith("official, Litt3200, 4-class Score: +FT − +CBA+BRC")


def test_weak_recalls_are_named_run_by_run():
    recalls = pd.DataFrame([
        {"split": "official", "row": "CNN", "seed": 0, "normal recall (%)": 80.0, "crackle recall (%)": 44.0,
         "wheeze recall (%)": 40.0, "both recall (%)": 31.0, "4-class Score (%)": 60.0},
        {"split": "official", "row": "+CBA+BRC", "seed": 1, "normal recall (%)": 83.0, "crackle recall (%)": 2.2,
         "wheeze recall (%)": 50.0, "both recall (%)": 26.8, "4-class Score (%)": 52.0}])
    words = tables.weak_recalls_in_words(recalls)
    assert words.startswith("1 of the 2 runs recall some class below 30 %")
    assert "+CBA+BRC seed 1 (official: crackle 2.2 %, both 26.8 %)" in words and "CNN seed 0" not in words
    assert tables.weak_recalls_in_words(recalls.iloc[:1]).startswith("Every one of the 1 runs recalls every class")



def test_seeds_that_disagree_are_within_the_noise(tmp_path):
    hard = np.random.default_rng(3).integers(2, 6, size=N_PATIENTS)
    mixed = tables.compare_rows(_metrics(tmp_path, {"CNN": [hard, hard], "+CBA+BRC": [hard + 1, hard - 1]})).iloc[0]
    assert mixed["exceeds the noise"] == "no"
    assert "within the noise" in mixed["in words"] and "not every seed moves the same way" in mixed["in words"]


def test_a_sentence_shows_which_side_of_zero_a_small_bound_lies():
    # Seeds disagree in sign, so the verdict is "within the noise" although the interval excludes 0: the printed
    # bound must show it does (+0.02, not +0.0), and a zero difference prints unsigned.
    entry = {"mean": 0.016, "ci": [0.0002, 0.039], "per_pair": [-0.053, 0.0, 0.124]}
    sentence = tables._in_words("official", "CNN", "+CBA+BRC", "4-class", entry, ["seed 0", "seed 1", "seed 2"])
    assert "[+0.02, +3.9]" in sentence and "= +1.6 points" in sentence and "seed 1 0.0," in sentence
    assert "the interval includes 0" not in sentence and "not every seed moves the same way" in sentence


def test_the_closing_paragraph_lists_each_comparison_and_says_when_one_is_undefined():
    comparisons = pd.DataFrame([
        {"split": "official", "compared": "+CBA+BRC − CNN", "per seed (points)": "+1.0, +2.0", "mean (points)": 1.5,
         "95% paired interval (points)": "[+0.02, +3.1]", "exceeds the noise": "yes", "in words": ""},
        {"split": "official", "compared": "+FT − CNN", "per seed (points)": "–, –", "mean (points)": None,
         "95% paired interval (points)": "–", "exceeds the noise": "no", "in words": ""}])
    text = tables.comparisons_in_words(comparisons)
    assert "1 of the 2 paired 4-class Score comparisons exceed the noise" in text
    assert "+CBA+BRC − CNN (official, +1.5 points, paired interval [+0.02, +3.1])" in text
    assert "+FT − CNN (official, undefined)" in text and "nan" not in text
