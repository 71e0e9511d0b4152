"""Benchmarks of the pipeline (``respirenet bench ...``), each a function returning a JSON-ready dict.

Every result has one layout, made by :func:`bench_record`: the benchmark's name,
when and where it ran (:func:`respirelib.experiments.provenance.hardware_record`, the load average,
the commit), the data it ran on, its measurements, and a list of targets, each
with the measured value and whether it was met. A new benchmark adds a function
returning such a record, an ``add_*_arguments`` / ``run_*`` pair, and an entry in
:func:`registered_benchmarks`; :func:`add_bench_arguments` registers them all under ``bench``.

:func:`bench_prep` measures, by default on the full-scale synthetic set:

- cold pre-processing: :func:`respirelib.data.icbhi.load_icbhi`, the data fingerprint
  and :func:`respirelib.signal.cache.build_cycle_cache` into a fresh temporary cache
  folder, so nothing is reused (target: the whole set in under 60 s on 2 cores);
- warm loading: the same calls again, now finding the cache (target: under 5 s);
- augmentation + features for training batches: 64 inputs of 7 s drawn by class,
  :func:`respirelib.signal.augment.augment_batch`, then the paper's
  :class:`respirelib.signal.frontend.FeatureFrontend` (Mel, blank region clipping, magma
  image resized 3x, normalisation), on CPU with 2 threads (target: 200 samples/s)
  and on CUDA where available (target: 20,000 samples/s).

The operating system's file cache is not dropped before the cold run (that needs
root and slows every other process on the machine), so the audio files are
usually read from memory, e.g. right after the synthetic set was written. The
targets are stated for the full-size set; on a scaled-down set the record says
``full_size: false`` and its pass/fail says little.

On a machine shared with other busy processes, torch's OpenMP threads spin while
they wait and slow every CPU operation many times over (measured here on 2 cores
under a load of 5: 170 samples/s with ``OMP_WAIT_POLICY=PASSIVE``, 32 without).
The record keeps the OpenMP and MKL environment variables so such runs can be told
apart; set the variable before Python starts, as OpenMP reads it once.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from respirelib.apps.bench_common import (_add_output_arguments, _data_record, _emit, _timed, bench_record,  # noqa: F401
                                     format_bench, target)

FULL_SIZE_CYCLES = 6000  # ICBHI has 6898 cycles; a set this large counts as full size

PREP_TARGETS = {"cold_s": 60.0, "warm_s": 5.0, "cpu_samples_per_s": 200.0, "cuda_samples_per_s": 20000.0}



def time_preprocessing(data_dir: str | Path, *, audio, cache_dir: str | Path, workers: int,
                       progress: bool = False):
    """Cold then warm: load, fingerprint and cycle cache, the cold run into an empty ``cache_dir``.

    Returns
    -------
    cache : CycleCache
        The cache built (it lives in ``cache_dir``).
    timings : dict
        ``cold`` and ``warm`` with ``load_s``, ``fingerprint_s``, ``cache_s`` and ``total_s``.
    dataset : ICBHIDataset
    """
    from respirelib.signal.cache import build_cycle_cache
    from respirelib.data.icbhi import forget_loaded, load_icbhi

    timings = {}
    for run in ("cold", "warm"):
        forget_loaded()  # each run reads the folder as a new process would; only the cycle cache is warm
        dataset, load_s = _timed(load_icbhi, data_dir)
        _, fingerprint_s = _timed(lambda: dataset.fingerprint)
        cache, cache_s = _timed(build_cycle_cache, dataset, config=audio, cache_dir=cache_dir, workers=workers,
                                progress=progress and run == "cold")
        total = load_s + fingerprint_s + cache_s
        timings[run] = {"load_s": round(load_s, 3), "fingerprint_s": round(fingerprint_s, 3),
                        "cache_s": round(cache_s, 3), "total_s": round(total, 3),
                        "recordings_per_s": round(len(dataset.recordings) / total, 2),
                        "cycles_per_s": round(len(dataset.cycles) / total, 1)}
    return cache, timings, dataset


def time_training_batches(waves, labels, *, sr: int, device: str, features, augment, batch_size: int = 64,
                          n_batches: int = 10, warmup: int = 2, seed: int = 0) -> dict:
    """Throughput of augmentation + features on class-balanced training batches.

    Parameters
    ----------
    waves : torch.Tensor [shape=(n, n_samples)]
        The training inputs (moved to ``device`` here).
    labels : torch.Tensor [shape=(n,)]
    sr : int
    device : str
        ``"cpu"`` or ``"cuda"``; CPU threads are whatever torch is set to.
    features : FeatureConfig
    augment : AugmentConfig
    batch_size, n_batches, warmup : int
        Batches timed, after ``warmup`` untimed ones.
    seed : int

    Returns
    -------
    dict
        ``samples_per_s`` and the milliseconds per batch of each part.
    """
    import torch

    from respirelib.signal.augment import augment_batch
    from respirelib.signal.frontend import FeatureFrontend

    frontend = FeatureFrontend(features, clip_blank=True).to(device)
    waves = waves.to(device)
    counts = torch.bincount(labels, minlength=4).double()
    weights = (1.0 / counts[labels]).to(device)  # the class-balanced sampler's weights
    sample_generator = torch.Generator(device=device).manual_seed(seed)
    augment_generator = torch.Generator(device=device).manual_seed(seed + 1)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    augment_s = features_s = 0.0
    shape = None
    with torch.inference_mode():
        for step in range(warmup + n_batches):
            sync()
            started = time.perf_counter()
            batch = torch.multinomial(weights, batch_size, replacement=True, generator=sample_generator)
            wave = augment_batch(waves[batch], sr=sr, config=augment, generator=augment_generator)
            sync()
            middle = time.perf_counter()
            images = frontend(wave)
            sync()
            if step >= warmup:
                augment_s += middle - started
                features_s += time.perf_counter() - middle
            shape = list(images.shape[1:])
    total = augment_s + features_s
    return {"device": device, "batch_size": batch_size, "batches": n_batches, "image_shape": shape,
            "augment_ms_per_batch": round(1000 * augment_s / n_batches, 2),
            "features_ms_per_batch": round(1000 * features_s / n_batches, 2),
            "samples_per_s": round(n_batches * batch_size / total, 1)}


def _pool_rows(cycles, pool_cycles: int) -> np.ndarray:
    """Training rows (official split, else all) of the first whole recordings holding about ``pool_cycles``."""
    in_train = (cycles["split"] == "train").to_numpy()
    candidates = cycles[in_train] if in_train.any() else cycles
    recordings = candidates["recording"].astype(str)
    sizes = recordings.value_counts().reindex(recordings.unique())
    chosen = sizes.index[(sizes.cumsum() - sizes).to_numpy() < pool_cycles]
    return candidates.index[recordings.isin(chosen)].to_numpy()


def bench_prep(data_dir: str | Path | None = None, *, scale: float = 1.0, seed: int = 0, workers: int = 2,
               threads: int = 2, batch_size: int = 64, cpu_batches: int = 10, cuda_batches: int = 50,
               device: str = "auto", pool_cycles: int = 512, progress: bool = False) -> dict:
    """Pre-processing and augmentation + features throughput (see the module docstring).

    Parameters
    ----------
    data_dir : str or Path or None
        An ICBHI-layout folder with audio; None: the synthetic set at ``scale``/``seed``
        (:func:`respirelib.data.data_dirs.resolve_data_dir`, written first if missing; not timed
        as pre-processing, reported as ``data.write_s``).
    scale, seed : float, int
        Of the synthetic default.
    workers : int
        Processes building the cache.
    threads : int
        Torch CPU threads for the CPU batches (restored afterwards).
    batch_size, cpu_batches, cuda_batches : int
        Timed training batches per device.
    device : str
        ``"auto"`` (CPU, and CUDA when available), ``"cpu"`` or ``"cuda"``.
    pool_cycles : int
        About this many training cycles (whole recordings) plus their concatenation
        samples form the pool the batches are drawn from.
    progress : bool
        Progress bars for writing the synthetic set and building the cache.

    Returns
    -------
    dict
        :func:`bench_record` with ``counts``, ``preprocessing`` (``cold``, ``warm``),
        ``training_set`` and ``batches`` (one entry per device).
    """
    import torch

    from respirelib.data.data_dirs import default_synthetic_dir, resolve_data_dir
    from respirelib.data.names import SYNTHETIC_MARKER
    from respirelib.training.profiles import get_profile
    from respirelib.signal.samples import training_set

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device")
    paper = get_profile("paper")
    written_now = not data_dir and not (default_synthetic_dir(scale=scale, seed=seed) / SYNTHETIC_MARKER).is_file()
    data_path, write_s = _timed(resolve_data_dir, data_dir, scale=scale, seed=seed, progress=progress)
    with tempfile.TemporaryDirectory(prefix="respirenet-bench-") as cache_dir:
        cache, timings, dataset = time_preprocessing(data_path, audio=paper.audio, cache_dir=cache_dir,
                                                     workers=workers, progress=progress)
        rows = _pool_rows(dataset.cycles, pool_cycles)
        pool, pool_s = _timed(training_set, cache, rows, audio=paper.audio, augment=paper.augment, concat=True,
                              seed=seed)
        batches = {}
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            if device in ("auto", "cpu"):
                batches["cpu"] = time_training_batches(pool.waves, pool.labels, sr=cache.sr, device="cpu",
                                                       features=paper.features, augment=paper.augment,
                                                       batch_size=batch_size, n_batches=cpu_batches, seed=seed)
                batches["cpu"]["threads"] = threads
        finally:
            torch.set_num_threads(previous_threads)
        if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
            batches["cuda"] = time_training_batches(pool.waves, pool.labels, sr=cache.sr, device="cuda",
                                                    features=paper.features, augment=paper.augment,
                                                    batch_size=batch_size, n_batches=cuda_batches, seed=seed)
            batches["cuda"]["gpu"] = torch.cuda.get_device_name(0)
    recordings = dataset.recordings
    counts = {"recordings": len(recordings), "cycles": len(dataset.cycles),
              "audio_hours": round(float(recordings["audio_duration"].sum()) / 3600, 3)}
    targets = [target("cold pre-processing, whole set", timings["cold"]["total_s"], unit="s",
                      at_most=PREP_TARGETS["cold_s"]),
               target("warm load, whole set", timings["warm"]["total_s"], unit="s", at_most=PREP_TARGETS["warm_s"])]
    if "cpu" in batches:
        targets.append(target(f"augmentation + features, CPU ({threads} threads)", batches["cpu"]["samples_per_s"],
                              unit="samples/s", at_least=PREP_TARGETS["cpu_samples_per_s"]))
    if "cuda" in batches:
        targets.append(target("augmentation + features, GPU", batches["cuda"]["samples_per_s"], unit="samples/s",
                              at_least=PREP_TARGETS["cuda_samples_per_s"]))
    results = {
        "full_size": counts["cycles"] >= FULL_SIZE_CYCLES,
        "counts": counts,
        "preprocessing": {"workers": workers, "audio": asdict(paper.audio), **timings},
        "training_set": {"cycles": len(rows), "samples": len(pool), "seconds": round(pool_s, 3),
                         "samples_per_s": round(len(pool) / pool_s, 1)},
        "batches": batches,
    }
    data = _data_record(dataset, write_s=round(write_s, 1) if written_now else None)
    return bench_record("prep", data=data, results=results, targets=targets)


def add_bench_prep_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``respirenet bench prep``."""
    parser.add_argument("--data", type=Path, default=None,
                        help="an ICBHI folder with audio (default: the synthetic set, written to data/ if missing)")
    parser.add_argument("--scale", type=float, default=1.0, help="scale of the synthetic set (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes building the cache (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the batches (default 2)")
    parser.add_argument("--batches", type=int, default=10, help="timed CPU batches of 64 (default 10)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto: CPU, and CUDA when available")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_bench_prep(args: argparse.Namespace) -> int:
    """``respirenet bench prep``: run :func:`bench_prep` and print its result."""
    # With --json, stdout carries only the JSON: anything printed on the way goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        record = bench_prep(args.data, scale=args.scale, seed=args.seed, workers=args.workers, threads=args.threads,
                            cpu_batches=args.batches, device=args.device, progress=not args.quiet)
    return _emit(record, args)


def registered_benchmarks() -> dict[str, tuple[str, Callable, Callable]]:
    """name -> (help, add the benchmark's options, run it)."""
    from respirelib.apps.bench_quick import add_bench_demo_arguments, add_bench_quick_arguments, run_bench_demo, run_bench_quick
    from respirelib.apps.bench_precision import (add_bench_precision_accuracy_arguments, add_bench_precision_arguments,
                                                 run_bench_precision, run_bench_precision_accuracy)
    from respirelib.apps.bench_train import add_bench_train_arguments, run_bench_train
    from respirelib.apps.bench_transfer import add_bench_transfer_arguments, run_bench_transfer

    return {"prep": ("pre-processing and augmentation + features throughput", add_bench_prep_arguments,
                     run_bench_prep),
            "train": ("training throughput and the paper schedule's wall time", add_bench_train_arguments,
                      run_bench_train),
            "quick": ("train candidate settings over seeds: test scores mean ± std, class recalls, time",
                      add_bench_quick_arguments, run_bench_quick),
            "demo": ("the whole demo (every notebook, its seeds) against its targets: wall time, seeds, recalls, "
                     "spread", add_bench_demo_arguments, run_bench_demo),
            "transfer": ("train on the synthetic default only, score 2-class on real recordings",
                         add_bench_transfer_arguments, run_bench_transfer),

            "precision": ("fp32 against bf16 side by side: training steps/s and inputs/s of the quick, full-width "
                          "ResNet-18 and paper networks", add_bench_precision_arguments, run_bench_precision),
            "precision-accuracy": ("fp32 against bf16 on the quick profile over seeds: paired test-score differences",
                                   add_bench_precision_accuracy_arguments, run_bench_precision_accuracy)}


def add_bench_arguments(subparsers) -> argparse.ArgumentParser:
    """Register ``bench`` and every benchmark of :func:`registered_benchmarks` on the CLI's subparsers.

    Each benchmark's parser gets ``--json`` and ``--out`` and ``func`` set to its runner.
    """
    bench = subparsers.add_parser("bench", help="measure the pipeline's speed against its targets")
    benchmarks = bench.add_subparsers(dest="bench_command", required=True)
    for name, (help_text, add_arguments, run) in registered_benchmarks().items():
        parser = benchmarks.add_parser(name, help=help_text)
        _add_output_arguments(parser)
        add_arguments(parser)
        parser.set_defaults(func=run)
    return bench
