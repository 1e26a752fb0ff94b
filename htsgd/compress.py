"""Compressibility: best k-term errors, compressibility curves and neuron pruning.

Introduced in the chapter *Compressibility* (``book/compressibility.md``); the
pruning functions are used in the chapter *Compressibility experiments*.

Two conventions meet here, and every function says which one it uses.

* **The paper's mathematics** writes the hidden weights of a one-hidden-layer
  network as ``Theta in R^{d x n}``: ``d`` inputs, ``n`` neurons, one neuron per
  *column* :cite:p:`wan2024implicit`. :func:`column_best_k_error` and
  :func:`column_compressibility_curve` take such a ``(d, n)`` matrix.
* **torch** stores an ``nn.Linear(d, n)`` weight as ``(n, d)``: one neuron per
  *row* (a convolution's ``(out, in, kh, kw)`` weight holds one filter per row).
  The pruning functions work on these rows. So for a torch layer
  ``column_best_k_error(layer.weight.T, k)`` is the paper's quantity, and
  :func:`neuron_norms` ``(layer.weight)`` gives the same column norms directly.

The relative Frobenius error of keeping the ``k`` largest-norm columns equals the
best ``k``-term ``l2`` error of the vector of column norms, which is how
:func:`column_best_k_error` computes it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import special
from torch import nn

from ._checks import check_bool, check_choice, check_int, check_real, real_tensor
from ._random import SeedLike, torch_generator

__all__ = [
    "count_of_fraction",
    "best_k_error",
    "compressibility_curve",
    "gaussian_limit",
    "noise_reference_fraction",
    "column_best_k_error",
    "column_compressibility_curve",
    "neuron_norms",
    "hidden_layers",
    "output_layer",
    "select_neurons",
    "prune_neurons",
    "magnitude_prune",
    "pruned_fraction",
    "prune_report",
    "LayerPruning",
    "PruneReport",
]


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


# --------------------------------------------------------------------------------------
# which layers are hidden
# --------------------------------------------------------------------------------------

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _PRUNABLE)]


def output_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The output layer as ``(name, module)``: the last ``nn.Linear`` in module order (``None`` if none).

    Introduced in the chapter *Compressibility experiments*.
    """
    linears = [(name, m) for name, m in _layers(model) if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def hidden_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers that pruning touches, as ``(name, module)`` pairs in module order.

    Every ``nn.Linear`` and convolution (``Conv1d/2d/3d``) except the output layer,
    the last ``nn.Linear`` (a model without any ``nn.Linear`` has every layer
    hidden). Unlike the noise, pruning also applies to the first convolution
    ("hidden layers only": every layer but the output one).

    Introduced in the chapter *Compressibility experiments*.
    """
    out = output_layer(model)
    return [(name, m) for name, m in _layers(model) if out is None or m is not out[1]]


# --------------------------------------------------------------------------------------
# structured (neuron) pruning
# --------------------------------------------------------------------------------------


def select_neurons(
    norms: torch.Tensor,
    *,
    mce: float | None = None,
    fraction: float | None = None,
    count: int | None = None,
    order: str = "norm",
    generator: SeedLike = None,
) -> torch.Tensor:
    """Choose the neurons of one layer to prune; return a boolean mask (``True`` = pruned).

    Parameters
    ----------
    norms : torch.Tensor, shape (n,)
        Neuron l2 norms (see :func:`neuron_norms`).
    mce : float, optional
        The authors' criterion: walk through the neurons (smallest norm first for
        ``order="norm"``) and prune them while the removed fraction of the layer's
        squared Frobenius norm, ``sum_removed ||w_i||^2 / sum_all ||w_i||^2``, stays
        ``<= mce``. ``mce`` in ``[0, 1]``; 0.1 in the paper. Equivalently the
        relative Frobenius error of the layer stays ``<= sqrt(mce)``.
    fraction : float, optional
        Prune ``floor(fraction * n)`` neurons, ``fraction`` in ``[0, 1]``.
    count : int, optional
        Prune exactly ``count`` neurons, ``0 <= count <= n``.
    order : {"norm", "random"}
        ``"norm"``: smallest norms first (ties: lower index first). ``"random"``: a
        uniformly random order (the control experiment), drawn from ``generator``.
    generator : None, int or torch.Generator
        Only for ``order="random"``.

    Exactly one of ``mce``, ``fraction``, ``count`` must be given. A layer whose
    weights are all zero is pruned entirely under ``mce`` (removing it costs nothing).
    Introduced in the chapter *Compressibility experiments*.
    """
    if not torch.is_tensor(norms) or norms.dim() != 1:
        raise ValueError("norms must be a 1-d torch.Tensor of neuron norms")
    given = [v is not None for v in (mce, fraction, count)]
    if sum(given) != 1:
        raise ValueError(
            f"give exactly one of mce, fraction, count; got mce={mce}, fraction={fraction}, count={count}"
        )
    check_choice("order", order, ("norm", "random"))
    n = norms.shape[0]
    nd = norms.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(nd).all()) or bool((nd < 0).any()):
        raise ValueError("norms must be finite and non-negative")
    if order == "norm":
        perm = torch.argsort(nd, stable=True)
    else:
        perm = torch.randperm(n, generator=torch_generator(generator, "cpu"))
    if mce is not None:
        mce = check_real("mce", mce, low=0, high=1)
        sq = nd[perm] ** 2
        total = float(sq.sum())
        if total == 0.0:
            m = n
        else:
            removed = torch.cumsum(sq, 0) / total
            # relative slack for rounding: a removed share equal to mce counts as <= mce
            ok = removed <= mce * (1 + 1e-12) + 1e-15
            # prune the longest prefix that satisfies the rule (removed share is non-decreasing)
            m = int(ok.sum())
    elif fraction is not None:
        fraction = check_real("fraction", fraction, low=0, high=1)
        m = count_of_fraction(fraction, n)
    else:
        m = check_int("count", count, low=0, high=n)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[perm[:m]] = True
    return mask.to(norms.device)


def _check_counts(counts: Any, layers: list[tuple[str, nn.Module]]) -> list[int]:
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence):
        raise TypeError("counts must be a sequence of ints, one per hidden layer")
    if len(counts) != len(layers):
        raise ValueError(
            f"counts must have one entry per hidden layer ({len(layers)}), got {len(counts)}"
        )
    return [
        check_int(f"counts[{i}]", c, low=0, high=m.weight.shape[0])
        for i, (c, (_, m)) in enumerate(zip(counts, layers, strict=True))
    ]


def prune_neurons(
    model: nn.Module,
    *,
    mce: float | None = None,
    fraction: float | None = None,
    counts: Sequence[int] | None = None,
    order: str = "norm",
    generator: SeedLike = None,
) -> nn.Module:
    """Structured pruning: a copy of ``model`` with whole neurons of its hidden layers zeroed.

    Parameters
    ----------
    model : torch.nn.Module
        Any module with ``nn.Linear`` / convolution layers; it is left untouched.
    mce : float, optional
        The authors' rule, per hidden layer (see :func:`select_neurons`): prune
        the smallest-norm neurons while the removed squared-Frobenius fraction of
        the layer stays ``<= mce`` (0.1 in the paper).
    fraction : float, optional
        Prune ``floor(fraction * n)`` neurons in every hidden layer.
    counts : sequence of int, optional
        Neurons to prune in each hidden layer (one entry per layer of
        :func:`hidden_layers`), e.g. ``prune_report(pruned).pruned_neurons`` of
        another pruning, to prune the same numbers at random.
    order : {"norm", "random"}
        Smallest norms first, or a random choice (the control).
    generator : None, int or torch.Generator
        Seed for ``order="random"`` (one stream for all layers).

    Returns
    -------
    torch.nn.Module
        A deep copy in which every pruned neuron's incoming weights (its row; its
        filter for a convolution) and its bias entry are zero.

    Notes
    -----
    Exactly one of ``mce``, ``fraction``, ``counts``. As in the authors' code, the
    neuron's *outgoing* weights (in the next layer) are left as they are: with
    ReLU and no normalisation in between, a zero row outputs 0, so the pruned
    model computes what the masked network computes. After a batch-norm layer a
    zeroed filter outputs the batch-norm shift instead of 0. The output layer
    (last ``nn.Linear``) is never pruned. Introduced in the chapter
    *Compressibility experiments*.
    """
    if sum(v is not None for v in (mce, fraction, counts)) != 1:
        raise ValueError(
            f"give exactly one of mce, fraction, counts; got mce={mce}, fraction={fraction}, counts={counts}"
        )
    check_choice("order", order, ("norm", "random"))
    if mce is not None:
        check_real("mce", mce, low=0, high=1)
    if fraction is not None:
        check_real("fraction", fraction, low=0, high=1)
    new = copy.deepcopy(model)
    layers = hidden_layers(new)
    per_layer = _check_counts(counts, layers) if counts is not None else None
    gen = torch_generator(generator, "cpu") if order == "random" else None
    with torch.no_grad():
        for i, (_, layer) in enumerate(layers):
            norms = neuron_norms(layer.weight)
            mask = select_neurons(
                norms,
                mce=mce,
                fraction=fraction,
                count=None if per_layer is None else per_layer[i],
                order=order,
                generator=gen,
            ).to(layer.weight.device)
            layer.weight[mask] = 0
            if getattr(layer, "bias", None) is not None:
                layer.bias[mask] = 0
    return new


def magnitude_prune(model: nn.Module, fraction: float, *, scope: str = "layer") -> nn.Module:
    """Unstructured pruning: a copy of ``model`` with the smallest-magnitude hidden weights zeroed.

    Parameters
    ----------
    model : torch.nn.Module
        Left untouched.
    fraction : float
        Share of the hidden-layer weights set to zero, in ``[0, 1]``:
        ``floor(fraction * size)`` entries of each layer (``scope="layer"``) or of
        all hidden weights together (``scope="global"``). Ties broken by position.
    scope : {"layer", "global"}

    Returns
    -------
    torch.nn.Module
        The output layer and biases are untouched. Introduced in the chapter
        *Compressibility experiments*.
    """
    fraction = check_real("fraction", fraction, low=0, high=1)
    check_choice("scope", scope, ("layer", "global"))
    new = copy.deepcopy(model)
    weights = [m.weight for _, m in hidden_layers(new)]
    with torch.no_grad():
        if scope == "layer":
            for w in weights:
                m = count_of_fraction(fraction, w.numel())
                idx = torch.argsort(w.detach().abs().flatten(), stable=True)[:m]
                w.view(-1)[idx] = 0
        elif weights:
            flat = torch.cat([w.detach().abs().flatten().to("cpu", torch.float64) for w in weights])
            m = count_of_fraction(fraction, flat.numel())
            idx = torch.argsort(flat, stable=True)[:m]
            start = 0
            for w in weights:
                sel = idx[(idx >= start) & (idx < start + w.numel())] - start
                w.view(-1)[sel.to(w.device)] = 0
                start += w.numel()
    return new


# --------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerPruning:
    """Pruning state of one hidden layer (see :func:`prune_report`).

    Introduced in the chapter *Compressibility*.
    """

    name: str
    kind: str
    neurons: int
    pruned_neurons: int
    params: int
    zero_params: int

    @property
    def fraction(self) -> float:
        """Zero weights / weights of this layer."""
        return self.zero_params / self.params if self.params else 0.0


@dataclass(frozen=True)
class PruneReport:
    """Per-layer pruning detail of a model's hidden layers, and the totals the authors report.

    ``fraction`` is parameters removed / parameters considered: exactly-zero
    weights over all weights of the hidden layers (output layer and biases excluded).
    ``rows()`` gives one dict per layer, ready for ``pandas.DataFrame``.

    Introduced in the chapter *Compressibility*.
    """

    layers: list[LayerPruning] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def zero_params(self) -> int:
        return sum(layer.zero_params for layer in self.layers)

    @property
    def fraction(self) -> float:
        return self.zero_params / self.params if self.params else 0.0

    @property
    def neurons(self) -> int:
        return sum(layer.neurons for layer in self.layers)

    @property
    def pruned_neurons_total(self) -> int:
        return sum(layer.pruned_neurons for layer in self.layers)

    @property
    def neuron_fraction(self) -> float:
        """Zeroed neurons / neurons of the hidden layers."""
        return self.pruned_neurons_total / self.neurons if self.neurons else 0.0

    @property
    def pruned_neurons(self) -> list[int]:
        """Zeroed neurons per hidden layer (the ``counts`` argument of :func:`prune_neurons`)."""
        return [layer.pruned_neurons for layer in self.layers]

    def rows(self) -> list[dict[str, Any]]:
        return [{**asdict(layer), "fraction": layer.fraction} for layer in self.layers]


def prune_report(model: nn.Module) -> PruneReport:
    """Count the zero neurons (all-zero rows) and zero weights of every hidden layer.

    Introduced in the chapter *Compressibility experiments*.
    """
    out = []
    for name, m in hidden_layers(model):
        w = m.weight.detach()
        zero_rows = int((w.flatten(1) == 0).all(dim=1).sum())
        out.append(
            LayerPruning(
                name=name,
                kind=type(m).__name__,
                neurons=int(w.shape[0]),
                pruned_neurons=zero_rows,
                params=int(w.numel()),
                zero_params=int((w == 0).sum()),
            )
        )
    return PruneReport(out)


def pruned_fraction(model: nn.Module) -> float:
    """Fraction of parameters pruned, as the authors count it.

    Exactly-zero weights of the hidden layers divided by all weights of the hidden
    layers; the output layer (last ``nn.Linear``) and biases are excluded. Structured
    pruning of a neuron with ``d`` inputs removes ``d`` parameters (its outgoing
    weights in the next layer are not counted as removed). Introduced in the
    chapter *Compressibility experiments*.
    """
    return prune_report(model).fraction


# --------------------------------------------------------------------------------------
# pure-noise references for the pruned fraction
# --------------------------------------------------------------------------------------

def _gaussian_reference_fraction(tau: float, dof: int) -> float:
    # Norms R with R^2 = s * chi^2_dof. mce-tau prunes the neurons with R^2 <= q, where
    # E[R^2 1{R^2 <= q}] / E[R^2] = tau; since x f_dof(x) = dof f_{dof+2}(x), that share is
    # P(chi^2_{dof+2} <= q / s), so q / s = F_{dof+2}^{-1}(tau) and the fraction is F_dof(q / s).
    return float(special.chdtr(dof, special.chdtri(dof + 2, 1.0 - tau))) if tau > 0 else 0.0


def noise_reference_fraction(
    alpha: float,
    width: int,
    *,
    tau: float = 0.1,
    noise: str = "per_neuron",
    input_dim: int | None = None,
    seeds: int = 16,
    generator: SeedLike = None,
) -> float:
    r"""The fraction of neurons mce-``tau`` prunes when the hidden layer is pure noise.

    The reference against which a trained network's pruned fraction is read: a layer
    of ``width`` neurons whose weights are nothing but one draw of the noise of
    :class:`htsgd.optim.HeavyTailedSGD` (the accumulated noise of many steps has the
    same law up to scale, and the mce rule is scale invariant).

    * ``"per_neuron"`` (type 1): neuron ``i`` is ``S_i (1, ..., 1)`` with
      ``S_i ~ SaS(alpha, 1)``, so its norm is ``sqrt(d) |S_i|`` (``input_dim`` is not
      needed).
    * ``"per_weight"`` (type 2): ``input_dim`` iid ``SaS(alpha, 1)`` weights per neuron.
    * ``"isotropic"`` (type 3): a rotationally invariant stable vector in
      ``R^input_dim`` per neuron (:func:`htsgd.stable.sample_isotropic`).

    At ``alpha = 2`` every type gives Gaussian neurons, ``||theta||^2 = 2 chi^2_k``
    with ``k = 1`` (per neuron) or ``k = input_dim``, and the function returns the
    large-width limit in closed form: mce-``tau`` prunes the neurons with
    ``||theta||^2 <= q``, where the removed share of the squared norm is
    ``E[chi^2_k 1{chi^2_k <= x}] / k = P(chi^2_{k+2} <= x) = tau``, so the fraction is
    ``P(chi^2_k <= F_{k+2}^{-1}(tau))``. For ``k = 1`` this is
    ``2 Phi(t) - 1`` with ``2 Phi(t) - 1 - 2 t phi(t) = tau``: 0.555 at ``tau = 0.1``
    (``t = 0.764``), at every width. The mean over finite layers differs by
    ``O(1 / width)``. For ``alpha < 2`` there is no closed form and the function
    returns the mean over ``seeds`` Monte Carlo layers; as ``width`` grows the
    fraction tends to 1 (the theory of chapter *Compressibility*).

    Parameters
    ----------
    alpha : float
        Tail index of the noise, in (0, 2].
    width : int
        Number of neurons ``n >= 1`` (ignored at ``alpha = 2``).
    tau : float
        The mce threshold, in [0, 1); 0.1 in the paper.
    noise : {"per_neuron", "per_weight", "isotropic"}
        The noise type.
    input_dim : int, optional
        Weights per neuron ``d >= 1``; required for ``"per_weight"`` and ``"isotropic"``.
    seeds : int
        Monte Carlo layers averaged for ``alpha < 2`` (>= 1).
    generator : None, int or torch.Generator
        Seed of the Monte Carlo draws; the same seed gives the same value.

    Returns
    -------
    float
        The mean fraction of neurons pruned, in [0, 1].

    Raises
    ------
    ValueError
        For an argument outside the ranges above, or a missing ``input_dim``.

    Examples
    --------
    >>> round(noise_reference_fraction(2.0, 512), 3)
    0.555
    >>> noise_reference_fraction(1.5, 512, generator=0) > 0.555
    True

    Introduced in the chapter *Compressibility experiments*.
    """
    from . import noise as _noise

    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    width = check_int("width", width, low=1)
    tau = check_real("tau", tau, low=0.0, high=1.0, high_open=True)
    kind = _noise.get(noise)
    seeds = check_int("seeds", seeds, low=1)
    if not kind.input_dim_matters:
        dim = 1
    elif input_dim is None:
        raise ValueError(f"input_dim is required for noise={noise!r} (weights per neuron, >= 1)")
    else:
        dim = check_int("input_dim", input_dim, low=1)
    if alpha == 2.0:
        return _gaussian_reference_fraction(tau, dim)
    norms = kind.reference_norms(alpha, (seeds, width), dim, torch_generator(generator, "cpu"))
    fractions = [float(select_neurons(row, mce=tau).double().mean()) for row in norms]
    return float(np.mean(fractions))
