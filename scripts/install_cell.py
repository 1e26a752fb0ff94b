"""The first cell of every handed-out notebook: it installs the released ``htsgd`` where it is missing.

The reader's notebooks (``scripts/sync_notebooks.py``, ``book/*.ipynb``) and the student kit
(``scripts/make_student.py``: ``_build/instructor/``, ``_build/student/`` and so nbgrader's
``release/``) start with the same cell. It installs ``htsgd[notebook]==<version>`` from the package
index, the version this notebook was generated with, when the kernel runs on Colab or cannot import
``htsgd`` (a fresh Jupyter kernel); in a clone or an environment that has ``htsgd`` it does nothing.
So it works the moment the maintainer publishes the release to PyPI (the tag workflow,
``.github/workflows/release.yml``), with no repository location in it.

It is an ordinary ``pip install``: pip's own settings apply, so an instructor's local index or folder of
wheels (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``) serves it too; tests/test_publish.py
runs a released assignment that way, from the wheel ``python -m build`` makes.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TAG = "colab-install"  # the cell's tag (the book build drops it: "remove-cell")

__all__ = ["INSTALL_TAG", "install_cell", "install_requirement", "package_version"]


def package_version() -> str:
    """``htsgd.__version__`` as written in ``htsgd/__init__.py`` (no import: the source is the truth)."""
    text = (ROOT / "htsgd" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, flags=re.MULTILINE).group(1)


def install_requirement(version: str | None = None) -> str:
    """The pip requirement a notebook installs: ``htsgd[notebook]==<version>``."""
    return f"htsgd[notebook]=={version or package_version()}"


def install_cell(version: str | None = None, *, made_for: str = "notebook") -> nbformat.NotebookNode:
    """The install cell, pinned to ``version`` (default: the package's), tagged ``INSTALL_TAG``.

    ``made_for`` names what the cell opens ("notebook", "assignment") in its first comment line.
    """
    version = version or package_version()
    source = (
        f"# This {made_for} was made with htsgd {version}. On Colab, or where htsgd is missing, this cell\n"
        f"# installs that release from PyPI (pip's settings apply: PIP_INDEX_URL, PIP_FIND_LINKS), keeping\n"
        "# the ipywidgets Colab ships (no restart needed). Where htsgd is installed (a clone: `make book`) it does nothing.\n"
        "import importlib.util\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules or importlib.util.find_spec("htsgd") is None:\n'
        f'    %pip install --quiet "{install_requirement(version)}"\n'
        "    importlib.invalidate_caches()"
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [INSTALL_TAG, "remove-cell"]
    cell.pop("id", None)
    return cell
