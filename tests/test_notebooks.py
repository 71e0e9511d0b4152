"""The numbered notebooks, run headlessly by the pipeline (smoke profile, tiny synthetic set)."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from respirelib.apps.notebooks import execute_notebook
from respirelib.apps.pipeline import NOTEBOOKS
from respirelib.experiments import tables
from respirelib.training.profiles import get_profile

pytestmark = pytest.mark.notebook


def _parameters(data_dir, run_dir):
    return {"data_dir": str(data_dir), "profile": "smoke", "seed": 0, "device": "cpu",
            "run_dir": str(run_dir), "figures_dir": str(run_dir / "figures")}


def _figures(run_dir) -> set[str]:
    return {p.stem for p in (run_dir / "figures").glob("*.png")}


def _percent_by_hand(predictions: pd.DataFrame) -> dict:
    """ICBHI Sp, Se and Score in percent, from a predictions table, written from the definitions.

    4-class: Sp = normal cycles predicted normal / normal cycles; Se = abnormal cycles predicted
    as their exact class / abnormal cycles. 2-class: Se counts any abnormal prediction of an
    abnormal cycle. Class 0 is normal.
    """
    normal, abnormal = predictions[predictions["label_id"] == 0], predictions[predictions["label_id"] != 0]
    sp = 100 * (normal["pred"] == 0).mean()
    se4 = 100 * (abnormal["pred"] == abnormal["label_id"]).mean()
    se2 = 100 * (abnormal["pred"] != 0).mean()
    return {"4class": {"sp": sp, "se": se4, "score": (sp + se4) / 2},
            "2class": {"sp": sp, "se": se2, "score": (sp + se2) / 2}}


def _table_value(cell: str) -> float:
    """The mean of a table cell such as ``"7.1"`` (one seed) or ``"7.1 ± 0.4"``."""
    return float(cell.split(" ")[0])


def _assert_rows_recomputed(rows: list[dict], predictions_of_row, task: str) -> None:
    for row in rows:
        by_hand = _percent_by_hand(predictions_of_row(row["row"]))[task]
        for metric in ("sp", "se", "score"):
            assert _table_value(row[f"{metric} ours"]) == pytest.approx(by_hand[metric], abs=0.051), (row, metric)


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


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _outputs(executed) -> list[dict]:
    notebook = nbformat.read(str(executed), as_version=4)
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_executed_notebooks_hold_no_progress_widgets(smoke_pipeline):
    """A saved tqdm widget reads as a frozen "0/16" bar without the widget JavaScript: headless runs print no
    bars (respirelib.progressbar), and the per-epoch lines stay."""
    for executed in sorted((smoke_pipeline / "notebooks").glob("*.ipynb")):
        widgets = [o for o in _outputs(executed) if WIDGET_VIEW in o.get("data", {})]
        # 06's explorer is shown without widgets too in a headless run (tests/test_notebook_06.py checks its view).
        assert not widgets, executed.name
    assert "epoch 1/" in _text_outputs((smoke_pipeline / "notebooks" / "04_training.ipynb").read_text())


def test_executed_notebooks_say_each_note_once(smoke_pipeline):
    """The init fallback is said once in 04, not once per training run."""
    notes = []
    for executed in sorted((smoke_pipeline / "notebooks").glob("*.ipynb")):
        lines = [line.strip() for o in _outputs(executed) for line in str(o.get("text", "")).splitlines()
                 if line.strip().startswith("NOTE:")]
        assert len(lines) == len(set(lines)), (executed.name, lines)
        notes += lines
    assert any("RANDOM initialisation" in line for line in notes), "the init fallback is said (in 04)"


def test_figures_of_synthetic_data_say_so(smoke_pipeline):
    """Every figure notebooks 01, 02, 03 and 06 save from the synthetic set is stamped (viz.save.save_figure
    with the data's label, which the PNG records)."""
    from PIL import Image

    figures = sorted((smoke_pipeline / "figures").glob("0[1236]_*.png"))
    assert len(figures) >= 20
    for png in figures:
        assert Image.open(png).info.get("Description") == "data: synthetic", png.name


def test_executed_teaching_notebooks_stay_small(smoke_pipeline):
    """Players embed 4 kHz clips of a few seconds, not whole 44.1 kHz recordings (once about 3 MB a notebook)."""
    for name in ("01_dataset_analysis", "02_preprocessing", "03_augmentation", "06_explanations"):
        size = (smoke_pipeline / "notebooks" / f"{name}.ipynb").stat().st_size
        assert size < 1_600_000, (name, size)


def test_01_dataset_analysis(smoke_pipeline, tiny_synthetic):
    from respirelib.config import CLASS_NAMES
    from respirelib.data.icbhi import load_icbhi

    summary = json.loads((smoke_pipeline / "01_dataset_summary.json").read_text())
    assert summary["data"] == "synthetic"
    assert summary["cycles"] == sum(summary["class_counts"].values()) > 0
    # The recorded counts, recomputed from the cycles table of the data the pipeline read.
    cycles = load_icbhi(tiny_synthetic, audio="ignore").cycles
    assert summary["class_counts"] == {name: int((cycles["label_id"] == index).sum())
                                       for index, name in enumerate(CLASS_NAMES)}
    assert summary["device_counts"] == cycles["device"].astype(str).value_counts().to_dict()
    assert summary["patients"] == cycles["patient"].nunique()
    figures = _figures(smoke_pipeline)
    assert {"01_classes_devices", "01_cycle_lengths", "01_official_split", "01_cycles_per_patient"} <= figures
    assert any(name.startswith("01_example_") for name in figures)


def test_01_on_annotations_only(shared_annotations, tmp_path):
    execute_notebook("01", tmp_path, _parameters(shared_annotations, tmp_path), progress=False)
    summary = json.loads((tmp_path / "01_dataset_summary.json").read_text())
    assert summary["cycles"] == 6898 and summary["data"] == "ICBHI 2017, verified"
    # The published counts (Rocha et al. 2019).
    assert summary["class_counts"] == {"normal": 3642, "crackle": 1864, "wheeze": 886, "both": 506}
    assert (summary["recordings"], summary["patients"]) == (920, 126)
    assert not any(p.name.startswith("01_example_") for p in (tmp_path / "figures").glob("*.png"))


def test_04_training_writes_table_one(smoke_pipeline):
    record = json.loads((smoke_pipeline / "04_training.json").read_text())
    assert record["synthetic"] is True and record["init"] == "random init"
    rows = {row["row"] for row in record["table_one_4class"]}
    assert rows == {"CNN", "+CBA+BRC"}
    for row in record["table_one_4class"]:
        assert row["score paper"] in (55.2, 55.7)  # the paper beside ours, never subtracted
        assert not [key for key in row if "gap" in key]
        assert row[tables.INTERVAL_COLUMN].startswith("[")  # the interval has a column of its own
    assert len(record["noise"]) == 1 and "+CBA+BRC − CNN" in record["noise"][0]
    assert "one seed only" in record["noise"][0]  # the pipeline's smoke run has one seed: nothing called real
    assert [c["compared"] for c in record["comparisons"]] == ["+CBA+BRC − CNN"]
    assert {(r["row"], r["seed"]) for r in record["recalls"]} == {("CNN", 0), ("+CBA+BRC", 0)}
    executed = _text_outputs((smoke_pipeline / "notebooks" / "04_training.ipynb").read_text())
    stage1 = get_profile("smoke").stage1
    assert f"stage 1 of profile smoke: {'SGD' if stage1.optimizer == 'sgd' else 'AdamW'}" in executed
    assert "about 49" not in executed and "reference-notes" not in executed and "§III" not in executed
    n_patients = pd.read_csv(smoke_pipeline / "train" / "official-full-seed0" / "metrics_predictions.csv")[
        "patient"].nunique()
    assert f"{n_patients} test patients in the official split" in executed
    assert "backbone.layer4" in executed and "fully connected 128 → 4" in executed  # the network is shown
    assert "paired 4-class Score comparisons exceed the noise" in executed.split("What this run shows")[-1]
    assert {"04_training_curves", "04_confusion_matrix"} <= _figures(smoke_pipeline)
    assert (smoke_pipeline / "train" / "official-full-seed0" / "metrics.json").is_file()
    # One seed: each row's numbers are its run's, recomputed here from its predictions file.
    variants = {"CNN": "cnn", "+CBA+BRC": "full"}

    def predictions(row):
        return pd.read_csv(smoke_pipeline / "train" / f"official-{variants[row]}-seed0" / "metrics_predictions.csv")

    _assert_rows_recomputed(record["table_one_4class"], predictions, "4class")
    _assert_rows_recomputed(record["table_one_2class"], predictions, "2class")


def test_05_finetuning_writes_table_three(smoke_pipeline):
    record = json.loads((smoke_pipeline / "05_device_finetuning.json").read_text())
    devices = {row["device"] for row in record["table_three"]}
    assert devices == {"AKGC417L", "Meditron", "LittC2SE", "Litt3200"}
    assert "+FT" in {row["row"] for row in record["table_one_4class"]}
    assert "05_device_gains_official" in _figures(smoke_pipeline)
    assert [c["compared"] for c in record["comparisons"]] == ["+FT − +CBA+BRC"]  # +FT against its own stage 1
    assert (record["stage2_epochs"], record["paper_stage2_epochs"]) == (get_profile("smoke").stage2.epochs, 50)
    executed = _text_outputs((smoke_pipeline / "notebooks" / "05_device_finetuning.ipynb").read_text())
    assert f"stage 2 here (profile smoke): {record['stage2_epochs']} epoch" in executed and "§III-D" not in executed
    assert all(row["note"] is None or "seed" in row["note"] for row in record["table_three"])  # every seed's note
    # The +FT row and the per-device change, recomputed from the run's two predictions files.
    run = smoke_pipeline / "train" / "official-full-seed0"
    before, after = (pd.read_csv(run / f"{name}_predictions.csv") for name in ("metrics", "metrics_finetuned"))
    finetuned = [row for row in record["table_one_4class"] if row["row"] == "+FT"]
    _assert_rows_recomputed(finetuned, lambda row: after, "4class")
    changes = [row for row in record["table_three"] if row["runs"] == 1]
    assert changes, "no device was fine-tuned and scored: nothing to recompute"
    for row in changes:
        scores = [_percent_by_hand(table[table["device"] == row["device"]])["4class"]["score"]
                  for table in (before, after)]
        assert row["mean"] == pytest.approx(scores[1] - scores[0], abs=1e-6), row


def _text_outputs(executed: str) -> str:
    """The text a reader sees in an executed notebook: its sources and text outputs, without the base64 of images
    (which may spell "NaN" by chance)."""
    notebook = nbformat.reads(executed, as_version=4)
    parts = []
    for cell in notebook.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts += [str(value) for key, value in output.get("data", {}).items() if key.startswith("text/")]
    return "\n".join(parts)


def test_07_results_report(smoke_pipeline):
    record = json.loads((smoke_pipeline / "07_results.json").read_text())
    labels = record["labels"]
    assert labels["synthetic"] is True and labels["random_init"] is True and labels["profiles"] == ["smoke"]
    # Provenance says the seeds, precision and threads the runs recorded, as a table, not a raw dict.
    runs = [json.loads(p.read_text()) for p in (smoke_pipeline / "train").glob("*-seed*/run.json")]
    assert labels["precision"] == sorted({r["precision"]["used"] for r in runs}) and labels["seeds"] == [0]
    assert labels["threads"] == sorted({r["provenance"]["hardware"]["torch_threads"] for r in runs})
    assert {row["row"] for row in record["table_one_4class"]} == {"CNN", "+CBA+BRC", "+FT"}
    assert {row["device"] for row in record["table_three"]} == {"AKGC417L", "Meditron", "LittC2SE", "Litt3200"}
    executed = (smoke_pipeline / "notebooks" / "07_results.ipynb").read_text()
    assert "SYNTHETIC DATA" in executed and "RANDOM INITIALISATION" in executed
    optimism = record["optimism"]["official"]
    assert [row["measured as"] for row in optimism][:4] == [
        "ours: selected on validation, label-free test inputs", "last epoch (no selection), label-free test inputs",
        "selected on the test set (the reference code)", "label-aware test padding (the paper as written)"]
    assert record["optimism"]["patient"] == []
    assert "optimism table" in executed.lower() and "NaN" not in _text_outputs(executed)
    text = _text_outputs(executed)
    assert f"measured {len(optimism)} ways" in text and "five ways" not in text and "reference-notes" not in text
    assert "torch threads" in text and "{'data'" not in text
    assert [c["compared"] for c in record["comparisons"]] == ["+CBA+BRC − CNN", "+FT − CNN", "+FT − +CBA+BRC"]
    assert "paired 4-class Score comparisons exceed the noise" in text.split("What this run shows")[-1]
    assert len(record["recalls"]) == 3 and "crackle recall (%)" in text
    assert (smoke_pipeline / "export" / "respirenet.pt").is_file()
    assert (smoke_pipeline / "export" / "MODEL_CARD.md").is_file()
    assert (smoke_pipeline / "figures" / "07_prediction_timeline.png").is_file()
