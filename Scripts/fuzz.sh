#!/bin/bash
# Fuzzes bpfree's readers and parsers with libFuzzer and AddressSanitizer.
#   bash Scripts/fuzz.sh [SECONDS] [TARGET…]      (FUZZ_SEED=N: libFuzzer's seed; 0, the default, is random)
# Builds bpfree-fuzz with -sanitize=fuzzer,address into .build/fuzz, then runs each target
# (all by default) for SECONDS (default 600) on its committed corpus, Fuzz/Corpus/TARGET, plus
# the inputs of earlier crashes, Fuzz/Crashes/TARGET (kept as regression inputs; the tests
# replay both). New corpus entries go to a scratch folder; a crash is written to
# Fuzz/Crashes/TARGET and stops the script with a failure. One line per target at the end:
# its time, executions and outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gzip-idx cifar-tar decoded-cache run-record stored-json architecture dataset settings model)

swift build --product bpfree-fuzz --scratch-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 | grep -v "warning: Cannot export" | tail -1
binary=.build/fuzz/debug/bpfree-fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
summary=()
status=0
for target in "${targets[@]}"; do
    mkdir -p "Fuzz/Corpus/$target" "Fuzz/Crashes/$target" "$scratch/$target"
    log="$scratch/$target.log"
    if SWIFT_BACKTRACE=enable=no BPFREE_FUZZ_TARGET=$target "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -seed="${FUZZ_SEED:-0}" -print_final_stats=1 \
        -artifact_prefix="Fuzz/Crashes/$target/" "$scratch/$target" "Fuzz/Corpus/$target" "Fuzz/Crashes/$target" >"$log" 2>&1; then
        outcome="no crash"
    else
        outcome="FAILED (see Fuzz/Crashes/$target)"
        status=1
        tail -n 40 "$log"
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    summary+=("$target: ${seconds} s, $runs executions, $outcome")
    echo "${summary[-1]}"
done
printf '%s\n' "fuzzing summary:" "${summary[@]}"
exit $status
