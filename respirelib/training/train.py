"""The training loop: one stage of SGD with augmentation, validation and resumable checkpoints.

:func:`fit` knows nothing about where the inputs come from: it takes a model, a
feature frontend, a training :class:`SampleSet` and a selection set (validation
patients by default), and writes into one stage directory:

- ``history.jsonl``: one JSON line per epoch (loss, validation Se/Sp/Score, time);
- ``checkpoints/last.pt``: model, its moving average (``TrainConfig.ema_decay``), optimizer,
  RNG states, epoch, history, best so far,
  written atomically after every epoch, so a killed run resumes where it stopped and
  ends with exactly the metrics of an uninterrupted run (same seed, CPU);
- ``checkpoints/best.pt``: the model of the epoch with the best selection score (the moving
  average of the weights when ``TrainConfig.ema_decay`` is set: it is what is validated);
- ``scored_rows.json``: the cycle rows (of the cycles table) that selection and the monitor
  scored, so a test can check that selection never read a test patient;
- ``test_monitor.pt`` (only with a ``monitor`` set): per-cycle test predictions of every
  validation epoch, a diagnostic that shows what selecting on the test set (as the
  reference code did) would have reported. Selection never reads it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from respirelib.progressbar import progress_bar
from respirelib.signal.augment import augment_batch, class_balanced_sampler
from respirelib.model.checkpoint import load_checkpoint, restore_rng_state, rng_state
from respirelib.config import AugmentConfig
from respirelib.training.evaluate import cycle_predictions, predict_probabilities, score_predictions
from respirelib.precision import autocast, memory_format, resolve_precision
from respirelib.storage import atomic_torch_save, atomic_write_text, remove_stale_temporaries
from respirelib.training.profiles import TrainConfig
from respirelib.signal.samples import SampleSet


MONITOR_NOTE = ("DIAGNOSTIC: test-set predictions after each validation epoch, kept only to show what "
                "selecting the checkpoint on the test set (the reference code's way) would report; they read the "
                "test labels and were never used to select anything")


def _scored_cycles(model, frontend, samples: SampleSet, config: TrainConfig):
    """(window probabilities, per-cycle predictions table) of ``model`` on ``samples``, in ``config.precision``."""
    probs = predict_probabilities(model, frontend, samples, batch_size=config.eval_batch_size,
                                  precision=config.precision)
    return probs, cycle_predictions(probs, samples)


def _monitor_record(model, frontend, monitor: SampleSet, config: TrainConfig, epoch: int) -> dict:
    _, table = _scored_cycles(model, frontend, monitor, config)
    # Tensors, not numpy arrays: the checkpoint that carries these loads with weights_only=True.
    return {"epoch": epoch, "cycle_row": torch.from_numpy(table["cycle_row"].to_numpy(np.int64, copy=True)),
            "pred": torch.from_numpy(table["pred"].to_numpy(np.int8, copy=True))}


def _save_monitor(records: list[dict], path: Path) -> None:
    atomic_torch_save({"note": MONITOR_NOTE, "epochs": [r["epoch"] for r in records],
                       "cycle_row": records[0]["cycle_row"] if records else torch.zeros(0),
                       "pred": torch.stack([r["pred"] for r in records]) if records
                       else torch.zeros(0, 0, dtype=torch.int8)}, path)


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    history: list[dict]
    best_path: Path
    last_path: Path
    precision: str  # "fp32" or "bf16": what training and validation ran in


def _epoch_indices(sampler, labels: np.ndarray, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
    n = config.samples_per_epoch or len(labels)
    if config.weighted_sampler:
        return torch.multinomial(sampler.weights, n, replacement=True, generator=generator)
    if n <= len(labels):
        return torch.randperm(len(labels), generator=generator)[:n]
    return torch.randint(0, len(labels), (n,), generator=generator)


def _selection_scores(model, frontend, selection: SampleSet, config: TrainConfig, *,
                      scored_rows: set | None = None) -> dict:
    """Validation loss and ICBHI Sp/Se/Score of ``model`` on the selection inputs; their rows join ``scored_rows``."""
    probs, table = _scored_cycles(model, frontend, selection, config)
    if scored_rows is not None:
        scored_rows.update(table["cycle_row"].tolist())
    scores = score_predictions(table)
    val_loss = float(torch.nn.functional.nll_loss(torch.log(torch.from_numpy(probs).clamp_min(1e-12)),
                                                  selection.labels.cpu()))
    recalls = np.array(list(scores["class_recall"].values()), dtype=float)
    present = ~np.isnan(recalls)  # a class the selection set lacks has no recall (NaN)
    return {"val_loss": val_loss, "val_sp": scores["four_class"]["sp"], "val_se": scores["four_class"]["se"],
            "val_score": scores["four_class"]["score"], "val_score_2class": scores["two_class"]["score"],
            "val_mean_recall": float(recalls[present].mean()) if present.any() else float("nan")}


# Selection images above this size are recomputed every validation instead of kept (the paper
# profile's 192 x 657 images of a large validation set would hold gigabytes).
SELECTION_CACHE_BYTES = 2 ** 31


@torch.no_grad()
def cached_selection(frontend: torch.nn.Module, selection: SampleSet, *, device: torch.device, batch_size: int,
                     max_bytes: int = SELECTION_CACHE_BYTES) -> tuple[torch.nn.Module, SampleSet]:
    """The selection inputs as images computed once, with the identity as their frontend.

    Evaluation inputs never change (no augmentation, no label), so their images are the
    same at every validation; computing them once per fit saves the frontend's work each
    epoch. Images are computed in the batches :func:`predict_probabilities` would use,
    so scores are exactly those of the uncached inputs. Returns ``(frontend, selection)``
    unchanged when the images would exceed ``max_bytes``.
    """
    if len(selection) == 0:
        return frontend, selection
    first = frontend(selection.waves[:1].to(device))
    if first.element_size() * first.numel() * len(selection) > max_bytes:
        return frontend, selection
    images = torch.cat([frontend(selection.waves[start:start + batch_size].to(device))
                        for start in range(0, len(selection), batch_size)])
    return torch.nn.Identity(), SampleSet(images, selection.labels, selection.cycle_rows, selection.devices)


SCORED_ROWS_NOTE = ("cycle rows (of the cycles table) scored after the epochs of this stage: 'selection' chose the "
                    "checkpoint; 'monitor' (test rows, or null) was only recorded for the optimism diagnostic")


def _write_scored_rows(path: Path, selection_rows: set, monitored: list[dict]) -> None:
    monitor_rows = sorted({int(row) for record in monitored for row in record["cycle_row"]}) if monitored else None
    atomic_write_text(path, json.dumps({"note": SCORED_ROWS_NOTE, "selection": sorted(selection_rows),
                                        "monitor": monitor_rows}))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The stage's optimizer over ``model``'s parameters (``config.optimizer``: AdamW or SGD with momentum)."""
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def moving_average(model: torch.nn.Module, config: TrainConfig):
    """The moving average of ``model``'s weights that is validated and kept (``config.ema_decay``), or None."""
    if config.ema_decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    # use_buffers: the batch-norm statistics are averaged with the weights, so the average needs no
    # extra pass over the training set to re-estimate them.
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)


def loss_function(config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """Cross-entropy, with ``config.class_weights`` when set."""
    weights = None if config.class_weights is None else torch.tensor(config.class_weights, device=device)
    return torch.nn.CrossEntropyLoss(weight=weights)


def training_images(frontend: torch.nn.Module, wave: torch.Tensor, *, cut: torch.Tensor | None,
                    augment: AugmentConfig | None, sr: int, generator: torch.Generator,
                    layout: torch.memory_format) -> torch.Tensor:
    """The images of one training batch: augmented (unless ``augment`` is None), then the frontend.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
    cut : torch.Tensor [shape=(batch,)] or None
        Top rows blank region clipping removes, decided once on the un-augmented inputs
        (:meth:`~respirelib.signal.frontend.FeatureFrontend.blank_cut`); None without clipping.
    layout : torch.memory_format
        Of the returned images (:func:`respirelib.precision.memory_format`).

    Returns
    -------
    images : torch.Tensor [shape=(batch, 3, height, width)]
    """
    if augment is not None:
        wave = augment_batch(wave, sr=sr, config=augment, generator=generator)
    images = frontend(wave) if cut is None else frontend(wave, cut=cut)
    return images.contiguous(memory_format=layout)


def training_update(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                    loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer, averaged, device: torch.device,
                    precision: str) -> torch.Tensor:
    """One optimisation step on a batch of images, and the moving average's update; returns the batch's loss.

    The forward pass runs in ``precision`` (resolved: ``"fp32"`` or ``"bf16"``); the loss in float32.
    """
    with autocast(device, precision):
        logits = model(images)
    loss = loss_fn(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if averaged is not None:
        averaged.update_parameters(model)
    return loss.detach()


def _defined(score) -> bool:
    return score is not None and score == score  # not None, not NaN


def fit(model: torch.nn.Module, frontend: torch.nn.Module, train: SampleSet, selection: SampleSet, *,
        config: TrainConfig, augment: AugmentConfig, sr: int, out_dir: str | Path, seed: int,
        resume: bool = True, stop_after: int | None = None, progress: bool = True,
        description: str = "train", select_initial: bool = False, monitor: SampleSet | None = None) -> FitResult:
    """Train ``model`` on ``train``, selecting the checkpoint on ``selection``.

    Parameters
    ----------
    model, frontend : torch.nn.Module
        On the device to train on; the frontend turns waveforms into images.
    train, selection : SampleSet
        Training inputs (any device) and the inputs scored after each epoch.
    config : TrainConfig
    augment : AugmentConfig
    sr : int
        Sample rate of the waveforms.
    out_dir : str or Path
        The stage directory (created). An existing ``checkpoints/last.pt`` is resumed
        when ``resume``; without ``resume`` an existing history is an error.
    seed : int
        Seeds the sampler, the augmentations and dropout.
    stop_after : int or None
        Stop after this many epochs in this call, as if killed after the checkpoint
        (tests use it to prove resuming is exact).
    config.precision :
        Resolved here once (:func:`respirelib.precision.resolve_precision`); a resumed run
        continues in the precision its checkpoint was trained in, whatever ``"auto"`` means now,
        so that it ends as an uninterrupted run would.
    select_initial : bool
        Score the starting model too (as "epoch 0"), so training is kept only where it
        beats the model it started from on the selection set (stage 2's fine-tuning).
    monitor : SampleSet or None
        Test inputs to predict at every validation epoch, for the optimism diagnostic
        only (``test_monitor.pt``); nothing is selected on them.
    """
    out_dir = Path(out_dir)
    device = next(model.parameters()).device
    checkpoints = out_dir / "checkpoints"
    last_path, best_path = checkpoints / "last.pt", checkpoints / "best.pt"
    history_path = out_dir / "history.jsonl"
    if len(train) == 0:
        raise ValueError("the training set is empty")
    if checkpoints.is_dir():  # a write killed half-way leaves a temporary that no later write may replace
        for name in (last_path.name, best_path.name):
            remove_stale_temporaries(checkpoints, name)

    torch.manual_seed(seed)
    labels = train.labels.cpu().numpy()
    sampler = class_balanced_sampler(labels, seed=seed)
    sample_generator = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator(device=device).manual_seed(seed + 1)
    loss_fn = loss_function(config, device)
    optimizer = make_optimizer(model, config)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
                 if config.lr_schedule == "cosine" else None)
    train_waves = train.waves.to(device)
    train_labels = train.labels.to(device)
    # Blank region clipping decides each input's blank rows once, before augmentation:
    # noise or a speed change fills an empty 1.5-2 kHz band, which would then escape clipping.
    train_cut = frontend.blank_cut(train_waves) if getattr(frontend, "clip_blank", False) else None
    if device.type == "cuda":
        # Every batch has one shape, so cuDNN's autotuner pays for itself in the first steps
        # (a process-wide switch; CUDA training is not bitwise reproducible anyway, CPU is unaffected).
        torch.backends.cudnn.benchmark = True

    start_epoch, history, best = 0, [], {"epoch": -1, "score": -1.0}
    selected_by = f"val_{config.select_metric}"
    monitored: list[dict] = []
    selection_rows: set[int] = set()
    state = load_checkpoint(last_path, map_location=device) if last_path.is_file() and resume else None
    precision = state.get("precision") if state is not None else None
    if precision is None:
        precision = resolve_precision(config.precision, device)
    elif precision != resolve_precision(config.precision, device):
        print(f"NOTE: {out_dir} resumes in {precision}, the precision its checkpoint was trained in "
              f"(precision {config.precision!r} would give {resolve_precision(config.precision, device)} here)")
    config = replace(config, precision=precision)
    layout = memory_format(precision, device)
    model.to(memory_format=layout)
    averaged = moving_average(model, config)
    kept = model if averaged is None else averaged.module  # validated, selected and saved as best
    if state is not None:
        model.load_state_dict(state["model"])
        if averaged is not None:
            averaged.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        restore_rng_state(state["rng"], sample_generator, augment_generator)
        start_epoch, history, best = state["epoch"] + 1, state["history"], state["best"]
        monitored = state.get("monitored", [])
        # A kill between the checkpoint and the files written after it leaves those one epoch short.
        atomic_write_text(history_path, "".join(json.dumps(r) + "\n" for r in history))
        if monitor is not None and monitored:
            _save_monitor(monitored, out_dir / "test_monitor.pt")
    elif history_path.exists():
        raise FileExistsError(f"{out_dir} already holds a training history: continue it with --resume "
                              "(resume=True from Python) or choose a new run directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    frontend_eval, selection = cached_selection(frontend, selection, device=device,
                                                batch_size=config.eval_batch_size)
    if monitor is not None:
        frontend_monitor, monitor = cached_selection(frontend, monitor, device=device,
                                                     batch_size=config.eval_batch_size)
    if select_initial and start_epoch == 0 and not history and len(selection):
        initial = {"epoch": 0, **_selection_scores(model, frontend_eval, selection, config,
                                                   scored_rows=selection_rows)}
        history.append(initial)
        if _defined(initial[selected_by]):
            best = {"epoch": 0, "score": initial[selected_by]}
            atomic_torch_save({"model": model.state_dict(), "epoch": 0, "score": best["score"]}, best_path)

    epochs_run = 0
    for epoch in range(start_epoch, config.epochs):
        if stop_after is not None and epochs_run >= stop_after:
            break
        started = time.perf_counter()
        model.train()
        indices = _epoch_indices(sampler, labels, sample_generator, config).to(device)
        batches = torch.split(indices, config.batch_size)
        # Summed on the device and read once per epoch: a float() per step would wait for the GPU.
        total_loss, seen = torch.zeros((), dtype=torch.float64, device=device), 0
        bar = progress_bar(batches, desc=f"{description} epoch {epoch + 1}/{config.epochs}", unit="batch",
                           progress=progress, leave=False)
        for batch in bar:
            images = training_images(frontend, train_waves[batch], cut=None if train_cut is None else train_cut[batch],
                                     augment=augment if config.augment else None, sr=sr,
                                     generator=augment_generator, layout=layout)
            loss = training_update(model, images, train_labels[batch], loss_fn=loss_fn, optimizer=optimizer,
                                   averaged=averaged, device=device, precision=precision)
            total_loss += loss.double() * len(batch)
            seen += len(batch)
        record = {"epoch": epoch + 1, "train_loss": float(total_loss) / max(seen, 1),
                  "lr": optimizer.param_groups[0]["lr"]}
        if scheduler is not None:
            scheduler.step()
        if (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
            record.update(_selection_scores(kept, frontend_eval, selection, config, scored_rows=selection_rows))
            if monitor is not None:
                monitored.append(_monitor_record(kept, frontend_monitor, monitor, config, epoch + 1))
            if _defined(record[selected_by]) and record[selected_by] > best["score"]:
                best = {"epoch": epoch + 1, "score": record[selected_by]}
                atomic_torch_save({"model": kept.state_dict(), "epoch": epoch + 1, "score": best["score"]},
                                  best_path)
        record["seconds"] = round(time.perf_counter() - started, 3)
        history.append(record)
        atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "ema": averaged.state_dict() if averaged is not None else None,
                           "scheduler": scheduler.state_dict() if scheduler is not None else None,
                           "rng": rng_state(sample_generator, augment_generator), "epoch": epoch,
                           "history": history, "best": best, "config": asdict(config), "monitored": monitored,
                           "precision": precision},
                          last_path)
        if monitor is not None:
            _save_monitor(monitored, out_dir / "test_monitor.pt")
        atomic_write_text(history_path, "".join(json.dumps(r) + "\n" for r in history))
        if progress:
            tqdm.write(f"{description} epoch {epoch + 1}/{config.epochs}: loss {record['train_loss']:.3f}"
                       + (f", val score {record['val_score']:.3f} (Se {record['val_se']:.3f}, "
                          f"Sp {record['val_sp']:.3f})" if "val_score" in record else ""))
        epochs_run += 1
    if selection_rows:
        _write_scored_rows(out_dir / "scored_rows.json", selection_rows, monitored)
    if not best_path.is_file():
        # No epoch had a defined selection score (e.g. a selection set without one of the classes
        # needed): keep the last model as the selected one, and say so in the history.
        atomic_torch_save({"model": kept.state_dict(), "epoch": history[-1]["epoch"] if history else 0,
                           "score": None}, best_path)
    return FitResult(best_epoch=best["epoch"], best_score=best["score"], history=history, best_path=best_path,
                     last_path=last_path, precision=precision)
