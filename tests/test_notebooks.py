"""Every numbered notebook runs headlessly with papermill on a tiny synthetic set."""

from __future__ import annotations

import json

import pytest

from respirelib.notebooks import execute_notebook

pytestmark = pytest.mark.notebook


def _parameters(data_dir, run_dir):
    return {"data_dir": str(data_dir), "profile": "smoke", "seed": 0, "device": "cpu",
            "run_dir": str(run_dir), "figures_dir": str(run_dir / "figures")}


def test_01_dataset_analysis(tiny_synthetic, tmp_path):
    executed = execute_notebook("01", tmp_path, _parameters(tiny_synthetic, tmp_path), progress=False)
    assert executed.is_file()
    summary = json.loads((tmp_path / "01_dataset_summary.json").read_text())
    assert summary["data"] == "synthetic"
    assert summary["cycles"] == sum(summary["class_counts"].values()) > 0
    figures = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert {"01_classes_devices", "01_cycle_lengths", "01_official_split", "01_cycles_per_patient"} <= figures
    assert any(name.startswith("01_example_") for name in figures)


def test_01_on_annotations_only(shared_annotations, tmp_path):
    execute_notebook("01", tmp_path, _parameters(shared_annotations, tmp_path), progress=False)
    summary = json.loads((tmp_path / "01_dataset_summary.json").read_text())
    assert summary["cycles"] == 6898 and summary["data"] == "ICBHI"
    assert not any(p.name.startswith("01_example_") for p in (tmp_path / "figures").glob("*.png"))
