"""Every chapter of the book executes from top to bottom without an error.

This is the same execution the book build does (jupytext + nbclient, chapter
folder as working directory); a chapter that breaks fails `make test` here with
the failing cell's traceback, before the slower HTML build.
"""

from __future__ import annotations

import importlib.util

import pytest

from conftest import BOOK, ROOT

spec = importlib.util.spec_from_file_location("run_chapter", ROOT / "scripts" / "run_chapter.py")
run_chapter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_chapter)


def _chapters() -> list[str]:
    # Every MyST notebook in book/ (pages with a jupytext header), so a new chapter is tested
    # as soon as it exists.
    return sorted(p.name for p in BOOK.glob("*.md") if p.read_text().startswith("---\njupytext:"))


def test_there_are_chapters():
    assert _chapters(), "book/ has no executable chapters"


@pytest.mark.book
@pytest.mark.slow
@pytest.mark.parametrize("chapter", _chapters())
def test_chapter_executes(chapter):
    nb, seconds = run_chapter.execute_chapter(BOOK / chapter)
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", [])
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{chapter}: a cell raised {errors[0]['ename']}: {errors[0]['evalue']}"
