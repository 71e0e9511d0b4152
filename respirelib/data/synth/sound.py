"""The sound of one synthetic recording: breathing, heart, noise, adventitious events, device.

Signal model, in the order it is built:

1. Breath sound: Gaussian noise shaped in the frequency domain (a high-pass at
   100 Hz and a roll-off from 180–350 Hz at the chest wall, 600–1000 Hz at the
   trachea), multiplied by an envelope that follows the annotated cycles: a
   louder inspiration (34 % of the cycle for obstructive diagnoses, 42 %
   otherwise) and a quieter, longer expiration. Breathing continues before the
   first and after the last annotated cycle.
2. Heart sounds: S1 and S2 as damped 35–90 Hz tones at 58–95 beats per minute
   (85–135 for children), louder on the left front of the chest.
3. Adventitious sounds, per annotated cycle: crackles are 5–15 ms damped
   transients at 100–650 Hz (fine: shorter and higher, late in inspiration;
   coarse: longer and lower, early in inspiration or in expiration); wheezes are
   tones of 100–1000 Hz with up to three harmonics, lasting at least 80 ms,
   possibly gliding in pitch and sometimes polyphonic, mostly in expiration.
   "Both" cycles get both. Levels, densities and label noise follow
   :mod:`respirelib.data.synth.difficulty`.
4. Artifacts: stethoscope clicks (1–3 ms, broadband), movement thumps and short
   (under 80 ms) tonal blips, which look like crackles and wheezes but are not.
5. Device: ambient noise (pink) through the device's response, plus the
   device's white self-noise; band-limited recordings then lose everything
   above 1.5 kHz (see :mod:`respirelib.data.synth.devices`).

All of it is synthesised at the device rate, or at 11.025 kHz for 44.1 kHz
devices, whose body sound is then up-sampled exactly by zero-padding its
spectrum. Each recording draws from its own generator, seeded by the dataset
seed and the recording's name, so the result does not depend on the order (or
the process) in which recordings are made.
"""

from __future__ import annotations

import zlib

import numpy as np
import scipy.fft
from scipy.signal.windows import tukey

from respirelib.data.synth.devices import DEVICE_PROFILES, DeviceProfile, blank_region_mask
from respirelib.data.synth.difficulty import SILENT_DROP_DB, SPURIOUS_DROP_DB, DifficultySettings
from respirelib.data.synth.plan import RecordingPlan

AUDIO_STREAM = 1
OBSTRUCTIVE_DIAGNOSES = ("COPD", "Asthma", "Bronchiectasis", "Bronchiolitis")
HEART_LEVEL_DB_BY_LOCATION = {"Al": 4.0, "Ll": 3.0, "Ar": 0.0, "Lr": 0.0, "Pl": -4.0, "Pr": -5.0, "Tc": -8.0}
MIN_WHEEZE_SECONDS = 0.08
NOISE_BAND_HZ = (50.0, 2000.0)


def recording_rng(seed: int, name: str) -> np.random.Generator:
    """The generator that draws everything in the sound of recording ``name``."""
    return np.random.default_rng(np.random.SeedSequence([seed, AUDIO_STREAM, zlib.crc32(name.encode("ascii"))]))


def synthesize_recording(recording: RecordingPlan, *, settings: DifficultySettings, seed: int) -> np.ndarray:
    """Synthesise the audio of one planned recording.

    Parameters
    ----------
    recording : RecordingPlan
        Device, sample rate, length and annotated cycles.
    settings : DifficultySettings
        Event levels, densities, noise and label noise.
    seed : int
        Dataset seed; combined with the recording name.

    Returns
    -------
    y : np.ndarray [shape=(recording.n_samples,), dtype=float32]
        Samples at ``recording.sample_rate`` with a peak between 0.5 and 0.95.
    """
    rng = recording_rng(seed, recording.name)
    profile = DEVICE_PROFILES[recording.device]
    sr = profile.body_rate
    n = recording.n_samples // (recording.sample_rate // sr)
    breathing = _Breathing.draw(np.asarray(recording.cycle_bounds_ms) / 1000.0, n / sr,
                                obstructive=recording.diagnosis in OBSTRUCTIVE_DIAGNOSES, rng=rng)
    body = _breath_sound(breathing, n, sr, tracheal=recording.location == "Tc", rng=rng)
    body += _heart_sounds(n, sr, child=recording.child, location=recording.location, rng=rng)
    _add_adventitious_sounds(body, sr, breathing, recording, settings, rng)
    _add_artifacts(body, sr, settings, rng)
    y = _through_device(body, sr, recording, profile, settings, rng)
    peak = float(np.max(np.abs(y)))
    return (y * (rng.uniform(0.5, 0.95) / peak)).astype(np.float32)


class _Breathing:
    """Breath segments covering the whole recording; annotated cycle ``i`` is segment ``first + i``."""

    def __init__(self, edges: np.ndarray, inspiration: np.ndarray, gains: np.ndarray, first: int):
        self.edges = edges
        self.inspiration = inspiration
        self.gains = gains
        self.first = first

    @classmethod
    def draw(cls, bounds: np.ndarray, duration: float, *, obstructive: bool, rng: np.random.Generator):
        first_length = bounds[1] - bounds[0]
        last_length = bounds[-1] - bounds[-2]
        n_before = int(np.ceil(bounds[0] / first_length))
        n_after = max(1, int(np.ceil((duration - bounds[-1]) / last_length)))
        edges = np.concatenate([bounds[0] - first_length * np.arange(n_before, 0, -1), bounds,
                                bounds[-1] + last_length * np.arange(1, n_after + 1)])
        n_segments = len(edges) - 1
        inspiration = np.clip(rng.normal(0.34 if obstructive else 0.42, 0.04, n_segments), 0.25, 0.55)
        gains = rng.lognormal(0.0, 0.15, n_segments)
        return cls(edges, inspiration, gains, n_before)

    def cycle(self, i: int) -> tuple[float, float, float]:
        """Start, length (s) and inspiratory share of annotated cycle ``i``."""
        segment = self.first + i
        start = self.edges[segment]
        return start, self.edges[segment + 1] - start, self.inspiration[segment]

    def envelope(self, n: int, sr: int, *, expiration_level: float) -> np.ndarray:
        """Breath loudness [shape=(n,)]: rises and falls in inspiration, weaker in expiration."""
        t = np.arange(n) / sr
        segment = np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, len(self.gains) - 1)
        length = self.edges[segment + 1] - self.edges[segment]
        phase = np.clip((t - self.edges[segment]) / length, 0.0, 1.0)
        share = self.inspiration[segment]
        inspiring = np.sin(np.pi * np.clip(phase / share, 0.0, 1.0)) ** 1.5
        x = np.clip((phase - share) / (1.0 - share), 0.0, 1.0)
        expiring = expiration_level * np.sin(np.pi * x) ** 1.2 * (1.0 - 0.4 * x)
        shape = np.where(phase < share, inspiring, expiring)
        return (self.gains[segment] * (0.04 + 0.96 * shape)).astype(np.float32)


def _breath_sound(breathing: _Breathing, n: int, sr: int, *, tracheal: bool, rng: np.random.Generator) -> np.ndarray:
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    corner = rng.uniform(600.0, 1000.0) if tracheal else rng.uniform(180.0, 350.0)
    highpass = (freqs / 100.0) ** 2 / (1.0 + (freqs / 100.0) ** 2)
    amplitude = highpass * (1.0 / (1.0 + (freqs / corner) ** 2) + 0.03 / (1.0 + (freqs / 1200.0) ** 4))
    noise = scipy.fft.irfft(_complex_gaussian(len(freqs), rng) * amplitude.astype(np.float32), n)
    noise /= np.std(noise)
    level = rng.uniform(0.75, 1.0) if tracheal else rng.uniform(0.35, 0.65)
    return noise * breathing.envelope(n, sr, expiration_level=level)


def _heart_sounds(n: int, sr: int, *, child: bool, location: str, rng: np.random.Generator) -> np.ndarray:
    rate = rng.uniform(85.0, 135.0) if child else rng.uniform(58.0, 95.0)
    interval = 60.0 / rate
    n_beats = int(n / sr / interval) + 2
    times = np.cumsum(interval * (1.0 + 0.04 * rng.standard_normal(n_beats))) - rng.uniform(0.0, interval)
    second_at = 0.3 * np.sqrt(interval)
    tau = np.arange(int((second_at + 0.15) * sr)) / sr
    beat = (_damped_tone(tau, rng.uniform(35.0, 60.0), 0.025)
            + 0.6 * _damped_tone(tau - second_at, rng.uniform(50.0, 90.0), 0.02))
    beat *= _db(rng.uniform(-8.0, 4.0) + HEART_LEVEL_DB_BY_LOCATION[location])
    out = np.zeros(n, dtype=np.float32)
    for time in times:
        _add_at(out, int(round(time * sr)), beat)
    return out


def _add_adventitious_sounds(body: np.ndarray, sr: int, breathing: _Breathing, recording: RecordingPlan,
                             settings: DifficultySettings, rng: np.random.Generator) -> None:
    offset_db = rng.normal(0.0, settings.recording_level_sd_db)
    for i, (crackle, wheeze) in enumerate(zip(recording.crackles, recording.wheezes)):
        start, length, inspiration = breathing.cycle(i)
        gain_db, sparse = offset_db, False
        if crackle or wheeze:
            if rng.random() < settings.silent_share:
                gain_db -= SILENT_DROP_DB
            if crackle and wheeze and rng.random() < settings.one_sided_both_share:
                crackle, wheeze = (True, False) if rng.random() < 0.5 else (False, True)
        elif rng.random() < settings.spurious_share:
            crackle = rng.random() < 0.6
            wheeze = not crackle
            gain_db -= SPURIOUS_DROP_DB
            sparse = True
        if crackle:
            _add_crackles(body, sr, start, length, inspiration, gain_db, sparse, settings, rng)
        if wheeze:
            _add_wheezes(body, sr, start, length, inspiration, gain_db, sparse, settings, rng)


def _add_crackles(body, sr, start, length, inspiration, gain_db, sparse, settings, rng) -> None:
    mean = settings.crackles_per_cycle * min(length, 8.0) / 2.7
    count = 1 + int(rng.poisson(0.3 if sparse else mean))
    coarse = rng.random() < 0.5
    level_db = rng.uniform(*settings.crackle_level_db) + gain_db
    for _ in range(count):
        if coarse:
            where = rng.uniform(0.0, 0.6 * inspiration) if rng.random() < 0.7 else rng.uniform(inspiration, 0.9)
        else:
            where = rng.uniform(0.4 * inspiration, inspiration) if rng.random() < 0.9 else rng.uniform(inspiration, 0.9)
        wave = _crackle(sr, coarse=coarse, rng=rng) * _db(level_db + rng.normal(0.0, 3.0))
        _add_at(body, int((start + where * length) * sr), wave)


def _add_wheezes(body, sr, start, length, inspiration, gain_db, sparse, settings, rng) -> None:
    count = 1 if sparse or rng.random() < 0.75 else 2
    for _ in range(count):
        expiratory = rng.random() < 0.7
        phase_start = start + (inspiration * length if expiratory else 0.0)
        phase_length = length * ((1.0 - inspiration) if expiratory else inspiration)
        if sparse:
            duration = rng.uniform(MIN_WHEEZE_SECONDS, 0.15)
        else:
            duration = min(max(MIN_WHEEZE_SECONDS, rng.uniform(*settings.wheeze_coverage) * phase_length), 2.5)
        begin = phase_start + rng.uniform(0.0, max(0.0, phase_length - duration))
        wave = _wheeze(sr, duration, rng) * _db(rng.uniform(*settings.wheeze_level_db) + gain_db)
        _add_at(body, int(begin * sr), wave)


def _add_artifacts(body: np.ndarray, sr: int, settings: DifficultySettings, rng: np.random.Generator) -> None:
    """Clicks, thumps and short tonal blips: event-like sounds that carry no label."""
    count = int(rng.poisson(settings.artifacts_per_second * len(body) / sr))
    for _ in range(count):
        kind = rng.random()
        if kind < 0.5:
            n = max(2, int(rng.uniform(0.001, 0.003) * sr))
            wave = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.3 * n)) * _db(rng.uniform(0.0, 18.0))
        elif kind < 0.7:
            tau = np.arange(int(rng.uniform(0.1, 0.3) * sr)) / sr
            wave = _damped_tone(tau, rng.uniform(15.0, 50.0), rng.uniform(0.02, 0.05)) * _db(rng.uniform(6.0, 20.0))
        else:
            n = int(rng.uniform(0.03, 0.07) * sr)
            freq = rng.uniform(150.0, min(900.0, 0.45 * sr))
            wave = np.sin(2 * np.pi * freq * np.arange(n) / sr) * np.hanning(n) * _db(rng.uniform(*settings.wheeze_level_db))
        _add_at(body, int(rng.integers(len(body))), wave)


def _through_device(body: np.ndarray, body_rate: int, recording: RecordingPlan, profile: DeviceProfile,
                    settings: DifficultySettings, rng: np.random.Generator) -> np.ndarray:
    """Add ambient noise, apply the device's response and self-noise, and up-sample to its rate."""
    n, sr = recording.n_samples, recording.sample_rate
    factor = sr // body_rate
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    body_spectrum = scipy.fft.rfft(body) * np.float32(factor)
    spectrum = np.zeros(len(freqs), dtype=np.complex64)
    if factor > 1:
        # Nothing is synthesised near the body rate's Nyquist frequency, so fade out before it.
        edge = np.clip((freqs[:len(body_spectrum)] - 0.4 * body_rate) / (0.1 * body_rate), 0.0, 1.0)
        body_spectrum *= (0.5 * (1.0 + np.cos(np.pi * edge))).astype(np.float32)
    spectrum[:len(body_spectrum)] = body_spectrum
    ambient_db = settings.ambient_db + rng.normal(0.0, 4.0)
    spectrum += _noise_spectrum(freqs, n, sr, 1.0 / (1.0 + freqs / 60.0), ambient_db, rng)
    spectrum *= profile.response(freqs)
    hiss_db = profile.hiss_db + rng.normal(0.0, 2.0)
    spectrum += _noise_spectrum(freqs, n, sr, np.ones_like(freqs), hiss_db, rng)
    if recording.band_limited:
        spectrum *= blank_region_mask(freqs)
    spectrum[0] = 0.0
    return scipy.fft.irfft(spectrum, n)


def _noise_spectrum(freqs: np.ndarray, n: int, sr: int, psd_shape: np.ndarray, level_db: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Spectrum of stationary noise whose variance within 50–2000 Hz is ``level_db`` (re 1).

    For real noise of one-sided power density P(f), the rfft coefficients of n
    samples have E|X_k|^2 = n * sr * P(f_k) / 2.
    """
    in_band = (freqs >= NOISE_BAND_HZ[0]) & (freqs <= NOISE_BAND_HZ[1])
    band_power = np.sum(psd_shape[in_band]) * sr / n
    psd = psd_shape * (10.0 ** (level_db / 10.0) / band_power)
    return _complex_gaussian(len(freqs), rng) * np.sqrt(n * sr * psd / 4.0).astype(np.float32)


def _complex_gaussian(size: int, rng: np.random.Generator) -> np.ndarray:
    values = rng.standard_normal(2 * size, dtype=np.float32)
    return values[:size] + 1j * values[size:]


def _crackle(sr: int, *, coarse: bool, rng: np.random.Generator) -> np.ndarray:
    """One crackle with peak 1: fine 5–9 ms at 300–650 Hz, coarse 9–15 ms at 100–300 Hz."""
    duration = rng.uniform(0.009, 0.015) if coarse else rng.uniform(0.005, 0.009)
    freq = rng.uniform(100.0, 300.0) if coarse else rng.uniform(300.0, 650.0)
    n = max(3, int(round(duration * sr)))
    tau = np.arange(n) / sr
    peak_at = duration * rng.uniform(0.1, 0.25)
    fade = np.ones(n)
    n_fade = max(1, int(0.3 * n))
    fade[-n_fade:] = 0.5 * (1.0 + np.cos(np.pi * np.arange(1, n_fade + 1) / n_fade))
    envelope = (tau / peak_at) * np.exp(1.0 - tau / peak_at) * fade
    wave = envelope * np.sin(2 * np.pi * freq * tau + rng.uniform(-0.5, 0.5))
    return wave * (rng.choice((-1.0, 1.0)) / np.max(np.abs(wave)))


def _wheeze(sr: int, duration: float, rng: np.random.Generator) -> np.ndarray:
    """One wheeze of ``duration`` s whose fundamental has amplitude 1."""
    n = int(round(duration * sr))
    tau = np.arange(n) / sr
    start_freq = np.exp(rng.uniform(np.log(100.0), np.log(1000.0)))
    end_freq = start_freq * 2.0 ** rng.uniform(-0.4, 0.25)
    vibrato = 1.0 + 0.01 * np.sin(2 * np.pi * rng.uniform(3.0, 8.0) * tau)
    phase = 2 * np.pi * np.cumsum((start_freq + (end_freq - start_freq) * tau / duration) * vibrato) / sr
    top_freq = max(start_freq, end_freq)
    rolloff = rng.uniform(0.15, 0.6)
    wave = np.zeros(n)
    for k in range(1, 2 + int(rng.integers(0, 3))):
        if k * top_freq < 0.45 * sr:
            wave += rolloff ** (k - 1) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.25:
        ratio = rng.uniform(1.25, 1.9)
        if ratio * top_freq < 0.45 * sr:
            wave += rng.uniform(0.4, 0.9) * np.sin(ratio * phase + rng.uniform(0, 2 * np.pi))
    return wave * tukey(n, min(1.0, 2 * 0.025 / duration))


def _damped_tone(tau: np.ndarray, freq: float, decay: float) -> np.ndarray:
    """A tone that rises and decays with time constant ``decay`` (peak about 1); zero for ``tau < 0``."""
    x = np.maximum(tau, 0.0) / decay
    return np.where(tau >= 0, x * np.exp(1.0 - x) * np.sin(2 * np.pi * freq * tau), 0.0)


def _add_at(signal: np.ndarray, start: int, wave: np.ndarray) -> None:
    """Add ``wave`` into ``signal`` from index ``start``, cutting whatever falls outside."""
    first = max(start, 0)
    last = min(start + len(wave), len(signal))
    if first < last:
        signal[first:last] += wave[first - start:last - start].astype(signal.dtype, copy=False)


def _db(level_db: float) -> float:
    return float(10.0 ** (level_db / 20.0))
