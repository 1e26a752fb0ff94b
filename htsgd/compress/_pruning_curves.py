"""Pruning curves, the robust-compressibility metric :func:`prunable_at`, and what the norms rank.

Private: the public names are re-exported by :mod:`htsgd.compress`. Torch's convention: one
neuron per *row* of a hidden layer's weight. Introduced in the chapter *Compressibility
experiments* (``book/experiments.md``).

A *pruning curve* is the test accuracy of a trained network after pruning the fraction ``p``
of the neurons of every hidden layer, for ``p`` on a grid, in several orders: smallest norm
first (the paper's order), largest norm first, at random (the control), or by any score the
caller supplies (the noise-free norm, say). :func:`prunable_at` reads off a curve the largest
fraction that costs at most ``drop`` of test accuracy. :func:`noise_ranking` asks what a
trained network's neuron norms rank: the noise the optimizer injected, or the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from .._checks import check_choice, check_int, check_real, real_array
from .._random import SeedLike, torch_generator
from ._curves import count_of_fraction, neuron_norms
from ._pruning import ORDERS, hidden_layers, layer_scores, neuron_order

#: The default grid of pruned fractions: 0, 0.05, ..., 0.95 (20 points).
DEFAULT_FRACTIONS = tuple(round(0.05 * i, 2) for i in range(20))

# The first hidden layer's output is computed once and reused by every pruning of a curve
# when it takes at most this many bytes (a fully connected net on digits: megabytes).
_CACHE_BYTES = 2**28


# --------------------------------------------------------------------------------------
# the curve
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PruningCurve:
    """Test accuracy of one trained network after pruning a fraction of its hidden neurons, per rule.

    Attributes
    ----------
    fractions : numpy.ndarray, shape (P,)
        The grid, increasing, ``fractions[0] == 0``: at ``p`` every hidden layer of ``n``
        neurons loses ``floor(p * n)`` of them (:func:`count_of_fraction`).
    accuracy : dict of str to numpy.ndarray of shape (P,)
        Test accuracy per rule: ``"norm"`` (smallest norm first, the paper's order),
        ``"largest"`` (largest norm first), ``"random"`` (the **mean** over the random
        draws) and one entry per caller-supplied score (smallest score first).
    random_draws : numpy.ndarray, shape (R, P)
        The accuracy of each random draw (``R = 0`` without the ``"random"`` rule).
    pruned : numpy.ndarray of int64, shape (P, L)
        Neurons pruned in each of the ``L`` hidden layers at each fraction (every rule
        prunes as many).
    layers : tuple of str
        The hidden layers' names (:func:`hidden_layers`).
    neurons : tuple of int
        Their neuron counts.

    Notes
    -----
    :meth:`frame` gives the tidy table (one row per fraction and rule). Introduced in the
    chapter *Compressibility experiments*.
    """

    fractions: np.ndarray
    accuracy: dict[str, np.ndarray]
    random_draws: np.ndarray
    pruned: np.ndarray
    layers: tuple[str, ...]
    neurons: tuple[int, ...]

    @property
    def unpruned_acc(self) -> float:
        """The test accuracy of the unpruned network (every rule's value at fraction 0)."""
        return float(next(iter(self.accuracy.values()))[0])

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules measured, in the order of :attr:`accuracy`."""
        return tuple(self.accuracy)

    def frame(self) -> Any:
        """The tidy ``pandas.DataFrame``: columns ``fraction``, ``rule``, ``accuracy``, one row per pair.

        The ``"random"`` rows hold the mean over draws; :attr:`random_draws` has each draw.
        """
        import pandas as pd

        rows = [
            {"fraction": float(p), "rule": rule, "accuracy": float(a)}
            for rule, acc in self.accuracy.items()
            for p, a in zip(self.fractions, acc, strict=True)
        ]
        return pd.DataFrame(rows, columns=["fraction", "rule", "accuracy"])

    def prunable_at(self, drop: float = 0.01, rule: str = "norm") -> float:
        """:func:`prunable_at` of this curve's ``rule``."""
        return prunable_at(self, drop, rule=rule)


def _check_fractions(fractions: Any, name: str = "fractions") -> np.ndarray:
    fr = real_array(name, fractions)
    if fr.ndim != 1 or fr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence of fractions, got shape {fr.shape}")
    if not np.isfinite(fr).all():
        raise ValueError(f"{name} must be finite; it has {int((~np.isfinite(fr)).sum())} non-finite entries")
    if fr[0] != 0.0 or fr[-1] > 1.0 or (fr.size > 1 and not (np.diff(fr) > 0).all()):
        raise ValueError(
            f"{name} must increase strictly from 0 (the unpruned network) to at most 1, got {fr.tolist()}"
        )
    return fr


def _check_scores(scores: Any, neurons: Sequence[int]) -> dict[str, list[torch.Tensor]]:
    """``scores`` as float64 CPU tensors, one per hidden layer, checked against the layers' sizes."""
    if scores is None:
        return {}
    if not isinstance(scores, Mapping):
        raise TypeError("scores must map a rule name to one score vector per hidden layer")
    out: dict[str, list[torch.Tensor]] = {}
    for name, per_layer in scores.items():
        if not isinstance(name, str) or name in ORDERS:
            raise ValueError(f"a score's name must be a str other than {ORDERS}, got {name!r}")
        out[name] = layer_scores(f"scores[{name!r}]", per_layer, neurons)
    return out


class _MaskedEval:
    """The accuracy of ``model`` with chosen hidden neurons silenced, evaluated many times.

    A forward hook zeroes the pruned neurons' outputs of each hidden layer: what
    :func:`prune_neurons` computes, whose zeroed rows (and biases) output exactly 0.
    When every hidden layer runs once per forward pass, the output of the first one to run
    does not depend on any mask: it is computed once per chunk and reused (if it fits
    ``_CACHE_BYTES``), so a curve of a one-hidden-layer network costs one full pass.
    """

    def __init__(self, model: nn.Module, layers: list[nn.Module], x: torch.Tensor, y: torch.Tensor,
                 batch_size: int) -> None:
        self.model, self.layers, self.n = model, layers, int(y.shape[0])
        self.chunks = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, self.n, batch_size)]
        self.keep: list[torch.Tensor | None] = [None] * len(layers)
        self.cache: list[torch.Tensor] | None = None
        self.cached_layer: int | None = None
        self.chunk = 0

    def _hook(self, i: int) -> Any:
        def hook(_module: nn.Module, _inputs: Any, out: torch.Tensor) -> torch.Tensor | None:
            keep = self.keep[i]
            if keep is None:
                return None
            return out.masked_fill(~keep.view(1, -1, *([1] * (out.dim() - 2))), 0)

        return hook

    @contextmanager
    def attached(self) -> Iterator[None]:
        """Hooks on, the model in eval mode and without gradients; all undone on exit."""
        handles = [layer.register_forward_hook(self._hook(i)) for i, layer in enumerate(self.layers)]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)

    def unpruned(self) -> float:
        """The unpruned accuracy; fills the cache of the first hidden layer to run, where possible."""
        calls: list[int] = []
        outputs: list[torch.Tensor] = []
        ids = {id(layer): i for i, layer in enumerate(self.layers)}

        def record(module: nn.Module, _inputs: Any, out: torch.Tensor) -> None:
            calls.append(ids[id(module)])
            if len(calls) == 1 or calls[-1] == calls[0]:
                outputs.append(out)

        handles = [layer.register_forward_hook(record) for layer in self.layers]
        try:
            acc = self.accuracy([None] * len(self.layers))
        finally:
            for h in handles:
                h.remove()
        once = sorted(calls) == sorted(list(range(len(self.layers))) * len(self.chunks))
        if once and calls and sum(o.numel() * o.element_size() for o in outputs) <= _CACHE_BYTES:
            self.cache, self.cached_layer = outputs, calls[0]
        return acc

    def _forward(self, xb: torch.Tensor) -> torch.Tensor:
        if self.cache is None or self.cached_layer is None:
            return self.model(xb)
        layer = self.layers[self.cached_layer]
        value = self.cache[self.chunk]
        # The cached layer returns its stored output instead of recomputing it; its hook still masks it.
        layer.forward = lambda *_args, **_kwargs: value
        try:
            return self.model(xb)
        finally:
            del layer.forward

    def accuracy(self, keep: list[torch.Tensor | None]) -> float:
        """Test accuracy with ``keep[l]`` (bool, ``(n_l,)``, ``True`` = kept; None = all) per layer."""
        self.keep = keep
        correct = 0
        for chunk, (xb, yb) in enumerate(self.chunks):
            self.chunk = chunk
            correct += int((self._forward(xb).argmax(dim=1) == yb).sum())
        return correct / self.n


def _keep_masks(orders: list[torch.Tensor], counts: np.ndarray, device: torch.device) -> list[torch.Tensor]:
    """Per layer, ``True`` except for the first ``counts[l]`` neurons of ``orders[l]``."""
    masks = []
    for perm, c in zip(orders, counts, strict=True):
        keep = torch.ones(perm.shape[0], dtype=torch.bool)
        keep[perm[: int(c)]] = False
        masks.append(keep.to(device))
    return masks


def _curve(ev: _MaskedEval, orders: list[torch.Tensor], pruned: np.ndarray, base: float, device: torch.device) -> np.ndarray:
    """Accuracy at every fraction for one pruning order per layer (fraction 0 is ``base``)."""
    acc = np.empty(pruned.shape[0])
    for j, counts in enumerate(pruned):
        acc[j] = base if not counts.any() else ev.accuracy(_keep_masks(orders, counts, device))
    return acc


def _check_data(x: Any, y: Any, batch_size: Any) -> int:
    if not torch.is_tensor(x) or not torch.is_tensor(y):
        raise TypeError("x and y must be torch tensors (the test inputs and their integer labels)")
    if y.dim() != 1 or y.is_floating_point() or int(y.shape[0]) != int(x.shape[0]) or int(y.shape[0]) == 0:
        raise ValueError(
            f"y must hold one integer label per row of x (accuracy needs classes); got x {tuple(x.shape)}, "
            f"y {tuple(y.shape)} {y.dtype}"
        )
    return int(x.shape[0]) if batch_size is None else check_int("batch_size", batch_size, low=1)


def pruning_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    rules: Sequence[str] = ORDERS,
    scores: Mapping[str, Sequence[Any]] | None = None,
    random_draws: int = 5,
    generator: SeedLike = None,
    batch_size: int | None = 8192,
) -> PruningCurve:
    """Test accuracy after pruning the fraction ``p`` of every hidden layer's neurons, for ``p`` on a grid.

    Parameters
    ----------
    model : torch.nn.Module
        A trained classifier (a :class:`htsgd.nets.FCN` of any depth, or any module with
        ``nn.Linear`` / convolution layers); left untouched. Its hidden layers are those of
        :func:`hidden_layers`; each is pruned by the same fraction.
    x : torch.Tensor, shape (N, ...)
        Test inputs, on the model's device.
    y : torch.Tensor of int64, shape (N,)
        Their labels.
    fractions : sequence of float, shape (P,)
        Increasing, from 0 (the unpruned network) to at most 1; at ``p`` a layer of ``n``
        neurons loses ``floor(p * n)`` (default 0, 0.05, ..., 0.95).
    rules : sequence of {"norm", "largest", "random"}
        ``"norm"``: smallest l2 norm first, the paper's order (ties: lower index first).
        ``"largest"``: largest norm first. ``"random"``: uniformly random neurons, the
        control, ``random_draws`` times.
    scores : mapping of str to sequences of array_like, optional
        Extra rules: ``{name: [s_1, ..., s_L]}``, one score per neuron of each hidden layer
        (shape ``(n_l,)``), smallest score pruned first; for example the noise-free norms of
        :func:`noise_ranking`. A name may not be one of ``rules``' names.
    random_draws : int
        Random orders drawn, >= 1; the ``"random"`` curve is their **mean**. Draw ``r``
        takes one random permutation per layer (layers in order), and at every fraction
        prunes its first neurons, so a draw's pruned sets are nested as the norm order's are.
    generator : None, int or torch.Generator
        Seed of the random draws (CPU stream): draw 0 prunes exactly what
        :func:`prune_neurons` with ``order="random"``, the same ``fraction`` and seed prunes.
    batch_size : int or None
        Chunk size of the evaluation (None: one pass).

    Returns
    -------
    PruningCurve

    Notes
    -----
    Each pruning is evaluated with forward hooks that zero the pruned neurons' outputs,
    which is what :func:`prune_neurons` computes (its zeroed rows and biases output 0) without
    copying the model; when every hidden layer runs once per pass, the first layer's output
    is computed once and reused. Introduced in the chapter *Compressibility experiments*.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    bs = _check_data(x, y, batch_size)
    fr = _check_fractions(fractions)
    if isinstance(rules, str) or not isinstance(rules, Sequence):
        raise TypeError(f"rules must be a sequence of rule names among {ORDERS}, got {rules!r}")
    rules = [check_choice("rules", r, ORDERS) for r in dict.fromkeys(rules)]
    draws = check_int("random_draws", random_draws, low=1) if "random" in rules else 0
    named = hidden_layers(model)
    if not named:
        raise ValueError("model has no hidden layer to prune (its only nn.Linear is the output layer)")
    layers = [m for _, m in named]
    norms = [neuron_norms(m.weight).to("cpu", torch.float64) for m in layers]
    neurons = tuple(int(n.shape[0]) for n in norms)
    extra = _check_scores(scores, neurons)
    pruned = np.stack([count_of_fraction(fr, n) for n in neurons], axis=1)
    ev = _MaskedEval(model, layers, x, y, bs)
    accuracy: dict[str, np.ndarray] = {}
    with ev.attached():
        base = ev.unpruned()
        for rule in rules:
            if rule != "random":
                accuracy[rule] = _curve(ev, [neuron_order(n, rule) for n in norms], pruned, base, x.device)
        gen = torch_generator(generator, "cpu")
        random = np.empty((draws, fr.size))
        for r in range(draws):
            random[r] = _curve(ev, [neuron_order(n, "random", gen) for n in norms], pruned, base, x.device)
        if draws:
            accuracy["random"] = random.mean(axis=0)
        for name, vectors in extra.items():
            accuracy[name] = _curve(ev, [neuron_order(v, "norm") for v in vectors], pruned, base, x.device)
    return PruningCurve(fr, accuracy, random, pruned, tuple(name for name, _ in named), neurons)


# --------------------------------------------------------------------------------------
# the metric
# --------------------------------------------------------------------------------------


def _accuracies(curve: Any, rule: str, fractions: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(accuracy (..., P), fractions (P,), scalar result?)`` from any accepted form of ``curve``."""
    if isinstance(curve, PruningCurve):
        curves, scalar = [curve], True
    elif isinstance(curve, Sequence) and curve and all(isinstance(c, PruningCurve) for c in curve):
        curves, scalar = list(curve), False
    else:
        if fractions is None:
            raise ValueError("give fractions (the grid, shape (P,)) with an array of accuracies")
        fr = _check_fractions(fractions)
        acc = real_array("curve", curve)
        if acc.ndim == 0 or acc.shape[-1] != fr.size:
            raise ValueError(f"curve must have shape (..., {fr.size}) (one accuracy per fraction), got {acc.shape}")
        return acc, fr, acc.ndim == 1
    if fractions is not None:
        raise ValueError("fractions come with the PruningCurve; pass them only with an array of accuracies")
    fr = curves[0].fractions
    if any(c.fractions.shape != fr.shape or not np.array_equal(c.fractions, fr) for c in curves):
        raise ValueError("the curves must share one grid of fractions")
    for c in curves:
        if rule not in c.accuracy:
            raise ValueError(f"rule must be one of the curve's rules {c.rules}; got {rule!r}")
    acc = np.stack([c.accuracy[rule] for c in curves])
    return (acc[0], fr, True) if scalar else (acc, fr, False)


def prunable_at(
    curve: Any,
    drop: float = 0.01,
    *,
    rule: str = "norm",
    fractions: Sequence[float] | None = None,
) -> Any:
    """The largest fraction prunable at a cost of at most ``drop`` in test accuracy, interpolated.

    The curve is read as the piecewise-linear function through its grid points
    ``(fractions[j], acc[j])``; the threshold is ``t = acc[0] - drop`` (``acc[0]``: the
    unpruned network). The result is the **first crossing**: the smallest ``p`` at which the
    interpolated accuracy falls strictly below ``t``. If grid point ``k`` is the first with
    ``acc[k] < t``, it is

    ``p = fractions[k-1] + (acc[k-1] - t) / (acc[k-1] - acc[k]) * (fractions[k] - fractions[k-1])``,

    in ``[fractions[k-1], fractions[k])``. A curve that falls and then recovers (not
    monotone) is still read at its first crossing: accuracy recovered at a larger fraction
    does not count.

    Parameters
    ----------
    curve : PruningCurve, sequence of PruningCurve, or array_like of shape (..., P)
        One curve (a float is returned), several curves with one grid, e.g. one per seed
        (an array of shape ``(S,)``), or accuracies whose last axis runs along
        ``fractions`` (shape ``(...)`` returned; 1-d gives a float).
    drop : float
        Accuracy that may be lost, >= 0 (0.01: one percentage point). Within: ``acc >=
        acc[0] - drop``, computed in float64.
    rule : str
        Which rule of a :class:`PruningCurve` (default ``"norm"``, the paper's order).
    fractions : array_like of shape (P,), optional
        The grid, with an array of accuracies only: increasing strictly from 0 to at most 1.

    Returns
    -------
    float or numpy.ndarray
        Where no grid point falls below ``t`` (accuracy never drops by more than ``drop``
        over the grid) the result is ``fractions[-1]``, the largest fraction measured: a
        lower bound, censored by the grid. A crossing always gives a value strictly below
        ``fractions[-1]``, so ``result == fractions[-1]`` tells the censored cases.

    Raises
    ------
    ValueError
        For NaN or infinite accuracies, a negative or NaN ``drop``, a grid that does not
        start at 0 or does not increase, or mismatched shapes.

    Notes
    -----
    ``prunable_at`` is non-decreasing in ``drop`` and does not change when the grid is
    refined by points on the interpolating line. Introduced in the chapter *Compressibility
    experiments*.
    """
    drop = check_real("drop", drop, low=0.0, finite=True)
    acc, fr, scalar = _accuracies(curve, rule, fractions)
    if not np.isfinite(acc).all():
        raise ValueError(f"the accuracies must be finite; they hold {int((~np.isfinite(acc)).sum())} NaN or infinite values")
    t = acc[..., :1] - drop
    below = acc < t
    crossed = below.any(axis=-1)
    k = np.where(crossed, np.argmax(below, axis=-1), min(1, fr.size - 1))  # acc[0] >= t: a first crossing has k >= 1
    k1 = np.maximum(k - 1, 0)
    a0 = np.take_along_axis(acc, k1[..., None], axis=-1)[..., 0]
    a1 = np.take_along_axis(acc, k[..., None], axis=-1)[..., 0]
    p0, p1 = fr[k1], fr[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = p0 + (a0 - t[..., 0]) / (a0 - a1) * (p1 - p0)
    # a crossing lies in [p0, p1): keep it below p1 where rounding would reach it
    p = np.minimum(p, np.nextafter(p1, -np.inf))
    out = np.where(crossed, p, fr[-1])
    return float(out) if scalar else out


# --------------------------------------------------------------------------------------
# what the norms rank
# --------------------------------------------------------------------------------------


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN where either vector is constant."""
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(stats.spearmanr(a, b)[0])


@dataclass(frozen=True, eq=False)
class NoiseRanking:
    """One hidden layer's neuron norms beside the norms of its accumulated noise and of the rest.

    Attributes
    ----------
    layer : str
        The layer's name (:func:`hidden_layers`).
    norms : numpy.ndarray, shape (n,)
        Final neuron norms ``||w_j||``.
    noise_norms : numpy.ndarray, shape (n,)
        ``||N_j||``: the norm of the noise added to neuron ``j`` over training.
    noise_free_norms : numpy.ndarray, shape (n,)
        ``||w_j - N_j||``: the norm of the noise-free part (initial weights plus every SGD update).

    Notes
    -----
    Under type-1 noise ``N_j = s_j (1, ..., 1)``, so ``||N_j|| = sqrt(d) |s_j|``. The
    correlations are NaN where a vector is constant: with no noise (``sigma = 0``, or a
    layer that receives none) every ``||N_j||`` is 0 and the rank correlation with the
    noise is undefined. Introduced in the chapter *Compressibility experiments*.
    """

    layer: str
    norms: np.ndarray
    noise_norms: np.ndarray
    noise_free_norms: np.ndarray

    @property
    def spearman_noise(self) -> float:
        """Spearman's rank correlation of the final norms with the noise norms (NaN without noise)."""
        return _spearman(self.norms, self.noise_norms)

    @property
    def spearman_noise_free(self) -> float:
        """Spearman's rank correlation of the final norms with the noise-free norms."""
        return _spearman(self.norms, self.noise_free_norms)

    def row(self) -> dict[str, Any]:
        """``layer``, ``neurons``, both correlations, and whether any noise was recorded: a table row."""
        return {
            "layer": self.layer,
            "neurons": int(self.norms.size),
            "spearman_noise": self.spearman_noise,
            "spearman_noise_free": self.spearman_noise_free,
            "noisy": bool((self.noise_norms > 0).any()),
        }


def noise_ranking(model: nn.Module, noise: Any) -> list[NoiseRanking]:
    """What the neuron norms of a trained network rank: its accumulated noise, or the rest.

    Parameters
    ----------
    model : torch.nn.Module
        The trained network.
    noise : optimizer or sequence of torch.Tensor
        An optimizer built with ``record_noise=True`` (:class:`htsgd.optim.HeavyTailedSGD`;
        its ``accumulated_noise`` is read for each hidden layer's weight), or the
        accumulated noise of each hidden layer of :func:`hidden_layers`, in order, each of
        its weight's shape.

    Returns
    -------
    list of NoiseRanking
        One per hidden layer; :attr:`NoiseRanking.spearman_noise` and
        :attr:`NoiseRanking.spearman_noise_free` are the rank correlations, and
        ``noise_free_norms`` can be passed to :func:`pruning_curve` as a score.

    Introduced in the chapter *Compressibility experiments*.
    """
    named = hidden_layers(model)
    if hasattr(noise, "accumulated_noise"):
        sums = [noise.accumulated_noise(m.weight) for _, m in named]
    elif isinstance(noise, Sequence) and not isinstance(noise, (str, bytes)):
        sums = list(noise)
        if len(sums) != len(named):
            raise ValueError(f"noise must hold one tensor per hidden layer ({len(named)}), got {len(sums)}")
    else:
        raise TypeError("noise must be an optimizer with record_noise=True or a sequence of tensors, one per hidden layer")
    out = []
    for i, ((name, m), n) in enumerate(zip(named, sums, strict=True)):
        w = m.weight.detach().to("cpu", torch.float64)
        nt = torch.as_tensor(real_array(f"noise[{i}]", n))
        if nt.shape != w.shape or not bool(torch.isfinite(nt).all()):
            raise ValueError(f"noise[{i}] must be finite, of the weight's shape {tuple(w.shape)}; got {tuple(nt.shape)}")
        out.append(NoiseRanking(
            name,
            neuron_norms(w).numpy(),
            neuron_norms(nt).numpy(),
            neuron_norms(w - nt).numpy(),
        ))
    return out
