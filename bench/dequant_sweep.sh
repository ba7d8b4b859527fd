#!/bin/sh
# bench/dequant_sweep.sh - tries the blocks-per-SM factor of the 8-bit / 4-bit dequantizers' grid
# (min(tiles, FACTOR x SMs), 256 threads) on a GPU. For each factor it builds test_gpu and
# bench_gpu against a modified copy of bnbq_cuda.h, checks that the dequantizers stay
# byte-identical to the CPU, and prints bench_gpu's dequantize lines.
# usage: sh bench/dequant_sweep.sh "8 16 32"
set -u
B=${B:-build}
FACTORS=${1:-"8 16 32"}
mkdir -p "$B/sweep"
for f in $FACTORS; do
    d=$B/sweep/dq$f
    rm -rf "$d"; mkdir -p "$d"
    sed "s/bnbq__cuq_dtiles(n, dt), 16)/bnbq__cuq_dtiles(n, dt), $f)/" bnbq_cuda.h > "$d/bnbq_cuda.h"
    grep -c "bnbq__cuq_dtiles(n, dt), $f)" "$d/bnbq_cuda.h" >/dev/null || { echo "pattern not found"; exit 1; }
    for p in tests/test_gpu.c bench/bench_gpu.c; do
        cc -std=c99 -O2 -ffp-contract=off -I"$d" -I. "$p" -o "$d/$(basename "$p" .c)" -lm -ldl -lpthread || exit 1
    done
    echo "== dequantizer grid factor $f"
    "$d/test_gpu" --cache-dir "$d/cache" dequantize | grep -E "^(ok|FAIL)|passed"
    "$d/bench_gpu" --runs 30 | grep -E "^dequantize" | awk '{print $1, $2, $3, $4, $(NF-4), $(NF-3)}' | head -24
done
