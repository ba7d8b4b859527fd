/* bench_compile.c - NVRTC compile time of every unit bnbq compiles, one unit at a time (wall
   clock), for one architecture (default sm_90). Needs NVRTC, not a GPU.

   usage: build/bench_compile [ARCH] [--split] [--whole] [--only WORD] [--nvrtc-cache] [--repeat N] [--opt OPTION]
                              [--tiered]
     A unit is one kernel of one registered variant (a kernels_src file + its -D defines), compiled
     exactly as bnbq compiles it at run time (cubin for sm_ARCH). Per unit: wall seconds, cubin
     bytes; --split also compiles it to PTX alone (NVRTC's front end and NVVM) and prints the rest
     of the cubin time as "ptxas". --whole times the whole-file variants instead (every kernel of
     the file in one compilation: what bnbq compiled before one unit became one kernel).
     --only WORD: the units whose file, defines or kernel name contain WORD.
     --repeat N (2..20): every unit is compiled N times in a row; the "s" column stays the first
     compilation's and a "min s" column adds the fastest of the N, which leaves out what a busy host
     adds to single compilations (on the device machine the same unit measured 0.36 s in one run and
     0.63 s in another); the summary line gives both.
     --tiered: what a program waits for at a unit's first use with tiered compilation (bnbq_cuda_desc.
     no_tiered_compile = 0, the default): the units of the slow kernels (bnbq__cu_tiered_kernels) are
     timed in their fast build (the "s" and "min s" columns, marked "fast") and their full build, which
     the background thread makes, is timed once more in a "full s" column; the other units as above.
     --opt OPTION: one more NVRTC option on every unit (an A/B of an option's compile time; it takes the
     place of -no-cache, so compare with --nvrtc-cache or on a machine without a driver).
     NVRTC 12.9+ keeps compiled PTX and cubins in the driver's cache (~/.nv/ComputeCache) where a
     driver is installed, and answers a repeated compilation from it in milliseconds: every unit
     is compiled with -no-cache (when this NVRTC accepts it) unless --nvrtc-cache is given.
   A calibration (a fixed reference kernel, median of 5 compilations) is printed before and after the units: the
   host's NVRTC speed drifts between runs and machine starts, so compare runs as the units' times over it.
   NVRTC's first compilation in a process costs extra (it loads its builtins): it is done first on
   an empty program, printed, and not counted. The target: <= 0.3 s per unit on the device
   machine, whose CPU is ~1.5x slower than the development machine (<= 0.2 s there). */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fast: with the fast build's option (--tiered) */
static double compile_s(bnbq_exec* ex, const char* unit, const char* program, const char* defines,
                        const char* kernel, int arch, int ptx, int fast, size_t* bytes, bnbq_result* r) {
    char opt_buf[1024];
    const char* opts[24];
    unsigned char* img = NULL;
    double t0, dt;
    char arch_opt[64];
    int nopts = bnbq__cu_options(defines, kernel, arch, ptx, opt_buf, sizeof opt_buf, opts, 24);
    /* --split of an sm_90a unit (BNBQ_ARCH_A=1): its PTX for compute_90a, where its kernels have their code
       (for compute_90 they compile empty) */
    if (nopts > 0 && ptx && arch == 90 && defines && strstr(defines, "BNBQ_ARCH_A=1")) {
        snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=compute_90a");
        opts[0] = arch_opt;
    }
    if (nopts > 0 && nopts < 24 && fast) opts[nopts++] = bnbq__cu_fast_opt;
    *bytes = 0;
    t0 = bnbq__now();
    *r = nopts < 0 ? BNBQ_ERROR_INVALID_ARGS : bnbq__nvrtc_compile(ex, unit, program, opts, nopts, ptx, &img, bytes, NULL);
    dt = bnbq__now() - t0;
    free(img);
    return dt;
}

/* The calibration: a fixed reference kernel (unrolled float32 products and sums, ~21 KB of sm_90 code, about what a
   GEMM unit's mainloop is), compiled like a unit. NEVER CHANGE IT: its time measures the machine, not bnbq, so
   that runs on different machines, or the same machine at different times, compare as ratios. (Session 34: the
   device machine's CPU ran the same units 0.74x as long in one start as in another; a drop in the count over 0.3 s
   was the machine's.) */
static const char* const calib_src =
    "extern \"C\" __global__ void __launch_bounds__(256) bnbq_calib(const float* a, const float* b, float* c, int n) {\n"
    "    float acc[8][8];\n"
    "#pragma unroll\n"
    "    for (int i = 0; i < 8; i++)\n"
    "#pragma unroll\n"
    "        for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;\n"
    "    for (int k = 0; k < n; k += 4) {\n"
    "#pragma unroll\n"
    "        for (int kk = 0; kk < 4; kk++) {\n"
    "            float x[8], y[8];\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < 8; i++) x[i] = a[(k + kk) * 4096 + i * 256 + threadIdx.x];\n"
    "#pragma unroll\n"
    "            for (int j = 0; j < 8; j++) y[j] = b[(k + kk) * 2048 + j * 256 + threadIdx.x];\n"
    "#pragma unroll\n"
    "            for (int i = 0; i < 8; i++)\n"
    "#pragma unroll\n"
    "                for (int j = 0; j < 8; j++) acc[i][j] = acc[i][j] + x[i] * y[j];\n"
    "        }\n"
    "    }\n"
    "#pragma unroll\n"
    "    for (int i = 0; i < 8; i++)\n"
    "#pragma unroll\n"
    "        for (int j = 0; j < 8; j++)\n"
    "            c[((blockIdx.x * 8 + i) * 8 + j) * 256 + threadIdx.x] = acc[i][j] > 0.0f ? acc[i][j] : -acc[i][j];\n"
    "}\n";
static int cmp_double(const void* x, const void* y) {
    const double a = *(const double*)x, b = *(const double*)y;
    return (a > b) - (a < b);
}
/* the median of 5 compilations of calib_src (negative: NVRTC refused it) */
static double calibrate(bnbq_exec* ex, int arch) {
    double t[5];
    int i;
    for (i = 0; i < 5; i++) {
        size_t b = 0;
        bnbq_result r;
        t[i] = compile_s(ex, "calib", calib_src, "", NULL, arch, 0, 0, &b, &r);
        if (r != BNBQ_SUCCESS) return -1.0;
    }
    qsort(t, 5, sizeof t[0], cmp_double);
    return t[2];
}

/* 1 when NVRTC compiles an empty kernel with this option */
static int nvrtc_accepts(const char* opt) {
    bnbq__nvrtcProgram prog = NULL;
    const char* opts[1];
    int ok;
    opts[0] = opt;
    if (BNBQ__NV.bnbq__nvrtcCreateProgram(&prog, "extern \"C\" __global__ void k(void) {}\n", "probe.cu", 0, NULL,
                                          NULL) != 0)
        return 0;
    ok = BNBQ__NV.bnbq__nvrtcCompileProgram(prog, 1, opts) == 0;
    BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
    return ok;
}

int main(int argc, char** argv) {
    int arch = 90, v, i, split = 0, whole = 0, n = 0, over3 = 0, over2 = 0, nvrtc_cache = 0, repeat = 1;
    int min_over3 = 0, tiered = 0, nfast = 0;
    double min_total = 0.0, min_worst = 0.0, full_total = 0.0, full_worst = 0.0, cal0, cal1;
    const char* only = NULL;
    const char* opt = NULL;
    double total = 0.0, worst = 0.0, ptx_total = 0.0;
    const char* worst_name = "";
    char worst_buf[200];
    bnbq_exec log_ex;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--split")) split = 1;
        else if (!strcmp(argv[i], "--whole")) whole = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--nvrtc-cache")) nvrtc_cache = 1;
        else if (!strcmp(argv[i], "--opt") && i + 1 < argc) opt = argv[++i];
        else if (!strcmp(argv[i], "--tiered")) tiered = 1;
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc && atoi(argv[i + 1]) >= 2 && atoi(argv[i + 1]) <= 20)
            repeat = atoi(argv[++i]);
        else if (atoi(argv[i]) > 0) arch = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: bench_compile [ARCH] [--split] [--whole] [--only WORD] [--nvrtc-cache] [--repeat N (2..20)] [--opt OPTION] [--tiered]\n");
            return 2;
        }
    }
    if (bnbq_cpu_exec_init(&log_ex, NULL) != BNBQ_SUCCESS) return 1;
    bnbq__global_lock();
    if (bnbq__load_nvrtc(&log_ex, NULL) != BNBQ_SUCCESS) {
        bnbq__global_unlock();
        printf("no NVRTC\n");
        return 1;
    }
    bnbq__global_unlock();
    {
        size_t b;
        bnbq_result r;
        double t = compile_s(&log_ex, "empty", "extern \"C\" __global__ void k(void) {}\n", "", NULL, arch, 0, 0, &b, &r);
        if (!nvrtc_cache && nvrtc_accepts("-no-cache")) bnbq__cu_nvrtc_extra = "-no-cache";
        if (opt) bnbq__cu_nvrtc_extra = opt;
        printf("NVRTC %d.%d, sm_%d: wall seconds per %s (one compile each, this process)%s\n"
               "NVRTC's first compilation in this process (an empty kernel, not counted): %.3f s\n",
               bnbq__cuda_global.nvrtc.version / 1000, bnbq__cuda_global.nvrtc.version % 1000 / 10, arch,
               whole ? "whole-file variant" : "unit (one kernel of a variant)",
               bnbq__cu_nvrtc_extra ? "; -no-cache: NVRTC's own cache bypassed"
                                    : nvrtc_cache ? "; NVRTC's own cache allowed (--nvrtc-cache)" : "", t);
    }
    cal0 = calibrate(&log_ex, arch);
    printf("calibration: bench_compile.c's fixed reference kernel compiles in %.3f s (median of 5; again at the end): "
           "compare runs by the units' times divided by it\n", cal0);
    printf("%-10s %-30s %-24s %7s %8s%s%s%s\n", "file", "defines", "kernel", "s", "bytes",
           split ? "   ptx s  ptxas s" : "", repeat > 1 ? "   min s" : "", tiered ? "  full s" : "");
    for (v = 0; v < bnbq__cu_num_variants(); v++) {
        const bnbq__cu_variant* var = bnbq__cu_variant_at(v);
        const char* kernels[64];
        int nk = 1, k;
        size_t plen = 0;
        char* program = bnbq__cu_program_text_len(var->unit, &plen);
        if (!program) { printf("%s: no source\n", var->unit); return 1; }
        if (!whole) {
            nk = bnbq__cu_list_kernels(&log_ex, var->unit, var->defines, arch, program, kernels, 64, NULL);
            if (nk < 0) { printf("%-10s %-30s: listing its kernels failed\n", var->unit, var->defines); nk = 0; }
        }
        for (k = 0; k < nk; k++) {
            const char* kn = whole ? NULL : kernels[k];
            size_t bytes = 0, pbytes = 0;
            bnbq_result r, pr = BNBQ_SUCCESS;
            double dt, pt = 0.0, mt;
            int rep;
            double ft = 0.0;
            int fast;
            if (only && !strstr(var->unit, only) && !strstr(var->defines, only) && !(kn && strstr(kn, only))) continue;
            fast = tiered && kn && bnbq__cu_tier_listed(kn);
            dt = compile_s(&log_ex, var->unit, program, var->defines, kn, arch, 0, fast, &bytes, &r);
            if (split) pt = compile_s(&log_ex, var->unit, program, var->defines, kn, arch, 1, fast, &pbytes, &pr);
            mt = dt;
            for (rep = 1; rep < repeat && r == BNBQ_SUCCESS; rep++) {
                size_t b2 = 0;
                double t2 = compile_s(&log_ex, var->unit, program, var->defines, kn, arch, 0, fast, &b2, &r);
                if (t2 < mt) mt = t2;
            }
            if (fast) {   /* the full build, which the background thread makes */
                size_t b2 = 0;
                bnbq_result r2;
                ft = compile_s(&log_ex, var->unit, program, var->defines, kn, arch, 0, 0, &b2, &r2);
                if (r2 != BNBQ_SUCCESS) r = r2;
                nfast++;
                full_total += ft;
                if (ft > full_worst) full_worst = ft;
            }
            printf("%-10s %-30s %-24s %7.3f %8zu", var->unit, var->defines, kn ? kn : "(all)", dt, bytes);
            if (split) printf(" %7.3f %8.3f", pt, dt - pt);
            if (repeat > 1) printf(" %7.3f", mt);
            if (tiered) printf(fast ? " %7.3f fast" : "             ", ft);
            min_total += mt;
            if (mt > min_worst) min_worst = mt;
            if (mt > 0.3) min_over3++;
            printf(" %s\n", r != BNBQ_SUCCESS || pr != BNBQ_SUCCESS ? bnbq_result_name(r != BNBQ_SUCCESS ? r : pr)
                            : dt > 0.3 ? "> 0.3 s" : dt > 0.2 ? "> 0.2 s" : "");
            total += dt;
            ptx_total += pt;
            if (dt > worst) {
                worst = dt;
                snprintf(worst_buf, sizeof worst_buf, "%s [%s] %s", var->unit, var->defines, kn ? kn : "(all)");
                worst_name = worst_buf;
            }
            if (dt > 0.3) over3++;
            if (dt > 0.2) over2++;
            n++;
        }
        free(program);
    }
    if (n == 0) { printf("no units\n"); return 1; }
    printf("%d %s: mean %.3f s, max %.3f s (%s), %d over 0.3 s, %d over 0.2 s, %.1f s in all",
           n, whole ? "variants" : "units", total / n, worst, worst_name, over3, over2, total);
    if (split) printf("; PTX alone %.0f%% of the time", 100.0 * ptx_total / total);
    printf("\n");
    if (tiered)
        printf("tiered: the lines above are what a program waits for at first use; %d units were timed in their fast "
               "build (%s), their full builds (made in the background): mean %.3f s, max %.3f s\n", nfast,
               bnbq__cu_fast_opt, nfast ? full_total / nfast : 0.0, full_worst);
    if (repeat > 1)
        printf("the fastest of %d compilations of each unit: mean %.3f s, max %.3f s, %d over 0.3 s\n", repeat,
               min_total / n, min_worst, min_over3);
    cal1 = calibrate(&log_ex, arch);
    if (cal0 > 0.0 && cal1 > 0.0)
        printf("calibration: %.3f s at the start, %.3f s at the end; the units' mean in calibrations: %.3f (the target "
               "0.3 s is %.2f of them on this machine now)\n", cal0, cal1, total / n / (0.5 * (cal0 + cal1)),
               0.3 / (0.5 * (cal0 + cal1)));
    else
        printf("calibration: NVRTC refused the reference kernel\n");
    return 0;
}
