"""The glossary, the notebooks' navigation, and the book of a run opened in headless Chromium.

The book is built from the session's smoke pipeline run with the offline renderer (nbconvert): CI
cannot fetch MyST's site theme. The browser part needs Debian's ``chromium`` and ``chromium-driver``,
as ``tests/test_browser_explorer.py`` does (skipped without them, a failure under CI).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import nbformat
import pytest

from respirelib.apps.cli import main
from respirelib.experiments.book import GLOSSARY
from respirelib.runs import REPO_ROOT
from tests.test_browser_explorer import browser, browser_binaries  # noqa: F401 (fixtures)

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("0[1-9]_*.ipynb"))
TERMS = ("Se", "Sp", "ICBHI score", "STFT", "Mel spectrogram", "CBA", "BRC", "FT", "Bootstrap interval",
         "Standard deviation vs interval")
# The paper's sections (I Introduction, II Method with II-A Efficient Dataset Utilization, III Experiments,
# IV Related work, V Conclusion): the only ones a page may cite.
PAPER_SECTIONS = {"I", "II", "II-A", "III", "IV", "V"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    return {title.split(" (")[0].strip(): body.strip() for title, body in zip(parts[1::2], parts[2::2])}


def test_the_glossary_defines_every_term_and_cites_only_the_papers_sections():
    text = GLOSSARY.read_text()
    sections = _sections(text)
    for term in TERMS:
        assert len(sections.get(term, "").split()) >= 25, f"the glossary does not explain {term!r}"
    cited = set(re.findall(r"§([IVX]+(?:-[A-Z])?)", text))
    assert cited and cited <= PAPER_SECTIONS, cited - PAPER_SECTIONS


def test_every_notebook_links_the_glossary_and_its_neighbours():
    assert [path.stem[:2] for path in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]
    for k, path in enumerate(NOTEBOOKS):
        cells = nbformat.read(str(path), as_version=4).cells
        first = next(cell for cell in cells if cell.cell_type == "markdown")
        assert GLOSSARY.name in LINK.findall(first.source), f"{path.name}: its first Markdown cell lacks the glossary"
        last = cells[-1]
        assert last.cell_type == "markdown", f"{path.name}: the last cell should link the neighbours"
        links = LINK.findall(last.source)
        expected = ([NOTEBOOKS[k - 1].name] if k else [GLOSSARY.name]) + (
            [NOTEBOOKS[k + 1].name] if k + 1 < len(NOTEBOOKS) else [])
        assert set(expected) <= set(links), f"{path.name}: its last cell links {links}, not {expected}"
        for target in links:
            assert (path.parent / target).is_file(), f"{path.name} links a missing file {target}"


@pytest.fixture(scope="module")
def book(smoke_pipeline, tmp_path_factory) -> Path:
    """``respirenet report book RUN --engine static``, as ``make book`` runs it where MyST's theme is out of reach."""
    out = tmp_path_factory.mktemp("book") / "book"
    assert main(["report", "book", str(smoke_pipeline), "--out", str(out), "--engine", "static"]) == 0
    return out / "html"


@pytest.mark.notebook
def test_report_book_keeps_an_earlier_book_unless_told(book, smoke_pipeline, tmp_path, capsys):
    out = book.parent
    assert main(["report", "book", str(smoke_pipeline), "--out", str(out), "--engine", "static"]) == 2
    assert "--replace" in capsys.readouterr().err
    other = tmp_path / "not-a-book"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["report", "book", str(smoke_pipeline), "--out", str(other), "--replace"]) == 2
    assert "not a book" in capsys.readouterr().err and (other / "notes.txt").read_text() == "mine"


@pytest.mark.notebook
def test_a_failed_jupyter_book_build_is_a_clear_error_and_leaves_nothing(smoke_pipeline, tmp_path, capsys):
    """``--engine myst`` with a theme folder MyST cannot install: the error says so, and no book folder is left."""
    theme = tmp_path / "theme"
    theme.mkdir()
    (theme / "template.yml").write_text("jtex: v1\ntitle: no such theme\n")
    out = tmp_path / "book"
    assert main(["report", "book", str(smoke_pipeline), "--out", str(out), "--engine", "myst",
                 "--template", str(theme)]) == 2
    err = capsys.readouterr().err
    assert "respirenet: error:" in err and ("jupyter-book build --html failed" in err or "Node.js" in err)
    assert "Traceback" not in err and not out.exists()


@pytest.mark.notebook
def test_the_book_source_is_a_jupyter_book_of_the_run(book, smoke_pipeline):
    source = book.parent / "source"
    config = (source / "myst.yml").read_text()
    pages = re.findall(r"- file: (\S+)", config)
    assert pages == ["index.md", GLOSSARY.name, *(path.name for path in NOTEBOOKS), "figures.md"]
    assert all((source / page).is_file() for page in pages)
    run_page = (source / "index.md").read_text()
    recorded = json.loads((smoke_pipeline / "environment.json").read_text())
    for fact in (recorded["commit"], recorded["data"]["fingerprint"], smoke_pipeline.name, "SYNTHETIC"):
        assert str(fact) in run_page
    assert re.search(r"\| torch threads \| \d", run_page) and re.search(r"\| seeds \| \d", run_page)
    assert re.search(r"\| precision \| (fp32|bf16)", run_page)


@contextlib.contextmanager
def serving(folder: Path):
    """``folder`` on a local HTTP server (as a reader or GitHub Pages would serve it); yields its address."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(book):
    with serving(book) as address:
        yield address


# Each image of the page: its source (cut short) and whether it displays; each link's target.
PAGE_STATE = """
return {title: document.title, nav: document.querySelectorAll("nav.book-nav a").length,
        images: Array.from(document.images).map((img) => [img.src.slice(0, 80), img.complete && img.naturalWidth > 0]),
        links: Array.from(document.querySelectorAll("a[href]")).map((a) => a.href)};
"""


def visit_book(driver, start: str) -> dict[str, dict]:
    """Every page reachable from ``start`` by links inside the book; fails on a page that does not load,
    an image that does not display or a link to a missing page."""
    from selenium.webdriver.support.ui import WebDriverWait

    seen, queue = {}, [start]
    origin = urlsplit(start)[:2]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        driver.get(url)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
        state = driver.execute_script(PAGE_STATE)
        assert state["nav"] >= 10, f"{url} did not load as a page of the book (title {state['title']!r})"
        broken = [src for src, shown in state["images"] if not shown]
        assert not broken, f"{url}: images that do not display: {broken}"
        seen[url] = state
        for link in state["links"]:
            target = urljoin(url, link).split("#")[0]
            if urlsplit(target)[:2] == origin:
                queue.append(target)
    return seen


@pytest.mark.browser
@pytest.mark.notebook
def test_the_book_opens_in_a_browser(browser_binaries, book, served, browser):
    pages = visit_book(browser, served)
    names = {urlsplit(url).path.rsplit("/", 1)[-1] or "index.html" for url in pages}
    assert names == {"index.html", "figures.html", *(path.stem + ".html" for path in NOTEBOOKS),
                     GLOSSARY.stem + ".html"}
    figures = sorted(path.name for path in (book / "figures").iterdir())
    shown = [src for src, _ in pages[served + "figures.html"]["images"]]
    assert figures and len(shown) == len(figures)
    assert all(len(pages[url]["images"]) > 0 for url in pages if "/0" in url and "glossary" not in url)
    # The same site from the disk, without a server: the first page and its images.
    browser.get((book / "figures.html").as_uri())
    state = browser.execute_script(PAGE_STATE)
    assert state["nav"] >= 10 and state["images"] and all(shown for _, shown in state["images"])


@pytest.mark.browser
@pytest.mark.notebook
def test_a_missing_page_or_image_fails_the_visit(browser_binaries, book, browser, tmp_path):
    """The visit itself is checked: a book with one figure file gone, then one page gone, fails it."""
    broken = tmp_path / "broken"
    shutil.copytree(book, broken)
    sorted((broken / "figures").iterdir())[0].unlink()
    with serving(broken) as address, pytest.raises(AssertionError, match="do not display"):
        visit_book(browser, address + "figures.html")
    (broken / "00_glossary.html").unlink()
    with serving(broken) as address, pytest.raises(AssertionError, match="did not load"):
        visit_book(browser, address + "index.html")
