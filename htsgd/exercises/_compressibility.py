"""Reference answers of the exercises of the chapter *Compressibility* (``book/compressibility.md``).

Each reference takes the exercise's parameters; ``practice`` holds the values the text states and ``graded``
the ranges an instructor's graded variants are drawn from.
"""

from __future__ import annotations

import math
from typing import Any

from ._reference import ROUNDING, Reference


def _finite_variance_limit(law: Any, kappa: float) -> float:
    """Gribonval et al.'s limit sqrt(E[X^2 1{|X| <= t}] / E X^2) for a symmetric scipy law."""
    t = law.ppf(1 - kappa / 2)
    return math.sqrt(law.expect(lambda v: v**2, lb=-t, ub=t) / law.var())


def _uniform_limit(kappa: float) -> float:
    from scipy import stats

    return _finite_variance_limit(stats.uniform(-1, 2), kappa)


def _student3_limit(kappa: float) -> float:
    from scipy import stats

    return _finite_variance_limit(stats.t(3), kappa)


def _mce_removed_fraction(generator: int, tau: float) -> float:
    import torch

    from ..compress import prune_neurons, prune_report
    from ..stable import sample_isotropic

    layer = torch.nn.Linear(20, 2000, bias=False)
    with torch.no_grad():
        layer.weight.copy_(sample_isotropic(1.5, 2000, 20, generator=generator))
    model = torch.nn.Sequential(layer, torch.nn.ReLU(), torch.nn.Linear(2000, 3, bias=False))
    return prune_report(prune_neurons(model, mce=tau)).neuron_fraction


def _compress_rate_exponent(alpha: float) -> float:
    return 0.5 - 1 / alpha


def _gaussian_mce_removed(tau: float) -> float:
    from scipy.optimize import brentq

    from ..compress import gaussian_limit

    return 1 - brentq(lambda k: gaussian_limit(k) - math.sqrt(tau), 1e-12, 1 - 1e-12, xtol=1e-12)


REFERENCES: list[Reference] = [
    Reference(
        "ex-compressibility-1", "the limit of the relative error for uniform entries at kappa",
        _uniform_limit, 1e-3, 0.0, ROUNDING,
        "Solve P(|X| > t) = kappa for t, then divide E[X^2 1{|X| <= t}] by E[X^2] and take the square root.",
        practice={"kappa": 0.1}, graded={"kappa": (0.02, 0.6)},
    ),
    Reference(
        "ex-compressibility-2", "the limit of the relative error for Student-t entries (df = 3) at kappa",
        _student3_limit, 1e-3, 0.0, ROUNDING,
        "df = 3 has finite variance (E X^2 = 3): use the finite-variance limit with t the (1 - kappa/2) "
        "quantile of scipy.stats.t(3).",
        practice={"kappa": 0.1}, graded={"kappa": (0.02, 0.6)},
    ),
    Reference(
        "ex-compressibility-3", "1 - k*/n for the exercise's layer (sample_isotropic(1.5, 2000, 20, generator=generator), mce-tau)",
        _mce_removed_fraction, 0.0, 0.6 / 2000,
        "the answer is a count divided by 2000: the tolerance is less than one neuron",
        "k* is the first k whose relative best k-term error of the neuron norms is <= sqrt(tau). Build the "
        "layer exactly as the exercise says (the given generator).",
        practice={"generator": 0, "tau": 0.1}, graded={"generator": (1, 10_000), "tau": (0.02, 0.4)},
    ),
    Reference(
        "ex-compressibility-4", "the fitted exponent of the median error",
        _compress_rate_exponent, 0.0, 0.1,
        "a fitted slope over n = 10^2 to 10^5 is pre-asymptotic (a little shallower than the limit) and "
        "noisy; 0.1 accepts any fit near the predicted 1/2 - 1/alpha",
        "Fit log(median) against log(n) with np.polyfit(..., 1) and report the slope; use medians, not means.",
        practice={"alpha": 1.2}, graded={"alpha": (1.65, 1.9)},
    ),
    Reference(
        "ex-compressibility-5", "the fraction of a Gaussian layer that mce-tau removes as n -> infinity",
        _gaussian_mce_removed, 0.0, 2e-3,
        "the limit is exact: 2e-3 accepts a root found on a grid of step 1e-3",
        "Solve hs.compress.gaussian_limit(kappa) = sqrt(tau) for kappa (scipy.optimize.brentq); the removed "
        "fraction is 1 - kappa.",
        practice={"tau": 0.1}, graded={"tau": (0.02, 0.4)},
    ),
]
