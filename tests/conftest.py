"""Shared fixtures: the repository root, CUDA device parametrization, and the one strict build of the book.

Chapters execute twice per test session (issue 19 §6): once in this environment, by the strict book build
(:func:`book_build`), whose executed notebooks the chapter tests read, and once from a plain install
(tests/test_plain_install.py); nbgrader's autograde of chapter 1 is the one exception.

The build starts in the background as soon as the tests are collected (when one of them needs it), and the
tests that read it run at the end of the session, so that the unit tests and the plain-install test use
the CPU the build leaves free (issue 19 §6: ``make test`` within 12 minutes on two cores). Every execution
appends a line to the log named by ``$HTSGD_EXECUTION_LOG`` (book/_ext/execution_log.py; set here for
the session when unset, so that the build and nbgrader, run as subprocesses, write to it too), and
tests/test_executions.py, moved to the end of the session, counts them.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
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


def pytest_unconfigure(config):
    build = getattr(config, "_htsgd_book_build", None)
    if build is not None and build["process"].poll() is None:  # the session ended before the build did
        os.killpg(build["process"].pid, signal.SIGTERM)
        build["process"].wait()
    if build is not None:
        build["log"].unlink(missing_ok=True)
    path = getattr(config, "_htsgd_execution_log", None)
    if path:
        Path(path).unlink(missing_ok=True)
        os.environ.pop(execution_log.ENV, None)


def pytest_collection_modifyitems(session, config, items):
    # The tests that read the book build run after the others, which run while it builds; the execution
    # count reads what every other test executed: it runs last.
    last = [item for item in items if item.nodeid.endswith(LAST)]
    book = [item for item in items if "book_build" in getattr(item, "fixturenames", ()) and item not in last]
    items[:] = [item for item in items if item not in last and item not in book] + book + last
    if book and not config.option.collectonly and not os.environ.get("HTSGD_BOOK_HTML"):
        config._htsgd_book_build = start_book_build()


def start_book_build() -> dict:
    """Start the strict build of the whole book in the background (scripts/build_book.py in its own process
    group, its output in a log file): ``{"process", "log", "mode"}``."""
    mode = os.environ.get("BOOK_EXECUTE", "force")
    execution_log.event("build", mode=mode)
    log = Path(tempfile.mkstemp(prefix="htsgd-book-build-", suffix=".log")[1])
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "build_book.py"), "--execute", mode],
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return {"process": process, "log": log, "mode": mode}


def load_script(name: str):
    """A module of scripts/ (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def book_build(request) -> dict:
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
    build = getattr(request.config, "_htsgd_book_build", None) or start_book_build()
    request.config._htsgd_book_build = build
    status = build["process"].wait()
    print(build["log"].read_text(errors="replace")[-20000:])
    build_book = load_script("build_book")
    cache = build_book.cache_folder(ROOT / "_build", build_book.build_env())
    return {**done, "cache": cache, "status": status, "mode": build["mode"]}
