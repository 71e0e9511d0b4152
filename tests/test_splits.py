"""Splits: deterministic, patient-disjoint where promised, validation from training patients only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from respirelib.data.splits import make_split, patient_folds


@pytest.fixture
def cycles() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(101, 141), rng.integers(5, 40, size=40))
    return pd.DataFrame({"patient": patients, "label_id": rng.integers(0, 4, size=len(patients)),
                         "split": np.where(patients < 125, "train", "test")})


def test_patient_folds_cover_every_patient_once(cycles):
    folds = patient_folds(cycles, n_folds=5, seed=3)
    assert set(folds) == {0, 1, 2, 3, 4}
    assert cycles.assign(fold=folds).groupby("patient")["fold"].nunique().max() == 1
    sizes = folds.value_counts()
    assert sizes.min() > 0.5 * sizes.max()


def test_patient_folds_are_seeded(cycles):
    assert patient_folds(cycles, seed=1).equals(patient_folds(cycles, seed=1))
    assert not patient_folds(cycles, seed=1).equals(patient_folds(cycles, seed=2))


def test_patient_split_is_disjoint_80_20(cycles):
    split = make_split(cycles, scheme="patient", seed=0)
    groups = {part: set(cycles.loc[split == part, "patient"]) for part in ("train", "val", "test")}
    assert not groups["train"] & groups["test"] and not groups["val"] & groups["test"]
    assert not groups["train"] & groups["val"]
    assert 0.12 < (split == "test").mean() < 0.3


def test_every_fold_can_be_the_test_fold(cycles):
    tests = [set(cycles.loc[make_split(cycles, scheme="patient", fold=k, seed=0) == "test", "patient"])
             for k in range(5)]
    assert set().union(*tests) == set(cycles["patient"])
    assert sum(len(t) for t in tests) == cycles["patient"].nunique()


def test_official_split_keeps_test_and_carves_validation_from_train(cycles):
    split = make_split(cycles, scheme="official", seed=0)
    assert (split[cycles["split"] == "test"] == "test").all()
    assert set(split[cycles["split"] == "train"]) == {"train", "val"}
    val_patients = set(cycles.loc[split == "val", "patient"])
    assert val_patients and val_patients <= set(cycles.loc[cycles["split"] == "train", "patient"])


def test_validation_never_takes_a_patient_that_has_test_cycles(cycles):
    shared = cycles["patient"] == 101
    cycles.loc[shared & (np.arange(len(cycles)) % 2 == 0), "split"] = "test"
    for seed in range(10):
        split = make_split(cycles, scheme="official", seed=seed)
        assert 101 not in set(cycles.loc[split == "val", "patient"])


def test_no_validation_when_asked(cycles):
    split = make_split(cycles, scheme="patient", val_fraction=0)
    assert set(split) == {"train", "test"}


def test_bad_arguments(cycles):
    with pytest.raises(ValueError, match="unknown split scheme"):
        make_split(cycles, scheme="random")
    with pytest.raises(ValueError, match="fold must be"):
        make_split(cycles, scheme="patient", fold=5)
    with pytest.raises(ValueError, match="official split is unavailable"):
        make_split(cycles.assign(split=None), scheme="official")
