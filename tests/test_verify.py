"""`respirenet data verify`: the manifest against ../shared, every layout, every kind of defect named."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from respirelib.apps.cli import main
from respirelib.data.icbhi import load_icbhi
from respirelib.data.manifest import MANIFEST_FILE, build_manifest, load_manifest
from respirelib.data.verify import VERIFIED_LABEL, verify_icbhi
from tests.conftest import REPO_ROOT, SHARED_ANNOTATIONS
from tests.icbhi_release import (AUDIO_RATE, DEMOGRAPHIC, DIAGNOSIS, RECORDINGS, SPLIT,  # noqa: F401
                                 genuine_folder, link_copy, release, wav_bytes)

N_FILES = 920 * 2 + 3  # annotations, audio, and the split, diagnosis and demographic files


def test_shipped_manifest_matches_the_real_annotation_files(shared_annotations):
    shipped = load_manifest()
    assert build_manifest(shared_annotations) == shipped
    assert shipped["counts"] == {"recordings": 920, "annotation_files": 920, "audio_files": 920, "patients": 126,
                                 "cycles": 6898, "split_entries": 920, "old_release_names": 91}
    assert len(shipped["old_release_names"]) == 91 and set(shipped["old_release_names"].values()) <= \
        set(shipped["annotations"])


def test_manifest_holds_hashes_not_content():
    shipped = load_manifest()
    digests = [entry["sha256"] for entry in shipped["annotations"].values()]
    digests += [value for entry in shipped["metadata"].values() for key, value in entry.items() if "sha256" in key]
    assert len(digests) == 920 + 6 and all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in digests)
    assert set(next(iter(shipped["annotations"].values()))) == {"sha256", "cycles", "last_end"}


def test_manifest_is_package_data():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert MANIFEST_FILE in config["tool"]["setuptools"]["package-data"]["respirelib.data"]
    assert (REPO_ROOT / "respirelib" / "data" / MANIFEST_FILE).is_file()


def test_annotations_only_verifies_and_says_audio_was_not_checked(shared_annotations, capsys):
    verdict = verify_icbhi(shared_annotations)
    assert verdict.ok and verdict.label == VERIFIED_LABEL and not verdict.audio_checked
    assert verdict.counts["genuine"] == 923 and verdict.n_differing == 0
    assert main(["data", "verify", str(shared_annotations)]) == 0
    out = capsys.readouterr().out
    assert "no audio files" in out and "no audio in the folder, not checked" in out


def _kaggle(folder: Path, tmp_path: Path) -> Path:
    root = tmp_path / "kaggle"
    inner = root / "Respiratory_Sound_Database"
    link_copy(folder / RECORDINGS, inner / "audio_and_txt_files")
    for name in ("patient_diagnosis.csv", "demographic_info.txt", "filename_differences.txt", "filename_format.txt"):
        target = root if name == "demographic_info.txt" else inner  # as the Kaggle download nests them
        (target / name).write_bytes((SHARED_ANNOTATIONS / name).read_bytes())
    (root / SPLIT).hardlink_to(folder / SPLIT)
    return root


def _flat(folder: Path, tmp_path: Path) -> Path:
    flat = link_copy(folder / RECORDINGS, tmp_path / "flat")
    for name in (SPLIT, DIAGNOSIS, DEMOGRAPHIC):
        (flat / name).hardlink_to(folder / name)
    return flat


@pytest.mark.parametrize("layout", ["official", "kaggle", "flat"])
def test_genuine_copy_passes_in_every_layout(layout, genuine_folder, tmp_path, capsys):
    folder = {"official": lambda: genuine_folder, "kaggle": lambda: _kaggle(genuine_folder, tmp_path),
              "flat": lambda: _flat(genuine_folder, tmp_path)}[layout]()
    verdict = verify_icbhi(folder)
    assert verdict.findings == [] and verdict.ok and verdict.audio_checked
    assert verdict.counts == {"genuine": N_FILES, "old-release name": 0, "modified": 0, "missing": 0, "unexpected": 0}
    assert main(["data", "verify", str(folder), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["verified"] is True and printed["label"] == VERIFIED_LABEL
    if layout == "official":  # the site's tab-separated diagnosis file: other bytes, same table
        assert any(DIAGNOSIS in note and "another file format" in note for note in verdict.notes)


def test_loader_labels_a_verified_copy(genuine_folder):
    dataset = load_icbhi(genuine_folder)
    assert dataset.has_audio and len(dataset.cycles) == 6898
    assert dataset.data_label == VERIFIED_LABEL and dataset.verdict.ok
    assert f"{VERIFIED_LABEL}: {N_FILES} genuine" in str(dataset.report)
    assert dataset.report.to_dict()["verdict"]["verified"] is True


def _replace(path: Path, data: bytes) -> None:
    path.unlink()  # a hard link to the shared genuine folder: never write through it
    path.write_bytes(data)


@pytest.fixture
def defective(genuine_folder, tmp_path):
    """A copy of the genuine folder with one defect of every kind; returns (folder, {file: category})."""
    folder = link_copy(genuine_folder, tmp_path / "defective")
    rec = folder / RECORDINGS
    expected = {}
    text = (rec / "101_1b1_Al_sc_Meditron.txt").read_bytes()
    _replace(rec / "101_1b1_Al_sc_Meditron.txt", text[:4] + (b"7" if text[4:5] != b"7" else b"8") + text[5:])
    expected["101_1b1_Al_sc_Meditron.txt"] = "modified"
    (rec / "102_1b1_Ar_sc_Meditron.txt").unlink()
    expected["102_1b1_Ar_sc_Meditron.txt"] = "missing"
    for suffix in (".txt", ".wav"):  # the older release's name for the same recording
        (rec / f"105_1b1_Tc_sc_Meditron{suffix}").rename(rec / f"105_1b1_Tc_sc_LittC2SE{suffix}")
        expected[f"105_1b1_Tc_sc_LittC2SE{suffix}"] = "old-release name"
    wav = rec / "106_2b1_Pl_mc_LittC2SE.wav"
    _replace(wav, wav.read_bytes()[:-1000])
    expected[wav.name] = "modified"  # truncated
    _replace(rec / "107_2b3_Al_mc_AKGC417L.wav", wav_bytes(30.0, sr=3000))
    expected["107_2b3_Al_mc_AKGC417L.wav"] = "modified"  # unknown sample rate
    _replace(rec / "107_2b3_Ar_mc_AKGC417L.wav", wav_bytes(1.0))
    expected["107_2b3_Ar_mc_AKGC417L.wav"] = "modified"  # shorter than its last cycle
    (rec / "107_2b3_Ll_mc_AKGC417L.wav").unlink()
    expected["107_2b3_Ll_mc_AKGC417L.wav"] = "missing"
    split = (folder / SPLIT).read_bytes()
    _replace(folder / SPLIT, split.replace(b"101_1b1_Al_sc_Meditron\ttest", b"101_1b1_Al_sc_Meditron\ttrain"))
    assert (folder / SPLIT).read_bytes() != split
    expected[SPLIT] = "modified"
    (folder / DEMOGRAPHIC).unlink()
    expected["demographic_info.txt"] = "missing"  # named by the first name the loader looks for
    (folder / "notes.txt").write_text("my notes\n")
    expected["notes.txt"] = "unexpected"
    (rec / "226_9b9_Al_sc_Meditron.txt").write_text("0.1\t1.0\t0\t0\n")
    expected["226_9b9_Al_sc_Meditron.txt"] = "unexpected"
    (folder / ".DS_Store").write_bytes(b"\0")
    return folder, expected


def test_verify_names_every_defect(defective, capsys):
    folder, expected = defective
    verdict = verify_icbhi(folder)
    found = {Path(finding.path).name: finding.category for finding in verdict.findings}
    assert found == expected
    n_differing = sum(category != "old-release name" for category in expected.values())
    assert verdict.n_differing == n_differing == 10 and not verdict.ok
    assert verdict.label == "ICBHI-like, 10 files differ from the release"
    assert verdict.counts == {"genuine": N_FILES - 2 - 8, "old-release name": 2, "modified": 5, "missing": 3,
                              "unexpected": 2}  # two renamed, eight of the release's files changed or gone
    details = {Path(finding.path).name: finding.detail for finding in verdict.findings}
    assert "truncated" in details["106_2b1_Pl_mc_LittC2SE.wav"]
    assert "3000 Hz" in details["107_2b3_Al_mc_AKGC417L.wav"]
    assert "last cycle" in details["107_2b3_Ar_mc_AKGC417L.wav"]
    assert any(".DS_Store" in note for note in verdict.notes)

    assert main(["data", "verify", str(folder)]) == 1
    lines = capsys.readouterr().out.splitlines()
    problem_lines = [line for line in lines if line.startswith("[")]
    assert len(problem_lines) == len(expected)
    for name, category in expected.items():
        assert sum(line.startswith(f"[{category}]") and name in line for line in problem_lines) == 1, name
    assert lines[-1].startswith("ICBHI-like, 10 files differ from the release: ")


def test_a_folder_holding_part_of_the_release_is_labelled_a_subset(genuine_folder, tmp_path):
    """A sample or a partial download: every file present is genuine, only some are absent."""
    folder = link_copy(genuine_folder, tmp_path / "subset")
    for name in ("102_1b1_Ar_sc_Meditron.txt", "102_1b1_Ar_sc_Meditron.wav"):
        (folder / RECORDINGS / name).unlink()
    verdict = verify_icbhi(folder)
    present = verdict.counts["genuine"] + verdict.counts["old-release name"]
    assert verdict.counts["missing"] == 2 and verdict.counts["modified"] == verdict.counts["unexpected"] == 0
    assert verdict.label == f"ICBHI 2017 subset ({present} genuine files, 2 of the release's absent)"
    assert not verdict.ok and load_icbhi(folder).data_label == verdict.label
    # One changed file makes it a differing copy again, not a subset.
    _replace(folder / RECORDINGS / "101_1b1_Al_sc_Meditron.txt", b"0.1\t1.0\t0\t0\n")
    assert verify_icbhi(folder).label == "ICBHI-like, 3 files differ from the release"


def test_loader_labels_a_differing_copy_and_reports_the_verdict(defective):
    folder, _ = defective
    dataset = load_icbhi(folder, errors="skip")
    assert dataset.data_label == "ICBHI-like, 10 files differ from the release"
    assert "respirenet data verify" in str(dataset.report)
    assert dataset.report.to_dict()["verdict"]["counts"]["modified"] == 5


def test_text_defects_are_found_with_the_audio_absent(shared_annotations, tmp_path):
    folder = link_copy(shared_annotations, tmp_path / "annotations")
    _replace(folder / "226_1b1_Pl_sc_LittC2SE.txt", b"0.1\t1.0\t0\t0\n")
    verdict = verify_icbhi(folder)
    assert not verdict.audio_checked and verdict.label == "ICBHI-like, 1 file differs from the release"
    assert [(f.category, Path(f.path).name) for f in verdict.findings] == [("modified", "226_1b1_Pl_sc_LittC2SE.txt")]
    assert load_icbhi(folder).data_label == verdict.label


def test_synthetic_data_stays_labelled_synthetic(tiny_synthetic):
    dataset = load_icbhi(tiny_synthetic)
    assert dataset.data_label == "synthetic" and dataset.verdict is None
    marker = [f for f in verify_icbhi(tiny_synthetic).findings if f.category == "unexpected"
              and "synthetic" in f.detail]
    assert len(marker) == 1


def test_verify_of_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "verify", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: data folder does not exist" in capsys.readouterr().err
