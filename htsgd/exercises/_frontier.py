"""Reference answers of the exercises of the chapter *Compressibility against accuracy* (``book/frontier.md``)."""

from __future__ import annotations

from ._reference import ROUNDING, Reference


def _matched_prunable(drop: float) -> float:
    """The exercise's seed: noise-free accuracy 0.935; three noise levels with accuracies and prunable fractions."""
    import pandas as pd

    from ..evidence import at_accuracy

    seed = pd.DataFrame({"seed": 0, "sigma": [1e-3, 3e-3, 1e-2], "test_acc": [0.930, 0.920, 0.900],
                         "prunable": [0.30, 0.22, 0.18]})
    return float(at_accuracy(seed, "prunable", 0.935 - drop).iloc[0])


def _pure_noise_fraction(alpha: float) -> float:
    from ..compress import noise_reference_fraction

    return noise_reference_fraction(alpha, 256, generator=0)


def _holm_first_threshold(m: int) -> float:
    return 0.05 / m


REFERENCES: list[Reference] = [
    Reference(
        "ex-frontier-1", "the prunable fraction interpolated where the accuracy first falls to 0.935 - drop",
        _matched_prunable, 1e-3, 0.0, ROUNDING,
        "The target is 0.935 - drop; find the first pair of noise levels whose accuracies bracket it and "
        "interpolate the prunable fraction in proportion to the accuracy.",
        practice={"drop": 0.01}, graded={"drop": (0.006, 0.034)},
    ),
    Reference(
        "ex-frontier-2", "the largest smallest p-value that lets Holm's procedure settle a claim of m",
        _holm_first_threshold, 1e-3, 0.0, ROUNDING,
        "The first comparison of Holm's procedure is Bonferroni's: p_(1) <= 0.05 / m.",
        practice={"m": 36}, graded={"m": (2, 200)},
    ),
    Reference(
        "ex-frontier-4", "the fraction mce-0.1 prunes from 256 neurons of pure type-1 noise (seed 0)",
        _pure_noise_fraction, 1e-3, 0.0, "the same seeded simulation: the tolerance only allows rounding",
        "Simulate the mce rule on 256 iid type-1 pure-noise neurons at this alpha with htsgd's pure-noise helper, "
        "generator=0.",
        practice={"alpha": 1.5}, graded={"alpha": (1.2, 1.95)},
    ),
]

#: Exercises whose answer is a statistic of the chapter's committed results.
UNCHECKED: dict[str, str] = {
    "ex-frontier-3": "the paired difference depends on the committed digits-frontier results",
    "ex-frontier-5": "the count depends on the committed digits-frontier results",
}
