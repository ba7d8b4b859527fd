/* bad_input.h - every public operation of bnbq.h called with one bad argument at a time, on the
   CPU reference (ex = NULL, host memory) and on a CUDA exec (device memory): the result codes must
   be the same, except where the backends' documented limits differ (8-bit and 4-bit blocksizes
   above 4096 run on the CPU and are BAD_BLOCKSIZE on a backend).

   Used by tests/test_gpu.c (a real GPU) and tests/test_cuda.c (the fake driver of
   tests/fake_libcuda.c, which runs no kernels: every case here fails before a launch, except the
   CPU-only blocksizes, which never reach the GPU). Include after bnbq_cuda.h's implementation.

   bi_run_all(ctx, gex, report) allocates BI_BYTES of device memory and the same on the host, fills
   both with the bytes of 0.5f (valid floats, codes and statistics) and runs every case. */
#ifndef BNBQ_TESTS_BAD_INPUT_H
#define BNBQ_TESTS_BAD_INPUT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BI_REGION ((size_t)65536)
#define BI_REGIONS 12
#define BI_BYTES (BI_REGION * BI_REGIONS)

typedef struct bi_report {
    int  cases;          /* cases run                                 */
    int  mismatches;     /* cases whose codes were not the expected   */
    int  gpu_only;       /* cases where the backend differs by design */
    char first[600];     /* the first mismatch                        */
} bi_report;

/* a code table that is not ascending (BAD_CODE) */
static float bi_unsorted[256];

/* Runs case i on exec ex with tensors in the memory at b (host or device). Sets *label and
   *backend_rejects (1: a backend must answer BAD_BLOCKSIZE although the CPU runs it). Returns
   -1 past the last case. */
static int bi_case(int i, bnbq_exec* ex, unsigned char* b, const char** label, int* backend_rejects) {
#define BI_R(k) ((void*)(b + (size_t)(k) * BI_REGION))
#define BI_F(k) ((float*)BI_R(k))
#define BI_U8(k) ((uint8_t*)BI_R(k))
#define BI_I8(k) ((int8_t*)BI_R(k))
#define BI_I32(k) ((int32_t*)BI_R(k))
#define BI_U16(k) ((uint16_t*)BI_R(k))
#define BI_MIS(k) ((void*)(b + (size_t)(k) * BI_REGION + 1))
#define BI_CASE(n, text, call) case n: *label = text; return (int)(call)
    const float* dyn = bnbq_code_dynamic(1);
    const float* dyn_mis = (const float*)(const void*)((const char*)(const void*)bi_unsorted + 1);
    *backend_rejects = 0;
    switch (i) {
        BI_CASE(0, "convert: NULL src", bnbq_convert(ex, BNBQ_F32, NULL, 16, BNBQ_F16, BI_R(3)));
        BI_CASE(1, "convert: n = 0", bnbq_convert(ex, BNBQ_F32, BI_R(0), 0, BNBQ_F16, BI_R(3)));
        BI_CASE(2, "convert: src dtype U8", bnbq_convert(ex, BNBQ_U8, BI_R(0), 16, BNBQ_F16, BI_R(3)));
        BI_CASE(3, "convert: dst dtype I32", bnbq_convert(ex, BNBQ_F32, BI_R(0), 16, BNBQ_I32, BI_R(3)));
        BI_CASE(4, "convert: misaligned src", bnbq_convert(ex, BNBQ_F32, BI_MIS(0), 16, BNBQ_F16, BI_R(3)));
        BI_CASE(5, "convert: overlapping", bnbq_convert(ex, BNBQ_F32, BI_R(0), 16, BNBQ_F16, (char*)BI_R(0) + 2));
        BI_CASE(6, "convert: NULL dst", bnbq_convert(ex, BNBQ_F32, BI_R(0), 16, BNBQ_F16, NULL));

        BI_CASE(10, "quantize_blockwise: NULL x", bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, NULL, 256, 64, BI_U8(1), BI_F(2)));
        BI_CASE(11, "quantize_blockwise: NULL out_q", bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, BI_R(0), 256, 64, NULL, BI_F(2)));
        BI_CASE(12, "quantize_blockwise: n = 0", bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, BI_R(0), 0, 64, BI_U8(1), BI_F(2)));
        BI_CASE(13, "quantize_blockwise: dtype I8", bnbq_quantize_blockwise(ex, NULL, BNBQ_I8, BI_R(0), 256, 64, BI_U8(1), BI_F(2)));
        BI_CASE(14, "quantize_blockwise: blocksize 32", bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, BI_R(0), 256, 32, BI_U8(1), BI_F(2)));
        BI_CASE(15, "quantize_blockwise: blocksize 100", bnbq_quantize_blockwise(ex, NULL, BNBQ_F16, BI_R(0), 256, 100, BI_U8(1), BI_F(2)));
        case 16: *label = "quantize_blockwise: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, BI_R(0), 256, 8192, BI_U8(1), BI_F(2));
        BI_CASE(17, "quantize_blockwise: misaligned out_absmax", bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, BI_R(0), 256, 64, BI_U8(1), (float*)BI_MIS(2)));
        BI_CASE(18, "quantize_blockwise: unsorted code", bnbq_quantize_blockwise(ex, bi_unsorted, BNBQ_F32, BI_R(0), 256, 64, BI_U8(1), BI_F(2)));
        BI_CASE(19, "quantize_blockwise: misaligned code", bnbq_quantize_blockwise(ex, dyn_mis, BNBQ_F32, BI_R(0), 256, 64, BI_U8(1), BI_F(2)));
        BI_CASE(20, "quantize_blockwise: misaligned x", bnbq_quantize_blockwise(ex, dyn, BNBQ_BF16, BI_MIS(0), 256, 64, BI_U8(1), BI_F(2)));

        BI_CASE(25, "dequantize_blockwise: NULL q", bnbq_dequantize_blockwise(ex, NULL, BNBQ_F32, NULL, BI_F(2), 256, 64, BI_R(3)));
        BI_CASE(26, "dequantize_blockwise: n = 0", bnbq_dequantize_blockwise(ex, NULL, BNBQ_F32, BI_U8(1), BI_F(2), 0, 64, BI_R(3)));
        case 27: *label = "dequantize_blockwise: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_dequantize_blockwise(ex, NULL, BNBQ_F32, BI_U8(1), BI_F(2), 256, 8192, BI_R(3));
        BI_CASE(28, "dequantize_blockwise: blocksize 48", bnbq_dequantize_blockwise(ex, NULL, BNBQ_F32, BI_U8(1), BI_F(2), 256, 48, BI_R(3)));
        BI_CASE(29, "dequantize_blockwise: dtype I32", bnbq_dequantize_blockwise(ex, NULL, BNBQ_I32, BI_U8(1), BI_F(2), 256, 64, BI_R(3)));
        BI_CASE(30, "dequantize_blockwise: misaligned out", bnbq_dequantize_blockwise(ex, NULL, BNBQ_F16, BI_U8(1), BI_F(2), 256, 64, BI_MIS(3)));

        BI_CASE(35, "quantize_4bit: INT4", bnbq_quantize_4bit(ex, BNBQ_INT4, BNBQ_F32, BI_R(0), 256, 64, BI_U8(1), BI_F(2)));
        BI_CASE(36, "quantize_4bit: blocksize 16", bnbq_quantize_4bit(ex, BNBQ_NF4, BNBQ_F32, BI_R(0), 256, 16, BI_U8(1), BI_F(2)));
        case 37: *label = "quantize_4bit: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_quantize_4bit(ex, BNBQ_NF4, BNBQ_F16, BI_R(0), 256, 8192, BI_U8(1), BI_F(2));
        BI_CASE(38, "quantize_4bit: NULL out_absmax", bnbq_quantize_4bit(ex, BNBQ_FP4, BNBQ_F32, BI_R(0), 256, 64, BI_U8(1), NULL));
        BI_CASE(39, "quantize_4bit: n = 0", bnbq_quantize_4bit(ex, BNBQ_NF4, BNBQ_BF16, BI_R(0), 0, 64, BI_U8(1), BI_F(2)));
        BI_CASE(40, "quantize_4bit: dtype U8", bnbq_quantize_4bit(ex, BNBQ_NF4, BNBQ_U8, BI_R(0), 256, 64, BI_U8(1), BI_F(2)));

        BI_CASE(45, "dequantize_4bit: AF4", bnbq_dequantize_4bit(ex, BNBQ_AF4, BNBQ_F32, BI_U8(1), BI_F(2), 256, 64, BI_R(3)));
        case 46: *label = "dequantize_4bit: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_dequantize_4bit(ex, BNBQ_FP4, BNBQ_F32, BI_U8(1), BI_F(2), 256, 8192, BI_R(3));
        BI_CASE(47, "dequantize_4bit: NULL packed", bnbq_dequantize_4bit(ex, BNBQ_NF4, BNBQ_F32, NULL, BI_F(2), 256, 64, BI_R(3)));
        BI_CASE(48, "dequantize_4bit: blocksize 24", bnbq_dequantize_4bit(ex, BNBQ_NF4, BNBQ_F32, BI_U8(1), BI_F(2), 256, 24, BI_R(3)));
        BI_CASE(49, "dequantize_4bit: misaligned absmax", bnbq_dequantize_4bit(ex, BNBQ_NF4, BNBQ_F32, BI_U8(1), (const float*)BI_MIS(2), 256, 64, BI_R(3)));

        BI_CASE(55, "nested_offset: NULL absmax", bnbq_nested_offset(ex, NULL, 100, BI_F(4)));
        BI_CASE(56, "nested_offset: nblocks = 0", bnbq_nested_offset(ex, BI_F(2), 0, BI_F(4)));
        BI_CASE(57, "nested_offset: misaligned out", bnbq_nested_offset(ex, BI_F(2), 100, (float*)BI_MIS(4)));

        BI_CASE(60, "quantize_nested: blocksize 32", bnbq_quantize_nested(ex, NULL, BI_F(2), 1000, 32, BI_F(4), BI_U8(1), BI_F(5)));
        case 61: *label = "quantize_nested: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_quantize_nested(ex, NULL, BI_F(2), 1000, 8192, BI_F(4), BI_U8(1), BI_F(5));
        BI_CASE(62, "quantize_nested: NULL offset", bnbq_quantize_nested(ex, NULL, BI_F(2), 1000, 256, NULL, BI_U8(1), BI_F(5)));
        BI_CASE(63, "quantize_nested: nblocks = 0", bnbq_quantize_nested(ex, NULL, BI_F(2), 0, 256, BI_F(4), BI_U8(1), BI_F(5)));
        BI_CASE(64, "quantize_nested: unsorted code", bnbq_quantize_nested(ex, bi_unsorted, BI_F(2), 1000, 256, BI_F(4), BI_U8(1), BI_F(5)));

        case 67: *label = "dequantize_nested: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_dequantize_nested(ex, NULL, BI_U8(1), BI_F(5), 1000, 8192, BI_F(4), BI_F(3));
        BI_CASE(68, "dequantize_nested: NULL out", bnbq_dequantize_nested(ex, NULL, BI_U8(1), BI_F(5), 1000, 256, BI_F(4), NULL));
        BI_CASE(69, "dequantize_nested: nblocks = 0", bnbq_dequantize_nested(ex, NULL, BI_U8(1), BI_F(5), 0, 256, BI_F(4), BI_F(3)));

        BI_CASE(72, "quantize_global: NULL x", bnbq_quantize_global(ex, NULL, BNBQ_F32, NULL, 256, BI_U8(1), BI_F(2)));
        BI_CASE(73, "quantize_global: n = 0", bnbq_quantize_global(ex, NULL, BNBQ_F32, BI_R(0), 0, BI_U8(1), BI_F(2)));
        BI_CASE(74, "quantize_global: dtype I64", bnbq_quantize_global(ex, NULL, BNBQ_I64, BI_R(0), 256, BI_U8(1), BI_F(2)));
        BI_CASE(75, "quantize_global: unsorted code", bnbq_quantize_global(ex, bi_unsorted, BNBQ_F32, BI_R(0), 256, BI_U8(1), BI_F(2)));
        BI_CASE(76, "dequantize_global: NULL absmax", bnbq_dequantize_global(ex, NULL, BNBQ_F32, BI_U8(1), NULL, 256, BI_R(3)));
        BI_CASE(77, "dequantize_global: n = 0", bnbq_dequantize_global(ex, NULL, BNBQ_F32, BI_U8(1), BI_F(2), 0, BI_R(3)));

        BI_CASE(80, "int8_vectorwise_quant: dtype F32", bnbq_int8_vectorwise_quant(ex, BNBQ_F32, BI_R(0), 8, 16, 0.0f, BI_I8(1), BI_F(2), NULL, NULL));
        BI_CASE(81, "int8_vectorwise_quant: rows = 0", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 0, 16, 0.0f, BI_I8(1), BI_F(2), NULL, NULL));
        BI_CASE(82, "int8_vectorwise_quant: cols = 0", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 8, 0, 0.0f, BI_I8(1), BI_F(2), NULL, NULL));
        BI_CASE(83, "int8_vectorwise_quant: threshold -1", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 8, 16, -1.0f, BI_I8(1), BI_F(2), BI_I32(6), BI_I32(7)));
        BI_CASE(84, "int8_vectorwise_quant: threshold NaN", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 8, 16, (float)NAN, BI_I8(1), BI_F(2), BI_I32(6), BI_I32(7)));
        BI_CASE(85, "int8_vectorwise_quant: threshold 6 without outlier outputs", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 8, 16, 6.0f, BI_I8(1), BI_F(2), NULL, NULL));
        BI_CASE(86, "int8_vectorwise_quant: NULL out_CA", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 8, 16, 0.0f, NULL, BI_F(2), NULL, NULL));
        BI_CASE(87, "int8_vectorwise_quant: misaligned row_stats", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_R(0), 8, 16, 0.0f, BI_I8(1), (float*)BI_MIS(2), NULL, NULL));
        BI_CASE(88, "int8_vectorwise_quant: misaligned A", bnbq_int8_vectorwise_quant(ex, BNBQ_F16, BI_MIS(0), 8, 16, 0.0f, BI_I8(1), BI_F(2), NULL, NULL));
        BI_CASE(90, "int8_vectorwise_dequant: NULL row_stats", bnbq_int8_vectorwise_dequant(ex, BI_I8(1), NULL, 8, 16, BI_F(3)));
        BI_CASE(91, "int8_vectorwise_dequant: cols = 0", bnbq_int8_vectorwise_dequant(ex, BI_I8(1), BI_F(2), 8, 0, BI_F(3)));
        BI_CASE(92, "int8_double_quant: NULL out_CAt", bnbq_int8_double_quant(ex, BNBQ_F16, BI_R(0), 8, 16, 0.0f, BI_I8(1), NULL, BI_F(2), BI_F(5), NULL, NULL));
        BI_CASE(93, "int8_double_quant: dtype BF16", bnbq_int8_double_quant(ex, BNBQ_BF16, BI_R(0), 8, 16, 0.0f, BI_I8(1), BI_I8(4), BI_F(2), BI_F(5), NULL, NULL));
        BI_CASE(94, "int8_double_quant: rows = 0", bnbq_int8_double_quant(ex, BNBQ_F16, BI_R(0), 0, 16, 0.0f, BI_I8(1), BI_I8(4), BI_F(2), BI_F(5), NULL, NULL));
        BI_CASE(95, "int8_double_quant: misaligned col_stats", bnbq_int8_double_quant(ex, BNBQ_F16, BI_R(0), 8, 16, 0.0f, BI_I8(1), BI_I8(4), BI_F(2), (float*)BI_MIS(5), NULL, NULL));
        BI_CASE(97, "int8_linear_matmul: NULL B", bnbq_int8_linear_matmul(ex, BI_I8(1), NULL, 4, 4, 16, BI_I32(3)));
        BI_CASE(98, "int8_linear_matmul: K = 0", bnbq_int8_linear_matmul(ex, BI_I8(1), BI_I8(4), 4, 4, 0, BI_I32(3)));
        BI_CASE(99, "int8_linear_matmul: misaligned out", bnbq_int8_linear_matmul(ex, BI_I8(1), BI_I8(4), 4, 4, 16, (int32_t*)BI_MIS(3)));
        BI_CASE(100, "int8_mm_dequant: dtype I8", bnbq_int8_mm_dequant(ex, BNBQ_I8, BI_I32(9), BI_F(2), BI_F(5), 4, 4, BI_R(3), BNBQ_F16, NULL));
        BI_CASE(101, "int8_mm_dequant: bias dtype U8", bnbq_int8_mm_dequant(ex, BNBQ_F16, BI_I32(9), BI_F(2), BI_F(5), 4, 4, BI_R(3), BNBQ_U8, BI_R(10)));
        BI_CASE(102, "int8_mm_dequant: NULL col_stats", bnbq_int8_mm_dequant(ex, BNBQ_F16, BI_I32(9), BI_F(2), NULL, 4, 4, BI_R(3), BNBQ_F16, NULL));
        BI_CASE(103, "int8_mm_dequant: M = 0", bnbq_int8_mm_dequant(ex, BNBQ_F32, BI_I32(9), BI_F(2), BI_F(5), 0, 4, BI_R(3), BNBQ_F16, NULL));
        BI_CASE(104, "int8_mm_dequant: misaligned bias", bnbq_int8_mm_dequant(ex, BNBQ_F32, BI_I32(9), BI_F(2), BI_F(5), 4, 4, BI_R(3), BNBQ_F32, BI_MIS(10)));

        BI_CASE(110, "quantize_rowwise: dtype F32", bnbq_quantize_rowwise(ex, BNBQ_F32, BI_R(0), 8, 16, BI_I8(1), BI_U16(2)));
        BI_CASE(111, "quantize_rowwise: NULL state", bnbq_quantize_rowwise(ex, BNBQ_F16, BI_R(0), 8, 16, BI_I8(1), NULL));
        BI_CASE(112, "quantize_rowwise: rows = 0", bnbq_quantize_rowwise(ex, BNBQ_F16, BI_R(0), 0, 16, BI_I8(1), BI_U16(2)));
        BI_CASE(113, "quantize_rowwise: misaligned state", bnbq_quantize_rowwise(ex, BNBQ_F16, BI_R(0), 8, 16, BI_I8(1), (uint16_t*)BI_MIS(2)));
        BI_CASE(114, "quantize_columnwise_and_transpose: dtype BF16", bnbq_quantize_columnwise_and_transpose(ex, BNBQ_BF16, BI_R(0), 8, 16, BI_I8(1), BI_U16(2)));
        BI_CASE(115, "quantize_columnwise_and_transpose: cols = 0", bnbq_quantize_columnwise_and_transpose(ex, BNBQ_F16, BI_R(0), 8, 0, BI_I8(1), BI_U16(2)));
        BI_CASE(116, "quantize_global_int8: NULL X", bnbq_quantize_global_int8(ex, BNBQ_F16, NULL, 128, BI_I8(1), BI_U16(2)));
        BI_CASE(117, "quantize_global_int8: n = 0", bnbq_quantize_global_int8(ex, BNBQ_F16, BI_R(0), 0, BI_I8(1), BI_U16(2)));
        BI_CASE(118, "quantize_global_int8_transpose: NULL out_q", bnbq_quantize_global_int8_transpose(ex, BNBQ_F16, BI_R(0), 8, 16, NULL, BI_U16(2)));
        BI_CASE(119, "quantize_global_int8_transpose: rows = 0", bnbq_quantize_global_int8_transpose(ex, BNBQ_F16, BI_R(0), 0, 16, BI_I8(1), BI_U16(2)));
        BI_CASE(120, "dequantize_rowwise: NULL state", bnbq_dequantize_rowwise(ex, BI_I8(1), NULL, 8, 16, BI_U16(3)));
        BI_CASE(121, "dequantize_rowwise: cols = 0", bnbq_dequantize_rowwise(ex, BI_I8(1), BI_U16(2), 8, 0, BI_U16(3)));
        BI_CASE(122, "int8_matmul_rowwise_dequantize: NULL state_x", bnbq_int8_matmul_rowwise_dequantize(ex, BI_I8(1), BI_I8(4), NULL, BI_U16(5), 4, 4, 16, BI_U16(3), NULL));
        BI_CASE(123, "int8_matmul_rowwise_dequantize: N = 0", bnbq_int8_matmul_rowwise_dequantize(ex, BI_I8(1), BI_I8(4), BI_U16(2), BI_U16(5), 4, 0, 16, BI_U16(3), NULL));
        BI_CASE(124, "int8_matmul_rowwise_dequantize: misaligned bias", bnbq_int8_matmul_rowwise_dequantize(ex, BI_I8(1), BI_I8(4), BI_U16(2), BI_U16(5), 4, 4, 16, BI_U16(3), (const uint16_t*)BI_MIS(10)));
        BI_CASE(125, "int8_matmul_mixed_dequantize: NULL state_w", bnbq_int8_matmul_mixed_dequantize(ex, BI_I8(1), BI_I8(4), BI_U16(2), NULL, 4, 4, 16, BI_U16(3), NULL));
        BI_CASE(126, "int8_matmul_mixed_dequantize: K = 0", bnbq_int8_matmul_mixed_dequantize(ex, BI_I8(1), BI_I8(4), BI_U16(2), BI_U16(5), 4, 4, 0, BI_U16(3), NULL));

        BI_CASE(130, "gemv_4bit: K % blocksize != 0", bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_F16, BI_R(0), BI_U8(1), BI_F(2), 4, 100, 64, BI_R(3), NULL, NULL));
        case 131: *label = "gemv_4bit: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_F32, BI_R(0), BI_U8(1), BI_F(2), 1, 8192, 8192, BI_R(3), NULL, NULL);
        BI_CASE(132, "gemv_4bit: INT4", bnbq_gemv_4bit(ex, BNBQ_INT4, BNBQ_F16, BI_R(0), BI_U8(1), BI_F(2), 4, 128, 64, BI_R(3), NULL, NULL));
        BI_CASE(133, "gemv_4bit: NULL A", bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_F16, NULL, BI_U8(1), BI_F(2), 4, 128, 64, BI_R(3), NULL, NULL));
        BI_CASE(134, "gemv_4bit: N = 0", bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_F16, BI_R(0), BI_U8(1), BI_F(2), 0, 128, 64, BI_R(3), NULL, NULL));
        BI_CASE(135, "gemv_4bit: dtype U8", bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_U8, BI_R(0), BI_U8(1), BI_F(2), 4, 128, 64, BI_R(3), NULL, NULL));
        BI_CASE(136, "gemv_4bit: misaligned bias", bnbq_gemv_4bit(ex, BNBQ_FP4, BNBQ_BF16, BI_R(0), BI_U8(1), BI_F(2), 4, 128, 64, BI_R(3), BI_MIS(10), NULL));
        BI_CASE(137, "gemv_4bit: misaligned code", bnbq_gemv_4bit(ex, BNBQ_FP4, BNBQ_F32, BI_R(0), BI_U8(1), BI_F(2), 4, 128, 64, BI_R(3), NULL, dyn_mis));
        BI_CASE(140, "matmul_4bit: M = 0", bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_F16, BI_R(0), BI_U8(1), BI_F(2), 0, 4, 128, 64, BI_R(3), NULL, NULL));
        BI_CASE(141, "matmul_4bit: NULL packed", bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_F16, BI_R(0), NULL, BI_F(2), 2, 4, 128, 64, BI_R(3), NULL, NULL));
        case 142: *label = "matmul_4bit: blocksize 8192"; *backend_rejects = 1;
            return (int)bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_F32, BI_R(0), BI_U8(1), BI_F(2), 2, 1, 8192, 8192, BI_R(3), NULL, NULL);
        BI_CASE(143, "matmul_4bit: AF4", bnbq_matmul_4bit(ex, BNBQ_AF4, BNBQ_F16, BI_R(0), BI_U8(1), BI_F(2), 2, 4, 128, 64, BI_R(3), NULL, NULL));
        BI_CASE(144, "matmul_4bit: blocksize 20", bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_BF16, BI_R(0), BI_U8(1), BI_F(2), 2, 4, 100, 20, BI_R(3), NULL, NULL));
        default: break;
    }
    return i > 150 ? -1 : -2;   /* -2: no case with this number */
#undef BI_CASE
#undef BI_MIS
#undef BI_U16
#undef BI_I32
#undef BI_I8
#undef BI_U8
#undef BI_F
#undef BI_R
}

/* Runs every case on the CPU and on gex (device memory of ctx). Returns 0 when the buffers could
   not be set up (rep->first says why). */
static int bi_run_all(bnbq_cuda* ctx, bnbq_exec* gex, bi_report* rep) {
    unsigned char* host = (unsigned char*)malloc(BI_BYTES);
    void* dev = NULL;
    size_t k;
    int i, ok = 1;
    memset(rep, 0, sizeof *rep);
    for (k = 0; k < 256; k++) bi_unsorted[k] = (float)(255 - (int)k) / 255.0f;
    if (!host || bnbq_cuda_malloc(ctx, BI_BYTES, &dev) != BNBQ_SUCCESS) {
        snprintf(rep->first, sizeof rep->first, "cannot allocate %zu bytes", (size_t)BI_BYTES);
        free(host);
        return 0;
    }
    for (k = 0; k + 4 <= BI_BYTES; k += 4) {
        const float half = 0.5f;
        memcpy(host + k, &half, 4);
    }
    if (bnbq_cuda_memcpy(gex, dev, host, BI_BYTES, BNBQ_COPY_HOST_TO_DEVICE) != BNBQ_SUCCESS ||
        bnbq_cuda_synchronize(gex) != BNBQ_SUCCESS) {
        snprintf(rep->first, sizeof rep->first, "cannot copy to the device");
        ok = 0;
    }
    for (i = 0; ok; i++) {
        const char* label = "";
        int rejects = 0, rc, rg, want;
        rc = bi_case(i, NULL, host, &label, &rejects);
        if (rc == -1) break;
        if (rc == -2) continue;
        rg = bi_case(i, gex, (unsigned char*)dev, &label, &rejects);
        want = rejects ? (int)BNBQ_ERROR_BAD_BLOCKSIZE : rc;
        rep->cases++;
        if (rejects) rep->gpu_only++;
        if (rg != want || (rejects && rc != (int)BNBQ_SUCCESS) || (!rejects && rc == (int)BNBQ_SUCCESS)) {
            rep->mismatches++;
            if (!rep->first[0])
                snprintf(rep->first, sizeof rep->first, "%s: CPU %s, CUDA %s (expected %s%s)", label,
                         bnbq_result_name((bnbq_result)rc), bnbq_result_name((bnbq_result)rg),
                         bnbq_result_name((bnbq_result)want),
                         rejects ? "; the CPU must run it" : "; the CPU must reject it");
        }
    }
    if (bnbq_cuda_synchronize(gex) != BNBQ_SUCCESS && !rep->first[0]) {
        snprintf(rep->first, sizeof rep->first, "synchronize after the bad calls failed");
        rep->mismatches++;
    }
    bnbq_cuda_free(ctx, dev);
    free(host);
    return ok;
}

#endif /* BNBQ_TESTS_BAD_INPUT_H */
