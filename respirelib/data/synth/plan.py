"""The structure of a synthetic ICBHI-like dataset: who was recorded where, and what each cycle is.

Scaling rule (``scale`` > 0, at most 2):

- Patients: at ``scale=1`` all 126 (ids 101–226) with the real diagnosis, device
  and split make-up (:mod:`respirelib.data.synth.census`). Otherwise each
  (device, split) cell keeps ``ceil(max(scale, 0.08) * n)`` of its ``n``
  single-cell patients, drawn from the real diagnosis mix, so even a tiny
  dataset has more than 10 patients on every device; the five patients recorded
  in several cells (ids 112, 156, 158, 218, 226; 156 and 218 sit in both split
  parts, as in the official split) are always kept.
- Recordings: each cell gets ``round(scale * n_recordings)``, at least one per
  patient in it.
- Cycles: each cell gets ``round(scale * n)`` cycles of each class, at least one
  of every class the real cell has (so both split parts hold every class), and
  at least two per recording (extra ones are normal). At ``scale=1`` the class,
  device and split counts therefore equal the published ones exactly.

Within those totals everything is drawn: recordings per patient, sessions and
chest locations, cycles per recording, cycle lengths (device-specific means
around 2.7 s, from 0.2 s to about 16 s), and which cycles are abnormal (weighted
by diagnosis and by a per-recording propensity, so abnormal cycles cluster in
recordings of COPD, bronchiectasis and bronchiolitis patients).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
import scipy.fft

from respirelib.data.synth import census
from respirelib.data.synth.devices import DEVICE_PROFILES

MIN_PATIENT_FRACTION = 0.08
MAX_SCALE = 2.0
MIN_CYCLE_MS = 200
MAX_CYCLE_MS = 16200
MIN_CYCLES_PER_RECORDING = 2
# Spread (log-normal sigma) of the breathing period between recordings and between cycles.
PERIOD_SIGMA_RECORDING = 0.25
PERIOD_SIGMA_CYCLE = 0.25
# Spread (log-normal sigma) of how many abnormal cycles a recording gets.
ABNORMALITY_SIGMA_RECORDING = 1.2
ABNORMALITY_SIGMA_PATIENT = 0.5
# Above 1, abnormal cycles go to patients whose diagnosis favours them more surely than in proportion.
SELECTION_SHARPNESS = 2.0
MALE_SHARE = 79 / 125
STRUCTURE_STREAM = 0


@dataclass(frozen=True)
class PatientPlan:
    """One patient's diagnosis and demographic row (``None`` is written as ``NA``)."""

    pid: int
    diagnosis: str
    age: float | None
    sex: str | None
    bmi: float | None
    child_weight: float | None
    child_height: float | None

    @property
    def is_child(self) -> bool:
        return self.age is not None and self.age < 18


@dataclass(frozen=True)
class RecordingPlan:
    """Everything needed to synthesise and annotate one recording.

    ``cycle_bounds_ms`` holds the ``n_cycles + 1`` cycle boundaries in whole
    milliseconds: cycles tile the annotated span without gaps, as in ICBHI.
    """

    name: str
    pid: int
    session: str
    location: str
    device: str
    split: str
    diagnosis: str
    child: bool
    sample_rate: int
    n_samples: int
    band_limited: bool
    cycle_bounds_ms: tuple[int, ...]
    crackles: tuple[bool, ...]
    wheezes: tuple[bool, ...]

    @property
    def n_cycles(self) -> int:
        return len(self.crackles)

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return self.n_samples / self.sample_rate


@dataclass(frozen=True)
class DatasetPlan:
    patients: tuple[PatientPlan, ...]
    recordings: tuple[RecordingPlan, ...]


@dataclass
class _Holding:
    """A patient's share of one (device, split) cell."""

    pid: int
    diagnosis: str
    device: str
    split: str
    n_recordings: int = 0


def plan_dataset(*, scale: float, seed: int) -> DatasetPlan:
    """Draw the structure of a synthetic dataset (no audio).

    Parameters
    ----------
    scale : float
        Size relative to ICBHI, in (0, 2]; see the module docstring for the rule.
    seed : int
        Non-negative seed; the same ``(scale, seed)`` gives the same plan.

    Returns
    -------
    DatasetPlan
        Patients sorted by id and recordings sorted by name.
    """
    if not 0 < scale <= MAX_SCALE:
        raise ValueError(f"scale must be in (0, {MAX_SCALE}], got {scale}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, STRUCTURE_STREAM]))
    patients = _draw_patients(scale, rng)
    holdings = _holdings(patients)
    _share_recordings(holdings, scale, rng)
    names = _recording_names(holdings, rng)
    patient_plans = tuple(_demographics(pid, diagnosis, rng) for pid, diagnosis, _ in patients)
    children = {p.pid for p in patient_plans if p.is_child}
    patient_plans = _one_without_demographics(patient_plans, rng)
    recordings = _cycles_and_labels(holdings, names, patients, children, scale, rng)
    recordings = _choose_band_limited(recordings, rng)
    return DatasetPlan(patients=tuple(sorted(patient_plans, key=lambda p: p.pid)),
                       recordings=tuple(sorted(recordings, key=lambda r: r.name)))


def _draw_patients(scale: float, rng: np.random.Generator) -> list[tuple[int, str, tuple[tuple[str, str], ...]]]:
    """Return (pid, diagnosis, cells) for each patient kept at this scale."""
    fraction = min(1.0, max(scale, MIN_PATIENT_FRACTION))
    single = []
    for cell in census.CELLS:
        pool = [diagnosis for (device, split, diagnosis), count in census.SINGLE_CELL_PATIENTS.items()
                if (device, split) == cell for _ in range(count)]
        if not pool:
            continue
        keep = math.ceil(round(fraction * len(pool), 9))
        chosen = np.sort(rng.choice(len(pool), size=keep, replace=False))
        single.extend((pool[i], (cell,)) for i in chosen)
    pinned = {pid for pid, _, _ in census.MULTI_CELL_PATIENTS}
    free_ids = [pid for pid in range(census.FIRST_PATIENT_ID, census.LAST_PATIENT_ID + 1) if pid not in pinned]
    ids = rng.permutation(rng.choice(free_ids, size=len(single), replace=False))
    patients = [(int(pid), diagnosis, cells) for pid, (diagnosis, cells) in zip(ids, single)]
    patients += [(pid, diagnosis, cells) for pid, diagnosis, cells in census.MULTI_CELL_PATIENTS]
    return sorted(patients)


def _holdings(patients) -> dict[tuple[str, str], list[_Holding]]:
    holdings: dict[tuple[str, str], list[_Holding]] = defaultdict(list)
    for pid, diagnosis, cells in patients:
        for device, split in cells:
            holdings[(device, split)].append(_Holding(pid, diagnosis, device, split))
    return holdings


def _share_recordings(holdings, scale: float, rng: np.random.Generator) -> None:
    """Give every holding at least one recording and split the cell's rest at random."""
    for cell, (n_real, _) in census.CELLS.items():
        cell_holdings = holdings[cell]
        n_recordings = max(len(cell_holdings), round(scale * n_real))
        typical = np.array([census.RECORDINGS_PER_PATIENT.get((h.device, h.diagnosis), 1.0) for h in cell_holdings])
        weights = typical * rng.lognormal(0.0, 0.5, size=len(cell_holdings))
        extra = rng.multinomial(n_recordings - len(cell_holdings), weights / weights.sum())
        for holding, n_extra in zip(cell_holdings, extra):
            holding.n_recordings = 1 + int(n_extra)


def _recording_names(holdings, rng: np.random.Generator) -> dict[tuple[str, str, int], list[tuple[str, str]]]:
    """Draw (session, location) pairs per holding; a patient's devices get separate sessions."""
    by_patient_device: dict[tuple[int, str], list[_Holding]] = defaultdict(list)
    for cell in census.CELLS:
        for holding in holdings[cell]:
            by_patient_device[(holding.pid, holding.device)].append(holding)
    names = {}
    for (pid, device), group in sorted(by_patient_device.items()):
        total = sum(h.n_recordings for h in group)
        pairs = _sessions(DEVICE_PROFILES[device], total, rng)
        order = rng.permutation(total)
        start = 0
        for holding in group:
            picked = sorted(pairs[i] for i in order[start:start + holding.n_recordings])
            names[(pid, device, holding.split)] = picked
            start += holding.n_recordings
    return names


def _sessions(profile, n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Draw ``n`` distinct (recording index, chest location) pairs, e.g. ``("2b3", "Al")``."""
    low, high = profile.session_sizes
    high = min(high, len(profile.locations))
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(low, high + 1)))
    sizes[-1] -= sum(sizes) - n
    visits = np.arange(1, 10)
    visit_weights = 0.6 ** visits
    takes = np.arange(1, 10)
    take_weights = 0.7 ** takes
    candidates = [(v, t) for v in visits for t in takes]
    probs = np.array([visit_weights[v - 1] * take_weights[t - 1] for v, t in candidates])
    if len(sizes) > len(candidates):
        raise ValueError(f"cannot name {n} {profile.name} recordings for one patient; lower the scale")
    letter_p_share = rng.uniform(0.0, 0.6)
    chosen = rng.choice(len(candidates), size=len(sizes), replace=False, p=probs / probs.sum())
    location_weights = np.array([census.RECORDINGS_BY_LOCATION[loc] for loc in profile.locations], dtype=float)
    pairs = []
    for index, size in zip(sorted(chosen), sizes):
        visit, take = candidates[index]
        letter = "p" if rng.random() < letter_p_share else "b"
        locations = rng.choice(len(profile.locations), size=size, replace=False,
                               p=location_weights / location_weights.sum())
        pairs.extend((f"{visit}{letter}{take}", profile.locations[i]) for i in sorted(locations))
    return pairs


def _cell_class_counts(real_counts, n_recordings: int, scale: float) -> list[int]:
    counts = [max(1 if real else 0, round(scale * real)) for real in real_counts]
    counts[0] += max(0, MIN_CYCLES_PER_RECORDING * n_recordings - sum(counts))
    return counts


def _class_odds(diagnosis: str) -> np.ndarray:
    """Odds of crackle, wheeze and both against normal for one diagnosis (smoothed)."""
    normal, *abnormal = census.CYCLES_BY_DIAGNOSIS[diagnosis]
    return (np.asarray(abnormal, dtype=float) + 0.5) / (normal + 0.5)


def _cycles_and_labels(holdings, names, patients, children: set[int], scale: float,
                       rng: np.random.Generator) -> list[RecordingPlan]:
    preferences = {pid: rng.lognormal(0.0, ABNORMALITY_SIGMA_PATIENT, size=3) for pid, _, _ in patients}
    recordings = []
    for cell, (_, real_counts) in census.CELLS.items():
        device, split = cell
        profile = DEVICE_PROFILES[device]
        cell_recordings = [(holding, session, location)
                           for holding in holdings[cell]
                           for session, location in names[(holding.pid, device, split)]]
        counts = _cell_class_counts(real_counts, len(cell_recordings), scale)
        n_cycles = _cycles_per_recording(sum(counts), len(cell_recordings), rng)
        labels = _allocate_classes(cell_recordings, n_cycles, counts, preferences, rng)
        for (holding, session, location), n, cycle_labels in zip(cell_recordings, n_cycles, labels):
            bounds = _cycle_bounds_ms(device, n, rng)
            duration_ms = bounds[-1] + int(rng.integers(50, 900))
            body_rate = profile.body_rate
            # FFT-friendly lengths keep the spectral synthesis fast; they add at most a few ms.
            n_body = scipy.fft.next_fast_len(math.ceil(duration_ms * body_rate / 1000), real=True)
            recordings.append(RecordingPlan(
                name=f"{holding.pid}_{session}_{location}_{profile.mode}_{device}",
                pid=holding.pid, session=session, location=location, device=device, split=split,
                diagnosis=holding.diagnosis, child=holding.pid in children,
                sample_rate=profile.sample_rate, n_samples=n_body * (profile.sample_rate // body_rate),
                band_limited=False, cycle_bounds_ms=tuple(int(b) for b in bounds),
                crackles=tuple(bool(c in (1, 3)) for c in cycle_labels),
                wheezes=tuple(bool(c in (2, 3)) for c in cycle_labels)))
    return recordings


def _cycles_per_recording(total: int, n_recordings: int, rng: np.random.Generator) -> np.ndarray:
    weights = rng.lognormal(0.0, 0.4, size=n_recordings)
    extra = rng.multinomial(total - MIN_CYCLES_PER_RECORDING * n_recordings, weights / weights.sum())
    return MIN_CYCLES_PER_RECORDING + extra


def _allocate_classes(cell_recordings, n_cycles, counts, preferences, rng: np.random.Generator) -> list[np.ndarray]:
    """Label exactly ``counts`` cycles per class, favouring abnormal-prone recordings.

    Rarest classes are placed first, each by weighted sampling without
    replacement (Gumbel top-k) over the cycles still normal.
    """
    recording_of_cycle = np.repeat(np.arange(len(cell_recordings)), n_cycles)
    propensity = rng.lognormal(0.0, ABNORMALITY_SIGMA_RECORDING, size=len(cell_recordings))
    log_weights = np.array([SELECTION_SHARPNESS * np.log(_class_odds(holding.diagnosis) * preferences[holding.pid])
                            + np.log(p) for (holding, _, _), p in zip(cell_recordings, propensity)])
    labels = np.zeros(len(recording_of_cycle), dtype=np.int64)
    for label in (3, 2, 1):
        free = np.flatnonzero(labels == 0)
        keys = log_weights[recording_of_cycle[free], label - 1] + rng.gumbel(size=len(free))
        labels[free[np.argsort(-keys, kind="stable")[:counts[label]]]] = label
    return np.split(labels, np.cumsum(n_cycles)[:-1])


def _cycle_bounds_ms(device: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Contiguous cycle boundaries in ms: an onset, then ``n`` cycles of varying length."""
    mean = census.MEAN_CYCLE_SECONDS[device]
    median = mean / math.exp((PERIOD_SIGMA_RECORDING ** 2 + PERIOD_SIGMA_CYCLE ** 2) / 2)
    period = median * rng.lognormal(0.0, PERIOD_SIGMA_RECORDING)
    lengths = period * rng.lognormal(0.0, PERIOD_SIGMA_CYCLE, size=n)
    draw = rng.random(n)
    lengths = np.where(draw < census.SHORT_CYCLE_SHARE, rng.uniform(0.2, 0.5, size=n), lengths)
    lengths = np.where(draw > 1.0 - census.LONG_CYCLE_SHARE, rng.uniform(8.0, 16.2, size=n), lengths)
    lengths_ms = np.clip(np.round(lengths * 1000).astype(np.int64), MIN_CYCLE_MS, MAX_CYCLE_MS)
    onset_ms = int(round(1000 * min(rng.exponential(0.7), 4.0)))
    return onset_ms + np.concatenate([[0], np.cumsum(lengths_ms)])


def _choose_band_limited(recordings: list[RecordingPlan], rng: np.random.Generator) -> list[RecordingPlan]:
    """Mark the device's share of recordings as band-limited (at least one each way when shared)."""
    chosen = set()
    for device, profile in DEVICE_PROFILES.items():
        names = sorted(r.name for r in recordings if r.device == device)
        share = profile.band_limited_share
        count = round(share * len(names))
        if 0 < share < 1 and len(names) >= 2:
            count = min(max(count, 1), len(names) - 1)
        chosen.update(names[i] for i in rng.choice(len(names), size=count, replace=False))
    return [replace(r, band_limited=True) if r.name in chosen else r for r in recordings]


def _demographics(pid: int, diagnosis: str, rng: np.random.Generator) -> PatientPlan:
    """Age, sex, adult BMI or child weight/height, in the style of ``demographic_info.txt``."""
    child = rng.random() < census.CHILD_SHARE_BY_DIAGNOSIS.get(diagnosis, 0.0)
    sex = "M" if rng.random() < MALE_SHARE else "F"
    if not child:
        if diagnosis == "COPD":
            age = float(np.clip(round(rng.normal(69.0, 9.0)), 45, 93))
        else:
            age = float(rng.integers(19, 86))
        bmi = None if rng.random() < 0.03 else round(float(np.clip(rng.normal(27.2, 5.4), 16.5, 53.5)), 2)
        return PatientPlan(pid, diagnosis, age, sex, bmi, None, None)
    if diagnosis in ("Bronchiolitis", "LRTI"):
        age = rng.uniform(0.25, 3.0)
    elif diagnosis == "Healthy":
        age = rng.uniform(0.25, 16.0)
    else:
        age = rng.uniform(0.5, 8.0) if rng.random() < 0.8 else rng.uniform(8.0, 16.0)
    age = round(age, 2) if age < 1 else float(int(age))
    if rng.random() < 0.1:
        return PatientPlan(pid, diagnosis, age, sex, None, None, None)
    weight, height = _child_size(age)
    weight = round(weight * rng.lognormal(0.0, 0.12), 2 if weight < 10 else 1)
    height = float(round(height * rng.lognormal(0.0, 0.04)))
    return PatientPlan(pid, diagnosis, age, sex, None, weight, height)


def _child_size(age: float) -> tuple[float, float]:
    """Typical weight (kg) and height (cm) of a child of this age."""
    if age < 1:
        return 3.5 + 7.0 * age, 50.0 + 25.0 * age
    if age <= 12:
        return 8.0 + 2.3 * age, 75.0 + 6.5 * age
    return 40.0 + 5.0 * (age - 12), 153.0 + 4.0 * (age - 12)


def _one_without_demographics(patients: tuple[PatientPlan, ...], rng: np.random.Generator) -> tuple[PatientPlan, ...]:
    """Blank one patient's whole demographic row, as ICBHI does for patient 223."""
    pinned = {pid for pid, _, _ in census.MULTI_CELL_PATIENTS}
    candidates = [i for i, p in enumerate(patients) if p.pid not in pinned]
    blank = candidates[int(rng.integers(len(candidates)))]
    return tuple(replace(p, age=None, sex=None, bmi=None, child_weight=None, child_height=None) if i == blank else p
                 for i, p in enumerate(patients))
