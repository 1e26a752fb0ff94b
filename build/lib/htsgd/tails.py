"""Tail-index estimation and empirical tails for log-log plots.

Introduced in the chapter *Stable distributions* (``book/stable.md``).

* :func:`hill` -- Hill's (1975) estimator from the ``k`` largest absolute values.
* :func:`mmo` -- the estimator of Mohammadi, Mohammadpour & Ogata (2015), as used by
  Simsekli, Sagun & Gurbuzbalaban (2019) for gradient noise: it compares the log-size of
  block sums with the log-size of the summands, which for alpha-stable data grow by the
  factor ``m**(1/alpha)``.
* :func:`empirical_sf` -- the empirical survival function ``P(X > t)`` on a thinned,
  log-spaced set of thresholds, ready for a log-log plot.

Both estimators have known biases, shown in the chapter: Hill's is biased upward when
the law is only approximately Pareto (for stable laws near ``alpha = 2``), and the MMO
estimator assumes the data are exactly stable (it is biased on Student-t data).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import check_bool, check_int, real_array

__all__ = ["hill", "mmo", "empirical_sf"]


def _as_sample(name: str, x: Any, *, min_size: int = 2, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    arr = real_array(name, x)
    if arr.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {arr.shape}")
    if arr.shape[0] < min_size:
        raise ValueError(f"{name} must hold at least {min_size} samples, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it has {int((~np.isfinite(arr)).sum())} non-finite entries")
    return arr


def hill(x: Any, k: int) -> float:
    """Hill's estimate of the tail index alpha from the ``k`` largest ``|x|``.

    ``1 / alpha_hat = (1/k) sum_{i <= k} log(|x|_(i) / |x|_(k+1))`` with ``|x|_(1) >= |x|_(2) >= ...``.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,)
        Sample (absolute values are used, so both tails count).
    k : int
        Number of order statistics, ``1 <= k < n``. Small ``k``: high variance; large
        ``k``: bias from the non-Pareto body of the law.

    Returns
    -------
    float
        ``inf`` when the ``k + 1`` largest ``|x|`` are all equal.

    References
    ----------
    Hill (1975), Ann. Statist. 3, 1163-1174. Introduced in the chapter *Stable distributions*.
    """
    arr = np.abs(_as_sample("x", x))
    n = arr.size
    k = check_int("k", k, low=1, high=n - 1)
    top = np.partition(arr, n - k - 1)[n - k - 1 :]  # the k+1 largest, unsorted
    threshold = top.min()
    if threshold <= 0:
        raise ValueError("x has fewer than k + 1 non-zero values; choose a smaller k")
    total = float((np.log(top) - math.log(threshold)).sum())
    if total == 0.0:  # the k + 1 largest are equal: no decay at all, an infinite index
        return math.inf
    return k / total


def mmo(x: Any, m: int = 10) -> float:
    """Tail index from block sums (Mohammadi, Mohammadpour & Ogata 2015).

    The sample is cut into ``n // m`` blocks of ``m`` (the remainder is dropped);
    ``1 / alpha_hat = (mean log|Y| - mean log|X|) / log m`` with ``Y`` the block sums.
    For a 2-d input of shape ``(n, d)`` the rows are summed as vectors and ``|.|`` is the
    Euclidean norm, as in Simsekli et al. (2019). The estimate is not clipped to (0, 2]:
    values above 2 signal tails lighter than any non-Gaussian stable law.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,) or (n, d)
    m : int
        Block size, ``2 <= m <= n``; small ``m`` (10) has the lowest variance on stable data.

    Returns
    -------
    float

    References
    ----------
    Mohammadi, Mohammadpour & Ogata (2015), Metrika 78, 549-561; Simsekli, Sagun &
    Gurbuzbalaban (2019), ICML. Introduced in the chapter *Stable distributions*.
    """
    arr = _as_sample("x", x, ndim=(1, 2))
    n = arr.shape[0]
    m = check_int("m", m, low=2, high=n)
    blocks = n // m
    xx = arr[: blocks * m]
    ys = xx.reshape(blocks, m, *xx.shape[1:]).sum(axis=1)
    if xx.ndim == 2:
        ax, ay = np.linalg.norm(xx, axis=1), np.linalg.norm(ys, axis=1)
    else:
        ax, ay = np.abs(xx), np.abs(ys)
    eps = np.finfo(np.float64).eps  # log(0) guard, as in the reference code
    diff = (np.log(ay + eps).mean() - np.log(ax + eps).mean()) / math.log(m)
    if diff <= 0:
        return math.inf
    return float(1.0 / diff)


def empirical_sf(x: Any, *, absolute: bool = False, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Empirical tail P_n(X >= t) at sample points, thinned for log-log plots.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (n,)
    absolute : bool
        Use ``|x|`` (both tails together).
    max_points : int
        At most this many points, spaced evenly in ``log P`` so the far tail keeps its
        resolution.

    Returns
    -------
    t, p : numpy.ndarray
        Increasing positive thresholds and ``P_n(X >= t)`` (>= 1/n), ready for ``loglog(t, p)``.
        Introduced in the chapter *Stable distributions*.
    """
    arr = _as_sample("x", x, min_size=1)
    check_bool("absolute", absolute)
    max_points = check_int("max_points", max_points, low=2)
    if absolute:
        arr = np.abs(arr)
    srt = np.sort(arr)
    n = srt.size
    pos = srt > 0
    srt = srt[pos]
    if srt.size == 0:
        return np.empty(0), np.empty(0)
    ranks = np.arange(n - srt.size, n)
    p = (n - ranks) / n  # P(X >= t): never 0, so the largest point stays on a log scale
    idx = np.unique(np.round(np.geomspace(1, srt.size, max_points)).astype(int)) - 1
    idx = srt.size - 1 - idx[::-1]
    return srt[idx], p[idx]
