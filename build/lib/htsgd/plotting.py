"""The book's figure style: one place for fonts, sizes, colours and the alpha palette.

Introduced in the preface; every chapter calls :func:`use_book_style` once.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl

__all__ = ["use_book_style", "alpha_color", "run_color", "NOISE_FREE_COLOR"]

#: Colour of noise-free (plain SGD) runs in every figure.
NOISE_FREE_COLOR = "#444444"


def use_book_style() -> None:
    """Set matplotlib defaults for the book: readable sizes, light grid, no top/right spines.

    Introduced in the preface; used by every chapter.
    """
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "figure.constrained_layout.use": True,
        }
    )


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
