"""Each chapter executes exactly twice per test session (issue 19 §6).

Once in the developer environment, by the strict book build that the chapter tests and the page tests
share (tests/conftest.py ``book_build``), and once from the plain install (tests/test_plain_install.py);
nbgrader's autograde of one chapter (tests/test_readme.py, three submissions in one autograde) is
the one exception. Every execution appends a line to ``$HTSGD_EXECUTION_LOG`` (book/_ext/execution_log.py),
and the tests that execute chapters add an event saying they ran and how (a released assignment, run once
from the wheel by tests/test_publish.py, is the other exception); tests/execution_count.py reads the log.

The count runs when every other test of the session has ended, so it sees every execution. Run alone
(``pytest`` without ``-n``) it is the session's last test (tests/conftest.py orders the tests). Under
pytest-xdist (``make test``) no worker runs it: a test that waits for the others would hold its worker, and
xdist gives a running test's successor to no other worker, so a test queued behind it would never start
(seen twice: the count waited on ``test_readable_on_every_screen[book/api-1280]``, the session's
second-to-last test, which xdist had queued behind it). The workers log that the session asked for it, and
the controller runs the same count after both workers have finished (``pytest_sessionfinish`` in
tests/conftest.py): a problem fails the session and is printed above its summary. When only some tests ran
it checks what they did (a build from a warm cache executes nothing: at most once, then).
"""

from __future__ import annotations

import json
import os

import execution_log
import pytest
from execution_count import (
    ASSIGNMENT_KERNEL,
    NBGRADER_SUBMISSIONS,
    PLAIN_KERNEL,
    chapter_titles,
    count_problems,
    session_problems,
)

from conftest import BOOK, executing_tests

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


def test_each_chapter_executes_twice_per_session(request):
    """Run alone, the session's last test: every test before it has ended (under pytest-xdist the controller
    runs the same count at the session's end instead: tests/conftest.py)."""
    path = os.environ.get(execution_log.ENV)
    if not path or not os.path.exists(path):
        pytest.fail(f"${execution_log.ENV} names no log: tests/conftest.py sets one for the session")
    problems = session_problems(path, set(executing_tests(request.session.items)))
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


def test_the_long_tests_open_every_workers_share():
    """worksteal splits the tests evenly between the workers, in order: the longest test opens the first share,
    the next ones the others, each share filled with unit tests."""
    from types import SimpleNamespace

    from conftest import EXPECTED_S, worker_heads

    longest, second, third = (SimpleNamespace(nodeid=f"tests/{name}") for name in list(EXPECTED_S)[:3])
    short = [SimpleNamespace(nodeid=f"tests/test_x.py::test_{i}") for i in range(3)]
    rest = [SimpleNamespace(nodeid=f"tests/test_unit.py::test_{i}") for i in range(10)]
    order = worker_heads([*short, second, longest], rest, 16, 2)
    assert order[0] is longest and order[8] is second and sorted(order, key=id) == sorted(
        [*short, second, longest, *rest], key=id)
    assert order[1:8] == rest[:7] and set(map(id, order[9:])) == set(map(id, short + rest[7:]))
    assert worker_heads([second, longest], rest, 12, 1) == [longest, second, *rest]
    order = worker_heads([*short, third, second, longest], rest, 20, 4)  # shares of 5 tests
    assert [order[0], order[5], order[10]] == [longest, second, third] and order[15] in short
    assert sorted(order, key=id) == sorted([*short, third, second, longest, *rest], key=id)


def test_the_controller_count_fails_the_session_and_says_why(tmp_path):
    """Under pytest-xdist the controller counts at the session's end (tests/conftest.py): a chapter executed a
    third time, or a test that never said it finished, fails the session; a session that did not ask for the
    count is left alone."""
    from types import SimpleNamespace

    from conftest import _count_executions

    def session_for(lines):
        log = tmp_path / f"log-{len(list(tmp_path.iterdir()))}.jsonl"
        log.write_text("".join(json.dumps(x) + "\n" for x in lines))
        config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=lambda name: None))
        session = SimpleNamespace(config=config, exitstatus=pytest.ExitCode.OK)
        _count_executions(session, str(log))
        return session.exitstatus

    titles = chapter_titles()
    build = [{"event": "build", "mode": "force"}, {"event": "plain-install"}]
    twice = [_exec(t) for t in titles] + [_exec(t, kernel=PLAIN_KERNEL, program="pytest") for t in titles]
    asked = {"event": "count", "expected": ["tests/test_x.py::test_plain"]}
    ended = {"event": "finished", "test": "tests/test_x.py::test_plain"}
    assert session_for(build + twice + [asked, ended]) == pytest.ExitCode.OK
    assert session_for(build + twice + [_exec(next(iter(titles)))] + [asked, ended]) == pytest.ExitCode.TESTS_FAILED
    assert session_for(build + twice + [asked]) == pytest.ExitCode.TESTS_FAILED  # the test never finished
    assert session_for(build + twice + twice) == pytest.ExitCode.OK  # no count asked: nothing checked
