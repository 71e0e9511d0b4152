"""What a real chest recording holds besides breathing and adventitious sounds, and carries no label.

Real ICBHI cycles annotated *normal* are rarely clean: heart sounds are often louder than the
breath, muscle and contact noise fill the band below 100 Hz, the stethoscope's friction on
skin and hair and the patient's movements make short clicks, mains hum leaves steady lines,
and some patients groan or hum while breathing (``respirenet data realism`` on the six real
recordings of ``../shared/icbhi-audio-sample`` measured all of these). A model trained on
clean synthetic normals learns "a click or a tone means abnormal" and calls every real cycle
abnormal, so every synthetic recording gets this clutter, whatever its class and whatever
the ``difficulty`` (which still sets the adventitious sounds, the ambient noise and the extra
event-like artifacts of :mod:`respirelib.data.synth.difficulty`).

Sources, beside the code that follows them:

- Pasterkamp, Kraman & Wodicka, "Respiratory sounds: advances beyond the stethoscope",
  Am J Respir Crit Care Med 156 (1997) 974-987: heart and muscle sounds overlap lung sounds
  below about 100-150 Hz, which is why lung-sound work high-passes there; friction and
  movement of the sensor produce transients that can mimic crackles.
- Sovijärvi et al., "Definition of terms for applications of respiratory sounds" (CORSA),
  Eur Respir Rev 10 (2000) 597-610: heart sounds, muscle sounds, friction and ambient noise as
  the interfering sounds of a lung-sound recording.
- Rocha et al., "An open access database for the evaluation of respiratory sound
  classification algorithms", Physiol Meas 40 (2019) 035001: ICBHI recordings were made in
  clinical conditions and contain heart beats, stethoscope friction, speech and other noise.
- Mains hum: the ICBHI recordings come from Portugal and Greece, where mains is 50 Hz; hum
  lines sit on multiples of it (the real Meditron sample shows lines near 900, 1000 and 1200 Hz).

All levels are in dB relative to the breath sound's RMS at the loudest point of a normal
inspiration, as in :mod:`respirelib.data.synth.difficulty`.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

HEART_LEVEL_DB_BY_LOCATION = {"Al": 4.0, "Ll": 3.0, "Ar": 0.0, "Lr": 0.0, "Pl": -4.0, "Pr": -5.0, "Tc": -8.0}
# Heart-sound peak level over breath RMS before the location offset (real sample: heart-band frames
# 3-20 dB over breath-band frames; a heart sound's energy is mostly below 150 Hz, Pasterkamp 1997).
# Sound model 3 raised it by 4 dB: the realism report found sound model 2's heart sounds 4-6 dB
# weaker than the real ones on every device (results/realism_calibration.json).
HEART_LEVEL_DB = (12.0, 28.0)
# Muscle and contact rumble (below ~100 Hz, Pasterkamp 1997): RMS over breath RMS.
RUMBLE_LEVEL_DB = (-2.0, 10.0)
# Friction and handling clicks per second (log-uniform; the real sample shows 2-6 transients a
# second, heart-sound onsets included) and their peak level over breath RMS. Sound model 3 doubled
# the rate: sound model 2's normal cycles carried half the real Litt3200 patient's transients.
CLICKS_PER_SECOND = (1.0, 8.0)
CLICK_LEVEL_DB = (-10.0, 10.0)
# Share of recordings with mains hum, hum lines per such recording, and their level.
HUM_SHARE = 0.5
HUM_LINES = (1, 3)
HUM_LEVEL_DB = (-42.0, -26.0)
# Share of recordings whose patient groans or hums while breathing, the share of breaths that
# carry a voiced sound in such a recording, its fundamental frequency and level.
VOICE_SHARE = 0.3
VOICE_BREATH_SHARE = (0.3, 1.0)
VOICE_F0_HZ = (80.0, 250.0)
VOICE_LEVEL_DB = (0.0, 14.0)


def db(level_db: float) -> float:
    """Amplitude ratio of ``level_db`` decibels."""
    return float(10.0 ** (level_db / 20.0))


def add_at(signal: np.ndarray, start: int, wave: np.ndarray) -> None:
    """Add ``wave`` into ``signal`` from index ``start``, cutting whatever falls outside."""
    first = max(start, 0)
    last = min(start + len(wave), len(signal))
    if first < last:
        signal[first:last] += wave[first - start:last - start].astype(signal.dtype, copy=False)


def damped_tone(tau: np.ndarray, freq: float, decay: float) -> np.ndarray:
    """A tone that rises and decays with time constant ``decay`` (peak about 1); zero for ``tau < 0``."""
    x = np.maximum(tau, 0.0) / decay
    return np.where(tau >= 0, x * np.exp(1.0 - x) * np.sin(2 * np.pi * freq * tau), 0.0)


def heart_sounds(n: int, sr: int, *, child: bool, location: str, rng: np.random.Generator) -> np.ndarray:
    """S1 and S2 at 58-95 beats per minute (85-150 for children), louder on the left front of the chest.

    Each sound is a low damped tone (S1 35-70 Hz, S2 50-100 Hz) plus a short band-limited noise
    burst that carries its sharp onset (valve closure) up to a few hundred hertz: heart-sound
    energy lies mostly below 150 Hz (Pasterkamp 1997), but in the real sample each beat's onset
    also shows above 300 Hz as a transient.

    Returns
    -------
    heart : np.ndarray [shape=(n,), dtype=float32]
    """
    rate = rng.uniform(85.0, 150.0) if child else rng.uniform(58.0, 95.0)
    interval = 60.0 / rate
    n_beats = int(n / sr / interval) + 2
    times = np.cumsum(interval * (1.0 + 0.04 * rng.standard_normal(n_beats))) - rng.uniform(0.0, interval)
    second_at = 0.3 * np.sqrt(interval)
    tau = np.arange(int((second_at + 0.15) * sr)) / sr
    burst = _lowpass_noise(len(tau), sr, rng.uniform(300.0, 600.0), rng)
    onset = np.exp(-np.maximum(tau, 0.0) / 0.012) + 0.6 * np.where(tau >= second_at,
                                                                   np.exp(-np.maximum(tau - second_at, 0) / 0.01), 0)
    beat = (damped_tone(tau, rng.uniform(35.0, 70.0), 0.025) + 0.6 * damped_tone(tau - second_at,
                                                                                rng.uniform(50.0, 100.0), 0.02)
            + 1.0 * burst * onset / max(np.max(np.abs(burst)), 1e-9))
    beat *= db(rng.uniform(*HEART_LEVEL_DB) + HEART_LEVEL_DB_BY_LOCATION[location]) / np.max(np.abs(beat))
    out = np.zeros(n, dtype=np.float32)
    for time in times:
        add_at(out, int(round(time * sr)), beat * rng.uniform(0.8, 1.2))
    return out


def _lowpass_noise(n: int, sr: int, corner_hz: float, rng: np.random.Generator) -> np.ndarray:
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    spectrum = (rng.standard_normal(len(freqs)) + 1j * rng.standard_normal(len(freqs))) / (1.0 + (freqs / corner_hz) ** 2)
    return scipy.fft.irfft(spectrum, n)


def rumble(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Muscle and contact noise below about 100 Hz, its level wandering over a few seconds [shape=(n,)]."""
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    # Steep above its corner: muscle and contact noise stays below about 100 Hz.
    shape = 1.0 / np.sqrt(1.0 + (freqs / rng.uniform(40.0, 80.0)) ** 12)
    spectrum = (rng.standard_normal(len(freqs)) + 1j * rng.standard_normal(len(freqs))) * shape
    noise = scipy.fft.irfft(spectrum, n)
    noise /= max(float(np.std(noise)), 1e-12)
    # A slow random envelope (about 0.3 Hz): posture and pressure on the chest piece change.
    knots = rng.lognormal(0.0, 0.5, int(n / sr / 3.0) + 2)
    envelope = np.interp(np.arange(n) / sr, np.linspace(0.0, n / sr, len(knots)), knots)
    return (noise * envelope * db(rng.uniform(*RUMBLE_LEVEL_DB))).astype(np.float32)


def add_clicks(body: np.ndarray, sr: int, rng: np.random.Generator) -> None:
    """Friction and handling transients, single or in short bursts (a rub), at random times.

    A click is a broadband decaying noise burst of 0.5-3 ms; a fifth of them come as a rub of
    3-8 clicks within 50-250 ms. Their timing follows no breath phase: that, and their lack
    of a crackle's ringing waveform, is what tells them from crackles.
    """
    rate = np.exp(rng.uniform(np.log(CLICKS_PER_SECOND[0]), np.log(CLICKS_PER_SECOND[1])))
    for _ in range(int(rng.poisson(rate * len(body) / sr))):
        at = int(rng.integers(len(body)))
        level = rng.uniform(*CLICK_LEVEL_DB)
        if rng.random() < 0.2:
            span = rng.uniform(0.05, 0.25)
            for offset in np.sort(rng.uniform(0.0, span, int(rng.integers(3, 9)))):
                add_at(body, at + int(offset * sr), _click(sr, rng) * db(level - rng.uniform(0.0, 8.0)))
        else:
            add_at(body, at, _click(sr, rng) * db(level))


def _click(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = max(2, int(rng.uniform(0.0005, 0.003) * sr))
    return rng.standard_normal(n) * np.exp(-np.arange(n) / (0.3 * n))


def hum(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Steady mains-hum lines on multiples of 50 Hz (300-1500 Hz), whole-recording long [shape=(n,)]."""
    out = np.zeros(n, dtype=np.float32)
    t = np.arange(n) / sr
    for _ in range(int(rng.integers(HUM_LINES[0], HUM_LINES[1] + 1))):
        freq = 50.0 * rng.integers(6, 31)
        if freq < 0.45 * sr:
            drift = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 2 * np.pi))
            out += (np.sqrt(2) * db(rng.uniform(*HUM_LEVEL_DB)) * drift
                    * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))).astype(np.float32)
    return out


def voiced_sound(sr: int, duration: float, rng: np.random.Generator) -> np.ndarray:
    """A groan or hum: a harmonic stack shaped by vocal-tract formants, under an arched pitch contour.

    Source-filter model of the voice (Fant, *Acoustic Theory of Speech Production*, 1960): a
    glottal source whose harmonics fall as 1/k, filtered by two formant resonances in series (F1 250-800 Hz,
    F2 900-1500 Hz, bandwidths 60-150 Hz), so the loudest line is often a harmonic near F1 rather
    than the fundamental. Unlike a wheeze (one or a few unrelated sinusoids,
    :mod:`respirelib.data.synth.adventitious`), a voiced sound carries a low fundamental (80-250 Hz,
    the range of adult voices, Titze 1994) and a dense stack of harmonics up to 1.5 kHz that move
    together.

    Returns
    -------
    wave : np.ndarray [shape=(round(duration * sr),)]
        Peak about 1.
    """
    n = int(round(duration * sr))
    x = np.linspace(0.0, 1.0, n)
    f0 = rng.uniform(*VOICE_F0_HZ) * (1.0 + rng.uniform(0.05, 0.3) * np.sin(np.pi * x) - rng.uniform(0.0, 0.15) * x)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    formants = [(rng.uniform(250.0, 800.0), rng.uniform(60.0, 150.0)),
                (rng.uniform(900.0, 1500.0), rng.uniform(80.0, 150.0))]
    wave = np.zeros(n)
    for k in range(1, 21):
        if k * f0.max() >= min(1500.0, 0.45 * sr):
            break
        gain = np.prod([_resonance(k * f0, centre, bandwidth) for centre, bandwidth in formants], axis=0)
        wave += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
    envelope = np.sin(np.pi * x) ** 0.7
    return wave * envelope / max(float(np.max(np.abs(wave * envelope))), 1e-9)


def _resonance(freq: np.ndarray, centre: float, bandwidth: float) -> np.ndarray:
    """Magnitude of a second-order resonance (1 at 0 Hz, about centre/bandwidth at its peak)."""
    ratio = freq / centre
    return 1.0 / np.sqrt((1.0 - ratio ** 2) ** 2 + (freq * bandwidth / centre ** 2) ** 2)


def add_voice(body: np.ndarray, sr: int, segments: list[tuple[float, float, float]], rng: np.random.Generator) -> None:
    """Voiced sounds in some breaths of a patient who vocalises (:data:`VOICE_SHARE` of recordings).

    ``segments`` holds (start, length, inspiratory share) of every breath of the recording.
    """
    if rng.random() >= VOICE_SHARE:
        return
    share = rng.uniform(*VOICE_BREATH_SHARE)
    level = rng.uniform(*VOICE_LEVEL_DB)
    for start, length, inspiration in segments:
        if rng.random() < share:
            # Mostly on expiration (a groan), sometimes on inspiration.
            phase_start, phase_length = ((start + inspiration * length, (1 - inspiration) * length)
                                         if rng.random() < 0.6 else (start, inspiration * length))
            duration = min(rng.uniform(0.15, 1.2), 0.9 * phase_length)
            begin = phase_start + rng.uniform(0.0, max(0.0, phase_length - duration))
            add_at(body, int(begin * sr), voiced_sound(sr, duration, rng) * db(level + rng.normal(0.0, 2.0)))
