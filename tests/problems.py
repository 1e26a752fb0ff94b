"""Reference problems for the tests of :mod:`htsgd.sde` (in the spirit of torchsde's tests/problems.py).

Each problem is a one-dimensional SDE ``dX = b(X) dt + c(X-) dL`` with a drift ``b``, a
diffusion ``c`` (a function or a constant) and, where one exists, its exact law.

* :class:`StableOU` -- ``dX = -theta X dt + sigma dL``: exact laws for the solution and for its
  Euler chain (:func:`htsgd.sde.stable_ou_law`, :func:`htsgd.sde.stable_ou_euler_law`).
* :class:`Multiplicative` -- ``dX = -X dt + (1 + 0.5 sin X) dL``: Lipschitz, bounded, non-constant
  diffusion (no closed form; strong errors against a fine coupled path).
* :class:`DoubleWell` -- ``dX = (X - X^3) dt + sigma dL``: superlinear drift, where explicit
  Euler blows up on heavy-tailed paths and the tamed scheme does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from htsgd.sde import stable_ou_euler_law, stable_ou_law


@dataclass(frozen=True)
class StableOU:
    theta: float = 1.0
    sigma: float = 1.0
    alpha: float = 1.5
    x0: float = 1.0

    def drift(self, x: torch.Tensor) -> torch.Tensor:
        return -self.theta * x

    @property
    def diffusion(self) -> float:
        return self.sigma

    def exact_law(self, t: float) -> tuple[float, float]:
        return stable_ou_law(self.x0, self.theta, self.sigma, self.alpha, t)

    def euler_law(self, step: float, n_steps: int) -> tuple[float, float]:
        return stable_ou_euler_law(self.x0, self.theta, self.sigma, self.alpha, step, n_steps)

    def weak_error(self, t: float, n_steps: int, u: float = 1.0) -> float:
        """|E cos(u X_t) - E cos(u X^h_n)| from the two closed forms (h = t / n_steps)."""
        (l1, s1), (l2, s2) = self.exact_law(t), self.euler_law(t / n_steps, n_steps)
        cos_mean = lambda loc, scale: math.cos(u * loc) * math.exp(-((scale * abs(u)) ** self.alpha))  # noqa: E731
        return abs(cos_mean(l1, s1) - cos_mean(l2, s2))


@dataclass(frozen=True)
class Multiplicative:
    alpha: float = 1.5
    x0: float = 0.5

    @staticmethod
    def drift(x: torch.Tensor) -> torch.Tensor:
        return -x

    @staticmethod
    def diffusion(x: torch.Tensor) -> torch.Tensor:
        return 1.0 + 0.5 * torch.sin(x)


@dataclass(frozen=True)
class DoubleWell:
    alpha: float = 1.5
    sigma: float = 0.5
    x0: float = 1.0

    @staticmethod
    def drift(x: torch.Tensor) -> torch.Tensor:
        return x - x**3

    @property
    def diffusion(self) -> float:
        return self.sigma
