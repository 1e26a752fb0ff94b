"""Write the Colab/Binder notebook beside every chapter: book/<chapter>.md -> book/<chapter>.ipynb.

    .venv/bin/python scripts/sync_notebooks.py          # (re)write every notebook
    .venv/bin/python scripts/sync_notebooks.py --check  # exit 1 if any is missing or stale

The MyST ``.md`` file is the source; the ``.ipynb`` is generated from it with
jupytext (no outputs) and gets one extra first cell that installs ``htsgd`` from the
book's repository when, and only when, it runs on Google Colab. The repository URL
is read from ``_config.yml`` (``repository.url``), its one home. The notebooks are
excluded from the Sphinx build; sphinx-book-theme points the launch buttons at them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_TAG = "colab-install"


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def colab_install_cell(url: str) -> nbformat.NotebookNode:
    source = (
        "# On Google Colab, install htsgd (and what the chapters need) from the book's repository.\n"
        "# Elsewhere this cell does nothing: run `make book` or `pip install -e .` in a clone instead.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "htsgd[notebook] @ git+{url}"'
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [COLAB_TAG, "remove-cell"]
    cell.pop("id", None)
    return cell


def chapters() -> list[Path]:
    """The MyST notebooks of the book (pages with a jupytext header)."""
    return sorted(p for p in BOOK.glob("*.md") if p.read_text().startswith("---\njupytext:"))


def notebook_text(chapter: Path, url: str) -> str:
    """The exact text of the notebook generated from ``chapter``."""
    nb = jupytext.read(chapter)
    nb.cells.insert(0, colab_install_cell(url))
    for cell in nb.cells:  # stable text: no random cell ids
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4
    nb.metadata.pop("jupytext", None)
    return jupytext.writes(nb, fmt="ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stale or missing notebooks")
    args = parser.parse_args(argv)
    url = repository_url()
    stale = []
    for chapter in chapters():
        target = chapter.with_suffix(".ipynb")
        text = notebook_text(chapter, url)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
