"""Every noise draw gives the numbers it gave before the noise-type registry (issue 19, point 2).

``tests/data/noise_draws_before_registry.json`` holds draws computed by the code before the
registry and the shared stable-sampling core existed (the optimizer's eager and fused paths, a few
optimizer steps, compress's pure-noise references and mean-field noise), for every noise type,
several alphas, both dtypes and shapes on both sides of the numpy-stream threshold. Tolerances: a
few units in the last place (``rtol`` 2e-5 in float32, 1e-12 in float64), because another CPU's
vector math library may round a sine or a logarithm differently; any change of the random stream,
of the order of the draws or of the formula moves a draw by O(1), far beyond that.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import htsgd as hs
import htsgd.noise as hn
from htsgd import compress, meanfield, optim

REFERENCE = json.loads((Path(__file__).parent / "data" / "noise_draws_before_registry.json").read_text())["values"]
TYPES = ("per_neuron", "per_weight", "isotropic")


def _check(key: str, t: torch.Tensor, rtol: float) -> None:
    ref = REFERENCE[key]
    t = t.detach().double().flatten()
    assert t.numel() == ref["n"], key
    head = torch.tensor(ref["head"], dtype=torch.float64)
    torch.testing.assert_close(t[: head.numel()], head, rtol=rtol, atol=0.0, msg=key)
    for name, value in (("sum", float(t.sum())), ("abs_sum", float(t.abs().sum()))):
        assert math.isclose(value, ref[name], rel_tol=rtol * 10, abs_tol=rtol * ref["abs_sum"] / 10), (key, name)


def _rtol(dtype: torch.dtype) -> float:
    return 2e-5 if dtype == torch.float32 else 1e-12


@pytest.mark.parametrize("noise", TYPES)
def test_eager_draws_are_the_old_ones(noise):
    for alpha in (0.7, 1.0, 1.5, 1.75, 2.0):
        for dt in (torch.float32, torch.float64):
            for shape in ((7, 5), (3, 2, 2), (11,), (300, 40)):
                p = torch.zeros(shape, dtype=dt)
                optim.add_stable_noise_(p, alpha, 0.1, noise, torch.Generator().manual_seed(5))
                _check(f"eager/{noise}/{alpha}/{str(dt)[6:]}/{'x'.join(map(str, shape))}", p, _rtol(dt))


@pytest.mark.parametrize("noise", TYPES)
def test_fused_kernel_python_is_the_old_one(noise, monkeypatch):
    # The functions torch.compile compiles, run eagerly on the CPU.
    monkeypatch.setattr(hn, "_compiled", hn._KERNELS.__getitem__)
    for alpha in (0.7, 1.5, 2.0):
        p = torch.zeros(50, 6)
        optim.add_stable_noise_(p, alpha, 0.1, noise, torch.Generator().manual_seed(6), fused=True)
        _check(f"fused/{noise}/{alpha}", p, _rtol(torch.float32))


@pytest.mark.parametrize("noise", TYPES)
def test_optimizer_steps_are_the_old_ones(noise):
    torch.manual_seed(0)
    net = hs.nets.FCN(6, 30, 2, 3)
    opt = optim.HeavyTailedSGD(optim.paper_param_groups(net), lr=0.05, alpha=1.6, sigma=0.02, noise=noise,
                               momentum=0.9, weight_decay=1e-3, generator=11)
    x = torch.randn(20, 6, generator=torch.Generator().manual_seed(1))
    y = torch.arange(20) % 3
    for _ in range(4):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    _check(f"steps/{noise}", torch.cat([q.detach().flatten() for q in net.parameters()]), 2e-5)


@pytest.mark.parametrize("noise", TYPES)
def test_pure_noise_references_are_the_old_ones(noise):
    for alpha in (1.5, 2.0):
        value = compress.noise_reference_fraction(
            alpha, 64, noise=noise, input_dim=None if noise == "per_neuron" else 5, seeds=3, generator=2)
        # A fraction of counted neurons: it moves only if a norm crosses the mce threshold.
        assert math.isclose(value, REFERENCE[f"reference_fraction/{noise}/{alpha}"], rel_tol=1e-12)


@pytest.mark.parametrize("noise", ["per_weight", "isotropic"])
def test_meanfield_noise_is_the_old_one(noise):
    draw = meanfield._draw_noise(1.5, 0.3, 0.1, (40, 4), noise, torch.Generator().manual_seed(3), torch.float64)
    _check(f"meanfield/{noise}", draw, 1e-12)
