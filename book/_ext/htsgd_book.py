"""Small Sphinx fixes for the htsgd book (a local extension, loaded from _config.yml).

1. sphinx-thebe registers its configuration script once per ``env-before-read-docs``
   event, which Jupyter Book fires more than once; the page then declares
   ``const THEBE_JS_URL`` twice and the browser reports a SyntaxError. We drop exact
   duplicate scripts from every page.
2. The Jupyter widgets HTML manager (served from ``_static/offline``) resolves the
   URLs of its icon fonts against the page's folder (``book/@jupyter-widgets/...``)
   rather than its own; we copy those fonts there after the build, so widget pages
   load no missing file and need no network.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

_FONT_SUFFIXES = {".eot", ".woff", ".woff2", ".ttf", ".svg"}


def _dedupe_scripts(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in scripts:
        key = (getattr(script, "filename", None) or "", str(getattr(script, "attributes", {}).get("body", "")))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def _copy_widget_fonts(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    dist = outdir / "_static" / "offline" / "@jupyter-widgets" / "html-manager" / "dist"
    if not dist.is_dir():
        return
    pages = {Path(doc).parent for doc in app.env.found_docs}
    for folder in pages:
        for target in (
            outdir / folder / "@jupyter-widgets" / "html-manager" / "dist",
            outdir / folder / "@jupyter-widgets",
        ):
            target.mkdir(parents=True, exist_ok=True)
            for font in dist.iterdir():
                if font.suffix in _FONT_SUFFIXES:
                    shutil.copy2(font, target / font.name)


def setup(app) -> dict[str, Any]:
    # The build executes the chapters in this process: wait for replies without nbclient's hang.
    import nbclient_polling  # book/_ext is on sys.path for local extensions

    nbclient_polling.install()
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _copy_widget_fonts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
