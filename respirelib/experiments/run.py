"""Runs: train (stage 1), fine-tune per device (stage 2) and evaluate, each inside one run directory.

A run directory holds ``run.json`` (what was asked: data, profile, seed, split,
initialisation, and provenance), ``stage1/`` (history and checkpoints), ``stage2/<device>/``
and the metrics files. Every command of the CLI and every notebook goes through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from respirelib.signal.cache import CycleCache, build_cycle_cache
from respirelib.model.checkpoint import load_checkpoint
from respirelib.training.evaluate import cycle_predictions, predict_probabilities, score_predictions
from respirelib.signal.frontend import FeatureFrontend
from respirelib.data.icbhi import ICBHIDataset, load_icbhi
from respirelib.training.metrics import bootstrap_intervals, json_safe
from respirelib.model.network import ModelConfig, RespireNet, build_model
from respirelib.data.names import DEVICES
from respirelib.training.profiles import Profile, get_profile
from respirelib.experiments.provenance import git_commit, run_provenance
from respirelib.storage import RUN_DIR_HINT, atomic_write_text, claim_new_dir, refuse_existing_dir
from respirelib.config import DEFAULT_INIT, INIT_CHOICES, LABEL_AWARE_DIAGNOSTIC
from respirelib.precision import describe_precision
from respirelib.training.metrics import icbhi_scores
from respirelib.signal.samples import SampleSet, evaluation_set, training_set
from respirelib.data.splits import make_split
from respirelib.training.train import fit



def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this torch ({torch.__version__}) sees no CUDA GPU; "
                         "use --device cpu or auto")
    return resolved


@dataclass
class PreparedData:
    dataset: ICBHIDataset
    cache: CycleCache
    subset: pd.Series  # "train" / "val" / "test" / "unused" per cycle

    def rows(self, part: str, device_name: str | None = None) -> np.ndarray:
        mask = self.subset == part
        if device_name is not None:
            mask &= self.dataset.cycles["device"].astype(str) == device_name
        return self.dataset.cycles.index[mask].to_numpy()


def prepare_data(data_dir: str | Path, profile: Profile, *, split: str, split_seed: int = 0, fold: int = 0,
                 errors: str = "raise", progress: bool = True) -> PreparedData:
    """Load the data, build (or read) the cycle cache and assign every cycle to train/val/test.

    ``split_seed`` and ``fold`` fix the patient split and the validation patients; they are
    separate from the training seed, so several training seeds share one test set and their
    spread is training variance alone.
    """
    dataset = load_icbhi(data_dir, errors=errors, audio="require")
    cache = build_cycle_cache(dataset, config=profile.audio, progress=progress)
    subset = make_split(dataset.cycles, scheme=split, seed=split_seed, fold=fold)
    return PreparedData(dataset, cache, subset)


def resolve_init(profile: Profile, init: str, *, weights_dir=None) -> str:
    """The initialisation a run of ``profile`` will get, ``"imagenet"`` or ``"random"``, checked before any work.

    ``"imagenet"`` must find its weights (:func:`respirelib.model.weights.find_imagenet_checkpoint`);
    ``"imagenet-if-available"`` falls back to ``"random"``, printing why once.

    Raises
    ------
    ValueError
        ``init`` is unknown, or ``"imagenet"`` for a network that has no ImageNet weights.
    WeightsNotFoundError
        ``"imagenet"`` and the weights are neither on disk nor downloadable (the message says where to put them).
    """
    from respirelib.model.weights import WeightsNotFoundError, find_imagenet_checkpoint, imagenet_weights_spec

    if init not in INIT_CHOICES:
        raise ValueError(f"init must be one of {', '.join(INIT_CHOICES)}, got {init!r}")
    if init == "random":
        return init
    if not profile.model.has_imagenet_weights:
        if init == "imagenet":
            raise ValueError(f"profile {profile.name} uses a {profile.model.backbone} of width {profile.model.width}, "
                             "for which no ImageNet weights exist: use --init random or --init imagenet-if-available "
                             "(init='random' or 'imagenet-if-available' from Python)")
        print(f"NOTE: profile {profile.name} uses a {profile.model.backbone} of width {profile.model.width}, for "
              "which no ImageNet weights exist: RANDOM initialisation; every report of this run says 'random init'.")
        return "random"
    try:
        find_imagenet_checkpoint(imagenet_weights_spec(profile.model.backbone), weights_dir=weights_dir)
    except WeightsNotFoundError as error:
        if init == "imagenet":
            raise
        print(f"NOTE: {error}\nNOTE: continuing with RANDOM initialisation, as --init imagenet-if-available "
              "allows; every report of this run says 'random init'.")
        return "random"
    return "imagenet"


def _select(profile_stage, prepared: PreparedData, device_name: str | None = None) -> np.ndarray:
    return prepared.rows(profile_stage.select_on, device_name)


def train_run(data_dir: str | Path, run_dir: str | Path, *, profile: str | Profile = "quick", seed: int = 0,
              split: str = "official", fold: int = 0, split_seed: int = 0, init: str = DEFAULT_INIT,
              device: str = "auto", precision: str | None = None,
              weights_dir=None, resume: bool = False, errors: str = "raise", progress: bool = True,
              stop_after: int | None = None, overrides: dict | None = None) -> Path:
    """Stage 1: train the model on the training patients, select on validation; return the run directory.

    ``seed`` seeds training (initialisation, sampling, augmentation); ``split_seed`` and
    ``fold`` choose the patient split, fixed by default so that seeds share a test set.
    A new run directory must be empty (runs never overwrite each other); ``resume=True``
    continues an interrupted run in place, with the settings recorded in its ``run.json``.
    ``overrides`` changes profile settings (see :meth:`Profile.with_overrides`). ``init`` is
    resolved by :func:`resolve_init` before the data are read. ``precision``
    (``"auto"``, ``"fp32"`` or ``"bf16"``; None: the profile's, ``"auto"``) sets both stages' precision
    as an override; ``run.json`` records what it resolved to (``precision``). A resumed run keeps its own.
    """
    run_dir = Path(run_dir)
    torch_device = resolve_device(device)
    if resume:
        if not (run_dir / "run.json").is_file():
            raise FileNotFoundError(f"{run_dir} holds no run.json: there is no started run to resume there")
        request = json.loads((run_dir / "run.json").read_text())
        profile_obj = get_profile(request["profile"]).with_overrides(request["overrides"])
        seed, split, fold, init = request["seed"], request["split"], request["fold"], request["init_requested"]
        split_seed = _split_seed(request)
    else:
        profile_obj = get_profile(profile) if isinstance(profile, str) else profile
        if precision is not None:
            overrides = {**(overrides or {}),
                         **{stage: {**(overrides or {}).get(stage, {}), "precision": precision}
                            for stage in ("stage1", "stage2")}}
        profile_obj = profile_obj.with_overrides(overrides)
        refuse_existing_dir(run_dir, hint=RUN_DIR_HINT)  # before the data's preparation; claimed below
    pretrained = resolve_init(profile_obj, init, weights_dir=weights_dir)  # missing weights stop it before any work
    prepared = prepare_data(data_dir, profile_obj, split=split, split_seed=split_seed, fold=fold, errors=errors,
                            progress=progress)
    model = build_model(ModelConfig(**{**profile_obj.model.__dict__, "pretrained": pretrained}),
                        weights_dir=weights_dir, seed=seed).to(torch_device)
    if not resume:
        request = {"profile": profile_obj.name, "profile_description": profile_obj.description,
                   "overrides": overrides or {}, "seed": seed, "split": split, "fold": fold,
                   "split_seed": split_seed,
                   "init_requested": init, "init": model.init_label, "data_dir": str(Path(data_dir).resolve()),
                   "config": profile_obj.to_dict(), "model": model.describe(),
                   "subset_sizes": prepared.subset.value_counts().to_dict(),
                   "precision": describe_precision(profile_obj.stage1.precision, torch_device),
                   "provenance": run_provenance(prepared.dataset, torch_device)}
        with claim_new_dir(run_dir) as claimed:  # the folder appears with its run.json, or not at all
            atomic_write_text(claimed / "run.json", json.dumps(json_safe(request), indent=2, default=str))
    stage = profile_obj.stage1
    frontend = FeatureFrontend(profile_obj.features, clip_blank=stage.clip_blank).to(torch_device)
    train_set = training_set(prepared.cache, prepared.rows("train"), audio=profile_obj.audio,
                             augment=profile_obj.augment, concat=stage.concat, seed=seed)
    selection = evaluation_set(prepared.cache, _select(stage, prepared), config=profile_obj.audio)
    monitor = evaluation_set(prepared.cache, prepared.rows("test"), config=profile_obj.audio) \
        if stage.monitor_test else None
    fit(model, frontend, train_set, selection, config=stage, augment=profile_obj.augment,
        sr=profile_obj.audio.sample_rate, out_dir=run_dir / "stage1", seed=seed, resume=resume,
        stop_after=stop_after, progress=progress, description="stage 1", monitor=monitor)
    return run_dir


def _split_seed(request: dict) -> int:
    # Runs made before the split had its own seed drew it with the training seed.
    return request.get("split_seed", request["seed"])


@dataclass
class LoadedRun:
    run_dir: Path
    request: dict
    profile: Profile
    prepared: PreparedData
    device: torch.device
    precision: str  # what the network runs in here: "fp32" or "bf16"

    def model(self, checkpoint: str | Path) -> RespireNet:
        config = ModelConfig(**{**self.profile.model.__dict__, "pretrained": "random"})
        model = build_model(config, seed=self.request["seed"])
        model.load_state_dict(load_checkpoint(checkpoint, map_location="cpu")["model"])
        model.init = "imagenet" if "ImageNet" in self.request["init"] else "random"
        return model.to(self.device).eval()

    def frontend(self, stage) -> FeatureFrontend:
        return FeatureFrontend(self.profile.features, clip_blank=stage.clip_blank).to(self.device)


def load_run(run_dir: str | Path, *, data_dir: str | Path | None = None, device: str = "auto",
             precision: str | None = None, errors: str = "raise", progress: bool = True) -> LoadedRun:
    """A trained run, its data and profile, ready to score on ``device``.

    ``precision`` None: the precision the run trained in (``run.json``), else its profile's.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no run.json)")
    request = json.loads((run_dir / "run.json").read_text())
    profile = get_profile(request["profile"]).with_overrides(request["overrides"])
    prepared = prepare_data(data_dir or request["data_dir"], profile, split=request["split"],
                            split_seed=_split_seed(request), fold=request["fold"], errors=errors, progress=progress)
    recorded = request["provenance"]["data"]["fingerprint"]
    if prepared.dataset.fingerprint != recorded:
        raise ValueError(f"the data in {prepared.dataset.root} is not the data this run was trained on "
                         f"(fingerprint {prepared.dataset.fingerprint} != {recorded})")
    torch_device = resolve_device(device)
    precision = precision or request.get("precision", {}).get("used") or profile.stage1.precision
    return LoadedRun(run_dir, request, profile, prepared, torch_device,
                     describe_precision(precision, torch_device)["used"])


def finetune_run(run_dir: str | Path, *, data_dir=None, device: str = "auto", precision: str | None = None,
                 resume: bool = False, errors: str = "raise", progress: bool = True, devices=None,
                 stop_after: int | None = None) -> dict:
    """Stage 2: one copy of the selected stage-1 model per device, fine-tuned on that device's cycles.

    Returns ``{device: status}``; a device without training cycles, or without validation cycles to
    select on, is reported, not fine-tuned, and its test cycles are scored by the stage-1 model. The stage-1 model itself is a candidate in each
    device's selection ("epoch 0"), so fine-tuning is kept only where it helps on validation.
    ``devices`` limits stage 2 to those devices (the others are reported as not asked for) and
    ``stop_after`` stops each after that many epochs in this call (see :func:`fit`): the GPU check
    (``tools/gpu_check.py``) times one device's epochs with them. ``precision`` None: the run's
    (see :func:`load_run`); each device's status records the precision it trained in.
    """
    run = load_run(run_dir, data_dir=data_dir, device=device, precision=precision, errors=errors,
                   progress=progress)
    stage = replace(run.profile.stage2, precision=run.precision)
    stage1_best = run.run_dir / "stage1" / "checkpoints" / "best.pt"
    statuses = {}
    for device_name in DEVICES:
        train_rows = run.prepared.rows("train", device_name)
        select_rows = run.prepared.rows(stage.select_on, device_name)
        if devices is not None and device_name not in devices:
            statuses[device_name] = {"status": "skipped", "reason": "not asked for (devices=...)"}
            continue
        if len(train_rows) == 0:
            statuses[device_name] = {"status": "skipped", "reason": "no training cycles for this device"}
            continue
        selection = evaluation_set(run.prepared.cache, select_rows, config=run.profile.audio)
        if len(selection) == 0:
            statuses[device_name] = {"status": "skipped", "reason": "no validation cycles to select a fine-tuned "
                                                                    "model on: the stage-1 model is kept"}
            continue
        out_dir = run.run_dir / "stage2" / device_name
        model = run.model(stage1_best).train()
        train_set = training_set(run.prepared.cache, train_rows, audio=run.profile.audio,
                                 augment=run.profile.augment, concat=stage.concat, seed=run.request["seed"])
        result = fit(model, run.frontend(stage), train_set, selection, config=stage, augment=run.profile.augment,
                     sr=run.profile.audio.sample_rate, out_dir=out_dir, seed=run.request["seed"], resume=resume,
                     progress=progress, description=f"stage 2 {device_name}", select_initial=True,
                     stop_after=stop_after)
        status = statuses.setdefault(device_name, {"status": "trained"})
        status.update(best_epoch=result.best_epoch, n_train_inputs=len(train_set),
                      n_selection_inputs=len(selection), precision=result.precision)
        if result.best_epoch == 0:
            status["note"] = "no fine-tuning epoch beat the stage-1 model on validation: its weights are kept"
    atomic_write_text(run.run_dir / "stage2" / "devices.json", json.dumps(json_safe(statuses), indent=2))
    return statuses


def score_cycles(run: LoadedRun, model, stage, samples: SampleSet) -> pd.DataFrame:
    """One row per cycle of ``samples`` (:func:`~respirelib.training.evaluate.cycle_predictions`), scored by
    ``model`` in the run's precision with ``stage``'s front end."""
    probs = predict_probabilities(model, run.frontend(stage), samples, batch_size=stage.eval_batch_size,
                                  precision=run.precision)
    return cycle_predictions(probs, samples)


def evaluate_run(run_dir: str | Path, *, data_dir=None, device: str = "auto", precision: str | None = None,
                 part: str = "test", overwrite: bool = False, errors: str = "raise", progress: bool = True) -> dict:
    """Score the run on its test cycles; write ``metrics.json`` (stage 1) and, after stage 2,
    ``metrics_finetuned.json`` (each test cycle scored by its device's model) with per-device gains.

    ``precision`` None: the run's own (see :func:`load_run`). The metrics record the precision of
    the evaluation (``precision``) and of the training (``training_precision``).
    """
    run = load_run(run_dir, data_dir=data_dir, device=device, precision=precision, errors=errors,
                   progress=progress)
    outputs = {"stage1": run.run_dir / "metrics.json", "finetuned": run.run_dir / "metrics_finetuned.json"}
    has_stage2 = (run.run_dir / "stage2" / "devices.json").is_file()
    for name, path in outputs.items():
        if path.exists() and not overwrite and (name == "stage1" or has_stage2):
            raise FileExistsError(f"{path} exists; nothing was written; --overwrite replaces it (overwrite=True "
                                  "from Python)")
    samples = evaluation_set(run.prepared.cache, run.prepared.rows(part), config=run.profile.audio)
    if len(samples) == 0:
        raise ValueError(f"the run's split has no {part} cycles")
    stage1 = score_cycles(run, run.model(run.run_dir / "stage1" / "checkpoints" / "best.pt"), run.profile.stage1,
                          samples)
    common = {"data": run.request["provenance"]["data"]["label"], "synthetic":
              run.request["provenance"]["data"]["synthetic"], "init": run.request["init"],
              "profile": run.request["profile"], "seed": run.request["seed"], "split": run.request["split"],
              "part": part, "precision": run.precision,
              "training_precision": run.request.get("precision", {}).get("used"),
              "provenance": {**run.request["provenance"], "evaluated_with_commit": git_commit(),
                                           "config": run.request["config"]}}
    metrics = {**score_predictions(stage1), "ci": _intervals(run, stage1), "stage": "stage1", **common}
    _write_metrics(outputs["stage1"], metrics, stage1, run)
    result = {"stage1": metrics}
    if has_stage2:
        statuses = json.loads((run.run_dir / "stage2" / "devices.json").read_text())
        combined = stage1.set_index("cycle_row")
        for device_name, status in statuses.items():
            device_samples = samples.select(samples.devices == device_name)
            if status.get("status") != "trained" or len(device_samples) == 0:
                continue
            model = run.model(run.run_dir / "stage2" / device_name / "checkpoints" / "best.pt")
            rescored = score_cycles(run, model, run.profile.stage2, device_samples).set_index("cycle_row")
            combined.loc[rescored.index, rescored.columns] = rescored
        combined = combined.reset_index()
        finetuned = {**score_predictions(combined), "ci": _intervals(run, combined), "stage": "finetuned",
                     "devices": statuses, **common}
        finetuned["per_device_change"] = _per_device_change(metrics["per_device"], finetuned["per_device"],
                                                            statuses)
        _write_metrics(outputs["finetuned"], finetuned, combined, run)
        result["finetuned"] = finetuned
    return result


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def _intervals(run: LoadedRun, table: pd.DataFrame) -> dict:
    """95% patient-level bootstrap intervals of Sp, Se and Score, overall and per device."""
    patients = run.prepared.dataset.cycles.loc[table["cycle_row"], "patient"].to_numpy()
    intervals = bootstrap_intervals(table["label_id"], table["pred"], patients, groups=table["device"].astype(str),
                                    all_groups=DEVICES, n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    intervals["per_device"] = intervals.pop("per_group")
    return intervals


def _per_device_change(before: dict, after: dict, statuses: dict) -> dict:
    change = {}
    for device_name in DEVICES:
        b, a = before.get(device_name, {}), after.get(device_name, {})
        status = statuses.get(device_name, {})
        if not b.get("n_cycles"):
            change[device_name] = {"score_change": None, "note": "no test cycles for this device"}
        elif status.get("status") != "trained":
            change[device_name] = {"score_change": None, "note": f"not fine-tuned: {status.get('reason', '')}"}
        elif b.get("score") is None or a.get("score") is None:
            change[device_name] = {"score_change": None, "note": b.get("note") or "score undefined"}
        else:
            change[device_name] = {"score_before": b["score"], "score_after": a["score"],
                                   "score_change": a["score"] - b["score"]}
            if status.get("note"):
                change[device_name]["note"] = status["note"]
    return change


def _write_metrics(path: Path, metrics: dict, table: pd.DataFrame, run: LoadedRun) -> None:
    cycles = run.prepared.dataset.cycles
    table = table.assign(recording=cycles.loc[table["cycle_row"], "recording"].to_numpy(),
                         cycle_index=cycles.loc[table["cycle_row"], "cycle_index"].to_numpy(),
                         patient=cycles.loc[table["cycle_row"], "patient"].to_numpy())
    atomic_write_text(path, json.dumps(json_safe(metrics), indent=2, default=str))
    atomic_write_text(path.with_name(path.stem + "_predictions.csv"), table.to_csv(index=False))


DIAGNOSTICS_NOTE = ("DIAGNOSTIC, NOT A RESULT: every number in this file reads the test labels (to pad the test "
                    "inputs, or to choose the checkpoint); it only shows how much such measurement inflates a score")


def _scored(run: LoadedRun, table: pd.DataFrame, **extra) -> dict:
    return json_safe({**score_predictions(table), "ci": _intervals(run, table), **extra})


def _test_selected(run: LoadedRun, part: str) -> dict:
    """The reference code's number: the epoch with the best *test* score among the monitored ones."""
    path = run.run_dir / "stage1" / "test_monitor.pt"
    if not path.is_file():
        return {"note": "the test set was not monitored during training (TrainConfig.monitor_test is off)"}
    monitor = load_checkpoint(path)
    rows = monitor["cycle_row"].numpy()
    cycles = run.prepared.dataset.cycles
    truth = cycles.loc[rows, "label_id"].to_numpy()
    scores = [icbhi_scores(truth, pred.numpy())["four_class"]["score"] for pred in monitor["pred"]]
    best = int(np.nanargmax(scores))
    table = pd.DataFrame({"cycle_row": rows, "label_id": truth, "pred": monitor["pred"][best].numpy().astype(np.int64),
                          "device": cycles.loc[rows, "device"].astype(str).to_numpy()})
    return _scored(run, table, epoch=monitor["epochs"][best], epochs_monitored=len(scores),
                   uses_test_labels="checkpoint chosen by the test score",
                   note="the interval ignores that the epoch was chosen on these very cycles: it is too narrow")


def _last_epoch(stage_dir: Path) -> int:
    """The last trained epoch, from the stage's history (not from ``last.pt``, read once already)."""
    lines = (stage_dir / "history.jsonl").read_text().splitlines()
    return int(json.loads(lines[-1])["epoch"]) if lines else 0


def diagnose_run(run_dir: str | Path, *, data_dir=None, device: str = "auto", precision: str | None = None,
                 part: str = "test", progress: bool = True) -> dict:
    """The optimism diagnostics of one stage-1 run, written once to ``diagnostics.json``.

    - ``label_aware_padding``: the selected checkpoint on test inputs padded as the paper
      describes (neighbours chosen by the test labels);
    - ``last_epoch``: the last checkpoint, label-free inputs (no selection at all);
    - ``test_selected``: the epoch with the best test score, if the test set was monitored.

    Every entry reads the test labels in some way (``last_epoch`` only through its score) and
    none is a result; the file says so. An existing file is read, not recomputed.
    """
    run_dir = Path(run_dir)
    out = run_dir / "diagnostics.json"
    if out.is_file():
        return json.loads(out.read_text())
    run = load_run(run_dir, data_dir=data_dir, device=device, precision=precision, progress=progress)
    stage = run.profile.stage1
    rows = run.prepared.rows(part)
    best = run.model(run.run_dir / "stage1" / "checkpoints" / "best.pt")
    aware = evaluation_set(run.prepared.cache, rows, config=run.profile.audio, padding=LABEL_AWARE_DIAGNOSTIC)
    label_free = evaluation_set(run.prepared.cache, rows, config=run.profile.audio)
    diagnostics = {
        "note": DIAGNOSTICS_NOTE, "part": part, "seed": run.request["seed"], "split": run.request["split"],
        "precision": run.precision,
        "label_aware_padding": _scored(run, score_cycles(run, best, stage, aware),
                                       uses_test_labels="test inputs padded by their labels (paper as written)"),
        "last_epoch": _scored(run, score_cycles(run, run.model(run.run_dir / "stage1" / "checkpoints" / "last.pt"),
                                                stage, label_free), epoch=_last_epoch(run.run_dir / "stage1"),
                              uses_test_labels="no (no checkpoint selection)"),
        "test_selected": _test_selected(run, part),
    }
    atomic_write_text(out, json.dumps(json_safe(diagnostics), indent=2, default=str))
    return diagnostics
