"""Shared fixtures: the repository root, CUDA device parametrization, and the one strict build of the book.

Chapters execute twice per test session (issue 19 §6): once in this environment, by the strict book build
(:func:`book_build`), whose executed notebooks the chapter tests read, and once from a plain install
(tests/test_plain_install.py); nbgrader's autograde of chapter 1 is the one exception.

The build starts in the background as soon as the tests are collected (when one of them needs it), and the
tests that read it run at the end of the session, so that the unit tests and the plain-install test use
the CPU the build leaves free (issue 19 §6: ``make test`` within 12 minutes on two cores). Every execution
appends a line to the log named by ``$HTSGD_EXECUTION_LOG`` (book/_ext/execution_log.py; set here for
the session when unset, so that the build and nbgrader, run as subprocesses, write to it too), and
tests/test_executions.py, run after every test that executes chapters, counts them.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))
import execution_log  # noqa: E402  (book/_ext)

# HTSGD_BOOK_HTML=<folder> checks an existing build (e.g. of a few chapters) instead of building.
HTML = Path(os.environ.get("HTSGD_BOOK_HTML", ROOT / "_build" / "html"))
LAST = "test_executions.py::test_each_chapter_executes_twice_per_session"

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Every device test runs on the CPU, and on CUDA when a GPU is present."""
    return request.param


def pytest_configure(config):
    if not os.environ.get(execution_log.ENV):
        handle, path = tempfile.mkstemp(prefix="htsgd-executions-", suffix=".jsonl")
        os.close(handle)
        os.environ[execution_log.ENV] = path
        config._htsgd_execution_log = path


def pytest_sessionfinish(session):
    path = getattr(session.config, "_htsgd_execution_log", None)
    if path and os.path.exists(path) and not hasattr(session.config, "workerinput"):
        _count_executions(session, path)


def pytest_unconfigure(config):
    path = getattr(config, "_htsgd_execution_log", None)
    if path:  # the process that made the session's log (pytest, or xdist's controller) ends the build
        state = _build_state(path)
        if state.is_file():
            build = json.loads(state.read_text())
            if not Path(build["status"]).is_file():  # the session ended before the build did
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(build["pid"], signal.SIGTERM)
            for name in ("log", "status"):
                Path(build[name]).unlink(missing_ok=True)
            state.unlink()
        Path(f"{state}.lock").unlink(missing_ok=True)
        shared = _shared_folder()
        if shared.is_dir():
            shutil.rmtree(shared, ignore_errors=True)
        Path(path).unlink(missing_ok=True)
        os.environ.pop(execution_log.ENV, None)


def _count_executions(session, path: str) -> None:
    """Under pytest-xdist, the count of tests/test_executions.py, run by the controller once both workers have
    finished (its docstring says why no worker runs it): a problem fails the session, printed above its summary."""
    from execution_count import session_problems

    events = execution_log.read(path)[1]
    requests = [e for e in events if e["event"] == "count"]
    if not requests:  # the count was not among the session's tests
        return
    problems = session_problems(path, {test for e in requests for test in e["expected"]})
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "execution count (tests/test_executions.py)", red=bool(problems), green=not problems)
        executions = len(execution_log.read(path)[0])
        for line in problems or [f"no problem in the {executions} chapter executions of the session"]:
            reporter.write_line(line)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _executes_chapters(item) -> bool:
    """Tests that execute chapters, read the build, or use the session's plain environment (which a
    released assignment uninstalls and reinstalls htsgd in)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return bool(fixtures & {"book_build", "plain_venv", "dist"}) or item.get_closest_marker("book") is not None


def executing_tests(items) -> list[str]:
    """The node ids of the session's tests that execute chapters or read the build, the execution count
    excluded: the count waits until each of them has finished (tests/test_executions.py)."""
    return [item.nodeid for item in items if _executes_chapters(item) and not item.nodeid.endswith(LAST)]


def pytest_runtest_logfinish(nodeid, location):
    """Every test's end goes to the execution log, so that the count can wait for the tests of another process."""
    if os.environ.get(execution_log.ENV):
        execution_log.event("finished", test=nodeid)


@pytest.hookimpl(trylast=True)  # after -m and -k deselected: a run without book tests starts no build
def pytest_collection_modifyitems(session, config, items):
    """The order, for the CPU the background book build leaves free: with pytest-xdist (`make test`: two
    workers, an idle one taking queued tests from the other) the long tests that execute chapters themselves
    (the plain install's chapters, nbgrader, the README's steps) open both workers' shares (:func:`worker_heads`),
    then the unit tests, then the tests that read the build (it is done by then), then the execution count,
    which waits for every test that executes chapters, in whichever worker it ran. Alone, pytest runs the unit tests first. The build starts now, in the background, once per
    session (:func:`start_book_build`)."""
    last = [item for item in items if item.nodeid.endswith(LAST)]
    book = [item for item in items if "book_build" in getattr(item, "fixturenames", ()) and item not in last]
    executing = [item for item in items if _executes_chapters(item) and item not in book and item not in last]
    rest = [item for item in items if item not in executing and item not in book and item not in last]
    if hasattr(config, "workerinput"):
        items[:] = worker_heads(executing, rest, len(items), config.workerinput.get("workercount", 2)) + book
        if last:  # the controller counts once both workers have finished (pytest_sessionfinish)
            config.hook.pytest_deselected(items=last)
            execution_log.event("count", expected=executing_tests(items))
    else:
        items[:] = rest + executing + book + last
    if book and not config.option.collectonly and not os.environ.get("HTSGD_BOOK_HTML"):
        start_book_build()


# Rough seconds of the longest tests that execute chapters, on `make test`'s loaded two cores (the CI run's
# durations): a scheduling hint for :func:`worker_heads` only; a wrong or missing entry costs time, never a result.
EXPECTED_S = {"test_plain_install.py::test_the_notebook_runs_from_a_plain_install[experiments]": 300,
              "test_readme.py::test_the_instructor_steps_run_as_written_on_a_clean_clone_and_grade_three_students": 210,
              "test_plain_install.py::test_the_notebook_runs_from_a_plain_install[sgd]": 70,
              "test_plain_install.py::test_the_notebook_runs_from_a_plain_install[chaos]": 65,
              "test_plain_install.py::test_the_notebook_runs_from_a_plain_install[meanfield]": 30,
              "test_publish.py::test_a_released_assignment_installs_htsgd_with_its_own_first_cell": 28}


def expected_s(item) -> float:
    return next((s for name, s in EXPECTED_S.items() if item.nodeid.endswith(name)), 5.0)


def worker_heads(executing: list, rest: list, total: int, workers: int) -> list:
    """The order of ``executing`` (the long tests) and ``rest`` for pytest-xdist's ``worksteal``, which hands
    each of ``workers`` workers a contiguous share of the ``total`` tests (an even split of what is left, in
    worker order) and lets an idle one take the not-yet-started tail of another's share. The long tests,
    longest first, go to the least loaded worker (greedily, by :data:`EXPECTED_S`) and open its share, which
    unit tests fill up to its end; what comes after (the tests that read the build) ends the last share."""
    n = max(1, workers)
    heads, loads = [[] for _ in range(n)], [0.0] * n
    for item in sorted(executing, key=expected_s, reverse=True):
        side = loads.index(min(loads))
        heads[side].append(item)
        loads[side] += expected_s(item)
    order, rest, remaining = [], list(rest), total
    for i, head in enumerate(heads):
        share = remaining // (n - i)  # worksteal's split of the tests not yet handed out
        fill = len(rest) if i == n - 1 else max(0, min(len(rest), share - len(head)))
        order += head + rest[:fill]
        rest, remaining = rest[fill:], remaining - len(head) - fill
    return order


def _build_state(log: str) -> Path:
    return Path(f"{log}.book-build.json")


# Runs the build and writes its exit status to a file, which every process of the session can wait for.
_WRAPPER = ("import os, subprocess, sys; status, done = subprocess.call(sys.argv[2:]), sys.argv[1]; "
            "open(done + '.tmp', 'w').write(str(status)); os.replace(done + '.tmp', done)")
BUILD_TIMEOUT_S = 3 * 3600


def start_book_build() -> dict:
    """Start the strict build of the whole book in the background, once per session, whichever process asks
    first (pytest, or one of xdist's workers): scripts/build_book.py in its own process group, its output in a
    log file. Returns ``{"pid", "log", "status", "mode", "grid", "cache"}`` (``status``: the file its exit status
    is written to; ``cache``: the jupyter-cache folder it executes the chapters into). ``$BOOK_GRID`` (default ``quick``) is the experiments chapter's grid: the quick one, which
    the plain-install test runs too (under another machine's kernels); ``make test BOOK_GRID=book`` builds
    the book-scale grid that `make book` publishes (about 250 CPU seconds more, issue 19 §6)."""
    state = _build_state(os.environ[execution_log.ENV])
    with open(f"{state}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not state.is_file():
            mode, grid = os.environ.get("BOOK_EXECUTE", "force"), os.environ.get("BOOK_GRID", "quick")
            execution_log.event("build", mode=mode, grid=grid)
            log, status = (Path(f"{state.with_suffix('')}.{name}") for name in ("log", "status"))
            with log.open("w") as out:
                process = subprocess.Popen(
                    [sys.executable, "-c", _WRAPPER, str(status), sys.executable,
                     str(ROOT / "scripts" / "build_book.py"), "--execute", mode, "--grid", grid],
                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            build_book = load_script("build_book")  # the cache it executes into, named by its inputs now
            cache = build_book.cache_folder(ROOT / "_build", build_book.build_env(grid))
            state.write_text(json.dumps({"pid": process.pid, "log": str(log), "status": str(status), "mode": mode,
                                         "grid": grid, "cache": str(cache)}))
        return json.loads(state.read_text())


def load_script(name: str):
    """A module of scripts/ (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def book_build() -> dict:
    """The strict build of the whole book, once per session: ``{"html": folder, "executed": folder of the
    executed notebooks, "cache": the jupyter-cache folder the chapters were executed into, "status": exit
    status, "mode": execution mode}``.

    The build was started in the background when the tests were collected (:func:`start_book_build`); this
    waits for it and prints its output (shown with a failing test). The mode is ``$BOOK_EXECUTE`` (`make
    test` passes ``cache``, CI ``force``; ``force`` when unset). scripts/build_book.py executes the chapters
    into a jupyter-cache that jupyter-book reads; in ``cache`` mode a chapter executed before with the same
    code and inputs is not executed again (the cache is keyed on the package, the committed results and the
    environment). The fixture does not fail on a failed build: the page tests require status 0, the chapter
    tests report each failing chapter with its traceback."""
    done = {"html": HTML, "executed": HTML.parent / "jupyter_execute"}
    if os.environ.get("HTSGD_BOOK_HTML"):
        assert (HTML / "index.html").is_file(), f"HTSGD_BOOK_HTML={HTML} holds no built book"
        return {**done, "cache": None, "status": 0, "mode": "existing"}
    build = start_book_build()  # started at collection; this finds it
    status, start = Path(build["status"]), time.monotonic()
    while not status.is_file():
        assert time.monotonic() - start < BUILD_TIMEOUT_S, Path(build["log"]).read_text(errors="replace")[-20000:]
        time.sleep(2)
    print(Path(build["log"]).read_text(errors="replace")[-20000:])
    return {**done, "cache": Path(build["cache"]), "status": int(status.read_text()), "mode": build["mode"]}


def _shared_folder() -> Path:
    """A folder every process of the session shares (pytest, or xdist's workers), removed at its end."""
    return Path(f"{os.environ[execution_log.ENV]}.shared")


def once_per_session(name: str, make) -> dict:
    """``make(folder)`` run once per session, whichever process asks first; the others wait for it and get the
    same JSON-able result (paths as strings). Under pytest-xdist a session fixture runs once in each worker:
    this keeps the wheel's build and the fresh environment to one each."""
    folder = _shared_folder() / name
    done = folder / "made.json"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait here while the first makes it
        if not done.is_file():
            made = make(folder)
            done.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in made.items()}))
    return json.loads(done.read_text())


@pytest.fixture(scope="session")
def dist() -> dict:
    """The sdist and the wheel, built once per session as the release workflow builds them (tests/plain_env.py)."""
    import plain_env

    made = once_per_session("dist", plain_env.build_dist)
    return {**made, "wheel": Path(made["wheel"]), "sdist": Path(made["sdist"])}


@pytest.fixture(scope="session")
def plain_venv(dist) -> dict:
    """A fresh environment with ``htsgd[notebook]`` installed from the session's wheel (tests/plain_env.py),
    made once per session. A test that changes what it holds works on its own copy (tests/test_publish.py)."""
    import plain_env

    def make(work: Path) -> dict:
        assert not work.resolve().is_relative_to(ROOT.resolve())
        return {"work": work, **plain_env.make_env(work, dist["wheel"])}

    made = once_per_session("plain-install", make)
    return {**made, "work": Path(made["work"]), "python": Path(made["python"]),
            "constraints": Path(made["constraints"])}
