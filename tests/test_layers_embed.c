/* test_layers_embed.c - the embeddings of bnbq.h (Embedding, StableEmbedding, Embedding4bit /
   FP4 / NF4, Embedding8bit) on the CPU: the bars of spec/tests.md (StableEmbedding(1024, 1024)
   init, test_embedding_lossless, test_embedding_error, the 4-bit dim-65 warning), forward
   against float64 references, backward against finite differences, padding / scale_grad_by_freq
   / max_norm, the quantized tables against the functional ops, the steady state without
   allocation, and bad input for every function.

   Build:  make build/test_layers_embed     Run: ./build/test_layers_embed [--quick] [substr...] */
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq.h"
#include "unit_util.h"

static bnbq_embedding_desc mkdesc(bnbq_embedding_kind kind, size_t num, size_t dim,
                                  bnbq_dtype dt)
{
    bnbq_embedding_desc d;
    memset(&d, 0, sizeof d);
    d.kind = kind; d.num_embeddings = num; d.embedding_dim = dim; d.dtype = dt; d.seed = 42;
    return d;
}

/* a desc that must init; returns 0 (and records a failure) otherwise */
static int init_ok(bnbq_exec* ex, bnbq_embedding* e, const bnbq_embedding_desc* d, int line)
{
    bnbq_result r = bnbq_embedding_init(ex, e, d);
    check_impl(r == BNBQ_SUCCESS, line, "bnbq_embedding_init (kind %d) returned %s", (int)d->kind,
               RC(r));
    return r == BNBQ_SUCCESS;
}
#define INIT_OK(ex, e, d) init_ok((ex), (e), (d), __LINE__)

static int32_t* rand_idx(rng* r, size_t count, size_t num)
{
    size_t i;
    int32_t* idx = (int32_t*)xmalloc(count * 4);
    for (i = 0; i < count; i++) idx[i] = rng_int(r, 0, (int)num - 1);
    return idx;
}

/* ------------------------------------------------------------------------------------------ */

static void test_init(void)
{
    static const bnbq_embedding_kind kinds[6] = { BNBQ_EMBEDDING, BNBQ_EMBEDDING_STABLE,
        BNBQ_EMBEDDING_4BIT, BNBQ_EMBEDDING_FP4, BNBQ_EMBEDDING_NF4, BNBQ_EMBEDDING_8BIT };
    size_t num = 50, dim = 64, n = num * dim, i, ki;
    for (ki = 0; ki < 6; ki++) {
        bnbq_embedding e, e2;
        bnbq_embedding_desc d = mkdesc(kinds[ki], num, dim, BNBQ_F32);
        int trainable = ki < 2;
        double s = 0.0, v = 0.0, a = sqrt(6.0 / (double)(num + dim)), mx = 0.0;
        const float* w;
        if (!INIT_OK(&g_logex, &e, &d)) continue;
        w = (const float*)e.weight;
        CHECK(e.optim_bits == (trainable ? 32 : 0), "kind %d optim_bits %d", (int)ki, e.optim_bits);
        CHECK(e.padding_row == -1 && e.desc.norm_type == 2.0f && e.desc.dtype == BNBQ_F32 &&
              !e.quantized, "kind %d resolved fields", (int)ki);
        CHECK(e.blocksize == ((ki >= 2 && ki <= 4) ? 64 : 0), "kind %d blocksize %d", (int)ki,
              e.blocksize);
        CHECK((e.grad_weight != NULL) == trainable, "kind %d grad_weight", (int)ki);
        CHECK((e.norm_weight != NULL) == (ki == 1) && (e.norm_bias != NULL) == (ki == 1) &&
              (e.grad_norm_weight != NULL) == (ki == 1) && (e.grad_norm_bias != NULL) == (ki == 1),
              "kind %d norm parameters", (int)ki);
        for (i = 0; i < n; i++) { s += w[i]; v += (double)w[i] * w[i]; mx = fmax(mx, fabs(w[i])); }
        s /= (double)n; v = v / (double)n - s * s;
        if (trainable) {
            /* Xavier-uniform: |w| <= a, variance a^2 / 3 */
            CHECK(mx <= a && mx > 0.9 * a && fabs(s) < 0.05 * a && fabs(v / (a * a / 3) - 1) < 0.1,
                  "Xavier init: max %g (a %g) mean %g var %g (want %g)", mx, a, s, v, a * a / 3);
            if (e.grad_weight) {
                size_t nz = 0;
                for (i = 0; i < n; i++) nz += ((const float*)e.grad_weight)[i] != 0.0f;
                CHECK(nz == 0, "grad_weight not zero at init");
            }
        } else {
            /* nn.Embedding's N(0, 1) */
            CHECK(fabs(s) < 0.06 && fabs(v - 1.0) < 0.08, "N(0,1) init: mean %g var %g", s, v);
        }
        if (ki == 1) {
            size_t bad = 0;
            for (i = 0; i < dim; i++)
                bad += e.norm_weight[i] != 1.0f || e.norm_bias[i] != 0.0f ||
                       e.grad_norm_weight[i] != 0.0f || e.grad_norm_bias[i] != 0.0f;
            CHECK(bad == 0, "StableEmbedding norm: weight 1, bias 0, gradients 0");
        }
        /* deterministic: the same seed gives the same table, another seed another */
        if (INIT_OK(NULL, &e2, &d)) {
            CHECK(memcmp(e.weight, e2.weight, n * 4) == 0, "kind %d: same seed, other table", (int)ki);
            bnbq_embedding_uninit(NULL, &e2);
        }
        d.seed = 43;
        if (INIT_OK(NULL, &e2, &d)) {
            CHECK(memcmp(e.weight, e2.weight, n * 4) != 0, "kind %d: seed ignored", (int)ki);
            bnbq_embedding_uninit(NULL, &e2);
        }
        /* F16 / BF16: the same draws rounded once */
        d.seed = 42;
        for (i = 1; i < 3; i++) {
            bnbq_dtype dt = k_dts[i];
            size_t j, bad = 0;
            d.dtype = dt;
            if (!INIT_OK(NULL, &e2, &d)) continue;
            for (j = 0; j < n; j++) bad += bits_at(dt, e2.weight, j) != bits_of(dt, w[j]);
            CHECK(bad == 0, "kind %d %s init: %lu values are not the f32 draws rounded", (int)ki,
                  dtn(dt), (unsigned long)bad);
            bnbq_embedding_uninit(NULL, &e2);
        }
        bnbq_embedding_uninit(&g_logex, &e);
        CHECK(e.weight == NULL && e.work == NULL && e.desc.num_embeddings == 0, "uninit zeroes");
    }
    /* quant_type resolution */
    {
        bnbq_embedding e;
        bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING_4BIT, 4, 64, BNBQ_F32);
        if (INIT_OK(NULL, &e, &d)) { CHECK(e.desc.quant_type == BNBQ_FP4, "4bit default FP4"); bnbq_embedding_uninit(NULL, &e); }
        d.quant_type = BNBQ_NF4;
        if (INIT_OK(NULL, &e, &d)) { CHECK(e.desc.quant_type == BNBQ_NF4, "4bit NF4"); bnbq_embedding_uninit(NULL, &e); }
        d.kind = BNBQ_EMBEDDING_FP4;
        if (INIT_OK(NULL, &e, &d)) { CHECK(e.desc.quant_type == BNBQ_FP4, "EmbeddingFP4 is FP4"); bnbq_embedding_uninit(NULL, &e); }
        d.kind = BNBQ_EMBEDDING_NF4; d.quant_type = BNBQ_AF4;   /* ignored by the fixed kinds */
        if (INIT_OK(NULL, &e, &d)) { CHECK(e.desc.quant_type == BNBQ_NF4, "EmbeddingNF4 is NF4"); bnbq_embedding_uninit(NULL, &e); }
    }
    /* padding_idx: negative counts from the end; the row is zeroed (Embedding / Stable) */
    {
        static const int64_t pads[3] = { 0, 7, -1 };
        size_t pi, ki2;
        for (ki2 = 0; ki2 < 2; ki2++)
            for (pi = 0; pi < 3; pi++) {
                bnbq_embedding e;
                bnbq_embedding_desc d = mkdesc(kinds[ki2], 10, 5, BNBQ_BF16);
                int64_t want = pads[pi] < 0 ? 10 + pads[pi] : pads[pi];
                size_t nz = 0, j;
                d.padding_idx_set = 1; d.padding_idx = pads[pi];
                if (!INIT_OK(NULL, &e, &d)) continue;
                CHECK(e.padding_row == want && e.desc.padding_idx == want, "padding %ld -> %ld",
                      (long)pads[pi], (long)e.padding_row);
                for (j = 0; j < 5; j++) nz += ((uint16_t*)e.weight)[(size_t)want * 5 + j] != 0;
                CHECK(nz == 0, "padding row %ld not zeroed", (long)want);
                nz = 0;
                for (j = 0; j < 50; j++) nz += ((uint16_t*)e.weight)[j] != 0;
                CHECK(nz >= 40, "the other rows are not initialised");
                bnbq_embedding_uninit(NULL, &e);
            }
    }
}

/* spec/tests.md test_stable_embedding: StableEmbedding(1024, 1024).reset_parameters() runs */
static void test_stable_embedding_1024(void)
{
    bnbq_embedding e;
    bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING_STABLE, 1024, 1024, BNBQ_F32);
    if (!INIT_OK(&g_logex, &e, &d)) return;
    CHECK(e.weight && e.norm_weight && e.norm_bias && e.optim_bits == 32, "StableEmbedding(1024, 1024)");
    CHECK(fabs(((float*)e.weight)[12345]) <= sqrt(6.0 / 2048.0), "Xavier bound");
    bnbq_embedding_uninit(&g_logex, &e);
}

/* ------------------------------------------------------------------------------------------ */
/* forward                                                                                    */

static void test_embedding_forward(void)
{
    rng r = rng_make(1);
    size_t num = 33, dim = 24, di, ci;
    static const size_t counts[3] = { 1, 100, 7 };
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        bnbq_embedding e;
        bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING, num, dim, dt);
        if (!INIT_OK(&g_logex, &e, &d)) continue;
        for (ci = 0; ci < 3; ci++) {
            size_t count = counts[ci], i, bad = 0, es = dts(dt);
            int32_t* idx = rand_idx(&r, count, num);
            void* out = xmalloc(count * dim * es);
            idx[0] = (int32_t)num - 1;
            MUST(bnbq_embedding_forward(ci ? &g_logex : NULL, &e, idx, count, out));
            for (i = 0; i < count; i++)
                bad += memcmp((char*)out + i * dim * es, (char*)e.weight + (size_t)idx[i] * dim * es,
                              dim * es) != 0;
            CHECK(bad == 0, "Embedding %s count %lu: %lu rows are not the weight rows", dtn(dt),
                  (unsigned long)count, (unsigned long)bad);
            free(idx); free(out);
        }
        bnbq_embedding_uninit(&g_logex, &e);
    }
}

/* StableEmbedding forward vs float64: LN(rows) * gamma + beta, rounded to dt */
static void test_stable_forward(void)
{
    rng r = rng_make(2);
    size_t num = 40, dim = 48, count = 60, di;
    for (di = 0; di < 3; di++) {
        bnbq_dtype dt = k_dts[di];
        bnbq_embedding e;
        bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING_STABLE, num, dim, dt);
        int32_t* idx = rand_idx(&r, count, num);
        void* out = xmalloc(count * dim * 4);
        size_t i, j, bad = 0, pass;
        double maxerr = 0.0;
        if (!INIT_OK(&g_logex, &e, &d)) { free(idx); free(out); continue; }
        for (pass = 0; pass < 2; pass++) {
            bad = 0;
            if (pass == 1)   /* trained norm parameters */
                for (j = 0; j < dim; j++) {
                    e.norm_weight[j] = rng_range(&r, 0.5f, 1.5f);
                    e.norm_bias[j] = rng_range(&r, -0.5f, 0.5f);
                }
            MUST(bnbq_embedding_forward(pass ? &g_logex : NULL, &e, idx, count, out));
            for (i = 0; i < count; i++) {
                double x[64], mean = 0.0, var = 0.0, rstd;
                for (j = 0; j < dim; j++) { x[j] = ld(dt, e.weight, (size_t)idx[i] * dim + j); mean += x[j]; }
                mean /= (double)dim;
                for (j = 0; j < dim; j++) var += (x[j] - mean) * (x[j] - mean);
                var /= (double)dim;
                rstd = 1.0 / sqrt(var + 1e-5);
                for (j = 0; j < dim; j++) {
                    double y = (x[j] - mean) * rstd * e.norm_weight[j] + e.norm_bias[j];
                    double err = fabs(ld(dt, out, i * dim + j) - y);
                    if (err > 0.5 * ulp_dt(dt, y) + 4e-7 * fabs(y) + 1e-12) bad++;
                    if (err > maxerr) maxerr = err;
                }
            }
            CHECK(bad == 0, "StableEmbedding %s pass %lu: %lu values off the float64 reference "
                  "(max error %g)", dtn(dt), (unsigned long)pass, (unsigned long)bad, maxerr);
        }
        bnbq_embedding_uninit(&g_logex, &e);
        free(idx); free(out);
    }
}

/* max_norm: looked-up rows renormalised in the weight before the gather */
static void test_max_norm(void)
{
    rng r = rng_make(3);
    size_t num = 30, dim = 16, count = 20, ki, ni, i, j, row;
    static const float ptypes[4] = { 0.0f, 1.0f, 3.0f, INFINITY };   /* 0 = default 2.0 */
    for (ki = 0; ki < 2; ki++)
        for (ni = 0; ni < 4; ni++) {
            bnbq_embedding e;
            bnbq_embedding_desc d = mkdesc(ki ? BNBQ_EMBEDDING_STABLE : BNBQ_EMBEDDING, num, dim,
                                           BNBQ_F32);
            float* w0 = (float*)xmalloc(num * dim * 4);
            float* out = (float*)xmalloc(count * dim * 4);
            int32_t* idx = rand_idx(&r, count, num);
            double p = ptypes[ni] == 0.0f ? 2.0 : ptypes[ni];
            size_t bad_norm = 0, bad_untouched = 0, bad_out = 0;
            d.max_norm = 0.3f; d.norm_type = ptypes[ni];
            if (!INIT_OK(&g_logex, &e, &d)) { free(w0); free(out); free(idx); continue; }
            /* row 3: small enough to stay */
            for (j = 0; j < dim; j++) ((float*)e.weight)[3 * dim + j] = 0.001f;
            idx[0] = idx[1] = 3;
            memcpy(w0, e.weight, num * dim * 4);
            MUST(bnbq_embedding_forward(&g_logex, &e, idx, count, out));
            for (row = 0; row < num; row++) {
                int looked = 0;
                double n0 = 0.0, n1 = 0.0;
                for (i = 0; i < count; i++) looked |= (size_t)idx[i] == row;
                for (j = 0; j < dim; j++) {
                    double a0 = fabs(w0[row * dim + j]), a1 = fabs(((float*)e.weight)[row * dim + j]);
                    if (isinf(p)) { n0 = fmax(n0, a0); n1 = fmax(n1, a1); }
                    else { n0 += pow(a0, p); n1 += pow(a1, p); }
                }
                if (!isinf(p)) { n0 = pow(n0, 1.0 / p); n1 = pow(n1, 1.0 / p); }
                if (!looked || n0 <= 0.3) {
                    bad_untouched += memcmp(w0 + row * dim, (float*)e.weight + row * dim, dim * 4) != 0;
                } else {
                    if (n1 > 0.3 * (1 + 1e-6) || n1 < 0.3 * (1 - 1e-5)) bad_norm++;
                }
            }
            if (ki == 0)
                for (i = 0; i < count; i++)
                    bad_out += memcmp(out + i * dim, (float*)e.weight + (size_t)idx[i] * dim, dim * 4) != 0;
            CHECK(bad_norm == 0 && bad_untouched == 0 && bad_out == 0,
                  "max_norm kind %lu p %g: %lu rows not at max_norm, %lu rows changed that should "
                  "not, %lu output rows not the renormed rows", (unsigned long)ki, p,
                  (unsigned long)bad_norm, (unsigned long)bad_untouched, (unsigned long)bad_out);
            bnbq_embedding_uninit(&g_logex, &e);
            free(w0); free(out); free(idx);
        }
}

/* ------------------------------------------------------------------------------------------ */
/* backward                                                                                   */

/* L = sum(G * forward(idx)) in double (F32 embeddings) */
static double loss_of(bnbq_embedding* e, const int32_t* idx, size_t count, const float* G,
                      float* out)
{
    size_t i;
    double L = 0.0;
    bnbq_result r = bnbq_embedding_forward(NULL, e, idx, count, out);
    if (r != BNBQ_SUCCESS) return NAN;
    for (i = 0; i < count * e->desc.embedding_dim; i++) L += (double)G[i] * out[i];
    return L;
}

/* finite differences of every weight element (and the norm's parameters) against the backward */
static void fd_check(bnbq_embedding_kind kind, int pad, int freq)
{
    rng r = rng_make(4 + (uint64_t)pad * 2 + (uint64_t)freq);
    size_t num = 9, dim = 6, count = 14, i, j, k;
    bnbq_embedding e;
    bnbq_embedding_desc d = mkdesc(kind, num, dim, BNBQ_F32);
    int32_t idx[14] = { 0, 2, 2, 5, 1, 8, 2, 5, 3, 4, 4, 1, 0, 6 };   /* row 7 never looked up */
    float G[14 * 6], out[14 * 6];
    float* gw;
    double h = kind == BNBQ_EMBEDDING ? 1e-2 : 1e-2, maxerr = 0.0;
    size_t cnt[9] = { 0 };
    (void)r;
    d.padding_idx_set = pad; d.padding_idx = 5;
    d.scale_grad_by_freq = freq;
    if (!INIT_OK(NULL, &e, &d)) return;
    for (i = 0; i < count * dim; i++) G[i] = (float)rng_normal(&r);
    for (i = 0; i < count; i++) cnt[idx[i]]++;
    if (kind == BNBQ_EMBEDDING_STABLE)
        for (j = 0; j < dim; j++) {
            e.norm_weight[j] = rng_range(&r, 0.5f, 1.5f);
            e.norm_bias[j] = rng_range(&r, -0.5f, 0.5f);
        }
    /* garbage in the gradients: the backward overwrites */
    memset(e.grad_weight, 0x41, num * dim * 4);
    if (e.grad_norm_weight) { memset(e.grad_norm_weight, 0x41, dim * 4); memset(e.grad_norm_bias, 0x41, dim * 4); }
    MUST(bnbq_embedding_backward(&g_logex, &e, idx, count, G));
    gw = (float*)e.grad_weight;
    for (k = 0; k < num * dim; k++) {
        float* w = (float*)e.weight;
        float save = w[k];
        double Lp, Lm, num_g, err;
        size_t row = k / dim;
        w[k] = (float)(save + h); Lp = loss_of(&e, idx, count, G, out);
        w[k] = (float)(save - h); Lm = loss_of(&e, idx, count, G, out);
        w[k] = save;
        num_g = (Lp - Lm) / ((double)(float)(save + h) - (double)(float)(save - h));
        if (pad && row == 5) num_g = 0.0;             /* the padding row gets no gradient */
        else if (freq && cnt[row]) num_g /= (double)cnt[row];
        err = fabs(num_g - gw[k]) / (1.0 + fabs(num_g));
        if (err > maxerr) maxerr = err;
    }
    CHECK(maxerr < 2e-3, "%s pad%d freq%d: grad_weight vs finite differences: max rel error %g",
          kind == BNBQ_EMBEDDING ? "Embedding" : "StableEmbedding", pad, freq, maxerr);
    for (j = 0; j < dim; j++) CHECK(gw[7 * dim + j] == 0.0f, "row 7 (never looked up) gradient");
    if (kind == BNBQ_EMBEDDING_STABLE) {
        maxerr = 0.0;
        for (j = 0; j < 2 * dim; j++) {
            float* p = j < dim ? &e.norm_weight[j] : &e.norm_bias[j - dim];
            float ana = j < dim ? e.grad_norm_weight[j] : e.grad_norm_bias[j - dim];
            float save = *p;
            double Lp, Lm, num_g;
            *p = (float)(save + h); Lp = loss_of(&e, idx, count, G, out);
            *p = (float)(save - h); Lm = loss_of(&e, idx, count, G, out);
            *p = save;
            num_g = (Lp - Lm) / ((double)(float)(save + h) - (double)(float)(save - h));
            maxerr = fmax(maxerr, fabs(num_g - ana) / (1.0 + fabs(num_g)));
        }
        CHECK(maxerr < 2e-3, "StableEmbedding pad%d freq%d: norm gradients vs finite differences: "
              "max rel error %g", pad, freq, maxerr);
    }
    bnbq_embedding_uninit(NULL, &e);
}

static void test_embedding_backward(void)
{
    int pad, freq;
    for (pad = 0; pad < 2; pad++)
        for (freq = 0; freq < 2; freq++) fd_check(BNBQ_EMBEDDING, pad, freq);
    /* the exact sums, F16 / BF16, and overwrite (not accumulate) on a second call */
    {
        rng r = rng_make(9);
        size_t num = 12, dim = 5, count = 30, di, i, j, row;
        for (di = 0; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            bnbq_embedding e;
            bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING, num, dim, dt);
            int32_t* idx = rand_idx(&r, count, num);
            void* G = rand_dt(&r, dt, count * dim, 1.0f);
            int call;
            d.padding_idx_set = 1; d.padding_idx = -2;   /* row 10 */
            if (!INIT_OK(&g_logex, &e, &d)) { free(idx); free(G); continue; }
            for (call = 0; call < 2; call++) {
                size_t bad = 0;
                MUST(bnbq_embedding_backward(&g_logex, &e, idx, count, G));
                for (row = 0; row < num; row++)
                    for (j = 0; j < dim; j++) {
                        double s = 0.0;
                        for (i = 0; i < count; i++)
                            if ((size_t)idx[i] == row) s += ld(dt, G, i * dim + j);
                        if (row == 10) s = 0.0;
                        bad += bits_at(dt, e.grad_weight, row * dim + j) != bits_of(dt, (float)s);
                    }
                CHECK(bad == 0, "Embedding %s backward call %d: %lu gradients wrong", dtn(dt),
                      call, (unsigned long)bad);
            }
            bnbq_embedding_uninit(&g_logex, &e);
            free(idx); free(G);
        }
    }
}

static void test_stable_backward(void)
{
    int pad, freq;
    for (pad = 0; pad < 2; pad++)
        for (freq = 0; freq < 2; freq++) fd_check(BNBQ_EMBEDDING_STABLE, pad, freq);
    /* F16 / BF16 gradients follow the F32 ones (inputs rounded to dt) */
    {
        rng r = rng_make(10);
        size_t num = 16, dim = 32, count = 40, di, i;
        for (di = 1; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            bnbq_embedding e, ef;
            bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING_STABLE, num, dim, dt);
            bnbq_embedding_desc df = mkdesc(BNBQ_EMBEDDING_STABLE, num, dim, BNBQ_F32);
            int32_t* idx = rand_idx(&r, count, num);
            void* G = rand_dt(&r, dt, count * dim, 1.0f);
            float* Gf = (float*)xmalloc(count * dim * 4);
            float* wf = (float*)xmalloc(num * dim * 4);
            double maxerr = 0.0, scale = 0.0;
            if (!INIT_OK(NULL, &e, &d)) continue;
            if (!INIT_OK(NULL, &ef, &df)) { bnbq_embedding_uninit(NULL, &e); continue; }
            for (i = 0; i < count * dim; i++) Gf[i] = ld(dt, G, i);
            for (i = 0; i < num * dim; i++) wf[i] = ld(dt, e.weight, i);
            MUST(bnbq_embedding_set_weight(NULL, &ef, wf));
            MUST(bnbq_embedding_backward(NULL, &e, idx, count, G));
            MUST(bnbq_embedding_backward(NULL, &ef, idx, count, Gf));
            for (i = 0; i < num * dim; i++) {
                maxerr = fmax(maxerr, fabs(ld(dt, e.grad_weight, i) - ((float*)ef.grad_weight)[i]));
                scale = fmax(scale, fabs(((float*)ef.grad_weight)[i]));
            }
            for (i = 0; i < dim; i++) {
                maxerr = fmax(maxerr, fabs(e.grad_norm_weight[i] - ef.grad_norm_weight[i]));
                maxerr = fmax(maxerr, fabs(e.grad_norm_bias[i] - ef.grad_norm_bias[i]));
            }
            CHECK(maxerr <= 2 * ulp_dt(dt, scale) * 4, "StableEmbedding %s backward vs f32: max "
                  "error %g (scale %g)", dtn(dt), maxerr, scale);
            bnbq_embedding_uninit(NULL, &e); bnbq_embedding_uninit(NULL, &ef);
            free(idx); free(G); free(Gf); free(wf);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* quantized embeddings                                                                       */

static const bnbq_embedding_kind k_qkinds[4] = { BNBQ_EMBEDDING_8BIT, BNBQ_EMBEDDING_FP4,
                                                 BNBQ_EMBEDDING_NF4, BNBQ_EMBEDDING_4BIT };
static const char* qname(bnbq_embedding_kind k, bnbq_quant_type qt)
{
    if (k == BNBQ_EMBEDDING_8BIT) return "Embedding8bit";
    if (k == BNBQ_EMBEDDING_FP4) return "EmbeddingFP4";
    if (k == BNBQ_EMBEDDING_NF4) return "EmbeddingNF4";
    return qt == BNBQ_NF4 ? "Embedding4bit(nf4)" : "Embedding4bit(fp4)";
}

/* spec/tests.md test_embedding_lossless: weights in {-1, +1} are reproduced exactly (num 128,
   dim 64 / 65, 10 / 100 / 1000 lookups), and test_embedding_error: rand [0, 1) weights within
   0.05 (8-bit) / 0.20 (4-bit) */
static void test_quantized_lossless_and_error(void)
{
    static const size_t dims[2] = { 64, 65 };
    static const size_t counts[3] = { 10, 100, 1000 };
    rng r = rng_make(5);
    size_t ki, dmi, di, ci, i, j, num = 128;
    int test_kind;
    for (test_kind = 0; test_kind < 2; test_kind++)
        for (ki = 0; ki < 5; ki++)
            for (dmi = 0; dmi < 2; dmi++)
                for (di = 0; di < 3; di++) {
                    bnbq_dtype dt = k_dts[di];
                    size_t dim = dims[dmi], es = dts(dt);
                    bnbq_embedding e;
                    bnbq_embedding_desc d = mkdesc(k_qkinds[ki < 4 ? ki : 3], num, dim, dt);
                    void* w = xmalloc(num * dim * es);
                    double tol = test_kind == 0 ? 0.0 : (ki == 0 ? 0.05 : 0.20), maxerr = 0.0;
                    if (ki == 4) d.quant_type = BNBQ_NF4;
                    if (test_kind == 1 && di != 0) { free(w); continue; }   /* bnb: float32 */
                    for (i = 0; i < num * dim; i++)
                        st(dt, w, i, test_kind == 0 ? ((rng_u64(&r) & 1) ? 1.0f : -1.0f)
                                                    : (float)rng_uniform(&r));
                    if (!INIT_OK(NULL, &e, &d)) { free(w); continue; }
                    MUST(bnbq_embedding_set_weight(NULL, &e, w));
                    MUST(bnbq_embedding_quantize(&g_logex, &e));
                    for (ci = 0; ci < 3; ci++) {
                        size_t count = counts[ci];
                        int32_t* idx = rand_idx(&r, count, num);
                        void* out = xmalloc(count * dim * es);
                        MUST(bnbq_embedding_forward(ci == 1 ? &g_logex : NULL, &e, idx, count, out));
                        for (i = 0; i < count; i++)
                            for (j = 0; j < dim; j++)
                                maxerr = fmax(maxerr, fabs(ld(dt, out, i * dim + j) -
                                                           ld(dt, w, (size_t)idx[i] * dim + j)));
                        free(idx); free(out);
                    }
                    CHECK(maxerr <= tol, "%s %s dim %lu %s: max error %g (bar %g)",
                          test_kind ? "error" : "lossless", qname(d.kind, d.quant_type),
                          (unsigned long)dim, dtn(dt), maxerr, tol);
                    bnbq_embedding_uninit(NULL, &e);
                    free(w);
                }
}

/* The quantized tables are the functional ops' outputs; the lookups are their rows */
static void test_quantized_tables(void)
{
    static const size_t dims[3] = { 64, 65, 100 };
    rng r = rng_make(6);
    size_t ki, dmi, di, i, j, num = 37, count = 50;
    for (ki = 0; ki < 4; ki++)
        for (dmi = 0; dmi < 3; dmi++)
            for (di = 0; di < 3; di++) {
                bnbq_dtype dt = k_dts[di];
                size_t dim = dims[dmi], n = num * dim, es = dts(dt), bad = 0, badq = 0;
                bnbq_embedding e;
                bnbq_embedding_desc d = mkdesc(k_qkinds[ki], num, dim, dt);
                void* w = rand_dt(&r, dt, n, 0.7f);
                int32_t* idx = rand_idx(&r, count, num);
                void* out = xmalloc(count * dim * es);
                if (ki == 3) d.quant_type = BNBQ_NF4;
                if (!INIT_OK(NULL, &e, &d)) { free(w); free(idx); free(out); continue; }
                MUST(bnbq_embedding_set_weight(NULL, &e, w));
                MUST(bnbq_embedding_quantize(NULL, &e));
                CHECK(e.quantized && e.weight == NULL, "quantize frees the float table");
                MUST(bnbq_embedding_forward(NULL, &e, idx, count, out));
                if (ki == 0) {
                    /* Int8Params: f16 first, then row-wise int8 with threshold 0 */
                    uint16_t* h = (uint16_t*)xmalloc(n * 2);
                    int8_t* CB = (int8_t*)xmalloc(n);
                    float* SCB = (float*)xmalloc(num * 4);
                    for (i = 0; i < n; i++) h[i] = bnbq_f32_to_f16(ld(dt, w, i));
                    MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, h, num, dim, 0.0f, CB, SCB, NULL, NULL));
                    badq = memcmp(CB, e.CB, n) != 0 || memcmp(SCB, e.SCB, num * 4) != 0;
                    for (i = 0; i < count; i++)
                        for (j = 0; j < dim; j++) {
                            size_t row = (size_t)idx[i];
                            volatile float s = SCB[row] / 127.0f;
                            volatile float v = (float)CB[row * dim + j] * s;
                            bad += bits_at(dt, out, i * dim + j) != bits_of(dt, v);
                        }
                    free(h); free(CB); free(SCB);
                } else {
                    bnbq_quant_type qt = ki == 1 ? BNBQ_FP4 : BNBQ_NF4;
                    uint8_t* packed = (uint8_t*)xmalloc((n + 1) / 2);
                    float* absmax = (float*)xmalloc((n + 63) / 64 * 4);
                    void* full = xmalloc(n * es);
                    MUST(bnbq_quantize_4bit(NULL, qt, dt, w, n, 64, packed, absmax));
                    MUST(bnbq_dequantize_4bit(NULL, qt, dt, packed, absmax, n, 64, full));
                    badq = memcmp(packed, e.packed, (n + 1) / 2) != 0 ||
                           memcmp(absmax, e.absmax, (n + 63) / 64 * 4) != 0;
                    for (i = 0; i < count; i++)
                        bad += memcmp((char*)out + i * dim * es, (char*)full + (size_t)idx[i] * dim * es,
                                      dim * es) != 0;
                    free(packed); free(absmax); free(full);
                }
                CHECK(badq == 0, "%s dim %lu %s: the quantized table differs from the functional op",
                      qname(d.kind, d.quant_type), (unsigned long)dim, dtn(dt));
                CHECK(bad == 0, "%s dim %lu %s: %lu lookups differ from the full dequantization",
                      qname(d.kind, d.quant_type), (unsigned long)dim, dtn(dt), (unsigned long)bad);
                /* a second quantize is a no-op */
                {
                    void* p0 = ki == 0 ? (void*)e.CB : (void*)e.packed;
                    MUST(bnbq_embedding_quantize(NULL, &e));
                    CHECK(p0 == (ki == 0 ? (void*)e.CB : (void*)e.packed), "second quantize");
                }
                bnbq_embedding_uninit(NULL, &e);
                free(w); free(idx); free(out);
            }
}

/* spec/tests.md test_4bit_embedding_warnings: embedding_dim 65 warns (4-bit only) */
static void test_warnings(void)
{
    size_t ki;
    for (ki = 0; ki < 4; ki++) {
        bnbq_embedding e;
        bnbq_embedding_desc d = mkdesc(k_qkinds[ki], 4, 65, BNBQ_F32);
        log_reset();
        if (INIT_OK(&g_logex, &e, &d)) bnbq_embedding_uninit(&g_logex, &e);
        CHECK(g_log.n_warn == (ki == 0 ? 0 : 1) && g_log.n_error == 0,
              "%s dim 65: %d warnings", qname(d.kind, d.quant_type), g_log.n_warn);
        d.embedding_dim = 128;
        log_reset();
        if (INIT_OK(&g_logex, &e, &d)) bnbq_embedding_uninit(&g_logex, &e);
        CHECK(g_log.n_warn == 0, "%s dim 128 warned", qname(d.kind, d.quant_type));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* memory: no allocation in the steady state; failed allocations leave nothing behind        */

static long g_allocs;
static long g_fail_after = -1;   /* fail the allocation after this many (-1: never) */
static void* count_alloc(void* user, size_t bytes)
{
    (void)user;
    if (g_fail_after >= 0 && g_allocs >= g_fail_after) return NULL;
    g_allocs++;
    return malloc(bytes);
}
static void count_free(void* user, void* p) { (void)user; free(p); }
/* a CPU exec with the counting allocator (and pf as its parallel-for, or none) */
static void count_exec(bnbq_exec* ex, bnbq_parallel_for_fn pf)
{
    bnbq_cpu_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.allocator.alloc_fn = count_alloc;
    cd.allocator.free_fn = count_free;
    cd.parallel_for = pf;
    MUST(bnbq_cpu_exec_init(ex, &cd));
}

static void test_steady_state(void)
{
    bnbq_exec ex;
    rng r = rng_make(7);
    size_t ki, count;
    count_exec(&ex, NULL);
    for (ki = 0; ki < 4; ki++) {
        static const bnbq_embedding_kind kinds[4] = { BNBQ_EMBEDDING, BNBQ_EMBEDDING_STABLE,
                                                      BNBQ_EMBEDDING_NF4, BNBQ_EMBEDDING_8BIT };
        bnbq_embedding e;
        bnbq_embedding_desc d = mkdesc(kinds[ki], 50, 64, BNBQ_BF16);
        int32_t* idx = rand_idx(&r, 200, 50);
        void* out = xmalloc(200 * 64 * 2);
        long before;
        void* work;
        if (!INIT_OK(&ex, &e, &d)) { free(idx); free(out); continue; }
        if (ki >= 2) MUST(bnbq_embedding_quantize(&ex, &e));
        MUST(bnbq_embedding_forward(&ex, &e, idx, 100, out));
        before = g_allocs;
        work = e.work;
        for (count = 1; count <= 100; count += 33)
            MUST(bnbq_embedding_forward(&ex, &e, idx, count, out));
        CHECK(g_allocs == before && e.work == work, "kind %lu: forwards of <= 100 rows after one "
              "of 100 allocated %ld times", (unsigned long)ki, g_allocs - before);
        MUST(bnbq_embedding_forward(&ex, &e, idx, 200, out));
        CHECK(g_allocs <= before + 1, "kind %lu: growing allocated %ld times", (unsigned long)ki,
              g_allocs - before);
        if (ki == 1) {
            /* the backward grows the workspace once, then keeps it */
            MUST(bnbq_embedding_backward(&ex, &e, idx, 200, out));
            work = e.work;
            MUST(bnbq_embedding_backward(&ex, &e, idx, 150, out));
            MUST(bnbq_embedding_forward(&ex, &e, idx, 200, out));
            CHECK(e.work == work, "the workspace moved in the steady state");
        }
        bnbq_embedding_uninit(&ex, &e);
        free(idx); free(out);
    }
    /* every allocation of init / quantize / forward failing in turn: OUT_OF_MEMORY, e zeroed,
       nothing leaked (the sanitizer build checks the leaks) */
    for (ki = 0; ki < 3; ki++) {
        static const bnbq_embedding_kind kinds[3] = { BNBQ_EMBEDDING_STABLE, BNBQ_EMBEDDING_NF4,
                                                      BNBQ_EMBEDDING_8BIT };
        long k;
        int done = 0;
        for (k = 0; k < 20 && !done; k++) {
            bnbq_embedding e;
            bnbq_embedding_desc d = mkdesc(kinds[ki], 10, 64, BNBQ_F32);
            int32_t idx[3] = { 1, 2, 3 };
            float out[3 * 64];
            bnbq_result rr;
            g_allocs = 0; g_fail_after = k;
            rr = bnbq_embedding_init(&ex, &e, &d);
            if (rr != BNBQ_SUCCESS) {
                bnbq_embedding zero;
                memset(&zero, 0, sizeof zero);
                CHECK(rr == BNBQ_ERROR_OUT_OF_MEMORY && memcmp(&e, &zero, sizeof e) == 0,
                      "kind %lu init failing at allocation %ld: %s, e not zeroed",
                      (unsigned long)ki, k, RC(rr));
                continue;
            }
            rr = ki ? bnbq_embedding_quantize(&ex, &e) : BNBQ_SUCCESS;
            if (rr == BNBQ_SUCCESS) {
                CHECK(!ki || e.quantized, "quantized");
                rr = bnbq_embedding_forward(&ex, &e, idx, 3, out);
                if (rr == BNBQ_SUCCESS) done = 1;
            } else {
                CHECK(rr == BNBQ_ERROR_OUT_OF_MEMORY && !e.quantized && e.weight != NULL,
                      "kind %lu quantize failing at allocation %ld: %s", (unsigned long)ki, k, RC(rr));
                g_fail_after = -1;   /* recovers */
                MUST(bnbq_embedding_quantize(&ex, &e));
            }
            g_fail_after = -1;
            bnbq_embedding_uninit(&ex, &e);
        }
        CHECK(done, "kind %lu never succeeded", (unsigned long)ki);
    }
    g_fail_after = -1;
    bnbq_exec_uninit(&ex);
}

/* bnbq_renorm_rows and bnbq_gather_rows_backward take no memory (they visit each distinct row at
   its first occurrence): an Embedding with max_norm and scale_grad_by_freq and a StableEmbedding
   allocate nothing once their workspace has grown, and a chunked parallel-for gives the same
   bytes as one call (duplicates split across chunks, a row longer than the CPU's 256-column
   accumulator) */
static void test_prims_no_alloc(void)
{
    bnbq_exec ex, exp;
    rng r = rng_make(8);
    size_t ki, di;
    count_exec(&ex, NULL);
    count_exec(&exp, chunked_for);
    for (ki = 0; ki < 2; ki++)
        for (di = 0; di < 3; di++) {
            bnbq_dtype dt = k_dts[di];
            size_t num = 40, dim = ki ? 64 : 300, count = 120, es = dts(dt), i;
            bnbq_embedding e, ep;
            bnbq_embedding_desc d = mkdesc(ki ? BNBQ_EMBEDDING_STABLE : BNBQ_EMBEDDING, num, dim,
                                           dt);
            int32_t* idx = rand_idx(&r, count, num);
            void* out = xmalloc(count * dim * es);
            void* outp = xmalloc(count * dim * es);
            void* g = rand_dt(&r, dt, count * dim, 1.0f);
            long before;
            idx[5] = idx[0]; idx[7] = idx[0]; idx[count - 1] = idx[0];   /* duplicates */
            d.max_norm = 0.5f;
            d.scale_grad_by_freq = !ki;
            d.padding_idx_set = 1; d.padding_idx = idx[3];
            if (!INIT_OK(&ex, &e, &d)) { free(idx); free(out); free(outp); free(g); continue; }
            if (!INIT_OK(&exp, &ep, &d)) {
                bnbq_embedding_uninit(&ex, &e);
                free(idx); free(out); free(outp); free(g);
                continue;
            }
            MUST(bnbq_embedding_forward(&ex, &e, idx, count, out));
            MUST(bnbq_embedding_backward(&ex, &e, idx, count, g));
            before = g_allocs;
            for (i = 0; i < 3; i++) {
                MUST(bnbq_embedding_forward(&ex, &e, idx, count - i, out));
                MUST(bnbq_embedding_backward(&ex, &e, idx, count - i, g));
            }
            CHECK(g_allocs == before, "%s %s: %ld allocations in the steady state with max_norm "
                  "and a backward", ki ? "StableEmbedding" : "Embedding", dtn(dt),
                  g_allocs - before);
            /* the same calls through the chunked parallel-for: the same bytes */
            MUST(bnbq_embedding_forward(&exp, &ep, idx, count, outp));
            MUST(bnbq_embedding_backward(&exp, &ep, idx, count, g));
            for (i = 0; i < 3; i++) {
                MUST(bnbq_embedding_forward(&exp, &ep, idx, count - i, outp));
                MUST(bnbq_embedding_backward(&exp, &ep, idx, count - i, g));
            }
            CHECK(memcmp(out, outp, (count - 2) * dim * es) == 0, "%s: chunked forward differs",
                  dtn(dt));
            CHECK(memcmp(e.weight, ep.weight, num * dim * es) == 0,
                  "%s: chunked renorm differs", dtn(dt));
            CHECK(memcmp(e.grad_weight, ep.grad_weight, num * dim * es) == 0,
                  "%s: chunked gather_rows_backward differs", dtn(dt));
            bnbq_embedding_uninit(&ex, &e);
            bnbq_embedding_uninit(&exp, &ep);
            free(idx); free(out); free(outp); free(g);
        }
    bnbq_exec_uninit(&ex);
    bnbq_exec_uninit(&exp);
}

/* set_weight copies as is (no padding zeroing); quantize / set_weight interplay */
static void test_set_weight(void)
{
    bnbq_embedding e;
    bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING, 4, 3, BNBQ_F32);
    float w[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, out[6];
    int32_t idx[2] = { 1, 0 };
    d.padding_idx_set = 1; d.padding_idx = 1;
    if (!INIT_OK(&g_logex, &e, &d)) return;
    MUST(bnbq_embedding_set_weight(&g_logex, &e, w));
    MUST(bnbq_embedding_forward(&g_logex, &e, idx, 2, out));
    CHECK(out[0] == 4 && out[2] == 6 && out[3] == 1 && out[5] == 3,
          "forward reads the padding row as set: %g %g %g %g", out[0], out[2], out[3], out[5]);
    bnbq_embedding_uninit(&g_logex, &e);
}

/* ------------------------------------------------------------------------------------------ */
/* bad input                                                                                  */

static void test_bad_input(void)
{
    bnbq_embedding e, q, zero;
    bnbq_embedding_desc d = mkdesc(BNBQ_EMBEDDING, 8, 64, BNBQ_F32);
    int32_t idx[4] = { 0, 1, 2, 3 }, bad_idx[2] = { 0, 8 }, neg_idx[2] = { -1, 0 };
    float out[4 * 64], w[8 * 64];
    size_t i;
    memset(&zero, 0, sizeof zero);
    memset(w, 0, sizeof w);
    /* init */
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_init, NULL, &d);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_init, &e, NULL);
    CHECK(memcmp(&e, &zero, sizeof e) == 0, "a failed init leaves e zeroed");
#define BAD_DESC(want, field_assign) do { \
        bnbq_embedding_desc bd_ = d; \
        field_assign; \
        EXPECT(want, bnbq_embedding_init, &e, &bd_); \
        CHECK(memcmp(&e, &zero, sizeof e) == 0, "failed init (%s) left e non-zero", #field_assign); \
    } while (0)
    BAD_DESC(BNBQ_ERROR_BAD_SHAPE, bd_.num_embeddings = 0);
    BAD_DESC(BNBQ_ERROR_BAD_SHAPE, bd_.embedding_dim = 0);
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, bd_.kind = (bnbq_embedding_kind)6);
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, bd_.kind = (bnbq_embedding_kind)-1);
    BAD_DESC(BNBQ_ERROR_BAD_DTYPE, bd_.dtype = BNBQ_I8);
    BAD_DESC(BNBQ_ERROR_BAD_DTYPE, bd_.dtype = (bnbq_dtype)99);
    BAD_DESC(BNBQ_ERROR_OVERFLOW, (bd_.num_embeddings = SIZE_MAX / 2, bd_.embedding_dim = 4));
    BAD_DESC(BNBQ_ERROR_OVERFLOW, (bd_.num_embeddings = 1u << 20, bd_.embedding_dim = SIZE_MAX / 2));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, (bd_.padding_idx_set = 1, bd_.padding_idx = 8));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, (bd_.padding_idx_set = 1, bd_.padding_idx = -9));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, (bd_.padding_idx_set = 1, bd_.padding_idx = INT64_MIN));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, bd_.max_norm = -1.0f);
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, bd_.max_norm = NAN);
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, bd_.norm_type = -2.0f);
    BAD_DESC(BNBQ_ERROR_BAD_QUANT_TYPE, (bd_.kind = BNBQ_EMBEDDING_4BIT, bd_.quant_type = BNBQ_INT4));
    BAD_DESC(BNBQ_ERROR_BAD_QUANT_TYPE, (bd_.kind = BNBQ_EMBEDDING_4BIT, bd_.quant_type = (bnbq_quant_type)7));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, (bd_.kind = BNBQ_EMBEDDING_8BIT, bd_.padding_idx_set = 1));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, (bd_.kind = BNBQ_EMBEDDING_NF4, bd_.max_norm = 1.0f));
    BAD_DESC(BNBQ_ERROR_INVALID_ARGS, (bd_.kind = BNBQ_EMBEDDING_FP4, bd_.scale_grad_by_freq = 1));
#undef BAD_DESC
    /* a plain Embedding and an unquantized Embedding8bit */
    if (!INIT_OK(NULL, &e, &d)) return;
    {
        bnbq_embedding_desc qd = mkdesc(BNBQ_EMBEDDING_8BIT, 8, 64, BNBQ_F32);
        if (!INIT_OK(NULL, &q, &qd)) { bnbq_embedding_uninit(NULL, &e); return; }
    }
    /* set_weight */
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_set_weight, NULL, w);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_set_weight, &e, NULL);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_set_weight, &zero, w);
    /* quantize */
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_quantize, NULL);
    EXPECT(BNBQ_ERROR_NOT_SUPPORTED, bnbq_embedding_quantize, &e);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_quantize, &zero);
    /* forward */
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_forward, NULL, idx, 4, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_forward, &e, NULL, 4, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_forward, &e, idx, 4, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_embedding_forward, &e, idx, 0, out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_embedding_forward, &e, idx, SIZE_MAX / 2, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &zero, idx, 4, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &e, bad_idx, 2, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &e, neg_idx, 2, out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_embedding_forward, &e, (int32_t*)(void*)((char*)idx + 2), 2, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &q, idx, 4, out);   /* not quantized */
    /* backward */
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_backward, NULL, idx, 4, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_backward, &e, NULL, 4, out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_embedding_backward, &e, idx, 4, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_embedding_backward, &e, idx, 0, out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_embedding_backward, &e, idx, SIZE_MAX / 4, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_backward, &zero, idx, 4, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_backward, &e, bad_idx, 2, out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_embedding_backward, &e, idx, 2, (char*)out + 2);
    EXPECT(BNBQ_ERROR_NOT_SUPPORTED, bnbq_embedding_backward, &q, idx, 4, out);
    MUST(bnbq_embedding_quantize(NULL, &q));
    EXPECT(BNBQ_ERROR_NOT_SUPPORTED, bnbq_embedding_backward, &q, idx, 4, out);
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_set_weight, &q, w);   /* quantized */
    EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &q, bad_idx, 2, out);
    EXPECT(BNBQ_SUCCESS, bnbq_embedding_forward, &q, idx, 4, out);
    /* every quantized kind: forward before quantize, backward always */
    for (i = 1; i < 4; i++) {
        bnbq_embedding k4;
        bnbq_embedding_desc kd = mkdesc(k_qkinds[i], 8, 64, BNBQ_F16);
        if (!INIT_OK(NULL, &k4, &kd)) continue;
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &k4, idx, 4, out);
        EXPECT(BNBQ_ERROR_NOT_SUPPORTED, bnbq_embedding_backward, &k4, idx, 4, out);
        MUST(bnbq_embedding_quantize(NULL, &k4));
        EXPECT(BNBQ_ERROR_NOT_SUPPORTED, bnbq_embedding_backward, &k4, idx, 4, out);
        EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &k4, neg_idx, 2, out);
        EXPECT(BNBQ_SUCCESS, bnbq_embedding_forward, &k4, idx, 4, out);
        bnbq_embedding_uninit(NULL, &k4);
    }
    /* StableEmbedding errors inside its pipeline */
    {
        bnbq_embedding s;
        bnbq_embedding_desc sd = mkdesc(BNBQ_EMBEDDING_STABLE, 8, 64, BNBQ_F16);
        if (INIT_OK(NULL, &s, &sd)) {
            EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_forward, &s, bad_idx, 2, out);
            EXPECT(BNBQ_ERROR_INVALID_ARGS, bnbq_embedding_backward, &s, neg_idx, 2, out);
            EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_embedding_forward, &s, idx, 2, (char*)out + 1);
            EXPECT(BNBQ_ERROR_NOT_SUPPORTED, bnbq_embedding_quantize, &s);
            bnbq_embedding_uninit(NULL, &s);
        }
    }
    /* uninit: NULL, zeroed, twice */
    bnbq_embedding_uninit(NULL, NULL);
    bnbq_embedding_uninit(NULL, &zero);
    bnbq_embedding_uninit(NULL, &e);
    bnbq_embedding_uninit(NULL, &e);
    bnbq_embedding_uninit(&g_logex, &q);
    CHECK(e.weight == NULL && q.CB == NULL, "uninit");
}

static const uu_test k_tests[] = {
    { "init", test_init },
    { "stable_embedding_1024", test_stable_embedding_1024 },
    { "embedding_forward", test_embedding_forward },
    { "stable_forward", test_stable_forward },
    { "max_norm", test_max_norm },
    { "embedding_backward", test_embedding_backward },
    { "stable_backward", test_stable_backward },
    { "quantized_lossless_and_error", test_quantized_lossless_and_error },
    { "quantized_tables", test_quantized_tables },
    { "warnings", test_warnings },
    { "prims_no_alloc", test_prims_no_alloc },
    { "steady_state", test_steady_state },
    { "set_weight", test_set_weight },
    { "bad_input", test_bad_input },
};

int main(int argc, char** argv)
{
    return uu_main(argc, argv, k_tests, sizeof k_tests / sizeof k_tests[0]);
}
