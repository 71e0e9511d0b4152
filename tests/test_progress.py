"""The pipeline's plan of training runs, its projected time and the progress line of each run."""

from __future__ import annotations

import json
import os
import time

import pytest

from respirelib.experiments.progress import (PLAN_FILE, PROGRESS_FILE, announce, describe_projection, echoing, format_seconds,
                                 planned_runs, project, recorded_throughput, write_plan)


def test_the_reproduction_plans_thirty_runs():
    runs = planned_runs(["official", "patient"], [0, 1, 2, 3, 4])
    stages = [run["stage"] for run in runs]
    assert len(runs) == 30 and stages.count("stage1") == 20 and stages.count("stage2") == 10
    assert {run["variant"] for run in runs if run["stage"] == "stage2"} == {"full"}
    assert runs[0]["name"] == "official-full-seed0" and len({(r["name"], r["stage"]) for r in runs}) == 30
    folds = planned_runs(["patient-cv"], [0], ablation=False)
    assert [run["name"] for run in folds if run["stage"] == "stage1"] == [f"patient-fold{k}-full-seed0" for k in range(5)]


def test_format_seconds():
    assert [format_seconds(s) for s in (40, 720, 11400)] == ["40 s", "12 min", "3 h 10 min"]


def _bench_record(folder, *, cpu_count, profile="smoke", train=50.0, evaluate=200.0, stamp="2026-01-01T00:00:00",
                  precision=None):
    steps = {"train_samples_per_s": train, "eval_samples_per_s": evaluate}
    if precision is not None:  # records made before precision was recorded have none
        steps["precision"] = precision
    record = {"benchmark": "train", "profile": profile, "timestamp": stamp, "hardware": {"cpu_count": cpu_count},
              "steps": {"cpu": steps}}
    path = folder / f"bench_train_{profile}_{cpu_count}_{stamp[:4]}{precision or ''}.json"
    path.write_text(json.dumps(record))
    return path


def test_a_record_of_this_hardware_is_used_and_others_are_not(tmp_path):
    _bench_record(tmp_path, cpu_count=(os.cpu_count() or 1) + 1)
    _bench_record(tmp_path, cpu_count=os.cpu_count(), profile="paper")
    assert recorded_throughput("cpu", profile="smoke", results_dir=tmp_path) is None
    _bench_record(tmp_path, cpu_count=os.cpu_count(), train=40.0, stamp="2025-01-01T00:00:00")
    newest = _bench_record(tmp_path, cpu_count=os.cpu_count(), train=60.0, stamp="2026-06-01T00:00:00")
    found = recorded_throughput("cpu", profile="smoke", results_dir=tmp_path)
    assert found["train_samples_per_s"] == 60.0 and newest.name in found["basis"]
    assert recorded_throughput("cuda", profile="smoke", results_dir=tmp_path) is None
    # A CPU record without a precision ran in fp32: it says nothing of bf16 steps, and the reverse.
    assert recorded_throughput("cpu", profile="smoke", precision="bf16", results_dir=tmp_path) is None
    bf16 = _bench_record(tmp_path, cpu_count=os.cpu_count(), train=90.0, stamp="2026-01-01T00:00:00",
                         precision="bf16")
    assert bf16.name in recorded_throughput("cpu", profile="smoke", precision="bf16", results_dir=tmp_path)["basis"]
    assert recorded_throughput("cpu", profile="smoke", results_dir=tmp_path)["train_samples_per_s"] == 60.0


@pytest.mark.slow
def test_projection_from_a_record_and_from_a_warm_up(tiny_synthetic, tmp_path):
    from respirelib.training.workload import schedule_workload
    from respirelib.experiments.run import prepare_data
    from respirelib.training.profiles import get_profile

    runs = planned_runs(["official"], [0])
    record = _bench_record(tmp_path, cpu_count=os.cpu_count(), train=50.0, evaluate=200.0)
    projection = project(tiny_synthetic, runs, profile="smoke", device="cpu", precision="fp32", results_dir=tmp_path)
    work = schedule_workload(prepare_data(tiny_synthetic, get_profile("smoke"), split="official",
                                          progress=False), get_profile("smoke"))
    full = next(run for run in projection["runs"] if run["name"] == "official-full-seed0" and run["stage"] == "stage1")
    expected = work["stage1_train_samples"] / 50 + (work["stage1_eval_windows"] + work["test_eval_windows"] / 2) / 200
    assert full["projected_s"] == pytest.approx(expected, abs=0.1)
    assert projection["total_s"] == pytest.approx(sum(r["projected_s"] for r in projection["runs"]), abs=0.2)
    assert projection["parallel_runs"] == 1  # smoke trains one run at a time; quick two (the total halves)
    assert record.name in describe_projection(projection) and "3 training runs" in describe_projection(projection)
    measured = project(tiny_synthetic, runs, profile="smoke", device="cpu", results_dir=tmp_path / "none")
    assert "warm-up measured now" in measured["basis"] and measured["train_samples_per_s"] > 0


def test_each_run_reports_its_place_elapsed_and_remaining_time(tmp_path, capsys):
    runs = [{**run, "projected_s": seconds} for run, seconds in
            zip(planned_runs(["official"], [0]), (600.0, 300.0, 100.0))]
    write_plan(tmp_path, {"runs": runs})
    started = json.loads((tmp_path / PLAN_FILE).read_text())["started_unix"]
    first = announce(tmp_path, "official-full-seed0", "stage1", now=started + 10)
    assert first == "run 1/3: official-full-seed0, stage 1; elapsed 10 s, remaining about 17 min"
    # the first run took twice its projection: the rest is scaled to match
    second = announce(tmp_path, "official-cnn-seed0", "stage1", now=started + 1200)
    assert second == "run 2/3: official-cnn-seed0, stage 1; elapsed 20 min, remaining about 13 min"
    assert announce(tmp_path, "patient-full-seed9", "stage1") is None  # not in the plan: silent
    assert (tmp_path / PROGRESS_FILE).read_text().splitlines() == [first, second]
    assert first in capsys.readouterr().out


def test_runs_trained_side_by_side_share_the_projected_time(tmp_path):
    runs = [{**run, "projected_s": seconds} for run, seconds in
            zip(planned_runs(["official"], [0]), (600.0, 300.0, 100.0))]
    write_plan(tmp_path, {"runs": runs, "parallel_runs": 2})
    started = json.loads((tmp_path / PLAN_FILE).read_text())["started_unix"]
    assert announce(tmp_path, "official-full-seed0", "stage1", now=started + 10).endswith("remaining about 8 min")
    # 600 s of runs, two at a time, took 600 s: twice the projection, so the rest (400 s / 2) doubles too
    assert announce(tmp_path, "official-cnn-seed0", "stage1", now=started + 600).endswith("remaining about 7 min")


def test_without_a_projection_the_remaining_time_follows_the_runs_so_far(tmp_path):
    write_plan(tmp_path, {"runs": planned_runs(["official"], [0])})
    started = json.loads((tmp_path / PLAN_FILE).read_text())["started_unix"]
    assert announce(tmp_path, "official-full-seed0", "stage1", now=started + 5).endswith("elapsed 5 s")
    assert announce(tmp_path, "official-full-seed0", "stage2", now=started + 600).endswith(
        "elapsed 10 min, remaining about 5 min")


def test_the_pipeline_echoes_the_progress_lines_of_its_notebooks(tmp_path):
    echoed = []
    with echoing(tmp_path, write=echoed.append, interval_s=0.05):
        with open(tmp_path / PROGRESS_FILE, "a") as log:
            log.write("run 1/2: a\n")
            log.flush()
            time.sleep(0.3)
            log.write("run 2/2: b\n")
    assert echoed == ["run 1/2: a", "run 2/2: b"]


def test_the_pipeline_command_plans_and_projects(tiny_synthetic, capsys, monkeypatch):
    import respirelib.experiments.progress
    from respirelib.apps.cli import build_parser
    from respirelib.apps.launch import pipeline_plan, pipeline_seeds

    def _pipeline_plan(args, data_dir):  # what `respirenet pipeline` plans with these options
        seeds = pipeline_seeds(args.profile, seed=args.seed, seeds=args.seeds)
        return pipeline_plan(data_dir, profile=args.profile, splits=args.splits, seeds=seeds,
                             device=args.device, project=args.project, progress=not args.quiet)

    args = build_parser().parse_args(["pipeline", "--profile", "smoke", "--splits", "official", "patient",
                                      "--seeds", "0", "1"])
    plan = _pipeline_plan(args, tiny_synthetic)
    assert len(plan["runs"]) == 12 and "total_s" not in plan  # smoke: planned, not projected
    monkeypatch.setattr(respirelib.experiments.progress, "project", lambda *a, **k: {
        "runs": [{**r, "projected_s": 1.0} for r in a[1]], "total_s": 12.0, "device": "cpu", "profile": "smoke",
        "basis": "a test", "train_samples_per_s": 1, "eval_samples_per_s": 1, "note": "n"})
    args = build_parser().parse_args(["pipeline", "--profile", "smoke", "--project", "--seeds", "0", "1"])
    assert _pipeline_plan(args, tiny_synthetic)["total_s"] == 12.0
    assert "projected time: 12 s for 6 training runs (4 stage-1, 2 stage-2)" in capsys.readouterr().out
