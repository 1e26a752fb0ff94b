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
  and :func:`flag_verdict` turns a computed boolean into a verdict.
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
    "accuracy_drop",
    "paired",
    "paired_interval",
    "median_iqr",
    "phrase",
    "flag_verdict",
]

#: The three answers an interval can give to a predicted sign.
VERDICTS = ("yes", "no", "undecided")


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

    with ``s`` the sample standard deviation (``ddof = 1``). NaN values are dropped.
    With fewer than two values the bounds are NaN.

    Parameters
    ----------
    values : array_like, shape (n,)
        One value per seed (for instance paired differences).
    level : float
        Coverage in (0, 1).

    Returns
    -------
    Interval

    Examples
    --------
    >>> iv = mean_interval([1.0, 2.0, 3.0])
    >>> round(iv.mean, 6), round(iv.low, 3), round(iv.high, 3)
    (2.0, -0.484, 4.484)

    Introduced in the chapter *Compressibility experiments*.
    """
    from scipy import stats

    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    x = np.asarray(values, dtype=np.float64).ravel()
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


def _slope_statistic(statistic: Any) -> tuple[Any, str]:
    if callable(statistic):
        return statistic, getattr(statistic, "__name__", type(statistic).__name__)
    if not isinstance(statistic, str):
        raise TypeError(f"statistic must be one of {sorted(SLOPE_STATISTICS)} or a callable, got {statistic!r}")
    check_choice("statistic", statistic, tuple(SLOPE_STATISTICS))
    return SLOPE_STATISTICS[statistic], statistic


def _finite_column(name: str, values: Any, *, min_size: int = 2) -> np.ndarray:
    arr = real_array(name, values)
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
    if paired:
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
    else:
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
    estimate = float(weights @ logs)
    slopes = _log_stat(name, boot, "in a bootstrap resample") @ weights
    low, high = np.percentile(slopes, [50 * (1 - level), 50 * (1 + level)])
    intercept = float(logs.mean() - estimate * np.log(xs).mean())
    return SlopeInterval(estimate, float(low), float(high), level, n_boot, name, intercept)


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
    KeyError
        If the table has no such criterion (the message lists those it has).

    Introduced in the chapter *Compressibility experiments*.
    """
    check_choice("split", split, ("test", "train"))
    column = f"prune/{criterion}/{split}_acc"
    if column not in frame.columns:
        have = sorted({c.split("/")[1] for c in frame.columns if c.startswith("prune/")})
        raise KeyError(f"no pruning criterion {criterion!r} in the table; it has {have}")
    return frame[f"{split}_acc"] - frame[column]


def _rows(frame: Any, where: Mapping[str, Any]) -> Any:
    from .sweep import select

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
        If a set holds two rows with the same ``on`` value, or the sets share no value.

    Introduced in the chapter *Compressibility experiments*.
    """
    import pandas as pd

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


def median_iqr(frame: Any, column: str, by: Sequence[str] = ("width", "alpha")) -> Any:
    """Median, quartiles and count of ``column`` per group; no noise (``alpha`` NaN) is ``"none"``.

    Medians and interquartile ranges suit the fraction pruned, which one enormous
    neuron can move in a heavy-tailed run.

    Returns
    -------
    pandas.DataFrame
        Index ``by``; columns ``median``, ``q25``, ``q75``, ``n``.

    Introduced in the chapter *Compressibility experiments*.
    """
    def label(a: Any) -> Any:
        if isinstance(a, str):
            return a
        return "none" if a is None or a != a else float(a)

    data = frame.assign(alpha=frame["alpha"].map(label)) if "alpha" in frame.columns else frame
    groups = data.groupby(list(by), sort=False)[column]
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
