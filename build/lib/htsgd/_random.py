"""Seeds, generators, devices and dtypes: one convention for the whole package.

Every random function in :mod:`htsgd` takes ``generator=`` (or ``seed=``) and
passes it through :func:`torch_generator` or :func:`numpy_generator`, so

* an ``int`` seed gives the same numbers on every call and in every process;
* a ``torch.Generator`` / ``numpy.random.Generator`` is used as it is, so a
  caller can draw several arrays from one stream;
* ``None`` draws a fresh seed from the operating system (not reproducible,
  as with numpy's ``default_rng()``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from ._checks import FLOAT_DTYPES, check_dtype, check_int

__all__ = [
    "SeedLike",
    "torch_generator",
    "numpy_generator",
    "resolve_device",
    "resolve_dtype",
    "fresh_seed",
]

#: What every ``generator=`` / ``seed=`` argument accepts.
SeedLike = int | np.integer | torch.Generator | np.random.Generator | None

_MAX_SEED = 2**63 - 1


def fresh_seed() -> int:
    """A seed drawn from operating-system entropy (non-reproducible by design)."""
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] & _MAX_SEED)


def resolve_device(device: Any = None) -> torch.device:
    """Normalise ``device`` (``None``, a string or a ``torch.device``) to a ``torch.device``.

    ``None`` means torch's current default device (the CPU unless the caller
    changed it with ``torch.set_default_device``). A CUDA device is refused with a clear
    ``ValueError`` where CUDA is not available.
    """
    if device is None:
        dev = torch.get_default_device()
    elif isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}") from err
    else:
        raise TypeError(f"device must be None, a str or a torch.device, got {type(device).__name__}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(dev)!r} but CUDA is not available here (torch {torch.__version__}); use 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={str(dev)!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev


def resolve_dtype(dtype: Any = None) -> torch.dtype:
    """Normalise ``dtype``: ``None`` means torch's default float dtype; float32 and float64 only."""
    if dtype is None:
        dtype = torch.get_default_dtype()
    return check_dtype("dtype", dtype, FLOAT_DTYPES)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    # "cuda" and "cuda:0" denote the same device when the current device is 0.
    ia = a.index if a.index is not None else (torch.cuda.current_device() if a.type == "cuda" else 0)
    ib = b.index if b.index is not None else (torch.cuda.current_device() if b.type == "cuda" else 0)
    return ia == ib


def torch_generator(generator: SeedLike = None, device: Any = None) -> torch.Generator:
    """Turn a seed or generator into a ``torch.Generator`` on ``device``.

    Parameters
    ----------
    generator : None, int or torch.Generator
        ``None``: a generator seeded from OS entropy. ``int``: a new generator
        with that seed (the same seed gives the same stream). A
        ``torch.Generator``: returned unchanged, after checking its device.
    device : None, str or torch.device
        Where the numbers will be drawn; see :func:`resolve_device`.

    Raises
    ------
    TypeError
        For a numpy generator or any other type.
    ValueError
        For a negative seed, or a generator that lives on another device.
    """
    dev = resolve_device(device)
    if dev.type == "meta":
        raise ValueError("device='meta' holds no data, so no random numbers can be drawn on it; use 'cpu' or 'cuda'")
    if isinstance(generator, torch.Generator):
        if not _same_device(generator.device, dev):
            raise ValueError(
                f"generator lives on {generator.device} but the numbers are drawn on {dev}; "
                f"create it with torch.Generator(device={str(dev)!r})"
            )
        return generator
    if isinstance(generator, np.random.Generator):
        raise TypeError("generator must be None, an int seed or a torch.Generator, got a numpy Generator")
    if generator is None:
        seed = fresh_seed()
    elif isinstance(generator, (numbers.Integral, np.integer)) and not isinstance(generator, bool):
        seed = check_int("seed", int(generator), low=0, high=_MAX_SEED)
    else:
        raise TypeError(
            f"generator must be None, an int seed or a torch.Generator, got {type(generator).__name__}"
        )
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    return gen


def numpy_generator(seed: SeedLike = None) -> np.random.Generator:
    """Turn a seed or generator into a ``numpy.random.Generator``.

    ``None`` gives an entropy-seeded generator, an ``int`` a seeded one, a
    ``numpy.random.Generator`` is returned unchanged, and a CPU
    ``torch.Generator`` seeds a new numpy generator from one draw of it (so a
    single torch seed can drive code that needs numpy).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, torch.Generator):
        draw = torch.randint(0, 2**62, (1,), generator=seed, device=seed.device)
        return np.random.default_rng(int(draw.item()))
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (numbers.Integral, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(check_int("seed", int(seed), low=0))
    raise TypeError(
        f"seed must be None, an int, a numpy Generator or a torch.Generator, got {type(seed).__name__}"
    )
