"""Lévy-driven SDEs: stable increments, their coupling, the Euler scheme, exact OU laws, orders.

Introduced in the chapter *Lévy-driven SDEs and the Euler scheme* (``book/sde.md``).

* :func:`stable_increments` -- iid increments ``L(t + h) - L(t)`` of an alpha-stable Lévy
  motion, ``S(alpha, beta, h**(1/alpha), 0)`` in the S1 parametrization;
  :func:`stable_increment_chunks` yields the same kind of increments a block of steps at a
  time, so that a long run never holds all of them in memory.
* :func:`coarsen` -- sums of consecutive increments: the coarse path driven by the same
  Lévy motion as a fine one (the coupling behind every strong-error measurement).
* :func:`euler` -- the Euler scheme ``X_{k+1} = X_k + h b(X_k) + c(X_k) dL_k``, optionally
  with the tamed drift ``h b / (1 + h |b|)``, driven by given increments (a tensor, or an
  iterable of chunks of steps).
* :func:`stable_ou_law`, :func:`stable_ou_euler_law` -- the exact laws of the alpha-stable
  Ornstein-Uhlenbeck process ``dX = -theta X dt + sigma dL`` and of its Euler chain, both
  ``loc + SaS(alpha, scale)``.
* :func:`stable_ou_coupled_error` -- the exact law of the strong error of the coupled coarse
  and fine Euler chains of that process (both linear in the same increments).
* :func:`convergence_order` -- the least-squares slope of ``log error`` against ``log step``
  (for errors known exactly, as the weak errors from closed forms).
* :func:`strong_order` -- the whole strong-order measurement: coupled coarse and fine paths,
  per-path errors at each step, the fitted order with its bootstrap interval over paths
  (:func:`htsgd.evidence.slope_interval`) and the local orders between consecutive steps.
* :func:`levy_exponent_from_measure` -- the Lévy-Khintchine exponent of a symmetric
  Lévy measure ``c |y|**(-1-alpha) dy``, by quadrature (``|u|**alpha`` for the stable one).

Conventions
-----------
``L`` is the alpha-stable Lévy motion with ``L(1) ~ S(alpha, beta, 1, 0)`` (S1, as in
:func:`htsgd.stable.sample`); for ``beta = 0`` it is the symmetric motion with
``E exp(iu L(t)) = exp(-t |u|**alpha)``, and ``alpha = 2`` gives ``sqrt(2)`` times a
standard Brownian motion. Time runs along the first axis of every increment tensor.

References
----------
Applebaum (2009), *Lévy Processes and Stochastic Calculus*, 2nd ed.; Protter & Talay
(1997), Ann. Probab. 25, 393-423; Jacod (2004), Ann. Probab. 32, 1830-1872; Kühn &
Schilling (2019), Stoch. Proc. Appl. 129, 2654-2680 (arXiv:1709.03350);
Hutzenthaler, Jentzen & Kloeden (2012), Ann. Appl. Probab. 22, 1611-1641 (taming).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import stable as _stable
from ._checks import check_bool, check_int, check_real, check_size
from ._random import SeedLike, resolve_device, resolve_dtype, torch_generator
from .evidence import SlopeInterval, slope_interval

__all__ = [
    "stable_increments",
    "stable_increment_chunks",
    "coarsen",
    "euler",
    "stable_ou_law",
    "stable_ou_euler_law",
    "stable_ou_coupled_error",
    "convergence_order",
    "StrongOrder",
    "strong_order",
    "levy_exponent_from_measure",
]

def stable_increments(
    alpha: float,
    n_steps: int,
    shape: int | tuple[int, ...],
    step: float,
    *,
    beta: float = 0.0,
    generator: SeedLike = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Iid increments of an alpha-stable Lévy motion over steps of length ``step``.

    Each entry is ``L(t + step) - L(t) ~ S(alpha, beta, step**(1/alpha), 0)`` in the S1
    parametrization, where ``L(1) ~ S(alpha, beta, 1, 0)``. This holds for every alpha,
    ``alpha = 1`` with ``beta != 0`` included (the characteristic exponent of ``L(t)``
    is ``t`` times that of ``L(1)``, and S1 with location 0 is closed under that).

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2].
    n_steps : int
        Number of time steps (>= 0), the first axis of the result.
    shape : int or tuple of int
        Shape of the state (number of paths, dimensions, ...).
    step : float
        Step length ``h > 0``.
    beta : float
        Skewness in [-1, 1]; 0 gives the symmetric motion.
    generator : None, int or torch.Generator
        Seed or generator; the same seed gives the same increments.
    device, dtype
        Where and in which float dtype to draw (see :func:`htsgd.stable.sample`).

    Returns
    -------
    torch.Tensor
        Shape ``(n_steps, *shape)``.

    Examples
    --------
    >>> from htsgd.sde import stable_increments
    >>> stable_increments(1.5, 100, (4, 2), 0.01, generator=0).shape
    torch.Size([100, 4, 2])

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    n_steps = check_int("n_steps", n_steps, low=0)
    state = check_size("shape", shape)
    step = check_real("step", step, low=0.0, low_open=True)
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    if not math.isfinite(step):
        raise ValueError(f"step must be finite, got {step!r}")
    scale = _increment_scale(step, alpha, dtype)
    count = n_steps * math.prod(state)
    try:
        return _stable.sample(
            alpha, (n_steps, *state), beta=beta, scale=scale, parameterization="S1",
            generator=generator, device=device, dtype=dtype,
        )
    except (RuntimeError, MemoryError) as err:
        # torch's allocator failure names neither argument: say which sizes asked for the memory
        if isinstance(err, MemoryError) or "alloc" in str(err).lower() or "out of memory" in str(err).lower():
            raise MemoryError(
                f"n_steps * prod(shape) = {n_steps} * {math.prod(state)} = {count} increments do not fit in "
                "memory; reduce n_steps or shape, or stream them with stable_increment_chunks"
            ) from err
        raise


def _increment_scale(step: float, alpha: float, dtype: torch.dtype | None) -> float:
    """``step**(1/alpha)``, refused (naming step) where it is 0 or beyond the largest float of ``dtype``."""
    log_scale = math.log(step) / alpha
    finfo = torch.finfo(resolve_dtype(dtype))
    if not math.log(finfo.tiny) <= log_scale <= math.log(finfo.max):
        raise ValueError(
            f"step = {step!r} gives increments of scale step**(1/alpha) = exp({log_scale:.4g}) at alpha = {alpha!r}, "
            f"outside the normal range [{finfo.tiny:.3g}, {finfo.max:.3g}] of {finfo.dtype}: choose a step with "
            "step**(1/alpha) in that range (or rescale time)"
        )
    return math.exp(log_scale)


def stable_increment_chunks(
    alpha: float,
    n_steps: int,
    shape: int | tuple[int, ...],
    step: float,
    *,
    chunk: int = 100,
    beta: float = 0.0,
    generator: SeedLike = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
) -> Iterator[torch.Tensor]:
    """Yield the increments of :func:`stable_increments` ``chunk`` steps at a time.

    For long runs: :func:`euler` accepts this iterator in place of the full tensor, so
    memory holds ``chunk * prod(shape)`` increments instead of ``n_steps * prod(shape)``.
    The chunks are drawn one after the other from one generator: the same seed and
    ``chunk`` give the same chunks (a different ``chunk`` gives other, equally distributed,
    numbers). The arguments are checked when the function is called, not at the first chunk.

    Parameters
    ----------
    alpha, n_steps, shape, step, beta, generator, device, dtype
        As in :func:`stable_increments`.
    chunk : int
        Steps per chunk (>= 1); the last chunk holds the remainder.

    Yields
    ------
    torch.Tensor
        Shape ``(m, *shape)`` with ``m = min(chunk, steps left)``; ``n_steps`` steps in all.

    Examples
    --------
    >>> from htsgd.sde import stable_increment_chunks
    >>> [c.shape[0] for c in stable_increment_chunks(1.5, 250, 10, 0.01, chunk=100, generator=0)]
    [100, 100, 50]

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    n_steps = check_int("n_steps", n_steps, low=0)
    chunk = check_int("chunk", chunk, low=1)
    state = check_size("shape", shape)
    # Validate everything now (a generator function would defer errors to the first chunk).
    stable_increments(alpha, 0, state, step, beta=beta, generator=0, device=device, dtype=dtype)
    dev = resolve_device(device)
    gen = torch_generator(generator, dev)

    def chunks() -> Iterator[torch.Tensor]:
        done = 0
        while done < n_steps:
            m = min(chunk, n_steps - done)
            yield stable_increments(alpha, m, state, step, beta=beta, generator=gen, device=dev, dtype=dtype)
            done += m

    return chunks()


def coarsen(increments: torch.Tensor, factor: int) -> torch.Tensor:
    """Sums of ``factor`` consecutive increments along the first axis.

    If ``increments`` are those of a Lévy motion over steps ``h``, the result holds its
    increments over steps ``factor * h``, *of the same path*: the Euler scheme driven by
    the result is the coarse scheme coupled to the fine one, and their difference at a
    common time measures the strong error. For streamed increments
    (:func:`stable_increment_chunks` with ``chunk`` a multiple of ``factor``) coarsen each
    chunk: ``euler(b, x0, (coarsen(c, factor) for c in chunks), factor * h)``.

    Parameters
    ----------
    increments : torch.Tensor, shape (n_steps, *shape)
        ``n_steps`` must be divisible by ``factor``.
    factor : int
        Steps per coarse step (>= 1).

    Returns
    -------
    torch.Tensor
        Shape ``(n_steps // factor, *shape)``, same dtype and device.

    Examples
    --------
    >>> import torch
    >>> from htsgd.sde import coarsen
    >>> coarsen(torch.arange(6.0), 3)
    tensor([ 3., 12.])

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    if not torch.is_tensor(increments):
        raise TypeError(f"increments must be a torch.Tensor, got {type(increments).__name__}")
    if increments.ndim < 1:
        raise ValueError("increments must have at least one dimension (time first), got a 0-d tensor")
    factor = check_int("factor", factor, low=1)
    n = increments.shape[0]
    if n % factor:
        raise ValueError(f"increments.shape[0] = {n} must be divisible by factor = {factor}")
    return increments.reshape(n // factor, factor, *increments.shape[1:]).sum(dim=1)


def _as_state(x0: Any, like: torch.Tensor) -> torch.Tensor:
    if torch.is_tensor(x0):
        if x0.is_complex():
            raise TypeError(f"x0 must be real, got a complex tensor ({x0.dtype})")
        x = x0.detach().to(device=like.device, dtype=like.dtype)
    elif isinstance(x0, numbers.Real) and not isinstance(x0, bool):
        x = torch.tensor(float(x0), dtype=like.dtype, device=like.device)
    else:
        raise TypeError(f"x0 must be a real number or a torch.Tensor, got {type(x0).__name__}")
    if not bool(torch.isfinite(x).all()):
        # a state that is already infinite or NaN is not a starting point (inf also arises from a finite
        # float64 x0 beyond float32's range when the increments are float32)
        raise ValueError(f"x0 must be finite in the increments' dtype {like.dtype}; it has non-finite entries")
    try:
        x = torch.broadcast_to(x, like.shape[1:]).clone()
    except RuntimeError as err:
        raise ValueError(
            f"x0 of shape {tuple(x.shape)} does not broadcast to the state shape {tuple(like.shape[1:])}"
            " (the increments' shape without the time axis)"
        ) from err
    return x


def _check_increments(name: str, dl: Any) -> torch.Tensor:
    if not torch.is_tensor(dl):
        raise TypeError(f"{name} must be a torch.Tensor or an iterable of them, got {type(dl).__name__}")
    if not dl.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {dl.dtype}")
    if dl.ndim < 1:
        raise ValueError(f"{name} must have a time axis first, got a 0-d tensor")
    return dl


def euler(
    drift: Callable[[torch.Tensor], torch.Tensor],
    x0: float | torch.Tensor,
    increments: torch.Tensor | Iterable[torch.Tensor],
    step: float,
    *,
    diffusion: Callable[[torch.Tensor], torch.Tensor] | float | None = None,
    tame: bool = False,
    return_path: bool = False,
) -> torch.Tensor:
    """The Euler scheme for ``dX = b(X) dt + c(X-) dL``, driven by given increments.

    ``X_{k+1} = X_k + h b(X_k) + c(X_k) dL_k`` for ``k = 0, ..., n_steps - 1``, with
    ``c = 1`` when ``diffusion`` is None. With ``tame=True`` the drift term is the tamed
    ``h b / (1 + h |b|)`` (elementwise), whose size never exceeds 1, also where the drift
    overflows to ``inf`` (an infinite drift gives a step of size exactly 1): the step of
    Hutzenthaler, Jentzen & Kloeden (2012). It shrinks every component smoothly and by its
    own factor, unlike gradient clipping, which leaves the update unchanged below a threshold
    and rescales the whole vector above it. The result depends on the increments only (no
    randomness inside).

    Parameters
    ----------
    drift : callable
        ``b``: maps a state tensor of shape ``shape`` to a tensor of the same shape.
    x0 : float or torch.Tensor
        Initial state, broadcastable to ``shape``.
    increments : torch.Tensor of shape (n_steps, *shape), or an iterable of such tensors
        The Lévy increments ``dL_k`` (e.g. :func:`stable_increments`). An iterable of
        chunks ``(m_j, *shape)`` (e.g. :func:`stable_increment_chunks`) is consumed one
        chunk at a time and gives the same result as their concatenation.
    step : float
        ``h > 0``, the time step the increments were drawn for.
    diffusion : callable, float or None
        ``c``: a function of the state (multiplicative noise), a constant, or None for 1.
    tame : bool
        Use the tamed drift.
    return_path : bool
        Return all ``n_steps + 1`` states instead of the final one.

    Returns
    -------
    torch.Tensor
        The final state, shape ``shape``, or the path, shape ``(n_steps + 1, *shape)``;
        dtype and device of the increments. Paths that blow up hold ``inf`` or ``nan``
        (no error is raised: counting them is part of the chapter).

    Raises
    ------
    TypeError
        If ``drift`` or ``diffusion`` is not callable (or a real constant), ``x0`` is complex,
        or increments are not float tensors.
    ValueError
        If ``step`` is not positive and finite, ``x0`` is not finite or does not broadcast,
        ``diffusion`` is a non-finite constant, or a chunk or a drift value has the wrong shape.

    Examples
    --------
    >>> import torch
    >>> from htsgd.sde import euler
    >>> euler(lambda x: -x, 1.0, torch.zeros(3, 1), 0.5, return_path=True).squeeze(1)
    tensor([1.0000, 0.5000, 0.2500, 0.1250])

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    if not callable(drift):
        raise TypeError(f"drift must be callable, got {type(drift).__name__}")
    step = check_real("step", step, low=0.0, low_open=True)
    if not math.isfinite(step):
        raise ValueError(f"step must be finite, got {step!r}")
    if diffusion is not None and not callable(diffusion):
        c_const = check_real("diffusion", diffusion, finite=True)
        diffusion = None if c_const == 1.0 else c_const
    tame = check_bool("tame", tame)
    return_path = check_bool("return_path", return_path)
    chunks = [increments] if torch.is_tensor(increments) else increments
    if not torch.is_tensor(increments) and not isinstance(increments, Iterable):
        raise TypeError(f"increments must be a torch.Tensor or an iterable of them, got {type(increments).__name__}")

    x: torch.Tensor | None = None
    path: list[torch.Tensor] = []
    for j, dl in enumerate(chunks):
        dl = _check_increments("increments" if torch.is_tensor(increments) else f"increments chunk {j}", dl)
        if x is None:
            x = _as_state(x0, dl)
            if return_path:
                path.append(x.unsqueeze(0).clone())
        elif dl.shape[1:] != x.shape:
            raise ValueError(f"increments chunk {j} has state shape {tuple(dl.shape[1:])}, expected {tuple(x.shape)}")
        block = torch.empty_like(dl) if return_path else None
        for k in range(dl.shape[0]):
            x = _euler_step(drift, diffusion, x, dl[k], step, tame)
            if block is not None:
                block[k] = x
        if block is not None:
            path.append(block)
    if x is None:
        raise ValueError("increments must hold at least one chunk (use a (0, *shape) tensor for zero steps)")
    return torch.cat(path) if return_path else x


def _euler_step(
    drift: Callable[[torch.Tensor], torch.Tensor],
    diffusion: Callable[[torch.Tensor], torch.Tensor] | float | None,
    x: torch.Tensor,
    dl: torch.Tensor,
    step: float,
    tame: bool,
) -> torch.Tensor:
    """One step; b and c are both evaluated at the old state before it is replaced."""
    b = drift(x)
    if not torch.is_tensor(b) or b.shape != x.shape:
        got = tuple(b.shape) if torch.is_tensor(b) else type(b).__name__
        raise ValueError(f"drift must return a tensor of the state's shape {tuple(x.shape)}, got {got}")
    if diffusion is None:
        noise = dl
    elif callable(diffusion):
        noise = diffusion(x) * dl
    else:
        noise = dl * diffusion
    if tame:
        return x + _tamed_step(b, step) + noise
    new = torch.add(x, b, alpha=step)
    return new.add_(noise)


def _tamed_step(b: torch.Tensor, step: float) -> torch.Tensor:
    """``h b / (1 + h |b|)``, written ``sign(b) / (1 + 1 / (h |b|))`` so that it stays in [-1, 1] when
    ``h |b|`` overflows or ``b`` is infinite (a superlinear drift in float32): never ``inf / inf``."""
    return torch.sign(b) / (1.0 + 1.0 / (step * b.abs()))


def _check_ou(theta: Any, sigma: Any, alpha: Any) -> tuple[float, float, float]:
    theta = check_real("theta", theta)
    sigma = check_real("sigma", sigma, low=0.0)
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    if not (math.isfinite(theta) and math.isfinite(sigma)):
        raise ValueError(f"theta and sigma must be finite, got {theta!r} and {sigma!r}")
    return theta, sigma, alpha


def _check_x0(x0: Any) -> Any:
    if torch.is_tensor(x0):
        if x0.is_complex():
            raise TypeError(f"x0 must be real, got a complex tensor ({x0.dtype})")
        return x0 if x0.is_floating_point() else x0.to(torch.get_default_dtype())
    if isinstance(x0, np.ndarray):
        if np.iscomplexobj(x0):
            raise TypeError(f"x0 must be real, got a complex array ({x0.dtype})")
        return x0.astype(np.float64)
    return check_real("x0", x0)


_LOG_MAX = math.log(np.finfo(np.float64).max)


def _exp_or_inf(log_value: float) -> float:
    """``exp(log_value)``, ``inf`` where it exceeds the largest float (math.exp would raise)."""
    return math.exp(log_value) if log_value <= _LOG_MAX else math.inf


def _times_factor(x0: Any, sign: float, log_factor: float) -> Any:
    """``x0 * sign * exp(log_factor)``; where the factor overflows, ``+-inf`` for ``x0 != 0`` and 0 for
    ``x0 = 0`` (the explosive regime: ``0 * e^{big}`` is 0, every other location escapes)."""
    factor = _exp_or_inf(log_factor)
    if math.isfinite(factor):
        return x0 * (sign * factor)
    if torch.is_tensor(x0):
        return torch.where(x0 == 0, torch.zeros_like(x0), torch.copysign(torch.full_like(x0, math.inf), sign * x0))
    if isinstance(x0, np.ndarray):
        return np.where(x0 == 0, 0.0, np.copysign(np.inf, sign * x0))
    return 0.0 if x0 == 0 else math.copysign(math.inf, sign * x0)


def _stable_scale(sigma: float, log_integral: float, alpha: float) -> float:
    """``sigma * exp(log_integral)**(1/alpha)``: 0 for sigma = 0, ``inf`` where it overflows."""
    if sigma == 0.0:
        return 0.0
    return min(sigma * _exp_or_inf(log_integral / alpha), math.inf)


def stable_ou_law(x0: Any, theta: float, sigma: float, alpha: float, t: float) -> tuple[Any, float]:
    """Exact law of the symmetric alpha-stable Ornstein-Uhlenbeck process at time ``t``.

    The solution of ``dX = -theta X dt + sigma dL``, ``X_0 = x0``, with ``L`` the symmetric
    alpha-stable motion (``E exp(iu L_t) = exp(-t |u|**alpha)``), is
    ``X_t = e^{-theta t} x0 + sigma int_0^t e^{-theta (t - s)} dL_s``, so
    ``X_t ~ loc + SaS(alpha, scale)`` with

        loc = x0 exp(-theta t),   scale**alpha = sigma**alpha (1 - exp(-alpha theta t)) / (alpha theta)

    (``sigma**alpha t`` when ``theta = 0``). ``t = inf`` with ``theta > 0`` gives the
    stationary law ``SaS(alpha, sigma (alpha theta)**(-1/alpha))``. In the explosive regime
    ``theta < 0`` both grow like ``e^{|theta| t}``; where they exceed the largest float the
    result is ``inf`` (``loc`` is ``+-inf`` with the sign of ``x0``, and 0 where ``x0 = 0``):
    the law escapes to infinity.

    Parameters
    ----------
    x0 : float, numpy array or torch.Tensor
        Initial state(s); ``loc`` has the same type and shape.
    theta : float
        Mean-reversion rate (any real; ``theta < 0`` is the explosive case).
    sigma : float
        Noise level >= 0.
    alpha : float
        Stability index in (0, 2].
    t : float
        Time >= 0 (``inf`` allowed when ``theta > 0``).

    Returns
    -------
    loc : same type as x0
    scale : float

    Examples
    --------
    >>> from htsgd.sde import stable_ou_law
    >>> loc, scale = stable_ou_law(1.0, 1.0, 1.0, 2.0, float("inf"))
    >>> loc, round(scale, 12)
    (0.0, 0.707106781187)

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    theta, sigma, alpha = _check_ou(theta, sigma, alpha)
    t = check_real("t", t, low=0.0)
    x0 = _check_x0(x0)
    if math.isinf(t) and theta <= 0:
        raise ValueError(f"t = inf needs theta > 0 (a stationary law), got theta = {theta!r}")
    # log of int_0^t e^{-alpha theta s} ds, in logs so that theta < 0 (explosive) never overflows
    if theta == 0.0 or t == 0.0:
        log_integral = math.log(t) if t > 0 else -math.inf
    elif math.isinf(t):
        log_integral = -math.log(alpha * theta)
    else:
        x = alpha * abs(theta) * t
        if x == 0.0:  # alpha |theta| t underflows: the integral is t
            log_integral = math.log(t)
        elif theta > 0:  # (1 - e^{-x}) / (alpha theta)
            log_integral = math.log(-math.expm1(-x)) - math.log(alpha * theta)
        else:  # (e^{x} - 1) / (alpha |theta|) = e^{x} (1 - e^{-x}) / (alpha |theta|)
            log_integral = x + math.log(-math.expm1(-x)) - math.log(alpha * abs(theta))
    loc = _times_factor(x0, 1.0, -theta * t) if math.isfinite(t) else x0 * 0.0
    return loc, _stable_scale(sigma, log_integral, alpha)


def stable_ou_euler_law(
    x0: Any, theta: float, sigma: float, alpha: float, step: float, n_steps: int
) -> tuple[Any, float]:
    """Exact law of the Euler chain of the stable Ornstein-Uhlenbeck process after ``n_steps``.

    The chain ``X_{k+1} = (1 - theta h) X_k + sigma dL_k`` with ``dL_k ~ SaS(alpha, h**(1/alpha))``
    iid is a linear function of independent symmetric stable variables, so
    ``X_n ~ loc + SaS(alpha, scale)`` with, for ``r = |1 - theta h|**alpha``,

        loc = (1 - theta h)**n x0,   scale**alpha = sigma**alpha h (1 - r**n) / (1 - r)

    (``sigma**alpha h n`` when ``r = 1``). As ``n -> inf`` with ``r < 1`` the scale tends to
    ``sigma (h / (1 - |1 - theta h|**alpha))**(1/alpha)``, the stationary law of the chain,
    which differs from the flow's ``sigma (alpha theta)**(-1/alpha)`` by ``O(h)``. For
    ``r > 1`` (``theta < 0``, or ``theta h > 2``: the chain explodes) values beyond the
    largest float are returned as ``inf`` (``loc`` as ``+-inf``, 0 where ``x0 = 0``).

    Parameters
    ----------
    x0, theta, sigma, alpha
        The initial state(s) and the OU parameters, as in :func:`stable_ou_law` (same checks).
    step : float
        ``h > 0``.
    n_steps : int
        Number of steps >= 0.

    Returns
    -------
    loc, scale
        As in :func:`stable_ou_law`: ``X_n ~ loc + SaS(alpha, scale)``.

    Examples
    --------
    >>> from htsgd.sde import stable_ou_euler_law
    >>> stable_ou_euler_law(1.0, 1.0, 1.0, 2.0, 0.5, 1)
    (0.5, 0.7071067811865476)

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    theta, sigma, alpha = _check_ou(theta, sigma, alpha)
    step = check_real("step", step, low=0.0, low_open=True)
    if not math.isfinite(step):
        raise ValueError(f"step must be finite, got {step!r}")
    n_steps = check_int("n_steps", n_steps, low=0)
    x0 = _check_x0(x0)
    a = 1.0 - theta * step
    if n_steps == 0:
        return x0 * 1.0, 0.0
    if a == 0.0:  # theta h = 1: the chain forgets x0 after one step
        return x0 * 0.0, _stable_scale(sigma, math.log(step), alpha)
    log_r = alpha * math.log(abs(a))  # r = |a|**alpha, in logs (a**n overflows for |a| > 1)
    if log_r == 0.0:
        log_total = math.log(step * n_steps)
    elif log_r < 0.0:  # h (1 - r**n) / (1 - r), both factors in (0, 1]
        log_total = math.log(step) + math.log(-math.expm1(n_steps * log_r)) - math.log(-math.expm1(log_r))
    else:  # r > 1: h (r**n - 1) / (r - 1) = h r**n (1 - r**-n) / (r - 1)
        log_total = (math.log(step) + n_steps * log_r + math.log(-math.expm1(-n_steps * log_r))
                     - math.log(math.expm1(log_r)))
    sign = -1.0 if (a < 0 and n_steps % 2) else 1.0
    loc = _times_factor(x0, sign, n_steps * math.log(abs(a)))
    return loc, _stable_scale(sigma, log_total, alpha)


def stable_ou_coupled_error(
    x0: float, theta: float, sigma: float, alpha: float, step: float, n_steps: int, factor: int
) -> tuple[float, float]:
    """Exact law of ``X^{coarse}_T - X^{fine}_T`` for the coupled Euler chains of the stable OU process.

    The fine chain has ``n_steps`` steps ``h = step``; the coarse one ``n_steps / factor`` steps
    ``factor * h`` driven by the sums of ``factor`` consecutive fine increments (:func:`coarsen`),
    as in :func:`strong_order`. Both are linear in the fine increments ``dL_j``:
    ``X^{fine} = a^n x0 + sigma sum_j a^(n-1-j) dL_j`` with ``a = 1 - theta h``, and the coarse
    one with ``A = 1 - theta factor h`` and the exponent ``n/factor - 1 - floor(j / factor)``.
    Their difference is ``D0 + sum_j w_j dL_j``, so it is ``loc + SaS(alpha, scale)`` with::

        loc = x0 (A^(n/factor) - a^n),   scale**alpha = h sum_j |w_j|**alpha,
        w_j = sigma (A^(n/factor - 1 - floor(j/factor)) - a^(n - 1 - j)).

    This is the exact strong error the coupling measures, reference error included: the
    known answer against which :func:`strong_order` is tested.

    Parameters
    ----------
    x0, theta, sigma, alpha
        As in :func:`stable_ou_law` (x0 a real number here).
    step : float
        The fine step ``h > 0``.
    n_steps : int
        Number of fine steps, a multiple of ``factor``.
    factor : int
        Fine steps per coarse step, >= 1.

    Returns
    -------
    loc, scale : float

    Examples
    --------
    >>> from htsgd.sde import stable_ou_coupled_error
    >>> stable_ou_coupled_error(1.0, 1.0, 1.0, 1.5, 0.01, 100, 1)  # the same chain: no error
    (0.0, 0.0)

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    theta, sigma, alpha = _check_ou(theta, sigma, alpha)
    x0 = check_real("x0", x0, finite=True)
    step = check_real("step", step, low=0.0, low_open=True, finite=True)
    n_steps = check_int("n_steps", n_steps, low=0)
    factor = check_int("factor", factor, low=1)
    if n_steps % factor:
        raise ValueError(f"n_steps = {n_steps} must be divisible by factor = {factor}")
    a, big_a, n_c = 1.0 - theta * step, 1.0 - theta * factor * step, n_steps // factor
    if max(abs(a), abs(big_a)) > 1.0:
        raise ValueError(f"theta * factor * step = {theta * factor * step!r} must lie in [0, 2] (a stable chain)")
    j = np.arange(n_steps)
    w = sigma * (big_a ** (n_c - 1 - j // factor) - a ** (n_steps - 1 - j))
    loc = x0 * (big_a**n_c - a**n_steps)
    scale = float((step * (np.abs(w) ** alpha).sum()) ** (1.0 / alpha))
    return float(loc), scale


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


@dataclass(frozen=True)
class StrongOrder:
    """A measured strong order: per-path errors at each step, the fitted order and local orders.

    Returned by :func:`strong_order`.

    Attributes
    ----------
    steps : numpy.ndarray, shape (K,)
        The coarse steps ``h``, decreasing.
    reference_step : float
        The step of the fine reference path.
    errors : numpy.ndarray, shape (M, K)
        ``|X^h_T - X^ref_T|`` for each kept path (row) and step (column).
    statistic : str
        The statistic of the errors over paths that was fitted (``"median"``, ``"iqr"`` or
        ``"L^p norm, p = ..."``).
    values : numpy.ndarray, shape (K,)
        That statistic at each step.
    order : htsgd.evidence.SlopeInterval
        The least-squares slope of ``log values`` on ``log steps`` with its bootstrap
        interval over paths (paths resampled whole: the steps are coupled).
    local : tuple of htsgd.evidence.SlopeInterval
        ``K - 1`` local orders, the slope between steps ``k`` and ``k + 1`` with its interval
        (empty if not asked for): a rate with a slowly varying factor (a logarithm) shows as a
        drift of these.
    n_dropped : int
        Paths left out because an error was not finite (a blow-up); 0 for Lipschitz drifts.

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """

    steps: np.ndarray
    reference_step: float
    errors: np.ndarray
    statistic: str
    values: np.ndarray
    order: SlopeInterval
    local: tuple[SlopeInterval, ...]
    n_dropped: int

    def __str__(self) -> str:
        local = "; local orders " + ", ".join(f"{s.estimate:.2f}" for s in self.local) if self.local else ""
        return f"strong order {self.order} ({self.statistic}){local}"


def _coupling_factors(factors: Any, n_ref: int, chunk: int | None) -> tuple[list[int], int]:
    """:func:`strong_order`'s coarse factors (distinct, decreasing, dividing ``n_ref``) and chunk."""
    if isinstance(factors, (str, bytes)) or not isinstance(factors, Iterable):
        raise TypeError(f"factors must be an iterable of integers, got {type(factors).__name__}")
    fs = sorted({check_int("factors", f, low=2) for f in factors}, reverse=True)
    if len(fs) < 2:
        raise ValueError(f"factors must hold at least 2 distinct values >= 2, got {list(factors)!r}")
    bad = [f for f in fs if n_ref % f]
    if bad:
        raise ValueError(f"every factor must divide n_ref = {n_ref}; {bad} do not")
    lcm = math.lcm(*fs)
    if chunk is None:
        chunk = lcm * max(1, 256 // lcm)
    chunk = check_int("chunk", chunk, low=1)
    if chunk % lcm:
        raise ValueError(f"chunk = {chunk} must be a multiple of every factor (of their lcm {lcm})")
    return fs, chunk


def _order_statistic(moment: float | None, alpha: float) -> tuple[Any, str]:
    """:func:`strong_order`'s statistic over paths: the median, or an ``L^p`` norm with ``p < alpha / 2``."""
    if moment is None:
        return "median", "median"
    p = check_real("moment", moment, low=0.0, high=alpha / 2, low_open=True, high_open=True)

    def statistic(a: np.ndarray, axis: int = 0) -> np.ndarray:
        return np.mean(a**p, axis=axis) ** (1.0 / p)

    return statistic, f"L^p norm, p = {p:g}"


def strong_order(
    drift: Callable[[torch.Tensor], torch.Tensor],
    x0: float | torch.Tensor,
    alpha: float,
    *,
    diffusion: Callable[[torch.Tensor], torch.Tensor] | float | None = None,
    tame: bool = False,
    horizon: float = 1.0,
    n_ref: int = 2**10,
    factors: Iterable[int] = (2**7, 2**6, 2**5, 2**4),
    n_paths: int = 2000,
    moment: float | None = None,
    local: bool = True,
    level: float = 0.95,
    n_boot: int = 1000,
    generator: SeedLike = None,
    boot_seed: int = 0,
    chunk: int | None = None,
    dtype: torch.dtype = torch.float64,
    device: Any = None,
) -> StrongOrder:
    """Measure the strong order of the Euler scheme with coupled coarse and fine paths.

    A reference path is the Euler scheme :func:`euler` with the fine step
    ``h_ref = horizon / n_ref``; for each factor ``f`` the coarse scheme of step ``f h_ref`` is
    driven by the sums of ``f`` consecutive fine increments (:func:`coarsen`): the same Lévy
    path, so ``|X^h_T - X^ref_T|`` at ``T = horizon`` is the strong error of step ``h`` up to
    the reference's own, smaller, error. The order is the least-squares slope of the log of a
    statistic of these errors over paths against ``log h``, with a bootstrap interval over
    paths (:func:`htsgd.evidence.slope_interval`, ``paired=True``); the local orders are the
    same slope between consecutive steps. The increments are drawn ``chunk`` fine steps at a
    time, so memory holds ``chunk * n_paths`` of them, not ``n_ref * n_paths``.

    The statistic must have a finite variance over paths for the bootstrap to be consistent.
    With alpha-stable noise the errors may have moments of order ``p < alpha`` only, so the
    default is the median; ``moment=p`` fits the ``L^p`` norm ``(mean |error|**p)**(1/p)``
    instead, allowed for ``0 < p < alpha / 2`` only (the mean of ``|error|**p`` has finite
    variance when ``E |error|**(2p) < inf``, which ``2p < alpha`` ensures).

    Parameters
    ----------
    drift, x0, diffusion, tame
        As in :func:`euler`.
    alpha : float
        Stability index of the symmetric driving motion, in (0, 2].
    horizon : float
        The time ``T > 0`` at which the paths are compared.
    n_ref : int
        Number of fine steps; every factor must divide it.
    factors : iterable of int
        Coarse steps in units of ``h_ref``, at least two distinct values >= 2; the steps are
        reported in decreasing order.
    n_paths : int
        Number of coupled paths ``M >= 2``.
    moment : float, optional
        Fit the ``L^p`` norm with ``p = moment`` in ``(0, alpha / 2)`` instead of the median.
    local : bool
        Also fit the local orders (``K - 1`` more bootstraps); ``False`` leaves ``local`` empty.
    level, n_boot, boot_seed
        Coverage, resamples and seed of the bootstrap (see :func:`htsgd.evidence.slope_interval`).
    generator : None, int or torch.Generator
        Seed of the increments.
    chunk : int, optional
        Fine steps drawn at a time; a multiple of every factor (default: the least such
        multiple of at least 256 steps).
    dtype, device
        Of the increments and paths.

    Returns
    -------
    StrongOrder

    Raises
    ------
    ValueError
        Naming the argument: a factor that does not divide ``n_ref``, fewer than two
        distinct factors, ``moment`` outside ``(0, alpha / 2)``, a ``chunk`` that is not a
        multiple of every factor, fewer than two paths with finite errors, or a statistic that
        is 0 (a scheme that is exact, e.g. without drift and with additive noise).

    References
    ----------
    Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13 (percentile
    intervals); Athreya (1987), Ann. Statist. 15, 724-731 (the bootstrap of a mean with
    infinite variance fails).

    Examples
    --------
    >>> from htsgd.sde import strong_order
    >>> fit = strong_order(lambda x: -x, 1.0, 1.5, n_ref=256, factors=(32, 16, 8), n_paths=500,
    ...                    n_boot=200, generator=0)
    >>> fit.steps.tolist(), len(fit.local), fit.errors.shape
    ([0.125, 0.0625, 0.03125], 2, (500, 3))

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    if not callable(drift):
        raise TypeError(f"drift must be callable, got {type(drift).__name__}")
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    horizon = check_real("horizon", horizon, low=0.0, low_open=True, finite=True)
    n_ref = check_int("n_ref", n_ref, low=2)
    n_paths = check_int("n_paths", n_paths, low=2)
    tame = check_bool("tame", tame)
    local = check_bool("local", local)
    fs, chunk = _coupling_factors(factors, n_ref, chunk)
    if diffusion is not None and not callable(diffusion):
        diffusion = check_real("diffusion", diffusion, finite=True)
    statistic, name = _order_statistic(moment, alpha)

    h_ref = horizon / n_ref
    chunks = stable_increment_chunks(alpha, n_ref, n_paths, h_ref, chunk=chunk, generator=generator,
                                     device=device, dtype=dtype)
    x_ref: torch.Tensor | None = None
    coarse: list[torch.Tensor] = []
    for dl in chunks:
        if x_ref is None:
            x_ref = _as_state(x0, dl)
            coarse = [x_ref.clone() for _ in fs]
        for k in range(dl.shape[0]):
            x_ref = _euler_step(drift, diffusion, x_ref, dl[k], h_ref, tame)
        for j, f in enumerate(fs):
            dc = coarsen(dl, f)
            for k in range(dc.shape[0]):
                coarse[j] = _euler_step(drift, diffusion, coarse[j], dc[k], f * h_ref, tame)
    assert x_ref is not None  # n_ref >= 2 steps: at least one chunk
    if x_ref.shape != (n_paths,):
        raise ValueError(f"x0 must broadcast to one state per path, shape ({n_paths},); got {tuple(x_ref.shape)}")
    errors = torch.stack([(c - x_ref).abs() for c in coarse], dim=1).to("cpu", torch.float64).numpy()
    finite = np.isfinite(errors).all(axis=1)
    errors = errors[finite]
    if errors.shape[0] < 2:
        raise ValueError(f"fewer than 2 of the {n_paths} paths have finite errors (the scheme blew up)")
    steps = np.array([f * h_ref for f in fs])
    values = np.median(errors, axis=0) if moment is None else statistic(errors)
    kw = {"statistic": statistic, "level": level, "n_boot": n_boot, "seed": boot_seed, "paired": True}
    order = slope_interval(steps, errors, **kw)
    local_fits = tuple(slope_interval(steps[k:k + 2], errors[:, k:k + 2], **kw)
                       for k in range(steps.size - 1)) if local else ()
    return StrongOrder(steps, h_ref, errors, name, values, order, local_fits, int((~finite).sum()))


def levy_exponent_from_measure(alpha: float, u: float = 1.0, *, c: float | None = None) -> float:
    """``-psi(u)`` of the symmetric Lévy measure ``c |y|**(-1-alpha) dy``, by quadrature.

    For a symmetric Lévy measure with no Gaussian part and no drift, the Lévy-Khintchine
    exponent is real and, the odd terms integrating to 0::

        -psi(u) = 2 c int_0^inf (1 - cos(u y)) y**(-1-alpha) dy = 2 c I_alpha |u|**alpha,

    with ``I_alpha = Gamma(1 - alpha) cos(pi alpha / 2) / alpha`` (``pi/2`` at ``alpha = 1``).
    The integral is computed numerically from the measure (not from the closed form). The
    substitution ``z = |u| y`` takes ``u`` out of it exactly, ``int_0^inf (1 - cos(u y))
    y**(-1-alpha) dy = |u|**alpha I_alpha``, so that one integral, of frequency 1, serves every
    ``u`` (quadrature at frequency ``u`` loses accuracy as ``u`` grows: 52% low at ``u = 1e4``,
    ``alpha = 1.9``). ``I_alpha`` is split at ``z = 1``: on ``[0, 1]`` the part ``z**2 / 2``
    of ``1 - cos z``, whose integral ``1 / (2 (2 - alpha))`` nearly diverges as ``alpha -> 2``,
    is integrated exactly and the smooth rest ``1 - cos z - z**2/2 = O(z**4)`` by adaptive
    quadrature; on ``[1, inf)``, ``int_1^inf z**(-1-alpha) dz - int_1^inf cos(z) z**(-1-alpha) dz``,
    the second by QUADPACK's Fourier-integral rule (``scipy.integrate.quad`` with ``weight="cos"``). With
    the default ``c = c_alpha = alpha C_alpha / 2`` (``alpha * htsgd.stable.tail_constant(alpha)``)
    the result is ``|u|**alpha``: the Lévy measure of the symmetric alpha-stable motion with
    ``E exp(iu L_1) = exp(-|u|**alpha)``.

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2) (``alpha = 2`` has no Lévy measure).
    u : float
        Frequency, any finite real; the result depends on ``|u|`` only.
    c : float, optional
        Constant of the measure, finite and >= 0; ``None`` (default) uses ``c_alpha``.

    Returns
    -------
    float
        ``-psi(u) >= 0``. Its relative accuracy is that of ``I_alpha``'s quadrature, the same
        for every ``u``: about ``1e-10`` for ``alpha`` in [0.1, 1.999] (the tests check ``1e-8``
        for ``|u|`` from ``1e-12`` to ``1e12``).

    Raises
    ------
    ValueError
        If ``alpha`` is outside (0, 2), ``u`` is not finite, ``c`` is negative or not finite,
        or the result exceeds the largest float64 (``|u|**alpha`` beyond about ``1e308``).

    References
    ----------
    Applebaum (2009), *Lévy Processes and Stochastic Calculus*, 2nd ed., Ch. 1 (the
    Lévy-Khintchine formula); Samorodnitsky & Taqqu (1994), Prop. 1.2.15 (``C_alpha``).

    Examples
    --------
    >>> from htsgd.sde import levy_exponent_from_measure
    >>> round(levy_exponent_from_measure(1.5, 2.0), 6)  # 2**1.5
    2.828427

    Introduced in the chapter *Lévy-driven SDEs and the Euler scheme*.
    """
    from scipy import integrate

    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True, high_open=True)
    u = abs(check_real("u", u, finite=True))
    c = alpha * _stable.tail_constant(alpha) if c is None else check_real("c", c, low=0.0, finite=True)
    if u == 0.0 or c == 0.0:
        return 0.0
    # I_alpha = int_0^inf (1 - cos z) z**(-1-alpha) dz; the u-dependence is |u|**alpha exactly (z = |u| y)
    quadratic = 1.0 / (2.0 * (2.0 - alpha))  # int_0^1 (z**2 / 2) z**(-1-alpha) dz
    rest = integrate.quad(lambda z: _cos_remainder(z) * z ** (-1 - alpha), 0.0, 1.0, limit=200)[0]
    far = 1.0 / alpha  # int_1^inf z**(-1-alpha) dz
    osc = integrate.quad(lambda z: z ** (-1 - alpha), 1.0, math.inf, weight="cos", wvar=1.0)[0]
    log_value = math.log(2.0 * c * (quadratic - rest + far - osc)) + alpha * math.log(u)
    if log_value > _LOG_MAX:
        raise ValueError(
            f"-psi(u) = 2 c I_alpha |u|**alpha exceeds the largest float64 at u = {u!r}, alpha = {alpha!r}; "
            "use a smaller |u|"
        )
    return math.exp(log_value)


def _cos_remainder(z: float) -> float:
    """``z**2 / 2 - (1 - cos z) = z**4/24 - z**6/720 + ...`` without cancellation for small ``z``."""
    if z < 0.1:  # the series: the next term z**12 / 12! is below 1e-16 of the first
        z2 = z * z
        return z2 * z2 / 24.0 * (1.0 - z2 / 30.0 * (1.0 - z2 / 56.0 * (1.0 - z2 / 90.0)))
    return 0.5 * z * z - 2.0 * math.sin(0.5 * z) ** 2
