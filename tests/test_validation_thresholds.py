"""Decision thresholds chosen on validation: the decision rule, the choice, the tool and the README's verdict."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from respirelib.training.evaluate import PRESENCE_THRESHOLD_GRID, choose_presence_thresholds, presence_decisions

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _from_presence(crackle, wheeze) -> np.ndarray:
    """4-class probabilities [shape=(n, 4)] of independent crackle and wheeze presences."""
    c, w = np.asarray(crackle, dtype=float), np.asarray(wheeze, dtype=float)
    return np.stack([(1 - c) * (1 - w), c * (1 - w), (1 - c) * w, c * w], axis=1)


def test_presence_decisions_hand_computed():
    probabilities = _from_presence([0.1, 0.7, 0.1, 0.7, 0.45], [0.2, 0.2, 0.9, 0.9, 0.45])
    assert presence_decisions(probabilities).tolist() == [0, 1, 2, 3, 0]
    assert presence_decisions(probabilities, crackle_threshold=0.4, wheeze_threshold=0.4).tolist() == [0, 1, 2, 3, 3]
    assert presence_decisions(probabilities, crackle_threshold=0.8).tolist() == [0, 0, 2, 2, 0]


def test_presence_decisions_at_one_half_are_the_argmax_of_independent_presences(rng):
    probabilities = _from_presence(rng.uniform(size=500), rng.uniform(size=500))
    assert (presence_decisions(probabilities) == probabilities.argmax(axis=1)).all()


def test_presence_decisions_refuse_other_shapes():
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        presence_decisions(np.zeros((3, 2)))


def test_the_chosen_thresholds_separate_the_classes_and_lie_nearest_one_half():
    # Crackle cycles show a crackle presence of 0.35, the others 0.1: every crackle threshold in [0.1, 0.35)
    # separates them perfectly and 0.30 is the nearest to 0.5; wheeze is separated at 0.5 already.
    labels = np.array([0, 0, 1, 1, 2, 3])
    probabilities = _from_presence([0.1, 0.1, 0.35, 0.35, 0.1, 0.35], [0.1, 0.1, 0.1, 0.1, 0.9, 0.9])
    crackle, wheeze, score = choose_presence_thresholds(labels, probabilities)
    assert (crackle, wheeze, score) == (0.30, 0.5, 1.0)
    assert presence_decisions(probabilities).tolist() == [0, 0, 0, 0, 2, 2]  # at 0.5 / 0.5 crackle is missed


def test_thresholds_that_change_nothing_stay_at_one_half():
    labels = np.array([0, 1, 2, 3])
    probabilities = _from_presence([0.01, 0.99, 0.01, 0.99], [0.01, 0.01, 0.99, 0.99])
    assert choose_presence_thresholds(labels, probabilities)[:2] == (0.5, 0.5)
    assert 0.5 in PRESENCE_THRESHOLD_GRID and len(PRESENCE_THRESHOLD_GRID) == 13


def _copies(smoke_run: Path, root: Path, count: int = 2) -> list[Path]:
    folders = []
    for seed in range(count):
        folder = root / f"smoke-seed{seed}"
        shutil.copytree(smoke_run, folder)
        folders.append(folder)
    return folders


def test_the_tool_records_each_runs_argmax_and_validation_thresholds(smoke_run, tmp_path):
    tool = runpy.run_path(str(TOOLS / "validation_thresholds.py"))
    folders = _copies(smoke_run, tmp_path / "runs")
    out = tmp_path / "record.json"
    assert tool["main"]([str(out), *map(str, folders)]) == 0
    record = json.loads(out.read_text())
    recorded = pd.read_csv(smoke_run / "metrics_predictions.csv")
    assert record["labels"] == "".join(map(str, recorded["label_id"]))
    assert record["patients"] == recorded["patient"].tolist() and record["n_cycles"] == len(recorded)
    assert "Written before any result" in record["rule"] and record["hardware"]["cpu_count"]
    trained = json.loads((smoke_run / "run.json").read_text())["provenance"]["data"]
    assert record["data"]["label"] == trained["label"] and record["data"]["fingerprint"] == trained["fingerprint"]
    for run in record["runs"]:
        assert run["argmax"] == "".join(map(str, recorded["pred"]))
        assert {run["crackle_threshold"], run["wheeze_threshold"]} <= set(PRESENCE_THRESHOLD_GRID)
        probabilities = recorded[["p_normal", "p_crackle", "p_wheeze", "p_both"]].to_numpy()
        expected = presence_decisions(probabilities, crackle_threshold=run["crackle_threshold"],
                                      wheeze_threshold=run["wheeze_threshold"])
        assert run["thresholds"] == "".join(map(str, expected))
    with pytest.raises(FileExistsError, match="never overwritten"):
        tool["main"]([str(out), str(folders[0])])


def test_the_tool_refuses_a_run_whose_decisions_it_cannot_reproduce(smoke_run, tmp_path):
    tool = runpy.run_path(str(TOOLS / "validation_thresholds.py"))
    (folder,) = _copies(smoke_run, tmp_path / "runs", count=1)
    table = pd.read_csv(folder / "metrics_predictions.csv")
    table.loc[0, "pred"] = (table.loc[0, "pred"] + 1) % 4
    table.to_csv(folder / "metrics_predictions.csv", index=False)
    with pytest.raises(ValueError, match="does not give the test decisions it recorded"):
        tool["build_record"]([folder])
    assert not (tmp_path / "record.json").exists()


def _record(labels: np.ndarray, argmax: list[np.ndarray], thresholds: list[np.ndarray]) -> dict:
    digits = ["".join(map(str, decisions)) for decisions in (*argmax, *thresholds)]
    runs = [{"seed": seed, "precision": "bf16", "n_validation_cycles": 10, "crackle_threshold": 0.5,
             "wheeze_threshold": 0.8, "argmax": digits[seed], "thresholds": digits[len(argmax) + seed]}
            for seed in range(len(argmax))]
    return {"labels": "".join(map(str, labels)), "n_cycles": len(labels), "runs": runs,
            "hardware": {"cpu_count": 2, "cpu_model": "Test CPU", "torch_threads": 1},
            "data": {"label": "synthetic", "scale": 0.5, "difficulty": 0.3, "sound_version": 4, "seed": 1}}


def test_the_readme_verdict_follows_the_rule(capsys, rng):
    tuning = runpy.run_path(str(TOOLS / "readme_tuning.py"))
    labels = np.repeat(np.arange(4), 50)
    argmax = []
    for _ in range(6):  # seeds that miss a different share of abnormal cycles each: a spread of several points
        decisions = labels.copy()
        decisions[rng.uniform(size=labels.size) < rng.uniform(0.1, 0.5)] = 0
        argmax.append(decisions)
    tuning["validation_thresholds"](_record(labels, argmax, [labels.copy() for _ in argmax]))
    perfect = capsys.readouterr().out
    assert "(SYNTHETIC, scale 0.5, difficulty 0.3, sound model 4, draw seed 1: 10 validation and 200 test cycles; " \
           "2-core Test CPU, 1 thread, bf16)" in perfect
    assert "against" in perfect and perfect.rstrip().endswith("meets it.")
    assert "6 of the 12 chosen thresholds lie on the grid's edge (0.20 or 0.80)" in perfect
    tuning["validation_thresholds"](_record(labels, argmax, argmax))
    unchanged = capsys.readouterr().out
    assert "spread difference +0.00" in unchanged and unchanged.rstrip().endswith("fails it.")
