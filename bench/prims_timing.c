/* prims_timing.c - a quick timing of bnbq_gemm (and, for scale, a device copy) on a GPU.
   build: cc -std=c99 -O2 -I. bench/prims_timing.c -o build/prims_timing -lm -ldl -lpthread
   Prints per shape / dtype / transposes the median of 10 runs (CUDA events) and TFLOP/s. */
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"
#include <stdio.h>
#include <stdlib.h>

static int cmpf(const void* a, const void* b) {
    float x = *(const float*)a, y = *(const float*)b;
    return (x > y) - (x < y);
}

int main(void) {
    bnbq_cuda* c = NULL;
    bnbq_exec ex;
    void *e0, *e1, *A, *B, *O, *X, *Y;
    static const size_t shapes[3][3] = { { 4096, 4096, 4096 }, { 8192, 4096, 1024 }, { 16, 4096, 4096 } };
    static const bnbq_dtype dts[3] = { BNBQ_F16, BNBQ_BF16, BNBQ_F32 };
    size_t big = (size_t)8192 * 4096 * 4, cb = (size_t)256 << 20;
    int s, d, t, i;
    float ms[10];
    if (bnbq_cuda_init(NULL, &c) != BNBQ_SUCCESS) { printf("no GPU\n"); return 0; }
    bnbq_cuda_exec_init(c, NULL, &ex);
    bnbq_cuda_event_create(c, &e0); bnbq_cuda_event_create(c, &e1);
    if (bnbq_alloc(&ex, big, &A) || bnbq_alloc(&ex, big, &B) || bnbq_alloc(&ex, big, &O) ||
        bnbq_alloc(&ex, cb, &X) || bnbq_alloc(&ex, cb, &Y)) { printf("alloc failed\n"); return 1; }
    bnbq_fill_bytes(&ex, A, 0x3c, big); bnbq_fill_bytes(&ex, B, 0x3c, big); bnbq_fill_bytes(&ex, X, 1, cb);
    for (i = 0; i < 10; i++) {
        bnbq_cuda_event_record(&ex, e0);
        bnbq_copy(&ex, Y, X, cb, BNBQ_COPY_EXEC_TO_EXEC);
        bnbq_cuda_event_record(&ex, e1);
        bnbq_cuda_event_elapsed_ms(c, e0, e1, &ms[i]);
    }
    qsort(ms, 10, sizeof ms[0], cmpf);
    printf("copy 256 MiB: %.3f ms, %.0f GB/s (read + write)\n", (double)ms[5], 2.0 * (double)cb / (ms[5] * 1e-3) / 1e9);
    for (s = 0; s < 3; s++)
        for (d = 0; d < 3; d++)
            for (t = 0; t < 4; t++) {
                size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                bnbq_result r = BNBQ_SUCCESS;
                if (d == 2 && t != 2) continue;
                for (i = 0; i < 11 && r == BNBQ_SUCCESS; i++) {
                    bnbq_cuda_event_record(&ex, e0);
                    r = bnbq_gemm(&ex, dts[d], t & 1, t >> 1, M, N, K, A, B, NULL, 0, O);
                    bnbq_cuda_event_record(&ex, e1);
                    if (i) bnbq_cuda_event_elapsed_ms(c, e0, e1, &ms[i - 1]);
                }
                if (r != BNBQ_SUCCESS) { printf("gemm failed: %s\n", bnbq_result_name(r)); return 1; }
                qsort(ms, 10, sizeof ms[0], cmpf);
                printf("gemm %-4s M=%zu N=%zu K=%zu trans_a=%d trans_b=%d: %.3f ms, %.1f TFLOP/s\n",
                       bnbq_dtype_name(dts[d]), M, N, K, t & 1, t >> 1, (double)ms[5],
                       2.0 * (double)M * N * K / (ms[5] * 1e-3) / 1e12);
            }
    bnbq_free(&ex, A); bnbq_free(&ex, B); bnbq_free(&ex, O); bnbq_free(&ex, X); bnbq_free(&ex, Y);
    bnbq_cuda_event_destroy(c, e0); bnbq_cuda_event_destroy(c, e1);
    bnbq_cuda_uninit(c);
    return 0;
}
