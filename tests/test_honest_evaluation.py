"""The honest-evaluation promises, each guarded by a test that fails when the code breaks it.

Checkpoints are selected on validation patients only; the training patients come from the
fixed split seed, not the training seed; the intervals in ``metrics.json`` resample
patients; the +CBA+BRC row clips blank regions and the CNN row does not; and
``metrics_finetuned.json`` scores each device with its own stage-2 model where fine-tuning
was kept. Each of these once survived a mutation of the code (issue 20);
``tools/mutations.py`` applies them to a copy of the repository and names the test below
that catches each.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

import respirelib.signal.frontend
import respirelib.experiments.run
from respirelib.data.icbhi import load_icbhi
from respirelib.data.names import DEVICES
from respirelib.data.splits import make_split
from respirelib.model.checkpoint import load_checkpoint
from respirelib.storage import atomic_torch_save
from respirelib.experiments.run import evaluate_run, train_run
from respirelib.training.metrics import bootstrap_intervals
from respirelib.experiments.variants import variant_overrides

pytestmark = pytest.mark.slow

FIXED_SPLIT_SEED = 0  # train_run's default split_seed: every training seed shares this split


def _fixed_split(data_dir, scheme: str = "official") -> tuple[pd.DataFrame, pd.Series]:
    """The cycles table and the split every run of ``scheme`` must use, whatever its training seed."""
    cycles = load_icbhi(data_dir, audio="ignore").cycles
    return cycles, make_split(cycles, scheme=scheme, seed=FIXED_SPLIT_SEED)


def _patients(cycles: pd.DataFrame, rows) -> set:
    return set(cycles.loc[np.asarray(rows, dtype=np.int64), "patient"])


def test_checkpoint_selection_scores_validation_patients_only(smoke_run, tiny_synthetic):
    """Stage 1 and every stage-2 device select on validation cycles; only the diagnostic monitor reads test cycles."""
    cycles, split = _fixed_split(tiny_synthetic)
    test_rows = set(split.index[split == "test"])
    test_patients = _patients(cycles, sorted(test_rows))
    stage1 = json.loads((smoke_run / "stage1" / "scored_rows.json").read_text())
    assert stage1["selection"], "stage 1 recorded no selection rows"
    assert set(split.loc[stage1["selection"]]) == {"val"}
    assert not _patients(cycles, stage1["selection"]) & test_patients
    assert set(stage1["monitor"]) == test_rows  # the smoke profile monitors the test set, for diagnostics only
    statuses = json.loads((smoke_run / "stage2" / "devices.json").read_text())
    trained = [device for device, status in statuses.items() if status["status"] == "trained"]
    assert trained, "the smoke run fine-tuned no device: nothing to check in stage 2"
    for device in trained:
        stage2 = json.loads((smoke_run / "stage2" / device / "scored_rows.json").read_text())
        assert stage2["selection"] and stage2["monitor"] is None
        assert set(split.loc[stage2["selection"]]) == {"val"}
        assert set(cycles.loc[stage2["selection"], "device"].astype(str)) == {device}
        assert not _patients(cycles, stage2["selection"]) & test_patients


def _rows_handed_to_training(monkeypatch, data_dir, run_dir, **kwargs) -> dict:
    """The cycle rows ``train_run`` hands to the training loop (which is replaced by a no-op here)."""
    seen = {}

    def record_only(model, frontend, train, selection, **_):
        seen["train"] = np.unique(train.cycle_rows[train.cycle_rows >= 0])  # -1: concatenations
        seen["selection"] = np.unique(selection.cycle_rows)

    monkeypatch.setattr(respirelib.experiments.run, "fit", record_only)
    train_run(data_dir, run_dir, profile="smoke", init="random", progress=False, **kwargs)
    assert json.loads((run_dir / "run.json").read_text())["split_seed"] == FIXED_SPLIT_SEED
    return seen


def test_training_patients_come_from_the_fixed_split_seed(tiny_synthetic, tmp_path, monkeypatch):
    """Two training seeds train on the same patients, none of them a test patient (patient-wise split).

    The patient-wise split, as its test fold moves with the split seed (on the tiny set, the official
    split's validation patient happens to be the same for every seed).
    """
    cycles, split = _fixed_split(tiny_synthetic, "patient")
    other = make_split(cycles, scheme="patient", seed=FIXED_SPLIT_SEED + 1)
    assert not other.equals(split), "split seeds 0 and 1 give one split: the test could not tell them apart"
    test_patients = _patients(cycles, split.index[split == "test"])
    for seed in (0, 1):
        seen = _rows_handed_to_training(monkeypatch, tiny_synthetic, tmp_path / f"patient-seed{seed}",
                                        split="patient", seed=seed)
        assert set(seen["train"]) == set(split.index[split == "train"]), f"training seed {seed}"
        assert set(seen["selection"]) == set(split.index[split == "val"]), f"training seed {seed}"
        assert not _patients(cycles, seen["train"]) & test_patients, f"training seed {seed}"


def test_metric_intervals_resample_patients_not_cycles(smoke_run):
    """Recomputed from the predictions file's patient column, the intervals equal those of ``metrics.json``."""
    for name in ("metrics", "metrics_finetuned"):
        document = json.loads((smoke_run / f"{name}.json").read_text())
        table = pd.read_csv(smoke_run / f"{name}_predictions.csv")
        per_patient = table.groupby("patient").size()
        # Patients of very different sizes: resampling cycles gives other intervals than resampling patients.
        assert per_patient.max() >= 5 * per_patient.min(), per_patient.to_dict()
        ci = document["ci"]
        assert ci["n_patients"] == table["patient"].nunique() < len(table)

        def intervals(units):
            return bootstrap_intervals(table["label_id"], table["pred"], units, groups=table["device"],
                                       all_groups=DEVICES, n_resamples=ci["n_resamples"], seed=ci["seed"])

        by_patient, by_cycle = intervals(table["patient"]), intervals(table["cycle_row"])
        assert by_patient["four_class"]["score"]["ci"] != by_cycle["four_class"]["score"]["ci"]
        for task in ("four_class", "two_class"):
            for metric in ("sp", "se", "score"):
                recorded, expected = ci[task][metric]["ci"], by_patient[task][metric]["ci"]
                assert (recorded is None) == (expected is None), (name, task, metric)
                if expected is not None:
                    assert recorded == pytest.approx(expected), (name, task, metric)


def _clip_calls_in_a_run(variant: str, data_dir, run_dir) -> dict:
    """How often blank region clipping ran while ``variant`` trained (one epoch) and while it was evaluated."""
    calls, phase = {"train": 0, "evaluate": 0}, ["train"]
    clip = respirelib.signal.frontend.clip_rows_batch

    def counted(*args, **kwargs):
        calls[phase[0]] += 1
        return clip(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(respirelib.signal.frontend, "clip_rows_batch", counted)
        overrides = variant_overrides(variant)
        # One short epoch and no test monitor: only which inputs get clipped matters here.
        stage1 = {**overrides.get("stage1", {}), "samples_per_epoch": 16, "monitor_test": False}
        train_run(data_dir, run_dir, profile="smoke", init="random", seed=0, progress=False, stop_after=1,
                  overrides={**overrides, "stage1": stage1})
        phase[0] = "evaluate"
        evaluate_run(run_dir, progress=False)
    return calls


def test_the_full_variant_clips_blank_regions_and_the_cnn_variant_does_not(tiny_synthetic, tmp_path):
    full = _clip_calls_in_a_run("full", tiny_synthetic, tmp_path / "official-full-seed0")
    assert full["train"] > 0 and full["evaluate"] > 0, f"+CBA+BRC must clip in training and evaluation: {full}"
    cnn = _clip_calls_in_a_run("cnn", tiny_synthetic, tmp_path / "official-cnn-seed0")
    assert cnn == {"train": 0, "evaluate": 0}, f"the CNN row must not clip: {cnn}"


def _always_predicting(state: dict, label: int) -> dict:
    """``state`` with its last layer replaced so that the model predicts ``label`` for every input."""
    last = [name for name, tensor in state.items() if name.endswith("weight") and tensor.ndim == 2][-1]
    bias = last[:-len("weight")] + "bias"
    forced = dict(state)
    forced[last] = torch.zeros_like(state[last])
    forced[bias] = torch.nn.functional.one_hot(torch.tensor(label), len(state[bias])).to(state[bias].dtype) * 10
    return forced


def test_finetuned_metrics_score_a_device_with_its_kept_stage_two_model(smoke_run, tmp_path):
    """A copy of the smoke run in which fine-tuning won on one device: its test cycles get that model's predictions.

    The smoke run keeps the stage-1 model on a tie, so its stage-2 and stage-1 predictions agree; here
    the device's kept stage-2 model is arranged to predict one class for every input.
    """
    device = "AKGC417L"
    run = tmp_path / "run"
    (run / "stage1" / "checkpoints").mkdir(parents=True)
    shutil.copy(smoke_run / "run.json", run / "run.json")
    (run / "stage1" / "checkpoints" / "best.pt").symlink_to(smoke_run / "stage1" / "checkpoints" / "best.pt")
    stage1 = pd.read_csv(smoke_run / "metrics_predictions.csv")
    on_device = stage1["device"] == device
    assert on_device.any() and (~on_device).any()
    label = next(c for c in range(4) if (stage1.loc[on_device, "pred"] != c).any())  # not what stage 1 says
    state = load_checkpoint(smoke_run / "stage1" / "checkpoints" / "best.pt")["model"]
    atomic_torch_save({"model": _always_predicting(state, label), "epoch": 1, "score": 1.0},
                      run / "stage2" / device / "checkpoints" / "best.pt")
    statuses = {name: {"status": "skipped", "reason": "not asked for (devices=...)"} for name in DEVICES}
    statuses[device] = {"status": "trained", "best_epoch": 1}
    (run / "stage2" / "devices.json").write_text(json.dumps(statuses))

    evaluate_run(run, progress=False)
    finetuned = pd.read_csv(run / "metrics_finetuned_predictions.csv")
    assert list(finetuned["cycle_row"]) == list(stage1["cycle_row"])
    assert (finetuned.loc[on_device, "pred"] == label).all(), "the device's stage-2 model was not used"
    assert (finetuned.loc[~on_device, "pred"] == stage1.loc[~on_device, "pred"]).all()  # stage 1's, unchanged
    metrics = json.loads((run / "metrics_finetuned.json").read_text())
    change = metrics["per_device_change"][device]
    assert change["score_after"] == metrics["per_device"][device]["score"]
