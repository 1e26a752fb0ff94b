"""What a reference answer is: the record each chapter's module of ``htsgd.exercises`` fills in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ROUNDING", "Reference"]

#: The ``why`` of a reference whose value is exact (a closed form, a root, a count).
ROUNDING = "an exact value: the tolerance only allows rounding to about four significant digits"


@dataclass(frozen=True)
class Reference:
    """How one exercise's ``answer`` is checked.

    Attributes
    ----------
    label : str
        The exercise's label in the book (``ex-<chapter>-<n>``).
    asks : str
        What ``answer`` must hold, in one sentence.
    compute : callable
        No arguments; returns the reference value, computed with htsgd.
    rtol, atol : float
        The check passes when ``|answer - ref| <= atol + rtol * |ref|``.
    why : str
        Why the tolerance is what it is (standard error, rounding, bias at finite size).
    hint : str
        Printed when the check fails.

    Introduced in the chapter *Stable distributions*.
    """

    label: str
    asks: str
    compute: Callable[[], float]
    rtol: float
    atol: float
    why: str
    hint: str
