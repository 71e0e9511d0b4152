"""Run directories: one per run, never reused, so no run overwrites another."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def new_run_dir(base: str | Path, name: str) -> Path:
    """Create and return ``base/<name>-<UTC timestamp>[-N]``; an existing directory is never reused."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        candidate = base / (f"{name}-{stamp}" if attempt == 0 else f"{name}-{stamp}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"could not create a new run directory under {base}")


def latest_pipeline_run(base: str | Path | None = None) -> Path:
    """The newest pipeline run directory (holding ``pipeline.json``) under ``base`` (default ``<repo>/runs``).

    Raises
    ------
    FileNotFoundError
        No pipeline run there yet; the message says how to make one.
    """
    base = Path(base) if base is not None else REPO_ROOT / "runs"
    runs = [path.parent for path in base.glob("*/pipeline.json")]
    if not runs:
        raise FileNotFoundError(f"no pipeline run under {base}: run `make demo` (or `respirenet pipeline`) first, "
                                "or set run_dir to a pipeline run directory")
    return max(runs, key=lambda path: (path / "pipeline.json").stat().st_mtime)


def claim_new_dir(path: str | Path) -> Path:
    """Create ``path``, refusing if it already exists and is not empty (earlier runs are never overwritten)."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path} already exists and is not empty; choose a new directory "
                              "(earlier runs are never overwritten)")
    path.mkdir(parents=True, exist_ok=True)
    return path

