"""The sweep runner: every cell of a sweep that is not cached yet, on any executor.

:func:`run_sweep` asks the :class:`~htsgd.sweep.cache.Cache` which cells are done,
runs the others (grid first, then the matched-steps controls, which need their
noisy cell's iteration count), stores each record as soon as its cell finishes, and
returns the results table. Only this process writes the cache, so Dask workers
need no shared file system.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._checks import check_bool, check_choice, check_int
from .._io import atomic_write_bytes, atomic_write_text, read_regular, remove_stale_temporaries
from .cache import Cache, cell_hash, make_record
from .cell import jsonable
from .config import EXECUTORS, ExperimentConfig, SweepConfig, load_config
from .executors import Workers, _init_worker, check_scheduler, open_executor
from .registry import Runner, get_runner
from .tables import flatten_result

__all__ = ["run_sweep", "write_results", "read_results"]


def _execute(
    config: dict[str, Any], runner: str, function: Runner, threads: int | None
) -> dict[str, Any]:
    """Run one cell (in a worker). Top-level and given plain data, so any executor can ship it.

    ``function`` is the registered runner itself (pickled by reference): a worker
    never looks a name up, so what this process registered reaches every worker.
    """
    _init_worker(threads)
    start = time.perf_counter()
    metrics = function(config)
    if not isinstance(metrics, dict):
        raise TypeError(f"runner {runner!r} must return a dict, got {type(metrics).__name__}")
    return {
        "metrics": jsonable(metrics),
        "seconds": time.perf_counter() - start,
        "host": platform.node(),
    }


class _Progress:
    def __init__(self, total: int, initial: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="cell")

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Run:
    """One call of :func:`run_sweep`: the cache, the records so far, the executor (started lazily)."""

    def __init__(
        self,
        config: SweepConfig,
        cache: Cache,
        stack: contextlib.ExitStack,
        executor_options: dict[str, Any],
        progress: bool,
        recompute: bool,
    ) -> None:
        self.config, self.cache, self.stack = config, cache, stack
        self.executor_options, self.progress, self.recompute = executor_options, progress, recompute
        self.records: dict[str, dict[str, Any]] = {}
        self.workers: Workers | None = None
        self.function = get_runner(config.runner)
        self.prepared = False

    def _workers(self, n_pending: int) -> Workers:
        # Started on first need: a fully cached sweep starts no process at all.
        if self.workers is None:
            self.workers = self.stack.enter_context(
                open_executor(n_pending=n_pending, **self.executor_options)
            )
        return self.workers

    def _finish(self, cell: ExperimentConfig, digest: str, compute: Callable[[], Any]) -> None:
        try:
            out = compute()
            record = make_record(
                cell,
                digest,
                out["metrics"],
                runner=self.config.runner,
                seconds=out["seconds"],
                host=out.get("host"),
            )
        except Exception as err:
            raise RuntimeError(
                f"sweep {self.config.name!r}: cell {digest[:12]} ({cell.label()}) failed: {err}"
            ) from err
        self.records[digest] = self.cache.put(record)

    def run(
        self, cells: list[ExperimentConfig], hashes: list[str], desc: str, *, force: bool = False
    ) -> None:
        """Run the cells that are not done (all of them if ``force``); store each record at once."""
        pending: dict[str, ExperimentConfig] = {}
        for cell, digest in zip(cells, hashes, strict=True):
            record = None if self.recompute or force else self.cache.get(digest)
            if record is not None:
                self.records[digest] = record
            else:
                pending.setdefault(digest, cell)
        total = len(set(hashes))
        bar = _Progress(total, total - len(pending), desc, self.progress)
        try:
            if not pending:
                return
            if not self.prepared:
                # Only now: a cache that already holds every cell may be read-only.
                self.cache.prepare()
                self.prepared = True
            workers = self._workers(len(pending))
            task = (self.config.runner, self.function, workers.threads)
            if workers.executor is None:
                for digest, cell in pending.items():
                    self._finish(cell, digest, lambda c=cell: _execute(c.to_dict(), *task))
                    bar.update()
                return
            futures = {
                workers.executor.submit(_execute, cell.to_dict(), *task): (cell, digest)
                for digest, cell in pending.items()
            }
            try:
                for future in cf.as_completed(futures):
                    cell, digest = futures[future]
                    self._finish(cell, digest, future.result)
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        finally:
            bar.close()

    def _iterations(self, digest: str) -> int | None:
        iters = self.records[digest]["metrics"].get("iterations")
        ok = isinstance(iters, int) and not isinstance(iters, bool) and iters >= 1
        return iters if ok else None

    def controls(self, grid: list[ExperimentConfig], hashes: list[str]) -> list[tuple[ExperimentConfig, str]]:
        """The matched-steps controls: (noise-free cell, hash of the noisy cell it matches)."""
        out = []
        for cell, digest in zip(grid, hashes, strict=True):
            if cell.noisy and any(math.isclose(cell.alpha, a) for a in self.config.matched_steps):
                iters = self._iterations(digest)
                if iters is None:
                    # A cached record without a usable count is damaged: run its cell again, once.
                    warnings.warn(
                        f"corrupt cache file {self.cache.path(digest)} (iterations is "
                        f"{self.records[digest]['metrics'].get('iterations')!r}): "
                        "the cell will be recomputed",
                        stacklevel=3,
                    )
                    self.run([cell], [digest], f"{self.config.name} (recompute)", force=True)
                    iters = self._iterations(digest)
                if iters is None:
                    raise ValueError(
                        f"cell {digest[:12]} has no iteration count to match: "
                        f"{self.records[digest]['metrics'].get('iterations')!r} "
                        f"(runner {self.config.runner!r})"
                    )
                control = cell.replace(alpha=None, sigma=0.0, stop_train_acc=None, max_iters=iters)
                out.append((control, digest))
        return out


def _check_results_folder(results: Any) -> Path | None:
    if results is None:
        return None
    folder = Path(results)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"results must be a folder, but {folder} is a file")
    return folder


def _frame(
    records: dict[str, dict[str, Any]],
    grid_hashes: list[str],
    controls: list[tuple[ExperimentConfig, str]],
    control_hashes: list[str],
) -> Any:
    import pandas as pd

    rows = [{"role": "grid", "matched_to": None, **flatten_result(records[h])} for h in grid_hashes]
    for (_, matched), h in zip(controls, control_hashes, strict=True):
        rows.append({"role": "matched_steps", "matched_to": matched, **flatten_result(records[h])})
    frame = pd.DataFrame(rows)
    first = ["hash", "role", "matched_to"]
    return frame[first + [c for c in frame.columns if c not in first]]


def run_sweep(
    config: SweepConfig | str | os.PathLike[str],
    *,
    results: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | Cache | None = None,
    executor: str | cf.Executor | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    recompute: bool = False,
    max_cells: int | None = None,
) -> Any:
    """Run every cell of a sweep that is not cached yet; return one row per cell.

    Parameters
    ----------
    config : SweepConfig, path or name
        The sweep, a TOML file, or a packaged sweep's name (:func:`load_config`).
    results : path, optional
        A folder that receives ``results.csv`` (one row per cell, flattened by
        :func:`flatten_result`) and ``sweep.json`` (the config and the table's
        SHA-256; ``write_results``, read back by :func:`read_results`). Nothing
        is written when None.
    cache : path or Cache, optional
        The cell cache (:func:`cache_dir`).
    executor : {"local", "serial", "dask"} or concurrent.futures.Executor, optional
        ``"local"`` (default): a process pool of ``workers`` processes, each with
        one torch thread. ``"serial"``: in this process. ``"dask"``: a Dask
        ``LocalCluster`` with ``workers`` single-threaded processes, or the cluster
        at ``scheduler``. An ``Executor`` instance is used as it is (and not shut
        down).
    workers : int, optional
        Worker processes; by default one per CPU this process may use
        (:func:`available_cpus`), at most one per pending cell.
    scheduler : str, optional
        Address of a running Dask scheduler (``executor="dask"`` only).
    progress : bool
        Show a progress bar (tqdm: a widget in notebooks, text in terminals).
    recompute : bool
        Ignore the cache and run every cell again (results are overwritten).
    max_cells : int, optional
        Refuse a grid of more cells (default ``$HTSGD_MAX_CELLS``, else
        ``htsgd.sweep.config.MAX_CELLS``), counted before any cell is built.

    Returns
    -------
    pandas.DataFrame
        One row per cell in grid order, then the controls; columns ``hash``,
        ``role`` (``"grid"`` or ``"matched_steps"``), ``matched_to`` (the hash of
        the noisy cell a control matches), the config fields and the flattened
        metrics. :func:`load_result` gives a cell's full record from its ``hash``.

    Raises
    ------
    ConfigError
        If the grid has more than ``max_cells`` cells.
    CacheError
        Before any cell runs, if a cell must run and the cache folder is a file or
        cannot be written (a cache that already holds every cell may be read-only).
    NotADirectoryError
        Before any cell runs, if ``results`` is a file.
    RuntimeError
        If a cell fails (naming the cell); finished cells stay cached.

    Notes
    -----
    Each finished cell is written to the cache as soon as it completes, so an
    interrupted sweep loses at most the cells that were running. Controls
    (``matched_steps``) need their noisy cell's iteration count, so they run
    after the grid. Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(config, SweepConfig):
        config = load_config(config)
    if workers is not None:
        workers = check_int("workers", workers, low=1)
    check_bool("progress", progress)
    check_bool("recompute", recompute)
    if scheduler is not None:
        if executor != "dask":
            raise ValueError(f"scheduler is only used with executor='dask', got executor={executor!r}")
        scheduler = check_scheduler(scheduler)
    if isinstance(executor, str):
        check_choice("executor", executor, EXECUTORS)
    elif executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(
            f"executor must be one of {EXECUTORS}, a concurrent.futures.Executor or None, got {executor!r}"
        )
    out = _check_results_folder(results)
    store = Cache(cache)
    grid = config.cells(max_cells=max_cells)
    grid_hashes = [cell_hash(c, config.runner) for c in grid]
    options = {"executor": executor, "workers": workers, "scheduler": scheduler}
    with contextlib.ExitStack() as stack:
        run = _Run(config, store, stack, options, progress, recompute)
        run.run(grid, grid_hashes, config.name)
        controls = run.controls(grid, grid_hashes)
        control_hashes = [cell_hash(c, config.runner) for c, _ in controls]
        if controls:
            run.run([c for c, _ in controls], control_hashes, f"{config.name} (controls)")

    frame = _frame(run.records, grid_hashes, controls, control_hashes)
    if out is not None:
        write_results(out, frame, config)
    return frame


def write_results(folder: str | os.PathLike[str], frame: Any, config: SweepConfig) -> None:
    """Write ``results.csv``, then ``sweep.json`` naming the table's SHA-256: one atomic pair.

    Each file is written atomically; ``sweep.json`` (the config and, under
    ``results``, the table's file name, SHA-256 and row count) is written last, so
    a process killed between the two leaves a ``sweep.json`` that does not name the
    ``results.csv`` beside it, which :func:`read_results` refuses. Temporary files
    of killed writers in the folder are removed first.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    table = frame.to_csv(index=False).encode("utf-8")
    manifest = config.to_dict()
    manifest["results"] = {
        "file": "results.csv",
        "sha256": hashlib.sha256(table).hexdigest(),
        "rows": len(frame),
    }
    atomic_write_bytes(folder / "results.csv", table)
    atomic_write_text(folder / "sweep.json", json.dumps(manifest, indent=2) + "\n")


#: The largest results table or sweep.json :func:`read_results` reads.
MAX_RESULTS_BYTES = 1 << 30


def read_results(folder: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The table and the config of a results folder, only if they belong together.

    Returns ``(frame, sweep)``: ``results.csv`` as a pandas DataFrame and
    ``sweep.json`` as a dict (the TOML layout plus ``results``). Introduced in the
    chapter *Compressibility experiments*.

    Raises
    ------
    FileNotFoundError
        If either file is missing.
    ValueError
        If ``sweep.json`` does not name this ``results.csv`` (its SHA-256 or row
        count differ: a run was killed between the two writes, or the files were
        mixed up), or either is not a regular file of bounded size.
    """
    import io

    import pandas as pd

    folder = Path(folder)
    raw = read_regular(folder / "sweep.json", limit=MAX_RESULTS_BYTES, what="sweep.json")
    try:
        sweep = json.loads(raw.decode("utf-8"))
        named = sweep["results"]
        digest, rows = named["sha256"], named["rows"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{folder / 'sweep.json'} does not name its results table ({err.__class__.__name__}: "
            f"{err}); run the sweep again to rewrite the pair"
        ) from err
    table = read_regular(folder / "results.csv", limit=MAX_RESULTS_BYTES, what="results table")
    if hashlib.sha256(table).hexdigest() != digest:
        raise ValueError(
            f"{folder / 'results.csv'} is not the table {folder / 'sweep.json'} names (SHA-256 "
            "differs): a run was interrupted between the two writes; run the sweep again"
        )
    frame = pd.read_csv(io.BytesIO(table))
    if len(frame) != rows:
        raise ValueError(f"{folder / 'results.csv'} has {len(frame)} rows, sweep.json says {rows}")
    return frame, sweep
