"""Pure-noise references for the pruned fraction: what mce-tau prunes when a layer is only noise.

Private: :func:`noise_reference_fraction` is re-exported by :mod:`htsgd.compress`; each noise
type's pure-noise neurons come from its entry in :mod:`htsgd.noise`. Introduced in the chapter
*Compressibility experiments* (``book/experiments.md``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .._checks import check_int, check_real
from .._random import SeedLike, torch_generator
from ._pruning import select_neurons

# --------------------------------------------------------------------------------------
# pure-noise references for the pruned fraction
# --------------------------------------------------------------------------------------

def _gaussian_reference_fraction(tau: float, dof: int) -> float:
    # Norms R with R^2 = s * chi^2_dof. mce-tau prunes the neurons with R^2 <= q, where
    # E[R^2 1{R^2 <= q}] / E[R^2] = tau; since x f_dof(x) = dof f_{dof+2}(x), that share is
    # P(chi^2_{dof+2} <= q / s), so q / s = F_{dof+2}^{-1}(tau) and the fraction is F_dof(q / s).
    return float(special.chdtr(dof, special.chdtri(dof + 2, 1.0 - tau))) if tau > 0 else 0.0


def noise_reference_fraction(
    alpha: float,
    width: int,
    *,
    tau: float = 0.1,
    noise: str = "per_neuron",
    input_dim: int | None = None,
    seeds: int = 16,
    generator: SeedLike = None,
) -> float:
    r"""The fraction of neurons mce-``tau`` prunes when the hidden layer is pure noise.

    The reference against which a trained network's pruned fraction is read: a layer
    of ``width`` neurons whose weights are nothing but one draw of the noise of
    :class:`htsgd.optim.HeavyTailedSGD` (the accumulated noise of many steps has the
    same law up to scale, and the mce rule is scale invariant).

    * ``"per_neuron"`` (type 1): neuron ``i`` is ``S_i (1, ..., 1)`` with
      ``S_i ~ SaS(alpha, 1)``, so its norm is ``sqrt(d) |S_i|`` (``input_dim`` is not
      needed).
    * ``"per_weight"`` (type 2): ``input_dim`` iid ``SaS(alpha, 1)`` weights per neuron.
    * ``"isotropic"`` (type 3): a rotationally invariant stable vector in
      ``R^input_dim`` per neuron (:func:`htsgd.stable.sample_isotropic`).

    At ``alpha = 2`` every type gives Gaussian neurons, ``||theta||^2 = 2 chi^2_k``
    with ``k = 1`` (per neuron) or ``k = input_dim``, and the function returns the
    large-width limit in closed form: mce-``tau`` prunes the neurons with
    ``||theta||^2 <= q``, where the removed share of the squared norm is
    ``E[chi^2_k 1{chi^2_k <= x}] / k = P(chi^2_{k+2} <= x) = tau``, so the fraction is
    ``P(chi^2_k <= F_{k+2}^{-1}(tau))``. For ``k = 1`` this is
    ``2 Phi(t) - 1`` with ``2 Phi(t) - 1 - 2 t phi(t) = tau``: 0.555 at ``tau = 0.1``
    (``t = 0.764``), at every width. The mean over finite layers differs by
    ``O(1 / width)``. For ``alpha < 2`` there is no closed form and the function
    returns the mean over ``seeds`` Monte Carlo layers; as ``width`` grows the
    fraction tends to 1 (the theory of chapter *Compressibility*).

    Parameters
    ----------
    alpha : float
        Tail index of the noise, in (0, 2].
    width : int
        Number of neurons ``n >= 1`` (ignored at ``alpha = 2``).
    tau : float
        The mce threshold, in [0, 1); 0.1 in the paper.
    noise : {"per_neuron", "per_weight", "isotropic"}
        The noise type.
    input_dim : int, optional
        Weights per neuron ``d >= 1``; required for ``"per_weight"`` and ``"isotropic"``.
    seeds : int
        Monte Carlo layers averaged for ``alpha < 2`` (>= 1).
    generator : None, int or torch.Generator
        Seed of the Monte Carlo draws; the same seed gives the same value.

    Returns
    -------
    float
        The mean fraction of neurons pruned, in [0, 1].

    Raises
    ------
    ValueError
        For an argument outside the ranges above, or a missing ``input_dim``.

    Examples
    --------
    >>> round(noise_reference_fraction(2.0, 512), 3)
    0.555
    >>> noise_reference_fraction(1.5, 512, generator=0) > 0.555
    True

    Introduced in the chapter *Compressibility experiments*.
    """
    from .. import noise as _noise

    alpha = check_real("alpha", alpha, low=0.0, high=2.0, low_open=True)
    width = check_int("width", width, low=1)
    tau = check_real("tau", tau, low=0.0, high=1.0, high_open=True)
    kind = _noise.get(noise)
    seeds = check_int("seeds", seeds, low=1)
    if not kind.input_dim_matters:
        dim = 1
    elif input_dim is None:
        raise ValueError(f"input_dim is required for noise={noise!r} (weights per neuron, >= 1)")
    else:
        dim = check_int("input_dim", input_dim, low=1)
    if alpha == 2.0:
        return _gaussian_reference_fraction(tau, dim)
    norms = kind.reference_norms(alpha, (seeds, width), dim, torch_generator(generator, "cpu"))
    fractions = [float(select_neurons(row, mce=tau).double().mean()) for row in norms]
    return float(np.mean(fractions))
