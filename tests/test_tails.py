"""Tests for htsgd.tails: the estimators recover alpha on stable and Pareto samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import htsgd.stable as st
import htsgd.tails as tl


@pytest.mark.parametrize("alpha", [0.8, 1.2, 1.5, 1.8])
def test_mmo_recovers_alpha_on_stable_samples(alpha):
    x = st.sample(alpha, 1_000_000, generator=1, dtype=torch.float64)
    assert tl.mmo(x, m=10) == pytest.approx(alpha, abs=0.03)
    # The vector form (rows summed as vectors, Euclidean norms) on isotropic vectors.
    v = st.sample_isotropic(alpha, 200_000, 3, generator=2, dtype=torch.float64)
    assert tl.mmo(v, m=10) == pytest.approx(alpha, abs=0.05)


@pytest.mark.parametrize("alpha", [0.7, 1.3, 2.5])
def test_hill_recovers_alpha_on_pareto_samples(alpha):
    rng = np.random.default_rng(0)
    x = rng.pareto(alpha, 1_000_000) + 1.0  # exact Pareto: Hill is unbiased
    assert tl.hill(x, 10_000) == pytest.approx(alpha, rel=0.03)


def test_hill_on_stable_samples_and_its_bias_near_two():
    x = st.sample(1.2, 1_000_000, generator=3, dtype=torch.float64)
    assert tl.hill(x, 2_000) == pytest.approx(1.2, abs=0.08)
    # Near alpha = 2 the Pareto regime starts far out: Hill is biased upward.
    y = st.sample(1.9, 1_000_000, generator=4, dtype=torch.float64)
    assert tl.hill(y, 10_000) > 2.0


def test_mmo_bias_on_student_t():
    # Student t with 1.5 degrees of freedom has tail index 1.5 but is not stable.
    rng = np.random.default_rng(5)
    x = rng.standard_t(1.5, 1_000_000)
    assert tl.mmo(x, m=10) < 1.5 - 0.05


def test_empirical_sf():
    x = np.arange(1, 1001, dtype=float)
    t, p = tl.empirical_sf(x, max_points=50)
    assert np.all(np.diff(t) > 0) and np.all(np.diff(p) < 0)
    assert p[-1] == pytest.approx(1e-3) and t[-1] == 1000.0
    assert len(t) <= 50
    ta, _ = tl.empirical_sf(-x, absolute=True)
    assert ta[-1] == 1000.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="k"):
        tl.hill(np.arange(10.0), 10)
    with pytest.raises(TypeError, match="k"):
        tl.hill(np.arange(10.0), 2.5)
    with pytest.raises(ValueError, match="m"):
        tl.mmo(np.arange(10.0), m=1)
    with pytest.raises(ValueError, match="x"):
        tl.mmo(np.array([1.0, np.inf, 2.0]))
    with pytest.raises(ValueError, match="x"):
        tl.hill(np.ones((3, 3, 3)), 1)


def test_input_conversion():
    """Issue 12, items 5 and 10: complex input lost its imaginary part, bfloat16 raised a torch TypeError."""
    with pytest.raises(TypeError, match="x must be real"):
        tl.hill(np.array([1 + 1j, 2, 3, 4]), 1)
    with pytest.raises(TypeError, match="x must be a real number"):
        tl.hill(None, 1)
    x = torch.tensor([1.0, 2.0, 4.0, 8.0, 16.0])
    assert tl.hill(x.to(torch.bfloat16), 2) == pytest.approx(tl.hill(x, 2))
