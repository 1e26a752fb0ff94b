"""Reference answers of the exercises of the chapter *Compressibility experiments* (``book/experiments.md``)."""

from __future__ import annotations

from ._reference import ROUNDING, Reference


def _gaussian_neuron_fraction(tau: float) -> float:
    from ..compress import noise_reference_fraction

    return noise_reference_fraction(2.0, 512, tau=tau)  # closed form at alpha = 2 (one Gaussian per neuron)


def _chi2_neuron_fraction(d: int, tau: float) -> float:
    from ..compress import noise_reference_fraction

    return noise_reference_fraction(2.0, 512, tau=tau, noise="per_weight", input_dim=d)


REFERENCES: list[Reference] = [
    Reference(
        "ex-experiments-1", "the fraction of Gaussian neurons mce-tau prunes as n -> infinity",
        _gaussian_neuron_fraction, 0.0, 1e-3, "an exact value (the root of a closed form): 1e-3 allows rounding",
        "The removed share below t is 2 Phi(t) - 1 - 2 t phi(t); solve it equal to tau, then the fraction "
        "pruned is P(|Z| <= t) = 2 Phi(t) - 1.",
        practice={"tau": 0.1}, graded={"tau": (0.02, 0.4)},
    ),
    Reference(
        "ex-experiments-2", "the fraction pruned for d Gaussian weights per neuron at mce-tau",
        _chi2_neuron_fraction, 1e-3, 0.0, ROUNDING,
        "Solve F_{d+2}(q) = tau with scipy.stats.chi2(d + 2).ppf, then evaluate F_d(q) with chi2(d).cdf.",
        practice={"d": 40, "tau": 0.1}, graded={"d": (2, 200), "tau": (0.02, 0.4)},
    ),
]

#: Exercises that ask for an ``answer`` with no reference: the answer is a statistic of the chapter's own
#: computed results (a sweep), which only the chapter has; their solution shows how it is computed.
UNCHECKED: dict[str, str] = {
    "ex-experiments-3": "the ratio depends on the chapter's sweep results",
    "ex-experiments-5": "the rank correlation depends on the chapter's sweep results",
}
