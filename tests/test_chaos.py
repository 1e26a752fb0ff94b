"""Tests of htsgd.chaos: sliced Wasserstein against scipy and a closed form, the chaos experiment's
contract and measured rates, the fitted rates, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.special import gamma
from scipy.stats import wasserstein_distance

from htsgd import chaos as ch


# ----------------------------------------------------------------------------------
# sliced Wasserstein
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "m"), [(5, 7), (64, 64), (33, 1000), (200, 150), (16, 128), (96, 32)])
@pytest.mark.parametrize("test_function", [None, torch.tanh])
def test_sliced_w1_is_scipy_w1_in_one_dimension(n, m, test_function):
    """In d = 1 every direction is +-1; the identity and tanh are odd, so every slice is the plain W1."""
    g = torch.Generator().manual_seed(n + m)
    x = torch.randn(n, 1, dtype=torch.float64, generator=g)
    y = 2 * torch.randn(m, 1, dtype=torch.float64, generator=g) + 0.3
    got = float(ch.sliced_wasserstein(x, y, n_projections=5, test_function=test_function, generator=0))
    tf = (lambda t: t) if test_function is None else test_function
    want = wasserstein_distance(tf(x[:, 0]).numpy(), tf(y[:, 0]).numpy())
    assert got == pytest.approx(want, rel=1e-12, abs=1e-14)


def test_sliced_w1_of_a_shift_matches_the_closed_form():
    """y = x + m: every slice is exactly |<u, m>|, whose mean over uniform u is |m| E|u_1|.

    E|u_1| = Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)). The estimate averages P iid values
    |<u, m>| of standard deviation |m| sqrt(1/d - E|u_1|^2); we allow 4 standard errors.
    """
    d, P = 10, 4000
    shift = torch.arange(1.0, d + 1, dtype=torch.float64) / 3
    x = torch.randn(300, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = float(ch.sliced_wasserstein(x, x + shift, n_projections=P, generator=7))
    e_abs = gamma(d / 2) / (math.sqrt(math.pi) * gamma((d + 1) / 2))
    norm = float(shift.norm())
    se = norm * math.sqrt(1 / d - e_abs**2) / math.sqrt(P)
    assert abs(got - norm * e_abs) < 4 * se


def test_sliced_w1_batch_equals_separate_calls_and_is_deterministic():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 40, 4, dtype=torch.float64, generator=g)
    y = torch.randn(90, 4, dtype=torch.float64, generator=g)
    batch = ch.sliced_wasserstein(x, y, n_projections=16, test_function=torch.tanh, generator=5)
    single = torch.stack([ch.sliced_wasserstein(x[i], y, n_projections=16, test_function=torch.tanh, generator=5)
                          for i in range(3)])
    assert torch.allclose(batch, single, rtol=1e-12)
    again = ch.sliced_wasserstein(x, y, n_projections=16, test_function=torch.tanh, generator=5)
    assert torch.equal(batch, again)


def test_sliced_w1_bad_input():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="same dimension"):
        ch.sliced_wasserstein(x, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="n_projections"):
        ch.sliced_wasserstein(x, x, n_projections=0)
    with pytest.raises(TypeError, match="test_function"):
        ch.sliced_wasserstein(x, x, test_function=3)
    with pytest.raises(ValueError, match="at least one sample"):
        ch.sliced_wasserstein(x[:0], x)
    with pytest.raises(ValueError, match="shape"):
        ch.sliced_wasserstein(torch.zeros(4), x)


# ----------------------------------------------------------------------------------
# the chaos experiment and its rates
# ----------------------------------------------------------------------------------
def test_chaos_experiment_is_deterministic_and_has_the_contract_columns():
    kw = dict(alpha=1.5, sigma=0.03, steps=5, seeds=3, generator=1, reference_width=64)
    a = ch.chaos_experiment([8, 16], **kw)
    b = ch.chaos_experiment([8, 16], **kw)
    assert list(a["width"]) == [8, 16]
    assert list(a.columns) == ["width", *ch.CHAOS_COLUMNS]
    assert "output_variance" not in a.columns  # infinite with ReLU and alpha < 2
    assert a.equals(b)
    assert a.attrs["reference_width"] == 64


def test_measured_rates_on_a_small_configuration():
    """No noise, widths 16-512, 16 seeds, 100 steps: coupling and output IQR ~ n^(-1/2), covariance ~ n^(-1).

    Each point averages 32 (coupling) or 16 (variances) nearly independent terms, so its log has a
    standard error of about 0.1-0.35; over 6 widths spread over log n in [2.8, 6.2] the slope's
    standard error is then about 0.05-0.15. The bands (+-0.2 for the coupling and SW, +-0.3 for
    the second-moment quantities) are about 2 standard errors wide; a wrong scaling (no coupling:
    slope 0; lr = n * eta noise; a covariance floor) lands outside them. (Measured when written:
    -0.48, -0.48, -0.94, -1.02.)
    """
    df = ch.chaos_experiment([16, 32, 64, 128, 256, 512], steps=100, seeds=16, generator=0, reference_width=4096)
    rates = ch.fit_rates(df)
    assert -0.7 < rates["coupling"] < -0.3
    assert -0.7 < rates["sliced_w1"] < -0.3
    assert -1.3 < rates["covariance"] < -0.7
    assert -1.3 < rates["covariance_control"] < -0.7  # the floor of independent pairs falls at the same rate
    assert -0.8 < rates["output_iqr"] < -0.2
    assert abs(rates["covariance_raw"]) < 0.3  # the raw 16-seed covariance has a floor


def test_fit_rates_recovers_an_exact_power_and_validates():
    import pandas as pd

    df = pd.DataFrame({"width": [16, 64, 256, 1024], "coupling": [16.0**-0.5, 8**-1.0, 16**-1.0, 32**-1.0]})
    assert ch.fit_rates(df)["coupling"] == pytest.approx(-0.5, abs=1e-12)
    with pytest.raises(ValueError, match="min_width"):
        ch.fit_rates(df, min_width=1024)
    with pytest.raises(ValueError, match="columns"):
        ch.fit_rates(df, ["nope"])


def test_chaos_experiment_bad_input():
    with pytest.raises(ValueError, match="widths must hold"):
        ch.chaos_experiment([])
    with pytest.raises(ValueError, match="seeds"):
        ch.chaos_experiment([8], seeds=1)
    with pytest.raises(ValueError, match="reference_width"):
        ch.chaos_experiment([8, 16], reference_width=16)
