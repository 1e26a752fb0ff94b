"""Diagnostics of propagation of chaos for the mean-field particle system of :mod:`htsgd.meanfield`.

Introduced in the chapter *Propagation of chaos* (``book/chaos.md``): the sliced
Wasserstein distance between neuron clouds, the book's experiment over widths
(coupling of tagged neurons with their limit copies, covariances, output spread,
sliced distance to a reference cloud) and the fitted rates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._checks import check_int
from ._random import SeedLike, torch_generator
from .meanfield import (
    MeanFieldProblem,
    _check_run_args,
    limit_chain,
    run_particles,
    teacher_problem,
)
from .sde import convergence_order

__all__ = [
    "sliced_wasserstein",
    "chaos_experiment",
    "fit_rates",
]


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

    For each width ``n``, ``seeds`` networks are trained by :func:`htsgd.meanfield.run_particles`;
    two tagged neurons (``a = +1`` and ``a = -1``) share their initial weights and
    noise path with their limit copies (:func:`htsgd.meanfield.limit_chain`, driven by a reference
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
        Default :func:`htsgd.meanfield.teacher_problem` with a seed drawn from ``generator``.

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
