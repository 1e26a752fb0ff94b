"""Tests of cells that record pruning curves (``prune_curve``) and of the packaged ``digits-frontier`` sweep.

A cell's recorded curve must be :func:`htsgd.compress.pruning_curve` of the network it trained
(checked on the model itself, caught on its way to the measurements), the same whether the
cell trained alone or in a batch; a cell without a curve keeps the hash it had before the
field existed (the committed laptop-mnist results name their cells by it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htsgd import compress, sweep
from htsgd.sweep import ConfigError, ExperimentConfig, cell, metrics

ROOT = Path(__file__).resolve().parents[1]
GRID = [round(0.1 * i, 1) for i in range(10)]

TINY = ExperimentConfig(
    dataset="teacher_student",
    dataset_options={"n_train": 256, "n_test": 128, "input_dim": 10, "teacher_width": 4, "num_classes": 3},
    width=32, lr=0.3, batch_size=64, max_iters=60, stop_train_acc=0.8, eval_every=20, sigma=0.03,
    alpha=1.5, prune_curve=GRID,
)


def test_a_cell_without_a_curve_keeps_its_hash_and_the_committed_laptop_mnist_cells_theirs():
    config = sweep.load_config("laptop-mnist")
    frame = pd.read_csv(ROOT / "results" / "laptop-mnist" / "results.csv")
    assert {sweep.cell_hash(c) for c in config.cells()} == set(frame.loc[frame.role == "grid", "hash"])
    assert "prune_curve" not in config.base.to_dict()
    assert ExperimentConfig.from_dict(TINY.to_dict()) == TINY
    assert sweep.cell_hash(TINY) != sweep.cell_hash(TINY.replace(prune_curve=()))


@pytest.mark.parametrize(
    ("value", "words"),
    [([0.1, 0.5], "start at 0"), ([0, 1.0], "prune_curve[1]"), ([0, 0.5, 0.5], "repeat"), ("0 0.5", "list")],
)
def test_a_bad_curve_grid_is_refused_naming_the_field(value, words):
    with pytest.raises((TypeError, ValueError), match="prune_curve") as info:
        TINY.replace(prune_curve=value)
    assert words in str(info.value)
    with pytest.raises(ConfigError, match="prune_curve"):
        ExperimentConfig.from_dict({**TINY.to_dict(), "prune_curve": value})


@pytest.fixture()
def trained(monkeypatch):
    """Every (config, trained model, data) that reaches the measurements, caught on the way."""
    seen = []
    measure = cell._measure_cell

    def spy(cfg, model, data, result, device, opt=None):
        seen.append((cfg, model, data))
        return measure(cfg, model, data, result, device, opt)

    monkeypatch.setattr(cell, "_measure_cell", spy)
    return seen


def _expected(cfg, model, data):
    curve = compress.pruning_curve(model, data.x_test, data.y_test, fractions=cfg.prune_curve,
                                   rules=("norm", "random"), generator=cell._sub_seed(cfg.seed, cell._PRUNING))
    return {rule: [float(a) for a in curve.accuracy[rule]] for rule in ("norm", "random")}, {
        rule: [curve.prunable_at(d, rule) for d in cell.PRUNABLE_DROPS] for rule in ("norm", "random")}


def _recorded(m):
    keys = [f"{p:g}" for p in GRID]
    return ({rule: [m["pruning_curve"][rule][k] for k in keys] for rule in ("norm", "random")},
            {rule: [m["prunable_at"][rule][f"{d:g}"] for d in cell.PRUNABLE_DROPS] for rule in ("norm", "random")})


def test_the_recorded_curve_is_pruning_curve_of_the_trained_model_alone_and_batched(trained):
    lone = cell.run_cell(TINY.to_dict())
    batched = cell.run_cells([TINY.replace(seed=1).to_dict(), TINY.to_dict()])
    assert len(trained) == 3
    for m, (cfg, model, data) in zip([lone, *batched], trained, strict=True):
        assert _recorded(m) == _expected(cfg, model, data)
        assert metrics.metrics_problem(m, cfg.to_dict()) is None
        assert m["pruning_curve"]["norm"]["0"] == m["test_acc"]  # fraction 0: the unpruned network
    # Batched equals lone: the same training to float32 rounding (tests/test_train_batched.py), so the
    # same predictions on this small test set up to a rare flip of an example on a decision boundary.
    (cl, pl), (cb, pb) = _recorded(lone), _recorded(batched[1])
    for rule in ("norm", "random"):
        assert np.abs(np.subtract(cl[rule], cb[rule])).max() <= 2 / 128, rule
    assert pl["norm"] == pytest.approx(pb["norm"], abs=0.05)


def test_a_curve_outside_the_accuracy_range_is_caught_by_the_metric_check():
    record = {"pruning_curve": {"norm": {"0": 0.9, "0.5": 1.5}}, "prunable_at": {"random": {"0.01": 0.2}}}
    assert "pruning_curve.norm.0.5" in metrics.metrics_problem(record, {})
    record["pruning_curve"]["norm"]["0.5"] = 0.5
    assert metrics.metrics_problem(record, {}) is None


def test_the_curve_lands_in_flat_columns_of_results_csv(tmp_path):
    cfg = sweep.SweepConfig(name="tiny-curve", base=TINY.replace(max_iters=20), grid={"seed": [0]})
    frame = sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    assert frame.loc[0, "prune_curve"] == " ".join(f"{p:g}" for p in GRID)
    for rule in ("norm", "random"):
        assert {f"pruning_curve/{rule}/{p:g}" for p in GRID} <= set(frame.columns)
        assert {f"prunable_at/{rule}/{d:g}" for d in cell.PRUNABLE_DROPS} <= set(frame.columns)


# ----------------------------------------------------------------------------- several grids, shared controls

TOY = "test_sweep_curves:toy_cell"


def toy_cell(config: dict) -> dict:
    """Training stood in for: a noisy cell takes 200 steps, whatever its noise type and level."""
    return {"iterations": config["max_iters"] if config["stop_train_acc"] is None else 200, "test_acc": 0.5}


sweep.register_runner(TOY, toy_cell)

GRIDS = """
[sweep]
name = "two-grids"
runner = "test_sweep_curves:toy_cell"
[cell]
stop_train_acc = 0.9
sigma = 0.01
[[grid]]
alpha = ["none"]
seed = [0, 1]
[[grid]]
noise = ["per_neuron", "per_weight"]
alpha = ["none", 1.5]
sigma = [0.01, 0.1]
seed = [0, 1]
[controls]
matched_steps = [1.5]
"""


def test_several_grids_add_their_cells_once_each_and_controls_are_shared_across_noise_types(tmp_path):
    path = tmp_path / "two-grids.toml"
    path.write_text(GRIDS)
    cfg = sweep.load_config(path)
    cells = cfg.cells()
    # 2 + 16 products; the second grid's noise-free cells at sigma 0.01 of per_neuron repeat the first's
    assert cfg.n_cells == 18 and len(cells) == 16 and len(set(cells)) == 16
    assert cells[:2] == [cfg.base.replace(seed=s) for s in (0, 1)]
    assert sweep.SweepConfig.from_dict(cfg.to_dict()).cells() == cells
    frame = sweep.run_sweep(cfg, cache=tmp_path / "c", executor="serial", progress=False)
    controls = frame[frame.role == "matched_steps"]
    assert len(controls) == 8  # one per noisy cell: 2 types x 2 sigmas x 2 seeds
    assert set(controls.noise) == {"per_neuron"} and controls.hash.nunique() == 2  # one per seed
    with pytest.raises(ConfigError, match=r"\[\[grid\]\] number 2.*widht"):
        sweep.SweepConfig.from_dict({**cfg.to_dict(), "grid": [{"seed": [0]}, {"widht": [8]}]})


def test_the_committed_laptop_mnist_controls_keep_their_hashes():
    config = sweep.load_config("laptop-mnist")
    frame = pd.read_csv(ROOT / "results" / "laptop-mnist" / "results.csv")
    by_hash = {sweep.cell_hash(c): c for c in config.cells()}
    from htsgd.sweep.runner import _NOISE_FREE_TYPE

    for row in frame[frame.role == "matched_steps"].itertuples():
        control = by_hash[row.matched_to].replace(alpha=None, sigma=0.0, noise=_NOISE_FREE_TYPE,
                                                  stop_train_acc=None, max_iters=int(row.iterations))
        assert sweep.cell_hash(control) == row.hash


def test_a_subset_keeps_the_cells_and_their_hashes_and_the_command_line_runs_it(tmp_path, capsys):
    path = tmp_path / "two-grids.toml"
    path.write_text(GRIDS)
    cfg = sweep.load_config(path)
    part = cfg.subset(noise=["per_weight"], seed=[1])
    assert part.cells() == [c for c in cfg.cells() if c.noise == "per_weight" and c.seed == 1]
    assert cfg.subset(alpha=["none"]).cells() == [c for c in cfg.cells() if c.alpha is None]
    for bad, words in (({"widht": [1]}, "unknown key"), ({"seed": [7]}, "no cell"), ({"alpha": [3.0]}, "alpha")):
        with pytest.raises(ConfigError, match=words):
            cfg.subset(**bad)
    from htsgd.__main__ import main

    assert main(["sweep", str(path), "--only", "noise=per_weight", "--only", "seed=1", "--dry-run",
                 "--cache", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{len(part.cells())} cells")
    assert main(["sweep", str(path), "--only", "seed", "--dry-run"]) == 2


def test_the_packaged_digits_frontier_grid():
    """The map of the issue on compressibility against accuracy: counted, not trained."""
    cfg = sweep.load_config("digits-frontier")
    cells = cfg.cells()
    assert len(cells) == cfg.n_cells == 1760
    by_width = {w: [c for c in cells if c.width == w] for w in (256, 1024)}
    assert len(by_width[256]) == 1100 and len(by_width[1024]) == 660
    assert all(c.dataset == "mnist_digits" and c.max_iters == 3000 and c.stop_train_acc == 0.95 for c in cells)
    assert all(c.prune_curve == tuple(round(0.05 * i, 2) for i in range(20)) for c in cells)
    sigmas = {c.sigma for c in by_width[256] if c.noisy}
    assert len(sigmas) >= 6 and max(sigmas) / min(sigmas) >= 100
    points = {(c.width, c.noise, c.alpha, c.sigma) for c in cells if c.noisy}
    assert {(n, a) for _, n, a, _ in points} >= {("per_neuron", a) for a in (2.0, 1.9, 1.75, 1.5, 1.25)} | {
        (n, a) for n in ("per_weight", "isotropic") for a in (2.0, 1.5)}
    for point in points | {(w, None, None, None) for w in (256, 1024)}:
        seeds = {c.seed for c in cells if (c.width, c.noise if c.noisy else None, c.alpha, c.sigma if c.noisy else None)
                 == point}
        assert seeds == set(range(20)), point
    assert set(cfg.matched_steps) == {a for _, _, a, _ in points}
    assert len(cfg.subset(width=[256]).cells()) == 1100
