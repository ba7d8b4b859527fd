/* bench_compile.c - NVRTC compile time of every kernel variant bnbq registers, one unit at a time
   (wall clock), for one architecture (default sm_90). Needs NVRTC, not a GPU.
   usage: build/bench_compile [ARCH]   (the target: <= 0.3 s per unit, cold) */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
    int arch = argc > 1 ? atoi(argv[1]) : 90, v, over = 0, n = 0;
    double total = 0.0, worst = 0.0;
    bnbq_exec log_ex;
    if (bnbq_cpu_exec_init(&log_ex, NULL) != BNBQ_SUCCESS) return 1;
    bnbq__global_lock();
    if (bnbq__load_nvrtc(&log_ex, NULL) != BNBQ_SUCCESS) {
        bnbq__global_unlock();
        printf("no NVRTC\n");
        return 1;
    }
    bnbq__global_unlock();
    printf("NVRTC %d.%d, sm_%d: wall seconds per unit (one compile each, this process)\n",
           bnbq__cuda_global.nvrtc.version / 1000, bnbq__cuda_global.nvrtc.version % 1000 / 10, arch);
    for (v = 0; v < bnbq__cu_num_variants(); v++) {
        const bnbq__cu_variant* var = bnbq__cu_variant_at(v);
        char opt_buf[1024];
        const char* opts[24];
        unsigned char* img = NULL;
        size_t len = 0;
        double t0, dt;
        char* program = bnbq__cu_program_text(var->unit);
        int nopts = bnbq__cu_options(var->defines, arch, 0, opt_buf, sizeof opt_buf, opts, 24);
        bnbq_result r;
        t0 = now_s();
        r = bnbq__nvrtc_compile(&log_ex, var->unit, program, opts, nopts, 0, &img, &len, NULL);
        dt = now_s() - t0;
        printf("%-12s %-28s %6.3f s %7zu bytes %s\n", var->unit, var->defines, dt, len,
               r == BNBQ_SUCCESS ? (dt <= 0.3 ? "" : "> 0.3 s") : bnbq_result_name(r));
        total += dt;
        if (dt > worst) worst = dt;
        if (dt > 0.3) over++;
        n++;
        free(img);
        free(program);
    }
    printf("%d units: mean %.3f s, max %.3f s, %d over 0.3 s\n", n, total / n, worst, over);
    return 0;
}
