"""Interactive explorers for the book, with a meaningful static first frame.

Introduced in the preface. An explorer is a set of ipywidgets controls above an
``Output`` widget that holds the current figure. The first frame is drawn when
the explorer is created, so the saved widget state of an executed notebook holds
a real figure: the static HTML book shows it (with sliders that have no kernel
behind them), and a live kernel redraws it as the sliders move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt

__all__ = ["explorer"]


def explorer(
    draw: Callable[..., Any],
    controls: Mapping[str, Any],
    *,
    title: str | None = None,
):
    """Build an explorer: ``controls`` (name -> ipywidgets control) drive ``draw(**values)``.

    Parameters
    ----------
    draw : callable
        Called with one keyword per control; returns a matplotlib ``Figure``.
    controls : mapping of str to ipywidgets.ValueWidget
        The sliders, dropdowns and toggles; their ``value`` is passed to ``draw``.
    title : str, optional
        A line of text above the controls.

    Returns
    -------
    ipywidgets.VBox
        Display it as a cell's last expression. Without ipywidgets installed, the
        first frame is drawn and returned as a plain figure instead.

    Introduced in the preface; used by every chapter.
    """
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:  # static fallback: the first frame only
        return draw(**{k: c.value for k, c in controls.items()})

    out = widgets.Output()

    def redraw(*_: Any) -> None:
        values = {k: c.value for k, c in controls.items()}
        with out:
            out.clear_output(wait=True)
            fig = draw(**values)
            display(fig)
            plt.close(fig)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    children = [widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")), out]
    if title:
        children.insert(0, widgets.HTML(f"<b>{title}</b>"))
    return widgets.VBox(children)
