"""Diagnostics of propagation of chaos for the mean-field particle system of :mod:`htsgd.meanfield`.

Introduced in the chapter *Propagation of chaos* (``book/chaos.md``): the sliced
Wasserstein distance between neuron clouds, the book's experiment over widths
(coupling of tagged neurons with their limit copies, covariances, output spread,
sliced distance to a reference cloud) and the fitted rates.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._checks import check_bool, check_int
from ._random import SeedLike, torch_generator
from .meanfield import (
    MeanFieldProblem,
    _check_run_args,
    limit_chain,
    output_iqr,
    run_particles,
    teacher_problem,
)
from .sde import convergence_order

__all__ = [
    "sliced_wasserstein",
    "cross_covariance_norm",
    "CHAOS_COLUMNS",
    "chaos_experiment",
    "fit_rates",
    "transfer_check",
    "RATE_STATISTICS",
    "width_rates",
    "COVARIANCE_PAIRS",
    "covariance_rates",
    "save_width_runs",
    "load_width_runs",
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


def cross_covariance_norm(u: torch.Tensor, v: torch.Tensor) -> float:
    """Frobenius norm of the sample cross-covariance of ``u`` and ``v`` over their first axis (seeds).

    Parameters
    ----------
    u, v : torch.Tensor
        ``(M, d)`` (or ``(M,)``): seed ``m``'s values in row ``m``, ``M >= 2``.

    Returns
    -------
    float
        ``|| (1 / (M - 1)) sum_m (u_m - u_bar) (v_m - v_bar)^T ||_F``.

    Notes
    -----
    Even for independent ``u`` and ``v`` this is not zero: each entry is a centred average of
    ``M - 1`` products, of standard deviation ``sd(u_i) sd(v_j) / sqrt(M - 1)``, so the norm has
    a floor of order ``sqrt(Var u Var v) d / sqrt(M)``. For the deviations of two neurons from
    their limit copies (variance ``O(1/n)``) that floor alone falls like ``1/n``. Introduced in
    the chapter *Propagation of chaos*.
    """
    if not (torch.is_tensor(u) and torch.is_tensor(v)):
        raise TypeError("u and v must be torch tensors")
    if u.shape != v.shape or u.dim() not in (1, 2):
        raise ValueError(f"u and v must have one shape (M,) or (M, d); got {tuple(u.shape)} and {tuple(v.shape)}")
    if u.shape[0] < 2:
        raise ValueError(f"u and v must hold at least 2 seeds (rows), got {u.shape[0]}")
    u, v = u.reshape(u.shape[0], -1), v.reshape(v.shape[0], -1).to(u.dtype)
    uc, vc = u - u.mean(dim=0), v - v.mean(dim=0)
    return float((uc.T @ vc / (u.shape[0] - 1)).norm())


#: The columns of :func:`chaos_experiment`'s table after ``width``.
CHAOS_COLUMNS = (
    "coupling", "coupling_median", "covariance", "covariance_control", "covariance_raw", "output_iqr", "sliced_w1",
)


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
    return_samples: bool = False,
) -> Any:
    """The book's propagation-of-chaos experiment: one row of diagnostics per width.

    For each width ``n``, ``seeds`` networks are trained by :func:`htsgd.meanfield.run_particles`;
    two tagged neurons (their signs drawn like the others', iid Rademacher) share their initial
    pair and noise path with their limit copies (:func:`htsgd.meanfield.limit_chain`, driven by
    a reference system of width ``reference_width``) and across widths. A second reference, of
    half the width and its own stream, drives a second set of limit copies: their distance from
    the first measures the error of the reference itself.

    Parameters
    ----------
    widths : sequence of int
        Distinct widths, each >= 2 and below ``reference_width``.
    alpha : float or None
        Noise index in (0, 2]; None: no noise.
    sigma : float
        Noise level, finite and >= 0.
    steps : int
        Steps of size ``eta`` (the diagnostics are taken at time ``steps * eta``), >= 0.
    seeds : int
        Independent networks per width, >= 2 (the covariance columns pair seed ``m`` with ``m + 1``).
    generator : None, int or torch.Generator
        Seed of everything (data, streams, projections).
    eta : float
        Mean-field time step, finite and > 0.
    activation : {"relu", "tanh"}
    noise : {"per_weight", "isotropic"}
    reference_width : int, optional
        Width of the reference system (default ``8 * max(widths)``), at least ``2 * max(widths)``
        so that the half-width check reference is wider than every network.
    n_projections : int
        Directions of the sliced Wasserstein distance (the same directions at every width).
    test_function : callable or None
        Bounded function ``g`` applied to the projections of the sliced distance and,
        coordinatewise, to the neurons in the covariance columns (default ``torch.tanh``).
        None is the identity, whose covariances are infinite with ReLU and ``alpha < 2``.
    problem : MeanFieldProblem, optional
        Default :func:`htsgd.meanfield.teacher_problem` with a seed drawn from ``generator``.
    return_samples : bool
        Also return the per-seed values from which rates and their intervals are computed.

    Returns
    -------
    pandas.DataFrame, or (pandas.DataFrame, dict of str to numpy.ndarray)
        One row per width, columns

        ``width``;
        ``coupling``: mean over seeds and tagged neurons of ``|w_j - w_bar_j|`` (finite for
        ``alpha > 1``, where the drift difference has a mean; do not bootstrap it);
        ``coupling_median``: its median;
        ``covariance``: Frobenius norm of the sample cross-covariance over seeds of the two
        tagged neurons' ``Delta_j = g(w_j) - g(w_bar_j)`` (:func:`cross_covariance_norm`);
        ``covariance_control``: the same with neuron 1 of seed ``m`` and neuron 2 of seed
        ``m + 1`` (mod ``seeds``): independent pairs, so only the sampling floor; the tagged
        pair shows an interaction only where it exceeds this control;
        ``covariance_raw``: the same for ``g(w_1)`` and ``g(w_2)`` themselves;
        ``output_iqr``: interquartile range over seeds of the output averaged over the test
        inputs (it exists for every alpha; the variance is infinite with ReLU and ``alpha < 2``);
        ``sliced_w1``: sliced W1 of ``test_function`` projections between each seed's neuron
        cloud and the reference cloud, averaged over seeds.

        ``attrs`` holds the settings, the reference width and ``reference_error``: the median
        over seeds and tagged neurons of ``|w_bar^R - w_bar^(R/2)|`` between the limit copies
        driven by the two references. Two independent reference errors add up in it, so it is
        at least about the error of the half-width reference, an upper estimate of the error
        of the width-``R`` reference.

        With ``return_samples``, a dict of per-seed arrays, seeds in rows: ``"coupling"``
        ``(seeds, K)``, each seed's mean over tagged neurons of ``|w_j - w_bar_j|``;
        ``"output"`` ``(seeds, K)``, each seed's output averaged over the test inputs;
        ``"sliced_w1"`` ``(seeds, K)``, each seed's sliced distance;
        ``"reference_error"`` ``(seeds,)``, each seed's mean over tagged neurons of
        ``|w_bar^R - w_bar^(R/2)|``; ``"delta"`` ``(seeds, K, 2, d)``, each seed's
        ``g(w_j) - g(w_bar_j)`` of the two tagged neurons, and ``"tagged"`` ``(seeds, K, 2, d)``,
        their ``g(w_j)`` (the per-seed values of the covariance columns, which
        :func:`covariance_rates` bootstraps). Rows are independent; the tagged neurons of one row
        share their pair and noise across widths (paired samples).

    Introduced in the chapter *Propagation of chaos*.
    """
    import pandas as pd

    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a sequence of ints, got {type(widths).__name__}")
    widths = [check_int(f"widths[{i}]", w, low=2) for i, w in enumerate(widths)]
    if not widths:
        raise ValueError("widths must hold at least one width")
    if len(set(widths)) != len(widths):
        raise ValueError(f"widths must be distinct, got {widths}")
    seeds = check_int("seeds", seeds, low=2)
    check_bool("return_samples", return_samples)
    ref_width = 8 * max(widths) if reference_width is None else reference_width
    ref_width = check_int("reference_width", ref_width, low=2 * max(widths))
    if test_function is not None and not callable(test_function):
        raise TypeError(f"test_function must be None or callable, got {type(test_function).__name__}")
    g = (lambda t: t) if test_function is None else test_function
    _check_run_args(max(widths), seeds, steps, eta, alpha, sigma, activation, 2, noise)
    gen = torch_generator(generator, "cpu")
    data_seed, tag_seed, rest_seed, ref_seed, proj_seed, check_seed = (
        int(s) for s in torch.randint(0, 2**62, (6,), generator=gen)
    )
    if problem is None:
        problem = teacher_problem(generator=data_seed)
    common = dict(steps=steps, eta=eta, alpha=alpha, sigma=sigma, activation=activation, noise=noise)
    chain_args = {k: v for k, v in common.items() if k != "steps"}
    ref = run_particles(problem, ref_width, seeds=1, tagged=0, generator=ref_seed, **common)
    ref_cloud = ref.weight[0]
    w_bar = limit_chain(problem, ref.train_output[:-1, 0], seeds=seeds, tagged=2, tag_generator=tag_seed, **chain_args)
    half = run_particles(problem, ref_width // 2, seeds=1, tagged=0, generator=check_seed, **common)
    w_half = limit_chain(problem, half.train_output[:-1, 0], seeds=seeds, tagged=2, tag_generator=tag_seed,
                         **chain_args)
    ref_error = (w_bar - w_half).norm(dim=-1)  # (seeds, 2)
    rows, coupling, output, sliced, deltas, tagged = [], [], [], [], [], []
    for n in widths:
        run = run_particles(problem, n, seeds=seeds, tagged=2, generator=rest_seed, tag_generator=tag_seed, **common)
        tag = run.weight[:, :2]
        dist = (tag - w_bar).norm(dim=-1)  # (seeds, 2)
        delta = g(tag) - g(w_bar)
        sw = sliced_wasserstein(
            run.weight, ref_cloud, n_projections=n_projections, test_function=test_function, generator=proj_seed
        )
        out = run.test_output.mean(dim=-1)  # (seeds,): the output averaged over the test inputs
        rows.append({
            "width": n,
            "coupling": float(dist.mean()),
            "coupling_median": float(dist.median()),
            "covariance": cross_covariance_norm(delta[:, 0], delta[:, 1]),
            "covariance_control": cross_covariance_norm(delta[:, 0], delta[:, 1].roll(-1, dims=0)),
            "covariance_raw": cross_covariance_norm(g(tag[:, 0]), g(tag[:, 1])),
            "output_iqr": output_iqr(run.test_output),
            "sliced_w1": float(sw.mean()),
        })
        coupling.append(dist.mean(dim=1))
        output.append(out)
        sliced.append(sw)
        deltas.append(delta)
        tagged.append(g(tag))
    df = pd.DataFrame(rows)
    df.attrs.update({"alpha": alpha, "sigma": sigma, "steps": steps, "eta": eta, "seeds": seeds,
                     "reference_width": ref_width, "activation": activation, "noise": noise,
                     "reference_error": float(ref_error.median())})
    if not return_samples:
        return df
    samples = {
        "coupling": torch.stack(coupling, dim=1).double().numpy(),
        "output": torch.stack(output, dim=1).double().numpy(),
        "sliced_w1": torch.stack(sliced, dim=1).double().numpy(),
        "reference_error": ref_error.mean(dim=1).double().numpy(),
        "delta": torch.stack(deltas, dim=1).double().numpy(),
        "tagged": torch.stack(tagged, dim=1).double().numpy(),
    }
    return df, samples


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


def transfer_check(theta: torch.Tensor, theta_bar: torch.Tensor, k: int) -> Any:
    """The transfer bound ``|q_k(Theta) - q_k(Theta_bar)| <= 2 delta / (|Theta_bar|_F - delta)``, per realization.

    ``q_k`` is the relative error of keeping the ``k`` columns of largest norm
    (:func:`htsgd.compress.column_best_k_error`) and ``delta = |Theta - Theta_bar|_F``. The bound
    holds for every pair of matrices, so it is checked for each seed, not on medians over seeds
    (a median of differences is not a difference of medians).

    Parameters
    ----------
    theta, theta_bar : torch.Tensor
        ``(seeds, d, n)``: one neuron per column (the network and its limit copies).
    k : int
        Columns kept, ``0 <= k <= n``.

    Returns
    -------
    pandas.DataFrame
        One row per seed: ``relative_delta`` (``delta / |Theta_bar|_F``), ``q_k``, ``q_k_bar``,
        ``gap`` (``|q_k - q_k_bar|``), ``bound`` (``inf`` when ``delta >= |Theta_bar|_F``, where the
        bound says nothing) and ``holds``.

    Introduced in the chapter *Propagation of chaos*.
    """
    import pandas as pd

    from .compress import column_best_k_error

    if not (torch.is_tensor(theta) and torch.is_tensor(theta_bar)):
        raise TypeError("theta and theta_bar must be torch tensors")
    if theta.shape != theta_bar.shape or theta.dim() != 3:
        raise ValueError(
            f"theta and theta_bar must have one shape (seeds, d, n); got {tuple(theta.shape)} and {tuple(theta_bar.shape)}"
        )
    theta_bar = theta_bar.to(theta.dtype)
    rel = ((theta - theta_bar).flatten(1).norm(dim=1) / theta_bar.flatten(1).norm(dim=1)).double()
    q, q_bar = column_best_k_error(theta, k).double(), column_best_k_error(theta_bar, k).double()
    gap = (q - q_bar).abs()
    bound = torch.where(rel < 1, 2 * rel / (1 - rel).clamp_min(1e-300), torch.full_like(rel, math.inf))
    return pd.DataFrame({"relative_delta": rel.numpy(), "q_k": q.numpy(), "q_k_bar": q_bar.numpy(),
                         "gap": gap.numpy(), "bound": bound.numpy(), "holds": (gap <= bound).numpy()})


# ------------------------------------------------------------------------------------------------
# Rates with intervals, and committed runs at large widths
# ------------------------------------------------------------------------------------------------
#: The per-seed samples of :func:`chaos_experiment` whose rates :func:`width_rates` fits, and the
#: statistic over seeds it fits for each: the median coupling, the interquartile range of the output,
#: the median sliced distance (bounded test function).
RATE_STATISTICS = {"coupling": "median", "output": "iqr", "sliced_w1": "median"}


def _slope(widths: np.ndarray, values: np.ndarray) -> float:
    return convergence_order(widths, values)


def width_rates(
    widths: Sequence[int],
    samples: dict[str, Any],
    *,
    min_width: int = 1,
    max_width: int | None = None,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Any:
    """Fitted width rates of the chaos error and of the output spread, with bootstrap intervals over seeds.

    For each quantity of :data:`RATE_STATISTICS` in ``samples`` the statistic over seeds (the
    median of the coupling distance, the interquartile range of the output, the median sliced
    distance; ``sliced_w1`` may be absent) is fitted as ``C n**p`` over the
    widths in ``[min_width, max_width]`` by :func:`htsgd.evidence.slope_interval` (paired
    bootstrap over seeds). Both statistics exist whatever the tails, so their bootstrap is
    consistent (a mean of infinite-variance terms is not).

    Parameters
    ----------
    widths : sequence of int
        ``K`` widths, the columns of the samples.
    samples : dict
        As returned by ``chaos_experiment(..., return_samples=True)``: ``"coupling"``,
        ``"output"`` (and optionally ``"sliced_w1"``) of shape ``(seeds, K)``,
        ``"reference_error"`` of shape ``(seeds,)``.
    min_width, max_width : int
        The range of widths fitted (at least two widths in it).
    level, n_boot, seed
        Passed to :func:`htsgd.evidence.slope_interval`.

    Returns
    -------
    pandas.DataFrame
        Indexed by quantity (``coupling``, ``output``, ``sliced_w1``), columns ``statistic``, ``estimate``,
        ``low``, ``high``, ``level``, ``min_width``, ``max_width`` and ``reference_shift``:
        the largest change of the fitted coupling slope when every median moves by the median
        reference error, up or down (``inf`` when the reference error reaches a median: the
        reference is then too narrow to measure that width); 0 for the others, which do not
        involve the limit copies.

    Introduced in the chapter *Propagation of chaos*.
    """
    import pandas as pd

    from .evidence import slope_interval

    x = np.asarray([check_int(f"widths[{i}]", w, low=1) for i, w in enumerate(widths)], dtype=float)
    min_width = check_int("min_width", min_width, low=1)
    max_width = int(x.max()) if max_width is None else check_int("max_width", max_width, low=min_width)
    required = {"coupling", "output", "reference_error"}
    if not isinstance(samples, dict) or not required <= set(samples):
        raise ValueError(f"samples must be a dict with keys {sorted(required)} (and optionally 'sliced_w1')")
    keep = (x >= min_width) & (x <= max_width)
    if keep.sum() < 2:
        raise ValueError(f"widths in [{min_width}, {max_width}]: {int(keep.sum())}; at least 2 are needed")
    rows = {}
    for name, stat in RATE_STATISTICS.items():
        if name not in samples:
            continue
        values = np.asarray(samples[name], dtype=float)
        if values.ndim != 2 or values.shape[1] != x.size:
            raise ValueError(f"samples[{name!r}] must have shape (seeds, {x.size}), got {values.shape}")
        fit = slope_interval(x[keep], values[:, keep], statistic=stat, level=level, n_boot=n_boot, seed=seed)
        shift = 0.0
        if name == "coupling":
            med = np.median(values[:, keep], axis=0)
            eps = float(np.median(np.asarray(samples["reference_error"], dtype=float)))
            shift = (math.inf if (med - eps <= 0).any() else
                     max(abs(_slope(x[keep], med + s * eps) - _slope(x[keep], med)) for s in (-1, 1)))
        rows[name] = {"statistic": stat, "estimate": fit.estimate, "low": fit.low, "high": fit.high,
                      "level": fit.level, "min_width": int(x[keep].min()), "max_width": int(x[keep].max()),
                      "reference_shift": shift}
    return pd.DataFrame.from_dict(rows, orient="index")


#: The covariance columns of :func:`chaos_experiment` that :func:`covariance_rates` fits: the pair of
#: per-seed arrays of its samples (keys, and a roll of the second's seeds) whose cross-covariance each is.
COVARIANCE_PAIRS = {"covariance": ("delta", 0), "covariance_control": ("delta", -1), "covariance_raw": ("tagged", 0)}


def _cross_covariance_statistic(u: np.ndarray, v: np.ndarray) -> Any:
    """The statistic of :func:`covariance_rates`: seed indices in, cross-covariance norms per width out.

    ``u, v`` have shape ``(M, K, d)``. The returned ``f(idx, axis=0)`` takes seed indices of shape
    ``(M, ..., K)`` (column ``k`` indexes width ``k``) and returns, for every trailing index, the
    Frobenius norm of the sample cross-covariance of ``u[idx, k]`` and ``v[idx, k]`` over axis 0,
    as :func:`cross_covariance_norm` computes it.
    """
    m, k = u.shape[:2]

    def cross_covariance(idx: np.ndarray, axis: int = 0) -> np.ndarray:
        if axis != 0:
            raise ValueError("the statistic reduces axis 0 (seeds)")
        i = np.asarray(idx).astype(np.intp)
        uu, vv = u[i, np.arange(k)], v[i, np.arange(k)]  # (M, ..., K, d)
        uc, vc = uu - uu.mean(axis=0), vv - vv.mean(axis=0)
        cov = np.einsum("m...i,m...j->...ij", uc, vc) / (m - 1)
        return np.sqrt((cov**2).sum(axis=(-2, -1)))

    return cross_covariance


def covariance_rates(
    widths: Sequence[int],
    samples: dict[str, Any],
    *,
    min_width: int = 1,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> Any:
    """Fitted width rates of the covariance columns of :func:`chaos_experiment`, with bootstrap intervals.

    A covariance over seeds has no per-seed value, but it is a statistic of the per-seed
    vectors: resampling whole seeds (rows, paired across widths), recomputing each width's
    cross-covariance norm and refitting the log-log slope is the paired bootstrap of
    :func:`htsgd.evidence.slope_interval`, which is called with the seed indices as samples
    and the covariance as the statistic. The vectors are differences of ``g`` values, bounded
    for the bounded ``test_function`` (tanh), so every moment exists and the bootstrap of this
    smooth function of means is consistent; where the true covariance is near zero (at the
    sampling floor) the norm is not smooth there and the interval is only indicative.

    Parameters
    ----------
    widths : sequence of int
        ``K`` widths.
    samples : dict
        As returned by ``chaos_experiment(..., return_samples=True)``: ``"delta"`` and
        ``"tagged"`` of shape ``(seeds, K, 2, d)``.
    min_width : int
        The smallest width fitted (at least two widths from it on).
    level, n_boot, seed
        Passed to :func:`htsgd.evidence.slope_interval`.

    Returns
    -------
    pandas.DataFrame
        Indexed by the columns of :data:`COVARIANCE_PAIRS` (``covariance``: neurons 1 and 2 of
        one seed minus their limit copies; ``covariance_control``: neuron 1 of seed ``m`` with
        neuron 2 of seed ``m + 1``, the seeds' pairs resampled together; ``covariance_raw``: the
        tagged neurons themselves), columns ``estimate``, ``low``, ``high``, ``level``.

    Introduced in the chapter *Propagation of chaos*.
    """
    import pandas as pd

    from .evidence import slope_interval

    x = np.asarray([check_int(f"widths[{i}]", w, low=1) for i, w in enumerate(widths)], dtype=float)
    min_width = check_int("min_width", min_width, low=1)
    keep = x >= min_width
    if keep.sum() < 2:
        raise ValueError(f"widths >= {min_width}: {int(keep.sum())}; at least 2 are needed")
    if not isinstance(samples, dict) or not {"delta", "tagged"} <= set(samples):
        raise ValueError("samples must be a dict with keys 'delta' and 'tagged' (chaos_experiment's samples)")
    rows = {}
    for name, (key, roll) in COVARIANCE_PAIRS.items():
        pair = np.asarray(samples[key], dtype=float)
        if pair.ndim != 4 or pair.shape[1] != x.size or pair.shape[2] != 2 or pair.shape[0] < 2:
            raise ValueError(f"samples[{key!r}] must have shape (seeds >= 2, {x.size}, 2, d), got {pair.shape}")
        u, v = pair[:, keep, 0], np.roll(pair[:, keep, 1], roll, axis=0)
        idx = np.repeat(np.arange(pair.shape[0], dtype=float)[:, None], int(keep.sum()), axis=1)
        fit = slope_interval(x[keep], idx, statistic=_cross_covariance_statistic(u, v), level=level,
                             n_boot=n_boot, seed=seed)
        rows[name] = {"estimate": fit.estimate, "low": fit.low, "high": fit.high, "level": fit.level}
    return pd.DataFrame.from_dict(rows, orient="index")


def save_width_runs(folder: str | os.PathLike, runs: dict[str, tuple[Any, dict]], provenance: dict) -> Path:
    """Write chaos-experiment runs (table and per-seed samples per setting) and their provenance.

    Files: ``NAME-table.csv`` (the table, its ``attrs`` in ``provenance["settings"][NAME]``),
    ``NAME-samples.csv`` (long form: ``width, seed`` and one column per per-seed sample of shape
    ``(seeds, K)``; the covariances' per-seed vectors ``delta`` and ``tagged`` are not saved),
    ``NAME-reference.csv`` (``seed, reference_error``) and ``provenance.json``; each written
    atomically. Read back with :func:`load_width_runs`.

    Introduced in the chapter *Propagation of chaos*.
    """
    import pandas as pd

    from ._io import atomic_write_json, atomic_write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    settings = {}
    for name, (table, samples) in runs.items():
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"run names must be letters, digits, '-' or '_', got {name!r}")
        widths = table["width"].to_numpy()
        seeds = samples["coupling"].shape[0]
        long = pd.DataFrame({
            "width": np.repeat(widths[None, :], seeds, axis=0).ravel(),
            "seed": np.repeat(np.arange(seeds), widths.size),
            **{key: np.asarray(v).ravel() for key, v in samples.items() if np.ndim(v) == 2},  # per seed and width
        })
        atomic_write_text(out / f"{name}-table.csv", table.to_csv(index=False, float_format="%.10g"))
        atomic_write_text(out / f"{name}-samples.csv", long.to_csv(index=False, float_format="%.10g"))
        ref = pd.DataFrame({"seed": np.arange(seeds), "reference_error": samples["reference_error"]})
        atomic_write_text(out / f"{name}-reference.csv", ref.to_csv(index=False, float_format="%.10g"))
        settings[name] = {k: v for k, v in table.attrs.items()}
    atomic_write_json(out / "provenance.json", {**provenance, "settings": settings})
    return out


PACKAGED_WIDTH_RUNS = ("relu", "tanh")
"""Names of the large-width runs that ship with the package (``htsgd/runs/chaos-widths/NAME``)."""


def load_width_runs(folder: str | os.PathLike) -> tuple[dict[str, tuple[Any, dict]], dict]:
    """Read runs written by :func:`save_width_runs`: ``({name: (table, samples)}, provenance)``.

    ``folder`` is a folder, or the name of a run shipped with the package (one of
    ``PACKAGED_WIDTH_RUNS``: the chapter's committed ReLU and tanh runs), so the chapter
    reads them from a plain install (Colab, Binder) as from a clone.

    ``samples`` has the arrays of ``chaos_experiment(..., return_samples=True)``; the table's
    ``attrs`` are restored from the provenance.

    Introduced in the chapter *Propagation of chaos*.
    """
    import json

    import pandas as pd

    src = Path(folder)
    if not src.is_dir() and str(folder) in PACKAGED_WIDTH_RUNS:
        src = Path(str(resources.files("htsgd.runs") / "chaos-widths" / str(folder)))
    prov_path = src / "provenance.json"
    if not prov_path.is_file():
        raise FileNotFoundError(f"{prov_path} is missing: regenerate the runs with the command in the folder's README")
    provenance = json.loads(prov_path.read_text())
    runs = {}
    for name, attrs in provenance["settings"].items():
        table = pd.read_csv(src / f"{name}-table.csv")
        table.attrs.update(attrs)
        long = pd.read_csv(src / f"{name}-samples.csv")
        widths = table["width"].to_numpy()
        seeds = int(long["seed"].max()) + 1
        if len(long) != seeds * widths.size:
            raise ValueError(f"{name}-samples.csv holds {len(long)} rows, expected {seeds} seeds x {widths.size} widths")
        column = {int(w): i for i, w in enumerate(widths)}
        long = long.assign(column=long["width"].map(column)).sort_values(["seed", "column"])
        shape = (seeds, widths.size)
        ref = pd.read_csv(src / f"{name}-reference.csv").sort_values("seed")
        keys = [c for c in long.columns if c not in ("width", "seed", "column")]
        runs[name] = (table, {
            **{key: long[key].to_numpy(float).reshape(shape) for key in keys},
            "reference_error": ref["reference_error"].to_numpy(float),
        })
    return runs, provenance
