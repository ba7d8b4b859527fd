/* tests/quant_tables.c - checks, on the CPU, the code search of the CUDA quantizers
   (kernels_src/quant.cu) against bnbq.h's reference: bnbq_cuda.h's host-built tables
   (bnbq__cuq_q8build, bnbq__cuq_q4build) with the kernels' per-element arithmetic emulated in C.
   8-bit: every built-in code, generated ones and random sorted codes of many kinds (duplicates,
   +-inf, +-0, subnormals, overflowing midpoints), over every threshold +-3 steps, every code entry
   +-1 step, both ends of every exponent and of random sub-bucket boundaries, specials and random
   floats; both table modes. 4-bit: NF4 and FP4 over random floats and thresholds +-3 steps.
   Build: cc -std=c99 -O2 -ffp-contract=off -I. tests/quant_tables.c -o build/quant_tables -lm -ldl -lpthread
   Run:   build/quant_tables [RANDOM_PER_CODE]     last line "N passed, N failed" (checks) */
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static uint32_t bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static float flt(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static uint64_t g_rs = 88172645463325252ull;
static uint32_t rnd(void) {
    g_rs ^= g_rs << 13; g_rs ^= g_rs >> 7; g_rs ^= g_rs << 17;
    return (uint32_t)(g_rs >> 11);
}
static long g_fail, g_tests;

/* the kernels' shared tables: l1 as bq8_load writes it (shared address of the first l2 entry,
   here a byte offset from 0x1000, << 8 | shift), l2 as copied */
static uint32_t g_l1[512], g_l2[BNBQ__CUQ_L2CAP];
static void load8(const bnbq__cuq_q8tab* t) {
    int j;
    uint32_t i;
    for (j = 0; j < 512; j++) g_l1[j] = ((0x1000u + (uint32_t)(t->l1[j] >> 5) * 4u) << 8) | (t->l1[j] & 31u);
    for (i = 0; i < t->n2; i++) g_l2[i] = t->l2[i];
}
static uint32_t shl(uint32_t a, uint32_t n) { return a << (n & 31); }
static uint32_t shr(uint32_t a, uint32_t n) { return a >> (n & 31); }
/* bq8_table::one / bq8_search::one for x as the kernel sees it (a product: a NaN is quiet) */
static int code8(const bnbq__cuq_q8tab* t, float x) {
    uint32_t u = bits(x);
    if (x != x) u |= 0x00400000u;
    if (t->mode == 0) {
        const uint32_t w = g_l1[u >> 23];
        const uint32_t nm = shl(0xfffffffcu, w);
        const uint32_t s4 = shr(u & nm & 0x7fffffu, w);
        const uint32_t e = g_l2[((w >> 8) + s4 - 0x1000u) / 4];
        const float T = flt((u & nm) | (e & ~nm));
        return (int)(e >> 24) + (flt(u) > T);
    } else {
        const float xn = flt(u) != flt(u) ? -HUGE_VALF : flt(u);
        const uint32_t v = bits(xn), k = (v >> 31) ? ~v : (v | 0x80000000u);
        uint32_t i = 0, s;
        for (s = 128; s > 0; s >>= 1) i += g_l2[i + s] <= k ? s : 0u;
        return (int)i;
    }
}
static void check8(const float* code, const bnbq__cuq_q8tab* t, float x, const char* name) {
    const int a = bnbq_code_index(code, x), b = code8(t, x);
    g_tests++;
    if (a != b) {
        if (g_fail < 20) printf("FAIL %s x=%a (%08x): reference %d, table %d\n", name, x, bits(x), a, b);
        g_fail++;
    }
}
static void sortf(float* c, int n) {
    int i, j;
    for (i = 1; i < n; i++) {
        float v = c[i];
        for (j = i - 1; j >= 0 && c[j] > v; j--) c[j + 1] = c[j];
        c[j + 1] = v;
    }
}
static int run_code(const float* code, const char* name, long nrand, int verbose) {
    static bnbq__cuq_q8tab t;
    static const float sp[] = { 0.0f, -0.0f, 1e-45f, -1e-45f, 1.0f, -1.0f, 1.0000001f, -1.0000001f,
                                FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 0.5f, -0.5f };
    uint32_t kt[257], j, d;
    long i;
    int k, sh;
    bnbq__cuq_q8build(code, &t);
    load8(&t);
    if (verbose) printf("  %-22s mode %u, %u l2 entries\n", name, t.mode, t.n2);
    g_tests++;
    if (!bnbq__cuq_thresholds(code, kt)) { printf("FAIL %s: thresholds not ascending\n", name); g_fail++; }
    for (k = 1; k < 256; k++) {
        int dd;
        if (kt[k] == BNBQ__CUQ_NEVER) continue;
        for (dd = -3; dd <= 3; dd++) {
            uint32_t key = kt[k] + (uint32_t)dd;
            if (key < 0x007fffffu || key > 0xff800000u) continue;
            check8(code, &t, flt(bnbq__cuq_unkey(key)), name);
        }
    }
    for (k = 0; k < 256; k++) {
        check8(code, &t, code[k], name);
        check8(code, &t, nextafterf(code[k], HUGE_VALF), name);
        check8(code, &t, nextafterf(code[k], -HUGE_VALF), name);
    }
    for (k = 0; k < (int)(sizeof sp / sizeof sp[0]); k++) check8(code, &t, sp[k], name);
    check8(code, &t, HUGE_VALF, name);
    check8(code, &t, -HUGE_VALF, name);
    check8(code, &t, flt(0x7fffffffu), name);
    check8(code, &t, flt(0xffc00000u), name);
    check8(code, &t, flt(0x7f800001u), name);
    for (j = 0; j < 512; j++)
        for (d = 0; d < 4; d++) {
            check8(code, &t, flt((j << 23) | d), name);
            check8(code, &t, flt((j << 23) | (0x7fffffu - d)), name);
            for (sh = 2; sh <= 23; sh++) {
                uint32_t m = (rnd() & 0x7fffffu) & ~((1u << sh) - 1u);
                check8(code, &t, flt((j << 23) | m), name);
                check8(code, &t, flt((j << 23) | ((m - 1u) & 0x7fffffu)), name);
            }
        }
    for (i = 0; i < nrand; i++) {
        float g = (float)((int)(rnd() % 2000001u) - 1000000) / 1000000.0f;
        check8(code, &t, flt(rnd() ^ (rnd() << 16)), name);
        check8(code, &t, g, name);
        check8(code, &t, g * flt((rnd() % 40u + 100u) << 23), name);
    }
    return (int)t.mode;
}

static float sat01(float v) { return !(v > 0.0f) ? 0.0f : v > 1.0f ? 1.0f : v; }
/* bq4_table::one */
static int code4(const bnbq__cuq_q4tab* t, int nf4, float x) {
    const float s = nf4 ? sat01(fmaf(x, 0.5f, 0.5f)) : sat01(fabsf(x) + 0.0f);
    const uint32_t k = bits(fmaf(s, 0x1p-17f, 2.0f)) - 0x40000000u;
    if (k > 32) return -1;
    if (nf4) return (int)t->codes[k] + (x > t->thr[k]);
    return (int)((t->codes[k] >> (8 * ((fabsf(x) > t->thr[k] ? 1u : 0u) | (x < 0.0f ? 2u : 0u)))) & 255u);
}
static void run4(long nrand) {
    int nf4;
    long i;
    for (nf4 = 0; nf4 < 2; nf4++) {
        bnbq__cuq_q4tab t;
        bnbq__cuq_q4build(nf4 ? BNBQ_NF4 : BNBQ_FP4, &t);
        printf("  %s: mode %u\n", nf4 ? "nf4" : "fp4", t.mode);
        for (i = 0; i < nrand; i++) {
            float x;
            int a, b;
            if (i < nrand / 2) {
                x = (i & 1) ? (float)((int)(rnd() % 4000001u) - 2000000) / 1e6f : flt(rnd() ^ (rnd() << 16));
            } else {
                const int j = (int)(i % (nf4 ? 15 : 7));
                const float th = nf4 ? bnbq__nf4_thresholds[j] : bnbq__fp4_thresholds[j] * ((i >> 4) & 1 ? -1.0f : 1.0f);
                x = flt(bits(th) + (uint32_t)(rnd() % 7u) - 3u);
            }
            if (i < 16) {
                static const float s4[8] = { 0.0f, -0.0f, 1e-45f, -1e-45f, 1.0f, -1.0f, 2.0f, -2.0f };
                x = i < 8 ? s4[i] : i == 8 ? HUGE_VALF : i == 9 ? -HUGE_VALF : flt(0x7fffffffu);
            }
            a = nf4 ? bnbq_nf4_index(x) : bnbq_fp4_index(x);
            b = code4(&t, nf4, x);
            g_tests++;
            if (a != b) {
                if (g_fail < 20) printf("FAIL %s x=%a: reference %d, table %d\n", nf4 ? "nf4" : "fp4", x, a, b);
                g_fail++;
            }
        }
    }
}

int main(int argc, char** argv) {
    const long nrand = argc > 1 ? atol(argv[1]) : 20000;
    float c[256];
    int it, modes[2] = { 0, 0 };
    printf("quant_tables: 8-bit codes\n");
    memcpy(c, bnbq_code_dynamic(1), sizeof c); run_code(c, "dynamic", nrand, 1);
    memcpy(c, bnbq_code_dynamic(0), sizeof c); run_code(c, "dynamic unsigned", nrand, 1);
    bnbq_create_normal_map(0.9677083, 1, c); run_code(c, "normal", nrand, 1);
    bnbq_create_normal_map(0.99, 0, c); run_code(c, "normal (no extra)", nrand, 1);
    bnbq_create_fp8_map(1, 4, 3, 8, c); run_code(c, "fp8 e4m3", nrand, 1);
    bnbq_create_fp8_map(1, 5, 2, 8, c); run_code(c, "fp8 e5m2", nrand, 1);
    bnbq_create_fp8_map(1, 2, 1, 4, c); sortf(c, 256); run_code(c, "fp8 (1,2,1,4)", nrand, 1);
    bnbq_create_linear_map(1, 8, 0, c); run_code(c, "linear signed", nrand, 1);
    bnbq_create_linear_map(0, 8, 0, c); run_code(c, "linear unsigned", nrand, 1);
    bnbq_create_linear_map(1, 8, 1, c); sortf(c, 256); run_code(c, "linear with zero", nrand, 1);
    bnbq_create_linear_map(1, 4, 1, c); sortf(c, 256); run_code(c, "linear 4-bit", nrand, 1);
    bnbq_create_dynamic_map(1, 4, 8, c); sortf(c, 256); run_code(c, "dynamic (4 exp bits)", nrand, 1);
    bnbq_create_dynamic_map(0, 7, 8, c); sortf(c, 256); run_code(c, "dynamic unsigned (7)", nrand, 1);
    for (it = 0; it < 3000; it++) {
        const int kind = it % 8;
        int i;
        char name[40];
        for (i = 0; i < 256; i++) {
            const uint32_t r = rnd();
            switch (kind) {
                case 0: c[i] = flt(r ^ (rnd() << 16)); if (c[i] != c[i]) c[i] = 0.0f; break;
                case 1: c[i] = (float)((int)(r % 21u) - 10) / 10.0f; break;
                case 2: c[i] = (float)((int)(r % 2000001u) - 1000000) / 1e6f; break;
                case 3: c[i] = ldexpf((float)(rnd() % 1000u) / 1000.0f, (int)(r % 60u) - 50) * (((r >> 20) & 1) ? -1.0f : 1.0f); break;
                case 4: c[i] = (r % 17u == 0) ? (((r >> 8) & 1) ? HUGE_VALF : -HUGE_VALF)
                             : (r % 5u == 0) ? (((r >> 9) & 1) ? -0.0f : 0.0f) : (float)((int)(r % 200u) - 100) / 50.0f; break;
                case 5: c[i] = flt((r & 0x807fffffu) | (((r >> 24) & 1) ? 0x00800000u : 0u)); break;
                case 6: c[i] = (float)((int)(r % 2001u) - 1000) * 3e38f / 1000.0f; break;
                default: c[i] = (float)i / 255.0f * 2.0f - 1.0f + (r % 3u == 0 ? 1e-7f : 0.0f); break;
            }
        }
        sortf(c, 256);
        sprintf(name, "random %d (kind %d)", it, kind);
        modes[run_code(c, name, nrand / 50, 0)]++;
    }
    printf("  3000 random sorted codes: %d with tables, %d searched\n", modes[0], modes[1]);
    printf("quant_tables: 4-bit\n");
    run4(nrand * 500);
    printf("%ld checks: %ld passed, %ld failed\n", g_tests, g_tests - g_fail, g_fail);
    return g_fail != 0;
}
