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
