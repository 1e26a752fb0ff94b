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
* :func:`phrase` picks the words of a sentence from the same verdict the table shows,
  and :func:`flag_verdict` turns a computed boolean into a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import check_choice, check_real

__all__ = [
    "VERDICTS",
    "Interval",
    "mean_interval",
    "accuracy_drop",
    "paired",
    "paired_interval",
    "median_iqr",
    "phrase",
    "flag_verdict",
]

#: The three answers an interval can give to a predicted sign.
VERDICTS = ("yes", "no", "undecided")


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
        check_choice("predicted", predicted, ("positive", "negative"))
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return "undecided"
        above, below = self.low > 0, self.high < 0
        if predicted == "positive":
            return "yes" if above else ("no" if below else "undecided")
        return "yes" if below else ("no" if above else "undecided")

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
