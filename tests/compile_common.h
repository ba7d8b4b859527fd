/* compile_common.h - the small run-time check every compile-test program performs.
   Plain C99 that is also C++ (casts from void*, no designated initializers). Include it after
   bnbq.h. compile_check() returns 0 when bnbq answers correctly, 1 otherwise. */
#ifndef COMPILE_COMMON_H
#define COMPILE_COMMON_H
#include <math.h>
#include <stdio.h>
#include <string.h>

static int compile_check(const char* who)
{
    enum { N = 256, BS = 64 };
    float x[N], back[N], am[N / BS];
    uint8_t packed[N / 2], q8[N];
    size_t bytes = 0, i;
    int b;
    bnbq_result r;
    for (i = 0; i < N; i++) x[i] = 2.0f * sinf(0.37f * (float)i) + 0.01f * (float)(i % 7);

    /* NF4 round trip: every element within half the widest NF4 gap (-1 .. -0.696: 0.3038) of
       its block's absmax */
    r = bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, x, N, BS, packed, am);
    if (r == BNBQ_SUCCESS) r = bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, packed, am, N, BS, back);
    if (r != BNBQ_SUCCESS) {
        printf("%s: 4-bit round trip failed: %s\n", who, bnbq_result_description(r));
        return 1;
    }
    for (i = 0; i < N; i++) {
        if (!(fabsf(x[i] - back[i]) <= 0.1520f * am[i / BS])) {
            printf("%s: NF4 element %u: %g -> %g (absmax %g)\n", who, (unsigned)i, (double)x[i],
                   (double)back[i], (double)am[i / BS]);
            return 1;
        }
    }
    /* 8-bit blockwise round trip: within half the widest dynamic-map gap (0.0141) */
    r = bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, x, N, BS, q8, am);
    if (r == BNBQ_SUCCESS) r = bnbq_dequantize_blockwise(NULL, NULL, BNBQ_F32, q8, am, N, BS, back);
    if (r != BNBQ_SUCCESS) {
        printf("%s: 8-bit round trip failed: %s\n", who, bnbq_result_description(r));
        return 1;
    }
    for (i = 0; i < N; i++) {
        if (!(fabsf(x[i] - back[i]) <= 0.0071f * am[i / BS])) {
            printf("%s: 8-bit element %u: %g -> %g\n", who, (unsigned)i, (double)x[i], (double)back[i]);
            return 1;
        }
    }
    for (b = 0; b < N / BS; b++) {
        float mx = 0.0f;
        for (i = (size_t)b * BS; i < (size_t)(b + 1) * BS; i++) if (fabsf(x[i]) > mx) mx = fabsf(x[i]);
        if (am[b] != mx) { printf("%s: absmax[%d] %g != %g\n", who, b, (double)am[b], (double)mx); return 1; }
    }
    /* a few exact answers */
    if (bnbq_f32_to_f16(1.0f) != 0x3c00 || bnbq_f32_to_bf16(-2.0f) != 0xc000 ||
        bnbq_f16_to_f32(0x3555) != 0.333251953125f) {
        printf("%s: conversions\n", who);
        return 1;
    }
    if (bnbq_packed_4bit_size(7, &bytes) != BNBQ_SUCCESS || bytes != 4) {
        printf("%s: packed_4bit_size\n", who);
        return 1;
    }
    if (bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, NULL, N, BS, packed, am) != BNBQ_ERROR_NULL_POINTER ||
        strcmp(bnbq_result_name(BNBQ_ERROR_BAD_SHAPE), "BNBQ_ERROR_BAD_SHAPE") != 0) {
        printf("%s: error path\n", who);
        return 1;
    }
    if (strcmp(BNBQ_VERSION_STRING, "0.1.0") < 0 || bnbq_code_4bit(BNBQ_NF4)[15] != 1.0f) {
        printf("%s: version / tables\n", who);
        return 1;
    }
    return 0;
}
#endif
