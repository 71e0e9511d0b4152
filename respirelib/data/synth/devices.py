"""The four ICBHI recording devices as the synthetic generator models them.

Sample rates follow what the ICBHI files use (4 kHz, 10 kHz and 44.1 kHz):
the AKG C417L lapel microphone is written at 44.1 kHz, the Littmann Classic II SE
(an acoustic stethoscope recorded through a microphone) at 10 kHz, and the two
electronic stethoscopes, Littmann 3200 and Meditron, at 4 kHz. At ``--scale 1``
the 44.1 kHz recordings make up about 1.1 GB of the 1.2 GB written; synthesis
happens at 11.025 kHz and only the device stage (response, self-noise) runs at
44.1 kHz, which keeps the full-size dataset well inside its time budget.

Frequency responses are smooth magnitude curves applied in the frequency domain:
a high-pass for the chest piece or microphone mount, a low-pass for the acoustic
path, and a mild resonance. The Littmann 3200 and about 20 % of Meditron
recordings also pass an internal low-pass that leaves nothing above 1.5 kHz, the
"blank region" that RespireNet's blank region clipping removes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLANK_ABOVE_HZ = 1500.0
# Width of the raised-cosine edge that ends at BLANK_ABOVE_HZ; everything above is zero.
BLANK_EDGE_HZ = 200.0
# Synthesis runs at most at this rate; 44.1 kHz devices get the body sound
# up-sampled by an exact factor of 4 in the frequency domain.
MAX_BODY_RATE = 11025


@dataclass(frozen=True)
class DeviceProfile:
    """How one recording device colours and limits the sound.

    Attributes
    ----------
    name : str
        Device name as it appears in ICBHI file names.
    sample_rate : int
        Sample rate of the written WAV files, in Hz.
    mode : str
        Acquisition mode in file names: ``"mc"`` (multichannel) or ``"sc"``.
    highpass_hz, lowpass_hz : float
        Corner frequencies of the magnitude response (a second-order high-pass).
    lowpass_order : int
        Order of the low-pass (6 dB per octave each).
    resonance_hz, resonance_db : float
        Centre and gain of a broad resonance of the chest piece.
    hiss_db : float
        Device self-noise (white), in dB relative to the breath sound's variance
        in 50–2000 Hz; it is added after the acoustic path, so it reaches
        high frequencies unless the device band-limits.
    band_limited_share : float
        Share of the device's recordings whose internal filter leaves nothing
        above :data:`BLANK_ABOVE_HZ`.
    ambient_offset_db : float
        Added to the difficulty's ambient-noise level: the Littmann 3200 reduces ambient
        noise electronically (3M's ambient noise reduction), the Classic II SE is an
        acoustic stethoscope with a microphone in its tube and picks up more.
    hum_share : float
        Share of the device's recordings with mains-hum lines
        (:func:`respirelib.data.synth.clutter.hum`).
    peak_dbfs : (float, float)
        Range of the written file's peak level, dB re full scale (the real sample's
        files peak 5-20 dB below full scale).
    session_sizes : tuple of int
        Smallest and largest number of chest locations recorded per session.
    locations : tuple of str
        Chest locations this device is used on.
    """

    name: str
    sample_rate: int
    mode: str
    highpass_hz: float
    lowpass_hz: float
    resonance_hz: float
    resonance_db: float
    hiss_db: float
    band_limited_share: float
    session_sizes: tuple[int, int]
    lowpass_order: int = 2
    ambient_offset_db: float = 0.0
    hum_share: float = 0.3
    peak_dbfs: tuple[float, float] = (-12.0, -1.0)
    locations: tuple[str, ...] = ("Al", "Ar", "Ll", "Lr", "Pl", "Pr", "Tc")

    @property
    def body_rate(self) -> int:
        """Rate at which the body sound is synthesised (an exact divisor of ``sample_rate``)."""
        if self.sample_rate <= MAX_BODY_RATE:
            return self.sample_rate
        factor = -(-self.sample_rate // MAX_BODY_RATE)
        if self.sample_rate % factor:
            raise ValueError(f"{self.name}: sample rate {self.sample_rate} has no divisor near {MAX_BODY_RATE}")
        return self.sample_rate // factor

    def response(self, freqs: np.ndarray) -> np.ndarray:
        """Magnitude response of the acoustic path.

        Parameters
        ----------
        freqs : np.ndarray [shape=(n_bins,)]
            Frequencies in Hz.

        Returns
        -------
        gain : np.ndarray [shape=(n_bins,), dtype=float32]
        """
        f = np.asarray(freqs, dtype=np.float64)
        highpass = (f / self.highpass_hz) ** 2 / np.sqrt(1.0 + (f / self.highpass_hz) ** 4)
        lowpass = 1.0 / np.sqrt(1.0 + (f / self.lowpass_hz) ** (2 * self.lowpass_order))
        bump = 10.0 ** (self.resonance_db / 20.0) - 1.0
        resonance = 1.0 + bump * np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / self.resonance_hz) / 0.7) ** 2)
        return (highpass * lowpass * resonance).astype(np.float32)


# Calibrated against the real sample (``respirenet data realism``, results/realism_calibration.json):
# quiet electronic stethoscopes (Meditron, Littmann 3200, whose ambient noise reduction leaves a
# deep floor between breaths and little above 1 kHz) and a noisy acoustic one (Classic II SE).
DEVICE_PROFILES: dict[str, DeviceProfile] = {
    "AKGC417L": DeviceProfile("AKGC417L", 44100, "mc", highpass_hz=70.0, lowpass_hz=12000.0,
                              resonance_hz=2500.0, resonance_db=2.0, hiss_db=-42.0,
                              band_limited_share=0.0, session_sizes=(3, 7)),
    "LittC2SE": DeviceProfile("LittC2SE", 10000, "mc", highpass_hz=40.0, lowpass_hz=1200.0,
                              resonance_hz=180.0, resonance_db=4.0, hiss_db=-24.0,
                              band_limited_share=0.0, session_sizes=(1, 4), ambient_offset_db=12.0,
                              peak_dbfs=(-4.0, -0.5)),
    "Litt3200": DeviceProfile("Litt3200", 4000, "sc", highpass_hz=50.0, lowpass_hz=1000.0,
                              resonance_hz=250.0, resonance_db=3.0, hiss_db=-48.0,
                              band_limited_share=1.0, session_sizes=(6, 6),
                              locations=("Al", "Ar", "Ll", "Lr", "Pl", "Pr"), lowpass_order=4,
                              ambient_offset_db=-12.0),
    "Meditron": DeviceProfile("Meditron", 4000, "sc", highpass_hz=60.0, lowpass_hz=1700.0,
                              resonance_hz=350.0, resonance_db=2.0, hiss_db=-44.0,
                              band_limited_share=0.2, session_sizes=(1, 6), ambient_offset_db=-6.0),
}


def blank_region_mask(freqs: np.ndarray) -> np.ndarray:
    """Gain of the internal low-pass of band-limited devices: exactly zero above 1.5 kHz.

    Parameters
    ----------
    freqs : np.ndarray [shape=(n_bins,)]
        Frequencies in Hz.

    Returns
    -------
    gain : np.ndarray [shape=(n_bins,), dtype=float32]
        1 below ``BLANK_ABOVE_HZ - BLANK_EDGE_HZ``, a raised-cosine edge, 0 from
        ``BLANK_ABOVE_HZ`` up.
    """
    f = np.asarray(freqs, dtype=np.float64)
    edge = np.clip((f - (BLANK_ABOVE_HZ - BLANK_EDGE_HZ)) / BLANK_EDGE_HZ, 0.0, 1.0)
    return (0.5 * (1.0 + np.cos(np.pi * edge))).astype(np.float32)
