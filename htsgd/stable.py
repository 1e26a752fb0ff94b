"""Alpha-stable laws: sampling (Chambers-Mallows-Stuck) and isotropic stable vectors.

Introduced in the chapter *Stable distributions* (``book/stable.md``).

Conventions
-----------
``S(alpha, beta, scale, loc)`` follows Nolan's parametrizations as scipy defines
them (``scipy.stats.levy_stable``): ``"S1"`` (scipy's default) and ``"S0"``; they
coincide when ``beta = 0``. The symmetric law ``SaS(alpha, scale)`` has
characteristic function ``exp(-scale**alpha * |u|**alpha)``; at ``alpha = 2`` it
is ``N(0, 2 scale**2)``, at ``alpha = 1`` the Cauchy law with scale ``scale``.

References
----------
Chambers, Mallows & Stuck (1976), JASA 71, 340-344; Weron (1996), Stat. Probab.
Lett. 28, 165-171; Samorodnitsky & Taqqu (1994), *Stable Non-Gaussian Random
Processes*, Prop. 1.2.15 and 2.5.2; Nolan (2020), *Univariate Stable Distributions*.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from . import _cpu_streams, _stable_triton
from ._checks import check_int, check_real, check_size
from ._random import SeedLike, resolve_device, resolve_dtype, torch_generator
from ._stable_density import (
    PARAMETERIZATIONS,
    _tan_half_pi,
    cdf,
    char_func,
    check_law,
    logpdf,
    pdf,
    sf,
    tail_constant,
)

__all__ = [
    "sample",
    "sample_isotropic",
    "pdf",
    "logpdf",
    "cdf",
    "sf",
    "char_func",
    "tail_constant",
    "PARAMETERIZATIONS",
]

def _angle_and_exponential(u_v: torch.Tensor, u_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn uniforms U[0, 1) into V ~ U(-pi/2, pi/2) and W ~ Exp(1), in place.

    Both are kept away from the endpoints where CMS divides by zero
    (cos V = 0, W = 0): unclamped float32 gives non-finite samples for alpha < 1.
    """
    finfo = torch.finfo(u_v.dtype)
    lim = (math.pi / 2) * (1 - finfo.eps)
    v = u_v.sub_(0.5).mul_(math.pi).clamp_(-lim, lim)
    # -log(1 - U); U = 0 is read as the next grid point (the grid of U is eps/2), so W stays
    # >= 6e-8 in float32: a W near the float minimum would overflow W**((alpha-1)/alpha).
    w = u_w.neg_().log1p_().neg_().clamp_min_(finfo.eps / 2)
    return v, w


def _standard_cms(alpha: float, beta: float, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """S(alpha, beta, 1, 0) in the S1 parametrization from (V, W) (Weron 1996)."""
    if alpha == 2.0:
        # sin(2V)/sqrt(cos V) * sqrt(cos(-V)/W) = 2 sin V sqrt(W): exactly N(0, 2).
        return 2.0 * torch.sin(v) * torch.sqrt(w)
    if alpha == 1.0:
        if beta == 0.0:
            return torch.tan(v)
        half_pi = math.pi / 2
        bv = half_pi + beta * v
        return (2 / math.pi) * (bv * torch.tan(v) - beta * torch.log(half_pi * w * torch.cos(v) / bv))
    t = beta * math.tan(math.pi * alpha / 2)
    b = math.atan(t) / alpha
    s = (1 + t * t) ** (1 / (2 * alpha))
    vb = v + b
    return (
        s
        * torch.sin(alpha * vb)
        / torch.cos(v) ** (1 / alpha)
        * (torch.cos(v - alpha * vb) / w) ** ((1 - alpha) / alpha)
    )


def _skewed_cms_s0(alpha: float, beta: float, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """S(alpha, beta, 1, 0) in the S0 parametrization from (V, W), for alpha != 1 and beta != 0.

    The S0 draw is the S1 draw of :func:`_standard_cms` minus ``beta tan(pi alpha / 2)``, but
    near alpha = 1 both are of order 1/|alpha - 1| and the subtraction loses the draw (in
    float32 at alpha = 1 - 1e-6 it would be rounded to multiples of 1/32). With
    ``kappa = atan(1 / |beta tan(pi alpha / 2)|)``, ``eps = 1 - alpha`` and ``delta = eps V + kappa``
    (for ``beta tan(pi alpha / 2) < 0`` the same with -beta, -V and a change of sign), the
    algebra of Weron's formula gives

        X0 = ((1 + q) expm1(h) + q + 2 sin(kappa/2)**2) / sin(kappa),
        q = tan(V) sin(delta) - 2 sin(delta/2)**2 = cos(V - delta) / cos(V) - 1,
        h = (eps / alpha) log(sin(delta) / (W sin(kappa) cos(V))),

    whose terms are all small together as alpha -> 1: no cancellation, and the draw tends
    to the alpha = 1 draw from the same (V, W).
    """
    bt = beta * _tan_half_pi(alpha)
    sign = 1.0 if bt > 0 else -1.0
    v = v * sign
    kappa = math.atan2(1.0, abs(bt))
    eps = 1.0 - alpha
    delta = torch.mul(v, eps).add_(kappa)
    sin_delta = torch.sin(delta)
    q = torch.tan(v).mul_(sin_delta).sub_(torch.sin(delta / 2).square_().mul_(2))
    h = torch.log(sin_delta / (w * math.sin(kappa) * torch.cos(v))).mul_(eps / alpha)
    x0 = h.expm1_().mul_(q + 1).add_(q).add_(2 * math.sin(kappa / 2) ** 2).div_(math.sin(kappa))
    return x0.mul_(sign)


def _symmetric_cms_inplace(alpha: float, v: torch.Tensor, w: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """SaS(alpha, 1) from two arrays of uniforms ``v`` and ``w``; the result overwrites ``v``.

    The formula of :func:`_standard_cms` with ``beta = 0``, in log form (fewer
    transcendental calls, no overflow in the power) and as in-place operations on
    three arrays of the same shape (``tmp`` is scratch): every fresh temporary would
    cost as much as the arithmetic on it. Used for every symmetric draw with alpha
    not in {1, 2}.
    """
    finfo = torch.finfo(v.dtype)
    lim = (math.pi / 2) * (1 - finfo.eps)
    k = (1 - alpha) / alpha
    v.sub_(0.5).mul_(math.pi).clamp_(-lim, lim)  # V ~ U(-pi/2, pi/2), away from the poles
    # -k log W with W = -log(U) ~ Exp(1); U in [tiny, 1) keeps W in (0, 88], finite and positive.
    w.clamp_min_(finfo.tiny).log_().neg_().log_().mul_(-k)
    w.add_(torch.mul(v, 1 - alpha, out=tmp).cos_().log_(), alpha=k)  # + k log cos((1 - alpha) V)
    w.sub_(torch.cos(v, out=tmp).log_(), alpha=1 / alpha).exp_()  # - (1/alpha) log cos V
    # sin(alpha V) * exp(...); for small alpha a few draws exceed the float range: saturate, never inf.
    return v.mul_(alpha).sin_().mul_(w).clamp_(-finfo.max, finfo.max)


def _cms_from_uniforms(
    alpha: float, beta: float, s0: bool, v: torch.Tensor, w: torch.Tensor, tmp: torch.Tensor
) -> None:
    """S(alpha, beta, 1, 0) from uniforms ``v`` and ``w``, written into ``v``: S0 if ``s0`` else S1."""
    if beta == 0.0 and alpha not in (1.0, 2.0):
        _symmetric_cms_inplace(alpha, v, w, tmp)
    else:
        cms = _skewed_cms_s0 if (s0 and alpha not in (1.0, 2.0)) else _standard_cms
        x = cms(alpha, beta, *_angle_and_exponential(v, w))
        finfo = torch.finfo(v.dtype)
        torch.clamp(x, -finfo.max, finfo.max, out=v)  # small alpha: saturate, never inf


#: Smallest CPU draw served by the numpy streams: below it, setting up a stream costs
#: more than torch.rand's slower bits (measured crossover: 1e4 to 3e4 samples).
_NUMPY_STREAMS_FROM = 8192


def _standard_stable(
    alpha: float, beta: float, shape: tuple[int, ...], gen: torch.Generator, dev: torch.device, dt: torch.dtype,
    s0: bool = False,
) -> torch.Tensor:
    """A fresh tensor of S(alpha, beta, 1, 0) draws of shape ``shape``, S0 if ``s0`` else S1.

    On the CPU, from ``_NUMPY_STREAMS_FROM`` samples on, the uniforms come from
    :mod:`htsgd._cpu_streams` (seeded from ``gen``) and the transform runs chunk by chunk
    on threads; otherwise from ``torch.rand`` on the device.
    """
    if dev.type == "cpu" and math.prod(shape) >= _NUMPY_STREAMS_FROM:
        out = torch.empty(math.prod(shape), dtype=dt)
        _cpu_streams.fill(out, gen, functools.partial(_cms_from_uniforms, alpha, beta, s0))
        return out.view(shape)
    v = torch.rand(shape, generator=gen, device=dev, dtype=dt)
    w = torch.rand(shape, generator=gen, device=dev, dtype=dt)
    _cms_from_uniforms(alpha, beta, s0, v, w, torch.empty_like(v))
    return v


def sample(
    alpha: float,
    size: int | tuple[int, ...],
    *,
    beta: float = 0.0,
    scale: float = 1.0,
    loc: float = 0.0,
    parameterization: str = "S1",
    generator: SeedLike = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
    _use_triton: bool = True,
) -> torch.Tensor:
    """Draw alpha-stable samples by the Chambers-Mallows-Stuck method.

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2].
    size : int or tuple of int
        Shape of the output.
    beta : float
        Skewness in [-1, 1].
    scale : float
        Scale > 0 (``sigma``).
    loc : float
        Location, in the chosen parametrization.
    parameterization : {"S1", "S0"}
        Nolan's parametrizations as in ``scipy.stats.levy_stable``.
    generator : None, int or torch.Generator
        Seed or generator (see :func:`htsgd._random.torch_generator`); numbers are
        drawn on ``device`` directly, with no host round trip.
    device, dtype
        Output device and dtype (float32 or float64).

    Returns
    -------
    torch.Tensor
        Shape ``size``; finite everywhere.

    Notes
    -----
    ``alpha = 2`` returns exactly ``N(loc, 2 scale**2)`` and ``alpha = 1, beta = 0``
    exactly Cauchy(loc, scale). Symmetric float32 draws on a CUDA device use a fused
    Triton kernel (:mod:`htsgd._stable_triton`) when Triton is installed, seeded from
    ``generator`` on the device; ``_use_triton=False`` forces the torch path, which is
    the reference (the tests check that both give the same law). On the CPU, draws of
    8192 samples or more take their uniforms from numpy streams seeded by one number
    drawn from ``generator`` (:mod:`htsgd._cpu_streams`): the result depends on the
    generator's state and ``size`` only, not on the number of threads. Draws beyond the
    float range (possible in float32 for alpha below about 0.4) saturate at the largest
    finite value. Introduced in the chapter *Stable distributions*.
    """
    alpha, beta, scale, loc, parameterization = check_law(alpha, beta, scale, loc, parameterization)
    shape = check_size("size", size)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    gen = torch_generator(generator, dev)
    if beta == 0.0 and alpha not in (1.0, 2.0) and _use_triton and _stable_triton.available(dev, dt):
        # Fused CUDA kernel (float32): scale and location applied inside.
        return _stable_triton.symmetric_stable(alpha, shape, gen, dev, scale=scale, shift=loc)
    if alpha == 2.0:
        beta = 0.0  # beta has no effect at alpha = 2
    # S0 draws near alpha = 1 must not be S1 draws minus a huge shift: draw them directly.
    s0 = parameterization == "S0" and beta != 0.0 and alpha != 1.0
    x = _standard_stable(alpha, beta, shape, gen, dev, dt, s0=s0)
    # x is standard in the requested parametrization; scale and shift it. At alpha = 1 the
    # S1 location also moves with the scale: delta0 = delta1 + (2/pi) beta scale log(scale).
    offset = loc
    if alpha == 1.0 and beta != 0.0 and parameterization == "S1":
        offset = loc + (2 / math.pi) * beta * scale * math.log(scale)
    # x is a fresh tensor: scale and shift it in place (no extra 1e7-element temporaries).
    if scale != 1.0:
        x.mul_(scale)
    if offset != 0.0:
        x.add_(offset)
    if scale > 1.0 or abs(offset) > 1.0:  # saturated draws must not overflow to inf
        x.clamp_(-torch.finfo(dt).max, torch.finfo(dt).max)
    return x


def _positive_stable_mixing(
    alpha: float, shape: tuple[int, ...], gen: torch.Generator, dev: torch.device, dt: torch.dtype
) -> torch.Tensor:
    """A ~ S(alpha/2, 1, 2 cos(pi alpha / 4)**(2/alpha), 0), the sub-Gaussian mixing variable."""
    a_half = alpha / 2
    mix_scale = 2 * math.cos(math.pi * alpha / 4) ** (2 / alpha)
    return _standard_stable(a_half, 1.0, shape, gen, dev, dt).mul_(mix_scale)


def sample_isotropic(
    alpha: float,
    size: int | tuple[int, ...],
    dim: int,
    *,
    scale: float = 1.0,
    generator: SeedLike = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Draw rotationally invariant alpha-stable vectors in R^dim.

    The law has characteristic function ``E exp(i<u, X>) = exp(-scale**alpha |u|**alpha)``,
    so every projection ``<e, X>`` on a unit vector ``e`` is ``SaS(alpha, scale)``.
    It is sampled as ``X = scale * sqrt(A) G`` with ``G ~ N(0, I_dim)`` and ``A`` a
    totally skewed ``(alpha/2)``-stable variable (Samorodnitsky & Taqqu 1994, Prop. 2.5.2).

    The authors' code for the paper draws a vector whose coordinates have scale
    ``1/sqrt(2)``; this function gives exact scale ``scale`` (1 by default).

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2].
    size : int or tuple of int
        Batch shape.
    dim : int
        Dimension of each vector (>= 1).
    scale : float
        Scale of every one-dimensional projection.

    Returns
    -------
    torch.Tensor
        Shape ``(*size, dim)``.

    Introduced in the chapter *Stable distributions*.
    """
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    shape = check_size("size", size)
    dim = check_int("dim", dim, low=1)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    gen = torch_generator(generator, dev)
    g = torch.randn((*shape, dim), generator=gen, device=dev, dtype=dt)
    if alpha == 2.0:
        return (scale * math.sqrt(2.0)) * g  # A = 2: N(0, 2 scale^2 I)
    a = _positive_stable_mixing(alpha, shape, gen, dev, dt)
    return (scale * torch.sqrt(a)).unsqueeze(-1) * g
