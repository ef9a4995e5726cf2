#!/usr/bin/env bash
# Builds what the GPU check machine runs (it has no Swift toolchain and no network): a release
# bpfree with the Swift runtime and Foundation linked statically, the shared libraries it needs
# beyond glibc and libstdc++ (OpenBLAS, oneDNN, SQLite, libpq and theirs), Fashion-MNIST's four
# files and the scripts the check runs, packed as .gpu-bundle/bundle.tar.xz (at most 64 MiB: what
# the device tool carries). Scripts/gpu_check.sh unpacks and runs it there.
#
#   bash Scripts/gpu_bundle.sh          then: run (carry .gpu-bundle) bash Scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-bundle
stage=$out/stage
rm -rf "$out"
mkdir -p "$stage/lib" "$stage/data/fashion-mnist" "$stage/scripts"
# A static FoundationNetworking links libcurl (the dataset downloader): its development files.
if ! ls /usr/lib/*/libcurl.so >/dev/null 2>&1; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libcurl4-openssl-dev >&2
fi
swift build -c release --static-swift-stdlib --scratch-path .build-static --product bpfree >&2
binary=.build-static/release/bpfree
# Without its symbol tables (a third of its size): the bundle must fit in 64 MiB.
strip -o "$stage/bpfree" "$binary"
# Every library the binary loads except the C runtime and the compiler's: the card machine has those.
ldd "$binary" | awk '/=> \//{print $3}' | sort -u | while read -r library; do
    case "$(basename "$library")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
        *) cp -L "$library" "$stage/lib/" ;;
    esac
done
data=${BPFREE_DATA:-/usr/share/datasets}/fashion-mnist
# Raw IDX compresses better under xz than gzip's copies; gpu_check.sh gzips them back (bpfree
# accepts recompressed copies by the MD5 of their contents).
for file in "$data"/*-ubyte.gz; do gunzip -c "$file" > "$stage/data/fashion-mnist/$(basename "$file" .gz)"; done
cp Scripts/pytorch_speed.py Scripts/safetensors_check.py "$stage/scripts/"
tar -C "$stage" -cf - . | xz -T0 -9 > "$out/bundle.tar.xz"
rm -rf "$stage"
size=$(stat -c %s "$out/bundle.tar.xz")
echo "$out/bundle.tar.xz: $((size / 1048576)) MiB" >&2
if [ "$size" -gt $((64 * 1048576)) ]; then
    echo "gpu_bundle.sh: the bundle is over the 64 MiB the device tool carries" >&2
    exit 1
fi
