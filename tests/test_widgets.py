"""Explorers: the first frame, and in the book build the static note and the precomputed slider frames."""

from __future__ import annotations

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

widgets = pytest.importorskip("ipywidgets")

from htsgd import widgets as hw  # noqa: E402


def test_slider_grid_lists_every_position():
    assert hw.slider_grid(widgets.IntSlider(value=1000, min=0, max=3000, step=250)) == (
        [float(v) for v in range(0, 3001, 250)], False)
    values, log = hw.slider_grid(widgets.FloatSlider(value=1.5, min=0.3, max=2.0, step=0.05))
    assert len(values) == 35 and values[0] == 0.3 and values[-1] == 2.0 and 1.5 in values and not log
    values, log = hw.slider_grid(widgets.FloatLogSlider(value=1e4, base=10, min=2, max=6, step=0.5))
    assert log and values[0] == 100.0 and values[-1] == 1e6 and 1e4 in values and len(values) == 9


@pytest.mark.parametrize(("sizes", "initial"), [([35, 21], [24, 10]), ([3, 50], [0, 9]), ([13, 4], [4, 0]),
                                                ([7], [6]), ([2, 2], [1, 0])])
def test_frame_grid_respects_the_budget_and_keeps_the_first_frame(sizes, initial):
    picks = hw.frame_grid(sizes, initial, max_frames=20)
    total = 1
    for p, size, start in zip(picks, sizes, initial, strict=True):
        assert start in p and p == sorted(set(p)) and all(0 <= q < size for q in p)
        assert len(p) >= min(size, 2), "every slider moves in the static page"
        total *= len(p)
    assert total <= 20


def test_frame_grid_errors():
    with pytest.raises(ValueError, match="max_frames"):
        hw.frame_grid([3], [0], max_frames=0)
    with pytest.raises(ValueError, match="same length"):
        hw.frame_grid([3, 4], [0])


def _draw(alpha, steps=1, noise="a"):
    assert isinstance(steps, int)
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title(f"{alpha} {steps} {noise}")
    return fig


def _static_child(box):
    htmls = [c for c in box.children if isinstance(c, widgets.HTML) and "htsgd-static-note" in c.value]
    return htmls[0].value if htmls else None


def test_live_kernel_has_no_static_extras(monkeypatch):
    monkeypatch.delenv(hw.STATIC_ENV, raising=False)
    box = hw.explorer(_draw, {"alpha": widgets.FloatSlider(value=1.5, min=1.0, max=2.0, step=0.1)})
    assert _static_child(box) is None
    assert "htsgd-explorer" in box._dom_classes


def test_book_build_embeds_frames_for_two_sliders(monkeypatch):
    monkeypatch.setenv(hw.STATIC_ENV, "1")
    calls = []

    def draw(**kw):
        calls.append(kw)
        return _draw(**kw)

    box = hw.explorer(draw, {
        "alpha": widgets.FloatSlider(value=1.5, min=1.0, max=2.0, step=0.1),
        "steps": widgets.IntSlider(value=250, min=0, max=1000, step=250),
        "noise": widgets.Dropdown(options=["a", "b"], value="b"),
    }, max_frames=12)
    html = _static_child(box)
    assert "Static page" in html and "noise stay at their first value" in html and "launch button" in html
    data = json.loads(re.search(r'<script type="application/json" class="htsgd-frames">(.*?)</script>', html,
                                re.S).group(1).replace("<\\/", "</"))
    assert data["names"] == ["alpha", "steps"] and data["log"] == [False, False]
    assert 1.5 in data["grids"][0] and 250.0 in data["grids"][1]
    assert len(data["frames"]) == len(data["grids"][0]) * len(data["grids"][1]) <= 12
    assert len(calls) == 1 + len(data["frames"]) and all(c["noise"] == "b" for c in calls)
    for key, uri in data["frames"].items():
        i, j = map(int, key.split(","))
        assert i < len(data["grids"][0]) and j < len(data["grids"][1])
        assert base64.b64decode(uri.removeprefix("data:image/png;base64,"))[:4] == b"\x89PNG"


def test_book_build_with_three_sliders_has_the_note_only(monkeypatch):
    monkeypatch.setenv(hw.STATIC_ENV, "1")
    box = hw.explorer(_draw, {
        "alpha": widgets.FloatSlider(value=1.5, min=1.0, max=2.0, step=0.5),
        "steps": widgets.IntSlider(value=1, min=0, max=3),
        "noise": widgets.IntSlider(value=1, min=0, max=3),
    })
    html = _static_child(box)
    assert "static frame" in html and "htsgd-frames" not in html


def test_frame_budget_cuts_the_number_of_frames(monkeypatch):
    """A draw that takes 0.05 s with a 0.2 s budget could afford 4 frames; each slider still gets three."""
    import time

    monkeypatch.setenv(hw.STATIC_ENV, "1")

    def slow(alpha, steps):
        time.sleep(0.05)
        return _draw(alpha, steps)

    box = hw.explorer(slow, {"alpha": widgets.FloatSlider(value=1.5, min=1.0, max=2.0, step=0.1),
                             "steps": widgets.IntSlider(value=2, min=0, max=10)}, frame_budget_s=0.2)
    data = json.loads(re.search(r'class="htsgd-frames">(.*?)</script>', _static_child(box), re.S).group(1))
    assert len(data["frames"]) == 9 and [len(g) for g in data["grids"]] == [3, 3]


def test_static_page_disables_the_controls_that_need_a_kernel(monkeypatch):
    """In the static page a slider with frames is shown as a selection slider over exactly the framed values (its
    label always names the value the figure shows, and the arrow keys step from frame to frame); a dropdown, and
    every slider of an explorer with three, would move without changing the figure: they are disabled. A live
    kernel shows the controls as they are."""
    def controls(n_sliders):
        c = {"alpha": widgets.FloatSlider(value=1.5, min=1.0, max=2.0, step=0.1, description="alpha"),
             "steps": widgets.IntSlider(value=1, min=0, max=2, description="steps")}
        if n_sliders == 3:
            c["noise"] = widgets.IntSlider(value=1, min=0, max=2)
        else:
            c["noise"] = widgets.Dropdown(options=["a", "b"], value="a")
        return c

    def shown(box):
        return list(box.children[0].children)

    monkeypatch.setenv(hw.STATIC_ENV, "1")
    two = controls(2)
    box = hw.explorer(_draw, two, max_frames=6)
    data = json.loads(re.search(r'class="htsgd-frames">(.*?)</script>', _static_child(box), re.S).group(1))
    alpha, steps, noise = shown(box)
    assert type(alpha).__name__ == type(steps).__name__ == "SelectionSlider"
    assert [float(v) for v in alpha.options] == data["grids"][0] and alpha.value == "1.5"
    assert [int(v) for v in steps.options] == data["grids"][1] and steps.value == "1"
    assert alpha.description == "alpha" and not alpha.disabled
    assert noise is two["noise"] and noise.disabled
    three = controls(3)
    box = hw.explorer(_draw, three)
    assert shown(box) == list(three.values()) and all(c.disabled for c in three.values())
    monkeypatch.delenv(hw.STATIC_ENV)
    live = controls(3)
    box = hw.explorer(_draw, live)
    assert shown(box) == list(live.values()) and not any(c.disabled for c in live.values())


def test_the_figure_is_a_sharp_png(monkeypatch):
    """The explorer's figure is a PNG (the static page swaps its source) at twice a 100-dpi screen's
    resolution, shown at the 100-dpi size."""
    monkeypatch.delenv(hw.STATIC_ENV, raising=False)
    image = hw._frame_image(_draw(1.5), 200)
    assert image.data[:4] == b"\x89PNG" and image.width == 200
    assert int.from_bytes(image.data[16:20], "big") == 400  # the PNG's width in pixels: 2 in at 200 dpi
