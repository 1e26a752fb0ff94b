"""Experiment configs and cached, resumable sweeps on any ``concurrent.futures`` executor.

Introduced in the chapter *Compressibility experiments* (``book/experiments.md``).

An experiment is a grid of *cells*. A cell (:class:`ExperimentConfig`) is one
training run (dataset, network, noise, optimiser, stopping rule, seed) followed by
the measurements of the paper: accuracy before and after pruning, the fraction of
parameters pruned, the tail index of the neuron norms. A sweep
(:class:`SweepConfig`) is a base cell and grid axes; its cells are the cartesian
product. One module per job:

``config``
    :class:`ExperimentConfig`, :class:`SweepConfig`, strict TOML loading
    (:func:`load_config`, by path or by the name of a packaged sweep,
    :func:`config_names`), and the allowed values of every field.
``cache``
    :class:`Cache`: is a cell done, its record, storing one (atomically, named by
    :func:`cell_hash`, with a checksum); :func:`load_result`.
``metrics``
    The declared type and range of every metric, checked on every read of a record.
``cell``
    :func:`run_cell`, the default runner: train, prune, measure.
``registry``
    The runners a config may name (:func:`register_runner`, :func:`runner_names`,
    entry points in the group ``htsgd.runners``): a config is data, never an import.
``executors``
    ``executors.open_executor`` (a context manager: local process pool, this process,
    Dask) sized by :func:`available_cpus`; :func:`process_pool`, one local pool that several sweeps share.
``runner``
    :func:`run_sweep`; :func:`read_results` (a results table and its config, only
    as a consistent pair).
``tables``
    :func:`flatten_result`, :func:`summarize`, :func:`select`, :func:`neuron_norms`,
    :func:`find_results`.

Command line: ``python -m htsgd sweep book-teacher-student`` (a packaged sweep's
name or a TOML file; see :mod:`htsgd.__main__`).

>>> import htsgd as hs
>>> sweep = hs.sweep.load_config("book-teacher-student")
>>> sorted(sweep.grid)
['alpha', 'seed', 'width']
"""

from __future__ import annotations

from .cache import (
    SCHEMA_VERSION,
    Cache,
    CacheError,
    cache_dir,
    cell_hash,
    cell_path,
    load_result,
)
from .cell import run_cell, run_cells
from .config import (
    DATASETS,
    DEFAULT_RUNNER,
    DEVICES,
    EXECUTORS,
    MAX_CELLS,
    MODELS,
    NOISE_TYPES,
    ConfigError,
    ExperimentConfig,
    SweepConfig,
    config_names,
    config_path,
    load_config,
)
from .executors import available_cpus, process_pool
from .registry import register_runner, runner_names
from .runner import BATCHED_RUNNER, read_results, run_sweep
from .tables import find_results, flatten_result, neuron_norms, select, summarize

__all__ = [
    "SCHEMA_VERSION",
    "DEFAULT_RUNNER",
    "BATCHED_RUNNER",
    "MAX_CELLS",
    "DATASETS",
    "MODELS",
    "NOISE_TYPES",
    "DEVICES",
    "EXECUTORS",
    "ConfigError",
    "CacheError",
    "ExperimentConfig",
    "SweepConfig",
    "Cache",
    "load_config",
    "config_names",
    "config_path",
    "cell_hash",
    "cache_dir",
    "cell_path",
    "load_result",
    "run_cell",
    "run_cells",
    "process_pool",
    "run_sweep",
    "read_results",
    "register_runner",
    "runner_names",
    "available_cpus",
    "flatten_result",
    "summarize",
    "select",
    "neuron_norms",
    "find_results",
]
