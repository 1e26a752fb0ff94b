"""The page checks judge a column by its header, never by the numbers a machine produced (issue 19)."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from page_checks import (
    count_columns_not_integer,
    html_number_problems,
    html_tables,
    is_count_header,
    notebook_number_problems,
)


@pytest.mark.parametrize(
    "header", ["iterations", "seeds", "width", "steps", "n", "n_seeds", "cells", "count"]
)
def test_count_headers(header):
    assert is_count_header(header)


@pytest.mark.parametrize(
    "header", ["test_acc", "pruned_fraction", "alpha", "step size", "mean iterations", "lr", "95% low", "seconds"]
)
def test_float_headers(header):
    assert not is_count_header(header)


def test_a_float_column_of_whole_numbers_passes():
    """The old check failed this page: accuracies of 1.0 and 0.0 looked like integers printed as floats."""
    frame = pd.DataFrame({"test_acc": [1.0, 0.0], "iterations": [300, 700]})
    assert html_number_problems(frame.to_html()) == []


@pytest.mark.parametrize("values", [[300.0, 700.0], [300.5, 700.0]])
def test_a_count_column_must_print_integers_whatever_its_values(values):
    """Mean iterations that happen to be whole (another machine's run) fail exactly as fractional ones do."""
    frame = pd.DataFrame({"test_acc": [0.5, 0.25], "iterations": values})
    (problem,) = html_number_problems(frame.to_html())
    assert problem.startswith("iterations: ")


def test_index_columns_and_a_multiindex_are_judged_by_their_names():
    frame = pd.DataFrame(
        {"model": ["mlp"] * 4, "width": [64.0, 64.0, 128.0, 128.0], "alpha": [1.5, 2.0, 1.5, 2.0],
         "seeds": [5, 5, 5, 5], "test_acc": [0.9, 0.8, 1.0, 0.7]}
    ).set_index(["model", "width", "alpha"])
    html = frame.to_html()  # sparsified: model and width span several rows
    (table,) = html_tables(html)
    assert table.headers == ["model", "width", "alpha", "seeds", "test_acc"]
    assert [r[0] for r in table.rows] == ["mlp"] * 4
    assert count_columns_not_integer(table) == ["width: 64.0, 64.0, 128.0"]
    fixed = frame.rename(index=int, level="width")
    assert html_number_problems(fixed.to_html()) == []


def test_a_column_group_does_not_make_its_columns_counts():
    """The chaos chapter's fitted exponents, grouped under "all widths" and "n >= 256", are real numbers."""
    rates = pd.DataFrame({"coupling": [-0.52, -1.0], "seeds": [8, 8]}, index=["no noise", "alpha = 2"])
    frame = pd.concat({"all widths": rates, "n >= 256": rates}, axis=1)
    (table,) = html_tables(frame.to_html())
    assert table.headers == ["", "coupling", "seeds", "coupling", "seeds"]
    assert html_number_problems(frame.to_html()) == []
    assert len(html_number_problems(frame.astype(float).to_html())) == 2  # both seeds columns


def test_thousands_separators_e_notation_and_missing_values_are_integers():
    html = ("<table><thead><tr><th>cells</th><th>steps to t = 20</th></tr></thead><tbody><tr><td>1,280</td>"
            "<td>3.4e+06</td></tr><tr><td>NaN</td><td>2.0e+02</td></tr></tbody></table>")
    assert html_number_problems(html) == []


def test_numpy_scalar_reprs_and_notebook_outputs():
    nb = nbformat.v4.new_notebook()
    shown = nbformat.v4.new_code_cell("x")
    shown.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "np.float64(0.5)"}, execution_count=1)]
    hidden = nbformat.v4.new_code_cell("y", metadata={"tags": ["remove-output"]})
    hidden.outputs = [nbformat.v4.new_output("stream", text="np.int64(3)")]
    table = nbformat.v4.new_code_cell("t")
    table.outputs = [nbformat.v4.new_output(
        "display_data", {"text/html": pd.DataFrame({"seeds": [5.0]}).to_html(), "text/plain": "..."})]
    nb.cells = [shown, hidden, table]
    assert notebook_number_problems(nb) == ["cell 0: numpy scalar repr np.float64(", "cell 2: seeds: 5.0"]


def test_the_committed_machine_measurement_is_current_and_read_by_the_status_page():
    """benchmarks/results/machines.json (glued on the status page) was written with the settings the
    benchmark and the plain-install test use, and holds what the status page reads."""
    import importlib.util
    import json

    from conftest import BOOK, ROOT

    spec = importlib.util.spec_from_file_location("bench_machines", ROOT / "benchmarks" / "bench_machines.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    measured = json.loads((ROOT / "benchmarks" / "results" / "machines.json").read_text())
    assert measured["settings"] == bench.SETTINGS
    assert all(measured["kernels_differ"].values()), "the emulation must change torch's kernels"
    assert measured["cells"] and set(measured["largest_difference"]) == set(bench.REPORTED)
    for cell in measured["cells"]:
        assert set(cell["native"]) == set(cell["emulated"]) == set(bench.REPORTED)
    assert "machines.json" in (BOOK / "status.md").read_text()


def test_table_readability_names_each_problem():
    from page_checks import html_table_problems

    good = ("<table><thead><tr><th>width</th><th>alpha</th><th>claim</th></tr></thead>"
            "<tbody><tr><td>16</td><td>1.5</td><td>Heavy tails prune more than Gaussian noise</td></tr></tbody></table>")
    assert html_table_problems(good) == []
    bad = ("<table><thead><tr><th></th><th>coupling_median</th><th>width</th><th>claim</th></tr></thead><tbody>"
           "<tr><th>0</th><td>0.1</td><td>1.500000</td><td>Heavy tails prune more than Gaussian noise at every...</td></tr>"
           "<tr><th>1</th><td>0.2</td><td>1.750000</td><td>x</td></tr></tbody></table>")
    problems = html_table_problems(bad)
    assert [p.split(":")[0] for p in problems] == [
        "truncated cell", "header not in words", "meaningless index column 0, 1, 2, ...",
        "number printed with padding zeros"], problems
    # Precision that carries information is not padding; an index that names rows is not meaningless.
    assert html_table_problems("<table><tr><th></th><th>accuracy</th></tr><tr><th>seed 0</th><td>0.9000</td></tr>"
                               "<tr><th>seed 1</th><td>0.9125</td></tr></table>") == []
    assert html_table_problems("<table><tr><th>alpha</th></tr><tr><td>1.500000</td></tr></table>")
