"""Argument validation shared by every module of :mod:`htsgd`.

Every public function checks its arguments early with these helpers, so a bad
value fails at the call with a message that names the argument, the value it
got and the range it accepts, instead of surfacing later as a silent NaN.

All helpers return the validated (and normalised) value, so they can be used
inline: ``alpha = check_real("alpha", alpha, low=0, high=2, low_open=True)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_real",
    "check_int",
    "check_choice",
    "check_size",
    "check_dtype",
    "check_bool",
    "check_finite",
    "real_tensor",
    "real_array",
]

#: The most elements a torch tensor can index.
_MAX_NUMEL = 2**63 - 1

#: Floating dtypes that every sampler and network in htsgd supports.
FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(" if (low_open or low is None) else "["
    right = ")" if (high_open or high is None) else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = False,
) -> float:
    """Validate a real scalar and return it as a Python ``float``.

    Parameters
    ----------
    name : str
        The argument's name, used in the error message.
    value : Any
        The value to check. Python and numpy reals and 0-d tensors are accepted;
        ``bool`` is rejected (``True`` is not a step size).
    low, high : float, optional
        Bounds of the allowed interval; ``None`` means unbounded.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    finite : bool
        Reject ``inf`` and ``-inf`` even where the interval is unbounded (a step size,
        a scale or a location must be a number, not a limit).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If ``value`` is NaN or outside the interval (or infinite with ``finite=True``).
    """
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise TypeError(f"{name} must be a real scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    x = float(value)
    interval = _interval(low, high, low_open, high_open)
    if math.isnan(x):
        raise ValueError(f"{name} must be a number in {interval}, got nan")
    if finite and math.isinf(x):
        raise ValueError(f"{name} must be a finite number in {interval}, got {x}")
    too_low = low is not None and (x < low or (low_open and x == low))
    too_high = high is not None and (x > high or (high_open and x == high))
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return x


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Validate an integer in ``[low, high]`` and return it as a Python ``int``.

    Floats with an integral value (``3.0``) are rejected: sizes and counts must be
    integers, and accepting ``2.5`` silently truncated is a classic bug.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` included).
    ValueError
        If ``value`` lies outside ``[low, high]``.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    n = int(value)
    if (low is not None and n < low) or (high is not None and n > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {n}")
    return n


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Validate that ``value`` is one of ``choices`` and return it.

    Raises
    ------
    ValueError
        Naming the argument, the value and the allowed choices.
    """
    options = tuple(choices)
    if value not in options:
        allowed = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Validate a flag: only ``True`` and ``False`` are accepted."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_size(name: str, size: Any) -> tuple[int, ...]:
    """Validate a sample size: a non-negative int or a sequence of them.

    Returns
    -------
    tuple of int
        ``(size,)`` for an int, the tuple itself otherwise (``()`` is a scalar draw).

    Raises
    ------
    TypeError
        If ``size`` or an entry of it is not an integer (``2.0`` included).
    ValueError
        If an entry is negative, or the shape has more elements than a tensor can index.
    """
    if isinstance(size, torch.Size):
        size = tuple(size)
    if isinstance(size, Sequence) and not isinstance(size, (str, bytes)):
        shape = tuple(check_int(f"{name}[{i}]", s, low=0) for i, s in enumerate(size))
        if math.prod(shape) > _MAX_NUMEL:
            raise ValueError(
                f"{name} {shape} has {math.prod(shape)} elements, more than a tensor can index (2**63 - 1)"
            )
        return shape
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative integer or a tuple of them, "
            f"got {type(size).__name__} {size!r}"
        )
    return (check_int(name, size, low=0, high=_MAX_NUMEL),)


def check_dtype(
    name: str, dtype: Any, allowed: Sequence[torch.dtype] = FLOAT_DTYPES
) -> torch.dtype:
    """Validate a torch floating dtype among ``allowed`` (float32 and float64 by default)."""
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {type(dtype).__name__} {dtype!r}")
    if dtype not in allowed:
        ok = ", ".join(str(d) for d in allowed)
        raise ValueError(f"{name} must be one of {ok}; got {dtype}")
    return dtype


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Raise ``ValueError`` if ``tensor`` holds a NaN or an infinity."""
    if not torch.is_tensor(tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"{name} must be finite; it has {bad} non-finite entries")
    return tensor


def real_tensor(name: str, x: Any) -> tuple[torch.Tensor, bool]:
    """Convert array-like input to a real floating tensor; the one input conversion of htsgd.

    Returns ``(tensor, was_tensor)``. A floating tensor is detached and kept as it is (dtype
    and device, bfloat16 and float16 included); an integer or boolean tensor becomes torch's
    default float dtype. Anything else goes through ``numpy.asarray``: floating arrays keep
    their dtype, integer and boolean ones become float64.

    Raises
    ------
    TypeError
        Naming ``name``, for complex input (its imaginary part would be lost), ``None``,
        strings and other non-numeric objects.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.is_complex():
            raise TypeError(f"{name} must be real, got a complex tensor ({t.dtype})")
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        return t, True
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and other exotic inputs
        raise TypeError(f"{name} must be a real number or an array of them, got {type(x).__name__}") from err
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex values (dtype {arr.dtype}); pass {name}.real or abs({name})")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a real number or an array of them, got {type(x).__name__} {x!r}"[:200])
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    return torch.from_numpy(arr), False


def real_array(name: str, x: Any) -> np.ndarray:
    """:func:`real_tensor`, then a float64 numpy array on the CPU (a copy where needed)."""
    t, _ = real_tensor(name, x)
    return t.to("cpu", torch.float64).numpy()
