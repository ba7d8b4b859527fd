#!/bin/sh
# Runs every test program and sums their closing "N passed, N failed[, N skipped]" lines.
# Exit status 0 only when every program ran and nothing failed.
# The programs run BNBQ_TEST_JOBS at a time (default: the number of CPUs; 1 runs them one after
# the other). Each program's output is printed as one block ("== NAME", the output, "-- NAME: N s, CPU N s"
# with its wall and CPU time), in the order of the list below.
B=${B:-build}
JOBS=${BNBQ_TEST_JOBS:-$( (nproc || getconf _NPROCESSORS_ONLN) 2>/dev/null || echo 1)}
case $JOBS in ''|*[!0-9]*|0) JOBS=1 ;; esac
work=$(mktemp -d) || exit 1
workers=
trap 'for w in $workers; do kill "$w" 2>/dev/null; done; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# cpu_s: the CPU seconds (user + system) of this worker's commands between its files $out.t0 and
# $out.t1 (written by `times` in the worker's shell, not a subshell: it counts finished children)
cpu_s() {
    awk 'FNR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); n[FILENAME] += a[1] * 60 + a[2] } }
         END { printf "%.0f", n[ARGV[2]] - n[ARGV[1]] }' "$out.t0" "$out.t1"
    rm -f "$out.t0" "$out.t1"
}
# run NAME COMMAND...: the command's output goes to NAME's block, its last summary line to
# NAME's result ("passed failed skipped status"); a command without a summary fails
run() {
    name=$1; shift
    out=$work/$name; t0=$(date +%s); times >"$out.t0"
    { echo "== $name"; "$@" >"$out.cmd" 2>&1; rc=$?; cat "$out.cmd"; } >"$out.log"
    line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$out.cmd" | tail -n 1)
    if [ -z "$line" ]; then
        echo "!! $name printed no summary (exit $rc)" >>"$out.log"; echo "0 1 0 1" >"$out.res"
    else
        p=$(echo "$line" | sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
        s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=${s:-0}
        st=0
        if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then st=1; fi
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "!! $name exited $rc" >>"$out.log"; fi
        echo "$p $f $s $st" >"$out.res"
    fi
    t1=$(date +%s); times >"$out.t1"; c=$(cpu_s)
    echo "-- $name: $((t1 - t0)) s, CPU $c s" >>"$out.log"
    rm -f "$out.cmd"; : >"$out.done"
}
# a command without a summary line of its own: exit status 0 counts as one pass
run_status() {
    name=$1; shift
    out=$work/$name; t0=$(date +%s); times >"$out.t0"
    { echo "== $name"; "$@" >"$out.cmd" 2>&1; rc=$?; cat "$out.cmd"; } >"$out.log"
    if [ "$rc" -eq 0 ]; then echo "1 0 0 0" >"$out.res"
    else echo "0 1 0 1" >"$out.res"; echo "!! $name exited $rc" >>"$out.log"; fi
    t1=$(date +%s); times >"$out.t1"; c=$(cpu_s)
    echo "-- $name: $((t1 - t0)) s, CPU $c s" >>"$out.log"
    rm -f "$out.cmd"; : >"$out.done"
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

# tests/fuzz_checkpoint.c's checks on its seeds (every layer's saved state loaded into every layer and
# embedding; failed loads must leave the state unchanged), under ASan + UBSan
checkpoint_replay() {
    d=$(mktemp -d) || return 1
    ./$B/fuzz_checkpoint_tool_san seeds "$d" && ./$B/fuzz_checkpoint_tool_san replay "$d"/*; rc=$?
    rm -rf "$d"
    return $rc
}

# test_cuda.sh's sanitizer pass, beside the plain one: test_cuda.sh (re)builds $B/fake_libcuda and
# uses $B/embed and $B/bench_gpu, so this pass gets a folder of its own with links to those two
cuda_asan_pass() {
    d=$B/cuda-asan
    mkdir -p "$d" && ln -sf ../embed "$d/embed" && ln -sf ../bench_gpu "$d/bench_gpu" || return 1
    B=$d sh tests/test_cuda.sh --quick ./$B/test_cuda_san ./$B/test_gpu_san ./$B/bnbq_vectors_san ./$B/test_gpu_layers_san
}

# The jobs, longest first (a free worker takes the next one). The runs inside one job share files
# and run one after the other (the io tests write build/test_io_files).
NJOBS=17
job() {
    case $1 in
    1)  run cuda-loader-cache-asan-ubsan cuda_asan_pass ;;
    2)  run cuda-loader-cache sh tests/test_cuda.sh ;;
    3)  run nvrtc-check     ./$B/nvrtc_check ;;
    4)  run compile-tests   sh tests/compile_tests.sh ;;
    5)  run neon-qemu       ${MAKE:-make} -s test-neon ;;
    6)  run_status bnbq_precompile precompile_example ;;
    7)  run_status quant-tables ./$B/quant_tables 200 ;;
    8)  run unit            ./$B/test_bnbq ;;
    9)  # --quick: test_kbit_backprop 10 of its 100 iterations, the 100-forward loops 10 (the bars are the same)
        run layers-bars-asan-ubsan ./$B/test_layers_bars_san --quick ;;
    10) run layers-bars     ./$B/test_layers_bars ;;
    11) run simd            ./$B/test_simd ;;
    12) run unit-asan-ubsan ./$B/test_bnbq_san --quick ;;
    13) run io              ./$B/test_io
        run io-no-stdio     ./$B/test_io_nostdio
        run io-asan-ubsan   ./$B/test_io_san --quick
        run checkpoint-replay-asan-ubsan checkpoint_replay ;;
    14) run simd-asan-ubsan  ./$B/test_simd_san --quick
        run_status train-switchback ./$B/train_switchback ;;
    15) run layers-asan-ubsan ./$B/test_layers_san
        run vectors-asan-ubsan ./$B/bnbq_vectors_san tests/vectors
        run layers-embed-asan-ubsan ./$B/test_layers_embed_san --quick
        run_status gpu_quickstart ./$B/gpu_quickstart ;;
    16) run prims           ./$B/test_prims
        run layers-embed    ./$B/test_layers_embed
        run layers          ./$B/test_layers
        run prims-asan-ubsan ./$B/test_prims_san --quick
        run_status check-embed ${MAKE:-make} -s check-embed ;;
    17) # every SIMD level against the scalar reference (simd, neon-qemu), and the vectors under each
        # forced level
        run vectors         ./$B/bnbq_vectors tests/vectors
        run simd-no-simd    ./$B/test_simd_nosimd
        run vectors-simd-scalar env BNBQ_SIMD=scalar ./$B/bnbq_vectors tests/vectors
        run vectors-simd-avx2 env BNBQ_SIMD=avx2 ./$B/bnbq_vectors tests/vectors ;;
    esac
}
# the order of the printed blocks
ORDER="compile-tests unit prims layers-embed layers io io-no-stdio layers-bars train-switchback
quant-tables vectors simd simd-no-simd vectors-simd-scalar vectors-simd-avx2 neon-qemu
unit-asan-ubsan layers-asan-ubsan io-asan-ubsan checkpoint-replay-asan-ubsan vectors-asan-ubsan simd-asan-ubsan
prims-asan-ubsan layers-embed-asan-ubsan layers-bars-asan-ubsan check-embed nvrtc-check
cuda-loader-cache cuda-loader-cache-asan-ubsan bnbq_precompile gpu_quickstart"

# a worker takes the jobs nobody has taken yet (mkdir is the lock), in order
worker() {
    k=1
    while [ "$k" -le "$NJOBS" ]; do
        if mkdir "$work/job.$k" 2>/dev/null; then job "$k"; fi
        k=$((k + 1))
    done
}
i=0
while [ "$i" -lt "$JOBS" ]; do
    worker </dev/null &
    workers="$workers $!"
    i=$((i + 1))
done

alive() {
    for w in $workers; do kill -0 "$w" 2>/dev/null && return 0; done
    return 1
}
total_p=0; total_f=0; total_s=0; status=0
for name in $ORDER; do
    while [ ! -f "$work/$name.done" ] && alive; do sleep 1; done
    if [ -f "$work/$name.done" ]; then
        cat "$work/$name.log"
        read -r p f s st <"$work/$name.res"
    else
        echo "== $name"; echo "!! $name did not run"; p=0; f=1; s=0; st=1
    fi
    total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + s))
    [ "$st" -ne 0 ] && status=1
done
wait
echo
if [ "$total_s" -gt 0 ]; then echo "$total_p passed, $total_f failed, $total_s skipped"; else echo "$total_p passed, $total_f failed"; fi
exit $status
