"""Chunked, threaded fills of a CPU tensor from independent numpy random streams.

Used by :func:`htsgd.stable.sample` on the CPU. Introduced in the chapter
*Stable distributions*.

Why not ``torch.rand``: torch's CPU generator (mt19937) is serial, and on two cores
``torch.rand(2 * n)`` alone costs 1.9x ``torch.randn(n)``, more than the whole budget
of a stable sampler that needs two uniforms per sample. numpy's PCG64DXSM makes
uniform floats about 2.4 times faster on one core (measured on the 2-core reference
machine), releases the GIL while it fills an array, and independent streams can fill
separate chunks on separate threads. Chunks of
``CHUNK`` samples also keep the transform's scratch arrays in the CPU cache instead
of allocating (and page-faulting) array-sized temporaries.

Reproducibility: one 63-bit seed is drawn from the caller's ``torch.Generator``
(so the generator advances as with any other draw), and
``numpy.random.SeedSequence(seed).spawn`` gives one stream per chunk. The numbers
depend on the generator's state and the size only, never on the number of threads.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

__all__ = ["CHUNK", "fill"]

#: Samples per chunk: 2**18 float32 values (1 MiB) per scratch row stay in the L2 cache.
CHUNK = 1 << 18

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()
_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A forked child inherits the executor object but not its threads: start afresh.
    global _pool, _pool_size
    _pool, _pool_size = None, 0


os.register_at_fork(after_in_child=_reset_after_fork)


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="htsgd-rng")
            _pool_size = workers
        return _pool


def _scratch(rows: int, length: int, dtype: torch.dtype) -> torch.Tensor:
    """This thread's scratch buffer of at least (rows, length), reused across calls."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get((rows, dtype))
    if buf is None or buf.shape[1] < length:
        buf = buffers[(rows, dtype)] = torch.empty((rows, length), dtype=dtype)
    return buf


def fill(
    out: torch.Tensor,
    generator: torch.Generator,
    transform: Callable[..., object],
    uniforms: int = 2,
    scratch: int = 1,
) -> torch.Tensor:
    """Fill ``out`` chunk by chunk: uniforms in, ``transform`` applied in place.

    Parameters
    ----------
    out : torch.Tensor
        Contiguous 1-d CPU tensor, float32 or float64; overwritten and returned.
    generator : torch.Generator
        CPU generator; one seed is drawn from it.
    transform : callable
        Called as ``transform(chunk, *uniform_rows, *scratch_rows)`` for each chunk,
        where ``chunk`` is the slice of ``out`` (length m <= ``CHUNK``) already holding
        U[0, 1) uniforms, ``uniform_rows`` are ``uniforms - 1`` more arrays of m
        uniforms, and ``scratch_rows`` are ``scratch`` arrays of length m to use freely.
        It must leave its result in ``chunk``.
    uniforms, scratch : int
        Rows of uniforms (``chunk`` included) and of scratch per chunk.
    """
    n = out.numel()
    if n == 0:
        return out
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator).item())
    chunk_size = CHUNK
    n_chunks = math.ceil(n / chunk_size)
    streams = np.random.SeedSequence(seed).spawn(n_chunks)
    np_dtype = _NUMPY_DTYPES[out.dtype]

    def work(i: int) -> None:
        chunk = out[i * chunk_size : (i + 1) * chunk_size]
        m = chunk.numel()
        buf = _scratch(uniforms - 1 + scratch, m, out.dtype)
        rows = [buf[r, :m] for r in range(buf.shape[0])]
        rng = np.random.Generator(np.random.PCG64DXSM(streams[i]))
        for arr in [chunk, *rows[: uniforms - 1]]:
            rng.random(out=arr.numpy(), dtype=np_dtype)
        transform(chunk, *rows)

    workers = torch.get_num_threads()
    if workers <= 1 or n_chunks == 1:
        for i in range(n_chunks):
            work(i)
    else:
        # torch and numpy release the GIL in their array loops, so chunks run in parallel.
        list(_executor(workers).map(work, range(n_chunks)))
    return out
