"""Shared fixtures: the repository root, CUDA device parametrization, and the one strict build of the book.

Chapters execute twice per test session (issue 19 §6): once in this environment, by the strict book build
(:func:`book_build`), whose executed notebooks the chapter tests read, and once from a plain install
(tests/test_plain_install.py); nbgrader's autograde of chapter 1 is the one exception. Every execution
appends a line to the log named by ``$HTSGD_EXECUTION_LOG`` (book/_ext/execution_log.py; set here for
the session when unset, so that the build and nbgrader, run as subprocesses, write to it too), and
tests/test_executions.py, moved to the end of the session, counts them.
"""

from __future__ import annotations

import importlib.util
import os
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
    path = getattr(config, "_htsgd_execution_log", None)
    if path:
        Path(path).unlink(missing_ok=True)
        os.environ.pop(execution_log.ENV, None)


def pytest_collection_modifyitems(session, config, items):
    # The execution count reads what every other test executed: it runs last.
    last = [item for item in items if item.nodeid.endswith(LAST)]
    items[:] = [item for item in items if item not in last] + last


def load_script(name: str):
    """A module of scripts/ (they are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def book_build() -> dict:
    """The strict build of the whole book, once per session: ``{"html": folder, "executed": folder of the
    executed notebooks, "cache": the jupyter-cache folder (``cache`` mode), "status": exit status,
    "mode": execution mode}``.

    The mode is ``$BOOK_EXECUTE`` (`make test` passes ``cache``, CI ``force``; ``force`` when unset). In
    ``cache`` mode a chapter executed before with the same code and inputs is not executed again
    (scripts/build_book.py keys the cache on the package, the committed results and the environment).
    The fixture does not fail on a failed build: the page tests require status 0, the chapter tests
    report each failing chapter with its traceback."""
    done = {"html": HTML, "executed": HTML.parent / "jupyter_execute", "cache": None}
    if os.environ.get("HTSGD_BOOK_HTML"):
        assert (HTML / "index.html").is_file(), f"HTSGD_BOOK_HTML={HTML} holds no built book"
        return {**done, "status": 0, "mode": "existing"}
    mode = os.environ.get("BOOK_EXECUTE", "force")
    build_book = load_script("build_book")
    execution_log.event("build", mode=mode)
    status = build_book.build(execute=mode)
    if mode == "cache":
        done["cache"] = build_book.cache_folder(ROOT / "_build", build_book.build_env())
    return {**done, "status": status, "mode": mode}


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> dict:
    """The sdist and the wheel, built once per session as the release workflow builds them (tests/plain_env.py)."""
    import plain_env

    return plain_env.build_dist(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def plain_venv(tmp_path_factory, dist) -> dict:
    """A fresh environment with ``htsgd[notebook]`` installed from the session's wheel (tests/plain_env.py)."""
    import plain_env

    work = tmp_path_factory.mktemp("plain-install")
    assert not work.resolve().is_relative_to(ROOT.resolve())
    return {"work": work, **plain_env.make_env(work, dist["wheel"])}
