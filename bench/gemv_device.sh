#!/bin/sh
# bench/gemv_device.sh - one device run for gemv_4bit work: header, build, test_gpu gemv_4bit,
# compute-sanitizer memcheck + racecheck on test_gpu --small gemv_4bit, then bench/gemv_sweep.sh
# with the settings given (e.g. main:header=../../bnbq_cuda.h new d6:depth=6). Output to stdout.
# Environment: SAN=0 skips the sanitizers; COMPILE=1 runs build/bench_compile --split --only gemv4.
set -u
echo "command: sh bench/gemv_device.sh $*"
echo "git commit: ${C:-unknown}"
date -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
make -s build/test_gpu build/bench_gpu build/bench_compile >/dev/null || exit 1
echo "===== test_gpu gemv_4bit"
./build/test_gpu --cache-dir /tmp/gc gemv_4bit 2>&1 | tail -n 6
if [ "${SAN:-1}" = 1 ]; then
    for tool in memcheck racecheck; do
        echo "===== compute-sanitizer --tool $tool build/test_gpu --small gemv_4bit"
        compute-sanitizer --tool $tool --error-exitcode 99 ./build/test_gpu --small --cache-dir /tmp/gc gemv_4bit >/tmp/san.log 2>&1
        echo "exit $?"; grep -E '^[0-9]+ passed|ERROR SUMMARY|RACECHECK SUMMARY' /tmp/san.log | tail -n 3
        grep -E '^=========' /tmp/san.log | grep -v SUMMARY | head -n 20
    done
fi
if [ "${COMPILE:-0}" = 1 ]; then
    echo "===== bench_compile --split --only gemv4 (sm_90)"
    ./build/bench_compile --split --only gemv4 2>&1 | tail -n 12
fi
echo "===== gemv_sweep"
TEST=${TEST:-0} sh bench/gemv_sweep.sh "$@" 2>&1
