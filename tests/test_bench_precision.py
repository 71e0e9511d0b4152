"""bench precision (fp32 and bf16 side by side) and bench precision-accuracy (paired seeds) on tiny inputs."""

from __future__ import annotations

import json

import pytest

import respirelib.apps.bench_precision as bench_precision_module
from respirelib.apps.bench_precision import (bench_precision, bench_precision_accuracy, format_precision,
                                             format_precision_accuracy, paired_comparison)


def test_paired_comparison_by_hand():
    result = paired_comparison([50.0, 60.0, 70.0], [51.0, 62.0, 73.0])
    assert result["differences"] == [1.0, 2.0, 3.0] and result["mean"] == 2.0 and result["std"] == 1.0
    # t(0.975, 2 degrees of freedom) = 4.303: 2 ± 4.303 / sqrt(3)
    assert result["ci"] == pytest.approx([2 - 2.484, 2 + 2.484], abs=0.002)
    assert result["verdict"] == "within the noise"
    assert paired_comparison([50.0, 60.0, 70.0], [52.0, 62.1, 71.9])["verdict"] == "the second is higher"
    assert paired_comparison([50.0, 60.0, 70.0], [48.0, 57.9, 68.1])["verdict"] == "the second is lower"
    with pytest.raises(ValueError, match="at least two"):
        paired_comparison([1.0], [2.0])


def test_bench_precision_side_by_side_on_a_tiny_network(monkeypatch):
    monkeypatch.setitem(bench_precision_module.NETWORKS, "quick",
                        ("smoke", {"width": 8}, 4, "width-8 ResNet-18 (test), batch 4"))
    record = bench_precision(networks=("quick",), threads=1, rounds=2, steps=1)
    json.dumps(record)
    result = record["networks"]["quick"]
    assert record["benchmark"] == "precision" and record["threads"] == 1 and result["rounds"] == 2
    for precision in ("fp32", "bf16"):
        assert len(result[precision]["train_inputs_per_s_each_round"]) == 2
        assert result[precision]["train_steps_per_s"] == pytest.approx(result[precision]["train_inputs_per_s"] / 4,
                                                                        abs=0.01)
    assert result["speedup_train"] == pytest.approx(result["bf16"]["train_inputs_per_s"]
                                                    / result["fp32"]["train_inputs_per_s"], abs=0.01)
    assert record["hardware"]["cpu_count"] and "cpu_model" in record["hardware"]
    assert [t["target"] for t in record["targets"]] == [1.7]
    table = format_precision(record)
    for precision in ("fp32", "bf16"):  # the table prints the JSON's numbers
        assert f"{result[precision]['train_inputs_per_s']:9.2f}" in table
    assert f"{result['speedup_train']:.2f}x" in table and "(1 torch thread;" in table


@pytest.mark.slow
def test_bench_precision_accuracy_pairs_the_seeds(tiny_synthetic, tmp_path):
    record = bench_precision_accuracy(seeds=(0, 1), data_dir=tiny_synthetic, profile="smoke", root=tmp_path,
                                      base_overrides={"stage1": {"epochs": 1, "samples_per_epoch": 16,
                                                                 "monitor_test": False}})
    json.dumps(record)
    assert record["benchmark"] == "precision-accuracy" and record["precisions_used"] == {"fp32": ["fp32"],
                                                                                          "bf16": ["bf16"]}
    for precision in ("fp32", "bf16"):
        for seed in (0, 1):
            request = json.loads((tmp_path / f"{precision}-seed{seed}" / "run.json").read_text())
            assert request["precision"]["used"] == precision and request["seed"] == seed
    score = record["paired"]["score"]
    fp32 = [100 * json.loads((tmp_path / f"fp32-seed{s}" / "metrics.json").read_text())["four_class"]["score"]
            for s in (0, 1)]
    assert score["fp32"] == [round(v, 2) for v in fp32] and score["n_pairs"] == 2
    assert score["differences"] == [round(b - a, 3) for a, b in zip(score["fp32"], score["bf16"])] or \
        score["differences"] == pytest.approx([b - a for a, b in zip(score["fp32"], score["bf16"])], abs=0.01)
    assert record["in_words"].startswith("Over 2 paired seeds") and score["verdict"] in record["in_words"].replace(
        "bf16", "the second")
    assert f"{score['mean']:+6.2f}" in format_precision_accuracy(record)
