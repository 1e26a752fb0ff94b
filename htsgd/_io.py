"""Atomic file writes shared by the training results and the sweep cache.

A write goes to a temporary file in the target's folder, is flushed and fsynced,
then renamed over the target with ``os.replace`` (atomic on POSIX and Windows), so
a process killed at any moment leaves either the old file or the new one, never a
half-written one.

A process killed by ``SIGKILL`` cannot remove its temporary file. Temporary files
are named ``.<target>.<host>.<pid>.<random>.tmp``, so :func:`remove_stale_temporaries`
can tell those of dead processes on this host (removed) from those of live writers
(kept); one from another host is removed once it is an hour old.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "remove_stale_temporaries"]

# A temporary file from another host, whose writer we cannot ask, is stale after this long.
_FOREIGN_STALE_SECONDS = 3600.0
_TMP = re.compile(r"^\..+\.(?P<host>[^.]*)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _host() -> str:
    # Dots would make the name ambiguous; the host is only compared with itself.
    return socket.gethostname().replace(".", "-") or "host"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> None:
    """Write ``obj`` as strict JSON (NaN and infinities rejected) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, *, depth: int = 0) -> int:
    """Remove the temporary files that killed writers left in ``folder`` (and ``depth`` levels below).

    A temporary file is stale when its writer (host and pid in its name) is this
    host's and no longer runs, or it comes from another host and is over an hour
    old. Returns how many were removed.
    """
    folder = Path(folder)
    host, now, removed = _host(), time.time(), 0
    level, folders = [folder], [folder]
    for _ in range(depth):
        level = [p for f in level for p in f.iterdir() if p.is_dir() and not p.is_symlink()]
        folders += level
    for f in folders:
        for p in f.glob(".*.tmp"):
            match = _TMP.match(p.name)
            if match is None or not p.is_file():
                continue
            try:
                if match["host"] == host:
                    stale = int(match["pid"]) != os.getpid() and not _alive(int(match["pid"]))
                else:
                    stale = now - p.stat().st_mtime > _FOREIGN_STALE_SECONDS
                if stale:
                    p.unlink()
                    removed += 1
            except OSError:  # vanished meanwhile, or not ours to remove
                continue
    return removed
