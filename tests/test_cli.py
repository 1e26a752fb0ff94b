"""Tests of the command line ``python -m htsgd``: arguments, exit codes, and SIGKILL resume.

The sweeps here use a toy runner module written to a temporary folder (deterministic
metrics, a configurable sleep, one line per execution in ``$TOY_COUNTER``), so the
tests exercise the machinery without training a network.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from htsgd.__main__ import main

TOY_MODULE = """
import json, os, time

def cell(config):
    counter = os.environ.get("TOY_COUNTER")
    if counter:
        with open(counter, "a") as f:
            f.write(json.dumps([config["width"], config["seed"]]) + "\\n")
    time.sleep(config["dataset_options"].get("sleep", 0))
    x = (config["width"] * 7919 + config["seed"] * 104729) % 1000 / 1000
    return {"iterations": config["max_iters"], "train_acc": x, "prune": {"mce0.1": {"pruned_fraction": x / 2}}}
"""


# A config names its runner; the command line registers it (a config cannot import code).
ALLOW = ["--allow-runner", "toy_cells:cell"]


def toy_config(folder: Path, sleep: float = 0.0, name: str = "toy-cli") -> Path:
    (folder / "toy_cells.py").write_text(TOY_MODULE)
    path = folder / f"{name}.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [sweep]
            name = "{name}"
            runner = "toy_cells:cell"

            [cell]
            max_iters = 10
            [cell.dataset_options]
            sleep = {sleep}

            [grid]
            width = [8, 16]
            seed = [0, 1, 2, 3]
            """
        )
    )
    return path


def cli_env(folder: Path, counter: Path) -> dict[str, str]:
    path = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "TOY_COUNTER": str(counter)}


def cached_files(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in cache.rglob("*.json")}


def executions(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    config = toy_config(tmp_path, sleep=0.5)
    counter = tmp_path / "count.txt"
    env = cli_env(tmp_path, counter)
    base = [sys.executable, "-m", "htsgd", "sweep", str(config), "--workers", "1", "--no-progress", *ALLOW]

    # The reference: one uninterrupted run in its own cache.
    ref = tmp_path / "ref"
    subprocess.run(
        base + ["--cache", str(ref / "cache"), "--results", str(ref)],
        env=env,
        check=True,
        timeout=120,
    )
    assert executions(counter) == 8
    counter.unlink()

    # The same sweep, killed with SIGKILL (the whole process group: the CLI and its
    # worker) once three cells are cached.
    cache, results = tmp_path / "cache", tmp_path / "results"
    proc = subprocess.Popen(
        base + ["--cache", str(cache), "--results", str(results)], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while len(cached_files(cache)) < 3:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no cell finished in 90 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = cached_files(cache)
    assert 3 <= len(before) < 8
    assert not (results / "results.csv").exists()
    ran_before = executions(counter)

    # Resume: only the missing cells run; finished ones are not rewritten.
    subprocess.run(
        base + ["--cache", str(cache), "--results", str(results)], env=env, check=True, timeout=120
    )
    after = cached_files(cache)
    assert len(after) == 8
    assert all(after[name] == mtime for name, mtime in before.items())
    resumed = executions(counter) - ran_before
    assert resumed == 8 - len(before)
    # At most one cell was cut short by the kill (one worker).
    assert ran_before <= len(before) + 1

    got = pd.read_csv(results / "results.csv").drop(columns="seconds")
    want = pd.read_csv(ref / "results.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(got, want)
    # Every cached record is complete, valid JSON.
    for path in cache.rglob("*.json"):
        assert json.loads(path.read_text())["hash"] == path.stem


def test_sweep_in_process_and_rerun_is_cached(tmp_path, monkeypatch, capsys):
    config = toy_config(tmp_path)
    counter = tmp_path / "count.txt"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TOY_COUNTER", str(counter))
    monkeypatch.chdir(tmp_path)
    args = [
        "sweep",
        str(config),
        "--executor",
        "serial",
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
        *ALLOW,
    ]
    assert main(args) == 0
    csv = tmp_path / "results" / "toy-cli" / "results.csv"  # the default results folder
    assert len(pd.read_csv(csv)) == 8
    assert "8 cells" in capsys.readouterr().out
    assert main(args) == 0
    assert executions(counter) == 8
    assert main(args + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("cached ") == 8 and "pending" not in out


def test_dry_run_lists_pending_cells(tmp_path, monkeypatch, capsys):
    config = toy_config(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["sweep", str(config), "--dry-run", "--cache", str(tmp_path / "empty"), *ALLOW]) == 0
    out = capsys.readouterr().out
    assert out.count("pending") == 8 and "8 cells" in out


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[sweep]\nname = "x"\n[cell]\nwidht = 3\n', ["[cell]", "'widht'"]),
        ('[sweep]\nname = "x"\n[grid]\nalpha = [1.5, 3.0]\n', ["[grid]", "alpha[1]", "3.0"]),
        ('[sweep]\nname = "x"\n[cell]\nlr = 0\n', ["[cell]", "lr", "(0, inf)"]),
    ],
)
def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err


def test_argument_errors(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    config = toy_config(tmp_path)
    assert main(["sweep", str(config), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--executor dask" in capsys.readouterr().err
    assert main(["sweep", str(config), "--workers", "0"]) == 2
    with pytest.raises(SystemExit):
        main(["sweep", str(config), "--executor", "slurm"])
    with pytest.raises(SystemExit):
        main([])


def test_failing_cell_exits_1(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad_cells.py").write_text("def cell(config):\n    raise ValueError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "fails.toml"
    path.write_text('[sweep]\nname = "fails"\nrunner = "bad_cells:cell"\n')
    code = main(
        [
            "sweep",
            "--allow-runner",
            "bad_cells:cell",
            str(path),
            "--executor",
            "serial",
            "--cache",
            str(tmp_path),
            "--results",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "boom" in capsys.readouterr().err


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "htsgd" in out and "torch" in out


def test_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "htsgd", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "sweep" in out and "info" in out


def _bad(tmp_path: Path, name: str) -> list[str]:
    """Arguments of one bad invocation (issue 12, item 9), built in tmp_path."""
    good = toy_config(tmp_path)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    if name == "folder":
        return [str(tmp_path)]
    if name == "not-utf8":
        (tmp_path / "latin.toml").write_bytes(b'[sweep]\nname = "caf\xe9"\n')
        return [str(tmp_path / "latin.toml")]
    texts = {
        "sweep-5": "sweep = 5\n",
        "controls-3": 'controls = 3\n[sweep]\nname = "x"\n',
        "sigma-inf": '[sweep]\nname = "x"\n[cell]\nsigma = inf\n',
        "dots": '[sweep]\nname = ".."\n',
        "duplicate": '[sweep]\nname = "x"\n[grid]\nseed = [0, 0]\n',
    }
    if name in texts:
        (tmp_path / "bad.toml").write_text(texts[name])
        return [str(tmp_path / "bad.toml")]
    if name == "results-file":
        return [str(good), *ALLOW, "--results", str(a_file), "--cache", str(tmp_path / "c")]
    if name == "cache-file":
        return [str(good), *ALLOW, "--cache", str(a_file)]
    if name.startswith("scheduler:"):
        return [str(good), *ALLOW, "--executor", "dask", "--scheduler", name.split(":", 1)[1]]
    raise AssertionError(name)


BAD = ["folder", "not-utf8", "sweep-5", "controls-3", "sigma-inf", "dots", "duplicate",
       "results-file", "cache-file", "scheduler:nowhere", "scheduler:tcp://h:99999",
       "scheduler:a b:1"]


@pytest.mark.parametrize("name", BAD)
def test_bad_invocations_exit_2_with_one_line(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["sweep", *_bad(tmp_path, name), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    # Nothing was written outside the working folder, in particular for name = "..".
    assert not (tmp_path.parent / "results.csv").exists()


def test_bad_invocation_in_a_subprocess_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "htsgd", "sweep", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {tmp_path}: is a folder, not a TOML file"


@pytest.mark.slow
def test_unreachable_scheduler_fails_with_a_message(tmp_path, monkeypatch, capsys):
    pytest.importorskip("dask.distributed")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = toy_config(tmp_path)
    args = ["sweep", str(config), "--executor", "dask", "--scheduler", "127.0.0.1:1",
            "--cache", str(tmp_path / "c"), "--no-progress", *ALLOW]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at '127.0.0.1:1' within 5 s" in err, err


def test_packaged_sweep_by_name_and_list(tmp_path, capsys):
    assert main(["sweep", "--list"]) == 0
    assert "book-teacher-student" in capsys.readouterr().out.split()
    assert main(["sweep", "book-teacher-student", "--dry-run", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("pending") == 45 and "45 cells" in out
    assert main(["sweep", "no-such-sweep"]) == 2
    assert "packaged sweeps: " in capsys.readouterr().err
