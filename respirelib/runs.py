"""Where runs live: the repository root and its newest pipeline run.

Run directories are made and claimed by :mod:`respirelib.storage`; what a run records of its origin
(commit, machine, packages) is assembled by :mod:`respirelib.experiments.provenance`.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


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


