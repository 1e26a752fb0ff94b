"""The package's public surface: every submodule imports, every public name is documented
with the chapter that introduces it (the book and the package point at each other)."""

from __future__ import annotations

import inspect
import re

import pytest

from conftest import BOOK, ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, which pyproject.toml supports: tomli is a dependency there
    import tomli as tomllib

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


def _on_type_field(warning: str, lines: list[str]) -> bool:
    match = re.match(r"<string>:(\d+):", warning)
    return bool(match) and re.match(r":(type|rtype|vartype)\b", lines[int(match.group(1)) - 1]) is not None


@pytest.mark.parametrize("name", SUBMODULES)
def test_public_docstrings_parse_without_docutils_warnings(name):
    """The API page renders every public docstring under the strict build (-W), where one stray ``|u|`` in a
    plain paragraph (a substitution reference to docutils) fails the whole book: catch it here, in seconds.
    Napoleon turns the numpydoc sections into reST first, as the build does."""
    import io

    import docutils.core
    from sphinx.ext.napoleon import NumpyDocstring

    module = getattr(htsgd, name)
    for public in module.__all__:
        obj = getattr(module, public)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        members = [obj] + [m for _, m in inspect.getmembers(obj, inspect.isfunction)
                           if inspect.isclass(obj) and m.__qualname__.startswith(obj.__name__ + ".")]
        for member in members:
            doc = inspect.getdoc(member)
            if not doc:
                continue
            rest = str(NumpyDocstring(doc))
            lines = rest.splitlines()
            warnings = io.StringIO()
            docutils.core.publish_doctree(
                rest,
                settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": warnings},
            )
            # Sphinx roles and directives (``:func:``, ``.. math::``) are unknown to bare docutils: not ours to flag.
            # Sphinx reads ``:type:`` fields as cross-reference text, not reST ("shape (n, *shape)" is fine there).
            problems = [w for w in warnings.getvalue().splitlines()
                        if ("WARNING" in w or "ERROR" in w or "SEVERE" in w)
                        and not re.search(r"Unknown (interpreted text role|directive type)|No (role|directive) entry", w)
                        and not _on_type_field(w, lines)]
            assert not problems, f"htsgd.{name}.{member.__qualname__}: {problems}"


def _api_extension():
    import importlib.util

    spec = importlib.util.spec_from_file_location("htsgd_api", BOOK / "_ext" / "htsgd_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_documents_every_submodule():
    page = (BOOK / "api.md").read_text()
    documented = re.findall(r"^\.\. automodule:: htsgd\.(\w+)$", page, flags=re.MULTILINE)
    assert sorted(documented) == sorted(SUBMODULES), "book/api.md must list every htsgd submodule once"


@pytest.mark.parametrize("name", SUBMODULES)
def test_cited_chapters_have_labels_the_api_reference_links_to(name):
    labels = _api_extension().chapter_labels(BOOK)
    module = getattr(htsgd, name)
    for public in module.__all__:
        doc = inspect.getdoc(getattr(module, public)) or ""
        for title in re.findall(r"\bchapter\s+\*([^*]+)\*", doc):
            title = " ".join(title.split())
            assert title in labels, f"htsgd.{name}.{public}: chapter {title!r} has no (label)= heading"


def test_api_extension_links_chapters_and_tidies_napoleon_output():
    ext = _api_extension()

    class Env:
        htsgd_chapter_labels = {"Heavy-tailed SGD": "heavy-tailed-sgd"}

    class App:
        env = Env()

    lines = [
        "Summary.",
        "",
        ":param x: a value",
        ":type x: torch.Tensor, shape (n, *shape)",
        # How napoleon reads a closing sentence after the Parameters section: a parameter.
        ":param Introduced in the chapter *Heavy-tailed SGD*.:",
    ]
    ext._link_chapters(App(), "function", "f", None, None, lines)
    assert lines == [
        "Summary.",
        "",
        ":param x: a value",
        r":type x: torch.Tensor, shape (n, \*shape)",
        "",
        "Introduced in the chapter :ref:`Heavy-tailed SGD <heavy-tailed-sgd>`.",
    ]
    module_doc = ["Text.", "Conventions", "-----------", "More."]
    ext._tidy("module", module_doc)
    assert module_doc == ["Text.", "", ".. rubric:: Conventions", "", "More."]


def test_api_extension_lifts_the_closing_chapter_sentence_out_of_a_section():
    """napoleon reads a paragraph after Returns/Attributes as one more item and typesets it as a type or a
    name, where the chapter link stayed raw ``:ref:`...``` text (22 of them on the API page, issue 21)."""
    ext = _api_extension()
    lines = ["Summary.", "", "Returns", "-------", "float", "", "Introduced in the chapter *Heavy-tailed", "SGD*."]
    ext.lift_introduced(lines)
    assert lines[:3] == ["Summary.", "", "Introduced in the chapter *Heavy-tailed"]
    assert lines[3:7] == ["SGD*.", "", "Returns", "-------"]
    untouched = ["Summary.", "", "Introduced in the chapter *Stable distributions*.", "", "Returns", "-------", "x"]
    ext.lift_introduced(copy := list(untouched))
    assert copy == untouched
