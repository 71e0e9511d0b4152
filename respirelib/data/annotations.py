"""Reading one ICBHI cycle annotation file: rows of ``start end crackle wheeze``."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from respirelib.errors import DataError

ANNOTATION_COLUMNS = ("cycle_index", "start", "end", "crackle", "wheeze")


def label_from_flags(crackle, wheeze):
    """The 4-class label name from the two flags (works on scalars and pandas Series)."""
    names = {(0, 0): "normal", (1, 0): "crackle", (0, 1): "wheeze", (1, 1): "both"}
    if isinstance(crackle, pd.Series):
        return pd.Series([names[(int(c), int(w))] for c, w in zip(crackle, wheeze)], index=crackle.index)
    return names[(int(crackle), int(wheeze))]


def _row_problem(fields: list[str]) -> tuple[str | None, tuple | None]:
    if len(fields) != 4:
        return f"expected 4 fields 'start end crackle wheeze', got {len(fields)}", None
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
    if fields[2] not in ("0", "1") or fields[3] not in ("0", "1"):
        return f"crackle/wheeze flags must be 0 or 1, got {fields[2]!r}, {fields[3]!r}", None
    return None, (start, end, int(fields[2]), int(fields[3]))


def parse_annotation_file(path: str | Path) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Parse an annotation file into valid cycles and a list of bad rows.

    Returns
    -------
    cycles : pd.DataFrame
        Columns :data:`ANNOTATION_COLUMNS`. ``cycle_index`` is the 0-based position of
        the row among the file's non-blank rows, so it stays traceable to the file
        even when a bad row before it is skipped.
    problems : list of (line number, problem)
        Rows that could not be used; the caller decides whether to raise or skip.

    Raises
    ------
    DataError
        If the file cannot be read as text, or holds no row at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read annotation file ({error})") from error
    rows, problems = [], []
    cycle_index = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        problem, values = _row_problem(line.split())
        if problem:
            problems.append((number, problem))
        else:
            rows.append((cycle_index, *values))
        cycle_index += 1
    if cycle_index == 0:
        raise DataError(path, "annotation file is empty (no cycle rows)")
    return pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS)), problems
