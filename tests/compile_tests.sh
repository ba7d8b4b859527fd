#!/bin/sh
# Compile tests for bnbq.h (run from the repository root: sh tests/compile_tests.sh).
# Every variant builds a small program with -Wall -Wextra -pedantic -Werror under gcc/g++ and
# clang/clang++ (a compiler that is not installed is skipped), then RUNS it: the program checks
# a few answers (tests/compile_common.h) and exits nonzero on a wrong one.
#   C:    -std=c99 and -std=c11; BNBQ_STATIC in two translation units linked together (and
#         the same with unused-function warnings as errors); bnbq.h
#         included twice; declarations first, implementation later; one implementation unit
#         plus a separate caller unit.
#   C++:  -std=c++11 and -std=c++17; a C++ caller of the implementation compiled as C.
# Outputs and logs go to build/compile/. One "ok <variant>" / "FAIL <variant>" line each, then
# "N passed, N failed" (", N skipped" when compilers are missing). Exit 1 on any failure.
# -O2 for the c99 / c++11 builds (the warnings that need the optimizer, e.g. -Wmaybe-uninitialized,
# come with it), -O0 (W0) for the other language modes and the unit arrangements: what they check
# (the front end's warnings, declarations, linking) does not depend on it, and -O2 made this the
# slowest job of `make test` (~9 s a compilation against ~3).
OUT=build/compile
W="-Wall -Wextra -pedantic -Werror -O2 -I."
W0="-Wall -Wextra -pedantic -Werror -O0 -I."
mkdir -p "$OUT" || exit 1
# objects that later variants reuse: none from an earlier run
rm -f "$OUT"/*.o
pass=0; fail=0; skip=0

have() { command -v "$1" >/dev/null 2>&1; }

# variant NAME COMMAND: COMMAND builds "$exe" (it is eval'ed with exe set); then "$exe" runs.
variant() {
    name=$1; exe="$OUT/$1"; log="$OUT/$1.log"
    rm -f "$exe"
    if (eval "$2") >"$log" 2>&1 && "./$exe" >>"$log" 2>&1; then
        echo "ok $name"; pass=$((pass + 1))
    else
        echo "FAIL $name"; sed -e 's/^/    /' "$log" | head -n 30; fail=$((fail + 1))
    fi
}

for cc in gcc clang; do
    if ! have "$cc"; then echo "skip $cc (not installed)"; skip=$((skip + 7)); continue; fi
    variant "$cc-c99"  "$cc -std=c99 $W tests/compile_c.c -o \$exe -lm"
    variant "$cc-c11"  "$cc -std=c11 $W0 tests/compile_c.c -o \$exe -lm"
    # BNBQ_STATIC: two private copies link without duplicate symbols; and no unused-function
    # warnings. Each problem is reported on its own: the objects compiled with every warning are
    # linked again for the first variant, which compiles them without -Wunused-function only
    # when they failed (warning flags do not change the code).
    variant "$cc-static-no-unused-warnings" \
        "$cc -std=c99 $W -c tests/compile_static_a.c -o \$exe.a.o && \
         $cc -std=c99 $W -c tests/compile_static_b.c -o \$exe.b.o && \
         $cc \$exe.a.o \$exe.b.o -o \$exe -lm"
    nw="$OUT/$cc-static-no-unused-warnings"
    variant "$cc-static-two-units" \
        "if [ -f $nw.a.o ] && [ -f $nw.b.o ]; then $cc $nw.a.o $nw.b.o -o \$exe -lm; else \
         $cc -std=c99 $W0 -Wno-unused-function tests/compile_static_a.c tests/compile_static_b.c -o \$exe -lm; fi"
    variant "$cc-include-twice" "$cc -std=c99 $W0 tests/compile_twice.c -o \$exe -lm"
    variant "$cc-decl-then-impl" "$cc -std=c99 $W0 tests/compile_decl_then_impl.c -o \$exe -lm"
    # the implementation unit's object is linked again by the C++ caller variant below
    variant "$cc-impl-and-caller-units" \
        "$cc -std=c99 $W0 -c tests/compile_impl_only.c -o $OUT/$cc-impl.o && \
         $cc -std=c99 $W0 -c tests/compile_user.c -o \$exe.user.o && \
         $cc $OUT/$cc-impl.o \$exe.user.o -o \$exe -lm"
done

for cxx in g++ clang++; do
    if ! have "$cxx"; then echo "skip $cxx (not installed)"; skip=$((skip + 3)); continue; fi
    case $cxx in g++) cc=gcc ;; *) cc=clang ;; esac
    variant "$cxx-c++11" "$cxx -std=c++11 $W tests/compile_cpp.cpp -o \$exe -lm"
    variant "$cxx-c++17" "$cxx -std=c++17 $W0 tests/compile_cpp.cpp -o \$exe -lm"
    if have "$cc"; then
        # the C implementation object of $cc-impl-and-caller-units (compiled here when that failed)
        variant "$cxx-caller-of-c-impl" \
            "{ [ -f $OUT/$cc-impl.o ] || $cc -std=c99 $W0 -c tests/compile_impl_only.c -o $OUT/$cc-impl.o; } && \
             $cxx -std=c++11 $W0 -c tests/compile_user_cpp.cpp -o \$exe.user.o && \
             $cxx $OUT/$cc-impl.o \$exe.user.o -o \$exe -lm"
    else
        echo "skip $cxx-caller-of-c-impl ($cc not installed)"; skip=$((skip + 1))
    fi
done

# BNBQ_CUDA_NO_RUNTIME_LINKING type-checks bnbq_cuda.h's driver/NVRTC prototypes against the real
# headers, as C and as C++. Compile only: running would need a real libcuda.
CUINC=${CUDA_PATH:-/usr/local/cuda}/include
for cc in gcc g++; do
    name="$cc-cuda-no-runtime-linking"
    if ! have "$cc" || [ ! -f "$CUINC/cuda.h" ] || [ ! -f "$CUINC/nvrtc.h" ]; then
        echo "skip $name (no $cc or no CUDA headers in $CUINC)"; skip=$((skip + 1)); continue
    fi
    case $cc in g++) lang="-x c++ -std=c++11" ;; *) lang="-std=c99" ;; esac
    if $cc $lang $W -isystem "$CUINC" -c tests/compile_cuda_linked.c -o "$OUT/$name.o" >"$OUT/$name.log" 2>&1; then
        echo "ok $name"; pass=$((pass + 1))
    else
        echo "FAIL $name"; sed -e 's/^/    /' "$OUT/$name.log" | head -n 30; fail=$((fail + 1))
    fi
done

if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
