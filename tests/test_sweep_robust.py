"""Tests of htsgd.sweep's edges: configs by name, rejected configs, a damaged or unusable cache,
temporary files left by SIGKILL, the result-table helpers (select, neuron_norms), CPU sizing.

Each damaged-cache case was a bug report (issue 12, item 8): the test reproduces it with the toy
runner of ``test_sweep.py`` and checks that the sweep recovers (recomputes exactly the damaged
cell, saying which) or fails before computing anything, naming the path.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from readonly import deny_writes_under
from test_sweep import executions, toy_sweep

from htsgd import sweep
from htsgd._io import remove_stale_temporaries
from htsgd.sweep import Cache, CacheError, ConfigError, ExperimentConfig, SweepConfig
from htsgd.sweep.executors import _cgroup_quota, available_cpus, check_scheduler

# ----------------------------------------------------------------------------- configs by name


def test_packaged_configs_by_name():
    names = sweep.config_names()
    assert "book-teacher-student" in names and "paper-mnist" in names
    for name in names:
        assert sweep.load_config(name).name == name
        assert sweep.load_config(f"{name}.toml").name == name
        assert sweep.config_path(name).is_file()
    with pytest.raises(FileNotFoundError, match="book-teacher-student"):
        sweep.load_config("no-such-sweep")  # the message lists the packaged ones
    with pytest.raises(FileNotFoundError, match="no such config file"):
        sweep.load_config(Path("book-teacher-student"))  # a Path is always a path


def test_a_file_in_the_working_folder_wins_over_a_packaged_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paper-mnist").write_text('[sweep]\nname = "mine"\n')
    assert sweep.load_config("paper-mnist").name == "mine"


# ----------------------------------------------------------------------------- rejected configs


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('sweep = 5\n', ["[sweep]", "must be a table", "5"]),
        ('controls = 3\n[sweep]\nname = "x"\n', ["[controls]", "must be a table"]),
        ('grid = [1]\n[sweep]\nname = "x"\n', ["[grid]", "must be a table"]),
        ('[sweep]\nname = "x"\n[cell]\nsigma = inf\n', ["sigma", "inf"]),
        ('[sweep]\nname = "x"\n[cell]\nlr = inf\n', ["lr", "inf"]),
        ('[sweep]\nname = "x"\n[grid]\nseed = [0, 0]\n', ["[grid]", "seed", "repeats", "0"]),
        ('[sweep]\nname = "x"\n[grid]\nlr = [1, 1.0]\n', ["[grid]", "lr", "repeats"]),
        ('[sweep]\nname = "x"\n[grid]\nalpha = ["none", "None"]\n', ["alpha", "repeats"]),
        ('[sweep]\nname = ".."\n', ["name", "'..'"]),
        ('[sweep]\nname = ".hidden"\n', ["name"]),
        ('[sweep]\nname = "a/b"\n', ["name"]),
    ],
)
def test_bad_configs_fail_at_load_naming_the_table(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        sweep.load_config(path)
    for word in [str(path), *words]:
        assert word in str(info.value), info.value


def test_config_that_is_a_folder_or_not_utf8(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        sweep.load_config(tmp_path)
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[sweep]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        sweep.load_config(path)


def test_duplicate_grid_values_are_not_counted_twice():
    with pytest.raises(ConfigError, match="repeats"):
        SweepConfig(name="d", grid={"seed": [0, 0]})
    ok = SweepConfig(name="d", grid={"seed": [0, 1]})
    assert len(ok.cells()) == 2


# ----------------------------------------------------------------------------- a damaged cache


def _run(cfg, cache, **kw):
    return sweep.run_sweep(cfg, cache=cache, executor="serial", progress=False, **kw)


def _damage_then_rerun(tmp_path, damage):
    counter = tmp_path / "count.txt"
    cfg = toy_sweep(tmp_path, counter=str(counter))
    cache = tmp_path / "cache"
    clean = _run(cfg, cache)
    path = sweep.cell_path(clean.hash[3], cache)
    damage(path)
    with pytest.warns(UserWarning, match="corrupt cache file") as caught:
        again = _run(cfg, cache)
    assert any(str(path) in str(w.message) for w in caught)
    assert executions(counter) == 9  # exactly the damaged cell ran again
    assert again.drop(columns="seconds").equals(clean.drop(columns="seconds"))
    assert json.loads(path.read_text())["hash"] == clean.hash[3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the record is whole again: no warning, nothing recomputed
        _run(cfg, cache)
    assert executions(counter) == 9
    return path


def test_a_folder_where_a_record_should_be_is_replaced(tmp_path):
    def to_folder(path: Path) -> None:
        path.unlink()
        (path / "inner").mkdir(parents=True)
        (path / "inner" / "x").write_text("x")

    _damage_then_rerun(tmp_path, to_folder)


def test_deeply_nested_record_is_corrupt_not_a_recursion_error(tmp_path):
    _damage_then_rerun(tmp_path, lambda p: p.write_text("[" * 100_000 + "]" * 100_000))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("config", [1, 2]),
        ("metrics", [1]),
        ("seconds", "slow"),
        ("schema", "2"),
        ("schema", 1),
        ("runner", 5),
        ("hash", None),
        ("htsgd_version", 0.1),
    ],
)
def test_wrongly_typed_record_is_recomputed_once(tmp_path, key, value):
    def retype(path: Path) -> None:
        record = json.loads(path.read_text())
        record[key] = value
        path.write_text(json.dumps(record))

    _damage_then_rerun(tmp_path, retype)


def test_load_result_absent_or_damaged(tmp_path):
    cfg = toy_sweep(tmp_path)
    frame = _run(cfg, tmp_path)
    digest = frame.hash[0]
    assert sweep.load_result(digest, tmp_path)["hash"] == digest
    path = sweep.cell_path(digest, tmp_path)
    record = json.loads(path.read_text())
    del record["metrics"]
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"damaged: missing keys \['metrics'\]") as info:
        sweep.load_result(digest, tmp_path)
    assert str(path) in str(info.value)
    with pytest.raises(KeyError, match="no cached result"):
        sweep.load_result("0" * 64, tmp_path)
    assert digest not in Cache(tmp_path) and frame.hash[1] in Cache(tmp_path)


def test_unusable_cache_or_results_fail_before_any_cell_runs(tmp_path):
    counter = tmp_path / "count.txt"
    cfg = toy_sweep(tmp_path, counter=str(counter))
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(CacheError, match=str(a_file)):
        _run(cfg, a_file)
    with pytest.raises(CacheError, match=str(a_file)):
        _run(cfg, a_file / "below")
    with pytest.raises(NotADirectoryError, match=str(a_file)):
        _run(cfg, tmp_path / "cache", results=a_file)
    assert executions(counter) == 0


def test_unwritable_cache_fails_before_any_cell_runs(tmp_path, monkeypatch):
    counter = tmp_path / "count.txt"
    locked = tmp_path / "locked"
    locked.mkdir()
    cfg = toy_sweep(tmp_path, counter=str(counter))
    with monkeypatch.context() as patch:
        deny_writes_under(patch, locked)
        with pytest.raises(PermissionError):  # the simulation holds for both ways of writing
            (locked / "probe").write_bytes(b"")
        with pytest.raises(PermissionError):
            os.open(locked / "probe", os.O_WRONLY | os.O_CREAT)
        with pytest.raises(CacheError, match="not writable"):
            _run(cfg, locked)
    assert executions(counter) == 0
    assert list(locked.iterdir()) == []


# ----------------------------------------------------------------------------- temporary files


def test_stale_temporaries_are_removed_live_ones_kept(tmp_path):
    sub = tmp_path / "ab"
    sub.mkdir()
    host = __import__("socket").gethostname().replace(".", "-")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = sub / f".x.json.{host}.{dead}.abc123.tmp"
    live = sub / f".y.json.{host}.{os.getpid()}.abc123.tmp"
    foreign_old = sub / ".z.json.otherhost.1.abc123.tmp"
    foreign_new = sub / ".w.json.otherhost.1.abc124.tmp"
    for p in (stale, live, foreign_old, foreign_new):
        p.write_text("partial")
    os.utime(foreign_old, (time.time() - 7200, time.time() - 7200))
    unrelated = sub / "notes.tmp"
    unrelated.write_text("mine")
    assert remove_stale_temporaries(tmp_path, depth=1) == 2
    assert not stale.exists() and not foreign_old.exists()
    assert live.exists() and foreign_new.exists() and unrelated.exists()


_WRITER = """
import sys
from pathlib import Path
from htsgd._io import atomic_write_text
folder, text = Path(sys.argv[1]), "x" * 2_000_000
i = 0
while True:
    i += 1
    atomic_write_text(folder / "ab" / f"cell{i % 7}.json", text)
    if i == 1:
        print("writing", flush=True)  # this process is now in its write loop
"""


@pytest.mark.slow
def test_temporaries_left_by_sigkill_are_cleaned_when_the_cache_is_opened(tmp_path):
    """A writer of 2 MB records is killed at random instants, 10 times: it leaves temporary files
    behind (150 such kills left 32 files, 16 MB, before the cleanup existed); preparing the cache
    for a sweep removes every one of them."""
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    cache = tmp_path / "cache"
    (cache / "ab").mkdir(parents=True)
    rng = random.Random(1)
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, str(script), str(cache)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "writing\n", "the writer did not start"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    left = len(list(cache.rglob("*.tmp")))
    print(f"{left} temporary files left by 10 kills")
    Cache(cache).prepare()
    assert list(cache.rglob("*.tmp")) == []
    assert all(p.stat().st_size == 2_000_000 for p in (cache / "ab").glob("*.json"))


# ----------------------------------------------------------------------------- table helpers


def test_select():
    frame = pd.DataFrame(
        {"width": [128, 512, 128, 2048], "alpha": [np.nan, 1.5, 1.75, 1.5], "seed": [0, 0, 1, 1]}
    )
    assert sweep.select(frame, width=128).index.tolist() == [0, 2]
    assert sweep.select(frame, alpha=[1.5, 1.75]).index.tolist() == [1, 2, 3]
    assert sweep.select(frame, alpha=None).index.tolist() == [0]
    assert sweep.select(frame, alpha=[None, 1.75], seed=1).index.tolist() == [2]
    assert sweep.select(frame, width=(7,)).empty
    assert sweep.select(frame).equals(frame)
    with pytest.raises(KeyError, match="no column 'widht'.*width, alpha, seed"):
        sweep.select(frame, widht=128)
    with pytest.raises(TypeError, match="DataFrame"):
        sweep.select([1, 2], width=1)


def test_neuron_norms_from_hash_or_record(tmp_path):
    frame = _run(toy_sweep(tmp_path), tmp_path)
    digest = frame.hash[2]
    record = sweep.load_result(digest, tmp_path)
    norms = sweep.neuron_norms(digest, tmp_path)
    assert isinstance(norms, np.ndarray) and norms.dtype == np.float64
    assert norms.shape == (record["config"]["width"],)
    np.testing.assert_array_equal(norms, sweep.neuron_norms(record))
    np.testing.assert_array_equal(norms, record["metrics"]["neuron_norms"][0])
    with pytest.raises(IndexError, match="layer"):
        sweep.neuron_norms(record, layer=1)
    no_norms = {**record, "metrics": {"iterations": 1}}
    with pytest.raises(KeyError, match="no neuron norms"):
        sweep.neuron_norms(no_norms)
    with pytest.raises(KeyError, match="no cached result"):
        sweep.neuron_norms("f" * 64, tmp_path)


# ----------------------------------------------------------------------------- executors


def test_available_cpus_respects_affinity():
    n = available_cpus()
    assert 1 <= n <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({}, None),
    ],
)
def test_cgroup_quota(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _cgroup_quota(tmp_path) == expected


@pytest.mark.parametrize("address", ["tcp://10.0.0.1:8786", "localhost:8786", "tls://[::1]:8786"])
def test_scheduler_addresses_accepted(address):
    assert check_scheduler(address) == address


@pytest.mark.parametrize("address", ["", "host", "tcp://host", "host:0", "host:99999", "a b:1",
                                     "http//x:1", "foo://x:1"])
def test_malformed_scheduler_addresses_rejected(address):
    with pytest.raises(ValueError, match="scheduler"):
        check_scheduler(address)


def test_run_sweep_checks_the_scheduler_before_anything(tmp_path):
    with pytest.raises(ValueError, match="scheduler"):
        sweep.run_sweep(toy_sweep(tmp_path), cache=tmp_path, executor="dask", scheduler="nowhere")


def test_experiment_config_field_values_come_from_the_modules():
    import htsgd as hs

    assert set(sweep.NOISE_TYPES) == set(hs.optim.NOISE_TYPES)
    assert set(sweep.DATASETS) <= set(hs.data.names())
    assert ExperimentConfig(dataset="digits").dataset == "digits"


def test_control_of_a_record_with_a_bad_iteration_count_recomputes_it_once(tmp_path):
    counter = tmp_path / "count.txt"
    cfg = SweepConfig(
        name="controls",
        runner="test_sweep:toy_cell",
        base=ExperimentConfig(width=8, sigma=0.1, stop_train_acc=0.9,
                              dataset_options={"counter": str(counter)}),
        grid={"alpha": ["none", 1.5]},
        matched_steps=(1.5,),
    )
    first = _run(cfg, tmp_path)
    noisy = first[first.alpha == 1.5].hash.iloc[0]
    path = sweep.cell_path(noisy, tmp_path)
    record = json.loads(path.read_text())
    record["metrics"]["iterations"] = "many"
    record["checksum"] = sweep.cache.record_checksum(record)  # past the checksum: the type check
    path.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="iterations is not an integer: 'many'"):
        again = _run(cfg, tmp_path)
    assert executions(counter) == 4  # 2 grid + 1 control, then the damaged cell once
    assert again.drop(columns="seconds").equals(first.drop(columns="seconds"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(cfg, tmp_path)
    assert executions(counter) == 4
