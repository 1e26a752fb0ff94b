"""Reference answers of the exercises of the chapter *Stable distributions* (``book/stable.md``).

Each reference takes the exercise's parameters; ``practice`` holds the values the text states and ``graded``
the ranges an instructor's graded variants are drawn from.
"""

from __future__ import annotations

import math

from ._reference import ROUNDING, Reference


def _stable_variance_alpha2(scale: float) -> float:
    # Var X = -phi''(0) for a symmetric law, from htsgd's characteristic function of SaS(2, scale).
    from ..stable import char_func

    h = 1e-4 * scale ** -1
    phi = [complex(char_func(u, 2.0, scale=scale)).real for u in (-h, 0.0, h)]
    return -(phi[0] - 2 * phi[1] + phi[2]) / h**2


def _stable_sum_scale(alpha: float) -> float:
    # The scale s of X1 + X2 solves phi_s(1) = phi_1(1)^2, i.e. s^alpha = -2 log phi_1(1).
    from ..stable import char_func

    return (-2 * math.log(complex(char_func(1.0, alpha)).real)) ** (1 / alpha)


def _stable_second_moment_growth(alpha: float) -> float:
    # P(X^2 > t) ~ c t^(-alpha/2): the largest of n squares is of order n^(2/alpha).
    return 2 / alpha - 1


def _stable_joint_exceedance_iid(threshold: float) -> float:
    from ..stable import sf

    return float((2 * sf(threshold, 1.5)) ** 2)


def _stable_mmo_target(alpha: float) -> float:
    return alpha  # the index of the sampled law: MMO is unbiased on exactly stable data


def _cauchy_tail_constant() -> float:
    from ..stable import tail_constant

    return tail_constant(1.0, beta=1.0)  # C_1 (1 + beta) / 2 with beta = 1


REFERENCES: list[Reference] = [
    Reference(
        "ex-stable-1", "the sample variance of 10^5 draws of SaS(2, scale)", _stable_variance_alpha2,
        0.025, 0.0,
        "the sample variance of 10^5 N(0, 2 s^2) draws has a relative standard error sqrt(2 / 10^5) = 0.45%; 2.5% "
        "is 5.6 of them",
        "SaS(2, s) has characteristic function exp(-s^2 u^2): which normal law is that? Use dtype=torch.float64 "
        "and at least 10^5 samples.",
        practice={"scale": 1.0}, graded={"scale": (0.3, 3.0)},
    ),
    Reference(
        "ex-stable-2", "the scale of X1 + X2 for SaS(alpha, 1) summands", _stable_sum_scale, 1e-3, 0.0, ROUNDING,
        "Multiply the two characteristic functions exp(-|u|^alpha) and write the product as "
        "exp(-(s |u|)^alpha): what is s?",
        practice={"alpha": 1.2}, graded={"alpha": (0.5, 2.0)},
    ),
    Reference(
        "ex-stable-3", "the exponent p in E_n[X^2] ~ n^p", _stable_second_moment_growth,
        0.0, 0.02, "an exact exponent: 0.02 allows rounding",
        "The running mean of X^2 is dominated by its largest term. P(X^2 > t) = P(|X| > sqrt t) decays like "
        "t^(-alpha/2): how large is the largest of n such terms, and what is it divided by n?",
        practice={"alpha": 1.5}, graded={"alpha": (0.8, 1.9)},
    ),
    Reference(
        "ex-stable-4", "P(|X1| > threshold and |X2| > threshold) for independent SaS(1.5, 1) coordinates",
        _stable_joint_exceedance_iid, 0.15, 0.0,
        "a Monte Carlo frequency of about 2e-3 from 4e5 pairs has a relative standard error of about 3.5% (5% at "
        "threshold 6); 15% is 3 to 4 of them",
        "Estimate the frequency on the independent pairs (hs.stable.sample(1.5, (n, 2))), not on the isotropic "
        "ones, with n = 400,000; it should be close to the square of P(|X| > threshold).",
        practice={"threshold": 5.0}, graded={"threshold": (2.5, 6.0)},
    ),
    Reference(
        "ex-stable-5", "the MMO estimate with m = 10 on 10^6 SaS(alpha, 1) samples", _stable_mmo_target,
        0.0, 0.05,
        "MMO is unbiased on stable data; with 10^6 samples and m = 10 its standard deviation is below 0.01",
        "Use the stable samples (not Student's t), the whole 10^6 of them, and block size m = 10.",
        practice={"alpha": 1.7}, graded={"alpha": (1.1, 1.95)},
    ),
    Reference(
        "ex-stable-6", "the Cauchy tail constant C_1", _cauchy_tail_constant, 1e-4, 0.0, ROUNDING,
        "P(X > x) = 1/2 - arctan(x)/pi = arctan(1/x)/pi. Expand for large x, and remember the formula's "
        "factor (1 + beta)/2 = 1/2.",
    ),
]
