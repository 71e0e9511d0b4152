"""Packaging facts: pins agree, no CUDA wheels, notebooks committed without outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = re.match(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_environment_yml_pins_match_constraints():
    constraints = _pins((REPO_ROOT / "constraints.txt").read_text().splitlines())
    environment = _pins((REPO_ROOT / "environment.yml").read_text().splitlines())
    assert constraints["torch"] == "2.13.0" and constraints["torchvision"] == "0.28.0"
    assert environment == constraints


def test_every_direct_dependency_is_pinned():
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    constraints = _pins((REPO_ROOT / "constraints.txt").read_text().splitlines())
    names = [re.split(r"[<>=!~\[ ]", dep)[0].lower() for dep in
             project["dependencies"] + project["optional-dependencies"]["dev"]]
    assert [name for name in names if name not in constraints] == []


def test_no_cuda_wheels_installed():
    listing = subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True, text=True, check=True)
    assert not [line for line in listing.stdout.splitlines() if "nvidia" in line.lower()]


@pytest.mark.parametrize("notebook", sorted((REPO_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    dirty = [i for i, cell in enumerate(cells)
             if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))]
    assert dirty == [], f"{notebook.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("notebook", sorted((REPO_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_have_a_parameters_cell(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{notebook.name} needs exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("notebook", sorted((REPO_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_each_notebook_and_its_jupytext_twin_agree(notebook):
    import jupytext

    twin = notebook.with_suffix(".py")
    assert twin.is_file(), f"{notebook.name} has no jupytext twin {twin.name}: run `jupytext --set-formats ipynb,py:percent`"
    assert jupytext.read(notebook).metadata["jupytext"]["formats"] == "ipynb,py:percent"

    def cells(path):
        return [(cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", [])))
                for cell in jupytext.read(path).cells]

    drift = [i for i, (a, b) in enumerate(zip(cells(notebook), cells(twin))) if a != b]
    assert len(cells(notebook)) == len(cells(twin)) and not drift, (
        f"{notebook.name} and {twin.name} have drifted apart (cells {drift}): run `jupytext --sync {twin}`")


def test_the_notebook_pipelines_users_run_on_one_test_worker():
    """`make test`'s two workers build the two-minute smoke pipeline once: its modules share one scope."""
    from tests.conftest import PIPELINE_MODULES, worker_scope

    scopes = {worker_scope(f"tests/{module}::test_x") for module in PIPELINE_MODULES}
    assert len(scopes) == 1
    assert worker_scope("tests/test_faults.py::test_x") == "tests/test_faults.py"
    assert worker_scope("tests/test_faults.py::test_x") != worker_scope("tests/test_cache.py::test_y")
    assert scopes.isdisjoint({worker_scope("tests/test_faults.py::test_x")})
    assert "-n $(TEST_WORKERS)" in (REPO_ROOT / "Makefile").read_text()
