"""Atomic file writes shared by the training results and the sweep cache.

A write goes to a temporary file in the target's folder, is flushed and fsynced,
then renamed over the target with ``os.replace`` (atomic on POSIX and Windows), so
a process killed at any moment leaves either the old file or the new one, never a
half-written one.

A process killed by ``SIGKILL`` cannot remove its temporary file. Temporary files
are named ``.<target>.<host>.<pid>.<random>.tmp``, so :func:`remove_stale_temporaries`
can tell those of dead processes on this host (removed) from those of live writers
(kept); one from another host is removed once it is an hour old.

Written files get the permissions of a plain ``open``: ``0o666`` less the process's
umask (``tempfile.mkstemp`` would force ``0o600``).

Reads of files that may come from outside (configs, cache records, saved results)
go through :func:`read_regular`: a regular file of bounded size, opened without
blocking, so a FIFO, a device such as ``/dev/zero`` or a folder in its place gives
a clear ``ValueError`` instead of a hang or a ``MemoryError``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import stat
import time
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "read_regular",
    "UnreadableFileError",
    "remove_stale_temporaries",
]

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
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, created with mode 0o666 so the umask applies."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:  # 2**32 names: only a name clash, try another
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> None:
    """Write ``obj`` as strict JSON (NaN and infinities rejected) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=False) + "\n")


def read_regular(path: str | os.PathLike, *, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes.

    The file is opened with ``O_NONBLOCK`` (a FIFO without a writer does not block the
    open) and checked with ``fstat`` on the open descriptor (no race with a rename), and
    at most ``limit + 1`` bytes are read (a file growing meanwhile is caught too).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        Naming ``what`` and the path, if it is not a regular file (a folder, a FIFO, a
        device, a socket) or is larger than ``limit`` bytes.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:  # some systems refuse to open a folder at all
        raise UnreadableFileError(path, what, "a folder, not a regular file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "something")
            raise UnreadableFileError(path, what, f"{kind}, not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(2**20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise UnreadableFileError(path, what, f"larger than the limit of {limit} bytes")
    return b"".join(chunks)


class UnreadableFileError(ValueError):
    """:func:`read_regular` refused a file; ``reason`` says why (e.g. "a FIFO (named pipe), ...")."""

    def __init__(self, path: Path, what: str, reason: str) -> None:
        super().__init__(f"the {what} {path} is {reason}")
        self.path, self.reason = path, reason


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


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
