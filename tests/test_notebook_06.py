"""Notebook 06 runs headlessly with papermill on a smoke-profile model, the explorer's first view included."""

from __future__ import annotations

import json

import nbformat
import pytest

from respirelib.config import CLASS_NAMES

pytestmark = pytest.mark.notebook


def test_06_explanations(smoke_pipeline):
    tmp_path = smoke_pipeline
    executed = smoke_pipeline / "notebooks" / "06_explanations.ipynb"

    record = json.loads((tmp_path / "06_explanations.json").read_text())
    assert record["data"] == "synthetic" and record["synthetic"] is True and record["init"] == "random init"
    table = {row["device"]: row for row in record["blank_band_attention"]}
    assert table["all"]["n_cycles"] == sum(row["n_cycles"] for name, row in table.items() if name != "all") > 0
    assert all(row["n_cycles"] <= record["max_per_device"] for name, row in table.items() if name != "all")
    assert 0 <= table["all"]["mass_before"] <= 1 and 0 <= table["all"]["mass_after"] <= 1
    assert len(record["blank_band_cycles"]) == table["all"]["n_cycles"]
    assert set(record["galleries"]) == set(CLASS_NAMES)
    assert any(entry["correct"] or entry["wrong"] for entry in record["galleries"].values())

    figures = {path.stem for path in (tmp_path / "figures").glob("*.png")}
    assert {f"06_gallery_{name}" for name in CLASS_NAMES} <= figures
    assert {"06_fig3_blank_band_attention", "06_fig3_example"} <= figures

    notebook = nbformat.read(executed, as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert sum("image/png" in output.get("data", {}) for output in outputs) >= 2  # figures shown inline
    # The four galleries (heat maps) inline as JPEG, a fraction of a PNG's weight; their PNG files stay.
    jpegs = [output["data"]["image/jpeg"] for output in outputs if "image/jpeg" in output.get("data", {})]
    assert len(jpegs) == len(CLASS_NAMES) and all(len(jpeg) < 250_000 for jpeg in jpegs)
    # The explorer's first view was shown, without widgets in this headless run (respirelib.explain.explorer
    # says why): the player and the figure, the figure also as PNG.
    assert not [output for output in outputs if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    explorer = [output.data for output in outputs if "<audio" in output.get("data", {}).get("text/html", "")]
    assert len(explorer) == 1
    assert explorer[0]["image/png"] in explorer[0]["text/html"]
