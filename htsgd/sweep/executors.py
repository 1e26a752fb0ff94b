"""Where cells run: a local process pool, this process, a Dask cluster, or any executor.

:func:`open_executor` is a context manager: it starts what the sweep needs (lazily,
so a fully cached sweep starts no process), yields an :class:`Workers` object, and
releases what it started on exit, also when a cell fails or the sweep is
interrupted. Pools are sized from the CPUs this process may use
(:func:`available_cpus`: its affinity mask and its cgroup's CPU quota), not from the
machine's core count.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import multiprocessing
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._checks import check_choice, check_int
from .config import EXECUTORS

__all__ = ["available_cpus", "process_pool", "Workers", "open_executor", "check_scheduler", "probe_scheduler"]

# How long the whole Dask handshake (connect, exchange of greetings) may take before the
# sweep gives up: a real scheduler answers in milliseconds; a silent TCP peer never does.
_DASK_CONNECT_TIMEOUT_S = 5


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup's quota (v2 ``cpu.max``, v1 ``cfs_quota_us``); None if unlimited."""
    candidates = [
        (root / "cpu.max", None),
        (root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"),
        (root / "cpu,cpuacct" / "cpu.cfs_quota_us", root / "cpu,cpuacct" / "cpu.cfs_period_us"),
    ]
    for quota_file, period_file in candidates:
        try:
            text = quota_file.read_text().split()
            if period_file is None:  # v2: "max 100000" or "200000 100000"
                quota, period = text[0], text[1]
            else:
                quota, period = text[0], period_file.read_text().split()[0]
        except (OSError, IndexError):
            continue
        if quota in ("max", "-1"):
            return None
        try:
            q, p = float(quota), float(period)
        except ValueError:
            continue
        if q > 0 and p > 0:
            return q / p
    return None


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by its cgroup's CPU quota.

    ``os.cpu_count()`` counts the machine's cores; a container or a batch job often
    gets fewer, and a pool sized for the machine then thrashes.

    >>> 1 <= available_cpus() <= (os.cpu_count() or 1)
    True

    Introduced in the chapter *Compressibility experiments*.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+]*)://)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(?P<port>\d{1,5})$")


def check_scheduler(address: Any) -> str:
    """Validate a Dask scheduler address ``[scheme://]host:port`` and return it.

    Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(address, str):
        raise TypeError(f"scheduler must be a str 'host:port', got {type(address).__name__}")
    match = _ADDRESS.match(address.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"scheduler must be an address like 'tcp://host:8786' or 'host:8786', got {address!r}"
        )
    if match["scheme"] not in (None, "tcp", "tls", "inproc", "ucx", "ws", "wss"):
        raise ValueError(f"scheduler {address!r}: unknown protocol {match['scheme']!r}")
    return address.strip()


def _init_worker(threads: int | None) -> None:
    # One BLAS thread per worker process: with two threads per process under
    # contention, steps were 30-60x slower on the 2-core machine this book is built on.
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def process_pool(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """The local pool that :func:`~htsgd.sweep.run_sweep` starts for a sweep: ``workers`` spawned processes
    (default: :func:`~htsgd.sweep.available_cpus`), one torch thread each, started on the first cell that
    needs them.

    Pass one pool as ``executor=`` to several :func:`~htsgd.sweep.run_sweep` calls and their cells share its
    workers: each worker starts Python and torch, and builds a dataset, once rather than once per sweep (about
    5 CPU seconds a worker, and 6 more for MNIST-1D). The caller shuts it down (a ``with`` block). Introduced in
    the chapter *Compressibility experiments*.

    >>> import htsgd as hs
    >>> with hs.sweep.process_pool(1) as pool:
    ...     pool.submit(sum, [1, 2]).result()
    3
    """
    size = available_cpus() if workers is None else check_int("workers", workers, low=1)
    return cf.ProcessPoolExecutor(
        max_workers=size,
        # spawn, not fork: forking a process that already runs torch threads can deadlock.
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(1,),
    )


@dataclass
class Workers:
    """What :func:`open_executor` yields: an executor (None: run in this process) and torch threads per cell."""

    executor: cf.Executor | None
    threads: int | None


@contextlib.contextmanager
def open_executor(
    executor: str | cf.Executor | None,
    *,
    workers: int | None,
    scheduler: str | None,
    n_pending: int,
) -> Iterator[Workers]:
    """Start the executor a sweep asked for; shut down on exit what was started here.

    ``"local"`` (or None): a spawn-context process pool of ``workers`` processes
    (default: :func:`available_cpus`, at most one per pending cell), one torch thread
    each. ``"serial"``: this process. ``"dask"``: the cluster at ``scheduler``, or a
    ``LocalCluster`` of ``workers`` single-threaded processes. An
    ``Executor`` instance is used as it is and not shut down. Introduced in the
    chapter *Compressibility experiments*.
    """
    if isinstance(executor, cf.Executor):
        # Threads share this process's torch: leave its thread count alone.
        yield Workers(executor, None if isinstance(executor, cf.ThreadPoolExecutor) else 1)
        return
    kind = "local" if executor is None else check_choice("executor", executor, EXECUTORS)
    size = workers or min(available_cpus(), max(1, n_pending))
    if kind == "serial":
        yield Workers(None, None)
    elif kind == "local":
        pool = process_pool(size)
        try:
            yield Workers(pool, 1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        with _dask(scheduler, size) as client:
            yield Workers(client.get_executor(pure=False), 1)


def probe_scheduler(address: str, timeout: float) -> None:
    """Connect to ``address`` and complete Dask's handshake within ``timeout`` seconds in all.

    ``dask.distributed.Client(timeout=...)`` bounds the TCP connect only: a peer that
    accepts the connection and then says nothing (an HTTP server, the dashboard's
    port) hangs its handshake for ever, and one that answers ``HTTP/1.1 400`` is read
    as a frame count of 3e18 bytes. The probe runs Dask's own connect in a daemon
    thread with its own event loop (so it also works inside a notebook's loop) under
    one deadline, and turns every failure into one ``ConnectionError`` line.
    Introduced in the chapter *Compressibility experiments*.
    """
    import asyncio
    import threading

    from distributed.comm import connect

    async def handshake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        comm.abort()

    outcome: dict[str, BaseException | None] = {}

    def target() -> None:
        try:
            asyncio.run(handshake())
            outcome["error"] = None
        except BaseException as err:  # noqa: BLE001 - reported below, in this thread's caller
            outcome["error"] = err

    thread = threading.Thread(target=target, name="htsgd-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)  # wait_for ends the handshake at `timeout`; 2 s for the loop's teardown
    if thread.is_alive() or "error" not in outcome:
        err: BaseException = TimeoutError("no answer")
    else:
        err = outcome["error"]
        if err is None:
            return
    if isinstance(err, (TimeoutError, asyncio.TimeoutError, OSError)):
        message = (
            f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
            f"(no Dask handshake: {err.__class__.__name__})"
        )
    else:  # e.g. MemoryError: an HTTP reply read as the size of a Dask frame
        message = (
            f"{address!r} is not a Dask scheduler: its answer is not Dask's protocol "
            f"({err.__class__.__name__})"
        )
    raise ConnectionError(message) from err


@contextlib.contextmanager
def _dask(scheduler: str | None, size: int) -> Iterator[Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - dask is an optional dependency
        raise ImportError(
            "executor='dask' needs dask[distributed]: pip install 'htsgd[dask]'"
        ) from err
    if scheduler:
        probe_scheduler(check_scheduler(scheduler), _DASK_CONNECT_TIMEOUT_S)
        try:
            client = Client(scheduler, timeout=_DASK_CONNECT_TIMEOUT_S)
        except OSError as err:  # includes TimeoutError
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {scheduler!r} "
                f"within {_DASK_CONNECT_TIMEOUT_S} s ({err.__class__.__name__})"
            ) from err
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=size, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()
