#!/bin/sh
# bench/device_run.sh - the GPU checks and benchmarks of one device session:
#   tests: make gpu-test without its compute-sanitizer runs (GPU_TEST_PART=main), the GPU quickstart
#   compile: build/bench_compile --repeat 2 (cold NVRTC wall time per unit, and the faster of two
#          compilations of each; its own part since session 25: after the tests it no longer fitted the
#          device tool's 600 s a command on a fresh H100)
#   fast:  make gpu-test's runs of the fast builds of tiered compilation alone (GPU_TEST_PART=fast)
#   san:   make gpu-test's compute-sanitizer runs alone (GPU_TEST_PART=san; after tests on the same
#          machine they load the kernels tests compiled into build/gpu_test_cache)
#   bench: make bench-gpu (read-only L2 flush; gemv and LLM.int8 also back-to-back with rotated
#          inputs), the gemv lines again with the fast order (bench_gpu --gemv-fast)
# Header: command, commit, date, GPU and driver. Usage: sh bench/device_run.sh [LOG [tests|san|fast|compile|bench|all]]
# (all, the default, takes more than 10 minutes on a fresh H100, the device tool's limit per command:
# run the parts as separate commands there, tests before san. Session 20 measured test_gpu's cold
# compile at 163 s and racecheck of test_gpu --small at 307 s with the compile inside it.)
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
case $PART in all|tests|san|fast|compile|bench) ;; *) echo "part must be tests, san, fast, compile, bench or all (got $PART)"; exit 2 ;; esac
if [ "$PART" = tests ] || [ "$PART" = all ]; then
echo "===== make gpu-test GPU_TEST_PART=main"; GPU_TEST_PART=main make -s gpu-test
echo; echo "===== build/gpu_quickstart"; ./build/gpu_quickstart
fi
if [ "$PART" = compile ] || [ "$PART" = all ]; then
echo; echo "===== build/bench_compile 90 --repeat 2 --tiered"; make -s build/bench_compile && ./build/bench_compile 90 --repeat 2 --tiered
fi
if [ "$PART" = fast ] || [ "$PART" = all ]; then
echo; echo "===== make gpu-test GPU_TEST_PART=fast"; GPU_TEST_PART=fast make -s gpu-test
fi
if [ "$PART" = san ] || [ "$PART" = all ]; then
echo; echo "===== make gpu-test GPU_TEST_PART=san"; GPU_TEST_PART=san make -s gpu-test
fi
if [ "$PART" = bench ] || [ "$PART" = all ]; then
echo; echo "===== make bench-gpu (read-only L2 flush)"; make -s bench-gpu GIT_COMMIT="$COMMIT"
echo; echo "===== bench_gpu --gemv-fast --only gemv_4bit (bnbq_cuda_desc.gemv_fast_order = 1: the tensor-core gemv)"
./build/bench_gpu --gemv-fast --only gemv_4bit | grep -E "copy \(|^gemv_4bit|back-to-back"
fi
} 2>&1 | tee "$LOG"
