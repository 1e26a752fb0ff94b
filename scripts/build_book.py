"""Build the HTML book with Jupyter Book 1.x, strictly: every warning and every cell error fails.

    .venv/bin/python scripts/build_book.py [--execute cache|force|off] [--grid book|quick] [--jobs N]
                                           [--output DIR] [--toc FILE]

``--execute force`` (CI) reruns every chapter; ``cache`` (the default for `make book` and `make test`)
reuses a chapter executed before with the same code *and the same inputs*. Either way the chapters are
executed before Sphinx starts, ``--jobs`` at a time (default: two, or one on a one-CPU machine), each by
``scripts/run_chapter.py`` in its own process, into the build's jupyter-cache (:func:`execute_chapters`);
jupyter-book then reads every chapter from that cache (``force`` empties it first) and executes nothing
itself. Most chapters keep one core busy, so two at a time halve their wall time on two cores. jupyter-cache keys a chapter
on its code cells only, so the cache lives in a folder named by a fingerprint of everything else a
chapter's numbers depend on (:func:`inputs_fingerprint`: the htsgd package and its configurations, the
committed results the chapters read, the installed packages' versions, and the environment variables
that change torch's kernels): a change to any of them starts an empty cache, and the old one is removed.
The build is ``jupyter-book build . --all -W -n --keep-going``; the execution mode, the cache folder and
``raise_on_error: false`` are set by writing a copy of ``_config.yml``. ``raise_on_error`` is off so
that every chapter is executed and a failing one leaves its traceback in
``_build/html/reports/<page>.err.log`` (tests/test_chapters.py reports it per chapter); the failure is
still a warning, and ``-W`` makes the build fail.

Without the offline JavaScript (``book/_static/offline``, fetched by ``scripts/vendor_js.sh``
with npm), the copy also points MathJax, require.js and the widgets HTML manager at their CDN
copies (the same releases), says so in one line, and the book still builds; it then needs the
network when it is read.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ROOT / "book" / "_static" / "offline"
# The releases scripts/vendor_js.sh fetches, from a CDN.
CDN = "https://cdn.jsdelivr.net/npm/"
CDN_FILES = {
    "offline/mathjax/tex-chtml.js": CDN + "mathjax@3.2.2/es5/tex-chtml.js",
    "offline/require.min.js": CDN + "requirejs@2.3.8/require.js",
    "offline/@jupyter-widgets/html-manager/dist/embed-amd.js": CDN
    + "@jupyter-widgets/html-manager@1.0.15/dist/embed-amd.js",
}


# What a chapter's numbers depend on besides its own code: files (folders are read whole) and the
# environment variables that change what torch computes (issue 19: another machine's kernels).
INPUTS = ("htsgd", "results", "benchmarks/results", "pyproject.toml", "requirements.txt")
INPUT_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "HTSGD_BOOK_BUILD", "HTSGD_STATIC_FRAMES", "PYTHONHASHSEED")


def inputs_fingerprint(env: Mapping[str, str], root: Path = ROOT) -> str:
    """A short hash of what the chapters compute from, besides their code: the files of ``INPUTS``
    (contents, not dates; ``__pycache__`` left out), the installed distributions' versions and the
    variables of ``INPUT_ENV`` in ``env`` (the build's environment)."""
    digest = hashlib.sha256()
    for name in INPUTS:
        top = root / name
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top] if top.is_file() else []
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    # The environment's own site-packages, not sys.path: a process with the clone's root on its path (pytest)
    # also sees the editable install's htsgd.egg-info there, and must compute the same fingerprint.
    site = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    versions = sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions(path=site)})
    digest.update("\n".join(versions).encode())
    digest.update(repr([(k, env.get(k)) for k in INPUT_ENV]).encode())
    return digest.hexdigest()[:16]


GRIDS = {"book": "1", "quick": "0"}  # --grid: the value of HTSGD_BOOK_BUILD


def build_env(grid: str = "book") -> dict[str, str]:
    """The build's environment. HTSGD_BOOK_BUILD=1 (``grid="book"``, `make book`): chapters run their
    book-scale grids; ``"quick"`` (`make test`'s build, issue 19 §6): the experiments chapter's quick grid,
    the one a reader's Colab or Binder runs."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {sorted(GRIDS)}, got {grid!r}")
    # HTSGD_STATIC_FRAMES=1: explorers carry the static page's note and precomputed frames (htsgd.widgets);
    # the chapters run in their own kernels before Sphinx starts, so the variable is set here for them.
    return {**os.environ, "HTSGD_BOOK_BUILD": GRIDS[grid], "HTSGD_STATIC_FRAMES": "1"}


def cache_folder(build_dir: Path, env: Mapping[str, str]) -> Path:
    """The jupyter-cache folder for the current inputs: ``<build_dir>/.jupyter_cache/<fingerprint>``."""
    return build_dir / ".jupyter_cache" / inputs_fingerprint(env)


def execution_cache(build_dir: Path, env: Mapping[str, str]) -> Path:
    """:func:`cache_folder`, after removing the folders of other fingerprints, so that a stale execution
    is never reused."""
    current = cache_folder(build_dir, env)
    parent = current.parent
    if parent.is_dir():
        for old in parent.iterdir():
            if old != current:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    return current


# Rough cold seconds of the slowest chapters on two idle cores (issue 19 §6): a scheduling hint only, so that
# the longest chapter starts first and the other slot is never left alone at the end; a wrong or missing
# entry costs time, never a result.
EXPECTED_S = {"book/experiments.md": 330, "book/chaos.md": 60, "book/sde.md": 60, "book/meanfield.md": 50}
READ_DATA = {"name": "myst_nb_md", "type": "plugin"}  # how myst-nb reads a MyST notebook into jupyter-cache
RUN_CHAPTER = ROOT / "scripts" / "run_chapter.py"


def default_jobs() -> int:
    """Chapters executed at a time: two, or one where this process may use a single CPU."""
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def toc_chapters(toc: Path, root: Path = ROOT) -> list[Path]:
    """The executable chapters (MyST notebooks: a jupytext header) that a table of contents names, in its order."""

    def files(node) -> list[str]:
        if isinstance(node, list):
            return [name for item in node for name in files(item)]
        if isinstance(node, dict):
            own = [node[k] for k in ("root", "file") if isinstance(node.get(k), str)]
            return own + [name for k, v in node.items() if k not in ("root", "file") for name in files(v)]
        return []

    paths = [root / (name if Path(name).suffix else f"{name}.md") for name in files(yaml.safe_load(toc.read_text()))]
    return [p for p in paths if p.suffix == ".md" and p.is_file() and p.read_text().startswith("---\njupytext:")]


def _run_chapter(path: Path, env: Mapping[str, str]) -> tuple[Path, int, str, float, object]:
    """Execute one chapter in its own process (scripts/run_chapter.py); the executed notebook when it ran."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="htsgd-chapter-") as tmp:
        out = Path(tmp) / "executed.ipynb"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(RUN_CHAPTER), str(path), "--save", str(out)], cwd=ROOT,
                              env=dict(env), capture_output=True, text=True)
        seconds = time.perf_counter() - start
        nb = nbformat.read(out, as_version=4) if done.returncode == 0 and out.is_file() else None
    return path, done.returncode, done.stdout + done.stderr, seconds, nb


def execute_chapters(cache_path: Path, chapters: list[Path], jobs: int, env: Mapping[str, str]) -> dict[Path, str]:
    """Execute into the jupyter-cache at ``cache_path`` every chapter of ``chapters`` whose current code it does
    not hold, ``jobs`` at a time, the longest expected first (``EXPECTED_S``); return the output (traceback)
    of each chapter that failed. A chapter is read as myst-nb reads it (``READ_DATA``), so the build finds it."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.db import NbProjectRecord

    cache = get_cache(str(cache_path))
    todo = []
    for path in chapters:
        record = cache.add_nb_to_project(str(path.resolve()), read_data=READ_DATA)
        if cache.get_cached_project_nb(record.pk) is None:
            todo.append(path.resolve())
    todo.sort(key=lambda p: -EXPECTED_S.get(p.relative_to(ROOT).as_posix(), 0))
    print(f"build_book: executing {len(todo)} of {len(chapters)} chapters, {jobs} at a time", flush=True)
    failed = {}
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each thread waits on its chapter's process
        for future in cf.as_completed([pool.submit(_run_chapter, path, env) for path in todo]):
            path, code, output, seconds, nb = future.result()
            name = path.relative_to(ROOT).as_posix()
            if code == 0 and nb is not None:
                bundle = CacheBundleIn(nb, str(path), data={"execution_seconds": seconds})
                cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
                print(f"build_book: executed {name} in {seconds:.0f} s", flush=True)
            else:
                failed[path] = output
                NbProjectRecord.set_traceback(str(path), output, cache.db)
                print(f"build_book: {name} FAILED after {seconds:.0f} s:\n{output[-3000:]}", flush=True)
    return failed


def use_cdn(config: dict) -> dict:
    """``config`` with every ``offline/`` script of the Sphinx configuration replaced by its CDN copy."""
    sphinx = config.setdefault("sphinx", {}).setdefault("config", {})
    if str(sphinx.get("mathjax_path", "")).startswith("offline/"):
        sphinx["mathjax_path"] = CDN_FILES.get(sphinx["mathjax_path"], CDN + "mathjax@3.2.2/es5/tex-chtml.js")
    scripts = {}
    for path, attributes in (sphinx.get("nb_ipywidgets_js") or {}).items():
        if not path.startswith("offline/"):
            scripts[path] = attributes
        elif path in CDN_FILES:  # the widget manager then loads widget code from its default CDN
            attrs = {k: v for k, v in (attributes or {}).items() if not k.startswith("data-jupyter-widgets-cdn")}
            attrs.pop("integrity", None)
            scripts[CDN_FILES[path]] = attrs
    if scripts:
        sphinx["nb_ipywidgets_js"] = scripts
    return config


def build(execute: str = "cache", output: Path | None = None, toc: Path | None = None, jobs: int | None = None,
          grid: str = "book") -> int:
    """Run the strict build; return jupyter-book's exit status (1 when a chapter failed to execute)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = execute
    config["execute"]["raise_on_error"] = False  # every chapter runs; a failure is a warning, and -W fails
    env = build_env(grid)
    build_dir = (output or ROOT) / "_build"
    failed: dict[Path, str] = {}
    if execute in ("cache", "force"):
        cache = execution_cache(build_dir, env)
        if execute == "force":  # every chapter afresh
            shutil.rmtree(cache, ignore_errors=True)
        failed = execute_chapters(cache, toc_chapters(toc or ROOT / "_toc.yml"), jobs or default_jobs(), env)
        config["execute"]["execute_notebooks"] = "cache"  # jupyter-book reads them all from the cache
        config["execute"]["cache"] = str(cache)
        # a failed chapter is not executed again by the build: its page lacks its outputs, and -W fails
        config["execute"]["exclude_patterns"] = [*(config["execute"].get("exclude_patterns") or []),
                                                 *(p.relative_to(ROOT).as_posix() for p in failed)]
    if not (OFFLINE / ".complete").is_file():
        config = use_cdn(config)
        print(
            "build_book: no offline JavaScript (install npm and run `make vendor` for it); "
            "the pages load MathJax and the widget manager from cdn.jsdelivr.net",
            flush=True,
        )
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, prefix=".config-", delete=False) as f:
        yaml.safe_dump(config, f, sort_keys=False)
        config_path = Path(f.name)
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build", str(ROOT), "--all", "-W", "-n", "--keep-going",
        "--config", str(config_path),
    ]
    if output is not None:
        cmd += ["--path-output", str(output)]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    start = time.perf_counter()
    try:
        status = subprocess.call(cmd, cwd=ROOT, env=env)
    finally:
        config_path.unlink(missing_ok=True)
    for path, output_text in failed.items():  # where myst-nb leaves a failed chapter's traceback (tests/test_chapters.py)
        report = build_dir / "html" / "reports" / path.relative_to(ROOT).with_suffix(".err.log")
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(output_text)
    status = status or (1 if failed else 0)
    out = build_dir / "html" / "index.html"
    print(f"build_book: exit {status} after {time.perf_counter() - start:.0f} s; index: {out}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--execute", choices=["cache", "force", "off"], default="cache")
    parser.add_argument("--output", type=Path, default=None, help="folder that receives _build/")
    parser.add_argument("--toc", type=Path, default=None, help="another table of contents (tests)")
    parser.add_argument("--jobs", type=int, default=None, help="chapters executed at a time (default: 2, or 1 on one CPU)")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="book",
                        help="the experiments chapter's grid (default book; make test builds with quick)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return build(args.execute, args.output, args.toc, args.jobs, args.grid)


if __name__ == "__main__":
    sys.exit(main())
