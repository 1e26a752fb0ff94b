"""The reader's notebooks beside the chapters: present, in sync (whatever the numbers), plain Jupyter
Markdown (no MyST left), the prose showing the numbers of the book's build and no glue names, exercises
numbered as in the HTML book with the student kit's answer and self-check cells, solutions collapsed
and run only when the reader asks, and htsgd installed on Colab from the release matching
``htsgd.__version__``."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess

import nbformat
import pytest
import yaml

import htsgd
import htsgd.notebook
from conftest import BOOK, ROOT

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)
render = importlib.import_module("notebook_render")  # sync_notebooks puts scripts/ on sys.path

# MyST that a plain Jupyter shows raw: directives, roles, label lines.
RAW_MYST = re.compile(r"^:{3,}\{|^`{3,}\{|\{(cite|glue|ref|numref|eq|prf:ref|doc)[:\w]*\}`|^\([\w.:-]+\)=$", re.M)


def test_every_chapter_has_a_notebook_in_sync():
    """Rendered again from the values it shows (``notebook_text`` reads them from the committed notebook)."""
    url = sync.repository_url()
    chapters = sync.chapters()
    assert chapters
    for chapter in chapters:
        target = chapter.with_suffix(".ipynb")
        assert target.is_file(), f"{target.name} is missing: run `make notebooks`"
        assert target.read_text() == sync.notebook_text(chapter, url), (
            f"{target.name} is stale: run `make notebooks` (after `make book`)"
        )


def _other_machine(values):
    """``values`` as another machine's build could have computed them: every number changed."""
    glue = copy.deepcopy(values.glue)
    for data in glue.values():
        data["text/plain"] = re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), data.get("text/plain", "1"))
    return render.BookValues(glue=glue, date="2031-01-02", machine="another machine")


def test_a_notebook_with_another_machines_numbers_is_up_to_date():
    """The up-to-date check does not depend on the numbers; it still catches a stale sentence."""
    chapter = BOOK / "chaos.md"
    committed = chapter.with_suffix(".ipynb").read_text()
    values = sync.shown_values(committed)
    assert values is not None and values.glue, "book/chaos.ipynb carries no values of a build: run `make notebooks`"
    elsewhere = sync.notebook_text(chapter, values=_other_machine(values))
    assert elsewhere != committed and "another machine" in elsewhere
    assert sync.up_to_date(chapter, elsewhere)
    nb = nbformat.reads(elsewhere, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "intervals" in c.source)
    cell.source = cell.source.replace("intervals", "interval", 1)  # prose edited since
    assert not sync.up_to_date(chapter, nbformat.writes(nb))
    fewer = render.BookValues(glue=dict(list(values.glue.items())[1:]), date=values.date, machine=values.machine)
    with pytest.raises(KeyError, match="glued no value"):  # a value the notebook lacks: build, then sync
        sync.notebook_text(chapter, values=fewer)


# The glue roles and directives of a chapter's MyST prose: the names its text shows.
GLUE_USE = re.compile(r"\{glue(?::\w*)?\}`([^`:]+)[^`]*`|^[:`]{3,}\{glue(?::\w*)?\}\s*(\S+)", re.M)


def glue_names(chapter):
    """The glue names of ``chapter``: shown by its prose, or glued by its code with a literal name."""
    text = chapter.read_text()
    shown = {a or b for a, b in GLUE_USE.findall(text)}
    return shown, shown | set(render.glued_names(text))


def visible_glue_names(nb, names):
    """The glue names that the Markdown of ``nb`` shows in code font."""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return sorted({n for n in names if f"`{n}`" in markdown})


def test_prose_shows_the_builds_numbers_not_glue_names():
    """Before: 33 names in chaos, 29 in sde, 92 in experiments shown in code font. Now none, where the
    build has a value; and the notebook says whose numbers they are."""
    counted = 0
    for chapter in sync.chapters():
        shown, names = glue_names(chapter)
        nb = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
        if not shown:
            continue
        values = nb.metadata["htsgd"]["book_values"]
        assert set(values["glue"]) == shown, chapter.name  # every name the prose shows has the build's value
        assert visible_glue_names(nb, names) == [], chapter.name
        note = next(c.source for c in nb.cells if c.source.startswith("> **Reading this notebook.**"))
        assert f"the book's build of {values['date']} on {values['machine']}" in note
        counted += len(shown)
    assert counted > 100
    # Without values (a chapter never built) the names are what the prose can show.
    bare = render.Renderer(BOOK / "sde.md")
    assert bare.inline("is {glue:text}`sde-x:.2f` here") == "is `sde-x` here"


def test_glue_roles_and_directives_paste_as_the_book_does():
    values = render.BookValues(
        glue={
            "x": {"text/plain": "-0.43951"},
            "word": {"text/plain": "'agree with'"},
            "md": {"text/markdown": "**bold** and {math}`a_1`", "text/plain": "<IPython.core.display.Markdown object>"},
            "tex": {"text/latex": "$$\\alpha^2$$", "text/plain": "<Math>"},
            "fig": {},
            "raw": {"text/plain": "snake_case [x] $5"},
        },
        date="2026-12-07",
        machine="a machine",
    )
    r = render.Renderer(BOOK / "chaos.md", values)
    r.glue_cells["fig"] = 3
    r.code_seen = 5
    assert r.inline("slope {glue:text}`x:.2f`, {glue:text}`word` it") == "slope -0.44, agree with it"
    assert r.inline("{glue:md}`md` / {glue:md}`md:myst`") == "**bold** and $a_1$ / **bold** and $a_1$"
    assert r.inline("{glue}`x` {glue:}`tex` {glue:any}`raw`") == "-0.43951 $$\\alpha^2$$ snake\\_case \\[x\\] \\$5"
    assert r.inline("{glue:text}`raw`") == "snake\\_case \\[x\\] \\$5"  # text, not Markdown
    assert r.glue_directive("glue:math", "tex", {}, "") == "$$\n\\alpha^2\n$$"
    assert r.glue_directive("glue:md", "md", {}, "") == "**bold** and $a_1$"
    assert r.glue_directive("glue", "raw", {}, "") == "```\nsnake_case [x] $5\n```"
    assert r.glue_directive("glue:", "fig", {}, "") == "(shown by the code cell above when it runs)"
    figure = r.glue_directive("glue:figure", "fig", {}, "The caption.")
    assert figure == "**Figure.** The caption. (drawn by the code cell above when it runs)"
    with pytest.raises(KeyError, match="glued no value 'nope'"):
        r.inline("{glue:text}`nope`")
    assert r.glued[:3] == ["x", "word", "md"]


def test_glue_in_a_notebook_records_quietly(capsys):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    htsgd.notebook.glue("probe-outside", 1.5, display=False)
    shell = InteractiveShell.instance()
    try:
        with capture_output() as shown:
            shell.run_cell('from htsgd.notebook import glue\nglue("probe-kernel", "words", display=False)')
    finally:
        InteractiveShell.clear_instance()
    assert capsys.readouterr().out == "" and shown.stdout == "" and not shown.outputs
    assert htsgd.notebook.glued()["probe-kernel"] == "words" and htsgd.notebook.glued()["probe-outside"] == 1.5
    for chapter in sync.chapters():  # and no cell of a notebook prints a glued value by its name itself
        nb = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert not [n for n in glue_names(chapter)[1] if re.search(rf"print\(f?[\"']{re.escape(n)} =", code)]


def test_run_solutions_follows_the_notebook_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv(htsgd.notebook.RUN_SOLUTIONS_ENV, raising=False)
    assert htsgd.notebook.run_solutions(False) is False and htsgd.notebook.run_solutions(True) is True
    monkeypatch.setenv(htsgd.notebook.RUN_SOLUTIONS_ENV, "1")
    assert htsgd.notebook.run_solutions(False) is True
    monkeypatch.setenv(htsgd.notebook.RUN_SOLUTIONS_ENV, "0")
    assert htsgd.notebook.run_solutions(True) is False
    monkeypatch.setenv(htsgd.notebook.RUN_SOLUTIONS_ENV, "yes")
    with pytest.raises(ValueError, match="HTSGD_RUN_SOLUTIONS must be 1"):
        htsgd.notebook.run_solutions(False)
    with pytest.raises(TypeError, match="default must be True or False"):
        htsgd.notebook.run_solutions(1)


def test_guard_solution_keeps_strings_and_shows_a_last_value():
    source = '# @title Solution\ns = """a\nb"""\nt = f"""{s}\n  c"""\nif s:\n    x = 1\n\ntable'
    guarded = sync.guard_solution(source)
    assert guarded.splitlines() == [
        "# @title Solution",
        f"if {sync.RUN_FLAG}:  # False unless you ask for the solutions at the top of the notebook",
        '    s = """a', 'b"""', '    t = f"""{s}', '  c"""', "    if s:", "        x = 1", "", "    display(table)",
    ]
    namespace = {"display": lambda v: shown.append(v), sync.RUN_FLAG: True}
    shown = []
    exec(compile(guarded.replace("table", "t"), "<solution>", "exec"), namespace)
    assert namespace["s"] == "a\nb" and shown == ["a\nb\n  c"]
    assert sync.guard_solution("# @title t\nprint(1)").endswith("\n    print(1)")  # a call stays as it is
    assert sync.guard_solution("# only a comment").endswith("\n    # only a comment\n    pass")
    with pytest.raises(ValueError, match="not plain Python"):
        sync.guard_solution("%timeit 1 + 1")


def test_exercises_get_the_kits_cells_and_guarded_solutions():
    from htsgd.exercises import REFERENCES

    for chapter in sync.chapters():
        nb = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
        kinds = [(c.metadata.get("htsgd") or {}) for c in nb.cells]
        exercises = [m["exercise"] for m in kinds if "exercise" in m]
        if not exercises:
            assert not any("run_solutions" in m for m in kinds), chapter.name
            continue
        flag = [i for i, m in enumerate(kinds) if "run_solutions" in m]
        first_code = next(i for i, c in enumerate(nb.cells[1:], start=1) if c.cell_type == "code")
        assert flag == [first_code], chapter.name  # at the top, before the chapter's own code
        assert f"{sync.RUN_FLAG} = run_solutions(False)" in nb.cells[flag[0]].source
        for label in exercises:
            answer = [c for c, m in zip(nb.cells, kinds, strict=True) if m.get("answer_of") == label]
            check = [c for c, m in zip(nb.cells, kinds, strict=True) if m.get("check_of") == label]
            if label in REFERENCES:
                assert len(answer) == len(check) == 1 and "answer = ..." in answer[0].source
                assert f'hs.exercises.check("{label}", answer)' in check[0].source
        for cell, meta in zip(nb.cells, kinds, strict=True):
            if cell.cell_type == "code" and "solution_of" in meta:
                assert cell.source.splitlines()[1].startswith(f"if {sync.RUN_FLAG}:"), chapter.name
                compile(cell.source, f"{chapter.name}: {meta['solution_of']}", "exec")  # still Python
                assert cell.metadata["jupyter"]["source_hidden"] is True


@pytest.mark.slow
def test_a_reader_run_prints_no_exercise_answers(tmp_path, monkeypatch):
    """The exercises of chapter 1's notebook run as a reader runs them (``RUN_SOLUTIONS`` False): its
    import cell, then every cell from the exercises on. No solution runs and no cell prints an answer;
    then the reader asks for one solution (the flag set, the cell run again) and it runs.

    Only the exercises' part is executed, a few seconds (tests/test_plain_install.py executes every
    notebook whole, with the solutions run: ``HTSGD_RUN_SOLUTIONS=1``); it is not a chapter execution
    (no title: tests/test_executions.py counts those)."""
    import sys

    import nbclient_polling
    from nbclient import NotebookClient

    nbclient_polling.install()
    monkeypatch.delenv(htsgd.notebook.RUN_SOLUTIONS_ENV, raising=False)
    # A kernel of this very environment (the python3 kernel spec may name another clone's interpreter).
    spec = tmp_path / "jupyter" / "kernels" / "htsgd-reader"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "reader", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.read(BOOK / "stable.ipynb", as_version=4)
    kinds = [(c.metadata.get("htsgd") or {}) for c in nb.cells]
    flag = next(i for i, m in enumerate(kinds) if "run_solutions" in m)
    imports = next(i for i, c in enumerate(nb.cells) if i > flag and c.cell_type == "code")
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))
    part = nbformat.v4.new_notebook(metadata=nb.metadata)
    part.nbformat_minor = 4  # the notebooks' cells have no ids
    part.cells = [nb.cells[flag], nb.cells[imports], *nb.cells[start:]]
    solutions = [c for c in part.cells if "solution_of" in (c.metadata.get("htsgd") or {}) and c.cell_type == "code"]
    # Then the reader asks for the last exercise's solution: the flag set at the top, that cell run again.
    asked = nbformat.v4.new_code_cell(nb.cells[flag].source.replace("run_solutions(False)", "run_solutions(True)"))
    part.cells += [asked, copy.deepcopy(solutions[-1])]
    asked.pop("id")
    NotebookClient(part, timeout=300, kernel_name="htsgd-reader", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert len(solutions) == 6 and all(c.outputs == [] for c in solutions)
    for cell in part.cells[:-2]:
        meta = cell.metadata.get("htsgd") or {}
        if cell.cell_type != "code":
            continue
        if "check_of" in meta:  # waits for an answer, shows none
            assert {o.get("name") for o in cell.outputs} == {"stdout"}  # a message may come in two pieces
            said = "".join(o.text for o in cell.outputs)
            assert said == re.search(r'print\("(.*)"\)', cell.source).group(1) + "\n"
        else:
            assert cell.outputs == [], f"{cell.source}\n{json.dumps(cell.outputs)[:500]}"
    assert "x P(X > x)" in "".join(o.get("text", "") for o in part.cells[-1].outputs)


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
