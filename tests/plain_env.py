"""What the published package is, and a fresh environment that installs it: shared by the tests of a plain install.

``build_dist`` builds the sdist and the wheel exactly as the release workflow does
(``python -m build``; here ``--no-isolation``, with this environment's setuptools, so nothing is
downloaded), ``make_env`` creates a fresh virtual environment and installs ``htsgd[notebook]`` from
that wheel (what ``pip install "htsgd[notebook]==<version>"`` gives from PyPI), and ``write_kernel``
writes a Jupyter kernel spec running that environment's Python. tests/conftest.py holds them as
session fixtures (``dist``, ``plain_env``): one build and one environment per test session, used by
tests/test_plain_install.py (every notebook) and tests/test_publish.py (the wheel's contents, a released
assignment whose install cell installs the wheel).

The torch of the new environment is pinned (``-c``) to the release already installed here (CPU
build), as Colab and Binder bring their own torch, and ipykernel is held below 7, as in
``requirements.txt`` (ipykernel 7 sometimes hangs under nbclient); ipywidgets is held at the release
Colab ships (``COLAB_IPYWIDGETS``), so the explorers run with it here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# The explorers must work with the ipywidgets Colab ships (the notebook extra allows it, so Colab
# needs no restart); the book's own environment (requirements.txt) runs them with ipywidgets 8.
COLAB_IPYWIDGETS = "ipywidgets==7.7.1"

__all__ = ["COLAB_IPYWIDGETS", "build_dist", "make_env", "pip_env", "write_kernel"]


def pip_env(**extra: str) -> dict[str, str]:
    """This process's environment for pip and kernels, without what would leak the clone into them."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def build_dist(out: Path) -> dict[str, Path | float]:
    """``python -m build`` of this checkout into ``out``: ``{"wheel", "sdist", "seconds"}``."""
    start = time.perf_counter()
    subprocess.run(
        # No --sdist/--wheel: the sdist first, then the wheel from the unpacked sdist (as release.yml does), so the
        # wheel holds only what the sdist ships and nothing is built inside the checkout (no build/ left there).
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=pip_env(),
        cwd=out,
    )
    (wheel,) = out.glob("htsgd-*.whl")
    (sdist,) = out.glob("htsgd-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "seconds": time.perf_counter() - start}


def make_env(work: Path, wheel: Path) -> dict[str, Path | float]:
    """A fresh venv in ``work/venv`` with ``htsgd[notebook]`` installed from ``wheel``:
    ``{"python", "constraints", "install_s"}``."""
    constraints = work / "constraints.txt"
    constraints.write_text(f"torch=={torch.__version__}\nipykernel<7\n{COLAB_IPYWIDGETS}\n")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    start = time.perf_counter()
    subprocess.run(
        # --no-compile: pip would byte-compile every module of torch and the rest (67 CPU s with it, 34 without, here);
        # Python compiles the modules a kernel imports when it imports them, which is all a reader's run needs.
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "-c", str(constraints),
         f"htsgd[notebook] @ {wheel.as_uri()}"],
        check=True,
        env=pip_env(),
        cwd=work,
    )
    return {"python": python, "constraints": constraints, "install_s": time.perf_counter() - start}


def write_kernel(jupyter_path: Path, name: str, argv: list[str], env: dict[str, str]) -> Path:
    """A kernel spec ``name`` under ``jupyter_path/kernels`` (put ``jupyter_path`` on ``JUPYTER_PATH``)."""
    spec = jupyter_path / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps({"argv": [*argv, "-f", "{connection_file}"], "display_name": name, "language": "python", "env": env})
    )
    return spec
