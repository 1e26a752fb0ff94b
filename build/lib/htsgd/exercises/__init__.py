"""Self-checks for the book's exercises: reference answers computed by htsgd, never pasted.

Introduced in the chapter *Stable distributions*, whose exercises are the first to use it.
Every exercise of the book whose result is a number asks the reader to put it in a variable
``answer`` (an estimate, a fitted exponent, the value of a derived formula at stated
parameters); pure proofs ask for none. A student notebook then
runs ``hs.exercises.check("ex-stable-2", answer)``. The reference is recomputed here from
htsgd's own functions (a characteristic function, a survival function, a model's parameter
groups, a pruning rule) or, for the value of a derived formula, from the formula written
as code: it is never a number copied from a run. Each reference states its tolerance and
why (a standard error for Monte Carlo answers, rounding for exact ones), and a failed check
prints a hint instead of the answer.

The exercise labels follow the book's convention ``ex-<chapter>-<n>``; ``labels()`` lists
the ones that have a reference. The convention itself (the MyST ``{exercise}`` directive, its
``:class:`` and its gated solution) is read by ``book/_ext/exercise_convention.py``, next to the
book build and the scripts that use it.

Each chapter's references live in a module of their own, ``htsgd/exercises/_<chapter>.py``: a list
``REFERENCES`` of :class:`Reference` (and, where a chapter has them, ``UNCHECKED``), registered into
one table here. A new reference is one more ``Reference(...)`` in its chapter's list; a new chapter
is a new module added to ``_CHAPTERS`` below.
"""

from __future__ import annotations

import math
from functools import cache
from numbers import Real
from types import ModuleType
from typing import Any

from . import _chaos, _compressibility, _experiments, _meanfield, _sde, _sgd, _stable
from ._reference import Reference

__all__ = [
    "Reference",
    "REFERENCES",
    "UNCHECKED",
    "check",
    "labels",
    "reference",
]

#: The chapters' reference modules, in the book's order (the order of ``labels()``).
_CHAPTERS: tuple[ModuleType, ...] = (_stable, _sgd, _compressibility, _experiments, _sde, _meanfield, _chaos)


def _register(chapters: tuple[ModuleType, ...]) -> tuple[dict[str, Reference], dict[str, str]]:
    """One table of every chapter's references (and unchecked exercises); a label may appear once."""
    references: dict[str, Reference] = {}
    unchecked: dict[str, str] = {}
    for module in chapters:
        for ref in module.REFERENCES:
            if ref.label in references or ref.label in unchecked:
                raise RuntimeError(f"exercise {ref.label} is registered twice ({module.__name__})")
            references[ref.label] = ref
        for label, why in getattr(module, "UNCHECKED", {}).items():
            if label in references or label in unchecked:
                raise RuntimeError(f"exercise {label} is registered twice ({module.__name__})")
            unchecked[label] = why
    return references, unchecked


#: Every exercise with a self-check, by label.
REFERENCES: dict[str, Reference]
#: Exercises that ask for an ``answer`` with no reference: the answer is a statistic of the chapter's own
#: computed results (a sweep), which only the chapter has; their solution shows how it is computed.
UNCHECKED: dict[str, str]
REFERENCES, UNCHECKED = _register(_CHAPTERS)


def labels() -> tuple[str, ...]:
    """The labels of the exercises that have a reference answer.

    Introduced in the chapter *Stable distributions*.
    """
    return tuple(REFERENCES)


def _lookup(label: Any) -> Reference:
    if not isinstance(label, str):
        raise TypeError(f"label must be a str such as 'ex-stable-1', got {type(label).__name__} {label!r}")
    if label in UNCHECKED:
        raise ValueError(f"{label} has no self-check: {UNCHECKED[label]}; compare with the solution instead")
    if label not in REFERENCES:
        raise ValueError(f"label must be one of the exercises with a self-check ({', '.join(REFERENCES)}), got {label!r}")
    return REFERENCES[label]


@cache
def reference(label: str) -> float:
    """The reference answer of exercise ``label``, computed with htsgd (cached).

    Introduced in the chapter *Stable distributions*.

    >>> round(reference("ex-stable-6"), 6)  # C_1 = 2 / pi
    0.63662
    """
    return float(_lookup(label).compute())


def check(label: str, answer: Any, *, verbose: bool = True) -> bool:
    """Compare ``answer`` with the reference answer of exercise ``label``; print a hint if it is off.

    Parameters
    ----------
    label : str
        The exercise's label in the book, such as ``"ex-stable-2"`` (``labels()`` lists them).
    answer : float
        The reader's answer: one real number (a Python or numpy float, or a one-element tensor).
    verbose : bool
        Print the outcome (success with the tolerance used, or a hint on failure).

    Returns
    -------
    bool
        True when ``|answer - ref| <= atol + rtol |ref|`` with the tolerances of ``REFERENCES[label]``.
        A grading cell uses ``assert check(label, answer)``.

    Raises
    ------
    ValueError
        If ``label`` has no reference, or ``answer`` is not finite (NaN or infinite). A finite number beyond
        the float range (an int such as ``10**400``) is a wrong answer, not an error.
    TypeError
        If ``answer`` is not a real number (``...``, the scaffold's placeholder, included), or ``verbose`` is
        not a bool.

    Introduced in the chapter *Stable distributions*.

    >>> check("ex-stable-6", 0.6366, verbose=False)
    True
    >>> check("ex-stable-6", 1 / 3.14159, verbose=False)
    False
    """
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True or False, got {type(verbose).__name__} {verbose!r}")
    ref = _lookup(label)
    value = _as_float(answer, ref)
    target = reference(label)
    allowed = ref.atol + ref.rtol * abs(target)
    ok = abs(value - target) <= allowed
    if verbose:
        if ok:
            print(f"{label}: correct (within {allowed:.3g} of the reference computed by htsgd; {ref.why}).")
        else:
            side = "too large" if value > target else "too small"
            shown = f"{value:.6g}" if math.isfinite(value) else "a number beyond the float range"
            print(f"{label}: not yet: {shown} is {side} by more than the tolerance {allowed:.3g}.\n"
                  f"  The answer should be {ref.asks}.\n  Hint: {ref.hint}")
    return ok


def _as_float(answer: Any, ref: Reference) -> float:
    """``answer`` as a float; +-inf for a finite number beyond the float range (it is farther from the reference
    than any tolerance); TypeError or ValueError naming what is wrong otherwise."""
    if answer is Ellipsis:
        raise TypeError(f"answer is still the placeholder `...`: set `answer` to {ref.asks}")
    item = getattr(answer, "item", None)
    if callable(item) and not isinstance(answer, Real):  # a one-element tensor or array
        try:
            answer = item()
        except (ValueError, RuntimeError) as err:
            raise TypeError(f"answer must be one number ({ref.asks}), got an array of shape "
                            f"{tuple(getattr(answer, 'shape', ()))}") from err
    if isinstance(answer, bool) or not isinstance(answer, Real):
        raise TypeError(f"answer must be a real number ({ref.asks}), got {type(answer).__name__} {answer!r}")
    try:
        value = float(answer)
    except OverflowError:  # an int or a Fraction beyond float: finite, and wrong
        return math.inf if answer > 0 else -math.inf
    if math.isnan(value) or (math.isinf(value) and answer == value):  # a finite long double may overflow to inf
        raise ValueError(f"answer must be finite ({ref.asks}), got {value!r}")
    return value
