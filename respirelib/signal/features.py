"""Mel-spectrogram features and the 3-channel images an ImageNet CNN takes.

Two implementations of one computation:

- :func:`log_mel` (numpy, librosa): the reference, one signal at a time;
- :class:`TorchMelFrontend` (torch): batched, on CPU or GPU, using librosa's Mel
  filter bank and the same window, centring and zero padding, so it matches
  :func:`log_mel` (tested: max difference below 1e-6 of the [0, 1] range in
  float64, and below 1e-3 in float32).

Steps: power Mel spectrogram (64 bands, n_fft 256, hop 128, 50-2000 Hz at
4 kHz) -> dB relative to the sample's own maximum, floored ``top_db`` below it
-> per-sample scaling (min-max to [0, 1] by default) -> optional blank region
clipping (:mod:`respirelib.signal.clipping`) -> :func:`spectrogram_to_image` (colormap
or replication, optional resize). Row 0 of every array is the lowest Mel band.

A training batch runs as::

    frontend = TorchMelFrontend(FeatureConfig()).to(device)
    spec = frontend(augment_batch(wave, sr=4000, generator=g))   # (batch, 64, frames)
    spec = clip_blank_region_batch(spec)                          # optional
    images = spectrogram_to_image(spec)                           # (batch, 3, H, W)
"""

from __future__ import annotations

import librosa
import matplotlib
import numpy as np
import torch
import torch.nn.functional as F

from respirelib.config import FeatureConfig


def _check_rate(sr: int, config: FeatureConfig) -> None:
    if sr != config.sample_rate:
        raise ValueError(f"signal is at {sr} Hz but the feature config expects {config.sample_rate} Hz")


def mel_filterbank(config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """librosa's Slaney-normalised Mel filter bank for ``config``.

    Returns
    -------
    basis : np.ndarray [shape=(n_mels, 1 + n_fft // 2), dtype=float32]
    """
    return librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels,
                               fmin=config.fmin, fmax=config.fmax)


def mel_band_edges(config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Frequencies (Hz) of the Mel band edges: band ``k`` spans ``edges[k]`` to ``edges[k + 2]``.

    Returns
    -------
    edges : np.ndarray [shape=(n_mels + 2,)]
        ``edges[k + 1]`` is the centre of band ``k``.
    """
    return librosa.mel_frequencies(n_mels=config.n_mels + 2, fmin=config.fmin, fmax=config.fmax)


def mel_spectrogram(y: np.ndarray, *, sr: int, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Power Mel spectrogram with librosa.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
    sr : int
        Must equal ``config.sample_rate``.
    config : FeatureConfig

    Returns
    -------
    S : np.ndarray [shape=(..., n_mels, 1 + n // hop_length)]
    """
    _check_rate(sr, config)
    return librosa.feature.melspectrogram(y=y, sr=sr, n_fft=config.n_fft, hop_length=config.hop_length,
                                          n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax,
                                          window="hann", center=True, pad_mode="constant", power=2.0)


def scale_spectrogram(spec: np.ndarray, *, method: str = "minmax") -> np.ndarray:
    """Scale each spectrogram on its own (over its last two axes).

    Parameters
    ----------
    spec : np.ndarray [shape=(..., n_mels, n_frames)]
    method : str
        ``"minmax"``: to [0, 1] (a constant spectrogram becomes all zeros);
        ``"standard"``: zero mean, unit variance.

    Returns
    -------
    scaled : np.ndarray [shape=(..., n_mels, n_frames)]
    """
    axes = (-2, -1)
    if method == "minmax":
        low = spec.min(axis=axes, keepdims=True)
        span = spec.max(axis=axes, keepdims=True) - low
        return (spec - low) / np.where(span > 0, span, 1)
    if method == "standard":
        std = spec.std(axis=axes, keepdims=True)
        return (spec - spec.mean(axis=axes, keepdims=True)) / np.where(std > 0, std, 1)
    raise ValueError(f"method must be 'minmax' or 'standard', got {method!r}")


def log_mel(y: np.ndarray, *, sr: int, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The scaled dB Mel spectrogram of one signal (the numpy/librosa reference).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
        Must equal ``config.sample_rate``.
    config : FeatureConfig

    Returns
    -------
    spec : np.ndarray [shape=(n_mels, 1 + n // hop_length)]
        ``power_to_db(S, ref=max, amin, top_db)``, then per-sample scaling
        (``config.scaling``). Row 0 is the lowest Mel band.
    """
    if np.ndim(y) != 1:
        raise ValueError(f"expected one signal of shape (n,), got shape {np.shape(y)}")
    power = mel_spectrogram(y, sr=sr, config=config)
    db = librosa.power_to_db(power, ref=np.max, amin=config.amin, top_db=config.top_db)
    return scale_spectrogram(db, method=config.scaling)


class TorchMelFrontend(torch.nn.Module):
    """Batched scaled dB Mel spectrogram on CPU or GPU, matching :func:`log_mel`.

    Parameters
    ----------
    config : FeatureConfig

    Notes
    -----
    The Mel filter bank is librosa's (float32, as librosa's own ``melspectrogram``
    uses it) and the window a periodic Hann, as librosa's; call ``.double()`` for
    float64 and ``.to(device)`` to move. Inputs are cast to the module's dtype.
    """

    def __init__(self, config: FeatureConfig = FeatureConfig()):
        super().__init__()
        self.config = config
        self.register_buffer("mel_basis", torch.as_tensor(mel_filterbank(config)))

    def power(self, wave: torch.Tensor) -> torch.Tensor:
        """Power Mel spectrogram.

        Parameters
        ----------
        wave : torch.Tensor [shape=(batch, n)]

        Returns
        -------
        S : torch.Tensor [shape=(batch, n_mels, 1 + n // hop_length)]
        """
        config = self.config
        wave = wave.to(self.mel_basis.dtype)
        # Made per call in the working dtype: a float32 buffer cast to float64 would
        # differ from librosa's float64 window.
        window = torch.hann_window(config.n_fft, periodic=True, dtype=wave.dtype, device=wave.device)
        spec = torch.stft(wave, config.n_fft, hop_length=config.hop_length, window=window, center=True,
                          pad_mode="constant", return_complex=True)
        # Squares of the interleaved (real, imag) pairs, then their sum: the strided .real and .imag
        # views would each be squared through a slow non-contiguous path.
        squares = torch.view_as_real(spec).square()
        return torch.matmul(self.mel_basis, squares[..., 0] + squares[..., 1])

    def to_db(self, power: torch.Tensor) -> torch.Tensor:
        """dB relative to each sample's maximum, floored ``top_db`` below it.

        Parameters
        ----------
        power : torch.Tensor [shape=(batch, n_mels, n_frames)]

        Returns
        -------
        db : torch.Tensor [shape=(batch, n_mels, n_frames)]
        """
        amin = self.config.amin
        db = 10 * torch.log10(power.clamp(min=amin))
        peak = power.amax(dim=(1, 2), keepdim=True).clamp(min=amin)
        db = db - 10 * torch.log10(peak)
        if self.config.top_db is not None:
            db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - self.config.top_db)
        return db

    @staticmethod
    def minmax(db: torch.Tensor) -> torch.Tensor:
        """Per-sample min-max scaling to [0, 1] over the last two axes."""
        low = db.amin(dim=(1, 2), keepdim=True)
        span = db.amax(dim=(1, 2), keepdim=True) - low
        return (db - low) / torch.where(span > 0, span, torch.ones_like(span))

    @staticmethod
    def standardize(db: torch.Tensor) -> torch.Tensor:
        """Per-sample standardisation (zero mean, unit variance) over the last two axes."""
        std, mean = torch.std_mean(db, dim=(1, 2), keepdim=True, correction=0)
        return (db - mean) / torch.where(std > 0, std, torch.ones_like(std))

    def scale(self, db: torch.Tensor) -> torch.Tensor:
        """Per-sample scaling (``config.scaling``) over the last two axes."""
        return self.minmax(db) if self.config.scaling == "minmax" else self.standardize(db)

    def db(self, wave: torch.Tensor) -> torch.Tensor:
        """Unscaled dB Mel spectrogram (0 dB at each signal's peak) [shape=(batch, n_mels, n_frames)]."""
        if wave.ndim != 2:
            raise ValueError(f"expected a (batch, n) tensor, got shape {tuple(wave.shape)}")
        return self.to_db(self.power(wave))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Scaled dB Mel spectrogram of each signal.

        Parameters
        ----------
        wave : torch.Tensor [shape=(batch, n)]

        Returns
        -------
        spec : torch.Tensor [shape=(batch, n_mels, 1 + n // hop_length)]
        """
        return self.scale(self.db(wave))


def colormap_table(name: str = "magma", *, dtype: torch.dtype = torch.float32,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """A matplotlib colormap as a 256-entry RGB lookup table.

    Returns
    -------
    table : torch.Tensor [shape=(256, 3)]
        RGB values in [0, 1].
    """
    rgb = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return torch.as_tensor(rgb, dtype=dtype, device=device)


def spectrogram_to_image(spec: torch.Tensor, *, config: FeatureConfig = FeatureConfig(),
                         size: tuple[int, int] | None = None,
                         normalize: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Turn scaled spectrograms into 3-channel images for an ImageNet CNN.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, n_mels, n_frames)]
        Per-sample min-max scaled to [0, 1] for ``image_mode="colormap"``.
    config : FeatureConfig
        ``image_mode``: ``"colormap"`` quantises to 256 levels (as the reference's
        8-bit image) and looks the colours up in ``config.colormap``;
        ``"replicate"`` copies the spectrogram to three channels. Then a bilinear
        resize by ``config.image_scale`` (1: none).
    size : tuple of int or None
        Explicit output (height, width), overriding ``config.image_scale``.
    normalize : (mean, std) tensors of shape (3,) or None
        Channel standardisation ``(image - mean) / std``, applied before the resize
        (to the 256-entry colour table in colormap mode): the bilinear resize is
        linear, so this equals normalising afterwards and costs far less.

    Returns
    -------
    images : torch.Tensor [shape=(batch, 3, height, width)]
        Values in [0, 1] for the colormap (standardised when ``normalize`` is given);
        row 0 is the lowest Mel band.
    """
    if spec.ndim != 3:
        raise ValueError(f"expected a (batch, n_mels, n_frames) tensor, got shape {tuple(spec.shape)}")
    height, width = spec.shape[1:]
    if size is None and config.image_scale != 1:
        size = (int(round(height * config.image_scale)), int(round(width * config.image_scale)))
    resize = size is not None and tuple(size) != (height, width)
    if config.image_mode == "replicate":
        # Resize one channel, then copy it: three identical resizes would cost three times as much.
        image = spec.unsqueeze(1)
        if resize:
            image = F.interpolate(image, size=tuple(size), mode="bilinear", align_corners=False)
        image = image.expand(-1, 3, -1, -1)
        if normalize is not None:
            mean, std = (value.to(image).view(1, 3, 1, 1) for value in normalize)
            image = (image - mean) / std
        return image.contiguous()
    table = colormap_table(config.colormap, dtype=spec.dtype if spec.is_floating_point() else torch.float32,
                           device=spec.device)
    if normalize is not None:
        table = (table - normalize[0].to(table)) / normalize[1].to(table)
    levels = (spec.clamp(0, 1) * 255).long()  # truncation, as the reference's uint8 cast
    # A row lookup (embedding) is the fastest gather of 3-value colours; the result is then laid out
    # channel-first, on which the resize runs several times faster than on a channels-last view.
    images = F.embedding(levels, table).permute(0, 3, 1, 2).contiguous()
    if resize:
        images = F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)
    return images


def image_from_signal(y: np.ndarray, *, sr: int, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Image of one signal through the numpy reference path (for figures and checks).

    Returns
    -------
    image : np.ndarray [shape=(3, height, width), dtype=float32]
    """
    spec = torch.as_tensor(log_mel(y, sr=sr, config=config), dtype=torch.float32)[None]
    return spectrogram_to_image(spec, config=config)[0].numpy()
