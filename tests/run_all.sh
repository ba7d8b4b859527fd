#!/bin/sh
# Runs every test program and sums their closing "N passed, N failed[, N skipped]" lines.
# Exit status 0 only when every program ran and nothing failed.
B=${B:-build}
total_p=0; total_f=0; total_s=0; status=0
log=$(mktemp)
run() {
    name=$1; shift
    echo "== $name"
    "$@" >"$log" 2>&1; rc=$?
    cat "$log"
    line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! $name printed no summary (exit $rc)"; total_f=$((total_f + 1)); status=1; return
    fi
    p=$(echo "$line" | sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=${s:-0}
    total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + s))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then status=1; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then total_f=$((total_f + 1)); echo "!! $name exited $rc"; fi
}
# a command without a summary line of its own: exit status 0 counts as one pass
run_status() {
    name=$1; shift
    echo "== $name"
    "$@" >"$log" 2>&1; rc=$?
    cat "$log"
    if [ "$rc" -eq 0 ]; then total_p=$((total_p + 1)); else total_f=$((total_f + 1)); status=1; echo "!! $name exited $rc"; fi
}
# bnbq_precompile on a temporary directory: compiles every unit (kernel of a variant) as compute_90
# PTX (the cheaper compilation; test_cuda's precompile-sm90 writes cubins), then the directory must
# hold one entry per unit
precompile_example() {
    d=$(mktemp -d) || return 1
    ./$B/bnbq_precompile --arch 90 --ptx --out "$d" >"$d.log" 2>&1; rc=$?
    cat "$d.log"
    n=$(ls "$d" | grep -c '\.bnbqk$')
    v=$(sed -nE 's/^ok sm_90: [0-9]+ variants, ([0-9]+) units.*/\1/p' "$d.log")
    rm -rf "$d" "$d.log"
    if [ "$rc" -eq 0 ] && [ "$n" -gt 0 ] && [ "$n" = "$v" ]; then echo "bnbq_precompile: $n entries for $v units"; return 0; fi
    echo "bnbq_precompile: exit $rc, $n entries for ${v:-?} units"; return 1
}
run compile-tests   sh tests/compile_tests.sh
run unit            ./$B/test_bnbq
run prims           ./$B/test_prims
run layers-embed    ./$B/test_layers_embed
run layers          ./$B/test_layers
run io              ./$B/test_io
run io-no-stdio     ./$B/test_io_nostdio
run layers-bars     ./$B/test_layers_bars
run_status train-switchback ./$B/train_switchback
run_status quant-tables ./$B/quant_tables 200
run vectors         ./$B/bnbq_vectors tests/vectors
# every SIMD level against the scalar reference, and the vectors under each forced level
run simd            ./$B/test_simd
run simd-no-simd    ./$B/test_simd_nosimd
run vectors-simd-scalar env BNBQ_SIMD=scalar ./$B/bnbq_vectors tests/vectors
run vectors-simd-avx2 env BNBQ_SIMD=avx2 ./$B/bnbq_vectors tests/vectors
run neon-qemu       ${MAKE:-make} -s test-neon
run unit-asan-ubsan ./$B/test_bnbq_san --quick
run layers-asan-ubsan ./$B/test_layers_san
run io-asan-ubsan   ./$B/test_io_san --quick
run vectors-asan-ubsan ./$B/bnbq_vectors_san tests/vectors
run simd-asan-ubsan  ./$B/test_simd_san --quick
run prims-asan-ubsan ./$B/test_prims_san --quick
run layers-embed-asan-ubsan ./$B/test_layers_embed_san --quick
# --quick: test_kbit_backprop 10 of its 100 iterations, the 100-forward loops 10 (the bars are the same)
run layers-bars-asan-ubsan ./$B/test_layers_bars_san --quick
run_status check-embed ${MAKE:-make} -s check-embed
run nvrtc-check     ./$B/nvrtc_check
run cuda-loader-cache sh tests/test_cuda.sh
run cuda-loader-cache-asan-ubsan sh tests/test_cuda.sh --quick ./$B/test_cuda_san ./$B/test_gpu_san ./$B/bnbq_vectors_san ./$B/test_gpu_layers_san
run_status bnbq_precompile precompile_example
run_status gpu_quickstart ./$B/gpu_quickstart
rm -f "$log"
echo
if [ "$total_s" -gt 0 ]; then echo "$total_p passed, $total_f failed, $total_s skipped"; else echo "$total_p passed, $total_f failed"; fi
exit $status
