"""The book's figure style: one place for fonts, sizes, colours, output format and the alpha palette.

Introduced in the preface; every chapter calls :func:`use_book_style` once.

Figures are written as SVG with their text kept as text (``svg.fonttype = "none"``): they stay sharp at
any zoom, and a browser can measure every label (tests/test_book_html.py checks that labels are at
least 9 px high at 1280 px and that no two labels overlap). Lines and markers cycle through the
Okabe-Ito palette, which readers with any common colour-vision deficiency can tell apart; tail
indices use viridis (:func:`alpha_color`), which is ordered in lightness and so reads in grey too.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl

__all__ = ["use_book_style", "alpha_color", "run_color", "NOISE_FREE_COLOR", "OKABE_ITO", "BOOK_RC"]

#: Colour of noise-free (plain SGD) runs in every figure.
NOISE_FREE_COLOR = "#444444"

#: The Okabe-Ito colour-blind-safe palette (black last: it is kept for reference lines).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

#: The book's matplotlib settings. Sizes are in points; a 7-inch figure is shown at most at its own
#: width (672 CSS px), so 10 pt prints at >= 9 px wherever the page column is at least 630 px wide.
BOOK_RC = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 200,  # PNG output (explorer frames) at twice the screen resolution
    "svg.fonttype": "none",
    "svg.hashsalt": "htsgd",  # the same figure gives the same SVG on every build
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "figure.constrained_layout.use": True,
}


def use_book_style() -> None:
    """Set matplotlib defaults for the book (:data:`BOOK_RC`) and, in IPython, show figures as SVG.

    Introduced in the preface; used by every chapter.
    """
    mpl.rcParams.update(BOOK_RC)
    try:  # in a notebook, inline figures (and glued ones) become SVG, with no date: builds are reproducible
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        from matplotlib_inline.config import InlineBackend
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    # The inline backend's configuration, not only its current formatters: when the backend is (re)activated
    # later it re-applies its configured formats, and a book build once got PNG figures that way.
    config = InlineBackend.instance(parent=shell)
    config.print_figure_kwargs = {"bbox_inches": "tight", "metadata": {"Date": None}}
    config.figure_formats = {"svg"}
    set_matplotlib_formats("svg", **config.print_figure_kwargs)


def alpha_color(alpha: float, alphas: Iterable[float] = (1.5, 1.75, 1.9, 2.0)):
    """A colour for tail index ``alpha``, consistent across chapters (darker = heavier tail).

    Introduced in the preface; used by every chapter.
    """
    cmap = mpl.colormaps["viridis"]
    lo, hi = 0.5, 2.0
    return cmap(0.85 * (float(alpha) - lo) / (hi - lo))


def run_color(alpha: float | str | None):
    """The colour of a run with tail index ``alpha``; ``None`` or ``"none"`` (no noise) is grey.

    Introduced in the preface; used by the chapters that plot training runs.
    """
    if alpha is None or (isinstance(alpha, str) and alpha == "none"):
        return NOISE_FREE_COLOR
    return alpha_color(alpha)
