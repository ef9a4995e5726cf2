#!/usr/bin/env bash
# `make bench`: bpfree's speed on this machine, side by side with PyTorch CPU where it is
# installed (a benchmark, not a test). Needs a release build and python3 (for the JSON).
#   1. sgemm at 2048³ with the OpenBLAS core in use against every core this CPU can run.
#   2. Training throughput (validation excluded), batch 128, THREADS threads (2), interleaved
#      with PyTorch and repeated REPS times (3): BP and concurrent MF on mlp-3x2000 over 12,000
#      Fashion-MNIST samples, BP on cnn-3block over 6,016; each ratio's median.
#   3. With FULL=1 (or `make bench FULL=1`), one full BP cnn-3block epoch (54,000 / 6,000):
#      the validation pass against the training part, and the run's peak RSS.
# PYTHON names the interpreter that has torch (default python3); without torch the PyTorch
# columns are skipped with a line saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/bpfree
reps=${REPS:-3}
threads=${THREADS:-2}
python=${PYTHON:-python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" info --threads "$threads" | sed -n '1p;4,7p'
echo
echo "== sgemm by OpenBLAS core"
"$bin" info --threads "$threads" --blas-cores | sed -n '/^sgemm by OpenBLAS core/,/in use:/p' | tail -n +2

torch=yes
if ! "$python" -c 'import torch' 2>/dev/null; then
  torch=""
  echo
  echo "PyTorch: not importable by $python (pip install torch, or PYTHON=/path/to/venv/bin/python); PyTorch ratios skipped"
fi

# name | bpfree train arguments | PyTorch arguments
cases=(
  "bp-mlp-3x2000|--algorithm bp --architecture mlp-3x2000 --train-limit 12000|--model bp-mlp --widths 2000,2000,2000 --train-limit 12000"
  "mf-mlp-3x2000|--algorithm mf --architecture mlp-3x2000 --set mf.schedule=concurrent --train-limit 12000|--model mf-mlp --widths 2000,2000,2000 --train-limit 12000"
  "bp-cnn-3block|--algorithm bp --architecture cnn-3block --train-limit 6016|--model bp-cnn --channels 32,128,512 --train-limit 6016"
)
echo
echo "== training throughput, samples/s (validation excluded), batch 128, $threads threads, $reps interleaved runs"
for i in $(seq "$reps"); do
  for entry in "${cases[@]}"; do
    IFS='|' read -r name ours theirs <<< "$entry"
    # shellcheck disable=SC2086
    "$bin" train $ours --dataset fashion-mnist --epochs 1 --threads "$threads" --no-store \
      --output "$out/$name-$i.json" > /dev/null 2>&1
    if [ -n "$torch" ]; then
      # shellcheck disable=SC2086
      "$python" Scripts/pytorch_speed.py $theirs --threads "$threads" \
        | sed -n 's/.*: \([0-9.]*\) samples\/s training only.*/\1/p' > "$out/$name-$i.torch"
    fi
  done
done
python3 - "$out" "$reps" <<'PY'
import json, os, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
names = ["bp-mlp-3x2000", "mf-mlp-3x2000", "bp-cnn-3block"]
def rate(record):  # training samples over the training part of each epoch
    seconds = sum(e["seconds"] - e["val_seconds"] for e in record["epochs"])
    return record["train_samples"] / seconds
for name in names:
    ours = [rate(json.load(open(f"{out}/{name}-{i}.json"))) for i in range(1, reps + 1)]
    line = f"  {name:15} bpfree {statistics.median(ours):7.0f} (runs {', '.join(f'{r:.0f}' for r in ours)})"
    torch_files = [f"{out}/{name}-{i}.torch" for i in range(1, reps + 1)]
    if all(os.path.exists(f) and open(f).read().strip() for f in torch_files):
        theirs = [float(open(f).read()) for f in torch_files]
        ratios = [a / b for a, b in zip(ours, theirs)]
        line += f" | PyTorch {statistics.median(theirs):7.0f} | ratio {statistics.median(ratios):.2f}x (runs {', '.join(f'{r:.2f}' for r in ratios)})"
    print(line)
PY

if [ "${FULL:-0}" = 1 ]; then
  echo
  echo "== one full BP cnn-3block epoch on Fashion-MNIST (54,000 training / 6,000 validation images)"
  "$bin" train --algorithm bp --architecture cnn-3block --dataset fashion-mnist --epochs 1 --threads "$threads" \
    --no-store --output "$out/full.json" > /dev/null 2>&1
  python3 - "$out/full.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); e = r["epochs"][0]
train, val = e["seconds"] - e["val_seconds"], e["val_seconds"]
print(f"  training part {train:.1f} s ({r['train_samples'] / train:.0f} samples/s), validation {val:.2f} s"
      f" = {100 * val / train:.1f}% of the training part; peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB")
PY
fi
