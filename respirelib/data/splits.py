"""Train / validation / test splits of the cycles table.

Every split is a ``pd.Series`` aligned with the cycles table, holding ``"train"``,
``"val"``, ``"test"`` or ``"unused"``. Model selection reads ``val`` only (patients
carved out of the training patients); ``test`` is for the final evaluation.

- ``official``: the ICBHI challenge's 60/40 file. Not fully patient-disjoint
  (patients 156 and 218 are on both sides in the real data); kept as published.
- ``patient``: a patient-disjoint 80/20 split, one fold of a patient-wise k-fold.
- k-fold: :func:`patient_folds` gives every patient exactly one test fold.

Patient-wise folds use scikit-learn's ``StratifiedGroupKFold`` so that folds keep the
class mix while no patient is split, seeded and deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

SCHEMES = ("official", "patient")


def patient_folds(cycles: pd.DataFrame, *, n_folds: int = 5, seed: int = 0) -> pd.Series:
    """Assign every cycle a test fold ``0 .. n_folds-1``; all cycles of a patient share one fold.

    Parameters
    ----------
    cycles : pd.DataFrame
        Needs ``patient`` and ``label_id`` columns.
    n_folds : int
        Number of folds (at most the number of patients).
    seed : int
        Shuffles patients before folding; same seed, same folds.

    Returns
    -------
    folds : pd.Series [shape=(len(cycles),), dtype=int]
    """
    n_patients = cycles["patient"].nunique()
    if not 2 <= n_folds <= n_patients:
        raise ValueError(f"n_folds must be between 2 and the number of patients ({n_patients}), got {n_folds}")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.full(len(cycles), -1, dtype=int)
    for fold, (_, test_positions) in enumerate(splitter.split(np.zeros(len(cycles)), cycles["label_id"],
                                                              groups=cycles["patient"])):
        folds[test_positions] = fold
    return pd.Series(folds, index=cycles.index, name="fold")


def _carve_validation(cycles: pd.DataFrame, split: pd.Series, *, val_fraction: float, seed: int) -> pd.Series:
    """Move about ``val_fraction`` of the training patients (all their cycles) to ``val``."""
    if val_fraction <= 0:
        return split
    # Patients with test cycles (156 and 218 in the official split) never go to validation,
    # so validation and test never share a patient.
    test_patients = set(cycles.loc[split == "test", "patient"])
    train = cycles[(split == "train") & ~cycles["patient"].isin(test_patients)]
    n_folds = min(max(2, round(1 / val_fraction)), train["patient"].nunique())
    if n_folds < 2:
        raise ValueError("too few training patients to carve out a validation set")
    folds = patient_folds(train, n_folds=n_folds, seed=seed + 7919)  # a seed of its own, not the test fold's
    split = split.copy()
    split.loc[folds.index[folds == 0]] = "val"
    return split


def make_split(cycles: pd.DataFrame, *, scheme: str = "official", seed: int = 0, fold: int = 0,
               n_folds: int = 5, val_fraction: float = 0.2) -> pd.Series:
    """Label every cycle ``train``, ``val``, ``test`` or ``unused``.

    Parameters
    ----------
    scheme : {"official", "patient"}
        ``official`` reads the ``split`` column (the challenge file); cycles whose
        recording is not in that file are ``unused``. ``patient`` takes fold
        ``fold`` of a seeded patient-wise ``n_folds``-fold split as test (80/20 for
        5 folds).
    seed : int
        Seeds the patient folds and the validation carve-out.
    val_fraction : float
        Share of training patients held out for model selection (0 for none).
    """
    if scheme == "official":
        if cycles["split"].isna().all():
            raise ValueError("the official split is unavailable: no ICBHI_challenge_train_test.txt was loaded")
        split = cycles["split"].fillna("unused").astype(str)
    elif scheme == "patient":
        if not 0 <= fold < n_folds:
            raise ValueError(f"fold must be in 0..{n_folds - 1}, got {fold}")
        folds = patient_folds(cycles, n_folds=n_folds, seed=seed)
        split = pd.Series(np.where(folds == fold, "test", "train"), index=cycles.index)
    else:
        raise ValueError(f"unknown split scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return _carve_validation(cycles, split.rename("subset"), val_fraction=val_fraction, seed=seed)
