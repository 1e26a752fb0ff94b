"""The README's instructor steps work when followed literally (issue 21 §2).

The commands are read from the README itself: every fenced ``bash`` block of the section "Handing out and
grading the exercises", in order, run as one script (as an instructor types them into one terminal:
``source`` and ``cd`` carry over) by ``bash -e`` with a clean environment (``env -i``: ``PATH`` is the
system's, ``HOME`` a fresh folder) on a fresh ``git clone`` of this checkout's HEAD. The only command not
run is ``jupyter lab``, which starts a server: the script runs ``jupyter lab --version`` in its place, at
the same point (inside the course folder), so the command exists there.

The same run is the test of grading itself: just before the README's ``nbgrader autograde`` the script adds two
more submissions (tests/submissions.py: ``alice``, the source notebook with every solution, and ``carol``, a
gaming copy), so one autograde grades three students' copies: the solutions get every autograded point, the
untouched copy and the gaming one none, and no cell reaches the timeout. The released notebook must equal the
student notebook of ``make student`` up to the stub's wording. This is chapter 1's only nbgrader run of the
session (three executions, the execution count's one exception: tests/execution_count.py).

The clone reuses this checkout's ``.venv`` by a symbolic link (installing torch and the book's tools again
would take minutes and gigabytes); its ``requirements.txt`` and ``pyproject.toml`` get the install stamp's
time, so that ``make`` sees the environment as up to date and does not reinstall into the shared one.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import BOOK, ROOT
from htsgd import exercises as ex

# The exercise convention's parser lives next to the book build that uses it (book/_ext), not in htsgd.
if str(BOOK / "_ext") not in sys.path:
    sys.path.insert(0, str(BOOK / "_ext"))
import exercise_convention as conv  # noqa: E402

SECTION = "## Handing out and grading the exercises"
SERVER = re.compile(r"^jupyter lab\s*$")


def readme_section(title: str = SECTION) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start : end if end > 0 else None]


def instructor_commands() -> list[str]:
    """The fenced bash blocks of the instructor section, one command per line, in order."""
    blocks = re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", readme_section(), flags=re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_instructor_commands_are_complete_and_say_where_they_run():
    commands = instructor_commands()
    assert commands[0] == "make student" and "source .venv/bin/activate" in commands
    assert commands.index("source .venv/bin/activate") < commands.index("nbgrader quickstart mycourse")
    cd = commands.index("cd mycourse")
    assert cd < commands.index("jupyter lab") and cd < commands.index("nbgrader generate_assignment ch1")
    # Every command the prose names inline is one of the fenced commands, or an exchange command (not run).
    inline = re.findall(r"`((?:make|nbgrader|jupyter|source|cd) [^`]*)`", readme_section())
    not_run = {"nbgrader release_assignment ch1", "nbgrader collect ch1", "jupyter lab --version"}
    assert not [c for c in inline if c not in commands and c not in not_run and not c.startswith("make book-student")]


def test_the_readme_names_where_make_book_student_writes():
    """``make book-student`` (scripts/make_student.py ``build_html``) writes ``<output>/_build/html``."""
    import inspect

    from conftest import load_script

    output = inspect.signature(load_script("make_student").build_html).parameters["output"].default
    index = (Path(output) / "_build" / "html" / "index.html").relative_to(ROOT)
    assert f"`{index}`" in readme_section() and f"`{index}`" in (ROOT / "README.md").read_text().split(SECTION)[0]


@pytest.mark.slow
@pytest.mark.book  # it autogrades three submissions of chapter 1: chapter executions, counted with the others
def test_the_instructor_steps_run_as_written_on_a_clean_clone_and_grade_three_students(tmp_path):
    venv = ROOT / ".venv"
    stamp = venv / ".htsgd-installed"
    if not stamp.is_file():
        pytest.skip("no .venv made by `make` to reuse")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    (clone / ".venv").symlink_to(venv.resolve())
    before = stamp.stat().st_mtime - 1
    for name in ("requirements.txt", "pyproject.toml"):
        os.utime(clone / name, (before, before))
    script = ["set -euo pipefail", "set -x"]
    for command in instructor_commands():
        if command.startswith("nbgrader autograde "):  # two more students (tests/submissions.py)
            script.append(f"python {ROOT / 'tests' / 'submissions.py'} ch1 stable.ipynb")
        script.append("jupyter lab --version" if SERVER.match(command) else command)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    for name in ("HTSGD_EXECUTION_LOG", "HTSGD_CACHE_DIR"):  # the session's log counts nbgrader's executions
        if name in os.environ:
            env[name] = os.environ[name]
    start = time.perf_counter()
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "-c", "\n".join(script)],
                          cwd=clone, capture_output=True, text=True, timeout=1800)
    print(f"README instructor steps: {time.perf_counter() - start:.0f} s", flush=True)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-5000:]}"
    assert re.search(r"^\d+\.\d+", done.stdout, flags=re.M), "jupyter lab --version printed no version"
    # a lost kernel reply used to cost autograde a whole cell timeout (nbclient#312, book/_ext/nbclient_polling.py)
    assert "Timeout waiting" not in done.stderr, done.stderr[-4000:]
    course = clone / "mycourse"
    _released_is_the_student_notebook(course, clone / "_build" / "student" / "stable.ipynb")
    for student in ("student1", "alice", "carol"):
        graded = nbformat.read(course / "autograded" / student / "ch1" / "stable.ipynb", as_version=4)
        errors = {o.get("ename") for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"}
        assert "CellTimeoutError" not in errors, student
        assert (course / "feedback" / student / "ch1" / "stable.html").is_file(), student
    rows = [r for r in csv.DictReader((course / "grades.csv").open()) if r["assignment"] == "ch1"]
    scores = {r["student_id"]: float(r["raw_score"]) for r in rows}
    parametric = {label for label in ex.labels() if not ex.REFERENCES[label].fixed}
    auto_points = sum(e.stars for e in conv.find_exercises((BOOK / "stable.md").read_text()) if e.label in parametric)
    # The prose answers and the constants' answer cells are graded by hand: autograde leaves them at 0 for everyone.
    # student1 is the released copy, untouched; carol games the self-check and the registry.
    assert scores == {"student1": 0.0, "alice": float(auto_points), "carol": 0.0}, rows


def _released_is_the_student_notebook(course: Path, ours: Path) -> None:
    """nbgrader's released notebook is quickstart's header notebook (name, collaborators), then ``make student``'s
    student notebook cell by cell, up to the wording of the solutions' stubs."""
    released = nbformat.read(course / "release" / "ch1" / "stable.ipynb", as_version=4)
    header = nbformat.read(course / "source" / "header.ipynb", as_version=4)
    assert [c.source for c in released.cells[:len(header.cells)]] == [c.source for c in header.cells]
    student = nbformat.read(ours, as_version=4)
    released.cells = released.cells[len(header.cells):]
    assert len(released.cells) == len(student.cells)
    for a, b in zip(released.cells, student.cells, strict=True):
        if a.source != b.source:
            assert "raise NotImplementedError" in a.source and "raise NotImplementedError" in b.source
            assert a.source.split("# YOUR CODE HERE")[0] == b.source.split("# YOUR CODE HERE")[0]
