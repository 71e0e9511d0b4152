"""The notebooks' text: every paper section they cite exists in the paper."""

from __future__ import annotations

import re

from respirelib.apps.notebooks import NOTEBOOK_DIR
from tests.conftest import REPO_ROOT, require_shared

PAPER_TEXT = REPO_ROOT.parent / "shared" / "paper" / "respirenet-paper.txt"
# The paper's sections (Gairola et al., EMBC 2021): I Introduction, II Method with one subsection
# II-A "Efficient Dataset Utilization" (the four techniques), III Experiments, IV Related work, V Conclusion.
# Checked against the paper's own headings where ../shared is present (test below).
PAPER_SECTIONS = {"I", "II", "II-A", "III", "IV", "V"}
CITATION = re.compile(r"§\s*([IVX]+(?:-[A-Z])?)")


def sections_in_paper(text: str) -> set[str]:
    """Section labels from the paper's headings: ``"II. METHOD"`` → ``"II"``, ``"A. Efficient"`` → ``"II-A"``."""
    sections, current = set(), None
    for line in text.splitlines():
        top = re.match(r"^([IVX]+)\. [A-Z]", line)
        sub = re.match(r"^([A-H])\. [A-Z]", line)
        if top:
            current = top[1]
            sections.add(current)
        elif sub and current:
            sections.add(f"{current}-{sub[1]}")
    return sections


def unknown_citations(text: str) -> list[str]:
    """The ``§`` citations in ``text`` naming a section the paper does not have."""
    return [match for match in CITATION.findall(text) if match not in PAPER_SECTIONS]


def test_the_section_list_is_the_papers():
    paper = require_shared(PAPER_TEXT.parent, marker=PAPER_TEXT.name) / PAPER_TEXT.name
    assert sections_in_paper(paper.read_text()) == PAPER_SECTIONS


def test_notebooks_cite_only_sections_the_paper_has():
    assert unknown_citations("the techniques (§III-B) and fine-tuning (§ III-D), in §II-A") == ["III-B", "III-D"]
    sources = sorted(NOTEBOOK_DIR.glob("0*.py"))
    assert len(sources) == 7
    for source in sources:
        assert not unknown_citations(source.read_text()), source.name
