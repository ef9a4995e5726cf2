#!/usr/bin/env bash
# The GPU check: one command for the lent GPU machine (an H100 or H200 with the driver, Python
# 3.12 with PyTorch and NVIDIA's wheels, no Swift, no network), run from the repository root with
# .gpu-bundle carried (Scripts/gpu_bundle.sh builds it). Within 8 minutes it:
#   1. lists the GPUs (nvidia-smi, bpfree info) and the NVIDIA libraries bpfree finds;
#   2. compiles every kernel with the machine's NVRTC for the card (bpfree info --compile-kernels);
#   3. checks the card through bpfree's own host code against the CPU (bpfree info --check-gpu:
#      kernels launched over many blocks, copies, cuBLAS in every transpose);
#   4. trains BP on the CPU while NVML measures the card (energy by meter, 10 Hz trace of power,
#      SM clock, utilisation and memory: the NVML meter on a real card) and records what
#      `--device cuda` says;
#   5. times PyTorch eager CUDA at batch 128 on the issue's models (the peer of every ratio).
# It prints one table last and writes everything under $OUT (default ./gpu-check-out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
work=$(mktemp -d)
tar -C "$work" -xJf .gpu-bundle/bundle.tar.xz || { echo "no .gpu-bundle/bundle.tar.xz: run Scripts/gpu_bundle.sh and carry .gpu-bundle" >&2; exit 1; }
gzip -1 "$work"/data/fashion-mnist/*-ubyte
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bpfree="$work/bpfree"
data="$work/data/fashion-mnist"
declare -a table
row() { table+=("$(printf '%-44s %s' "$1" "$2")"); }
step() {  # step NAME SECONDS COMMAND...: runs with a time limit, output to $OUT/NAME.txt
    local name=$1 limit=$2; shift 2
    timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
    local status=$?
    echo "== $name (exit $status)"; tail -n 40 "$OUT/$name.txt"
    return $status
}

step machine 30 bash -c "nvidia-smi; echo; python3 -c 'import torch; print(\"torch\", torch.__version__, torch.version.cuda)'; \
    find / -name 'libnvrtc.so*' -o -name 'libcublas.so*' -o -name 'libcuda.so*' -o -name 'libnvidia-ml.so*' 2>/dev/null | head -20"
step info 60 "$bpfree" info
row "GPUs (bpfree info)" "$(grep -c '^GPU:' "$OUT/info.txt") listed"

step compile 120 "$bpfree" info --compile-kernels
status=$?
row "kernels compiled (NVRTC, the card's sm)" "$(grep -c '  ok$' "$OUT/compile.txt" || true) ok (exit $status)"

step check 120 "$bpfree" info --check-gpu
status=$?
row "device checks (info --check-gpu)" "$(grep -c '^ok' "$OUT/check.txt" || true) ok, $(grep -c '^FAIL' "$OUT/check.txt" || true) failed (exit $status)"

step nvml 180 "$bpfree" train --algorithm bp --dataset fashion-mnist --data-dir "$data" --train-limit 12000 --epochs 2 \
    --trace-hz 10 --trace "$OUT/nvml-trace.csv" --output "$OUT/nvml-run.json" --no-store
row "CPU run measured by NVML" "$(python3 -c "import json; r=json.load(open('$OUT/nvml-run.json')); print(r.get('energy_source'), r.get('energy_by_meter'), r.get('trace_samples'), 'samples')" 2>&1)"

step device 30 "$bpfree" train --device cuda --algorithm bp --dataset fashion-mnist --data-dir "$data" --epochs 1 --no-store
row "train --device cuda" "$(tail -n 1 "$OUT/device.txt" | cut -c1-100)"

for model in "bp-mlp --widths 2000,2000,2000" "mf-mlp --widths 2000,2000,2000" "ff-mlp --widths 2000,2000,2000,2000" "bp-cnn --channels 32,128,512"; do
    name=$(echo "$model" | cut -d' ' -f1)
    step "pytorch-$name" 120 python3 "$work/scripts/pytorch_speed.py" --model $model --device cuda --data-dir "$data" --train-limit 48000
    row "PyTorch eager CUDA $name, batch 128" "$(grep -o '[0-9.]* samples/s' "$OUT/pytorch-$name.txt" || echo failed)"
done

rm -rf "$work"
{ echo; echo "GPU check ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"; printf '%s\n' "${table[@]}"; } | tee "$OUT/table.txt"
