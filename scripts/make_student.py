"""Student and instructor notebooks from the chapters, and the solutions-free HTML book.

    .venv/bin/python scripts/make_student.py [CHAPTER ...]      # make student
    .venv/bin/python scripts/make_student.py --html              # make book-student

Notebooks (``make student``): for every chapter with exercises (or the ones named),

* ``_build/instructor/<chapter>.ipynb`` is in nbgrader's *source* format (metadata schema 3):
  the chapter's cells are locked read-only cells; each exercise's solution prose is a manually
  graded answer cell, its solution code an autograded answer cell whose solution sits between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``, after a line ``answer = ...``; then a locked
  self-check cell, ``hs.exercises.check(label, answer)``, which checks the *practice* variant (the
  parameters the text states) and scores nothing; and a locked, autograded test cell with points whose
  body is a hidden test (``### BEGIN HIDDEN TESTS``): ``assert hs.exercises.grade(label, solve, **params)``
  with parameters drawn for the course (``--grading-seed``, private to the instructor; a fresh one by
  default), so the student's release contains neither the graded parameters nor their reference.
  A course copies it to ``source/<assignment>/`` and runs ``nbgrader generate_assignment`` and
  ``nbgrader autograde`` as it is.
* ``_build/instructor/nbgrader_config.py`` is the configuration to append to the course's
  ``nbgrader_config.py`` (the one ``nbgrader quickstart`` writes): the htsgd version the kit was made
  with (a comment), a cell timeout fit for the
  chapters (nbgrader's default is 30 s) and this clone's workaround for nbclient's lost
  ``execute_reply`` (``book/_ext/nbclient_polling.py``). Without it ``nbgrader autograde`` sat idle
  after chapter 1's explorer cell for the whole cell timeout (the kernel's reply had been sent).
* Both start with the install cell of the reader's notebooks (``scripts/install_cell.py``): on Colab, or
  where htsgd is missing, it installs ``htsgd[notebook]==<the version the kit was made with>``; the
  notebook's metadata ``htsgd`` records that version.
* ``_build/student/<chapter>.ipynb`` is what a student receives: the same notebook with every
  solution replaced by a scaffold (``answer = ...`` and ``raise NotImplementedError(...)`` where code
  is expected, ``YOUR ANSWER HERE`` where prose is), outputs cleared; it equals nbgrader's release
  version up to the wording of the stub.

The notebooks are built from ``render_notebook`` (``scripts/notebook_render.py``), whose exercise
heading cells carry ``metadata["htsgd"] = {"exercise": label, "number", "title", "stars",
"minutes", "kind"}`` and whose solution cells carry ``{"solution_of": label}``.

HTML (``make book-student``): the book built into ``_build/student-html/`` with every solution
removed (``htsgd_hide_solutions``, see ``book/_ext/htsgd_exercises.py``), no page sources and no
download or launch buttons (they would hand out the solutions); chapters are executed from the main
build's cache.
"""

from __future__ import annotations

import argparse
import copy
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from install_cell import install_cell, install_requirement, package_version  # noqa: E402
from notebook_render import render_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
SCHEMA = 3
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
TEXT_STUB = "YOUR ANSWER HERE"

__all__ = ["chapters_with_exercises", "instructor_notebook", "student_notebook", "nbgrader_config", "write_kit",
           "build_html"]


def chapters_with_exercises() -> list[Path]:
    """The chapters of ``_toc.yml``, in order, that have at least one exercise."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    paths = [ROOT / f"{f}.md" for f in files]
    return [p for p in paths if p.is_file() and ":::{exercise}" in p.read_text()]


def _nbgrader(cell, grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> None:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA, "solution": solution}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta


def _plain_solution_code(source: str) -> str:
    lines = source.splitlines()
    if lines and lines[0].startswith("# @title"):
        lines = lines[1:]
    return "\n".join(lines).strip("\n")


def _plain_solution_text(source: str) -> str:
    text = re.sub(r"^<details>\s*<summary>.*?</summary>\s*", "", source.strip(), flags=re.S)
    return re.sub(r"\s*</details>\s*$", "", text).strip()


def _fresh(cell):
    cell = copy.deepcopy(cell)
    for key in ("jupyter", "cellView", "collapsed"):
        cell.metadata.pop(key, None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def exercise_asks(label: str) -> str:
    """What the answer cell of an exercise with a reference asks for (the kit's and the reader notebook's)."""
    from htsgd import exercises

    ref = exercises.REFERENCES[label]
    if ref.fixed:
        return f"set `answer` to {ref.asks} (graded by hand)"
    practice = ", ".join(f"{k}={v!r}" for k, v in ref.practice.items())
    ranges = ", ".join(f"{k} in [{lo}, {hi}]" for k, (lo, hi) in ref.graded.items())
    return (f"write `solve({', '.join(ref.practice)})`, which returns\n# {ref.asks},\n# for any {ranges}; "
            f"and set `answer = solve({practice})`, the values the exercise states")


def _exercise_cells(label: str, number: str, code: str, seed: int, points: int) -> list:
    """The answer cell, the self-check cell and the hidden graded test of one exercise with a reference.

    An exercise whose answer no parameter changes has no hidden test (any verdict function on its answer could
    be searched): its answer cell is graded by hand, with the exercise's points."""
    from htsgd import exercises

    ref = exercises.REFERENCES[label]
    practice = ", ".join(f"{k}={v!r}" for k, v in ref.practice.items())
    asks = exercise_asks(label)
    cell = nbformat.v4.new_code_cell(f"# Exercise {number}: {asks}.\nanswer = ...\n{BEGIN}\n{code}\n{END}")
    _nbgrader(cell, f"{label}-code", solution=True, grade=ref.fixed, points=points if ref.fixed else None)
    note = (f"the practice variant, {practice}: it says correct or not yet, with a hint" if practice
            else "a hint only: no parameter changes this answer, so a verdict would give the graded one away")
    check = nbformat.v4.new_code_cell(
        f"# Self-check for Exercise {number} ({note}).\n# It scores nothing.\nhs.exercises.check(\"{label}\", answer)")
    _nbgrader(check, f"{label}-check", locked=True)
    if ref.fixed:
        return [cell, check]
    variant = ", ".join(["solve", *(f"{k}={v!r}" for k, v in exercises.graded_variant(label, seed).items())])
    test = nbformat.v4.new_code_cell(
        f"# Graded test for Exercise {number} (autograded; hidden in the students' copy): it calls your `solve` at\n"
        f"# parameters chosen for this course and compares its value with a reference computed by htsgd when grading.\n"
        f"{HIDDEN_BEGIN}\nassert hs.exercises.grade(\"{label}\", {variant})\n{HIDDEN_END}")
    _nbgrader(test, f"{label}-graded", grade=True, locked=True, points=points)
    return [cell, check, test]


def instructor_notebook(chapter: Path, grading_seed: int | None = None) -> nbformat.NotebookNode:
    """The chapter in nbgrader's source format, with the solutions, practice self-checks and hidden graded tests.

    ``grading_seed`` draws the graded variants' parameters (``htsgd.exercises.graded_variant``); None draws a
    fresh private seed.
    """
    from htsgd.exercises import REFERENCES

    seed = secrets.randbits(63) if grading_seed is None else int(grading_seed)

    reader = render_notebook(chapter)
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(reader.metadata))
    slug = chapter.stem
    exercises: dict[str, dict] = {}
    order: list[object] = []  # cells, or exercise labels where an exercise's block goes
    for cell in reader.cells:
        meta = cell.metadata.get("htsgd", {})
        if "exercise" in meta:
            exercises[meta["exercise"]] = {"head": cell, "meta": meta, "text": [], "code": []}
            order.append(meta["exercise"])
        elif "solution_of" in meta:
            block = exercises[meta["solution_of"]]
            if cell.cell_type == "code":
                block["code"].append(_plain_solution_code(cell.source))
            elif not re.fullmatch(r"\*\*Solution to Exercise [^*]*\*\*", cell.source.strip()):
                block["text"].append(_plain_solution_text(cell.source))
        else:
            order.append(cell)
    for i, item in enumerate(order):
        if not isinstance(item, str):
            cell = _fresh(item)
            _nbgrader(cell, f"{slug}-locked-{i}", locked=True)
            nb.cells.append(cell)
            continue
        block = exercises[item]
        meta, label = block["meta"], item
        number = meta.get("number") or label
        head = _fresh(block["head"])
        _nbgrader(head, f"{label}-question", locked=True)
        nb.cells.append(head)
        if block["text"]:
            prose = nbformat.v4.new_markdown_cell("\n\n".join(block["text"]))
            _nbgrader(prose, f"{label}-prose", solution=True, grade=True, points=1)
            nb.cells.append(prose)
        code = "\n\n".join(block["code"]) or "pass"
        if label not in REFERENCES:
            cell = nbformat.v4.new_code_cell(f"# Exercise {number}: write your code here.\n{BEGIN}\n{code}\n{END}")
            _nbgrader(cell, f"{label}-code", solution=True)
            nb.cells.append(cell)
            continue
        nb.cells += _exercise_cells(label, str(number), code, seed, int(meta.get("stars") or 1))
    # The handed-out notebook installs the htsgd it was made with (scripts/install_cell.py), and says so.
    install = install_cell(made_for="assignment")
    _nbgrader(install, f"{slug}-install", locked=True)
    nb.cells.insert(0, install)
    nb.metadata["htsgd"] = {"version": package_version(), "install": install_requirement()}
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4  # no cell ids: nbgrader keys cells on grade_id
    return nb


def student_notebook(instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The instructor notebook with every solution replaced by a scaffold (what nbgrader releases)."""
    nb = copy.deepcopy(instructor)
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("locked"):  # as nbgrader's LockCells: read-only and kept
            cell.metadata["editable"] = False
        if grading.get("locked") or grading.get("grade") or grading.get("solution"):
            cell.metadata["deletable"] = False
        if grading.get("grade") and HIDDEN_BEGIN in cell.source:  # as nbgrader's ClearHiddenTests
            lines, keep = [], True
            for line in cell.source.split("\n"):
                if HIDDEN_BEGIN in line or HIDDEN_END in line:
                    keep = HIDDEN_END in line
                elif keep:
                    lines.append(line)
            cell.source = "\n".join(lines)
        if not grading.get("solution"):
            continue
        if cell.cell_type == "markdown":
            cell.source = TEXT_STUB
            continue
        label = grading["grade_id"].removesuffix("-code")
        first = cell.source.splitlines()[0]
        number = re.match(r"# Exercise (\S+):", first).group(1) if first.startswith("# Exercise ") else label
        stub = (f"# YOUR CODE HERE\nraise NotImplementedError(\"Exercise {number}: replace this line with your code"
                f"{' and set `answer`' if 'answer = ...' in cell.source else ''}\")")
        if "write `solve(" in cell.source:
            stub = stub.replace(" and set `answer`", ": define `solve` and set `answer`")
        cell.source = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _, stub=stub: stub, cell.source, flags=re.S)
    return nb


def nbgrader_config(cell_timeout: int = 900) -> str:
    """The lines a course appends to its ``nbgrader_config.py`` to autograde these notebooks."""
    return (
        "# htsgd's instructor notebooks (written by `make student`): append to the course's nbgrader_config.py.\n"
        f"# Made with htsgd {package_version()}; the notebooks' first cell installs {install_requirement()}.\n"
        "# nbclient, which nbgrader executes notebooks with, now and then misses a cell's execute_reply after\n"
        "# widget output (nbclient#312): autograde then waits, the kernel idle, for the whole cell timeout.\n"
        "# This clone's workaround waits for the reply in one-second slices.\n"
        "import sys\n\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "import nbclient_polling  # noqa: E402\n\n"
        "nbclient_polling.install()\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Execute.timeout = {int(cell_timeout)}  # seconds per cell (nbgrader's default, 30 s, is too short)\n"
    )


def write_kit(chapters: list[Path] | None = None, out: Path = BUILD, grading_seed: int | None = None) -> list[Path]:
    """Write ``out/instructor/<chapter>.ipynb``, ``out/student/<chapter>.ipynb`` and
    ``out/instructor/nbgrader_config.py``; return the paths. ``grading_seed`` draws the graded variants (None:
    a fresh private seed)."""
    written = []
    seed = secrets.randbits(63) if grading_seed is None else int(grading_seed)
    for chapter in chapters or chapters_with_exercises():
        instructor = instructor_notebook(chapter, seed)
        for kind, nb in (("instructor", instructor), ("student", student_notebook(instructor))):
            path = out / kind / f"{chapter.stem}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.validate(nb)
            nbformat.write(nb, path)
            written.append(path)
    config = out / "instructor" / "nbgrader_config.py"
    config.write_text(nbgrader_config())
    written.append(config)
    return written


def build_html(execute: str = "cache", output: Path = BUILD / "student-html", toc: Path | None = None,
               cache: Path = BUILD / ".jupyter_cache") -> int:
    """Build the solutions-free HTML book into ``output/_build/html``; return jupyter-book's status.

    ``cache`` is the execution cache to reuse (the main book's by default); ``toc`` another table of
    contents (tests build a few chapters).
    """
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = execute
    config["execute"]["cache"] = str(cache)
    config["sphinx"]["config"]["htsgd_hide_solutions"] = True
    config["sphinx"]["config"]["html_copy_source"] = False
    config.setdefault("html", {})["use_download_button"] = False
    config["launch_buttons"] = {"notebook_interface": "classic"}  # no Binder or Colab: they open the solutions
    config["title"] = f"{config['title']} (exercises without solutions)"
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, prefix=".config-student-", delete=False) as f:
        yaml.safe_dump(config, f, sort_keys=False)
        config_path = Path(f.name)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--all", "-W", "-n",
           "--keep-going", "--config", str(config_path), "--path-output", str(output)]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    start = time.perf_counter()
    try:
        status = subprocess.call(cmd, cwd=ROOT)
    finally:
        config_path.unlink(missing_ok=True)
    print(f"make_student: HTML exit {status} after {time.perf_counter() - start:.0f} s; "
          f"index: {output / '_build' / 'html' / 'index.html'}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", type=Path, help="book/<chapter>.md (default: all with exercises)")
    parser.add_argument("--html", action="store_true", help="build the solutions-free HTML book instead")
    parser.add_argument("--execute", choices=["cache", "force", "off"], default="cache")
    parser.add_argument("--out", type=Path, default=BUILD, help="folder that receives student/ and instructor/")
    parser.add_argument("--toc", type=Path, default=None, help="another table of contents (--html)")
    parser.add_argument("--grading-seed", type=int, default=None,
                        help="private seed of the graded variants' parameters (default: a fresh random one)")
    args = parser.parse_args(argv)
    if args.html:
        return build_html(args.execute, toc=args.toc)
    for path in write_kit([p.resolve() for p in args.chapters] or None, args.out, args.grading_seed):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
