"""Every chapter's notebook runs from a plain install, as on Colab, Binder or a reader's laptop.

A fresh virtual environment gets only ``pip install "htsgd[notebook]"`` from the wheel that
``python -m build`` makes of this checkout, the file the release workflow publishes to PyPI (the
session's ``plain_venv``, tests/plain_env.py), then the generated notebooks (``book/*.ipynb``) are copied to a temporary folder
outside the repository and executed there top to bottom with nbclient, in a kernel of that
environment, with the sweep cache (``HTSGD_CACHE_DIR``) in the temporary folder too. Nothing of
the clone is importable there: the test checks that ``htsgd`` came from the new environment.

Binder gives a notebook 2 GB of memory and one or two CPUs. The kernel runs pinned to at most
``BINDER_CPUS`` CPUs (its affinity mask), so the sweeps size their workers as they would there,
and the bound checked is the kernel's peak resident memory plus, for each CPU, the largest peak of
the processes it started (sweep workers): as if every worker reached the largest worker's peak
while the kernel was at its own.

The kernel also runs as on another machine (issue 19 §1): ``ATEN_CPU_CAPABILITY=default`` (torch's
kernels for a CPU without AVX2), which changes matrix products, sums, transcendental functions and
training runs here (benchmarks/bench_machines.py chose it and measures how much the book's numbers move
under it; it costs up to about 50 % more CPU time on training, 15 % on stable sampling). The chapters' own hidden checks (their glued sentences agree with their
tables) therefore run on another machine's numbers, and the page checks of how numbers print
(tests/page_checks.py: count columns print integers, no numpy scalar reprs), which the HTML test runs on
the developer build, run here on every executed notebook's outputs. This is the reader's path, so the
emulation adds no execution: the chapters still run twice per session (tests/test_executions.py).

The environment's torch is pinned to the one installed here, ipykernel below 7 and ipywidgets at
Colab's release (tests/plain_env.py says why). Each chapter is its own test (so that both of `make test`'s
workers run them, the longest first: tests/conftest.py orders them), in the same environment, each with its own
empty sweep cache. Each chapter's cold time and peak memory are printed (``pytest -s``) and merged into
``$HTSGD_BENCH_DIR/plain_install.json`` when that is set (:func:`record`: under a lock, replaced atomically).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import execution_log
import nbformat
import pytest
from nbclient.exceptions import CellTimeoutError
from page_checks import notebook_number_problems
from plain_env import write_kernel
from plain_record import record

from conftest import ROOT, once_per_session

pytestmark = [pytest.mark.slow, pytest.mark.book]

LIMIT_MB = 2048  # Binder's memory limit
BINDER_CPUS = 2
# The build's cell timeout (_config.yml): `make test` runs this test beside the book build and the other tests
# (tests/conftest.py), so a sweep cell shares two cores with up to two other busy processes.
CELL_TIMEOUT_S = 1200
KERNEL = "htsgd-plain-install"

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)
spec = importlib.util.spec_from_file_location("bench_machines", ROOT / "benchmarks" / "bench_machines.py")
bench_machines = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_machines)
# Another machine's kernels, as benchmarks/bench_machines.py measured them; the probe checks that torch uses them.
OTHER_MACHINE = bench_machines.SETTINGS["emulated"]

PROBE = """\
import json, os, re, resource, htsgd, torch
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
# The kernel's own peak is VmHWM, its address space's high-water mark since exec. ru_maxrss is not: Linux
# carries the launching process's peak across fork and exec into it, and here that is pytest's (1.1 GB late in
# the suite, which every chapter then showed). The workers' ru_maxrss keeps that carry-over from the kernel at
# the moment it spawned them: an upper bound, which is the safe side for a memory limit.
status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
hwm = re.search(r"^VmHWM:\\s+(\\d+) kB", status, re.M)
print("HTSGD-PROBE " + json.dumps({"htsgd": htsgd.__file__,
                                   "self_mb": int(hwm.group(1)) / 1024 if hwm else me.ru_maxrss / 1024,
                                   "children_mb": kids.ru_maxrss / 1024, "cpus": len(os.sched_getaffinity(0)),
                                   "capability": torch.backends.cpu.get_cpu_capability(),
                                   "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}))
"""


# ipykernel_launcher, pinned to at most BINDER_CPUS of the CPUs this test may use.
LAUNCH = (
    f"import os; os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:{BINDER_CPUS}]); "
    "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
)


CHAPTERS = sync.chapters()


@pytest.fixture(scope="module")
def plain(plain_venv):
    """The session's fresh environment (htsgd[notebook] from the wheel: tests/plain_env.py) and a Jupyter
    kernel spec running it as Binder would (at most ``BINDER_CPUS`` CPUs) on another machine's kernels."""
    work, python = plain_venv["work"], plain_venv["python"]
    env = {"HTSGD_CACHE_DIR": str(work / "cache"), "MPLBACKEND": "agg", "PYTHONPATH": "",
           # HTSGD_RUN_SOLUTIONS=1: every exercise's solution runs too (a reader's run skips them)
           "HTSGD_RUN_SOLUTIONS": "1", **OTHER_MACHINE}
    # once per session: every process of the session (xdist's workers) then starts kernels from the same file
    argv = [str(python), "-c", LAUNCH]
    once_per_session("plain-kernel", lambda _: {"spec": write_kernel(work / "jupyter", KERNEL, argv, env)})
    return {"work": work, "python": python, "install_s": plain_venv["install_s"]}


def _run(notebook: Path, workdir: Path) -> tuple[float, dict, nbformat.NotebookNode]:
    import nbclient_polling  # book/_ext (tests/conftest.py): the workaround for nbclient's lost-reply hang (#312)
    from nbclient import NotebookClient

    nbclient_polling.install()
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    line = next(x for x in text.splitlines() if x.startswith("HTSGD-PROBE "))
    nb.cells.pop()
    return seconds, json.loads(line.removeprefix("HTSGD-PROBE ")), nb


def _execute(chapter: Path, notebooks: Path) -> tuple[float, dict, nbformat.NotebookNode, bool]:
    """Run the chapter's generated notebook, once more after a lost kernel reply (reported and logged)."""
    notebook = notebooks / f"{chapter.stem}.ipynb"
    # the generated notebook (test_notebooks checks book/*.ipynb is the same)
    notebook.write_text(sync.notebook_text(chapter))
    try:
        return (*_run(notebook, notebooks), False)
    except CellTimeoutError:
        # Now and then the kernel goes idle while nbclient still waits for its reply (seen here under heavy
        # load with ipykernel 6.31; the same chapter then ran in 16 s): one retry, reported, so that a lost
        # message does not pass for a slow chapter.
        execution_log.event("retry", chapter=chapter.name, kind="plain")  # a counted second execution
        print(f"plain install: {chapter.stem}: a cell timed out; running it again", file=sys.stderr)
        return (*_run(notebook, notebooks), True)


def test_the_chapters_are_the_books():
    assert CHAPTERS and [c.name for c in CHAPTERS] == [c.name for c in sync.chapters()]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_the_notebook_runs_from_a_plain_install(chapter, plain, monkeypatch):
    work = plain["work"]
    monkeypatch.setenv("JUPYTER_PATH", str(work / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("HTSGD_BOOK_BUILD", raising=False)  # a reader's run: the experiments' quick grid
    notebooks = work / "notebooks" / chapter.stem  # a folder of its own (the chapters run in several processes)
    notebooks.mkdir(parents=True)
    load_before = [round(x, 1) for x in os.getloadavg()]
    measured_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    execution_log.event("plain-install", chapter=chapter.name)
    seconds, probe, executed, retried = _execute(chapter, notebooks)
    assert probe["cpus"] <= BINDER_CPUS
    peak = probe["self_mb"] + probe["cpus"] * probe["children_mb"]
    entry = {
        "seconds": round(seconds, 1),
        "kernel_peak_mb": round(probe["self_mb"]),
        "children_peak_mb": round(probe["children_mb"]),
        "cpu_seconds": round(probe["cpu_s"], 1),  # kernel and its workers: a load-independent measure
        "retried": retried,
        "measured_at": measured_at,
        "load_average": [load_before, [round(x, 1) for x in os.getloadavg()]],
    }
    print(f"plain install: {chapter.stem}: {seconds:.0f} s cold ({probe['cpu_s']:.0f} CPU s), peak {peak:.0f} MB "
          f"{json.dumps(entry)}", file=sys.stderr)
    bench = os.environ.get("HTSGD_BENCH_DIR")
    if bench:
        record(Path(bench), chapter.stem, entry, Path(os.environ.get(execution_log.ENV, str(os.getppid()))).name, {
            "install_s": round(plain["install_s"], 1), "emulated": OTHER_MACHINE, "kernel_cpus": BINDER_CPUS,
            "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
            "load_average_before": load_before})
    failures = []
    if not Path(probe["htsgd"]).resolve().is_relative_to(Path(plain["python"]).parents[1].resolve()):
        failures.append(f"htsgd was imported from {probe['htsgd']}, not the plain install")
    if probe["capability"] != "DEFAULT":
        failures.append(f"torch used {probe['capability']} kernels, not another machine's")
    failures += notebook_number_problems(executed)
    if peak >= LIMIT_MB:
        failures.append(f"peak memory {peak:.0f} MB, Binder allows {LIMIT_MB} MB")
    assert not failures, "\n".join(failures)


def test_chapters_measured_in_parallel_merge_into_one_record(tmp_path):
    """Three processes record chapters at once into one file: every chapter is there, the session's fields come
    from its first chapter, and the chapters of an earlier session stay, each with its own date."""
    import subprocess

    first = {"seconds": 1.0, "measured_at": "then", "load_average": [[0.1], [0.2]]}
    record(tmp_path, "old", first, "earlier", {"install_s": 9.0})
    script = ("import sys; sys.path.insert(0, sys.argv[1])\n"
              "from plain_record import record\n"
              "for i in range(20):\n"
              "    record(__import__('pathlib').Path(sys.argv[2]), f'{sys.argv[3]}{i}', {'seconds': i,"
              " 'measured_at': sys.argv[3], 'load_average': [[0.0], [0.0]]}, 'now', {'install_s': 1.0})\n")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(ROOT / "tests"), str(tmp_path), name])
            for name in "abc"]
    assert [run.wait(timeout=300) for run in runs] == [0, 0, 0]
    results = json.loads((tmp_path / "plain_install.json").read_text())
    assert set(results["chapters"]) == {"old"} | {f"{n}{i}" for n in "abc" for i in range(20)}
    assert results["chapters"]["old"] == first and results["install_s"] == 1.0 and results["session"] == "now"
    assert results["measured_at"] in "abc" and not list(tmp_path.glob(".plain_install.json.*"))
