"""Readers for the ICBHI metadata files, tolerant of the quirks of the real releases.

- ``ICBHI_challenge_train_test.txt``: ``NAME<TAB>train|test`` with CRLF line endings.
- the diagnosis file (``patient_diagnosis.csv`` or ``ICBHI_Challenge_diagnosis.txt``):
  ``PID,DIAGNOSIS`` or tab separated, with or without a header line.
- the demographic file (``demographic_info.txt`` or ``ICBHI_Challenge_demographic_information.txt``):
  space or tab separated, a leading blank line, ``NA`` for missing values, no final newline.
- ``filename_differences.txt``: old-release recording names, one per line, in single quotes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from respirelib.errors import DataError

SPLIT_FILE_NAMES = ("ICBHI_challenge_train_test.txt",)
DIAGNOSIS_FILE_NAMES = ("patient_diagnosis.csv", "ICBHI_Challenge_diagnosis.txt", "ICBHI_challenge_diagnosis.txt")
DEMOGRAPHIC_FILE_NAMES = ("demographic_info.txt", "ICBHI_Challenge_demographic_information.txt",
                          "ICBHI_challenge_demographic_information.txt")
DIFFERENCES_FILE_NAMES = ("filename_differences.txt",)
DEMOGRAPHIC_COLUMNS = ("patient", "age", "sex", "adult_bmi", "child_weight", "child_height")


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; CRLF, CR and a missing final newline are all fine."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(path, f"not a UTF-8 text file ({error})") from error
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_split_file(path: str | Path) -> dict[str, str]:
    """Read the official train/test split: ``{recording name: "train" | "test"}``."""
    path = Path(path)
    split = {}
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) != 2 or fields[1].lower() not in ("train", "test"):
            raise DataError(path, f"expected 'NAME<TAB>train|test', got {line!r}", line=number)
        name, part = fields[0], fields[1].lower()
        if split.get(name, part) != part:
            raise DataError(path, f"{name} is listed as both train and test", line=number)
        split[name] = part
    if not split:
        raise DataError(path, "split file lists no recordings")
    return split


def read_diagnosis_file(path: str | Path) -> pd.DataFrame:
    """Read the patient diagnoses: columns ``patient`` (int) and ``diagnosis`` (str).

    A first line whose first field is not a patient number is taken as a header.
    """
    path = Path(path)
    rows = []
    for position, (number, line) in enumerate(_lines(path)):
        fields = [field.strip() for field in re.split(r"[,\t;]|\s+", line, maxsplit=1)]
        if position == 0 and not fields[0].isdigit():
            continue  # header line (present in some copies, absent in others)
        if len(fields) != 2 or not fields[0].isdigit() or not fields[1]:
            raise DataError(path, f"expected 'PATIENT,DIAGNOSIS', got {line!r}", line=number)
        rows.append((int(fields[0]), fields[1]))
    frame = pd.DataFrame(rows, columns=["patient", "diagnosis"])
    duplicated = frame["patient"][frame["patient"].duplicated()]
    if len(duplicated):
        raise DataError(path, f"patient {int(duplicated.iloc[0])} has more than one diagnosis")
    return frame


def read_demographic_file(path: str | Path) -> pd.DataFrame:
    """Read the demographic table; ``NA`` becomes missing. Columns: :data:`DEMOGRAPHIC_COLUMNS`."""
    path = Path(path)
    rows = []
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) != len(DEMOGRAPHIC_COLUMNS) or not fields[0].isdigit():
            raise DataError(path, f"expected {len(DEMOGRAPHIC_COLUMNS)} fields "
                                  f"({' '.join(DEMOGRAPHIC_COLUMNS)}), got {line!r}", line=number)
        rows.append([None if value.upper() == "NA" else value for value in fields])
    frame = pd.DataFrame(rows, columns=list(DEMOGRAPHIC_COLUMNS))
    frame["patient"] = frame["patient"].astype(int)
    for column in ("age", "adult_bmi", "child_weight", "child_height"):
        try:
            frame[column] = pd.to_numeric(frame[column]).astype(float)
        except ValueError as error:
            raise DataError(path, f"column {column} holds a value that is not a number or NA ({error})") from error
    return frame


def read_filename_differences(path: str | Path) -> set[str]:
    """Recording names used by an older release (the current release renamed their device)."""
    path = Path(path)
    return {line.strip("'\"") for _, line in _lines(path)}
