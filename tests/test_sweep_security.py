"""A config is data, not code, and nothing a sweep reads or writes can hang, blow up or lie.

Each test reproduces one defect of the second robustness wave (issue 20, items 1-7 and 18) with
the toy runner of ``test_sweep.py`` and fails on the code before the fix. Anything that could
hang when broken (a FIFO, a silent network peer) runs under a time limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import torch
from readonly import deny_writes_under
from test_sweep import executions, toy_sweep

from htsgd import _io, sweep, train
from htsgd.__main__ import main
from htsgd.sweep import Cache, ConfigError, SweepConfig

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
def test_a_fifo_or_dev_zero_in_place_of_a_record_is_damaged_not_a_hang(tmp_path, capsys):
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
    toml = tmp_path / "toy.toml"
    toml.write_text(f'[sweep]\nname = "toy"\nrunner = "{cfg.runner}"\n[grid]\nwidth = [8, 16]\n'
                    'alpha = ["none", 1.5]\nseed = [0, 1]\n[cell]\nmax_iters = 1000\n')
    assert within(60, main, ["sweep", str(toml), "--dry-run", "--cache", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert out.count("pending") == 2 and out.count("cached ") == 6
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


# --------------------------------------------------------------------------- item 1: runner registry

EVIL = """
from pathlib import Path
Path(__file__).with_name("EVIL_RAN").write_text("the config ran code")

def run(config):
    return {"iterations": 1}
"""


@pytest.mark.parametrize("runner", ["evil_runner:run", "builtins:dict", "os:system"])
def test_a_config_cannot_name_code_to_import(tmp_path, monkeypatch, capsys, runner):
    (tmp_path / "evil_runner.py").write_text(EVIL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    toml = tmp_path / "evil.toml"
    toml.write_text(f'[sweep]\nname = "evil"\nrunner = "{runner}"\n')
    for extra in (["--dry-run"], ["--executor", "serial", "--no-progress"]):
        assert main(["sweep", str(toml), "--cache", str(tmp_path / "c"), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert f"runner {runner!r} is not registered" in err and "--allow-runner" in err
    assert not (tmp_path / "EVIL_RAN").exists() and "evil_runner" not in sys.modules
    assert not (tmp_path / "c").exists() and not (tmp_path / "results").exists()
    with pytest.raises(ConfigError, match="not registered"):
        sweep.load_config(toml)


def test_registered_names_keep_the_cache_keys_of_the_packaged_sweeps(monkeypatch):
    # Fingerprints of every packaged sweep's cell hashes, computed before the registry, the
    # sorted prune lists and the canonical grid (schema 3; a later schema bump changes every
    # key on purpose, so the schema is pinned here).
    monkeypatch.setattr(sweep.cache, "SCHEMA_VERSION", 3)
    want = {
        "book-mnist-digits": "caaa93cb55ec62a1",
        "book-mnist-digits-quick": "186e15467dca8b6d",
        "book-mnist1d": "620ef5541c13293d",
        "book-mnist1d-matched": "bb8f800dc08e0207",
        "book-teacher-student": "6d10fd42ef4ce28d",
        "book-teacher-student-seeds": "00da17d9bf262b56",
        "book-teacher-student-seeds-quick": "f1ce0fc6be3e630c",
        "book-teacher-student-widths": "e885c66e88aed154",
        "book-teacher-student-widths-quick": "9c1c405e3c588f02",
        "laptop-mnist": "0bf5a22e7cff7588",
        "paper-cifar10": "e813ed44bbfb9db9",
        "paper-digits": "12a00aa5fb0670a0",
        "paper-digits-alphas": "e84b69e0d88fa954",
        "paper-ecg5000": "f8a3bba3f31984b8",
        "paper-mnist": "5e81da5a65033b92",
    }
    got = {}
    for name in want:
        cfg = sweep.load_config(name)
        assert cfg.runner == sweep.DEFAULT_RUNNER == "htsgd.sweep:run_cell"
        keys = "".join(sweep.cell_hash(c, cfg.runner) for c in cfg.cells())
        got[name] = hashlib.sha256(keys.encode()).hexdigest()[:16]
    assert got == want


ENTRY_MODULE = """
def cell(config):
    return {"iterations": config["max_iters"], "train_acc": 0.5, "seed_seen": config["seed"]}
"""


def test_an_installed_entry_point_registers_a_runner(tmp_path, monkeypatch):
    (tmp_path / "htsgd_entry_demo.py").write_text(ENTRY_MODULE)
    info = tmp_path / "htsgd_entry_demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: htsgd-entry-demo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[htsgd.runners]\ndemo-cells = htsgd_entry_demo:cell\n")
    assert "demo-cells" not in sweep.runner_names()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "demo-cells" in sweep.runner_names()
    cfg = SweepConfig(name="demo", runner="demo-cells", grid={"seed": [0, 1]})
    frame = _run(cfg, tmp_path / "cache")
    assert list(frame["seed_seen"]) == [0, 1]


@pytest.mark.slow
def test_allow_runner_reaches_worker_processes(tmp_path):
    (tmp_path / "pool_cells.py").write_text(ENTRY_MODULE)
    toml = tmp_path / "pool.toml"
    toml.write_text('[sweep]\nname = "pool"\nrunner = "pool_cells:cell"\n[grid]\nseed = [0, 1, 2]\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    base = [sys.executable, "-m", "htsgd", "sweep", str(toml), "--cache", str(tmp_path / "c"),
            "--results", str(tmp_path / "out"), "--no-progress", "--workers", "2"]
    subprocess.run(base + ["--allow-runner", "pool_cells:cell"], env=env, check=True, timeout=120)
    frame, _ = sweep.read_results(tmp_path / "out")
    assert list(frame["seed_seen"]) == [0, 1, 2]


# --------------------------------------------------------------------------- item 6: grid size


def _grid_toml(tmp_path: Path, n: int) -> Path:
    seeds = ", ".join(str(i) for i in range(n))
    widths = ", ".join(str(i + 1) for i in range(n))
    iters = ", ".join(str(i + 1) for i in range(n))
    path = tmp_path / "huge.toml"
    path.write_text(
        f'[sweep]\nname = "huge"\n[grid]\nseed = [{seeds}]\nwidth = [{widths}]\nmax_iters = [{iters}]\n'
    )
    return path


@pytest.mark.slow
def test_a_huge_grid_is_refused_before_its_cells_are_built(tmp_path):
    path = _grid_toml(tmp_path, 1000)  # 1e9 cells in 20 KB
    assert path.stat().st_size < 25_000
    proc = subprocess.run(
        [sys.executable, "-m", "htsgd", "sweep", str(path), "--dry-run", "--cache", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "1,000,000,000 cells" in proc.stderr
    assert "limit of 100,000" in proc.stderr


def test_the_cell_limit_is_documented_overridable_and_above_every_packaged_sweep(
    tmp_path, monkeypatch
):
    largest = max(sweep.load_config(n).n_cells for n in sweep.config_names())
    assert 2 * largest < sweep.MAX_CELLS  # grid cells and at most as many controls
    cfg = sweep.load_config(_grid_toml(tmp_path, 3))
    assert cfg.n_cells == 27
    with pytest.raises(ConfigError, match="27 cells .* limit of 26"):
        cfg.cells(max_cells=26)
    assert len(cfg.cells(max_cells=27)) == 27
    monkeypatch.setenv("HTSGD_MAX_CELLS", "20")
    with pytest.raises(ConfigError, match="limit of 20"):
        cfg.cells()
    with pytest.raises(ConfigError, match="limit of 20"):
        sweep.run_sweep(cfg, cache=tmp_path / "c", executor="serial", progress=False)
    assert main(["sweep", str(tmp_path / "huge.toml"), "--dry-run", "--max-cells", "27"]) == 0


# --------------------------------------------------------------------------- item 18: configs


def test_a_typo_in_dataset_options_fails_at_load_and_dry_run(tmp_path, capsys):
    path = tmp_path / "typo.toml"
    path.write_text('[sweep]\nname = "typo"\n[cell.dataset_options]\nn_trian = 100\n')
    with pytest.raises(ConfigError, match=r"'n_trian' is not an option of the 'teacher_student'.*n_train"):
        sweep.load_config(path)
    assert main(["sweep", str(path), "--dry-run", "--cache", str(tmp_path)]) == 2
    assert "n_trian" in capsys.readouterr().err
    # A grid of option tables is checked too; a valid option passes.
    grid = {"dataset_options": [{"n_train": 100}, {"n_test": 50, "input_dim": 3}]}
    assert SweepConfig(name="ok", grid=grid).n_cells == 2
    with pytest.raises(ConfigError, match="'noise_levle'"):
        SweepConfig(name="bad", grid={"dataset_options": [{"n_train": 100}, {"noise_levle": 1}]})


def test_matched_steps_must_name_an_alpha_of_the_grid():
    grid = {"alpha": ["none", 1.5, 1.75], "sigma": [0.1]}
    assert SweepConfig(name="ok", grid=grid, matched_steps=(1.75,)).matched_steps == (1.75,)
    with pytest.raises(ConfigError, match=r"matched_steps names alpha 1.9, .*1.5, 1.75"):
        SweepConfig(name="bad", grid=grid, matched_steps=(1.9,))
    with pytest.raises(ConfigError, match="alphas: none"):
        SweepConfig(name="plain", matched_steps=(1.5,))


def test_reordered_lists_are_one_cell():
    a = sweep.ExperimentConfig(prune_mce=(0.2, 0.1), prune_fractions=(0.75, 0.5))
    b = sweep.ExperimentConfig(prune_mce=(0.1, 0.2), prune_fractions=(0.5, 0.75))
    assert a == b and sweep.cell_hash(a) == sweep.cell_hash(b)
    with pytest.raises(ConfigError, match="prune_mce repeats"):
        SweepConfig(name="x", grid={"prune_mce": [[0.1, 0.2], [0.2, 0.1]]})


def test_a_read_only_cache_that_holds_every_cell_is_enough(tmp_path, monkeypatch):
    counter = tmp_path / "count.txt"
    cfg = toy_sweep(tmp_path, counter=str(counter))
    want = _run(cfg, tmp_path / "cache")
    assert executions(counter) == 8

    def read_only(self):  # what prepare() reports for a folder it cannot write (EROFS)
        raise sweep.CacheError(f"the sweep cache {self.folder} is not writable (Read-only file system)")

    monkeypatch.setattr(Cache, "prepare", read_only)
    again = _run(cfg, tmp_path / "cache", results=tmp_path / "out")
    assert executions(counter) == 8
    assert list(again.hash) == list(want.hash)
    more = SweepConfig(name="more", runner=cfg.runner, base=cfg.base, grid={**cfg.grid, "seed": (0, 1, 2)})
    with pytest.raises(sweep.CacheError, match="not writable"):
        _run(more, tmp_path / "cache")
    assert executions(counter) == 8  # refused before any cell ran


def test_a_read_only_cache_folder_by_permissions(tmp_path, monkeypatch):
    """A cache folder (and its subfolders) that refuses writes, as one of mode 0o555 does for anyone but root
    (simulated: tests/readonly.py), serves the cells it holds."""
    cfg = toy_sweep(tmp_path)
    want = _run(cfg, tmp_path / "cache")
    with monkeypatch.context() as patch:
        deny_writes_under(patch, tmp_path / "cache")
        with pytest.raises(PermissionError):
            (tmp_path / "cache" / "probe").mkdir()
        assert list(_run(cfg, tmp_path / "cache").hash) == list(want.hash)


# --------------------------------------------------------------------------- item 3: results pair


def test_a_crash_between_the_two_result_files_is_detected_and_repaired(tmp_path, monkeypatch):
    from htsgd.sweep import runner

    small = toy_sweep(tmp_path)
    big = SweepConfig(name="toy", runner=small.runner, base=small.base, grid={**small.grid, "seed": (0, 1, 2)})
    out = tmp_path / "out"
    _run(small, tmp_path / "cache", results=out)
    frame, meta = sweep.read_results(out)
    assert len(frame) == 8 and meta["grid"]["seed"] == [0, 1]

    def killed(path, text):  # the process dies after results.csv, before sweep.json
        raise SystemExit("killed")

    monkeypatch.setattr(runner, "atomic_write_text", killed)
    with pytest.raises(SystemExit):
        _run(big, tmp_path / "cache", results=out)
    monkeypatch.undo()
    assert len(pd.read_csv(out / "results.csv")) == 12  # the new table beside the old config
    with pytest.raises(ValueError, match="interrupted between the two writes"):
        sweep.read_results(out)
    _run(big, tmp_path / "cache", results=out)
    frame, meta = sweep.read_results(out)
    assert len(frame) == 12 and meta["grid"]["seed"] == [0, 1, 2]


WRITER = """
import sys
import pandas as pd
from htsgd.sweep import SweepConfig
from htsgd.sweep.runner import write_results

pairs = [
    (pd.DataFrame({"seed": list(range(n)), "x": [0.5] * n}), SweepConfig(name="p", grid={"seed": list(range(n))}))
    for n in (2, 3)
]
print("ready", flush=True)
i = 0
while True:
    write_results(sys.argv[1], *pairs[i % 2])
    i += 1
"""


@pytest.mark.slow
def test_results_pair_is_consistent_after_sigkill_at_random_instants(tmp_path):
    import random
    import signal
    import time

    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    out = tmp_path / "out"
    rng = random.Random(20)
    outcomes = []
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        try:
            frame, meta = sweep.read_results(out)
        except FileNotFoundError:  # killed before the first pair was complete
            outcomes.append("none yet")
            continue
        except ValueError as err:  # a kill between the two files: refused, never mixed
            assert "interrupted" in str(err)
            named = json.loads((out / "sweep.json").read_text())["results"]["rows"]
            assert len(pd.read_csv(out / "results.csv")) != named  # the pair really differs
            outcomes.append("refused")
            continue
        assert list(frame["seed"]) == meta["grid"]["seed"]
        outcomes.append("consistent")
    sweep.runner.write_results(out, pd.DataFrame({"seed": [0]}), SweepConfig(name="p"))
    assert not list(out.glob(".*.tmp"))


# --------------------------------------------------------------------------- item 2: records


def _edit_and_rerun(tmp_path, edit, *, resign: bool, match: str, cfg=None):
    """Edit one cached record, rerun: the edit is reported, that cell alone recomputed, results as before."""
    counter = tmp_path / "count.txt"
    cfg = cfg or toy_sweep(tmp_path, counter=str(counter))
    first = _run(cfg, tmp_path / "cache")
    ran = executions(counter)
    path = sweep.cell_path(first.hash[1], tmp_path / "cache")
    record = json.loads(path.read_text())
    edit(record)
    if resign and "checksum" in record:  # a deliberate edit that also recomputes the checksum
        try:
            record["checksum"] = sweep.cache.record_checksum(record)
        except ValueError:  # NaN and infinities have no canonical JSON, hence no checksum
            pass
    path.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match=match):
        again = _run(cfg, tmp_path / "cache")
    assert executions(counter) == ran + 1
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), first.drop(columns="seconds"))
    return again


@pytest.mark.parametrize(
    ("key", "value"),
    [("train_acc", 0.999999), ("iterations", 3), ("neuron_norms", [[1.0]])],
)
def test_an_edited_record_fails_its_checksum_and_is_recomputed(tmp_path, key, value):
    # Plausible values, within every declared range: only the checksum tells the edit.
    def edit(record):
        record["metrics"][key] = value

    _edit_and_rerun(tmp_path, edit, resign=False, match="checksum does not match")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda r: r["metrics"].update(train_acc=1e308), r"train_acc = 1e\+308 is outside \[0.0, 1.0\]"),
        (lambda r: r["metrics"].update(train_acc=float("nan")), "train_acc is nan"),
        (lambda r: r["metrics"].update(iterations=10**12), r"iterations = 1000000000000 is outside \[0, 1000\]"),
        (lambda r: r["metrics"].update(iterations=True), "iterations is not an integer"),
        (lambda r: r["metrics"]["neuron_norms"][0].__setitem__(0, -1.0), r"neuron_norms\[0\]\[0\] = -1.0"),
        (lambda r: r["metrics"]["prune"]["mce0.1"].update(pruned_fraction="half"), "pruned_fraction is not a number"),
        (lambda r: r["metrics"].update(extra=float("inf")), "metrics.extra is inf"),
        (lambda r: r.pop("checksum"), r"missing keys \['checksum'\]"),
    ],
)
def test_a_record_out_of_its_declared_ranges_is_recomputed(tmp_path, edit, words):
    _edit_and_rerun(tmp_path, edit, resign=True, match=words)


def test_a_forged_iteration_count_cannot_make_a_control_train_for_ever(tmp_path):
    counter = tmp_path / "count.txt"
    cfg = SweepConfig(
        name="controls",
        runner=toy_sweep(tmp_path).runner,
        base=sweep.ExperimentConfig(width=8, sigma=0.1, stop_train_acc=0.9, dataset_options={"counter": str(counter)}),
        grid={"alpha": ["none", 1.5]},
        matched_steps=(1.5,),
    )
    first = _run(cfg, tmp_path / "cache")
    noisy = first[first.alpha == 1.5].hash.iloc[0]
    path = sweep.cell_path(noisy, tmp_path / "cache")
    record = json.loads(path.read_text())
    record["metrics"]["iterations"] = 10**12
    record["checksum"] = sweep.cache.record_checksum(record)
    path.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="outside"):
        again = _run(cfg, tmp_path / "cache")
    assert again["max_iters"].max() == first["max_iters"].max() <= 10_000


def test_declared_metrics_extend_the_check_and_bad_runner_output_fails_its_cell(tmp_path, monkeypatch):
    from htsgd.sweep import metrics

    # A new declaration applies wherever the name appears (here inside every prune entry).
    monkeypatch.setitem(metrics.METRICS, "pruned_fraction", metrics.Metric("int", 0, 0))
    with pytest.raises(RuntimeError, match=r"invalid metrics: metrics.prune.mce0.1.pruned_fraction"):
        _run(toy_sweep(tmp_path), tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.json"))  # nothing invalid was cached
    monkeypatch.undo()
    _run(toy_sweep(tmp_path), tmp_path / "cache")
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 8
    # Narrowed later: the cached records no longer pass, and neither does the runner's output.
    monkeypatch.setitem(metrics.METRICS, "train_acc", metrics.Metric("real", 0.0, 0.01))
    with pytest.warns(UserWarning, match="train_acc = .* is outside"):
        with pytest.raises(RuntimeError, match="invalid metrics"):
            _run(toy_sweep(tmp_path), tmp_path / "cache")
    with pytest.raises(TypeError, match="Metric"):
        metrics.declare_metric("x", (0, 1))


# --------------------------------------------------------------------------- item 7: Dask peers


class _Peer:
    """A local TCP server in a thread that is not a Dask scheduler: silent, or answering HTTP 400."""

    def __init__(self, reply: bytes | None) -> None:
        import socket

        self.reply, self.conns = reply, []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:  # closed
                return
            self.conns.append(conn)  # kept open, so a silent peer stays silent
            if self.reply is not None:
                conn.sendall(self.reply)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.server.close()


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (None, "within 5 s (no Dask handshake: TimeoutError)"),
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "is not a Dask scheduler"),
    ],
)
def test_a_peer_that_is_not_a_dask_scheduler_exits_2_with_one_line(tmp_path, capsys, reply, words):
    pytest.importorskip("dask.distributed")  # an optional extra (requirements.txt installs it)
    peer = _Peer(reply)
    counter = tmp_path / "count.txt"
    toml = tmp_path / "toy.toml"
    toml.write_text(
        f'[sweep]\nname = "toy"\nrunner = "{toy_sweep(tmp_path).runner}"\n'
        f'[cell.dataset_options]\ncounter = "{counter}"\n[grid]\nseed = [0, 1]\n'
    )
    args = ["sweep", str(toml), "--executor", "dask", "--scheduler", peer.address,
            "--cache", str(tmp_path / "c"), "--results", str(tmp_path / "out"), "--no-progress"]
    try:
        code = within(60, main, args)
    finally:
        peer.close()
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err
    assert executions(counter) == 0


def test_a_real_scheduler_passes_the_probe(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", dashboard_address=None
    ) as cluster:
        frame = within(
            120,
            sweep.run_sweep,
            toy_sweep(tmp_path),
            cache=tmp_path / "c",
            executor="dask",
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert len(frame) == 8
