"""The API reference's links back to the book (a local extension, loaded from _config.yml).

Every public docstring of htsgd names the chapter that introduces it as
``chapter *Exact Chapter Title*`` (``tests/test_package.py`` checks the title exists).
When autodoc renders a docstring for ``book/api.md``, this hook turns that phrase into
a cross-reference to the chapter's label, read from the ``(label)=`` line above the
chapter's ``# Title`` heading. A title with no label is left as it is and reported
as a warning (which the strict ``-W`` build turns into an error).

It also smooths three places where numpydoc docstrings, read by ``sphinx.ext.napoleon``,
are not valid reStructuredText as they stand: a paragraph right after a parameter list
(napoleon drops the blank line between them), ``*`` in a type such as
``(n_steps, *shape)`` (read as emphasis), and section titles in module docstrings
(``Conventions`` / ``-----------``), which become rubrics so that two modules may use
the same title; and it moves a closing "Introduced in the chapter ..." paragraph out of the
numpydoc section it would otherwise be read into (:func:`lift_introduced`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_LABELLED_TITLE = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*\n# (?P<title>.+?)\s*$", re.MULTILINE)
_CITED = re.compile(r"\bchapter\s+\*(?P<title>[^*]+)\*")
_UNDERLINE = re.compile(r"^\s*([-=~^])\1{2,}\s*$")
_TYPE_FIELD = re.compile(r"^(\s*:(?:type [^:]+|rtype):)(.*)$")
_STRAY_FIELD = re.compile(r"^(?P<indent>\s*):(?:param|raises|keyword) (?P<text>.*\s.*\.):\s*$")
_FIELD = re.compile(r"^\s*:[^:\s][^:]*:")


def chapter_labels(book: Path) -> dict[str, str]:
    """``{chapter title: label}`` for every ``book/*.md`` page whose ``# Title`` has a label."""
    labels = {}
    for page in sorted(book.glob("*.md")):
        for match in _LABELLED_TITLE.finditer(page.read_text(encoding="utf-8")):
            labels[" ".join(match["title"].split())] = match["label"]
    return labels


def _link_chapters(app, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    labels = app.env.htsgd_chapter_labels

    def link(match: re.Match[str]) -> str:
        title = " ".join(match["title"].split())
        label = labels.get(title)
        if label is None:
            from sphinx.util import (
                logging,  # here, so that tests can read the labels without Sphinx
            )

            logging.getLogger(__name__).warning(f"{name}: the docstring names chapter {title!r}, which has no labelled heading")
            return match.group(0)
        return f"chapter :ref:`{title} <{label}>`"

    _unfield(lines)
    # A title may be wrapped over two lines: join the docstring, substitute, split again.
    text = "\n".join(lines)
    joined = _CITED.sub(link, text)
    if joined != text:
        lines[:] = joined.split("\n")
    _tidy(what, lines)


def _unfield(lines: list[str]) -> None:
    # numpydoc has no end for a section but the next header, so napoleon reads a closing
    # sentence ("Introduced in the chapter ...") as one more parameter or exception.
    for i, line in enumerate(lines):
        stray = _STRAY_FIELD.match(line)
        if stray:
            lines[i] = f"\n{stray['indent']}{stray['text']}"
    lines[:] = "\n".join(lines).split("\n")


def _tidy(what: str, lines: list[str]) -> None:
    out: list[str] = []
    in_fields = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if what == "module" and line.strip() and _UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()):
            if out and out[-1].strip():
                out.append("")
            out.append(f".. rubric:: {line.strip()}")
            continue
        if _UNDERLINE.match(line) and out and out[-1].startswith(".. rubric:: "):
            out.append("")
            continue
        typed = _TYPE_FIELD.match(line)
        if typed:  # a type is not prose: a "*" in it is literal
            line = typed[1] + re.sub(r"(?<!\\)\*", r"\\*", typed[2])
        if _FIELD.match(line):
            in_fields = True
        elif not line.strip():
            in_fields = False
        elif in_fields and not line[:1].isspace():
            out.append("")  # end the field list before a paragraph
            in_fields = False
        out.append(line)
    lines[:] = out


_SECTION = re.compile(r"^\s*[-=]{3,}\s*$")
_INTRODUCED = re.compile(r"^\s*Introduced in\b")


def lift_introduced(lines: list[str]) -> None:
    """Move a closing "Introduced in the chapter ..." paragraph that follows a numpydoc section to just
    after the summary, in place.

    numpydoc has no end for a section but the next header, so napoleon reads such a paragraph as one
    more return type, exception or attribute, and typesets it as a type or a name: the chapter link
    then shows as raw ``:ref:`...``` text (issue 21). After the summary it is plain prose."""
    sections = [i for i, line in enumerate(lines) if i and _SECTION.match(line) and lines[i - 1].strip()]
    if not sections:
        return
    for start in range(len(lines) - 1, sections[0], -1):
        if _INTRODUCED.match(lines[start]) and not lines[start - 1].strip():
            break
    else:
        return
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    paragraph = [line.strip() for line in lines[start:end]]
    del lines[start:end]
    summary_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    lines[summary_end:summary_end] = ["", *paragraph]


def _lift(app, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lift_introduced(lines)


def _load_labels(app) -> None:
    app.env.htsgd_chapter_labels = chapter_labels(Path(app.srcdir) / "book")


def setup(app) -> dict[str, Any]:
    app.connect("builder-inited", _load_labels)
    # Before napoleon (priority 500) reads the numpydoc sections.
    app.connect("autodoc-process-docstring", _lift, priority=400)
    # After napoleon (priority 500), which turns numpydoc sections into field lists.
    app.connect("autodoc-process-docstring", _link_chapters, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
