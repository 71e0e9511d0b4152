"""The headless reproduction: every numbered notebook in order, with papermill, into one run directory.

A pipeline run directory holds the executed notebooks (``notebooks/``), the figures
(``figures/``), every metrics JSON the notebooks write, the training runs (``train/``),
``environment.json`` (package versions, hardware, commit, data fingerprint) and
``pipeline.json`` (the parameters and each notebook's status). It stops at the first
failing notebook, naming it and the failing cell, and can resume from any notebook.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from respirelib.config import DEFAULT_INIT
from respirelib.storage import atomic_write_text, claim_new_dir
from respirelib.apps.notebooks import NOTEBOOK_DIR, notebook_path, run_papermill
from respirelib.experiments.progress import echoing
from respirelib.experiments.provenance import environment_record

NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07")


class PipelineError(RuntimeError):
    """A notebook failed; ``notebook`` and ``cell`` say where, the message says what."""

    def __init__(self, notebook: str, cell: int | None, message: str, executed: Path):
        self.notebook, self.cell, self.executed = notebook, cell, executed
        where = f"cell {cell}" if cell is not None else "before any cell ran"
        super().__init__(f"notebook {notebook} failed at {where} (counting from 1 in the source notebook): "
                         f"{message}\nexecuted copy: {executed}\n"
                         f"fix it, then resume with: respirenet pipeline --out {executed.parent.parent} "
                         f"--from {notebook.split('_')[0]}\n(a resumed run keeps the choices it was started with: "
                         "profile, data, seeds, splits, device, init; for others start a new run)")


@dataclass(frozen=True)
class PipelineRequest:
    profile: str
    data_dir: str
    seed: int = 0
    device: str = "auto"
    init: str = DEFAULT_INIT
    precision: str = "auto"  # fp32 | bf16 | auto (respirelib.precision), for the notebooks that run the network
    extra: tuple = ()  # (name, value) pairs for parameters only some notebooks declare

    def parameters(self, run_dir: Path) -> dict:
        return {"data_dir": self.data_dir, "profile": self.profile, "seed": self.seed, "device": self.device,
                "run_dir": str(run_dir.resolve()), "figures_dir": str((run_dir / "figures").resolve()),
                "init": self.init, "precision": self.precision, **dict(self.extra)}


def _available_notebooks() -> list[str]:
    return [name for name in NOTEBOOKS if list(NOTEBOOK_DIR.glob(f"{name}_*.ipynb"))]


PAPERMILL_CELL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}
# Seconds one cell may run before the pipeline gives up on it; unset (the default) is no limit, as a
# paper-profile training cell runs for hours. The tests set it, so a lost kernel message fails a test
# instead of hanging the whole suite.
CELL_TIMEOUT_ENV = "RESPIRENET_CELL_TIMEOUT"


def cell_timeout() -> int | None:
    """The per-cell limit from ``$RESPIRENET_CELL_TIMEOUT`` (whole seconds), or None."""
    value = os.environ.get(CELL_TIMEOUT_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${CELL_TIMEOUT_ENV} must be a whole number of seconds, got {value!r}")
    return int(value)


def _failing_cell(executed: Path) -> int | None:
    """1-based position of the failing cell in the *source* notebook (papermill's added cells skipped)."""
    import nbformat

    notebook = nbformat.read(str(executed), as_version=4)
    source_cells = [cell for cell in notebook.cells
                    if not PAPERMILL_CELL_TAGS & set(cell.get("metadata", {}).get("tags", []))]
    for position, cell in enumerate(source_cells, start=1):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return position
    return None


def run_pipeline(*, out: str | Path, request: PipelineRequest | None = None, start: str | None = None,
                 only: list[str] | None = None, progress: bool = True, plan: dict | None = None) -> Path:
    """Execute the notebooks into ``out``; return ``out``.

    Parameters
    ----------
    out : str or Path
        A new (empty or missing) run directory; or, with ``start``, an earlier run to resume.
    request : PipelineRequest
        Profile, data, seed, device and initialisation; read back from ``pipeline.json`` on resume.
    start : str or None
        Resume from this notebook (e.g. ``"04"``); the earlier ones are kept as they ran.
    only : list of str or None
        Run just these notebooks (tests and partial reproductions).
    plan : dict or None
        The training runs the notebooks will make, projected or not (:mod:`respirelib.experiments.progress`),
        written as ``plan.json`` into a new run so that each run reports its place and the time left.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = Path(out)
    timeout = cell_timeout()
    state_path = out / "pipeline.json"
    if start is not None:
        if not state_path.is_file():
            raise FileNotFoundError(f"{out} is not a pipeline run (no pipeline.json) to resume")
        state = json.loads(state_path.read_text())
        request = PipelineRequest(**{**state["request"], "extra": tuple(map(tuple, state["request"]["extra"]))})
    else:
        if request is None:
            raise ValueError("a new pipeline run needs a request (profile, data directory, ...)")
        with claim_new_dir(out) as claimed:  # the run folder appears with these files, or not at all
            if plan is not None:
                from respirelib.experiments.progress import write_plan

                write_plan(claimed, plan)
            atomic_write_text(claimed / "environment.json",
                              json.dumps(environment_record(request.data_dir), indent=2, default=str))
        state = {"request": {**request.__dict__, "extra": list(request.extra)}, "notebooks": {}}
    names = only or _available_notebooks()
    if start is not None:
        if start not in names:
            raise ValueError(f"unknown notebook {start!r}; choose one of {', '.join(names)}")
        names = names[names.index(start):]
    executed_dir = out / "notebooks"
    executed_dir.mkdir(exist_ok=True)
    parameters = request.parameters(out)
    bar = tqdm(names, desc="pipeline", unit="notebook", disable=not progress)
    for name in bar:
        source = notebook_path(name)
        bar.set_description(f"pipeline: {source.stem}")
        target = executed_dir / source.name
        if target.exists():  # an earlier attempt: keep it beside, never overwrite it
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
            shutil.move(target, target.with_name(f"{source.stem}.attempt-{stamp}.ipynb"))
        declared = papermill.inspect_notebook(str(source))
        injected = {key: value for key, value in parameters.items() if key in declared}
        state["notebooks"][name] = {"status": "running", "notebook": str(target)}
        atomic_write_text(state_path, json.dumps(state, indent=2))
        try:
            with echoing(out, write=tqdm.write):  # the training runs' "run k/N ..." lines (respirelib.experiments.progress)
                run_papermill(source, target, parameters=injected, progress=progress, cwd=out, timeout=timeout)
        except (TimeoutError, PapermillExecutionError) as error:
            # A timed-out cell (nbclient's CellTimeoutError) is interrupted, so its output is an error too.
            message = (f"the cell ran longer than ${CELL_TIMEOUT_ENV}={timeout} s ({error})"
                       if isinstance(error, TimeoutError) else f"{error.ename}: {error.evalue}")
            cell = _failing_cell(target) if target.exists() else None
            state["notebooks"][name] = {"status": "failed", "notebook": str(target), "cell": cell, "error": message}
            atomic_write_text(state_path, json.dumps(state, indent=2))
            raise PipelineError(source.stem, cell, message, target) from None
        state["notebooks"][name] = {"status": "done", "notebook": str(target)}
        atomic_write_text(state_path, json.dumps(state, indent=2))
    return out
