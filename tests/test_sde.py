"""Tests for htsgd.sde: stable increments, coarsening, the Euler scheme, OU laws, fitted orders.

Statistical tests use fixed seeds and Kolmogorov-Smirnov tests at the level 1e-4: a correct
sampler fails one of them with probability 1e-4, while a wrong scale by 1% is rejected at the
sample sizes used (the KS statistic resolves about 1.4/sqrt(n) = 0.005 at n = 8e4). Reference
problems are in tests/problems.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from problems import DoubleWell, Multiplicative, StableOU
from scipy import stats

import htsgd.stable as st
from htsgd.sde import (
    coarsen,
    convergence_order,
    euler,
    levy_exponent_from_measure,
    stable_increment_chunks,
    stable_increments,
    stable_ou_coupled_error,
    stable_ou_euler_law,
    stable_ou_law,
    strong_order,
)

F64 = torch.float64
LEVEL = 1e-4


# --------------------------------------------------------------------------- stable_increments


@pytest.mark.parametrize(
    ("alpha", "beta"),
    [(1.2, 0.0), (1.5, 0.0), (1.8, 0.5), (1.0, 0.0), pytest.param(1.0, 0.5, marks=pytest.mark.slow), (0.8, -0.3)],
)
def test_increments_follow_the_stable_law(alpha, beta):
    step = 0.01
    dl = stable_increments(alpha, 40, 2000, step, beta=beta, generator=11, dtype=F64)
    assert dl.shape == (40, 2000)
    scale = step ** (1 / alpha)
    res = stats.kstest(dl.flatten().numpy(), lambda t: st.cdf(t, alpha, beta, scale, 0.0, "S1"))
    assert res.pvalue > LEVEL


def test_increments_gaussian_and_cauchy_against_scipy():
    h = 0.04
    g = stable_increments(2.0, 100, 800, h, generator=12, dtype=F64).flatten().numpy()
    # L(1) ~ SaS(2, 1) = N(0, 2): a step h has variance 2 h.
    assert stats.kstest(g, "norm", args=(0, math.sqrt(2 * h))).pvalue > LEVEL
    c = stable_increments(1.0, 100, 800, h, generator=13, dtype=F64).flatten().numpy()
    assert stats.kstest(c, "cauchy", args=(0, h)).pvalue > LEVEL


@pytest.mark.parametrize("alpha", [0.7, 1.5, 2.0])
def test_increments_scale_as_step_to_one_over_alpha(alpha):
    """Same seed, two steps: every draw is multiplied by (h1/h2)**(1/alpha) exactly (beta = 0)."""
    a = stable_increments(alpha, 10, 50, 1.0, generator=5, dtype=F64)
    b = stable_increments(alpha, 10, 50, 1e-3, generator=5, dtype=F64)
    torch.testing.assert_close(b, a * 1e-3 ** (1 / alpha), rtol=1e-12, atol=0)


@pytest.mark.parametrize("alpha", [1.2, 1.8])
def test_sums_of_increments_are_increments_of_the_longer_step(alpha):
    """Self-similarity: 16 steps of h sum to one step of 16 h, in law."""
    h, f = 1e-3, 16
    dl = stable_increments(alpha, 16 * 100, 800, h, generator=21, dtype=F64)
    big = coarsen(dl, f).flatten().numpy()
    assert stats.kstest(big, lambda t: st.cdf(t, alpha, 0.0, (f * h) ** (1 / alpha))).pvalue > LEVEL


def test_increment_chunks_cover_n_steps_reproducibly():
    a = list(stable_increment_chunks(1.5, 250, (3, 2), 0.01, chunk=100, generator=7))
    b = list(stable_increment_chunks(1.5, 250, (3, 2), 0.01, chunk=100, generator=7))
    assert [c.shape for c in a] == [(100, 3, 2), (100, 3, 2), (50, 3, 2)]
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert list(stable_increment_chunks(1.5, 0, 4, 0.01, generator=7)) == []


def test_increments_are_deterministic_given_the_seed():
    assert torch.equal(stable_increments(1.3, 30, 40, 0.1, generator=3), stable_increments(1.3, 30, 40, 0.1, generator=3))
    assert not torch.equal(stable_increments(1.3, 30, 40, 0.1, generator=3), stable_increments(1.3, 30, 40, 0.1, generator=4))


# --------------------------------------------------------------------------- coarsen and coupling


def test_coarsen_sums_consecutive_blocks():
    x = torch.arange(12.0).reshape(6, 2)
    torch.testing.assert_close(coarsen(x, 3), torch.tensor([[6.0, 9.0], [24.0, 27.0]]))
    assert torch.equal(coarsen(x, 1), x)


def test_coarse_path_equals_the_scheme_on_summed_increments():
    """euler(coarsen(dL, f), f h) is the Euler scheme whose k-th step uses dL_{kf} + ... + dL_{kf+f-1}."""
    p = StableOU(alpha=1.5)
    h, f = 0.01, 4
    dl = stable_increments(1.5, 64, 500, h, generator=8, dtype=F64)
    coarse = euler(p.drift, p.x0, coarsen(dl, f), f * h, diffusion=p.sigma, return_path=True)
    x = torch.full((500,), p.x0, dtype=F64)
    manual = [x]
    for k in range(64 // f):
        summed = sum(dl[k * f + j] for j in range(f))
        x = x + f * h * (-p.theta * x) + p.sigma * summed
        manual.append(x)
    torch.testing.assert_close(coarse, torch.stack(manual), rtol=1e-12, atol=1e-12)


def test_driftless_coarse_path_sits_on_the_fine_path():
    dl = stable_increments(1.2, 60, 30, 0.01, generator=9, dtype=F64)
    zero = torch.zeros_like
    fine = euler(zero, 0.0, dl, 0.01, return_path=True)
    coarse = euler(zero, 0.0, coarsen(dl, 5), 0.05, return_path=True)
    torch.testing.assert_close(coarse, fine[::5], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- euler


@pytest.mark.parametrize("alpha", [1.2, 1.7])
def test_euler_ou_final_state_follows_the_euler_law(alpha):
    """KS against the exact law of the Euler chain (no discretization bias: the law is exact)."""
    p = StableOU(theta=1.3, sigma=0.7, alpha=alpha, x0=1.0)
    h, n = 0.1, 20
    dl = stable_increments(alpha, n, 40_000, h, generator=31, dtype=F64)
    x = euler(p.drift, p.x0, dl, h, diffusion=p.sigma)
    loc, scale = p.euler_law(h, n)
    assert stats.kstest(x.numpy(), lambda t: st.cdf(t, alpha, 0.0, scale, loc)).pvalue > LEVEL


def test_euler_ou_law_closed_form_matches_direct_sum():
    """X_n = a^n x0 + sigma sum_j a^j dL_{n-1-j}: scale**alpha = sigma**alpha h sum_j |a|^(alpha j)."""
    theta, sigma, alpha, h, n = 0.8, 1.3, 1.4, 0.3, 17
    a = 1 - theta * h
    loc, scale = stable_ou_euler_law(2.0, theta, sigma, alpha, h, n)
    assert loc == pytest.approx(2.0 * a**n, rel=1e-14)
    assert scale**alpha == pytest.approx(sigma**alpha * h * sum(abs(a) ** (alpha * j) for j in range(n)), rel=1e-12)
    # r = 1 (theta = 0): a sum of n increments, scale (n h)**(1/alpha)
    assert stable_ou_euler_law(0.0, 0.0, 1.0, alpha, h, n)[1] == pytest.approx((n * h) ** (1 / alpha), rel=1e-14)


def test_ou_law_gaussian_case_and_limits():
    # alpha = 2: L = sqrt(2) B, Var X_t = sigma^2 (1 - e^{-2 theta t}) / theta = 2 scale^2.
    theta, sigma, t = 0.7, 1.1, 2.5
    loc, scale = stable_ou_law(3.0, theta, sigma, 2.0, t)
    assert loc == pytest.approx(3.0 * math.exp(-theta * t), rel=1e-14)
    assert 2 * scale**2 == pytest.approx(sigma**2 * (1 - math.exp(-2 * theta * t)) / theta, rel=1e-13)
    assert stable_ou_law(1.0, 0.0, 2.0, 1.5, 4.0) == (1.0, pytest.approx(2.0 * 4.0 ** (1 / 1.5)))
    assert stable_ou_law(1.0, 2.0, 1.0, 1.5, math.inf)[1] == pytest.approx(3.0 ** (-1 / 1.5))
    # the Euler chain's stationary law tends to the flow's as h -> 0
    flow = stable_ou_law(0.0, 1.0, 1.0, 1.5, math.inf)[1]
    chain = [stable_ou_euler_law(0.0, 1.0, 1.0, 1.5, h, 10**7)[1] for h in (0.1, 0.01, 0.001)]
    gaps = [abs(c - flow) for c in chain]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3


def test_ou_law_against_a_fine_euler_run():
    """The Euler law at h = 1e-3 differs from the exact one by O(h) in Kolmogorov distance (about 1e-3,
    computed from the closed forms below), below what a KS test on 2e4 samples resolves (about 0.01)."""
    p = StableOU(theta=1.0, sigma=1.0, alpha=1.5, x0=2.0)
    t, n = 1.0, 1000
    loc, scale = p.exact_law(t)
    e_loc, e_scale = p.euler_law(t / n, n)
    grid = np.linspace(-10, 10, 401)
    kolmogorov = np.abs(st.cdf(grid, 1.5, 0.0, scale, loc) - st.cdf(grid, 1.5, 0.0, e_scale, e_loc)).max()
    assert kolmogorov < 2e-3
    x = euler(p.drift, p.x0, stable_increments(1.5, n, 20_000, t / n, generator=41, dtype=F64), t / n)
    assert stats.kstest(x.numpy(), lambda y: st.cdf(y, 1.5, 0.0, scale, loc)).pvalue > LEVEL


def test_euler_accepts_chunks_and_matches_the_full_tensor():
    dl = stable_increments(1.5, 50, (7, 2), 0.02, generator=51, dtype=F64)
    p = Multiplicative()
    full = euler(p.drift, p.x0, dl, 0.02, diffusion=p.diffusion, return_path=True)
    chunked = euler(p.drift, p.x0, iter(dl.split(16)), 0.02, diffusion=p.diffusion, return_path=True)
    assert full.shape == (51, 7, 2)
    assert torch.equal(full, chunked)
    assert torch.equal(full[-1], euler(p.drift, p.x0, dl.split(16), 0.02, diffusion=p.diffusion))


def test_euler_is_deterministic_and_leaves_its_inputs_alone():
    dl = stable_increments(1.5, 30, 100, 0.05, generator=52, dtype=F64)
    x0 = torch.linspace(-1, 1, 100, dtype=F64)
    before_dl, before_x0 = dl.clone(), x0.clone()
    a = euler(lambda x: x - x**3, x0, dl, 0.05, diffusion=0.5)
    b = euler(lambda x: x - x**3, x0, dl, 0.05, diffusion=0.5)
    assert torch.equal(a, b)
    assert torch.equal(dl, before_dl) and torch.equal(x0, before_x0)


def test_euler_constant_diffusion_and_state_evaluation():
    dl = stable_increments(1.5, 20, 10, 0.05, generator=53, dtype=F64)
    # a constant c is c times the increments
    torch.testing.assert_close(euler(lambda x: -x, 1.0, dl, 0.05, diffusion=0.3), euler(lambda x: -x, 1.0, 0.3 * dl, 0.05))
    # c(x) = x and b(x) = x are evaluated at the old state: X_{k+1} = X_k (1 + h + dL_k)
    x = euler(lambda x: x, 1.0, dl, 0.05, diffusion=lambda x: x)
    torch.testing.assert_close(x, torch.prod(1 + 0.05 + dl, dim=0))


def test_tamed_step_is_bounded_and_close_to_explicit_for_small_drift():
    dl = torch.zeros(1, 3, dtype=F64)
    x0 = torch.tensor([1e-3, 10.0, 1e6], dtype=F64)
    out = euler(lambda x: -(x**3), x0, dl, 0.1, tame=True)
    assert ((out - x0).abs() <= 1.0).all()  # |h b / (1 + h |b|)| < 1
    assert out[0] == pytest.approx(1e-3 - 0.1 * 1e-9, rel=1e-12)


def test_taming_keeps_every_double_well_path_finite():
    p = DoubleWell(alpha=1.2, sigma=0.5)
    h, n = 0.2, 50
    dl = stable_increments(p.alpha, n, 20_000, h, generator=61, dtype=F64)
    explicit = euler(p.drift, p.x0, dl, h, diffusion=p.sigma)
    tamed = euler(p.drift, p.x0, dl, h, diffusion=p.sigma, tame=True)
    assert (~torch.isfinite(explicit)).sum() > 100  # the explicit scheme blows up on many paths...
    assert torch.isfinite(tamed).all()  # ...the tamed one on none


# --------------------------------------------------------------------------- orders


def test_weak_order_of_the_ou_scheme_is_one():
    """Deterministic (closed forms): the slope is 1 + O(h) over h in [1/256, 1/16]; measured 1.01 to 1.02."""
    for alpha in (1.2, 1.5, 1.8, 2.0):
        p = StableOU(alpha=alpha)
        ns = [16, 32, 64, 128, 256]
        order = convergence_order([1 / n for n in ns], [p.weak_error(1.0, n) for n in ns])
        assert order == pytest.approx(1.0, abs=0.05)


def _exact_median_of_ou_errors(alpha, theta, sigma, x0, n_ref, factor):
    """Median of |X^h_T - X^ref_T| for the coupled OU chains, from their exact law (stable_ou_coupled_error)."""
    from scipy import optimize

    d0, s = stable_ou_coupled_error(x0, theta, sigma, alpha, 1.0 / n_ref, n_ref, factor)
    half = lambda m: float(st.cdf((m - d0) / s, alpha) - st.cdf((-m - d0) / s, alpha)) - 0.5  # noqa: E731
    return optimize.brentq(half, 0.0, 100 * (s + abs(d0)), xtol=1e-14, rtol=1e-12)


@pytest.mark.parametrize(("alpha", "factor"), [(1.3, 4), (1.8, 8)])
def test_ou_coupled_error_law_against_simulated_coupled_paths(alpha, factor):
    """KS (level 1e-4, 2e4 paths) of euler(coarsen(dL, f), f h) - euler(dL, h) against loc + SaS(alpha, scale)."""
    theta, sigma, x0, h, n = 1.3, 0.8, 1.5, 0.02, 64
    dl = stable_increments(alpha, n, 20_000, h, generator=17, dtype=F64)
    diff = euler(lambda x: -theta * x, x0, coarsen(dl, factor), factor * h, diffusion=sigma) - euler(
        lambda x: -theta * x, x0, dl, h, diffusion=sigma)
    loc, scale = stable_ou_coupled_error(x0, theta, sigma, alpha, h, n, factor)
    assert stats.kstest(diff.numpy(), lambda t: st.cdf(t, alpha, 0.0, scale, loc)).pvalue > LEVEL
    assert stable_ou_coupled_error(x0, theta, sigma, alpha, h, n, 1) == (0.0, 0.0)
    with pytest.raises(ValueError, match="divisible"):
        stable_ou_coupled_error(x0, theta, sigma, alpha, h, 10, 3)
    with pytest.raises(ValueError, match="stable chain"):
        stable_ou_coupled_error(x0, 30.0, sigma, alpha, h, n, 4)


def test_strong_order_errors_are_the_coupled_euler_errors():
    """strong_order's per-path errors are |euler(coarsen(dL, f), f h) - euler(dL, h)| on the same streamed increments;
    values are their medians, the order is convergence_order of those, local orders are two-point slopes."""
    p = Multiplicative(alpha=1.3)
    fit = strong_order(p.drift, p.x0, 1.3, diffusion=p.diffusion, n_ref=64, factors=(4, 16, 8), n_paths=50,
                       chunk=16, n_boot=100, generator=3)
    dl = torch.cat(list(stable_increment_chunks(1.3, 64, 50, 1 / 64, chunk=16, generator=3, dtype=F64)))
    ref = euler(p.drift, p.x0, dl, 1 / 64, diffusion=p.diffusion)
    manual = np.stack([(euler(p.drift, p.x0, coarsen(dl, f), f / 64, diffusion=p.diffusion) - ref).abs().numpy()
                       for f in (16, 8, 4)], axis=1)
    np.testing.assert_allclose(fit.errors, manual, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(fit.steps, [0.25, 0.125, 0.0625])
    np.testing.assert_allclose(fit.values, np.median(manual, axis=0), rtol=1e-14)
    assert fit.order.estimate == pytest.approx(convergence_order(fit.steps, fit.values), rel=1e-12)
    assert fit.order.low <= fit.order.estimate <= fit.order.high and fit.order.level == 0.95
    two_point = np.diff(np.log(fit.values)) / np.diff(np.log(fit.steps))
    np.testing.assert_allclose([s.estimate for s in fit.local], two_point, rtol=1e-12)
    assert fit.n_dropped == 0 and fit.statistic == "median" and fit.reference_step == 1 / 64
    assert "strong order" in str(fit)


def test_strong_order_moment_statistic():
    fit = strong_order(lambda x: -x, 1.0, 1.6, n_ref=64, factors=(8, 4), n_paths=200, moment=0.4, local=False,
                       n_boot=100, generator=4)
    np.testing.assert_allclose(fit.values, np.mean(fit.errors**0.4, axis=0) ** 2.5, rtol=1e-13)
    assert fit.local == () and fit.statistic == "L^p norm, p = 0.4"


def test_strong_order_interval_covers_the_exact_slope_of_the_medians():
    """Known answer: for the OU process the coupled error is exactly stable (see _exact_median_of_ou_errors), so the
    slope of the exact medians is known (1.102 here: the reference is only 4 times finer than the finest coarse step).
    The procedure's 95% bootstrap interval (2000 paths) must cover it: measured 1.10 (1.06 to 1.13), the exact slope
    near its middle; seeds 5 to 8 all cover it."""
    alpha, n_ref, factors = 1.4, 256, (32, 16, 8, 4)
    exact = [_exact_median_of_ou_errors(alpha, 1.0, 1.0, 1.0, n_ref, f) for f in factors]
    exact_slope = convergence_order([f / n_ref for f in factors], exact)
    fit = strong_order(lambda x: -x, 1.0, alpha, n_ref=n_ref, factors=factors, n_paths=2000, local=False,
                       n_boot=1000, generator=6)
    assert fit.order.contains(exact_slope), (fit.order, exact_slope)
    np.testing.assert_allclose(fit.values, exact, rtol=0.1)  # a median of 2000 is within 3% (1.25/sqrt(2000))


@pytest.mark.slow
def test_strong_order_additive_near_one_and_multiplicative_below_it():
    """alpha = 1.5, T = 1, h = 2^-3 ... 2^-7, reference 2^-11, 4000 paths. Additive noise: the 95% interval lies in
    [0.9, 1.15] (order 1 with an O(h) pre-asymptotic bias: 1.04 to 1.05 measured); multiplicative c(x) = 1 + sin(x)/2:
    its whole interval lies below the additive one (measured 0.64, heading for 1/alpha up to a log factor)."""
    p, m = StableOU(alpha=1.5), Multiplicative(alpha=1.5)
    kw = {"n_ref": 2**11, "factors": (2**8, 2**7, 2**6, 2**5, 2**4), "n_paths": 4000, "local": False, "n_boot": 500}
    add = strong_order(p.drift, p.x0, 1.5, diffusion=p.sigma, generator=71, **kw)
    mult = strong_order(m.drift, m.x0, 1.5, diffusion=m.diffusion, generator=72, **kw)
    assert 0.9 < add.order.low and add.order.high < 1.15, add.order
    assert mult.order.high < add.order.low, (mult.order, add.order)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"factors": (3, 4)}, ValueError, "divide n_ref"),
        ({"factors": (4, 4)}, ValueError, "at least 2 distinct"),
        ({"factors": (1, 4)}, ValueError, "factors"),
        ({"factors": "48"}, TypeError, "factors"),
        ({"moment": 0.8}, ValueError, "moment"),
        ({"n_paths": 1}, ValueError, "n_paths"),
        ({"chunk": 6}, ValueError, "chunk"),
        ({"horizon": math.inf}, ValueError, "horizon"),
        ({"diffusion": math.nan}, ValueError, "diffusion"),
        ({"local": 1}, TypeError, "local"),
    ],
)
def test_strong_order_bad_input(kwargs, error, match):
    args = {"n_ref": 64, "factors": (8, 4), "n_paths": 20, "n_boot": 100, "generator": 0} | kwargs
    with pytest.raises(error, match=match):
        strong_order(lambda x: -x, 1.0, 1.5, **args)


def test_convergence_order_recovers_a_power_law():
    steps = np.array([0.1, 0.05, 0.02, 0.01])
    for p in (0.5, 1.0, 1 / 1.5, 2.0):
        assert convergence_order(steps, 3.0 * steps**p) == pytest.approx(p, rel=1e-12)


def test_convergence_order_is_the_least_squares_slope():
    rng = np.random.default_rng(0)
    steps = np.geomspace(1e-3, 1e-1, 7)
    errors = steps * np.exp(rng.normal(0, 0.1, 7))
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert convergence_order(torch.tensor(steps), errors) == pytest.approx(slope, rel=1e-12)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("steps", "errors", "match"),
    [
        ([0.1, 0.05], [1.0], "same length"),
        ([0.1], [1.0], "at least 2"),
        ([0.1, 0.1], [1.0, 2.0], "distinct"),
        ([0.1, -0.05], [1.0, 2.0], "steps"),
        ([0.1, 0.05], [1.0, math.nan], "errors"),
        ([[0.1, 0.05]], [1.0, 2.0], "1-dimensional"),
    ],
)
def test_convergence_order_bad_input(steps, errors, match):
    with pytest.raises(ValueError, match=match):
        convergence_order(steps, errors)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": 2.5}, ValueError, "alpha"),
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"step": 0.0}, ValueError, "step"),
        ({"step": math.inf}, ValueError, "step"),
        ({"n_steps": -1}, ValueError, "n_steps"),
        ({"n_steps": 2.0}, TypeError, "n_steps"),
        ({"shape": (2, -1)}, ValueError, "shape"),
        ({"beta": 1.5}, ValueError, "beta"),
    ],
)
def test_increments_bad_input(kwargs, error, match):
    args = {"alpha": 1.5, "n_steps": 3, "shape": 2, "step": 0.1} | kwargs
    with pytest.raises(error, match=match):
        stable_increments(args.pop("alpha"), args.pop("n_steps"), args.pop("shape"), args.pop("step"), **args)
    with pytest.raises(error, match=match):
        stable_increment_chunks(**({"alpha": 1.5, "n_steps": 3, "shape": 2, "step": 0.1} | kwargs))


def test_chunks_bad_chunk():
    with pytest.raises(ValueError, match="chunk"):
        stable_increment_chunks(1.5, 3, 2, 0.1, chunk=0)


def test_coarsen_bad_input():
    with pytest.raises(ValueError, match="divisible by factor"):
        coarsen(torch.zeros(10, 2), 3)
    with pytest.raises(ValueError, match="factor"):
        coarsen(torch.zeros(10, 2), 0)
    with pytest.raises(TypeError, match="increments"):
        coarsen(np.zeros(10), 2)


def test_euler_bad_input():
    dl = torch.zeros(5, 3)
    with pytest.raises(TypeError, match="drift"):
        euler(1.0, 0.0, dl, 0.1)
    with pytest.raises(ValueError, match="step"):
        euler(lambda x: x, 0.0, dl, -0.1)
    with pytest.raises(ValueError, match="x0"):
        euler(lambda x: x, torch.zeros(4), dl, 0.1)
    with pytest.raises(ValueError, match="drift must return"):
        euler(lambda x: x.sum(), 0.0, dl, 0.1)
    with pytest.raises(TypeError, match="increments"):
        euler(lambda x: x, 0.0, 3.0, 0.1)
    with pytest.raises(TypeError, match="floating"):
        euler(lambda x: x, 0.0, torch.zeros(5, 3, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match="chunk 1"):
        euler(lambda x: x, 0.0, [torch.zeros(2, 3), torch.zeros(2, 4)], 0.1)
    with pytest.raises(ValueError, match="at least one chunk"):
        euler(lambda x: x, 0.0, [], 0.1)
    with pytest.raises(TypeError, match="tame"):
        euler(lambda x: x, 0.0, dl, 0.1, tame=1)
    with pytest.raises(TypeError, match="diffusion"):
        euler(lambda x: x, 0.0, dl, 0.1, diffusion="x")


def test_ou_laws_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        stable_ou_law(0.0, 1.0, -1.0, 1.5, 1.0)
    with pytest.raises(ValueError, match="t"):
        stable_ou_law(0.0, 1.0, 1.0, 1.5, -1.0)
    with pytest.raises(ValueError, match="theta > 0"):
        stable_ou_law(0.0, 0.0, 1.0, 1.5, math.inf)
    with pytest.raises(ValueError, match="alpha"):
        stable_ou_euler_law(0.0, 1.0, 1.0, 2.1, 0.1, 3)
    with pytest.raises(ValueError, match="n_steps"):
        stable_ou_euler_law(0.0, 1.0, 1.0, 1.5, 0.1, -3)
    with pytest.raises(TypeError, match="x0"):
        stable_ou_law("a", 1.0, 1.0, 1.5, 1.0)


# --------------------------------------------------------------------------- levy_exponent_from_measure


@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.0, 1.2, 1.5, 1.8, 1.9])
@pytest.mark.parametrize("u", [0.1, 1.0, -2.0, 10.0])
def test_levy_exponent_of_the_stable_measure_is_u_to_the_alpha(alpha, u):
    """With c = c_alpha the quadrature of the Lévy-Khintchine integral gives |u|**alpha. QUADPACK is asked for
    1.5e-8 relative on each piece; the worst relative error measured on this grid is below 1e-8, so 1e-6 is a
    margin of 100 that a wrong constant (c_alpha off by a factor alpha or 2) or a wrong power of u cannot meet."""
    assert levy_exponent_from_measure(alpha, u) == pytest.approx(abs(u) ** alpha, rel=1e-6)


def test_levy_exponent_is_linear_in_c_and_matches_the_closed_integral():
    """For any c the result is 2 c I_alpha |u|**alpha with I_alpha = Gamma(1 - alpha) cos(pi alpha / 2) / alpha,
    here against mpmath's independent quadrature of I_alpha (quadosc for the oscillating tail) at alpha = 0.7 (same 1e-6 as above)."""
    mpmath = pytest.importorskip("mpmath")
    alpha, u, c = 0.7, 1.7, 0.3
    near = mpmath.quad(lambda z: (1 - mpmath.cos(z)) * z ** (-1 - alpha), [0, 1])
    far = 1 / alpha - mpmath.quadosc(lambda z: mpmath.cos(z) * z ** (-1 - alpha), [1, mpmath.inf], omega=1)
    integral = float(near + far)
    assert integral == pytest.approx(math.gamma(1 - alpha) * math.cos(math.pi * alpha / 2) / alpha, rel=1e-6)
    assert levy_exponent_from_measure(alpha, u, c=c) == pytest.approx(2 * c * integral * u**alpha, rel=1e-6)
    assert levy_exponent_from_measure(alpha, 0.0) == 0.0
    assert levy_exponent_from_measure(alpha, u, c=0.0) == 0.0


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((2.0,), {}, ValueError, "alpha must be in \\(0, 2\\)"),
        ((0.0,), {}, ValueError, "alpha"),
        ((1.5, math.inf), {}, ValueError, "u must be a finite"),
        ((1.5, math.nan), {}, ValueError, "u"),
        ((1.5, 1.0), {"c": -1.0}, ValueError, "c must be in"),
        ((1.5, "1"), {}, TypeError, "u must be a real"),
    ],
)
def test_levy_exponent_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        levy_exponent_from_measure(*args, **kwargs)


def test_sde_exercise_references_match_closed_forms():
    """The self-check references of the chapter's exercises (htsgd.exercises) against closed forms reached by
    another route: the OU chain's scale by the direct sum of scales, the Lévy constant c_1.5 = 1.5 * tail_constant
    (the reference inverts the quadrature), and E|S|^p = 2^p Gamma((1+p)/2) Gamma(1-p/alpha) / (sqrt(pi)
    Gamma(1-p/2)) for SaS(alpha, 1) (the reference integrates htsgd's density). Quadratures are good to 1e-8
    relative; 1e-6 leaves room. ex-sde-6 and ex-sde-7 (find-the-error, Cauchy noise) below."""
    from htsgd import exercises as ex

    a, h = 1 - 0.3, 0.3
    assert ex._practice_value("ex-sde-1") == pytest.approx(sum(h * abs(a) ** (1.3 * j) for j in range(10)) ** (1 / 1.3),
                                                     rel=1e-9)
    assert ex._practice_value("ex-sde-2") == pytest.approx(0.01 ** (0.5 - 1 / 1.5), rel=1e-9)
    assert ex._practice_value("ex-sde-3") == pytest.approx(1.5 * st.tail_constant(1.5), rel=1e-6)
    p, alpha = 0.3, 1.2
    moment = 2**p * math.gamma((1 + p) / 2) * math.gamma(1 - p / alpha) / (math.sqrt(math.pi) * math.gamma(1 - p / 2))
    assert ex._practice_value("ex-sde-4") == pytest.approx(moment, rel=1e-6)
    # ex-sde-6: E min(|L_h|, L_h^2) / h at small h, by quadrature of htsgd's density (an independent route to the
    # integral of min(|y|, y^2) against the Lévy measure); at h = 1e-4 the quadrature is 1e-4 below the limit
    from scipy import integrate

    a, h = 1.5, 1e-4
    y = h ** (-1 / a)
    small = integrate.quad(lambda x: h ** (2 / a) * x * x * float(st.pdf(x, a)), 0, y, limit=200)[0]
    large = integrate.quad(lambda x: h ** (1 / a) * x * float(st.pdf(x, a)), y, math.inf, limit=200)[0]
    assert ex._practice_value("ex-sde-6") == pytest.approx(2 * (small + large) / h, rel=5e-4)
    # ex-sde-7: at alpha = 1 scales add; sigma h / (2 - theta h) at theta h = 1.5 > 1
    assert ex._practice_value("ex-sde-7") == pytest.approx(1.5 / (2 - 1.5), rel=1e-12)


# --------------------------------------------------------------------------- devices


def test_increments_and_euler_on_each_device(device):
    """float32 increments drawn on the device (the fused kernel on CUDA) follow the law, and the scheme
    runs there; the final OU states follow the Euler law (KS at 1e-4 on 4e4 paths)."""
    alpha, h, n = 1.5, 0.05, 20
    dl = stable_increments(alpha, n, 40_000, h, generator=torch.Generator(device).manual_seed(81), device=device,
                           dtype=torch.float32)
    assert dl.device.type == device and dl.dtype == torch.float32
    assert stats.kstest(dl[0].double().cpu().numpy(), lambda t: st.cdf(t, alpha, 0.0, h ** (1 / alpha))).pvalue > LEVEL
    x = euler(lambda x: -x, 1.0, dl, h)
    assert x.device.type == device
    loc, scale = stable_ou_euler_law(1.0, 1.0, 1.0, alpha, h, n)
    assert stats.kstest(x.double().cpu().numpy(), lambda t: st.cdf(t, alpha, 0.0, scale, loc)).pvalue > LEVEL


def test_streamed_coarse_path_equals_the_coarse_path_of_the_whole_tensor():
    chunks = list(stable_increment_chunks(1.5, 120, 50, 0.01, chunk=40, generator=91, dtype=F64))
    whole = torch.cat(chunks)
    a = euler(lambda x: -x, 1.0, (coarsen(c, 4) for c in chunks), 0.04)
    b = euler(lambda x: -x, 1.0, coarsen(whole, 4), 0.04)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- issue 20: numerics and bad input


def test_ou_laws_in_the_explosive_regime_are_inf_not_overflow():
    """Issue 20 item 11: theta < 0 (and theta h > 2 for the chain) escape to infinity; beyond the largest float the
    laws are inf (loc +-inf with the sign of x0, 0 at x0 = 0), never an OverflowError; representable values agree
    with the closed forms."""
    assert stable_ou_law(1, -1, 1, 1.5, 1000) == (math.inf, math.inf)
    assert stable_ou_euler_law(1, -1, 1, 1.5, 0.1, 10**4) == (math.inf, math.inf)
    loc, scale = stable_ou_law(np.array([0.0, 2.0, -3.0]), -2.0, 1.0, 1.2, 800.0)
    assert loc.tolist() == [0.0, math.inf, -math.inf] and scale == math.inf
    loc, _ = stable_ou_euler_law(torch.tensor([0.0, 1.0]), 25.0, 1.0, 1.5, 0.1, 10**4 + 1)  # a = -1.5, odd n
    assert loc.tolist() == [0.0, -math.inf]
    assert stable_ou_law(1.0, -1.0, 0.0, 1.5, 1e4)[1] == 0.0  # no noise: scale 0, not 0 * inf
    # where the values are representable they are the closed forms (theta < 0: e^{|theta| t} growth)
    theta, sigma, alpha, t = -0.5, 1.3, 1.4, 3.0
    loc, scale = stable_ou_law(2.0, theta, sigma, alpha, t)
    assert loc == pytest.approx(2.0 * math.exp(-theta * t), rel=1e-14)
    assert scale == pytest.approx(sigma * (math.expm1(-alpha * theta * t) / (-alpha * theta)) ** (1 / alpha), rel=1e-13)
    a, h, n = 1.05, 0.1, 40
    loc, scale = stable_ou_euler_law(2.0, -0.5, sigma, alpha, h, n)
    assert loc == pytest.approx(2.0 * a**n, rel=1e-13)
    assert scale == pytest.approx(sigma * (h * sum(a ** (alpha * j) for j in range(n))) ** (1 / alpha), rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_tamed_euler_never_nan_when_the_drift_overflows(dtype):
    """Issue 20 item 12: -x**3 at x = 1e13 overflows float32 to -inf, and h b / (1 + h |b|) was inf / inf = NaN.
    The tamed step is in [-1, 1] whatever b is, an infinite b included."""
    x = euler(lambda x: -(x**3), 1e13, torch.zeros(3, 2, dtype=dtype), 0.1, tame=True)
    assert torch.isfinite(x).all()
    assert ((x - 1e13).abs() <= 3.0 * (1 + 1e13 * torch.finfo(dtype).eps)).all()  # 3 steps of size <= 1
    b = torch.tensor([-math.inf, math.inf, 0.0, 3e38, -1e-30], dtype=dtype)
    out = euler(lambda x: b, torch.zeros(5, dtype=dtype), torch.zeros(1, 5, dtype=dtype), 10.0, tame=True)
    assert out.tolist() == pytest.approx([-1.0, 1.0, 0.0, 1.0, -1e-29], rel=1e-6)


def test_tamed_euler_heavy_float32_paths_stay_nan_free():
    """Issue 20 item 12: alpha = 0.5 increments throw float32 states to where x**5 overflows (3 NaN paths in
    10,000 before); now no path is NaN (a state may reach inf only through the noise itself, not here)."""
    dl = stable_increments(0.5, 200, 10_000, 0.1, generator=5, dtype=torch.float32)
    x = euler(lambda x: -(x**5), 0.0, dl, 0.1, tame=True, return_path=True)
    assert not torch.isnan(x).any()


@pytest.mark.parametrize("alpha", [0.05, 0.5, 1.0, 1.5, 1.9, 1.99, 1.999])
@pytest.mark.parametrize("u", [1e-12, 1e-3, 3.0, 1e4, 1e8, 1e12])
def test_levy_exponent_accurate_at_every_frequency(alpha, u):
    """Issue 20 item 13: the quadrature was at frequency u (0.48 of the truth at alpha 1.9, u 1e4; 3.8e10 instead of
    1e18 at u = 1e12). With u scaled out the relative error is that of one fixed integral, measured below 3e-11 on
    this grid; 1e-8 leaves a margin of 300. Reference: the closed form |u|**alpha (c = c_alpha)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no IntegrationWarning either
        assert levy_exponent_from_measure(alpha, u) == pytest.approx(u**alpha, rel=1e-8)


def test_levy_exponent_refuses_a_result_beyond_float64():
    with pytest.raises(ValueError, match="largest float64"):
        levy_exponent_from_measure(1.9, 1e300)


@pytest.mark.parametrize(
    ("x0", "diffusion", "error", "match"),
    [
        (math.nan, None, ValueError, "x0 must be finite"),
        (math.inf, None, ValueError, "x0 must be finite"),
        (torch.tensor([0.0, math.nan, 1.0]), None, ValueError, "x0 must be finite"),
        (1e39, None, ValueError, "x0 must be finite in the increments' dtype torch.float32"),
        (1 + 2j, None, TypeError, "x0"),
        (torch.tensor([1 + 2j, 0j]), None, TypeError, "x0 must be real"),
        (0.0, math.inf, ValueError, "diffusion"),
        (0.0, math.nan, ValueError, "diffusion"),
    ],
)
def test_euler_refuses_non_finite_or_complex_starts_and_diffusions(x0, diffusion, error, match):
    """Issue 20 item 15: these ran before (NaN or inf paths, or a complex x0 silently cast to its real part)."""
    with pytest.raises(error, match=match):
        euler(lambda x: -x, x0, torch.zeros(4, 3), 0.1, diffusion=diffusion)


@pytest.mark.parametrize(("step", "dtype"), [(1e-300, F64), (1e300, F64), (1e-30, torch.float32), (1e30, None)])
def test_increments_refuse_a_scale_outside_the_float_range(step, dtype):
    """Issue 20 item 15: step**(1/alpha) at alpha = 0.5 underflowed to 0 (an error about "scale", an argument the
    caller never passed) or overflowed (OverflowError); the message now names step."""
    with pytest.raises(ValueError, match="step = "):
        stable_increments(0.5, 3, 2, step, dtype=dtype)
    with pytest.raises(ValueError, match="step = "):
        stable_increment_chunks(0.5, 3, 2, step, dtype=dtype)


def test_increments_too_large_for_memory_name_the_sizes():
    """Issue 20 item 15: 1e18 increments reached the allocator, whose error named no argument."""
    with pytest.raises(MemoryError, match="n_steps \\* prod\\(shape\\)"):
        stable_increments(1.5, 10**12, 10**6, 0.1)
