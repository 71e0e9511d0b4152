"""The paper's experiments as sets of runs: Table I rows, the Table II sweep, several seeds.

Training runs live under ``<root>/train/<split>-<variant>-seed<seed>/``, named by
:mod:`respirelib.experiments.variants`. Variants:

- ``cnn``: the base model, without concatenation augmentation and blank region clipping
  (Table I, "CNN");
- ``full``: with both ("+CBA+BRC"); fine-tuning it per device gives "+FT";
- ``len<N>s``: ``full`` with an N-second input (Table II).

Splits: ``official`` (60/40), ``patient`` (80/20, fold 0 of a patient-wise 5-fold) and
``patient-cv`` (all five folds, each run named ``patient-fold<k>``): the cross-validation
the paper's conclusion asks for, aggregated as mean ± std over folds (and seeds). The
patient split's seed is fixed (``split_seed``, default 0), separate from the training
seed, so the seeds of one split share their test patients and their spread is training
variance alone.

:func:`ensure_run` trains and evaluates a run that is missing, resumes one that was
interrupted, and only reads one that is complete, so notebooks can be re-run cheaply;
:func:`ensure_runs` does the same for many runs, several side by side on a CPU
(:attr:`respirelib.training.profiles.Profile.parallel_runs`);
:func:`collect_metrics` reads every evaluated run of a set, which
:mod:`respirelib.experiments.tables` turns into the paper's tables.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import torch

from respirelib.experiments.progress import announce
from respirelib.experiments.run import evaluate_run, finetune_run, resolve_device, train_run
from respirelib.progressbar import progress_bar
from respirelib.experiments.variants import (ROW_NAMES, model_run_dir, parse_run_name, split_group, split_scheme,
                                             variant_overrides)
from respirelib.training.metrics import class_recalls


def ensure_run(root: str | Path, data_dir: str | Path, *, split: str, variant: str, seed: int,
               profile: str, init: str, device: str = "auto", precision: str = "auto", finetune: bool = False,
               train: bool = True, monitor_test: bool = True, progress: bool = True) -> Path:
    """A trained and evaluated run for (split, variant, seed) under ``root``; train only what is missing.

    A run killed at any point is continued: ``run.json`` (written before the first epoch)
    marks a started run, resumed from its last checkpoint or, killed in its first epoch,
    from the start in the same directory; an evaluation counts as done only once both its
    metrics and its predictions are written. ``precision`` is the training's (``"auto"``, ``"fp32"``
    or ``"bf16"``); stage 2 and the evaluations use the precision the run recorded.
    ``monitor_test=False`` switches off the profile's test monitoring (``TrainConfig.monitor_test``) for
    a run that is trained here: the monitor only feeds the optimism table, which reads the full model's
    lowest seed (:func:`respirelib.experiments.tables.optimism_table`), and costs a test evaluation per
    validation epoch in every other run.
    """
    run_dir = model_run_dir(root, split=split, variant=variant, seed=seed)
    complete = _evaluated(run_dir, "metrics")
    if not complete and not train:
        raise FileNotFoundError(f"{run_dir} has no finished run and training was not asked for (train=False)")
    if not complete:
        scheme, fold = split_scheme(split)
        announce(root, run_dir.name, "stage1")  # "run k/N: ..., elapsed, remaining" under a pipeline's plan
        overrides = variant_overrides(variant)
        if not monitor_test:
            overrides = {**overrides, "stage1": {**overrides.get("stage1", {}), "monitor_test": False}}
        train_run(data_dir, run_dir, profile=profile, seed=seed, split=scheme, fold=fold, init=init, device=device,
                  precision=precision, resume=(run_dir / "run.json").is_file(), progress=progress, overrides=overrides)
        # metrics.json without its predictions: what an evaluation killed half-way left
        evaluate_run(run_dir, device=device, overwrite=(run_dir / "metrics.json").exists(), progress=progress)
    if finetune and not _evaluated(run_dir, "metrics_finetuned"):
        if not train:
            raise FileNotFoundError(f"{run_dir} has no fine-tuned models and training was not asked for")
        announce(root, run_dir.name, "stage2")
        finetune_run(run_dir, device=device, resume=(run_dir / "stage2").is_dir(), progress=progress)
        evaluate_run(run_dir, device=device, overwrite=True, progress=progress)
    return run_dir


def ensure_runs(root: str | Path, data_dir: str | Path, jobs: list[dict], *, workers: int = 1,
                device: str = "auto", progress: bool = True, **shared) -> list[Path]:
    """:func:`ensure_run` for many runs; on a CPU, ``workers`` of them train side by side.

    Parameters
    ----------
    jobs : list of dict
        Each run's own arguments of :func:`ensure_run` (``split``, ``variant``, ``seed``, and
        any other, e.g. ``monitor_test``); ``shared`` holds the ones they have in common
        (``profile``, ``init``, ``precision``, ``finetune``, ``train``).
    workers : int
        Runs trained at once, each in its own process with ``T // workers`` torch threads, where
        T is this process's thread count (so 1 thread each with 2 workers on 2 cores). A small
        network keeps one core busier than two, so two 1-thread runs finish in little more
        than the time of one 2-thread run. Each run's numbers depend on its thread count (its
        ``run.json`` records it): the same ``workers`` on the same machine gives the same numbers,
        also when an interrupted set is resumed. ``1`` (or a GPU, which takes the runs one after
        another): every run here, in this process, on T threads.

    Returns
    -------
    list of Path
        The run directories, in the order of ``jobs``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    requests = [{**shared, **job} for job in jobs]
    if workers == 1 or resolve_device(device).type != "cpu":
        return [ensure_run(root, data_dir, device=device, progress=progress, **request) for request in requests]
    threads = max(1, torch.get_num_threads() // workers)
    run_dirs = [model_run_dir(root, split=r["split"], variant=r["variant"], seed=r["seed"]) for r in requests]
    missing = [i for i, (run_dir, r) in enumerate(zip(run_dirs, requests))
               if not _evaluated(run_dir, "metrics") or (r.get("finetune") and not _evaluated(run_dir, "metrics_finetuned"))]
    if not missing:
        return run_dirs
    if not shared.get("train", True):  # ensure_run says which run is missing
        return [ensure_run(root, data_dir, device=device, progress=progress, **request) for request in requests]
    print(f"training {len(missing)} run(s), {min(workers, len(missing))} at a time, {threads} torch thread(s) each",
          flush=True)
    # spawn, not fork: a forked child inherits this process's OpenMP thread pool, which can hang it
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    bar = progress_bar(total=len(missing), desc="training runs", unit="run", progress=progress)
    # concurrent.futures, not multiprocessing.Pool: a run builds its data cache with a process pool of its
    # own, which Pool's daemonic workers may not start
    pool = ProcessPoolExecutor(max_workers=min(workers, len(missing)), mp_context=context,
                               initializer=_run_worker, initargs=(threads,))
    try:
        pending = {pool.submit(_ensure_run_task, (root, data_dir, device, requests[i])): i for i in missing}
        finished = 0
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    future.result()  # a run's error is raised here, naming its own file and problem
                except BrokenProcessPool as error:  # a process killed from outside (out of memory, kill -9)
                    names = ", ".join(run_dirs[i].name for i in sorted(pending.values()))
                    raise RuntimeError(
                        f"a training process was killed from outside (out of memory? `kill`?) while these runs "
                        f"were unfinished under {Path(root) / 'train'}: {names}. Run the same command or notebook "
                        f"cell again: each resumes from its last checkpoint.") from error
                index = pending.pop(future)
                finished += 1
                bar.update()
                print(f"{run_dirs[index].name}: done ({finished}/{len(missing)}, "
                      f"{time.perf_counter() - started:.0f} s elapsed)", flush=True)
    except BaseException:
        # An interrupted or failed set stops at once rather than after the runs in flight; their writes are
        # atomic, and ensure_run resumes them from their last checkpoints next time.
        for process in list(getattr(pool, "_processes", {}).values()):  # no public way before Python 3.14
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return run_dirs


def _ensure_run_task(task: tuple) -> None:
    root, data_dir, device, request = task
    ensure_run(root, data_dir, device=device, progress=False, **request)


def _run_worker(threads: int) -> None:
    """A training process of :func:`ensure_runs`: its share of the threads, and no printing of its own.

    Its lines would interleave with the other runs' in a notebook; the parent prints one line per finished
    run, and :func:`announce` still appends each start to a pipeline's ``progress.log``. Errors go to stderr.
    """
    torch.set_num_threads(threads)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the process's own stdout, for its whole life)


def _evaluated(run_dir: Path, stem: str) -> bool:
    """Both files of an evaluation are there (``evaluate_run`` writes the metrics, then the predictions)."""
    return (run_dir / f"{stem}.json").is_file() and (run_dir / f"{stem}_predictions.csv").is_file()


def training_facts(root: str | Path) -> dict:
    """Precision and torch threads of the training runs under ``root/train``, as their ``run.json`` recorded them:
    ``{"precision": [...], "threads": [...]}`` (sorted, each value once)."""
    precisions, threads = set(), set()
    for path in sorted((Path(root) / "train").glob("*-seed*/run.json")):
        request = json.loads(path.read_text())
        precisions.add((request.get("precision") or {}).get("used") or "not recorded")
        threads.add(request["provenance"]["hardware"].get("torch_threads"))
    return {"precision": sorted(precisions), "threads": sorted(t for t in threads if t is not None)}

def collect_metrics(root: str | Path) -> pd.DataFrame:
    """One row per (run, stage): split, variant, seed, stage, row name, and the metrics in percent.

    ``split`` is the table the run belongs to (the folds of a cross-validation share
    ``patient-cv``; ``fold`` says which), and each metric has its 95% interval as
    ``<metric> ci`` (a [low, high] pair in percent, or None).
    """
    rows = []
    for run_dir in sorted((Path(root) / "train").glob("*-seed*")):
        parsed = parse_run_name(run_dir.name)
        if parsed is None:
            continue
        split_label, variant, seed = parsed
        for stage, file_name in (("stage1", "metrics.json"), ("finetuned", "metrics_finetuned.json")):
            path = run_dir / file_name
            if not path.is_file():
                continue
            metrics = json.loads(path.read_text())
            row_name = ROW_NAMES["finetuned"] if stage == "finetuned" else ROW_NAMES.get(variant, variant)
            record = {"run": run_dir.name, "split": split_group(split_label), "fold": split_scheme(split_label)[1],
                      "variant": variant, "seed": seed, "stage": stage, "row": row_name, "data": metrics["data"],
                      "init": metrics["init"], "profile": metrics["profile"],
                      "predictions": str(path.with_name(path.stem + "_predictions.csv"))}
            for task, key in (("4-class", "four_class"), ("2-class", "two_class")):
                for metric in ("sp", "se", "score"):
                    value = metrics[key][metric]
                    record[f"{task} {metric}"] = None if value is None else 100 * value
                    interval = metrics.get("ci", {}).get(key, {}).get(metric, {}).get("ci")
                    record[f"{task} {metric} ci"] = None if interval is None else [100 * v for v in interval]
            record["class recall"] = [None if r is None else 100 * r for r in class_recalls(metrics["confusion"])]
            rows.append(record)
    return pd.DataFrame(rows)
