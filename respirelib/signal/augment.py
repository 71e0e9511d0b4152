"""Standard waveform augmentations on whole batches, and a class-balanced sampler.

Everything works on a ``(batch, n_samples)`` tensor on any device and draws its
randomness from an explicit ``torch.Generator`` on that device, so a batch is
augmented identically for the same seed (on the same device). One batch goes
through a few vectorised tensor operations; there is no per-sample Python loop.

:func:`augment_batch` follows the reference implementation's policy: with
probability ``p_waveform`` a sample receives one of noise, speed, loudness or
pitch (chosen by the configured weights), and independently, with probability
``p_shift``, a random circular shift. The reference used nlpaug per sample (its
fifth augmenter, VTLP, is left out); these are batched equivalents:

- noise: white Gaussian noise at a signal-to-noise ratio drawn per sample;
- speed: playback at a different rate (tempo and pitch change together, as a
  tape played faster), by linear interpolation; the input is read cyclically so
  the length stays the same (a fixed-length input is already a padded cycle);
- loudness: a gain factor. With the default per-sample min-max scaling of the
  dB spectrogram this changes the features only through the ``top_db`` floor;
  it is kept because the paper and the reference list it;
- pitch: a phase-vocoder pitch shift that keeps the duration (STFT bins moved
  to ``bin * 2**(semitones / 12)`` with their instantaneous frequencies scaled
  and phases re-integrated; Laroche and Dolson's bin shifting without peak
  locking), cheaper than resampling plus time-stretching;
- circular shift: ``torch.roll`` by a random number of samples, per sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from respirelib.config import CLASS_NAMES, WAVEFORM_AUGMENTATIONS, AugmentConfig


def _per_sample(values: torch.Tensor | float, wave: torch.Tensor) -> torch.Tensor:
    """A parameter as a (batch, 1) tensor on ``wave``'s device and dtype."""
    values = torch.as_tensor(values, dtype=wave.dtype, device=wave.device)
    return values.reshape(-1, 1).expand(wave.shape[0], 1)


def add_noise(wave: torch.Tensor, *, snr_db: torch.Tensor | float, generator: torch.Generator) -> torch.Tensor:
    """Add white Gaussian noise at a given signal-to-noise ratio.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
    snr_db : torch.Tensor [shape=(batch,)] or float
        Ratio of the signal's mean power to the noise's, in dB.
    generator : torch.Generator
        On ``wave``'s device.

    Returns
    -------
    noisy : torch.Tensor [shape=(batch, n)]
    """
    rms = wave.pow(2).mean(dim=1, keepdim=True).sqrt()
    sigma = rms * torch.pow(10.0, -_per_sample(snr_db, wave) / 20)
    noise = torch.randn(wave.shape, generator=generator, device=wave.device, dtype=wave.dtype)
    return wave + sigma * noise


def change_loudness(wave: torch.Tensor, *, gain: torch.Tensor | float) -> torch.Tensor:
    """Multiply each sample by its gain.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
    gain : torch.Tensor [shape=(batch,)] or float

    Returns
    -------
    louder : torch.Tensor [shape=(batch, n)]
    """
    return wave * _per_sample(gain, wave)


def change_speed(wave: torch.Tensor, *, factor: torch.Tensor | float) -> torch.Tensor:
    """Play each sample ``factor`` times faster, keeping its length by reading cyclically.

    Output sample ``t`` is the input at position ``factor * t`` (modulo ``n``),
    linearly interpolated. Factors above 1 raise the pitch and shorten events.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
    factor : torch.Tensor [shape=(batch,)] or float

    Returns
    -------
    faster : torch.Tensor [shape=(batch, n)]
    """
    n = wave.shape[1]
    positions = torch.arange(n, device=wave.device, dtype=torch.float64) * _per_sample(factor, wave).double()
    positions = torch.remainder(positions, n)
    left = positions.floor().long()
    weight = (positions - left).to(wave.dtype)
    right = (left + 1) % n
    left = left % n
    return torch.lerp(wave.gather(1, left), wave.gather(1, right), weight)


def circular_shift(wave: torch.Tensor, *, shift: torch.Tensor | int) -> torch.Tensor:
    """Roll each sample by its own number of samples (``torch.roll`` per row).

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
    shift : torch.Tensor [shape=(batch,), integer] or int

    Returns
    -------
    shifted : torch.Tensor [shape=(batch, n)]
    """
    n = wave.shape[1]
    shift = torch.as_tensor(shift, device=wave.device, dtype=torch.long).reshape(-1, 1)
    index = torch.remainder(torch.arange(n, device=wave.device) - shift, n)
    return wave.gather(1, index.expand(wave.shape[0], n))


def pitch_shift(wave: torch.Tensor, *, semitones: torch.Tensor | float, n_fft: int = 512,
                hop_length: int = 128) -> torch.Tensor:
    """Shift each sample's pitch by its number of semitones, keeping the duration.

    A phase vocoder on the STFT: bin ``k`` of the output takes the magnitude of
    source bin ``k / ratio`` (linearly interpolated) and the instantaneous
    frequency of the nearest source bin times ``ratio``; phases are re-integrated
    over frames. Content moved above the Nyquist frequency is lost.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
    semitones : torch.Tensor [shape=(batch,)] or float
        ``ratio = 2 ** (semitones / 12)``.
    n_fft, hop_length : int
        STFT of the vocoder (Hann window, hop a quarter of ``n_fft`` or less).

    Returns
    -------
    shifted : torch.Tensor [shape=(batch, n)]
    """
    batch, n = wave.shape
    window = torch.hann_window(n_fft, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(wave, n_fft, hop_length=hop_length, window=window, center=True,
                      return_complex=True)
    n_bins, n_frames = spec.shape[1], spec.shape[2]
    # Real and imaginary parts made contiguous first: abs, angle and polar on complex tensors (or on
    # strided views of their parts) take the slow scalar path, several times slower on CPU.
    real, imag = torch.view_as_real(spec).movedim(-1, 0).contiguous()
    magnitude, phase = torch.hypot(real, imag), torch.atan2(imag, real)
    bin_advance = 2 * math.pi * hop_length / n_fft * torch.arange(n_bins, device=wave.device, dtype=wave.dtype)
    deviation = torch.diff(phase, dim=2) - bin_advance[:, None]
    deviation = torch.remainder(deviation + math.pi, 2 * math.pi) - math.pi
    advance = torch.cat([phase[:, :, :1], bin_advance[:, None] + deviation], dim=2)

    ratio = torch.pow(2.0, _per_sample(semitones, wave) / 12)
    source = torch.arange(n_bins, device=wave.device, dtype=wave.dtype) / ratio
    inside = source <= n_bins - 1
    low = source.floor().long().clamp(max=n_bins - 1)
    high = (low + 1).clamp(max=n_bins - 1)
    frac = (source - low).unsqueeze(-1)
    nearest = source.round().long().clamp(max=n_bins - 1)

    def take(values: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
        return values.gather(1, bins.unsqueeze(-1).expand(batch, n_bins, n_frames))

    new_magnitude = torch.lerp(take(magnitude, low), take(magnitude, high), frac) * inside.unsqueeze(-1)
    # Integrate in float64: a float32 running sum over hundreds of frames drifts.
    new_phase = torch.cumsum(take(advance, nearest).double() * ratio.double().unsqueeze(-1), dim=2)
    new_phase = torch.remainder(new_phase, 2 * math.pi).to(magnitude.dtype)
    shifted = torch.view_as_complex(torch.stack([new_magnitude * torch.cos(new_phase),
                                                 new_magnitude * torch.sin(new_phase)], dim=-1))
    return torch.istft(shifted, n_fft, hop_length=hop_length, window=window, center=True, length=n)


def _uniform(low: float, high: float, size: int, generator: torch.Generator, device,
             *, log: bool = False) -> torch.Tensor:
    """``size`` draws from U(low, high), or log-uniform when ``log``."""
    u = torch.rand(size, generator=generator, device=device, dtype=torch.float64)
    if log:
        return torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return low + u * (high - low)


def augment_batch(wave: torch.Tensor, *, sr: int, config: AugmentConfig = AugmentConfig(),
                  generator: torch.Generator) -> torch.Tensor:
    """Apply the standard augmentations to a training batch (see the module docstring).

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n)]
        Fixed-length training inputs.
    sr : int
        Their sample rate (the pitch shifter's STFT size follows from it).
    config : AugmentConfig
        Probabilities, weights and parameter ranges.
    generator : torch.Generator
        On ``wave``'s device; e.g. ``torch.Generator(device).manual_seed(seed)``.
        The same generator state gives the same output.

    Returns
    -------
    augmented : torch.Tensor [shape=(batch, n)]
        A new tensor; ``wave`` is not modified.
    """
    if wave.ndim != 2:
        raise ValueError(f"expected a (batch, n) tensor, got shape {tuple(wave.shape)}")
    batch, n = wave.shape
    device = wave.device
    out = wave.clone()
    # Draw every parameter for every sample up front, so a sample's parameters do not
    # depend on which other samples end up augmented.
    chosen = torch.rand(batch, generator=generator, device=device) < config.p_waveform
    weights = torch.tensor(config.weights, dtype=torch.float64, device=device)
    kind = (torch.multinomial(weights, batch, replacement=True, generator=generator) if weights.sum() > 0
            else torch.zeros(batch, dtype=torch.long, device=device))
    snr = _uniform(*config.noise_snr_db, batch, generator, device)
    speed = _uniform(*config.speed_range, batch, generator, device, log=True)
    gain = _uniform(*config.loudness_range, batch, generator, device, log=True)
    semitones = _uniform(*config.pitch_semitones, batch, generator, device)
    shifted = torch.rand(batch, generator=generator, device=device) < config.p_shift
    shift = torch.randint(0, n, (batch,), generator=generator, device=device)

    n_fft = 1 << max(6, int(round(math.log2(sr / 16))))  # 256 at 4 kHz: 64 ms, 16 Hz bins
    transforms = {
        "noise": lambda x, rows: add_noise(x, snr_db=snr[rows], generator=generator),
        "speed": lambda x, rows: change_speed(x, factor=speed[rows]),
        "loudness": lambda x, rows: change_loudness(x, gain=gain[rows]),
        "pitch": lambda x, rows: pitch_shift(x, semitones=semitones[rows], n_fft=n_fft, hop_length=n_fft // 4),
    }
    if weights.sum() > 0:
        for k, name in enumerate(WAVEFORM_AUGMENTATIONS):
            rows = torch.nonzero(chosen & (kind == k)).squeeze(1)
            if len(rows):
                out[rows] = transforms[name](out[rows], rows)
    rows = torch.nonzero(shifted).squeeze(1)
    if len(rows):
        out[rows] = circular_shift(out[rows], shift=shift[rows])
    return out


def class_balanced_sampler(labels: Sequence[int] | np.ndarray, *, num_samples: int | None = None,
                           seed: int) -> WeightedRandomSampler:
    """A sampler that draws every present class equally often (with replacement).

    Each sample is weighted by one over its class's count, so each class holds the
    same total weight (the paper's weighted random sampler; the reference's 1/class
    frequency). Its own seeded generator makes the sequence of epochs reproducible.

    Parameters
    ----------
    labels : array-like of int [shape=(n,)]
    num_samples : int or None
        Draws per epoch; defaults to ``len(labels)``.
    seed : int

    Returns
    -------
    sampler : torch.utils.data.WeightedRandomSampler
        Yields indices into ``labels``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        raise ValueError("cannot sample from an empty label list")
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(weights, num_samples=num_samples or len(labels), replacement=True,
                                 generator=generator)
