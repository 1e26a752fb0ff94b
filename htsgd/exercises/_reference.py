"""What a reference answer is: the record each chapter's module of ``htsgd.exercises`` fills in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["ROUNDING", "Reference"]

#: The ``why`` of a reference whose value is exact (a closed form, a root, a count).
ROUNDING = "an exact value: the tolerance only allows rounding to about four significant digits"


@dataclass(frozen=True)
class Reference:
    """How one exercise's answer is checked (its practice variant) and graded (variants the instructor draws).

    Attributes
    ----------
    label : str
        The exercise's label in the book (``ex-<chapter>-<n>``).
    asks : str
        What ``answer`` must hold, in one sentence, at the practice parameters.
    compute : callable
        ``compute(**params)`` returns the reference value at those parameters, computed with htsgd.
    rtol, atol : float
        An answer passes when ``|answer - ref| <= atol + rtol * |ref|``.
    why : str
        Why the tolerance is what it is (standard error, rounding, bias at finite size).
    hint : str
        Printed by the self-check when the answer is off.
    practice : mapping of str to number
        The parameters the exercise's text states: the book's solution and the reader's self-check use them.
    graded : mapping of str to (low, high)
        The range of each parameter that a graded variant may take (ints for an integer parameter); the
        instructor's kit draws the graded values inside them, and the student's ``solve`` must work for any.
        Empty for an exercise whose answer no parameter changes (a constant of the theory): its self-check
        gives a hint only, since any verdict would be a verdict on the graded answer.

    Introduced in the chapter *Stable distributions*.
    """

    label: str
    asks: str
    compute: Callable[..., float]
    rtol: float
    atol: float
    why: str
    hint: str
    practice: Mapping[str, float] = field(default_factory=dict)
    graded: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.graded) != set(self.practice):
            raise ValueError(f"{self.label}: graded ranges {sorted(self.graded)} must name the practice parameters "
                             f"{sorted(self.practice)}")

    @property
    def fixed(self) -> bool:
        """True when no parameter changes the answer: graded by its value, self-checked by a hint only."""
        return not self.practice

    def allowed(self, value: float) -> float:
        """The tolerance around the reference value ``value``."""
        return self.atol + self.rtol * abs(value)
