"""The synthetic ICBHI generator: real layout and formats, published make-up, plausible sound, safe writes."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

from respirelib.data.audio import audio_info, read_audio
from respirelib.data.synth import (
    MARKER_FILE,
    SynthConfig,
    difficulty_settings,
    read_synthetic_marker,
    write_synthetic_icbhi,
)
from respirelib.data.synth import census, writer
from respirelib.data.synth.devices import DEVICE_PROFILES
from respirelib.data.synth.plan import plan_dataset
from respirelib.data.synth.sound import synthesize_recording
from tests.conftest import TINY_SYNTHETIC_SCALE

NAME_PATTERN = re.compile(r"^(\d{3})_(\d[bp]\d)_(Tc|Al|Ar|Pl|Pr|Ll|Lr)_(sc|mc)_(AKGC417L|LittC2SE|Litt3200|Meditron)$")
SECONDS_PATTERN = re.compile(r"^\d+(\.\d{1,3})?$")
METADATA_FILES = {writer.SPLIT_FILE, writer.DIAGNOSIS_FILE, writer.DEMOGRAPHIC_FILE, MARKER_FILE}
ANALYSIS_RATE = 4000


def _recording_names(folder: Path) -> set[str]:
    return {path.stem for path in folder.glob("*.wav")}


def _split_rows(folder: Path) -> dict[str, str]:
    text = (folder / writer.SPLIT_FILE).read_bytes().decode("ascii")
    return dict(line.split("\t") for line in text.split("\r\n") if line)


def _annotation_rows(folder: Path, name: str) -> list[tuple[float, float, int, int]]:
    rows = []
    for line in (folder / f"{name}.txt").read_text().splitlines():
        start, end, crackle, wheeze = line.split("\t")
        rows.append((float(start), float(end), int(crackle), int(wheeze)))
    return rows


def _audio_at_analysis_rate(folder: Path, name: str) -> np.ndarray:
    y, sr = read_audio(folder / f"{name}.wav")
    return librosa.resample(y, orig_sr=sr, target_sr=ANALYSIS_RATE) if sr != ANALYSIS_RATE else y


def _band_power_db(wave: np.ndarray, sr: int, low: float, high: float, reference: tuple[float, float], *,
                   nperseg: int = 2048) -> float:
    """Mean power density in [low, high] Hz over that in ``reference``, in dB."""
    freqs, power = scipy.signal.welch(wave, fs=sr, nperseg=min(len(wave), nperseg))
    band = power[(freqs >= low) & (freqs <= high)].mean()
    ref = power[(freqs >= reference[0]) & (freqs <= reference[1])].mean()
    return float(10 * np.log10(band / ref))


def _band_gap_db(y: np.ndarray) -> float:
    """Power density in 1.55–1.95 kHz relative to 100–1000 Hz, in dB (4 kHz audio)."""
    return _band_power_db(y, ANALYSIS_RATE, 1550, 1950, (100, 1000), nperseg=1024)


def _transient_strength(y: np.ndarray) -> float:
    """How far the loudest 4 ms bursts (100–700 Hz) rise above their ~100 ms surroundings."""
    band = scipy.signal.sosfiltfilt(scipy.signal.butter(4, [100, 700], btype="band", fs=ANALYSIS_RATE,
                                                        output="sos"), y)
    energy = np.convolve(band ** 2, np.ones(16) / 16, mode="same")
    background = np.repeat(scipy.signal.medfilt(energy[::8], kernel_size=51), 8)[:len(energy)] + 1e-12
    return float(np.mean(np.sort(energy / background)[-20:]))


def _tonality(y: np.ndarray) -> float:
    """90th percentile over frames of the strongest 100–1000 Hz bin against the median bin.

    Each bin is first divided by its median over the segment, so steady lines and bands (hum,
    the noise bands of sound model 4) do not count: only tones that come and go do.
    """
    freqs, _, spectrum = scipy.signal.stft(y, fs=ANALYSIS_RATE, nperseg=512, noverlap=384)
    power = np.abs(spectrum[(freqs >= 100) & (freqs <= 1000)]) ** 2 + 1e-20
    white = power / np.median(power, axis=1, keepdims=True)
    return float(np.percentile(white.max(axis=0) / np.median(white, axis=0), 90))


def _cycle_measures(folder: Path, measure) -> dict[str, list[float]]:
    labels = {(0, 0): "normal", (1, 0): "crackle", (0, 1): "wheeze", (1, 1): "both"}
    values: dict[str, list[float]] = {label: [] for label in labels.values()}
    for name in sorted(_recording_names(folder)):
        y = _audio_at_analysis_rate(folder, name)
        for start, end, crackle, wheeze in _annotation_rows(folder, name):
            segment = y[int(start * ANALYSIS_RATE):int(end * ANALYSIS_RATE)]
            if len(segment) >= 800:
                values[labels[(crackle, wheeze)]].append(measure(segment))
    return values


def _file_hashes(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


# ---------------------------------------------------------------- layout and formats


def test_folder_holds_recording_pairs_and_metadata_only(tiny_synthetic):
    files = {path.name for path in tiny_synthetic.iterdir()}
    names = _recording_names(tiny_synthetic)
    assert names == {path.stem for path in tiny_synthetic.glob("*.txt") if path.name not in METADATA_FILES}
    assert files == METADATA_FILES | {f"{n}.wav" for n in names} | {f"{n}.txt" for n in names}
    assert not tiny_synthetic.with_name(tiny_synthetic.name + ".partial").exists()


def test_recording_names_follow_the_icbhi_pattern(tiny_synthetic):
    for name in _recording_names(tiny_synthetic):
        match = NAME_PATTERN.match(name)
        assert match, name
        pid, _, _, mode, device = match.groups()
        assert census.FIRST_PATIENT_ID <= int(pid) <= census.LAST_PATIENT_ID
        assert mode == DEVICE_PROFILES[device].mode


def test_split_file_has_crlf_rows_for_every_recording(tiny_synthetic):
    raw = (tiny_synthetic / writer.SPLIT_FILE).read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n")
    rows = _split_rows(tiny_synthetic)
    assert set(rows) == _recording_names(tiny_synthetic)
    assert set(rows.values()) == {"train", "test"}
    assert list(rows) == sorted(rows)


def test_diagnosis_file_has_a_header_and_one_row_per_patient(tiny_synthetic):
    text = (tiny_synthetic / writer.DIAGNOSIS_FILE).read_text()
    lines = text.split("\n")
    assert lines[0] == "ID,CLASS" and text.endswith("\n") and "\r" not in text
    diagnoses = dict(line.split(",") for line in lines[1:] if line)
    assert set(diagnoses.values()) <= set(census.DIAGNOSES)
    assert {int(pid) for pid in diagnoses} == {int(name[:3]) for name in _recording_names(tiny_synthetic)}


def test_demographic_file_keeps_the_real_quirks(tiny_synthetic):
    text = (tiny_synthetic / writer.DEMOGRAPHIC_FILE).read_text()
    assert text.startswith("\n") and not text.endswith("\n")
    rows = [line.split(" ") for line in text[1:].split("\n")]
    assert all(len(row) == 6 for row in rows)
    assert sum(row[1:] == ["NA"] * 5 for row in rows) == 1
    for pid, age, sex, bmi, weight, height in rows:
        assert sex in ("M", "F", "NA")
        for value in (age, bmi, weight, height):
            assert value == "NA" or float(value) > 0
        is_child = age != "NA" and float(age) < 18
        assert bmi == "NA" if is_child else (weight, height) == ("NA", "NA")
    diagnosis_ids = [line.split(",")[0] for line in (tiny_synthetic / writer.DIAGNOSIS_FILE).read_text().split("\n")[1:]
                     if line]
    assert [row[0] for row in rows] == diagnosis_ids


def test_annotations_are_icbhi_rows_inside_the_audio(tiny_synthetic):
    for name in _recording_names(tiny_synthetic):
        raw = (tiny_synthetic / f"{name}.txt").read_bytes()
        assert raw.endswith(b"\n") and b"\r" not in raw
        for line in raw.decode().splitlines():
            start, end, crackle, wheeze = line.split("\t")
            assert SECONDS_PATTERN.match(start) and SECONDS_PATTERN.match(end), line
            assert crackle in ("0", "1") and wheeze in ("0", "1")
        rows = _annotation_rows(tiny_synthetic, name)
        info = audio_info(tiny_synthetic / f"{name}.wav")
        assert info.channels == 1 and info.subtype == "PCM_16"
        assert info.sample_rate == DEVICE_PROFILES[name.split("_")[-1]].sample_rate
        starts = np.array([row[0] for row in rows])
        ends = np.array([row[1] for row in rows])
        assert len(rows) >= 2 and starts[0] >= 0 and ends[-1] <= info.duration
        np.testing.assert_array_equal(starts[1:], ends[:-1])
        assert np.all(ends - starts >= 0.2 - 1e-9) and np.all(ends - starts <= 16.2 + 1e-9)


def test_tiny_scale_keeps_every_device_split_part_and_class(tiny_synthetic):
    split = _split_rows(tiny_synthetic)
    classes = {"train": Counter(), "test": Counter()}
    devices = Counter()
    for name, part in split.items():
        devices[name.split("_")[-1]] += 1
        for _, _, crackle, wheeze in _annotation_rows(tiny_synthetic, name):
            classes[part][crackle + 2 * wheeze] += 1
    assert set(devices) == set(census.DEVICES)
    assert all(set(counter) == {0, 1, 2, 3} for counter in classes.values())
    assert len({name[:3] for name in split}) >= 10


def test_marker_says_synthetic_and_matches_the_files(tiny_synthetic):
    marker = read_synthetic_marker(tiny_synthetic)
    assert marker == json.loads((tiny_synthetic / MARKER_FILE).read_text())
    assert marker["synthetic"] is True and "SYNTHETIC" in marker["warning"]
    assert (marker["seed"], marker["scale"], marker["difficulty"]) == (0, TINY_SYNTHETIC_SCALE, 0.5)
    assert marker["generator"] == "respirelib.data.synth" and marker["generator_version"]
    counts = marker["counts"]
    n_cycles = sum(len(_annotation_rows(tiny_synthetic, name)) for name in _recording_names(tiny_synthetic))
    assert counts["n_recordings"] == len(_recording_names(tiny_synthetic))
    assert counts["n_cycles"] == n_cycles == sum(counts["cycles_by_class"].values())
    assert read_synthetic_marker(tiny_synthetic.parent) is None


def test_loader_reads_the_synthetic_dataset_without_problems(tiny_synthetic):
    from respirelib.data.icbhi import load_icbhi

    dataset = load_icbhi(tiny_synthetic)
    assert dataset.report.entries == []
    assert dataset.is_synthetic and dataset.synthetic["seed"] == 0
    counts = dataset.synthetic["counts"]
    assert len(dataset.recordings) == counts["n_recordings"]
    assert dataset.cycles["label"].value_counts().to_dict() == counts["cycles_by_class"]
    assert set(dataset.cycles["split"]) == {"train", "test"}


# ---------------------------------------------------------------- published make-up


def test_scale_one_plan_has_the_published_counts():
    plan = plan_dataset(scale=1.0, seed=0)
    labels = Counter()
    by_device, by_split, recordings_by_split = Counter(), Counter(), Counter()
    parts_of_patient: dict[int, set[str]] = {}
    for r in plan.recordings:
        labels.update(int(c) + 2 * int(w) for c, w in zip(r.crackles, r.wheezes))
        by_device[r.device] += r.n_cycles
        by_split[r.split] += r.n_cycles
        recordings_by_split[r.split] += 1
        parts_of_patient.setdefault(r.pid, set()).add(r.split)
    assert [p.pid for p in plan.patients] == list(range(101, 227))
    assert [labels[k] for k in range(4)] == [3642, 1864, 886, 506]
    assert by_device == {"AKGC417L": 4346, "Meditron": 1456, "LittC2SE": 594, "Litt3200": 502}
    assert recordings_by_split == {"train": 539, "test": 381} and by_split == {"train": 4142, "test": 2756}
    assert {pid for pid, parts in parts_of_patient.items() if len(parts) == 2} == {156, 218}
    assert all(r.split == "train" for r in plan.recordings if r.device == "LittC2SE")
    assert sum(r.split == "test" for r in plan.recordings if r.device == "Litt3200") == 55
    assert Counter(p.diagnosis for p in plan.patients) == {
        "COPD": 64, "Healthy": 26, "URTI": 14, "Bronchiectasis": 7, "Bronchiolitis": 6, "Pneumonia": 6, "LRTI": 2,
        "Asthma": 1}
    lengths = np.concatenate([np.diff(r.cycle_bounds_ms) for r in plan.recordings]) / 1000
    assert lengths.min() >= 0.2 and 8 < lengths.max() <= 16.2 and 2.55 < lengths.mean() < 2.85
    assert 17 < np.mean([r.duration for r in plan.recordings]) < 25
    band_limited = Counter(r.device for r in plan.recordings if r.band_limited)
    assert band_limited["Litt3200"] == 60 and band_limited["Meditron"] == round(0.2 * 127)
    assert band_limited["AKGC417L"] == band_limited["LittC2SE"] == 0


def test_abnormal_cycles_concentrate_in_sick_patients():
    plan = plan_dataset(scale=1.0, seed=0)
    abnormal_share = {}
    for diagnosis in ("COPD", "Healthy"):
        flags = [c or w for r in plan.recordings if r.diagnosis == diagnosis for c, w in zip(r.crackles, r.wheezes)]
        abnormal_share[diagnosis] = np.mean(flags)
    assert abnormal_share["COPD"] > 0.4 and abnormal_share["Healthy"] < 0.15


@pytest.mark.parametrize("scale", [0.005, 0.05, 0.5])
def test_small_scales_keep_patients_devices_and_classes(scale):
    plan = plan_dataset(scale=scale, seed=3)
    assert len(plan.patients) >= 10
    assert {r.device for r in plan.recordings} == set(census.DEVICES)
    for part in ("train", "test"):
        classes = {int(c) + 2 * int(w) for r in plan.recordings if r.split == part
                   for c, w in zip(r.crackles, r.wheezes)}
        assert classes == {0, 1, 2, 3}
    assert len({r.name for r in plan.recordings}) == len(plan.recordings)
    assert any(r.band_limited for r in plan.recordings if r.device == "Meditron")
    assert not all(r.band_limited for r in plan.recordings if r.device == "Meditron")


def test_plan_depends_on_the_seed():
    first, second = plan_dataset(scale=0.1, seed=0), plan_dataset(scale=0.1, seed=1)
    assert first == plan_dataset(scale=0.1, seed=0)
    assert [r.name for r in first.recordings] != [r.name for r in second.recordings]


@pytest.mark.parametrize("arguments", [{"scale": 0.0}, {"scale": 2.5}, {"difficulty": -0.1}, {"difficulty": 1.5},
                                       {"seed": -1}])
def test_bad_arguments_are_refused(arguments, tmp_path):
    with pytest.raises(ValueError):
        write_synthetic_icbhi(tmp_path / "out", progress=False, **arguments)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- sound


def test_band_limited_recordings_are_blank_above_1500_hz(tiny_synthetic):
    plan = {r.name: r for r in plan_dataset(scale=TINY_SYNTHETIC_SCALE, seed=0).recordings}
    gaps = {name: _band_gap_db(_audio_at_analysis_rate(tiny_synthetic, name)) for name in plan}
    limited = [gap for name, gap in gaps.items() if plan[name].band_limited]
    full = [gap for name, gap in gaps.items() if not plan[name].band_limited]
    assert limited and full
    assert max(limited) < -60
    assert min(full) > -45
    assert all(plan[name].band_limited for name in plan if name.endswith("Litt3200"))


def test_crackle_cycles_carry_more_transients_than_normal_ones(tiny_synthetic):
    # Normal cycles carry friction clicks and heart-sound onsets too (sound model 2, issue 21), so the
    # margin is smaller than the 3x of sound model 1: 2.6x measured on this set at difficulty 0.5 with
    # sound model 2, 1.9x (both vs wheeze 3.1x) with sound model 3 (twice the friction clicks, heart 4 dB louder),
    # 2.5x (both vs wheeze 10x) with sound model 4 (clicks and heart sounds that fade upward).
    strength = _cycle_measures(tiny_synthetic, _transient_strength)
    assert np.median(strength["crackle"]) > 1.5 * np.median(strength["normal"])
    assert np.median(strength["both"]) > 1.5 * np.median(strength["wheeze"])


def test_wheeze_cycles_are_more_tonal_than_normal_ones(tiny_synthetic):
    # Sound model 3 made wheezes shorter and fainter and groans (in normal cycles) longer. Sound
    # model 4 (noise bands, grunts), measured on this set: wheeze vs normal 1.4x, both vs crackle 1.9x.
    tonality = _cycle_measures(tiny_synthetic, _tonality)
    assert np.median(tonality["wheeze"]) > 1.25 * np.median(tonality["normal"])
    assert np.median(tonality["both"]) > 1.5 * np.median(tonality["crackle"])


def test_difficulty_makes_events_fainter_and_noise_louder():
    easy, hard = difficulty_settings(0.0), difficulty_settings(1.0)
    assert hard.crackle_level_db[1] < easy.crackle_level_db[1] and hard.wheeze_level_db[1] < easy.wheeze_level_db[1]
    assert hard.crackles_per_cycle < easy.crackles_per_cycle and hard.ambient_db > easy.ambient_db
    assert easy.silent_share == easy.spurious_share == 0 < hard.silent_share
    plan = plan_dataset(scale=0.05, seed=0)
    def crackle_only(r):
        return [i for i, (c, w) in enumerate(zip(r.crackles, r.wheezes)) if c and not w]

    recording = max((r for r in plan.recordings if r.sample_rate == ANALYSIS_RATE), key=lambda r: len(crackle_only(r)))
    crackling = crackle_only(recording)
    assert len(crackling) >= 2
    strengths = {}
    for difficulty in (0.0, 1.0):
        y = synthesize_recording(recording, settings=difficulty_settings(difficulty), seed=0)
        bounds = np.asarray(recording.cycle_bounds_ms) * ANALYSIS_RATE // 1000
        strengths[difficulty] = np.median([_transient_strength(y[bounds[i]:bounds[i + 1]]) for i in crackling])
    assert strengths[0.0] > 2 * strengths[1.0]


def test_wheezes_reach_down_to_short_and_faint(monkeypatch):
    # Sound model 3: a share of wheezes lasts only 80-400 ms, and every difficulty's wheeze levels
    # reach well below the breath sound (CORSA: wheezes are often of low intensity).
    from respirelib.data.synth import adventitious

    durations = []
    original = adventitious.wheeze
    monkeypatch.setattr(adventitious, "wheeze", lambda sr, duration, rng, **kw: (durations.append(duration),
                                                                                 original(sr, duration, rng, **kw))[1])
    rng = np.random.default_rng(0)
    settings = difficulty_settings(0.3)
    for _ in range(200):  # 8 s cycles: phases of 3.6 and 4.4 s, so the difficulty's coverage alone is over 1.4 s
        adventitious.add_wheezes(np.zeros(8 * 4000), 4000, 0.0, 8.0, 0.45, 0.0, False, settings, rng)
    durations = np.asarray(durations)
    assert durations.min() >= adventitious.MIN_WHEEZE_SECONDS
    # (A long wheeze broken into pieces calls wheeze() once per piece, each piece over 200 ms here.)
    assert np.mean(durations <= 0.15) > 0.05 and durations.max() > 1.0
    for difficulty in (0.0, 0.5, 1.0):
        assert difficulty_settings(difficulty).wheeze_level_db[0] <= -8.0


def test_groans_are_harmonic_stacks_whose_loudest_line_is_often_not_the_fundamental():
    # Source-filter voice (Fant 1960): harmonics of a low f0 shaped by formants, unlike a wheeze's few lines.
    from respirelib.data.synth.clutter import voiced_sound

    sr, loudest_above_fundamental = 4000, 0
    for seed in range(40):
        wave = voiced_sound(sr, 0.5, np.random.default_rng(seed))
        freqs, power = scipy.signal.welch(wave, fs=sr, nperseg=1024)
        peaks, _ = scipy.signal.find_peaks(10 * np.log10(power + 1e-20), prominence=10)
        assert len(peaks) >= 4, seed  # a dense stack of harmonics, not one or two tones
        f0 = freqs[peaks[0]]
        assert 60 <= f0 <= 320, seed
        loudest_above_fundamental += freqs[peaks[np.argmax(power[peaks])]] > 1.5 * f0
    assert 0.3 * 40 <= loudest_above_fundamental <= 0.95 * 40


def test_grunts_start_abruptly_and_are_breathy_unlike_groans():
    # Sound model 4: a grunt (GRUNT_SHARE of vocalising patients) has 10 ms edges and aspiration
    # noise through the formants, so it shows as a broadband burst with the harmonics inside.
    from respirelib.data.synth.clutter import voiced_sound

    sr = 4000

    def onset_and_flatness(grunt: bool) -> tuple[float, float]:
        onsets, flatness = [], []
        for seed in range(20):
            wave = voiced_sound(sr, 0.3, np.random.default_rng(seed), grunt=grunt)
            onsets.append(np.sqrt(np.mean(wave[:int(0.02 * sr)] ** 2) / np.mean(wave ** 2)))
            freqs, power = scipy.signal.welch(wave, fs=sr, nperseg=256)
            band = power[(freqs > 100) & (freqs < 1500)]
            flatness.append(np.exp(np.mean(np.log(band))) / np.mean(band))
        return float(np.median(onsets)), float(np.median(flatness))

    groan, grunt = onset_and_flatness(False), onset_and_flatness(True)
    assert grunt[0] > 0.6 > 0.4 > groan[0]  # measured: about 0.78 against 0.26
    assert grunt[1] > 0.08 > 0.02 > groan[1]  # spectral flatness: about 0.14 against 0.006


def test_heart_sounds_stay_low_in_frequency():
    # Sound model 4: real heart sounds barely reach 1.2-2 kHz (heart-sound frames of the real
    # Meditron and LittC2SE recordings: about 1 dB over the band's median). Model 3 started each
    # sound's onset burst at full strength and drew a line across the whole band twice a beat.
    from respirelib.data.synth.clutter import heart_sounds

    sr = 11025
    for seed in range(10):
        heart = heart_sounds(5 * sr, sr, child=False, location="Al", rng=np.random.default_rng(seed))
        assert _band_power_db(heart, sr, 1200, 2000, (30, 150)) < -60, seed  # model 3: -38 to -47 dB
        assert _band_power_db(heart, sr, 150, 450, (30, 150)) > -30, seed  # the onset still carries some


def test_clicks_fade_upward_by_different_amounts():
    # Sound model 4: clicks pass a low-pass of 150-3000 Hz, so most fade upward like crackles do and
    # a few stay broadband lines; model 3's were all white, which a classifier could tell from crackles.
    from respirelib.data.synth import clutter

    sr, rng = 11025, np.random.default_rng(0)
    tops = []
    for _ in range(60):
        corner = float(np.exp(rng.uniform(*np.log(clutter.CLICK_CORNER_HZ))))
        click = np.concatenate([clutter._click(sr, corner, rng), np.zeros(256)])
        assert np.max(np.abs(click)) == pytest.approx(1.0)
        tops.append(_band_power_db(click, sr, 1200, 2000, (100, 300)))
    tops = np.asarray(tops)
    assert np.mean(tops < -20) > 0.4 and np.mean(tops > -6) > 0.1


def test_a_noise_band_is_steady_and_sits_around_its_centre():
    from respirelib.data.synth import clutter

    sr = 4000
    for seed in range(5):
        band = clutter.noise_band(10 * sr, sr, np.random.default_rng(seed))
        freqs, power = scipy.signal.welch(band, fs=sr, nperseg=1024)
        centre = freqs[np.argmax(scipy.ndimage.uniform_filter1d(power, 9))]
        assert clutter.NOISE_BAND_CENTRE_HZ[0] * 0.7 <= centre <= clutter.NOISE_BAND_CENTRE_HZ[1] * 1.3, seed
        assert power[freqs < 0.25 * centre].sum() < 0.02 * power.sum(), seed
        frames = np.sqrt(np.mean(band.reshape(-1, sr // 4) ** 2, axis=1))  # 250 ms frames
        assert frames.max() / frames.min() < 2.0, seed  # steady: no breath phase, no events


# ---------------------------------------------------------------- determinism and safe writing


def test_same_seed_gives_the_same_bytes_whatever_the_workers(tiny_synthetic, tmp_path):
    out = tmp_path / "again"
    out.mkdir()
    write_synthetic_icbhi(out, scale=TINY_SYNTHETIC_SCALE, seed=0, progress=False, workers=2)
    assert _file_hashes(out) == _file_hashes(tiny_synthetic)


def test_refuses_to_write_into_a_non_empty_folder(tmp_path):
    out = tmp_path / "earlier"
    out.mkdir()
    (out / "results.json").write_text("{}")
    with pytest.raises(FileExistsError, match="earlier"):
        write_synthetic_icbhi(out, scale=TINY_SYNTHETIC_SCALE, progress=False)
    assert [path.name for path in out.iterdir()] == ["results.json"]
    assert not (tmp_path / "earlier.partial").exists()


def test_an_interrupted_run_leaves_only_a_partial_folder_that_the_next_run_replaces(tmp_path, monkeypatch):
    out = tmp_path / "synthetic"

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(writer, "_write_split", fail)
        with pytest.raises(KeyboardInterrupt):
            write_synthetic_icbhi(out, scale=0.005, progress=False, workers=1)
    partial = tmp_path / "synthetic.partial"
    assert not out.exists() and (partial / writer.IN_PROGRESS_STAMP).is_file()
    assert not (partial / MARKER_FILE).exists()
    summary = write_synthetic_icbhi(out, scale=0.005, progress=False, workers=1)
    assert summary.path == out and (out / MARKER_FILE).is_file() and not partial.exists()
    assert not (out / writer.IN_PROGRESS_STAMP).exists()


def test_a_foreign_partial_folder_is_never_removed(tmp_path):
    foreign = tmp_path / "synthetic.partial"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="synthetic.partial"):
        write_synthetic_icbhi(tmp_path / "synthetic", scale=0.005, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_config_holds_the_defaults():
    config = SynthConfig()
    assert (config.scale, config.seed, config.difficulty) == (1.0, 0, 0.5)
