#!/bin/sh
# bench/gemv_sweep.sh - tries gemv_4bit tuning knobs on a GPU: the weight prefetch depth of the
# kernel (BNBQ_G4_DEPTH in kernels_src/gemv4.cu) and the blocks per SM of its launcher. For each
# setting it embeds a modified copy of the kernels into build/sweep/<setting>/bnbq_cuda.h, checks
# that gemv_4bit stays byte-identical to the CPU (test_gpu gemv), and prints bench_gpu's gemv lines.
# usage: sh bench/gemv_sweep.sh "3 5" "4 6"     (depths, blocks per SM on sm_80/sm_90)
set -u
B=${B:-build}
DEPTHS=${1:-"3 5"}
PERSMS=${2:-"4 6"}
mkdir -p "$B/sweep"
make -s "$B/embed" || exit 1
for depth in $DEPTHS; do
    for persm in $PERSMS; do
        d=$B/sweep/d${depth}_s${persm}
        rm -rf "$d"; mkdir -p "$d/k"
        cp kernels_src/prelude.cuh kernels_src/*.cu "$d/k/"
        sed -i "s/^#define BNBQ_G4_DEPTH [0-9]* /#define BNBQ_G4_DEPTH $depth /" "$d/k/gemv4.cu"
        cp bnbq_cuda.h "$d/bnbq_cuda.h"
        sed -i "s/(cc == 80 || cc >= 90) ? 4 :/(cc == 80 || cc >= 90) ? $persm :/" "$d/bnbq_cuda.h"
        "./$B/embed" "$d/bnbq_cuda.h" "$d/bnbq_cuda.h" "$d/k/prelude.cuh" $(ls "$d"/k/*.cu | sort) || exit 1
        for p in tests/test_gpu.c bench/bench_gpu.c; do
            cc -std=c99 -O2 -ffp-contract=off -I"$d" -I. "$p" -o "$d/$(basename "$p" .c)" -lm -ldl -lpthread || exit 1
        done
        echo "== BNBQ_G4_DEPTH=$depth, blocks per SM $persm"
        "$d/test_gpu" --cache-dir "$d/cache" gemv | grep -E "gemv|passed"
        "$d/bench_gpu" --runs 30 | grep -E "^gemv_4bit" | head -6
    done
done
