"""Executing the numbered notebooks headlessly with papermill."""

from __future__ import annotations

import os
from pathlib import Path

from respirelib.progressbar import HEADLESS_ENV
from respirelib.runs import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def notebook_path(name: str) -> Path:
    """The source notebook whose file name starts with ``name`` (e.g. ``"01"`` or ``"01_dataset_analysis"``)."""
    matches = sorted(NOTEBOOK_DIR.glob(f"{name}*.ipynb"))
    if not matches:
        raise FileNotFoundError(f"no notebook matching {name!r} in {NOTEBOOK_DIR}")
    return matches[0]


# The kernel's own log (not the notebook's output) stays at errors: otherwise every notebook prints
# ipykernel's "Kernel is running over TCP without encryption" warning to the terminal. The kernel
# listens on 127.0.0.1 only, for this process alone.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)


def run_papermill(source: str | Path, target: str | Path, *, parameters: dict, cwd: str | Path,
                  progress: bool = True, timeout: int | None = None) -> None:
    """Execute ``source`` into ``target`` with papermill in the project's ``python3`` kernel (``timeout`` per cell)."""
    import papermill

    # The kernel inherits this process's environment: HEADLESS_ENV turns its tqdm widgets off (a saved
    # widget view reads as a frozen bar), set for this call only.
    previous = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"
    try:
        papermill.execute_notebook(str(source), str(target), parameters=parameters, progress_bar=progress,
                                   cwd=str(cwd), kernel_name="python3", execution_timeout=timeout,
                                   extra_arguments=list(KERNEL_ARGUMENTS))
    finally:
        if previous is None:
            os.environ.pop(HEADLESS_ENV, None)
        else:
            os.environ[HEADLESS_ENV] = previous


def execute_notebook(name: str, out_dir: str | Path, parameters: dict, *, progress: bool = True,
                     cwd: str | Path | None = None) -> Path:
    """Run a notebook with papermill, injecting ``parameters``; return the executed copy's path.

    The executed notebook is written into ``out_dir`` (never over the source).
    ``cwd`` defaults to ``out_dir`` so relative outputs of the notebook land in the run.
    """
    source = notebook_path(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    if target.exists():
        raise FileExistsError(f"{target} exists; executed notebooks are never overwritten")
    run_papermill(source, target, parameters=parameters, progress=progress, cwd=cwd or out_dir)
    return target
