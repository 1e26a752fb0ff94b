"""Tests of htsgd.optim: the noise law of one step, noise types, groups, SGD identity, resume."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import htsgd as hs
import htsgd.noise as hn
from htsgd.optim import HeavyTailedSGD, authors_sigma_to_ours, noise_scale, paper_param_groups

KS_LEVEL = 1e-4


def stable_cdf(alpha: float):
    """The SaS(alpha, 1) cdf from closed forms (alpha 1, 2) or scipy (with its mode snapping off)."""
    if alpha == 2.0:
        return stats.norm(scale=math.sqrt(2.0)).cdf
    if alpha == 1.0:
        return stats.cauchy().cdf

    def cdf(x):
        old = stats.levy_stable.piecewise_x_tol_near_zeta
        stats.levy_stable.piecewise_x_tol_near_zeta = 1e-9
        try:
            return stats.levy_stable.cdf(x, alpha, 0.0)
        finally:
            stats.levy_stable.piecewise_x_tol_near_zeta = old

    return cdf


def one_step_increment(shape, alpha, sigma, lr, noise, device, seed=0, dtype=torch.float64):
    """Increment of one step with zero gradients, divided by sigma * lr**(1/alpha)."""
    p = nn.Parameter(torch.randn(shape, dtype=dtype, device=device))
    before = p.detach().clone()
    p.grad = torch.zeros_like(p)
    opt = HeavyTailedSGD([p], lr=lr, alpha=alpha, sigma=sigma, noise=noise, generator=seed)
    opt.step()
    return (p.detach() - before) / (sigma * lr ** (1 / alpha))


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_per_neuron_increment_is_one_stable_scalar_per_row(alpha, device):
    inc = one_step_increment((3000, 7), alpha, 0.3, 0.05, "per_neuron", device)
    # Broadcast: every weight of a row moved by the same amount.
    assert torch.equal(inc, inc[:, :1].expand_as(inc)) or torch.allclose(
        inc, inc[:, :1].expand_as(inc), rtol=1e-10, atol=1e-12
    )
    ks = stats.kstest(inc[:, 0].cpu().numpy(), stable_cdf(alpha))
    assert ks.pvalue > KS_LEVEL


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_per_weight_increments_are_iid_stable(alpha, device):
    inc = one_step_increment((60, 50), alpha, 2.0, 0.2, "per_weight", device)
    flat = inc.flatten().cpu().numpy()
    assert stats.kstest(flat, stable_cdf(alpha)).pvalue > KS_LEVEL
    # Not constant along rows (independent draws).
    assert not torch.allclose(inc[:, 0], inc[:, 1])


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0])
def test_isotropic_rows_have_unit_scale_projections(alpha, device):
    inc = one_step_increment((3000, 4), alpha, 0.5, 0.1, "isotropic", device).cpu().double()
    e = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    e = e / e.norm()
    assert stats.kstest((inc @ e).numpy(), stable_cdf(alpha)).pvalue > KS_LEVEL
    assert stats.kstest(inc[:, 0].numpy(), stable_cdf(alpha)).pvalue > KS_LEVEL


def test_isotropic_coordinates_are_dependent_for_alpha_below_two():
    # A rotationally invariant stable vector shares one mixing variable: the coordinates'
    # magnitudes are positively correlated (independent coordinates would give ~0).
    inc = one_step_increment((20000, 3), 1.5, 1.0, 1.0, "isotropic", "cpu")
    a = inc[:, 0].abs().clamp_max(10).numpy()
    b = inc[:, 1].abs().clamp_max(10).numpy()
    assert np.corrcoef(a, b)[0, 1] > 0.1


@pytest.mark.parametrize("noise", ["per_neuron", "isotropic", "per_weight"])
def test_conv_weight_noise_per_filter(noise, device):
    inc = one_step_increment((2000, 3, 3, 3), 1.5, 1.0, 1.0, noise, device)
    per_filter = inc.reshape(2000, -1)
    constant = torch.allclose(per_filter, per_filter[:, :1].expand_as(per_filter))
    assert constant == (noise == "per_neuron")
    assert stats.kstest(per_filter[:, 0].cpu().numpy(), stable_cdf(1.5)).pvalue > KS_LEVEL


def test_noise_scale_is_sigma_times_lr_to_one_over_alpha():
    assert noise_scale(0.01, 1.75, 0.003) == pytest.approx(0.003 * 0.01 ** (1 / 1.75))
    assert noise_scale(0.25, 2.0, 1.0) == pytest.approx(0.5)
    # The scale multiplies the draw exactly: a seeded step equals sigma lr^(1/alpha) times
    # the seeded standard draw.
    p = nn.Parameter(torch.zeros(5, 3, dtype=torch.float64))
    p.grad = torch.zeros_like(p)
    HeavyTailedSGD([p], lr=0.3, alpha=1.2, sigma=0.7, noise="per_neuron", generator=11).step()
    ref = hs.stable.sample(1.2, (5,), generator=11, dtype=torch.float64) * noise_scale(0.3, 1.2, 0.7)
    torch.testing.assert_close(p.detach()[:, 0], ref, rtol=1e-12, atol=0)


def test_authors_sigma_conversion():
    assert authors_sigma_to_ours(0.003, 2.0, "per_neuron") == pytest.approx(0.003 / math.sqrt(2))
    assert authors_sigma_to_ours(0.003, 1.75, "per_weight") == 0.003
    # The authors' type-3 vectors have coordinates of scale 1/sqrt(2) at every alpha (issue 14).
    assert authors_sigma_to_ours(0.003, 1.75, "isotropic") == pytest.approx(0.003 / math.sqrt(2))
    with pytest.raises(ValueError, match="noise"):
        authors_sigma_to_ours(0.003, 1.75, "cauchy")
    with pytest.raises(ValueError, match="sigma_authors"):
        authors_sigma_to_ours(math.inf, 2.0, "per_weight")


@pytest.mark.parametrize(
    "alpha,noise,authors_scale",
    [
        (2.0, "per_weight", None),  # the authors add sigma_a N(0, 1)
        (2.0, "per_neuron", None),
        (2.0, "isotropic", None),
        (1.5, "per_weight", 1.0),  # sigma_a SaS(alpha, 1)
        (1.5, "per_neuron", 1.0),
        (1.5, "isotropic", 1 / math.sqrt(2)),  # coordinates SaS(alpha, 1/sqrt(2))
        (1.2, "isotropic", 1 / math.sqrt(2)),
    ],
)
def test_authors_sigma_conversion_matches_their_draws(alpha, noise, authors_scale):
    """One step with the converted sigma has the law of the authors' increment sigma_a lr**(1/alpha) X_a.

    The authors' coordinate law is N(0, 1) at alpha = 2 and SaS(alpha, c) otherwise, with c = 1
    for types 1 and 2 and 1/sqrt(2) for type 3; KS test of 4000 coordinates (one per row) at level 1e-4.
    """
    sigma_a, lr = 0.7, 0.05
    sigma = authors_sigma_to_ours(sigma_a, alpha, noise)
    inc = one_step_increment((4000, 5), alpha, sigma, lr, noise, "cpu", seed=3)
    coord = (inc[:, 0] * sigma / sigma_a).numpy()  # the increment over sigma_a lr**(1/alpha)
    if authors_scale is None:
        law = stats.norm().cdf
    else:
        law = lambda x: hs.stable.cdf(x, alpha, 0.0, authors_scale)  # noqa: E731
    assert stats.kstest(coord, law).pvalue > KS_LEVEL
    # The other convention is rejected: without the conversion the scale is off by sqrt(2).
    if authors_scale != 1.0:
        assert stats.kstest(coord * math.sqrt(2), law).pvalue < KS_LEVEL


def test_noise_false_group_untouched_and_paper_groups():
    torch.manual_seed(0)
    model = hs.nets.FCN(10, 20, 3, 4, bias=True)
    groups = paper_param_groups(model)
    noisy = {id(p) for g in groups if g["noise"] for p in g["params"]}
    lin = model.linear_layers()
    assert noisy == {id(lin[0].weight), id(lin[1].weight)}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    HeavyTailedSGD(groups, lr=0.1, alpha=1.5, sigma=1.0, generator=0).step()
    for name, p in model.named_parameters():
        changed = not torch.equal(p, before[name])
        assert changed == (id(p) in noisy), name


def test_paper_groups_vgg_skip_first_conv_and_classifier():
    model = hs.nets.VGG11Wide(10, width_factor=1)
    groups = paper_param_groups(model)
    noisy = [p for g in groups if g["noise"] for p in g["params"]]
    convs = model.conv_layers()
    assert [id(p) for p in noisy] == [id(c.weight) for c in convs[1:]]
    assert all(p.dim() == 4 for p in noisy)


def test_paper_groups_mean_field_net():
    net = hs.nets.MeanFieldNet(5, 30, train_second_layer=True, generator=0)
    groups = paper_param_groups(net)
    assert groups[0]["noise"] is True and groups[0]["params"] == [net.weight]
    assert groups[1]["params"] == [net.a]


def test_group_overrides_noise_type_and_sigma():
    a = nn.Parameter(torch.zeros(50, 4))
    b = nn.Parameter(torch.zeros(50, 4))
    for p in (a, b):
        p.grad = torch.zeros_like(p)
    opt = HeavyTailedSGD(
        [{"params": [a]}, {"params": [b], "noise": "per_weight", "sigma": 2.0}],
        lr=1.0,
        alpha=1.5,
        sigma=1.0,
        generator=0,
    )
    opt.step()
    assert torch.equal(a, a[:, :1].expand_as(a))  # per_neuron by default
    assert not torch.equal(b, b[:, :1].expand_as(b))


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 5e-4), (0.0, 1e-3)])
def test_sigma_zero_is_torch_sgd_bitwise(momentum, weight_decay, device):
    torch.manual_seed(3)
    m1 = hs.nets.FCN(12, 32, 3, 5, bias=True).to(device)
    m2 = hs.nets.FCN(12, 32, 3, 5, bias=True).to(device)
    m2.load_state_dict(m1.state_dict())
    o1 = torch.optim.SGD(m1.parameters(), lr=0.05, momentum=momentum, weight_decay=weight_decay)
    o2 = HeavyTailedSGD(
        paper_param_groups(m2), lr=0.05, alpha=1.5, sigma=0.0, momentum=momentum, weight_decay=weight_decay
    )
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        x = torch.randn(16, 12, generator=gen).to(device)
        y = torch.randint(0, 5, (16,), generator=gen).to(device)
        for m, o in ((m1, o1), (m2, o2)):
            o.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p1, p2)


def _run(model, opt, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 6, generator=gen)
        y = torch.randint(0, 3, (8,), generator=gen)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def _fresh(noise="per_neuron", gen=7):
    torch.manual_seed(0)
    model = hs.nets.FCN(6, 16, 3, 3)
    opt = HeavyTailedSGD(paper_param_groups(model), lr=0.1, alpha=1.6, sigma=0.05, noise=noise, momentum=0.5, generator=gen)
    return model, opt


@pytest.mark.parametrize("noise", hn.names())
def test_determinism_and_resume_from_state_dict(noise):
    m_a, o_a = _fresh(noise)
    _run(m_a, o_a, 6, seed=1)
    m_b, o_b = _fresh(noise)
    _run(m_b, o_b, 6, seed=1)
    for p, q in zip(m_a.parameters(), m_b.parameters(), strict=True):
        assert torch.equal(p, q)
    # Interrupted run: 3 steps, checkpoint through bytes (weights_only), then 3 more.
    m_c, o_c = _fresh(noise)
    _run(m_c, o_c, 3, seed=1)
    buf = io.BytesIO()
    torch.save({"model": m_c.state_dict(), "opt": o_c.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    m_d, o_d = _fresh(noise, gen=999)  # a different seed: the checkpoint must override it
    m_d.load_state_dict(ckpt["model"])
    o_d.load_state_dict(ckpt["opt"])
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):  # replay the data stream's first 3 batches
        torch.randn(8, 6, generator=gen), torch.randint(0, 3, (8,), generator=gen)
    for _ in range(3):
        x = torch.randn(8, 6, generator=gen)
        y = torch.randint(0, 3, (8,), generator=gen)
        o_d.zero_grad()
        nn.functional.cross_entropy(m_d(x), y).backward()
        o_d.step()
    for p, q in zip(m_a.parameters(), m_d.parameters(), strict=True):
        assert torch.equal(p, q)


def test_different_seeds_differ():
    p1 = one_step_increment((10, 3), 1.5, 1.0, 1.0, "per_weight", "cpu", seed=1)
    p2 = one_step_increment((10, 3), 1.5, 1.0, 1.0, "per_weight", "cpu", seed=2)
    assert not torch.equal(p1, p2)


def test_torch_generator_is_used_as_given():
    gen = torch.Generator().manual_seed(5)
    p = nn.Parameter(torch.zeros(4, 2))
    p.grad = torch.zeros_like(p)
    HeavyTailedSGD([p], lr=1.0, alpha=1.5, sigma=1.0, generator=gen).step()
    ref = hs.stable.sample(1.5, (4,), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(p.detach()[:, 0], ref)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(alpha=0.0), ValueError, "alpha"),
        (dict(alpha=2.5), ValueError, "alpha"),
        (dict(alpha=float("nan")), ValueError, "alpha"),
        (dict(sigma=-0.1), ValueError, "sigma"),
        (dict(lr=0.0), ValueError, "lr"),
        (dict(lr=-1.0), ValueError, "lr"),
        (dict(noise="gaussian"), ValueError, "noise"),
        (dict(noise=3), TypeError, "noise"),
        (dict(noise=False), ValueError, "noise"),
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(weight_decay=-1.0), ValueError, "weight_decay"),
        (dict(alpha="1.5"), TypeError, "alpha"),
        (dict(generator=-3), ValueError, "seed"),
        # Issue 12, item 5: infinite hyperparameters were accepted.
        (dict(lr=math.inf), ValueError, "lr must be a finite"),
        (dict(sigma=math.inf), ValueError, "sigma must be a finite"),
        (dict(weight_decay=math.inf), ValueError, "weight_decay must be a finite"),
        (dict(alpha=1e-320), ValueError, "alpha"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = dict(lr=0.1, alpha=1.5, sigma=0.1)
    args.update(kwargs)
    lr = args.pop("lr")
    with pytest.raises(exc, match=match):
        HeavyTailedSGD([nn.Parameter(torch.zeros(2, 2))], lr, **args)


def test_bad_group_values():
    p = nn.Parameter(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="noise"):
        HeavyTailedSGD([{"params": [p], "noise": "cauchy"}], 0.1, alpha=1.5, sigma=0.1)
    with pytest.raises(ValueError, match="alpha"):
        HeavyTailedSGD([{"params": [p], "alpha": 3.0}], 0.1, alpha=1.5, sigma=0.1)
    with pytest.raises(TypeError, match="Module"):
        paper_param_groups([p])


def test_float16_parameters_are_refused():
    """Issue 12, item 6: alpha = 0.5, sigma = 1 overflowed float16 weights to inf within 20 steps."""
    p = nn.Parameter(torch.zeros(10, 10, dtype=torch.float16))
    with pytest.raises(TypeError, match="float16"):
        HeavyTailedSGD([p], lr=0.1, alpha=0.5, sigma=1.0, generator=0)
    # Made half after construction: refused at the step, before any weight is touched.
    q = nn.Parameter(torch.zeros(10, 10))
    opt = HeavyTailedSGD([q], lr=0.1, alpha=0.5, sigma=1.0, generator=0)
    q.data = q.data.half()
    q.grad = torch.zeros_like(q)
    with pytest.raises(TypeError, match="float16"):
        opt.step()
    # Without noise a float16 group is plain SGD and allowed.
    HeavyTailedSGD([{"params": [p], "noise": False}], lr=0.1, alpha=0.5, sigma=1.0)


@pytest.mark.parametrize("alpha", [1.999999, 0.1, 1.000001])
def test_isotropic_noise_is_finite_at_the_edges(alpha):
    """Issue 12, item 2: isotropic noise at alpha = 1.999999 wrote NaN into the weights."""
    p = nn.Parameter(torch.zeros(20000, 8))
    p.grad = torch.zeros_like(p)
    HeavyTailedSGD([p], lr=0.1, alpha=alpha, sigma=1.0, noise="isotropic", generator=1).step()
    assert bool(torch.isfinite(p).all())


def test_empty_parameters_and_overflowing_scales():
    """Issue 12, item 10: a (0, 5) isotropic parameter raised IndexError; sigma = 1e300 a torch overflow."""
    p = nn.Parameter(torch.zeros(0, 5))
    p.grad = torch.zeros_like(p)
    HeavyTailedSGD([p], lr=0.1, alpha=1.5, sigma=1.0, noise="isotropic", generator=0).step()
    q = nn.Parameter(torch.zeros(3, 3))
    q.grad = torch.zeros_like(q)
    with pytest.raises(ValueError, match="sigma"):
        HeavyTailedSGD([q], lr=0.1, alpha=1.5, sigma=1e300, generator=0).step()
    assert bool((q == 0).all())  # refused before any weight moved
    assert noise_scale(10.0, 0.001, 1.0) == math.inf  # lr**(1/alpha) beyond the double range


def test_load_state_dict_revalidates():
    """Issue 12, item 10: a saved lr = -1 loaded silently and failed later with a torch message."""
    p = nn.Parameter(torch.zeros(3, 3))
    opt = HeavyTailedSGD([p], lr=0.1, alpha=1.5, sigma=1.0, generator=0)
    for key, value in (("lr", -1.0), ("alpha", 2.5), ("sigma", math.inf), ("noise", "cauchy")):
        sd = opt.state_dict()
        sd["param_groups"][0][key] = value
        with pytest.raises(ValueError, match=key):
            opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.1


def test_half_precision_parameters_get_finite_noise():
    p = nn.Parameter(torch.zeros(64, 8, dtype=torch.bfloat16))
    p.grad = torch.zeros_like(p)
    HeavyTailedSGD([p], lr=0.1, alpha=1.5, sigma=0.01, noise="per_weight", generator=0).step()
    assert p.dtype == torch.bfloat16 and torch.isfinite(p.float()).all() and p.abs().sum() > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_noise_drawn_on_parameter_device():
    p = nn.Parameter(torch.zeros(100, 10, device="cuda"))
    p.grad = torch.zeros_like(p)
    opt = HeavyTailedSGD([p], lr=0.1, alpha=1.5, sigma=0.1, generator=0)
    opt.step()
    assert p.device.type == "cuda" and p.abs().sum() > 0
    assert any(k.startswith("cuda") for k in opt.state_dict()["htsgd_generators"]["states"])


# ---- the fused (compiled) path: its own transform of the draws, the same law ------------------
@pytest.mark.parametrize("alpha", [1.0, 1.3, 1.75, 2.0])
def test_fused_math_has_the_stable_law(alpha):

    gen = torch.Generator().manual_seed(4)
    u = torch.rand((2, 4000), generator=gen, dtype=torch.float64)
    x = hn._sas_from_uniform(u, alpha)
    assert stats.kstest(x.numpy(), stable_cdf(alpha)).pvalue > KS_LEVEL
    g = torch.randn((4000, 3), generator=gen, dtype=torch.float64)
    u = torch.rand((2, 4000), generator=gen, dtype=torch.float64)
    iso = hn._isotropic_from_draws(u, g, alpha)
    e = torch.tensor([0.6, 0.0, -0.8], dtype=torch.float64)
    assert stats.kstest((iso @ e).numpy(), stable_cdf(alpha)).pvalue > KS_LEVEL
    # The extreme values torch.rand can return (0 and 1 - 2**-24 in float32) give finite noise.
    edges = torch.tensor([[0.0, 0.0, 1 - 2**-24, 1 - 2**-24], [0.0, 1 - 2**-24, 0.0, 1 - 2**-24]])
    assert torch.isfinite(hn._sas_from_uniform(edges, alpha)).all()


@pytest.mark.parametrize("noise", ["per_neuron", "per_weight", "isotropic"])
def test_fused_path_plumbing_and_fallback(noise, monkeypatch):

    # Eager stand-ins for the compiled kernels (what torch.compile would compile).
    monkeypatch.setattr(hn, "_compiled", hn._KERNELS.__getitem__)
    incs = []
    for seed in (8, 8, 9):
        p = nn.Parameter(torch.zeros(2000, 3, 2, dtype=torch.float64))
        p.grad = torch.zeros_like(p)
        HeavyTailedSGD([p], lr=0.5, alpha=1.5, sigma=0.2, noise=noise, generator=seed, fused=True).step()
        incs.append(p.detach() / noise_scale(0.5, 1.5, 0.2))
    assert torch.equal(incs[0], incs[1]) and not torch.equal(incs[0], incs[2])  # seeded
    rows = incs[0].reshape(2000, -1)
    assert torch.allclose(rows, rows[:, :1].expand_as(rows)) == (noise == "per_neuron")
    assert stats.kstest(rows[:, 0].numpy(), stable_cdf(1.5)).pvalue > KS_LEVEL

    def broken(name):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(hn, "_compiled", broken)
    monkeypatch.setitem(hn._FUSED_STATE, "broken", False)
    c = nn.Parameter(torch.zeros(2000, 3, 2, dtype=torch.float64))
    c.grad = torch.zeros_like(c)
    with pytest.warns(UserWarning, match="eager"):
        HeavyTailedSGD([c], lr=0.5, alpha=1.5, sigma=0.2, noise=noise, generator=8, fused=True).step()
    assert hn._FUSED_STATE["broken"]
    inc = (c.detach() / noise_scale(0.5, 1.5, 0.2)).reshape(2000, -1)
    assert stats.kstest(inc[:, 0].numpy(), stable_cdf(1.5)).pvalue > KS_LEVEL


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("noise", ["per_neuron", "per_weight", "isotropic"])
def test_fused_cuda_law_and_determinism(noise):
    from htsgd import optim

    if not optim.fused_available():
        pytest.skip("no Triton")
    out = []
    for seed in (3, 3):
        p = nn.Parameter(torch.zeros(3000, 5, device="cuda"))
        p.grad = torch.zeros_like(p)
        HeavyTailedSGD([p], lr=1.0, alpha=1.5, sigma=1.0, noise=noise, generator=seed, fused=True).step()
        out.append(p.detach().cpu().double())
    assert torch.isfinite(out[0]).all() and torch.equal(out[0], out[1])
    assert stats.kstest(out[0][:, 0].numpy(), stable_cdf(1.5)).pvalue > KS_LEVEL


@pytest.mark.parametrize("noise", hn.names())
@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 2.0])
def test_eager_and_fused_noise_share_one_core(noise, alpha, monkeypatch):
    """Issue 12, item 12: the optimizer's fused kernels and htsgd.stable are one CMS core.

    On the CPU, below the numpy-stream threshold, both paths draw the same uniforms from the
    same generator, so the noise must be bitwise equal (before, the fused copy clamped W at
    float32's tiny and V at pi/2 (1 - eps): other numbers, and inf noise at small alpha).
    The compiled kernels are stood in for by the functions torch.compile compiles.
    """
    from htsgd import optim

    monkeypatch.setattr(hn, "_compiled", hn._KERNELS.__getitem__)
    out = []
    for fused in (False, True):
        p = torch.zeros(50, 6)
        optim.add_stable_noise_(p, alpha, 0.1, noise, torch.Generator().manual_seed(5), fused=fused)
        out.append(p)
    assert torch.equal(out[0], out[1])
