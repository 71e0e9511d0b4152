"""The headless pipeline: order, parameters, failure reporting by notebook and cell, resume, no overwrite."""

from __future__ import annotations

import json

import nbformat
import pytest

from respirelib.apps import notebooks as notebooks_module
from respirelib.apps import pipeline as pipeline_module
from respirelib.apps.cli import main
from respirelib.apps.pipeline import PipelineError, PipelineRequest, run_pipeline

pytestmark = pytest.mark.notebook


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    parameters = nbformat.v4.new_code_cell("data_dir = None\nprofile = 'smoke'\nrun_dir = None\nseed = 0")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters] + [nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


@pytest.fixture
def toy_notebooks(tmp_path, monkeypatch):
    """Three tiny notebooks; the second fails until a marker file exists in the run directory."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write = (lambda name: f"from pathlib import Path\nPath(run_dir, '{name}.done').write_text(str(seed))")
    nbformat.write(_notebook([write("01")]), str(folder / "01_first.ipynb"))
    nbformat.write(_notebook(["from pathlib import Path", "x = 1",
                              "assert Path(run_dir, 'fixed').exists(), 'the marker file is missing'",
                              write("02")]), str(folder / "02_second.ipynb"))
    nbformat.write(_notebook([write("03")]), str(folder / "03_third.ipynb"))
    monkeypatch.setattr(notebooks_module, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(pipeline_module, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(pipeline_module, "NOTEBOOKS", ("01", "02", "03"))
    return folder


def test_failure_names_notebook_and_cell_and_resume_continues(toy_notebooks, tiny_synthetic, tmp_path):
    out = tmp_path / "run"
    request = PipelineRequest(profile="smoke", data_dir=str(tiny_synthetic), seed=7)
    with pytest.raises(PipelineError) as raised:
        run_pipeline(out=out, request=request, progress=False)
    error = raised.value
    assert error.notebook == "02_second" and error.cell == 4
    assert "the marker file is missing" in str(error) and "--from 02" in str(error)
    assert (out / "01.done").read_text() == "7" and not (out / "03.done").exists()
    state = json.loads((out / "pipeline.json").read_text())
    assert state["notebooks"]["02"]["status"] == "failed" and state["notebooks"]["02"]["cell"] == 4

    (out / "fixed").write_text("")
    (out / "01.done").unlink()
    run_pipeline(out=out, start="02", progress=False)
    assert not (out / "01.done").exists()  # resumed from 02: 01 is not re-run
    assert (out / "02.done").exists() and (out / "03.done").read_text() == "7"
    attempts = sorted(p.name for p in (out / "notebooks").glob("02_second*.ipynb"))
    assert len(attempts) == 2  # the failed attempt is kept beside the successful one
    environment = json.loads((out / "environment.json").read_text())
    assert environment["data"]["synthetic"] is True and environment["hardware"]["cpu_count"]


def test_pipeline_never_overwrites_a_run(toy_notebooks, tiny_synthetic, tmp_path):
    out = tmp_path / "run"
    (out).mkdir()
    (out / "something").write_text("earlier work")
    with pytest.raises(FileExistsError):
        run_pipeline(out=out, request=PipelineRequest(profile="smoke", data_dir=str(tiny_synthetic)),
                     progress=False)


def test_cli_reports_the_failing_notebook(toy_notebooks, tiny_synthetic, tmp_path, capsys):
    code = main(["pipeline", "--profile", "smoke", "--data", str(tiny_synthetic), "--out", str(tmp_path / "r"),
                 "--quiet"])
    assert code == 1
    assert "notebook 02_second failed at cell 4" in capsys.readouterr().err


def test_notebook_07_finds_the_newest_pipeline_run(tmp_path):
    import os

    from respirelib.runs import latest_pipeline_run

    with pytest.raises(FileNotFoundError, match="make demo"):
        latest_pipeline_run(tmp_path)
    for age, name in ((200, "pipeline-quick-a"), (100, "pipeline-quick-b")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pipeline.json").write_text("{}")
        os.utime(tmp_path / name / "pipeline.json", (1e9 - age, 1e9 - age))
    (tmp_path / "not-a-run").mkdir()
    assert latest_pipeline_run(tmp_path) == tmp_path / "pipeline-quick-b"


def test_a_cell_past_the_time_limit_fails_the_pipeline_and_names_the_cell(tmp_path, monkeypatch, tiny_synthetic):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(_notebook(["x = 1", "import time\ntime.sleep(60)", "y = 2"]), str(folder / "01_slow.ipynb"))
    monkeypatch.setattr(notebooks_module, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(pipeline_module, "NOTEBOOK_DIR", folder)
    monkeypatch.setattr(pipeline_module, "NOTEBOOKS", ("01",))
    monkeypatch.setenv("RESPIRENET_CELL_TIMEOUT", "3")
    out = tmp_path / "run"
    with pytest.raises(PipelineError, match="RESPIRENET_CELL_TIMEOUT=3") as raised:
        run_pipeline(out=out, request=PipelineRequest(profile="smoke", data_dir=str(tiny_synthetic)), progress=False)
    assert raised.value.notebook == "01_slow" and raised.value.cell == 3
    assert json.loads((out / "pipeline.json").read_text())["notebooks"]["01"]["status"] == "failed"
    monkeypatch.setenv("RESPIRENET_CELL_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="whole number of seconds"):
        pipeline_module.cell_timeout()
