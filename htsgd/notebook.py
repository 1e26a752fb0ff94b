"""Helpers for the chapters run as plain Jupyter notebooks (Colab, Binder, a laptop).

The HTML book is built by Jupyter Book, whose chapters *glue* computed values into their prose
with ``myst_nb.glue``. The notebooks generated from the chapters (``make notebooks``) import
:func:`glue` from here instead, so that they run without myst-nb and Sphinx (which a plain
``pip install "htsgd[notebook]"`` does not bring, and which could clash with what Colab ships).
Their prose already carries the numbers of the book's build; :func:`glue` records what a run of
the notebook recomputes, quietly, and :func:`glued` lists it.

The exercises' solutions in those notebooks run only when the reader asks: each solution cell is
guarded by ``RUN_SOLUTIONS``, set at the top of the notebook from :func:`run_solutions`.
"""

from __future__ import annotations

import os
from typing import Any

from htsgd._checks import check_bool

__all__ = ["RUN_SOLUTIONS_ENV", "glue", "glued", "run_solutions"]

#: The environment variable that makes :func:`run_solutions` return True (``1``) or False (``0``)
#: whatever the notebook says (the plain-install test sets it to run every solution).
RUN_SOLUTIONS_ENV = "HTSGD_RUN_SOLUTIONS"

_GLUED: dict[str, Any] = {}


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Record ``variable`` under ``name``, as ``myst_nb.glue`` does in the book.

    The generated notebooks of every chapter (see the preface) call this in place of
    ``myst_nb.glue``. Their prose already shows the value the book's build computed, so a glued
    value is kept for :func:`glued` and nothing is printed; only ``display=True`` shows the
    variable itself (a figure, a table), as myst-nb does.

    Parameters
    ----------
    name : str
        The key the chapter's prose refers to (``{glue:text}`name``` in the MyST source), non-empty.
    variable : object
        The value: a string (plain or Markdown), a number, a figure or anything IPython displays.
    display : bool, default True
        ``True``: display ``variable`` under the cell, as myst-nb does. ``False``: record it only.

    Returns
    -------
    None
        The value is kept for :func:`glued`.

    Raises
    ------
    ValueError
        If ``name`` is not a non-empty string.
    TypeError
        If ``display`` is not a bool.

    Examples
    --------
    >>> glue("answer", 42, display=False)
    >>> glued()["answer"]
    42
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    display = check_bool("display", display)
    _GLUED[name] = variable
    if not display:
        return
    try:
        from IPython import get_ipython
        from IPython.display import display as show
    except ImportError:  # pragma: no cover - IPython comes with every Jupyter kernel
        print(variable)
        return
    if get_ipython() is not None:
        show(variable)
    else:
        print(variable)


def glued() -> dict[str, Any]:
    """The values recorded by :func:`glue` in this session, by name (see the preface).

    A run of a notebook recomputes the numbers its prose quotes from the book's build; this is
    where to compare them.

    Returns
    -------
    dict
        A copy: ``{name: value}`` in the order they were glued.

    Examples
    --------
    >>> glue("tail-index", 1.5, display=False)
    >>> glued()["tail-index"]
    1.5
    """
    return dict(_GLUED)


def run_solutions(default: bool = False) -> bool:
    """Whether a notebook runs its exercises' solutions: ``default``, unless the environment says.

    The top of every generated notebook with exercises sets ``RUN_SOLUTIONS = run_solutions(False)``
    and every solution cell runs under ``if RUN_SOLUTIONS:``, so that running the notebook does not
    print the exercises' answers. A reader changes ``False`` to ``True`` there to run them;
    ``HTSGD_RUN_SOLUTIONS=1`` (or ``0``) in the kernel's environment overrides the notebook, as the
    plain-install test does to run every solution. The preface says how to run the notebooks.

    Parameters
    ----------
    default : bool, default False
        The notebook's choice.

    Returns
    -------
    bool
        ``True`` when ``$HTSGD_RUN_SOLUTIONS`` is ``1``, ``False`` when it is ``0``, ``default``
        when it is unset or empty.

    Raises
    ------
    TypeError
        If ``default`` is not a bool.
    ValueError
        If ``$HTSGD_RUN_SOLUTIONS`` is set to anything but ``0``, ``1`` or the empty string.

    Examples
    --------
    >>> import os
    >>> os.environ.pop("HTSGD_RUN_SOLUTIONS", None) and None
    >>> run_solutions(False), run_solutions(True)
    (False, True)
    """
    default = check_bool("default", default)
    value = os.environ.get(RUN_SOLUTIONS_ENV, "").strip()
    if value == "":
        return default
    if value not in ("0", "1"):
        raise ValueError(f"${RUN_SOLUTIONS_ENV} must be 1 (run the solutions), 0 (do not) or unset, got {value!r}")
    return value == "1"
