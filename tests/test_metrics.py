"""ICBHI metrics on hand-computed cases, window aggregation, multi-seed summaries, plots."""

import json
import math

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest

from respirelib.training.metrics import (
    CLASS_NAMES,
    combine_window_predictions,
    confusion_frame,
    confusion_matrix,
    format_mean_std,
    format_signed,
    icbhi_scores,
    json_safe,
    mean_std,
    per_group_scores,
)
from respirelib.viz.metrics import plot_confusion_matrix, plot_training_curves

# Hand-worked case: 4 normal, 2 crackle, 2 wheeze, 2 both.
Y_TRUE = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]
Y_PRED = [0, 0, 0, 1, 1, 0, 2, 3, 3, 1]
# Pn = 3 of Nn = 4; Pc + Pw + Pb = 1 + 1 + 1 of 6; abnormal predicted abnormal: 5 of 6.
EXPECTED_CM = [[3, 1, 0, 0],
               [1, 1, 0, 0],
               [0, 0, 1, 1],
               [0, 1, 0, 1]]


def test_class_names_order():
    assert CLASS_NAMES == ("normal", "crackle", "wheeze", "both")


def test_confusion_matrix_hand_computed():
    cm = confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, EXPECTED_CM)
    assert cm.dtype == np.int64


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix([0, 4], [0, 0])
    with pytest.raises(ValueError, match="length"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="integer"):
        confusion_matrix([0.5], [0])


def test_icbhi_scores_hand_computed():
    scores = icbhi_scores(Y_TRUE, Y_PRED)
    assert scores["four_class"] == pytest.approx({"sp": 0.75, "se": 0.5, "score": 0.625})
    assert scores["two_class"] == pytest.approx({"sp": 0.75, "se": 5 / 6, "score": (0.75 + 5 / 6) / 2})
    assert scores["accuracy"] == pytest.approx(0.6)
    assert scores["class_recall"] == pytest.approx({"normal": 0.75, "crackle": 0.5, "wheeze": 0.5, "both": 0.5})
    assert (scores["n_cycles"], scores["n_normal"], scores["n_abnormal"]) == (10, 4, 6)


def test_perfect_prediction_scores_one():
    scores = icbhi_scores(Y_TRUE, Y_TRUE)
    for task in ("four_class", "two_class"):
        assert scores[task] == {"sp": 1.0, "se": 1.0, "score": 1.0}


def test_all_normal_prediction_gives_half():
    scores = icbhi_scores(Y_TRUE, np.zeros(len(Y_TRUE), dtype=int))
    assert scores["four_class"] == {"sp": 1.0, "se": 0.0, "score": 0.5}
    assert scores["two_class"] == {"sp": 1.0, "se": 0.0, "score": 0.5}


def test_wrong_abnormal_class_counts_only_in_two_class():
    # Every abnormal cycle predicted as a different abnormal class, every normal as crackle.
    scores = icbhi_scores([0, 1, 2, 3], [1, 2, 3, 1])
    assert scores["four_class"] == {"sp": 0.0, "se": 0.0, "score": 0.0}
    assert scores["two_class"] == {"sp": 0.0, "se": 1.0, "score": 0.5}


def test_no_abnormal_cycles_leaves_se_undefined():
    scores = icbhi_scores([0, 0, 0], [0, 1, 0])
    assert scores["four_class"]["sp"] == pytest.approx(2 / 3)
    assert math.isnan(scores["four_class"]["se"]) and math.isnan(scores["four_class"]["score"])
    assert math.isnan(scores["two_class"]["se"])
    assert scores["n_abnormal"] == 0


def test_empty_input_is_all_undefined():
    scores = icbhi_scores([], [])
    assert scores["n_cycles"] == 0
    assert all(math.isnan(v) for v in scores["four_class"].values())


def test_binary_labels():
    scores = icbhi_scores([0, 0, 1, 1], [0, 1, 1, 1], n_classes=2)
    assert scores["four_class"] == pytest.approx({"sp": 0.5, "se": 1.0, "score": 0.75})
    assert set(scores["class_recall"]) == {"normal", "abnormal"}


def test_per_group_scores_hand_computed():
    groups = ["A", "A", "E", "E", "A", "A", "C", "C", "C", "C"]
    table = per_group_scores(Y_TRUE, Y_PRED, groups, all_groups=["D", "A"])
    assert list(table.index) == ["D", "A", "E", "C"]
    assert table.loc["A", ["n_cycles", "n_normal", "n_abnormal"]].tolist() == [4, 2, 2]
    assert table.loc["A", ["sp", "se", "score", "se_2class"]].tolist() == pytest.approx([1.0, 0.5, 0.75, 0.5])
    assert table.loc["E", "sp"] == pytest.approx(0.5)
    assert np.isnan(table.loc["E", "se"]) and np.isnan(table.loc["E", "score"])
    assert np.isnan(table.loc["C", "sp"])
    assert table.loc["C", ["se", "se_2class"]].tolist() == pytest.approx([0.5, 1.0])
    assert table.loc["D", "n_cycles"] == 0 and np.isnan(table.loc["D", "sp"])
    assert table["note"].to_dict() == {"D": "no cycles", "A": "", "E": "no abnormal cycles",
                                       "C": "no normal cycles"}


def test_per_group_scores_match_scores_of_each_subset(rng):
    y_true = rng.integers(0, 4, 300)
    y_pred = rng.integers(0, 4, 300)
    groups = rng.choice(["AKGC417L", "Meditron", "Litt3200"], 300)
    table = per_group_scores(y_true, y_pred, groups)
    for group, row in table.iterrows():
        mask = groups == group
        expected = icbhi_scores(y_true[mask], y_pred[mask])
        assert row["n_cycles"] == mask.sum()
        assert [row["sp"], row["se"], row["score"]] == pytest.approx(list(expected["four_class"].values()))
        assert row["score_2class"] == pytest.approx(expected["two_class"]["score"])


# Windows of four cycles, interleaved; first appearance order a, b, c, d.
WINDOW_IDS = ["a", "b", "c", "a", "c", "d", "c", "d"]
WINDOW_PROBS = [[0.6, 0.4, 0.0, 0.0],   # a
                [0.2, 0.1, 0.7, 0.0],   # b
                [0.0, 1.0, 0.0, 0.0],   # c
                [0.1, 0.9, 0.0, 0.0],   # a
                [0.0, 0.0, 1.0, 0.0],   # c
                [0.0, 0.6, 0.4, 0.0],   # d
                [0.0, 0.0, 1.0, 0.0],   # c
                [0.0, 0.3, 0.7, 0.0]]   # d


def test_combine_mean_hand_computed():
    cycles = combine_window_predictions(WINDOW_PROBS, WINDOW_IDS, rule="mean")
    assert cycles.cycle_ids.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(cycles.n_windows, [2, 1, 3, 2])
    np.testing.assert_allclose(cycles.scores[0], [0.35, 0.65, 0, 0])
    np.testing.assert_allclose(cycles.scores[2], [0, 1 / 3, 2 / 3, 0])
    np.testing.assert_array_equal(cycles.pred, [1, 2, 2, 2])
    assert cycles.labels is None


def test_combine_vote_ties_go_to_lowest_class():
    cycles = combine_window_predictions(WINDOW_PROBS, WINDOW_IDS, rule="vote")
    # a: normal vs crackle tie -> normal; d: crackle vs wheeze tie -> crackle.
    np.testing.assert_array_equal(cycles.pred, [0, 2, 2, 1])
    np.testing.assert_allclose(cycles.scores[2], [0, 1 / 3, 2 / 3, 0])


def test_combine_vote_matches_reference_bincount(rng):
    probs = rng.random((400, 4))
    ids = rng.integers(0, 60, 400)
    cycles = combine_window_predictions(probs, ids, rule="vote")
    window_pred = probs.argmax(axis=1)
    expected = [np.argmax(np.bincount(window_pred[ids == cycle])) for cycle in cycles.cycle_ids]
    np.testing.assert_array_equal(cycles.pred, expected)


def test_combine_carries_labels_and_rejects_conflicts():
    labels = [1, 2, 0, 1, 0, 3, 0, 3]
    cycles = combine_window_predictions(WINDOW_PROBS, WINDOW_IDS, labels=labels)
    np.testing.assert_array_equal(cycles.labels, [1, 2, 0, 3])
    with pytest.raises(ValueError, match="different labels"):
        combine_window_predictions(WINDOW_PROBS, WINDOW_IDS, labels=[1, 2, 0, 0, 0, 3, 0, 3])
    with pytest.raises(ValueError, match="rule"):
        combine_window_predictions(WINDOW_PROBS, WINDOW_IDS, rule="max")
    with pytest.raises(ValueError, match="cycle ids"):
        combine_window_predictions(WINDOW_PROBS, WINDOW_IDS[:-1])


def test_mean_std_hand_computed():
    runs = [{"four_class": {"score": 0.5, "se": 0.2}, "n_cycles": 10, "note": "x"},
            {"four_class": {"score": 0.7, "se": float("nan")}, "n_cycles": 10},
            {"four_class": {"score": 0.6, "se": 0.4}, "n_cycles": 10}]
    summary = mean_std(runs)
    assert summary["four_class"]["score"]["mean"] == pytest.approx(0.6)
    assert summary["four_class"]["score"]["std"] == pytest.approx(0.1)  # sample std, ddof=1
    assert summary["four_class"]["score"]["n"] == 3
    assert summary["four_class"]["se"] == pytest.approx({"mean": 0.3, "std": np.std([0.2, 0.4], ddof=1), "n": 2})
    assert summary["n_cycles"] == {"mean": 10.0, "std": 0.0, "n": 3}
    assert "note" not in summary


def test_mean_std_of_real_scores_and_single_run():
    runs = [icbhi_scores(Y_TRUE, Y_PRED), icbhi_scores(Y_TRUE, Y_TRUE)]
    summary = mean_std(runs, ddof=0)
    assert summary["four_class"]["score"]["mean"] == pytest.approx((0.625 + 1.0) / 2)
    assert summary["four_class"]["score"]["std"] == pytest.approx(0.1875)
    assert math.isnan(mean_std(runs[:1])["four_class"]["score"]["std"])
    with pytest.raises(ValueError):
        mean_std([])


def test_format_mean_std():
    assert format_mean_std(0.5623, 0.0081) == "56.2 ± 0.8"
    assert format_mean_std(0.5, float("nan")) == "50.0"
    assert format_mean_std(float("nan"), 0.1) == "–"  # one convention for undefined cells, as format_interval
    assert format_mean_std(1.23456, 0.1, percent=False, digits=2) == "1.23 ± 0.10"


def test_format_signed_keeps_the_sign_of_a_difference_that_would_round_to_zero():
    # The verdict "the interval excludes 0" must be readable from the printed bound.
    assert format_signed(1.64) == "+1.6" and format_signed(-5.26) == "-5.3" and format_signed(12.44) == "+12.4"
    assert format_signed(0.023) == "+0.02" and format_signed(-0.0041) == "-0.004"
    assert format_signed(0.0) == "0.0" and format_signed(-0.0) == "0.0"
    assert format_signed(0.5, digits=0) == "+0.5" and format_signed(2.0, digits=2) == "+2.00"


def test_json_safe_replaces_nan():
    scores = icbhi_scores([0, 0], [0, 1])
    text = json.dumps(json_safe(scores), allow_nan=False)
    assert json.loads(text)["four_class"]["se"] is None
    assert json_safe({"a": np.float32(0.5), "b": np.arange(2)}) == {"a": 0.5, "b": [0, 1]}


def test_confusion_frame_labels():
    frame = confusion_frame(confusion_matrix(Y_TRUE, Y_PRED))
    assert frame.loc["true_both", "pred_crackle"] == 1
    assert list(frame.columns) == [f"pred_{name}" for name in CLASS_NAMES]


def test_plot_confusion_matrix_annotates_counts_and_row_percent(tmp_path):
    cm = np.array(EXPECTED_CM)
    cm[3] = 0  # a class with no cycles must not break the plot
    fig = plot_confusion_matrix(cm, class_names=CLASS_NAMES)
    assert isinstance(fig, matplotlib.figure.Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 16
    assert texts[0] == "3\n75.0%" and texts[1] == "1\n25.0%"
    assert texts[12] == "0\n–"
    fig.savefig(tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 0
    counts_fig = plot_confusion_matrix(cm, normalize=None, title="counts")
    assert counts_fig.axes[0].get_title() == "counts"
    with pytest.raises(ValueError):
        plot_confusion_matrix(cm, normalize="all")
    with pytest.raises(ValueError):
        plot_confusion_matrix(cm, class_names=CLASS_NAMES[:3])


def test_plot_training_curves_full_and_partial(tmp_path):
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.2, 0.9, 0.7], "val_loss": [1.3, 1.0, 0.95],
                            "val_score": [0.5, 0.6, 0.58], "val_se": [0.3, 0.4, 0.35], "val_sp": [0.7, 0.8, 0.81]})
    fig = plot_training_curves(history, title="run 0")
    loss_ax, score_ax = fig.axes[:2]
    legend = [text.get_text() for text in loss_ax.get_legend().get_texts()]
    assert legend[0].startswith("training loss") and legend[1].startswith("validation loss")
    assert [t.get_text() for t in score_ax.get_legend().get_texts()] == [
        "validation ICBHI score", "validation sensitivity (Se)", "validation specificity (Sp)"]
    assert not any("_" in text for text in legend)  # words, not column names
    score_lines = [line for line in score_ax.get_lines() if not line.get_label().startswith("_")]
    assert len(score_lines) == 3
    np.testing.assert_allclose(score_lines[0].get_ydata(), [50, 60, 58])
    fig.savefig(tmp_path / "curves.png")

    partial = plot_training_curves(pd.DataFrame({"train_loss": [1.0, 0.8]}))
    loss_ax, score_ax = partial.axes[:2]
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_xdata(), [1, 2])
    assert not score_ax.get_lines()
    assert "no val_score" in score_ax.texts[0].get_text()


# ----------------------------------------------------------------------------- patient-level bootstrap

from respirelib.training.metrics import bootstrap_intervals, format_interval  # noqa: E402


def _noisy_predictions(seed=0, n=600, n_patients=30, accuracy=0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < accuracy, y, rng.integers(0, 4, n))
    return y, pred, rng.integers(0, n_patients, n)


def test_bootstrap_interval_holds_the_estimate_and_is_seeded():
    y, pred, patients = _noisy_predictions()
    first = bootstrap_intervals(y, pred, patients, n_resamples=500, seed=3)
    again = bootstrap_intervals(y, pred, patients, n_resamples=500, seed=3)
    other = bootstrap_intervals(y, pred, patients, n_resamples=500, seed=4)
    assert first == again and first != other
    point = icbhi_scores(y, pred)
    for task in ("four_class", "two_class"):
        for metric in ("sp", "se", "score"):
            entry = first[task][metric]
            assert entry["value"] == pytest.approx(point[task][metric])
            low, high = entry["ci"]
            assert low < entry["value"] < high and high - low > 0.01
    assert first["n_patients"] == 30 and first["n_resamples"] == 500 and "patient" in first["method"]


def test_a_perfect_classifier_has_a_degenerate_interval():
    y = np.array([0, 1, 2, 3, 0, 0, 1, 3])
    result = bootstrap_intervals(y, y, [1, 1, 2, 2, 3, 3, 4, 4], n_resamples=200)
    assert result["four_class"]["score"] == {"value": 1.0, "ci": [1.0, 1.0]}


def test_patients_not_cycles_are_resampled():
    # Each patient is either all right or all wrong: cycles are not independent, and the
    # patient-level interval must be wider than one that treats every cycle as its own patient.
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(20), 30)
    y = rng.integers(0, 4, patients.size)
    right = np.repeat(rng.random(20) < 0.5, 30)
    pred = np.where(right, y, (y + 1) % 4)
    by_patient = bootstrap_intervals(y, pred, patients)["four_class"]["score"]["ci"]
    by_cycle = bootstrap_intervals(y, pred, np.arange(y.size))["four_class"]["score"]["ci"]
    assert (by_patient[1] - by_patient[0]) > 2 * (by_cycle[1] - by_cycle[0])


def test_two_patients_give_only_the_three_possible_resamples():
    # Patient A: 2 normal right; patient B: 1 normal wrong, 1 crackle right.
    y, pred, patients = [0, 0, 0, 1], [0, 0, 1, 1], ["A", "A", "B", "B"]
    result = bootstrap_intervals(y, pred, patients, n_resamples=400)
    # Resamples AA (Se undefined), AB (Sp 2/3, Se 1) and BB (Sp 0, Se 1): Sp's interval spans 0 to 1.
    assert result["four_class"]["sp"]["ci"] == [0.0, 1.0]
    assert result["four_class"]["se"]["ci"] == [1.0, 1.0]


def test_several_runs_give_the_interval_of_their_mean_and_groups_share_resamples():
    y, pred, patients = _noisy_predictions(n=400)
    _, other, _ = _noisy_predictions(seed=1, n=400)
    single = [icbhi_scores(y, p)["four_class"]["score"] for p in (pred, other)]
    both = bootstrap_intervals(y, np.stack([pred, other]), patients, groups=np.where(patients < 10, "a", "b"),
                               all_groups=["a", "b", "c"])
    assert both["n_runs"] == 2
    assert both["four_class"]["score"]["value"] == pytest.approx(np.mean(single))
    assert both["per_group"]["c"]["four_class"]["score"] == {"value": None, "ci": None}
    assert both["per_group"]["a"]["four_class"]["score"]["ci"] is not None
    with pytest.raises(ValueError, match="same number of cycles"):
        bootstrap_intervals(y, pred[:-1], patients)


def test_format_interval():
    assert format_interval(0.5523, [0.51, 0.5934]) == "55.2 [51.0, 59.3]"
    assert format_interval(None, None) == "–" and format_interval(0.5, None) == "50.0"


def test_intervals_over_several_test_sets_average_their_runs():
    from respirelib.training.metrics import bootstrap_intervals_over_sets

    a, b = _noisy_predictions(seed=0, n=300), _noisy_predictions(seed=5, n=200, accuracy=0.9)
    both = bootstrap_intervals_over_sets([a, b], n_resamples=300)
    expected = np.mean([icbhi_scores(y, p)["four_class"]["score"] for y, p, _ in (a, b)])
    assert both["four_class"]["score"]["value"] == pytest.approx(expected)
    low, high = both["four_class"]["score"]["ci"]
    assert low < expected < high and both["n_sets"] == 2 and both["n_runs"] == 2
    one = bootstrap_intervals_over_sets([a], n_resamples=300, seed=1)
    assert one["four_class"] == bootstrap_intervals(*a, n_resamples=300, seed=1)["four_class"]


def test_training_curves_join_validations_made_every_few_epochs():
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "train_loss": [1.3, 1.2, 1.0, 0.9],
                            "val_score": [np.nan, 0.4, np.nan, 0.6]})
    score_ax = plot_training_curves(history).axes[1]
    line = next(line for line in score_ax.get_lines() if line.get_label() == "validation ICBHI score")
    np.testing.assert_array_equal(line.get_xdata(), [2, 4])
    np.testing.assert_allclose(line.get_ydata(), [40, 60])


def test_training_curves_mark_the_epoch_the_selection_metric_chose():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.3, 1.2, 1.0], "val_score": [0.5, 0.7, 0.6],
                            "val_mean_recall": [0.4, 0.3, 0.6]})
    for selected_by, epoch in (("val_score", 2), ("val_mean_recall", 3)):
        score_ax = plot_training_curves(history, selected_by=selected_by).axes[1]
        marks = [line for line in score_ax.get_lines() if line.get_label().startswith("_")]
        assert [list(mark.get_xdata()) for mark in marks] == [[epoch, epoch]]
        assert score_ax.texts[0].get_text().startswith("selected:")


# ----------------------------------------------------------------------------- paired comparison of two rows

from respirelib.training.metrics import exceeds_noise, paired_bootstrap  # noqa: E402

_LABELS = np.tile([0, 1, 2, 3, 0, 1, 2, 3], 40)  # 40 patients, 8 cycles each, the same labels in each
_PATIENTS = np.repeat(np.arange(40), 8)


def _row(correct_per_patient) -> np.ndarray:
    """Predictions right on the first ``k`` cycles of each patient, wrong (next class) on the rest."""
    within = np.tile(np.arange(8), 40)
    right = within < np.repeat(np.asarray(correct_per_patient), 8)
    return np.where(right, _LABELS, (_LABELS + 1) % 4)


def _seeds(*rows) -> np.ndarray:
    return np.stack(rows)


def test_a_row_better_on_every_patient_is_called_a_difference():
    hard = np.random.default_rng(0).integers(1, 7, size=40)  # patients from hard to easy
    first = _seeds(_row(hard), _row(np.maximum(hard - 1, 0)), _row(hard))
    second = _seeds(_row(hard + 1), _row(hard), _row(hard + 1))  # one more cycle right on every patient, every seed
    result = paired_bootstrap([(_LABELS, first, second, _PATIENTS)], n_resamples=300)
    score = result["four_class"]["score"]
    assert result["n_pairs"] == 3 and result["n_patients"] == 40 and len(score["per_pair"]) == 3
    assert all(d > 0 for d in score["per_pair"]) and score["ci"][0] > 0
    assert score["mean"] == pytest.approx(np.mean(score["per_pair"]))
    assert exceeds_noise(score)
    flipped = paired_bootstrap([(_LABELS, second, first, _PATIENTS)], n_resamples=300)["four_class"]["score"]
    assert flipped["ci"][1] < 0 and exceeds_noise(flipped)


def test_identical_rows_are_not_a_difference():
    rows = _seeds(_row(np.full(40, 3)), _row(np.arange(40) % 8))
    score = paired_bootstrap([(_LABELS, rows, rows.copy(), _PATIENTS)], n_resamples=200)["four_class"]["score"]
    assert score["per_pair"] == [0.0, 0.0] and score["mean"] == 0.0 and score["ci"] == [0.0, 0.0]
    assert not exceeds_noise(score)


def test_breaking_the_pairing_changes_the_result():
    """A small gain on every fourth patient shows paired; once the second row's patients are shuffled (the same
    scores, since every patient has the same labels, but no longer matched) the test patients swamp it."""
    hard = np.random.default_rng(1).integers(0, 7, size=40)
    gain = (np.arange(40) % 4 == 0).astype(int)
    first, second = _seeds(_row(hard), _row(hard)), _seeds(_row(hard + gain), _row(hard + gain))
    paired = paired_bootstrap([(_LABELS, first, second, _PATIENTS)], n_resamples=500)["four_class"]["score"]
    order = np.random.default_rng(2).permutation(40)
    shuffled_second = second.reshape(2, 40, 8)[:, order].reshape(2, -1)
    broken = paired_bootstrap([(_LABELS, first, shuffled_second, _PATIENTS)], n_resamples=500)["four_class"]["score"]
    assert broken["mean"] == pytest.approx(paired["mean"])  # the same two scores ...
    assert exceeds_noise(paired) and not exceeds_noise(broken)  # ... but only the matched pairs tell them apart
    assert broken["ci"][1] - broken["ci"][0] > 3 * (paired["ci"][1] - paired["ci"][0])


def test_one_seed_or_seeds_of_both_signs_are_not_a_difference():
    assert not exceeds_noise({"per_pair": [0.05], "ci": [0.01, 0.09]})  # one seed: training noise unknown
    assert not exceeds_noise({"per_pair": [0.05, -0.01, 0.03], "ci": [0.01, 0.09]})
    assert not exceeds_noise({"per_pair": [0.05, 0.02], "ci": [-0.01, 0.09]})
    assert exceeds_noise({"per_pair": [0.05, 0.02], "ci": [0.01, 0.09]})
    with pytest.raises(ValueError, match="same runs"):
        paired_bootstrap([(_LABELS, _seeds(_row(np.ones(40, int))), _seeds(_row(np.ones(40, int)), _row(np.ones(40, int))),
                           _PATIENTS)])


def test_patient_bootstrap_mean_resamples_patients_not_cycles():
    from respirelib.training.metrics import patient_bootstrap_mean

    # Ten patients, each with 20 identical cycles: a cycle bootstrap would see 200 values and a narrow
    # interval; the patient bootstrap sees ten.
    patient_values = np.linspace(-1.0, 1.0, 10)
    values, patients = np.repeat(patient_values, 20), np.repeat(np.arange(10), 20)
    result = patient_bootstrap_mean(values, patients, n_resamples=2000, seed=0)
    assert result["n_patients"] == 10 and result["mean"] == pytest.approx(0.0, abs=1e-12)
    low, high = result["ci"]
    standard_error = patient_values.std(ddof=0) / np.sqrt(10)
    assert low < 0 < high and high - low == pytest.approx(2 * 1.96 * standard_error, rel=0.2)
    assert patient_bootstrap_mean([0.2, 0.3], [1, 1])["ci"] is None  # one patient: no interval
    with pytest.raises(ValueError, match="same, non-zero length"):
        patient_bootstrap_mean([0.1, 0.2], [1])


def test_pooled_seed_spread_ignores_a_shift_between_groups_and_brackets_its_value():
    from respirelib.training.metrics import pooled_seed_spread

    scores = [61.0, 63.5, 60.2, 62.8, 64.1]
    alone = pooled_seed_spread([scores])
    assert alone["std"] == pytest.approx(np.std(scores, ddof=1)) and alone["dof"] == 4
    shifted = pooled_seed_spread([scores, [s + 5 for s in scores]])  # an easier draw: same spread, higher mean
    assert shifted["std"] == pytest.approx(np.std(scores, ddof=1)) and shifted["dof"] == 8 and shifted["n_runs"] == 10
    low, high = shifted["ci"]
    assert low < shifted["std"] < high and high - low < alone["ci"][1] - alone["ci"][0]  # more runs, narrower
    with pytest.raises(ValueError, match="two or more"):
        pooled_seed_spread([scores, [60.0]])


@pytest.mark.parametrize("n_seeds, std", [(3, 1.5), (5, 1.83), (10, 2.4)])
def test_chance_spread_within_matches_simulated_seeds(n_seeds, std):
    from respirelib.training.metrics import chance_spread_within

    rng = np.random.default_rng(n_seeds)
    draws = rng.normal(62.0, std, size=(40_000, n_seeds))
    simulated = float((draws.std(axis=1, ddof=1) <= 2.0).mean())
    assert chance_spread_within(std, n_seeds=n_seeds, limit=2.0) == pytest.approx(simulated, abs=0.01)
    assert chance_spread_within(1.0) > 0.95 > 0.05 > chance_spread_within(6.0)
    with pytest.raises(ValueError):
        chance_spread_within(0.0)


def _seeds_of(labels, wrong_cycles):
    """One prediction row per seed: every cycle right (its label) except those in that seed's ``wrong_cycles``."""
    preds = np.tile(labels, (len(wrong_cycles), 1))
    for seed, cycles in enumerate(wrong_cycles):
        preds[seed, cycles] = np.where(labels[cycles] == 0, 1, 0)
    return preds


def test_seed_spread_anatomy_scores_each_seed_as_icbhi_does():
    from respirelib.training.metrics import seed_spread_anatomy

    rng = np.random.default_rng(3)
    labels, patients = rng.integers(0, 4, 300), rng.integers(0, 12, 300)
    preds = np.where(rng.random((6, 300)) < 0.6, labels, rng.integers(0, 4, (6, 300)))
    anatomy = seed_spread_anatomy(labels, preds, patients)
    scores = [100 * icbhi_scores(labels, p)["four_class"]["score"] for p in preds]
    assert anatomy["score"] == pytest.approx(scores)
    assert anatomy["std"]["score"] == pytest.approx(np.std(scores, ddof=1))
    assert anatomy["sp"] == pytest.approx([100 * icbhi_scores(labels, p)["four_class"]["sp"] for p in preds])
    parts = anatomy["variance"]
    assert parts["total"] == pytest.approx(np.var(scores, ddof=1)) and parts["within"] > 0
    assert anatomy["n_patients"] == 12 and anatomy["std_with_patients"][1] == pytest.approx(anatomy["std"]["score"])
    low, high = anatomy["ci"]["between_share"]
    assert low <= anatomy["between_share"] <= high and high - low > 0.1  # six seeds: a wide interval
    low, high = anatomy["ci"]["std_with_patients"][2]
    assert low <= anatomy["std_with_patients"][2] <= high
    with pytest.raises(ValueError, match="two or more seeds"):
        seed_spread_anatomy(labels, preds[:1], patients)


def test_seed_spread_anatomy_tells_one_patients_luck_from_a_seed_better_everywhere():
    from respirelib.training.metrics import seed_spread_anatomy

    labels = np.tile([0, 0, 1, 2], 8)  # 8 patients of 4 cycles each
    patients = np.repeat(np.arange(8), 4)
    # Seeds that differ on one patient's cycles alone: all of the spread is that patient's (within), and a test
    # set with twice the patients like these would halve the variance.
    one_patient = seed_spread_anatomy(labels, _seeds_of(labels, [[0], [], [0, 2], []]), patients)
    assert one_patient["between_share"] == pytest.approx(0.0, abs=1e-12)
    assert one_patient["std_with_patients"][2] == pytest.approx(one_patient["std"]["score"] / math.sqrt(2))
    assert one_patient["ci"]["between_share"] == pytest.approx([0.0, 0.0], abs=1e-12)
    # Seeds that are right or wrong on the first cycle of every patient at once: a seed effect common to all
    # 8 patients, so 7/8 of the variance is between patients and no larger test set removes it.
    firsts = list(range(0, 32, 4))
    common = seed_spread_anatomy(labels, _seeds_of(labels, [firsts, [], firsts, []]), patients)
    assert common["between_share"] == pytest.approx(7 / 8)
    assert common["std_with_patients"][4] > 0.9 * common["std"]["score"]
