"""Speed of htsgd.stable against scipy and torch.randn; writes benchmarks/results/bench_stable.json.

    python benchmarks/bench_stable.py [--n 10000000] [--quick]

Ratios are measured in one run on one machine. Goals (issue 3): the CPU sampler at least
12x faster than scipy.stats.levy_stable.rvs and at most 2.5x torch.randn (float32, 1e7);
pdf/cdf of 1000 points about 100x faster than scipy; on a GPU, 1e8 samples at most 2x randn
(judged on throughput: calls back to back, timed with CUDA events; the time per call with a
synchronization after each is recorded too).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import htsgd.stable as st


def best_of(fn, repeat=3, sync=None):
    fn()
    if sync:
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="skip scipy's slow sampler (estimate from 1e6)")
    parser.add_argument("--gpu-only", action="store_true",
                        help="only the CUDA part; writes bench_stable_cuda.json")
    args = parser.parse_args()
    from scipy.stats import levy_stable

    res: dict = {"machine": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
                 "n": args.n}
    if not args.gpu_only:
        n = args.n
        gen = torch.Generator().manual_seed(0)
        for dt in (torch.float32, torch.float64):
            name = str(dt).split(".")[-1]
            t_randn = best_of(lambda dt=dt: torch.randn(n, generator=gen, dtype=dt), repeat=7)
            t_cms = best_of(lambda dt=dt: st.sample(1.5, n, generator=gen, dtype=dt), repeat=7)
            t_skew = best_of(lambda dt=dt: st.sample(1.5, n, beta=0.5, generator=gen, dtype=dt))
            res[f"cpu_{name}"] = {"randn_s": t_randn, "cms_s": t_cms, "cms_skewed_s": t_skew,
                                  "cms_over_randn": t_cms / t_randn}
        n_scipy = 1_000_000 if args.quick else n
        t0 = time.perf_counter()
        levy_stable.rvs(1.5, 0.0, size=n_scipy, random_state=np.random.default_rng(0))
        t_scipy = (time.perf_counter() - t0) * (n / n_scipy)
        res["scipy_rvs_s"] = t_scipy
        res["scipy_over_cms_float64"] = t_scipy / res["cpu_float64"]["cms_s"]
        res["scipy_over_cms_float32"] = t_scipy / res["cpu_float32"]["cms_s"]

        x = np.linspace(-10, 10, 1000)
        old = levy_stable.piecewise_x_tol_near_zeta
        levy_stable.piecewise_x_tol_near_zeta = 1e-9
        try:
            sp_pdf = best_of(lambda: levy_stable.pdf(x, 1.5, 0.0), repeat=1)
            sp_cdf = best_of(lambda: levy_stable.cdf(x, 1.5, 0.0), repeat=1)
        finally:
            levy_stable.piecewise_x_tol_near_zeta = old
        my_pdf = best_of(lambda: st.pdf(x, 1.5), repeat=5)
        my_cdf = best_of(lambda: st.cdf(x, 1.5), repeat=5)
        res["density_1000_points_alpha_1.5"] = {"scipy_pdf_s": sp_pdf, "scipy_cdf_s": sp_cdf, "pdf_s": my_pdf,
                                                "cdf_s": my_cdf, "pdf_speedup": sp_pdf / my_pdf,
                                                "cdf_speedup": sp_cdf / my_cdf}

    if torch.cuda.is_available():
        dev = torch.device("cuda")
        g = torch.Generator(device=dev).manual_seed(0)
        m = 100_000_000
        sync = torch.cuda.synchronize

        def stream_time(fn, calls=20):
            # Back-to-back calls timed with CUDA events: the launch overhead overlaps the GPU work,
            # as in a training loop.
            fn()
            sync()
            best = math.inf
            for _ in range(3):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(calls):
                    fn()
                end.record()
                end.synchronize()
                best = min(best, start.elapsed_time(end) / 1e3 / calls)
            return best

        gpu = {"device": torch.cuda.get_device_name(0), "n": m,
               "timing": "per_call: one call then synchronize, launch overhead included (best of 10); "
                         "stream: 20 calls back to back, CUDA events (best of 3); the goal is judged on "
                         "stream, the sampler's throughput (the per-call figure adds the fixed cost of "
                         "a Python-side Triton launch, about 50 us more than randn's)"}
        for dt in (torch.float32, torch.float64):
            name = str(dt).split(".")[-1]
            randn = lambda dt=dt: torch.randn(m, generator=g, device=dev, dtype=dt)  # noqa: E731
            cms = lambda dt=dt: st.sample(1.5, m, generator=g, device=dev, dtype=dt)  # noqa: E731
            torch_path = lambda dt=dt: st.sample(1.5, m, generator=g, device=dev, dtype=dt, _use_triton=False)  # noqa: E731
            t_r, t_c = best_of(randn, repeat=10, sync=sync), best_of(cms, repeat=10, sync=sync)
            t_t = best_of(torch_path, sync=sync)
            s_r, s_c = stream_time(randn), stream_time(cms)
            gpu[name] = {"randn_s": t_r, "cms_s": t_c, "cms_over_randn": t_c / t_r,
                         "randn_stream_s": s_r, "cms_stream_s": s_c, "cms_over_randn_stream": s_c / s_r,
                         "torch_path_s": t_t, "torch_path_over_randn": t_t / t_r,
                         "fused_kernel": bool(st._stable_triton.available(dev, dt))}
        gpu["goal_at_most_2x_randn_float32"] = gpu["float32"]["cms_over_randn_stream"] <= 2.0
        small = {}
        for size in (1000, 1_000_000):
            small[str(size)] = {"cms_s": best_of(lambda size=size: st.sample(1.5, size, generator=g, device=dev),
                                                 repeat=20, sync=sync),
                                "randn_s": best_of(lambda size=size: torch.randn(size, generator=g, device=dev),
                                                   repeat=20, sync=sync)}
        gpu["small_sizes_per_call"] = small
        x32 = st.sample(0.5, m, generator=g, device=dev, dtype=torch.float32)
        gpu["non_finite_in_1e8_float32_alpha_0.5"] = int((~torch.isfinite(x32)).sum())
        res["gpu"] = gpu

    out = Path(os.environ.get("HTSGD_BENCH_DIR", Path(__file__).resolve().parent / "results")) / ("bench_stable_cuda.json" if args.gpu_only else "bench_stable.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False, suffix=".tmp") as f:
        json.dump(res, f, indent=2)
    os.replace(f.name, out)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
