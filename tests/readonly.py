"""A folder that refuses every write, simulated rather than made with permissions (issue 19 §6).

Root (CI) writes anywhere, whatever a folder's mode, and a read-only bind mount needs privileges; so the tests of
what the package does with a folder it cannot write patch the few calls that write instead. Every way of
writing under the folder fails with ``EACCES``, as in a folder of mode 0o555: opening a file for writing
(``open``/``io.open``, so ``Path.write_bytes`` and the like, and ``os.open``, so ``tempfile.mkstemp``), making a
folder (``os.mkdir``, so ``Path.mkdir`` and ``os.makedirs``), and creating, renaming or removing an entry
(``os.replace``, ``os.rename``, ``os.unlink``/``os.remove``, ``os.rmdir``). Reading works as before.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path


def deny_writes_under(monkeypatch, folder: Path) -> None:
    """Make every write under ``folder`` fail with ``PermissionError`` (EACCES) for the rest of the test (or of
    ``monkeypatch.context()``)."""
    real_open, real_os_open = io.open, os.open
    root = Path(folder).resolve()

    def inside(path) -> bool:
        return not isinstance(path, int) and Path(os.fsdecode(path)).resolve().is_relative_to(root)

    def denied(path):
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def fake_open(file, mode="r", *args, **kwargs):
        if set(mode) & set("wax+") and inside(file):
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            raise denied(path)
        return real_os_open(path, flags, *args, **kwargs)

    def refusing(real, *positions):  # a call that writes the folders holding its paths at these positions
        def fake(*args, **kwargs):
            for i in positions:
                if i < len(args) and inside(args[i]):
                    raise denied(args[i])
            return real(*args, **kwargs)

        return fake

    for module, name, fake in ((io, "open", fake_open), (builtins, "open", fake_open), (os, "open", fake_os_open),
                               (os, "mkdir", refusing(os.mkdir, 0)), (os, "replace", refusing(os.replace, 0, 1)),
                               (os, "rename", refusing(os.rename, 0, 1)), (os, "unlink", refusing(os.unlink, 0)),
                               (os, "remove", refusing(os.remove, 0)), (os, "rmdir", refusing(os.rmdir, 0))):
        monkeypatch.setattr(module, name, fake)
