#!/bin/sh
# Runs every scenario of build/test_cuda in its own process (bnbq loads libcuda and NVRTC once per
# process) and sums the results. Builds the fake driver libraries first (tests/fake_libcuda.c):
#   build/fake_libcuda/libcuda_full.so   every symbol bnbq resolves, a simulated GPU
#   build/fake_libcuda/libcuda_cuinit.so cuInit only
# The toolkit's stub libcuda.so is looked up in $CUDA_PATH/lib64/stubs and /usr/local/cuda.
#
# Then the GPU code paths of the other programs against the fake driver (found as libcuda.so.1
# through LD_LIBRARY_PATH; its "device" memory is host memory and it runs no kernels):
#   gpu-plumbing-vectors   build/bnbq_vectors --gpu-plumbing tests/vectors: the runner's device
#                          copies with the CPU kernels; every case must pass
#   gpu-plumbing-test_gpu  build/test_gpu --small --fake-plumbing: test_gpu's copies, poisoning
#                          and comparisons with the CPU kernels; every operation must pass
#   gpu-plumbing-test_gpu_layers  build/test_gpu_layers --small --fake-plumbing: the layer test's
#                          setup, copies, comparisons and step counters with a CPU exec in place
#                          of the GPU's; every group must pass
#   bench-gpu-smoke        build/bench_gpu --smoke: runs to the end (its numbers mean nothing)
#
# usage: sh tests/test_cuda.sh [--quick] [PROGRAM [TEST_GPU [VECTORS [TEST_GPU_LAYERS]]]]
#        (default build/test_cuda, build/test_gpu, build/bnbq_vectors, build/test_gpu_layers; the
#        sanitizer pass gives build/test_cuda_san build/test_gpu_san build/bnbq_vectors_san
#        build/test_gpu_layers_san)
#        --quick leaves out the compilations of the whole kernel table and the bench_gpu smoke run
#        (for the sanitizer pass, whose bench_gpu is the plain pass's program)
# Output: the scenarios' "ok" / "FAIL" / "skip" lines, then "N passed, N failed[, N skipped]".
# Exit status 0 only when no scenario failed.
B=${B:-build}
QUICK=
if [ "$1" = "--quick" ]; then QUICK=--quick; shift; fi
PROG=${1:-$B/test_cuda}
TEST_GPU=${2:-$B/test_gpu}
VECTORS=${3:-$B/bnbq_vectors}
TEST_GPU_LAYERS=${4:-$B/test_gpu_layers}
CC=${CC:-cc}
FAKE=$B/fake_libcuda
mkdir -p "$FAKE" || exit 1

if [ ! -x "$PROG" ]; then
    echo "FAIL test_cuda: $PROG is not built"
    echo "0 passed, 1 failed"
    exit 1
fi

if ! $CC -std=c99 -Wall -Wextra -pedantic -O2 -shared -fPIC tests/fake_libcuda.c -o "$FAKE/libcuda_full.so" \
   || ! $CC -std=c99 -Wall -Wextra -pedantic -O2 -shared -fPIC -DFAKE_ONLY_CUINIT tests/fake_libcuda.c \
          -o "$FAKE/libcuda_cuinit.so"; then
    echo "FAIL test_cuda: cannot build the fake driver libraries"
    echo "0 passed, 1 failed"
    exit 1
fi
mkdir -p "$FAKE/so1" && cp "$FAKE/libcuda_full.so" "$FAKE/so1/libcuda.so.1" || exit 1
BNBQ_TEST_FAKE_CUDA=$(cd "$FAKE" && pwd)/libcuda_full.so
BNBQ_TEST_FAKE_CUINIT_ONLY=$(cd "$FAKE" && pwd)/libcuda_cuinit.so
export BNBQ_TEST_FAKE_CUDA BNBQ_TEST_FAKE_CUINIT_ONLY
# kernels_src/embed.c's --transform mode, for the embed-guards scenario
BNBQ_TEST_EMBED=$B/embed
export BNBQ_TEST_EMBED

BNBQ_TEST_STUB_CUDA=
for s in "${CUDA_PATH:+$CUDA_PATH/lib64/stubs/libcuda.so}" /usr/local/cuda/lib64/stubs/libcuda.so \
         /usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so; do
    if [ -n "$s" ] && [ -f "$s" ]; then BNBQ_TEST_STUB_CUDA=$s; break; fi
done
export BNBQ_TEST_STUB_CUDA

# the scenarios must not depend on the user's cache or NVRTC settings, except BNBQ_NVRTC_PATH
# (CI points it at an NVRTC installed from PyPI)
unset BNBQ_CACHE_DIR XDG_CACHE_HOME

pass=0; fail=0; skip=0
out=$(mktemp) || exit 1
for name in $("$PROG" --list); do
    "$PROG" $QUICK "$name" >"$out" 2>&1
    rc=$?
    line=$(grep -E "^(ok|FAIL|skip) $name" "$out" | tail -n 1)
    cat "$out"
    case $line in
        "ok "*)   if [ $rc -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "!! $name exited $rc"; fi ;;
        "skip "*) skip=$((skip + 1)) ;;
        "FAIL "*) fail=$((fail + 1)) ;;
        *)        fail=$((fail + 1)); echo "FAIL $name: no result line (exit $rc; crashed?)" ;;
    esac
done

# programs with a --gpu path, against the fake driver: NAME EXPECTED-SUMMARY-REGEX COMMAND...
plumb() {
    name=$1; want=$2; shift 2
    cache=$(mktemp -d) || exit 1
    LD_LIBRARY_PATH="$FAKE/so1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" BNBQ_CACHE_DIR="$cache" "$@" >"$out" 2>&1
    rc=$?
    rm -rf "$cache"
    last=$(tail -n 1 "$out")
    if [ $rc -eq 0 ] && echo "$last" | grep -Eq "$want"; then
        echo "ok $name: $last"; pass=$((pass + 1))
    else
        echo "FAIL $name: exit $rc, last line: $last"; tail -n 15 "$out" | sed -e 's/^/    /'; fail=$((fail + 1))
    fi
}
if [ -x "$VECTORS" ]; then
    plumb gpu-plumbing-vectors '^[1-9][0-9]* passed, 0 failed' "$VECTORS" --gpu-plumbing tests/vectors
else
    echo "FAIL gpu-plumbing-vectors: $VECTORS is not built"; fail=$((fail + 1))
fi
if [ -x "$TEST_GPU" ]; then
    plumb gpu-plumbing-test_gpu '^[1-9][0-9]* passed, 0 failed' "$TEST_GPU" --small --fake-plumbing
else
    echo "FAIL gpu-plumbing-test_gpu: $TEST_GPU is not built"; fail=$((fail + 1))
fi
if [ -x "$TEST_GPU_LAYERS" ]; then
    plumb gpu-plumbing-test_gpu_layers '^[1-9][0-9]* passed, 0 failed' "$TEST_GPU_LAYERS" --small --fake-plumbing
else
    echo "FAIL gpu-plumbing-test_gpu_layers: $TEST_GPU_LAYERS is not built"; fail=$((fail + 1))
fi
if [ -n "$QUICK" ]; then
    :   # the sanitizer pass: its bench_gpu is the plain pass's program, which that pass runs
elif [ -x "$B/bench_gpu" ]; then
    plumb bench-gpu-smoke 'cold compile' "$B/bench_gpu" --smoke
else
    echo "FAIL bench-gpu-smoke: $B/bench_gpu is not built"; fail=$((fail + 1))
fi
rm -f "$out"
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
