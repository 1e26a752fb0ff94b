"""The noise types of heavy-tailed SGD, one registry entry each.

Introduced in the chapter *Heavy-tailed SGD* (``book/sgd.md``).

A weight of shape ``(out, in, ...)`` has ``out`` neurons; neuron ``i`` is row ``i`` (all its
incoming weights; one filter of a convolution). The paper's three types
(Wan, Barsbey, Zaidi & Simsekli, ICML 2024, arXiv:2306.08125) are

``"per_neuron"`` (type 1)
    one ``SaS(alpha, 1)`` scalar per row, added to every weight of that row;
``"per_weight"`` (type 2)
    iid ``SaS(alpha, 1)`` for every weight;
``"isotropic"`` (type 3)
    one rotationally invariant stable vector per row, every one-dimensional projection
    exactly ``SaS(alpha, 1)`` (:func:`htsgd.stable.sample_isotropic`).

Each :class:`NoiseType` holds everything the package knows about its type: its paper
number, how the standard noise of one layer is drawn (eagerly, through
:mod:`htsgd.stable`, and by the compiled kernels the optimizer uses on GPUs, through
the shared core :mod:`htsgd._stable_core`), the neuron norms of a pure-noise layer
(:func:`htsgd.compress.noise_reference_fraction`), how the authors' noise level maps to
ours, and whether the mean-field dynamics implement it. :class:`htsgd.optim.HeavyTailedSGD`,
:mod:`htsgd.compress`, :mod:`htsgd.meanfield` and the sweep configurations look types up
here (:func:`get`, :func:`names`); adding a type is one entry in ``_REGISTRY`` plus its tests.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from . import _stable_core as _core
from . import stable

__all__ = ["NoiseType", "get", "names", "draw", "add_noise_", "fused_available"]


@dataclass(frozen=True)
class NoiseType:
    """One noise type: its name, its number in the paper and how it is drawn.

    Attributes
    ----------
    name : str
        The name the optimizer, the sweep configurations and the chapters use.
    paper_type : int or None
        The paper's number for the type (1, 2, 3); None for a type the paper does not study.
    summary : str
        One line: what one step adds to a layer.
    draw : callable
        ``draw(alpha, shape, generator, device, dtype)``: standard noise (scale 1) for a
        weight of ``shape`` (at least two dimensions, rows = neurons), a tensor that
        broadcasts to ``shape``.
    add_fused : callable
        ``add_fused(p, alpha, scale, generator, dtype)``: ``p += scale * X`` with the
        compiled kernel (same law as ``draw``, its own numbers).
    reference_norms : callable
        ``reference_norms(alpha, size, input_dim, generator)``: float64 norms of shape
        ``size`` of neurons that are one draw of pure noise, ``input_dim`` weights each
        (1 where ``input_dim_matters`` is false).
    input_dim_matters : bool
        Whether a pure-noise neuron's norm law depends on its number of weights
        (``False``: the norm is ``sqrt(d)`` times a scalar, and the scale-free mce rule
        ignores ``d``, so a neuron counts as one coordinate).
    authors_sigma_ratio : float
        The authors' noise level over ours for ``alpha < 2`` (at ``alpha = 2`` every type
        has ratio ``sqrt(2)``: the authors add ``N(0, 1)``, ``SaS(2, 1) = N(0, 2)``).
    mean_field : bool
        Whether :mod:`htsgd.meanfield`'s particle dynamics implement it.

    Introduced in the chapter *Heavy-tailed SGD*.
    """

    name: str
    paper_type: int | None
    summary: str
    draw: Callable[..., torch.Tensor]
    add_fused: Callable[..., None]
    reference_norms: Callable[..., torch.Tensor]
    input_dim_matters: bool
    authors_sigma_ratio: float
    mean_field: bool


# ------------------------------------------------------------------------------------------------
# Eager draws: the public samplers of htsgd.stable (numpy streams on the CPU, Triton on CUDA).
# ------------------------------------------------------------------------------------------------
def _rows(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[0], math.prod(shape[1:])


def _draw_per_weight(alpha: float, shape: tuple[int, ...], generator: torch.Generator, device: Any,
                     dtype: torch.dtype) -> torch.Tensor:
    return stable.sample(alpha, shape, generator=generator, device=device, dtype=dtype)


def _draw_per_neuron(alpha: float, shape: tuple[int, ...], generator: torch.Generator, device: Any,
                     dtype: torch.dtype) -> torch.Tensor:
    x = stable.sample(alpha, (shape[0],), generator=generator, device=device, dtype=dtype)
    return x.view(shape[0], *([1] * (len(shape) - 1)))  # broadcast over the row: no (out, in) draw


def _draw_isotropic(alpha: float, shape: tuple[int, ...], generator: torch.Generator, device: Any,
                    dtype: torch.dtype) -> torch.Tensor:
    rows, dim = _rows(shape)
    return stable.sample_isotropic(alpha, (rows,), dim, generator=generator, device=device, dtype=dtype).view(shape)


# ------------------------------------------------------------------------------------------------
# Fused noise for GPUs. Eager CMS launches about a dozen small elementwise kernels per draw; on a
# GPU that launch overhead, and the extra passes over memory for per-weight noise, cost more than
# the arithmetic. Uniforms (and Gaussians) are drawn with torch.rand / torch.randn from the
# optimizer's generator, and one compiled elementwise kernel turns them into the noise and adds it.
# The kernel compiles the very functions of the shared core (htsgd._stable_core: one formula, one
# clamp policy), so the law is the same and a reproducible stream (seeding and resuming work as in
# the eager path); the numbers differ from the eager path's because the uniforms do.
# ------------------------------------------------------------------------------------------------
def _sas_from_uniform(u: torch.Tensor, alpha: float) -> torch.Tensor:
    """Standard SaS(alpha, 1) from ``u = rand((2, ...))`` by the shared core; ``u`` is overwritten, its first row returned."""
    _core.cms_from_uniforms(alpha, 0.0, False, u[0], u[1], torch.empty_like(u[0]))
    return u[0]


def _isotropic_from_draws(u: torch.Tensor, g: torch.Tensor, alpha: float) -> torch.Tensor:
    """Rows ``sqrt(A) g`` with ``A ~ S(alpha/2, 1, 2 cos(pi alpha/4)^(2/alpha))`` (sub-Gaussian law).

    ``sqrt(A)`` comes from the shared core (``u = rand((2, rows))`` is overwritten); at
    ``alpha = 2``, ``A = 2``.
    """
    _core.sqrt_mixing_from_uniforms(alpha, u[0], u[1], torch.empty_like(u[0]))
    return _core.isotropic_rows_(g.clone(), u[0])


def _add_sas_(p: torch.Tensor, u: torch.Tensor, alpha: float, scale: float, per_row: bool) -> None:
    """``p += scale * X``: X per weight, or one draw per row broadcast (the kernel that gets compiled)."""
    x = _sas_from_uniform(u, alpha)
    if per_row:
        x = x.view(x.shape[0], *([1] * (p.dim() - 1)))
    p.add_(x.to(p.dtype), alpha=scale)


def _add_isotropic_(p: torch.Tensor, u: torch.Tensor, g: torch.Tensor, alpha: float, scale: float) -> None:
    """``p += scale * X`` with isotropic rows (the kernel that gets compiled)."""
    p.add_(_isotropic_from_draws(u, g, alpha).view(p.shape).to(p.dtype), alpha=scale)


#: The Python functions the fused path compiles, by kernel name.
_KERNELS: dict[str, Callable[..., None]] = {"sas": _add_sas_, "iso": _add_isotropic_}
_COMPILED: dict[str, Any] = {}
_FUSED_STATE = {"broken": False}


def _compiled(name: str) -> Callable[..., None]:
    fn = _COMPILED.get(name)
    if fn is None:
        # Not fullgraph: past torch's recompile limit (many shapes or alphas in one process)
        # dynamo quietly runs the same Python eagerly, which is still correct.
        fn = torch.compile(_KERNELS[name], dynamic=None)
        _COMPILED[name] = fn
    return fn


def _fused_sas(per_row: bool) -> Callable[..., None]:
    def add(p: torch.Tensor, alpha: float, scale: float, generator: torch.Generator, dtype: torch.dtype) -> None:
        shape = (p.shape[0],) if per_row else tuple(p.shape)
        u = torch.rand((2, *shape), generator=generator, device=p.device, dtype=dtype)
        _compiled("sas")(p, u, alpha, scale, per_row)

    return add


def _fused_isotropic(p: torch.Tensor, alpha: float, scale: float, generator: torch.Generator,
                     dtype: torch.dtype) -> None:
    rows, dim = _rows(tuple(p.shape))
    g = torch.randn((rows, dim), generator=generator, device=p.device, dtype=dtype)
    u = torch.rand((2, rows), generator=generator, device=p.device, dtype=dtype)
    _compiled("iso")(p, u, g, alpha, scale)


# ------------------------------------------------------------------------------------------------
# Pure-noise neurons (the references of htsgd.compress.noise_reference_fraction), in float64.
# ------------------------------------------------------------------------------------------------
def _iid_norms(alpha: float, size: tuple[int, ...], input_dim: int, generator: torch.Generator) -> torch.Tensor:
    return stable.sample(alpha, (*size, input_dim), generator=generator, dtype=torch.float64).norm(dim=-1)


def _isotropic_norms(alpha: float, size: tuple[int, ...], input_dim: int, generator: torch.Generator) -> torch.Tensor:
    return stable.sample_isotropic(alpha, size, input_dim, generator=generator, dtype=torch.float64).norm(dim=-1)


_SQRT2 = math.sqrt(2.0)

#: The registry, in the paper's order.
_REGISTRY: dict[str, NoiseType] = {
    t.name: t
    for t in (
        NoiseType("per_neuron", 1, "one SaS(alpha, 1) scalar per row, added to every weight of the row",
                  # S_i (1, ..., 1) has norm sqrt(d) |S_i|: one coordinate (input_dim = 1) serves.
                  _draw_per_neuron, _fused_sas(per_row=True), _iid_norms,
                  input_dim_matters=False, authors_sigma_ratio=1.0, mean_field=False),
        NoiseType("per_weight", 2, "iid SaS(alpha, 1) for every weight",
                  _draw_per_weight, _fused_sas(per_row=False), _iid_norms,
                  input_dim_matters=True, authors_sigma_ratio=1.0, mean_field=True),
        # The authors draw isotropic coordinates of scale 1/sqrt(2) at every alpha; ours are exact.
        NoiseType("isotropic", 3, "one rotationally invariant stable vector per row",
                  _draw_isotropic, _fused_isotropic, _isotropic_norms,
                  input_dim_matters=True, authors_sigma_ratio=_SQRT2, mean_field=True),
    )
}


def names(**where: Any) -> tuple[str, ...]:
    """The names of the noise types whose attributes equal ``where``, in the paper's order.

    ``names()`` lists every type; ``names(mean_field=True)`` those :mod:`htsgd.meanfield`
    implements. An unknown attribute raises ``ValueError``.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    fields = NoiseType.__dataclass_fields__
    for key in where:
        if key not in fields:
            raise ValueError(f"a noise type has no attribute {key!r}; it has {', '.join(fields)}")
    return tuple(n for n, t in _REGISTRY.items() if all(getattr(t, k) == v for k, v in where.items()))


def get(name: Any, argument: str = "noise", among: tuple[str, ...] | None = None) -> NoiseType:
    """The :class:`NoiseType` called ``name``.

    Raises ``TypeError`` for a non-string and ``ValueError`` for an unknown name (or one
    outside ``among``), naming ``argument`` and the allowed names.
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    allowed = names() if among is None else among
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be one of {allowed}, got {type(name).__name__} {name!r}")
    if name not in allowed:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, allowed))}; got {name!r}")
    return _REGISTRY[name]


def _layer_type(name: str, shape: tuple[int, ...]) -> NoiseType:
    # A 0-d or 1-d tensor counts each entry as its own row: every type is then per weight.
    return _REGISTRY["per_weight" if len(shape) <= 1 else name]


def draw(name: str, alpha: float, shape: tuple[int, ...], generator: torch.Generator, *, device: Any = None,
         dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard noise of type ``name`` for a weight of ``shape``: a tensor that broadcasts to ``shape``.

    Rows (the first dimension) are neurons; a 0-d or 1-d shape counts each entry as its
    own row. The numbers are those :func:`add_noise_` adds (eager path).
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    get(name)
    shape = tuple(shape)
    return _layer_type(name, shape).draw(alpha, shape, generator, device, dtype)


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


@torch.no_grad()
def add_noise_(p: torch.Tensor, name: str, alpha: float, scale: float, generator: torch.Generator, *,
               fused: bool = False) -> torch.Tensor:
    """``p += scale * X`` in place, ``X`` standard noise of type ``name`` (rows = neurons).

    Drawn in ``p``'s dtype (float32 for half precision). ``fused=True`` computes the noise
    with one compiled kernel (see :func:`fused_available`); if no compiler works, it warns
    once and falls back to the eager draw from the same generator state. The caller checks
    ``alpha`` and ``scale`` (:func:`htsgd.optim.add_stable_noise_` does).
    Introduced in the chapter *Heavy-tailed SGD*.
    """
    get(name)
    if p.numel() == 0 or scale == 0.0:
        return p
    dtype = p.dtype if p.dtype in (torch.float32, torch.float64) else torch.float32
    kind = _layer_type(name, tuple(p.shape))
    if fused and not _FUSED_STATE["broken"]:
        state = generator.get_state()  # host-side copy: no device sync
        try:
            kind.add_fused(p, alpha, scale, generator, dtype)
            return p
        except Exception as err:  # no working compiler here: fall back to eager, once and for all
            generator.set_state(state)  # the eager draw below starts from the same generator state
            _FUSED_STATE["broken"] = True
            warnings.warn(
                f"fused stable noise unavailable ({type(err).__name__}: {err}); using eager sampling",
                UserWarning,
                stacklevel=3,
            )
    x = kind.draw(alpha, tuple(p.shape), generator, p.device, dtype)
    return p.add_(x.to(p.dtype), alpha=scale)
