#!/bin/sh
# bench/quant_sweep.sh - tries the quantizers' knobs on a GPU: BQ_PREFETCH (kernels_src/quant.cu:
# load the next tile before coding this one) and the blocks per SM of their launchers
# (BNBQ__CUQ_QBLOCKS in bnbq_cuda.h). For each setting it embeds a modified copy of the kernels
# into build/sweep/<setting>/bnbq_cuda.h, checks that the quantizers stay byte-identical to the
# CPU (test_gpu quantize) and prints bench_gpu's quantize lines.
# usage: sh bench/quant_sweep.sh "1 0" "4 8"     (prefetch on/off, blocks per SM)
set -u
B=${B:-build}
PREFETCH=${1:-"1 0"}
QBLOCKS=${2:-"4 8"}
mkdir -p "$B/sweep"
make -s "$B/embed" || exit 1
for pf in $PREFETCH; do
    for qb in $QBLOCKS; do
        d=$B/sweep/q_pf${pf}_b${qb}
        rm -rf "$d"; mkdir -p "$d/k"
        cp kernels_src/prelude.cuh kernels_src/*.cu "$d/k/"
        sed -i "s/^#define BQ_PREFETCH [0-9]*$/#define BQ_PREFETCH $pf/" "$d/k/quant.cu"
        grep -q "^#define BQ_PREFETCH $pf$" "$d/k/quant.cu" || { echo "pattern not found"; exit 1; }
        cp bnbq_cuda.h "$d/bnbq_cuda.h"
        "./$B/embed" "$d/bnbq_cuda.h" "$d/bnbq_cuda.h" "$d/k/prelude.cuh" $(ls "$d"/k/*.cu | sort) || exit 1
        for p in tests/test_gpu.c bench/bench_gpu.c; do
            cc -std=c99 -O2 -ffp-contract=off -DBNBQ__CUQ_QBLOCKS=$qb -I"$d" -I. "$p" \
                -o "$d/$(basename "$p" .c)" -lm -ldl -lpthread || exit 1
        done
        echo "== BQ_PREFETCH=$pf, blocks per SM $qb"
        "$d/test_gpu" --cache-dir "$d/cache" quantize_blockwise quantize_4bit | grep -E "^(ok|FAIL)|passed"
        "$d/bench_gpu" --runs 30 --only quantize_blockwise,quantize_4bit | grep -E "^(quantize|  copy)"
    done
done
