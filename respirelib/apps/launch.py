"""Starting the notebook pipeline as ``respirenet pipeline`` and ``respirenet demo`` do.

:func:`start_pipeline` turns the commands' choices into a run: it resolves the data (the
profile's synthetic set unless a folder is given), the seeds and the training runs the
notebooks will make (projected for the paper profile), claims a new run directory and runs
:func:`respirelib.apps.pipeline.run_pipeline`. The command line and ``respirenet bench demo``
both call it, so the benchmark times exactly what the demo runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from respirelib.apps.pipeline import PipelineRequest, run_pipeline
from respirelib.runs import REPO_ROOT


def pipeline_seeds(profile: str, *, seed: int = 0, seeds: list[int] | None = None) -> list[int]:
    """The seeds a pipeline run trains: ``seeds`` if given, else the profile's number of seeds from ``seed``."""
    from respirelib.training.profiles import get_profile

    return list(seeds) if seeds else [seed + offset for offset in range(get_profile(profile).n_seeds)]


def pipeline_plan(data_dir: str | Path, *, profile: str, splits: list[str] | None = None,
                  seeds: list[int] | None = None, seed: int = 0, device: str = "auto", precision: str = "auto",
                  project: bool = False, progress: bool = True) -> dict:
    """The pipeline's training runs; projected (and the projection printed) for the paper profile or ``project``."""
    from respirelib.experiments.progress import describe_projection, planned_runs, project as project_runs

    runs = planned_runs(splits or ["official"], seeds or [seed])
    if not (project or profile == "paper"):
        return {"runs": runs}
    projection = project_runs(data_dir, runs, profile=profile, device=device, precision=precision,
                              progress=progress)
    print(describe_projection(projection), flush=True)
    return projection


def start_pipeline(*, profile: str = "quick", data: str | Path | None = None, out: str | Path | None = None,
                   start: str | None = None, seed: int = 0, seeds: list[int] | None = None,
                   splits: list[str] | None = None, device: str = "auto", precision: str = "auto",
                   init: str = "imagenet-if-available",
                   scale: float | None = None, runs: str | Path = REPO_ROOT / "runs", project: bool = False,
                   progress: bool = True) -> Path:
    """Run the numbered notebooks into a new run directory, or resume one; return the run directory.

    Parameters
    ----------
    profile : {"smoke", "quick", "paper"}
    data : str or Path, optional
        An ICBHI folder; default the profile's synthetic set (written if missing).
    out : str or Path, optional
        The run directory; default a new ``pipeline-<profile>-*`` folder in ``runs``.
        With ``start``, the earlier run to resume.
    start : str, optional
        Resume ``out`` from this notebook (e.g. ``"04"``); the other choices are read back from it.
    seed, seeds : int, list of int
        See :func:`pipeline_seeds`.
    splits : list of str, optional
        ``"official"`` and/or ``"patient"`` (default official).
    device, init : str
        Where and from which weights the notebooks train.
    precision : {"auto", "fp32", "bf16"}
        What the notebooks train, evaluate and explain in (:mod:`respirelib.precision`).
    scale : float, optional
        Overrides the profile's synthetic scale.
    runs : str or Path
        Where new run directories go.
    project : bool
        Print the projected time first (always done for the paper profile).
    progress : bool

    Raises
    ------
    PipelineError
        A notebook failed; the message says where and how to resume.
    """
    from respirelib.storage import new_run_dir
    from respirelib.training.profiles import get_profile, profile_data_dir

    if start:
        if out is None:
            raise FileNotFoundError("--from resumes an earlier run: give its directory with --out")
        return run_pipeline(out=out, start=start, progress=progress)
    profile_config = get_profile(profile)
    if scale is not None:
        profile_config = dataclasses.replace(profile_config, synthetic_scale=scale)
    data_dir = profile_data_dir(data, profile_config)
    extra = []
    if splits:
        extra.append(("splits", list(splits)))
    seed_list = pipeline_seeds(profile, seed=seed, seeds=seeds)
    if len(seed_list) > 1:
        extra.append(("seeds", list(seed_list)))
    request = PipelineRequest(profile=profile, data_dir=str(Path(data_dir).resolve()), seed=seed, device=device,
                              init=init, precision=precision, extra=tuple(extra))
    plan = pipeline_plan(data_dir, profile=profile, splits=splits, seeds=seeds, seed=seed, device=device,
                         precision=precision, project=project, progress=progress)
    out = out or new_run_dir(runs, f"pipeline-{profile}")
    return run_pipeline(out=out, request=request, progress=progress, plan=plan)
