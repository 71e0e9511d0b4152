"""The loader against the real ICBHI annotation files: the published counts, exactly."""

from __future__ import annotations

import json
import shutil

import pytest

from respirelib.apps.cli import main
from respirelib.data.icbhi import load_icbhi
from respirelib.data.metadata import read_filename_differences
from respirelib.data.summary import data_summary


@pytest.fixture(scope="module")
def real(request):
    from tests.conftest import require_shared

    return load_icbhi(require_shared())


def test_published_counts(real):
    summary = data_summary(real)
    assert summary["recordings"] == 920
    assert summary["patients"] == 126
    assert summary["cycles"] == 6898
    assert summary["class_counts"] == {"normal": 3642, "crackle": 1864, "wheeze": 886, "both": 506}
    assert summary["device_counts"] == {"AKGC417L": 4346, "Meditron": 1456, "LittC2SE": 594, "Litt3200": 502}
    assert summary["split"] == {"train": {"recordings": 539, "cycles": 4142},
                                "test": {"recordings": 381, "cycles": 2756}}
    assert summary["overlap_patients"] == [156, 218]
    assert summary["data"] == "ICBHI 2017, verified" and not summary["has_audio"]


def test_split_file_device_mismatch_is_repaired_and_reported(real):
    row = real.recordings.set_index("recording").loc["226_1b1_Pl_sc_LittC2SE"]
    assert row["split"] == "train" and row["device"] == "LittC2SE"
    repaired = [e for e in real.report.repaired if "226_1b1_Pl_sc_LittC2SE" in e.path]
    assert len(repaired) == 1 and "226_1b1_Pl_sc_Meditron" in repaired[0].detail
    assert not real.report.skipped


def test_official_split_class_mix(real):
    by_split = real.cycles.groupby("split", observed=True)["label"].value_counts().unstack()
    assert by_split.loc["train"].to_dict() == {"normal": 2063, "crackle": 1215, "wheeze": 501, "both": 363}
    assert by_split.loc["test"].to_dict() == {"normal": 1579, "crackle": 649, "wheeze": 385, "both": 143}
    littc2se = real.recordings[real.recordings["device"] == "LittC2SE"]
    assert set(littc2se["split"]) == {"train"}


def test_demographics_and_diagnosis_quirks(real):
    patients = real.patients.set_index("patient")
    assert patients.loc[101, "diagnosis"] == "URTI"
    assert patients.loc[101, "age"] == 3.0 and patients.loc[101, "sex"] == "F"
    assert patients.loc[223, ["age", "sex", "adult_bmi", "child_weight", "child_height"]].isna().all()
    assert patients.loc[226, "child_height"] == 103.0  # last line, no final newline
    assert patients["diagnosis"].notna().all()


def test_old_release_names_are_read_as_current(shared_annotations, tmp_path):
    """A user may hold the 91 recordings under their older device suffix; the counts must not change."""
    copy = tmp_path / "old"
    shutil.copytree(shared_annotations, copy)
    old_names = read_filename_differences(copy / "filename_differences.txt")
    assert len(old_names) == 91
    renamed = 0
    for old in sorted(old_names):
        current = [p for p in copy.glob(old.rsplit("_", 1)[0] + "_*.txt")]
        if len(current) == 1 and current[0].stem != old:
            current[0].rename(copy / f"{old}.txt")
            renamed += 1
    assert renamed > 80
    dataset = load_icbhi(copy)
    summary = data_summary(dataset)
    assert summary["cycles"] == 6898 and summary["recordings"] == 920
    assert summary["device_counts"] == {"AKGC417L": 4346, "Meditron": 1456, "LittC2SE": 594, "Litt3200": 502}
    assert summary["split"]["train"] == {"recordings": 539, "cycles": 4142}
    assert sum("older-release name" in e.detail for e in dataset.report.repaired) == renamed


def test_diagnosis_file_without_header(shared_annotations, tmp_path):
    copy = tmp_path / "noheader"
    shutil.copytree(shared_annotations, copy)
    lines = (copy / "patient_diagnosis.csv").read_text().splitlines()
    assert lines[0].startswith("ID")
    (copy / "patient_diagnosis.csv").write_text("\n".join(lines[1:]))
    patients = load_icbhi(copy).patients
    assert len(patients) == 126 and patients["diagnosis"].notna().all()


def test_cli_summary_json(shared_annotations, capsys):
    assert main(["data", "summary", str(shared_annotations), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cycles"] == 6898 and summary["split"]["test"]["cycles"] == 2756
    assert summary["report"]["counts"]["repaired"] == 1
