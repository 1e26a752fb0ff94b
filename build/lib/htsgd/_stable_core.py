"""The Chambers-Mallows-Stuck core: uniforms to stable draws, shared by every sampler of htsgd.

Package-internal. :mod:`htsgd.stable` (the public samplers), :mod:`htsgd.noise` (the noise types'
draws for a layer, eager and fused) and, through a test on the same random words,
:mod:`htsgd._stable_triton` all turn uniforms into stable draws with the functions below, so
there is one formula and one clamp policy. Introduced in the chapter *Stable distributions*.

References
----------
Chambers, Mallows & Stuck (1976), JASA 71, 340-344; Weron (1996), Stat. Probab. Lett. 28,
165-171; Kanter (1975), Ann. Probab. 3, 697-707; Samorodnitsky & Taqqu (1994), Prop. 2.5.2.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from . import _cpu_streams
from ._stable_density import _tan_half_pi

__all__ = [
    "ALPHA_MIN_SAMPLING",
    "angle_and_exponential",
    "check_sampling_alpha",
    "cms_from_uniforms",
    "draw",
    "isotropic_rows_",
    "scale_and_shift_",
    "skewed_cms_s0",
    "sqrt_mixing_from_uniforms",
    "standard_cms",
    "standard_stable",
    "symmetric_cms_inplace",
]


# ------------------------------------------------------------------------------------------------
# The Chambers-Mallows-Stuck core. Every sampler of htsgd (the CPU and GPU torch paths, the
# optimizer's eager and compiled noise, and, through a test on the same random words, the Triton
# kernel) turns uniforms into stable draws with the functions below, under one policy:
#
# * Uniforms are U[0, 1) on the grid of multiples of eps/2 (torch.rand and numpy's random both
#   draw that grid, eps = the dtype's machine epsilon).
# * The angle is V = pi (U - 1/2 + eps/4): the midpoints of that grid, symmetric about 0, never
#   0 and never +-pi/2 (|V| <= pi/2 - pi eps/4, so cos V > 0 in both dtypes); the Triton kernel
#   uses the same grid in float32.
# * The exponential is W = -log(max(U, eps/2)): U = 0 is read as the next point of its grid, so
#   eps/2 <= W <= log(2/eps) (float32: 6e-8 to 16.6), the range of the kernel's W.
# * Draws beyond the float range (small alpha) saturate at the largest finite value, never inf
#   and never NaN; the formulas are evaluated in log form where a factor can overflow.
# ------------------------------------------------------------------------------------------------
def angle_and_exponential(u_v: torch.Tensor, u_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn uniforms U[0, 1) into V ~ U(-pi/2, pi/2) and W ~ Exp(1), in place (the one policy).

    ``V = pi (U - 1/2 + eps/4)`` lies on the midpoints of the uniforms' grid (never 0, never
    a pole of CMS) and ``W = -log(max(U, eps/2))`` is at least about eps/2, so that no factor
    of CMS divides by zero (see the comment above).
    """
    eps = torch.finfo(u_v.dtype).eps
    v = u_v.sub_(0.5 - eps / 4).mul_(math.pi)
    w = u_w.clamp_min_(eps / 2).log_().neg_()
    return v, w


def saturate_(x: torch.Tensor) -> torch.Tensor:
    """Clamp ``x`` to the finite range of its dtype, in place (draws beyond it saturate)."""
    big = torch.finfo(x.dtype).max
    return x.clamp_(-big, big)


def standard_cms(alpha: float, beta: float, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """S(alpha, beta, 1, 0) in the S1 parametrization from (V, W) (Weron 1996).

    ``X = s sin(alpha (V + b)) / cos(V)**(1/alpha) * (cos(V - alpha (V + b)) / W)**((1 - alpha)/alpha)``
    with ``b = atan(beta tan(pi alpha / 2)) / alpha`` and ``s = (1 + beta**2 tan(pi alpha / 2)**2)**(1/(2 alpha))``,
    evaluated in log form: the power overflows for small alpha, and the draw saturates
    instead. Near alpha = 1 with beta != 0 the draw is ``s0 + beta tan(pi alpha / 2)`` from
    :func:`skewed_cms_s0` instead (this form loses the O(1) part of an O(1/|alpha - 1|) draw).
    """
    if alpha == 2.0:
        # sin(2V)/sqrt(cos V) * sqrt(cos(-V)/W) = 2 sin V sqrt(W): exactly N(0, 2).
        return 2.0 * torch.sin(v) * torch.sqrt(w)
    if alpha == 1.0:
        if beta == 0.0:
            return torch.tan(v)
        half_pi = math.pi / 2
        bv = half_pi + beta * v  # > 0: |V| < pi/2
        return (2 / math.pi) * (bv * torch.tan(v) - beta * torch.log(half_pi * w * torch.cos(v) / bv))
    if beta != 0.0 and abs(alpha - 1.0) < 0.5:
        return skewed_cms_s0(alpha, beta, v, w).add_(beta * _tan_half_pi(alpha))
    t = beta * math.tan(math.pi * alpha / 2)
    b = math.atan(t) / alpha
    vb = v + b
    sin_avb = torch.sin(alpha * vb)
    # |V - alpha (V + b)| <= pi/2, with equality only at an end of V for |beta| = 1: a rounded
    # negative cosine there is a zero.
    log_p = torch.cos(v - alpha * vb).clamp_min_(0.0).log_().sub_(torch.log(w)).mul_((1 - alpha) / alpha)
    log_p.sub_(torch.log(torch.cos(v)), alpha=1 / alpha).add_(math.log1p(t * t) / (2 * alpha))
    # exp(log_p) may overflow; where sin(alpha (V + b)) = 0 the draw is 0, not 0 * inf.
    x = torch.where(sin_avb == 0, torch.zeros_like(sin_avb), sin_avb * torch.exp(log_p.clamp_max_(1e4)))
    return saturate_(x)


def skewed_cms_s0(alpha: float, beta: float, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """S(alpha, beta, 1, 0) in the S0 parametrization from (V, W), for alpha != 1 and beta != 0.

    The S0 draw is the S1 draw of :func:`standard_cms` minus ``beta tan(pi alpha / 2)``, but
    near alpha = 1 both are of order 1/|alpha - 1| and the subtraction loses the draw (in
    float32 at alpha = 1 - 1e-6 it would be rounded to multiples of 1/32). With
    ``kappa = atan(1 / |beta tan(pi alpha / 2)|)``, ``eps = 1 - alpha`` and ``delta = eps V + kappa``
    (for ``beta tan(pi alpha / 2) < 0`` the same with -beta, -V and a change of sign), the
    algebra of Weron's formula gives

        X0 = ((1 + q) expm1(h) + q + 2 sin(kappa/2)**2) / sin(kappa),
        q = tan(V) sin(delta) - 2 sin(delta/2)**2 = cos(V - delta) / cos(V) - 1,
        h = (eps / alpha) log(sin(delta) / (W sin(kappa) cos(V))),

    whose terms are all small together as alpha -> 1: no cancellation, and the draw tends
    to the alpha = 1 draw from the same (V, W). Guards keep every draw finite: delta lies in
    (0, pi), so a rounded negative sin(delta) is a zero, and for h > 1 the product
    (1 + q) e**h is formed as sign(1 + q) exp(h + log|1 + q|), which saturates instead of
    giving 0 * inf.
    """
    bt = beta * _tan_half_pi(alpha)
    sign = 1.0 if bt > 0 else -1.0
    v = v * sign
    kappa = math.atan2(1.0, abs(bt))
    eps = 1.0 - alpha
    delta = torch.mul(v, eps).add_(kappa)
    sin_delta = torch.sin(delta).clamp_min_(0.0)
    q = torch.tan(v).mul_(sin_delta).sub_(torch.sin(delta / 2).square_().mul_(2))
    h = torch.log(sin_delta / (w * math.sin(kappa) * torch.cos(v))).mul_(eps / alpha).clamp_max_(1e4)
    one_q = q + 1
    log_max = math.log(torch.finfo(v.dtype).max)
    big = torch.exp((h + torch.log(one_q.abs())).clamp_max_(log_max + 1)).mul_(torch.sign(one_q)).sub_(one_q)
    term = torch.where(h > 1, big, one_q * torch.expm1(h.clamp_max(1.0)))
    x0 = term.add_(q).add_(2 * math.sin(kappa / 2) ** 2).div_(math.sin(kappa))
    return saturate_(x0.mul_(sign))


def symmetric_cms_inplace(alpha: float, v: torch.Tensor, w: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """SaS(alpha, 1) from (V, W); the result overwrites ``v`` (``w`` and ``tmp`` are scratch).

    The formula of :func:`standard_cms` with ``beta = 0``, in log form (fewer
    transcendental calls, no overflow in the power) and as in-place operations on
    three arrays of the same shape: every fresh temporary would cost as much as the
    arithmetic on it. Used for every symmetric draw with alpha not in {1, 2}. With V
    never 0, ``sin(alpha V)`` is never 0, so an exponent beyond the float range gives
    +-inf, which saturates (never 0 * inf).
    """
    k = (1 - alpha) / alpha
    w.log_().mul_(-k)  # -k log W
    w.add_(torch.mul(v, 1 - alpha, out=tmp).cos_().log_(), alpha=k)  # + k log cos((1 - alpha) V)
    w.sub_(torch.cos(v, out=tmp).log_(), alpha=1 / alpha).exp_()  # - (1/alpha) log cos V
    return saturate_(v.mul_(alpha).sin_().mul_(w))


def positive_sqrt_mixing(alpha: float, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """sqrt(A) for A ~ S(alpha/2, 1, 2 cos(pi alpha / 4)**(2/alpha), 0), the sub-Gaussian mixing variable.

    For a = alpha/2 < 1 and beta = 1, Weron's formula with phi = V + pi/2 in (0, pi) is
    Kanter's: every factor is positive and the scale of A cancels the constant ``s``,

        A = 2 sin(a phi) / sin(phi)**(1/a) * (sin((1 - a) phi) / W)**((1 - a)/a),

    so A is formed in log form without cancellation (the S1 formula near a = 1 subtracts
    two numbers of order 1/(1 - a) and gave NaN at alpha = 1.999999), and sqrt(A) saturates
    instead of overflowing for small alpha. At alpha = 2 (a = 1) A = 2.
    """
    a = alpha / 2
    if a == 1.0:
        return torch.full_like(v, math.sqrt(2.0))
    phi = v + math.pi / 2
    log_a = torch.log(torch.sin(a * phi)).sub_(torch.log(torch.cos(v)), alpha=1 / a)
    log_a.add_(torch.log(torch.sin((1 - a) * phi)).sub_(torch.log(w)), alpha=(1 - a) / a)
    return saturate_(log_a.add_(math.log(2.0)).mul_(0.5).exp_())


#: Below this alpha a float32 draw is computed in float64: 1/alpha and the exponents must stay
#: inside the float32 range (at alpha = 1e-20 they reach about 1e21, far from 3e38).
FLOAT64_BELOW_ALPHA = 1e-20


def cms_from_uniforms(
    alpha: float, beta: float, s0: bool, v: torch.Tensor, w: torch.Tensor, tmp: torch.Tensor
) -> None:
    """S(alpha, beta, 1, 0) from uniforms ``v`` and ``w``, written into ``v``: S0 if ``s0`` else S1.

    The one entry point of the core: uniforms to (V, W) by :func:`angle_and_exponential`,
    then the formula for the case. ``w`` and ``tmp`` are overwritten.
    """
    if v.dtype == torch.float32 and alpha < FLOAT64_BELOW_ALPHA:
        v64, w64 = v.double(), w.double()
        cms_from_uniforms(alpha, beta, s0, v64, w64, torch.empty_like(v64))
        big = torch.finfo(v.dtype).max
        v.copy_(v64.clamp_(-big, big))
        return
    va, wa = angle_and_exponential(v, w)
    if beta == 0.0 and alpha not in (1.0, 2.0):
        symmetric_cms_inplace(alpha, va, wa, tmp)
        return
    if s0 and alpha not in (1.0, 2.0):
        x = skewed_cms_s0(alpha, beta, va, wa)
    else:
        x = standard_cms(alpha, beta, va, wa)
    v.copy_(saturate_(x))


#: Smallest CPU draw served by the numpy streams: below it, setting up a stream costs
#: more than torch.rand's slower bits (measured crossover: 1e4 to 3e4 samples).
NUMPY_STREAMS_FROM = 8192


def draw(
    shape: tuple[int, ...], gen: torch.Generator, dev: torch.device, dt: torch.dtype,
    transform: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], object],
) -> torch.Tensor:
    """A fresh tensor of shape ``shape``: two arrays of uniforms turned into draws by ``transform``.

    ``transform(v, w, tmp)`` receives two arrays of U[0, 1) uniforms and a scratch array of
    the same shape and leaves its result in ``v``. On the CPU, from ``NUMPY_STREAMS_FROM``
    samples on, the uniforms come from :mod:`htsgd._cpu_streams` (seeded from ``gen``) and
    the transform runs chunk by chunk on threads; otherwise from ``torch.rand`` on the device.
    """
    if dev.type == "cpu" and math.prod(shape) >= NUMPY_STREAMS_FROM:
        out = torch.empty(math.prod(shape), dtype=dt)
        _cpu_streams.fill(out, gen, transform)
        return out.view(shape)
    v = torch.rand(shape, generator=gen, device=dev, dtype=dt)
    w = torch.rand(shape, generator=gen, device=dev, dtype=dt)
    transform(v, w, torch.empty_like(v))
    return v


def standard_stable(
    alpha: float, beta: float, shape: tuple[int, ...], gen: torch.Generator, dev: torch.device, dt: torch.dtype,
    s0: bool = False,
) -> torch.Tensor:
    """A fresh tensor of S(alpha, beta, 1, 0) draws of shape ``shape``, S0 if ``s0`` else S1."""
    return draw(shape, gen, dev, dt, functools.partial(cms_from_uniforms, alpha, beta, s0))


#: The smallest alpha the samplers accept: below it 1/alpha times a logarithm overflows
#: double precision (every draw would be 0 or saturated anyway).
ALPHA_MIN_SAMPLING = 1e-300


def check_sampling_alpha(alpha: float) -> float:
    if alpha < ALPHA_MIN_SAMPLING:
        raise ValueError(
            f"alpha must be at least {ALPHA_MIN_SAMPLING:g} for sampling (1/alpha overflows double "
            f"precision below it), got {alpha!r}"
        )
    return alpha


def scale_and_shift_(x: torch.Tensor, scale: float, offset: float) -> torch.Tensor:
    """``scale * x + offset`` in place, saturating; scalars beyond the dtype's range go through float64."""
    big = torch.finfo(x.dtype).max
    if max(scale, abs(offset)) > big or 0.0 < scale < torch.finfo(x.dtype).tiny:
        return x.copy_(x.double().mul_(scale).add_(offset).clamp_(-big, big))
    if scale != 1.0:
        x.mul_(scale)
    if offset != 0.0:
        x.add_(offset)
    if scale > 1.0 or abs(offset) > 1.0:  # saturated draws must not overflow to inf
        x.clamp_(-big, big)
    return x


def sqrt_mixing_from_uniforms(alpha: float, v: torch.Tensor, w: torch.Tensor, tmp: torch.Tensor) -> None:
    """sqrt(A) of the sub-Gaussian mixing variable from uniforms ``v``, ``w``, written into ``v``."""
    if v.dtype == torch.float32 and alpha < FLOAT64_BELOW_ALPHA:
        v64 = v.double()
        sqrt_mixing_from_uniforms(alpha, v64, w.double(), tmp)
        v.copy_(v64.clamp_(max=torch.finfo(v.dtype).max))
        return
    v.copy_(positive_sqrt_mixing(alpha, *angle_and_exponential(v, w)))


def isotropic_rows_(g: torch.Tensor, root_a: torch.Tensor) -> torch.Tensor:
    """``sqrt(A) G`` row by row, in place in ``g``, saturating (``root_a`` has shape ``g.shape[:-1]``)."""
    return saturate_(g.mul_(root_a.unsqueeze(-1)))
