"""Best k-term errors and compressibility curves (the mathematics of :mod:`htsgd.compress`).

Private: the public names are re-exported by :mod:`htsgd.compress`, whose docstring states
the two conventions (the paper's ``(d, n)`` columns, torch's ``(n, d)`` rows).
Introduced in the chapter *Compressibility* (``book/compressibility.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import special

from .._checks import check_bool, check_int, check_real, real_tensor

# --------------------------------------------------------------------------------------
# best k-term approximation
# --------------------------------------------------------------------------------------


def _as_tensor(name: str, x: Any) -> tuple[torch.Tensor, bool]:
    """Return ``(tensor, was_numpy)``; numpy/list inputs become tensors (see ``real_tensor``)."""
    t, was_tensor = real_tensor(name, x)
    return t, not was_tensor


def _check_vectors(name: str, t: torch.Tensor) -> int:
    if t.dim() < 1:
        raise ValueError(f"{name} must have at least one dimension (the vector), got a scalar")
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} must be finite; it has {bad} non-finite entries")
    return t.shape[-1]


def _check_p(p: Any) -> float:
    return check_real("p", p, low=0, low_open=True)


def _sorted_powers(t: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Ascending ``(|x| / max|x|)**p`` along the last axis, and ``max|x|`` (shape ``(..., 1)``).

    Dividing by the largest magnitude first keeps ``|x|**p`` finite for
    heavy-tailed vectors (a Cauchy sample squared overflows float32 easily);
    summing the sorted powers from the smallest up limits rounding errors.
    """
    a = t.abs()
    if a.dtype in (torch.float16, torch.bfloat16):  # sums of many terms need more than 8-11 bits
        a = a.float()
    top = (
        a.amax(dim=-1, keepdim=True)
        if a.shape[-1] > 0
        else torch.zeros((*a.shape[:-1], 1), dtype=a.dtype, device=a.device)
    )
    safe = torch.where(top > 0, top, torch.ones_like(top))
    y = torch.sort(a / safe, dim=-1).values
    if math.isinf(p):
        return y, top
    return y.pow(p), top


def _tail_norms(powers: torch.Tensor, p: float, drop: torch.Tensor) -> torch.Tensor:
    """The ``l_p`` norm of the ``drop`` smallest entries, for each count in ``drop`` (1-d), in units of ``max|x|``.

    Relative errors are ratios of these (no overflow: every normalised power is <= 1); an
    absolute error is this times ``max|x|``.
    """
    zero = torch.zeros((*powers.shape[:-1], 1), dtype=powers.dtype, device=powers.device)
    if math.isinf(p):
        # the largest of the dropped entries (ascending order: index drop - 1)
        return torch.cat([zero, powers], dim=-1)[..., drop]
    csum = torch.cat([zero, torch.cumsum(powers, dim=-1)], dim=-1)
    return csum[..., drop].clamp_min(0).pow(1.0 / p)


def _relative(err: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
    """``err / full``, and 0 where ``full`` is 0 (a zero vector is exactly 0-sparse)."""
    return torch.where(full > 0, err / torch.where(full > 0, full, torch.ones_like(full)), torch.zeros_like(err))


def count_of_fraction(fraction: Any, n: int) -> Any:
    """``floor(fraction * n)``, the number of items a fraction of ``n`` stands for; the one rounding rule.

    The product is rounded down (never more than the fraction asked for), after adding
    1e-9 so that a product that is an integer in exact arithmetic is not lost to
    rounding (``0.1 * 30 = 2.9999999999999996`` counts as 3), and capped at ``n``.

    Parameters
    ----------
    fraction : float or array_like
        Fractions in ``[0, 1]`` (not checked here: callers check and name them).
    n : int
        The number of items.

    Returns
    -------
    int or numpy.ndarray of int64
        An ``int`` for a scalar ``fraction``, else an array of its shape.

    Examples
    --------
    >>> count_of_fraction(0.1, 30)
    3
    >>> count_of_fraction([0.0, 0.5, 1.0], 7).tolist()
    [0, 3, 7]

    Introduced in the chapter *Compressibility*.
    """
    counts = np.minimum(np.floor(np.asarray(fraction, dtype=np.float64) * n + 1e-9), n).astype(np.int64)
    return int(counts) if counts.ndim == 0 else counts


def _finish(out: torch.Tensor, was_numpy: bool) -> Any:
    if was_numpy:
        arr = out.numpy()
        return arr[()] if arr.ndim == 0 else arr
    return out


def best_k_error(x: Any, k: int, p: float = 2, relative: bool = True) -> Any:
    r"""Best ``k``-term approximation error :math:`\sigma_k(x)_p` of vectors.

    .. math::

        \sigma_k(x)_p = \min_{\|z\|_0 \le k} \|x - z\|_p ,

    the ``l_p`` (quasi-)norm of all but the ``k`` largest-magnitude entries of ``x``.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray, shape (..., n)
        Vectors along the last axis; leading axes are a batch.
    k : int
        Entries kept, ``0 <= k <= n``.
    p : float
        The exponent, ``p > 0`` (``math.inf`` for the largest dropped entry).
    relative : bool
        Divide by ``||x||_p`` (a zero vector has relative error 0: it is
        exactly ``0``-sparse).

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (...)
        The same kind as ``x`` (a numpy scalar for one numpy vector); torch
        results keep ``x``'s float dtype and device.

    Raises
    ------
    ValueError
        If ``k`` is outside ``[0, n]``, ``p <= 0``, or ``x`` has a non-finite entry.

    Notes
    -----
    Ties between equal magnitudes do not matter: the error is the same whichever
    of them is kept. Introduced in the chapter *Compressibility*.

    Examples
    --------
    >>> best_k_error(np.array([3.0, -4.0, 0.0, 1.0]), 1, relative=False)  # ||(3, 0, 1)||
    np.float64(3.1622776601683795)
    """
    t, was_numpy = _as_tensor("x", x)
    n = _check_vectors("x", t)
    k = check_int("k", k, low=0, high=n)
    p = _check_p(p)
    check_bool("relative", relative)
    powers, top = _sorted_powers(t, p)
    err = _tail_norms(powers, p, torch.tensor([n - k], device=t.device))[..., 0]
    if relative:
        err = _relative(err, _tail_norms(powers, p, torch.tensor([n], device=t.device))[..., 0])
    else:
        err = err * top[..., 0]  # beyond the float range only if the error itself is
    return _finish(err.to(t.dtype), was_numpy)


def _kept_counts(
    kappas: Any, n: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    ks = np.asarray(kappas, dtype=np.float64)
    scalar = ks.ndim == 0
    ks = np.atleast_1d(ks)
    if ks.ndim != 1:
        raise ValueError(f"kappas must be a number or a 1-d sequence, got shape {ks.shape}")
    for i, kappa in enumerate(ks):
        check_real(f"kappas[{i}]", float(kappa), low=0, high=1)
    kept = count_of_fraction(ks, n)
    return torch.from_numpy(kept).to(device), torch.from_numpy(n - kept).to(device), scalar


def gaussian_limit(kappa: Any) -> Any:
    r"""The limit of the relative best-term error of an iid Gaussian vector, keeping a fraction ``kappa``.

    .. math::

        L(\kappa) = \sqrt{1 - \kappa - 2 t_\kappa \varphi(t_\kappa)}, \qquad
        t_\kappa = \Phi^{-1}(1 - \kappa / 2),

    the almost-sure limit of ``best_k_error(x, k) / ||x||_2`` for ``x`` with ``n`` iid
    ``N(0, s^2)`` entries and ``k = kappa n``, as ``n -> inf``: the kept entries are those
    with ``|x_i| > t_kappa s``, and ``kappa + 2 t phi(t)`` is their share of ``E x^2``.

    Parameters
    ----------
    kappa : float or array_like
        Kept fractions in ``[0, 1]``.

    Returns
    -------
    float or numpy.ndarray
        Same shape as ``kappa``; ``L(0) = 1`` and ``L(1) = 0``.

    Raises
    ------
    ValueError
        If a ``kappa`` is outside ``[0, 1]`` or not a number.

    Introduced in the chapter *Compressibility*, which derives it.
    """
    k = np.asarray(kappa, dtype=np.float64)
    if not bool(np.all((k >= 0) & (k <= 1))):  # False for NaN too
        raise ValueError(f"kappa must lie in [0, 1], got {kappa!r}")
    t = special.ndtri(1 - k / 2)
    with np.errstate(invalid="ignore"):  # t = inf at kappa = 0, where t phi(t) = 0
        t_phi = np.where(np.isinf(t), 0.0, t * np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi))
    out = np.sqrt(np.maximum(1 - k - 2 * t_phi, 0.0))
    return float(out) if out.ndim == 0 else out


def compressibility_curve(x: Any, kappas: Any, p: float = 2) -> Any:
    r"""Relative best-term errors :math:`\sigma_{\lfloor \kappa n \rfloor}(x)_p / \|x\|_p` for many ``kappa``.

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray, shape (..., n)
        Vectors along the last axis.
    kappas : float or sequence of float
        Fractions of entries kept, each in ``[0, 1]``; ``k = floor(kappa * n)``
        (rounded down: never more than the fraction asked for is kept).
    p : float
        The exponent, ``p > 0``.

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (..., len(kappas))
        The same kind as ``x``; shape ``(...)`` when ``kappas`` is a scalar.
        One sort per vector serves every ``kappa``.

    Notes
    -----
    Gribonval, Cevher & Davies call an iid sequence ``l_p``-compressible when
    this curve tends to 0 for every ``kappa`` in (0, 1) as ``n`` grows
    :cite:p:`gribonval2012compressible`. Introduced in the chapter *Compressibility*.
    """
    t, was_numpy = _as_tensor("x", x)
    n = _check_vectors("x", t)
    p = _check_p(p)
    _, drop, scalar = _kept_counts(kappas, n, t.device)
    powers, _ = _sorted_powers(t, p)
    err = _relative(_tail_norms(powers, p, drop), _tail_norms(powers, p, torch.tensor([n], device=t.device)))
    if scalar:
        err = err[..., 0]
    return _finish(err.to(t.dtype), was_numpy)


def _column_norms(name: str, W: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Column norms of ``W`` in units of ``max|W|`` (never overflowing), ``max|W|`` and ``was_numpy``."""
    t, was_numpy = _as_tensor(name, W)
    if t.dim() < 2:
        raise ValueError(
            f"{name} must be a matrix (d, n) or a batch (..., d, n), got shape {tuple(t.shape)}"
        )
    _check_vectors(name, t)
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    # scale first: squares of heavy-tailed weights overflow float32
    top = t.abs().amax(dim=(-2, -1), keepdim=True) if t.numel() else torch.zeros((*t.shape[:-2], 1, 1))
    safe = torch.where(top > 0, top, torch.ones_like(top))
    return torch.linalg.vector_norm(t / safe, dim=-2), top[..., 0, 0], was_numpy


def column_best_k_error(W: Any, k: int, relative: bool = True) -> Any:
    r"""Frobenius error of keeping the ``k`` largest-norm columns of ``W`` (paper convention).

    .. math::

        \frac{\|\Theta - \Theta_{(k)}\|_F}{\|\Theta\|_F}
        = \frac{\sigma_k(\nu)_2}{\|\nu\|_2}, \qquad \nu_j = \|\Theta_{:, j}\|_2 ,

    where :math:`\Theta_{(k)}` zeroes all but the ``k`` columns of largest norm.

    Parameters
    ----------
    W : torch.Tensor or numpy.ndarray, shape (..., d, n)
        The paper's :math:`\Theta \in \mathbb{R}^{d \times n}`: one neuron per
        **column**. For a torch ``nn.Linear`` weight (shape ``(n, d)``, one
        neuron per row) pass ``layer.weight.T``.
    k : int
        Columns kept, ``0 <= k <= n``.
    relative : bool
        Divide by ``||W||_F``.

    Returns
    -------
    torch.Tensor or numpy.ndarray, shape (...)

    Notes
    -----
    Introduced in the chapter *Compressibility*.
    """
    check_bool("relative", relative)
    dtype = _as_tensor("W", W)[0].dtype
    norms, top, was_numpy = _column_norms("W", W)
    k = check_int("k", k, low=0, high=norms.shape[-1])
    res = best_k_error(norms, k, p=2, relative=relative)
    if not relative:
        res = res * top
    return _finish(res.to(dtype), was_numpy)


def column_compressibility_curve(W: Any, kappas: Any) -> Any:
    r"""Relative Frobenius error of keeping the ``floor(kappa n)`` largest-norm columns, for each ``kappa``.

    ``W`` has shape ``(..., d, n)`` with neurons as columns (paper convention; pass
    ``layer.weight.T`` for a torch layer). Returns shape ``(..., len(kappas))``.
    The curve of the column norms: ``compressibility_curve(norms, kappas, p=2)``.
    Introduced in the chapter *Compressibility*.
    """
    dtype = _as_tensor("W", W)[0].dtype
    norms, _, was_numpy = _column_norms("W", W)
    return _finish(compressibility_curve(norms, kappas, p=2).to(dtype), was_numpy)


def neuron_norms(weight: torch.Tensor) -> torch.Tensor:
    """l2 norms of the neurons of a torch weight: one per **row** (a conv filter is one row).

    Parameters
    ----------
    weight : torch.Tensor, shape (out, in, ...)
        An ``nn.Linear`` weight ``(n, d)`` or a convolution weight ``(out, in, kh, kw)``.

    Returns
    -------
    torch.Tensor, shape (out,)
        ``neuron_norms(layer.weight)`` are the column norms of the paper's
        ``Theta = layer.weight.T``. Introduced in the chapter *Compressibility*.
    """
    if not torch.is_tensor(weight):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() < 2:
        raise ValueError(f"weight must have shape (out, in, ...), got {tuple(weight.shape)}")
    w = weight.detach().flatten(1)
    return torch.linalg.vector_norm(w.to(torch.float64), dim=1).to(w.dtype)
