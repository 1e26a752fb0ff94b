"""Training loop with the paper's stopping rule, evaluation history and divergence detection.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``).

The authors train until the training accuracy reaches a threshold (95% on MNIST),
evaluating on the whole training and test sets every 100 iterations, with a cap
on the number of iterations. :func:`train` does the same on a :class:`htsgd.data.Dataset`
whose tensors live on the device: a batch is an index into them, no ``DataLoader``.

Batches are drawn by *reshuffled epochs*: a random permutation of the training set
(from ``generator``) is cut into batches of ``batch_size``; the incomplete last
batch is dropped and a new permutation starts. With ``batch_size >= n_train``
every step is full-batch.

Divergence. Heavy-tailed noise can throw the weights far enough for the loss to
overflow. The loss of every step is checked for finiteness: on the CPU with a
plain check (free), on a GPU with a device-side record of the first bad
iteration, read only at evaluation points so the step never waits for the host.
Weights are checked at evaluation points. A non-finite value raises
:class:`Diverged` (``on_divergence="raise"``) or ends the run with
``stopped_by = "diverged"`` (``"record"``).

Stages. :func:`train` checks its arguments, then runs small named pieces in sequence
(the shape of torchsde's ``sdeint``): batches (``EpochBatches``), a divergence watch per
device (``DivergenceWatch``), a recorder of evaluations (``Recorder``) and a stop rule
(``StopRule``). They live in the package-internal module ``htsgd._train_stages`` and take
a member axis, so a trainer of several networks at once builds on them.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_int
from ._io import atomic_write_bytes, atomic_write_json, read_regular, remove_stale_temporaries
from ._random import SeedLike, resolve_device, torch_generator
from ._train_stages import (
    DivergenceWatch,
    EpochBatches,
    Recorder,
    StopRule,
    TrainSettings,
    finite_members,
    model_evaluator,
    row_is_finite,
)
from .data import Dataset

__all__ = [
    "train",
    "evaluate",
    "Diverged",
    "History",
    "TrainResult",
    "save_result",
    "load_result",
]

_COLUMNS = ("iteration", "train_loss", "train_acc", "test_loss", "test_acc")


class Diverged(RuntimeError):
    """Training produced a non-finite loss or weight.

    Attributes
    ----------
    iteration : int
        The first iteration found non-finite (for weights: the evaluation point
        where they were found non-finite).
    what : str
        ``"loss"`` or ``"weights"``.

    Introduced in the chapter *Heavy-tailed SGD*.
    """

    def __init__(self, iteration: int, what: str = "loss") -> None:
        self.iteration = int(iteration)
        self.what = what
        super().__init__(f"training diverged: non-finite {what} at iteration {self.iteration}")


@dataclass
class History:
    """Evaluation records, one column per metric (lists of equal length).

    ``train_acc`` / ``test_acc`` are ``None`` for regression.

    Introduced in the chapter *Heavy-tailed SGD*.
    """

    iteration: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float | None] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float | None] = field(default_factory=list)

    def append(self, **row: Any) -> None:
        for c in _COLUMNS:
            getattr(self, c).append(row[c])

    def __len__(self) -> int:
        return len(self.iteration)

    def last(self) -> dict[str, Any]:
        """The most recent record as a dict (empty if none)."""
        return {c: getattr(self, c)[-1] for c in _COLUMNS} if len(self) else {}

    def to_dict(self) -> dict[str, list[Any]]:
        return {c: list(getattr(self, c)) for c in _COLUMNS}

    @classmethod
    def from_dict(cls, d: dict[str, list[Any]]) -> History:
        return cls(**{c: list(d.get(c, [])) for c in _COLUMNS})


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    history : History
    iterations : int
        SGD steps taken.
    stopped_by : {"threshold", "max_iters", "diverged"}
    diverged_at : int or None
    seconds : float
        Wall time of the loop, evaluations included.
    config : dict
        The loop's settings (batch size, caps, seed), for the record.
    state_dict, optimizer_state : dict or None
        Filled by :func:`load_result` (never serialised into the JSON).

    Introduced in the chapter *Heavy-tailed SGD*.
    """

    history: History
    iterations: int
    stopped_by: str
    diverged_at: int | None
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    state_dict: dict[str, Any] | None = field(default=None, repr=False)
    optimizer_state: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def final(self) -> dict[str, Any]:
        """The last evaluation record."""
        return self.history.last()

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": self.history.to_dict(),
            "iterations": self.iterations,
            "stopped_by": self.stopped_by,
            "diverged_at": self.diverged_at,
            "seconds": self.seconds,
            "config": dict(self.config),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainResult:
        return cls(
            history=History.from_dict(d["history"]),
            iterations=int(d["iterations"]),
            stopped_by=str(d["stopped_by"]),
            diverged_at=None if d.get("diverged_at") is None else int(d["diverged_at"]),
            seconds=float(d["seconds"]),
            config=dict(d.get("config", {})),
        )


def _task_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point():
        return F.mse_loss(out.reshape(y.shape), y)
    return F.cross_entropy(out, y)


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int | None = None
) -> tuple[float, float | None]:
    """Mean loss and accuracy of ``model`` on ``(x, y)``, in eval mode, without gradients.

    Cross-entropy and accuracy when ``y`` holds integer labels; mean squared error
    and ``None`` for floating targets. ``batch_size`` chunks large sets (``None``:
    one pass). The model's train/eval mode is restored. Introduced in the chapter
    *Heavy-tailed SGD*.
    """
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(f"x and y must hold the same positive number of rows, got {n} and {int(y.shape[0])}")
    bs = n if batch_size is None else check_int("batch_size", batch_size, low=1)
    was_training = model.training
    model.eval()
    try:
        total = torch.zeros((), dtype=torch.float64, device=x.device)
        correct = torch.zeros((), dtype=torch.int64, device=x.device)
        classify = not y.is_floating_point()
        for i in range(0, n, bs):
            xb, yb = x[i : i + bs], y[i : i + bs]
            out = model(xb)
            if classify:
                total += F.cross_entropy(out, yb, reduction="sum").double()
                correct += (out.argmax(dim=1) == yb).sum()
            else:
                # Mean over every target entry, as F.mse_loss does.
                total += F.mse_loss(out.reshape(yb.shape), yb, reduction="sum").double() / max(
                    1, yb[0].numel()
                )
    finally:
        model.train(was_training)
    loss = float(total) / n
    return loss, (float(correct) / n if classify else None)


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # notebook widget in Jupyter, text bar in a terminal

    return tqdm(total=total, unit="it", leave=False, dynamic_ncols=True)


def train(
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
    """Train ``model`` with ``optimizer`` by minibatch SGD until a stopping rule fires.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of inputs to logits ``(b, num_classes)`` or regression outputs.
    data : htsgd.data.Dataset
        Cross-entropy when ``data.num_classes > 0``, mean squared error otherwise.
    optimizer : torch.optim.Optimizer
        Built on ``model``'s parameters (e.g. :class:`htsgd.optim.HeavyTailedSGD`).
    batch_size : int
        Minibatch size (capped at ``n_train``); batches by reshuffled epochs.
    max_iters : int
        Cap on SGD steps.
    stop_train_acc : float, optional
        The paper's rule: stop at the first evaluation with training accuracy
        ``>= stop_train_acc`` (in (0, 1]).
    stop_train_loss : float, optional
        Stop at the first evaluation with training loss ``<= stop_train_loss``
        (useful for regression).
    eval_every : int
        Evaluate on the full training and test sets every ``eval_every`` steps (and
        at step 0 and at the end).
    eval_batch_size : int or None
        Chunk size of the evaluations.
    generator : None, int or torch.Generator
        Seed of the batch order (on the data's device). The optimizer's noise has
        its own generator.
    progress : bool
        A tqdm bar (``tqdm.auto``: terminal or notebook).
    on_divergence : {"raise", "record"}
        On a non-finite loss or weight: raise :class:`Diverged`, or stop and
        return with ``stopped_by = "diverged"`` and ``diverged_at`` set.
    device : optional
        Move the model and the data there first (default: the data's device).
    callback : callable, optional
        Called as ``callback(iteration, model, record)`` after every evaluation.

    Returns
    -------
    TrainResult

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    _check_objects(model, data, optimizer)
    s = TrainSettings.check(
        classification=data.num_classes > 0, batch_size=batch_size, max_iters=max_iters, eval_every=eval_every,
        eval_batch_size=eval_batch_size, stop_train_acc=stop_train_acc, stop_train_loss=stop_train_loss,
        progress=progress, on_divergence=on_divergence,
    )
    data, dev = _on_device(model, data, device)
    x, y = data.x_train, data.y_train
    watch = DivergenceWatch(dev)  # one member
    history, bar = History(), _progress(progress, s.max_iters)
    hook = None if callback is None else (lambda it, _member, row: callback(it, model, row))
    recorder = Recorder([model_evaluator(model, s.eval_batch_size, evaluate)], data, [history], bar, hook)
    stop = StopRule(s.stop_train_acc, s.stop_train_loss)
    stopped_by, diverged, it = "max_iters", None, 0
    start = time.perf_counter()
    batches = EpochBatches(data.n_train, min(s.batch_size, data.n_train), [torch_generator(generator, dev)], dev)
    model.train()
    try:
        row = recorder.record(0)[0]
        if not finite_members(list(model.parameters())) or not row_is_finite(row):
            diverged = (0, "weights")
        elif stop(row):
            stopped_by = "threshold"
        while diverged is None and stopped_by == "max_iters" and it < s.max_iters:
            idx = batches.next()[0]
            optimizer.zero_grad(set_to_none=True)
            loss = _task_loss(model(x[idx]), y[idx])
            loss.backward()
            it += 1
            if watch.observe(it, loss):
                diverged = (it, "loss")
                break
            optimizer.step()
            if bar is not None:
                bar.update(1)
            if s.evaluates_at(it):
                diverged, stopped = _evaluation_point(it, model, watch, recorder, stop)
                stopped_by = "threshold" if stopped else stopped_by
        if diverged is None and (first := watch.first_bad()[0]) is not None:
            diverged = (first, "loss")
    finally:
        if bar is not None:
            bar.close()
    return _result(history, it, stopped_by, diverged, time.perf_counter() - start, _config(s, data), s.on_divergence)


def _check_objects(model: Any, data: Any, optimizer: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an htsgd.data.Dataset, got {type(data).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")


def _on_device(model: nn.Module, data: Dataset, device: Any) -> tuple[Dataset, torch.device]:
    """Move the model and the data to ``device`` (default: the data's)."""
    dev = data.device if device is None else resolve_device(device)
    if data.device != dev:
        data = data.to(dev)
    model.to(dev)
    return data, dev


def _evaluation_point(
    it: int, model: nn.Module, watch: DivergenceWatch, recorder: Recorder, stop: StopRule
) -> tuple[tuple[int, str] | None, bool]:
    """At an evaluation point: ``(divergence or None, whether the stop rule fired)``.

    In this order: a non-finite loss seen on the device since the last point, non-finite
    weights, then the evaluation itself (a non-finite training loss is a divergence).
    """
    first = watch.first_bad()[0] if watch.sync_free else None
    if first is not None:
        return (first, "loss"), False
    if not finite_members(list(model.parameters())):
        return (it, "weights"), False
    row = recorder.record(it)[0]
    if not row_is_finite(row):
        return (it, "loss"), False
    return None, stop(row)


def _config(s: TrainSettings, data: Dataset) -> dict[str, Any]:
    """The loop's settings, for the record."""
    return {
        "batch_size": min(s.batch_size, data.n_train),
        "max_iters": s.max_iters,
        "eval_every": s.eval_every,
        "stop_train_acc": s.stop_train_acc,
        "stop_train_loss": s.stop_train_loss,
        "batch_order": "reshuffled epochs, last incomplete batch dropped",
        "dataset": data.name,
    }


def _result(
    history: History, it: int, stopped_by: str, diverged: tuple[int, str] | None, seconds: float,
    config: dict[str, Any], on_divergence: str,
) -> TrainResult:
    """The run's :class:`TrainResult`, or :class:`Diverged` raised (``on_divergence="raise"``)."""
    if diverged is None:
        return TrainResult(history, it, stopped_by, None, seconds, config)
    if on_divergence == "raise":
        raise Diverged(*diverged)
    return TrainResult(history, it, "diverged", diverged[0], seconds, config)


# ------------------------------------------------------------------------------------------------
# Results on disk: JSON + state_dict, written atomically
# ------------------------------------------------------------------------------------------------
def _weights_path(path: Path) -> Path:
    return path.with_suffix(".pt")


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


#: Version of the JSON layout written by :func:`save_result`. 2: the JSON names the
#: SHA-256 of its weights file, so a JSON and a ``.pt`` from different saves are caught.
RESULT_FORMAT = 2

# A saved result's JSON is a history of a few columns: far below this.
_MAX_RESULT_JSON_BYTES = 256 * 2**20


def save_result(
    path: str | os.PathLike,
    result: TrainResult,
    model: nn.Module | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Save ``result`` as JSON at ``path`` and the weights beside it (same name, ``.pt``).

    The ``.pt`` file holds ``{"model": state_dict, "optimizer": state_dict}`` (the
    optimizer's only if given; :class:`htsgd.optim.HeavyTailedSGD`'s includes its
    noise generators, so a run can resume exactly). Both writes are atomic: the
    weights first, then the JSON, which records the weights' SHA-256. A process
    killed between the two leaves the old JSON beside the new weights;
    :func:`load_result` then refuses the pair instead of returning the old history
    with the new weights. Non-finite numbers are written as ``null``. Returns the
    JSON path. Introduced in the chapter *Heavy-tailed SGD*.
    """
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"path must end in .json, got {str(path)!r}")
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    payload: dict[str, Any] = {}
    if model is not None:
        payload["model"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    record = {"format": RESULT_FORMAT, **_json_safe(result.to_dict()), "weights": None}
    if path.parent.is_dir():
        # Temporary files of saves killed before their rename (as the sweep cache does).
        remove_stale_temporaries(path.parent)
    if payload:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getvalue()
        atomic_write_bytes(_weights_path(path), data)
        record["weights"] = {
            "file": _weights_path(path).name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    atomic_write_json(path, record)
    if not payload:
        # Weights of an earlier save under this name belong to no result any more.
        _weights_path(path).unlink(missing_ok=True)
    return path


_RESULT_TYPES: dict[str, Any] = {
    "history": dict,
    "iterations": int,
    "stopped_by": str,
    "seconds": (int, float),
}


def _check_record(path: Path, record: Any) -> None:
    """Raise ValueError naming the file and the key when ``record`` is not a saved result."""
    if not isinstance(record, dict):
        raise ValueError(f"{path} is not a saved training result: a {type(record).__name__}, not a table")
    if record.get("format") != RESULT_FORMAT:
        raise ValueError(
            f"{path} is not a saved training result of format {RESULT_FORMAT} "
            f"(format {record.get('format')!r}); save it again with htsgd.train.save_result"
        )
    for key, kind in {**_RESULT_TYPES, "weights": (dict, type(None))}.items():
        if key not in record:
            raise ValueError(f"{path} is not a saved training result: the key {key!r} is missing")
        if not isinstance(record[key], kind) or isinstance(record[key], bool):
            raise ValueError(
                f"{path}: {key!r} has the wrong type ({type(record[key]).__name__})"
            )
    history = record["history"]
    lengths = {c: len(history[c]) for c in _COLUMNS if isinstance(history.get(c), list)}
    if set(lengths) != set(_COLUMNS) or len(set(lengths.values())) != 1:
        raise ValueError(
            f"{path}: history must have the lists {', '.join(_COLUMNS)} of one length, got {lengths}"
        )
    weights = record["weights"]
    if weights is not None and not (
        isinstance(weights.get("file"), str) and isinstance(weights.get("sha256"), str)
    ):
        raise ValueError(f"{path}: 'weights' must name a file and its sha256, got {weights!r}")


def _describe_keys(payload: Any) -> str:
    return f"with keys {sorted(map(str, payload))}" if isinstance(payload, dict) else ""


def load_result(path: str | os.PathLike, *, map_location: Any = "cpu") -> TrainResult:
    """Load what :func:`save_result` wrote: the JSON, and its weights with ``weights_only=True``.

    The returned result has ``state_dict`` (the model's) and ``optimizer_state`` set
    when they were saved. Introduced in the chapter *Heavy-tailed SGD*.

    Raises
    ------
    FileNotFoundError
        If ``path``, or the weights file the JSON names, does not exist.
    ValueError
        If the JSON is not a saved result (wrong format, a missing key or a wrong
        type: the message names the file and the key), or the weights file on disk
        is not the one saved with this JSON (a save was interrupted between its two
        writes, or the files were mixed up), or holds something other than the dict of
        state dicts :func:`save_result` writes; also if either file is not a regular
        file (a folder, a FIFO, a device) or is larger than expected.
    """
    path = Path(path)
    text = read_regular(path, limit=_MAX_RESULT_JSON_BYTES, what="saved result")
    try:
        record = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a saved training result: not JSON ({err})") from err
    _check_record(path, record)
    result = TrainResult.from_dict(record)
    weights = record["weights"]
    if weights is None:
        return result
    wp = path.with_name(weights["file"])
    if wp.name != weights["file"] or wp.parent != path.parent:
        raise ValueError(f"{path}: the weights file name {weights['file']!r} is not a plain name")
    if not wp.exists():
        raise FileNotFoundError(f"{path} names the weights file {wp}, which does not exist")
    size = weights.get("bytes")
    limit = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 2**40
    data = read_regular(wp, limit=limit, what="weights file")
    if hashlib.sha256(data).hexdigest() != weights["sha256"]:
        raise ValueError(
            f"{wp} is not the weights file saved with {path} (SHA-256 differs): a save was "
            "interrupted between its two writes, or the files were mixed up"
        )
    payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or not set(payload) <= {"model", "optimizer"}:
        raise ValueError(
            f"{wp} is not a weights file of save_result: it holds "
            f"{type(payload).__name__} {_describe_keys(payload)}, not a dict with 'model' and 'optimizer'"
        )
    for key in ("model", "optimizer"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            raise ValueError(f"{wp}: {key!r} must be a state dict, got {type(payload[key]).__name__}")
    result.state_dict = payload.get("model")
    result.optimizer_state = payload.get("optimizer")
    return result
