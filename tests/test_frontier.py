"""htsgd.frontier: the claims of the compressibility-accuracy map on hand-built tables, the shipped results, and the
verdict the README states (it must say what the committed results compute)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import htsgd.frontier as fr

ROOT = Path(__file__).resolve().parents[1]
SIGMAS = (1e-3, 3e-3, 1e-2)


def _map(n_seeds: int = 6, heavy_gain: float = 0.1) -> pd.DataFrame:
    """A small map: no noise, alpha 2 and alpha 1.5 (type 1) at three sigmas; accuracy falls with sigma alike for
    both alphas, the mce fraction and the prunable fraction of alpha 1.5 exceed alpha 2's by ``heavy_gain``, and the
    noise-free network is the least compressible and the least prunable."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(n_seeds):
        jitter = 0.002 * rng.standard_normal()
        rows.append({"role": "grid", "model": "fcn", "depth": 2, "width": 256, "noise": "per_neuron", "alpha": np.nan, "sigma": 0.0,
                     "seed": seed, "test_acc": 0.93 + jitter, fr.MCE: 0.1, fr.PRUNABLE: 0.1,
                     "stopped_by": "train_acc", "iterations": 300})
        for alpha, gain in ((2.0, 0.0), (1.5, heavy_gain)):
            for k, sigma in enumerate(SIGMAS):
                rows.append({"role": "grid", "model": "fcn", "depth": 2, "width": 256, "noise": "per_neuron", "alpha": alpha, "sigma": sigma,
                             "seed": seed, "test_acc": 0.93 + jitter - 0.01 * (k + 1),
                             fr.MCE: 0.2 + 0.1 * k + gain + 0.01 * rng.standard_normal(),
                             fr.PRUNABLE: 0.2 + gain + 0.01 * rng.standard_normal(),
                             "stopped_by": "max_iters" if k == 2 else "train_acc", "iterations": 300 * (k + 1)})
    frame = pd.DataFrame(rows)
    frame["hash"] = [f"h{i}" for i in range(len(frame))]
    frame["matched_to"] = None
    return frame


def test_claims_cover_every_setting_level_and_comparator_in_two_families():
    claims = fr.claims(_map())
    assert len(claims) == 2 * 1 * len(fr.DROPS) * len(fr.COMPARATORS)  # quantities x settings x levels x comparators
    assert {c.family for c in claims} == set(fr.QUANTITIES)
    assert len({c.key for c in claims}) == len(claims)
    assert claims[0].key == "comp-fcn2-w256-t1-a150-d5-gauss"


def test_heavy_settings_need_a_gaussian_counterpart_and_a_noise_free_network():
    frame = _map()
    assert fr.heavy_settings(frame) == [("fcn", 2, 256, "per_neuron", 1.5)]
    assert fr.heavy_settings(frame[frame.alpha != 2.0]) == []  # no Gaussian noise of the type: nothing to compare
    assert fr.heavy_settings(frame[frame.alpha.notna()]) == []  # no noise-free network: no target accuracy


def test_matched_accuracy_verdicts_on_a_hand_built_map():
    """Accuracy falls by 1 point per sigma step from the noise-free one, alike for both alphas. At the noise-free
    accuracy minus 1 point both read their first sigma: alpha 1.5's mce fraction exceeds alpha 2's by 0.1 and the
    noise-free 0.1 by 0.2 (so both hold); its prunable fraction exceeds both by 0.1 (hold) when heavy_gain > 0,
    and equals alpha 2's when it is 0 (undecided), while still beating no noise."""
    found = fr.verdict(_map())
    key = "comp-fcn2-w256-t1-a150-d10-gauss"
    assert found[key].verdict == "yes" and found[key].estimate == pytest.approx(0.1, abs=0.02)
    assert found["comp-fcn2-w256-t1-a150-d10-none"].estimate == pytest.approx(0.2, abs=0.02)
    assert found["robu-fcn2-w256-t1-a150-d20-gauss"].verdict == "yes"
    # at 0.5 point the first noise level already costs more (1 point): no seed crosses the target, nothing is settled
    assert found["robu-fcn2-w256-t1-a150-d5-gauss"].n == 0 and found["robu-fcn2-w256-t1-a150-d5-gauss"].verdict == "undecided"
    assert fr.together(found)["both"].tolist() == [False, True, True]
    flat = fr.verdict(_map(heavy_gain=0.0))
    assert flat["robu-fcn2-w256-t1-a150-d10-gauss"].verdict == "undecided"
    assert flat["robu-fcn2-w256-t1-a150-d10-none"].verdict == "yes"
    assert not fr.together(flat)["both"].any()
    counts = fr.tally(flat)
    assert counts["robust-gaussian-all"] == len(fr.DROPS) and counts["robust-gaussian-holds"] == 0
    assert fr.reading(counts, "robust", "gaussian") == "is undecided"
    assert fr.reading(counts, "robust", "none") == "holds in part"  # 1 and 2 points hold; 0.5 is undecided


def test_a_heavy_tail_worse_than_no_noise_fails_under_holm():
    frame = _map()
    free = frame.alpha.isna()
    frame.loc[free, fr.PRUNABLE] = 0.6  # the noise-free network is far more prunable
    found = fr.verdict(frame)
    for drop in (10, 20):  # at 0.5 point no seed crosses the target (see above)
        f = found[f"robu-fcn2-w256-t1-a150-d{drop}-none"]
        assert f.verdict == "no" and f.p_holm >= f.p_value
    counts = fr.tally(found)
    assert fr.reading(counts, "robust", "none") == "fails"  # two fail, one undecided, none holds
    grid = fr.verdict_grid(found, "robust")
    assert list(grid.columns.get_level_values(0).unique()) == list(fr.COMPARATORS)
    assert grid["none"].stack().tolist() == ["?", "fails", "fails"]


def test_settings_and_claims_keep_networks_apart():
    deep = _map().assign(depth=4)
    cnn = _map().assign(model="cnn", depth=3, width=8)
    frame = pd.concat([_map(), deep, cnn], ignore_index=True)
    assert [s[:3] for s in fr.heavy_settings(frame)] == [("fcn", 2, 256), ("fcn", 4, 256), ("cnn", 3, 8)]
    found = fr.verdict(frame)
    assert found["comp-cnn3-w8-t1-a150-d10-gauss"].n == 6  # each network compared with its own controls
    assert list(fr.verdict_grid(found, "compressible").index.get_level_values("network").unique()) == [
        "1 hidden layer", "3 hidden layers", "CNN"]
    assert fr.network("fcn", 2) == "1 hidden layer" and fr.network("cnn", 3) == "CNN"


def _why(n_seeds: int = 8) -> pd.DataFrame:
    """Explanation runs: type 1 at alpha 1.5, where the norms follow the noise and the largest-norm order wins, and
    type 2 at alpha 1.5, where mce wins; plus the noise-free network (no ranking: NaN)."""
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(n_seeds):
        base = {"role": "grid", "model": "fcn", "depth": 2, "width": 256, "seed": seed, "test_acc": 0.93, fr.MCE: 0.1}
        rows.append({**base, "noise": "per_neuron", "alpha": np.nan, "sigma": 0.0, "ranking/spearman_noise": np.nan,
                     "ranking/spearman_noise_free": 1.0, "prune/mce0.1/test_acc": 0.92,
                     "prune/mce0.1/largest/test_acc": 0.5, "prune/mce0.1/noise_free/test_acc": 0.92,
                     "prune/mce0.1/random/test_acc": 0.9})
        for noise, follows in (("per_neuron", True), ("per_weight", False)):
            e = 0.005 * rng.standard_normal(4)
            rows.append({**base, "noise": noise, "alpha": 1.5, "sigma": 3e-3,
                         "ranking/spearman_noise": (0.9 if follows else 0.2) + e[0],
                         "ranking/spearman_noise_free": (0.5 if follows else 0.9) + e[1],
                         "prune/mce0.1/test_acc": (0.70 if follows else 0.91) + e[2],
                         "prune/mce0.1/largest/test_acc": (0.80 if follows else 0.6) + e[3],
                         "prune/mce0.1/noise_free/test_acc": 0.9, "prune/mce0.1/random/test_acc": 0.78})
    frame = pd.DataFrame(rows)
    frame["hash"], frame["matched_to"] = [f"h{i}" for i in range(len(frame))], None
    return frame


def test_why_claims_read_each_network_against_itself():
    from htsgd.evidence import assess

    frame = _why()
    claims = fr.why_claims(frame)
    assert len(claims) == 2 * len(fr.WHY) and {c.family for c in claims} == {"why"}
    grid = fr.why_grid(assess(claims, {"why": frame}))
    assert list(grid.columns) == [name for name, *_ in fr.WHY]
    type1, type2 = grid.iloc[0], grid.iloc[1]
    assert type1.tolist() == ["holds", "holds", "holds", "fails"]  # the norms follow the noise; mce loses to random
    assert type2.tolist() == ["fails", "fails", "fails", "holds"]
    table = fr.why_table(frame)
    assert table.loc[("1 hidden layer", 256, 1, 1.5, 3e-3), "largest"] == pytest.approx(0.80, abs=0.01)
    assert table[table.index.get_level_values("type") == 0]["rho(noise)"].isna().all()  # no noise: nothing to rank


def test_complete_widths_are_those_with_every_seed_of_the_config():
    frame, _ = fr.load("digits-frontier", start=ROOT)
    assert 256 in fr.complete_widths(frame)
    assert fr.complete_widths(frame[frame.seed != 7]) == []  # one seed missing everywhere: no width is complete
    assert set(fr.tested(frame).width) == set(fr.complete_widths(frame))


def test_networks_that_did_not_train_leave_the_pruning_claims():
    frame = _map()  # the third sigma's grid cells are capped
    kept = fr.trained(frame)
    capped = frame.stopped_by == "max_iters"
    assert kept.loc[capped, fr.MCE].isna().all() and kept.loc[~capped, fr.MCE].notna().all()
    assert kept.loc[capped, "test_acc"].equals(frame.loc[capped, "test_acc"])  # the accuracy still counts


def test_fixed_sigma_claims_pair_each_level_with_gaussian_noise_and_no_noise():
    from htsgd.evidence import assess

    frame = fr.trained(_map())
    claims = fr.fixed_claims(frame)
    assert len(claims) == len(SIGMAS) * 2 * 2  # levels x quantities x comparators
    found = assess(claims, {"map": frame})
    grid = fr.fixed_grid(found)
    cell = grid.loc[("1 hidden layer", 256, 1, 1.5, 1e-3), ("compressible", "gaussian")]
    assert re.fullmatch(r"holds \(\+0\.(09|10|11), 6 seeds\)", cell), cell  # 0.1 plus the noise of two draws
    assert grid.loc[("1 hidden layer", 256, 1, 1.5, 1e-2), ("robust", "none")] == "? (no network trained)"


def test_summary_counts_seeds_and_capped_cells():
    table = fr.summary(_map(n_seeds=4))
    top = table[(table.alpha == 1.5) & (table.sigma == SIGMAS[-1])].iloc[0]
    assert top["n"] == 4 and top["capped"] == 4 and top["iterations"] == 900
    free = table[table.alpha.isna()].iloc[0]
    assert free["sigma"] == 0.0 and free["noise"] == "none" and free[fr.MCE] == pytest.approx(0.1)


def test_bad_input_is_refused_by_name():
    with pytest.raises(ValueError, match="name"):
        fr.load("not-a-sweep")
    with pytest.raises(ValueError, match="quantity"):
        fr.claims(_map(), quantities=["accuracy"])
    with pytest.raises(ValueError, match="comparator"):
        fr.reading(fr.tally(fr.verdict(_map())), "robust", "uniform")


def test_the_figure_has_four_panels_and_a_legend_entry_per_setting():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = fr.figure(fr.summary(_map()), 256, [("per_neuron", 2.0), ("per_neuron", 1.5)])
    assert len(fig.axes) == 4
    assert len(fig.legends[0].get_texts()) == 3  # two settings and no noise
    plt.close(fig)


@pytest.mark.parametrize("name", fr.SWEEPS)
def test_the_shipped_copy_is_the_committed_results(name):
    """The chapter reads the package's copy on Colab: it must hold exactly the committed results.csv
    (rerun scripts/ship_runs.py after recomputing a sweep)."""
    committed = ROOT / "results" / name / "results.csv"
    shipped = ROOT / "htsgd" / "runs" / name / "results.csv.gz"
    if not committed.is_file():
        assert not shipped.is_file(), f"{shipped} has no committed results.csv beside it"
        pytest.skip(f"{name}: no committed results yet")
    assert shipped.is_file(), f"run scripts/ship_runs.py {name}"
    assert gzip.decompress(shipped.read_bytes()) == committed.read_bytes()
    assert (shipped.parent / "provenance.json").read_bytes() == committed.with_name("provenance.json").read_bytes()


def test_load_prefers_the_clone_and_falls_back_to_the_shipped_copy(tmp_path):
    frame, about = fr.load("digits-frontier", start=ROOT)
    assert about["source"] == "results/digits-frontier" and len(frame) > 0
    packaged, about = fr.load("digits-frontier", start=tmp_path)  # no results/ above tmp_path: the shipped copy
    assert about["source"] == "the copy shipped with htsgd"
    pd.testing.assert_frame_equal(frame, packaged)


_README_LINE = re.compile(
    r"against Gaussian noise it (holds in part|holds|fails|is undecided)\s+\(holds in (\d+) of (\d+) comparisons, "
    r"fails in (\d+)\); against no noise it (holds in part|holds|fails|is undecided) \(holds in (\d+) of (\d+), "
    r"fails in (\d+)\)")


def test_the_readme_states_the_verdict_the_committed_results_give():
    frame, _ = fr.load("digits-frontier", start=ROOT)
    counts = fr.tally(fr.verdict(fr.tested(frame)))
    text = " ".join((ROOT / "README.md").read_text().split())
    section = text[text.index("## What the book finds"):text.index("## The two commands")]
    widths = re.search(r"tested at widths? ([\d, and]+) \(", section)
    assert widths and [int(w) for w in re.findall(r"\d+", widths[1])] == fr.complete_widths(frame)
    for quantity, label in (("compressible", "**Compressibility**"), ("robust", "**Robustness under pruning**")):
        line = section[section.index(label):]
        found = _README_LINE.search(line)
        assert found, f"the README's line on {label} does not have the tested form"
        said = found.groups()
        for i, against in enumerate(fr.COMPARATORS):
            word, held, total, failed = said[4 * i:4 * i + 4]
            assert word == fr.reading(counts, quantity, against), (quantity, against)
            assert (int(held), int(total), int(failed)) == tuple(
                counts[f"{quantity}-{against}-{k}"] for k in ("holds", "all", "fails")), (quantity, against)
    both = re.search(r"\*\*Both at once\*\*: in (\d+) of (\d+) settings", section)
    assert both and (int(both[1]), int(both[2])) == (counts["both"], counts["both-all"])
    if "What the mce rule counts is not what pruning costs" in section:  # said only where the numbers say it
        assert fr.reading(counts, "compressible", "none") == "holds"
        assert fr.reading(counts, "robust", "none") == "fails"


def test_the_chapter_keeps_its_code_budget_and_states_predictions_before_numbers():
    """Issue 22 §4: the chapter keeps the experiments chapter's budget (at most 250 code lines, options blocks not
    counted; no assert) and declares its claims before it assesses or plots anything."""
    source = (ROOT / "book" / "frontier.md").read_text()
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", source, flags=re.S)
    lines = [line for cell in cells for line in re.sub(r"\A---\n.*?^---\n", "", cell, count=1,
                                                       flags=re.S | re.M).splitlines() if line.strip()]
    assert len(lines) <= 250, len(lines)
    assert not re.search(r"^\s*assert\b", "\n".join(cells), flags=re.M)
    first_result = min(source.find(s) % len(source) for s in ("assess(", "hs.frontier.figure(", "hs.frontier.verdict("))
    assert source.index("## The predictions") < source.index("CLAIMS = hs.frontier.claims(") < first_result
