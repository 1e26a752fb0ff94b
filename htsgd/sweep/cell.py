"""One cell: train a network, prune it every way the config asks, measure each.

:func:`run_cell` is the default runner of every sweep. It reads as the paragraph
that describes it: load the data, build the seeded network and optimiser, train
to the stopping rule, measure, prune and measure again, and record the neuron
norms and their tail index. Each step is a small function of its own.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

from .config import ExperimentConfig, canonical_json

__all__ = ["run_cell", "run_cells", "batch_key", "BATCHED_FIELDS"]

# Independent random streams of one cell, all derived from its seed.
_INIT, _BATCHES, _NOISE, _PRUNING = 0, 1, 2, 3


def _sub_seed(seed: int, stream: int) -> int:
    # Independent streams (initialisation, batches, noise, pruning) from one cell seed.
    import numpy as np

    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _device(cfg: ExperimentConfig) -> Any:
    import torch

    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


_DATA_CACHE: dict[str, Any] = {}


def _load_data(cfg: ExperimentConfig, device: Any) -> Any:
    # A worker runs many cells on the same dataset: generate it once per process.
    from .. import data

    key = canonical_json([cfg.dataset, cfg.dataset_options, cfg.data_seed, str(device)])
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = data.load(
            cfg.dataset, seed=cfg.data_seed, device=device, **cfg.dataset_options
        )
    return _DATA_CACHE[key]


def _build_model(cfg: ExperimentConfig, data: Any, device: Any) -> Any:
    import numpy as np
    import torch

    from .. import nets

    torch.manual_seed(_sub_seed(cfg.seed, _INIT))
    if cfg.model == "fcn":
        input_dim = int(np.prod(data.x_train.shape[1:]))
        model = nets.FCN(input_dim, cfg.width, cfg.depth, data.num_classes, bias=cfg.bias)
    elif cfg.model == "cnn":
        model = nets.SmallCNN(data.num_classes, cfg.width, image_shape=_image_shape(data.input_shape), bias=cfg.bias)
    else:
        model = nets.VGG11Wide(data.num_classes)
    return model.to(device)


def _image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(channels, H, W)`` of the inputs: images as they are, a flat input as one square channel."""
    if len(input_shape) == 3:
        return (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    side = math.isqrt(int(math.prod(input_shape)))
    if len(input_shape) != 1 or side * side != input_shape[0]:
        raise ValueError(
            f"model 'cnn' needs images (channels, H, W) or flat square images; the data's inputs are {input_shape}"
        )
    return (1, side, side)


def _build_optimizer(cfg: ExperimentConfig, model: Any) -> Any:
    import torch

    from .. import optim

    if not cfg.noisy:
        return torch.optim.SGD(model.parameters(), lr=cfg.lr)
    return optim.HeavyTailedSGD(
        optim.paper_param_groups(model),
        lr=cfg.lr,
        alpha=cfg.alpha,
        sigma=cfg.sigma,
        noise=cfg.noise,
        generator=_sub_seed(cfg.seed, _NOISE),
        record_noise=cfg.noise_ranking,
    )


def _train(cfg: ExperimentConfig, model: Any, data: Any, opt: Any, device: Any) -> Any:
    from .. import train

    return train.train(
        model,
        data,
        opt,
        batch_size=cfg.batch_size,
        max_iters=cfg.max_iters,
        stop_train_acc=cfg.stop_train_acc,
        eval_every=cfg.eval_every,
        generator=_sub_seed(cfg.seed, _BATCHES),
        progress=False,
        on_divergence="record",
        device=device,
    )


def _measure(model: Any, data: Any) -> dict[str, float]:
    from .. import train

    train_loss, train_acc = train.evaluate(model, data.x_train, data.y_train, batch_size=8192)
    test_loss, test_acc = train.evaluate(model, data.x_test, data.y_test, batch_size=8192)
    return {
        "train_loss": float(train_loss),
        "train_acc": float(train_acc),
        "test_loss": float(test_loss),
        "test_acc": float(test_acc),
    }


def _prune_all(cfg: ExperimentConfig, model: Any, data: Any, free: list[Any] | None = None) -> dict[str, Any]:
    """Every pruning criterion of the config, each beside other orders of as many neurons.

    ``random`` (with ``random_prune``), and with ``free`` (the noise-free norms of every hidden
    layer, ``noise_ranking``) ``largest`` (largest norm first) and ``noise_free`` (smallest
    noise-free norm first): the same number of neurons in every layer, chosen otherwise.
    """
    from .. import compress

    criteria = [(f"mce{t:g}", {"mce": t}) for t in cfg.prune_mce]
    criteria += [(f"frac{f:g}", {"fraction": f}) for f in cfg.prune_fractions]
    others: dict[str, dict[str, Any]] = {}
    if cfg.random_prune:
        others["random"] = {"order": "random", "generator": _sub_seed(cfg.seed, _PRUNING)}
    if free is not None:
        others["largest"] = {"order": "largest"}
        others["noise_free"] = {"scores": free}
    prune: dict[str, Any] = {}
    for name, kwargs in criteria:
        pruned = compress.prune_neurons(model, **kwargs)
        report = compress.prune_report(pruned)
        entry: dict[str, Any] = {
            "pruned_fraction": float(report.fraction),
            "neuron_fraction": float(report.neuron_fraction),
            **_measure(pruned, data),
        }
        for other, how in others.items():
            alike = compress.prune_neurons(model, counts=report.pruned_neurons, **how)
            entry[other] = {"pruned_fraction": float(compress.pruned_fraction(alike)), **_measure(alike, data)}
        prune[name] = entry
    return prune


#: The accuracy drops at which a cell with a ``prune_curve`` records :func:`htsgd.compress.prunable_at`.
PRUNABLE_DROPS = (0.005, 0.01, 0.02)
#: The pruning rules of a cell's curve: the paper's smallest norm first, and its random control.
CURVE_RULES = ("norm", "random")


def _pruning_curve(cfg: ExperimentConfig, model: Any, data: Any, free: list[Any] | None = None) -> dict[str, Any]:
    """The test-accuracy pruning curve of ``cfg.prune_curve`` and what it allows to prune, per rule.

    ``pruning_curve`` per fraction ``p`` (keys ``f"{p:g}"``) and ``prunable_at`` per drop: flat
    columns such as ``pruning_curve/norm/0.5`` and ``prunable_at/random/0.01`` in ``results.csv``.
    The random draws start from the seed of the random-pruning control, so draw 0 prunes what
    ``prune_neurons(order="random")`` would; the ``random`` curve is the mean of the default
    number of draws (:func:`htsgd.compress.pruning_curve`). With ``free`` (the noise-free norms,
    ``noise_ranking``) the curve also has the rules ``largest`` and ``noise_free``.
    """
    from .. import compress

    rules = CURVE_RULES if free is None else (*CURVE_RULES, "largest")
    curve = compress.pruning_curve(
        model, data.x_test, data.y_test, fractions=cfg.prune_curve, rules=rules,
        scores=None if free is None else {"noise_free": free}, generator=_sub_seed(cfg.seed, _PRUNING),
    )
    return {
        "pruning_curve": {
            rule: {f"{p:g}": float(a) for p, a in zip(curve.fractions, acc, strict=True)}
            for rule, acc in curve.accuracy.items()
        },
        "prunable_at": {
            rule: {f"{d:g}": float(curve.prunable_at(d, rule)) for d in PRUNABLE_DROPS} for rule in curve.accuracy
        },
    }


def _noise_ranking(model: Any, opt: Any) -> tuple[dict[str, Any], list[Any]]:
    """What the trained neuron norms rank (``noise_ranking``), and the noise-free norms per hidden layer.

    ``opt`` recorded the noise (``record_noise``); a noise-free optimizer (plain SGD: no noise,
    the matched-steps controls) added none, so the noise is zero, ``spearman_noise`` is NaN
    (null in the record: undefined, not a number) and the noise-free norms are the norms.
    """
    import torch

    from .. import compress

    layers = compress.hidden_layers(model)
    noise = opt if hasattr(opt, "accumulated_noise") else [
        torch.zeros(m.weight.shape, dtype=torch.float64) for _, m in layers
    ]
    rankings = compress.noise_ranking(model, noise)
    rows = [r.row() for r in rankings]
    ranking = {
        "spearman_noise": rows[0]["spearman_noise"],
        "spearman_noise_free": rows[0]["spearman_noise_free"],
        "spearman_noise_layers": [r["spearman_noise"] for r in rows],
        "spearman_noise_free_layers": [r["spearman_noise_free"] for r in rows],
    }
    return jsonable(ranking), [r.noise_free_norms for r in rankings]


def _neuron_norms_and_tail(cfg: ExperimentConfig, model: Any) -> dict[str, Any]:
    """The neuron norms of every hidden layer, and Hill's estimate of their tail index."""
    import torch

    from .. import compress, tails

    norms = [
        compress.neuron_norms(layer.weight.detach()).double().cpu()
        for _, layer in compress.hidden_layers(model)
    ]
    everything = torch.cat(norms) if norms else torch.zeros(0, dtype=torch.float64)
    k = max(2, int(round(cfg.tail_fraction * len(everything))))
    usable = (
        len(everything) > k
        and bool(torch.isfinite(everything).all())
        and bool((everything > 0).all())
    )
    return {
        "tail_k": k,
        "tail_hill": float(tails.hill(everything, k)) if usable else None,
        "neuron_norms": [n.tolist() for n in norms],
    }


def run_cell(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train one cell and measure it: the default runner of every sweep.

    Steps: load the data, build the network (seeded), train with
    :class:`htsgd.optim.HeavyTailedSGD` (plain SGD when ``alpha`` is None) until
    the stopping rule, evaluate, then prune with every criterion of the config and
    evaluate again: the paper's mce rule (and random pruning of the same fraction),
    fixed fractions of smallest-norm neurons (and random ones). Finally the neuron
    norms of each hidden layer and Hill's estimate of their tail index.

    Parameters
    ----------
    config : mapping
        :meth:`ExperimentConfig.to_dict` of the cell (a plain dict, so that the
        function can be shipped to any executor).

    Returns
    -------
    dict
        JSON-ready metrics: ``iterations``, ``stopped_by``, ``diverged_at``,
        ``train_seconds``, ``device``, ``train_loss``, ``train_acc``, ``test_loss``,
        ``test_acc``; ``prune`` (one entry per criterion, e.g. ``"mce0.1"`` or
        ``"frac0.5"``, each with ``pruned_fraction``, ``neuron_fraction``, losses
        and accuracies, and ``random`` for the random control; empty when training
        diverged); with a ``prune_curve``, ``pruning_curve`` (test accuracy per rule
        ``"norm"``, ``"random"`` and fraction) and ``prunable_at`` (per rule and drop in
        ``PRUNABLE_DROPS``), both absent when training diverged; with ``noise_ranking``,
        ``ranking`` (``spearman_noise``, ``spearman_noise_free``: see
        :class:`ExperimentConfig`), each ``prune`` entry's ``largest`` and ``noise_free``
        beside ``random``, and the curve's rules ``largest`` and ``noise_free``; ``tail_hill``, ``tail_k``; ``neuron_norms`` (a list per hidden
        layer); ``history``.

    Notes
    -----
    Introduced in the chapter *Compressibility experiments*.
    """
    cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
    device = _device(cfg)
    data = _load_data(cfg, device)
    model = _build_model(cfg, data, device)
    opt = _build_optimizer(cfg, model)
    return _measure_cell(cfg, model, data, _train(cfg, model, data, opt, device), device, opt)


def _measure_cell(
    cfg: ExperimentConfig, model: Any, data: Any, result: Any, device: Any, opt: Any = None
) -> dict[str, Any]:
    """After training: the metrics, the pruning, the neuron norms and the history of one cell.

    ``opt`` is the cell's optimizer, read for the recorded noise when ``cfg.noise_ranking``.
    """
    metrics: dict[str, Any] = {
        "iterations": int(result.iterations),
        "stopped_by": str(result.stopped_by),
        "diverged_at": None if result.diverged_at is None else int(result.diverged_at),
        "train_seconds": float(result.seconds),
        "device": str(device),
        **_measure(model, data),
    }
    diverged = metrics["diverged_at"] is not None
    free = None
    if cfg.noise_ranking and not diverged:
        metrics["ranking"], free = _noise_ranking(model, opt)
    metrics["prune"] = {} if diverged else _prune_all(cfg, model, data, free)
    if cfg.prune_curve and not diverged:
        metrics.update(_pruning_curve(cfg, model, data, free))
    metrics.update(_neuron_norms_and_tail(cfg, model))
    metrics["history"] = jsonable(result.history.to_dict())
    return metrics


#: The fields in which the cells of one batched job may differ (each member its own).
BATCHED_FIELDS = ("seed", "sigma", "alpha", "noise")


def batch_key(config: ExperimentConfig) -> str | None:
    """The cells with one key can train as one batch (``run_cells``); None: this cell cannot.

    The key is the cell without its ``BATCHED_FIELDS``; only FCNs batch.
    """
    if config.model != "fcn":
        return None
    return canonical_json({k: v for k, v in config.to_dict().items() if k not in BATCHED_FIELDS})


def run_cells(configs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Train several cells as one batch (:func:`htsgd.train_batched.train_batched`) and measure each.

    Parameters
    ----------
    configs : list of mapping
        ``E >= 1`` cells (:meth:`ExperimentConfig.to_dict`) of one batch key: they
        may differ only in seed, sigma, alpha and noise type.

    Returns
    -------
    list of dict
        One metrics dict per cell, in order, as :func:`run_cell` returns them. Each member
        has the cell's own initial weights, batches and noise; a member's metrics are bit
        for bit the same whatever other cells share its batch (``tests/test_train_batched.py``).

    Raises
    ------
    ValueError
        If ``configs`` is empty or the cells do not share one batch key (naming the first
        that differs).

    Notes
    -----
    Introduced in the chapter *Compressibility experiments*.
    """
    from .. import train_batched

    cfgs = [c if isinstance(c, ExperimentConfig) else ExperimentConfig.from_dict(c) for c in configs]
    if not cfgs:
        raise ValueError("configs must hold at least one cell")
    keys = [batch_key(c) for c in cfgs]
    for i, key in enumerate(keys):
        if key is None or key != keys[0]:
            raise ValueError(
                f"configs[{i}] cannot share a batch with configs[0]: cells of one batch are FCNs that differ "
                f"only in {', '.join(BATCHED_FIELDS)}"
            )
    cfg, device = cfgs[0], _device(cfgs[0])
    data = _load_data(cfg, device)
    models = [_build_model(c, data, device) for c in cfgs]
    opts = [_build_optimizer(c, m) for c, m in zip(cfgs, models, strict=True)]
    with _one_thread():  # the training and the measurements: a record is the same on every executor
        results = train_batched.train_batched(
            models, data, opts,
            generators=[_sub_seed(c.seed, _BATCHES) for c in cfgs], batch_size=cfg.batch_size,
            max_iters=cfg.max_iters, stop_train_acc=cfg.stop_train_acc, eval_every=cfg.eval_every,
            on_divergence="record", device=device,
        )
        return [_measure_cell(c, m, data, r, device, o) for c, m, r, o in zip(cfgs, models, results, opts, strict=True)]


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One torch thread while a batch trains (restored after).

    With several threads the BLAS splits a batched product differently for different batch
    sizes (measured on the 2-core machine: with 2 threads a member's weights differed between
    batches of 1 and 16), so a cell's record would depend on its batch; with one thread every
    member's product is its own. Sweep workers run one thread anyway.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: numpy scalars, tensors and arrays as lists, NaN and infinities as None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
