"""Pruning curves, prunable_at and noise_ranking (htsgd.compress, issue 22 §2 and §4), and the optimizer's noise record.

The hand case is a 2-4-2 ReLU network whose test accuracy after every pruning is computed on paper below;
the other curves are checked against htsgd.compress.prune_neurons + htsgd.train.evaluate, the independent
path the sweeps use. prunable_at is checked by hand and by properties (hypothesis) on exactly representable
piecewise-linear curves (multiples of 1/64), where every quantity is computed without rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from torch import nn

import htsgd as hs
from htsgd import compress as c
from htsgd.compress import _pruning_curves
from htsgd.train import evaluate

PROFILE = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

GRID = [0.0, 0.25, 0.5, 0.75, 1.0]


def _hand_net() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Neurons (1,0), (0,2), (3,0), (0,4): norms 1 < 2 < 3 < 4. Class 0's logit is 0; class 1's is the margin
    h . (2, -1, -1, 1) with h = relu(W1 x). Points A = (1,0), B = (0,1), C = (1,1), D = (-1,0), labels 0, 1, 1, 0.
    A zero margin is a tie, which argmax gives to class 0 (its first maximum)."""
    net = hs.nets.FCN(2, 4, 2, 2)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[1.0, 0], [0, 2], [3, 0], [0, 4]]))
        net.layers[2].weight.copy_(torch.tensor([[0.0, 0, 0, 0], [2, -1, -1, 1]]))
    x = torch.tensor([[1.0, 0], [0, 1], [1, 1], [-1, 0]])
    return net, x, torch.tensor([0, 1, 1, 0])


# Margins (A, B, C; D's is always 0, a correct class 0) with the pruned neurons removed:
#   none:          -1, 2, 1   -> all 4 right
# smallest norm first (0, 1, 2, 3):
#   {0}:           -3, 2, -1  -> C wrong: 3/4
#   {0,1}:         -3, 4, 1   -> 4/4 (the curve recovers: not monotone)
#   {0,1,2}:        0, 4, 4   -> A is a tie, class 0, right: 4/4
#   all:            0, 0, 0   -> B, C wrong: 2/4
# largest norm first (3, 2, 1, 0):
#   {3}:           -1, -2, -3 -> B, C wrong: 2/4
#   {3,2}:          2, -2, 0  -> A, B, C wrong: 1/4
#   {3,2,1}:        2, 0, 2   -> A, B wrong: 2/4
HAND = {"norm": [1, 0.75, 1, 1, 0.5], "largest": [1, 0.5, 0.25, 0.5, 0.5]}


def test_hand_network_curves():
    net, x, y = _hand_net()
    before = [p.clone() for p in net.parameters()]
    curve = c.pruning_curve(net, x, y, fractions=GRID, generator=0, random_draws=3)
    for rule, expected in HAND.items():
        np.testing.assert_array_equal(curve.accuracy[rule], expected)
    assert curve.unpruned_acc == 1.0
    np.testing.assert_array_equal(curve.pruned, [[0], [1], [2], [3], [4]])
    assert curve.layers == ("layers.0",) and curve.neurons == (4,)
    assert curve.random_draws.shape == (3, 5)
    np.testing.assert_array_equal(curve.accuracy["random"], curve.random_draws.mean(axis=0))
    # a caller's score: neuron 2 first, then 0, 3, 1
    curve2 = c.pruning_curve(net, x, y, fractions=GRID, rules=["norm"], scores={"mine": [[2.0, 4.0, 1.0, 3.0]]})
    # {2}: A 2 wrong, B 2, C 4 -> 3/4; {2,0}: A 0 right, B 2, C 2 -> 4/4; {2,0,3}: A 0, B -2, C -2 -> 2/4
    np.testing.assert_array_equal(curve2.accuracy["mine"], [1, 0.75, 1, 0.5, 0.5])
    assert curve2.rules == ("norm", "mine") and curve2.random_draws.shape == (0, 5)
    frame = curve.frame()
    assert list(frame.columns) == ["fraction", "rule", "accuracy"] and len(frame) == 15
    assert frame.query("rule == 'largest' and fraction == 0.5").accuracy.item() == 0.25
    # the model is left as it was: weights, hooks, mode
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert not any(m._forward_hooks for m in net.modules()) and net.training


def test_hand_network_prunable_at():
    net, x, y = _hand_net()
    curve = c.pruning_curve(net, x, y, fractions=GRID, rules=["norm", "largest"])
    # t = 0.99: the first point below is 0.75 at 0.25, so 0.25 * 0.01 / 0.25; the recovery at 0.5 does not count
    assert curve.prunable_at(0.01) == pytest.approx(0.01, abs=1e-15)
    # t = 0.7: the first point below is 0.5 at fraction 1, so 0.75 + 0.25 * (1 - 0.7) / (1 - 0.5)
    assert c.prunable_at(curve, 0.3) == pytest.approx(0.9, abs=1e-15)
    # t = 0.5: 0.5 is within (not below); the first below is 0.25 at 0.5, so 0.25 + 0.25 * 0 / 0.25
    assert c.prunable_at(curve, 0.5, rule="largest") == 0.25
    # t = 0.25: no point below, censored at the largest fraction measured
    assert c.prunable_at(curve, 0.75, rule="largest") == 1.0
    assert c.prunable_at(curve, 0.0) == pytest.approx(0.0, abs=1e-15)


def _deep_net(seed: int = 0, depth: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return hs.nets.FCN(12, 24, depth, 5)


def _data(n: int = 300, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(n, d, generator=gen)
    return x, (x[:, :5] + 0.5 * x[:, 5:10]).argmax(dim=1)


@pytest.mark.parametrize("depth", [2, 4])
def test_curve_equals_pruned_copies(depth):
    """Every rule at every fraction: the accuracy of prune_neurons' copy (every hidden layer pruned), and random
    draw 0 is prune_neurons(order="random") with the same seed. Tolerance one test point: the hooks zero a
    neuron's output where prune_neurons zeroes its row, the same numbers in exact arithmetic."""
    net, (x, y) = _deep_net(depth=depth), _data()
    fractions = [0.0, 0.2, 0.45, 0.7, 0.9]
    curve = c.pruning_curve(net, x, y, fractions=fractions, generator=7, random_draws=2, batch_size=128)
    assert len(curve.layers) == depth - 1
    for j, p in enumerate(fractions):
        for rule in ("norm", "largest"):
            acc = evaluate(c.prune_neurons(net, fraction=p, order=rule), x, y)[1]
            assert abs(acc - curve.accuracy[rule][j]) <= 1 / len(y), (rule, p)
        acc = evaluate(c.prune_neurons(net, fraction=p, order="random", generator=7), x, y)[1]
        assert abs(acc - curve.random_draws[0, j]) <= 1 / len(y), p
    assert not np.array_equal(curve.accuracy["norm"], curve.accuracy["largest"])  # the orders matter


def test_curve_of_a_convolutional_net():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 3))
    x = torch.randn(60, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    y = net(x).argmax(dim=1).detach()  # the unpruned net is right everywhere
    curve = c.pruning_curve(net, x, y, fractions=[0.0, 0.5, 0.8], rules=["norm"])
    assert curve.neurons == (6, 8) and curve.unpruned_acc == 1.0
    for j, p in enumerate([0.0, 0.5, 0.8]):
        assert abs(evaluate(c.prune_neurons(net, fraction=p), x, y)[1] - curve.accuracy["norm"][j]) <= 1 / 60


def test_cache_of_the_first_layer_changes_nothing(monkeypatch):
    net, (x, y) = _deep_net(depth=3), _data()
    cached = c.pruning_curve(net, x, y, fractions=[0, 0.3, 0.6], generator=1, random_draws=2, batch_size=100)
    monkeypatch.setattr(_pruning_curves, "_CACHE_BYTES", 0)
    fresh = c.pruning_curve(net, x, y, fractions=[0, 0.3, 0.6], generator=1, random_draws=2, batch_size=100)
    for rule in cached.rules:
        np.testing.assert_array_equal(cached.accuracy[rule], fresh.accuracy[rule])
    assert "forward" not in vars(net.layers[0])  # the cached layer's stand-in forward is gone


def test_random_pruning_reproducible_by_seed():
    net, (x, y) = _deep_net(depth=3), _data()
    kw = dict(fractions=[0, 0.3, 0.6, 0.9], rules=["random"], random_draws=3)
    a = c.pruning_curve(net, x, y, generator=11, **kw)
    b = c.pruning_curve(net, x, y, generator=11, **kw)
    np.testing.assert_array_equal(a.random_draws, b.random_draws)
    g = torch.Generator().manual_seed(11)
    np.testing.assert_array_equal(c.pruning_curve(net, x, y, generator=g, **kw).random_draws, a.random_draws)
    assert not np.array_equal(a.random_draws[0], a.random_draws[1])  # the draws differ from each other


def test_largest_order_of_select_neurons():
    norms = torch.tensor([3.0, 1.0, 3.0, 2.0])
    assert c.select_neurons(norms, count=2, order="largest").tolist() == [True, False, True, False]
    assert c.select_neurons(norms, count=1, order="largest").tolist() == [True, False, False, False]  # ties: lower index


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(fractions=[0.1, 0.5]), ValueError, "from 0"),
        (dict(fractions=[0.0, 0.5, 0.5]), ValueError, "increase strictly"),
        (dict(fractions=[0.0, 1.5]), ValueError, "at most 1"),
        (dict(fractions=[0.0, float("nan")]), ValueError, "finite"),
        (dict(rules=["norm", "biggest"]), ValueError, "rules"),
        (dict(rules="norm"), TypeError, "sequence"),
        (dict(random_draws=0), ValueError, "random_draws"),
        (dict(scores={"norm": [[1, 2, 3, 4]]}), ValueError, "name"),
        (dict(scores={"s": [[1, 2, 3]]}), ValueError, "4 finite numbers"),
        (dict(scores={"s": [[1, 2, math.nan, 4]]}), ValueError, "finite"),
        (dict(scores={"s": [[1, 2, 3, 4], [1]]}), ValueError, "one vector per hidden layer"),
        (dict(batch_size=0), ValueError, "batch_size"),
    ],
)
def test_pruning_curve_argument_checks(kwargs, err, match):
    net, x, y = _hand_net()
    with pytest.raises(err, match=match):
        c.pruning_curve(net, x, y, **kwargs)


def test_pruning_curve_data_and_model_checks():
    net, x, y = _hand_net()
    with pytest.raises(ValueError, match="integer label"):
        c.pruning_curve(net, x, y.float())
    with pytest.raises(ValueError, match="integer label"):
        c.pruning_curve(net, x, y[:3])
    with pytest.raises(TypeError, match="torch tensors"):
        c.pruning_curve(net, x.numpy(), y)
    with pytest.raises(ValueError, match="no hidden layer"):
        c.pruning_curve(nn.Linear(2, 2), x, y)
    with pytest.raises(TypeError, match="Module"):
        c.pruning_curve("net", x, y)


# --------------------------------------------------------------------------------------
# prunable_at
# --------------------------------------------------------------------------------------


def test_prunable_at_arrays_vectorised_over_seeds():
    fr = [0.0, 0.5, 1.0]
    acc = np.array([[0.9, 0.85, 0.6], [0.9, 0.9, 0.9], [0.8, 0.5, 0.8]])
    # 0.9 - 0.1 = 0.8: seed 0 crosses between 0.85 and 0.6 at 0.5 + 0.5 * 0.05 / 0.25; seed 1 never (censored);
    # seed 2 (t = 0.7) crosses on its first segment at 0.5 * 0.1 / 0.3, whatever it does after
    expected = [0.6, 1.0, 0.5 / 3]
    np.testing.assert_allclose(c.prunable_at(acc, 0.1, fractions=fr), expected, rtol=0, atol=1e-15)
    assert [c.prunable_at(a, 0.1, fractions=fr) for a in acc] == pytest.approx(expected, abs=1e-15)
    assert isinstance(c.prunable_at(acc[0], 0.1, fractions=fr), float)
    assert c.prunable_at(acc[None], 0.1, fractions=fr).shape == (1, 3)
    assert c.prunable_at([[0.9]], fractions=[0.0]).tolist() == [0.0]  # a grid of one point: censored at 0


def test_prunable_at_of_many_curves():
    net, x, y = _hand_net()
    a = c.pruning_curve(net, x, y, fractions=GRID, rules=["norm", "largest"])
    out = c.prunable_at([a, a], 0.3)
    np.testing.assert_allclose(out, [0.9, 0.9], rtol=0, atol=1e-15)
    b = c.pruning_curve(net, x, y, fractions=[0, 0.5, 1.0], rules=["norm"])
    with pytest.raises(ValueError, match="one grid"):
        c.prunable_at([a, b])
    with pytest.raises(ValueError, match="rule"):
        c.prunable_at([b, b], rule="largest")
    with pytest.raises(ValueError, match="fractions come with"):
        c.prunable_at(a, fractions=GRID)


@pytest.mark.parametrize(
    "args, kwargs, err, match",
    [
        (([0.9, math.nan, 0.5],), dict(fractions=[0, 0.5, 1]), ValueError, "finite"),
        (([0.9, 0.8, 0.5],), dict(fractions=[0, 0.5, 1], drop=-0.01), ValueError, "drop"),
        (([0.9, 0.8, 0.5],), dict(fractions=[0, 0.5, 1], drop=math.nan), ValueError, "drop"),
        (([0.9, 0.8, 0.5],), dict(fractions=[0, 0.5, 1], drop=[0.01, 0.02]), TypeError, "drop"),
        (([0.9, 0.8, 0.5],), dict(fractions=[0, 0.5]), ValueError, "shape"),
        (([0.9, 0.8, 0.5],), dict(fractions=[0.1, 0.5, 1]), ValueError, "from 0"),
        (([0.9, 0.8, 0.5],), dict(fractions=[0, 0.5, math.inf]), ValueError, "finite"),
        (([0.9, 0.8, 0.5],), {}, ValueError, "give fractions"),
        (("abc",), dict(fractions=[0, 0.5, 1]), TypeError, "curve"),
    ],
)
def test_prunable_at_argument_checks(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        c.prunable_at(*args, **kwargs)


# Exactly representable curves: every number a multiple of 1/64 in [0, 1], so thresholds, interpolation
# points on a segment's midpoint and comparisons involve no rounding.
_lattice = hst.integers(0, 64).map(lambda k: k / 64)


@hst.composite
def _curves(draw):
    steps = draw(hst.lists(hst.integers(1, 8), min_size=1, max_size=7))
    fr = np.cumsum([0] + steps) / 64.0
    acc = np.array(draw(hst.lists(_lattice, min_size=len(fr), max_size=len(fr))))
    return fr, acc


@PROFILE
@given(_curves(), _lattice, _lattice)
def test_prunable_at_is_monotone_in_drop_and_within_the_grid(curve, d1, d2):
    fr, acc = curve
    lo, hi = sorted((d1, d2))
    p_lo, p_hi = c.prunable_at(acc, lo, fractions=fr), c.prunable_at(acc, hi, fractions=fr)
    assert 0.0 <= p_lo <= p_hi <= fr[-1]
    censored = bool((acc >= acc[0] - hi).all())
    assert (p_hi == fr[-1]) == censored


@PROFILE
@given(_curves(), _lattice)
def test_prunable_at_is_the_exact_crossing_of_the_piecewise_linear_curve(curve, drop):
    fr, acc = curve
    p = c.prunable_at(acc, drop, fractions=fr)
    t = acc[0] - drop
    # on a fine grid of the same piecewise-linear function, nothing before p is below t, and p is a crossing
    fine = np.linspace(0, fr[-1], 1025)
    line = np.interp(fine, fr, acc)
    assert (line[fine < p - 1e-12] >= t - 1e-12).all()
    if p < fr[-1]:
        assert np.interp(p, fr, acc) == pytest.approx(t, abs=1e-12)
        assert np.interp(min(p + 1e-9, fr[-1]), fr, acc) < t + 1e-12
    # refining the grid by points on the line (segment midpoints, exact here) changes nothing
    mid = (fr[:-1] + fr[1:]) / 2
    fr2 = np.sort(np.concatenate([fr, mid]))
    assert c.prunable_at(np.interp(fr2, fr, acc), drop, fractions=fr2) == pytest.approx(p, abs=1e-12)


@PROFILE
@given(hst.integers(1, 64), _lattice, hst.lists(hst.integers(1, 8), min_size=1, max_size=7))
def test_prunable_at_of_a_straight_line_is_drop_over_slope(slope64, drop, steps):
    fr = np.cumsum([0] + steps) / 64.0
    slope = slope64 / 8.0
    acc = 1.0 - slope * fr
    expected = drop / slope
    p = c.prunable_at(acc, drop, fractions=fr)
    assert p == (fr[-1] if expected >= fr[-1] else pytest.approx(expected, abs=1e-12))


# --------------------------------------------------------------------------------------
# the optimizer's noise record and noise_ranking
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("noise", hs.optim.NOISE_TYPES)
def test_recorded_noise_is_what_the_noise_added(noise):
    """Without gradients a step adds noise only: the record is the weights' total change, and recording changes
    no weight (same seed, record off)."""
    torch.manual_seed(0)
    net = hs.nets.FCN(6, 5, 3, 2)
    start = [p.detach().clone() for p in net.parameters()]
    torch.manual_seed(0)
    twin = hs.nets.FCN(6, 5, 3, 2)
    kw = dict(lr=0.1, alpha=1.5, sigma=0.3, noise=noise, generator=4)
    opt = hs.optim.HeavyTailedSGD(hs.optim.paper_param_groups(net), record_noise=True, **kw)
    plain = hs.optim.HeavyTailedSGD(hs.optim.paper_param_groups(twin), **kw)
    for _ in range(3):
        opt.step()
        plain.step()
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), twin.parameters(), strict=True))
    for p, p0 in zip(net.parameters(), start, strict=True):
        total = opt.accumulated_noise(p)
        assert total.dtype == torch.float64 and total.shape == p.shape
        np.testing.assert_allclose(total.numpy(), (p.detach().double() - p0.double()).numpy(), rtol=0, atol=1e-12)
    hidden = net.hidden_layers()
    assert all(bool((opt.accumulated_noise(m.weight) != 0).all()) for m in hidden)
    assert not bool(opt.accumulated_noise(net.output_layer.weight).any())  # no noise on the output layer
    if noise == "per_neuron":  # one scalar per row: constant along rows, up to float32 rounding of the weights
        total = opt.accumulated_noise(hidden[0].weight)
        assert float((total - total[:, :1]).abs().max()) <= 1e-6 * float(total.abs().max())


def test_noise_record_checks_and_no_noise():
    net = hs.nets.FCN(4, 3, 2, 2)
    opt = hs.optim.HeavyTailedSGD(net.parameters(), lr=0.1, alpha=1.5, sigma=0.0, record_noise=True)
    opt.step()
    assert not bool(opt.accumulated_noise(net.layers[0].weight).any())
    with pytest.raises(ValueError, match="not a parameter"):
        opt.accumulated_noise(torch.zeros(3))
    off = hs.optim.HeavyTailedSGD(net.parameters(), lr=0.1, alpha=1.5, sigma=0.1)
    with pytest.raises(RuntimeError, match="record_noise=True"):
        off.accumulated_noise(net.layers[0].weight)
    with pytest.raises(TypeError, match="record_noise"):
        hs.optim.HeavyTailedSGD(net.parameters(), lr=0.1, alpha=1.5, sigma=0.1, record_noise=1)


def test_noise_ranking_hand_values():
    net = hs.nets.FCN(2, 3, 2, 2)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[3.0, 4.0], [1.0, 1.0], [0.0, 2.0]]))
    noise = [torch.tensor([[3.0, 3.0], [-1.0, -1.0], [0.0, 0.0]])]
    (r,) = c.noise_ranking(net, noise)
    np.testing.assert_allclose(r.norms, [5, math.sqrt(2), 2])
    np.testing.assert_allclose(r.noise_norms, [3 * math.sqrt(2), math.sqrt(2), 0])
    np.testing.assert_allclose(r.noise_free_norms, [1, 2 * math.sqrt(2), 2])
    # ranks: norms (3, 1, 2); noise (3, 2, 1); noise-free (1, 3, 2): 1 - 6 sum(d^2) / (n (n^2 - 1)) = 1/2 and -1
    assert r.spearman_noise == pytest.approx(0.5)
    assert r.spearman_noise_free == pytest.approx(-1.0)
    assert r.row() == {"layer": "layers.0", "neurons": 3, "spearman_noise": r.spearman_noise,
                       "spearman_noise_free": r.spearman_noise_free, "noisy": True}
    with pytest.raises(ValueError, match="one tensor per hidden layer"):
        c.noise_ranking(net, noise * 2)
    with pytest.raises(ValueError, match="shape"):
        c.noise_ranking(net, [torch.zeros(3, 3)])
    with pytest.raises(TypeError, match="record_noise"):
        c.noise_ranking(net, "noise")


def _train_small(sigma: float) -> tuple[nn.Module, hs.optim.HeavyTailedSGD]:
    data = hs.data.teacher_student(n_train=256, n_test=64, input_dim=10)
    torch.manual_seed(0)
    net = hs.nets.FCN(10, 32, 2, 10)
    opt = hs.optim.HeavyTailedSGD(hs.optim.paper_param_groups(net), lr=0.1, alpha=1.5, sigma=sigma,
                                  noise="per_neuron", generator=1, record_noise=True)
    hs.train.train(net, data, opt, batch_size=64, max_iters=60, eval_every=60, progress=False, generator=2)
    return net, opt


def test_noise_ranking_of_a_run_with_large_type1_noise_and_without_noise():
    """Large type-1 noise (sigma 0.2, alpha 1.5, 60 steps): the accumulated noise dwarfs the 10-dimensional
    initial rows, so the final norms rank like the noise norms. Without noise, the noise norms are all 0: that
    correlation is NaN (undefined), and the final norms are the noise-free norms (correlation 1)."""
    net, opt = _train_small(0.2)
    (noisy,) = c.noise_ranking(net, opt)
    assert noisy.spearman_noise > 0.9
    assert noisy.spearman_noise_free < noisy.spearman_noise
    net, opt = _train_small(0.0)
    (quiet,) = c.noise_ranking(net, opt)
    assert math.isnan(quiet.spearman_noise) and not quiet.row()["noisy"]
    np.testing.assert_array_equal(quiet.noise_free_norms, quiet.norms)
    assert quiet.spearman_noise_free == pytest.approx(1.0)
