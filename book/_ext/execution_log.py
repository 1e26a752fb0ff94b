"""Record every notebook execution in a log, so that the test suite can count them (issue 19 §6).

When ``HTSGD_EXECUTION_LOG`` names a file, :func:`record` appends one JSON line per notebook whose kernel
is started: the notebook's title (its first ``# `` heading), the kernel's name and the program that
executes it (``jupyter-book``, ``nbgrader``, ``pytest``, ...). The variable is inherited by every
process the test session starts, so the book build and nbgrader write to the same log as the tests.

:func:`nbclient_polling.install` calls :func:`record` from the kernel start it already patches, the one
step every way of executing a notebook goes through (nbclient's ``execute``, jupyter-cache's executor,
nbconvert's ``ExecutePreprocessor``); every executing path of this repository installs that patch.
Without the variable nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ENV = "HTSGD_EXECUTION_LOG"


def title(nb: Any) -> str | None:
    """The notebook's title: the text of the first level-1 heading of its Markdown cells."""
    for cell in getattr(nb, "cells", None) or []:
        if cell.get("cell_type") == "markdown":
            found = re.search(r"^# (.+?)\s*$", cell.get("source", ""), flags=re.M)
            if found:
                return found.group(1)
    return None


def _append(line: dict[str, Any]) -> None:
    path = os.environ.get(ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:  # one short write: lines of parallel processes stay whole
            log.write(json.dumps(line) + "\n")


def record(nb: Any, kernel_name: str | None) -> None:
    """Append the execution of ``nb`` to the log named by ``$HTSGD_EXECUTION_LOG`` (nothing when unset)."""
    _append({"title": title(nb), "kernel": kernel_name, "program": Path(sys.argv[0]).name, "pid": os.getpid()})


def event(name: str, **fields: Any) -> None:
    """Append an event that is not an execution (a test that executes chapters has run, and how)."""
    _append({"event": name, **fields})


def read(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The executions and the events of a log."""
    lines = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
    return [x for x in lines if "event" not in x], [x for x in lines if "event" in x]
