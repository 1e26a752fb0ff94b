"""Tests of htsgd.compress: best k-term errors, compressibility curves, pruning and reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

import htsgd as hs
from htsgd import compress as c

# ----------------------------------------------------------------------------------
# best k-term errors on hand-computed vectors
# ----------------------------------------------------------------------------------

X = [3.0, -4.0, 0.0, 1.0]  # ||x||_2^2 = 26, ||x||_1 = 8


@pytest.mark.parametrize(
    ("k", "p", "expected"),
    [
        (0, 2, math.sqrt(26)),
        (1, 2, math.sqrt(10)),  # drop -4: (3, 0, 1)
        (2, 2, 1.0),  # keep -4 and 3
        (3, 2, 0.0),
        (4, 2, 0.0),
        (1, 1, 4.0),  # 3 + 0 + 1
        (2, 0.5, 1.0),  # (sqrt(1) + sqrt(0))^2
        (1, 0.5, (math.sqrt(3) + 1) ** 2),
        (0, math.inf, 4.0),
        (1, math.inf, 3.0),
        (3, math.inf, 0.0),
    ],
)
def test_best_k_error_hand_values(k, p, expected):
    got = c.best_k_error(np.array(X), k, p=p, relative=False)
    assert isinstance(got, np.floating)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_best_k_error_relative_and_kinds(device):
    x = torch.tensor(X, device=device)
    rel = c.best_k_error(x, 1)
    assert torch.is_tensor(rel) and rel.device.type == device and rel.dtype == torch.float32
    assert float(rel) == pytest.approx(math.sqrt(10 / 26), rel=1e-6)
    # a list is accepted like a numpy array
    assert c.best_k_error(X, 1) == pytest.approx(math.sqrt(10 / 26), rel=1e-12)
    # integer input
    assert c.best_k_error(np.array([3, -4, 0, 1]), 2, relative=False) == pytest.approx(1.0)


def test_best_k_error_batched_matches_loop(device):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 17, generator=gen, dtype=torch.float64).to(device)
    got = c.best_k_error(x, 5, p=1.5)
    assert got.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            v = x[i, j].abs().sort(descending=True).values[5:].cpu().numpy()
            ref = (v**1.5).sum() ** (1 / 1.5) / (
                (x[i, j].abs().cpu().numpy() ** 1.5).sum() ** (1 / 1.5)
            )
            assert float(got[i, j]) == pytest.approx(ref, rel=1e-12)


def test_best_k_error_zero_vector_and_overflow():
    assert c.best_k_error(np.zeros(5), 2) == 0.0
    assert c.best_k_error(np.zeros(5), 2, relative=False) == 0.0
    # squares of 1e30 overflow float32; the scaled computation does not
    x = torch.tensor([1e30, 1e30, 1e29, 0.0], dtype=torch.float32)
    got = c.best_k_error(x, 2)
    assert torch.isfinite(got)
    assert float(got) == pytest.approx(0.1 / math.sqrt(2.01), rel=1e-5)
    assert float(c.best_k_error(x, 2, relative=False)) == pytest.approx(1e29, rel=1e-5)


def test_relative_errors_do_not_overflow_near_the_float_range():
    """Issue 12, item 4: best_k_error([3e38, 3e38, 1], 1) returned 0 (the norm overflowed float32)."""
    x = torch.tensor([3e38, 3e38, 1.0])
    assert float(c.best_k_error(x, 1)) == pytest.approx(math.sqrt(0.5), rel=1e-6)
    assert float(c.compressibility_curve(x, [1 / 3])[0]) == pytest.approx(math.sqrt(0.5), rel=1e-6)
    h = torch.tensor([6e4, 6e4, 1.0], dtype=torch.float16)
    got = c.best_k_error(h, 1)
    assert got.dtype == torch.float16 and float(got) == pytest.approx(math.sqrt(0.5), rel=1e-3)
    assert float(c.compressibility_curve(h, [1 / 3])[0]) == pytest.approx(math.sqrt(0.5), rel=1e-3)
    # Columns: the norms of (4, 3) entries of 2e38 overflow, the relative error does not.
    W = torch.full((4, 3), 2e38)
    assert float(c.column_best_k_error(W, 1)) == pytest.approx(math.sqrt(2 / 3), rel=1e-6)
    assert float(c.column_compressibility_curve(W, [1 / 3])[0]) == pytest.approx(math.sqrt(2 / 3), rel=1e-6)
    with pytest.raises(ValueError, match="W must be finite"):
        c.column_best_k_error(torch.tensor([[1.0, math.inf]]), 1)


def test_empty_vectors():
    """Issue 12, item 10: best_k_error(torch.empty(0), 0) raised IndexError."""
    assert float(c.best_k_error(torch.empty(0), 0)) == 0.0
    assert float(c.best_k_error(torch.empty(0), 0, relative=False)) == 0.0
    assert c.compressibility_curve(torch.empty(3, 0), [0.5]).shape == (3, 1)
    with pytest.raises(ValueError, match="k must be an integer in \\[0, 0\\]"):
        c.best_k_error(torch.empty(0), 1)


def test_count_of_fraction_is_the_one_rounding_rule():
    """floor(f n), with 0.1 * 30 = 2.9999999999999996 counted as 3, capped at n; scalar and array."""
    assert c.count_of_fraction(0.1, 30) == 3 and isinstance(c.count_of_fraction(0.1, 30), int)
    assert c.count_of_fraction(0.7, 10) == 7 and c.count_of_fraction(0.29, 100) == 29
    assert c.count_of_fraction(1.0, 5) == 5 and c.count_of_fraction(0.0, 5) == 0
    assert c.count_of_fraction(np.array([0.1, 0.5, 1.0]), 30).tolist() == [3, 15, 30]
    for f in np.linspace(0, 1, 101):
        assert c.count_of_fraction(f, 1000) == round(f * 1000)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"k": 5}, ValueError, "k must be an integer in \\[0, 4\\], got 5"),
        ({"k": -1}, ValueError, "k must be"),
        ({"k": 1.0}, TypeError, "k must be an integer"),
        ({"k": 1, "p": 0}, ValueError, "p must be in"),
        ({"k": 1, "p": -1}, ValueError, "p must be in"),
        ({"k": 1, "relative": 1}, TypeError, "relative"),
    ],
)
def test_best_k_error_validation(kwargs, err, match):
    with pytest.raises(err, match=match):
        c.best_k_error(np.array(X), **kwargs)


def test_best_k_error_rejects_bad_input():
    with pytest.raises(ValueError, match="non-finite"):
        c.best_k_error(np.array([1.0, np.nan]), 1)
    with pytest.raises(ValueError, match="at least one dimension"):
        c.best_k_error(np.float64(3.0), 0)
    with pytest.raises(TypeError, match="real"):
        c.best_k_error(np.array([1 + 1j]), 0)


def test_compressibility_curve_matches_best_k_error():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 30, generator=gen, dtype=torch.float64)
    kappas = [0.0, 0.1, 0.25, 0.5, 0.99, 1.0]
    curve = c.compressibility_curve(x, kappas)
    assert curve.shape == (2, 6)
    for j, kappa in enumerate(kappas):
        k = c.count_of_fraction(kappa, 30)  # 0.1 * 30 -> 3, not 2
        assert torch.allclose(curve[:, j], c.best_k_error(x, k), rtol=1e-12, atol=0)
    assert curve[:, 0].eq(1).all() and curve[:, -1].eq(0).all()
    # non-increasing in kappa
    assert (curve.diff(dim=-1) <= 1e-15).all()
    # scalar kappa: no trailing axis; numpy in, numpy out
    single = c.compressibility_curve(x.numpy(), 0.1)
    assert isinstance(single, np.ndarray) and single.shape == (2,)
    with pytest.raises(ValueError, match=r"kappas\[1\] must be in \[0, 1\]"):
        c.compressibility_curve(x, [0.1, 1.5])


# ----------------------------------------------------------------------------------
# columns (paper convention) and rows (torch convention)
# ----------------------------------------------------------------------------------


def test_column_best_k_error_hand_matrix():
    # columns of norms 1, 2, 3, 4 (squares 1, 4, 9, 16; total 30)
    W = np.array([[1.0, 0.0, 3.0, 0.0], [0.0, 2.0, 0.0, 4.0]])
    assert c.column_best_k_error(W, 2) == pytest.approx(math.sqrt(5 / 30), rel=1e-12)
    assert c.column_best_k_error(W, 2, relative=False) == pytest.approx(math.sqrt(5), rel=1e-12)
    # direct: zero the two smallest columns and take the Frobenius norm
    Wk = W.copy()
    Wk[:, [2, 3]] = 0
    assert c.column_best_k_error(W, 2) == pytest.approx(np.linalg.norm(Wk) / np.linalg.norm(W))
    curve = c.column_compressibility_curve(W, [0.25, 0.5, 0.75])
    assert np.allclose(curve, np.sqrt([14 / 30, 5 / 30, 1 / 30]))
    # torch layer: rows are neurons, so the paper's Theta is weight.T
    layer = nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W.T))
    assert torch.allclose(c.neuron_norms(layer.weight), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert float(c.column_best_k_error(layer.weight.T, 2)) == pytest.approx(
        math.sqrt(5 / 30), rel=1e-6
    )
    with pytest.raises(ValueError, match="matrix"):
        c.column_best_k_error(np.ones(3), 1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[0, 4\]"):
        c.column_best_k_error(W, 5)


def test_column_best_k_error_batched():
    gen = torch.Generator().manual_seed(2)
    W = torch.randn(3, 5, 8, generator=gen, dtype=torch.float64)
    got = c.column_best_k_error(W, 3)
    assert got.shape == (3,)
    for i in range(3):
        assert float(got[i]) == pytest.approx(float(c.column_best_k_error(W[i], 3)), rel=1e-12)


# ----------------------------------------------------------------------------------
# selecting and pruning neurons
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mce", "pruned"),
    [
        (0.0, 0),
        (0.03, 0),  # 1/30 = 0.033 > 0.03
        (0.1, 1),  # 1/30 <= 0.1 < 5/30
        (5 / 30, 2),  # the boundary is included
        (0.2, 2),
        (14 / 30, 3),
        (0.99, 3),
        (1.0, 4),
    ],
)
def test_select_neurons_mce_known_answers(mce, pruned):
    norms = torch.tensor([3.0, 1.0, 4.0, 2.0])  # squares 9, 1, 16, 4
    mask = c.select_neurons(norms, mce=mce)
    order = [1, 3, 0, 2]  # smallest norm first
    expected = torch.zeros(4, dtype=torch.bool)
    expected[order[:pruned]] = True
    assert torch.equal(mask, expected)


def test_select_neurons_fraction_count_random_and_errors():
    norms = torch.arange(1.0, 11.0).flip(0)  # 10, 9, ..., 1
    m = c.select_neurons(norms, fraction=0.3)
    assert m.sum() == 3 and m[-3:].all()
    assert c.select_neurons(norms, count=4)[-4:].all()
    a = c.select_neurons(norms, count=5, order="random", generator=7)
    b = c.select_neurons(norms, count=5, order="random", generator=7)
    assert torch.equal(a, b) and a.sum() == 5
    # all-zero layer: removing it costs nothing
    assert c.select_neurons(torch.zeros(3), mce=0.1).all()
    with pytest.raises(ValueError, match="exactly one"):
        c.select_neurons(norms, mce=0.1, fraction=0.2)
    with pytest.raises(ValueError, match="exactly one"):
        c.select_neurons(norms)
    with pytest.raises(ValueError, match="mce must be in"):
        c.select_neurons(norms, mce=1.5)
    with pytest.raises(ValueError, match="order must be one of"):
        c.select_neurons(norms, count=1, order="biggest")


def _mlp(bias: bool, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 20, bias=bias),
        nn.ReLU(),
        nn.Linear(20, 15, bias=bias),
        nn.ReLU(),
        nn.Linear(15, 3, bias=bias),
    )


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("how", [{"mce": 0.1}, {"fraction": 0.5}, {"mce": 0.3}])
def test_pruned_mlp_equals_masked_forward(bias, how):
    model = _mlp(bias)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned = c.prune_neurons(model, **how)
    # the input is untouched
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    l1, l2, l3 = model[0], model[2], model[4]
    keep1 = ~c.select_neurons(c.neuron_norms(l1.weight), **how)
    keep2 = ~c.select_neurons(c.neuron_norms(l2.weight), **how)
    assert (~keep1).any()
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(3))
    h1 = torch.relu(l1(x)) * keep1
    h2 = torch.relu(l2(h1)) * keep2
    masked = l3(h2)
    assert torch.allclose(pruned(x), masked, atol=1e-6)
    # the output layer is never pruned, and the outgoing weights are kept
    assert torch.equal(pruned[4].weight, l3.weight)
    assert torch.equal(pruned[2].weight[keep2][:, ~keep1], l2.weight[keep2][:, ~keep1])


def test_pruned_conv_equals_masked_forward():
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(2, 8, 3),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 5),
    )
    pruned = c.prune_neurons(model, fraction=0.5)
    c1, c2 = model[0], model[2]
    keep1 = ~c.select_neurons(c.neuron_norms(c1.weight), fraction=0.5)
    keep2 = ~c.select_neurons(c.neuron_norms(c2.weight), fraction=0.5)
    assert keep1.sum() == 4 and keep2.sum() == 3
    x = torch.randn(4, 2, 8, 8, generator=torch.Generator().manual_seed(5))
    h1 = torch.relu(c1(x)) * keep1[None, :, None, None]
    h2 = torch.relu(c2(h1)) * keep2[None, :, None, None]
    assert torch.allclose(pruned(x), model[5](h2.flatten(1)), atol=1e-6)
    # whole filters are zero, biases of pruned filters too
    assert (pruned[0].weight[~keep1] == 0).all() and (pruned[0].bias[~keep1] == 0).all()
    report = c.prune_report(pruned)
    assert report.pruned_neurons == [4, 3]
    assert [layer.kind for layer in report.layers] == ["Conv2d", "Conv2d"]
    params = 8 * 2 * 9 + 6 * 8 * 9
    assert report.params == params
    assert report.fraction == pytest.approx((4 * 2 * 9 + 3 * 8 * 9) / params)


def test_prune_mce_known_layer():
    # one hidden layer with rows of norms 1, 2, 3, 4 (squares 1, 4, 9, 16); mce 0.2 prunes two
    model = nn.Sequential(nn.Linear(2, 4, bias=False), nn.ReLU(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        # no zero entries: pruned_fraction counts exactly-zero weights
        norms = torch.tensor([4.0, 1.0, 3.0, 2.0])
        model[0].weight.copy_(norms[:, None] * torch.tensor([[0.6, 0.8]]))
        model[2].weight.fill_(1.0)
    pruned = c.prune_neurons(model, mce=0.2)
    assert torch.equal(pruned[0].weight[[1, 3]], torch.zeros(2, 2))
    assert torch.equal(pruned[0].weight[[0, 2]], model[0].weight[[0, 2]])
    # the output layer's weights are excluded from the count: 4 of 8 hidden weights are zero
    assert c.pruned_fraction(pruned) == 0.5
    assert c.prune_report(pruned).neuron_fraction == 0.5
    assert c.pruned_fraction(model) == 0.0
    # relative Frobenius error of the layer is sqrt(5/30) <= sqrt(0.2)
    err = c.column_best_k_error(model[0].weight.T.detach(), 2)
    assert float(err) == pytest.approx(math.sqrt(5 / 30)) and float(err) <= math.sqrt(0.2)


def test_prune_random_counts_and_errors():
    model = _mlp(False)
    ref = c.prune_neurons(model, mce=0.2)
    counts = c.prune_report(ref).pruned_neurons
    a = c.prune_neurons(model, counts=counts, order="random", generator=11)
    b = c.prune_neurons(model, counts=counts, order="random", generator=11)
    assert c.prune_report(a).pruned_neurons == counts
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    with pytest.raises(ValueError, match="exactly one"):
        c.prune_neurons(model, mce=0.1, fraction=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        c.prune_neurons(model)
    with pytest.raises(ValueError, match="one entry per hidden layer"):
        c.prune_neurons(model, counts=[1])
    with pytest.raises(ValueError, match=r"counts\[0\] must be an integer in \[0, 20\]"):
        c.prune_neurons(model, counts=[21, 0])
    with pytest.raises(ValueError, match="fraction must be in"):
        c.prune_neurons(model, fraction=-0.1)
    with pytest.raises(TypeError, match="nn.Module"):
        c.prune_neurons("not a model", mce=0.1)


def test_hidden_layers_of_package_models():
    fcn = hs.nets.FCN(10, 32, 3, 4)
    names = [name for name, _ in c.hidden_layers(fcn)]
    assert names == ["layers.0", "layers.2"] and c.output_layer(fcn)[0] == "layers.4"
    vgg = hs.nets.VGG11Wide(10, width_factor=1)
    hidden = c.hidden_layers(vgg)
    assert len(hidden) == 8 and all(isinstance(m, nn.Conv2d) for _, m in hidden)
    assert c.output_layer(vgg)[0] == "classifier"
    # without any nn.Linear every layer is hidden
    convs = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3))
    assert len(c.hidden_layers(convs)) == 2 and c.output_layer(convs) is None


def test_fcn_pruned_still_predicts_and_count():
    torch.manual_seed(0)
    fcn = hs.nets.FCN(10, 64, 2, 4)
    pruned = c.prune_neurons(fcn, fraction=0.25)
    assert c.prune_report(pruned).pruned_neurons == [16]
    assert c.pruned_fraction(pruned) == pytest.approx(0.25)
    assert pruned(torch.randn(5, 10)).shape == (5, 4)


# ----------------------------------------------------------------------------------
# magnitude pruning
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_magnitude_prune(scope):
    model = _mlp(True)
    out = c.magnitude_prune(model, 0.4, scope=scope)
    assert c.pruned_fraction(model) == 0.0
    w1, w2 = out[0].weight, out[2].weight
    total = w1.numel() + w2.numel()
    if scope == "layer":
        assert int((w1 == 0).sum()) == math.floor(0.4 * 120)
        assert int((w2 == 0).sum()) == math.floor(0.4 * 300)
    assert c.pruned_fraction(out) == pytest.approx(math.floor(0.4 * total) / total, abs=1 / total)
    # the kept weights are the largest ones and are unchanged
    kept = torch.cat([w1[w1 != 0].abs(), w2[w2 != 0].abs()])
    orig = torch.cat([model[0].weight.flatten().abs(), model[2].weight.flatten().abs()])
    if scope == "global":
        assert kept.min() >= orig.sort().values[math.floor(0.4 * total) - 1]
    assert torch.equal(out[4].weight, model[4].weight) and torch.equal(out[0].bias, model[0].bias)
    with pytest.raises(ValueError, match="scope must be one of"):
        c.magnitude_prune(model, 0.1, scope="net")


# ----------------------------------------------------------------------------------
# the chapter's statistical claims
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [0.1, 0.25, 0.5])
def test_gaussian_limit_closed_form(kappa):
    """sigma_{kappa n}(x)_2 / ||x||_2 -> sqrt(1 - kappa - 2 t phi(t)), t = Phi^-1(1 - kappa / 2).

    The ratio is a smooth function of sample means: its standard deviation is about
    0.4 / sqrt(n) (measured: 1.2e-3 at n = 1e5). Five vectors of n = 2e5 average to a
    standard error below 4e-4; the O(1/n) bias of floor(kappa n) is below 1e-5. A
    tolerance of 2e-3 is five standard errors.
    """
    t = norm.ppf(1 - kappa / 2)
    limit = math.sqrt(1 - kappa - 2 * t * norm.pdf(t))
    x = torch.randn(5, 200_000, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    ratio = c.compressibility_curve(x, kappa)
    assert float(ratio.mean()) == pytest.approx(limit, abs=2e-3)
    # the same limit for any Gaussian scale, in particular SaS(2, 1) = N(0, 2)
    y = hs.stable.sample(2.0, (5, 200_000), generator=11, dtype=torch.float64)
    assert float(c.compressibility_curve(y, kappa).mean()) == pytest.approx(limit, abs=2e-3)


def test_stable_relative_error_decreases_in_n():
    """For alpha < 2 the median of sigma_{n/10}(x)_2 / ||x||_2 falls with n (like n^(1/2 - 1/alpha)).

    Measured medians for alpha = 1.5 are about 0.47, 0.32, 0.17 at n = 1e2, 1e3, 1e4: the
    gaps are many times the sampling error of a median over hundreds of vectors.
    """
    medians = []
    for n, reps in [(100, 400), (1000, 400), (10_000, 100)]:
        x = hs.stable.sample(1.5, (reps, n), generator=n, dtype=torch.float64)
        medians.append(float(c.compressibility_curve(x, 0.1).median()))
    assert medians[0] > medians[1] > medians[2]
    assert medians[2] < 0.6 * medians[0]
    # the Gaussian value (0.749) stays where it is
    assert medians[0] < 0.7


def test_mce_reads_the_compressibility_curve_at_sqrt_tau():
    """mce-tau removes 1 - k*/n of the neurons, k* the smallest k with relative error <= sqrt(tau)."""
    layer = nn.Linear(20, 500, bias=False)
    with torch.no_grad():
        layer.weight.copy_(hs.stable.sample_isotropic(1.5, 500, 20, generator=3))
    model = nn.Sequential(layer, nn.ReLU(), nn.Linear(500, 3, bias=False))
    nu = c.neuron_norms(layer.weight).double()
    for tau in (0.05, 0.1, 0.3):
        errors = torch.stack([c.best_k_error(nu, k) for k in range(501)])
        k_star = int(torch.nonzero(errors <= math.sqrt(tau))[0])
        removed = c.prune_report(c.prune_neurons(model, mce=tau)).pruned_neurons[0]
        assert removed == 500 - k_star


def test_uniform_limit_closed_form():
    """The chapter's exercise: iid U(-1, 1) entries give the limit (1 - kappa)^(3/2); tolerance as for the Gaussian."""
    u = (
        2 * torch.rand(5, 200_000, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
        - 1
    )
    kappas = np.array([0.1, 0.5])
    got = c.compressibility_curve(u, kappas).mean(dim=0).numpy()
    assert np.allclose(got, (1 - kappas) ** 1.5, atol=2e-3)


def test_gaussian_limit_closed_form_quadrature_and_simulation():
    """L(kappa) against its definition by quadrature and against long Gaussian vectors."""
    from scipy import integrate, stats

    kappas = np.array([0.0, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0])
    limit = hs.compress.gaussian_limit(kappas)
    assert limit.shape == kappas.shape and limit[0] == 1.0 and limit[-1] == 0.0
    assert np.all(np.diff(limit) < 0)
    # Share of E x^2 carried by |x| > t: 2 int_t^inf x^2 phi(x) dx, with t = Phi^-1(1 - kappa/2).
    for kappa, value in zip(kappas[1:-1], limit[1:-1], strict=True):
        t = stats.norm.ppf(1 - kappa / 2)
        kept = 2 * integrate.quad(lambda x: x * x * stats.norm.pdf(x), t, np.inf, epsabs=1e-13)[0]
        assert value == pytest.approx(math.sqrt(1 - kept), rel=1e-9)
    # Four vectors of 1e6 entries: the sd of one ratio is below 1e-3 and the bias is O(1/n).
    x = torch.randn(4, 10**6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    simulated = hs.compress.compressibility_curve(x, kappas[1:-1]).numpy().mean(axis=0)
    np.testing.assert_allclose(simulated, limit[1:-1], atol=2e-3)
    assert isinstance(hs.compress.gaussian_limit(0.1), float)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="kappa"):
            hs.compress.gaussian_limit(bad)
