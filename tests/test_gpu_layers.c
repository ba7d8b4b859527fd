/* test_gpu_layers.c - every layer of bnbq.h on the CUDA exec against the same layer on the CPU.

   build/test_gpu_layers [--small] [--cache-dir DIR] [--seed N] [-v] [group-substring ...]
   (`make gpu-test` runs it after test_gpu, and --small under compute-sanitizer memcheck)

   For every linear kind (STANDARD, 4BIT, FP4, NF4, 8BIT_LT, OUTLIER_AWARE, SWITCHBACK_BNB,
   SWITCHBACK_GLOBAL, SWITCHBACK_VECTORWISE, SWITCHBACK_GLOBAL_MEMEFF, FP8_MIXED, FP8_GLOBAL), every
   embedding kind (EMBEDDING, STABLE, 4BIT, FP4, NF4, 8BIT) and the research functions
   (matmul_fp8_mixed / _global and switchback_bnb, with their backward passes) the same layer is
   built twice from the same desc and seed: on the CPU (ex = NULL, host memory) and on the CUDA
   exec. The initial parameters must be byte-identical (the generator runs on the host); then both
   get the same weights through _set_weight, are quantized where the kind has a quantized state,
   run forward on the same random input (token counts 1 -- the 4-bit gemv path -- and several odd
   ones; in/out features that are not multiples of 64; Linear8bitLt with threshold 0 and 6 with
   real outlier columns, int8_weights on and off, training on and off; SwitchBack
   prepare_for_eval), then backward where the layer trains.

   Required BYTE-IDENTICAL (every op in the chain is exact on the GPU, tests/test_gpu.c):
     - initial weights / biases / tables from the seed;
     - the quantized states: packed, absmax, nested absmax codes, nested statistics and offset
       (Params4bit), CB / SCB (Int8Params, also the re-quantized weight of a training forward),
       the outlier columns and their count, W_int8 / state_W (prepare_for_eval), the 4-bit / 8-bit
       embedding tables, OutlierAwareLinear's rewritten weight;
     - outputs of chains of int8 / 4-bit operations without a float GEMM or reduction:
       Linear4bit with one token and in % blocksize == 0 (gemv_4bit, CPU order), Linear8bitLt
       (int8 matmul + int8_mm_dequant with the fused bias + the outlier product, whose float32 sum
       order is specified), SwitchBack global / vector-wise / memory-efficient forward and grad_x
       (int8 matmul with the dequantizing epilogue), SwitchBackLinearBnb without bias where the
       outliers go through the int8 path (threshold 0, or int8_weights), Linear8bitLt's int8
       weight gradient at threshold 0, Embedding / Embedding4bit / Embedding8bit lookups.
   Within tolerance(dt) of the vectors README (relative L2 <= 1e-5 f32, 2e-3 f16, 1e-2 bf16),
   because a float GEMM or reduction sums in another order on the GPU: StandardLinear, Linear4bit
   with several tokens (dequantize + GEMM), every grad_x through a float GEMM (StandardLinear,
   Linear4bit, Linear8bitLt, SwitchBackLinearBnb, FP8), every grad_weight through a float GEMM
   (the 16-bit weight gradients of SwitchBack / SwitchBackLinearBnb / Linear8bitLt with
   weight_grad_16bit, Linear8bitLt's int8 gradient with threshold > 0 whose outlier columns are a
   16-bit GEMM, FP8), every grad_bias (column sums), the FP8 layers and functions (FP8
   quantization of the inputs is exact, the GEMM after it is not), SwitchBackLinearBnb's outlier
   GEMM (threshold > 0, 16-bit weights) and its bias (torch's `out += bias` as a GEMM), the
   switchback_bnb function with threshold > 0 and its backward, OutlierAwareLinear's forward (the
   test's callback is a GEMM), StableEmbedding (layer norm) and its gradients, the embeddings'
   grad_weight (gather_rows_backward sums), max_norm renormalisation (a norm).
   A result computed in f16 and stored wider (SwitchBack* / SwitchBackLinearBnb grad_x,
   grad_weight and grad_bias, Linear8bitLt's weight gradient, all f16 GEMMs / sums widened to an
   f32 layer's dtype) is held to f16's tolerance. A tolerance comparison also counts the outputs
   that happen to be byte-identical.

   Also: a second forward (and backward) on the GPU with the same shapes neither allocates nor
   frees (device or host memory), nor synchronises, nor copies between host and device (the exec's
   memory slots are wrapped by counters; the host allocator of the context counts too), and gives
   the same bytes as the first; bad input through the GPU exec returns the CPU's codes (a 4-bit
   forward before quantize, NULL tensors, zero tokens, wrong dtypes, a backward without its
   forward, an embedding index out of range: the CPU fails the call, the GPU's next bnbq_sync).

   One line per group ("ok NAME: ..." / "FAIL NAME: ..."), the last line "N passed, N failed".
   Without a GPU it prints one SKIP line and "0 passed, 0 failed, 1 skipped" and exits 0.
   --small: a few small shapes, for compute-sanitizer. --fake-plumbing (tests/test_cuda.sh, with
   the fake driver of tests/fake_libcuda.c): the "GPU" side is a second CPU exec, which checks
   this program's setup, copies, comparisons and counters without a GPU. */
#define _POSIX_C_SOURCE 200809L
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq_cuda.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "rm_tree.h"
#include "tier_env.h"

/* ---- global state ----------------------------------------------------------------------------- */

static bnbq_cuda* g_ctx;
static bnbq_exec  g_cex;          /* the CUDA exec                                                 */
static bnbq_exec  g_pex;          /* --fake-plumbing: a CPU exec standing in for it                */
static bnbq_exec* g_gex;          /* the "GPU" exec every GPU-side call uses                       */
static int g_small, g_verbose, g_plumbing;
static int g_passed, g_failed, g_skipped;
static char g_cache_dir[1024];
static int g_own_cache_dir;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- counters: the exec's memory slots and the host allocator --------------------------------- */

static long g_n_alloc, g_n_free, g_n_sync, g_n_hcopy, g_n_halloc, g_n_hfree;
static bnbq_backend g_wrap;
static const bnbq_backend* g_real;

static bnbq_result w_alloc(bnbq_exec* ex, size_t n, void** p) { g_n_alloc++; return g_real->alloc(ex, n, p); }
static void w_free(bnbq_exec* ex, void* p) { g_n_free++; g_real->free(ex, p); }
static bnbq_result w_copy(bnbq_exec* ex, void* d, const void* s, size_t n, bnbq_copy_kind k) {
    if (k != BNBQ_COPY_EXEC_TO_EXEC) g_n_hcopy++;
    return g_real->copy(ex, d, s, n, k);
}
static bnbq_result w_sync(bnbq_exec* ex) { g_n_sync++; return g_real->sync(ex); }
static void* cnt_alloc(void* u, size_t n) { (void)u; g_n_halloc++; return malloc(n); }
static void cnt_free(void* u, void* p) { (void)u; if (p) g_n_hfree++; free(p); }

static void counters_reset(void) { g_n_alloc = g_n_free = g_n_sync = g_n_hcopy = g_n_halloc = g_n_hfree = 0; }

/* ---- random numbers: splitmix64 + Box-Muller -------------------------------------------------- */

#define RNG_NORMAL_SEED 0x1a7e5eedull
#include "rng_normal.h"

/* ---- the group record and the per-case memory ------------------------------------------------- */

typedef struct group {
    const char* name;
    int    cases, failed_cases, case_failed;
    int    exact_cmp, tol_cmp, tol_identical, steady;
    double max_rel, elements;
    char   label[300];
    char   first[1200];
} group;
static group O;

#define MAX_BUFS 96
static void* g_dbufs[MAX_BUFS];
static int g_ndbufs;
static void* g_hbufs[MAX_BUFS];
static int g_nhbufs;

static void label(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(O.label, sizeof O.label, fmt, ap);
    va_end(ap);
}

static void case_fail(const char* fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!O.first[0]) snprintf(O.first, sizeof O.first, "%s: %s", O.label, msg);
    else if (g_verbose) printf("#   %s %s: %s\n", O.name, O.label, msg);
    O.case_failed = 1;
}

static void fatal(const char* what) {
    printf("FAIL %s: %s\n%d passed, %d failed\n", O.name ? O.name : "setup", what, g_passed, g_failed + 1);
    exit(1);
}

/* host memory of the case, poisoned with 0x5A */
static void* H(size_t bytes) {
    void* p;
    if (g_nhbufs == MAX_BUFS) fatal("too many host buffers in one case");
    p = malloc(bytes ? bytes : 1);
    if (!p) fatal("out of host memory");
    memset(p, 0x5A, bytes ? bytes : 1);
    g_hbufs[g_nhbufs++] = p;
    return p;
}

/* exec memory of the case on the GPU side, poisoned with 0xA5 */
static void* D(size_t bytes) {
    void* p = NULL;
    if (g_ndbufs == MAX_BUFS) fatal("too many device buffers in one case");
    if (bnbq_alloc(g_gex, bytes ? bytes : 1, &p) != BNBQ_SUCCESS) fatal("bnbq_alloc on the GPU exec failed");
    g_dbufs[g_ndbufs++] = p;
    if (bnbq_fill_bytes(g_gex, p, 0xA5, bytes ? bytes : 1) != BNBQ_SUCCESS) fatal("bnbq_fill_bytes failed");
    return p;
}

/* a GPU copy of host memory */
static void* U(const void* host, size_t bytes) {
    void* p = D(bytes);
    if (bnbq_copy(g_gex, p, host, bytes, BNBQ_COPY_HOST_TO_EXEC) != BNBQ_SUCCESS) fatal("bnbq_copy to the GPU failed");
    return p;
}

/* a host copy of GPU memory (after everything queued has finished) */
static void* Bk(const void* dev, size_t bytes) {
    void* h = H(bytes);
    bnbq_result r = dev ? bnbq_copy(g_gex, h, dev, bytes, BNBQ_COPY_EXEC_TO_HOST) : BNBQ_ERROR_NULL_POINTER;
    if (r == BNBQ_SUCCESS) r = bnbq_sync(g_gex);
    if (r != BNBQ_SUCCESS) case_fail("reading back: %s", bnbq_result_name(r));
    return h;
}

static void case_begin(void) { O.case_failed = 0; }

static void case_end(void) {
    int i;
    bnbq_sync(g_gex);
    for (i = 0; i < g_ndbufs; i++) bnbq_free(g_gex, g_dbufs[i]);
    for (i = 0; i < g_nhbufs; i++) free(g_hbufs[i]);
    g_ndbufs = g_nhbufs = 0;
    O.cases++;
    if (O.case_failed) O.failed_cases++;
}

/* both calls must succeed; then the GPU's queue must drain without an error */
static int both(const char* what, bnbq_result rc, bnbq_result rg) {
    if (rc != BNBQ_SUCCESS) {
        case_fail("%s: the CPU returned %s", what, bnbq_result_name(rc));
        return 0;
    }
    if (rg != BNBQ_SUCCESS) {
        case_fail("%s: the GPU returned %s (%s)", what, bnbq_result_name(rg), bnbq_result_description(rg));
        return 0;
    }
    rg = bnbq_sync(g_gex);
    if (rg != BNBQ_SUCCESS) {
        case_fail("%s: bnbq_sync after the GPU call: %s", what, bnbq_result_name(rg));
        return 0;
    }
    return 1;
}

/* ---- comparisons ------------------------------------------------------------------------------ */

static void fmt_elem(char* buf, size_t cap, const unsigned char* p, size_t elem) {
    if (elem == 4) {
        uint32_t u; float f;
        memcpy(&u, p, 4); memcpy(&f, p, 4);
        snprintf(buf, cap, "0x%08lx (%.9g)", (unsigned long)u, (double)f);
    } else if (elem == 2) {
        uint16_t h;
        memcpy(&h, p, 2);
        snprintf(buf, cap, "0x%04x", (unsigned)h);
    } else {
        snprintf(buf, cap, "0x%02x", (unsigned)p[0]);
    }
}

static double widen(bnbq_dtype dt, const void* p, size_t i) {
    if (dt == BNBQ_F32) return ((const float*)p)[i];
    if (dt == BNBQ_F16) return bnbq_f16_to_f32(((const uint16_t*)p)[i]);
    return bnbq_bf16_to_f32(((const uint16_t*)p)[i]);
}

/* the GPU's n elements of dt (GPU memory) must equal the CPU's (host memory) byte for byte */
static void exact(const char* what, const void* cpu, const void* dev, size_t n, bnbq_dtype dt) {
    size_t elem = bnbq_dtype_size(dt), i, bad = 0, first = 0;
    const unsigned char* g;
    const unsigned char* c = (const unsigned char*)cpu;
    if (!cpu || !dev) {
        if (cpu || dev) case_fail("%s: the CPU layer has %s, the GPU layer %s", what, cpu ? "it" : "none", dev ? "has it" : "not");
        return;
    }
    g = (const unsigned char*)Bk(dev, n * elem);
    for (i = 0; i < n; i++)
        if (memcmp(c + i * elem, g + i * elem, elem) != 0) {
            if (!bad) first = i;
            bad++;
        }
    if (bad) {
        char a[64], b[64];
        fmt_elem(a, sizeof a, c + first * elem, elem);
        fmt_elem(b, sizeof b, g + first * elem, elem);
        case_fail("%s: %zu of %zu elements differ (byte-identical required); first at %zu: CPU %s, GPU %s%s", what, bad,
                  n, first, a, b, (g[first * elem] == 0xA5) ? " (poison: not written?)" : "");
    }
    O.exact_cmp++;
    O.elements += (double)n;
}

static double tol_of(bnbq_dtype dt) { return dt == BNBQ_F32 ? 1e-5 : dt == BNBQ_F16 ? 2e-3 : 1e-2; }

/* relative L2 <= tolerance(cdt) for a result computed in cdt and stored as dt (a 16-bit GEMM
   widened to an f32 gradient is held to f16's tolerance); the larger of the two limits */
static void within_tol_c(const char* what, bnbq_dtype dt, bnbq_dtype cdt, const void* cpu, const void* dev, size_t n) {
    const void* g;
    double sd = 0.0, ss = 0.0, rel, lim = tol_of(dt) > tol_of(cdt) ? tol_of(dt) : tol_of(cdt);
    size_t i, nonfinite = 0;
    if (!cpu || !dev) {
        if (cpu || dev) case_fail("%s: the CPU layer has %s, the GPU layer %s", what, cpu ? "it" : "none", dev ? "has it" : "not");
        return;
    }
    g = Bk(dev, n * bnbq_dtype_size(dt));
    for (i = 0; i < n; i++) {
        double a = widen(dt, cpu, i), b = widen(dt, g, i);
        if (isnan(a) || isnan(b) || isinf(a) || isinf(b)) { nonfinite++; continue; }
        sd += (a - b) * (a - b);
        ss += a * a;
    }
    rel = sd == 0.0 ? 0.0 : (ss > 0.0 ? sqrt(sd / ss) : INFINITY);
    if (rel > O.max_rel) O.max_rel = rel;
    O.tol_cmp++;
    if (memcmp(cpu, g, n * bnbq_dtype_size(dt)) == 0) O.tol_identical++;
    if (nonfinite) case_fail("%s: %zu non-finite elements", what, nonfinite);
    else if (!(rel <= lim))
        case_fail("%s: relative L2 %.3g > %.0e (%s, computed in %s)", what, rel, lim, bnbq_dtype_name(dt), bnbq_dtype_name(cdt));
    O.elements += (double)n;
}
static void within_tol(const char* what, bnbq_dtype dt, const void* cpu, const void* dev, size_t n) {
    within_tol_c(what, dt, dt, cpu, dev, n);
}

static void cmp_c(const char* what, int must_be_exact, bnbq_dtype dt, bnbq_dtype cdt, const void* cpu, const void* dev,
                  size_t n) {
    if (must_be_exact) exact(what, cpu, dev, n, dt);
    else within_tol_c(what, dt, cdt, cpu, dev, n);
}
static void cmp(const char* what, int must_be_exact, bnbq_dtype dt, const void* cpu, const void* dev, size_t n) {
    cmp_c(what, must_be_exact, dt, dt, cpu, dev, n);
}

/* the counters since counters_reset(): a steady-state step must show none */
static void steady_check(const char* what) {
    O.steady++;
    if (g_n_alloc || g_n_free || g_n_halloc || g_n_hfree || g_n_sync || g_n_hcopy)
        case_fail("steady-state %s: %ld allocations, %ld frees, %ld host allocations, %ld host frees, %ld "
                  "synchronisations, %ld host<->device copies (want 0)", what, g_n_alloc, g_n_free, g_n_halloc,
                  g_n_hfree, g_n_sync, g_n_hcopy);
}

/* two GPU buffers with the same bytes (a repeated step is deterministic) */
static void same_gpu(const char* what, const void* d1, const void* d2, size_t bytes) {
    const void* a = Bk(d1, bytes);
    const void* b = Bk(d2, bytes);
    if (memcmp(a, b, bytes) != 0) case_fail("%s: a second GPU run gave other bytes", what);
}

/* ---- inputs ----------------------------------------------------------------------------------- */

static const bnbq_dtype k_dts[3] = { BNBQ_F32, BNBQ_F16, BNBQ_BF16 };

static void* as_dtype(bnbq_dtype dt, const float* x, size_t n) {
    size_t i;
    void* p;
    if (dt == BNBQ_F32) return (void*)x;
    p = H(n * 2);
    for (i = 0; i < n; i++)
        ((uint16_t*)p)[i] = dt == BNBQ_F16 ? bnbq_f32_to_f16(x[i]) : bnbq_f32_to_bf16(x[i]);
    return p;
}
static void* rnd_dt(bnbq_dtype dt, size_t n, float scale) {
    float* x = (float*)H(n * 4);
    fill_normal(x, n, scale);
    return as_dtype(dt, x, n);
}
/* x (T, K) in dt with outlier columns: every other row holds |x| in [6.5, 9.5) in 3 columns */
static void* rnd_x(bnbq_dtype dt, size_t T, size_t K, int outliers) {
    float* x = (float*)H(T * K * 4);
    size_t t, j;
    fill_normal(x, T * K, 1.0f);
    if (outliers) {
        size_t cols[3];
        cols[0] = K > 1 ? 1 : 0; cols[1] = K / 2; cols[2] = K - 1;
        for (t = 0; t < T; t += 2)
            for (j = 0; j < 3; j++) {
                float v = 6.5f + 3.0f * (float)rng_uniform();
                x[t * K + cols[j]] = (rng_u64() & 1) ? v : -v;
            }
    }
    return as_dtype(dt, x, T * K);
}
static int32_t* rnd_idx(size_t n, size_t num_rows) {
    int32_t* p = (int32_t*)H(n * 4);
    size_t i;
    for (i = 0; i < n; i++) p[i] = (int32_t)(rng_u64() % num_rows);
    if (n > 2) p[1] = p[0];   /* a repeat */
    return p;
}

/* ================================================================================================ */
/* the linear layers                                                                                */

static int is4(bnbq_linear_kind k) { return k == BNBQ_LINEAR_4BIT || k == BNBQ_LINEAR_FP4 || k == BNBQ_LINEAR_NF4; }
static int issb(bnbq_linear_kind k) {
    return k == BNBQ_LINEAR_SWITCHBACK_GLOBAL || k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE ||
           k == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF;
}
static const char* kind_name(bnbq_linear_kind k) {
    static const char* names[12] = { "standard", "4bit", "fp4", "nf4", "8bit_lt", "outlier_aware", "switchback_bnb",
                                     "switchback_global", "switchback_vectorwise", "switchback_global_memeff",
                                     "fp8_mixed", "fp8_global" };
    return ((int)k >= 0 && (int)k < 12) ? names[k] : "?";
}

/* OutlierAwareLinear's two callbacks (the test's "subclass"): quantize_weight rewrites the weight
   in place through an NF4 round trip (exact on both backends), forward_with_outliers is
   x @ W^T + b (bnbq_gemm). */
static bnbq_result oa_quantize(void* user, bnbq_exec* ex, struct bnbq_linear* L, const int32_t* idx, size_t count) {
    size_t n = L->desc.in_features * L->desc.out_features, nb = (n + 63) / 64;
    void *packed = NULL, *absmax = NULL;
    bnbq_result r;
    (void)user; (void)idx; (void)count;
    r = bnbq_alloc(ex, (n + 1) / 2, &packed);
    if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, nb * 4, &absmax);
    if (r == BNBQ_SUCCESS)
        r = bnbq_quantize_4bit(ex, BNBQ_NF4, L->desc.weight_dtype, L->weight, n, 64, (uint8_t*)packed, (float*)absmax);
    if (r == BNBQ_SUCCESS)
        r = bnbq_dequantize_4bit(ex, BNBQ_NF4, L->desc.weight_dtype, (const uint8_t*)packed, (const float*)absmax, n, 64,
                                 L->weight);
    if (r == BNBQ_SUCCESS) r = bnbq_sync(ex);
    bnbq_free(ex, packed);
    bnbq_free(ex, absmax);
    return r;
}
static bnbq_result oa_forward(void* user, bnbq_exec* ex, struct bnbq_linear* L, bnbq_dtype x_dt, const void* x,
                              size_t tokens, const int32_t* idx, size_t count, void* out) {
    (void)user; (void)idx; (void)count;
    return bnbq_gemm(ex, x_dt, 0, 1, tokens, L->desc.out_features, L->desc.in_features, x, L->weight, L->bias, 0, out);
}

typedef struct lcfg {
    bnbq_linear_kind kind;
    size_t K, N, T;
    bnbq_dtype wdt, xdt;
    int bias, int8_weights, gw16, training, prepare, backward, blocksize, no_nested;
    bnbq_quant_type qt;
    float thr;
} lcfg;

static void run_linear(const lcfg* c) {
    bnbq_linear Lc, Lg;
    bnbq_linear_desc d;
    bnbq_linear_kind k = c->kind;
    size_t K = c->K, N = c->N, T = c->T, n = K * N;
    size_t wes = bnbq_dtype_size(c->wdt), xes = bnbq_dtype_size(c->xdt);
    bnbq_dtype odt;
    size_t oes;
    int i8path, fwd_exact, gx_exact, gw_exact, int8t;
    void *hW, *hb = NULL, *hx, *dx, *ho, *dout, *dout2;
    bnbq_result rc, rg;
    memset(&d, 0, sizeof d);
    d.kind = k; d.in_features = K; d.out_features = N; d.no_bias = !c->bias; d.weight_dtype = c->wdt;
    d.seed = 1234 + K * 7 + N;
    d.quant_type = c->qt; d.blocksize = c->blocksize; d.no_compress_statistics = c->no_nested;
    d.threshold = c->thr; d.int8_weights = c->int8_weights; d.weight_grad_16bit = c->gw16;
    if (k == BNBQ_LINEAR_OUTLIER_AWARE) { d.quantize_weight = oa_quantize; d.forward_with_outliers = oa_forward; }
    case_begin();
    label("%s K=%zu N=%zu T=%zu w=%s x=%s bias=%d%s%s%s%s%s%s%s", kind_name(k), K, N, T, bnbq_dtype_name(c->wdt),
          bnbq_dtype_name(c->xdt), c->bias, c->thr > 0 ? " threshold=6" : "", c->int8_weights ? " int8_weights" : "",
          c->gw16 ? " weight_grad_16bit" : "", c->training ? "" : " eval", c->prepare ? " prepare_for_eval" : "",
          c->no_nested ? " not-nested" : "", c->blocksize ? (c->blocksize == 32 ? " bs=32" : c->blocksize == 128 ? " bs=128" : "") : "");
    rc = bnbq_linear_init(NULL, &Lc, &d);
    rg = bnbq_linear_init(g_gex, &Lg, &d);
    if (!both("init", rc, rg)) {
        if (rc == BNBQ_SUCCESS) bnbq_linear_uninit(NULL, &Lc);
        if (rg == BNBQ_SUCCESS) bnbq_linear_uninit(g_gex, &Lg);
        case_end();
        return;
    }
    /* the seeded initial parameters */
    exact("initial weight", Lc.weight, Lg.weight, n, c->wdt);
    if (c->bias) exact("initial bias", Lc.bias, Lg.bias, N, c->wdt);
    /* the same weights from the host */
    hW = rnd_dt(c->wdt, n, (float)(1.0 / sqrt((double)K)));
    if (c->bias) hb = rnd_dt(c->wdt, N, 0.5f);
    if (!both("set_weight", bnbq_linear_set_weight(NULL, &Lc, hW, hb), bnbq_linear_set_weight(g_gex, &Lg, hW, hb)))
        goto done;
    /* the quantized state */
    if (is4(k) || ((k == BNBQ_LINEAR_8BIT_LT || k == BNBQ_LINEAR_SWITCHBACK_BNB) && c->int8_weights)) {
        if (!both("quantize", bnbq_linear_quantize(NULL, &Lc), bnbq_linear_quantize(g_gex, &Lg))) goto done;
        if (is4(k)) {
            size_t nb = (n + (size_t)Lc.blocksize - 1) / (size_t)Lc.blocksize;
            exact("packed", Lc.packed, Lg.packed, (n + 1) / 2, BNBQ_U8);
            if (Lc.nested) {
                exact("absmax_q (nested codes)", Lc.absmax_q, Lg.absmax_q, nb, BNBQ_U8);
                exact("nested_absmax", Lc.nested_absmax, Lg.nested_absmax, (nb + 255) / 256, BNBQ_F32);
                if (memcmp(&Lc.nested_offset, &Lg.nested_offset, 4) != 0)
                    case_fail("nested_offset: CPU %.9g, GPU %.9g", (double)Lc.nested_offset, (double)Lg.nested_offset);
                O.exact_cmp++;
            } else {
                exact("absmax", Lc.absmax, Lg.absmax, nb, BNBQ_F32);
            }
            if (Lc.nested != Lg.nested || Lc.quantized != Lg.quantized || Lg.weight)
                case_fail("quantized state flags differ (nested %d/%d, quantized %d/%d, GPU weight kept %d)", Lc.nested,
                          Lg.nested, Lc.quantized, Lg.quantized, Lg.weight != NULL);
        } else {
            exact("CB", Lc.CB, Lg.CB, n, BNBQ_I8);
            exact("SCB", Lc.SCB, Lg.SCB, N, BNBQ_F32);
        }
    }
    bnbq_linear_set_training(&Lc, c->training);
    bnbq_linear_set_training(&Lg, c->training);
    if (c->prepare) {
        int vw = k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE;
        if (!both("prepare_for_eval", bnbq_linear_prepare_for_eval(NULL, &Lc), bnbq_linear_prepare_for_eval(g_gex, &Lg)))
            goto done;
        exact("W_int8", Lc.W_int8, Lg.W_int8, n, BNBQ_I8);
        exact("state_W", Lc.state_W, Lg.state_W, vw ? N : 1, BNBQ_F16);
    }
    /* forward */
    odt = bnbq_linear_output_dtype(&Lc, c->xdt);
    oes = bnbq_dtype_size(odt);
    hx = rnd_x(c->xdt, T, K, c->thr > 0.0f);
    dx = U(hx, T * K * xes);
    ho = H(T * N * oes);
    dout = D(T * N * oes);
    dout2 = D(T * N * oes);
    i8path = k == BNBQ_LINEAR_8BIT_LT || (k == BNBQ_LINEAR_SWITCHBACK_BNB && c->int8_weights);
    /* (Linear8bitLt with a threshold, f16 / bf16, more than 16 tokens: on sm_80+ the outlier product runs on the tensor
       cores where 64 gathered columns fit in the int8 product's work buffer (bnbq_cuda_desc.exact_outlier_sums 0):
       within tolerance there; exact elsewhere) */
    int8t = k == BNBQ_LINEAR_8BIT_LT && c->thr > 0.0f && T > 16 && odt != BNBQ_F32 && 2 * (T * N / (T + N)) >= 64;
    fwd_exact = (is4(k) && T == 1 && K % (size_t)Lc.blocksize == 0) || (k == BNBQ_LINEAR_8BIT_LT && !int8t) || issb(k) ||
                (k == BNBQ_LINEAR_SWITCHBACK_BNB && !c->bias && (c->thr == 0.0f || c->int8_weights));
    if (!both("forward", bnbq_linear_forward(NULL, &Lc, c->xdt, hx, T, ho), bnbq_linear_forward(g_gex, &Lg, c->xdt, dx, T, dout)))
        goto done;
    cmp("out", fwd_exact, odt, ho, dout, T * N);
    if (k == BNBQ_LINEAR_OUTLIER_AWARE) exact("weight after quantize_weight", Lc.weight, Lg.weight, n, c->wdt);
    if (i8path) {
        exact("CB after forward", Lc.CB, Lg.CB, n, BNBQ_I8);
        exact("SCB after forward", Lc.SCB, Lg.SCB, N, BNBQ_F32);
        if (c->thr > 0.0f) {
            const int32_t* gn = (const int32_t*)Bk(Lg.num_outliers, 4);
            exact("the outlier count", Lc.num_outliers, Lg.num_outliers, 1, BNBQ_I32);
            if (*Lc.num_outliers == 0) case_fail("no outlier columns found (the input has some)");
            if (*Lc.num_outliers == *gn && *gn > 0 && (size_t)*gn <= K)
                exact("the outlier columns", Lc.outlier_cols, Lg.outlier_cols, (size_t)*gn, BNBQ_I32);
        }
    }
    /* the steady state: the same forward again */
    counters_reset();
    rg = bnbq_linear_forward(g_gex, &Lg, c->xdt, dx, T, dout2);
    steady_check("forward");
    if (rg != BNBQ_SUCCESS) case_fail("second forward: %s", bnbq_result_name(rg));
    else if (bnbq_sync(g_gex) == BNBQ_SUCCESS) same_gpu("out", dout, dout2, T * N * oes);
    /* backward */
    if (c->backward) {
        void *hg = rnd_dt(odt, T * N, 1.0f), *dg, *hgx = H(T * K * xes), *dgx = D(T * K * xes);
        void *cgw = NULL, *cgb = NULL;
        dg = U(hg, T * N * oes);
        gx_exact = issb(k);
        gw_exact = k == BNBQ_LINEAR_8BIT_LT && c->thr == 0.0f && !c->gw16 && !c->int8_weights;
        if (!both("backward", bnbq_linear_backward(NULL, &Lc, c->xdt, hx, T, hg, hgx),
                  bnbq_linear_backward(g_gex, &Lg, c->xdt, dx, T, dg, dgx)))
            goto done;
        /* SwitchBack* compute grad_x, grad_weight and grad_bias in f16; Linear8bitLt its weight
           gradient (gw16): a wider stored dtype is held to f16's tolerance */
        cmp_c("grad_x", gx_exact, c->xdt, (issb(k) || k == BNBQ_LINEAR_SWITCHBACK_BNB) ? BNBQ_F16 : c->xdt, hgx, dgx, T * K);
        if (Lc.grad_weight) {
            cmp_c("grad_weight", gw_exact, c->wdt, (issb(k) || i8path || k == BNBQ_LINEAR_SWITCHBACK_BNB) ? BNBQ_F16 : c->wdt,
                  Lc.grad_weight, Lg.grad_weight, n);
            cgw = Bk(Lg.grad_weight, n * wes);
        }
        if (Lc.bias && Lc.grad_bias) {
            within_tol_c("grad_bias", Lc.bias_dtype, (issb(k) || k == BNBQ_LINEAR_SWITCHBACK_BNB) ? BNBQ_F16 : Lc.bias_dtype,
                         Lc.grad_bias, Lg.grad_bias, N);
            cgb = Bk(Lg.grad_bias, N * bnbq_dtype_size(Lc.bias_dtype));
        }
        /* the same backward again: no allocation, no synchronisation, the same bytes */
        {
            void* dgx2 = D(T * K * xes);
            counters_reset();
            rg = bnbq_linear_backward(g_gex, &Lg, c->xdt, dx, T, dg, dgx2);
            steady_check("backward");
            if (rg != BNBQ_SUCCESS) case_fail("second backward: %s", bnbq_result_name(rg));
            else if (bnbq_sync(g_gex) == BNBQ_SUCCESS) {
                same_gpu("grad_x", dgx, dgx2, T * K * xes);
                if (cgw && memcmp(cgw, Bk(Lg.grad_weight, n * wes), n * wes) != 0)
                    case_fail("grad_weight: a second GPU backward gave other bytes");
                if (cgb && memcmp(cgb, Bk(Lg.grad_bias, N * bnbq_dtype_size(Lc.bias_dtype)),
                                  N * bnbq_dtype_size(Lc.bias_dtype)) != 0)
                    case_fail("grad_bias: a second GPU backward gave other bytes");
            }
        }
    }
done:
    bnbq_sync(g_gex);
    bnbq_linear_uninit(NULL, &Lc);
    bnbq_linear_uninit(g_gex, &Lg);
    case_end();
}

typedef struct kn { size_t K, N; } kn;
static const kn k_shapes_full[4] = { { 64, 128 }, { 100, 33 }, { 256, 72 }, { 1024, 300 } };
static const kn k_shapes_small[2] = { { 64, 32 }, { 100, 33 } };
static const size_t k_T_full[3] = { 1, 7, 37 };
static const size_t k_T_small[2] = { 1, 5 };
#define NSHAPES (g_small ? 2 : 4)
#define NTOK (g_small ? 2 : 3)
#define SHAPE(i) (g_small ? k_shapes_small[i] : k_shapes_full[i])
#define TOK(i) (g_small ? k_T_small[i] : k_T_full[i])

static lcfg base_cfg(bnbq_linear_kind k, kn s, size_t T, bnbq_dtype dt) {
    lcfg c;
    memset(&c, 0, sizeof c);
    c.kind = k; c.K = s.K; c.N = s.N; c.T = T; c.wdt = dt; c.xdt = dt; c.bias = 1; c.training = 1; c.backward = 1;
    return c;
}

static void grp_linear_standard(void) {
    int s, t, d;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 3; d++) {
                lcfg c = base_cfg(BNBQ_LINEAR_STANDARD, SHAPE(s), TOK(t), k_dts[d]);
                c.bias = (s + t + d) % 2 == 0;
                run_linear(&c);
            }
}

static void grp_linear_4bit_kind(bnbq_linear_kind k) {
    static const int bss[3] = { 64, 128, 32 };
    int s, t, d;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 3; d++) {
                lcfg c = base_cfg(k, SHAPE(s), TOK(t), k_dts[d]);
                if (k == BNBQ_LINEAR_4BIT && d != 1) continue;   /* desc.quant_type: f16 only */
                c.qt = (k == BNBQ_LINEAR_4BIT) ? BNBQ_NF4 : BNBQ_FP4;
                c.blocksize = bss[(s + t) % 3];
                c.no_nested = (s + t + d) % 2;
                c.bias = (s + d) % 3 != 2;
                c.training = t != 1;    /* the 4-bit layers behave the same; the flag is only set */
                run_linear(&c);
            }
}
static void grp_linear_4bit(void) { grp_linear_4bit_kind(BNBQ_LINEAR_4BIT); }
static void grp_linear_fp4(void) { grp_linear_4bit_kind(BNBQ_LINEAR_FP4); }
static void grp_linear_nf4(void) { grp_linear_4bit_kind(BNBQ_LINEAR_NF4); }

static void grp_linear_8bit_lt(void) {
    int s, t, d, v;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 3; d++)
                for (v = 0; v < 8; v++) {
                    /* v: bit 0 threshold 6, bit 1 int8_weights, bit 2 eval (16-bit weights: quantized once) */
                    lcfg c = base_cfg(BNBQ_LINEAR_8BIT_LT, SHAPE(s), TOK(t), k_dts[d]);
                    if (g_small && d == 2) continue;
                    c.thr = (v & 1) ? 6.0f : 0.0f;
                    c.int8_weights = (v >> 1) & 1;
                    c.training = !((v >> 2) & 1);
                    c.backward = c.training;
                    c.bias = (s + t + v) % 3 != 0;
                    c.gw16 = !c.int8_weights && c.training && (s + t + d) % 4 == 3;
                    run_linear(&c);
                }
    /* 32 tokens (a multiple of 16) with 16-bit weights in training: on compute capability 9.0 the forward and the int8
       weight gradient (bnbq_int8_mixed_scaled_mm: N = in 256, K = 32 tokens) both take the int8 GEMM with the
       mm_dequant epilogue, bnbq_k_int8_wg_dq_* (none of the shapes above has such a token count; tests/test_gpu.c
       asserts that path by its launch counter) */
    /* and 96 tokens, out 264: with a threshold, the outlier product in that GEMM's epilogue on the tensor cores
       (bnbq_k_int8_wg_dqt_*: its work buffer holds 128 gathered columns a row) */
    if (!g_small)
        for (d = 1; d < 5; d++)
            for (v = 0; v < 2; v++) {
                static const kn sh = { 256, 72 }, sh2 = { 256, 264 };
                lcfg c = base_cfg(BNBQ_LINEAR_8BIT_LT, d < 3 ? sh : sh2, d < 3 ? 32 : 96, k_dts[1 + (d - 1) % 2]);
                c.thr = v ? 6.0f : 0.0f;
                c.int8_weights = 0;
                c.gw16 = 0;
                run_linear(&c);
            }
}

static void grp_linear_outlier_aware(void) {
    int s, t, d;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 3; d++) {
                lcfg c = base_cfg(BNBQ_LINEAR_OUTLIER_AWARE, SHAPE(s), TOK(t), k_dts[d]);
                c.backward = 0;
                c.bias = (s + t) % 2 == 0;
                run_linear(&c);
            }
}

static void grp_linear_switchback_bnb(void) {
    static const bnbq_dtype wdts[2] = { BNBQ_F16, BNBQ_F32 };
    int s, t, d, v;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 2; d++)
                for (v = 0; v < 4; v++) {
                    /* v: bit 0 threshold 6, bit 1 int8_weights */
                    lcfg c = base_cfg(BNBQ_LINEAR_SWITCHBACK_BNB, SHAPE(s), TOK(t), wdts[d]);
                    c.thr = (v & 1) ? 6.0f : 0.0f;
                    c.int8_weights = v >> 1;
                    c.bias = (s + t + v) % 2 == 0;
                    run_linear(&c);
                }
}

static void grp_linear_switchback(bnbq_linear_kind k) {
    int s, t, d, p;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 3; d++)
                for (p = 0; p < 2; p++) {
                    lcfg c = base_cfg(k, SHAPE(s), TOK(t), k_dts[d]);
                    c.bias = (s + t + d) % 3 != 1;
                    if (p) {   /* prepare_for_eval, eval mode: the kept int8 weight */
                        if (k == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF && d != 1) continue;
                        c.prepare = 1; c.training = 0; c.backward = 0;
                    }
                    if (d == 2 && s == 0) c.xdt = BNBQ_F32;   /* any float input */
                    run_linear(&c);
                }
}
static void grp_linear_switchback_global(void) { grp_linear_switchback(BNBQ_LINEAR_SWITCHBACK_GLOBAL); }
static void grp_linear_switchback_vectorwise(void) { grp_linear_switchback(BNBQ_LINEAR_SWITCHBACK_VECTORWISE); }
static void grp_linear_switchback_global_memeff(void) { grp_linear_switchback(BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF); }

static void grp_linear_fp8(bnbq_linear_kind k) {
    int s, t, d;
    for (s = 0; s < NSHAPES; s++)
        for (t = 0; t < NTOK; t++)
            for (d = 0; d < 3; d++) {
                lcfg c = base_cfg(k, SHAPE(s), TOK(t), k_dts[d]);
                c.bias = (s + t + d) % 2 == 0;
                c.training = t != 2;
                run_linear(&c);
            }
}
static void grp_linear_fp8_mixed(void) { grp_linear_fp8(BNBQ_LINEAR_FP8_MIXED); }
static void grp_linear_fp8_global(void) { grp_linear_fp8(BNBQ_LINEAR_FP8_GLOBAL); }

/* ================================================================================================ */
/* the research functions                                                                           */

typedef struct mnk { size_t M, N, K; } mnk;
static const mnk k_mnk[4] = { { 1, 33, 100 }, { 7, 64, 128 }, { 37, 300, 1000 }, { 130, 257, 513 } };
#define NMNK (g_small ? 2 : 4)

static void grp_research_fp8(int mixed) {
    float fw[256], bw[256];
    int s, d, bsz = 0, bsz2 = 0;
    if (bnbq_create_fp8_map(1, 4, 3, 8, fw) != BNBQ_SUCCESS || bnbq_create_fp8_map(1, 5, 2, 8, bw) != BNBQ_SUCCESS)
        fatal("bnbq_create_fp8_map");
    for (s = 0; s < NMNK; s++)
        for (d = 0; d < 3; d++) {
            bnbq_dtype dt = k_dts[d];
            size_t M = k_mnk[s].M, N = k_mnk[s].N, K = k_mnk[s].K, es = bnbq_dtype_size(dt), wsb = 0;
            void *hA, *hB, *hG, *ho, *hgA, *hgB, *hw, *dA, *dB, *dG, *dout, *dgA, *dgB, *dw;
            case_begin();
            label("matmul_fp8_%s %s M=%zu N=%zu K=%zu", mixed ? "mixed" : "global", bnbq_dtype_name(dt), M, N, K);
            if (bnbq_matmul_fp8_workspace_size(M, N, K, &wsb) != BNBQ_SUCCESS ||
                bnbq_fp8_block_sizes(K, N, &bsz, &bsz2) != BNBQ_SUCCESS)
                fatal("fp8 workspace size / block sizes");
            hA = rnd_dt(dt, M * K, 1.0f); hB = rnd_dt(dt, K * N, 0.1f); hG = rnd_dt(dt, M * N, 1.0f);
            dA = U(hA, M * K * es); dB = U(hB, K * N * es); dG = U(hG, M * N * es);
            hw = H(wsb); dw = D(wsb);
            ho = H(M * N * es); dout = D(M * N * es);
            hgA = H(M * K * es); dgA = D(M * K * es);
            hgB = H(K * N * es); dgB = D(K * N * es);
            if (mixed ? both("forward", bnbq_matmul_fp8_mixed(NULL, dt, hA, hB, M, N, K, fw, bsz, ho, hw, wsb),
                             bnbq_matmul_fp8_mixed(g_gex, dt, dA, dB, M, N, K, fw, bsz, dout, dw, wsb))
                      : both("forward", bnbq_matmul_fp8_global(NULL, dt, hA, hB, M, N, K, fw, ho, hw, wsb),
                             bnbq_matmul_fp8_global(g_gex, dt, dA, dB, M, N, K, fw, dout, dw, wsb)))
                within_tol("out", dt, ho, dout, M * N);
            if (mixed ? both("backward", bnbq_matmul_fp8_mixed_backward(NULL, dt, hA, hB, M, N, K, fw, bw, bsz2, hG, hgA, hgB, hw, wsb),
                             bnbq_matmul_fp8_mixed_backward(g_gex, dt, dA, dB, M, N, K, fw, bw, bsz2, dG, dgA, dgB, dw, wsb))
                      : both("backward", bnbq_matmul_fp8_global_backward(NULL, dt, hA, hB, M, N, K, fw, bw, hG, hgA, hgB, hw, wsb),
                             bnbq_matmul_fp8_global_backward(g_gex, dt, dA, dB, M, N, K, fw, bw, dG, dgA, dgB, dw, wsb))) {
                within_tol("grad_A", dt, hgA, dgA, M * K);
                within_tol("grad_B", dt, hgB, dgB, K * N);
            }
            /* steady state: the functions never allocate */
            counters_reset();
            if (mixed) bnbq_matmul_fp8_mixed(g_gex, dt, dA, dB, M, N, K, fw, bsz, dout, dw, wsb);
            else bnbq_matmul_fp8_global(g_gex, dt, dA, dB, M, N, K, fw, dout, dw, wsb);
            steady_check("forward");
            case_end();
        }
}
static void grp_research_matmul_fp8_mixed(void) { grp_research_fp8(1); }
static void grp_research_matmul_fp8_global(void) { grp_research_fp8(0); }

static void grp_research_switchback_bnb(void) {
    int s, v;
    for (s = 0; s < NMNK; s++)
        for (v = 0; v < 4; v++) {
            size_t M = k_mnk[s].M, N = k_mnk[s].N, K = k_mnk[s].K, wsb = 0;
            float thr = (v & 1) ? 6.0f : 0.0f;
            int bias = v >> 1;
            void *hA, *hW, *hb = NULL, *hG, *ho, *hgA, *hgW, *hgb, *hw;
            void *dA, *dW, *db = NULL, *dG, *dout, *dgA, *dgW, *dgb, *dw;
            case_begin();
            label("switchback_bnb M=%zu N=%zu K=%zu threshold=%g bias=%d", M, N, K, (double)thr, bias);
            if (bnbq_switchback_bnb_workspace_size(M, N, K, &wsb) != BNBQ_SUCCESS) fatal("switchback_bnb workspace size");
            hA = rnd_x(BNBQ_F16, M, K, thr > 0.0f); hW = rnd_dt(BNBQ_F16, N * K, 0.1f); hG = rnd_dt(BNBQ_F16, M * N, 1.0f);
            dA = U(hA, M * K * 2); dW = U(hW, N * K * 2); dG = U(hG, M * N * 2);
            if (bias) { hb = rnd_dt(BNBQ_F16, N, 0.5f); db = U(hb, N * 2); }
            hw = H(wsb); dw = D(wsb);
            ho = H(M * N * 2); dout = D(M * N * 2);
            hgA = H(M * K * 2); dgA = D(M * K * 2);
            hgW = H(N * K * 2); dgW = D(N * K * 2);
            hgb = H(N * 2); dgb = D(N * 2);
            if (both("forward", bnbq_switchback_bnb(NULL, (uint16_t*)hA, (uint16_t*)hW, M, N, K, thr, (uint16_t*)hb, (uint16_t*)ho, hw, wsb),
                     bnbq_switchback_bnb(g_gex, (uint16_t*)dA, (uint16_t*)dW, M, N, K, thr, (uint16_t*)db, (uint16_t*)dout, dw, wsb)))
                cmp("out", thr == 0.0f, BNBQ_F16, ho, dout, M * N);   /* threshold 0: int8 only, bias fused */
            if (both("backward", bnbq_switchback_bnb_backward(NULL, (uint16_t*)hA, (uint16_t*)hW, M, N, K, thr, (uint16_t*)hG,
                                                             (uint16_t*)hgA, (uint16_t*)hgW, (uint16_t*)hgb, hw, wsb),
                     bnbq_switchback_bnb_backward(g_gex, (uint16_t*)dA, (uint16_t*)dW, M, N, K, thr, (uint16_t*)dG,
                                                  (uint16_t*)dgA, (uint16_t*)dgW, (uint16_t*)dgb, dw, wsb))) {
                within_tol("grad_A", BNBQ_F16, hgA, dgA, M * K);
                within_tol("grad_W", BNBQ_F16, hgW, dgW, N * K);
                within_tol("grad_bias", BNBQ_F16, hgb, dgb, N);
            }
            counters_reset();
            bnbq_switchback_bnb(g_gex, (uint16_t*)dA, (uint16_t*)dW, M, N, K, thr, (uint16_t*)db, (uint16_t*)dout, dw, wsb);
            steady_check("forward");
            case_end();
        }
}

/* ================================================================================================ */
/* the embeddings                                                                                   */

typedef struct ecfg {
    bnbq_embedding_kind kind;
    size_t num, dim, count;
    bnbq_dtype dt;
    int padding, freq;
    float max_norm;
    bnbq_quant_type qt;
} ecfg;

static const char* ekind_name(bnbq_embedding_kind k) {
    static const char* names[6] = { "embedding", "stable", "4bit", "fp4", "nf4", "8bit" };
    return ((int)k >= 0 && (int)k < 6) ? names[k] : "?";
}

static void run_embedding(const ecfg* c) {
    bnbq_embedding Ec, Eg;
    bnbq_embedding_desc d;
    size_t num = c->num, dim = c->dim, cnt = c->count, es = bnbq_dtype_size(c->dt), n = num * dim;
    int trainable = c->kind == BNBQ_EMBEDDING || c->kind == BNBQ_EMBEDDING_STABLE;
    int stable = c->kind == BNBQ_EMBEDDING_STABLE;
    int32_t* hi;
    void *hw, *di, *ho, *dout, *dout2;
    bnbq_result rc, rg;
    memset(&d, 0, sizeof d);
    d.kind = c->kind; d.num_embeddings = num; d.embedding_dim = dim; d.dtype = c->dt; d.seed = 99 + num + dim;
    d.padding_idx_set = c->padding; d.padding_idx = c->padding ? -2 : 0;
    d.scale_grad_by_freq = c->freq; d.max_norm = c->max_norm; d.quant_type = c->qt;
    case_begin();
    label("%s %s num=%zu dim=%zu count=%zu%s%s%s%s", ekind_name(c->kind), bnbq_dtype_name(c->dt), num, dim, cnt,
          c->padding ? " padding_idx=-2" : "", c->freq ? " scale_grad_by_freq" : "", c->max_norm > 0 ? " max_norm" : "",
          c->kind == BNBQ_EMBEDDING_4BIT ? (c->qt == BNBQ_NF4 ? " quant_type=nf4" : " quant_type=fp4") : "");
    rc = bnbq_embedding_init(NULL, &Ec, &d);
    rg = bnbq_embedding_init(g_gex, &Eg, &d);
    if (!both("init", rc, rg)) {
        if (rc == BNBQ_SUCCESS) bnbq_embedding_uninit(NULL, &Ec);
        if (rg == BNBQ_SUCCESS) bnbq_embedding_uninit(g_gex, &Eg);
        case_end();
        return;
    }
    exact("initial table", Ec.weight, Eg.weight, n, c->dt);
    if (stable) {
        exact("initial norm weight", Ec.norm_weight, Eg.norm_weight, dim, BNBQ_F32);
        exact("initial norm bias", Ec.norm_bias, Eg.norm_bias, dim, BNBQ_F32);
    }
    hw = rnd_dt(c->dt, n, 1.0f);
    if (!both("set_weight", bnbq_embedding_set_weight(NULL, &Ec, hw), bnbq_embedding_set_weight(g_gex, &Eg, hw))) goto done;
    if (!trainable) {
        if (!both("quantize", bnbq_embedding_quantize(NULL, &Ec), bnbq_embedding_quantize(g_gex, &Eg))) goto done;
        if (c->kind == BNBQ_EMBEDDING_8BIT) {
            exact("CB", Ec.CB, Eg.CB, n, BNBQ_I8);
            exact("SCB", Ec.SCB, Eg.SCB, num, BNBQ_F32);
        } else {
            exact("packed", Ec.packed, Eg.packed, (n + 1) / 2, BNBQ_U8);
            exact("absmax", Ec.absmax, Eg.absmax, (n + 63) / 64, BNBQ_F32);
        }
    }
    hi = rnd_idx(cnt, num);
    if (c->padding && cnt > 3) hi[3] = (int32_t)(num - 2);
    di = U(hi, cnt * 4);
    ho = H(cnt * dim * es);
    dout = D(cnt * dim * es);
    dout2 = D(cnt * dim * es);
    if (!both("forward", bnbq_embedding_forward(NULL, &Ec, hi, cnt, ho), bnbq_embedding_forward(g_gex, &Eg, (int32_t*)di, cnt, dout)))
        goto done;
    cmp("out", !stable && c->max_norm == 0.0f, c->dt, ho, dout, cnt * dim);
    if (c->max_norm > 0.0f) within_tol("table after max_norm", c->dt, Ec.weight, Eg.weight, n);
    counters_reset();
    rg = bnbq_embedding_forward(g_gex, &Eg, (int32_t*)di, cnt, dout2);
    steady_check("forward");
    if (rg != BNBQ_SUCCESS) case_fail("second forward: %s", bnbq_result_name(rg));
    else if (bnbq_sync(g_gex) == BNBQ_SUCCESS && c->max_norm == 0.0f) same_gpu("out", dout, dout2, cnt * dim * es);
    if (trainable) {
        void *hg = rnd_dt(c->dt, cnt * dim, 1.0f), *dg = U(hg, cnt * dim * es);
        if (both("backward", bnbq_embedding_backward(NULL, &Ec, hi, cnt, hg), bnbq_embedding_backward(g_gex, &Eg, (int32_t*)di, cnt, dg))) {
            within_tol("grad_weight", c->dt, Ec.grad_weight, Eg.grad_weight, n);
            if (stable) {
                within_tol("grad_norm_weight", BNBQ_F32, Ec.grad_norm_weight, Eg.grad_norm_weight, dim);
                within_tol("grad_norm_bias", BNBQ_F32, Ec.grad_norm_bias, Eg.grad_norm_bias, dim);
            }
            counters_reset();
            rg = bnbq_embedding_backward(g_gex, &Eg, (int32_t*)di, cnt, dg);
            steady_check("backward");
            if (rg != BNBQ_SUCCESS) case_fail("second backward: %s", bnbq_result_name(rg));
        }
    } else {
        void* dg = D(cnt * dim * es);
        rc = bnbq_embedding_backward(NULL, &Ec, hi, cnt, ho);
        rg = bnbq_embedding_backward(g_gex, &Eg, (int32_t*)di, cnt, dg);
        if (rc != BNBQ_ERROR_NOT_SUPPORTED || rg != rc)
            case_fail("backward of a quantized embedding: CPU %s, GPU %s (want NOT_SUPPORTED)", bnbq_result_name(rc),
                      bnbq_result_name(rg));
    }
done:
    bnbq_sync(g_gex);
    bnbq_embedding_uninit(NULL, &Ec);
    bnbq_embedding_uninit(g_gex, &Eg);
    case_end();
}

typedef struct ed { size_t num, dim; } ed;
static const ed k_ed_full[3] = { { 50, 64 }, { 37, 33 }, { 1000, 300 } };
static const ed k_ed_small[2] = { { 50, 64 }, { 37, 33 } };
static const size_t k_cnt_full[3] = { 1, 37, 512 };
static const size_t k_cnt_small[2] = { 1, 37 };

static void grp_embedding_kind(bnbq_embedding_kind k) {
    int s, t, dd, v;
    int ns = g_small ? 2 : 3, nt = g_small ? 2 : 3;
    int nv = k == BNBQ_EMBEDDING ? 4 : k == BNBQ_EMBEDDING_STABLE ? 3 : k == BNBQ_EMBEDDING_4BIT ? 2 : 1;
    for (s = 0; s < ns; s++)
        for (t = 0; t < nt; t++)
            for (dd = 0; dd < 3; dd++)
                for (v = 0; v < nv; v++) {
                    ecfg c;
                    ed sh = g_small ? k_ed_small[s] : k_ed_full[s];
                    memset(&c, 0, sizeof c);
                    c.kind = k; c.num = sh.num; c.dim = sh.dim; c.dt = k_dts[dd];
                    c.count = g_small ? k_cnt_small[t] : k_cnt_full[t];
                    if (k == BNBQ_EMBEDDING_4BIT) c.qt = v ? BNBQ_NF4 : BNBQ_FP4;
                    else if (v == 1) { c.padding = 1; c.freq = 1; }
                    else if (v == 2) c.max_norm = (float)(0.9 * sqrt((double)sh.dim));   /* about half the rows scaled */
                    else if (v == 3) { c.padding = 1; c.max_norm = (float)sqrt((double)sh.dim); }
                    run_embedding(&c);
                }
}
static void grp_embedding(void) { grp_embedding_kind(BNBQ_EMBEDDING); }
static void grp_embedding_stable(void) { grp_embedding_kind(BNBQ_EMBEDDING_STABLE); }
static void grp_embedding_4bit(void) { grp_embedding_kind(BNBQ_EMBEDDING_4BIT); }
static void grp_embedding_fp4(void) { grp_embedding_kind(BNBQ_EMBEDDING_FP4); }
static void grp_embedding_nf4(void) { grp_embedding_kind(BNBQ_EMBEDDING_NF4); }
static void grp_embedding_8bit(void) { grp_embedding_kind(BNBQ_EMBEDDING_8BIT); }

/* ================================================================================================ */
/* bad input through the GPU exec: the CPU's result codes                                           */

/* ---- checkpoints (>>io) on a CUDA exec ---------------------------------------------------------
   A layer quantized on the GPU and one quantized on the CPU from the same weights save the same
   safetensors bytes; the GPU file loaded into a fresh GPU layer and into a fresh CPU layer gives
   forwards identical to the originals' (same backend, same bytes). */
static void* st_bytes(bnbq_exec* ex, const bnbq_linear* L, size_t* n) {
    bnbq_st_writer w;
    void* buf = NULL;
    size_t cap = 0;
    *n = 0;
    if (bnbq_st_writer_init(ex, &w) != BNBQ_SUCCESS) return NULL;
    if (bnbq_linear_save(ex, L, "model.layer", BNBQ_ST_U8, &w) == BNBQ_SUCCESS &&
        bnbq_st_writer_size(ex, &w, &cap) == BNBQ_SUCCESS) {
        buf = H(cap);
        if (bnbq_st_writer_write(ex, &w, buf, cap, n) != BNBQ_SUCCESS) buf = NULL;
    }
    bnbq_st_writer_uninit(ex, &w);
    return buf;
}

static void grp_checkpoint(void) {
    static const bnbq_linear_kind kinds[3] = { BNBQ_LINEAR_NF4, BNBQ_LINEAR_FP4, BNBQ_LINEAR_8BIT_LT };
    int k;
    for (k = 0; k < 3; k++) {
        const size_t K = 256, N = 96, T = 5;
        bnbq_linear Lc, Lg, Lg2, Lc2;
        bnbq_linear_desc d;
        bnbq_st_reader rd;
        size_t nc = 0, ng = 0, ob = T * N * 2;
        void *fc, *fg, *x, *dx, *oc, *oc2, *og, *og2;
        bnbq_result r;
        case_begin();
        label("%s K=%zu N=%zu", k == 2 ? "8bit_lt thr6" : k ? "fp4" : "nf4", K, N);
        memset(&d, 0, sizeof d);
        d.kind = kinds[k]; d.in_features = K; d.out_features = N; d.weight_dtype = BNBQ_F16;
        d.seed = 11; d.int8_weights = k == 2; d.threshold = k == 2 ? 6.0f : 0.0f;
        memset(&Lc, 0, sizeof Lc); memset(&Lg, 0, sizeof Lg);
        memset(&Lc2, 0, sizeof Lc2); memset(&Lg2, 0, sizeof Lg2);
        memset(&rd, 0, sizeof rd);
        if (bnbq_linear_init(NULL, &Lc, &d) != BNBQ_SUCCESS || bnbq_linear_init(g_gex, &Lg, &d) != BNBQ_SUCCESS ||
            bnbq_linear_init(NULL, &Lc2, &d) != BNBQ_SUCCESS || bnbq_linear_init(g_gex, &Lg2, &d) != BNBQ_SUCCESS)
            fatal("checkpoint: linear init");
        if ((r = bnbq_linear_quantize(NULL, &Lc)) != BNBQ_SUCCESS || (r = bnbq_linear_quantize(g_gex, &Lg)) != BNBQ_SUCCESS) {
            case_fail("quantize: %s", bnbq_result_name(r));
            goto done;
        }
        fc = st_bytes(NULL, &Lc, &nc);
        fg = st_bytes(g_gex, &Lg, &ng);
        if (!fc || !fg) { case_fail("save failed (CPU %p, GPU %p)", fc, fg); goto done; }
        if (nc != ng || memcmp(fc, fg, nc) != 0) case_fail("the GPU layer's file differs from the CPU layer's (%zu vs %zu bytes)", ng, nc);
        if ((r = bnbq_st_reader_init(NULL, &rd, fg, ng)) != BNBQ_SUCCESS) { case_fail("reader: %s", bnbq_result_name(r)); goto done; }
        if ((r = bnbq_linear_load(g_gex, &Lg2, &rd, "model.layer")) != BNBQ_SUCCESS ||
            (r = bnbq_linear_load(NULL, &Lc2, &rd, "model.layer")) != BNBQ_SUCCESS) {
            case_fail("load: %s", bnbq_result_name(r));
            goto done;
        }
        x = rnd_x(BNBQ_F16, T, K, k == 2);
        dx = U(x, T * K * 2);
        oc = H(ob); oc2 = H(ob); og = D(ob); og2 = D(ob);
        if (bnbq_linear_forward(NULL, &Lc, BNBQ_F16, x, T, oc) != BNBQ_SUCCESS ||
            bnbq_linear_forward(NULL, &Lc2, BNBQ_F16, x, T, oc2) != BNBQ_SUCCESS ||
            bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, T, og) != BNBQ_SUCCESS ||
            bnbq_linear_forward(g_gex, &Lg2, BNBQ_F16, dx, T, og2) != BNBQ_SUCCESS) {
            case_fail("a forward failed");
            goto done;
        }
        if (memcmp(oc, oc2, ob) != 0) case_fail("CPU: the layer loaded from the GPU's file computes other bytes");
        same_gpu("out (reloaded GPU layer)", og, og2, ob);
    done:
        bnbq_st_reader_uninit(NULL, &rd);
        bnbq_sync(g_gex);
        bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(NULL, &Lc2);
        bnbq_linear_uninit(g_gex, &Lg); bnbq_linear_uninit(g_gex, &Lg2);
        case_end();
    }
}

static void expect(const char* what, bnbq_result rc, bnbq_result rg, bnbq_result want) {
    bnbq_result rs;
    O.exact_cmp++;
    if (rc != want || rg != want)
        case_fail("%s: CPU %s, GPU %s (want %s)", what, bnbq_result_name(rc), bnbq_result_name(rg), bnbq_result_name(want));
    rs = bnbq_sync(g_gex);
    if (rs != BNBQ_SUCCESS) case_fail("%s: the GPU exec's next bnbq_sync returned %s", what, bnbq_result_name(rs));
}

static void init_pair(bnbq_linear* Lc, bnbq_linear* Lg, bnbq_linear_kind k, size_t K, size_t N, bnbq_dtype wdt, int int8w) {
    bnbq_linear_desc d;
    memset(&d, 0, sizeof d);
    d.kind = k; d.in_features = K; d.out_features = N; d.weight_dtype = wdt; d.seed = 5; d.int8_weights = int8w;
    if (bnbq_linear_init(NULL, Lc, &d) != BNBQ_SUCCESS || bnbq_linear_init(g_gex, Lg, &d) != BNBQ_SUCCESS)
        fatal("bad_input: linear init");
}

static void grp_bad_input(void) {
    bnbq_linear Lc, Lg;
    bnbq_embedding Ec, Eg;
    bnbq_embedding_desc ed_;
    size_t K = 64, N = 32, T = 3;
    void *hx, *dx, *ho, *dout, *hg, *dg;
    int32_t* hi;
    void* di;
    bnbq_result rc, rg;
    /* (each case frees its buffers at case_end: every case makes its own) */
#define BAD_BUFS() do { hx = rnd_dt(BNBQ_F16, T * K, 1.0f); ho = H(T * N * 4); hg = rnd_dt(BNBQ_F16, T * N, 1.0f); \
        hi = rnd_idx(4, 10); dx = U(hx, T * K * 2); dout = D(T * N * 4); dg = U(hg, T * N * 2); } while (0)
    case_begin();
    label("linear");
    BAD_BUFS();
    /* 4-bit before quantize */
    init_pair(&Lc, &Lg, BNBQ_LINEAR_NF4, K, N, BNBQ_F16, 0);
    expect("Linear4bit forward before quantize", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, hx, T, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, T, dout), BNBQ_ERROR_INVALID_ARGS);
    if (bnbq_linear_quantize(NULL, &Lc) != BNBQ_SUCCESS || bnbq_linear_quantize(g_gex, &Lg) != BNBQ_SUCCESS)
        fatal("bad_input: quantize");
    expect("forward x NULL", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, NULL, T, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, NULL, T, dout), BNBQ_ERROR_NULL_POINTER);
    expect("forward out NULL", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, hx, T, NULL),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, T, NULL), BNBQ_ERROR_NULL_POINTER);
    expect("forward tokens 0", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, hx, 0, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, 0, dout), BNBQ_ERROR_BAD_SHAPE);
    expect("forward layer NULL", bnbq_linear_forward(NULL, NULL, BNBQ_F16, hx, T, ho),
           bnbq_linear_forward(g_gex, NULL, BNBQ_F16, dx, T, dout), BNBQ_ERROR_NULL_POINTER);
    expect("forward x_dt I8", bnbq_linear_forward(NULL, &Lc, BNBQ_I8, hx, T, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_I8, dx, T, dout), BNBQ_ERROR_BAD_DTYPE);
    expect("backward grad_out NULL", bnbq_linear_backward(NULL, &Lc, BNBQ_F16, hx, T, NULL, NULL),
           bnbq_linear_backward(g_gex, &Lg, BNBQ_F16, dx, T, NULL, NULL), BNBQ_ERROR_NULL_POINTER);
    expect("set_weight NULL", bnbq_linear_set_weight(NULL, &Lc, NULL, NULL), bnbq_linear_set_weight(g_gex, &Lg, NULL, NULL),
           BNBQ_ERROR_NULL_POINTER);
    bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(g_gex, &Lg);
    /* StandardLinear: x of another dtype; quantize: NOT_SUPPORTED */
    init_pair(&Lc, &Lg, BNBQ_LINEAR_STANDARD, K, N, BNBQ_F32, 0);
    expect("StandardLinear x f16 with f32 weights", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, hx, T, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, T, dout), BNBQ_ERROR_BAD_DTYPE);
    expect("StandardLinear quantize", bnbq_linear_quantize(NULL, &Lc), bnbq_linear_quantize(g_gex, &Lg), BNBQ_ERROR_NOT_SUPPORTED);
    bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(g_gex, &Lg);
    /* Linear8bitLt with int8 weights before quantize; backward before any forward */
    init_pair(&Lc, &Lg, BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F16, 1);
    expect("Linear8bitLt int8_weights forward before quantize", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, hx, T, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, T, dout), BNBQ_ERROR_INVALID_ARGS);
    bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(g_gex, &Lg);
    init_pair(&Lc, &Lg, BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F16, 0);
    expect("Linear8bitLt backward before forward", bnbq_linear_backward(NULL, &Lc, BNBQ_F16, hx, T, hg, NULL),
           bnbq_linear_backward(g_gex, &Lg, BNBQ_F16, dx, T, dg, NULL), BNBQ_ERROR_INVALID_ARGS);
    bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(g_gex, &Lg);
    /* memory-efficient SwitchBack backward without a saved forward; prepared SwitchBack backward */
    init_pair(&Lc, &Lg, BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF, K, N, BNBQ_F16, 0);
    expect("SwitchBack mem-efficient backward without a forward", bnbq_linear_backward(NULL, &Lc, BNBQ_F16, hx, T, hg, NULL),
           bnbq_linear_backward(g_gex, &Lg, BNBQ_F16, dx, T, dg, NULL), BNBQ_ERROR_INVALID_ARGS);
    bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(g_gex, &Lg);
    init_pair(&Lc, &Lg, BNBQ_LINEAR_SWITCHBACK_GLOBAL, K, N, BNBQ_F16, 0);
    if (bnbq_linear_prepare_for_eval(NULL, &Lc) != BNBQ_SUCCESS || bnbq_linear_prepare_for_eval(g_gex, &Lg) != BNBQ_SUCCESS)
        fatal("bad_input: prepare_for_eval");
    expect("SwitchBack backward after prepare_for_eval", bnbq_linear_backward(NULL, &Lc, BNBQ_F16, hx, T, hg, NULL),
           bnbq_linear_backward(g_gex, &Lg, BNBQ_F16, dx, T, dg, NULL), BNBQ_ERROR_INVALID_ARGS);
    expect("SwitchBack training forward after prepare_for_eval", bnbq_linear_forward(NULL, &Lc, BNBQ_F16, hx, T, ho),
           bnbq_linear_forward(g_gex, &Lg, BNBQ_F16, dx, T, dout), BNBQ_ERROR_INVALID_ARGS);
    bnbq_linear_uninit(NULL, &Lc); bnbq_linear_uninit(g_gex, &Lg);
    {
        bnbq_linear_desc d;
        memset(&d, 0, sizeof d);
        d.kind = BNBQ_LINEAR_NF4; d.in_features = K; d.out_features = N; d.blocksize = 8192;
        rc = bnbq_linear_init(NULL, &Lc, &d);
        rg = bnbq_linear_init(g_gex, &Lg, &d);
        /* blocksize 8192: the CPU allows it, a backend does not */
        O.exact_cmp++;
        if (rc != BNBQ_SUCCESS || rg != (g_plumbing ? BNBQ_SUCCESS : BNBQ_ERROR_BAD_BLOCKSIZE))
            case_fail("Linear4bit blocksize 8192: CPU %s (want SUCCESS), GPU %s (want BAD_BLOCKSIZE)", bnbq_result_name(rc),
                      bnbq_result_name(rg));
        if (rc == BNBQ_SUCCESS) bnbq_linear_uninit(NULL, &Lc);
        if (rg == BNBQ_SUCCESS) bnbq_linear_uninit(g_gex, &Lg);
        expect("linear init desc NULL", bnbq_linear_init(NULL, &Lc, NULL), bnbq_linear_init(g_gex, &Lg, NULL), BNBQ_ERROR_NULL_POINTER);
    }
    case_end();

    /* research functions */
    case_begin();
    label("research");
    BAD_BUFS();
    {
        float fw[256];
        size_t wsb = 0;
        void *hw, *dw;
        bnbq_create_fp8_map(1, 4, 3, 8, fw);
        bnbq_matmul_fp8_workspace_size(T, N, K, &wsb);
        hw = H(wsb); dw = D(wsb);
        {
            void *hB = rnd_dt(BNBQ_F16, K * N, 1.0f), *dB = U(hB, K * N * 2);
            expect("matmul_fp8_mixed work too small", bnbq_matmul_fp8_mixed(NULL, BNBQ_F16, hx, hB, T, N, K, fw, 64, ho, hw, wsb - 1),
                   bnbq_matmul_fp8_mixed(g_gex, BNBQ_F16, dx, dB, T, N, K, fw, 64, dout, dw, wsb - 1), BNBQ_ERROR_INVALID_ARGS);
            expect("matmul_fp8_global A NULL", bnbq_matmul_fp8_global(NULL, BNBQ_F16, NULL, hB, T, N, K, fw, ho, hw, wsb),
                   bnbq_matmul_fp8_global(g_gex, BNBQ_F16, NULL, dB, T, N, K, fw, dout, dw, wsb), BNBQ_ERROR_NULL_POINTER);
            expect("matmul_fp8_mixed M 0", bnbq_matmul_fp8_mixed(NULL, BNBQ_F16, hx, hB, 0, N, K, fw, 64, ho, hw, wsb),
                   bnbq_matmul_fp8_mixed(g_gex, BNBQ_F16, dx, dB, 0, N, K, fw, 64, dout, dw, wsb), BNBQ_ERROR_BAD_SHAPE);
        }
        bnbq_switchback_bnb_workspace_size(T, N, K, &wsb);
        hw = H(wsb); dw = D(wsb);
        {
            void *hW = rnd_dt(BNBQ_F16, N * K, 1.0f), *dW = U(hW, N * K * 2);
            expect("switchback_bnb A NULL", bnbq_switchback_bnb(NULL, NULL, (uint16_t*)hW, T, N, K, 0.0f, NULL, (uint16_t*)ho, hw, wsb),
                   bnbq_switchback_bnb(g_gex, NULL, (uint16_t*)dW, T, N, K, 0.0f, NULL, (uint16_t*)dout, dw, wsb),
                   BNBQ_ERROR_NULL_POINTER);
            expect("switchback_bnb threshold -1", bnbq_switchback_bnb(NULL, (uint16_t*)hx, (uint16_t*)hW, T, N, K, -1.0f, NULL, (uint16_t*)ho, hw, wsb),
                   bnbq_switchback_bnb(g_gex, (uint16_t*)dx, (uint16_t*)dW, T, N, K, -1.0f, NULL, (uint16_t*)dout, dw, wsb),
                   BNBQ_ERROR_INVALID_ARGS);
        }
    }
    case_end();

    /* embeddings */
    case_begin();
    label("embedding");
    BAD_BUFS();
    (void)dg;
    memset(&ed_, 0, sizeof ed_);
    ed_.kind = BNBQ_EMBEDDING_8BIT; ed_.num_embeddings = 10; ed_.embedding_dim = 16; ed_.dtype = BNBQ_F16;
    if (bnbq_embedding_init(NULL, &Ec, &ed_) != BNBQ_SUCCESS || bnbq_embedding_init(g_gex, &Eg, &ed_) != BNBQ_SUCCESS)
        fatal("bad_input: embedding init");
    di = U(hi, 4 * 4);
    expect("Embedding8bit forward before quantize", bnbq_embedding_forward(NULL, &Ec, hi, 4, ho),
           bnbq_embedding_forward(g_gex, &Eg, (int32_t*)di, 4, dout), BNBQ_ERROR_INVALID_ARGS);
    bnbq_embedding_uninit(NULL, &Ec); bnbq_embedding_uninit(g_gex, &Eg);
    ed_.kind = BNBQ_EMBEDDING_NF4;
    if (bnbq_embedding_init(NULL, &Ec, &ed_) != BNBQ_SUCCESS || bnbq_embedding_init(g_gex, &Eg, &ed_) != BNBQ_SUCCESS)
        fatal("bad_input: embedding init");
    expect("Embedding4bit forward before quantize", bnbq_embedding_forward(NULL, &Ec, hi, 4, ho),
           bnbq_embedding_forward(g_gex, &Eg, (int32_t*)di, 4, dout), BNBQ_ERROR_INVALID_ARGS);
    bnbq_embedding_uninit(NULL, &Ec); bnbq_embedding_uninit(g_gex, &Eg);
    ed_.kind = BNBQ_EMBEDDING;
    if (bnbq_embedding_init(NULL, &Ec, &ed_) != BNBQ_SUCCESS || bnbq_embedding_init(g_gex, &Eg, &ed_) != BNBQ_SUCCESS)
        fatal("bad_input: embedding init");
    expect("embedding forward count 0", bnbq_embedding_forward(NULL, &Ec, hi, 0, ho),
           bnbq_embedding_forward(g_gex, &Eg, (int32_t*)di, 0, dout), BNBQ_ERROR_BAD_SHAPE);
    expect("embedding forward idx NULL", bnbq_embedding_forward(NULL, &Ec, NULL, 4, ho),
           bnbq_embedding_forward(g_gex, &Eg, NULL, 4, dout), BNBQ_ERROR_NULL_POINTER);
    expect("embedding quantize", bnbq_embedding_quantize(NULL, &Ec), bnbq_embedding_quantize(g_gex, &Eg), BNBQ_ERROR_NOT_SUPPORTED);
    expect("embedding init desc NULL", bnbq_embedding_init(NULL, NULL, &ed_), bnbq_embedding_init(g_gex, NULL, &ed_),
           BNBQ_ERROR_NULL_POINTER);
    /* an index out of range: the CPU fails the call; the GPU zeroes the row and its next
       bnbq_sync reports it (a CPU exec standing in for the GPU fails the call) */
    {
        int32_t bad[4];
        void* dbad;
        memcpy(bad, hi, sizeof bad);
        bad[2] = 10;
        dbad = U(bad, sizeof bad);
        rc = bnbq_embedding_forward(NULL, &Ec, bad, 4, ho);
        rg = bnbq_embedding_forward(g_gex, &Eg, (int32_t*)dbad, 4, dout);
        O.exact_cmp++;
        if (rc != BNBQ_ERROR_INVALID_ARGS) case_fail("index out of range: CPU %s (want INVALID_ARGS)", bnbq_result_name(rc));
        if (rg == BNBQ_SUCCESS) {
            bnbq_result rs = bnbq_sync(g_gex);
            if (rs != BNBQ_ERROR_INVALID_ARGS)
                case_fail("index out of range: the GPU's next bnbq_sync returned %s (want INVALID_ARGS)", bnbq_result_name(rs));
            rs = bnbq_sync(g_gex);
            if (rs != BNBQ_SUCCESS) case_fail("index out of range: the error stayed sticky (second bnbq_sync %s)", bnbq_result_name(rs));
        } else if (rg != BNBQ_ERROR_INVALID_ARGS) {
            case_fail("index out of range: GPU forward returned %s", bnbq_result_name(rg));
        }
        /* the embedding still works afterwards */
        rg = bnbq_embedding_forward(g_gex, &Eg, (int32_t*)di, 4, dout);
        if (rg == BNBQ_SUCCESS) rg = bnbq_sync(g_gex);
        if (rg != BNBQ_SUCCESS) case_fail("a good forward after the index error: %s", bnbq_result_name(rg));
    }
    bnbq_embedding_uninit(NULL, &Ec); bnbq_embedding_uninit(g_gex, &Eg);
    case_end();
#undef BAD_BUFS
}

/* ================================================================================================ */

typedef struct grpdef { const char* name; void (*fn)(void); } grpdef;
static const grpdef k_groups[] = {
    { "linear_standard", grp_linear_standard },
    { "linear_4bit", grp_linear_4bit },
    { "linear_fp4", grp_linear_fp4 },
    { "linear_nf4", grp_linear_nf4 },
    { "linear_8bit_lt", grp_linear_8bit_lt },
    { "linear_outlier_aware", grp_linear_outlier_aware },
    { "linear_switchback_bnb", grp_linear_switchback_bnb },
    { "linear_switchback_global", grp_linear_switchback_global },
    { "linear_switchback_vectorwise", grp_linear_switchback_vectorwise },
    { "linear_switchback_global_memeff", grp_linear_switchback_global_memeff },
    { "linear_fp8_mixed", grp_linear_fp8_mixed },
    { "linear_fp8_global", grp_linear_fp8_global },
    { "research_matmul_fp8_mixed", grp_research_matmul_fp8_mixed },
    { "research_matmul_fp8_global", grp_research_matmul_fp8_global },
    { "research_switchback_bnb", grp_research_switchback_bnb },
    { "embedding", grp_embedding },
    { "embedding_stable", grp_embedding_stable },
    { "embedding_4bit", grp_embedding_4bit },
    { "embedding_fp4", grp_embedding_fp4 },
    { "embedding_nf4", grp_embedding_nf4 },
    { "embedding_8bit", grp_embedding_8bit },
    { "checkpoint", grp_checkpoint },
    { "bad_input", grp_bad_input },
};
#define NGROUPS ((int)(sizeof k_groups / sizeof k_groups[0]))

static void run_group(int i) {
    double t0 = now_s();
    memset(&O, 0, sizeof O);
    O.name = k_groups[i].name;
    k_groups[i].fn();
    if (O.cases > 0 && O.failed_cases == 0) {
        g_passed++;
        printf("ok %s: %d cases, %.3g elements; %d byte-identical comparisons, %d within tolerance (max relative L2 "
               "%.2g; %d of them byte-identical); %d steady-state steps without allocation or synchronisation; %.1f s\n",
               O.name, O.cases, O.elements, O.exact_cmp, O.tol_cmp, O.max_rel, O.tol_identical, O.steady, now_s() - t0);
    } else {
        g_failed++;
        printf("FAIL %s: %d of %d cases fail; first: %s\n", O.name, O.failed_cases, O.cases,
               O.cases ? O.first : "no cases ran");
    }
    fflush(stdout);
}

static int make_tmpdir(char* out, size_t cap) {
    const char* base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(out, cap, "%s/bnbq_test_gpu_layers_XXXXXX", base);
    return mkdtemp(out) != NULL;
}

int main(int argc, char** argv) {
    bnbq_cuda_desc d;
    bnbq_cuda_device_info info;
    bnbq_result r;
    int a, i, nfilters = 0;
    double t0 = now_s();
    const char* dir_arg = NULL;
    tier_env_default();   /* full builds unless --tier says otherwise: gpu-test's default */
    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--small")) g_small = 1;
        else if (!strcmp(argv[a], "-v")) g_verbose = 1;
        else if (!strcmp(argv[a], "--cache-dir") && a + 1 < argc) dir_arg = argv[++a];
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc) g_seed = strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--fake-plumbing")) g_plumbing = 1;   /* tests/test_cuda.sh only */
        else if (!strcmp(argv[a], "--tier") && a + 1 < argc) {   /* tiered compilation (tests/tier_env.h) */
            if (tier_env_set("test_gpu_layers", argv[++a])) return 2;
        }
        else if (argv[a][0] == '-') {
            fprintf(stderr, "usage: test_gpu_layers [--small] [--tier off|fast|on] [--cache-dir DIR] [--seed N] [-v] [group ...]\n");
            return 2;
        } else nfilters++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (dir_arg) snprintf(g_cache_dir, sizeof g_cache_dir, "%s", dir_arg);
    else if (make_tmpdir(g_cache_dir, sizeof g_cache_dir)) g_own_cache_dir = 1;
    else g_cache_dir[0] = 0;
    memset(&d, 0, sizeof d);
    d.cache_dir = g_cache_dir[0] ? g_cache_dir : NULL;
    d.disable_disk_cache = g_cache_dir[0] == 0;
    d.allocator.alloc_fn = cnt_alloc;
    d.allocator.free_fn = cnt_free;
    r = bnbq_cuda_init(&d, &g_ctx);
    if (r == BNBQ_ERROR_NO_DRIVER || r == BNBQ_ERROR_NO_DEVICE) {
        printf("SKIP test_gpu_layers: no GPU: %s (%s)\n", bnbq_result_description(r), bnbq_result_name(r));
        printf("0 passed, 0 failed, 1 skipped\n");
        if (g_own_cache_dir) rm_tree(g_cache_dir);
        return 0;
    }
    if (r != BNBQ_SUCCESS) {
        printf("FAIL init: bnbq_cuda_init: %s (%s)\n0 passed, 1 failed\n", bnbq_result_description(r), bnbq_result_name(r));
        if (g_own_cache_dir) rm_tree(g_cache_dir);
        return 1;
    }
    bnbq_cuda_exec_init(g_ctx, NULL, &g_cex);
    bnbq_cuda_query_device(g_ctx, &info);
    if (g_plumbing) {
        /* the fake driver runs no kernels: a CPU exec with the counting allocator stands in */
        bnbq_cpu_desc cd;
        if (strcmp(info.name, "bnbq fake GPU") != 0) {
            printf("FAIL init: --fake-plumbing needs the fake driver\n0 passed, 1 failed\n");
            return 1;
        }
        memset(&cd, 0, sizeof cd);
        cd.allocator.alloc_fn = cnt_alloc;
        cd.allocator.free_fn = cnt_free;
        bnbq_cpu_exec_init(&g_pex, &cd);
        g_gex = &g_pex;
    } else {
        /* the CUDA exec with its memory slots counted */
        g_real = g_cex.backend;
        g_wrap = *g_real;
        g_wrap.alloc = w_alloc;
        g_wrap.free = w_free;
        g_wrap.copy = w_copy;
        g_wrap.sync = w_sync;
        g_cex.backend = &g_wrap;
        g_gex = &g_cex;
    }
    printf("test_gpu_layers: %s, sm_%d%d, %d SMs, driver %d, NVRTC %d, cache %s%s%s\n", info.name, info.cc_major,
           info.cc_minor, info.sm_count, info.driver_version, info.nvrtc_version,
           g_cache_dir[0] ? g_cache_dir : "(off)", g_small ? ", --small" : "",
           g_plumbing ? ", --fake-plumbing (a CPU exec stands in for the GPU)" : "");
    for (i = 0; i < NGROUPS; i++) {
        if (nfilters) {
            int match = 0;
            for (a = 1; a < argc; a++)
                if (argv[a][0] != '-' && strstr(k_groups[i].name, argv[a])) match = 1;
            if (!match) continue;
        }
        run_group(i);
    }
    {
        bnbq_cuda_stats st;
        bnbq_cuda_stats_get(g_ctx, &st);
        printf("kernels: %d compiled (%.2f s), %d from disk, %d rejected, %d modules; %.1f s in all\n", st.units_compiled,
               st.compile_seconds, st.disk_hits, st.disk_rejected, st.modules, now_s() - t0);
    }
    g_cex.backend = g_real ? g_real : g_cex.backend;
    bnbq_exec_uninit(&g_pex);
    bnbq_exec_uninit(&g_cex);
    bnbq_cuda_uninit(g_ctx);
    if (g_own_cache_dir) rm_tree(g_cache_dir);
    if (g_skipped) printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    else printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
