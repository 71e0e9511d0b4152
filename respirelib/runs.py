"""Where runs live and what they record of their origin: the repository, its commit, the machine.

Run directories are made and claimed by :mod:`respirelib.storage`.
"""

from __future__ import annotations

import os
import platform
import subprocess
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


def git_commit() -> str | None:
    """The repository's commit (with ``-dirty`` if the tree has changes), or None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def hardware_record() -> dict:
    """CPU, core count and GPU (if torch sees one) of this machine."""
    record = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count()}
    try:
        import torch

        record["torch"] = torch.__version__
        record["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            record["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return record
