"""Tests for the densities in htsgd.stable (pdf, logpdf, cdf, sf, char_func, tail_constant)
against an mpmath reference (Fourier inversion in 30 digits) and closed forms."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from scipy import stats

import htsgd.stable as st

# ---------------------------------------------------------------- mpmath reference
mp.mp.dps = 30
# Geometric subintervals out to 2^14: exp(-u^alpha) decays slowly for small alpha.
_SPLITS = [0] + [2.0**k for k in range(-1, 15)] + [mp.inf]


def _cf_s1(u, a, b):
    u = mp.mpf(u)
    if a == 1:
        return mp.exp(-abs(u) * (1 + 1j * b * (2 / mp.pi) * mp.sign(u) * mp.log(abs(u))))
    return mp.exp(-abs(u) ** a * (1 - 1j * b * mp.tan(mp.pi * a / 2) * mp.sign(u)))


def _ref_pdf(x, a, b):
    """Fourier inversion of the S1 characteristic function, in 30 digits."""
    f = lambda u: mp.re(_cf_s1(u, a, b) * mp.exp(-1j * u * x))  # noqa: E731
    if abs(x) > 4:  # far tail: integrate period by period
        return float(mp.quadosc(f, [0, mp.inf], omega=abs(x)) / mp.pi)
    return float(mp.quad(f, _SPLITS) / mp.pi)


def _ref_cdf(x, a, b):
    """Gil-Pelaez inversion: F(x) = 1/2 - (1/pi) int_0^inf Im(e^{-iux} phi(u)) / u du."""
    f = lambda u: mp.im(_cf_s1(u, a, b) * mp.exp(-1j * u * x)) / u  # noqa: E731
    return float(mp.mpf(0.5) - mp.quad(f, _SPLITS) / mp.pi)


LAWS = [(1.5, 0.0), (0.8, 0.5), (1.3, 1.0), (1.0, 0.5), (0.5, -0.3), (1.9, -1.0)]


@pytest.mark.parametrize("alpha,beta", LAWS)
def test_pdf_cdf_match_mpmath_in_the_body(alpha, beta):
    xs = [-2.0, 0.3, 1.7]
    for x in xs:
        assert st.pdf(x, alpha, beta) == pytest.approx(_ref_pdf(x, alpha, beta), rel=1e-8)
        assert st.cdf(x, alpha, beta) == pytest.approx(_ref_cdf(x, alpha, beta), rel=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("alpha,beta,x", [(1.5, 0.0, 20.0), (0.8, 0.5, -50.0), (1.0, 0.5, 20.0)])
def test_pdf_matches_mpmath_in_the_tails(alpha, beta, x):
    assert st.pdf(x, alpha, beta) == pytest.approx(_ref_pdf(x, alpha, beta), rel=1e-7)


@pytest.mark.parametrize("alpha,beta", [(1.5, 0.0), (0.7, 0.5), (1.2, -0.8), (1.0, 0.3)])
def test_far_tails_follow_the_tail_constant(alpha, beta):
    # x^alpha P(X > x) -> tail_constant, and the density -> alpha * constant * x^(-alpha-1).
    x = 1e5 if alpha == 1.0 else 1e7  # at alpha = 1 the correction decays only like log(x)/x
    c = st.tail_constant(alpha, beta)
    assert x**alpha * st.sf(x, alpha, beta) == pytest.approx(c, rel=1e-3)
    assert x ** (alpha + 1) * st.pdf(x, alpha, beta) == pytest.approx(alpha * c, rel=1e-3)
    # The lower tail uses -beta.
    assert x**alpha * st.cdf(-x, alpha, beta) == pytest.approx(st.tail_constant(alpha, -beta), rel=1e-3)


def test_closed_forms():
    x = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(st.pdf(x, 2.0, 0.7), stats.norm.pdf(x, scale=math.sqrt(2)), rtol=1e-13)
    np.testing.assert_allclose(st.cdf(x, 1.0), stats.cauchy.cdf(x), rtol=1e-13)
    np.testing.assert_allclose(st.pdf(x, 0.5, 1.0, scale=2.0, loc=1.0), stats.levy.pdf(x, loc=1, scale=2), rtol=1e-12)
    np.testing.assert_allclose(st.cdf(x, 0.5, 1.0), stats.levy.cdf(x), rtol=1e-12)
    # The general integral agrees with the closed forms as beta -> 1 (Levy) at alpha = 1/2.
    y = np.array([0.3, 1.0, 5.0])
    np.testing.assert_allclose(st.pdf(y, 0.5, 1 - 1e-12), stats.levy.pdf(y), rtol=1e-8)


@pytest.mark.parametrize("alpha,beta", [(1.5, 0.0), (0.6, 0.8), (1.0, 1.0), (1.8, -1.0)])
def test_pdf_integrates_to_one_and_is_the_cdf_derivative(alpha, beta):
    x = np.linspace(-40, 40, 40001)
    f = st.pdf(x, alpha, beta)
    mass = np.trapezoid(f, x)
    assert mass == pytest.approx(st.cdf(40, alpha, beta) - st.cdf(-40, alpha, beta), abs=1e-6)
    h = 1e-4
    for x0 in (-1.3, 0.2, 2.5):
        deriv = (st.cdf(x0 + h, alpha, beta) - st.cdf(x0 - h, alpha, beta)) / (2 * h)
        assert deriv == pytest.approx(st.pdf(x0, alpha, beta), rel=1e-6)


def test_s0_and_s1_and_scale_loc():
    alpha, beta, scale, loc = 1.4, 0.6, 2.0, 0.5
    shift = beta * scale * math.tan(math.pi * alpha / 2)  # delta0 = delta1 + shift
    x = np.linspace(-5, 5, 11)
    s1 = st.pdf(x, alpha, beta, scale, loc, "S1")
    s0 = st.pdf(x, alpha, beta, scale, loc + shift, "S0")
    np.testing.assert_allclose(s1, s0, rtol=1e-12)
    np.testing.assert_allclose(s1, st.pdf((x - loc) / scale, alpha, beta) / scale, rtol=1e-12)
    np.testing.assert_allclose(np.exp(st.logpdf(x, alpha, beta)), st.pdf(x, alpha, beta), rtol=1e-14)
    # alpha = 1: delta0 = delta1 + (2/pi) beta scale log(scale)
    s1 = st.cdf(x, 1.0, beta, scale, loc, "S1")
    s0 = st.cdf(x, 1.0, beta, scale, loc + 2 / math.pi * beta * scale * math.log(scale), "S0")
    np.testing.assert_allclose(s1, s0, rtol=1e-12)


def test_torch_input_and_shapes():
    x = torch.linspace(-3, 3, 12).reshape(3, 4)
    out = st.pdf(x, 1.5)
    assert isinstance(out, np.ndarray) and out.shape == (3, 4)
    assert isinstance(st.cdf(0.0, 1.5), float)
    assert st.cdf(np.inf, 1.5) == 1.0 and st.cdf(-np.inf, 1.5) == 0.0 and st.pdf(np.inf, 1.2) == 0.0


def test_char_func_closed_forms_and_s0():
    u = np.array([-3.0, -0.5, 0.0, 0.7, 2.0])
    np.testing.assert_allclose(st.char_func(u, 2.0), np.exp(-(u**2)), rtol=1e-14)
    np.testing.assert_allclose(st.char_func(u, 1.0, scale=2.0), np.exp(-2 * np.abs(u)), rtol=1e-14)
    a, b, g, d1 = 1.5, 0.5, 1.3, 0.2
    d0 = d1 + b * g * math.tan(math.pi * a / 2)
    np.testing.assert_allclose(st.char_func(u, a, b, g, d1, "S1"), st.char_func(u, a, b, g, d0, "S0"), rtol=1e-12)
