"""The stages of a training loop: checked settings, batches, a divergence watch, a recorder, a stop rule.

Package-internal. :func:`htsgd.train.train` is these pieces in sequence (torchsde's ``sdeint``
shape: check the arguments, then run small named stages); a trainer of ``E`` networks at once
(an *ensemble*: ``E`` members that differ in their seed or hyperparameters, whose parameters
carry a leading member axis) builds on the same pieces, so each piece takes that member axis:

* :class:`EpochBatches` draws one batch index per member, ``(E, b)``, each member from its
  own generator (reshuffled epochs, the incomplete last batch dropped).
* :class:`DivergenceWatch` watches a loss of shape ``(E,)`` (or a scalar for ``E = 1``) and
  remembers each member's first non-finite iteration: on the CPU it reads the loss at once
  (free); on a GPU it keeps the record on the device and is read only at evaluation points,
  so the step never waits for the host.
* :func:`finite_members` tells which members' weights are all finite.
* :class:`Recorder` evaluates each member (``evaluators``, one per member), appends one row
  per member to that member's :class:`htsgd.train.History`, updates the progress bar (member
  0) and calls a hook.
* :class:`StopRule` decides on one member's evaluation row; an ensemble applies it to each
  row and retires the members for which it fires.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``), with :func:`htsgd.train.train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._checks import check_bool, check_choice, check_int, check_real

__all__ = ["TrainSettings", "EpochBatches", "DivergenceWatch", "finite_members", "Recorder", "StopRule"]


@dataclass(frozen=True)
class TrainSettings:
    """The loop's settings, checked (see :func:`htsgd.train.train` for their meaning)."""

    batch_size: int
    max_iters: int
    eval_every: int
    eval_batch_size: int | None
    stop_train_acc: float | None
    stop_train_loss: float | None
    on_divergence: str

    @classmethod
    def check(cls, *, classification: bool, batch_size: Any, max_iters: Any, eval_every: Any, eval_batch_size: Any,
              stop_train_acc: Any, stop_train_loss: Any, progress: Any, on_divergence: Any) -> TrainSettings:
        """Validate every setting (ValueError or TypeError naming the argument), normalised to int/float."""
        batch_size = check_int("batch_size", batch_size, low=1)
        max_iters = check_int("max_iters", max_iters, low=0)
        eval_every = check_int("eval_every", eval_every, low=1)
        if eval_batch_size is not None:
            eval_batch_size = check_int("eval_batch_size", eval_batch_size, low=1)
        if stop_train_acc is not None:
            stop_train_acc = check_real("stop_train_acc", stop_train_acc, low=0.0, high=1.0, low_open=True)
            if not classification:
                raise ValueError("stop_train_acc needs a classification dataset; use stop_train_loss for regression")
        if stop_train_loss is not None:
            stop_train_loss = check_real("stop_train_loss", stop_train_loss, low=0.0)
        check_bool("progress", progress)
        return cls(
            batch_size=batch_size,
            max_iters=max_iters,
            eval_every=eval_every,
            eval_batch_size=eval_batch_size,
            stop_train_acc=stop_train_acc,
            stop_train_loss=stop_train_loss,
            on_divergence=check_choice("on_divergence", on_divergence, ("raise", "record")),
        )

    def evaluates_at(self, it: int) -> bool:
        """Whether iteration ``it`` (>= 1) is an evaluation point: every ``eval_every`` steps and the last."""
        return it % self.eval_every == 0 or it == self.max_iters


class EpochBatches:
    """Batch indices by reshuffled epochs, one stream per member.

    Parameters
    ----------
    n : int
        Training set size.
    batch_size : int
        Batch size ``b <= n``.
    generators : sequence of torch.Generator
        One per member (``E = len(generators)``), on ``device``.
    device : torch.device

    Notes
    -----
    :meth:`next` returns a ``(E, b)`` int64 tensor: row ``e`` is member ``e``'s batch, cut
    from its own random permutation; when fewer than ``b`` indices remain, every member
    starts a new permutation (all members have the same ``n`` and ``b``, so they
    reshuffle together). The first permutations are drawn on construction.
    """

    def __init__(self, n: int, batch_size: int, generators: Sequence[torch.Generator], device: torch.device) -> None:
        self.n, self.batch_size, self.device = n, batch_size, device
        self.generators = list(generators)
        self._perms = self._draw()
        self._pos = 0

    def _draw(self) -> torch.Tensor:
        return torch.stack([torch.randperm(self.n, generator=g, device=self.device) for g in self.generators])

    def next(self) -> torch.Tensor:
        """The next batch of every member, ``(E, b)`` (a view of the permutations)."""
        if self._pos + self.batch_size > self.n:
            self._perms = self._draw()
            self._pos = 0
        idx = self._perms[:, self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def keep(self, members: Sequence[int]) -> None:
        """Keep only the members at positions ``members`` (in that order): the others left the batch.

        The kept members' streams and current permutations are untouched, so each one's
        batches stay those it would draw alone.
        """
        self.generators = [self.generators[i] for i in members]
        self._perms = self._perms[list(members)]


class DivergenceWatch:
    """The first iteration at which each member's training loss was non-finite.

    Parameters
    ----------
    device : torch.device
        Where the losses live. On the CPU, :meth:`observe` reads the loss (free) and
        reports a non-finite one at once; elsewhere it only updates a record on the device,
        read by :meth:`first_bad` (one synchronisation) at evaluation points.
    members : int
        ``E``; :meth:`observe` takes a loss of shape ``(E,)``, or a scalar when ``E = 1``.
    """

    def __init__(self, device: torch.device, members: int = 1) -> None:
        self.sync_free = device.type != "cpu"
        self._first = torch.full((members,), -1, dtype=torch.int64, device=device)

    def observe(self, it: int, loss: torch.Tensor) -> bool:
        """Record iteration ``it``'s loss; True when a member's loss is non-finite and it is known now (CPU)."""
        bad = ~torch.isfinite(loss.detach())
        if self.sync_free:
            self._first = torch.where(bad & (self._first < 0), it, self._first)
            return False
        if not bool(bad.any()):  # the CPU reads the loss for free: the common case costs one check
            return False
        self._first = torch.where(bad & (self._first < 0), it, self._first)
        return True

    def keep(self, members: Sequence[int]) -> None:
        """Keep only the members at positions ``members`` (in that order): the others left the batch."""
        self._first = self._first[list(members)]

    def first_bad(self) -> list[int | None]:
        """Each member's first non-finite iteration (None where none), read to the host."""
        return [None if v < 0 else v for v in self._first.tolist()]


def finite_members(params: Sequence[torch.Tensor], members: int | None = None) -> torch.Tensor | bool:
    """Whether every floating weight is finite: one bool, or ``(E,)`` over a leading member axis.

    ``members=None``: the parameters of one network, reduced to one Python bool. ``members=E``:
    every parameter has a leading axis of size ``E`` and the result is a boolean tensor ``(E,)``.
    """
    floats = [p for p in params if p.is_floating_point()]
    if members is None:
        return bool(torch.stack([torch.isfinite(p).all() for p in floats]).all()) if floats else True
    flags = [torch.isfinite(p).reshape(members, -1).all(dim=1) for p in floats]
    return torch.stack(flags).all(dim=0) if flags else torch.ones(members, dtype=torch.bool)


Evaluator = Callable[[torch.Tensor, torch.Tensor], tuple[float, float | None]]


class Recorder:
    """Evaluate every member on the full training and test sets and append one row per member.

    Parameters
    ----------
    evaluators : sequence of callables
        ``evaluators[e](x, y) -> (loss, accuracy or None)`` for member ``e``.
    data : htsgd.data.Dataset
    histories : sequence of htsgd.train.History
        One per member, appended to in place.
    bar : tqdm bar or None
        Shows member 0's latest row.
    hook : callable, optional
        ``hook(iteration, member, row)`` after each row.
    """

    def __init__(self, evaluators: Sequence[Evaluator], data: Any, histories: Sequence[Any], bar: Any = None,
                 hook: Callable[[int, int, dict[str, Any]], Any] | None = None) -> None:
        self.evaluators, self.data, self.histories, self.bar, self.hook = list(evaluators), data, histories, bar, hook

    def record(self, it: int) -> list[dict[str, Any]]:
        """The rows of iteration ``it``, one per member (already appended to the histories)."""
        rows = []
        for e, evaluate in enumerate(self.evaluators):
            tr_loss, tr_acc = evaluate(self.data.x_train, self.data.y_train)
            te_loss, te_acc = evaluate(self.data.x_test, self.data.y_test)
            row = dict(iteration=it, train_loss=tr_loss, train_acc=tr_acc, test_loss=te_loss, test_acc=te_acc)
            self.histories[e].append(**row)
            if e == 0 and self.bar is not None:
                post = {"loss": f"{tr_loss:.3g}"}
                if tr_acc is not None:
                    post.update(train_acc=f"{tr_acc:.3f}", test_acc=f"{te_acc:.3f}")
                self.bar.set_postfix(post, refresh=False)
            if self.hook is not None:
                self.hook(it, e, row)
            rows.append(row)
        return rows


@dataclass(frozen=True)
class StopRule:
    """The paper's stopping rule on one member's evaluation row.

    Fires when the training accuracy reaches ``train_acc`` or the training loss falls to
    ``train_loss`` (either may be None: not used).
    """

    train_acc: float | None = None
    train_loss: float | None = None

    def __call__(self, row: dict[str, Any]) -> bool:
        if self.train_acc is not None and row["train_acc"] >= self.train_acc:
            return True
        return self.train_loss is not None and row["train_loss"] <= self.train_loss


def row_is_finite(row: dict[str, Any]) -> bool:
    """Whether an evaluation row's training loss is finite (a non-finite one is a divergence)."""
    return math.isfinite(row["train_loss"])


def model_evaluator(model: nn.Module, batch_size: int | None, evaluate: Callable[..., Any]) -> Evaluator:
    """The evaluator of one network: ``evaluate(model, x, y, batch_size)``."""
    return lambda x, y: evaluate(model, x, y, batch_size)
