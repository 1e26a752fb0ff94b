"""Write the reader's notebook beside every chapter: book/<chapter>.md -> book/<chapter>.ipynb.

    .venv/bin/python scripts/sync_notebooks.py          # (re)write every notebook
    .venv/bin/python scripts/sync_notebooks.py --check  # exit 1 if any is missing or stale

The MyST ``.md`` file is the source. ``notebook_render.render_notebook`` renders it into plain
Jupyter Markdown (numbered exercises, collapsed solutions, author-year citations, links into the
HTML book, included code; see that module), without outputs, and this script adds one first cell
that installs ``htsgd[notebook]==<htsgd.__version__>`` from PyPI on Google Colab or where ``htsgd`` is
missing (``scripts/install_cell.py``; the tag workflow publishes that release). The repository's location is read from
``_config.yml`` (``repository.url``), its one home; the HTML book's address is derived from it
(GitHub Pages) unless ``html.baseurl`` is set there. The notebooks are excluded from the Sphinx
build; sphinx-book-theme points the launch buttons at them.

Publishing (README, "Publishing (maintainers)"): set ``repository.url``, bump the version in
``pyproject.toml`` and ``htsgd/__init__.py``, run ``make notebooks``, commit, and push the tag
``v<version>``: .github/workflows/release.yml publishes that version to PyPI, which every install cell names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from install_cell import INSTALL_TAG, install_cell, package_version  # noqa: E402
from notebook_render import html_base_url, render_notebook, repository_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_TAG = INSTALL_TAG

__all__ = [
    "COLAB_TAG",
    "chapters",
    "colab_install_cell",
    "html_base_url",
    "notebook_text",
    "release_tag",
    "render_notebook",
    "repository_url",
]


def release_tag() -> str:
    """The git tag of the release the notebooks install: ``v`` + ``htsgd.__version__``."""
    return f"v{package_version()}"


def colab_install_cell(url: str | None = None, tag: str | None = None) -> nbformat.NotebookNode:
    """The notebook's first cell: ``scripts/install_cell.py`` (``htsgd[notebook]==<version>`` from PyPI).

    ``url`` is not used any more (the cell names no repository); ``tag`` is ``v<version>``."""
    return install_cell(tag.removeprefix("v") if tag else None)


def chapters() -> list[Path]:
    """The MyST notebooks of the book (pages with a jupytext header)."""
    return sorted(p for p in BOOK.glob("*.md") if p.read_text().startswith("---\njupytext:"))


def notebook_text(chapter: Path, url: str | None = None) -> str:
    """The exact text of the notebook generated from ``chapter``."""
    nb = render_notebook(chapter)
    nb.cells.insert(0, colab_install_cell(url or repository_url()))
    for cell in nb.cells:  # stable text: no random cell ids
        cell.pop("id", None)
    return jupytext.writes(nb, fmt="ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stale or missing notebooks")
    args = parser.parse_args(argv)
    url = repository_url()
    stale, failed = [], []
    for chapter in chapters():
        target = chapter.with_suffix(".ipynb")
        try:
            text = notebook_text(chapter, url)
        except (KeyError, ValueError, OSError) as error:
            failed.append(chapter)
            print(f"cannot render {chapter.relative_to(ROOT)}: {error}", file=sys.stderr)
            continue
        if target.is_file() and target.read_text() == text:
            continue
        stale.append(target)
        if not args.check:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    if args.check and stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(f"stale or missing notebooks: {names}; run `make notebooks`", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
