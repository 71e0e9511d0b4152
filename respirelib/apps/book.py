"""Render the book of a pipeline run (:mod:`respirelib.experiments.book`) into a static site.

Two renderers, one source folder:

- ``myst``: Jupyter Book 2 (``jupyter-book build --html``), the field's convention and the one to
  publish. Its site theme (``book-theme``) is not in the Python package: MyST fetches it from
  ``api.mystmd.org`` and GitHub on the first build (kept in ``_build/templates``), so without that
  network it fails, unless ``template`` names a theme folder fetched once before.
- ``static``: the same pages through nbconvert's HTML exporter, with the navigation added here.
  Needs no network; figures and audio are embedded as they are in the executed notebooks.

``auto`` tries ``myst`` and falls back to ``static`` when MyST fails, saying why.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from respirelib.experiments.book import write_book_source

ENGINES = ("auto", "myst", "static")
MYST_TIMEOUT_S = 600
# nbconvert's lab template loads require.js and MathJax from a CDN; offline they only fail to load.
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*')
# Links between the book's pages, as the notebooks write them (they work in JupyterLab as they are).
_PAGE_LINK = re.compile(r'href="(?P<page>[\w.-]+)\.(?:ipynb|md)(?P<anchor>#[^"]*)?"')
_NAV_STYLE = """<style>
body {margin-left: 270px;}
.book-nav {position: fixed; top: 0; left: 0; bottom: 0; width: 250px; overflow-y: auto; box-sizing: border-box;
           background: #f6f8fa; border-right: 1px solid #d0d7de; padding: 12px; font: 14px/1.4 sans-serif;}
.book-nav a {display: block; margin: 0 0 8px;} .book-nav a.current {font-weight: bold; color: #000;}
.book-nav .prevnext {display: flex; justify-content: space-between; border-bottom: 1px solid #d0d7de;
                     margin-bottom: 10px;}
.book-nav .prevnext a {display: inline;}
@media print {body {margin-left: 0;} .book-nav {display: none;}}
</style>"""


class BookBuildError(RuntimeError):
    """The renderer failed; the message says which and why."""


def _title(page: Path) -> str:
    """A page's title: its first Markdown heading (notebook or ``.md``)."""
    if page.suffix == ".ipynb":
        import nbformat

        text = "\n".join(cell.source for cell in nbformat.read(str(page), as_version=4).cells
                         if cell.cell_type == "markdown")
    else:
        text = page.read_text()
    match = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else page.stem


def _html_name(page: str) -> str:
    return "index.html" if page == "index.md" else f"{Path(page).stem}.html"


def _navigation(pages: list[str], titles: dict[str, str], current: int) -> str:
    links = " ".join(f'<a href="{_html_name(page)}"' + (' class="current"' if k == current else "")
                     + f">{html.escape(titles[page])}</a>" for k, page in enumerate(pages))
    steps = []
    if current > 0:
        steps.append(f'<a rel="prev" href="{_html_name(pages[current - 1])}">&larr; previous</a>')
    if current + 1 < len(pages):
        steps.append(f'<a rel="next" href="{_html_name(pages[current + 1])}">next &rarr;</a>')
    return f'<nav class="book-nav"><div class="prevnext">{" ".join(steps)}</div>{links}</nav>'


def render_static(source: Path, pages: list[str], out: Path) -> Path:
    """Render ``pages`` of the book folder ``source`` into ``out`` with nbconvert; return ``out/index.html``."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    titles = {page: _title(source / page) for page in pages}
    out.mkdir(parents=True)
    for k, page in enumerate(pages):
        path = source / page
        if path.suffix == ".ipynb":
            notebook = nbformat.read(str(path), as_version=4)
        else:
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(path.read_text())])
        notebook.metadata["title"] = titles[page]
        body, _ = exporter.from_notebook_node(notebook)
        body = _EXTERNAL_SCRIPT.sub("", body)
        body = _PAGE_LINK.sub(lambda m: f'href="{_html_name(m["page"] + ".md")}{m["anchor"] or ""}"', body)
        body = body.replace("</head>", _NAV_STYLE + "\n</head>", 1)
        body = re.sub(r"(<body[^>]*>)", lambda m: m[1] + "\n" + _navigation(pages, titles, k), body, count=1)
        (out / _html_name(page)).write_text(body)
    shutil.copytree(source / "figures", out / "figures")
    return out / "index.html"


def render_myst(source: Path, out: Path, *, template: Path | None = None) -> Path:
    """Build ``source`` with Jupyter Book 2 into ``out``; return ``out/index.html``."""
    if template is not None:
        if not (Path(template) / "template.yml").is_file():
            raise BookBuildError(f"{template} is not a MyST site template (no template.yml)")
        config = source / "myst.yml"
        config.write_text(config.read_text().replace("template: book-theme", f"template: {Path(template).resolve()}"))
    # BASE_URL unset: pages link relative to the site's root, as a local server or GitHub Pages at a domain root
    # serves them (for a project page at /NAME/, set BASE_URL=/NAME before building).
    if shutil.which("node") is None:
        raise BookBuildError("Jupyter Book 2 needs Node.js (>= 18) on the PATH; none found")
    # No prompt to install Node.js into a private folder (it would wait unseen behind the captured output).
    done = subprocess.run([sys.executable, "-m", "jupyter_book", "build", "--html", "--ci"], cwd=source,
                          capture_output=True, text=True, timeout=MYST_TIMEOUT_S, stdin=subprocess.DEVNULL,
                          env={**os.environ, "JB_ALLOW_NODEENV": "no"})
    built = source / "_build" / "html"
    if done.returncode != 0 or not (built / "index.html").is_file():
        lines = [line.strip() for line in (done.stdout + done.stderr).splitlines()]
        reason = [line for line in lines if "fail" in line.lower() or "error" in line.lower()] or lines[-3:]
        raise BookBuildError("jupyter-book build --html failed: " + " / ".join(reason[:3]))
    # The rest of _build stays: templates/site/myst/book-theme is the theme MyST fetched, for --template offline.
    shutil.move(str(built), str(out))
    return out / "index.html"


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def build_book(run_dir: str | Path, out: str | Path, *, engine: str = "auto", template: Path | None = None,
               log=_warn) -> tuple[Path, str]:
    """The book of ``run_dir`` in the new folder ``out``: ``out/source`` (the MyST project) and ``out/html``.

    Returns the site's ``index.html`` and the renderer that made it (``"myst"`` or ``"static"``).
    """
    from respirelib.storage import atomic_directory

    if engine not in ENGINES:
        raise ValueError(f"unknown book engine {engine!r}; choose one of {', '.join(ENGINES)}")
    with atomic_directory(Path(out), hint="choose a new folder, or pass --replace") as folder:
        source = folder / "source"
        pages = write_book_source(run_dir, source)
        if engine in ("auto", "myst"):
            try:
                render_myst(source, folder / "html", template=template)
                return Path(out) / "html" / "index.html", "myst"
            except (BookBuildError, subprocess.TimeoutExpired) as error:
                if engine == "myst":
                    raise BookBuildError(str(error)) from None
                log(f"respirenet: the Jupyter Book (MyST) site could not be built ({error}); "
                    "rendering the same pages with nbconvert instead (offline)")
                shutil.rmtree(source / "_build", ignore_errors=True)
        render_static(source, pages, folder / "html")
    return Path(out) / "html" / "index.html", "static"
