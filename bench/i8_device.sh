#!/bin/sh
# bench/i8_device.sh - LLM.int8 quantization on the device: the int8 tests, bench_gpu's two
# int8_vectorwise_quant lines, and ncu's duration per kernel (init, rows, fix) of one call each.
# Usage (device tool): BNBQ_GIT_COMMIT=<commit> sh bench/i8_device.sh
echo "git commit: $BNBQ_GIT_COMMIT"; date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
make -s build/test_gpu build/bench_gpu >/dev/null || exit 1
./build/test_gpu --cache-dir /tmp/c int8 quantize_rowwise > $OUT/test.txt 2>&1; grep -E "FAIL|passed" $OUT/test.txt | head -20
./build/bench_gpu --only int8_vectorwise --runs 50 | grep -E "^int8|copy \(" | head -3
ncu --clock-control none -k regex:bnbq_k_int8 --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed ./build/bench_gpu --only int8_vectorwise_quant --runs 1 --warmup 0 > $OUT/ncu.txt 2>&1
grep -vE "==PROF==" $OUT/ncu.txt | grep -E "bnbq_k_int8|duration|dram__" | head -24
