"""Build the HTML book with Jupyter Book 1.x, strictly: every warning and every cell error fails.

    .venv/bin/python scripts/build_book.py [--execute cache|force|off] [--output DIR] [--toc FILE]

``--execute force`` (CI and the test suite) reruns every chapter; ``cache`` (the
default for `make book`) reuses chapters whose code did not change. The build is
``jupyter-book build . --all -W -n --keep-going``; the execution mode is set by
writing a copy of ``_config.yml`` with only that key changed.

Without the offline JavaScript (``book/_static/offline``, fetched by ``scripts/vendor_js.sh``
with npm), the copy also points MathJax, require.js and the widgets HTML manager at their CDN
copies (the same releases), says so in one line, and the book still builds; it then needs the
network when it is read.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
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
        # HTSGD_BOOK_BUILD=1: chapters run their book-scale grids (the experiments chapter's quick grid otherwise)
        status = subprocess.call(cmd, cwd=ROOT, env={**os.environ, "HTSGD_BOOK_BUILD": "1"})
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
