"""Regenerate the committed large-width propagation-of-chaos runs (``htsgd/runs/chaos-widths/``, shipped with the package).

    .venv/bin/python scripts/chaos_widths.py --activation relu [--seeds 32] [--max-width 16384]

Runs :func:`htsgd.chaos.chaos_experiment` with the chapter's settings (teacher task,
``eta = 0.1``, 200 steps, ``alpha = 1.5``, ``sigma = 0.03``, seed 2024) at widths
16, 32, ..., ``--max-width`` (reference 8 times wider, and its half-width check), one torch
thread, and writes the table, the per-seed samples and the provenance (commit, versions,
times, load) to ``htsgd/runs/chaos-widths/ACTIVATION/`` with
:func:`htsgd.chaos.save_width_runs`. The chapter *Propagation of chaos* reads them with
:func:`htsgd.chaos.load_width_runs`, so it keeps its time budget.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import htsgd
from htsgd import chaos

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activation", choices=["relu", "tanh"], required=True)
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--max-width", type=int, default=16384)
    parser.add_argument("--alpha", type=float, default=1.5)
    parser.add_argument("--sigma", type=float, default=0.03)
    parser.add_argument("--out", type=Path, default=ROOT / "htsgd" / "runs" / "chaos-widths")
    args = parser.parse_args()
    torch.set_num_threads(1)
    widths = [int(w) for w in 2 ** np.arange(4, int(np.log2(args.max_width)) + 1)]
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    table, samples = chaos.chaos_experiment(
        widths, alpha=args.alpha, sigma=args.sigma, steps=200, seeds=args.seeds, generator=2024,
        activation=args.activation, return_samples=True,
    )
    provenance = {
        "command": "python scripts/chaos_widths.py " + " ".join(sys.argv[1:]),
        "commit": _git("rev-parse", "HEAD"),
        "worktree_clean": _git("status", "--porcelain", "--", "htsgd", "scripts/chaos_widths.py") == "",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - wall0, 1),
        "cpu_seconds": round(time.process_time() - cpu0, 1),
        "torch_threads": torch.get_num_threads(),
        "load_average_start": [round(v, 2) for v in load_start],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__, "htsgd": htsgd.__version__},
    }
    out = chaos.save_width_runs(args.out / args.activation, {args.activation: (table, samples)}, provenance)
    print(table.to_string(index=False))
    print(f"reference error {table.attrs['reference_error']:.4g}; {provenance['wall_seconds']} s wall; wrote {out}")


if __name__ == "__main__":
    main()
