"""Property-based tests (hypothesis) of htsgd.meanfield and htsgd.chaos (issue 20: the new modules).

Each property holds for every valid argument: shapes and signs of runs, determinism and the
seed-for-seed loop, the width-independence of the tagged neurons, the absence of noise at
sigma = 0, the step condition's range and monotonicity, the invariances of the sliced distance,
the cross-covariance, the output IQR, and the transfer bound for any pair of matrices; and
bad input is refused with an error that names the argument. Small sizes, a bounded,
derandomized profile: a few seconds per property.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from htsgd import chaos as ch
from htsgd import meanfield as mf

PROFILE = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

dtypes = hst.sampled_from([torch.float32, torch.float64])
#: Noise settings: none, or alpha in [1, 2] (moderate tails keep a few steps of a tiny network finite).
alphas = hst.one_of(hst.none(), hst.floats(min_value=1.0, max_value=2.0), hst.sampled_from([1.0, 1.5, 2.0]))
seeds_ = hst.integers(0, 2**31)


def _problem(dtype, seed, d=3, p=5):
    return mf.teacher_problem(input_dim=d, n_train=p, n_test=4, generator=seed, dtype=dtype)


@PROFILE
@given(width=hst.integers(1, 7), seeds=hst.integers(1, 3), steps=hst.integers(0, 3), alpha=alphas,
       sigma=hst.floats(0.0, 0.5), eta=hst.floats(1e-3, 0.5), activation=hst.sampled_from(["relu", "tanh"]),
       noise=hst.sampled_from(mf.NOISE_KINDS), dtype=dtypes, seed=seeds_, data=hst.data())
def test_runs_have_their_shapes_signs_and_are_reproducible(width, seeds, steps, alpha, sigma, eta, activation, noise,
                                                         dtype, seed, data):
    tagged = data.draw(hst.integers(0, width))
    p = _problem(dtype, seed)
    kw = dict(seeds=seeds, steps=steps, eta=eta, alpha=alpha, sigma=sigma, activation=activation, noise=noise,
              tagged=tagged, generator=seed, tag_generator=seed + 1)
    run = mf.run_particles(p, width, **kw)
    assert run.weight.shape == (seeds, width, 3) and run.weight.dtype == dtype
    assert run.a.shape == (seeds, width) and set(run.a.unique().tolist()) <= {-1.0, 1.0}
    assert run.train_output.shape == (steps + 1, seeds, 5) and run.test_output.shape == (seeds, 4)
    assert bool(torch.isfinite(run.weight).all())
    again = mf.run_particles(p, width, **kw)
    assert torch.equal(run.weight, again.weight) and torch.equal(run.a, again.a)
    loop = mf.run_particles(p, width, loop_over_seeds=True, **kw)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert torch.allclose(loop.weight, run.weight, rtol=tol, atol=tol)


@PROFILE
@given(widths=hst.lists(hst.integers(1, 9), min_size=2, max_size=3), tagged=hst.integers(1, 3), alpha=alphas,
       seed=seeds_)
def test_tagged_pairs_do_not_depend_on_the_width(widths, tagged, alpha, seed):
    """steps = 0 and 2: a tagged neuron's initial pair is the same at every width (its own stream)."""
    p = _problem(torch.float64, seed)
    runs = [mf.run_particles(p, max(w, tagged), seeds=2, steps=0, tagged=tagged, generator=seed + w,
                             tag_generator=seed, snapshot_steps=[0]) for w in widths]
    for r in runs[1:]:
        assert torch.equal(r.weight[:, :tagged], runs[0].weight[:, :tagged])
        assert torch.equal(r.a[:, :tagged], runs[0].a[:, :tagged])


@PROFILE
@given(alpha=alphas, sigma=hst.floats(0.0, 1.0), seed=seeds_, dtype=dtypes)
def test_no_noise_at_sigma_zero_or_without_alpha(alpha, sigma, seed, dtype):
    p = _problem(dtype, seed)
    a = mf.run_particles(p, 4, steps=3, alpha=alpha, sigma=0.0, generator=seed, tag_generator=seed + 1)
    b = mf.run_particles(p, 4, steps=3, alpha=None, sigma=sigma, generator=seed, tag_generator=seed + 1)
    assert torch.equal(a.weight, b.weight)


@PROFILE
@given(shape=hst.lists(hst.integers(1, 6), min_size=1, max_size=3), seed=seeds_, dtype=dtypes)
def test_second_layer_is_signs_of_its_shape(shape, seed, dtype):
    a = mf.second_layer(shape, generator=seed, dtype=dtype)
    assert tuple(a.shape) == tuple(shape) and a.dtype == dtype
    assert bool(((a == 1) | (a == -1)).all())


@PROFILE
@given(n=hst.integers(1, 10**9), alpha=hst.floats(min_value=1e-6, max_value=2.0))
def test_step_condition_is_a_step_that_shrinks_with_the_width(n, alpha):
    eta = mf.step_condition(n, alpha)
    assert 0.0 < eta <= 1.0
    assert mf.step_condition(n + 1, alpha) <= eta
    assert eta == pytest.approx(n ** (-alpha / 2 - 1), rel=1e-12)


@PROFILE
@given(width=hst.one_of(hst.integers(max_value=0), hst.floats(allow_nan=True), hst.booleans(), hst.none(),
                        hst.text(max_size=3)))
def test_step_condition_names_a_bad_width(width):
    with pytest.raises((TypeError, ValueError), match="width"):
        mf.step_condition(width, 1.5)


@PROFILE
@given(bad=hst.sampled_from([math.inf, -math.inf, math.nan, 0.0, -1.0]), name=hst.sampled_from(["eta", "sigma"]))
def test_bad_step_or_noise_level_is_named(bad, name):
    if name == "sigma" and bad == 0.0:
        return  # sigma = 0 is valid: no noise
    with pytest.raises((TypeError, ValueError), match=name):
        mf.run_particles(_problem(torch.float64, 0), 3, steps=1, alpha=1.5, **{name: bad})


@PROFILE
@given(seed=seeds_, n=hst.integers(1, 30), m=hst.integers(1, 30), d=hst.integers(1, 4),
       shift=hst.floats(-5, 5), scale=hst.floats(0.1, 10))
def test_sliced_distance_is_a_translation_invariant_homogeneous_nonnegative_distance(seed, n, m, d, shift, scale):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = 2 * torch.randn(m, d, generator=g, dtype=torch.float64)
    sw = float(ch.sliced_wasserstein(x, y, n_projections=8, generator=seed))
    assert sw >= 0.0
    assert float(ch.sliced_wasserstein(x, x, n_projections=8, generator=seed)) == pytest.approx(0.0, abs=1e-12)
    moved = float(ch.sliced_wasserstein(x + shift, y + shift, n_projections=8, generator=seed))
    assert moved == pytest.approx(sw, rel=1e-9, abs=1e-9)
    scaled = float(ch.sliced_wasserstein(scale * x, scale * y, n_projections=8, generator=seed))
    assert scaled == pytest.approx(scale * sw, rel=1e-9, abs=1e-9)
    bounded = float(ch.sliced_wasserstein(x, y, n_projections=8, test_function=torch.tanh, generator=seed))
    assert 0.0 <= bounded <= 2.0  # tanh lies in (-1, 1)


@PROFILE
@given(seed=seeds_, m=hst.integers(2, 20), d=hst.integers(1, 4), shift=hst.floats(-5, 5), k=hst.floats(-3, 3))
def test_cross_covariance_norm_invariances(seed, m, d, shift, k):
    g = torch.Generator().manual_seed(seed)
    u, v = torch.randn(m, d, generator=g, dtype=torch.float64), torch.randn(m, d, generator=g, dtype=torch.float64)
    c = ch.cross_covariance_norm(u, v)
    assert c >= 0.0
    assert ch.cross_covariance_norm(v, u) == pytest.approx(c, rel=1e-12, abs=1e-15)
    assert ch.cross_covariance_norm(u + shift, v) == pytest.approx(c, rel=1e-9, abs=1e-12)
    assert ch.cross_covariance_norm(k * u, v) == pytest.approx(abs(k) * c, rel=1e-9, abs=1e-12)


@PROFILE
@given(seed=seeds_, m=hst.integers(2, 40), q=hst.integers(1, 5), shift=hst.floats(-1e3, 1e3), k=hst.floats(-10, 10))
def test_output_iqr_is_a_shift_invariant_scale_equivariant_spread(seed, m, q, shift, k):
    f = torch.randn(m, q, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    iqr = mf.output_iqr(f)
    assert iqr >= 0.0
    assert mf.output_iqr(f + shift) == pytest.approx(iqr, rel=1e-7, abs=1e-9)
    assert mf.output_iqr(k * f) == pytest.approx(abs(k) * iqr, rel=1e-9, abs=1e-12)


@PROFILE
@given(seed=seeds_, d=hst.integers(1, 4), n=hst.integers(1, 12), rel=hst.floats(0.0, 3.0), data=hst.data())
def test_transfer_bound_holds_for_any_pair_of_matrices(seed, d, n, rel, data):
    k = data.draw(hst.integers(0, n))
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(3, d, n, generator=g, dtype=torch.float64) ** 3  # heavier than Gaussian tails
    e = torch.randn(3, d, n, generator=g, dtype=torch.float64)
    e = e * (rel * y.flatten(1).norm(dim=1) / e.flatten(1).norm(dim=1).clamp_min(1e-300))[:, None, None]
    check = ch.transfer_check(y + e, y, k)
    assert bool(check["holds"].all())
    assert bool((check["gap"] >= 0).all()) and bool(np.isfinite(check["gap"]).all())


@PROFILE
@given(p=hst.floats(-2.0, 0.0), c=hst.floats(1e-3, 1e3), widths=hst.lists(hst.integers(2, 10**5), min_size=2,
                                                                         max_size=6, unique=True))
def test_fit_rates_recovers_an_exact_power(p, c, widths):
    import pandas as pd

    w = np.array(sorted(widths), dtype=float)
    table = pd.DataFrame({"width": w, "coupling": c * w**p})
    assert ch.fit_rates(table)["coupling"] == pytest.approx(p, abs=1e-9)
