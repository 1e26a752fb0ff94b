"""Compressibility: best k-term errors, compressibility curves and neuron pruning.

Introduced in the chapter *Compressibility* (``book/compressibility.md``); the
pruning functions are used in the chapter *Compressibility experiments*.

Two conventions meet here, and every function says which one it uses.

* **The paper's mathematics** writes the hidden weights of a one-hidden-layer
  network as ``Theta in R^{d x n}``: ``d`` inputs, ``n`` neurons, one neuron per
  *column* :cite:p:`wan2024implicit`. :func:`column_best_k_error` and
  :func:`column_compressibility_curve` take such a ``(d, n)`` matrix.
* **torch** stores an ``nn.Linear(d, n)`` weight as ``(n, d)``: one neuron per
  *row* (a convolution's ``(out, in, kh, kw)`` weight holds one filter per row).
  The pruning functions work on these rows. So for a torch layer
  ``column_best_k_error(layer.weight.T, k)`` is the paper's quantity, and
  :func:`neuron_norms` ``(layer.weight)`` gives the same column norms directly.

The relative Frobenius error of keeping the ``k`` largest-norm columns equals the
best ``k``-term ``l2`` error of the vector of column norms, which is how
:func:`column_best_k_error` computes it.

The module is one public face over three private modules, one job each (as POT's
``ot.bregman``): ``_curves`` (best k-term errors and curves), ``_pruning`` (pruning of
modules and its reports) and ``_reference`` (pure-noise references).
"""

from ._curves import (
    best_k_error,
    column_best_k_error,
    column_compressibility_curve,
    compressibility_curve,
    count_of_fraction,
    gaussian_limit,
    neuron_norms,
)
from ._pruning import (
    LayerPruning,
    PruneReport,
    hidden_layers,
    magnitude_prune,
    output_layer,
    prune_neurons,
    prune_report,
    pruned_fraction,
    select_neurons,
)
from ._reference import noise_reference_fraction

__all__ = [
    "count_of_fraction",
    "best_k_error",
    "compressibility_curve",
    "gaussian_limit",
    "noise_reference_fraction",
    "column_best_k_error",
    "column_compressibility_curve",
    "neuron_norms",
    "hidden_layers",
    "output_layer",
    "select_neurons",
    "prune_neurons",
    "magnitude_prune",
    "pruned_fraction",
    "prune_report",
    "LayerPruning",
    "PruneReport",
]
