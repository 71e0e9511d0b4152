"""The loader's report: everything it skipped, repaired or ignored, with the file and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from respirelib.data.verify import Verdict

ACTIONS = ("skipped", "repaired", "ignored", "note")


@dataclass(frozen=True)
class ReportEntry:
    action: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.action}] {self.path}: {self.detail}"


@dataclass
class LoaderReport:
    """A list of :class:`ReportEntry`; nothing a loader drops or changes goes unrecorded.

    ``skipped``: data left out (a bad row, a recording without audio, ...).
    ``repaired``: data used after a documented fix (a renamed device suffix, ...).
    ``ignored``: files in the folder that are not part of the database.
    ``note``: facts worth knowing that change nothing (e.g. no audio present).

    ``verdict`` is real data's check against the ICBHI 2017 release (``None`` for synthetic data).
    """

    entries: list[ReportEntry] = field(default_factory=list)
    verdict: Verdict | None = None

    def add(self, action: str, path: str | Path, detail: str) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown report action {action!r}")
        self.entries.append(ReportEntry(action, str(path), detail))

    def of(self, action: str) -> list[ReportEntry]:
        return [entry for entry in self.entries if entry.action == action]

    @property
    def skipped(self) -> list[ReportEntry]:
        return self.of("skipped")

    @property
    def repaired(self) -> list[ReportEntry]:
        return self.of("repaired")

    @property
    def ignored(self) -> list[ReportEntry]:
        return self.of("ignored")

    @property
    def problems(self) -> list[ReportEntry]:
        """Entries that changed or dropped data (skipped and repaired)."""
        return [entry for entry in self.entries if entry.action in ("skipped", "repaired")]

    def counts(self) -> dict[str, int]:
        counter = Counter(entry.action for entry in self.entries)
        return {action: counter.get(action, 0) for action in ACTIONS}

    def verdict_line(self) -> str | None:
        """The release check in one line, or ``None`` when there was none (synthetic data)."""
        if self.verdict is None:
            return None
        hint = "" if self.verdict.ok else " (`respirenet data verify DIR` lists every file)"
        return f"content check against the ICBHI 2017 release: {self.verdict.summary_line()}{hint}"

    def to_dict(self) -> dict:
        return {"counts": self.counts(),
                "entries": [{"action": e.action, "path": e.path, "detail": e.detail} for e in self.entries],
                "verdict": None if self.verdict is None else
                {**{key: value for key, value in self.verdict.to_dict().items() if key != "findings"},
                 "line": self.verdict_line()}}

    def __str__(self) -> str:
        verdict = [line] if (line := self.verdict_line()) else []
        if not self.entries:
            return "\n".join(["loader report: nothing skipped, repaired or ignored", *verdict])
        counts = ", ".join(f"{n} {action}" for action, n in self.counts().items() if n)
        return "\n".join([f"loader report: {counts}"] + [f"  {entry}" for entry in self.entries] + verdict)
