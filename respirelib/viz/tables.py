"""Tables for the page: rounded numbers with units, no bare index column, missing values as "–"."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

MISSING = "–"
_METRICS = {"sp": "Sp", "se": "Se", "score": "Score"}
# Column names of the results tables (respirelib.experiments.tables) and the unit each is in.
_RESULT_COLUMN = re.compile(r"^(sp|se|score)(?: (ours|paper))?$")


def with_units(column: str, units: dict | None = None) -> str:
    """A column's name with its unit: ``"score ours"`` → ``"Score ours (%)"``, ``"sp paper"`` →
    ``"Sp paper (%)"``; ``units`` names the unit of any other column (``{"change": "points"}``)."""
    column = str(column)
    if units and column in units:
        return f"{column} ({units[column]})"
    match = _RESULT_COLUMN.match(column)
    if not match:
        return column
    metric, kind = _METRICS[match[1]], match[2]
    return f"{metric}{' ' + kind if kind else ''} (%)"


def page_table(table: pd.DataFrame, *, digits: int = 1, formats: dict | None = None, units: dict | None = None):
    """A styled table for a notebook: numbers rounded to ``digits``, "–" for missing, no bare index.

    A named index (e.g. ``device``) becomes an ordinary first column; an unnamed range index is
    hidden. ``formats`` maps columns to format strings or functions (e.g. ``{"share": "{:.1%}"}``);
    column names gain their unit (:func:`with_units`, with ``units`` for columns it cannot know).

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    frame = table.copy()
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    renamed = {column: with_units(column, units) for column in frame.columns}
    frame.columns = [renamed[column] for column in frame.columns]

    def cell(value):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return MISSING
        if isinstance(value, (float, np.floating)):
            return f"{value:.{digits}f}"
        return value

    # One format call with a formatter per column: each further ``Styler.format`` call resets the
    # formatters of the columns it is not given (pandas >= 2), so a loop would keep only the last.
    specific = {renamed.get(column, column): spec for column, spec in (formats or {}).items()}
    formatters = {column: _with_missing(specific[column]) if column in specific else cell
                  for column in frame.columns}
    return frame.style.hide(axis="index").format(formatters)


def _with_missing(spec):
    """``spec`` (a format string or a function) with missing values shown as :data:`MISSING`."""
    def formatted(value):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return MISSING
        return spec.format(value) if isinstance(spec, str) else spec(value)

    return formatted
