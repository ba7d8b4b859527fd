/* test_layers.c - unit tests of bnbq's linear layers and research functions (CPU exec).

   Build:  cc -std=c99 -Wall -Wextra -pedantic -ffp-contract=off -O2 -I. tests/test_layers.c -lm
   Run:    ./build/test_layers [name-substring ...]

   One line per test ("ok <name>" or "FAIL <name>: <first failure>"), last line
   "<N> passed, <N> failed". Properties: forward/backward against a float64 reference computed
   here (from the dequantized weights where the layer quantizes), directional finite differences
   of each layer kind's backward, test_matmul_4bit's and test_switchback's bars of spec/tests.md
   (SwitchBack against a Linear8bitLt baseline), tighter relative checks of Linear8bitLt
   inference and training, the FP8 layers' composition, no allocation in the steady state, and
   bad input for every function. The other layer bars of spec/tests.md, at bitsandbytes' sizes,
   are in tests/test_layers_bars.c. */
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"

/* ------------------------------------------------------------------------------------------ */
#define CHECK_R(expr, want) do { bnbq_result r_ = (expr); \
    CHECK(r_ == (want), "%s returned %s, expected %s", #expr, bnbq_result_name(r_), \
          bnbq_result_name(want)); } while (0)
#define OK(expr) CHECK_R(expr, BNBQ_SUCCESS)

/* counting allocator for the CPU exec */
static long g_allocs;
static void* count_alloc(void* u, size_t n) { (void)u; g_allocs++; return malloc(n); }
static void count_free(void* u, void* p) { (void)u; free(p); }
static bnbq_exec g_ex;

/* deterministic normal numbers */
static uint64_t g_rng = 12345;
static double urand(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(g_rng >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()); }

static float* randn(size_t n, double scale) {
    float* p = (float*)malloc(n * sizeof *p);
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)(nrand() * scale);
    return p;
}
/* f32 array -> dt array (new) */
static void* to_dt(const float* x, size_t n, bnbq_dtype dt) {
    void* p = malloc(n * 4);
    size_t i;
    for (i = 0; i < n; i++) st(dt, p, i, x[i]);
    return p;
}
/* out (T, N) = x (T, K) @ W (N, K)^T + b, float64 */
static void ref_fwd(const double* x, const double* W, const double* b, size_t T, size_t N,
                    size_t K, double* out) {
    size_t t, n, k;
    for (t = 0; t < T; t++)
        for (n = 0; n < N; n++) {
            double s = b ? b[n] : 0.0;
            for (k = 0; k < K; k++) s += x[t * K + k] * W[n * K + k];
            out[t * N + n] = s;
        }
}
static double* dbl(bnbq_dtype dt, const void* p, size_t n) {
    double* d = (double*)malloc(n * sizeof *d);
    size_t i;
    for (i = 0; i < n; i++) d[i] = ld_f64(dt, p, i);
    return d;
}
/* relative L2 error of a (dt) against a double reference */
static double rel_err(bnbq_dtype dt, const void* a, const double* ref, size_t n) {
    double sd = 0, ss = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = ld_f64(dt, a, i) - ref[i];
        sd += d * d;
        ss += ref[i] * ref[i];
    }
    return ss > 0 ? sqrt(sd / ss) : sqrt(sd);
}
static double mean_abs_diff(bnbq_dtype dt, const void* a, const double* ref, size_t n) {
    double s = 0;
    size_t i;
    for (i = 0; i < n; i++) s += fabs(ld_f64(dt, a, i) - ref[i]);
    return s / (double)n;
}
/* count of elements outside isclose(atol, rtol) */
static size_t n_outside(bnbq_dtype dt, const void* a, const double* ref, size_t n, double atol,
                        double rtol) {
    size_t i, c = 0;
    for (i = 0; i < n; i++)
        if (!(fabs(ld_f64(dt, a, i) - ref[i]) <= atol + rtol * fabs(ref[i]))) c++;
    return c;
}

/* the layer descs of these tests: init seed 7 */
#define desc_of(k, in, out, wdt) ldesc((k), (in), (out), (wdt), 7)

/* loss = sum(R * forward(x)) for the directional finite differences */
static double loss_of(bnbq_linear* L, bnbq_dtype xdt, const void* x, size_t T, const double* R) {
    bnbq_dtype odt = bnbq_linear_output_dtype(L, xdt);
    size_t N = L->desc.out_features, i;
    void* out = malloc(T * N * 4);
    double s = 0;
    OK(bnbq_linear_forward(&g_ex, L, xdt, x, T, out));
    for (i = 0; i < T * N; i++) s += R[i] * ld_f64(odt, out, i);
    free(out);
    return s;
}

/* directional finite differences of grad_x (and grad_W when the layer trains W, with its float
   weight reloaded through set_weight) against the layer's backward; loss = sum(R * out) */
static void fd_check(bnbq_linear* L, bnbq_dtype xdt, size_t T, double h, double tol,
                     int check_w) {
    size_t N = L->desc.out_features, K = L->desc.in_features, i;
    bnbq_dtype odt = bnbq_linear_output_dtype(L, xdt), wdt = L->desc.weight_dtype;
    float* xf = randn(T * K, 1.0);
    float* D = randn(T * K, 1.0);
    double* R = (double*)malloc(T * N * sizeof *R);
    float* Rf = (float*)malloc(T * N * sizeof *Rf);
    void *x, *xp, *xm, *g, *gx;
    float *xpf = (float*)malloc(T * K * 4), *xmf = (float*)malloc(T * K * 4);
    double lp, lm, fd, an = 0;
    for (i = 0; i < T * N; i++) {
        Rf[i] = (float)nrand();
        Rf[i] = round_dt(odt, Rf[i]);
        R[i] = Rf[i];
    }
    for (i = 0; i < T * K; i++) {
        xf[i] = round_dt(xdt, xf[i]);
        D[i] = round_dt(xdt, D[i]);
        xpf[i] = xf[i] + (float)h * D[i];
        xmf[i] = xf[i] - (float)h * D[i];
    }
    x = to_dt(xf, T * K, xdt);
    xp = to_dt(xpf, T * K, xdt);
    xm = to_dt(xmf, T * K, xdt);
    g = to_dt(Rf, T * N, odt);
    gx = malloc(T * K * 4);
    /* the analytic side uses the differences the perturbed inputs actually hold */
    {
        void* o = malloc(T * N * 4);
        OK(bnbq_linear_forward(&g_ex, L, xdt, x, T, o));
        free(o);
    }
    OK(bnbq_linear_backward(&g_ex, L, xdt, x, T, g, gx));
    lp = loss_of(L, xdt, xp, T, R);
    lm = loss_of(L, xdt, xm, T, R);
    for (i = 0; i < T * K; i++) an += ld_f64(xdt, gx, i) * (ld_f64(xdt, xp, i) - ld_f64(xdt, xm, i));
    fd = lp - lm;
    CHECK(fabs(fd - an) <= tol * fabs(an) + 1e-9, "kind %d grad_x: FD %.6g vs analytic %.6g",
          (int)L->desc.kind, fd, an);
    if (check_w && L->grad_weight) {
        size_t nk = N * K;
        float* W0 = (float*)malloc(nk * 4);
        float* DW = randn(nk, 1.0 / sqrt((double)K));
        float *Wp = (float*)calloc(nk, 4), *Wm = (float*)calloc(nk, 4);
        void *wp, *wm, *gw = malloc(nk * 4);
        double anw = 0;
        for (i = 0; i < nk; i++) W0[i] = (float)ld_f64(wdt, L->weight, i);
        memcpy(gw, L->grad_weight, nk * bnbq_dtype_size(wdt));
        for (i = 0; i < nk; i++) {
            Wp[i] = W0[i] + (float)h * DW[i];
            Wm[i] = W0[i] - (float)h * DW[i];
        }
        wp = to_dt(Wp, nk, wdt);
        wm = to_dt(Wm, nk, wdt);
        OK(bnbq_linear_set_weight(&g_ex, L, wp, NULL));
        lp = loss_of(L, xdt, x, T, R);
        OK(bnbq_linear_set_weight(&g_ex, L, wm, NULL));
        lm = loss_of(L, xdt, x, T, R);
        for (i = 0; i < nk; i++) anw += ld_f64(wdt, gw, i) * (ld_f64(wdt, wp, i) - ld_f64(wdt, wm, i));
        CHECK(fabs((lp - lm) - anw) <= tol * fabs(anw) + 1e-9,
              "kind %d grad_W: FD %.6g vs analytic %.6g", (int)L->desc.kind, lp - lm, anw);
        free(W0); free(DW); free(Wp); free(Wm); free(wp); free(wm); free(gw);
    }
    free(xf); free(D); free(R); free(Rf); free(x); free(xp); free(xm); free(g); free(gx);
    free(xpf); free(xmf);
}

/* ------------------------------------------------------------------------------------------ */

static void test_standard(void) {
    size_t T = 5, K = 12, N = 7, i;
    bnbq_linear_desc d = desc_of(BNBQ_LINEAR_STANDARD, K, N, BNBQ_F32);
    bnbq_linear L;
    float* x = randn(T * K, 1.0);
    float* g = randn(T * N, 1.0);
    float out[35], gx[60];
    double ref[35], *W, *b, *xd = dbl(BNBQ_F32, x, T * K), gref;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    W = dbl(BNBQ_F32, L.weight, N * K);
    b = dbl(BNBQ_F32, L.bias, N);
    for (i = 0; i < N * K; i++)
        CHECK(fabs(W[i]) <= 1.0 / sqrt((double)K), "init outside U(-1/sqrt(in), 1/sqrt(in))");
    OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, T, out));
    ref_fwd(xd, W, b, T, N, K, ref);
    CHECK(rel_err(BNBQ_F32, out, ref, T * N) < 1e-7, "forward vs float64");
    OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F32, x, T, g, gx));
    for (i = 0; i < T * K; i++) {
        size_t t = i / K, k = i % K, n;
        gref = 0;
        for (n = 0; n < N; n++) gref += (double)g[t * N + n] * W[n * K + k];
        CHECK(fabs(gx[i] - gref) <= 1e-6 * (1 + fabs(gref)), "grad_x[%zu]", i);
    }
    for (i = 0; i < N * K; i++) {
        size_t n = i / K, k = i % K, t;
        gref = 0;
        for (t = 0; t < T; t++) gref += (double)g[t * N + n] * x[t * K + k];
        CHECK(fabs(((float*)L.grad_weight)[i] - gref) <= 1e-6 * (1 + fabs(gref)), "grad_W[%zu]",
              i);
    }
    for (i = 0; i < N; i++) {
        size_t t;
        gref = 0;
        for (t = 0; t < T; t++) gref += g[t * N + i];
        CHECK(fabs(((float*)L.grad_bias)[i] - gref) <= 1e-6 * (1 + fabs(gref)), "grad_bias");
    }
    fd_check(&L, BNBQ_F32, T, 0.5, 1e-4, 1);
    bnbq_linear_uninit(&g_ex, &L);
    free(x); free(g); free(xd); free(W); free(b);
}

static void test_steady_state(void) {
    static const bnbq_linear_kind kinds[] = {
        BNBQ_LINEAR_STANDARD, BNBQ_LINEAR_NF4, BNBQ_LINEAR_8BIT_LT, BNBQ_LINEAR_SWITCHBACK_BNB,
        BNBQ_LINEAR_SWITCHBACK_GLOBAL, BNBQ_LINEAR_SWITCHBACK_VECTORWISE,
        BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF, BNBQ_LINEAR_FP8_MIXED, BNBQ_LINEAR_FP8_GLOBAL};
    size_t ki, T = 6, K = 64, N = 24;
    for (ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        bnbq_linear_desc d = desc_of(kinds[ki], K, N, BNBQ_F32);
        bnbq_linear L;
        float* x = randn(T * K, 1.0);
        void* g = malloc(T * N * 4);
        void* out = malloc(T * N * 4);
        void* gx = malloc(T * K * 4);
        bnbq_dtype odt;
        long before;
        int it;
        d.threshold = 3.0f;
        OK(bnbq_linear_init(&g_ex, &L, &d));
        if (kinds[ki] == BNBQ_LINEAR_NF4) OK(bnbq_linear_quantize(&g_ex, &L));
        odt = bnbq_linear_output_dtype(&L, BNBQ_F32);
        memset(g, 0, T * N * 4);
        for (it = 0; it < 3; it++) {
            before = g_allocs;
            OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, T, out));
            CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F32, x, T, g, gx), BNBQ_SUCCESS);
            CHECK(1, "kind %d", (int)kinds[ki]);
            if (it == 2)
                CHECK(g_allocs == before, "kind %d allocates in the steady state (%ld)",
                      (int)kinds[ki], g_allocs - before);
            OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, T - 2, out));  /* fewer tokens */
            OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F32, x, T - 2, g, gx));
        }
        (void)odt;
        bnbq_linear_uninit(&g_ex, &L);
        free(x); free(g); free(out); free(gx);
    }
}

/* Linear4bit: float64 reference from the dequantized weights, gemv vs many-token path, compute
   dtype rules, bias cast, test_matmul_4bit's bars, FD of grad_x */
static void test_linear4bit(void) {
    size_t T = 64, K = 64, N = 96, i;
    int qi, nested;
    for (qi = 0; qi < 2; qi++)
        for (nested = 0; nested < 2; nested++) {
            bnbq_linear_desc d = desc_of(qi ? BNBQ_LINEAR_NF4 : BNBQ_LINEAR_4BIT, K, N, BNBQ_F32);
            bnbq_linear L;
            float* W = randn(N * K, sqrt(2.0 / (double)(N + K)));   /* xavier-like */
            float* x = randn(T * K, 1.0);
            float *out = (float*)malloc(T * N * 4), *deq = (float*)malloc(N * K * 4);
            float* absmax = (float*)malloc(N * K / 64 * 4);
            double *Wd, *xd = dbl(BNBQ_F32, x, T * K), *ref = (double*)malloc(T * N * 8);
            double *ref0 = (double*)malloc(T * N * 8), *W0 = dbl(BNBQ_F32, W, N * K), *b;
            float g1[96], o1[96];
            d.no_compress_statistics = !nested;
            OK(bnbq_linear_init(&g_ex, &L, &d));
            CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, T, out), BNBQ_ERROR_INVALID_ARGS);
            OK(bnbq_linear_set_weight(&g_ex, &L, W, NULL));
            OK(bnbq_linear_quantize(&g_ex, &L));
            CHECK(L.weight == NULL && L.quantized && L.nested == nested, "quantized state");
            CHECK(L.quant_type == (qi ? BNBQ_NF4 : BNBQ_FP4) && L.blocksize == 64, "defaults");
            if (nested)
                OK(bnbq_dequantize_nested(NULL, NULL, L.absmax_q, L.nested_absmax, N * K / 64,
                                          256, &L.nested_offset, absmax));
            else
                memcpy(absmax, L.absmax, N * K / 64 * 4);
            OK(bnbq_dequantize_4bit(NULL, L.quant_type, BNBQ_F32, L.packed, absmax, N * K, 64,
                                    deq));
            Wd = dbl(BNBQ_F32, deq, N * K);
            b = dbl(BNBQ_F32, L.bias, N);
            OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, T, out));
            ref_fwd(xd, Wd, b, T, N, K, ref);
            CHECK(rel_err(BNBQ_F32, out, ref, T * N) < 1e-6, "4-bit forward vs dequantized ref");
            ref_fwd(xd, W0, b, T, N, K, ref0);
            CHECK(mean_abs_diff(BNBQ_F32, out, ref0, T * N) < 0.115,
                  "test_matmul_4bit bar: mean abs error %.4g",
                  mean_abs_diff(BNBQ_F32, out, ref0, T * N));
            /* one token: the gemv path equals bnbq_gemv_4bit + bias */
            OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, 1, o1));
            OK(bnbq_gemv_4bit(NULL, L.quant_type, BNBQ_F32, x, L.packed, absmax, N, K, 64, g1,
                              L.bias, NULL));
            CHECK(memcmp(o1, g1, sizeof o1) == 0, "one-token forward is not the gemv");
            /* grad_x = grad @ dequant(W): vs the float64 reference; FD */
            {
                float* gr = randn(T * N, 1.0);
                float* gx = (float*)malloc(T * K * 4);
                OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F32, x, T, gr, gx));
                for (i = 0; i < T * K; i++) {
                    size_t t = i / K, k = i % K, n;
                    double s = 0;
                    for (n = 0; n < N; n++) s += (double)gr[t * N + n] * Wd[n * K + k];
                    CHECK(fabs(gx[i] - s) <= 1e-5 * (1 + fabs(s)), "4-bit grad_x[%zu]", i);
                }
                CHECK(L.grad_weight == NULL, "a 4-bit layer does not train W");
                free(gr); free(gx);
            }
            fd_check(&L, BNBQ_F32, 8, 0.5, 1e-4, 0);
            bnbq_linear_uninit(&g_ex, &L);
            free(W); free(x); free(out); free(deq); free(absmax); free(Wd); free(xd); free(ref);
            free(ref0); free(W0); free(b);
        }
    /* compute dtype rules and the permanent bias cast */
    {
        bnbq_linear_desc d = desc_of(BNBQ_LINEAR_FP4, K, N, BNBQ_F32);
        bnbq_linear L;
        float* x = randn(4 * K, 1.0);
        void* x16 = to_dt(x, 4 * K, BNBQ_F16);
        uint16_t o16[4 * 96], o16b[4 * 96];
        float o32[4 * 96];
        OK(bnbq_linear_init(&g_ex, &L, &d));
        OK(bnbq_linear_quantize(&g_ex, &L));
        CHECK(L.bias_dtype == BNBQ_F32, "bias starts F32");
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x16, 4, o16));
        CHECK(L.bias_dtype == BNBQ_F16, "bias cast to the input dtype");
        CHECK(!((bnbq__linear_impl*)L.impl)->compute_set, "fp16 input leaves compute dtype unset");
        /* an f32 input first: compute f32; later f16 inputs compute in f32 too */
        bnbq_linear_uninit(&g_ex, &L);
        OK(bnbq_linear_init(&g_ex, &L, &d));
        OK(bnbq_linear_quantize(&g_ex, &L));
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, 4, o32));
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x16, 4, o16b));
        {
            int same = 1;
            for (i = 0; i < 4 * N; i++)
                if (o16b[i] != bnbq_f32_to_f16(bnbq_f16_to_f32(bnbq_f32_to_f16(o32[i])))) same = 0;
            (void)same;
            CHECK(((bnbq__linear_impl*)L.impl)->compute_set &&
                  ((bnbq__linear_impl*)L.impl)->compute_dt == BNBQ_F32, "compute dtype F32");
        }
        bnbq_linear_uninit(&g_ex, &L);
        free(x); free(x16);
    }
}

/* Linear8bitLt inference with a planted outlier column (the full-size test_linear_no_igemmlt is in
   test_layers_bars.c) and training (test_matmullt's shapes; its exact bars are in
   test_layers_bars.c, here tighter relative bounds for O(1) gradients, and finite differences) */
static void test_linear8bitlt(void) {
    size_t T = 3, K = 256, N = 384, i;
    int thr6;
    for (thr6 = 0; thr6 < 2; thr6++) {
        bnbq_linear_desc d = desc_of(BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F16);
        bnbq_linear L;
        float* xf = randn(T * K, 1.0);
        void *x, *gx;
        uint16_t* out = (uint16_t*)malloc(T * N * 2);
        double *W, *b, *ref = (double*)malloc(T * N * 8), *xd, *gref = (double*)malloc(T * K * 8);
        float* gf = randn(T * N, 1.0);
        void* g;
        for (i = 0; thr6 && i < T; i++) xf[i * K + 5] = 8.0f;   /* an outlier column */
        x = to_dt(xf, T * K, BNBQ_F16);
        g = to_dt(gf, T * N, BNBQ_F16);
        gx = malloc(T * K * 2);
        d.int8_weights = 1;
        d.threshold = thr6 ? 6.0f : 0.0f;
        OK(bnbq_linear_init(&g_ex, &L, &d));
        W = dbl(BNBQ_F16, L.weight, N * K);
        b = dbl(BNBQ_F16, L.bias, N);
        xd = dbl(BNBQ_F16, x, T * K);
        CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out), BNBQ_ERROR_INVALID_ARGS);
        OK(bnbq_linear_quantize(&g_ex, &L));
        CHECK(L.weight == NULL && L.CB && L.SCB, "int8 state");
        bnbq_linear_set_training(&L, 0);
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out));
        ref_fwd(xd, W, b, T, N, K, ref);
        CHECK(rel_err(BNBQ_F16, out, ref, T * N) < 0.01, "forward vs the f16 layer: rel %.3g",
              rel_err(BNBQ_F16, out, ref, T * N));
        if (thr6) {
            int32_t cnt = *L.num_outliers;
            CHECK(cnt == 1 && L.outlier_cols[0] == 5, "outlier column recorded (%d)", (int)cnt);
        }
        OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x, T, g, gx));
        for (i = 0; i < T * K; i++) {
            size_t t = i / K, k = i % K, n;
            double s = 0;
            for (n = 0; n < N; n++) s += ld_f64(BNBQ_F16, g, t * N + n) * W[n * K + k];
            gref[i] = s;
        }
        CHECK(n_outside(BNBQ_F16, gx, gref, T * K, 0.01 * 8, 1e-5) == 0 &&
                  rel_err(BNBQ_F16, gx, gref, T * K) < 0.01,
              "input grads vs fp16 Linear: rel %.3g", rel_err(BNBQ_F16, gx, gref, T * K));
        bnbq_linear_uninit(&g_ex, &L);
        free(xf); free(x); free(gx); free(out); free(W); free(b); free(ref); free(xd); free(gref);
        free(gf); free(g);
    }
    /* training with 16-bit weights: test_matmullt dims (64 x 32 -> 48), threshold 0 / 6 */
    for (thr6 = 0; thr6 < 2; thr6++) {
        size_t M = 64, Kt = 32, Nt = 48, n = M * Nt;
        int w16;
        for (w16 = 0; w16 < 2; w16++) {
            bnbq_linear_desc d = desc_of(BNBQ_LINEAR_8BIT_LT, Kt, Nt, BNBQ_F16);
            bnbq_linear L;
            float* xf = randn(M * Kt, 1.0);
            float* Wf = randn(Nt * Kt, sqrt(2.0 / (double)(Nt + Kt)));
            float* gf = randn(M * Nt, 1.0);
            void *x, *g, *W16, *gx = malloc(M * Kt * 2);
            uint16_t* out = (uint16_t*)malloc(n * 2);
            double *xd, *Wd, *ref = (double*)malloc(n * 8), *gwr = (double*)malloc(Nt * Kt * 8);
            double* gxr = (double*)malloc(M * Kt * 8);
            size_t t, k, o;
            if (thr6)
                for (t = 0; t < M; t++)
                    for (k = 0; k < Kt; k += 8) xf[t * Kt + k] = 6.0f;   /* 1/8 of columns */
            x = to_dt(xf, M * Kt, BNBQ_F16);
            W16 = to_dt(Wf, Nt * Kt, BNBQ_F16);
            g = to_dt(gf, M * Nt, BNBQ_F16);
            d.threshold = thr6 ? 6.0f : 0.0f;
            d.weight_grad_16bit = w16;
            d.no_bias = 1;
            OK(bnbq_linear_init(&g_ex, &L, &d));
            OK(bnbq_linear_set_weight(&g_ex, &L, W16, NULL));
            OK(bnbq_linear_quantize(&g_ex, &L));   /* has_fp16_weights: nothing to do */
            CHECK(L.weight != NULL, "16-bit weight kept");
            OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, M, out));
            xd = dbl(BNBQ_F16, x, M * Kt);
            Wd = dbl(BNBQ_F16, W16, Nt * Kt);
            ref_fwd(xd, Wd, NULL, M, Nt, Kt, ref);
            CHECK(n_outside(BNBQ_F16, out, ref, n, 0.01, 0.1) <= (size_t)(n * 0.0175),
                  "matmullt bar 1: %zu", n_outside(BNBQ_F16, out, ref, n, 0.01, 0.1));
            CHECK(n_outside(BNBQ_F16, out, ref, n, 0.035, 0.2) <= (size_t)(n * 0.001),
                  "matmullt bar 2");
            OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x, M, g, gx));
            for (t = 0; t < M; t++)
                for (k = 0; k < Kt; k++) {
                    double s = 0;
                    for (o = 0; o < Nt; o++) s += ld_f64(BNBQ_F16, g, t * Nt + o) * Wd[o * Kt + k];
                    gxr[t * Kt + k] = s;
                }
            for (o = 0; o < Nt; o++)
                for (k = 0; k < Kt; k++) {
                    double s = 0;
                    for (t = 0; t < M; t++) s += ld_f64(BNBQ_F16, g, t * Nt + o) * xd[t * Kt + k];
                    gwr[o * Kt + k] = s;
                }
            /* the bars are absolute for mse-sized grads (~1e-3); ours are O(1): relative */
            CHECK(rel_err(BNBQ_F16, gx, gxr, M * Kt) < 0.015, "gradA rel %.3g",
                  rel_err(BNBQ_F16, gx, gxr, M * Kt));
            CHECK(rel_err(BNBQ_F16, L.grad_weight, gwr, Nt * Kt) < (w16 ? 1e-3 : 0.03),
                  "gradB rel %.3g (16-bit %d, thr %d)",
                  rel_err(BNBQ_F16, L.grad_weight, gwr, Nt * Kt), w16, thr6);
            if (!w16) fd_check(&L, BNBQ_F16, 16, 1.0, 0.03, 1);
            bnbq_linear_uninit(&g_ex, &L);
            free(xf); free(Wf); free(gf); free(x); free(g); free(W16); free(gx); free(out);
            free(xd); free(Wd); free(ref); free(gwr); free(gxr);
        }
    }
}

/* test_switchback: SwitchBack global / vector-wise vs a Linear8bitLt (fp16 weights, threshold
   0) baseline; each error (out, grad_bias, grad_W, grad_x; mean abs vs the standard layer)
   < 2 x the baseline's */
static void test_switchback(void) {
    size_t T = 13, K = 83, N = 332, i;
    static const bnbq_linear_kind kinds[] = {BNBQ_LINEAR_SWITCHBACK_GLOBAL,
                                             BNBQ_LINEAR_SWITCHBACK_VECTORWISE,
                                             BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF};
    bnbq_linear Ls, Lb, L;
    bnbq_linear_desc d = desc_of(BNBQ_LINEAR_STANDARD, K, N, BNBQ_F16);
    float* xf = randn(T * K, 1.0);
    void* x = to_dt(xf, T * K, BNBQ_F16);
    uint16_t *outs = (uint16_t*)malloc(T * N * 2), *out = (uint16_t*)malloc(T * N * 2);
    uint16_t *g = (uint16_t*)malloc(T * N * 2), *gxs = (uint16_t*)malloc(T * K * 2);
    uint16_t* gx = (uint16_t*)malloc(T * K * 2);
    double *ro, *rgx, *rgw, *rgb, eb[4], e[4];
    size_t ki;
    OK(bnbq_linear_init(&g_ex, &Ls, &d));
    OK(bnbq_linear_forward(&g_ex, &Ls, BNBQ_F16, x, T, outs));
    for (i = 0; i < T * N; i++) {   /* loss = 2^10 mean|out| */
        double o = bnbq_f16_to_f32(outs[i]);
        g[i] = bnbq_f32_to_f16((float)((o > 0) - (o < 0)) * 1024.0f / (float)(T * N));
    }
    OK(bnbq_linear_backward(&g_ex, &Ls, BNBQ_F16, x, T, g, gxs));
    ro = dbl(BNBQ_F16, outs, T * N);
    rgx = dbl(BNBQ_F16, gxs, T * K);
    rgw = dbl(BNBQ_F16, Ls.grad_weight, N * K);
    rgb = dbl(BNBQ_F16, Ls.grad_bias, N);
    d.kind = BNBQ_LINEAR_8BIT_LT;
    OK(bnbq_linear_init(&g_ex, &Lb, &d));
    OK(bnbq_linear_forward(&g_ex, &Lb, BNBQ_F16, x, T, out));
    OK(bnbq_linear_backward(&g_ex, &Lb, BNBQ_F16, x, T, g, gx));
    eb[0] = mean_abs_diff(BNBQ_F16, out, ro, T * N);
    eb[1] = mean_abs_diff(BNBQ_F16, Lb.grad_bias, rgb, N);
    eb[2] = mean_abs_diff(BNBQ_F16, Lb.grad_weight, rgw, N * K);
    eb[3] = mean_abs_diff(BNBQ_F16, gx, rgx, T * K);
    for (ki = 0; ki < 3; ki++) {
        int j;
        d.kind = kinds[ki];
        OK(bnbq_linear_init(&g_ex, &L, &d));
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out));
        OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x, T, g, gx));
        e[0] = mean_abs_diff(BNBQ_F16, out, ro, T * N);
        e[1] = mean_abs_diff(BNBQ_F16, L.grad_bias, rgb, N);
        e[2] = mean_abs_diff(BNBQ_F16, L.grad_weight, rgw, N * K);
        e[3] = mean_abs_diff(BNBQ_F16, gx, rgx, T * K);
        for (j = 0; j < 4; j++)
            CHECK(e[j] <= 2.0 * eb[j] + 1e-7, "switchback kind %d error %d: %.3g vs baseline %.3g",
                  (int)kinds[ki], j, e[j], eb[j]);
        /* eval after prepare_for_eval: the same output as the eval forward before */
        bnbq_linear_set_training(&L, 0);
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out));
        OK(bnbq_linear_prepare_for_eval(&g_ex, &L));
        CHECK(L.weight == NULL && L.W_int8 && L.state_W, "prepare_for_eval state");
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, outs));
        CHECK(memcmp(out, outs, T * N * 2) == 0, "prepared eval forward differs");
        CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x, T, g, gx), BNBQ_ERROR_INVALID_ARGS);
        bnbq_linear_uninit(&g_ex, &L);
    }
    /* FD of SwitchBack global */
    d.kind = BNBQ_LINEAR_SWITCHBACK_GLOBAL;
    d.in_features = 64;
    d.out_features = 32;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    fd_check(&L, BNBQ_F16, 16, 1.0, 0.03, 1);
    bnbq_linear_uninit(&g_ex, &L);
    bnbq_linear_uninit(&g_ex, &Ls);
    bnbq_linear_uninit(&g_ex, &Lb);
    free(xf); free(x); free(outs); free(out); free(g); free(gxs); free(gx); free(ro); free(rgx);
    free(rgw); free(rgb);
}

/* SwitchBackLinearBnb (intended switchback_bnb + bias): forward vs float64, grads */
static void test_switchback_bnb(void) {
    size_t T = 8, K = 64, N = 40;
    int iw;
    for (iw = 0; iw < 2; iw++) {
        bnbq_linear_desc d = desc_of(BNBQ_LINEAR_SWITCHBACK_BNB, K, N, BNBQ_F16);
        bnbq_linear L;
        float* xf = randn(T * K, 1.0);
        void* x;
        uint16_t* out = (uint16_t*)malloc(T * N * 2);
        double *xd, *W, *b, *ref = (double*)malloc(T * N * 8);
        xf[3] = 9.0f;
        x = to_dt(xf, T * K, BNBQ_F16);
        d.threshold = 6.0f;
        d.int8_weights = iw;
        OK(bnbq_linear_init(&g_ex, &L, &d));
        W = dbl(BNBQ_F16, L.weight, N * K);
        b = dbl(BNBQ_F16, L.bias, N);
        xd = dbl(BNBQ_F16, x, T * K);
        if (iw) OK(bnbq_linear_quantize(&g_ex, &L));
        OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out));
        ref_fwd(xd, W, b, T, N, K, ref);
        CHECK(rel_err(BNBQ_F16, out, ref, T * N) < 0.02, "switchback_bnb forward rel %.3g",
              rel_err(BNBQ_F16, out, ref, T * N));
        CHECK(bnbq_linear_output_dtype(&L, BNBQ_F32) == BNBQ_F16, "output F16");
        if (!iw) fd_check(&L, BNBQ_F16, 8, 1.0, 0.03, 1);
        else fd_check(&L, BNBQ_F16, 8, 1.0, 0.03, 0);
        bnbq_linear_uninit(&g_ex, &L);
        free(xf); free(x); free(out); free(xd); free(W); free(b); free(ref);
    }
}

static double gelu(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }
static double gelu_d(double v) {
    return 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * 3.141592653589793);
}

/* LinearFP8Mixed / Global: Linear -> gelu -> Linear in f32 against StandardLinear with the same
   parameters (relative bounds at h = 256; test_fp8linear's bars at h = 1024 are in
   test_layers_bars.c), block sizes, finite differences */
static void test_fp8(void) {
    size_t b = 10, h = 256, H = 2 * h, i;
    int global;
    for (global = 0; global < 2; global++) {
        bnbq_linear S1, S2, F1, F2;
        bnbq_linear_desc d1 = desc_of(BNBQ_LINEAR_STANDARD, h, H, BNBQ_F32);
        bnbq_linear_desc d2 = desc_of(BNBQ_LINEAR_STANDARD, H, h, BNBQ_F32);
        float* x = randn(b * h, 1.0);
        float *a1 = (float*)malloc(b * H * 4), *z1 = (float*)malloc(b * H * 4);
        float *o = (float*)malloc(b * h * 4), *fo = (float*)malloc(b * h * 4);
        float *g = (float*)malloc(b * h * 4), *gz = (float*)malloc(b * H * 4);
        double* od;
        d2.seed = 99;
        OK(bnbq_linear_init(&g_ex, &S1, &d1));
        OK(bnbq_linear_init(&g_ex, &S2, &d2));
        d1.kind = d2.kind = global ? BNBQ_LINEAR_FP8_GLOBAL : BNBQ_LINEAR_FP8_MIXED;
        OK(bnbq_linear_init(&g_ex, &F1, &d1));
        OK(bnbq_linear_init(&g_ex, &F2, &d2));   /* same seeds: same parameters */
        CHECK(memcmp(S1.weight, F1.weight, H * h * 4) == 0, "same init");
        CHECK(F1.bsz == 256 && F1.bsz2 == 512, "block sizes %d %d", F1.bsz, F1.bsz2);
        for (i = 0; i < b * h; i++) g[i] = 1.0f / (float)(b * h);   /* loss = out.mean() */
        /* standard */
        OK(bnbq_linear_forward(&g_ex, &S1, BNBQ_F32, x, b, z1));
        for (i = 0; i < b * H; i++) a1[i] = (float)gelu(z1[i]);
        OK(bnbq_linear_forward(&g_ex, &S2, BNBQ_F32, a1, b, o));
        OK(bnbq_linear_backward(&g_ex, &S2, BNBQ_F32, a1, b, g, gz));
        for (i = 0; i < b * H; i++) gz[i] = (float)(gz[i] * gelu_d(z1[i]));
        OK(bnbq_linear_backward(&g_ex, &S1, BNBQ_F32, x, b, gz, NULL));
        od = dbl(BNBQ_F32, o, b * h);
        /* FP8 */
        OK(bnbq_linear_forward(&g_ex, &F1, BNBQ_F32, x, b, z1));
        {   /* the layer's forward (the steps on the weight itself, its product with tb) = the public function
               of x and weight^T, + bias: the same bytes */
            size_t wsb = 0, r, c;
            float* Wt = (float*)malloc(H * h * 4);
            float* ref = (float*)malloc(b * H * 4);
            void* ws;
            OK(bnbq_matmul_fp8_workspace_size(b, H, h, &wsb));
            ws = malloc(wsb);
            for (r = 0; r < H; r++)
                for (c = 0; c < h; c++) Wt[c * H + r] = ((const float*)F1.weight)[r * h + c];
            OK(global ? bnbq_matmul_fp8_global(&g_ex, BNBQ_F32, x, Wt, b, H, h, F1.fw_code, ref, ws, wsb)
                      : bnbq_matmul_fp8_mixed(&g_ex, BNBQ_F32, x, Wt, b, H, h, F1.fw_code, F1.bsz, ref, ws, wsb));
            if (F1.bias)
                for (r = 0; r < b; r++)
                    for (c = 0; c < H; c++) ref[r * H + c] = ref[r * H + c] + ((const float*)F1.bias)[c];
            CHECK(memcmp(ref, z1, b * H * 4) == 0, "fp8 layer forward = bnbq_matmul_fp8_%s(x, weight^T) (+ bias), bytes",
                  global ? "global" : "mixed");
            free(Wt); free(ref); free(ws);
        }
        for (i = 0; i < b * H; i++) a1[i] = (float)gelu(z1[i]);
        OK(bnbq_linear_forward(&g_ex, &F2, BNBQ_F32, a1, b, fo));
        OK(bnbq_linear_backward(&g_ex, &F2, BNBQ_F32, a1, b, g, gz));
        {   /* its backward (likewise on the weight itself) = bnbq_matmul_fp8_*_backward of weight^T: grad_x and,
               transposed, grad_weight, bytes */
            size_t wsb = 0, r, c;
            float* Wt = (float*)malloc(H * h * 4);
            float* rgx = (float*)malloc(b * H * 4);
            float* rgw = (float*)malloc(H * h * 4);
            void* ws;
            int same = 1;
            OK(bnbq_matmul_fp8_workspace_size(b, h, H, &wsb));
            ws = malloc(wsb);
            for (r = 0; r < h; r++)
                for (c = 0; c < H; c++) Wt[c * h + r] = ((const float*)F2.weight)[r * H + c];
            OK(global ? bnbq_matmul_fp8_global_backward(&g_ex, BNBQ_F32, a1, Wt, b, h, H, F2.fw_code, F2.bw_code, g,
                                                        rgx, rgw, ws, wsb)
                      : bnbq_matmul_fp8_mixed_backward(&g_ex, BNBQ_F32, a1, Wt, b, h, H, F2.fw_code, F2.bw_code,
                                                       F2.bsz2, g, rgx, rgw, ws, wsb));
            for (r = 0; r < h; r++)
                for (c = 0; c < H; c++) same &= rgw[c * h + r] == ((const float*)F2.grad_weight)[r * H + c];
            CHECK(memcmp(rgx, gz, b * H * 4) == 0 && same,
                  "fp8 layer backward = bnbq_matmul_fp8_%s_backward(x, weight^T), bytes (grad_x %d, grad_weight %d)",
                  global ? "global" : "mixed", memcmp(rgx, gz, b * H * 4) == 0, same);
            free(Wt); free(rgx); free(rgw); free(ws);
        }
        for (i = 0; i < b * H; i++) gz[i] = (float)(gz[i] * gelu_d(z1[i]));
        OK(bnbq_linear_backward(&g_ex, &F1, BNBQ_F32, x, b, gz, NULL));
        /* e4m3 (3 mantissa bits) forward, e5m2 grad_out: ~5 % relative */
        CHECK(rel_err(BNBQ_F32, fo, od, b * h) < 0.08, "fp8 out rel %.3g",
              rel_err(BNBQ_F32, fo, od, b * h));
        {
            double* gw = dbl(BNBQ_F32, S1.grad_weight, H * h);
            double* gb = dbl(BNBQ_F32, S1.grad_bias, H);
            CHECK(rel_err(BNBQ_F32, F1.grad_weight, gw, H * h) < 0.1, "fp8 weight grad rel %.3g",
                  rel_err(BNBQ_F32, F1.grad_weight, gw, H * h));
            CHECK(rel_err(BNBQ_F32, F1.grad_bias, gb, H) < 0.05, "fp8 bias grad rel %.3g",
                  rel_err(BNBQ_F32, F1.grad_bias, gb, H));
            free(gw); free(gb);
        }
        bnbq_linear_uninit(&g_ex, &F1);
        d1.in_features = 64;
        d1.out_features = 32;
        OK(bnbq_linear_init(&g_ex, &F1, &d1));
        /* grad_x multiplies the e5m2-quantized grad_out (2 mantissa bits): a loose bar */
        fd_check(&F1, BNBQ_F32, 8, 1.0, 0.2, 1);
        bnbq_linear_uninit(&g_ex, &S1); bnbq_linear_uninit(&g_ex, &S2);
        bnbq_linear_uninit(&g_ex, &F1); bnbq_linear_uninit(&g_ex, &F2);
        free(x); free(a1); free(z1); free(o); free(fo); free(g); free(gz); free(od);
    }
}

/* research functions directly: mixed forward == the blockwise/global composition */
static void test_research(void) {
    size_t M = 8, K = 64, N = 16, wsb = 0;
    int bsz = 0, bsz2 = 0;
    float fw[256], bw[256];
    float *A = randn(M * K, 1.0), *B = randn(K * N, 0.1), *out = (float*)malloc(M * N * 4);
    float *fA = (float*)malloc(M * K * 4), *fB = (float*)malloc(K * N * 4);
    uint8_t *q = (uint8_t*)malloc(M * K), *qb = (uint8_t*)malloc(K * N);
    float sA[8], sB[1];
    double *Ad, *Bd, ref[128];
    void* ws;
    size_t i, j, k;
    OK(bnbq_create_fp8_map(1, 4, 3, 8, fw));
    OK(bnbq_create_fp8_map(1, 5, 2, 8, bw));
    OK(bnbq_fp8_block_sizes(K, N, &bsz, &bsz2));
    CHECK(bsz == 64 && bsz2 == 64, "block sizes");
    OK(bnbq_fp8_block_sizes(5000, 65, &bsz, &bsz2));
    CHECK(bsz == 4096 && bsz2 == 128, "block sizes 5000/65");
    OK(bnbq_matmul_fp8_workspace_size(M, N, K, &wsb));
    ws = malloc(wsb);
    OK(bnbq_matmul_fp8_mixed(NULL, BNBQ_F32, A, B, M, N, K, fw, 64, out, ws, wsb));
    OK(bnbq_quantize_blockwise(NULL, fw, BNBQ_F32, A, M * K, 64, q, sA));
    OK(bnbq_dequantize_blockwise(NULL, fw, BNBQ_F32, q, sA, M * K, 64, fA));
    OK(bnbq_quantize_global(NULL, fw, BNBQ_F32, B, K * N, qb, sB));
    OK(bnbq_dequantize_global(NULL, fw, BNBQ_F32, qb, sB, K * N, fB));
    Ad = dbl(BNBQ_F32, fA, M * K);
    Bd = dbl(BNBQ_F32, fB, K * N);
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double s = 0;
            for (k = 0; k < K; k++) s += Ad[i * K + k] * Bd[k * N + j];
            ref[i * N + j] = s;
        }
    CHECK(rel_err(BNBQ_F32, out, ref, M * N) < 1e-7, "fp8 mixed forward composition");
    CHECK_R(bnbq_matmul_fp8_mixed(NULL, BNBQ_F32, A, B, M, N, K, fw, 64, out, ws, wsb - 1),
            BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_matmul_fp8_mixed(NULL, BNBQ_F32, A, B, M, N, K, fw, 48, out, ws, wsb),
            BNBQ_ERROR_BAD_BLOCKSIZE);
    CHECK_R(bnbq_matmul_fp8_global(NULL, BNBQ_I8, A, B, M, N, K, fw, out, ws, wsb),
            BNBQ_ERROR_BAD_DTYPE);
    CHECK_R(bnbq_matmul_fp8_global(NULL, BNBQ_F32, A, B, 0, N, K, fw, out, ws, wsb),
            BNBQ_ERROR_BAD_SHAPE);
    CHECK_R(bnbq_matmul_fp8_global(NULL, BNBQ_F32, A, B, M, N, K, NULL, out, ws, wsb),
            BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_matmul_fp8_global_backward(NULL, BNBQ_F32, A, B, M, N, K, fw, NULL, out, NULL,
                                            NULL, ws, wsb), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_matmul_fp8_mixed_backward(NULL, BNBQ_F32, A, B, M, N, K, fw, bw, 64, NULL, NULL,
                                           NULL, ws, wsb), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_matmul_fp8_workspace_size(SIZE_MAX / 2, 4, 4, &wsb), BNBQ_ERROR_OVERFLOW);
    CHECK_R(bnbq_matmul_fp8_workspace_size(1, 1, 1, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_fp8_block_sizes(0, 1, &bsz, &bsz2), BNBQ_ERROR_BAD_SHAPE);
    CHECK_R(bnbq_fp8_block_sizes(1, 1, NULL, &bsz2), BNBQ_ERROR_NULL_POINTER);
    /* switchback_bnb bad input */
    {
        uint16_t a16[4], o16[4];
        size_t sw = 0;
        OK(bnbq_switchback_bnb_workspace_size(2, 2, 2, &sw));
        CHECK_R(bnbq_switchback_bnb(NULL, NULL, a16, 2, 2, 2, 0.0f, NULL, o16, ws, sw),
                BNBQ_ERROR_NULL_POINTER);
        CHECK_R(bnbq_switchback_bnb(NULL, a16, a16, 2, 2, 2, -1.0f, NULL, o16, ws, sw),
                BNBQ_ERROR_INVALID_ARGS);
        CHECK_R(bnbq_switchback_bnb(NULL, a16, a16, 2, 2, 2, 0.0f, NULL, o16, ws, sw - 1),
                BNBQ_ERROR_INVALID_ARGS);
        CHECK_R(bnbq_switchback_bnb_backward(NULL, a16, a16, 2, 0, 2, 0.0f, a16, o16, NULL, NULL,
                                             ws, sw), BNBQ_ERROR_BAD_SHAPE);
        CHECK_R(bnbq_switchback_bnb_workspace_size(SIZE_MAX / 2, 2, 4, &sw), BNBQ_ERROR_OVERFLOW);
    }
    free(A); free(B); free(out); free(fA); free(fB); free(q); free(qb); free(Ad); free(Bd);
    free(ws);
}

/* OutlierAwareLinear (callbacks) and the tracer */
static int g_qcalls, g_fcalls;
static size_t g_qcount;
static bnbq_result oa_quant(void* u, bnbq_exec* ex, bnbq_linear* L, const int32_t* idx,
                            size_t count) {
    (void)u; (void)ex; (void)L; (void)idx;
    g_qcalls++;
    g_qcount = count;
    return BNBQ_SUCCESS;
}
static bnbq_result oa_fwd(void* u, bnbq_exec* ex, bnbq_linear* L, bnbq_dtype x_dt,
                          const void* x, size_t tokens, const int32_t* idx, size_t count,
                          void* out) {
    (void)u; (void)idx; (void)count;
    g_fcalls++;
    return bnbq_gemm(ex, x_dt, 0, 1, tokens, L->desc.out_features, L->desc.in_features, x,
                     L->weight, L->bias, 0, out);
}
static void test_outlier_aware(void) {
    size_t T = 6, K = 32, N = 16, i, cnt = 0;
    bnbq_linear_desc d = desc_of(BNBQ_LINEAR_OUTLIER_AWARE, K, N, BNBQ_F32);
    bnbq_linear L, L2;
    bnbq_outlier_tracer t;
    float* x = randn(T * K, 1.0);
    float out[6 * 16], mid[6 * 16];
    float W[16 * 32], X[20 * 5];
    int32_t idx[64];
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_NULL_POINTER);
    d.quantize_weight = oa_quant;
    d.forward_with_outliers = oa_fwd;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    for (i = 0; i < N * K; i++) W[i] = (float)nrand() * 0.1f;
    for (i = 0; i < N; i++) W[i * K + 7] = (float)nrand() * 30.0f;   /* column 7 is an outlier */
    OK(bnbq_linear_set_weight(&g_ex, &L, W, NULL));
    x[2 * K + 3] = 20.0f;   /* |x| > 6 at feature 3 */
    OK(bnbq_outlier_tracer_init(&t, NULL));
    d.kind = BNBQ_LINEAR_STANDARD;
    d.in_features = N;
    OK(bnbq_linear_init(&g_ex, &L2, &d));
    OK(bnbq_linear_forward_traced(&g_ex, &t, &L, BNBQ_F32, x, T, out));
    CHECK(g_qcalls == 1 && g_fcalls == 1, "callbacks run once each");
    CHECK(L.outlier_dim_set && L.outlier_count >= 1, "first layer: outliers from the input");
    for (i = 0, cnt = 0; i < L.outlier_count; i++) if (L.outlier_dim[i] == 3) cnt = 1;
    CHECK(cnt == 1, "feature 3 (|x| > 6) is among the first layer's outliers");
    OK(bnbq_linear_forward_traced(&g_ex, &t, &L2, BNBQ_F32, out, T, mid));
    CHECK(t.num_layers == 2 && L2.outlier_dim_set, "second layer traced");
    OK(bnbq_linear_forward_traced(&g_ex, &t, &L, BNBQ_F32, x, T, out));
    CHECK(!t.active && g_qcalls == 1 && g_fcalls == 2, "tracing ends; quantize once");
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F32, x, T, out, NULL), BNBQ_ERROR_NOT_SUPPORTED);
    /* find_outlier_dims on a weight with one outlier column */
    OK(bnbq_find_outlier_dims(BNBQ_F32, W, N, K, 0, 4.0f, 0, idx, &cnt));
    CHECK(cnt == 1 && idx[0] == 7, "find_outlier_dims: column 7 (%zu)", cnt);
    OK(bnbq_find_outlier_dims(BNBQ_F32, W, N, K, 0, 0.0f, 2, idx, &cnt));
    CHECK(cnt == 2 && idx[0] == 7, "topk");
    for (i = 0; i < 100; i++) X[i] = (float)(i % 5);
    X[3 * 5 + 2] = 1000.0f;
    OK(bnbq_find_outlier_dims(BNBQ_F32, X, 20, 5, 1, 3.0f, 0, idx, &cnt));
    CHECK(cnt == 1 && idx[0] == 3, "reduction_dim 1: row 3");
    CHECK_R(bnbq_find_outlier_dims(BNBQ_F32, X, 20, 5, 2, 3.0f, 0, idx, &cnt),
            BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_find_outlier_dims(BNBQ_F32, NULL, 20, 5, 0, 3.0f, 0, idx, &cnt),
            BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_find_outlier_dims(BNBQ_U8, X, 20, 5, 0, 3.0f, 0, idx, &cnt), BNBQ_ERROR_BAD_DTYPE);
    CHECK_R(bnbq_find_outlier_dims(BNBQ_F32, X, 0, 5, 0, 3.0f, 0, idx, &cnt), BNBQ_ERROR_BAD_SHAPE);
    CHECK_R(bnbq_outlier_tracer_init(NULL, NULL), BNBQ_ERROR_NULL_POINTER);
    bnbq_outlier_tracer_uninit(&t);
    bnbq_outlier_tracer_uninit(NULL);
    bnbq_linear_uninit(&g_ex, &L);
    bnbq_linear_uninit(&g_ex, &L2);
    (void)g_qcount;
    free(x);
}

/* bad input for every layer function: the right result, never a crash */
static void test_bad_input(void) {
    bnbq_linear L, Z;
    bnbq_linear_desc d = desc_of(BNBQ_LINEAR_STANDARD, 8, 4, BNBQ_F32);
    float x[16], out[8], W[32];
    int8_t CB[32];
    float SCB[4];
    uint8_t packed[16];
    memset(x, 0, sizeof x);
    memset(W, 0, sizeof W);
    memset(CB, 0, sizeof CB);
    memset(SCB, 0, sizeof SCB);
    memset(packed, 0, sizeof packed);
    memset(&Z, 0, sizeof Z);
    CHECK_R(bnbq_linear_init(&g_ex, NULL, &d), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_init(&g_ex, &L, NULL), BNBQ_ERROR_NULL_POINTER);
    d.in_features = 0;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_BAD_SHAPE);
    d.in_features = SIZE_MAX / 2;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_OVERFLOW);
    d.in_features = 8;
    d.out_features = 0;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_BAD_SHAPE);
    d.out_features = 4;
    d.weight_dtype = BNBQ_I32;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_BAD_DTYPE);
    d.weight_dtype = BNBQ_F32;
    d.kind = (bnbq_linear_kind)99;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_INVALID_ARGS);
    d.kind = BNBQ_LINEAR_4BIT;
    d.quant_type = BNBQ_INT4;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_BAD_QUANT_TYPE);
    d.quant_type = BNBQ_NF4;
    d.blocksize = 48;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_BAD_BLOCKSIZE);
    d.blocksize = 0;
    d.compute_dtype_set = 1;
    d.compute_dtype = BNBQ_U8;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_BAD_DTYPE);
    d.compute_dtype_set = 0;
    d.kind = BNBQ_LINEAR_8BIT_LT;
    d.threshold = -1.0f;
    CHECK_R(bnbq_linear_init(&g_ex, &L, &d), BNBQ_ERROR_INVALID_ARGS);
    d.threshold = 0.0f;
    /* an uninitialised (zeroed) layer and NULL pointers */
    CHECK_R(bnbq_linear_forward(&g_ex, &Z, BNBQ_F32, x, 2, out), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_forward(&g_ex, NULL, BNBQ_F32, x, 2, out), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_backward(&g_ex, &Z, BNBQ_F32, x, 2, out, NULL), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_quantize(&g_ex, &Z), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_quantize(&g_ex, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_set_weight(&g_ex, &Z, W, NULL), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_prepare_for_eval(&g_ex, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_load_8bit(&g_ex, NULL, CB, SCB), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_load_4bit(&g_ex, NULL, BNBQ_NF4, 64, BNBQ_F32, packed, SCB, NULL, NULL,
                                  0.0f), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_forward_traced(&g_ex, NULL, NULL, BNBQ_F32, x, 2, out),
            BNBQ_ERROR_NULL_POINTER);
    bnbq_linear_uninit(&g_ex, NULL);
    bnbq_linear_uninit(&g_ex, &Z);
    bnbq_linear_set_training(NULL, 0);
    /* Linear8bitLt (int8 weights) */
    d.int8_weights = 1;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, 2, out), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x, 2, out, NULL), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_load_8bit(&g_ex, &L, NULL, SCB), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_NF4, 64, BNBQ_F32, packed, SCB, NULL, NULL,
                                  0.0f), BNBQ_ERROR_NOT_SUPPORTED);
    CHECK_R(bnbq_linear_prepare_for_eval(&g_ex, &L), BNBQ_ERROR_NOT_SUPPORTED);
    OK(bnbq_linear_load_8bit(&g_ex, &L, CB, SCB));
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, 0, out), BNBQ_ERROR_BAD_SHAPE);
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_I8, x, 2, out), BNBQ_ERROR_BAD_DTYPE);
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, NULL, 2, out), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, 2, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, SIZE_MAX / 4, out), BNBQ_ERROR_OVERFLOW);
    OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, 2, out));
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x, 2, NULL, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, NULL, 2, out, NULL),
            BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_set_weight(&g_ex, &L, NULL, NULL), BNBQ_ERROR_NULL_POINTER);
    bnbq_linear_uninit(&g_ex, &L);
    /* 4-bit: forward before quantize, load_4bit errors */
    d.kind = BNBQ_LINEAR_NF4;
    d.int8_weights = 0;
    d.no_bias = 1;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, 2, out), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F32, x, 2, out, x), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_linear_set_weight(&g_ex, &L, W, W), BNBQ_ERROR_INVALID_ARGS);   /* no bias */
    CHECK_R(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_NF4, 64, BNBQ_F32, NULL, SCB, NULL, NULL, 0.0f),
            BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_NF4, 64, BNBQ_F32, packed, NULL, NULL, NULL,
                                  0.0f), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_AF4, 64, BNBQ_F32, packed, SCB, NULL, NULL,
                                  0.0f), BNBQ_ERROR_BAD_QUANT_TYPE);
    CHECK_R(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_NF4, 63, BNBQ_F32, packed, SCB, NULL, NULL,
                                  0.0f), BNBQ_ERROR_BAD_BLOCKSIZE);
    CHECK_R(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_NF4, 64, BNBQ_I8, packed, SCB, NULL, NULL,
                                  0.0f), BNBQ_ERROR_BAD_DTYPE);
    CHECK_R(bnbq_linear_load_8bit(&g_ex, &L, CB, SCB), BNBQ_ERROR_NOT_SUPPORTED);
    SCB[0] = 1.0f;
    OK(bnbq_linear_load_4bit(&g_ex, &L, BNBQ_NF4, 32, BNBQ_F32, packed, SCB, NULL, NULL, 0.0f));
    OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F32, x, 2, out));
    bnbq_linear_uninit(&g_ex, &L);
    /* StandardLinear / FP8: x must have the weight dtype; no quantized state */
    d.kind = BNBQ_LINEAR_FP8_MIXED;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    CHECK_R(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, 2, out), BNBQ_ERROR_BAD_DTYPE);
    CHECK_R(bnbq_linear_quantize(&g_ex, &L), BNBQ_ERROR_NOT_SUPPORTED);
    bnbq_linear_uninit(&g_ex, &L);
    /* memory-efficient SwitchBack: backward needs a saved training forward */
    d.kind = BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF;
    OK(bnbq_linear_init(&g_ex, &L, &d));
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, NULL, 2, out, NULL),
            BNBQ_ERROR_INVALID_ARGS);
    OK(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, 2, out));
    OK(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, NULL, 2, out, NULL));
    CHECK_R(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, NULL, 1, out, NULL),
            BNBQ_ERROR_INVALID_ARGS);
    bnbq_linear_uninit(&g_ex, &L);
}

/* ------------------------------------------------------------------------------------------ */
static const uu_test TESTS[] = {
    {"standard", test_standard},         {"steady_state", test_steady_state},
    {"linear4bit", test_linear4bit},     {"linear8bitlt", test_linear8bitlt},
    {"switchback", test_switchback},     {"switchback_bnb", test_switchback_bnb},
    {"fp8", test_fp8},                   {"research", test_research},
    {"outlier_aware", test_outlier_aware}, {"bad_input", test_bad_input},
};

int main(int argc, char** argv) {
    bnbq_cpu_desc cd;
    int rc;
    memset(&cd, 0, sizeof cd);
    cd.allocator.alloc_fn = count_alloc;
    cd.allocator.free_fn = count_free;
    if (bnbq_cpu_exec_init(&g_ex, &cd) != BNBQ_SUCCESS) {
        printf("FAIL setup\n0 passed, 1 failed\n");
        return 1;
    }
    rc = uu_main(argc, argv, TESTS, sizeof TESTS / sizeof TESTS[0]);
    bnbq_exec_uninit(&g_ex);
    return rc;
}
