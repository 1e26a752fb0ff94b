"""The record of the plain-install test's chapters, ``plain_install.json``, merged by several processes.

tests/test_plain_install.py runs each chapter as its own test, in whichever of `make test`'s workers takes it;
each merges its chapter into ``$HTSGD_BENCH_DIR/plain_install.json`` here (the status chapter shows it). Standard
library only, so that the test of concurrent merges starts its processes quickly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path


def record(bench: Path, chapter: str, entry: dict, session: str, fields: dict) -> dict:
    """Merge one chapter's ``entry`` into ``bench/plain_install.json`` and return the record: under an exclusive
    lock (the chapters run in several processes), written to a temporary file and renamed over the old one (a
    reader never sees half a file). ``fields`` (the install time, the machine, the load at the chapter's start)
    describe the session: the first chapter of a session (``session``, a name no other session has) sets them and
    the session's start time; later ones only add their chapter and the load at their end. Chapters that this
    session did not run keep their earlier entries, each with the time it was measured."""
    bench.mkdir(parents=True, exist_ok=True)
    path = bench / "plain_install.json"
    with open(bench / ".plain_install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = {}
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            results = json.loads(path.read_text())
        if results.get("session") != session:
            results = {**fields, "session": session, "measured_at": entry["measured_at"],
                       "chapters": results.get("chapters", {})}
        results["chapters"] = dict(sorted({**results["chapters"], chapter: entry}.items()))
        results["load_average_after"] = entry["load_average"][1]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp, path)
    return results
