"""Tests of cells that record what the neuron norms rank (``noise_ranking``) and prune by other orders.

A cell with ``noise_ranking`` records Spearman's rank correlations of its final neuron norms with
the norms of its accumulated noise and of the noise-free part, and the test accuracy after pruning
as many neurons as mce-0.1 removes by the largest norm and by the smallest noise-free norm. Each
recorded number is recomputed here independently from the trained network and its optimizer's
recorded noise (scipy's ``spearmanr``, rows zeroed by hand, a plain forward pass); a cell without
the option keeps the hash it had before the field existed; a noise-free cell records null (NaN),
not a number, for the correlation with its (zero) noise; and a batched member records what it
records alone.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from htsgd import compress, sweep
from htsgd.sweep import ConfigError, ExperimentConfig, cell, metrics
from htsgd.sweep.runner import BATCHED_RUNNER

ROOT = Path(__file__).resolve().parents[1]
GRID = [0.0, 0.25, 0.5, 0.75]

TINY = ExperimentConfig(
    dataset="teacher_student",
    dataset_options={"n_train": 256, "n_test": 128, "input_dim": 10, "teacher_width": 4, "num_classes": 3},
    width=32, lr=0.3, batch_size=64, max_iters=60, stop_train_acc=0.8, eval_every=20, sigma=0.03,
    alpha=1.5, prune_curve=GRID, noise_ranking=True,
)


def test_the_option_off_keeps_the_hash_of_a_committed_digits_frontier_cell():
    # The first cell of digits-frontier (width 256, no noise, seed 0): its hash, batched and alone,
    # as computed before the field existed (the batched one is a row of results/digits-frontier).
    first = sweep.load_config("digits-frontier").cells()[0]
    assert not first.noise_ranking and "noise_ranking" not in first.to_dict()
    assert sweep.cell_hash(first, BATCHED_RUNNER) == "0d84b5d5159f09699831cc0697369a059d20cf076ced57b15f3862606c9838d7"
    assert sweep.cell_hash(first) == "3bdede7766b0aadd69bbba304c7f4455f5c6c74cea51b7d8ca9ab2c66a9dc614"
    assert sweep.cell_hash(first.replace(noise_ranking=True)) != sweep.cell_hash(first)
    assert ExperimentConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ConfigError, match="noise_ranking"):
        ExperimentConfig.from_dict({**TINY.to_dict(), "noise_ranking": "yes"})


@pytest.fixture(scope="module")
def runs():
    """The lone noisy cell, the same cell batched (alone and beside another), and a noise-free cell,
    each with (config, trained model, data, optimizer) caught on their way to the measurements."""
    seen = []
    measure = cell._measure_cell

    def spy(cfg, model, data, result, device, opt=None):
        seen.append((cfg, model, data, opt))
        return measure(cfg, model, data, result, device, opt)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cell, "_measure_cell", spy)
        lone = cell.run_cell(TINY.to_dict())
        pair = cell.run_cells([TINY.replace(seed=1).to_dict(), TINY.to_dict()])
        single = cell.run_cells([TINY.to_dict()])
        quiet = cell.run_cell(TINY.replace(alpha=None, sigma=0.0).to_dict())
    return {"lone": (lone, seen[0]), "batched": (pair[1], seen[2]), "single": (single[0], seen[3]),
            "quiet": (quiet, seen[4])}


def _accuracy(model, data, mask):
    """Test accuracy of the network with the hidden neurons ``mask`` zeroed by hand (rows of a copy)."""
    pruned = copy.deepcopy(model)
    with torch.no_grad():
        pruned.linear_layers()[0].weight[torch.as_tensor(mask, dtype=torch.long)] = 0
        return float((pruned(data.x_test).argmax(1) == data.y_test).double().mean())


def _expected(cfg, model, data, opt):
    """The ranking and the order-pruned accuracies, recomputed from the network and its recorded noise."""
    w = model.linear_layers()[0].weight.detach().double().numpy()
    noise = (opt.accumulated_noise(model.linear_layers()[0].weight).numpy() if hasattr(opt, "accumulated_noise")
             else np.zeros_like(w))
    norms, noise_norms = np.linalg.norm(w, axis=1), np.linalg.norm(noise, axis=1)
    free = np.linalg.norm(w - noise, axis=1)
    count = int(round(cfg.width * compress.prune_report(compress.prune_neurons(model, mce=0.1)).neuron_fraction))
    order = {"largest": np.argsort(-norms, kind="stable"), "noise_free": np.argsort(free, kind="stable"),
             "norm": np.argsort(norms, kind="stable")}
    return {
        "spearman_noise": None if np.ptp(noise_norms) == 0 else stats.spearmanr(norms, noise_norms)[0],
        "spearman_noise_free": stats.spearmanr(norms, free)[0],
        **{name: _accuracy(model, data, o[:count]) for name, o in order.items()},
    }, noise


@pytest.mark.parametrize("run", ["lone", "batched", "quiet"])
def test_the_recorded_ranking_and_order_pruning_are_those_of_the_trained_network(runs, run):
    m, (cfg, model, data, opt) = runs[run]
    want, noise = _expected(cfg, model, data, opt)
    got = m["ranking"]
    for key in ("spearman_noise", "spearman_noise_free"):
        assert (got[key] is None) == (want[key] is None), key
        if want[key] is not None:
            assert got[key] == pytest.approx(want[key], abs=1e-12), key
        assert got[f"{key}_layers"] == [got[key]]
    entry = m["prune"]["mce0.1"]
    assert entry["test_acc"] == pytest.approx(want["norm"], abs=1e-12)
    for order in ("largest", "noise_free"):
        assert entry[order]["test_acc"] == pytest.approx(want[order], abs=1e-12), order
        assert entry[order]["pruned_fraction"] == entry["random"]["pruned_fraction"] == pytest.approx(
            entry["pruned_fraction"], abs=0.05)
        assert m["pruning_curve"][order]["0"] == m["test_acc"]
        assert set(m["prunable_at"][order]) == {f"{d:g}" for d in cell.PRUNABLE_DROPS}
    assert metrics.metrics_problem(m, cfg.to_dict()) is None
    if run == "quiet":  # no noise: nothing to rank by it (null, not a number); the noise-free norms are the norms
        assert got["spearman_noise"] is None and got["spearman_noise_free"] == pytest.approx(1.0, abs=1e-12)
        assert entry["noise_free"] == {k: v for k, v in entry.items() if k in entry["noise_free"]}
    else:  # type 1: the recorded noise of neuron j is N_j (1, ..., 1), up to the float32 rounding of
        # w + s_j in each weight (a relative 6e-8 per step, 60 steps at most)
        scale = np.abs(noise).max()
        assert scale > 0
        assert np.abs(noise - noise.mean(axis=1, keepdims=True)).max() <= 1e-4 * scale


def test_a_batched_member_records_what_it_records_alone(runs):
    (single, _), (pair, _), (lone, (_, _, _, lone_opt)) = runs["single"], runs["batched"], runs["lone"]
    # Bit for bit whatever shares its batch (one thread: each member's products are its own).
    for key in ("ranking", "prune", "pruning_curve", "prunable_at"):
        assert single[key] == pair[key], key
    # Against the lone run: the same training to float32 rounding, so the same noise draws and a
    # ranking of 32 neurons equal up to a rare swap of two near-equal norms.
    batched_opt = runs["batched"][1][3]
    w_lone = runs["lone"][1][1].linear_layers()[0].weight
    w_batched = runs["batched"][1][1].linear_layers()[0].weight
    np.testing.assert_allclose(batched_opt.accumulated_noise(w_batched), lone_opt.accumulated_noise(w_lone),
                               rtol=1e-5, atol=1e-7)
    for key in ("spearman_noise", "spearman_noise_free"):
        assert pair["ranking"][key] == pytest.approx(lone["ranking"][key], abs=0.02)
    for order in ("largest", "noise_free", "random"):
        assert abs(pair["prune"]["mce0.1"][order]["test_acc"] - lone["prune"]["mce0.1"][order]["test_acc"]) <= 2 / 128


def test_prune_neurons_by_scores_on_a_hand_case():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False), torch.nn.ReLU(), torch.nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 1.0], [2.0, 0.0]]))
    # norms 3, 1, 2; scores 0.5, 9, 0.1: the two smallest scores are neurons 2 and 0, whatever their norms
    pruned = compress.prune_neurons(model, counts=[2], scores=[[0.5, 9.0, 0.1]])
    assert pruned[0].weight.tolist() == [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    largest = compress.prune_neurons(model, counts=[1], order="largest")
    assert largest[0].weight.tolist() == [[0.0, 0.0], [0.0, 1.0], [2.0, 0.0]]
    with pytest.raises(ValueError, match="mce"):
        compress.prune_neurons(model, mce=0.1, scores=[[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"scores\[0\] must be 3 finite numbers"):
        compress.prune_neurons(model, counts=[1], scores=[[1.0, 2.0]])


def test_a_matched_steps_control_records_null_for_its_noise_correlation(tmp_path):
    cfg = sweep.SweepConfig(name="tiny-ranking", base=TINY.replace(max_iters=20, prune_curve=()),
                            grid={"seed": [0]}, matched_steps=(1.5,))
    frame = sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    assert list(frame.role) == ["grid", "matched_steps"]
    control = frame[frame.role == "matched_steps"].iloc[0]
    assert np.isnan(control["ranking/spearman_noise"])
    assert control["ranking/spearman_noise_free"] == pytest.approx(1.0, abs=1e-12)
    assert not np.isnan(frame.loc[0, "ranking/spearman_noise"])
    for order in ("random", "largest", "noise_free"):
        assert f"prune/mce0.1/{order}/test_acc" in frame.columns
    record = {"ranking": {"spearman_noise": 1.5}}
    assert "ranking.spearman_noise" in metrics.metrics_problem(record, {})


def test_the_packaged_digits_frontier_why_grid_trains_as_digits_frontier_does():
    """Counted, not trained: every cell records the ranking; the training settings are digits-frontier's."""
    why, frontier = sweep.load_config("digits-frontier-why"), sweep.load_config("digits-frontier")
    cells = why.cells()
    assert all(c.noise_ranking for c in cells)
    shared = ("dataset", "dataset_options", "data_seed", "lr", "batch_size", "max_iters", "stop_train_acc",
              "eval_every", "prune_mce", "prune_curve", "random_prune")
    assert all(getattr(c, k) == getattr(frontier.base, k) for c in cells for k in shared)
    noisy = [c for c in cells if c.noisy]
    assert {(c.noise, c.alpha) for c in noisy if c.width == 256} == {
        (n, a) for n in ("per_neuron", "per_weight", "isotropic") for a in (2.0, 1.5)}
    assert {c.sigma for c in noisy} == {0.001, 0.003, 0.01}
    assert any(c.alpha is None for c in cells) and len({c.seed for c in cells}) >= 2


def test_the_committed_digits_frontier_why_results_are_cells_of_the_packaged_sweep():
    frame = pd.read_csv(ROOT / "results" / "digits-frontier-why" / "results.csv")
    hashes = {sweep.cell_hash(c, BATCHED_RUNNER) for c in sweep.load_config("digits-frontier-why").cells()}
    assert set(frame.hash) <= hashes and frame.hash.is_unique
    noisy = frame.alpha.notna()
    assert frame.loc[noisy, "ranking/spearman_noise"].notna().all()
    assert frame.loc[~noisy, "ranking/spearman_noise"].isna().all()
    assert np.allclose(frame.loc[~noisy, "ranking/spearman_noise_free"], 1.0, rtol=0, atol=1e-12)
