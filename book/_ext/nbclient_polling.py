"""Work around an nbclient hang: the kernel is idle, its execute_reply was sent, nbclient waits on.

nbclient waits for a cell's ``execute_reply`` with one ``shell_channel.get_msg(timeout=T)``
(T is the cell timeout, 1200 s here). With widget traffic on the other channels (the
explorers, tqdm's progress bar) that single wait sometimes misses the reply that has already
arrived, and the cell "hangs" for the whole timeout with the kernel idle (nbclient issue #312,
seen in our CI and in runs of the experiments chapter). When that wait ends, pyzmq's poll looks
at the socket once more and finds the reply: the cell then succeeds, silently, a whole timeout
late (nothing is logged and no error is recorded). Measured in nbgrader autograde of chapter 1
with a 300 s cell timeout: the explorer cell's reply was sent at 15:48:05 and the next cell
started at 15:53:03. A fresh ``get_msg`` sees the pending message, so waiting in slices of one
second keeps the same overall timeout without the hang.

:func:`install` patches :class:`nbclient.NotebookClient` once per process; the book build
(through the ``htsgd_book`` Sphinx extension), ``scripts/run_chapter.py``, the
plain-install notebook test and nbgrader (through its ``nbgrader_config.py``) call it.

The patched kernel start also records the execution (``execution_log``: one line per notebook when
``$HTSGD_EXECUTION_LOG`` is set), which is how the test suite counts executions of the chapters.

Both ways of starting the kernel client are patched. ``NotebookClient.execute`` (the book
build, ``run_chapter``) goes through ``async_setup_kernel`` and ``async_start_new_kernel_client``;
nbconvert's ``ExecutePreprocessor``, which nbgrader's ``autograde`` and ``validate`` use, goes
through the synchronous ``setup_kernel`` and ``start_new_kernel_client``, which nbclient defines
as ``run_sync(<the original async function>)``: patching the async method alone leaves that path
unpatched, and nbgrader autograde hung on chapter 1's explorer cell (kernel idle, its
``execute_reply`` sent) until the cell timeout.
"""

from __future__ import annotations

from queue import Empty
from time import monotonic
from typing import Any

import execution_log  # book/_ext, next to this module, is on sys.path wherever this one is imported
from jupyter_core.utils import ensure_async, run_sync

_SLICE_S = 1.0


def _sliced(get_msg):
    async def get_msg_in_slices(*args: Any, timeout: float | None = None, **kwargs: Any):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = _SLICE_S if deadline is None else max(0.0, min(_SLICE_S, deadline - monotonic()))
            try:
                return await ensure_async(get_msg(*args, timeout=left, **kwargs))
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    return get_msg_in_slices


def install() -> None:
    """Make every NotebookClient wait for shell replies in one-second slices (idempotent)."""
    from nbclient.client import NotebookClient

    if getattr(NotebookClient, "_htsgd_sliced_shell", False):
        return
    start = NotebookClient.async_start_new_kernel_client

    async def async_start_new_kernel_client(self, *args: Any, **kwargs: Any):
        execution_log.record(self.nb, self.kernel_name)  # one kernel start per executed notebook
        client = await start(self, *args, **kwargs)
        channel = self.kc.shell_channel
        channel.get_msg = _sliced(channel.get_msg)
        return client

    NotebookClient.async_start_new_kernel_client = async_start_new_kernel_client
    # nbclient's sync twin is run_sync(<original>): it would bypass the patch (nbconvert, nbgrader).
    NotebookClient.start_new_kernel_client = run_sync(async_start_new_kernel_client)
    NotebookClient._htsgd_sliced_shell = True
