"""Lévy-driven SDEs: stable increments, their coupling, the Euler scheme, exact OU laws, orders.

Introduced in the chapter *Lévy-driven SDEs and the Euler scheme* (``book/sde.md``).

* :func:`convergence_order` -- the least-squares slope of ``log error`` against ``log step``.

References
----------
Applebaum (2009), *Lévy Processes and Stochastic Calculus*, 2nd ed.; Protter & Talay
(1997), Ann. Probab. 25, 393-423; Jacod (2004), Ann. Probab. 32, 1830-1872.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["convergence_order"]


def _positive_vector(name: str, x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a 1-d array of positive reals, got {type(x).__name__}") from err
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ValueError(f"{name} must hold finite positive values, got {arr.tolist()}")
    return arr


def convergence_order(steps: Any, errors: Any) -> float:
    """The fitted order ``p`` of ``error ~ C step**p``: the least-squares slope in log-log.

    Parameters
    ----------
    steps : array_like or torch.Tensor, shape (m,)
        Step sizes, positive, with at least two distinct values.
    errors : array_like or torch.Tensor, shape (m,)
        The error measured at each step, positive and finite.

    Returns
    -------
    float
        The slope of the least-squares line through ``(log steps, log errors)``.

    Raises
    ------
    ValueError
        If the two arrays differ in length, hold fewer than two points, a
        non-positive or non-finite value, or a single distinct step.

    Examples
    --------
    >>> from htsgd.sde import convergence_order
    >>> round(convergence_order([0.1, 0.05, 0.025], [0.3, 0.15, 0.075]), 12)
    1.0

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    h = _positive_vector("steps", steps)
    e = _positive_vector("errors", errors)
    if h.size != e.size:
        raise ValueError(f"steps and errors must have the same length, got {h.size} and {e.size}")
    if h.size < 2:
        raise ValueError(f"steps must hold at least 2 values, got {h.size}")
    lh, le = np.log(h), np.log(e)
    dh = lh - lh.mean()
    denom = float(dh @ dh)
    if denom == 0.0:
        raise ValueError(f"steps must hold at least 2 distinct values, got {h.tolist()}")
    return float(dh @ (le - le.mean()) / denom)
