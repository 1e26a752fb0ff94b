"""htsgd: heavy-tailed SGD and the implicit compressibility of wide networks.

The tested package behind the book *Heavy-Tailed SGD and Implicit Compressibility*,
which teaches and reproduces Wan, Barsbey, Zaidi & Simsekli (ICML 2024),
arXiv:2306.08125. Each module has one job; each public function's docstring names
the chapter that introduces it.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "stable",
    "tails",
    "noise",
    "optim",
    "nets",
    "data",
    "train",
    "train_batched",
    "compress",
    "meanfield",
    "chaos",
    "sweep",
    "evidence",
    "frontier",
    "sde",
    "plotting",
    "widgets",
    "notebook",
    "exercises",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    # Lazy submodules: `import htsgd as hs; hs.stable.sample(...)` without importing
    # matplotlib or dask for code that never plots or distributes.
    if name in _SUBMODULES:
        return import_module(f"htsgd.{name}")
    raise AttributeError(f"module 'htsgd' has no attribute {name!r}")
