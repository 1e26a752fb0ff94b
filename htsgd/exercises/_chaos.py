"""Reference answers of the exercises of the chapter *Propagation of chaos* (``book/chaos.md``).

Each reference takes the exercise's parameters; ``practice`` holds the values the text states and ``graded``
the ranges an instructor's graded variants are drawn from.
"""

from __future__ import annotations

from ._reference import ROUNDING, Reference


def _chaos_transfer_bound(rho: float) -> float:
    # rho = delta / |Theta_bar|_F
    return 2 * rho / (1 - rho)


def _chaos_covariance_floor(v: float) -> float:
    # Mean Frobenius norm of the sample cross-covariance of M = 16 pairs of independent N(0, v I_10) vectors,
    # over 20,000 repetitions (the chaos experiment's covariance column, batched).
    import torch

    s, d, reps = 16, 10, 20_000
    g = torch.Generator().manual_seed(0)
    u = torch.randn(reps, s, d, generator=g, dtype=torch.float64) * v**0.5
    w = torch.randn(reps, s, d, generator=g, dtype=torch.float64) * v**0.5
    uc, wc = u - u.mean(dim=1, keepdim=True), w - w.mean(dim=1, keepdim=True)
    return float((uc.transpose(1, 2) @ wc / (s - 1)).flatten(1).norm(dim=1).mean())


def _chaos_full_w1_exponent() -> float:
    return -1 / 10  # the empirical W1 of two n-samples in dimension d >= 3 falls like n^(-1/d)


def _chaos_average_exponent(alpha: float) -> float:
    return 1 / alpha - 1  # (1/n) sum X_i = n^(1/alpha - 1) X_1 in law, so every quantile scales so


def _chaos_relu_drift_jump(generator: int) -> float:
    # The jump of the ReLU drift across <w, x_p> = 0 for the training point with the largest target, at the
    # residual of the zero network (rho = -y) and a = +1: the p-th term of b switches on, |b jump| = y_p |x_p| / P.
    import torch

    from ..meanfield import teacher_problem

    problem = teacher_problem(generator=generator, dtype=torch.float64)
    p = int(torch.argmax(problem.y))
    return float(problem.y[p] * problem.x[p].norm() / problem.y.shape[0])


def _chaos_frobenius_exponent(alpha: float) -> float:
    # The fitted exponent of the median Frobenius norm of 400 matrices of n iid columns in R^10 with iid
    # SaS(1.5, 1) coordinates, n = 64 to 4096 (twice the exercise's 200 matrices, for a smaller Monte Carlo error).
    import torch

    from ..sde import convergence_order
    from ..stable import sample

    g = torch.Generator().manual_seed(0)
    ns, medians = [64, 256, 1024, 4096], []
    for n in ns:
        columns = sample(alpha, (400, 10, n), generator=g, dtype=torch.float64)
        medians.append(float(columns.flatten(1).norm(dim=1).median()))
    return convergence_order(ns, medians)


REFERENCES: list[Reference] = [
    Reference(
        "ex-chaos-1", "the bound on |q_k(x) - q_k(y)| when |E|_F = rho |y|_F", _chaos_transfer_bound, 1e-4, 0.0,
        ROUNDING,
        "Put delta = rho |y|_F in the bound 2 delta / (|y|_F - delta): the norm of y cancels.",
        practice={"rho": 0.1}, graded={"rho": (0.02, 0.8)},
    ),
    Reference(
        "ex-chaos-3", "the mean Frobenius norm of the sample cross-covariance (M = 16 seeds, d = 10, variance v)",
        _chaos_covariance_floor, 0.015, 0.0,
        "at v = 0.1 a mean of 2000 norms (standard deviation 0.027, mean 0.26) has standard error 0.0006, the "
        "reference's mean of 20,000 has 0.0002; both scale with v, so 1.5% (0.004 at v = 0.1) is about 6 of them",
        "Centre each coordinate over the M = 16 seeds, form the d x d matrix u_c^T w_c / (M - 1), take its "
        "Frobenius norm, and average over at least 2000 repetitions; each coordinate has variance v.",
        practice={"v": 0.1}, graded={"v": (0.02, 2.0)},
    ),
    Reference(
        "ex-chaos-4", "the fitted exponent of the full Wasserstein-1 distance in d = 10 (n = 32 to 512)",
        _chaos_full_w1_exponent, 0.0, 0.05,
        "n^(-1/d) is the rate as n -> infinity; at n = 32 to 512 the fitted slope is steeper by about 0.02 "
        "(-0.11 to -0.12 over three seeds, spread 0.006); 0.05 accepts that and rejects the sliced -1/2",
        "Fit log W1 against log n with hs.sde.convergence_order(ns, distances) for the full (assignment) "
        "distance, not the sliced one; a distance that falls gives a negative exponent.",
    ),
    Reference(
        "ex-chaos-5", "the fitted exponent of the median of |(1/n) sum X_i| against n for SaS(alpha, 1) terms",
        _chaos_average_exponent, 0.0, 0.04,
        "the median of 2000 values has a relative standard error near 3%, so the slope over n = 16 to 4096 has a "
        "standard error near 0.007 (-0.326 to -0.337 over three seeds); 0.04 is about 5 of them",
        "Fit log(median |mean|) against log n with hs.sde.convergence_order(ns, medians) for the stable "
        "average (not the relu one); a median that falls gives a negative exponent.",
        practice={"alpha": 1.5}, graded={"alpha": (1.05, 1.95)},
    ),
    Reference(
        "ex-chaos-6", "the limit of |b(w0 + eps u) - b(w0 - eps u)| across the hyperplane <w, x_p> = 0 for "
        "teacher_problem(generator=generator)",
        _chaos_relu_drift_jump, 1e-4, 0.0, ROUNDING,
        "Use problem.x, problem.y in float64, p = argmax y, residual -y, a = ones(1) and u = x_p / |x_p|; put w0 on "
        "the hyperplane by removing its component along u, and take eps small (1e-6): the jump stops changing.",
        practice={"generator": 2024}, graded={"generator": (1, 10_000)},
    ),
    Reference(
        "ex-chaos-7", "the fitted exponent of the median Frobenius norm of n iid SaS(alpha) columns (n = 64 to 4096)",
        _chaos_frobenius_exponent, 0.0, 0.05,
        "the median of 200 norms has a relative standard error near 5%, so the slope over n = 64 to 4096 varies "
        "by about 0.015 between seeds (0.656, 0.663, 0.683 over three); 0.05 is about 3 of them and rejects the "
        "light-tailed 1/2",
        "Draw hs.stable.sample(alpha, (200, 10, n)) for each n, take the Frobenius norm of each 10 x n matrix, "
        "the median over the 200, and fit hs.sde.convergence_order(ns, medians); it grows, so it is positive.",
        practice={"alpha": 1.5}, graded={"alpha": (1.1, 1.9)},
    ),
]
