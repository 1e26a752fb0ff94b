"""Batched training (:func:`htsgd.train_batched.train_batched`) against lone runs on the same cells.

    .venv/bin/python benchmarks/bench_batched.py [--widths 128 256 512 2048] [--members 16]
                                                 [--steps 200] [--device cpu|cuda] [--kernels]

The cells of a sweep at one width: ``E`` seeds of a 784 -> width -> 10 FCN on the digits
(:func:`htsgd.data.mnist_digits`, 8000 training digits), heavy-tailed SGD (per-neuron noise,
alpha 1.75, sigma 0.001, lr 0.1, batch 128), evaluated every 100 steps as the sweeps do, for a
fixed number of steps (no stopping rule, so every variant does the same work). Variants:

``lone``
    today's ``--workers 2``: two spawned processes, one torch thread each, each running half the
    cells one after the other with :func:`htsgd.train.train`;
``batched_2x1``
    what ``--workers 2 --batch E/2`` does: two processes, one thread each, ``E/2`` members each;
``batched`` (``--single-process``)
    one process with 2 torch threads training all ``E`` members as one batch (on a machine
    shared by more processes than cores two threads per process wait on each other: the
    sweeps' workers use one thread each for that reason).

Throughput is member-steps (steps x members) per second of wall time and per CPU second (the
processes' own CPU time, all threads: the machine may be shared, so the CPU-based figure is the
fair one under load; the load average is recorded before and after). Achieved GFLOP/s counts
the matrix products of training (forward, and backward without the input layer's input
gradient) and of the evaluations; the machine's matmul peak is measured in the same script
(``torch.mm`` of 2048 x 2048 float32, best of 5, at 1 and 2 threads). On CUDA (``--device cuda``
or when available) the lone runs are sequential on the one GPU, and the peak memory of each
variant is recorded. Writes ``batched.json`` (``batched_cuda.json``) to ``$HTSGD_BENCH_DIR``
(default ``benchmarks/results``).

Goals (issue 22): batched at least 3x the ``lone`` throughput at width 128 and 2x at 256 on
the CPU; on a GPU at least 10x.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import htsgd as hs  # noqa: E402
from htsgd.train_batched import train_batched  # noqa: E402

LR, ALPHA, SIGMA, BATCH, EVAL_EVERY = 0.1, 1.75, 0.001, 128, 100
GOALS = {"cpu": {128: 3.0, 256: 2.0}, "cuda": {128: 10.0}}


def _build(seed: int, width: int, device: str):
    torch.manual_seed(10_000 + seed)
    model = hs.nets.FCN(784, width, 2, 10).to(device)
    opt = hs.optim.HeavyTailedSGD(hs.optim.paper_param_groups(model), lr=LR, alpha=ALPHA, sigma=SIGMA,
                                  noise="per_neuron", generator=20_000 + seed)
    return model, opt


def _clock(device: str):
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


def run_lone(seeds: list[int], width: int, steps: int, threads: int, device: str) -> dict:
    """Cells one after the other with htsgd.train.train (a sweep worker's job)."""
    torch.set_num_threads(threads)
    data = hs.data.mnist_digits(device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    wall, cpu = _clock(device)
    for s in seeds:
        model, opt = _build(s, width, device)
        hs.train.train(model, data, opt, batch_size=BATCH, max_iters=steps, eval_every=EVAL_EVERY,
                       generator=30_000 + s, progress=False, on_divergence="record", device=device)
    w, c = _clock(device)
    mem = torch.cuda.max_memory_allocated() if device == "cuda" else None
    return {"wall": w - wall, "cpu": c - cpu, "memory_bytes": mem}


def run_batched(seeds: list[int], width: int, steps: int, threads: int, device: str) -> dict:
    """All cells as one batch."""
    torch.set_num_threads(threads)
    data = hs.data.mnist_digits(device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    wall, cpu = _clock(device)
    built = [_build(s, width, device) for s in seeds]
    train_batched([m for m, _ in built], data, [o for _, o in built], generators=[30_000 + s for s in seeds],
                  batch_size=BATCH, max_iters=steps, eval_every=EVAL_EVERY, device=device)
    w, c = _clock(device)
    mem = torch.cuda.max_memory_allocated() if device == "cuda" else None
    return {"wall": w - wall, "cpu": c - cpu, "memory_bytes": mem}


def in_processes(fn, parts: list[list[int]], width: int, steps: int) -> dict:
    """``fn`` on each part in its own spawned process (one torch thread each), all at once."""
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(len(parts), mp_context=ctx) as pool:
        list(pool.map(_warm, range(len(parts))))  # imports and the digits, outside the clock
        start = time.perf_counter()
        outs = list(pool.map(fn, parts, [width] * len(parts), [steps] * len(parts), [1] * len(parts),
                             ["cpu"] * len(parts)))
        wall = time.perf_counter() - start
    return {"wall": wall, "cpu": sum(o["cpu"] for o in outs), "memory_bytes": None}


def _warm(_: int) -> None:
    hs.data.mnist_digits()


def matmul_peak(threads: int, n: int = 2048, device: str = "cpu") -> dict:
    """Best-of-5 GFLOP/s of an ``n x n`` float32 ``torch.mm``, per wall second and per CPU second."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    wall = cpu = float("inf")
    for _ in range(5):
        t, c = _clock(device)
        torch.mm(a, b)
        t2, c2 = _clock(device)
        wall, cpu = min(wall, t2 - t), min(cpu, c2 - c)
    return {"per_wall_s": 2 * n**3 / wall / 1e9, "per_cpu_s": 2 * n**3 / max(cpu, 1e-9) / 1e9}


def kernels(width: int = 128, members: int = 16, threads: int = 1) -> dict:
    """CPU ms (best of 5) of one batched forward + weight gradient of the input layer, four ways.

    ``bmm`` with the weights ``(E, out, in)`` transposed on the fly; ``bmm`` with them stored
    ``(E, in, out)`` (what the trainer does); ``torch.func.vmap(F.linear)``; and a loop of
    ``F.linear`` (what ``E`` lone runs do).
    """
    from torch.nn import functional as F

    torch.set_num_threads(threads)
    x = torch.randn(members, BATCH, 784)
    w = torch.randn(members, width, 784, requires_grad=True)
    wt = torch.randn(members, 784, width, requires_grad=True)
    vmapped = torch.func.vmap(F.linear)

    def loop():
        for e in range(members):
            F.linear(x[e], w[e]).sum().backward()

    ways = {
        "bmm_transposed": lambda: torch.bmm(x, w.transpose(1, 2)).sum().backward(),
        "bmm_stored_in_out": lambda: torch.bmm(x, wt).sum().backward(),
        "vmap_linear": lambda: vmapped(x, w).sum().backward(),
        "loop_linear": loop,
    }
    out = {}
    for name, fn in ways.items():
        best = float("inf")
        for _ in range(5):
            c = time.process_time()
            fn()
            best = min(best, time.process_time() - c)
        out[name] = {"cpu_ms": best * 1e3, "gflop_per_cpu_s": 4 * members * BATCH * 784 * width / best / 1e9}
    return {"width": width, "members": members, "threads": threads, "ways": out}


def flops(width: int, steps: int, members: int) -> float:
    """Matmul FLOPs of ``steps`` training steps and the evaluations, for ``members`` networks."""
    p1, p2 = 784 * width, width * 10
    train = 2 * BATCH * (p1 + p2) + 2 * BATCH * (p1 + p2) + 2 * BATCH * p2  # forward, dW, dX of layer 2
    evals = 1 + steps // EVAL_EVERY + (1 if steps % EVAL_EVERY else 0)
    return members * (steps * train + evals * 2 * 10_000 * (p1 + p2))


def measure_width(width: int, members: int, steps: int, device: str, peak: dict, single: bool) -> dict:
    seeds = list(range(members))
    half = [seeds[: members // 2], seeds[members // 2 :]]
    if device == "cuda":
        variants = {"lone": run_lone(seeds, width, steps, 1, device), "batched": run_batched(seeds, width, steps, 1, device)}
    else:
        variants = {
            "lone": in_processes(run_lone, half, width, steps),
            "batched_2x1": in_processes(run_batched, half, width, steps),
        }
        if single:
            variants["batched"] = _spawned(run_batched, seeds, width, steps, 2)
    work = flops(width, steps, members)
    out = {"width": width, "members": members, "steps": steps, "gflop": work / 1e9}
    for name, v in variants.items():
        v["member_steps_per_s"] = steps * members / v["wall"]
        v["member_steps_per_cpu_s"] = steps * members / v["cpu"]
        v["gflop_per_s"] = work / v["wall"] / 1e9
        v["gflop_per_cpu_s"] = work / v["cpu"] / 1e9
        # On a shared CPU the wall clock counts other processes' time: compare CPU seconds with CPU seconds.
        key = "per_cpu_s" if device == "cpu" else "per_wall_s"
        v["fraction_of_peak"] = v["gflop_per_cpu_s" if device == "cpu" else "gflop_per_s"] / peak[key]
        out[name] = v
    for name in variants:
        if name != "lone":
            out[f"{name}_speedup_wall"] = variants["lone"]["wall"] / variants[name]["wall"]
            out[f"{name}_speedup_cpu"] = variants["lone"]["cpu"] / variants[name]["cpu"]
    return out


def _spawned(fn, seeds, width, steps, threads):
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        pool.submit(_warm, 0).result()
        return pool.submit(fn, seeds, width, steps, threads, "cpu").result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 256, 512, 2048])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--single-process", action="store_true",
                        help="also the variant 'batched' (one process, 2 threads): slow on a loaded machine")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--kernels", action="store_true",
                        help="only compare bmm layouts, vmap and a loop of F.linear (batched_kernels.json)")
    args = parser.parse_args(argv)
    folder = Path(os.environ.get("HTSGD_BENCH_DIR", ROOT / "benchmarks" / "results"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.kernels:
        report = {"load_average": os.getloadavg(), "torch": torch.__version__,
                  "peak_1_thread": matmul_peak(1), "kernels": [kernels(w) for w in args.widths]}
        (folder / "batched_kernels.json").write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=1))
        return 0
    if args.members < 2 or args.members % 2:
        parser.error("--members must be an even number >= 2")
    load_before = os.getloadavg()
    peak = {t: matmul_peak(t) for t in (1, 2)} if args.device == "cpu" else {"gpu": matmul_peak(1, 8192, "cuda")}
    top = peak[1] if args.device == "cpu" else peak["gpu"]  # one thread: what each worker has
    rows = []
    for width in args.widths:
        steps = max(20, args.steps * 128 // width) if args.device == "cpu" else args.steps
        row = measure_width(width, args.members, steps, args.device, top, args.single_process)
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                          if not isinstance(v, dict)}), flush=True)
    report = {
        "what": "member-steps per second (wall and CPU) of E batched members vs --workers 2 lone runs",
        "device": args.device,
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "matmul_peak_gflop": {f"threads_{k}" if k != "gpu" else k: v for k, v in peak.items()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "goals": {str(k): v for k, v in GOALS[args.device].items()},
        "widths": rows,
    }
    name = "batched.json" if args.device == "cpu" else "batched_cuda.json"
    (folder / name).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
