"""Progress across the training runs of a pipeline: the plan, its projected time, a line per run.

``respirenet pipeline`` (so ``make reproduce``) writes ``plan.json`` into the pipeline
directory before the first notebook: every training run the notebooks will make (Table I's
CNN and +CBA+BRC rows per split and seed, then stage 2 of each +CBA+BRC run), each with its
projected seconds. :func:`respirelib.experiments.study.ensure_run` calls :func:`announce` before it
trains, which prints e.g. ``run 3/30: patient-full-seed2, stage 1; elapsed 1 h 02 min,
remaining about 3 h 10 min`` and appends it to ``progress.log``, which the pipeline echoes
to the terminal (the notebooks' own output goes into the executed notebooks).

The projection multiplies the inputs each run processes (training samples and evaluation
windows, :func:`respirelib.training.workload.schedule_workload`) by a throughput, taken from a
``results/bench_train_*.json`` record made on the same hardware (the same GPU model, or the
same CPU core count) when there is one, else measured now with a few training and
evaluation steps on the device in use. The record used, or the warm-up, is named.
Once runs have finished, the remaining time is scaled by how the finished runs compared
with their projection.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
import time
from pathlib import Path

from respirelib.runs import REPO_ROOT

PLAN_FILE = "plan.json"
PROGRESS_FILE = "progress.log"
STAGE_NAMES = {"stage1": "stage 1", "stage2": "stage 2"}


def planned_runs(splits, seeds, *, ablation: bool = True, finetune: bool = True) -> list[dict]:
    """The runs notebooks 04 and 05 make, in their order: ``{"name", "split", "variant", "seed", "stage"}``.

    ``splits`` as the notebooks take them (``patient-cv`` stands for its five folds).
    """
    from respirelib.experiments.variants import expand_splits

    variants = ["full", "cnn"] if ablation else ["full"]
    runs = [{"name": f"{split}-{variant}-seed{seed}", "split": split, "variant": variant, "seed": seed,
             "stage": "stage1"} for variant in variants for split in expand_splits(splits) for seed in seeds]
    if finetune:
        runs += [{**run, "stage": "stage2"} for run in runs if run["variant"] == "full"]
    return runs


def format_seconds(seconds: float) -> str:
    """``"3 h 10 min"``, ``"12 min"``, ``"40 s"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def recorded_throughput(device: str, *, profile: str, precision: str = "fp32",
                        results_dir: str | Path | None = None) -> dict | None:
    """Training and evaluation samples/s from a ``bench_train`` record of this hardware, or None.

    A CUDA record counts when its GPU has this machine's GPU's name; a CPU record when it
    ran on as many cores; either only in the same (resolved) ``precision`` (records made before
    precision was recorded ran in bf16 on CUDA and fp32 on CPU). The newest matching record wins.
    """
    import torch

    results_dir = Path(results_dir) if results_dir is not None else REPO_ROOT / "results"
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    found = []
    for path in sorted(results_dir.glob("bench_train_*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        steps = (record.get("steps") or {}).get(device_type)
        if record.get("profile") != profile or not steps:
            continue
        if steps.get("precision", "bf16" if device_type == "cuda" else "fp32") != precision:
            continue
        if device_type == "cuda":
            if not torch.cuda.is_available() or steps.get("gpu") != torch.cuda.get_device_name(0):
                continue
        elif (record.get("hardware") or {}).get("cpu_count") != os.cpu_count():
            continue
        found.append((record.get("timestamp") or "", path, steps))
    if not found:
        return None
    timestamp, path, steps = max(found, key=lambda item: item[0])
    return {"train_samples_per_s": steps["train_samples_per_s"], "eval_samples_per_s": steps["eval_samples_per_s"],
            "basis": f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} "
                     f"(measured {timestamp})"}


def measured_throughput(prepared, profile, device: str, *, precision: str = "auto") -> dict:
    """A short warm-up measurement: a few training and evaluation steps of ``profile`` on ``device``."""
    import torch

    from respirelib.training.workload import time_train_steps
    from respirelib.signal.samples import evaluation_set

    pool = evaluation_set(prepared.cache, prepared.rows("train")[: 2 * profile.stage1.batch_size],
                          config=profile.audio)
    cuda = str(device).startswith("cuda")
    with torch.random.fork_rng(devices=[]):  # the warm-up must not move the runs' random streams
        steps = time_train_steps(pool.waves, pool.labels, profile=profile, device=str(device),
                                 batch_size=profile.stage1.batch_size, steps=5 if cuda else 1, warmup=1,
                                 precision=precision)
    return {"train_samples_per_s": steps["train_samples_per_s"], "eval_samples_per_s": steps["eval_samples_per_s"],
            "basis": f"a warm-up measured now ({steps['steps']} training and evaluation steps of batch "
                     f"{steps['batch_size']} on {device}, {steps['precision']})"}


def project(data_dir: str | Path, runs: list[dict], *, profile: str, device: str = "auto", precision: str = "auto",
            results_dir: str | Path | None = None, progress: bool = False) -> dict:
    """Projected seconds of each planned run and in all, and what the projection is based on."""
    from respirelib.precision import resolve_precision

    from respirelib.training.workload import schedule_workload
    from respirelib.experiments.run import prepare_data, resolve_device
    from respirelib.experiments.variants import split_scheme, variant_overrides
    from respirelib.training.profiles import get_profile

    torch_device = resolve_device(device)
    precision = resolve_precision(precision, torch_device)
    throughput = recorded_throughput(torch_device.type, profile=profile, precision=precision, results_dir=results_dir)
    workloads, prepared_by_split = {}, {}
    for run in runs:
        key = (run["split"], run["variant"])
        if key in workloads:
            continue
        profile_obj = get_profile(profile).with_overrides(variant_overrides(run["variant"]))
        if run["split"] not in prepared_by_split:  # the split's patients are fixed whatever the training seed
            scheme, fold = split_scheme(run["split"])
            prepared_by_split[run["split"]] = prepare_data(data_dir, profile_obj, split=scheme, fold=fold,
                                                           progress=progress)
        prepared = prepared_by_split[run["split"]]
        workloads[key] = schedule_workload(prepared, profile_obj)
        if throughput is None:
            throughput = measured_throughput(prepared, profile_obj, str(torch_device), precision=precision)
    train_rate, eval_rate = throughput["train_samples_per_s"], throughput["eval_samples_per_s"]
    planned = []
    for run in runs:
        work = workloads[(run["split"], run["variant"])]
        stage = run["stage"]
        seconds = (work[f"{stage}_train_samples"] / train_rate
                   + (work[f"{stage}_eval_windows"] + work["test_eval_windows"] / 2) / eval_rate)
        planned.append({**run, "projected_s": round(seconds, 1)})
    # On a CPU the notebooks train the profile's runs side by side (study.ensure_runs), each on its share of the
    # threads; for a network this small two one-thread runs take about as long as one on two threads.
    parallel = get_profile(profile).parallel_runs if torch_device.type == "cpu" else 1
    total = sum(run["projected_s"] for run in planned) / parallel
    return {"runs": planned, "total_s": round(total, 1), "parallel_runs": parallel, "device": str(torch_device),
            "precision": precision, "profile": profile,
            "basis": throughput["basis"], "train_samples_per_s": train_rate, "eval_samples_per_s": eval_rate,
            "note": "training and evaluation inputs x throughput; checkpoint writes, data loading and notebook "
                    "figures are not counted"}


def write_plan(root: str | Path, plan: dict) -> Path:
    """``root/plan.json``: the planned runs (``{"runs": [...]}``, projected or not) and when the pipeline started."""
    from respirelib.storage import atomic_write_text

    plan = {**plan, "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "started_unix": time.time()}
    return atomic_write_text(Path(root) / PLAN_FILE, json.dumps(plan, indent=2))


@contextlib.contextmanager
def echoing(root: str | Path, *, write=print, interval_s: float = 2.0):
    """While the block runs, pass each new line of ``root/progress.log`` to ``write`` (a polling thread)."""
    path, stop = Path(root) / PROGRESS_FILE, threading.Event()
    position = path.stat().st_size if path.is_file() else 0

    def echo() -> None:
        nonlocal position
        if path.is_file() and path.stat().st_size > position:
            with open(path, encoding="utf-8") as log:
                log.seek(position)
                text = log.read()
            complete = text[:text.rfind("\n") + 1]
            position += len(complete.encode())
            for line in complete.splitlines():
                write(line)

    def poll() -> None:
        while not stop.wait(interval_s):
            echo()

    thread = threading.Thread(target=poll, name="respirenet-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        echo()


def describe_projection(projection: dict) -> str:
    """The line ``respirenet pipeline`` prints before it starts."""
    stages = [run["stage"] for run in projection["runs"]]
    return (f"projected time: {format_seconds(projection['total_s'])} for {len(stages)} training runs "
            f"({stages.count('stage1')} stage-1, {stages.count('stage2')} stage-2"
            + (f", {projection['parallel_runs']} at a time" if projection.get("parallel_runs", 1) > 1 else "")
            + f") on {projection['device']}, "
            f"profile {projection['profile']}; based on {projection['basis']}: "
            f"{projection['train_samples_per_s']:g} training and {projection['eval_samples_per_s']:g} evaluation "
            f"inputs/s ({projection['note']})")


def announce(root: str | Path, name: str, stage: str, *, now: float | None = None) -> str | None:
    """Print (and return) ``run k/N: NAME, stage S; elapsed ..., remaining about ...`` when ``root`` has a plan."""
    path = Path(root) / PLAN_FILE
    if not path.is_file():
        return None
    plan = json.loads(path.read_text())
    runs = plan["runs"]
    index = next((i for i, run in enumerate(runs) if run["name"] == name and run["stage"] == stage), None)
    if index is None:
        return None
    elapsed = (now if now is not None else time.time()) - plan["started_unix"]
    parallel = plan.get("parallel_runs", 1)  # runs trained side by side share the wall time
    if all(run.get("projected_s") is not None for run in runs):
        done_projected = sum(run["projected_s"] for run in runs[:index]) / parallel
        # scale the rest by how the runs so far compared with their projection (after a few minutes' evidence)
        scale = elapsed / done_projected if done_projected > 0 and elapsed > 300 else 1.0
        remaining = scale * sum(run["projected_s"] for run in runs[index:]) / parallel
    else:  # no projection: the runs so far, on average
        remaining = elapsed / index * (len(runs) - index) if index else None
    line = (f"run {index + 1}/{len(runs)}: {name}, {STAGE_NAMES.get(stage, stage)}; elapsed {format_seconds(elapsed)}"
            + (f", remaining about {format_seconds(remaining)}" if remaining is not None else ""))
    print(line, flush=True)
    # notebooks run in a kernel whose output the terminal does not see: run_pipeline echoes this file
    with open(Path(root) / PROGRESS_FILE, "a", encoding="utf-8") as log:
        log.write(line + "\n")
    return line
