/* test_gpu.c - the CUDA backend against the CPU reference, operation by operation, on a real GPU.

   build/test_gpu [--small] [--any-nan] [--cache-dir DIR] [--seed N] [-v] [op-name-substring ...]
   (`make gpu-test` runs it, then the vector runner with --gpu, then --small under compute-sanitizer)

   For EVERY public operation of bnbq.h, over all dtypes and quant types, the blocksizes
   8-bit 64/256/4096 and 4-bit 32/64/128/4096 and odd sizes (n = 1, 31, 4097, 1000003; shapes such
   as 1x7, 33x100, 33x128, 4096x4099; the dequantizers also with their byte input and output one
   element off vector alignment), with random normal data plus special values (an all-zero block, NaN,
   +-inf, values exactly on the NF4 / FP4 / 8-bit code decision thresholds and one float32 step to
   either side, subnormals, -0): the CPU reference (ex = NULL, host memory) and the GPU (device
   copies of the same inputs) run the same call. Outputs are poisoned first, differently on each
   side (host 0x5A, device 0xA5), so an element the GPU leaves unwritten can never compare equal.
   Required: BYTE-IDENTICAL outputs for every quantize / dequantize / int8 / SwitchBack operation and
   for gemv_4bit (and matmul_4bit with one token, which is gemv_4bit) in the default (exact)
   summation order; matmul_4bit with several tokens, and f16 / bf16 gemv_4bit on a context with
   bnbq_cuda_desc.gemv_fast_order = 1 (tensor-core summation), within relative L2 <= 1e-5 (f32), 2e-3 (f16), 1e-2 (bf16).
   int8_linear_matmul is exact (int32 accumulation, wrapping). NaN outputs too: both backends write
   the canonical 0x7fffffff (f16/bf16 0x7fff) for any NaN (bnbq.h, EXACTNESS). --any-nan (a
   debugging aid) lets a NaN match a NaN of any sign and payload, counted and printed.

   Also: bad input through the CUDA exec returns the CPU's result codes (tests/bad_input.h); an
   operation on a created stream gives the default stream's bytes; a second context on the same
   cache directory loads every kernel from disk without compiling; a context with disable_nvrtc = 1
   runs from a cache that bnbq_cuda_precompile filled for the device's architecture and fails with
   BNBQ_ERROR_NO_NVRTC on an empty one.

   One line per operation ("ok NAME: ..." / "FAIL NAME: ..."), the last line "N passed, N failed".
   An operation the backend does not implement yet (BNBQ_ERROR_NOT_SUPPORTED) is a failure.
   Without a GPU (no driver, no device) it prints one SKIP line and "0 passed, 0 failed, 1 skipped"
   and exits 0. --small: sizes up to 4097 elements / 33x100, for compute-sanitizer. The kernel cache
   is a fresh temporary directory (removed at the end) unless --cache-dir is given. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
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

#include "bad_input.h"

/* ---- global state ----------------------------------------------------------------------------- */

static bnbq_cuda* g_ctx;          /* the context of the run                                        */
static bnbq_exec  g_ex;           /* its exec on the default stream                                */
static bnbq_exec* g_gex;          /* the exec operations run on (touch mode: another context's)    */
static int g_small, g_verbose, g_plumbing, g_touch, g_strict_nan = 1;
static int g_passed, g_failed, g_skipped;
static char g_cache_dir[1024];
static int g_own_cache_dir;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- random numbers: splitmix64 + Box-Muller -------------------------------------------------- */

#define RNG_NORMAL_SEED 0x5eed0001ull
#include "rng_normal.h"
static void fill_bytes(void* p, size_t n) {
    unsigned char* b = (unsigned char*)p;
    size_t i;
    for (i = 0; i < n; i++) b[i] = (unsigned char)(rng_u64() >> 56);
}

/* ---- the per-operation record and the per-case memory ---------------------------------------- */

typedef struct optest {
    const char* name;
    int    cases, failed_cases, unsupported, stop;
    int    case_failed;
    int    tol_cases, exact_cases;
    double max_rel;
    double elements;
    size_t nan_payloads;        /* NaN elements whose bits differ (allowed only with --any-nan) */
    bnbq_result gpu_r;          /* the last GPU result (touch mode reads it) */
    char   label[256];
    char   first[1000];
} optest;
static optest O;

#define MAX_BUFS 64
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
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!O.case_failed) {
        if (!O.first[0]) snprintf(O.first, sizeof O.first, "%s: %s", O.label, msg);
        else if (g_verbose) printf("#   %s %s: %s\n", O.name, O.label, msg);
    }
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

/* device memory of the case, poisoned with 0xA5 */
static void* D(size_t bytes) {
    void* p = NULL;
    bnbq_result r;
    if (g_ndbufs == MAX_BUFS) fatal("too many device buffers in one case");
    r = bnbq_cuda_malloc(g_ctx, bytes ? bytes : 1, &p);
    if (r != BNBQ_SUCCESS) fatal("bnbq_cuda_malloc failed");
    g_dbufs[g_ndbufs++] = p;
    if (bnbq_cuda_memset(g_gex, p, 0xA5, bytes ? bytes : 1) != BNBQ_SUCCESS) fatal("bnbq_cuda_memset failed");
    return p;
}

/* a device copy of host memory */
static void* U(const void* host, size_t bytes) {
    void* p = D(bytes);
    if (bnbq_cuda_memcpy(g_gex, p, host, bytes, BNBQ_COPY_HOST_TO_DEVICE) != BNBQ_SUCCESS)
        fatal("bnbq_cuda_memcpy to the device failed");
    return p;
}

/* device memory of the case starting `off` bytes into its allocation (a pointer not aligned for
   vector access: the kernels' scalar paths); UO: a device copy of host memory there */
static void* DO(size_t bytes, size_t off) { return (char*)D(bytes + off) + off; }
static void* UO(const void* host, size_t bytes, size_t off) {
    void* p = DO(bytes, off);
    if (bnbq_cuda_memcpy(g_gex, p, host, bytes, BNBQ_COPY_HOST_TO_DEVICE) != BNBQ_SUCCESS)
        fatal("bnbq_cuda_memcpy to the device failed");
    return p;
}

/* a host copy of device memory (after everything queued has finished) */
static void* B(const void* dev, size_t bytes) {
    void* h = H(bytes);
    bnbq_result r = bnbq_cuda_memcpy(g_gex, h, dev, bytes, BNBQ_COPY_DEVICE_TO_HOST);
    if (r == BNBQ_SUCCESS) r = bnbq_cuda_synchronize(g_gex);
    if (r != BNBQ_SUCCESS) case_fail("reading back: %s", bnbq_result_name(r));
    return h;
}

static void case_begin(void) {
    O.case_failed = 0;
}

static void case_end(void) {
    int i;
    bnbq_cuda_synchronize(g_gex);
    for (i = 0; i < g_ndbufs; i++) bnbq_cuda_free(g_ctx, g_dbufs[i]);
    for (i = 0; i < g_nhbufs; i++) free(g_hbufs[i]);
    g_ndbufs = g_nhbufs = 0;
    O.cases++;
    if (O.case_failed) O.failed_cases++;
    if (g_touch) O.stop = 1;
}

/* Both sides ran: 1 when both succeeded (and the GPU's queue finished without an error). */
static int both(bnbq_result rc, bnbq_result rg) {
    O.gpu_r = rg;
    if (rc != BNBQ_SUCCESS) {
        case_fail("the CPU reference returned %s", bnbq_result_name(rc));
        return 0;
    }
    if (rg == BNBQ_ERROR_NOT_SUPPORTED) {
        O.unsupported = 1;
        case_fail("BNBQ_ERROR_NOT_SUPPORTED: the CUDA backend does not implement it");
        return 0;
    }
    if (rg != BNBQ_SUCCESS) {
        case_fail("the GPU returned %s (%s)", bnbq_result_name(rg), bnbq_result_description(rg));
        return 0;
    }
    rg = bnbq_cuda_synchronize(g_gex);
    if (rg != BNBQ_SUCCESS) {
        O.gpu_r = rg;
        case_fail("synchronize after the GPU call: %s", bnbq_result_name(rg));
        return 0;
    }
    return 1;
}

#define STOP() do { if (O.unsupported || O.stop) return; } while (0)

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

/* NaN of a float dtype (any sign and payload) */
static int is_nan_bits(bnbq_dtype dt, const unsigned char* p) {
    if (dt == BNBQ_F32) { uint32_t u; memcpy(&u, p, 4); return (u & 0x7fffffffu) > 0x7f800000u; }
    if (dt == BNBQ_F16) { uint16_t h; memcpy(&h, p, 2); return (h & 0x7fffu) > 0x7c00u; }
    if (dt == BNBQ_BF16) { uint16_t h; memcpy(&h, p, 2); return (h & 0x7fffu) > 0x7f80u; }
    return 0;
}

/* The GPU's n elements of type dt (device) must equal the CPU's bytes, NaN bits included (with
   --any-nan a NaN matches any NaN, counted). */
static void exact(const char* what, const void* cpu, const void* dev, size_t n, bnbq_dtype dt) {
    size_t elem = bnbq_dtype_size(dt);
    const unsigned char* g = (const unsigned char*)B(dev, n * elem);
    const unsigned char* c = (const unsigned char*)cpu;
    size_t i, bad = 0, first = 0, nanp = 0;
    int floaty = dt == BNBQ_F32 || dt == BNBQ_F16 || dt == BNBQ_BF16;
    for (i = 0; i < n; i++)
        if (memcmp(c + i * elem, g + i * elem, elem) != 0) {
            if (floaty && !g_strict_nan && is_nan_bits(dt, c + i * elem) && is_nan_bits(dt, g + i * elem)) {
                nanp++;
                continue;
            }
            if (!bad) first = i;
            bad++;
        }
    O.nan_payloads += nanp;
    if (bad) {
        char a[64], b[64];
        fmt_elem(a, sizeof a, c + first * elem, elem);
        fmt_elem(b, sizeof b, g + first * elem, elem);
        case_fail("%s: %zu of %zu elements differ; first at %zu: CPU %s, GPU %s%s", what, bad, n, first, a, b,
                  (g[first * elem] == 0xA5) ? " (poison: not written?)" : "");
    }
    O.elements += (double)n;
}

static double widen(bnbq_dtype dt, const void* p, size_t i) {
    if (dt == BNBQ_F16) return bnbq_f16_to_f32(((const uint16_t*)p)[i]);
    if (dt == BNBQ_BF16) return bnbq_bf16_to_f32(((const uint16_t*)p)[i]);
    return ((const float*)p)[i];
}

/* relative L2 of the GPU's output against the CPU's, by dtype; no non-finite element on either side, or, with
   specials (special inputs), the GPU's non-finite elements exactly where the CPU has them (NaN where NaN, the same
   infinity), left out of the relative L2 */
static void tol_check(const char* what, bnbq_dtype dt, const void* cpu, const void* dev, size_t n, int specials) {
    const void* g = B(dev, n * bnbq_dtype_size(dt));
    double sd = 0.0, ss = 0.0, rel, lim = dt == BNBQ_F32 ? 1e-5 : dt == BNBQ_F16 ? 2e-3 : 1e-2;
    size_t i, nan = 0, bad = 0, first = 0;
    for (i = 0; i < n; i++) {
        double a = widen(dt, cpu, i), b = widen(dt, g, i);
        if (isnan(a) || isnan(b) || isinf(a) || isinf(b)) {
            nan++;
            if (!((isnan(a) && isnan(b)) || a == b) && !bad++) first = i;
            continue;
        }
        sd += (a - b) * (a - b);
        ss += a * a;
    }
    rel = sd == 0.0 ? 0.0 : (ss > 0.0 ? sqrt(sd / ss) : INFINITY);
    if (rel > O.max_rel) O.max_rel = rel;
    O.tol_cases++;
    if (!specials && nan) case_fail("%s: %zu non-finite elements", what, nan);
    else if (specials && bad)
        case_fail("%s: %zu non-finite elements differ; first at %zu: CPU %g, GPU %g", what, bad, first,
                  widen(dt, cpu, first), widen(dt, g, first));
    else if (!(rel <= lim)) case_fail("%s: relative L2 %.3g > %.0e (%s)", what, rel, lim, bnbq_dtype_name(dt));
    O.elements += (double)n;
}
static void within_tol(const char* what, bnbq_dtype dt, const void* cpu, const void* dev, size_t n) {
    tol_check(what, dt, cpu, dev, n, 0);
}
static void within_tol_special(const char* what, bnbq_dtype dt, const void* cpu, const void* dev, size_t n) {
    tol_check(what, dt, cpu, dev, n, 1);
}

/* ---- inputs ------------------------------------------------------------------------------------ */

static const bnbq_dtype k_dts[3] = { BNBQ_F32, BNBQ_F16, BNBQ_BF16 };
static const int k_bs8[3] = { 64, 256, 4096 };
static const int k_bs4[4] = { 32, 64, 128, 4096 };
static const size_t k_n_full[4] = { 1, 31, 4097, 1000003 };
#define NS (g_small ? 3 : 4)
#define SZ(i) (k_n_full[i])

/* x (n floats) as dt, in a host buffer of the case */
static void* as_dtype(bnbq_dtype dt, const float* x, size_t n) {
    void* out = H(n * bnbq_dtype_size(dt));
    if (bnbq_convert(NULL, BNBQ_F32, x, n, dt, out) != BNBQ_SUCCESS) fatal("bnbq_convert on the CPU failed");
    return out;
}

/* threshold values of the quantizers, each exactly and one float32 step to either side */
static size_t thresholds(int kind, const float* code, float* out, size_t cap) {
    size_t k = 0;
    int i;
    float t[300];
    int nt = 0;
    if (kind == 1) for (i = 0; i < 15; i++) t[nt++] = bnbq__nf4_thresholds[i];
    else if (kind == 2) for (i = 0; i < 7; i++) { t[nt++] = bnbq__fp4_thresholds[i]; t[nt++] = -bnbq__fp4_thresholds[i]; }
    else {
        for (i = 0; i < 255 && nt < 290; i += 3) {
            volatile float s = code[i] + code[i + 1];
            t[nt++] = s * 0.5f;
        }
    }
    for (i = 0; i < nt && k + 3 <= cap; i++) {
        out[k++] = t[i];
        out[k++] = nextafterf(t[i], INFINITY);
        out[k++] = nextafterf(t[i], -INFINITY);
    }
    return k;
}

/* Special values at fixed blocks (where the input has them): block 1 all zero; block 2 a NaN;
   block 3 +inf; block 4 -inf; block 5 absmax exactly 1 with every value on a decision threshold
   (kind 0: 8-bit code midpoints of `code`, 1: NF4, 2: FP4) or one step off it; block 6 subnormals,
   -0 and tiny values; the first element of the last (partial) block is large. */
static void specials(float* x, size_t n, size_t bs, int kind, const float* code) {
    size_t i, b;
    if (n >= 2 * bs) for (i = bs; i < 2 * bs; i++) x[i] = 0.0f;
    if (n > 2 * bs + 3) x[2 * bs + 3] = NAN;
    if (n > 3 * bs + 5) x[3 * bs + 5] = INFINITY;
    if (n > 4 * bs + 1) x[4 * bs + 1] = -INFINITY;
    if (n >= 6 * bs) {
        float t[900];
        size_t nt = thresholds(kind, code, t, 900);
        x[5 * bs] = 1.0f;
        for (i = 1, b = 0; i < bs; i++, b++) x[5 * bs + i] = nt ? t[b % nt] : 0.5f;
        x[5 * bs + bs - 1] = -1.0f;
    }
    if (n >= 7 * bs) {
        static const float tiny[6] = { 1e-40f, -1e-41f, -0.0f, 1e-30f, 5.96e-8f, -6.1e-5f };
        for (i = 0; i < bs; i++) x[6 * bs + i] = tiny[i % 6] * (float)(1 + i % 3);
    }
    if (n > bs && n % bs) x[(n / bs) * bs] = 1000.0f;
}

static size_t nblocks_of(size_t n, size_t bs) { return n / bs + (n % bs != 0); }

/* code tables that can be given to the 8-bit quantizers (ascending) */
static float g_code_unsigned[256], g_code_normal[256], g_code_fp8[256];
static const float* code_table(int which, const char** name) {
    switch (which) {
        case 0: *name = "dynamic"; return NULL;
        case 1: *name = "dynamic-unsigned"; return g_code_unsigned;
        case 2: *name = "normal-map"; return g_code_normal;
        default: *name = "fp8-e4m3"; return g_code_fp8;
    }
}
static int g_ncodes = 1;

static void setup_codes(void) {
    memcpy(g_code_unsigned, bnbq_code_dynamic(0), sizeof g_code_unsigned);
    g_ncodes = 2;
    if (bnbq_create_normal_map(0.9677083, 1, g_code_normal) == BNBQ_SUCCESS && bnbq__code_sorted(g_code_normal))
        g_ncodes = 3;
    if (g_ncodes == 3 && bnbq_create_fp8_map(1, 4, 3, 8, g_code_fp8) == BNBQ_SUCCESS && bnbq__code_sorted(g_code_fp8))
        g_ncodes = 4;
}

/* ================================================================================================ */
/* operations                                                                                      */

static void op_convert(void) {
    int s, d, k;
    for (k = 0; k < NS; k++)
        for (s = 0; s < 3; s++)
            for (d = 0; d < 3; d++) {
                size_t n = SZ(k), i;
                bnbq_dtype st = k_dts[s], dt = k_dts[d];
                float* x;
                void *hs, *hc, *ds, *dd;
                STOP();
                case_begin();
                label("%s -> %s n=%zu", bnbq_dtype_name(st), bnbq_dtype_name(dt), n);
                x = (float*)H(n * 4);
                fill_normal(x, n, 100.0f);
                {   /* rounding edges: f16 overflow, ties, subnormals, NaN, inf */
                    static const float e[14] = { 65504.0f, 65520.0f, 65519.996f, 1e-8f, 5.96e-8f, 2.98e-8f,
                                                 -0.0f, 1e-40f, 3.4e38f, 1.00048828125f, 1.0009765625f,
                                                 1.00390625f, 1.01171875f, 0.0f };
                    for (i = 0; i < n && i < 14; i++) x[i] = e[i];
                    if (n > 20) { x[15] = NAN; x[16] = INFINITY; x[17] = -INFINITY; x[18] = -NAN; }
                }
                hs = as_dtype(st, x, n);
                hc = H(n * bnbq_dtype_size(dt));
                ds = U(hs, n * bnbq_dtype_size(st));
                dd = D(n * bnbq_dtype_size(dt));
                if (both(bnbq_convert(NULL, st, hs, n, dt, hc), bnbq_convert(g_gex, st, ds, n, dt, dd)))
                    exact("out", hc, dd, n, dt);
                case_end();
            }
    /* in place: allowed for equal element sizes (F32 -> F32, F16 <-> BF16); narrowing in place is
       rejected by every backend with INVALID_ARGS (a GPU kernel would race over its own input).
       2^25 elements: many grid-stride iterations per thread. */
    for (k = 2; k < NS + (g_small ? 0 : 1); k++)
        for (s = 0; s < 3; s++) {
            static const bnbq_dtype pairs[3][2] = { { BNBQ_F32, BNBQ_F32 }, { BNBQ_F16, BNBQ_BF16 }, { BNBQ_F32, BNBQ_F16 } };
            size_t n = k < 4 ? SZ(k) : (size_t)1 << 25;
            bnbq_dtype st = pairs[s][0], dt = pairs[s][1];
            float* x;
            void *hs, *ds;
            STOP();
            case_begin();
            label("in place %s -> %s n=%zu", bnbq_dtype_name(st), bnbq_dtype_name(dt), n);
            x = (float*)H(n * 4);
            fill_normal(x, n, 3.0f);
            hs = as_dtype(st, x, n);
            ds = U(hs, n * bnbq_dtype_size(st));
            if (bnbq_dtype_size(st) != bnbq_dtype_size(dt)) {
                bnbq_result rc = bnbq_convert(NULL, st, hs, n, dt, hs);
                bnbq_result rg = bnbq_convert(g_gex, st, ds, n, dt, ds);
                if (rc != BNBQ_ERROR_INVALID_ARGS || rg != BNBQ_ERROR_INVALID_ARGS)
                    case_fail("in-place narrowing: CPU %s, GPU %s (want BNBQ_ERROR_INVALID_ARGS)",
                              bnbq_result_name(rc), bnbq_result_name(rg));
            } else if (both(bnbq_convert(NULL, st, hs, n, dt, hs), bnbq_convert(g_gex, st, ds, n, dt, ds))) {
                exact("out", hs, ds, n, dt);
            }
            case_end();
        }
}

static void op_quantize_blockwise(void) {
    int d, b, k, c;
    for (k = 0; k < NS; k++)
        for (d = 0; d < 3; d++)
            for (b = 0; b < 3; b++)
                for (c = 0; c < g_ncodes; c++) {
                    size_t n = SZ(k), bs = (size_t)k_bs8[b], nb = nblocks_of(n, bs);
                    bnbq_dtype dt = k_dts[d];
                    const char* cname;
                    const float* code = code_table(c, &cname);
                    float* x;
                    void *hx, *dx, *hq, *ha, *dq, *da;
                    STOP();
                    if (c > 0 && (k != NS - 1 || b != 1)) continue;   /* other tables: one size */
                    case_begin();
                    label("%s bs=%zu n=%zu code=%s", bnbq_dtype_name(dt), bs, n, cname);
                    x = (float*)H(n * 4);
                    fill_normal(x, n, 1.0f);
                    specials(x, n, bs, 0, code ? code : bnbq_code_dynamic(1));
                    hx = as_dtype(dt, x, n);
                    dx = U(hx, n * bnbq_dtype_size(dt));
                    hq = H(n); ha = H(nb * 4); dq = D(n); da = D(nb * 4);
                    if (both(bnbq_quantize_blockwise(NULL, code, dt, hx, n, (int)bs, (uint8_t*)hq, (float*)ha),
                             bnbq_quantize_blockwise(g_gex, code, dt, dx, n, (int)bs, (uint8_t*)dq, (float*)da))) {
                        exact("absmax", ha, da, nb, BNBQ_F32);
                        exact("q", hq, dq, n, BNBQ_U8);
                    }
                    case_end();
                }
    /* bs 1024 and 4096 (the block-wide maximum, whose shared sets rotate over a block's tiles):
       enough elements for several tiles a block (the launcher keeps 4 blocks per SM) */
    if (!g_small)
        for (b = 0; b < 2; b++) {
            size_t n = (size_t)12 << 20 | 5, bs = b ? 4096 : 1024, nb = nblocks_of(n, bs);
            float* x;
            void *hx, *dx, *hq, *ha, *dq, *da;
            STOP();
            case_begin();
            label("f16 bs=%zu n=%zu (many tiles a block)", bs, n);
            x = (float*)H(n * 4);
            fill_normal(x, n, 1.0f);
            specials(x, n, bs, 0, bnbq_code_dynamic(1));
            hx = as_dtype(BNBQ_F16, x, n);
            dx = U(hx, n * 2);
            hq = H(n); ha = H(nb * 4); dq = D(n); da = D(nb * 4);
            if (both(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F16, hx, n, (int)bs, (uint8_t*)hq, (float*)ha),
                     bnbq_quantize_blockwise(g_gex, NULL, BNBQ_F16, dx, n, (int)bs, (uint8_t*)dq, (float*)da))) {
                exact("absmax", ha, da, nb, BNBQ_F32);
                exact("q", hq, dq, n, BNBQ_U8);
            }
            case_end();
        }
}

/* random positive block maxima with a zero, an inf and a NaN where there is room */
static void fill_absmax(float* a, size_t nb) {
    size_t i;
    fill_normal(a, nb, 2.0f);
    for (i = 0; i < nb; i++) a[i] = fabsf(a[i]);
    if (nb > 3) { a[1] = 0.0f; a[2] = INFINITY; a[3] = NAN; }
}

static void op_dequantize_blockwise(void) {
    int d, b, k, c;
    for (k = 0; k < NS; k++)
        for (d = 0; d < 3; d++)
            for (b = 0; b < 3; b++)
                for (c = 0; c < 3; c++) {
                    /* c = 2: the dynamic code with q and out one element off vector alignment */
                    size_t n = SZ(k), bs = (size_t)k_bs8[b], nb = nblocks_of(n, bs), es;
                    bnbq_dtype dt = k_dts[d];
                    const char* cname;
                    const float* code = code_table(c == 2 ? 0 : c, &cname);
                    const int mis = c == 2;
                    void *hq, *ha, *dq, *da, *ho, *dout;
                    STOP();
                    if (c == 1 && (k != NS - 1 || b != 0)) continue;
                    if (mis && (k == 0 || b != 1)) continue;
                    case_begin();
                    label("%s bs=%zu n=%zu code=%s%s", bnbq_dtype_name(dt), bs, n, cname,
                          mis ? " misaligned" : "");
                    es = bnbq_dtype_size(dt);
                    hq = H(n); fill_bytes(hq, n);
                    ha = H(nb * 4); fill_absmax((float*)ha, nb);
                    dq = UO(hq, n, mis ? 1 : 0); da = U(ha, nb * 4);
                    ho = H(n * es); dout = DO(n * es, mis ? es : 0);
                    if (both(bnbq_dequantize_blockwise(NULL, code, dt, (uint8_t*)hq, (float*)ha, n, (int)bs, ho),
                             bnbq_dequantize_blockwise(g_gex, code, dt, (uint8_t*)dq, (float*)da, n, (int)bs, dout)))
                        exact("out", ho, dout, n, dt);
                    case_end();
                }
}

static void op_quantize_4bit(void) {
    int q, d, b, k;
    for (k = 0; k < NS; k++)
        for (q = 0; q < 2; q++)
            for (d = 0; d < 3; d++)
                for (b = 0; b < 4; b++) {
                    bnbq_quant_type qt = q ? BNBQ_NF4 : BNBQ_FP4;
                    size_t n = SZ(k), bs = (size_t)k_bs4[b], nb = nblocks_of(n, bs), np = (n + 1) / 2;
                    bnbq_dtype dt = k_dts[d];
                    float* x;
                    void *hx, *dx, *hp, *ha, *dp, *da;
                    STOP();
                    case_begin();
                    label("%s %s bs=%zu n=%zu", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bs, n);
                    x = (float*)H(n * 4);
                    fill_normal(x, n, 1.0f);
                    specials(x, n, bs, q ? 1 : 2, NULL);
                    hx = as_dtype(dt, x, n);
                    dx = U(hx, n * bnbq_dtype_size(dt));
                    hp = H(np); ha = H(nb * 4); dp = D(np); da = D(nb * 4);
                    if (both(bnbq_quantize_4bit(NULL, qt, dt, hx, n, (int)bs, (uint8_t*)hp, (float*)ha),
                             bnbq_quantize_4bit(g_gex, qt, dt, dx, n, (int)bs, (uint8_t*)dp, (float*)da))) {
                        exact("absmax", ha, da, nb, BNBQ_F32);
                        exact("packed", hp, dp, np, BNBQ_U8);
                    }
                    case_end();
                }
}

static void op_dequantize_4bit(void) {
    int q, d, b, k;
    for (k = 0; k < NS; k++)
        for (q = 0; q < 2; q++)
            for (d = 0; d < 3; d++)
                for (b = 0; b < 5; b++) {
                    /* b = 4: blocksize 64 with packed and out one element off vector alignment */
                    bnbq_quant_type qt = q ? BNBQ_NF4 : BNBQ_FP4;
                    const int mis = b == 4;
                    size_t n = SZ(k), bs = (size_t)k_bs4[mis ? 1 : b], nb = nblocks_of(n, bs);
                    size_t np = (n + 1) / 2, es;
                    bnbq_dtype dt = k_dts[d];
                    void *hp, *ha, *dp, *da, *ho, *dout;
                    STOP();
                    if (mis && k == 0) continue;
                    case_begin();
                    label("%s %s bs=%zu n=%zu%s", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bs, n,
                          mis ? " misaligned" : "");
                    es = bnbq_dtype_size(dt);
                    hp = H(np); fill_bytes(hp, np);
                    ha = H(nb * 4); fill_absmax((float*)ha, nb);
                    dp = UO(hp, np, mis ? 1 : 0); da = U(ha, nb * 4);
                    ho = H(n * es); dout = DO(n * es, mis ? es : 0);
                    if (both(bnbq_dequantize_4bit(NULL, qt, dt, (uint8_t*)hp, (float*)ha, n, (int)bs, ho),
                             bnbq_dequantize_4bit(g_gex, qt, dt, (uint8_t*)dp, (float*)da, n, (int)bs, dout)))
                        exact("out", ho, dout, n, dt);
                    case_end();
                }
}

static const size_t k_nblocks[7] = { 1, 31, 1023, 1025, 4097, 100003, 1000003 };
#define NNB (g_small ? 5 : 7)

static void op_nested_offset(void) {
    int k, v;
    for (k = 0; k < NNB; k++)
        for (v = 0; v < 2; v++) {
            size_t nb = k_nblocks[k], i;
            float* a;
            void *da, *ho, *dout;
            STOP();
            case_begin();
            label("nblocks=%zu %s", nb, v ? "wide range" : "normal");
            a = (float*)H(nb * 4);
            fill_normal(a, nb, 1.0f);
            for (i = 0; i < nb; i++) a[i] = fabsf(a[i]) * (v ? (float)pow(10.0, (double)(i % 13) - 6.0) : 1.0f);
            if (nb > 2) a[1] = 0.0f;
            da = U(a, nb * 4);
            ho = H(4); dout = D(4);
            if (both(bnbq_nested_offset(NULL, a, nb, (float*)ho), bnbq_nested_offset(g_gex, (float*)da, nb, (float*)dout)))
                exact("offset", ho, dout, 1, BNBQ_F32);
            case_end();
        }
}

static void op_quantize_nested(void) {
    int k, b, c;
    for (k = 0; k < NNB; k++)
        for (b = 0; b < 3; b++)
            for (c = 0; c < 2; c++) {
                size_t nb = k_nblocks[k], nbs = (size_t)k_bs8[b], nn = nblocks_of(nb, nbs), i;
                const char* cname;
                const float* code = code_table(c, &cname);
                float off;
                float* a;
                void *da, *doff, *hq, *hn, *dq, *dn;
                STOP();
                if (c > 0 && b != 1) continue;
                case_begin();
                label("nblocks=%zu nested_bs=%zu code=%s", nb, nbs, cname);
                a = (float*)H(nb * 4);
                fill_normal(a, nb, 1.0f);
                for (i = 0; i < nb; i++) a[i] = fabsf(a[i]);
                if (nb > 2 * nbs) for (i = nbs; i < 2 * nbs; i++) a[i] = 0.0f;   /* a block equal to... */
                if (bnbq_nested_offset(NULL, a, nb, &off) != BNBQ_SUCCESS) fatal("nested_offset on the CPU");
                if (nb > 2 * nbs) for (i = nbs; i < 2 * nbs; i++) a[i] = off;     /* ...the offset: all zero */
                da = U(a, nb * 4);
                doff = U(&off, 4);
                hq = H(nb); hn = H(nn * 4); dq = D(nb); dn = D(nn * 4);
                if (both(bnbq_quantize_nested(NULL, code, a, nb, (int)nbs, &off, (uint8_t*)hq, (float*)hn),
                         bnbq_quantize_nested(g_gex, code, (float*)da, nb, (int)nbs, (float*)doff, (uint8_t*)dq, (float*)dn))) {
                    exact("nested_absmax", hn, dn, nn, BNBQ_F32);
                    exact("absmax_q", hq, dq, nb, BNBQ_U8);
                }
                case_end();
            }
}

static void op_dequantize_nested(void) {
    int k, b;
    for (k = 0; k < NNB; k++)
        for (b = 0; b < 4; b++) {
            /* b = 3: nested blocksize 256 with absmax_q and out one element off vector alignment */
            const int mis = b == 3;
            size_t nb = k_nblocks[k], nbs = (size_t)k_bs8[mis ? 1 : b], nn = nblocks_of(nb, nbs);
            float off = 0.37f;
            void *hq, *hn, *dq, *dn, *doff, *ho, *dout;
            STOP();
            case_begin();
            label("nblocks=%zu nested_bs=%zu%s", nb, nbs, mis ? " misaligned" : "");
            hq = H(nb); fill_bytes(hq, nb);
            hn = H(nn * 4); fill_absmax((float*)hn, nn);
            dq = UO(hq, nb, mis ? 1 : 0); dn = U(hn, nn * 4); doff = U(&off, 4);
            ho = H(nb * 4); dout = DO(nb * 4, mis ? 4 : 0);
            if (both(bnbq_dequantize_nested(NULL, NULL, (uint8_t*)hq, (float*)hn, nb, (int)nbs, &off, (float*)ho),
                     bnbq_dequantize_nested(g_gex, NULL, (uint8_t*)dq, (float*)dn, nb, (int)nbs, (float*)doff, (float*)dout)))
                exact("out_absmax", ho, dout, nb, BNBQ_F32);
            case_end();
        }
}

static void op_quantize_global(void) {
    int d, k, c;
    for (k = 0; k < NS; k++)
        for (d = 0; d < 3; d++)
            for (c = 0; c < 2; c++) {
                size_t n = SZ(k);
                bnbq_dtype dt = k_dts[d];
                const char* cname;
                const float* code = code_table(c, &cname);
                float* x;
                void *hx, *dx, *hq, *ha, *dq, *da;
                STOP();
                if (c > 0 && k != NS - 1) continue;
                case_begin();
                label("%s n=%zu code=%s", bnbq_dtype_name(dt), n, cname);
                x = (float*)H(n * 4);
                fill_normal(x, n, 5.0f);
                if (n > 100) { x[7] = 0.0f; x[8] = -0.0f; x[9] = 1e-40f; }
                hx = as_dtype(dt, x, n);
                dx = U(hx, n * bnbq_dtype_size(dt));
                hq = H(n); ha = H(4); dq = D(n); da = D(4);
                if (both(bnbq_quantize_global(NULL, code, dt, hx, n, (uint8_t*)hq, (float*)ha),
                         bnbq_quantize_global(g_gex, code, dt, dx, n, (uint8_t*)dq, (float*)da))) {
                    exact("absmax", ha, da, 1, BNBQ_F32);
                    exact("q", hq, dq, n, BNBQ_U8);
                }
                case_end();
            }
}

static void op_dequantize_global(void) {
    int d, k;
    for (k = 0; k < NS; k++)
        for (d = 0; d < 3; d++) {
            size_t n = SZ(k), es;
            bnbq_dtype dt = k_dts[d];
            float a = 3.75f;
            void *hq, *dq, *da, *ho, *dout;
            STOP();
            case_begin();
            label("%s n=%zu", bnbq_dtype_name(dt), n);
            es = bnbq_dtype_size(dt);
            hq = H(n); fill_bytes(hq, n);
            dq = U(hq, n); da = U(&a, 4);
            ho = H(n * es); dout = D(n * es);
            if (both(bnbq_dequantize_global(NULL, NULL, dt, (uint8_t*)hq, &a, n, ho),
                     bnbq_dequantize_global(g_gex, NULL, dt, (uint8_t*)dq, (float*)da, n, dout)))
                exact("out", ho, dout, n, dt);
            case_end();
        }
}

/* ---- LLM.int8 and SwitchBack ------------------------------------------------------------------- */

typedef struct shape { size_t rows, cols; } shape;
/* 33x128 and 2x20480: columns a multiple of 8 (the row kernels' 8-element pieces; 20480 also
   more pieces than the row kernels keep in registers) */
static const shape k_shapes[9] = { { 1, 1 }, { 1, 7 }, { 7, 1 }, { 33, 100 }, { 33, 128 },
                                   { 2, 4097 }, { 4096, 4099 }, { 1, 65537 }, { 2, 20480 } };
#define NSH (g_small ? 5 : 9)

/* f16 matrix: normal data, an all-zero row, outliers (|x| in [6, 20)) in a few columns, and (with
   specials) NaN / inf / subnormal entries */
static uint16_t* make_f16_matrix(size_t rows, size_t cols, int outliers, int with_specials) {
    size_t n = rows * cols, i;
    float* x = (float*)H(n * 4);
    fill_normal(x, n, 1.0f);
    if (rows > 2) for (i = 0; i < cols; i++) x[1 * cols + i] = 0.0f;
    if (outliers && cols > 3) {
        size_t c;
        for (c = 2; c < cols; c += cols / 3 + 1)
            for (i = 0; i < rows; i += 2) x[i * cols + c] = (float)((i % 2) ? -1 : 1) * (6.0f + (float)(i % 14));
    }
    if (with_specials && n > 20) {
        x[3] = 1e-7f; x[4] = -0.0f; x[5] = 65504.0f; x[n - 1] = -65504.0f;
    }
    return (uint16_t*)as_dtype(BNBQ_F16, x, n);
}

/* and, for int8_vectorwise_quant (also with --small, for the sanitizers), shapes with more rows than
   a grid of resident blocks (the row kernels' grid-stride loop) and outlier columns in many rows */
static const shape k_ring_shapes[2] = { { 300, 14336 }, { 4096, 1024 } };

/* int8_vectorwise_quant of the host f16 matrix A on the CPU and (a copy) on the GPU, inside a case:
   row statistics and codes byte-identical; with outl (output arrays for the outlier columns given)
   and thr > 0 also the outlier count and columns. Returns the CPU's outlier count (-1: none). */
static int32_t vw_quant_both(const uint16_t* A, size_t R, size_t C, float thr, int outl) {
    size_t n = R * C;
    int32_t cnt = -1;
    void* dA = U(A, n * 2);
    void *hCA = H(n), *hrs = H(R * 4), *hoc = H(C * 4), *hno = H(4);
    void *dCA = D(n), *drs = D(R * 4), *doc = D(C * 4), *dno = D(4);
    if (both(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, A, R, C, thr, (int8_t*)hCA, (float*)hrs,
                                        outl ? (int32_t*)hoc : NULL, outl ? (int32_t*)hno : NULL),
             bnbq_int8_vectorwise_quant(g_gex, BNBQ_F16, dA, R, C, thr, (int8_t*)dCA, (float*)drs,
                                        outl ? (int32_t*)doc : NULL, outl ? (int32_t*)dno : NULL))) {
        exact("row_stats", hrs, drs, R, BNBQ_F32);
        exact("CA", hCA, dCA, n, BNBQ_U8);
        if (outl && thr > 0.0f) {
            cnt = *(int32_t*)hno;
            exact("n_outliers", hno, dno, 1, BNBQ_I32);
            if (cnt > 0 && (size_t)cnt <= C) exact("outlier_cols", hoc, doc, (size_t)cnt, BNBQ_I32);
        }
    }
    return cnt;
}

/* SwitchBack's quantize_rowwise of the host f16 matrix X on the CPU and the GPU, inside a case:
   state and codes byte-identical */
static void rowwise_both(const uint16_t* X, size_t R, size_t C) {
    size_t n = R * C;
    void* dX = U(X, n * 2);
    void *hq = H(n), *hs = H(R * 2), *dq = D(n), *ds = D(R * 2);
    if (both(bnbq_quantize_rowwise(NULL, BNBQ_F16, X, R, C, (int8_t*)hq, (uint16_t*)hs),
             bnbq_quantize_rowwise(g_gex, BNBQ_F16, dX, R, C, (int8_t*)dq, (uint16_t*)ds))) {
        exact("state", hs, ds, R, BNBQ_F16);
        exact("q", hq, dq, n, BNBQ_U8);
    }
}

static void op_int8_vectorwise_quant(void) {
    static const float thr[3] = { 0.0f, 6.0f, 0.5f };
    int s, t;
    for (s = 0; s < NSH + 2; s++)
        for (t = 0; t < 3; t++) {
            const shape sh = s < NSH ? k_shapes[s] : k_ring_shapes[s - NSH];
            STOP();
            case_begin();
            label("%zux%zu threshold=%g", sh.rows, sh.cols, (double)thr[t]);
            vw_quant_both(make_f16_matrix(sh.rows, sh.cols, t == 1, s == 3), sh.rows, sh.cols, thr[t], t != 0);
            case_end();
        }
}

static uint16_t* make_f16_specials(size_t rows, size_t cols);
/* int8_vectorwise_quant of ONE row with a threshold and 8-element pieces: bnbq_k_int8_vw_one (one launch),
   and the three launches of the other shapes (bnbq__cu_i8_one_off), each against the CPU; normal rows with
   outlier columns and the special rows of make_f16_specials; thresholds that make no column, a few, and
   every column an outlier (the compaction past the room below the bitmask); the kernel keeps the bitmask in
   shared memory and takes rows of up to 40 KB of it (327680 columns): a longer row (400000) takes the three
   launches even when the one-row kernel is not switched off; rows of more than 16384 columns run on up to 1024
   threads (8 pieces of 8 a thread: 17000 on 288, 28672 on 448), or, special row 7, on 256
   (bnbq__cu_i8_one_256) */
static void op_int8_vw_one(void) {
    static const size_t cols[9] = { 8, 64, 4096, 14336, 17000, 20480, 28672, 65536, 400000 };
    static const float thr[5] = { 6.0f, 0.5f, 1e-9f, 70000.0f, 0.0f };
    int s, t, k, off;
    for (s = 0; s < (g_small ? 4 : 9); s++)
        for (t = 0; t < 5; t++)
            for (k = 0; k < 3; k++)
                for (off = 0; off < 2; off++) {
                    size_t C = cols[s];
                    float th = t == 4 ? (float)INFINITY : thr[t];
                    bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                    unsigned long n0 = gc->i8_one_launches;
                    const uint16_t* A;
                    STOP();
                    case_begin();
                    label("1x%zu threshold=%g, %s%s", C, (double)th, k == 0 ? "normal with outliers" : k == 1 ? "special row 2 (NaN)" : "special row 7 (near the thresholds)",
                          off ? ", three launches" : "");
                    A = k == 0 ? make_f16_matrix(1, C, 1, 0) : make_f16_specials(8, C) + (k == 1 ? 2 : 7) * C;
                    bnbq__cu_i8_one_off = off;
                    bnbq__cu_i8_one_256 = k == 2;
                    vw_quant_both(A, 1, C, th, 1);
                    bnbq__cu_i8_one_off = 0;
                    bnbq__cu_i8_one_256 = 0;
                    if (!g_plumbing && (gc->i8_one_launches - n0 == 1) != (!off && (C + 31) / 32 * 4 <= BNBQ__CU_I8_FIXSH))
                        case_fail("the one-row kernel was %s", gc->i8_one_launches - n0 == 1 ? "used" : "not used");
                    case_end();
                }
}

/* int8_vectorwise_quant of a few rows (2..33, a few decoding steps) with a threshold and 8-element pieces (the
   init + rows + fix launches) against the CPU: normal rows with outlier columns, and every kind of special row
   of make_f16_specials; thresholds as op_int8_vw_one's (every column an outlier: all codes 0 and the longest
   list; none) */
static void op_int8_vw_few(void) {
    static const size_t rows[5] = { 2, 16, 5, 32, 33 };
    static const size_t cols[5] = { 8, 64, 4096, 14336, 65536 };
    static const float thr[5] = { 6.0f, 0.5f, 1e-9f, 70000.0f, 0.0f };
    int s, r, t, k;
    for (r = 0; r < (g_small ? 2 : 5); r++)
        for (s = 0; s < (g_small ? 3 : 5); s++)
            for (t = 0; t < 5; t++)
                for (k = 0; k < 2; k++) {
                    size_t R = rows[r], C = cols[s];
                    float th = t == 4 ? (float)INFINITY : thr[t];
                    STOP();
                    case_begin();
                    label("%zux%zu threshold=%g, %s", R, C, (double)th, k == 0 ? "normal with outliers" : "special rows");
                    vw_quant_both(k == 0 ? make_f16_matrix(R, C, 1, 0) : make_f16_specials(R, C), R, C, th, 1);
                    case_end();
                }
}

/* Rows of special values for the LLM.int8 / SwitchBack row kernels (by row % 8): normal data;
   all zero; NaN among normal data; all NaN; +-inf among normal data; only values in [6, 20) (with
   threshold 6 the row statistic is 0); only subnormals; values at and beside f16 neighbours of the
   thresholds (6, 0.5, 1e-3), +-65504 and -0. Built as f16 bits directly. */
static uint16_t* make_f16_specials(size_t rows, size_t cols) {
    static const uint16_t near[] = { 0x4600, 0x45ff, 0x4601, 0xc600, 0x3800, 0x37ff, 0x3801, 0x1419,
                                     0x141a, 0x7bff, 0xfbff, 0x8000, 0x0001, 0x3c00 };
    size_t r, c;
    uint16_t* A = (uint16_t*)H(rows * cols * 2);
    float* x = (float*)H(cols * 4);
    for (r = 0; r < rows; r++) {
        uint16_t* a = A + r * cols;
        fill_normal(x, cols, 1.0f);
        for (c = 0; c < cols; c++) {
            uint16_t h = bnbq_f32_to_f16(x[c]);
            switch (r % 8) {
                case 1: h = (uint16_t)(c % 3 ? 0x0000 : 0x8000); break;
                case 2: if (c % 37 == 5) h = (uint16_t)(c % 2 ? 0x7e00 : 0xfd01); break;
                case 3: h = (uint16_t)(0x7c01 + (c % 0x3fe)) | (uint16_t)((c & 1) << 15); break;
                case 4: if (c % 41 == 3) h = (uint16_t)(c % 2 ? 0x7c00 : 0xfc00); break;
                case 5: h = (uint16_t)(0x4600 + (c * 7) % 0x500) | (uint16_t)((c & 1) << 15); break;
                case 6: h = (uint16_t)(1 + (c * 13) % 0x3ff) | (uint16_t)((c & 2) << 14); break;
                case 7: h = near[c % (sizeof near / sizeof near[0])]; break;
                default: break;
            }
            a[c] = h;
        }
    }
    return A;
}

/* The row kernels on special values for every threshold kind: 0, f16-exact (6, 0.5), between two
   f16 (6.001, 1e-3), below the smallest f16 (1e-9), above the largest finite one (70000), inf.
   Shapes with cols % 8 == 0 run the 8-element kernels, the others the element kernels. */
static void op_int8_rows_specials(void) {
    static const shape shs[4] = { { 16, 64 }, { 24, 4096 }, { 16, 20480 }, { 16, 100 } };
    static const float thr[8] = { 0.0f, 6.0f, 0.5f, 6.001f, 1e-3f, 1e-9f, 70000.0f, 0.0f };
    int s, t;
    for (s = 0; s < 4; s++)
        for (t = 0; t < 8; t++) {
            size_t R = shs[s].rows, C = shs[s].cols;
            float th = t == 7 ? (float)INFINITY : thr[t];
            STOP();
            case_begin();
            label("int8_vectorwise_quant %zux%zu threshold=%g", R, C, (double)th);
            vw_quant_both(make_f16_specials(R, C), R, C, th, 1);
            case_end();
            if (t == 0) {   /* SwitchBack's row quantizer on a matrix of the same kind */
                STOP();
                case_begin();
                label("quantize_rowwise %zux%zu", R, C);
                rowwise_both(make_f16_specials(R, C), R, C);
                case_end();
            }
        }
}

/* |x[i]| at most lim: the cases that count their outlier columns must not get one more from a 6-sigma
   normal value (9.8M values hold one about 2 % of the time, and which values a case draws depends on
   every case before it: test_disable_nvrtc's rerun of the --small run found 6 columns, not 5) */
static void clip_abs(float* x, size_t n, float lim) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = x[i] > lim ? lim : x[i] < -lim ? -lim : x[i];
}

/* The paths of the GPU's int8_vectorwise_quant with a threshold and 8-element pieces (bnbq_cuda.h,
   bnbq__cu_int8_vectorwise_quant), each byte-identical to the CPU:
   - two or more waves of resident row blocks: the outlier-column snapshot of the first 64 rows
     (bnbq_k_int8_vw_rows_smp), zeroed by every row written after it; the fix pass zeroes the rows
     written before it (a row bitmap) and the columns it missed. 256 columns and at least 16384
     rows (two waves up to 256 SMs; more without --small, so that the input is larger than the
     L2): outliers in rows 0 and 1 (in the snapshot), rows 150, 9000 and the last (not; column 5 is
     in both). Then 128 columns (the fewest for that path) with every column an outlier column (its
     counters, snapshot and row bitmap share out_outlier_cols with the bitmask and the compacted
     list); and 9216 columns (row blocks of more than 128 threads take 256 on this path) on two
     waves of 4 blocks an SM;
   - about one wave (20480 columns: 256 threads a row, rows for 3/4 of the L2): one pass and the
     full fix pass (also the path of the small shapes of int8_vectorwise_quant);
   - 64 x 256 with 100 and with 256 outlier columns: the bitmask spread 8 words apart (the path
     without the snapshot), compacted by the fix pass's block 0 and by its last block. */
static void op_int8_sample_miss(void) {
    bnbq_cuda_device_info info;
    size_t l2, R, C = 256, R2, C2 = 128, R3, C3 = 20480, R4, C4 = 9216, i;
    float* x;
    int32_t cnt;
    memset(&info, 0, sizeof info);
    bnbq_cuda_query_device(g_ctx, &info);
    l2 = info.l2_bytes ? info.l2_bytes : (size_t)50 << 20;
    R = g_small ? 16384 : l2 / (2 * C) + 1;
    if (R < 16384) R = 16384;
    R2 = g_small ? 16384 : l2 / (2 * C2) + 1;
    if (R2 < 16384) R2 = 16384;
    R3 = l2 / 4 * 3 / (2 * C3) + 8;
    STOP();
    case_begin();
    label("int8_vectorwise_quant %zux%zu threshold=6, outliers in sampled and unsampled rows", R, C);
    x = (float*)H(R * C * 4);
    fill_normal(x, R * C, 1.0f);
    clip_abs(x, R * C, 5.5f);   /* no outlier but the ones placed below */
    x[0 * C + 5] = 9.0f; x[1 * C + 9] = -7.5f; x[(R - 1) * C + 255] = 12.0f; x[(R - 1) * C + 5] = 6.5f;
    x[150 * C + 64] = -30.0f; x[9000 * C + 100] = 7.0f;
    cnt = vw_quant_both((const uint16_t*)as_dtype(BNBQ_F16, x, R * C), R, C, 6.0f, 1);
    if (cnt != 5) case_fail("the CPU finds %d outlier columns, not 5", (int)cnt);
    case_end();
    STOP();
    case_begin();
    label("int8_vectorwise_quant %zux%zu threshold=0.5, every column an outlier column", R2, C2);
    x = (float*)H(R2 * C2 * 4);
    fill_normal(x, R2 * C2, 1.0f);
    for (i = 0; i < C2; i++) x[(i % R2) * C2 + i] = 3.0f;
    cnt = vw_quant_both((const uint16_t*)as_dtype(BNBQ_F16, x, R2 * C2), R2, C2, 0.5f, 1);
    if (cnt != (int32_t)C2) case_fail("the CPU finds %d outlier columns, not %zu", (int)cnt, C2);
    case_end();
    STOP();
    case_begin();
    /* the snapshot path with row blocks of 256 threads (more than 128 threads a row: 9216 columns),
       two waves of 4 blocks an SM */
    R4 = 2 * (size_t)(info.sm_count > 0 ? info.sm_count : 80) * 4 + 8;
    label("int8_vectorwise_quant %zux%zu threshold=6, snapshot path at 256 threads a row", R4, C4);
    x = (float*)H(R4 * C4 * 4);
    fill_normal(x, R4 * C4, 1.0f);
    clip_abs(x, R4 * C4, 5.5f);
    x[0 * C4 + 7] = 8.0f; x[2 * C4 + 9000] = -6.0f; x[700 * C4 + 7] = 10.0f; x[(R4 - 1) * C4 + 4321] = 6.25f;
    cnt = vw_quant_both((const uint16_t*)as_dtype(BNBQ_F16, x, R4 * C4), R4, C4, 6.0f, 1);
    if (cnt != 3) case_fail("the CPU finds %d outlier columns, not 3", (int)cnt);
    case_end();
    /* the same path with every column an outlier column: the compacted list fills out_outlier_cols
       over the (spread) bitmask, read in two chunks of 256 words (288 words) */
    STOP();
    case_begin();
    label("int8_vectorwise_quant %zux%zu threshold=0.5, every column an outlier column (snapshot path)", R4, C4);
    x = (float*)H(R4 * C4 * 4);
    fill_normal(x, R4 * C4, 0.1f);
    for (i = 0; i < R4 * C4; i++) x[i] = x[i] > 0.4f ? 0.4f : x[i] < -0.4f ? -0.4f : x[i];
    for (i = 0; i < C4; i++) x[(i % R4) * C4 + i] = 3.0f;
    cnt = vw_quant_both((const uint16_t*)as_dtype(BNBQ_F16, x, R4 * C4), R4, C4, 0.5f, 1);
    if (cnt != (int32_t)C4) case_fail("the CPU finds %d outlier columns, not %zu", (int)cnt, C4);
    case_end();
    /* without the snapshot (64 rows) the bitmask's words are spread 8 apart at the end of
       out_outlier_cols (bnbq_cuda.h, BNBQ__CU_I8_BMS): 256 columns leave 192 words below it, so
       100 outlier columns are compacted by the fix pass's block 0 and 256 by its last block */
    for (i = 0; i < 2; i++) {
        const size_t R5 = 64, C5 = 256, nout = i ? C5 : 100;
        size_t k;
        STOP();
        case_begin();
        label("int8_vectorwise_quant %zux%zu threshold=0.5, %zu outlier columns (spread bitmask)", R5, C5, nout);
        x = (float*)H(R5 * C5 * 4);
        fill_normal(x, R5 * C5, 0.1f);
        for (k = 0; k < R5 * C5; k++) x[k] = x[k] > 0.4f ? 0.4f : x[k] < -0.4f ? -0.4f : x[k];
        for (k = 0; k < nout; k++) x[(k % R5) * C5 + (k * 7) % C5] = 3.0f;
        cnt = vw_quant_both((const uint16_t*)as_dtype(BNBQ_F16, x, R5 * C5), R5, C5, 0.5f, 1);
        if (cnt != (int32_t)nout) case_fail("the CPU finds %d outlier columns, not %zu", (int)cnt, nout);
        case_end();
    }
    if (g_small) return;
    STOP();
    case_begin();
    label("int8_vectorwise_quant %zux%zu threshold=6 (one pass and the full fix)", R3, C3);
    vw_quant_both(make_f16_matrix(R3, C3, 1, 0), R3, C3, 6.0f, 1);
    case_end();
}

static void op_int8_vectorwise_dequant(void) {
    int s;
    for (s = 0; s < NSH; s++) {
        size_t R = k_shapes[s].rows, C = k_shapes[s].cols, n = R * C;
        void *hq, *hs, *dq, *ds, *ho, *dout;
        STOP();
        case_begin();
        label("%zux%zu", R, C);
        hq = H(n); fill_bytes(hq, n);
        hs = H(R * 4); fill_absmax((float*)hs, R);
        dq = U(hq, n); ds = U(hs, R * 4);
        ho = H(n * 4); dout = D(n * 4);
        if (both(bnbq_int8_vectorwise_dequant(NULL, (int8_t*)hq, (float*)hs, R, C, (float*)ho),
                 bnbq_int8_vectorwise_dequant(g_gex, (int8_t*)dq, (float*)ds, R, C, (float*)dout)))
            exact("out", ho, dout, n, BNBQ_F32);
        case_end();
    }
}

static void op_int8_double_quant(void) {
    static const float thr[3] = { 0.0f, 6.0f, 0.5f };
    int s, t;
    for (s = 0; s < NSH; s++)
        for (t = 0; t < 3; t++) {
            size_t R = k_shapes[s].rows, C = k_shapes[s].cols, n = R * C;
            uint16_t* A;
            void *dA, *hCA, *hCAt, *hrs, *hcs, *hoc, *hno, *dCA, *dCAt, *drs, *dcs, *doc, *dno;
            STOP();
            case_begin();
            label("%zux%zu threshold=%g", R, C, (double)thr[t]);
            A = make_f16_matrix(R, C, t == 1, s == 3);
            dA = U(A, n * 2);
            hCA = H(n); hCAt = H(n); hrs = H(R * 4); hcs = H(C * 4); hoc = H(C * 4); hno = H(4);
            dCA = D(n); dCAt = D(n); drs = D(R * 4); dcs = D(C * 4); doc = D(C * 4); dno = D(4);
            if (both(bnbq_int8_double_quant(NULL, BNBQ_F16, A, R, C, thr[t], (int8_t*)hCA, (int8_t*)hCAt, (float*)hrs,
                                            (float*)hcs, t ? (int32_t*)hoc : NULL, t ? (int32_t*)hno : NULL),
                     bnbq_int8_double_quant(g_gex, BNBQ_F16, dA, R, C, thr[t], (int8_t*)dCA, (int8_t*)dCAt, (float*)drs,
                                            (float*)dcs, t ? (int32_t*)doc : NULL, t ? (int32_t*)dno : NULL))) {
                exact("row_stats", hrs, drs, R, BNBQ_F32);
                exact("col_stats", hcs, dcs, C, BNBQ_F32);
                exact("CA", hCA, dCA, n, BNBQ_U8);
                exact("CAt", hCAt, dCAt, n, BNBQ_U8);
                if (t) {
                    int32_t cnt = *(int32_t*)hno;
                    exact("n_outliers", hno, dno, 1, BNBQ_I32);
                    if (cnt > 0 && (size_t)cnt <= C) exact("outlier_cols", hoc, doc, (size_t)cnt, BNBQ_I32);
                }
            }
            case_end();
        }
}

typedef struct mnk { size_t M, N, K; } mnk;
static const mnk k_mm[8] = { { 1, 1, 1 }, { 1, 7, 5 }, { 33, 100, 70 }, { 17, 64, 4099 }, { 3, 5, 140000 },
                             { 128, 256, 1024 }, { 256, 512, 4096 }, { 1, 4096, 4096 } };
#define NMM (g_small ? 4 : 8)

/* k_mm's shapes and nine for the kernel of a few rows of A (bnbq_cuda.h BNBQ__CU_MM_GV_M, kernels_src/int8mm.cu
   bnbq_k_int8_gemv: K % 16 == 0, A and B 16-byte aligned): M = 1 with K 16 (one lane's load), 4112 (a second
   round of loads, partly past K) and 4096, M = 8 (one group of rows of A), 9 (two, the second of one row) and
   16 (the most: two whole groups); M = 17 and K % 16 != 0 take the tile kernel. 2..16 rows take the
   tensor-core form on sm_80+ (bnbq_k_int8_mma: 16 rows of B a block, 64-byte steps split over 16 warps): N = 33
   (a last block of one row of B), K = 4112 (a last step of one 16-byte chunk), K = 147456 with the
   extremes (sums past 2^31: the s32 accumulation must wrap as the CPU's). Random bytes, and for four shapes
   also the extremes (-128 * -128 everywhere). Each shape a few-rows kernel takes runs with the kernel chosen,
   with the warp-a-row form (bnbq__cu_mm_tc_off) and with the tile kernels (bnbq__cu_mm_gemv_off), all exact
   against the CPU; the context's counts of their launches say which ran. The tile kernels: with K % 16 == 0
   and aligned A, B on sm_80+ the tensor-core one (bnbq_k_int8_tc: 128 x 128 tiles, 64-byte stages), else and
   with bnbq__cu_mm_tile_tc_off the SIMT one; every shape the tensor-core tile kernel takes also runs with the
   SIMT one (path 3). */
static const char* const k_mm_path[5] = { "", " (warp-a-row kernel)", " (tile kernel)", " (SIMT tile kernel)",
                                           " (sm_80 tile kernel)" };
/* off 0: the kernel chosen, 1: no tensor cores for few rows, 2: the tile kernel, 3: the SIMT tile kernel, 4: the
   sm_80 tile kernel where the sm_90a one would run (int8_linear_matmul, SwitchBack's matmuls). Sets the switches. */
static void mm_path_set(int off) {
    bnbq__cu_mm_tc_off = off == 1;
    bnbq__cu_mm_gemv_off = off >= 2;
    bnbq__cu_mm_tile_tc_off = off == 3;
    bnbq__cu_gemm_wg_off = off == 4;
}
/* the paths a shape runs: gv (a few-rows shape) 0..3, another with K % 16 == 0 0 and 3, else 0 */
static int mm_path_wanted(int off, size_t M, size_t K, int gv) {
    if (off == 1) return gv && M >= BNBQ__CU_MM_TC_MIN;   /* (M = 1: the same kernel as off 0) */
    if (off == 2) return gv;
    if (off == 3) return K % 16 == 0;
    return 1;
}
/* after a call: fails the case unless the kernel that ran is the one expected of M on this GPU; wg_can: the
   shape and GPU allow the sm_90a tiles (taken on the tile path, off 0 past the few-rows kernels or off 2), w0:
   the context's count of their launches before the call */
static void mm_path_check(bnbq_cuda* gc, unsigned long gv0, unsigned long tc0, unsigned long tt0, unsigned long w0,
                          size_t M, size_t K, int gv, int off, int wg_can) {
    const int few = gv && off < 2, tc = few && off == 0 && M >= BNBQ__CU_MM_TC_MIN && gc->target_arch >= 80;
    const int tt = !few && K % 16 == 0 && off != 3 && gc->target_arch >= 80;
    const int wg = wg_can && ((off == 0 && !gv) || off == 2);
    mm_path_set(0);
    if (g_plumbing) return;   /* (--fake-plumbing: CPU kernels) */
    if ((gc->mm_gemv_launches - gv0 == 1) != few) case_fail("the few-rows kernel was %s", few ? "not used" : "used");
    if ((gc->mm_tc_launches - tc0 == 1) != tc) case_fail("the tensor-core kernel was %s", tc ? "not used" : "used");
    if ((gc->mm_tile_tc_launches - tt0 == 1) != tt)
        case_fail("the tensor-core tile kernel was %s", tt ? "not used" : "used");
    if ((gc->gemm_wg_launches - w0 == 1) != wg) case_fail("the sm_90a tile kernel was %s", wg ? "not used" : "used");
}
static void op_int8_linear_matmul(void) {
    /* NMM + 12..: the tensor-core tile kernel's edges: M, N past a tile and K past a stage (4112 = 64 * 64
       + 16), one 16-byte chunk of K, odd N (no paired int32 stores), one stage, many m tiles of one n
       tile, several tiles (the grid's raster: groups of 8 m tiles), sums past 2^31 (the extremes) */
    /* NMM + 20..: the sm_90a tiles (bnbq_k_int8_wg on an H100 / H200: N % 4 == 0; 128 k a stage): K of one
       16-byte chunk, K past a stage, tiles cut in M and N, more tiles than SMs (a block's second tile),
       N % 4 != 0 (the sm_80 tiles) */
    static const mnk more[25] = { { 1, 33, 16 }, { 1, 300, 4112 }, { 1, 4096, 4096 }, { 5, 1000, 8192 },
                                  { 8, 2048, 14336 }, { 9, 64, 4096 }, { 16, 1001, 4112 }, { 17, 64, 4096 },
                                  { 2, 64, 4104 }, { 9, 40, 147456 }, { 16, 33, 4112 }, { 3, 700, 14336 },
                                  { 200, 300, 4112 }, { 50, 70, 16 }, { 33, 101, 96 }, { 129, 136, 64 },
                                  { 1100, 8, 128 }, { 1300, 300, 512 }, { 40, 72, 147456 }, { 2048, 1024, 256 },
                                  { 130, 260, 16 }, { 300, 136, 400 }, { 2000, 2056, 144 }, { 77, 4100, 4112 },
                                  { 260, 130, 272 } };
    int s, v, off;
    for (s = 0; s < NMM + 25; s++)
        for (v = 0; v < 2; v++)
            for (off = 0; off < 5; off++) {
                const mnk sh = s < NMM ? k_mm[s] : more[s - NMM];
                const size_t M = sh.M, N = sh.N, K = sh.K;
                const int gv = M <= BNBQ__CU_MM_GV_M && K % 16 == 0;
                bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                const int wg_can = K % 16 == 0 && N % 4 == 0 && bnbq__cu_wg_ok(gc);   /* (mm_path_check) */
                unsigned long before = gc->mm_gemv_launches, tc0 = gc->mm_tc_launches, tt0 = gc->mm_tile_tc_launches;
                unsigned long w0 = gc->gemm_wg_launches;
                void *hA, *hB, *dA, *dB, *ho, *dout;
                STOP();
                if (v == 1 && s != 4 && s != 1 && s != NMM + 2 && s != NMM + 9 && s != NMM + 12 && s != NMM + 18) continue;
                if (off == 4 ? !wg_can : !mm_path_wanted(off, M, K, gv)) continue;
                if (g_small && s >= NMM && K * N > ((size_t)1 << 22)) continue;
                case_begin();
                label("M=%zu N=%zu K=%zu %s%s", M, N, K, v ? "extremes (wrapping)" : "random", k_mm_path[off]);
                hA = H(M * K); hB = H(N * K);
                if (v) { memset(hA, 0x80, M * K); memset(hB, 0x80, N * K); }   /* -128 * -128, wraps past 2^31 */
                else { fill_bytes(hA, M * K); fill_bytes(hB, N * K); }
                dA = U(hA, M * K); dB = U(hB, N * K);
                ho = H(M * N * 4); dout = D(M * N * 4);
                mm_path_set(off);
                if (both(bnbq_int8_linear_matmul(NULL, (int8_t*)hA, (int8_t*)hB, M, N, K, (int32_t*)ho),
                         bnbq_int8_linear_matmul(g_gex, (int8_t*)dA, (int8_t*)dB, M, N, K, (int32_t*)dout)))
                    exact("out", ho, dout, M * N, BNBQ_I32);
                mm_path_check(gc, before, tc0, tt0, w0, M, K, gv, off, wg_can);
                case_end();
            }
}

static void op_int8_mm_dequant(void) {
    static const int bias_dts[4] = { -1, BNBQ_F16, BNBQ_F32, BNBQ_BF16 };
    int s, d, b;
    for (s = 0; s < NSH; s++)
        for (d = 0; d < 3; d++)
            for (b = 0; b < 4; b++) {
                size_t M = k_shapes[s].rows, N = k_shapes[s].cols, i, es;
                bnbq_dtype dt = k_dts[d];
                bnbq_dtype bdt = bias_dts[b] < 0 ? BNBQ_F16 : (bnbq_dtype)bias_dts[b];
                int32_t* A;
                float *rs, *cs, *bf;
                void *bias = NULL, *dA, *drs, *dcs, *dbias = NULL, *ho, *dout;
                STOP();
                if (b > 0 && d != 1 && s != 3 && s != 8) continue;   /* 8: a row split over blocks */
                case_begin();
                label("%zux%zu %s bias=%s", M, N, bnbq_dtype_name(dt), bias_dts[b] < 0 ? "none" : bnbq_dtype_name(bdt));
                es = bnbq_dtype_size(dt);
                A = (int32_t*)H(M * N * 4);
                for (i = 0; i < M * N; i++) A[i] = (int32_t)(rng_u64() % 2000001) - 1000000;
                rs = (float*)H(M * 4); fill_absmax(rs, M);
                cs = (float*)H(N * 4); fill_absmax(cs, N);
                if (M > 3) rs[1] = 1.0f, rs[2] = 300.0f, rs[3] = 127.0f;
                /* specials: an f16 overflow (row 4), inf and NaN column scales, inf * 0 (NaN) */
                if (M > 4) rs[4] = 1e30f;
                if (N > 4) {
                    cs[N - 1] = INFINITY;
                    cs[N - 2] = NAN;
                    A[N - 1] = 0;
                }
                if (bias_dts[b] >= 0) {
                    bf = (float*)H(N * 4);
                    fill_normal(bf, N, 2.0f);
                    if (N > 6) bf[N - 3] = INFINITY, bf[N - 4] = -INFINITY, bf[N - 5] = NAN, bf[0] = 70000.0f;
                    bias = as_dtype(bdt, bf, N);
                    dbias = U(bias, N * bnbq_dtype_size(bdt));
                }
                dA = U(A, M * N * 4); drs = U(rs, M * 4); dcs = U(cs, N * 4);
                ho = H(M * N * es); dout = D(M * N * es);
                if (both(bnbq_int8_mm_dequant(NULL, dt, A, rs, cs, M, N, ho, bdt, bias),
                         bnbq_int8_mm_dequant(g_gex, dt, (int32_t*)dA, (float*)drs, (float*)dcs, M, N, dout, bdt, dbias)))
                    exact("out", ho, dout, M * N, dt);
                case_end();
            }
}

static void op_quantize_rowwise(void) {
    int s;
    for (s = 0; s < NSH; s++) {
        size_t R = k_shapes[s].rows, C = k_shapes[s].cols;
        STOP();
        case_begin();
        label("%zux%zu", R, C);
        rowwise_both(make_f16_matrix(R, C, 1, 1), R, C);
        case_end();
    }
}

static void op_quantize_columnwise_and_transpose(void) {
    int s;
    for (s = 0; s < NSH; s++) {
        size_t R = k_shapes[s].rows, C = k_shapes[s].cols, n = R * C;
        uint16_t* X;
        void *dX, *hq, *hs, *dq, *ds;
        STOP();
        case_begin();
        label("%zux%zu", R, C);
        X = make_f16_matrix(R, C, 1, 1);
        dX = U(X, n * 2);
        hq = H(n); hs = H(C * 2); dq = D(n); ds = D(C * 2);
        if (both(bnbq_quantize_columnwise_and_transpose(NULL, BNBQ_F16, X, R, C, (int8_t*)hq, (uint16_t*)hs),
                 bnbq_quantize_columnwise_and_transpose(g_gex, BNBQ_F16, dX, R, C, (int8_t*)dq, (uint16_t*)ds))) {
            exact("state", hs, ds, C, BNBQ_F16);
            exact("q", hq, dq, n, BNBQ_U8);
        }
        case_end();
    }
}

static void op_quantize_global_int8(void) {
    int k;
    for (k = 0; k < NS; k++) {
        size_t n = SZ(k);
        uint16_t* X;
        void *dX, *hq, *ha, *dq, *da;
        STOP();
        case_begin();
        label("n=%zu", n);
        X = make_f16_matrix(1, n, 0, 1);
        dX = U(X, n * 2);
        hq = H(n); ha = H(2); dq = D(n); da = D(2);
        if (both(bnbq_quantize_global_int8(NULL, BNBQ_F16, X, n, (int8_t*)hq, (uint16_t*)ha),
                 bnbq_quantize_global_int8(g_gex, BNBQ_F16, dX, n, (int8_t*)dq, (uint16_t*)da))) {
            exact("absmax", ha, da, 1, BNBQ_F16);
            exact("q", hq, dq, n, BNBQ_U8);
        }
        case_end();
    }
}

static void op_quantize_global_int8_transpose(void) {
    int s;
    for (s = 0; s < NSH; s++) {
        size_t R = k_shapes[s].rows, C = k_shapes[s].cols, n = R * C;
        uint16_t* X;
        void *dX, *hq, *ha, *dq, *da;
        STOP();
        case_begin();
        label("%zux%zu", R, C);
        X = make_f16_matrix(R, C, 0, 1);
        dX = U(X, n * 2);
        hq = H(n); ha = H(2); dq = D(n); da = D(2);
        if (both(bnbq_quantize_global_int8_transpose(NULL, BNBQ_F16, X, R, C, (int8_t*)hq, (uint16_t*)ha),
                 bnbq_quantize_global_int8_transpose(g_gex, BNBQ_F16, dX, R, C, (int8_t*)dq, (uint16_t*)da))) {
            exact("absmax", ha, da, 1, BNBQ_F16);
            exact("q", hq, dq, n, BNBQ_U8);
        }
        case_end();
    }
}

static void op_dequantize_rowwise(void) {
    int s;
    for (s = 0; s < NSH; s++) {
        size_t R = k_shapes[s].rows, C = k_shapes[s].cols, n = R * C;
        float* st;
        void *hq, *hs, *dq, *ds, *ho, *dout;
        STOP();
        case_begin();
        label("%zux%zu", R, C);
        hq = H(n); fill_bytes(hq, n);
        st = (float*)H(R * 4); fill_absmax(st, R);
        hs = as_dtype(BNBQ_F16, st, R);
        dq = U(hq, n); ds = U(hs, R * 2);
        ho = H(n * 2); dout = D(n * 2);
        if (both(bnbq_dequantize_rowwise(NULL, (int8_t*)hq, (uint16_t*)hs, R, C, (uint16_t*)ho),
                 bnbq_dequantize_rowwise(g_gex, (int8_t*)dq, (uint16_t*)ds, R, C, (uint16_t*)dout)))
            exact("out", ho, dout, n, BNBQ_F16);
        case_end();
    }
}

/* k_mm's shapes and four for the few-rows kernels (bnbq_k_sb_gemv / bnbq_k_sb_mma: M <= BNBQ__CU_MM_GV_M,
   K % 16 == 0), each with and without a bias, and the shapes those kernels take also with the warp-a-row
   form and the tile kernel (as op_int8_linear_matmul); the context's counts of launches say which ran */
static void sb_matmul(int mixed) {
    /* more + 7..: the sm_90a tiles (bnbq_k_sb_wg on an H100 / H200: N % 8 == 0): tiles cut in M and N, K past
       a stage, more tiles than SMs (off 4: the sm_80 tiles instead) */
    static const mnk more[11] = { { 16, 1001, 4112 }, { 9, 64, 4096 }, { 1, 33, 16 }, { 4, 100, 8192 },
                                  { 200, 300, 4112 }, { 33, 101, 96 }, { 1300, 300, 512 }, { 200, 264, 4112 },
                                  { 130, 136, 144 }, { 1300, 296, 512 }, { 2000, 2056, 272 } };
    int s, b, off;
    for (s = 0; s < NMM + 11; s++)
        for (b = 0; b < 2; b++)
            for (off = 0; off < 5; off++) {
                const mnk sh = s < NMM ? k_mm[s] : more[s - NMM];
                size_t M = sh.M, N = sh.N, K = sh.K;
                const int gv = M <= BNBQ__CU_MM_GV_M && K % 16 == 0;
                bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                const int wg_can = K % 16 == 0 && N % 8 == 0 && bnbq__cu_wg_ok(gc);   /* (mm_path_check) */
                unsigned long w0 = gc->gemm_wg_launches;
                unsigned long before = gc->mm_gemv_launches, tc0 = gc->mm_tc_launches, tt0 = gc->mm_tile_tc_launches;
                float *sx, *sw, *bf;
                void *ha, *hw, *hsx, *hsw, *hb = NULL, *da, *dw, *dsx, *dsw, *db = NULL, *ho, *dout;
                size_t nsw = mixed ? 1 : N;
                STOP();
                if (off == 4 ? !wg_can : !mm_path_wanted(off, M, K, gv)) continue;
                if (g_small && s >= NMM && K * N > ((size_t)1 << 22)) continue;
                case_begin();
                label("M=%zu N=%zu K=%zu bias=%d%s", M, N, K, b, k_mm_path[off]);
                ha = H(M * K); fill_bytes(ha, M * K);
                hw = H(N * K); fill_bytes(hw, N * K);
                sx = (float*)H(M * 4); fill_absmax(sx, M);
                sw = (float*)H(nsw * 4); fill_absmax(sw, nsw);
                hsx = as_dtype(BNBQ_F16, sx, M);
                hsw = as_dtype(BNBQ_F16, sw, nsw);
                if (b) {
                    bf = (float*)H(N * 4);
                    fill_normal(bf, N, 1.0f);
                    hb = as_dtype(BNBQ_F16, bf, N);
                    db = U(hb, N * 2);
                }
                da = U(ha, M * K); dw = U(hw, N * K); dsx = U(hsx, M * 2); dsw = U(hsw, nsw * 2);
                ho = H(M * N * 2); dout = D(M * N * 2);
                mm_path_set(off);
                if (mixed) {
                    if (both(bnbq_int8_matmul_mixed_dequantize(NULL, (int8_t*)ha, (int8_t*)hw, (uint16_t*)hsx, (uint16_t*)hsw,
                                                               M, N, K, (uint16_t*)ho, (uint16_t*)hb),
                             bnbq_int8_matmul_mixed_dequantize(g_gex, (int8_t*)da, (int8_t*)dw, (uint16_t*)dsx, (uint16_t*)dsw,
                                                               M, N, K, (uint16_t*)dout, (uint16_t*)db)))
                        exact("out", ho, dout, M * N, BNBQ_F16);
                } else {
                    if (both(bnbq_int8_matmul_rowwise_dequantize(NULL, (int8_t*)ha, (int8_t*)hw, (uint16_t*)hsx, (uint16_t*)hsw,
                                                                 M, N, K, (uint16_t*)ho, (uint16_t*)hb),
                             bnbq_int8_matmul_rowwise_dequantize(g_gex, (int8_t*)da, (int8_t*)dw, (uint16_t*)dsx, (uint16_t*)dsw,
                                                                 M, N, K, (uint16_t*)dout, (uint16_t*)db)))
                        exact("out", ho, dout, M * N, BNBQ_F16);
                }
                mm_path_check(gc, before, tc0, tt0, w0, M, K, gv, off, wg_can);
                case_end();
            }
}

static void op_int8_matmul_rowwise_dequantize(void) { sb_matmul(0); }
static void op_int8_matmul_mixed_dequantize(void) { sb_matmul(1); }

/* ---- 4-bit matmul ------------------------------------------------------------------------------ */

/* a weight (N, K) quantized on the CPU, uploaded; A (M, K) in dt; optional bias (N,) in dt */
typedef struct w4 { void *hp, *ha, *dp, *da, *hA, *dA, *hb, *db; } w4;
static void make_w4(w4* w, bnbq_quant_type qt, bnbq_dtype dt, size_t M, size_t N, size_t K, int bs, int bias) {
    size_t nw = N * K, nb = nblocks_of(nw, (size_t)bs), np = (nw + 1) / 2;
    float* W = (float*)H(nw * 4);
    float* a = (float*)H(M * K * 4);
    fill_normal(W, nw, 0.05f);
    if (nw > (size_t)bs * 2) memset(W + bs, 0, (size_t)bs * 4);   /* an all-zero block */
    w->hp = H(np); w->ha = H(nb * 4);
    if (bnbq_quantize_4bit(NULL, qt, BNBQ_F32, W, nw, bs, (uint8_t*)w->hp, (float*)w->ha) != BNBQ_SUCCESS)
        fatal("quantize_4bit on the CPU");
    w->dp = U(w->hp, np); w->da = U(w->ha, nb * 4);
    fill_normal(a, M * K, 1.0f);
    w->hA = as_dtype(dt, a, M * K);
    w->dA = U(w->hA, M * K * bnbq_dtype_size(dt));
    w->hb = w->db = NULL;
    if (bias) {
        float* bf = (float*)H(N * 4);
        fill_normal(bf, N, 0.5f);
        w->hb = as_dtype(dt, bf, N);
        w->db = U(w->hb, N * bnbq_dtype_size(dt));
    }
}

typedef struct nk { size_t N, K; } nk;

/* gemv_4bit (and matmul_4bit with one token) runs twice on the GPU: on the run's context, whose
   default is the exact summation order (byte-identical to the CPU), and on a second context with
   bnbq_cuda_desc.gemv_fast_order = 1 (F16 / BF16 within relative L2 2e-3 / 1e-2 of the CPU; F32
   keeps the exact order there too and must be byte-identical). */
static bnbq_cuda* g_xctx;        /* the fast-order context (created on first use)               */
static bnbq_exec  g_xex;
static bnbq_exec* fast_order_exec(void) {
    bnbq_cuda_desc d;
    if (g_plumbing) return g_gex;   /* the fake driver: CPU kernels either way */
    if (g_xctx) return &g_xex;
    memset(&d, 0, sizeof d);
    d.cache_dir = g_cache_dir[0] ? g_cache_dir : NULL;
    d.disable_disk_cache = g_cache_dir[0] == 0;
    d.gemv_fast_order = 1;
    if (bnbq_cuda_init(&d, &g_xctx) != BNBQ_SUCCESS) fatal("bnbq_cuda_init (gemv_fast_order = 1)");
    bnbq_cuda_exec_init(g_xctx, NULL, &g_xex);
    return &g_xex;
}

static void gemv_checks(const void* ho, const void* dout, size_t M, size_t N, size_t K, bnbq_dtype dt,
                        bnbq_quant_type qt, const float* code, const w4* w, int bs) {
    const size_t n = M * N;
    if (dt == BNBQ_F32) { exact("out", ho, dout, n, dt); O.exact_cases++; return; }
    {
        const void* g = B(dout, n * bnbq_dtype_size(dt));
        const float* q = code ? code : bnbq_code_4bit(qt);
        const uint8_t* p = (const uint8_t*)w->hp;
        const float* am = (const float*)w->ha;
        double sd = 0.0, ss = 0.0, lim = dt == BNBQ_F16 ? 2e-3 : 1e-2;
        size_t m, r, k, i;
        for (i = 0; i < n; i++) {
            const double a = widen(dt, ho, i), b = widen(dt, g, i);
            sd += (a - b) * (a - b);
            ss += a * a;
        }
        if (ss > 0.0 && sqrt(sd / ss) > lim) {   /* the float64 product, only then */
            const double u = dt == BNBQ_F16 ? 1.0 / 2048.0 : 1.0 / 256.0;
            size_t bad = 0;
            for (m = 0; m < M; m++)
                for (r = 0; r < N; r++) {
                    double acc = 0.0, sabs = 0.0, ex;
                    for (k = 0; k < K; k++) {
                        const size_t e = r * K + k;
                        const unsigned nib = (e & 1) ? (p[e >> 1] & 15u) : (unsigned)(p[e >> 1] >> 4);
                        const double pr = widen(dt, w->hA, m * K + k) * (double)q[nib] * (double)am[e / (size_t)bs];
                        acc += pr;
                        sabs += fabs(pr);
                    }
                    ex = acc + (w->hb ? widen(dt, w->hb, r) : 0.0);
                    if (!(fabs(widen(dt, g, m * N + r) - ex) <= u * (sabs + fabs(ex)))) bad++;
                }
            if (bad == 0) {
                O.tol_cases++;
                O.elements += (double)n;
                return;
            }
        }
        within_tol("out", dt, ho, dout, n);
    }
}

static void op_gemv_4bit(void) {
    float custom[16];
    int q, d, b, s, i;
    for (i = 0; i < 16; i++) custom[i] = bnbq_code_4bit(BNBQ_NF4)[i] * 0.9f + 0.01f * (float)(i % 3);
    for (q = 0; q < 2; q++)
        for (d = 0; d < 3; d++)
            for (b = 0; b < 4; b++)
                for (s = 0; s < (g_small ? 3 : 6); s++) {
                    bnbq_quant_type qt = q ? BNBQ_NF4 : BNBQ_FP4;
                    bnbq_dtype dt = k_dts[d];
                    size_t bs = (size_t)k_bs4[b], es = bnbq_dtype_size(dt);
                    nk shapes[6];
                    size_t N, K;
                    int bias = s & 1;
                    const float* code = (s == 2) ? custom : NULL;
                    w4 w;
                    void *ho, *dout;
                    shapes[0].N = 1; shapes[0].K = bs;
                    shapes[1].N = 7; shapes[1].K = 6 * bs;   /* bs 64: K % 256 != 0 (the tensor-core kernel's 8-byte scale loads) */
                    shapes[2].N = 33; shapes[2].K = bs > 1024 ? bs : 1024;
                    shapes[3].N = 4099; shapes[3].K = 4096;
                    shapes[4].N = 4096; shapes[4].K = 2 * 4096;
                    shapes[5].N = 5001; shapes[5].K = 13 * 1024;   /* several rounds of the warps, K > 2 segments */
                    N = shapes[s].N; K = shapes[s].K;
                    STOP();
                    if (s >= 3 && bs != 64) continue;   /* the large shapes with one blocksize (CPU time) */
                    case_begin();
                    label("%s %s bs=%zu N=%zu K=%zu bias=%d code=%s", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bs, N, K,
                          bias, code ? "custom" : "built-in");
                    make_w4(&w, qt, dt, 1, N, K, (int)bs, bias);
                    ho = H(N * es); dout = D(N * es);
                    if (both(bnbq_gemv_4bit(NULL, qt, dt, w.hA, (uint8_t*)w.hp, (float*)w.ha, N, K, (int)bs, ho, w.hb, code),
                             bnbq_gemv_4bit(g_gex, qt, dt, w.dA, (uint8_t*)w.dp, (float*)w.da, N, K, (int)bs, dout, w.db, code))) {
                        exact("out", ho, dout, N, dt);
                        O.exact_cases++;
                        if (!g_touch) {
                            bnbq_exec* xe = fast_order_exec();
                            void* dx = D(N * es);
                            if (both(BNBQ_SUCCESS, bnbq_gemv_4bit(xe, qt, dt, w.dA, (uint8_t*)w.dp, (float*)w.da, N, K,
                                                                  (int)bs, dx, w.db, code)) &&
                                both(BNBQ_SUCCESS, bnbq_cuda_synchronize(xe)))
                                gemv_checks(ho, dx, 1, N, K, dt, qt, code, &w, (int)bs);
                        }
                    }
                    case_end();
                }
}

/* gemv_4bit calls queued back to back, each layer's output the next one's activation, with no
   synchronisation between them (how a decoder runs): on sm_90 the tensor-core gemv lets the gemv after
   it launch while it runs (programmatic dependent launch), and that one waits before it reads its
   activation. Every intermediate buffer starts as 0xff bytes (NaN in f16 / bf16); each layer's output
   must match the CPU's gemv of its input as the GPU left it (downloaded after the chain). The chain
   runs twice, the second time checked: the first compiles or loads its kernels, so that in the second
   all the gemvs are queued (behind a long memset on the same stream) before the first one starts. Two
   chains, both orders: square layers (bnbq_k_gemv4tc_w), and layers of 640 rows (160 tiles of 4 rows:
   28 of the 132 blocks take two) between layers with K = 640 (bnbq_k_gemv4tc). What this does not
   show: on the H100 a version of the tensor-core kernels that staged the activation BEFORE its wait
   passed it too (9 runs of four forms of this test in session 16,
   bench/results/gpu-20261123-h100-session16-gemv-chain.txt), so it
   checks the values of queued chains, not that such a race would be seen. */
static void op_gemv_4bit_chain(void) {
    enum { L = 4 };
    static const nk sq[L] = { { 4096, 4096 }, { 4096, 4096 }, { 4096, 4096 }, { 4096, 4096 } };
    static const nk sq_small[L] = { { 512, 512 }, { 512, 512 }, { 512, 512 }, { 512, 512 } };
    static const nk nar[L] = { { 640, 16384 }, { 4096, 640 }, { 640, 4096 }, { 4096, 640 } };
    static const nk nar_small[L] = { { 640, 4096 }, { 512, 640 }, { 640, 512 }, { 512, 640 } };
    int o, d, s, l;
    for (o = 0; o < 2; o++)
        for (d = 1; d < 3; d++)
            for (s = 0; s < 2; s++) {
                const bnbq_dtype dt = k_dts[d];
                const nk* dims = s ? (g_small ? nar_small : nar) : (g_small ? sq_small : sq);
                const size_t es = bnbq_dtype_size(dt);
                const size_t nb = (size_t)(g_small ? 16 : 256) << 20;   /* the memset that goes first */
                bnbq_exec* ex;
                w4 w[L];
                void *dx[L + 1], *blk;
                int ok = 1, rep;
                STOP();
                if (o && g_touch) continue;
                ex = o ? fast_order_exec() : g_gex;
                case_begin();
                label("%s order, %s, %d layers back to back, %zux%zu .. %zux%zu", o ? "fast" : "exact", bnbq_dtype_name(dt),
                      (int)L, dims[0].N, dims[0].K, dims[L - 1].N, dims[L - 1].K);
                for (l = 0; l < L; l++) make_w4(&w[l], BNBQ_NF4, dt, 1, dims[l].N, dims[l].K, 64, l & 1);
                dx[0] = w[0].dA;
                for (l = 1; l <= L; l++) dx[l] = D(dims[l - 1].N * es);
                blk = D(nb);
                for (rep = 0; rep < 2 && ok; rep++) {   /* rep 0: the kernels compiled / loaded; rep 1 checked */
                    for (l = 1; l <= L; l++)
                        if (bnbq_cuda_memset(g_gex, dx[l], 0xff, dims[l - 1].N * es) != BNBQ_SUCCESS) fatal("bnbq_cuda_memset");
                    if (bnbq_cuda_synchronize(g_gex) != BNBQ_SUCCESS) fatal("bnbq_cuda_synchronize");
                    if (bnbq_cuda_memset(ex, blk, 0, nb) != BNBQ_SUCCESS) fatal("bnbq_cuda_memset");
                    for (l = 0; l < L && ok; l++)
                        ok = both(BNBQ_SUCCESS, bnbq_gemv_4bit(ex, BNBQ_NF4, dt, dx[l], (uint8_t*)w[l].dp, (float*)w[l].da,
                                                               dims[l].N, dims[l].K, 64, dx[l + 1], w[l].db, NULL));
                    if (ok) ok = both(BNBQ_SUCCESS, bnbq_cuda_synchronize(ex));
                }
                for (l = 0; l < L && ok && !O.case_failed; l++) {
                    const size_t N = dims[l].N, K = dims[l].K;
                    const void* in = l == 0 ? w[0].hA : B(dx[l], K * es);   /* this layer's input, as the GPU left it */
                    void* ho = H(N * es);
                    if (!both(bnbq_gemv_4bit(NULL, BNBQ_NF4, dt, in, (uint8_t*)w[l].hp, (float*)w[l].ha, N, K, 64, ho, w[l].hb, NULL),
                              BNBQ_SUCCESS))
                        break;
                    if (o == 0) {
                        exact("out", ho, dx[l + 1], N, dt);
                        O.exact_cases++;   /* per layer, as gemv_checks counts the fast order's */
                    } else {
                        w[l].hA = (void*)in;
                        gemv_checks(ho, dx[l + 1], 1, N, K, dt, BNBQ_NF4, NULL, &w[l], 64);
                    }
                }
                case_end();
            }
}

/* Several tokens: the 64 x 64 tiles, or with 2..16 tokens, f16 / bf16, K % 32 == 0 on sm_80+ the
   tensor-core form (bnbq_k_matmul4_mma: 16 rows of W a block, 128 elements of K a warp step), or with more
   than 16 tokens, f16 / bf16, K % 32 == 0, N % 8 == 0 on sm_90 the sm_90a tiles that convert the weight in
   registers (bnbq_k_m4_wg; blocksizes 32 and 4096 too: two absmax a stage, blocks across rows): their
   shapes also run with the 64 x 64 tiles (bnbq__cu_m4_mma_off / bnbq__cu_m4_wg_off), all within the tolerance
   of the CPU's double sums, and the context's counts of launches say which ran. The tensor-core form's shapes:
   one token tile and two (M = 9, 16), N past a block (33, 1000), K of one chunk (32), a last step of one chunk
   (4128), K = 14336. The sm_90a tiles': one stage of half a stage's k (K = 32, N = 8), a last stage of half
   (4128), rows and columns past a tile (M 40, 300, N 136, 264), more tiles than SMs (600 x 3400: 135 tiles of
   two stages; its CPU sums are long, so NF4 and blocksize 64 only). */
static void op_matmul_4bit(void) {
    static const mnk shapes[15] = { { 2, 7, 100 }, { 1, 33, 100 }, { 33, 64, 256 }, { 1, 64, 256 },
                                    { 5, 129, 4096 }, { 16, 33, 4096 }, { 8, 16, 32 }, { 9, 1000, 4128 },
                                    { 17, 8, 32 }, { 40, 136, 4128 },
                                    { 64, 512, 1024 }, { 2, 300, 14336 }, { 12, 64, 256 }, { 300, 264, 1024 },
                                    { 600, 3400, 96 } };
    static const int bss[4] = { 64, 128, 32, 4096 };
    int q, d, b, s, off;
    for (s = 0; s < (g_small ? 10 : 15); s++)
        for (q = 0; q < 2; q++)
            for (d = 0; d < 3; d++)
                for (b = 0; b < 4; b++)
                    for (off = 0; off < 2; off++) {
                        bnbq_quant_type qt = q ? BNBQ_NF4 : BNBQ_FP4;
                        bnbq_dtype dt = k_dts[d];
                        size_t M = shapes[s].M, N = shapes[s].N, K = shapes[s].K, es = bnbq_dtype_size(dt);
                        int bs = bss[b], bias = (s + b) & 1;
                        int gemv_path = M == 1 && K % (size_t)bs == 0;
                        bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                        const int mma = M >= 2 && M <= 16 && dt != BNBQ_F32 && K % 32 == 0 && gc->target_arch >= 80;
                        const int wg = M > 16 && dt != BNBQ_F32 && K % 32 == 0 && N % 8 == 0 && bnbq__cu_wg_ok(gc);
                        unsigned long m4_0 = gc->m4_mma_launches, wg0 = gc->m4_wg_launches;
                        w4 w;
                        void *ho, *dout;
                        STOP();
                        if ((off && !mma && !wg) || (b >= 2 && !(M > 16 && K % 32 == 0 && N % 8 == 0)) ||
                            (s == 14 && (q == 0 || b > 0)))
                            continue;
                        case_begin();
                        label("%s %s bs=%d M=%zu N=%zu K=%zu bias=%d%s", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bs, M, N, K,
                              bias, gemv_path ? " (one token: gemv_4bit, exact)" : !mma && !wg ? "" : off ? " (tiles)" :
                              mma ? " (tensor cores)" : " (sm_90a tiles)");
                        make_w4(&w, qt, dt, M, N, K, bs, bias);
                        ho = H(M * N * es); dout = D(M * N * es);
                        bnbq__cu_m4_mma_off = bnbq__cu_m4_wg_off = off;
                        if (both(bnbq_matmul_4bit(NULL, qt, dt, w.hA, (uint8_t*)w.hp, (float*)w.ha, M, N, K, bs, ho, w.hb, NULL),
                                 bnbq_matmul_4bit(g_gex, qt, dt, w.dA, (uint8_t*)w.dp, (float*)w.da, M, N, K, bs, dout, w.db, NULL))) {
                            bnbq__cu_m4_mma_off = bnbq__cu_m4_wg_off = 0;
                            if (!g_plumbing && (gc->m4_mma_launches - m4_0 == 1) != (mma && !off))
                                case_fail("the tensor-core kernel was %s", mma && !off ? "not used" : "used");
                            if (!g_plumbing && (gc->m4_wg_launches - wg0 == 1) != (wg && !off))
                                case_fail("the sm_90a tile kernel was %s", wg && !off ? "not used" : "used");
                            if (gemv_path) {
                                exact("out", ho, dout, M * N, dt);
                                O.exact_cases++;
                                if (!g_touch) {
                                    bnbq_exec* xe = fast_order_exec();
                                    void* dx = D(M * N * es);
                                    if (both(BNBQ_SUCCESS, bnbq_matmul_4bit(xe, qt, dt, w.dA, (uint8_t*)w.dp, (float*)w.da, M, N,
                                                                            K, bs, dx, w.db, NULL)) &&
                                        both(BNBQ_SUCCESS, bnbq_cuda_synchronize(xe)))
                                        gemv_checks(ho, dx, M, N, K, dt, qt, NULL, &w, bs);
                                }
                            } else within_tol("out", dt, ho, dout, M * N);
                        }
                        bnbq__cu_m4_mma_off = bnbq__cu_m4_wg_off = 0;
                        case_end();
                    }
}

/* ---- the layers' building blocks (bnbq.h >>prims) --------------------------------------------- */

/* n random normal values as dt (host) */
static void* rnd_dt(bnbq_dtype dt, size_t n, float scale) {
    float* x = (float*)H(n * 4);
    fill_normal(x, n, scale);
    return as_dtype(dt, x, n);
}
/* n indices in [0, num_rows) (repeats likely when n > num_rows) */
static int32_t* rnd_idx(size_t n, size_t num_rows) {
    int32_t* p = (int32_t*)H(n * 4);
    size_t i;
    for (i = 0; i < n; i++) p[i] = (int32_t)(rng_u64() % num_rows);
    return p;
}
/* k distinct columns of [0, K) in random order, in a buffer of cap entries (the rest poison) */
static int cmp_i32_asc(const void* a, const void* b) {
    const int32_t x = *(const int32_t*)a, y = *(const int32_t*)b;
    return (x > y) - (x < y);
}
static int32_t* rnd_cols(size_t k, size_t K, size_t cap) {
    int32_t* p = (int32_t*)H(cap * 4);
    size_t i, j;
    for (i = 0; i < k; i++) {
        int32_t c;
        int again;
        do {
            c = (int32_t)(rng_u64() % K);
            again = 0;
            for (j = 0; j < i; j++) if (p[j] == c) again = 1;
        } while (again);
        p[i] = c;
    }
    return p;
}
/* one bnbq_gemm case against the CPU: random A, B (stored as ta / tb say), a bias (N,) when bias, the old
   out added when acc; within tolerance(dt) */
static void gemm_compare(bnbq_dtype dt, int ta, int tb, size_t M, size_t N, size_t K, int bias, int acc) {
    const size_t es = bnbq_dtype_size(dt);
    void *hA = rnd_dt(dt, M * K, 1.0f), *hB = rnd_dt(dt, K * N, 1.0f), *hb = NULL, *db = NULL, *ho, *dA, *dB, *dout;
    if (bias) { hb = rnd_dt(dt, N, 1.0f); db = U(hb, N * es); }
    ho = rnd_dt(dt, M * N, 1.0f);
    dA = U(hA, M * K * es); dB = U(hB, K * N * es);
    dout = acc ? U(ho, M * N * es) : D(M * N * es);
    if (both(bnbq_gemm(NULL, dt, ta, tb, M, N, K, hA, hB, hb, acc, ho),
             bnbq_gemm(g_gex, dt, ta, tb, M, N, K, dA, dB, db, acc, dout)))
        within_tol("out", dt, ho, dout, M * N);
}
/* n values of dt: integers in [-lim, lim] times scale (a power of two), exactly representable */
static void* exact_ints(bnbq_dtype dt, size_t n, int lim, float scale) {
    float* x = (float*)H(n * 4);
    size_t i;
    for (i = 0; i < n; i++) x[i] = (float)((int)(rng_u64() % (uint64_t)(2 * lim + 1)) - lim) * scale;
    return as_dtype(dt, x, n);
}
/* element i of an array of dt set to bits (f16 / bf16: the low 16) */
static void set_bits(bnbq_dtype dt, void* p, size_t i, uint32_t bits) {
    if (dt == BNBQ_F32) memcpy((float*)p + i, &bits, 4);
    else ((uint16_t*)p)[i] = (uint16_t)bits;
}
/* bnbq_gemm with inputs whose products and partial sums are exact in float32 (small integers times powers of two):
   whatever order a kernel sums in, its float32 sums are the CPU's values, so its outputs must be the CPU's bytes.
   What that checks is each epilogue: the bias and accumulate additions, the one rounding to dt (RNE with ties:
   integers past 256 / 2048; f16 overflow to inf through a bias near 65504) and the special values: a non-canonical
   NaN in A (row 1: NaN outputs, the CPU's canonical 0x7fff / 0x7fffffff), an infinity in A (row 2: +-inf or NaN by
   the signs and zeros of B) and a non-canonical NaN in the bias (column 3). Cases per kernel: the sm_90a tiles
   (128 and 256 columns: bnbq__cu_gemm_wg_bn), the cp.async tiles (accumulate, or the sm_90a tiles off; N = 77: the
   epilogue's one-by-one path), the mma.sync tiles (t2 off), the few-rows kernels and the SIMT one (f32); the
   context's launch counts say which ran. */
static void op_gemm_exact(void) {
    static const struct { size_t M, N, K; int path; } cs[] = {
        { 200, 264, 520, 1 }, { 136, 520, 264, 2 }, { 200, 264, 520, 3 }, { 136, 200, 72, 4 },
        { 9, 132, 512, 5 }, { 1, 132, 512, 5 }, { 40, 77, 301, 0 }, { 200, 264, 520, 6 }, { 136, 77, 264, 6 } };
    static const char* const pn[7] = { "any kernel", "sm_90a tiles 128", "sm_90a tiles 256", "cp.async tiles",
                                       "mma.sync tiles", "few rows", "cp.async tiles, no sm_90a" };
    int i, d, t;
    for (i = 0; i < (int)(sizeof cs / sizeof cs[0]); i++)
        for (d = 0; d < 3; d++)
            for (t = 0; t < 4; t++) {
                const bnbq_dtype dt = k_dts[d];
                const size_t M = cs[i].M, N = cs[i].N, K = cs[i].K, es = bnbq_dtype_size(dt);
                const int path = cs[i].path, ta = t & 1, tb = t >> 1;
                const int acc = path == 3 || (path == 0 && t == 3) || (path == 6 && t == 1);
                const int bias = path == 6 ? t != 2 : path != 1 || t < 2;
                bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                unsigned long wg0 = gc->gemm_wg_launches, t20 = gc->gemm_t2_launches;
                /* the cp.async tiles' conditions (bnbq_gemm's; the buffers are 16-byte aligned) */
                const int t2ok = gc->target_arch >= 80 && (ta ? M : K) % 8 == 0 && (tb ? K : N) % 8 == 0;
                void *hA, *hB, *hb = NULL, *ho, *dA, *dB, *db = NULL, *dout;
                STOP();
                if (((path >= 1 && path <= 4) || path == 6) && dt == BNBQ_F32) continue;
                if ((path == 5 && !tb) || (path == 0 && dt != BNBQ_F32))
                    continue;
                case_begin();
                label("%s M=%zu N=%zu K=%zu trans_a=%d trans_b=%d bias=%d accumulate=%d (exact sums; %s)",
                      bnbq_dtype_name(dt), M, N, K, ta, tb, bias, acc, pn[path]);
                hA = exact_ints(dt, M * K, 4, t == 1 ? 0.125f : 1.0f);
                hB = exact_ints(dt, K * N, 4, 1.0f);
                if (M > 1) set_bits(dt, hA, ta ? 7 * M + 1 : 1 * K + 7, dt == BNBQ_F32 ? 0xffc00001u : dt == BNBQ_F16 ? 0xfe01u : 0xffc1u);
                if (M > 2) set_bits(dt, hA, ta ? 5 * M + 2 : 2 * K + 5, dt == BNBQ_F32 ? 0x7f800000u : dt == BNBQ_F16 ? 0x7c00u : 0x7f80u);
                if (bias) {
                    float* fb = (float*)H(N * 4);
                    size_t n;
                    for (n = 0; n < N; n++) fb[n] = (float)((int)(rng_u64() % 17) - 8);
                    if (N > 5) fb[5] = dt == BNBQ_F16 ? 65440.0f : 3.0e38f;
                    hb = as_dtype(dt, fb, N);
                    if (N > 3) set_bits(dt, hb, 3, dt == BNBQ_F32 ? 0x7fc00007u : dt == BNBQ_F16 ? 0x7e05u : 0x7fc5u);
                    db = U(hb, N * es);
                }
                ho = exact_ints(dt, M * N, 8, 1.0f);
                dA = U(hA, M * K * es); dB = U(hB, K * N * es);
                dout = acc ? U(ho, M * N * es) : D(M * N * es);
                bnbq__cu_gemm_wg_bn = path == 1 ? 128 : path == 2 ? 256 : 0;
                bnbq__cu_gemm_t2_off = path == 4;
                bnbq__cu_gemm_wg_off = path == 6;
                if (both(bnbq_gemm(NULL, dt, ta, tb, M, N, K, hA, hB, hb, acc, ho),
                         bnbq_gemm(g_gex, dt, ta, tb, M, N, K, dA, dB, db, acc, dout))) {
                    exact("out", ho, dout, M * N, dt);
                    O.exact_cases++;
                    if (!g_plumbing && (path == 1 || path == 2) && bnbq__cu_wg_ok(gc) && gc->gemm_wg_launches - wg0 != 1)
                        case_fail("the sm_90a tile kernel did not run");
                    if (!g_plumbing && (path == 3 || path == 6) && t2ok && gc->gemm_t2_launches - t20 != 1)
                        case_fail("the cp.async tile kernel did not run");
                }
                bnbq__cu_gemm_wg_bn = 0;
                bnbq__cu_gemm_t2_off = 0;
                bnbq__cu_gemm_wg_off = 0;
                case_end();
            }
}
static void op_gemm(void) {
    static const mnk shapes[9] = { { 1, 1, 1 }, { 7, 5, 1 }, { 1, 129, 257 }, { 257, 1, 129 }, { 33, 65, 17 },
                                   { 64, 64, 64 }, { 130, 70, 300 }, { 3, 200, 1000 }, { 300, 257, 513 } };
    int s, d, t;
    for (s = 0; s < (g_small ? 6 : 9); s++)
        for (d = 0; d < 3; d++)
            for (t = 0; t < 4; t++) {
                bnbq_dtype dt = k_dts[d];
                size_t M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
                int ta = t & 1, tb = t >> 1, bias = (s + t) & 1, acc = ((s + t) >> 1) & 1;
                STOP();
                case_begin();
                label("%s M=%zu N=%zu K=%zu trans_a=%d trans_b=%d bias=%d accumulate=%d", bnbq_dtype_name(dt), M, N, K,
                      ta, tb, bias, acc);
                gemm_compare(dt, ta, tb, M, N, K, bias, acc);
                case_end();
            }
    /* few rows (the GPU's small-M path when trans_b): M around its row groups, K a multiple of 16
       bytes (16-byte loads) or not (scalar tail). f16 / bf16 with K % 16 == 0 on sm_80+ take a
       tensor-core kernel: 2..16 rows with trans_b only (bnbq_k_gemm_mma: 16 rows of W a block, one
       token tile or two), 1..16 rows with neither transposed and N % 4 == 0 (bnbq_k_gemm_mma_nn: 32
       columns of W a block, the backward's dY @ W); those cases also run without them
       (bnbq__cu_gemm_mma_off), and the context's count of their launches says which ran */
    {
        static const size_t fm[7] = { 1, 2, 9, 16, 33, 64, 65 };
        static const mnk fnk[3] = { { 0, 132, 512 }, { 0, 77, 301 }, { 0, 1000, 4112 } };
        int i, q, off;
        for (i = 0; i < 7; i++)
            for (q = 0; q < (g_small ? 1 : 3); q++)
                for (d = 0; d < 3; d++)
                    for (t = 0; t < 4; t++)
                        for (off = 0; off < 2; off++) {
                            bnbq_dtype dt = k_dts[d];
                            size_t M = fm[i], N = fnk[q].N, K = fnk[q].K;
                            int ta = t & 1, tb = t >> 1, bias = (i + t) & 1, acc = ((i + q + t) >> 1) & 1;
                            bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                            const int mma = M <= 16 && !ta && dt != BNBQ_F32 && K % 16 == 0 && gc->target_arch >= 80 &&
                                            (tb ? M >= 2 : N % 4 == 0);
                            unsigned long mm0 = gc->gemm_mma_launches;
                            STOP();
                            if (off && !mma) continue;
                            if (q == 2 && (M > 16 || ta)) continue;   /* the larger shape: the tensor-core cases */
                            case_begin();
                            label("%s M=%zu N=%zu K=%zu trans_a=%d trans_b=%d bias=%d accumulate=%d (few rows%s)",
                                  bnbq_dtype_name(dt), M, N, K, ta, tb, bias, acc,
                                  !mma ? "" : off ? ", no tensor cores" : ", tensor cores");
                            bnbq__cu_gemm_mma_off = off;
                            gemm_compare(dt, ta, tb, M, N, K, bias, acc);
                            bnbq__cu_gemm_mma_off = 0;
                            if (!g_plumbing && (gc->gemm_mma_launches - mm0 == 1) != (mma && !off))
                                case_fail("the tensor-core kernel was %s", mma && !off ? "not used" : "used");
                            case_end();
                        }
    }
    /* the cp.async tiles (bnbq_k_gemm_t2_*: f16 / bf16 on sm_80+, A and B 16-byte aligned, each operand's
       contiguous dimension a multiple of 8 elements; M > 64 here, so no few-rows kernel takes them): every
       storage order, tiles cut in M and N, K not a multiple of the 32-element stage, one stage, one
       16-wide column, several tiles (the grid's raster of groups of 8 m tiles); each case also runs on
       bnbq_k_gemm_tc (bnbq__cu_gemm_t2_off), and the context's count of launches says which ran */
    {
        static const mnk tk[6] = { { 136, 200, 40 }, { 72, 8, 24 }, { 264, 392, 1032 }, { 1040, 128, 96 },
                                   { 128, 1152, 256 }, { 520, 520, 72 } };
        int i, off;
        for (i = 0; i < (g_small ? 2 : 6); i++)
            for (d = 1; d < 3; d++)
                for (t = 0; t < 4; t++)
                    for (off = 0; off < 2; off++) {
                        bnbq_dtype dt = k_dts[d];
                        size_t M = tk[i].M, N = tk[i].N, K = tk[i].K;
                        int ta = t & 1, tb = t >> 1, bias = (i + t) & 1, acc = ((i + t) >> 1) & 1;
                        bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                        const int t2 = gc->target_arch >= 80 && !off;
                        unsigned long t20 = gc->gemm_t2_launches;
                        STOP();
                        if (dt == BNBQ_F32) continue;
                        case_begin();
                        label("%s M=%zu N=%zu K=%zu trans_a=%d trans_b=%d bias=%d accumulate=%d (%s)", bnbq_dtype_name(dt),
                              M, N, K, ta, tb, bias, acc, off ? "bnbq_k_gemm_tc" : "cp.async tiles");
                        bnbq__cu_gemm_t2_off = off;
                        bnbq__cu_gemm_wg_off = 1;
                        gemm_compare(dt, ta, tb, M, N, K, bias, acc);
                        bnbq__cu_gemm_wg_off = 0;
                        bnbq__cu_gemm_t2_off = 0;
                        if (!g_plumbing && (gc->gemm_t2_launches - t20 == 1) != t2)
                            case_fail("the cp.async tile kernel was %s", t2 ? "not used" : "used");
                        case_end();
                    }
    }
    /* the sm_90a tiles (bnbq_k_gemm_wg*: TMA and wgmma; an H100 / H200 with a cubin target, f16 / bf16, A and B
       16-byte aligned, each operand's contiguous dimension a multiple of 8, no accumulate: a quarter of the cases
       accumulate and take the sm_80 tiles): every storage order; tiles cut in
       M, N and K (TMA's zero fill); K = 23 where no operand has K contiguous (above the small-K kernel's 16); a
       16-wide N; more tiles than SMs (a block's second tile continues the ring of stages); the 128 x 256 tiles
       (at least 2 x SMs of them: 2056 x 4104) and the 128 x 128 ones. Each case also runs on the sm_80 tiles
       (bnbq__cu_gemm_wg_off), and the context's count of launches says which ran (with --fake-plumbing the CPU
       kernels run and nothing is launched: tests/test_cuda.c's fake-gemm-sm90a checks the host side there) */
    {
        static const mnk wk[7] = { { 136, 200, 40 }, { 72, 16, 24 }, { 264, 392, 1032 }, { 200, 136, 23 },
                                   { 2000, 1200, 200 }, { 2056, 4104, 72 }, { 130, 4104, 264 } };
        int i, off;
        for (i = 0; i < (g_small ? 3 : 7); i++)
            for (d = 1; d < 3; d++)
                for (t = 0; t < 4; t++)
                    for (off = 0; off < 2; off++) {
                        bnbq_dtype dt = k_dts[d];
                        size_t M = wk[i].M, N = wk[i].N, K = wk[i].K;
                        int ta = t & 1, tb = t >> 1, bias = (i + t + 1) & 1, acc = (i + t) % 4 == 3;
                        bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                        const int can = bnbq__cu_wg_ok(gc) && (ta ? M : K) % 8 == 0 && (tb ? K : N) % 8 == 0 && !acc,
                                  wg = can && !off;
                        unsigned long w0 = gc->gemm_wg_launches;
                        STOP();
                        if (off && !can) continue;
                        case_begin();
                        label("%s M=%zu N=%zu K=%zu trans_a=%d trans_b=%d bias=%d accumulate=%d (%s)", bnbq_dtype_name(dt),
                              M, N, K, ta, tb, bias, acc, off ? "sm_80 tiles" : "sm_90a tiles where they run");
                        bnbq__cu_gemm_wg_off = off;
                        gemm_compare(dt, ta, tb, M, N, K, bias, acc);
                        bnbq__cu_gemm_wg_off = 0;
                        if (!g_plumbing && (gc->gemm_wg_launches - w0 == 1) != wg)
                            case_fail("the sm_90a tile kernel was %s", wg ? "not used" : "used");
                        case_end();
                    }
    }
    /* small K (the backward's weight gradient over a few tokens, A^T @ B): trans_a, K <= 16, M % 4 == 0,
       N % 8 == 0, f16 / bf16 on sm_80+ take bnbq_k_gemm_smallk (64 x 32 outputs a warp, one mma k-step,
       16-byte stores); each such case also runs without it. The shapes: tiles cut in M and N, K = 1, odd
       and 16, the limits (M % 4, N % 8, K = 17: the other kernels) */
    {
        static const mnk sk[9] = { { 64, 128, 16 }, { 68, 136, 1 }, { 132, 264, 7 }, { 4, 8, 16 }, { 1000, 1000, 9 },
                                   { 256, 4096, 16 }, { 66, 128, 16 }, { 64, 132, 16 }, { 64, 128, 17 } };
        int i, off;
        for (i = 0; i < (g_small ? 4 : 9); i++)
            for (d = 0; d < 3; d++)
                for (t = 0; t < 4; t++)
                    for (off = 0; off < 2; off++) {
                        bnbq_dtype dt = k_dts[d];
                        size_t M = sk[i].M, N = sk[i].N, K = sk[i].K;
                        int bias = t & 1, acc = t >> 1;
                        bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
                        const int mma = K <= 16 && M % 4 == 0 && N % 8 == 0 && dt != BNBQ_F32 && gc->target_arch >= 80;
                        unsigned long mm0 = gc->gemm_mma_launches;
                        STOP();
                        if (off && !mma) continue;
                        case_begin();
                        label("%s M=%zu N=%zu K=%zu trans_a=1 trans_b=0 bias=%d accumulate=%d (small K%s)",
                              bnbq_dtype_name(dt), M, N, K, bias, acc, !mma ? "" : off ? ", no tensor cores" : ", tensor cores");
                        bnbq__cu_gemm_mma_off = off;
                        gemm_compare(dt, 1, 0, M, N, K, bias, acc);
                        bnbq__cu_gemm_mma_off = 0;
                        if (!g_plumbing && (gc->gemm_mma_launches - mm0 == 1) != (mma && !off))
                            case_fail("the tensor-core kernel was %s", mma && !off ? "not used" : "used");
                        case_end();
                    }
    }
}

static void op_column_sums(void) {
    static const shape shapes[6] = { { 1, 1 }, { 7, 33 }, { 1000, 3 }, { 33, 4099 }, { 1, 100 }, { 4096, 1024 } };
    int s, d;
    for (s = 0; s < (g_small ? 5 : 6); s++)
        for (d = 0; d < 3; d++) {
            bnbq_dtype dt = k_dts[d];
            size_t M = shapes[s].rows, N = shapes[s].cols, es = bnbq_dtype_size(dt);
            void *hX, *ho, *dX, *dout;
            STOP();
            case_begin();
            label("%s M=%zu N=%zu", bnbq_dtype_name(dt), M, N);
            hX = rnd_dt(dt, M * N, 1.0f);
            dX = U(hX, M * N * es);
            ho = H(N * es); dout = D(N * es);
            if (both(bnbq_column_sums(NULL, dt, hX, M, N, ho), bnbq_column_sums(g_gex, dt, dX, M, N, dout)))
                within_tol("out", dt, ho, dout, N);
            case_end();
        }
}

static void op_transpose(void) {
    static const shape shapes[6] = { { 1, 1 }, { 33, 65 }, { 100, 1 }, { 1, 100 }, { 257, 129 }, { 1000, 3001 } };
    static const size_t ess[4] = { 1, 2, 4, 8 };
    int s, e;
    for (s = 0; s < (g_small ? 5 : 6); s++)
        for (e = 0; e < 4; e++) {
            size_t R = shapes[s].rows, C = shapes[s].cols, es = ess[e], bytes = R * C * es;
            void *hs, *ho, *ds, *dout;
            STOP();
            case_begin();
            label("elem_size=%zu rows=%zu cols=%zu", es, R, C);
            hs = H(bytes); fill_bytes(hs, bytes);
            ds = U(hs, bytes);
            ho = H(bytes); dout = D(bytes);
            if (both(bnbq_transpose(NULL, es, hs, R, C, ho), bnbq_transpose(g_gex, es, ds, R, C, dout)))
                exact("dst", ho, dout, bytes, BNBQ_U8);
            case_end();
        }
}

static void op_gather_rows(void) {
    static const size_t rbs[6] = { 1, 3, 4, 16, 100, 4096 };
    static const size_t counts[3] = { 1, 37, 5000 };
    int r, k, m;
    for (r = 0; r < 6; r++)
        for (k = 0; k < 3; k++)
            for (m = 0; m < 2; m++) {
                size_t rb = rbs[r], cnt = counts[k], nr = 50 + (size_t)r;
                int32_t* hi;
                void *ht, *ho, *dt_, *di, *dout;
                STOP();
                case_begin();
                label("row_bytes=%zu num_rows=%zu count=%zu%s", rb, nr, cnt, m ? " (table and out 4 bytes off 16)" : "");
                ht = H(nr * rb); fill_bytes(ht, nr * rb);
                hi = rnd_idx(cnt, nr);
                dt_ = m ? UO(ht, nr * rb, 4) : U(ht, nr * rb);
                di = U(hi, cnt * 4);
                ho = H(cnt * rb); dout = m ? DO(cnt * rb, 4) : D(cnt * rb);
                if (both(bnbq_gather_rows(NULL, ht, nr, rb, hi, cnt, ho),
                         bnbq_gather_rows(g_gex, dt_, nr, rb, (int32_t*)di, cnt, dout)))
                    exact("out", ho, dout, cnt * rb, BNBQ_U8);
                case_end();
            }
}

typedef struct gb_shape { size_t count, num_rows, dim; } gb_shape;

static void op_gather_rows_backward(void) {
    static const gb_shape shapes[5] = { { 1, 5, 1 }, { 37, 10, 33 }, { 500, 100, 300 }, { 2000, 64, 1030 },
                                        { 8192, 5000, 64 } };
    int s, d, v;
    for (s = 0; s < (g_small ? 4 : 5); s++)
        for (d = 0; d < 3; d++)
            for (v = 0; v < 4; v++) {
                bnbq_dtype dt = k_dts[d];
                size_t cnt = shapes[s].count, nr = shapes[s].num_rows, dim = shapes[s].dim, es = bnbq_dtype_size(dt);
                int64_t pad = (v & 1) ? (int64_t)(nr / 2) : -1;
                int freq = v >> 1;
                int32_t* hi;
                void *hg, *ho, *di, *dg, *dout;
                STOP();
                case_begin();
                label("%s count=%zu num_rows=%zu dim=%zu padding_idx=%lld scale_grad_by_freq=%d", bnbq_dtype_name(dt),
                      cnt, nr, dim, (long long)pad, freq);
                hi = rnd_idx(cnt, nr);
                if (cnt > 2) hi[1] = hi[0];   /* a repeat */
                hg = rnd_dt(dt, cnt * dim, 1.0f);
                di = U(hi, cnt * 4); dg = U(hg, cnt * dim * es);
                ho = H(nr * dim * es); dout = D(nr * dim * es);
                if (both(bnbq_gather_rows_backward(NULL, dt, hi, cnt, hg, nr, dim, pad, freq, ho),
                         bnbq_gather_rows_backward(g_gex, dt, (int32_t*)di, cnt, dg, nr, dim, pad, freq, dout)))
                    within_tol("grad_weight", dt, ho, dout, nr * dim);
                case_end();
            }
}

static void op_renorm_rows(void) {
    static const gb_shape shapes[4] = { { 1, 5, 1 }, { 37, 10, 33 }, { 500, 100, 300 }, { 3000, 2000, 1030 } };
    static const float norms[3] = { 2.0f, 1.0f, 3.0f };
    int s, d, p, m;
    for (s = 0; s < (g_small ? 3 : 4); s++)
        for (d = 0; d < 3; d++)
            for (p = 0; p < 3; p++)
                for (m = 0; m < 2; m++) {
                    bnbq_dtype dt = k_dts[d];
                    size_t cnt = shapes[s].count, nr = shapes[s].num_rows, dim = shapes[s].dim, es = bnbq_dtype_size(dt);
                    /* m = 0: max_norm near the typical norm (some rows scaled); 1: none scaled (exact) */
                    double typ = norms[p] == 2.0f ? sqrt((double)dim) : norms[p] == 1.0f ? 0.8 * (double)dim
                                                                                         : pow((double)dim * 1.6, 1.0 / 3.0);
                    float mx = m ? 1e30f : (float)typ;
                    int32_t* hi;
                    void *hw, *di, *dw;
                    STOP();
                    case_begin();
                    label("%s count=%zu num_rows=%zu dim=%zu norm_type=%g max_norm=%g", bnbq_dtype_name(dt), cnt, nr,
                          dim, (double)norms[p], (double)mx);
                    hi = rnd_idx(cnt, nr);
                    hw = rnd_dt(dt, nr * dim, 1.0f);
                    di = U(hi, cnt * 4); dw = U(hw, nr * dim * es);
                    if (both(bnbq_renorm_rows(NULL, dt, hw, nr, dim, hi, cnt, mx, norms[p]),
                             bnbq_renorm_rows(g_gex, dt, dw, nr, dim, (int32_t*)di, cnt, mx, norms[p]))) {
                        if (m) { exact("weight", hw, dw, nr * dim, dt); O.exact_cases++; }
                        else within_tol("weight", dt, hw, dw, nr * dim);
                    }
                    case_end();
                }
}

static void op_layer_norm(void) {
    static const shape shapes[5] = { { 1, 1 }, { 3, 7 }, { 33, 100 }, { 64, 4097 }, { 1000, 768 } };
    int s, d, g;
    for (s = 0; s < (g_small ? 4 : 5); s++)
        for (d = 0; d < 3; d++)
            for (g = 0; g < 3; g++) {
                bnbq_dtype dt = k_dts[d];
                size_t M = shapes[s].rows, N = shapes[s].cols, es = bnbq_dtype_size(dt);
                float *hgam = NULL, *hbet = NULL;
                void *hX, *ho, *hm, *hr, *dX, *dgam = NULL, *dbet = NULL, *dout, *dm = NULL, *dr = NULL;
                STOP();
                case_begin();
                label("%s M=%zu N=%zu gamma/beta=%s stats=%s", bnbq_dtype_name(dt), M, N, g ? "yes" : "NULL",
                      g == 1 ? "NULL" : "out");
                hX = rnd_dt(dt, M * N, 3.0f);
                if (g) {
                    hgam = (float*)H(N * 4); fill_normal(hgam, N, 1.0f);
                    hbet = (float*)H(N * 4); fill_normal(hbet, N, 1.0f);
                    dgam = U(hgam, N * 4); dbet = U(hbet, N * 4);
                }
                dX = U(hX, M * N * es);
                ho = H(M * N * es); dout = D(M * N * es);
                hm = H(M * 4); hr = H(M * 4);
                if (g != 1) { dm = D(M * 4); dr = D(M * 4); }
                if (both(bnbq_layer_norm(NULL, dt, hX, M, N, hgam, hbet, 1e-5f, ho, g != 1 ? (float*)hm : NULL,
                                         g != 1 ? (float*)hr : NULL),
                         bnbq_layer_norm(g_gex, dt, dX, M, N, (float*)dgam, (float*)dbet, 1e-5f, dout, (float*)dm,
                                         (float*)dr))) {
                    within_tol("out", dt, ho, dout, M * N);
                    if (g != 1) {
                        within_tol("mean", BNBQ_F32, hm, dm, M);
                        within_tol("rstd", BNBQ_F32, hr, dr, M);
                    }
                }
                case_end();
            }
}

static void op_layer_norm_backward(void) {
    static const shape shapes[5] = { { 1, 1 }, { 3, 7 }, { 33, 100 }, { 64, 4097 }, { 1000, 768 } };
    int s, d, v;
    for (s = 0; s < (g_small ? 4 : 5); s++)
        for (d = 0; d < 3; d++)
            for (v = 0; v < 4; v++) {
                bnbq_dtype dt = k_dts[d];
                size_t M = shapes[s].rows, N = shapes[s].cols, es = bnbq_dtype_size(dt);
                int with_gamma = v & 1, with_stats = v >> 1, outs = (s + v) % 3;   /* 0: all, 1: grad_x, 2: params */
                float *hgam = NULL, *hm = NULL, *hr = NULL;
                void *hX, *hG, *hgx, *hgg, *hgb, *dX, *dG, *dgam = NULL, *dm = NULL, *dr = NULL, *dgx, *dgg, *dgb;
                STOP();
                case_begin();
                label("%s M=%zu N=%zu gamma=%d mean/rstd=%s outputs=%s", bnbq_dtype_name(dt), M, N, with_gamma,
                      with_stats ? "given" : "NULL", outs == 0 ? "all" : outs == 1 ? "grad_x" : "grad_gamma/beta");
                hX = rnd_dt(dt, M * N, 2.0f);
                hG = rnd_dt(dt, M * N, 1.0f);
                dX = U(hX, M * N * es); dG = U(hG, M * N * es);
                if (with_gamma) { hgam = (float*)H(N * 4); fill_normal(hgam, N, 1.0f); dgam = U(hgam, N * 4); }
                if (with_stats) {
                    void* tmp = H(M * N * es);
                    hm = (float*)H(M * 4); hr = (float*)H(M * 4);
                    if (bnbq_layer_norm(NULL, dt, hX, M, N, NULL, NULL, 1e-5f, tmp, hm, hr) != BNBQ_SUCCESS)
                        fatal("CPU layer_norm");
                    dm = U(hm, M * 4); dr = U(hr, M * 4);
                }
                hgx = H(M * N * es); hgg = H(N * 4); hgb = H(N * 4);
                dgx = D(M * N * es); dgg = D(N * 4); dgb = D(N * 4);
                if (both(bnbq_layer_norm_backward(NULL, dt, hX, hG, M, N, hgam, 1e-5f, hm, hr, outs != 2 ? hgx : NULL,
                                                  outs != 1 ? (float*)hgg : NULL, outs != 1 ? (float*)hgb : NULL),
                         bnbq_layer_norm_backward(g_gex, dt, dX, dG, M, N, (float*)dgam, 1e-5f, (float*)dm, (float*)dr,
                                                  outs != 2 ? dgx : NULL, outs != 1 ? (float*)dgg : NULL,
                                                  outs != 1 ? (float*)dgb : NULL))) {
                    if (outs != 2) within_tol("grad_x", dt, hgx, dgx, M * N);
                    if (outs != 1) {
                        within_tol("grad_gamma", BNBQ_F32, hgg, dgg, N);
                        within_tol("grad_beta", BNBQ_F32, hgb, dgb, N);
                    }
                }
                case_end();
            }
}

static void op_gather_rows_8bit(void) {
    static const gb_shape shapes[4] = { { 1, 1, 1 }, { 37, 10, 33 }, { 500, 100, 300 }, { 2000, 1000, 1030 } };
    int s, d;
    for (s = 0; s < 4; s++)
        for (d = 0; d < 3; d++) {
            bnbq_dtype dt = k_dts[d];
            size_t cnt = shapes[s].count, nr = shapes[s].num_rows, dim = shapes[s].dim, es = bnbq_dtype_size(dt);
            int32_t* hi;
            void *hcb, *hscb, *ho, *di, *dcb, *dscb, *dout;
            STOP();
            case_begin();
            label("%s count=%zu num_rows=%zu dim=%zu", bnbq_dtype_name(dt), cnt, nr, dim);
            hi = rnd_idx(cnt, nr);
            hcb = H(nr * dim); fill_bytes(hcb, nr * dim);
            hscb = H(nr * 4); fill_absmax((float*)hscb, nr);
            di = U(hi, cnt * 4); dcb = U(hcb, nr * dim); dscb = U(hscb, nr * 4);
            ho = H(cnt * dim * es); dout = D(cnt * dim * es);
            if (both(bnbq_gather_rows_8bit(NULL, dt, (int8_t*)hcb, (float*)hscb, nr, dim, hi, cnt, ho),
                     bnbq_gather_rows_8bit(g_gex, dt, (int8_t*)dcb, (float*)dscb, nr, dim, (int32_t*)di, cnt, dout)))
                exact("out", ho, dout, cnt * dim, dt);
            case_end();
        }
}

static void op_gather_rows_4bit(void) {
    static const gb_shape shapes[4] = { { 1, 1, 1 }, { 37, 10, 33 }, { 500, 100, 300 }, { 2000, 1000, 1031 } };
    static const int bss[3] = { 32, 64, 4096 };
    int s, d, q, b;
    for (s = 0; s < 4; s++)
        for (d = 0; d < 3; d++)
            for (q = 0; q < 2; q++)
                for (b = 0; b < 3; b++) {
                    bnbq_dtype dt = k_dts[d];
                    bnbq_quant_type qt = q ? BNBQ_NF4 : BNBQ_FP4;
                    size_t cnt = shapes[s].count, nr = shapes[s].num_rows, dim = shapes[s].dim, es = bnbq_dtype_size(dt);
                    size_t n = nr * dim, nb = (n + (size_t)bss[b] - 1) / (size_t)bss[b], pb = (n + 1) / 2;
                    int32_t* hi;
                    void *hp, *ha, *ho, *di, *dp, *da, *dout;
                    STOP();
                    case_begin();
                    label("%s %s bs=%d count=%zu num_rows=%zu dim=%zu", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bss[b],
                          cnt, nr, dim);
                    hi = rnd_idx(cnt, nr);
                    hp = H(pb); fill_bytes(hp, pb);
                    ha = H(nb * 4); fill_absmax((float*)ha, nb);
                    di = U(hi, cnt * 4); dp = U(hp, pb); da = U(ha, nb * 4);
                    ho = H(cnt * dim * es); dout = D(cnt * dim * es);
                    if (both(bnbq_gather_rows_4bit(NULL, qt, dt, (uint8_t*)hp, (float*)ha, nr, dim, bss[b], hi, cnt, ho),
                             bnbq_gather_rows_4bit(g_gex, qt, dt, (uint8_t*)dp, (float*)da, nr, dim, bss[b], (int32_t*)di,
                                                   cnt, dout)))
                        exact("out", ho, dout, cnt * dim, dt);
                    case_end();
                }
}

typedef struct oc_shape { size_t M, K, N, nc; } oc_shape;

static void op_int8_outlier_mm(void) {
    /* M <= 16 takes bnbq_k_outlier_mm_few (16 x 16 tiles, 64 columns a step), the others the 64 x 64
       tiles (16 columns a step): both against the CPU, at and across their step and tile edges */
    static const oc_shape shapes[12] = { { 1, 1, 1, 1 }, { 7, 33, 5, 0 }, { 33, 100, 65, 3 }, { 100, 1024, 300, 17 },
                                         { 65, 300, 129, 1 }, { 16, 300, 33, 64 }, { 9, 4096, 1000, 143 },
                                         { 17, 500, 40, 65 }, { 130, 2000, 70, 300 }, { 64, 64, 64, 64 },
                                         { 512, 4096, 1024, 40 }, { 1, 14336, 4096, 150 } };
    int s, d;
    for (s = 0; s < (g_small ? 8 : 12); s++)
        for (d = 0; d < 3; d++) {
            bnbq_dtype dt = k_dts[d];
            size_t M = shapes[s].M, K = shapes[s].K, N = shapes[s].N, nc = shapes[s].nc, es = bnbq_dtype_size(dt);
            int32_t *hc, hn = (int32_t)nc;
            void *hA, *hcb, *hscb, *ho, *dA, *dcb, *dscb, *dc, *dn, *dout;
            STOP();
            case_begin();
            label("%s M=%zu K=%zu N=%zu num_cols=%zu", bnbq_dtype_name(dt), M, K, N, nc);
            hA = rnd_dt(dt, M * K, 2.0f);
            hcb = H(N * K); fill_bytes(hcb, N * K);
            hscb = H(N * 4); fill_absmax((float*)hscb, N);
            hc = rnd_cols(nc, K, K);
            ho = rnd_dt(dt, M * N, 1.0f);
            dA = U(hA, M * K * es); dcb = U(hcb, N * K); dscb = U(hscb, N * 4); dc = U(hc, K * 4); dn = U(&hn, 4);
            dout = U(ho, M * N * es);
            if (both(bnbq_int8_outlier_mm(NULL, dt, hA, M, K, (int8_t*)hcb, (float*)hscb, N, hc, &hn, ho),
                     bnbq_int8_outlier_mm(g_gex, dt, dA, M, K, (int8_t*)dcb, (float*)dscb, N, (int32_t*)dc,
                                          (int32_t*)dn, dout)))
                exact("out", ho, dout, M * N, dt);
            case_end();
        }
}

static void sync_expect_error(const char* what);
/* bnbq_int8_mixed_scaled_mm against the CPU's (bytes): one row of A takes the fused bnbq_k_int8_gemv_br (a block a
   row of B, K > 4096; d == 1: bnbq_k_int8_gemv_dq's warp a row, bnbq__cu_i8_br_off) or bnbq_k_int8_gemv_dq (16-byte
   loads, or bytes where K % 16 != 0), with or without work; 2-16 rows bnbq_k_int8_dq_mma (sm_80+, K % 16 == 0)
   with the outlier product in its epilogue (and, d == 1, with it as a launch of its own:
   bnbq__cu_dq_outl_off); more rows on compute capability 9.0 the int8 GEMM with mm_dequant as its epilogue
   (bnbq_k_int8_wg_dq_*, where N % 8 == 0, f32 N % 4 == 0; d == 1 with an odd shape: bnbq__cu_i8_wg_dq_off) then
   the outlier product, or for f16 / bf16 with outlier columns bnbq_k_outlier_gather16 + bnbq_k_int8_wg_dqt_* (the
   outlier product on the tensor cores in the epilogue: within tolerance, non-finite elements where the CPU has
   them; bf16 with an odd shape: desc.exact_outlier_sums, the exact path), the others the three unfused launches;
   bias of each kind or none, outlier columns or none; a bad column (or, 16 rows, a negative count) sets the
   exec's error flag */
static void op_int8_mixed_scaled_mm(void) {
    /* (shape 5: no outlier columns at all; 8-10: the fused outlier epilogue over 2-3 steps of 64 columns,
       N not a multiple of its 16-row tiles; 16: one row with more outlier columns than bnbq_k_int8_gemv_dq
       stages, 6 steps of 128; 17: 300 outlier columns for more rows, 17 of them gathered, 19 steps of
       bnbq_k_outlier_mm_g; 18-19 (also --small): bnbq_k_int8_wg_dq_* with M and N past a tile edge, K less than
       a stage (18), N % 8 == 4 (19: f32 only), special statistics and biases (an f16 overflow, inf and NaN column
       statistics, inf * 0, inf / NaN / 70000 biases); 20: bnbq_k_int8_wg_dqt_* with 64 of its 100 columns gathered
       (P = 64), the rest read in its epilogue, and (bf16) a bad column among those; 21: the exact paths; 22: two
       chunks of 64 columns, all gathered; 23, 24: N % 8 == 4, so the int8 product is not the sm_90a kernel and the
       outlier product (f16 / bf16) is bnbq_k_outlier_gather16 + bnbq_k_outlier_mm_tc: two steps of 64 columns, and
       (24) 128 of 150 gathered, the rest read by the kernel); 25-27: one row with K > 4096, bnbq_k_int8_gemv_br:
       K % 4096 = 16 (one thread a second chunk), 700 outlier columns (25, also --small); two steps of loads a row
       (26: K > 16384); more than 16 rows a block on the H100 (27: epilogues every 8 rows, the sums' slots used
       again); 28-30: one row on bnbq_k_int8_gemv_bro (sorted columns: their products picked out of the streamed
       rows; d == 1 there keeps the block-a-row kernel, so the random order takes its fallback to the epilogue's
       loads): 200 columns at K = 8192 (28), exactly 256 columns (the launcher's cap there) among 4112 (29: chunks with
       several), 257 at K = 16384 (30: one too many, the fallback); 26 and 27 take it too (41 columns at K = 16400,
       3 columns with rows past 16); 31: K past BNBQ_MM_BRO_K (bnbq_k_int8_gemv_br); 32, 33: K > 16384, where up to 512
       columns are picked (300: picked; 513: the fallback); 34: one row, K = 4096 and enough rows of B for
       bnbq_k_int8_gemv_dqo (d == 0, 3; d == 1: bnbq_k_int8_gemv_dq); 35, 36 (d == 2: bnbq_k_int8_gemv_dqo): exactly
       BNBQ__CU_MM_DQO_C = 128 columns staged, and 129 (the fallback to the epilogue's loads) */
    static const oc_shape shapes[37] = { { 1, 4096, 4096, 41 }, { 5, 64, 200, 9 }, { 33, 96, 130, 17 }, { 1, 100, 300, 5 },
                                         { 9, 40, 50, 3 }, { 1, 4096, 64, 100 }, { 17, 4096, 257, 41 },
                                         { 16, 4096, 300, 41 }, { 12, 256, 77, 150 }, { 2, 1024, 40, 64 },
                                         { 7, 4096, 1000, 129 }, { 1, 14336, 1000, 143 }, { 1, 48, 77, 0 },
                                         { 300, 1024, 520, 30 }, { 1, 7, 33, 3 }, { 40, 512, 64, 100 },
                                         { 1, 2048, 96, 700 }, { 20, 1024, 136, 300 }, { 129, 64, 136, 5 },
                                         { 70, 256, 132, 40 }, { 40, 512, 1024, 100 }, { 256, 256, 256, 20 },
                                         { 300, 512, 264, 70 }, { 200, 128, 132, 80 }, { 100, 256, 204, 150 },
                                         { 1, 4112, 50, 700 }, { 1, 16400, 700, 41 }, { 1, 4128, 12000, 3 },
                                         { 1, 8192, 3000, 200 }, { 1, 4112, 300, 256 }, { 1, 16384, 100, 257 },
                                         { 1, 32784, 40, 9 }, { 1, 28672, 64, 300 }, { 1, 20000, 30, 513 },
                                         { 1, 4096, 11000, 41 }, { 1, 4096, 200, 128 }, { 1, 1024, 100, 129 } };
    int s, d;
    for (s = 0; s < 37; s++)
        for (d = 0; d < 4; d++) {
            bnbq_dtype dt = k_dts[d % 3], bdt = (s + d) % 3 == 0 ? BNBQ_F16 : k_dts[(s + d + 1) % 3];
            size_t M = shapes[s].M, K = shapes[s].K, N = shapes[s].N, nc = shapes[s].nc, es = bnbq_dtype_size(dt);
            int with_bias = (s + d) % 3 != 2, with_cols = s != 5, with_work = M > 1 || (d & 1);
            int bad = d == 3 || (d == 2 && (s == 20 || s == 24));
            /* d == 1 with an odd shape: the unfused int8 GEMM + mm_dequant (bnbq__cu_i8_wg_dq_off); bf16 with an odd
               shape: desc.exact_outlier_sums */
            int dq_off = d == 1 && (s & 1), xo = d == 2 && (s & 1);
            /* 2..16 rows on sm_80+ with K % 16 == 0: the tensor-core kernel with the mm_dequant epilogue; more
               rows: bnbq_k_int8_tc (int32) and the unfused launches (either way one tensor-core launch) */
            int tc = !g_plumbing && M >= 2 && K % 16 == 0 && ((bnbq_cuda*)g_gex->impl)->target_arch >= 80;
            int32_t *hc, hn = (int32_t)nc;
            void *hCA, *hCB, *hrs, *hcs, *hA, *hbias = NULL, *ho;
            void *dCA, *dCB, *drs, *dcs, *dA, *dbias = NULL, *dc, *dn, *dwork, *dout;
            bnbq_cuda* gc = (bnbq_cuda*)g_gex->impl;
            unsigned long dq0 = gc->gemv_dq_launches, br0 = gc->i8_br_launches, bro0 = gc->i8_bro_launches;
            /* one row, K > 4096: the block-a-row kernels (d == 1 before shape 28: the warp a row); with outlier
               columns and K <= BNBQ__CU_MM_BRO_K bnbq_k_int8_gemv_bro */
            int br = M == 1 && K % 16 == 0 && K > 4096 && !(d == 1 && s < 28);
            int bro = br && with_cols && K <= BNBQ__CU_MM_BRO_K;
            /* one row, K <= 4096 with 16-byte loads and outlier columns: bnbq_k_int8_gemv_dqo where B has two rows
               for each warp of its grid (5 blocks of 8 warps an SM: shape 34 on the H100), at d == 2 always, at
               d == 1 never (bnbq__cu_i8_dqo_on) */
            int dqo = M == 1 && K % 16 == 0 && K <= 4096 && with_cols &&
                      (d == 2 || (d != 1 && N >= 2u * 8u * BNBQ__CU_MM_BR_B * (size_t)gc->info.sm_count));
            unsigned long dqo0 = gc->i8_dqo_launches;
            unsigned long tc0 = gc->mm_tc_launches + gc->mm_tile_tc_launches;
            unsigned long g0 = gc->outlier_g_launches, f0 = gc->dq_outl_launches;
            /* 2..16 rows on the tensor cores with outlier columns: their product in bnbq_k_int8_dq_mma's epilogue
               (d == 1: as a launch of its own, bnbq__cu_dq_outl_off) */
            int fused = tc && M <= 16 && with_cols && d != 1;
            /* more than 16 rows: the outlier columns gathered into work first, as many as fit (M N / (M + N),
               the rest the old way: shape 12 has 24 of 100) */
            int gath = !g_plumbing && M > 16 && with_cols && M * N / (M + N) >= 16;
            /* more than 16 rows on compute capability 9.0: the int8 GEMM with the mm_dequant epilogue */
            int wgdq = !g_plumbing && M > 16 && K % 16 == 0 && N % (dt == BNBQ_F32 ? 4u : 8u) == 0 && !dq_off &&
                       bnbq__cu_wg_ok(gc);
            /* ... with the outlier product in it (f16 / bf16 with outlier columns, 64 of them fit in work) */
            int wgdqt = wgdq && with_cols && dt != BNBQ_F32 && !xo && bnbq__cu_i8_wg_dqt_p(M, N, K) >= 64;
            /* ... else, more than 16 rows on sm_80+, the outlier product's own tensor-core kernel */
            int tco = !g_plumbing && M > 16 && with_cols && dt != BNBQ_F32 && !xo && !wgdqt &&
                      gc->target_arch >= 80 && bnbq__cu_i8_wg_dqt_p(M, N, K) >= 64;
            unsigned long w0 = gc->i8_wg_dq_launches, wt0 = gc->i8_wg_dqt_launches, to0 = gc->outlier_tc_launches;
            bnbq_result rc, rg;
            if (g_small && ((s >= 10 && s < 18) || s == 21 || s == 22 || s == 26 || s == 27 || s == 28 || s == 30 ||
                            s == 31 || s == 34))
                continue;
            if (bad && (!with_cols || nc == 0)) continue;
            STOP();
            case_begin();
            label("%s M=%zu K=%zu N=%zu num_cols=%zu%s bias %s work %d%s", bnbq_dtype_name(dt), M, K, N, nc,
                  with_cols ? "" : " (no cols)", with_bias ? bnbq_dtype_name(bdt) : "none", with_work,
                  bad ? ", a bad column" : "");
            hCA = H(M * K); fill_bytes(hCA, M * K);
            hCB = H(N * K); fill_bytes(hCB, N * K);
            hrs = H(M * 4); fill_absmax((float*)hrs, M);
            hcs = H(N * 4); fill_absmax((float*)hcs, N);
            hA = rnd_dt(dt, M * K, 3.0f);
            if (with_bias) hbias = rnd_dt(bdt, N, 1.0f);
            if (s >= 18) {   /* specials, as op_int8_mm_dequant's: row 4 (M > 4) overflows f16, inf * 0 in column N - 1 */
                if (M > 4) ((float*)hrs)[4] = 1e30f;
                ((float*)hcs)[N - 1] = INFINITY;
                ((float*)hcs)[N - 2] = NAN;
                memset((int8_t*)hCB + (N - 1) * K, 0, K);
                if (with_bias) {
                    float* bf = (float*)H(N * 4);
                    fill_normal(bf, N, 2.0f);
                    bf[N - 3] = INFINITY, bf[N - 4] = -INFINITY, bf[N - 5] = NAN, bf[0] = 70000.0f;
                    hbias = as_dtype(bdt, bf, N);
                }
            }
            hc = rnd_cols(nc, K, K);
            /* d even: the list sorted, as the quantizer writes it (bnbq_k_int8_gemv_dq's fast form for one row:
               the outlier bytes picked out of the weight rows as they stream); odd: in random order */
            if (!(d & 1)) qsort(hc, nc, sizeof *hc, cmp_i32_asc);
            if (bad) hc[s == 20 || s == 24 ? nc - 1 : nc / 2] = (int32_t)K;   /* (20, 24: past the gathered columns) */
            if (bad && M == 16) hn = -3;   /* (a count out of range instead: 0 columns on the GPU, the flag) */
            /* bf16 with more than 16 rows, odd shapes: two outlier values of A whose products with the weight may
               not be exact in float32 (1e-30, 1e30), so that bnbq_k_outlier_mm_g's first step multiplies and adds
               instead of its FMA (pr_fma_ok) */
            if (dt == BNBQ_BF16 && M > 16 && nc >= 2 && (s & 1)) {
                const float big[2] = { 1e-30f, 1e30f };
                uint16_t b[2];
                if (bnbq_convert(NULL, BNBQ_F32, big, 2, BNBQ_BF16, b) != BNBQ_SUCCESS) fatal("bnbq_convert failed");
                ((uint16_t*)hA)[1 * K + (size_t)hc[0]] = b[0];
                ((uint16_t*)hA)[2 * K + (size_t)hc[1]] = b[1];
            }
            ho = H(M * N * es);
            dCA = U(hCA, M * K); dCB = U(hCB, N * K); drs = U(hrs, M * 4); dcs = U(hcs, N * 4);
            dA = U(hA, M * K * es); dc = U(hc, K * 4); dn = U(&hn, 4);
            if (with_bias) dbias = U(hbias, N * bnbq_dtype_size(bdt));
            dwork = with_work ? D(M * N * 4) : NULL;
            dout = D(M * N * es);
            rc = bnbq_int8_mixed_scaled_mm(NULL, dt, (int8_t*)hCA, (int8_t*)hCB, M, N, K, (float*)hrs, (float*)hcs, bdt,
                                           hbias, hA, with_cols ? hc : NULL, &hn, with_work ? (int32_t*)H(M * N * 4) : NULL, ho);
            bnbq__cu_dq_outl_off = d == 1;
            bnbq__cu_i8_br_off = d == 1 && s < 28;   /* (one row: the warp-a-row kernel instead of the block-a-row one) */
            bnbq__cu_i8_dqo_on = d == 2 ? 1 : d == 1 ? -1 : 0;
            bnbq__cu_i8_wg_dq_off = dq_off;
            gc->desc.exact_outlier_sums = xo;
            rg = bnbq_int8_mixed_scaled_mm(g_gex, dt, (int8_t*)dCA, (int8_t*)dCB, M, N, K, (float*)drs, (float*)dcs, bdt,
                                           dbias, dA, with_cols ? (int32_t*)dc : NULL, (int32_t*)dn, (int32_t*)dwork, dout);
            bnbq__cu_dq_outl_off = 0;
            bnbq__cu_i8_br_off = 0;
            bnbq__cu_i8_dqo_on = 0;
            bnbq__cu_i8_wg_dq_off = 0;
            gc->desc.exact_outlier_sums = 0;
            if (bad) {
                if (g_plumbing) {   /* the CPU reference on the fake driver's memory: the call itself fails */
                    if (rg != BNBQ_ERROR_INVALID_ARGS) case_fail("the GPU call returned %s", bnbq_result_name(rg));
                } else if (rc != BNBQ_ERROR_INVALID_ARGS || rg != BNBQ_SUCCESS) {
                    case_fail("a bad column: the CPU gave %s (want INVALID_ARGS), the GPU %s (want SUCCESS, then the flag)",
                              bnbq_result_name(rc), bnbq_result_name(rg));
                } else {
                    sync_expect_error(O.label);
                }
            } else if (both(rc, rg)) {
                if (wgdqt || tco) within_tol_special("out", dt, ho, dout, M * N);
                else exact("out", ho, dout, M * N, dt);
            }
            if (!g_plumbing && (gc->gemv_dq_launches - dq0 == 1) != (M == 1))
                case_fail("the fused kernel was %s", M == 1 ? "not used" : "used");
            if (!g_plumbing && (gc->i8_br_launches - br0 == 1) != br)
                case_fail("bnbq_k_int8_gemv_br was %s", gc->i8_br_launches - br0 == 1 ? "used" : "not used");
            if (!g_plumbing && (gc->i8_dqo_launches - dqo0 == 1) != dqo)
                case_fail("bnbq_k_int8_gemv_dqo was %s", gc->i8_dqo_launches - dqo0 == 1 ? "used" : "not used");
            if (!g_plumbing && (gc->i8_bro_launches - bro0 == 1) != bro)
                case_fail("bnbq_k_int8_gemv_bro was %s", gc->i8_bro_launches - bro0 == 1 ? "used" : "not used");
            if (!g_plumbing && (gc->dq_outl_launches - f0 == 1) != fused)
                case_fail("the outlier epilogue of bnbq_k_int8_dq_mma was %s", fused ? "not used" : "used");
            if (!g_plumbing && (gc->outlier_g_launches - g0 == 1) != (gath && !wgdqt && !tco))
                case_fail("the gathered outlier product was %s", gath && !wgdqt && !tco ? "not used" : "used");
            if (!g_plumbing && (gc->outlier_tc_launches - to0 == 1) != tco)
                case_fail("bnbq_k_outlier_mm_tc was %s", tco ? "not used" : "used");
            if (!g_plumbing && (gc->i8_wg_dq_launches - w0 == 1) != (wgdq && !wgdqt))
                case_fail("bnbq_k_int8_wg_dq_* was %s", wgdq && !wgdqt ? "not used" : "used");
            if (!g_plumbing && (gc->i8_wg_dqt_launches - wt0 == 1) != wgdqt)
                case_fail("bnbq_k_int8_wg_dqt_* was %s", wgdqt ? "not used" : "used");
            if (tc && gc->mm_tc_launches + gc->mm_tile_tc_launches + gc->i8_wg_dq_launches + gc->i8_wg_dqt_launches - tc0 -
                              w0 - wt0 != 1)
                case_fail("%lu tensor-core launches (want one)", gc->mm_tc_launches + gc->mm_tile_tc_launches +
                                                                    gc->i8_wg_dq_launches + gc->i8_wg_dqt_launches - tc0 -
                                                                    w0 - wt0);
            case_end();
        }
}

static void op_gather_columns(void) {
    static const oc_shape shapes[4] = { { 1, 1, 1, 1 }, { 7, 33, 5, 0 }, { 33, 100, 8, 3 }, { 1000, 4096, 64, 40 } };
    static const size_t ess[4] = { 1, 2, 4, 8 };
    int s, e;
    for (s = 0; s < 4; s++)
        for (e = 0; e < 4; e++) {
            size_t M = shapes[s].M, K = shapes[s].K, mc = shapes[s].N, nc = shapes[s].nc, es = ess[e];
            int32_t *hc, hn = (int32_t)nc;
            void *hX, *ho, *dX, *dc, *dn, *dout;
            STOP();
            case_begin();
            label("elem_size=%zu M=%zu K=%zu max_cols=%zu num_cols=%zu", es, M, K, mc, nc);
            hX = H(M * K * es); fill_bytes(hX, M * K * es);
            hc = rnd_cols(nc, K, mc);
            dX = U(hX, M * K * es); dc = U(hc, mc * 4); dn = U(&hn, 4);
            ho = H(M * mc * es); dout = D(M * mc * es);
            if (both(bnbq_gather_columns(NULL, es, hX, M, K, hc, &hn, mc, ho),
                     bnbq_gather_columns(g_gex, es, dX, M, K, (int32_t*)dc, (int32_t*)dn, mc, dout)))
                exact("out", ho, dout, M * mc * es, BNBQ_U8);
            case_end();
        }
}

static void op_scatter_columns(void) {
    static const oc_shape shapes[4] = { { 1, 1, 1, 1 }, { 7, 33, 5, 0 }, { 33, 100, 8, 3 }, { 1000, 4096, 64, 40 } };
    int s, d, a;
    for (s = 0; s < 4; s++)
        for (d = 0; d < 3; d++)
            for (a = 0; a < 2; a++) {
                bnbq_dtype dt = k_dts[d];
                size_t M = shapes[s].M, K = shapes[s].K, mc = shapes[s].N, nc = shapes[s].nc, es = bnbq_dtype_size(dt);
                int32_t *hc, hn = (int32_t)nc;
                void *hP, *ho, *dP, *dc, *dn, *dout;
                STOP();
                case_begin();
                label("%s M=%zu K=%zu max_cols=%zu num_cols=%zu accumulate=%d", bnbq_dtype_name(dt), M, K, mc, nc, a);
                hP = rnd_dt(dt, M * mc, 1.0f);
                hc = rnd_cols(nc, K, mc);
                ho = rnd_dt(dt, M * K, 1.0f);
                dP = U(hP, M * mc * es); dc = U(hc, mc * 4); dn = U(&hn, 4); dout = U(ho, M * K * es);
                if (both(bnbq_scatter_columns(NULL, dt, hP, M, mc, hc, &hn, a, ho, K),
                         bnbq_scatter_columns(g_gex, dt, dP, M, mc, (int32_t*)dc, (int32_t*)dn, a, dout, K)))
                    exact("out", ho, dout, M * K, dt);
                case_end();
            }
}

static void op_int8_weight_dequant(void) {
    static const shape shapes[6] = { { 1, 1 }, { 1, 7 }, { 7, 1 }, { 33, 100 }, { 300, 4099 }, { 4096, 1024 } };
    int s, d;
    for (s = 0; s < (g_small ? 5 : 6); s++)
        for (d = 0; d < 3; d++) {
            bnbq_dtype dt = k_dts[d];
            size_t N = shapes[s].rows, K = shapes[s].cols, es = bnbq_dtype_size(dt);
            void *hcb, *hscb, *ho, *dcb, *dscb, *dout;
            STOP();
            case_begin();
            label("%s N=%zu K=%zu", bnbq_dtype_name(dt), N, K);
            hcb = H(N * K); fill_bytes(hcb, N * K);
            hscb = H(N * 4); fill_absmax((float*)hscb, N);
            dcb = U(hcb, N * K); dscb = U(hscb, N * 4);
            ho = H(N * K * es); dout = D(N * K * es);
            if (both(bnbq_int8_weight_dequant(NULL, dt, (int8_t*)hcb, (float*)hscb, N, K, ho),
                     bnbq_int8_weight_dequant(g_gex, dt, (int8_t*)dcb, (float*)dscb, N, K, dout)))
                exact("out", ho, dout, N * K, dt);
            case_end();
        }
}

/* An index out of range on the GPU: the call succeeds, the output row is zero, the exec's next
   bnbq_sync returns INVALID_ARGS and the one after it SUCCESS (the flag is cleared). */
static void sync_expect_error(const char* what) {
    bnbq_result r1 = bnbq_sync(g_gex), r2 = bnbq_sync(g_gex);
    if (r1 != BNBQ_ERROR_INVALID_ARGS || r2 != BNBQ_SUCCESS)
        case_fail("%s: bnbq_sync gave %s then %s (want BNBQ_ERROR_INVALID_ARGS then BNBQ_SUCCESS)", what,
                  bnbq_result_name(r1), bnbq_result_name(r2));
}
static void op_prims_index_errors(void) {
    int k;
    for (k = 0; k < 8; k++) {
        size_t nr = 10, dim = 33, cnt = 5;
        int32_t* hi;
        void *di, *dout, *zero;
        bnbq_result rc = BNBQ_SUCCESS, rg;
        STOP();
        case_begin();
        hi = rnd_idx(cnt, nr);
        hi[2] = (k & 1) ? -1 : (int32_t)nr;
        di = U(hi, cnt * 4);
        dout = D(cnt * dim * 4);
        zero = H(dim * 4); memset(zero, 0, dim * 4);
        if (k < 2) {
            void* ht = H(nr * dim * 4);
            void* dt_;
            label("gather_rows with index %d", hi[2]);
            fill_bytes(ht, nr * dim * 4); dt_ = U(ht, nr * dim * 4);
            rg = bnbq_gather_rows(g_gex, dt_, nr, dim * 4, (int32_t*)di, cnt, dout);
        } else if (k == 2) {
            void *hcb = H(nr * dim), *hs = H(nr * 4);
            label("gather_rows_8bit with index %d", hi[2]);
            fill_bytes(hcb, nr * dim); fill_absmax((float*)hs, nr);
            rg = bnbq_gather_rows_8bit(g_gex, BNBQ_F32, (int8_t*)U(hcb, nr * dim), (float*)U(hs, nr * 4), nr, dim,
                                       (int32_t*)di, cnt, dout);
        } else if (k == 3) {
            size_t pb = (nr * dim + 1) / 2, nb = (nr * dim + 63) / 64;
            void *hp = H(pb), *ha = H(nb * 4);
            label("gather_rows_4bit with index %d", hi[2]);
            fill_bytes(hp, pb); fill_absmax((float*)ha, nb);
            rg = bnbq_gather_rows_4bit(g_gex, BNBQ_NF4, BNBQ_F32, (uint8_t*)U(hp, pb), (float*)U(ha, nb * 4), nr, dim,
                                       64, (int32_t*)di, cnt, dout);
        } else if (k == 4) {
            label("gather_rows_backward with index %d", hi[2]);
            rg = bnbq_gather_rows_backward(g_gex, BNBQ_F32, (int32_t*)di, cnt, U(rnd_dt(BNBQ_F32, cnt * dim, 1.0f), cnt * dim * 4),
                                           nr, dim, -1, 0, D(nr * dim * 4));
        } else if (k >= 6) {   /* a column index past K: 3 rows (the few-rows kernel) and 40 */
            size_t M = k == 6 ? 3 : 40, K = nr;
            int32_t n3 = 3;
            void *hcb = H(dim * K), *hs = H(dim * 4);
            label("int8_outlier_mm (%zu rows) with column %d", M, hi[2]);
            fill_bytes(hcb, dim * K); fill_absmax((float*)hs, dim);
            rg = bnbq_int8_outlier_mm(g_gex, BNBQ_F32, U(rnd_dt(BNBQ_F32, M * K, 1.0f), M * K * 4), M, K,
                                      (int8_t*)U(hcb, dim * K), (float*)U(hs, dim * 4), dim, (int32_t*)di,
                                      (int32_t*)U(&n3, 4), D(M * dim * 4));
        } else {
            label("renorm_rows with index %d", hi[2]);
            rg = bnbq_renorm_rows(g_gex, BNBQ_F32, U(rnd_dt(BNBQ_F32, nr * dim, 1.0f), nr * dim * 4), nr, dim, (int32_t*)di,
                                  cnt, 1.0f, 2.0f);
        }
        if (g_plumbing) {   /* the CPU reference on the fake driver's memory: the call itself fails */
            if (rg != BNBQ_ERROR_INVALID_ARGS) case_fail("the CPU returned %s", bnbq_result_name(rg));
        } else if (both(rc, rg)) {
            sync_expect_error(O.label);
            if (k < 4) exact("the bad index's output row", zero, (char*)dout + 2 * dim * 4, dim, BNBQ_F32);
        }
        case_end();
    }
}

/* ================================================================================================ */

typedef struct opdef { const char* name; void (*fn)(void); } opdef;
static const opdef k_ops[] = {
    { "convert", op_convert },
    { "quantize_blockwise", op_quantize_blockwise },
    { "dequantize_blockwise", op_dequantize_blockwise },
    { "quantize_4bit", op_quantize_4bit },
    { "dequantize_4bit", op_dequantize_4bit },
    { "nested_offset", op_nested_offset },
    { "quantize_nested", op_quantize_nested },
    { "dequantize_nested", op_dequantize_nested },
    { "quantize_global", op_quantize_global },
    { "dequantize_global", op_dequantize_global },
    { "int8_vectorwise_quant", op_int8_vectorwise_quant },
    { "int8_rows_specials", op_int8_rows_specials },
    { "int8_sample_miss", op_int8_sample_miss },
    { "int8_vectorwise_dequant", op_int8_vectorwise_dequant },
    { "int8_double_quant", op_int8_double_quant },
    { "int8_linear_matmul", op_int8_linear_matmul },
    { "int8_mm_dequant", op_int8_mm_dequant },
    { "quantize_rowwise", op_quantize_rowwise },
    { "quantize_columnwise_and_transpose", op_quantize_columnwise_and_transpose },
    { "quantize_global_int8", op_quantize_global_int8 },
    { "quantize_global_int8_transpose", op_quantize_global_int8_transpose },
    { "dequantize_rowwise", op_dequantize_rowwise },
    { "int8_matmul_rowwise_dequantize", op_int8_matmul_rowwise_dequantize },
    { "int8_matmul_mixed_dequantize", op_int8_matmul_mixed_dequantize },
    { "gemv_4bit", op_gemv_4bit },
    { "gemv_4bit_chain", op_gemv_4bit_chain },
    { "matmul_4bit", op_matmul_4bit },
    { "gemm", op_gemm },
    { "gemm_exact", op_gemm_exact },
    { "column_sums", op_column_sums },
    { "transpose", op_transpose },
    { "gather_rows", op_gather_rows },
    { "gather_rows_backward", op_gather_rows_backward },
    { "renorm_rows", op_renorm_rows },
    { "layer_norm", op_layer_norm },
    { "layer_norm_backward", op_layer_norm_backward },
    { "gather_rows_8bit", op_gather_rows_8bit },
    { "gather_rows_4bit", op_gather_rows_4bit },
    { "int8_outlier_mm", op_int8_outlier_mm },
    { "int8_mixed_scaled_mm", op_int8_mixed_scaled_mm },
    { "int8_vw_one", op_int8_vw_one },
    { "int8_vw_few", op_int8_vw_few },
    { "gather_columns", op_gather_columns },
    { "scatter_columns", op_scatter_columns },
    { "int8_weight_dequant", op_int8_weight_dequant },
    { "prims_index_errors", op_prims_index_errors },
};
#define NOPS ((int)(sizeof k_ops / sizeof k_ops[0]))

static void report(const char* name, int ok, const char* fmt, ...) {
    char msg[1000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ok) { g_passed++; printf("ok %s: %s\n", name, msg); }
    else { g_failed++; printf("FAIL %s: %s\n", name, msg); }
    fflush(stdout);
}

static void run_op(int i) {
    double t0 = now_s();
    memset(&O, 0, sizeof O);
    O.name = k_ops[i].name;
    k_ops[i].fn();
    if (O.cases > 0 && O.failed_cases == 0) {
        char nan_note[120] = "";
        if (O.nan_payloads)
            snprintf(nan_note, sizeof nan_note, " (%zu NaN elements with other NaN bits than the CPU's)", O.nan_payloads);
        if (O.tol_cases)
            report(O.name, 1, "%d cases, %.3g elements; %d within tolerance (max relative L2 %.2g), %d exact%s; %.1f s",
                   O.cases, O.elements, O.tol_cases, O.max_rel, O.exact_cases, nan_note, now_s() - t0);
        else
            report(O.name, 1, "%d cases, %.3g elements, byte-identical to the CPU%s; %.1f s", O.cases, O.elements,
                   nan_note, now_s() - t0);
    } else if (O.unsupported) {
        report(O.name, 0, "%s", O.first);
    } else {
        report(O.name, 0, "%d of %d cases fail; first: %s", O.failed_cases, O.cases, O.cases ? O.first : "no cases ran");
    }
}

/* ---- contexts, streams, the cache ------------------------------------------------------------- */


static int make_tmpdir(char* out, size_t cap) {
    const char* base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(out, cap, "%s/bnbq_test_gpu_XXXXXX", base);
    return mkdtemp(out) != NULL;
}

static bnbq_result make_ctx(const char* dir, int disable_nvrtc, bnbq_cuda** out) {
    bnbq_cuda_desc d;
    memset(&d, 0, sizeof d);
    d.cache_dir = dir;
    d.disable_nvrtc = disable_nvrtc;
    return bnbq_cuda_init(&d, out);
}

/* Runs the first case of every operation on `ex` (memory from g_ctx: same device, primary
   context shared). Returns how many operations ran and matched the CPU; the GPU result codes of
   those that did not go to codes[] (NOT_SUPPORTED included). */
static int touch_all(bnbq_exec* ex, bnbq_result* codes, char* first, size_t cap) {
    int i, good = 0;
    bnbq_exec* saved = g_gex;
    g_gex = ex;
    g_touch = 1;
    first[0] = 0;
    for (i = 0; i < NOPS; i++) {
        memset(&O, 0, sizeof O);
        O.name = k_ops[i].name;
        O.gpu_r = BNBQ_SUCCESS;
        k_ops[i].fn();
        codes[i] = O.gpu_r;
        if (O.cases == 1 && O.failed_cases == 0) good++;
        else if (!first[0]) snprintf(first, cap, "%s: %s", O.name, O.first);
    }
    g_touch = 0;
    g_gex = saved;
    return good;
}

static void test_streams(void) {
    void* stream = NULL;
    void *e0 = NULL, *e1 = NULL;
    bnbq_exec sex;
    size_t n = g_small ? 4097 : 1000003;
    float ms = -1.0f;
    int ok = 1;
    char why[300] = "";
    memset(&O, 0, sizeof O);
    O.name = "streams";
    if (bnbq_cuda_stream_create(g_ctx, &stream) != BNBQ_SUCCESS ||
        bnbq_cuda_exec_init(g_ctx, stream, &sex) != BNBQ_SUCCESS ||
        bnbq_cuda_event_create(g_ctx, &e0) != BNBQ_SUCCESS || bnbq_cuda_event_create(g_ctx, &e1) != BNBQ_SUCCESS) {
        report("streams", 0, "cannot create a stream / events");
        return;
    }
    if (g_plumbing) sex.backend = NULL;
    {
        float* x = (float*)H(n * 4);
        void *dx, *d1, *d2, *h1, *h2;
        bnbq_result r1, r2;
        fill_normal(x, n, 10.0f);
        dx = U(x, n * 4);
        d1 = D(n * 2); d2 = D(n * 2);
        bnbq_cuda_synchronize(g_gex);
        r1 = bnbq_convert(g_gex, BNBQ_F32, dx, n, BNBQ_BF16, d1);
        bnbq_cuda_event_record(&sex, e0);
        r2 = bnbq_convert(&sex, BNBQ_F32, dx, n, BNBQ_BF16, d2);
        bnbq_cuda_event_record(&sex, e1);
        if (r1 != BNBQ_SUCCESS || r2 != BNBQ_SUCCESS) { ok = 0; snprintf(why, sizeof why, "convert: %s / %s", bnbq_result_name(r1), bnbq_result_name(r2)); }
        if (bnbq_cuda_synchronize(&sex) != BNBQ_SUCCESS) { ok = 0; snprintf(why, sizeof why, "synchronize on the stream failed"); }
        h1 = B(d1, n * 2);
        h2 = B(d2, n * 2);
        if (ok && memcmp(h1, h2, n * 2) != 0) { ok = 0; snprintf(why, sizeof why, "the stream's result differs from the default stream's"); }
        if (ok && (bnbq_cuda_event_elapsed_ms(g_ctx, e0, e1, &ms) != BNBQ_SUCCESS || !(ms > 0.0f) || ms > 10000.0f)) {
            ok = 0; snprintf(why, sizeof why, "event time %g ms", (double)ms);
        }
        case_end();
    }
    bnbq_cuda_event_destroy(g_ctx, e0);
    bnbq_cuda_event_destroy(g_ctx, e1);
    bnbq_cuda_stream_destroy(g_ctx, stream);
    if (ok) report("streams", 1, "convert of %zu elements on a created stream = default stream; %.3f ms by events", n, (double)ms);
    else report("streams", 0, "%s", why);
}

static void test_bad_input(void) {
    bi_report rep;
    int ok = bi_run_all(g_ctx, &g_ex, &rep);
    if (!ok) { report("bad-input", 0, "setup: %s", rep.first); return; }
    if (rep.mismatches == 0)
        report("bad-input", 1, "%d calls with one bad argument: the CPU's result codes (%d blocksizes only a backend rejects)",
               rep.cases, rep.gpu_only);
    else
        report("bad-input", 0, "%d of %d cases: %s", rep.mismatches, rep.cases, rep.first);
}

/* a second context on the run's cache directory compiles nothing (with --tier fast: nothing but the listed
   kernels' fast builds, which are never cached; with --tier on the first context's full builds are waited for) */
static void test_cache_reuse(void) {
    bnbq_result codes[64];
    char first[1400];
    bnbq_cuda* c2 = NULL;
    bnbq_exec ex2;
    bnbq_cuda_stats s1, s2;
    int good1, good2;
    if (!g_cache_dir[0]) { report("cache-reuse", 0, "no cache directory"); return; }
    good1 = touch_all(&g_ex, codes, first, sizeof first);   /* every variant touch_all needs, compiled in g_ctx */
    bnbq_cuda_finish_compiles(g_ctx);
    bnbq_cuda_stats_get(g_ctx, &s1);
    if (make_ctx(g_cache_dir, 0, &c2) != BNBQ_SUCCESS) { report("cache-reuse", 0, "second context failed"); return; }
    bnbq_cuda_exec_init(c2, NULL, &ex2);
    good2 = touch_all(&ex2, codes, first, sizeof first);
    bnbq_cuda_stats_get(c2, &s2);
    bnbq_cuda_uninit(c2);
    if (s2.units_compiled == s2.units_fast && s2.disk_hits > 0 && s2.disk_rejected == 0 && good2 == NOPS)
        report("cache-reuse", 1, "second context: %d units loaded from disk in %.1f ms, %d compiled, all fast builds "
               "(first context: %d compiled in %.2f s CPU, %.3f s per unit)", s2.disk_hits, s2.load_seconds * 1e3,
               s2.units_compiled, s1.units_compiled, s1.compile_seconds,
               s1.units_compiled ? s1.compile_seconds / s1.units_compiled : 0.0);
    else
        report("cache-reuse", 0, "second context: %d compiled (%d fast), %d disk hits, %d rejected; %d of %d operations "
               "ran and matched (first context: %d)%s%s", s2.units_compiled, s2.units_fast, s2.disk_hits, s2.disk_rejected,
               good2, NOPS, good1,
               first[0] ? "; first problem: " : "", first);
}

/* disable_nvrtc: a precompiled cache for the device's architecture serves every operation; an
   empty cache gives NO_NVRTC */
static void test_disable_nvrtc(void) {
    bnbq_cuda_device_info info;
    bnbq_cuda_precompile_desc pd;
    bnbq_cuda_precompile_report rep;
    bnbq_result codes[64], r;
    char dir[600], empty[600], first[1400];
    int arch, good, i, no_nvrtc = 0, others = 0;
    bnbq_cuda* c = NULL;
    bnbq_exec ex;
    bnbq_cuda_stats st;
    memset(&info, 0, sizeof info);
    bnbq_cuda_query_device(g_ctx, &info);
    if (!make_tmpdir(dir, sizeof dir) || !make_tmpdir(empty, sizeof empty)) { report("disable-nvrtc", 0, "mkdtemp"); return; }
    /* the device's own architecture as cubin when NVRTC knows it, else PTX for the target */
    arch = info.target_is_ptx ? info.target_arch : info.cc_major * 10 + info.cc_minor;
    memset(&pd, 0, sizeof pd);
    pd.archs = &arch;
    pd.num_archs = 1;
    pd.cache_dir = dir;
    pd.emit_ptx = info.target_is_ptx;
    r = bnbq_cuda_precompile(&pd, &rep);
    if (r != BNBQ_SUCCESS) {
        report("disable-nvrtc", 0, "precompile for %s_%d: %s", pd.emit_ptx ? "compute" : "sm", arch, bnbq_result_name(r));
        rm_tree(dir); rm_tree(empty);
        return;
    }
    if (make_ctx(dir, 1, &c) != BNBQ_SUCCESS) { report("disable-nvrtc", 0, "context"); rm_tree(dir); rm_tree(empty); return; }
    bnbq_cuda_exec_init(c, NULL, &ex);
    good = touch_all(&ex, codes, first, sizeof first);
    bnbq_cuda_stats_get(c, &st);
    bnbq_cuda_uninit(c);
    if (make_ctx(empty, 1, &c) != BNBQ_SUCCESS) { report("disable-nvrtc", 0, "context"); rm_tree(dir); rm_tree(empty); return; }
    bnbq_cuda_exec_init(c, NULL, &ex);
    {
        char first2[1400];
        touch_all(&ex, codes, first2, sizeof first2);
    }
    for (i = 0; i < NOPS; i++) {
        if (codes[i] == BNBQ_ERROR_NO_NVRTC) no_nvrtc++;
        else others++;
    }
    bnbq_cuda_uninit(c);
    rm_tree(dir);
    rm_tree(empty);
    if (good == NOPS && st.units_compiled == 0 && st.disk_hits > 0 && no_nvrtc == NOPS)
        report("disable-nvrtc", 1, "precompiled %d variants for %s_%d; without NVRTC every operation ran from them "
               "(%d loaded, 0 compiled); on an empty cache every operation gave BNBQ_ERROR_NO_NVRTC", rep.variants,
               pd.emit_ptx ? "compute" : "sm", arch, st.disk_hits);
    else {
        char bad[300] = "";
        for (i = 0; i < NOPS && !bad[0]; i++)
            if (codes[i] != BNBQ_ERROR_NO_NVRTC)
                snprintf(bad, sizeof bad, "; on the empty cache %s gave %s", k_ops[i].name, bnbq_result_name(codes[i]));
        report("disable-nvrtc", 0, "from the precompiled cache %d of %d operations ran and matched (%d compiled, %d loaded)%s%s; "
               "%d of %d gave NO_NVRTC on an empty cache%s", good, NOPS, st.units_compiled, st.disk_hits,
               first[0] ? "; first problem: " : "", first, no_nvrtc, NOPS, bad);
    }
    (void)others;
}

/* ================================================================================================ */

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
        else if (!strcmp(argv[a], "--any-nan")) g_strict_nan = 0;
        else if (!strcmp(argv[a], "--tier") && a + 1 < argc) {   /* tiered compilation (tests/tier_env.h) */
            if (tier_env_set("test_gpu", argv[++a])) return 2;
        }
        else if (argv[a][0] == '-') { fprintf(stderr, "usage: test_gpu [--small] [--any-nan] [--tier off|fast|on] [--cache-dir DIR] [--seed N] [-v] [op ...]\n"); return 2; }
        else nfilters++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (dir_arg) snprintf(g_cache_dir, sizeof g_cache_dir, "%s", dir_arg);
    else if (make_tmpdir(g_cache_dir, sizeof g_cache_dir)) g_own_cache_dir = 1;
    else g_cache_dir[0] = 0;
    memset(&d, 0, sizeof d);
    d.cache_dir = g_cache_dir[0] ? g_cache_dir : NULL;
    d.disable_disk_cache = g_cache_dir[0] == 0;
    r = bnbq_cuda_init(&d, &g_ctx);
    if (r == BNBQ_ERROR_NO_DRIVER || r == BNBQ_ERROR_NO_DEVICE) {
        printf("SKIP test_gpu: no GPU: %s (%s)\n", bnbq_result_description(r), bnbq_result_name(r));
        printf("0 passed, 0 failed, 1 skipped\n");
        if (g_own_cache_dir) rm_tree(g_cache_dir);
        return 0;
    }
    if (r != BNBQ_SUCCESS) {
        printf("FAIL init: bnbq_cuda_init: %s (%s)\n0 passed, 1 failed\n", bnbq_result_description(r), bnbq_result_name(r));
        if (g_own_cache_dir) rm_tree(g_cache_dir);
        return 1;
    }
    bnbq_cuda_exec_init(g_ctx, NULL, &g_ex);
    g_gex = &g_ex;
    bnbq_cuda_query_device(g_ctx, &info);
    if (g_plumbing) {
        /* With the fake driver of tests/fake_libcuda.c "device" memory is host memory: the CPU
           kernels run on it, which checks this program's copies, poisoning and comparisons. */
        if (strcmp(info.name, "bnbq fake GPU") != 0) {
            printf("FAIL init: --fake-plumbing needs the fake driver\n0 passed, 1 failed\n");
            return 1;
        }
        g_ex.backend = NULL;
    }
    printf("test_gpu: %s, sm_%d%d, %d SMs, %.1f GiB, driver %d, NVRTC %d, kernels %s_%d, cache %s%s\n", info.name,
           info.cc_major, info.cc_minor, info.sm_count, (double)info.total_memory / 1073741824.0, info.driver_version,
           info.nvrtc_version, info.target_is_ptx ? "compute" : "sm", info.target_arch,
           g_cache_dir[0] ? g_cache_dir : "(off)", g_small ? ", --small" : "");
    setup_codes();
    for (i = 0; i < NOPS; i++) {
        if (nfilters) {
            int match = 0;
            for (a = 1; a < argc; a++)
                if (argv[a][0] != '-' && strstr(k_ops[i].name, argv[a])) match = 1;
            if (!match) continue;
        }
        run_op(i);
    }
    if (!nfilters) {
        if (g_plumbing) {
            printf("skip bad-input, cache-reuse, disable-nvrtc: need a real backend\n");
            g_skipped += 3;
            test_streams();
        } else {
            test_bad_input();
            test_streams();
            test_cache_reuse();
            test_disable_nvrtc();
        }
    }
    {
        bnbq_cuda_stats st;
        bnbq_cuda_stats_get(g_ctx, &st);
        printf("kernels: %d compiled (%.2f s CPU, %.3f s per unit), %d from disk, %d rejected, %d modules; %.1f s in all\n",
               st.units_compiled, st.compile_seconds, st.units_compiled ? st.compile_seconds / st.units_compiled : 0.0,
               st.disk_hits, st.disk_rejected, st.modules, now_s() - t0);
    }
    if (g_xctx) {
        bnbq_exec_uninit(&g_xex);
        bnbq_cuda_uninit(g_xctx);
    }
    bnbq_exec_uninit(&g_ex);
    bnbq_cuda_uninit(g_ctx);
    if (g_own_cache_dir) rm_tree(g_cache_dir);
    if (g_skipped) printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    else printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
