"""Executing the numbered notebooks headlessly with papermill."""

from __future__ import annotations

from pathlib import Path

from respirelib.runs import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def notebook_path(name: str) -> Path:
    """The source notebook whose file name starts with ``name`` (e.g. ``"01"`` or ``"01_dataset_analysis"``)."""
    matches = sorted(NOTEBOOK_DIR.glob(f"{name}*.ipynb"))
    if not matches:
        raise FileNotFoundError(f"no notebook matching {name!r} in {NOTEBOOK_DIR}")
    return matches[0]


def execute_notebook(name: str, out_dir: str | Path, parameters: dict, *, progress: bool = True,
                     cwd: str | Path | None = None) -> Path:
    """Run a notebook with papermill, injecting ``parameters``; return the executed copy's path.

    The executed notebook is written into ``out_dir`` (never over the source).
    ``cwd`` defaults to ``out_dir`` so relative outputs of the notebook land in the run.
    """
    import papermill

    source = notebook_path(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    if target.exists():
        raise FileExistsError(f"{target} exists; executed notebooks are never overwritten")
    papermill.execute_notebook(str(source), str(target), parameters=parameters, progress_bar=progress,
                               cwd=str(cwd or out_dir), kernel_name="python3")
    return target
