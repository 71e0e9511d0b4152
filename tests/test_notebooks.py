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


@pytest.fixture(scope="module")
def training_notebooks(tiny_synthetic, tmp_path_factory):
    """Notebooks 04 then 05 in the smoke profile, sharing one run directory as the pipeline does."""
    run_dir = tmp_path_factory.mktemp("pipeline")
    parameters = {**_parameters(tiny_synthetic, run_dir), "init": "random"}
    execute_notebook("04", run_dir, parameters, progress=False)
    execute_notebook("05", run_dir, parameters, progress=False)
    return run_dir


def test_04_training_writes_table_one(training_notebooks):
    record = json.loads((training_notebooks / "04_training.json").read_text())
    assert record["synthetic"] is True and record["init"] == "random init"
    rows = {row["row"] for row in record["table_one_4class"]}
    assert rows == {"CNN", "+CBA+BRC"}
    for row in record["table_one_4class"]:
        assert row["score paper"] in (55.2, 55.7)
    figures = {p.stem for p in (training_notebooks / "figures").glob("*.png")}
    assert {"04_training_curves", "04_confusion_matrix"} <= figures
    assert (training_notebooks / "train" / "official-full-seed0" / "metrics.json").is_file()


def test_05_finetuning_writes_table_three(training_notebooks):
    record = json.loads((training_notebooks / "05_device_finetuning.json").read_text())
    devices = {row["device"] for row in record["table_three"]}
    assert devices == {"AKGC417L", "Meditron", "LittC2SE", "Litt3200"}
    assert "+FT" in {row["row"] for row in record["table_one_4class"]}
    assert (training_notebooks / "figures" / "05_device_gains_official.png").is_file()
