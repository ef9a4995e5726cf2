#!/usr/bin/env bash
# Side-by-side speed check (dev tool): sgemm rate of `bpfree info`, then one epoch over 12,000
# Fashion-MNIST samples of BP and of concurrent MF on mlp-3x2000 (batch 128, 2 threads),
# interleaved and repeated, so a noisy machine shows in the spread; the last line gives medians.
# With TORCH=1 each repetition also runs Scripts/pytorch_reference_mlp.py on the same model and
# data (needs torch) and prints BP's training throughput against PyTorch's.
#   bash Scripts/bench_mlp_speed.sh [repetitions]   (after `swift build -c release`)
set -euo pipefail
bin=.build/release/bpfree
reps=${1:-3}
out=$(mktemp -d)
for i in $(seq "$reps"); do
  sgemm=$($bin info --threads 2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sgemm_gflops"]["128x2000x2000"])')
  for a in bp mf; do
    extra=(); [ "$a" = mf ] && extra=(--set mf.schedule=concurrent)
    $bin train --algorithm $a --architecture mlp-3x2000 --epochs 1 --train-limit 12000 --threads 2 --no-store \
      "${extra[@]}" --output "$out/$a-$i.json" > /dev/null 2>&1
  done
  torch=""
  if [ "${TORCH:-0}" = 1 ]; then
    torch=$(python3 Scripts/pytorch_reference_mlp.py --widths 2000,2000,2000 --epochs 1 --train-limit 12000 --threads 2 \
      | sed -n 's/.*(\([0-9]*\) samples\/s training only).*/\1/p')
  fi
  python3 - "$out" "$i" "$sgemm" "$torch" <<'PY'
import json, sys
out, i, sgemm, torch = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
bp = json.load(open(f"{out}/bp-{i}.json")); mf = json.load(open(f"{out}/mf-{i}.json"))
f = lambda r: f"{r['train_seconds']:.2f} s, {r['samples_per_second']:.0f} samples/s, {r['flops_per_second']/1e9:.1f} GFLOP/s = {r['flops_per_second']/1e9/sgemm:.0%} of sgemm"
train = lambda r: sum(e['seconds'] - e['val_seconds'] for e in r['epochs'])
print(f"run {i}: sgemm 128x2000x2000 {sgemm:.1f} GFLOP/s | BP {f(bp)} | MF {f(mf)} | MF/BP time {mf['train_seconds']/bp['train_seconds']:.2f}"
      f" (training part only: BP {train(bp):.2f} s, MF {train(mf):.2f} s, {train(mf)/train(bp):.2f})")
if torch:
    print(f"       training only: BP {bp['train_samples'] / train(bp):.0f} samples/s, PyTorch {torch}: {bp['train_samples'] / train(bp) / float(torch):.2f}x")
PY
done
python3 - "$out" "$reps" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
load = lambda a: [json.load(open(f"{out}/{a}-{i}.json")) for i in range(1, reps + 1)]
bp, mf = load("bp"), load("mf")
train = lambda r: sum(e['seconds'] - e['val_seconds'] for e in r['epochs'])
med = lambda xs: statistics.median(xs)
print(f"medians of {reps}: BP {med([r['train_seconds'] for r in bp]):.2f} s ({med([train(r) for r in bp]):.2f} s training part),"
      f" MF {med([r['train_seconds'] for r in mf]):.2f} s ({med([train(r) for r in mf]):.2f} s),"
      f" MF/BP per run {med([m['train_seconds'] / b['train_seconds'] for b, m in zip(bp, mf)]):.2f}"
      f" ({med([train(m) / train(b) for b, m in zip(bp, mf)]):.2f} training part)")
PY
