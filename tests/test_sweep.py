"""Tests of htsgd.sweep: strict configs, stable hashes, the cell cache, executors, controls.

The sweep machinery is tested with a tiny pure-function runner (:func:`toy_cell`,
milliseconds per cell), so the cache and executor tests do not depend on training;
one test runs the real :func:`htsgd.sweep.run_cell` on a tiny teacher-student cell.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from htsgd import sweep
from htsgd.sweep import ConfigError, ExperimentConfig, SweepConfig

TOY = "test_sweep:toy_cell"


def toy_cell(config: dict) -> dict:
    """A deterministic stand-in for training: metrics computed from the config and seed.

    ``dataset_options`` may hold ``sleep`` (seconds), ``fail`` (raise) and ``counter``
    (a file that gets one line per execution, to count recomputations).
    """
    opts = config["dataset_options"]
    if opts.get("counter"):
        with open(opts["counter"], "a") as f:
            f.write(
                json.dumps(
                    {"seed": config["seed"], "width": config["width"], "alpha": config["alpha"]}
                )
                + "\n"
            )
    if opts.get("sleep"):
        time.sleep(opts["sleep"])
    if opts.get("fail"):
        raise RuntimeError("toy failure")
    rng = np.random.default_rng([config["seed"], config["width"]])
    alpha = config["alpha"] or 2.0
    x = rng.standard_normal(config["width"]) * (1 + (2 - alpha))
    iterations = int(100 * config["width"] / 8 * (1 if config["alpha"] is None else 3))
    if config["stop_train_acc"] is None:  # no stopping rule: the whole budget
        iterations = config["max_iters"]
    return {
        "iterations": min(iterations, config["max_iters"]),
        "train_acc": float(np.tanh(np.abs(x).mean())),
        "prune": {"mce0.1": {"pruned_fraction": float((np.abs(x) < 0.5).mean())}},
        "neuron_norms": [np.abs(x).tolist()],
    }


# A config names its runner from the registry; tests register the toy runner by code.
sweep.register_runner(TOY, toy_cell)


def toy_sweep(tmp_path: Path, **options) -> SweepConfig:
    return SweepConfig(
        name="toy",
        runner=TOY,
        base=ExperimentConfig(width=8, max_iters=1000, dataset_options=options),
        grid={"width": [8, 16], "alpha": ["none", 1.5], "seed": [0, 1]},
    )


def executions(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


# ----------------------------------------------------------------------------- configs


def test_defaults_and_none():
    cfg = ExperimentConfig(alpha="none", stop_train_acc="None")
    assert cfg.alpha is None and cfg.stop_train_acc is None and not cfg.noisy
    assert ExperimentConfig(alpha=1.5, sigma=0.1).noisy
    assert not ExperimentConfig(alpha=1.5, sigma=0.0).noisy
    assert ExperimentConfig(lr=1).lr == 1.0 and isinstance(ExperimentConfig(lr=1).lr, float)


@pytest.mark.parametrize(
    ("field", "value", "exc", "words"),
    [
        ("alpha", 2.5, ValueError, ["alpha", "(0, 2]", "2.5"]),
        ("alpha", 0, ValueError, ["alpha", "(0, 2]"]),
        ("lr", -0.1, ValueError, ["lr", "-0.1"]),
        ("width", 0, ValueError, ["width", "0"]),
        ("width", 2.0, TypeError, ["width", "integer"]),
        ("stop_train_acc", 1.5, ValueError, ["stop_train_acc", "1.5"]),
        ("noise", "gaussian", ValueError, ["noise", "per_neuron", "gaussian"]),
        ("dataset", "imagenet", ValueError, ["dataset", "imagenet"]),
        ("prune_mce", [0.1, 1.0], ValueError, ["prune_mce[1]", "1"]),
        ("prune_fractions", [0.5, 0.5], ValueError, ["prune_fractions", "repeat"]),
        ("random_prune", 1, TypeError, ["random_prune"]),
        ("device", "tpu", ValueError, ["device", "tpu"]),
        ("dataset_options", {"n": [1, 2]}, TypeError, ["dataset_options.n"]),
    ],
)
def test_bad_values_name_the_field(field, value, exc, words):
    with pytest.raises(exc) as info:
        ExperimentConfig(**{field: value})
    for word in words:
        assert word in str(info.value)


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """
[sweep]
name = "demo"
description = "a test sweep"

[cell]
dataset = "teacher_student"
width = 64
lr = 0.3
sigma = 0.03
stop_train_acc = 0.9
prune_fractions = [0.5, 0.75]

[cell.dataset_options]
n_train = 500

[grid]
seed = [0, 1, 2]
alpha = ["none", 2.0, 1.5]
width = [64, 128]

[controls]
matched_steps = [1.5]
"""


def test_load_config_and_grid(tmp_path):
    cfg = sweep.load_config(write(tmp_path, GOOD))
    assert cfg.name == "demo" and cfg.matched_steps == (1.5,)
    assert cfg.base.dataset_options == {"n_train": 500}
    cells = cfg.cells()
    assert len(cells) == 18
    # Canonical axis order (the dataclass's field order: width, alpha, seed), not the file's.
    assert list(cfg.grid) == ["width", "alpha", "seed"]
    assert [(c.width, c.alpha, c.seed) for c in cells[:4]] == [
        (64, None, 0),
        (64, None, 1),
        (64, None, 2),
        (64, 2.0, 0),
    ]
    assert all(c.prune_fractions == (0.5, 0.75) and c.lr == 0.3 for c in cells)
    # to_dict round trip
    again = SweepConfig.from_dict(cfg.to_dict())
    assert again.cells() == cells


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (("width = 64", "widht = 64"), ["[cell]", "unknown key", "'widht'"]),
        (("n_train = 500", "n_train = [1]"), ["dataset_options.n_train"]),
        (
            ('alpha = ["none", 2.0, 1.5]', 'alpha = ["none", 2.0, 2.5]'),
            ["[grid]", "alpha[2]", "2.5", "(0, 2]"],
        ),
        (("seed = [0, 1, 2]", "seeds = [0, 1, 2]"), ["[grid]", "unknown key", "'seeds'"]),
        (("seed = [0, 1, 2]", "seed = []"), ["[grid]", "seed", "non-empty"]),
        (('description = "a test sweep"', "descr = 1"), ["[sweep]", "'descr'"]),
        (("matched_steps = [1.5]", "matched = [1.5]"), ["[controls]", "'matched'"]),
        (("lr = 0.3", "lr = -0.3"), ["[cell]", "lr", "-0.3"]),
        (("[controls]", "[control]"), ["top level", "'control'"]),
        (('name = "demo"', ""), ["[sweep]", "'name'", "required"]),
        (("lr = 0.3", "lr = = 0.3"), ["not valid TOML"]),
    ],
)
def test_bad_configs_are_rejected_naming_the_key(tmp_path, edit, words):
    old, new = edit
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as info:
        sweep.load_config(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_repository_configs_load():
    configs = sorted((Path(__file__).resolve().parents[1] / "htsgd" / "configs").glob("*.toml"))
    assert any(p.name.startswith("book-") for p in configs)
    assert any(p.name.startswith("paper-") for p in configs)
    for path in configs:
        cfg = sweep.load_config(path)
        assert cfg.name == path.stem, path
        assert cfg.cells()


# ----------------------------------------------------------------------------- hashing


def test_hash_normalises_and_discriminates():
    a = ExperimentConfig(lr=1, dataset_options={"b": 1, "a": 2})
    b = ExperimentConfig(lr=1.0, dataset_options={"a": 2, "b": 1})
    assert sweep.cell_hash(a) == sweep.cell_hash(b)
    assert sweep.cell_hash(a) == sweep.cell_hash(a.to_dict())
    assert sweep.cell_hash(a) != sweep.cell_hash(a.replace(seed=1))
    assert sweep.cell_hash(a) != sweep.cell_hash(a.replace(lr=1.0000001))
    assert sweep.cell_hash(a) != sweep.cell_hash(a, runner=TOY)
    assert hash(a) == hash(b) and a == b


def test_hash_is_stable_across_processes():
    cfg = ExperimentConfig(
        alpha=1.75, sigma=0.003, lr=0.01, dataset_options={"n_train": 100, "z": "x"}
    )
    code = (
        "from htsgd.sweep import ExperimentConfig, cell_hash;"
        "print(cell_hash(ExperimentConfig(alpha=1.75, sigma=0.003, lr=0.01,"
        " dataset_options={'z': 'x', 'n_train': 100})))"
    )
    outs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    assert outs == {sweep.cell_hash(cfg)}


def test_cell_path_validates_digest(tmp_path):
    with pytest.raises(ValueError, match="digest"):
        sweep.cell_path("../etc/passwd", tmp_path)


# ----------------------------------------------------------------------------- the cache


def test_sweep_caches_and_reloads(tmp_path):
    counter = tmp_path / "count.txt"
    cfg = toy_sweep(tmp_path, counter=str(counter))
    first = sweep.run_sweep(
        cfg, cache=tmp_path / "cache", executor="serial", progress=False, results=tmp_path / "r"
    )
    assert executions(counter) == 8 and len(first) == 8
    assert set(first.role) == {"grid"}
    second = sweep.run_sweep(cfg, cache=tmp_path / "cache", executor="serial", progress=False)
    assert executions(counter) == 8  # nothing recomputed
    assert first.equals(second)
    # results.csv: one row per cell, lists (norms) dropped
    import pandas as pd

    csv = pd.read_csv(tmp_path / "r" / "results.csv")
    assert len(csv) == 8 and "prune/mce0.1/pruned_fraction" in csv.columns
    assert not any("neuron_norms" in c for c in csv.columns)
    assert csv["alpha"].isna().sum() == 4
    # Full records keep the norms.
    record = sweep.load_result(first.hash[0], tmp_path / "cache")
    assert len(record["metrics"]["neuron_norms"][0]) == 8
    assert sweep.find_results("r", start=tmp_path) is None
    assert sweep.find_results("toy", start=tmp_path / "a" / "b") is None


def test_recompute_flag(tmp_path):
    counter = tmp_path / "count.txt"
    cfg = toy_sweep(tmp_path, counter=str(counter))
    sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False, recompute=True)
    assert executions(counter) == 16


@pytest.mark.parametrize(
    "damage",
    ["truncate", "not_json", "wrong_hash", "missing_key", "edited_config", "empty"],
)
def test_corrupt_cache_files_are_recomputed(tmp_path, damage):
    counter = tmp_path / "count.txt"
    cfg = toy_sweep(tmp_path, counter=str(counter))
    cache = tmp_path / "cache"
    clean = sweep.run_sweep(cfg, cache=cache, executor="serial", progress=False)
    path = sweep.cell_path(clean.hash[3], cache)
    text = path.read_text()
    record = json.loads(text)
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "not_json":
        path.write_bytes(b"\x00\xff garbage")
    elif damage == "wrong_hash":
        record["hash"] = "0" * 64
        path.write_text(json.dumps(record))
    elif damage == "missing_key":
        del record["metrics"]
        path.write_text(json.dumps(record))
    elif damage == "edited_config":
        record["config"]["seed"] = 99
        path.write_text(json.dumps(record))
    elif damage == "empty":
        path.write_text("")
    with pytest.warns(UserWarning, match="corrupt cache file"):
        again = sweep.run_sweep(cfg, cache=cache, executor="serial", progress=False)
    assert executions(counter) == 9  # exactly the damaged cell ran again
    assert again.drop(columns="seconds").equals(clean.drop(columns="seconds"))
    assert json.loads(path.read_text())["hash"] == clean.hash[3]


def test_no_temporary_files_left(tmp_path):
    sweep.run_sweep(
        toy_sweep(tmp_path),
        cache=tmp_path,
        executor="serial",
        progress=False,
        results=tmp_path / "r",
    )
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_failing_cell_names_the_cell_and_keeps_finished_ones(tmp_path):
    cfg = SweepConfig(
        name="fails",
        runner=TOY,
        base=ExperimentConfig(width=8),
        grid={"dataset_options": [{}, {"fail": True}]},
    )
    with pytest.raises(RuntimeError, match="failed: toy failure"):
        sweep.run_sweep(cfg, cache=tmp_path, executor=cf.ThreadPoolExecutor(1), progress=False)
    assert len(list(tmp_path.rglob("*.json"))) == 1


def test_matched_steps_controls(tmp_path):
    cfg = SweepConfig(
        name="controls",
        runner=TOY,
        base=ExperimentConfig(width=8, sigma=0.1, stop_train_acc=0.9),
        grid={"alpha": ["none", 1.5, 1.75], "seed": [0, 1]},
        matched_steps=(1.5,),
    )
    frame = sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    grid, controls = frame[frame.role == "grid"], frame[frame.role == "matched_steps"]
    assert len(grid) == 6 and len(controls) == 2
    for _, row in controls.iterrows():
        noisy = frame[frame.hash == row.matched_to].iloc[0]
        assert noisy.alpha == 1.5 and noisy.seed == row.seed
        assert np.isnan(row.alpha) and np.isnan(row.stop_train_acc)
        assert row.max_iters == noisy.iterations == row.iterations


# ----------------------------------------------------------------------------- executors


def test_process_pool_matches_serial(tmp_path):
    cfg = toy_sweep(tmp_path)
    serial = sweep.run_sweep(cfg, cache=tmp_path / "a", executor="serial", progress=False)
    local = sweep.run_sweep(cfg, cache=tmp_path / "b", executor="local", workers=2, progress=False)
    assert local.drop(columns="seconds").equals(serial.drop(columns="seconds"))


def test_one_process_pool_serves_several_sweeps(tmp_path):
    """The experiments chapter runs its sweeps through one pool (hs.sweep.process_pool): each sweep's table is
    the serial one, and the pool outlives the sweeps it served."""
    cfg = toy_sweep(tmp_path)
    other = SweepConfig(name="toy-more", runner=cfg.runner, base=cfg.base, grid={**cfg.grid, "seed": (0, 1, 2)})
    with sweep.process_pool(1) as pool:
        shared = [sweep.run_sweep(c, cache=tmp_path / "b", executor=pool, progress=False) for c in (cfg, other)]
        assert not pool._shutdown_thread
    for c, frame in zip((cfg, other), shared, strict=True):
        serial = sweep.run_sweep(c, cache=tmp_path / "a", executor="serial", progress=False)
        assert frame.drop(columns="seconds").equals(serial.drop(columns="seconds"))
    with pytest.raises(ValueError, match="workers"):
        sweep.process_pool(0)


def test_any_executor_instance(tmp_path):
    cfg = toy_sweep(tmp_path)
    with cf.ThreadPoolExecutor(2) as pool:
        frame = sweep.run_sweep(cfg, cache=tmp_path, executor=pool, progress=True)
        assert not pool._shutdown  # a caller's executor is not shut down
    assert len(frame) == 8


@pytest.mark.slow
def test_dask_local_cluster_matches_serial(tmp_path):
    pytest.importorskip("dask.distributed")
    cfg = toy_sweep(tmp_path)
    serial = sweep.run_sweep(cfg, cache=tmp_path / "a", executor="serial", progress=False)
    dask = sweep.run_sweep(cfg, cache=tmp_path / "b", executor="dask", workers=1, progress=False)
    assert dask.drop(columns="seconds").equals(serial.drop(columns="seconds"))


def test_executor_arguments_are_checked(tmp_path):
    cfg = toy_sweep(tmp_path)
    with pytest.raises(ValueError, match="executor"):
        sweep.run_sweep(cfg, cache=tmp_path, executor="slurm")
    with pytest.raises(ValueError, match="workers"):
        sweep.run_sweep(cfg, cache=tmp_path, workers=0)
    with pytest.raises(ValueError, match="scheduler"):
        sweep.run_sweep(cfg, cache=tmp_path, scheduler="tcp://x:1")
    with pytest.raises(TypeError, match="executor"):
        sweep.run_sweep(cfg, cache=tmp_path, executor=3)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HTSGD_CACHE_DIR", str(tmp_path / "env"))
    assert sweep.cache_dir() == tmp_path / "env"
    assert sweep.cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("HTSGD_CACHE_DIR")
    assert sweep.cache_dir().parts[-3:] == ("htsgd", "sweeps") or sweep.cache_dir().name == "sweeps"


# ----------------------------------------------------------------------------- the real cell


def test_run_cell_on_a_tiny_teacher_student(tmp_path):
    cfg = SweepConfig(
        name="tiny",
        base=ExperimentConfig(
            dataset="teacher_student",
            dataset_options={
                "n_train": 256,
                "n_test": 128,
                "input_dim": 10,
                "teacher_width": 4,
                "num_classes": 3,
            },
            width=32,
            lr=0.3,
            batch_size=64,
            max_iters=60,
            eval_every=20,
            sigma=0.03,
            prune_fractions=(0.5,),
        ),
        grid={"alpha": ["none", 1.5]},
    )
    frame = sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    again = sweep.run_sweep(cfg, cache=tmp_path / "other", executor="serial", progress=False)
    assert frame.drop(columns=["seconds", "train_seconds"]).equals(
        again.drop(columns=["seconds", "train_seconds"])
    )  # seeded: identical
    for _, row in frame.iterrows():
        assert row.iterations == 60
        assert 0 <= row["prune/mce0.1/pruned_fraction"] <= 1
        assert row["prune/frac0.5/neuron_fraction"] == pytest.approx(0.5)
        assert 0 <= row["prune/frac0.5/random/test_acc"] <= 1
        record = sweep.load_result(row.hash, tmp_path)
        assert (
            len(record["metrics"]["neuron_norms"]) == 1
            and len(record["metrics"]["neuron_norms"][0]) == 32
        )


def test_summarize(tmp_path):
    cfg = toy_sweep(tmp_path)
    frame = sweep.run_sweep(cfg, cache=tmp_path, executor="serial", progress=False)
    table = sweep.summarize(frame)
    assert list(table.index) == [(8, "none"), (8, 1.5), (16, "none"), (16, 1.5)]
    assert (table.seeds == 2).all()
    row = frame[(frame.width == 16) & (frame.alpha == 1.5)]
    assert table.loc[(16, 1.5), "pruned_fraction"] == pytest.approx(
        row["prune/mce0.1/pruned_fraction"].mean()
    )
    with pytest.raises(ValueError, match="frac0.9"):
        sweep.summarize(frame, criterion="frac0.9")
