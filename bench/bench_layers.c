/* bench_layers.c - bnbq's layers on the GPU against a standard fp16 GEMM (cuBLAS, opened at run
   time with dlopen, not part of bnbq) of the same shape, side by side in one run.

   Build and run:  make bench-layers   (needs a GPU and libcublas; about 2-4 minutes on an H100)
       cc -std=c99 -O2 -I. bench/bench_layers.c -o build/bench_layers -lm -ldl -lpthread
   build/bench_layers [--runs N] [--quick] [--only WORD,...] [--tokens N,...]

   Method: every configuration is called once (kernel compile/load, workspace growth), then
   `warmup` times, then `runs` times (default 10), each call timed alone with CUDA events on the
   exec's stream; before each timed call a 256 MB memset evicts the L2 (outside the events). The
   median is printed, with the ratio to the cuBLAS baseline of the same shape measured in the same
   process (ratio > 1: slower than the baseline).
   - Weights (out x in) 4096x4096, 14336x4096, 4096x14336, 8192x8192 at 1, 16, 512, 4096 tokens:
     baseline cublasGemmEx f16 in / f16 out / f32 compute, Y = X W^T; StandardLinear (bnbq_gemm);
     LinearNF4 (nested absmax, blocksize 64; 1 token: the gemv path); Linear8bitLt with int8 weights
     at threshold 0 and 6 (the inputs carry outliers in 1 % of the columns).
     Forward+backward (StandardLinear): baseline = the three GEMMs Y = X W^T, dX = dY W, dW = dY^T X.
   - SwitchBack (global, vectorwise, memory-efficient) and LinearFP8Mixed / LinearFP8Global at
     dims 4096 and 8192: square (d x d), MLP up (4d x d) and MLP down (d x 4d), 8192 tokens,
     forward and forward+backward, each against the same baselines; and their forward alone at 1
     and 16 tokens on the 4096-dim shapes (decoding: the int8 matmuls' few-rows kernels).
   --tokens N,...: only the shapes with these token counts (e.g. --tokens 1,16).
   --nk N,K: the layers also at N out x K in features (e.g. 8192,28672: Llama 70B's down projection).
   --no-mma: the int8 few-rows matmuls without tensor cores (bnbq_k_int8_gemv for 2..16 rows: A/B).
   --no-tile-tc: the int8 matmuls of more rows on the SIMT tiles (bnbq_k_int8_matmul, _sb_matmul: A/B).
   --no-t2: the 16-bit GEMMs of more rows on bnbq_k_gemm_tc instead of the cp.async tiles (bnbq_k_gemm_t2_*: A/B).
   --no-wg: on an H100 / H200, the cp.async tiles instead of the sm_90a TMA + wgmma tiles (bnbq_k_gemm_wg*: A/B).
   --wg-bn 128|256: those tiles 128 x 128 or 128 x 256 whatever the shape (A/B).
   --no-m4wg: bnbq_matmul_4bit's many rows on the 64 x 64 tiles instead of bnbq_k_m4_wg (the sm_90a tiles that
   convert the 4-bit weight in registers: A/B; --only matmul_4bit).
   --no-i8dq: LLM.int8's many rows as bnbq_k_int8_wg (int32 out) + bnbq_k_int8_mm_dequant instead of the int8
   GEMM with mm_dequant as its epilogue (bnbq_k_int8_wg_dq_*: A/B; compute capability 9.0).
   --no-i8br: LLM.int8's one row (a decoding step) on bnbq_k_int8_gemv_dq (a warp a row of the weight) instead of
   bnbq_k_int8_gemv_br (a block a row: A/B); --i8br-b B: its grid B blocks an SM (with --nvrtc-opt -DBNBQ_MM_BR_B=B);
   --no-i8bro: with outlier columns bnbq_k_int8_gemv_br (the epilogue loads the outlier bytes) instead of
   bnbq_k_int8_gemv_bro (picks them out of the streamed rows); --i8br-k K: the block-a-row kernels for K > K (4096).
   --i8dqo / --no-i8dqo: one row with K <= 4096 and outlier columns always / never on bnbq_k_int8_gemv_dqo (by
   default where the weight has 2 rows for each warp of its grid: 10560 on the H100) instead of bnbq_k_int8_gemv_dq.
   --i8one-256: the one-row LLM.int8 quantization (bnbq_k_int8_vw_one) on 256 threads for every row length (by default
   up to 1024 for rows of more than 16384 columns).
   --exact-outliers: bnbq_cuda_desc.exact_outlier_sums = 1: Linear8bitLt's outlier product (threshold 6) in the CPU's
   order, byte-identical, instead of on the tensor cores in the int8 GEMM's epilogue (bnbq_k_int8_wg_dqt_*: A/B).
   The 16-bit GEMMs of the layers alone (bnbq_gemm vs cublasGemmEx, each storage order): --only '16-bit GEMM'.
   First, the int8 GEMM itself (bnbq_int8_linear_matmul, int32 out) at 4096^3, 8192^3, 4096 x 14336 x 4096
   and 4096 x 4096 x 14336 against cuBLAS' f16 GEMM of the same shape (--only 'int8 GEMM').
   Inputs are random normal f16. Exit status 0 when everything ran; 2 without a GPU or cuBLAS. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BNBQ_GIT_COMMIT
#define BNBQ_GIT_COMMIT ""
#endif

static bnbq_cuda* g_ctx;
static bnbq_exec g_ex;
static int g_runs = 10, g_warmup = 2, g_quick;
static const char* g_only;
static const char* g_tokens;   /* --tokens: a comma-separated list (NULL: every count) */
static size_t g_xn, g_xk;      /* --nk N,K: one more layer shape after the usual ones (0: none) */

/* 1 when the --tokens list holds M (or there is no list) */
static int tokens_wanted(size_t M) {
    const char* p = g_tokens;
    if (!p) return 1;
    while (*p) {
        char* e;
        unsigned long v = strtoul(p, &e, 10);
        if (e == p) return 0;
        if ((size_t)v == M) return 1;
        p = *e == ',' ? e + 1 : e;
        if (*e && *e != ',') return 0;
    }
    return 0;
}

static void die(const char* what, bnbq_result r) {
    fprintf(stderr, "bench_layers: %s: %s (%s)\n", what, bnbq_result_description(r), bnbq_result_name(r));
    exit(1);
}
#define TRY(what, call) do { bnbq_result r_ = (call); if (r_ != BNBQ_SUCCESS) die(what, r_); } while (0)

/* ---- cuBLAS through dlopen (types as ints / pointers: no header) ---- */
typedef int (*cublasCreate_fn)(void**);
typedef int (*cublasSetStream_fn)(void*, void*);
typedef int (*cublasGemmEx_fn)(void*, int, int, int, int, int, const void*, const void*, int, int,
                               const void*, int, int, const void*, void*, int, int, int, int);
static void* g_blas;
static cublasGemmEx_fn g_gemm;
enum { OP_N = 0, OP_T = 1, R_16F = 2, COMPUTE_32F = 68, ALGO_DEFAULT = -1 };

static int blas_open(void) {
    static const char* names[] = { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
                                   "libcublas.so", NULL };
    const char* env = getenv("BNBQ_CUBLAS_PATH");
    void* lib = NULL;
    cublasCreate_fn create;
    cublasSetStream_fn set_stream;
    int i;
    if (env) lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    for (i = 0; !lib && names[i]; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) return 0;
    *(void**)(&create) = dlsym(lib, "cublasCreate_v2");
    *(void**)(&set_stream) = dlsym(lib, "cublasSetStream_v2");
    *(void**)(&g_gemm) = dlsym(lib, "cublasGemmEx");
    if (!create || !set_stream || !g_gemm) return 0;
    if (create(&g_blas) != 0) return 0;
    if (set_stream(g_blas, g_ex.stream) != 0) return 0;
    return 1;
}
/* row-major C (M, N) = op(A) @ op(B) in f16 with f32 compute, through the column-major API:
   C^T (N, M) = op(B)^T op(A)^T */
static void blas_gemm(int ta, int tb, size_t M, size_t N, size_t K, const void* A, const void* B,
                      void* C) {
    float one = 1.0f, zero = 0.0f;
    int lda = ta ? (int)M : (int)K, ldb = tb ? (int)K : (int)N;
    int st = g_gemm(g_blas, tb ? OP_T : OP_N, ta ? OP_T : OP_N, (int)N, (int)M, (int)K, &one,
                    B, R_16F, ldb, A, R_16F, lda, &zero, C, R_16F, (int)N, COMPUTE_32F, ALGO_DEFAULT);
    if (st != 0) { fprintf(stderr, "cublasGemmEx failed: status %d\n", st); exit(1); }
}

/* ---- buffers ---- */
static void* g_flush;
static const size_t FLUSH = (size_t)256 << 20;
static void* dalloc(size_t bytes) {
    void* p = NULL;
    TRY("bnbq_alloc", bnbq_alloc(&g_ex, bytes, &p));
    return p;
}
/* random normal f16, filled from a 1 M-element host block repeated */
static void fill_randn(void* dst, size_t n, float scale, int outliers, size_t cols) {
    static uint16_t* blk;
    static size_t blkn = (size_t)1 << 20;
    static unsigned long long s = 88172645463325252ull;
    size_t i, done;
    if (!blk) {
        blk = (uint16_t*)malloc(blkn * 2);
        for (i = 0; i < blkn; i++) {
            double u1, u2;
            s ^= s << 13; s ^= s >> 7; s ^= s << 17; u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
            s ^= s << 13; s ^= s >> 7; s ^= s << 17; u2 = (s >> 11) / 9007199254740992.0;
            blk[i] = bnbq_f32_to_f16((float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2)));
        }
    }
    {
        /* the outliers in the columns c % 100 == 7 of every row, c from the element's own index (a chunk
           of 2^20 elements is not whole rows when cols does not divide it: 14336 columns had ~7 times as
           many outlier columns before session 21) */
        uint16_t* tmp = (uint16_t*)malloc(blkn * 2);
        for (done = 0; done < n; done += blkn) {
            size_t c = n - done < blkn ? n - done : blkn;
            for (i = 0; i < c; i++) {
                float v = bnbq_f16_to_f32(blk[i]) * scale;
                if (outliers && cols && ((done + i) % cols) % 100 == 7) v = v < 0 ? v - 8.0f : v + 8.0f;
                tmp[i] = bnbq_f32_to_f16(v);
            }
            TRY("copy", bnbq_copy(&g_ex, (uint16_t*)dst + done, tmp, c * 2, BNBQ_COPY_HOST_TO_EXEC));
        }
        free(tmp);
    }
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* ---- a timed thing ---- */
typedef void (*call_fn)(void* arg);
static double time_ms(call_fn f, void* arg) {
    void* ev[2 * 64];
    double ms[64], med;
    int i, runs = g_runs > 64 ? 64 : g_runs;
    f(arg);
    TRY("sync", bnbq_sync(&g_ex));
    for (i = 0; i < g_warmup; i++) f(arg);
    for (i = 0; i < 2 * runs; i++) TRY("event", bnbq_cuda_event_create(g_ctx, &ev[i]));
    for (i = 0; i < runs; i++) {
        TRY("flush", bnbq_fill_bytes(&g_ex, g_flush, i & 255, FLUSH));
        TRY("event", bnbq_cuda_event_record(&g_ex, ev[2 * i]));
        f(arg);
        TRY("event", bnbq_cuda_event_record(&g_ex, ev[2 * i + 1]));
    }
    TRY("sync", bnbq_sync(&g_ex));
    for (i = 0; i < runs; i++) {
        float t;
        TRY("elapsed", bnbq_cuda_event_elapsed_ms(g_ctx, ev[2 * i], ev[2 * i + 1], &t));
        ms[i] = t;
    }
    for (i = 0; i < 2 * runs; i++) bnbq_cuda_event_destroy(g_ctx, ev[i]);
    qsort(ms, (size_t)runs, sizeof ms[0], cmp_double);
    med = runs % 2 ? ms[runs / 2] : 0.5 * (ms[runs / 2 - 1] + ms[runs / 2]);
    return med;
}

typedef struct job {
    size_t M, N, K;            /* tokens, out, in */
    void *x, *w, *y, *gy, *gx, *gw;
    bnbq_linear* layer;
    int backward;
} job;

static void call_base(void* a) {
    job* j = (job*)a;
    blas_gemm(0, 1, j->M, j->N, j->K, j->x, j->w, j->y);                 /* Y = X W^T   */
    if (j->backward) {
        blas_gemm(0, 0, j->M, j->K, j->N, j->gy, j->w, j->gx);           /* dX = dY W   */
        blas_gemm(1, 0, j->N, j->K, j->M, j->gy, j->x, j->gw);           /* dW = dY^T X */
    }
}
static void call_layer(void* a) {
    job* j = (job*)a;
    TRY("forward", bnbq_linear_forward(&g_ex, j->layer, BNBQ_F16, j->x, j->M, j->y));
    if (j->backward)
        TRY("backward", bnbq_linear_backward(&g_ex, j->layer, BNBQ_F16, j->x, j->M, j->gy, j->gx));
}

static int wanted(const char* name) {
    char buf[256];
    const char* p;
    if (!g_only) return 1;
    for (p = g_only; *p;) {
        size_t n = strcspn(p, ",");
        if (n && n < sizeof buf) {
            memcpy(buf, p, n); buf[n] = 0;
            if (strstr(name, buf)) return 1;
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

static double g_base_ms;
static void line(const char* name, size_t M, size_t N, size_t K, double ms, int is_base) {
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (is_base) g_base_ms = ms;
    printf("%-34s %6zu %6zu %6zu %10.4f ms %8.1f TFLOP/s  %6.2fx base\n", name, M, N, K, ms,
           flops / ms * 1e-9, ms / g_base_ms);
    fflush(stdout);
}

static void bench_layer(const char* name, bnbq_linear_kind kind, float thr, int int8w, job* j,
                        size_t M, size_t N, size_t K, int backward) {
    bnbq_linear L;
    bnbq_linear_desc d;
    char full[128];
    double ms;
    snprintf(full, sizeof full, "%s%s", name, backward ? " fwd+bwd" : " fwd");
    if (!wanted(full)) return;
    memset(&d, 0, sizeof d);
    d.kind = kind; d.in_features = K; d.out_features = N; d.weight_dtype = BNBQ_F16;
    d.threshold = thr; d.int8_weights = int8w; d.seed = 7;
    TRY("linear_init", bnbq_linear_init(&g_ex, &L, &d));
    TRY("copy weight", bnbq_copy(&g_ex, L.weight, j->w, N * K * 2, BNBQ_COPY_EXEC_TO_EXEC));
    if (kind == BNBQ_LINEAR_NF4 || kind == BNBQ_LINEAR_8BIT_LT)
        TRY("quantize", bnbq_linear_quantize(&g_ex, &L));
    bnbq_linear_set_training(&L, backward);
    j->layer = &L; j->backward = backward; j->M = M; j->N = N; j->K = K;
    ms = time_ms(call_layer, j);
    line(full, M, N, K, ms * (backward ? 1.0 : 1.0), 0);
    bnbq_linear_uninit(&g_ex, &L);
}

/* The layers of a shape. group_b 0: k_layers[0] forward, then StandardLinear forward+backward; 1:
   k_layers[1] forward, then StandardLinear and k_layers[1] forward+backward; 2: k_layers[1] forward alone
   (decoding). One table serves the calls and the --only check below. */
typedef struct layer_case { const char* name; bnbq_linear_kind kind; float thr; int int8w; } layer_case;
static const layer_case k_layers[2][5] = {
    { { "StandardLinear", BNBQ_LINEAR_STANDARD, 0.0f, 0 }, { "LinearNF4", BNBQ_LINEAR_NF4, 0.0f, 0 },
      { "Linear8bitLt thr0", BNBQ_LINEAR_8BIT_LT, 0.0f, 1 }, { "Linear8bitLt thr6", BNBQ_LINEAR_8BIT_LT, 6.0f, 1 },
      { NULL, BNBQ_LINEAR_STANDARD, 0.0f, 0 } },
    { { "SwitchBackGlobal", BNBQ_LINEAR_SWITCHBACK_GLOBAL, 0.0f, 0 },
      { "SwitchBackVectorwise", BNBQ_LINEAR_SWITCHBACK_VECTORWISE, 0.0f, 0 },
      { "SwitchBackMemEff", BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF, 0.0f, 0 },
      { "LinearFP8Mixed", BNBQ_LINEAR_FP8_MIXED, 0.0f, 0 }, { "LinearFP8Global", BNBQ_LINEAR_FP8_GLOBAL, 0.0f, 0 } } };
static const layer_case* const k_standard = &k_layers[0][0];

/* 1 when --only selects a layer line of the shape (else not even its baselines are timed) */
static int layer_wanted(const char* name, int backward) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", name, backward ? " fwd+bwd" : " fwd");
    return wanted(full);
}
static int shape_wanted(int group_b) {
    const layer_case* lc = k_layers[group_b != 0];
    int i, any = group_b != 2 && layer_wanted(k_standard->name, 1);
    for (i = 0; i < 5 && lc[i].name; i++)
        any |= layer_wanted(lc[i].name, 0) || (group_b == 1 && layer_wanted(lc[i].name, 1));
    return any;
}

static void shape(size_t M, size_t N, size_t K, int group_b) {
    const layer_case* lc = k_layers[group_b != 0];
    job j;
    int i;
    if (!tokens_wanted(M) || !shape_wanted(group_b)) return;
    memset(&j, 0, sizeof j);
    j.M = M; j.N = N; j.K = K;
    j.x = dalloc(M * K * 2); j.w = dalloc(N * K * 2); j.y = dalloc(M * N * 2);
    j.gy = dalloc(M * N * 2); j.gx = dalloc(M * K * 2); j.gw = dalloc(N * K * 2);
    fill_randn(j.x, M * K, 1.0f, 1, K);
    fill_randn(j.w, N * K, 0.02f, 0, 0);
    fill_randn(j.gy, M * N, 0.01f, 0, 0);
    printf("\n-- tokens %zu, weight %zu x %zu (out x in)\n", M, N, K);
    j.backward = 0;
    line("cuBLAS f16 GEMM fwd (baseline)", M, N, K, time_ms(call_base, &j), 1);
    for (i = 0; i < 5 && lc[i].name; i++)
        bench_layer(lc[i].name, lc[i].kind, lc[i].thr, lc[i].int8w, &j, M, N, K, 0);
    if (group_b != 2) {
        j.backward = 1;
        line("cuBLAS f16 3 GEMMs fwd+bwd (baseline)", M, N, K, time_ms(call_base, &j), 1);
        bench_layer(k_standard->name, k_standard->kind, k_standard->thr, k_standard->int8w, &j, M, N, K, 1);
        for (i = 0; group_b && i < 5; i++)
            bench_layer(lc[i].name, lc[i].kind, lc[i].thr, lc[i].int8w, &j, M, N, K, 1);
    }
    bnbq_free(&g_ex, j.x); bnbq_free(&g_ex, j.w); bnbq_free(&g_ex, j.y);
    bnbq_free(&g_ex, j.gy); bnbq_free(&g_ex, j.gx); bnbq_free(&g_ex, j.gw);
}

/* the int8 GEMM itself (bnbq_int8_linear_matmul: int8 A (M, K) times int8 B (N, K)^T, int32 out) against
   cuBLAS' f16 GEMM of the same shape; the operands hold random bytes */
typedef struct i8job { size_t M, N, K; void *a, *b, *o; } i8job;
static void call_i8(void* p) {
    i8job* q = (i8job*)p;
    TRY("int8_linear_matmul", bnbq_int8_linear_matmul(&g_ex, (const int8_t*)q->a, (const int8_t*)q->b, q->M, q->N, q->K,
                                                      (int32_t*)q->o));
}
static void int8_gemm(size_t M, size_t N, size_t K) {
    job j;
    i8job q;
    if (!tokens_wanted(M) || !wanted("int8 GEMM")) return;
    memset(&j, 0, sizeof j);
    j.M = M; j.N = N; j.K = K;
    j.x = dalloc(M * K * 2); j.w = dalloc(N * K * 2); j.y = dalloc(M * N * 2);
    fill_randn(j.x, M * K, 1.0f, 0, 0);
    fill_randn(j.w, N * K, 1.0f, 0, 0);
    q.M = M; q.N = N; q.K = K; q.a = j.x; q.b = j.w; q.o = dalloc(M * N * 4);   /* the f16 bits as int8 */
    printf("\n-- int8 GEMM, %zu x %zu x %zu (M x N x K)\n", M, N, K);
    line("cuBLAS f16 GEMM fwd (baseline)", M, N, K, time_ms(call_base, &j), 1);
    line("int8 GEMM (int8_linear_matmul)", M, N, K, time_ms(call_i8, &q), 0);
    bnbq_free(&g_ex, j.x); bnbq_free(&g_ex, j.w); bnbq_free(&g_ex, j.y); bnbq_free(&g_ex, q.o);
}

/* bnbq_gemm itself (f16, f32 sums) against cublasGemmEx of the same storage order and shape: the three GEMMs
   of a linear layer of T tokens, out x in: Y = X W^T (M T, N out, K in; B stored (N, K)), dX = dY W (M T, N in,
   K out) and dW = dY^T X (M out, N in, K T; A stored (K, M)) */
typedef struct gjob { int ta, tb; size_t M, N, K; void *a, *b, *o; } gjob;
static void call_gemm_blas(void* p) {
    gjob* q = (gjob*)p;
    blas_gemm(q->ta, q->tb, q->M, q->N, q->K, q->a, q->b, q->o);
}
static void call_gemm_bnbq(void* p) {
    gjob* q = (gjob*)p;
    TRY("gemm", bnbq_gemm(&g_ex, BNBQ_F16, q->ta, q->tb, q->M, q->N, q->K, q->a, q->b, NULL, 0, q->o));
}
static void gemm16(size_t T, size_t O, size_t I) {
    static const char* const what[3] = { "Y = X W^T (nt)", "dX = dY W (nn)", "dW = dY^T X (tn)" };
    gjob q;
    int g;
    char name[64];
    if (!tokens_wanted(T) || !wanted("16-bit GEMM")) return;
    printf("\n-- 16-bit GEMM, tokens %zu, weight %zu x %zu (out x in)\n", T, O, I);
    for (g = 0; g < 3; g++) {
        q.ta = g == 2; q.tb = g == 0;
        q.M = g == 2 ? O : T; q.N = g == 0 ? O : I; q.K = g == 0 ? I : g == 1 ? O : T;
        q.a = dalloc(q.M * q.K * 2); q.b = dalloc(q.K * q.N * 2); q.o = dalloc(q.M * q.N * 2);
        fill_randn(q.a, q.M * q.K, 1.0f, 0, 0);
        fill_randn(q.b, q.K * q.N, 1.0f, 0, 0);
        snprintf(name, sizeof name, "cuBLAS %s", what[g]);
        line(name, q.M, q.N, q.K, time_ms(call_gemm_blas, &q), 1);
        snprintf(name, sizeof name, "bnbq_gemm %s", what[g]);
        line(name, q.M, q.N, q.K, time_ms(call_gemm_bnbq, &q), 0);
        bnbq_free(&g_ex, q.a); bnbq_free(&g_ex, q.b); bnbq_free(&g_ex, q.o);
    }
}

/* bnbq_matmul_4bit itself with many rows (NF4, blocksize 64, f16: on an H100 the sm_90a tiles that convert the
   weight in registers, bnbq_k_m4_wg; --no-m4wg: the 64 x 64 tiles it replaced) and dequantize_4bit + bnbq_gemm
   (Linear4bit's forward for more than 16 tokens) against cuBLAS' f16 GEMM of the same shape */
typedef struct m4job { size_t M, N, K; void *x, *y, *w16; uint8_t* p; float* am; } m4job;
static void call_m4(void* a) {
    m4job* q = (m4job*)a;
    TRY("matmul_4bit", bnbq_matmul_4bit(&g_ex, BNBQ_NF4, BNBQ_F16, q->x, q->p, q->am, q->M, q->N, q->K, 64, q->y, NULL,
                                        NULL));
}
static void call_m4_deq(void* a) {
    m4job* q = (m4job*)a;
    TRY("dequantize_4bit", bnbq_dequantize_4bit(&g_ex, BNBQ_NF4, BNBQ_F16, q->p, q->am, q->N * q->K, 64, q->w16));
    TRY("gemm", bnbq_gemm(&g_ex, BNBQ_F16, 0, 1, q->M, q->N, q->K, q->x, q->w16, NULL, 0, q->y));
}
static void matmul4(size_t T, size_t O, size_t I) {
    job j;
    m4job q;
    if (!tokens_wanted(T) || !wanted("matmul_4bit")) return;
    memset(&j, 0, sizeof j);
    j.M = T; j.N = O; j.K = I;
    j.x = dalloc(T * I * 2); j.w = dalloc(O * I * 2); j.y = dalloc(T * O * 2);
    fill_randn(j.x, T * I, 1.0f, 0, 0);
    fill_randn(j.w, O * I, 0.02f, 0, 0);
    q.M = T; q.N = O; q.K = I; q.x = j.x; q.y = j.y; q.w16 = dalloc(O * I * 2);
    q.p = (uint8_t*)dalloc(O * I / 2); q.am = (float*)dalloc(O * I / 64 * 4);
    TRY("quantize_4bit", bnbq_quantize_4bit(&g_ex, BNBQ_NF4, BNBQ_F16, j.w, O * I, 64, q.p, q.am));
    printf("\n-- matmul_4bit (NF4, blocksize 64, f16), tokens %zu, weight %zu x %zu (out x in)\n", T, O, I);
    line("cuBLAS f16 GEMM fwd (baseline)", T, O, I, time_ms(call_base, &j), 1);
    line(bnbq__cu_m4_wg_off ? "matmul_4bit (64 x 64 tiles)" : "matmul_4bit", T, O, I, time_ms(call_m4, &q), 0);
    line("dequantize_4bit + gemm", T, O, I, time_ms(call_m4_deq, &q), 0);
    bnbq_free(&g_ex, j.x); bnbq_free(&g_ex, j.w); bnbq_free(&g_ex, j.y); bnbq_free(&g_ex, q.w16);
    bnbq_free(&g_ex, q.p); bnbq_free(&g_ex, q.am);
}

int main(int argc, char** argv) {
    static const size_t wa[4][2] = { {4096, 4096}, {14336, 4096}, {4096, 14336}, {8192, 8192} };
    static const size_t toks[4] = { 1, 16, 512, 4096 };
    static const size_t dims[2] = { 4096, 8192 };
    bnbq_cuda_desc desc;
    bnbq_cuda_device_info info;
    bnbq_result r;
    int i, t, exact_outliers = 0;
    bnbq__cu_tier_force = -1;   /* the kernels timed are the full builds (no tiered compilation) */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) g_runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) g_quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) g_only = argv[++i];
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc) g_tokens = argv[++i];
        else if (!strcmp(argv[i], "--nk") && i + 1 < argc && sscanf(argv[i + 1], "%zu,%zu", &g_xn, &g_xk) == 2 && g_xn &&
                 g_xk) i++;   /* one more layer shape: N out, K in features */
        else if (!strcmp(argv[i], "--no-mma")) bnbq__cu_mm_tc_off = 1;   /* A/B: the int8 warp-a-row GEMV */
        else if (!strcmp(argv[i], "--no-tile-tc")) bnbq__cu_mm_tile_tc_off = 1;   /* A/B: the int8 SIMT tiles */
        else if (!strcmp(argv[i], "--no-t2")) bnbq__cu_gemm_t2_off = 1;   /* A/B: bnbq_k_gemm_tc */
        else if (!strcmp(argv[i], "--no-wg")) bnbq__cu_gemm_wg_off = 1;   /* A/B: the sm_80 tiles on an H100 */
        else if (!strcmp(argv[i], "--wg-bn") && i + 1 < argc) bnbq__cu_gemm_wg_bn = atoi(argv[++i]);   /* A/B */
        else if (!strcmp(argv[i], "--no-m4wg")) bnbq__cu_m4_wg_off = 1;   /* A/B: matmul_4bit's 64 x 64 tiles */
        else if (!strcmp(argv[i], "--no-i8dq")) bnbq__cu_i8_wg_dq_off = 1;   /* A/B: int8_wg + int8_mm_dequant */
        else if (!strcmp(argv[i], "--no-i8br")) bnbq__cu_i8_br_off = 1;   /* A/B: one token on bnbq_k_int8_gemv_dq */
        else if (!strcmp(argv[i], "--no-i8bro")) bnbq__cu_i8_bro_off = 1;   /* A/B: outliers by the epilogue's loads */
        else if (!strcmp(argv[i], "--i8dqo")) bnbq__cu_i8_dqo_on = 1;   /* A/B: K <= 4096 on bnbq_k_int8_gemv_dqo always */
        else if (!strcmp(argv[i], "--no-i8dqo")) bnbq__cu_i8_dqo_on = -1;   /* ... never (bnbq_k_int8_gemv_dq) */
        else if (!strcmp(argv[i], "--i8one-256")) bnbq__cu_i8_one_256 = 1;   /* A/B: the one-row quantization on 256 threads */
        else if (!strcmp(argv[i], "--i8one-ppt") && i + 1 < argc && atoi(argv[i + 1]) >= 1 && atoi(argv[i + 1]) <= 8)
            bnbq__cu_i8_one_ppt = atoi(argv[++i]);   /* A/B: its pieces a thread (8) */
        else if (!strcmp(argv[i], "--i8br-k") && i + 1 < argc && atoi(argv[i + 1]) >= 0)
            bnbq__cu_i8_bro_kmin = (size_t)atoi(argv[++i]);   /* A/B: the block-a-row kernels for K > this */
        else if (!strcmp(argv[i], "--i8br-b") && i + 1 < argc && atoi(argv[i + 1]) >= 1 && atoi(argv[i + 1]) <= 8)
            bnbq__cu_i8_br_b = atoi(argv[++i]);   /* A/B: bnbq_k_int8_gemv_br's grid, blocks an SM (with --nvrtc-opt) */
        else if (!strcmp(argv[i], "--tier-fast")) bnbq__cu_tier_force = 3;   /* time the fast builds of tiered compilation */
        else if (!strcmp(argv[i], "--nvrtc-opt") && i + 1 < argc) bnbq__cu_nvrtc_extra = argv[++i];   /* A/B probes: one more NVRTC option for every unit */
        else if (!strcmp(argv[i], "--exact-outliers")) exact_outliers = 1;   /* A/B: the CPU's order */
        else {
            fprintf(stderr, "usage: bench_layers [--runs N] [--quick] [--only A,B] [--tokens N,...] [--nk N,K] [--no-mma] [--no-tile-tc] [--no-t2] [--no-wg] [--wg-bn 128|256] [--no-m4wg] [--no-i8dq] [--no-i8br] [--no-i8bro] [--i8dqo] [--no-i8dqo] [--i8one-256] [--i8one-ppt 1..8] [--i8br-k K] [--i8br-b 1..8] [--exact-outliers] [--nvrtc-opt OPTION] [--tier-fast]\n");
            return 1;
        }
    }
    memset(&desc, 0, sizeof desc);
    desc.exact_outlier_sums = exact_outliers;
    r = bnbq_cuda_init(&desc, &g_ctx);
    if (r != BNBQ_SUCCESS) { printf("no GPU: %s\n", bnbq_result_description(r)); return 2; }
    TRY("exec", bnbq_cuda_exec_init(g_ctx, NULL, &g_ex));
    TRY("device", bnbq_cuda_query_device(g_ctx, &info));
    if (!blas_open()) { printf("no cuBLAS (set BNBQ_CUBLAS_PATH)\n"); return 2; }
    g_flush = dalloc(FLUSH);
    printf("bench_layers: %s, commit %s, runs %d (median), L2 evicted by a 256 MB memset before each call\n",
           info.name, getenv("BNBQ_GIT_COMMIT") ? getenv("BNBQ_GIT_COMMIT") : BNBQ_GIT_COMMIT, g_runs);
    printf("%-34s %6s %6s %6s %13s %16s %12s\n", "layer", "tokens", "out", "in", "median", "", "vs cuBLAS");
    int8_gemm(4096, 4096, 4096);
    if (!g_quick) {
        int8_gemm(8192, 8192, 8192);
        int8_gemm(4096, 14336, 4096);
        int8_gemm(4096, 4096, 14336);
    }
    for (i = 0; i < (g_quick ? 1 : 4); i++)
        for (t = 2; t < 4; t++) gemm16(toks[t], wa[i][0], wa[i][1]);
    for (i = 0; i < (g_quick ? 1 : 4); i++)
        for (t = 2; t < 4; t++) matmul4(toks[t], wa[i][0], wa[i][1]);
    for (i = 0; i < (g_quick ? 1 : 4); i++)
        for (t = 0; t < 4; t++) shape(toks[t], wa[i][0], wa[i][1], 0);
    if (g_xn)
        for (t = 0; t < 4; t++) shape(toks[t], g_xn, g_xk, 0);
    for (t = 0; t < 2; t++) {   /* decoding: SwitchBack / FP8 forward at 1 and 16 tokens */
        shape(toks[t], 4096, 4096, 2);
        if (!g_quick) {
            shape(toks[t], 4 * 4096, 4096, 2);
            shape(toks[t], 4096, 4 * 4096, 2);
        }
    }
    for (i = 0; i < (g_quick ? 1 : 2); i++) {
        size_t d = dims[i];
        shape(8192, d, d, 1);
        shape(8192, 4 * d, d, 1);
        shape(8192, d, 4 * d, 1);
    }
    bnbq_free(&g_ex, g_flush);
    bnbq_cuda_uninit(g_ctx);
    return 0;
}
