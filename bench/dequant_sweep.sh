#!/bin/sh
# bench/dequant_sweep.sh - tries the tiles per block of the 8-bit / 4-bit dequantizers' grid
# (BNBQ__CUQ_DQ_TPB consecutive tiles a block, grid = tiles / TPB, 256 threads) on a GPU. For each
# value it builds test_gpu and bench_gpu against a modified copy of bnbq_cuda.h, checks that the
# dequantizers stay byte-identical to the CPU, and prints bench_gpu's dequantize lines.
# usage: sh bench/dequant_sweep.sh "1 2 4"
set -u
B=${B:-build}
VALUES=${1:-"1 2 4"}
mkdir -p "$B/sweep"
for v in $VALUES; do
    d=$B/sweep/tpb$v
    rm -rf "$d"; mkdir -p "$d"
    sed "s/^#define BNBQ__CUQ_DQ_TPB 1$/#define BNBQ__CUQ_DQ_TPB $v/" bnbq_cuda.h > "$d/bnbq_cuda.h"
    grep -q "^#define BNBQ__CUQ_DQ_TPB $v$" "$d/bnbq_cuda.h" || { echo "pattern not found"; exit 1; }
    for p in tests/test_gpu.c bench/bench_gpu.c; do
        cc -std=c99 -O2 -ffp-contract=off -I"$d" -I. "$p" -o "$d/$(basename "$p" .c)" -lm -ldl -lpthread || exit 1
    done
    echo "== dequantizer tiles per block $v"
    "$d/test_gpu" --cache-dir "$d/cache" dequantize | grep -E "^(ok|FAIL)|passed"
    "$d/bench_gpu" --only dequantize --runs 30 | grep -E "copy \(|^dequantize.*(met|MISSED)$" | cut -c1-80
done
