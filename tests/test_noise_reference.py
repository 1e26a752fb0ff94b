"""Tests of htsgd.compress.noise_reference_fraction: the mce-tau fraction of a pure-noise layer.

Closed forms (alpha = 2) are checked against root finding, quadrature and Monte Carlo on
plain Gaussian draws; the Monte Carlo path (alpha < 2) against an independent
implementation (scipy's levy_stable draws, the mce rule written with numpy sort and cumsum).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, stats

import htsgd as hs
from htsgd.compress import noise_reference_fraction


def _mce_fraction_numpy(norms: np.ndarray, tau: float) -> np.ndarray:
    """Independent mce rule: rows of norms -> fraction pruned per row (numpy only)."""
    sq = np.sort(norms**2, axis=-1)
    share = np.cumsum(sq, axis=-1) / sq.sum(axis=-1, keepdims=True)
    return (share <= tau).sum(axis=-1) / norms.shape[-1]


def test_gaussian_per_neuron_closed_form_0555():
    # t solves 2 Phi(t) - 1 - 2 t phi(t) = 0.1 (the removed share of E X^2 below |X| = t) ...
    t = optimize.brentq(lambda s: 2 * stats.norm.cdf(s) - 1 - 2 * s * stats.norm.pdf(s) - 0.1, 0.01, 5)
    assert t == pytest.approx(0.764, abs=5e-4)
    # ... and the fraction pruned is P(|X| <= t) = 2 Phi(t) - 1 = 0.555.
    expected = 2 * stats.norm.cdf(t) - 1
    assert expected == pytest.approx(0.555, abs=5e-4)
    for width in (16, 512, 4096):  # the closed form is the large-width limit, the same for every width
        assert noise_reference_fraction(2.0, width) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("dim", [1, 3, 40])
def test_gaussian_chi_square_form_against_quadrature(tau, dim):
    """The closed form for k = dim degrees of freedom equals the defining integrals (quad, 1e-8)."""
    got = noise_reference_fraction(2.0, 100, tau=tau, noise="per_weight", input_dim=dim)
    dens = stats.chi2(dim).pdf
    share = lambda q: integrate.quad(lambda x: x * dens(x), 0, q, epsabs=1e-13)[0] / dim  # noqa: E731
    q = optimize.brentq(lambda q: share(q) - tau, 1e-9, 50 * dim + 50, xtol=1e-13)
    assert got == pytest.approx(stats.chi2(dim).cdf(q), abs=1e-8)


@pytest.mark.parametrize(("noise", "dim"), [("per_neuron", 1), ("per_weight", 40), ("isotropic", 40)])
def test_gaussian_closed_form_against_monte_carlo(noise, dim):
    """Plain Gaussian layers of 100 000 neurons, 8 of them, give the closed form.

    The fraction of one layer of n neurons fluctuates by about 1/sqrt(n) (0.003 here: the
    empirical quantile converges at that rate); the mean of 8 layers by about 0.001, and its
    bias is O(1/n). A tolerance of 0.006 is 5 standard errors.
    """
    gen = torch.Generator().manual_seed(11)
    norms = torch.randn(8, 100_000, dim, generator=gen, dtype=torch.float64).norm(dim=-1).numpy()
    mc = _mce_fraction_numpy(norms, 0.1).mean()
    ref = noise_reference_fraction(2.0, 100_000, noise=noise, input_dim=dim)
    assert mc == pytest.approx(ref, abs=0.006)


@pytest.mark.parametrize(("alpha", "noise"), [(1.5, "per_neuron"), (1.75, "per_weight"), (1.5, "isotropic")])
def test_monte_carlo_against_independent_implementation(alpha, noise):
    """Means over 256 layers of width 256 from two independent samplers and mce rules.

    Per-layer fractions have a standard deviation of up to 0.18 here (a single huge neuron moves
    a whole layer; checked below), so each mean has a standard error below 0.0125 and their
    difference below 0.018; the tolerance 0.07 is 4 of those.
    """
    width, dim, layers = 256, 8, 256
    got = noise_reference_fraction(alpha, width, noise=noise, input_dim=dim, seeds=layers, generator=3)
    rng = np.random.default_rng(4)
    if noise == "per_neuron":
        norms = np.abs(stats.levy_stable.rvs(alpha, 0.0, size=(layers, width), random_state=rng))
    elif noise == "per_weight":
        norms = np.linalg.norm(stats.levy_stable.rvs(alpha, 0.0, size=(layers, width, dim), random_state=rng), axis=-1)
    else:  # X = sqrt(A) G with A ~ S(alpha/2, 1, 2 cos(pi alpha / 4)^(2/alpha)) (Samorodnitsky & Taqqu 2.5.2)
        a_scale = 2 * np.cos(np.pi * alpha / 4) ** (2 / alpha)
        A = stats.levy_stable.rvs(alpha / 2, 1.0, scale=a_scale, size=(layers, width, 1), random_state=rng)
        norms = np.linalg.norm(np.sqrt(A) * rng.standard_normal((layers, width, dim)), axis=-1)
    ref = _mce_fraction_numpy(norms, 0.1)
    assert ref.std() < 0.2  # the premise of the tolerance
    assert got == pytest.approx(ref.mean(), abs=0.07)


def test_heavy_tails_prune_more_and_grow_with_width():
    """The theory: for alpha < 2 the fraction grows toward 1 with the width; alpha = 2 stays at 0.555.

    At alpha = 1.5 the means over 16 layers at widths 128 and 8192 are about 0.81 and 0.97, with
    standard errors below 0.02: the gap is many standard errors wide.
    """
    small = noise_reference_fraction(1.5, 128, generator=0)
    large = noise_reference_fraction(1.5, 8192, generator=0)
    gauss = noise_reference_fraction(2.0, 8192)
    assert gauss < small < large
    assert large > 0.9


def test_reproducible_and_scale_free():
    a = noise_reference_fraction(1.75, 300, noise="per_weight", input_dim=5, generator=7)
    b = noise_reference_fraction(1.75, 300, noise="per_weight", input_dim=5, generator=7)
    assert a == b
    # per-neuron noise: the input dimension only scales every norm by sqrt(d), which mce ignores
    assert noise_reference_fraction(1.5, 300, generator=1) == noise_reference_fraction(
        1.5, 300, input_dim=40, generator=1
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0, "width": 10}, "alpha"),
        ({"alpha": 2.5, "width": 10}, "alpha"),
        ({"alpha": 1.5, "width": 0}, "width"),
        ({"alpha": 1.5, "width": 10, "tau": 1.0}, "tau"),
        ({"alpha": 1.5, "width": 10, "noise": "gaussian"}, "noise"),
        ({"alpha": 1.5, "width": 10, "noise": "isotropic"}, "input_dim"),
        ({"alpha": 1.5, "width": 10, "noise": "per_weight", "input_dim": 0}, "input_dim"),
        ({"alpha": 1.5, "width": 10, "seeds": 0}, "seeds"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        noise_reference_fraction(**kwargs)


def test_exported():
    assert "noise_reference_fraction" in hs.compress.__all__
