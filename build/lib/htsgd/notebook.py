"""Helpers for the chapters run as plain Jupyter notebooks (Colab, Binder, a laptop).

The HTML book is built by Jupyter Book, whose chapters *glue* computed values into their prose
with ``myst_nb.glue``. The notebooks generated from the chapters (``make notebooks``) import
:func:`glue` from here instead, so that they run without myst-nb and Sphinx (which a plain
``pip install "htsgd[notebook]"`` does not bring, and which could clash with what Colab ships),
and show every glued value under the cell that computes it. The prose of those notebooks names
each glued value in code font (see the preface for the ways to read the book).
"""

from __future__ import annotations

import numbers
from typing import Any

from htsgd._checks import check_bool

__all__ = ["glue", "glued"]

_GLUED: dict[str, Any] = {}


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Record ``variable`` under ``name`` and show it, as ``myst_nb.glue`` does in the book.

    The generated notebooks of every chapter (see the preface) call this in place of
    ``myst_nb.glue``: where the book pastes the value into its prose, the notebook prints it under
    the cell that computes it, as ``name = value``.

    Parameters
    ----------
    name : str
        The key the prose refers to (``{glue:text}`name``` in the MyST source), non-empty.
    variable : object
        The value: a string (plain or Markdown), a number, a figure or anything IPython displays.
    display : bool, default True
        ``True``: display ``variable`` itself (a figure, a table), as myst-nb does.
        ``False``: myst-nb would hide it; here it is shown as one line ``name = value`` (strings
        and numbers) or under a ``name =`` line (anything else), so that the reader sees the
        number the text quotes.

    Returns
    -------
    None
        The value is kept for :func:`glued`.

    Raises
    ------
    ValueError
        If ``name`` is not a non-empty string.

    Examples
    --------
    >>> glue("answer", 42, display=False)
    answer = 42
    >>> glued()["answer"]
    42
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    display = check_bool("display", display)
    _GLUED[name] = variable
    try:
        from IPython import get_ipython
        from IPython.display import Markdown
        from IPython.display import display as show
    except ImportError:  # pragma: no cover - IPython comes with every Jupyter kernel
        get_ipython = None  # type: ignore[assignment]
    in_kernel = get_ipython is not None and get_ipython() is not None
    if display:
        if in_kernel:
            show(variable)
        else:
            print(variable)
        return
    if isinstance(variable, str | numbers.Number):
        if in_kernel:
            show(Markdown(f"`{name}` = {variable}"))
        else:
            print(f"{name} = {variable}")
        return
    print(f"{name} =")
    if in_kernel:
        show(variable)
    else:
        print(variable)


def glued() -> dict[str, Any]:
    """The values recorded by :func:`glue` in this session, by name (see the preface).

    Returns
    -------
    dict
        A copy: ``{name: value}`` in the order they were glued.

    Examples
    --------
    >>> glue("tail-index", 1.5, display=False)
    tail-index = 1.5
    >>> glued()["tail-index"]
    1.5
    """
    return dict(_GLUED)
