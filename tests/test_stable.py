"""Tests for the sampler in htsgd.stable: laws (KS against the cdf, characteristic function,
tails), argument checks and reproducibility; the densities are tested in test_stable_density.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import htsgd.stable as st
from htsgd import _stable_core as core

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


def ks_at_quantiles(sorted_x: np.ndarray, cdf, points: int = 2000, limit: float = np.inf) -> float:
    """The Kolmogorov-Smirnov statistic of sorted draws against ``cdf``, at ``points`` sample quantiles (those
    with ``|x| <= limit``): a lower bound of the full statistic, so a test against the full statistic's
    critical value is conservative. The cdf near alpha = 1 is an integral per point, and at every one of
    200,000 draws a case cost 10-35 s (issue 19 §6)."""
    n = sorted_x.size
    ranks = np.linspace(0, n - 1, points).astype(int)
    ranks = ranks[np.abs(sorted_x[ranks]) <= limit]
    f = cdf(sorted_x[ranks])
    return float(np.maximum(np.abs((ranks + 1) / n - f), np.abs(ranks / n - f)).max())


@pytest.mark.slow
@pytest.mark.parametrize("alpha,beta", KS_GRID)
def test_sampler_ks_against_the_cdf(alpha, beta):
    # The cdf is checked against mpmath above; here the empirical cdf of 1e6 float64 draws
    # is compared with it at 2000 sample quantiles (a lower bound of the KS statistic,
    # so the test is conservative at level 1e-4).
    x = st.sample(alpha, N_KS, beta=beta, generator=12345, dtype=torch.float64).numpy()
    # |x| <= 1e4 keeps all but ~1e-4 of the mass, and avoids the slow far tail at alpha = 1, beta != 0.
    assert ks_at_quantiles(np.sort(x), lambda t: st.cdf(t, alpha, beta), limit=1e4) < KS_CRIT


@pytest.mark.parametrize("param", ["S1", "S0"])
@pytest.mark.parametrize("alpha,beta", [(1.2, 0.7), (1.0, -0.5), (0.9, 0.4)])
def test_sampler_scale_loc_and_parameterization(param, alpha, beta):
    n = 200_000
    x = st.sample(alpha, n, beta=beta, scale=1.7, loc=-0.4, parameterization=param, generator=3,
                  dtype=torch.float64).numpy()
    dist = ks_at_quantiles(np.sort(x), lambda t: st.cdf(t, alpha, beta, 1.7, -0.4, param))
    assert dist < stats.kstwo.isf(1e-4, n)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("alpha,beta", [(1 - 1e-6, 0.5), (1 + 1e-6, -0.7), (1 - 1e-3, 1.0)])
def test_s0_draws_near_alpha_one(alpha, beta, dtype):
    """Near alpha = 1 the S0 draw is not an S1 draw minus a shift of 1/|alpha - 1|.

    That subtraction would round float32 draws at alpha = 1 - 1e-6 to multiples of 1/32;
    drawn directly they follow the S0 law and tend to the alpha = 1 draws of the same seed.
    """
    x = st.sample(alpha, 200_000, beta=beta, scale=1.3, loc=0.2, parameterization="S0", generator=5, dtype=dtype)
    dist = ks_at_quantiles(np.sort(x.double().numpy()), lambda t: st.cdf(t, alpha, beta, 1.3, 0.2, "S0"))
    assert dist < stats.kstwo.isf(1e-4, x.numel())
    at_one = st.sample(1.0, 200_000, beta=beta, scale=1.3, loc=0.2, parameterization="S0", generator=5, dtype=dtype)
    gap = ((x - at_one).abs() / (1 + at_one.abs())).double()
    assert float(gap.median()) < 1e3 * abs(alpha - 1) + 1e-6


def _weron_s1(alpha, beta, v, w):
    """Weron's (1996) S1 formula written out plainly, in float64: the independent reference."""
    t = beta * math.tan(math.pi * alpha / 2)
    b = math.atan(t) / alpha
    s = (1 + t * t) ** (1 / (2 * alpha))
    vb = v + b
    return s * torch.sin(alpha * vb) / torch.cos(v) ** (1 / alpha) * (torch.cos(v - alpha * vb) / w) ** ((1 - alpha) / alpha)


@pytest.mark.parametrize("alpha,beta", [(0.3, -0.4), (0.7, 0.5), (0.5, 1.0), (1.5, -0.8), (1.9, -1.0), (1.3, 1.0),
                                        (0.05, 0.5), (1.7, 0.5)])
def test_s0_formula_is_weron_minus_the_shift(alpha, beta):
    """Away from alpha = 1 the direct S0 formula equals Weron's S1 draw minus beta tan(pi alpha/2).

    Both core formulas (the S0 rewrite and the log form of Weron's S1 formula in
    ``_standard_cms``) against the plain formula on the same (V, W); (0.7, 0.5) once failed
    (a guard assumed 1 + q >= 0 in the S0 rewrite). Draws the plain formula overflows are left out.
    The rewrite's relative error is about 1e-16 times its exponent h, of order 1/alpha: 2e-10
    at alpha = 0.05, hence the looser bound there.
    """
    tol = 1e-10 if alpha >= 0.1 else 1e-9
    gen = torch.Generator().manual_seed(2)
    v, w = core.angle_and_exponential(torch.rand(100_000, generator=gen, dtype=torch.float64),
                                      torch.rand(100_000, generator=gen, dtype=torch.float64))
    ref = _weron_s1(alpha, beta, v, w)
    ok = ref.abs() < 1e300
    s1 = core.standard_cms(alpha, beta, v, w)
    shifted = core.skewed_cms_s0(alpha, beta, v, w) + beta * math.tan(math.pi * alpha / 2)
    for x in (s1, shifted):
        assert float(((x - ref).abs() / (1 + ref.abs()))[ok].max()) < tol


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


def _angle_exp_from_words(angle_words, exp_words):
    """The kernel's map from two random 32-bit words to (V, W), in float64 (see _stable_triton)."""
    angle_words = angle_words.to(torch.int64) & 0xFFFFFFFF
    exp_words = exp_words.to(torch.int64) & 0xFFFFFFFF
    t = (2 * (angle_words >> 9) + 1).double() / 2**25  # |V| / pi
    t = torch.where((angle_words & 0x100) != 0, -t, t)
    v = math.pi * t
    w = -torch.log1p(-(2 * (exp_words >> 9) + 1).double() / 2**24)
    return v, w


def _cms_float64_from_words(alpha, angle_words, exp_words):
    """The core of htsgd.stable (the torch paths' formula) in float64 on the kernel's (V, W)."""
    v, w = _angle_exp_from_words(angle_words, exp_words)
    return core.symmetric_cms_inplace(alpha, v, w, torch.empty_like(v))


def test_kernel_grid_is_the_core_grid():
    """The kernel's (V, W) from its words lie on the grids of the core's policy (CPU check).

    The kernel's V are pi (2j + 1) / 2**25, the core's pi (U - 1/2 + eps/4) for float32
    uniforms U = k / 2**24: the same set; the kernel's W and the core's W both lie in
    [2**-24, log(2**24)] (eps/2 to log(2/eps) in float32).
    """
    words = torch.tensor([0, -1, 255, -256, 2**31 - 1, -(2**31), 2**23, 511, 512], dtype=torch.int32)
    v, w = _angle_exp_from_words(words.repeat_interleave(9), words.repeat(9))
    eps = torch.finfo(torch.float32).eps
    u = torch.tensor([0.0, 1 - eps / 2, 0.5, 0.5 - eps / 2], dtype=torch.float32)
    cv, cw = core.angle_and_exponential(u.clone(), u.clone())
    k_v = (v / math.pi * 2**25 + 2**24 - 1) / 2  # the core's k for the kernel's V
    assert bool((k_v - k_v.round()).abs().max() < 1e-6) and float(k_v.min()) >= 0 and float(k_v.max()) < 2**24
    assert float(cv.abs().max()) == pytest.approx(float(v.abs().max()), rel=1e-7)
    assert float(cv.abs().min()) == pytest.approx(float(v.abs().min()), rel=1e-6)
    assert bool((cv != 0).all()) and bool((torch.cos(cv) > 0).all())
    lo, hi = 2.0**-24, math.log(2.0**24)
    for ww in (w, cw.double()):
        assert float(ww.min()) >= lo * (1 - 1e-6) and float(ww.max()) <= hi * (1 + 1e-6)


@pytest.mark.cuda
@needs_triton
@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.8, 1.3, 1.5, 1.9, 1.99])
def test_triton_kernel_arithmetic_matches_float64(alpha):
    """The kernel's float32 arithmetic against float64 on the same random words, extremes included.

    The exponent of 2 reaches about 70 at alpha = 0.5, so float32 rounding alone gives
    relative errors of a few 1e-6 there; the hardware log2/exp2 add about 1e-6. 3e-5
    leaves room for both and still fails for any mistake in the formula or the mapping.
    """
    gen = torch.Generator().manual_seed(7)
    w1 = torch.randint(-(2**31), 2**31 - 1, (1_000_000,), generator=gen, dtype=torch.int64).to(torch.int32)
    w2 = torch.randint(-(2**31), 2**31 - 1, (1_000_000,), generator=gen, dtype=torch.int64).to(torch.int32)
    # Extreme words: the angle next to both poles and zero, U next to 0 and 1.
    edges = torch.tensor([0, -1, 255, -256, 2**31 - 1, -(2**31), 2**23, 511, 512], dtype=torch.int64)
    edges = edges.to(torch.int32)
    w1 = torch.cat([w1, edges.repeat_interleave(edges.numel())])
    w2 = torch.cat([w2, edges.repeat(edges.numel())])
    x = st._stable_triton.cms_from_bits(alpha, w1.cuda(), w2.cuda()).double().cpu()
    ref = _cms_float64_from_words(alpha, w1, w2)
    assert bool(torch.isfinite(x).all())
    # Beyond the float32 range (alpha = 0.3 at the extreme words) the kernel saturates.
    big = ref.abs() > torch.finfo(torch.float32).max
    assert bool((x[big] == torch.sign(ref[big]) * torch.finfo(torch.float32).max).all())
    assert float(((x - ref).abs() / ref.abs())[~big].max()) < 3e-5


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


# ------------------------------------------------------ edges of the parameter space (issue 12)
EDGE_ALPHAS = [1e-300, 1e-25, 1e-5, 0.01, 0.1, 0.999999, 1.0, 1.000001, 1.5, 1.999999, 2.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("alpha", EDGE_ALPHAS)
def test_every_draw_is_finite_at_the_edges(alpha, dtype, device):
    """Issue 12, item 2: NaN for valid parameters (5,696 of 20,000 isotropic draws at 1.999999,
    263 and 3,656 skewed S1 draws at 1 +- 1e-6, 29,540 at alpha = 0.01, NaN at beta = +-1 in float64)."""
    for beta in (-1.0, -0.5, 0.0, 1e-12, 0.5, 1.0):
        for param in ("S1", "S0"):
            x = st.sample(alpha, 4000, beta=beta, parameterization=param, generator=1, dtype=dtype, device=device)
            assert bool(torch.isfinite(x).all()), (alpha, beta, param)
    x = st.sample_isotropic(alpha, 4000, 8, generator=1, dtype=dtype, device=device)
    assert bool(torch.isfinite(x).all())


def test_issue_reproducers_are_finite():
    assert int(torch.isnan(st.sample_isotropic(1.999999, 20000, 8, generator=1, dtype=torch.float32)).sum()) == 0
    for alpha in (1.000001, 0.999999):
        assert bool(torch.isfinite(st.sample(alpha, 200_000, beta=1.0, generator=1, dtype=torch.float32)).all())
    assert bool(torch.isfinite(st.sample(0.01, 200_000, beta=0.5, generator=1, dtype=torch.float32)).all())
    assert bool(torch.isfinite(st.sample_isotropic(0.1, 20000, 8, generator=1, dtype=torch.float32)).all())


def test_tiny_alpha_saturates_and_below_the_floor_is_refused():
    """At alpha = 1e-300 |X| = exp(O(1/alpha)): every draw is 0 or saturated, never NaN.

    For small alpha |X|**alpha tends to 1/E with E ~ Exp(1) (Cressie 1975), so about
    P(E > 1) = e**-1 of the draws underflow to 0; 10,000 draws, 5 standard errors.
    """
    big = torch.finfo(torch.float32).max
    x = st.sample(1e-300, 10_000, generator=1, dtype=torch.float32)
    assert bool(((x == 0) | (x.abs() == big)).all())
    assert float((x == 0).double().mean()) == pytest.approx(math.exp(-1), abs=5 * 0.0049)
    with pytest.raises(ValueError, match="alpha must be at least"):
        st.sample(1e-320, 10)


@pytest.mark.parametrize("alpha,beta,dtype", [(0.01, 0.5, torch.float64), (0.05, -0.5, torch.float32),
                                              (0.3, 1.0, torch.float32), (0.05, 1.0, torch.float64)])
def test_small_alpha_sign_probability(alpha, beta, dtype):
    """P(X > 0) = 1/2 + atan(beta tan(pi alpha / 2)) / (pi alpha) for S1 (Zolotarev; Nolan 2020).

    A check of the skewed law at small alpha that does not need the densities; 2e5 draws, 5
    binomial standard errors. (At alpha = 0.01 in float32 6% of the draws underflow to 0,
    correctly, and have no sign: that case is checked in float64.)
    """
    n = 200_000
    x = st.sample(alpha, n, beta=beta, generator=4, dtype=dtype)
    p = 0.5 + math.atan(beta * math.tan(math.pi * alpha / 2)) / (math.pi * alpha)
    se = math.sqrt(max(p * (1 - p), 1e-6) / n)
    assert float((x > 0).double().mean()) == pytest.approx(p, abs=5 * se + 1e-9)


@pytest.mark.parametrize("alpha,beta,param,dtype", [
    (1.000001, 1.0, "S1", torch.float64),
    (0.999999, -1.0, "S1", torch.float64),
    (0.999999, 1.0, "S0", torch.float32),
    (0.7, 0.5, "S1", torch.float64),  # once wrong: a guard assumed 1 + q >= 0 in the S0 rewrite
])
def test_skewed_law_near_alpha_one(alpha, beta, param, dtype):
    """KS at 2000 sample quantiles (a lower bound of the statistic) against the validated cdf, 1e5 draws."""
    n = 100_000
    x = np.sort(st.sample(alpha, n, beta=beta, parameterization=param, generator=3, dtype=dtype).double().numpy())
    ranks = np.linspace(0, n - 1, 2000).astype(int)
    f = st.cdf(x[ranks], alpha, beta, parameterization=param)
    dist = np.maximum(np.abs((ranks + 1) / n - f), np.abs(ranks / n - f)).max()
    assert dist < stats.kstwo.isf(1e-4, n)


@pytest.mark.parametrize("alpha", [1.999999, 0.1])
def test_isotropic_law_at_the_edges(alpha):
    """Projections of isotropic draws against one-dimensional SaS draws (two-sample KS, 4e4 each).

    The two come from different formulas (the positive-stable mixing variable against the
    symmetric CMS), so this checks the mixing law where it gave NaN; at 1.999999 also
    against the cdf.
    """
    x = st.sample_isotropic(alpha, 40_000, 3, generator=5, dtype=torch.float64).numpy()
    y = st.sample(alpha, 40_000, generator=6, dtype=torch.float64).numpy()
    assert stats.ks_2samp(x[:, 1], y).pvalue > 1e-4
    if alpha > 1:
        assert stats.kstest(x[:, 0], lambda t: st.cdf(t, alpha)).pvalue > 1e-4


def test_scale_and_location_beyond_float32():
    """Issue 12, items 5 and 10: infinite scale or loc returned 3.4e38; large finite ones overflowed torch."""
    with pytest.raises(ValueError, match="scale must be a finite"):
        st.sample(1.5, 10, scale=math.inf)
    with pytest.raises(ValueError, match="loc must be a finite"):
        st.sample(1.5, 10, loc=math.inf)
    x = st.sample(1.5, 1000, scale=1e300, generator=0, dtype=torch.float32)
    assert bool((x.abs() == torch.finfo(torch.float32).max).all())
    y = st.sample(1.5, 1000, scale=1e-300, loc=2.0, generator=0, dtype=torch.float32)
    assert bool((y == 2.0).all())
    with pytest.raises(ValueError, match="size"):
        st.sample(1.5, (2**40, 2**40))


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


def _uniforms_from_streams(n, seed):
    """Only numpy fills on the thread pool, no torch parallel region (see the fork test)."""
    from htsgd import _cpu_streams

    return _cpu_streams.fill(torch.empty(n), torch.Generator().manual_seed(seed), lambda *rows: None)


def _fill_in_child(queue, n):
    torch.set_num_threads(2)
    queue.put(float(_uniforms_from_streams(n, 4).numpy().sum(dtype=np.float64)))


def test_cpu_streams_do_not_depend_on_threads_and_survive_fork():
    """Large CPU draws come from per-chunk numpy streams filled on threads (htsgd._cpu_streams)."""
    from htsgd import _cpu_streams

    n = 3 * _cpu_streams.CHUNK + 12_345  # several chunks and a partial one
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = st.sample(1.5, n, generator=4)
        b = st.sample(0.7, (n // 7, 7), beta=0.5, generator=4, dtype=torch.float64)
        u = _uniforms_from_streams(n, 4)  # starts the thread pool
        torch.set_num_threads(1)
        assert torch.equal(a, st.sample(1.5, n, generator=4))
        assert torch.equal(b, st.sample(0.7, (n // 7, 7), beta=0.5, generator=4, dtype=torch.float64))
    finally:
        torch.set_num_threads(threads)
    # Chunks are independent streams, not copies of one another.
    chunk = _cpu_streams.CHUNK
    assert not torch.equal(a[:chunk], a[chunk : 2 * chunk])
    # A forked child inherits the pool object but not its threads: it must start a new pool
    # instead of waiting forever. (Torch's own OpenMP threads do not survive a fork either, which
    # is why DataLoader workers run torch with one thread; the child here only fills uniforms.)
    ctx = __import__("multiprocessing").get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_fill_in_child, args=(queue, n))
    child.start()
    child.join(timeout=60)
    if child.exitcode is None:
        child.kill()
    assert child.exitcode == 0
    assert queue.get(timeout=5) == float(u.numpy().sum(dtype=np.float64))


def test_small_cpu_draws_have_the_same_law():
    """Draws below the numpy-stream threshold take torch.rand; both sources give SaS."""
    gen = torch.Generator().manual_seed(12)
    small = torch.cat([st.sample(1.3, 4000, generator=gen, dtype=torch.float64) for _ in range(50)]).numpy()
    assert stats.kstest(small, lambda x: st.cdf(x, 1.3)).pvalue > 1e-4


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
