"""A config is data, not code, and nothing a sweep reads or writes can hang, blow up or lie.

Each test reproduces one defect of the second robustness wave (issue 20, items 1-7 and 18) with
the toy runner of ``test_sweep.py`` and fails on the code before the fix. Anything that could
hang when broken (a FIFO, a silent network peer) runs under a time limit.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
import torch
from test_sweep import toy_sweep

from htsgd import _io, sweep, train
from htsgd.sweep import Cache, ConfigError

# --------------------------------------------------------------------------- helpers


def within(seconds: float, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a daemon thread: its result, its exception, or a failure on a hang."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s (hangs)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _run(cfg, cache, **kw):
    return sweep.run_sweep(cfg, cache=cache, executor="serial", progress=False, **kw)


@pytest.fixture
def umask():
    """Set the process umask for one test, and restore it."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- item 4: umask


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask(tmp_path, umask, mask):
    umask(mask)
    expected = 0o666 & ~mask
    _io.atomic_write_bytes(tmp_path / "plain.bin", b"x")
    assert _mode(tmp_path / "plain.bin") == expected
    frame = _run(toy_sweep(tmp_path), tmp_path / "cache", results=tmp_path / "out")
    assert _mode(tmp_path / "out" / "results.csv") == expected
    assert _mode(tmp_path / "out" / "sweep.json") == expected
    assert _mode(sweep.cell_path(frame.hash[0], tmp_path / "cache")) == expected
    result = train.TrainResult(
        history=train.History(), iterations=1, stopped_by="max_iters", diverged_at=None, seconds=0.0
    )
    saved = train.save_result(tmp_path / "run.json", result, torch.nn.Linear(2, 2))
    assert _mode(saved) == expected and _mode(saved.with_suffix(".pt")) == expected


# --------------------------------------------------------------------------- item 5: special files


def test_read_regular_refuses_what_is_not_a_small_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        within(20, _io.read_regular, fifo, limit=10)
    with pytest.raises(ValueError, match="character device"):
        within(20, _io.read_regular, "/dev/zero", limit=10)
    with pytest.raises(ValueError, match="folder"):
        within(20, _io.read_regular, tmp_path, limit=10)
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(ValueError, match="larger than the limit of 10 bytes"):
        _io.read_regular(tmp_path / "big", limit=10)
    assert _io.read_regular(tmp_path / "big", limit=11) == b"x" * 11
    with pytest.raises(FileNotFoundError):
        _io.read_regular(tmp_path / "absent", limit=10)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_dev_zero_in_place_of_a_record_is_damaged_not_a_hang(tmp_path):
    cfg = toy_sweep(tmp_path)
    frame = _run(cfg, tmp_path / "cache")
    fifo_cell, zero_cell = frame.hash[0], frame.hash[1]
    path = sweep.cell_path(fifo_cell, tmp_path / "cache")
    path.unlink()
    os.mkfifo(path)
    zero = sweep.cell_path(zero_cell, tmp_path / "cache")
    zero.unlink()
    zero.symlink_to("/dev/zero")
    assert not within(20, Cache(tmp_path / "cache").__contains__, fifo_cell)
    with pytest.raises(ValueError, match="FIFO"):
        within(20, sweep.load_result, fifo_cell, tmp_path / "cache")
    with pytest.raises(ValueError, match="character device"):
        within(20, sweep.load_result, zero_cell, tmp_path / "cache")
    with pytest.warns(UserWarning, match="FIFO"):
        again = within(60, _run, cfg, tmp_path / "cache")
    assert list(again.hash) == list(frame.hash)
    assert sweep.load_result(fifo_cell, tmp_path / "cache")["hash"] == fifo_cell


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_config_that_is_a_fifo_or_dev_zero_or_huge_is_refused(tmp_path):
    fifo = tmp_path / "sweep.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="FIFO"):
        within(20, sweep.load_config, fifo)
    with pytest.raises(ConfigError, match="character device"):
        within(20, sweep.load_config, "/dev/zero")
    huge = tmp_path / "huge.toml"
    huge.write_text('[sweep]\nname = "x"\n' + "#" * (2 * 2**20) + "\n")
    with pytest.raises(ConfigError, match="larger than the limit"):
        sweep.load_config(huge)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_load_result_of_training_refuses_special_files(tmp_path):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        within(20, train.load_result, fifo)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ValueError, match="folder"):
        within(20, train.load_result, tmp_path / "dir.json")


# --------------------------------------------------------------------------- saved training results


def _saved(tmp_path: Path) -> Path:
    result = train.TrainResult(
        history=train.History(), iterations=1, stopped_by="max_iters", diverged_at=None, seconds=0.0
    )
    return train.save_result(tmp_path / "run.json", result, torch.nn.Linear(2, 2))


@pytest.mark.parametrize("payload", [[1, 2], {"model": [1.0]}, {"weights": {}}, torch.zeros(2)])
def test_load_result_refuses_a_weights_payload_that_is_not_a_dict_of_state_dicts(tmp_path, payload):
    path = _saved(tmp_path)
    pt = path.with_suffix(".pt")
    torch.save(payload, pt)
    record = json.loads(path.read_text())
    data = pt.read_bytes()
    import hashlib

    record["weights"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="not a weights file of save_result|must be a state dict"):
        train.load_result(path)


def test_save_result_removes_temporaries_of_killed_saves(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    pid = int(dead.stdout)
    host = _io._host()
    orphans = [tmp_path / f".run.json.{host}.{pid}.ab12cd34.tmp", tmp_path / f".run.pt.{host}.{pid}.x.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"half")
    path = _saved(tmp_path)
    assert not any(o.exists() for o in orphans)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "run.pt"]
    assert train.load_result(path).iterations == 1
