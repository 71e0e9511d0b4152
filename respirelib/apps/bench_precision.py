"""``respirenet bench precision`` and ``bench precision-accuracy``: what bf16 buys in speed, and what it costs in scores.

``bench precision`` times fp32 and bf16 side by side in one process, interleaved (fp32, bf16,
fp32, bf16, ... for each network, so a change of the machine's load hits both alike), with
:func:`respirelib.training.workload.time_train_steps`: full training steps as
:func:`respirelib.training.train.fit` runs them (augmentation, Mel features and blank region
clipping in float32, the clipping decided once on the un-augmented inputs, then the network forward
and backward, the profile's stage-1 optimizer and moving average of the weights, in the precision
measured) and evaluation batches, on random waveforms of the network's input
length. Networks:

- ``quick``: the quick profile's width-16 ResNet-18, 3 x 64 x 219 images, batch 32;
- ``resnet18``: the full-width ResNet-18 (the one with ImageNet weights) on the same images;
- ``paper``: the paper's ResNet-34, 3 x 192 x 657 images, batch 16.

Each is reported in training steps/s and inputs/s per precision, the speed-up of bf16 over
fp32, and the network's own share (model milliseconds per step). Targets, stated for a CPU with
AMX: a speed-up of at least 1.7 for ``quick`` and 3 at the paper's size.

``bench precision-accuracy`` trains stage 1 of the quick profile in fp32 and in bf16 for each
seed (same seeds, same data, same test set), scores both on the test cycles and compares them
**paired**: the per-seed differences of the 4-class Score, their mean and a 95 % t interval.
The difference is called within the noise when that interval contains zero.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path

import numpy as np

from respirelib.apps.bench_common import _emit_with_table, bench_record, target
from respirelib.training.metrics import format_signed

NETWORKS = {
    # name: (profile, model overrides, batch size, description)
    "quick": ("quick", {}, 32, "width-16 ResNet-18 (the quick profile's), 3 x 64 x 219, batch 32"),
    "resnet18": ("quick", {"width": 64}, 32, "ResNet-18, full width, 3 x 64 x 219, batch 32"),
    "paper": ("paper", {}, 16, "ResNet-34 (the paper's), 3 x 192 x 657, batch 16"),
}
SPEEDUP_TARGETS = {"quick": 1.7, "paper": 3.0}  # on a CPU with AMX
PRECISION_PAIR = ("fp32", "bf16")


def _network_profile(name: str):
    from respirelib.training.profiles import get_profile

    profile_name, model, _, _ = NETWORKS[name]
    return get_profile(profile_name).with_overrides({"model": model} if model else None)


def _median(values) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def time_network(name: str, *, rounds: int = 3, steps: int = 2, warmup: int = 1, seed: int = 0) -> dict:
    """fp32 and bf16 training and evaluation throughput of one network, interleaved over ``rounds``."""
    import torch

    from respirelib.training.workload import time_train_steps

    profile = _network_profile(name)
    batch_size = NETWORKS[name][2]
    generator = torch.Generator().manual_seed(seed)
    waves = 0.1 * torch.randn(batch_size, profile.audio.n_samples, generator=generator)
    labels = torch.arange(batch_size) % 4
    measured = {precision: [] for precision in PRECISION_PAIR}
    for _ in range(rounds):
        for precision in PRECISION_PAIR:
            measured[precision].append(time_train_steps(waves, labels, profile=profile, device="cpu",
                                                        batch_size=batch_size, steps=steps, warmup=warmup,
                                                        seed=seed, precision=precision))
    result = {"network": NETWORKS[name][3], "backbone": profile.model.backbone, "width": profile.model.width,
              "batch_size": batch_size, "image_shape": measured["fp32"][0]["image_shape"], "rounds": rounds,
              "steps_per_round": steps}
    for precision, runs in measured.items():
        inputs_per_s = _median([run["train_samples_per_s"] for run in runs])
        result[precision] = {
            "train_steps_per_s": round(inputs_per_s / batch_size, 3), "train_inputs_per_s": round(inputs_per_s, 2),
            "model_ms_per_step": round(_median([run["model_ms_per_step"] for run in runs]), 1),
            "features_ms_per_step": round(_median([run["augment_features_ms_per_step"] for run in runs]), 1),
            "eval_inputs_per_s": round(_median([run["eval_samples_per_s"] for run in runs]), 2),
            "train_inputs_per_s_each_round": [run["train_samples_per_s"] for run in runs]}
    result["speedup_train"] = round(result["bf16"]["train_inputs_per_s"] / result["fp32"]["train_inputs_per_s"], 2)
    result["speedup_model"] = round(result["fp32"]["model_ms_per_step"] / result["bf16"]["model_ms_per_step"], 2)
    result["speedup_eval"] = round(result["bf16"]["eval_inputs_per_s"] / result["fp32"]["eval_inputs_per_s"], 2)
    return result


def bench_precision(*, networks=tuple(NETWORKS), threads: int = 2, rounds: int = 3, steps: int = 2,
                    seed: int = 0) -> dict:
    """fp32 against bf16, side by side, for each of ``networks`` (see the module docstring)."""
    import torch

    from respirelib.precision import cpu_bf16_support

    unknown = [name for name in networks if name not in NETWORKS]
    if unknown:
        raise ValueError(f"unknown network(s) {unknown}; choose from {', '.join(NETWORKS)}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        results = {name: time_network(name, rounds=rounds, steps=steps, seed=seed) for name in networks}
    finally:
        torch.set_num_threads(previous)
    native, reason = cpu_bf16_support()
    amx = "amx_bf16" in reason or "amx_tile" in reason
    targets = [target(f"{name}: bf16 training speed-up over fp32 (target for AMX CPUs; this CPU "
                      f"{'has' if amx else 'has no'} AMX)", results[name]["speedup_train"], unit="x",
                      at_least=bound) for name, bound in SPEEDUP_TARGETS.items() if name in results]
    return bench_record("precision", data={"label": "random waveforms (timing only)", "path": None, "scale": None,
                                           "seed": seed, "fingerprint": None, "write_s": None},
                        results={"threads": threads, "cpu_native_bf16": native, "cpu_bf16_reason": reason,
                                 "amx": amx, "command": _command(), "networks": results,
                                 "note": "medians over interleaved rounds (fp32, bf16, fp32, ...); a step is fit's own: "
                                         "augmentation + features (float32, blank region clipping decided once) + "
                                         "forward, backward, the profile's optimizer and moving average"},
                        targets=targets)


def format_precision(record: dict) -> str:
    """The side-by-side table of :func:`bench_precision`, the same numbers as its JSON."""
    lines = [f"{'network':58s} {'precision':9s} {'steps/s':>8s} {'inputs/s':>9s} {'model ms':>9s} "
             f"{'eval in/s':>10s} {'speed-up':>9s}"]
    for result in record["networks"].values():
        for precision in PRECISION_PAIR:
            row = result[precision]
            speedup = f"{result['speedup_train']:.2f}x" if precision == "bf16" else ""
            lines.append(f"{result['network']:58s} {precision:9s} {row['train_steps_per_s']:8.3f} "
                         f"{row['train_inputs_per_s']:9.2f} {row['model_ms_per_step']:9.1f} "
                         f"{row['eval_inputs_per_s']:10.2f} {speedup:>9s}")
    generation = record["hardware"].get("cpu_generation")
    threads = record["threads"]
    lines.append(f"({threads} torch thread{'' if threads == 1 else 's'}; CPU {record['hardware'].get('cpu_model')}"
                 f"{f' ({generation})' if generation else ''}, "
                 f"{record['hardware'].get('cpu_count')} cores; native bf16: {record['cpu_bf16_reason']})")
    return "\n".join(lines)


def _command() -> str | None:
    return "respirenet " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None


def paired_comparison(first: list[float], second: list[float], *, level: float = 0.95) -> dict:
    """``second - first`` per pair: the differences, their mean and std, a t interval of the mean, a verdict.

    The verdict is ``"within the noise"`` when the interval contains zero, otherwise it says which is higher.
    """
    from scipy import stats

    differences = np.asarray(second, dtype=float) - np.asarray(first, dtype=float)
    n = len(differences)
    if n < 2:
        raise ValueError("a paired comparison needs at least two pairs")
    mean, std = float(differences.mean()), float(differences.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / np.sqrt(n)
    low, high = mean - half, mean + half
    verdict = ("within the noise" if low <= 0 <= high else
               ("the second is higher" if low > 0 else "the second is lower"))
    return {"differences": [round(float(d), 3) for d in differences], "mean": round(mean, 3), "std": round(std, 3),
            "ci": [round(low, 3), round(high, 3)], "level": level, "n_pairs": n, "verdict": verdict}


def bench_precision_accuracy(*, seeds=(0, 1, 2, 3, 4), data_dir=None, profile: str = "quick",
                             root: str | Path | None = None, threads: int | None = None,
                             base_overrides: dict | None = None, progress: bool = False) -> dict:
    """Stage 1 of ``profile`` in fp32 and in bf16 for every seed, scored on the test set, compared paired.

    ``base_overrides`` change the profile for both precisions alike (tests use a shorter schedule).
    """
    import torch

    from respirelib.apps.bench_quick import bench_quick

    if threads is not None:
        torch.set_num_threads(threads)
    # Seeds in the outer loop would need bench_quick per seed; its candidates loop is fine: the pairs are
    # matched by seed, and both precisions share the data, the split and the test set.
    record = bench_quick([(precision, {"stage1": {"precision": precision}}) for precision in PRECISION_PAIR],
                         data_dir=data_dir, profile=profile, seeds=tuple(seeds), root=root, device="cpu",
                         base_overrides=base_overrides, progress=progress)
    runs = {candidate["name"]: candidate["runs"] for candidate in record["candidates"]}
    comparison = {}
    for metric in ("score", "sp", "se", "score_2class"):
        pair = [[100 * run[metric] for run in runs[precision]] for precision in PRECISION_PAIR]
        comparison[metric] = {**paired_comparison(*pair), "fp32": [round(v, 2) for v in pair[0]],
                              "bf16": [round(v, 2) for v in pair[1]]}
    fit_s = {precision: [run["fit_s"] for run in runs[precision]] for precision in PRECISION_PAIR}
    spread = float(np.std([100 * run["score"] for run in runs["fp32"]], ddof=1))
    score = comparison["score"]
    words = (f"Over {len(seeds)} paired seeds the 4-class Score in bf16 minus fp32 is {score['mean']:+.2f} points "
             f"on average (95 % interval {score['ci'][0]:+.2f} to {score['ci'][1]:+.2f}; per seed "
             f"{', '.join(format_signed(d) for d in score['differences'])}; the fp32 seeds themselves spread by "
             f"{spread:.1f} points): {score['verdict'].replace('the second', 'bf16')}.")
    record["benchmark"] = "precision-accuracy"
    record.update({"paired": comparison, "fit_s": fit_s, "fp32_score_std": round(spread, 2), "in_words": words,
                   "precisions_used": {precision: sorted({run.get("precision") for run in runs[precision]})
                                       for precision in PRECISION_PAIR}})
    return record


def format_precision_accuracy(record: dict) -> str:
    """The paired table of :func:`bench_precision_accuracy`, the same numbers as its JSON."""
    lines = [f"{'metric (%)':14s} {'fp32 per seed':36s} {'bf16 per seed':36s} {'bf16 - fp32 mean [95% CI]':28s} "
             "verdict"]
    for metric, result in record["paired"].items():
        difference = f"{result['mean']:+6.2f} [{result['ci'][0]:+.2f}, {result['ci'][1]:+.2f}]"
        lines.append(f"{metric:14s} {' '.join(f'{v:6.2f}' for v in result['fp32']):36s} "
                     f"{' '.join(f'{v:6.2f}' for v in result['bf16']):36s} "
                     f"{difference:28s} "
                     f"{result['verdict'].replace('the second', 'bf16')}")
    lines.append(f"seeds {record['seeds']}, profile {record['profile']}, {record['hardware'].get('torch_threads')} "
                 f"threads, {record['data']['label']} data; stage-1 seconds per seed: fp32 {record['fit_s']['fp32']}, "
                 f"bf16 {record['fit_s']['bf16']}")
    lines.append(record["in_words"])
    return "\n".join(lines)


def add_bench_precision_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--networks", nargs="+", choices=tuple(NETWORKS), default=list(NETWORKS))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved fp32/bf16 rounds (default 3)")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round, after one warm-up")


def run_bench_precision(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_precision(networks=tuple(args.networks), threads=args.threads, rounds=args.rounds,
                                 steps=args.steps)
    return _emit_with_table(record, args, format_precision)


def add_bench_precision_accuracy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", type=Path, default=None, help="ICBHI folder (default: the profile's synthetic set)")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--root", type=Path, default=None, help="where the runs go (default: a new runs/bench-*)")
    parser.add_argument("--quiet", action="store_true")


def run_bench_precision_accuracy(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_precision_accuracy(seeds=args.seeds, data_dir=args.data, profile=args.profile,
                                          root=args.root, threads=args.threads, progress=not args.quiet)
    return _emit_with_table(record, args, format_precision_accuracy)
