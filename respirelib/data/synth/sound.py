"""The sound of one synthetic recording: breathing, heart, clutter, adventitious events, device.

Signal model (sound model 4, :data:`SOUND_VERSION`), in the order it is built:

1. Breath sound: Gaussian noise shaped in the frequency domain (a high-pass at
   100 Hz and a roll-off from 150-300 Hz at the chest wall, 600-1000 Hz at the
   trachea), multiplied by an envelope that follows the annotated cycles: a
   louder inspiration (34 % of the cycle for obstructive diagnoses, 42 %
   otherwise) and a quieter, longer expiration. Breathing continues before the
   first and after the last annotated cycle. Normal vesicular sound at the chest
   wall is noise whose power falls steeply above 100-200 Hz and which is faint in
   expiration (CORSA, Sovijärvi et al. 2000; Gavriely et al., J Appl Physiol 50
   (1981) 307-314); the tracheal sound is louder and brighter.
2. Clutter that every recording carries, whatever its class and difficulty
   (:mod:`respirelib.data.synth.clutter`): heart sounds, muscle and contact rumble
   below 100 Hz, friction and handling clicks and rubs (each through its own low-pass,
   so most fade upward), mains hum and steady noise bands in some recordings, groans,
   hums or grunts of some patients (voiced sounds: harmonic stacks shaped by formants;
   grunts short, abrupt and breathy).
3. Adventitious sounds, per annotated cycle (:mod:`respirelib.data.synth.adventitious`):
   explosive crackles (fine: about 5 ms, late in inspiration; coarse: about 15 ms,
   early in inspiration or in expiration) and wheezes of 100-1000 Hz whose pitch
   moves, monophonic or polyphonic, mostly in expiration, from short (80-400 ms)
   to a whole breath phase, and from loud to faint under the breath sound.
   "Both" cycles get both. Levels, densities and label noise follow
   :mod:`respirelib.data.synth.difficulty`.
4. Artifacts that the difficulty adds: more clicks, movement thumps and short
   (under 80 ms) tonal blips, which look like crackles and wheezes but are not.
5. Device: ambient noise (pink) through the device's response, plus the
   device's white self-noise; band-limited recordings then lose everything
   above 1.5 kHz (see :mod:`respirelib.data.synth.devices`).

Sound model 1 (before issue 21) had no clutter, heart sounds 10-20 dB too weak,
single-sinusoid crackles and straight harmonic wheezes; ``respirenet data realism``
measured it against real ICBHI recordings (``results/realism_calibration.json``).
Sound model 3 (issue 21, second round) added short and fainter wheezes and formant-shaped
groans with lower fundamentals and up to whole-phase length: model 2 taught a classifier
to miss faint, short real wheezes and to call real groans wheezes
(``results/transfer_icbhi_sample_sound2.json``).
Sound model 4 (issue 21, third round) took the full-band step out of each heart sound's onset
and gave clicks a low-pass of their own: in model 3 every heart beat and every click drew a
line across the whole band, so the only transients that faded upward were crackles, and a
classifier called most real normal cycles abnormal
(``results/transfer_icbhi_sample_sound3_quick.json``). It also adds steady noise bands, like
the one that runs through the real healthy Meditron recording 102_1b1_Ar, and grunts: short
broadband voiced bursts, which model 3's smooth groans did not teach a classifier to ignore.

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

from respirelib.data.synth import clutter
from respirelib.data.synth.adventitious import add_crackles, add_wheezes
from respirelib.data.synth.clutter import add_at, damped_tone, db
from respirelib.data.synth.devices import DEVICE_PROFILES, DeviceProfile, blank_region_mask
from respirelib.data.synth.difficulty import SILENT_DROP_DB, SPURIOUS_DROP_DB, DifficultySettings
from respirelib.data.synth.plan import RecordingPlan

# Revision of the signal model: part of the default synthetic folders' names
# (respirelib.data.data_dirs.default_synthetic_dir) and of every marker, so a set written by
# an older model is never taken for a current one.
SOUND_VERSION = 4
AUDIO_STREAM = 1
OBSTRUCTIVE_DIAGNOSES = ("COPD", "Asthma", "Bronchiectasis", "Bronchiolitis")
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
        Samples at ``recording.sample_rate`` with a peak level drawn from the device's
        :attr:`~respirelib.data.synth.devices.DeviceProfile.peak_dbfs`.
    """
    rng = recording_rng(seed, recording.name)
    profile = DEVICE_PROFILES[recording.device]
    sr = profile.body_rate
    n = recording.n_samples // (recording.sample_rate // sr)
    breathing = _Breathing.draw(np.asarray(recording.cycle_bounds_ms) / 1000.0, n / sr,
                                obstructive=recording.diagnosis in OBSTRUCTIVE_DIAGNOSES, rng=rng)
    body = _breath_sound(breathing, n, sr, tracheal=recording.location == "Tc", rng=rng)
    body += clutter.heart_sounds(n, sr, child=recording.child, location=recording.location, rng=rng)
    body += clutter.rumble(n, sr, rng)
    clutter.add_clicks(body, sr, rng)
    if rng.random() < profile.hum_share:
        body += clutter.hum(n, sr, rng)
    if rng.random() < clutter.NOISE_BAND_SHARE:
        body += clutter.noise_band(n, sr, rng)
    clutter.add_voice(body, sr, breathing.segments(), rng)
    _add_adventitious_sounds(body, sr, breathing, recording, settings, rng)
    _add_artifacts(body, sr, settings, rng)
    y = _through_device(body, sr, recording, profile, settings, rng)
    peak = float(np.max(np.abs(y)))
    return (y * (db(rng.uniform(*profile.peak_dbfs)) / peak)).astype(np.float32)


class _Breathing:
    """Breath segments covering the whole recording; annotated cycle ``i`` is segment ``first + i``."""

    audible_expiration = 0.65  # share of the expiratory phase with breath sound

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

    def segments(self) -> list[tuple[float, float, float]]:
        """Start, length (s) and inspiratory share of every breath, annotated or not."""
        return [(self.edges[k], self.edges[k + 1] - self.edges[k], self.inspiration[k])
                for k in range(len(self.gains))]

    def envelope(self, n: int, sr: int, *, expiration_level: float) -> np.ndarray:
        """Breath loudness [shape=(n,)]: rises and falls in inspiration, weaker in expiration."""
        t = np.arange(n) / sr
        segment = np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, len(self.gains) - 1)
        length = self.edges[segment + 1] - self.edges[segment]
        phase = np.clip((t - self.edges[segment]) / length, 0.0, 1.0)
        share = self.inspiration[segment]
        inspiring = np.sin(np.pi * np.clip(phase / share, 0.0, 1.0)) ** 1.5
        # Expiration is heard in its first 60-70 % only, then the pause before the next breath:
        # vesicular sound is faint and short in expiration (CORSA).
        x = np.clip((phase - share) / (1.0 - share) / self.audible_expiration, 0.0, 1.0)
        expiring = expiration_level * np.sin(np.pi * x) ** 1.2 * (1.0 - 0.4 * x)
        shape = np.where(phase < share, inspiring, expiring)
        return (self.gains[segment] * (0.02 + 0.98 * shape)).astype(np.float32)


def _breath_sound(breathing: _Breathing, n: int, sr: int, *, tracheal: bool, rng: np.random.Generator) -> np.ndarray:
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    # Chest wall: power falls steeply above 150-300 Hz (CORSA; Gavriely et al. 1981), about 18 dB per
    # octave here; the trachea is flatter up to 600-1000 Hz and louder in expiration.
    corner = rng.uniform(600.0, 1000.0) if tracheal else rng.uniform(150.0, 300.0)
    highpass = (freqs / 100.0) ** 2 / (1.0 + (freqs / 100.0) ** 2)
    amplitude = highpass / np.sqrt(1.0 + (freqs / corner) ** (6 if not tracheal else 4))
    noise = scipy.fft.irfft(_complex_gaussian(len(freqs), rng) * amplitude.astype(np.float32), n)
    noise /= np.std(noise)
    level = rng.uniform(0.75, 1.0) if tracheal else rng.uniform(0.2, 0.5)
    return noise * breathing.envelope(n, sr, expiration_level=level)


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
            add_crackles(body, sr, start, length, inspiration, gain_db, sparse, settings, rng)
        if wheeze:
            add_wheezes(body, sr, start, length, inspiration, gain_db, sparse, settings, rng)


def _add_artifacts(body: np.ndarray, sr: int, settings: DifficultySettings, rng: np.random.Generator) -> None:
    """The difficulty's extra clicks, thumps and short tonal blips: event-like sounds that carry no label."""
    count = int(rng.poisson(settings.artifacts_per_second * len(body) / sr))
    for _ in range(count):
        kind = rng.random()
        if kind < 0.5:
            n = max(2, int(rng.uniform(0.001, 0.003) * sr))
            wave = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.3 * n)) * db(rng.uniform(0.0, 18.0))
        elif kind < 0.7:
            tau = np.arange(int(rng.uniform(0.1, 0.3) * sr)) / sr
            wave = damped_tone(tau, rng.uniform(15.0, 50.0), rng.uniform(0.02, 0.05)) * db(rng.uniform(6.0, 20.0))
        else:
            n = int(rng.uniform(0.03, 0.07) * sr)
            freq = rng.uniform(150.0, min(900.0, 0.45 * sr))
            wave = np.sin(2 * np.pi * freq * np.arange(n) / sr) * np.hanning(n) * db(rng.uniform(*settings.wheeze_level_db))
        add_at(body, int(rng.integers(len(body))), wave)


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
    ambient_db = settings.ambient_db + profile.ambient_offset_db + rng.normal(0.0, 4.0)
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
    """Spectrum of stationary noise whose variance within 50-2000 Hz is ``level_db`` (re 1).

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
