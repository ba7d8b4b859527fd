/* train_switchback.c - trains a small MLP whose two linear layers are SwitchBack int8 layers
   (bitsandbytes' SwitchBackLinearGlobal: int8 forward and input gradient, 16-bit weight gradient)
   on a generated 4-class problem, then quantizes the trained weights to NF4 (LinearNF4) and
   evaluates them. It runs on the GPU when one is usable and on the CPU otherwise; the layer calls
   are the same, only the exec differs. The ReLU, the loss and the SGD step run on the host (bnbq
   is a quantization library, not a training framework), so activations cross with bnbq_copy.

   The task: x ~ N(0, I) in 32 dimensions; the class is (sign(u.x) XOR sign(v.x)) + 2 (|w.x| > 0.67)
   for three fixed random directions. The XOR half is not linearly separable; chance is 25 %.

   Build and run (no CUDA toolkit needed):
       cc -std=c99 -O2 -I. examples/train_switchback.c -o train_switchback -lm   (older glibc: -ldl)
       ./train_switchback            (BNBQ_CPU=1 in the environment forces the CPU)
   Exit status 0 when both the SwitchBack model and its NF4 copy reach 80 % test accuracy. */
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { D = 32, H = 128, C = 4, NTRAIN = 4096, NTEST = 1024, BATCH = 128, STEPS = 600 };

#define TRY(call) do { \
        bnbq_result r_ = (call); \
        if (r_ != BNBQ_SUCCESS) { \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call, \
                    bnbq_result_description(r_), bnbq_result_name(r_)); \
            exit(1); \
        } \
    } while (0)

static unsigned long long rng = 0x243F6A8885A308D3ull;
static double uniform(void) {
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}
static float randn(void) {
    return (float)(sqrt(-2.0 * log(1.0 - uniform())) * cos(6.283185307179586 * uniform()));
}

static float dirs[3][D];
static void make_data(float* x, int* y, int n) {
    int i, j, k;
    for (i = 0; i < n; i++) {
        double p[3] = {0, 0, 0};
        for (j = 0; j < D; j++) {
            x[i * D + j] = randn();
            for (k = 0; k < 3; k++) p[k] += dirs[k][j] * x[i * D + j];
        }
        y[i] = ((p[0] > 0) ^ (p[1] > 0)) + 2 * (fabs(p[2]) > 0.67);
    }
}

/* one 2-layer model on an exec: the layers plus exec buffers for a batch */
typedef struct model {
    bnbq_exec* ex;
    bnbq_linear l1, l2;
    void *x, *h, *hr, *o, *go, *gh, *gx;     /* exec memory, f16 */
} model;

static void* ealloc(bnbq_exec* ex, size_t bytes) {
    void* p = NULL;
    TRY(bnbq_alloc(ex, bytes, &p));
    return p;
}
static void to_f16(const float* s, uint16_t* d, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) d[i] = bnbq_f32_to_f16(s[i]);
}

static void model_init(model* m, bnbq_exec* ex, bnbq_linear_kind kind) {
    bnbq_linear_desc d;
    memset(m, 0, sizeof *m);
    m->ex = ex;
    memset(&d, 0, sizeof d);
    d.kind = kind; d.weight_dtype = BNBQ_F16;
    d.in_features = D; d.out_features = H; d.seed = 1;
    TRY(bnbq_linear_init(ex, &m->l1, &d));
    d.in_features = H; d.out_features = C; d.seed = 2;
    TRY(bnbq_linear_init(ex, &m->l2, &d));
    m->x = ealloc(ex, (size_t)BATCH * D * 2);  m->h = ealloc(ex, (size_t)BATCH * H * 2);
    m->hr = ealloc(ex, (size_t)BATCH * H * 2); m->o = ealloc(ex, (size_t)BATCH * C * 2);
    m->go = ealloc(ex, (size_t)BATCH * C * 2); m->gh = ealloc(ex, (size_t)BATCH * H * 2);
    m->gx = ealloc(ex, (size_t)BATCH * D * 2);
}
static void model_uninit(model* m) {
    bnbq_linear_uninit(m->ex, &m->l1); bnbq_linear_uninit(m->ex, &m->l2);
    bnbq_free(m->ex, m->x); bnbq_free(m->ex, m->h); bnbq_free(m->ex, m->hr);
    bnbq_free(m->ex, m->o); bnbq_free(m->ex, m->go); bnbq_free(m->ex, m->gh);
    bnbq_free(m->ex, m->gx);
}

/* master weights in float32 on the host (the layers get f16 copies) */
typedef struct params { float w1[H * D], b1[H], w2[C * H], b2[C]; } params;
static void params_load(model* m, const params* p) {
    static uint16_t w1[H * D], b1[H], w2[C * H], b2[C];
    to_f16(p->w1, w1, H * D); to_f16(p->b1, b1, H); to_f16(p->w2, w2, C * H); to_f16(p->b2, b2, C);
    TRY(bnbq_linear_set_weight(m->ex, &m->l1, w1, b1));
    TRY(bnbq_linear_set_weight(m->ex, &m->l2, w2, b2));
}

/* forward of n <= BATCH rows of x (host float); logits to host; hidden pre-activations kept */
static uint16_t hbuf[BATCH * H];
static void forward(model* m, const float* x, int n, float* logits) {
    static uint16_t xb[BATCH * D], ob[BATCH * C];
    int i;
    to_f16(x, xb, (size_t)n * D);
    TRY(bnbq_copy(m->ex, m->x, xb, (size_t)n * D * 2, BNBQ_COPY_HOST_TO_EXEC));
    TRY(bnbq_linear_forward(m->ex, &m->l1, BNBQ_F16, m->x, (size_t)n, m->h));
    TRY(bnbq_copy(m->ex, hbuf, m->h, (size_t)n * H * 2, BNBQ_COPY_EXEC_TO_HOST));
    {
        static uint16_t r[BATCH * H];
        for (i = 0; i < n * H; i++) r[i] = (hbuf[i] & 0x8000u) ? 0 : hbuf[i];   /* ReLU */
        TRY(bnbq_copy(m->ex, m->hr, r, (size_t)n * H * 2, BNBQ_COPY_HOST_TO_EXEC));
    }
    TRY(bnbq_linear_forward(m->ex, &m->l2, BNBQ_F16, m->hr, (size_t)n, m->o));
    TRY(bnbq_copy(m->ex, ob, m->o, (size_t)n * C * 2, BNBQ_COPY_EXEC_TO_HOST));
    for (i = 0; i < n * C; i++) logits[i] = bnbq_f16_to_f32(ob[i]);
}

static double accuracy(model* m, const float* x, const int* y, int n) {
    float logits[BATCH * C];
    int i, c, good = 0;
    for (i = 0; i < n; i += BATCH) {
        int b = n - i < BATCH ? n - i : BATCH, r;
        forward(m, x + (size_t)i * D, b, logits);
        for (r = 0; r < b; r++) {
            int best = 0;
            for (c = 1; c < C; c++) if (logits[r * C + c] > logits[r * C + best]) best = c;
            good += best == y[i + r];
        }
    }
    return (double)good / n;
}

/* the host side of the SGD step: v = mu v + g; w -= lr v */
static void sgd(float* w, float* v, const uint16_t* g, int n, float lr) {
    int i;
    for (i = 0; i < n; i++) {
        v[i] = 0.9f * v[i] + bnbq_f16_to_f32(g[i]);
        w[i] -= lr * v[i];
    }
}

int main(void) {
    static float xtr[NTRAIN * D], xte[NTEST * D];
    static int ytr[NTRAIN], yte[NTEST];
    static params p, vel;
    static uint16_t g1[H * D], gb1[H], g2[C * H], gb2[C], go[BATCH * C], gh[BATCH * H];
    bnbq_cuda* gpu = NULL;
    bnbq_exec gex, *ex = NULL;
    model m, q;
    int i, j, step;
    double acc_sb, acc_nf4;
    clock_t t0 = clock();

    for (i = 0; i < 3; i++) for (j = 0; j < D; j++) dirs[i][j] = randn() / (float)sqrt((double)D);
    make_data(xtr, ytr, NTRAIN);
    make_data(xte, yte, NTEST);

    if (!getenv("BNBQ_CPU")) {
        bnbq_cuda_desc desc;
        bnbq_result r;
        memset(&desc, 0, sizeof desc);
        r = bnbq_cuda_init(&desc, &gpu);
        if (r == BNBQ_SUCCESS) {
            TRY(bnbq_cuda_exec_init(gpu, NULL, &gex));
            ex = &gex;
        } else {
            printf("CUDA: %s (%s): training on the CPU\n", bnbq_result_description(r),
                   bnbq_result_name(r));
        }
    }
    printf("training a %d-%d-%d MLP of SwitchBack int8 layers on the %s, %d steps of %d\n",
           D, H, C, ex ? "GPU" : "CPU", STEPS, BATCH);

    /* the model's own init (kaiming-uniform), read back as the float32 masters */
    model_init(&m, ex, BNBQ_LINEAR_SWITCHBACK_GLOBAL);
    {
        static uint16_t w1[H * D], b1[H], w2[C * H], b2[C];
        TRY(bnbq_copy(ex, w1, m.l1.weight, sizeof w1, BNBQ_COPY_EXEC_TO_HOST));
        TRY(bnbq_copy(ex, b1, m.l1.bias, sizeof b1, BNBQ_COPY_EXEC_TO_HOST));
        TRY(bnbq_copy(ex, w2, m.l2.weight, sizeof w2, BNBQ_COPY_EXEC_TO_HOST));
        TRY(bnbq_copy(ex, b2, m.l2.bias, sizeof b2, BNBQ_COPY_EXEC_TO_HOST));
        for (i = 0; i < H * D; i++) p.w1[i] = bnbq_f16_to_f32(w1[i]);
        for (i = 0; i < H; i++) p.b1[i] = bnbq_f16_to_f32(b1[i]);
        for (i = 0; i < C * H; i++) p.w2[i] = bnbq_f16_to_f32(w2[i]);
        for (i = 0; i < C; i++) p.b2[i] = bnbq_f16_to_f32(b2[i]);
    }

    for (step = 1; step <= STEPS; step++) {
        float logits[BATCH * C], lr = step < STEPS * 2 / 3 ? 0.05f : 0.01f;
        int off = (step * BATCH) % NTRAIN, r, c;
        double loss = 0.0;
        params_load(&m, &p);
        forward(&m, xtr + (size_t)off * D, BATCH, logits);
        /* softmax cross-entropy, mean over the batch */
        for (r = 0; r < BATCH; r++) {
            float mx = logits[r * C], s = 0.0f;
            for (c = 1; c < C; c++) if (logits[r * C + c] > mx) mx = logits[r * C + c];
            for (c = 0; c < C; c++) s += expf(logits[r * C + c] - mx);
            loss += -(logits[r * C + ytr[off + r]] - mx - logf(s));
            for (c = 0; c < C; c++) {
                float pr = expf(logits[r * C + c] - mx) / s;
                go[r * C + c] = bnbq_f32_to_f16((pr - (c == ytr[off + r])) / BATCH);
            }
        }
        TRY(bnbq_copy(ex, m.go, go, sizeof go, BNBQ_COPY_HOST_TO_EXEC));
        TRY(bnbq_linear_backward(ex, &m.l2, BNBQ_F16, m.hr, BATCH, m.go, m.gh));
        TRY(bnbq_copy(ex, gh, m.gh, sizeof gh, BNBQ_COPY_EXEC_TO_HOST));
        for (i = 0; i < BATCH * H; i++) if (hbuf[i] & 0x8000u || hbuf[i] == 0) gh[i] = 0;  /* ReLU' */
        TRY(bnbq_copy(ex, m.gh, gh, sizeof gh, BNBQ_COPY_HOST_TO_EXEC));
        TRY(bnbq_linear_backward(ex, &m.l1, BNBQ_F16, m.x, BATCH, m.gh, NULL));
        TRY(bnbq_copy(ex, g1, m.l1.grad_weight, sizeof g1, BNBQ_COPY_EXEC_TO_HOST));
        TRY(bnbq_copy(ex, gb1, m.l1.grad_bias, sizeof gb1, BNBQ_COPY_EXEC_TO_HOST));
        TRY(bnbq_copy(ex, g2, m.l2.grad_weight, sizeof g2, BNBQ_COPY_EXEC_TO_HOST));
        TRY(bnbq_copy(ex, gb2, m.l2.grad_bias, sizeof gb2, BNBQ_COPY_EXEC_TO_HOST));
        sgd(p.w1, vel.w1, g1, H * D, lr); sgd(p.b1, vel.b1, gb1, H, lr);
        sgd(p.w2, vel.w2, g2, C * H, lr); sgd(p.b2, vel.b2, gb2, C, lr);
        if (step % 100 == 0 || step == 1)
            printf("step %4d  loss %.4f\n", step, loss / BATCH);
    }
    params_load(&m, &p);
    bnbq_linear_set_training(&m.l1, 0);
    bnbq_linear_set_training(&m.l2, 0);
    acc_sb = accuracy(&m, xte, yte, NTEST);
    printf("SwitchBack int8 model: test accuracy %.1f %% (chance 25 %%)\n", 100.0 * acc_sb);

    /* the same weights as LinearNF4 layers (nested absmax, blocksize 64), quantized explicitly */
    model_init(&q, ex, BNBQ_LINEAR_NF4);
    params_load(&q, &p);
    TRY(bnbq_linear_quantize(ex, &q.l1));
    TRY(bnbq_linear_quantize(ex, &q.l2));
    bnbq_linear_set_training(&q.l1, 0);
    bnbq_linear_set_training(&q.l2, 0);
    acc_nf4 = accuracy(&q, xte, yte, NTEST);
    printf("NF4 copy (%zu + %zu weight bytes instead of %d): test accuracy %.1f %%\n",
           (size_t)H * D / 2, (size_t)C * H / 2, (H * D + C * H) * 2, 100.0 * acc_nf4);
    printf("%.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);

    model_uninit(&m);
    model_uninit(&q);
    if (gpu) bnbq_cuda_uninit(gpu);
    return acc_sb >= 0.8 && acc_nf4 >= 0.8 ? 0 : 1;
}
