"""Tests for htsgd.plotting: the book's colours are consistent across chapters."""

from __future__ import annotations

import htsgd as hs


def test_run_color_marks_noise_free_runs():
    assert hs.plotting.run_color(None) == hs.plotting.run_color("none") == hs.plotting.NOISE_FREE_COLOR
    assert hs.plotting.run_color(1.5) == hs.plotting.alpha_color(1.5)
    # Heavier tails are darker: viridis runs from dark to light as alpha grows.
    assert sum(hs.plotting.alpha_color(1.5)[:3]) < sum(hs.plotting.alpha_color(2.0)[:3])


def test_book_style_writes_measurable_reproducible_svg():
    """SVG with its text as <text> (a browser measures the labels: tests/test_book_html.py), the same bytes on
    every save (no date, fixed ids), the Okabe-Ito cycle, and tick labels of at least 10 pt."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hs.plotting.use_book_style()
    assert [c.upper() for c in plt.rcParams["axes.prop_cycle"].by_key()["color"]] == list(hs.plotting.OKABE_ITO)
    assert min(plt.rcParams[k] for k in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize")) >= 10
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    ax.set(xlabel="width n", ylabel="error")

    def svg() -> str:
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        return buf.getvalue()

    first = svg()
    plt.close(fig)
    assert "<text" in first and ">width n</text>" in first
    assert first == svg()
