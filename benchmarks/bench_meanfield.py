"""Speed of htsgd.meanfield: seeds in one tensor against a Python loop over seeds, and the chapter experiment.

    python benchmarks/bench_meanfield.py [--seeds 16] [--steps 50] [--skip-chapter]

Part 1 trains ``seeds`` networks of each width with :func:`htsgd.meanfield.run_particles`,
with alpha = 1.5 noise, three ways: vectorized (all seeds in one tensor, stepped in blocks
of seeds that fit the L2 cache); a loop over seeds (one ``run_particles(seeds=1)`` per seed,
its own draws: what one writes without vectorization); and ``loop_over_seeds=True`` (the
same random numbers as the vectorized run, drawn for all seeds at once, only the dynamics
looped). The variants are interleaved round-robin and the medians over the repeats of the
process CPU time and of the wall time are reported (the speed-ups are judged on CPU time,
which a busy machine inflates less; the 1-minute load average is recorded before and after).
Goal (issue 10): vectorized at least 3x faster than the loop over seeds at widths <= 256.

Part 2 times the propagation-of-chaos experiment of the book chapter
(:func:`htsgd.chaos.chaos_experiment`; three noise settings, widths 16 to 1024, 16 seeds,
200 steps), in wall-clock and process CPU seconds.

One torch thread throughout, as in the book. Writes ``bench_meanfield.json`` to
``$HTSGD_BENCH_DIR`` (default ``benchmarks/results``) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

import htsgd.chaos as chaos
import htsgd.meanfield as mf

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_WIDTHS = [16, 32, 64, 128, 256, 512, 1024]
CHAPTER_SETTINGS = {"no noise": None, "alpha = 2": 2.0, "alpha = 1.5": 1.5}


def time_run(problem, width, seeds, steps, variant):
    """(CPU, wall) seconds of one variant: "vectorized", "loop" (independent runs) or "loop_same_numbers"."""
    kw = dict(steps=steps, alpha=1.5, sigma=0.03)
    t0, w0 = time.process_time(), time.perf_counter()
    if variant == "loop":
        for s in range(seeds):
            mf.run_particles(problem, width, seeds=1, generator=s, **kw)
    else:
        mf.run_particles(problem, width, seeds=seeds, generator=0, loop_over_seeds=variant != "vectorized", **kw)
    return time.process_time() - t0, time.perf_counter() - w0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--skip-chapter", action="store_true", help="skip part 2 (the chapter experiment)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    problem = mf.teacher_problem(generator=0)
    load_before = os.getloadavg()[0]

    vectorization = []
    variants = ("vectorized", "loop", "loop_same_numbers")
    for width in args.widths:
        times = {v: [] for v in variants}
        time_run(problem, width, args.seeds, 2, "vectorized")  # warm-up
        for _ in range(args.repeats):
            for v in variants:
                times[v].append(time_run(problem, width, args.seeds, args.steps, v))
        med = {v: statistics.median(c for c, _ in t) for v, t in times.items()}
        wall = {v: statistics.median(w for _, w in t) for v, t in times.items()}
        vectorization.append({
            "width": width, "vectorized_s": med["vectorized"], "loop_s": med["loop"],
            "loop_same_numbers_s": med["loop_same_numbers"], "speedup": med["loop"] / med["vectorized"],
            "speedup_same_numbers": med["loop_same_numbers"] / med["vectorized"],
            "wall_vectorized_s": wall["vectorized"], "wall_loop_s": wall["loop"],
            "wall_loop_same_numbers_s": wall["loop_same_numbers"], "wall_speedup": wall["loop"] / wall["vectorized"],
            "goal_met": (med["loop"] / med["vectorized"] >= 3.0) if width <= 256 else None,
        })

    chapter = None
    if not args.skip_chapter:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        per_setting = {}
        for name, alpha in CHAPTER_SETTINGS.items():
            w0, c0 = time.perf_counter(), time.process_time()
            chaos.chaos_experiment(CHAPTER_WIDTHS, alpha=alpha, sigma=0.03, steps=200, seeds=16, generator=2024)
            per_setting[name] = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}
        chapter = {"widths": CHAPTER_WIDTHS, "seeds": 16, "steps": 200, "settings": per_setting,
                   "wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0}

    result = {
        "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "load_average_1min_before": load_before,
        "seeds": args.seeds,
        "steps": args.steps,
        "repeats": args.repeats,
        "block_bytes": mf._BLOCK_BYTES,
        "vectorization": vectorization,
        "goal": "vectorized >= 3x faster than the loop over seeds at widths <= 256",
        "goals_met": all(r["goal_met"] for r in vectorization if r["goal_met"] is not None),
        "chapter_experiment": chapter,
    }
    out = Path(os.environ.get("HTSGD_BENCH_DIR", ROOT / "benchmarks" / "results")) / "bench_meanfield.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(result, fh, indent=1)
    os.replace(tmp, out)

    print(f"{args.seeds} seeds, {args.steps} steps, alpha = 1.5 noise, 1 thread, median of {args.repeats}, "
          f"load {load_before:.1f} before, {result['load_average_1min']:.1f} after")
    print("CPU seconds (wall speed-up beside); loop = one run_particles per seed; same numbers = loop_over_seeds=True")
    print(f"{'width':>6s} {'vectorized':>11s} {'loop':>8s} {'speedup':>8s} {'same numbers':>13s} {'speedup':>8s}"
          f" {'wall speedup':>13s}  goal (>= 3x CPU at n <= 256)")
    for r in vectorization:
        goal = "" if r["goal_met"] is None else ("met" if r["goal_met"] else "NOT met")
        print(f"{r['width']:6d} {r['vectorized_s']:11.3f} {r['loop_s']:8.3f} {r['speedup']:8.2f} "
              f"{r['loop_same_numbers_s']:13.3f} {r['speedup_same_numbers']:8.2f} {r['wall_speedup']:13.2f}  {goal}")
    if chapter:
        print(f"chapter experiment: {chapter['wall_s']:.1f} s wall, {chapter['cpu_s']:.1f} s CPU")
        for name, t in chapter["settings"].items():
            print(f"  {name:12s} {t['wall_s']:6.1f} s wall {t['cpu_s']:6.1f} s CPU")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
