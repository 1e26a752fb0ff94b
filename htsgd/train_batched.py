"""Many networks at once: E fully connected networks trained as one batched model.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``), beside :func:`htsgd.train.train`.

A sweep trains the same architecture again and again, differing only in the seed (and the
noise level, tail index or noise type). One network of width 128 leaves a CPU's matrix units
mostly idle; :func:`train_batched` stacks ``E`` such networks (*members*) along a leading axis,
so one step is a few batched matrix products (``torch.bmm``: every member's ``(b, d) x (d, h)``
product in one call) instead of ``E`` small ones.

Each member is the cell run alone, stream for stream. The caller builds every member's network
and optimizer exactly as for :func:`htsgd.train.train` (same seeds), and passes each member's
batch seed: initial weights are the networks' own, the batch order comes from the member's own
generator (``EpochBatches``), the noise from the member's own
:class:`htsgd.optim.HeavyTailedSGD` generator in the same order of layers. The SGD update is the
same elementwise operation. Only the matrix products run batched, whose summation order a BLAS
may choose differently from the lone ``mm``. With one torch thread each slice of ``bmm`` is its
own product, so a member's result does not depend on how many members share its batch (tested
bit for bit, batches of 1 and 16); with several threads the BLAS may split the batch and the
products differently for different batch sizes (measured: with 2 threads a member's weights
differed between batches of 1 and 16), so :func:`htsgd.sweep.run_cells` trains with one thread.

Each member has its own stopping rule and its own divergence report: a member that reaches the
stopping rule, diverges or hits ``max_iters`` leaves the batch (its weights are written back to
its network; no compute is spent on it afterwards), and its :class:`htsgd.train.TrainResult`
records its own iteration. The stages are those of :func:`htsgd.train.train`
(``htsgd._train_stages``): checked settings, batches, divergence watch, recorder, stop rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import noise as _noise
from . import optim as _optim
from ._random import SeedLike, resolve_device, torch_generator
from ._train_stages import (
    DivergenceWatch,
    EpochBatches,
    Recorder,
    StopRule,
    TrainSettings,
    finite_members,
    row_is_finite,
)
from .data import Dataset
from .nets import FCN
from .train import History, TrainResult, _config, _progress, _result

__all__ = ["train_batched"]

#: The architecture fields that every member must share.
_ARCH = ("input_dim", "width", "depth", "num_classes", "bias", "scale_output")


@dataclass
class _NoiseSpec:
    """One noisy param group of one member: the parameter positions it covers and how to draw."""

    positions: list[int]
    alpha: float
    scale: float
    noise: str
    generator: torch.Generator
    fused: bool
    #: The optimizer's noise sums and the keys of the parameters at ``positions`` (``record_noise``).
    sums: dict[int, torch.Tensor] | None = None
    keys: list[int] = field(default_factory=list)


@dataclass
class _Member:
    """One member: its network, its learning rate per parameter, its noise, its outcome."""

    model: FCN
    lrs: list[float]
    noise: list[_NoiseSpec]
    history: History = field(default_factory=History)
    iterations: int = 0
    stopped_by: str = "max_iters"
    diverged: tuple[int, str] | None = None
    seconds: float = 0.0


# ------------------------------------------------------------------------------------------------
# Checks: every member one FCN of the same shape, with an SGD-type optimizer over its parameters
# ------------------------------------------------------------------------------------------------
def _check_models(models: Any) -> list[FCN]:
    if isinstance(models, nn.Module) or not isinstance(models, Sequence) or len(models) == 0:
        raise TypeError(f"models must be a non-empty sequence of htsgd.nets.FCN, got {type(models).__name__}")
    for i, m in enumerate(models):
        if not isinstance(m, FCN):
            raise TypeError(f"models[{i}] must be an htsgd.nets.FCN, got {type(m).__name__}")
        diff = [a for a in _ARCH if getattr(m, a) != getattr(models[0], a)]
        if diff:
            raise ValueError(f"models[{i}] differs from models[0] in {', '.join(diff)}: members share one architecture")
        if any(p.dtype != torch.float32 for p in m.parameters()):
            raise TypeError(f"models[{i}] must hold float32 parameters")
    if len({id(m) for m in models}) != len(models):
        raise ValueError("models must be distinct networks (one per member)")
    return list(models)


def _check_group(i: int, group: dict[str, Any], torch_sgd: bool) -> None:
    bad = {k: group.get(k) for k in ("momentum", "weight_decay", "dampening") if group.get(k, 0)}
    bad.update({k: True for k in ("nesterov", "maximize") if group.get(k, False)})
    if bad:
        raise ValueError(f"optimizers[{i}]: the batched trainer does plain SGD steps, but a group sets {bad}")
    if torch_sgd and not isinstance(group["lr"], float):
        raise TypeError(f"optimizers[{i}]: lr must be a float, got {type(group['lr']).__name__}")


def _member(i: int, model: FCN, opt: Any, device: torch.device) -> _Member:
    """Member ``i``: per-parameter learning rates and noise specs read from its optimizer (checked)."""
    torch_sgd = type(opt) is torch.optim.SGD
    if not (torch_sgd or isinstance(opt, _optim.HeavyTailedSGD)):
        raise TypeError(f"optimizers[{i}] must be torch.optim.SGD or htsgd.optim.HeavyTailedSGD, got {type(opt).__name__}")
    position = {id(p): k for k, p in enumerate(model.parameters())}
    lrs: list[float | None] = [None] * len(position)
    noise = []
    for group in opt.param_groups:
        _check_group(i, group, torch_sgd)
        ks = [position.get(id(p), -1) for p in group["params"]]
        if -1 in ks:
            raise ValueError(f"optimizers[{i}] holds a parameter that is not one of models[{i}]'s")
        for k in ks:
            lrs[k] = float(group["lr"])
        if not torch_sgd and _optim._takes_noise(group):
            scale = _optim._noise_scale(group["lr"], group["alpha"], group["sigma"])
            for p in group["params"]:
                _optim._check_noise_fits(p, scale)
            fused = opt._fused if opt._fused is not None else (device.type == "cuda" and _optim.fused_available())
            sums = opt._noise_sums if opt._record_noise else None  # accumulated_noise() reads them after
            noise.append(_NoiseSpec(ks, group["alpha"], scale, group["noise"], opt._generator(device), fused,
                                    sums, [id(p) for p in group["params"]]))
    if None in lrs:
        raise ValueError(f"optimizers[{i}] does not hold every parameter of models[{i}]")
    return _Member(model, lrs, noise)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# The stacked parameters of the members still in the batch
# ------------------------------------------------------------------------------------------------
class _Stack:
    """The active members' parameters, one leaf per parameter position.

    A weight ``(out, in)`` is stored transposed, ``(A, in, out)``: ``bmm(x, w)`` then reads both
    operands in their natural layout (measured 20% faster than ``bmm(x, w.transpose(1, 2))`` at
    width 128 on one CPU thread). :meth:`member` gives a member's parameter in the network's
    own layout (a view). Biases are ``(A, out)``.
    """

    def __init__(self, members: list[_Member]) -> None:
        self.members = members  # the active members, in batch order
        params = [list(m.model.parameters()) for m in members]
        self.params = [torch.stack([_stored(ps[k].detach()) for ps in params]).requires_grad_()
                       for k in range(len(params[0]))]
        first = members[0].model
        self.bias, self.width, self.scale_output = first.bias, first.width, first.scale_output
        self.same_lr = [len({m.lrs[k] for m in members}) == 1 for k in range(len(self.params))]

    def forward(self, x: torch.Tensor, members: slice = slice(None)) -> torch.Tensor:
        """Outputs ``(A, b, num_classes)`` of inputs ``(A, b, input_dim)``, member by member in one bmm per layer.

        ``members`` selects the members at those batch positions (``A`` of them).
        """
        step = 2 if self.bias else 1
        params = [p[members] for p in self.params]
        layers = [params[k : k + step] for k in range(0, len(params), step)]
        h = x
        for j, layer in enumerate(layers):
            w = layer[0]
            h = torch.baddbmm(layer[1].unsqueeze(1), h, w) if self.bias else torch.bmm(h, w)
            if j < len(layers) - 1:
                h = torch.relu(h)
        return h / self.width if self.scale_output else h

    @torch.no_grad()
    def sgd_step(self) -> None:
        """``p -= lr * grad``: torch.optim.SGD's elementwise update, one call when the members share lr."""
        for k, p in enumerate(self.params):
            if self.same_lr[k]:
                p.add_(p.grad, alpha=-self.members[0].lrs[k])
                continue
            for a, m in enumerate(self.members):
                p[a].add_(p.grad[a], alpha=-m.lrs[k])

    @torch.no_grad()
    def add_noise(self) -> None:
        """Each member's noise from its own generator, layer by layer in its optimizer's order.

        With the optimizer's ``record_noise`` the change is summed into its noise sums as
        :class:`htsgd.optim.HeavyTailedSGD` sums it, so its ``accumulated_noise`` holds the member's.
        """
        for a, m in enumerate(self.members):
            for spec in m.noise:
                for k, key in zip(spec.positions, spec.keys, strict=True):
                    w = self.member(k, a)
                    before = None if spec.sums is None else w.to(torch.float64, copy=True)
                    _noise.add_noise_(w, spec.noise, spec.alpha, spec.scale, spec.generator, fused=spec.fused)
                    if before is not None:
                        _optim._accumulate_change(spec.sums, key, before, w)

    @torch.no_grad()
    def write_back(self, positions: Sequence[int]) -> None:
        """Copy the current weights of the members at ``positions`` into their networks."""
        for a in positions:
            for k, p in enumerate(self.members[a].model.parameters()):
                p.copy_(self.member(k, a))

    def member(self, k: int, a: int) -> torch.Tensor:
        """Parameter ``k`` of the member at batch position ``a``, in its network's layout (a view)."""
        return _stored(self.params[k][a])

    def keep(self, positions: list[int]) -> None:
        """Keep only the members at ``positions``: new leaves of the kept rows, gradients carried."""
        index = torch.tensor(positions, dtype=torch.long, device=self.params[0].device)
        kept = []
        for p in self.params:
            q = p.detach().index_select(0, index).requires_grad_()
            if p.grad is not None:
                q.grad = p.grad.index_select(0, index)
            kept.append(q)
        self.params = kept
        self.members = [self.members[a] for a in positions]
        self.same_lr = [len({m.lrs[k] for m in self.members}) == 1 for k in range(len(self.params))]


class _Evaluation:
    """Every member's loss and accuracy on a full set, by batched products, computed once per set.

    Rows go in chunks of ``batch_size`` (as :func:`htsgd.train.evaluate`) and members in groups of
    a size fixed by the width alone (memory), so no member's numbers depend on how many members
    the batch holds. ``member(a)`` is member ``a``'s evaluator for ``Recorder``.
    """

    _FLOATS = 2**24  # the largest (members, rows, width) activation of one product: 64 MiB

    def __init__(self, stack: _Stack, batch_size: int | None) -> None:
        self.stack, self.batch_size, self._done = stack, batch_size, {}

    def member(self, a: int) -> Callable[[torch.Tensor, torch.Tensor], tuple[float, float | None]]:
        return lambda x, y: self._all(x, y)[a]

    @torch.no_grad()
    def _all(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[float, float | None]]:
        key = (x.data_ptr(), tuple(x.shape))
        if key not in self._done:
            self._done[key] = self._compute(x.reshape(x.shape[0], -1), y)
        return self._done[key]

    def _compute(self, x: torch.Tensor, y: torch.Tensor) -> list[tuple[float, float | None]]:
        n, members = x.shape[0], len(self.stack.members)
        rows = n if self.batch_size is None else self.batch_size
        group = max(1, self._FLOATS // (min(rows, n) * self.stack.width))
        total = torch.zeros(members, dtype=torch.float64, device=x.device)
        correct = torch.zeros(members, dtype=torch.int64, device=x.device)
        for g in range(0, members, group):
            sel = slice(g, min(g + group, members))
            for i in range(0, n, rows):
                xb, yb = x[i : i + rows], y[i : i + rows]
                out = self.stack.forward(xb.expand(sel.stop - sel.start, *xb.shape), sel)
                sums, hits = _chunk_sums(out, yb)
                total[sel] += sums
                correct[sel] += hits
        classify = not y.is_floating_point()
        return [(float(t) / n, float(c) / n if classify else None)
                for t, c in zip(total.tolist(), correct.tolist(), strict=True)]


def _chunk_sums(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per member: the summed loss (float64) and the correct count of outputs ``(G, c, k)`` on targets ``y``."""
    g, c = out.shape[0], out.shape[1]
    if y.is_floating_point():
        err = F.mse_loss(out.reshape(g, *y.shape), y.expand(g, *y.shape), reduction="none").reshape(g, c, -1)
        return err.sum(dim=2).double().sum(dim=1) / max(1, err.shape[2]), torch.zeros(g, dtype=torch.int64, device=out.device)
    losses = F.cross_entropy(out.reshape(g * c, -1), y.repeat(g), reduction="none").view(g, c)
    return losses.sum(dim=1).double(), (out.argmax(dim=2) == y).sum(dim=1)


def _stored(p: torch.Tensor) -> torch.Tensor:
    """A weight matrix transposed (its own inverse), anything else as it is."""
    return p.T if p.dim() == 2 else p


def _member_losses(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each member's mean loss ``(A,)``: cross-entropy for labels, mean squared error for targets."""
    a, b = y.shape[0], y.shape[1]
    if y.is_floating_point():
        return F.mse_loss(out.reshape(y.shape), y, reduction="none").reshape(a, -1).mean(dim=1)
    return F.cross_entropy(out.reshape(a * b, -1), y.reshape(-1), reduction="none").view(a, b).mean(dim=1)


# ------------------------------------------------------------------------------------------------
# The run: one step for the batch, evaluation points, members leaving the batch
# ------------------------------------------------------------------------------------------------
class _BatchedRun:
    """The loop's state: the stack, the stages, the iteration, the clock."""

    def __init__(self, members: list[_Member], data: Dataset, s: TrainSettings, generators: list[torch.Generator],
                 dev: torch.device, bar: Any, callback: Callable[..., Any] | None) -> None:
        self.s, self.data, self.bar, self.callback = s, data, bar, callback
        self.x = data.x_train.reshape(data.n_train, -1)
        self.y = data.y_train
        self.stack = _Stack(members)
        self.batches = EpochBatches(data.n_train, min(s.batch_size, data.n_train), generators, dev)
        self.watch = DivergenceWatch(dev, len(members))
        self.stop = StopRule(s.stop_train_acc, s.stop_train_loss)
        self.it, self.start = 0, time.perf_counter()

    def _recorder(self) -> Recorder:
        members = self.stack.members
        hook = None
        if self.callback is not None:
            hook = lambda it, a, row: self.callback(it, members[a].model, row)  # noqa: E731
        evaluation = _Evaluation(self.stack, self.s.eval_batch_size)
        evaluators = [evaluation.member(a) for a in range(len(members))]
        return Recorder(evaluators, self.data, [m.history for m in members], self.bar, hook)

    def retire(self, outcome: dict[int, tuple[str, tuple[int, str] | None]]) -> None:
        """Members (batch positions) leave the batch with ``(stopped_by, divergence)``; weights written back."""
        if not outcome:
            return
        self.stack.write_back(list(outcome))
        now = time.perf_counter() - self.start
        for a, (stopped_by, diverged) in outcome.items():
            m = self.stack.members[a]
            m.iterations, m.stopped_by, m.diverged, m.seconds = self.it, stopped_by, diverged, now
        keep = [a for a in range(len(self.stack.members)) if a not in outcome]
        if not keep:
            self.stack.members = []
            return
        self.batches.keep(keep)
        self.watch.keep(keep)
        self.stack.keep(keep)

    def evaluation_point(self) -> None:
        """As :func:`htsgd.train.train`: non-finite loss seen, non-finite weights, then the evaluation."""
        firsts = self.watch.first_bad() if self.watch.sync_free else [None] * len(self.stack.members)
        finite = finite_members(self.stack.params, len(self.stack.members)).tolist()
        self.retire({
            a: ("max_iters", (f, "loss") if f is not None else (self.it, "weights"))
            for a, (f, ok) in enumerate(zip(firsts, finite, strict=True)) if f is not None or not ok
        })
        if not self.stack.members:
            return
        if self.callback is not None:
            self.stack.write_back(range(len(self.stack.members)))  # the callback reads the networks
        rows = self._recorder().record(self.it)
        at_cap = self.it == self.s.max_iters
        verdicts = {a: self._verdict(row, at_cap) for a, row in enumerate(rows)}
        self.retire({a: v for a, v in verdicts.items() if v is not None})

    def _verdict(self, row: dict[str, Any], at_cap: bool) -> tuple[str, tuple[int, str] | None] | None:
        """A member's outcome at an evaluation row, or None when it trains on."""
        if not row_is_finite(row):
            return "max_iters", (self.it, "loss")
        if self.stop(row):
            return "threshold", None
        return ("max_iters", None) if at_cap else None

    def step(self) -> None:
        """One SGD step of every member in the batch (members with a non-finite loss leave first)."""
        idx = self.batches.next()
        for p in self.stack.params:
            p.grad = None
        losses = _member_losses(self.stack.forward(self.x[idx]), self.y[idx])
        losses.sum().backward()  # member e's parameters get the gradient of its own mean loss
        self.it += 1
        if self.watch.observe(self.it, losses):
            bad = (~torch.isfinite(losses.detach())).tolist()
            self.retire({a: ("max_iters", (self.it, "loss")) for a, b in enumerate(bad) if b})
            if not self.stack.members:
                return
        self.stack.sgd_step()
        self.stack.add_noise()
        if self.bar is not None:
            self.bar.update(1)
        if self.s.evaluates_at(self.it):
            self.evaluation_point()


def train_batched(
    models: Sequence[FCN],
    data: Dataset,
    optimizers: Sequence[torch.optim.Optimizer],
    *,
    generators: Sequence[SeedLike],
    batch_size: int,
    max_iters: int,
    stop_train_acc: float | None = None,
    stop_train_loss: float | None = None,
    eval_every: int = 100,
    eval_batch_size: int | None = 8192,
    progress: bool = False,
    on_divergence: str = "record",
    device: Any = None,
    callback: Callable[[int, nn.Module, dict[str, Any]], Any] | None = None,
) -> list[TrainResult]:
    """Train ``E`` networks of one architecture as one batched model; one result per member.

    Member ``e`` is what :func:`htsgd.train.train` would do with ``models[e]``,
    ``optimizers[e]`` and ``generator=generators[e]`` (the same initial weights, batches and
    noise draws; products by ``bmm``, see the module docstring), with its own stopping rule
    and divergence report. A member that stops leaves the batch.

    Parameters
    ----------
    models : sequence of htsgd.nets.FCN
        ``E >= 1`` distinct networks of the same shape (input, width, depth, classes,
        bias, output scaling), float32. Trained in place: each holds its final weights.
    data : htsgd.data.Dataset
        Shared by every member (cross-entropy when ``data.num_classes > 0``, else mean
        squared error). Inputs are flattened to ``(n, input_dim)``.
    optimizers : sequence of torch.optim.Optimizer
        ``optimizers[e]`` over ``models[e]``'s parameters: ``torch.optim.SGD`` or
        :class:`htsgd.optim.HeavyTailedSGD` (members may differ in lr, alpha, sigma and
        noise type), without momentum or weight decay. Their noise generators advance as
        in a lone run.
    generators : sequence of None, int or torch.Generator
        Each member's batch-order seed (``generator`` of :func:`htsgd.train.train`).
    batch_size, max_iters, stop_train_acc, stop_train_loss, eval_every, eval_batch_size, progress
        As in :func:`htsgd.train.train`, shared by every member.
    on_divergence : {"record", "raise"}
        ``"record"`` (default): a diverged member ends with ``stopped_by = "diverged"``.
        ``"raise"``: after every member finished, :class:`htsgd.train.Diverged` of the
        first diverged member (in member order) is raised.
    device : optional
        Move the networks and the data there first (default: the data's device).
    callback : callable, optional
        ``callback(iteration, model, record)`` after each member's evaluation (``model``
        is that member's network, holding its current weights).

    Returns
    -------
    list of htsgd.train.TrainResult
        One per member, in order; ``seconds`` is the wall time until the member left the
        batch; ``config`` is the lone run's plus ``"trainer": "batched"``.

    Raises
    ------
    TypeError, ValueError
        Naming the argument: not FCNs, differing architectures, an optimizer that is not
        plain (heavy-tailed) SGD over its own network, a length mismatch, a bad setting.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    models = _check_models(models)
    e = len(models)
    for name, seq in (("optimizers", optimizers), ("generators", generators)):
        if not isinstance(seq, Sequence) or len(seq) != e:
            raise ValueError(f"{name} must be a sequence of {e} entries (one per model), got {seq!r:.80}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an htsgd.data.Dataset, got {type(data).__name__}")
    s = TrainSettings.check(
        classification=data.num_classes > 0, batch_size=batch_size, max_iters=max_iters, eval_every=eval_every,
        eval_batch_size=eval_batch_size, stop_train_acc=stop_train_acc, stop_train_loss=stop_train_loss,
        progress=progress, on_divergence=on_divergence,
    )
    dev = data.device if device is None else resolve_device(device)
    data = data if data.device == dev else data.to(dev)
    for m in models:
        m.to(dev).train()
    members = [_member(i, m, o, dev) for i, (m, o) in enumerate(zip(models, optimizers, strict=True))]
    gens = [torch_generator(g, dev) for g in generators]
    bar = _progress(progress, s.max_iters)
    try:
        run = _BatchedRun(list(members), data, s, gens, dev, bar, callback)
        _run(run)
    finally:
        if bar is not None:
            bar.close()
    config = {**_config(s, data), "trainer": "batched"}
    return _results(members, config, s.on_divergence)


def _run(run: _BatchedRun) -> None:
    """The evaluation at step 0, then steps until every member has left the batch."""
    rows = run._recorder().record(0)
    finite = finite_members(run.stack.params, len(run.stack.members)).tolist()
    run.retire({
        a: ("max_iters", (0, "weights")) if not (ok and row_is_finite(row)) else ("threshold", None)
        for a, (row, ok) in enumerate(zip(rows, finite, strict=True))
        if not (ok and row_is_finite(row)) or run.stop(row)
    })
    while run.stack.members and run.it < run.s.max_iters:
        run.step()
    if run.stack.members:  # max_iters = 0, or every remaining member at the cap
        firsts = run.watch.first_bad()
        run.retire({a: ("max_iters", None if f is None else (f, "loss")) for a, f in enumerate(firsts)})


def _results(members: list[_Member], config: dict[str, Any], on_divergence: str) -> list[TrainResult]:
    """Every member's result, or the first diverged member's ``Diverged`` (``on_divergence="raise"``)."""
    out = [_result(m.history, m.iterations, m.stopped_by, m.diverged, m.seconds, config, "record") for m in members]
    if on_divergence == "raise":
        for m in members:
            _result(m.history, m.iterations, m.stopped_by, m.diverged, m.seconds, config, "raise")
    return out
