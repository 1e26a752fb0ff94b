"""Static checks of the experiments chapter: its wording comes from computed values, its grids exist.

Executing the chapter (tests/test_chapters.py) runs its own hidden assertions that the glued
sentences and the verdict table come from the same verdicts; these tests check the source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import htsgd as hs

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "experiments.md"
SOURCE = CHAPTER.read_text()
CODE = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", SOURCE, flags=re.S))
PROSE = re.sub(r"```.*?```", "", SOURCE, flags=re.S)


def test_every_glued_key_is_computed():
    used = set(re.findall(r"\{glue:(?:text|md)\}`([\w-]+)", PROSE))
    defined = set(re.findall(r"glue\(\s*f?\"([\w{}-]+)\"", CODE))
    # keys built with an f-string over the verdicts
    defined |= {f"exp-n-{k}" for k in ("yes", "no", "undecided")} if "exp-n-{key}" in defined else set()
    assert used, "the chapter glues nothing"
    assert used <= defined, f"glued in prose but never computed: {sorted(used - defined)}"


def test_verdict_sentences_are_chosen_by_phrase():
    """Every glued sentence about a verdict (exp-s-...) is built by evidence.phrase or from a boolean."""
    for key in re.findall(r"glue\(\"(exp-s-[\w-]+)\"", CODE):
        call = CODE[CODE.index(f'glue("{key}"') :].split("display=False)")[0]
        assert "phrase(" in call or " if " in call, f"{key} is not chosen from a computed verdict"


def test_predictions_come_before_the_first_result():
    assert SOURCE.index("**The predictions**") < SOURCE.index("run_sweep(")


@pytest.mark.parametrize("part", ["teacher-student-widths", "teacher-student-seeds", "mnist1d-matched"])
def test_book_and_quick_grids_exist_and_quick_is_smaller(part):
    book = hs.sweep.load_config(f"book-{part}")
    quick = hs.sweep.load_config(f"book-{part}-quick")
    assert len(quick.cells()) < len(book.cells())
    assert "book-{part}{SUFFIX}" in CODE and f'"{part}"' in CODE


def test_the_grid_switch_is_visible_and_defaults_to_quick():
    assert 'GRID = "book" if os.environ.get("HTSGD_BOOK_BUILD") == "1" else "quick"' in SOURCE


def test_exercise_convention():
    labels = re.findall(r":label: (ex-experiments-\d+)\n:class: (\w+) stars-[123] minutes-\d+", SOURCE)
    assert [lab for lab, _ in labels] == [f"ex-experiments-{i}" for i in range(1, len(labels) + 1)]
    assert len(labels) >= 5
    assert sum(kind == "derivation" for _, kind in labels) >= 2
