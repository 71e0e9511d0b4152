"""``respirenet bench train``: training throughput at the paper's input size, and the paper schedule's cost.

It measures, on the device(s) at hand, full training steps exactly as :func:`respirelib.training.train.fit`
runs them (augmentation, Mel features, blank region clipping, the 192 x 657 image, ResNet-34
forward and backward, the paper's SGD; in the precision asked for, by default ``auto``: bfloat16 autocast and
channels-last on CUDA and on a CPU with native bf16) and evaluation batches; each device's record says
which precision it ran in, and ``make reproduce`` projects only from a record of the same precision.
From the number of training inputs and evaluation windows the paper profile processes on the
given data (stage 1: 200 epochs of the training set, a validation pass each epoch, one test
pass; stage 2: 50 epochs per device), it projects the schedule's wall time. With
``--run-schedule`` it instead runs the whole paper profile (stage 1, stage 2, evaluation) and
measures it: a GPU job. Targets on one H200: training at the paper's input size at 3,000 inputs/s or
more (bf16, channels-last), and the full paper schedule of one seed in at most 10 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from respirelib.apps.bench_common import _data_record, _emit, _timed, bench_record, target
from respirelib.apps.options import add_precision_argument
from respirelib.training.workload import schedule_workload, time_train_steps  # noqa: F401  (re-exported)

PAPER_SCHEDULE_TARGET_S = 10 * 60
CUDA_TRAIN_TARGET_SAMPLES_PER_S = 3000.0  # at the paper's input size


def bench_train(data_dir: str | Path | None = None, *, scale: float = 1.0, profile: str = "paper",
                device: str = "auto", threads: int = 2, batch_size: int = 64, cpu_steps: int = 2,
                cuda_steps: int = 20, run_schedule: bool = False, precision: str = "auto",
                progress: bool = False) -> dict:
    """Training throughput per device and the paper schedule's projected (or measured) wall time."""
    import torch

    from respirelib.data.data_dirs import resolve_data_dir
    from respirelib.experiments.run import prepare_data
    from respirelib.training.profiles import get_profile
    from respirelib.signal.samples import evaluation_set

    profile_obj = get_profile(profile)
    data_path = resolve_data_dir(data_dir, scale=scale, seed=0, progress=progress)
    prepared = prepare_data(data_path, profile_obj, split="official", progress=progress)
    workload = schedule_workload(prepared, profile_obj)
    pool = evaluation_set(prepared.cache, prepared.rows("train")[: 4 * batch_size], config=profile_obj.audio)
    devices = ["cpu"] if device in ("auto", "cpu") else []
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        devices.append("cuda")
    steps_by_device, targets = {}, []
    previous_threads = torch.get_num_threads()
    for name in devices:
        if name == "cpu":
            torch.set_num_threads(threads)
        try:
            measured = time_train_steps(pool.waves, pool.labels, profile=profile_obj, device=name,
                                        batch_size=batch_size, steps=cpu_steps if name == "cpu" else cuda_steps,
                                        precision=precision)
        finally:
            torch.set_num_threads(previous_threads)
        measured["projected_schedule_s"] = round(workload["train_samples"] / measured["train_samples_per_s"]
                                                 + workload["eval_windows"] / measured["eval_samples_per_s"], 1)
        if name == "cuda":
            measured["gpu"] = torch.cuda.get_device_name(0)
            targets.append(target(f"{profile} schedule on GPU (projected)", measured["projected_schedule_s"], unit="s",
                                  at_most=PAPER_SCHEDULE_TARGET_S))
            if profile == "paper":
                targets.append(target("training steps on GPU, paper input size", measured["train_samples_per_s"],
                                      unit="samples/s", at_least=CUDA_TRAIN_TARGET_SAMPLES_PER_S))
        steps_by_device[name] = measured
    schedule = None
    if run_schedule:
        from respirelib.experiments.run import evaluate_run, finetune_run, train_run

        with tempfile.TemporaryDirectory(prefix="respirenet-bench-run-") as run_dir:
            run_path = Path(run_dir) / "run"
            _, stage1_s = _timed(train_run, data_path, run_path, profile=profile, init="random", device=device,
                                 precision=precision, progress=progress)
            _, stage2_s = _timed(finetune_run, run_path, device=device, progress=progress)
            results, evaluate_s = _timed(evaluate_run, run_path, device=device, progress=progress)
        schedule = {"stage1_s": round(stage1_s, 1), "stage2_s": round(stage2_s, 1),
                    "evaluate_s": round(evaluate_s, 1), "total_s": round(stage1_s + stage2_s + evaluate_s, 1),
                    "metrics_4class": results["stage1"]["four_class"],
                    "metrics_finetuned_4class": results.get("finetuned", {}).get("four_class")}
        targets.append(target(f"{profile} schedule, measured", schedule["total_s"], unit="s",
                              at_most=PAPER_SCHEDULE_TARGET_S))
    results = {"profile": profile, "workload": workload, "steps": steps_by_device, "schedule": schedule,
               "note": "projected_schedule_s = measured throughput x the schedule's inputs; it ignores "
                       "checkpoint writes and Python overhead between epochs"}
    return bench_record("train", data=_data_record(prepared.dataset, write_s=None), results=results,
                        targets=targets)


def add_bench_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``respirenet bench train``."""
    parser.add_argument("--data", type=Path, default=None, help="an ICBHI folder (default: the synthetic set)")
    parser.add_argument("--scale", type=float, default=1.0, help="scale of the synthetic set (default 1)")
    parser.add_argument("--profile", default="paper", choices=("smoke", "quick", "paper"))
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    add_precision_argument(parser)
    parser.add_argument("--cpu-steps", type=int, default=2, help="timed CPU steps (each takes long at paper size)")
    parser.add_argument("--cuda-steps", type=int, default=20)
    parser.add_argument("--run-schedule", action="store_true",
                        help="also run the whole schedule and time it (a GPU job for the paper profile)")
    parser.add_argument("--quiet", action="store_true")


def run_bench_train(args: argparse.Namespace) -> int:
    """``respirenet bench train``: run :func:`bench_train` and print its result."""
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_train(args.data, scale=args.scale, profile=args.profile, device=args.device,
                             threads=args.threads, cpu_steps=args.cpu_steps, cuda_steps=args.cuda_steps,
                             run_schedule=args.run_schedule, precision=args.precision, progress=not args.quiet)
    return _emit(record, args)
