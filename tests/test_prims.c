/* test_prims.c - CPU tests of bnbq.h's exec memory (>>memory) and the layers' building blocks
   (>>prims), each against a naive reference written here from the contract in its comment.

   Build:  make build/test_prims     Run: ./build/test_prims [--quick] [name-substring ...] */
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq.h"
#include "unit_util.h"

/* ------------------------------------------------------------------------------------------ */
/* >>memory                                                                                   */

static int g_fail_alloc;   /* the failing allocator's switch */
static void* fail_alloc(void* user, size_t bytes) { (void)user; return g_fail_alloc ? NULL : malloc(bytes); }
static void fail_free(void* user, void* p) { (void)user; free(p); }

static void test_memory(void)
{
    bnbq_exec ex;
    bnbq_cpu_desc d;
    void* p = (void*)&d;
    unsigned char* b;
    unsigned char host[64], back[64];
    size_t i;
    /* alloc / free */
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_alloc, 16, NULL);
    p = (void*)&d;
    CHECK(bnbq_alloc(NULL, 0, &p) == BNBQ_ERROR_BAD_SHAPE && p == NULL, "alloc 0 bytes");
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_alloc, 0, &p);
    MUST(bnbq_alloc(&g_logex, 64, &p));
    CHECK(p != NULL, "alloc returned NULL");
    b = (unsigned char*)p;
    /* fill_bytes: only the low byte of the value counts */
    MUST(bnbq_fill_bytes(&g_logex, b, 0x1ab, 64));
    for (i = 0; i < 64; i++) CHECK(b[i] == 0xab, "fill byte %lu = %d", (unsigned long)i, b[i]);
    EXPECT(BNBQ_SUCCESS, bnbq_fill_bytes, NULL, 7, 0);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_fill_bytes, NULL, 7, 4);
    /* copy: the three kinds, overlapping exec-to-exec, bad kind, NULL, 0 bytes */
    for (i = 0; i < 64; i++) host[i] = (unsigned char)(i * 7 + 1);
    MUST(bnbq_copy(&g_logex, b, host, 64, BNBQ_COPY_HOST_TO_EXEC));
    MUST(bnbq_copy(&g_logex, back, b, 64, BNBQ_COPY_EXEC_TO_HOST));
    CHECK(memcmp(host, back, 64) == 0, "host -> exec -> host round trip");
    MUST(bnbq_copy(&g_logex, b + 8, b, 32, BNBQ_COPY_EXEC_TO_EXEC));   /* overlapping */
    for (i = 0; i < 32; i++) CHECK(b[8 + i] == host[i], "overlapping copy byte %lu", (unsigned long)i);
    MUST(bnbq_copy(&g_logex, b, b, 64, BNBQ_COPY_EXEC_TO_EXEC));       /* src == dst */
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_copy, b, host, 4, (bnbq_copy_kind)3);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_copy, b, host, 4, (bnbq_copy_kind)-1);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_copy, NULL, host, 4, BNBQ_COPY_HOST_TO_EXEC);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_copy, b, NULL, 4, BNBQ_COPY_HOST_TO_EXEC);
    EXPECT(BNBQ_SUCCESS, bnbq_copy, NULL, NULL, 0, BNBQ_COPY_HOST_TO_EXEC);
    log_reset();
    CHECK(bnbq_sync(NULL) == BNBQ_SUCCESS && bnbq_sync(&g_logex) == BNBQ_SUCCESS &&
          g_log.n_error == 0, "sync");
    bnbq_free(&g_logex, p);
    bnbq_free(&g_logex, NULL);
    bnbq_free(NULL, NULL);
    /* ex = NULL: malloc */
    MUST(bnbq_alloc(NULL, 3, &p));
    bnbq_free(NULL, p);
    /* an allocator that fails: OUT_OF_MEMORY, *out_ptr NULL */
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = fail_alloc;
    d.allocator.free_fn = fail_free;
    d.logger.func = rec_logger;
    d.logger.user_data = &g_log;
    MUST(bnbq_cpu_exec_init(&ex, &d));
    g_fail_alloc = 1;
    p = (void*)&d;
    log_reset();
    CHECK(bnbq_alloc(&ex, 16, &p) == BNBQ_ERROR_OUT_OF_MEMORY && p == NULL,
          "failing allocator: OUT_OF_MEMORY and NULL");
    CHECK(g_log.n_error == 1, "failing allocator logged %d errors", g_log.n_error);
    g_fail_alloc = 0;
    MUST(bnbq_alloc(&ex, 16, &p));
    bnbq_free(&ex, p);
    bnbq_exec_uninit(&ex);
}

/* ------------------------------------------------------------------------------------------ */
/* bnbq_gemm, bnbq_column_sums, bnbq_transpose                                                */

/* out (M, N) = op(A) op(B) [+ bias] [+ old out], summed in double, rounded to f32 then dt */
static void ref_gemm(bnbq_dtype dt, int ta, int tb, size_t M, size_t N, size_t K, const void* A,
                     const void* B, const void* bias, int acc, const void* old, void* out)
{
    size_t m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            double s = 0.0;
            for (k = 0; k < K; k++) {
                double a = ld(dt, A, ta ? k * M + m : m * K + k);
                double bb = ld(dt, B, tb ? n * K + k : k * N + n);
                s += a * bb;
            }
            if (bias) s += ld(dt, bias, n);
            if (acc) s += ld(dt, old, m * N + n);
            st(dt, out, m * N + n, (float)s);
        }
}

static void test_gemm(void)
{
    static const size_t shapes[][3] = { {1, 1, 1}, {5, 7, 3}, {17, 9, 33}, {4, 64, 130} };
    rng r = rng_make(11);
    size_t si, di;
    int ta, tb, bi, acc;
    bnbq_exec cex;
    bnbq_cpu_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.parallel_for = chunked_for;
    MUST(bnbq_cpu_exec_init(&cex, &cd));
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (di = 0; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            size_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2], es = dts(dt), i;
            void* A = rand_dt(&r, dt, M * K, 1.0f);
            void* B = rand_dt(&r, dt, K * N, 1.0f);
            void* bias = rand_dt(&r, dt, N, 1.0f);
            void* old = rand_dt(&r, dt, M * N, 1.0f);
            void* out = xmalloc(M * N * es);
            void* want = xmalloc(M * N * es);
            for (ta = 0; ta < 2; ta++)
                for (tb = 0; tb < 2; tb++)
                    for (bi = 0; bi < 2; bi++)
                        for (acc = 0; acc < 2; acc++) {
                            size_t bad = 0;
                            memcpy(out, old, M * N * es);
                            ref_gemm(dt, ta, tb, M, N, K, A, B, bi ? bias : NULL, acc, old, want);
                            MUST(bnbq_gemm((si & 1) ? &cex : NULL, dt, ta, tb, M, N, K, A, B,
                                           bi ? bias : NULL, acc, out));
                            for (i = 0; i < M * N; i++)
                                if (bits_at(dt, out, i) != bits_at(dt, want, i)) bad++;
                            CHECK(bad == 0, "gemm %s M%lu N%lu K%lu ta%d tb%d bias%d acc%d: %lu of %lu "
                                  "differ from the naive product", dtn(dt), (unsigned long)M,
                                  (unsigned long)N, (unsigned long)K, ta, tb, bi, acc,
                                  (unsigned long)bad, (unsigned long)(M * N));
                        }
            free(A); free(B); free(bias); free(old); free(out); free(want);
        }
    /* a hand-checked product: [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]] and A^T B */
    {
        float A[4] = { 1, 2, 3, 4 }, B[4] = { 5, 6, 7, 8 }, o[4];
        MUST(bnbq_gemm(NULL, BNBQ_F32, 0, 0, 2, 2, 2, A, B, NULL, 0, o));
        CHECK(o[0] == 19 && o[1] == 22 && o[2] == 43 && o[3] == 50, "2x2 product %g %g %g %g",
              o[0], o[1], o[2], o[3]);
        MUST(bnbq_gemm(NULL, BNBQ_F32, 1, 0, 2, 2, 2, A, B, NULL, 0, o));
        CHECK(o[0] == 26 && o[1] == 30 && o[2] == 38 && o[3] == 44, "A^T B %g %g %g %g", o[0],
              o[1], o[2], o[3]);
        MUST(bnbq_gemm(NULL, BNBQ_F32, 0, 1, 2, 2, 2, A, B, NULL, 0, o));
        CHECK(o[0] == 17 && o[1] == 23 && o[2] == 39 && o[3] == 53, "A B^T %g %g %g %g", o[0],
              o[1], o[2], o[3]);
    }
    /* f16: the sum is rounded once (1 + 2^-11 + 2^-11 = 1 + 2^-10 exactly, not 1 twice) */
    {
        uint16_t A[3], B[3], o;
        A[0] = bnbq_f32_to_f16(1.0f); A[1] = A[2] = bnbq_f32_to_f16(ldexpf(1.0f, -11));
        B[0] = B[1] = B[2] = bnbq_f32_to_f16(1.0f);
        MUST(bnbq_gemm(NULL, BNBQ_F16, 0, 0, 1, 1, 3, A, B, NULL, 0, &o));
        CHECK(bnbq_f16_to_f32(o) == 1.0f + ldexpf(1.0f, -10), "f16 one rounding: %.9g",
              bnbq_f16_to_f32(o));
    }
    /* bad input */
    {
        float a[64], bb[64], o[64];
        char* mis = (char*)a + 1;
        memset(a, 0, sizeof a); memset(bb, 0, sizeof bb);
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_gemm, BNBQ_I8, 0, 0, 2, 2, 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_gemm, (bnbq_dtype)77, 0, 0, 2, 2, 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 2, NULL, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 2, a, NULL, NULL, 0, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 2, a, bb, NULL, 0, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemm, BNBQ_F32, 0, 0, 0, 2, 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemm, BNBQ_F32, 0, 0, 2, 0, 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 0, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gemm, BNBQ_F32, 0, 0, SIZE_MAX / 2, 2, 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gemm, BNBQ_F32, 0, 0, 2, SIZE_MAX / 2, 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, SIZE_MAX / 2, a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gemm, BNBQ_F16, 1, 1, (size_t)1 << 32, (size_t)1 << 32, 1,
               a, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 2, mis, bb, NULL, 0, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 2, a, mis, NULL, 0, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemm, BNBQ_F32, 0, 0, 2, 2, 2, a, bb, mis, 0, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemm, BNBQ_F16, 0, 0, 2, 2, 2, a, bb, NULL, 0, mis);
        EXPECT(BNBQ_SUCCESS, bnbq_gemm, BNBQ_F16, 0, 0, 2, 2, 2, a, bb, (char*)a + 2, 0, o);
    }
    bnbq_exec_uninit(&cex);
}

static void test_column_sums(void)
{
    static const size_t shapes[][2] = { {1, 1}, {1, 9}, {7, 1}, {33, 17}, {300, 5} };
    rng r = rng_make(12);
    size_t si, di, m, n;
    for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (di = 0; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            size_t M = shapes[si][0], N = shapes[si][1], bad = 0;
            void* X = rand_dt(&r, dt, M * N, 3.0f);
            void* out = xmalloc(N * 4);
            MUST(bnbq_column_sums(si & 1 ? &g_logex : NULL, dt, X, M, N, out));
            for (n = 0; n < N; n++) {
                double s = 0.0;
                for (m = 0; m < M; m++) s += ld(dt, X, m * N + n);
                if (bits_at(dt, out, n) != bits_of(dt, (float)s)) bad++;
            }
            CHECK(bad == 0, "column_sums %s %lux%lu: %lu wrong", dtn(dt), (unsigned long)M,
                  (unsigned long)N, (unsigned long)bad);
            free(X); free(out);
        }
    {
        float x[8] = { 0 }, o[8];
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_column_sums, BNBQ_I32, x, 2, 2, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_column_sums, BNBQ_F32, NULL, 2, 2, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_column_sums, BNBQ_F32, x, 2, 2, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_column_sums, BNBQ_F32, x, 0, 2, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_column_sums, BNBQ_F32, x, 2, 0, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_column_sums, BNBQ_F32, x, SIZE_MAX / 2, 2, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_column_sums, BNBQ_F32, (char*)x + 2, 2, 2, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_column_sums, BNBQ_BF16, x, 2, 2, (char*)o + 1);
    }
}

static void test_transpose(void)
{
    static const size_t es_list[4] = { 1, 2, 4, 8 };
    static const size_t shapes[][2] = { {1, 1}, {1, 13}, {13, 1}, {7, 5}, {64, 33} };
    rng r = rng_make(13);
    size_t ei, si, i, c;
    for (ei = 0; ei < 4; ei++)
        for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            size_t es = es_list[ei], R = shapes[si][0], C = shapes[si][1], bad = 0;
            unsigned char* src = (unsigned char*)xmalloc(R * C * es);
            unsigned char* dst = (unsigned char*)xmalloc(R * C * es);
            unsigned char* back = (unsigned char*)xmalloc(R * C * es);
            for (i = 0; i < R * C * es; i++) src[i] = (unsigned char)rng_u64(&r);
            MUST(bnbq_transpose(si & 1 ? &g_logex : NULL, es, src, R, C, dst));
            for (i = 0; i < R; i++)
                for (c = 0; c < C; c++)
                    if (memcmp(dst + (c * R + i) * es, src + (i * C + c) * es, es) != 0) bad++;
            CHECK(bad == 0, "transpose es%lu %lux%lu: %lu elements misplaced", (unsigned long)es,
                  (unsigned long)R, (unsigned long)C, (unsigned long)bad);
            MUST(bnbq_transpose(NULL, es, dst, C, R, back));
            CHECK(memcmp(back, src, R * C * es) == 0, "transpose es%lu %lux%lu round trip",
                  (unsigned long)es, (unsigned long)R, (unsigned long)C);
            free(src); free(dst); free(back);
        }
    {
        double s[8] = { 0 }, d[8];
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_transpose, 3, s, 2, 2, d);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_transpose, 0, s, 2, 2, d);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_transpose, 16, s, 2, 2, d);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_transpose, 4, NULL, 2, 2, d);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_transpose, 4, s, 2, 2, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_transpose, 4, s, 0, 2, d);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_transpose, 4, s, 2, 0, d);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_transpose, 8, s, SIZE_MAX / 2, 2, d);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_transpose, 2, s, (size_t)1 << 32, (size_t)1 << 32, d);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_transpose, 8, (char*)s + 4, 2, 2, d);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_transpose, 2, s, 2, 2, (char*)d + 1);
        EXPECT(BNBQ_SUCCESS, bnbq_transpose, 1, (char*)s + 1, 2, 2, (char*)d + 3);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_transpose, 4, s, 2, 2, s);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* row gathers                                                                                */

static void test_gather_rows(void)
{
    rng r = rng_make(14);
    size_t num = 37, rb = 13, count = 100, i, bad = 0;
    unsigned char* table = (unsigned char*)xmalloc(num * rb);
    unsigned char* out = (unsigned char*)xmalloc(count * rb);
    unsigned char* keep = (unsigned char*)xmalloc(count * rb);
    int32_t* idx = (int32_t*)xmalloc(count * 4);
    for (i = 0; i < num * rb; i++) table[i] = (unsigned char)rng_u64(&r);
    for (i = 0; i < count; i++) idx[i] = rng_int(&r, 0, (int)num - 1);
    idx[0] = 0; idx[1] = (int32_t)num - 1; idx[2] = idx[3] = 5;
    MUST(bnbq_gather_rows(&g_logex, table, num, rb, idx, count, out));
    for (i = 0; i < count; i++)
        if (memcmp(out + i * rb, table + (size_t)idx[i] * rb, rb) != 0) bad++;
    CHECK(bad == 0, "gather_rows: %lu rows wrong", (unsigned long)bad);
    /* an index out of range: INVALID_ARGS and nothing written */
    memset(out, 0x5a, count * rb);
    memcpy(keep, out, count * rb);
    idx[50] = (int32_t)num;
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows, table, num, rb, idx, count, out);
    idx[50] = -1;
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows, table, num, rb, idx, count, out);
    idx[50] = INT32_MIN;
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows, table, num, rb, idx, count, out);
    CHECK(memcmp(out, keep, count * rb) == 0, "a failed gather wrote to out");
    idx[50] = 3;
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows, NULL, num, rb, idx, count, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows, table, num, rb, NULL, count, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows, table, num, rb, idx, count, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows, table, 0, rb, idx, count, out);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows, table, num, 0, idx, count, out);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows, table, num, rb, idx, 0, out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows, table, num, SIZE_MAX / 2, idx, count, out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows, table, num, rb, idx, SIZE_MAX / 2, out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows, table, num, rb, (int32_t*)(void*)((char*)idx + 2),
           count - 1, out);
    free(table); free(out); free(keep); free(idx);
}

static void test_gather_rows_backward(void)
{
    rng r = rng_make(15);
    size_t num = 23, dim = 7, count = 90, di, i, d;
    int32_t* idx = (int32_t*)xmalloc(count * 4);
    int pad, freq;
    for (i = 0; i < count; i++) idx[i] = rng_int(&r, 0, (int)num - 3);   /* rows num-2.. unused */
    idx[0] = idx[1] = idx[2] = 4;   /* duplicates */
    idx[3] = 9;                     /* the padding row below */
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        void* G = rand_dt(&r, dt, count * dim, 1.0f);
        void* gw = xmalloc(num * dim * 4);
        for (pad = 0; pad < 2; pad++)
            for (freq = 0; freq < 2; freq++) {
                size_t bad = 0, row;
                memset(gw, 0x7b, num * dim * 4);   /* garbage: must be overwritten */
                MUST(bnbq_gather_rows_backward(freq ? &g_logex : NULL, dt, idx, count, G, num,
                                               dim, pad ? 9 : -1, freq, gw));
                for (row = 0; row < num; row++)
                    for (d = 0; d < dim; d++) {
                        double s = 0.0;
                        size_t n = 0;
                        for (i = 0; i < count; i++)
                            if ((size_t)idx[i] == row) { s += ld(dt, G, i * dim + d); n++; }
                        if (pad && row == 9) s = 0.0;
                        if (freq && n) s /= (double)n;
                        if (bits_at(dt, gw, row * dim + d) != bits_of(dt, (float)s)) bad++;
                    }
                CHECK(bad == 0, "gather_rows_backward %s pad%d freq%d: %lu wrong", dtn(dt), pad,
                      freq, (unsigned long)bad);
            }
        free(G); free(gw);
    }
    {
        float g[64] = { 0 }, w[64];
        int32_t ix[4] = { 0, 1, 2, 3 };
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_gather_rows_backward, BNBQ_U8, ix, 4, g, 4, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_backward, BNBQ_F32, NULL, 4, g, 4, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, NULL, 4, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 4, 4, -1, 0, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_backward, BNBQ_F32, ix, 0, g, 4, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 0, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 4, 0, -1, 0, w);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 4, 4, 4, 0, w);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 4, 4, -2, 0, w);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, SIZE_MAX / 2, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows_backward, BNBQ_F32, ix, SIZE_MAX / 2, g, 4, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, (char*)g + 2, 4, 4, -1, 0, w);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows_backward, BNBQ_F16, ix, 4, g, 4, 4, -1, 0, (char*)w + 1);
        ix[2] = 4;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 4, 4, -1, 0, w);
        ix[2] = -1;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_backward, BNBQ_F32, ix, 4, g, 4, 4, -1, 0, w);
    }
    free(idx);
}

static double row_norm(bnbq_dtype dt, const void* w, size_t row, size_t dim, double p)
{
    size_t d;
    double s = 0.0;
    for (d = 0; d < dim; d++) s += pow(fabs((double)ld(dt, w, row * dim + d)), p);
    return pow(s, 1.0 / p);
}

static void test_renorm_rows(void)
{
    static const float norm_types[3] = { 1.0f, 2.0f, 3.0f };
    rng r = rng_make(16);
    size_t num = 20, dim = 9, count = 12, di, ni, i, row, d;
    int32_t idx[12] = { 0, 3, 3, 5, 7, 7, 7, 11, 12, 19, 0, 2 };
    for (di = 0; di < 3; di++)
        for (ni = 0; ni < 3; ni++) {
            bnbq_dtype dt = k_dts[di];
            float p = norm_types[ni], max_norm = 2.5f;
            void* w = rand_dt(&r, dt, num * dim, 1.0f);
            void* w0 = xmalloc(num * dim * 4);
            size_t bad_norm = 0, bad_touched = 0, bad_value = 0;
            /* row 2: tiny (norm below max_norm: unchanged) */
            for (d = 0; d < dim; d++) st(dt, w, 2 * dim + d, 0.01f);
            memcpy(w0, w, num * dim * dts(dt));
            MUST(bnbq_renorm_rows(di ? &g_logex : NULL, dt, w, num, dim, idx, count, max_norm, p));
            for (row = 0; row < num; row++) {
                int looked = 0;
                double n0 = row_norm(dt, w0, row, dim, p);
                for (i = 0; i < count; i++) if ((size_t)idx[i] == row) looked = 1;
                if (!looked || n0 <= max_norm) {
                    if (memcmp((char*)w + row * dim * dts(dt), (char*)w0 + row * dim * dts(dt),
                               dim * dts(dt)) != 0) bad_touched++;
                    continue;
                }
                if (row_norm(dt, w, row, dim, p) > max_norm * (1.0 + 8 * ulp_dt(dt, 1.0)))
                    bad_norm++;
                {
                    float scale = (float)((double)max_norm / (n0 + 1e-7));
                    for (d = 0; d < dim; d++)
                        if (bits_at(dt, w, row * dim + d) !=
                            bits_of(dt, ld(dt, w0, row * dim + d) * scale)) bad_value++;
                }
            }
            CHECK(bad_norm == 0 && bad_touched == 0 && bad_value == 0,
                  "renorm_rows %s p=%g: %lu norms above max_norm, %lu rows changed that should "
                  "not, %lu values off the formula", dtn(dt), p, (unsigned long)bad_norm,
                  (unsigned long)bad_touched, (unsigned long)bad_value);
            free(w); free(w0);
        }
    /* norm_type = inf (torch: the largest |w|): row 0 has max 4 > 2 -> scaled by 2 / (4 + 1e-7);
       row 1 has max 1.5 (its 2-norm 2.6 would exceed 2) -> unchanged */
    {
        float w[8] = { 1, -4, 2, 0.5f, 1.5f, -1.5f, 1.5f, 1.5f };
        int32_t ix[2] = { 0, 1 };
        float scale = (float)(2.0 / (4.0 + 1e-7));
        MUST(bnbq_renorm_rows(NULL, BNBQ_F32, w, 2, 4, ix, 2, 2.0f, INFINITY));
        CHECK(w[0] == 1 * scale && w[1] == -4 * scale && w[2] == 2 * scale && w[3] == 0.5f * scale,
              "inf norm: row 0 = %g %g %g %g", w[0], w[1], w[2], w[3]);
        CHECK(w[4] == 1.5f && w[5] == -1.5f && w[6] == 1.5f && w[7] == 1.5f,
              "inf norm: row 1 changed: %g %g %g %g", w[4], w[5], w[6], w[7]);
    }
    {
        float w[16] = { 0 };
        int32_t ix[2] = { 0, 1 };
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_renorm_rows, BNBQ_I64, w, 4, 4, ix, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_renorm_rows, BNBQ_F32, NULL, 4, 4, ix, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, NULL, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_renorm_rows, BNBQ_F32, w, 0, 4, ix, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_renorm_rows, BNBQ_F32, w, 4, 0, ix, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, 0, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, 2, 0.0f, 2.0f);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, 2, -1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, 2, NAN, 2.0f);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, 2, 1.0f, 0.0f);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_renorm_rows, BNBQ_F32, w, SIZE_MAX / 2, 4, ix, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, SIZE_MAX / 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_renorm_rows, BNBQ_F32, (char*)w + 2, 4, 4, ix, 2, 1.0f, 2.0f);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, (int32_t*)(void*)((char*)ix + 1), 1, 1.0f, 2.0f);
        ix[1] = 4;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_renorm_rows, BNBQ_F32, w, 4, 4, ix, 2, 1.0f, 2.0f);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* layer norm                                                                                 */

/* the double reference of one row: y = (x - mean) / sqrt(var + eps) * g + b */
static void ref_ln_row(const double* x, size_t N, const double* g, const double* b, double eps,
                       double* y, double* mean_out, double* rstd_out)
{
    size_t j;
    double mean = 0.0, var = 0.0, rstd;
    for (j = 0; j < N; j++) mean += x[j];
    mean /= (double)N;
    for (j = 0; j < N; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= (double)N;
    rstd = 1.0 / sqrt(var + eps);
    for (j = 0; j < N; j++) y[j] = (x[j] - mean) * rstd * (g ? g[j] : 1.0) + (b ? b[j] : 0.0);
    if (mean_out) *mean_out = mean;
    if (rstd_out) *rstd_out = rstd;
}

static void test_layer_norm(void)
{
    rng r = rng_make(17);
    size_t M = 6, N = 300, di, m, j;
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        void* X = rand_dt(&r, dt, M * N, 3.0f);
        void* out = xmalloc(M * N * 4);
        float* gamma = (float*)xmalloc(N * 4);
        float* beta = (float*)xmalloc(N * 4);
        float mean[6], rstd[6];
        double x[300], g[300], b[300], y[300];
        size_t bad = 0, bad_stats = 0;
        for (j = 0; j < N; j++) { gamma[j] = rng_range(&r, 0.5f, 2.0f); beta[j] = rng_range(&r, -1, 1); }
        for (j = 0; j < N; j++) { g[j] = gamma[j]; b[j] = beta[j]; }
        for (m = 0; m < M; m++) {
            size_t k;
            for (k = 0; k < N; k++) st(dt, X, m * N + k, (float)(rng_normal(&r) * 3.0 + (double)m));
        }
        /* gamma 1, beta 0: each row has mean ~0 and variance ~1 */
        MUST(bnbq_layer_norm(&g_logex, dt, X, M, N, NULL, NULL, 1e-5f, out, NULL, NULL));
        for (m = 0; m < M; m++) {
            double s = 0.0, v = 0.0;
            for (j = 0; j < N; j++) s += ld(dt, out, m * N + j);
            s /= (double)N;
            for (j = 0; j < N; j++) v += (ld(dt, out, m * N + j) - s) * (ld(dt, out, m * N + j) - s);
            v /= (double)N;
            CHECK(fabs(s) < 4 * ulp_dt(dt, 4.0) && fabs(v - 1.0) < 1e-4 + 8 * ulp_dt(dt, 1.0),
                  "layer_norm %s row %lu: mean %g var %g", dtn(dt), (unsigned long)m, s, v);
        }
        /* against the double reference, with gamma / beta, the saved statistics */
        MUST(bnbq_layer_norm(di == 1 ? NULL : &g_logex, dt, X, M, N, gamma, beta, 1e-5f, out,
                             mean, rstd));
        for (m = 0; m < M; m++) {
            double rm, rr;
            for (j = 0; j < N; j++) x[j] = ld(dt, X, m * N + j);
            ref_ln_row(x, N, g, b, 1e-5, y, &rm, &rr);
            for (j = 0; j < N; j++)
                if (fabs(ld(dt, out, m * N + j) - y[j]) > ulp_dt(dt, y[j]) * 0.5 + 1e-12 + 4e-7 * fabs(y[j])) bad++;
            if (fabs(mean[m] - rm) > 1e-6 * (1 + fabs(rm)) || fabs(rstd[m] - rr) > 1e-6 * rr) bad_stats++;
        }
        CHECK(bad == 0 && bad_stats == 0, "layer_norm %s vs double: %lu values, %lu rows' stats off",
              dtn(dt), (unsigned long)bad, (unsigned long)bad_stats);
        free(X); free(out); free(gamma); free(beta);
    }
    /* a constant row: var 0, rstd 1/sqrt(eps), out = beta */
    {
        float X[4] = { 3, 3, 3, 3 }, o[4], mean, rstd, beta[4] = { 1, 2, 3, 4 };
        MUST(bnbq_layer_norm(NULL, BNBQ_F32, X, 1, 4, NULL, beta, 1e-5f, o, &mean, &rstd));
        CHECK(o[0] == 1 && o[1] == 2 && o[2] == 3 && o[3] == 4 && mean == 3.0f &&
              fabs(rstd - 1.0 / sqrt(1e-5)) < 1e-2, "constant row: %g %g %g %g mean %g rstd %g",
              o[0], o[1], o[2], o[3], mean, rstd);
    }
    {
        float X[16] = { 1, 2 }, o[16], s[4];
        char* mis = (char*)X + 2;
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_layer_norm, BNBQ_I8, X, 2, 2, NULL, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_layer_norm, BNBQ_F32, NULL, 2, 2, NULL, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_layer_norm, BNBQ_F32, X, 2, 2, NULL, NULL, 1e-5f, NULL, NULL, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_layer_norm, BNBQ_F32, X, 0, 2, NULL, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_layer_norm, BNBQ_F32, X, 2, 0, NULL, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_layer_norm, BNBQ_F32, X, 2, 2, NULL, NULL, -1.0f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_layer_norm, BNBQ_F32, X, 2, 2, NULL, NULL, NAN, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_layer_norm, BNBQ_F32, X, SIZE_MAX / 2, 2, NULL, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm, BNBQ_F32, mis, 2, 2, NULL, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm, BNBQ_F32, X, 2, 2, (float*)(void*)mis, NULL, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm, BNBQ_F32, X, 2, 2, NULL, (float*)(void*)mis, 1e-5f, o, NULL, NULL);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm, BNBQ_F32, X, 2, 2, NULL, NULL, 1e-5f, o, (float*)(void*)mis, NULL);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm, BNBQ_F16, X, 2, 2, NULL, NULL, 1e-5f, (char*)o + 1, NULL, s);
        EXPECT(BNBQ_SUCCESS, bnbq_layer_norm, BNBQ_F16, mis, 2, 2, NULL, NULL, 0.0f, o, s, s + 2);
    }
}

static void test_layer_norm_backward(void)
{
    rng r = rng_make(18);
    size_t M = 3, N = 8, m, j, k, di;
    double h = 1e-6;
    float X[24], G[24], gamma[8], gx[24], gg[8], gb[8], gx2[24], gg2[8], gb2[8], mean[3], rstd[3];
    double x[8], g[8], b[8], yp[8], ym[8];
    double max_err = 0.0;
    for (j = 0; j < M * N; j++) { X[j] = (float)rng_normal(&r); G[j] = (float)rng_normal(&r); }
    for (j = 0; j < N; j++) { gamma[j] = rng_range(&r, 0.5f, 1.5f); g[j] = gamma[j]; b[j] = 0.3; }
    MUST(bnbq_layer_norm_backward(&g_logex, BNBQ_F32, X, G, M, N, gamma, 1e-5f, NULL, NULL, gx,
                                  gg, gb));
    /* finite differences of L = sum(G * LN(X)) on the double reference */
    for (m = 0; m < M; m++)
        for (k = 0; k < N; k++) {
            double lp = 0.0, lm = 0.0, num, err;
            for (j = 0; j < N; j++) x[j] = X[m * N + j];
            x[k] += h; ref_ln_row(x, N, g, b, 1e-5, yp, NULL, NULL);
            x[k] -= 2 * h; ref_ln_row(x, N, g, b, 1e-5, ym, NULL, NULL);
            for (j = 0; j < N; j++) { lp += G[m * N + j] * yp[j]; lm += G[m * N + j] * ym[j]; }
            num = (lp - lm) / (2 * h);
            err = fabs(num - gx[m * N + k]) / (1.0 + fabs(num));
            if (err > max_err) max_err = err;
        }
    CHECK(max_err < 1e-5, "grad_x vs finite differences: max rel error %g", max_err);
    max_err = 0.0;
    for (k = 0; k < N; k++) {
        double dg = 0.0, db = 0.0, eg, eb;
        for (m = 0; m < M; m++) {
            double lp = 0.0, lm = 0.0, save = g[k];
            for (j = 0; j < N; j++) x[j] = X[m * N + j];
            g[k] = save + h; ref_ln_row(x, N, g, b, 1e-5, yp, NULL, NULL);
            g[k] = save - h; ref_ln_row(x, N, g, b, 1e-5, ym, NULL, NULL);
            g[k] = save;
            for (j = 0; j < N; j++) { lp += G[m * N + j] * yp[j]; lm += G[m * N + j] * ym[j]; }
            dg += (lp - lm) / (2 * h);
            db += G[m * N + k];   /* d/dbeta_k of sum G * y is exactly sum_m G[m, k] */
        }
        eg = fabs(dg - gg[k]) / (1.0 + fabs(dg));
        eb = fabs(db - gb[k]) / (1.0 + fabs(db));
        if (eg > max_err) max_err = eg;
        if (eb > max_err) max_err = eb;
    }
    CHECK(max_err < 1e-5, "grad_gamma / grad_beta vs finite differences: max rel error %g", max_err);
    /* the saved statistics give the same result; each output may be skipped */
    MUST(bnbq_layer_norm(NULL, BNBQ_F32, X, M, N, gamma, NULL, 1e-5f, gx2, mean, rstd));
    MUST(bnbq_layer_norm_backward(NULL, BNBQ_F32, X, G, M, N, gamma, 1e-5f, mean, rstd, gx2,
                                  gg2, gb2));
    max_err = 0.0;
    for (j = 0; j < M * N; j++) max_err = fmax(max_err, fabs(gx2[j] - gx[j]) / (1 + fabs(gx[j])));
    for (j = 0; j < N; j++) max_err = fmax(max_err, fabs(gg2[j] - gg[j]) / (1 + fabs(gg[j])));
    CHECK(max_err < 1e-5, "with saved mean / rstd: max rel difference %g", max_err);
    memset(gg2, 0, sizeof gg2);
    MUST(bnbq_layer_norm_backward(NULL, BNBQ_F32, X, G, M, N, gamma, 1e-5f, NULL, NULL, NULL,
                                  gg2, NULL));
    CHECK(memcmp(gg2, gg, sizeof gg) == 0, "grad_gamma alone differs");
    MUST(bnbq_layer_norm_backward(NULL, BNBQ_F32, X, G, M, N, NULL, 1e-5f, NULL, NULL, gx2,
                                  NULL, NULL));   /* gamma NULL = 1 */
    {
        float ones[8];
        for (j = 0; j < N; j++) ones[j] = 1.0f;
        MUST(bnbq_layer_norm_backward(NULL, BNBQ_F32, X, G, M, N, ones, 1e-5f, NULL, NULL, gx, NULL, NULL));
        CHECK(memcmp(gx, gx2, sizeof gx) == 0, "gamma NULL differs from gamma = 1");
    }
    /* F16 / BF16: grad_x is the F32 answer for the widened inputs, rounded to dt */
    for (di = 1; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        uint16_t Xh[24], Gh[24], gxh[24];
        float Xw[24], Gw[24], want[24];
        size_t bad = 0;
        for (j = 0; j < M * N; j++) {
            st(dt, Xh, j, X[j]); st(dt, Gh, j, G[j]);
            Xw[j] = ld(dt, Xh, j); Gw[j] = ld(dt, Gh, j);
        }
        MUST(bnbq_layer_norm_backward(NULL, dt, Xh, Gh, M, N, gamma, 1e-5f, NULL, NULL, gxh, NULL, NULL));
        MUST(bnbq_layer_norm_backward(NULL, BNBQ_F32, Xw, Gw, M, N, gamma, 1e-5f, NULL, NULL, want, NULL, NULL));
        for (j = 0; j < M * N; j++) if (bits_at(dt, gxh, j) != bits_of(dt, want[j])) bad++;
        CHECK(bad == 0, "layer_norm_backward %s: %lu values differ from f32 rounded", dtn(dt),
              (unsigned long)bad);
    }
    {
        char* mis = (char*)X + 2;
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_layer_norm_backward, BNBQ_U8, X, G, M, N, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_layer_norm_backward, BNBQ_F32, NULL, G, M, N, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_layer_norm_backward, BNBQ_F32, X, NULL, M, N, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, N, gamma, 1e-5f, NULL, NULL, NULL, NULL, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_layer_norm_backward, BNBQ_F32, X, G, 0, N, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, 0, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, N, gamma, -1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, N, gamma, 1e-5f, mean, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, N, gamma, 1e-5f, NULL, rstd, gx, gg, gb);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_layer_norm_backward, BNBQ_F32, X, G, SIZE_MAX / 2, N, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm_backward, BNBQ_F32, mis, G, M, N, gamma, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, N, (float*)(void*)mis, 1e-5f, NULL, NULL, gx, gg, gb);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm_backward, BNBQ_F32, X, G, M, N, gamma, 1e-5f, NULL, NULL, gx, (float*)(void*)((char*)gg + 1), gb);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_layer_norm_backward, BNBQ_F16, X, G, M, N, gamma, 1e-5f, NULL, NULL, (char*)gx + 1, NULL, NULL);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* quantized row lookups                                                                      */

static void test_gather_rows_8bit(void)
{
    rng r = rng_make(19);
    size_t num = 31, dim = 19, count = 64, i, j, di;
    int8_t* CB = (int8_t*)xmalloc(num * dim);
    float* SCB = (float*)xmalloc(num * 4);
    int32_t* idx = (int32_t*)xmalloc(count * 4);
    void* out = xmalloc(count * dim * 4);
    for (i = 0; i < num * dim; i++) CB[i] = (int8_t)rng_int(&r, -127, 127);
    CB[0] = -128;
    for (i = 0; i < num; i++) SCB[i] = (float)fabs(rng_normal(&r)) * 10.0f + 0.01f;
    for (i = 0; i < count; i++) idx[i] = rng_int(&r, 0, (int)num - 1);
    idx[0] = 0;
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        size_t bad = 0;
        MUST(bnbq_gather_rows_8bit(di ? &g_logex : NULL, dt, CB, SCB, num, dim, idx, count, out));
        for (i = 0; i < count; i++)
            for (j = 0; j < dim; j++) {
                volatile float s = SCB[idx[i]] / 127.0f;
                volatile float v = (float)CB[(size_t)idx[i] * dim + j] * s;
                if (bits_at(dt, out, i * dim + j) != bits_of(dt, v)) bad++;
            }
        CHECK(bad == 0, "gather_rows_8bit %s: %lu values off the formula", dtn(dt), (unsigned long)bad);
    }
    {
        float o[8];
        int32_t bad_idx[2] = { 0, 31 };
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_gather_rows_8bit, BNBQ_I8, CB, SCB, num, dim, idx, 2, out);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_8bit, BNBQ_F32, NULL, SCB, num, dim, idx, 2, out);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_8bit, BNBQ_F32, CB, NULL, num, dim, idx, 2, out);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, NULL, 2, out);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, idx, 2, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, 0, dim, idx, 2, out);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, 0, idx, 2, out);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, idx, 0, out);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, SIZE_MAX / 2, dim, idx, 2, out);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, idx, SIZE_MAX / 2, out);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows_8bit, BNBQ_F32, CB, (float*)(void*)((char*)SCB + 1), num, dim, idx, 2, out);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, idx, 2, (char*)o + 2);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, bad_idx, 2, out);
        bad_idx[1] = -3;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_8bit, BNBQ_F32, CB, SCB, num, dim, bad_idx, 2, out);
    }
    free(CB); free(SCB); free(idx); free(out);
}

static void test_gather_rows_4bit(void)
{
    static const size_t dims[4] = { 64, 65, 7, 256 };
    static const int bss[2] = { 64, 128 };
    rng r = rng_make(20);
    size_t num = 21, count = 40, i, j, di, dmi, bi;
    int qi;
    int32_t idx[40];
    for (i = 0; i < count; i++) idx[i] = rng_int(&r, 0, (int)num - 1);
    idx[0] = 0; idx[1] = (int32_t)num - 1;
    for (dmi = 0; dmi < 4; dmi++)
        for (bi = 0; bi < 2; bi++)
            for (qi = 0; qi < 2; qi++)
                for (di = 0; di < 3; di++) {
                    bnbq_quant_type qt = qi ? BNBQ_NF4 : BNBQ_FP4;
                    bnbq_dtype dt = k_dts[di];
                    size_t dim = dims[dmi], n = num * dim, bs = (size_t)bss[bi], bad = 0;
                    void* w = rand_dt(&r, dt, n, 1.0f);
                    uint8_t* packed = (uint8_t*)xmalloc((n + 1) / 2);
                    float* absmax = (float*)xmalloc((n + bs - 1) / bs * 4);
                    void* full = xmalloc(n * 4);
                    void* out = xmalloc(count * dim * 4);
                    MUST(bnbq_quantize_4bit(NULL, qt, dt, w, n, (int)bs, packed, absmax));
                    MUST(bnbq_dequantize_4bit(NULL, qt, dt, packed, absmax, n, (int)bs, full));
                    MUST(bnbq_gather_rows_4bit(di ? &g_logex : NULL, qt, dt, packed, absmax, num,
                                               dim, (int)bs, idx, count, out));
                    for (i = 0; i < count; i++)
                        for (j = 0; j < dim; j++)
                            if (bits_at(dt, out, i * dim + j) !=
                                bits_at(dt, full, (size_t)idx[i] * dim + j)) bad++;
                    CHECK(bad == 0, "gather_rows_4bit %s %s dim %lu bs %lu: %lu values differ "
                          "from dequantize_4bit", qi ? "nf4" : "fp4", dtn(dt),
                          (unsigned long)dim, (unsigned long)bs, (unsigned long)bad);
                    free(w); free(packed); free(absmax); free(full); free(out);
                }
    {
        uint8_t p[64] = { 0 };
        float am[4] = { 1, 1, 1, 1 }, o[128];
        int32_t ix[2] = { 0, 1 };
        EXPECT(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_gather_rows_4bit, BNBQ_INT4, BNBQ_F32, p, am, 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_gather_rows_4bit, (bnbq_quant_type)9, BNBQ_F32, p, am, 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_U8, p, am, 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, NULL, am, 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, NULL, 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 64, NULL, 2, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 64, ix, 2, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 0, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 0, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 64, ix, 0, o);
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 48, ix, 2, o);
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 16, ix, 2, o);
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 0, ix, 2, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, SIZE_MAX / 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 64, ix, SIZE_MAX / 2, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, (float*)(void*)((char*)am + 2), 2, 64, 64, ix, 2, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_BF16, p, am, 2, 64, 64, ix, 2, (char*)o + 1);
        ix[1] = 2;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_rows_4bit, BNBQ_NF4, BNBQ_F32, p, am, 2, 64, 64, ix, 2, o);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* LLM.int8 pieces                                                                            */

static void test_int8_outlier_mm(void)
{
    rng r = rng_make(21);
    size_t M = 5, K = 40, N = 9, di, m, n, i;
    int8_t CB[9 * 40];
    float SCB[9];
    int32_t cols[40], ncols;
    for (i = 0; i < N * K; i++) CB[i] = (int8_t)rng_int(&r, -127, 127);
    for (i = 0; i < N; i++) SCB[i] = (float)fabs(rng_normal(&r)) + 0.1f;
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        void* A = rand_dt(&r, dt, M * K, 4.0f);
        void* out0 = rand_dt(&r, dt, M * N, 1.0f);
        void* out = xmalloc(M * N * 4);
        int pass;
        for (pass = 0; pass < 3; pass++) {
            size_t bad = 0;
            ncols = pass == 0 ? 0 : pass == 1 ? 3 : (int32_t)K;
            for (i = 0; i < (size_t)ncols; i++) cols[i] = pass == 1 ? (int32_t)(i * 13 + 1) : (int32_t)(K - 1 - i);
            memcpy(out, out0, M * N * dts(dt));
            MUST(bnbq_int8_outlier_mm(pass ? &g_logex : NULL, dt, A, M, K, CB, SCB, N, cols, &ncols, out));
            for (m = 0; m < M; m++)
                for (n = 0; n < N; n++) {
                    volatile float s = 0.0f, v;
                    int32_t j;
                    for (j = 0; j < ncols; j++) {
                        size_t c = (size_t)cols[j];
                        volatile float w0 = (float)CB[n * K + c] * SCB[n];
                        volatile float w1 = w0 * 7.874015718698502e-3f;
                        volatile float p = ld(dt, A, m * K + c) * round_dt(dt, w1);
                        s = s + p;
                    }
                    v = ld(dt, out0, m * N + n) + s;
                    if (bits_at(dt, out, m * N + n) != bits_of(dt, v)) bad++;
                }
            CHECK(bad == 0, "int8_outlier_mm %s with %d columns: %lu values off the formula",
                  dtn(dt), (int)ncols, (unsigned long)bad);
        }
        free(A); free(out0); free(out);
    }
    {
        float A[64] = { 0 }, o[64] = { 0 };
        int32_t cc[4] = { 0, 1, 2, 3 }, nc = 2;
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_outlier_mm, BNBQ_I32, A, 2, 4, CB, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_outlier_mm, BNBQ_F32, NULL, 2, 4, CB, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, NULL, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, NULL, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, NULL, &nc, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, NULL, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, &nc, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_outlier_mm, BNBQ_F32, A, 0, 4, CB, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 0, CB, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 0, cc, &nc, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_outlier_mm, BNBQ_F32, A, SIZE_MAX / 2, 4, CB, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, SIZE_MAX / 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_outlier_mm, BNBQ_F32, (char*)A + 2, 2, 4, CB, SCB, 2, cc, &nc, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, (int32_t*)(void*)((char*)cc + 1), &nc, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_outlier_mm, BNBQ_F16, A, 2, 4, CB, SCB, 2, cc, &nc, (char*)o + 1);
        nc = 5;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, &nc, o);
        nc = -1;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, &nc, o);
        nc = 4; cc[3] = 4;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, &nc, o);
        cc[3] = -1;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, &nc, o);
        nc = 3;   /* entries past the count are not read */
        EXPECT(BNBQ_SUCCESS, bnbq_int8_outlier_mm, BNBQ_F32, A, 2, 4, CB, SCB, 2, cc, &nc, o);
    }
}

/* bnbq_int8_mixed_scaled_mm: the bytes of linear_matmul + mm_dequant (+ outlier_mm) in that order,
   with and without work (M = 1), bias of each kind, with and without outlier columns; bad columns
   leave out untouched */
static void test_int8_mixed_scaled_mm(void)
{
    rng r = rng_make(23);
    static const size_t shapes[4][3] = { { 1, 9, 40 }, { 1, 33, 48 }, { 5, 9, 40 }, { 3, 17, 7 } };
    size_t si, di, bi, i;
    for (si = 0; si < 4; si++)
        for (di = 0; di < 3; di++)
            for (bi = 0; bi < 3; bi++) {
                size_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                bnbq_dtype dt = k_dts[di], bdt = bi == 0 ? BNBQ_F16 : k_dts[(di + bi) % 3];
                int8_t* CA = (int8_t*)xmalloc(M * K);
                int8_t* CB = (int8_t*)xmalloc(N * K);
                float* rs = (float*)xmalloc(M * 4);
                float* cs = (float*)xmalloc(N * 4);
                void* A = rand_dt(&r, dt, M * K, 4.0f);
                void* bias = bi == 2 ? NULL : rand_dt(&r, bdt, N, 1.0f);
                int32_t* P = (int32_t*)xmalloc(M * N * 4);
                int32_t* work = (int32_t*)xmalloc(M * N * 4);
                void* want = xmalloc(M * N * 4);
                void* got = xmalloc(M * N * 4);
                int32_t cols[8], nc = (int32_t)(si + 1), pass;
                for (i = 0; i < M * K; i++) CA[i] = (int8_t)rng_int(&r, -127, 127);
                for (i = 0; i < N * K; i++) CB[i] = (int8_t)rng_int(&r, -127, 127);
                for (i = 0; i < M; i++) rs[i] = (float)fabs(rng_normal(&r)) * 10.0f + 0.1f;
                for (i = 0; i < N; i++) cs[i] = (float)fabs(rng_normal(&r)) + 0.1f;
                for (i = 0; i < (size_t)nc; i++) cols[i] = (int32_t)((i * 11 + 3) % K);
                for (pass = 0; pass < 4; pass++) {   /* 0, 1: no outliers / outliers with work; 2, 3: without */
                    int with_cols = pass & 1, use_work = pass < 2;
                    if (!use_work && M > 1) {
                        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, dt, CA, CB, M, N, K, rs, cs,
                               bdt, bias, A, with_cols ? cols : NULL, &nc, NULL, got);
                        continue;
                    }
                    MUST(bnbq_int8_linear_matmul(NULL, CA, CB, M, N, K, P));
                    MUST(bnbq_int8_mm_dequant(NULL, dt, P, rs, cs, M, N, want, bdt, bias));
                    if (with_cols) MUST(bnbq_int8_outlier_mm(NULL, dt, A, M, K, CB, cs, N, cols, &nc, want));
                    memset(got, 0xA5, M * N * 4);
                    MUST(bnbq_int8_mixed_scaled_mm(pass & 2 ? &g_logex : NULL, dt, CA, CB, M, N, K, rs, cs, bdt,
                                                   bias, A, with_cols ? cols : NULL, &nc,
                                                   use_work ? work : NULL, got));
                    CHECK(memcmp(got, want, M * N * dts(dt)) == 0,
                          "int8_mixed_scaled_mm %s M=%zu N=%zu K=%zu bias %d cols %d work %d: not the three calls' bytes",
                          dtn(dt), M, N, K, (int)bi, with_cols, use_work);
                }
                /* a bad column: INVALID_ARGS, out as it was */
                cols[0] = (int32_t)K;
                memset(got, 0x5A, M * N * 4);
                memcpy(want, got, M * N * 4);
                EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_int8_mixed_scaled_mm, dt, CA, CB, M, N, K, rs, cs, bdt, bias, A,
                       cols, &nc, work, got);
                CHECK(memcmp(got, want, M * N * 4) == 0, "int8_mixed_scaled_mm with a bad column wrote out");
                free(CA); free(CB); free(rs); free(cs); free(A); free(bias); free(P); free(work); free(want); free(got);
            }
    {
        int8_t q[64] = { 0 };
        float st[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, A[64] = { 0 }, o[64] = { 0 };
        int32_t w[64], cc[2] = { 0, 1 }, nc = 2;
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_mixed_scaled_mm, BNBQ_I32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_U8, o, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, NULL, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, NULL, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, NULL, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, NULL, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, NULL);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, NULL, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, NULL, w, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, NULL, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 0, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 0, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 0, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, SIZE_MAX / 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, (int32_t*)(void*)((char*)w + 2), o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mixed_scaled_mm, BNBQ_F16, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, A, cc, &nc, w, (char*)o + 1);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, (char*)A + 2, cc, &nc, w, o);
        nc = 3;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 2, st, st, BNBQ_F16, NULL, A, cc, &nc, w, o);
        /* no outlier columns: A and num_cols are not needed */
        EXPECT(BNBQ_SUCCESS, bnbq_int8_mixed_scaled_mm, BNBQ_F32, q, q, 2, 2, 4, st, st, BNBQ_F16, NULL, NULL, NULL, NULL, w, o);
    }
}

static void test_gather_scatter_columns(void)
{
    static const size_t es_list[4] = { 1, 2, 4, 8 };
    rng r = rng_make(22);
    size_t M = 6, K = 11, maxc = 5, ei, i, m, j, di;
    int32_t cols[5] = { 10, 0, 4, 4, 7 }, nc;
    for (ei = 0; ei < 4; ei++)
        for (nc = 0; nc <= 5; nc += 2) {
            size_t es = es_list[ei], bad = 0;
            unsigned char* X = (unsigned char*)xmalloc(M * K * es);
            unsigned char* out = (unsigned char*)xmalloc(M * maxc * es);
            int32_t c5 = cols[4];
            for (i = 0; i < M * K * es; i++) X[i] = (unsigned char)rng_u64(&r);
            memset(out, 0xee, M * maxc * es);
            if (nc < 5) cols[4] = 9999;   /* past the count: not read */
            MUST(bnbq_gather_columns(ei & 1 ? &g_logex : NULL, es, X, M, K, cols, &nc, maxc, out));
            cols[4] = c5;
            for (m = 0; m < M; m++)
                for (j = 0; j < maxc; j++) {
                    unsigned char* o = out + (m * maxc + j) * es;
                    if ((int32_t)j < nc) {
                        if (memcmp(o, X + (m * K + (size_t)cols[j]) * es, es) != 0) bad++;
                    } else {
                        size_t b;
                        for (b = 0; b < es; b++) if (o[b] != 0) { bad++; break; }
                    }
                }
            CHECK(bad == 0, "gather_columns es%lu count %d: %lu wrong", (unsigned long)es, (int)nc,
                  (unsigned long)bad);
            free(X); free(out);
        }
    /* scatter: replace and accumulate (distinct target columns) */
    {
        int32_t sc[5] = { 10, 0, 4, 6, 7 };
        for (di = 0; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            int acc;
            void* P = rand_dt(&r, dt, M * maxc, 1.0f);
            void* out0 = rand_dt(&r, dt, M * K, 1.0f);
            void* out = xmalloc(M * K * 4);
            for (acc = 0; acc < 2; acc++)
                for (nc = 0; nc <= 5; nc += 5) {
                    size_t bad = 0, k;
                    memcpy(out, out0, M * K * dts(dt));
                    MUST(bnbq_scatter_columns(acc ? &g_logex : NULL, dt, P, M, maxc, sc, &nc, acc,
                                              out, K));
                    for (m = 0; m < M; m++)
                        for (k = 0; k < K; k++) {
                            int32_t src = -1, q;
                            uint32_t want;
                            for (q = 0; q < nc; q++) if ((size_t)sc[q] == k) src = q;
                            if (src < 0) want = bits_at(dt, out0, m * K + k);
                            else {
                                volatile float v = ld(dt, P, m * maxc + (size_t)src);
                                if (acc) v = v + ld(dt, out0, m * K + k);
                                want = bits_of(dt, v);
                            }
                            if (bits_at(dt, out, m * K + k) != want) bad++;
                        }
                    CHECK(bad == 0, "scatter_columns %s acc%d count %d: %lu wrong", dtn(dt), acc,
                          (int)nc, (unsigned long)bad);
                }
            free(P); free(out0); free(out);
        }
    }
    {
        float X[64] = { 0 }, o[64];
        int32_t cc[4] = { 0, 1, 2, 3 }, n2 = 2;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_columns, 3, X, 2, 4, cc, &n2, 4, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_columns, 4, NULL, 2, 4, cc, &n2, 4, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_columns, 4, X, 2, 4, NULL, &n2, 4, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_columns, 4, X, 2, 4, cc, NULL, 4, o);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gather_columns, 4, X, 2, 4, cc, &n2, 4, NULL);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_columns, 4, X, 0, 4, cc, &n2, 4, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_columns, 4, X, 2, 0, cc, &n2, 4, o);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gather_columns, 4, X, 2, 4, cc, &n2, 0, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_columns, 4, X, SIZE_MAX / 2, 4, cc, &n2, 4, o);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gather_columns, 8, X, 2, 4, cc, &n2, SIZE_MAX / 2, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_columns, 4, (char*)X + 2, 2, 4, cc, &n2, 4, o);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_columns, 8, X, 2, 4, cc, &n2, 4, (char*)o + 4);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gather_columns, 4, X, 2, 4, cc, (int32_t*)(void*)((char*)cc + 2), 4, o);
        n2 = 5;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_columns, 4, X, 2, 4, cc, &n2, 4, o);
        n2 = -2;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_columns, 4, X, 2, 4, cc, &n2, 4, o);
        n2 = 2; cc[1] = 4;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_gather_columns, 4, X, 2, 4, cc, &n2, 4, o);
        cc[1] = 1;
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_scatter_columns, BNBQ_I8, X, 2, 4, cc, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_scatter_columns, BNBQ_F32, NULL, 2, 4, cc, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, NULL, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, cc, NULL, 0, o, 4);
        EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, cc, &n2, 0, NULL, 4);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_scatter_columns, BNBQ_F32, X, 0, 4, cc, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_scatter_columns, BNBQ_F32, X, 2, 0, cc, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, cc, &n2, 0, o, 0);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_scatter_columns, BNBQ_F32, X, SIZE_MAX / 2, 4, cc, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, cc, &n2, 0, o, SIZE_MAX / 2);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_scatter_columns, BNBQ_F32, (char*)X + 1, 2, 4, cc, &n2, 0, o, 4);
        EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_scatter_columns, BNBQ_F16, X, 2, 4, cc, &n2, 0, (char*)o + 1, 4);
        n2 = 5;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, cc, &n2, 0, o, 4);
        n2 = 2; cc[0] = 4;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_scatter_columns, BNBQ_F32, X, 2, 4, cc, &n2, 1, o, 4);
    }
}

static void test_int8_weight_dequant(void)
{
    rng r = rng_make(23);
    size_t N = 13, K = 29, i, n, k, di;
    int8_t CB[13 * 29];
    float SCB[13];
    void* out = xmalloc(N * K * 4);
    for (i = 0; i < N * K; i++) CB[i] = (int8_t)rng_int(&r, -128, 127);
    for (i = 0; i < N; i++) SCB[i] = (float)fabs(rng_normal(&r)) * 3.0f + 1e-3f;
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        size_t bad = 0;
        MUST(bnbq_int8_weight_dequant(di ? &g_logex : NULL, dt, CB, SCB, N, K, out));
        for (n = 0; n < N; n++)
            for (k = 0; k < K; k++) {
                volatile float inv = 1.0f / 127.0f;
                volatile float s = SCB[n] * inv;
                volatile float v = (float)CB[n * K + k] * s;
                if (bits_at(dt, out, n * K + k) != bits_of(dt, v)) bad++;
            }
        CHECK(bad == 0, "int8_weight_dequant %s: %lu off the formula", dtn(dt), (unsigned long)bad);
    }
    EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_weight_dequant, BNBQ_I8, CB, SCB, N, K, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_weight_dequant, BNBQ_F32, NULL, SCB, N, K, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_weight_dequant, BNBQ_F32, CB, NULL, N, K, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_weight_dequant, BNBQ_F32, CB, SCB, N, K, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_weight_dequant, BNBQ_F32, CB, SCB, 0, K, out);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_weight_dequant, BNBQ_F32, CB, SCB, N, 0, out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_weight_dequant, BNBQ_F32, CB, SCB, SIZE_MAX / 2, K, out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_weight_dequant, BNBQ_F32, CB, (float*)(void*)((char*)SCB + 2), N, K, out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_weight_dequant, BNBQ_F16, CB, SCB, N, K, (char*)out + 1);
    free(out);
}

static const uu_test k_tests[] = {
    { "memory", test_memory },
    { "gemm", test_gemm },
    { "column_sums", test_column_sums },
    { "transpose", test_transpose },
    { "gather_rows", test_gather_rows },
    { "gather_rows_backward", test_gather_rows_backward },
    { "renorm_rows", test_renorm_rows },
    { "layer_norm", test_layer_norm },
    { "layer_norm_backward", test_layer_norm_backward },
    { "gather_rows_8bit", test_gather_rows_8bit },
    { "gather_rows_4bit", test_gather_rows_4bit },
    { "int8_outlier_mm", test_int8_outlier_mm },
    { "int8_mixed_scaled_mm", test_int8_mixed_scaled_mm },
    { "gather_scatter_columns", test_gather_scatter_columns },
    { "int8_weight_dequant", test_int8_weight_dequant },
};

int main(int argc, char** argv)
{
    return uu_main(argc, argv, k_tests, sizeof k_tests / sizeof k_tests[0]);
}
