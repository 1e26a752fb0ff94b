"""The book's exercise convention, read from a chapter's MyST source.

Every exercise is a ``{exercise}`` directive with a ``:label:`` ``ex-<chapter>-<n>`` and a ``:class:``
of exactly three words: its kind (``derivation`` or ``computation``), ``stars-N`` (difficulty 1 to 3)
and ``minutes-N`` (time); its solution is gated (``{solution-start}`` ... ``{solution-end}``).

Used by the book build (``book/_ext/htsgd_exercises.py``, which checks the ``:class:`` and shows the
badge) and the tests of the chapters' exercises; it is no part of the ``htsgd`` package, whose
``htsgd.exercises`` holds the reference answers and the checker. Import it with ``book/_ext`` on
``sys.path`` (as Sphinx's ``local_extensions`` puts it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "STARS", "STAR_WORDS", "Exercise", "exercise_classes", "find_exercises", "grading"]

KINDS = ("derivation", "computation")
STAR_WORDS = {1: "one star", 2: "two stars", 3: "three stars"}
STARS = {1: "★☆☆", 2: "★★☆", 3: "★★★"}


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter, as its MyST source declares it.

    Attributes
    ----------
    label : str
        ``ex-<chapter>-<n>``.
    title : str
        The directive's argument (sentence case).
    kind : str
        ``"derivation"`` or ``"computation"``.
    stars : int
        Difficulty, 1 to 3.
    minutes : int
        Time estimate in minutes.
    text : str
        The exercise's body (MyST).
    solution : str
        The body of its gated solution (MyST with code cells), or ``""``.
    """

    label: str
    title: str
    kind: str
    stars: int
    minutes: int
    text: str = ""
    solution: str = ""

    @property
    def badge(self) -> str:
        """``"Derivation · ★★☆ (two stars) · about 15 min"``: the line the book and the notebooks show."""
        return f"{self.kind.capitalize()} · {STARS[self.stars]} ({STAR_WORDS[self.stars]}) · about {self.minutes} min"


def exercise_classes(classes: Any) -> dict[str, Any]:
    """Read an exercise's ``:class:`` option: exactly a kind, ``stars-N`` (1 to 3) and ``minutes-N``.

    Parameters
    ----------
    classes : str or sequence of str
        ``"derivation stars-2 minutes-15"`` or its words.

    Returns
    -------
    dict
        ``{"kind": str, "stars": int, "minutes": int}``.

    Raises
    ------
    ValueError
        Naming what is missing, repeated or out of range.

    Examples
    --------
    >>> exercise_classes("derivation stars-2 minutes-15")
    {'kind': 'derivation', 'stars': 2, 'minutes': 15}
    """
    words = classes.split() if isinstance(classes, str) else [str(w) for w in classes]
    kinds = [w for w in words if w in KINDS]
    stars = [int(m.group(1)) for w in words if (m := re.fullmatch(r"stars-(\d+)", w))]
    minutes = [int(m.group(1)) for w in words if (m := re.fullmatch(r"minutes-(\d+)", w))]
    if len(words) != 3 or len(kinds) != 1 or len(stars) != 1 or len(minutes) != 1:
        raise ValueError(
            "classes must be exactly three words: the kind (derivation or computation), stars-N (N = 1, 2, 3) and "
            f"minutes-N, got {' '.join(words)!r}"
        )
    if stars[0] not in STAR_WORDS:
        raise ValueError(f"stars-N must have N in 1, 2, 3, got stars-{stars[0]}")
    if not 1 <= minutes[0] <= 240:
        raise ValueError(f"minutes-N must have N in [1, 240], got minutes-{minutes[0]}")
    return {"kind": kinds[0], "stars": stars[0], "minutes": minutes[0]}


_EXERCISE = re.compile(r"^(:{3,})\{exercise\}[ \t]*([^\n]*)\n(.*?)^\1[ \t]*$", re.M | re.S)
_SOLUTION = re.compile(
    r"^:{3,}\{solution-start\}[ \t]*(\S+)[ \t]*\n(?:[ \t]*:\S[^\n]*\n)*:{3,}[ \t]*\n(.*?)^:{3,}\{solution-end\}",
    re.M | re.S,
)


_CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```[ \t]*$", re.M | re.S)


def grading(exercise: Exercise) -> dict[str, Any]:
    """How the instructor kit (``scripts/make_student.py``) grades an exercise.

    Returns
    -------
    dict
        ``autograded`` (a hidden test calls the student's ``solve`` at the course's parameters), ``auto_points``
        (its points: the stars), ``hand_points`` (one for a written solution, plus the stars of an answer that
        is a constant of the theory, which has no hidden test) and ``how``, a few words for the index page.
    """
    from htsgd.exercises import REFERENCES, UNCHECKED

    ref = REFERENCES.get(exercise.label)
    prose = bool(_CODE_CELL.sub("", exercise.solution).strip())
    autograded = ref is not None and not ref.fixed
    if autograded:
        how = "autograded (hidden test)"
    elif ref is not None:
        how = "by hand (a constant: no variant to test)"
    elif exercise.label in UNCHECKED:
        how = "by hand (depends on the chapter's runs)"
    else:
        how = "by hand (no numerical answer)"
    return {"autograded": autograded, "auto_points": exercise.stars if autograded else 0,
            "hand_points": int(prose) + (exercise.stars if ref is not None and ref.fixed else 0), "how": how}


def find_exercises(markdown: str) -> list[Exercise]:
    """The exercises of a chapter's MyST source, in order, with their gated solutions.

    Parameters
    ----------
    markdown : str
        A chapter (``book/<chapter>.md``).

    Returns
    -------
    list of Exercise

    Raises
    ------
    ValueError
        If an exercise lacks a label, or its ``:class:`` breaks the convention (see
        ``exercise_classes``); the message names the exercise.
    """
    solutions = {m.group(1): m.group(2).strip("\n") for m in _SOLUTION.finditer(markdown)}
    found = []
    for m in _EXERCISE.finditer(markdown):
        title, body = m.group(2).strip(), m.group(3)
        options = dict(re.findall(r"^:(\w+):[ \t]*(.*)$", body, re.M))
        text = re.sub(r"^:\w+:.*\n", "", body, flags=re.M).strip("\n")
        label = options.get("label", "").strip()
        if not label:
            raise ValueError(f"the exercise {title!r} has no :label:")
        try:
            meta = exercise_classes(options.get("class", ""))
        except ValueError as err:
            raise ValueError(f"exercise {label}: {err}") from None
        found.append(Exercise(label, title, text=text, solution=solutions.get(label, ""), **meta))
    return found
