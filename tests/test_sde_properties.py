"""Property-based tests (hypothesis) for :mod:`htsgd.sde` (issue 20: the next fuzz must find nothing of these kinds).

Each property holds for every valid argument: increments are finite or the step is refused by name; the tamed
Euler step never exceeds 1 and never makes NaN from finite inputs, whatever the drift does (overflow included);
the OU laws are finite, inf or refused, never NaN or an OverflowError, and agree with the direct sum of scales;
the Lévy exponent from the measure is ``|u|**alpha`` at every finite ``u``; coarsening and the driftless scheme
are exact sums. The profile is bounded (few examples, no deadline) and derandomized, so the file is reproducible
and runs in a few seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from htsgd.sde import (
    coarsen,
    convergence_order,
    euler,
    levy_exponent_from_measure,
    stable_increments,
    stable_ou_euler_law,
    stable_ou_law,
)

PROFILE = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

alphas = hst.one_of(hst.floats(min_value=0.05, max_value=2.0), hst.sampled_from([0.05, 0.5, 1.0, 1.5, 1.999, 2.0]))
dtypes = hst.sampled_from([torch.float32, torch.float64])
finite = hst.floats(allow_nan=False, allow_infinity=False)


@PROFILE
@given(alpha=alphas, step=hst.floats(min_value=1e-300, max_value=1e300), dtype=dtypes, seed=hst.integers(0, 2**31))
def test_increments_are_finite_or_the_step_is_refused(alpha, step, dtype, seed):
    try:
        dl = stable_increments(alpha, 4, 50, step, generator=seed, dtype=dtype)
    except ValueError as err:
        assert "step" in str(err)  # step**(1/alpha) outside the dtype's normal range, said so
        return
    assert dl.shape == (4, 50) and dl.dtype == dtype and bool(torch.isfinite(dl).all())


@PROFILE
@given(x0=finite, power=hst.sampled_from([1, 3, 5, 7]), sign=hst.sampled_from([-1.0, 1.0]),
       step=hst.floats(min_value=1e-6, max_value=1e3), dtype=dtypes)
def test_tamed_step_is_bounded_and_never_nan(x0, power, sign, step, dtype):
    """Without noise every tamed step moves the state by at most 1 (plus rounding), for any drift +-x**k,
    also where x**k overflows the dtype; the result is never NaN."""
    if abs(x0) > torch.finfo(dtype).max:
        return  # x0 is not representable in this dtype (refused, tested in test_sde.py)
    path = euler(lambda x: sign * x**power, x0, torch.zeros(5, 3, dtype=dtype), step, tame=True, return_path=True)
    assert not bool(torch.isnan(path).any())
    moves = (path[1:] - path[:-1]).abs()
    slack = 1.0 + 4 * torch.finfo(dtype).eps * path[:-1].abs()  # a step of size <= 1 added to a large state rounds
    assert bool((moves <= slack).all())


@PROFILE
@given(x0=hst.floats(min_value=-1e6, max_value=1e6), alpha=alphas, seed=hst.integers(0, 2**31),
       h=hst.floats(min_value=1e-4, max_value=1.0))
def test_driftless_additive_scheme_is_the_sum_of_increments(x0, alpha, seed, h):
    dl = stable_increments(alpha, 12, 7, h, generator=seed, dtype=torch.float64)
    x = euler(torch.zeros_like, x0, dl, h)
    scale = float(dl.abs().sum()) + abs(x0)
    torch.testing.assert_close(x, x0 + dl.sum(0), rtol=0, atol=1e-12 * scale + 1e-300)
    torch.testing.assert_close(coarsen(dl, 4).sum(0), dl.sum(0), rtol=0, atol=1e-12 * scale + 1e-300)


@PROFILE
@given(theta=hst.floats(min_value=-50.0, max_value=50.0), sigma=hst.floats(min_value=0.0, max_value=1e3),
       alpha=alphas, t=hst.floats(min_value=0.0, max_value=1e4), x0=hst.floats(min_value=-1e6, max_value=1e6))
def test_ou_law_is_a_number_or_inf_never_nan(theta, sigma, alpha, t, x0):
    loc, scale = stable_ou_law(x0, theta, sigma, alpha, t)
    assert not math.isnan(loc) and not math.isnan(scale) and scale >= 0.0
    if x0 == 0.0:
        assert loc == 0.0


@PROFILE
@given(theta=hst.floats(min_value=-50.0, max_value=50.0), sigma=hst.floats(min_value=0.0, max_value=1e3),
       alpha=alphas, step=hst.floats(min_value=1e-6, max_value=10.0), n=hst.integers(0, 10**7),
       x0=hst.floats(min_value=-1e6, max_value=1e6))
def test_ou_euler_law_is_a_number_or_inf_never_nan(theta, sigma, alpha, step, n, x0):
    loc, scale = stable_ou_euler_law(x0, theta, sigma, alpha, step, n)
    assert not math.isnan(loc) and not math.isnan(scale) and scale >= 0.0


@PROFILE
@given(theta=hst.floats(min_value=-5.0, max_value=5.0), sigma=hst.floats(min_value=0.01, max_value=10.0),
       alpha=alphas, step=hst.floats(min_value=1e-3, max_value=1.0), n=hst.integers(0, 30))
def test_ou_euler_law_is_the_direct_sum_of_scales(theta, sigma, alpha, step, n):
    """X_n = a^n x0 + sigma sum_j a^j dL_(n-1-j): scale**alpha = sigma**alpha h sum_j |a|**(alpha j)."""
    a = 1.0 - theta * step
    loc, scale = stable_ou_euler_law(1.0, theta, sigma, alpha, step, n)
    direct = sigma * (step * sum(abs(a) ** (alpha * j) for j in range(n))) ** (1 / alpha) if n else 0.0
    assert loc == pytest.approx(a**n, rel=1e-9, abs=1e-300)
    assert scale == pytest.approx(direct, rel=1e-9, abs=1e-300)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(alpha=hst.one_of(hst.floats(min_value=0.05, max_value=1.999), hst.sampled_from([1.0, 1.9, 1.999])),
       u=hst.one_of(hst.floats(min_value=-1e12, max_value=1e12), hst.sampled_from([1e-12, 1e12, -3.0])))
def test_levy_exponent_is_u_to_the_alpha_at_every_frequency(alpha, u):
    """The closed form |u|**alpha is the reference (c = c_alpha); 1e-8 relative, as in test_sde.py."""
    got = levy_exponent_from_measure(alpha, u)
    assert got == pytest.approx(abs(u) ** alpha, rel=1e-8, abs=0.0)


@PROFILE
@given(p=hst.floats(min_value=-3.0, max_value=3.0), c=hst.floats(min_value=1e-6, max_value=1e6),
       steps=hst.lists(hst.floats(min_value=1e-6, max_value=1.0), min_size=2, max_size=6, unique=True))
def test_convergence_order_recovers_any_power_law(p, c, steps):
    h = np.array(steps)
    if np.ptp(np.log(h)) < 1e-3:
        return  # steps that differ by rounding only do not determine a slope
    assert convergence_order(h, c * h**p) == pytest.approx(p, abs=1e-6)


@PROFILE
@given(x0=hst.sampled_from([math.nan, math.inf, -math.inf]), dtype=dtypes)
def test_euler_names_a_non_finite_start(x0, dtype):
    with pytest.raises(ValueError, match="x0"):
        euler(lambda x: -x, x0, torch.zeros(2, 3, dtype=dtype), 0.1)
