/* test_layers_bars.c - the layer bars of spec/tests.md at the sizes bitsandbytes' tests use, on
   the CPU exec: test_linear8bitlt.py test_linear_no_igemmlt; test_modules.py
   test_linear8bitlt_inference, _accumulated_gradient, _no_fp16_weights, test_linear_kbit_fp32_bias,
   test_kbit_backprop, test_4bit_linear_warnings; test_autograd.py test_matmullt (with 16-bit
   weights and gradients); test_deprecated.py test_fp8linear (LinearFP8Mixed and LinearFP8Global);
   test_ops.py's op contracts (output sizes and dtypes, nothing written past them).

   Every bar prints one line "#   bar <test>: <what>: <measured> (<op> <bound>)" with the worst
   value over the iterations and configurations it covers; the check fails when the measured value
   breaks the bound. bitsandbytes' random inputs (torch's generator) are not reproduced: the inputs
   are drawn from bnbq's own generator with the distributions the tests use, so these are
   statistical bars, as in bitsandbytes.

   Build:  make build/test_layers_bars
   Run:    ./build/test_layers_bars [--quick] [name-substring ...]
   --quick (the sanitizer run of `make test`): test_kbit_backprop runs 10 of its 100 iterations and
   test_linear8bitlt_inference / _fp32_bias 10 of their 100 forwards; every other bar is the same. */
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq.h"
#include "unit_util.h"

/* ---- the exec: a counting allocator and a logger that keeps every WARN ------------------- */
static long g_allocs;
static void* count_alloc(void* u, size_t n) { (void)u; g_allocs++; return malloc(n ? n : 1); }
static void count_free(void* u, void* p) { (void)u; free(p); }

#define MAX_WARN 64
static int  g_nwarn, g_nerr;
static char g_warn[MAX_WARN][512];
static void warn_logger(void* u, bnbq_log_level level, const char* func, const char* msg)
{
    (void)u; (void)func;
    if (level == BNBQ_LOG_ERROR) g_nerr++;
    if (level != BNBQ_LOG_WARN) return;
    if (g_nwarn < MAX_WARN) snprintf(g_warn[g_nwarn], sizeof g_warn[0], "%s", msg ? msg : "");
    g_nwarn++;
}
static void warn_reset(void) { g_nwarn = 0; g_nerr = 0; }

static bnbq_exec g_ex;
static rng g_r;

/* ---- bars ---------------------------------------------------------------------------------- */
static void bar_impl(int line, int strict, const char* what, double value, double bound)
{
    int ok = strict ? value < bound : value <= bound;
    printf("#   bar %s: %s: %.6g (%s %.4g)%s\n", T->name, what, value, strict ? "<" : "<=", bound,
           ok ? "" : "  FAILED");
    check_impl(ok, line, "%s: %.6g, bound %s %.6g", what, value, strict ? "<" : "<=", bound);
}
/* value <= bound / value < bound */
#define BAR_LE(what, value, bound) bar_impl(__LINE__, 0, (what), (value), (bound))
#define BAR_LT(what, value, bound) bar_impl(__LINE__, 1, (what), (value), (bound))

/* torch.isclose(a, b, atol, rtol): |a - b| <= atol + rtol * |b| (NaN is never close). outside:
   elements that are not; worst: the largest |a - b| / (atol + rtol |b|) (<= 1: all close). */
typedef struct closeness { size_t outside; double worst; } closeness;
static closeness close_of(const double* a, const double* b, size_t n, double atol, double rtol)
{
    closeness c;
    size_t i;
    c.outside = 0;
    c.worst = 0.0;
    for (i = 0; i < n; i++) {
        double tol = atol + rtol * fabs(b[i]), d = fabs(a[i] - b[i]), q;
        if (!(d <= tol)) c.outside++;
        q = d != d ? HUGE_VAL : (tol > 0 ? d / tol : (d > 0 ? HUGE_VAL : 0.0));
        if (q > c.worst) c.worst = q;
    }
    return c;
}
static void worst_of(closeness* acc, closeness c)
{
    if (c.outside > acc->outside) acc->outside = c.outside;
    if (c.worst > acc->worst) acc->worst = c.worst;
}
static double mean_abs(const double* a, const double* b, size_t n)
{
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += fabs(a[i] - b[i]);
    return s / (double)n;
}
/* torch.testing.assert_close's default tolerances (rtol, atol) for dt */
static double def_rtol(bnbq_dtype dt) { return dt == BNBQ_F16 ? 1e-3 : dt == BNBQ_BF16 ? 1.6e-2 : 1.3e-6; }
static const double k_def_atol = 1e-5;

/* ---- tensors ------------------------------------------------------------------------------- */
static double* dnew(size_t n) { return (double*)xmalloc(n * sizeof(double)); }
/* n values of dt (host) as doubles (new) */
static double* as_d(bnbq_dtype dt, const void* p, size_t n)
{
    double* d = dnew(n);
    size_t i;
    for (i = 0; i < n; i++) d[i] = ld(dt, p, i);
    return d;
}
/* doubles -> dt (new; each rounded once from float, as torch's f32 results are) */
static void* to_dt(bnbq_dtype dt, const double* v, size_t n)
{
    void* p = xmalloc(n * dts(dt) + 8);
    size_t i;
    for (i = 0; i < n; i++) st(dt, p, i, (float)v[i]);
    return p;
}
/* v rounded to dt in place (the values a dt tensor holds) */
static void round_d(bnbq_dtype dt, double* v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) v[i] = round_dt(dt, (float)v[i]);
}
static double* randn_d(size_t n, double scale)
{
    double* d = dnew(n);
    size_t i;
    for (i = 0; i < n; i++) d[i] = (double)(float)(rng_normal(&g_r) * scale);
    return d;
}
static double* uniform_d(size_t n, double bound)
{
    double* d = dnew(n);
    size_t i;
    for (i = 0; i < n; i++) d[i] = (double)(float)((2.0 * rng_uniform(&g_r) - 1.0) * bound);
    return d;
}
/* out (T, N) = x (T, K) @ W (N, K)^T [+ b], float64 */
static void mm_t(const double* x, const double* W, const double* b, size_t T, size_t N, size_t K,
                 double* out)
{
    size_t t, n, k;
    for (t = 0; t < T; t++)
        for (n = 0; n < N; n++) {
            double s = b ? b[n] : 0.0;
            for (k = 0; k < K; k++) s += x[t * K + k] * W[n * K + k];
            out[t * N + n] = s;
        }
}
/* out (T, K) = g (T, N) @ W (N, K), float64 */
static void mm_n(const double* g, const double* W, size_t T, size_t N, size_t K, double* out)
{
    size_t t, n, k;
    for (t = 0; t < T * K; t++) out[t] = 0.0;
    for (t = 0; t < T; t++)
        for (n = 0; n < N; n++) {
            double gv = g[t * N + n];
            for (k = 0; k < K; k++) out[t * K + k] += gv * W[n * K + k];
        }
}

/* o = L1(L0(x)) (h: L0's output), then the backward of grad_out g: L1's grad_x into gh, L0's
   into gx (NULL: skip); both layers' parameter gradients are overwritten */
static void two_layers(bnbq_linear* L0, bnbq_linear* L1, bnbq_dtype dt, const void* x, size_t T,
                       void* h, void* o, const void* g, void* gh, void* gx)
{
    MUST(bnbq_linear_forward(&g_ex, L0, dt, x, T, h));
    MUST(bnbq_linear_forward(&g_ex, L1, dt, h, T, o));
    MUST(bnbq_linear_backward(&g_ex, L1, dt, h, T, g, gh));
    MUST(bnbq_linear_backward(&g_ex, L0, dt, x, T, gh, gx));
}

/* a layer with the weight W (N, K) and bias b (N,) (doubles, rounded to wdt); 0 on failure */
static int make_layer(bnbq_linear* L, const bnbq_linear_desc* d, const double* W, const double* b,
                      int line)
{
    size_t N = d->out_features, K = d->in_features;
    bnbq_result r = bnbq_linear_init(&g_ex, L, d);
    void *w, *bb = NULL;
    check_impl(r == BNBQ_SUCCESS, line, "bnbq_linear_init (kind %d): %s", (int)d->kind, RC(r));
    if (r != BNBQ_SUCCESS) return 0;
    w = to_dt(d->weight_dtype, W, N * K);
    if (b && !d->no_bias) bb = to_dt(d->weight_dtype, b, N);
    r = bnbq_linear_set_weight(&g_ex, L, w, bb);
    check_impl(r == BNBQ_SUCCESS, line, "bnbq_linear_set_weight: %s", RC(r));
    free(w); free(bb);
    return r == BNBQ_SUCCESS;
}
#define MAKE_LAYER(L, d, W, b) make_layer((L), (d), (W), (b), __LINE__)

/* ==========================================================================================
   test_linear8bitlt.py test_linear_no_igemmlt: Linear(1024 -> 3072), x randn(3, 1024) f16,
   Linear8bitLt(has_fp16_weights=False, threshold=6.0) vs nn.Linear(...).half(): at most
   2.5e-4 * numel outside isclose(atol 0.02, rtol 1e-5) (the seed asserts "<"), assert_close(atol
   0.03, rtol 1e-5); x.grad assert_close(atol 0.01, rtol 1e-5) for loss (out.float() * grad_proj)
   .mean(). The reference is torch's f16 linear: the float64 sum of the f16 weights and inputs plus
   the f16 bias, rounded once to f16. */
static void test_linear_no_igemmlt(void)
{
    const size_t T = 3, K = 1024, N = 3072, n = T * N;
    bnbq_linear L;
    bnbq_linear_desc d = ldesc(BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F32, 11);
    double *W = uniform_d(N * K, 1.0 / sqrt((double)K)), *b = uniform_d(N, 1.0 / sqrt((double)K));
    double *x = randn_d(T * K, 1.0), *ref = dnew(n), *gref = dnew(T * K), *o, *gx, *g;
    void *x16, *out16 = xmalloc(n * 2), *g16, *gx16 = xmalloc(T * K * 2);
    closeness c;
    size_t i;
    round_d(BNBQ_F16, x, T * K);
    x16 = to_dt(BNBQ_F16, x, T * K);
    d.int8_weights = 1;
    d.threshold = 6.0f;
    if (MAKE_LAYER(&L, &d, W, b)) {
        MUST(bnbq_linear_quantize(&g_ex, &L));
        CHECK(L.CB && L.SCB && !L.weight && L.quantized, "int8 weights (CB set)");
        MUST(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x16, T, out16));
        CHECK(*L.num_outliers >= 0 && (size_t)*L.num_outliers <= K, "outlier count %d",
              (int)*L.num_outliers);
        /* the f16 nn.Linear */
        round_d(BNBQ_F16, W, N * K);
        round_d(BNBQ_F16, b, N);
        mm_t(x, W, b, T, N, K, ref);
        round_d(BNBQ_F16, ref, n);
        o = as_d(BNBQ_F16, out16, n);
        c = close_of(ref, o, n, 0.02, 1e-5);
        BAR_LT("out: elements outside isclose(atol 0.02, rtol 1e-5)", (double)c.outside,
               2.5e-4 * (double)n);
        c = close_of(ref, o, n, 0.03, 1e-5);
        BAR_LE("out: assert_close(atol 0.03, rtol 1e-5) worst |d| / tol", c.worst, 1.0);
        /* input gradients: grad_out = f16(grad_proj / numel) for both */
        g = randn_d(n, 1.0);
        for (i = 0; i < n; i++) g[i] = (double)((float)g[i] / (float)n);
        round_d(BNBQ_F16, g, n);
        g16 = to_dt(BNBQ_F16, g, n);
        MUST(bnbq_linear_backward(&g_ex, &L, BNBQ_F16, x16, T, g16, gx16));
        mm_n(g, W, T, N, K, gref);
        round_d(BNBQ_F16, gref, T * K);
        gx = as_d(BNBQ_F16, gx16, T * K);
        c = close_of(gref, gx, T * K, 0.01, 1e-5);
        BAR_LE("x.grad: assert_close(atol 0.01, rtol 1e-5) worst |d| / tol", c.worst, 1.0);
        printf("#   (no_igemmlt: mean |out - ref| %.3g, %d outlier columns)\n",
               mean_abs(o, ref, n), (int)*L.num_outliers);
        free(o); free(g); free(g16); free(gx);
        bnbq_linear_uninit(&g_ex, &L);
    }
    free(W); free(b); free(x); free(ref); free(gref); free(x16); free(out16); free(gx16);
}

/* ==========================================================================================
   test_deprecated.py test_fp8linear: b = 10, h = 1024, float32: Linear(h -> 2h) -> gelu ->
   Linear(2h -> h) against the same with LinearFP8Mixed (and LinearFP8Global, which bitsandbytes
   cannot run: its forward calls a missing function), the same parameters: mean |out - out_fp8|
   < 0.05; first layer weight-grad and bias-grad mean abs error < 2e-5 each, loss = out.mean(). */
static double gelu(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }
static double gelu_d(double v)
{
    return 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * 3.141592653589793);
}
/* out = L2(gelu(L1(x))), then loss = out.mean() backward into L1's / L2's gradients */
static void mlp_gelu(bnbq_linear* L1, bnbq_linear* L2, const float* x, size_t b, size_t h,
                     size_t H, float* out)
{
    float *z = (float*)xmalloc(b * H * 4), *a = (float*)xmalloc(b * H * 4);
    float *g = (float*)xmalloc(b * h * 4), *ga = (float*)xmalloc(b * H * 4);
    size_t i;
    MUST(bnbq_linear_forward(&g_ex, L1, BNBQ_F32, x, b, z));
    for (i = 0; i < b * H; i++) a[i] = (float)gelu(z[i]);
    MUST(bnbq_linear_forward(&g_ex, L2, BNBQ_F32, a, b, out));
    for (i = 0; i < b * h; i++) g[i] = 1.0f / (float)(b * h);
    MUST(bnbq_linear_backward(&g_ex, L2, BNBQ_F32, a, b, g, ga));
    for (i = 0; i < b * H; i++) ga[i] = (float)(ga[i] * gelu_d(z[i]));
    MUST(bnbq_linear_backward(&g_ex, L1, BNBQ_F32, x, b, ga, NULL));
    free(z); free(a); free(g); free(ga);
}
static void test_fp8linear(void)
{
    const size_t b = 10, h = 1024, H = 2 * h;
    int global;
    double* xd = randn_d(b * h, 1.0);
    float* x = (float*)to_dt(BNBQ_F32, xd, b * h);
    float *o = (float*)xmalloc(b * h * 4), *of = (float*)xmalloc(b * h * 4);
    bnbq_linear S1, S2, F1, F2;
    bnbq_linear_desc d1 = ldesc(BNBQ_LINEAR_STANDARD, h, H, BNBQ_F32, 11);
    bnbq_linear_desc d2 = ldesc(BNBQ_LINEAR_STANDARD, H, h, BNBQ_F32, 11);
    double *od, *ofd, *gw, *gwf, *gb, *gbf;
    char what[160];
    d2.seed = 12;
    MUST(bnbq_linear_init(&g_ex, &S1, &d1));
    MUST(bnbq_linear_init(&g_ex, &S2, &d2));
    mlp_gelu(&S1, &S2, x, b, h, H, o);
    od = as_d(BNBQ_F32, o, b * h);
    gw = as_d(BNBQ_F32, S1.grad_weight, H * h);
    gb = as_d(BNBQ_F32, S1.grad_bias, H);
    for (global = 0; global < 2; global++) {
        const char* nm = global ? "LinearFP8Global" : "LinearFP8Mixed";
        d1.kind = d2.kind = global ? BNBQ_LINEAR_FP8_GLOBAL : BNBQ_LINEAR_FP8_MIXED;
        MUST(bnbq_linear_init(&g_ex, &F1, &d1));   /* the same seeds: the same parameters */
        MUST(bnbq_linear_init(&g_ex, &F2, &d2));
        CHECK(memcmp(S1.weight, F1.weight, H * h * 4) == 0 && memcmp(S2.bias, F2.bias, h * 4) == 0,
              "%s: not the standard layers' parameters", nm);
        CHECK(F1.bsz == 1024 && F1.bsz2 == 2048 && F2.bsz == 2048 && F2.bsz2 == 1024,
              "%s block sizes %d %d / %d %d", nm, F1.bsz, F1.bsz2, F2.bsz, F2.bsz2);
        mlp_gelu(&F1, &F2, x, b, h, H, of);
        ofd = as_d(BNBQ_F32, of, b * h);
        gwf = as_d(BNBQ_F32, F1.grad_weight, H * h);
        gbf = as_d(BNBQ_F32, F1.grad_bias, H);
        snprintf(what, sizeof what, "%s: mean |out - out_fp8|", nm);
        BAR_LT(what, mean_abs(od, ofd, b * h), 0.05);
        snprintf(what, sizeof what, "%s: first layer weight-grad mean abs error", nm);
        BAR_LT(what, mean_abs(gw, gwf, H * h), 2e-5);
        snprintf(what, sizeof what, "%s: first layer bias-grad mean abs error", nm);
        BAR_LT(what, mean_abs(gb, gbf, H), 2e-5);
        bnbq_linear_uninit(&g_ex, &F1);
        bnbq_linear_uninit(&g_ex, &F2);
        free(ofd); free(gwf); free(gbf);
    }
    bnbq_linear_uninit(&g_ex, &S1);
    bnbq_linear_uninit(&g_ex, &S2);
    free(xd); free(x); free(o); free(of); free(od); free(gw); free(gb);
}

/* ==========================================================================================
   test_modules.py test_kbit_backprop: ref = Linear(36 -> 84) + Linear(84 -> 128) (kaiming-normal
   weights, the second frozen) against Linear(36 -> 84) + a k-bit layer with the same parameters,
   the model in f16 / bf16, batch 16, 100 iterations of out.mean().backward() with the gradients
   zeroed each time. On the first layer's gradients: Int8Lt at most 1 element outside
   isclose(atol 0.008, rtol 0.05), bias grad assert_close(atol 0.008, rtol 0.05); 4-bit at most 1
   outside isclose(atol 0.015, rtol 0.05), bias assert_close(atol 0.02, rtol 0.05).
   bitsandbytes builds the model in float32 and moves it with .to(device, dtype): Linear8bitLt's
   default has_fp16_weights=True keeps its weight as an ordinary (dtype) tensor, while Params4bit
   quantizes the float32 data (the move ignores the dtype), so its state dequantizes to float32
   and MatMul4Bit casts to the compute dtype; the bias is cast to dtype. */
typedef struct kbit_kind { const char* name; bnbq_linear_kind kind; int compute; bnbq_dtype cdt; } kbit_kind;
static const kbit_kind k_kbit[9] = {
    { "Int8Lt", BNBQ_LINEAR_8BIT_LT, 0, BNBQ_F32 }, { "4bit", BNBQ_LINEAR_4BIT, 0, BNBQ_F32 },
    { "FP4", BNBQ_LINEAR_FP4, 0, BNBQ_F32 },         { "NF4", BNBQ_LINEAR_NF4, 0, BNBQ_F32 },
    { "FP4+C", BNBQ_LINEAR_FP4, 0, BNBQ_F32 },       { "NF4+C", BNBQ_LINEAR_NF4, 0, BNBQ_F32 },
    { "NF4+fp32", BNBQ_LINEAR_NF4, 1, BNBQ_F32 },    { "NF4+fp16", BNBQ_LINEAR_NF4, 1, BNBQ_F16 },
    { "NF4+bf16", BNBQ_LINEAR_NF4, 1, BNBQ_BF16 } };

static void test_kbit_backprop(void)
{
    const size_t B = 16, D1 = 36, D2 = 84, D3 = 128;
    const int iters = g_quick ? 10 : 100;
    size_t ki, di;
    for (di = 0; di < 2; di++)
        for (ki = 0; ki < 9; ki++) {
            bnbq_dtype dt = di ? BNBQ_BF16 : BNBQ_F16;
            const kbit_kind* kk = &k_kbit[ki];
            int is8 = kk->kind == BNBQ_LINEAR_8BIT_LT;
            size_t es = dts(dt), i;
            double *W1 = randn_d(D2 * D1, sqrt(2.0 / (double)D1)), *b1 = uniform_d(D2, 1.0 / 6.0);
            double *W2 = randn_d(D3 * D2, sqrt(2.0 / (double)D2));
            double* b2 = uniform_d(D3, 1.0 / sqrt((double)D2));
            bnbq_linear R1, R2, K1, K2;
            bnbq_linear_desc d1 = ldesc(BNBQ_LINEAR_STANDARD, D1, D2, dt, 11);
            bnbq_linear_desc d2 = ldesc(BNBQ_LINEAR_STANDARD, D2, D3, dt, 11);
            bnbq_linear_desc dk = ldesc(kk->kind, D2, D3, is8 ? dt : BNBQ_F32, 11);
            void *h = xmalloc(B * D2 * es), *h2 = xmalloc(B * D2 * es), *o = xmalloc(B * D3 * es);
            void *g = xmalloc(B * D3 * es), *gh = xmalloc(B * D2 * es);
            closeness cw = { 0, 0.0 }, cb = { 0, 0.0 };
            double atol = is8 ? 0.008 : 0.015, batol = is8 ? 0.008 : 0.02;
            int it, ok = 1;
            char what[200];
            dk.compute_dtype_set = kk->compute;
            dk.compute_dtype = kk->cdt;
            ok = MAKE_LAYER(&R1, &d1, W1, b1);
            ok = ok && MAKE_LAYER(&R2, &d2, W2, b2);
            ok = ok && MAKE_LAYER(&K1, &d1, W1, b1);
            ok = ok && MAKE_LAYER(&K2, &dk, W2, b2);
            if (ok && !is8) MUST(bnbq_linear_quantize(&g_ex, &K2));
            for (i = 0; i < B * D3; i++) st(dt, g, i, 1.0f / (float)(B * D3));   /* out.mean() */
            for (it = 0; ok && it < iters; it++) {
                double* xd = randn_d(B * D1, 1.0);
                void* x = to_dt(dt, xd, B * D1);
                double *g1, *g2, *bg1, *bg2;
                /* the gradients are overwritten: garbage first (zero_grad is not needed) */
                memset(K1.grad_weight, 0x7b, D2 * D1 * es);
                memset(K1.grad_bias, 0x7b, D2 * es);
                two_layers(&R1, &R2, dt, x, B, h, o, g, gh, NULL);
                two_layers(&K1, &K2, dt, x, B, h2, o, g, gh, NULL);
                g1 = as_d(dt, R1.grad_weight, D2 * D1);
                g2 = as_d(dt, K1.grad_weight, D2 * D1);
                bg1 = as_d(dt, R1.grad_bias, D2);
                bg2 = as_d(dt, K1.grad_bias, D2);
                worst_of(&cw, close_of(g1, g2, D2 * D1, atol, 0.05));
                worst_of(&cb, close_of(bg1, bg2, D2, batol, 0.05));
                free(xd); free(x); free(g1); free(g2); free(bg1); free(bg2);
            }
            CHECK(!ok || K2.bias_dtype == dt, "%s %s: the bias was not cast to the model dtype",
                  kk->name, dtn(dt));
            snprintf(what, sizeof what, "%s %s: weight grad, most elements outside isclose(atol "
                     "%g, rtol 0.05) in %d iterations (worst |d| / tol %.3g)", kk->name, dtn(dt),
                     atol, iters, cw.worst);
            BAR_LE(what, (double)cw.outside, 1.0);
            snprintf(what, sizeof what, "%s %s: bias grad assert_close(atol %g, rtol 0.05) worst "
                     "|d| / tol", kk->name, dtn(dt), batol);
            BAR_LE(what, cb.worst, 1.0);
            bnbq_linear_uninit(&g_ex, &R1); bnbq_linear_uninit(&g_ex, &R2);
            bnbq_linear_uninit(&g_ex, &K1); bnbq_linear_uninit(&g_ex, &K2);
            free(W1); free(b1); free(W2); free(b2); free(h); free(h2); free(o); free(g); free(gh);
        }
}

/* ==========================================================================================
   test_modules.py test_linear8bitlt_no_fp16_weights: Linear8bitLt(32 -> 64, int8, threshold 0 /
   2.0) in f16: forwards of randn(16, 8, 32) give f16; MLP8bit(32 -> 64 -> 32) with int8 weights:
   with threshold 2.0 each layer records its outlier columns (state.idx); the weights stay int8;
   then the final gradient check: x randn(16, 8, 32) f16, loss (out * grad_proj).sum(),
   x.grad against grad_ref = grad_proj @ W2 @ W1 with the f16 weights before quantization (each
   product rounded to f16): assert_close(rtol 0, atol 0.05 * scale), scale = mean |grad_ref|, and
   at most 0.005 * numel outside isclose(atol 0.01 * scale, rtol 0.1). */
static int cols_ok(const bnbq_linear* L)
{
    int32_t i, n = *L->num_outliers;
    if (n < 0 || (size_t)n > L->desc.in_features) return 0;
    for (i = 0; i < n; i++)
        if (L->outlier_cols[i] < 0 || (size_t)L->outlier_cols[i] >= L->desc.in_features ||
            (i && L->outlier_cols[i] <= L->outlier_cols[i - 1]))
            return 0;
    return 1;
}
static void test_linear8bitlt_no_fp16_weights(void)
{
    const size_t T = 128, K = 32, H = 64;
    int ti;
    for (ti = 0; ti < 2; ti++) {
        float thr = ti ? 2.0f : 0.0f;
        bnbq_linear L, F1, F2;
        bnbq_linear_desc d = ldesc(BNBQ_LINEAR_8BIT_LT, K, H, BNBQ_F32, 11);
        bnbq_linear_desc d2 = ldesc(BNBQ_LINEAR_8BIT_LT, H, K, BNBQ_F32, 11);
        double *W1 = uniform_d(H * K, 1.0 / sqrt((double)K)), *b1 = uniform_d(H, 1.0 / sqrt((double)K));
        double *W2 = uniform_d(K * H, 1.0 / sqrt((double)H)), *b2 = uniform_d(K, 1.0 / sqrt((double)H));
        void *h = xmalloc(T * H * 2), *o = xmalloc(T * K * 2), *gh = xmalloc(T * H * 2);
        void* gx = xmalloc(T * K * 2);
        int it, ok;
        char what[200];
        d.int8_weights = d2.int8_weights = 1;
        d.threshold = d2.threshold = thr;
        if (MAKE_LAYER(&L, &d, W1, b1)) {
            MUST(bnbq_linear_quantize(&g_ex, &L));
            bnbq_linear_set_training(&L, 0);
            for (it = 0; it < 4; it++) {
                double* xd = randn_d(T * K, 1.0);
                void* x = to_dt(BNBQ_F16, xd, T * K);
                MUST(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, h));
                free(xd); free(x);
            }
            CHECK(bnbq_linear_output_dtype(&L, BNBQ_F16) == BNBQ_F16 && L.CB && !L.weight,
                  "thr %g: f16 output, int8 weight", (double)thr);
            bnbq_linear_uninit(&g_ex, &L);
        }
        ok = MAKE_LAYER(&F1, &d, W1, b1);
        ok = ok && MAKE_LAYER(&F2, &d2, W2, b2);
        if (ok) {
            double *xd, *gp, *t1 = dnew(T * H), *gref = dnew(T * K), *gxd, scale = 0.0;
            void *x, *gp16;
            closeness c;
            size_t i;
            MUST(bnbq_linear_quantize(&g_ex, &F1));   /* .to(device): int8 from f16(W) */
            MUST(bnbq_linear_quantize(&g_ex, &F2));
            for (it = 0; it < 4; it++) {
                xd = randn_d(T * K, 1.0);
                x = to_dt(BNBQ_F16, xd, T * K);
                MUST(bnbq_linear_forward(&g_ex, &F1, BNBQ_F16, x, T, h));
                MUST(bnbq_linear_forward(&g_ex, &F2, BNBQ_F16, h, T, o));
                if (thr > 0.0f)
                    CHECK(cols_ok(&F1) && cols_ok(&F2) && *F1.num_outliers > 0,
                          "state.idx: %d / %d outlier columns", (int)*F1.num_outliers,
                          (int)*F2.num_outliers);
                free(xd); free(x);
            }
            CHECK(F1.CB && F2.CB && !F1.weight && !F2.weight && F1.bias_dtype == BNBQ_F16,
                  "int8 weights, f16 bias after an f16 forward");
            xd = randn_d(T * K, 1.0);
            x = to_dt(BNBQ_F16, xd, T * K);
            gp = randn_d(T * K, 1.0);
            round_d(BNBQ_F16, gp, T * K);
            gp16 = to_dt(BNBQ_F16, gp, T * K);
            two_layers(&F1, &F2, BNBQ_F16, x, T, h, o, gp16, gh, gx);
            /* grad_ref = f16(f16(grad_proj @ f16(W2)) @ f16(W1)) */
            round_d(BNBQ_F16, W1, H * K);
            round_d(BNBQ_F16, W2, K * H);
            mm_n(gp, W2, T, K, H, t1);
            round_d(BNBQ_F16, t1, T * H);
            mm_n(t1, W1, T, H, K, gref);
            round_d(BNBQ_F16, gref, T * K);
            for (i = 0; i < T * K; i++) scale += fabs(gref[i]);
            scale /= (double)(T * K);
            gxd = as_d(BNBQ_F16, gx, T * K);
            c = close_of(gxd, gref, T * K, 0.05 * scale, 0.0);
            snprintf(what, sizeof what, "thr %g: x.grad assert_close(rtol 0, atol 0.05 * scale) "
                     "worst |d| / tol (scale %.3g)", (double)thr, scale);
            BAR_LE(what, c.worst, 1.0);
            c = close_of(gxd, gref, T * K, 0.01 * scale, 0.1);
            snprintf(what, sizeof what, "thr %g: x.grad elements outside isclose(atol 0.01 * "
                     "scale, rtol 0.1)", (double)thr);
            BAR_LE(what, (double)c.outside, 0.005 * (double)(T * K));
            free(xd); free(x); free(gp); free(gp16); free(t1); free(gref); free(gxd);
        }
        if (ok) { bnbq_linear_uninit(&g_ex, &F1); bnbq_linear_uninit(&g_ex, &F2); }
        free(W1); free(b1); free(W2); free(b2); free(h); free(o); free(gh); free(gx);
    }
}

/* ==========================================================================================
   test_modules.py test_linear8bitlt_accumulated_gradient: two Linear8bitLt(32, 32) (16-bit
   weights: bitsandbytes' default, training) against two nn.Linear(32, 32), all f16 with the same
   parameters, Adam32bit(lr 1e-3) on both, 15 steps of randn(16, 8, 32) with out.mean().backward()
   and the optimizer step every 10 accumulated steps (i > 0 and i % 10 == 0): after a step, the
   weights at most 2 elements outside isclose(rtol 1.05, atol 0.01) (then the reference weights
   are copied over, as the test does); otherwise the accumulated weight grads at most 1 element
   outside isclose(rtol 1.05, atol 0.04). bnbq's backward overwrites the gradients: the test
   accumulates them as torch does (grad = f16(grad + new)). Adam (betas 0.9 / 0.999, eps 1e-8,
   float32 states, bias-corrected) is written here; both models use it. */
typedef struct adam_p { size_t n; double* p; float *m, *v; double* acc; } adam_p;
static void adam_init(adam_p* a, size_t n, const double* p0)
{
    a->n = n;
    a->p = dnew(n);
    memcpy(a->p, p0, n * sizeof(double));
    a->m = (float*)calloc(n, 4);
    a->v = (float*)calloc(n, 4);
    a->acc = (double*)calloc(n, sizeof(double));
}
static void adam_free(adam_p* a) { free(a->p); free(a->m); free(a->v); free(a->acc); }
/* acc = f16(acc + g) (torch's .grad accumulation in the parameter dtype) */
static void adam_accum(adam_p* a, const void* g16)
{
    size_t i;
    for (i = 0; i < a->n; i++) a->acc[i] = round_dt(BNBQ_F16, (float)(a->acc[i] + ld(BNBQ_F16, g16, i)));
}
static void adam_step(adam_p* a, int t)
{
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    size_t i;
    for (i = 0; i < a->n; i++) {
        float g = (float)a->acc[i], mh, vh;
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * g;
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * g * g;
        mh = a->m[i] / c1;
        vh = a->v[i] / c2;
        a->p[i] = round_dt(BNBQ_F16, (float)a->p[i] - lr * mh / (sqrtf(vh) + eps));
        a->acc[i] = 0.0;   /* zero_grad */
    }
}
static void test_linear8bitlt_accumulated_gradient(void)
{
    const size_t T = 128, D = 32;
    bnbq_linear A[2], S[2];
    adam_p pa[2][2], ps[2][2];   /* [layer][weight, bias] */
    bnbq_linear_desc d8 = ldesc(BNBQ_LINEAR_8BIT_LT, D, D, BNBQ_F16, 11);
    bnbq_linear_desc ds = ldesc(BNBQ_LINEAR_STANDARD, D, D, BNBQ_F16, 11);
    void *h8 = xmalloc(T * D * 2), *hs = xmalloc(T * D * 2), *o = xmalloc(T * D * 2);
    void *g = xmalloc(T * D * 2), *gh = xmalloc(T * D * 2);
    closeness cw = { 0, 0.0 }, cg = { 0, 0.0 };
    size_t i, l;
    int it, steps = 0, ok = 1;
    char what[200];
    for (l = 0; l < 2; l++) {
        double* W = uniform_d(D * D, 1.0 / sqrt((double)D));
        double* b = uniform_d(D, 1.0 / sqrt((double)D));
        round_d(BNBQ_F16, W, D * D);
        round_d(BNBQ_F16, b, D);
        ok = ok && MAKE_LAYER(&S[l], &ds, W, b) && MAKE_LAYER(&A[l], &d8, W, b);
        adam_init(&pa[l][0], D * D, W); adam_init(&pa[l][1], D, b);
        adam_init(&ps[l][0], D * D, W); adam_init(&ps[l][1], D, b);
        free(W); free(b);
    }
    for (i = 0; i < T * D; i++) st(BNBQ_F16, g, i, 1.0f / (float)(T * D));   /* out.mean() */
    for (it = 0; ok && it < 15; it++) {
        double* xd = randn_d(T * D, 1.0);
        void* x = to_dt(BNBQ_F16, xd, T * D);
        two_layers(&A[0], &A[1], BNBQ_F16, x, T, h8, o, g, gh, NULL);
        two_layers(&S[0], &S[1], BNBQ_F16, x, T, hs, o, g, gh, NULL);
        for (l = 0; l < 2; l++) {
            adam_accum(&pa[l][0], A[l].grad_weight); adam_accum(&pa[l][1], A[l].grad_bias);
            adam_accum(&ps[l][0], S[l].grad_weight); adam_accum(&ps[l][1], S[l].grad_bias);
        }
        if (it > 0 && it % 10 == 0) {
            steps++;
            for (l = 0; l < 2; l++) {
                void *w, *b;
                adam_step(&pa[l][0], steps); adam_step(&pa[l][1], steps);
                adam_step(&ps[l][0], steps); adam_step(&ps[l][1], steps);
                worst_of(&cw, close_of(pa[l][0].p, ps[l][0].p, D * D, 0.01, 1.05));
                /* the test copies the reference parameters over */
                memcpy(pa[l][0].p, ps[l][0].p, D * D * sizeof(double));
                memcpy(pa[l][1].p, ps[l][1].p, D * sizeof(double));
                w = to_dt(BNBQ_F16, ps[l][0].p, D * D);
                b = to_dt(BNBQ_F16, ps[l][1].p, D);
                MUST(bnbq_linear_set_weight(&g_ex, &A[l], w, b));
                MUST(bnbq_linear_set_weight(&g_ex, &S[l], w, b));
                free(w); free(b);
            }
        } else {
            for (l = 0; l < 2; l++)
                worst_of(&cg, close_of(pa[l][0].acc, ps[l][0].acc, D * D, 0.04, 1.05));
        }
        free(xd); free(x);
    }
    CHECK(steps == 1, "%d optimizer steps", steps);
    snprintf(what, sizeof what, "weights after the step: most elements outside isclose(rtol "
             "1.05, atol 0.01) (worst |d| / tol %.3g)", cw.worst);
    BAR_LE(what, (double)cw.outside, 2.0);
    snprintf(what, sizeof what, "accumulated weight grads: most elements outside isclose(rtol "
             "1.05, atol 0.04) (worst |d| / tol %.3g)", cg.worst);
    BAR_LE(what, (double)cg.outside, 1.0);
    for (l = 0; l < 2; l++) {
        if (ok) { bnbq_linear_uninit(&g_ex, &A[l]); bnbq_linear_uninit(&g_ex, &S[l]); }
        adam_free(&pa[l][0]); adam_free(&pa[l][1]); adam_free(&ps[l][0]); adam_free(&ps[l][1]);
    }
    if (!ok) {   /* uninit of a layer whose init failed is a no-op on a zeroed struct */
        for (l = 0; l < 2; l++) { bnbq_linear_uninit(&g_ex, &A[l]); bnbq_linear_uninit(&g_ex, &S[l]); }
    }
    free(h8); free(hs); free(o); free(g); free(gh);
}

/* ==========================================================================================
   test_modules.py test_linear8bitlt_inference: Linear8bitLt(32 -> 64, has_fp16_weights=False,
   threshold 0 / 3) moved to the device and .half(): the weight is int8 and state.CB is set; 100
   eval forwards of randn(16, 8, 32). bnbq adds: no allocation after the first forward, f16
   outputs within 2 % relative L2 of the f16 layer before quantization, the outlier list valid. */
static void test_linear8bitlt_inference(void)
{
    const size_t T = 128, K = 32, N = 64;
    const int iters = g_quick ? 10 : 100;
    int ti;
    for (ti = 0; ti < 2; ti++) {
        bnbq_linear L;
        bnbq_linear_desc d = ldesc(BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F32, 11);
        double *W = uniform_d(N * K, 1.0 / sqrt((double)K)), *b = uniform_d(N, 1.0 / sqrt((double)K));
        double* ref = dnew(T * N);
        void* out = xmalloc(T * N * 2);
        double worst = 0.0;
        long before = 0;
        int it;
        char what[160];
        d.int8_weights = 1;
        d.threshold = ti ? 3.0f : 0.0f;
        if (!MAKE_LAYER(&L, &d, W, b)) { free(W); free(b); free(ref); free(out); continue; }
        MUST(bnbq_linear_quantize(&g_ex, &L));
        bnbq_linear_set_training(&L, 0);
        round_d(BNBQ_F16, W, N * K);
        round_d(BNBQ_F16, b, N);
        for (it = 0; it < iters; it++) {
            double* xd = randn_d(T * K, 1.0);
            void* x = to_dt(BNBQ_F16, xd, T * K);
            double *o, se = 0.0, sr = 0.0;
            size_t i;
            round_d(BNBQ_F16, xd, T * K);
            if (it == 1) before = g_allocs;
            MUST(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out));
            if (it == 1) CHECK(L.CB != NULL && L.SCB != NULL, "state.CB is set");
            mm_t(xd, W, b, T, N, K, ref);
            o = as_d(BNBQ_F16, out, T * N);
            for (i = 0; i < T * N; i++) { se += (o[i] - ref[i]) * (o[i] - ref[i]); sr += ref[i] * ref[i]; }
            if (sqrt(se / sr) > worst || se != se) worst = se != se ? HUGE_VAL : sqrt(se / sr);
            if (ti) CHECK(cols_ok(&L), "outlier columns");
            free(xd); free(x); free(o);
        }
        CHECK(L.CB && !L.weight && L.quantized, "thr %g: the weight is int8", (double)d.threshold);
        CHECK(g_allocs == before, "thr %g: %ld allocations in %d forwards after the first",
              (double)d.threshold, g_allocs - before, iters - 1);
        snprintf(what, sizeof what, "thr %g: relative L2 error vs the f16 layer, worst of %d "
                 "forwards (bnbq's bar)", (double)d.threshold, iters);
        BAR_LT(what, worst, 0.02);
        bnbq_linear_uninit(&g_ex, &L);
        free(W); free(b); free(ref); free(out);
    }
}

/* ==========================================================================================
   test_modules.py test_linear_kbit_fp32_bias: Linear8bitLt(int8 weights) / LinearNF4 (32 -> 64)
   created in float32 and moved to the device: the weight is int8 / packed uint8, the bias float32;
   after each of 100 forwards of f16 randn(16, 8, 32) the bias is f16 (bitsandbytes casts it to
   the input dtype); without a bias it stays None. bnbq adds: the f16 bias holds f16(the f32
   bias), and the forwards after the first allocate nothing. */
static void test_linear_kbit_fp32_bias(void)
{
    const size_t T = 128, K = 32, N = 64;
    const int iters = g_quick ? 10 : 100;
    int mi, bias;
    for (mi = 0; mi < 2; mi++)
        for (bias = 1; bias >= 0; bias--) {
            bnbq_linear L;
            bnbq_linear_desc d = ldesc(mi ? BNBQ_LINEAR_NF4 : BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F32, 11);
            double *W = uniform_d(N * K, 1.0 / sqrt((double)K)), *b = uniform_d(N, 1.0 / sqrt((double)K));
            void* out = xmalloc(T * N * 2);
            const char* nm = mi ? "NF4" : "Int8Lt";
            long before = 0;
            int it, cast_ok = 1;
            d.int8_weights = !mi;
            d.no_bias = !bias;
            if (!MAKE_LAYER(&L, &d, W, b)) { free(W); free(b); free(out); continue; }
            MUST(bnbq_linear_quantize(&g_ex, &L));
            CHECK(mi ? (L.packed != NULL) : (L.CB != NULL), "%s: quantized weight", nm);
            CHECK(bias ? (L.bias && L.bias_dtype == BNBQ_F32) : !L.bias,
                  "%s bias %d: before a forward the bias is %s", nm, bias,
                  L.bias ? bnbq_dtype_name(L.bias_dtype) : "NULL");
            for (it = 0; it < iters; it++) {
                double* xd = randn_d(T * K, 1.0);
                void* x = to_dt(BNBQ_F16, xd, T * K);
                if (it == 1) before = g_allocs;
                MUST(bnbq_linear_forward(&g_ex, &L, BNBQ_F16, x, T, out));
                if (bias ? !(L.bias && L.bias_dtype == BNBQ_F16) : L.bias != NULL) cast_ok = 0;
                free(xd); free(x);
            }
            CHECK(cast_ok, "%s bias %d: after f16 forwards the bias is %s", nm, bias,
                  L.bias ? bnbq_dtype_name(L.bias_dtype) : "NULL");
            if (bias && L.bias) {
                size_t i, bad = 0;
                for (i = 0; i < N; i++)
                    if (((const uint16_t*)L.bias)[i] != bnbq_f32_to_f16((float)b[i])) bad++;
                CHECK(bad == 0, "%s: %lu bias values are not f16(the f32 bias)", nm,
                      (unsigned long)bad);
                CHECK(L.grad_bias != NULL, "%s: no f16 grad_bias", nm);
            }
            CHECK(g_allocs == before, "%s bias %d: %ld allocations in the forwards after the "
                  "first", nm, bias, g_allocs - before);
            bnbq_linear_uninit(&g_ex, &L);
            free(W); free(b); free(out);
        }
}

/* ==========================================================================================
   test_modules.py test_4bit_linear_warnings: a Linear4bit with an f16 input and the default
   compute dtype warns, "... inference or training" for more than one row, "... inference." for
   one; two nets (10 rows, 1 row) give exactly 2 warnings in bitsandbytes. bnbq warns through the
   exec's logger on each layer's first forward (bitsandbytes' Python warnings also hide repeats
   process-wide, which C does not have): one layer of each kind -> exactly 2 warnings; a net of 10
   layers -> 10, and none on later forwards; none with a compute dtype set or an f32 / bf16
   first input (compute_type_is_set: a later f16 input does not warn either). */
static int warn_has(int i, const char* s) { return i < MAX_WARN && strstr(g_warn[i], s) != NULL; }
static void test_4bit_linear_warnings(void)
{
    const size_t D = 64;
    bnbq_linear net[10];
    bnbq_linear_desc d = ldesc(BNBQ_LINEAR_4BIT, D, D, BNBQ_F32, 11);
    double* xd = randn_d(10 * D, 1.0);
    void *x16 = to_dt(BNBQ_F16, xd, 10 * D), *x32 = to_dt(BNBQ_F32, xd, 10 * D);
    void *xb = to_dt(BNBQ_BF16, xd, 10 * D), *out = xmalloc(10 * D * 4);
    static const size_t k_rows[2] = { 10, 1 };
    size_t i, rows, ri;
    int n;
    d.quant_type = BNBQ_NF4;
    /* two layers: 10 rows, then 1 row */
    warn_reset();
    for (i = 0; i < 2; i++) {
        MUST(bnbq_linear_init(&g_ex, &net[i], &d));
        MUST(bnbq_linear_quantize(&g_ex, &net[i]));
        MUST(bnbq_linear_forward(&g_ex, &net[i], BNBQ_F16, x16, i ? 1 : 10, out));
    }
    CHECK(g_nwarn == 2 && g_nerr == 0, "two layers: %d warnings (want 2)", g_nwarn);
    CHECK(warn_has(0, "inference or training"), "10 rows: \"%s\"", g_warn[0]);
    CHECK(warn_has(1, "slow inference.") && !warn_has(1, "or training"), "1 row: \"%s\"",
          g_warn[1]);
    printf("#   (the warnings: \"%s\" / \"%s\")\n", g_warn[0], g_warn[1]);
    for (i = 0; i < 2; i++) {
        MUST(bnbq_linear_forward(&g_ex, &net[i], BNBQ_F16, x16, 10, out));
        MUST(bnbq_linear_forward(&g_ex, &net[i], BNBQ_F16, x16, 1, out));
        bnbq_linear_uninit(&g_ex, &net[i]);
    }
    CHECK(g_nwarn == 2, "later forwards warned again (%d)", g_nwarn);
    /* nets of 10 layers (the test's nn.Sequential): once per layer */
    for (ri = 0; ri < 2; ri++) {
        rows = k_rows[ri];
        warn_reset();
        for (i = 0; i < 10; i++) {
            MUST(bnbq_linear_init(&g_ex, &net[i], &d));
            MUST(bnbq_linear_quantize(&g_ex, &net[i]));
        }
        for (n = 0; n < 3; n++)
            for (i = 0; i < 10; i++)
                MUST(bnbq_linear_forward(&g_ex, &net[i], BNBQ_F16, x16, rows, out));
        CHECK(g_nwarn == 10, "a net of 10 layers, %lu rows, 3 passes: %d warnings (want 10)",
              (unsigned long)rows, g_nwarn);
        for (n = 0; n < g_nwarn && n < 10; n++)
            CHECK(rows > 1 ? warn_has(n, "inference or training")
                           : (warn_has(n, "inference.") && !warn_has(n, "or training")),
                  "%lu rows: \"%s\"", (unsigned long)rows, g_warn[n]);
        for (i = 0; i < 10; i++) bnbq_linear_uninit(&g_ex, &net[i]);
    }
    /* no warning: a compute dtype given (f32 too: compute_type_is_set), or an f32 / bf16 input
       first (a later f16 input then does not warn) */
    for (n = 0; n < 4; n++) {
        bnbq_linear_desc dn = d;
        warn_reset();
        if (n < 2) { dn.compute_dtype_set = 1; dn.compute_dtype = n ? BNBQ_F16 : BNBQ_F32; }
        MUST(bnbq_linear_init(&g_ex, &net[0], &dn));
        MUST(bnbq_linear_quantize(&g_ex, &net[0]));
        if (n == 2) MUST(bnbq_linear_forward(&g_ex, &net[0], BNBQ_F32, x32, 10, out));
        if (n == 3) MUST(bnbq_linear_forward(&g_ex, &net[0], BNBQ_BF16, xb, 10, out));
        MUST(bnbq_linear_forward(&g_ex, &net[0], BNBQ_F16, x16, 10, out));
        MUST(bnbq_linear_forward(&g_ex, &net[0], BNBQ_F16, x16, 1, out));
        CHECK(g_nwarn == 0, "case %d: %d warnings (want 0): \"%s\"", n, g_nwarn, g_warn[0]);
        bnbq_linear_uninit(&g_ex, &net[0]);
    }
    free(xd); free(x16); free(x32); free(xb); free(out);
}

/* ==========================================================================================
   test_autograd.py test_matmullt with bnb.matmul (Linear8bitLt's function), A (64, 32), B the
   weight (48, 32) (the transposed case), xavier-uniform B, threshold 0 / 6 (then 4 random columns
   of A set to 6.0), f16 / bf16 / f32, bias or not, 16-bit or int8 weights, 3 repetitions:
   out dtype == A's; at most n * (0.0175 f16, 0.021 otherwise) outside isclose(atol 0.01, rtol
   0.1) and 0.001 * n outside isclose(atol 0.035, rtol 0.2). With 16-bit weights and gradients
   (loss = mse(out, target) after the torch output is copied into the bnb one, so both backward
   passes get the same grad_out): gradA assert_close(atol 0.015, rtol 0.1); gradB nonzero, at most
   10 % outside isclose(atol 0.06, rtol 0.3), at most 2 % outside isclose(atol 0.10, rtol 0.3),
   assert_close(atol 0.18, rtol 0.3); grad bias assert_close with the dtype's default tolerances.
   The torch side is float64 rounded to the dtype at the points torch rounds (the product, then
   the bias add). bnbq's gradB is the intended int8 one (or 16-bit with weight_grad_16bit),
   not bitsandbytes' broken one (algorithms.md 5.6). dim2 = 0 (an empty A) is not representable. */
static void test_matmullt(void)
{
    const size_t M = 64, K = 32, N = 48, n = M * N;
    size_t di, i;
    int thr6, hb, w8, gw16, rep;
    for (di = 0; di < 3; di++)
        for (thr6 = 0; thr6 < 2; thr6++)
            for (w8 = 0; w8 < 2; w8++)
                for (gw16 = 0; gw16 < 2 - w8; gw16++) {
                    bnbq_dtype dt = k_dts[di];
                    closeness o1 = { 0, 0.0 }, o2 = { 0, 0.0 }, ga = { 0, 0.0 }, gb1 = { 0, 0.0 };
                    closeness gb2 = { 0, 0.0 }, gb3 = { 0, 0.0 }, gbias = { 0, 0.0 };
                    char what[240], cfg[80];
                    int zero_gradB = 0;
                    snprintf(cfg, sizeof cfg, "%s thr %d %s", dtn(dt), thr6 ? 6 : 0,
                             w8 ? "int8 weights" : gw16 ? "16-bit weights, 16-bit gradB"
                                                        : "16-bit weights, int8 gradB");
                    for (hb = 0; hb < 2; hb++)
                        for (rep = 0; rep < 3; rep++) {
                            bnbq_linear L;
                            bnbq_linear_desc d = ldesc(BNBQ_LINEAR_8BIT_LT, K, N, dt, 11);
                            double *A = randn_d(M * K, 1.0), *B = uniform_d(N * K, sqrt(6.0 / (double)(K + N)));
                            double *bias = randn_d(N, 1.0), *tgt = randn_d(n, 1.0);
                            double *ot = dnew(n), *ob, *g = dnew(n), *gA2 = dnew(M * K), *gB2 = dnew(N * K);
                            double *gbias2 = dnew(N), *gA1, *gB1, *gbias1;
                            void *Ax, *out = xmalloc(n * 4), *gx = xmalloc(M * K * 4), *gd;
                            size_t t, k, o;
                            if (thr6)
                                for (k = 0; k < K / 8; k++) {
                                    size_t c = (size_t)rng_int(&g_r, 0, (int)K - 1);
                                    for (t = 0; t < M; t++) A[t * K + c] = 6.0;
                                }
                            round_d(dt, A, M * K);
                            round_d(dt, B, N * K);
                            round_d(dt, bias, N);
                            round_d(dt, tgt, n);
                            Ax = to_dt(dt, A, M * K);
                            d.threshold = thr6 ? 6.0f : 0.0f;
                            d.no_bias = !hb;
                            d.int8_weights = w8;
                            d.weight_grad_16bit = gw16;
                            if (!MAKE_LAYER(&L, &d, B, bias)) {
                                free(A); free(B); free(bias); free(tgt); free(ot); free(g); free(gA2);
                                free(gB2); free(gbias2); free(Ax); free(out); free(gx);
                                continue;
                            }
                            if (w8) MUST(bnbq_linear_quantize(&g_ex, &L));   /* CB, SCB of f16(B) */
                            CHECK(bnbq_linear_output_dtype(&L, dt) == dt, "%s: output dtype", cfg);
                            MUST(bnbq_linear_forward(&g_ex, &L, dt, Ax, M, out));
                            mm_t(A, B, NULL, M, N, K, ot);
                            round_d(dt, ot, n);
                            if (hb) {
                                for (t = 0; t < M; t++)
                                    for (o = 0; o < N; o++) ot[t * N + o] += bias[o];
                                round_d(dt, ot, n);
                            }
                            ob = as_d(dt, out, n);
                            worst_of(&o1, close_of(ob, ot, n, 0.01, 0.1));
                            worst_of(&o2, close_of(ob, ot, n, 0.035, 0.2));
                            if (!w8) {
                                /* mse: grad_out = dt(2 (out_torch - target) / n) for both sides */
                                for (i = 0; i < n; i++) g[i] = 2.0 * (ot[i] - tgt[i]) / (double)n;
                                round_d(dt, g, n);
                                gd = to_dt(dt, g, n);
                                MUST(bnbq_linear_backward(&g_ex, &L, dt, Ax, M, gd, gx));
                                mm_n(g, B, M, N, K, gA2);
                                round_d(dt, gA2, M * K);
                                for (o = 0; o < N; o++)
                                    for (k = 0; k < K; k++) {
                                        double s = 0.0;
                                        for (t = 0; t < M; t++) s += g[t * N + o] * A[t * K + k];
                                        gB2[o * K + k] = s;
                                    }
                                round_d(dt, gB2, N * K);
                                gA1 = as_d(dt, gx, M * K);
                                gB1 = as_d(dt, L.grad_weight, N * K);
                                worst_of(&ga, close_of(gA1, gA2, M * K, 0.015, 0.1));
                                worst_of(&gb1, close_of(gB1, gB2, N * K, 0.06, 0.3));
                                worst_of(&gb2, close_of(gB1, gB2, N * K, 0.10, 0.3));
                                worst_of(&gb3, close_of(gB1, gB2, N * K, 0.18, 0.3));
                                {
                                    double s = 0.0;
                                    for (i = 0; i < N * K; i++) s += fabs(gB1[i]);
                                    if (!(s > 0.0)) zero_gradB = 1;
                                }
                                if (hb) {
                                    for (o = 0; o < N; o++) {
                                        double s = 0.0;
                                        for (t = 0; t < M; t++) s += g[t * N + o];
                                        gbias2[o] = s;
                                    }
                                    round_d(dt, gbias2, N);
                                    gbias1 = as_d(dt, L.grad_bias, N);
                                    worst_of(&gbias, close_of(gbias1, gbias2, N, k_def_atol, def_rtol(dt)));
                                    free(gbias1);
                                }
                                free(gd); free(gA1); free(gB1);
                            }
                            bnbq_linear_uninit(&g_ex, &L);
                            free(A); free(B); free(bias); free(tgt); free(ot); free(ob); free(g);
                            free(gA2); free(gB2); free(gbias2); free(Ax); free(out); free(gx);
                        }
                    snprintf(what, sizeof what, "%s: out, most elements outside isclose(atol 0.01,"
                             " rtol 0.1)", cfg);
                    BAR_LE(what, (double)o1.outside, (double)n * (dt == BNBQ_F16 ? 0.0175 : 0.021));
                    snprintf(what, sizeof what, "%s: out, most outside isclose(atol 0.035, rtol "
                             "0.2)", cfg);
                    BAR_LE(what, (double)o2.outside, 0.001 * (double)n);
                    if (w8) continue;
                    snprintf(what, sizeof what, "%s: gradA assert_close(atol 0.015, rtol 0.1) worst "
                             "|d| / tol", cfg);
                    BAR_LE(what, ga.worst, 1.0);
                    CHECK(!zero_gradB, "%s: gradB is zero", cfg);
                    snprintf(what, sizeof what, "%s: gradB, most outside isclose(atol 0.06, rtol "
                             "0.3)", cfg);
                    BAR_LE(what, (double)gb1.outside, 0.10 * (double)(N * K));
                    snprintf(what, sizeof what, "%s: gradB, most outside isclose(atol 0.10, rtol "
                             "0.3)", cfg);
                    BAR_LE(what, (double)gb2.outside, 0.02 * (double)(N * K));
                    snprintf(what, sizeof what, "%s: gradB assert_close(atol 0.18, rtol 0.3) worst "
                             "|d| / tol", cfg);
                    BAR_LE(what, gb3.worst, 1.0);
                    snprintf(what, sizeof what, "%s: grad bias assert_close(atol 1e-5, rtol %g) "
                             "worst |d| / tol", cfg, def_rtol(dt));
                    BAR_LE(what, gbias.worst, 1.0);
                }
}

/* ==========================================================================================
   test_ops.py op contracts, as API contracts: the sizes and dtypes each operation writes, and
   nothing past them (a guard of 64 bytes after every output). */
#define GUARD 64
static void* guarded(size_t bytes)
{
    unsigned char* p = (unsigned char*)xmalloc(bytes + GUARD);
    memset(p, 0xA5, bytes + GUARD);
    return p;
}
/* the guard after bytes is intact */
static int guard_ok(const void* p, size_t bytes)
{
    const unsigned char* q = (const unsigned char*)p + bytes;
    size_t i;
    for (i = 0; i < GUARD; i++)
        if (q[i] != 0xA5) return 0;
    return 1;
}
static void test_ops_contracts(void)
{
    size_t i, j, k;
    /* int8_linear_matmul: int32 [10, 30] from [10, 20] x [30, 20] */
    {
        int8_t A[200], B[600];
        int32_t* out = (int32_t*)guarded(300 * 4);
        size_t bad = 0;
        for (i = 0; i < 200; i++) A[i] = (int8_t)rng_int(&g_r, -128, 127);
        for (i = 0; i < 600; i++) B[i] = (int8_t)rng_int(&g_r, -128, 127);
        MUST(bnbq_int8_linear_matmul(NULL, A, B, 10, 30, 20, out));
        for (i = 0; i < 10; i++)
            for (j = 0; j < 30; j++) {
                int32_t s = 0;
                for (k = 0; k < 20; k++) s += (int32_t)A[i * 20 + k] * (int32_t)B[j * 20 + k];
                bad += out[i * 30 + j] != s;
            }
        CHECK(bad == 0 && guard_ok(out, 300 * 4), "int8_linear_matmul [10,30]: %lu wrong or past "
              "the end", (unsigned long)bad);
        free(out);
    }
    /* int8_vectorwise_quant on [10, 20] f16 with A[1][0] = 1000: int8 [10, 20], float32 [10],
       outlier columns 1-D of at most 20 with threshold 6 (column 0 among them); threshold 0:
       none (NULL buffers accepted, nothing written) */
    {
        double* ad = randn_d(200, 1.0);
        uint16_t* A;
        int8_t* CA = (int8_t*)guarded(200);
        float* rs = (float*)guarded(10 * 4);
        int32_t* cols = (int32_t*)guarded(20 * 4);
        int32_t* nc = (int32_t*)guarded(4);
        int has0 = 0;
        ad[1 * 20 + 0] = 1000.0;
        A = (uint16_t*)to_dt(BNBQ_F16, ad, 200);
        MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, A, 10, 20, 6.0f, CA, rs, cols, nc));
        CHECK(guard_ok(CA, 200) && guard_ok(rs, 40) && guard_ok(cols, 80) && guard_ok(nc, 4),
              "int8_vectorwise_quant wrote past [10,20] / [10] / [20] / [1]");
        CHECK(*nc >= 1 && *nc <= 20, "outlier count %d not in [1, 20]", (int)*nc);
        for (i = 0; i < (size_t)*nc && i < 20; i++) has0 |= cols[i] == 0;
        CHECK(has0, "column 0 (1000) is not an outlier column");
        CHECK(rs[1] < 6.0f, "row 1's stat %g includes the outlier", (double)rs[1]);
        memset(nc, 0xA5, 4);
        MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, A, 10, 20, 0.0f, CA, rs, NULL, NULL));
        MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, A, 10, 20, 0.0f, CA, rs, cols, nc));
        CHECK(guard_ok(nc, 0) && rs[1] == 1000.0f, "threshold 0: outliers written, or row stat %g",
              (double)rs[1]);
        /* int8_mm_dequant -> f16 [10, 30]; int8_scaled_mm (matmul + mm_dequant) in f16 / bf16 /
           f32 */
        {
            int8_t CB[600];
            float SCB[30];
            int32_t* acc = (int32_t*)xmalloc(300 * 4);
            size_t di;
            for (i = 0; i < 600; i++) CB[i] = (int8_t)rng_int(&g_r, -127, 127);
            for (i = 0; i < 30; i++) SCB[i] = 0.5f + (float)i;
            MUST(bnbq_int8_linear_matmul(NULL, CA, CB, 10, 30, 20, acc));
            for (di = 0; di < 3; di++) {
                bnbq_dtype dt = k_dts[di];
                void* out = guarded(300 * dts(dt));
                MUST(bnbq_int8_mm_dequant(NULL, dt, acc, rs, SCB, 10, 30, out, BNBQ_F16, NULL));
                CHECK(guard_ok(out, 300 * dts(dt)), "int8_mm_dequant (%s) wrote past [10,30]",
                      dtn(dt));
                free(out);
            }
            free(acc);
        }
        free(ad); free(A); free(CA); free(rs); free(cols); free(nc);
    }
    /* quantize_blockwise / dequantize_blockwise: uint8 codes (n), float32 absmax of ceil(n / bs);
       quantize_4bit: packed (n + 1) / 2 bytes; dequantize_4bit n values; gemv_4bit: N values in
       A's dtype */
    {
        const size_t nn = 1001;
        size_t nb = 0, np = 0, di;
        double* xd = randn_d(nn, 1.0);
        MUST(bnbq_blocks_size(nn, 64, &nb));
        MUST(bnbq_packed_4bit_size(nn, &np));
        CHECK(nb == (nn + 63) / 64 && np == (nn + 1) / 2, "sizes %lu %lu", (unsigned long)nb,
              (unsigned long)np);
        for (di = 0; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            void* x = to_dt(dt, xd, nn);
            uint8_t* q = (uint8_t*)guarded(nn);
            uint8_t* pk = (uint8_t*)guarded(np);
            float* am = (float*)guarded(nb * 4);
            void* back = guarded(nn * dts(dt));
            MUST(bnbq_quantize_blockwise(NULL, NULL, dt, x, nn, 64, q, am));
            CHECK(guard_ok(q, nn) && guard_ok(am, nb * 4), "%s quantize_blockwise past the end",
                  dtn(dt));
            MUST(bnbq_dequantize_blockwise(NULL, NULL, dt, q, am, nn, 64, back));
            CHECK(guard_ok(back, nn * dts(dt)), "%s dequantize_blockwise past the end", dtn(dt));
            MUST(bnbq_quantize_4bit(NULL, BNBQ_NF4, dt, x, nn, 64, pk, am));
            CHECK(guard_ok(pk, np) && guard_ok(am, nb * 4), "%s quantize_4bit past the end",
                  dtn(dt));
            MUST(bnbq_dequantize_4bit(NULL, BNBQ_NF4, dt, pk, am, nn, 64, back));
            CHECK(guard_ok(back, nn * dts(dt)), "%s dequantize_4bit past the end", dtn(dt));
            free(x); free(q); free(pk); free(am); free(back);
        }
        for (di = 0; di < 3; di++) {   /* gemv_4bit: W (48, 64), A (64,) -> out (48,) in dt */
            bnbq_dtype dt = k_dts[di];
            double* wd = randn_d(48 * 64, 0.1);
            void *w = to_dt(dt, wd, 48 * 64), *a = to_dt(dt, xd, 64), *out = guarded(48 * dts(dt));
            uint8_t* pk = (uint8_t*)xmalloc(48 * 32);
            float am[48];
            MUST(bnbq_quantize_4bit(NULL, BNBQ_FP4, dt, w, 48 * 64, 64, pk, am));
            MUST(bnbq_gemv_4bit(NULL, BNBQ_FP4, dt, a, pk, am, 48, 64, 64, out, NULL, NULL));
            CHECK(guard_ok(out, 48 * dts(dt)), "%s gemv_4bit wrote past (48,)", dtn(dt));
            free(wd); free(w); free(a); free(out); free(pk);
        }
        free(xd);
    }
}

/* ------------------------------------------------------------------------------------------ */
static const uu_test k_tests[] = {
    { "linear_no_igemmlt", test_linear_no_igemmlt },
    { "fp8linear", test_fp8linear },
    { "kbit_backprop", test_kbit_backprop },
    { "linear8bitlt_no_fp16_weights", test_linear8bitlt_no_fp16_weights },
    { "linear8bitlt_accumulated_gradient", test_linear8bitlt_accumulated_gradient },
    { "linear8bitlt_inference", test_linear8bitlt_inference },
    { "linear_kbit_fp32_bias", test_linear_kbit_fp32_bias },
    { "4bit_linear_warnings", test_4bit_linear_warnings },
    { "matmullt", test_matmullt },
    { "ops_contracts", test_ops_contracts },
};

int main(int argc, char** argv)
{
    bnbq_cpu_desc cd;
    int rc;
    memset(&cd, 0, sizeof cd);
    cd.allocator.alloc_fn = count_alloc;
    cd.allocator.free_fn = count_free;
    cd.logger.func = warn_logger;
    if (bnbq_cpu_exec_init(&g_ex, &cd) != BNBQ_SUCCESS) {
        printf("FAIL setup\n0 passed, 1 failed\n");
        return 1;
    }
    g_r = rng_make(20261121);
    rc = uu_main(argc, argv, k_tests, sizeof k_tests / sizeof k_tests[0]);
    bnbq_exec_uninit(&g_ex);
    return rc;
}
