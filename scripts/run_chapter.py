"""Execute one or more book chapters (MyST Markdown notebooks) the way the test suite does.

    .venv/bin/python scripts/run_chapter.py book/stable.md [--save OUT.ipynb]

Reads each chapter with jupytext, executes it with nbclient in the chapter's
folder (as Jupyter Book does) and reports the run time; a failing cell prints
its traceback and the exit status is 1. Cells tagged ``raises-exception`` may raise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))
import nbclient_polling  # noqa: E402  (the workaround for nbclient's lost-reply hang)


def execute_chapter(path: Path, timeout: int = 1200) -> tuple[nbformat.NotebookNode, float]:
    """Execute the chapter at ``path``; return the executed notebook and the seconds it took."""
    nbclient_polling.install()
    nb = jupytext.read(path)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--save", type=Path, help="write the executed notebook here (one chapter only)")
    args = parser.parse_args(argv)
    # As the book build does: chapters run their book-scale grids. HTSGD_BOOK_BUILD=0 runs the quick ones.
    os.environ.setdefault("HTSGD_BOOK_BUILD", "1")
    status = 0
    for chapter in args.chapters:
        try:
            nb, seconds = execute_chapter(chapter)
        except CellExecutionError as err:
            print(f"FAILED {chapter}:\n{err}", file=sys.stderr)
            status = 1
            continue
        print(f"ok {chapter} in {seconds:.1f} s")
        if args.save:
            nbformat.write(nb, args.save)
    return status


if __name__ == "__main__":
    sys.exit(main())
