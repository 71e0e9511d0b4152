"""``bench train``: throughput of real training steps and the schedule's projected cost."""

from __future__ import annotations

import argparse
import json

from respirelib.apps.bench import add_bench_arguments
from respirelib.apps.bench_train import bench_train


def test_bench_train_on_tiny_data(tiny_synthetic):
    record = bench_train(tiny_synthetic, profile="smoke", device="cpu", cpu_steps=1, batch_size=8)
    assert record["benchmark"] == "train" and record["data"]["label"] == "synthetic"
    workload = record["workload"]
    assert workload["stage1_train_samples"] == 2 * 48  # smoke: 2 epochs of 48 inputs
    assert workload["train_samples"] == workload["stage1_train_samples"] + workload["stage2_train_samples"]
    cpu = record["steps"]["cpu"]
    assert cpu["train_samples_per_s"] > 0 and cpu["eval_samples_per_s"] > 0 and cpu["batch_size"] == 8
    expected = workload["train_samples"] / cpu["train_samples_per_s"] + workload["eval_windows"] / cpu[
        "eval_samples_per_s"]
    assert abs(cpu["projected_schedule_s"] - expected) < 0.2
    assert record["targets"] == []  # the GPU targets (3,000 inputs/s, 10 minutes) are stated for a GPU only
    json.dumps(record)
    from respirelib.apps.bench_common import format_bench

    text = format_bench(record)  # a CPU run has no targets, but its measurements are printed
    for key in ("train_samples_per_s", "eval_samples_per_s", "projected_schedule_s", "model_ms_per_step"):
        assert str(cpu[key]) in text, key
    assert str(workload["train_samples"]) in text


def test_bench_train_is_registered():
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "train", "--profile", "smoke", "--cpu-steps", "1", "--json"])
    assert args.profile == "smoke" and args.cpu_steps == 1 and args.json
