"""Explaining a trained run: Grad-CAM++ maps of its model on chosen cycles, galleries, Fig. 3, one cycle to a PNG.

:mod:`respirelib.explain.gradcam` works on images and a model; this module connects it to
a run directory (:func:`respirelib.experiments.run.load_run`): it rebuilds the model's
inputs for any cycle exactly as evaluation builds them, explains them in batches
(:func:`explain_cycles`), picks galleries of correctly and wrongly classified
cycles (:func:`gallery_rows`), runs the Fig. 3 measurement on a run's cycles
(:func:`blank_band_experiment`) and writes one cycle's explanation to a file for
``respirenet explain`` (:func:`explain_cycle_to_file`).

Model inputs
    Built by :func:`respirelib.signal.samples.recording_inputs`, as for evaluation: a
    cycle shorter than the run's input length is padded with ``AudioConfig.eval_padding``
    (context padding borrows from the neighbouring cycles of its recording, all of
    which lie in the same part of every split). A longer
    cycle is evaluated as several overlapping windows whose probabilities are
    averaged; a map explains one image, so here a long cycle is represented by its
    **first window**, and its probabilities are that window's (they can differ from
    the cycle's combined prediction in ``metrics_predictions.csv``; ``n_windows``
    says when).
"""

from __future__ import annotations

import difflib
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.figure
import numpy as np
import pandas as pd
import torch

from respirelib.signal.clipping import clip_rows_batch
from respirelib.config import CLASS_NAMES, DEFAULT_INIT
from respirelib.training.evaluate import cycle_predictions, predict_probabilities
from respirelib.experiments.run import LoadedRun, load_run
from respirelib.explain.gradcam import (
    blank_band_attention_cycles, gradcam_maps, map_axes, min_blank_rows, summarise_blank_band_attention,
)
from respirelib.signal.frontend import FeatureFrontend
from respirelib.signal.padding import pad_cycle
from respirelib.signal.samples import SampleSet, evaluation_set, label_free_padding, recording_inputs
from respirelib.explain.figures import plot_clipping_attention, plot_cycle_explanation, plot_gradcam_gallery
from respirelib.viz.save import DEFAULT_DPI

STAGE1_CHECKPOINT = Path("stage1") / "checkpoints" / "best.pt"
PREDICTIONS_FILE = "metrics_predictions.csv"


def run_label(run: LoadedRun) -> str:
    """``"synthetic data, random init, profile smoke"``: what every figure of a run says about it."""
    return f"{run.prepared.dataset.data_label} data, {run.request['init']}, profile {run.request['profile']}"


def load_model(run: LoadedRun, checkpoint: str | Path | None = None) -> torch.nn.Module:
    """The run's model in eval mode on the run's device (default: the stage-1 checkpoint chosen on validation)."""
    return run.model(run.run_dir / STAGE1_CHECKPOINT if checkpoint is None else checkpoint)


@dataclass(frozen=True)
class ModelInputs:
    """Fixed-length inputs of cycles, as evaluation builds them.

    Attributes
    ----------
    waves : np.ndarray [shape=(n, n_samples), dtype=float32]
    own : np.ndarray [shape=(n, n_samples), dtype=bool]
        True on the samples of the cycle itself (False on padding).
    n_windows : np.ndarray [shape=(n,), dtype=int64]
        Windows evaluation cuts the cycle into (1 for a cycle that fits); only the first is here.
    """

    waves: np.ndarray
    own: np.ndarray
    n_windows: np.ndarray


def model_inputs(run: LoadedRun, rows) -> ModelInputs:
    """The model input of each cycle: padded like evaluation pads it, or a long cycle's first window.

    Parameters
    ----------
    run : LoadedRun
    rows : array-like of int [shape=(n,)]
        Index labels of the cycles table (``run.prepared.dataset.cycles``).

    Returns
    -------
    ModelInputs
        ``waves[i]`` equals the first input :func:`respirelib.signal.samples.evaluation_set`
        makes for ``rows[i]`` when evaluating its whole split.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    cache, audio = run.prepared.cache, run.profile.audio
    table = cache.cycles
    unknown = rows[~np.isin(rows, table.index.to_numpy())]
    if len(unknown):
        raise KeyError(f"no cycle rows {unknown[:5].tolist()} in the cycles table ({len(table)} cycles)")
    needed = table.loc[rows, "recording"].unique()
    ordered = table[table["recording"].isin(needed)].sort_values(["recording", "cycle_index"])
    # Each recording's inputs are built once, from all its cycles (the neighbours padding borrows from).
    first, recordings = {}, {}
    for name, group in ordered.groupby("recording", observed=True, sort=False):
        members = group.index.to_numpy()
        inputs = recording_inputs([cache.cycle(r) for r in members], sr=cache.sr, config=audio)
        recordings[name] = inputs
        first.update({int(row): (name, position) for position, row in enumerate(members)})
    waves = np.zeros((len(rows), audio.n_samples), dtype=np.float32)
    own = np.zeros((len(rows), audio.n_samples), dtype=bool)
    n_windows = np.ones(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        name, position = first[int(row)]
        inputs = recordings[name]
        index = inputs.first[position]
        waves[i], own[i], n_windows[i] = inputs.waves[index], inputs.own[index], inputs.n_windows[position]
    return ModelInputs(waves, own, n_windows)


def _waves(run: LoadedRun, cycles) -> torch.Tensor:
    """Cycle rows (integers) to their model inputs; fixed-length waveforms pass through."""
    if isinstance(cycles, torch.Tensor) and cycles.is_floating_point():
        return cycles.to(run.device, torch.float32)
    array = np.asarray(cycles)
    if array.ndim == 1 and (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        return torch.from_numpy(model_inputs(run, array).waves).to(run.device)
    if array.ndim == 2 and np.issubdtype(array.dtype, np.floating):
        return torch.as_tensor(array, dtype=torch.float32, device=run.device)
    raise TypeError(f"cycles must be cycle rows (1-D integers) or waveforms (n, n_samples), got "
                    f"{array.dtype} of shape {array.shape}")


def make_images_for(run: LoadedRun, stage=None) -> Callable:
    """The run's deterministic frontend as the ``make_images(cycles, clip)`` that Fig. 3 needs.

    Parameters
    ----------
    run : LoadedRun
    stage : TrainConfig, optional
        The stage whose frontend to use (default ``run.profile.stage1``); the
        returned function clips or not as asked, whatever the stage's setting.

    Returns
    -------
    make_images : callable
        ``make_images(cycles, clip) -> (images, n_blank_rows)``. ``cycles``: cycle
        rows (1-D integers, built into inputs by :func:`model_inputs`) or
        fixed-length waveforms ``[shape=(n, n_samples)]``. ``images [shape=(n, 3,
        height, width)]`` on the run's device, normalised as the model takes them;
        ``n_blank_rows [shape=(n,)]`` counted on the unclipped spectrogram, so the
        same with and without ``clip``. No augmentation.
    """
    frontend = run.frontend(stage or run.profile.stage1)

    def make_images(cycles, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            spec, cut, n_blank = frontend.unclipped(_waves(run, cycles))
            return frontend.image(clip_rows_batch(spec, cut) if clip else spec), n_blank

    return make_images


@dataclass(frozen=True)
class CycleExplanations:
    """Grad-CAM++ explanations of a batch of cycles, with everything needed to show them.

    Attributes
    ----------
    rows : np.ndarray [shape=(n,)]
        Cycle rows explained.
    labels : np.ndarray [shape=(n,)]
        True classes.
    inputs : ModelInputs
        The waveforms the model heard (see :func:`model_inputs`).
    sr : int
    spectrograms : np.ndarray [shape=(n, n_mels, n_frames)]
        Scaled Mel spectrograms, unclipped (row 0 the lowest band).
    clipped : np.ndarray [shape=(n, n_mels, n_frames)]
        After blank region clipping (equal to ``spectrograms`` where nothing is cut).
    n_blank_rows : np.ndarray [shape=(n,)]
        Blank top rows by the paper's rule (the Fig. 3 statistic).
    cut_rows : np.ndarray [shape=(n,)]
        Top rows clipping cuts: the blank rows at the profile's ``blank_level`` (more than
        ``n_blank_rows`` where the ``"mean"`` level cuts a quiet band too).
    clip : bool
        Whether the model was shown the clipped spectrograms.
    images : np.ndarray [shape=(n, 3, height, width)]
        The normalised images the model took.
    maps : np.ndarray [shape=(n, height, width)]
        Grad-CAM++ maps, values in [0, 1], each scaled on its own.
    targets : np.ndarray [shape=(n,)]
        Class each map explains.
    probabilities : np.ndarray [shape=(n, n_classes)]
        Softmax of the model on each image.
    times_s : np.ndarray [shape=(width,)]
        Time of each map column (and, at the spectrogram's own grid, ``spec_times_s``).
    freqs_hz : np.ndarray [shape=(n, height)]
        Frequency of each map row (clipped images have their own).
    spec_times_s : np.ndarray [shape=(n_frames,)]
    spec_freqs_hz : np.ndarray [shape=(n_mels,)]
        Band centres of the unclipped spectrogram.
    """

    rows: np.ndarray
    labels: np.ndarray
    inputs: ModelInputs
    sr: int
    spectrograms: np.ndarray
    clipped: np.ndarray
    n_blank_rows: np.ndarray
    cut_rows: np.ndarray
    clip: bool
    images: np.ndarray
    maps: np.ndarray
    targets: np.ndarray
    probabilities: np.ndarray
    times_s: np.ndarray
    freqs_hz: np.ndarray
    spec_times_s: np.ndarray
    spec_freqs_hz: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class of each image [shape=(n,)]."""
        return self.probabilities.argmax(axis=1)

    @property
    def seen(self) -> np.ndarray:
        """The spectrograms the model saw [shape=(n, n_mels, n_frames)]."""
        return self.clipped if self.clip else self.spectrograms


def explain_cycles(run: LoadedRun, rows, *, clip: bool | None = None, layer=None, method: str = "gradcam++",
                   targets=None, model: torch.nn.Module | None = None, stage=None,
                   batch_size: int = 32) -> CycleExplanations:
    """Grad-CAM++ maps, probabilities and spectrograms of a run's model on chosen cycles, batched.

    The probabilities are computed in ``run.precision``; the maps always in float32 (pytorch-grad-cam's
    gradients of a bf16 autocast forward pass are coarser, and a map is one picture, not a throughput job).

    Parameters
    ----------
    run : LoadedRun
    rows : array-like of int [shape=(n,)]
        Cycle rows (index labels of ``run.prepared.dataset.cycles``).
    clip : bool, optional
        Show the model clipped spectrograms; default as the stage was trained
        (``stage.clip_blank``).
    layer : nn.Module or str, optional
        See :func:`respirelib.explain.gradcam.resolve_layer` (default: the last residual block).
    method : str
        ``"gradcam++"`` or ``"gradcam"``.
    targets : int or array-like of int, optional
        Classes to explain; default each image's predicted class.
    model : nn.Module, optional
        Default: the stage-1 checkpoint chosen on validation (:func:`load_model`).
    stage : TrainConfig, optional
        Default ``run.profile.stage1``.
    batch_size : int

    Returns
    -------
    CycleExplanations
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    stage = stage or run.profile.stage1
    clip = stage.clip_blank if clip is None else bool(clip)
    model = load_model(run) if model is None else model
    frontend = run.frontend(stage)
    inputs = model_inputs(run, rows)
    waves = torch.from_numpy(inputs.waves)
    labels = np.array(run.prepared.dataset.cycles.loc[rows, "label_id"], dtype=np.int64)
    specs, clipped, n_blank, cut_rows, images = [], [], [], [], []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            spec, cut, blank = frontend.unclipped(waves[start:start + batch_size].to(run.device))
            cut_spec = clip_rows_batch(spec, cut)
            specs.append(spec.cpu())
            clipped.append(cut_spec.cpu())
            n_blank.append(blank.cpu())
            cut_rows.append(cut.cpu())
            images.append(frontend.image(cut_spec if clip else spec).cpu())
    config = run.profile.features
    spec_shape = (config.n_mels, config.n_frames(waves.shape[1]))
    images = torch.cat(images) if images else torch.zeros((0, 3, *spec_shape))
    targets = None if targets is None else np.broadcast_to(np.asarray(targets, dtype=np.int64), rows.shape)
    maps = gradcam_maps(model, images, targets=targets, layer=layer, method=method, batch_size=batch_size)
    samples = SampleSet(waves, torch.from_numpy(labels), rows, np.zeros(len(rows), dtype=object))
    # The maps above are computed in float32 whatever the run's precision (gradients of a bf16 forward
    # pass are coarser); the probabilities shown beside them are the run's, in run.precision.
    probabilities = predict_probabilities(model, FeatureFrontend(config, clip_blank=clip).to(run.device), samples,
                                          batch_size=batch_size, precision=run.precision)
    n_blank = torch.cat(n_blank).numpy() if n_blank else np.zeros(0, dtype=np.int64)
    cut_rows = torch.cat(cut_rows).numpy() if cut_rows else np.zeros(0, dtype=np.int64)
    times_s, _ = map_axes(images.shape, feature_config=config, n_samples=waves.shape[1])
    freqs_hz = np.stack([map_axes(images.shape, feature_config=config, n_samples=waves.shape[1],
                                  n_blank_rows=int(c) if clip else 0)[1] for c in cut_rows]) \
        if len(rows) else np.zeros((0, images.shape[-2]))
    spec_times_s, spec_freqs_hz = map_axes(spec_shape, feature_config=config, n_samples=waves.shape[1])
    return CycleExplanations(
        rows=rows, labels=labels, inputs=inputs, sr=config.sample_rate,
        spectrograms=torch.cat(specs).numpy() if specs else np.zeros((0, *spec_shape), np.float32),
        clipped=torch.cat(clipped).numpy() if clipped else np.zeros((0, *spec_shape), np.float32),
        n_blank_rows=n_blank, cut_rows=cut_rows, clip=clip, images=images.numpy(), maps=maps,
        targets=np.asarray(targets) if targets is not None else probabilities.argmax(axis=1),
        probabilities=probabilities, times_s=times_s, freqs_hz=freqs_hz, spec_times_s=spec_times_s,
        spec_freqs_hz=spec_freqs_hz)


def cycle_name(cycles: pd.DataFrame, row: int) -> str:
    """``"RECORDING:CYCLE_INDEX"``, the name ``respirenet explain --cycle`` takes."""
    return f"{cycles.at[row, 'recording']}:{int(cycles.at[row, 'cycle_index'])}"


def cycle_figure(run: LoadedRun, explanations: CycleExplanations, index: int = 0) -> matplotlib.figure.Figure:
    """The one-cycle figure (:func:`respirelib.explain.figures.plot_cycle_explanation`) of ``explanations[index]``."""
    e, i = explanations, index
    cycles = run.prepared.dataset.cycles
    row = int(e.rows[i])
    n_cut = int(e.cut_rows[i])  # the rows the model's clipping cuts (its blank_level)
    show_clipped = e.clip or n_cut > 0
    config = run.profile.features
    _, clipped_freqs = map_axes(e.spectrograms.shape, feature_config=config, n_blank_rows=n_cut)
    window = f", first of {e.inputs.n_windows[i]} windows" if e.inputs.n_windows[i] > 1 else ""
    title = (f"{cycle_name(cycles, row)} ({cycles.at[row, 'device']}{window}): true "
             f"{CLASS_NAMES[e.labels[i]]}, predicted {CLASS_NAMES[e.predicted[i]]}\n{run_label(run)}")
    return plot_cycle_explanation(
        e.inputs.waves[i], sr=e.sr, own=e.inputs.own[i], spectrogram=e.spectrograms[i],
        spec_times_s=e.spec_times_s, spec_freqs_hz=e.spec_freqs_hz, cam=e.maps[i], cam_background=e.seen[i],
        times_s=e.times_s, freqs_hz=e.freqs_hz[i], probabilities=e.probabilities[i], class_names=CLASS_NAMES,
        clipped=e.clipped[i] if show_clipped else None, clipped_freqs_hz=clipped_freqs if show_clipped else None,
        n_blank_rows=n_cut, true_class=int(e.labels[i]), target=int(e.targets[i]), title=title)


def run_predictions(run: LoadedRun, *, part: str = "test", model: torch.nn.Module | None = None,
                    reuse: bool = True) -> pd.DataFrame:
    """Per-cycle predictions of the run's stage-1 model on one part of its split.

    Reads ``metrics_predictions.csv`` (written by ``respirenet evaluate``) for the
    test part when it exists and ``reuse``; otherwise scores the cycles as
    evaluation does (every window, probabilities averaged per cycle).

    Returns
    -------
    table : pd.DataFrame
        ``cycle_row``, ``label_id``, ``pred``, ``device``, ``p_<class>``,
        ``recording``, ``cycle_index``; one row per cycle.
    """
    saved = run.run_dir / PREDICTIONS_FILE
    if reuse and part == "test" and saved.is_file():
        return pd.read_csv(saved)
    model = load_model(run) if model is None else model
    samples = evaluation_set(run.prepared.cache, run.prepared.rows(part), config=run.profile.audio)
    probabilities = predict_probabilities(model, run.frontend(run.profile.stage1), samples,
                                          batch_size=run.profile.stage1.eval_batch_size, precision=run.precision)
    table = cycle_predictions(probabilities, samples)
    cycles = run.prepared.dataset.cycles
    return table.assign(recording=cycles.loc[table["cycle_row"], "recording"].to_numpy(),
                        cycle_index=cycles.loc[table["cycle_row"], "cycle_index"].to_numpy())


def gallery_rows(predictions_table: pd.DataFrame, cycles: pd.DataFrame, *, per_class: int = 3,
                 correct: bool = True, seed: int = 0) -> pd.DataFrame:
    """Up to ``per_class`` correctly (or wrongly) classified cycles of each true class, drawn at random.

    Parameters
    ----------
    predictions_table : pd.DataFrame
        One row per cycle with ``cycle_row``, ``label_id`` and ``pred``
        (:func:`run_predictions`, ``metrics_predictions.csv``).
    cycles : pd.DataFrame
        The cycles table, for ``recording``, ``cycle_index`` and ``device``.
    per_class : int
    correct : bool
        ``pred == label_id`` (True) or ``pred != label_id`` (False).
    seed : int
        The draw does not depend on the table's row order.

    Returns
    -------
    picked : pd.DataFrame
        The chosen rows of ``predictions_table`` (with ``recording``,
        ``cycle_index``, ``device`` and ``name`` from ``cycles``), sorted by
        ``label_id`` then ``cycle_row``; a class with fewer such cycles gives fewer.
    """
    if per_class < 0:
        raise ValueError(f"per_class must be non-negative, got {per_class}")
    table = predictions_table.sort_values("cycle_row", ignore_index=True)
    table = table[(table["pred"] == table["label_id"]) == correct]
    key = np.random.default_rng(seed).random(len(table))
    picked = table.assign(_key=key).sort_values(["label_id", "_key"]).groupby("label_id").head(per_class)
    picked = picked.drop(columns="_key").sort_values(["label_id", "cycle_row"], ignore_index=True)
    rows = picked["cycle_row"].to_numpy()
    return picked.assign(recording=cycles.loc[rows, "recording"].astype(str).to_numpy(),
                         cycle_index=cycles.loc[rows, "cycle_index"].to_numpy(),
                         device=cycles.loc[rows, "device"].astype(str).to_numpy(),
                         name=[cycle_name(cycles, row) for row in rows])


def class_gallery_figure(run: LoadedRun, correct: pd.DataFrame, wrong: pd.DataFrame, label_id: int, *,
                         per_class: int = 3, model: torch.nn.Module | None = None,
                         layer=None) -> matplotlib.figure.Figure:
    """One class: a row of correctly and a row of wrongly classified cycles with their maps.

    Each map explains the class the model predicted for the cycle (the table's
    ``pred``), over the spectrogram it saw. ``correct`` and ``wrong`` come from
    :func:`gallery_rows`.
    """
    name = CLASS_NAMES[label_id]
    slots = []
    for outcome, table in (("correct", correct), ("wrong", wrong)):
        chosen = table[table["label_id"] == label_id].head(per_class)
        slots += [(outcome, record) for _, record in chosen.iterrows()]
        slots += [(outcome, None)] * (per_class - len(chosen))
    picked = [record for _, record in slots if record is not None]
    explained = explain_cycles(run, [r["cycle_row"] for r in picked], targets=[r["pred"] for r in picked],
                               model=model, layer=layer) if picked else None
    specs, cams, titles, freqs, spans = [], [], [], [], []
    position = 0
    for outcome, record in slots:
        if record is None:
            specs.append(None)
            cams.append(None)
            freqs.append(None)
            spans.append(None)
            titles.append(f"no {'correctly' if outcome == 'correct' else 'wrongly'} classified {name} cycle")
            continue
        predicted = CLASS_NAMES[int(record["pred"])]
        mark = "✓" if outcome == "correct" else "✗"
        titles.append(f"{mark} {record['name']}\n{record['device']}: {predicted} (p={record[f'p_{predicted}']:.2f})")
        specs.append(explained.seen[position])
        cams.append(explained.maps[position])
        freqs.append(explained.freqs_hz[position])
        spans.append(own_audio_span(run, int(record["cycle_row"])))
        position += 1
    times = explained.times_s if explained is not None else np.arange(2.0)
    return plot_gradcam_gallery(specs, cams, titles=titles, times_s=times, freqs_hz=freqs, ncols=per_class,
                                spans_s=spans,
                                suptitle=f"true class {name}: top correctly, bottom wrongly classified\n"
                                         f"(maps of the predicted class; dashed: where the cycle ends and padding "
                                         f"begins; {run_label(run)})")


def own_audio_span(run: LoadedRun, row: int) -> tuple[float, float]:
    """Where cycle ``row``'s own audio lies in its first evaluation input, ``(start_s, end_s)``.

    The input is padded as evaluation pads it (:func:`respirelib.signal.samples.label_free_padding`,
    neighbours from the cycle's recording); outside the span is padding. A cycle longer than the
    input fills its first window: ``(0, duration)``.
    """
    cycles, cache, audio = run.prepared.dataset.cycles, run.prepared.cache, run.profile.audio
    recording = cycles[cycles["recording"] == cycles.at[row, "recording"]].sort_values("cycle_index")
    waves = [cache.cycle(r) for r in recording.index]
    index = int(np.flatnonzero(recording.index.to_numpy() == row)[0])
    _, sources = pad_cycle(waves, None, index, sr=cache.sr, duration=audio.cycle_duration,
                           method=label_free_padding(audio), reach=audio.smart_reach, return_sources=True)
    own = np.flatnonzero(sources == index)
    return float(own[0] / cache.sr), float((own[-1] + 1) / cache.sr)


def blank_rows_of(run: LoadedRun, rows, *, batch_size: int = 64) -> np.ndarray:
    """Blank top Mel rows of each cycle's model input [shape=(n,)] (no images, no model)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    frontend = run.frontend(run.profile.stage1)
    counts = [np.zeros(0, dtype=np.int64)]
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            waves = _waves(run, rows[start:start + batch_size])
            counts.append(frontend.blank_rows(waves).cpu().numpy())
    return np.concatenate(counts)


def blank_band_experiment(run: LoadedRun, rows, *, max_per_device: int | None = None, seed: int = 0,
                          model: torch.nn.Module | None = None, layer=None, method: str = "gradcam++",
                          min_blank_hz: float = 1500.0,
                          batch_size: int = 32) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Fig. 3 measurement on a run's cycles, per device.

    Every cycle at ``rows`` is examined; those whose spectrogram is blank at and
    above ``min_blank_hz`` (see :func:`respirelib.explain.gradcam.blank_band_attention_cycles`)
    are explained before and after clipping, at most ``max_per_device`` of them
    per device (drawn with ``seed``). Both maps of a cycle explain its **true
    class**, so the comparison is between two views of the same question. One
    model sees both inputs; with a run trained with clipping, the unclipped input
    is the unfamiliar one (train with ``--no-clip`` for the paper's "before").

    Returns
    -------
    summary : pd.DataFrame
        Per device and ``"all"``: ``n_total`` (examined), ``n_blank`` (with a blank
        band), ``blank_share`` (``n_blank / n_total``, the paper's "20% of Meditron,
        all Litt3200"), ``n_cycles`` (explained), ``mass_before``, ``mass_after``,
        ``area_share`` (means; NaN without such cycles).
    per_cycle : pd.DataFrame
        One row per explained cycle (:func:`blank_band_attention_cycles`), with
        ``cycle_row``, ``recording``, ``cycle_index`` and ``label_id``.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    cycles = run.prepared.dataset.cycles
    devices = cycles.loc[rows, "device"].astype(str).to_numpy()
    config = run.profile.features
    eligible = blank_rows_of(run, rows, batch_size=batch_size) >= min_blank_rows(
        feature_config=config, min_blank_hz=min_blank_hz)
    candidates = pd.DataFrame({"row": rows[eligible], "device": devices[eligible]})
    candidates["key"] = np.random.default_rng(seed).random(len(candidates))
    if max_per_device is not None:
        candidates = candidates.sort_values("key").groupby("device").head(max_per_device)
    chosen = np.sort(candidates["row"].to_numpy())
    labels = cycles.loc[chosen, "label_id"].to_numpy(dtype=np.int64)
    per_cycle = blank_band_attention_cycles(
        load_model(run) if model is None else model, chosen, cycles.loc[chosen, "device"].astype(str).to_numpy(),
        make_images=make_images_for(run), feature_config=config, labels=labels, min_blank_hz=min_blank_hz,
        layer=layer, method=method, batch_size=batch_size)
    explained = chosen[per_cycle["cycle"].to_numpy(dtype=np.int64)]
    per_cycle = per_cycle.assign(cycle_row=explained,
                                 recording=cycles.loc[explained, "recording"].astype(str).to_numpy(),
                                 cycle_index=cycles.loc[explained, "cycle_index"].to_numpy(),
                                 label_id=cycles.loc[explained, "label_id"].to_numpy())
    summary = summarise_blank_band_attention(per_cycle, devices)
    n_blank = pd.Series(eligible).groupby(devices).sum()
    summary.insert(2, "n_blank", [int(eligible.sum()) if name == "all" else int(n_blank.get(name, 0))
                                  for name in summary["device"]])
    summary.insert(3, "blank_share", summary["n_blank"] / summary["n_total"].where(summary["n_total"] > 0))
    return summary, per_cycle


def clipping_example_figure(run: LoadedRun, row: int, *, model: torch.nn.Module | None = None,
                            layer=None) -> matplotlib.figure.Figure:
    """Fig. 3 for one cycle: its map (of its true class) before and after blank region clipping."""
    model = load_model(run) if model is None else model
    cycles = run.prepared.dataset.cycles
    label = int(cycles.at[row, "label_id"])
    before, after = (explain_cycles(run, [row], clip=clip, targets=label, model=model, layer=layer)
                     for clip in (False, True))
    return plot_clipping_attention(
        before.spectrograms[0], before.maps[0], after.clipped[0], after.maps[0], times_s=before.times_s,
        before_freqs_hz=before.freqs_hz[0], after_freqs_hz=after.freqs_hz[0],
        n_blank_rows=int(before.n_blank_rows[0]), feature_config=run.profile.features,
        title=f"{cycle_name(cycles, row)} ({cycles.at[row, 'device']}, true {CLASS_NAMES[label]}; "
              f"maps of the true class), {run_label(run)}")


def resolve_model_run(model_run: str | Path | None, run_dir: str | Path | None, *,
                      data_dir: str | Path | None = None, profile: str = "quick", seed: int = 0,
                      device: str = "auto", precision: str = "auto", init: str = DEFAULT_INIT, progress: bool = True) -> Path:
    """The training run to explain: ``model_run``, else the full model under ``run_dir``, trained if missing.

    Without ``model_run`` the model is ``<run_dir>/train/official-full-seed<seed>``
    (where notebook 04 trains it; a temporary folder without ``run_dir``). A
    complete one is only read; a missing one is trained on ``data_dir`` (the
    profile's synthetic default when ``None``) and evaluated
    (:func:`respirelib.experiments.study.ensure_run`), and this function says which happened.
    """
    from respirelib.training.profiles import profile_data_dir
    from respirelib.experiments.study import ensure_run
    from respirelib.experiments.variants import model_run_dir

    if model_run is not None:
        print(f"explaining the model of {model_run}")
        return Path(model_run)
    root = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="respirenet-06-"))
    target = model_run_dir(root, split="official", variant="full", seed=seed)
    if (target / "metrics.json").is_file():
        print(f"explaining the model already trained in {target}")
        return target
    print(f"no trained model in {target}: training one now (profile {profile}, init {init}, seed {seed})")
    data_path = profile_data_dir(data_dir, profile, progress=progress)
    return ensure_run(root, data_path, split="official", variant="full", seed=seed, profile=profile, init=init,
                      device=device, precision=precision, progress=progress)


def parse_cycle_name(name: str) -> tuple[str, int]:
    """``"RECORDING:CYCLE_INDEX"`` to ``(recording, cycle_index)``."""
    recording, sep, index = str(name).rpartition(":")
    if not sep or not recording or not index.strip().isdigit():
        raise ValueError(f"a cycle is named RECORDING:CYCLE_INDEX, e.g. 101_1b1_Al_sc_Meditron:0 "
                         f"(cycles count from 0 in the order of the recording's .txt), got {name!r}")
    return recording, int(index)


def find_cycle_row(cycles: pd.DataFrame, name: str, *, data_root: str | Path | None = None) -> int:
    """The cycles-table row of ``"RECORDING:CYCLE_INDEX"``; a clear error naming it when there is none."""
    recording, index = parse_cycle_name(name)
    where = f" in {data_root}" if data_root is not None else ""
    recordings = cycles["recording"].astype(str)
    in_recording = cycles[recordings == recording]
    if in_recording.empty:
        names = sorted(recordings.unique())
        close = difflib.get_close_matches(recording, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"no recording {recording!r}{where} ({len(names)} recordings, e.g. {names[0]}).{hint} "
                         f"Recording names are the annotation files' names without .txt; list them with "
                         f"`respirenet data summary {shlex.quote(str(data_root)) if data_root is not None else 'DATA_DIR'} "
                         "--recordings`.")
    match = in_recording[in_recording["cycle_index"] == index]
    if match.empty:
        valid = in_recording["cycle_index"]
        raise ValueError(f"recording {recording} has no cycle {index}: its cycles are {int(valid.min())} to "
                         f"{int(valid.max())} (one per line of {recording}.txt, counted from 0)")
    return int(match.index[0])


def explain_cycle_to_file(run_dir: str | Path, cycle: str, out: str | Path, *, data_dir: str | Path | None = None,
                          device: str = "auto", precision: str | None = None, layer: str | None = None,
                          overwrite: bool = False) -> Path:
    """Write one cycle's explanation figure (``respirenet explain``).

    Parameters
    ----------
    run_dir : str or Path
        A trained run (``run.json`` and ``stage1/checkpoints/best.pt``).
    cycle : str
        ``"RECORDING:CYCLE_INDEX"``, e.g. ``"101_1b1_Al_sc_Meditron:0"``.
    out : str or Path
        The image file; its suffix picks the format (``.png``).
    data_dir : str or Path, optional
        The data folder, if it moved since training (default: the one in ``run.json``).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    precision : str, optional
        Of the probabilities (``"auto"``, ``"fp32"``, ``"bf16"``; default the run's own); the
        Grad-CAM++ map is computed in float32 either way.
    layer : str, optional
        Dotted module name, e.g. ``"backbone.layer3"``; default the last residual block.
    overwrite : bool
        Replace an existing ``out``; otherwise an existing file is an error.

    Returns
    -------
    out : Path
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; nothing was written; --overwrite replaces it (overwrite=True "
                              "from Python)")
    run = load_run(run_dir, data_dir=data_dir, device=device, precision=precision, progress=False)
    row = find_cycle_row(run.prepared.dataset.cycles, cycle, data_root=run.prepared.dataset.root)
    fig = cycle_figure(run, explain_cycles(run, [row], layer=layer))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DEFAULT_DPI, bbox_inches="tight")
    return out
