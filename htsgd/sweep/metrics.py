"""What a cell's metrics may hold: a declared type and range per metric, checked on every read.

A cached record is read back from a file anyone with access to the cache could
have edited, so its metrics are validated before they reach a table or steer a
run: a noisy cell's ``iterations`` sets how long its matched-steps control trains,
and an accuracy of ``1e308`` or ``NaN`` would flow into ``results.csv``.

Every metric is declared once in :data:`METRICS` (name, type, range, whether it
may be missing as ``null``); :func:`declare_metric` adds one for a new runner. A
declared name is checked wherever it appears in the metrics (top level, inside
``prune`` entries, their ``random`` controls, the ``history`` columns), as a
scalar or as a list (of lists) of scalars; a declared name that holds a table
(``pruning_curve``, ``prunable_at``) declares every number under it, except under
keys declared themselves. Undeclared metrics only have to be
finite. An upper bound may name a field of the cell's config (``iterations`` is
at most ``max_iters``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = ["Metric", "METRICS", "declare_metric", "metrics_problem"]


@dataclasses.dataclass(frozen=True)
class Metric:
    """The type and range of one metric.

    Parameters
    ----------
    kind : {"int", "real", "str", "bool"}
        ``"real"`` accepts integers too; booleans are never numbers.
    low, high : float or str, optional
        Closed bounds of a number; ``high`` may name a field of the cell's config.
    nullable : bool
        ``None`` (JSON ``null``: not computed, or NaN replaced by the runner) is allowed.
    """

    kind: str
    low: float | None = None
    high: float | str | None = None
    nullable: bool = False

    def problem(self, name: str, value: Any, config: Mapping[str, Any]) -> str | None:
        """What is wrong with one scalar value of this metric (None if nothing)."""
        if value is None:
            return None if self.nullable else f"{name} is null"
        if self.kind == "str":
            return None if isinstance(value, str) else f"{name} is not a string: {value!r}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"{name} is not a boolean: {value!r}"
        wanted = numbers.Integral if self.kind == "int" else numbers.Real
        if isinstance(value, bool) or not isinstance(value, wanted):
            return f"{name} is not {'an integer' if self.kind == 'int' else 'a number'}: {value!r}"
        high = config.get(self.high) if isinstance(self.high, str) else self.high
        if (self.low is not None and value < self.low) or (
            isinstance(high, numbers.Real) and value > high
        ):
            where = f" (the config's {self.high})" if isinstance(self.high, str) else ""
            return f"{name} = {value!r} is outside [{self.low}, {high}]{where}"
        return None


#: The metrics of :func:`htsgd.sweep.run_cell` (and of any runner that uses these names).
METRICS: dict[str, Metric] = {
    "iterations": Metric("int", 0, "max_iters"),
    "diverged_at": Metric("int", 0, "max_iters", nullable=True),
    "stopped_by": Metric("str"),
    "device": Metric("str"),
    "train_seconds": Metric("real", 0.0),
    "train_loss": Metric("real", 0.0, nullable=True),
    "test_loss": Metric("real", 0.0, nullable=True),
    "train_acc": Metric("real", 0.0, 1.0, nullable=True),
    "test_acc": Metric("real", 0.0, 1.0, nullable=True),
    "pruned_fraction": Metric("real", 0.0, 1.0),
    "neuron_fraction": Metric("real", 0.0, 1.0),
    "tail_k": Metric("int", 0),
    "tail_hill": Metric("real", 0.0, nullable=True),
    "neuron_norms": Metric("real", 0.0),
    "iteration": Metric("int", 0),
    # A mapping declared as one metric: every number under it (per rule, per fraction or drop).
    "pruning_curve": Metric("real", 0.0, 1.0),
    "prunable_at": Metric("real", 0.0, 1.0),
    # Spearman's rank correlations (noise_ranking); null where undefined (no noise).
    "ranking": Metric("real", -1.0, 1.0, nullable=True),
}


def declare_metric(name: str, metric: Metric) -> None:
    """Declare (or redeclare) the type and range of the metric ``name``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if not isinstance(metric, Metric):
        raise TypeError(f"metric must be a Metric, got {type(metric).__name__}")
    METRICS[name] = metric


def _finite_problem(path: str, value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value!r}"
    return None


def _walk(path: str, value: Any, spec: Metric | None, config: Mapping[str, Any]) -> str | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            # an undeclared key inherits its table's metric (pruning_curve.norm.0.5 is an accuracy)
            problem = _walk(f"{path}.{key}", item, METRICS.get(str(key), spec), config)
            if problem:
                return problem
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = _walk(f"{path}[{i}]", item, spec, config)
            if problem:
                return problem
        return None
    problem = _finite_problem(path, value)
    if problem is None and spec is not None:
        problem = spec.problem(path, value, config)
    return problem


def metrics_problem(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """What is wrong with a cell's metrics (None if nothing): a type, a range, a non-finite number.

    >>> metrics_problem({"iterations": 10**12, "test_acc": 0.9}, {"max_iters": 1000})
    "metrics.iterations = 1000000000000 is outside [0, 1000] (the config's max_iters)"
    """
    return _walk("metrics", metrics, None, config)
