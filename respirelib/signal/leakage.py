"""How much the paper's label-aware smart padding lets test labels shape test inputs.

Smart padding (paper, section II-A) fills a short cycle with its neighbours only if
their class is the cycle's own or normal. At evaluation that choice reads the test
labels: two cycles that sound alike get different inputs because of their labels. This
module counts, from the annotations alone (no audio), the cycles whose input would
differ between label-aware smart padding and the label-free ``"context"`` padding that
evaluation and prediction use here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from respirelib.config import NORMAL
from respirelib.signal.padding import neighbour_pieces


def padding_differences(cycles: pd.DataFrame, *, sr: int = 4000, duration: float = 7.0,
                        reach: int = 1) -> pd.DataFrame:
    """One row per cycle shorter than ``duration``: does label-aware padding refuse a neighbour?

    Parameters
    ----------
    cycles : pd.DataFrame
        A cycles table (:func:`respirelib.data.icbhi.load_icbhi`): ``recording``, ``cycle_index``,
        ``start``, ``end``, ``label_id`` (and any other columns, carried along).
    sr : int
        Rate at which lengths are counted (the model's 4 kHz).
    duration : float
        Input length in seconds.
    reach : int
        Neighbours on each side that padding may borrow from.

    Returns
    -------
    table : pd.DataFrame
        The short cycles' rows with ``differs`` (the label-aware input is not the
        label-free one) and ``refused_abnormal`` (a neighbour the label-free input takes
        and the label-aware one refuses is abnormal).
    """
    n_target = int(round(duration * sr))
    records = []
    for _, group in cycles.groupby("recording", sort=True, observed=True):
        group = group.sort_values("cycle_index")
        lengths = np.maximum(np.round((group["end"] - group["start"]).to_numpy() * sr).astype(int), 1)
        labels = group["label_id"].to_numpy()
        for position, row in enumerate(group.index):
            need = n_target - lengths[position]
            if need <= 0:
                continue
            aware = neighbour_pieces(lengths, labels, position, need, reach)
            free = neighbour_pieces(lengths, None, position, need, reach)
            borrowed = {piece[0] for part in free for piece in part} - {position}
            kept = {piece[0] for part in aware for piece in part}
            refused = borrowed - kept
            records.append({"row": row, "differs": aware != free,
                            "refused_abnormal": any(labels[j] != NORMAL for j in refused)})
    result = pd.DataFrame(records, columns=["row", "differs", "refused_abnormal"]).set_index("row")
    return cycles.loc[result.index].join(result)


def padding_leak_summary(cycles: pd.DataFrame, *, part: str | None = "test", sr: int = 4000,
                         duration: float = 7.0, reach: int = 1) -> dict:
    """Counts behind "how many test inputs would the labels change", for one part of the split.

    Returns
    -------
    summary : dict
        ``n_cycles`` (in the part), ``n_short`` (shorter than ``duration``), ``n_differs``
        and ``share_differs`` (of the short ones), ``n_short_normal``,
        ``n_normal_refused_abnormal`` and ``share_normal_refused_abnormal``: short normal
        cycles whose label-free input borrows an abnormal neighbour that label-aware
        padding refuses.
    """
    selected = cycles if part is None else cycles[cycles["split"] == part]
    short = padding_differences(selected, sr=sr, duration=duration, reach=reach)
    normal = short[short["label_id"] == NORMAL]

    def share(n, d):
        return float(n / d) if d else None

    n_differs, n_refused = int(short["differs"].sum()), int(normal["refused_abnormal"].sum())
    return {"part": part, "input_seconds": duration, "n_cycles": int(len(selected)), "n_short": int(len(short)),
            "n_differs": n_differs, "share_differs": share(n_differs, len(short)),
            "n_short_normal": int(len(normal)), "n_normal_refused_abnormal": n_refused,
            "share_normal_refused_abnormal": share(n_refused, len(normal))}


def padding_leak_in_words(leak: dict, *, source: str) -> str:
    """One sentence (Markdown) from a :func:`padding_leak_summary`: how many short test inputs the labels would
    change. A part with no short (or no short normal) cycles says so rather than printing a share of nothing."""

    def counted(n: int, total: int, share: float | None, what: str) -> str:
        return f"**{n} of {total} {what} ({share:.1%})**" if share is not None else f"no {what} (0 of 0)"

    differ = counted(leak["n_differs"], leak["n_short"], leak["share_differs"], "short test cycles")
    hidden = counted(leak["n_normal_refused_abnormal"], leak["n_short_normal"],
                     leak["share_normal_refused_abnormal"], "short normal ones")
    return (f"On {source} ({leak['n_cycles']} test cycles, {leak['input_seconds']:g} s inputs): {differ} would get "
            f"another input from label-aware padding; {hidden} would have an abnormal neighbour hidden.")


def padding_example(cycles: pd.DataFrame, sample_rates: pd.Series, *, sr: int = 4000, duration: float = 7.0,
                    reach: int = 1, seed: int = 0) -> pd.Series:
    """A cycle that shows what padding does: short, abnormal, from a highest-rate recording, and one whose
    label-aware (smart) input differs from the label-free (context) one while smart padding still borrows.

    Preferences fall back one by one (dropping "short and abnormal", then "highest rate", then the
    difference) where the data offer no such cycle; among the cycles of the first that matches, one is
    drawn with ``seed``.

    Parameters
    ----------
    cycles : pd.DataFrame
        A cycles table (``recording``, ``cycle_index``, ``start``, ``end``, ``duration``, ``label_id``).
    sample_rates : pd.Series
        Each recording's sample rate, indexed by recording.
    sr, duration, reach :
        As in :func:`padding_differences`.

    Returns
    -------
    pd.Series
        The chosen cycle's row of ``cycles``.
    """
    ordered = cycles.sort_values(["recording", "cycle_index"])
    next_label = ordered.groupby("recording", observed=True)["label_id"].shift(-1)
    borrows = next_label.eq(NORMAL) | next_label.eq(ordered["label_id"])
    differs = padding_differences(ordered, sr=sr, duration=duration, reach=reach)["differs"]
    differs = differs.reindex(ordered.index, fill_value=False).astype(bool)
    rate = ordered["recording"].map(sample_rates).astype(float)
    fastest, short = rate == rate.max(), ordered["duration"] < duration / 2
    preferences = [fastest & short & borrows & differs & (ordered["label_id"] != NORMAL),
                   fastest & borrows & differs, borrows & differs, fastest & short & borrows, fastest]
    return ordered[next(mask for mask in preferences if mask.any())].sample(1, random_state=seed).iloc[0]
