"""Self-checks for the book's exercises: reference answers computed by htsgd, never pasted.

Introduced in the chapter *Stable distributions*, whose exercises are the first to use it.
Every exercise of the book asks the reader to put one number in a variable ``answer``
(an estimate, a fitted exponent, the value of a derived formula); a student notebook then
runs ``hs.exercises.check("ex-stable-2", answer)``. The reference is recomputed here from
htsgd's own functions (a characteristic function, a survival function, a model's parameter
groups, a pruning rule) or, for the value of a derived formula, from the formula written
as code: it is never a number copied from a run. Each reference states its tolerance and
why (a standard error for Monte Carlo answers, rounding for exact ones), and a failed check
prints a hint instead of the answer.

The exercise labels follow the book's convention ``ex-<chapter>-<n>``; ``labels()`` lists
the ones that have a reference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from numbers import Real
from typing import Any

__all__ = [
    "Exercise",
    "Reference",
    "REFERENCES",
    "UNCHECKED",
    "check",
    "exercise_classes",
    "find_exercises",
    "labels",
    "reference",
]

KINDS = ("derivation", "computation")
_STAR_WORDS = {1: "one star", 2: "two stars", 3: "three stars"}


@dataclass(frozen=True)
class Reference:
    """How one exercise's ``answer`` is checked.

    Attributes
    ----------
    label : str
        The exercise's label in the book (``ex-<chapter>-<n>``).
    asks : str
        What ``answer`` must hold, in one sentence.
    compute : callable
        No arguments; returns the reference value, computed with htsgd.
    rtol, atol : float
        The check passes when ``|answer - ref| <= atol + rtol * |ref|``.
    why : str
        Why the tolerance is what it is (standard error, rounding, bias at finite size).
    hint : str
        Printed when the check fails.

    Introduced in the chapter *Stable distributions*.
    """

    label: str
    asks: str
    compute: Callable[[], float]
    rtol: float
    atol: float
    why: str
    hint: str


# --- reference computations (each from htsgd's own functions) -------------------------


def _stable_variance_alpha2() -> float:
    # Var X = -phi''(0) for a symmetric law, from htsgd's characteristic function of SaS(2, 1).
    from .stable import char_func

    h = 1e-4
    phi = [complex(char_func(u, 2.0)).real for u in (-h, 0.0, h)]
    return -(phi[0] - 2 * phi[1] + phi[2]) / h**2


def _stable_sum_scale() -> float:
    # The scale s of X1 + X2 solves phi_s(1) = phi_1(1)^2, i.e. s^alpha = -2 log phi_1(1).
    from .stable import char_func

    alpha = 1.2
    return (-2 * math.log(complex(char_func(1.0, alpha)).real)) ** (1 / alpha)


def _stable_second_moment_growth() -> float:
    # P(X^2 > t) ~ c t^(-alpha/2): the largest of n squares is of order n^(2/alpha).
    alpha = 1.5
    return 2 / alpha - 1


def _stable_joint_exceedance_iid() -> float:
    from .stable import sf

    return float((2 * sf(5.0, 1.5)) ** 2)


def _stable_mmo_target() -> float:
    return 1.7  # the index of the sampled law: MMO is unbiased on exactly stable data


def _cauchy_tail_constant() -> float:
    from .stable import tail_constant

    return tail_constant(1.0, beta=1.0)  # C_1 (1 + beta) / 2 with beta = 1


def _sgd_total_scale() -> float:
    from .optim import noise_scale

    return noise_scale(0.2, 1.3, 0.5)


def _sgd_gaussian_std() -> float:
    from .optim import authors_sigma_to_ours, noise_scale

    # A SaS(2, c) increment is N(0, 2 c^2): standard deviation c sqrt(2).
    return noise_scale(0.01, 2.0, authors_sigma_to_ours(0.003, 2.0, "per_weight")) * math.sqrt(2.0)


def _sgd_vgg_noisy_fraction() -> float:
    from .nets import VGG11Wide
    from .optim import paper_param_groups

    vgg = VGG11Wide(10)
    noisy = sum(p.numel() for g in paper_param_groups(vgg) if g["noise"] for p in g["params"])
    return noisy / sum(p.numel() for p in vgg.parameters())


def _sgd_gaussian_scaling_exponent() -> float:
    gamma, alpha = 0.5, 1.5
    return gamma - 1 / alpha


def _sgd_kick_probability() -> float:
    from .optim import noise_scale
    from .stable import sf

    c = noise_scale(0.3, 1.5, 0.03)
    return 2 * float(sf(1.0 / (math.sqrt(40) * c), 1.5))


def _finite_variance_limit(law: Any, kappa: float) -> float:
    """Gribonval et al.'s limit sqrt(E[X^2 1{|X| <= t}] / E X^2) for a symmetric scipy law."""
    t = law.ppf(1 - kappa / 2)
    return math.sqrt(law.expect(lambda v: v**2, lb=-t, ub=t) / law.var())


def _uniform_limit() -> float:
    from scipy import stats

    return _finite_variance_limit(stats.uniform(-1, 2), 0.1)


def _student3_limit() -> float:
    from scipy import stats

    return _finite_variance_limit(stats.t(3), 0.1)


def _mce_removed_fraction() -> float:
    import torch

    from .compress import prune_neurons, prune_report
    from .stable import sample_isotropic

    layer = torch.nn.Linear(20, 2000, bias=False)
    with torch.no_grad():
        layer.weight.copy_(sample_isotropic(1.5, 2000, 20, generator=0))
    model = torch.nn.Sequential(layer, torch.nn.ReLU(), torch.nn.Linear(2000, 3, bias=False))
    return prune_report(prune_neurons(model, mce=0.1)).neuron_fraction


def _compress_rate_exponent() -> float:
    alpha = 1.2
    return 0.5 - 1 / alpha


def _gaussian_mce_removed() -> float:
    from scipy.optimize import brentq

    from .compress import gaussian_limit

    return 1 - brentq(lambda k: gaussian_limit(k) - math.sqrt(0.1), 1e-12, 1 - 1e-12, xtol=1e-12)


def _gaussian_neuron_fraction() -> float:
    from .compress import noise_reference_fraction

    return noise_reference_fraction(2.0, 512, tau=0.1)  # closed form at alpha = 2 (one Gaussian per neuron)


def _chi2_neuron_fraction() -> float:
    from .compress import noise_reference_fraction

    return noise_reference_fraction(2.0, 512, tau=0.1, noise="per_weight", input_dim=40)


_ROUNDING = "an exact value: the tolerance only allows rounding to about four significant digits"

REFERENCES: dict[str, Reference] = {
    r.label: r
    for r in [
        Reference(
            "ex-stable-1", "the sample variance of 10^5 draws of SaS(2, 1)", _stable_variance_alpha2,
            0.0, 0.05,
            "the sample variance of 10^5 N(0, 2) draws has standard error 2 sqrt(2 / 10^5) = 0.009; 0.05 is 5.6 of them",
            "SaS(2, 1) has characteristic function exp(-u^2): which normal law is that? Use dtype=torch.float64 "
            "and at least 10^5 samples.",
        ),
        Reference(
            "ex-stable-2", "the scale of X1 + X2 for alpha = 1.2", _stable_sum_scale, 1e-3, 0.0, _ROUNDING,
            "Multiply the two characteristic functions exp(-|u|^alpha) and write the product as "
            "exp(-(s |u|)^alpha): what is s?",
        ),
        Reference(
            "ex-stable-3", "the exponent p in E_n[X^2] ~ n^p for alpha = 1.5", _stable_second_moment_growth,
            0.0, 0.02, "an exact exponent: 0.02 allows rounding",
            "The running mean of X^2 is dominated by its largest term. P(X^2 > t) = P(|X| > sqrt t) decays like "
            "t^(-alpha/2): how large is the largest of n such terms, and what is it divided by n?",
        ),
        Reference(
            "ex-stable-4", "P(|X1| > 5 and |X2| > 5) for independent SaS(1.5, 1) coordinates",
            _stable_joint_exceedance_iid, 0.15, 0.0,
            "a Monte Carlo frequency of about 2e-3 from 4e5 pairs has a relative standard error of about 3.5%; "
            "15% is about 4 of them",
            "Estimate the frequency on the independent pairs (hs.stable.sample(1.5, (n, 2))), not on the isotropic "
            "ones, with n = 400,000; it should be close to the square of P(|X| > 5).",
        ),
        Reference(
            "ex-stable-5", "the MMO estimate with m = 10 on 10^6 SaS(1.7, 1) samples", _stable_mmo_target,
            0.0, 0.05,
            "MMO is unbiased on stable data; with 10^6 samples and m = 10 its standard deviation is below 0.01",
            "Use the stable samples (not Student's t), the whole 10^6 of them, and block size m = 10.",
        ),
        Reference(
            "ex-stable-6", "the Cauchy tail constant C_1", _cauchy_tail_constant, 1e-4, 0.0, _ROUNDING,
            "P(X > x) = 1/2 - arctan(x)/pi = arctan(1/x)/pi. Expand for large x, and remember the formula's "
            "factor (1 + beta)/2 = 1/2.",
        ),
        Reference(
            "ex-sgd-1", "the scale c of the total increment's law SaS(1.3, c)", _sgd_total_scale, 1e-3, 0.0,
            _ROUNDING,
            "A sum of m iid SaS(alpha, 1) variables is SaS(alpha, m^(1/alpha)); multiply by sigma (eta/m)^(1/alpha).",
        ),
        Reference(
            "ex-sgd-2", "the standard deviation of one step's increment (sigma_a = 0.003, eta = 0.01)",
            _sgd_gaussian_std, 0.01, 0.0,
            "the sample standard deviation of 2e5 normal draws has relative standard error 1/sqrt(4e5) = 0.16%; "
            "1% is about 6 of them",
            "Convert the authors' sigma with hs.optim.authors_sigma_to_ours(sigma_a, 2.0, 'per_weight'), start "
            "from zero "
            "weights with zero gradients, take one step and measure W.std().",
        ),
        Reference(
            "ex-sgd-3", "the fraction of VGG11Wide(10)'s parameters that receive noise", _sgd_vgg_noisy_fraction,
            1e-4, 0.0, _ROUNDING,
            "Sum p.numel() over the parameters of the groups of hs.optim.paper_param_groups(vgg) whose 'noise' "
            "entry is set, and divide by the total number of parameters.",
        ),
        Reference(
            "ex-sgd-4", "the exponent of eta in the walk's scale for gamma = 1/2, alpha = 1.5",
            _sgd_gaussian_scaling_exponent, 0.0, 1e-3, _ROUNDING,
            "The walk has T/eta terms: its scale is sigma eta^gamma (T/eta)^(1/alpha).",
        ),
        Reference(
            "ex-sgd-5", "P(one neuron's kick > 1) for d = 40, sigma = 0.03, eta = 0.3, alpha = 1.5",
            _sgd_kick_probability, 1e-3, 0.0, _ROUNDING,
            "The kick's norm is sqrt(d) c |X| with c = hs.optim.noise_scale(eta, alpha, sigma); use "
            "hs.stable.sf and the symmetry of X (a factor 2).",
        ),
        Reference(
            "ex-compressibility-1", "the limit of the relative error for uniform entries at kappa = 0.1",
            _uniform_limit, 1e-3, 0.0, _ROUNDING,
            "Solve P(|X| > t) = kappa for t, then divide E[X^2 1{|X| <= t}] by E[X^2] and take the square root.",
        ),
        Reference(
            "ex-compressibility-2", "the limit of the relative error for Student-t entries (nu = 3) at kappa = 0.1",
            _student3_limit, 1e-3, 0.0, _ROUNDING,
            "nu = 3 has finite variance (E X^2 = 3): use the finite-variance limit with t the (1 - kappa/2) "
            "quantile of scipy.stats.t(3).",
        ),
        Reference(
            "ex-compressibility-3", "1 - k*/n for the exercise's layer (generator=0, d = 20, n = 2000, tau = 0.1)",
            _mce_removed_fraction, 0.0, 0.6 / 2000,
            "the answer is a count divided by 2000: the tolerance is less than one neuron",
            "k* is the first k whose relative best k-term error of the neuron norms is <= sqrt(tau). Build the "
            "layer exactly as the exercise says (generator=0).",
        ),
        Reference(
            "ex-compressibility-4", "the fitted exponent of the median error at alpha = 1.2",
            _compress_rate_exponent, 0.0, 0.1,
            "a fitted slope over n = 10^2 to 10^5 is pre-asymptotic (a little shallower than the limit) and "
            "noisy; 0.1 accepts any fit near the predicted 1/2 - 1/alpha",
            "Fit log(median) against log(n) with np.polyfit(..., 1) and report the slope; use medians, not means.",
        ),
        Reference(
            "ex-compressibility-5", "the fraction of a Gaussian layer that mce-0.1 removes as n -> infinity",
            _gaussian_mce_removed, 0.0, 2e-3,
            "the limit is exact: 2e-3 accepts a root found on a grid of step 1e-3",
            "Solve hs.compress.gaussian_limit(kappa) = sqrt(tau) for kappa (scipy.optimize.brentq); the removed "
            "fraction is 1 - kappa.",
        ),
        Reference(
            "ex-experiments-1", "the fraction of Gaussian neurons mce-0.1 prunes as n -> infinity",
            _gaussian_neuron_fraction, 0.0, 1e-3, "an exact value (the root of a closed form): 1e-3 allows rounding",
            "The removed share below t is 2 Phi(t) - 1 - 2 t phi(t); solve it equal to tau, then the fraction "
            "pruned is P(|Z| <= t) = 2 Phi(t) - 1.",
        ),
        Reference(
            "ex-experiments-2", "the fraction pruned for d = 40 Gaussian weights per neuron at tau = 0.1",
            _chi2_neuron_fraction, 1e-3, 0.0, _ROUNDING,
            "Solve F_{d+2}(q) = tau with scipy.stats.chi2(d + 2).ppf, then evaluate F_d(q) with chi2(d).cdf.",
        ),
    ]
}

#: Exercises that ask for an ``answer`` with no reference: the answer is a statistic of the chapter's own
#: computed results (a sweep), which only the chapter has; their solution shows how it is computed.
UNCHECKED: dict[str, str] = {
    "ex-experiments-3": "the ratio depends on the chapter's sweep results",
    "ex-experiments-5": "the rank correlation depends on the chapter's sweep results",
}


def labels() -> tuple[str, ...]:
    """The labels of the exercises that have a reference answer.

    Introduced in the chapter *Stable distributions*.
    """
    return tuple(REFERENCES)


def _lookup(label: Any) -> Reference:
    if not isinstance(label, str):
        raise TypeError(f"label must be a str such as 'ex-stable-1', got {type(label).__name__} {label!r}")
    if label in UNCHECKED:
        raise ValueError(f"{label} has no self-check: {UNCHECKED[label]}; compare with the solution instead")
    if label not in REFERENCES:
        raise ValueError(f"label must be one of the exercises with a self-check ({', '.join(REFERENCES)}), got {label!r}")
    return REFERENCES[label]


@cache
def reference(label: str) -> float:
    """The reference answer of exercise ``label``, computed with htsgd (cached).

    Introduced in the chapter *Stable distributions*.

    >>> round(reference("ex-stable-6"), 6)  # C_1 = 2 / pi
    0.63662
    """
    return float(_lookup(label).compute())


def check(label: str, answer: Any, *, verbose: bool = True) -> bool:
    """Compare ``answer`` with the reference answer of exercise ``label``; print a hint if it is off.

    Parameters
    ----------
    label : str
        The exercise's label in the book, such as ``"ex-stable-2"`` (``labels()`` lists them).
    answer : float
        The reader's answer: one real number (a Python or numpy float, or a one-element tensor).
    verbose : bool
        Print the outcome (success with the tolerance used, or a hint on failure).

    Returns
    -------
    bool
        True when ``|answer - ref| <= atol + rtol |ref|`` with the tolerances of ``REFERENCES[label]``.
        A grading cell uses ``assert check(label, answer)``.

    Raises
    ------
    ValueError
        If ``label`` has no reference, or ``answer`` is not finite.
    TypeError
        If ``answer`` is not a real number (``...``, the scaffold's placeholder, included).

    Introduced in the chapter *Stable distributions*.

    >>> check("ex-stable-6", 0.6366, verbose=False)
    True
    >>> check("ex-stable-6", 1 / 3.14159, verbose=False)
    False
    """
    ref = _lookup(label)
    if answer is Ellipsis:
        raise TypeError(f"answer is still the placeholder `...`: set `answer` to {ref.asks}")
    item = getattr(answer, "item", None)
    if callable(item) and not isinstance(answer, Real):  # a one-element tensor or array
        try:
            answer = item()
        except (ValueError, RuntimeError) as err:
            raise TypeError(f"answer must be one number ({ref.asks}), got an array of shape "
                            f"{tuple(answer.shape)}") from err
    if isinstance(answer, bool) or not isinstance(answer, Real):
        raise TypeError(f"answer must be a real number ({ref.asks}), got {type(answer).__name__} {answer!r}")
    value = float(answer)
    if not math.isfinite(value):
        raise ValueError(f"answer must be finite ({ref.asks}), got {value!r}")
    target = reference(label)
    allowed = ref.atol + ref.rtol * abs(target)
    ok = abs(value - target) <= allowed
    if verbose:
        if ok:
            print(f"{label}: correct (within {allowed:.3g} of the reference computed by htsgd; {ref.why}).")
        else:
            side = "too large" if value > target else "too small"
            print(f"{label}: not yet: {value:.6g} is {side} by more than the tolerance {allowed:.3g}.\n"
                  f"  The answer should be {ref.asks}.\n  Hint: {ref.hint}")
    return ok


# --- the book's exercise convention ------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter, as its MyST source declares it.

    Attributes
    ----------
    label : str
        ``ex-<chapter>-<n>``.
    title : str
        The directive's argument (sentence case).
    kind : str
        ``"derivation"`` or ``"computation"``.
    stars : int
        Difficulty, 1 to 3.
    minutes : int
        Time estimate in minutes.
    text : str
        The exercise's body (MyST).
    solution : str
        The body of its gated solution (MyST with code cells), or ``""``.

    Introduced in the chapter *Stable distributions*.
    """

    label: str
    title: str
    kind: str
    stars: int
    minutes: int
    text: str = ""
    solution: str = ""

    @property
    def badge(self) -> str:
        """``"Derivation · ★★☆ (two stars) · about 15 min"``: the line the book and the notebooks show."""
        return (f"{self.kind.capitalize()} · {'★' * self.stars}{'☆' * (3 - self.stars)} "
                f"({_STAR_WORDS[self.stars]}) · about {self.minutes} min")


def exercise_classes(classes: Any) -> dict[str, Any]:
    """Read an exercise's ``:class:`` option: exactly a kind, ``stars-N`` (1 to 3) and ``minutes-N``.

    Parameters
    ----------
    classes : str or sequence of str
        ``"derivation stars-2 minutes-15"`` or its words.

    Returns
    -------
    dict
        ``{"kind": str, "stars": int, "minutes": int}``.

    Raises
    ------
    ValueError
        Naming what is missing, repeated or out of range.

    Introduced in the chapter *Stable distributions*.

    >>> exercise_classes("derivation stars-2 minutes-15")
    {'kind': 'derivation', 'stars': 2, 'minutes': 15}
    """
    words = classes.split() if isinstance(classes, str) else [str(w) for w in classes]
    kinds = [w for w in words if w in KINDS]
    stars = [int(m.group(1)) for w in words if (m := re.fullmatch(r"stars-(\d+)", w))]
    minutes = [int(m.group(1)) for w in words if (m := re.fullmatch(r"minutes-(\d+)", w))]
    if len(words) != 3 or len(kinds) != 1 or len(stars) != 1 or len(minutes) != 1:
        raise ValueError(
            "classes must be exactly three words: the kind (derivation or computation), stars-N (N = 1, 2, 3) and "
            f"minutes-N, got {' '.join(words)!r}"
        )
    if stars[0] not in _STAR_WORDS:
        raise ValueError(f"stars-N must have N in 1, 2, 3, got stars-{stars[0]}")
    if not 1 <= minutes[0] <= 240:
        raise ValueError(f"minutes-N must have N in [1, 240], got minutes-{minutes[0]}")
    return {"kind": kinds[0], "stars": stars[0], "minutes": minutes[0]}


_EXERCISE = re.compile(r"^(:{3,})\{exercise\}[ \t]*([^\n]*)\n(.*?)^\1[ \t]*$", re.M | re.S)
_SOLUTION = re.compile(
    r"^:{3,}\{solution-start\}[ \t]*(\S+)[ \t]*\n(?:[ \t]*:\S[^\n]*\n)*:{3,}[ \t]*\n(.*?)^:{3,}\{solution-end\}",
    re.M | re.S,
)


def find_exercises(markdown: str) -> list[Exercise]:
    """The exercises of a chapter's MyST source, in order, with their gated solutions.

    Parameters
    ----------
    markdown : str
        A chapter (``book/<chapter>.md``).

    Returns
    -------
    list of Exercise

    Raises
    ------
    ValueError
        If an exercise lacks a label, or its ``:class:`` breaks the convention (see
        ``exercise_classes``); the message names the exercise.

    Introduced in the chapter *Stable distributions*.
    """
    solutions = {m.group(1): m.group(2).strip("\n") for m in _SOLUTION.finditer(markdown)}
    found = []
    for m in _EXERCISE.finditer(markdown):
        title, body = m.group(2).strip(), m.group(3)
        options = dict(re.findall(r"^:(\w+):[ \t]*(.*)$", body, re.M))
        text = re.sub(r"^:\w+:.*\n", "", body, flags=re.M).strip("\n")
        label = options.get("label", "").strip()
        if not label:
            raise ValueError(f"the exercise {title!r} has no :label:")
        try:
            meta = exercise_classes(options.get("class", ""))
        except ValueError as err:
            raise ValueError(f"exercise {label}: {err}") from None
        found.append(Exercise(label, title, text=text, solution=solutions.get(label, ""), **meta))
    return found
