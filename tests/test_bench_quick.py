"""``bench quick``: candidate settings trained over seeds, summarised; the record's layout and CLI wiring."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from respirelib.apps.bench import add_bench_arguments, format_bench, registered_benchmarks
from respirelib.apps.bench_quick import bench_quick, summarise_candidate
from respirelib.training.metrics import class_recalls

pytestmark = pytest.mark.slow


def test_class_recalls_from_a_confusion_matrix():
    assert class_recalls([[3, 1], [0, 0]]) == [0.75, None]
    assert class_recalls([[2, 0, 0], [1, 1, 0], [0, 3, 1]]) == [1.0, 0.5, 0.25]


def test_summary_is_mean_and_sample_std_in_points():
    runs = [{"sp": 0.5, "se": 0.3, "score": 0.4, "score_2class": 0.6, "class_recall": [0.5, 0.2, None, 0.4],
             "fit_s": 10.0},
            {"sp": 0.7, "se": 0.5, "score": 0.6, "score_2class": 0.8, "class_recall": [0.7, 0.4, None, 0.6],
             "fit_s": 20.0}]
    summary = summarise_candidate(runs)
    assert summary["score"] == {"mean": 50.0, "std": pytest.approx(14.14, abs=0.01)}
    assert summary["class_recall_mean"][:2] == [60.0, 30.0] and summary["min_class_recall"] == 20.0
    assert summary["fit_s_mean"] == 15.0 and summary["n_seeds"] == 2


def test_bench_quick_on_tiny_data(tiny_synthetic, tmp_path):
    candidates = [("plain", {}), ("repeat", {"audio": {"padding": "repeat"}})]
    record = bench_quick(candidates, data_dir=tiny_synthetic, profile="smoke", seeds=[0], root=tmp_path,
                         base_overrides={"stage1": {"epochs": 1}})
    json.dumps(record)
    assert record["benchmark"] == "quick" and record["data"]["label"] == "synthetic"
    assert [c["name"] for c in record["candidates"]] == ["plain", "repeat"]
    repeat = record["candidates"][1]
    assert repeat["overrides"] == {"stage1": {"epochs": 1}, "audio": {"padding": "repeat"}}
    run_request = json.loads((tmp_path / "repeat-seed0" / "run.json").read_text())
    assert run_request["config"]["audio"]["padding"] == "repeat" and run_request["config"]["stage1"]["epochs"] == 1
    metrics = json.loads((tmp_path / "repeat-seed0" / "metrics.json").read_text())
    assert repeat["runs"][0]["score"] == metrics["four_class"]["score"]
    assert repeat["runs"][0]["class_recall"] == class_recalls(metrics["confusion"])
    kept = torch.load(tmp_path / "repeat-seed0" / "stage1" / "checkpoints" / "best.pt", weights_only=True)
    assert repeat["runs"][0]["selected_epoch"] == kept["epoch"]
    assert repeat["summary"]["n_seeds"] == 1 and repeat["summary"]["score"]["std"] is None
    assert [t["name"] for t in record["targets"]] == ["plain: lowest class recall (%)",
                                                      "repeat: lowest class recall (%)"]
    text = format_bench(record)  # the summary's numbers exactly as the JSON holds them, then each run's
    for candidate in record["candidates"]:
        summary = candidate["summary"]
        row = next(line for line in text.splitlines() if line.startswith(candidate["name"] + " "))
        for value in (summary["sp"]["mean"], summary["se"]["mean"], summary["score"]["mean"],
                      *[r for r in summary["class_recall_mean"] if r is not None], summary["fit_s_mean"]):
            assert str(value) in row, (value, row)
        assert str(candidate["runs"][0]["fit_s"]) in text


def test_bench_quick_and_demo_are_registered():
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "quick", "--candidate", 'adamw={"stage1": {"optimizer": "adamw"}}',
                              "--seeds", "0", "1", "2"])
    assert args.candidate == [("adamw", {"stage1": {"optimizer": "adamw"}})] and args.seeds == [0, 1, 2]
    assert args.func is registered_benchmarks()["quick"][2]
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "quick", "--candidate", "no-json-here"])
    args = parser.parse_args(["bench", "demo", "--seeds", "0", "1", "2"])
    assert args.func is registered_benchmarks()["demo"][2] and args.seeds == [0, 1, 2]


def test_bench_demo_passes_its_precision_to_the_demo(monkeypatch, tmp_path):
    import respirelib.apps.launch as launch

    asked = {}

    def fake_pipeline(**kwargs):
        asked.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(launch, "start_pipeline", fake_pipeline)
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "demo", "--precision", "fp32", "--runs", str(tmp_path), "--quiet"])
    with pytest.raises(RuntimeError, match="stop here"):
        args.func(args)
    assert asked["precision"] == "fp32" and asked["profile"] == "quick"
    assert parser.parse_args(["bench", "demo"]).precision == "auto"
