"""Densities and distribution functions of alpha-stable laws (numpy, float64).

The public functions (:func:`pdf`, :func:`logpdf`, :func:`cdf`, :func:`sf`,
:func:`char_func`, :func:`tail_constant`) are re-exported by :mod:`htsgd.stable`,
which is where readers should import them from. Introduced in the chapter
*Stable distributions* (``book/stable.md``).

References
----------
Nolan (1997), Numerical calculation of stable densities and distribution functions,
Comm. Statist. Stochastic Models 13, 759-774; Nolan (2020), *Univariate Stable
Distributions*; Samorodnitsky & Taqqu (1994), Prop. 1.2.15.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import special

from . import _stable_small_alpha
from ._checks import check_choice, check_real, real_array

__all__ = ["pdf", "logpdf", "cdf", "sf", "char_func", "tail_constant", "PARAMETERIZATIONS"]

PARAMETERIZATIONS = ("S1", "S0")


def check_law(alpha: Any, beta: Any, scale: Any, loc: Any, parameterization: Any):
    """Validate (alpha, beta, scale, loc, parameterization); errors name the argument."""
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    beta = check_real("beta", beta, low=-1.0, high=1.0)
    scale = check_real("scale", scale, low=0.0, low_open=True, finite=True)
    loc = check_real("loc", loc, finite=True)
    if not isinstance(parameterization, str):
        raise TypeError(f"parameterization must be 'S1' or 'S0', got {parameterization!r}")
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    return alpha, beta, scale, loc, parameterization


# ---------------------------------------------------------------------------
# Densities and distribution functions (numpy, float64)
# ---------------------------------------------------------------------------
#
# Nolan's (1997) integral representation writes the standard S0 density and
# distribution function as integrals over theta in (-theta0, pi/2) of functions of
# g(theta) = (x - zeta)**(alpha/(alpha-1)) V(theta). Two changes of variables make it
# fast and uniformly accurate:
#
# 1. theta = -theta0 + L * expit(sigma) (L = pi/2 + theta0): log V is then close to
#    linear in sigma at both ends, so u = log g = c(x) + s(sigma) with c(x) = a log(x - zeta)
#    and s = log V. The integrands become K(u) = exp(u - e^u) (the Gumbel kernel) times a
#    smooth weight that does not depend on x. The cdf is brought into the same form by an
#    integration by parts (its weight is the distance to the end point times ds/dsigma).
# 2. The trapezoid rule on a uniform sigma grid is spectrally accurate for such analytic,
#    decaying integrands; the step is h0 / max|ds/dsigma|, so the kernel is resolved by the
#    same number of nodes whatever x, alpha and beta are, and each x only needs the nodes
#    where its kernel is not negligible (u in [U_LO, U_HI]).
#
# Three refinements keep that relative accuracy where the plain method loses it:
#
# 3. Near alpha = 1 (a = alpha/(alpha-1) large, beta != 0) c and s are of size
#    |a| log(1/|alpha-1|) and cancel. The constant a log|beta tan(pi alpha/2)| is moved
#    from s into c = a log|1 + x/(beta tan)|, the small angles (pi/2 - theta0, pi - alpha L)
#    come from atan(1/(beta tan)) and tan(pi alpha/2) from alpha - 1, and where
#    R = sin(alpha (theta + theta0)) / (sin(alpha theta0) cos(theta)) is 1 + O(alpha - 1)
#    log R and its derivative are formed without cancellation (see _Pieces.evaluate).
# 4. The cdf and sf are both integrated directly (the lower one by parts towards the
#    other end of theta), so neither is 1 minus a number close to 1.
# 5. At alpha = 1 the cancellation between c = -pi x/(2 beta) and s grows like |x|; far
#    in the tails (|c| >= _C_FAR) a per-point substitution removes it (_alpha1_far_tail),
#    and steep windows are solved for instead of padded (_refined_windows), so
#    sf(1e7, 1, 0.5) takes a fraction of a millisecond instead of a minute.
#
# Relative error about 1e-12 in the body and the tails (tests compare with mpmath); near
# alpha = 1 the worst measured was 2e-10 (|alpha - 1| from 1e-2 to 1e-6, |x| <= 100). At
# beta = 0 there is nothing to move and the error is about 1e-16 |a| (1 + |log|x||); for
# 0 < |alpha - 1| < 1e-7 and beta != 0 it is about 1e-16 min(|x|, 1/|alpha - 1|).

#: Smallest distance z - zeta used (zeta itself is evaluated there). Below alpha = 0.15 the
#: law puts visible mass at tiny scales (at alpha = 0.01, P(0 < X < 1e-13) = 0.13), where the
#: integrals lose accuracy whatever the floor (cdf(0, 0.05) came out 0.507): there the
#: densities come from Zolotarev's series instead (htsgd/_stable_small_alpha.py).
_D_FLOOR = 1e-13
_H0 = 0.3  # trapezoid step times max |ds/dsigma|; the error is about exp(-pi**2 / _H0)
_U_LO, _U_HI = -36.0, 3.8  # the kernel exp(u - e^u) is below 1e-15 of its mass outside
_BLOCK = 4096  # points per block (bounds the (points x nodes) work arrays)
_MAX_NODES = 20000  # largest grid for one group of points
_FINE_STEP = 2.5e-4  # below this step the windows are solved for, not padded by 0.25


def _tan_half_pi(alpha: float) -> float:
    """tan(pi alpha / 2), accurate to a few ulps also as alpha -> 1 (where it has a pole).

    ``math.tan(math.pi * alpha / 2)`` loses about log10(1 / |alpha - 1|) digits there,
    because pi alpha / 2 is rounded next to the pole; alpha - 1 is exact.
    """
    eps = alpha - 1.0
    if abs(eps) <= 0.5:
        return -1.0 / math.tan(math.pi * eps / 2)
    return math.tan(math.pi * alpha / 2)


class _Pieces:
    """x-independent pieces of Nolan's integrals on a sigma grid for one (alpha, beta > or < 0).

    For alpha != 1 and beta != 0 the constant a log|beta tan(pi alpha / 2)| is moved from
    s = log V into the x-dependent part, c = a log|1 + x / (beta tan(pi alpha / 2))|: near
    alpha = 1 both are of order |a| log(1 / |alpha - 1|) (a = alpha / (alpha - 1)) and
    their sum, of order one, would keep only the absolute accuracy of those big terms.
    """

    def __init__(self, alpha: float, beta: float):
        self.alpha, self.beta = alpha, beta
        self.skew = False
        if alpha == 1.0:
            self.L, self.e0 = math.pi, 0.0
            self.increasing = True
            return
        pi = math.pi
        eps = alpha - 1.0
        self.eps = eps
        self.a = alpha / eps
        self.increasing = alpha < 1
        # stable: the cancellation-free forms of log R and its derivative (|a| >= 3).
        self.stable = abs(eps) <= 0.5
        if beta == 0.0:
            self.theta0, self.L, self.e0 = 0.0, pi / 2, pi / 2
            self.pi_minus_alpha_L = pi * (1 - alpha / 2)
            return
        # With tau = 1 / (beta T) and kappa = atan(tau): alpha theta0 = atan(beta T) =
        # sign(beta T) pi/2 - kappa, so the small angles e0 = pi/2 - theta0, L = pi/2 + theta0
        # and pi - alpha L come out with relative accuracy when alpha is close to 1.
        bt = beta * _tan_half_pi(alpha)
        tau = 1.0 / bt
        kappa = math.atan(tau)
        self.skew = True
        self.tau, self.kappa, self.positive = tau, kappa, bt > 0
        self.cos_kappa = math.cos(kappa)  # |sin(alpha theta0)|
        self.log_sec_phi = -math.log(abs(tau)) + 0.5 * math.log1p(tau * tau)  # -log cos(alpha theta0)
        # kappa = -pi (alpha - 1) / 2 / beta up to O((alpha - 1)**3); at |beta| = 1 the
        # small angle that then vanishes is set to 0 exactly (an end of theta where V
        # has a finite limit: a light tail or a bounded support).
        total = abs(beta) == 1.0
        if bt > 0:
            self.theta0 = (pi / 2 - kappa) / alpha
            self.e0 = 0.0 if (total and alpha < 1) else max((pi * eps / 2 + kappa) / alpha, 0.0)
            self.L = pi - self.e0
            self.pi_minus_alpha_L = 0.0 if (total and alpha > 1) else max(kappa - pi * eps / 2, 0.0)
        else:
            self.theta0 = (-pi / 2 - kappa) / alpha
            self.L = 0.0 if (total and alpha < 1) else max((pi * eps / 2 - kappa) / alpha, 0.0)
            self.e0 = pi - self.L
            self.pi_minus_alpha_L = max(pi - pi * eps / 2 + kappa, 0.0)

    def evaluate(self, sigma: np.ndarray):
        """Return s = log V, ds/dsigma, log dtheta/dsigma, log d_left, log d_right at sigma."""
        alpha, L = self.alpha, self.L
        log_p = -np.logaddexp(0.0, -sigma)
        log_q = -np.logaddexp(0.0, sigma)
        dl = L * np.exp(log_p)  # theta + theta0, without cancellation
        dr = L * np.exp(log_q)  # pi/2 - theta
        log_dtheta = math.log(L) + log_p + log_q
        if alpha == 1.0:
            beta = self.beta
            cos_t = np.sin(np.minimum(dl, dr))
            sin_t = np.cos(dr)
            tan_t = sin_t / cos_t
            m = (math.pi / 2) * (1 - beta) + beta * dl  # pi/2 + beta theta
            s = math.log(2 / math.pi) + np.log(m) - np.log(cos_t) + m * tan_t / beta
            dlog = beta / m + 2 * tan_t + m / (beta * cos_t**2)
        else:
            a, eps = self.a, self.eps
            cos_t = np.where(dr <= math.pi / 2, np.sin(dr), np.sin(self.e0 + dl))
            sin_t = np.cos(dr)
            arg = alpha * dl
            sin_adl = np.where(arg <= math.pi / 2, np.sin(arg), np.sin(self.pi_minus_alpha_L + alpha * dr))
            cos_adl = np.cos(arg)
            y = arg + dr
            if alpha > 1:
                pi_minus_y = self.pi_minus_alpha_L + eps * dr
            else:
                pi_minus_y = self.e0 - eps * dl
            sin_y = np.where(y <= math.pi / 2, np.sin(y), np.sin(pi_minus_y))
            cos_y = np.cos(y)
            log_cos_t = np.log(cos_t)
            tan_t = sin_t / cos_t
            if not self.skew:
                s = (a - 1) * log_cos_t - a * np.log(sin_adl) + np.log(sin_y)
                dlog = -(a - 1) * tan_t - a * alpha * cos_adl / sin_adl + eps * cos_y / sin_y
            else:
                # V = sec(alpha theta0) R**(-a) sin(y) / cos(theta), R = (cos(alpha theta) +
                # tau sin(alpha theta)) / cos(theta) = sin(alpha dl) / (sin(alpha theta0) cos(theta)).
                log_r = np.log(sin_adl) - math.log(self.cos_kappa) - log_cos_t
                dlog_r = alpha * cos_adl / sin_adl + tan_t
                if self.stable and self.positive:
                    # R - 1 = O(alpha - 1) where the kernel lives: form it without cancellation.
                    e0, kappa = self.e0, self.kappa
                    # eps dl - e0 = -(pi - alpha L) - eps dr: from the nearer end of theta.
                    gap = np.where(dl <= dr, eps * dl - e0, -(self.pi_minus_alpha_L + eps * dr))
                    num = (2 * np.cos(((alpha + 1) * dl + e0) / 2) * np.sin(gap / 2)
                           + 2 * math.sin(kappa / 2) ** 2 * cos_t)
                    rho = num / (self.cos_kappa * cos_t)
                    theta = np.where(dl <= dr, dl - self.theta0, math.pi / 2 - dr)
                    at = alpha * theta
                    sin_at, cos_at = np.sin(at), np.cos(at)
                    nd = (self.tau * (alpha * cos_at * cos_t + sin_t * sin_at)
                          - np.sin(eps * theta) - eps * sin_at * cos_t)
                    # Near an end where sin(alpha dl) and cos(theta) both vanish (|beta| = 1)
                    # the direct form of the derivative loses less.
                    near = rho >= -0.5
                    nd_near = near & (sin_adl + cos_t > abs(eps))
                    log_r = np.where(near, np.log1p(np.maximum(rho, -0.5)), log_r)
                    dlog_r = np.where(nd_near, nd * self.cos_kappa / (sin_adl * cos_t), dlog_r)
                s = self.log_sec_phi - a * log_r + np.log(sin_y) - log_cos_t
                dlog = -a * dlog_r + eps * cos_y / sin_y + tan_t
        ds = dlog * np.exp(log_dtheta)
        return s, ds, log_dtheta, math.log(L) + log_p, math.log(L) + log_q

    def log_distance(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log d, c) at points z >= zeta = -beta tan(pi alpha / 2) of this law (alpha != 1).

        d = z - zeta (at least _D_FLOOR (1 + |zeta|)), and c = a log d less the constant that
        :class:`_Pieces` keeps out of s: d = |beta T| |1 + z tau| with tau = 1 / (beta T).
        """
        if not self.skew:
            log_d = np.log(np.maximum(z, _D_FLOOR))
            return log_d, self.a * log_d
        tau = self.tau
        zt = z * tau
        tiny = _D_FLOOR * (1 + abs(tau))
        if self.positive:
            log_v = np.log1p(np.maximum(zt, tiny - 1.0))
        else:
            log_v = np.log(np.maximum(-1.0 - zt, tiny))
        return log_v - math.log(abs(tau)), self.a * log_v


@functools.lru_cache(maxsize=64)
def _pieces(alpha: float, beta: float) -> tuple[_Pieces, np.ndarray, np.ndarray, np.ndarray]:
    """The pieces and a coarse sigma grid with s and |ds/dsigma| on it (cached per law)."""
    pieces = _Pieces(alpha, beta)
    sigma = np.arange(-700.0, 700.0 + 1e-9, 0.125)
    with np.errstate(all="ignore"):
        s, ds, *_ = pieces.evaluate(sigma)
    ok = np.isfinite(s) & np.isfinite(ds)
    sigma, s, ds = sigma[ok], s[ok], np.abs(ds[ok])
    if not pieces.increasing:
        sigma, s, ds = sigma[::-1], s[::-1], ds[::-1]
    # np.interp needs strictly increasing s; drop flat stretches (bounded ends of totally
    # skewed laws, where V tends to a finite limit and the density has a light tail).
    keep = np.concatenate(([True], s[1:] > np.maximum.accumulate(s)[:-1]))
    return pieces, sigma[keep], s[keep], ds[keep]


@functools.lru_cache(maxsize=64)
def _end_bounds(alpha: float, beta: float) -> tuple[float, float, float, float]:
    """(sigma_lo, sigma_hi, s at theta = -theta0, s at theta = pi/2): where the integrands live.

    Where s = log V tends to a finite limit the weights decay like dtheta/dsigma, so
    |sigma| <= 60 suffices there; an unbounded end may be needed out to |sigma| = 700.
    The limits are -inf where s is unbounded.
    """
    pieces = _Pieces(alpha, beta)
    with np.errstate(all="ignore"):
        s = pieces.evaluate(np.array([-700.0, -60.0, 60.0, 700.0]))[0]
    flat = lambda u, v: bool(np.isfinite(u) and np.isfinite(v) and abs(u - v) < 1e-6 * (1 + abs(v)))  # noqa: E731
    lo = -60.0 if flat(s[0], s[1]) else -700.0
    hi = 60.0 if flat(s[2], s[3]) else 700.0
    s_left = float(s[0]) if flat(s[0], s[1]) else -math.inf
    s_right = float(s[3]) if flat(s[2], s[3]) else -math.inf
    return lo, hi, s_left, s_right


def _kernel_log_integrals(alpha: float, beta: float, c: np.ndarray, which: tuple[str, ...]):
    """log of int K(c + s(sigma)) w(sigma) dsigma for the weights named in ``which``.

    Weights: "pdf" -> dtheta/dsigma; "right" -> d_right |ds/dsigma|; "left" -> d_left |ds/dsigma|.
    """
    pieces, sig_c, s_c, ds_c = _pieces(alpha, beta)
    sig_lo, sig_hi, *_ = _end_bounds(alpha, beta)
    out = {w: np.full(c.shape, -np.inf) for w in which}
    if c.size == 0:
        return out
    # Window of each point in sigma: s in [U_LO - c, u_hi - c] (s_c increasing along sig_c
    # order). In a light tail every u = c + s exceeds U_HI: widen the window to where
    # u - e^u has dropped by 40 from its largest value.
    u_min = c + s_c[0]
    u_hi = np.maximum(_U_HI, np.log(np.exp(np.minimum(u_min, 700.0)) + 40.0))
    t_lo, t_hi = _U_LO - c, u_hi - c
    lo = np.interp(t_lo, s_c, sig_c)
    hi = np.interp(t_hi, s_c, sig_c)
    # Sort points by the steepness of s on their windows and cut them into groups of
    # similar steepness (within a factor 4): each group's step only has to resolve its own.
    sig_up, ds_up = (sig_c, ds_c) if sig_c[0] < sig_c[-1] else (sig_c[::-1], ds_c[::-1])
    steep = np.maximum(np.interp(lo, sig_up, ds_up), np.interp(hi, sig_up, ds_up))
    keys = np.floor(np.log2(np.maximum(steep, 16.0)) / 2)
    if abs(alpha - 1.0) < 0.1:
        # At and near alpha = 1, s grows exponentially at both ends and the windows of
        # points with different c lie far apart: groups of c within a factor of 2 also.
        keys = keys * 1000.0 + np.floor(np.arcsinh(c / 4.0) / 0.7)
    order = np.lexsort((c, keys))
    ks = keys[order]
    bounds = np.flatnonzero(np.diff(ks)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [c.size]))
    for g0, g1 in zip(starts, ends, strict=True):
        for b0 in range(g0, g1, _BLOCK):
            b1 = min(b0 + _BLOCK, g1)
            idx = order[b0:b1]
            cb = c[idx]
            sa = np.clip(np.minimum(lo[idx], hi[idx]) - 0.25, sig_lo, sig_hi)
            sb = np.clip(np.maximum(lo[idx], hi[idx]) + 0.25, sig_lo, sig_hi)
            in_range = (sig_c >= sa.min() - 0.25) & (sig_c <= sb.max() + 0.25)
            # Light tails (u > U_HI everywhere) need a finer step: the kernel's relative
            # variation there is e^u per unit of u (capped: such densities are < 1e-40).
            sharp = math.exp(min(max(float(u_min[idx].max()) - _U_HI, 0.0), 3.0))
            slope = float(ds_c[in_range].max()) * sharp if in_range.any() else 1.0
            step = _H0 / max(slope, 1e-3)
            if step < _FINE_STEP:
                # Steep s (far tails at and near alpha = 1): the coarse grid only brackets
                # the windows, and a pad of 0.25 would cost millions of nodes. Solve for
                # the window ends and measure the slope on the windows themselves.
                sa, sb, step = _refined_windows(pieces, sig_c, s_c, t_lo[idx], t_hi[idx],
                                                lo[idx], hi[idx], sig_lo, sig_hi, sharp)
            # Give each run of points whose windows span at most _MAX_NODES steps its own grid.
            span = _MAX_NODES * step
            i = 0
            while i < cb.size:
                spread = np.maximum.accumulate(sb[i:]) - np.minimum.accumulate(sa[i:])
                j = i + int(np.searchsorted(spread, span, side="right"))
                j = max(j, i + 1)
                _window_sums(pieces, which, cb[i:j], sa[i:j], sb[i:j], step, out, idx[i:j])
                i = j
    return out


def _solve_s(pieces: _Pieces, sig_c, s_c, target: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """sigma where s(sigma) = target, by Newton's method on asinh(s) kept inside its coarse cell.

    asinh(s) is close to linear in sigma where s grows exponentially (alpha = 1), and
    elsewhere s is close to linear: a few steps resolve the windows to far below the step.
    """
    k = np.clip(np.searchsorted(s_c, target), 1, s_c.size - 1)
    a, b = np.minimum(sig_c[k - 1], sig_c[k]), np.maximum(sig_c[k - 1], sig_c[k])
    x = np.clip(guess, a, b)
    at = np.arcsinh(target)
    sign = 1.0 if pieces.increasing else -1.0  # s increasing or decreasing in sigma
    for _ in range(40):
        with np.errstate(all="ignore"):
            s, ds, *_ = pieces.evaluate(x)
        f = np.arcsinh(s) - at
        done = np.abs(s - target) < 0.05
        if done.all():
            break
        above = sign * f > 0  # the root is below x (in sigma)
        b = np.where(above, x, b)
        a = np.where(above, a, x)
        with np.errstate(all="ignore"):
            x_new = x - f * np.sqrt(1.0 + s * s) / ds
        bad = ~np.isfinite(x_new) | (x_new <= a) | (x_new >= b)
        x = np.where(done, x, np.where(bad, 0.5 * (a + b), x_new))
    return x


def _refined_windows(pieces, sig_c, s_c, t_lo, t_hi, lo, hi, sig_lo, sig_hi, sharp):
    """Window ends solved on s itself, and the step from the slope sampled on the windows."""
    inside = lambda t: (t > s_c[0]) & (t < s_c[-1])  # noqa: E731  (else the coarse end is exact)
    lo, hi = lo.copy(), hi.copy()
    m = inside(t_lo)
    lo[m] = _solve_s(pieces, sig_c, s_c, t_lo[m], lo[m])
    m = inside(t_hi)
    hi[m] = _solve_s(pieces, sig_c, s_c, t_hi[m], hi[m])
    wa, wb = np.minimum(lo, hi), np.maximum(lo, hi)
    probe = wa[:, None] + (wb - wa)[:, None] * np.linspace(0.0, 1.0, 17)
    with np.errstate(all="ignore"):
        ds = np.abs(pieces.evaluate(probe.ravel())[1])
    slope = float(np.max(ds[np.isfinite(ds)], initial=1e-3)) * sharp
    step = _H0 / max(slope, 1e-3)
    pad = 8 * step  # the ends are solved to |delta s| < 0.05; the pad adds margin
    return np.clip(wa - pad, sig_lo, sig_hi), np.clip(wb + pad, sig_lo, sig_hi), step


def _window_sums(pieces, which, cb, sa, sb, step, out, dest) -> None:
    """Trapezoid sums of K(c + s) w over each point's window [sa, sb], on one uniform grid."""
    smin, smax = sa.min(), sb.max()
    n = int(math.ceil((smax - smin) / step)) + 1
    grid = smin + step * np.arange(n)
    with np.errstate(all="ignore"):
        s, ds, log_dth, log_dl, log_dr = pieces.evaluate(grid)
    logw = {}
    with np.errstate(divide="ignore"):
        log_abs_ds = np.log(np.abs(ds))
    for w in which:
        if w == "pdf":
            lw = log_dth
        elif w == "right":
            lw = log_dr + log_abs_ds
        else:
            lw = log_dl + log_abs_ds
        lw = lw + math.log(step)
        logw[w] = np.where(np.isfinite(lw) & np.isfinite(s), lw, -np.inf)
    s = np.where(np.isfinite(s), s, 0.0)
    ka = np.searchsorted(grid, sa)
    kb = np.searchsorted(grid, sb, side="right")
    width = int((kb - ka).max()) + 1
    idx = ka[:, None] + np.arange(width)
    valid = idx < np.minimum(kb, n)[:, None]
    idx = np.minimum(idx, n - 1)
    u = cb[:, None] + s[idx]
    with np.errstate(over="ignore"):
        logk = u - np.exp(u)
    logk[~valid] = -np.inf
    for w in which:
        terms = logk + logw[w][idx]
        m = terms.max(axis=1)
        mm = np.where(np.isfinite(m), m, 0.0)
        total = np.exp(terms - mm[:, None]).sum(axis=1)
        with np.errstate(divide="ignore"):
            out[w][dest] = mm + np.log(total)


def _s0_location(alpha: float, beta: float, scale: float, loc: float, parameterization: str) -> float:
    """The S0 location delta0 of a law given in ``parameterization`` (Nolan 2020, Prop. 1.3)."""
    if parameterization == "S0" or beta == 0.0 or alpha == 2.0:
        return loc
    if alpha == 1.0:
        return loc + (2 / math.pi) * beta * scale * math.log(scale)
    return loc + beta * scale * math.tan(math.pi * alpha / 2)


def _as_points(name: str, x: Any) -> np.ndarray:
    """numpy float64 copy of ``x`` (array-like or torch tensor, see ``real_array``); NaN is rejected."""
    arr = real_array(name, x)
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN; it has {int(np.isnan(arr).sum())} NaN entries")
    return arr


def _boundary_term(alpha: float, beta: float, c: np.ndarray, end: int = 2) -> np.ndarray:
    """L (1 - exp(-g)) at an end of theta where V has a finite limit, else 0.

    From the integrations by parts: at theta = -theta0 (``end=2``) for the upper tail
    (alpha <= 1, beta = 1), at theta = pi/2 (``end=3``) for the lower one (alpha > 1,
    beta = -1, the light side of a totally skewed law).
    """
    s_end = _end_bounds(alpha, beta)[end]
    if not math.isfinite(s_end):
        return np.zeros(c.shape)
    return _Pieces(alpha, beta).L * -np.expm1(-np.exp(np.minimum(c + s_end, 700.0)))


_C_FAR = 1e4  # |c| from which the alpha = 1 tails use _alpha1_far_tail

#: At alpha = 1 and 0 < |beta| < _BETA_LINEAR the law is nearly Cauchy and c = -pi z / (2 beta)
#: is huge: the integral loses it (pdf(1000, 1, beta=1e-6) came out as 4e-231, pdf(-100, 1,
#: beta=1e-6) as NaN) and the far-tail substitution assumes pi / (2 |beta z|) of order 10 at most.
#: There the density and both tails are interpolated linearly in beta between the Cauchy law
#: and beta = +-_BETA_LINEAR: a mixture of two laws, so still a law (pdf >= 0, cdf monotone,
#: cdf + sf = 1), exact at both ends, with relative error about beta (_BETA_LINEAR - beta) / 2
#: times |d^2 log f / d beta^2|: measured at most 1.3e-7 for |x| <= 10 (against the integral at
#: beta = 2e-4 to 9e-4, where it still works in the body), growing like log(|x|)**2 in the tails.
_BETA_LINEAR = 1e-3


def _alpha1_far_tail(z: np.ndarray, beta: float, upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """(log density, log tail probability) far in a tail of the standard alpha = 1 law, 0 < beta.

    In Nolan's integral u = c + s with c = -pi z / (2 beta) and s = m tan(theta) / beta +
    O(log|z|) cancel to u = O(1), which keeps only |c| * 1e-16 of absolute accuracy (1e-7
    of relative accuracy at z = 1e9). Near the end of theta that carries the tail, with
    k = 1 +- beta and d = pi/2 -+ theta = k / (|z| + w), the two big terms are
    +-(pi / (2 beta)) (|z| + w) and the substitution leaves u = +-(pi / (2 beta)) w plus
    terms computed without cancellation; w runs over the kernel's window on a uniform grid.
    The tail probability (upper: P(X > z), z > 0; else P(X <= z), z < 0) is
    (1/pi) int T(u) dtheta with T = 1 - exp(-e^u) (upper) or exp(-e^u), T = 1 beyond the window.
    """
    sgn = 1.0 if upper else -1.0
    k = 1.0 + sgn * beta
    zz = np.abs(z)
    slope = math.pi / (2 * beta)  # |du/dw| up to O(1/|z|)
    h = 0.25 / slope
    # u = sgn slope w + log|z| - 1 + O(1/|z|): the window u in [-40, 6] plus margin.
    lz = np.log(zz)
    u_lo, u_hi = -40.0, 6.0
    w_a = (np.minimum(sgn * (u_lo - lz + 1), sgn * (u_hi - lz + 1)) - 2.0) / slope
    n = int(math.ceil((u_hi - u_lo + 4.0) / 0.25)) + 1
    w = w_a[:, None] + h * np.arange(n)
    zw = zz[:, None] + w
    d = k / zw
    d2 = d * d
    # cot(d) - 1/d and d cot(d) by their series (d < 0.03 here).
    cot_m = -d * (1 / 3 + d2 * (1 / 45 + d2 * (2 / 945 + d2 / 4725)))
    d_cot = 1.0 + d * cot_m
    u = (sgn * slope * (w + k * cot_m) - d_cot + math.log(2 / math.pi)
         + np.log(math.pi * k / 2 - sgn * beta * d) - np.log(np.sin(d)))
    dtheta = h * k / (zw * zw)
    log_kernel = u - np.exp(u)
    m = log_kernel.max(axis=1)
    log_pdf = m + np.log(np.sum(np.exp(log_kernel - m[:, None]) * dtheta, axis=1)) - math.log(2 * beta)
    tail = -np.expm1(-np.exp(u)) if upper else np.exp(-np.exp(u))
    # Trapezoid on the window (T ~ 0 at its start), T = 1 from its last node W on, where
    # the integrand k / (|z| + w)**2 is not flat: add the Euler-Maclaurin end correction.
    wt = np.ones(n)
    wt[-1] = 0.5
    last = zw[:, -1]
    prob = (np.sum(tail * dtheta * wt, axis=1) + k / last + h * h * k / (6 * last**3)) / math.pi
    return log_pdf, np.log(prob)


def _alpha1_far(z: np.ndarray, beta: float):
    """Yield (mask, upper) for the points of z where :func:`_alpha1_far_tail` takes over."""
    far = (math.pi * np.abs(z) / (2 * beta) >= _C_FAR) & (np.abs(z) >= 100.0)
    for upper in (True, False):
        sel = far & ((z > 0) if upper else (z < 0))
        if not upper and beta == 1.0:
            continue  # the light lower tail of the totally skewed law (no power law)
        if sel.any():
            yield sel, upper


def _std_logpdf(z: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """log density of the standard S0 law S(alpha, beta, 1, 0; 0) at finite points z (1-d)."""
    if alpha == 2.0:
        return -0.25 * z * z - math.log(2 * math.sqrt(math.pi))
    if alpha == 1.0 and beta == 0.0:
        return -math.log(math.pi) - np.log1p(z * z)
    if alpha < _stable_small_alpha.SERIES_ALPHA:
        # Zolotarev's series in S1 coordinates (the S1 origin is zeta in S0).
        return _stable_small_alpha.pdf_cdf_sf(z + beta * _tan_half_pi(alpha), alpha, beta)[0]
    if beta < 0.0:
        return _std_logpdf(-z, alpha, -beta)
    out = np.full(z.shape, -np.inf)
    if alpha == 0.5 and beta == 1.0:  # Levy: S1 location 0 is S0 location -1
        y = z + 1.0
        pos = y > 0
        yp = y[pos]
        out[pos] = -0.5 * math.log(2 * math.pi) - 1.5 * np.log(yp) - 0.5 / yp
        return out
    if alpha == 1.0 and beta < _BETA_LINEAR:
        # Nearly Cauchy: interpolate in beta (a mixture of two laws, see _BETA_LINEAR).
        t = beta / _BETA_LINEAR
        log_cauchy = -math.log(math.pi) - np.log1p(z * z)
        return np.logaddexp(math.log1p(-t) + log_cauchy, math.log(t) + _std_logpdf(z, 1.0, _BETA_LINEAR))
    if alpha == 1.0:
        c = -math.pi * z / (2 * beta)
        out = _kernel_log_integrals(1.0, beta, c, ("pdf",))["pdf"] - math.log(2 * beta)
        for sel, upper in _alpha1_far(z, beta):
            out[sel] = _alpha1_far_tail(z[sel], beta, upper)[0]
        return out
    for sel, side, zs in _sides(z, alpha, beta):
        b = side * beta
        pieces = _Pieces(alpha, b)
        log_d, c = pieces.log_distance(zs)
        logi = _kernel_log_integrals(alpha, b, c, ("pdf",))["pdf"]
        # Nolan's integrand is V exp(-g) = g exp(-g) / (x - zeta)**a.
        out[sel] = math.log(alpha / (math.pi * abs(alpha - 1))) - log_d + logi
    return out


def _sides(z: np.ndarray, alpha: float, beta: float):
    """Yield (mask, side, points) for z >= zeta (side 1) and z < zeta (side -1, points -z).

    zeta = -beta tan(pi alpha / 2); Nolan's formulas hold for z >= zeta, the law of -X
    is S(alpha, -beta) and covers the other side. Sides outside the support are skipped.
    """
    zeta = -beta * _tan_half_pi(alpha)
    for side in (1.0, -1.0):
        sel = (z >= zeta) if side > 0 else (z < zeta)
        if sel.any() and _Pieces(alpha, side * beta).L >= 1e-12:  # L = 0: beyond a bounded end
            yield sel, side, side * z[sel]


def _closed_form_cdf_sf(z: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(P(X <= z), P(X > z)) of :func:`_std_cdf_sf` where a closed form, a series or a symmetry serves; else None.

    Gaussian, Cauchy, Levy (alpha = 1/2, beta = 1), the small-alpha series, beta < 0 by
    reflection, and alpha = 1 with small beta by linear interpolation in beta.
    """
    if alpha == 2.0:
        return special.ndtr(z / math.sqrt(2)), special.ndtr(-z / math.sqrt(2))
    if alpha == 1.0 and beta == 0.0:
        low = np.arctan2(1.0, -z) / math.pi  # = 1/2 + arctan(z)/pi, accurate as z -> -inf
        return low, np.arctan2(1.0, z) / math.pi
    if alpha < _stable_small_alpha.SERIES_ALPHA:
        _, cdf, sf = _stable_small_alpha.pdf_cdf_sf(z + beta * _tan_half_pi(alpha), alpha, beta)
        return cdf, sf
    if beta < 0.0:
        sf, cdf = _std_cdf_sf(-z, alpha, -beta)
        return cdf, sf
    if alpha == 1.0 and beta < _BETA_LINEAR:
        t = beta / _BETA_LINEAR
        cdf0, sf0 = _std_cdf_sf(z, 1.0, 0.0)
        cdf1, sf1 = _std_cdf_sf(z, 1.0, _BETA_LINEAR)
        return (1 - t) * cdf0 + t * cdf1, (1 - t) * sf0 + t * sf1
    if alpha == 0.5 and beta == 1.0:
        y = z + 1.0
        cdf, sf = np.zeros(z.shape), np.ones(z.shape)
        pos = y > 0
        r = 1.0 / np.sqrt(2.0 * y[pos])
        cdf[pos], sf[pos] = special.erfc(r), special.erf(r)
        return cdf, sf
    return None


def _std_cdf_sf(z: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(P(X <= z), P(X > z)) of the standard S0 law; both are computed directly.

    For each side, P(X > z) = (B + I_right) / pi and P(X <= z) = (e0 + I_left) / pi with
    the integrals by parts of Nolan's formulas (e0 = pi - L, B the boundary term). The
    second is only computed where the first exceeds 1/2, so neither is ever 1 minus a
    number close to 1 (near alpha = 1 the far side zeta of the body makes that common).
    """
    closed = _closed_form_cdf_sf(z, alpha, beta)
    if closed is not None:
        return closed
    if alpha == 1.0:
        sides = [(np.ones(z.shape, dtype=bool), 1.0, z)]
        far = [(sel, upper) for sel, upper in _alpha1_far(z, beta)]
        for sel, _ in far:
            sides[0][0][sel] = False
        sides[0] = (sides[0][0], 1.0, z[sides[0][0]])
    else:
        # Outside the support (a skipped side) P(X <= z) = 0.
        cdf, sf = np.zeros(z.shape), np.ones(z.shape)
        sides = list(_sides(z, alpha, beta))
    if alpha == 1.0:
        cdf, sf = np.empty(z.shape), np.empty(z.shape)
    for sel, side, zs in sides:
        b = side * beta
        pieces = _Pieces(alpha, b)
        c = -math.pi * zs / (2 * b) if alpha == 1.0 else pieces.log_distance(zs)[1]
        upper = (np.exp(_kernel_log_integrals(alpha, b, c, ("right",))["right"]) + _boundary_term(alpha, b, c)) / math.pi
        lower = np.minimum(1.0 - upper, 1.0)
        big = upper > 0.5
        if big.any():
            left = np.exp(_kernel_log_integrals(alpha, b, c[big], ("left",))["left"])
            lower[big] = (pieces.e0 + left + _boundary_term(alpha, b, c[big], end=3)) / math.pi
            upper[big] = 1.0 - lower[big]
        if side > 0:
            cdf[sel], sf[sel] = lower, upper
        else:
            cdf[sel], sf[sel] = upper, lower
    if alpha == 1.0:
        for sel, up in far:
            tail = np.exp(_alpha1_far_tail(z[sel], beta, up)[1])
            cdf[sel], sf[sel] = (1.0 - tail, tail) if up else (tail, 1.0 - tail)
    return cdf, sf


def _standardize(name, x, alpha, beta, scale, loc, parameterization):
    alpha, beta, scale, loc, parameterization = check_law(alpha, beta, scale, loc, parameterization)
    arr = _as_points(name, x)
    if alpha == 2.0 or (alpha != 1.0 and abs(beta) < 1e-15):
        # Away from alpha = 1 the law moves by O(beta): below 1e-15 it is the symmetric law to
        # double precision, and Nolan's pieces degenerate for such beta (hypothesis found 5e-260).
        beta = 0.0
    delta0 = _s0_location(alpha, beta, scale, loc, parameterization)
    z = (arr.ravel() - delta0) / scale
    return arr.shape, z, alpha, beta, scale


def _reshape(values: np.ndarray, shape: tuple[int, ...]):
    out = values.reshape(shape)
    return out[()] if out.ndim == 0 else out


def logpdf(x: Any, alpha: float, beta: float = 0.0, scale: float = 1.0, loc: float = 0.0,
           parameterization: str = "S1"):
    """Log density of S(alpha, beta, scale, loc) at ``x``.

    Same arguments and accuracy as :func:`pdf`; ``-inf`` outside the support. In the
    light tails of totally skewed laws the density underflows double precision far
    from the mode, and ``-inf`` is returned there. Introduced in the chapter *Stable distributions*.
    """
    shape, z, alpha, beta, scale = _standardize("x", x, alpha, beta, scale, loc, parameterization)
    out = np.full(z.shape, -np.inf)
    fin = np.isfinite(z)
    if fin.any() and alpha < _stable_small_alpha.SERIES_ALPHA:
        y = _s1_points(x, beta, scale, loc, parameterization, alpha)
        out[fin] = _stable_small_alpha.pdf_cdf_sf(y[fin], alpha, beta)[0] - math.log(scale)
    elif fin.any():
        out[fin] = _std_logpdf(z[fin], alpha, beta) - math.log(scale)
    return _reshape(out, shape)


def _s1_points(x, beta, scale, loc, parameterization, alpha) -> np.ndarray:
    """Standardized S1 points (x - loc)/scale (S0 loc shifted), 1-d, without going through S0.

    For small alpha the S1 origin is where the law's mass concentrates; the round trip
    through the S0 location (x - beta tan(pi alpha/2)) would round away all |x| below 1e-17.
    """
    y = (_as_points("x", x).ravel() - loc) / scale
    return y + beta * _tan_half_pi(alpha) if parameterization == "S0" else y


def pdf(x: Any, alpha: float, beta: float = 0.0, scale: float = 1.0, loc: float = 0.0,
        parameterization: str = "S1"):
    """Density of the stable law S(alpha, beta, scale, loc) at ``x``.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Points, any shape; evaluated in float64 on the CPU.
    alpha : float
        Stability index in (0, 2].
    beta : float
        Skewness in [-1, 1].
    scale : float
        Scale > 0.
    loc : float
        Location in the chosen parametrization.
    parameterization : {"S1", "S0"}
        Nolan's parametrizations as ``scipy.stats.levy_stable`` defines them.

    Returns
    -------
    numpy.ndarray or float
        Same shape as ``x`` (a float for a scalar).

    Notes
    -----
    Closed forms at ``alpha = 2`` (``N(loc, 2 scale**2)``), ``alpha = 1, beta = 0``
    (Cauchy) and ``alpha = 1/2, |beta| = 1`` (Levy); otherwise Nolan's (1997) integral
    representation, integrated by the trapezoid rule after the substitution explained
    in the source, with relative error about 1e-12 in the body and the tails (about 1000
    points per few milliseconds), and below 1e-9 near ``alpha = 1`` in S0 (measured for
    ``|alpha - 1|`` from 1e-6 to 1e-2). Near ``alpha = 1`` with ``beta != 0`` the S1
    location itself is ill-conditioned (it contains ``tan(pi alpha / 2)``); use S0 there.
    Far tails at ``alpha = 1`` use a substitution that keeps the relative accuracy at any
    ``|x|``. In the light tail of a totally skewed law values below about 1e-40 are only
    roughly accurate (they underflow to 0 soon after; never NaN). At ``alpha = 1`` with
    ``0 < |beta| < 1e-3`` the law is interpolated linearly in beta between the Cauchy law
    and ``|beta| = 1e-3`` (relative error about 1e-7 in the body, growing like
    ``log(|x|)**2`` in the tails). For ``alpha < 0.15`` the densities come from
    Zolotarev's convergent series in S1 (``htsgd/_stable_small_alpha.py``; about 1e-10
    against an mpmath reference, mpmath itself where ``|x|`` is tiny).
    Introduced in the chapter *Stable distributions*.

    References
    ----------
    Nolan (1997), Numerical calculation of stable densities and distribution
    functions, Comm. Statist. Stochastic Models 13, 759-774.
    """
    return np.exp(logpdf(x, alpha, beta, scale, loc, parameterization))


def _probability(upper: bool, x, alpha, beta, scale, loc, parameterization):
    """P(X > x) if ``upper`` else P(X <= x), each tail computed directly (see cdf and sf)."""
    shape, z, alpha, beta, scale = _standardize("x", x, alpha, beta, scale, loc, parameterization)
    out = np.where(z > 0, float(not upper), float(upper))  # the limits at x = -inf and +inf
    fin = np.isfinite(z)
    if fin.any() and alpha < _stable_small_alpha.SERIES_ALPHA:
        y = _s1_points(x, beta, scale, loc, parameterization, alpha)
        out[fin] = _stable_small_alpha.pdf_cdf_sf(y[fin], alpha, beta)[1 + int(upper)]
    elif fin.any():
        out[fin] = _std_cdf_sf(z[fin], alpha, beta)[int(upper)]
    return _reshape(out, shape)


def cdf(x: Any, alpha: float, beta: float = 0.0, scale: float = 1.0, loc: float = 0.0,
        parameterization: str = "S1"):
    """Distribution function P(X <= x) of S(alpha, beta, scale, loc).

    Same arguments, method and accuracy as :func:`pdf` (the lower tail is computed
    directly, so it keeps its relative accuracy as x -> -inf; see :func:`sf` for the
    upper tail). Introduced in the chapter *Stable distributions*.
    """
    return _probability(False, x, alpha, beta, scale, loc, parameterization)


def sf(x: Any, alpha: float, beta: float = 0.0, scale: float = 1.0, loc: float = 0.0,
       parameterization: str = "S1"):
    """Survival function P(X > x) of S(alpha, beta, scale, loc), accurate in the upper tail.

    Introduced in the chapter *Stable distributions* (log-log tail plots).
    """
    return _probability(True, x, alpha, beta, scale, loc, parameterization)


def char_func(u: Any, alpha: float, beta: float = 0.0, scale: float = 1.0, loc: float = 0.0,
              parameterization: str = "S1"):
    """Characteristic function E exp(i u X) of S(alpha, beta, scale, loc) (complex numpy).

    S1: ``exp(i loc u - |scale u|**alpha (1 - i beta sign(u) tan(pi alpha/2)))`` for
    ``alpha != 1`` and ``exp(i loc u - scale |u| (1 + i beta (2/pi) sign(u) log|u|))`` at
    ``alpha = 1``; S0 shifts the location (Nolan 2020, Def. 1.7 and 1.8).
    Introduced in the chapter *Stable distributions*.
    """
    alpha, beta, scale, loc, parameterization = check_law(alpha, beta, scale, loc, parameterization)
    arr = _as_points("u", u)
    if not np.isfinite(arr).all():
        raise ValueError("u must be finite")
    uu = arr.ravel()
    au = np.abs(scale * uu)
    sgn = np.sign(uu)
    if alpha == 1.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            lg = np.where(au > 0, np.log(np.where(au > 0, au, 1.0)), 0.0)
        # S0 (and S1 after its location shift) at alpha = 1: log(scale |u|) in the skew term.
        delta0 = _s0_location(alpha, beta, scale, loc, parameterization)
        expo = 1j * delta0 * uu - au * (1 + 1j * beta * (2 / math.pi) * sgn * lg)
    else:
        tan = _tan_half_pi(alpha) if alpha != 2.0 else 0.0
        ap = au**alpha
        if parameterization == "S1":
            expo = 1j * loc * uu - ap * (1 - 1j * beta * sgn * tan)
        else:
            # |u|**(1 - alpha) - 1 by expm1: near alpha = 1 it multiplies the huge tan.
            with np.errstate(divide="ignore", invalid="ignore"):
                corr = np.where(au > 0, np.expm1((1 - alpha) * np.log(np.where(au > 0, au, 1.0))), -1.0)
            expo = 1j * loc * uu - ap * (1 + 1j * beta * sgn * tan * corr)
    return _reshape(np.exp(expo), arr.shape)


def tail_constant(alpha: float, beta: float = 0.0, scale: float = 1.0) -> float:
    """The limit of x**alpha P(X > x) as x -> inf: ``scale**alpha C_alpha (1 + beta) / 2``.

    ``C_alpha = (1 - alpha) / (Gamma(2 - alpha) cos(pi alpha / 2)) = (2/pi) Gamma(alpha) sin(pi alpha / 2)``
    (``2/pi`` at ``alpha = 1``, 0 at ``alpha = 2``: Gaussian tails are lighter than any power);
    Samorodnitsky & Taqqu (1994), Prop. 1.2.15. The density then behaves like
    ``alpha * tail_constant * x**(-alpha - 1)``. A constant beyond double precision (a huge
    ``scale``) is returned as ``inf``. Introduced in the chapter *Stable distributions*.
    """
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    beta = check_real("beta", beta, low=-1.0, high=1.0)
    scale = check_real("scale", scale, low=0.0, low_open=True, finite=True)
    if alpha == 2.0:
        return 0.0
    c_alpha = (2 / math.pi) * math.gamma(alpha) * math.sin(math.pi * alpha / 2)
    try:
        return scale**alpha * c_alpha * (1 + beta) / 2
    except OverflowError:  # scale**alpha beyond double precision: the constant is inf there
        return math.inf if beta > -1.0 else 0.0
