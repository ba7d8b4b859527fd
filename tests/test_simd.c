/* test_simd.c - every SIMD level of the CPU paths against the scalar reference, byte for byte.

   For each level this CPU and build support (bnbq_cpu_simd_supported; the others are skipped with
   the reason printed) and each path (8-bit blockwise quantize / dequantize, 4-bit NF4 / FP4
   quantize / dequantize, LLM.int8 row-wise quantize, 4-bit GEMV, int8 matmul), on random inputs of odd sizes holding special
   values (NaN with several payloads, +-inf, -0, subnormals, huge values, values at and next to code
   entries, midpoints and NF4 / FP4 thresholds), every dtype, several blocksizes, with and without a
   parallel-for that cuts the work into small ranges and through a 2-thread bnbq_thread_pool: the output of the level must equal the output
   of BNBQ_SIMD_SCALAR in every byte. One "ok NAME" / "FAIL NAME" line per test (a test is one path
   at one level), the levels that ran, then "N passed, N failed, N skipped". Also checks that
   subnormals are kept (no flush to zero) at every level and, on aarch64, the NEON f16 / bf16
   conversions against the reference converters. quantize_blockwise_bounds / quantize_4bit_bounds:
   every decision boundary +-24 floats and a strided sweep of [-1, 1] (BNBQ_TEST_FULL_SWEEP=1: every
   float of [-1, 1] for the 8-bit codes, minutes). Arguments: [--quick] [name-substring ...]. */
#define BNBQ_IMPLEMENTATION
#define BNBQ_PTHREADS        /* the third pass runs through a 2-thread bnbq_thread_pool */
#include "bnbq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_quick, g_pass, g_fail, g_skip;
static long g_checks, g_fails;
static char g_first[512];
static char g_levels_run[64];

/* ---- random numbers (splitmix64) --------------------------------------------------------- */
static uint64_t g_rng = 0x5eed;
static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }
static float randn(void)
{
    double r = sqrt(-2.0 * log(1.0 - unif())), t = 6.283185307179586 * unif();
    return (float)(r * cos(t));
}
static float bits_f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* ---- inputs -------------------------------------------------------------------------------- */

/* x[0..n): normal values in blocks of random scale, with special values sprinkled in; some blocks
   have absmax exactly 1 so that code entries, midpoints and thresholds reach the search as is. */
static void make_input(float* x, size_t n, int bs, const float* code8)
{
    static const uint32_t specials[] = {
        0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fa00000u, 0xffffffffu, 0x7f800000u, 0xff800000u,
        0x80000000u, 0x00000000u, 0x00000001u, 0x80000001u, 0x007fffffu, 0x00400000u, 0x7f7fffffu,
        0xff7fffffu, 0x33800000u, 0x387fe000u, 0x477ff000u, 0x477fefffu, 0x47800000u
    };
    size_t i;
    int mode = (int)(rnd() % 4);
    for (i = 0; i < n; i++) {
        size_t blk = bs > 0 ? i / (size_t)bs : 0;
        uint64_t r = rnd();
        float scale = (float)ldexp(1.0, (int)(blk * 7 % 23) - 11);
        float v = randn() * scale;
        if (mode == 1 && bs > 0) {
            /* absmax 1 blocks: code entries, midpoints and their neighbours */
            int k = (int)(r % 256);
            float c = code8[k], m = k < 255 ? (code8[k] + code8[k + 1]) * 0.5f : c;
            switch ((r >> 8) % 6) {
                case 0: v = c; break;
                case 1: v = m; break;
                case 2: v = nextafterf(m, 2.0f); break;
                case 3: v = nextafterf(m, -2.0f); break;
                case 4: v = bnbq_code_4bit(BNBQ_NF4)[r % 16]; break;
                default: v = (float)((double)(int)(r % 4001) / 2000.0 - 1.0); break;
            }
            if (i % (size_t)bs == 0) v = 1.0f;
        }
        if (mode == 2 && (r >> 20) % 16 == 0)
            v = bits_f(specials[(r >> 24) % (sizeof specials / sizeof specials[0])]);
        if (mode == 3 && (r >> 20) % 64 == 0) v = bits_f(specials[(r >> 24) % 10]);
        x[i] = v;
    }
}

/* NF4 / FP4 threshold values (as the reference sees them after scaling by 1) in absmax-1 blocks */
static void make_input_4bit(float* x, size_t n, int bs)
{
    static const float thr[] = {
        -0.84809643f, -0.610632896f, -0.45999527f, -0.33967942f, -0.234607399f, -0.137911737f,
        -0.0455250181f, 0.0397901498f, 0.120255254f, 0.203521252f, 0.292013764f, 0.389312536f,
        0.501663387f, 0.64278692f, 0.861478388f, 0.00260417f, 0.0859375f, 0.208333328f,
        0.291666657f, 0.416666687f, 0.583333015f, 0.833333313f, -0.00260417f, -0.0859375f,
        -0.833333313f, 0.0f, -0.0f
    };
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t r = rnd();
        float t = thr[r % (sizeof thr / sizeof thr[0])];
        switch ((r >> 8) % 4) {
            case 0: x[i] = t; break;
            case 1: x[i] = nextafterf(t, 2.0f); break;
            case 2: x[i] = nextafterf(t, -2.0f); break;
            default: x[i] = randn() * 0.3f; break;
        }
        if (i % (size_t)bs == 0) x[i] = (r >> 40) & 1 ? 1.0f : -1.0f;
    }
}

/* x as dtype dt into buf; for 16-bit dtypes a few raw special bit patterns too */
static void to_dtype(bnbq_dtype dt, const float* x, size_t n, void* buf)
{
    static const uint16_t sp16[] = { 0x7c01, 0x7e00, 0xfe01, 0x7c00, 0xfc00, 0x8000, 0x0001, 0x83ff };
    size_t i;
    for (i = 0; i < n; i++) {
        if (dt == BNBQ_F32) ((float*)buf)[i] = x[i];
        else if (dt == BNBQ_F16) ((uint16_t*)buf)[i] = bnbq_f32_to_f16(x[i]);
        else {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            ((uint16_t*)buf)[i] = (uint16_t)(u >> 16);     /* truncation keeps NaN payloads */
        }
        if (dt != BNBQ_F32 && rnd() % 97 == 0) ((uint16_t*)buf)[i] = sp16[rnd() % 8];
    }
}

static void rand_absmax(float* a, size_t nb)
{
    static const uint32_t sp[] = { 0x7fc00000u, 0x7f800000u, 0xff800000u, 0x00000000u, 0x80000000u,
                                   0x00000003u, 0x7f7fffffu, 0xbf800000u, 0x3f800000u };
    size_t b;
    for (b = 0; b < nb; b++) {
        uint64_t r = rnd();
        a[b] = (float)fabs(randn()) * (float)ldexp(1.0, (int)(r % 40) - 20);
        if ((r >> 10) % 8 == 0) a[b] = bits_f(sp[(r >> 16) % 9]);
    }
}

/* ---- parallel-for that cuts [0, count) into ranges of 3 ------------------------------------ */
static void pf3(void* user, bnbq_range_fn fn, void* task, size_t count)
{
    size_t b;
    (void)user;
    for (b = 0; b < count; b += 3) fn(task, b, b + 3 < count ? b + 3 : count);
}

/* ---- comparison ------------------------------------------------------------------------------- */
static void cmp_bytes(const void* ref, const void* got, size_t bytes, const char* what)
{
    g_checks++;
    if (memcmp(ref, got, bytes) != 0) {
        size_t i = 0;
        const unsigned char* a = (const unsigned char*)ref;
        const unsigned char* b = (const unsigned char*)got;
        while (i < bytes && a[i] == b[i]) i++;
        g_fails++;
        if (g_fails == 1)
            snprintf(g_first, sizeof g_first, "%s: byte %zu of %zu: ref 0x%02x, got 0x%02x", what, i,
                     bytes, a[i], b[i]);
    }
}

static void must(bnbq_result r, const char* what)
{
    if (r != BNBQ_SUCCESS) {
        g_checks++; g_fails++;
        if (g_fails == 1) snprintf(g_first, sizeof g_first, "%s: %s", what, bnbq_result_name(r));
    }
}

static const bnbq_dtype DTS[3] = { BNBQ_F32, BNBQ_F16, BNBQ_BF16 };
static const char* dtn(bnbq_dtype dt) { return bnbq_dtype_name(dt); }

static size_t g_sizes[16];
static int sizes_for(int bs)
{
    int k = 0;
    g_sizes[k++] = 1; g_sizes[k++] = 31; g_sizes[k++] = 33; g_sizes[k++] = 1000;
    g_sizes[k++] = (size_t)bs - 1; g_sizes[k++] = (size_t)bs; g_sizes[k++] = (size_t)bs + 1;
    g_sizes[k++] = (size_t)bs * 2; g_sizes[k++] = (size_t)bs * 5 + 17;
    if (!g_quick) { g_sizes[k++] = (size_t)bs * 37 + 2; g_sizes[k++] = 65536 + 3; }
    return k;
}

/* ---- the paths ------------------------------------------------------------------------------------ */

static float g_codes[4][256];

static void t_quantize_blockwise(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const int bss[] = { 64, 128, 256, 1024, 4096 };
    int ib, is, id, ic, ns;
    char what[160];
    for (ib = 0; ib < 5; ib++) {
        ns = sizes_for(bss[ib]);
        for (is = 0; is < ns; is++)
            for (ic = 0; ic < 4; ic++) {
                size_t n = g_sizes[is], nb = n / (size_t)bss[ib] + 1;
                float* x = (float*)malloc(n * 4);
                void* xd = malloc(n * 4);
                uint8_t *q0 = (uint8_t*)malloc(n), *q1 = (uint8_t*)malloc(n);
                float *a0 = (float*)malloc(nb * 4), *a1 = (float*)malloc(nb * 4);
                make_input(x, n, bss[ib], g_codes[ic]);
                for (id = 0; id < 3; id++) {
                    to_dtype(DTS[id], x, n, xd);
                    memset(q0, 0xaa, n); memset(q1, 0x55, n);
                    bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
                    must(bnbq_quantize_blockwise(ex, g_codes[ic], DTS[id], xd, n, bss[ib], q0, a0), "ref");
                    bnbq_cpu_set_simd_level(lv);
                    must(bnbq_quantize_blockwise(ex, g_codes[ic], DTS[id], xd, n, bss[ib], q1, a1), "simd");
                    snprintf(what, sizeof what, "code %d %s n %zu bs %d", ic, dtn(DTS[id]), n, bss[ib]);
                    cmp_bytes(q0, q1, n, what);
                    cmp_bytes(a0, a1, (n + (size_t)bss[ib] - 1) / (size_t)bss[ib] * 4, what);
                }
                free(x); free(xd); free(q0); free(q1); free(a0); free(a1);
            }
    }
}

/* ---- 8-bit codes on and around every decision boundary (q8) ---------------------------------
   The scaled value the 8-bit search sees is x itself when the block's absmax is 1: blocks of 64
   hold 1.0 and 63 test values in [-1, 1] (or NaN). Values: every code entry and midpoint and 24
   float steps either side of each, the specials, and every 4099th float of [-1, 1]
   (BNBQ_TEST_FULL_SWEEP=1 in the environment: every float of [-1, 1], about a minute per code
   and level). The codes must equal bnbq_code_index (the scalar search) for every value. */
static size_t qb_fill(float* x, size_t cap, size_t n, float v)
{
    if (n % 64 == 0 && n < cap) x[n++] = 1.0f;
    if (n < cap && (v != v || fabsf(v) <= 1.0f)) x[n++] = v;
    return n;
}
static void qb_check(bnbq_exec* ex, int ic, const float* x, size_t n, uint8_t* q, uint8_t* r,
                     float* am, const char* what)
{
    size_t i;
    n -= n % 64;
    if (!n) return;
    must(bnbq_quantize_blockwise(ex, g_codes[ic], BNBQ_F32, x, n, 64, q, am), what);
    for (i = 0; i < n; i++) r[i] = (uint8_t)bnbq_code_index(g_codes[ic], x[i]);
    g_checks++;
    for (i = 0; i < n; i++)
        if (r[i] != q[i]) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            if (++g_fails == 1)
                snprintf(g_first, sizeof g_first, "%s code %d: x 0x%08x: ref %d, got %d", what, ic, u,
                         r[i], q[i]);
            break;
        }
}
static void t_quantize_blockwise_bounds(bnbq_simd_level lv, bnbq_exec* ex)
{
    const size_t cap = (size_t)1 << 20;
    float* x = (float*)malloc(cap * 4);
    uint8_t *q = (uint8_t*)malloc(cap), *r = (uint8_t*)malloc(cap);
    float* am = (float*)malloc(cap / 64 * 4);
    const char* full = getenv("BNBQ_TEST_FULL_SWEEP");
    uint32_t stride = (full && full[0] == '1' && !ex) ? 1u : 4099u;
    int ic;
    bnbq_cpu_set_simd_level(lv);
    for (ic = 0; ic < 4; ic++) {
        const float* c = g_codes[ic];
        size_t n = 0;
        int i, j, sgn;
        uint32_t u;
        static const uint32_t sp[] = { 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x00000000u, 0x80000000u,
                                       0x00000001u, 0x80000001u, 0x00800000u, 0x80800000u,
                                       0x3f800000u, 0xbf800000u, 0x007fffffu, 0x807fffffu };
        for (i = 0; i < (int)(sizeof sp / sizeof sp[0]); i++) n = qb_fill(x, cap, n, bits_f(sp[i]));
        for (i = 0; i < 256 + 255; i++) {
            float v = i < 256 ? c[i] : (c[i - 256] + c[i - 255]) * 0.5f, a = v, b = v;
            n = qb_fill(x, cap, n, v);
            for (j = 0; j < 24; j++) {
                a = nextafterf(a, -INFINITY); b = nextafterf(b, INFINITY);
                n = qb_fill(x, cap, n, a); n = qb_fill(x, cap, n, b);
            }
        }
        qb_check(ex, ic, x, n, q, r, am, "boundaries");
        n = 0;
        for (sgn = 0; sgn < 2; sgn++)
            for (u = 0; u <= 0x3f800000u; u += stride) {
                n = qb_fill(x, cap, n, bits_f(u | (sgn ? 0x80000000u : 0u)));
                if (n == cap) { qb_check(ex, ic, x, n, q, r, am, "sweep"); n = 0; }
                if (0x3f800000u - u < stride) break;
            }
        if (n < 16384) while (n < 16384) n = qb_fill(x, cap, n, 0.5f);
        qb_check(ex, ic, x, n, q, r, am, "sweep");
    }
    free(x); free(q); free(r); free(am);
}

/* ---- the gather-free 8-bit step function (AVX-512 VBMI + BITALG): table edges and dtypes ------
   Codes whose tables take 256, 512, 768 and 1024 groups of buckets (dynamic maps with 1, 2 and 7
   exponent bits, signed and unsigned, a geometric map from 2^-26) and one too wide for them (from
   2^-32: the other paths). (a) At absmax 1 (f32, blocksize 64): every float of [-1, 1] whose low 16
   bits are within 2 of a multiple of 2^16 (the buckets' edges: the buckets are 2^16 floats wide
   and start at multiples of 2^16), each checked against bnbq_code_index. (b) Every dtype and
   blocksize 64 / 128 / 256 / 4096 against the scalar level (codes and absmax), on random blocks of
   many scales and whole special blocks: all +0, all -0, all NaN, one NaN (16-bit absmax), +-inf,
   subnormals only, the largest finite values. At the AVX-512 level all of it twice: the second
   time as on a CPU without AVX512_BITALG (the gathered step function and the search). */
static void qe_code(int ic, float* c)
{
    int k;
    if (ic < 2) { memcpy(c, g_codes[ic], 256 * 4); return; }
    if (ic < 4) { bnbq_create_dynamic_map(1, ic - 1, 8, c); return; }
    for (k = 0; k < 128; k++) {   /* 0, +-2^-lo * 2^(lo k / 127) */
        int lo = ic == 4 ? 26 : 32;
        float v = (float)(ldexp(1.0, -lo) * pow(2.0, lo * k / 127.0));
        c[128 + k] = v;
        if (k < 127) c[126 - k] = -v;
    }
    c[127] = 0.0f;
}
static void qe_check(bnbq_exec* ex, const float* code, const float* x, size_t n, uint8_t* q,
                     uint8_t* r, float* am, int ic)
{
    size_t i;
    must(bnbq_quantize_blockwise(ex, code, BNBQ_F32, x, n, 64, q, am), "edges");
    for (i = 0; i < n; i++) r[i] = (uint8_t)bnbq_code_index(code, x[i]);
    g_checks++;
    for (i = 0; i < n; i++)
        if (r[i] != q[i]) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            if (++g_fails == 1)
                snprintf(g_first, sizeof g_first, "edges code %d: x 0x%08x: ref %d, got %d", ic, u, r[i], q[i]);
            break;
        }
}
static void t_quantize_blockwise_edges(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const int bss[] = { 64, 128, 256, 4096 };
    static const uint32_t sp[][4] = {
        { 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u },
        { 0x80000000u, 0x80000000u, 0x80000000u, 0x80000000u },
        { 0x7fc00000u, 0xffc00001u, 0x7fc00000u, 0x7fc00000u },
        { 0x7fc00000u, 0x3f000000u, 0xbe800000u, 0x3d000000u },
        { 0x7f800000u, 0xff800000u, 0x3f000000u, 0x00000000u },
        { 0x00000001u, 0x80000003u, 0x007fffffu, 0x33800000u },
        { 0x7f7fffffu, 0xff7fffffu, 0x477fe000u, 0xc77fe000u },
    };
    const size_t cap = (size_t)1 << 18;
    float* x = (float*)malloc(cap * 4);
    void* xd = malloc(cap * 4);
    uint8_t *q0 = (uint8_t*)malloc(cap), *q1 = (uint8_t*)malloc(cap);
    float *a0 = (float*)malloc(cap / 64 * 4), *a1 = (float*)malloc(cap / 64 * 4);
    float code[256];
    char what[128];
    int ic, ib, id, sgn, d;
    uint32_t u;
    size_t n, i;
    int pass, npass = 1;
#if defined(BNBQ__X86_SIMD)
    const int bitalg = bnbq__simd_bitalg;
    if (lv == BNBQ_SIMD_AVX512 && bitalg) npass = 2;   /* the second pass: as without BITALG */
#endif
    bnbq_cpu_set_simd_level(lv);
    for (pass = 0; pass < npass; pass++)
    for (ic = 0; ic < 6; ic++) {
#if defined(BNBQ__X86_SIMD)
        bnbq__simd_bitalg = pass ? 0 : bitalg;
#endif
        qe_code(ic, code);
        n = 0;   /* (a) */
        for (sgn = 0; sgn < 2; sgn++)
            for (u = 0; u <= 0x3f800000u; u += 0x10000u)
                for (d = -2; d <= 2; d++) {
                    uint32_t w = u + (uint32_t)d;
                    if ((d < 0 && u == 0) || w > 0x3f800000u) continue;
                    n = qb_fill(x, cap, n, bits_f(w | (sgn ? 0x80000000u : 0u)));
                    if (n == cap) { qe_check(ex, code, x, n, q0, q1, a0, ic); n = 0; }
                }
        while (n % 64 || n < 16384) n = qb_fill(x, cap, n, 0.25f);
        qe_check(ex, code, x, n, q0, q1, a0, ic);
        /* (b) */
        for (ib = 0; ib < 4; ib++) {
            size_t bs = (size_t)bss[ib], nb = 43 + 16384 / bs, b;   /* not a multiple of 4 */
            n = nb * bs;
            for (b = 0; b < nb; b++) {
                float scale = (float)ldexp(1.0, (int)(b * 5 % 31) - 15);
                for (i = 0; i < bs + 5; i++) x[b * bs + i] = randn() * scale;
                if (b < 7 * 3 && b % 3 == 0)   /* a whole special block */
                    for (i = 0; i < bs; i++) x[b * bs + i] = bits_f(sp[b / 3][(i * 7 + i / 5) % 4]);
                if (b % 3 == 1) x[b * bs + (b * 37) % bs] = bits_f(sp[(b / 3) % 7][b % 4]);
            }
            for (id = 0; id < 3; id++) {
                to_dtype(DTS[id], x, n + 5, xd);
                memset(q0, 0xaa, n + 5); memset(q1, 0x55, n + 5);
                bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
                must(bnbq_quantize_blockwise(ex, code, DTS[id], xd, n + 5, (int)bs, q0, a0), "ref");
                bnbq_cpu_set_simd_level(lv);
                must(bnbq_quantize_blockwise(ex, code, DTS[id], xd, n + 5, (int)bs, q1, a1), "simd");
                snprintf(what, sizeof what, "blocks code %d %s bs %d", ic, dtn(DTS[id]), (int)bs);
                cmp_bytes(q0, q1, n + 5, what);
                cmp_bytes(a0, a1, (nb + 1) * 4, what);
            }
        }
    }
#if defined(BNBQ__X86_SIMD)
    bnbq__simd_bitalg = bitalg;
#endif
    free(x); free(xd); free(q0); free(q1); free(a0); free(a1);
}

/* 4-bit (and 8-bit) quantize against the scalar level on blocks of 64 that hold 1.0 or -1.0 and
   the NF4 / FP4 thresholds with 24 float steps either side, every 4099th float of [-1, 1], and
   whole special blocks (all +0, all -0, all NaN, NaN with +-inf, subnormals only, huge values),
   every dtype */
static void t_quantize_4bit_bounds(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const float thr[] = {
        -0.84809643f, -0.610632896f, -0.45999527f, -0.33967942f, -0.234607399f, -0.137911737f,
        -0.0455250181f, 0.0397901498f, 0.120255254f, 0.203521252f, 0.292013764f, 0.389312536f,
        0.501663387f, 0.64278692f, 0.861478388f, 0.00260417f, 0.0859375f, 0.208333328f,
        0.291666657f, 0.416666687f, 0.583333015f, 0.833333313f, 0.0f, 0.99f, 0.9375f
    };
    static const uint32_t blocks[][4] = {
        { 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u },
        { 0x80000000u, 0x80000000u, 0x80000000u, 0x80000000u },
        { 0x7fc00000u, 0xffc00001u, 0x7fc00000u, 0x7fc00000u },
        { 0x7fc00000u, 0x7f800000u, 0xff800000u, 0x3f000000u },
        { 0x00000001u, 0x80000003u, 0x007fffffu, 0x00000000u },
        { 0x7f7fffffu, 0xff7fffffu, 0x7f000000u, 0x3f800000u },
    };
    const size_t cap = (size_t)1 << 19;
    float* x = (float*)malloc(cap * 4);
    void* xd = malloc(cap * 4);
    uint8_t *q0 = (uint8_t*)malloc(cap), *q1 = (uint8_t*)malloc(cap);
    float *a0 = (float*)malloc(cap / 64 * 4), *a1 = (float*)malloc(cap / 64 * 4);
    size_t n = 0;
    int i, j, sgn, id, iq;
    uint32_t u;
    char what[96];
    for (i = 0; i < (int)(sizeof blocks / sizeof blocks[0]); i++)
        for (j = 0; j < 64; j++) x[n++] = bits_f(blocks[i][(j * 7 + j / 5) % 4]);
    for (sgn = 0; sgn < 2; sgn++)
        for (i = 0; i < (int)(sizeof thr / sizeof thr[0]); i++) {
            float a = sgn ? -thr[i] : thr[i], b = a;
            n = qb_fill(x, cap, n, a);
            for (j = 0; j < 24; j++) {
                a = nextafterf(a, -INFINITY); b = nextafterf(b, INFINITY);
                n = qb_fill(x, cap, n, a); n = qb_fill(x, cap, n, b);
            }
        }
    for (sgn = 0; sgn < 2; sgn++)
        for (u = 0; u <= 0x3f800000u && n + 2 < cap; u += 4099u * 4u)
            n = qb_fill(x, cap, n, bits_f(u | (sgn ? 0x80000000u : 0u)));
    while (n % 64 || n < 16384) n = qb_fill(x, cap, n, 0.25f);
    for (i = 64 * 6; i < (int)n; i += 128) x[i] = -1.0f;   /* every other block: absmax from -1.0 */
    for (id = 0; id < 3; id++) {
        to_dtype(DTS[id], x, n, xd);
        for (iq = 0; iq < 3; iq++) {
            memset(q0, 0xaa, n); memset(q1, 0x55, n);
            bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
            if (iq < 2) must(bnbq_quantize_4bit(ex, iq ? BNBQ_FP4 : BNBQ_NF4, DTS[id], xd, n, 64, q0, a0), "ref");
            else must(bnbq_quantize_blockwise(ex, g_codes[0], DTS[id], xd, n, 64, q0, a0), "ref");
            bnbq_cpu_set_simd_level(lv);
            if (iq < 2) must(bnbq_quantize_4bit(ex, iq ? BNBQ_FP4 : BNBQ_NF4, DTS[id], xd, n, 64, q1, a1), "simd");
            else must(bnbq_quantize_blockwise(ex, g_codes[0], DTS[id], xd, n, 64, q1, a1), "simd");
            snprintf(what, sizeof what, "bounds %s %s n %zu", iq == 2 ? "8-bit" : iq ? "fp4" : "nf4", dtn(DTS[id]), n);
            cmp_bytes(q0, q1, iq < 2 ? n / 2 : n, what);
            cmp_bytes(a0, a1, n / 64 * 4, what);
        }
    }
    free(x); free(xd); free(q0); free(q1); free(a0); free(a1);
}

/* the SIMD output of a dequantize / int8 row test: 64-byte aligned or 16 bytes past that,
   alternately; at the AVX-512 level both with streaming stores enabled for any size
   (bnbq__nt_min_bytes 0, rows from 16 columns: the aligned one takes them, the other is refused) */
static int g_nt_case;
static void* nt_out(void* raw, bnbq_simd_level lv)
{
    char* p = (char*)raw + (64 - (size_t)((uintptr_t)raw % 64)) % 64;
    g_nt_case++;
#if defined(BNBQ__X86_SIMD)
    bnbq__nt_min_bytes = lv == BNBQ_SIMD_AVX512 ? 0 : (size_t)16 << 20;
    bnbq__vw_nt_cols = lv == BNBQ_SIMD_AVX512 ? 16 : 1024;
#else
    (void)lv;
#endif
    return g_nt_case % 2 ? p : p + 16;
}
static void nt_reset(void)
{
#if defined(BNBQ__X86_SIMD)
    bnbq__nt_min_bytes = (size_t)16 << 20;
    bnbq__vw_nt_cols = 1024;
#endif
}

static void t_dequantize_blockwise(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const int bss[] = { 64, 256, 4096 };
    int ib, is, id, ic, ns;
    size_t i;
    char what[160];
    for (ib = 0; ib < 3; ib++) {
        ns = sizes_for(bss[ib]);
        for (is = 0; is < ns; is++)
            for (ic = 0; ic < 4; ic++) {
                size_t n = g_sizes[is], nb = n / (size_t)bss[ib] + 1;
                uint8_t* q = (uint8_t*)malloc(n);
                float* a = (float*)malloc(nb * 4);
                void *o0 = malloc(n * 4), *r1 = malloc(n * 4 + 80), *o1 = nt_out(r1, lv);
                for (i = 0; i < n; i++) q[i] = (uint8_t)rnd();
                rand_absmax(a, nb);
                for (id = 0; id < 3; id++) {
                    size_t bytes = n * bnbq_dtype_size(DTS[id]);
                    memset(o0, 0xaa, n * 4); memset(o1, 0x55, n * 4);
                    bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
                    must(bnbq_dequantize_blockwise(ex, g_codes[ic], DTS[id], q, a, n, bss[ib], o0), "ref");
                    bnbq_cpu_set_simd_level(lv);
                    must(bnbq_dequantize_blockwise(ex, g_codes[ic], DTS[id], q, a, n, bss[ib], o1), "simd");
                    snprintf(what, sizeof what, "code %d %s n %zu bs %d out %% 64 = %d", ic, dtn(DTS[id]), n,
                             bss[ib], (int)((uintptr_t)o1 % 64));
                    cmp_bytes(o0, o1, bytes, what);
                }
                nt_reset();
                free(q); free(a); free(o0); free(r1);
            }
    }
}

static void t_quantize_4bit(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const int bss[] = { 32, 64, 128, 256, 4096 };
    int ib, is, id, iq, ns, special;
    char what[160];
    for (ib = 0; ib < 5; ib++) {
        ns = sizes_for(bss[ib]);
        for (is = 0; is < ns; is++)
            for (special = 0; special < 2; special++) {
                size_t n = g_sizes[is], nb = n / (size_t)bss[ib] + 1, pb = (n + 1) / 2;
                float* x = (float*)malloc(n * 4);
                void* xd = malloc(n * 4);
                uint8_t *q0 = (uint8_t*)malloc(pb), *q1 = (uint8_t*)malloc(pb);
                float *a0 = (float*)malloc(nb * 4), *a1 = (float*)malloc(nb * 4);
                if (special) make_input_4bit(x, n, bss[ib]);
                else make_input(x, n, bss[ib], g_codes[0]);
                for (iq = 0; iq < 2; iq++)
                    for (id = 0; id < 3; id++) {
                        bnbq_quant_type qt = iq ? BNBQ_FP4 : BNBQ_NF4;
                        to_dtype(DTS[id], x, n, xd);
                        memset(q0, 0xaa, pb); memset(q1, 0x55, pb);
                        bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
                        must(bnbq_quantize_4bit(ex, qt, DTS[id], xd, n, bss[ib], q0, a0), "ref");
                        bnbq_cpu_set_simd_level(lv);
                        must(bnbq_quantize_4bit(ex, qt, DTS[id], xd, n, bss[ib], q1, a1), "simd");
                        snprintf(what, sizeof what, "%s %s n %zu bs %d", iq ? "fp4" : "nf4", dtn(DTS[id]), n, bss[ib]);
                        cmp_bytes(q0, q1, pb, what);
                        cmp_bytes(a0, a1, (n + (size_t)bss[ib] - 1) / (size_t)bss[ib] * 4, what);
                    }
                free(x); free(xd); free(q0); free(q1); free(a0); free(a1);
            }
    }
}

static void t_dequantize_4bit(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const int bss[] = { 32, 64, 128, 1024, 4096 };
    int ib, is, id, iq, ns;
    size_t i;
    char what[160];
    for (ib = 0; ib < 5; ib++) {
        ns = sizes_for(bss[ib]);
        for (is = 0; is < ns; is++) {
            size_t n = g_sizes[is], nb = n / (size_t)bss[ib] + 1, pb = (n + 1) / 2;
            uint8_t* q = (uint8_t*)malloc(pb);
            float* a = (float*)malloc(nb * 4);
            void *o0 = malloc(n * 4), *r1 = malloc(n * 4 + 80), *o1 = nt_out(r1, lv);
            for (i = 0; i < pb; i++) q[i] = (uint8_t)rnd();
            rand_absmax(a, nb);
            for (iq = 0; iq < 2; iq++)
                for (id = 0; id < 3; id++) {
                    bnbq_quant_type qt = iq ? BNBQ_FP4 : BNBQ_NF4;
                    size_t bytes = n * bnbq_dtype_size(DTS[id]);
                    memset(o0, 0xaa, n * 4); memset(o1, 0x55, n * 4);
                    bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
                    must(bnbq_dequantize_4bit(ex, qt, DTS[id], q, a, n, bss[ib], o0), "ref");
                    bnbq_cpu_set_simd_level(lv);
                    must(bnbq_dequantize_4bit(ex, qt, DTS[id], q, a, n, bss[ib], o1), "simd");
                    snprintf(what, sizeof what, "%s %s n %zu bs %d out %% 64 = %d", iq ? "fp4" : "nf4",
                             dtn(DTS[id]), n, bss[ib], (int)((uintptr_t)o1 % 64));
                    cmp_bytes(o0, o1, bytes, what);
                }
            nt_reset();
            free(q); free(a); free(o0); free(r1);
        }
    }
}

static uint16_t g_ties[256];
static int g_nties;

static void t_int8_vectorwise(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const size_t colss[] = { 1, 7, 15, 16, 17, 31, 33, 100, 1000, 4096 };
    static const float thrs[] = { 0.0f, 2.0f, 0.5f };
    int ic, it, kind;
    size_t i;
    char what[160];
    /* kind 3: rows of max |v| = f16 0x3c77 (s = 127 * (1 / m)) and values v whose product v * s
       is exactly an even integer + 0.5 (round to nearest even and ties-away differ there) */
    if (g_nties == 0) {
        float m = bnbq_f16_to_f32(0x3c77), s = 127.0f * (1.0f / m);
        uint16_t hv;
        for (hv = 0; hv < 0x3c77 && g_nties < 256; hv++) {
            volatile float y = bnbq_f16_to_f32(hv) * s;
            float f = floorf(y);
            if (y - f == 0.5f && fmodf(f, 2.0f) == 0.0f) g_ties[g_nties++] = hv;
        }
    }
    for (ic = 0; ic < 10; ic++)
        for (it = 0; it < 3; it++)
            for (kind = 0; kind < 4; kind++) {
                size_t cols = colss[ic], rows = kind == 2 ? 1 : 5, n = rows * cols;
                float* x = (float*)malloc(n * 4);
                uint16_t* h = (uint16_t*)malloc(n * 2);
                int8_t *q0 = (int8_t*)malloc(n), *r1 = (int8_t*)malloc(n + 80);
                int8_t* q1 = (int8_t*)nt_out(r1, lv);   /* aligned or 16 past: streaming stores */
                float s0[8], s1[8];
                int32_t oc0[4096], oc1[4096], no0 = -1, no1 = -1;
                make_input(x, n, 0, g_codes[0]);
                if (kind == 1) for (i = 0; i < n; i++) if (rnd() % 13 == 0) x[i] = x[i] * 1e-6f;
                to_dtype(BNBQ_F16, x, n, h);
                if (kind == 1 && cols > 2) { for (i = 0; i < cols; i++) h[i] = 0; h[cols + 1] = 0x0001; }
                if (kind == 3)
                    for (i = 0; i < n; i++)
                        h[i] = (uint16_t)((i % cols == 0 ? 0x3c77 : g_ties[rnd() % (uint64_t)g_nties]) |
                                          (rnd() % 2 ? 0x8000 : 0));
                /* values exactly at the threshold (|v| >= threshold is an outlier) and next to it */
                for (i = 0; i < n; i++)
                    if (rnd() % 11 == 0) {
                        uint16_t t16 = bnbq_f32_to_f16(thrs[it] > 0.0f ? thrs[it] : 1.0f);
                        h[i] = (uint16_t)(t16 + (int)(rnd() % 3) - 1) | (uint16_t)(rnd() % 2 ? 0x8000 : 0);
                    }
                memset(q0, 0x11, n); memset(q1, 0x22, n);
                bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
                must(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, h, rows, cols, thrs[it], q0, s0, oc0, &no0), "ref");
                bnbq_cpu_set_simd_level(lv);
                must(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, h, rows, cols, thrs[it], q1, s1, oc1, &no1), "simd");
                snprintf(what, sizeof what, "rows %zu cols %zu thr %g kind %d", rows, cols, (double)thrs[it], kind);
                cmp_bytes(q0, q1, n, what);
                cmp_bytes(s0, s1, rows * 4, what);
                if (thrs[it] > 0.0f) {
                    cmp_bytes(&no0, &no1, 4, what);
                    if (no0 == no1 && no0 > 0) cmp_bytes(oc0, oc1, (size_t)no0 * 4, what);
                }
                nt_reset();
                free(x); free(h); free(q0); free(r1);
            }
}

/* one gemv at the scalar level and at lv (outputs prefilled differently), compared byte for byte */
static void gemv_vs_scalar(bnbq_simd_level lv, bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt, const void* A,
                           const uint8_t* pk, const float* am, size_t N, size_t K, int bs, const void* bias,
                           const float* code, void* o0, void* o1, const char* what)
{
    memset(o0, 0xaa, N * 4); memset(o1, 0x55, N * 4);
    bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
    must(bnbq_gemv_4bit(ex, qt, dt, A, pk, am, N, K, bs, o0, bias, code), "ref");
    bnbq_cpu_set_simd_level(lv);
    must(bnbq_gemv_4bit(ex, qt, dt, A, pk, am, N, K, bs, o1, bias, code), "simd");
    cmp_bytes(o0, o1, N * bnbq_dtype_size(dt), what);
}

static void t_gemv_4bit(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const size_t Ks[] = { 32, 64, 96, 1024, 1056, 2080, 4096 };
    static const size_t Ns[] = { 1, 3, 17 };
    static const int bss[] = { 32, 64, 128, 1024 };
    int ik, in, ib, iq, id, ibias;
    size_t i;
    char what[160];
    for (ik = 0; ik < 7; ik++)
        for (in = 0; in < 3; in++)
            for (ib = 0; ib < 4; ib++) {
                size_t K = Ks[ik], N = Ns[in], nw = N * K, nb;
                float *A, *am, *bias;
                uint8_t* pk;
                void *A16, *b16, *o0, *o1;
                if (K % (size_t)bss[ib] != 0) continue;
                if (g_quick && (ik == 6 || in == 2)) continue;
                nb = nw / (size_t)bss[ib];
                A = (float*)malloc(K * 4); A16 = malloc(K * 4); am = (float*)malloc(nb * 4);
                bias = (float*)malloc(N * 4); b16 = malloc(N * 4); pk = (uint8_t*)malloc(nw / 2);
                o0 = malloc(N * 4); o1 = malloc(N * 4);
                make_input(A, K, 0, g_codes[0]);
                if (rnd() % 2) for (i = 0; i < K; i++) if (!(A[i] == A[i]) || fabsf(A[i]) > 1e30f) A[i] = randn();
                for (i = 0; i < N; i++) bias[i] = randn();
                for (i = 0; i < nw / 2; i++) pk[i] = (uint8_t)rnd();
                rand_absmax(am, nb);
                if (rnd() % 2) for (i = 0; i < nb; i++) if (!(am[i] == am[i]) || am[i] > 1e30f || am[i] < -1e30f) am[i] = 0.5f;
                for (iq = 0; iq < 2; iq++)
                    for (id = 0; id < 3; id++)
                        for (ibias = 0; ibias < 2; ibias++) {
                            bnbq_quant_type qt = iq ? BNBQ_FP4 : BNBQ_NF4;
                            const float* code = (ibias && iq == 0) ? bnbq_code_4bit(BNBQ_AF4) : NULL;
                            to_dtype(DTS[id], A, K, A16);
                            to_dtype(DTS[id], bias, N, b16);
                            snprintf(what, sizeof what, "%s %s N %zu K %zu bs %d bias %d", iq ? "fp4" : "nf4",
                                     dtn(DTS[id]), N, K, bss[ib], ibias);
                            gemv_vs_scalar(lv, ex, qt, DTS[id], A16, pk, am, N, K, bss[ib], ibias ? b16 : NULL, code,
                                           o0, o1, what);
                        }
                free(A); free(A16); free(am); free(bias); free(b16); free(pk); free(o0); free(o1);
            }
    /* lanes without a chunk in the last round (K 1056: lane 0 only) keep their sums: every lane
       sum is -0 here (f32 products underflowing to -0), which a lane's + 0 would turn into +0 */
    for (iq = 0; iq < 2; iq++) {
        size_t K = 1056, nb = K / 32;
        float *A = (float*)malloc(K * 4), *am = (float*)malloc(nb * 4), o0 = 1.0f, o1 = 2.0f, mz = -0.0f;
        uint8_t* pk = (uint8_t*)malloc(K / 2);
        bnbq_quant_type qt = iq ? BNBQ_FP4 : BNBQ_NF4;
        for (i = 0; i < K; i++) A[i] = -(float)ldexp(1.0, -100);
        for (i = 0; i < nb; i++) am[i] = (float)ldexp(1.0, -100);
        memset(pk, iq ? 0x22 : 0xff, K / 2);            /* positive code values */
        bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
        must(bnbq_gemv_4bit(ex, qt, BNBQ_F32, A, pk, am, 1, K, 32, &o0, NULL, NULL), "ref");
        bnbq_cpu_set_simd_level(lv);
        must(bnbq_gemv_4bit(ex, qt, BNBQ_F32, A, pk, am, 1, K, 32, &o1, NULL, NULL), "simd");
        snprintf(what, sizeof what, "%s f32 N 1 K %zu: sums of -0", iq ? "fp4" : "nf4", K);
        cmp_bytes(&o0, &o1, 4, what);
        cmp_bytes(&mz, &o0, 4, what);                   /* the case is what it claims */
        free(A); free(am); free(pk);
    }
}

/* gemv, the lane layouts of the SIMD paths: weights from the quantizer (realistic nibbles) and
   random ones, K with partial last rounds (1056, 3104: 33 and 97 chunks) and full ones,
   blocksizes up to and past one round's half (512) and a whole round (1024 elements), row
   counts even and odd (rows are taken in pairs), absmax with specials, activations with specials
   in every dtype, NF4 / FP4 / a custom code, bias or none. */
static void t_gemv_4bit_lanes(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const size_t Ks[] = { 1056, 2048, 3104, 6144 };
    static const size_t Ns[] = { 2, 5 };
    static const int bss[] = { 32, 256, 512, 2048, 4096 };
    int ik, in, ib, iq, id, ir;
    size_t i;
    char what[160];
    for (ik = 0; ik < 4; ik++)
        for (in = 0; in < 2; in++)
            for (ib = 0; ib < 5; ib++) {
                size_t K = Ks[ik], N = Ns[in], nw = N * K, nb;
                float *A, *am, *bias, *wt;
                uint8_t* pk;
                void *A16, *b16, *o0, *o1;
                if (K % (size_t)bss[ib] != 0) continue;
                if (g_quick && (ik == 3 || ib == 1)) continue;
                nb = nw / (size_t)bss[ib];
                A = (float*)malloc(K * 4); A16 = malloc(K * 4); am = (float*)malloc(nb * 4);
                bias = (float*)malloc(N * 4); b16 = malloc(N * 4); pk = (uint8_t*)malloc(nw / 2);
                wt = (float*)malloc(nw * 4); o0 = malloc(N * 4); o1 = malloc(N * 4);
                for (i = 0; i < N; i++) bias[i] = randn();
                for (ir = 0; ir < 2; ir++)
                    for (iq = 0; iq < 3; iq++)
                        for (id = 0; id < 3; id++) {
                            bnbq_quant_type qt = iq == 1 ? BNBQ_FP4 : BNBQ_NF4;
                            const float* code = iq == 2 ? bnbq_code_4bit(BNBQ_AF4) : NULL;
                            int wb = (ik + id + ir) % 2;
                            make_input(A, K, 0, g_codes[0]);
                            if (ir == 0) for (i = 0; i < K; i++) if (!(A[i] == A[i]) || fabsf(A[i]) > 1e30f) A[i] = randn();
                            if (ir == 0) {      /* quantized weights, their absmax */
                                for (i = 0; i < nw; i++) wt[i] = randn() * 0.02f;
                                must(bnbq_quantize_4bit(ex, qt, BNBQ_F32, wt, nw, bss[ib], pk, am), "quantize");
                            } else {
                                for (i = 0; i < nw / 2; i++) pk[i] = (uint8_t)rnd();
                                rand_absmax(am, nb);
                            }
                            to_dtype(DTS[id], A, K, A16);
                            to_dtype(DTS[id], bias, N, b16);
                            snprintf(what, sizeof what, "lanes %s %s N %zu K %zu bs %d bias %d %s",
                                     iq == 1 ? "fp4" : iq == 2 ? "af4" : "nf4", dtn(DTS[id]), N, K,
                                     bss[ib], wb, ir ? "random" : "quantized");
                            gemv_vs_scalar(lv, ex, qt, DTS[id], A16, pk, am, N, K, bss[ib], wb ? b16 : NULL, code,
                                           o0, o1, what);
                        }
                free(A); free(A16); free(am); free(bias); free(b16); free(pk); free(wt); free(o0); free(o1);
            }
}

/* gemv, the fast full rounds of the AVX-512 F16 / BF16 paths and their bounds. F16 takes a round's
   weights rounded on their bits when every qmap * absmax is 0 or a normal f16 (bounds: absmax
   2^-14 / min|qmap| and 65504 / max|qmap|); BF16 with AVX512_BF16 takes vcvtne2ps2bf16 and
   vdpbf16ps when no weight or product of the round can be an f32 subnormal, inf or NaN (bounds:
   weights 2^-126 with activations near 2^100; products 2^-125 with activations of magnitude
   2^-60 .. 1.25 * 2^-60; absmax up to FLT_MAX). Each (row, round) draws its absmax inside the
   bound (fast), around it (-20 % .. +10 %, or within 1 %: mostly slow, some fast), or inside with
   specials (0, -0, inf, NaN, subnormal, 8.5e37, FLT_MAX) in some blocks;
   some absmax are negative; BF16 also gets specials in some activations and rounds with one
   activation far below the others. Codes: NF4, FP4, one with entries -3.5 .. 4 and 1e-3, and a
   flat one (every nonzero |entry| in [0.75, 1)), whose weights all sit near a bound together;
   activations dense or sparse (one in 29 or one in 331 nonzero, so that single products reach
   the output); blocksizes 32 / 64 / 256; K 2048 and 3328 (a partial last round); bias or none.
   BF16 also runs with AVX512_BF16 turned off where the CPU has it. Bounds loosened on purpose
   (thr / 4, flo * 0.9, fhi * 1.01) fail here. */
static void to_dtype_plain(bnbq_dtype dt, const float* x, size_t n, void* buf)   /* no specials added */
{
    size_t i;
    for (i = 0; i < n; i++)
        ((uint16_t*)buf)[i] = dt == BNBQ_F16 ? bnbq_f32_to_f16(x[i]) : bnbq_f32_to_bf16(x[i]);
}
static void t_gemv_4bit_fast(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const size_t Ks[] = { 2048, 3328 };
    static const int bss[] = { 32, 64, 256 };
    static const uint32_t sp[] = { 0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                   0x00000005u, 0x00700000u, 0x7f7fffffu, 0x7e800000u };
    float codes[2][16];
    int ik, ib, iq, ic, rep, pass, npass = 1;
    size_t i;
    char what[200];
#if defined(BNBQ__X86_SIMD)
    int had_bf16 = bnbq__simd_bf16;
    if (lv == BNBQ_SIMD_AVX512 && had_bf16) npass = 2;
#endif
    for (i = 0; i < 16; i++) {
        codes[0][i] = (float)((int)i - 7) * 0.5f;                                  /* -3.5 .. 4 */
        codes[1][i] = (i % 2 ? -1.0f : 1.0f) * (0.75f + 0.015625f * (float)i);     /* flat */
    }
    codes[0][9] = 1.0e-3f;
    codes[1][5] = 0.0f;
    for (pass = 0; pass < npass; pass++) {
#if defined(BNBQ__X86_SIMD)
        if (npass == 2) bnbq__simd_bf16 = pass == 0 ? had_bf16 : 0;
#endif
        for (rep = 0; rep < (g_quick ? 1 : 3); rep++)
        for (ic = pass ? 2 : 0; ic < 5; ic++)
            for (ik = 0; ik < 2; ik++)
                for (ib = 0; ib < 3; ib++)
                    for (iq = 0; iq < 4; iq++) {
                        bnbq_dtype dt = ic < 2 ? BNBQ_F16 : BNBQ_BF16;
                        size_t K = Ks[ik], N = 15, nw = N * K, nb = nw / (size_t)bss[ib];
                        size_t rounds = (K + 1023) / 1024, nr = N * rounds;
                        bnbq_quant_type qt = iq == 1 ? BNBQ_FP4 : BNBQ_NF4;
                        const float* code = iq >= 2 ? codes[iq - 2] : bnbq_code_4bit(qt);
                        float *A = (float*)malloc(K * 4), *am = (float*)malloc(nb * 4), *bias = (float*)malloc(N * 4);
                        void *A16 = malloc(K * 4), *b16 = malloc(N * 4), *o0 = malloc(N * 4), *o1 = malloc(N * 4);
                        uint8_t* pk = (uint8_t*)malloc(nw / 2);
                        int* mode = (int*)malloc(nr * sizeof(int));
                        double qmin = 1e30, qmax = 0.0, amin = 1.0, bound;
                        int sparse = (int)(rnd() % 3), wb = (int)(rnd() % 2);
                        for (i = 0; i < 16; i++) {
                            double q = fabs((double)code[i]);
                            if (q > 0.0 && q < qmin) qmin = q;
                            if (q > qmax) qmax = q;
                        }
                        for (i = 0; i < K; i++) {
                            uint64_t r = rnd();
                            if (ic == 3) A[i] = (r % 2 ? -1.0f : 1.0f) * (float)ldexp(1.0 + (double)((r >> 1) % 64) / 256.0, -60);
                            else A[i] = randn() * (float)ldexp(1.0, (ic == 2 ? 100 : 0) + (int)((r >> 1) % 5) - 2);
                            if (sparse && (r >> 8) % (sparse == 1 ? 29 : 331) != 0) A[i] = 0.0f;
                            if (ic == 4 && (r >> 16) % 97 == 0) A[i] = bits_f(sp[(r >> 24) % 9]);
                        }
                        if (ic >= 3 && rnd() % 2) A[rnd() % K] = (float)ldexp(1.0, -70);   /* one round slow */
                        to_dtype_plain(dt, A, K, A16);
                        if (ic == 3) amin = ldexp(1.0, -60);
                        switch (ic) {
                            case 0: bound = ldexp(1.0, -14) / qmin; break;
                            case 1: bound = 65504.0 / qmax; break;
                            case 2: bound = ldexp(1.0, -126) / qmin; break;
                            case 3: bound = ldexp(1.0, -125) / (qmin * amin); break;
                            default: bound = 0.05; break;
                        }
                        for (i = 0; i < nr; i++) mode[i] = (int)(rnd() % 4 % 3);   /* edge: 1 in 2 */
                        for (i = 0; i < N; i++) bias[i] = randn();
                        for (i = 0; i < nw / 2; i++) pk[i] = (uint8_t)rnd();
                        for (i = 0; i < nb; i++) {
                            size_t e = i * (size_t)bss[ib];
                            int md = mode[(e / K) * rounds + (e % K) / 1024];
                            uint64_t r = rnd();
                            double f;
                            if (md == 1 && (r >> 50) % 2) f = 1.0 + ((double)(r % 3001) - 2000.0) * 1e-4; /* -20 .. 10 % */
                            else if (md == 1) f = 1.0 + ((double)(r % 2001) - 1000.0) * 1e-5;        /* -1 .. 1 % */
                            else f = ldexp(1.0 + (double)(r % 1000) * 1e-3, (int)((r >> 12) % 3) + 1);
                            if (ic == 1 && md != 1) f = 1.0 / f;                            /* below the upper bound */
                            am[i] = (float)(bound * f);
                            if (md == 2 && (r >> 24) % 5 == 0) am[i] = bits_f(sp[(r >> 32) % 9]);
                            if ((r >> 40) % 16 == 0) am[i] = -am[i];
                        }
                        to_dtype_plain(dt, bias, N, b16);
                        snprintf(what, sizeof what, "fast rounds case %d %s %s N %zu K %zu bs %d bias %d %s%s",
                                 ic, iq == 1 ? "fp4" : iq == 2 ? "wide" : iq == 3 ? "flat" : "nf4", dtn(dt), N,
                                 K, bss[ib], wb, sparse == 2 ? "sparser" : sparse ? "sparse" : "dense",
                                 pass ? " (no avx512bf16)" : "");
                        gemv_vs_scalar(lv, ex, qt, dt, A16, pk, am, N, K, bss[ib], wb ? b16 : NULL, code, o0,
                                       o1, what);
                        free(A); free(am); free(bias); free(A16); free(b16); free(o0); free(o1); free(pk); free(mode);
                    }
    }
#if defined(BNBQ__X86_SIMD)
    bnbq__simd_bf16 = had_bf16;
#endif
}

/* int8 matmul (exact int32, wrapping): odd M, N, K (K not a multiple of any vector width, and
   above the K block of 4096), tiles cut along N and along M, random bytes and the extremes -128 /
   127 everywhere, and one K whose sums wrap around 2^32 */
static void i8mm_case(bnbq_simd_level lv, bnbq_exec* ex, size_t M, size_t N, size_t K, int mode)
{
    static const int8_t ext[4] = { -128, 127, -127, 0 };
    int8_t* a = (int8_t*)malloc(M * K);
    int8_t* b = (int8_t*)malloc(N * K);
    int32_t* o0 = (int32_t*)malloc(M * N * 4);
    int32_t* o1 = (int32_t*)malloc(M * N * 4);
    size_t i;
    char what[160];
    for (i = 0; i < M * K; i++)
        a[i] = mode == 0 ? (int8_t)(rnd() & 0xff) : mode == 1 ? -128 : mode == 2 ? 127 : ext[rnd() % 4];
    for (i = 0; i < N * K; i++)
        b[i] = mode == 0 ? (int8_t)(rnd() & 0xff) : mode == 1 ? -128 : mode == 2 ? -128 : ext[rnd() % 4];
    memset(o0, 0x11, M * N * 4); memset(o1, 0x22, M * N * 4);
    bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
    must(bnbq_int8_linear_matmul(ex, a, b, M, N, K, o0), "ref");
    bnbq_cpu_set_simd_level(lv);
    must(bnbq_int8_linear_matmul(ex, a, b, M, N, K, o1), "simd");
    snprintf(what, sizeof what, "M %zu N %zu K %zu values %d", M, N, K, mode);
    cmp_bytes(o0, o1, M * N * 4, what);
    free(a); free(b); free(o0); free(o1);
}

/* SwitchBack's int8 matmul + dequantize (rowwise / mixed): the int32 products from the level, the
   f16 epilogue of the reference; states of random f16 scales (some 0, inf, NaN), bias or none */
static void i8sb_case(bnbq_simd_level lv, bnbq_exec* ex, size_t M, size_t N, size_t K)
{
    static const uint16_t sp[] = { 0x0000, 0x7c00, 0x7e00, 0x0001, 0x7bff, 0x3c00 };
    int8_t* a = (int8_t*)malloc(M * K);
    int8_t* b = (int8_t*)malloc(N * K);
    uint16_t *sx = (uint16_t*)malloc(M * 2), *sw = (uint16_t*)malloc(N * 2), *bias = (uint16_t*)malloc(N * 2);
    uint16_t *o0 = (uint16_t*)malloc(M * N * 2), *o1 = (uint16_t*)malloc(M * N * 2);
    size_t i;
    int g, ib;
    char what[160];
    for (i = 0; i < M * K; i++) a[i] = (int8_t)(rnd() & 0xff);
    for (i = 0; i < N * K; i++) b[i] = rnd() % 5 == 0 ? (int8_t)-128 : (int8_t)(rnd() & 0xff);
    for (i = 0; i < M; i++) sx[i] = rnd() % 7 == 0 ? sp[rnd() % 6] : bnbq_f32_to_f16((float)fabs(randn()) * 3.0f);
    for (i = 0; i < N; i++) {
        sw[i] = rnd() % 7 == 0 ? sp[rnd() % 6] : bnbq_f32_to_f16((float)fabs(randn()) * 0.05f);
        bias[i] = bnbq_f32_to_f16(randn());
    }
    for (g = 0; g < 2; g++)
        for (ib = 0; ib < 2; ib++) {
            memset(o0, 0x11, M * N * 2); memset(o1, 0x22, M * N * 2);
            bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
            must(g ? bnbq_int8_matmul_mixed_dequantize(ex, a, b, sx, sw, M, N, K, o0, ib ? bias : NULL)
                   : bnbq_int8_matmul_rowwise_dequantize(ex, a, b, sx, sw, M, N, K, o0, ib ? bias : NULL), "ref");
            bnbq_cpu_set_simd_level(lv);
            must(g ? bnbq_int8_matmul_mixed_dequantize(ex, a, b, sx, sw, M, N, K, o1, ib ? bias : NULL)
                   : bnbq_int8_matmul_rowwise_dequantize(ex, a, b, sx, sw, M, N, K, o1, ib ? bias : NULL), "simd");
            snprintf(what, sizeof what, "%s M %zu N %zu K %zu bias %d", g ? "mixed" : "rowwise", M, N, K, ib);
            cmp_bytes(o0, o1, M * N * 2, what);
        }
    free(a); free(b); free(sx); free(sw); free(bias); free(o0); free(o1);
}

static void t_int8_matmul_one(bnbq_simd_level lv, bnbq_exec* ex)
{
    static const size_t Ks[] = { 1, 3, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4097, 8200 };
    static const size_t MN[][2] = { { 1, 1 }, { 3, 17 }, { 17, 3 }, { 5, 65 }, { 65, 63 }, { 64, 130 } };
    int ik, ip, mode;
    for (ik = 0; ik < 13; ik++)
        for (ip = 0; ip < 6; ip++)
            for (mode = 0; mode < 4; mode++) {
                if (g_quick && Ks[ik] > 1000 && ip > 2) continue;
                if (mode && ip > 3 && Ks[ik] > 100) continue;
                i8mm_case(lv, ex, MN[ip][0], MN[ip][1], Ks[ik], mode);
            }
    i8mm_case(lv, ex, 2, 3, 140000, 1);   /* 140000 * 16384 > 2^31: the sums wrap */
    i8mm_case(lv, ex, 5, 2, 140001, 3);
    i8sb_case(lv, ex, 1, 1, 1);
    i8sb_case(lv, ex, 3, 17, 65);
    i8sb_case(lv, ex, 17, 3, 1000);
    i8sb_case(lv, ex, 33, 70, 4099);
}

static void t_int8_matmul(bnbq_simd_level lv, bnbq_exec* ex)
{
    t_int8_matmul_one(lv, ex);
#if defined(BNBQ__X86_SIMD)
    /* AVX-512 without VNNI (the vpmaddwd path), when this CPU has VNNI */
    if (lv == BNBQ_SIMD_AVX512 && bnbq__simd_vnni) {
        bnbq__simd_vnni = 0;
        t_int8_matmul_one(lv, ex);
        bnbq__simd_vnni = 1;
    }
#endif
}

/* Subnormals are kept (no flush to zero) at level lv: 4-bit dequantize of nibble 15 (NF4 1.0)
   with a subnormal absmax must give it back exactly as f32 and bf16, and absmax 2^-20 must give
   the f16 subnormal 0x0010. On aarch64 also FPCR itself: FZ (bit 24), FZ16 (19), DN (25) and
   the rounding mode (23:22) are 0, as Linux starts a process. */
static int t_subnormals(bnbq_simd_level lv)
{
    uint8_t pk[32];
    float a_sub[2], a_f16[2], o32[64];
    uint16_t o16[64], ob[64];
    int i, ok = 1;
    memset(pk, 0xff, sizeof pk);
    for (i = 0; i < 2; i++) { a_sub[i] = bits_f(0x00020000u); a_f16[i] = (float)ldexp(1.0, -20); }
    ok = bnbq_cpu_set_simd_level(lv) == BNBQ_SUCCESS;
    ok = ok && bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, pk, a_sub, 64, 32, o32) == BNBQ_SUCCESS;
    ok = ok && bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_BF16, pk, a_sub, 64, 32, ob) == BNBQ_SUCCESS;
    ok = ok && bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F16, pk, a_f16, 64, 32, o16) == BNBQ_SUCCESS;
    for (i = 0; ok && i < 64; i++) {
        uint32_t u;
        memcpy(&u, &o32[i], 4);
        ok = u == 0x00020000u && ob[i] == 0x0002 && o16[i] == 0x0010;
    }
#if defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    {
        uint64_t fpcr;
        __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
        if (fpcr & ((1u << 24) | (1u << 19) | (1u << 25) | (3u << 22))) ok = 0;
        printf("fpcr 0x%llx\n", (unsigned long long)fpcr);
    }
#endif
    return ok;
}

#if defined(BNBQ__NEON_SIMD)
/* The NEON conversions (bnbq__n_to16, bnbq__n_round16: static functions of this translation unit)
   against bnbq_f32_to_f16 / _bf16 on every 2053rd bit pattern of f32 (all signs, exponents,
   NaN payloads), the f16 / bf16 rounding boundaries and the NaN patterns. */
static int t_neon_convert(void)
{
    static const uint32_t extra[] = { 0x7fffffffu, 0xffffffffu, 0x7f800001u, 0x7fc00000u, 0xffbfffffu,
                                      0x7fbfe000u, 0x7f801fffu, 0x477fefffu, 0x477ff000u, 0x477fffffu,
                                      0x33000000u, 0x33000001u, 0x387fe000u, 0x387ff000u, 0x3f808000u,
                                      0x3f818000u, 0x7f7f8000u, 0x7f7fffffu, 0x00008000u, 0x80018000u };
    const uint64_t nstep = 0x100000000ull / 2053 + 1;
    uint64_t k;
    int bad = 0, d, i;
    for (k = 0; k < nstep + 20; k += 4) {
        uint32_t u[4];
        float f[4], r[4];
        uint16_t h[4];
        for (i = 0; i < 4; i++) {
            uint64_t kk = k + (uint64_t)i;
            u[i] = kk < nstep ? (uint32_t)((kk * 2053u) & 0xffffffffu) : extra[(kk - nstep) % 20];
            memcpy(&f[i], &u[i], 4);
        }
        for (d = 0; d < 2; d++) {
            bnbq_dtype dt = d ? BNBQ_BF16 : BNBQ_F16;
            vst1_u16(h, bnbq__n_to16(dt, vld1q_f32(f)));
            vst1q_f32(r, bnbq__n_round16(dt, vld1q_f32(f)));
            for (i = 0; i < 4; i++) {
                uint16_t want = d ? bnbq_f32_to_bf16(f[i]) : bnbq_f32_to_f16(f[i]);
                float wr = d ? bnbq_bf16_to_f32(want) : bnbq_f16_to_f32(want);
                if (h[i] != want || memcmp(&r[i], &wr, 4) != 0) {
                    if (bad++ < 3) printf("  %s of 0x%08x: 0x%04x, reference 0x%04x\n", bnbq_dtype_name(dt),
                                          (unsigned)u[i], (unsigned)h[i], (unsigned)want);
                }
            }
        }
    }
    printf("  %llu values to f16 and bf16, %d differ\n", (unsigned long long)(k * 2), bad);
    return bad == 0;
}
#endif

typedef void (*path_fn)(bnbq_simd_level, bnbq_exec*);

static int selected(int argc, char** argv, const char* name)
{
    int i, any = 0;
    for (i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        any = 1;
        if (strstr(name, argv[i])) return 1;
    }
    return !any;
}

int main(int argc, char** argv)
{
    static const struct { const char* name; path_fn fn; } paths[] = {
        { "quantize_blockwise", t_quantize_blockwise },
        { "quantize_blockwise_bounds", t_quantize_blockwise_bounds },
        { "quantize_blockwise_edges", t_quantize_blockwise_edges },
        { "dequantize_blockwise", t_dequantize_blockwise },
        { "quantize_4bit", t_quantize_4bit },
        { "quantize_4bit_bounds", t_quantize_4bit_bounds },
        { "dequantize_4bit", t_dequantize_4bit },
        { "int8_vectorwise_quant", t_int8_vectorwise },
        { "gemv_4bit", t_gemv_4bit },
        { "gemv_4bit_lanes", t_gemv_4bit_lanes },
        { "gemv_4bit_fast", t_gemv_4bit_fast },
        { "int8_matmul", t_int8_matmul },
    };
    static const bnbq_simd_level levels[] = { BNBQ_SIMD_AVX2, BNBQ_SIMD_AVX512, BNBQ_SIMD_NEON };
    bnbq_simd_level initial = bnbq_cpu_simd_level();
    int il, ip, i, k;
    for (i = 1; i < argc; i++) if (strcmp(argv[i], "--quick") == 0) g_quick = 1;
    printf("simd level at start: %s\n", bnbq_simd_level_name(initial));

    /* codes: signed dynamic, unsigned dynamic, a linear map with a run of equal zeros, and an
       e4m3 FP8 map (subnormal entries, duplicates at 0) */
    memcpy(g_codes[0], bnbq_code_dynamic(1), sizeof g_codes[0]);
    memcpy(g_codes[1], bnbq_code_dynamic(0), sizeof g_codes[1]);
    bnbq_create_linear_map(1, 7, 1, g_codes[2]);
    bnbq_create_fp8_map(1, 4, 3, 8, g_codes[3]);
    for (k = 0; k < 255; k++)   /* the quantizer needs ascending codes */
        if (g_codes[2][k] > g_codes[2][k + 1]) { g_codes[2][k + 1] = g_codes[2][k]; }

    /* the level API */
    {
        int ok = bnbq_cpu_set_simd_level((bnbq_simd_level)7) == BNBQ_ERROR_INVALID_ARGS &&
                 bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR) == BNBQ_SUCCESS &&
                 bnbq_cpu_simd_level() == BNBQ_SIMD_SCALAR && bnbq_cpu_simd_supported(BNBQ_SIMD_SCALAR);
        for (il = 0; il < 3; il++) {
            bnbq_result r = bnbq_cpu_set_simd_level(levels[il]);
            if (bnbq_cpu_simd_supported(levels[il])) ok = ok && r == BNBQ_SUCCESS && bnbq_cpu_simd_level() == levels[il];
            else ok = ok && r == BNBQ_ERROR_NOT_SUPPORTED && bnbq_cpu_simd_level() != levels[il];
        }
        ok = ok && strcmp(bnbq_simd_level_name(BNBQ_SIMD_AVX512), "avx512") == 0;
        printf("%s simd-level-api\n", ok ? "ok" : "FAIL");
        if (ok) g_pass++; else g_fail++;
        bnbq_cpu_set_simd_level(initial);
    }

#if defined(BNBQ__NEON_SIMD)
    if (selected(argc, argv, "convert-neon")) {
        if (t_neon_convert()) { printf("ok convert-neon\n"); g_pass++; }
        else { printf("FAIL convert-neon\n"); g_fail++; }
    }
#endif
    /* no flush to zero at the scalar level and every supported one */
    for (il = -1; il < 3; il++) {
        bnbq_simd_level lv = il < 0 ? BNBQ_SIMD_SCALAR : levels[il];
        char name[96];
        snprintf(name, sizeof name, "subnormals-kept-%s", bnbq_simd_level_name(lv));
        if (!selected(argc, argv, name) || !bnbq_cpu_simd_supported(lv)) continue;
        if (t_subnormals(lv)) { printf("ok %s\n", name); g_pass++; }
        else { printf("FAIL %s\n", name); g_fail++; }
        bnbq_cpu_set_simd_level(initial);
    }

    for (il = 0; il < 3; il++) {
        bnbq_simd_level lv = levels[il];
        int ran = 0;
        for (ip = 0; ip < (int)(sizeof paths / sizeof paths[0]); ip++) {
            char name[96];
            int pass_pf;
            snprintf(name, sizeof name, "%s-%s", paths[ip].name, bnbq_simd_level_name(lv));
            if (!selected(argc, argv, name)) continue;
            if (!bnbq_cpu_simd_supported(lv)) {
                printf("skip %s (this CPU or build lacks %s)\n", name, bnbq_simd_level_name(lv));
                g_skip++;
                continue;
            }
            g_checks = 0; g_fails = 0; g_first[0] = 0;
            for (pass_pf = 0; pass_pf < 3; pass_pf++) {
                bnbq_exec ex;
                bnbq_cpu_desc d;
                bnbq_thread_pool* pool = NULL;
                memset(&d, 0, sizeof d);
                if (pass_pf == 1) d.parallel_for = pf3;
                if (pass_pf == 2) {
                    if (bnbq_thread_pool_create(2, &pool) != BNBQ_SUCCESS) { g_checks++; g_fails++; continue; }
                    d.parallel_for = bnbq_thread_pool_parallel_for;
                    d.parallel_for_user_data = pool;
                }
                bnbq_cpu_exec_init(&ex, &d);
                paths[ip].fn(lv, pass_pf ? &ex : NULL);
                bnbq_thread_pool_destroy(pool);
            }
            bnbq_cpu_set_simd_level(initial);
            ran = 1;
            if (g_fails == 0 && g_checks > 0) { printf("ok %s (%ld comparisons)\n", name, g_checks); g_pass++; }
            else { printf("FAIL %s: %ld of %ld differ; first: %s\n", name, g_fails, g_checks, g_first); g_fail++; }
            fflush(stdout);
        }
        if (ran) { strcat(g_levels_run, " "); strcat(g_levels_run, bnbq_simd_level_name(lv)); }
    }
    printf("levels compared with scalar:%s\n", g_levels_run[0] ? g_levels_run : " none");
    printf("%d passed, %d failed, %d skipped\n", g_pass, g_fail, g_skip);
    return g_fail ? 1 : 0;
}
