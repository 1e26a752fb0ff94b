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
    with pytest.raises(ValueError, match="frac0.5"):
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


# --- input checks (issue 20, item 16): each failed on the old code ----------------------------------------------


def test_mean_interval_refuses_infinite_values():
    """Old: an interval with NaN bounds and verdict "undecided"; a mean with an infinite term has no interval."""
    with pytest.raises(ValueError, match="values must be finite.*1 are infinite"):
        ev.mean_interval([0.1, math.inf, 0.2])
    with pytest.raises(ValueError, match="infinite"):
        ev.paired_interval(_table().assign(test_acc=[math.inf] + [0.8] * 8), "test_acc",
                           {"role": "grid", "alpha": 1.5}, "matched")


@pytest.mark.parametrize("values", [None, "abc", [1.0, "x"], [[1.0], [2.0, 3.0]], [1 + 2j, 3.0]])
def test_mean_interval_refuses_non_numbers(values):
    """Old: None gave an empty interval (n = 0) and strings a bare numpy error."""
    with pytest.raises(TypeError, match="values"):
        ev.mean_interval(values)


def test_unknown_columns_are_named_with_the_available_ones():
    """Old: bare pandas KeyErrors ('acc') from paired, median_iqr and accuracy_drop."""
    frame = _table()
    with pytest.raises(ValueError, match=r"no column .acc.; the table has hash, role, matched_to"):
        ev.paired(frame, "acc", {"role": "grid", "alpha": 1.5}, "matched")
    with pytest.raises(ValueError, match="no column 'aplha'"):
        ev.paired(frame, "test_acc", {"role": "grid", "aplha": 1.5}, "matched")
    with pytest.raises(ValueError, match="no column 'sed'"):
        ev.paired(frame, "test_acc", {"role": "grid", "alpha": 1.5}, "matched", on="sed")
    with pytest.raises(ValueError, match="no column 'acc'"):
        ev.median_iqr(frame, "acc", by="seed")
    with pytest.raises(ValueError, match="no column 'width'"):
        ev.median_iqr(frame, "test_acc")
    with pytest.raises(ValueError, match="no column 'test_acc'"):
        ev.accuracy_drop(frame.drop(columns="test_acc"), "frac0.5")
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame, got None"):
        ev.median_iqr(None, "test_acc", by="seed")


def test_median_iqr_by_a_single_column_name():
    """Old: by='seed' grouped by the characters s, e, e, d (a KeyError, or a wrong table with such columns)."""
    frame = _table()
    out = ev.median_iqr(frame, "test_acc", by="seed")
    assert out.index.name == "seed" and out.index.tolist() == [0, 1, 2]
    assert out["n"].tolist() == [3, 3, 3]
    assert out.loc[1, "median"] == pytest.approx(0.85)
    assert out.equals(ev.median_iqr(frame, "test_acc", by=["seed"]))


# --- claims, verdicts, Holm, matched accuracy (issue 19 §5) -------------------------------------------------------


def _claim(**kw):
    base = {"key": "robust", "text": "noise loses less at 50% pruned", "kind": "paper", "scope": "heavy tails",
            "frame": "t", "metric": ("test_acc", "prune/frac0.5/test_acc"), "treated": {"role": "grid", "alpha": 1.5},
            "control": "matched", "predicted": "negative"}
    return ev.Claim(**(base | kw))


def test_holm_hand_example_and_definition():
    """p = (0.01, 0.04, 0.03, 0.005): sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 is 0.02, 0.03, 0.06, 0.04;
    the running maximum gives 0.02, 0.03, 0.06, 0.06, put back in the input order."""
    assert ev.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert ev.holm([0.5]) == pytest.approx([0.5]) and ev.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    # Holm as the closed testing procedure of Bonferroni tests: H_i is rejected at level a iff every intersection
    # hypothesis containing i has min p_j * |J| <= a; the adjusted p is the smallest such a.
    rng = np.random.default_rng(0)
    from itertools import combinations
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=5)
        closed = [max(min(1.0, len(J) * p[list(J)].min()) for r in range(1, 6)
                      for J in combinations(range(5), r) if i in J) for i in range(5)]
        assert ev.holm(p) == pytest.approx(closed, abs=1e-12)
    with pytest.raises(ValueError, match="p_values"):
        ev.holm([0.1, 1.5])


def test_assess_paired_claim_is_the_paired_interval():
    frame = _table()
    found = ev.assess([_claim()], {"t": frame})
    f = found["robust"]
    iv = ev.paired_interval(frame, ev.accuracy_drop(frame, "frac0.5"), {"role": "grid", "alpha": 1.5}, "matched")
    assert (f.estimate, f.low, f.high, f.n) == pytest.approx((iv.mean, iv.low, iv.high, iv.n))
    assert f.verdict == iv.verdict("negative")
    # the reported p-value is the one-sample t-test's, which the Student-t interval inverts
    assert f.p_value == pytest.approx(stats.ttest_1samp([-0.31, -0.20, -0.09], 0.0).pvalue)
    assert f.p_holm == f.p_value and "3 seeds" in f.measured


def test_assess_not_computed_and_table():
    claims = [_claim(), _claim(key="dg", frame="digits", text="on the digits too"),
              _claim(key="rule", text="mce beats random " * 6, kind="pruning rule", control=None,
                     metric="test_acc", predicted="positive")]
    found = ev.assess(claims, {"t": _table(), "digits": None})
    assert found["dg"].verdict == ev.NOT_COMPUTED and found["dg"].measured == "not computed"
    assert found["dg"].sentence == "on the digits too: not computed (no results table 'digits')"
    assert found["rule"].verdict == "yes"  # test accuracies around 0.8 are positive
    table = found.table()
    assert list(table.columns) == ["kind", "scope", "prediction", "measured", "verdict"]
    assert table.index.name == "claim" and table.index.tolist() == [c.text for c in claims]
    assert table.loc["on the digits too", "verdict"] == "not computed"
    assert set(table["verdict"]) <= {"holds", "fails", "undecided", "not computed"}
    html = found._repr_html_()
    assert claims[2].text.strip() in html and "..." not in html  # no truncated cells
    assert found.counts() == {"yes": 1, "no": 0, "undecided": 1, "not computed": 1} | {
        found["robust"].verdict: found.counts()[found["robust"].verdict]}
    assert sum(found.counts().values()) == len(found) == 3


def test_assess_glues_sentences_numbers_and_counts():
    words = ("lost less", "lost more", "not settled")
    found = ev.assess([_claim(words=words)], {"t": _table()})
    glued = {}
    found.glue(lambda name, value, display: glued.__setitem__(name, str(getattr(value, "data", value))), "exp")
    assert glued["exp-s-robust"] == dict(zip(ev.VERDICTS, words, strict=True))[found["robust"].verdict]
    assert glued["exp-m-robust"] == found["robust"].measured
    assert glued["exp-n-claims"] == "1" and "exp-n-not-computed" in glued


def test_holm_family_can_turn_a_significant_claim_undecided():
    """Six claims with the same data: each alone holds (p = 0.032 < 0.05), as a family of six none survives
    (Holm p = min(1, 6 x 0.032) > 0.05)."""
    diffs = np.array([-0.05, -0.01, -0.06, -0.02, -0.04])
    p = stats.ttest_1samp(diffs, 0.0).pvalue
    rows = [{"hash": f"h{s}", "role": "grid", "matched_to": None, "alpha": 1.5, "seed": s, "d": d}
            for s, d in enumerate(diffs)]
    frame = pd.DataFrame(rows)
    claims = [_claim(key=f"c{i}", metric="d", control=None) for i in range(6)]
    alone = ev.assess(claims, {"t": frame})
    family = ev.assess([ev.Claim(**{**c.__dict__, "family": "six"}) for c in claims], {"t": frame})
    assert 0.01 < p < 0.05
    assert all(f.verdict == "yes" and f.p_holm == pytest.approx(p) for f in alone)
    assert all(f.verdict == "undecided" and f.p_holm == pytest.approx(min(1, 6 * p)) for f in family)
    assert "Holm p" in family[0].measured and "family 'six' of 6" in family[0].measured


def test_median_and_trend_claims():
    rows = []
    for w, (clean, noisy) in {128: (0.2, 0.3), 512: (0.25, 0.45), 2048: (0.3, 0.6)}.items():
        for s in range(3):
            rows += [{"hash": f"c{w}{s}", "role": "grid", "matched_to": None, "alpha": None, "width": w, "seed": s,
                      "frac": clean + 0.01 * s},
                     {"hash": f"n{w}{s}", "role": "grid", "matched_to": None, "alpha": 1.5, "width": w, "seed": s,
                      "frac": noisy + 0.01 * s}]
    frame = pd.DataFrame(rows)
    common = {"kind": "paper", "scope": "heavy tails", "frame": "w", "metric": "frac", "across": "width",
              "treated": {"alpha": 1.5}, "predicted": "positive"}
    claims = [ev.Claim("above", "noise prunes more at every width", method="medians", control={"alpha": None}, **common),
              ev.Claim("grows", "it grows with the width", method="trend", control=None, **common),
              ev.Claim("lead", "its lead grows", method="trend", control={"alpha": None}, **common),
              ev.Claim("falls", "it falls with the width", method="trend", control=None,
                       **(common | {"predicted": "negative"}))]
    found = ev.assess(claims, {"w": frame})
    assert [f.verdict for f in found] == ["yes", "yes", "yes", "no"]
    assert found["above"].measured == "median differences +0.100, +0.200, +0.300 at width 128, 512, 2048, no interval"
    assert found["grows"].measured == "medians 0.310, 0.460, 0.610 at width 128, 512, 2048, no interval"
    assert found.table().loc["it grows with the width", "prediction"] == "rises at every step"


def test_at_accuracy_interpolates_the_first_crossing():
    frame = pd.DataFrame({"seed": [0] * 4 + [1] * 4, "sigma": [0.0, 0.01, 0.1, 1.0] * 2,
                          "test_acc": [0.95, 0.94, 0.90, 0.50, 0.92, 0.80, 0.85, 0.40],
                          "frac": [0.1, 0.2, 0.4, 0.9, 0.1, 0.3, 0.5, 0.95]})
    # seed 0: 0.92 lies between 0.94 and 0.90, halfway: frac 0.3; seed 1 starts at 0.92: frac 0.1
    out = ev.at_accuracy(frame, "frac", pd.Series({0: 0.92, 1: 0.92}))
    assert out.tolist() == pytest.approx([0.3, 0.1])
    # seed 1 first falls to 0.81 between sigma 0 and 0.01 (later values above it do not matter)
    assert ev.at_accuracy(frame, "frac", 0.81).tolist() == pytest.approx([0.4 + 0.09 / 0.4 * 0.5, 0.1 + 0.11 / 0.12 * 0.2])
    assert np.isnan(ev.at_accuracy(frame, "frac", 0.3)).all()  # never that low
    assert np.isnan(ev.at_accuracy(frame, "frac", 0.99)).all()  # starts below it
    with pytest.raises(ValueError, match="repeats a value of 'sigma'"):
        ev.at_accuracy(pd.concat([frame, frame]), "frac", 0.9)
    with pytest.raises(ValueError, match="no column 'acc'"):
        ev.at_accuracy(frame, "frac", 0.9, accuracy="acc")


def _frontier(n_seeds=20):
    """A toy version of the accuracy-compressibility map (issue 22): per seed, accuracy falls with sigma and
    the prunable fraction rises; at the same accuracy alpha 1.5 prunes 0.1 more than alpha 2, up to noise."""
    rng = np.random.default_rng(1)
    rows = []
    for s in range(n_seeds):
        clean = 0.95 + 0.005 * rng.standard_normal()
        rows.append({"seed": s, "alpha": None, "sigma": 0.0, "test_acc": clean, "prunable": 0.1, "role": "grid"})
        for alpha, gain in ((2.0, 0.0), (1.5, 0.1)):
            for sigma in (1e-5, 1e-4, 0.001, 0.003, 0.01, 0.03, 0.1):
                loss = 0.5 * sigma**0.5 * (1.3 if alpha == 1.5 else 1.0)
                acc = clean - loss
                rows.append({"seed": s, "alpha": alpha, "sigma": sigma, "test_acc": acc, "role": "grid",
                             "prunable": 0.2 + 2 * loss + gain + 0.01 * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_claims_at_matched_accuracy_with_holm_family():
    """The issue-22 question on a toy map: at the noise-free accuracy minus 1 and 2 points, does alpha 1.5 prune
    more than alpha 2? Family: accuracy levels x comparators, Holm-corrected."""
    frame = _frontier()
    claims = [ev.Claim(f"at-{int(100 * drop)}", f"alpha 1.5 prunes more than alpha 2 at -{100 * drop:g} points",
                       "paper", "heavy tails", "map", ev.AtAccuracy("prunable", drop, {"alpha": None}),
                       {"alpha": 1.5}, {"alpha": 2.0}, family="map")
              for drop in (0.01, 0.02)]
    found = ev.assess(claims, {"map": frame})
    assert [f.verdict for f in found] == ["yes", "yes"] and all(f.n == 20 for f in found)
    # the estimate is the mean over seeds of the two interpolated curves' difference
    ref = frame[frame.alpha.isna()].set_index("seed")["test_acc"] - 0.01
    direct = (ev.at_accuracy(frame[frame.alpha == 1.5], "prunable", ref)
              - ev.at_accuracy(frame[frame.alpha == 2.0], "prunable", ref)).mean()
    assert found["at-1"].estimate == pytest.approx(direct)
    assert 0.05 < found["at-1"].estimate < 0.15
    assert found["at-1"].p_holm >= found["at-1"].p_value


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"kind": "theory"}, ValueError, "kind must be one of"),
        ({"scope": "all"}, ValueError, "scope must be one of"),
        ({"predicted": "up"}, ValueError, "predicted"),
        ({"method": "mean"}, ValueError, "method"),
        ({"key": "a b"}, ValueError, "key"),
        ({"metric": 3}, TypeError, "metric"),
        ({"treated": None}, TypeError, "treated"),
        ({"control": "early"}, ValueError, "control"),
        ({"method": "trend"}, ValueError, "across"),
        ({"method": "medians", "family": "f"}, ValueError, "only paired claims"),
        ({"words": {"yes": "a"}}, ValueError, "missing"),
        ({"words": ("a", "b")}, TypeError, "words"),
        ({"metric": ev.AtAccuracy("f", 0.01, {"alpha": None})}, ValueError, "AtAccuracy"),
    ],
)
def test_claim_checks_its_fields(kw, error, match):
    with pytest.raises(error, match=match):
        _claim(**kw)


def test_assess_checks_its_input():
    with pytest.raises(ValueError, match="distinct"):
        ev.assess([_claim(), _claim()], {"t": _table()})
    with pytest.raises(TypeError, match="Claim"):
        ev.assess(["robust"], {"t": _table()})
    with pytest.raises(ValueError, match="no column 'acc'"):
        ev.assess([_claim(metric="acc")], {"t": _table()})
    with pytest.raises(KeyError, match="no claim 'x'"):
        ev.assess([_claim()], {"t": _table()})["x"]


def test_the_frontier_family_of_issue_22():
    """The verdict the accuracy-compressibility map asks for, on the toy map at two widths: per seed, the prunable
    fraction at the noise-free accuracy minus 0.5, 1 and 2 points, alpha 1.5 against alpha 2 and against no noise
    (which enters at its own accuracy), Holm over the stated family widths x accuracy levels x comparators (12).
    At the same accuracy alpha 1.5 prunes 0.1 more than alpha 2 by construction, and 0.2 + 2 x (the accuracy lost)
    more than the noise-free network's 0.1, so every claim holds, even after the correction."""
    frame = pd.concat([_frontier().assign(width=w) for w in (256, 1024)], ignore_index=True)
    claims = [
        ev.Claim(f"w{w}-d{int(200 * d)}-{name.replace(' ', '-')}",
                 f"width {w}, -{100 * d:g} points: alpha 1.5 prunes more than {name}", "paper", "heavy tails", "map", ev.AtAccuracy("prunable", d, {"alpha": None, "width": w}),
                 {"alpha": 1.5, "width": w}, {"alpha": alpha, "width": w}, family="frontier")
        for w in (256, 1024) for d in (0.005, 0.01, 0.02) for name, alpha in (("alpha 2", 2.0), ("no noise", None))
    ]
    found = ev.assess(claims, {"map": frame})
    assert len(found) == 12 and all(f.verdict == "yes" for f in found)
    assert all("family 'frontier' of 12" in f.measured for f in found)
    raw = np.array([f.p_value for f in found])
    assert np.array([f.p_holm for f in found]) == pytest.approx(ev.holm(raw))
    versus_none = found["w256-d2-no-noise"]  # alpha 1.5 at -1 point against the noise-free 0.1
    assert versus_none.estimate == pytest.approx(0.2 + 2 * 0.01, abs=0.01)


@pytest.mark.parametrize("low,high,expected", [
    (-0.6, -0.55, ((), 0)),                 # below both
    (-0.48, -0.34, ((), 1)),                # between
    (-0.30, -0.20, ((), 2)),                # above both
    (-0.5, -0.40, ((-0.5,), None)),         # a closed interval contains its end
    (-0.35, -0.28, ((-1 / 3,), None)),
    (-0.65, -0.26, ((-0.5, -1 / 3), None)),
])
def test_locate_interval_by_hand(low, high, expected):
    assert ev.locate_interval(low, high, [-1 / 3, -0.5]) == expected  # references in any order


@pytest.mark.parametrize("low,high,refs", [(0.2, 0.1, [0.0]), (float("nan"), 1.0, [0.0]), (0.0, 1.0, []),
                                           (0.0, 1.0, [0.5, 0.5]), (0.0, 1.0, [float("inf")])])
def test_locate_interval_refuses_bad_input(low, high, refs):
    with pytest.raises(ValueError):
        ev.locate_interval(low, high, refs)
