"""Argument validation: the error type, and a message naming the argument, value and range."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsgd._checks import (
    check_bool,
    check_choice,
    check_dtype,
    check_finite,
    check_int,
    check_real,
    check_size,
)


class TestCheckReal:
    def test_accepts_python_numpy_and_tensor_scalars(self):
        assert check_real("alpha", 1.5) == 1.5
        assert check_real("alpha", np.float32(1.5)) == 1.5
        assert check_real("alpha", torch.tensor(1.5)) == 1.5
        assert check_real("alpha", 2) == 2.0 and isinstance(check_real("alpha", 2), float)

    def test_interval_bounds(self):
        assert check_real("alpha", 2.0, low=0, high=2, low_open=True) == 2.0
        with pytest.raises(ValueError, match=r"alpha must be in \(0, 2\], got 0"):
            check_real("alpha", 0, low=0, high=2, low_open=True)
        with pytest.raises(ValueError, match=r"alpha must be in \(0, 2\], got 2.5"):
            check_real("alpha", 2.5, low=0, high=2, low_open=True)
        with pytest.raises(ValueError, match=r"lr must be in \(0, inf\)"):
            check_real("lr", -1e-3, low=0, low_open=True)
        with pytest.raises(ValueError, match=r"p must be in \[1, 2\)"):
            check_real("p", 2, low=1, high=2, high_open=True)

    def test_nan_is_rejected_even_without_bounds(self):
        with pytest.raises(ValueError, match="sigma must be a number in .* got nan"):
            check_real("sigma", math.nan)

    def test_finite_rejects_infinities(self):
        """Issue 12, item 5: scale = inf, lr = inf and loc = inf were accepted."""
        assert check_real("t", math.inf, low=0) == math.inf  # allowed unless finite=True
        with pytest.raises(ValueError, match=r"scale must be a finite number in \(0, inf\), got inf"):
            check_real("scale", math.inf, low=0, low_open=True, finite=True)
        with pytest.raises(ValueError, match="loc must be a finite number"):
            check_real("loc", -math.inf, finite=True)

    @pytest.mark.parametrize("bad", [True, "1.5", None, [1.0], 1 + 2j, torch.ones(2)])
    def test_non_reals_raise_type_error_naming_the_argument(self, bad):
        with pytest.raises(TypeError, match="^beta must be a real"):
            check_real("beta", bad)


class TestCheckInt:
    def test_accepts_integers(self):
        assert check_int("k", 3) == 3
        assert check_int("k", np.int64(3)) == 3
        assert check_int("k", torch.tensor(3)) == 3

    @pytest.mark.parametrize("bad", [3.0, 2.5, True, "3", None])
    def test_rejects_non_integers(self, bad):
        with pytest.raises(TypeError, match="^k must be an integer"):
            check_int("k", bad)

    def test_range(self):
        with pytest.raises(ValueError, match=r"width must be an integer in \[1, inf\], got 0"):
            check_int("width", 0, low=1)
        with pytest.raises(ValueError, match=r"k must be an integer in \[0, 10\], got 11"):
            check_int("k", 11, low=0, high=10)


def test_check_choice_lists_the_options():
    assert check_choice("noise", "per_neuron", ("per_neuron", "per_weight")) == "per_neuron"
    with pytest.raises(ValueError, match="noise must be one of 'per_neuron', 'per_weight'; got 'gauss'"):
        check_choice("noise", "gauss", ("per_neuron", "per_weight"))


def test_check_bool():
    assert check_bool("flag", False) is False
    with pytest.raises(TypeError, match="flag must be True or False"):
        check_bool("flag", 1)


class TestCheckSize:
    def test_int_and_tuple(self):
        assert check_size("size", 5) == (5,)
        assert check_size("size", (2, 3)) == (2, 3)
        assert check_size("size", torch.Size([4])) == (4,)
        assert check_size("size", ()) == ()
        assert check_size("size", 0) == (0,)

    @pytest.mark.parametrize("bad, exc", [(-1, ValueError), ((2, -3), ValueError), (2.5, TypeError), ((2, 1.0), TypeError), ("3", TypeError)])
    def test_bad_sizes(self, bad, exc):
        with pytest.raises(exc, match="size"):
            check_size("size", bad)

    def test_sizes_beyond_a_tensor(self):
        """Issue 12, item 10: (2**40, 2**40) reached torch and gave a C++ trace."""
        with pytest.raises(ValueError, match=r"size \(1099511627776, 1099511627776\) has .* more than a tensor"):
            check_size("size", (2**40, 2**40))
        with pytest.raises(ValueError, match="size"):
            check_size("size", 2**63)


def test_check_dtype():
    assert check_dtype("dtype", torch.float64) is torch.float64
    with pytest.raises(ValueError, match="dtype must be one of torch.float32, torch.float64; got torch.float16"):
        check_dtype("dtype", torch.float16)
    with pytest.raises(TypeError, match="dtype must be a torch.dtype"):
        check_dtype("dtype", "float32")


def test_check_finite_counts_bad_entries():
    check_finite("w", torch.ones(3))
    check_finite("idx", torch.arange(3))
    with pytest.raises(ValueError, match="w must be finite; it has 2 non-finite entries"):
        check_finite("w", torch.tensor([1.0, math.nan, math.inf]))
