"""Property-based tests (hypothesis) over the public numeric API (issue 12, item 11).

Each property holds for every valid argument, so hypothesis searches the whole parameter
space, edges included, instead of the few points a reader thinks of: finite draws for every
alpha in [1e-300, 2], beta in [-1, 1], both dtypes and both parametrizations; densities and
distribution functions that are probabilities; relative best-term errors in [0, 1]; and
errors that name the argument at fault. The profile is bounded (few examples, no deadline)
and derandomized, so the suite is reproducible and stays a few seconds per property.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import htsgd.stable as st
from htsgd import compress, tails

PROFILE = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

#: alpha in (0, 2], with extra weight on the edges that have failed before: alpha near 0, 1 and 2.
alphas = hst.one_of(
    hst.floats(min_value=1e-300, max_value=2.0),
    hst.sampled_from([1e-300, 1e-20, 0.01, 0.1, 0.5, 1.0, 2.0]),
    hst.floats(min_value=-1e-5, max_value=1e-5).map(lambda e: 1.0 + e),
    hst.floats(min_value=0.0, max_value=1e-5).map(lambda e: 2.0 - e),
)
betas = hst.one_of(hst.floats(min_value=-1.0, max_value=1.0), hst.sampled_from([-1.0, -1e-12, 0.0, 1e-6, 1.0]))
dtypes = hst.sampled_from([torch.float32, torch.float64])
params = hst.sampled_from(["S1", "S0"])


@PROFILE
@given(alpha=alphas, beta=betas, dtype=dtypes, param=params, seed=hst.integers(0, 2**32))
def test_every_draw_is_finite(alpha, beta, dtype, param, seed):
    x = st.sample(alpha, 3000, beta=beta, parameterization=param, generator=seed, dtype=dtype)
    assert x.dtype == dtype and bool(torch.isfinite(x).all())


@PROFILE
@given(alpha=alphas, dtype=dtypes, scale=hst.floats(min_value=1e-300, max_value=1e300), seed=hst.integers(0, 2**32))
def test_every_isotropic_draw_is_finite(alpha, dtype, scale, seed):
    x = st.sample_isotropic(alpha, 500, 5, scale=scale, generator=seed, dtype=dtype)
    assert x.shape == (500, 5) and bool(torch.isfinite(x).all())


#: The densities integrate numerically; alpha below 0.1 is left to the targeted tests.
density_alphas = hst.one_of(hst.floats(min_value=0.1, max_value=2.0), hst.sampled_from([0.5, 1.0, 1.5, 2.0]))
points = hst.lists(hst.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=12)


@PROFILE
@given(alpha=density_alphas, beta=betas, param=params, x=points)
def test_densities_are_probabilities(alpha, beta, param, x):
    """pdf >= 0, 0 <= cdf <= 1, cdf + sf = 1 and cdf non-decreasing, at any points."""
    xs = np.sort(np.asarray(x))
    pdf = st.pdf(xs, alpha, beta, parameterization=param)
    cdf = st.cdf(xs, alpha, beta, parameterization=param)
    sf = st.sf(xs, alpha, beta, parameterization=param)
    assert np.all(np.isfinite(pdf)) and np.all(pdf >= 0)
    assert np.all((cdf >= 0) & (cdf <= 1)) and np.all((sf >= 0) & (sf <= 1))
    np.testing.assert_allclose(cdf + sf, 1.0, atol=1e-9)
    assert np.all(np.diff(cdf) >= -1e-12)


finite_vectors = hst.lists(
    hst.one_of(hst.floats(min_value=-3e38, max_value=3e38), hst.sampled_from([0.0, 3e38, -3e38, 1e-45])),
    min_size=0, max_size=20,
)


@PROFILE
@given(x=finite_vectors, data=hst.data(), dtype=hst.sampled_from([torch.float16, torch.float32, torch.float64]))
def test_relative_best_k_errors_are_fractions(x, data, dtype):
    """sigma_k(x) / ||x|| lies in [0, 1] and does not increase with k, whatever the magnitudes."""
    t = torch.tensor(x, dtype=torch.float64).clamp(-torch.finfo(dtype).max, torch.finfo(dtype).max).to(dtype)
    errs = [float(compress.best_k_error(t, k)) for k in range(len(x) + 1)]
    assert all(0.0 <= e <= 1.0 + 1e-3 for e in errs)
    assert all(b <= a + 1e-3 for a, b in zip(errs[:-1], errs[1:], strict=True))
    if x:
        kappa = data.draw(hst.floats(min_value=0.0, max_value=1.0))
        curve = float(compress.compressibility_curve(t, kappa))
        assert curve == pytest.approx(errs[compress.count_of_fraction(kappa, len(x))], abs=1e-3)


bad_reals = hst.sampled_from([math.nan, math.inf, -math.inf])


@PROFILE
@given(
    which=hst.sampled_from(["alpha", "beta", "scale", "loc"]),
    value=hst.one_of(bad_reals, hst.floats(min_value=2.0001, max_value=1e10), hst.floats(max_value=-1.0001, min_value=-1e10)),
    fn=hst.sampled_from(["sample", "pdf", "cdf", "char_func"]),
)
def test_errors_name_the_argument(which, value, fn):
    """A bad alpha, beta, scale or loc raises ValueError whose message names that argument."""
    kwargs = {"alpha": 1.5, "beta": 0.0, "scale": 1.0, "loc": 0.0}
    kwargs[which] = value
    if which == "loc" and math.isfinite(value):
        return  # every finite location is valid
    if which == "scale" and value > 0 and math.isfinite(value):
        return  # every finite positive scale is valid
    alpha = kwargs.pop("alpha")
    with pytest.raises(ValueError, match=which):
        if fn == "sample":
            st.sample(alpha, 3, generator=0, **kwargs)
        else:
            getattr(st, fn)(0.5, alpha, **kwargs)


@PROFILE
@given(x=hst.lists(hst.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
                   min_size=3, max_size=30))
def test_hill_and_mmo_never_crash_on_finite_samples(x):
    """Finite samples give a number or a clear ValueError naming x or k (never a numpy error)."""
    for call in (lambda: tails.hill(x, 1), lambda: tails.mmo(x, 2)):
        try:
            value = call()
        except ValueError as err:
            assert "x" in str(err) or "k" in str(err)
        else:
            assert isinstance(value, float) and not math.isnan(value)
