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
from .cell import batch_key, jsonable, run_cells
from .config import EXECUTORS, ExperimentConfig, SweepConfig, load_config
from .executors import Workers, _init_worker, check_scheduler, open_executor
from .registry import DEFAULT_RUNNER, Runner, get_runner
from .tables import flatten_result

#: The noise type of every matched-steps control: :class:`ExperimentConfig`'s default.
_NOISE_FREE_TYPE = ExperimentConfig.noise

__all__ = ["run_sweep", "write_results", "read_results", "BATCHED_RUNNER"]

#: The runner part of the cache key of a cell trained in a batch (``run_sweep(batch=E)``):
#: :func:`run_cells`. A member's result does not depend on the other cells
#: of its batch (bit for bit), but batched and lone products may round differently, so a
#: batched cell and a lone one are two cache records.
BATCHED_RUNNER = "htsgd.sweep:run_cells"


def _execute_single(
    config: dict[str, Any], runner: str, function: Runner, threads: int | None
) -> list[dict[str, Any]]:
    """:func:`_execute` as a job of one cell: a list of one output."""
    return [_execute(config, runner, function, threads)]


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


def runner_of(cell: ExperimentConfig, runner: str, batch: int | None) -> str:
    """The runner part of ``cell``'s cache key: ``BATCHED_RUNNER`` when it trains in a batch, else ``runner``."""
    return BATCHED_RUNNER if batch is not None and batch_key(cell) is not None else runner


def _execute_batch(configs: list[dict[str, Any]], threads: int | None) -> list[dict[str, Any]]:
    """Run cells of one batch key as one batched job (in a worker): one output per cell, in order.

    ``seconds`` of each is the job's wall time divided by its cells (the cost per cell).
    """
    _init_worker(threads)
    start = time.perf_counter()
    metrics = run_cells(configs)
    share = (time.perf_counter() - start) / len(configs)
    return [{"metrics": jsonable(m), "seconds": share, "host": platform.node()} for m in metrics]


def _chunks(items: list[Any], most: int) -> list[list[Any]]:
    """``items`` cut into the fewest near-equal chunks of at most ``most``."""
    n = math.ceil(len(items) / most)
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        stop = start + size + (1 if i < extra else 0)
        out.append(items[start:stop])
        start = stop
    return out


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
        self.batch: int | None = None

    def runner_of(self, cell: ExperimentConfig) -> str:
        """The runner part of the cell's cache key (:func:`runner_of`)."""
        return runner_of(cell, self.config.runner, self.batch)

    def hash(self, cell: ExperimentConfig) -> str:
        """The cell's cache key (:func:`cell_hash` with :meth:`runner_of`)."""
        return cell_hash(cell, self.runner_of(cell))

    def _jobs(self, pending: dict[str, ExperimentConfig]) -> list[list[tuple[str, ExperimentConfig]]]:
        """The pending cells as jobs: one cell each, or (``batch``) the cells of one batch key in chunks."""
        if self.batch is None:
            return [[item] for item in pending.items()]
        groups: dict[str | None, list[tuple[str, ExperimentConfig]]] = {}
        for digest, cell in pending.items():
            groups.setdefault(batch_key(cell), []).append((digest, cell))
        jobs = [[item] for item in groups.pop(None, [])]  # cells that cannot batch run alone
        for items in groups.values():
            jobs += _chunks(items, self.batch)
        return jobs

    def _task(self, workers: Workers, job: list[tuple[str, ExperimentConfig]]) -> tuple[Callable[..., Any], tuple]:
        """The top-level function and arguments of ``job`` (plain data, so any executor ships it)."""
        configs = [cell.to_dict() for _, cell in job]
        if self.runner_of(job[0][1]) == BATCHED_RUNNER:
            return _execute_batch, (configs, workers.threads)
        return _execute_single, (configs[0], self.config.runner, self.function, workers.threads)

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
                runner=self.runner_of(cell),
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
            jobs = self._jobs(pending)
            self._collect(jobs, self._workers(len(jobs)), bar)
        finally:
            bar.close()

    def _collect(self, jobs: list[list[tuple[str, ExperimentConfig]]], workers: Workers, bar: _Progress) -> None:
        """Run the jobs and store every cell of a job as soon as the job finishes."""
        if workers.executor is None:  # serial: one job after the other, here
            for job in jobs:
                fn, args = self._task(workers, job)
                self._store(job, lambda fn=fn, args=args: fn(*args), bar)
            return
        futures = {workers.executor.submit(fn, *args): job for job in jobs for fn, args in [self._task(workers, job)]}
        try:
            for future in cf.as_completed(futures):
                self._store(futures[future], future.result, bar)
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def _store(self, job: list[tuple[str, ExperimentConfig]], compute: Callable[[], list[Any]],
               bar: _Progress) -> None:
        """The job's outputs, one record per cell (a failed job fails naming its first cell)."""
        try:
            outs = compute()
        except Exception as err:
            digest, cell = job[0]
            more = f" and {len(job) - 1} more cells of its batch" if len(job) > 1 else ""
            raise RuntimeError(
                f"sweep {self.config.name!r}: cell {digest[:12]} ({cell.label()}){more} failed: {err}"
            ) from err
        for (digest, cell), out in zip(job, outs, strict=True):
            self._finish(cell, digest, lambda o=out: o)
            bar.update()

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
                # A noise-free cell's noise type means nothing: controls of every noise type share one
                # cell (the default type, which every control cached before had) per seed and count.
                control = cell.replace(alpha=None, sigma=0.0, noise=_NOISE_FREE_TYPE, stop_train_acc=None,
                                       max_iters=iters)
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
    batch: int | None = None,
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
    batch : int, optional
        Train the cells that differ only in seed, sigma, alpha and noise type (FCNs) as
        batches of at most ``batch`` networks (:func:`run_cells`; each group
        cut into the fewest near-equal chunks); each batch is one job for the executor and
        each cell is still its own cache record, stored when its batch finishes. ``None``
        (default): every cell alone. Batched cells are cached under the runner name
        ``BATCHED_RUNNER`` (a member's result does not depend on its batch, so a killed
        sweep resumes to identical results whatever the grouping); needs the package's runner.

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
    if batch is not None:
        batch = check_int("batch", batch, low=1)
        if config.runner != DEFAULT_RUNNER:
            raise ValueError(f"batch needs the package's runner {DEFAULT_RUNNER!r}; this sweep names {config.runner!r}")
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
    options = {"executor": executor, "workers": workers, "scheduler": scheduler}
    with contextlib.ExitStack() as stack:
        run = _Run(config, store, stack, options, progress, recompute)
        run.batch = batch
        grid_hashes = [run.hash(c) for c in grid]
        run.run(grid, grid_hashes, config.name)
        controls = run.controls(grid, grid_hashes)
        control_hashes = [run.hash(c) for c, _ in controls]
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
