"""Reference answers of the exercises of the chapter *Heavy-tailed SGD* (``book/sgd.md``).

Each reference takes the exercise's parameters; ``practice`` holds the values the text states and ``graded``
the ranges an instructor's graded variants are drawn from.
"""

from __future__ import annotations

import math

from ._reference import ROUNDING, Reference


def _sgd_total_scale(alpha: float, sigma: float, eta: float) -> float:
    from ..optim import noise_scale

    return noise_scale(eta, alpha, sigma)


def _sgd_gaussian_std(sigma_a: float, eta: float) -> float:
    from ..optim import authors_sigma_to_ours, noise_scale

    # A SaS(2, c) increment is N(0, 2 c^2): standard deviation c sqrt(2).
    return noise_scale(eta, 2.0, authors_sigma_to_ours(sigma_a, 2.0, "per_weight")) * math.sqrt(2.0)


def _sgd_vgg_noisy_fraction(num_classes: int) -> float:
    from ..nets import VGG11Wide
    from ..optim import paper_param_groups

    vgg = VGG11Wide(num_classes)
    noisy = sum(p.numel() for g in paper_param_groups(vgg) if g["noise"] for p in g["params"])
    return noisy / sum(p.numel() for p in vgg.parameters())


def _sgd_gaussian_scaling_exponent(gamma: float, alpha: float) -> float:
    return gamma - 1 / alpha


def _sgd_kick_probability(sigma: float, eta: float) -> float:
    from ..optim import noise_scale
    from ..stable import sf

    c = noise_scale(eta, 1.5, sigma)
    return 2 * float(sf(1.0 / (math.sqrt(40) * c), 1.5))


REFERENCES: list[Reference] = [
    Reference(
        "ex-sgd-1", "the scale c of the total increment's law SaS(alpha, c)", _sgd_total_scale, 1e-3, 0.0,
        ROUNDING,
        "A sum of m iid SaS(alpha, 1) variables is SaS(alpha, m^(1/alpha)); multiply by sigma (eta/m)^(1/alpha).",
        practice={"alpha": 1.3, "sigma": 0.5, "eta": 0.2},
        graded={"alpha": (1.05, 1.95), "sigma": (0.1, 1.0), "eta": (0.05, 0.5)},
    ),
    Reference(
        "ex-sgd-2", "the standard deviation of one step's increment", _sgd_gaussian_std, 0.01, 0.0,
        "the sample standard deviation of 2e5 normal draws has relative standard error 1/sqrt(4e5) = 0.16%; "
        "1% is about 6 of them",
        "Convert the authors' sigma with hs.optim.authors_sigma_to_ours(sigma_a, 2.0, 'per_weight'), start "
        "from zero weights with zero gradients, take one step and measure W.std().",
        practice={"sigma_a": 0.003, "eta": 0.01}, graded={"sigma_a": (0.001, 0.01), "eta": (0.005, 0.05)},
    ),
    Reference(
        "ex-sgd-3", "the fraction of VGG11Wide(num_classes)'s parameters that receive noise",
        _sgd_vgg_noisy_fraction, 1e-4, 0.0, ROUNDING,
        "Sum p.numel() over the parameters of the groups of hs.optim.paper_param_groups(vgg) whose 'noise' "
        "entry is set, and divide by the total number of parameters.",
        practice={"num_classes": 10}, graded={"num_classes": (100, 1000)},
    ),
    Reference(
        "ex-sgd-4", "the exponent of eta in the walk's scale", _sgd_gaussian_scaling_exponent, 0.0, 1e-3, ROUNDING,
        "The walk has T/eta terms: its scale is sigma eta^gamma (T/eta)^(1/alpha).",
        practice={"gamma": 0.5, "alpha": 1.5}, graded={"gamma": (0.2, 1.0), "alpha": (1.05, 1.95)},
    ),
    Reference(
        "ex-sgd-5", "P(one neuron's kick > 1) for d = 40 and alpha = 1.5", _sgd_kick_probability, 1e-3, 0.0,
        ROUNDING,
        "The kick's norm is sqrt(d) c |X| with c = hs.optim.noise_scale(eta, alpha, sigma); use "
        "hs.stable.sf and the symmetry of X (a factor 2).",
        practice={"sigma": 0.03, "eta": 0.3}, graded={"sigma": (0.01, 0.1), "eta": (0.05, 0.5)},
    ),
]
