"""On a GPU only (``pytest -m cuda``, run by tools/gpu_check.sh): the CUDA paths of training."""

from __future__ import annotations

import json

import pytest
import torch

from respirelib.model.checkpoint import load_checkpoint
from respirelib.experiments.run import evaluate_run, finetune_run, train_run

pytestmark = pytest.mark.cuda


def test_a_killed_cuda_run_resumes_and_finishes(tiny_synthetic, tmp_path):
    run_dir = tmp_path / "run"
    train_run(tiny_synthetic, run_dir, profile="smoke", init="random", device="cuda", stop_after=1, progress=False)
    state = load_checkpoint(run_dir / "stage1" / "checkpoints" / "last.pt", map_location="cuda")
    assert state["rng"]["generator_devices"] == ["cpu", "cuda"]
    assert torch.backends.cudnn.benchmark
    # resuming loads last.pt with map_location="cuda": this crashed before the RNG states were moved back
    train_run(tiny_synthetic, run_dir, resume=True, device="cuda", progress=False)
    finetune_run(run_dir, device="cuda", stop_after=1, progress=False)
    finetune_run(run_dir, device="cuda", resume=True, progress=False)
    metrics = evaluate_run(run_dir, device="cuda", progress=False)
    history = [json.loads(line) for line in (run_dir / "stage1" / "history.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1, 2]
    assert all(record["train_loss"] == record["train_loss"] for record in history)  # finite, not NaN
    assert metrics["stage1"]["provenance"]["hardware"]["device"] == "cuda"
    assert "finetuned" in metrics


def test_a_cuda_run_cannot_continue_on_the_cpu(tiny_synthetic, tmp_path):
    run_dir = tmp_path / "run"
    train_run(tiny_synthetic, run_dir, profile="smoke", init="random", device="cuda", stop_after=1, progress=False)
    with pytest.raises(ValueError, match="resume the run on the device it was trained on"):
        train_run(tiny_synthetic, run_dir, resume=True, device="cpu", progress=False)
