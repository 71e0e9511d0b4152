"""The numbered notebooks, run headlessly by the pipeline (smoke profile, tiny synthetic set)."""

from __future__ import annotations

import json

import nbformat
import pytest

from respirelib.apps.notebooks import execute_notebook
from respirelib.apps.pipeline import NOTEBOOKS

pytestmark = pytest.mark.notebook


def _parameters(data_dir, run_dir):
    return {"data_dir": str(data_dir), "profile": "smoke", "seed": 0, "device": "cpu",
            "run_dir": str(run_dir), "figures_dir": str(run_dir / "figures")}


def _figures(run_dir) -> set[str]:
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


def test_pipeline_ran_every_notebook_without_errors(smoke_pipeline):
    state = json.loads((smoke_pipeline / "pipeline.json").read_text())
    assert list(state["notebooks"]) == list(NOTEBOOKS)
    assert {entry["status"] for entry in state["notebooks"].values()} == {"done"}
    for executed in sorted((smoke_pipeline / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(str(executed), as_version=4)
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, executed.name
    environment = json.loads((smoke_pipeline / "environment.json").read_text())
    assert environment["data"]["synthetic"] is True and environment["packages"]["torch"]


def test_01_dataset_analysis(smoke_pipeline):
    summary = json.loads((smoke_pipeline / "01_dataset_summary.json").read_text())
    assert summary["data"] == "synthetic"
    assert summary["cycles"] == sum(summary["class_counts"].values()) > 0
    figures = _figures(smoke_pipeline)
    assert {"01_classes_devices", "01_cycle_lengths", "01_official_split", "01_cycles_per_patient"} <= figures
    assert any(name.startswith("01_example_") for name in figures)


def test_01_on_annotations_only(shared_annotations, tmp_path):
    execute_notebook("01", tmp_path, _parameters(shared_annotations, tmp_path), progress=False)
    summary = json.loads((tmp_path / "01_dataset_summary.json").read_text())
    assert summary["cycles"] == 6898 and summary["data"] == "ICBHI 2017, verified"
    assert not any(p.name.startswith("01_example_") for p in (tmp_path / "figures").glob("*.png"))


def test_04_training_writes_table_one(smoke_pipeline):
    record = json.loads((smoke_pipeline / "04_training.json").read_text())
    assert record["synthetic"] is True and record["init"] == "random init"
    rows = {row["row"] for row in record["table_one_4class"]}
    assert rows == {"CNN", "+CBA+BRC"}
    for row in record["table_one_4class"]:
        assert row["score paper"] in (55.2, 55.7)
        assert row["score ours"] == "–" or "[" in row["score ours"]  # the 95% interval travels with the mean
    assert len(record["noise"]) == 1 and "CNN" in record["noise"][0]
    assert {"04_training_curves", "04_confusion_matrix"} <= _figures(smoke_pipeline)
    assert (smoke_pipeline / "train" / "official-full-seed0" / "metrics.json").is_file()


def test_05_finetuning_writes_table_three(smoke_pipeline):
    record = json.loads((smoke_pipeline / "05_device_finetuning.json").read_text())
    devices = {row["device"] for row in record["table_three"]}
    assert devices == {"AKGC417L", "Meditron", "LittC2SE", "Litt3200"}
    assert "+FT" in {row["row"] for row in record["table_one_4class"]}
    assert "05_device_gains_official" in _figures(smoke_pipeline)


def test_07_results_report(smoke_pipeline):
    record = json.loads((smoke_pipeline / "07_results.json").read_text())
    labels = record["labels"]
    assert labels["synthetic"] is True and labels["random_init"] is True and labels["profiles"] == ["smoke"]
    assert {row["row"] for row in record["table_one_4class"]} == {"CNN", "+CBA+BRC", "+FT"}
    assert {row["device"] for row in record["table_three"]} == {"AKGC417L", "Meditron", "LittC2SE", "Litt3200"}
    executed = (smoke_pipeline / "notebooks" / "07_results.ipynb").read_text()
    assert "SYNTHETIC DATA" in executed and "RANDOM INITIALISATION" in executed
    optimism = record["optimism"]["official"]
    assert [row["measured as"] for row in optimism][:4] == [
        "ours: selected on validation, label-free test inputs", "last epoch (no selection), label-free test inputs",
        "selected on the test set (the reference code)", "label-aware test padding (the paper as written)"]
    assert record["optimism"]["patient"] == []
    assert "optimism table" in executed.lower() and "NaN" not in executed
    assert (smoke_pipeline / "export" / "respirenet.pt").is_file()
    assert (smoke_pipeline / "export" / "MODEL_CARD.md").is_file()
    assert (smoke_pipeline / "figures" / "07_prediction_timeline.png").is_file()
