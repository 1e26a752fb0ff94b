"""Tests of htsgd.meanfield: the particle step, the noise per mean-field step, the coupling,
vectorization, bad input (the chaos diagnostics are tested in tests/test_chaos.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import kstest

import htsgd as hs
from htsgd import meanfield as mf


def _tiny_problem(dtype=torch.float64, n_train=7, d=3):
    return mf.teacher_problem(input_dim=d, n_train=n_train, n_test=5, generator=3, dtype=dtype)


# ----------------------------------------------------------------------------------
# the particle step
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_particle_step_is_minus_eta_n_times_autograd_gradient(activation):
    """A hand-written step on a tiny system: w - eta * n * dL/dw, L = mean (f - y)^2 / 2, by autograd."""
    p = _tiny_problem()
    n, eta = 6, 0.3
    w = torch.randn(2, n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = mf.second_layer((2, n), generator=1, dtype=torch.float64)
    got = mf.particle_step(w, a, p.x, p.y, eta=eta, activation=activation)
    phi = torch.relu if activation == "relu" else torch.tanh
    for s in range(2):
        ws = w[s].clone().requires_grad_(True)
        f = (phi(p.x @ ws.T) * a[s]).sum(dim=1) / n
        loss = 0.5 * ((f - p.y) ** 2).mean()
        (grad,) = torch.autograd.grad(loss, ws)
        assert torch.allclose(got[s], w[s] - eta * n * grad, rtol=1e-12, atol=1e-14)
    # The plain drift and output functions give the same step.
    r = mf.network_output(w, a, p.x, activation=activation) - p.y
    plain = w + eta * mf.drift(w, a, p.x, r, activation=activation)
    assert torch.allclose(got, plain, rtol=1e-12, atol=1e-14)


def test_train_meanfield_equals_the_particle_system():
    """train_meanfield (autograd on a MeanFieldNet) and run_particles (closed-form drift) take the same steps."""
    p = _tiny_problem()
    n, steps, eta = 8, 5, 0.2
    run = mf.run_particles(p, n, seeds=1, steps=steps, eta=eta, alpha=1.5, sigma=0.1, tagged=0,
                           generator=11, snapshot_steps=[0])
    net = hs.nets.MeanFieldNet(3, n).double()
    with torch.no_grad():
        net.weight.copy_(run.snapshots[0][0])
        net.a.copy_(run.a[0])
    noise_free = mf.run_particles(p, n, seeds=1, steps=steps, eta=eta, tagged=0, generator=11)
    mf.train_meanfield(net, p.x, p.y, eta=eta, steps=steps)
    assert torch.allclose(net.weight.detach(), noise_free.weight[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("alpha", "noise"), [(1.5, "per_weight"), (2.0, "per_weight"), (1.3, "isotropic")])
def test_noise_per_mean_field_step(alpha, noise):
    """Zero-gradient data (x = 0): one step adds exactly sigma * eta**(1/alpha) * S, whatever n.

    Each coordinate must be SaS(alpha, sigma eta^(1/alpha)); had the step been lr = n * eta the
    scale would be n^(1/alpha) (here 400^(1/alpha) >= 20) times larger. KS test of 8000 draws
    against the stable cdf at level 1e-3 (critical value 1.95 / sqrt(N)).
    """
    n, d, eta, sigma = 800, 10, 0.05, 0.7
    x = torch.zeros(4, d, dtype=torch.float64)
    y = torch.ones(4, dtype=torch.float64)
    net = hs.nets.MeanFieldNet(d, n, generator=0).double()
    w0 = net.weight.detach().clone()
    mf.train_meanfield(net, x, y, eta=eta, steps=1, alpha=alpha, sigma=sigma, noise=noise, generator=4)
    inc = (net.weight.detach() - w0)[:, 0].numpy()  # one coordinate per neuron: independent draws
    scale = sigma * eta ** (1 / alpha)
    stat = kstest(inc, lambda t: hs.stable.cdf(t, alpha, scale=scale)).statistic
    assert stat < 1.95 / math.sqrt(n)
    # The particle system draws the same law.
    prob = mf.MeanFieldProblem(x=x, y=y, x_test=x)
    run = mf.run_particles(prob, n, steps=1, eta=eta, alpha=alpha, sigma=sigma, noise=noise, generator=5,
                           snapshot_steps=[0])
    inc2 = (run.weight - run.snapshots[0])[0, :, 0].numpy()
    assert kstest(inc2, lambda t: hs.stable.cdf(t, alpha, scale=scale)).statistic < 1.95 / math.sqrt(n)


def test_zero_sigma_or_no_alpha_adds_no_noise():
    p = _tiny_problem()
    a = mf.run_particles(p, 5, steps=3, alpha=1.5, sigma=0.0, generator=1, tag_generator=2)
    b = mf.run_particles(p, 5, steps=3, alpha=None, sigma=0.3, generator=1, tag_generator=2)
    assert torch.equal(a.weight, b.weight)


# ----------------------------------------------------------------------------------
# runs, coupling and the limit chain
# ----------------------------------------------------------------------------------
def test_second_layer_is_iid_rademacher():
    """Signs in {-1, +1}, seeded, and balanced: 40,000 draws have mean within 4 standard errors (4 / 200) of 0."""
    a = mf.second_layer((40, 1000), generator=3, dtype=torch.float64)
    assert a.shape == (40, 1000) and a.dtype == torch.float64
    assert set(a.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(a.mean())) < 4 / 200
    assert torch.equal(a, mf.second_layer((40, 1000), generator=3, dtype=torch.float64))
    # Not a fixed pattern: the sign of neuron 0 and of neuron 1 each vary over the 40 rows.
    assert a[:, 0].unique().numel() == 2 and a[:, 1].unique().numel() == 2


def test_initial_pairs_are_exchangeable_permutation_test():
    """The initial pairs (w_i, a_i) of one seed are iid, so the neuron labels carry no information.

    Statistic: over M = 300 seeds, the squared difference of the mean sign of neuron 0 and of
    neuron 1 plus that of their mean first coordinate. Its permutation distribution permutes
    the neuron labels within each seed (a seeded permutation test, 999 permutations); the old
    alternating layer (a_0 = +1, a_1 = -1 in every seed) gives p = 0.001, iid pairs a p-value
    that is uniform, here required above 0.001 (a false alarm at most once in 1000 seeds).
    The tagged neurons (their own stream) are included: they must have the law of the others.
    """
    p = _tiny_problem()
    M, n = 300, 6
    run = mf.run_particles(p, n, seeds=M, steps=0, tagged=2, generator=5, tag_generator=6, snapshot_steps=[0])
    a, w1 = run.a, run.snapshots[0][..., 0]

    def stat(a, w1):
        return float((a[:, 0].mean() - a[:, 1].mean()) ** 2 + (w1[:, 0].mean() - w1[:, 1].mean()) ** 2)

    observed = stat(a, w1)
    g = torch.Generator().manual_seed(0)
    perms = [torch.argsort(torch.rand(M, n, generator=g), dim=1) for _ in range(999)]
    null = [stat(a.gather(1, pi), w1.gather(1, pi)) for pi in perms]
    p_value = (1 + sum(t >= observed for t in null)) / 1000
    assert p_value > 1e-3


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_step_is_permutation_equivariant(activation):
    """Permuting the pairs (w_i, a_i) of a system permutes its step and leaves its outputs unchanged.

    With iid initial pairs and iid noise this makes the law of the pairs exchangeable at every
    step. Equal up to the rounding of a reordered sum (rtol 1e-12 in float64).
    """
    p = _tiny_problem()
    g = torch.Generator().manual_seed(1)
    w = torch.randn(3, 9, 3, dtype=torch.float64, generator=g)
    a = mf.second_layer((3, 9), generator=g, dtype=torch.float64)
    perm = torch.randperm(9, generator=g)
    new, out = mf._fused_step(w, a, p.x, p.y, 0.2, activation, None)
    new_p, out_p = mf._fused_step(w[:, perm], a[:, perm], p.x, p.y, 0.2, activation, None)
    assert torch.allclose(new_p, new[:, perm], rtol=1e-12, atol=1e-14)
    assert torch.allclose(out_p, out, rtol=1e-12, atol=1e-14)


def test_two_neurons_have_the_same_law_after_training():
    """Exchangeability, statistically: neuron 0 and neuron 1 have one marginal law after training.

    400 independent networks of width 8 (the book's task, 50 steps); neuron 0 of seeds 0-199
    against neuron 1 of seeds 200-399 (independent samples), two-sample KS on the norm and on
    the pre-activation at one input, at level 1e-3. With the old alternating layer both tests
    reject with p < 1e-40 (neuron 0 always had a = +1, neuron 1 a = -1).
    """
    from scipy.stats import ks_2samp

    p = mf.teacher_problem(generator=0, dtype=torch.float64)
    M = 400
    w = mf.run_particles(p, 8, seeds=M, steps=50, eta=0.1, generator=1, tag_generator=2).weight
    for stat in (lambda v: v.norm(dim=-1), lambda v: v @ p.x[0]):
        assert ks_2samp(stat(w[: M // 2, 0]).numpy(), stat(w[M // 2 :, 1]).numpy()).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [None, 1.5])
def test_vectorized_seeds_equal_a_loop_over_seeds(alpha):
    p = _tiny_problem()
    kw = dict(seeds=4, steps=6, eta=0.2, alpha=alpha, sigma=0.05, generator=9, snapshot_steps=[3])
    vec = mf.run_particles(p, 12, **kw)
    loop = mf.run_particles(p, 12, loop_over_seeds=True, **kw)
    assert torch.allclose(vec.weight, loop.weight, rtol=1e-12, atol=1e-14)
    assert torch.allclose(vec.train_output, loop.train_output, rtol=1e-12, atol=1e-14)
    assert torch.allclose(vec.snapshots[3], loop.snapshots[3], rtol=1e-12, atol=1e-14)


def test_tagged_neurons_share_initial_weights_and_noise_across_widths():
    """With the same tag stream, the limit chain driven by a network's own outputs *is* its tagged neurons.

    This checks that the tagged neurons' initial weights and noise paths depend on the tag
    stream only (not on the width or the other neurons' stream): the two recursions then differ
    only through the outputs that drive the drift.
    """
    p = _tiny_problem()
    for width, gen in [(4, 1), (9, 2)]:
        run = mf.run_particles(p, width, steps=8, eta=0.2, alpha=1.5, sigma=0.2, tagged=2, generator=gen,
                               tag_generator=42)
        chain = mf.limit_chain(p, run.train_output[:-1, 0], tagged=2, eta=0.2, alpha=1.5, sigma=0.2,
                               tag_generator=42)
        assert torch.allclose(chain[0], run.weight[0, :2], rtol=1e-12, atol=1e-14)
    a = mf.run_particles(p, 4, steps=0, generator=1, tag_generator=42)
    b = mf.run_particles(p, 9, steps=0, generator=2, tag_generator=42)
    assert torch.equal(a.weight[:, :2], b.weight[:, :2])


def test_step_condition():
    assert mf.step_condition(4096, 1.5) == pytest.approx(4096 ** (-1.75))
    assert np.allclose(mf.step_condition([1, 4], 2.0), [1.0, 1 / 16])
    with pytest.raises(ValueError, match="alpha"):
        mf.step_condition(10, 2.5)


# ----------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------
def test_bad_input_is_rejected_early():
    p = _tiny_problem()
    with pytest.raises(ValueError, match="alpha"):
        mf.run_particles(p, 4, alpha=2.5)
    with pytest.raises(ValueError, match="sigma"):
        mf.run_particles(p, 4, sigma=-1.0)
    with pytest.raises(ValueError, match="eta"):
        mf.run_particles(p, 4, eta=0.0)
    with pytest.raises(ValueError, match="activation"):
        mf.run_particles(p, 4, activation="gelu")
    with pytest.raises(ValueError, match="noise"):
        mf.run_particles(p, 4, noise="per_neuron")
    with pytest.raises(ValueError, match="tagged"):
        mf.run_particles(p, 4, tagged=5)
    with pytest.raises(TypeError, match="MeanFieldNet"):
        mf.train_meanfield(torch.nn.Linear(3, 1), p.x, p.y, eta=0.1, steps=1)
    with pytest.raises(ValueError, match="x must be"):
        mf.train_meanfield(hs.nets.MeanFieldNet(4, 3).double(), p.x, p.y, eta=0.1, steps=1)
    with pytest.raises(ValueError, match="noise must have the shape"):
        w = torch.zeros(4, 3, dtype=torch.float64)
        mf.particle_step(w, mf.second_layer(4, generator=0, dtype=torch.float64), p.x, p.y, eta=0.1, noise=torch.zeros(3, dtype=torch.float64))


def test_limit_chain_settings_have_run_particles_defaults_and_are_checked():
    """limit_chain takes the dynamics as keywords checked by one helper: its defaults are run_particles'."""
    import inspect

    params = inspect.signature(mf.run_particles).parameters
    assert {k: params[k].default for k in mf._DYNAMICS_DEFAULTS} == mf._DYNAMICS_DEFAULTS
    p = _tiny_problem()
    ref = mf.run_particles(p, 6, steps=3, tagged=0, generator=0)
    reference = ref.train_output[:-1, 0]
    # Defaults spelled out give the same chain as defaults omitted.
    assert torch.equal(mf.limit_chain(p, reference, tag_generator=1),
                       mf.limit_chain(p, reference, tag_generator=1, **mf._DYNAMICS_DEFAULTS))
    with pytest.raises(TypeError, match="unknown setting"):
        mf.limit_chain(p, reference, steps=3)
    for bad, match in [({"eta": 0.0}, "eta"), ({"alpha": 2.5}, "alpha"), ({"sigma": -1.0}, "sigma"),
                       ({"activation": "gelu"}, "activation"), ({"noise": "per_neuron"}, "noise")]:
        with pytest.raises(ValueError, match=match):
            mf.limit_chain(p, reference, **bad)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_blocks_of_seeds_equal_one_block(activation, monkeypatch):
    """Stepping seeds in cache-sized blocks (here 2 or 3 seeds a block) gives the one-block step.

    Each seed's arithmetic is the same in both; only the kernels' batch sizes differ,
    so the results agree to float64 rounding (rtol 1e-12 as for the loop over seeds).
    """
    p = _tiny_problem(n_train=9, d=4)
    n, seeds = 6, 7
    w = torch.randn(seeds, n, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = mf.second_layer((seeds, n), generator=2, dtype=torch.float64)
    whole = mf._fused_step(w, a, p.x, p.y, 0.3, activation, None)
    monkeypatch.setattr(mf, "_BLOCK_BYTES", 2 * n * 9 * 8)  # 2 seeds a block: blocks of 2, 2, 3
    blocks = mf._fused_step(w, a, p.x, p.y, 0.3, activation, None, {})
    for got, want in zip(blocks, whole, strict=True):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-14)
    loop = [mf._fused_step(w[s], a[s], p.x, p.y, 0.3, activation, None)[0] for s in range(seeds)]
    assert torch.allclose(blocks[0], torch.stack(loop), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------
# bad input at the boundary (issue 20 item 14): clear errors naming the argument
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [{"eta": math.inf}, {"eta": math.nan}, {"sigma": math.inf}])
def test_infinite_step_or_noise_level_is_refused_by_name(bad):
    """eta = inf gave all-NaN weights; sigma = inf was reported as 'scale' by the stable sampler."""
    p = _tiny_problem()
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        mf.run_particles(p, 4, steps=2, alpha=1.5, **bad)
    ref = mf.run_particles(p, 6, steps=2, tagged=0, generator=0).train_output[:-1, 0]
    with pytest.raises(ValueError, match=name):
        mf.limit_chain(p, ref, alpha=1.5, **bad)
    with pytest.raises(ValueError, match=name):
        mf.train_meanfield(hs.nets.MeanFieldNet(3, 4).double(), p.x, p.y, steps=1, alpha=1.5,
                           **{"eta": 0.1, "sigma": 0.1, **bad})
    if name == "eta":
        w = torch.zeros(4, 3, dtype=torch.float64)
        with pytest.raises(ValueError, match="eta"):
            mf.particle_step(w, mf.second_layer(4, generator=0, dtype=torch.float64), p.x, p.y, **bad)


@pytest.mark.parametrize(("width", "error"), [(None, TypeError), (math.nan, TypeError), (math.inf, TypeError),
                                              (2.5, TypeError), (True, TypeError), (0, ValueError),
                                              ([4, 0], ValueError), ([4.0, 8.0], TypeError), ([], ValueError)])
def test_step_condition_refuses_widths_that_are_not_positive_integers(width, error):
    with pytest.raises(error, match="width"):
        mf.step_condition(width, 1.5)


def test_an_unchecked_problem_is_checked_on_construction():
    """Wrong-length y, dtype mismatches, zero points or dimensions, NaN, requires_grad: refused, named."""
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    cases = [
        (dict(x=x, y=y[:4], x_test=x), ValueError, "y must be"),
        (dict(x=x, y=y.float(), x_test=x), TypeError, "dtype"),
        (dict(x=x, y=y, x_test=x.float()), TypeError, "dtype"),
        (dict(x=x[:0], y=y[:0], x_test=x), ValueError, "P, d >= 1"),
        (dict(x=x[:, :0], y=y, x_test=x[:, :0]), ValueError, "P, d >= 1"),
        (dict(x=x, y=y, x_test=x[:0]), ValueError, "x_test"),
        (dict(x=x, y=y, x_test=x[:, :2]), ValueError, "x_test"),
        (dict(x=x.int(), y=y, x_test=x), TypeError, "float32 or float64"),
        (dict(x=x, y=y * math.nan, x_test=x), ValueError, "finite"),
        (dict(x=x.clone().requires_grad_(True), y=y, x_test=x), ValueError, "grad"),
        (dict(x=x.numpy(), y=y, x_test=x), TypeError, "torch tensor"),
    ]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            mf.MeanFieldProblem(**kwargs)
    with pytest.raises(TypeError, match="MeanFieldProblem"):
        mf.run_particles((x, y, x), 4)
    with pytest.raises(ValueError, match="width"):
        mf.run_particles(_tiny_problem(), 0)
    with pytest.raises(ValueError, match="n_train"):
        mf.teacher_problem(n_train=0)


def test_particle_step_refuses_grad_and_dtype_mismatches_by_name():
    p = _tiny_problem()
    w = torch.zeros(4, 3, dtype=torch.float64)
    a = mf.second_layer(4, generator=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="weight must not require grad"):
        mf.particle_step(w.clone().requires_grad_(True), a, p.x, p.y, eta=0.1)
    with pytest.raises(TypeError, match="a must have the dtype"):
        mf.particle_step(w, a.float(), p.x, p.y, eta=0.1)
    with pytest.raises(TypeError, match="x must have the dtype"):
        mf.particle_step(w, a, p.x.float(), p.y, eta=0.1)
    with pytest.raises(ValueError, match="y must be"):
        mf.particle_step(w, a, p.x, p.y[:3], eta=0.1)
    with pytest.raises(TypeError, match="x must be a tensor of the network"):
        mf.train_meanfield(hs.nets.MeanFieldNet(3, 4), p.x, p.y, eta=0.1, steps=1)  # float32 net, float64 data
    ref = mf.run_particles(p, 6, steps=2, tagged=0, generator=0).train_output[:-1, 0]
    with pytest.raises(ValueError, match="reference_output must be finite"):
        mf.limit_chain(p, ref * math.nan)


def test_output_iqr_bad_input():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        mf.output_iqr(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="finite"):
        mf.output_iqr(torch.tensor([0.0, math.inf]))
    with pytest.raises(TypeError, match="floating"):
        mf.output_iqr(np.zeros((3, 2)))


def test_limit_reference_shift_matches_least_squares_on_a_power_law():
    """The reference shift the chapter quotes, on exact medians ``n**-1/2``: by an independent polyfit."""
    widths = np.array([16, 64, 256, 1024])
    med = widths**-0.5
    coupling = np.tile(med, (40, 1))  # identical seeds: every median is exact
    eps = 0.5 * med.min()
    output = np.random.default_rng(0).standard_normal((40, 1)) * med  # only required by width_rates
    samples = {"coupling": coupling, "output": output, "reference_error": np.full(40, eps)}
    shift = hs.chaos.width_rates(widths.tolist(), samples, n_boot=50).loc["coupling", "reference_shift"]
    slopes = [np.polyfit(np.log(widths), np.log(med + s * eps), 1)[0] for s in (-1, 1)]
    assert shift == pytest.approx(max(abs(p + 0.5) for p in slopes), rel=1e-9)
    # An error as large as the smallest median: the reference is too narrow to fit the slope at all.
    samples["reference_error"] = np.full(40, med.min())
    assert hs.chaos.width_rates(widths.tolist(), samples, n_boot=50).loc["coupling", "reference_shift"] == math.inf
