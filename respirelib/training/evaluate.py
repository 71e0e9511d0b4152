"""Scoring a model on a set of inputs: window predictions, combined per cycle, ICBHI metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from respirelib.config import CLASS_NAMES
from respirelib.training.metrics import combine_window_predictions, confusion_matrix, icbhi_scores, per_group_scores
from respirelib.data.names import DEVICES
from respirelib.precision import autocast, memory_format, resolve_precision
from respirelib.signal.samples import SampleSet


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, frontend: torch.nn.Module, samples: SampleSet, *,
                          batch_size: int = 128, precision: str = "auto") -> np.ndarray:
    """Softmax probabilities of every input [shape=(n, n_classes)], in eval mode; modes restored after.

    ``precision`` (:mod:`respirelib.precision`): the model and images are put in the layout
    :func:`~respirelib.precision.memory_format` chooses (channels-last on a CPU and under bf16; the
    model in place, its values do not change) and under bf16 the forward pass runs in autocast;
    the softmax is computed in float32.
    """
    device = next(model.parameters()).device
    precision = resolve_precision(precision, device)
    layout = memory_format(precision, device)
    was_training = model.training
    model.eval()
    if layout is torch.channels_last:
        model.to(memory_format=layout)
    outputs = []
    try:
        for start in range(0, len(samples), batch_size):
            wave = samples.waves[start:start + batch_size].to(device, non_blocking=True)
            images = frontend(wave).contiguous(memory_format=layout)
            with autocast(device, precision):
                logits = model(images)
            outputs.append(torch.softmax(logits.float(), dim=1).cpu())
    finally:
        model.train(was_training)
    if not outputs:
        return np.zeros((0, len(CLASS_NAMES)), dtype=np.float32)
    return torch.cat(outputs).numpy()


def cycle_predictions(probs: np.ndarray, samples: SampleSet, *, rule: str = "mean") -> pd.DataFrame:
    """One row per cycle: ``cycle_row``, ``device``, ``label_id``, ``pred``, ``n_windows`` and ``p_<class>``."""
    combined = combine_window_predictions(probs, samples.cycle_rows, rule=rule, labels=samples.labels.cpu().numpy())
    first_window = pd.Series(np.arange(len(samples))).groupby(samples.cycle_rows).first()
    table = pd.DataFrame({"cycle_row": np.asarray(combined.cycle_ids, dtype=np.int64),
                          "label_id": np.asarray(combined.labels, dtype=np.int64),
                          "pred": np.asarray(combined.pred, dtype=np.int64),
                          "n_windows": np.asarray(combined.n_windows)})
    table["device"] = samples.devices[first_window.loc[table["cycle_row"]].to_numpy()]
    for index, name in enumerate(CLASS_NAMES):
        table[f"p_{name}"] = np.asarray(combined.scores)[:, index]
    return table


def score_predictions(table: pd.DataFrame) -> dict:
    """ICBHI metrics of a :func:`cycle_predictions` table: overall, per device, confusion matrix."""
    scores = icbhi_scores(table["label_id"], table["pred"])
    per_device = per_group_scores(table["label_id"], table["pred"], table["device"], all_groups=DEVICES)
    scores["per_device"] = {str(device): {key: (None if isinstance(value, float) and np.isnan(value) else value)
                                          for key, value in row.items()}
                            for device, row in per_device.to_dict(orient="index").items()}
    scores["confusion"] = confusion_matrix(table["label_id"], table["pred"]).tolist()
    return scores


def evaluate_samples(model: torch.nn.Module, frontend: torch.nn.Module, samples: SampleSet, *,
                     batch_size: int = 128, rule: str = "mean", precision: str = "auto") -> tuple[dict, pd.DataFrame]:
    """Score ``model`` on ``samples``: (metrics dict, per-cycle predictions table)."""
    probs = predict_probabilities(model, frontend, samples, batch_size=batch_size, precision=precision)
    table = cycle_predictions(probs, samples, rule=rule)
    return score_predictions(table), table


#: The presence thresholds :func:`choose_presence_thresholds` tries by default: 0.20 to 0.80 in steps of 0.05.
PRESENCE_THRESHOLD_GRID = tuple(round(0.20 + 0.05 * step, 2) for step in range(13))


def presence_decisions(probabilities, *, crackle_threshold: float = 0.5, wheeze_threshold: float = 0.5) -> np.ndarray:
    """Classes (0 normal, 1 crackle, 2 wheeze, 3 both) decided by thresholding the presences ``probabilities`` imply.

    ``probabilities [shape=(n, 4)]`` are of normal, crackle, wheeze and both; crackle is present when
    ``p_crackle + p_both`` exceeds ``crackle_threshold`` and wheeze when ``p_wheeze + p_both`` exceeds
    ``wheeze_threshold``. For one window of a presence head at 0.5 / 0.5 this is the argmax; for a cycle's mean
    over windows it can differ from the argmax on a rare cycle. Returns ``[shape=(n,)]`` int64.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(CLASS_NAMES):
        raise ValueError(f"probabilities must have shape (n, {len(CLASS_NAMES)}), got {probabilities.shape}")
    crackle = probabilities[:, 1] + probabilities[:, 3] > crackle_threshold
    wheeze = probabilities[:, 2] + probabilities[:, 3] > wheeze_threshold
    return crackle.astype(np.int64) + 2 * wheeze.astype(np.int64)


def choose_presence_thresholds(labels, probabilities, *,
                               grid=PRESENCE_THRESHOLD_GRID) -> tuple[float, float, float]:
    """The crackle and wheeze thresholds on ``grid`` whose :func:`presence_decisions` maximise the 4-class ICBHI
    Score of ``labels [shape=(n,)]``; ties go to the pair nearest 0.5 / 0.5 (the sum of the distances).

    Returns ``(crackle_threshold, wheeze_threshold, score)``. Choose them on validation cycles only: chosen on
    the cycles they are then scored on, the score is optimistic.
    """
    labels = np.asarray(labels)
    best = None
    for crackle_threshold in grid:
        for wheeze_threshold in grid:
            decisions = presence_decisions(probabilities, crackle_threshold=crackle_threshold,
                                           wheeze_threshold=wheeze_threshold)
            score = icbhi_scores(labels, decisions)["four_class"]["score"]
            key = (score, -abs(crackle_threshold - 0.5) - abs(wheeze_threshold - 0.5))
            if best is None or key > best[0]:
                best = (key, float(crackle_threshold), float(wheeze_threshold), float(score))
    if best is None:
        raise ValueError("grid holds no threshold")
    return best[1], best[2], best[3]
