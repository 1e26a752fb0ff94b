"""Sweep and cell configurations: strict TOML files, validated at load time.

A cell (:class:`ExperimentConfig`) is one training run and its measurements; a
sweep (:class:`SweepConfig`) is a base cell and grid axes. Sweeps are TOML files;
the ones the book and the paper use ship inside the package (``htsgd/configs/``)
and are found by name (:func:`config_names`, :func:`load_config`). An unknown key,
a repeated grid value or an out-of-range value fails at load time with a message
that names the file, the table, the key, the value and the allowed range.

The allowed values of the fields come from the modules that implement them:
datasets from :func:`htsgd.data.names`, noise types from
:func:`htsgd.noise.names`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import numbers
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .. import data as _data
from .. import noise as _noise
from .._checks import check_bool, check_choice, check_int, check_real
from .._io import read_regular
from .registry import DEFAULT_RUNNER, is_registered, unknown_runner_message

__all__ = [
    "DEFAULT_RUNNER",
    "MAX_CELLS",
    "DATASETS",
    "MODELS",
    "NOISE_TYPES",
    "DEVICES",
    "EXECUTORS",
    "ConfigError",
    "ExperimentConfig",
    "SweepConfig",
    "load_config",
    "config_names",
    "config_path",
]

#: The largest number of grid cells a sweep may have unless the caller allows more
#: (``cells(max_cells=...)``, ``run_sweep(max_cells=...)``, ``--max-cells``, or the
#: environment variable ``HTSGD_MAX_CELLS``): about 57 times the largest packaged
#: sweep (``digits-frontier``, 1760 grid cells), and small enough that the list of cells
#: fits in memory at once (a 1e9-cell grid is a typo, not a plan).
MAX_CELLS = 100_000

#: Datasets a cell can train on: every classification loader of :mod:`htsgd.data`
#: (the measurements are accuracies, so the regression task is left out).
DATASETS = tuple(name for name in _data.names() if not name.endswith("_regression"))
#: :class:`htsgd.nets.FCN`, :class:`htsgd.nets.SmallCNN` and :class:`htsgd.nets.VGG11Wide`.
MODELS = ("fcn", "cnn", "vgg11wide")
#: The noise types (the paper's types 1, 2, 3): the names of :mod:`htsgd.noise`'s registry.
NOISE_TYPES = _noise.names()
DEVICES = ("cpu", "cuda", "auto")
#: Where cells run: a local process pool, this process, or a Dask cluster.
EXECUTORS = ("local", "serial", "dask")

#: The largest config file :func:`load_config` reads (the packaged ones are about 2 KB).
MAX_CONFIG_BYTES = 2**20

# The packaged sweeps: htsgd/configs/<name>.toml.
_CONFIG_PACKAGE = "htsgd.configs"


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


def canonical_json(data: Any) -> str:
    """Sorted keys, no whitespace, shortest float repr: the same bytes in every process."""
    return json.dumps(_normalise(data), sort_keys=True, separators=(",", ":"), allow_nan=False)


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
    name: str, values: Any, *, low: float, high: float, high_open: bool, sort: bool = False
) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of numbers, got {type(values).__name__} {values!r}")
    out = tuple(
        check_real(f"{name}[{i}]", v, low=low, high=high, high_open=high_open)
        for i, v in enumerate(values)
    )
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {list(out)}")
    # A set of thresholds has no order: sorted, [0.2, 0.1] and [0.1, 0.2] are one cell (and
    # the sorted lists of the packaged sweeps keep their cache keys).
    return tuple(sorted(out)) if sort else out


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
    model : {"fcn", "cnn", "vgg11wide"}
        :class:`htsgd.nets.FCN`, :class:`htsgd.nets.SmallCNN` (image inputs: flat digits are
        reshaped to one channel of a square) or :class:`htsgd.nets.VGG11Wide`.
    width, depth : int
        FCN width and number of weight layers (``depth = 2``: one hidden layer,
        the authors' convention). For ``cnn``, ``width`` is the filters of the first
        convolution (the second has twice as many) and ``depth`` is ignored; ``vgg11wide``
        ignores both.
    bias : bool
        FCN and CNN biases (the authors use none).
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
        while the removed squared Frobenius fraction stays <= threshold. Stored
        sorted: the order of a set of criteria has no meaning.
    prune_fractions : tuple of float
        Fixed fractions of smallest-norm neurons to remove (controls); sorted.
    random_prune : bool
        Also prune the same fractions at random (the control for every criterion).
    prune_curve : tuple of float
        The grid of a pruning curve (:func:`htsgd.compress.pruning_curve`): distinct
        fractions in [0, 1) including 0, e.g. 0, 0.05, ..., 0.95 (stored sorted). When set, the cell
        records test accuracy after smallest-norm and after random pruning of each
        fraction, and :func:`htsgd.compress.prunable_at` of both at drops 0.005, 0.01 and
        0.02. Empty (the default) records no curve, and is left out of :meth:`to_dict`,
        so every cell without a curve keeps its hash.
    noise_ranking : bool
        Record what the neuron norms rank (:func:`htsgd.compress.noise_ranking`): train with
        ``record_noise=True`` and store, under ``ranking``, Spearman's rank correlation of the
        final neuron norms with the norms of the accumulated noise (``spearman_noise``) and
        of the noise-free part (``spearman_noise_free``) for the first hidden layer (and per
        hidden layer in ``*_layers`` lists, kept in the cache only); prune as many neurons
        as each criterion removes by the largest norm first (``largest``) and by the
        smallest noise-free norm first (``noise_free``) beside ``random``; and, with a
        ``prune_curve``, add both orders to the curve. A noise-free run (no noise, the
        matched-steps controls) has zero noise: ``spearman_noise`` is NaN (stored as null),
        its noise-free norms are its norms. Off by default, and then left out of
        :meth:`to_dict`, so every other cell keeps its hash.
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
    prune_curve: tuple[float, ...] = ()
    noise_ranking: bool = False
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
        set_(self, "sigma", check_real("sigma", self.sigma, low=0.0, high=math.inf, high_open=True))
        set_(
            self,
            "lr",
            check_real("lr", self.lr, low=0.0, high=math.inf, low_open=True, high_open=True),
        )
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
            _float_tuple(
                "prune_mce", self.prune_mce, low=0.0, high=1.0, high_open=True, sort=True
            ),
        )
        set_(
            self,
            "prune_fractions",
            _float_tuple(
                "prune_fractions",
                self.prune_fractions,
                low=0.0,
                high=1.0,
                high_open=True,
                sort=True,
            ),
        )
        check_bool("random_prune", self.random_prune)
        set_(self, "prune_curve", _curve_grid(self.prune_curve))
        check_bool("noise_ranking", self.noise_ranking)
        set_(
            self,
            "tail_fraction",
            check_real("tail_fraction", self.tail_fraction, low=0.0, high=1.0, low_open=True),
        )
        check_choice("device", self.device, DEVICES)

    # Frozen dataclasses hash their fields; dataset_options is a dict, so hash the canonical JSON.
    def __hash__(self) -> int:
        return hash(canonical_json(self.to_dict()))

    @property
    def noisy(self) -> bool:
        """Whether the run adds stable noise (``alpha`` set and ``sigma > 0``)."""
        return self.alpha is not None and self.sigma > 0

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict (tuples as lists); ``from_dict`` inverts it.

        Fields added after cells were cached (``_NEW_FIELDS``) are left out while they hold
        their default, so the canonical JSON, and with it the hash, of every older cell stays.
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _NEW_FIELDS and value == f.default:
                continue
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


#: Fields added after sweeps were cached: :meth:`ExperimentConfig.to_dict` omits them at their default.
_NEW_FIELDS = frozenset({"prune_curve", "noise_ranking"})


def _curve_grid(values: Any) -> tuple[float, ...]:
    """``prune_curve`` checked and sorted: empty, or distinct fractions in [0, 1) that include 0."""
    grid = _float_tuple("prune_curve", values, low=0.0, high=1.0, high_open=True, sort=True)
    if grid and grid[0] != 0.0:
        raise ValueError(
            f"prune_curve must start at 0 (the unpruned network, the curve's reference), got {list(grid)}"
        )
    return grid


def _reject_unknown(data: Mapping[str, Any], allowed: Sequence[str], table: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(f"[{table}] unknown key {key!r}; allowed keys: {', '.join(allowed)}")


def cell_limit(max_cells: int | None = None) -> int:
    """The grid-size limit: ``max_cells``, else ``$HTSGD_MAX_CELLS``, else ``MAX_CELLS``."""
    if max_cells is None:
        env = os.environ.get("HTSGD_MAX_CELLS", "").strip()
        if not env:
            return MAX_CELLS
        try:
            max_cells = int(env)
        except ValueError:
            raise ConfigError(f"HTSGD_MAX_CELLS must be a whole number, got {env!r}") from None
    return check_int("max_cells", max_cells, low=1)


def _check_sweep_name(name: Any) -> None:
    # The name becomes a folder, results/<name>: letters, digits, ".", "_", "-", and it
    # may not start with a dot (no "..", no hidden folders, nothing outside results/).
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            "[sweep] name must be letters, digits, '.', '_' or '-', not starting with '.' "
            f"or '-' (it names the results folder), got {name!r}"
        )


def _canonical_axis(base: ExperimentConfig, key: str, values: Any) -> tuple[Any, ...]:
    """One grid axis, validated value by value, as the cells store the values."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ConfigError(f"[grid] {key} must be a non-empty list of values, got {values!r}")
    out, seen = [], {}
    for i, value in enumerate(values):
        # Validate every value now, so a bad one fails at load time, naming the axis.
        try:
            stored = getattr(base.replace(**{key: value}), key)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[grid] {key}[{i}]: {err}") from err
        # A repeated value (also a reordered list, sorted above) would run the same cells twice.
        canon = canonical_json(stored)
        if canon in seen:
            raise ConfigError(
                f"[grid] {key} repeats the value {values[i]!r} (positions {seen[canon]} and {i})"
            )
        seen[canon] = i
        out.append(dict(stored) if isinstance(stored, Mapping) else stored)
    return tuple(out)


def _canonical_grid(base: ExperimentConfig, grid: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(grid, Mapping):
        raise ConfigError(f"[grid] must be a table of axes, got {type(grid).__name__}")
    fields = ExperimentConfig.field_names()
    _reject_unknown(grid, fields, "grid")
    # Canonical axis order: the fields' order, whatever the order of the keys in the file.
    return {key: _canonical_axis(base, key, grid[key]) for key in fields if key in grid}


def _canonical_grids(base: ExperimentConfig, grid: Any) -> Any:
    """One table of axes, or (``[[grid]]``) a non-empty list of them, each canonical."""
    if isinstance(grid, Mapping):
        return _canonical_grid(base, grid)
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid:
        raise ConfigError(f"[grid] must be a table of axes or a non-empty list of them, got {grid!r}")
    out = []
    for i, table in enumerate(grid):
        try:
            out.append(_canonical_grid(base, table))
        except ConfigError as err:
            raise ConfigError(f"[[grid]] number {i + 1}: {err}") from err
    return tuple(out)


def _product(base: ExperimentConfig, grid: Mapping[str, tuple[Any, ...]]) -> Iterator[ExperimentConfig]:
    keys = list(grid)
    for combo in itertools.product(*grid.values()):
        yield base.replace(**dict(zip(keys, combo, strict=True)))


def _check_matched_alphas(matched: tuple[float, ...], alphas: Sequence[Any]) -> None:
    # A control for an alpha no cell trains with would silently add nothing.
    noisy = [a for a in alphas if a is not None]
    for alpha in matched:
        if not any(math.isclose(alpha, a) for a in noisy):
            raise ConfigError(
                f"[controls] matched_steps names alpha {alpha:g}, which no cell of the grid "
                f"trains with (alphas: {', '.join(f'{a:g}' for a in noisy) or 'none'})"
            )


def _loader_options(dataset: str) -> tuple[str, ...] | None:
    """The options the loader of ``dataset`` takes (None: any, it takes ``**kwargs``)."""
    import inspect

    # The sweep sets the seed (data_seed) and the device itself.
    params = inspect.signature(_data._LOADERS[dataset]).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(
        p.name for p in params if p.kind in kinds and p.name not in ("device", "seed", "generator")
    )


def _check_dataset_options(base: ExperimentConfig, grid: Mapping[str, tuple[Any, ...]]) -> None:
    """Every option of every cell is one its dataset's loader takes (a typo fails at load)."""
    for dataset in grid.get("dataset", (base.dataset,)):
        allowed = _loader_options(dataset)
        if allowed is None:
            continue
        for options in grid.get("dataset_options", (base.dataset_options,)):
            for key in options:
                if key not in allowed:
                    raise ConfigError(
                        f"[cell.dataset_options] {key!r} is not an option of the {dataset!r} "
                        f"loader; its options: {', '.join(allowed) or 'none'}"
                    )


_SWEEP_KEYS = ("name", "description", "runner")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
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
    grid : mapping of field name to sequence of values, or a sequence of such mappings
        The axes; cells are the cartesian product, in the order of
        :class:`ExperimentConfig`'s fields (so the order of keys in a file does
        not matter) and of the values as given. Several grids (TOML ``[[grid]]``,
        :attr:`grids`): the cells of each in turn, a cell that an earlier grid
        already holds counted once (the noise-free cells once, not once per noise
        level, say).
    matched_steps : tuple of float
        For every noisy grid cell whose ``alpha`` is listed here, add a noise-free
        control cell trained for exactly as many iterations as that noisy cell
        took (``stop_train_acc = None``): the paper's noisy runs take more steps
        than noise-free ones, and this control separates "more steps" from "noise".
        Each listed alpha must be one the grid trains with.
    description : str
        One line for humans.
    runner : str
        The registered name (``htsgd.sweep.registry``) of the function that
        runs one cell (a plain dict of the cell's config in, a JSON-ready dict of
        metrics out); :func:`run_cell` by default. A config names a runner, it
        never imports one. With the default runner, ``dataset_options`` must be
        options of the dataset's loader (a typo fails here, not at the first cell).

    Notes
    -----
    Introduced in the chapter *Compressibility experiments*.
    """

    name: str
    base: ExperimentConfig = dataclasses.field(default_factory=ExperimentConfig)
    grid: Mapping[str, tuple[Any, ...]] | tuple[Mapping[str, tuple[Any, ...]], ...] = dataclasses.field(default_factory=dict)
    matched_steps: tuple[float, ...] = ()
    description: str = ""
    runner: str = DEFAULT_RUNNER

    def __post_init__(self) -> None:
        _check_sweep_name(self.name)
        if not isinstance(self.base, ExperimentConfig):
            raise TypeError(f"base must be an ExperimentConfig, got {type(self.base).__name__}")
        object.__setattr__(self, "grid", _canonical_grids(self.base, self.grid))
        try:
            matched = _float_tuple(
                "matched_steps", self.matched_steps, low=0.0, high=2.0, high_open=False
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[controls] {err}") from err
        object.__setattr__(self, "matched_steps", matched)
        _check_matched_alphas(matched, [a for g in self.grids for a in g.get("alpha", (self.base.alpha,))])
        if not isinstance(self.description, str):
            raise ConfigError(f"[sweep] description must be a string, got {self.description!r}")
        if not is_registered(self.runner):
            raise ConfigError(f"[sweep] {unknown_runner_message(self.runner)}")
        if self.runner == DEFAULT_RUNNER:  # run_cell hands dataset_options to the loader
            for grid in self.grids:
                _check_dataset_options(self.base, grid)

    def __hash__(self) -> int:
        return hash(canonical_json(self.to_dict()))

    @property
    def grids(self) -> tuple[Mapping[str, tuple[Any, ...]], ...]:
        """The tables of axes: one, or those of a ``[[grid]]`` list."""
        return (self.grid,) if isinstance(self.grid, Mapping) else tuple(self.grid)

    @property
    def n_cells(self) -> int:
        """How many grid cells the grids' products hold (counted, not built): an upper bound of
        ``len(cells())`` with several grids, which may share cells."""
        return sum(math.prod(len(values) for values in grid.values()) for grid in self.grids)

    def cells(self, *, max_cells: int | None = None) -> list[ExperimentConfig]:
        """The grid's cells (cartesian product), without the controls.

        Refuses with :class:`ConfigError`, before building any cell, a grid of more
        than ``max_cells`` cells (default ``$HTSGD_MAX_CELLS``, else ``MAX_CELLS``).
        """
        limit = cell_limit(max_cells)
        if self.n_cells > limit:
            shape = " + ".join(" x ".join(str(len(v)) for v in g.values()) for g in self.grids)
            raise ConfigError(
                f"[grid] {self.n_cells:,} cells ({shape}) "
                f"is more than the limit of {limit:,}; raise it with --max-cells, max_cells= "
                "or HTSGD_MAX_CELLS if you mean it"
            )
        # dict: the first of equal cells, in order (ExperimentConfig hashes by its canonical JSON)
        return list(dict.fromkeys(cell for grid in self.grids for cell in _product(self.base, grid)))

    def subset(self, **axes: Sequence[Any]) -> SweepConfig:
        """The same sweep with its cells restricted to the given values of some fields.

        ``subset(width=[256], seed=range(5))`` keeps, in every grid, the values of each named
        axis that are listed (a grid without that axis is kept when the base value is listed);
        a grid left with no cell is dropped, and so are the matched-steps controls of alphas left
        with no cell. The cells keep their hashes, so a subset computes
        part of a sweep and the full sweep later finds those cells cached: a long sweep runs
        and commits in blocks.

        Raises
        ------
        ConfigError
            For an unknown field, a bad value, or a subset with no cell.
        """
        _reject_unknown(axes, ExperimentConfig.field_names(), "subset")
        wanted = {key: {canonical_json(v) for v in _canonical_axis(self.base, key, list(values))}
                  for key, values in axes.items()}
        grids = []
        for grid in self.grids:
            if any(k not in grid and canonical_json(getattr(self.base, k)) not in w for k, w in wanted.items()):
                continue
            kept = {k: tuple(v for v in vals if k not in wanted or canonical_json(v) in wanted[k])
                    for k, vals in grid.items()}
            if all(kept.values()):
                grids.append(kept)
        if not grids:
            raise ConfigError(f"[subset] no cell of {self.name!r} has {axes}")
        alphas = [a for g in grids for a in g.get("alpha", (self.base.alpha,)) if a is not None]
        matched = tuple(m for m in self.matched_steps if any(math.isclose(m, a) for a in alphas))
        return dataclasses.replace(self, grid=grids[0] if len(grids) == 1 else grids, matched_steps=matched)

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout as a dict: ``sweep``, ``cell``, ``grid``, ``controls``."""
        return {
            "sweep": {"name": self.name, "description": self.description, "runner": self.runner},
            "cell": self.base.to_dict(),
            "grid": _grid_dict(self.grid) if isinstance(self.grid, Mapping) else [_grid_dict(g) for g in self.grid],
            "controls": {"matched_steps": list(self.matched_steps)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> SweepConfig:
        """Build a sweep from the TOML layout, strictly (see :func:`load_config`)."""
        try:
            if not isinstance(data, Mapping):
                raise ConfigError(f"a sweep must be a table, got {type(data).__name__}")
            _reject_unknown(data, ("sweep", "cell", "grid", "controls"), "top level")
            for table in ("sweep", "cell", "grid", "controls"):
                if table == "grid" and isinstance(data.get(table), list):  # [[grid]]: checked per table
                    continue
                if not isinstance(data.get(table, {}), Mapping):
                    value = data[table]
                    raise ConfigError(
                        f"[{table}] must be a table, got {type(value).__name__} {value!r}"
                    )
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


def _grid_dict(grid: Mapping[str, tuple[Any, ...]]) -> dict[str, list[Any]]:
    return {k: [list(v) if isinstance(v, tuple) else v for v in vals] for k, vals in grid.items()}


def config_names() -> tuple[str, ...]:
    """The names of the sweeps that ship with the package (``htsgd/configs/*.toml``).

    >>> "book-teacher-student" in config_names()
    True

    Introduced in the chapter *Compressibility experiments*.
    """
    folder = resources.files(_CONFIG_PACKAGE)
    return tuple(
        sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def config_path(name: str) -> Path:
    """The file of the packaged sweep ``name`` (e.g. ``"book-teacher-student"``).

    Raises ``FileNotFoundError`` listing :func:`config_names` when there is no such
    sweep. Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    stem = name[: -len(".toml")] if name.endswith(".toml") else name
    if stem not in config_names():
        raise FileNotFoundError(
            f"no packaged sweep named {name!r}; packaged sweeps: {', '.join(config_names())}"
        )
    # The package is installed as files (setuptools package data), so this is a real path.
    return Path(str(resources.files(_CONFIG_PACKAGE).joinpath(f"{stem}.toml")))


def _resolve(config: str | os.PathLike[str]) -> Path:
    path = Path(config)
    if path.exists() or path.is_symlink():
        return path
    if isinstance(config, os.PathLike) or len(path.parts) > 1:
        raise FileNotFoundError(f"no such config file: {path}")
    # A bare word that is not a file here: a packaged sweep's name.
    try:
        return config_path(str(config))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no such config file or packaged sweep: {config!r}; "
            f"packaged sweeps: {', '.join(config_names())}"
        ) from None


def load_config(config: str | os.PathLike[str]) -> SweepConfig:
    """Load a sweep from a TOML file, or a packaged sweep by name, strictly.

    ``config`` is a path, or the name of a sweep that ships with the package
    (:func:`config_names`, e.g. ``"book-teacher-student"``); a file of that name in
    the working folder wins. The file has the tables ``[sweep]`` (``name``,
    ``description``, ``runner``), ``[cell]`` (the fields of :class:`ExperimentConfig`,
    with a sub-table ``[cell.dataset_options]``), ``[grid]`` (lists of distinct values
    per field; or several ``[[grid]]`` tables, whose cells add up) and ``[controls]`` (``matched_steps``). The string ``"none"`` stands
    for ``None`` (``alpha = "none"``: no noise).

    >>> sweep = load_config("book-teacher-student")
    >>> sweep.name, len(sweep.cells())
    ('book-teacher-student', 45)

    The file is read only if it is a regular file of at most ``MAX_CONFIG_BYTES``;
    a grid's cells are counted, not built, until :meth:`SweepConfig.cells`, which
    refuses more than ``MAX_CELLS`` unless allowed.

    Introduced in the chapter *Compressibility experiments*.

    Raises
    ------
    FileNotFoundError
        If there is no such file and no packaged sweep of that name.
    ConfigError
        Naming the file, the table, the key, the value and the allowed range; also
        for a file that is a folder, not UTF-8 or not TOML.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = _resolve(config)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a TOML file")
    try:
        raw = read_regular(path, limit=MAX_CONFIG_BYTES, what="config")
    except ValueError as err:  # a FIFO, a device, a file over the limit
        raise ConfigError(str(err)) from err
    except PermissionError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    except RecursionError as err:
        raise ConfigError(f"{path}: nested too deeply to be a sweep") from err
    return SweepConfig.from_dict(data, source=str(path))
