#!/bin/sh
# bench/device_run.sh - the GPU checks and benchmarks of one device session:
#   tests: make gpu-test, build/bench_compile --repeat 2 (cold NVRTC wall time per unit, and the faster
#          of two compilations of each), the GPU quickstart
#   bench: make bench-gpu (read-only L2 flush; gemv and LLM.int8 also back-to-back with rotated
#          inputs), the gemv lines again with the fast order (bench_gpu --gemv-fast)
# Header: command, commit, date, GPU and driver. Usage: sh bench/device_run.sh [LOG [tests|bench|all]]
# (all, the default, takes about 10 minutes on an H100: the device tool's limit per command, so run
# the two parts as two commands there.)
LOG=${1:-/dev/stdout}
PART=${2:-all}
{
echo "command: sh bench/device_run.sh LOG $PART"
# the device tool ships the working tree with stale .git metadata: pass BNBQ_GIT_COMMIT from here
COMMIT=${BNBQ_GIT_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
export BNBQ_GIT_COMMIT=$COMMIT
echo "git commit: $COMMIT"
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "GPU / driver (nvidia-smi): $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) threads"
echo
make -s all >/dev/null || { echo "build failed"; exit 1; }
if [ "$PART" != bench ]; then
echo "===== make gpu-test"; make -s gpu-test
echo; echo "===== build/bench_compile 90 --repeat 2"; make -s build/bench_compile && ./build/bench_compile 90 --repeat 2
echo; echo "===== build/gpu_quickstart"; ./build/gpu_quickstart
fi
if [ "$PART" != tests ]; then
echo; echo "===== make bench-gpu (read-only L2 flush)"; make -s bench-gpu GIT_COMMIT="$COMMIT"
echo; echo "===== bench_gpu --gemv-fast --only gemv_4bit (bnbq_cuda_desc.gemv_fast_order = 1: the tensor-core gemv)"
./build/bench_gpu --gemv-fast --only gemv_4bit | grep -E "copy \(|^gemv_4bit|back-to-back"
fi
} 2>&1 | tee "$LOG"
