"""How much the book's numbers move on another machine; writes benchmarks/results/machines.json.

    python benchmarks/bench_machines.py [--seeds 1]

Training on a different CPU rounds differently: torch picks its vectorized kernels (exp, tanh,
reductions) by the instruction set it finds, and MKL its matrix-product kernels. Two settings of this
machine stand in for two machines (each checked, by ``probe``, to change a small matmul or training run):

* ``native``: what torch and MKL pick here;
* ``emulated``: ``ATEN_CPU_CAPABILITY=default``: ATen's kernels for a CPU without AVX2. Here it changes
  matrix products, sums, tanh and a small SGD run (the ``probe``). ``MKL_CBWR=COMPATIBLE`` (MKL's
  kernels for any x86 CPU) changes matrix products too, but reaches no kernel the first setting leaves
  alone and costs more: three training cells took 16.6 CPU s with both settings, 13.1 with ATen's alone
  and 8.9 natively (one measurement on a loaded machine), and the plain-install test runs every notebook
  under the emulated setting. ``DNNL_MAX_CPU_ISA`` and ``MKL_ENABLE_INSTRUCTIONS`` changed nothing here. All are left out.

Each setting runs, in a fresh single-threaded process, the cells of the experiments chapter's quick
grids with seed below ``--seeds``: teacher-student (``book-teacher-student-seeds-quick``: no noise,
alpha 2 and alpha 1.5) and real digits (``book-mnist-digits-quick``: no noise and alpha 1.5), through
the runner every sweep uses (:func:`htsgd.sweep.run_cell`), and records what the chapter reports of a
cell: the stopping iteration, accuracies, the pruned fraction (mce 0.1) and Hill's tail estimate, and
the CPU seconds. The JSON holds both settings' numbers and, per quantity, the largest difference between
them and the number of cells where it differs. Cost: about 35 CPU seconds of training at the defaults (each
cell's are recorded), a few minutes of wall time with the imports and data loading.
Writes to ``$HTSGD_BENCH_DIR`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "native": {},
    "emulated": {"ATEN_CPU_CAPABILITY": "default"},
}
GRIDS = {"teacher-student": "book-teacher-student-seeds-quick", "digits": "book-mnist-digits-quick"}
# What the experiments chapter reports of a cell (its tables and glued sentences).
REPORTED = ("iterations", "train_acc", "test_acc", "pruned_fraction", "test_acc_pruned", "tail_hill")

PROBE = """
import hashlib, json, torch
torch.manual_seed(0)
a, b, x = torch.randn(64, 200), torch.randn(200, 50), torch.randn(10000)
net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
opt = torch.optim.SGD(net.parameters(), lr=0.05)
X, y = torch.randn(256, 20), torch.randn(256, 1)
for _ in range(100):
    opt.zero_grad(); loss = ((net(X) - y) ** 2).mean(); loss.backward(); opt.step()
h = lambda t: hashlib.sha1(t.detach().numpy().tobytes()).hexdigest()[:12]
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "matmul": h(a @ b), "sum": h(x.sum()),
                  "tanh": h(x.tanh()), "sgd_loss": loss.item()}))
"""

CELLS = """
import json, sys, time, torch
import htsgd as hs
torch.set_num_threads(1)
out = []
for config, seeds in json.loads(sys.argv[1]):
    for cell in [c for c in hs.sweep.load_config(config).cells() if c.seed < seeds]:
        start = time.process_time()
        m = hs.sweep.run_cell(cell.to_dict())
        prune = m["prune"].get("mce0.1", {})
        out.append({"config": config, "hash": hs.sweep.cell_hash(cell), "alpha": cell.alpha, "seed": cell.seed,
                    "iterations": m["iterations"], "train_acc": m["train_acc"], "test_acc": m["test_acc"],
                    "pruned_fraction": prune.get("pruned_fraction"), "test_acc_pruned": prune.get("test_acc"),
                    "tail_hill": m["tail_hill"], "cpu_seconds": round(time.process_time() - start, 1)})
print("HTSGD-CELLS " + json.dumps(out))
"""


def _python(code: str, env: dict[str, str], *args: str) -> str:
    full = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env}
    run = subprocess.run([sys.executable, "-c", code, *args], env=full, capture_output=True, text=True, check=True)
    return run.stdout


def _difference(a, b) -> float | None:
    if a is None or b is None:
        return None if a is b else float("inf")
    if isinstance(a, list):  # Hill's estimate per layer
        return max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)
    return abs(float(a) - float(b))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=1, help="the cells of seeds 0, ..., SEEDS - 1 of each grid")
    args = parser.parse_args(argv)
    plan = json.dumps([[grid, args.seeds] for grid in GRIDS.values()])
    start = time.time()
    probes, runs = {}, {}
    for name, env in SETTINGS.items():
        probes[name] = json.loads(_python(PROBE, env))
        line = next(x for x in _python(CELLS, env, plan).splitlines() if x.startswith("HTSGD-CELLS "))
        runs[name] = json.loads(line.removeprefix("HTSGD-CELLS "))
    cells = []
    for native, emulated in zip(runs["native"], runs["emulated"], strict=True):
        cells.append({
            **{k: native[k] for k in ("config", "hash", "alpha", "seed")},
            "native": {k: native[k] for k in REPORTED}, "emulated": {k: emulated[k] for k in REPORTED},
            "difference": {k: _difference(native[k], emulated[k]) for k in REPORTED},
            "cpu_seconds": {"native": native["cpu_seconds"], "emulated": emulated["cpu_seconds"]},
        })
    largest = {k: max((c["difference"][k] for c in cells if c["difference"][k] is not None), default=None)
               for k in REPORTED}
    result = {
        "what": "the experiments chapter's per-cell numbers on this CPU (native) and with the kernels another "
                "x86 CPU would use (emulated); each setting in a fresh single-threaded process",
        "settings": SETTINGS,
        "probe": probes,
        "kernels_differ": {k: probes["native"][k] != probes["emulated"][k] for k in ("matmul", "sum", "tanh")},
        "cells": cells,
        "largest_difference": largest,
        "cells_that_differ": {k: sum(bool(c["difference"][k]) for c in cells) for k in REPORTED},
        "identical": all(v == 0 for v in largest.values() if v is not None),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "wall_seconds": round(time.time() - start, 1),
    }
    out = Path(os.environ.get("HTSGD_BENCH_DIR", ROOT / "benchmarks" / "results"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "machines.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"largest_difference": largest, "kernels_differ": result["kernels_differ"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
