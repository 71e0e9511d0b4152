"""What a real chest recording holds besides breathing and adventitious sounds, and carries no label.

Real ICBHI cycles annotated *normal* are rarely clean: heart sounds are often louder than the
breath, muscle and contact noise fill the band below 100 Hz, the stethoscope's friction on
skin and hair and the patient's movements make short clicks, mains hum leaves steady lines,
and some patients groan, hum or grunt while breathing (``respirenet data realism`` on the six real
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
- Klatt & Klatt, "Analysis, synthesis, and perception of voice quality variations among female
  and male talkers", J Acoust Soc Am 87 (1990) 820-857: breathy voice as aspiration noise
  through the vocal tract's formants, beside the harmonics (the grunts of :func:`voiced_sound`).
- Mains hum: the ICBHI recordings come from Portugal and Greece, where mains is 50 Hz; hum
  lines sit on multiples of it (the real Meditron sample shows lines near 900, 1000 and 1200 Hz).

All levels are in dB relative to the breath sound's RMS at the loudest point of a normal
inspiration, as in :mod:`respirelib.data.synth.difficulty`.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal
from scipy.signal.windows import tukey

HEART_LEVEL_DB_BY_LOCATION = {"Al": 4.0, "Ll": 3.0, "Ar": 0.0, "Lr": 0.0, "Pl": -4.0, "Pr": -5.0, "Tc": -8.0}
# Heart-sound peak level over breath RMS before the location offset (real sample: heart-band frames
# 3-20 dB over breath-band frames; a heart sound's energy is mostly below 150 Hz, Pasterkamp 1997).
# Sound model 3 raised it by 4 dB: the realism report found sound model 2's heart sounds 4-6 dB
# weaker than the real ones on every device (results/realism_calibration.json).
HEART_LEVEL_DB = (12.0, 28.0)
# Corner of the noise burst that carries a heart sound's onset (fourth-order roll-off above it).
# Real heart sounds barely reach above 600 Hz: the realism report's heart_reach_db is 0-5 dB on the
# real Meditron and LittC2SE recordings. Sound model 3's burst (second order, 300-600 Hz, starting
# at full strength) drew a line across the whole band at every beat.
HEART_BURST_CORNER_HZ = (200.0, 450.0)
# Muscle and contact rumble (below ~100 Hz, Pasterkamp 1997): RMS over breath RMS.
RUMBLE_LEVEL_DB = (-2.0, 10.0)
# Friction and handling clicks per second (log-uniform; the real sample shows 2-6 transients a
# second, heart-sound onsets included) and their peak level over breath RMS. Sound model 3 doubled
# the rate: sound model 2's normal cycles carried half the real Litt3200 patient's transients.
CLICKS_PER_SECOND = (1.0, 8.0)
# Peak level of a click (normalised to peak 1 after its low-pass) over breath RMS.
CLICK_LEVEL_DB = (-14.0, 8.0)
# Corner of the low-pass that each click (or each rub) passes through, log-uniform. In the real
# sample few transients reach the top of the 2 kHz band at full strength: most fade above a few
# hundred hertz, like crackles do, because the chest and the chest piece damp their high
# frequencies. Sound model 4: model 3's clicks were white, full-height lines, so a classifier could
# learn "a transient that fades upward is a crackle"; trained on model 3, it called most real normal
# cycles abnormal (results/transfer_icbhi_sample_sound3_quick.json).
CLICK_CORNER_HZ = (150.0, 3000.0)
RUB_SHARE = 0.2
RUB_CLICKS = (4, 20)
RUB_SECONDS = (0.08, 0.5)
# Share of recordings with a steady band of noise (ventilation, electronics, the room), its centre,
# its width in octaves and its RMS over breath RMS. The real healthy Meditron recording
# (102_1b1_Ar) carries one at about 800-1300 Hz for its whole length.
NOISE_BAND_SHARE = 0.35
NOISE_BAND_CENTRE_HZ = (300.0, 1600.0)
NOISE_BAND_OCTAVES = (0.4, 0.9)
NOISE_BAND_LEVEL_DB = (-34.0, -20.0)
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
# Share of vocalising patients who grunt rather than groan: expiratory grunting, a short voiced
# sound of expiration against a partly closed glottis, is a clinical sign of respiratory distress
# (e.g. pneumonia, COPD exacerbation). It starts and stops abruptly and is breathy: turbulent
# aspiration noise through the same formants as the voice (Klatt & Klatt, J Acoust Soc Am 87
# (1990) 820-857), so the spectrogram shows a broadband burst with the harmonics inside it.
GRUNT_SHARE = 0.4
GRUNT_SECONDS = (0.1, 0.4)
GRUNT_ASPIRATION_DB = (-6.0, 6.0)  # aspiration noise RMS over the voiced part's RMS


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
    burst = _lowpass_noise(len(tau), sr, rng.uniform(*HEART_BURST_CORNER_HZ), rng)
    onset = _attack_decay(tau, 0.012) + 0.6 * _attack_decay(tau - second_at, 0.01)
    beat = (damped_tone(tau, rng.uniform(35.0, 70.0), 0.025) + 0.6 * damped_tone(tau - second_at,
                                                                                rng.uniform(50.0, 100.0), 0.02)
            + 1.0 * burst * onset / max(np.max(np.abs(burst)), 1e-9))
    beat *= db(rng.uniform(*HEART_LEVEL_DB) + HEART_LEVEL_DB_BY_LOCATION[location]) / np.max(np.abs(beat))
    out = np.zeros(n, dtype=np.float32)
    for time in times:
        add_at(out, int(round(time * sr)), beat * rng.uniform(0.8, 1.2))
    return out


def _attack_decay(tau: np.ndarray, decay: float, *, attack: float = 0.003) -> np.ndarray:
    """An envelope that rises over ``attack`` s and decays with ``decay`` s; zero for ``tau < 0``.

    Sound model 4: model 3 started each heart sound's burst at full strength, and that step
    drew a line across the whole 2 kHz band of the spectrogram twice a beat, louder and
    sharper than any real heart sound (in the real sample they stay below a few hundred hertz).
    """
    t = np.maximum(tau, 0.0)
    return np.where(tau >= 0, (1.0 - np.exp(-t / attack)) * np.exp(-t / decay), 0.0)


def _white_spectrum(size: int, rng: np.random.Generator) -> np.ndarray:
    """Complex white Gaussian rfft coefficients [shape=(size,)]: multiply by a gain, then irfft."""
    return rng.standard_normal(size) + 1j * rng.standard_normal(size)


def _unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to unit standard deviation (unchanged when silent)."""
    return x / max(float(np.std(x)), 1e-12)


def _lowpass_noise(n: int, sr: int, corner_hz: float, rng: np.random.Generator) -> np.ndarray:
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    return scipy.fft.irfft(_white_spectrum(len(freqs), rng) / np.sqrt(1.0 + (freqs / corner_hz) ** 8), n)


def rumble(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Muscle and contact noise below about 100 Hz, its level wandering over a few seconds [shape=(n,)]."""
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    # Steep above its corner: muscle and contact noise stays below about 100 Hz.
    shape = 1.0 / np.sqrt(1.0 + (freqs / rng.uniform(40.0, 80.0)) ** 12)
    noise = _unit_rms(scipy.fft.irfft(_white_spectrum(len(freqs), rng) * shape, n))
    # A slow random envelope (about 0.3 Hz): posture and pressure on the chest piece change.
    knots = rng.lognormal(0.0, 0.5, int(n / sr / 3.0) + 2)
    envelope = np.interp(np.arange(n) / sr, np.linspace(0.0, n / sr, len(knots)), knots)
    return (noise * envelope * db(rng.uniform(*RUMBLE_LEVEL_DB))).astype(np.float32)


def add_clicks(body: np.ndarray, sr: int, rng: np.random.Generator) -> None:
    """Friction and handling transients, single or in short bursts (a rub), at random times.

    A click is a decaying noise burst of 0.5-3 ms through a low-pass of 150-3000 Hz, so some
    are broadband lines and most fade upward; :data:`RUB_SHARE` of them come as a rub of 4-20
    clicks within 80-500 ms that share one low-pass (one contact). Their timing follows no
    breath phase: that, and their lack of a crackle's ringing waveform, is what tells them from
    crackles (Pasterkamp 1997: sensor friction and movement mimic crackles).
    """
    rate = np.exp(rng.uniform(np.log(CLICKS_PER_SECOND[0]), np.log(CLICKS_PER_SECOND[1])))
    for _ in range(int(rng.poisson(rate * len(body) / sr))):
        at = int(rng.integers(len(body)))
        level = rng.uniform(*CLICK_LEVEL_DB)
        corner = float(np.exp(rng.uniform(*np.log(CLICK_CORNER_HZ))))
        # One filter design per event: designing it costs more than filtering a click.
        lowpass = _click_lowpass(sr, corner)
        if rng.random() < RUB_SHARE:
            span = rng.uniform(*RUB_SECONDS)
            for offset in np.sort(rng.uniform(0.0, span, int(rng.integers(RUB_CLICKS[0], RUB_CLICKS[1] + 1)))):
                add_at(body, at + int(offset * sr),
                       _click(sr, corner, rng, lowpass=lowpass) * db(level - rng.uniform(0.0, 10.0)))
        else:
            add_at(body, at, _click(sr, corner, rng, lowpass=lowpass) * db(level))


def _click_lowpass(sr: int, corner_hz: float) -> np.ndarray | None:
    """Second-order sections of the clicks' fourth-order low-pass; None when the corner is near Nyquist."""
    return scipy.signal.butter(4, corner_hz, fs=sr, output="sos") if corner_hz < 0.45 * sr else None


def _click(sr: int, corner_hz: float, rng: np.random.Generator, *, lowpass: np.ndarray | None = None) -> np.ndarray:
    """A decaying noise burst through a fourth-order low-pass at ``corner_hz``, peak 1.

    ``lowpass`` is that filter (:func:`_click_lowpass`), designed here when not given.
    """
    n = max(2, int(rng.uniform(0.0005, 0.003) * sr))
    burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.3 * n))
    lowpass = _click_lowpass(sr, corner_hz) if lowpass is None else lowpass
    if lowpass is not None:
        # Room for the filter's ring-down: about two periods of the corner.
        burst = scipy.signal.sosfilt(lowpass, np.concatenate([burst, np.zeros(int(2 * sr / corner_hz))]))
    return burst / max(float(np.max(np.abs(burst))), 1e-12)


def noise_band(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A steady band of noise, whole-recording long, its level drifting slowly [shape=(n,)].

    Gaussian in log-frequency around a centre of 300-1600 Hz, 0.4-0.9 octave wide: broader than
    a hum line, steadier than any wheeze, and present in every breath whatever its label.
    """
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    centre = float(np.exp(rng.uniform(*np.log(NOISE_BAND_CENTRE_HZ))))
    width = rng.uniform(*NOISE_BAND_OCTAVES)
    octaves = np.log2(np.maximum(freqs, 1.0) / centre)
    noise = _unit_rms(scipy.fft.irfft(_white_spectrum(len(freqs), rng) * np.exp(-0.5 * (octaves / width) ** 2), n))
    drift = 1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * np.arange(n) / sr + rng.uniform(0, 2 * np.pi))
    return (noise * drift * db(rng.uniform(*NOISE_BAND_LEVEL_DB))).astype(np.float32)


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


def voiced_sound(sr: int, duration: float, rng: np.random.Generator, *, grunt: bool = False) -> np.ndarray:
    """A groan or hum: a harmonic stack shaped by vocal-tract formants, under an arched pitch contour.

    Source-filter model of the voice (Fant, *Acoustic Theory of Speech Production*, 1960): a
    glottal source whose harmonics fall as 1/k, filtered by two formant resonances in series (F1 250-800 Hz,
    F2 900-1500 Hz, bandwidths 60-150 Hz), so the loudest line is often a harmonic near F1 rather
    than the fundamental. Unlike a wheeze (one or a few unrelated sinusoids,
    :mod:`respirelib.data.synth.adventitious`), a voiced sound carries a low fundamental (80-250 Hz,
    the range of adult voices, Titze 1994) and a dense stack of harmonics up to 1.5 kHz that move
    together. ``grunt=True`` makes it a grunt (:data:`GRUNT_SHARE`): 10 ms onset and offset
    instead of a smooth arch, and breathy, with formant-shaped aspiration noise added.

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
    if grunt:
        wave = _unit_rms(wave)
        wave += db(rng.uniform(*GRUNT_ASPIRATION_DB)) * _formant_noise(n, sr, formants, rng)
        envelope = tukey(n, min(1.0, 2 * 0.01 / duration))  # 10 ms onset and offset: abrupt
    else:
        envelope = np.sin(np.pi * x) ** 0.7
    return wave * envelope / max(float(np.max(np.abs(wave * envelope))), 1e-9)


def _formant_noise(n: int, sr: int, formants: list[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    """Aspiration noise shaped by the vocal tract's formants, unit RMS [shape=(n,)]."""
    freqs = scipy.fft.rfftfreq(n, 1.0 / sr)
    gain = np.prod([_resonance(freqs, centre, bandwidth) for centre, bandwidth in formants], axis=0)
    return _unit_rms(scipy.fft.irfft(_white_spectrum(len(freqs), rng) * gain, n))


def _resonance(freq: np.ndarray, centre: float, bandwidth: float) -> np.ndarray:
    """Magnitude of a second-order resonance (1 at 0 Hz, about centre/bandwidth at its peak)."""
    ratio = freq / centre
    return 1.0 / np.sqrt((1.0 - ratio ** 2) ** 2 + (freq * bandwidth / centre ** 2) ** 2)


def add_voice(body: np.ndarray, sr: int, segments: list[tuple[float, float, float]], rng: np.random.Generator) -> None:
    """Voiced sounds in some breaths of a patient who vocalises (:data:`VOICE_SHARE` of recordings).

    A patient either groans or hums (smooth, up to 1.2 s) or, in :data:`GRUNT_SHARE` of them,
    grunts (:func:`voiced_sound` with ``grunt=True``: 0.1-0.4 s, abrupt and breathy).

    ``segments`` holds (start, length, inspiratory share) of every breath of the recording.
    """
    if rng.random() >= VOICE_SHARE:
        return
    share = rng.uniform(*VOICE_BREATH_SHARE)
    level = rng.uniform(*VOICE_LEVEL_DB)
    grunts = rng.random() < GRUNT_SHARE
    for start, length, inspiration in segments:
        if rng.random() < share:
            # Mostly on expiration (a groan), sometimes on inspiration.
            phase_start, phase_length = ((start + inspiration * length, (1 - inspiration) * length)
                                         if rng.random() < 0.6 else (start, inspiration * length))
            duration = min(rng.uniform(*(GRUNT_SECONDS if grunts else (0.15, 1.2))), 0.9 * phase_length)
            begin = phase_start + rng.uniform(0.0, max(0.0, phase_length - duration))
            add_at(body, int(begin * sr), voiced_sound(sr, duration, rng, grunt=grunts) * db(level + rng.normal(0.0, 2.0)))
