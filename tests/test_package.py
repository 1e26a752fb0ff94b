"""The package's public surface: every submodule imports, every public name is documented
with the chapter that introduces it (the book and the package point at each other)."""

from __future__ import annotations

import inspect
import re

import pytest
import tomllib
from conftest import BOOK, ROOT

import htsgd

SUBMODULES = [name for name in htsgd.__all__ if name != "__version__"]


def test_version_matches_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert htsgd.__version__ == meta["project"]["version"]


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodule_imports_and_declares_its_api(name):
    module = getattr(htsgd, name)
    assert module.__doc__, f"htsgd.{name} has no module docstring"
    assert module.__all__, f"htsgd.{name} declares no __all__"
    for public in module.__all__:
        assert hasattr(module, public), f"htsgd.{name}.__all__ names {public!r}, which does not exist"


def _chapter_titles() -> set[str]:
    titles = set()
    for page in BOOK.glob("*.md"):
        match = re.search(r"^# (.+)$", page.read_text(), flags=re.MULTILINE)
        if match:
            titles.add(match.group(1).strip())
    return titles


@pytest.mark.parametrize("name", SUBMODULES)
def test_public_functions_name_an_existing_chapter(name):
    module = getattr(htsgd, name)
    titles = _chapter_titles()
    for public in module.__all__:
        obj = getattr(module, public)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, f"htsgd.{name}.{public} has no docstring"
        cited = [" ".join(t.split()) for t in re.findall(r"chapter\s+\*([^*]+)\*", doc)]
        assert cited or "preface" in doc, f"htsgd.{name}.{public}: the docstring names no chapter"
        for title in cited:
            assert title in titles, f"htsgd.{name}.{public} names a chapter that does not exist: {title!r}"
