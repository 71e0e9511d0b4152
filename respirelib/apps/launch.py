"""Starting the notebook pipeline as ``respirenet pipeline`` and ``respirenet demo`` do.

:func:`start_pipeline` turns the commands' choices into a run: it resolves the data (the
profile's synthetic set unless a folder is given), the seeds and the training runs the
notebooks will make (projected for the paper profile), claims a new run directory and runs
:func:`respirelib.apps.pipeline.run_pipeline`. The command line and ``respirenet bench demo``
both call it, so the benchmark times exactly what the demo runs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from respirelib.apps.pipeline import PipelineRequest, run_pipeline
from respirelib.config import DEFAULT_INIT
from respirelib.runs import REPO_ROOT


def pipeline_seeds(profile: str, *, seed: int = 0, seeds: list[int] | None = None) -> list[int]:
    """The seeds a pipeline run trains: ``seeds`` if given, else the profile's number of seeds from ``seed``."""
    from respirelib.training.profiles import get_profile

    return list(seeds) if seeds else [seed + offset for offset in range(get_profile(profile).n_seeds)]


def pipeline_plan(data_dir: str | Path, *, profile: str, seeds: list[int], splits: list[str] | None = None,
                  device: str = "auto", precision: str = "auto", project: bool = False, progress: bool = True) -> dict:
    """Every training run the notebooks will make (each seed, split and stage); projected for ``paper`` or ``project``.

    ``seeds`` are those the notebooks train (:func:`pipeline_seeds`), so the plan, its projection,
    ``plan.json`` and the progress lines count the same runs.
    """
    from respirelib.experiments.progress import describe_projection, planned_runs, project as project_runs

    runs = planned_runs(splits or ["official"], seeds)
    if not (project or profile == "paper"):
        return {"runs": runs}
    projection = project_runs(data_dir, runs, profile=profile, device=device, precision=precision,
                              progress=progress)
    print(describe_projection(projection), flush=True)
    return projection


LONG_CPU_RUN_S = 3600  # a projection longer than this on a CPU starts only when confirmed


def confirm_long_run(plan: dict, *, assume_yes: bool = False, ask=None) -> None:
    """Ask before a run projected to take more than an hour on a CPU; refuse where no one can answer.

    Parameters
    ----------
    plan : dict
        :func:`pipeline_plan`'s result (only a projected plan has ``total_s``).
    assume_yes : bool
        ``--yes``: start without asking.
    ask : callable, optional
        Shows a question and returns the answer; default :func:`input` when stdin is a terminal.

    Raises
    ------
    ValueError
        Not confirmed: the answer was not yes, or stdin is not a terminal (a script, CI, papermill) and
        ``assume_yes`` is False. The message names ``--yes``.
    """
    import sys

    from respirelib.experiments.progress import format_seconds

    total = plan.get("total_s")
    if assume_yes or total is None or total <= LONG_CPU_RUN_S or not str(plan.get("device", "")).startswith("cpu"):
        return
    what = (f"the projected time on this CPU is {format_seconds(total)}, over an hour (a GPU runs the paper "
            "profile in a fraction of it)")
    if ask is None:
        if not sys.stdin.isatty():
            raise ValueError(f"{what}; not started, as no one is here to confirm it: add --yes to start it anyway")
        ask = input
    answer = ask(f"{what}. Start it now? [y/N] ")
    if str(answer).strip().lower() not in ("y", "yes"):
        raise ValueError(f"not started ({what}); add --yes to start it without asking")


# The choices a resumed run keeps from when it started (start_pipeline's keyword -> its command-line option).
RESUMED_CHOICES = {"profile": "--profile", "data": "--data", "seed": "--seed", "seeds": "--seeds",
                   "splits": "--splits", "device": "--device", "init": "--init", "scale": "--scale"}


def _resume_conflicts(out: Path, given: dict) -> tuple[list[str], dict]:
    """The options in ``given`` (those that differ from their defaults) that differ from the saved run's; its choices."""
    from respirelib.data.data_dirs import default_synthetic_dir
    from respirelib.training.profiles import get_profile

    state_path = out / "pipeline.json"
    if not state_path.is_file():
        raise FileNotFoundError(f"{out} is not a pipeline run (no pipeline.json) to resume")
    saved = json.loads(state_path.read_text())["request"]
    extra = dict(saved.get("extra") or [])
    saved_values = {"profile": saved["profile"], "data": saved["data_dir"], "seed": saved["seed"],
                    "seeds": extra.get("seeds", [saved["seed"]]), "splits": extra.get("splits", ["official"]),
                    "device": saved["device"], "init": saved["init"]}
    conflicts = []
    for name, value in given.items():
        if name == "scale":
            profile = get_profile(saved["profile"])
            name, value = "data", str(default_synthetic_dir(scale=value, difficulty=profile.synthetic_difficulty))
        elif name == "data":
            value = str(Path(value).resolve())
        if name in saved_values and value != saved_values[name]:
            conflicts.append(f"{RESUMED_CHOICES[name]} {_shown(value)} (the run has {_shown(saved_values[name])})")
    return conflicts, saved_values


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def start_pipeline(*, profile: str = "quick", data: str | Path | None = None, out: str | Path | None = None,
                   start: str | None = None, seed: int = 0, seeds: list[int] | None = None,
                   splits: list[str] | None = None, device: str = "auto", precision: str = "auto",
                   init: str = DEFAULT_INIT,
                   scale: float | None = None, runs: str | Path = REPO_ROOT / "runs", project: bool = False,
                   progress: bool = True, assume_yes: bool = False) -> Path:
    """Run the numbered notebooks into a new run directory, or resume one; return the run directory.

    Everything that can be checked is checked before a run directory is made (the data folder,
    the ImageNet weights of ``init="imagenet"``, the plan and, for a long CPU run, the
    confirmation), so a command that fails before any work leaves nothing behind.

    Parameters
    ----------
    profile : {"smoke", "quick", "paper"}
    data : str or Path, optional
        An ICBHI folder; default the profile's synthetic set (written if missing).
    out : str or Path, optional
        The run directory; default a new ``pipeline-<profile>-*`` folder in ``runs``.
        With ``start``, the earlier run to resume.
    start : str, optional
        Resume ``out`` from this notebook (e.g. ``"04"``) with the choices it was started with;
        a choice given here that differs from the run's is an error (start a new run for it).
    seed, seeds : int, list of int
        See :func:`pipeline_seeds`.
    splits : list of str, optional
        ``"official"``, ``"patient"`` and/or ``"patient-cv"`` (default official).
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
    assume_yes : bool
        Start a run projected at over an hour on a CPU without asking (:func:`confirm_long_run`).

    Raises
    ------
    PipelineError
        A notebook failed; the message says where and how to resume.
    ValueError, FileNotFoundError, FileExistsError, DataError
        A check before the start failed; nothing was written.
    """
    import inspect

    from respirelib.data.icbhi import load_icbhi
    from respirelib.experiments.run import resolve_init
    from respirelib.storage import RUN_DIR_HINT, new_run_dir, refuse_existing_dir
    from respirelib.training.profiles import get_profile, profile_data_dir

    if start:
        if out is None:
            raise FileNotFoundError("--from resumes an earlier run: give its directory with --out")
        defaults = {name: parameter.default for name, parameter in inspect.signature(start_pipeline).parameters.items()}
        chosen = {"profile": profile, "data": data, "seed": seed, "seeds": seeds, "splits": splits, "device": device,
                  "init": init, "scale": scale}
        conflicts, saved = _resume_conflicts(Path(out), {name: value for name, value in chosen.items()
                                                         if value != defaults[name]})
        if conflicts:
            raise ValueError(f"{out} is resumed with the choices it was started with, so {'; '.join(conflicts)} "
                             "cannot apply: resume without them, or start a new run with them (without --from)")
        print(f"resuming {out} from notebook {start} with its choices: "
              + ", ".join(f"{RESUMED_CHOICES[name]} {_shown(value)}" for name, value in saved.items()), flush=True)
        return run_pipeline(out=out, start=start, progress=progress)
    profile_config = get_profile(profile)
    if scale is not None:
        profile_config = dataclasses.replace(profile_config, synthetic_scale=scale)
    data_dir = profile_data_dir(data, profile_config, progress=progress)
    load_icbhi(data_dir, errors="skip")  # a wrong folder stops here; the process keeps it for the run's record
    if out is not None:
        refuse_existing_dir(out, hint=RUN_DIR_HINT)
    resolve_init(profile_config, init)  # missing ImageNet weights stop it here, not in notebook 04
    extra = []
    if splits:
        extra.append(("splits", list(splits)))
    seed_list = pipeline_seeds(profile, seed=seed, seeds=seeds)
    if seed_list != [seed]:  # the notebooks train ``seeds`` when given, else ``seed`` alone
        extra.append(("seeds", list(seed_list)))
    request = PipelineRequest(profile=profile, data_dir=str(Path(data_dir).resolve()), seed=seed, device=device,
                              init=init, precision=precision, extra=tuple(extra))
    plan = pipeline_plan(data_dir, profile=profile, seeds=seed_list, splits=splits, device=device,
                         precision=precision, project=project,
                         progress=progress)
    confirm_long_run(plan, assume_yes=assume_yes)
    made = out is None
    out = Path(out) if out is not None else new_run_dir(runs, f"pipeline-{profile}")
    try:
        return run_pipeline(out=out, request=request, progress=progress, plan=plan)
    except BaseException:
        if made and out.is_dir() and not any(out.iterdir()):  # the claim failed: leave no empty folder
            out.rmdir()
        raise
