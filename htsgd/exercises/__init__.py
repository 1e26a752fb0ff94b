"""Exercises: practice self-checks for readers and graded variants for instructors, computed by htsgd.

Introduced in the chapter *Stable distributions*, whose exercises are the first to use it.
Every exercise of the book whose result is a number asks the reader for a function ``solve`` of the
exercise's parameters (a step size, a tail index, a threshold) and for ``answer``, its value at the
parameters the text states (the *practice* variant). Two things use them:

* the self-check ``hs.exercises.check("ex-stable-2", answer)`` compares ``answer`` with the practice
  variant's reference and says *correct* or *not yet* with a hint: never the reference, the direction of
  the error or the tolerance;
* the instructor's hidden test (written by ``make student`` into nbgrader's hidden-test markers, so the
  student's release does not contain it) calls ``hs.exercises.grade("ex-stable-2", solve, alpha=1.37)``
  with parameters drawn for the course: the reference is computed at grading time, at values that appear
  in no public file and whose reference differs from the practice one by more than the tolerance. An
  answer copied from the practice variant, or found by searching the self-check, scores nothing.

A few exercises ask for a constant of the theory that no parameter changes (an order of convergence, an
exponent): their self-check gives the hint only, and ``grade`` refuses them (any verdict on a constant can be
searched); the instructor grades their answers by hand.

References are recomputed from htsgd's own functions (a characteristic function, a survival function, a
model's parameter groups, a pruning rule) or, for the value of a derived formula, from the formula written
as code: never a number copied from a run. Each states its tolerance and why (a standard error for Monte
Carlo answers, rounding for exact ones). While ``grade`` runs a student's ``solve``, every reference is
locked: a ``solve`` that calls one (or ``check``, or ``grade``) fails its grade.

The exercise labels follow the book's convention ``ex-<chapter>-<n>``; ``labels()`` lists the ones with a
reference. The convention itself (the MyST ``{exercise}`` directive, its ``:class:`` and its gated solution)
is read by ``book/_ext/exercise_convention.py``, next to the book build and the scripts that use it.

Each chapter's references live in a module of their own, ``htsgd/exercises/_<chapter>.py``: a list
``REFERENCES`` of :class:`Reference` (and, where a chapter has them, ``UNCHECKED``), registered into
one table here. A new reference is one more ``Reference(...)`` in its chapter's list; a new chapter
is a new module added to ``_CHAPTERS`` below.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from functools import cache, wraps
from numbers import Real
from types import ModuleType
from typing import Any

from . import _chaos, _compressibility, _experiments, _frontier, _meanfield, _sde, _sgd, _stable
from ._reference import Reference

__all__ = [
    "Reference",
    "REFERENCES",
    "UNCHECKED",
    "check",
    "grade",
    "graded_variant",
    "labels",
    "practice",
]

#: The chapters' reference modules, in the book's order (the order of ``labels()``).
_CHAPTERS: tuple[ModuleType, ...] = (_stable, _sgd, _compressibility, _experiments, _frontier, _sde, _meanfield, _chaos)


def _guarded(compute: Any) -> Any:
    """``compute`` refusing to run while ``grade`` runs a student's function (see ``_guard``)."""

    @wraps(compute)
    def guarded(**params: float) -> float:
        _guard()
        return compute(**params)

    del guarded.__wrapped__  # no plain route to the formula through the registry
    return guarded


def _register(chapters: tuple[ModuleType, ...]) -> tuple[dict[str, Reference], dict[str, str]]:
    """One table of every chapter's references (and unchecked exercises); a label may appear once."""
    references: dict[str, Reference] = {}
    unchecked: dict[str, str] = {}
    for module in chapters:
        for ref in module.REFERENCES:
            if ref.label in references or ref.label in unchecked:
                raise RuntimeError(f"exercise {ref.label} is registered twice ({module.__name__})")
            references[ref.label] = replace(ref, compute=_guarded(ref.compute))
            if getattr(module, ref.compute.__name__, None) is ref.compute:  # the module's name, guarded too
                setattr(module, ref.compute.__name__, references[ref.label].compute)
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


class _Locked(RuntimeError):
    """A reference was asked for while ``grade`` ran a student's ``solve``."""


#: Set while ``grade`` runs a student's function; ``tripped`` records a reference asked for meanwhile.
_GRADING = {"active": False, "tripped": False}


def _guard() -> None:
    if _GRADING["active"]:
        _GRADING["tripped"] = True
        raise _Locked("a reference was asked for while a solution was being graded: `solve` must compute its answer")


@cache
def _value_cached(label: str, items: tuple[tuple[str, float], ...]) -> float:
    return float(_lookup(label).compute(**dict(items)))


def _value(label: str, **params: float) -> float:
    """The reference value of exercise ``label`` at ``params`` (cached); for tests and ``grade`` only."""
    _guard()
    return _value_cached(label, tuple(sorted(params.items())))


def practice(label: str) -> dict[str, float]:
    """The parameters of exercise ``label``'s practice variant: those its text states (empty for a constant).

    Introduced in the chapter *Stable distributions*.

    >>> practice("ex-stable-2")
    {'alpha': 1.2}
    """
    return dict(_lookup(label).practice)


def check(label: str, answer: Any, *, verbose: bool = True) -> bool | None:
    """The self-check: is ``answer`` right for the practice variant of exercise ``label``?

    Parameters
    ----------
    label : str
        The exercise's label in the book, such as ``"ex-stable-2"`` (``labels()`` lists them).
    answer : float
        The reader's answer at the parameters the exercise states (``practice(label)``): one real number (a
        Python or numpy float, or a one-element tensor).
    verbose : bool
        Print the outcome: *correct*, or *not yet* with a hint. Neither the reference, nor the side on which
        the answer errs, nor the tolerance is ever printed or returned.

    Returns
    -------
    bool or None
        Whether the answer is within the exercise's tolerance of the practice reference; None for an exercise
        whose answer no parameter changes (its graded answer is the practice one): the self-check then prints
        the hint only. The graded variants are checked by the instructor's hidden tests (``grade``), at other
        parameters, so a practice answer found by trial scores nothing there.

    Raises
    ------
    ValueError
        If ``label`` has no reference, or ``answer`` is not finite (NaN or infinite). A finite number beyond
        the float range (an int such as ``10**400``) is a wrong answer, not an error.
    TypeError
        If ``answer`` is not a real number (``...``, the scaffold's placeholder, included), or ``verbose`` is
        not a bool.

    Introduced in the chapter *Stable distributions*.

    >>> check("ex-stable-2", 2 ** (1 / 1.2), verbose=False)
    True
    >>> check("ex-stable-2", 1.7, verbose=False)
    False
    """
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True or False, got {type(verbose).__name__} {verbose!r}")
    _guard()
    ref = _lookup(label)
    value = _as_float(answer, ref)
    if ref.fixed:
        if verbose:
            print(f"{label}: this answer is graded only by the instructor's tests (no parameter changes it, so a "
                  f"self-check would give the graded answer away).\n  The answer should be {ref.asks}.\n"
                  f"  Hint: {ref.hint}")
        return None
    target = _value(label, **ref.practice)
    ok = abs(value - target) <= ref.allowed(target)
    if verbose:
        if ok:
            print(f"{label}: correct for the practice variant ({_show(ref.practice)}). The graded variant uses "
                  "other parameters: make sure `solve` computes the answer from its arguments.")
        else:
            print(f"{label}: not yet.\n  The answer should be {ref.asks}.\n  Hint: {ref.hint}")
    return ok


def grade(label: str, solution: Any, **params: float) -> bool:
    """The instructor's hidden test: is ``solution`` right for the graded variant ``params`` of ``label``?

    Parameters
    ----------
    label : str
        The exercise's label.
    solution : callable
        The student's ``solve``, called as ``solve(**params)``.
    **params : float
        The graded variant's parameters: exactly those of ``practice(label)``, each within the exercise's
        graded range. ``make student`` draws them for a course and writes this call into nbgrader's hidden
        tests.

    Returns
    -------
    bool
        True when the student's value is within the exercise's tolerance of the reference, computed here with
        htsgd at these parameters, and the student's function asked for no reference while it ran. A grading
        cell uses ``assert hs.exercises.grade(...)``; it prints whether the variant passed, nothing else.

    Raises
    ------
    ValueError
        If ``params`` are not the exercise's parameters or lie outside its graded range, or the exercise asks
        for a constant that no parameter changes (graded by hand: a verdict on it could be searched).
    TypeError
        If ``solution`` is not callable; the errors of ``check`` for a value that is not a real number.

    Introduced in the chapter *Stable distributions*.

    >>> grade("ex-stable-2", lambda alpha: 2 ** (1 / alpha), alpha=1.5)
    ex-stable-2: graded variant passed.
    True
    """
    _guard()
    ref = _lookup(label)
    _check_params(ref, params)
    if ref.fixed:
        raise ValueError(f"{label} asks for a constant that no parameter changes: it is graded by hand (a verdict on "
                         "it could be searched)")
    if not callable(solution):
        raise TypeError(f"solution must be the function solve({', '.join(ref.practice)}), got {type(solution).__name__}")
    target = _value(label, **params)
    _GRADING.update(active=True, tripped=False)
    try:
        result = solution(**params)
    except _Locked:
        result = math.nan
    finally:
        _GRADING["active"] = False
    ok = not _GRADING["tripped"] and abs(_as_float(result, ref) - target) <= ref.allowed(target)
    print(f"{label}: graded variant {'passed' if ok else 'failed'}.")
    return ok


def graded_variant(label: str, seed: int) -> dict[str, float]:
    """Draw the parameters of a graded variant of exercise ``label`` (for an instructor's kit).

    Each parameter is drawn in its graded range (integers as integers, others to three significant digits) from a
    generator seeded by ``seed`` and the label, until the practice reference fails the graded variant by a
    margin: by more than the sum of the two tolerances, so no answer that passes the practice self-check passes the
    graded variant. An instructor keeps ``seed`` private; ``make student`` draws one.

    Parameters
    ----------
    label : str
        The exercise's label.
    seed : int
        The course's private seed.

    Returns
    -------
    dict
        The parameters, ``{}`` for an exercise whose answer no parameter changes.

    Raises
    ------
    RuntimeError
        If 200 draws find no variant far enough from the practice one (a range too narrow for its tolerance).

    Introduced in the chapter *Stable distributions*.
    """
    ref = _lookup(label)
    if ref.fixed:
        return {}
    rng = random.Random(f"{int(seed)}:{label}")
    known = _value(label, **ref.practice)
    for _ in range(200):
        params = {name: rng.randint(lo, hi) if isinstance(lo, int) and isinstance(hi, int)
                  else min(max(float(f"{rng.uniform(lo, hi):.3g}"), lo), hi) for name, (lo, hi) in ref.graded.items()}
        target = _value(label, **params)
        if abs(target - known) > ref.allowed(target) + ref.allowed(known):
            return params
    raise RuntimeError(f"{label}: no graded variant far enough from the practice one in {dict(ref.graded)}")


def _check_params(ref: Reference, params: dict[str, float]) -> None:
    if set(params) != set(ref.practice):
        raise ValueError(f"{ref.label} takes the parameters {sorted(ref.practice)}, got {sorted(params)}")
    for name, (lo, hi) in ref.graded.items():
        if not (isinstance(params[name], Real) and lo <= params[name] <= hi):
            raise ValueError(f"{ref.label}: {name} must be in [{lo}, {hi}], got {params[name]!r}")


def _show(params: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in params.items())


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


def _practice_value(label: str) -> float:
    """The practice variant's reference (what the self-check compares with); for tests."""
    return _value(label, **_lookup(label).practice)
