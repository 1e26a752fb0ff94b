"""Render a MyST chapter (book/<chapter>.md) into a reader's Jupyter notebook.

The HTML book is built by Jupyter Book from MyST Markdown; a plain Jupyter, JupyterLab or Colab
does not understand MyST, so the notebooks beside the chapters are rendered into plain Jupyter
Markdown here:

- exercises become numbered headings, ``### Exercise 3.2 (two stars, about 15 min): Title``,
  numbered per chapter with the chapter numbers of ``_toc.yml`` (numbered parts, chapters numbered
  across parts), as in the HTML book;
- solutions (between ``solution-start`` and ``solution-end``) are collapsed: code cells are hidden
  (Jupyter's ``source_hidden``, Colab's form view via a ``# @title`` line) and their prose sits in
  an HTML ``<details>`` element;
- ``prf`` blocks and admonitions become titled block quotes;
- ``{cite:p}``/``{cite:t}`` become author-year text, and the notebook ends with the list of the
  works it cites (from ``book/references.bib``);
- ``{ref}``, ``{prf:ref}``, ``{numref}``, ``{eq}`` and ``{doc}`` become links into the HTML book when they
  name another chapter, and links to an anchor of the notebook (``<a id=...>`` where the label is defined:
  section, equation, exercise, theorem, figure) when they name this chapter;
  labelled equations get their number with ``\\tag``;
- ``literalinclude`` becomes the included code (``:pyobject:``, ``:start-at:``, ... honoured);
- ``glue``: ``from myst_nb import glue`` becomes ``from htsgd.notebook import glue``, a shim that
  records each glued value quietly, and every ``{glue:text}``, ``{glue:md}``, ``{glue}``/``{glue:any}``
  role and ``{glue}``, ``{glue:md}``, ``{glue:math}`` directive in the prose becomes the value the
  book's build computed (:class:`BookValues`: format specs as myst-nb applies them, Markdown values
  rendered like the chapter's own Markdown); a ``{glue:figure}`` becomes its caption and a pointer to
  the code cell that draws it. A note at the top of the notebook says whose numbers these are (the
  build's date and machine) and that the cells beside them recompute them. The values a notebook
  was rendered with are kept in its metadata (``metadata["htsgd"]["book_values"]``), so that
  ``render_notebook(chapter)`` renders it again without a build (the student kit, the test that the
  committed notebooks are up to date); without any values the prose names them in code font.

Contract with the student/instructor kit (``render_notebook``): every exercise's heading cell
carries ``cell.metadata["htsgd"] = {"exercise": label, "number": "3.2", "title": ..., "stars": 2,
"minutes": 15, "kind": "derivation"}`` (``None`` where the chapter does not say) and every cell of
its solution carries ``cell.metadata["htsgd"] = {"solution_of": label}`` (the first of them is a
``**Solution to Exercise 3.2**`` line, then the solution's prose and code cells, in the chapter's
order; code cells start with a ``# @title`` line for Colab's form view). The notebook returned by
``render_notebook`` has no Colab install cell; ``sync_notebooks.py`` adds it.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

__all__ = ["BookValues", "committed_values", "render_notebook", "chapter_numbers", "html_base_url",
           "repository_url"]

STAR_WORDS = {1: "one star", 2: "two stars", 3: "three stars"}
PRF_TITLES = {
    "definition": "Definition",
    "theorem": "Theorem",
    "proposition": "Proposition",
    "lemma": "Lemma",
    "corollary": "Corollary",
    "proof": "Proof",
    "example": "Example",
    "remark": "Remark",
    "conjecture": "Conjecture",
    "assumption": "Assumption",
    "axiom": "Axiom",
    "criterion": "Criterion",
    "algorithm": "Algorithm",
    "observation": "Observation",
    "property": "Property",
    "condition": "Condition",
    "notation": "Notation",
}
ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "margin": "Note",
    "sidebar": "Note",
    "topic": "Topic",
}
GLUE_IMPORT = "from myst_nb import glue"
GLUE_SHIM = "from htsgd.notebook import glue  # the book build uses myst_nb's glue"
GLUE_NOTE = (
    "> **Reading this notebook.** It is generated from the chapter of the book "
    "([HTML version]({url})). The numbers in its text are those of the book's build of {date} on "
    "{machine}; the code cells beside them recompute them when you run the notebook "
    "(`htsgd.notebook.glued()` lists what your run computed), and another machine may differ in the "
    "last digits ([numbers on another machine]({other}))."
)
GLUE_NOTE_NO_BUILD = (
    "> **Reading this notebook.** It is generated from the chapter of the book "
    "([HTML version]({url})), without a build of the book: numbers that the book's text quotes from "
    "the computations are written here as their name in code font, like `{example}`; run the "
    "notebook and `htsgd.notebook.glued()` lists them by name."
)
BOOK_VALUES_KEY = "book_values"  # metadata["htsgd"][BOOK_VALUES_KEY]: the build's values a notebook shows
TEXT_MIMES = ("text/markdown", "text/latex", "text/plain")  # the glued data a notebook's prose can show


# ----------------------------------------------------------------------------- configuration


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def repository_url() -> str:
    """The repository's public location: ``repository.url`` in ``_config.yml``, its one home."""
    return _config()["repository"]["url"].rstrip("/")


def html_base_url() -> str:
    """Where the HTML book is published: ``html.baseurl`` in ``_config.yml`` when set, otherwise
    the GitHub Pages address of the repository (``https://<owner>.github.io/<name>/``)."""
    config = _config()
    base = (config.get("html") or {}).get("baseurl")
    if base:
        return base.rstrip("/") + "/"
    match = re.match(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?$", repository_url())
    if not match:
        raise ValueError(
            f"repository.url {repository_url()!r} is not a GitHub address: set html.baseurl in _config.yml"
        )
    return f"https://{match.group(1)}.github.io/{match.group(2)}/"


@functools.lru_cache(maxsize=1)
def chapter_numbers() -> dict[str, int]:
    """Chapter number of each numbered page of ``_toc.yml``, keyed by its stem (``"stable"``).

    Chapters are numbered across parts (sphinx-multitoc-numbering, which Jupyter Book 1.x uses),
    skipping parts marked ``numbered: false``; the default is ``defaults: numbered`` of the table
    of contents. The root page is not numbered.
    """
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    default = (toc.get("defaults") or toc.get("options") or {}).get("numbered", False)
    numbers: dict[str, int] = {}
    n = 0
    for part in toc.get("parts", []):
        if not part.get("numbered", default):
            continue
        for chapter in part.get("chapters", []):
            n += 1
            numbers[Path(chapter["file"]).stem] = n
    return numbers


# ----------------------------------------------------------------------------- the build's glued values


@dataclass(frozen=True)
class BookValues:
    """What a chapter glued in the book's build, for its notebook's prose.

    ``glue`` maps a glue name to the data myst-nb pastes from (``{mime: data}``, the types of
    ``TEXT_MIMES`` only: ``text/plain`` is the value's repr, ``text/markdown`` a Markdown value);
    ``date`` (UTC, ``YYYY-MM-DD``) and ``machine`` say whose numbers they are.
    """

    glue: dict[str, dict[str, str]]
    date: str
    machine: str

    def data(self, name: str, chapter: Path) -> dict[str, str]:
        """The glued data of ``name``; KeyError naming the chapter when the build glued no such name."""
        if name not in self.glue:
            raise KeyError(f"{chapter.name}: the book's build glued no value {name!r} (build the book again)")
        return self.glue[name]

    def to_metadata(self, names: list[str]) -> dict:
        """The part of these values a notebook shows (``names``), as its metadata keeps them."""
        return {"date": self.date, "machine": self.machine, "glue": {n: self.glue[n] for n in sorted(set(names))}}

    @classmethod
    def from_metadata(cls, meta: dict) -> BookValues:
        return cls(glue=dict(meta["glue"]), date=meta["date"], machine=meta["machine"])


def committed_values(chapter: Path) -> BookValues | None:
    """The values the committed notebook of ``chapter`` (``book/<chapter>.ipynb``) was rendered with,
    or None when it has none (no notebook yet, or one rendered without a build)."""
    path = Path(chapter).with_suffix(".ipynb")
    if not path.is_file():
        return None
    meta = json.loads(path.read_text()).get("metadata", {}).get("htsgd", {}).get(BOOK_VALUES_KEY)
    return BookValues.from_metadata(meta) if meta else None


def plain_text(text: str, fmt: str) -> str:
    """``text/plain`` data formatted as ``{glue:text}`name:fmt``` pastes it (myst-nb's own function)."""
    from myst_nb.core.variables import format_plain_text

    return format_plain_text(text, fmt)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<$|])")


def _escape(text: str) -> str:
    """Plain text that Markdown shows as it is (the book pastes ``{glue:text}`` as a text node)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def glued_names(source: str) -> list[str]:
    """The names a code cell glues with a literal string, ``glue("name", ...)``, in order."""
    return [m.group(2) for m in re.finditer(r"\bglue\(\s*(?:name\s*=\s*)?([\"'])([^\"'\n]+)\1", source)]


# ----------------------------------------------------------------------------- labels across the book


@dataclass
class Target:
    page: str  # stem of the chapter
    text: str  # link text
    anchor: str


@dataclass
class BookIndex:
    targets: dict[str, Target] = field(default_factory=dict)
    equations: dict[str, str] = field(default_factory=dict)  # label -> "(1.3)"


def _prefix(stem: str) -> str:
    number = chapter_numbers().get(stem)
    return f"{number}." if number else ""


FENCE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
LABEL_LINE = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$")
EQ_LABEL = re.compile(r"^\$\$\s*\((?P<label>[\w.:-]+)\)\s*$")


def _book_pages() -> list[Path]:
    return sorted(BOOK.glob("*.md"))


@functools.lru_cache(maxsize=1)
def book_index() -> BookIndex:
    """Labels of every page of the book: section labels, prf blocks, exercises, figures, equations."""
    index = BookIndex()
    for page in _book_pages():
        stem = page.stem
        prefix = _prefix(stem)
        lines = page.read_text().splitlines()
        pending = None
        eq = fig = ex = 0
        for i, line in enumerate(lines):
            m = LABEL_LINE.match(line)
            if m:
                pending = m.group("label")
                continue
            h = HEADING.match(line)
            if h and pending:
                index.targets[pending] = Target(stem, _inline_plain(h.group("title")), pending)
                pending = None
                continue
            if line.strip():
                pending = None
            m = EQ_LABEL.match(line)
            if m:
                eq += 1
                index.equations[m.group("label")] = f"({prefix}{eq})"
                index.targets[m.group("label")] = Target(
                    stem, f"({prefix}{eq})", "equation-" + m.group("label")
                )
                continue
            m = FENCE.match(line)
            if m:
                name, arg = m.group("name"), m.group("arg").strip()
                opts = _options(lines, i + 1)[0]
                label = opts.get("label") or opts.get("name")
                if name == "exercise":
                    ex += 1
                    if label:
                        index.targets[label] = Target(stem, f"Exercise {prefix}{ex}", label)
                elif name.startswith("prf:") and label:
                    kind = PRF_TITLES.get(name[4:], name[4:].title())
                    text = f"{kind} ({_inline_plain(arg)})" if arg else kind
                    index.targets[label] = Target(stem, text, label)
                elif name in ("figure", "glue:figure") and label:
                    fig += 1
                    index.targets[label] = Target(stem, f"Fig. {prefix}{fig}", label)
                elif name == "code-cell" and lines[i + 1 : i + 2] == ["---"]:
                    end = lines.index("---", i + 2)
                    meta = yaml.safe_load("\n".join(lines[i + 2 : end])) or {}
                    figure = (meta.get("mystnb") or {}).get("figure") or {}
                    if figure.get("name"):
                        fig += 1
                        index.targets[figure["name"]] = Target(stem, f"Fig. {prefix}{fig}", figure["name"])
    return index


def _options(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """``:key: value`` option lines of a directive starting at ``lines[start]``."""
    opts: dict[str, str] = {}
    i = start
    while i < len(lines):
        m = re.match(r"^:([\w-]+):\s*(.*)$", lines[i])
        if not m:
            break
        opts[m.group(1)] = m.group(2).strip()
        i += 1
    return opts, i


# ----------------------------------------------------------------------------- bibliography


@functools.lru_cache(maxsize=1)
def bibliography() -> dict:
    from pybtex.database import parse_file

    return parse_file(str(BOOK / "references.bib")).entries


def _latex_plain(text: str) -> str:
    """BibTeX field text as Markdown: braces and text-mode commands go, ``$math$`` stays."""
    pieces = text.split("$")
    for i in range(0, len(pieces), 2):  # outside math
        p = pieces[i].replace("\\&", "&").replace("--", "\u2013")
        p = re.sub(r"\\[a-zA-Z]+\s*", "", p)
        pieces[i] = p.replace("{", "").replace("}", "")
    return "$".join(pieces)


def _surname(person) -> str:
    return _latex_plain(" ".join(person.prelast_names + person.last_names))


def _authors(key: str) -> tuple[str, str]:
    entry = bibliography()[key]
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if not names:
        who = _latex_plain(entry.fields.get("organization", entry.fields.get("title", key)))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return who, entry.fields.get("year", "n.d.")


def cite(keys: str, style: str, cited: list[str]) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bibliography():
            raise KeyError(f"citation {key!r} is not in book/references.bib")
        if key not in cited:
            cited.append(key)
        who, year = _authors(key)
        parts.append(f"{who} ({year})" if style == "t" else f"{who}, {year}")
    return "; ".join(parts) if style == "t" else "(" + "; ".join(parts) + ")"


def reference_entry(key: str) -> str:
    entry = bibliography()[key]
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = ", ".join(
        _latex_plain(" ".join(p.first_names + p.middle_names + p.prelast_names + p.last_names))
        for p in people
    )
    f = entry.fields
    title = _latex_plain(f.get("title", ""))
    venue = _latex_plain(
        f.get("journal") or f.get("booktitle") or f.get("publisher") or f.get("howpublished") or ""
    )
    bits = [f"{names} ({f.get('year', 'n.d.')})." if names else f"({f.get('year', 'n.d.')}).", f"*{title}*."]
    if venue:
        bits.append(venue + ".")
    if f.get("note"):
        bits.append(_latex_plain(f["note"]) + ".")
    if f.get("url"):
        bits.append(f"<{f['url']}>")
    elif f.get("doi"):
        bits.append(f"<https://doi.org/{f['doi']}>")
    return "- " + " ".join(bits)


# ----------------------------------------------------------------------------- inline roles

ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<content>[^`]*)`")


def _inline_plain(text: str) -> str:
    """Heading/title text without MyST roles (for link texts)."""
    return ROLE.sub(lambda m: m.group("content").split("<")[0].strip(), text)


def _directive_options(lines: list[str], start: int, fence: str) -> tuple[dict[str, str], int]:
    """A directive's ``:key: value`` options and, for a backtick fence, its YAML block; and the body's first line."""
    opts, j = _options(lines, start)
    if fence.startswith("`") and j < len(lines) and lines[j] == "---":  # yaml options
        end_yaml = lines.index("---", j + 1)
        opts.update({k: str(v) for k, v in (yaml.safe_load("\n".join(lines[j + 1 : end_yaml])) or {}).items()})
        j = end_yaml + 1
    return opts, j


def _fence_end(lines: list[str], start: int, fence: str) -> int:
    """The line that closes ``fence`` opened before ``start`` (nested fences of the same kind skipped)."""
    k, depth = start, 0
    while k < len(lines):
        inner = FENCE.match(lines[k])
        if inner and inner.group("fence") == fence:
            depth += 1
        elif lines[k].strip() == fence:
            if depth == 0:
                break
            depth -= 1
        k += 1
    return k


class Renderer:
    def __init__(self, chapter: Path, values: BookValues | None = None):
        self.chapter = chapter
        self.stem = chapter.stem
        self.prefix = _prefix(self.stem)
        self.base = html_base_url()
        self.index = book_index()
        self.values = values
        self.cited: list[str] = []
        self.glued: list[str] = []  # the glue names the prose shows, in order
        self.glue_cells: dict[str, int] = {}  # glue name -> the code cell (its rank) that glues it
        self.code_seen = 0  # code cells rendered so far
        self.exercise_count = 0

    def link(self, label: str, text: str | None = None) -> str:
        target = self.index.targets.get(label)
        if target is None:
            raise KeyError(f"{self.chapter.name}: no target {label!r} in the book")
        if target.page == self.stem:  # the same chapter: an anchor of this notebook (``anchor``)
            return f"[{text or target.text}](#{target.anchor})"
        return f"[{text or target.text}]({self.base}book/{target.page}.html#{target.anchor})"

    def anchor(self, label: str | None) -> str:
        """The HTML anchor a same-chapter link (``link``) lands on: placed where ``label`` is defined."""
        target = self.index.targets.get(label or "")
        return f'<a id="{target.anchor}"></a>' if target is not None and target.page == self.stem else ""

    def role(self, m: re.Match) -> str:
        role, content = m.group("role"), m.group("content")
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<label>[^>]+)>$", content)
        text, label = (explicit.group("text"), explicit.group("label")) if explicit else (None, content)
        if role in ("cite:p", "cite:t", "cite", "cite:ps", "cite:ts"):
            return cite(content, "t" if role.startswith("cite:t") else "p", self.cited)
        if role in ("ref", "prf:ref", "numref", "eq", "doc"):
            if role == "doc":
                page = Path(label).stem
                return f"[{text or page}]({self.base}book/{page}.html)"
            if role == "numref" and text and "{number}" in text:
                number = self.index.targets[label].text.split()[-1]
                return self.link(label, text.replace("{number}", number))
            return self.link(label, text)
        if role.startswith("glue"):
            return self.glue_role(role, content)
        if role == "math":
            return f"${content}$"
        if role in ("sub", "sup"):
            return f"<{role}>{content}</{role}>"
        return text or content  # term, abbr, code, ...

    def inline(self, text: str) -> str:
        return ROLE.sub(self.role, text)

    # ------------------------------------------------------------------------- glued values

    def locate_glue(self, cells: list[nbformat.NotebookNode]) -> None:
        """Note which code cell glues each name (by a literal string), to point at it from the prose."""
        for rank, cell in enumerate(c for c in cells if c.cell_type == "code"):
            for name in glued_names(cell.source):
                self.glue_cells.setdefault(name, rank)

    def _glue_data(self, name: str) -> dict[str, str] | None:
        """The build's data of ``name`` (None without values); the name is recorded as shown."""
        if "::" in name:
            raise ValueError(f"{self.chapter.name}: glue {name!r} from another document is not supported")
        if name not in self.glued:
            self.glued.append(name)
        return None if self.values is None else self.values.data(name, self.chapter)

    def glue_role(self, role: str, content: str) -> str:
        """``{glue:text}`name:fmt```, ``{glue:md}`name```, ``{glue}`name``` (and ``glue:``, ``glue:any``) as the
        value the book's build pastes there; the name in code font without values."""
        kind = role.partition(":")[2]
        name, fmt = content, ""
        if kind in ("text", "md") and ":" in content:  # myst-nb splits off the last ``:`` as the format
            name, fmt = content.rsplit(":", 1)
        data = self._glue_data(name)
        if data is None:
            return f"`{name}`"
        if kind == "text":
            if "text/plain" not in data:
                raise KeyError(f"{self.chapter.name}: glue {name!r} has no text/plain value")
            return _escape(plain_text(data["text/plain"], fmt or "s"))
        if kind == "md":
            if "text/markdown" not in data:
                raise KeyError(f"{self.chapter.name}: glue {name!r} has no text/markdown value")
            return self.inline(data["text/markdown"])
        return self.paste_any(name, data, inline=True)

    def paste_any(self, name: str, data: dict[str, str], inline: bool) -> str:
        """What ``{glue}`` pastes, by myst-nb's priority among the text types; a pointer to the cell that
        shows it for anything else (a figure, an HTML table)."""
        if "text/markdown" in data:
            return self.inline(data["text/markdown"]) if inline else self.render_body(data["text/markdown"])
        if "text/latex" in data:
            return data["text/latex"]
        if "text/plain" in data:
            text = plain_text(data["text/plain"], "")
            return _escape(text) if inline else f"```\n{text}\n```"
        return self.cell_pointer(name, "shown")

    def cell_pointer(self, name: str, verb: str) -> str:
        """``(shown by the code cell above when it runs)``: where the output glued as ``name`` appears."""
        where = self.glue_cells.get(name)
        if where is None:
            return f"({verb} by a code cell of this notebook when it runs)"
        return f"({verb} by the code cell {'above' if where < self.code_seen else 'below'} when it runs)"

    def glue_directive(self, name: str, arg: str, opts: dict[str, str], body: str) -> str:
        """``{glue}``, ``{glue:any}``, ``{glue:md}``, ``{glue:math}`` and ``{glue:figure}`` blocks."""
        kind = name.partition(":")[2]
        key = arg.strip()
        data = self._glue_data(key)
        if kind == "figure":
            target = self.index.targets.get(opts.get("name") or opts.get("label") or "")
            number = f"**{target.text}.**" if target else "**Figure.**"
            caption = self.render_body(body) if body.strip() else ""
            return " ".join(x for x in (number, caption, self.cell_pointer(key, "drawn")) if x)
        if data is None:
            return f"(`{key}`, computed by a code cell of this notebook)"
        if kind == "md":
            return self.render_body(data["text/markdown"])
        if kind == "math":
            latex = data.get("text/latex") or data["text/plain"]
            label = opts.get("label")
            tag = f"\n\\tag{{{self.index.equations[label].strip('()')}}}" if label in self.index.equations else ""
            return f"$$\n{latex.strip().strip('$').strip()}{tag}\n$$"
        return self.paste_any(key, data, inline=False)

    # ------------------------------------------------------------------------- literalinclude

    def literalinclude(self, arg: str, opts: dict[str, str]) -> str:
        path = (self.chapter.parent / arg).resolve()
        source = path.read_text()
        lines = source.splitlines()
        if "pyobject" in opts:
            lines = _pyobject(source, opts["pyobject"], path)
        if "lines" in opts:
            chosen: list[str] = []
            for piece in opts["lines"].split(","):
                a, _, b = piece.strip().partition("-")
                chosen += lines[int(a) - 1 : int(b or a)] if a else lines[: int(b)]
            lines = chosen
        for key, keep_marker, from_start in (
            ("start-at", True, True),
            ("start-after", False, True),
            ("end-at", True, False),
            ("end-before", False, False),
        ):
            if key not in opts:
                continue
            hits = [i for i, line in enumerate(lines) if opts[key] in line]
            if not hits:
                raise ValueError(f"{self.chapter.name}: literalinclude {arg} :{key}: {opts[key]!r} not found")
            i = hits[0]
            if from_start:
                lines = lines[i if keep_marker else i + 1 :]
            else:
                lines = lines[: i + 1 if keep_marker else i]
        if "dedent" in opts:
            n = int(opts["dedent"] or 0) or min(
                (len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0
            )
            lines = [x[n:] for x in lines]
        language = opts.get("language") or {".py": "python", ".toml": "toml"}.get(path.suffix, "")
        shown = str(Path(arg).as_posix()).lstrip("./")
        what = f" (`{opts['pyobject']}`)" if "pyobject" in opts else ""
        caption = opts.get("caption") or f"From `{shown}`{what}:"
        return f"{caption}\n\n```{language}\n" + "\n".join(lines) + "\n```"

    # ------------------------------------------------------------------------- blocks

    def blocks(self, text: str) -> list[tuple[str, str, dict]]:
        """Split one markdown cell into pieces: ("md", text, {}), ("exercise", text, meta),
        ("solution-start", "", {"label"}), ("solution-end", "", {})."""
        lines = text.splitlines()
        out: list[tuple[str, str, dict]] = []
        buf: list[str] = []

        def flush() -> None:
            md = "\n".join(buf).strip("\n")
            if md.strip():
                out.append(("md", md, {}))
            buf.clear()

        i = 0
        while i < len(lines):
            line = lines[i]
            label = LABEL_LINE.match(line)
            if label:  # a section's anchor goes on the line after its heading (which stays the cell's first)
                here = self.anchor(label.group("label"))
                heading = next((n for n in range(i + 1, len(lines)) if lines[n].strip()), None)
                if here and heading is not None and HEADING.match(lines[heading]):
                    lines.insert(heading + 1, here)
                elif here:
                    buf.append(here)
                i += 1
                continue
            m = FENCE.match(line)
            if not m:
                eq = EQ_LABEL.match(line)
                if eq:
                    opening = max((n for n, x in enumerate(buf) if x.lstrip().startswith("$$")), default=len(buf))
                    buf.insert(opening, self.anchor(eq.group("label")))
                    buf.append(f"\\tag{{{self.index.equations[eq.group('label')].strip('()')}}}")
                    buf.append("$$")
                else:
                    buf.append(self.inline(line))
                i += 1
                continue
            fence, name, arg = m.group("fence"), m.group("name"), m.group("arg").strip()
            opts, j = _directive_options(lines, i + 1, fence)
            k = _fence_end(lines, j, fence)
            body = "\n".join(lines[j:k]).strip("\n")
            i = k + 1
            if name == "solution-start":
                flush()
                out.append(("solution-start", "", {"label": arg}))
                if body.strip():
                    out.extend(self.blocks(body))
                continue
            if name == "solution-end":
                flush()
                out.append(("solution-end", "", {}))
                continue
            if name == "exercise":
                flush()
                out.append(self.exercise(arg, opts, body))
                continue
            buf.extend(self.directive(name, arg, opts, body).splitlines())
        flush()
        return out

    def exercise(self, arg: str, opts: dict[str, str], body: str) -> tuple[str, str, dict]:
        self.exercise_count += 1
        number = f"{self.prefix}{self.exercise_count}"
        classes = opts.get("class", "").split()
        kind = next((c for c in classes if c in ("derivation", "computation")), None)
        stars = next((int(c[6:]) for c in classes if re.fullmatch(r"stars-[1-3]", c)), None)
        minutes = next((int(c[8:]) for c in classes if re.fullmatch(r"minutes-\d+", c)), None)
        title = _inline_plain(arg) if arg else None
        details = []
        if kind:
            details.append(kind)
        if stars:
            details.append(STAR_WORDS[stars])
        if minutes:
            details.append(f"about {minutes} min")
        heading = f"### Exercise {number}"
        if details:
            heading += f" ({', '.join(details)})"
        if title:
            heading += f": {title}"
        heading += f" {self.anchor(opts.get('label'))}".rstrip()
        text = heading + "\n\n" + self.render_body(body)
        meta = {
            "exercise": opts.get("label"),
            "number": number,
            "title": title,
            "stars": stars,
            "minutes": minutes,
            "kind": kind,
        }
        return ("exercise", text, meta)

    def render_body(self, body: str) -> str:
        pieces = self.blocks(body)
        if any(kind != "md" for kind, _, _ in pieces):
            raise ValueError(f"{self.chapter.name}: exercise or solution nested in a directive")
        return "\n\n".join(text for _, text, _ in pieces)

    def directive(self, name: str, arg: str, opts: dict[str, str], body: str) -> str:
        if name == "literalinclude":
            return self.literalinclude(arg, opts)
        if name in ("code", "code-block", "sourcecode"):
            return f"```{arg}\n{body}\n```"
        if name == "math":
            label = opts.get("label")
            tag = f"\n\\tag{{{self.index.equations[label].strip('()')}}}" if label in self.index.equations else ""
            return f"{self.anchor(label)}\n$$\n{body}{tag}\n$$".lstrip("\n")
        if name == "bibliography":
            return "See the list of works cited at the end of this notebook."
        if name in ("figure", "image"):
            caption = self.render_body(body) if name == "figure" else ""
            alt = opts.get("alt", "")
            here = self.anchor(opts.get("name") or opts.get("label"))
            return f"{here}![{alt}]({arg})" + (f"\n\n*{caption}*" if caption else "")
        if name.startswith("prf:"):
            kind = name[4:]
            title = PRF_TITLES.get(kind, kind.title())
            heading = f"**{title}** ({self.inline(arg)})" if arg else f"**{title}**"
            heading = self.anchor(opts.get("label")) + heading
            return _quote(heading + "\n\n" + self.render_body(body))
        if name == "admonition":
            return _quote(f"**{self.inline(arg)}**\n\n" + self.render_body(body))
        if name in ADMONITIONS:
            return _quote(f"**{ADMONITIONS[name]}**\n\n" + self.render_body(body))
        if name in ("glue", "glue:", "glue:any", "glue:md", "glue:math", "glue:figure"):
            return self.glue_directive(name, arg, opts, body)
        if name in ("nb-exec-table", "tableofcontents", "toctree", "eval-rst", "exercise-index"):
            return f"(The book shows a generated table here: see its [HTML version]({self.base}book/{self.stem}.html).)"
        # Anything else: keep its content.
        return self.render_body(body)


def _quote(text: str) -> str:
    return "\n".join(("> " + line) if line.strip() else ">" for line in text.splitlines())


def _pyobject(source: str, name: str, path: Path) -> list[str]:
    """Lines of the function/class/method ``name`` (``Class.method``) as Sphinx shows them."""
    lines = source.splitlines()
    body = ast.parse(source).body
    node = None
    for part in name.split("."):
        node = next(
            (
                n
                for n in body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == part
            ),
            None,
        )
        if node is None:
            raise ValueError(f"literalinclude: {name} not found in {path}")
        body = node.body
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return lines[start - 1 : node.end_lineno]


# ----------------------------------------------------------------------------- the notebook


HIDDEN_TAGS = {"remove-input", "hide-input", "remove-cell", "hide-cell"}
SOLUTION_TITLE = "# @title Solution to Exercise {number} (hidden: show the code to read it)"


def _code_cells(cell: nbformat.NotebookNode, r: Renderer, solution: dict | None) -> list[nbformat.NotebookNode]:
    """A chapter's code cell for the reader (a hidden solution, or collapsed bookkeeping), and its figure caption."""
    code = nbformat.v4.new_code_cell(cell.source.replace(GLUE_IMPORT, GLUE_SHIM))
    code.metadata.update(cell.metadata)
    if solution is not None:
        code.source = SOLUTION_TITLE.format(number=solution["number"]) + "\n" + code.source
        code.metadata.setdefault("jupyter", {})["source_hidden"] = True
        code.metadata["cellView"] = "form"
    elif HIDDEN_TAGS & set(code.metadata.get("tags", [])):  # bookkeeping: collapsed as in the book
        code.metadata.setdefault("jupyter", {})["source_hidden"] = True
    out = [code]
    figure = (code.metadata.get("mystnb") or {}).get("figure") or {}
    if figure.get("caption"):
        target = r.index.targets.get(figure.get("name", ""))
        number = f"{r.anchor(figure.get('name'))}**{target.text}.**" if target else "**Figure.**"
        caption = r.inline(" ".join(str(figure["caption"]).split()))
        out.append(nbformat.v4.new_markdown_cell(f"{number} {caption}"))
    return out


def _add_glue_note_and_references(r: Renderer, cells: list[nbformat.NotebookNode]) -> None:
    """The note on glued numbers after the first heading, and the works cited at the end (in place)."""
    if r.glued:
        url = f"{r.base}book/{r.stem}.html"
        if r.values is None:
            text = GLUE_NOTE_NO_BUILD.format(url=url, example=r.glued[0])
        else:
            other = r.link("status-other-machine").split("](", 1)[1].rstrip(")")
            text = GLUE_NOTE.format(url=url, date=r.values.date, machine=r.values.machine, other=other)
        note = nbformat.v4.new_markdown_cell(text)
        note.pop("id", None)
        first_heading = next(
            (i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("# ")), 0
        )
        cells.insert(first_heading + 1, note)
    if r.cited:
        refs = "## Works cited in this notebook\n\n" + "\n".join(
            reference_entry(k) for k in sorted(r.cited, key=lambda k: _authors(k))
        )
        ref_cell = nbformat.v4.new_markdown_cell(refs)
        ref_cell.pop("id", None)
        cells.append(ref_cell)


def render_notebook(chapter: Path, values: BookValues | None = None) -> nbformat.NotebookNode:
    """The reader's notebook of ``chapter`` (a ``book/*.md`` MyST notebook), without outputs and
    without the Colab install cell. See the module docstring for what is rendered and the
    metadata contract of exercise and solution cells.

    ``values`` are the glued values of the book's build the prose shows (``sync_notebooks.py`` reads
    them from the build); by default those the committed notebook ``book/<chapter>.ipynb`` was
    rendered with, and without any the prose names them in code font."""
    chapter = Path(chapter)
    source = jupytext.read(chapter)
    r = Renderer(chapter, values if values is not None else committed_values(chapter))
    r.locate_glue(source.cells)
    cells: list[nbformat.NotebookNode] = []
    solution: dict | None = None  # {"label", "number"} while inside a solution
    numbers: dict[str, str] = {}

    def add(cell: nbformat.NotebookNode) -> None:
        cell.pop("id", None)
        if solution is not None:
            cell.metadata["htsgd"] = {"solution_of": solution["label"]}
        cells.append(cell)

    for cell in source.cells:
        if cell.cell_type == "code":
            for new in _code_cells(cell, r, solution):
                add(new)
            r.code_seen += 1
            continue
        if cell.cell_type != "markdown":
            add(cell)
            continue
        for kind, text, meta in r.blocks(cell.source):
            if kind == "exercise":
                md = nbformat.v4.new_markdown_cell(text)
                md.pop("id", None)
                md.metadata["htsgd"] = meta
                numbers[meta["exercise"]] = meta["number"]
                cells.append(md)
            elif kind == "solution-start":
                label = meta["label"]
                solution = {"label": label, "number": numbers.get(label, "?")}
                add(nbformat.v4.new_markdown_cell(f"**Solution to Exercise {solution['number']}**"))
            elif kind == "solution-end":
                solution = None
            elif solution is not None:
                add(
                    nbformat.v4.new_markdown_cell(
                        "<details>\n<summary>Show the solution's text</summary>\n\n" + text + "\n\n</details>"
                    )
                )
            else:
                add(nbformat.v4.new_markdown_cell(text))
    if solution is not None:
        raise ValueError(f"{chapter.name}: solution of {solution['label']} has no solution-end")

    _add_glue_note_and_references(r, cells)
    nb = nbformat.v4.new_notebook()
    nb.metadata = dict(source.metadata)
    nb.metadata.pop("jupytext", None)
    if r.values is not None and r.glued:
        nb.metadata["htsgd"] = {BOOK_VALUES_KEY: r.values.to_metadata(r.glued)}
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.cells = cells
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb
