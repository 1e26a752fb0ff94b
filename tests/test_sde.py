"""Tests for htsgd.sde: stable increments, coarsening, the Euler scheme, OU laws, fitted orders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from htsgd.sde import convergence_order


def test_convergence_order_recovers_a_power_law():
    steps = np.array([0.1, 0.05, 0.02, 0.01])
    for p in (0.5, 1.0, 1 / 1.5, 2.0):
        assert convergence_order(steps, 3.0 * steps**p) == pytest.approx(p, rel=1e-12)


def test_convergence_order_is_the_least_squares_slope():
    rng = np.random.default_rng(0)
    steps = np.geomspace(1e-3, 1e-1, 7)
    errors = steps * np.exp(rng.normal(0, 0.1, 7))
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert convergence_order(steps, errors) == pytest.approx(slope, rel=1e-12)


@pytest.mark.parametrize(
    ("steps", "errors", "match"),
    [
        ([0.1, 0.05], [1.0], "same length"),
        ([0.1], [1.0], "at least 2"),
        ([0.1, 0.1], [1.0, 2.0], "distinct"),
        ([0.1, -0.05], [1.0, 2.0], "steps"),
        ([0.1, 0.05], [1.0, math.nan], "errors"),
        ([[0.1, 0.05]], [1.0, 2.0], "1-dimensional"),
    ],
)
def test_convergence_order_bad_input(steps, errors, match):
    with pytest.raises(ValueError, match=match):
        convergence_order(steps, errors)
