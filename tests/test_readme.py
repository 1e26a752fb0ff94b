"""The README's instructor steps work when followed literally (issue 21 §2).

The commands are read from the README itself: every fenced ``bash`` block of the section "Handing out and
grading the exercises", in order, run as one script (as an instructor types them into one terminal:
``source`` and ``cd`` carry over) by ``bash -e`` with a clean environment (``env -i``: ``PATH`` is the
system's, ``HOME`` a fresh folder) on a fresh ``git clone`` of this checkout's HEAD. The only command not
run is ``jupyter lab``, which starts a server: the script runs ``jupyter lab --version`` in its place, at
the same point (inside the course folder), so the command exists there.

The clone reuses this checkout's ``.venv`` by a symbolic link (installing torch and the book's tools again
would take minutes and gigabytes); its ``requirements.txt`` and ``pyproject.toml`` get the install stamp's
time, so that ``make`` sees the environment as up to date and does not reinstall into the shared one.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT

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
@pytest.mark.book  # it autogrades a submission: a chapter execution, counted with the others
def test_the_instructor_steps_run_as_written_on_a_clean_clone(tmp_path):
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
        script.append("jupyter lab --version" if SERVER.match(command) else command)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    for name in ("HTSGD_EXECUTION_LOG", "HTSGD_CACHE_DIR"):  # the session's log counts nbgrader's execution
        if name in os.environ:
            env[name] = os.environ[name]
    start = time.perf_counter()
    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "-c", "\n".join(script)],
                          cwd=clone, capture_output=True, text=True, timeout=1800)
    print(f"README instructor steps: {time.perf_counter() - start:.0f} s", flush=True)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-5000:]}"
    course = clone / "mycourse"
    assert (course / "release" / "ch1" / "stable.ipynb").is_file()
    assert (course / "feedback" / "student1" / "ch1" / "stable.html").is_file()
    rows = [r for r in csv.DictReader((course / "grades.csv").open()) if r["assignment"] == "ch1"]
    scores = {r["student_id"]: float(r["raw_score"]) for r in rows}
    assert scores == {"student1": 0.0}, rows  # the released copy, untouched
    assert re.search(r"^\d+\.\d+", done.stdout, flags=re.M), "jupyter lab --version printed no version"
