"""The loader on small hand-made folders: the layout, bad input, and the report."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from respirelib.data.audio import read_audio
from respirelib.errors import DataError
from respirelib.data.icbhi import load_icbhi
from tests.conftest import TINY_RECORDINGS, write_recording


def test_tiny_folder_loads_with_every_column(tiny_icbhi):
    dataset = load_icbhi(tiny_icbhi)
    assert len(dataset.recordings) == 5 and len(dataset.cycles) == 11
    assert dataset.has_audio and not dataset.is_synthetic
    assert not dataset.report.problems
    cycle = dataset.cycles.iloc[0]
    assert cycle["recording"] == "101_1b1_Al_sc_Meditron" and cycle["patient"] == 101
    assert cycle["chest_location"] == "Al" and cycle["acquisition_mode"] == "sc" and cycle["device"] == "Meditron"
    assert cycle["duration"] == pytest.approx(1.4) and cycle["label"] == "normal" and cycle["split"] == "train"
    assert cycle["diagnosis"] == "URTI"
    labels = dataset.cycles.set_index(["recording", "cycle_index"])["label"]
    assert labels[("101_1b1_Al_sc_Meditron", 1)] == "crackle"
    assert labels[("101_1b1_Al_sc_Meditron", 2)] == "wheeze"
    assert labels[("102_1b1_Ar_sc_Meditron", 0)] == "both"
    recording = dataset.recordings.set_index("recording").loc["103_2b2_Ar_mc_LittC2SE"]
    assert recording["sample_rate"] == 4000 and recording["audio_duration"] == pytest.approx(6.0)


def test_nested_layout_is_found(tiny_icbhi, tmp_path):
    root = tmp_path / "download"
    (root / "ICBHI_final_database").mkdir(parents=True)
    for path in tiny_icbhi.iterdir():
        target = root / "ICBHI_final_database" if path.stem in TINY_RECORDINGS else root
        shutil.copy(path, target / path.name)
    dataset = load_icbhi(root)
    assert len(dataset.cycles) == 11 and set(dataset.recordings["split"]) == {"train", "test"}
    assert not dataset.report.entries


def test_kaggle_layout_is_found(tiny_icbhi, tmp_path):
    """``Respiratory_Sound_Database/Respiratory_Sound_Database/audio_and_txt_files/``, metadata at two levels."""
    root = tmp_path / "kaggle"
    inner = root / "Respiratory_Sound_Database" / "Respiratory_Sound_Database"
    (inner / "audio_and_txt_files").mkdir(parents=True)
    for path in tiny_icbhi.iterdir():
        target = inner / "audio_and_txt_files" if path.stem in TINY_RECORDINGS else \
            root if path.name == "demographic_info.txt" else inner
        shutil.copy(path, target / path.name)
    dataset = load_icbhi(root)
    assert len(dataset.cycles) == 11 and set(dataset.recordings["split"]) == {"train", "test"}
    assert dataset.patients.set_index("patient").loc[102, ["diagnosis", "age"]].tolist() == ["COPD", 70.0]
    assert not dataset.report.entries


def test_loader_never_writes_into_the_data_folder(tiny_icbhi):
    def snapshot():
        return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tiny_icbhi.rglob("*")}

    before = snapshot()
    dataset = load_icbhi(tiny_icbhi)
    _ = dataset.fingerprint
    assert snapshot() == before


def test_fingerprint_follows_content(tiny_icbhi):
    first = load_icbhi(tiny_icbhi).fingerprint
    assert load_icbhi(tiny_icbhi).fingerprint == first
    path = tiny_icbhi / "101_1b1_Al_sc_Meditron.txt"
    path.write_text(path.read_text().replace("0.1\t1.5", "0.2\t1.5"))
    assert load_icbhi(tiny_icbhi).fingerprint != first


def test_unexpected_files_are_ignored_and_listed(tiny_icbhi):
    (tiny_icbhi / ".DS_Store").write_bytes(b"\0")
    (tiny_icbhi / "notes.docx").write_text("x")
    (tiny_icbhi / "extras").mkdir()
    report = load_icbhi(tiny_icbhi).report
    ignored = {os.path.basename(e.path) for e in report.ignored}
    assert ignored == {".DS_Store", "notes.docx", "extras"}
    assert not report.problems


BAD_ROWS = {
    "end before start": ("3.0\t2.0\t0\t0", "is not after start"),
    "end equals start": ("2.0\t2.0\t0\t0", "is not after start"),
    "negative time": ("-0.5\t1.0\t0\t0", "negative time"),
    "not a number": ("abc\t1.0\t0\t0", "not numbers"),
    "flag not 0/1": ("0.0\t1.0\t2\t0", "flags must be 0 or 1"),
    "missing field": ("0.0\t1.0\t0", "expected 4 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_annotation_rows(tiny_icbhi, case):
    row, message = BAD_ROWS[case]
    path = tiny_icbhi / "101_1b1_Al_sc_Meditron.txt"
    path.write_text(path.read_text() + row + "\n")
    with pytest.raises(DataError, match=message) as raised:
        load_icbhi(tiny_icbhi)
    assert "101_1b1_Al_sc_Meditron.txt:4" in str(raised.value)
    dataset = load_icbhi(tiny_icbhi, errors="skip")
    assert len(dataset.cycles) == 11  # the three good rows stay
    (entry,) = dataset.report.skipped
    assert entry.path.endswith("101_1b1_Al_sc_Meditron.txt:4") and message in entry.detail


def _corrupt(path):
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path):
    path.write_bytes(b"")


def _remove(path):
    path.unlink()


AUDIO_FAULTS = {"corrupt": (_corrupt, "not a readable audio file"), "truncated": (_truncate, "truncated"),
                "empty": (_empty, "empty"), "missing": (_remove, "annotation without audio")}


@pytest.mark.parametrize("fault", sorted(AUDIO_FAULTS))
def test_bad_audio(tiny_icbhi, fault):
    damage, message = AUDIO_FAULTS[fault]
    damage(tiny_icbhi / "102_1b1_Ar_sc_Meditron.wav")
    with pytest.raises(DataError, match=message) as raised:
        load_icbhi(tiny_icbhi)
    assert "102_1b1_Ar_sc_Meditron" in str(raised.value)
    dataset = load_icbhi(tiny_icbhi, errors="skip")
    assert "102_1b1_Ar_sc_Meditron" not in set(dataset.recordings["recording"])
    assert len(dataset.recordings) == 4
    assert any("102_1b1_Ar_sc_Meditron" in e.path and message in e.detail for e in dataset.report.skipped)


def test_audio_without_annotation(tiny_icbhi):
    (tiny_icbhi / "104_1b1_Ll_sc_Litt3200.txt").unlink()
    with pytest.raises(DataError, match="audio without an annotation file"):
        load_icbhi(tiny_icbhi)
    dataset = load_icbhi(tiny_icbhi, errors="skip")
    assert len(dataset.recordings) == 4 and len(dataset.report.skipped) == 1


def test_unknown_device_suffix(tiny_icbhi):
    write_recording(tiny_icbhi, "106_1b1_Al_sc_iPhone12", ["0.0\t1.0\t0\t0"])
    with pytest.raises(DataError, match="unknown device suffix 'iPhone12'") as raised:
        load_icbhi(tiny_icbhi)
    assert "106_1b1_Al_sc_iPhone12" in str(raised.value)
    dataset = load_icbhi(tiny_icbhi, errors="skip")
    assert len(dataset.recordings) == 5


def test_cycle_past_the_end_of_audio(tiny_icbhi):
    path = tiny_icbhi / "105_1b1_Tc_sc_AKGC417L.txt"
    path.write_text(path.read_text() + "3.9\t6.05\t0\t0\n4.0\t7.5\t1\t0\n")  # audio is 6.0 s long
    with pytest.raises(DataError, match="runs past the end of the audio"):
        load_icbhi(tiny_icbhi)
    dataset = load_icbhi(tiny_icbhi, errors="skip")
    cycles = dataset.cycles[dataset.cycles["recording"] == "105_1b1_Tc_sc_AKGC417L"]
    assert list(cycles["cycle_index"]) == [0, 1, 2]
    assert cycles["end"].iloc[-1] == pytest.approx(6.0)  # 0.05 s over: clipped and reported
    assert len(dataset.report.repaired) == 1 and len(dataset.report.skipped) == 1


def test_annotation_only_folder(tiny_icbhi):
    for wav in tiny_icbhi.glob("*.wav"):
        wav.unlink()
    dataset = load_icbhi(tiny_icbhi)
    assert not dataset.has_audio and len(dataset.cycles) == 11
    assert "sample_rate" not in dataset.recordings
    with pytest.raises(DataError, match="no audio files"):
        load_icbhi(tiny_icbhi, audio="require")


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_icbhi(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no ICBHI recordings"):
        load_icbhi(tmp_path)


def test_recording_missing_from_split_file_is_reported(tiny_icbhi):
    write_recording(tiny_icbhi, "106_1b1_Al_sc_Meditron", ["0.0\t1.0\t0\t0"])
    dataset = load_icbhi(tiny_icbhi)
    row = dataset.recordings.set_index("recording").loc["106_1b1_Al_sc_Meditron"]
    assert row["split"] is None or row["split"] != row["split"]  # None or NaN: not in the official split
    assert any("not listed in the split file" in e.detail for e in dataset.report.skipped)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_audio_formats_and_channels_read_as_mono(tmp_path, subtype):
    t = np.arange(4000) / 4000
    left, right = 0.5 * np.sin(2 * np.pi * 100 * t), 0.25 * np.sin(2 * np.pi * 100 * t)
    path = tmp_path / "x.wav"
    sf.write(path, np.stack([left, right], axis=1), 4000, subtype=subtype)
    y, sr = read_audio(path)
    assert sr == 4000 and y.dtype == np.float32 and y.shape == (4000,)
    tolerance = 1e-2 if subtype == "PCM_U8" else 1e-4
    np.testing.assert_allclose(y, (left + right) / 2, atol=tolerance)


def test_flac_and_time_range(tmp_path):
    y = np.linspace(-0.5, 0.5, 8000)
    sf.write(tmp_path / "x.flac", y, 4000)
    part, sr = read_audio(tmp_path / "x.flac", start=0.5, stop=1.0)
    assert sr == 4000 and part.shape == (2000,)
    np.testing.assert_allclose(part, y[2000:4000], atol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_audio_with_samples_that_are_not_finite_is_refused_naming_the_file(tmp_path, bad):
    y = np.zeros((8000, 2), dtype=np.float32)
    y[6000, 1] = bad  # one channel of one sample, at 1.5 s
    sf.write(tmp_path / "x.wav", y, 4000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"x\.wav: 1 of 8000 samples are not finite \(NaN or infinite\), "
                                        r"the first at 1\.500 s"):
        read_audio(tmp_path / "x.wav")
    with pytest.raises(DataError, match="first at 1.500 s"):  # the time counts from the file's start
        read_audio(tmp_path / "x.wav", start=1.0)


def test_one_parser_reads_flagged_and_unflagged_annotation_files(tmp_path):
    from respirelib.data.annotations import parse_annotation_file

    plain = tmp_path / "plain.txt"
    plain.write_text("0.5 1.5\n\n1.5\t2.5\n")
    cycles, problems = parse_annotation_file(plain, require_flags=False)
    assert problems == [] and list(cycles.columns) == ["cycle_index", "line", "start", "end"]
    assert cycles["line"].tolist() == [1, 3] and cycles["end"].tolist() == [1.5, 2.5]
    # The ICBHI loader needs the flags; a new recording's boundaries need not have them.
    assert parse_annotation_file(plain)[1] == [(1, "expected 4 fields 'start end crackle wheeze', got 2"),
                                               (3, "expected 4 fields 'start end crackle wheeze', got 2")]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("0.5 1.5 0 1\n1.5 2.5\n2.5 3.5 1 0\n")
    cycles, problems = parse_annotation_file(mixed, require_flags=False)
    assert cycles["cycle_index"].tolist() == [0, 2] and [line for line, _ in problems] == [2]
    with pytest.raises(DataError, match=r"mixed\.txt:2: expected 4 fields"):
        parse_annotation_file(mixed, require_flags=False, strict=True)
    for rows, message in BAD_ROWS.values():
        bad = tmp_path / "bad.txt"
        bad.write_text("0.5 1.5 0 0\n" + rows + "\n")
        with pytest.raises(DataError, match=rf"bad\.txt:2: .*{message}"):
            parse_annotation_file(bad, require_flags=False, strict=True)


@pytest.fixture
def kept_loads():
    """No load kept from another test, none left for the next."""
    from respirelib.data.icbhi import forget_loaded

    forget_loaded()
    yield
    forget_loaded()


def _age(folder, seconds: float = 3600.0) -> None:
    """Date every file back, past the window in which a load is not kept (a file written just now may change
    again within one tick of the file system's clock)."""
    import time

    past = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (past, past))


def _count_calls(monkeypatch, module, name: str) -> list:
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_folder_is_read_and_hashed_once_per_process_while_its_files_are_unchanged(tiny_icbhi, monkeypatch,
                                                                                    kept_loads):
    import respirelib.data.fingerprint as fingerprint
    import respirelib.data.icbhi as icbhi

    _age(tiny_icbhi)
    parsed = _count_calls(monkeypatch, icbhi, "parse_annotation_file")
    hashed = _count_calls(monkeypatch, fingerprint, "files_fingerprint")
    first = load_icbhi(tiny_icbhi, audio="require")
    reads = len(parsed)
    assert reads == len(TINY_RECORDINGS)
    again = load_icbhi(tiny_icbhi, errors="skip")  # a load that met no problem serves both error modes
    assert len(parsed) == reads
    pd.testing.assert_frame_equal(again.cycles, first.cycles)
    assert again.fingerprint == first.fingerprint and len(hashed) == 1
    again.cycles.loc[0, "start"] = 99.0  # each caller gets its own copy
    assert load_icbhi(tiny_icbhi).cycles.loc[0, "start"] == first.cycles.loc[0, "start"]
    assert len(parsed) == reads and len(hashed) == 1


def test_a_changed_added_or_just_written_file_makes_the_folder_read_again(tiny_icbhi, monkeypatch, kept_loads):
    import respirelib.data.icbhi as icbhi

    _age(tiny_icbhi)
    parsed = _count_calls(monkeypatch, icbhi, "parse_annotation_file")
    before = load_icbhi(tiny_icbhi).fingerprint
    annotation = tiny_icbhi / "101_1b1_Al_sc_Meditron.txt"
    annotation.write_text(annotation.read_text().replace("0.1\t1.5", "0.2\t1.5"))  # same size, new time
    changed = load_icbhi(tiny_icbhi)
    assert changed.cycles.loc[0, "start"] == pytest.approx(0.2) and changed.fingerprint != before
    _age(tiny_icbhi)
    reads = len(parsed)
    write_recording(tiny_icbhi, "106_1b1_Al_sc_Meditron", ["0.0\t2.0\t0\t0"])
    _age(tiny_icbhi)
    assert len(load_icbhi(tiny_icbhi, errors="skip").recordings) == len(TINY_RECORDINGS) + 1
    assert len(parsed) == reads + len(TINY_RECORDINGS) + 1
    # Files written a moment ago may change again unseen within the clock's tick: such a folder is not kept.
    annotation.write_text(annotation.read_text())
    load_icbhi(tiny_icbhi, errors="skip")
    load_icbhi(tiny_icbhi, errors="skip")
    assert len(parsed) == reads + 3 * (len(TINY_RECORDINGS) + 1)


def test_a_load_that_skipped_data_never_stands_in_for_one_that_must_raise(tiny_icbhi, kept_loads):
    (tiny_icbhi / "101_1b1_Al_sc_Meditron.txt").write_text("0.1\t1.5\t0\t0\nnot a row\n")
    _age(tiny_icbhi)
    assert load_icbhi(tiny_icbhi, errors="skip").report.skipped
    with pytest.raises(DataError, match="101_1b1_Al_sc_Meditron.txt"):
        load_icbhi(tiny_icbhi, errors="raise")


def test_one_rule_fits_annotated_cycles_to_their_audio():
    from respirelib.data.annotations import fit_cycles_to_audio

    cycles = pd.DataFrame({"start": [0.0, 5.0, 5.5, 6.0, 6.5], "end": [5.0, 6.05, 6.5, 6.02, 7.0]})
    fitted, clipped, outside = fit_cycles_to_audio(cycles, duration=6.0, end_tolerance=0.1)
    assert clipped.tolist() == [False, True, False, False, False]  # a rounding of the end: clipped
    assert outside.tolist() == [False, False, True, True, True]  # too far past, or starting at the end
    assert fitted["end"].tolist() == [5.0, 6.0, 6.5, 6.02, 7.0]
    inside = cycles.iloc[:1]  # the usual case, with a shortcut of its own: nothing past the end
    fitted, clipped, outside = fit_cycles_to_audio(inside, duration=6.0, end_tolerance=0.1)
    assert fitted.equals(inside) and fitted is not inside
    assert clipped.tolist() == outside.tolist() == [False] and clipped.index.equals(inside.index)
