"""Tests of htsgd.evidence: intervals against scipy, pairing by seed on hand-made tables, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from htsgd import evidence as ev


def test_mean_interval_matches_scipy():
    x = np.array([0.3, -0.1, 0.25, 0.4, 0.05, 0.2])
    iv = ev.mean_interval(x, level=0.9)
    low, high = stats.t.interval(0.9, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (iv.mean, iv.low, iv.high, iv.n) == pytest.approx((x.mean(), low, high, 6), rel=1e-12)


def test_mean_interval_coverage():
    """Of 2000 intervals from 8 standard normals, about 95% cover 0.

    The count of covering intervals is Binomial(2000, 0.95): standard deviation 9.7, so
    [1850, 1950] is more than 5 standard deviations wide on each side.
    """
    rng = np.random.default_rng(0)
    covered = sum(iv.low < 0 < iv.high for iv in (ev.mean_interval(rng.standard_normal(8)) for _ in range(2000)))
    assert 1850 <= covered <= 1950


def test_mean_interval_small_and_nan():
    assert math.isnan(ev.mean_interval([]).mean)
    one = ev.mean_interval([2.0, float("nan")])
    assert one.mean == 2.0 and one.n == 1 and math.isnan(one.low)
    assert one.verdict("positive") == "undecided"
    with pytest.raises(ValueError, match="level"):
        ev.mean_interval([1.0, 2.0], level=1.0)


@pytest.mark.parametrize(
    ("low", "high", "positive", "negative"),
    [(0.1, 0.3, "yes", "no"), (-0.3, -0.1, "no", "yes"), (-0.1, 0.2, "undecided", "undecided")],
)
def test_verdict(low, high, positive, negative):
    iv = ev.Interval(0.0, low, high, 5)
    assert iv.verdict("positive") == positive
    assert iv.verdict("negative") == negative
    with pytest.raises(ValueError, match="predicted"):
        iv.verdict("up")


def _table() -> pd.DataFrame:
    rows = []
    for seed in range(3):
        rows.append({"hash": f"n{seed}", "role": "grid", "matched_to": None, "alpha": 1.5, "seed": seed,
                     "test_acc": 0.80 + 0.01 * seed, "prune/frac0.5/test_acc": 0.75})
        rows.append({"hash": f"c{seed}", "role": "grid", "matched_to": None, "alpha": None, "seed": seed,
                     "test_acc": 0.85, "prune/frac0.5/test_acc": 0.60})
        rows.append({"hash": f"m{seed}", "role": "matched_steps", "matched_to": f"n{seed}", "alpha": None,
                     "seed": seed, "test_acc": 0.86, "prune/frac0.5/test_acc": 0.50 + 0.1 * seed})
    return pd.DataFrame(rows)


def test_accuracy_drop():
    frame = _table()
    drop = ev.accuracy_drop(frame, "frac0.5")
    assert drop.tolist() == pytest.approx((frame["test_acc"] - frame["prune/frac0.5/test_acc"]).tolist())
    with pytest.raises(KeyError, match="frac0.5"):
        ev.accuracy_drop(frame, "mce0.1")


def test_paired_with_matched_controls():
    frame = _table()
    drop = ev.accuracy_drop(frame, "frac0.5")
    out = ev.paired(frame, drop, {"role": "grid", "alpha": 1.5}, "matched")
    assert out.index.tolist() == [0, 1, 2]
    # noisy drops 0.05, 0.06, 0.07; matched drops 0.36, 0.26, 0.16
    assert out["treated"].tolist() == pytest.approx([0.05, 0.06, 0.07])
    assert out["control"].tolist() == pytest.approx([0.36, 0.26, 0.16])
    assert out["difference"].tolist() == pytest.approx([-0.31, -0.20, -0.09])


def test_paired_with_filters_and_errors():
    frame = _table()
    out = ev.paired(frame, "test_acc", {"role": "grid", "alpha": 1.5}, {"role": "grid", "alpha": None})
    assert out["difference"].tolist() == pytest.approx([-0.05, -0.04, -0.03])
    with pytest.raises(ValueError, match="repeat"):
        ev.paired(frame, "test_acc", {"alpha": None}, {"role": "grid", "alpha": 1.5})
    with pytest.raises(ValueError, match="share no"):
        ev.paired(frame, "test_acc", {"role": "grid", "alpha": 1.5, "seed": 0}, {"role": "grid", "alpha": None, "seed": 1})


def test_median_iqr():
    frame = pd.DataFrame({"width": [8] * 5, "alpha": [None] * 5, "x": [1.0, 2.0, 3.0, 4.0, 100.0]})
    out = ev.median_iqr(frame, "x")
    row = out.loc[(8, "none")]
    assert (row["median"], row["q25"], row["q75"], row["n"]) == (3.0, 2.0, 4.0, 5)


def test_phrase():
    words = {"yes": "a", "no": "b", "undecided": "c"}
    assert [ev.phrase(v, words) for v in ev.VERDICTS] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="missing"):
        ev.phrase("yes", {"yes": "a"})
    with pytest.raises(ValueError, match="verdict"):
        ev.phrase("maybe", words)


def test_paired_interval_is_the_t_interval_of_the_paired_differences():
    """Differences -0.31, -0.20, -0.09 (hand-computed above); the interval from scipy's t law."""
    frame = _table()
    iv = ev.paired_interval(frame, ev.accuracy_drop(frame, "frac0.5"), {"role": "grid", "alpha": 1.5}, "matched",
                            level=0.9)
    d = np.array([-0.31, -0.20, -0.09])
    low, high = stats.t.interval(0.9, 2, loc=d.mean(), scale=stats.sem(d))
    assert (iv.mean, iv.low, iv.high, iv.n, iv.level) == pytest.approx((-0.2, low, high, 3, 0.9), rel=1e-9)
    assert iv.verdict("negative") == ("yes" if high < 0 else "undecided")


def test_flag_verdict():
    assert ev.flag_verdict(True) == "yes" and ev.flag_verdict(np.bool_(False)) == "no"
    with pytest.raises(TypeError, match="flag must be a boolean"):
        ev.flag_verdict("yes")


# --- slope_interval ---------------------------------------------------------------------------------------------


def _scipy_slope_interval(x, samples, reduce, n_resamples, level=0.95):
    """The same percentile interval from scipy.stats.bootstrap: seeds (rows) resampled together."""
    u = np.log(x) - np.log(x).mean()

    def slope(data, axis):  # data: (K, ..., M) with the seeds on `axis` (= -1)
        logs = np.log(reduce(data, axis=axis))  # (K, ...)
        return np.tensordot(u, logs, axes=(0, 0)) / (u @ u)

    res = stats.bootstrap((samples,), slope, axis=0, vectorized=True, method="percentile",
                          confidence_level=level, n_resamples=n_resamples, random_state=np.random.default_rng(7))
    return res.confidence_interval, res.bootstrap_distribution


@pytest.mark.parametrize("statistic, reduce", [("mean", np.mean), ("median", np.median)])
def test_slope_interval_matches_scipy_bootstrap(statistic, reduce):
    """Our paired percentile interval and scipy's agree within Monte Carlo error.

    Both are percentile intervals of the same bootstrap law, drawn with different random streams. An end of
    the interval is the 2.5% (97.5%) quantile of B = 10000 resampled slopes; its Monte Carlo standard deviation is
    sqrt(p (1 - p) / B) / density, about 0.019 sigma for a roughly normal law of standard deviation sigma
    (density phi(1.96) / sigma), so the difference of two independent draws has sd about 0.027 sigma. The
    medians' law is lumpier (a median of resampled values takes few distinct values), so we allow 0.25 sigma:
    about 9 standard deviations for the smooth mean, and still far below the width of the interval (3.9 sigma).
    """
    rng = np.random.default_rng(3)
    x = np.array([8.0, 16, 32, 64, 128])
    samples = x**-0.5 * rng.lognormal(0.0, 0.4, size=(30, 1)) * rng.lognormal(0.0, 0.3, size=(30, 5))
    fit = ev.slope_interval(x, samples, statistic=statistic, n_boot=10_000, seed=1)
    ci, dist = _scipy_slope_interval(x, samples, reduce, 10_000)
    sigma = dist.std()
    assert fit.estimate == pytest.approx(np.polyfit(np.log(x), np.log(reduce(samples, axis=0)), 1)[0], abs=1e-12)
    assert abs(fit.low - ci.low) < 0.25 * sigma and abs(fit.high - ci.high) < 0.25 * sigma
    assert fit.high - fit.low > 3 * sigma  # the tolerance is small beside the interval itself


@pytest.mark.parametrize("statistic", ["median", "iqr", "mad", "mean"])
def test_slope_interval_exact_power_law_is_degenerate(statistic):
    """Each seed's values are c_m x^p exactly: every statistic of a resample is (statistic of c) x^p, since a
    positive factor commutes with order statistics and means, so every paired resample gives the slope p and the
    interval collapses to it (up to rounding in the logarithms, 1e-12 relative)."""
    x = np.array([0.01, 0.02, 0.05, 0.1])
    c = np.random.default_rng(0).lognormal(0.0, 1.0, size=(40, 1))  # 40 seeds: no resample has IQR or MAD 0
    fit = ev.slope_interval(x, c * x**1.5, statistic=statistic, n_boot=200)
    assert (fit.estimate, fit.low, fit.high) == pytest.approx((1.5, 1.5, 1.5), abs=1e-9)
    assert fit.contains((fit.low + fit.high) / 2) and not fit.contains(1.49) and not fit.contains(1.51)
    assert fit.verdict("positive", 1.0) == "yes" and fit.verdict("negative", 1.0) == "no"
    assert fit.statistic == statistic and fit.n_boot == 200 and fit.level == 0.95


def test_slope_interval_reproducible_and_str():
    rng = np.random.default_rng(5)
    x = np.array([16, 64, 256])
    samples = x**-1.0 * rng.lognormal(0.0, 0.5, size=(20, 3))
    a = ev.slope_interval(x, samples, seed=4)
    assert a == ev.slope_interval(x, samples, seed=4)
    assert a != ev.slope_interval(x, samples, seed=5)
    assert a.low < a.estimate < a.high
    assert str(a) == f"{a.estimate:.2f} (95% interval {a.low:.2f} to {a.high:.2f})"
    assert a.verdict("negative", reference=0.0) == "yes"
    assert math.exp(a.intercept) == pytest.approx(np.exp(np.polyfit(np.log(x), np.log(np.median(samples, 0)), 1)[1]))


def test_slope_interval_unpaired_matches_independent_resampling():
    """paired=False resamples each column on its own: compare with a direct loop over columns, same generator."""
    rng = np.random.default_rng(2)
    x = np.array([10.0, 100.0, 1000.0])
    cols = [xk**-0.5 * rng.lognormal(0.0, 0.3, size=m) for xk, m in zip(x, (12, 7, 20), strict=True)]
    fit = ev.slope_interval(x, cols, paired=False, n_boot=500, seed=9)
    gen = np.random.default_rng(9)
    boot = np.empty((500, 3))
    for j, col in enumerate(cols):
        boot[:, j] = np.median(col[gen.integers(0, col.size, size=(500, col.size))], axis=1)
    slopes = np.polyfit(np.log(x), np.log(boot.T), 1)[0]
    assert (fit.low, fit.high) == pytest.approx(tuple(np.percentile(slopes, [2.5, 97.5])), abs=1e-12)
    # the paired fit of a 2-d array and the unpaired fit of its columns share the estimate, not the interval
    arr = np.stack([c[:7] for c in cols], axis=1)
    p, u = ev.slope_interval(x, arr), ev.slope_interval(x, arr, paired=False)
    assert p.estimate == pytest.approx(u.estimate) and (p.low, p.high) != (u.low, u.high)


def test_slope_interval_callable_statistic():
    x = np.array([1.0, 2.0, 4.0])
    samples = np.random.default_rng(0).lognormal(size=(10, 3)) * x
    def q90(a, axis=0):
        return np.quantile(a, 0.9, axis=axis)
    fit = ev.slope_interval(x, samples, statistic=q90, n_boot=100)
    assert fit.statistic == "q90"
    with pytest.raises(ValueError, match="statistic must reduce axis 0"):
        ev.slope_interval(x, samples, statistic=lambda a, axis=0: a)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"x": [1.0]}, ValueError, "x must hold at least 2"),
        ({"x": [1.0, 1.0, 2.0]}, ValueError, "x must be distinct"),
        ({"x": [0.0, 1.0, 2.0]}, ValueError, "x must be positive"),
        ({"x": [1.0, np.inf, 2.0]}, ValueError, "x must be finite"),
        ({"x": [1.0, 2.0]}, ValueError, r"samples must have shape \(M, 2\)"),
        ({"samples": np.ones((1, 3))}, ValueError, "at least 2 seeds"),
        ({"samples": [[1.0, np.nan, 2.0], [1.0, 1.0, 1.0]]}, ValueError, "samples must be finite"),
        ({"samples": -np.ones((4, 3))}, ValueError, "not a positive finite number on the data"),
        ({"samples": np.ones((4, 3)), "statistic": "iqr"}, ValueError, "logarithm is undefined"),
        ({"statistic": "mode"}, ValueError, "statistic must be one of"),
        ({"statistic": 3}, TypeError, "statistic must be one of"),
        ({"level": 1.0}, ValueError, "level"),
        ({"n_boot": 2.5}, TypeError, "n_boot"),
        ({"n_boot": 20}, ValueError, "n_boot must be at least 40"),
        ({"seed": -1}, ValueError, "seed"),
        ({"paired": 1}, TypeError, "paired"),
        ({"samples": None}, TypeError, "samples"),
        ({"samples": "abc", "paired": False}, TypeError, "samples"),
        ({"samples": [[1.0, 2.0]] * 2, "paired": False}, ValueError, "one array per x"),
        ({"samples": [[1.0, 2.0], [1.0], [2.0, 3.0]], "paired": False}, ValueError, r"samples\[1\] must hold"),
    ],
)
def test_slope_interval_bad_input(kwargs, error, match):
    args = {"x": [1.0, 2.0, 4.0], "samples": np.arange(1.0, 13.0).reshape(4, 3)} | kwargs
    with pytest.raises(error, match=match):
        ev.slope_interval(args.pop("x"), args.pop("samples"), **args)


def test_slope_interval_zero_statistic_in_a_resample():
    """Data whose IQR is positive but whose resamples can have IQR 0 (ties): a clear error, not -inf slopes."""
    x = np.array([1.0, 2.0])
    samples = np.array([[1.0, 1.0]] * 3 + [[2.0, 3.0]] * 3)  # a resample with 5 equal rows has IQR 0 (p = 0.22)
    with pytest.raises(ValueError, match="in a bootstrap resample"):
        ev.slope_interval(x, samples, statistic="iqr", n_boot=200)
