"""Heavy-tailed SGD: a plain SGD step followed by alpha-stable noise on the iterates.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``).

The update of Wan, Barsbey, Zaidi & Simsekli (ICML 2024, arXiv:2306.08125) is

.. math::

    \\theta_{k+1} = \\theta_k - \\eta \\nabla L(\\theta_k) + \\sigma \\eta^{1/\\alpha} X_k,

the Euler step of size ``eta`` of the Levy-driven gradient flow
``d theta = -grad L(theta) dt + sigma dL^alpha_t``: a stable Levy motion has
increments ``L(t + eta) - L(t) ~ SaS(alpha, eta**(1/alpha))``, hence the factor
``eta**(1/alpha)`` (``sqrt(eta)`` for Brownian motion, ``alpha = 2``).

Noise types (the paper's types 1, 2 and 3). A weight of shape ``(out, in, ...)``
has ``out`` neurons; neuron ``i`` is row ``i`` (all its incoming weights; one
filter of a convolution):

``"per_neuron"`` (type 1)
    one ``SaS(alpha, 1)`` scalar per row, added to every weight of that row;
``"per_weight"`` (type 2)
    iid ``SaS(alpha, 1)`` for every weight;
``"isotropic"`` (type 3)
    one rotationally invariant stable vector per row, every one-dimensional
    projection exactly ``SaS(alpha, 1)`` (:func:`htsgd.stable.sample_isotropic`).
    The authors' code draws coordinates of scale ``1/sqrt(2)``; ours is exact.

Scale convention: ``SaS(2, 1) = N(0, 2)``. The authors add ``N(0, 1)`` at
``alpha = 2``; their ``sigma_a`` corresponds to ``sigma = sigma_a / sqrt(2)`` here
(:func:`authors_sigma_to_ours`). For ``alpha < 2`` the two conventions agree.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.optim.sgd import sgd as _functional_sgd

from . import stable
from ._checks import check_bool, check_choice, check_real
from ._random import SeedLike, fresh_seed, resolve_device, torch_generator

__all__ = [
    "HeavyTailedSGD",
    "paper_param_groups",
    "NOISE_TYPES",
    "noise_scale",
    "authors_sigma_to_ours",
    "add_stable_noise_",
    "fused_available",
]

#: The three noise types of the paper, in its order (types 1, 2, 3).
NOISE_TYPES = ("per_neuron", "per_weight", "isotropic")

_GEN_KEY = "htsgd_generators"


def noise_scale(lr: float, alpha: float, sigma: float) -> float:
    """The factor ``sigma * lr**(1/alpha)`` that multiplies the standard stable noise.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    lr = check_real("lr", lr, low=0.0, low_open=True)
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    sigma = check_real("sigma", sigma, low=0.0)
    return sigma * lr ** (1.0 / alpha)


def authors_sigma_to_ours(sigma_authors: float, alpha: float) -> float:
    """Convert the authors' noise level to this package's (they use N(0, 1) at alpha = 2).

    ``SaS(2, 1) = N(0, 2)``, so at ``alpha = 2`` the authors' ``sigma_a N(0, 1)``
    equals ``(sigma_a / sqrt 2) SaS(2, 1)``; for ``alpha < 2`` nothing changes.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    sigma_authors = check_real("sigma_authors", sigma_authors, low=0.0)
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    return sigma_authors / math.sqrt(2.0) if alpha == 2.0 else sigma_authors


def _check_noise(value: Any) -> str | bool:
    if value is True or value is False:
        return value
    if not isinstance(value, str):
        raise TypeError(f"noise must be one of {NOISE_TYPES} or False, got {type(value).__name__} {value!r}")
    return check_choice("noise", value, NOISE_TYPES)


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
    ) -> None:
        lr = check_real("lr", lr, low=0.0, low_open=True)
        alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
        sigma = check_real("sigma", sigma, low=0.0)
        noise = _check_noise(noise)
        if noise is False or noise is True:
            raise ValueError(f"noise must name a noise type, one of {NOISE_TYPES}; got {noise!r}")
        momentum = check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
        weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        self._default_noise = noise
        if fused is not None:
            check_bool("fused", fused)
        self._fused = fused
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
        for key, kwargs in (
            ("lr", dict(low=0.0, low_open=True)),
            ("alpha", dict(low=0.0, high=2.0, low_open=True)),
            ("sigma", dict(low=0.0)),
            ("momentum", dict(low=0.0, high=1.0, high_open=True)),
            ("weight_decay", dict(low=0.0)),
        ):
            if key in param_group:
                param_group[key] = check_real(key, param_group[key], **kwargs)
        if "noise" in param_group:
            value = _check_noise(param_group["noise"])
            param_group["noise"] = self._default_noise if value is True else value
        super().add_param_group(param_group)

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
            if params:
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
            kind = group["noise"]
            if kind is False or group["sigma"] == 0.0:
                continue
            scale = group["sigma"] * group["lr"] ** (1.0 / group["alpha"])
            # Noise goes on every parameter of the group, gradient or not: the Levy
            # motion drives all coordinates of the particle system.
            for p in group["params"]:
                fused = self._fused if self._fused is not None else (p.is_cuda and fused_available())
                add_stable_noise_(p, group["alpha"], scale, kind, self._generator(p.device), fused=fused)
        return loss


def _device_key(device: Any) -> str:
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return str(dev)


# ------------------------------------------------------------------------------------------------
# Fused noise for GPUs. Eager CMS launches about a dozen small elementwise kernels per draw; on a
# GPU that launch overhead, and the extra passes over memory for per-weight noise, cost more than
# the arithmetic. Uniforms (and Gaussians) are drawn with torch.rand / torch.randn from the
# optimizer's generator, and one compiled elementwise kernel turns them into the noise and adds it:
# the same law as htsgd.stable's samplers and a reproducible stream (seeding and resuming work as
# in the eager path), though not the same numbers as the eager path.
# ------------------------------------------------------------------------------------------------
def _angle_exp(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """V ~ U(-pi/2, pi/2) and W ~ Exp(1) from ``u = rand((2, ...))``, kept off the poles of CMS."""
    eps = torch.finfo(u.dtype).eps
    tiny = torch.finfo(u.dtype).tiny
    half_pi = math.pi / 2
    v = ((u[0] - 0.5) * math.pi).clamp(-half_pi * (1 - eps), half_pi * (1 - eps))
    w = (-torch.log1p(-u[1])).clamp_min(tiny)
    return v, w


def _sas_from_uniform(u: torch.Tensor, alpha: float) -> torch.Tensor:
    """Standard SaS(alpha, 1) from two uniforms per draw (symmetric Chambers-Mallows-Stuck)."""
    v, w = _angle_exp(u)
    if alpha == 2.0:
        return 2.0 * torch.sin(v) * torch.sqrt(w)
    if alpha == 1.0:
        return torch.tan(v)
    return torch.sin(alpha * v) * torch.exp(
        -torch.log(torch.cos(v)) / alpha
        + ((1 - alpha) / alpha) * (torch.log(torch.cos((1 - alpha) * v)) - torch.log(w))
    )


def _isotropic_from_draws(u: torch.Tensor, g: torch.Tensor, alpha: float) -> torch.Tensor:
    """Rows ``sqrt(A) g`` with ``A ~ S(alpha/2, 1, 2 cos(pi alpha/4)^(2/alpha))`` (sub-Gaussian law)."""
    if alpha == 2.0:
        return math.sqrt(2.0) * g
    a = alpha / 2
    v, w = _angle_exp(u)
    t = math.tan(math.pi * a / 2)
    b = math.atan(t) / a
    s = (1 + t * t) ** (1 / (2 * a))
    vb = v + b
    mix = (2 * math.cos(math.pi * alpha / 4) ** (2 / alpha)) * (
        s * torch.sin(a * vb) / torch.cos(v) ** (1 / a) * (torch.cos(v - a * vb) / w) ** ((1 - a) / a)
    )
    return torch.sqrt(mix).unsqueeze(-1) * g


def _add_sas_(p: torch.Tensor, u: torch.Tensor, alpha: float, scale: float, per_row: bool) -> None:
    """``p += scale * X``: X per weight, or one draw per row broadcast (the kernel that gets compiled)."""
    x = _sas_from_uniform(u, alpha)
    if per_row:
        x = x.view(x.shape[0], *([1] * (p.dim() - 1)))
    p.add_(x.to(p.dtype), alpha=scale)


def _add_isotropic_(p: torch.Tensor, u: torch.Tensor, g: torch.Tensor, alpha: float, scale: float) -> None:
    """``p += scale * X`` with isotropic rows (the kernel that gets compiled)."""
    p.add_(_isotropic_from_draws(u, g, alpha).view(p.shape).to(p.dtype), alpha=scale)


_COMPILED: dict[str, Any] = {}
_FUSED_STATE = {"broken": False}


def fused_available() -> bool:
    """Whether the compiled (fused) noise kernels can be used: CUDA, ``torch.compile`` and Triton.

    Introduced in the chapter *Heavy-tailed SGD*.
    """
    if _FUSED_STATE["broken"] or not torch.cuda.is_available() or not hasattr(torch, "compile"):
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _compiled(name: str):
    fn = _COMPILED.get(name)
    if fn is None:
        # Not fullgraph: past torch's recompile limit (many shapes or alphas in one process)
        # dynamo quietly runs the same Python eagerly, which is still correct.
        fn = torch.compile(_add_sas_ if name == "sas" else _add_isotropic_, dynamic=None)
        _COMPILED[name] = fn
    return fn


def _add_fused_(
    p: torch.Tensor, kind: str, alpha: float, scale: float, generator: torch.Generator, dtype: torch.dtype
) -> None:
    if kind == "isotropic":
        rows = p.shape[0]
        g = torch.randn((rows, p[0].numel()), generator=generator, device=p.device, dtype=dtype)
        u = torch.rand((2, rows), generator=generator, device=p.device, dtype=dtype)
        _compiled("iso")(p, u, g, alpha, scale)
        return
    shape = (p.shape[0],) if kind == "per_neuron" else tuple(p.shape)
    u = torch.rand((2, *shape), generator=generator, device=p.device, dtype=dtype)
    _compiled("sas")(p, u, alpha, scale, kind == "per_neuron")


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
    noise with one compiled kernel (see :func:`fused_available`).
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    if noise not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {NOISE_TYPES}; got {noise!r}")
    dtype = p.dtype if p.dtype in (torch.float32, torch.float64) else torch.float32
    if p.dim() <= 1 or noise == "per_weight":
        kind = "per_weight"
    else:
        kind = noise
    if fused and not _FUSED_STATE["broken"]:
        state = generator.get_state()  # host-side copy: no device sync
        try:
            _add_fused_(p, kind, alpha, scale, generator, dtype)
            return p
        except Exception as err:  # no working compiler here: fall back to eager, once and for all
            generator.set_state(state)  # the eager draw below starts from the same generator state
            _FUSED_STATE["broken"] = True
            warnings.warn(
                f"fused stable noise unavailable ({type(err).__name__}: {err}); using eager sampling",
                UserWarning,
                stacklevel=2,
            )
    if kind == "per_weight":
        x = stable.sample(alpha, tuple(p.shape), generator=generator, device=p.device, dtype=dtype)
    elif kind == "per_neuron":
        rows = p.shape[0]
        x = stable.sample(alpha, (rows,), generator=generator, device=p.device, dtype=dtype)
        x = x.view(rows, *([1] * (p.dim() - 1)))  # broadcast over the row: no (out, in) draw
    else:
        x = stable.sample_isotropic(
            alpha, (p.shape[0],), p[0].numel(), generator=generator, device=p.device, dtype=dtype
        ).view(p.shape)
    return p.add_(x.to(p.dtype), alpha=scale)


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
