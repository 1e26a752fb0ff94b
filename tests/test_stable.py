"""Tests for htsgd.stable: sampler laws (KS, characteristic function, tails), densities
against an mpmath reference, argument checks and reproducibility."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from scipy import stats

import htsgd.stable as st

# ---------------------------------------------------------------- mpmath reference
mp.mp.dps = 30
# Geometric subintervals out to 2^14: exp(-u^alpha) decays slowly for small alpha.
_SPLITS = [0] + [2.0**k for k in range(-1, 15)] + [mp.inf]


def _cf_s1(u, a, b):
    u = mp.mpf(u)
    if a == 1:
        return mp.exp(-abs(u) * (1 + 1j * b * (2 / mp.pi) * mp.sign(u) * mp.log(abs(u))))
    return mp.exp(-abs(u) ** a * (1 - 1j * b * mp.tan(mp.pi * a / 2) * mp.sign(u)))


def _ref_pdf(x, a, b):
    """Fourier inversion of the S1 characteristic function, in 30 digits."""
    f = lambda u: mp.re(_cf_s1(u, a, b) * mp.exp(-1j * u * x))  # noqa: E731
    if abs(x) > 4:  # far tail: integrate period by period
        return float(mp.quadosc(f, [0, mp.inf], omega=abs(x)) / mp.pi)
    return float(mp.quad(f, _SPLITS) / mp.pi)


def _ref_cdf(x, a, b):
    """Gil-Pelaez inversion: F(x) = 1/2 - (1/pi) int_0^inf Im(e^{-iux} phi(u)) / u du."""
    f = lambda u: mp.im(_cf_s1(u, a, b) * mp.exp(-1j * u * x)) / u  # noqa: E731
    return float(mp.mpf(0.5) - mp.quad(f, _SPLITS) / mp.pi)


LAWS = [(1.5, 0.0), (0.8, 0.5), (1.3, 1.0), (1.0, 0.5), (0.5, -0.3), (1.9, -1.0)]


@pytest.mark.parametrize("alpha,beta", LAWS)
def test_pdf_cdf_match_mpmath_in_the_body(alpha, beta):
    xs = [-2.0, 0.3, 1.7]
    for x in xs:
        assert st.pdf(x, alpha, beta) == pytest.approx(_ref_pdf(x, alpha, beta), rel=1e-8)
        assert st.cdf(x, alpha, beta) == pytest.approx(_ref_cdf(x, alpha, beta), rel=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("alpha,beta,x", [(1.5, 0.0, 20.0), (0.8, 0.5, -50.0), (1.0, 0.5, 20.0)])
def test_pdf_matches_mpmath_in_the_tails(alpha, beta, x):
    assert st.pdf(x, alpha, beta) == pytest.approx(_ref_pdf(x, alpha, beta), rel=1e-7)


@pytest.mark.parametrize("alpha,beta", [(1.5, 0.0), (0.7, 0.5), (1.2, -0.8), (1.0, 0.3)])
def test_far_tails_follow_the_tail_constant(alpha, beta):
    # x^alpha P(X > x) -> tail_constant, and the density -> alpha * constant * x^(-alpha-1).
    x = 1e5 if alpha == 1.0 else 1e7  # at alpha = 1 the correction decays only like log(x)/x
    c = st.tail_constant(alpha, beta)
    assert x**alpha * st.sf(x, alpha, beta) == pytest.approx(c, rel=1e-3)
    assert x ** (alpha + 1) * st.pdf(x, alpha, beta) == pytest.approx(alpha * c, rel=1e-3)
    # The lower tail uses -beta.
    assert x**alpha * st.cdf(-x, alpha, beta) == pytest.approx(st.tail_constant(alpha, -beta), rel=1e-3)


def test_closed_forms():
    x = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(st.pdf(x, 2.0, 0.7), stats.norm.pdf(x, scale=math.sqrt(2)), rtol=1e-13)
    np.testing.assert_allclose(st.cdf(x, 1.0), stats.cauchy.cdf(x), rtol=1e-13)
    np.testing.assert_allclose(st.pdf(x, 0.5, 1.0, scale=2.0, loc=1.0), stats.levy.pdf(x, loc=1, scale=2), rtol=1e-12)
    np.testing.assert_allclose(st.cdf(x, 0.5, 1.0), stats.levy.cdf(x), rtol=1e-12)
    # The general integral agrees with the closed forms as beta -> 1 (Levy) at alpha = 1/2.
    y = np.array([0.3, 1.0, 5.0])
    np.testing.assert_allclose(st.pdf(y, 0.5, 1 - 1e-12), stats.levy.pdf(y), rtol=1e-8)


@pytest.mark.parametrize("alpha,beta", [(1.5, 0.0), (0.6, 0.8), (1.0, 1.0), (1.8, -1.0)])
def test_pdf_integrates_to_one_and_is_the_cdf_derivative(alpha, beta):
    x = np.linspace(-40, 40, 40001)
    f = st.pdf(x, alpha, beta)
    mass = np.trapezoid(f, x)
    assert mass == pytest.approx(st.cdf(40, alpha, beta) - st.cdf(-40, alpha, beta), abs=1e-6)
    h = 1e-4
    for x0 in (-1.3, 0.2, 2.5):
        deriv = (st.cdf(x0 + h, alpha, beta) - st.cdf(x0 - h, alpha, beta)) / (2 * h)
        assert deriv == pytest.approx(st.pdf(x0, alpha, beta), rel=1e-6)


def test_s0_and_s1_and_scale_loc():
    alpha, beta, scale, loc = 1.4, 0.6, 2.0, 0.5
    shift = beta * scale * math.tan(math.pi * alpha / 2)  # delta0 = delta1 + shift
    x = np.linspace(-5, 5, 11)
    s1 = st.pdf(x, alpha, beta, scale, loc, "S1")
    s0 = st.pdf(x, alpha, beta, scale, loc + shift, "S0")
    np.testing.assert_allclose(s1, s0, rtol=1e-12)
    np.testing.assert_allclose(s1, st.pdf((x - loc) / scale, alpha, beta) / scale, rtol=1e-12)
    np.testing.assert_allclose(np.exp(st.logpdf(x, alpha, beta)), st.pdf(x, alpha, beta), rtol=1e-14)
    # alpha = 1: delta0 = delta1 + (2/pi) beta scale log(scale)
    s1 = st.cdf(x, 1.0, beta, scale, loc, "S1")
    s0 = st.cdf(x, 1.0, beta, scale, loc + 2 / math.pi * beta * scale * math.log(scale), "S0")
    np.testing.assert_allclose(s1, s0, rtol=1e-12)


def test_torch_input_and_shapes():
    x = torch.linspace(-3, 3, 12).reshape(3, 4)
    out = st.pdf(x, 1.5)
    assert isinstance(out, np.ndarray) and out.shape == (3, 4)
    assert isinstance(st.cdf(0.0, 1.5), float)
    assert st.cdf(np.inf, 1.5) == 1.0 and st.cdf(-np.inf, 1.5) == 0.0 and st.pdf(np.inf, 1.2) == 0.0


def test_char_func_closed_forms_and_s0():
    u = np.array([-3.0, -0.5, 0.0, 0.7, 2.0])
    np.testing.assert_allclose(st.char_func(u, 2.0), np.exp(-(u**2)), rtol=1e-14)
    np.testing.assert_allclose(st.char_func(u, 1.0, scale=2.0), np.exp(-2 * np.abs(u)), rtol=1e-14)
    a, b, g, d1 = 1.5, 0.5, 1.3, 0.2
    d0 = d1 + b * g * math.tan(math.pi * a / 2)
    np.testing.assert_allclose(st.char_func(u, a, b, g, d1, "S1"), st.char_func(u, a, b, g, d0, "S0"), rtol=1e-12)


# ---------------------------------------------------------------- the sampler
KS_GRID = [(a, b) for a in (0.5, 0.8, 1.0, 1.3, 1.5, 1.9, 2.0) for b in (0.0, 0.5)] + [
    (0.5, 1.0),
    (0.7, -1.0),
    (1.0, 1.0),
    (1.5, 1.0),
    (1.8, -1.0),
]
N_KS = 1_000_000
# Kolmogorov-Smirnov critical value at level 1e-4 for n = 1e6 (about 2.0e-3).
KS_CRIT = float(stats.kstwo.isf(1e-4, N_KS))


@pytest.mark.slow
@pytest.mark.parametrize("alpha,beta", KS_GRID)
def test_sampler_ks_against_the_cdf(alpha, beta):
    # The cdf is checked against mpmath above; here the empirical cdf of 1e6 float64 draws
    # is compared with it at 2000 sample quantiles (a lower bound of the KS statistic,
    # so the test is conservative at level 1e-4).
    x = st.sample(alpha, N_KS, beta=beta, generator=12345, dtype=torch.float64).numpy()
    srt = np.sort(x)
    ranks = np.linspace(0, N_KS - 1, 2000).astype(int)
    # |x| <= 1e4 keeps all but ~1e-4 of the mass, and avoids the slow far tail at alpha = 1, beta != 0.
    ranks = ranks[np.abs(srt[ranks]) <= 1e4]
    f = st.cdf(srt[ranks], alpha, beta)
    dist = np.maximum(np.abs((ranks + 1) / N_KS - f), np.abs(ranks / N_KS - f)).max()
    assert dist < KS_CRIT


@pytest.mark.parametrize("param", ["S1", "S0"])
@pytest.mark.parametrize("alpha,beta", [(1.2, 0.7), (1.0, -0.5), (0.9, 0.4)])
def test_sampler_scale_loc_and_parameterization(param, alpha, beta):
    n = 200_000
    x = st.sample(alpha, n, beta=beta, scale=1.7, loc=-0.4, parameterization=param, generator=3,
                  dtype=torch.float64).numpy()
    res = stats.kstest(x, lambda t: st.cdf(t, alpha, beta, 1.7, -0.4, param))
    assert res.pvalue > 1e-4


def test_empirical_characteristic_function(device):
    n = 400_000
    for alpha, beta in [(1.5, 0.5), (0.8, 0.0), (1.0, 0.7)]:
        x = st.sample(alpha, n, beta=beta, generator=5, device=device, dtype=torch.float64).cpu().numpy()
        for u in (0.3, 1.0, 2.5):
            emp = np.exp(1j * u * x).mean()
            assert abs(emp - st.char_func(u, alpha, beta)) < 6 / math.sqrt(n)


def test_tail_constant_on_samples():
    n = 2_000_000
    for alpha, beta in [(1.5, 0.0), (1.2, 0.5)]:
        x = st.sample(alpha, n, beta=beta, generator=7, dtype=torch.float64).numpy()
        t = 30.0
        emp = (x > t).mean() * t**alpha
        assert emp == pytest.approx(t**alpha * st.sf(t, alpha, beta), rel=0.1)
        assert st.tail_constant(alpha, beta) == pytest.approx(t**alpha * st.sf(t, alpha, beta), rel=0.1)
    assert st.tail_constant(1.0) == pytest.approx(1 / math.pi)
    assert st.tail_constant(2.0) == 0.0


def test_alpha_two_and_one_are_exact():
    g = st.sample(2.0, 100_000, generator=1, dtype=torch.float64).numpy()
    assert stats.kstest(g, "norm", args=(0, math.sqrt(2))).pvalue > 1e-4
    c = st.sample(1.0, 100_000, scale=0.5, generator=2, dtype=torch.float64).numpy()
    assert stats.kstest(c, "cauchy", args=(0, 0.5)).pvalue > 1e-4


@pytest.mark.slow
def test_no_non_finite_values_float32(device):
    # 1e8 symmetric float32 draws at alpha = 0.5 (in chunks of 1e7 to bound memory), where an
    # unclamped CMS gives 5-20 non-finite values; plus 2e7 totally skewed ones.
    gen = torch.Generator(device=device).manual_seed(10)
    for _ in range(10):
        x = st.sample(0.5, 10_000_000, dtype=torch.float32, generator=gen, device=device)
        assert bool(torch.isfinite(x).all())
    for _ in range(2):
        x = st.sample(0.5, 10_000_000, beta=1.0, dtype=torch.float32, generator=gen, device=device)
        assert bool(torch.isfinite(x).all())


needs_triton = pytest.mark.skipif(
    not (torch.cuda.is_available() and st._stable_triton.triton is not None),
    reason="the fused kernel needs CUDA and Triton",
)


@pytest.mark.cuda
@needs_triton
@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.3, 1.5, 1.9])
def test_triton_kernel_has_the_same_law_as_the_torch_path(alpha):
    """The fused CUDA kernel against the cdf (KS, 1e6) and against the torch path (two-sample KS)."""
    gen = torch.Generator(device="cuda").manual_seed(int(alpha * 100))
    fused = st.sample(alpha, 1_000_000, scale=1.7, loc=0.3, generator=gen, device="cuda", dtype=torch.float32)
    reference = st.sample(alpha, 1_000_000, scale=1.7, loc=0.3, generator=gen, device="cuda",
                          dtype=torch.float32, _use_triton=False)
    fused, reference = fused.double().cpu().numpy(), reference.double().cpu().numpy()
    # KS statistic at 2000 sample quantiles with |x| <= 1e4 (a lower bound, so conservative).
    srt = np.sort(fused)
    ranks = np.linspace(0, fused.size - 1, 2000).astype(int)
    ranks = ranks[np.abs(srt[ranks]) <= 1e4]
    f = st.cdf(srt[ranks], alpha, 0.0, 1.7, 0.3)
    dist = np.maximum(np.abs((ranks + 1) / fused.size - f), np.abs(ranks / fused.size - f)).max()
    assert dist < stats.kstwo.isf(1e-4, fused.size)
    assert stats.ks_2samp(fused, reference).pvalue > 1e-4


@pytest.mark.cuda
@needs_triton
def test_triton_kernel_is_reproducible_and_advances_the_generator():
    a = st.sample(1.5, 10_000, generator=3, device="cuda", dtype=torch.float32)
    b = st.sample(1.5, 10_000, generator=3, device="cuda", dtype=torch.float32)
    assert torch.equal(a, b)
    gen = torch.Generator(device="cuda").manual_seed(3)
    c = st.sample(1.5, 10_000, generator=gen, device="cuda", dtype=torch.float32)
    d = st.sample(1.5, 10_000, generator=gen, device="cuda", dtype=torch.float32)
    assert torch.equal(a, c) and not torch.equal(c, d)
    assert st.sample(1.5, (0, 3), generator=1, device="cuda", dtype=torch.float32).shape == (0, 3)
    assert st.sample(1.5, (4, 5), generator=1, device="cuda", dtype=torch.float32).shape == (4, 5)


def test_isotropic_projections(device):
    n, d = 200_000, 3
    alpha = 1.4
    x = st.sample_isotropic(alpha, n, d, scale=1.3, generator=4, device=device, dtype=torch.float64)
    assert x.shape == (n, d)
    rng = np.random.default_rng(0)
    for _ in range(3):
        e = rng.normal(size=d)
        e /= np.linalg.norm(e)
        proj = (x.cpu().numpy() @ e)
        assert stats.kstest(proj, lambda t: st.cdf(t, alpha, 0.0, 1.3)).pvalue > 1e-4
    # Joint characteristic function exp(-scale^alpha |u|^alpha).
    u = np.array([0.4, -0.3, 0.5])
    emp = np.exp(1j * x.cpu().numpy() @ u).mean()
    assert abs(emp - math.exp(-(1.3**alpha) * np.linalg.norm(u) ** alpha)) < 6 / math.sqrt(n)
    # The coordinates are dependent (not iid): the same mixing variable scales all of them.
    xa = np.abs(x.cpu().numpy())
    assert np.corrcoef(np.log(xa[:, 0]), np.log(xa[:, 1]))[0, 1] > 0.1


def test_same_seed_same_samples(device):
    a = st.sample(1.3, 1000, beta=0.3, generator=9, device=device)
    b = st.sample(1.3, 1000, beta=0.3, generator=9, device=device)
    assert torch.equal(a, b)
    gen = torch.Generator(device=device).manual_seed(9)
    c = st.sample(1.3, 1000, beta=0.3, generator=gen, device=device)
    assert torch.equal(a, c)
    assert not torch.equal(c, st.sample(1.3, 1000, beta=0.3, generator=gen, device=device))
    assert torch.equal(st.sample_isotropic(1.5, 10, 4, generator=1, device=device),
                       st.sample_isotropic(1.5, 10, 4, generator=1, device=device))


def test_dtypes_and_shapes(device):
    for dt in (torch.float32, torch.float64):
        x = st.sample(1.7, (3, 4), generator=0, dtype=dt, device=device)
        assert x.dtype == dt and x.shape == (3, 4) and x.device.type == torch.device(device).type
    assert st.sample(1.5, 0, generator=0).shape == (0,)


@pytest.mark.parametrize(
    "kwargs,exc,word",
    [
        (dict(alpha=0.0), ValueError, "alpha"),
        (dict(alpha=2.1), ValueError, "alpha"),
        (dict(alpha=1.5, beta=1.2), ValueError, "beta"),
        (dict(alpha=1.5, scale=0.0), ValueError, "scale"),
        (dict(alpha=1.5, scale=-1.0), ValueError, "scale"),
        (dict(alpha=1.5, size=-3), ValueError, "size"),
        (dict(alpha=1.5, size=2.5), TypeError, "size"),
        (dict(alpha=1.5, dtype=torch.int32), ValueError, "dtype"),
        (dict(alpha=1.5, parameterization="S2"), ValueError, "parameterization"),
        (dict(alpha=1.5, parameterization=0), TypeError, "parameterization"),
        (dict(alpha="1.5"), TypeError, "alpha"),
    ],
)
def test_bad_arguments(kwargs, exc, word):
    args = dict(alpha=1.5, size=10)
    args.update(kwargs)
    alpha = args.pop("alpha")
    size = args.pop("size")
    with pytest.raises(exc, match=word):
        st.sample(alpha, size, **args)


def test_bad_arguments_densities():
    with pytest.raises(ValueError, match="alpha"):
        st.pdf(0.0, 2.5)
    with pytest.raises(ValueError, match="beta"):
        st.cdf(0.0, 1.5, beta=-2)
    with pytest.raises(ValueError, match="scale"):
        st.logpdf(0.0, 1.5, scale=0)
    with pytest.raises(ValueError, match="x"):
        st.pdf(np.array([0.0, np.nan]), 1.5)
    with pytest.raises(ValueError, match="parameterization"):
        st.char_func(1.0, 1.5, parameterization="S3")
    with pytest.raises(ValueError, match="dim"):
        st.sample_isotropic(1.5, 4, 0)
    with pytest.raises(ValueError, match="alpha"):
        st.tail_constant(0.0)
