"""The mean-field particle system of a two-layer network and its limit chain.

Introduced in the chapter *Mean-field limits of two-layer networks* (``book/meanfield.md``);
the diagnostics of propagation of chaos built on it are in :mod:`htsgd.chaos`.

The network is ``f(x) = (1/n) sum_i a_i phi(<w_i, x>)`` with a fixed second layer of
iid Rademacher signs ``a_i`` (``+1`` or ``-1`` with probability 1/2, drawn from the seed)
and only the neurons ``w_i in R^d`` trained, on the loss
``L = (1 / 2P) sum_p (f(x_p) - y_p)**2`` over ``P`` training points. The particles are
the pairs ``(w_i, a_i)``: their initial values are iid, the step treats every pair
alike and the noises are iid, so the joint law of the ``n`` pairs is exchangeable and
the limit is one McKean-Vlasov law on pairs (``a_i`` never moves). With the
mean-field step ``eta`` each neuron moves by the Euler increment of the SDE
``d w_i = b(w_i, a_i, mu^n_t) dt + sigma dL^i_t``,

.. math::

    w_i \\leftarrow w_i + \\eta\\, b(w_i, \\mu^n) + \\sigma \\eta^{1/\\alpha} S_i,
    \\qquad b(w, \\mu) = -\\frac{1}{P} \\sum_p (f_\\mu(x_p) - y_p)\\, a\\, \\phi'(\\langle w, x_p\\rangle)\\, x_p,

where ``eta * b(w_i, mu^n) = -eta * n * grad_{w_i} L`` and ``S_i`` is standard
symmetric alpha-stable noise (none, Gaussian ``alpha = 2``, or ``alpha < 2``). The
measure enters the drift only through the outputs ``f_mu(x_p)`` on the training
inputs, so the *limit chain* (the same recursion driven by the mean field instead
of the empirical measure) needs only the output trajectory of one very wide
reference system.

Randomness: the first ``tagged`` neurons of every seed draw their initial weights,
their signs and their noise from a stream of their own that does not depend on the
width, so the tagged neurons of networks of different widths, and their limit copies,
share their initial pair ``(w_0, a)`` and their noise path (synchronous coupling).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import noise as _noise
from . import stable
from ._checks import check_bool, check_choice, check_finite, check_int, check_real
from ._random import SeedLike, resolve_dtype, torch_generator

__all__ = [
    "MeanFieldProblem",
    "ParticleRun",
    "teacher_problem",
    "second_layer",
    "network_output",
    "drift",
    "particle_step",
    "run_particles",
    "limit_chain",
    "train_meanfield",
    "output_iqr",
    "step_condition",
    "NOISE_KINDS",
]

#: How a neuron's noise is drawn: iid ``SaS(alpha, 1)`` per coordinate, or one isotropic stable vector
#: (the types of :mod:`htsgd.noise` the particle dynamics implement).
NOISE_KINDS = _noise.names(mean_field=True)

_ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
}


# ------------------------------------------------------------------------------------------------
# The problem and the particle step
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeanFieldProblem:
    """Training and test inputs of a regression task for the mean-field network.

    Attributes
    ----------
    x : torch.Tensor
        Training inputs, ``(P, d)``.
    y : torch.Tensor
        Training targets, ``(P,)``.
    x_test : torch.Tensor
        Inputs at which outputs are compared across seeds, ``(Q, d)``.

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """

    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor

    def __post_init__(self) -> None:
        # Checked once here, so every function that takes a problem can trust its shapes and dtype.
        for name in ("x", "y", "x_test"):
            t = getattr(self, name)
            if not torch.is_tensor(t):
                raise TypeError(f"MeanFieldProblem.{name} must be a torch tensor, got {type(t).__name__}")
            if t.dtype not in (torch.float32, torch.float64):
                raise TypeError(f"MeanFieldProblem.{name} must be float32 or float64, got {t.dtype}")
            if t.requires_grad:
                raise ValueError(f"MeanFieldProblem.{name} must not require grad (pass {name}.detach())")
            if t.device.type != "cpu":
                raise ValueError(f"MeanFieldProblem.{name} must be on the CPU, got {t.device}")
            check_finite(f"MeanFieldProblem.{name}", t)
        if self.x.dim() != 2 or self.x.shape[0] == 0 or self.x.shape[1] == 0:
            raise ValueError(f"MeanFieldProblem.x must be (P, d) with P, d >= 1, got {tuple(self.x.shape)}")
        if self.y.shape != self.x.shape[:1]:
            raise ValueError(
                f"MeanFieldProblem.y must be (P,) = ({self.x.shape[0]},), one target per row of x, got {tuple(self.y.shape)}"
            )
        if self.x_test.dim() != 2 or self.x_test.shape[0] == 0 or self.x_test.shape[1] != self.x.shape[1]:
            raise ValueError(
                f"MeanFieldProblem.x_test must be (Q, {self.x.shape[1]}) with Q >= 1, got {tuple(self.x_test.shape)}"
            )
        if not self.x.dtype == self.y.dtype == self.x_test.dtype:
            raise TypeError(
                f"MeanFieldProblem.x, y and x_test must share one dtype, got {self.x.dtype}, {self.y.dtype}, "
                f"{self.x_test.dtype}"
            )

    @property
    def input_dim(self) -> int:
        return int(self.x.shape[1])


def teacher_problem(
    *,
    input_dim: int = 10,
    n_train: int = 128,
    n_test: int = 64,
    teacher_width: int = 3,
    generator: SeedLike = 0,
    dtype: torch.dtype | None = None,
) -> MeanFieldProblem:
    """The book's task: ``x ~ N(0, I_d)`` and ``y = mean_j relu(<v_j, x>)`` for unit vectors ``v_j``.

    Parameters
    ----------
    input_dim : int
        ``d``.
    n_train, n_test : int
        Training points ``P`` and test inputs ``Q``.
    teacher_width : int
        Number of ReLUs the teacher averages (3 in the book).
    generator : int or torch.Generator
        Seed of the teacher and the inputs.
    dtype : torch.dtype, optional
        float32 (default) or float64.

    Returns
    -------
    MeanFieldProblem

    Examples
    --------
    >>> p = teacher_problem(generator=0)
    >>> tuple(p.x.shape), tuple(p.y.shape), tuple(p.x_test.shape)
    ((128, 10), (128,), (64, 10))

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    d = check_int("input_dim", input_dim, low=1)
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    k = check_int("teacher_width", teacher_width, low=1)
    dt = resolve_dtype(dtype)
    gen = torch_generator(generator, "cpu")
    v = torch.randn(k, d, generator=gen, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    x = torch.randn(n_train + n_test, d, generator=gen, dtype=torch.float64)
    y = torch.relu(x[:n_train] @ v.T).mean(dim=1)
    return MeanFieldProblem(x=x[:n_train].to(dt), y=y.to(dt), x_test=x[n_train:].to(dt))


def second_layer(
    shape: int | Sequence[int], *, generator: SeedLike = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The fixed second layer: iid Rademacher signs ``a_i`` (``+1`` or ``-1``, each with probability 1/2).

    Drawing the signs iid (rather than fixing a pattern such as ``+1, -1, +1, ...``) makes
    the initial pairs ``(w_i, a_i)`` iid, so the particles are exchangeable.

    Parameters
    ----------
    shape : int or sequence of int
        The width ``n``, or e.g. ``(seeds, n)``; every entry >= 1 (a width of zero has no network).
    generator : None, int or torch.Generator
        Seed of the signs.
    dtype : torch.dtype, optional
        float32 (default) or float64.

    Returns
    -------
    torch.Tensor
        Entries in ``{-1, +1}``, of the given shape.

    Examples
    --------
    >>> a = second_layer((3, 1000), generator=0)
    >>> sorted(a.unique().tolist()), abs(float(a.mean())) < 0.1
    ([-1.0, 1.0], True)

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    dims = (shape,) if isinstance(shape, (int, np.integer)) or not isinstance(shape, Sequence) else tuple(shape)
    if not dims:
        raise ValueError("shape must hold at least one dimension (the width)")
    dims = tuple(check_int(f"shape[{i}]" if len(dims) > 1 else "width", v, low=1) for i, v in enumerate(dims))
    gen = torch_generator(generator, "cpu")
    return torch.randint(0, 2, dims, generator=gen).to(resolve_dtype(dtype)).mul_(2).sub_(1)


def _check_activation(activation: str) -> tuple[Callable, Callable]:
    return _ACTIVATIONS[check_choice("activation", activation, tuple(_ACTIVATIONS))]


def network_output(weight: torch.Tensor, a: torch.Tensor, x: torch.Tensor, *, activation: str = "relu") -> torch.Tensor:
    """``f(x) = (1/n) sum_i a_i phi(<w_i, x>)`` for a batch of networks.

    Parameters
    ----------
    weight : torch.Tensor
        Neurons, ``(..., n, d)`` (leading dimensions: independent networks, e.g. seeds).
    a : torch.Tensor
        Second layer, ``(n,)`` (shared) or ``(..., n)`` (one per network).
    x : torch.Tensor
        Inputs, ``(P, d)``.
    activation : {"relu", "tanh"}

    Returns
    -------
    torch.Tensor
        ``(..., P)``.

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    phi, _ = _check_activation(activation)
    return torch.matmul(phi(weight @ x.T).transpose(-1, -2), a.unsqueeze(-1)).squeeze(-1) / a.shape[-1]


def drift(
    weight: torch.Tensor, a: torch.Tensor, x: torch.Tensor, residual: torch.Tensor, *, activation: str = "relu"
) -> torch.Tensor:
    """The mean-field drift ``b(w_i, mu) = -(1/P) sum_p r_p a_i phi'(<w_i, x_p>) x_p``.

    ``r_p = f_mu(x_p) - y_p`` is the residual of the network (of the empirical
    measure ``mu^n``, or of the mean field for the limit chain); ``b = -n grad_{w_i} L``
    for the loss ``L = (1/2P) sum_p r_p**2``.

    Parameters
    ----------
    weight : torch.Tensor
        ``(..., n, d)``.
    a : torch.Tensor
        ``(n,)`` or ``(..., n)``.
    x : torch.Tensor
        ``(P, d)``.
    residual : torch.Tensor
        ``(..., P)``, broadcast against the leading dimensions of ``weight``.

    Returns
    -------
    torch.Tensor
        ``(..., n, d)``.

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    _, dphi = _check_activation(activation)
    gate = dphi(weight @ x.T) * a.unsqueeze(-1)  # (..., n, P)
    return -(gate * residual.unsqueeze(-2)) @ x / x.shape[0]


#: Bytes of pre-activations processed at once: a block of seeds whose ``(seeds, n, P)`` work array
#: stays in the 2 MiB L2 cache of one core with room to spare (measured once on the loaded 2-core
#: machine, width 256, 16 seeds, float32, 50 steps: 0.042 s CPU at 1 MiB, 0.046 s at 0.5 and 2 MiB,
#: 0.058 s at 0.25 MiB, 0.047 s for the whole batch in one block).
_BLOCK_BYTES = 1 << 20


def _fused_step(
    weight: torch.Tensor,
    a: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    eta: float,
    activation: str,
    noise: torch.Tensor | None,
    buffers: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`particle_step` and the outputs before it, with one work array of pre-activations per block of seeds.

    Seeds are independent, so they are stepped in blocks whose ``(block, n, P)``
    pre-activations fit in the L2 cache (``_BLOCK_BYTES``); the results agree with one
    block for the whole batch to rounding (bit for bit on the shapes we checked, widths
    3 to 4096 with 1 to 16 seeds). In one array, overwritten in place: the pre-activations
    ``z = W x^T`` (one ``(block n, d) x (d, P)`` product), then ``phi(z)`` for the
    outputs, then ``phi'(z)`` from ``phi(z)`` (ReLU: ``1[relu(z) > 0] = 1[z > 0]``;
    tanh: ``1 - tanh(z)**2``). The drift uses ``sum_p r_p phi'(z_ip) x_p = phi'(z_i) @ (r x)``,
    so no ``(n, P)`` array is multiplied by the residual (the product is formed transposed, as
    ``(r x)^T phi'(z)^T``, the faster layout for MKL). ``buffers`` (a dict) keeps the
    work array between calls of the same shape.
    """
    lead = weight.shape[:-2]
    n, d = weight.shape[-2:]
    w = weight.reshape(-1, n, d)
    bsz, npts = w.shape[0], x.shape[0]
    a = a.expand(*lead, n).reshape(bsz, n)  # one row of signs per system
    # Nearly equal blocks of at least 2 seeds (torch's kernels round a batch of one differently).
    n_blocks = max(1, bsz // max(2, _BLOCK_BYTES // (n * npts * w.element_size())))
    bounds = [i * bsz // n_blocks for i in range(n_blocks + 1)]
    shape = (-(-bsz // n_blocks), n, npts)
    if buffers is not None and buffers.get("shape") == shape and buffers["work"].dtype == w.dtype:
        work = buffers["work"]
    else:
        work = torch.empty(shape, dtype=w.dtype)
        if buffers is not None:
            buffers.update(shape=shape, work=work)
    new = torch.empty_like(w)
    out = torch.empty(bsz, npts, dtype=w.dtype)
    x_step = x * (-eta / npts)  # the step's factor folded into r x
    for s0, s1 in zip(bounds[:-1], bounds[1:], strict=True):
        z = work[: s1 - s0]
        torch.mm(w[s0:s1].reshape(-1, d), x.T, out=z.view(-1, npts))
        h = z.relu_() if activation == "relu" else z.tanh_()
        torch.bmm(a[s0:s1].unsqueeze(1), h, out=out[s0:s1].unsqueeze(1))
        out[s0:s1].div_(n)  # (block, P)
        # ReLU: 1[z > 0] = 1[relu(z) > 0], written in place by gt_ (sign_ gives the same values, but torch's
        # kernel for it without AVX2 is about 7 times slower than gt_'s: measured under ATEN_CPU_CAPABILITY=default).
        gate = h.gt_(0.0) if activation == "relu" else h.square_().neg_().add_(1.0)
        rx = x_step.T * (out[s0:s1] - y).unsqueeze(1)  # (block, d, P)
        # The drift as (r x)^T phi'(z)^T, (block, d, n): the same sums as phi'(z) @ (r x), but a product with d = 10
        # rows and n columns runs about 3 times faster than one with n rows and d = 10 columns (MKL, 2 seeds of
        # width 1024, P = 128).
        drift_t = torch.bmm(rx, gate.transpose(1, 2))
        torch.addcmul(w[s0:s1], a[s0:s1].unsqueeze(-1), drift_t.transpose(1, 2), out=new[s0:s1])
    new = new.reshape(weight.shape)
    if noise is not None:
        new.add_(noise)
    return new, out.reshape(*lead, npts)


def _check_step_tensors(weight: Any, a: Any, x: Any, y: Any, noise: Any) -> None:
    """Types, dtypes and gradients of :func:`particle_step`'s tensors (its shapes are checked there)."""
    named = {"weight": weight, "a": a, "x": x, "y": y, **({} if noise is None else {"noise": noise})}
    for name, t in named.items():
        if not torch.is_tensor(t) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating torch tensor, got {getattr(t, 'dtype', type(t).__name__)}")
        if t.requires_grad:
            raise ValueError(f"{name} must not require grad: the fused step writes in place (pass {name}.detach())")
        if t.dtype != weight.dtype:
            raise TypeError(f"{name} must have the dtype of weight ({weight.dtype}), got {t.dtype}")
    if y.shape != x.shape[:1]:
        raise ValueError(f"y must be (P,) = ({x.shape[0]},), one target per row of x, got {tuple(y.shape)}")


def particle_step(
    weight: torch.Tensor,
    a: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eta: float,
    activation: str = "relu",
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """One full-batch mean-field step of every particle: ``w_i + eta b(w_i, mu^n) + noise_i``.

    ``eta * b(w_i, mu^n) = -eta * n * grad_{w_i} L``: the mean-field step ``eta``
    moves each neuron ``n`` times as far as plain gradient descent with step ``eta``
    (:func:`drift` is the same drift written plainly; the tests check that the two agree
    and that both equal autograd's gradient).

    Parameters
    ----------
    weight : torch.Tensor
        ``(..., n, d)``; leading dimensions are independent systems (seeds).
    a : torch.Tensor
        ``(n,)`` (shared) or ``weight.shape[:-1]`` (one row of signs per system).
    x, y : torch.Tensor
        Training inputs ``(P, d)`` and targets ``(P,)``.
    eta : float
        Mean-field time step, > 0.
    activation : {"relu", "tanh"}
    noise : torch.Tensor, optional
        Increment already scaled (``sigma * eta**(1/alpha) * S``), shape of ``weight``.

    Returns
    -------
    torch.Tensor
        The new weights (a new tensor).

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    _check_activation(activation)
    eta = check_real("eta", eta, low=0.0, low_open=True, finite=True)
    _check_step_tensors(weight, a, x, y, noise)
    if weight.dim() < 2 or weight.shape[-1] != x.shape[-1] or a.shape not in (weight.shape[-2:-1], weight.shape[:-1]):
        raise ValueError(
            f"weight must be (..., n, d) with a of shape (n,) or (..., n) and x of shape (P, d); got "
            f"{tuple(weight.shape)}, {tuple(a.shape)}, {tuple(x.shape)}"
        )
    if noise is not None and noise.shape != weight.shape:
        raise ValueError(f"noise must have the shape of weight {tuple(weight.shape)}, got {tuple(noise.shape)}")
    return _fused_step(weight, a, x, y, eta, activation, noise)[0]


# ------------------------------------------------------------------------------------------------
# Noise, runs of the particle system and the limit chain
# ------------------------------------------------------------------------------------------------
def _noise_alpha(alpha: Any) -> float | None:
    if alpha is None:
        return None
    return check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)


def _draw_noise(
    alpha: float | None, sigma: float, eta: float, shape: tuple[int, ...], noise: str, gen: torch.Generator,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """``sigma * eta**(1/alpha) * S`` with ``S`` standard stable (per coordinate or isotropic); None if no noise."""
    if alpha is None or sigma == 0.0:
        return None
    scale = sigma * eta ** (1.0 / alpha)
    if noise == "per_weight":
        return stable.sample(alpha, shape, scale=scale, generator=gen, dtype=dtype)
    return stable.sample_isotropic(alpha, shape[:-1], shape[-1], scale=scale, generator=gen, dtype=dtype)


def _init(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """Initial neurons ``w_i ~ N(0, I_d / d)``."""
    return torch.randn(shape, generator=gen, dtype=dtype) / math.sqrt(shape[-1])


def _signs(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """Rademacher signs of :func:`second_layer`, drawn from ``gen`` (an empty shape draws nothing)."""
    if 0 in shape:
        return torch.empty(shape, dtype=dtype)
    return second_layer(shape, generator=gen, dtype=dtype)


@dataclass
class ParticleRun:
    """What :func:`run_particles` returns.

    Attributes
    ----------
    weight : torch.Tensor
        Final neurons, ``(seeds, n, d)``; the first ``tagged`` rows of each seed are the tagged neurons.
    a : torch.Tensor
        The second layer, iid Rademacher signs, ``(seeds, n)``; fixed during training.
    train_output : torch.Tensor
        Outputs on the training inputs before each step and at the end, ``(steps + 1, seeds, P)``.
    test_output : torch.Tensor
        Final outputs on the test inputs, ``(seeds, Q)``.
    snapshots : dict of int to torch.Tensor
        Neurons ``(seeds, n, d)`` at the requested steps.

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """

    weight: torch.Tensor
    train_output: torch.Tensor
    test_output: torch.Tensor
    snapshots: dict[int, torch.Tensor]
    a: torch.Tensor


def _dynamics(**settings: Any) -> tuple[float, float | None, float, str, str]:
    """The settings of the dynamics, checked: ``(eta, alpha, sigma, activation, noise)``.

    The one place that validates them for :func:`run_particles`, :func:`limit_chain` and
    :func:`chaos_experiment`, and that holds :func:`limit_chain`'s defaults (those of
    :func:`run_particles`' signature).
    """
    unknown = sorted(set(settings) - set(_DYNAMICS_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown} of the dynamics; allowed: {list(_DYNAMICS_DEFAULTS)}")
    s = {**_DYNAMICS_DEFAULTS, **settings}
    _check_activation(s["activation"])
    return (
        check_real("eta", s["eta"], low=0.0, low_open=True, finite=True),
        _noise_alpha(s["alpha"]),
        check_real("sigma", s["sigma"], low=0.0, finite=True),
        s["activation"],
        check_choice("noise", s["noise"], NOISE_KINDS),
    )


#: Defaults of the settings of the dynamics (those of :func:`run_particles`).
_DYNAMICS_DEFAULTS: dict[str, Any] = {"eta": 0.1, "alpha": None, "sigma": 0.0, "activation": "relu", "noise": "per_weight"}


def _check_problem(problem: Any) -> None:
    if not isinstance(problem, MeanFieldProblem):
        raise TypeError(f"problem must be a MeanFieldProblem (see teacher_problem), got {type(problem).__name__}")


def _check_run_args(width, seeds, steps, eta, alpha, sigma, activation, tagged, noise):
    width = check_int("width", width, low=1)
    seeds = check_int("seeds", seeds, low=1)
    steps = check_int("steps", steps, low=0)
    eta, alpha, sigma, _, _ = _dynamics(eta=eta, alpha=alpha, sigma=sigma, activation=activation, noise=noise)
    tagged = check_int("tagged", tagged, low=0, high=width)
    return width, seeds, steps, eta, alpha, sigma, tagged


def run_particles(
    problem: MeanFieldProblem,
    width: int,
    *,
    seeds: int = 1,
    steps: int = 200,
    eta: float = 0.1,
    alpha: float | None = None,
    sigma: float = 0.0,
    activation: str = "relu",
    noise: str = "per_weight",
    tagged: int = 2,
    snapshot_steps: Sequence[int] = (),
    loop_over_seeds: bool = False,
    generator: SeedLike = None,
    tag_generator: SeedLike = None,
) -> ParticleRun:
    """Train ``seeds`` independent mean-field networks of one width, all seeds in one tensor.

    Each step is :func:`particle_step` with noise ``sigma * eta**(1/alpha) * S``
    (no noise when ``alpha`` is None or ``sigma = 0``). Initial pairs are iid:
    ``w_i ~ N(0, I_d / d)`` and an independent Rademacher sign ``a_i`` (:func:`second_layer`).

    Parameters
    ----------
    problem : MeanFieldProblem
        Data (its dtype is used throughout).
    width : int
        ``n``.
    seeds : int
        Independent networks trained together, the leading dimension of every tensor.
    steps : int
        Number of steps; the final time is ``steps * eta``.
    eta : float
        Mean-field time step.
    alpha : float or None
        Stability index of the noise in (0, 2]; None: no noise.
    sigma : float
        Noise level, >= 0.
    activation : {"relu", "tanh"}
    noise : {"per_weight", "isotropic"}
        iid ``SaS(alpha, 1)`` coordinates, or one isotropic stable vector per neuron
        (every projection ``SaS(alpha, 1)``).
    tagged : int
        Number of tagged neurons (the first rows of each seed), whose initial
        weights, signs and noise come from ``tag_generator``: the same for every width.
    snapshot_steps : sequence of int
        Steps (0 to ``steps``) at which to keep a copy of the neurons.
    loop_over_seeds : bool
        Reference implementation: step each seed's system in a Python loop, on the
        same random numbers. The result equals the vectorized run (up to rounding).
    generator, tag_generator : None, int or torch.Generator
        Streams of the untagged and of the tagged neurons. ``tag_generator=None``
        derives the tagged stream from ``generator``.

    Returns
    -------
    ParticleRun

    Notes
    -----
    Each stream first draws its neurons' initial weights, then their signs; per step the
    random numbers are one ``(seeds, tagged, d)`` draw from the tagged stream and one
    ``(seeds, width - tagged, d)`` draw from the other, so the tagged neurons' paths do
    not depend on ``width``. Introduced in the chapter
    *Mean-field limits of two-layer networks*.
    """
    _check_problem(problem)
    width, seeds, steps, eta, alpha, sigma, tagged = _check_run_args(
        width, seeds, steps, eta, alpha, sigma, activation, tagged, noise
    )
    check_bool("loop_over_seeds", loop_over_seeds)
    snaps = sorted({check_int("snapshot_steps", s, low=0, high=steps) for s in snapshot_steps})
    dt = problem.x.dtype
    gen = torch_generator(generator, "cpu")
    if tag_generator is None:
        tag_generator = int(torch.randint(0, 2**62, (1,), generator=gen))
    tgen = torch_generator(tag_generator, "cpu")
    d = problem.input_dim
    tag_shape, rest_shape = (seeds, tagged, d), (seeds, width - tagged, d)
    w_tag, a_tag = _init(tag_shape, tgen, dt), _signs(tag_shape[:-1], tgen, dt)
    w_rest, a_rest = _init(rest_shape, gen, dt), _signs(rest_shape[:-1], gen, dt)
    w, a = torch.cat([w_tag, w_rest], dim=1), torch.cat([a_tag, a_rest], dim=1)
    outputs = []
    snapshots = {0: w.clone()} if 0 in snaps else {}

    buffers: dict = {}

    def step(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not loop_over_seeds:
            return _fused_step(w, a, problem.x, problem.y, eta, activation, None, buffers)
        pairs = [_fused_step(w[s], a[s], problem.x, problem.y, eta, activation, None, buffers) for s in range(seeds)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    for k in range(steps):
        xi_tag = _draw_noise(alpha, sigma, eta, tag_shape, noise, tgen, dt)
        xi_rest = _draw_noise(alpha, sigma, eta, rest_shape, noise, gen, dt)
        w, out = step(w)
        if xi_tag is not None:  # the Levy increments, added in place to the two groups of neurons
            w[:, :tagged] += xi_tag
            w[:, tagged:] += xi_rest
        outputs.append(out)
        if k + 1 in snaps:
            snapshots[k + 1] = w.clone()
    outputs.append(network_output(w, a, problem.x, activation=activation))
    return ParticleRun(
        weight=w,
        train_output=torch.stack(outputs),
        test_output=network_output(w, a, problem.x_test, activation=activation),
        snapshots=snapshots,
        a=a,
    )


def limit_chain(
    problem: MeanFieldProblem,
    reference_output: torch.Tensor,
    *,
    seeds: int = 1,
    tagged: int = 2,
    tag_generator: SeedLike = None,
    **dynamics: Any,
) -> torch.Tensor:
    """The limit copies of the tagged neurons: the particle recursion driven by the mean field.

    ``w_bar_{k+1} = w_bar_k + eta b(w_bar_k, mu_k) + sigma eta**(1/alpha) S_k``, where
    the mean field ``mu_k`` enters only through its outputs ``reference_output[k]``
    on the training inputs (estimated by a very wide reference system). With the
    same ``tag_generator`` as :func:`run_particles`, each copy starts from the tagged
    neuron's initial weights, carries its sign (``ParticleRun.a[:, :tagged]``) and
    receives its noise path: the two differ only through the drift (synchronous
    coupling). Copies are independent of each other.

    Parameters
    ----------
    problem : MeanFieldProblem
    reference_output : torch.Tensor
        ``(steps, P)``: the mean-field outputs ``f_{mu_k}(x_p)`` before each step
        (``ParticleRun.train_output[:-1, 0]`` of a wide reference run).
    seeds, tagged : int
        As in :func:`run_particles`.
    tag_generator : None, int or torch.Generator
        The tagged stream.
    **dynamics
        ``eta``, ``alpha``, ``sigma``, ``activation``, ``noise``: the settings of the
        dynamics, with the meaning and the defaults they have in :func:`run_particles`.

    Returns
    -------
    torch.Tensor
        Final limit copies, ``(seeds, tagged, d)``.

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    _check_problem(problem)
    if not torch.is_tensor(reference_output) or reference_output.dim() != 2:
        raise ValueError("reference_output must be a tensor of shape (steps, P)")
    check_finite("reference_output", reference_output)
    if reference_output.shape[1] != problem.x.shape[0]:
        raise ValueError(
            f"reference_output must have P = {problem.x.shape[0]} columns, got {reference_output.shape[1]}"
        )
    steps = int(reference_output.shape[0])
    tagged = check_int("tagged", tagged, low=1)
    seeds = check_int("seeds", seeds, low=1)
    eta, alpha, sigma, activation, noise = _dynamics(**dynamics)
    dt = problem.x.dtype
    tgen = torch_generator(tag_generator, "cpu")
    shape = (seeds, tagged, problem.input_dim)
    w, a = _init(shape, tgen, dt), _signs(shape[:-1], tgen, dt)
    for k in range(steps):
        xi = _draw_noise(alpha, sigma, eta, shape, noise, tgen, dt)
        w = w + eta * drift(w, a, problem.x, reference_output[k].to(dt) - problem.y, activation=activation)
        if xi is not None:
            w = w + xi
    return w


def train_meanfield(
    net: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eta: float,
    steps: int,
    alpha: float | None = None,
    sigma: float = 0.0,
    noise: str = "per_weight",
    generator: SeedLike = None,
) -> list[float]:
    """Train a :class:`htsgd.nets.MeanFieldNet` with mean-field steps and Levy noise, full batch.

    Each step moves every neuron by the Euler increment of the particle system:
    ``w_i <- w_i - eta * n * grad_{w_i} L + sigma * eta**(1/alpha) * S_i`` with
    ``L = mean_p (f(x_p) - y_p)**2 / 2`` and ``S_i`` standard stable. The drift uses the
    step ``n * eta`` but the noise the *time step* ``eta``: passing ``lr = n * eta``
    to :class:`htsgd.optim.HeavyTailedSGD` instead would scale the noise by
    ``(n * eta)**(1/alpha)``, the wrong Levy increment. A trainable second layer
    moves with the plain step ``eta * n`` and gets no noise.

    Parameters
    ----------
    net : htsgd.nets.MeanFieldNet
        Trained in place.
    x, y : torch.Tensor
        Inputs ``(P, d)`` and targets ``(P,)`` or ``(P, 1)``.
    eta : float
        Mean-field time step, > 0.
    steps : int
        Number of steps.
    alpha : float or None
        Noise index in (0, 2]; None: no noise.
    sigma : float
        Noise level.
    noise : {"per_weight", "isotropic"}
    generator : None, int or torch.Generator

    Returns
    -------
    list of float
        The loss before each step.

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    from .nets import MeanFieldNet

    if not isinstance(net, MeanFieldNet):
        raise TypeError(f"net must be a htsgd.nets.MeanFieldNet, got {type(net).__name__}")
    eta = check_real("eta", eta, low=0.0, low_open=True, finite=True)
    steps = check_int("steps", steps, low=0)
    alpha = _noise_alpha(alpha)
    sigma = check_real("sigma", sigma, low=0.0, finite=True)
    check_choice("noise", noise, NOISE_KINDS)
    for name, t in (("x", x), ("y", y)):
        if not torch.is_tensor(t) or t.dtype != net.weight.dtype:
            raise TypeError(f"{name} must be a tensor of the network's dtype {net.weight.dtype}, "
                            f"got {getattr(t, 'dtype', type(t).__name__)}")
    y = y.reshape(-1, 1)
    if x.dim() != 2 or x.shape[0] != y.shape[0] or x.shape[1] != net.input_dim:
        raise ValueError(f"x must be (P, {net.input_dim}) with P = len(y), got {tuple(x.shape)} and {len(y)}")
    gen = torch_generator(generator, "cpu")
    n = net.width
    params = [p for p in net.parameters() if p.requires_grad]
    losses = []
    for _ in range(steps):
        loss = 0.5 * ((net(x) - y) ** 2).mean()
        losses.append(float(loss.detach()))
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(eta * n * g)
            xi = _draw_noise(alpha, sigma, eta, tuple(net.weight.shape), noise, gen, net.weight.dtype)
            if xi is not None:
                net.weight.add_(xi)
    return losses


def output_iqr(test_output: torch.Tensor) -> float:
    """Interquartile range over seeds of the output averaged over the test inputs.

    The spread of the trained output across seeds that exists for every noise: with a ReLU
    network and ``alpha < 2`` the output has infinite variance at every width (the weights
    contain the Levy increments), so a sample variance estimates nothing, while quantiles exist.

    Parameters
    ----------
    test_output : torch.Tensor
        ``(seeds, Q)`` (``ParticleRun.test_output``) or ``(seeds,)``; at least 2 seeds, finite.

    Returns
    -------
    float
        ``q_0.75 - q_0.25`` of the seeds' mean outputs (linear interpolation between order
        statistics, numpy's default).

    Examples
    --------
    >>> output_iqr(torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]]))
    2.0

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    if not torch.is_tensor(test_output) or not test_output.is_floating_point():
        raise TypeError(f"test_output must be a floating torch tensor, got {type(test_output).__name__}")
    if test_output.dim() not in (1, 2) or test_output.shape[0] < 2 or test_output.numel() == 0:
        raise ValueError(f"test_output must be (seeds, Q) or (seeds,) with at least 2 seeds, got {tuple(test_output.shape)}")
    if not bool(torch.isfinite(test_output).all()):
        raise ValueError("test_output must be finite (a diverged run has no spread)")
    out = test_output.reshape(test_output.shape[0], -1).double().mean(dim=1)
    q = torch.quantile(out, torch.tensor([0.25, 0.75], dtype=torch.float64))
    return float(q[1] - q[0])


def step_condition(width: Any, alpha: float) -> Any:
    """The theorem's step-size condition ``eta <= n**(-alpha/2 - 1)``.

    Parameters
    ----------
    width : int or array_like of int
        Widths ``n >= 1`` (integers: ``2.5``, ``True``, NaN and ``inf`` are refused).
    alpha : float
        Noise index in (0, 2].

    Returns
    -------
    float or numpy.ndarray
        The largest allowed step, of the shape of ``width``.

    Examples
    --------
    >>> f"{step_condition(4096, 1.5):.1e}"
    '4.8e-07'

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    if np.ndim(width) == 0:
        n = np.asarray(check_int("width", width, low=1), dtype=float)
    else:
        arr = np.asarray(width)
        if arr.size == 0:
            raise ValueError("width must hold at least one width, got an empty array")
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"width must be an integer or an array of integers, got dtype {arr.dtype}")
        if (arr < 1).any():
            raise ValueError(f"width must hold integers >= 1, got {width!r}")
        n = arr.astype(float)
    out = n ** (-alpha / 2 - 1)
    return float(out) if out.ndim == 0 else out
