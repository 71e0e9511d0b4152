"""Pre-processing of whole recordings: resample, band-pass, normalise, cut into cycles.

The paper resamples to 4 kHz and applies a 5th-order Butterworth band-pass of
50-2000 Hz. At 4 kHz the upper edge is the Nyquist frequency, where a digital
Butterworth edge is undefined (normalised frequency 1). This module resamples
first, with soxr's high-quality resampler, whose anti-alias filter already
confines the signal below 2 kHz (measured from 44.1 kHz: flat within 0.01 dB to
1.8 kHz, -3 dB near 1.9 kHz, more than 80 dB down at 1.99 kHz), and then applies
the 50 Hz high-pass as a zero-phase filter in second-order sections. Recordings
made at 4 kHz are not resampled; their own converter band-limited them. A low-pass stage is added only when
``high_hz`` lies below the Nyquist frequency (e.g. ``AudioConfig(high_hz=1800)``).
Filtering after resampling gives every recording the same digital filter,
whatever its original rate.

Zero-phase filtering runs the filter forwards and backwards, which squares its
magnitude response. The design edges are moved (Winter's correction) so that the
*applied* response is -3 dB at ``low_hz`` and ``high_hz``, as the paper's band
edges suggest.
"""

from __future__ import annotations

from collections.abc import Sequence

import librosa
import numpy as np
import scipy.signal

from respirelib.config import AudioConfig


def bandpass_sos(*, sr: int, low_hz: float, high_hz: float | None, order: int = 5,
                 zero_phase: bool = True) -> np.ndarray:
    """Butterworth band-pass (or high-pass) as second-order sections.

    Parameters
    ----------
    sr : int
        Sample rate the filter runs at.
    low_hz : float
        Lower -3 dB edge (high-pass).
    high_hz : float or None
        Upper -3 dB edge (low-pass). ``None`` or a value at or above ``sr / 2``
        gives a high-pass only: an edge at the Nyquist frequency cannot be
        designed, and the resampler has band-limited the signal there already.
    order : int
        Butterworth order of each edge.
    zero_phase : bool
        Place the edges so that forward-backward filtering (``sosfiltfilt``) is
        -3 dB at them; ``False`` places them for a single pass.

    Returns
    -------
    sos : np.ndarray [shape=(n_sections, 6)]
        The high-pass sections followed by the low-pass sections, if any.
    """
    nyquist = sr / 2
    if not 0 < low_hz < nyquist:
        raise ValueError(f"low_hz must lie between 0 and the Nyquist frequency {nyquist} Hz, got {low_hz}")
    # Two passes square |H|; a Butterworth of order N is then -3 dB where the single
    # pass is |H|^2 = 1/sqrt(2), i.e. at tan(w/2) = tan(wc/2) * (sqrt(2) - 1)^(+-1/2N).
    correction = (np.sqrt(2.0) - 1.0) ** (1.0 / (2 * order)) if zero_phase else 1.0

    def design_edge(edge_hz: float, btype: str) -> np.ndarray:
        warped = np.tan(np.pi * edge_hz / sr)
        warped = warped * correction if btype == "highpass" else warped / correction
        design_hz = sr / np.pi * np.arctan(warped)
        return scipy.signal.butter(order, design_hz, btype=btype, fs=sr, output="sos")

    sections = [design_edge(low_hz, "highpass")]
    if high_hz is not None and high_hz < nyquist:
        if high_hz <= low_hz:
            raise ValueError(f"high_hz ({high_hz}) must be above low_hz ({low_hz})")
        sections.append(design_edge(high_hz, "lowpass"))
    return np.concatenate(sections, axis=0)


def filter_sos(config: AudioConfig = AudioConfig()) -> np.ndarray:
    """The band-pass :func:`preprocess_recording` applies at ``config.sample_rate``.

    Returns
    -------
    sos : np.ndarray [shape=(n_sections, 6)]
    """
    return bandpass_sos(sr=config.sample_rate, low_hz=config.low_hz, high_hz=config.high_hz,
                        order=config.filter_order, zero_phase=True)


def zero_phase_response(sos: np.ndarray, *, sr: int, freqs: np.ndarray) -> np.ndarray:
    """Magnitude of ``sosfiltfilt(sos, .)`` at ``freqs`` (Hz): the single-pass |H| squared.

    Returns
    -------
    gain : np.ndarray [shape=freqs.shape]
        Linear gain (1 = unchanged).
    """
    _, response = scipy.signal.sosfreqz(sos, worN=np.asarray(freqs, dtype=float), fs=sr)
    return np.abs(response) ** 2


def normalize_peak(y: np.ndarray) -> np.ndarray:
    """Scale ``y`` by its peak absolute value so it lies in [-1, 1]; silence stays zero.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]

    Returns
    -------
    y_norm : np.ndarray [shape=(..., n)], same dtype as ``y``
    """
    peak = np.max(np.abs(y), axis=-1, keepdims=True)
    return (y / np.where(peak > 0, peak, 1)).astype(y.dtype, copy=False)


def preprocess_recording(y: np.ndarray, *, sr: int, config: AudioConfig = AudioConfig()) -> np.ndarray:
    """Resample a whole recording, band-pass it and normalise it (the paper's pre-processing).

    Filter a whole recording, never a single cycle: the zero-phase filter needs
    context on both sides, and cycles cut afterwards keep their true edges.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples at ``sr``.
    sr : int
        Sample rate of ``y``.
    config : AudioConfig
        Target rate, filter edges and order, resampler, normalisation.

    Returns
    -------
    y_out : np.ndarray [shape=(round(n * config.sample_rate / sr),), dtype=float32]
        Resampled to ``config.sample_rate``, filtered, and (if ``config.normalize``)
        scaled into [-1, 1].
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n,), got shape {y.shape}")
    if sr != config.sample_rate:
        y = librosa.resample(y, orig_sr=sr, target_sr=config.sample_rate, res_type=config.resample_type)
    sos = filter_sos(config)
    if y.size > 1:
        # sosfiltfilt needs more samples than its edge padding; shorten it for tiny inputs.
        default_padlen = 3 * (2 * len(sos) + 1)
        y = scipy.signal.sosfiltfilt(sos, y, padlen=min(default_padlen, y.size - 1))
    if config.normalize:
        y = normalize_peak(y)
    return y.astype(np.float32)


def extract_cycles(y: np.ndarray, *, sr: int, starts: Sequence[float] | np.ndarray,
                   ends: Sequence[float] | np.ndarray) -> list[np.ndarray]:
    """Cut annotated breathing cycles out of a recording.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The (pre-processed) recording.
    sr : int
        Its sample rate.
    starts, ends : array-like [shape=(n_cycles,)]
        Cycle boundaries in seconds, as in the annotation files.

    Returns
    -------
    cycles : list of np.ndarray [shape=(n_i,)]
        Copies of ``y[round(start * sr):round(end * sr)]``, clipped to the
        recording. A cycle annotated past the end of the audio comes out shorter,
        or empty; the caller decides whether to keep it.
    """
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    if starts.shape != ends.shape or starts.ndim != 1:
        raise ValueError(f"starts and ends must be 1-D and of equal length, got {starts.shape} and {ends.shape}")
    if np.any(ends < starts):
        bad = int(np.argmax(ends < starts))
        raise ValueError(f"cycle {bad} ends ({ends[bad]} s) before it starts ({starts[bad]} s)")
    first = np.clip(np.round(starts * sr).astype(int), 0, len(y))
    last = np.clip(np.round(ends * sr).astype(int), 0, len(y))
    return [y[a:b].copy() for a, b in zip(first, last)]


def player_clip(y: np.ndarray, *, sr: int, target_sr: int = 4000, gain: float = 1.0,
                max_seconds: float | None = None, res_type: str = "soxr_hq") -> tuple[np.ndarray, int]:
    """A clip for a player at a fixed ``gain``: resampled to ``target_sr``, cut to ``max_seconds``, kept in (−1, 1).

    Players rescale each clip to full scale unless told not to (``IPython.display.Audio(..., normalize=False)``);
    with one fixed gain, loudness compares from clip to clip. 4 kHz keeps all the model hears (0–2 kHz) in
    a tenth of a 44.1 kHz clip's size.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
        ``y``'s sample rate; a lower rate than ``target_sr`` is kept as it is.

    Returns
    -------
    (np.ndarray [shape=(m,)], int)
        The clip (float32) and its sample rate.
    """
    y = np.asarray(y, dtype=np.float32)
    if sr > target_sr:
        y, sr = librosa.resample(y, orig_sr=sr, target_sr=target_sr, res_type=res_type), target_sr
    if max_seconds is not None:
        y = y[: int(round(max_seconds * sr))]
    return np.clip(gain * y, -1.0, 1.0).astype(np.float32), int(sr)
