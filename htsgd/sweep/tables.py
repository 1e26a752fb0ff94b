"""Result tables: one row per cell, the paper's summary table, filters, and a cell's neuron norms.

:func:`run_sweep` returns (and writes as ``results.csv``) one row per cell, built by
:func:`flatten_result`; :func:`summarize` averages it over seeds into the paper's
table; :func:`select` picks rows by column values; :func:`neuron_norms` reads a
cell's neuron norms back from the cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["flatten_result", "summarize", "find_results", "select", "neuron_norms"]


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
            if prefix in ("prune_mce", "prune_fractions", "prune_curve"):
                row[prefix] = " ".join(f"{v:g}" for v in value)
        else:
            row[prefix] = value

    walk("", record["config"])
    row["alpha"] = record["config"]["alpha"]  # keep None visible as an empty cell
    metrics = {k: v for k, v in record["metrics"].items() if k not in ("history", "neuron_norms")}
    walk("", metrics)
    row["seconds"] = record["seconds"]
    return row


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
    """The paper's table over seeds: mean accuracy before and after pruning, fraction pruned, median steps.

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
        as many neurons). ``seeds`` and ``iterations`` are integers (dtype ``Int64``):
        ``iterations`` is the *median* number of training steps over seeds rounded to
        the nearest integer (half-integers of an even count round to even), since a
        step count is a whole number and a heavy-tailed run's count is better summarised
        by a median than a mean. Integer-valued grouping columns (``width``) stay
        integers in the index. Introduced in the chapter *Compressibility experiments*.
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
        ("iterations", "iterations", "median"),
        ("train_acc", "train_acc", "mean"),
        ("test_acc", "test_acc", "mean"),
        ("pruned_fraction", f"{prefix}pruned_fraction", "mean"),
        ("pruned_fraction_std", f"{prefix}pruned_fraction", "std"),
        ("train_acc_pruned", f"{prefix}train_acc", "mean"),
        ("test_acc_pruned", f"{prefix}test_acc", "mean"),
        ("test_acc_random", f"{prefix}random/test_acc", "mean"),
    ]
    spec = {name: (col, how) for name, col, how in wanted if col in data.columns}
    data = data.astype({c: "int64" for c in by if c != "alpha" and _integral(data[c])})
    out = data.groupby(list(by), sort=False).agg(**spec)
    for name in ("seeds", "iterations"):  # counts print as counts, never as 300.0
        if name in out.columns:
            out[name] = out[name].round().astype("Int64")
    return out


def _integral(column: Any) -> bool:
    """Whether a numeric column holds only whole numbers (a width read back from CSV as 16.0)."""
    import numpy as np

    values = column.to_numpy()
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.bool_):
        return False
    return bool(np.isfinite(values).all() and (values == np.round(values)).all())


def missing_columns(frame: Any, columns: Sequence[str]) -> str:
    """The message naming the ``columns`` a table lacks and listing those it has; ``""`` if none is missing.

    Raises
    ------
    TypeError
        If ``frame`` is not a pandas DataFrame (None included).
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    unknown = [c for c in columns if c not in frame.columns]
    if not unknown:
        return ""
    return f"no column {', '.join(map(repr, unknown))}; the table has {', '.join(map(str, frame.columns))}"


def select(frame: Any, **where: Any) -> Any:
    """The rows of a results table whose columns match every ``column=value`` filter.

    A list, tuple or set value means "any of these"; ``None`` matches a missing
    value (``alpha=None``: the noise-free cells). Column names with a slash (the
    flattened metrics) can be passed with ``**{"prune/mce0.1/test_acc": ...}``.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`run_sweep`'s table or a ``results.csv`` read back with pandas.
    **where
        ``column=value`` filters, all of which must hold.

    Returns
    -------
    pandas.DataFrame
        The matching rows, in their original order (index kept).

    Raises
    ------
    KeyError
        If a filter names a column the table does not have (the message lists them).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"width": [128, 512, 128], "alpha": [None, 1.5, 1.75]})
    >>> select(frame, width=128, alpha=[None, 1.75]).index.tolist()
    [0, 2]

    Introduced in the chapter *Compressibility experiments*.
    """
    import pandas as pd

    unknown = missing_columns(frame, where)
    if unknown:
        raise KeyError(f"select: {unknown}")
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        missing = any(v is None or (isinstance(v, float) and v != v) for v in values)
        present = [v for v in values if not (v is None or (isinstance(v, float) and v != v))]
        match = frame[column].isin(present)
        if missing:
            match = match | frame[column].isna()
        keep &= match
    return frame[keep]


def neuron_norms(
    record_or_hash: Mapping[str, Any] | str,
    cache: str | os.PathLike[str] | Any = None,
    *,
    layer: int = 0,
) -> Any:
    """The neuron norms of one hidden layer of a cell's trained network.

    The norm of each hidden neuron's incoming weights
    (:func:`htsgd.compress.neuron_norms`), as :func:`run_cell` measured them after
    training and stored them in the cell's record.

    Parameters
    ----------
    record_or_hash : mapping or str
        A record (:func:`load_result`) or a cell's hash (the ``hash`` column).
    cache : path or Cache, optional
        Where to look a hash up (:func:`cache_dir`).
    layer : int
        Which hidden layer (0: the first; a one-hidden-layer network has only it).

    Returns
    -------
    numpy.ndarray
        Shape ``(width,)``, float64.

    Raises
    ------
    KeyError
        If the cell is not cached, or its record has no neuron norms (a runner other
        than :func:`run_cell`).
    IndexError
        If the network has no hidden layer ``layer``.

    Introduced in the chapter *Compressibility experiments*.
    """
    import numpy as np

    from .cache import load_result

    record = load_result(record_or_hash, cache) if isinstance(record_or_hash, str) else record_or_hash
    if not isinstance(record, Mapping) or not isinstance(record.get("metrics"), Mapping):
        raise TypeError("record_or_hash must be a cell record (load_result) or a cell's hash")
    layers = record["metrics"].get("neuron_norms")
    if not isinstance(layers, list):
        raise KeyError(f"the record of cell {str(record.get('hash'))[:12]} holds no neuron norms")
    if not isinstance(layer, int) or isinstance(layer, bool) or not -len(layers) <= layer < len(layers):
        raise IndexError(
            f"layer must be an integer in [0, {len(layers)}) (hidden layers of the network), got {layer!r}"
        )
    return np.asarray(layers[layer], dtype=np.float64)
