"""The adventitious sounds that the labels name: crackles and wheezes, and where in a breath they fall.

Sources, beside the code that follows them:

- RespireNet (Gairola et al., EMBC 2021), §I: wheezes are continuous, 100-2500 Hz and longer
  than 80 ms; crackles are discontinuous and non-tonal, fine ones about 650 Hz and 5 ms,
  coarse ones 100-500 Hz and 15 ms.
- Sovijärvi et al., "Definition of terms for applications of respiratory sounds" (CORSA), Eur
  Respir Rev 10 (2000) 597-610: a crackle is an explosive transient, a sharp initial deflection
  followed by a damped oscillation whose period lengthens (its waveform is measured by the
  initial deflection width and the two-cycle duration, both about twice as long in coarse as
  in fine crackles); fine crackles fall late in inspiration, coarse ones early in inspiration
  and in expiration. A wheeze is a continuous, musical sound; monophonic wheezes carry one
  pitch (which may move), polyphonic ones several unrelated pitches that start and end
  together, typically in expiration. Wheezes last from about 100 ms (a short wheeze, or the
  squawk of CORSA, shorter than 200 ms) to a whole breath phase, and are often of LOW intensity
  relative to the breath sound: many are heard only by listening for them.
- Pasterkamp, Kraman & Wodicka, Am J Respir Crit Care Med 156 (1997) 974-987, and Meslier et
  al., Eur Respir J 8 (1995) 1942-1948: a wheeze's spectrum shows one dominant peak, often with
  harmonics, and wheezes may occupy only a small part of the respiratory cycle (the "wheeze
  occupation" of a cycle ranges from a few per cent to all of it).
"""

from __future__ import annotations

import numpy as np
from scipy.signal.windows import tukey

from respirelib.data.synth.clutter import add_at, db

MIN_WHEEZE_SECONDS = 0.08  # the paper's §I (CORSA: about 100 ms)
# Short wheezes (and squawks): this share of wheezes lasts only MIN_WHEEZE_SECONDS to
# SHORT_WHEEZE_MAX_S (log-uniform), whatever share of the phase the difficulty asks of the others;
# wheeze occupation of a cycle ranges from a few per cent to all of it (Meslier et al. 1995).
SHORT_WHEEZE_SHARE = 0.4
SHORT_WHEEZE_MAX_S = 0.4
WHEEZE_HZ = (100.0, 1000.0)  # dominant frequency; the paper allows up to 2500 Hz, most lie below 1 kHz
# Within that range more wheezes are low than high: log-normal pitch, median and spread in octaves.
WHEEZE_MEDIAN_HZ = 300.0
WHEEZE_SPREAD_OCTAVES = 0.6
# Initial deflection width (s) of fine and coarse crackles: the first half-period sets the pitch the
# paper gives (about 650 Hz fine, 100-500 Hz coarse), and the ring-down their 5 and 15 ms lengths.
FINE_IDW_S = (0.0006, 0.0009)
COARSE_IDW_S = (0.001, 0.004)


def crackle(sr: int, *, coarse: bool, rng: np.random.Generator) -> np.ndarray:
    """One crackle with peak 1: a sharp initial deflection, then a damped oscillation that slows down.

    The first half-cycle lasts the initial deflection width (fine 0.6-0.9 ms, i.e. about
    550-830 Hz; coarse 1-4 ms, 125-500 Hz); the instantaneous frequency then falls to half
    over the crackle, whose envelope decays so that fine crackles last about 5 ms and coarse
    ones about 15 ms (the paper's §I). The steep onset spreads its energy over a broad band,
    unlike the narrow blip of a damped sinusoid.

    Returns
    -------
    wave : np.ndarray [shape=(n,)]
    """
    idw = rng.uniform(*(COARSE_IDW_S if coarse else FINE_IDW_S))
    duration = rng.uniform(0.010, 0.020) if coarse else rng.uniform(0.004, 0.007)
    n = max(4, int(round(duration * sr)))
    tau = np.arange(n) / sr
    start_hz = 1.0 / (2.0 * idw)
    frequency = start_hz * 0.5 ** (tau / duration)
    phase = 2 * np.pi * np.cumsum(frequency) / sr - 2 * np.pi * frequency[0] / sr
    # The deflection is at full size within the first sample or two; then an exponential ring-down.
    envelope = (1.0 - np.exp(-tau * sr / 0.7)) * np.exp(-tau / (0.3 * duration))
    wave = envelope * np.sin(phase)
    return wave * (rng.choice((-1.0, 1.0)) / max(float(np.max(np.abs(wave))), 1e-12))


def wheeze(sr: int, duration: float, rng: np.random.Generator, *, polyphonic: bool = False) -> np.ndarray:
    """One wheeze of ``duration`` s: one tone (or several, polyphonic) whose pitch moves.

    Each tone's pitch follows a glide of up to half an octave plus a slow wander (a smoothed
    random walk, about a tenth of an octave), with at most one weak harmonic; a polyphonic
    wheeze holds 2-4 tones of unrelated pitches that start and end together (CORSA).

    Returns
    -------
    wave : np.ndarray [shape=(round(duration * sr),)]
        The loudest tone has amplitude about 1.
    """
    n = int(round(duration * sr))
    x = np.linspace(0.0, 1.0, n)
    wave = np.zeros(n)
    tones = int(rng.integers(2, 5)) if polyphonic else 1
    base = float(np.clip(WHEEZE_MEDIAN_HZ * 2.0 ** rng.normal(0.0, WHEEZE_SPREAD_OCTAVES), *WHEEZE_HZ))
    for index in range(tones):
        freq = base if index == 0 else base * 2.0 ** rng.uniform(-0.8, 1.2)
        glide = rng.uniform(-0.5, 0.3)
        knots = np.cumsum(rng.normal(0.0, 0.05, 6))
        wander = np.interp(x, np.linspace(0.0, 1.0, 6), knots - knots.mean())
        contour = freq * 2.0 ** (glide * x + wander)
        if contour.max() >= 0.45 * sr:
            continue
        phase = 2 * np.pi * np.cumsum(contour) / sr + rng.uniform(0, 2 * np.pi)
        amplitude = 1.0 if index == 0 else rng.uniform(0.4, 0.9)
        wave += amplitude * np.sin(phase)
        if rng.random() < 0.5 and 2 * contour.max() < 0.45 * sr:
            wave += amplitude * rng.uniform(0.1, 0.35) * np.sin(2 * phase)
    # The level breathes with the airflow: a slow swell within the wheeze.
    swell = 1.0 + 0.3 * np.sin(np.pi * x * rng.uniform(0.5, 2.0) + rng.uniform(0, np.pi))
    return wave * swell * tukey(n, min(1.0, 2 * 0.025 / duration))


def add_crackles(body, sr, start, length, inspiration, gain_db, sparse, settings, rng) -> None:
    """Crackles of one cycle: fine ones late in inspiration, coarse ones early in it or in expiration (CORSA)."""
    mean = settings.crackles_per_cycle * min(length, 8.0) / 2.7
    count = 1 + int(rng.poisson(0.3 if sparse else mean))
    coarse = rng.random() < 0.5
    level_db = rng.uniform(*settings.crackle_level_db) + gain_db
    for _ in range(count):
        if coarse:
            where = rng.uniform(0.0, 0.6 * inspiration) if rng.random() < 0.7 else rng.uniform(inspiration, 0.9)
        else:
            where = rng.uniform(0.4 * inspiration, inspiration) if rng.random() < 0.9 else rng.uniform(inspiration, 0.9)
        wave = crackle(sr, coarse=coarse, rng=rng) * db(level_db + rng.normal(0.0, 3.0))
        add_at(body, int((start + where * length) * sr), wave)


def add_wheezes(body, sr, start, length, inspiration, gain_db, sparse, settings, rng) -> None:
    """Wheezes of one cycle, mostly expiratory, a third of them polyphonic (CORSA).

    A wheeze is short (:data:`SHORT_WHEEZE_SHARE` of them: 80-400 ms, in one piece) or covers the
    difficulty's share of its breath phase, either in one piece or, half of the time, broken into
    2-4 shorter pieces (each at least 80 ms) with pauses between them.
    """
    count = 1 if sparse or rng.random() < 0.75 else 2
    for _ in range(count):
        expiratory = rng.random() < 0.7
        phase_start = start + (inspiration * length if expiratory else 0.0)
        phase_length = length * ((1.0 - inspiration) if expiratory else inspiration)
        short = sparse or rng.random() < SHORT_WHEEZE_SHARE
        if sparse:
            duration = rng.uniform(MIN_WHEEZE_SECONDS, 0.15)
        elif short:
            duration = float(np.exp(rng.uniform(np.log(MIN_WHEEZE_SECONDS), np.log(SHORT_WHEEZE_MAX_S))))
        else:
            duration = min(max(MIN_WHEEZE_SECONDS, rng.uniform(*settings.wheeze_coverage) * phase_length), 2.5)
        begin = phase_start + rng.uniform(0.0, max(0.0, phase_length - duration))
        level = db(rng.uniform(*settings.wheeze_level_db) + gain_db)
        polyphonic = rng.random() < 0.33
        pieces = 1 if short or rng.random() < 0.5 else int(rng.integers(2, 5))
        piece = max(MIN_WHEEZE_SECONDS, duration / (2 * pieces - 1))
        for k in range(pieces):
            wave = wheeze(sr, piece if pieces > 1 else duration, rng, polyphonic=polyphonic)
            add_at(body, int((begin + 2 * k * piece) * sr), wave * level)
