/* gpu_quickstart.c - bnbq on an NVIDIA GPU: quantize a weight matrix to NF4 and to 8-bit blockwise
   on the device, copy the results back, check them against the CPU reference byte for byte, and
   print the time and the memory saved. Without a GPU (or driver) it says why and runs the same
   quantization on the CPU instead; that is a success too.

   Build and run (no CUDA toolkit or header needed; the driver and NVRTC are opened at run time):
       cc -std=c99 -O2 -I. examples/gpu_quickstart.c -o gpu_quickstart -lm   (older glibc: -ldl -lpthread)
       ./gpu_quickstart
   The first run compiles the kernels with NVRTC and caches them (~/.cache/bnbq); later runs load
   them from the cache. Exit status: 0 on success (GPU or CPU), 1 if a GPU result differs from the
   CPU reference or a call fails. */
#define BNBQ_IMPLEMENTATION          /* in ONE .c file: builds bnbq.h and bnbq_cuda.h */
#include "bnbq_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 4096, COLS = 2048 };
#define N ((size_t)ROWS * COLS)
#define BS4 64     /* bitsandbytes' 4-bit default blocksize */
#define BS8 256

/* Stop with bnbq's own explanation when a call fails. */
#define TRY(call) do { \
        bnbq_result r_ = (call); \
        if (r_ != BNBQ_SUCCESS) { \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, bnbq_result_description(r_), \
                    bnbq_result_name(r_)); \
            exit(1); \
        } \
    } while (0)

static void* xmalloc(size_t bytes) {
    void* p = malloc(bytes);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

/* a deterministic normal generator (xorshift64* + Box-Muller) */
static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static float randn(void) {
    return (float)(sqrt(-2.0 * log(1.0 - uniform())) * cos(6.283185307179586 * uniform()));
}

static double mean_abs_error(const float* a, const float* b, size_t n) {
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += fabs((double)a[i] - (double)b[i]);
    return s / (double)n;
}

/* bytes that differ between two buffers */
static size_t differ(const void* a, const void* b, size_t n) {
    const unsigned char* x = (const unsigned char*)a;
    const unsigned char* y = (const unsigned char*)b;
    size_t i, d = 0;
    for (i = 0; i < n; i++) d += x[i] != y[i];
    return d;
}

int main(void) {
    const size_t nb4 = N / BS4, nb8 = N / BS8;
    float* w = (float*)xmalloc(N * sizeof(float));
    uint8_t* packed = (uint8_t*)xmalloc(N / 2);            /* CPU reference results */
    float* absmax4 = (float*)xmalloc(nb4 * sizeof(float));
    uint8_t* q8 = (uint8_t*)xmalloc(N);
    float* absmax8 = (float*)xmalloc(nb8 * sizeof(float));
    float* back = (float*)xmalloc(N * sizeof(float));
    size_t i;
    bnbq_cuda_desc desc;
    bnbq_cuda* gpu = NULL;
    bnbq_result r;
    double f32_bytes = (double)N * 4.0;
    double nf4_bytes = (double)N / 2.0 + (double)nb4 * 4.0, q8_bytes = (double)N + (double)nb8 * 4.0;

    for (i = 0; i < N; i++) w[i] = randn() * 0.02f * (1.0f + (float)(i / COLS % 7));

    /* The CPU reference: every bnbq call with ex = NULL runs on host memory. */
    TRY(bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, w, N, BS4, packed, absmax4));
    TRY(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, w, N, BS8, q8, absmax8));

    memset(&desc, 0, sizeof desc);              /* zero = defaults */
    r = bnbq_cuda_init(&desc, &gpu);
    if (r != BNBQ_SUCCESS) {
        printf("CUDA: %s (%s): running on the CPU instead\n", bnbq_result_description(r), bnbq_result_name(r));
        TRY(bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, packed, absmax4, N, BS4, back));
        printf("CPU: %dx%d float32 weights: NF4 %.1f MB (%.2fx smaller, mean |error| %.2e), "
               "8-bit %.1f MB (%.2fx smaller)\n", ROWS, COLS, nf4_bytes / 1e6, f32_bytes / nf4_bytes,
               mean_abs_error(w, back, N), q8_bytes / 1e6, f32_bytes / q8_bytes);
        free(w); free(packed); free(absmax4); free(q8); free(absmax8); free(back);
        return 0;
    }

    {
        bnbq_cuda_device_info info;
        bnbq_exec ex;                           /* runs bnbq operations on the GPU */
        void *dw, *dpacked, *dabs4, *dq8, *dabs8, *dback, *e0, *e1;
        uint8_t* got_packed = (uint8_t*)xmalloc(N / 2);
        float* got_abs4 = (float*)xmalloc(nb4 * sizeof(float));
        uint8_t* got_q8 = (uint8_t*)xmalloc(N);
        float* got_abs8 = (float*)xmalloc(nb8 * sizeof(float));
        float* cpu_back = (float*)xmalloc(N * sizeof(float));
        float ms_first4 = 0, ms4 = 0, ms_first8 = 0, ms8 = 0, ms_dq = 0;
        size_t d1, d2, d3, d4, d5;

        TRY(bnbq_cuda_query_device(gpu, &info));
        printf("GPU: %s (sm_%d%d, %d SMs, %.0f GiB), driver %d, NVRTC %d\n", info.name, info.cc_major,
               info.cc_minor, info.sm_count, (double)info.total_memory / 1073741824.0, info.driver_version,
               info.nvrtc_version);
        TRY(bnbq_cuda_exec_init(gpu, NULL, &ex));  /* NULL: the default stream */
        TRY(bnbq_cuda_event_create(gpu, &e0));
        TRY(bnbq_cuda_event_create(gpu, &e1));
        /* tensors live in device memory; code tables (none here) stay in host memory */
        TRY(bnbq_cuda_malloc(gpu, N * sizeof(float), &dw));
        TRY(bnbq_cuda_malloc(gpu, N / 2, &dpacked));
        TRY(bnbq_cuda_malloc(gpu, nb4 * sizeof(float), &dabs4));
        TRY(bnbq_cuda_malloc(gpu, N, &dq8));
        TRY(bnbq_cuda_malloc(gpu, nb8 * sizeof(float), &dabs8));
        TRY(bnbq_cuda_malloc(gpu, N * sizeof(float), &dback));
        TRY(bnbq_cuda_memcpy(&ex, dw, w, N * sizeof(float), BNBQ_COPY_HOST_TO_DEVICE));

        /* The first call of a kernel compiles it (or loads it from the disk cache); time both. */
        TRY(bnbq_cuda_event_record(&ex, e0));
        TRY(bnbq_quantize_4bit(&ex, BNBQ_NF4, BNBQ_F32, dw, N, BS4, (uint8_t*)dpacked, (float*)dabs4));
        TRY(bnbq_cuda_event_record(&ex, e1));
        TRY(bnbq_cuda_event_elapsed_ms(gpu, e0, e1, &ms_first4));
        TRY(bnbq_cuda_event_record(&ex, e0));
        TRY(bnbq_quantize_4bit(&ex, BNBQ_NF4, BNBQ_F32, dw, N, BS4, (uint8_t*)dpacked, (float*)dabs4));
        TRY(bnbq_cuda_event_record(&ex, e1));
        TRY(bnbq_cuda_event_elapsed_ms(gpu, e0, e1, &ms4));

        TRY(bnbq_cuda_event_record(&ex, e0));
        TRY(bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, dw, N, BS8, (uint8_t*)dq8, (float*)dabs8));
        TRY(bnbq_cuda_event_record(&ex, e1));
        TRY(bnbq_cuda_event_elapsed_ms(gpu, e0, e1, &ms_first8));
        TRY(bnbq_cuda_event_record(&ex, e0));
        TRY(bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, dw, N, BS8, (uint8_t*)dq8, (float*)dabs8));
        TRY(bnbq_cuda_event_record(&ex, e1));
        TRY(bnbq_cuda_event_elapsed_ms(gpu, e0, e1, &ms8));

        /* and back: dequantize NF4 on the device (first call warms it up) */
        TRY(bnbq_dequantize_4bit(&ex, BNBQ_NF4, BNBQ_F32, (const uint8_t*)dpacked, (const float*)dabs4, N, BS4, dback));
        TRY(bnbq_cuda_event_record(&ex, e0));
        TRY(bnbq_dequantize_4bit(&ex, BNBQ_NF4, BNBQ_F32, (const uint8_t*)dpacked, (const float*)dabs4, N, BS4, dback));
        TRY(bnbq_cuda_event_record(&ex, e1));
        TRY(bnbq_cuda_event_elapsed_ms(gpu, e0, e1, &ms_dq));

        /* copies are queued on the stream: synchronize before reading the host buffers */
        TRY(bnbq_cuda_memcpy(&ex, got_packed, dpacked, N / 2, BNBQ_COPY_DEVICE_TO_HOST));
        TRY(bnbq_cuda_memcpy(&ex, got_abs4, dabs4, nb4 * sizeof(float), BNBQ_COPY_DEVICE_TO_HOST));
        TRY(bnbq_cuda_memcpy(&ex, got_q8, dq8, N, BNBQ_COPY_DEVICE_TO_HOST));
        TRY(bnbq_cuda_memcpy(&ex, got_abs8, dabs8, nb8 * sizeof(float), BNBQ_COPY_DEVICE_TO_HOST));
        TRY(bnbq_cuda_memcpy(&ex, back, dback, N * sizeof(float), BNBQ_COPY_DEVICE_TO_HOST));
        TRY(bnbq_cuda_synchronize(&ex));
        TRY(bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, packed, absmax4, N, BS4, cpu_back));

        d1 = differ(got_packed, packed, N / 2);
        d2 = differ(got_abs4, absmax4, nb4 * sizeof(float));
        d3 = differ(got_q8, q8, N);
        d4 = differ(got_abs8, absmax8, nb8 * sizeof(float));
        d5 = differ(back, cpu_back, N * sizeof(float));
        printf("%dx%d float32 weights (%.1f MB):\n", ROWS, COLS, f32_bytes / 1e6);
        printf("  NF4 bs %d:   %.1f MB (%.2fx smaller), quantize %.3f ms (%.0f GB/s; first call %.1f ms), "
               "dequantize %.3f ms, mean |error| %.2e\n", BS4, nf4_bytes / 1e6, f32_bytes / nf4_bytes, (double)ms4,
               (f32_bytes + nf4_bytes) / ((double)ms4 * 1e6), (double)ms_first4, (double)ms_dq,
               mean_abs_error(w, back, N));
        printf("  8-bit bs %d: %.1f MB (%.2fx smaller), quantize %.3f ms (%.0f GB/s; first call %.1f ms)\n", BS8,
               q8_bytes / 1e6, f32_bytes / q8_bytes, (double)ms8, (f32_bytes + q8_bytes) / ((double)ms8 * 1e6),
               (double)ms_first8);
        if (d1 || d2 || d3 || d4 || d5)
            printf("  MISMATCH against the CPU reference: NF4 packed %zu, absmax %zu, 8-bit q %zu, absmax %zu, "
                   "dequantized %zu bytes differ\n", d1, d2, d3, d4, d5);
        else
            printf("  GPU results are byte-identical to the CPU reference (NF4, 8-bit, dequantized NF4)\n");

        bnbq_cuda_event_destroy(gpu, e0);
        bnbq_cuda_event_destroy(gpu, e1);
        bnbq_cuda_free(gpu, dw); bnbq_cuda_free(gpu, dpacked); bnbq_cuda_free(gpu, dabs4);
        bnbq_cuda_free(gpu, dq8); bnbq_cuda_free(gpu, dabs8); bnbq_cuda_free(gpu, dback);
        bnbq_exec_uninit(&ex);
        bnbq_cuda_uninit(gpu);
        free(got_packed); free(got_abs4); free(got_q8); free(got_abs8); free(cpu_back);
        free(w); free(packed); free(absmax4); free(q8); free(absmax8); free(back);
        return (d1 || d2 || d3 || d4 || d5) ? 1 : 0;
    }
}
