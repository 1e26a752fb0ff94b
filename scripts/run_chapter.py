"""Execute one or more book chapters (MyST Markdown notebooks) exactly as the book build does.

    .venv/bin/python scripts/run_chapter.py book/stable.md [--save OUT.ipynb]

Reads each chapter with myst-nb's reader (the notebook whose code jupyter-cache keys the build's execution
cache on), executes it with jupyter-cache's ``single_nb_execution`` (nbclient) in the chapter's folder, with
the build's cell timeout, and reports the run time; a failing cell prints its traceback and the exit status
is 1. Cells tagged ``raises-exception`` may raise. ``scripts/build_book.py`` runs this script, several
chapters at a time, to fill the build's execution cache (``--save`` writes the executed notebook).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import nbclient_polling  # noqa: E402  (the workaround for nbclient's lost-reply hang; it also logs executions)

TIMEOUT_S = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"]  # the build's cell timeout


def execute_chapter(path: Path, timeout: int = TIMEOUT_S) -> tuple[nbformat.NotebookNode, float, str | None]:
    """Execute the chapter at ``path``: the executed notebook, the seconds it took, and the traceback of the
    cell that failed (None when every cell ran)."""
    from jupyter_cache.executors.utils import single_nb_execution
    from myst_nb.core.read import myst_nb_reader_plugin  # what the build and its cache read

    nbclient_polling.install()
    nb = myst_nb_reader_plugin(str(Path(path).resolve()))
    result = single_nb_execution(nb, cwd=str(Path(path).resolve().parent), timeout=timeout, allow_errors=False)
    return result.nb, result.time, result.exc_string


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--save", type=Path, help="write the executed notebook here (one chapter only)")
    args = parser.parse_args(argv)
    if args.save and len(args.chapters) > 1:
        parser.error("--save takes one chapter")
    # As the book build does: chapters run their book-scale grids. HTSGD_BOOK_BUILD=0 runs the quick ones.
    os.environ.setdefault("HTSGD_BOOK_BUILD", "1")
    status = 0
    for chapter in args.chapters:
        nb, seconds, error = execute_chapter(chapter)
        if error is not None:
            print(f"FAILED {chapter}:\n{error}", file=sys.stderr)
            status = 1
            continue
        print(f"ok {chapter} in {seconds:.1f} s", flush=True)
        if args.save:
            nbformat.write(nb, args.save)
    return status


if __name__ == "__main__":
    sys.exit(main())
