"""Tests for htsgd.plotting: the book's colours are consistent across chapters."""

from __future__ import annotations

import htsgd as hs


def test_run_color_marks_noise_free_runs():
    assert hs.plotting.run_color(None) == hs.plotting.run_color("none") == hs.plotting.NOISE_FREE_COLOR
    assert hs.plotting.run_color(1.5) == hs.plotting.alpha_color(1.5)
    # Heavier tails are darker: viridis runs from dark to light as alpha grows.
    assert sum(hs.plotting.alpha_color(1.5)[:3]) < sum(hs.plotting.alpha_color(2.0)[:3])
