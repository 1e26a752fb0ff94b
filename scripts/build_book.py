"""Build the HTML book with Jupyter Book 1.x, strictly: every warning and every cell error fails.

    .venv/bin/python scripts/build_book.py [--execute cache|force|off] [--output DIR] [--toc FILE]

``--execute force`` (CI and the test suite) reruns every chapter; ``cache`` (the
default for `make book`) reuses chapters whose code did not change. The build is
``jupyter-book build . --all -W -n --keep-going``; the execution mode is set by
writing a copy of ``_config.yml`` with only that key changed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def build(execute: str = "cache", output: Path | None = None, toc: Path | None = None) -> int:
    """Run the strict build; return jupyter-book's exit status."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = execute
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
        status = subprocess.call(cmd, cwd=ROOT)
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
