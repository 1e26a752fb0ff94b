"""The reader's notebooks beside the chapters: present, in sync, plain Jupyter Markdown (no MyST
left), exercises numbered as in the HTML book, solutions collapsed, and htsgd installed on Colab
from the release matching ``htsgd.__version__``."""

from __future__ import annotations

import importlib.util
import re
import subprocess

import nbformat
import yaml

import htsgd
from conftest import BOOK, ROOT

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)
render = importlib.import_module("notebook_render")  # sync_notebooks puts scripts/ on sys.path

# MyST that a plain Jupyter shows raw: directives, roles, label lines.
RAW_MYST = re.compile(r"^:{3,}\{|^`{3,}\{|\{(cite|glue|ref|numref|eq|prf:ref|doc)[:\w]*\}`|^\([\w.:-]+\)=$", re.M)


def test_every_chapter_has_a_notebook_in_sync():
    url = sync.repository_url()
    chapters = sync.chapters()
    assert chapters
    for chapter in chapters:
        target = chapter.with_suffix(".ipynb")
        assert target.is_file(), f"{target.name} is missing: run `make notebooks`"
        assert target.read_text() == sync.notebook_text(chapter, url), (
            f"{target.name} is stale: run `make notebooks`"
        )


def test_notebooks_install_the_release_where_htsgd_is_missing():
    url = sync.repository_url()
    for chapter in sync.chapters():
        nb = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
        first = nb.cells[0]
        assert first.cell_type == "code"
        assert sync.COLAB_TAG in first.metadata["tags"]
        assert 'if "google.colab" in sys.modules or importlib.util.find_spec("htsgd") is None:' in first.source
        assert f'"htsgd[notebook]=={htsgd.__version__}"' in first.source  # PyPI, the release workflow's
        assert url not in first.source
        install = next(line for line in first.source.splitlines() if "%pip" in line)
        assert "%pip install" in install and "--upgrade" not in install and "ipywidgets" not in install
        # The rest of the notebook is the chapter, unchanged.
        assert all(sync.COLAB_TAG not in c.metadata.get("tags", []) for c in nb.cells[1:])
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_notebooks_are_excluded_from_the_book_build():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "**/*.ipynb" in config["exclude_patterns"]
    assert config["only_build_toc_files"] is True


def test_repository_url_lives_in_one_place():
    url = sync.repository_url()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    holders = [
        f
        for f in tracked
        if not f.endswith(".ipynb")  # generated from _config.yml
        and (ROOT / f).is_file()
        and url in (ROOT / f).read_text(errors="ignore")
    ]
    assert holders == ["_config.yml"], holders


def test_binder_pins_python_and_installs_a_cpu_torch_and_the_package():
    assert re.fullmatch(r"python-3\.\d+\n?", (ROOT / "binder" / "runtime.txt").read_text())
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert "torch==" in requirements and "+cpu" in requirements
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post_build and ".[notebook]" in post_build
    assert (BOOK / "intro.md").is_file()


def test_chapter_numbers_follow_the_toc():
    numbers = render.chapter_numbers()
    assert numbers["stable"] == 1
    assert "intro" not in numbers and "notation" not in numbers
    assert sorted(numbers.values()) == list(range(1, len(numbers) + 1))


def test_notebooks_have_no_raw_myst():
    for chapter in sync.chapters():
        nb = render.render_notebook(chapter)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                raw = RAW_MYST.findall(cell.source)
                assert not raw, f"{chapter.name}: raw MyST {raw} in\n{cell.source[:300]}"
            else:
                assert not re.search(r"^\s*(from|import) myst_nb", cell.source, flags=re.M), chapter.name


def test_exercises_are_numbered_and_solutions_collapsed():
    """The metadata contract of ``render_notebook`` (used by the student/instructor kit)."""
    numbers = render.chapter_numbers()
    for chapter in sync.chapters():
        nb = render.render_notebook(chapter)
        text = chapter.read_text()
        labels = re.findall(r"^:{3,}\{exercise\}.*\n:label: (\S+)", text, flags=re.M)
        exercises = [c for c in nb.cells if "exercise" in c.metadata.get("htsgd", {})]
        assert [c.metadata["htsgd"]["exercise"] for c in exercises] == labels
        for n, cell in enumerate(exercises, start=1):
            meta = cell.metadata["htsgd"]
            assert meta["number"] == f"{numbers[chapter.stem]}.{n}"
            assert cell.source.startswith(f"### Exercise {meta['number']}")
            assert set(meta) == {"exercise", "number", "title", "stars", "minutes", "kind"}
            if meta["stars"]:
                assert f"{render.STAR_WORDS[meta['stars']]}, about {meta['minutes']} min" in cell.source
        solutions = [c for c in nb.cells if "solution_of" in c.metadata.get("htsgd", {})]
        assert {c.metadata["htsgd"]["solution_of"] for c in solutions} == set(labels)
        for cell in solutions:
            if cell.cell_type == "code":
                assert cell.metadata["jupyter"]["source_hidden"] is True
                assert cell.metadata["cellView"] == "form" and cell.source.startswith("# @title")
            elif not cell.source.startswith("**Solution to Exercise"):
                assert cell.source.startswith("<details>")


def test_citations_cross_references_and_included_code_are_rendered():
    nb = render.render_notebook(BOOK / "stable.md")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "(Samorodnitsky and Taqqu, 1994)" in markdown
    assert "## Works cited in this notebook" in nb.cells[-1].source
    assert "Samorodnitsky" in nb.cells[-1].source
    base = render.html_base_url()
    assert "](#equation-stable-eq-s1)" in markdown and '<a id="equation-stable-eq-s1"></a>' in markdown
    assert f"]({base}book/sde.html#" in "\n".join(c.source for c in render.render_notebook(BOOK / "chaos.md").cells)
    assert "\\tag{1.1}" in markdown
    sgd = "\n".join(c.source for c in render.render_notebook(BOOK / "sgd.md").cells)
    source = (ROOT / "htsgd" / "optim.py").read_text()
    step = source[source.index("    def step("):].split("\n\n")[0]
    assert step in sgd  # literalinclude :pyobject: HeavyTailedSGD.step, verbatim


def test_links_to_the_same_chapter_stay_in_the_notebook():
    """Issue 21 §1: a link to an equation, section, figure or exercise of the same chapter is an anchor of the
    notebook (``](#anchor)``, landing on an ``<a id=...>`` placed where the label is defined); links to other
    chapters go to the HTML book. The one link a notebook keeps to its own web page is the header's
    "HTML version" (the same chapter, typeset), which is no cross-reference."""
    base = render.html_base_url()
    local_links = 0
    for chapter in sync.chapters():
        nb = nbformat.reads(sync.notebook_text(chapter), as_version=4)
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        own = re.escape(f"{base}book/{chapter.stem}.html")
        links = re.findall(r"\[([^\]]*)\]\(" + own + r"([^)]*)\)", markdown)
        assert all(text == "HTML version" and not rest for text, rest in links), (chapter.name, links)
        bare = len(re.findall(own, markdown))
        assert bare == len(links), f"{chapter.name}: its own web page named outside a link"
        anchors = re.findall(r'<a id="([^"]+)"></a>', markdown)
        assert len(anchors) == len(set(anchors)), f"{chapter.name}: duplicate anchors"
        targets = re.findall(r"\]\(#([^)]+)\)", markdown)
        assert set(targets) <= set(anchors), f"{chapter.name}: links to missing anchors {set(targets) - set(anchors)}"
        local_links += len(targets)
    assert local_links > 100  # the chapters cross-reference themselves a lot (192 when written)
