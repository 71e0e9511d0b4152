"""Reading one cycle annotation file: rows of ``start end crackle wheeze`` (or ``start end``), one parser for all."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from respirelib.errors import DataError

ANNOTATION_COLUMNS = ("cycle_index", "line", "start", "end", "crackle", "wheeze")


def label_from_flags(crackle, wheeze):
    """The 4-class label name from the two flags (works on scalars and pandas Series)."""
    names = {(0, 0): "normal", (1, 0): "crackle", (0, 1): "wheeze", (1, 1): "both"}
    if isinstance(crackle, pd.Series):
        return pd.Series([names[(int(c), int(w))] for c, w in zip(crackle, wheeze)], index=crackle.index)
    return names[(int(crackle), int(wheeze))]


def _row_problem(fields: list[str], n_fields: tuple[int, ...]) -> tuple[str | None, tuple | None]:
    """Why a row of ``fields`` cannot be used (None if it can), and its values."""
    if len(fields) not in n_fields:
        if n_fields == (4,):
            return f"expected 4 fields 'start end crackle wheeze', got {len(fields)}", None
        if n_fields == (2,):
            return f"expected 2 fields 'start end' like the file's first row, got {len(fields)}", None
        return f"expected 2 or 4 fields ('start end' or 'start end crackle wheeze'), got {len(fields)}", None
    try:
        start, end = float(fields[0]), float(fields[1])
    except ValueError:
        return f"start/end are not numbers: {fields[0]!r}, {fields[1]!r}", None
    if not (math.isfinite(start) and math.isfinite(end)):
        return f"start/end are not finite: {fields[0]!r}, {fields[1]!r}", None
    if start < 0 or end < 0:
        return f"negative time ({start}, {end})", None
    if end <= start:
        return f"end {end} is not after start {start}", None
    if len(fields) == 2:
        return None, (start, end)
    if fields[2] not in ("0", "1") or fields[3] not in ("0", "1"):
        return f"crackle/wheeze flags must be 0 or 1, got {fields[2]!r}, {fields[3]!r}", None
    return None, (start, end, int(fields[2]), int(fields[3]))


def parse_annotation_file(path: str | Path, *, require_flags: bool = True,
                          strict: bool = False) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Parse an annotation file into valid cycles and a list of bad rows.

    Rows are whitespace separated: ``start end crackle wheeze`` (ICBHI), times in
    seconds and flags 0 or 1; blank lines are skipped.

    Parameters
    ----------
    path : str or Path
    require_flags : bool
        With ``False``, rows of ``start end`` alone are accepted too (cycle boundaries
        of a new recording); the file's first row with 2 or 4 fields sets the format of
        all rows, so one file never mixes them.
    strict : bool
        Raise on the first bad row instead of returning it in ``problems``.

    Returns
    -------
    cycles : pd.DataFrame
        Columns :data:`ANNOTATION_COLUMNS` (without ``crackle`` and ``wheeze`` for a
        file of ``start end`` rows), rows in file order. ``cycle_index`` is the 0-based
        position of the row among the file's non-blank rows, so it stays traceable to
        the file even when a bad row before it is skipped; ``line`` is its line number.
    problems : list of (line number, problem)
        Rows that could not be used; the caller decides whether to raise or skip.

    Raises
    ------
    DataError
        If the file cannot be read as text, or holds no row at all, or (with
        ``strict``) has a bad row; the message names the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read annotation file ({error})") from error
    rows, problems = [], []
    n_fields = (4,) if require_flags else (2, 4)
    cycle_index = 0
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        problem, values = _row_problem(fields, n_fields)
        if len(fields) in n_fields:
            n_fields = (len(fields),)
        if problem and strict:
            raise DataError(path, problem, line=number)
        if problem:
            problems.append((number, problem))
        else:
            rows.append((cycle_index, number, *values))
        cycle_index += 1
    if cycle_index == 0:
        raise DataError(path, "annotation file is empty (no cycle rows)")
    columns = list(ANNOTATION_COLUMNS) if n_fields != (2,) else list(ANNOTATION_COLUMNS[:4])
    return pd.DataFrame(rows, columns=columns), problems


def fit_cycles_to_audio(cycles: pd.DataFrame, *, duration: float,
                        end_tolerance: float) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """The one rule for annotated cycles that run past their recording's end.

    A cycle that ends at most ``end_tolerance`` seconds after the audio (and starts inside it) is a
    rounding of the annotation: its end is clipped to the audio's end. Any other cycle past the end lies
    outside the audio. The callers decide what an outside cycle means: the loader leaves it out and
    reports it, ``predict`` refuses the file.

    Parameters
    ----------
    cycles : pd.DataFrame
        With columns ``start`` and ``end`` in seconds.
    duration : float
        Length of the audio in seconds.
    end_tolerance : float
        Seconds a cycle may overrun the audio and be clipped.

    Returns
    -------
    fitted : pd.DataFrame
        ``cycles`` with the clipped ends (outside cycles kept unchanged).
    clipped : pd.Series [dtype=bool]
        Cycles whose end was clipped.
    outside : pd.Series [dtype=bool]
        Cycles that lie outside the audio.
    """
    past = cycles["end"] > duration
    if not past.any():  # the usual case: a copy, without building the masks' frames
        return cycles.copy(), past, past.copy()
    outside = past & ((cycles["end"] - duration > end_tolerance) | (cycles["start"] >= duration))
    clipped = past & ~outside
    fitted = cycles.assign(end=np.where(clipped, duration, cycles["end"].to_numpy()))
    return fitted, clipped, outside
