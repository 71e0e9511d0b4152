"""The ICBHI challenge metrics, per-cycle aggregation of window predictions, multi-seed summaries.

Definitions (paper, section IV, which follows the ICBHI challenge):

* 4-class: Se = (Pc + Pw + Pb) / (Nc + Nw + Nb), Sp = Pn / Nn, Score = (Se + Sp) / 2,
  where P_i counts cycles of class i predicted as class i and N_i all cycles of class i.
* 2-class (normal vs abnormal = crackle, wheeze or both): Se is the fraction of abnormal
  cycles predicted as any abnormal class, Sp the fraction of normal cycles predicted
  normal, Score their mean.

Both are computed from one 4-class prediction, so the 2-class Sp equals the 4-class
Sp. The paper's Table I lists different Sp values for the two tasks, which suggests a
separately trained binary model; the paper does not say, and passing binary labels
(0 normal, 1 abnormal) as ``y_true``/``y_pred`` gives that evaluation here too.

Undefined values: when a set has no normal cycles, Sp is undefined; with no abnormal
cycles, Se is. They are returned as ``nan`` (and the Score, their mean, is then
``nan`` too), never as 0 or 1, and the counts ``n_normal``/``n_abnormal`` travel with
them so a report can say why. :func:`json_safe` turns ``nan`` into ``None`` for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from respirelib.config import CLASS_NAMES, NORMAL

COMBINE_RULES = ("mean", "vote")
# The learning targets a demo model must meet (issues 12 and 22): every class recalled at 30 % or more on
# every seed, a standard deviation of the 4-class Score over seeds of at most 2 points, and at least five
# seeds of the full model behind both (a spread of three seeds is itself too noisy to hold a target).
MIN_CLASS_RECALL = 0.30
MAX_SCORE_STD_POINTS = 2.0
MIN_DEMO_SEEDS = 5


def _as_labels(y, name: str, n_classes: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError(f"{name} must hold integer class labels")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name} holds labels outside 0..{n_classes - 1}")
    return labels


def confusion_matrix(y_true, y_pred, *, n_classes: int = 4) -> np.ndarray:
    """Counts of (true, predicted) pairs.

    Parameters
    ----------
    y_true, y_pred : array-like of int [shape=(n,)]
        Class labels in ``0..n_classes-1``.
    n_classes : int

    Returns
    -------
    cm : np.ndarray of int64 [shape=(n_classes, n_classes)]
        ``cm[i, j]`` = cycles of true class i predicted as class j (rows are truth).
    """
    y_true = _as_labels(y_true, "y_true", n_classes)
    y_pred = _as_labels(y_pred, "y_pred", n_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} vs {y_pred.size}")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def class_recalls(confusion) -> list[float | None]:
    """Recall of every class from a confusion matrix (rows: true classes); None for a class with no cycles."""
    matrix = np.asarray(confusion, dtype=float)
    totals = matrix.sum(axis=1)
    return [float(matrix[i, i] / totals[i]) if totals[i] else None for i in range(len(matrix))]


def _ratio(numerator, denominator):
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _scores_from_confusions(cms: np.ndarray) -> dict[str, np.ndarray]:
    """ICBHI numbers for a stack of confusion matrices [shape=(n_sets, k, k)]."""
    diagonal = np.diagonal(cms, axis1=1, axis2=2)
    per_class = cms.sum(axis=2)
    n_normal = per_class[:, NORMAL]
    n_abnormal = per_class[:, NORMAL + 1:].sum(axis=1)
    sp = _ratio(diagonal[:, NORMAL], n_normal)
    se4 = _ratio(diagonal[:, NORMAL + 1:].sum(axis=1), n_abnormal)
    # 2-class hits: any abnormal prediction for an abnormal cycle.
    se2 = _ratio(cms[:, NORMAL + 1:, NORMAL + 1:].sum(axis=(1, 2)), n_abnormal)
    return {
        "n_cycles": per_class.sum(axis=1), "n_normal": n_normal, "n_abnormal": n_abnormal,
        "sp": sp, "se": se4, "score": (sp + se4) / 2,
        "sp_2class": sp, "se_2class": se2, "score_2class": (sp + se2) / 2,
        "accuracy": _ratio(diagonal.sum(axis=1), per_class.sum(axis=1)),
        "class_recall": _ratio(diagonal, per_class),
    }


def icbhi_scores_from_confusion(cm, *, class_names: Sequence[str] = CLASS_NAMES) -> dict:
    """:func:`icbhi_scores` for an existing confusion matrix [shape=(k, k)], rows = truth."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise ValueError(f"confusion matrix must be square with at least 2 classes, got shape {cm.shape}")
    if len(class_names) != cm.shape[0]:
        raise ValueError(f"{len(class_names)} class names for a {cm.shape[0]}-class confusion matrix")
    s = {key: value[0] for key, value in _scores_from_confusions(cm[None]).items()}
    return {
        "four_class": {"sp": float(s["sp"]), "se": float(s["se"]), "score": float(s["score"])},
        "two_class": {"sp": float(s["sp_2class"]), "se": float(s["se_2class"]),
                      "score": float(s["score_2class"])},
        "accuracy": float(s["accuracy"]),
        "class_recall": {name: float(r) for name, r in zip(class_names, s["class_recall"])},
        "n_cycles": int(s["n_cycles"]),
        "n_normal": int(s["n_normal"]),
        "n_abnormal": int(s["n_abnormal"]),
    }


def icbhi_scores(y_true, y_pred, *, n_classes: int = 4, class_names: Sequence[str] = CLASS_NAMES) -> dict:
    """ICBHI Sensitivity, Specificity and Score, 4-class and 2-class, as fractions in [0, 1].

    Parameters
    ----------
    y_true, y_pred : array-like of int [shape=(n_cycles,)]
        Per-cycle labels, 0 normal, 1 crackle, 2 wheeze, 3 both (or, with
        ``n_classes=2``, 0 normal and 1 abnormal).
    n_classes : int
    class_names : sequence of str
        Keys of ``class_recall``.

    Returns
    -------
    scores : dict
        ``{"four_class": {"sp", "se", "score"}, "two_class": {"sp", "se", "score"},
        "accuracy", "class_recall": {name: recall}, "n_cycles", "n_normal", "n_abnormal"}``.
        Undefined ratios (no normal or no abnormal cycles) are ``nan``.

    Examples
    --------
    Predicting "normal" for everything gives Sp = 1, Se = 0, Score = 0.5:

    >>> icbhi_scores([0, 0, 1, 3], [0, 0, 0, 0])["four_class"]
    {'sp': 1.0, 'se': 0.0, 'score': 0.5}
    """
    cm = confusion_matrix(y_true, y_pred, n_classes=n_classes)
    if n_classes == 2 and class_names == CLASS_NAMES:
        class_names = ("normal", "abnormal")
    return icbhi_scores_from_confusion(cm, class_names=class_names[:n_classes])


def per_group_scores(y_true, y_pred, groups, *, all_groups: Sequence | None = None,
                     n_classes: int = 4) -> pd.DataFrame:
    """ICBHI scores for each group of cycles (e.g. per recording device).

    Parameters
    ----------
    y_true, y_pred : array-like of int [shape=(n_cycles,)]
    groups : array-like [shape=(n_cycles,)]
        Group of each cycle, e.g. the device name.
    all_groups : sequence, optional
        Groups to report even when they have no cycles (e.g. all four devices: the
        official test split has no LittC2SE cycles). Their row has ``n_cycles = 0``.

    Returns
    -------
    table : pd.DataFrame
        One row per group (index ``group``; ``all_groups`` order, then first appearance),
        columns ``n_cycles, n_normal, n_abnormal, sp, se, score, sp_2class, se_2class,
        score_2class, accuracy, note``. Undefined values are ``nan`` and ``note`` says
        why ("no cycles", "no normal cycles", "no abnormal cycles"; "" otherwise).
    """
    y_true = _as_labels(y_true, "y_true", n_classes)
    y_pred = _as_labels(y_pred, "y_pred", n_classes)
    groups = np.asarray(groups)
    if not (y_true.shape == y_pred.shape == groups.shape):
        raise ValueError(f"y_true, y_pred and groups must have the same length, "
                         f"got {y_true.size}, {y_pred.size}, {groups.size}")
    names = list(all_groups) if all_groups is not None else []
    listed = set(names)
    names += [g for g in pd.unique(groups) if g not in listed]
    index = pd.Index(names, name="group")
    codes = index.get_indexer(groups)

    cms = np.zeros((len(index), n_classes, n_classes), dtype=np.int64)
    np.add.at(cms, (codes, y_true, y_pred), 1)
    s = _scores_from_confusions(cms)
    columns = ["n_cycles", "n_normal", "n_abnormal", "sp", "se", "score",
               "sp_2class", "se_2class", "score_2class", "accuracy"]
    table = pd.DataFrame({column: s[column] for column in columns}, index=index)
    notes = np.where(table["n_normal"] == 0, "no normal cycles", "")
    notes = np.where(table["n_abnormal"] == 0,
                     np.where(notes == "", "no abnormal cycles", "no normal or abnormal cycles"), notes)
    table["note"] = np.where(table["n_cycles"] == 0, "no cycles", notes)
    return table


@dataclass(frozen=True)
class CyclePredictions:
    """Window predictions combined per breathing cycle.

    Attributes
    ----------
    cycle_ids : np.ndarray [shape=(n_cycles,)]
        In order of first appearance among the windows.
    scores : np.ndarray of float [shape=(n_cycles, n_classes)]
        Mean window probability (rule "mean") or fraction of window votes ("vote").
    pred : np.ndarray of int64 [shape=(n_cycles,)]
        ``argmax`` of ``scores``; ties go to the lowest class index, so normal wins
        any tie it is part of (as ``np.argmax(np.bincount(...))`` in the reference).
    labels : np.ndarray of int64 [shape=(n_cycles,)] or None
        Per-cycle truth, when window labels were given.
    n_windows : np.ndarray of int64 [shape=(n_cycles,)]
    """

    cycle_ids: np.ndarray
    scores: np.ndarray
    pred: np.ndarray
    labels: np.ndarray | None
    n_windows: np.ndarray


def combine_window_predictions(window_probs, cycle_ids, *, rule: str = "mean",
                               labels=None) -> CyclePredictions:
    """Combine per-window class probabilities into one prediction per cycle.

    Cycles longer than the model's input are cut into several windows; the reference
    code majority-votes their predictions (``rule="vote"``, ties to the lowest class
    index, hence to normal). ``rule="mean"`` averages the probabilities instead, which
    keeps the model's confidence; it is the default here (a departure from the reference).

    Parameters
    ----------
    window_probs : array-like of float [shape=(n_windows, n_classes)]
        Softmax probabilities (logits work for "vote", not for "mean").
    cycle_ids : array-like [shape=(n_windows,)]
        Cycle of each window (any hashable values).
    rule : {"mean", "vote"}
    labels : array-like of int [shape=(n_windows,)], optional
        Window labels; every window of a cycle must carry the same one.

    Returns
    -------
    CyclePredictions
    """
    if rule not in COMBINE_RULES:
        raise ValueError(f"rule must be 'mean' or 'vote', got '{rule}'")
    probs = np.asarray(window_probs, dtype=float)
    if probs.ndim != 2:
        raise ValueError(f"window_probs must be 2-D (n_windows, n_classes), got shape {probs.shape}")
    codes, uniques = pd.factorize(np.asarray(cycle_ids), sort=False)
    if codes.shape[0] != probs.shape[0]:
        raise ValueError(f"{probs.shape[0]} windows but {codes.shape[0]} cycle ids")
    if (codes < 0).any():
        raise ValueError("cycle_ids contain missing values (None or NaN)")
    n_cycles, n_classes = len(uniques), probs.shape[1]
    n_windows = np.bincount(codes, minlength=n_cycles)

    if rule == "mean":
        values = probs
    else:
        values = np.zeros_like(probs)
        values[np.arange(probs.shape[0]), probs.argmax(axis=1)] = 1.0
    sums = np.zeros((n_cycles, n_classes))
    np.add.at(sums, codes, values)
    scores = sums / n_windows[:, None]

    cycle_labels = None
    if labels is not None:
        window_labels = _as_labels(labels, "labels", n_classes)
        if window_labels.shape[0] != probs.shape[0]:
            raise ValueError(f"{probs.shape[0]} windows but {window_labels.shape[0]} labels")
        cycle_labels = np.zeros(n_cycles, dtype=np.int64)
        cycle_labels[codes] = window_labels
        conflicting = cycle_labels[codes] != window_labels
        if conflicting.any():
            bad = uniques[np.unique(codes[conflicting])]
            raise ValueError(f"windows of the same cycle carry different labels: {list(bad[:5])}")
    return CyclePredictions(cycle_ids=np.asarray(uniques), scores=scores, pred=scores.argmax(axis=1),
                            labels=cycle_labels, n_windows=n_windows)


def confusion_frame(cm, *, class_names: Sequence[str] = CLASS_NAMES) -> pd.DataFrame:
    """Confusion matrix as a labelled table (rows ``true_<name>``, columns ``pred_<name>``) for CSV."""
    cm = np.asarray(cm)
    return pd.DataFrame(cm, index=[f"true_{name}" for name in class_names],
                        columns=[f"pred_{name}" for name in class_names])


def _flatten(metrics: Mapping, prefix: tuple = ()) -> dict[tuple, float]:
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, prefix + (key,)))
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            flat[prefix + (key,)] = float(value)
    return flat


def mean_std(runs: Sequence[Mapping], *, ddof: int = 1) -> dict:
    """Mean and standard deviation of each number across runs (e.g. 5 seeds).

    Parameters
    ----------
    runs : sequence of dict
        Nested dicts of numbers with the same layout, e.g. :func:`icbhi_scores` outputs.
        Non-numeric leaves are ignored.
    ddof : int
        1 (default) gives the sample standard deviation; with a single run it is ``nan``.

    Returns
    -------
    summary : dict
        The same nesting, each number replaced by ``{"mean", "std", "n"}``; ``n`` counts
        the runs where the value is defined (``nan`` values are left out).
    """
    if not runs:
        raise ValueError("mean_std needs at least one run")
    flats = [_flatten(run) for run in runs]
    keys = list(dict.fromkeys(key for flat in flats for key in flat))
    values = np.array([[flat.get(key, np.nan) for key in keys] for flat in flats], dtype=float)
    defined = ~np.isnan(values)
    n = defined.sum(axis=0)
    total = np.where(defined, values, 0.0).sum(axis=0)
    mean = _ratio(total, n)
    squares = np.where(defined, (values - mean) ** 2, 0.0).sum(axis=0)
    std = np.sqrt(_ratio(squares, n - ddof))

    summary: dict = {}
    for i, key in enumerate(keys):
        node = summary
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = {"mean": float(mean[i]), "std": float(std[i]), "n": int(n[i])}
    return summary


def pooled_seed_spread(groups: Sequence[Sequence[float]], *, level: float = 0.95) -> dict:
    """The seed-to-seed standard deviation pooled over groups (e.g. one profile on several synthetic draws).

    Each group's scores are deviations from that group's own mean, so a shift between groups (one draw
    being easier) does not count as spread; the interval is the chi-square one for a normal spread.

    Parameters
    ----------
    groups : sequence of sequences of float
        Scores of the same setting, one sequence per group, each of two or more seeds.

    Returns
    -------
    dict
        ``std`` (pooled, ddof 1 within each group), ``dof`` (runs minus groups), ``ci`` (the interval
        of ``std``), ``level`` and ``n_runs``.
    """
    from scipy import stats

    arrays = [np.asarray(group, dtype=float) for group in groups]
    if not arrays or any(array.ndim != 1 or array.size < 2 for array in arrays):
        raise ValueError("every group needs two or more scores")
    dof = sum(array.size - 1 for array in arrays)
    sum_squares = sum(float(((array - array.mean()) ** 2).sum()) for array in arrays)
    tail = (1 - level) / 2
    return {"std": math.sqrt(sum_squares / dof), "dof": dof, "level": level,
            "ci": [math.sqrt(sum_squares / stats.chi2.ppf(1 - tail, dof)),
                   math.sqrt(sum_squares / stats.chi2.ppf(tail, dof))],
            "n_runs": sum(array.size for array in arrays)}


def seed_spread_anatomy(labels, preds, patients, *, patient_multiples: Sequence[int] = (1, 2, 4),
                        n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """Where the spread of the 4-class Score over seeds comes from, from every seed's test predictions.

    The Score of seed ``s`` is a sum over test patients of what each contributes (its correctly
    classified normal cycles over all normal test cycles, plus its abnormal ones over all abnormal
    cycles, halved). Its variance over seeds is the sum of each patient's own variance (**within**:
    a seed happens to get one patient's cycles right) plus the covariances between patients
    (**between**: a seed is better or worse on many patients at once). A test set with ``k`` times as
    many patients like these keeps the covariance part whole and divides the within part by ``k``.

    Parameters
    ----------
    labels : array-like of int [shape=(n_cycles,)]
        The true classes of the test cycles (0 normal, 1 crackle, 2 wheeze, 3 both).
    preds : array-like of int [shape=(n_seeds, n_cycles)]
        Each seed's predicted classes for the same cycles.
    patients : array-like [shape=(n_cycles,)]
        Each cycle's patient.
    patient_multiples : sequence of int
        Test-set sizes, in multiples of this one, to project the spread to.
    n_resamples, level, seed
        The bootstrap over seeds (seeds drawn with replacement) that gives ``between_share`` and each
        projection its interval: with ten seeds, both are rough.

    Returns
    -------
    dict
        Points per seed (``score``, ``sp``, ``se``) and their standard deviations over seeds (ddof 1,
        ``std``), the correlation of Sp and Se over seeds (None where one does not vary), the variance
        split (``variance``: ``total``, ``within``, ``between``, in points squared), ``between_share`` and
        ``std_with_patients`` (one projection per multiple), with their intervals in ``ci``.
    """
    labels, preds, patients = np.asarray(labels), np.atleast_2d(np.asarray(preds)), np.asarray(patients)
    if preds.shape[0] < 2 or preds.shape[1] != labels.size or patients.size != labels.size:
        raise ValueError(f"need two or more seeds' predictions of the {labels.size} labelled cycles, "
                         f"got shape {preds.shape} (and {patients.size} patients)")
    normal, abnormal = labels == 0, labels > 0
    if not normal.any() or not abnormal.any():
        raise ValueError("the Score needs normal and abnormal test cycles")
    correct = preds == labels  # a normal cycle is right when predicted normal, an abnormal one when its class
    weight = np.where(normal, 50.0 / normal.sum(), 50.0 / abnormal.sum())  # points a right cycle adds to the Score
    groups, patient_index = np.unique(patients, return_inverse=True)
    contribution = np.zeros((groups.size, preds.shape[0]))  # [patient, seed], points
    np.add.at(contribution, patient_index, (correct * weight).T)
    within, between = _within_between(contribution)
    rng = np.random.default_rng(seed)
    resampled = [_within_between(contribution[:, rng.integers(0, preds.shape[0], preds.shape[0])])
                 for _ in range(n_resamples)]
    resampled = np.array([(w, b) for w, b in resampled if w + b > 0])  # a draw of one seed repeated has no spread
    tail = 100 * (1 - level) / 2

    def interval(values) -> list[float]:
        return [float(v) for v in np.percentile(values, [tail, 100 - tail])]

    sp = 100.0 * correct[:, normal].mean(axis=1)
    se = 100.0 * correct[:, abnormal].mean(axis=1)
    score = contribution.sum(axis=0)
    return {"n_seeds": int(preds.shape[0]), "n_patients": int(groups.size), "n_cycles": int(labels.size),
            "score": score.tolist(), "sp": sp.tolist(), "se": se.tolist(),
            "std": {"score": float(score.std(ddof=1)), "sp": float(sp.std(ddof=1)), "se": float(se.std(ddof=1))},
            "sp_se_correlation": float(np.corrcoef(sp, se)[0, 1]) if sp.std() > 0 and se.std() > 0 else None,
            "variance": {"total": within + between, "within": within, "between": between},
            "between_share": between / (within + between),
            "std_with_patients": {int(k): float(_projected_std(within, between, k)) for k in patient_multiples},
            "ci": {"level": level, "n_resamples": n_resamples,
                   "between_share": interval(resampled[:, 1] / resampled.sum(axis=1)),
                   "std_with_patients": {int(k): interval(_projected_std(resampled[:, 0], resampled[:, 1], k))
                                         for k in patient_multiples}}}


def _projected_std(within, between, multiple: int):
    """The Score's std over seeds with ``multiple`` times the test patients: the shared part whole, the
    patients' own part divided (a negative estimate of the variance reads as no spread)."""
    return np.sqrt(np.maximum(np.asarray(between) + np.asarray(within) / multiple, 0.0))


def _within_between(contribution: np.ndarray) -> tuple[float, float]:
    """The Score's variance over seeds from per-patient contributions [patient, seed]: the patients' own
    variances (within) and their covariances (between)."""
    covariance = np.atleast_2d(np.cov(contribution))  # over seeds, patients x patients
    within = float(np.trace(covariance))
    return within, float(covariance.sum()) - within


def chance_spread_within(std: float, *, n_seeds: int = MIN_DEMO_SEEDS, limit: float = MAX_SCORE_STD_POINTS) -> float:
    """The probability that ``n_seeds`` seeds' scores have a sample standard deviation (ddof 1) of at most ``limit``.

    For seeds whose scores are normal with standard deviation ``std`` (same units as ``limit``), the sample
    variance times (n - 1) / std**2 is chi-square with n - 1 degrees of freedom: how often a demo of five
    seeds meets the spread target by the luck of its seeds alone.
    """
    from scipy import stats

    if std <= 0 or n_seeds < 2:
        raise ValueError(f"need a positive std and two or more seeds, got std {std!r} and {n_seeds!r} seeds")
    return float(stats.chi2.cdf((n_seeds - 1) * limit ** 2 / std ** 2, n_seeds - 1))


def format_mean_std(mean: float | None, std: float | None, *, percent: bool = True, digits: int = 1) -> str:
    """``"56.2 ± 0.8"`` (fractions shown as percent by default); the mean alone when ``std`` is undefined
    (one seed); ``"–"`` when the mean is, as :func:`format_interval` says it."""
    if mean is None or not np.isfinite(mean):
        return "–"
    scale = 100.0 if percent else 1.0
    if std is None or not np.isfinite(std):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def format_signed(value: float, *, digits: int = 1) -> str:
    """A difference with its sign, to ``digits`` decimals, or to its first significant digit where those
    would round it to zero: ``+1.6``, ``-0.02`` (not ``-0.0``), ``0.0`` for exactly zero.

    A verdict such as "the interval excludes 0" must be readable from the printed bounds.
    """
    value = float(value)
    if value == 0:
        return f"{0:.{digits}f}"
    text = f"{value:+.{digits}f}"
    return f"{value:+.1g}" if float(text) == 0 else text


def format_signed_interval(ci: Sequence[float], *, percent: bool = True) -> str:
    """An interval of a difference in signed points (fractions shown as percent by default), each bound by
    :func:`format_signed`: ``"[+0.7, +2.3]"``, ``"[+0.05, +3.9]"``."""
    scale = 100.0 if percent else 1.0
    return "[" + ", ".join(format_signed(scale * bound) for bound in ci) + "]"


def json_safe(value):
    """Copy of nested dicts/lists with ``nan`` as ``None`` and numpy scalars as Python ones."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# ----------------------------------------------------------------------------- confidence intervals

BOOTSTRAP_METHOD = "patient-level bootstrap, percentile interval"
_INTERVAL_KEYS = (("four_class", "sp", "se", "score"), ("two_class", "sp_2class", "se_2class", "score_2class"))


def _stacked_confusions(y_true: np.ndarray, y_pred: np.ndarray, patient_codes: np.ndarray, n_patients: int,
                        group_codes: np.ndarray, n_groups: int, n_classes: int) -> np.ndarray:
    """Confusion matrices per (run, patient, group) [shape=(n_runs, n_patients, n_groups, k, k)]."""
    n_runs = y_pred.shape[0]
    cms = np.zeros((n_runs, n_patients, n_groups, n_classes, n_classes), dtype=np.int64)
    runs = np.repeat(np.arange(n_runs), y_true.size)
    np.add.at(cms, (runs, np.tile(patient_codes, n_runs), np.tile(group_codes, n_runs), np.tile(y_true, n_runs),
                    y_pred.ravel()), 1)
    return cms


def _draws(cms: np.ndarray, weights: np.ndarray) -> tuple[dict, dict, int]:
    """Point values and resampled values of each number, averaged over runs.

    cms [shape=(n_runs, n_patients, k, k)]; weights [shape=(n_resamples, n_patients)].
    Returns (point {key: float or nan}, draws {key: (n_resamples,)}, n_runs).
    """
    n_runs = cms.shape[0]
    point = _scores_from_confusions(cms.sum(axis=1))
    resampled = _scores_from_confusions(np.einsum("bp,spij->bsij", weights, cms).reshape(-1, *cms.shape[2:]))
    keys = [key for _, *task_keys in _INTERVAL_KEYS for key in task_keys]
    with np.errstate(invalid="ignore"):
        # The mean over runs of each resample (nan where any run leaves the number undefined).
        draws = {key: resampled[key].reshape(-1, n_runs).mean(axis=1) for key in keys}
        points = {key: float(np.mean(point[key])) for key in keys}
    return points, draws, n_runs


def _summarise_draws(points: dict, draws: dict, level: float) -> dict:
    tail = 100 * (1 - level) / 2
    summary = {}
    for task, *keys in _INTERVAL_KEYS:
        summary[task] = {}
        for name, key in zip(("sp", "se", "score"), keys):
            estimate = points[key] if np.isfinite(points[key]) else None
            defined = draws[key][np.isfinite(draws[key])]
            # An interval needs most resamples to define the number (e.g. a device with few normal cycles).
            if estimate is None or defined.size < 0.5 * draws[key].size:
                summary[task][name] = {"value": estimate, "ci": None}
            else:
                low, high = np.percentile(defined, [tail, 100 - tail])
                summary[task][name] = {"value": estimate, "ci": [float(low), float(high)]}
    return summary


def _interval_summary(cms: np.ndarray, weights: np.ndarray, level: float) -> dict:
    points, draws, _ = _draws(cms, weights)
    return _summarise_draws(points, draws, level)


def _patient_weights(rng: np.random.Generator, n_patients: int, n_resamples: int) -> np.ndarray:
    return rng.multinomial(n_patients, np.full(n_patients, 1 / n_patients), size=n_resamples)


def _checked(y_true, y_pred, patients, n_classes: int):
    y_true = _as_labels(y_true, "y_true", n_classes)
    y_pred = np.stack([_as_labels(row, "y_pred", n_classes) for row in np.atleast_2d(np.asarray(y_pred))])
    patients = np.asarray(patients)
    if y_pred.shape[1] != y_true.size or patients.size != y_true.size:
        raise ValueError(f"y_true ({y_true.size}), y_pred ({y_pred.shape[-1]}) and patients ({patients.size}) "
                         "must have the same number of cycles")
    return y_true, y_pred, patients


def bootstrap_intervals_over_sets(sets: Sequence[tuple], *, n_resamples: int = 1000, seed: int = 0,
                                  level: float = 0.95, n_classes: int = 4) -> dict:
    """Intervals of the mean score over runs scored on *different* test sets (e.g. the folds of a
    cross-validation): each set's patients are resampled on their own, and each resample's
    numbers are averaged over all runs (weighted by the runs per set).

    Parameters
    ----------
    sets : sequence of (y_true, y_pred, patients)
        As for :func:`bootstrap_intervals`, one tuple per test set.

    Returns
    -------
    intervals : dict
        As :func:`bootstrap_intervals`, without ``per_group``; ``n_sets`` added.
    """
    if not sets:
        raise ValueError("no test sets given")
    rng = np.random.default_rng(seed)
    totals_points, totals_draws, runs = {}, {}, 0
    n_patients = 0
    for y_true, y_pred, patients in sets:
        y_true, y_pred, patients = _checked(y_true, y_pred, patients, n_classes)
        codes, ids = pd.factorize(patients, sort=True)
        cms = _stacked_confusions(y_true, y_pred, codes, len(ids), np.zeros(y_true.size, dtype=np.int64), 1,
                                  n_classes)[:, :, 0]
        points, draws, n_runs = _draws(cms, _patient_weights(rng, len(ids), n_resamples))
        for key in points:
            totals_points[key] = totals_points.get(key, 0.0) + n_runs * points[key]
            totals_draws[key] = totals_draws.get(key, 0.0) + n_runs * draws[key]
        runs += n_runs
        n_patients += len(ids)
    summary = _summarise_draws({k: v / runs for k, v in totals_points.items()},
                               {k: v / runs for k, v in totals_draws.items()}, level)
    return {"method": BOOTSTRAP_METHOD + " (each test set resampled on its own)", "n_resamples": n_resamples,
            "seed": seed, "level": level, "n_patients": n_patients, "n_runs": runs, "n_sets": len(sets), **summary}


def bootstrap_intervals(y_true, y_pred, patients, *, groups=None, all_groups: Sequence | None = None,
                        n_resamples: int = 1000, seed: int = 0, level: float = 0.95, n_classes: int = 4) -> dict:
    """Confidence intervals of the ICBHI Sp, Se and Score by a patient-level bootstrap.

    Test patients are resampled with replacement (``n_resamples`` times, seeded), every
    cycle of a drawn patient coming along, and the scores recomputed; the interval is the
    central ``level`` fraction of the resampled scores. Cycles of one patient are not
    independent, so resampling cycles would understate the width; with the official test
    split's 49 patients the intervals are wide, and a reader should see how wide.

    Parameters
    ----------
    y_true : array-like of int [shape=(n_cycles,)]
    y_pred : array-like of int [shape=(n_cycles,) or (n_runs, n_cycles)]
        Predictions; several runs (e.g. seeds) scored on the same cycles give the interval
        of their mean score (each resample scores every run on the same patients).
    patients : array-like [shape=(n_cycles,)]
        Patient of each cycle: the resampling unit.
    groups : array-like [shape=(n_cycles,)], optional
        E.g. the device of each cycle: adds ``per_group`` intervals, from the same resamples.
    all_groups : sequence, optional
        Groups to report even without cycles (their values are ``None``).
    n_resamples, seed, level : int, int, float
    n_classes : int

    Returns
    -------
    intervals : dict
        ``{"method", "n_resamples", "seed", "level", "n_patients", "n_runs",
        "four_class": {"sp": {"value", "ci": [low, high]}, "se": ..., "score": ...},
        "two_class": {...}, "per_group": {group: {"four_class": ..., "two_class": ...}}}``,
        as fractions. ``ci`` is ``None`` where the number is undefined in most resamples.
    """
    y_true, y_pred, patients = _checked(y_true, y_pred, patients, n_classes)
    if n_resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need n_resamples >= 1 and 0 < level < 1, got {n_resamples}, {level}")
    patient_codes, patient_ids = pd.factorize(patients, sort=True)
    names: list = list(all_groups) if all_groups is not None else []
    if groups is not None:
        groups = np.asarray(groups)
        names += [g for g in pd.unique(groups) if g not in set(names)]
        group_codes = pd.Index(names).get_indexer(groups)
    else:
        group_codes = np.zeros(y_true.size, dtype=np.int64)
    n_patients = len(patient_ids)
    cms = _stacked_confusions(y_true, y_pred, patient_codes, n_patients, group_codes, max(len(names), 1),
                              n_classes)
    weights = _patient_weights(np.random.default_rng(seed), n_patients, n_resamples)
    result = {"method": BOOTSTRAP_METHOD, "n_resamples": n_resamples, "seed": seed, "level": level,
              "n_patients": n_patients, "n_runs": y_pred.shape[0], **_interval_summary(cms.sum(axis=2), weights, level)}
    if groups is not None:
        result["per_group"] = {str(name): _interval_summary(cms[:, :, index], weights, level)
                               for index, name in enumerate(names)}
    return result


def paired_bootstrap(sets: Sequence[tuple], *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
                     n_classes: int = 4) -> dict:
    """Paired patient bootstrap of the difference ``second − first`` between two rows of a table.

    The two rows were trained on the same seeds (and folds) and scored on the same test cycles,
    so each resample draws the test patients *once* and scores both rows on them (the same
    weights as :func:`bootstrap_intervals`); the interval is that of the mean difference over
    the pairs. It covers the resampling of test patients only: the training noise is seen in
    the per-pair differences (``per_pair``), shown beside it, not in the interval.

    Parameters
    ----------
    sets : sequence of (y_true, pred_first, pred_second, patients)
        One tuple per test set (a split, or each fold of a cross-validation, whose patients are
        resampled on their own). ``y_true`` and ``patients`` [shape=(n_cycles,)];
        ``pred_first`` and ``pred_second`` [shape=(n_pairs, n_cycles)], row ``i`` of both
        from the same seed.
    n_resamples, seed, level : int, int, float
    n_classes : int

    Returns
    -------
    comparison : dict
        ``{"method", "n_resamples", "seed", "level", "n_patients", "n_pairs",
        "four_class": {"sp": {"per_pair": [...], "mean", "ci": [low, high] or None}, "se": ..., "score": ...},
        "two_class": {...}}``, as fractions (differences of fractions).
    """
    if not sets:
        raise ValueError("no test sets given")
    if n_resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need n_resamples >= 1 and 0 < level < 1, got {n_resamples}, {level}")
    rng = np.random.default_rng(seed)
    per_pair: dict[str, list] = {}
    totals: dict[str, np.ndarray] = {}
    pairs = n_patients = 0
    for y_true, first, second, patients in sets:
        y_true, first, patients = _checked(y_true, first, patients, n_classes)
        _, second, _ = _checked(y_true, second, patients, n_classes)
        if first.shape != second.shape:
            raise ValueError(f"the two rows need the same runs: {first.shape[0]} and {second.shape[0]} given")
        codes, ids = pd.factorize(patients, sort=True)
        no_groups = np.zeros(y_true.size, dtype=np.int64)
        cms = [_stacked_confusions(y_true, pred, codes, len(ids), no_groups, 1, n_classes)[:, :, 0]
               for pred in (first, second)]
        weights = _patient_weights(rng, len(ids), n_resamples)  # one draw of patients for both rows
        (_, draws_first, n_runs), (_, draws_second, _) = (_draws(cm, weights) for cm in cms)
        points = [_scores_from_confusions(cm.sum(axis=1)) for cm in cms]
        for key in draws_first:
            per_pair.setdefault(key, []).extend(np.asarray(points[1][key] - points[0][key], dtype=float).tolist())
            totals[key] = totals.get(key, 0.0) + n_runs * (draws_second[key] - draws_first[key])
        pairs += n_runs
        n_patients += len(ids)
    tail = 100 * (1 - level) / 2
    result = {"method": "paired " + BOOTSTRAP_METHOD + " (both rows scored on the same resampled test patients)",
              "n_resamples": n_resamples, "seed": seed, "level": level, "n_patients": n_patients, "n_pairs": pairs}
    for task, *keys in _INTERVAL_KEYS:
        result[task] = {}
        for name, key in zip(("sp", "se", "score"), keys):
            differences = np.asarray(per_pair[key], dtype=float)
            draws = totals[key] / pairs
            defined = draws[np.isfinite(draws)]
            mean = float(differences.mean()) if np.isfinite(differences).all() else None
            ci = None if mean is None or defined.size < 0.5 * draws.size else \
                [float(v) for v in np.percentile(defined, [tail, 100 - tail])]
            result[task][name] = {"per_pair": [None if not np.isfinite(d) else float(d) for d in differences],
                                  "mean": mean, "ci": ci}
    return result


def patient_bootstrap_mean(values, patients, *, n_resamples: int = 1000, seed: int = 0,
                           level: float = 0.95) -> dict:
    """The mean of a per-cycle quantity with its patient-level bootstrap interval.

    Cycles of one patient are alike, so patients (not cycles) are drawn with replacement, as in
    :func:`bootstrap_intervals`. For a paired quantity, pass per-cycle differences.

    Parameters
    ----------
    values : array-like, shape (n_cycles,)
    patients : array-like, shape (n_cycles,)

    Returns
    -------
    dict
        ``mean``, ``ci`` ([low, high] at ``level``; None with fewer than two patients) and ``n_patients``.
    """
    values = np.asarray(values, dtype=float)
    patients = np.asarray(patients)
    if values.size == 0 or values.size != patients.size:
        raise ValueError(f"values ({values.size}) and patients ({patients.size}) must be the same, non-zero length")
    codes, inverse = np.unique(patients, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=codes.size)
    counts = np.bincount(inverse, minlength=codes.size).astype(float)
    result = {"mean": float(values.mean()), "ci": None, "n_patients": int(codes.size)}
    if codes.size > 1:
        weights = _patient_weights(np.random.default_rng(seed), codes.size, n_resamples)
        draws = (weights @ sums) / (weights @ counts)
        tail = (1 - level) / 2
        result["ci"] = [float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))]
    return result

def exceeds_noise(entry: Mapping) -> bool:
    """The rule by which a paired difference (an entry of :func:`paired_bootstrap`) is called real.

    Its interval excludes 0 (the test patients could not have made it) *and* at least two pairs
    (seeds) all differ in the same direction (the training noise could not have): with one seed
    the training noise is unknown, so nothing is called a difference.
    """
    differences, ci = entry["per_pair"], entry["ci"]
    if ci is None or len(differences) < 2 or any(d is None for d in differences):
        return False
    return (ci[0] > 0 and all(d > 0 for d in differences)) or (ci[1] < 0 and all(d < 0 for d in differences))


def format_entry(entry: Mapping | None) -> str:
    """:func:`format_interval` of one ``{"value", "ci"}`` entry of :func:`bootstrap_intervals`; "–" for none."""
    return format_interval(entry["value"], entry["ci"]) if entry else "–"


def format_interval(value: float | None, ci: Sequence[float] | None, *, percent: bool = True, digits: int = 1) -> str:
    """``"55.2 [51.0, 59.3]"`` (fractions shown as percent by default); ``"–"`` when undefined."""
    if value is None or not np.isfinite(value):
        return "–"
    scale = 100.0 if percent else 1.0
    text = f"{value * scale:.{digits}f}"
    return text if ci is None else f"{text} [{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"
