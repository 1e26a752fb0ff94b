"""The mean-field particle system of a two-layer network, its limit chain, and chaos diagnostics.

Introduced in the chapter *Mean-field limits of two-layer networks* (``book/meanfield.md``);
the diagnostics in *Propagation of chaos* (``book/chaos.md``).

The network is ``f(x) = (1/n) sum_i a_i phi(<w_i, x>)`` with a fixed second layer
``a_i = +1`` for even ``i`` and ``-1`` for odd ``i`` (alternating signs, so every
width holds the two signs in equal proportion) and only the neurons ``w_i in R^d``
trained, on the loss ``L = (1 / 2P) sum_p (f(x_p) - y_p)**2`` over ``P`` training
points. The neurons are particles: with the mean-field step ``eta`` each moves by
the Euler increment of the McKean-Vlasov SDE
``d w_i = b(w_i, mu^n_t) dt + sigma dL^i_t``,

.. math::

    w_i \\leftarrow w_i + \\eta\\, b(w_i, \\mu^n) + \\sigma \\eta^{1/\\alpha} S_i,
    \\qquad b(w, \\mu) = -\\frac{1}{P} \\sum_p (f_\\mu(x_p) - y_p)\\, a\\, \\phi'(\\langle w, x_p\\rangle)\\, x_p,

where ``eta * b(w_i, mu^n) = -eta * n * grad_{w_i} L`` and ``S_i`` is standard
symmetric alpha-stable noise (none, Gaussian ``alpha = 2``, or ``alpha < 2``). The
measure enters the drift only through the outputs ``f_mu(x_p)`` on the training
inputs, so the *limit chain* (the same recursion driven by the mean field instead
of the empirical measure) needs only the output trajectory of one very wide
reference system.

Randomness: the first ``tagged`` neurons of every seed draw their initial weights
and their noise from a stream of their own that does not depend on the width, so
the tagged neurons of networks of different widths, and their limit copies, share
both their initial weights and their noise path (synchronous coupling).
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
from ._checks import check_bool, check_choice, check_int, check_real
from ._random import SeedLike, resolve_dtype, torch_generator
from .sde import convergence_order

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
    "sliced_wasserstein",
    "chaos_experiment",
    "fit_rates",
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


def second_layer(width: int, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The fixed second layer ``a_i = +1`` for even ``i``, ``-1`` for odd ``i``, shape ``(width,)``.

    Examples
    --------
    >>> second_layer(4)
    tensor([ 1., -1.,  1., -1.])

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    n = check_int("width", width, low=1)
    a = torch.ones(n, dtype=resolve_dtype(dtype))
    a[1::2] = -1
    return a


def _check_activation(activation: str) -> tuple[Callable, Callable]:
    return _ACTIVATIONS[check_choice("activation", activation, tuple(_ACTIVATIONS))]


def network_output(weight: torch.Tensor, a: torch.Tensor, x: torch.Tensor, *, activation: str = "relu") -> torch.Tensor:
    """``f(x) = (1/n) sum_i a_i phi(<w_i, x>)`` for a batch of networks.

    Parameters
    ----------
    weight : torch.Tensor
        Neurons, ``(..., n, d)`` (leading dimensions: independent networks, e.g. seeds).
    a : torch.Tensor
        Second layer, ``(n,)``.
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
    return phi(weight @ x.T).transpose(-1, -2) @ a / a.shape[0]


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
        ``(n,)``.
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
    outputs, then ``phi'(z)`` from ``phi(z)`` (ReLU: ``sign(relu(z)) = 1[z > 0]``;
    tanh: ``1 - tanh(z)**2``). The drift uses ``sum_p r_p phi'(z_ip) x_p = phi'(z_i) @ (r x)``,
    so no ``(n, P)`` array is multiplied by the residual. ``buffers`` (a dict) keeps the
    work array between calls of the same shape.
    """
    lead = weight.shape[:-2]
    n, d = weight.shape[-2:]
    w = weight.reshape(-1, n, d)
    bsz, npts = w.shape[0], x.shape[0]
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
        torch.bmm(a.view(1, 1, n).expand(s1 - s0, 1, n), h, out=out[s0:s1].unsqueeze(1))
        out[s0:s1].div_(n)  # (block, P)
        gate = h.sign_() if activation == "relu" else h.square_().neg_().add_(1.0)
        xr = (out[s0:s1] - y).unsqueeze(-1) * x_step  # (block, P, d)
        torch.addcmul(w[s0:s1], a.unsqueeze(-1), torch.bmm(gate, xr), out=new[s0:s1])
    new = new.reshape(weight.shape)
    if noise is not None:
        new.add_(noise)
    return new, out.reshape(*lead, npts)


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
        ``(n,)``.
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
    eta = check_real("eta", eta, low=0.0, low_open=True)
    if weight.dim() < 2 or weight.shape[-1] != x.shape[-1] or a.shape != weight.shape[-2:-1]:
        raise ValueError(
            f"weight must be (..., n, d) with a of shape (n,) and x of shape (P, d); got "
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


@dataclass
class ParticleRun:
    """What :func:`run_particles` returns.

    Attributes
    ----------
    weight : torch.Tensor
        Final neurons, ``(seeds, n, d)``; the first ``tagged`` rows of each seed are the tagged neurons.
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
        check_real("eta", s["eta"], low=0.0, low_open=True),
        _noise_alpha(s["alpha"]),
        check_real("sigma", s["sigma"], low=0.0),
        s["activation"],
        check_choice("noise", s["noise"], NOISE_KINDS),
    )


#: Defaults of the settings of the dynamics (those of :func:`run_particles`).
_DYNAMICS_DEFAULTS: dict[str, Any] = {"eta": 0.1, "alpha": None, "sigma": 0.0, "activation": "relu", "noise": "per_weight"}


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
    (no noise when ``alpha`` is None or ``sigma = 0``). Initial neurons are
    ``N(0, I_d / d)``.

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
        weights and noise come from ``tag_generator``: the same for every width.
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
    Per step the random numbers are one ``(seeds, tagged, d)`` draw from the tagged
    stream and one ``(seeds, width - tagged, d)`` draw from the other, so the tagged
    neurons' paths do not depend on ``width``. Introduced in the chapter
    *Mean-field limits of two-layer networks*.
    """
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
    a = second_layer(width, dtype=dt)
    tag_shape, rest_shape = (seeds, tagged, d), (seeds, width - tagged, d)
    w = torch.cat([_init(tag_shape, tgen, dt), _init(rest_shape, gen, dt)], dim=1)
    outputs = []
    snapshots = {0: w.clone()} if 0 in snaps else {}

    buffers: dict = {}

    def step(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not loop_over_seeds:
            return _fused_step(w, a, problem.x, problem.y, eta, activation, None, buffers)
        pairs = [_fused_step(w[s], a, problem.x, problem.y, eta, activation, None, buffers) for s in range(seeds)]
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
    neuron's initial weights and receives its noise path: the two differ only
    through the drift (synchronous coupling). Copies are independent of each other.

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
    if not torch.is_tensor(reference_output) or reference_output.dim() != 2:
        raise ValueError("reference_output must be a tensor of shape (steps, P)")
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
    a = second_layer(tagged, dtype=dt)
    w = _init(shape, tgen, dt)
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
    eta = check_real("eta", eta, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=0)
    alpha = _noise_alpha(alpha)
    sigma = check_real("sigma", sigma, low=0.0)
    check_choice("noise", noise, NOISE_KINDS)
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


# ------------------------------------------------------------------------------------------------
# Diagnostics
# ------------------------------------------------------------------------------------------------
def _directions(n_projections: int, d: int, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    u = torch.randn(n_projections, d, generator=gen, dtype=dtype)
    return u / u.norm(dim=1, keepdim=True)


def _w1_rows(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """W1 on the line between the empirical laws of the last-axis rows; ``px (..., n)``, ``py (..., m)``.

    ``W1 = int_0^1 |Q_x(t) - Q_y(t)| dt`` with the empirical quantile functions, which are
    constant between the breakpoints ``i/n`` and ``j/m``: the integral is an exact finite
    sum over the merged breakpoints (the same for every row, so ``py`` is gathered once).
    When one size divides the other (``m = k n``, as the book's widths and reference do),
    the ``i``-th smallest x faces the ``k`` values ``(i-1) k + 1 .. i k`` of sorted y, each
    over a length ``1/m``: a broadcast difference, without the gather of merged breakpoints.
    """
    px, _ = px.sort(dim=-1)
    py, _ = py.sort(dim=-1)
    n, m = px.shape[-1], py.shape[-1]
    if n == m:
        return (px - py).abs().mean(dim=-1)
    if m % n == 0:
        return (px.unsqueeze(-1) - py.unflatten(-1, (n, m // n))).abs_().mean(dim=(-2, -1))
    if n % m == 0:
        return (px.unflatten(-1, (m, n // m)) - py.unsqueeze(-1)).abs_().mean(dim=(-2, -1))
    # Breakpoints t = T / (n m) with integer T: i m (i = 1..n) and j n (j = 1..m).
    T = torch.unique(torch.cat([torch.arange(1, n + 1) * m, torch.arange(1, m + 1) * n]))
    dt = torch.diff(T, prepend=T.new_zeros(1)).to(px.dtype) / (n * m)
    ix = (T + m - 1) // m - 1  # Q_x on (t_{k-1}, t_k] is the ceil(t_k n)-th smallest x
    iy = (T + n - 1) // n - 1
    gap = px.index_select(-1, ix.to(px.device)) - py.index_select(-1, iy.to(py.device))
    return gap.abs_() @ dt.to(px.device)


def sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    n_projections: int = 256,
    test_function: Callable[[torch.Tensor], torch.Tensor] | None = None,
    generator: SeedLike = None,
) -> torch.Tensor:
    """Sliced Wasserstein-1: the mean over random unit directions ``u`` of ``W1(g(<u, x>), g(<u, y>))``.

    Parameters
    ----------
    x : torch.Tensor
        Samples ``(n, d)``, or a batch ``(B, n, d)`` of samples compared with the same ``y``
        on the same directions.
    y : torch.Tensor
        Samples ``(m, d)``.
    n_projections : int
        Number of directions, drawn uniformly on the unit sphere.
    test_function : callable, optional
        ``g``, applied elementwise to the projections; None is the identity. A bounded
        ``g`` such as ``torch.tanh`` keeps the distance finite and its estimate stable
        under heavy tails.
    generator : None, int or torch.Generator
        Seed of the directions.

    Returns
    -------
    torch.Tensor
        A scalar (or ``(B,)``), in the dtype of ``x``.

    Notes
    -----
    Each one-dimensional ``W1`` is exact for the two empirical laws
    (``int |F_x - F_y|``, or the mean gap of sorted samples when ``n = m``). For
    ``d = 1`` every direction is ``+-1`` and the result is the plain ``W1`` when ``g``
    is odd or the identity. Introduced in the chapter *Propagation of chaos*.

    Examples
    --------
    >>> x = torch.zeros(100, 3, dtype=torch.float64)
    >>> float(sliced_wasserstein(x, x + torch.tensor([0.0, 0.0, 2.0]), n_projections=4000, generator=0))  # doctest: +ELLIPSIS
    1.0...
    """
    if not torch.is_tensor(x) or not torch.is_tensor(y):
        raise TypeError("x and y must be torch tensors")
    if x.dim() not in (2, 3) or y.dim() != 2:
        raise ValueError(f"x must be (n, d) or (B, n, d) and y (m, d); got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y must have the same dimension d, got {x.shape[-1]} and {y.shape[-1]}")
    if x.shape[-2] == 0 or y.shape[0] == 0:
        raise ValueError("x and y must hold at least one sample each")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise TypeError("x and y must be floating tensors")
    n_projections = check_int("n_projections", n_projections, low=1)
    if test_function is not None and not callable(test_function):
        raise TypeError(f"test_function must be None or callable, got {type(test_function).__name__}")
    g = (lambda t: t) if test_function is None else test_function
    gen = torch_generator(generator, "cpu")
    u = _directions(n_projections, x.shape[-1], gen, x.dtype).to(x.device)
    px = g(x @ u.T).transpose(-1, -2)  # (..., P, n)
    py = g(y.to(x.dtype) @ u.T).transpose(-1, -2)  # (P, m)
    return _w1_rows(px, py).mean(dim=-1)


def step_condition(width: Any, alpha: float) -> Any:
    """The theorem's step-size condition ``eta <= n**(-alpha/2 - 1)``.

    Examples
    --------
    >>> f"{step_condition(4096, 1.5):.1e}"
    '4.8e-07'

    Introduced in the chapter *Mean-field limits of two-layer networks*.
    """
    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    n = np.asarray(width, dtype=float)
    if np.any(n < 1):
        raise ValueError(f"width must be >= 1, got {width!r}")
    out = n ** (-alpha / 2 - 1)
    return float(out) if out.ndim == 0 else out


def _frobenius_cov(u: torch.Tensor, v: torch.Tensor) -> float:
    """Frobenius norm of the sample cross-covariance over the first axis of ``u, v (S, d)``."""
    uc, vc = u - u.mean(dim=0), v - v.mean(dim=0)
    return float((uc.T @ vc / (u.shape[0] - 1)).norm())


def chaos_experiment(
    widths: Sequence[int],
    *,
    alpha: float | None = None,
    sigma: float = 0.0,
    steps: int = 200,
    seeds: int = 16,
    generator: SeedLike = None,
    eta: float = 0.1,
    activation: str = "relu",
    noise: str = "per_weight",
    reference_width: int | None = None,
    n_projections: int = 64,
    test_function: Callable[[torch.Tensor], torch.Tensor] | None = torch.tanh,
    problem: MeanFieldProblem | None = None,
) -> Any:
    """The book's propagation-of-chaos experiment: one row of diagnostics per width.

    For each width ``n``, ``seeds`` networks are trained by :func:`run_particles`;
    two tagged neurons (``a = +1`` and ``a = -1``) share their initial weights and
    noise path with their limit copies (:func:`limit_chain`, driven by a reference
    system of width ``reference_width``) and across widths.

    Parameters
    ----------
    widths : sequence of int
        Widths, each >= 2 and below ``reference_width``.
    alpha : float or None
        Noise index in (0, 2]; None: no noise.
    sigma : float
        Noise level.
    steps : int
        Steps of size ``eta`` (the diagnostics are taken at time ``steps * eta``).
    seeds : int
        Independent networks per width, >= 2.
    generator : None, int or torch.Generator
        Seed of everything (data, streams, projections).
    eta : float
        Mean-field time step.
    activation : {"relu", "tanh"}
    noise : {"per_weight", "isotropic"}
    reference_width : int, optional
        Width of the reference system (default ``8 * max(widths)``).
    n_projections : int
        Directions of the sliced Wasserstein distance (the same directions at every width).
    test_function : callable or None
        Bounded function applied to the projections (default ``torch.tanh``).
    problem : MeanFieldProblem, optional
        Default :func:`teacher_problem` with a seed drawn from ``generator``.

    Returns
    -------
    pandas.DataFrame
        One row per width, columns

        ``width``;
        ``coupling``: mean over seeds and tagged neurons of ``|w_j - w_bar_j|``;
        ``coupling_median``: its median;
        ``covariance``: Frobenius norm of the covariance across seeds of the two tagged
        neurons' deviations ``w_j - w_bar_j`` from their limit copies (the dependence the
        interaction creates; the sample covariance of the neurons themselves has a floor of
        order ``Var(w) / sqrt(seeds)`` from their independent parts, hidden by nothing);
        ``covariance_raw``: Frobenius norm of the sample covariance of the two tagged neurons;
        ``output_variance``: variance across seeds of the output, averaged over the test inputs;
        ``sliced_w1``: sliced W1 of ``test_function`` projections between each seed's neuron
        cloud and the reference cloud, averaged over seeds.
        ``attrs`` holds the settings and the reference width.

    Introduced in the chapter *Propagation of chaos*.
    """
    import pandas as pd

    widths = [check_int(f"widths[{i}]", w, low=2) for i, w in enumerate(widths)]
    if not widths:
        raise ValueError("widths must hold at least one width")
    seeds = check_int("seeds", seeds, low=2)
    ref_width = 8 * max(widths) if reference_width is None else reference_width
    ref_width = check_int("reference_width", ref_width, low=max(widths) + 1)
    _check_run_args(max(widths), seeds, steps, eta, alpha, sigma, activation, 2, noise)
    gen = torch_generator(generator, "cpu")
    data_seed, tag_seed, rest_seed, ref_seed, proj_seed = (
        int(s) for s in torch.randint(0, 2**62, (5,), generator=gen)
    )
    if problem is None:
        problem = teacher_problem(generator=data_seed)
    common = dict(steps=steps, eta=eta, alpha=alpha, sigma=sigma, activation=activation, noise=noise)
    ref = run_particles(problem, ref_width, seeds=1, tagged=0, generator=ref_seed, **common)
    ref_cloud = ref.weight[0]
    chain_args = {k: v for k, v in common.items() if k != "steps"}
    w_bar = limit_chain(problem, ref.train_output[:-1, 0], seeds=seeds, tagged=2, tag_generator=tag_seed, **chain_args)
    rows = []
    for n in widths:
        run = run_particles(problem, n, seeds=seeds, tagged=2, generator=rest_seed, tag_generator=tag_seed, **common)
        tag = run.weight[:, :2]
        dev = tag - w_bar
        dist = dev.norm(dim=-1)
        sw = sliced_wasserstein(
            run.weight, ref_cloud, n_projections=n_projections, test_function=test_function, generator=proj_seed
        )
        rows.append({
            "width": n,
            "coupling": float(dist.mean()),
            "coupling_median": float(dist.median()),
            "covariance": _frobenius_cov(dev[:, 0], dev[:, 1]),
            "covariance_raw": _frobenius_cov(tag[:, 0], tag[:, 1]),
            "output_variance": float(run.test_output.var(dim=0).mean()),
            "sliced_w1": float(sw.mean()),
        })
    df = pd.DataFrame(rows)
    df.attrs.update({"alpha": alpha, "sigma": sigma, "steps": steps, "eta": eta, "seeds": seeds,
                     "reference_width": ref_width, "activation": activation, "noise": noise})
    return df


def fit_rates(table: Any, columns: Sequence[str] | None = None, *, min_width: int = 1) -> dict[str, float]:
    """Fitted exponents ``p`` of ``value ~ C n**p`` per column of a :func:`chaos_experiment` table.

    The slope of the least-squares line through ``(log n, log value)`` over widths
    ``>= min_width``, computed by :func:`htsgd.sde.convergence_order`.

    Parameters
    ----------
    table : pandas.DataFrame
        With a ``width`` column.
    columns : sequence of str, optional
        Default: every column except ``width``.
    min_width : int
        Smallest width used in the fit.

    Returns
    -------
    dict of str to float

    Introduced in the chapter *Propagation of chaos*.
    """
    min_width = check_int("min_width", min_width, low=1)
    cols = [c for c in table.columns if c != "width"] if columns is None else list(columns)
    for c in cols:
        if c not in table.columns:
            raise ValueError(f"columns: {c!r} is not a column of the table ({list(table.columns)})")
    sub = table[table["width"] >= min_width]
    if len(sub) < 2:
        raise ValueError(f"min_width = {min_width} leaves {len(sub)} widths; at least 2 are needed")
    return {c: convergence_order(sub["width"].to_numpy(float), sub[c].to_numpy(float)) for c in cols}
