"""Tests of batched sweeps (``run_sweep(batch=E)``, ``--batch E``): one record per cell, the same
results whatever the grouping and the executor, and a kill at any instant resumes to them."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from htsgd import sweep
from htsgd.__main__ import main
from htsgd.sweep import runner
from htsgd.sweep.cell import batch_key

TOML = """
[sweep]
name = "tiny-batched"
[cell]
dataset = "teacher_student"
dataset_options = {n_train = 300, n_test = 100, input_dim = 10, teacher_width = 6, num_classes = 3}
data_seed = 0
width = 16
lr = 0.2
sigma = 0.05
batch_size = 32
max_iters = 120
stop_train_acc = 0.8
eval_every = 20
prune_mce = [0.1]
device = "cpu"
[grid]
alpha = ["none", 2.0, 1.5]
seed = [0, 1, 2]
[controls]
matched_steps = [1.5]
"""


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "tiny-batched.toml"
    path.write_text(textwrap.dedent(TOML))
    return path


def _table(frame):
    return frame.drop(columns=[c for c in frame.columns if "seconds" in c])


@pytest.fixture()
def reference(config, tmp_path):
    """Every cell in a batch of its own, in this process."""
    return sweep.run_sweep(config, cache=tmp_path / "ref", results=tmp_path / "ref-results", executor="serial",
                           progress=False, batch=1)


def test_one_record_per_cell_under_the_batched_key_and_the_same_results_whatever_the_grouping(
        config, reference, tmp_path):
    grouped = sweep.run_sweep(config, cache=tmp_path / "c", executor="serial", progress=False, batch=4)
    assert _table(grouped).equals(_table(reference))
    cfg = sweep.load_config(config)
    cells = cfg.cells()
    assert len({batch_key(c) for c in cells}) == 1
    cache = sweep.Cache(tmp_path / "c")
    for cell, digest in zip(cells, grouped.hash[: len(cells)], strict=True):
        assert digest == sweep.cell_hash(cell, runner.BATCHED_RUNNER)
        assert cache.get(digest)["runner"] == runner.BATCHED_RUNNER
    assert len(list((tmp_path / "c").rglob("*.json"))) == len(grouped)  # controls included
    # A lone sweep keys its cells apart: batched and lone products may round differently.
    assert not set(grouped.hash) & {sweep.cell_hash(c, cfg.runner) for c in cells}


def test_a_failed_batch_keeps_the_finished_ones_and_the_rerun_gives_the_uninterrupted_result(
        config, reference, tmp_path, monkeypatch):
    calls = []
    original = runner.run_cells

    def flaky(configs):
        calls.append(len(configs))
        if len(calls) == 2:
            raise RuntimeError("killed")
        return original(configs)

    monkeypatch.setattr(runner, "run_cells", flaky)
    with pytest.raises(RuntimeError, match=r"and 2 more cells of its batch failed: killed"):
        sweep.run_sweep(config, cache=tmp_path / "c", executor="serial", progress=False, batch=3)
    assert len(list((tmp_path / "c").rglob("*.json"))) == 3  # the first batch's cells, one record each
    monkeypatch.setattr(runner, "run_cells", original)
    resumed = sweep.run_sweep(config, cache=tmp_path / "c", executor="serial", progress=False, batch=5)
    assert _table(resumed).equals(_table(reference))


def test_bad_batch_arguments_are_refused(config, tmp_path, capsys):
    with pytest.raises(ValueError, match="batch"):
        sweep.run_sweep(config, cache=tmp_path, executor="serial", progress=False, batch=0)
    assert main(["sweep", str(config), "--batch", "0", "--cache", str(tmp_path)]) == 2
    assert "--batch must be at least 1" in capsys.readouterr().err


def test_batch_needs_the_packages_runner(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(TOML.replace('name = "tiny-batched"', 'name = "toy"\nrunner = "toy_cells:cell"'))
    sweep.register_runner("toy_cells:cell", lambda c: {"iterations": 1})
    with pytest.raises(ValueError, match="batch needs the package's runner"):
        sweep.run_sweep(path, cache=tmp_path, executor="serial", progress=False, batch=2)


@pytest.mark.slow
def test_dask_runs_batches_to_the_same_results(config, reference, tmp_path):
    """(Process workers: the SIGKILL test below runs them with --workers 2.)"""
    pytest.importorskip("dask.distributed")
    dask = sweep.run_sweep(config, cache=tmp_path / "d", executor="dask", workers=1, progress=False, batch=2)
    assert _table(dask).equals(_table(reference))


@pytest.mark.slow
def test_sigkill_at_random_instants_then_resume_with_another_grouping(config, reference, tmp_path):
    """The CLI with two workers and batches of 2 is killed (process group, SIGKILL) at random
    instants, up to three times; a resume with batches of 5 gives the uninterrupted batch-1 table
    (a member's result does not depend on its batch, so regrouping changes nothing).

    The instants are drawn in units of progress, not seconds: each kill waits for a random number of
    cached records (fewer than all), then a random fraction of a second more, so it lands mid-run on
    a fast machine and a slow one alike. The first kill comes before half the records exist."""
    cache, results = tmp_path / "cache", tmp_path / "results"
    base = [sys.executable, "-m", "htsgd", "sweep", str(config), "--cache", str(cache), "--no-progress"]
    total = len(reference)  # one record per row, controls included

    def records() -> int:
        return len(list(cache.rglob("*.json"))) if cache.exists() else 0

    rng = random.Random(0)
    killed = 0
    for round_ in range(3):
        done = records()
        if done >= total:
            break
        target = rng.randint(done, total // 2 - 1 if round_ == 0 else total - 1)
        proc = subprocess.Popen(base + ["--workers", "2", "--batch", "2", "--results", str(results)],
                                start_new_session=True)
        deadline = time.monotonic() + 240
        while records() < target and proc.poll() is None:
            assert time.monotonic() < deadline, f"fewer than {target} records after 240 s"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)  # a kill after the last record lands while the results are written: fine
    assert killed >= 1, "every run finished before its kill: the test killed nothing"
    subprocess.run(base + ["--workers", "1", "--batch", "5", "--results", str(results)], check=True, timeout=300)
    got, _ = sweep.read_results(results)
    want, _ = sweep.read_results(tmp_path / "ref-results")
    pd.testing.assert_frame_equal(_table(got), _table(want))
