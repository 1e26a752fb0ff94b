"""Tests of htsgd.chaos: sliced Wasserstein against scipy and a closed form, the chaos experiment's
contract and measured rates, the fitted rates, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from scipy.special import gamma
from scipy.stats import wasserstein_distance

import htsgd as hs
from htsgd import chaos as ch
from htsgd.sde import convergence_order


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


# ----------------------------------------------------------------------------------
# the covariance control and the output spread
# ----------------------------------------------------------------------------------
def test_cross_covariance_norm_is_numpys_cross_covariance():
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(16, 3, generator=g, dtype=torch.float64), torch.randn(16, 3, generator=g, dtype=torch.float64)
    want = np.linalg.norm(np.cov(u.numpy().T, v.numpy().T)[:3, 3:])
    assert ch.cross_covariance_norm(u, v) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        ch.cross_covariance_norm(u[:1], v[:1])
    with pytest.raises(ValueError, match="one shape"):
        ch.cross_covariance_norm(u, v[:, :2])


def test_the_decorrelated_control_has_the_floors_slope_on_independent_data():
    """Independent deviations of variance 1/n (no interaction at all) over M = 16 seeds.

    The tagged-pair statistic and the decorrelated control (neuron 2 of the next seed) are both
    the sampling floor, whose median falls like n^(-1): slope -1 although nothing interacts, which
    is why a falling `covariance` column proves nothing by itself. Medians over 400 repetitions
    at each width (fresh draws); the log of a median of 400 has a standard error of about 0.04,
    so over widths 16-1024 the slope's is about 0.01: +-0.06 is 6 standard errors.
    """
    g = torch.Generator().manual_seed(1)
    widths = np.array([16, 64, 256, 1024])
    tagged, control = [], []
    for n in widths:
        dev = torch.randn(400, 16, 2, 10, generator=g, dtype=torch.float64) / math.sqrt(n)  # (reps, M, 2, d)
        tagged.append(np.median([ch.cross_covariance_norm(d[:, 0], d[:, 1]) for d in dev]))
        control.append(np.median([ch.cross_covariance_norm(d[:, 0], d[:, 1].roll(-1, dims=0)) for d in dev]))
    assert convergence_order(widths, tagged) == pytest.approx(-1.0, abs=0.06)
    assert convergence_order(widths, control) == pytest.approx(-1.0, abs=0.06)


def test_output_iqr_exists_and_converges_where_the_variance_is_infinite():
    """A network whose output is a stable average: the IQR exists and matches its closed form.

    Neurons in pairs (X_j e_1, a = +1) and (-X_j e_1, a = -1) with X_j iid SaS(1.5, 1): since
    relu(z) - relu(-z) = z, f(e_1) = (1/n) sum_j X_j ~ (m^(1/alpha) / n) SaS(1.5, 1) for m = n / 2
    pairs, whose variance is infinite. Its IQR over M seeds converges to 2 q_0.75 m^(1/alpha) / n.
    The sample quartile has standard deviation sqrt(p (1 - p) / M) / density(q_p) (asymptotic
    normality of sample quantiles); we allow 4 of them on each quartile, at M and at M / 8
    (the interval shrinks like M^(-1/2) around the closed form: the estimate converges).
    """
    alpha, n, M = 1.5, 64, 8000
    m = n // 2
    X = hs.stable.sample(alpha, (M, m), generator=7, dtype=torch.float64)
    w = torch.zeros(M, n, 3, dtype=torch.float64)
    w[:, 0::2, 0], w[:, 1::2, 0] = X, -X
    a = torch.ones(n, dtype=torch.float64)
    a[1::2] = -1
    f = hs.meanfield.network_output(w, a, torch.eye(3, dtype=torch.float64)[:1])  # (M, 1)
    scale = m ** (1 / alpha) / n
    q75_std = brentq(lambda t: float(hs.stable.cdf(t, alpha)) - 0.75, 0.0, 10.0, xtol=1e-12)
    q75 = q75_std * scale
    se = math.sqrt(0.25 * 0.75 / M) / (float(hs.stable.pdf(q75_std, alpha)) / scale)
    got = hs.meanfield.output_iqr(f)
    assert math.isfinite(got)
    assert got == pytest.approx(2 * q75, abs=2 * 4 * se)
    assert hs.meanfield.output_iqr(f[: M // 8]) == pytest.approx(2 * q75, abs=2 * 4 * se * math.sqrt(8))


# ----------------------------------------------------------------------------------
# the bridge: the transfer bound, per realization
# ----------------------------------------------------------------------------------
def test_transfer_check_holds_for_every_seed_of_random_heavy_tailed_matrices():
    """The transfer bound is a deterministic inequality: it must hold for each realization.

    300 heavy-tailed 10 x 200 matrices and perturbations of random relative size 0 to 3 (some
    beyond |Theta_bar|, where the bound is infinite); the ratio gap / bound is also within
    rounding of its largest values' order (the bound is not vacuous: some ratio above 0.05).
    """
    g = torch.Generator().manual_seed(0)
    y = hs.stable.sample(1.5, (300, 10, 200), generator=g, dtype=torch.float64)
    e = torch.randn(300, 10, 200, generator=g, dtype=torch.float64)
    e = e * (3 * torch.rand(300, 1, 1, generator=g, dtype=torch.float64) * y.flatten(1).norm(dim=1)[:, None, None]
             / e.flatten(1).norm(dim=1)[:, None, None])
    check = ch.transfer_check(y + e, y, 20)
    assert len(check) == 300 and bool(check["holds"].all())
    finite = np.isfinite(check["bound"])
    assert 0 < finite.sum() < 300
    assert (check["gap"][finite] / check["bound"][finite]).max() > 0.05


def test_transfer_check_on_the_trained_network_holds_per_seed():
    """The chapter's bridge, small: every neuron coupled with a limit copy (tagged = n), 6 seeds."""
    p = hs.meanfield.teacher_problem(generator=1)
    common = dict(steps=30, eta=0.1, alpha=1.5, sigma=0.03)
    ref = hs.meanfield.run_particles(p, 1024, tagged=0, generator=2, **common)
    n = 64
    net = hs.meanfield.run_particles(p, n, seeds=6, tagged=n, generator=3, tag_generator=4, **common)
    copies = hs.meanfield.limit_chain(p, ref.train_output[:-1, 0], seeds=6, tagged=n, tag_generator=4,
                                      **{k: v for k, v in common.items() if k != "steps"})
    check = ch.transfer_check(net.weight.transpose(-1, -2), copies.transpose(-1, -2), n // 10)
    assert len(check) == 6 and bool(check["holds"].all())
    assert (check["relative_delta"] < 1).all()  # the copies are close: the bound is finite for every seed


def test_transfer_check_bad_input():
    with pytest.raises(ValueError, match="one shape"):
        ch.transfer_check(torch.zeros(2, 3, 4), torch.zeros(2, 3, 5), 1)
    with pytest.raises(TypeError, match="tensors"):
        ch.transfer_check(np.zeros((2, 3, 4)), torch.zeros(2, 3, 4), 1)
    with pytest.raises(ValueError, match="k"):
        ch.transfer_check(torch.ones(2, 3, 4), torch.ones(2, 3, 4), 5)


# ----------------------------------------------------------------------------------
# rates with intervals, and the committed runs
# ----------------------------------------------------------------------------------
def _power_samples(slope_c, slope_o, eps, seeds=40, seed=0):
    rng = np.random.default_rng(seed)
    widths = np.array([16, 64, 256, 1024])
    coupling = widths**slope_c * rng.lognormal(0.0, 0.3, size=(seeds, widths.size))
    output = 0.5 + widths**slope_o * hs.stable.sample(1.5, (seeds, widths.size), generator=seed).double().numpy()
    return widths, {"coupling": coupling, "output": output, "reference_error": np.full(seeds, eps)}


def test_width_rates_recovers_the_slopes_with_intervals():
    """Median coupling ~ n^(-1/2) (lognormal scatter), output = 0.5 + n^(-1/3) SaS(1.5): IQR ~ n^(-1/3).

    The output has infinite variance: its IQR is the statistic, and the interval must contain
    the true slope -1/3 (a 95% interval on 40 seeds, this seed fixed) and not -1/2.
    """
    widths, samples = _power_samples(-0.5, -1 / 3, 1e-4)
    rates = ch.width_rates(widths, samples)
    assert list(rates.index) == ["coupling", "output"]  # no sliced_w1 samples given: not fitted
    assert rates.loc["coupling", "statistic"] == "median" and rates.loc["output", "statistic"] == "iqr"
    assert rates.loc["coupling", "low"] <= -0.5 <= rates.loc["coupling", "high"]
    assert rates.loc["output", "low"] <= -1 / 3 <= rates.loc["output", "high"]
    assert not rates.loc["output", "low"] <= -0.5 <= rates.loc["output", "high"]
    # A reference error of 1e-4 against medians of 0.03 or more moves the slope by little; one
    # as large as the smallest median makes the widest width unmeasurable: infinite shift.
    assert 0 < rates.loc["coupling", "reference_shift"] < 0.01
    assert rates.loc["output", "reference_shift"] == 0.0
    big = ch.width_rates(widths, {**samples, "reference_error": np.full(40, 1.0)})
    assert big.loc["coupling", "reference_shift"] == math.inf
    # The range of widths is honoured.
    sub = ch.width_rates(widths, samples, min_width=64, max_width=256)
    assert (sub["min_width"] == 64).all() and (sub["max_width"] == 256).all()
    with pytest.raises(ValueError, match="at least 2"):
        ch.width_rates(widths, samples, min_width=1024)
    with pytest.raises(ValueError, match="samples"):
        ch.width_rates(widths, {"coupling": samples["coupling"]})


def test_width_runs_round_trip(tmp_path):
    table, samples = ch.chaos_experiment([4, 8], alpha=1.5, sigma=0.03, steps=3, seeds=3, generator=1,
                                         reference_width=32, return_samples=True)
    ch.save_width_runs(tmp_path, {"relu": (table, samples)}, {"command": "test"})
    runs, prov = ch.load_width_runs(tmp_path)
    got_table, got = runs["relu"]
    assert prov["command"] == "test" and got_table.attrs["reference_width"] == 32
    np.testing.assert_allclose(got_table.to_numpy(float), table.to_numpy(float), rtol=1e-9)
    assert set(got) == set(samples) - {"delta", "tagged"}  # the per-seed vectors of the covariances are not saved
    for key in got:
        np.testing.assert_allclose(got[key], samples[key], rtol=1e-9)
    with pytest.raises(FileNotFoundError, match="provenance"):
        ch.load_width_runs(tmp_path / "nowhere")


def test_chaos_experiment_refuses_bad_arguments_by_name():
    """chaos_experiment(4) raised a bare TypeError from iteration; now each argument is named."""
    with pytest.raises(TypeError, match="widths must be a sequence"):
        ch.chaos_experiment(4)
    with pytest.raises(TypeError, match="widths"):
        ch.chaos_experiment("16")
    with pytest.raises(ValueError, match="distinct"):
        ch.chaos_experiment([8, 8])
    with pytest.raises(ValueError, match=r"widths\[1\]"):
        ch.chaos_experiment([8, 0])
    with pytest.raises(TypeError, match="test_function"):
        ch.chaos_experiment([8], test_function="tanh")
    with pytest.raises(ValueError, match="eta"):
        ch.chaos_experiment([8], eta=math.inf)
    with pytest.raises(ValueError, match="sigma"):
        ch.chaos_experiment([8], alpha=1.5, sigma=math.inf)
    with pytest.raises(TypeError, match="return_samples"):
        ch.chaos_experiment([8], return_samples="yes")
    with pytest.raises(TypeError, match="MeanFieldProblem"):
        ch.chaos_experiment([8], steps=1, reference_width=16, problem="teacher")


def test_packaged_width_runs_load_by_name_from_the_installed_package():
    # The chapter reads the committed large-width runs by name, so a plain install (Colab, Binder)
    # must carry them as package data (pyproject's [tool.setuptools.package-data] "htsgd.runs").
    import tomllib

    from conftest import ROOT

    for name in hs.chaos.PACKAGED_WIDTH_RUNS:
        runs, provenance = hs.chaos.load_width_runs(name)
        table, samples = runs[name]
        assert table["width"].max() >= 16384 and samples["coupling"].shape[1] == len(table)
        assert provenance["settings"][name]
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["htsgd.runs"]
    shipped = {p.relative_to(ROOT / "htsgd" / "runs").as_posix()
               for pattern in data for p in (ROOT / "htsgd" / "runs").glob(pattern)}
    on_disk = {p.relative_to(ROOT / "htsgd" / "runs").as_posix()
               for p in (ROOT / "htsgd" / "runs" / "chaos-widths").rglob("*") if p.is_file()}
    assert on_disk <= shipped, f"not shipped: {sorted(on_disk - shipped)}"


# ----------------------------------------------------------------------------------
# covariance rates with bootstrap intervals
# ----------------------------------------------------------------------------------
def _covariance_samples(seeds: int = 30, d: int = 3) -> tuple[np.ndarray, dict]:
    """Per-seed vectors whose cross-covariance falls like 1/n with scatter: neuron 2 correlated with neuron 1."""
    rng = np.random.default_rng(7)
    widths = np.array([16, 64, 256, 1024])
    z = rng.standard_normal((seeds, widths.size, 2, d))
    z[:, :, 1] = 0.6 * z[:, :, 0] + 0.8 * z[:, :, 1]
    delta = z * widths[None, :, None, None] ** -0.5
    return widths, {"delta": delta, "tagged": np.tanh(z)}


def test_covariance_rates_closed_form_slope():
    """The same per-seed vectors at every width, scaled by n^(-1/2): every resample's covariance is
    n^(-1) times one number, so the estimate and both ends of the interval are exactly -1."""
    rng = np.random.default_rng(3)
    widths = np.array([8, 32, 128])
    z = rng.standard_normal((12, 1, 2, 4)).repeat(widths.size, axis=1)
    rates = ch.covariance_rates(widths, {"delta": z * widths[None, :, None, None] ** -0.5, "tagged": z}, n_boot=200)
    for col in ["estimate", "low", "high"]:
        assert rates.loc["covariance", col] == pytest.approx(-1.0, abs=1e-9)
        assert rates.loc["covariance_raw", col] == pytest.approx(0.0, abs=1e-9)


def test_covariance_rates_agree_with_scipy_bootstrap():
    """Estimates are the slopes of cross_covariance_norm's values; the percentile interval agrees with
    scipy.stats.bootstrap resampling seeds, with an independent np.cov implementation, to within the
    Monte Carlo error of two 2000-resample percentiles (about 0.09 of the interval's width in
    standard errors; the tolerance is 0.15 of the width)."""
    from scipy.stats import bootstrap

    widths, samples = _covariance_samples()
    rates = ch.covariance_rates(widths, samples)
    delta = samples["delta"]
    for name, v in [("covariance", delta[:, :, 1]), ("covariance_control", np.roll(delta[:, :, 1], -1, axis=0))]:
        u = delta[:, :, 0]

        def slope(idx, u=u, v=v):
            norms = [np.linalg.norm(np.cov(u[idx, k].T, v[idx, k].T)[:3, 3:]) for k in range(widths.size)]
            return np.polyfit(np.log(widths), np.log(norms), 1)[0]

        seeds = np.arange(delta.shape[0])
        table = [float(ch.cross_covariance_norm(torch.from_numpy(u[:, k]), torch.from_numpy(v[:, k])))
                 for k in range(widths.size)]
        assert rates.loc[name, "estimate"] == pytest.approx(convergence_order(widths, table), abs=1e-9)
        assert rates.loc[name, "estimate"] == pytest.approx(slope(seeds), abs=1e-9)
        ref = bootstrap((seeds,), slope, vectorized=False, n_resamples=2000, method="percentile",
                        random_state=11).confidence_interval
        width = ref.high - ref.low
        assert rates.loc[name, "low"] == pytest.approx(ref.low, abs=0.15 * width)
        assert rates.loc[name, "high"] == pytest.approx(ref.high, abs=0.15 * width)
        assert rates.loc[name, "low"] <= -1.0 <= rates.loc[name, "high"]  # both fall like 1/n (the control: its floor)


def test_covariance_rates_bad_input():
    widths, samples = _covariance_samples(seeds=4)
    with pytest.raises(ValueError, match="at least 2"):
        ch.covariance_rates(widths, samples, min_width=1024)
    with pytest.raises(ValueError, match="delta"):
        ch.covariance_rates(widths, {"tagged": samples["tagged"]})
    with pytest.raises(ValueError, match="shape"):
        ch.covariance_rates(widths[:3], samples)
