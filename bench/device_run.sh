#!/bin/sh
# bench/device_run.sh - the GPU checks and benchmarks of one device session, in one command:
# make gpu-test, make bench-gpu (read-only L2 flush), the gemv lines again with the fast order
# (bench_gpu --gemv-fast), build/bench_compile (cold NVRTC wall time per unit) and the GPU
# quickstart. Header: command, commit, date, GPU and driver. Usage: sh bench/device_run.sh [LOG]
LOG=${1:-/dev/stdout}
{
echo "command: sh bench/device_run.sh"
# the device tool ships the working tree with stale .git metadata: pass BNBQ_GIT_COMMIT from here
COMMIT=${BNBQ_GIT_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
export BNBQ_GIT_COMMIT=$COMMIT
echo "git commit: $COMMIT"
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "GPU / driver (nvidia-smi): $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) threads"
echo
make -s all >/dev/null || { echo "build failed"; exit 1; }
echo "===== make gpu-test"; make -s gpu-test
echo; echo "===== make bench-gpu (read-only L2 flush)"; make -s bench-gpu GIT_COMMIT="$COMMIT"
echo; echo "===== bench_gpu --gemv-fast --only gemv_4bit (bnbq_cuda_desc.gemv_fast_order = 1: the tensor-core gemv)"
./build/bench_gpu --gemv-fast --only gemv_4bit | grep -E "copy \(|^gemv_4bit"
echo; echo "===== build/bench_compile 90"; make -s build/bench_compile && ./build/bench_compile 90
echo; echo "===== build/gpu_quickstart"; ./build/gpu_quickstart
} 2>&1 | tee "$LOG"
