#!/usr/bin/env bash
# The GPU check: one command for the lent GPU machine (an H100 or H200 with the driver, Python
# 3.12 with PyTorch and NVIDIA's wheels, no Swift, no network), run from the repository root with
# .gpu-bundle carried (Scripts/gpu_bundle.sh builds it). Within 8 minutes it:
#   1. lists the GPUs (nvidia-smi, bpfree info) and the NVIDIA libraries bpfree finds;
#   2. compiles every kernel with the machine's NVRTC for the card (bpfree info --compile-kernels);
#   3. checks the card through bpfree's own host code against the CPU (bpfree info --check-gpu:
#      kernels launched over many blocks, copies, cuBLAS in every transpose, a step as a CUDA graph,
#      cuDNN's three convolution passes);
#   4. trains every rule that runs on a GPU 200 steps (batch 128, seed 1) on the card and on the
#      CPU and compares the losses (relative difference ≤ 1e-3);
#   5. times training on the card (BP and concurrent MF on mlp-3x2000, FF on mlp-4x2000, BP on
#      cnn-3block; the two MLPs also without CUDA graphs, the CNN with each convolution route
#      pinned, and how each of its passes was chosen) and runs a BP training there whose energy NVML measures (energy by meter,
#      10 Hz trace of power, SM clock, utilisation and memory);
#   6. times PyTorch eager CUDA at batch 128 on the issue's models (the peer of every ratio).
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
    find / -name 'libnvrtc.so*' -o -name 'libcublas.so*' -o -name 'libcudnn.so*' -o -name 'libcuda.so*' -o -name 'libnvidia-ml.so*' 2>/dev/null | head -20"
step info 60 "$bpfree" info
row "GPUs (bpfree info)" "$(grep -c '^GPU:' "$OUT/info.txt") listed"

step compile 120 "$bpfree" info --compile-kernels
status=$?
row "kernels compiled (NVRTC, the card's sm)" "$(grep -c '  ok$' "$OUT/compile.txt" || true) ok (exit $status)"

step check 120 "$bpfree" info --check-gpu
status=$?
row "device checks (info --check-gpu)" "$(grep -c '^ok' "$OUT/check.txt" || true) ok, $(grep -c '^FAIL' "$OUT/check.txt" || true) failed (exit $status)"

# 200 steps of each rule on the card and on the CPU: 25,600 samples at batch 128, one epoch a stage.
for rule in "bp" "dfa" "fa" "sign" "drtp" "pepita" "fg" "pc" "ff" "mf" "mf --set mf.schedule=concurrent" "shallow" \
    "bp --architecture cnn-3block" "mf --architecture cnn-3block" "cafo-rand-ce" "cafo-dfa-ce" "cafo --set cafo.loss=sl"; do
    name=$(echo "$rule" | tr -s ' =.' '-')
    for device in cpu cuda; do
        step "steps-$name-$device" 120 "$bpfree" train --algorithm $rule --dataset fashion-mnist --data-dir "$data" --train-limit 25600 \
            --epochs 1 --seed 1 --device $device --no-store --output "$OUT/steps-$name-$device.json"
    done
    row "200 steps $rule: card vs CPU" "$(python3 - "$OUT/steps-$name-cpu.json" "$OUT/steps-$name-cuda.json" <<'PY' 2>&1
import json, sys
cpu, gpu = (json.load(open(path)) for path in sys.argv[1:])
worst = max(max(abs(c[k] - g[k]) / max(abs(c[k]), 1e-12) for k in ("train_loss", "val_loss")) for c, g in zip(cpu["epochs"], gpu["epochs"]))
print(f"{'ok' if worst <= 1e-3 and len(cpu['epochs']) == len(gpu['epochs']) else 'FAIL'}: worst relative loss difference {worst:.2e}, "
      f"{gpu['samples_per_second']:.0f} vs {cpu['samples_per_second']:.0f} samples/s, peak device {gpu.get('peak_device_bytes', 0) / 2**20:.0f} MiB")
PY
)"
done

for rule in "bp mlp-3x2000" "mf mlp-3x2000 --set mf.schedule=concurrent" "ff mlp-4x2000" "bp cnn-3block"; do
    name=$(echo "$rule" | cut -d' ' -f1-2 | tr ' ' '-')
    architecture=$(echo "$rule" | cut -d' ' -f2)
    rule=$(echo "$rule" | cut -d' ' -f1,3-)
    step "speed-$name" 120 "$bpfree" train --algorithm $rule --architecture $architecture --dataset fashion-mnist --data-dir "$data" \
        --train-limit 48000 --epochs 2 --device cuda --no-store --output "$OUT/speed-$name.json"
    # The last epoch's training pass alone is the warm rate to set beside PyTorch's (timed after warm-up
    # batches): the first epoch also holds the first steps' set-up (NVRTC's cache, graphs, convolution choices).
    row "bpfree on the card $name $architecture, batch 128" "$(python3 -c "import json; r=json.load(open('$OUT/speed-$name.json')); e=r['epochs'][-1]; print(round(r['train_samples'] / len(r['epochs']) / (e['seconds'] - e['val_seconds'])), 'samples/s in the last epoch\'s training,', round(r['samples_per_second']), 'over the window,', [round(e['seconds'], 2) for e in r['epochs']], 's per epoch,', r['environment']['gpu'].get('graph_steps'), 'steps as graphs')" 2>&1)"
    # The same without CUDA graphs (every kernel launched by itself), for the MLPs whose steps are launch-bound.
    case $name in bp-mlp-3x2000|ff-mlp-4x2000)
        step "speed-$name-no-graphs" 120 env BPFREE_CUDA_GRAPHS=off "$bpfree" train --algorithm $rule --architecture $architecture \
            --dataset fashion-mnist --data-dir "$data" --train-limit 48000 --epochs 1 --device cuda --no-store --output "$OUT/speed-$name-no-graphs.json"
        row "  the same, BPFREE_CUDA_GRAPHS=off" "$(python3 -c "import json; r=json.load(open('$OUT/speed-$name-no-graphs.json')); print(round(r['samples_per_second']), 'samples/s')" 2>&1)";;
    # The CNN's convolutions: how each pass was chosen (cuDNN or im2col, timed on the card), then each route pinned.
    bp-cnn-3block)
        row "  convolutions (each pass timed both ways)" "$(python3 - "$OUT/speed-$name.json" <<'PY' 2>&1
import json, sys
c = json.load(open(sys.argv[1]))["environment"]["gpu"]["convolutions"]
train = [p for p in c["passes"] if p["shape"].startswith("128×")]
print(c["library"], "|", "; ".join(f"{p['shape'].split(',')[0]} {p['pass']}: {p['route']} {p.get('algorithm')} "
                                   f"{p.get('cudnn_ms', 0):.3f} vs im2col {p.get('im2col_ms', 0):.3f} ms" for p in train))
PY
)"
        for route in cudnn im2col; do
            step "speed-$name-$route" 120 env BPFREE_CUDA_CONVOLUTIONS=$route "$bpfree" train --algorithm $rule --architecture $architecture \
                --dataset fashion-mnist --data-dir "$data" --train-limit 48000 --epochs 1 --device cuda --no-store --output "$OUT/speed-$name-$route.json"
            row "  the same, BPFREE_CUDA_CONVOLUTIONS=$route" "$(python3 -c "import json; r=json.load(open('$OUT/speed-$name-$route.json')); print(round(r['samples_per_second']), 'samples/s')" 2>&1)"
        done;;
    esac
done

step nvml 150 "$bpfree" train --device cuda --algorithm bp --architecture mlp-3x2000 --dataset fashion-mnist --data-dir "$data" \
    --epochs 30 --patience 30 --trace-hz 10 --trace "$OUT/nvml-trace.csv" --output "$OUT/nvml-run.json" --no-store
row "BP on the card measured by NVML" "$(python3 -c "import json; r=json.load(open('$OUT/nvml-run.json')); print(r.get('energy_source'), r.get('energy_by_meter'), r.get('trace_samples'), 'samples in', round(r['train_seconds']), 's')" 2>&1)"

for model in "bp-mlp --widths 2000,2000,2000" "mf-mlp --widths 2000,2000,2000" "ff-mlp --widths 2000,2000,2000,2000" "bp-cnn --channels 32,128,512"; do
    name=$(echo "$model" | cut -d' ' -f1)
    step "pytorch-$name" 120 python3 "$work/scripts/pytorch_speed.py" --model $model --device cuda --data-dir "$data" --train-limit 48000
    row "PyTorch eager CUDA $name, batch 128" "$(grep -o '[0-9.]* samples/s' "$OUT/pytorch-$name.txt" || echo failed)"
done

rm -rf "$work"
{ echo; echo "GPU check ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1))"; printf '%s\n' "${table[@]}"; } | tee "$OUT/table.txt"
