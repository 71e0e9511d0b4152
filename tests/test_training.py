"""Training, fine-tuning and evaluation end to end in the smoke profile, on a tiny synthetic set."""

from __future__ import annotations

import json

import pytest
import torch

from respirelib.model.checkpoint import load_checkpoint
from respirelib.experiments.run import evaluate_run, train_run
from respirelib.model.weights import WeightsNotFoundError
from tests.test_checkpoint import _as_if_moved

pytestmark = pytest.mark.slow


def _state(run_dir, stage="stage1"):
    return load_checkpoint(run_dir / stage / "checkpoints" / "last.pt")


def test_resumed_run_equals_uninterrupted_run(tiny_synthetic, smoke_run, tmp_path, monkeypatch):
    import respirelib.training.train

    interrupted = tmp_path / "interrupted"
    train_run(tiny_synthetic, interrupted, profile="smoke", init="random", seed=0, progress=False, stop_after=1)
    assert len(_state(interrupted)["history"]) == 1

    def load_as_on_a_gpu(path, *, map_location):
        # The resume reads its RNG states in a form set_state refuses, as map_location="cuda" gives them.
        state = load_checkpoint(path, map_location=map_location)
        return {**state, "rng": _as_if_moved(state["rng"])}

    monkeypatch.setattr(respirelib.training.train, "load_checkpoint", load_as_on_a_gpu)
    train_run(tiny_synthetic, interrupted, resume=True, progress=False)
    full, resumed = _state(smoke_run), _state(interrupted)
    strip = [{k: v for k, v in record.items() if k != "seconds"} for record in full["history"]]
    assert strip == [{k: v for k, v in record.items() if k != "seconds"} for record in resumed["history"]]
    for name, tensor in full["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name


def test_a_moving_average_run_keeps_the_average_and_resumes_exactly(tiny_synthetic, tmp_path):
    interrupted = tmp_path / "interrupted"
    train_run(tiny_synthetic, interrupted, profile="smoke", init="random", seed=0, progress=False,
              stop_after=1, overrides={"stage1": {"ema_decay": 0.9, "eval_every": 1}})
    # After one epoch, the average (not the last step's weights) is what was validated and kept as best.
    after_one = _state(interrupted)
    best = load_checkpoint(interrupted / "stage1" / "checkpoints" / "best.pt")
    averaged = {name.removeprefix("module."): tensor for name, tensor in after_one["ema"].items()
                if name.startswith("module.")}
    assert best["epoch"] == 1 and averaged.keys() == best["model"].keys()
    assert all(torch.equal(averaged[name], best["model"][name]) for name in averaged)
    weight = next(name for name in averaged if name.endswith("conv1.weight"))
    assert not torch.equal(averaged[weight], after_one["model"][weight])

    train_run(tiny_synthetic, interrupted, resume=True, progress=False)
    full = train_run(tiny_synthetic, tmp_path / "full", profile="smoke", init="random", seed=0, progress=False,
                     overrides={"stage1": {"ema_decay": 0.9, "eval_every": 1}})
    last, resumed = _state(full), _state(interrupted)
    for part in ("model", "ema"):
        for name, tensor in last[part].items():
            assert torch.equal(tensor, resumed[part][name]), (part, name)


def test_selection_by_the_mean_class_recall_keeps_its_best_epoch(tiny_synthetic, tmp_path):
    run = train_run(tiny_synthetic, tmp_path / "run", profile="smoke", init="random", seed=0, progress=False,
                    overrides={"stage1": {"select_metric": "mean_recall"}})
    history = [json.loads(line) for line in (run / "stage1" / "history.jsonl").read_text().splitlines()]
    recalls = [record["val_mean_recall"] for record in history]
    assert all(0.0 <= value <= 1.0 for value in recalls)
    best = load_checkpoint(run / "stage1" / "checkpoints" / "best.pt")
    assert best["score"] == max(recalls) and best["epoch"] == 1 + recalls.index(max(recalls))
    assert best["score"] not in [record["val_score"] for record in history]


def test_selection_uses_validation_and_history_is_recorded(smoke_run):
    history = [json.loads(line) for line in (smoke_run / "stage1" / "history.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1, 2]
    best = load_checkpoint(smoke_run / "stage1" / "checkpoints" / "best.pt")
    scores = [record["val_score"] for record in history]
    assert best["epoch"] == 1 + scores.index(max(scores))
    request = json.loads((smoke_run / "run.json").read_text())
    assert request["config"]["stage1"]["select_on"] == "val"
    assert request["subset_sizes"]["val"] > 0 and request["init"] == "random init"
    assert request["provenance"]["data"]["synthetic"] is True


def test_a_run_never_overwrites_another(tiny_synthetic, smoke_run):
    with pytest.raises(FileExistsError, match="never overwritten"):
        train_run(tiny_synthetic, smoke_run, profile="smoke", init="random", progress=False)


def test_imagenet_init_without_weights_fails_with_the_file_name(tiny_synthetic, tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"resnet18-[0-9a-f]+\.pth"):
        train_run(tiny_synthetic, tmp_path / "run", profile="smoke", init="imagenet", progress=False)


def test_finetune_and_evaluate(smoke_run):
    statuses = json.loads((smoke_run / "stage2" / "devices.json").read_text())
    assert list(statuses) == ["AKGC417L", "Meditron", "LittC2SE", "Litt3200"]
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    for key in ("four_class", "two_class", "per_device", "confusion", "provenance"):
        assert key in metrics
    assert set(metrics["four_class"]) == {"sp", "se", "score"} and metrics["synthetic"] is True
    assert metrics["init"] == "random init"
    assert sum(map(sum, metrics["confusion"])) == metrics["n_cycles"]
    for field in ("commit", "hardware", "data", "config"):
        assert field in metrics["provenance"]
    finetuned = json.loads((smoke_run / "metrics_finetuned.json").read_text())
    # the tiny synthetic set, like the real official split, has no LittC2SE test cycles
    assert finetuned["per_device_change"]["LittC2SE"]["note"] == "no test cycles for this device"
    assert finetuned["n_cycles"] == metrics["n_cycles"]
    predictions = (smoke_run / "metrics_finetuned_predictions.csv").read_text().splitlines()
    assert len(predictions) == metrics["n_cycles"] + 1 and "patient" in predictions[0].split(",")
    # Every Sp, Se and Score carries its 95% patient-level bootstrap interval, overall and per device.
    for document in (metrics, finetuned):
        ci = document["ci"]
        assert ci["n_resamples"] >= 1000 and ci["level"] == 0.95 and "patient" in ci["method"]
        for task in ("four_class", "two_class"):
            for metric in ("sp", "se", "score"):
                entry = ci[task][metric]
                assert entry["value"] == pytest.approx(document[task][metric])
                if entry["ci"] is not None:
                    assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]
        assert set(ci["per_device"]) == {"AKGC417L", "Meditron", "LittC2SE", "Litt3200"}
        assert ci["per_device"]["LittC2SE"]["four_class"]["score"] == {"value": None, "ci": None}
    with pytest.raises(FileExistsError):
        evaluate_run(smoke_run, progress=False)


def test_atomic_writes_leave_no_temporary_files_and_usual_permissions(tmp_path):
    import os

    from respirelib.storage import atomic_torch_save, atomic_write_text

    atomic_write_text(tmp_path / "a.json", "{}")
    atomic_torch_save({"x": torch.zeros(2)}, tmp_path / "b.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.pt"]
    umask = os.umask(0)
    os.umask(umask)
    for name in ("a.json", "b.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_asking_for_a_missing_gpu_is_a_clear_error(tiny_synthetic, tmp_path):
    from respirelib.experiments.run import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: nothing to refuse")
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        train_run(tiny_synthetic, tmp_path / "run", profile="smoke", init="random", device="cuda", progress=False)
    assert not (tmp_path / "run").exists()
    assert resolve_device("auto").type == "cpu"


def test_stage_two_keeps_the_stage_one_model_unless_fine_tuning_helps(smoke_run):
    statuses = json.loads((smoke_run / "stage2" / "devices.json").read_text())
    for device, status in statuses.items():
        if status.get("status") != "trained" or not status.get("n_selection_inputs"):
            continue
        history = [json.loads(line) for line in
                   (smoke_run / "stage2" / device / "history.jsonl").read_text().splitlines()]
        assert history[0]["epoch"] == 0  # the stage-1 model, scored before any fine-tuning
        best = load_checkpoint(smoke_run / "stage2" / device / "checkpoints" / "best.pt")
        scores = [record["val_score"] for record in history]
        assert best["epoch"] == scores.index(max(scores)) == status["best_epoch"]
        if best["epoch"] == 0:
            stage1 = load_checkpoint(smoke_run / "stage1" / "checkpoints" / "best.pt")["model"]
            assert all(torch.equal(stage1[k], v) for k, v in best["model"].items())


def test_same_machine_threads_and_seed_give_the_same_numbers(tiny_synthetic, smoke_run, tmp_path):
    """The determinism the README states: same machine, same torch thread count, same seed."""
    again = train_run(tiny_synthetic, tmp_path / "again", profile="smoke", init="random", seed=0, progress=False)
    first_request, second_request = (json.loads((run / "run.json").read_text()) for run in (smoke_run, again))
    threads = torch.get_num_threads()
    assert first_request["provenance"]["hardware"]["torch_threads"] == threads
    assert second_request["provenance"]["hardware"]["torch_threads"] == threads

    def history(run):
        lines = (run / "stage1" / "history.jsonl").read_text().splitlines()
        return [{key: value for key, value in json.loads(line).items() if key != "seconds"} for line in lines]

    assert history(again) == history(smoke_run) and len(history(again)) == 2
    first, second = (load_checkpoint(run / "stage1" / "checkpoints" / "best.pt") for run in (smoke_run, again))
    assert first["epoch"] == second["epoch"]
    assert all(torch.equal(first["model"][key], second["model"][key]) for key in first["model"])
    evaluate_run(again, progress=False)
    scores = [json.loads((run / "metrics.json").read_text())["four_class"] for run in (smoke_run, again)]
    assert scores[0] == scores[1]


def test_cached_selection_images_give_exactly_the_uncached_probabilities():
    import numpy as np

    from respirelib.config import FeatureConfig
    from respirelib.training.evaluate import predict_probabilities
    from respirelib.signal.frontend import FeatureFrontend
    from respirelib.model.network import ModelConfig, build_model
    from respirelib.signal.samples import SampleSet
    from respirelib.training.train import cached_selection

    generator = torch.Generator().manual_seed(0)
    samples = SampleSet(torch.randn(5, 4000, generator=generator), torch.tensor([0, 1, 2, 3, 0]),
                        np.arange(5), np.array(["AKGC417L"] * 5, dtype=object))
    frontend = FeatureFrontend(FeatureConfig(image_scale=1.0))
    model = build_model(ModelConfig(backbone="resnet18", pretrained="random", width=8), seed=0)
    cached_frontend, cached = cached_selection(frontend, samples, device=torch.device("cpu"), batch_size=2)
    assert isinstance(cached_frontend, torch.nn.Identity) and cached.waves.shape == (5, 3, 64, 32)
    assert torch.equal(cached.labels, samples.labels) and (cached.cycle_rows == samples.cycle_rows).all()
    assert np.array_equal(predict_probabilities(model, frontend, samples, batch_size=2),
                          predict_probabilities(model, cached_frontend, cached, batch_size=2))
    unchanged = cached_selection(frontend, samples, device=torch.device("cpu"), batch_size=2, max_bytes=1000)
    assert unchanged[0] is frontend and unchanged[1] is samples


def test_optimizer_choice_is_checked_and_used():
    from respirelib.training.profiles import TrainConfig
    from respirelib.training.train import make_optimizer

    model = torch.nn.Linear(2, 2)
    assert isinstance(make_optimizer(model, TrainConfig(optimizer="adamw")), torch.optim.AdamW)
    assert isinstance(make_optimizer(model, TrainConfig()), torch.optim.SGD)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lamb")
    with pytest.raises(ValueError, match="eval_every"):
        TrainConfig(eval_every=0)


def test_resuming_where_no_run_started_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no run.json: there is no started run to resume"):
        train_run(tmp_path / "data", tmp_path / "empty", resume=True, progress=False)


def test_the_timed_training_step_is_fits_own(monkeypatch):
    """``time_train_steps`` (bench precision, bench train, the projections) times fit's step: the profile's optimizer
    and moving average, and blank region clipping decided once, not per step."""
    import respirelib.training.train as train_module
    from respirelib.signal.frontend import FeatureFrontend
    from respirelib.training.profiles import get_profile
    from respirelib.training.workload import time_train_steps

    profile = get_profile("smoke").with_overrides({"model": {"width": 8},
                                                   "stage1": {"optimizer": "adamw", "ema_decay": 0.9}})
    seen = {"images": [], "updates": [], "cuts": 0}
    images, update, blank_cut = train_module.training_images, train_module.training_update, FeatureFrontend.blank_cut

    def counted_cut(self, wave, **kwargs):
        seen["cuts"] += 1
        return blank_cut(self, wave, **kwargs)

    def recorded_images(frontend, wave, **kwargs):
        seen["images"].append(kwargs)
        return images(frontend, wave, **kwargs)

    def recorded_update(model, batch, labels, **kwargs):
        seen["updates"].append(kwargs)
        return update(model, batch, labels, **kwargs)

    monkeypatch.setattr(FeatureFrontend, "blank_cut", counted_cut)
    monkeypatch.setattr(train_module, "training_images", recorded_images)
    monkeypatch.setattr(train_module, "training_update", recorded_update)
    waves = 0.1 * torch.randn(4, profile.audio.n_samples, generator=torch.Generator().manual_seed(0))
    record = time_train_steps(waves, torch.arange(4) % 4, profile=profile, device="cpu", batch_size=4, steps=2,
                              warmup=1, precision="fp32")
    assert len(seen["images"]) == len(seen["updates"]) == 3 and seen["cuts"] == 1
    assert all(call["cut"] is not None and call["augment"] == profile.augment for call in seen["images"])
    assert all(isinstance(call["optimizer"], torch.optim.AdamW) and call["averaged"] is not None
               for call in seen["updates"])
    assert record["optimizer"] == "adamw" and record["moving_average"] is True
