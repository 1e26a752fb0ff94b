"""Build the HTML book with Jupyter Book 1.x, strictly: every warning and every cell error fails.

    .venv/bin/python scripts/build_book.py [--execute cache|force|off] [--output DIR] [--toc FILE]

``--execute force`` (CI) reruns every chapter; ``cache`` (the default for `make book` and `make test`)
reuses a chapter executed before with the same code *and the same inputs*. jupyter-cache keys a chapter
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
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
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
INPUT_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "HTSGD_BOOK_BUILD", "PYTHONHASHSEED")


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
    versions = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(versions).encode())
    digest.update(repr([(k, env.get(k)) for k in INPUT_ENV]).encode())
    return digest.hexdigest()[:16]


def build_env() -> dict[str, str]:
    """The build's environment. HTSGD_BOOK_BUILD=1: chapters run their book-scale grids (the experiments
    chapter's quick grid otherwise)."""
    return {**os.environ, "HTSGD_BOOK_BUILD": "1"}


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


def build(execute: str = "cache", output: Path | None = None, toc: Path | None = None) -> int:
    """Run the strict build; return jupyter-book's exit status."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = execute
    config["execute"]["raise_on_error"] = False  # every chapter runs; a failure is a warning, and -W fails
    env = build_env()
    if execute == "cache":
        config["execute"]["cache"] = str(execution_cache((output or ROOT) / "_build", env))
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
    out = (output or ROOT) / "_build" / "html" / "index.html"
    print(f"build_book: exit {status} after {time.perf_counter() - start:.0f} s; index: {out}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--execute", choices=["cache", "force", "off"], default="cache")
    parser.add_argument("--output", type=Path, default=None, help="folder that receives _build/")
    parser.add_argument("--toc", type=Path, default=None, help="another table of contents (tests)")
    args = parser.parse_args(argv)
    return build(args.execute, args.output, args.toc)


if __name__ == "__main__":
    sys.exit(main())
