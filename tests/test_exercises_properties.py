"""Property-based tests (hypothesis) of ``htsgd.exercises.check`` (issue 20).

For any label and any answer, ``check`` either returns a bool that agrees with the stated tolerance or raises a
TypeError or ValueError that names the argument at fault: never OverflowError, KeyError, AttributeError or a
silent verdict on a NaN. The references are computed once (cached), so each example costs microseconds.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from htsgd import exercises as ex

PROFILE = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

#: Labels whose references are cheap to compute (the VGG one builds a 37M-parameter model): the check's logic is
#: the same for every label, and test_exercises.py checks each reference once.
CHEAP = ["ex-stable-2", "ex-stable-3", "ex-sgd-1", "ex-sde-3", "ex-meanfield-5", "ex-chaos-1"]
labels = hst.sampled_from(CHEAP)
finite_numbers = hst.one_of(
    hst.floats(allow_nan=False, allow_infinity=False),
    hst.integers(min_value=-(10**500), max_value=10**500),
    hst.fractions(max_denominator=10**6),
)


def _allowed(label: str) -> tuple[float, float]:
    spec = ex.REFERENCES[label]
    target = ex._practice_value(label)
    return target, spec.atol + spec.rtol * abs(target)


@PROFILE
@given(label=labels, answer=finite_numbers)
def test_any_finite_number_gets_a_verdict_that_matches_the_tolerance(label, answer):
    target, allowed = _allowed(label)
    verdict = ex.check(label, answer, verbose=False)
    assert isinstance(verdict, bool)
    exact = abs(Fraction(answer) - Fraction(target))  # exact arithmetic: no rounding decides the test
    if exact <= Fraction(allowed) * (1 - 1e-12):
        assert verdict
    elif exact >= Fraction(allowed) * (1 + 1e-12):
        assert not verdict


@PROFILE
@given(label=labels, offset=hst.floats(min_value=-0.999, max_value=0.999),
       wrap=hst.sampled_from(["float", "numpy", "numpy0d", "tensor", "tensor1"]))
def test_answers_within_the_tolerance_pass_in_every_container(label, offset, wrap):
    target, allowed = _allowed(label)
    value = target + offset * allowed
    answer = {"float": value, "numpy": np.float64(value), "numpy0d": np.array(value),
              "tensor": torch.tensor(value, dtype=torch.float64),
              "tensor1": torch.tensor([value], dtype=torch.float64)}[wrap]
    assert ex.check(label, answer, verbose=False)


junk = hst.one_of(
    hst.none(), hst.text(max_size=5), hst.binary(max_size=5), hst.booleans(), hst.complex_numbers(),
    hst.decimals(), hst.lists(hst.floats(), max_size=3), hst.just(Ellipsis), hst.just(np.ones(2)),
    hst.just(torch.zeros(0)), hst.just(np.array("1.0")), hst.sampled_from([math.nan, math.inf, -math.inf]),
)


@PROFILE
@given(label=labels, answer=junk)
def test_anything_else_is_a_type_or_value_error_naming_the_answer(label, answer):
    with pytest.raises((TypeError, ValueError), match="answer"):
        ex.check(label, answer, verbose=False)


@PROFILE
@given(label=hst.one_of(hst.text(max_size=20), hst.integers(), hst.none(), hst.just(("ex-stable-1",))))
def test_a_label_without_a_reference_is_a_type_or_value_error(label):
    if label in ex.REFERENCES:
        return
    with pytest.raises((TypeError, ValueError), match="label|self-check"):
        ex.check(label, 0.5, verbose=False)


@PROFILE
@given(verbose=hst.one_of(hst.text(max_size=3), hst.integers(), hst.none(), hst.floats()))
def test_verbose_must_be_a_bool(verbose):
    with pytest.raises(TypeError, match="verbose"):
        ex.check("ex-stable-6", 2 / math.pi, verbose=verbose)
