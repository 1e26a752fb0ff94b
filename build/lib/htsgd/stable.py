"""Alpha-stable laws: sampling (Chambers-Mallows-Stuck) and isotropic stable vectors.

Introduced in the chapter *Stable distributions* (``book/stable.md``).

Conventions
-----------
``S(alpha, beta, scale, loc)`` follows Nolan's parametrizations as scipy defines
them (``scipy.stats.levy_stable``): ``"S1"`` (scipy's default) and ``"S0"``; they
coincide when ``beta = 0``. The symmetric law ``SaS(alpha, scale)`` has
characteristic function ``exp(-scale**alpha * |u|**alpha)``; at ``alpha = 2`` it
is ``N(0, 2 scale**2)``, at ``alpha = 1`` the Cauchy law with scale ``scale``.

References
----------
Chambers, Mallows & Stuck (1976), JASA 71, 340-344; Weron (1996), Stat. Probab.
Lett. 28, 165-171; Samorodnitsky & Taqqu (1994), *Stable Non-Gaussian Random
Processes*, Prop. 1.2.15 and 2.5.2; Nolan (2020), *Univariate Stable Distributions*.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from . import _stable_core as _core
from . import _stable_triton
from ._checks import check_int, check_real, check_size
from ._random import SeedLike, resolve_device, resolve_dtype, torch_generator
from ._stable_density import (
    PARAMETERIZATIONS,
    cdf,
    char_func,
    check_law,
    logpdf,
    pdf,
    sf,
    tail_constant,
)

__all__ = [
    "sample",
    "sample_isotropic",
    "pdf",
    "logpdf",
    "cdf",
    "sf",
    "char_func",
    "tail_constant",
    "PARAMETERIZATIONS",
]

def sample(
    alpha: float,
    size: int | tuple[int, ...],
    *,
    beta: float = 0.0,
    scale: float = 1.0,
    loc: float = 0.0,
    parameterization: str = "S1",
    generator: SeedLike = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
    _use_triton: bool = True,
) -> torch.Tensor:
    """Draw alpha-stable samples by the Chambers-Mallows-Stuck method.

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2].
    size : int or tuple of int
        Shape of the output.
    beta : float
        Skewness in [-1, 1].
    scale : float
        Scale > 0 (``sigma``).
    loc : float
        Location, in the chosen parametrization.
    parameterization : {"S1", "S0"}
        Nolan's parametrizations as in ``scipy.stats.levy_stable``.
    generator : None, int or torch.Generator
        Seed or generator (see :func:`htsgd._random.torch_generator`); numbers are
        drawn on ``device`` directly, with no host round trip.
    device, dtype
        Output device and dtype (float32 or float64).

    Returns
    -------
    torch.Tensor
        Shape ``size``; finite everywhere.

    Notes
    -----
    ``alpha = 2`` returns exactly ``N(loc, 2 scale**2)`` and ``alpha = 1, beta = 0``
    exactly Cauchy(loc, scale). Symmetric float32 draws on a CUDA device use a fused
    Triton kernel (:mod:`htsgd._stable_triton`) when Triton is installed, seeded from
    ``generator`` on the device; ``_use_triton=False`` forces the torch path, which is
    the reference (the tests check that both give the same law). On the CPU, draws of
    8192 samples or more take their uniforms from numpy streams seeded by one number
    drawn from ``generator`` (:mod:`htsgd._cpu_streams`): the result depends on the
    generator's state and ``size`` only, not on the number of threads. Draws beyond the
    float range (possible in float32 for alpha below about 0.4) saturate at the largest
    finite value; every draw is finite for ``alpha`` in ``[1e-300, 2]`` (smaller alpha is
    refused), every beta, both dtypes and both parametrizations. All paths share one
    Chambers-Mallows-Stuck core (:mod:`htsgd._stable_core`; see the comment at its top in the
    source). Introduced in the chapter *Stable distributions*.
    """
    alpha, beta, scale, loc, parameterization = check_law(alpha, beta, scale, loc, parameterization)
    alpha = _core.check_sampling_alpha(alpha)
    shape = check_size("size", size)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    gen = torch_generator(generator, dev)
    in_float32 = max(scale, abs(loc)) <= torch.finfo(torch.float32).max and scale >= torch.finfo(torch.float32).tiny
    if (beta == 0.0 and alpha not in (1.0, 2.0) and alpha >= _core.FLOAT64_BELOW_ALPHA and in_float32 and _use_triton
            and _stable_triton.available(dev, dt)):
        # Fused CUDA kernel (float32): scale and location applied inside.
        return _stable_triton.symmetric_stable(alpha, shape, gen, dev, scale=scale, shift=loc)
    if alpha == 2.0:
        beta = 0.0  # beta has no effect at alpha = 2
    # S0 draws near alpha = 1 must not be S1 draws minus a huge shift: draw them directly.
    s0 = parameterization == "S0" and beta != 0.0 and alpha != 1.0
    x = _core.standard_stable(alpha, beta, shape, gen, dev, dt, s0=s0)
    # x is standard in the requested parametrization; scale and shift it. At alpha = 1 the
    # S1 location also moves with the scale: delta0 = delta1 + (2/pi) beta scale log(scale).
    offset = loc
    if alpha == 1.0 and beta != 0.0 and parameterization == "S1":
        offset = loc + (2 / math.pi) * beta * scale * math.log(scale)
    # x is a fresh tensor: scale and shift it in place (no extra 1e7-element temporaries).
    return _core.scale_and_shift_(x, scale, offset)


def sample_isotropic(
    alpha: float,
    size: int | tuple[int, ...],
    dim: int,
    *,
    scale: float = 1.0,
    generator: SeedLike = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Draw rotationally invariant alpha-stable vectors in R^dim.

    The law has characteristic function ``E exp(i<u, X>) = exp(-scale**alpha |u|**alpha)``,
    so every projection ``<e, X>`` on a unit vector ``e`` is ``SaS(alpha, scale)``.
    It is sampled as ``X = scale * sqrt(A) G`` with ``G ~ N(0, I_dim)`` and ``A`` a
    totally skewed ``(alpha/2)``-stable variable (Samorodnitsky & Taqqu 1994, Prop. 2.5.2),
    drawn by Kanter's positive form of the CMS formula (``_core.positive_sqrt_mixing``); vectors
    beyond the float range saturate coordinate by coordinate.

    The authors' code for the paper draws a vector whose coordinates have scale
    ``1/sqrt(2)``; this function gives exact scale ``scale`` (1 by default).

    Parameters
    ----------
    alpha : float
        Stability index in (0, 2].
    size : int or tuple of int
        Batch shape.
    dim : int
        Dimension of each vector (>= 1).
    scale : float
        Scale of every one-dimensional projection.

    Returns
    -------
    torch.Tensor
        Shape ``(*size, dim)``.

    Introduced in the chapter *Stable distributions*.
    """
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    alpha = _core.check_sampling_alpha(alpha)
    scale = check_real("scale", scale, low=0.0, low_open=True, finite=True)
    shape = check_size("size", size)
    dim = check_int("dim", dim, low=1)
    check_size("size", (*shape, dim))
    dev = resolve_device(device)
    dt = resolve_dtype(dtype)
    gen = torch_generator(generator, dev)
    g = torch.randn((*shape, dim), generator=gen, device=dev, dtype=dt)
    if alpha == 2.0:
        return _core.scale_and_shift_(g, scale * math.sqrt(2.0), 0.0)  # A = 2: N(0, 2 scale^2 I)
    root_a = _core.draw(shape, gen, dev, dt, functools.partial(_core.sqrt_mixing_from_uniforms, alpha))
    return _core.scale_and_shift_(_core.isotropic_rows_(g, root_a), scale, 0.0)
