"""One self-contained model file from a run directory, and loading it back safely.

:func:`export_model` gathers what prediction needs from a run (stage-1 weights, one
state dict per device with a fine-tuned model, the audio/feature/model configurations,
the label map) and what a reader of the results needs (test metrics, the data
fingerprint and whether the data was synthetic, the initialisation, the split, the
commit) into one ``torch.save`` file, and writes ``MODEL_CARD.md`` beside it.

The file holds only plain Python values (dicts, lists, str, int, float, bool, None)
and tensors, so :func:`load_exported_model` reads it with ``torch.load(...,
weights_only=True)``: a file from someone else cannot run code when loaded (the file is
memory-mapped, so loading is fast and device models are read only when used). It then
checks that this version of respirelib can honour every configuration in it and that
the weights fit the architecture, and raises :class:`~respirelib.errors.DataError`
naming the file and the problem otherwise.

Layout (format ``respirenet-model``, version 1)::

    format, format_version, label_map,
    audio, features, model           # configs as dicts (AudioConfig, FeatureConfig, ModelConfig)
    frontend                         # {"stage1": {"clip_blank": bool}, "stage2": {...}}
    combine_rule                     # how window probabilities become one per cycle ("mean")
    stage1                           # state dict of the selected stage-1 model
    devices                          # {device: state dict} for devices with a stage-2 model
    device_status                    # stage2/devices.json (trained / skipped, notes)
    metrics                          # {"stage1": ..., "finetuned": ...} test metrics, or None
    training                         # profile, init, seed, split, selection split, schedules
    data                             # label, synthetic flag, fingerprint, training-data summary
    provenance                       # commits, versions, dates, hardware
    card                             # the model card's text
"""

from __future__ import annotations

import datetime as _dt
import json
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

import respirelib
from respirelib.model.checkpoint import load_checkpoint
from respirelib.storage import atomic_torch_save, atomic_write_text
from respirelib.config import CLASS_NAMES, AudioConfig, FeatureConfig
from respirelib.errors import DataError
from respirelib.training.metrics import COMBINE_RULES, json_safe
from respirelib.model.network import ModelConfig, RespireNet, build_model
from respirelib.data.names import DEVICES
from respirelib.experiments.provenance import git_commit

FORMAT_NAME = "respirenet-model"
FORMAT_VERSION = 1
CARD_NAME = "MODEL_CARD.md"
MODEL_NAME = "respirenet.pt"  # the model file's name when the export is given a folder
STAGE1 = "stage1"
PAYLOAD_KEYS = ("format", "format_version", "label_map", "audio", "features", "model", "frontend", "combine_rule",
                "stage1", "devices", "device_status", "metrics", "training", "data", "provenance", "card")
# Metric fields carried into the export; the run's full provenance travels separately.
METRIC_KEYS = ("ci", "four_class", "two_class", "accuracy", "class_recall", "n_cycles", "n_normal", "n_abnormal",
               "per_device", "per_device_change", "confusion", "part", "split", "stage")


# ----------------------------------------------------------------------------- export

def model_path_for(out: str | Path) -> Path:
    """The model file that ``out`` names: ``out`` itself, or ``out/respirenet.pt`` for a folder.

    A folder is an existing directory or a name without a suffix (``models``, ``exports/v1``):
    writing a suffix-less model *file* there would leave its card in the folder above and the
    model where no one looks for it.
    """
    out = Path(out)
    return out / MODEL_NAME if out.is_dir() or not out.suffix else out


def card_path_for(model_file: str | Path) -> Path:
    """Where the model card of ``model_file`` goes: ``MODEL_CARD.md`` in the same folder."""
    return Path(model_file).parent / CARD_NAME


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _metrics_summary(metrics: dict | None) -> dict | None:
    if metrics is None:
        return None
    return json_safe({key: metrics[key] for key in METRIC_KEYS if key in metrics})


def _state_dict(checkpoint: Path) -> dict:
    state = load_checkpoint(checkpoint, map_location="cpu")
    if not isinstance(state, Mapping) or "model" not in state:
        raise DataError(checkpoint, "checkpoint holds no 'model' state dict")
    return {name: tensor.detach().cpu().clone() for name, tensor in state["model"].items()}


def training_data_summary(request: Mapping, *, data_dir: str | Path | None = None) -> dict:
    """Devices, sample rates and cycle counts per subset of the data a run was trained on.

    Parameters
    ----------
    request : dict
        The run's ``run.json``.
    data_dir : str or Path, optional
        The training data; default the folder recorded in ``run.json``.

    Returns
    -------
    summary : dict
        ``{"available": True, "recordings", "patients", "cycles": {subset: n},
        "classes": {subset: {class: n}}, "sample_rates", "channels", "per_device": {device:
        {"recordings", "patients", "cycles": {subset: n}, "sample_rates", "channels"}}}``, or
        ``{"available": False, "note": ...}`` when the folder is gone (the card then says so).

    Raises
    ------
    DataError
        The folder holds other data than the run's (its fingerprint differs).
    """
    from respirelib.data.icbhi import load_icbhi
    from respirelib.data.splits import make_split

    folder = Path(data_dir) if data_dir is not None else Path(request["data_dir"])
    if not folder.is_dir():
        return {"available": False, "note": f"the training data was not found at {folder}, so devices, sample "
                                            "rates and counts could not be read from it"}
    dataset = load_icbhi(folder, errors="skip")
    recorded = request["provenance"]["data"]["fingerprint"]
    if dataset.fingerprint != recorded:
        raise DataError(folder, f"is not the data this run was trained on (fingerprint {dataset.fingerprint} != "
                                f"{recorded}); pass the training data folder (--data)")
    subset = make_split(dataset.cycles, scheme=request["split"], seed=request["seed"], fold=request["fold"])
    cycles = dataset.cycles.assign(subset=subset.to_numpy(), device=dataset.cycles["device"].astype(str))
    recordings = dataset.recordings.assign(device=dataset.recordings["device"].astype(str))

    def describe(recs, cyc) -> dict:
        rates = sorted(int(rate) for rate in recs["sample_rate"].dropna().unique()) if "sample_rate" in recs else []
        channels = sorted(int(n) for n in recs["channels"].dropna().unique()) if "channels" in recs else []
        return {"recordings": int(len(recs)), "patients": int(recs["patient"].nunique()),
                "cycles": {str(k): int(v) for k, v in cyc["subset"].value_counts().sort_index().items()},
                "sample_rates": rates, "channels": channels}

    per_device = {name: describe(recordings[recordings["device"] == name], cycles[cycles["device"] == name])
                  for name in sorted(set(recordings["device"]), key=lambda d: (d not in DEVICES, d))}
    classes = {str(part): {name: int((group["label"].astype(str) == name).sum()) for name in CLASS_NAMES}
               for part, group in cycles.groupby("subset", sort=True)}
    return {"available": True, "folder": str(folder.resolve()), **describe(recordings, cycles),
            "classes": classes, "per_device": per_device}


def build_export(run_dir: str | Path, *, data_dir: str | Path | None = None) -> dict:
    """Everything :func:`export_model` writes, as a dict of plain values and tensors.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` is not a run directory, or has no selected stage-1 model.
    """
    from respirelib.inference.model_card import render_model_card

    run_dir = Path(run_dir)
    request = _read_json(run_dir / "run.json")
    if request is None:
        raise FileNotFoundError(f"{run_dir} is not a run directory (no run.json)")
    stage1_best = run_dir / "stage1" / "checkpoints" / "best.pt"
    if not stage1_best.is_file():
        raise FileNotFoundError(f"{stage1_best} is missing: train the run (stage 1) before exporting it")
    config = request["config"]
    device_status = _read_json(run_dir / "stage2" / "devices.json") or {}
    devices = {name: _state_dict(run_dir / "stage2" / name / "checkpoints" / "best.pt")
               for name, status in device_status.items() if status.get("status") == "trained"}
    provenance = request["provenance"]
    payload = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "label_map": list(CLASS_NAMES),
        "audio": dict(config["audio"]), "features": dict(config["features"]),
        # Weights come from the file, so the architecture is built without any initialisation.
        "model": {**config["model"], "pretrained": "random"},
        "frontend": {stage: {"clip_blank": bool(config[stage]["clip_blank"])} for stage in ("stage1", "stage2")},
        "combine_rule": "mean",
        "stage1": _state_dict(stage1_best), "devices": devices, "device_status": json_safe(device_status),
        "metrics": {"stage1": _metrics_summary(_read_json(run_dir / "metrics.json")),
                    "finetuned": _metrics_summary(_read_json(run_dir / "metrics_finetuned.json"))},
        "training": json_safe({
            "run_dir": str(run_dir.resolve()), "profile": request["profile"],
            "profile_description": request.get("profile_description", ""), "overrides": request.get("overrides", {}),
            "init": request["init"], "init_requested": request.get("init_requested"), "seed": request["seed"],
            "split": request["split"], "fold": request["fold"], "subset_sizes": request.get("subset_sizes", {}),
            "precision": request.get("precision"),
            "select_on": {stage: config[stage]["select_on"] for stage in ("stage1", "stage2")},
            # Exports of runs from before the option selected by the Score.
            "select_metric": {stage: config[stage].get("select_metric", "score") for stage in ("stage1", "stage2")},
            "schedule": {stage: {key: config[stage][key] for key in ("epochs", "batch_size", "lr", "samples_per_epoch",
                                                                     "concat", "augment", "weighted_sampler")}
                         for stage in ("stage1", "stage2")}}),
        "data": json_safe({"label": provenance["data"]["label"], "synthetic": bool(provenance["data"]["synthetic"]),
                           "fingerprint": provenance["data"]["fingerprint"],
                           "synthetic_warning": (provenance["data"].get("synthetic_marker") or {}).get("warning"),
                           "summary": training_data_summary(request, data_dir=data_dir)}),
        "provenance": json_safe({
            "trained_with_commit": provenance.get("commit"), "trained": provenance.get("created"),
            "training_hardware": provenance.get("hardware"), "packages": provenance.get("packages"),
            "exported_with_commit": git_commit(), "respirelib_version": respirelib.__version__,
            "exported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}),
    }
    payload["card"] = render_model_card(payload)
    return payload


def export_model(run_dir: str | Path, out: str | Path, *, data_dir: str | Path | None = None,
                 overwrite: bool = False) -> tuple[Path, Path]:
    """Write the model file ``out`` (or ``out/respirenet.pt``) and ``MODEL_CARD.md`` beside it; return both paths.

    Parameters
    ----------
    run_dir : str or Path
        A run trained with :func:`respirelib.experiments.run.train_run` (fine-tuned and
        evaluated or not: what is missing is said in the card).
    out : str or Path
        The model file to write (``.pt`` by convention), or a folder (an existing one, or a
        name without a suffix) to write ``respirenet.pt`` into (:func:`model_path_for`).
    data_dir : str or Path, optional
        The training data, read for the card's devices and sample rates (default: the
        folder recorded in the run).
    overwrite : bool
        Replace an existing model file or card; otherwise :class:`FileExistsError`. A model
        file of this run without its card (an export killed between the two writes) is
        replaced without asking.
    """
    out = model_path_for(out)
    card = card_path_for(out)
    existing = [str(path) for path in (out, card) if path.exists()]
    if existing and not overwrite and not _interrupted_export(out, card, run_dir):
        raise FileExistsError(f"{' and '.join(existing)} already exist(s); nothing was written; "
                              "--overwrite replaces them (overwrite=True from Python), or export into another folder "
                              "(each folder holds one MODEL_CARD.md)")
    payload = build_export(run_dir, data_dir=data_dir)
    atomic_torch_save(payload, out)
    atomic_write_text(card, payload["card"])
    return out, card


def _interrupted_export(out: Path, card: Path, run_dir: str | Path) -> bool:
    """``out`` exported from ``run_dir`` and no card beside it: an export killed before its second file."""
    if card.exists() or not out.is_file():
        return False
    try:
        payload = _load_payload(out)
    except DataError:
        return False
    return (payload.get("training") or {}).get("run_dir") == str(Path(run_dir).resolve())


# ----------------------------------------------------------------------------- loading

@dataclass
class ExportedModel:
    """A loaded model file: configurations, metadata, and the networks built on demand.

    Attributes
    ----------
    path : Path
    audio, features, model_config : AudioConfig, FeatureConfig, ModelConfig
    clip_blank : dict
        ``{"stage1": bool, "stage2": bool}``: blank region clipping of each stage's frontend.
    combine_rule : str
    label_map : tuple of str
    metrics, training, data, provenance, device_status : dict
    card : str
        The model card's Markdown.
    torch_device : torch.device
    precision : str
        ``"fp32"`` or ``"bf16"``: what the networks run in here (:mod:`respirelib.precision`).
    """

    path: Path
    audio: AudioConfig
    features: FeatureConfig
    model_config: ModelConfig
    clip_blank: dict
    combine_rule: str
    label_map: tuple[str, ...]
    metrics: dict
    training: dict
    data: dict
    provenance: dict
    device_status: dict
    card: str
    torch_device: torch.device
    precision: str = "fp32"
    states: dict = field(repr=False, default_factory=dict)
    _networks: dict = field(repr=False, default_factory=dict)

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices with a fine-tuned (stage-2) model in this file."""
        return tuple(name for name in self.states if name != STAGE1)

    @property
    def is_synthetic(self) -> bool:
        return bool(self.data["synthetic"])

    def model_key(self, device_name: str | None) -> str:
        """``device_name`` when it has a fine-tuned model here, else ``"stage1"``."""
        return device_name if device_name in self.devices else STAGE1

    def network(self, key: str = STAGE1) -> tuple[RespireNet, torch.nn.Module]:
        """The model (eval mode) and its feature frontend for ``"stage1"`` or a device name."""
        from respirelib.signal.frontend import FeatureFrontend

        if key not in self.states:
            devices = ", ".join(self.devices) or "no device models"
            raise KeyError(f"{self.path} has no model {key!r}; it has stage1 and {devices}")
        if key not in self._networks:
            model = _fit_weights(self.path, self.model_config, self.states[key], key).to(self.torch_device).eval()
            model.init = "imagenet" if "ImageNet" in self.training["init"] else "random"  # as LoadedRun.model
            stage = STAGE1 if key == STAGE1 else "stage2"
            frontend = FeatureFrontend(self.features, clip_blank=self.clip_blank[stage]).to(self.torch_device)
            self._networks[key] = (model, frontend)
        return self._networks[key]

    def describe(self) -> dict:
        """JSON-friendly summary of where predictions come from (written with every output)."""
        return {"file": str(self.path), "format_version": FORMAT_VERSION, "data": self.data["label"],
                "synthetic": self.is_synthetic, "init": self.training["init"], "profile": self.training["profile"],
                "backbone": self.model_config.backbone, "input_seconds": self.audio.cycle_duration,
                "sample_rate": self.audio.sample_rate, "devices": list(self.devices), "precision": self.precision,
                "training_precision": (self.training.get("precision") or {}).get("used"),
                "trained_with_commit": self.provenance.get("trained_with_commit"),
                "not_a_medical_device": True}


def _fit_weights(path: Path, config: ModelConfig, state: dict, key: str) -> RespireNet:
    # Built on the meta device: no time is spent initialising weights that the file replaces.
    with torch.device("meta"):
        model = build_model(config)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        summary = str(error).splitlines()[0]
        raise DataError(path, f"the {key} weights do not fit a {config.backbone} RespireNet ({summary})") from error
    return model


def _config(path: Path, cls, values, name: str):
    """``cls(**values)`` with every mismatch reported as a DataError naming the file and the setting."""
    if not isinstance(values, Mapping):
        raise DataError(path, f"the {name} configuration is not a mapping")
    known = {f.name for f in fields(cls)}
    unknown, missing = sorted(set(values) - known), sorted(known - set(values))
    if unknown:
        raise DataError(path, f"the {name} configuration has settings this respirelib cannot honour: "
                              f"{', '.join(unknown)} (written by another version?)")
    if missing:
        raise DataError(path, f"the {name} configuration lacks {', '.join(missing)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise DataError(path, f"the {name} configuration cannot be honoured: {error}") from error


def _unpickling_reason(error: Exception) -> str:
    """The unpickler's own complaint inside torch's long weights-only message."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].split(". Please use")[0] if lines else type(error).__name__


def _load_payload(path: Path) -> dict:
    if not path.is_file():
        raise DataError(path, "model file not found")
    if not zipfile.is_zipfile(path):
        raise DataError(path, "not a respirenet model file (not a torch.save archive)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        reason = _unpickling_reason(error)
        if "unsupported global" in reason.lower():
            raise DataError(path, "holds Python objects other than tensors and plain values; it was not written "
                                  "by respirenet export, and loading it could run code, so it is refused "
                                  f"({reason})") from error
        raise DataError(path, f"not a respirenet model file ({reason})") from error
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(path, f"not a respirenet model file ({str(error).splitlines()[0]})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise DataError(path, f"not a respirenet model file (expected format '{FORMAT_NAME}')")
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise DataError(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise DataError(path, f"format version {version} was written by a newer respirelib; this one reads up to "
                              f"version {FORMAT_VERSION}")
    unknown, missing = sorted(set(payload) - set(PAYLOAD_KEYS)), sorted(set(PAYLOAD_KEYS) - set(payload))
    if unknown or missing:
        raise DataError(path, "unexpected layout: " + "; ".join(
            part for part in (unknown and f"unknown entries {', '.join(unknown)}",
                              missing and f"missing entries {', '.join(missing)}") if part))
    return payload


def _check_device_states(path: Path, stage1: dict, devices) -> dict:
    if not isinstance(devices, Mapping):
        raise DataError(path, "the devices entry is not a mapping of device name to weights")
    shapes = {name: tuple(tensor.shape) for name, tensor in stage1.items()}
    for name, state in devices.items():
        if name not in DEVICES:
            raise DataError(path, f"unknown device {name!r} (expected one of {', '.join(DEVICES)})")
        if not isinstance(state, Mapping) or {k: tuple(getattr(v, "shape", ())) for k, v in state.items()} != shapes:
            raise DataError(path, f"the {name} weights do not have the stage-1 model's layers and shapes")
    return dict(devices)


def _check_chain(model: ExportedModel) -> None:
    """Run a short noise probe through the whole chain, so a file that cannot work fails at load time."""
    from respirelib.signal.preprocess import preprocess_recording

    sr = model.audio.sample_rate
    probe = np.random.default_rng(0).normal(0.0, 0.1, 2 * model.audio.n_samples).astype(np.float32)
    try:
        wave = preprocess_recording(probe, sr=2 * sr, config=model.audio)  # resampling is part of the chain
        network, frontend = model.network(STAGE1)
        with torch.no_grad():
            logits = network(frontend(torch.from_numpy(wave[None, :model.audio.n_samples]).to(model.torch_device)))
    except DataError:
        raise
    except Exception as error:  # any failure here means the configuration cannot be honoured
        raise DataError(model.path, f"its configuration cannot be run by this respirelib "
                                    f"({type(error).__name__}: {str(error).splitlines()[0]})") from error
    if tuple(logits.shape) != (1, len(CLASS_NAMES)):
        raise DataError(model.path, f"the model gives {tuple(logits.shape)} outputs for one input, "
                                    f"not (1, {len(CLASS_NAMES)})")


def load_exported_model(path: str | Path, *, device: str | torch.device = "cpu",
                        precision: str | None = None) -> ExportedModel:
    """Load and check a file written by :func:`export_model`.

    Parameters
    ----------
    path : str or Path
    device : str or torch.device
        Where the networks run (``"auto"``: CUDA when available).
    precision : str, optional
        ``"auto"``, ``"fp32"`` or ``"bf16"``; None: the precision the model was trained in (as
        the file records it), or ``"auto"`` for a file that records none.

    Raises
    ------
    DataError
        The file is missing, unreadable, holds arbitrary Python objects, has another
        format or a newer version, or a configuration this respirelib cannot honour
        (unknown settings, an unknown backbone, a sample rate the features cannot use,
        anything that fails on a short noise probe through the whole chain), or weights
        that do not fit the architecture. The message names the file.
    """
    from respirelib.experiments.run import resolve_device
    from respirelib.precision import resolve_precision

    path = Path(path)
    payload = _load_payload(path)
    if list(payload["label_map"]) != list(CLASS_NAMES):
        raise DataError(path, f"label map {payload['label_map']} differs from this respirelib's classes "
                              f"{list(CLASS_NAMES)}")
    audio = _config(path, AudioConfig, payload["audio"], "audio")
    features = _config(path, FeatureConfig, payload["features"], "feature")
    model_config = _config(path, ModelConfig, payload["model"], "model")
    if model_config.pretrained != "random":
        raise DataError(path, "the model configuration must build an uninitialised architecture (pretrained='random')")
    if features.sample_rate != audio.sample_rate:
        raise DataError(path, f"the features expect {features.sample_rate} Hz but the audio is prepared at "
                              f"{audio.sample_rate} Hz")
    if model_config.n_classes != len(CLASS_NAMES):
        raise DataError(path, f"the model has {model_config.n_classes} outputs for {len(CLASS_NAMES)} classes")
    frontend = payload["frontend"]
    if not isinstance(frontend, Mapping) or any(not isinstance(frontend.get(s, {}).get("clip_blank"), bool)
                                                for s in ("stage1", "stage2")):
        raise DataError(path, "the frontend entry must give clip_blank (true/false) for stage1 and stage2")
    if payload["combine_rule"] not in COMBINE_RULES:
        raise DataError(path, f"unknown combine rule {payload['combine_rule']!r} (expected one of {COMBINE_RULES})")
    states = {STAGE1: payload["stage1"], **_check_device_states(path, payload["stage1"], payload["devices"])}
    torch_device = resolve_device(str(device))
    trained = payload["training"].get("precision") if isinstance(payload["training"], Mapping) else None
    precision = precision or (trained or {}).get("used") or "auto"
    model = ExportedModel(
        path=path, audio=audio, features=features, model_config=model_config,
        clip_blank={s: frontend[s]["clip_blank"] for s in ("stage1", "stage2")},
        combine_rule=payload["combine_rule"], label_map=tuple(payload["label_map"]), metrics=payload["metrics"],
        training=payload["training"], data=payload["data"], provenance=payload["provenance"],
        device_status=payload["device_status"], card=payload["card"], torch_device=torch_device,
        precision=resolve_precision(precision, torch_device), states=states)
    _check_chain(model)
    return model
