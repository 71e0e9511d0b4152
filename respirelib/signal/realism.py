"""How a set of recordings sounds, measured the same way on real and synthetic audio.

The realism report compares the synthetic generator with real ICBHI recordings of the
same device. Every statistic is measured on the recording's annotated *normal* cycles (so
that sets of different class mixes compare like with like; ``cycles="all"`` measures whole
recordings) after the project's own pre-processing of the whole recording
(:func:`respirelib.signal.preprocess.preprocess_recording`: 4 kHz, 50 Hz high-pass,
peak-normalised), i.e. on what the model hears, except ``level_dbfs``, which is the file's
own level before normalisation:

===================  ===========================================================================
statistic            what it measures
===================  ===========================================================================
``band_*``           share of the recording's power (50-2000 Hz) in each band of
                     :attr:`RealismConfig.bands_hz`, in dB of the total (Welch spectrum)
``level_dbfs``       RMS level of the file as read, in dB re full scale
``crest_db``         peak over RMS of the pre-processed recording, in dB
``noise_floor_db``   the quietest breath-band frames (10th percentile of 50 ms frames,
                     150-1000 Hz) against the mean breath-band power, in dB: the floor
                     between breaths
``breath_noise_db``  breath-to-noise ratio: loud breath-band frames (90th percentile) over
                     the floor (10th percentile), in dB
``heart_db``         heart-sound energy: loud heart-band frames (95th percentile, 50-150 Hz)
                     over loud breath-band frames (90th percentile), in dB
``heart_reach_db``   how far up the band the loudest low-frequency events reach: at the
                     loudest heart-band frames (top 5 %), the power of 600-2000 Hz over its
                     median, in dB (real heart sounds stay low; a full-band step does not)
``impulses_per_s``   short broadband transients (clicks, crackles) per second: 5 ms frames
                     above 300 Hz at least 12 dB over the median of their 0.4 s surroundings
``tonal_share``      share of 128 ms frames holding a narrow spectral peak (a tone: hum,
                     wheeze, voice) 12 dB over the spectrum around it (within 100 Hz)
===================  ===========================================================================

:func:`compare_statistics` sets the synthetic median of each statistic against the real
recordings of the same device: the distance, the real recordings' own spread (their
half-range) and whether the distance lies within that spread or a floor tolerance per
statistic (:data:`TOLERANCES`), whichever is larger. With one to three real recordings per
device the spread is a poor estimate of the population's; the floor keeps one recording
from demanding an exact match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.signal

from respirelib.config import AudioConfig
from respirelib.data.audio import read_audio
from respirelib.data.icbhi import ICBHIDataset
from respirelib.signal.preprocess import preprocess_recording

BANDS_HZ = ((50.0, 100.0), (100.0, 300.0), (300.0, 600.0), (600.0, 1200.0), (1200.0, 2000.0))
EPS = 1e-12


def band_name(band: tuple[float, float]) -> str:
    """``(50.0, 100.0)`` -> ``"band_50_100_db"``."""
    return f"band_{band[0]:g}_{band[1]:g}_db"


@dataclass(frozen=True)
class RealismConfig:
    """What the realism statistics measure (see the module docstring).

    Attributes
    ----------
    audio : AudioConfig
        The pre-processing every recording goes through first (the paper's).
    bands_hz : tuple of (float, float)
        Bands whose power share is reported; the first starts at the high-pass edge.
    welch_n_fft : int
        Welch segment length for the long-term spectrum (512 at 4 kHz: 7.8 Hz bins).
    frame_seconds : float
        Frame length of the breath- and heart-band energies.
    breath_band_hz, heart_band_hz : (float, float)
        Where breath sound and heart sounds carry their energy at the chest wall.
    reach_band_hz : (float, float)
        The upper band whose rise at the loudest heart-band frames is ``heart_reach_db``.
    impulse_band_hz : float
        Transients are detected above this frequency, away from heart sounds.
    impulse_frame_seconds, impulse_context_seconds, impulse_threshold_db : float
        Frame length, the window of the running median and the rise that makes a transient.
    tone_n_fft : int
        Frame length of the tone detector (512 at 4 kHz: 128 ms).
    tone_band_hz : (float, float)
        Where tones are looked for.
    tone_context_hz, tone_threshold_db : float
        A bin is a tone when it stands this far above the median of the spectrum within
        ``tone_context_hz`` around it.
    """

    audio: AudioConfig = field(default_factory=AudioConfig)
    bands_hz: tuple[tuple[float, float], ...] = BANDS_HZ
    welch_n_fft: int = 512
    frame_seconds: float = 0.05
    breath_band_hz: tuple[float, float] = (150.0, 1000.0)
    heart_band_hz: tuple[float, float] = (50.0, 150.0)
    reach_band_hz: tuple[float, float] = (600.0, 2000.0)
    impulse_band_hz: float = 300.0
    impulse_frame_seconds: float = 0.005
    impulse_context_seconds: float = 0.4
    impulse_threshold_db: float = 12.0
    tone_n_fft: int = 512
    tone_band_hz: tuple[float, float] = (100.0, 1500.0)
    tone_context_hz: float = 100.0
    tone_threshold_db: float = 12.0

    @property
    def statistics(self) -> tuple[str, ...]:
        """Names of the statistics, in report order."""
        return (*(band_name(b) for b in self.bands_hz), "level_dbfs", "crest_db", "noise_floor_db",
                "breath_noise_db", "heart_db", "heart_reach_db", "impulses_per_s", "tonal_share")


# Floor tolerance of each statistic's distance (its unit): a few dB for levels and shares,
# about one transient every two seconds, a tenth of the frames for tones.
TOLERANCES = {"db": 3.0, "level_dbfs": 6.0, "impulses_per_s": 0.5, "tonal_share": 0.1}


def tolerance(statistic: str) -> float:
    """The floor tolerance of ``statistic`` (see :data:`TOLERANCES`)."""
    return TOLERANCES.get(statistic, TOLERANCES["db"])


def _db(x) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), EPS))


def _band_frames(y: np.ndarray, *, sr: int, n_fft: int, bands: tuple[tuple[float, float], ...]) -> list[np.ndarray]:
    """Power in each of ``bands`` of frames of ``n_fft`` samples, hop half a frame, from one STFT.

    Returns
    -------
    frames : list of np.ndarray [shape=(n_frames,)]
        One per band, in order.
    """
    if len(y) < n_fft:
        return [np.zeros(0) for _ in bands]
    freqs, _, stft = scipy.signal.stft(y, fs=sr, nperseg=n_fft, noverlap=n_fft // 2, boundary=None, padded=False)
    power = np.abs(stft) ** 2
    return [np.sum(power[(freqs >= low) & (freqs < high)], axis=0) for low, high in bands]


def _impulse_count(high: np.ndarray, *, sr: int, config: RealismConfig) -> int:
    """Transients in a high-passed segment: local maxima of the rise over the running median."""
    frame = max(1, int(round(config.impulse_frame_seconds * sr)))
    n = len(high) // frame
    if n < 3:
        return 0
    energy = _db(np.mean(high[:n * frame].reshape(n, frame) ** 2, axis=1))
    context = max(3, int(round(config.impulse_context_seconds / config.impulse_frame_seconds)) | 1)
    background = scipy.ndimage.median_filter(energy, size=context, mode="nearest")
    # A transient counts once: local maxima of the rise, at least 20 ms apart.
    distance = max(1, int(round(0.02 / config.impulse_frame_seconds)))
    peaks, _ = scipy.signal.find_peaks(energy - background, height=config.impulse_threshold_db, distance=distance)
    return len(peaks)


def _tonal_frames(y: np.ndarray, *, sr: int, config: RealismConfig) -> np.ndarray:
    """Whether each frame holds a tone [shape=(n_frames,), dtype=bool]."""
    if len(y) < config.tone_n_fft:
        return np.zeros(0, dtype=bool)
    freqs, _, stft = scipy.signal.stft(y, fs=sr, nperseg=config.tone_n_fft, noverlap=config.tone_n_fft // 2,
                                       boundary=None, padded=False)
    spec = _db(np.abs(stft) ** 2)
    width = max(3, int(round(2 * config.tone_context_hz / (freqs[1] - freqs[0]))) | 1)
    surroundings = scipy.ndimage.median_filter(spec, size=(width, 1), mode="nearest")
    rows = (freqs >= config.tone_band_hz[0]) & (freqs < config.tone_band_hz[1])
    # A frame is tonal when some bin of the band stands out from its neighbourhood and is no mere
    # speck: the peak must also reach within 30 dB of the frame's loudest bin.
    excess = spec[rows] - surroundings[rows]
    loud = spec[rows] >= spec.max(axis=0, keepdims=True) - 30.0
    return np.any((excess >= config.tone_threshold_db) & loud, axis=0)


def recording_statistics(y: np.ndarray, *, sr: int, spans: Iterable[tuple[float, float]] | None = None,
                         config: RealismConfig = RealismConfig()) -> dict:
    """The realism statistics of one recording, or of some of its spans (see :func:`measure_recording`)."""
    return measure_recording(y, sr=sr, spans=spans, config=config)[0]


def measure_recording(y: np.ndarray, *, sr: int, spans: Iterable[tuple[float, float]] | None = None,
                      config: RealismConfig = RealismConfig()) -> tuple[dict, np.ndarray, np.ndarray]:
    """The realism statistics of one recording, or of some of its spans (see the module docstring).

    The recording is pre-processed whole (the filter needs its context), then measured over
    ``spans`` only: each span's frames, transients and spectrum are pooled, so no join
    between two spans counts as a click.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples as read from the file, at ``sr``.
    sr : int
    spans : iterable of (float, float), optional
        Start and end (s) of the parts to measure, e.g. the normal cycles; default: all of it.
    config : RealismConfig

    Returns
    -------
    stats : dict
        One float per name of :attr:`RealismConfig.statistics`, plus ``seconds`` measured.
    freqs : np.ndarray [shape=(welch_n_fft // 2 + 1,)]
    power : np.ndarray [shape=(welch_n_fft // 2 + 1,)]
        The long-term spectrum of the spans, relative to its total from 50 Hz up.
    """
    y = np.asarray(y, dtype=np.float64)
    x = preprocess_recording(y, sr=sr, config=config.audio).astype(np.float64)
    rate = config.audio.sample_rate
    spans = [(0.0, len(y) / sr)] if spans is None else list(spans)
    raw = [y[int(round(a * sr)):int(round(b * sr))] for a, b in spans]
    parts = [x[int(round(a * rate)):int(round(b * rate))] for a, b in spans]
    kept = [(r, p) for r, p in zip(raw, parts) if len(p) >= config.welch_n_fft]
    if not kept:
        raise ValueError(f"nothing to measure: every span is shorter than {config.welch_n_fft / rate:.3f} s")
    raw, parts = [r for r, _ in kept], [p for _, p in kept]
    seconds = sum(len(p) for p in parts) / rate
    psd = sum(len(p) * scipy.signal.welch(p, fs=rate, nperseg=config.welch_n_fft, scaling="spectrum")[1]
              for p in parts)
    freqs = np.fft.rfftfreq(config.welch_n_fft, 1.0 / rate)
    power = psd / max(psd[freqs >= 50.0].sum(), EPS)
    stats = {band_name(band): float(_db(power[(freqs >= band[0]) & (freqs < band[1])].sum()))
             for band in config.bands_hz}
    frame = int(round(config.frame_seconds * rate))
    per_part = [_band_frames(p, sr=rate, n_fft=frame,
                             bands=(config.breath_band_hz, config.heart_band_hz, config.reach_band_hz)) for p in parts]
    breath, heart, reach = (np.concatenate(frames) for frames in zip(*per_part))
    floor, loud = np.percentile(breath, [10, 90])
    heart_peaks = heart >= np.percentile(heart, 95)
    sos = scipy.signal.butter(4, config.impulse_band_hz, btype="highpass", fs=rate, output="sos")
    high = scipy.signal.sosfiltfilt(sos, x)
    impulses = sum(_impulse_count(high[int(round(a * rate)):int(round(b * rate))], sr=rate, config=config)
                   for a, b in spans if (b - a) * rate >= config.welch_n_fft)
    samples = np.concatenate(parts)
    stats.update({
        "level_dbfs": float(_db(np.mean(np.concatenate(raw) ** 2))),
        "crest_db": float(_db(np.max(np.abs(samples)) ** 2 / max(np.mean(samples ** 2), EPS))),
        "noise_floor_db": float(_db(floor) - _db(np.mean(breath))),
        "breath_noise_db": float(_db(loud) - _db(floor)),
        "heart_db": float(_db(np.percentile(heart, 95)) - _db(loud)),
        "heart_reach_db": float(_db(np.median(reach[heart_peaks])) - _db(np.median(reach))),
        "impulses_per_s": float(impulses / seconds),
        "tonal_share": float(np.mean(np.concatenate([_tonal_frames(p, sr=rate, config=config) for p in parts]))),
        "seconds": float(seconds),
    })
    return stats, freqs, power


def choose_recordings(recordings: pd.DataFrame, *, per_device: int | None, seed: int = 0,
                      devices: Iterable[str] | None = None) -> pd.DataFrame:
    """At most ``per_device`` rows of a recordings table per device (all when ``None``), drawn with ``seed``.

    ``devices`` keeps only those devices' recordings.
    """
    recordings = recordings.assign(device=recordings["device"].astype(str))
    if devices is not None:
        recordings = recordings[recordings["device"].isin(list(devices))]
    if per_device is None:
        return recordings.reset_index(drop=True)
    parts = [group.sample(n=min(per_device, len(group)), random_state=seed)
             for _, group in recordings.groupby("device", sort=True)]
    return pd.concat(parts).sort_values("recording").reset_index(drop=True)


def dataset_statistics(dataset: ICBHIDataset, *, per_device: int | None = None, seed: int = 0,
                       devices: Iterable[str] | None = None, cycles: str = "normal",
                       config: RealismConfig = RealismConfig()) -> tuple[pd.DataFrame, dict]:
    """The realism statistics of (some of) a dataset's recordings.

    Parameters
    ----------
    dataset : ICBHIDataset
        Loaded with its audio.
    per_device : int or None
        Recordings measured per device (drawn with ``seed``); None: all.
    seed : int
    devices : iterable of str, optional
        Measure only these devices' recordings.
    cycles : {"normal", "all"}
        Measure each recording's annotated normal cycles only (the default: real and synthetic
        sets then compare like with like whatever their class mix; recordings without a normal
        cycle are left out), or the whole recording.
    config : RealismConfig

    Returns
    -------
    table : pd.DataFrame
        One row per recording: ``recording``, ``device``, ``sample_rate``, ``seconds`` measured
        and the statistics.
    spectra : dict
        ``{"freqs": np.ndarray [shape=(n_bins,)], recording name: power [shape=(n_bins,)]}``:
        the relative long-term spectra at ``config.audio.sample_rate``.
    """
    if cycles not in ("normal", "all"):
        raise ValueError(f"cycles must be 'normal' or 'all', got {cycles!r}")
    if not dataset.has_audio:
        raise ValueError(f"{dataset.root}: no audio in this folder; the realism statistics need the recordings")
    table = dataset.cycles
    if cycles == "normal":
        table = table[table["label"].astype(str) == "normal"]
    spans_of = {name: list(zip(group["start"], group["end"])) for name, group in table.groupby("recording", sort=False,
                                                                                                  observed=True)}
    candidates = dataset.recordings[dataset.recordings["recording"].isin(list(spans_of))]
    rows, curves = [], {}
    columns = ["recording", "device", "sample_rate", "seconds", *config.statistics]
    for _, recording in choose_recordings(candidates, per_device=per_device, seed=seed, devices=devices).iterrows():
        y, sr = read_audio(recording["audio_path"])
        spans = None if cycles == "all" else spans_of[recording["recording"]]
        stats, freqs, power = measure_recording(y, sr=sr, spans=spans, config=config)
        rows.append({"recording": recording["recording"], "device": recording["device"], "sample_rate": sr, **stats})
        curves["freqs"] = freqs
        curves[recording["recording"]] = power
    return pd.DataFrame(rows, columns=columns), curves


def compare_statistics(real: pd.DataFrame, synthetic: pd.DataFrame, *,
                       statistics: Iterable[str] | None = None) -> pd.DataFrame:
    """Each synthetic statistic's distance from the real one, per device, with the real spread beside it.

    Parameters
    ----------
    real, synthetic : pd.DataFrame
        Tables of :func:`dataset_statistics`.
    statistics : iterable of str, optional
        Which columns to compare (default: :attr:`RealismConfig.statistics`).

    Returns
    -------
    pd.DataFrame
        One row per (device with real recordings, statistic): ``n_real``, ``real_median``,
        ``real_min``, ``real_max``, ``real_spread`` (half the real range), ``n_synthetic``,
        ``synthetic_median``, ``synthetic_q25``, ``synthetic_q75``, ``distance`` (synthetic
        median minus real median), ``tolerance`` (the larger of the real spread and the
        statistic's floor, :func:`tolerance`) and ``within`` (``|distance| <= tolerance``).
        A device without synthetic recordings has ``NaN`` distances and ``within`` False.
    """
    statistics = list(statistics or RealismConfig().statistics)
    rows = []
    for device, real_group in real.groupby("device", sort=True):
        synth_group = synthetic[synthetic["device"] == device]
        for name in statistics:
            r, s = real_group[name].to_numpy(float), synth_group[name].to_numpy(float)
            spread = float((r.max() - r.min()) / 2)
            allowed = max(spread, tolerance(name))
            median = float(np.median(s)) if len(s) else np.nan
            distance = median - float(np.median(r))
            rows.append({"device": device, "statistic": name, "n_real": len(r), "real_median": float(np.median(r)),
                         "real_min": float(r.min()), "real_max": float(r.max()), "real_spread": spread,
                         "n_synthetic": len(s), "synthetic_median": median,
                         "synthetic_q25": float(np.percentile(s, 25)) if len(s) else np.nan,
                         "synthetic_q75": float(np.percentile(s, 75)) if len(s) else np.nan,
                         "distance": distance, "tolerance": allowed,
                         "within": bool(len(s) and abs(distance) <= allowed)})
    return pd.DataFrame(rows)


def summarise_comparison(comparison: pd.DataFrame) -> dict:
    """How many (device, statistic) pairs lie within tolerance, overall and per statistic."""
    per_statistic = comparison.groupby("statistic", sort=False)["within"].agg(["sum", "count"])
    return {"within": int(comparison["within"].sum()), "compared": int(len(comparison)),
            "share_within": round(float(comparison["within"].mean()), 3) if len(comparison) else None,
            "per_statistic": {name: f"{int(row['sum'])}/{int(row['count'])}" for name, row in per_statistic.iterrows()},
            "devices": sorted(comparison["device"].unique().tolist())}


def mean_spectra_by_device(table: pd.DataFrame, spectra: dict) -> dict[str, np.ndarray]:
    """The mean relative long-term spectrum of each device's recordings, in dB [shape=(n_bins,)]."""
    out = {}
    for device, group in table.groupby("device", sort=True):
        curves = np.stack([spectra[name] for name in group["recording"]])
        out[device] = _db(curves.mean(axis=0))
    return out


@dataclass
class RealismReport:
    """Real and synthetic recordings measured side by side (:func:`realism_report`).

    Attributes
    ----------
    real, synthetic : pd.DataFrame
        Per-recording statistics (:func:`dataset_statistics`).
    comparison : pd.DataFrame
        :func:`compare_statistics` of the two.
    summary : dict
        :func:`summarise_comparison`.
    freqs : np.ndarray [shape=(n_bins,)]
        Frequencies of the long-term spectra.
    real_spectra, synthetic_spectra : dict
        Device -> mean relative long-term spectrum in dB [shape=(n_bins,)].
    config : RealismConfig
    """

    real: pd.DataFrame
    synthetic: pd.DataFrame
    comparison: pd.DataFrame
    summary: dict
    freqs: np.ndarray
    real_spectra: dict
    synthetic_spectra: dict
    config: RealismConfig

    def to_dict(self) -> dict:
        """JSON-ready: the comparison, the summary, every recording's statistics and the mean spectra."""
        def records(frame: pd.DataFrame) -> list[dict]:
            return [{key: (round(value, 4) if isinstance(value, float) else value) for key, value in row.items()}
                    for row in frame.to_dict(orient="records")]

        return {"summary": self.summary, "comparison": records(self.comparison),
                "real": records(self.real), "synthetic": records(self.synthetic),
                "spectra_db": {"freqs": [round(float(f), 2) for f in self.freqs],
                               "real": {k: [round(float(v), 2) for v in curve] for k, curve in self.real_spectra.items()},
                               "synthetic": {k: [round(float(v), 2) for v in curve]
                                             for k, curve in self.synthetic_spectra.items()}},
                "tolerances": dict(TOLERANCES)}


def realism_report(real: ICBHIDataset, synthetic: ICBHIDataset, *, per_device: int | None = 12, seed: int = 0,
                   cycles: str = "normal", config: RealismConfig = RealismConfig()) -> RealismReport:
    """Measure every real recording and up to ``per_device`` synthetic recordings of each device the real set has.

    Parameters
    ----------
    real : ICBHIDataset
        Real recordings with audio (the sample in ``../shared/icbhi-audio-sample`` or a download).
    synthetic : ICBHIDataset
        A synthetic set with audio.
    per_device : int or None
        Synthetic recordings measured per device (drawn with ``seed``); None: all of them.
    seed : int
    cycles : {"normal", "all"}
        What is measured in each recording (:func:`dataset_statistics`).
    config : RealismConfig

    Returns
    -------
    RealismReport
    """
    real_table, real_curves = dataset_statistics(real, cycles=cycles, config=config)
    synth_table, synth_curves = dataset_statistics(synthetic, per_device=per_device, seed=seed, cycles=cycles,
                                                   devices=sorted(set(real_table["device"])), config=config)
    comparison = compare_statistics(real_table, synth_table, statistics=config.statistics)
    return RealismReport(real=real_table, synthetic=synth_table, comparison=comparison,
                         summary=summarise_comparison(comparison), freqs=real_curves["freqs"],
                         real_spectra=mean_spectra_by_device(real_table, real_curves),
                         synthetic_spectra=mean_spectra_by_device(synth_table, synth_curves) if len(synth_table) else {},
                         config=config)


@dataclass
class CycleExample:
    """One cycle to look at and listen to: where it comes from and its pre-processed samples.

    ``y`` is cut from the whole recording after the project's pre-processing (peak-normalised
    per recording, as the model hears it), so clips of different recordings compare in level
    without any rescaling of their own.
    """

    label: str
    recording: str
    cycle_index: int
    device: str
    y: np.ndarray
    sr: int

    @property
    def title(self) -> str:
        return f"{self.label}: {self.recording} cycle {self.cycle_index} ({self.device})"


def _example(dataset: ICBHIDataset, row: pd.Series, config: RealismConfig) -> CycleExample:
    path = dataset.recordings.set_index("recording").loc[row["recording"], "audio_path"]
    y, sr = read_audio(path)
    x = preprocess_recording(y, sr=sr, config=config.audio)
    rate = config.audio.sample_rate
    cut = x[int(round(row["start"] * rate)):int(round(row["end"] * rate))]
    return CycleExample(str(row["label"]), str(row["recording"]), int(row["cycle_index"]), str(row["device"]),
                        cut, rate)


def class_examples(real: ICBHIDataset, synthetic: ICBHIDataset, *, seed: int = 0,
                   config: RealismConfig = RealismConfig()) -> dict[str, tuple[CycleExample | None, CycleExample]]:
    """For each class, a real cycle (None where the real set has none) and a synthetic one of the same device.

    Returns
    -------
    dict
        Class name -> ``(real, synthetic)``, in the order of :data:`respirelib.config.CLASS_NAMES`.
        The synthetic cycle comes from the real one's device when the synthetic set has such a
        cycle, else from any device; both are drawn with ``seed``.
    """
    from respirelib.config import CLASS_NAMES

    out = {}
    for name in CLASS_NAMES:
        real_rows = real.cycles[real.cycles["label"].astype(str) == name]
        synth_rows = synthetic.cycles[synthetic.cycles["label"].astype(str) == name]
        if synth_rows.empty:
            continue
        real_example = None
        if not real_rows.empty:
            real_row = real_rows.sample(1, random_state=seed).iloc[0]
            real_example = _example(real, real_row, config)
            same_device = synth_rows[synth_rows["device"].astype(str) == real_example.device]
            synth_rows = same_device if not same_device.empty else synth_rows
        out[name] = (real_example, _example(synthetic, synth_rows.sample(1, random_state=seed).iloc[0], config))
    return out
