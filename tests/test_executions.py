"""Each chapter executes exactly twice per test session (issue 19 §6).

Once in the developer environment, by the strict book build that the chapter tests and the page tests
share (tests/conftest.py ``book_build``), and once from the plain install (tests/test_plain_install.py);
nbgrader's autograde of one chapter (tests/test_exercises.py, three submissions; tests/test_readme.py, one) is the one exception. Every
execution appends a line to ``$HTSGD_EXECUTION_LOG`` (book/_ext/execution_log.py), and the tests that
execute chapters add an event saying they ran and how (a released assignment, run once from the wheel
by tests/test_publish.py, is the other exception); :func:`count_problems` reads the log. The session's
count runs last (tests/conftest.py orders the tests) and waits until every test that executes chapters has
finished, in whichever process it ran (each test's end is logged), so it sees every execution of the session; when only some
tests ran it checks what they did (a build from a warm cache executes nothing: at most once, then).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter

import execution_log
import pytest

from conftest import BOOK, executing_tests

PLAIN_KERNEL = "htsgd-plain-install"  # tests/test_plain_install.py's kernel
ASSIGNMENT_KERNEL = "htsgd-released-assignment"  # tests/test_publish.py runs one released assignment once
# tests/test_exercises.py autogrades two students' copies of one chapter, tests/test_readme.py the README's
# one (the released copy, as the README's instructor steps submit it)
NBGRADER_SUBMISSIONS = 4  # tests/test_exercises.py grades three copies, tests/test_readme.py the README's one


def chapter_titles() -> dict[str, str]:
    """Every chapter's title (its first level-1 heading), to its file name."""
    titles = {}
    for path in sorted(BOOK.glob("*.md")):
        text = path.read_text()
        if text.startswith("---\njupytext:"):
            titles[re.search(r"^# (.+?)\s*$", text, flags=re.M).group(1)] = path.name
    return titles


def _kind(execution: dict) -> str:
    if execution["kernel"] == PLAIN_KERNEL:
        return "plain"
    if execution["kernel"] == ASSIGNMENT_KERNEL:
        return "assignment"
    if execution["program"] == "nbgrader":
        return "nbgrader"
    return "dev"


def count_problems(executions: list[dict], events: list[dict], titles: dict[str, str]) -> list[str]:
    """What is wrong with the executions of a session's log, given what ran (its events)."""
    counts = Counter((titles[e["title"]], _kind(e)) for e in executions if e["title"] in titles)
    builds = [e["mode"] for e in events if e["event"] == "build"]
    # which chapters ran from the plain install: one event per chapter (no chapter named: every chapter)
    plain_runs = [e.get("chapter") for e in events if e["event"] == "plain-install"]
    # A test that runs a chapter again after a lost kernel reply says so (tests/test_plain_install.py).
    retried = Counter((e["chapter"], e["kind"]) for e in events if e["event"] == "retry")
    problems = []
    for chapter in titles.values():
        dev = counts[chapter, "dev"]
        if not builds and dev:
            problems.append(f"{chapter}: executed {dev} time(s) in this environment outside the book build")
        elif len(builds) > 1:
            problems.append(f"the book was built {len(builds)} times")
        elif builds == ["force"] and dev != 1 or dev > 1:
            problems.append(f"{chapter}: executed {dev} time(s) in this environment, once is the rule "
                            f"(build mode {builds[0]})")
        plain = None in plain_runs or chapter in plain_runs
        if counts[chapter, "plain"] - retried[chapter, "plain"] != (1 if plain else 0):
            problems.append(f"{chapter}: executed {counts[chapter, 'plain']} time(s) from the plain install "
                            f"({'once' if plain else 'never'} is the rule)")
    assignments = sum(n for (_, kind), n in counts.items() if kind == "assignment")
    if assignments > 1:
        problems.append(f"released assignments executed {assignments} times: one chapter once at most")
    graded = {chapter for chapter, kind in counts if kind == "nbgrader"}
    if len(graded) > 1 or sum(counts[c, "nbgrader"] for c in graded) > NBGRADER_SUBMISSIONS:
        problems.append(f"nbgrader executed {sorted(graded)}: one chapter's {NBGRADER_SUBMISSIONS} submissions at most")
    return sorted(set(problems))


TITLES = {"Stable distributions": "stable.md", "SGD": "sgd.md"}


def _exec(title: str, kernel: str = "python3", program: str = "jupyter-book") -> dict:
    return {"title": title, "kernel": kernel, "program": program, "pid": 1}


def test_the_chapters_have_titles():
    chapters = [p for p in BOOK.glob("*.md") if p.read_text().startswith("---\njupytext:")]
    assert len(chapter_titles()) == len(chapters) > 0, "two chapters share a title"


def test_a_full_session_passes():
    runs = [_exec(t) for t in TITLES] + [_exec(t, kernel=PLAIN_KERNEL, program="pytest") for t in TITLES]
    runs += [_exec("Stable distributions", program="nbgrader")] * 2 + [_exec("a scratch notebook")]
    assert count_problems(runs, [{"event": "build", "mode": "force"}, {"event": "plain-install"}], TITLES) == []


def test_a_third_execution_fails():
    """The old suite: the chapter tests executed every chapter again after the build."""
    runs = [_exec(t) for t in TITLES] + [_exec(t, program="pytest") for t in TITLES]
    problems = count_problems(runs, [{"event": "build", "mode": "force"}], TITLES)
    assert problems == [f"{c}: executed 2 time(s) in this environment, once is the rule (build mode force)"
                        for c in sorted(TITLES.values())]


def test_executions_outside_the_build_missing_ones_and_nbgrader_are_counted():
    assert count_problems([_exec("SGD", program="pytest")], [], TITLES) == [
        "sgd.md: executed 1 time(s) in this environment outside the book build"]
    assert count_problems([_exec("SGD")], [{"event": "build", "mode": "force"}], TITLES) == [
        "stable.md: executed 0 time(s) in this environment, once is the rule (build mode force)"]
    # a warm cache executes nothing, and that is fine; a plain-install run must execute every chapter
    assert count_problems([], [{"event": "build", "mode": "cache"}, {"event": "plain-install"}], TITLES) == [
        f"{c}: executed 0 time(s) from the plain install (once is the rule)" for c in sorted(TITLES.values())]
    retry = [_exec("SGD", kernel=PLAIN_KERNEL)] * 2 + [_exec("Stable distributions", kernel=PLAIN_KERNEL)]
    events = [{"event": "plain-install"}, {"event": "retry", "chapter": "sgd.md", "kind": "plain"}]
    assert count_problems(retry, events, TITLES) == []
    # one test per chapter: each says which chapter it ran, and only those must run from the plain install
    per_chapter = [{"event": "plain-install", "chapter": "sgd.md"}]
    assert count_problems([_exec("SGD", kernel=PLAIN_KERNEL)], per_chapter, TITLES) == []
    assert count_problems([], per_chapter, TITLES) == ["sgd.md: executed 0 time(s) from the plain install (once is the rule)"]
    assert count_problems([_exec("SGD", kernel=PLAIN_KERNEL)] * 2 + [_exec("Stable distributions", kernel=PLAIN_KERNEL)],
                          per_chapter, TITLES) == [
        "sgd.md: executed 2 time(s) from the plain install (once is the rule)",
        "stable.md: executed 1 time(s) from the plain install (never is the rule)"]
    graded = [_exec(t, program="nbgrader") for t in TITLES]
    assert count_problems(graded, [], TITLES) == [
        f"nbgrader executed ['sgd.md', 'stable.md']: one chapter's {NBGRADER_SUBMISSIONS} submissions at most"]
    assignment = [_exec("Stable distributions", kernel=ASSIGNMENT_KERNEL, program="pytest")]
    assert count_problems(assignment, [], TITLES) == []  # the released assignment: its own kind, once
    assert count_problems(assignment * 2, [], TITLES) == [
        "released assignments executed 2 times: one chapter once at most"]


def test_the_log_records_an_execution(tmp_path, monkeypatch):
    import nbformat

    monkeypatch.setenv(execution_log.ENV, str(tmp_path / "log.jsonl"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("(label)=\n# Stable distributions\n\ntext")])
    execution_log.record(nb, "python3")
    execution_log.event("build", mode="cache")
    executions, events = execution_log.read(tmp_path / "log.jsonl")
    assert [(e["title"], e["kernel"]) for e in executions] == [("Stable distributions", "python3")]
    assert events == [{"event": "build", "mode": "cache"}]


WAIT_S = 3600  # the longest test that executes chapters (the plain install) takes about 10 minutes


def test_each_chapter_executes_twice_per_session(request):
    """Runs last (tests/conftest.py), after waiting for every test of the session that executes chapters, in
    whichever process it ran (each one's end is in the log): their executions are all in the log by then."""
    path = os.environ.get(execution_log.ENV)
    if not path or not os.path.exists(path):
        pytest.fail(f"${execution_log.ENV} names no log: tests/conftest.py sets one for the session")
    expected, deadline = set(executing_tests(request.session.items)), time.monotonic() + WAIT_S
    while True:
        executions, events = execution_log.read(path)
        missing = expected - {e.get("test") for e in events if e["event"] == "finished"}
        if not missing:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"after {WAIT_S} s these tests that execute chapters have not finished: {sorted(missing)}")
        time.sleep(2)
    problems = count_problems(executions, events, chapter_titles())
    assert not problems, "\n".join(problems)


def test_once_per_session_makes_once_for_every_process(tmp_path):
    """Two processes ask at once (as two xdist workers ask for the wheel and the fresh environment): one makes,
    the other waits for it, and both get what was made."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    script = (
        "import json, sys, time; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/../book/_ext']\n"
        "from conftest import once_per_session\n"
        "def make(folder):\n"
        "    with open(folder / 'calls', 'a') as f: f.write('x')\n"
        "    time.sleep(1.0)\n"
        "    return {'folder': folder, 'n': 3}\n"
        "print(json.dumps(once_per_session('thing', make)))\n"
    )
    env = {**os.environ, execution_log.ENV: str(tmp_path / "log.jsonl")}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(ROOT / "tests")], env=env, stdout=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    folder = tmp_path / "log.jsonl.shared" / "thing"
    assert (folder / "calls").read_text() == "x"
    assert outputs == [{"folder": str(folder), "n": 3}] * 2


def test_the_long_tests_open_both_workers_shares():
    """worksteal gives the first half of the tests to one worker and the rest to the other: the longest test
    opens the first half, the next ones the second, each half filled with unit tests."""
    from types import SimpleNamespace

    from conftest import EXPECTED_S, two_heads

    longest, second = (SimpleNamespace(nodeid=f"tests/{name}") for name in list(EXPECTED_S)[:2])
    short = [SimpleNamespace(nodeid=f"tests/test_x.py::test_{i}") for i in range(3)]
    rest = [SimpleNamespace(nodeid=f"tests/test_unit.py::test_{i}") for i in range(10)]
    order = two_heads([*short, second, longest], rest, 16, 2)
    assert order[0] is longest and order[8] is second and sorted(order, key=id) == sorted(
        [*short, second, longest, *rest], key=id)
    assert order[1:8] == rest[:7] and set(map(id, order[9:])) == set(map(id, short + rest[7:]))
    assert two_heads([second, longest], rest, 12, 1) == [longest, second, *rest]
