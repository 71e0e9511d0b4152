"""Grad-CAM++ explanations of a trained model, in the physical units of the spectrogram.

The paper found blank region clipping by looking at where a misclassifying network
attends (Grad-CAM++, Fig. 3). This module computes those maps with the maintained
``pytorch-grad-cam`` package (:func:`gradcam_maps`), places their rows and columns
in Hz and seconds (:func:`map_axes`), measures how much of a map falls in a
frequency band (:func:`band_mass`) and measures the Fig. 3 effect over many cycles
(:func:`blank_band_attention`).

Maps are arrays ``[shape=(batch, height, width)]`` on the grid of the input image:
row 0 is the lowest Mel band, as in every array of this package. Each map is
normalised on its own (see :func:`gradcam_maps`), so a map tells where a model
looks in that image, not how strongly compared with another image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import librosa
import numpy as np
import pandas as pd
import torch
from torch import nn

from respirelib.config import FeatureConfig
from respirelib.training.metrics import format_signed, format_signed_interval, patient_bootstrap_mean

CAM_METHODS = ("gradcam++", "gradcam")
ALL_DEVICES = "all"


def _cam_class(method: str):
    # Imported here: pytorch-grad-cam pulls in OpenCV, which importing respirelib should not.
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus

    classes = {"gradcam++": GradCAMPlusPlus, "gradcam": GradCAM}
    if method not in classes:
        raise ValueError(f"method must be one of {', '.join(CAM_METHODS)}, got {method!r}")
    return classes[method]


def resolve_layer(model: nn.Module, layer: nn.Module | str | None = None) -> nn.Module:
    """The module whose activations a map is computed from.

    Parameters
    ----------
    model : nn.Module
    layer : nn.Module, str or None
        ``None``: ``model.target_layer`` (for :class:`respirelib.model.network.RespireNet`,
        the last residual block of ``layer4``); a module of ``model``; or a dotted
        name such as ``"backbone.layer3"`` or ``"backbone.layer4.0"``.

    Returns
    -------
    module : nn.Module
    """
    if layer is None:
        module = getattr(model, "target_layer", None)
        if not isinstance(module, nn.Module):
            raise ValueError(f"{type(model).__name__} has no target_layer; pass layer= (a module or a dotted name)")
        return module
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError as error:
            raise ValueError(f"{type(model).__name__} has no layer {layer!r}: {error}") from error
    if isinstance(layer, nn.Module):
        if not any(module is layer for module in model.modules()):
            raise ValueError(f"the {type(layer).__name__} passed as layer is not part of the model")
        return layer
    raise TypeError(f"layer must be a module, a dotted name or None, got {type(layer).__name__}")


@contextlib.contextmanager
def _explaining(model: nn.Module) -> Iterator[None]:
    """Freeze the parameters for the duration, then restore modes, flags and gradients.

    pytorch-grad-cam switches the model to eval mode and calls ``zero_grad()``; the
    caller's model must come back as it was (a training loop may be paused).
    Gradients then flow to the activations only: the input requires grad instead of
    the weights, so no weight gradient is computed.
    """
    modes = [(module, module.training) for module in model.modules()]
    params = [(param, param.requires_grad, param.grad) for param in model.parameters()]
    try:
        for param, _, _ in params:
            param.requires_grad_(False)
        yield
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad, grad in params:
            param.requires_grad_(requires_grad)
            param.grad = grad


def _as_images(images) -> torch.Tensor:
    images = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (batch, channels, height, width), got {tuple(images.shape)}")
    return images


def _explain(model: nn.Module, images, *, targets, layer, method: str,
             batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Maps and the class each one explains (see :func:`gradcam_maps`)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam_class = _cam_class(method)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    images = _as_images(images)
    n_images, _, height, width = images.shape
    if targets is not None:
        targets = np.broadcast_to(np.asarray(targets), (n_images,)) if np.ndim(targets) == 0 \
            else np.asarray(targets)
        if targets.shape != (n_images,) or not np.issubdtype(targets.dtype, np.integer):
            raise ValueError(f"targets must be one class index or one per image ({n_images}), got {targets!r}")
    module = resolve_layer(model, layer)
    first = next(model.parameters())
    maps = np.zeros((n_images, height, width), dtype=np.float32)
    explained = np.zeros(n_images, dtype=np.int64)
    with _explaining(model):
        cam = cam_class(model=model, target_layers=[module])
        try:
            for start in range(0, n_images, batch_size):
                stop = min(start + batch_size, n_images)
                chunk = images[start:stop].detach().to(device=first.device, dtype=first.dtype)
                if chunk.is_inference():
                    chunk = chunk.clone()
                chunk.requires_grad_(True)
                chunk_targets = None if targets is None else \
                    [ClassifierOutputTarget(int(target)) for target in targets[start:stop]]
                with torch.enable_grad():
                    maps[start:stop] = cam(input_tensor=chunk, targets=chunk_targets)
                explained[start:stop] = targets[start:stop] if targets is not None else \
                    cam.outputs.detach().argmax(dim=-1).cpu().numpy()
                cam.outputs = None  # frees the retained graph before the next chunk
        finally:
            cam.activations_and_grads.release()
    # Bilinear upsampling keeps values in [0, 1]; the clip only guards against rounding.
    return np.clip(maps, 0.0, 1.0), explained


def gradcam_maps(model: nn.Module, images, *, targets=None, layer: nn.Module | str | None = None,
                 method: str = "gradcam++", batch_size: int = 32) -> np.ndarray:
    """Grad-CAM++ (or Grad-CAM) maps of a batch of images, with pytorch-grad-cam.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits ``[shape=(batch, n_classes)]``, e.g.
        :class:`respirelib.model.network.RespireNet`. It runs where its parameters are
        (CPU or GPU); the images are moved there chunk by chunk.
    images : torch.Tensor or np.ndarray [shape=(batch, 3, height, width)]
        The images exactly as the model takes them (after any normalisation).
    targets : int, sequence of int or None
        The class each map explains: ``None`` the class the model predicts for
        that image, one int for all images, or one int per image.
    layer : nn.Module, str or None
        See :func:`resolve_layer`; default ``model.target_layer`` (the last
        residual block of a RespireNet).
    method : str
        ``"gradcam++"`` (the paper's Grad-CAM++, ``pytorch_grad_cam.GradCAMPlusPlus``)
        or ``"gradcam"`` (``pytorch_grad_cam.GradCAM``, for comparison).
    batch_size : int
        Images per forward and backward pass; results do not depend on it.

    Returns
    -------
    maps : np.ndarray [shape=(batch, height, width), dtype=float32]
        Values in [0, 1] on the image grid (row 0 the lowest Mel band). As
        pytorch-grad-cam does, each map is the ReLU of the weighted activations,
        upsampled bilinearly to the image size and min-max scaled *per image*:
        its minimum is 0 and its maximum just below 1, so maps compare where a
        model looks within an image, not how strongly across images. An all-zero
        map means the layer holds no positive evidence for the target class
        anywhere in that image (or the evidence is spatially uniform, which the
        min subtraction turns into zero).

    Notes
    -----
    The model is put in eval mode (as pytorch-grad-cam does: dropout off, batch
    norm on running statistics, so a map does not depend on the rest of its batch),
    its parameters are frozen while the maps are computed, and afterwards every
    module's training flag, every parameter's ``requires_grad`` and its ``.grad``
    are restored.
    """
    maps, _ = _explain(model, images, targets=targets, layer=layer, method=method, batch_size=batch_size)
    return maps


def _mel_position_to_hz(position: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Frequency of a fractional Mel band index; integers give librosa's band centres."""
    low, high = librosa.hz_to_mel([config.fmin, config.fmax])
    step = (high - low) / (config.n_mels + 1)
    return librosa.mel_to_hz(low + (position + 1) * step)


def map_axes(shape: Sequence[int], *, feature_config: FeatureConfig = FeatureConfig(),
             n_samples: int | None = None, duration: float | None = None,
             n_blank_rows: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Time (s) of each column and frequency (Hz) of each row of a map or image.

    Parameters
    ----------
    shape : sequence of int
        ``(..., height, width)`` of the map, image or spectrogram.
    feature_config : FeatureConfig
        The configuration that made the spectrogram.
    n_samples : int, optional
        Length of the signal the spectrogram was computed from.
    duration : float, optional
        The same in seconds (``n_samples`` wins when both are given). With
        neither, the image is taken to be resized equally in both directions (as
        :func:`respirelib.signal.features.spectrogram_to_image` does), so the spectrogram
        had ``width * n_mels / height`` frames.
    n_blank_rows : int
        Mel rows removed from the top by blank region clipping (0: no clipping);
        the remaining ``n_mels - n_blank_rows`` bands were stretched to the full height.

    Returns
    -------
    times_s : np.ndarray [shape=(width,)]
        Centre of each column: frame ``k`` is centred at ``k * hop_length / sr``
        (centred STFT frames).
    freqs_hz : np.ndarray [shape=(height,)]
        Centre frequency of each row: Mel band ``k`` is centred at
        ``librosa.mel_frequencies(n_mels + 2, fmin, fmax)[k + 1]``.

    Notes
    -----
    Resizing (bilinear, half-pixel centres, as ``F.interpolate(...,
    align_corners=False)`` and the clipping stretch) maps output row ``i`` of
    ``height`` rows to source position ``(i + 0.5) * n_source / height - 0.5``;
    a resize of a stretch composes to the same formula with ``n_source`` the kept
    bands. Fractional band positions are placed linearly on the Mel scale, and
    frame positions linearly in time. Half a source pixel at each edge lies
    outside the first and last centre, so the first column's time is slightly
    negative and the edge rows lie slightly beyond the edge bands' centres.
    """
    height, width = int(shape[-2]), int(shape[-1])
    config = feature_config
    kept = config.n_mels - int(n_blank_rows)
    if not 0 < kept <= config.n_mels:
        raise ValueError(f"n_blank_rows must be in [0, {config.n_mels}), got {n_blank_rows}")
    if n_samples is None and duration is not None:
        n_samples = int(round(duration * config.sample_rate))
    n_frames = config.n_frames(n_samples) if n_samples is not None else width * config.n_mels / height
    frame = (np.arange(width) + 0.5) * n_frames / width - 0.5
    band = (np.arange(height) + 0.5) * kept / height - 0.5
    times_s = frame * config.hop_length / config.sample_rate
    return times_s, _mel_position_to_hz(band, config)


def band_mass(maps: np.ndarray, *, freqs_hz: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Share of each map's total mass in the rows whose frequency lies in [low_hz, high_hz].

    Parameters
    ----------
    maps : np.ndarray [shape=(..., height, width)]
        Non-negative maps, e.g. from :func:`gradcam_maps`.
    freqs_hz : np.ndarray [shape=(height,)]
        Frequency of each row (:func:`map_axes`).
    low_hz, high_hz : float
        The band, both edges included.

    Returns
    -------
    share : np.ndarray [shape=(...)]
        In [0, 1]; 0 for an all-zero map (it puts no mass anywhere). A uniform map
        gives the fraction of rows inside the band.
    """
    maps = np.asarray(maps, dtype=np.float64)
    freqs_hz = np.asarray(freqs_hz)
    if freqs_hz.shape != maps.shape[-2:-1]:
        raise ValueError(f"need one frequency per row ({maps.shape[-2]}), got {freqs_hz.shape[0]}")
    rows = maps.sum(axis=-1)
    inside = (freqs_hz >= low_hz) & (freqs_hz <= high_hz)
    return _share(rows[..., inside].sum(axis=-1), rows.sum(axis=-1))


def _share(part: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.where(total > 0, part / np.where(total > 0, total, 1.0), 0.0)


def blank_image_rows(n_blank_rows, *, height: int, n_mels: int = FeatureConfig.n_mels) -> np.ndarray:
    """Image rows that ``n_blank_rows`` blank Mel rows occupy at the top of an image.

    Returns
    -------
    rows : np.ndarray [shape=np.shape(n_blank_rows), dtype=int64]
        ``round(n_blank_rows * height / n_mels)``.
    """
    return np.rint(np.asarray(n_blank_rows) * height / n_mels).astype(np.int64)


def top_rows_mass(maps: np.ndarray, n_rows) -> np.ndarray:
    """Share of each map's mass in its top ``n_rows`` rows (the highest frequencies).

    Parameters
    ----------
    maps : np.ndarray [shape=(batch, height, width)]
    n_rows : int or np.ndarray [shape=(batch,)]

    Returns
    -------
    share : np.ndarray [shape=(batch,)]
        0 for an all-zero map and where ``n_rows`` is 0.
    """
    maps = np.asarray(maps, dtype=np.float64)
    rows = maps.sum(axis=-1)
    height = rows.shape[-1]
    top = np.arange(height) >= height - np.broadcast_to(np.asarray(n_rows), rows.shape[:-1])[:, None]
    return _share(np.where(top, rows, 0.0).sum(axis=-1), rows.sum(axis=-1))


def min_blank_rows(*, feature_config: FeatureConfig = FeatureConfig(), min_blank_hz: float = 1500.0) -> int:
    """Blank top Mel rows a spectrogram needs for every band centred at or above ``min_blank_hz`` to be blank.

    The Fig. 3 selection of :func:`blank_band_attention_cycles`: with the paper's
    64 bands over 50-2000 Hz and 1500 Hz, 11 rows.
    """
    centres = _mel_position_to_hz(np.arange(feature_config.n_mels), feature_config)
    n_rows = int((centres >= min_blank_hz).sum())
    if n_rows == 0:
        raise ValueError(f"no Mel band is centred at or above {min_blank_hz} Hz")
    return n_rows


def _take(cycles, index: np.ndarray):
    if isinstance(cycles, torch.Tensor):
        return cycles[torch.as_tensor(index, device=cycles.device)]
    if isinstance(cycles, np.ndarray):
        return cycles[index]
    return [cycles[i] for i in index]


ImageFrontend = Callable[..., tuple]


def blank_band_attention_cycles(model: nn.Module, cycles, devices: Sequence[str], *,
                                make_images: ImageFrontend, feature_config: FeatureConfig = FeatureConfig(),
                                labels=None, min_blank_hz: float = 1500.0,
                                layer: nn.Module | str | None = None, method: str = "gradcam++",
                                batch_size: int = 32) -> pd.DataFrame:
    """Per cycle with a blank high band: attention on its top rows before and after clipping.

    The Fig. 3 experiment. A cycle takes part when its blank region (the unbroken
    run of blank Mel rows from the top) covers every band centred at or above
    ``min_blank_hz`` (the paper's "1.5-2 kHz missing"). For each such cycle:

    - ``mass_before``: share of the Grad-CAM++ map of the unclipped image that lies
      in the blank rows, i.e. attention spent where there is no signal;
    - ``mass_after``: share of the map of the clipped image in the *same top image
      rows* (same count), which after clipping hold the stretched top of the signal.

    Both numbers measure the same region of the image the network sees, so a drop
    says that the network's attention moved away from the top of the image, towards
    the lower rows, as Fig. 3 shows. ``area_share``, the fraction of the image
    height those rows take, is what a uniform map would give. After clipping there
    is no blank band, so the mass "in the blank band" would be zero by construction;
    the same-rows comparison is the one that can show an effect.

    Parameters
    ----------
    model : nn.Module
    cycles : array, tensor or list [shape=(n_cycles, ...)]
        Whatever ``make_images`` takes (waveforms or spectrograms); only indexed
        along the first axis.
    devices : sequence of str [shape=(n_cycles,)]
        Recording device of each cycle.
    make_images : callable
        ``make_images(cycles, clip: bool) -> (images, n_blank_rows)``: the model's
        deterministic frontend (no augmentation). ``images [shape=(n, 3, height,
        width)]`` as the model takes them; ``n_blank_rows [shape=(n,)]`` the blank
        Mel rows detected at the top of each spectrogram, the same whether
        ``clip`` is true or not; with ``clip`` those rows are cut and the rest
        stretched back to the full height.
    feature_config : FeatureConfig
        The frontend's configuration (``n_mels``, Mel range).
    labels : sequence of int, optional
        Explain these classes (e.g. the true ones), so both maps of a cycle
        explain the same class. ``None``: each image's predicted class.
    min_blank_hz : float
        Lowest band centre that must be blank.
    layer, method, batch_size :
        As in :func:`gradcam_maps`; ``batch_size`` cycles also go through the
        frontend at a time.

    Returns
    -------
    per_cycle : pd.DataFrame
        One row per selected cycle: ``cycle`` (position in ``cycles``), ``device``,
        ``n_blank_rows`` (Mel rows), ``image_rows`` (image rows they occupy),
        ``area_share``, ``target_before``, ``target_after`` (classes explained),
        ``mass_before``, ``mass_after``.
    """
    devices = np.asarray(devices, dtype=object)
    n_cycles = len(devices)
    if len(cycles) != n_cycles:
        raise ValueError(f"need one device per cycle, got {n_cycles} devices for {len(cycles)} cycles")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n_cycles,):
            raise ValueError(f"need one label per cycle ({n_cycles}), got shape {labels.shape}")
    min_blank = min_blank_rows(feature_config=feature_config, min_blank_hz=min_blank_hz)
    options = dict(layer=layer, method=method, batch_size=batch_size)
    parts = []
    for start in range(0, n_cycles, batch_size):
        index = np.arange(start, min(start + batch_size, n_cycles))
        images, n_blank = make_images(_take(cycles, index), False)
        n_blank = np.asarray(torch.as_tensor(n_blank).cpu(), dtype=np.int64).reshape(-1)
        selected = n_blank >= min_blank
        if not selected.any():
            continue
        kept = index[selected]
        images = _as_images(images)
        images = images[torch.as_tensor(np.flatnonzero(selected), device=images.device)]
        clipped, _ = make_images(_take(cycles, kept), True)
        clipped = _as_images(clipped)
        if clipped.shape != images.shape:
            raise ValueError(f"clipped images have shape {tuple(clipped.shape)}, unclipped {tuple(images.shape)}")
        targets = None if labels is None else labels[kept]
        before, target_before = _explain(model, images, targets=targets, **options)
        after, target_after = _explain(model, clipped, targets=targets, **options)
        image_rows = blank_image_rows(n_blank[selected], height=images.shape[-2], n_mels=feature_config.n_mels)
        parts.append(pd.DataFrame({
            "cycle": kept, "device": devices[kept], "n_blank_rows": n_blank[selected],
            "image_rows": image_rows, "area_share": image_rows / images.shape[-2],
            "target_before": target_before, "target_after": target_after,
            "mass_before": top_rows_mass(before, image_rows), "mass_after": top_rows_mass(after, image_rows),
        }))
    columns = ["cycle", "device", "n_blank_rows", "image_rows", "area_share", "target_before",
               "target_after", "mass_before", "mass_after"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def summarise_blank_band_attention(per_cycle: pd.DataFrame, devices: Sequence[str]) -> pd.DataFrame:
    """Per-device means of :func:`blank_band_attention_cycles`, and one row for all devices.

    Parameters
    ----------
    per_cycle : pd.DataFrame
        The per-cycle table.
    devices : sequence of str
        The device of every cycle examined (selected or not), for ``n_total``.

    Returns
    -------
    summary : pd.DataFrame
        Columns ``device``, ``n_total`` (cycles examined), ``n_cycles`` (with a blank
        high band), ``mass_before``, ``mass_after``, ``area_share`` (means over the
        cycles; NaN for a device without such cycles). Devices sorted, then
        ``"all"`` (every selected cycle weighted equally).
    """
    devices = pd.Series(np.asarray(devices, dtype=object))
    names = sorted(devices.unique())
    rows = []
    for name in [*names, ALL_DEVICES]:
        chosen = per_cycle if name == ALL_DEVICES else per_cycle[per_cycle["device"] == name]
        rows.append({
            "device": name,
            "n_total": int(len(devices) if name == ALL_DEVICES else (devices == name).sum()),
            "n_cycles": len(chosen),
            **{column: float(chosen[column].mean()) if len(chosen) else np.nan
               for column in ("mass_before", "mass_after", "area_share")},
        })
    return pd.DataFrame(rows)


def blank_band_in_words(per_cycle: pd.DataFrame, patients, *, n_resamples: int = 1000, seed: int = 0) -> str:
    """Whether one run repeats the paper's Fig. 3 story, in words, with the test-patient noise.

    Two paired per-cycle differences of :func:`blank_band_attention_cycles`, each with its patient-level
    bootstrap interval (:func:`respirelib.training.metrics.patient_bootstrap_mean`): the map's mass in the
    blank rows before clipping minus the rows' area share (attention drawn to the band beyond chance), and
    the mass after clipping minus before (attention released by clipping). A part of the story is said to
    hold only where its interval excludes 0. ``patients`` gives each row's patient.
    """
    if per_cycle.empty:
        return "No test cycle has a blank band: this run cannot test the paper's Fig. 3 story."
    drawn = patient_bootstrap_mean(per_cycle["mass_before"] - per_cycle["area_share"], patients,
                                   n_resamples=n_resamples, seed=seed)
    released = patient_bootstrap_mean(per_cycle["mass_after"] - per_cycle["mass_before"], patients,
                                      n_resamples=n_resamples, seed=seed)

    def points(entry: dict) -> str:
        interval = ("no interval: one patient" if entry["ci"] is None else
                    f"95 % patient-bootstrap interval {format_signed_interval(entry['ci'])}")
        return f"{format_signed(100 * entry['mean'])} points ({interval})"

    above = drawn["ci"] is not None and drawn["ci"][0] > 0
    lower = released["ci"] is not None and released["ci"][1] < 0
    text = (f"Over {len(per_cycle)} cycles of {drawn['n_patients']} test patients, the maps put "
            f"{points(drawn)} more of their mass in the blank rows than a uniform map would before clipping, "
            f"and clipping changed that mass by {points(released)}. ")
    if above and lower:
        return text + ("Both exceed the test-patient noise: this run repeats the paper's Fig. 3 story (attention "
                       "drawn to the blank band, released by clipping). One model: the training noise is not in "
                       "these intervals.")
    parts = [("the attention drawn to the band" if not above else None),
             ("its release by clipping" if not lower else None)]
    missing = " and ".join(part for part in parts if part)
    return text + (f"This run does **not** show {missing} beyond the test-patient noise (the interval includes "
                   "0, or points the other way), so it does not repeat the paper's Fig. 3 story. A model trained "
                   "without clipping, the paper's 'before', may behave differently.")

def blank_band_attention(model: nn.Module, cycles, devices: Sequence[str], *, make_images: ImageFrontend,
                         feature_config: FeatureConfig = FeatureConfig(), labels=None,
                         min_blank_hz: float = 1500.0, layer: nn.Module | str | None = None,
                         method: str = "gradcam++", batch_size: int = 32) -> pd.DataFrame:
    """The Fig. 3 number per device: attention on the blank band's rows before vs after clipping.

    See :func:`blank_band_attention_cycles` for the definitions and the
    parameters, and :func:`summarise_blank_band_attention` for the table. Keep
    the per-cycle table by calling those two directly.

    Returns
    -------
    summary : pd.DataFrame
        ``device``, ``n_total``, ``n_cycles``, ``mass_before``, ``mass_after``,
        ``area_share``; one row per device and one for ``"all"``.
    """
    per_cycle = blank_band_attention_cycles(
        model, cycles, devices, make_images=make_images, feature_config=feature_config, labels=labels,
        min_blank_hz=min_blank_hz, layer=layer, method=method, batch_size=batch_size)
    return summarise_blank_band_attention(per_cycle, devices)
