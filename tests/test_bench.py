"""``bench prep``: the benchmark record's layout, its numbers and the CLI wiring, on a tiny synthetic set."""

from __future__ import annotations

import argparse
import json

import pytest

from respirelib.apps.bench import add_bench_arguments, registered_benchmarks, bench_prep, format_bench, target
from respirelib.data.icbhi import load_icbhi


def test_target_bounds():
    assert target("t", 3.0, unit="s", at_most=5)["met"]
    assert not target("t", 6.0, unit="s", at_most=5)["met"]
    assert target("r", 250, unit="samples/s", at_least=200)["met"]
    assert not target("r", 150, unit="samples/s", at_least=200)["met"]
    with pytest.raises(ValueError):
        target("t", 1.0, unit="s", at_most=1, at_least=1)


def test_a_target_with_an_interval_records_and_prints_it():
    spread = target("std", 2.01, unit="points", at_most=2, interval=(1.2049, 5.7861))
    assert spread["interval"] == [1.205, 5.786] and not spread["met"]  # the value, not its interval, decides
    assert "interval" not in target("t", 3.0, unit="s", at_most=5)
    record = {"benchmark": "no-such", "data": {"label": "synthetic", "path": "x"}, "load_average": [0.0],
              "hardware": {"processor": "cpu", "cpu_count": 2}, "targets": [spread]}
    assert "2.01 points     [95 % interval 1.21 to 5.79] (target <= 2: NOT met)" in format_bench(record)


def test_bench_prep_record(tiny_synthetic):
    record = bench_prep(tiny_synthetic, workers=1, batch_size=8, cpu_batches=2, device="cpu", pool_cycles=40)
    json.dumps(record)  # JSON-ready
    dataset = load_icbhi(tiny_synthetic)
    assert record["benchmark"] == "prep" and record["format_version"] == 1
    assert record["hardware"]["cpu_count"] >= 1 and len(record["load_average"]) == 3
    from respirelib.precision import cpu_bf16_support
    assert record["hardware"]["cpu_native_bf16"] == dict(zip(("native", "reason"), cpu_bf16_support()))
    assert record["data"]["label"] == "synthetic" and record["data"]["scale"] == pytest.approx(0.03)
    assert record["data"]["fingerprint"] == dataset.fingerprint
    assert record["counts"]["cycles"] == len(dataset.cycles) and not record["full_size"]
    assert record["counts"]["recordings"] == len(dataset.recordings)
    cold, warm = record["preprocessing"]["cold"], record["preprocessing"]["warm"]
    for timings in (cold, warm):
        assert timings["total_s"] == pytest.approx(timings["load_s"] + timings["fingerprint_s"] + timings["cache_s"],
                                                   abs=0.01)
        assert timings["cycles_per_s"] > 0 and timings["recordings_per_s"] > 0
    assert warm["cache_s"] < cold["cache_s"], "the warm run must find the cache the cold run built"
    pool = record["training_set"]
    assert pool["samples"] >= pool["cycles"] >= 40
    cpu = record["batches"]["cpu"]
    assert cpu["samples_per_s"] > 0 and cpu["batches"] == 2 and cpu["batch_size"] == 8
    assert cpu["image_shape"] == [3, 192, 657], "the paper's frontend: 64 Mel rows x 219 frames, resized 3x"
    assert "cuda" not in record["batches"]
    names = [t["name"] for t in record["targets"]]
    assert names[:2] == ["cold pre-processing, whole set", "warm load, whole set"] and len(names) == 3
    assert record["all_met"] == all(t["met"] for t in record["targets"])
    text = format_bench(record)  # what the terminal shows: the record's own numbers, as tables
    assert "scaled-down" in text
    for run in ("cold", "warm"):
        assert all(str(value) in text for value in record["preprocessing"][run].values())
    assert str(cpu["samples_per_s"]) in text and str(pool["samples_per_s"]) in text


def test_cli_bench_prep_json(tiny_synthetic, capsys):
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "prep", "--json", "--data", str(tiny_synthetic), "--batches", "1",
                              "--workers", "1", "--device", "cpu", "--quiet"])
    assert args.func is registered_benchmarks()["prep"][2]
    assert args.func(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["benchmark"] == "prep" and record["batches"]["cpu"]["batch_size"] == 64
