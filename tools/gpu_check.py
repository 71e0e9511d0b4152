"""The GPU check in one call (run by tools/gpu_check.sh): tests, benchmarks and a timed paper-profile run.

On a machine with one NVIDIA GPU (default mode) it:

1. writes the full synthetic set (scale 1);
2. runs the CUDA-only tests (``pytest -m cuda``);
3. runs ``bench prep`` and ``bench train`` on CUDA (paper profile);
4. trains the paper profile (ResNet-34, 192 x 657, batch 64, SGD) for as many stage-1 epochs
   as fit in the time budget (one epoch, then a resume in the same run directory for the
   rest: the CUDA resume path), fine-tunes one device the same way, and evaluates;
5. projects the whole schedule of one seed (stage 1 200 epochs + stage 2 4 x 50 epochs)
   from the measured epochs, and writes three JSON records (commit, GPU, data, seed,
   command, peak GPU memory per stage) into the output folder.

``--tiny-cpu`` runs the same steps on a CPU in a couple of minutes: a tiny synthetic set,
the smoke profile, CPU benchmarks with one step each. Its numbers mean nothing; it proves
the script works before GPU time is spent on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FULL_SCHEDULE_TARGET_S = 10 * 60  # the target: one seed's paper schedule on one H200
MODES = {
    # mode: synthetic scale, profile of the timed run, benchmark device, bench sizes, time budget (s)
    "gpu": {"scale": 1.0, "profile": "paper", "device": "cuda", "prep_batches": 50, "train_steps": 20,
            "budget_s": 470},  # + the wheel install and Python's start: within 9 minutes
    "tiny-cpu": {"scale": 0.03, "profile": "smoke", "device": "cpu", "prep_batches": 2, "train_steps": 1,
                 "budget_s": 150},
}


def _now() -> float:
    return time.perf_counter()


class Check:
    """Times the steps, records peak GPU memory per step, and keeps the combined record."""

    def __init__(self, mode: str, out: Path, deadline_s: float):
        self.mode, self.out, self.started = mode, out, _now()
        self.deadline = self.started + deadline_s
        self.record = {"mode": mode, "command": " ".join([sys.executable, *sys.argv]), "steps": {}}

    def left(self) -> float:
        return self.deadline - _now()

    @contextlib.contextmanager
    def step(self, name: str):
        import torch

        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        print(f"\n=== {name} (elapsed {_now() - self.started:.0f} s, {self.left():.0f} s left)", flush=True)
        entry = {"status": "running"}
        self.record["steps"][name] = entry
        began = _now()
        try:
            yield entry
            entry["status"] = "done"
        except Exception as error:  # record it, keep going: later steps still say something
            entry["status"] = "failed"
            entry["error"] = f"{type(error).__name__}: {error}"
            print(f"step {name} FAILED: {entry['error']}", flush=True)
        finally:
            if cuda:
                torch.cuda.synchronize()
                entry["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
            entry["seconds"] = round(_now() - began, 1)
            self.save()

    def save(self) -> None:
        from respirelib.storage import atomic_write_text

        self.record["total_s"] = round(_now() - self.started, 1)
        atomic_write_text(self.out / "gpu_check.json", json.dumps(self.record, indent=2, default=str) + "\n")


def _environment() -> dict:
    import torch

    from respirelib.experiments.provenance import git_commit, hardware_record, package_versions

    record = {"commit": git_commit() or os.environ.get("RESPIRENET_COMMIT"), "python": platform.python_version(),
              "hardware": hardware_record(), "packages": package_versions(), "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        record["gpu"] = {"name": properties.name, "memory_gib": round(properties.total_memory / 2**30, 1),
                         "capability": f"{properties.major}.{properties.minor}", "cuda": torch.version.cuda,
                         "cudnn": torch.backends.cudnn.version(), "bf16": torch.cuda.is_bf16_supported()}
    return record


def _write_json(path: Path, record: dict) -> None:
    from respirelib.storage import atomic_write_text

    atomic_write_text(path, json.dumps(record, indent=2, default=str) + "\n")


def _history(stage_dir: Path) -> list[dict]:
    path = stage_dir / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _epochs_that_fit(first_epoch_s: float, budget_s: float, epochs_left: int) -> int:
    """Further epochs (each about as long as the first, which also warmed up) that fit in ``budget_s``."""
    return max(0, min(epochs_left, int(budget_s // max(first_epoch_s, 1e-3))))


def _timed_run(check: Check, data_dir: Path, work: Path, config: dict, seed: int) -> dict:
    """Stage 1 and stage 2 (one device) for as long as the budget allows, then the evaluation."""
    from respirelib.experiments.run import evaluate_run, finetune_run, train_run
    from respirelib.training.profiles import get_profile

    profile = get_profile(config["profile"])
    run_dir = work / "paper-run"
    result = {"profile": profile.name, "seed": seed, "split": "official", "init": "random",
              "run_dir": str(run_dir)}
    device = config["device"]
    stage2_device = None

    with check.step("stage 1: first epoch") as entry:
        began = _now()
        train_run(data_dir, run_dir, profile=profile, seed=seed, split="official", init="random", device=device,
                  stop_after=1, progress=False)
        entry["call_s"] = round(_now() - began, 1)
    first = _history(run_dir / "stage1")
    result["stage1_epochs_planned"] = profile.stage1.epochs
    # keep time for stage 2 (two calls) and the evaluation: about a quarter of what is left, at least 60 s
    reserve = max(60.0, 0.25 * check.left())
    if first:
        more = _epochs_that_fit(first[-1]["seconds"], check.left() - reserve, profile.stage1.epochs - 1)
        if more:
            with check.step(f"stage 1: {more} more epochs (resumed)") as entry:
                train_run(data_dir, run_dir, resume=True, device=device, stop_after=more, progress=False)
                entry["epochs"] = more
    stage1 = _history(run_dir / "stage1")
    result["stage1_epochs_run"] = len(stage1)
    result["stage1_epoch_s"] = [record["seconds"] for record in stage1]
    result["stage1_val_score"] = [record.get("val_score") for record in stage1]

    with check.step("stage 2: one device, first epoch") as entry:
        from respirelib.experiments.run import load_run
        from respirelib.data.names import DEVICES

        run = load_run(run_dir, device=device, progress=False)
        counts = {name: len(run.prepared.rows("train", name)) for name in DEVICES
                  if len(run.prepared.rows("train", name)) and len(run.prepared.rows("val", name))}
        stage2_device = max(counts, key=counts.get)  # the device with most training cycles
        entry["device"] = stage2_device
        finetune_run(run_dir, device=device, devices=[stage2_device], stop_after=1, progress=False)
    stage2_dir = run_dir / "stage2" / str(stage2_device)
    first2 = [r for r in _history(stage2_dir) if r["epoch"] > 0]
    if first2:
        more = _epochs_that_fit(first2[-1]["seconds"], check.left() - 45, profile.stage2.epochs - 1)
        if more:
            with check.step(f"stage 2: {more} more epochs (resumed)") as entry:
                finetune_run(run_dir, device=device, devices=[stage2_device], stop_after=more, resume=True,
                             progress=False)
                entry["epochs"] = more
    stage2 = [r for r in _history(stage2_dir) if r["epoch"] > 0]
    result.update(stage2_device=stage2_device, stage2_epochs_run=len(stage2),
                  stage2_epoch_s=[r["seconds"] for r in stage2])
    statuses_path = run_dir / "stage2" / "devices.json"
    if stage2_device and statuses_path.is_file():
        status = json.loads(statuses_path.read_text())[stage2_device]
        result["stage2_inputs_per_epoch"] = profile.stage2.samples_per_epoch or status.get("n_train_inputs")

    with check.step("evaluate") as entry:
        began = _now()
        metrics = evaluate_run(run_dir, device=device, progress=False)
        entry["call_s"] = round(_now() - began, 1)
        result["metrics_4class"] = metrics["stage1"]["four_class"]
        if "finetuned" in metrics:
            result["metrics_finetuned_4class"] = metrics["finetuned"]["four_class"]
        result["data"] = {key: metrics["stage1"]["provenance"]["data"][key]
                          for key in ("label", "fingerprint", "synthetic")}
    result["evaluate_s"] = entry.get("call_s")
    return result


def _projection(run: dict, workload: dict | None, profile_name: str) -> dict | None:
    """One seed's full schedule from the measured epochs: stage 1 at its epoch time, stage 2 per input."""
    from respirelib.training.profiles import get_profile

    profile = get_profile(profile_name)
    stage1 = run.get("stage1_epoch_s") or []
    if not stage1 or not workload:
        return None
    # the first epoch carries the warm-up (cuDNN autotuning, caches): use the later ones when there are any
    epoch_s = sorted(stage1[1:] or stage1)[len(stage1[1:] or stage1) // 2]
    stage1_s = epoch_s * profile.stage1.epochs
    projection = {"stage1_epoch_s": epoch_s, "stage1_s": round(stage1_s, 1), "basis":
                  "median measured stage-1 epoch (training + validation) x the profile's epochs; stage 2: "
                  "the measured device's seconds per training input x every device's stage-2 inputs; plus the "
                  "measured evaluation"}
    stage2 = run.get("stage2_epoch_s") or []
    per_device_inputs = run.get("stage2_inputs_per_epoch")
    if stage2 and per_device_inputs:
        seconds_per_input = (sorted(stage2[1:] or stage2)[len(stage2[1:] or stage2) // 2]) / per_device_inputs
        projection["stage2_s"] = round(seconds_per_input * workload["stage2_train_samples"], 1)
    projection["evaluate_s"] = run.get("evaluate_s") or 0.0
    projection["total_s"] = round(stage1_s + projection.get("stage2_s", 0.0) + projection["evaluate_s"], 1)
    if profile_name == "paper":  # the target is stated for the paper's schedule on one H200
        projection["target_s"] = FULL_SCHEDULE_TARGET_S
        projection["met"] = projection["total_s"] <= FULL_SCHEDULE_TARGET_S
    return projection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the JSON records (created)")
    parser.add_argument("--tiny-cpu", action="store_true", help="the same steps, tiny, on this CPU")
    parser.add_argument("--data", type=Path, default=None,
                        help="use this ICBHI-layout folder instead of writing the synthetic set")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--budget", type=float, default=None, help="seconds for the whole check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-tests", action="store_true", help="leave out the pytest step")
    args = parser.parse_args(argv)
    mode = "tiny-cpu" if args.tiny_cpu else "gpu"
    config = MODES[mode]
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("RESPIRENET_OFFLINE", "1")  # no network there: random init, said in every record

    import torch

    if mode == "gpu" and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA GPU; use --tiny-cpu on a machine without one", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="respirenet-gpu-check-")))
        work.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("RESPIRENET_CACHE", str(work / "cache"))
        check = Check(mode, args.out, args.budget or config["budget_s"])
        check.record["environment"] = _environment()
        check.record["seed"] = args.seed
        print(json.dumps(check.record["environment"], indent=2, default=str), flush=True)

        data_dir = args.data
        if data_dir is None:
            with check.step("write the synthetic set") as entry:
                from respirelib.data.synth import write_synthetic_icbhi

                data_dir = work / f"synthetic-scale{config['scale']:g}"
                summary = write_synthetic_icbhi(data_dir, scale=config["scale"], seed=0, progress=False)
                entry["scale"], entry["summary"] = config["scale"], str(summary)
        check.record["data_dir"] = str(data_dir)

        if not args.skip_tests:
            with check.step("pytest -m cuda") as entry:
                command = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "tests"]
                done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
                (args.out / "pytest_cuda.txt").write_text(done.stdout + done.stderr)
                entry.update(command=" ".join(command), returncode=done.returncode,
                             summary=(done.stdout.strip().splitlines() or [""])[-1])
                print(done.stdout[-3000:], flush=True)
                if done.returncode != 0:
                    raise RuntimeError(f"pytest -m cuda exited with {done.returncode}")

        from respirelib.apps.bench import bench_prep
        from respirelib.apps.bench_train import bench_train

        tag = "cuda" if mode == "gpu" else "tiny_cpu"

        def command(step: str) -> str:
            return f"{check.record['command']}  (its '{step}' step)"

        workload = None
        with check.step("bench prep") as entry:
            record = bench_prep(data_dir, device=config["device"], workers=os.cpu_count() or 2,
                                cpu_batches=config["prep_batches"], cuda_batches=config["prep_batches"])
            _write_json(args.out / f"bench_prep_{tag}.json", {**record, "seed": 0, "command": command("bench prep")})
            entry["targets"] = record["targets"]
        with check.step("bench train") as entry:
            record = bench_train(data_dir, profile=config["profile"], device=config["device"],
                                 cpu_steps=config["train_steps"], cuda_steps=config["train_steps"],
                                 batch_size=64 if mode == "gpu" else 16)
            _write_json(args.out / f"bench_train_{tag}.json", {**record, "seed": 0, "command": command("bench train")})
            entry["targets"], workload = record["targets"], record["workload"]
            entry["steps"] = record["steps"]

        run = {}
        try:
            run = _timed_run(check, data_dir, work, config, args.seed)
        finally:
            check.record["paper_run" if mode == "gpu" else "smoke_run"] = run
            check.save()
        check.record["projection_one_seed"] = _projection(run, workload, config["profile"])
        failed = [name for name, entry in check.record["steps"].items() if entry["status"] != "done"]
        check.record["failed_steps"] = failed
        check.save()
    print(f"\ngpu_check ({mode}) finished in {check.record['total_s']} s; "
          f"{'all steps done' if not failed else 'FAILED: ' + ', '.join(failed)}; records in {args.out}")
    if check.record["projection_one_seed"]:
        print("projected full schedule, one seed:", json.dumps(check.record["projection_one_seed"]))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
