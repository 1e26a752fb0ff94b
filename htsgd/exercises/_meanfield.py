"""Reference answers of the exercises of the chapter *Mean-field limits of two-layer networks* (``book/meanfield.md``).

Each reference takes the exercise's parameters; ``practice`` holds the values the text states and ``graded``
the ranges an instructor's graded variants are drawn from.
"""

from __future__ import annotations

import math

from ._reference import ROUNDING, Reference


def _meanfield_increment_char_func(alpha: float, sigma: float, eta: float) -> float:
    from ..optim import noise_scale
    from ..stable import char_func

    # <u, S> for an isotropic S with scale c is SaS(alpha, c |u|): E cos<u, S> = phi_c(|u|), |u| = sqrt(6).
    return float(complex(char_func(math.sqrt(6.0), alpha, scale=noise_scale(eta, alpha, sigma))).real)


def _meanfield_noise_ratio(n: int, alpha: float) -> float:
    from ..optim import noise_scale

    eta, sigma = 0.05, 0.1
    return noise_scale(n * eta, alpha, sigma) / noise_scale(eta, alpha, sigma)


def _meanfield_tanh_exponent() -> float:
    return -1.0  # a bounded activation: the output is an average of bounded, nearly independent terms


def _meanfield_steps_needed(n: int, alpha: float) -> float:
    from ..meanfield import step_condition

    return 20.0 / step_condition(n, alpha)


def _meanfield_alternating_fraction() -> float:
    # The exercise's run, recomputed: 64 networks of width 32 with the fixed alternating layer (+1, -1, ...),
    # no noise, 100 steps of eta = 0.1 on the chapter's problem (teacher_problem(generator=2024)).
    import torch

    from ..meanfield import particle_step, teacher_problem

    problem = teacher_problem(generator=2024)
    n, networks, steps = 32, 64, 100
    gen = torch.Generator().manual_seed(2024)
    w = torch.randn(networks, n, problem.input_dim, generator=gen, dtype=problem.x.dtype) / problem.input_dim**0.5
    alternating = torch.tensor([1.0, -1.0], dtype=problem.x.dtype).repeat(n // 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 100 steps on tiny tensors: threads only add overhead (0.4 s on one, 17 s on a busy machine)
    try:
        for _ in range(steps):
            w = particle_step(w, alternating, problem.x, problem.y, eta=0.1)
    finally:
        torch.set_num_threads(threads)
    norms = w.norm(dim=-1)
    return float((norms[:, 0] > norms[:, 1]).double().mean())


REFERENCES: list[Reference] = [
    Reference(
        "ex-meanfield-2", "E cos<u, sigma eta^(1/alpha) S> at u = (1, 2, -1)",
        _meanfield_increment_char_func, 1e-3, 0.0, ROUNDING,
        "<u, S> for an isotropic S of scale c is SaS(alpha, c |u|) with c = sigma eta^(1/alpha): evaluate "
        "exp(-(c |u|)^alpha) at |u| = sqrt(6).",
        practice={"alpha": 1.5, "sigma": 0.5, "eta": 0.1},
        graded={"alpha": (1.05, 1.95), "sigma": (0.1, 1.0), "eta": (0.01, 0.5)},
    ),
    Reference(
        "ex-meanfield-3", "the ratio of the interquartile ranges of the two increments (width n, eta = 0.05, sigma = 0.1)",
        _meanfield_noise_ratio, 1e-3, 0.0,
        "both steps draw the same standard noise from the same seed, so the ratio is exact up to float32 "
        "rounding (about 1e-6 relative); 1e-3 allows rounding",
        "Seed both steps with the same generator, so they draw the same standard noise; the optimizer's factor "
        "is sigma (n eta)^(1/alpha), the mean-field one sigma eta^(1/alpha).",
        practice={"n": 256, "alpha": 1.5}, graded={"n": (16, 512), "alpha": (1.1, 1.95)},
    ),
    Reference(
        "ex-meanfield-4", "the fitted exponent of the output variance against the width with tanh (alpha = 1.5)",
        _meanfield_tanh_exponent, 0.0, 0.06,
        "the fit over widths 16 to 1024 with 8 seeds gave -0.985 to -0.998 over three seed offsets (the ReLU gave "
        "-0.25 to -0.77); 0.06 accepts that spread and pre-asymptotic bias and rejects the ReLU's exponents",
        "Average over the test points the variance across seeds of run_particles(...).test_output "
        "(activation='tanh'), one value per width, and fit with hs.chaos.fit_rates: the slope in log-log.",
    ),
    Reference(
        "ex-meanfield-5", "the number of steps to reach t = 20 at the largest allowed eta (width n)",
        _meanfield_steps_needed, 1e-3, 0.0, ROUNDING,
        "The largest allowed step is eta = n^(-alpha/2 - 1) (hs.meanfield.step_condition); reaching t = 20 "
        "takes t / eta steps.",
        practice={"n": 1024, "alpha": 1.75}, graded={"n": (16, 4096), "alpha": (1.05, 1.95)},
    ),
    Reference(
        "ex-meanfield-6", "the fraction of the 64 networks with the alternating layer in which |w^1_T| > |w^2_T|",
        _meanfield_alternating_fraction, 0.0, 0.1,
        "a fraction of 64 networks: the reference (seed 2024) and four other seeds all give 1.0, so a reader's "
        "seed moves it by a few networks at most; 0.1 accepts that and rejects the exchangeable value 1/2",
        "Build a = (+1, -1, +1, ...) yourself (hs.meanfield.second_layer now draws random signs), step all 64 "
        "networks with hs.meanfield.particle_step(w, a, problem.x, problem.y, eta=0.1) 100 times, and compare "
        "the norms of neurons 0 and 1 network by network.",
    ),
]
