"""Every chapter of the book executes from top to bottom without an error.

The chapters are executed once in this environment, by the session's strict book build
(tests/conftest.py ``book_build``: scripts/build_book.py executes them, two at a time, with
scripts/run_chapter.py: myst-nb's MyST reading, nbclient, the chapter's folder as working directory, into
the jupyter-cache that jupyter-book then reads), and these tests read what that execution left: the
executed notebook (in the build's cache) and, for a chapter that failed, its traceback
(``_build/html/reports/book/<chapter>.err.log``; every chapter runs). A failing chapter fails here, by
name, with the failing cell's traceback. ``scripts/run_chapter.py`` executes a chapter alone, the same
way, for a developer.
"""

from __future__ import annotations

import nbformat
import pytest

from conftest import BOOK, ROOT


def _chapters() -> list[str]:
    # Every MyST notebook in book/ (pages with a jupytext header), so a new chapter is tested
    # as soon as it exists.
    return sorted(p.name for p in BOOK.glob("*.md") if p.read_text().startswith("---\njupytext:"))


def chapter_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Code cells the execution did not reach, and errors raised outside cells tagged ``raises-exception``."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        tags = cell.metadata.get("tags", [])
        if cell.get("execution_count") is None and "skip-execution" not in tags:
            problems.append(f"cell {i} was not executed")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and "raises-exception" not in tags:
                problems.append(f"cell {i} raised {out['ename']}: {out['evalue']}")
    return problems


def test_there_are_chapters():
    assert _chapters(), "book/ has no executable chapters"


def test_an_unexecuted_or_failing_notebook_is_reported():
    nb = nbformat.v4.new_notebook()
    ok = nbformat.v4.new_code_cell("1", execution_count=1)
    skipped = nbformat.v4.new_code_cell("2")
    failed = nbformat.v4.new_code_cell("1 / 0", execution_count=2)
    failed.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero")]
    allowed = nbformat.v4.new_code_cell("1 / 0", execution_count=3, metadata={"tags": ["raises-exception"]})
    allowed.outputs = list(failed.outputs)
    nb.cells = [ok, skipped, failed, allowed, nbformat.v4.new_markdown_cell("# text")]
    assert chapter_problems(nb) == ["cell 1 was not executed", "cell 2 raised ZeroDivisionError: division by zero"]


def _executed(book_build: dict, chapter: str) -> nbformat.NotebookNode:
    """The notebook the build executed (or found executed in its cache) for ``chapter``."""
    if book_build["cache"] is not None:
        # The build reads every chapter from its cache: myst-nb writes the *unexecuted* notebook to
        # jupyter_execute/ (it merges the cached outputs into a copy), so the executed one is read from the
        # cache, matched to the chapter's code.
        from jupyter_cache import get_cache

        cache = get_cache(book_build["cache"])
        records = [r for r in cache.list_project_records() if r.uri.endswith(f"/book/{chapter}")]
        assert records, f"{chapter} was never executed into the build's cache"
        record = cache.get_cached_project_nb(records[0].pk)
        assert record is not None, f"the build's cache holds no execution of the current code of {chapter}"
        return cache.get_cache_bundle(record.pk).nb
    executed = book_build["executed"] / "book" / chapter.replace(".md", ".ipynb")
    if book_build["mode"] == "existing" and not executed.is_file():
        pytest.skip(f"HTSGD_BOOK_HTML: the build checked does not hold {chapter}")
    assert executed.is_file(), f"the book build wrote no executed notebook for {chapter} (status {book_build['status']})"
    return nbformat.read(executed, as_version=4)


@pytest.mark.book
@pytest.mark.slow
@pytest.mark.parametrize("chapter", _chapters())
def test_chapter_executes(book_build, chapter):
    stem = chapter.removesuffix(".md")
    report = book_build["html"] / "reports" / "book" / f"{stem}.err.log"
    if report.is_file():
        pytest.fail(f"{chapter} failed in the book build:\n{report.read_text()[-6000:]}")
    problems = chapter_problems(_executed(book_build, chapter))
    assert not problems, f"{chapter}: {problems[:5]}"


def test_the_execution_cache_is_keyed_on_what_the_chapters_compute_from(tmp_path):
    """jupyter-cache keys a chapter on its code only; scripts/build_book.py puts the cache in a folder named
    by the package, the committed results and torch's kernel settings, and removes the other folders, so a
    change to htsgd never reuses a stale execution (the reason CI used to force every execution)."""
    from conftest import load_script

    build_book = load_script("build_book")
    (tmp_path / "htsgd").mkdir()
    (tmp_path / "htsgd" / "core.py").write_text("x = 1\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "chapter.md").write_text("prose\n")
    env = {"HTSGD_BOOK_BUILD": "1"}
    first = build_book.inputs_fingerprint(env, root=tmp_path)
    (tmp_path / "book" / "chapter.md").write_text("other prose\n")  # the chapter itself: jupyter-cache's job
    assert build_book.inputs_fingerprint(env, root=tmp_path) == first
    assert build_book.inputs_fingerprint({**env, "ATEN_CPU_CAPABILITY": "default"}, root=tmp_path) != first
    (tmp_path / "htsgd" / "core.py").write_text("x = 2\n")
    assert build_book.inputs_fingerprint(env, root=tmp_path) != first

    build = tmp_path / "_build"
    stale = build / ".jupyter_cache" / "0123456789abcdef"
    stale.mkdir(parents=True)
    current = build_book.execution_cache(build, env)
    assert current.parent == stale.parent and current.name == build_book.inputs_fingerprint(env)
    assert not stale.exists()


def test_the_build_executes_the_chapters_of_its_table_of_contents(tmp_path):
    """scripts/build_book.py executes, before Sphinx starts, every MyST notebook the table of contents names
    (root, parts, sections; with or without a suffix), and nothing else: the executions the build then finds
    in its cache are exactly the chapters it renders (tests/test_executions.py counts them)."""
    from conftest import load_script

    build_book = load_script("build_book")
    header = "---\njupytext:\n  text_representation:\n    extension: .md\n---\n# A chapter\n"
    for name, text in {"root": header, "a": header, "b": "# a page without code\n", "c": header, "d": header}.items():
        (tmp_path / "book").mkdir(exist_ok=True)
        (tmp_path / "book" / f"{name}.md").write_text(text)
    toc = tmp_path / "toc.yml"
    toc.write_text("format: jb-book\nroot: book/root\nparts:\n  - caption: P\n    chapters:\n      - file: book/a\n"
                   "      - file: book/b.md\n        sections:\n          - file: book/c.md\n")
    assert [p.name for p in build_book.toc_chapters(toc, root=tmp_path)] == ["root.md", "a.md", "c.md"]
    assert sorted(p.name for p in build_book.toc_chapters(ROOT / "_toc.yml")) == _chapters()
