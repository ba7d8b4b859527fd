/* quickstart.c - the bnbq tour: quantize a weight matrix to NF4 (with and without compressed
   statistics) and to 8-bit blockwise, measure what each costs in accuracy and saves in memory,
   and run one token through the 4-bit matrix-vector product.

   Build and run:  make run      (or: cc -std=c99 -O2 -I. examples/quickstart.c -lm)  */
#define BNBQ_IMPLEMENTATION          /* exactly one .c file of a program defines this */
#include "bnbq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { ROWS = 1024, COLS = 1024, N = ROWS * COLS };

/* Stop with bnbq's own explanation when a call fails. */
#define TRY(call) do { \
        bnbq_result r_ = (call); \
        if (r_ != BNBQ_SUCCESS) { \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, bnbq_result_description(r_), \
                    bnbq_result_name(r_)); \
            exit(1); \
        } \
    } while (0)

static void* xmalloc(size_t bytes)
{
    void* p = malloc(bytes);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

/* A small deterministic normal generator (xorshift64* + Box-Muller), so the demo is offline
   and prints the same numbers every time. */
static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return ((rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static float randn(void)
{
    return (float)(sqrt(-2.0 * log(1.0 - uniform())) * cos(6.283185307179586 * uniform()));
}

/* Report how far `back` is from `w`, and the size of the quantized form. */
static void report(const char* name, const float* w, const float* back, size_t bytes)
{
    double abs_sum = 0.0, rel_sum = 0.0, max_err = 0.0;
    size_t i;
    for (i = 0; i < N; i++) {
        double e = fabs((double)w[i] - (double)back[i]);
        abs_sum += e;
        rel_sum += e / (fabs((double)w[i]) + 1e-8);
        if (e > max_err) max_err = e;
    }
    printf("%-26s %10.5f %9.3f %9.5f %10zu %6.2fx\n", name, abs_sum / N, rel_sum / N, max_err,
           bytes, (double)(N * sizeof(float)) / (double)bytes);
}

int main(void)
{
    const int bs4 = 64, bs8 = 256;             /* bitsandbytes' defaults for 4-bit / Linear8bitLt */
    const size_t nb4 = N / 64, nb8 = N / 256;  /* number of blocks */
    const size_t nb2 = (nb4 + 255) / 256;      /* nested blocks (nested blocksize is 256) */
    float* w = (float*)xmalloc(N * sizeof(float));
    float* back = (float*)xmalloc(N * sizeof(float));
    uint8_t* packed = (uint8_t*)xmalloc(N / 2);          /* two 4-bit codes per byte */
    float* absmax = (float*)xmalloc(nb4 * sizeof(float)); /* one float32 scale per block */
    float* absmax_rebuilt = (float*)xmalloc(nb4 * sizeof(float));
    uint8_t* absmax_q = (uint8_t*)xmalloc(nb4);           /* compressed statistics: 8-bit codes */
    float* nested_absmax = (float*)xmalloc(nb2 * sizeof(float));
    uint8_t* q8 = (uint8_t*)xmalloc(N);
    float* absmax8 = (float*)xmalloc(nb8 * sizeof(float));
    float offset = 0.0f;
    size_t i, j;

    /* A synthetic weight matrix that looks like a trained layer: every output row has its own
       scale, and about one weight in a thousand is a large outlier. Blockwise quantization keeps
       a scale per block, so an outlier only costs precision inside its own block. */
    for (i = 0; i < ROWS; i++) {
        float row_scale = 0.02f * expf(0.5f * randn());
        for (j = 0; j < COLS; j++) {
            float v = randn() * row_scale;
            if (uniform() < 0.001) v *= 8.0f;
            w[i * COLS + j] = v;
        }
    }
    printf("weights: %d x %d float32 (%zu bytes)\n\n", ROWS, COLS, (size_t)N * sizeof(float));
    printf("%-26s %10s %9s %9s %10s %7s\n", "format", "mean|err|", "rel.err", "max|err|",
           "bytes", "saved");

    /* 1. NF4, blocksize 64: packed codes plus one float32 absmax per block.
          ex = NULL runs bnbq's CPU reference on the calling thread. */
    TRY(bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, w, N, bs4, packed, absmax));
    TRY(bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, packed, absmax, N, bs4, back));
    report("NF4 (bs 64)", w, back, N / 2 + nb4 * sizeof(float));

    /* 2. NF4 with compress_statistics: the absmax values themselves are quantized to 8 bits
          around their mean (bitsandbytes' "double quantization"), saving ~0.37 bits/weight. */
    TRY(bnbq_nested_offset(NULL, absmax, nb4, &offset));
    TRY(bnbq_quantize_nested(NULL, NULL, absmax, nb4, 256, &offset, absmax_q, nested_absmax));
    /* ...store packed, absmax_q, nested_absmax and offset; to use the weights again: */
    TRY(bnbq_dequantize_nested(NULL, NULL, absmax_q, nested_absmax, nb4, 256, &offset,
                               absmax_rebuilt));
    TRY(bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, packed, absmax_rebuilt, N, bs4, back));
    report("NF4 + compressed stats", w, back,
           N / 2 + nb4 + nb2 * sizeof(float) + sizeof(float));

    /* 3. 8-bit blockwise with the signed dynamic map (code = NULL), blocksize 256. */
    TRY(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, w, N, bs8, q8, absmax8));
    TRY(bnbq_dequantize_blockwise(NULL, NULL, BNBQ_F32, q8, absmax8, N, bs8, back));
    report("8-bit blockwise (bs 256)", w, back, N + nb8 * sizeof(float));

    /* 4. One token through the NF4 weight: y = W x without dequantizing W first
          (bitsandbytes' gemv_4bit; W is [out_features, in_features] = [ROWS, COLS]). */
    {
        float* x = (float*)xmalloc(COLS * sizeof(float));
        float* y = (float*)xmalloc(ROWS * sizeof(float));
        double num = 0.0, den = 0.0, max_err = 0.0;
        for (j = 0; j < COLS; j++) x[j] = randn();
        TRY(bnbq_gemv_4bit(NULL, BNBQ_NF4, BNBQ_F32, x, packed, absmax, ROWS, COLS, bs4, y,
                           NULL /* no bias */, NULL /* built-in NF4 table */));
        for (i = 0; i < ROWS; i++) {
            double ref = 0.0, e;                 /* the float matvec, in double */
            for (j = 0; j < COLS; j++) ref += (double)w[i * COLS + j] * (double)x[j];
            e = fabs((double)y[i] - ref);
            num += e * e;
            den += ref * ref;
            if (e > max_err) max_err = e;
        }
        printf("\ngemv_4bit (one token, NF4) vs float matvec: relative L2 error %.4f, "
               "max |err| %.5f\n", sqrt(num / den), max_err);
        free(x);
        free(y);
    }

    free(w); free(back); free(packed); free(absmax); free(absmax_rebuilt); free(absmax_q);
    free(nested_absmax); free(q8); free(absmax8);
    return 0;
}
