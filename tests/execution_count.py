"""How many times each chapter executed in a test session (issue 19 §6), read from the session's log.

Every execution appends a line to ``$HTSGD_EXECUTION_LOG`` (book/_ext/execution_log.py), and the tests that
execute chapters add an event saying they ran and how; :func:`count_problems` says what is wrong with a log,
and :func:`session_problems` adds the tests that never said they finished. tests/conftest.py runs the count
once the session's tests have all ended (tests/test_executions.py says when and where).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import execution_log

BOOK = Path(__file__).resolve().parents[1] / "book"

PLAIN_KERNEL = "htsgd-plain-install"  # tests/test_plain_install.py's kernel
ASSIGNMENT_KERNEL = "htsgd-released-assignment"  # tests/test_publish.py runs one released assignment once
# tests/test_readme.py autogrades three students' copies of one chapter: the README's (the released copy, as the
# instructor steps submit it) and two more (tests/submissions.py)
NBGRADER_SUBMISSIONS = 3


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


def session_problems(path: str | Path, expected: set[str]) -> list[str]:
    """The count's problems for the log at ``path`` once the session has ended: ``expected`` are the node ids
    of its tests that execute chapters or read the build, each of which logs its end."""
    executions, events = execution_log.read(path)
    finished = {e.get("test") for e in events if e["event"] == "finished"}
    missing = [f"{test}: never finished, so its executions may be missing" for test in sorted(expected - finished)]
    return missing + count_problems(executions, events, chapter_titles())
