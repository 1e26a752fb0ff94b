"""A frozen copy of ``htsgd.train.train`` as it was before the loop was cut into stages (issue 19, point 4).

tests/test_train_stages.py runs it beside the staged ``train`` on the same seeds and asserts bitwise
equal weights, histories, iteration counts and divergence reports: the refactor must change no number.
Both run in the same process on the same machine, so the comparison is exact wherever it runs. Do not
edit this file to follow later changes of ``train``: a deliberate change of the loop's numbers retires
the equivalence test together with this file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from htsgd._checks import check_bool, check_choice, check_int, check_real
from htsgd._random import SeedLike, resolve_device, torch_generator
from htsgd.data import Dataset
from htsgd.train import Diverged, History, TrainResult, evaluate


def _task_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point():
        return F.mse_loss(out.reshape(y.shape), y)
    return F.cross_entropy(out, y)



def _all_finite(model: nn.Module) -> bool:
    flags = [torch.isfinite(p).all() for p in model.parameters() if p.is_floating_point()]
    return bool(torch.stack(flags).all()) if flags else True


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # notebook widget in Jupyter, text bar in a terminal

    return tqdm(total=total, unit="it", leave=False, dynamic_ncols=True)


def train_before_stages(
    model: nn.Module,
    data: Dataset,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    max_iters: int,
    stop_train_acc: float | None = None,
    stop_train_loss: float | None = None,
    eval_every: int = 100,
    eval_batch_size: int | None = 8192,
    generator: SeedLike = None,
    progress: bool = True,
    on_divergence: str = "raise",
    device: Any = None,
    callback: Callable[[int, nn.Module, dict[str, Any]], Any] | None = None,
) -> TrainResult:
    """The loop of htsgd.train.train before it was cut into stages (frozen; see the module docstring)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an htsgd.data.Dataset, got {type(data).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    batch_size = check_int("batch_size", batch_size, low=1)
    max_iters = check_int("max_iters", max_iters, low=0)
    eval_every = check_int("eval_every", eval_every, low=1)
    if eval_batch_size is not None:
        eval_batch_size = check_int("eval_batch_size", eval_batch_size, low=1)
    if stop_train_acc is not None:
        stop_train_acc = check_real("stop_train_acc", stop_train_acc, low=0.0, high=1.0, low_open=True)
        if data.num_classes == 0:
            raise ValueError("stop_train_acc needs a classification dataset; use stop_train_loss for regression")
    if stop_train_loss is not None:
        stop_train_loss = check_real("stop_train_loss", stop_train_loss, low=0.0)
    check_bool("progress", progress)
    check_choice("on_divergence", on_divergence, ("raise", "record"))

    dev = data.device if device is None else resolve_device(device)
    if data.device != dev:
        data = data.to(dev)
    model.to(dev)
    gen = torch_generator(generator, dev)
    n = data.n_train
    bs = min(batch_size, n)
    x, y = data.x_train, data.y_train
    # On a GPU, never wait for the host inside the step: track the first bad step on the device.
    sync_free = dev.type != "cpu"
    first_bad = torch.full((), -1, dtype=torch.int64, device=dev) if sync_free else None

    history = History()
    config = {
        "batch_size": bs,
        "max_iters": max_iters,
        "eval_every": eval_every,
        "stop_train_acc": stop_train_acc,
        "stop_train_loss": stop_train_loss,
        "batch_order": "reshuffled epochs, last incomplete batch dropped",
        "dataset": data.name,
    }
    bar = _progress(progress, max_iters)

    def record(it: int) -> dict[str, Any]:
        tr_loss, tr_acc = evaluate(model, x, y, eval_batch_size)
        te_loss, te_acc = evaluate(model, data.x_test, data.y_test, eval_batch_size)
        row = dict(iteration=it, train_loss=tr_loss, train_acc=tr_acc, test_loss=te_loss, test_acc=te_acc)
        history.append(**row)
        if bar is not None:
            post = {"loss": f"{tr_loss:.3g}"}
            if tr_acc is not None:
                post.update(train_acc=f"{tr_acc:.3f}", test_acc=f"{te_acc:.3f}")
            bar.set_postfix(post, refresh=False)
        if callback is not None:
            callback(it, model, row)
        return row

    def stop_rule(row: dict[str, Any]) -> bool:
        if stop_train_acc is not None and row["train_acc"] >= stop_train_acc:
            return True
        return stop_train_loss is not None and row["train_loss"] <= stop_train_loss

    stopped_by = "max_iters"
    diverged_at: int | None = None
    diverged_what = "loss"
    start = time.perf_counter()
    perm = torch.randperm(n, generator=gen, device=dev)
    pos = 0
    it = 0
    model.train()
    try:
        row = record(0)
        if not _all_finite(model) or not math.isfinite(row["train_loss"]):
            diverged_at, diverged_what = 0, "weights"
        elif stop_rule(row):
            stopped_by = "threshold"
        while diverged_at is None and stopped_by == "max_iters" and it < max_iters:
            if pos + bs > n:
                perm = torch.randperm(n, generator=gen, device=dev)
                pos = 0
            idx = perm[pos : pos + bs]
            pos += bs
            optimizer.zero_grad(set_to_none=True)
            loss = _task_loss(model(x[idx]), y[idx])
            loss.backward()
            it += 1
            if sync_free:
                bad = ~torch.isfinite(loss.detach())
                first_bad = torch.where(bad & (first_bad < 0), it, first_bad)
            elif not math.isfinite(loss.item()):
                diverged_at = it
                break
            optimizer.step()
            if bar is not None:
                bar.update(1)
            if it % eval_every == 0 or it == max_iters:
                if sync_free and int(first_bad) >= 0:
                    diverged_at = int(first_bad)
                    break
                if not _all_finite(model):
                    diverged_at, diverged_what = it, "weights"
                    break
                row = record(it)
                if not math.isfinite(row["train_loss"]):
                    diverged_at = it
                    break
                if stop_rule(row):
                    stopped_by = "threshold"
        if sync_free and diverged_at is None and int(first_bad) >= 0:
            diverged_at = int(first_bad)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    if diverged_at is not None:
        if on_divergence == "raise":
            raise Diverged(diverged_at, diverged_what)
        stopped_by = "diverged"
    return TrainResult(history, it, stopped_by, diverged_at, seconds, config)
