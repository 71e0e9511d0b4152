"""``study.ensure_runs``: runs trained side by side in their own processes give the numbers of the same runs
trained here on the same thread count, and a set already done is only read."""

from __future__ import annotations

import json

import pytest
import torch

from respirelib.experiments.study import ensure_run, ensure_runs
from respirelib.training.profiles import get_profile

JOBS = [{"split": "official", "variant": "full", "seed": 0}, {"split": "official", "variant": "cnn", "seed": 1}]
SHARED = {"profile": "smoke", "init": "random", "device": "cpu", "progress": False}


def _outputs(run_dir):
    request = json.loads((run_dir / "run.json").read_text())
    return ((run_dir / "metrics_predictions.csv").read_text(), json.loads((run_dir / "metrics.json").read_text())["four_class"],
            request["provenance"]["hardware"]["torch_threads"])


def test_runs_side_by_side_match_the_same_runs_trained_here(tiny_synthetic, tmp_path, capsys):
    threads = torch.get_num_threads()
    side_by_side = ensure_runs(tmp_path / "parallel", tiny_synthetic, JOBS, workers=2, **SHARED)
    assert [d.name for d in side_by_side] == ["official-full-seed0", "official-cnn-seed1"]
    printed = capsys.readouterr().out
    assert "training 2 run(s), 2 at a time" in printed
    assert sorted(line.split(":")[0] for line in printed.splitlines() if ": done (" in line) == [
        "official-cnn-seed1", "official-full-seed0"]
    assert "(1/2," in printed and "(2/2," in printed

    each = max(1, threads // 2)
    torch.set_num_threads(each)
    try:
        here = [ensure_run(tmp_path / "here", tiny_synthetic, **SHARED, **job) for job in JOBS]
    finally:
        torch.set_num_threads(threads)
    for parallel_dir, here_dir in zip(side_by_side, here):
        assert _outputs(parallel_dir) == _outputs(here_dir)
        assert _outputs(parallel_dir)[2] == each

    # Done: read, not trained again (no pool, nothing printed, the files untouched).
    stamp = [(d / "metrics.json").stat().st_mtime_ns for d in side_by_side]
    assert ensure_runs(tmp_path / "parallel", tiny_synthetic, JOBS, workers=2, **SHARED) == side_by_side
    assert "training" not in capsys.readouterr().out
    assert [(d / "metrics.json").stat().st_mtime_ns for d in side_by_side] == stamp


def test_a_failing_run_raises_its_own_error_and_stops_the_others_at_once(tiny_synthetic, tmp_path):
    jobs = [{"split": "nonsense", "variant": "full", "seed": 0}, {"split": "official", "variant": "full", "seed": 0}]
    with pytest.raises(ValueError, match="unknown split"):
        ensure_runs(tmp_path, tiny_synthetic, jobs, workers=2, **SHARED)
    # the other run was stopped, not waited for; run again, it resumes and finishes
    stopped = tmp_path / "train" / "official-full-seed0"
    assert not (stopped / "metrics.json").exists()
    assert ensure_runs(tmp_path, tiny_synthetic, jobs[1:], workers=2, **SHARED) == [stopped]
    assert (stopped / "metrics_predictions.csv").is_file()


def test_workers_must_be_positive_and_only_quick_trains_side_by_side(tmp_path):
    with pytest.raises(ValueError, match="workers must be at least 1"):
        ensure_runs(tmp_path, tmp_path, JOBS, workers=0, **SHARED)
    assert get_profile("quick").parallel_runs == 2
    assert get_profile("paper").parallel_runs == get_profile("smoke").parallel_runs == 1


def test_a_training_process_killed_from_outside_names_the_unfinished_runs_and_a_rerun_finishes(tiny_synthetic,
                                                                                                tmp_path):
    import multiprocessing
    import os
    import signal
    import threading
    import time

    raised = []

    def train_set():
        try:
            ensure_runs(tmp_path, tiny_synthetic, JOBS[:1], workers=2, **SHARED)  # one run: half the cost
        except BaseException as error:  # noqa: BLE001 (the test reads it below)
            raised.append(error)

    before = {process.pid for process in multiprocessing.active_children()}
    thread = threading.Thread(target=train_set)
    thread.start()
    deadline = time.monotonic() + 120
    # kill -9 one training process once a run has started writing (as the kernel's OOM killer would)
    while not list((tmp_path / "train").glob("*/run.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [process for process in multiprocessing.active_children() if process.pid not in before]
    assert workers, "no training process to kill"
    os.kill(workers[0].pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError), raised
    message = str(raised[0])
    assert "killed from outside" in message and "again" in message
    assert "official-full-seed0" in message and str(tmp_path / "train") in message
    # run again, it resumes and finishes
    done = ensure_runs(tmp_path, tiny_synthetic, JOBS[:1], workers=2, **SHARED)
    assert (done[0] / "metrics_predictions.csv").is_file()
