"""Pruning of ``nn.Module``s: which layers are hidden, neuron and magnitude pruning, reports.

Private: the public names are re-exported by :mod:`htsgd.compress`. Torch's convention: one
neuron per *row* of a weight (one filter of a convolution). Introduced in the chapter
*Compressibility experiments* (``book/experiments.md``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_int, check_real, real_array
from .._random import SeedLike, torch_generator
from ._curves import count_of_fraction, neuron_norms

# --------------------------------------------------------------------------------------
# which layers are hidden
# --------------------------------------------------------------------------------------

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _PRUNABLE)]


def output_layer(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The output layer as ``(name, module)``: the last ``nn.Linear`` in module order (``None`` if none).

    Introduced in the chapter *Compressibility experiments*.
    """
    linears = [(name, m) for name, m in _layers(model) if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def hidden_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers that pruning touches, as ``(name, module)`` pairs in module order.

    Every ``nn.Linear`` and convolution (``Conv1d/2d/3d``) except the output layer,
    the last ``nn.Linear`` (a model without any ``nn.Linear`` has every layer
    hidden). Unlike the noise, pruning also applies to the first convolution
    ("hidden layers only": every layer but the output one).

    Introduced in the chapter *Compressibility experiments*.
    """
    out = output_layer(model)
    return [(name, m) for name, m in _layers(model) if out is None or m is not out[1]]


# --------------------------------------------------------------------------------------
# structured (neuron) pruning
# --------------------------------------------------------------------------------------


#: The orders in which neurons are pruned (see :func:`select_neurons`).
ORDERS = ("norm", "largest", "random")


def neuron_order(scores: torch.Tensor, order: str, generator: SeedLike = None) -> torch.Tensor:
    """The pruning order of one layer's neurons: a permutation, the first ones pruned first.

    ``scores`` is a 1-d CPU float64 tensor (neuron norms, or any score where smaller means
    less important). ``"norm"``: ascending scores; ``"largest"``: descending; ties keep the
    lower index first in both. ``"random"``: ``torch.randperm`` from ``generator`` (a CPU
    generator), so one stream drawn layer after layer gives the same choice as
    :func:`prune_neurons` with the same seed. Package-internal (the pruning curves share it).
    """
    if order == "norm":
        return torch.argsort(scores, stable=True)
    if order == "largest":
        return torch.argsort(-scores, stable=True)
    return torch.randperm(scores.shape[0], generator=torch_generator(generator, "cpu"))


def select_neurons(
    norms: torch.Tensor,
    *,
    mce: float | None = None,
    fraction: float | None = None,
    count: int | None = None,
    order: str = "norm",
    generator: SeedLike = None,
) -> torch.Tensor:
    """Choose the neurons of one layer to prune; return a boolean mask (``True`` = pruned).

    Parameters
    ----------
    norms : torch.Tensor, shape (n,)
        Neuron l2 norms (see :func:`neuron_norms`).
    mce : float, optional
        The authors' criterion: walk through the neurons (smallest norm first for
        ``order="norm"``) and prune them while the removed fraction of the layer's
        squared Frobenius norm, ``sum_removed ||w_i||^2 / sum_all ||w_i||^2``, stays
        ``<= mce``. ``mce`` in ``[0, 1]``; 0.1 in the paper. Equivalently the
        relative Frobenius error of the layer stays ``<= sqrt(mce)``.
    fraction : float, optional
        Prune ``floor(fraction * n)`` neurons, ``fraction`` in ``[0, 1]``.
    count : int, optional
        Prune exactly ``count`` neurons, ``0 <= count <= n``.
    order : {"norm", "largest", "random"}
        ``"norm"``: smallest norms first (ties: lower index first). ``"largest"``:
        largest norms first (ties: lower index first), the opposite order, a control of
        the pruning curves. ``"random"``: a uniformly random order (the control
        experiment), drawn from ``generator``.
    generator : None, int or torch.Generator
        Only for ``order="random"``.

    Exactly one of ``mce``, ``fraction``, ``count`` must be given. A layer whose
    weights are all zero is pruned entirely under ``mce`` (removing it costs nothing).
    Introduced in the chapter *Compressibility experiments*.
    """
    if not torch.is_tensor(norms) or norms.dim() != 1:
        raise ValueError("norms must be a 1-d torch.Tensor of neuron norms")
    given = [v is not None for v in (mce, fraction, count)]
    if sum(given) != 1:
        raise ValueError(
            f"give exactly one of mce, fraction, count; got mce={mce}, fraction={fraction}, count={count}"
        )
    check_choice("order", order, ORDERS)
    n = norms.shape[0]
    nd = norms.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(nd).all()) or bool((nd < 0).any()):
        raise ValueError("norms must be finite and non-negative")
    perm = neuron_order(nd, order, generator)
    if mce is not None:
        mce = check_real("mce", mce, low=0, high=1)
        sq = nd[perm] ** 2
        total = float(sq.sum())
        if total == 0.0:
            m = n
        else:
            removed = torch.cumsum(sq, 0) / total
            # relative slack for rounding: a removed share equal to mce counts as <= mce
            ok = removed <= mce * (1 + 1e-12) + 1e-15
            # prune the longest prefix that satisfies the rule (removed share is non-decreasing)
            m = int(ok.sum())
    elif fraction is not None:
        fraction = check_real("fraction", fraction, low=0, high=1)
        m = count_of_fraction(fraction, n)
    else:
        m = check_int("count", count, low=0, high=n)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[perm[:m]] = True
    return mask.to(norms.device)


def _check_counts(counts: Any, layers: list[tuple[str, nn.Module]]) -> list[int]:
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence):
        raise TypeError("counts must be a sequence of ints, one per hidden layer")
    if len(counts) != len(layers):
        raise ValueError(
            f"counts must have one entry per hidden layer ({len(layers)}), got {len(counts)}"
        )
    return [
        check_int(f"counts[{i}]", c, low=0, high=m.weight.shape[0])
        for i, (c, (_, m)) in enumerate(zip(counts, layers, strict=True))
    ]


def layer_scores(name: str, scores: Any, neurons: Sequence[int]) -> list[torch.Tensor]:
    """``scores`` as one CPU float64 vector per hidden layer of ``neurons[l]`` finite numbers (checked).

    Package-internal: :func:`prune_neurons` and the pruning curves share it; ``name`` names the
    argument in the error.
    """
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence) or len(scores) != len(neurons):
        raise ValueError(f"{name} must hold one vector per hidden layer ({len(neurons)})")
    out = []
    for i, (v, n) in enumerate(zip(scores, neurons, strict=True)):
        arr = real_array(f"{name}[{i}]", v)
        if arr.shape != (n,) or not np.isfinite(arr).all():
            raise ValueError(f"{name}[{i}] must be {n} finite numbers, one per neuron; got shape {arr.shape}")
        out.append(torch.from_numpy(arr))
    return out


def prune_neurons(
    model: nn.Module,
    *,
    mce: float | None = None,
    fraction: float | None = None,
    counts: Sequence[int] | None = None,
    order: str = "norm",
    generator: SeedLike = None,
    scores: Sequence[Any] | None = None,
) -> nn.Module:
    """Structured pruning: a copy of ``model`` with whole neurons of its hidden layers zeroed.

    Parameters
    ----------
    model : torch.nn.Module
        Any module with ``nn.Linear`` / convolution layers; it is left untouched.
    mce : float, optional
        The authors' rule, per hidden layer (see :func:`select_neurons`): prune
        the smallest-norm neurons while the removed squared-Frobenius fraction of
        the layer stays ``<= mce`` (0.1 in the paper).
    fraction : float, optional
        Prune ``floor(fraction * n)`` neurons in every hidden layer.
    counts : sequence of int, optional
        Neurons to prune in each hidden layer (one entry per layer of
        :func:`hidden_layers`), e.g. ``prune_report(pruned).pruned_neurons`` of
        another pruning, to prune the same numbers at random.
    order : {"norm", "largest", "random"}
        Smallest norms first, largest norms first, or a random choice (the control).
    generator : None, int or torch.Generator
        Seed for ``order="random"`` (one stream for all layers).
    scores : sequence of array_like, optional
        One finite, non-negative score per neuron of each hidden layer (shape ``(n_l,)``
        per layer), ordered in place of the neuron norms: with ``order="norm"`` the
        smallest scores are pruned first (for example the noise-free norms of
        :func:`noise_ranking`). Only with ``fraction`` or ``counts`` (the ``mce`` rule
        sums the norms themselves).

    Returns
    -------
    torch.nn.Module
        A deep copy in which every pruned neuron's incoming weights (its row; its
        filter for a convolution) and its bias entry are zero.

    Notes
    -----
    Exactly one of ``mce``, ``fraction``, ``counts``. As in the authors' code, the
    neuron's *outgoing* weights (in the next layer) are left as they are: with
    ReLU and no normalisation in between, a zero row outputs 0, so the pruned
    model computes what the masked network computes. After a batch-norm layer a
    zeroed filter outputs the batch-norm shift instead of 0. The output layer
    (last ``nn.Linear``) is never pruned. Introduced in the chapter
    *Compressibility experiments*.
    """
    if sum(v is not None for v in (mce, fraction, counts)) != 1:
        raise ValueError(
            f"give exactly one of mce, fraction, counts; got mce={mce}, fraction={fraction}, counts={counts}"
        )
    check_choice("order", order, ORDERS)
    if mce is not None:
        check_real("mce", mce, low=0, high=1)
        if scores is not None:
            raise ValueError("scores replace the norms in the order only: give them with fraction or counts, not mce")
    if fraction is not None:
        check_real("fraction", fraction, low=0, high=1)
    new = copy.deepcopy(model)
    layers = hidden_layers(new)
    per_layer = _check_counts(counts, layers) if counts is not None else None
    ranked = None if scores is None else layer_scores("scores", scores, [m.weight.shape[0] for _, m in layers])
    gen = torch_generator(generator, "cpu") if order == "random" else None
    with torch.no_grad():
        for i, (_, layer) in enumerate(layers):
            norms = neuron_norms(layer.weight) if ranked is None else ranked[i]
            mask = select_neurons(
                norms,
                mce=mce,
                fraction=fraction,
                count=None if per_layer is None else per_layer[i],
                order=order,
                generator=gen,
            ).to(layer.weight.device)
            layer.weight[mask] = 0
            if getattr(layer, "bias", None) is not None:
                layer.bias[mask] = 0
    return new


def magnitude_prune(model: nn.Module, fraction: float, *, scope: str = "layer") -> nn.Module:
    """Unstructured pruning: a copy of ``model`` with the smallest-magnitude hidden weights zeroed.

    Parameters
    ----------
    model : torch.nn.Module
        Left untouched.
    fraction : float
        Share of the hidden-layer weights set to zero, in ``[0, 1]``:
        ``floor(fraction * size)`` entries of each layer (``scope="layer"``) or of
        all hidden weights together (``scope="global"``). Ties broken by position.
    scope : {"layer", "global"}

    Returns
    -------
    torch.nn.Module
        The output layer and biases are untouched. Introduced in the chapter
        *Compressibility experiments*.
    """
    fraction = check_real("fraction", fraction, low=0, high=1)
    check_choice("scope", scope, ("layer", "global"))
    new = copy.deepcopy(model)
    weights = [m.weight for _, m in hidden_layers(new)]
    with torch.no_grad():
        if scope == "layer":
            for w in weights:
                m = count_of_fraction(fraction, w.numel())
                idx = torch.argsort(w.detach().abs().flatten(), stable=True)[:m]
                w.view(-1)[idx] = 0
        elif weights:
            flat = torch.cat([w.detach().abs().flatten().to("cpu", torch.float64) for w in weights])
            m = count_of_fraction(fraction, flat.numel())
            idx = torch.argsort(flat, stable=True)[:m]
            start = 0
            for w in weights:
                sel = idx[(idx >= start) & (idx < start + w.numel())] - start
                w.view(-1)[sel.to(w.device)] = 0
                start += w.numel()
    return new


# --------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerPruning:
    """Pruning state of one hidden layer (see :func:`prune_report`).

    Introduced in the chapter *Compressibility*.
    """

    name: str
    kind: str
    neurons: int
    pruned_neurons: int
    params: int
    zero_params: int

    @property
    def fraction(self) -> float:
        """Zero weights / weights of this layer."""
        return self.zero_params / self.params if self.params else 0.0


@dataclass(frozen=True)
class PruneReport:
    """Per-layer pruning detail of a model's hidden layers, and the totals the authors report.

    ``fraction`` is parameters removed / parameters considered: exactly-zero
    weights over all weights of the hidden layers (output layer and biases excluded).
    ``rows()`` gives one dict per layer, ready for ``pandas.DataFrame``.

    Introduced in the chapter *Compressibility*.
    """

    layers: list[LayerPruning] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def zero_params(self) -> int:
        return sum(layer.zero_params for layer in self.layers)

    @property
    def fraction(self) -> float:
        return self.zero_params / self.params if self.params else 0.0

    @property
    def neurons(self) -> int:
        return sum(layer.neurons for layer in self.layers)

    @property
    def pruned_neurons_total(self) -> int:
        return sum(layer.pruned_neurons for layer in self.layers)

    @property
    def neuron_fraction(self) -> float:
        """Zeroed neurons / neurons of the hidden layers."""
        return self.pruned_neurons_total / self.neurons if self.neurons else 0.0

    @property
    def pruned_neurons(self) -> list[int]:
        """Zeroed neurons per hidden layer (the ``counts`` argument of :func:`prune_neurons`)."""
        return [layer.pruned_neurons for layer in self.layers]

    def rows(self) -> list[dict[str, Any]]:
        return [{**asdict(layer), "fraction": layer.fraction} for layer in self.layers]


def prune_report(model: nn.Module) -> PruneReport:
    """Count the zero neurons (all-zero rows) and zero weights of every hidden layer.

    Introduced in the chapter *Compressibility experiments*.
    """
    out = []
    for name, m in hidden_layers(model):
        w = m.weight.detach()
        zero_rows = int((w.flatten(1) == 0).all(dim=1).sum())
        out.append(
            LayerPruning(
                name=name,
                kind=type(m).__name__,
                neurons=int(w.shape[0]),
                pruned_neurons=zero_rows,
                params=int(w.numel()),
                zero_params=int((w == 0).sum()),
            )
        )
    return PruneReport(out)


def pruned_fraction(model: nn.Module) -> float:
    """Fraction of parameters pruned, as the authors count it.

    Exactly-zero weights of the hidden layers divided by all weights of the hidden
    layers; the output layer (last ``nn.Linear``) and biases are excluded. Structured
    pruning of a neuron with ``d`` inputs removes ``d`` parameters (its outgoing
    weights in the next layer are not counted as removed). Introduced in the
    chapter *Compressibility experiments*.
    """
    return prune_report(model).fraction
