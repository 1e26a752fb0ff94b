"""Exercises an instructor can assign: difficulty and time on every exercise, an index page, solutions off.

A local Sphinx extension (loaded from ``_config.yml``), on top of sphinx-exercise:

1. Every exercise's ``:class:`` must hold exactly its kind (``derivation`` or ``computation``),
   ``stars-N`` and ``minutes-N`` (the book's convention, read by ``exercise_convention.exercise_classes``);
   a missing or broken one is a build warning (an error in the strict build). The exercise then
   shows a line "Derivation · ★★☆ (two stars) · about 15 min" under its title.
2. ``:::{exercise-index}`` (in ``book/exercises.md``) becomes tables of every exercise of the
   book, by chapter, by difficulty and by topic, with their numbers and links, how the instructor
   kit grades each (``exercise_convention.grading``), and a table of per-chapter totals (minutes,
   autograded and hand-graded points) with the measured cost of autograding one student
   (``benchmarks/results/autograde.json``, written by ``benchmarks/bench_autograde.py``). It is
   generated from what the build read, so a new chapter's exercises appear without editing the
   page. The topic of an exercise is the section of its chapter that holds the first result or
   equation it refers to (``{prf:ref}``, ``{eq}``), else its chapter.
3. ``htsgd_hide_solutions = True`` (the ``make book-student`` build) removes every solution,
   gated or not, after sphinx-exercise has merged the gated ones. sphinx-exercise's own
   ``hide_solutions`` cannot be used: it drops ``solution-start`` but keeps ``solution-end``,
   and the gated-directive check then stops the build. That build also drops the page buttons
   that would hand out the solutions (source and notebook downloads, Binder and Colab).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from docutils import nodes
from exercise_convention import (  # beside this file
    STAR_WORDS,
    STARS,
    exercise_classes,
    find_exercises,
    grading,
)
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class exercise_index_node(nodes.General, nodes.Element):
    """Placeholder replaced by the index tables once every page has been read."""


class ExerciseIndexDirective(SphinxDirective):
    has_content = False

    def run(self):
        self.env.htsgd_exercise_index_docs = getattr(self.env, "htsgd_exercise_index_docs", set())
        self.env.htsgd_exercise_index_docs.add(self.env.docname)
        return [exercise_index_node()]


def _exercise_nodes(doctree):
    from sphinx_exercise.nodes import exercise_enumerable_node, exercise_node

    return list(doctree.findall(lambda n: isinstance(n, (exercise_enumerable_node, exercise_node))))


def _title_of(node) -> str:
    from sphinx_exercise.nodes import exercise_subtitle

    subtitles = list(node.children[0].findall(exercise_subtitle)) if node.children else []
    return subtitles[0].astext().strip() if subtitles else ""


def _section_title(node) -> str | None:
    while node is not None:
        if isinstance(node, nodes.section) and node.children and isinstance(node.children[0], nodes.title):
            return node.children[0].astext()
        node = node.parent
    return None


def _topic(doctree, node, chapter_title: str) -> str:
    """The section holding the first result or equation the exercise refers to."""
    for xref in node.findall(addnodes.pending_xref):
        target = xref.get("reftarget", "")
        if not target:
            continue
        for candidate in doctree.findall(nodes.Element):
            ids = candidate.get("ids", [])
            if target in ids or f"equation-{target}" in ids:
                title = _section_title(candidate)
                if title and title != chapter_title:
                    return title
                break
    return chapter_title


def _read_exercises(app, doctree) -> None:
    env = app.env
    docname = env.docname
    records = []
    titles = list(doctree.findall(nodes.title))
    chapter_title = titles[0].astext() if titles else docname
    for node in _exercise_nodes(doctree):
        label = node.get("label", "")
        classes = [c for c in node.get("classes", []) if c not in ("exercise", "exercise-start")]
        try:
            meta = exercise_classes(classes)
        except ValueError as err:
            logger.warning(f"exercise {label}: {err}", location=node)
            continue
        line = nodes.paragraph(classes=["htsgd-exercise-meta"])
        line += nodes.inline(
            text=f"{meta['kind'].capitalize()} · {STARS[meta['stars']]} ({STAR_WORDS[meta['stars']]})"
            f" · about {meta['minutes']} min"
        )
        content = next((c for c in node.children if isinstance(c, nodes.section)), None)
        if content is not None:
            content.insert(0, line)
        records.append({"label": label, "title": _title_of(node), "topic": _topic(doctree, node, chapter_title),
                        **meta})
    if records:
        env.htsgd_exercises = getattr(env, "htsgd_exercises", {})
        env.htsgd_exercises[docname] = records
    if app.config.htsgd_hide_solutions:
        from sphinx_exercise.nodes import solution_node, solution_start_node

        for node in list(doctree.findall(lambda n: isinstance(n, (solution_node, solution_start_node)))):
            node.parent.remove(node)


_HANDS_OUT_SOLUTIONS = ("download-source-button", "download-notebook-button", "launch", "binder", "colab",
                        "jupyterhub", "thebe")


def _student_buttons(app, pagename, templatename, context, doctree) -> None:
    """In the solutions-free build, drop the buttons that would hand out the solutions (the page's source,
    its notebook, Binder and Colab launchers); keep the rest (print to PDF, repository, full screen)."""
    if not app.config.htsgd_hide_solutions or "header_buttons" not in context:
        return

    def keep(button) -> bool:
        label = str(button.get("label", "")) + " " + str(button.get("url", ""))
        return not any(word in label.lower() for word in _HANDS_OUT_SOLUTIONS)

    def prune(buttons):
        kept = []
        for button in buttons:
            if not keep(button):
                continue
            if "buttons" in button:
                button = {**button, "buttons": prune(button["buttons"])}
                if not button["buttons"]:
                    continue
            kept.append(button)
        return kept

    context["header_buttons"] = prune(context["header_buttons"])


def _purge(app, env, docname) -> None:
    getattr(env, "htsgd_exercises", {}).pop(docname, None)
    getattr(env, "htsgd_exercise_index_docs", set()).discard(docname)


def _merge(app, env, docnames, other) -> None:
    env.htsgd_exercises = getattr(env, "htsgd_exercises", {})
    env.htsgd_exercises.update(getattr(other, "htsgd_exercises", {}))
    env.htsgd_exercise_index_docs = getattr(env, "htsgd_exercise_index_docs", set()) | getattr(
        other, "htsgd_exercise_index_docs", set())


def _outdated(app, env, added, changed, removed) -> list[str]:
    # The index page lists every chapter's exercises: rebuild it whenever any page changes.
    return sorted(getattr(env, "htsgd_exercise_index_docs", set())) if (added or changed or removed) else []


def _document_order(env, root: str) -> list[str]:
    order: list[str] = []

    def walk(doc: str) -> None:
        if doc in order:
            return
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(root)
    return order


def _table(header: list[str], rows: list[list[nodes.Node]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["htsgd-exercise-index"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for w in widths:
        group += nodes.colspec(colwidth=w)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for h in header:
        row += nodes.entry("", nodes.paragraph(text=h))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.paragraph) else nodes.paragraph("", "", cell)
            row += entry
        body += row
    return table


def _grades(env, chapters: list[str]) -> dict[str, dict[str, Any]]:
    """How the kit grades each exercise of ``chapters``, read from their MyST sources."""
    grades = {}
    for doc in chapters:
        with open(env.doc2path(doc), encoding="utf-8") as f:
            grades.update({e.label: grading(e) for e in find_exercises(f.read())})
    return grades


def _autograde_timing(app) -> dict[str, Any] | None:
    path = Path(app.srcdir) / "benchmarks" / "results" / "autograde.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _totals(app, chapters: list[str], entries: list[dict[str, Any]]) -> list[nodes.Node]:
    """The per-chapter totals an instructor plans a week with, and what the autograde measurement says."""
    timing = _autograde_timing(app)
    measured = (timing or {}).get("chapters", {})
    rows = []
    for doc in chapters:
        mine = [e for e in entries if e["doc"] == doc]
        stem = doc.rsplit("/", 1)[-1]
        cost = measured.get(stem)
        rows.append([nodes.Text(f"{mine[0]['chapter_number']}. {mine[0]['chapter']}".lstrip(". ")),
                     nodes.Text(str(len(mine))), nodes.Text(f"{sum(e['minutes'] for e in mine)} min"),
                     nodes.Text(f"{sum(e['autograded'] for e in mine)} ({sum(e['auto_points'] for e in mine)} points)"),
                     nodes.Text(str(sum(e["hand_points"] for e in mine))),
                     nodes.Text(f"{cost['wall_s']:.0f} s ({cost['cpu_s']:.0f} s CPU)" if cost else "not measured")])
    table = _table(["Chapter", "Exercises", "Time", "Autograded (points)", "Points by hand",
                    "Autograde time, one student"], rows, [30, 10, 10, 18, 12, 20])
    if timing is None:
        note = ("The autograde time has not been measured in this copy of the book: run "
                "python benchmarks/bench_autograde.py from the repository root.")
    else:
        load = timing["load_average_before"][0]
        note = (f"Autograde times: nbgrader autograde of one solved copy per chapter, measured "
                f"{timing['measured_at']} on a {timing['machine']['cpus']}-CPU {timing['machine']['processor']} machine "
                f"(load average {load:g} when it started: wall times on a busy machine are long, the CPU time is the "
                f"steadier figure) by benchmarks/bench_autograde.py; a class of N students costs about N times as much.")
    return [nodes.rubric(text="Totals by chapter"), table, nodes.paragraph(text=note)]


def _resolve_index(app, doctree, fromdocname) -> None:
    placeholders = list(doctree.findall(exercise_index_node))
    if not placeholders:
        return
    env = app.env
    found = getattr(env, "htsgd_exercises", {})
    chapters = [d for d in _document_order(env, app.config.root_doc) if d in found]
    entries = []
    for doc in chapters:
        number = ".".join(map(str, env.toc_secnumbers.get(doc, {}).get("", ())))
        chapter = env.titles[doc].astext() if doc in env.titles else doc
        for record in found[doc]:
            ex_number = ".".join(map(str, env.toc_fignumbers.get(doc, {}).get("exercise", {}).get(record["label"], ())))
            entries.append({**record, "doc": doc, "chapter": chapter, "chapter_number": number, "number": ex_number})

    def link(e) -> nodes.Node:
        uri = app.builder.get_relative_uri(fromdocname, e["doc"]) + "#" + e["label"]
        ref = nodes.reference("", "", internal=True, refuri=uri)
        ref += nodes.Text(f"Exercise {e['number']}" if e["number"] else e["label"])
        para = nodes.paragraph()
        para += ref
        para += nodes.Text(f" {e['title']}")
        return para

    def difficulty(e) -> nodes.Node:
        return nodes.Text(f"{STARS[e['stars']]} ({STAR_WORDS[e['stars']]})")

    grades = _grades(env, chapters)
    for e in entries:
        e.update(grades.get(e["label"], {"autograded": False, "auto_points": 0, "hand_points": 0, "how": "?"}))
    content: list[nodes.Node] = []
    total = sum(e["minutes"] for e in entries)
    auto = [e for e in entries if e["autograded"]]
    intro = nodes.paragraph(text=(
        f"{len(entries)} exercises in {len(chapters)} chapters, "
        f"{sum(e['kind'] == 'derivation' for e in entries)} of them derivations; about {total // 60} h "
        f"{total % 60} min in all. {len(auto)} of them are autograded by a hidden test; "
        f"{len(entries) - len(auto)} are graded by hand, as is every written solution (one point each)."))
    content.append(intro)
    content += _totals(app, chapters, entries)

    def section(title: str, ident: str) -> nodes.section:
        sec = nodes.section(ids=[f"exercise-index-{ident}"])
        sec += nodes.title(text=title)
        return sec

    by_chapter = section("By chapter", "chapter")
    for doc in chapters:
        rows = [[link(e), nodes.Text(e["kind"]), difficulty(e), nodes.Text(f"{e['minutes']} min"),
                 nodes.Text(e["how"]), nodes.Text(e["topic"])] for e in entries if e["doc"] == doc]
        first = next(e for e in entries if e["doc"] == doc)
        heading = nodes.rubric(text=f"{first['chapter_number']}. {first['chapter']}" if first['chapter_number'] else first['chapter'])
        by_chapter += heading
        by_chapter += _table(["Exercise", "Kind", "Difficulty", "Time", "Graded", "Topic"], rows,
                             [32, 10, 15, 8, 15, 20])
    content.append(by_chapter)

    by_difficulty = section("By difficulty", "difficulty")
    for stars in (1, 2, 3):
        chosen = [e for e in entries if e["stars"] == stars]
        if not chosen:
            continue
        by_difficulty += nodes.rubric(text=f"{STARS[stars]} ({STAR_WORDS[stars]})")
        rows = [[link(e), nodes.Text(e["chapter"]), nodes.Text(e["kind"]), nodes.Text(f"{e['minutes']} min")]
                for e in chosen]
        by_difficulty += _table(["Exercise", "Chapter", "Kind", "Time"], rows, [45, 30, 15, 10])
    content.append(by_difficulty)

    by_topic = section("By topic", "topic")
    topics: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        topics[(e["chapter"], e["topic"])].append(e)
    rows = []
    for (chapter, topic), chosen in topics.items():
        for e in chosen:
            label = topic if topic == chapter else f"{chapter}: {topic}"
            rows.append([nodes.Text(label), link(e), nodes.Text(e["kind"]), difficulty(e)])
    by_topic += _table(["Topic", "Exercise", "Kind", "Difficulty"], rows, [35, 40, 12, 13])
    content.append(by_topic)

    for placeholder in placeholders:
        placeholder.replace_self([n.deepcopy() for n in content])


def setup(app) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")
    app.add_config_value("htsgd_hide_solutions", False, "env")
    app.add_node(exercise_index_node)
    app.add_directive("exercise-index", ExerciseIndexDirective)
    app.connect("doctree-read", _read_exercises)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("html-page-context", _student_buttons, priority=900)
    app.connect("doctree-resolved", _resolve_index)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
