"""Self-checks for the book's exercises: reference answers computed by htsgd, never pasted.

Introduced in the chapter *Stable distributions*, whose exercises are the first to use it.
Every exercise of the book whose result is a number asks the reader to put it in a variable
``answer`` (an estimate, a fitted exponent, the value of a derived formula at stated
parameters); pure proofs ask for none. A student notebook then
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


def _sde_ou_euler_scale() -> float:
    from .sde import stable_ou_euler_law

    return stable_ou_euler_law(1.0, 1.0, 1.0, 1.3, 0.3, 10)[1]


def _sde_accumulated_scale() -> float:
    # t / eta iid copies of eta^gamma X: the scale s solves phi_s(1) = phi(eta^gamma)^(t / eta).
    from .stable import char_func

    alpha, gamma, eta, t = 1.5, 0.5, 0.01, 1.0
    return (-(t / eta) * math.log(complex(char_func(eta**gamma, alpha)).real)) ** (1 / alpha)


def _sde_levy_constant() -> float:
    # The c for which the Lévy-Khintchine integral of c |y|^(-1-alpha) dy gives -psi(1) = 1.
    from .sde import levy_exponent_from_measure

    return 1.0 / levy_exponent_from_measure(1.5, 1.0, c=1.0)


def _sde_fractional_moment() -> float:
    # E|S|^p = 2 int_0^inf x^p f(x) dx with htsgd's stable density f (split where the integrand changes scale).
    from scipy import integrate

    from .stable import pdf

    alpha, p = 1.2, 0.3
    pieces = [(0.0, 1.0), (1.0, 100.0), (100.0, math.inf)]
    return 2 * sum(integrate.quad(lambda x: x**p * float(pdf(x, alpha)), a, b, limit=200)[0] for a, b in pieces)


def _sde_tamed_order() -> float:
    return 1.0  # the order of the explicit scheme on this problem; taming changes each step by O(h^2)


def _meanfield_increment_char_func() -> float:
    from .optim import noise_scale
    from .stable import char_func

    # <u, S> for an isotropic S with scale c is SaS(alpha, c |u|): E cos<u, S> = phi_c(|u|).
    return float(complex(char_func(math.sqrt(6.0), 1.5, scale=noise_scale(0.1, 1.5, 0.5))).real)


def _meanfield_noise_ratio() -> float:
    from .optim import noise_scale

    n, eta, alpha, sigma = 256, 0.05, 1.5, 0.1
    return noise_scale(n * eta, alpha, sigma) / noise_scale(eta, alpha, sigma)


def _meanfield_tanh_exponent() -> float:
    return -1.0  # a bounded activation: the output is an average of bounded, nearly independent terms


def _meanfield_steps_needed() -> float:
    from .meanfield import step_condition

    return 20.0 / step_condition(1024, 1.75)


def _chaos_transfer_bound() -> float:
    rho = 0.1  # delta / |Theta_bar|_F
    return 2 * rho / (1 - rho)


def _chaos_covariance_floor() -> float:
    # Mean Frobenius norm of the sample cross-covariance of S = 16 pairs of independent N(0, v I_10) vectors,
    # over 20,000 repetitions (the chaos experiment's covariance column, batched).
    import torch

    s, d, v, reps = 16, 10, 0.1, 20_000
    g = torch.Generator().manual_seed(0)
    u = torch.randn(reps, s, d, generator=g, dtype=torch.float64) * v**0.5
    w = torch.randn(reps, s, d, generator=g, dtype=torch.float64) * v**0.5
    uc, wc = u - u.mean(dim=1, keepdim=True), w - w.mean(dim=1, keepdim=True)
    return float((uc.transpose(1, 2) @ wc / (s - 1)).flatten(1).norm(dim=1).mean())


def _chaos_full_w1_exponent() -> float:
    return -1 / 10  # the empirical W1 of two n-samples in dimension d >= 3 falls like n^(-1/d)


def _chaos_average_exponent() -> float:
    alpha = 1.5
    return 1 / alpha - 1  # (1/n) sum X_i = n^(1/alpha - 1) X_1 in law, so every quantile scales so


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
        Reference(
            "ex-sde-1", "the scale s of X^h_10 ~ loc + SaS(1.3, s) (theta = sigma = x0 = 1, h = 0.3)",
            _sde_ou_euler_scale, 1e-3, 0.0, _ROUNDING,
            "With a = 1 - theta h, X^h_n = a^n x0 + sigma sum_j a^j dL_(n-1-j) and dL ~ SaS(alpha, h^(1/alpha)): "
            "add the scales to the power alpha, sigma^alpha h |a|^(alpha j), a geometric sum.",
        ),
        Reference(
            "ex-sde-2", "the scale of the noise accumulated over t = 1 for gamma = 1/2, eta = 0.01, alpha = 1.5",
            _sde_accumulated_scale, 1e-3, 0.0, _ROUNDING,
            "A sum of m iid SaS(alpha, c) variables is SaS(alpha, c m^(1/alpha)); here c = eta^gamma and m = t / eta.",
        ),
        Reference(
            "ex-sde-3", "the constant c_alpha of the Lévy measure at alpha = 1.5", _sde_levy_constant, 1e-4, 0.0,
            _ROUNDING,
            "-psi(u) = 2 c I_alpha |u|^alpha must equal |u|^alpha: solve for c with "
            "I_alpha = Gamma(1 - alpha) cos(pi alpha / 2) / alpha.",
        ),
        Reference(
            "ex-sde-4", "the estimate of E|S|^0.3 at alpha = 1.2 from all 2 x 10^5 draws", _sde_fractional_moment,
            0.0, 0.006,
            "|S|^0.3 has standard deviation 0.49 (from E|S|^0.6), so a mean of 2e5 draws has standard error 0.0011; "
            "0.006 is about 5.5 of them",
            "Average |S|^0.3 over all 20 x 10^4 draws of hs.stable.sample(1.2, (20, 10_000), dtype=torch.float64), "
            "not |S|^1.0 and not one batch of 10^4.",
        ),
        Reference(
            "ex-sde-5", "the fitted strong order of the tamed scheme (OU, alpha = 1.5, medians)", _sde_tamed_order,
            0.0, 0.1,
            "a slope fitted to medians of 10^4 coupled paths has a standard error near 0.015 and a pre-asymptotic "
            "bias of a few hundredths (1.00 to 1.02 over three seeds); 0.1 accepts any fit near order 1",
            "Drive the tamed coarse scheme with hs.sde.coarsen(dl, f) of the fine increments (the same Lévy "
            "path), take the median of |X^h - X^ref| at T = 1 for each step and fit with hs.sde.convergence_order.",
        ),
        Reference(
            "ex-meanfield-2", "E cos<u, sigma eta^(1/alpha) S> at u = (1, 2, -1), alpha = 1.5, sigma = 0.5, eta = 0.1",
            _meanfield_increment_char_func, 1e-3, 0.0, _ROUNDING,
            "<u, S> for an isotropic S of scale c is SaS(alpha, c |u|) with c = sigma eta^(1/alpha): evaluate "
            "exp(-(c |u|)^alpha) at |u| = sqrt(6).",
        ),
        Reference(
            "ex-meanfield-3", "the ratio of the interquartile ranges of the two increments (n = 256)",
            _meanfield_noise_ratio, 1e-3, 0.0,
            "both steps draw the same standard noise from the same seed, so the ratio is exact up to float32 "
            "rounding (about 1e-6 relative); 1e-3 allows rounding",
            "Seed both steps with the same generator, so they draw the same standard noise; the optimizer's factor "
            "is sigma (n eta)^(1/alpha), the mean-field one sigma eta^(1/alpha).",
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
            "ex-meanfield-5", "the number of steps to reach t = 20 at the largest allowed eta (n = 1024, alpha = 1.75)",
            _meanfield_steps_needed, 1e-3, 0.0, _ROUNDING,
            "The largest allowed step is eta = n^(-alpha/2 - 1) (hs.meanfield.step_condition); reaching t = 20 "
            "takes t / eta steps.",
        ),
        Reference(
            "ex-chaos-1", "the bound on |r_k(x) - r_k(y)| when |E|_F = 0.1 |y|_F", _chaos_transfer_bound, 1e-4, 0.0,
            _ROUNDING,
            "Put delta = 0.1 |y|_F in the bound 2 delta / (|y|_F - delta): the norm of y cancels.",
        ),
        Reference(
            "ex-chaos-3", "the mean Frobenius norm of the sample cross-covariance (S = 16, d = 10, v = 0.1)",
            _chaos_covariance_floor, 0.0, 0.004,
            "a mean of 2000 norms (standard deviation 0.027) has standard error 0.0006, the reference's mean of "
            "20,000 has 0.0002; 0.004 is about 6 of them",
            "Centre each coordinate over the S = 16 seeds, form the d x d matrix u_c^T w_c / (S - 1), take its "
            "Frobenius norm, and average over at least 2000 repetitions; each coordinate has variance v = 0.1.",
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
            "ex-chaos-5", "the fitted exponent of the median of |(1/n) sum X_i| against n at alpha = 1.5",
            _chaos_average_exponent, 0.0, 0.04,
            "the median of 2000 values has a relative standard error near 3%, so the slope over n = 16 to 4096 has a "
            "standard error near 0.007 (-0.326 to -0.337 over three seeds); 0.04 is about 5 of them",
            "Fit log(median |mean|) against log n with hs.sde.convergence_order(ns, medians) for the stable "
            "average (not the relu one); a median that falls gives a negative exponent.",
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
