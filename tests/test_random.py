"""Seeds and generators: the same seed gives the same stream, everywhere."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from htsgd._random import (
    fresh_seed,
    numpy_generator,
    resolve_device,
    resolve_dtype,
    torch_generator,
)


def test_int_seed_is_reproducible(device):
    a = torch.rand(5, generator=torch_generator(7, device), device=device)
    b = torch.rand(5, generator=torch_generator(7, device), device=device)
    c = torch.rand(5, generator=torch_generator(8, device), device=device)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_generator_is_passed_through_and_advances():
    gen = torch.Generator().manual_seed(3)
    assert torch_generator(gen) is gen
    first = torch.rand(3, generator=torch_generator(gen))
    second = torch.rand(3, generator=torch_generator(gen))
    assert not torch.equal(first, second)


def test_none_gives_independent_streams():
    a = torch.rand(8, generator=torch_generator(None))
    b = torch.rand(8, generator=torch_generator(None))
    assert not torch.equal(a, b)
    assert 0 <= fresh_seed() < 2**63


def test_seed_is_stable_across_processes():
    code = "import torch; from htsgd._random import torch_generator; print(torch.rand(3, generator=torch_generator(11)).tolist())"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    here = str(torch.rand(3, generator=torch_generator(11)).tolist())
    assert outs == {here + "\n"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device type")
def test_generator_on_wrong_device_is_rejected():
    gen = torch.Generator(device="cpu")
    with pytest.raises(ValueError, match="generator lives on cpu but the numbers are drawn on cuda"):
        torch_generator(gen, "cuda")


def test_unusable_devices_are_named():
    """Issue 12, item 10: 'meta' and 'cuda' without CUDA failed with torch's C++ messages."""
    with pytest.raises(ValueError, match="device='meta'"):
        torch_generator(0, "meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
            torch_generator(0, "cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


@pytest.mark.parametrize("bad", [1.5, "seed", True, np.random.default_rng(0)])
def test_bad_generators(bad):
    with pytest.raises(TypeError, match="generator must be"):
        torch_generator(bad)


def test_negative_seed_is_rejected():
    with pytest.raises(ValueError, match="seed"):
        torch_generator(-1)


def test_numpy_generator():
    assert numpy_generator(5).integers(1 << 30) == numpy_generator(5).integers(1 << 30)
    rng = np.random.default_rng(1)
    assert numpy_generator(rng) is rng
    # A torch generator drives numpy reproducibly.
    a = numpy_generator(torch.Generator().manual_seed(2)).normal(size=3)
    b = numpy_generator(torch.Generator().manual_seed(2)).normal(size=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="seed must be"):
        numpy_generator("x")
    with pytest.raises(ValueError, match="seed"):
        numpy_generator(-3)


def test_resolve_device_and_dtype():
    assert resolve_device(None) == torch.get_default_device()
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must name a torch device"):
        resolve_device("gpu0")
    with pytest.raises(TypeError, match="device must be"):
        resolve_device(0.5)
    assert resolve_dtype(None) == torch.get_default_dtype()
    assert resolve_dtype(torch.float64) is torch.float64
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype(torch.int32)
