"""tools/gpu_check.py in its tiny CPU mode: every step of the GPU check runs and writes its records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def test_the_gpu_check_runs_end_to_end_in_its_tiny_cpu_mode(tiny_synthetic, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RESPIRENET_CACHE": str(tmp_path / "cache")}
    # --skip-tests: this suite is the tests; tools/gpu_check.sh --tiny-cpu OUT runs that step too
    done = subprocess.run([sys.executable, str(REPO / "tools" / "gpu_check.py"), "--tiny-cpu", str(out),
                           "--data", str(tiny_synthetic), "--work", str(tmp_path / "work"), "--skip-tests"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert sorted(p.name for p in out.iterdir()) == ["bench_prep_tiny_cpu.json", "bench_train_tiny_cpu.json",
                                                     "gpu_check.json"]
    record = json.loads((out / "gpu_check.json").read_text())
    assert record["failed_steps"] == [] and record["mode"] == "tiny-cpu"
    assert all(step["status"] == "done" for step in record["steps"].values())
    assert {"commit", "hardware", "packages", "python"} <= set(record["environment"])
    run = record["smoke_run"]
    assert run["stage1_epochs_run"] == 2 and len(run["stage1_epoch_s"]) == 2  # one epoch, then resumed
    assert run["data"]["synthetic"] is True and set(run["metrics_4class"]) == {"sp", "se", "score"}
    assert run["stage2_device"] and run["stage2_epochs_run"] == 1 and "metrics_finetuned_4class" in run
    projection = record["projection_one_seed"]
    assert projection["total_s"] >= projection["stage1_s"] > 0 and "target_s" not in projection
    for name in ("bench_prep_tiny_cpu.json", "bench_train_tiny_cpu.json"):
        bench = json.loads((out / name).read_text())
        assert bench["data"]["path"] == str(tiny_synthetic) and bench["commit"] is not None
        assert bench["seed"] == 0 and "gpu_check.py" in bench["command"]
