"""The noise-type registry (htsgd.noise): one entry per type, looked up by every module that uses types.

The laws of the paper's three types are tested in test_optim.py (KS against the stable cdf, per row,
per weight, isotropic projections) and their old numbers in test_noise_draws_frozen.py; here every
entry of the registry, including any added later, passes the checks that do not depend on its law.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import htsgd as hs
import htsgd.noise as hn
from htsgd.compress import noise_reference_fraction
from htsgd.compress._reference import _gaussian_reference_fraction

TYPES = hn.names()


def test_the_paper_types_in_the_papers_order():
    assert TYPES[:3] == ("per_neuron", "per_weight", "isotropic")
    assert [hn.get(n).paper_type for n in TYPES[:3]] == [1, 2, 3]
    assert all(hn.get(n).name == n for n in TYPES)


def test_every_module_takes_its_types_from_the_registry():
    assert hs.optim.NOISE_TYPES == TYPES
    assert hs.sweep.NOISE_TYPES == TYPES
    assert hs.meanfield.NOISE_KINDS == hn.names(mean_field=True) == ("per_weight", "isotropic")


def test_lookups_name_the_argument():
    with pytest.raises(ValueError, match=r"^noise must be one of 'per_neuron', 'per_weight', 'isotropic'.*got 'x'"):
        hn.get("x")
    with pytest.raises(TypeError, match="layer_noise must be one of"):
        hn.get(3, "layer_noise")
    with pytest.raises(ValueError, match="must be one of 'per_weight'; got 'isotropic'"):
        hn.get("isotropic", among=("per_weight",))
    with pytest.raises(ValueError, match="no attribute 'colour'"):
        hn.names(colour="red")
    with pytest.raises(ValueError, match="noise"):
        hs.optim.authors_sigma_to_ours(1.0, 2.0, "gaussian")


@pytest.mark.parametrize("noise", TYPES)
@pytest.mark.parametrize("shape", [(6, 4), (5, 2, 3), (7,), ()])
def test_draw_broadcasts_is_seeded_and_is_what_the_optimizer_adds(noise, shape):
    x = hn.draw(noise, 1.5, shape, torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.broadcast_shapes(x.shape, shape) == shape and torch.isfinite(x).all()
    assert torch.equal(x, hn.draw(noise, 1.5, shape, torch.Generator().manual_seed(1), dtype=torch.float64))
    assert not torch.equal(x, hn.draw(noise, 1.5, shape, torch.Generator().manual_seed(2), dtype=torch.float64))
    p = torch.zeros(shape, dtype=torch.float64)
    hs.optim.add_stable_noise_(p, 1.5, 0.25, noise, torch.Generator().manual_seed(1))
    assert torch.equal(p, torch.zeros_like(p).add_(x, alpha=0.25))


@pytest.mark.parametrize("noise", TYPES)
@pytest.mark.parametrize("alpha", [1e-3, 0.5, 2.0])
def test_draws_are_finite_at_every_alpha_and_in_float32(noise, alpha):
    x = hn.draw(noise, alpha, (300, 8), torch.Generator().manual_seed(0), dtype=torch.float32)
    assert x.dtype == torch.float32 and torch.isfinite(x).all()


@pytest.mark.parametrize("noise", TYPES)
def test_pure_noise_reference_matches_its_gaussian_closed_form(noise):
    """At alpha = 2 the function returns a closed form; the entry's Monte Carlo norms must agree with it.

    Gaussian neurons have ||theta||^2 = 2 chi^2_k, k = input_dim (or 1 for a type whose neuron is one
    scalar times a fixed vector). 40 layers of 500 neurons: the fraction's standard error is about
    0.022 / sqrt(40 * 500) = 1.6e-4 at k = 1 and smaller at k = 5, plus an O(1/width) bias of
    the finite-layer mce rule of about 1e-3; 0.01 is several times both.
    """
    kind = hn.get(noise)
    dim = 5 if kind.input_dim_matters else 1
    norms = kind.reference_norms(2.0, (40, 500), dim, torch.Generator().manual_seed(3))
    assert norms.shape == (40, 500) and norms.dtype == torch.float64
    mc = float(np.mean([float(hs.compress.select_neurons(row, mce=0.1).double().mean()) for row in norms]))
    closed = noise_reference_fraction(2.0, 500, noise=noise, input_dim=dim)
    assert closed == _gaussian_reference_fraction(0.1, dim)
    assert math.isclose(mc, closed, abs_tol=0.01)


@pytest.mark.parametrize("noise", TYPES)
def test_authors_sigma_ratio(noise):
    kind = hn.get(noise)
    assert hs.optim.authors_sigma_to_ours(1.0, 1.5, noise) == 1.0 / kind.authors_sigma_ratio
    assert hs.optim.authors_sigma_to_ours(1.0, 2.0, noise) == 1.0 / math.sqrt(2.0)


def test_noise_optim_and_their_users_reach_into_no_private_names():
    """Issue 19: optim imported private names of stable. The modules of the noise types and the
    training loop share internals through package-internal modules (htsgd._stable_core,
    htsgd._train_stages) whose names are public within the package, never another public module's
    ``_private`` names."""
    import ast
    from pathlib import Path

    root = Path(hs.__file__).parent
    public = set(hs._SUBMODULES)
    checked = ["optim.py", "noise.py", "stable.py", "train.py", "_train_stages.py", "_stable_core.py",
               *(f"compress/{p.name}" for p in (root / "compress").glob("*.py"))]
    offences = []
    for name in checked:
        for node in ast.walk(ast.parse((root / name).read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if isinstance(node.value, ast.Name) and node.value.id in public:
                    offences.append(f"{name}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] in public:
                offences += [f"{name}: from {node.module} import {a.name}" for a in node.names
                             if a.name.startswith("_")]
    assert not offences, offences
