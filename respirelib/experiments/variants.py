"""Names of the training runs: variants (Table I rows, Table II lengths) and split labels (with CV folds).

A run is ``<split>-<variant>-seed<seed>``: the split label ``official``, ``patient`` or
``patient-fold<k>`` (``patient-cv`` expands to all five folds), the variant ``cnn``, ``full``
or ``len<N>s``. :mod:`respirelib.experiments.study` trains and reads them;
:mod:`respirelib.experiments.progress` plans them.
"""

from __future__ import annotations

import re
from pathlib import Path

CV_FOLDS = 5
_SPLIT_LABEL = re.compile(r"(official|patient)(?:-fold(\d+))?")
_RUN_NAME = re.compile(r"(official|patient(?:-fold\d+)?)-(.+)-seed(\d+)")

VARIANT_OVERRIDES = {"cnn": {"stage1": {"concat": False, "clip_blank": False}}, "full": {}}
ROW_NAMES = {"cnn": "CNN", "full": "+CBA+BRC", "finetuned": "+FT"}


def variant_overrides(variant: str) -> dict:
    """Profile overrides of a variant name (``cnn``, ``full`` or ``len<N>s``)."""
    if variant in VARIANT_OVERRIDES:
        return VARIANT_OVERRIDES[variant]
    match = re.fullmatch(r"len(\d+(?:\.\d+)?)s", variant)
    if match and 1 <= float(match.group(1)) <= 9:
        return {"audio": {"cycle_duration": float(match.group(1))}}
    raise ValueError(f"unknown variant {variant!r}: use 'cnn', 'full' or 'len<N>s' with N from 1 to 9")


def expand_splits(splits) -> list[str]:
    """Split labels of runs: ``patient-cv`` becomes ``patient-fold0`` ... ``patient-fold4``."""
    labels = []
    for split in splits:
        labels += [f"patient-fold{k}" for k in range(CV_FOLDS)] if split == "patient-cv" else [split]
    for label in labels:
        split_scheme(label)
    return labels


def split_scheme(label: str) -> tuple[str, int]:
    """(scheme, fold) of a split label: ``official``, ``patient`` or ``patient-fold<k>``."""
    match = _SPLIT_LABEL.fullmatch(label)
    if not match or (match.group(1) == "official" and match.group(2)):
        raise ValueError(f"unknown split {label!r}: use 'official', 'patient', 'patient-cv' or 'patient-fold<k>'")
    fold = int(match.group(2) or 0)
    if fold >= CV_FOLDS:
        raise ValueError(f"fold {fold} of a {CV_FOLDS}-fold split does not exist")
    return match.group(1), fold


def split_group(label: str) -> str:
    """The table a run's split label belongs to: the folds of a cross-validation share ``patient-cv``."""
    return "patient-cv" if "-fold" in label else label


def model_run_dir(root: str | Path, *, split: str, variant: str, seed: int) -> Path:
    """``<root>/train/<split>-<variant>-seed<seed>``."""
    return Path(root) / "train" / f"{split}-{variant}-seed{seed}"


def parse_run_name(name: str) -> tuple[str, str, int] | None:
    """(split label, variant, seed) of a run directory's name, or None for a name of another kind."""
    match = _RUN_NAME.fullmatch(name)
    return (match.group(1), match.group(2), int(match.group(3))) if match else None
