"""Checks of how a chapter prints its numbers, shared by the HTML pages and the executed notebooks.

A column is judged by what it *means*, never by the values a machine happened to produce: a
column whose header names a count (iterations, seeds, width, steps, cells, n, ...) must print
integers; a float column (an accuracy, a fraction, a mean) may hold whole numbers and print them
as ``1.0``. The old check judged a column by its values ("every value ends in .0") and failed on
another machine where a table's mean iterations happened to be whole numbers (issue 19).

The tables are parsed from HTML with the standard library (``rowspan``/``colspan`` expanded, as
pandas writes them for a MultiIndex), so the same check reads a built page and the HTML output
of a notebook cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Words that make a header a count. A header with one of them and none of FLOAT_WORDS must print integers.
COUNT_WORDS = frozenset(
    "iteration iterations iters step steps seed seeds width widths count counts cell cells n runs "
    "epoch epochs neurons units layers depth samples".split()
)
# Words that make a header a real number even if it names a count ("mean iterations", "step size").
FLOAT_WORDS = frozenset(
    "mean average avg std sd se rate ratio fraction frac share per size seconds time acc accuracy loss".split()
)
# How a missing value prints (pandas, numpy, the chapters' own tables).
MISSING = frozenset({"", "nan", "NaN", "<NA>", "None", "—", "-", "n/a"})
# An integer, with or without thousands separators; or a count too large to print in full, in e-notation
# (the mean-field chapter's "steps to t = 20" is 20 / eta, millions of steps, printed as 3.4e+06).
INTEGER = re.compile(r"^[-+]?\d{1,3}(,\d{3})*$|^[-+]?\d+$|^[-+]?\d(\.\d+)?e[-+]?\d+$")
NUMPY_REPR = re.compile(r"np\.(float|int|bool_)\w*\(")


def header_words(header: str) -> set[str]:
    """The lower-case words of a column header (``"n_seeds"`` -> ``{"n", "seeds"}``)."""
    return set(re.findall(r"[a-z]+", header.lower().replace("_", " ")))


def is_count_header(header: str) -> bool:
    """Whether a column with this header holds counts, so that its values must print as integers."""
    words = header_words(header)
    return bool(words & COUNT_WORDS) and not words & FLOAT_WORDS


@dataclass
class Table:
    """One HTML table as text: the header of every column and the body rows.

    A column's header is its innermost named level: the column name under a MultiIndex's group
    ("coupling" under "all widths"), the index name for an index column (pandas writes index
    names on a header row of their own)."""

    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _grid(rows: list[list[tuple[str, int, int]]]) -> list[list[str]]:
    """Place cells given as (text, rowspan, colspan) on a grid, as a browser lays them out."""
    grid: dict[tuple[int, int], str] = {}
    for i, row in enumerate(rows):
        j = 0
        for text, rowspan, colspan in row:
            while (i, j) in grid:
                j += 1
            for di in range(rowspan):
                for dj in range(colspan):
                    grid[(i + di, j + dj)] = text
            j += colspan
    width = 1 + max((j for _, j in grid), default=-1)
    return [[grid.get((i, j), "") for j in range(width)] for i in range(len(rows))]


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._stack: list[dict] = []  # nested tables: their head and body rows of cells
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._stack.append({"head": [], "body": [], "in_head": False})
        elif not self._stack:
            return
        elif tag == "thead":
            self._stack[-1]["in_head"] = True
        elif tag == "tbody":
            self._stack[-1]["in_head"] = False
        elif tag == "tr":
            t = self._stack[-1]
            (t["head"] if t["in_head"] else t["body"]).append([])
        elif tag in ("td", "th"):
            self._cell = []
            self._span = (int(attrs.get("rowspan") or 1), int(attrs.get("colspan") or 1))

    def handle_endtag(self, tag):
        if not self._stack:
            return
        t = self._stack[-1]
        if tag in ("td", "th") and self._cell is not None:
            rows = t["head"] if t["in_head"] else t["body"]
            if not rows:
                rows.append([])
            rows[-1].append((" ".join("".join(self._cell).split()), *self._span))
            self._cell = None
        elif tag == "thead":
            t["in_head"] = False
        elif tag == "table":
            self._stack.pop()
            head, body = _grid(t["head"]), _grid(t["body"])
            width = max([len(r) for r in head + body], default=0)
            headers = [next((r[j] for r in reversed(head) if j < len(r) and r[j]), "") for j in range(width)]
            self.tables.append(Table(headers, [r + [""] * (width - len(r)) for r in body]))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> list[Table]:
    """Every table in an HTML fragment."""
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    return parser.tables


def count_columns_not_integer(table: Table) -> list[str]:
    """``"header: v1, v2"`` for every count column (by its header) with a value not printed as an integer."""
    problems = []
    for j, header in enumerate(table.headers):
        if not is_count_header(header):
            continue
        bad = [r[j] for r in table.rows if r[j].strip() not in MISSING and not INTEGER.match(r[j].strip())]
        if bad:
            problems.append(f"{header}: {', '.join(bad[:3])}")
    return problems


def html_number_problems(html: str) -> list[str]:
    """What the page checks say about an HTML fragment's numbers: count columns not printed as
    integers, and numpy scalar reprs (``np.float64(...)``) in its text."""
    problems = [p for t in html_tables(html) for p in count_columns_not_integer(t)]
    problems += [f"numpy scalar repr {m.group(0)}" for m in NUMPY_REPR.finditer(html)][:3]
    return problems


def notebook_number_problems(nb) -> list[str]:
    """:func:`html_number_problems` over the outputs of an executed notebook that its page shows: glue
    outputs (which the page inserts into the prose) and cells tagged remove-output/remove-cell are left out."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if {"remove-output", "remove-cell"} & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            if "scrapbook" in out.get("metadata", {}):
                continue
            data = out.get("data", {})
            if "text/html" in data:
                found = html_number_problems(data["text/html"])
            else:
                text = out.get("text", "") + data.get("text/plain", "")
                found = [f"numpy scalar repr {m.group(0)}" for m in NUMPY_REPR.finditer(text)][:3]
            problems += [f"cell {i}: {f}" for f in found]
    return problems


# A cell cut by pandas (display.max_colwidth) or by hand ends in an ellipsis.
TRUNCATED = re.compile(r"(\.\.\.|…)$")
# A number printed with padding zeros: five or more decimals of which the last three are zeros ("1.500000");
# an alpha is printed as it is ("1.5"). A count printed as "16.0000" is caught by the count columns' check.
PADDED = re.compile(r"^[-+]?\d+\.\d{2,}000$")


def table_readability_problems(table: Table) -> list[str]:
    """What makes a table hard to read (issue 21): a truncated cell, a header that is a code name rather than
    words (``coupling_median``), a meaningless index column (pandas' 0, 1, 2, ... with no name), and numbers
    printed with padding zeros (``1.500000``). Each problem is named with an example."""
    problems = []
    cells = [c.strip() for r in table.rows for c in r]
    truncated = [c for c in cells if TRUNCATED.search(c)]
    if truncated:
        problems.append(f"truncated cell: {truncated[0]!r}")
    coded = [h for h in table.headers if "_" in h]
    if coded:
        problems.append(f"header not in words: {coded[0]!r}")
    if table.rows and table.headers and not table.headers[0].strip():
        first = [r[0].strip() for r in table.rows]
        if first == [str(i) for i in range(len(first))]:
            problems.append("meaningless index column 0, 1, 2, ...")
    padded = [c for c in cells if PADDED.match(c)]
    if padded:
        problems.append(f"number printed with padding zeros: {padded[0]!r}")
    return problems


def html_table_problems(html: str) -> list[str]:
    """:func:`table_readability_problems` of every table in an HTML fragment."""
    return [p for t in html_tables(html) for p in table_readability_problems(t)]
