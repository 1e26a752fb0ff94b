"""Reference answers of the exercises of the chapter *Lévy-driven SDEs and the Euler scheme* (``book/sde.md``).

Each reference takes the exercise's parameters; ``practice`` holds the values the text states and ``graded``
the ranges an instructor's graded variants are drawn from.
"""

from __future__ import annotations

import math

from ._reference import ROUNDING, Reference


def _sde_ou_euler_scale(alpha: float, h: float) -> float:
    from ..sde import stable_ou_euler_law

    return stable_ou_euler_law(1.0, 1.0, 1.0, alpha, h, 10)[1]


def _sde_accumulated_scale(alpha: float, gamma: float, eta: float) -> float:
    # t / eta iid copies of eta^gamma X: the scale s solves phi_s(1) = phi(eta^gamma)^(t / eta).
    from ..stable import char_func

    t = 1.0
    return (-(t / eta) * math.log(complex(char_func(eta**gamma, alpha)).real)) ** (1 / alpha)


def _sde_levy_constant(alpha: float) -> float:
    # The c for which the Lévy-Khintchine integral of c |y|^(-1-alpha) dy gives -psi(1) = 1.
    from ..sde import levy_exponent_from_measure

    return 1.0 / levy_exponent_from_measure(alpha, 1.0, c=1.0)


def _sde_fractional_moment(alpha: float, p: float) -> float:
    # E|S|^p = 2 int_0^inf x^p f(x) dx with htsgd's stable density f (split where the integrand changes scale).
    from scipy import integrate

    from ..stable import pdf

    pieces = [(0.0, 1.0), (1.0, 100.0), (100.0, math.inf)]
    return 2 * sum(integrate.quad(lambda x: x**p * float(pdf(x, alpha)), a, b, limit=200)[0] for a, b in pieces)


def _sde_tamed_order() -> float:
    return 1.0  # the order of the explicit scheme on this problem; taming changes each step by O(h^2)


def _sde_min_moment_limit(alpha: float) -> float:
    # int min(|y|, y^2) nu(dy) for nu = c_alpha |y|^(-1-alpha) dy: 2 c_alpha (1/(2 - alpha) + 1/(alpha - 1)).
    from ..stable import tail_constant

    c_alpha = alpha * tail_constant(alpha)  # the Lévy measure's constant, alpha C_alpha / 2 with C_alpha = 2 * tail
    return 2 * c_alpha * (1 / (2 - alpha) + 1 / (alpha - 1))


def _sde_cauchy_stationary_scale(h: float) -> float:
    # the Euler chain's stationary Cauchy scale sigma h / (1 - |1 - theta h|) at theta = sigma = 1
    from ..sde import stable_ou_euler_law

    return stable_ou_euler_law(0.0, 1.0, 1.0, 1.0, h, 10**6)[1]


REFERENCES: list[Reference] = [
    Reference(
        "ex-sde-1", "the scale s of X^h_10 ~ loc + SaS(alpha, s) (theta = sigma = x0 = 1, step h)",
        _sde_ou_euler_scale, 1e-3, 0.0, ROUNDING,
        "With a = 1 - theta h, X^h_n = a^n x0 + sigma sum_j a^j dL_(n-1-j) and dL ~ SaS(alpha, h^(1/alpha)): "
        "add the scales to the power alpha, sigma^alpha h |a|^(alpha j), a geometric sum.",
        practice={"alpha": 1.3, "h": 0.3}, graded={"alpha": (1.05, 1.95), "h": (0.05, 0.9)},
    ),
    Reference(
        "ex-sde-2", "the scale of the noise accumulated over t = 1",
        _sde_accumulated_scale, 1e-3, 0.0, ROUNDING,
        "A sum of m iid SaS(alpha, c) variables is SaS(alpha, c m^(1/alpha)); here c = eta^gamma and m = t / eta.",
        practice={"alpha": 1.5, "gamma": 0.5, "eta": 0.01},
        graded={"alpha": (1.05, 1.95), "gamma": (0.2, 1.0), "eta": (0.001, 0.1)},
    ),
    Reference(
        "ex-sde-3", "the constant c_alpha of the Lévy measure", _sde_levy_constant, 1e-4, 0.0,
        ROUNDING,
        "-psi(u) = 2 c I_alpha |u|^alpha must equal |u|^alpha: solve for c with "
        "I_alpha = Gamma(1 - alpha) cos(pi alpha / 2) / alpha.",
        practice={"alpha": 1.5}, graded={"alpha": (1.05, 1.95)},
    ),
    Reference(
        "ex-sde-4", "the estimate of E|S|^p for S ~ SaS(alpha, 1) from all 2 x 10^5 draws", _sde_fractional_moment,
        0.006, 0.0,
        "|S|^0.3 at alpha = 1.2 has standard deviation 0.49 (from E|S|^0.6), so a mean of 2e5 draws has a "
        "relative standard error 0.1%; for p <= 0.4 and alpha >= 1.1 it stays below 0.2%; 0.6% is 3 or more",
        "Average |S|^p over all 20 x 10^4 draws of hs.stable.sample(alpha, (20, 10_000), dtype=torch.float64), "
        "not |S|^1.0 and not one batch of 10^4.",
        practice={"alpha": 1.2, "p": 0.3}, graded={"alpha": (1.1, 1.95), "p": (0.1, 0.4)},
    ),
    Reference(
        "ex-sde-5", "the fitted strong order of the tamed scheme (OU, alpha = 1.5, medians)", _sde_tamed_order,
        0.0, 0.1,
        "a slope fitted to medians of 4000 coupled paths has a 95% bootstrap interval of about +-0.03 and a "
        "pre-asymptotic bias of a few hundredths; 0.1 accepts any fit near order 1",
        "Call hs.sde.strong_order(lambda x: -x, 1.0, 1.5, tame=True, ...) with n_ref=2**10 and factors "
        "(2**7, 2**6, 2**5, 2**4): it drives the tamed coarse scheme with the summed fine increments (the same "
        "Lévy path) and fits the medians of |X^h - X^ref| at T = 1; answer is its order.estimate.",
    ),
    Reference(
        "ex-sde-6", "the limit of E min(|L_h|, L_h^2) / h as h -> 0 (the integral of min(|y|, y^2) "
        "against the Lévy measure)", _sde_min_moment_limit, 1e-4, 0.0, ROUNDING,
        "Split the integral of min(|y|, y^2) c_alpha |y|^(-1-alpha) at |y| = 1 and use both halves of the line: "
        "2 c_alpha (1/(2 - alpha) + 1/(alpha - 1)) with c_alpha = alpha * hs.stable.tail_constant(alpha).",
        practice={"alpha": 1.5}, graded={"alpha": (1.1, 1.9)},
    ),
    Reference(
        "ex-sde-7", "the stationary scale of the Euler chain of the Cauchy OU process at theta = sigma = 1, step h",
        _sde_cauchy_stationary_scale, 1e-4, 0.0, ROUNDING,
        "At alpha = 1 scales add: the stationary scale is sigma h sum_j |1 - theta h|^j = sigma h / (1 - |1 - theta h|); "
        "for theta h > 1, |1 - theta h| = theta h - 1.",
        practice={"h": 1.5}, graded={"h": (0.2, 1.9)},
    ),
]
