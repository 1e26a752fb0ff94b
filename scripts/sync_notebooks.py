"""Write the reader's notebook beside every chapter: book/<chapter>.md -> book/<chapter>.ipynb.

    .venv/bin/python scripts/sync_notebooks.py [--build DIR]  # (re)write every notebook
    .venv/bin/python scripts/sync_notebooks.py --check        # exit 1 if any is missing or stale

The MyST ``.md`` file is the source. ``notebook_render.render_notebook`` renders it into plain
Jupyter Markdown (numbered exercises, collapsed solutions, author-year citations, links into the
HTML book, included code, and the numbers the book's build glued into the prose; see that module),
without outputs.

The numbers come from the last build of the book (``make book``, ``scripts/build_book.py --execute
cache``; ``--build DIR`` for one built with ``--output DIR``): its execution cache
(``_build/.jupyter_cache/<fingerprint>``) holds every chapter executed, keyed by its code, and each
chapter's glued values are read from the execution of its *current* code (:func:`build_values`).
Without such an execution the script stops and says to build the book first. The values a
notebook shows are kept in its metadata, so ``--check`` (and tests/test_notebooks.py) compares the
committed notebooks with a rendering from their own values: a notebook generated on another machine,
whose numbers differ in the last digits, is up to date all the same.

For the reader (:func:`reader_notebook`), every exercise gets the cells of the student kit
(``scripts/make_student.py``): ``answer = ...`` and a self-check, which waits for an answer instead
of failing; and every solution's code runs under ``if RUN_SOLUTIONS:``, set near the top of the
notebook from ``htsgd.notebook.run_solutions(False)``: running the notebook does not print the
exercises' answers, a reader changes ``False`` to ``True`` there to run the solutions, and
``HTSGD_RUN_SOLUTIONS=1`` in the kernel's environment runs them all (tests/test_plain_install.py).

Last, this script adds one first cell that installs ``htsgd[notebook]==<htsgd.__version__>`` from PyPI
on Google Colab or where ``htsgd`` is missing (``scripts/install_cell.py``; the tag workflow publishes that
release). The repository's location is read from
``_config.yml`` (``repository.url``), its one home; the HTML book's address is derived from it
(GitHub Pages) unless ``html.baseurl`` is set there. The notebooks are excluded from the Sphinx
build; sphinx-book-theme points the launch buttons at them.

Publishing (README, "Publishing (maintainers)"): set ``repository.url``, bump the version in
``pyproject.toml`` and ``htsgd/__init__.py``, run ``make notebooks``, commit, and push the tag
``v<version>``: .github/workflows/release.yml publishes that version to PyPI, which every install cell names.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.metadata
import io
import os
import platform
import sys
import tokenize
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from install_cell import INSTALL_TAG, install_cell, package_version  # noqa: E402
from make_student import exercise_asks  # noqa: E402
from notebook_render import (  # noqa: E402
    BOOK_VALUES_KEY,
    TEXT_MIMES,
    BookValues,
    html_base_url,
    render_notebook,
    repository_url,
)

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_TAG = INSTALL_TAG
RUN_FLAG = "RUN_SOLUTIONS"  # the variable every solution cell of a reader's notebook runs under

__all__ = [
    "COLAB_TAG",
    "RUN_FLAG",
    "BuildMissing",
    "build_values",
    "shown_values",
    "up_to_date",
    "chapters",
    "colab_install_cell",
    "exercise_cells",
    "guard_solution",
    "html_base_url",
    "notebook_text",
    "reader_notebook",
    "release_tag",
    "render_notebook",
    "repository_url",
    "solutions_flag_cell",
]


def release_tag() -> str:
    """The git tag of the release the notebooks install: ``v`` + ``htsgd.__version__``."""
    return f"v{package_version()}"


def colab_install_cell(url: str | None = None, tag: str | None = None) -> nbformat.NotebookNode:
    """The notebook's first cell: ``scripts/install_cell.py`` (``htsgd[notebook]==<version>`` from PyPI).

    ``url`` is not used any more (the cell names no repository); ``tag`` is ``v<version>``."""
    return install_cell(tag.removeprefix("v") if tag else None)


# ----------------------------------------------------------------------------- the build's values


class BuildMissing(RuntimeError):
    """No execution of a chapter's current code in the book's build: build the book first."""


BUILD_FIRST = "build the book first: `make book` (or `.venv/bin/python scripts/build_book.py --execute cache`)"


@functools.lru_cache(maxsize=4)
def _cache_folder(build: Path) -> Path:
    """The execution cache of the book built into ``build/_build``: the folder of the current inputs'
    fingerprint (scripts/build_book.py), or else the newest one there (the chapters are matched by
    their code all the same, but the package or the results changed since: said on stderr)."""
    import build_book

    current = build_book.cache_folder(build / "_build", build_book.build_env())
    if (current / "global.db").is_file():
        return current
    parent = current.parent
    folders = sorted((p for p in parent.glob("*") if (p / "global.db").is_file()), key=lambda p: p.stat().st_mtime)
    if not folders:
        raise BuildMissing(f"no execution cache in {parent}: {BUILD_FIRST}")
    print(f"sync_notebooks: the inputs changed since the last build ({folders[-1].name}, not {current.name}); "
          "reading its executions of the chapters' current code", file=sys.stderr)
    return folders[-1]


def machine() -> str:
    """The machine whose numbers the notebooks quote, in words (the build ran on this one)."""
    try:
        torch = f" (torch {importlib.metadata.version('torch')})"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        torch = ""
    return f"a {os.cpu_count()}-CPU {platform.machine()} {platform.system()} machine{torch}"


def build_values(chapter: Path, build: Path = ROOT) -> BookValues:
    """The values ``chapter`` glued in the book built into ``build/_build``, from the execution of its
    current code in the build's cache (jupyter-cache matches a notebook by its code cells).

    Raises
    ------
    BuildMissing
        If the build has no cache, or no execution of the chapter's current code.
    """
    from jupyter_cache import get_cache
    from myst_nb.ext.glue import extract_glue_data_cell

    folder = _cache_folder(Path(build).resolve())
    cache = get_cache(folder)
    try:
        record = cache.match_cache_notebook(jupytext.read(chapter))
    except KeyError:
        raise BuildMissing(f"{chapter.name}: the build in {folder} has not executed its current code: "
                           f"{BUILD_FIRST}") from None
    glue: dict[str, dict[str, str]] = {}
    for cell in cache.get_cache_bundle(record.pk).nb.cells:
        if cell.cell_type == "code":
            for name, output in extract_glue_data_cell(cell):  # as myst-nb reads them
                glue[name] = {m: output["data"][m] for m in TEXT_MIMES if m in output["data"]}
    return BookValues(glue=glue, date=record.created.strftime("%Y-%m-%d"), machine=machine())


# ----------------------------------------------------------------------------- the reader's cells


def solutions_flag_cell() -> nbformat.NotebookNode:
    """The cell near the top of a notebook with exercises that says whether solutions run."""
    cell = nbformat.v4.new_code_cell(
        "# The exercises' solutions, at the end, are collapsed and do not run with the notebook, so that\n"
        "# running it does not print their answers. To run them, change False to True here and run this cell.\n"
        "from htsgd.notebook import run_solutions\n"
        "\n"
        f"{RUN_FLAG} = run_solutions(False)"
    )
    cell.metadata["htsgd"] = {"run_solutions": True}
    return cell


def exercise_cells(label: str, number: str) -> list[nbformat.NotebookNode]:
    """The student kit's cells of an exercise that asks for ``answer``: the answer (``answer = ...``)
    and the self-check, which waits for an answer instead of failing; none for an exercise without
    ``answer``. Their metadata says ``{"answer_of": label}`` and ``{"check_of": label}``."""
    from htsgd.exercises import REFERENCES, UNCHECKED

    ref = REFERENCES.get(label)
    if ref is None and label not in UNCHECKED:
        return []
    asks = exercise_asks(label) if ref else f"set `answer` (no self-check: {UNCHECKED[label]})"
    answer = nbformat.v4.new_code_cell(f"# Exercise {number}: {asks}.\nanswer = ...")
    answer.metadata["htsgd"] = {"answer_of": label}
    if ref is None:
        return [answer]
    check = nbformat.v4.new_code_cell(
        f"# Self-check for Exercise {number}: is `answer` right for the values the exercise states? It says\n"
        "# correct or not yet, with a hint (never the answer).\n"
        "if answer is ...:\n"
        f'    print("Exercise {number}: set `answer` in the cell above, run it, then run this cell.")\n'
        "else:\n"
        f'    hs.exercises.check("{label}", answer)'
    )
    check.metadata["htsgd"] = {"check_of": label}
    return [answer, check]


def _string_continuations(body: str) -> set[int]:
    """The (1-based) lines of ``body`` that continue a string begun on an earlier line: not to indent."""
    lines: set[int] = set()
    starts: list[int] = []
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12 tokenizes f-strings in pieces
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        if tok.type == fstring_start:
            starts.append(tok.start[0])
            continue
        first = starts.pop() if tok.type == fstring_end else tok.start[0] if tok.type == tokenize.STRING else None
        if first is not None and tok.end[0] > first:
            lines.update(range(first + 1, tok.end[0] + 1))
    return lines


def guard_solution(source: str) -> str:
    """A solution's code cell that runs only under ``if RUN_SOLUTIONS:`` (its ``# @title`` line kept).

    The code is indented, except the lines inside a multi-line string; a last bare expression
    (which a notebook would show) becomes ``display(...)``, since the value of a statement under
    ``if`` is not shown.

    Raises
    ------
    ValueError
        If the code is not plain Python (an IPython magic, a syntax error).
    """
    lines = source.splitlines()
    title = lines[:1] if lines and lines[0].startswith("# @title") else []
    body = "\n".join(lines[len(title):])
    try:
        tree = ast.parse(body)
    except SyntaxError as error:
        raise ValueError(f"a solution's code is not plain Python ({error}):\n{source}") from None
    body_lines = body.splitlines()
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call) and not body.rstrip().endswith(";"):
        shown = f"display({ast.get_source_segment(body, last)})".splitlines()
        body_lines[last.lineno - 1 : last.end_lineno] = shown
        body = "\n".join(body_lines)
    keep = _string_continuations(body)
    indented = [
        line if not line.strip() or number in keep else "    " + line
        for number, line in enumerate(body.splitlines(), start=1)
    ]
    if not tree.body:
        indented.append("    pass")
    return "\n".join([*title, f"if {RUN_FLAG}:  # False unless you ask for the solutions at the top of the notebook",
                      *indented])


def reader_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` (from ``render_notebook``) for a reader, in place: each exercise followed by its
    :func:`exercise_cells`, each solution's code under :func:`guard_solution`, and, where there are
    exercises, :func:`solutions_flag_cell` after the title (and the note on numbers below it)."""
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("htsgd", {})
        if cell.cell_type == "code" and "solution_of" in meta:
            cell.source = guard_solution(cell.source)
        cells.append(cell)
        if "exercise" in meta:
            cells += exercise_cells(meta["exercise"], meta["number"])
    if len(cells) > len(nb.cells) or any("solution_of" in c.metadata.get("htsgd", {}) for c in cells):
        top = next((i + 1 for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("# ")), 0)
        if top < len(cells) and cells[top].source.startswith("> **Reading this notebook.**"):
            top += 1
        cells.insert(top, solutions_flag_cell())
    nb.cells = cells
    return nb


def chapters() -> list[Path]:
    """The MyST notebooks of the book (pages with a jupytext header)."""
    return sorted(p for p in BOOK.glob("*.md") if p.read_text().startswith("---\njupytext:"))


def notebook_text(chapter: Path, url: str | None = None, values: BookValues | None = None) -> str:
    """The exact text of the notebook generated from ``chapter``, its prose showing ``values`` (by
    default those the committed notebook shows: see ``render_notebook``)."""
    nb = reader_notebook(render_notebook(chapter, values))
    nb.cells.insert(0, colab_install_cell(url or repository_url()))
    for cell in nb.cells:  # stable text: no random cell ids
        cell.pop("id", None)
    return jupytext.writes(nb, fmt="ipynb")


def shown_values(text: str) -> BookValues | None:
    """The build's values the notebook of ``text`` (an ``.ipynb`` file's text) shows, from its metadata."""
    meta = nbformat.reads(text, as_version=4).metadata.get("htsgd", {}).get(BOOK_VALUES_KEY)
    return BookValues.from_metadata(meta) if meta else None


def up_to_date(chapter: Path, text: str, url: str | None = None) -> bool:
    """Whether ``text`` is the notebook of ``chapter`` as generated now, whatever numbers it shows: it is
    compared with a rendering from the values it carries (another machine's numbers differ in the last
    digits, and those of another build are as good)."""
    try:
        return text == notebook_text(chapter, url, shown_values(text))
    except KeyError:  # the chapter now shows a value the notebook does not carry
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="only report stale or missing notebooks (numbers aside: no build needed)")
    parser.add_argument("--build", type=Path, default=ROOT,
                        help="the folder holding the book's _build/ (build_book.py --output; default: the clone)")
    args = parser.parse_args(argv)
    url = repository_url()
    if not args.check:
        try:
            _cache_folder(args.build.resolve())
        except BuildMissing as error:
            print(f"sync_notebooks: {error}", file=sys.stderr)
            return 2
    stale, failed, missing = [], [], []
    for chapter in chapters():
        target = chapter.with_suffix(".ipynb")
        try:
            glued = "{glue" in chapter.read_text()
            values = build_values(chapter, args.build.resolve()) if glued and not args.check else None
            text = notebook_text(chapter, url, values)
        except BuildMissing as error:  # the others are written all the same
            missing.append(chapter)
            print(f"sync_notebooks: {error}", file=sys.stderr)
            continue
        except (KeyError, ValueError, OSError) as error:
            failed.append(chapter)
            print(f"cannot render {chapter.relative_to(ROOT)}: {error}", file=sys.stderr)
            continue
        if target.is_file() and target.read_text() == text:  # with --check, rendered from its own values
            continue
        stale.append(target)
        if not args.check:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    if args.check and stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(f"stale or missing notebooks: {names}; run `make notebooks`", file=sys.stderr)
        return 1
    return 2 if missing else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
