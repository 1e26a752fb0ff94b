"""Heavy-tailed SGD: a plain SGD step followed by alpha-stable noise on the iterates.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``).

The update of Wan, Barsbey, Zaidi & Simsekli (ICML 2024, arXiv:2306.08125) is

.. math::

    \\theta_{k+1} = \\theta_k - \\eta \\nabla L(\\theta_k) + \\sigma \\eta^{1/\\alpha} X_k,

the Euler step of size ``eta`` of the Levy-driven gradient flow
``d theta = -grad L(theta) dt + sigma dL^alpha_t``: a stable Levy motion has
increments ``L(t + eta) - L(t) ~ SaS(alpha, eta**(1/alpha))``, hence the factor
``eta**(1/alpha)`` (``sqrt(eta)`` for Brownian motion, ``alpha = 2``).

Noise types (the paper's types 1, 2 and 3: ``"per_neuron"``, ``"per_weight"``,
``"isotropic"``) are the entries of :mod:`htsgd.noise`, which says how each is drawn for a
layer whose rows are neurons.

Scale convention: ``SaS(2, 1) = N(0, 2)``. The authors add ``N(0, 1)`` at
``alpha = 2`` and isotropic vectors with coordinates of scale ``1/sqrt(2)`` at every
alpha; their ``sigma_a`` corresponds to ``sigma = sigma_a / sqrt(2)`` here in both cases
(:func:`authors_sigma_to_ours`). Otherwise (types 1 and 2 with ``alpha < 2``) the two
conventions agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.optim.sgd import sgd as _functional_sgd

from . import noise as _noise
from ._checks import check_bool, check_real
from ._random import SeedLike, fresh_seed, resolve_device, torch_generator
from ._stable_core import check_sampling_alpha

__all__ = [
    "HeavyTailedSGD",
    "paper_param_groups",
    "NOISE_TYPES",
    "noise_scale",
    "authors_sigma_to_ours",
    "add_stable_noise_",
    "fused_available",
]

#: The noise types, in the paper's order (types 1, 2, 3): the names of :mod:`htsgd.noise`'s registry.
NOISE_TYPES = _noise.names()

#: Whether the compiled noise kernels can run here (:func:`htsgd.noise.fused_available`).
fused_available = _noise.fused_available

_GEN_KEY = "htsgd_generators"


def noise_scale(lr: float, alpha: float, sigma: float) -> float:
    """The factor ``sigma * lr**(1/alpha)`` that multiplies the standard stable noise.

    Returns ``inf`` where the factor exceeds double precision (``lr > 1`` with a small
    ``alpha``); :meth:`HeavyTailedSGD.step` refuses a factor beyond its parameters' dtype.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    lr = check_real("lr", lr, low=0.0, low_open=True, finite=True)
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    sigma = check_real("sigma", sigma, low=0.0, finite=True)
    return _noise_scale(lr, alpha, sigma)


def _noise_scale(lr: float, alpha: float, sigma: float) -> float:
    if sigma == 0.0:
        return 0.0
    try:
        return sigma * lr ** (1.0 / alpha)  # a product beyond the double range is inf
    except OverflowError:  # lr**(1/alpha) itself: lr > 1 and a small alpha
        return math.inf


def authors_sigma_to_ours(sigma_authors: float, alpha: float, noise: str) -> float:
    """Convert the authors' noise level ``sigma_a`` for noise type ``noise`` to this package's ``sigma``.

    The authors add ``sigma_a N(0, 1)`` at ``alpha = 2`` (``SaS(2, 1) = N(0, 2)`` here) and,
    for isotropic noise (type 3), vectors whose coordinates have scale ``1/sqrt(2)`` at every
    alpha (ours have scale 1). So ``sigma = sigma_a / sqrt(2)`` for ``"isotropic"`` at every
    alpha and for every type at ``alpha = 2``, and ``sigma = sigma_a`` otherwise.

    Parameters
    ----------
    sigma_authors : float
        The authors' noise level, finite and ``>= 0``.
    alpha : float
        Tail index in (0, 2].
    noise : {"per_neuron", "per_weight", "isotropic"}
        The noise type (the paper's types 1, 2, 3).

    Returns
    -------
    float

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    sigma_authors = check_real("sigma_authors", sigma_authors, low=0.0, finite=True)
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    kind = _noise.get(noise)
    return sigma_authors / (math.sqrt(2.0) if alpha == 2.0 else kind.authors_sigma_ratio)  # x / 1.0 is x exactly


def _check_noise(value: Any) -> str | bool:
    if value is True or value is False:
        return value
    if not isinstance(value, str):
        raise TypeError(f"noise must be one of {NOISE_TYPES} or False, got {type(value).__name__} {value!r}")
    return _noise.get(value).name


class HeavyTailedSGD(torch.optim.Optimizer):
    """SGD followed by alpha-stable noise ``sigma * lr**(1/alpha) * X`` on the iterates.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        Parameters or param groups. Parameters passed directly all receive noise;
        a group with ``"noise": False`` receives none (a plain SGD step). A group
        may also set its own ``"noise"`` type, ``"alpha"``, ``"sigma"``, ``"lr"``,
        ``"momentum"`` and ``"weight_decay"``.
    lr : float
        Step size ``eta > 0``.
    alpha : float
        Tail index of the noise, in (0, 2]; 2 is Gaussian (``SaS(2, 1) = N(0, 2)``).
    sigma : float
        Noise level ``>= 0``. ``sigma = 0`` is bitwise identical to
        ``torch.optim.SGD(params, lr, momentum, weight_decay=weight_decay)``.
    noise : {"per_neuron", "per_weight", "isotropic"}
        The paper's noise types 1, 2, 3 (see the module docstring).
    momentum, weight_decay : float
        As in ``torch.optim.SGD`` (no dampening, no Nesterov); the noise is added
        after the SGD update and does not enter the momentum buffer.
    generator : None, int or torch.Generator
        Source of the noise. An ``int`` seeds one generator per device the
        parameters live on (so the same seed gives the same noise); a
        ``torch.Generator`` is used for the parameters on its device; ``None`` draws
        a fresh seed. The generators' states are part of :meth:`state_dict`, so a
        run resumed from a checkpoint draws the same noise as an uninterrupted one.
    fused : bool or None
        Turn the uniform draws into noise with one compiled kernel (``torch.compile``)
        instead of a dozen eager ones. ``None`` (default): on CUDA parameters when
        Triton is available. Same generator, same law and reproducible, but not the
        same numbers as the eager path: keep the setting fixed within a run.
    record_noise : bool
        Keep, for every parameter, the sum of what the noise steps changed in it (opt-in,
        off by default; the weights are the same either way): read it with
        :meth:`accumulated_noise`. The weights minus that sum are the *noise-free part*
        (the initial weights plus every SGD update), which the chapter *Compressibility
        experiments* compares with the noise when it asks what the neuron norms rank.

    Notes
    -----
    Noise is drawn on each parameter's device (no host round trip), in the
    parameter's dtype (float32 for half precision), and added in place with a fused
    scale: ``p.add_(X, alpha=sigma * lr**(1/alpha))``; per-neuron noise is an
    ``(out,)`` vector broadcast over the row. Introduced in the chapter
    *Heavy-tailed SGD*.

    Examples
    --------
    >>> model = htsgd.nets.FCN(784, 5000, 2, 10)
    >>> opt = HeavyTailedSGD(paper_param_groups(model), lr=0.01, alpha=1.75, sigma=0.003)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        *,
        alpha: float,
        sigma: float,
        noise: str = "per_neuron",
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        generator: SeedLike = None,
        fused: bool | None = None,
        record_noise: bool = False,
    ) -> None:
        lr = check_real("lr", lr, **_GROUP_CHECKS["lr"])
        alpha = check_sampling_alpha(check_real("alpha", alpha, **_GROUP_CHECKS["alpha"]))
        sigma = check_real("sigma", sigma, **_GROUP_CHECKS["sigma"])
        noise = _check_noise(noise)
        if noise is False or noise is True:
            raise ValueError(f"noise must name a noise type, one of {NOISE_TYPES}; got {noise!r}")
        momentum = check_real("momentum", momentum, **_GROUP_CHECKS["momentum"])
        weight_decay = check_real("weight_decay", weight_decay, **_GROUP_CHECKS["weight_decay"])
        self._default_noise = noise
        if fused is not None:
            check_bool("fused", fused)
        self._fused = fused
        self._record_noise = check_bool("record_noise", record_noise)
        # id(parameter) -> float64 sum of the noise added to it (only with record_noise).
        self._noise_sums: dict[int, torch.Tensor] = {}
        if isinstance(generator, torch.Generator):
            self._seed: int | None = None
            self._generators: dict[str, torch.Generator] = {_device_key(generator.device): generator}
        else:
            gen0 = torch_generator(generator, "cpu")  # validates the seed
            self._seed = int(gen0.initial_seed()) if generator is not None else fresh_seed()
            self._generators = {}
        defaults = dict(lr=lr, alpha=alpha, sigma=sigma, noise=noise, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, defaults)

    # -- param groups ---------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group, validating its optional overrides (see the class docstring)."""
        _check_group(param_group)
        if "noise" in param_group:
            value = _check_noise(param_group["noise"])
            param_group["noise"] = self._default_noise if value is True else value
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group["noise"] is not False and group["sigma"] > 0:
            for p in group["params"]:
                _check_noise_dtype(p)

    # -- generators -----------------------------------------------------------------------------
    def _generator(self, device: torch.device) -> torch.Generator:
        key = _device_key(device)
        gen = self._generators.get(key)
        if gen is None:
            if self._seed is None:
                have = ", ".join(self._generators)
                raise ValueError(
                    f"the optimizer's generator lives on {have} but a parameter lives on {key}; "
                    "pass an int seed to draw on every device"
                )
            gen = torch.Generator(device=device)
            gen.manual_seed(self._seed)
            self._generators[key] = gen
        return gen

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Optimizer.state_dict`` plus the noise generators' states."""
        sd = super().state_dict()
        sd[_GEN_KEY] = {
            "seed": -1 if self._seed is None else self._seed,
            "states": {k: g.get_state() for k, g in self._generators.items()},
        }
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore parameters' state and the noise generators, so a resumed run continues identically."""
        state_dict = dict(state_dict)
        gens = state_dict.pop(_GEN_KEY, None)
        groups = state_dict.get("param_groups", [])
        for i, group in enumerate(groups):
            # A saved group is checked as a new one would be (a hand-edited lr = -1 fails here).
            _check_group(dict(group), where=f"state_dict['param_groups'][{i}]")
            if "noise" in group and group["noise"] is not False:
                _noise.get(group["noise"], f"state_dict['param_groups'][{i}]['noise']")
        super().load_state_dict(state_dict)
        if gens is None:
            return
        seed = int(gens["seed"])
        self._seed = None if seed < 0 else seed
        for key, st in gens["states"].items():
            gen = self._generators.get(key)
            if gen is None:
                gen = torch.Generator(device=torch.device(key))
                self._generators[key] = gen
            gen.set_state(st.cpu() if torch.is_tensor(st) else torch.as_tensor(st))

    # -- the step -------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One SGD step (exactly ``torch.optim.SGD``'s), then noise on the groups that take it."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if _takes_noise(group):
                scale = _noise_scale(group["lr"], group["alpha"], group["sigma"])
                for p in group["params"]:  # refuse before any weight moves
                    _check_noise_fits(p, scale)
        for group in self.param_groups:
            self._sgd_update(group)
            if _takes_noise(group):
                self._add_group_noise(group)
        return loss

    def _sgd_update(self, group: dict[str, Any]) -> None:
        """``torch.optim.SGD``'s update of one group (its functional form, momentum buffers kept)."""
        params, grads, bufs = [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("HeavyTailedSGD does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
            if group["momentum"] != 0:
                bufs.append(self.state[p].get("momentum_buffer"))
        if not params:
            return
        _functional_sgd(
            params,
            grads,
            bufs,
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            lr=group["lr"],
            dampening=0.0,
            nesterov=False,
            maximize=False,
        )
        if group["momentum"] != 0:
            for p, buf in zip(params, bufs, strict=True):
                self.state[p]["momentum_buffer"] = buf

    def _add_group_noise(self, group: dict[str, Any]) -> None:
        """``sigma * lr**(1/alpha) * X`` on every parameter of the group, gradient or not.

        The Levy motion drives all coordinates of the particle system.
        """
        scale = _noise_scale(group["lr"], group["alpha"], group["sigma"])
        for p in group["params"]:
            fused = self._fused if self._fused is not None else (p.is_cuda and fused_available())
            before = p.detach().to(torch.float64, copy=True) if self._record_noise else None
            add_stable_noise_(p, group["alpha"], scale, group["noise"], self._generator(p.device), fused=fused)
            if before is not None:
                _accumulate_change(self._noise_sums, id(p), before, p)

    def accumulated_noise(self, p: torch.Tensor) -> torch.Tensor:
        """The sum of the noise added to parameter ``p`` so far, float64, of ``p``'s shape.

        Needs ``record_noise=True``. Zero for a parameter that has received no noise (a group
        without noise, ``sigma = 0``, or before the first step). ``p`` minus this is the
        noise-free part of the weight: the initial weight plus every SGD update. The sums are
        not part of :meth:`state_dict` (a resumed run starts them at zero).
        Introduced in the chapter *Compressibility experiments*.

        Raises
        ------
        RuntimeError
            If the optimizer was built without ``record_noise=True``.
        ValueError
            If ``p`` is not one of the optimizer's parameters.
        """
        if not self._record_noise:
            raise RuntimeError("accumulated_noise needs an optimizer built with record_noise=True")
        if not any(p is q for group in self.param_groups for q in group["params"]):
            raise ValueError("p is not a parameter of this optimizer")
        total = self._noise_sums.get(id(p))
        return torch.zeros(p.shape, dtype=torch.float64, device=p.device) if total is None else total.clone()


def _accumulate_change(sums: dict[int, torch.Tensor], key: int, before: torch.Tensor, p: torch.Tensor) -> None:
    """Add what a noise step changed in ``p`` (``p - before``, float64) to ``sums[key]``.

    The record of ``record_noise``, shared with :func:`htsgd.train_batched.train_batched`: the
    difference after - before in float64, on every path (eager or fused), exact for float32
    weights unless a step changes a weight's binary exponent by more than 29.
    """
    change = p.detach().to(torch.float64) - before
    total = sums.get(key)
    sums[key] = change if total is None else total.add_(change)


def _takes_noise(group: dict[str, Any]) -> bool:
    return group["noise"] is not False and group["sigma"] != 0.0


#: The checks of every numeric hyperparameter, shared by the constructor, the groups and load_state_dict.
_GROUP_CHECKS: dict[str, dict[str, Any]] = {
    "lr": dict(low=0.0, low_open=True, finite=True),
    "alpha": dict(low=0.0, high=2.0, low_open=True),
    "sigma": dict(low=0.0, finite=True),
    "momentum": dict(low=0.0, high=1.0, high_open=True),
    "weight_decay": dict(low=0.0, finite=True),
}


def _check_group(group: dict[str, Any], where: str = "") -> None:
    """Validate (and normalise to floats) the hyperparameters present in ``group``."""
    for key, kwargs in _GROUP_CHECKS.items():
        if key in group:
            name = f"{where}[{key!r}]" if where else key
            group[key] = check_real(name, group[key], **kwargs)
            if key == "alpha":
                check_sampling_alpha(group[key])


def _check_noise_dtype(p: torch.Tensor) -> None:
    """Refuse float16 parameters: heavy-tailed noise overflows half precision (largest 65504)."""
    if p.dtype == torch.float16:
        raise TypeError(
            "HeavyTailedSGD cannot add stable noise to a float16 parameter: heavy-tailed draws "
            "overflow half precision (largest value 65504) within a few steps; keep the noisy "
            "parameters in float32 or bfloat16 (torch.autocast can still run the forward pass in float16)"
        )


def _check_noise_fits(p: torch.Tensor, scale: float) -> None:
    """Refuse float16 parameters and a noise scale beyond the parameter's dtype."""
    _check_noise_dtype(p)
    if p.is_floating_point() and not scale <= torch.finfo(p.dtype).max:
        raise ValueError(
            f"the noise scale sigma * lr**(1/alpha) = {scale:g} exceeds the largest {p.dtype} "
            f"({torch.finfo(p.dtype).max:g}); every noisy weight would overflow: use a smaller sigma or lr"
        )


def _device_key(device: Any) -> str:
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return str(dev)


@torch.no_grad()
def add_stable_noise_(
    p: torch.Tensor,
    alpha: float,
    scale: float,
    noise: str,
    generator: torch.Generator,
    *,
    fused: bool = False,
) -> torch.Tensor:
    """Add ``scale * X`` in place, ``X`` standard stable noise of the given type (rows = neurons).

    A 0-d or 1-d tensor counts each entry as its own row. ``fused=True`` computes the
    noise with one compiled kernel (see :func:`fused_available`). The types and their
    draws are the entries of :mod:`htsgd.noise`; this function adds the optimizer's checks
    (float16 and a scale beyond the dtype are refused).
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    _noise.get(noise)
    _check_noise_fits(p, scale)
    return _noise.add_noise_(p, noise, alpha, scale, generator, fused=fused)


def _is_conv(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.conv._ConvNd)


def paper_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Split ``model``'s parameters as the authors do: noise on hidden-layer weights only.

    Hidden-layer weight matrices (``nn.Linear`` except the last one, and every
    convolution except the first) get noise; the output layer, every bias, every
    normalisation parameter and the first convolution do not. A model may override
    this by defining ``noisy_parameters()`` (as :class:`htsgd.nets.MeanFieldNet` does).

    Returns
    -------
    list of dict
        ``[{"params": noisy, "noise": True}, {"params": rest, "noise": False}]``,
        empty groups left out. ``"noise": True`` takes the optimizer's noise type.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if hasattr(model, "noisy_parameters"):
        noisy_list = list(model.noisy_parameters())
    else:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        convs = [m for m in model.modules() if _is_conv(m)]
        noisy_list = [m.weight for m in linears[:-1]] + [m.weight for m in convs[1:]]
    noisy_ids = {id(p) for p in noisy_list}
    rest = [p for p in model.parameters() if id(p) not in noisy_ids]
    groups = []
    if noisy_list:
        groups.append({"params": noisy_list, "noise": True})
    if rest:
        groups.append({"params": rest, "noise": False})
    return groups
