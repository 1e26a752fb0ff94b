"""The built HTML book, checked in a real browser with the network cut off.

One strict build (``-W -n --keep-going``, every chapter executed, every warning an
error; the session's, tests/conftest.py, which the chapter tests share) feeds every test here. Pages are served on 127.0.0.1 and opened in Debian's
headless Chromium through playwright; every request to another host is blocked and
recorded, so the checks below hold for a reader with no internet:

* no JavaScript errors and no request that leaves the machine;
* math is typeset by the book's own MathJax (no raw TeX left on the page);
* every image has loaded;
* saved widget states are rendered into real widgets by the book's own widget manager;
* the Colab and Binder buttons point at the chapter's ``.ipynb``;
* explorers render from disk (``file://``, as the README suggests opening the book) as well as
  over HTTP, carry their "static page" note, and the ones with at most two sliders swap in a
  precomputed frame when a slider moves (no kernel);
* exercises show their kind, difficulty and time, and the exercise index lists them all.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from page_checks import html_number_problems, html_table_problems

from conftest import HTML, ROOT

# A browser call that never returns (a clean-clone run once stalled 13 minutes on one page whose renderer was gone,
# with an idle machine) must fail the test, not hang the suite: each test has 10 minutes, far above any measured
# page (under 30 s at load 10), and the waits inside have their own 120 s timeouts.
pytestmark = [pytest.mark.book, pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]



def _pages() -> list[str]:
    """Every page of the table of contents, as its path without suffix (book/stable)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [c["file"] for c in part.get("chapters", [])]
    if os.environ.get("HTSGD_BOOK_HTML"):
        pages = [p for p in pages if (HTML / f"{p}.html").is_file()]
    return pages


def _is_notebook(page: str) -> bool:
    path = ROOT / f"{page}.md"
    return path.is_file() and path.read_text().startswith("---\njupytext:")


@pytest.fixture(scope="session")
def built_book(book_build) -> Path:
    """The session's strict build (tests/conftest.py), which must have succeeded."""
    assert book_build["status"] == 0, "the strict book build failed: see the Sphinx warnings above"
    assert (HTML / "index.html").is_file()
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture(scope="session")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is required for the browser tests (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                # no model downloads or on-device model service (one started as a page stalled): nothing the
                # pages need; unknown feature names are ignored
                "--disable-features=OptimizationHints,OptimizationGuideModelDownloading,OptimizationGuideOnDeviceModel,"
                "OnDeviceModelService,Translate,MediaRouter",
            ],
        )
        yield browser
        browser.close()


SETTLED = """() => {
  const ready = document.readyState === "complete" && document.fonts.status === "loaded"
    && Array.from(document.images).every(img => img.complete);
  const done = performance.getEntriesByType("resource").length, now = performance.now();
  const last = window.__htsgdSettled;
  if (!ready || !last || last.done !== done) {
    window.__htsgdSettled = {done, since: now};
    return false;
  }
  return now - last.since >= 500;
}"""


def _open(browser, url: str, idle: bool = True, width: int | None = None):
    """Open ``url`` offline (in a window ``width`` CSS pixels wide, if given); return the page, its JS errors
    and the blocked external requests."""
    context = browser.new_context(**({"viewport": {"width": width, "height": 900}} if width else {}))
    context.set_default_timeout(120_000)  # a loaded 2-core machine can take long to settle
    page = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    scheme, host = urlparse(url).scheme, urlparse(url).netloc

    def route(r):
        target = urlparse(r.request.url)
        if (target.scheme, target.netloc) == (scheme, host) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("response", lambda resp: errors.append(f"http {resp.status}: {resp.url}") if resp.status >= 400 else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("crash", lambda _: errors.append("the page's renderer crashed"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.goto(url, wait_until="load")
    if idle:  # tests that wait for their own elements skip this (flaky on a loaded machine)
        # Not Chromium's "networkidle": it may never come when a script swaps an image to a data: URI (a static
        # explorer's precomputed frame) while the page loads, although nothing is left to load, and each such
        # page then waited out the whole timeout. This waits for what the tests read: the document loaded, every
        # image decoded, the fonts ready, and no resource finished for 500 ms.
        page.wait_for_function(SETTLED, polling=100)
    return context, page, errors, blocked


def _render_problems(page, html: str) -> list[str]:
    """What did not render offline on a loaded page (MathJax done, images complete): math that MathJax left as
    TeX or that never reached it (a glued string rendered as plain text), images that did not load, and saved
    widget state that did not become widgets with the explorer's first frame."""
    problems = []
    if "math notranslate" in html or 'class="math' in html:
        if page.locator("mjx-container").count() == 0:
            problems.append("MathJax typeset nothing")
        raw = page.evaluate(
            "() => Array.from(document.querySelectorAll('.math, span.math, div.math'))"
            ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))"
        )
        if raw:
            problems.append(f"raw TeX left on the page: {raw[:3]}")
    stray = page.evaluate(
        "() => { const root = (document.querySelector('main') || document.body).cloneNode(true);"
        " root.querySelectorAll('pre, code, script, style, mjx-container, .highlight')"
        ".forEach(e => e.remove());"
        " return (root.textContent.match(/\\$[^$\\n]{0,60}\\\\[a-zA-Z]+/g) || []).slice(0, 5); }"
    )
    if stray:
        problems.append(f"raw TeX in the page text: {stray}")
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    if broken:
        problems.append(f"images that did not load: {broken}")
    if "application/vnd.jupyter.widget-state+json" in html:
        page.wait_for_selector(".jupyter-widgets", timeout=30_000)
        if not page.locator(".widget-slider, .widget-dropdown, .widget-output, .widget-toggle-buttons").count():
            problems.append("the saved widget state was not rendered into widgets")
        if not page.locator(".jupyter-widgets img, .widget-output img").count():
            problems.append("the explorer's first frame (a figure) is missing from the widget view")
    return problems


class _Links(html.parser.HTMLParser):
    """The ``href`` of every ``<a>`` of a page, as written (the launch buttons are absolute links)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]


@pytest.mark.parametrize("page_name", [p for p in _pages() if _is_notebook(p)])
def test_launch_buttons_open_the_notebook(built_book, page_name):
    """The theme writes the buttons into the page (no script makes them), so the page's HTML is read here rather
    than opened in the browser, which the other tests of the page do."""
    assert (ROOT / f"{page_name}.ipynb").is_file(), f"{page_name}.ipynb is missing: run `make notebooks`"
    parser = _Links()
    parser.feed((built_book / f"{page_name}.html").read_text())
    colab = [u for u in parser.links if "colab.research.google.com" in u]
    binder = [u for u in parser.links if "mybinder.org" in u]
    assert colab and all(u.startswith("https://") and u.endswith(f"{page_name}.ipynb") for u in colab), colab
    assert binder and all(u.startswith("https://") and f"{page_name}.ipynb" in u for u in binder), binder


def _widget_pages() -> list[str]:
    return [p for p in _pages() if (HTML / f"{p}.html").is_file()
            and "application/vnd.jupyter.widget-state+json" in (HTML / f"{p}.html").read_text()]


def _url(mode: str, server: str, page_name: str) -> str:
    return f"{server}/{page_name}.html" if mode == "http" else (HTML / f"{page_name}.html").as_uri()


def _explorers(page) -> int:
    page.wait_for_selector(".htsgd-explorer .widget-output img", timeout=60_000)
    return page.locator(".htsgd-explorer").count()


@pytest.mark.parametrize("mode", ["file", "http"])
def test_explorers_render_from_disk_and_server(browser, server, built_book, mode):
    pages = _widget_pages()
    assert pages, "no page with an explorer was built"
    for page_name in pages:
        context, page, errors, blocked = _open(browser, _url(mode, server, page_name), idle=False)
        try:
            count = _explorers(page)
            assert count > 0, f"{page_name}: no explorer rendered ({mode})"
            assert page.locator(".htsgd-explorer .widget-slider, .htsgd-explorer .widget-dropdown").count() > 0
            notes = page.locator(".htsgd-explorer .htsgd-static-note")
            assert notes.count() == count, f"{page_name}: every explorer carries the static-page note"
            assert all("live" in t for t in notes.all_inner_texts())
            js_errors = [e for e in errors if e.startswith("pageerror")]
            assert not js_errors, f"{page_name} ({mode}): {js_errors[:3]}"
            assert not blocked, f"{page_name} ({mode}) tried to reach the network: {blocked[:3]}"
        finally:
            context.close()


def _frames_pages() -> list[str]:
    return [p for p in _widget_pages() if "htsgd-frames" in (HTML / f"{p}.html").read_text()]


@pytest.mark.parametrize("mode", ["file", "http"])
def test_static_slider_swaps_the_frame(browser, server, built_book, mode):
    pages = _frames_pages()
    assert pages, "no explorer with precomputed frames was built"
    for page_name in pages:
        context, page, errors, _ = _open(browser, _url(mode, server, page_name), idle=False)
        try:
            _explorers(page)
            page.wait_for_selector(".htsgd-frames-ready", timeout=30_000)
            explorer = page.locator(".htsgd-explorer.htsgd-frames-ready").first
            image = explorer.locator(".widget-output img").first
            before = image.get_attribute("src")
            handle = explorer.locator(".widget-slider .noUi-handle").first
            handle.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            page.keyboard.press("End")
            page.wait_for_function(
                "([el, src]) => el.getAttribute('src') !== src", arg=[image.element_handle(), before], timeout=10_000)
            assert image.get_attribute("src").startswith("data:image/png;base64,")
            assert image.evaluate("i => i.complete && i.naturalWidth > 0"), "the swapped frame did not load"
            assert not [e for e in errors if e.startswith("pageerror")]
        finally:
            context.close()


def test_exercises_show_difficulty_and_the_index_lists_them(built_book):
    index = (HTML / "book" / "exercises.html").read_text()
    autograded = 0
    for page_name in _pages():
        source = ROOT / f"{page_name}.md"
        if not source.is_file() or ":::{exercise}" not in source.read_text():
            continue
        import sys

        sys.path.insert(0, str(ROOT / "book" / "_ext"))
        from exercise_convention import find_exercises  # the parser lives beside the book build

        found = find_exercises(source.read_text())
        html = (HTML / f"{page_name}.html").read_text()
        assert html.count('class="htsgd-exercise-meta"') == len(found), page_name
        for e in found:
            assert f"#{e.label}" in index, f"{e.label} is missing from the exercise index"
        from exercise_convention import grading

        autograded += sum(grading(e)["autograded"] for e in found)
    # issue 21 section 6: per-chapter totals, and which exercises are autograded (once each, in the chapter tables)
    assert "Totals by chapter" in index and "Autograde time, one student" in index
    assert index.count("autograded (hidden test)") == autograded > 0


@pytest.mark.parametrize("page_name", [p for p in _pages() if _is_notebook(p)])
def test_notebook_equation_numbers_match_the_book(built_book, page_name):
    """The reader's notebook numbers its equations (``\\tag{c.n}``, from the table of contents' rules) as the
    HTML book does, so that "equation (2.3)" means the same in both."""
    import json
    import re

    notebook = json.loads((ROOT / f"{page_name}.ipynb").read_text())
    markdown = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    in_notebook = re.findall(r"\\tag\{([0-9.]+)\}", markdown)
    in_html = re.findall(r'class="eqno">\(([0-9.]+)\)', (HTML / f"{page_name}.html").read_text())
    assert in_notebook == in_html, f"{page_name}: notebook {in_notebook} but HTML {in_html}"


@pytest.mark.parametrize("page_name", _pages())
def test_pages_read_cleanly(browser, built_book, page_name):
    """Bookkeeping cells (only glue calls) are hidden, code wraps, output tables scroll, numbers print plainly:
    no numpy scalar repr (np.float64(...)) in any output, and every table column whose header names a count
    (iterations, seeds, width, ...) prints integers (tests/page_checks.py; judged by the header, not the data)."""
    context, page, _, _ = _open(browser, (HTML / f"{page_name}.html").as_uri(), idle=False)
    try:
        report = page.evaluate(r"""() => {
          const visible = e => e.offsetParent !== null;
          const bookkeeping = Array.from(document.querySelectorAll('.cell .cell_input')).filter(visible)
            .map(e => e.innerText).filter(t => {
              const lines = t.split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'));
              return lines.length && lines.every(l => /^(glue\(|from myst_nb import glue)/.test(l));
            });
          const unwrapped = Array.from(document.querySelectorAll('div.highlight pre'))
            .filter(e => getComputedStyle(e).whiteSpace !== 'pre-wrap').length;
          const unscrolled = Array.from(document.querySelectorAll('.cell_output table'))
            .filter(t => getComputedStyle(t).overflowX !== 'auto').length;
          const outputs = Array.from(document.querySelectorAll('.cell_output')).map(e => e.outerHTML);
          return {bookkeeping: bookkeeping.map(t => t.slice(0, 80)), unwrapped, unscrolled, outputs};
        }""")
        assert not report["bookkeeping"], f"visible bookkeeping cells (tag them remove-input): {report['bookkeeping']}"
        assert report["unwrapped"] == 0, "long code lines must wrap"
        assert report["unscrolled"] == 0, "wide output tables must scroll"
        problems = [p for html in report["outputs"] for p in html_number_problems(html)]
        assert not problems, f"numbers printed wrongly (count columns must print integers): {problems[:5]}"
    finally:
        context.close()


# One load per page and screen width: everything issue 21 asks of a page, measured in the browser.
_SCREEN_REPORT = r"""async () => {
  const main = document.querySelector('main') || document.body;
  const width = window.innerWidth;
  // The page: nothing wider than the screen. The culprits are named: elements reaching past the right edge
  // that are not inside a box that scrolls on its own.
  const scrolls = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if ((o === 'auto' || o === 'scroll' || o === 'hidden') && p.clientWidth <= width) return true; }
    return false; };
  const wide = document.documentElement.scrollWidth <= width + 1 ? [] : Array.from(main.querySelectorAll('*')).filter(e => e.getBoundingClientRect().right > width + 1 && !scrolls(e))
    .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}`.slice(0, 80));
  const unscrolledMath = Array.from(document.querySelectorAll('mjx-container[display="true"]'))
    .filter(e => !['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).length;
  // Figures: alt text, and for SVG figures the rendered size of every label, overlapping labels, unlabelled axes.
  const images = Array.from((document.querySelector('.bd-article') || main).querySelectorAll('img'));
  const figures = [];
  for (const img of images) {
    const fig = {src: img.getAttribute('src').slice(-40), alt: img.getAttribute('alt') || '', rendered: img.getBoundingClientRect().width};
    if (/\.svg$/.test(img.getAttribute('src'))) {
      const svg = new DOMParser().parseFromString(await (await fetch(img.src)).text(), 'image/svg+xml').documentElement;
      const viewWidth = parseFloat(svg.getAttribute('viewBox').split(/\s+/)[2]);
      const holder = document.createElement('div');
      holder.style.cssText = 'position:absolute;left:-20000px;top:0;';
      svg.setAttribute('width', viewWidth + 'px'); svg.removeAttribute('height');
      holder.appendChild(document.importNode(svg, true)); document.body.appendChild(holder);
      const groups = Array.from(holder.querySelectorAll('g[id^="text_"]')).filter(g => g.querySelector('text'));
      const boxes = groups.map(g => { const r = g.getBoundingClientRect(); return {g, l: r.left, r: r.right, t: r.top, b: r.bottom}; });
      const size = g => Math.max(...Array.from(g.querySelectorAll('text')).map(t => parseFloat(getComputedStyle(t).fontSize) || 0));
      const scale = fig.rendered / viewWidth;
      fig.minLabelPx = Math.min(...groups.map(g => size(g) * scale));
      fig.overlaps = [];
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        const w = Math.min(a.r, b.r) - Math.max(a.l, b.l), h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
        // Text boxes are em boxes, taller than the ink: neighbours in a legend or a superscript touch. An overlap
        // is a quarter of the smaller box or more (two tick labels drawn on top of each other share most of it).
        const smaller = Math.min((a.r - a.l) * (a.b - a.t), (b.r - b.l) * (b.b - b.t));
        if (w > 1 && h > 1 && w * h > 0.25 * smaller) fig.overlaps.push(`"${a.g.textContent.replace(/\s+/g, '')}" / "${b.g.textContent.replace(/\s+/g, '')}"`);
      }
      fig.unlabelled = Array.from(holder.querySelectorAll('g[id^="matplotlib.axis_"]')).filter(axis =>
        axis.querySelector('g[id^="xtick_"] text, g[id^="ytick_"] text') &&
        !Array.from(axis.children).some(c => c.id.startsWith('text_') && c.textContent.trim())).length;
      holder.remove();
    }
    figures.push(fig);
  }
  // Raw markup: roles and equation labels that never became links, outside code.
  const root = main.cloneNode(true);
  root.querySelectorAll('pre, code, script, style, .highlight, .cell_input').forEach(e => e.remove());
  const text = root.textContent;
  const raw = (text.match(/:(ref|func|data|class|meth|mod|eq|numref|doc):`[^`]*`|\{(ref|eq|numref|doc|prf:ref|glue:[a-z]+)\}`[^`]*`|\((?:[a-z0-9]+-)+eq-[a-z0-9-]+\)/g) || []);
  // Captions: math typeset, not spelt out in plain text.
  const plainMath = Array.from(main.querySelectorAll('figcaption, caption')).map(c => {
    const copy = c.cloneNode(true); copy.querySelectorAll('mjx-container, code').forEach(e => e.remove());
    return (copy.textContent.match(/\b(alpha|kappa|theta|sigma|sqrt|SaS)\b|\w\^[\w(-]|\w\^\(/g) || []).join(' ');
  }).filter(Boolean);
  // Explorers in the static page: a control that needs a kernel is disabled, a slider with frames is not.
  const controls = Array.from(document.querySelectorAll('.htsgd-explorer')).map(ex => {
    const framed = !!ex.querySelector('script.htsgd-frames');
    const dead = Array.from(ex.querySelectorAll('select, .widget-slider .slider'))
      .filter(c => !(c.disabled || c.hasAttribute('disabled')) && (c.tagName === 'SELECT' || !framed)).length;
    const stuck = framed ? Array.from(ex.querySelectorAll('.widget-slider .slider')).filter(c => c.hasAttribute('disabled')).length : 0;
    return {dead, stuck};
  });
  // A cell tagged raw-columns shows a results table with its own column names on purpose (they are the API).
  const tables = Array.from(main.querySelectorAll('.cell_output table, .output table'))
    .filter(t => !t.closest('.tag_raw-columns')).map(t => t.outerHTML);
  return {scrollWidth: document.documentElement.scrollWidth, width, wide, unscrolledMath, figures, raw, plainMath,
          controls, tables};
}"""


def _settle(page, html: str) -> None:
    """Wait for what renders after load: MathJax, the widget manager, the images."""
    if "math notranslate" in html or 'class="math' in html:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000)
        page.evaluate("() => MathJax.startup.promise.then(() => true)")
    if "application/vnd.jupyter.widget-state+json" in html:
        page.wait_for_selector(".htsgd-explorer .widget-output img", timeout=60_000)
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=60_000)


def _step_a_framed_slider(page) -> list[str]:
    """Focus the first slider with frames, press an arrow key; what went wrong (the label or the figure did not
    change, or the label names another value than the frame shown)."""
    explorer = page.locator(".htsgd-explorer.htsgd-frames-ready").first
    image = explorer.locator(".widget-output img").first
    readout = explorer.locator(".widget-slider .widget-readout").first
    handle = explorer.locator(".widget-slider .noUi-handle").first
    before_src, before_label = image.get_attribute("src"), readout.inner_text()
    at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    try:
        page.wait_for_function("([img, src]) => img.getAttribute('src') !== src",
                               arg=[image.element_handle(), before_src], timeout=10_000)
    except Exception:  # noqa: BLE001 - reported below
        return ["the arrow key did not change the figure"]
    label = readout.inner_text()
    problems = [] if label != before_label else ["the arrow key did not change the slider's label"]
    shown = explorer.evaluate("""ex => { const data = JSON.parse(ex.querySelector('script.htsgd-frames').textContent);
        const key = ex.querySelector('.widget-output img').dataset.htsgdFrame.split(',').map(Number);
        return data.grids[0][key[0]]; }""")
    if abs(float(label) - shown) > 1e-9 * max(1.0, abs(shown)):
        problems.append(f"the label says {label} but the figure shows the frame at {shown}")
    return problems


def _map_matches_sidebar(page) -> list[str]:
    """The preface's map of the book (generated from _toc.yml when the book is built) lists the sidebar's parts
    and pages, in its order and with its chapter numbers."""
    found = page.evaluate("""() => {
      const sidebar = Array.from(document.querySelectorAll('nav.bd-links p.caption, nav.bd-links li.toctree-l1 > a'))
        .map(e => e.textContent.trim());
      const section = document.getElementById('a-map-of-the-book');
      const map = section ? Array.from(section.querySelectorAll('.cell_output strong, .cell_output li'))
        .map(e => e.textContent.trim()) : [];
      return {sidebar, map};
    }""")
    normalized = [re.sub(r"^Chapter (\d+): ", r"\1. ", t) for t in found["map"]]
    root = (ROOT / f"{_pages()[0]}.md").read_text()
    title = re.search(r"^# (.+)$", root, re.MULTILINE).group(1).strip()
    sidebar = [t for t in found["sidebar"] if t != title]  # the home page heads the sidebar, not the map
    if not normalized or normalized != sidebar:
        return [f"the map of the book {normalized} differs from the sidebar {sidebar}"]
    return []


def _figure_problems(fig: dict) -> list[str]:
    """What is wrong with one figure of the screen report: no alt text saying what it shows, labels under 9 px
    high, overlapping labels, axes with tick labels but no axis label."""
    problems, alt = [], fig["alt"].strip()
    if len(alt.split()) < 6 or alt.startswith("fig-") or alt.endswith((".svg", ".png")):
        problems.append(f"figure {fig['src']}: no alt text saying what it shows ({alt!r})")
    if fig.get("minLabelPx", 99) < 9:
        problems.append(f"figure {fig['src']}: labels {fig['minLabelPx']:.1f} px high (< 9)")
    if fig.get("overlaps"):
        problems.append(f"figure {fig['src']}: overlapping labels {fig['overlaps'][:3]}")
    if fig.get("unlabelled"):
        problems.append(f"figure {fig['src']}: {fig['unlabelled']} axes with tick labels but no axis label")
    return problems


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("page_name", _pages())
def test_readable_on_every_screen(browser, server, page_name, width):
    """Issue 21 §5, on a phone (390 px) and a laptop (1280 px): the page is no wider than the screen and long
    equations scroll on their own; every figure has alt text that says what it shows; SVG figures keep every
    label at least 9 px high (htsgd-figures.js keeps a figure at >= 68% of its natural size, scrolling in its
    own box), with no overlapping labels and no axis without a label; no raw roles or equation labels; captions
    typeset their math; tables are not truncated, have headers in words, no meaningless index and no padded
    numbers; in explorers the controls that need a kernel are disabled, and a slider with frames moves the
    figure from the keyboard with a label that names the value shown.

    At 1280 px the same load is also the check that the page renders offline (one load serves both: the
    browser tests' CPU time is mostly Chromium loading pages): once nothing has loaded for 500 ms, MathJax has
    typeset every equation, no TeX is left raw, every image loaded, saved widget state became widgets, and
    there was no JavaScript error, failed request or attempt to reach the network."""
    context, page, errors, blocked = _open(browser, f"{server}/{page_name}.html", idle=False, width=width)
    try:
        html = page.content()
        _settle(page, html)
        problems = []
        if width == 1280:
            page.wait_for_function(SETTLED, polling=100)
            problems += _render_problems(page, html)
            problems += [f"the page tried to reach the network: {blocked[:5]}"] if blocked else []
        r = page.evaluate(_SCREEN_REPORT)
        if r["scrollWidth"] > width + 1:
            problems.append(f"page {r['scrollWidth']} px wide on a {width} px screen; past the edge: {r['wide']}")
        if r["unscrolledMath"]:
            problems.append(f"{r['unscrolledMath']} display equations do not scroll on their own")
        problems += [p for fig in r["figures"] for p in _figure_problems(fig)]
        if r["raw"]:
            problems.append(f"{len(r['raw'])} raw roles or labels: {r['raw'][:3]}")
        if r["plainMath"]:
            problems.append(f"captions with plain-text math: {r['plainMath'][:3]}")
        for i, c in enumerate(r["controls"]):
            if c["dead"] or c["stuck"]:
                problems.append(f"explorer {i}: {c['dead']} controls that need a kernel are enabled, "
                                f"{c['stuck']} sliders with frames are disabled")
        if width == 1280:
            problems += [p for t in r["tables"] for p in html_table_problems(t)]
            if page_name == _pages()[0]:
                problems += _map_matches_sidebar(page)
            if page.locator(".htsgd-explorer.htsgd-frames-ready").count():
                problems += _step_a_framed_slider(page)
        assert not [e for e in errors if e.startswith("pageerror") or width == 1280], errors[:5]
        assert not problems, f"{page_name} at {width} px:\n" + "\n".join(problems)
    finally:
        context.close()
