"""Exceptions that name the file and the problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A data file is missing, unreadable or inconsistent.

    The message always starts with the file's path, so a user can go straight to it.
    """

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None):
        self.path = Path(path)
        self.problem = problem
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class AudioError(DataError):
    """An audio file is missing, empty, truncated or corrupt."""
