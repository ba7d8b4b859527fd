#!/bin/sh
# bench/gemv_sweep.sh - tries gemv_4bit variants on a GPU. For each setting it embeds a modified copy
# of the kernels into build/sweep/<name>/bnbq_cuda.h, builds bench_gpu (and test_gpu with TEST=1:
# its gemv_4bit check runs first) and prints bench_gpu's gemv lines.
# usage: sh bench/gemv_sweep.sh SETTING...
#   SETTING = name[:knob=value,...] with the knobs
#     fast=1      the launcher uses the fast (tensor-core) summation order (bnbq_cuda_desc.gemv_fast_order)
#     rows=N      rows per warp (BNBQ_G4_R in kernels_src/gemv4.cu and BNBQ__CU_G4_R in the launcher)
#     depth=N     weight steps in the ring per lane (BNBQ_G4_DEPTH and BNBQ__CU_G4_DEPTH)
#     seg=N       steps per staged activation segment (BNBQ_G4_SEG; 4 fills the 48 KB in f16/bf16)
#     maxw=N      most warps per block (BNBQ_G4_MAXT and BNBQ__CU_G4_MAXW)
#     evict=0     plain weight loads instead of the L2 evict-first policy (BNBQ_G4_EVICT_FIRST)
#     probe=1     the memory probe (BNBQ_G4_PROBE in gemv4.cu): the loads alone, wrong results
#     header=PATH another bnbq_cuda.h as it is (e.g. an older commit's, for a before/after)
#   e.g. sh bench/gemv_sweep.sh exact fast:fast=1 rows4:rows=4 d3:depth=3
# Environment: TEST=1 runs test_gpu gemv_4bit per setting; L2=1 also runs bench/gemv_l2.c (the same
# calls after a dirty, a clean and no L2 flush); RUNS (default 30); ONLY (default gemv_4bit).
set -u
B=${B:-build}
RUNS=${RUNS:-30}
ONLY=${ONLY:-gemv_4bit}
mkdir -p "$B/sweep"
make -s "$B/embed" || exit 1
for setting in "$@"; do
    name=${setting%%:*}
    knobs=
    case "$setting" in *:*) knobs=${setting#*:} ;; esac
    d=$B/sweep/$name
    rm -rf "$d"; mkdir -p "$d/k"
    cp kernels_src/prelude.cuh kernels_src/*.cu "$d/k/"
    cp bnbq_cuda.h "$d/bnbq_cuda.h"
    hdr=
    for kv in $(echo "$knobs" | tr ',' ' '); do
        k=${kv%%=*}; v=${kv#*=}
        case "$k" in
            fast) [ "$v" = 1 ] && sed -i 's/def = defs\[c->desc.gemv_fast_order == 0\]/def = defs[0]/' "$d/bnbq_cuda.h" ;;
            rows) sed -i "s/^#define BNBQ_G4_R [0-9]* /#define BNBQ_G4_R $v /" "$d/k/gemv4.cu"
                  sed -i "s/^#define BNBQ__CU_G4_R [0-9]* /#define BNBQ__CU_G4_R $v /" "$d/bnbq_cuda.h" ;;
            depth) sed -i "s/^#define BNBQ_G4_DEPTH [0-9]* /#define BNBQ_G4_DEPTH $v /" "$d/k/gemv4.cu"
                   sed -i "s/^#define BNBQ__CU_G4_DEPTH [0-9]* /#define BNBQ__CU_G4_DEPTH $v /" "$d/bnbq_cuda.h" ;;
            seg) sed -i "s/^#define BNBQ_G4_SEG [0-9]* /#define BNBQ_G4_SEG $v /" "$d/k/gemv4.cu" ;;
            maxw) sed -i "s/^#define BNBQ_G4_MAXT [0-9]* /#define BNBQ_G4_MAXT $((v * 32)) /" "$d/k/gemv4.cu"
                  sed -i "s/^#define BNBQ__CU_G4_MAXW [0-9]* /#define BNBQ__CU_G4_MAXW $v /" "$d/bnbq_cuda.h" ;;
            evict) sed -i "s/^#define BNBQ_G4_EVICT_FIRST 1/#define BNBQ_G4_EVICT_FIRST $v/" "$d/k/gemv4.cu" ;;
            probe) sed -i "s/^#define BNBQ_G4_PROBE 0/#define BNBQ_G4_PROBE $v/" "$d/k/gemv4.cu" ;;
            header) hdr=$v ;;
            *) echo "unknown knob $k"; exit 2 ;;
        esac
    done
    if [ -n "$hdr" ]; then
        cp "$hdr" "$d/bnbq_cuda.h" || exit 1
    else
        "./$B/embed" "$d/bnbq_cuda.h" "$d/bnbq_cuda.h" "$d/k/prelude.cuh" $(ls "$d"/k/*.cu | sort) || exit 1
    fi
    progs=bench/bench_gpu.c
    [ "${TEST:-0}" = 1 ] && progs="$progs tests/test_gpu.c"
    [ "${L2:-0}" = 1 ] && progs="$progs bench/gemv_l2.c"
    for p in $progs; do
        cc -std=c99 -O2 -ffp-contract=off -I"$d" -I. "$p" -o "$d/$(basename "$p" .c)" -lm -ldl -lpthread || exit 1
    done
    echo "== $name ($knobs)"
    if [ "${TEST:-0}" = 1 ]; then
        "$d/test_gpu" --cache-dir "$d/cache" gemv_4bit | grep -E "gemv|passed"
    fi
    "$d/bench_gpu" --runs "$RUNS" --only "$ONLY" | grep -E "^  copy|^gemv_4bit" | head -7
    if [ "${L2:-0}" = 1 ]; then "$d/gemv_l2" "$RUNS"; fi
done
