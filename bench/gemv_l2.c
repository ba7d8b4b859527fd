/* bench/gemv_l2.c - how the state of the L2 before a call changes the measured speed of gemv_4bit
   (one token, NF4, blocksize 64, f16 / bf16; the shapes of bench_gpu).

   bench_gpu flushes the L2 with a 256 MB memset before each timed call. That leaves the L2 full of
   dirty lines (60 MB on an H200, 50 MB on an H100), and a read-only kernel whose input is smaller
   than the L2 makes the DRAM write about as many bytes back as it reads. This program times the
   same calls (median of RUNS, CUDA events, in one process, with the same copy measure as
   bench_gpu) after three kinds of flush:
     dirty  a 256 MB memset (what bench_gpu does)
     clean  a gemv_4bit over another 151 MB weight (reads only: the L2 ends full of clean lines)
     warm   nothing (the weight may still be in the L2: an upper bound, not a DRAM figure)
   GB/s count the weight bytes (packed + absmax), as bench_gpu.

   Build and run on a GPU (sh bench/gemv_sweep.sh builds it as build/sweep/NAME/gemv_l2 with L2=1):
       cc -std=c99 -O2 -I. bench/gemv_l2.c -o build/gemv_l2 -lm -ldl -lpthread && ./build/gemv_l2 [RUNS] */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bnbq_cuda* g_ctx;
static bnbq_exec g_ex;

static void check(bnbq_result r, const char* what) {
    if (r != BNBQ_SUCCESS) {
        fprintf(stderr, "gemv_l2: %s: %s\n", what, bnbq_result_name(r));
        exit(1);
    }
}

static void* dalloc(size_t bytes) {
    void* p = NULL;
    check(bnbq_cuda_malloc(g_ctx, bytes, &p), "bnbq_cuda_malloc");
    return p;
}

static unsigned long long g_rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (unsigned)(g_rng >> 32);
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

typedef struct wt { void *packed, *absmax, *A, *out; size_t N, K; } wt;

/* a random 4-bit weight (any byte is a valid pair of codes), positive block scales, activation */
static void make_wt(wt* w, size_t N, size_t K, bnbq_dtype dt) {
    size_t np = N * K / 2, nb = N * K / 64, i;
    unsigned char* hp = (unsigned char*)malloc(np);
    float* ha = (float*)malloc(nb * 4);
    float* hx = (float*)malloc(K * 4);
    void* hA = malloc(K * 4);
    if (!hp || !ha || !hx || !hA) { fprintf(stderr, "gemv_l2: out of memory\n"); exit(1); }
    for (i = 0; i < np; i++) hp[i] = (unsigned char)rnd();
    for (i = 0; i < nb; i++) ha[i] = 0.01f + (float)(rnd() % 1000) / 1000.0f;
    for (i = 0; i < K; i++) hx[i] = (float)((int)(rnd() % 2001) - 1000) / 500.0f;
    check(bnbq_convert(NULL, BNBQ_F32, hx, K, dt, hA), "convert");
    w->N = N; w->K = K;
    w->packed = dalloc(np); w->absmax = dalloc(nb * 4); w->A = dalloc(K * 2); w->out = dalloc(N * 2);
    check(bnbq_cuda_memcpy(&g_ex, w->packed, hp, np, BNBQ_COPY_HOST_TO_DEVICE), "memcpy");
    check(bnbq_cuda_memcpy(&g_ex, w->absmax, ha, nb * 4, BNBQ_COPY_HOST_TO_DEVICE), "memcpy");
    check(bnbq_cuda_memcpy(&g_ex, w->A, hA, K * 2, BNBQ_COPY_HOST_TO_DEVICE), "memcpy");
    check(bnbq_cuda_synchronize(&g_ex), "synchronize");
    free(hp); free(ha); free(hx); free(hA);
}

static void run_gemv(const wt* w, bnbq_dtype dt) {
    check(bnbq_gemv_4bit(&g_ex, BNBQ_NF4, dt, w->A, (const uint8_t*)w->packed, (const float*)w->absmax, w->N,
                         w->K, 64, w->out, NULL, NULL), "gemv_4bit");
}

int main(int argc, char** argv) {
    static const size_t shapes[3][2] = { { 8192, 8192 }, { 14336, 4096 }, { 4096, 14336 } };
    static const char* const flush_names[3] = { "dirty", "clean", "warm" };
    int runs = argc > 1 ? atoi(argv[1]) : 30, i, s, d, f;
    size_t flush_bytes = (size_t)256 << 20, copy_bytes = (size_t)1 << 30;
    void *flush, *csrc, *cdst, *ev0, *ev1;
    double* ms;
    double copy_gbs;
    bnbq_cuda_desc desc;
    bnbq_cuda_device_info info;
    wt big[2];
    memset(&desc, 0, sizeof desc);
    if (bnbq_cuda_init(&desc, &g_ctx) != BNBQ_SUCCESS) { printf("gemv_l2: no GPU\n"); return 0; }
    check(bnbq_cuda_exec_init(g_ctx, NULL, &g_ex), "exec_init");
    bnbq_cuda_query_device(g_ctx, &info);
    if (runs < 3) runs = 3;
    ms = (double*)malloc(sizeof(double) * (size_t)runs);
    flush = dalloc(flush_bytes); csrc = dalloc(copy_bytes); cdst = dalloc(copy_bytes);
    check(bnbq_cuda_memset(&g_ex, csrc, 1, copy_bytes), "memset");
    check(bnbq_cuda_event_create(g_ctx, &ev0), "event");
    check(bnbq_cuda_event_create(g_ctx, &ev1), "event");
    for (i = 0; i < runs; i++) {
        float t;
        check(bnbq_cuda_memset(&g_ex, flush, i & 255, flush_bytes), "memset");
        check(bnbq_cuda_event_record(&g_ex, ev0), "record");
        check(bnbq_cuda_memcpy(&g_ex, cdst, csrc, copy_bytes, BNBQ_COPY_DEVICE_TO_DEVICE), "copy");
        check(bnbq_cuda_event_record(&g_ex, ev1), "record");
        check(bnbq_cuda_synchronize(&g_ex), "synchronize");
        check(bnbq_cuda_event_elapsed_ms(g_ctx, ev0, ev1, &t), "elapsed");
        ms[i] = t;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    copy_gbs = 2.0 * (double)copy_bytes / (ms[runs / 2] * 1e6);
    printf("gemv_l2: %s, L2 %.0f MB; copy (D2D 1 GiB, read + written) %.3f ms = %.0f GB/s; median of %d\n",
           info.name, (double)info.l2_bytes / 1e6, ms[runs / 2], copy_gbs, runs);
    for (d = 0; d < 2; d++) {
        bnbq_dtype dt = d ? BNBQ_BF16 : BNBQ_F16;
        make_wt(&big[d], 65536, 4096, dt);   /* the clean flush: 151 MB read */
        for (s = 0; s < 3; s++) {
            wt w;
            double bytes;
            make_wt(&w, shapes[s][0], shapes[s][1], dt);
            bytes = (double)(w.N * w.K / 2 + w.N * w.K / 64 * 4);
            run_gemv(&w, dt);   /* compile / load */
            check(bnbq_cuda_synchronize(&g_ex), "synchronize");
            for (f = 0; f < 3; f++) {
                for (i = 0; i < runs; i++) {
                    float t;
                    if (f == 0) check(bnbq_cuda_memset(&g_ex, flush, i & 255, flush_bytes), "memset");
                    if (f == 1) run_gemv(&big[d], dt);
                    check(bnbq_cuda_event_record(&g_ex, ev0), "record");
                    run_gemv(&w, dt);
                    check(bnbq_cuda_event_record(&g_ex, ev1), "record");
                    check(bnbq_cuda_synchronize(&g_ex), "synchronize");
                    check(bnbq_cuda_event_elapsed_ms(g_ctx, ev0, ev1, &t), "elapsed");
                    ms[i] = t;
                }
                qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
                printf("gemv_4bit nf4 %-4s %5zux%-5zu L2 %-5s %8.4f ms %6.0f GB/s %5.1f%% of copy\n",
                       bnbq_dtype_name(dt), w.N, w.K, flush_names[f], ms[runs / 2], bytes / (ms[runs / 2] * 1e6),
                       100.0 * bytes / (ms[runs / 2] * 1e6) / copy_gbs);
            }
            bnbq_cuda_free(g_ctx, w.packed); bnbq_cuda_free(g_ctx, w.absmax);
            bnbq_cuda_free(g_ctx, w.A); bnbq_cuda_free(g_ctx, w.out);
        }
        bnbq_cuda_free(g_ctx, big[d].packed); bnbq_cuda_free(g_ctx, big[d].absmax);
        bnbq_cuda_free(g_ctx, big[d].A); bnbq_cuda_free(g_ctx, big[d].out);
    }
    bnbq_cuda_event_destroy(g_ctx, ev0);
    bnbq_cuda_event_destroy(g_ctx, ev1);
    bnbq_cuda_free(g_ctx, flush); bnbq_cuda_free(g_ctx, csrc); bnbq_cuda_free(g_ctx, cdst);
    bnbq_exec_uninit(&g_ex);
    bnbq_cuda_uninit(g_ctx);
    free(ms);
    return 0;
}
