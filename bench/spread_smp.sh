#!/bin/sh
# bench/spread_smp.sh - session 12's A/B run of the spread bitmask on the LLM.int8 snapshot path (merged in
# 85f5949; results in bench/results/gpu-20261122-h100-session12-int8-branches.txt); reusable for any int8
# change: build "new" from the working tree instead of the branch. Originally (branch spread-smp; bnbq_cuda.h
# BNBQ__CU_I8_BMS_SMP) in one device call. Build here first (the device copy has no build of main):
#   git show main:bnbq_cuda.h > build/base/bnbq_cuda.h
#   cc -std=c99 -O2 -ffp-contract=off -Ibuild/base -I. bench/bench_gpu.c -o build/bench_gpu_base -lm -ldl -lpthread
#   cc -std=c99 -O2 -ffp-contract=off -I. bench/bench_gpu.c -o build/bench_gpu_new -lm -ldl -lpthread
#   cc -std=c99 -O2 -ffp-contract=off -I. tests/test_gpu.c -o build/test_gpu_new -lm -ldl -lpthread
# then run on the device with carry = those three: sh bench/spread_smp.sh $OUT/LOG  (~2 minutes).
# Merge only if 4096x14336 is faster than main in the same run and everything is byte-identical.
LOG=${1:-/dev/stdout}
{
echo "command: sh bench/spread_smp.sh LOG"
echo "git commit: ${BNBQ_GIT_COMMIT:-unknown}"
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "GPU / driver (nvidia-smi): $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
echo "===== test_gpu int8 cases"
timeout 400 ./build/test_gpu_new int8_vectorwise_quant int8_sample_miss int8_rows_specials int8_double_quant int8_linear_matmul 2>&1 | tail -n 3
echo "===== memcheck / racecheck: test_gpu --small int8_sample_miss"
timeout 200 compute-sanitizer --tool memcheck ./build/test_gpu_new --small int8_sample_miss 2>&1 | tail -n 2
timeout 200 compute-sanitizer --tool racecheck ./build/test_gpu_new --small int8_sample_miss 2>&1 | tail -n 2
for r in 1 2 3; do
    for v in base new; do
        echo "===== $v (round $r): bench_gpu --only int8_vectorwise"
        ./build/bench_gpu_$v --only int8_vectorwise | grep -E "^int8_vectorwise|back-to-back" | head -n 4
    done
done
} 2>&1 | tee "$LOG"
