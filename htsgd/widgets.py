"""Interactive explorers for the book, with a meaningful static page.

Introduced in the chapter *Stable distributions*. An explorer is a set of ipywidgets
controls above an ``Output`` widget that holds the current figure. The first frame is
drawn when the explorer is created, so the saved widget state of an executed notebook
holds a real figure: the static HTML book shows it, and a live kernel redraws it as the
controls move.

When the book is built (the build sets ``HTSGD_STATIC_FRAMES=1`` for the kernels it
starts), an explorer also carries a visible note that the page is static and how to run
it live, and, if it has at most two sliders, frames computed for a small grid of slider
values (at most ``max_frames``, and about ``frame_budget_s`` seconds of drawing). The book's ``htsgd-widgets.js`` swaps the figure for the
nearest precomputed frame when a reader moves a slider in the static page: no kernel is
involved: there each such slider steps through exactly the values that have a frame, so its label always
names the value the figure shows. Other controls (dropdowns, and every slider of an explorer with more
than two) keep their first value in the static page, and are disabled there.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt

from ._checks import check_int

__all__ = ["explorer", "slider_grid", "frame_grid", "STATIC_ENV"]

#: Environment variable that turns on the static note and frames (set by the book build).
STATIC_ENV = "HTSGD_STATIC_FRAMES"

_LIVE_HINT = (
    "To run it live, open this chapter's notebook with the launch button at the top of the page "
    "(Binder or Colab) or in a local Jupyter, and run the cells."
)


def _is_slider(control: Any) -> bool:
    return all(hasattr(control, a) for a in ("min", "max", "step", "value")) and type(control).__name__.endswith(
        "Slider"
    )


def slider_grid(control: Any) -> tuple[list[float], bool]:
    """Every value an ipywidgets slider can take, and whether it moves on a log scale.

    Parameters
    ----------
    control : ipywidgets.IntSlider, FloatSlider or FloatLogSlider
        Read through its ``min``, ``max``, ``step`` (and ``base`` for a log slider).

    Returns
    -------
    values : list of float
        From ``min`` to ``max`` in steps of ``step`` (for a log slider, ``base**e`` for those
        exponents ``e``), rounded to 12 significant digits.
    log : bool

    Introduced in the chapter *Stable distributions*.
    """
    log = hasattr(control, "base")
    lo, hi, step = float(control.min), float(control.max), float(control.step)
    count = int(math.floor((hi - lo) / step + 1e-9)) + 1 if step > 0 else 1
    values = [lo + i * step for i in range(count)]
    if log:
        values = [float(control.base) ** v for v in values]
    return [float(f"{v:.12g}") for v in values], log


def frame_grid(sizes: Sequence[int], initial: Sequence[int], max_frames: int = 20) -> list[list[int]]:
    """Choose at most ``max_frames`` grid points: for each slider, evenly spread positions.

    Parameters
    ----------
    sizes : sequence of int
        The number of positions of each slider (``len(slider_grid(control)[0])``).
    initial : sequence of int
        The position of each slider's initial value; it is always among the chosen ones.
    max_frames : int
        The product of the chosen counts stays at most this.

    Returns
    -------
    list of list of int
        For each slider, the chosen positions, increasing.

    Introduced in the chapter *Stable distributions*.

    >>> frame_grid([41, 21], [24, 10], max_frames=20)
    [[0, 10, 24, 30, 40], [0, 10, 13, 20]]
    """
    max_frames = check_int("max_frames", max_frames, low=1)
    if len(sizes) != len(initial):
        raise ValueError(f"sizes and initial must have the same length, got {len(sizes)} and {len(initial)}")
    counts = [1] * len(sizes)
    while True:
        growable = [i for i in range(len(sizes))
                    if counts[i] < sizes[i] and math.prod(counts) // counts[i] * (counts[i] + 1) <= max_frames]
        if not growable:
            break
        i = min(growable, key=lambda j: (counts[j], -sizes[j]))  # balanced: the sparsest slider first
        counts[i] += 1
    chosen = []
    for size, count, start in zip(sizes, counts, initial, strict=True):
        picks = sorted({round(k * (size - 1) / (count - 1)) for k in range(count)} if count > 1 else {start})
        if start not in picks:  # replace the nearest pick by the initial position
            picks.remove(min(picks, key=lambda p: abs(p - start)))
            picks = sorted({*picks, start})
        chosen.append(picks)
    return chosen


def _png_bytes(fig: Any, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _png(fig: Any, dpi: int) -> str:
    return "data:image/png;base64," + base64.b64encode(_png_bytes(fig, dpi)).decode("ascii")


def _frame_image(fig: Any, dpi: int):
    """The figure as a PNG at ``dpi``, shown at the size of a 100-dpi screen figure (sharp on a 2x screen).

    A PNG, not the book's SVG: the static page swaps the ``<img>``'s source for the precomputed frames."""
    from IPython.display import Image

    width = round(fig.get_figwidth() * 100)
    return Image(data=_png_bytes(fig, dpi), format="png", width=width)


def _static_html(draw: Callable[..., Any], controls: Mapping[str, Any], max_frames: int,
                 dpi: int) -> tuple[str, dict[str, list[float]]]:
    """The note, and for at most two sliders the precomputed frames as JSON, for the static page; and the
    slider values that have a frame, by slider name (empty without frames)."""
    sliders = [name for name, c in controls.items() if _is_slider(c)]
    others = [name for name in controls if name not in sliders]
    if not sliders or len(sliders) > 2:
        note = ("This is a static frame: the controls need a live kernel. " + _LIVE_HINT)
        return f'<div class="htsgd-static-note">{html.escape(note)}</div>', {}
    grids, logs, initial = [], [], []
    for name in sliders:
        values, log = slider_grid(controls[name])
        value = float(controls[name].value)
        grids.append(values)
        logs.append(log)
        initial.append(min(range(len(values)), key=lambda i: abs(values[i] - value)))
    # However slow the drawing, every slider gets three positions (both ends and its first value).
    picks = frame_grid([len(g) for g in grids], initial, max(max_frames, 3 ** len(grids)))
    fixed = {name: controls[name].value for name in others}
    frames: dict[str, str] = {}

    def positions(i: int, prefix: tuple[int, ...]):
        if i == len(picks):
            yield prefix
            return
        for p in picks[i]:
            yield from positions(i + 1, (*prefix, p))

    for pos in positions(0, ()):
        values = {name: type(controls[name].value)(grids[k][p]) for k, (name, p) in enumerate(zip(sliders, pos, strict=True))}
        frames[",".join(str(p) for p in pos)] = _png(draw(**values, **fixed), dpi)
    data = {
        "names": sliders,
        "grids": [[g[p] for p in pk] for g, pk in zip(grids, picks, strict=True)],
        "log": logs,
        "frames": {",".join(str(pk_i.index(p)) for pk_i, p in zip(picks, map(int, key.split(",")), strict=True)): uri
                   for key, uri in frames.items()},
    }
    fixed_text = (f" {', '.join(others)} stay at their first value." if others else "")
    note = (f"Static page: {' and '.join(sliders)} step{'s' if len(sliders) == 1 else ''} through the "
            f"{len(frames)} frames computed when the book was built.{fixed_text} {_LIVE_HINT}")
    payload = json.dumps(data).replace("</", "<\\/")
    return (f'<div class="htsgd-static-note">{html.escape(note)}</div>'
            f'<script type="application/json" class="htsgd-frames">{payload}</script>',
            dict(zip(sliders, data["grids"], strict=True)))


def _frame_label(control: Any, value: float) -> str:
    return str(int(round(value))) if type(control).__name__ == "IntSlider" else f"{value:.6g}"


def _static_controls(widgets: Any, controls: Mapping[str, Any], grids: Mapping[str, list[float]]) -> list[Any]:
    """The controls the static page shows. A slider with frames becomes a selection slider over exactly
    the values that have a frame, so its label always names the value the figure was drawn at (and the
    arrow keys step from frame to frame); every other control is disabled (it needs a kernel)."""
    shown = []
    for name, control in controls.items():
        if name in grids:
            labels = [_frame_label(control, v) for v in grids[name]]
            start = min(range(len(labels)), key=lambda i: abs(grids[name][i] - float(control.value)))
            shown.append(widgets.SelectionSlider(options=labels, value=labels[start], description=control.description,
                                                 continuous_update=True, style=control.style))
        else:
            control.disabled = True
            shown.append(control)
    return shown


def explorer(
    draw: Callable[..., Any],
    controls: Mapping[str, Any],
    *,
    title: str | None = None,
    max_frames: int = 20,
    frame_budget_s: float = 20.0,
    frame_dpi: int = 200,
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
    max_frames : int
        In the book build, at most this many frames are precomputed for the static page
        (only for explorers with one or two sliders; see the module's docstring).
    frame_budget_s : float
        The build spends about this long on the frames: their number is cut to
        ``frame_budget_s`` divided by the time the first frame took (at most ``max_frames``;
        at least three positions per slider).
    frame_dpi : int
        Resolution of the figure and of the precomputed frames: 200, twice a 100-dpi screen's (the
        page shows every frame at the first frame's width).

    Returns
    -------
    ipywidgets.VBox
        Display it as a cell's last expression. Without ipywidgets installed, the
        first frame is drawn and returned as a plain figure instead.

    Introduced in the chapter *Stable distributions*; used by every chapter.
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
            display(_frame_image(draw(**values), frame_dpi))

    for control in controls.values():
        control.observe(redraw, names="value")
    start = time.perf_counter()
    redraw()
    first_frame_s = time.perf_counter() - start
    shown = list(controls.values())
    static = None
    if os.environ.get(STATIC_ENV) == "1":
        affordable = max(2, int(frame_budget_s / max(first_frame_s, 1e-3)))
        note, grids = _static_html(draw, controls, min(max_frames, affordable), frame_dpi)
        static = widgets.HTML(note)
        shown = _static_controls(widgets, controls, grids)
    children = [widgets.HBox(shown, layout=widgets.Layout(flex_flow="row wrap")), out]
    if title:
        children.insert(0, widgets.HTML(f"<b>{title}</b>"))
    if static is not None:
        children.append(static)
    return widgets.VBox(children, _dom_classes=["htsgd-explorer"])
