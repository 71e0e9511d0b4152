"""Tiny helper for writing notebooks from Python: ``md("...")`` and ``code("...")`` cells.

Used by the ``tools/make_*.py`` scripts that (re)write the numbered notebooks, so
notebook sources stay reviewable as Python. The written notebooks carry no outputs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat


def md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str, *, parameters: bool = False) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(textwrap.dedent(text).strip())
    if parameters:
        cell.metadata["tags"] = ["parameters"]
    return cell


def write(path: str | Path, cells: list) -> None:
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    nbformat.write(notebook, str(path))
