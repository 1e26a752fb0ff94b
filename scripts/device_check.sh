#!/usr/bin/env bash
# One GPU session's checks (run on the lent CUDA machine from the repository root):
# the CUDA tests of the stable sampler (fused Triton kernel and torch path), the optimizer,
# then the GPU benchmarks. Results land in $OUT (or benchmarks/results without it).
set -u
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HTSGD_BENCH_DIR=${OUT:-benchmarks/results}
nvidia-smi -L
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
timeout 200 python3 -m pytest -q -p no:cacheprovider -x tests/test_stable.py tests/test_optim.py \
  -k "cuda or triton" 2>&1 | tail -15 | tee "$HTSGD_BENCH_DIR/device_tests.txt"
timeout 120 python3 benchmarks/bench_stable.py --gpu-only 2>&1 | tail -40
