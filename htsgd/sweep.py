"""Experiment configs and cached, resumable sweeps on any ``concurrent.futures`` executor.

Introduced in the chapter *Compressibility experiments* (``book/experiments.md``).

An experiment is a grid of *cells*. A cell (:class:`ExperimentConfig`) is one
training run (dataset, network, noise, optimiser, stopping rule, seed) followed by
the measurements of the paper: accuracy before and after pruning, the fraction of
parameters pruned, the tail index of the neuron norms. A sweep
(:class:`SweepConfig`) is a base cell and grid axes; its cells are the cartesian
product. Sweeps are written as TOML files (``configs/*.toml``) and checked strictly:
an unknown key or an out-of-range value fails at load time with a message that names
the table, the key, the value and the allowed range.

Caching. Each cell's result is a JSON file named by the SHA-256 of the cell's
canonical JSON (sorted keys, floats normalised, plus :data:`SCHEMA_VERSION` and the
runner's name), written atomically (temporary file in the same folder, ``fsync``,
``os.replace``). So

* a sweep killed at any moment (even by ``SIGKILL``) resumes without redoing
  finished cells, and never reads a half-written one;
* a file that is truncated, not JSON, missing keys, or whose stored hash does not
  match its name or its config is detected and the cell recomputed;
* a finished sweep reloads instantly, and a cell shared by two sweeps runs once.

Cells run on any :class:`concurrent.futures.Executor`: a local process pool by
default (one single-threaded torch per worker process), the current process
(``"serial"``), or a Dask distributed cluster (``"dask"``: a ``LocalCluster``, or a
running scheduler). Only the main process writes the cache, so Dask workers need
no shared file system.

Command line: ``python -m htsgd sweep configs/book-teacher-student.toml``
(see :mod:`htsgd.__main__`).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import importlib
import itertools
import json
import math
import multiprocessing
import numbers
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._checks import check_bool, check_choice, check_int, check_real
from ._io import atomic_write_text

__all__ = [
    "SCHEMA_VERSION",
    "DEFAULT_RUNNER",
    "ConfigError",
    "ExperimentConfig",
    "SweepConfig",
    "load_config",
    "cell_hash",
    "cache_dir",
    "cell_path",
    "load_result",
    "run_cell",
    "run_sweep",
    "flatten_result",
    "summarize",
    "find_results",
]

#: Bumped whenever the meaning of a cached result changes (new metrics, a fix in
#: training or pruning, new random streams): every cell hash changes with it, so old
#: results are not reused. 2: the stable sampler draws its CPU uniforms from numpy streams.
SCHEMA_VERSION = 2

#: The function that runs one cell unless a sweep names another (``module:function``).
DEFAULT_RUNNER = "htsgd.sweep:run_cell"

DATASETS = ("teacher_student", "mnist1d", "digits", "mnist", "cifar10", "ecg5000")
MODELS = ("fcn", "vgg11wide")
NOISE_TYPES = ("per_neuron", "per_weight", "isotropic")
DEVICES = ("cpu", "cuda", "auto")
EXECUTORS = ("local", "serial", "dask")

_REQUIRED_RECORD_KEYS = (
    "schema",
    "hash",
    "runner",
    "config",
    "metrics",
    "htsgd_version",
    "seconds",
)


class ConfigError(ValueError):
    """A sweep or cell configuration is invalid; the message names the table, key and value.

    Introduced in the chapter *Compressibility experiments*.
    """


# --------------------------------------------------------------------------- configs


def _none_or(value: Any) -> Any:
    # TOML has no null: the string "none" stands for None (no noise, no stopping rule).
    if isinstance(value, str) and value.strip().lower() == "none":
        return None
    return value


def _float_tuple(
    name: str, values: Any, *, low: float, high: float, high_open: bool
) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of numbers, got {type(values).__name__} {values!r}")
    out = tuple(
        check_real(f"{name}[{i}]", v, low=low, high=high, high_open=high_open)
        for i, v in enumerate(values)
    )
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {list(out)}")
    return out


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One cell of a sweep: a training run and the measurements taken after it.

    Parameters
    ----------
    dataset : {"teacher_student", "mnist1d", "digits", "mnist", "cifar10", "ecg5000"}
        Passed to :func:`htsgd.data.load`.
    dataset_options : mapping of str to scalar
        Keyword options of the loader (e.g. ``n_train`` for teacher-student).
    data_seed : int or None
        Seed of the dataset itself (generated data, random subsets); the same for
        every training seed, so seeds vary the network and the noise only. ``None``
        keeps the loader's default (the standard MNIST-1D, for instance).
    model : {"fcn", "vgg11wide"}
        :class:`htsgd.nets.FCN` or :class:`htsgd.nets.VGG11Wide`.
    width, depth : int
        FCN width and number of weight layers (``depth = 2``: one hidden layer,
        the authors' convention). Ignored by ``vgg11wide``.
    bias : bool
        FCN biases (the authors use none).
    noise : {"per_neuron", "per_weight", "isotropic"}
        The paper's noise types 1, 2, 3 (:class:`htsgd.optim.HeavyTailedSGD`).
    alpha : float or None
        Tail index of the noise in (0, 2]; ``None`` trains with plain SGD.
    sigma : float
        Noise level (ignored when ``alpha`` is None).
    lr, batch_size, max_iters, eval_every : float, int, int, int
        Step size, batch size, iteration budget, evaluation period.
    stop_train_acc : float or None
        Stop when the training accuracy reaches this value in (0, 1]; ``None``
        runs exactly ``max_iters`` iterations.
    seed : int
        Seed of the initialisation, the batches, the noise and random pruning.
    prune_mce : tuple of float
        Thresholds of the paper's pruning rule: remove the smallest-norm neurons
        while the removed squared Frobenius fraction stays <= threshold.
    prune_fractions : tuple of float
        Fixed fractions of smallest-norm neurons to remove (controls).
    random_prune : bool
        Also prune the same fractions at random (the control for every criterion).
    tail_fraction : float
        Hill's estimator of the neuron-norm tail index uses the top
        ``tail_fraction`` of the norms.
    device : {"cpu", "cuda", "auto"}
        Where the cell trains; ``"auto"`` is CUDA when available.

    Notes
    -----
    Validation happens at construction: a bad value raises ``ValueError`` or
    ``TypeError`` naming the field. Introduced in the chapter *Compressibility
    experiments*.
    """

    dataset: str = "teacher_student"
    dataset_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_seed: int | None = None
    model: str = "fcn"
    width: int = 1024
    depth: int = 2
    bias: bool = False
    noise: str = "per_neuron"
    alpha: float | None = None
    sigma: float = 0.0
    lr: float = 0.1
    batch_size: int = 256
    max_iters: int = 10_000
    stop_train_acc: float | None = None
    eval_every: int = 100
    seed: int = 0
    prune_mce: tuple[float, ...] = (0.1,)
    prune_fractions: tuple[float, ...] = ()
    random_prune: bool = True
    tail_fraction: float = 0.1
    device: str = "cpu"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        check_choice("dataset", self.dataset, DATASETS)
        if not isinstance(self.dataset_options, Mapping):
            raise TypeError(
                f"dataset_options must be a table of options, got {type(self.dataset_options).__name__}"
            )
        opts = {}
        for key in sorted(self.dataset_options):
            value = self.dataset_options[key]
            if not isinstance(key, str):
                raise TypeError(f"dataset_options keys must be strings, got {key!r}")
            if not isinstance(value, (bool, numbers.Real, str)) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise TypeError(
                    f"dataset_options.{key} must be a finite number, a string or a boolean, got {value!r}"
                )
            opts[key] = value
        set_(self, "dataset_options", opts)
        data_seed = _none_or(self.data_seed)
        if data_seed is not None:
            data_seed = check_int("data_seed", data_seed, low=0)
        set_(self, "data_seed", data_seed)
        check_choice("model", self.model, MODELS)
        set_(self, "width", check_int("width", self.width, low=1))
        set_(self, "depth", check_int("depth", self.depth, low=1))
        check_bool("bias", self.bias)
        check_choice("noise", self.noise, NOISE_TYPES)
        alpha = _none_or(self.alpha)
        if alpha is not None:
            alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
        set_(self, "alpha", alpha)
        set_(self, "sigma", check_real("sigma", self.sigma, low=0.0))
        set_(self, "lr", check_real("lr", self.lr, low=0.0, low_open=True))
        set_(self, "batch_size", check_int("batch_size", self.batch_size, low=1))
        set_(self, "max_iters", check_int("max_iters", self.max_iters, low=1))
        stop = _none_or(self.stop_train_acc)
        if stop is not None:
            stop = check_real("stop_train_acc", stop, low=0.0, high=1.0, low_open=True)
        set_(self, "stop_train_acc", stop)
        set_(self, "eval_every", check_int("eval_every", self.eval_every, low=1))
        set_(self, "seed", check_int("seed", self.seed, low=0, high=2**63 - 1))
        set_(
            self,
            "prune_mce",
            _float_tuple("prune_mce", self.prune_mce, low=0.0, high=1.0, high_open=True),
        )
        set_(
            self,
            "prune_fractions",
            _float_tuple(
                "prune_fractions", self.prune_fractions, low=0.0, high=1.0, high_open=True
            ),
        )
        check_bool("random_prune", self.random_prune)
        set_(
            self,
            "tail_fraction",
            check_real("tail_fraction", self.tail_fraction, low=0.0, high=1.0, low_open=True),
        )
        check_choice("device", self.device, DEVICES)

    # Frozen dataclasses hash their fields; dataset_options is a dict, so hash the canonical JSON.
    def __hash__(self) -> int:
        return hash(_canonical_json(self.to_dict()))

    @property
    def noisy(self) -> bool:
        """Whether the run adds stable noise (``alpha`` set and ``sigma > 0``)."""
        return self.alpha is not None and self.sigma > 0

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict (tuples as lists); ``from_dict`` inverts it."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, table: str = "cell") -> ExperimentConfig:
        """Build a cell from a dict, strictly: unknown keys and bad values raise :class:`ConfigError`.

        ``table`` names where the keys came from (a TOML table) in error messages.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"[{table}] must be a table of settings, got {type(data).__name__}")
        _reject_unknown(data, cls.field_names(), table)
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[{table}] {err}") from err

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def label(self) -> str:
        """A short human-readable summary, e.g. ``teacher_student w=1024 alpha=1.75 seed=0``."""
        noise = "no noise" if not self.noisy else f"alpha={self.alpha:g} sigma={self.sigma:g}"
        return f"{self.dataset} {self.model} w={self.width} {noise} seed={self.seed}"


def _reject_unknown(data: Mapping[str, Any], allowed: Sequence[str], table: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(f"[{table}] unknown key {key!r}; allowed keys: {', '.join(allowed)}")


_SWEEP_KEYS = ("name", "description", "runner")
_CONTROL_KEYS = ("matched_steps",)


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A sweep: a base cell, grid axes (cartesian product) and optional controls.

    Parameters
    ----------
    name : str
        Used for the default results folder ``results/<name>``.
    base : ExperimentConfig
        The settings shared by every cell.
    grid : mapping of field name to sequence of values
        The axes; cells are the cartesian product, in the order of
        :class:`ExperimentConfig`'s fields (so the order of keys in a file does
        not matter) and of the values as given.
    matched_steps : tuple of float
        For every noisy grid cell whose ``alpha`` is listed here, add a noise-free
        control cell trained for exactly as many iterations as that noisy cell
        took (``stop_train_acc = None``): the paper's noisy runs take more steps
        than noise-free ones, and this control separates "more steps" from "noise".
    description : str
        One line for humans.
    runner : str
        ``"module:function"`` that runs one cell (a plain dict of the cell's
        config in, a JSON-ready dict of metrics out); :func:`run_cell` by default.

    Notes
    -----
    Introduced in the chapter *Compressibility experiments*.
    """

    name: str
    base: ExperimentConfig = dataclasses.field(default_factory=ExperimentConfig)
    grid: Mapping[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    matched_steps: tuple[float, ...] = ()
    description: str = ""
    runner: str = DEFAULT_RUNNER

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or any(c in self.name for c in "/\\\0"):
            raise ConfigError(
                f"[sweep] name must be a non-empty string without slashes, got {self.name!r}"
            )
        if not isinstance(self.base, ExperimentConfig):
            raise TypeError(f"base must be an ExperimentConfig, got {type(self.base).__name__}")
        if not isinstance(self.grid, Mapping):
            raise ConfigError(f"[grid] must be a table of axes, got {type(self.grid).__name__}")
        fields = ExperimentConfig.field_names()
        _reject_unknown(self.grid, fields, "grid")
        grid: dict[str, tuple[Any, ...]] = {}
        for key in fields:  # canonical axis order
            if key not in self.grid:
                continue
            values = self.grid[key]
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ConfigError(
                    f"[grid] {key} must be a non-empty list of values, got {values!r}"
                )
            # Validate every value now, so a bad one fails at load time, naming the axis.
            for i, value in enumerate(values):
                try:
                    self.base.replace(**{key: value})
                except (TypeError, ValueError) as err:
                    raise ConfigError(f"[grid] {key}[{i}]: {err}") from err
            grid[key] = tuple(_none_or(v) if not isinstance(v, list) else tuple(v) for v in values)
        object.__setattr__(self, "grid", grid)
        try:
            matched = _float_tuple(
                "matched_steps", self.matched_steps, low=0.0, high=2.0, high_open=False
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[controls] {err}") from err
        object.__setattr__(self, "matched_steps", matched)
        if not isinstance(self.description, str):
            raise ConfigError(f"[sweep] description must be a string, got {self.description!r}")
        if not isinstance(self.runner, str) or ":" not in self.runner:
            raise ConfigError(f"[sweep] runner must be 'module:function', got {self.runner!r}")

    def __hash__(self) -> int:
        return hash(_canonical_json(self.to_dict()))

    def cells(self) -> list[ExperimentConfig]:
        """The grid's cells (cartesian product), without the controls."""
        keys = list(self.grid)
        return [
            self.base.replace(**dict(zip(keys, combo, strict=True)))
            for combo in itertools.product(*self.grid.values())
        ]

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout as a dict: ``sweep``, ``cell``, ``grid``, ``controls``."""
        return {
            "sweep": {"name": self.name, "description": self.description, "runner": self.runner},
            "cell": self.base.to_dict(),
            "grid": {
                k: [list(v) if isinstance(v, tuple) else v for v in vals]
                for k, vals in self.grid.items()
            },
            "controls": {"matched_steps": list(self.matched_steps)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> SweepConfig:
        """Build a sweep from the TOML layout, strictly (see :func:`load_config`)."""
        try:
            _reject_unknown(data, ("sweep", "cell", "grid", "controls"), "top level")
            sweep = data.get("sweep", {})
            _reject_unknown(sweep, _SWEEP_KEYS, "sweep")
            if "name" not in sweep:
                raise ConfigError("[sweep] the key 'name' is required")
            controls = data.get("controls", {})
            _reject_unknown(controls, _CONTROL_KEYS, "controls")
            base = ExperimentConfig.from_dict(data.get("cell", {}), table="cell")
            return cls(
                name=sweep["name"],
                description=sweep.get("description", ""),
                runner=sweep.get("runner", DEFAULT_RUNNER),
                base=base,
                grid=data.get("grid", {}),
                matched_steps=tuple(controls.get("matched_steps", ())),
            )
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from err


def load_config(path: str | os.PathLike[str]) -> SweepConfig:
    """Load a sweep from a TOML file, rejecting unknown keys and out-of-range values.

    The file has the tables ``[sweep]`` (``name``, ``description``, ``runner``),
    ``[cell]`` (the fields of :class:`ExperimentConfig`, with a sub-table
    ``[cell.dataset_options]``), ``[grid]`` (lists of values per field) and
    ``[controls]`` (``matched_steps``). The string ``"none"`` stands for ``None``
    (``alpha = "none"``: no noise). Introduced in the chapter *Compressibility
    experiments*.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ConfigError
        Naming the file, the table, the key, the value and the allowed range.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return SweepConfig.from_dict(data, source=str(path))


# --------------------------------------------------------------------------- hashing and the cache


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"cannot hash a non-finite number {value!r}")
        return x
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    raise TypeError(f"cannot hash a value of type {type(value).__name__}: {value!r}")


def _canonical_json(data: Any) -> str:
    # Sorted keys, no whitespace, shortest float repr: the same bytes in every process.
    return json.dumps(_normalise(data), sort_keys=True, separators=(",", ":"), allow_nan=False)


def cell_hash(config: ExperimentConfig | Mapping[str, Any], runner: str = DEFAULT_RUNNER) -> str:
    """SHA-256 (hex) of a cell's canonical JSON, the schema version and the runner.

    Stable across processes, machines and Python hash seeds: it depends only on the
    cell's values (``lr = 1`` and ``lr = 1.0`` give the same hash, since the config
    stores floats). Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(config, ExperimentConfig):
        config = ExperimentConfig.from_dict(config)
    payload = {"schema": SCHEMA_VERSION, "runner": runner, "config": config.to_dict()}
    return hashlib.sha256(_canonical_json(payload).encode()).hexdigest()


def cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """The cell cache folder: ``cache``, else ``$HTSGD_CACHE_DIR``, else ``~/.cache/htsgd/sweeps``.

    Introduced in the chapter *Compressibility experiments*.
    """
    if cache is None:
        cache = os.environ.get("HTSGD_CACHE_DIR") or Path.home() / ".cache" / "htsgd" / "sweeps"
    return Path(cache).expanduser()


def cell_path(digest: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """Where the result of the cell with hash ``digest`` is stored.

    Introduced in the chapter *Compressibility experiments*.
    """
    if (
        not isinstance(digest, str)
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ValueError(f"digest must be a 64-character lowercase hex SHA-256, got {digest!r}")
    return cache_dir(cache) / digest[:2] / f"{digest}.json"


def _read_record(path: Path, digest: str) -> dict[str, Any] | None:
    """The cached record, or None if absent; a corrupt record warns and returns None."""
    if not path.exists():
        return None
    problem = None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        problem, record = f"unreadable ({err.__class__.__name__})", None
    if record is not None:
        if not isinstance(record, dict) or any(k not in record for k in _REQUIRED_RECORD_KEYS):
            problem = "missing keys"
        elif record["hash"] != digest:
            problem = "stored hash differs from the file name"
        else:
            try:
                recomputed = cell_hash(record["config"], record["runner"])
            except (TypeError, ValueError) as err:
                recomputed = f"invalid config ({err})"
            if recomputed != digest:
                problem = "stored config does not match its hash"
            elif not isinstance(record["metrics"], dict):
                problem = "metrics is not a table"
    if problem is not None:
        warnings.warn(
            f"corrupt cache file {path} ({problem}): the cell will be recomputed", stacklevel=3
        )
        return None
    return record


def load_result(digest: str, cache: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The full cached record of one cell (config, metrics, neuron norms, history).

    ``digest`` is the ``hash`` column of :func:`run_sweep`'s table. Introduced in the
    chapter *Compressibility experiments*.

    Raises
    ------
    KeyError
        If the cell is not cached (or its file is corrupt).
    """
    record = _read_record(cell_path(digest, cache), digest)
    if record is None:
        raise KeyError(f"no cached result for cell {digest} in {cache_dir(cache)}")
    return record


# --------------------------------------------------------------------------- running one cell


def _resolve_runner(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"runner {name!r} cannot be imported: {err}") from err
    if not callable(fn):
        raise TypeError(f"runner {name!r} is not callable")
    return fn


def _sub_seed(seed: int, stream: int) -> int:
    # Independent streams (initialisation, batches, noise, pruning) from one cell seed.
    import numpy as np

    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0] >> 1)


_DATA_CACHE: dict[str, Any] = {}


def _load_data(cfg: ExperimentConfig, device: Any) -> Any:
    # A worker runs many cells on the same dataset: generate it once per process.
    from . import data

    key = _canonical_json([cfg.dataset, cfg.dataset_options, cfg.data_seed, str(device)])
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = data.load(
            cfg.dataset, seed=cfg.data_seed, device=device, **cfg.dataset_options
        )
    return _DATA_CACHE[key]


def run_cell(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train one cell and measure it: the default runner of every sweep.

    Steps: load the data, build the network (seeded), train with
    :class:`htsgd.optim.HeavyTailedSGD` (plain SGD when ``alpha`` is None) until
    the stopping rule, evaluate, then prune with every criterion of the config and
    evaluate again: the paper's mce rule (and random pruning of the same fraction),
    fixed fractions of smallest-norm neurons (and random ones). Finally the neuron
    norms of each hidden layer and Hill's estimate of their tail index.

    Parameters
    ----------
    config : mapping
        :meth:`ExperimentConfig.to_dict` of the cell (a plain dict, so that the
        function can be shipped to any executor).

    Returns
    -------
    dict
        JSON-ready metrics: ``iterations``, ``stopped_by``, ``diverged_at``,
        ``train_seconds``, ``train_loss``, ``train_acc``, ``test_loss``,
        ``test_acc``, ``width``; ``prune`` (one entry per criterion, e.g.
        ``"mce0.1"`` or ``"frac0.5"``, each with ``pruned_fraction``,
        ``neuron_fraction``, losses and accuracies, and ``random`` for the random
        control); ``tail_hill``, ``tail_k``; ``neuron_norms`` (a list per hidden
        layer); ``history``.

    Notes
    -----
    Introduced in the chapter *Compressibility experiments*.
    """
    import numpy as np
    import torch

    from . import compress, nets, optim, tails, train

    cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
    device = torch.device(
        "cuda"
        if cfg.device == "auto" and torch.cuda.is_available()
        else ("cpu" if cfg.device == "auto" else cfg.device)
    )
    data = _load_data(cfg, device)
    torch.manual_seed(_sub_seed(cfg.seed, 0))
    if cfg.model == "fcn":
        input_dim = int(np.prod(data.x_train.shape[1:]))
        model = nets.FCN(input_dim, cfg.width, cfg.depth, data.num_classes, bias=cfg.bias)
    else:
        model = nets.VGG11Wide(data.num_classes)
    model = model.to(device)
    if cfg.noisy:
        opt = optim.HeavyTailedSGD(
            optim.paper_param_groups(model),
            lr=cfg.lr,
            alpha=cfg.alpha,
            sigma=cfg.sigma,
            noise=cfg.noise,
            generator=_sub_seed(cfg.seed, 2),
        )
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    result = train.train(
        model,
        data,
        opt,
        batch_size=cfg.batch_size,
        max_iters=cfg.max_iters,
        stop_train_acc=cfg.stop_train_acc,
        eval_every=cfg.eval_every,
        generator=_sub_seed(cfg.seed, 1),
        progress=False,
        on_divergence="record",
        device=device,
    )
    metrics: dict[str, Any] = {
        "iterations": int(result.iterations),
        "stopped_by": str(result.stopped_by),
        "diverged_at": None if result.diverged_at is None else int(result.diverged_at),
        "train_seconds": float(result.seconds),
        "device": str(device),
    }

    def measure(m: Any) -> dict[str, float]:
        train_loss, train_acc = train.evaluate(m, data.x_train, data.y_train, batch_size=8192)
        test_loss, test_acc = train.evaluate(m, data.x_test, data.y_test, batch_size=8192)
        return {
            "train_loss": float(train_loss),
            "train_acc": float(train_acc),
            "test_loss": float(test_loss),
            "test_acc": float(test_acc),
        }

    metrics.update(measure(model))

    prune: dict[str, Any] = {}
    criteria = [(f"mce{t:g}", {"mce": t}) for t in cfg.prune_mce]
    criteria += [(f"frac{f:g}", {"fraction": f}) for f in cfg.prune_fractions]
    if metrics["diverged_at"] is None:
        for name, kwargs in criteria:
            pruned = compress.prune_neurons(model, **kwargs)
            report = compress.prune_report(pruned)
            entry: dict[str, Any] = {
                "pruned_fraction": float(report.fraction),
                "neuron_fraction": float(report.neuron_fraction),
                **measure(pruned),
            }
            if cfg.random_prune:
                # The control: as many neurons in every layer, chosen at random.
                rand = compress.prune_neurons(
                    model,
                    counts=report.pruned_neurons,
                    order="random",
                    generator=_sub_seed(cfg.seed, 3),
                )
                entry["random"] = {
                    "pruned_fraction": float(compress.pruned_fraction(rand)),
                    **measure(rand),
                }
            prune[name] = entry
    metrics["prune"] = prune

    norms = [
        compress.neuron_norms(layer.weight.detach()).double().cpu()
        for _, layer in compress.hidden_layers(model)
    ]
    all_norms = torch.cat(norms) if norms else torch.zeros(0, dtype=torch.float64)
    k = max(2, int(round(cfg.tail_fraction * len(all_norms))))
    usable = (
        len(all_norms) > k and bool(torch.isfinite(all_norms).all()) and bool((all_norms > 0).all())
    )
    metrics["tail_k"] = k
    metrics["tail_hill"] = float(tails.hill(all_norms, k)) if usable else None
    metrics["neuron_norms"] = [n.tolist() for n in norms]
    history = result.history.to_dict() if hasattr(result.history, "to_dict") else result.history
    metrics["history"] = _jsonable(history)
    return metrics


def _jsonable(value: Any) -> Any:
    # Histories may hold numpy scalars, tensors or NaN (a diverged run): JSON-safe copies.
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _init_worker(threads: int | None) -> None:
    # One BLAS thread per worker process: with two threads per process under
    # contention, steps were 30-60x slower on the 2-core machine this book is built on.
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _execute(config: dict[str, Any], runner: str, threads: int | None) -> dict[str, Any]:
    """Run one cell (in a worker). Top-level and given plain data, so any executor can ship it."""
    _init_worker(threads)
    start = time.perf_counter()
    metrics = _resolve_runner(runner)(config)
    if not isinstance(metrics, dict):
        raise TypeError(f"runner {runner!r} must return a dict, got {type(metrics).__name__}")
    return {
        "metrics": _jsonable(metrics),
        "seconds": time.perf_counter() - start,
        "host": platform.node(),
    }


# --------------------------------------------------------------------------- sweeps


def flatten_result(record: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row from a cell record: config and metrics flattened with ``/``; lists dropped.

    E.g. ``prune/mce0.1/test_acc`` and ``dataset_options/n_train``. Introduced in the
    chapter *Compressibility experiments*.
    """
    row: dict[str, Any] = {"hash": record["hash"]}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            if prefix in ("prune_mce", "prune_fractions"):
                row[prefix] = " ".join(f"{v:g}" for v in value)
        else:
            row[prefix] = value

    walk("", record["config"])
    row["alpha"] = record["config"]["alpha"]  # keep None visible as an empty cell
    metrics = {k: v for k, v in record["metrics"].items() if k not in ("history", "neuron_norms")}
    walk("", metrics)
    row["seconds"] = record["seconds"]
    return row


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


def _make_executor(
    executor: Any, workers: int | None, scheduler: str | None, n_pending: int
) -> tuple[cf.Executor | None, Callable[[], None], int | None]:
    """The executor to use, a function that releases what we created, and the torch threads per cell."""
    if isinstance(executor, cf.Executor):
        # Threads share this process's torch: leave its thread count alone.
        return executor, lambda: None, None if isinstance(executor, cf.ThreadPoolExecutor) else 1
    kind = "local" if executor is None else check_choice("executor", executor, EXECUTORS)
    if kind == "serial":
        return None, lambda: None, None
    if kind == "local":
        n = workers or min(os.cpu_count() or 1, n_pending)
        pool = cf.ProcessPoolExecutor(
            max_workers=max(1, n),
            # spawn, not fork: forking a process that already runs torch threads can deadlock.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(1,),
        )
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True), 1
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - dask is an optional dependency
        raise ImportError(
            "executor='dask' needs dask[distributed]: pip install 'htsgd[dask]'"
        ) from err
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        n = workers or min(os.cpu_count() or 1, max(1, n_pending))
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)

    def close() -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    return client.get_executor(pure=False), close, 1


def run_sweep(
    config: SweepConfig | str | os.PathLike[str],
    *,
    results: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    executor: str | cf.Executor | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    recompute: bool = False,
) -> Any:
    """Run every cell of a sweep that is not cached yet; return one row per cell.

    Parameters
    ----------
    config : SweepConfig or path
        The sweep, or a TOML file (:func:`load_config`).
    results : path, optional
        A folder that receives ``results.csv`` (one row per cell, flattened by
        :func:`flatten_result`) and ``sweep.json`` (the config). Nothing is written
        when None.
    cache : path, optional
        The cell cache (:func:`cache_dir`).
    executor : {"local", "serial", "dask"} or concurrent.futures.Executor, optional
        ``"local"`` (default): a process pool of ``workers`` processes, each with
        one torch thread. ``"serial"``: in this process. ``"dask"``: a Dask
        ``LocalCluster`` with ``workers`` single-threaded processes, or the cluster
        at ``scheduler``. An ``Executor`` instance is used as it is (and not shut
        down).
    workers : int, optional
        Worker processes; by default one per core (at most one per pending cell).
    scheduler : str, optional
        Address of a running Dask scheduler (``executor="dask"`` only).
    progress : bool
        Show a progress bar (tqdm: a widget in notebooks, text in terminals).
    recompute : bool
        Ignore the cache and run every cell again (results are overwritten).

    Returns
    -------
    pandas.DataFrame
        One row per cell in grid order, then the controls; columns ``hash``,
        ``role`` (``"grid"`` or ``"matched_steps"``), ``matched_to`` (the hash of
        the noisy cell a control matches), the config fields and the flattened
        metrics. :func:`load_result` gives a cell's full record from its ``hash``.

    Notes
    -----
    Each finished cell is written to the cache as soon as it completes, so an
    interrupted sweep loses at most the cells that were running. Controls
    (``matched_steps``) need their noisy cell's iteration count, so they run
    after the grid. Introduced in the chapter *Compressibility experiments*.
    """
    import pandas as pd

    if not isinstance(config, SweepConfig):
        config = load_config(config)
    if workers is not None:
        workers = check_int("workers", workers, low=1)
    check_bool("progress", progress)
    check_bool("recompute", recompute)
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler is only used with executor='dask', got executor={executor!r}")
    if isinstance(executor, str):
        check_choice("executor", executor, EXECUTORS)
    elif executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(
            f"executor must be one of {EXECUTORS}, a concurrent.futures.Executor or None, got {executor!r}"
        )

    grid = config.cells()
    grid_hashes = [cell_hash(c, config.runner) for c in grid]
    records: dict[str, dict[str, Any]] = {}
    state: dict[str, Any] = {"made": False, "pool": None, "close": None, "threads": None}

    def ensure_pool(n_pending: int) -> None:
        # Built lazily: a fully cached sweep starts no process at all.
        if not state["made"]:
            pool, close, threads = _make_executor(executor, workers, scheduler, n_pending)
            state.update(made=True, pool=pool, close=close, threads=threads)

    def run_cells(cells: list[ExperimentConfig], hashes: list[str], desc: str) -> None:
        pending = []
        for c, h in zip(cells, hashes, strict=True):
            rec = None if recompute else _read_record(cell_path(h, cache), h)
            if rec is not None:
                records[h] = rec
            elif h not in {p[1] for p in pending}:
                pending.append((c, h))
        bar = _Progress(len(set(hashes)), len(set(hashes)) - len(pending), desc, progress)
        try:
            if not pending:
                return
            ensure_pool(len(pending))
            pool = state["pool"]
            if pool is None:
                for c, h in pending:
                    try:
                        out = _execute(c.to_dict(), config.runner, state["threads"])
                    except Exception as err:
                        raise RuntimeError(
                            f"sweep {config.name!r}: cell {h[:12]} ({c.label()}) failed: {err}"
                        ) from err
                    records[h] = _store(c, h, out, config.runner, cache)
                    bar.update()
                return
            futures = {
                pool.submit(_execute, c.to_dict(), config.runner, state["threads"]): (c, h)
                for c, h in pending
            }
            try:
                for fut in cf.as_completed(futures):
                    c, h = futures[fut]
                    try:
                        out = fut.result()
                    except Exception as err:
                        raise RuntimeError(
                            f"sweep {config.name!r}: cell {h[:12]} ({c.label()}) failed: {err}"
                        ) from err
                    records[h] = _store(c, h, out, config.runner, cache)
                    bar.update()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        finally:
            bar.close()

    try:
        run_cells(grid, grid_hashes, config.name)
        controls: list[tuple[ExperimentConfig, str]] = []
        for c, h in zip(grid, grid_hashes, strict=True):
            if c.noisy and any(math.isclose(c.alpha, a) for a in config.matched_steps):
                iters = records[h]["metrics"].get("iterations")
                if not isinstance(iters, int) or iters < 1:
                    raise ValueError(f"cell {h[:12]} has no iteration count to match: {iters!r}")
                controls.append(
                    (c.replace(alpha=None, sigma=0.0, stop_train_acc=None, max_iters=iters), h)
                )
        control_hashes = [cell_hash(c, config.runner) for c, _ in controls]
        if controls:
            run_cells([c for c, _ in controls], control_hashes, f"{config.name} (controls)")
    finally:
        if state["close"] is not None:
            state["close"]()

    rows = []
    for h in grid_hashes:
        rows.append({"role": "grid", "matched_to": None, **flatten_result(records[h])})
    for (_, matched), h in zip(controls, control_hashes, strict=True):
        rows.append({"role": "matched_steps", "matched_to": matched, **flatten_result(records[h])})
    frame = pd.DataFrame(rows)
    frame = frame[
        ["hash", "role", "matched_to"]
        + [c for c in frame.columns if c not in ("hash", "role", "matched_to")]
    ]
    if results is not None:
        out = Path(results)
        atomic_write_text(out / "results.csv", frame.to_csv(index=False))
        atomic_write_text(out / "sweep.json", json.dumps(config.to_dict(), indent=2) + "\n")
    return frame


def _store(
    cfg: ExperimentConfig, digest: str, out: Mapping[str, Any], runner: str, cache: Any
) -> dict[str, Any]:
    from . import __version__

    record = {
        "schema": SCHEMA_VERSION,
        "hash": digest,
        "runner": runner,
        "config": cfg.to_dict(),
        "metrics": out["metrics"],
        "seconds": float(out["seconds"]),
        "host": out.get("host"),
        "htsgd_version": __version__,
        "python": sys.version.split()[0],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(cell_path(digest, cache), json.dumps(record, allow_nan=False) + "\n")
    return record


def find_results(name: str, start: str | os.PathLike[str] | None = None) -> Path | None:
    """Find ``results/<name>/results.csv`` in ``start`` (default: the working folder) or a parent.

    The chapters run with ``book/`` as working folder while the command line writes
    ``results/`` at the repository root; this walks up to find it. Introduced in the
    chapter *Compressibility experiments*.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "results" / name / "results.csv"
        if candidate.is_file():
            return candidate
    return None


def summarize(
    frame: Any,
    *,
    criterion: str = "mce0.1",
    by: Sequence[str] = ("width", "alpha"),
    role: str | None = "grid",
) -> Any:
    """Mean over seeds of the paper's table: accuracy before and after pruning, fraction pruned.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`run_sweep`'s table, or a ``results.csv`` read back with pandas.
    criterion : str
        Which pruning to report, e.g. ``"mce0.1"`` or ``"frac0.5"``.
    by : sequence of str
        Columns to group by; ``alpha`` None (no noise) is shown as ``"none"``.
    role : str or None
        Keep only rows of this role (``"grid"``, ``"matched_steps"``); None keeps all.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``seeds``, ``iterations``, ``train_acc``, ``test_acc``,
        ``pruned_fraction`` (and its standard deviation over seeds), ``train_acc_pruned``,
        ``test_acc_pruned`` and, when present, ``test_acc_random`` (random pruning of
        as many neurons). Introduced in the chapter *Compressibility experiments*.
    """
    prefix = f"prune/{criterion}/"
    if f"{prefix}pruned_fraction" not in frame.columns:
        raise ValueError(
            f"criterion {criterion!r} is not in the table; columns start with 'prune/'"
        )
    data = frame if role is None else frame[frame["role"] == role]
    data = data.assign(
        alpha=data["alpha"].map(lambda a: "none" if a is None or a != a else float(a))
    )
    # (output name, source column, aggregation); columns a runner did not produce are left out.
    wanted = [
        ("seeds", "seed", "count"),
        ("iterations", "iterations", "mean"),
        ("train_acc", "train_acc", "mean"),
        ("test_acc", "test_acc", "mean"),
        ("pruned_fraction", f"{prefix}pruned_fraction", "mean"),
        ("pruned_fraction_std", f"{prefix}pruned_fraction", "std"),
        ("train_acc_pruned", f"{prefix}train_acc", "mean"),
        ("test_acc_pruned", f"{prefix}test_acc", "mean"),
        ("test_acc_random", f"{prefix}random/test_acc", "mean"),
    ]
    spec = {name: (col, how) for name, col, how in wanted if col in data.columns}
    out = data.groupby(list(by), sort=False).agg(**spec)
    return out
