"""Tests of htsgd.train_batched: every member is its cell run alone (streams bit for bit, weights to
float32 rounding, results statistically), whatever the batch it shares."""

from __future__ import annotations

import statistics

import pytest
import torch

import htsgd as hs
from htsgd import noise as noise_mod
from htsgd import train as train_mod
from htsgd import train_batched as tb_mod
from htsgd.train import Diverged, train
from htsgd.train_batched import train_batched

U = 2.0**-24  # float32 unit roundoff


@pytest.fixture(autouse=True)
def one_thread():
    """Bit-identity across batch sizes holds with one torch thread (what run_cells and sweep workers use)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small():
    return hs.data.load("teacher_student", n_train=600, n_test=200, input_dim=10, teacher_width=6, num_classes=3)


def _member(seed, *, width=32, alpha=1.75, sigma=0.05, noise="per_neuron", lr=0.2, depth=2, bias=False):
    """A member built as a sweep cell builds it: seeded init, its own noise seed."""
    torch.manual_seed(1000 + seed)
    model = hs.nets.FCN(10, width, depth, 3, bias=bias)
    if alpha is None:
        return model, torch.optim.SGD(model.parameters(), lr=lr)
    groups = hs.optim.paper_param_groups(model)
    opt = hs.optim.HeavyTailedSGD(groups, lr=lr, alpha=alpha, sigma=sigma, noise=noise, generator=2000 + seed)
    return model, opt


KW = dict(batch_size=64, eval_every=10, stop_train_acc=0.8)


def _lone(data, seed, max_iters, **spec):
    model, opt = _member(seed, **spec)
    res = train(model, data, opt, generator=3000 + seed, max_iters=max_iters, progress=False,
                on_divergence="record", **KW)
    return model, res


def _batched(data, seeds, max_iters, specs=None):
    specs = specs or [{}] * len(seeds)
    built = [_member(s, **sp) for s, sp in zip(seeds, specs, strict=True)]
    models, opts = [m for m, _ in built], [o for _, o in built]
    res = train_batched(models, data, opts, generators=[3000 + s for s in seeds], max_iters=max_iters, **KW)
    return models, res


class _Tap:
    """Records the batch indices and the noise draws of whatever trainer runs."""

    def __init__(self, monkeypatch):
        self.batches, self.noise = [], []
        tap = self

        class Batches(train_mod.EpochBatches):
            def next(self):
                idx = super().next()
                tap.batches.append(idx.clone())
                return idx

        original = noise_mod.add_noise_

        def add_noise_(p, name, alpha, scale, generator, *, fused=False):
            clone = torch.Generator(device=generator.device)
            clone.set_state(generator.get_state())
            tap.noise.append((id(generator), noise_mod.draw(name, alpha, tuple(p.shape), clone, device=p.device)))
            return original(p, name, alpha, scale, generator, fused=fused)

        monkeypatch.setattr(train_mod, "EpochBatches", Batches)
        monkeypatch.setattr(tb_mod, "EpochBatches", Batches)
        monkeypatch.setattr(noise_mod, "add_noise_", add_noise_)


@pytest.mark.parametrize("noise", noise_mod.names())
def test_each_member_draws_the_lone_runs_weights_batches_and_noise_bit_for_bit(small, noise, monkeypatch):
    seeds, steps = [0, 1, 2], 7
    tap = _Tap(monkeypatch)
    lone = []
    for s in seeds:
        tap.batches, tap.noise = [], []
        model, opt = _member(s, noise=noise, sigma=0.05)
        init = [p.detach().clone() for p in model.parameters()]
        train(model, small, opt, generator=3000 + s, max_iters=steps, progress=False, on_divergence="record",
              batch_size=64, eval_every=100)
        lone.append((init, tap.batches, [x for _, x in tap.noise]))
    tap.batches, tap.noise = [], []
    built = [_member(s, noise=noise, sigma=0.05) for s in seeds]
    stack = tb_mod._Stack([tb_mod._member(i, m, o, torch.device("cpu")) for i, (m, o) in enumerate(built)])
    gens = {id(o._generator(torch.device("cpu"))): e for e, (_, o) in enumerate(built)}
    train_batched([m for m, _ in built], small, [o for _, o in built], generators=[3000 + s for s in seeds],
                  max_iters=steps, batch_size=64, eval_every=100)
    assert len(tap.batches) == steps
    for e, (init, batches, draws) in enumerate(lone):
        assert all(torch.equal(stack.member(k, e), q) for k, q in enumerate(init))
        assert all(torch.equal(b[e], lb[0]) for b, lb in zip(tap.batches, batches, strict=True))
        mine = [x for g, x in tap.noise if gens[g] == e]
        assert len(mine) == len(draws) == steps  # one noisy layer, one draw per step
        assert all(torch.equal(a, b) for a, b in zip(mine, draws, strict=True))


@pytest.mark.parametrize("noise", noise_mod.names())
def test_after_one_step_each_member_agrees_with_the_lone_run_to_float32_rounding(small, noise):
    """Only the matrix products' summation order may differ (bmm vs mm), so after one step
    ``|w_batched - w_lone| <= 64 u max|w|`` per layer: the reductions here are at most 64 long
    (batch 64, width 32, 10 inputs) and reordering a sum of K float32 terms moves it by at most
    ``K u`` times the sum of their magnitudes; the step ``lr * grad`` is far larger, so a wrong
    gradient (another member's batch, a missing 1/b) cannot pass."""
    seeds = [0, 1, 2, 3]
    models, _ = _batched(small, seeds, 1, [{"noise": noise}] * len(seeds))
    for e, s in enumerate(seeds):
        start, _ = _member(s, noise=noise)
        lone, _ = _lone(small, s, 1, noise=noise)
        for pb, pl, p0 in zip(models[e].parameters(), lone.parameters(), start.parameters(), strict=True):
            tol = 64 * U * float(pl.detach().abs().max())
            assert float((pb - pl).detach().abs().max()) <= tol
            assert tol < 1e-2 * float((pl - p0).detach().abs().max())  # the step itself is far above the tolerance


def test_members_results_do_not_depend_on_who_shares_the_batch(small):
    """A member trained among 16 (differing in seed, sigma, alpha, noise type, some diverging, some
    stopping early) is bit-identical to it trained alone: each bmm slice is its own product."""
    seeds = list(range(16))
    types = noise_mod.names()
    specs = [dict(noise=types[s % 3], alpha=(None, 2.0, 1.75, 1.5)[s % 4], sigma=(0.05, 0.5)[s % 2]) for s in seeds]
    specs[5] = dict(alpha=1.5, sigma=1e25)  # diverges within a few steps
    models, results = _batched(small, seeds, 80, specs)
    assert results[5].stopped_by == "diverged" and results[5].diverged_at is not None
    assert len({r.iterations for r in results}) > 2  # members left the batch at different times
    for e in (0, 3, 5, 6, 11):
        alone, (res,) = _batched(small, [seeds[e]], 80, [specs[e]])
        assert res.to_dict() | {"seconds": 0} == results[e].to_dict() | {"seconds": 0}
        assert all(torch.equal(a, b) for a, b in zip(alone[0].parameters(), models[e].parameters(), strict=True))


def test_twenty_seeds_batched_and_lone_are_statistically_equivalent(small):
    seeds = list(range(20))
    models, batched = _batched(small, seeds, 400)
    lone = [_lone(small, s, 400)[1] for s in seeds]
    same = sum(b.iterations == a.iterations for a, b in zip(lone, batched, strict=True))
    assert same >= 18, [(a.iterations, b.iterations) for a, b in zip(lone, batched, strict=True)]
    diffs = [b.final["test_acc"] - a.final["test_acc"] for a, b in zip(lone, batched, strict=True)]
    assert abs(statistics.median(diffs)) < 0.005
    assert all(r.stopped_by == "threshold" for r in batched)  # the rule fired: the test compares real runs


def test_a_diverging_member_reports_its_iteration_and_raise_names_it(small):
    specs = [{}, dict(alpha=1.5, sigma=1e25), {}]
    _, results = _batched(small, [0, 1, 2], 60, specs)
    bad = results[1]
    assert bad.stopped_by == "diverged" and 1 <= bad.diverged_at <= bad.iterations
    assert results[0].stopped_by != "diverged" and results[2].stopped_by != "diverged"
    built = [_member(s, **sp) for s, sp in zip([0, 1, 2], specs, strict=True)]
    with pytest.raises(Diverged, match=f"iteration {bad.diverged_at}"):
        train_batched([m for m, _ in built], small, [o for _, o in built], generators=[3000, 3001, 3002],
                      max_iters=60, on_divergence="raise", **KW)


def test_deeper_nets_with_biases_train_batched_as_alone(small):
    spec = dict(depth=3, bias=True, alpha=2.0)
    models, results = _batched(small, [0, 1], 30, [spec, spec])
    alone, (res,) = _batched(small, [1], 30, [spec])
    assert all(torch.equal(a, b) for a, b in zip(alone[0].parameters(), models[1].parameters(), strict=True))
    lone, lres = _lone(small, 1, 30, **spec)
    assert lres.iterations == results[1].iterations
    for a, b in zip(lone.parameters(), models[1].parameters(), strict=True):
        assert float((a - b).detach().abs().max()) <= 1e-4 * float(a.detach().abs().max())


def test_bad_arguments_are_refused_with_the_argument_named(small):
    m0, o0 = _member(0)
    m1, o1 = _member(1, width=16)
    with pytest.raises(TypeError, match="models"):
        train_batched(m0, small, [o0], generators=[0], batch_size=8, max_iters=1)
    with pytest.raises(ValueError, match="width"):
        train_batched([m0, m1], small, [o0, o1], generators=[0, 1], batch_size=8, max_iters=1)
    with pytest.raises(ValueError, match="generators"):
        train_batched([m0], small, [o0], generators=[0, 1], batch_size=8, max_iters=1)
    with pytest.raises(ValueError, match="not one of models"):
        train_batched([m0], small, [o1], generators=[0], batch_size=8, max_iters=1)
    mom = torch.optim.SGD(m0.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="momentum"):
        train_batched([m0], small, [mom], generators=[0], batch_size=8, max_iters=1)
    with pytest.raises(ValueError, match="batch_size"):
        train_batched([m0], small, [o0], generators=[0], batch_size=0, max_iters=1)
    with pytest.raises(ValueError, match="distinct"):
        train_batched([m0, m0], small, [o0, o0], generators=[0, 1], batch_size=8, max_iters=1)


def test_regression_members_and_batched_evaluation_match_the_lone_run():
    data = hs.data.load("teacher_student_regression", n_train=120, n_test=40, input_dim=4)
    out_dim = 1 if data.y_train.dim() == 1 else int(data.y_train.shape[1])

    def build(seed):
        torch.manual_seed(seed)
        model = hs.nets.FCN(4, 16, 2, out_dim)
        return model, hs.optim.HeavyTailedSGD(hs.optim.paper_param_groups(model), lr=0.05, alpha=1.9, sigma=0.01,
                                              generator=seed)

    kw = dict(batch_size=16, max_iters=40, eval_every=10, stop_train_loss=1e-3)
    built = [build(s) for s in (0, 1, 2)]
    results = train_batched([m for m, _ in built], data, [o for _, o in built], generators=[5, 6, 7], **kw)
    for e, s in enumerate((0, 1, 2)):
        model, opt = build(s)
        lone = train(model, data, opt, generator=5 + e, progress=False, **kw)
        assert lone.iterations == results[e].iterations and lone.history.iteration == results[e].history.iteration
        for a, b in zip(lone.history.test_loss, results[e].history.test_loss, strict=True):
            assert b == pytest.approx(a, rel=1e-4)  # float32 outputs summed in float64 by both
        # The batched evaluation of the final weights is train.evaluate's, to float32 rounding.
        loss, acc = hs.train.evaluate(built[e][0], data.x_test, data.y_test)
        assert acc is None and results[e].final["test_loss"] == pytest.approx(loss, rel=1e-5)


def test_stopped_members_leave_the_batch(small, monkeypatch):
    sizes = []
    forward = tb_mod._Stack.forward

    def counting(self, x, members=slice(None)):
        if x.requires_grad is False and members == slice(None) and x.shape[1] == KW["batch_size"]:
            sizes.append(x.shape[0])  # a training step: one row of inputs per member in the batch
        return forward(self, x, members)

    monkeypatch.setattr(tb_mod._Stack, "forward", counting)
    specs = [{}, dict(alpha=1.5, sigma=1e25), {}, dict(lr=0.01)]  # one diverges, one is slow
    _, results = _batched(small, [0, 1, 2, 3], 200, specs)
    steps = max(r.iterations for r in results)
    assert len(sizes) == steps
    for it, size in enumerate(sizes, start=1):  # member e takes part in step it iff it <= its last step
        assert size == sum(it <= r.iterations for r in results)
    assert sizes[0] == 4 and sizes[-1] < 4
