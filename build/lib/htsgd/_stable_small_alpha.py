"""Stable densities for small alpha (alpha < 0.15) from Zolotarev's convergent series.

Below alpha of about 0.15 the law spreads its mass over scales from ``exp(-1/alpha)`` to
``exp(1/alpha)`` and Nolan's integrals lose accuracy (cdf(0, 0.01) came out 0.631, the
whole cdf at alpha = 0.01 was off by 4e-4). For alpha < 1 the density and the tails are
entire functions of ``y**(-alpha)`` (Zolotarev 1986, Thm. 2.4.2; Nolan 2020, Sec. 3.9).

Derivation used here, in Nolan's S1 parametrization with scale 1 and location 0. With
``theta = arctan(beta tan(pi alpha / 2))`` and ``c = 1 / cos(theta)`` the characteristic
function is ``exp(-c |u|**alpha exp(-i theta sign u))``. Expanding ``exp`` and integrating
term by term (``int_0^inf exp(-iuy) u**(k alpha) du = Gamma(k alpha + 1) (iy)**(-k alpha - 1)``)
gives, for y > 0 and ``phi = pi alpha / 2 + theta``,

    f(y)      = 1/(pi y) sum_{k>=1} (-1)**(k+1) c**k Gamma(k alpha + 1) / k! sin(k phi) y**(-k alpha)
    P(X > y)  = 1/pi     sum_{k>=1} (-1)**(k+1) c**k Gamma(k alpha) / k!     sin(k phi) y**(-k alpha)
    P(X > 0)  = 1/2 + theta / (pi alpha),     f(0) = Gamma(1 + 1/alpha) cos(theta)**(1/alpha) cos(theta/alpha) / pi,

and the law of -X is that of beta -> -beta (theta -> -theta) for y < 0.

Accuracy. With ``z = c y**(-alpha)`` the largest term is about ``exp(z)``: in float64 the
sum is used for z <= 12 (cancellation below 1e-11); with mpmath at ``20 + z/ln 10`` digits
for 12 < z <= 250. For z > 250 (|y| below ``250**(-1/alpha)``, e.g. 1e-240 at alpha = 0.01)
the mass between 0 and y is at most ``|y| sup f <= |y| Gamma(1 + 1/alpha) / pi``, below
1e-13 for every alpha < 0.15, and the density is f(0) to the same relative accuracy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

#: Below this alpha the densities come from the series (Nolan's integrals are exact above).
SERIES_ALPHA = 0.15
_Z_FLOAT = 12.0  # float64 sums up to this z (largest term exp(z): 1.6e5, cancellation < 1e-11)
_Z_MP = 250.0  # mpmath sums up to this z; beyond, |y| is tiny enough for the f(0) expansion
_K_FLOAT = 200  # terms of the float64 sum: at z = 12, term 200 is below 1e-80


def _angles(alpha: float, beta: float) -> tuple[float, float, float]:
    theta = math.atan(beta * math.tan(math.pi * alpha / 2))
    return theta, 1.0 / math.cos(theta), math.pi * alpha / 2 + theta


def positive_mass(alpha: float, beta: float) -> float:
    """P(X > 0) of the standard S1 law (alpha < 1)."""
    theta = _angles(alpha, beta)[0]
    return 0.5 + theta / (math.pi * alpha)


def density_at_zero(alpha: float, beta: float) -> float:
    """f(0) of the standard S1 law (alpha < 1)."""
    theta = _angles(alpha, beta)[0]
    if abs(beta) == 1.0:
        return 0.0  # the totally skewed law's density vanishes at the end of its support (cos(pi/2))
    log = special.gammaln(1 + 1 / alpha) + math.log(math.cos(theta)) / alpha - math.log(math.pi)
    return math.exp(min(log, 700.0)) * math.cos(theta / alpha)  # beyond e^700 only bounds use it


def _series_float(y: np.ndarray, alpha: float, beta: float, extra: float) -> np.ndarray:
    """sum_k (-1)**(k+1) c**k Gamma(k alpha + extra) / k! sin(k phi) y**(-k alpha), float64, y > 0."""
    _, c, phi = _angles(alpha, beta)
    k = np.arange(1, _K_FLOAT + 1, dtype=np.float64)
    log_coef = special.gammaln(k * alpha + extra) - special.gammaln(k + 1) + k * math.log(c)
    sign_sin = np.where(k % 2 == 1, 1.0, -1.0) * np.sin(k * phi)
    out = np.empty(y.shape)
    for start in range(0, y.size, 4096):  # bounds the (points x terms) work array
        part = y[start : start + 4096]
        terms = np.exp(log_coef[None, :] - np.outer(alpha * np.log(part), k))
        out[start : start + 4096] = terms @ sign_sin
    return out


def _series_mp(y: np.ndarray, alpha: float, beta: float, extra: float) -> np.ndarray:
    """The series at points y > 0 in mpmath, at a precision set by the largest z among them."""
    import mpmath as mp

    c = _angles(alpha, beta)[1]
    z_max = float(np.max(c * np.exp(-alpha * np.log(y))))
    out = np.empty(y.shape)
    # The sum of terms of size exp(z) is P(X > y) (order 1), or y f(y) for the density, which
    # can be far smaller than exp(-z): three times the digits there.
    with mp.workdps(int(25 + (1 + 2 * extra) * z_max / math.log(10))):
        # Every constant at the working precision: sin(k phi) multiplies terms of size exp(z).
        a = mp.mpf(alpha)
        theta = mp.atan(mp.mpf(beta) * mp.tan(mp.pi * a / 2))
        phi = mp.pi * a / 2 + theta
        log_c = mp.log(1 / mp.cos(theta))
        log_z_max = log_c - a * mp.log(mp.mpf(float(np.min(y))))
        coefs, k, tol = [], 1, mp.mpf(10) ** (-22)
        while True:
            log_coef = mp.loggamma(k * a + extra) - mp.loggamma(k + 1)
            # Stop on the size of the term, never on sin(k phi), which passes near zero.
            if k > 2 * z_max + 10 and mp.exp(log_coef + k * log_z_max) < tol:
                break
            sign = 1 if k % 2 else -1
            coefs.append(sign * mp.exp(log_coef + k * log_c) * mp.sin(k * phi))
            k += 1
        for i, point in enumerate(y):
            w = mp.power(mp.mpf(float(point)), -a)  # y**(-alpha); the sum is a polynomial in it
            total = mp.mpf(0)
            for coef in reversed(coefs):
                total = (total + coef) * w
            out[i] = float(total)
    return out


def _series(y: np.ndarray, alpha: float, beta: float, extra: float) -> np.ndarray:
    """The series for points y > 0 with z <= _Z_MP (float64 or mpmath by z)."""
    c = _angles(alpha, beta)[1]
    z = c * np.exp(-alpha * np.log(y))
    out = np.empty(y.shape)
    cheap = z <= _Z_FLOAT
    out[cheap] = _series_float(y[cheap], alpha, beta, extra)
    if (~cheap).any():
        out[~cheap] = _series_mp(y[~cheap], alpha, beta, extra)
    return out


def _one_side(y: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(log f(y), P(X > y)) for y >= 0 of the standard S1 law S(alpha, beta, 1, 0; 1)."""
    log_f, upper = np.empty(y.shape), np.empty(y.shape)
    c = _angles(alpha, beta)[1]
    with np.errstate(divide="ignore"):
        z = c * np.exp(-alpha * np.log(y))
    near = z > _Z_MP  # includes y = 0
    f0, p0 = density_at_zero(alpha, beta), positive_mass(alpha, beta)
    with np.errstate(divide="ignore"):
        log_f[near] = math.log(f0) if f0 > 0 else -np.inf
    upper[near] = np.maximum(p0 - y[near] * f0, 0.0)
    far = ~near
    if far.any():
        yf = y[far]
        # The sum is O(y**(-alpha)); 1/(pi y) is applied in logs so far tails do not underflow.
        total = _series(yf, alpha, beta, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_f[far] = np.where(total > 0, np.log(np.maximum(total, 1e-300)) - math.log(math.pi) - np.log(yf), -np.inf)
        upper[far] = np.clip(_series(yf, alpha, beta, 0.0) / math.pi, 0.0, p0)
    return log_f, upper


def pdf_cdf_sf(y: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log density, P(X <= y) and P(X > y) of the standard S1 law at points y (1-d), alpha < 1.

    The mass on each side of 0 is known exactly, so the side away from y is never
    computed as 1 minus a number close to 1: for y > 0, P(X <= y) = P(X <= 0) + (P(X > 0) - P(X > y)).
    """
    f, cdf, sf = np.empty(y.shape), np.empty(y.shape), np.empty(y.shape)
    p_pos = positive_mass(alpha, beta)
    pos = y >= 0
    if pos.any():
        fp, up = _one_side(y[pos], alpha, beta)
        f[pos], sf[pos], cdf[pos] = fp, up, (1.0 - p_pos) + (p_pos - up)
    neg = ~pos
    if neg.any():
        fn, low = _one_side(-y[neg], alpha, -beta)  # P(X < y) = P(-X > -y), -X ~ S(alpha, -beta)
        f[neg], cdf[neg], sf[neg] = fn, low, p_pos + ((1.0 - p_pos) - low)
    return f, np.clip(cdf, 0.0, 1.0), np.clip(sf, 0.0, 1.0)
