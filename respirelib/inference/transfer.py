"""Does a model trained on synthetic data tell real normal cycles from abnormal ones? (2-class transfer)

An exported model (:func:`respirelib.inference.export.load_exported_model`) predicts every
annotated cycle of a folder of real recordings exactly as ``respirenet predict --annotations``
does (:func:`respirelib.inference.predict.predict_recording`): the recording is pre-processed
whole, each cycle is padded with its neighbours whatever their class, and the annotation
flags are echoed as ``true_label`` and never reach an input. Any abnormal prediction
(crackle, wheeze or both) of an abnormal cycle counts as detected, as the ICBHI 2-class task
scores it.

Each proportion comes with an exact (Clopper-Pearson) interval over cycles. Cycles of one
recording, and recordings of one patient, are not independent, so with a handful of patients
the true uncertainty is wider than that interval: it is a lower bound on how little such a
sample proves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from respirelib.config import CLASS_NAMES
from respirelib.data.icbhi import load_icbhi
from respirelib.inference.export import ExportedModel
from respirelib.inference.predict import predict_recording


def proportion_interval(successes: int, trials: int, *, level: float = 0.95) -> list[float] | None:
    """Exact (Clopper-Pearson) interval of a proportion; None when there are no trials."""
    if trials == 0:
        return None
    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="exact")
    return [float(interval.low), float(interval.high)]


def two_class_transfer(true_labels, predicted, *, level: float = 0.95) -> dict:
    """2-class specificity and sensitivity of cycle predictions, with counts and exact intervals.

    Parameters
    ----------
    true_labels, predicted : sequence of str [shape=(n_cycles,)]
        Class names of :data:`respirelib.config.CLASS_NAMES`.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    dict
        ``n_normal``, ``n_abnormal``, ``true_negative`` (normal predicted normal),
        ``false_positive``, ``true_positive`` (abnormal predicted as any abnormal class),
        ``false_negative``, ``specificity``, ``sensitivity``, ``score`` (their mean; None where
        undefined), ``specificity_ci``, ``sensitivity_ci`` and ``level``.
    """
    truth = np.asarray(true_labels, dtype=object)
    guess = np.asarray(predicted, dtype=object)
    if truth.shape != guess.shape:
        raise ValueError(f"{truth.shape[0]} true labels against {guess.shape[0]} predictions")
    unknown = sorted((set(truth.tolist()) | set(guess.tolist())) - set(CLASS_NAMES))
    if unknown:
        raise ValueError(f"unknown class names {unknown}; expected {CLASS_NAMES}")
    normal, called_normal = truth == "normal", guess == "normal"
    tn, fp = int(np.sum(normal & called_normal)), int(np.sum(normal & ~called_normal))
    tp, fn = int(np.sum(~normal & ~called_normal)), int(np.sum(~normal & called_normal))
    sp = tn / (tn + fp) if tn + fp else None
    se = tp / (tp + fn) if tp + fn else None
    return {"n_normal": tn + fp, "n_abnormal": tp + fn, "true_negative": tn, "false_positive": fp,
            "true_positive": tp, "false_negative": fn, "specificity": sp, "sensitivity": se,
            "score": (sp + se) / 2 if sp is not None and se is not None else None,
            "specificity_ci": proportion_interval(tn, tn + fp, level=level),
            "sensitivity_ci": proportion_interval(tp, tp + fn, level=level), "level": level}


def predict_real_cycles(model: ExportedModel, real_dir: str | Path) -> pd.DataFrame:
    """Every annotated cycle of every recording in ``real_dir``, predicted as ``respirenet predict`` would.

    Returns
    -------
    pd.DataFrame
        One row per cycle: ``recording``, ``device``, ``cycle``, ``start``, ``end``, ``true_label``
        (from the annotation flags, never an input), ``class`` (predicted), the four
        probabilities and ``model_used``.
    """
    dataset = load_icbhi(real_dir, errors="raise")
    if dataset.is_synthetic:
        raise ValueError(f"{real_dir} holds a synthetic set; the transfer check needs real recordings")
    if not dataset.has_audio:
        raise ValueError(f"{real_dir}: no audio in this folder; the transfer check needs the recordings")
    tables = []
    for _, recording in dataset.recordings.sort_values("recording").iterrows():
        result = predict_recording(model, recording["audio_path"], annotations=recording["annotation_path"])
        tables.append(result.table.assign(recording=recording["recording"], device=str(recording["device"])))
    columns = ["recording", "device", "cycle", "start", "end", "true_label", "class",
               *(f"p_{name}" for name in CLASS_NAMES), "model_used"]
    return pd.concat(tables, ignore_index=True)[columns]


def per_recording_counts(cycles: pd.DataFrame) -> list[dict]:
    """For each recording: its cycles by true class and how many of each were called abnormal."""
    rows = []
    for name, group in cycles.groupby("recording", sort=True):
        abnormal_call = group["class"] != "normal"
        rows.append({"recording": name, "device": group["device"].iloc[0], "cycles": int(len(group)),
                     "true": group["true_label"].value_counts().to_dict(),
                     "predicted": group["class"].value_counts().to_dict(),
                     "normal_called_abnormal": int((abnormal_call & (group["true_label"] == "normal")).sum()),
                     "abnormal_called_abnormal": int((abnormal_call & (group["true_label"] != "normal")).sum())})
    return rows
