"""Tests of the deeper network and the small CNN of the packaged ``digits-frontier-deep`` sweep.

The CNN (:class:`htsgd.nets.SmallCNN`): its shapes and weight count; type-1 noise on a convolution
is one scalar per output filter, added to every weight of that filter and to no other layer;
pruning removes whole filters by their norm (a hand case with known norms). The FCN with three
hidden layers: noise and the mce rule act on each of the three. The config loads and its cells
validate; one tiny CNN cell runs end to end through the sweep runner.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from htsgd import compress, sweep
from htsgd import noise as hn
from htsgd.nets import FCN, SmallCNN
from htsgd.optim import HeavyTailedSGD, paper_param_groups
from htsgd.sweep import ExperimentConfig, cell
from htsgd.sweep.runner import runner_of

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- the CNN's shapes


@pytest.mark.parametrize(("width", "image_shape", "features"), [(8, (1, 28, 28), 16 * 7 * 7), (3, (2, 5, 9), 6 * 2 * 3)])
def test_cnn_shapes_and_weight_count(width, image_shape, features):
    net = SmallCNN(10, width, image_shape=image_shape)
    c = image_shape[0]
    assert net.conv1.weight.shape == (width, c, 5, 5) and net.conv2.weight.shape == (2 * width, width, 5, 5)
    assert net.classifier.weight.shape == (10, features)  # a stride-2 convolution maps a side s to ceil(s / 2)
    assert all(b is None for b in (net.conv1.bias, net.conv2.bias, net.classifier.bias))
    assert sum(p.numel() for p in net.parameters()) == 25 * c * width + 50 * width**2 + features * 10
    x = torch.randn(4, *image_shape, generator=torch.Generator().manual_seed(0))
    out = net(x)
    assert out.shape == (4, 10)
    assert torch.equal(net(x.flatten(1)), out)  # flat images are the same images
    assert net.hidden_layers() == [net.conv1, net.conv2]


def test_cnn_weight_count_at_width_16_on_digits_is_the_docstrings():
    assert sum(p.numel() for p in SmallCNN(10, 16).parameters()) == 28_880


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"width": 0}, "width"), ({"image_shape": (28, 28)}, "image_shape"), ({"image_shape": (1, 0, 28)}, r"image_shape\[1\]")],
)
def test_cnn_refuses_bad_arguments_naming_them(kwargs, words):
    with pytest.raises(ValueError, match=words):
        SmallCNN(10, **{"width": 4, **kwargs})


# ----------------------------------------------------------------------------- noise per filter


def test_type1_noise_on_the_cnn_is_one_scalar_per_filter_of_conv2_only():
    """With zero gradients a step adds only noise: conv2's filter j moves by one number c_j (all its
    25 width weights), c_j = sigma lr**(1/alpha) S_j with S_j the type-1 draw of the same generator;
    conv1 (the first convolution) and the classifier do not move (the authors' VGG rule)."""
    torch.manual_seed(0)
    net = SmallCNN(10, 3)
    groups = paper_param_groups(net)
    assert [p for g in groups if g["noise"] for p in g["params"]] == [net.conv2.weight]
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    lr, sigma, alpha = 0.1, 0.5, 1.5
    gen = torch.Generator().manual_seed(3)
    expected = hn.draw("per_neuron", alpha, (6, 3, 5, 5), torch.Generator().manual_seed(3))
    HeavyTailedSGD(groups, lr=lr, alpha=alpha, sigma=sigma, noise="per_neuron", generator=gen).step()
    assert torch.equal(net.conv1.weight, before["conv1.weight"])
    assert torch.equal(net.classifier.weight, before["classifier.weight"])
    delta = (net.conv2.weight - before["conv2.weight"]).detach()
    per_filter = delta.flatten(1)
    # one value per filter, repeated over its 75 weights (float32 rounding of w + c_j - w)
    assert torch.allclose(per_filter, per_filter[:, :1].expand_as(per_filter), rtol=0, atol=1e-6)
    torch.testing.assert_close(per_filter[:, 0], sigma * lr ** (1 / alpha) * expected.flatten(), rtol=1e-5, atol=1e-6)
    assert per_filter[:, 0].unique().numel() == 6  # every filter its own draw


def test_per_neuron_draw_of_a_4d_weight_broadcasts_one_scalar_per_output_filter():
    x = hn.draw("per_neuron", 1.5, (4, 2, 3, 3), torch.Generator().manual_seed(1))
    assert x.shape == (4, 1, 1, 1)
    assert torch.equal(x.flatten(), hn.draw("per_neuron", 1.5, (4,), torch.Generator().manual_seed(1)))


# ----------------------------------------------------------------------------- filter pruning by norm


def _hand_cnn() -> SmallCNN:
    """conv1: filters of norms 3, 1; conv2: filters of norms 4, 1, 3, 2 (every entry equal within a filter)."""
    net = SmallCNN(3, 2, image_shape=(1, 8, 8))
    with torch.no_grad():
        for conv, norms in ((net.conv1, [3.0, 1.0]), (net.conv2, [4.0, 1.0, 3.0, 2.0])):
            size = conv.weight[0].numel()
            conv.weight.copy_(torch.tensor(norms).view(-1, 1, 1, 1) / size**0.5 * torch.ones_like(conv.weight))
    return net


def test_mce_prunes_whole_filters_by_norm_in_both_convolutions():
    """By hand, mce 0.2: conv1 removes the norm-1 filter (1 / 10 of the squares; with the norm-3 one it is
    all); conv2 removes the norms 1 and 2 (5 / 30; adding 3 would make 14 / 30 > 0.2)."""
    net = _hand_cnn()
    pruned = compress.prune_neurons(net, mce=0.2)
    keep1, keep2 = torch.tensor([True, False]), torch.tensor([True, False, True, False])
    for conv, new, keep in ((net.conv1, pruned.conv1, keep1), (net.conv2, pruned.conv2, keep2)):
        assert (new.weight[~keep] == 0).all()
        assert torch.equal(new.weight[keep], conv.weight[keep])
    assert torch.equal(pruned.classifier.weight, net.classifier.weight)  # the output layer is never pruned
    report = compress.prune_report(pruned)
    assert report.pruned_neurons == [1, 2]
    assert report.fraction == pytest.approx((1 * 25 + 2 * 50) / (2 * 25 + 4 * 50))
    # the pruned copy computes the network with those channels silenced after the ReLU
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    h = torch.relu(net.conv1(x)) * keep1.view(1, -1, 1, 1)
    h = torch.relu(net.conv2(h)) * keep2.view(1, -1, 1, 1)
    torch.testing.assert_close(pruned(x), net.classifier(h.flatten(1)))


def test_the_pruning_curve_of_the_cnn_prunes_the_smallest_filters_of_both_convolutions():
    net = _hand_cnn()
    x = torch.randn(40, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(5))
    curve = compress.pruning_curve(net, x, y, fractions=[0.0, 0.5], rules=["norm"])
    assert curve.neurons == (2, 4) and curve.pruned.tolist() == [[0, 0], [1, 2]]
    half = compress.prune_neurons(net, fraction=0.5)
    assert compress.prune_report(half).pruned_neurons == [1, 2]
    assert torch.equal(half.conv2.weight[[1, 3]], torch.zeros(2, 2, 5, 5))
    accuracy = float((half(x).argmax(1) == y).float().mean())
    assert curve.accuracy["norm"][1] == pytest.approx(accuracy, abs=1 / 40)


# ----------------------------------------------------------------------------- three hidden layers


def test_three_hidden_layers_each_get_type1_noise_and_their_own_mce():
    """FCN depth 4: the three hidden layers are noised (one scalar per row) and pruned, each by its own
    mce count (rows of norms chosen by hand), the output layer neither."""
    torch.manual_seed(0)
    net = FCN(6, 4, 4, 3)
    hidden = net.hidden_layers()
    assert [m for _, m in compress.hidden_layers(net)] == hidden and len(hidden) == 3
    row_norms = ([4.0, 1.0, 3.0, 2.0], [1.0, 1.0, 1.0, 1.0], [10.0, 1.0, 1.0, 1.0])
    with torch.no_grad():
        for layer, norms in zip(hidden, row_norms, strict=True):
            layer.weight.copy_(torch.tensor(norms)[:, None] * torch.ones_like(layer.weight) / layer.weight.shape[1] ** 0.5)
    # mce 0.2: layer 1 removes norms 1, 2 (5/30); layer 2 removes none (1/4 > 0.2, ties);
    # layer 3 removes all three norm-1 rows (3/103)
    assert compress.prune_report(compress.prune_neurons(net, mce=0.2)).pruned_neurons == [2, 0, 3]
    groups = paper_param_groups(net)
    assert [p for g in groups if g["noise"] for p in g["params"]] == [m.weight for m in hidden]
    before = [m.weight.detach().clone() for m in net.linear_layers()]
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    HeavyTailedSGD(groups, lr=0.1, alpha=1.5, sigma=0.3, noise="per_neuron", generator=1).step()
    for layer, old in zip(hidden, before, strict=False):
        delta = (layer.weight - old).detach()
        assert torch.allclose(delta, delta[:, :1].expand_as(delta), atol=1e-6) and delta[:, 0].abs().min() > 0
    assert torch.equal(net.output_layer.weight, before[-1])


# ----------------------------------------------------------------------------- the sweep


def test_the_packaged_digits_frontier_deep_grid():
    cfg = sweep.load_config("digits-frontier-deep")
    cells = cfg.cells()
    assert len(cells) == cfg.n_cells and {c.model for c in cells} == {"fcn", "cnn"}
    assert all(c.dataset == "mnist_digits" and c.max_iters == 3000 and c.stop_train_acc == 0.95 for c in cells)
    assert all(c.lr == 0.1 and c.batch_size == 128 and c.prune_mce == (0.1,) for c in cells)
    assert all(c.prune_curve == tuple(round(0.05 * i, 2) for i in range(20)) for c in cells)
    assert {(c.width, c.depth) for c in cells if c.model == "fcn"} == {(256, 4)}
    assert len({c.width for c in cells if c.model == "cnn"}) == 1
    for model in ("fcn", "cnn"):
        mine = [c for c in cells if c.model == model]
        assert {c.alpha for c in mine} == {None, 2.0, 1.5} and {c.noise for c in mine if c.noisy} == {"per_neuron"}
        assert {0.001, 0.003} <= {c.sigma for c in mine if c.noisy}
    assert set(cfg.matched_steps) == {2.0, 1.5}
    for c in cells:  # every cell round-trips through its dict, as the runner ships it
        assert ExperimentConfig.from_dict(c.to_dict()) == c


def test_the_committed_results_hold_every_grid_cell_of_the_config_and_its_controls():
    """results/digits-frontier-deep ran with --batch 16: FCN cells keyed by the batched runner, CNN cells
    (which do not batch) by their own; a config edit that orphans the committed rows fails here."""
    cfg = sweep.load_config("digits-frontier-deep")
    frame = pd.read_csv(ROOT / "results" / "digits-frontier-deep" / "results.csv")
    grid = frame[frame.role == "grid"]
    assert set(grid.hash) == {sweep.cell_hash(c, runner_of(c, cfg.runner, 16)) for c in cfg.cells()}
    noisy = grid[grid.alpha.notna()]
    assert set(frame.loc[frame.role == "matched_steps", "matched_to"]) == set(noisy.hash)
    capped = grid.stopped_by != "threshold"  # kept and marked, not hidden
    assert set(grid.loc[capped, "stopped_by"]) <= {"max_iters", "diverged"} and grid.loc[capped, "alpha"].notna().all()


def test_a_tiny_cnn_cell_runs_end_to_end_through_the_sweep(tmp_path):
    """Flat 16-feature inputs become 4 x 4 images; the record has the filter pruning of both convolutions."""
    base = ExperimentConfig(
        dataset="teacher_student",
        dataset_options={"n_train": 128, "n_test": 64, "input_dim": 16, "teacher_width": 4, "num_classes": 3},
        model="cnn", width=3, lr=0.1, batch_size=32, max_iters=15, stop_train_acc=0.99, eval_every=5,
        alpha=1.5, sigma=0.01, prune_curve=(0.0, 0.5),
    )
    cfg = sweep.SweepConfig(name="tiny-cnn", base=base, grid={"seed": [0]}, matched_steps=(1.5,))
    frame = sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    assert list(frame.role) == ["grid", "matched_steps"] and set(frame.model) == {"cnn"}
    row = frame.iloc[0]
    assert row["pruning_curve/norm/0"] == row["test_acc"] and 0 <= row["prunable_at/norm/0.01"] < 1
    record = sweep.Cache(tmp_path).get(row["hash"])["metrics"]
    assert [len(n) for n in record["neuron_norms"]] == [3, 6]  # filters of conv1 and conv2
    assert record["prune"]["mce0.1"]["pruned_fraction"] == row["prune/mce0.1/pruned_fraction"]
    with pytest.raises(ValueError, match="model 'cnn' needs images"):
        cell.run_cell(base.replace(dataset_options={**base.dataset_options, "input_dim": 10}).to_dict())


def test_cnn_cells_do_not_batch():
    assert cell.batch_key(ExperimentConfig(model="cnn")) is None
