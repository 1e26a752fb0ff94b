"""The staged training loop (issue 19, point 4) gives bitwise the numbers of the loop before it.

Every case runs the old loop (``tests/frozen_train.py``, a frozen copy) and :func:`htsgd.train.train`
on the same seeds in this process and compares final weights, optimizer state (noise generators
included), the evaluation history, the iteration count and the divergence report exactly: both
run on one machine, so no tolerance is needed and none depends on the CPU.
"""

from __future__ import annotations

import math

import pytest
import torch
from frozen_train import train_before_stages
from torch import nn

import htsgd as hs
from htsgd.train import Diverged, train


@pytest.fixture(scope="module")
def classes():
    return hs.data.load("teacher_student", n_train=300, n_test=100, input_dim=6, teacher_width=4, num_classes=3)


@pytest.fixture(scope="module")
def regression():
    return hs.data.load("teacher_student_regression", n_train=120, n_test=40, input_dim=4)


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN, tensors bitwise (recursively through dicts and lists)."""
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape and bool(
            torch.equal(a, b) or torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def _run(fn, build, data, **kw):
    """Run one loop on a fresh model and optimizer; return what a run leaves behind."""
    model, opt = build()
    rows = []
    try:
        res = fn(model, data, opt, progress=False, callback=lambda it, m, row: rows.append((it, row)), **kw)
        outcome = {k: v for k, v in res.to_dict().items() if k != "seconds"}
    except Diverged as err:
        outcome = {"raised": (err.iteration, err.what, str(err))}
    return outcome, model.state_dict(), opt.state_dict(), rows


def _noisy(noise="per_neuron", lr=0.2, sigma=0.05, momentum=0.0, width=32):
    def build():
        torch.manual_seed(3)
        model = hs.nets.FCN(6, width, 2, 3)
        groups = hs.optim.paper_param_groups(model)
        return model, hs.optim.HeavyTailedSGD(groups, lr=lr, alpha=1.6, sigma=sigma, noise=noise,
                                              momentum=momentum, generator=7)
    return build


def _sgd(in_dim, out_dim, lr, bad_weight=False):
    def build():
        torch.manual_seed(4)
        model = hs.nets.FCN(in_dim, 16, 2, out_dim)
        if bad_weight:  # a parameter that the forward pass never reads, non-finite from the start
            model.register_parameter("unused", nn.Parameter(torch.tensor([math.inf])))
        return model, torch.optim.SGD(model.parameters(), lr=lr)
    return build


CASES = {
    "threshold": (_noisy(), "classes", dict(batch_size=32, max_iters=400, stop_train_acc=0.75, eval_every=20)),
    "max_iters_off_grid": (_noisy("isotropic", momentum=0.9), "classes",
                           dict(batch_size=50, max_iters=37, eval_every=10, eval_batch_size=64)),
    "full_batch": (_noisy("per_weight"), "classes", dict(batch_size=10_000, max_iters=12, eval_every=5)),
    "zero_iters": (_noisy(), "classes", dict(batch_size=16, max_iters=0)),
    "loss_threshold": (_sgd(4, 1, 0.05), "regression",
                       dict(batch_size=16, max_iters=300, stop_train_loss=0.5, eval_every=7, eval_batch_size=None)),
    "diverged_record": (_noisy(lr=40.0, sigma=3.0), "classes",
                        dict(batch_size=32, max_iters=300, eval_every=10, on_divergence="record")),
    "diverged_raise": (_noisy(lr=40.0, sigma=3.0), "classes", dict(batch_size=32, max_iters=300, eval_every=10)),
    "weights_at_start": (_sgd(6, 3, 0.1, bad_weight=True), "classes",
                         dict(batch_size=32, max_iters=50, on_divergence="record")),
}


_RUNS: dict[str, tuple] = {}


def _old_and_new(case, classes, regression):
    """Both loops on one case, run once per test session (the exits test reuses the runs)."""
    if case not in _RUNS:
        build, which, kw = CASES[case]
        data = classes if which == "classes" else regression
        _RUNS[case] = (_run(train_before_stages, build, data, generator=5, **kw),
                       _run(train, build, data, generator=5, **kw))
    return _RUNS[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_staged_loop_is_bitwise_the_old_loop(case, classes, regression):
    old, new = _old_and_new(case, classes, regression)
    assert _same(old[0], new[0]), (old[0], new[0])
    assert _same(old[1], new[1]) and _same(old[2], new[2]) and _same(old[3], new[3])


def test_the_cases_reach_every_exit(classes, regression):
    """The cases above cover every way a run ends (else the equivalence proves less than it says)."""
    ends = set()
    for case in CASES:
        outcome = _old_and_new(case, classes, regression)[1][0]
        ends.add(outcome["raised"][1] if "raised" in outcome else (outcome["stopped_by"], outcome.get("diverged_at") is None))
    assert {("threshold", True), ("max_iters", True), ("diverged", False), "loss"} <= ends


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("case", ["threshold", "diverged_record", "diverged_raise", "weights_at_start"])
def test_staged_loop_is_bitwise_the_old_loop_on_cuda(case, classes):
    """The sync-free divergence watch of a GPU: the same first bad iteration, the same weights."""
    build, _, kw = CASES[case]
    data = classes.to("cuda")
    old = _run(train_before_stages, build, data, generator=5, **kw)
    new = _run(train, build, data, generator=5, **kw)
    assert _same(old[0], new[0]), (old[0], new[0])
    assert _same(old[1], new[1]) and _same(old[2], new[2])


# ---- the pieces take a member axis (for a trainer of E networks at once, issue 22) ----------------
def test_epoch_batches_give_each_member_its_own_stream():
    from htsgd._train_stages import EpochBatches

    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    joint = EpochBatches(10, 4, gens, torch.device("cpu"))
    alone = [EpochBatches(10, 4, [torch.Generator().manual_seed(s)], torch.device("cpu")) for s in (1, 2, 3)]
    for _ in range(7):  # several epochs: 2 batches each, the last 2 indices dropped
        idx = joint.next()
        assert idx.shape == (3, 4)
        for e in range(3):
            assert torch.equal(idx[e], alone[e].next()[0])
    one = EpochBatches(10, 5, [torch.Generator().manual_seed(0)], torch.device("cpu"))
    epoch = torch.cat([one.next()[0], one.next()[0]])
    assert sorted(epoch.tolist()) == list(range(10))  # one epoch is a permutation


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_divergence_watch_keeps_each_members_first_bad_iteration(device):
    from htsgd._train_stages import DivergenceWatch

    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    watch = DivergenceWatch(torch.device(device), members=3)
    inf, nan = math.inf, math.nan
    told = [watch.observe(it, torch.tensor(loss, device=device))
            for it, loss in enumerate([[1.0, 1.0, 1.0], [1.0, inf, 1.0], [nan, 2.0, 1.0], [inf, inf, 1.0]], 1)]
    assert watch.first_bad() == [3, 2, None]
    # The CPU reports at once; a GPU never synchronises in observe and is read at evaluation points.
    assert told == ([False, True, True, True] if device == "cpu" else [False] * 4)


def test_finite_members_over_a_leading_member_axis():
    from htsgd._train_stages import finite_members

    w = torch.zeros(3, 4, 5)
    b = torch.zeros(3, 4)
    w[1, 2, 3] = math.nan
    b[2, 0] = -math.inf
    assert finite_members([w, b], members=3).tolist() == [True, False, False]
    assert finite_members([w[:1], b[:1]]) is True and finite_members([w, b]) is False
    assert finite_members([torch.zeros(3, 2, dtype=torch.int64)], members=3).tolist() == [True] * 3


def test_recorder_appends_one_row_per_member_and_stop_rule_reads_one_row(classes):
    from htsgd._train_stages import Recorder, StopRule
    from htsgd.train import History

    evaluators = [lambda x, y, e=e: (float(e), 0.5 + 0.25 * e) for e in range(2)]
    seen = []
    histories = [History(), History()]
    rows = Recorder(evaluators, classes, histories, hook=lambda it, e, row: seen.append((it, e))).record(7)
    assert [h.last()["train_loss"] for h in histories] == [0.0, 1.0] and seen == [(7, 0), (7, 1)]
    rule = StopRule(train_acc=0.7)
    assert [rule(r) for r in rows] == [False, True]
    assert StopRule(train_loss=0.5)(rows[0]) and not StopRule()(rows[1])
