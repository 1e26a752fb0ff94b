"""Reading a sweep's results as evidence: paired differences by seed, intervals, verdicts.

Introduced in the chapter *Compressibility experiments* (``book/experiments.md``).

The chapter asks questions of the form "does A lose less accuracy than B?" of a
results table (:func:`htsgd.sweep.run_sweep`). Cells that share a seed share the
initial network and the batches, so the fair comparison is *paired*: one
difference per seed, then an interval over seeds. This module keeps that
bookkeeping out of the chapter:

* :func:`accuracy_drop` adds the accuracy lost by each pruning criterion;
* :func:`paired` lines up a metric of two sets of cells by seed (a noisy cell and
  its matched-steps control, or two noise settings), and :func:`paired_interval`
  gives the interval of those paired differences;
* :func:`mean_interval` is the Student-t interval of a mean; :class:`Interval`
  says whether it settles a predicted sign (:meth:`Interval.verdict`);
* :func:`median_iqr` summarises heavy-tailed quantities (the fraction pruned) by
  medians and interquartile ranges instead of means and standard deviations;
* :func:`slope_interval` fits a rate (a log-log slope of a median, IQR, MAD or mean
  over seeds) with a paired bootstrap interval over seeds (:class:`SlopeInterval`);
* :func:`phrase` picks the words of a sentence from the same verdict the table shows,
  and :func:`flag_verdict` turns a computed boolean into a verdict;
* the claims API states predictions as data before the numbers: a :class:`Claim`
  (text, kind, scope, compared groups, predicted sign), :func:`assess` reading a list
  of them on result tables into an :class:`Assessment` (one verdict table, glued
  sentences, "not computed" where a table is missing), with Holm's correction
  (:func:`holm`) over a stated family and comparisons at matched accuracy
  (:class:`AtAccuracy`, :func:`at_accuracy`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_bool, check_choice, check_int, check_real, real_array

__all__ = [
    "VERDICTS",
    "Interval",
    "mean_interval",
    "SLOPE_STATISTICS",
    "SlopeInterval",
    "slope_interval",
    "locate_interval",
    "accuracy_drop",
    "paired",
    "paired_interval",
    "median_iqr",
    "phrase",
    "flag_verdict",
    "CLAIM_KINDS",
    "CLAIM_SCOPES",
    "CLAIM_METHODS",
    "NOT_COMPUTED",
    "AtAccuracy",
    "Claim",
    "Finding",
    "Assessment",
    "assess",
    "holm",
    "at_accuracy",
]

#: The three answers an interval can give to a predicted sign.
VERDICTS = ("yes", "no", "undecided")


def _real(name: str, values: Any) -> np.ndarray:
    """``values`` as a float64 array (a writable copy), with a TypeError naming ``name`` for non-numbers."""
    if values is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    try:
        arr = np.array(values)  # a copy: pandas hands out read-only views, which torch warns about
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {type(values).__name__}: {err}") from err
    return real_array(name, arr)


def _sign_verdict(low: float, high: float, predicted: str, reference: float = 0.0) -> str:
    """The verdict of an interval ``[low, high]`` on the prediction "the quantity is ``predicted`` of ``reference``"."""
    check_choice("predicted", predicted, ("positive", "negative"))
    if not (math.isfinite(low) and math.isfinite(high)):
        return "undecided"
    above, below = low > reference, high < reference
    if predicted == "positive":
        return "yes" if above else ("no" if below else "undecided")
    return "yes" if below else ("no" if above else "undecided")


@dataclass(frozen=True)
class Interval:
    """A mean and its two-sided confidence interval over ``n`` values.

    Introduced in the chapter *Compressibility experiments*.
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def verdict(self, predicted: str) -> str:
        """``"yes"`` if the interval lies on the predicted side of zero, ``"no"`` if on the other.

        ``predicted`` is ``"positive"`` or ``"negative"``; an interval that contains 0
        (or has fewer than two values) gives ``"undecided"``.
        """
        return _sign_verdict(self.low, self.high, predicted)

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] (n={self.n})"


def mean_interval(values: Any, level: float = 0.95) -> Interval:
    r"""The mean of ``values`` and its Student-t confidence interval.

    .. math:: \bar x \pm t_{n-1, (1+\text{level})/2}\; s / \sqrt{n},

    with ``s`` the sample standard deviation (``ddof = 1``). NaN values (a seed that
    was not computed) are dropped; with fewer than two values left the bounds are NaN
    and the verdict is ``"undecided"``. Infinite values are refused: a mean with an
    infinite term has no finite interval, and one that is finite only by the luck of
    the seeds (a heavy-tailed quantity) should be summarised by :func:`median_iqr`.

    Parameters
    ----------
    values : array_like, shape (n,)
        One value per seed (for instance paired differences).
    level : float
        Coverage in (0, 1).

    Returns
    -------
    Interval

    Raises
    ------
    TypeError
        If ``values`` is None or not numeric.
    ValueError
        If ``values`` holds an infinity, or ``level`` is outside (0, 1).

    Examples
    --------
    >>> iv = mean_interval([1.0, 2.0, 3.0])
    >>> round(iv.mean, 6), round(iv.low, 3), round(iv.high, 3)
    (2.0, -0.484, 4.484)

    Introduced in the chapter *Compressibility experiments*.
    """
    from scipy import stats

    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    if values is None:
        raise TypeError("values must be an array of numbers (one per seed), got None")
    x = _real("values", values).ravel()
    if np.isinf(x).any():
        raise ValueError(f"values must be finite or NaN (not computed); {int(np.isinf(x).sum())} are infinite")
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, level)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, level)
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, level)


# --- Fitted rates with bootstrap intervals -------------------------------------------------------------------------


def _iqr(a: np.ndarray, axis: int = 0) -> np.ndarray:
    q75, q25 = np.quantile(a, [0.75, 0.25], axis=axis)
    return q75 - q25


def _mad(a: np.ndarray, axis: int = 0) -> np.ndarray:
    med = np.median(a, axis=axis, keepdims=True)
    return np.median(np.abs(a - med), axis=axis)


#: The named statistics of :func:`slope_interval`: each maps an array and an axis to the statistic along it.
SLOPE_STATISTICS: dict[str, Any] = {"median": np.median, "iqr": _iqr, "mad": _mad, "mean": np.mean}

# Resamples are drawn in blocks of at most this many values (block x seeds x abscissae) to bound memory.
_BOOT_BLOCK_VALUES = 2**22


@dataclass(frozen=True)
class SlopeInterval:
    """A fitted log-log slope (a rate) and its bootstrap percentile interval over seeds.

    Returned by :func:`slope_interval`. ``statistic`` names the per-abscissa
    statistic over seeds whose logarithm was fitted; ``intercept`` is the fitted
    ``log(statistic)`` at ``x = 1``.

    Written for the fitted rates of the chapter *Propagation of chaos* and its neighbours.
    """

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int
    statistic: str
    intercept: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` (a predicted rate, e.g. ``-0.5``) lies in the interval (ends included)."""
        value = check_real("value", value)
        return bool(self.low <= value <= self.high)

    def verdict(self, predicted: str, reference: float = 0.0) -> str:
        """The verdict (one of :data:`VERDICTS`) on "the slope is ``predicted`` of ``reference``".

        ``predicted`` is ``"positive"`` (the slope exceeds ``reference``) or
        ``"negative"`` (it is below); ``"undecided"`` where the interval contains
        ``reference``. With ``reference=-0.5``, ``verdict("negative", -0.5)`` reads
        "the rate is faster than n^{-1/2}", as :meth:`Interval.verdict` reads a sign.
        """
        reference = check_real("reference", reference, finite=True)
        return _sign_verdict(self.low, self.high, predicted, reference)

    def __str__(self) -> str:
        return f"{self.estimate:.2f} ({self.level * 100:g}% interval {self.low:.2f} to {self.high:.2f})"


def locate_interval(low: float, high: float, references: Sequence[float]) -> tuple[tuple[float, ...], int | None]:
    """Where the interval ``[low, high]`` lies against some reference values (predicted exponents, say).

    Parameters
    ----------
    low, high : float
        The interval's ends, finite, ``low <= high``.
    references : sequence of float
        Distinct finite reference values, at least one.

    Returns
    -------
    contained : tuple of float
        The references inside the closed interval, in increasing order.
    below : int or None
        When no reference is inside, how many lie below the interval (0: the interval lies below
        them all; ``len(references)``: above them all); None when some reference is inside.

    Raises
    ------
    ValueError
        If an end is not finite, ``low > high``, or ``references`` is empty, not finite or repeats a value.

    Examples
    --------
    >>> locate_interval(-0.48, -0.34, [-0.5, -1 / 3])
    ((), 1)
    >>> locate_interval(-0.35, -0.28, [-0.5, -1 / 3])
    ((-0.3333333333333333,), None)

    Notes
    -----
    Introduced in the chapter *Propagation of chaos*, which reads its slopes' intervals against
    the bulk exponent -1/2 and the stable one 1/alpha - 1.
    """
    low = check_real("low", low, finite=True)
    high = check_real("high", high, low=low, finite=True)
    refs = sorted(check_real("references", r, finite=True) for r in references)
    if not refs or len(set(refs)) != len(refs):
        raise ValueError(f"references must hold at least one value and no repeats, got {list(references)!r}")
    contained = tuple(r for r in refs if low <= r <= high)
    return contained, (None if contained else sum(r < low for r in refs))


def _slope_statistic(statistic: Any) -> tuple[Any, str]:
    if callable(statistic):
        return statistic, getattr(statistic, "__name__", type(statistic).__name__)
    if not isinstance(statistic, str):
        raise TypeError(f"statistic must be one of {sorted(SLOPE_STATISTICS)} or a callable, got {statistic!r}")
    check_choice("statistic", statistic, tuple(SLOPE_STATISTICS))
    return SLOPE_STATISTICS[statistic], statistic


def _finite_column(name: str, values: Any, *, min_size: int = 2) -> np.ndarray:
    arr = _real(name, values)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it has {int((~np.isfinite(arr)).sum())} NaN or infinite values")
    if arr.ndim == 1 and arr.size < min_size:
        raise ValueError(f"{name} must hold at least {min_size} values, got {arr.size}")
    return arr


def _log_stat(name: str, stat: np.ndarray, where: str) -> np.ndarray:
    stat = np.asarray(stat, dtype=np.float64)
    bad = ~(stat > 0) | ~np.isfinite(stat)
    if bad.any():
        raise ValueError(
            f"the statistic {name!r} of samples is not a positive finite number {where} "
            f"({int(bad.sum())} values), so its logarithm is undefined; fit a positive quantity, "
            "use more seeds, or choose another statistic"
        )
    return np.log(stat)


def slope_interval(
    x: Any,
    samples: Any,
    *,
    statistic: str | Any = "median",
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    paired: bool = True,
) -> SlopeInterval:
    r"""The log-log slope of a statistic over seeds against ``x``, with a bootstrap interval.

    For each abscissa :math:`x_k` (a width ``n``, a step ``h``) the ``statistic``
    over the seeds' values :math:`s_k` is taken, and the estimate is the
    least-squares slope :math:`\hat p` of :math:`\log s_k` on :math:`\log x_k`
    (the rate in :math:`s \approx C x^{p}`). The bootstrap resamples seeds with
    replacement ``n_boot`` times, recomputes the statistics and the slope, and
    returns the percentile interval at ``level`` (Efron and Tibshirani 1993, ch. 13).

    .. warning::
       **Heavy tails.** The naive bootstrap of a mean of infinite-variance terms is
       inconsistent (Athreya 1987, Ann. Statist. 15, 724-731): its interval does not
       reach its nominal coverage however many seeds there are. Use ``"mean"`` only
       for bounded or finite-variance quantities (a bounded test function, an error of
       a tanh network); for errors driven by alpha-stable noise use the default
       ``"median"``, ``"iqr"`` or ``"mad"``, which exist and are bootstrapped consistently.

    Parameters
    ----------
    x : array_like, shape (K,)
        Distinct positive abscissae, ``K >= 2``.
    samples : array_like, shape (M, K), or a sequence of K 1-d arrays
        With ``paired=True``, row ``m`` holds seed ``m``'s value at every ``x`` (the
        same seed couples all abscissae, ``M >= 2``); resampling draws whole rows.
        With ``paired=False``, entry ``k`` holds the values at ``x[k]`` (lengths may
        differ, each ``>= 2``), independent across ``x``; each is resampled on its own
        (a 2-d array of shape (M, K) is read as its K columns).
    statistic : {"median", "iqr", "mad", "mean"} or callable
        The statistic over seeds: ``"iqr"`` is the interquartile range, ``"mad"``
        the median absolute deviation from the median; a callable ``f(array, axis=0)``
        must reduce axis 0 (seeds) and return the remaining shape. It must be positive.
    level : float
        Coverage of the interval, in (0, 1).
    n_boot : int
        Number of bootstrap resamples; each tail of the interval must hold at least
        one (``n_boot * (1 - level) / 2 >= 1``), so that its ends are resamples and
        not the extremes of too few.
    seed : int
        Seed of the resampling (``numpy.random.default_rng``); the same seed gives
        the same interval.
    paired : bool
        Whether the seeds are shared across ``x`` (see ``samples``).

    Returns
    -------
    SlopeInterval
        ``estimate`` (the slope on the full data), ``low``, ``high``, ``level``,
        ``n_boot``, ``statistic`` (its name) and ``intercept``.

    Raises
    ------
    ValueError
        Naming the argument: ``x`` not distinct, positive, finite, or of the wrong
        length; ``samples`` of the wrong shape, with NaN or inf, or with fewer than
        two seeds; a statistic that is not positive (on the data or in a resample);
        ``level``, ``n_boot`` or ``seed`` out of range.
    TypeError
        For non-numeric input, a non-integer ``n_boot`` or ``seed``, or a ``statistic``
        that is neither a name nor a callable.

    Examples
    --------
    Errors that fall as ``n^{-1/2}``, with a multiplicative noise per seed and width:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> n = np.array([16, 64, 256, 1024])
    >>> errors = n ** -0.5 * rng.lognormal(0.0, 0.3, size=(40, 4))
    >>> fit = slope_interval(n, errors)
    >>> fit.contains(-0.5), fit.statistic, fit.n_boot
    (True, 'median', 2000)

    Written for the fitted rates (strong orders, width rates) of the chapter
    *Propagation of chaos* and its neighbours on the SDE and mean-field limits.
    """
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    n_boot = check_int("n_boot", n_boot, low=2)
    if n_boot * (1 - level) / 2 < 1:
        raise ValueError(
            f"n_boot must be at least {math.ceil(2 / (1 - level))} for level {level:g}, so that each tail "
            f"of the interval holds a resample; got {n_boot}"
        )
    seed = check_int("seed", seed, low=0)
    paired = check_bool("paired", paired)
    stat, name = _slope_statistic(statistic)

    xs = _finite_column("x", x)
    if xs.ndim != 1:
        raise ValueError(f"x must be 1-d (one abscissa per column of samples), got shape {xs.shape}")
    if not (xs > 0).all():
        raise ValueError(f"x must be positive (its logarithm is fitted), got {xs.tolist()}")
    if np.unique(xs).size != xs.size:
        raise ValueError(f"x must be distinct, got {xs.tolist()}")
    k = xs.size
    u = np.log(xs) - np.log(xs).mean()
    weights = u / float(u @ u)  # slope = weights @ y, since sum(u) = 0

    rng = np.random.default_rng(seed)
    boot_fn = _paired_bootstrap if paired else _unpaired_bootstrap
    logs, boot = boot_fn(samples, stat, name, k, n_boot, rng)
    estimate = float(weights @ logs)
    slopes = _log_stat(name, boot, "in a bootstrap resample") @ weights
    low, high = np.percentile(slopes, [50 * (1 - level), 50 * (1 + level)])
    intercept = float(logs.mean() - estimate * np.log(xs).mean())
    return SlopeInterval(estimate, float(low), float(high), level, n_boot, name, intercept)


def _paired_bootstrap(samples: Any, stat: Any, name: str, k: int, n_boot: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`slope_interval` with paired seeds: log-statistics of the data, shape (K,), and of
    ``n_boot`` resamples of whole rows, shape (n_boot, K)."""
    data = _finite_column("samples", samples)
    if data.ndim != 2 or data.shape[1] != k:
        raise ValueError(f"samples must have shape (M, {k}) with one column per x, got {data.shape}")
    m = data.shape[0]
    if m < 2:
        raise ValueError(f"samples must hold at least 2 seeds (rows), got {m}")
    logs = _log_stat(name, _apply(stat, data, k, "samples"), "on the data")
    boot = np.empty((n_boot, k))
    block = max(1, _BOOT_BLOCK_VALUES // (m * k))
    for start in range(0, n_boot, block):
        rows = rng.integers(0, m, size=(min(block, n_boot - start), m))
        # (seeds, resamples, K): the statistic reduces axis 0, as its contract says
        boot[start : start + rows.shape[0]] = _apply(stat, data[rows].transpose(1, 0, 2), (rows.shape[0], k))
    return logs, boot


def _unpaired_bootstrap(samples: Any, stat: Any, name: str, k: int, n_boot: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`slope_interval` with independent seeds per x: each column resampled on its own."""
    if isinstance(samples, np.ndarray) and samples.ndim == 2:
        samples = list(samples.T)  # an (M, K) array: its columns, as with paired=True
    if isinstance(samples, (str, bytes)) or not isinstance(samples, Sequence | np.ndarray):
        raise TypeError(f"samples must be a sequence of {k} 1-d arrays with paired=False, got {type(samples).__name__}")
    if len(samples) != k:
        raise ValueError(f"samples must hold one array per x ({k}) with paired=False, got {len(samples)}")
    cols = [_finite_column(f"samples[{j}]", c) for j, c in enumerate(samples)]
    for j, c in enumerate(cols):
        if c.ndim != 1:
            raise ValueError(f"samples[{j}] must be 1-d with paired=False, got shape {c.shape}")
    logs = _log_stat(name, np.array([_apply(stat, c, (), f"samples[{j}]") for j, c in enumerate(cols)]), "on the data")
    boot = np.empty((n_boot, k))
    for j, c in enumerate(cols):
        block = max(1, _BOOT_BLOCK_VALUES // c.size)
        for start in range(0, n_boot, block):
            idx = rng.integers(0, c.size, size=(min(block, n_boot - start), c.size))
            boot[start : start + idx.shape[0], j] = _apply(stat, c[idx].T, (idx.shape[0],))
    return logs, boot


def _apply(stat: Any, data: np.ndarray, shape: Any, name: str = "samples") -> np.ndarray:
    """``stat(data, axis=0)`` as float64, checked to have ``shape`` (an int is ``(shape,)``)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    out = np.asarray(stat(data, axis=0), dtype=np.float64)
    if out.shape != shape:
        raise ValueError(
            f"statistic must reduce axis 0 of its input: for {name} of shape {data.shape} it returned shape "
            f"{out.shape}, expected {shape}"
        )
    return out


def accuracy_drop(frame: Any, criterion: str, *, split: str = "test") -> Any:
    """Accuracy lost by pruning: ``{split}_acc - prune/{criterion}/{split}_acc``, one per row.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table (:func:`htsgd.sweep.run_sweep`).
    criterion : str
        A pruning criterion of the table, e.g. ``"mce0.1"``, ``"frac0.5"``.
    split : {"test", "train"}

    Returns
    -------
    pandas.Series
        Index of ``frame``; positive values are accuracy lost.

    Raises
    ------
    ValueError
        If the table has no such criterion (the message lists those it has), or no
        ``{split}_acc`` column.

    Introduced in the chapter *Compressibility experiments*.
    """
    check_choice("split", split, ("test", "train"))
    _require_columns(frame, [f"{split}_acc"])
    column = f"prune/{criterion}/{split}_acc"
    if column not in frame.columns:
        have = sorted({c.split("/")[1] for c in frame.columns if c.startswith("prune/")})
        raise ValueError(f"no pruning criterion {criterion!r} in the table; it has {have}")
    return frame[f"{split}_acc"] - frame[column]


def _rows(frame: Any, where: Mapping[str, Any]) -> Any:
    from .sweep import select

    if not isinstance(where, Mapping):
        raise TypeError(f"filters must be a mapping of column=value, got {type(where).__name__}")
    _require_columns(frame, list(where))
    return select(frame, **dict(where))


def paired(
    frame: Any,
    column: str | Any,
    treated: Mapping[str, Any],
    control: Mapping[str, Any] | str,
    *,
    on: str = "seed",
) -> Any:
    """Line up a metric of two sets of cells by seed, and their difference.

    Parameters
    ----------
    frame : pandas.DataFrame
        A results table with ``role`` and ``matched_to`` columns
        (:func:`htsgd.sweep.run_sweep`).
    column : str or pandas.Series
        The metric: a column of ``frame``, or a Series on its index (e.g.
        :func:`accuracy_drop`).
    treated : mapping
        ``column=value`` filters (:func:`htsgd.sweep.select`) of the first set, e.g.
        ``{"role": "grid", "alpha": 1.5, "width": 512}``; each ``on`` value must occur once.
    control : mapping or "matched"
        Filters of the second set, or ``"matched"``: the matched-steps controls of
        the treated cells (the rows whose ``matched_to`` is a treated cell's hash).
    on : str
        The pairing column.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``on`` (only values present in both sets), columns ``treated``,
        ``control`` and ``difference`` (= treated - control).

    Raises
    ------
    ValueError
        If a set holds two rows with the same ``on`` value, the sets share no value, or
        a column (``column``, ``on``, a filter's) is not in the table (the message lists those it has).
    TypeError
        If ``frame`` is not a DataFrame.

    Introduced in the chapter *Compressibility experiments*.
    """
    import pandas as pd

    _require_columns(frame, [on, *([column] if isinstance(column, str) else [])])
    if not isinstance(column, (str, pd.Series)):
        raise TypeError(f"column must be a column name or a pandas Series, got {type(column).__name__}")
    values = frame[column] if isinstance(column, str) else column
    a = _rows(frame, treated)
    if isinstance(control, str):
        check_choice("control", control, ("matched",))
        b = frame[frame["role"] == "matched_steps"]
        b = b[b["matched_to"].isin(set(a["hash"]))]
    else:
        b = _rows(frame, control)
    for name, part in (("treated", a), ("control", b)):
        if part[on].duplicated().any():
            raise ValueError(f"the {name} cells repeat a value of {on!r}; add filters so that each occurs once")
    left = pd.Series(values.loc[a.index].to_numpy(), index=a[on].to_numpy(), name="treated")
    right = pd.Series(values.loc[b.index].to_numpy(), index=b[on].to_numpy(), name="control")
    out = pd.concat([left, right], axis=1, join="inner").sort_index()
    if out.empty:
        raise ValueError(f"the treated and control cells share no value of {on!r}")
    out.index.name = on
    out["difference"] = out["treated"] - out["control"]
    return out


def median_iqr(frame: Any, column: str, by: str | Sequence[str] = ("width", "alpha")) -> Any:
    """Median, quartiles and count of ``column`` per group; no noise (``alpha`` NaN) is ``"none"``.

    Medians and interquartile ranges suit the fraction pruned, which one enormous
    neuron can move in a heavy-tailed run.

    Parameters
    ----------
    frame : pandas.DataFrame
    column : str
    by : str or sequence of str
        The grouping columns; a single name is one column (``by="seed"``).

    Returns
    -------
    pandas.DataFrame
        Index ``by``; columns ``median``, ``q25``, ``q75``, ``n``.

    Raises
    ------
    ValueError
        If ``column`` or a ``by`` column is not in the table (the message lists those it has).

    Introduced in the chapter *Compressibility experiments*.
    """
    def label(a: Any) -> Any:
        if isinstance(a, str):
            return a
        return "none" if a is None or a != a else float(a)

    by = [by] if isinstance(by, str) else list(by)
    if not by or not all(isinstance(b, str) for b in by):
        raise TypeError(f"by must be a column name or a non-empty sequence of them, got {by!r}")
    _require_columns(frame, [column, *by])
    data = frame.assign(alpha=frame["alpha"].map(label)) if "alpha" in frame.columns else frame
    groups = data.groupby(by, sort=False)[column]
    out = groups.agg(median="median", q25=lambda s: s.quantile(0.25), q75=lambda s: s.quantile(0.75), n="count")
    return out


def phrase(verdict: str, words: Mapping[str, str]) -> str:
    """The words for a verdict: ``words[verdict]``, for ``verdict`` in :data:`VERDICTS`.

    A sentence glued into a chapter takes its words from the verdict the table
    shows, so the two cannot disagree.

    >>> phrase("undecided", {"yes": "lost less", "no": "lost more", "undecided": "was not shown to lose less"})
    'was not shown to lose less'

    Introduced in the chapter *Compressibility experiments*.
    """
    check_choice("verdict", verdict, VERDICTS)
    missing = [v for v in VERDICTS if v not in words]
    if missing:
        raise ValueError(f"words must give a phrase for every verdict; missing {missing}")
    return words[verdict]


def paired_interval(
    frame: Any,
    column: str | Any,
    treated: Mapping[str, Any],
    control: Mapping[str, Any] | str,
    *,
    on: str = "seed",
    level: float = 0.95,
) -> Interval:
    """The interval of the paired differences ``treated - control``: :func:`paired`, then :func:`mean_interval`.

    Parameters are those of :func:`paired` (``frame``, ``column``, ``treated``,
    ``control``, ``on``) and ``level`` of :func:`mean_interval`.

    Returns
    -------
    Interval
        Mean of the differences over the ``n`` shared values of ``on`` and its
        Student-t interval.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"role": ["grid"] * 4, "matched_to": [None] * 4, "hash": list("abcd"),
    ...                   "alpha": [None, None, 1.5, 1.5], "seed": [0, 1, 0, 1], "acc": [0.8, 0.9, 0.7, 0.7]})
    >>> round(paired_interval(t, "acc", {"alpha": 1.5}, {"alpha": None}).mean, 6)
    -0.15

    Introduced in the chapter *Compressibility experiments*.
    """
    return mean_interval(paired(frame, column, treated, control, on=on)["difference"], level=level)


def flag_verdict(flag: bool) -> str:
    """``"yes"`` for a true claim and ``"no"`` for a false one: a verdict read off a computed boolean.

    For claims without an interval (a comparison of medians), so that the verdict
    table and :func:`phrase` treat them like the interval verdicts.

    >>> flag_verdict(1 < 2), flag_verdict(False)
    ('yes', 'no')

    Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"flag must be a boolean, got {flag!r} of type {type(flag).__name__}")
    return "yes" if flag else "no"


# --- Claims: predictions declared before the numbers, assessed into one verdict table -----------------------------

#: What a claim is about: the paper's own claim, the pruning rule, or a control that could explain an effect away.
CLAIM_KINDS = ("paper", "pruning rule", "control")
#: Whether a claim concerns noise of any kind or heavy tails specifically.
CLAIM_SCOPES = ("any noise", "heavy tails")
#: How a claim is tested: a paired interval over seeds, medians at every level of ``across``, or a trend of medians.
CLAIM_METHODS = ("paired", "medians", "trend")
#: The verdict of a claim whose results table is missing.
NOT_COMPUTED = "not computed"
_VERDICT_WORDS = {"yes": "holds", "no": "fails", "undecided": "undecided", NOT_COMPUTED: NOT_COMPUTED}


@dataclass(frozen=True)
class AtAccuracy:
    """A metric read at matched accuracy: ``column`` per seed where ``accuracy`` falls to a target.

    The target of a seed is the mean ``accuracy`` of that seed's ``reference`` cells
    (e.g. the noise-free network) minus ``drop``; :func:`at_accuracy` interpolates
    ``column`` along ``along`` (e.g. the noise level sigma) at that accuracy. As the
    ``metric`` of a paired :class:`Claim`, it compares two noise settings at the
    same test accuracy rather than at the same noise level. A group with one cell
    per seed (the noise-free network, which has no noise level to move along) enters
    with its own ``column`` at its own accuracy.

    Part of the claims API of the chapter *Compressibility experiments*, for
    comparisons along a noise-level grid (the chapter itself compares at fixed noise levels).
    """

    column: str
    drop: float
    reference: Mapping[str, Any]
    accuracy: str = "test_acc"
    along: str = "sigma"

    def __post_init__(self) -> None:
        check_real("drop", self.drop, finite=True)
        if not isinstance(self.reference, Mapping):
            raise TypeError(f"reference must be a mapping of column filters, got {type(self.reference).__name__}")


@dataclass(frozen=True)
class Claim:
    """A prediction stated before the numbers: what is compared, and the sign it predicts.

    Parameters
    ----------
    key : str
        A short name (letters, digits, ``-``): the claim's row and the suffix of its glued keys.
    text : str
        The claim in words, as the verdict table shows it.
    kind : {"paper", "pruning rule", "control"}
    scope : {"any noise", "heavy tails"}
    frame : str
        The name of the results table in the ``frames`` of :func:`assess`.
    metric : str, (str, str), callable or AtAccuracy
        A column; a pair of columns ``(a, b)`` meaning ``a - b`` per row (e.g. the accuracy
        lost by pruning, ``("test_acc", "prune/frac0.5/test_acc")``); a callable taking the
        frame and returning a Series on its index; or :class:`AtAccuracy`.
    treated : mapping
        ``column=value`` filters (:func:`htsgd.sweep.select`) of the first group.
    control : mapping, "matched" or None
        Filters of the second group, ``"matched"`` for the matched-steps controls of the
        treated cells, or None to compare the treated group with zero.
    predicted : {"positive", "negative"}
        The predicted sign of treated minus control (of the change, for ``method="trend"``).
    method : {"paired", "medians", "trend"}
        ``"paired"``: the mean of the differences paired by ``on`` and its Student-t
        interval (:func:`paired_interval`). ``"medians"``: the difference of the groups'
        medians at every value of ``across`` (no interval; for sweeps with few seeds,
        and said so in the table). ``"trend"``: the medians (or their difference) at the
        increasing values of ``across`` change in the predicted direction at every step.
    across : str, optional
        The column of ``"medians"`` and ``"trend"`` (e.g. ``"width"``); required for a trend.
    family : str, optional
        Claims sharing a family are tested together with Holm's correction
        (:func:`holm`); paired claims only.
    words : mapping or (str, str, str), optional
        The sentence glued for each verdict: ``{"yes": ..., "no": ..., "undecided": ...}``
        or a triple in that order; by default the claim's text and its verdict,
        e.g. "noise costs accuracy: holds".
    scale : float
        Factor for the numbers shown (100: accuracies in points).
    on : str
        The pairing column.

    Introduced in the chapter *Compressibility experiments*.
    """

    key: str
    text: str
    kind: str
    scope: str
    frame: str
    metric: Any
    treated: Mapping[str, Any]
    control: Mapping[str, Any] | str | None = "matched"
    predicted: str = "positive"
    method: str = "paired"
    across: str | None = None
    family: str | None = None
    words: Any = None
    scale: float = 1.0
    on: str = "seed"

    def __post_init__(self) -> None:
        if not (isinstance(self.key, str) and self.key and all(c.isalnum() or c == "-" for c in self.key)):
            raise ValueError(f"key must be a non-empty string of letters, digits and '-', got {self.key!r}")
        for name in ("text", "frame", "on"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise TypeError(f"{name} must be a non-empty string, got {getattr(self, name)!r}")
        check_choice("kind", self.kind, CLAIM_KINDS)
        check_choice("scope", self.scope, CLAIM_SCOPES)
        check_choice("predicted", self.predicted, ("positive", "negative"))
        check_choice("method", self.method, CLAIM_METHODS)
        check_real("scale", self.scale, low=0.0, low_open=True, finite=True)
        _check_metric(self.metric)
        if not isinstance(self.treated, Mapping):
            raise TypeError(f"treated must be a mapping of column filters, got {type(self.treated).__name__}")
        if isinstance(self.control, str):
            check_choice("control", self.control, ("matched",))
        elif self.control is not None and not isinstance(self.control, Mapping):
            raise TypeError(f"control must be a mapping, 'matched' or None, got {type(self.control).__name__}")
        if self.method == "trend" and self.across is None:
            raise ValueError("across must name a column (e.g. 'width') for method='trend'")
        if self.family is not None and self.method != "paired":
            raise ValueError(f"family {self.family!r}: Holm's correction needs p-values, so only paired claims")
        if isinstance(self.metric, AtAccuracy) and (self.method != "paired" or self.control == "matched"):
            raise ValueError("an AtAccuracy metric compares two groups of cells paired by seed: method='paired' "
                             "and control filters (not 'matched')")
        if self.words is not None:
            object.__setattr__(self, "words", _sentences(self.words))

    def sentence(self, verdict: str, note: str = "") -> str:
        """The glued sentence for ``verdict`` (one of :data:`VERDICTS` or :data:`NOT_COMPUTED`)."""
        check_choice("verdict", verdict, (*VERDICTS, NOT_COMPUTED))
        if verdict == NOT_COMPUTED:
            return f"{self.text}: not computed" + (f" ({note})" if note else "")
        if self.words is None:
            return f"{self.text}: {_VERDICT_WORDS[verdict]}"
        return self.words[verdict]


def _sentences(words: Any) -> dict[str, str]:
    if isinstance(words, Mapping):
        missing = [v for v in VERDICTS if v not in words]
        if missing:
            raise ValueError(f"words must give a sentence for every verdict; missing {missing}")
        return {v: str(words[v]) for v in VERDICTS}
    if isinstance(words, (tuple, list)) and len(words) == 3 and all(isinstance(w, str) for w in words):
        return dict(zip(VERDICTS, words, strict=True))
    raise TypeError(f"words must be a mapping over {VERDICTS} or three strings in that order, got {words!r}"[:200])


def _check_metric(metric: Any) -> None:
    ok = (
        isinstance(metric, (str, AtAccuracy))
        or callable(metric)
        or (isinstance(metric, tuple) and len(metric) == 2 and all(isinstance(c, str) for c in metric))
    )
    if not ok:
        raise TypeError(f"metric must be a column, a pair of columns, a callable or AtAccuracy; got {metric!r}"[:200])


@dataclass(frozen=True)
class Finding:
    """A claim assessed on its results table: the verdict, the numbers it rests on, and its sentence.

    ``estimate``, ``low`` and ``high`` are the mean paired difference and its interval
    (NaN for median claims and claims not computed); ``p_value`` is the two-sided
    Student-t p-value of a paired claim and ``p_holm`` its Holm-adjusted value within
    its family (equal to ``p_value`` outside a family). ``measured`` is the numbers
    column of the table; ``differences`` the paired differences behind a paired claim
    (one per seed, unscaled), for a figure.

    Introduced in the chapter *Compressibility experiments*.
    """

    claim: Claim
    verdict: str
    measured: str
    estimate: float = math.nan
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    p_value: float = math.nan
    p_holm: float = math.nan
    note: str = ""
    differences: tuple[float, ...] = ()

    @property
    def sentence(self) -> str:
        """The claim's sentence for this verdict (:meth:`Claim.sentence`)."""
        return self.claim.sentence(self.verdict, self.note)


class Assessment(Sequence):
    """The findings of :func:`assess`, in the order of the claims: one table, glued sentences, counts.

    Index by position or by claim key. Shown in a notebook, it is the verdict table
    (:meth:`table`) with no cell truncated.

    Introduced in the chapter *Compressibility experiments*.
    """

    def __init__(self, findings: Sequence[Finding], level: float) -> None:
        self._findings = tuple(findings)
        self._by_key = {f.claim.key: f for f in self._findings}
        self.level = level

    def __len__(self) -> int:
        return len(self._findings)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str):
            if item not in self._by_key:
                raise KeyError(f"no claim {item!r}; the claims are {list(self._by_key)}")
            return self._by_key[item]
        return self._findings[item]

    def counts(self) -> dict[str, int]:
        """How many claims got each verdict (every verdict and :data:`NOT_COMPUTED` present, possibly 0)."""
        return {v: sum(f.verdict == v for f in self._findings) for v in (*VERDICTS, NOT_COMPUTED)}

    def table(self) -> Any:
        """The verdict table: one row per claim, indexed by the claim in words.

        Columns ``kind``, ``scope``, ``prediction``, ``measured`` and ``verdict``
        (``holds``, ``fails``, ``undecided`` or ``not computed``).
        """
        import pandas as pd

        rows = [
            {"claim": f.claim.text, "kind": f.claim.kind, "scope": f.claim.scope, "prediction": _prediction(f.claim),
             "measured": f.measured, "verdict": _VERDICT_WORDS[f.verdict]}
            for f in self._findings
        ]
        return pd.DataFrame(rows, columns=["claim", "kind", "scope", "prediction", "measured", "verdict"]).set_index(
            "claim"
        )

    def _repr_html_(self) -> str:
        import pandas as pd

        with pd.option_context("display.max_colwidth", None, "display.max_rows", None):
            return self.table()._repr_html_()

    def __repr__(self) -> str:
        import pandas as pd

        with pd.option_context("display.max_colwidth", None, "display.max_rows", None, "display.width", 200):
            return repr(self.table())

    def glue(self, glue: Any, prefix: str) -> None:
        """Glue every claim's sentence and numbers, and the counts, with ``glue(name, value, display=False)``.

        Keys: ``{prefix}-s-{key}`` (the sentence, Markdown), ``{prefix}-m-{key}``
        (the measured numbers, Markdown), ``{prefix}-n-claims`` and ``{prefix}-n-{verdict}``
        for ``yes``, ``no``, ``undecided`` and ``not-computed``.
        """
        try:
            from IPython.display import Markdown
        except ImportError:  # pragma: no cover - a chapter always runs in IPython
            Markdown = str  # noqa: N806
        for f in self._findings:
            glue(f"{prefix}-s-{f.claim.key}", Markdown(f.sentence), display=False)
            glue(f"{prefix}-m-{f.claim.key}", Markdown(f.measured), display=False)
        glue(f"{prefix}-n-claims", len(self), display=False)
        for verdict, count in self.counts().items():
            glue(f"{prefix}-n-{verdict.replace(' ', '-')}", count, display=False)


def _prediction(claim: Claim) -> str:
    up = claim.predicted == "positive"
    if claim.method == "trend":
        return "rises at every step" if up else "falls at every step"
    compared = "treated - control" if claim.control is not None else "value"
    return f"{compared} {'>' if up else '<'} 0"


def holm(p_values: Any) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (Holm 1979, Scand. J. Statist. 6, 65-70).

    With the m p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted value
    of :math:`p_{(i)}` is :math:`\max_{j \le i} \min(1, (m - j + 1)\, p_{(j)})`. Rejecting
    where it is below :math:`1 - \text{level}` controls the family-wise error rate at
    that level, under any dependence between the tests.

    Parameters
    ----------
    p_values : array_like, shape (m,)
        In [0, 1].

    Returns
    -------
    numpy.ndarray, shape (m,)
        The adjusted p-values, in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).tolist()
    [0.03, 0.06, 0.06, 0.02]

    Introduced in the chapter *Compressibility experiments*.
    """
    p = _real("p_values", p_values).ravel()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}"[:200])
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def at_accuracy(
    frame: Any, column: str, target: Any, *, accuracy: str = "test_acc", along: str = "sigma", on: str = "seed"
) -> Any:
    """``column`` per value of ``on``, interpolated where ``accuracy`` first falls to ``target`` along ``along``.

    The cells of each ``on`` value (a seed) are sorted by ``along`` (e.g. the noise level);
    where ``accuracy`` first reaches ``target`` or below, ``column`` is interpolated
    linearly between that cell and the one before, in proportion to the accuracy.

    Parameters
    ----------
    frame : pandas.DataFrame
        The cells of one group (one alpha, one width), several values of ``along`` per seed.
    column, accuracy, along, on : str
        Columns of ``frame``.
    target : float or pandas.Series
        The accuracy to match: one number, or one per ``on`` value (indexed by it).

    Returns
    -------
    pandas.Series
        Indexed by ``on``; NaN where the accuracy starts below the target or never falls to it.

    Raises
    ------
    ValueError
        If a column is missing, or a seed repeats a value of ``along``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"seed": [0, 0, 0], "sigma": [0.0, 0.1, 0.2],
    ...                   "test_acc": [0.9, 0.8, 0.6], "frac": [0.2, 0.4, 0.8]})
    >>> at_accuracy(t, "frac", 0.7).round(6).tolist()
    [0.6]

    Introduced in the chapter *Compressibility experiments*.
    """
    import pandas as pd

    _require_columns(frame, [column, accuracy, along, on])
    out = {}
    for key, rows in frame.groupby(on, sort=True):
        if rows[along].duplicated().any():
            raise ValueError(f"{on} {key!r} repeats a value of {along!r}; filter the cells to one curve per {on}")
        rows = rows.sort_values(along)
        acc, val = rows[accuracy].to_numpy(float), rows[column].to_numpy(float)
        goal = float(target.get(key, math.nan)) if isinstance(target, pd.Series) else float(target)
        out[key] = _first_crossing(acc, val, goal)
    return pd.Series(out, name=column, dtype=float).rename_axis(on)


def _first_crossing(acc: np.ndarray, val: np.ndarray, goal: float) -> float:
    if not math.isfinite(goal) or acc.size == 0 or acc[0] < goal:
        return math.nan
    below = np.flatnonzero(acc <= goal)
    if below.size == 0:
        return math.nan
    j = int(below[0])
    if j == 0:
        return float(val[0])
    share = (acc[j - 1] - goal) / (acc[j - 1] - acc[j])
    return float(val[j - 1] + share * (val[j] - val[j - 1]))


def _require_columns(frame: Any, columns: Sequence[str]) -> None:
    """ValueError naming each missing column and listing the available ones (TypeError for a non-table)."""
    from .sweep.tables import missing_columns

    message = missing_columns(frame, columns)
    if message:
        raise ValueError(message)


def _metric_values(frame: Any, metric: Any) -> Any:
    if isinstance(metric, str):
        _require_columns(frame, [metric])
        return frame[metric]
    if isinstance(metric, tuple):
        _require_columns(frame, list(metric))
        return frame[metric[0]] - frame[metric[1]]
    return metric(frame)


def _fmt(x: float, scale: float) -> str:
    digits = 1 if scale >= 100 else 3
    return f"{scale * x:+.{digits}f}"


def _assess_paired(claim: Claim, frame: Any, level: float) -> Finding:
    if isinstance(claim.metric, AtAccuracy):
        m = claim.metric
        ref = _rows(frame, m.reference).groupby(claim.on)[m.accuracy].mean() - m.drop
        def curve(where: Mapping[str, Any]) -> Any:
            rows = _rows(frame, where)
            if not rows[claim.on].duplicated().any():  # one cell per seed (no noise): itself, at its own accuracy
                return rows.set_index(claim.on)[m.column]
            return at_accuracy(rows, m.column, ref, accuracy=m.accuracy, along=m.along, on=claim.on)
        diff = (curve(claim.treated) - curve(claim.control)).dropna()
    elif claim.control is None:
        diff = _metric_values(frame, claim.metric).loc[_rows(frame, claim.treated).index]
    else:
        diff = paired(frame, _metric_values(frame, claim.metric), claim.treated, claim.control, on=claim.on)["difference"]
    diff = np.asarray(diff, dtype=float)
    iv = mean_interval(diff, level=level)
    p = _t_p_value(diff[~np.isnan(diff)])
    unit = " points" if claim.scale == 100 else ""
    measured = (f"mean {_fmt(iv.mean, claim.scale)}{unit}, {level * 100:g}% interval {_fmt(iv.low, claim.scale)} "
                f"to {_fmt(iv.high, claim.scale)}, {iv.n} seeds")
    kept = tuple(float(d) for d in diff[~np.isnan(diff)])
    return Finding(claim, iv.verdict(claim.predicted), measured, iv.mean, iv.low, iv.high, iv.n, p, p, "", kept)


def _t_p_value(x: np.ndarray) -> float:
    """Two-sided one-sample t-test p-value of mean 0 (the test the Student-t interval inverts)."""
    from scipy import stats

    if x.size < 2:
        return math.nan
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(x.size)), x.size - 1))


def _group_medians(claim: Claim, frame: Any) -> tuple[list[Any], np.ndarray]:
    """The levels of ``across`` (or one pooled level) and treated-minus-control medians at each."""
    values = _metric_values(frame, claim.metric)
    treated = _rows(frame, claim.treated)
    if claim.control == "matched":
        control = frame[(frame["role"] == "matched_steps") & frame["matched_to"].isin(set(treated["hash"]))]
    else:
        control = None if claim.control is None else _rows(frame, claim.control)
    if claim.across is None:
        levels = [None]
    else:
        _require_columns(frame, [claim.across])
        levels = sorted(treated[claim.across].unique())
    diffs = []
    for level in levels:
        def median(rows: Any, level: Any = level) -> float:
            rows = rows if level is None else rows[rows[claim.across] == level]
            if rows.empty:
                raise ValueError(f"claim {claim.key!r}: no cells at {claim.across} = {level!r}")
            return float(values.loc[rows.index].median())
        diffs.append(median(treated) - (0.0 if control is None else median(control)))
    return levels, np.array(diffs)


def _assess_medians(claim: Claim, frame: Any) -> Finding:
    levels, diffs = _group_medians(claim, frame)
    sign = 1 if claim.predicted == "positive" else -1
    if claim.method == "trend":
        if len(levels) < 2:
            raise ValueError(f"claim {claim.key!r}: a trend needs at least two values of {claim.across!r}")
        holds = bool((sign * np.diff(diffs) > 0).all())
        what = "medians" if claim.control is None else "median differences"
    else:
        holds = bool((sign * diffs > 0).all())
        what = "median" if claim.control is None else "median difference"
        what += "s" if len(levels) > 1 else ""
    numbers = ", ".join(_fmt(d, claim.scale).lstrip("+" if claim.control is None else "") for d in diffs)
    where = f" at {claim.across} {', '.join(f'{v:g}' for v in levels)}" if claim.across else ""
    return Finding(claim, "yes" if holds else "no", f"{what} {numbers}{where}, no interval")


def assess(claims: Sequence[Claim], frames: Mapping[str, Any], *, level: float = 0.95) -> Assessment:
    """Assess each claim on its results table into a verdict; Holm's correction within each stated family.

    A paired claim *holds* (``"yes"``) when its interval at ``level`` lies on the
    predicted side of zero, *fails* (``"no"``) when it lies on the other, and is
    ``"undecided"`` otherwise; in a family of m claims the same reading uses Holm's
    adjusted p-values (:func:`holm`): significant at ``1 - level`` and on the predicted
    side, or on the other. Median and trend claims hold when every compared median
    moves in the predicted direction. A claim whose table is absent from ``frames``
    (or None) is :data:`NOT_COMPUTED`.

    Parameters
    ----------
    claims : sequence of Claim
        Distinct keys.
    frames : mapping of str to pandas.DataFrame or None
        The results tables the claims name.
    level : float
        Coverage of the intervals, in (0, 1).

    Returns
    -------
    Assessment

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"role": ["grid"] * 6, "matched_to": [None] * 6, "hash": list("abcdef"),
    ...                   "alpha": [None] * 3 + [1.5] * 3, "seed": [0, 1, 2] * 2,
    ...                   "acc": [0.80, 0.90, 0.85, 0.70, 0.79, 0.76]})
    >>> claim = Claim("cost", "noise costs accuracy", "control", "heavy tails", "toy", "acc",
    ...               {"alpha": 1.5}, {"alpha": None}, predicted="negative")
    >>> found = assess([claim], {"toy": t, "other": None})
    >>> found["cost"].verdict, found["cost"].sentence
    ('yes', 'noise costs accuracy: holds')

    Introduced in the chapter *Compressibility experiments*.
    """
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    claims = list(claims)
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"claims must be Claim objects, got {type(c).__name__}")
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise ValueError(f"claim keys must be distinct; repeated: {sorted({k for k in keys if keys.count(k) > 1})}")
    if not isinstance(frames, Mapping):
        raise TypeError(f"frames must map table names to DataFrames, got {type(frames).__name__}")
    findings = []
    for c in claims:
        frame = frames.get(c.frame)
        if frame is None:
            findings.append(Finding(c, NOT_COMPUTED, NOT_COMPUTED, note=f"no results table {c.frame!r}"))
        elif c.method == "paired":
            findings.append(_assess_paired(c, frame, level))
        else:
            findings.append(_assess_medians(c, frame))
    return Assessment(_holm_verdicts(findings, level), level)


def _holm_verdicts(findings: list[Finding], level: float) -> list[Finding]:
    from dataclasses import replace

    families: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        if f.claim.family is not None and f.verdict != NOT_COMPUTED:
            families.setdefault(f.claim.family, []).append(i)
    out = list(findings)
    for family, members in families.items():
        p = np.array([findings[i].p_value for i in members])
        tested = [i for i, pi in zip(members, p, strict=True) if math.isfinite(pi)]
        adjusted = holm([findings[i].p_value for i in tested]) if tested else []
        for i, q in zip(tested, adjusted, strict=True):
            f = findings[i]
            side = "positive" if f.estimate > 0 else "negative"
            verdict = "undecided" if q >= 1 - level else ("yes" if side == f.claim.predicted else "no")
            measured = f"{f.measured}; Holm p = {q:.3g} in family {family!r} of {len(members)}"
            out[i] = replace(f, verdict=verdict, p_holm=float(q), measured=measured)
    return out
