#!/bin/sh
# `make gpu-test`: the CUDA backend on a real GPU.
#   1. build/test_gpu: every operation against the CPU reference (tests/test_gpu.c)
#   2. build/test_gpu_layers: every layer and research function against the CPU
#      (tests/test_gpu_layers.c)
#   3. build/bnbq_vectors --gpu tests/vectors: bitsandbytes' vectors on the GPU
#   4. build/train_switchback: a SwitchBack MLP trained on the GPU (exit 0: it learned)
#   5. if compute-sanitizer is found (PATH, then $CUDA_PATH/bin, /usr/local/cuda/bin):
#      build/test_gpu --small under --tool memcheck and under --tool racecheck, and
#      build/test_gpu_layers --small under --tool memcheck; their summaries are printed and any
#      error the sanitizer reports fails the step (the programs' own failures are steps 1 and
#      2's; they are shown here, not counted again)
# All steps share one kernel cache, build/gpu_test_cache, emptied first (step 1 compiles cold,
# the sanitizer runs load from disk). Without a GPU every step reports a skip and the exit status
# is 0. The last line is "N passed, N failed[, N skipped]" counted in steps.
#   6. the fast builds of tiered compilation (bnbq_cuda_desc.no_tiered_compile): build/test_gpu and
#      build/test_gpu_layers --tier fast (BNBQ_TIERED_COMPILE=fast: every slow kernel runs its fast build,
#      -Ofc, checked against the CPU as in steps 1-2; steps 1-2 run the full builds). Step 3 runs with the
#      default, tiered compilation on: the full builds replace the fast ones as they arrive.
# GPU_TEST_PART=main runs steps 1-4, GPU_TEST_PART=san step 5 alone (with a GPU check first),
# GPU_TEST_PART=fast step 6 alone (its own cache, build/gpu_test_cache_fast, emptied first), the
# default all three: on a fresh H100 the whole takes about 10 minutes, the device tool's limit per command,
# so bench/device_run.sh runs the two parts as two commands. GPU_TEST_PART=san keeps the cache that
# the main part filled (it is emptied only when step 1 runs), so that the sanitizer runs load the
# kernels from disk as in one whole run; without one they compile them.
B=${B:-build}
PART=${GPU_TEST_PART:-all}
case $PART in all|main|san|fast) ;; *) echo "GPU_TEST_PART must be all, main, san or fast (got $PART)"; exit 2 ;; esac
CACHE=$B/gpu_test_cache
pass=0; fail=0; skip=0
log=$(mktemp) || exit 1
[ "$PART" = san ] || [ "$PART" = fast ] || rm -rf "$CACHE"
mkdir -p "$CACHE" || exit 1

if [ "$PART" = san ] || [ "$PART" = fast ]; then
    # only the sanitizer runs: is there a GPU? (test_gpu with a test name that selects nothing
    # still opens the device and prints its SKIP line without one)
    if ./$B/test_gpu --cache-dir "$CACHE" --small nothing-selected 2>&1 | grep -q '^SKIP test_gpu'; then
        have_gpu=0
    else
        have_gpu=1
    fi
else
echo "== test_gpu"
rcfile=$(mktemp) || exit 1
{ ./$B/test_gpu --cache-dir "$CACHE"; echo $? >"$rcfile"; } | tee "$log"
rc=$(cat "$rcfile"); rm -f "$rcfile"
if grep -q '^SKIP test_gpu' "$log" && [ "$rc" -eq 0 ]; then
    skip=$((skip + 1)); have_gpu=0
elif [ "$rc" -eq 0 ]; then
    pass=$((pass + 1)); have_gpu=1
else
    fail=$((fail + 1)); have_gpu=1
fi

echo "== test_gpu_layers"
rcfile=$(mktemp) || exit 1
{ ./$B/test_gpu_layers --cache-dir "$CACHE"; echo $? >"$rcfile"; } | tee "$log"
rc=$(cat "$rcfile"); rm -f "$rcfile"
if grep -q '^SKIP test_gpu_layers' "$log" && [ "$rc" -eq 0 ]; then skip=$((skip + 1))
elif [ "$rc" -eq 0 ]; then pass=$((pass + 1))
else fail=$((fail + 1)); fi

echo "== bnbq_vectors --gpu tests/vectors"
BNBQ_CACHE_DIR=$CACHE ./$B/bnbq_vectors --gpu tests/vectors; rc=$?
if [ $rc -eq 0 ]; then pass=$((pass + 1))
elif [ $rc -eq 2 ] && [ "$have_gpu" = 0 ]; then skip=$((skip + 1))
else fail=$((fail + 1)); fi

echo "== train_switchback"
if [ "$have_gpu" = 0 ]; then echo "skip: no GPU"; skip=$((skip + 1))
else
    BNBQ_CACHE_DIR=$CACHE ./$B/train_switchback; rc=$?
    if [ $rc -eq 0 ]; then pass=$((pass + 1)); else echo "FAIL train_switchback (exit $rc)"; fail=$((fail + 1)); fi
fi

fi   # PART != san

CS=
if [ "$PART" = main ]; then echo "(GPU_TEST_PART=main: the compute-sanitizer runs are GPU_TEST_PART=san)"
elif command -v compute-sanitizer >/dev/null 2>&1; then CS=compute-sanitizer
else
    for d in "${CUDA_PATH:+$CUDA_PATH/bin}" /usr/local/cuda/bin; do
        if [ -n "$d" ] && [ -x "$d/compute-sanitizer" ]; then CS=$d/compute-sanitizer; break; fi
    done
fi
runs="memcheck:test_gpu racecheck:test_gpu memcheck:test_gpu_layers"
[ "$PART" = main ] || [ "$PART" = fast ] && runs=
for run in $runs; do
    tool=${run%%:*}; prog=${run#*:}
    echo "== compute-sanitizer --tool $tool build/$prog --small"
    if [ "$have_gpu" = 0 ]; then echo "skip: no GPU"; skip=$((skip + 1)); continue; fi
    if [ -z "$CS" ]; then echo "skip: compute-sanitizer not found"; skip=$((skip + 1)); continue; fi
    "$CS" --tool "$tool" --error-exitcode 99 ./$B/$prog --small --cache-dir "$CACHE" >"$log" 2>&1; rc=$?
    echo "$prog --small under $tool: $(grep -E '^[0-9]+ passed, ' "$log" | tail -n 1) (exit $rc)"
    grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -n 2
    if [ $rc -ne 99 ] && grep -Eq 'ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards' "$log" &&
       ! grep -Eq 'ERROR SUMMARY: [1-9]|\([1-9][0-9]* errors' "$log"; then
        echo "ok compute-sanitizer $tool $prog: no errors"
        pass=$((pass + 1))
    else
        echo "FAIL compute-sanitizer $tool $prog (exit $rc); first reports:"
        grep -E '^=========' "$log" | head -n 40
        fail=$((fail + 1))
    fi
done
if [ "$PART" = all ] || [ "$PART" = fast ]; then
    FCACHE=$B/gpu_test_cache_fast
    rm -rf "$FCACHE"; mkdir -p "$FCACHE" || exit 1
    for prog in test_gpu test_gpu_layers; do
        echo "== $prog --tier fast"
        if [ "$have_gpu" = 0 ]; then echo "skip: no GPU"; skip=$((skip + 1)); continue; fi
        ./$B/$prog --tier fast --cache-dir "$FCACHE"; rc=$?
        if [ $rc -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    done
fi
rm -f "$log"
echo
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
