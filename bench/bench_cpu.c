/* bench_cpu.c - throughput of bnbq's CPU paths (single thread, ex = NULL).

   Build and run:  make bench-cpu
                   (cc -std=c99 -O2 -ffp-contract=off -I. bench/bench_cpu.c -o build/bench_cpu -lm)
   Options:        --simd scalar|avx2|avx512|neon  force a SIMD level (default: the best; or BNBQ_SIMD)
                   --only WORD1,WORD2          only the lines whose name contains one of the words
                   --threads N                 run the operations (and memcpy) on N threads through
                                               a CPU exec with bnbq_thread_pool (default 1: ex = NULL)
                   --no-nt                     no streaming stores in the AVX-512 dequantizers (which
                                               use them for outputs >= 16 MiB, 64-byte aligned) and
                                               LLM.int8 row quantizer (rows >= 1024, aligned)
                   --paired                    5 runs per line, each followed by a run of memcpy; the
                                               % is the median of the per-run ratios (steadier on a
                                               machine that other jobs share; about twice the time)

   Every line: the median over 3 runs of the time per call (each run repeats the call until it
   has taken at least 0.2 s), the bandwidth it implies (bytes read + bytes written, GB = 1e9 B),
   that bandwidth as a fraction of memcpy's measured in the same process (256 MiB copied, read +
   written, median of 3), and GOP/s for the int8 matmul (2*M*N*K operations). Inputs are random
   normal data. gemv "cold" rotates over enough copies of the weight to cover >= 128 MiB of packed
   data (more than the last-level cache); "hot" reuses one copy. Takes about 1-3 minutes. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#define BNBQ_PTHREADS      /* --threads N: bnbq_thread_pool as the exec's parallel-for */
#include "bnbq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NELEM ((size_t)1 << 24)
#define MIN_RUN_S 0.2

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void* xmalloc(size_t bytes)
{
    void* p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) p = NULL;   /* 64-byte aligned, as tensors usually are */
    if (!p) { fprintf(stderr, "out of memory (%zu bytes)\n", bytes); exit(1); }
    memset(p, 0, bytes);   /* touch every page before timing */
    return p;
}

static void check(bnbq_result r, const char* what)
{
    if (r != BNBQ_SUCCESS) {
        fprintf(stderr, "%s: %s\n", what, bnbq_result_description(r));
        exit(1);
    }
}

/* splitmix64 + Box-Muller */
static unsigned long long g_rng = 12345;
static double uniform(void)
{
    unsigned long long z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}
static void fill_randn(float* x, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        double r = sqrt(-2.0 * log(1.0 - uniform())), t = 6.283185307179586 * uniform();
        x[i] = (float)(r * cos(t));
        x[i + 1] = (float)(r * sin(t));
    }
    if (n & 1) x[n - 1] = 0.5f;
}

/* ---- timing ---------------------------------------------------------------------------------- */

typedef void (*bench_fn)(void* ctx);

static double median(double* v, int n)
{
    int i, j;
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && v[j - 1] > v[j]; j--) { double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double g_memcpy_gbs;
/* --paired: each run of an operation is followed by a run of memcpy, and the line's % is the
   median over the runs of (operation GB/s / the memcpy GB/s next to it) */
#define PAIRED_RUNS 5
static int g_paired;
static bench_fn g_mc_fn;
static void* g_mc_ctx;
static double g_mc_bytes;
static double g_run_sec[PAIRED_RUNS], g_run_mc[PAIRED_RUNS];
static int g_runs;

static double run_for(bench_fn fn, void* ctx, double min_s)
{
    long calls = 0;
    double t0 = now_s(), t;
    do { fn(ctx); calls++; t = now_s() - t0; } while (t < min_s);
    return t / (double)calls;
}

/* median over 3 runs (--paired: 5 runs, each followed by memcpy) of the seconds per call */
static double time_call(bench_fn fn, void* ctx)
{
    double per[PAIRED_RUNS];
    int run;
    fn(ctx);                                   /* warm-up */
    g_runs = g_paired && g_mc_fn ? PAIRED_RUNS : 3;
    for (run = 0; run < g_runs; run++) {
        per[run] = g_run_sec[run] = run_for(fn, ctx, g_runs == 3 ? MIN_RUN_S : 0.5 * MIN_RUN_S);
        g_run_mc[run] = g_runs == 3 ? g_memcpy_gbs
                                    : g_mc_bytes / run_for(g_mc_fn, g_mc_ctx, 0.5 * MIN_RUN_S) * 1e-9;
    }
    return median(per, g_runs);
}
static const char* g_only;
static bnbq_exec* g_ex;          /* NULL, or a CPU exec with a thread pool (--threads) */
static bnbq_thread_pool* g_pool;
static int g_threads = 1;
static void bench__empty_range(void* task, size_t b, size_t e) { (void)task; (void)b; (void)e; }

/* --only: the name contains one of the comma-separated words */
static int wanted(const char* name)
{
    const char* p = g_only;
    if (!p) return 1;
    while (*p) {
        char w[64];
        size_t k = strcspn(p, ",");
        if (k > 0 && k < sizeof w) {
            memcpy(w, p, k); w[k] = 0;
            if (strstr(name, w)) return 1;
        }
        p += k;
        if (*p == ',') p++;
    }
    return 0;
}

static void print_line(const char* name, double sec, double bytes, double ops)
{
    double gbs = bytes / sec * 1e-9, ratio[PAIRED_RUNS];
    int r;
    for (r = 0; r < g_runs; r++) ratio[r] = bytes / g_run_sec[r] * 1e-9 / g_run_mc[r];
    printf("%-44s %10.3f %9.2f %8.1f%%", name, sec * 1e3, gbs, 100.0 * median(ratio, g_runs));
    if (ops > 0) printf(" %9.2f", ops / sec * 1e-9);
    printf("\n");
    fflush(stdout);
}

/* ---- memcpy ---------------------------------------------------------------------------------- */

typedef struct mc_ctx { void* dst; const void* src; size_t bytes; } mc_ctx;
static void memcpy_range(void* c, size_t b, size_t e)
{
    mc_ctx* m = (mc_ctx*)c;
    size_t chunk = m->bytes / 256;
    memcpy((char*)m->dst + b * chunk, (const char*)m->src + b * chunk, (e - b) * chunk);
}
static void run_memcpy(void* c)
{
    mc_ctx* m = (mc_ctx*)c;
    if (g_pool) bnbq_thread_pool_parallel_for(g_pool, memcpy_range, m, 256);   /* 256 x 1 MiB */
    else memcpy(m->dst, m->src, m->bytes);
}

/* ---- blockwise quantize / dequantize ------------------------------------------------------------ */

typedef struct q_ctx {
    int bits; bnbq_quant_type qt; bnbq_dtype dt; int bs;
    const void* x; uint8_t* q; float* absmax; void* out;
} q_ctx;
static void run_quantize(void* c)
{
    q_ctx* t = (q_ctx*)c;
    if (t->bits == 8) check(bnbq_quantize_blockwise(g_ex, NULL, t->dt, t->x, NELEM, t->bs, t->q, t->absmax), "quantize_blockwise");
    else check(bnbq_quantize_4bit(g_ex, t->qt, t->dt, t->x, NELEM, t->bs, t->q, t->absmax), "quantize_4bit");
}
static void run_dequantize(void* c)
{
    q_ctx* t = (q_ctx*)c;
    if (t->bits == 8) check(bnbq_dequantize_blockwise(g_ex, NULL, t->dt, t->q, t->absmax, NELEM, t->bs, t->out), "dequantize_blockwise");
    else check(bnbq_dequantize_4bit(g_ex, t->qt, t->dt, t->q, t->absmax, NELEM, t->bs, t->out), "dequantize_4bit");
}

/* ---- int8 ---------------------------------------------------------------------------------- */

typedef struct i8_ctx {
    const void* A; size_t rows, cols; int8_t* CA; float* stats;
    const int8_t* a; const int8_t* b; int32_t* c; size_t M, N, K;
} i8_ctx;
static void run_vectorwise(void* c)
{
    i8_ctx* t = (i8_ctx*)c;
    check(bnbq_int8_vectorwise_quant(g_ex, BNBQ_F16, t->A, t->rows, t->cols, 0.0f, t->CA, t->stats, NULL, NULL), "int8_vectorwise_quant");
}
static void run_int8_mm(void* c)
{
    i8_ctx* t = (i8_ctx*)c;
    check(bnbq_int8_linear_matmul(g_ex, t->a, t->b, t->M, t->N, t->K, t->c), "int8_linear_matmul");
}

/* ---- gemv ---------------------------------------------------------------------------------- */

typedef struct gemv_ctx {
    bnbq_quant_type qt; bnbq_dtype dt; size_t N, K; int bs;
    const void* A; void* out;
    uint8_t** packed; float** absmax; int ncopies, next;
} gemv_ctx;
static void run_gemv(void* c)
{
    gemv_ctx* t = (gemv_ctx*)c;
    int k = t->next;
    t->next = (t->next + 1) % t->ncopies;
    check(bnbq_gemv_4bit(g_ex, t->qt, t->dt, t->A, t->packed[k], t->absmax[k], t->N, t->K, t->bs,
                         t->out, NULL, NULL), "gemv_4bit");
}

static const char* dt_name(bnbq_dtype dt) { return dt == BNBQ_F32 ? "f32" : dt == BNBQ_F16 ? "f16" : "bf16"; }
static size_t dt_size(bnbq_dtype dt) { return dt == BNBQ_F32 ? 4 : 2; }

int main(int argc, char** argv)
{
    static const bnbq_dtype dts[3] = { BNBQ_F32, BNBQ_F16, BNBQ_BF16 };
    static const int bs8[3] = { 64, 256, 4096 };
    const size_t n = NELEM;
    float* xf = (float*)xmalloc(n * sizeof(float));
    uint16_t* xh = (uint16_t*)xmalloc(n * 2);
    uint16_t* xb = (uint16_t*)xmalloc(n * 2);
    const void* xs[3];
    uint8_t* q = (uint8_t*)xmalloc(n);
    float* absmax = (float*)xmalloc(n / 32 * sizeof(float));
    void* out = xmalloc(n * 4);
    char name[128], model[256] = "unknown";
    double t_start = now_s(), sec;
    int id, ib, iq;
    size_t i;

    for (id = 1; id < argc; id++) {
        if (strcmp(argv[id], "--simd") == 0 && id + 1 < argc) {
            const char* want = argv[++id];
            int lv, found = 0;
            for (lv = BNBQ_SIMD_SCALAR; lv <= BNBQ_SIMD_AVX512; lv++)
                if (strcmp(want, bnbq_simd_level_name((bnbq_simd_level)lv)) == 0) {
                    bnbq_result r = bnbq_cpu_set_simd_level((bnbq_simd_level)lv);
                    if (r != BNBQ_SUCCESS) { fprintf(stderr, "--simd %s: %s\n", want, bnbq_result_name(r)); return 1; }
                    found = 1;
                }
            if (!found) { fprintf(stderr, "--simd: unknown level %s\n", want); return 1; }
        } else if (strcmp(argv[id], "--only") == 0 && id + 1 < argc) {
            g_only = argv[++id];
        } else if (strcmp(argv[id], "--no-nt") == 0) {
#if defined(BNBQ__X86_SIMD)
            bnbq__nt_min_bytes = (size_t)-1;   /* no streaming stores in the dequantizers */
            bnbq__vw_nt_cols = (size_t)-1;     /* nor in int8_vectorwise_quant */
#endif
        } else if (strcmp(argv[id], "--paired") == 0) {
            g_paired = 1;
        } else if (strcmp(argv[id], "--threads") == 0 && id + 1 < argc) {
            g_threads = atoi(argv[++id]);
            if (g_threads < 1) { fprintf(stderr, "--threads: at least 1\n"); return 1; }
        } else {
            fprintf(stderr, "usage: %s [--simd scalar|neon|avx2|avx512] [--only WORD1,WORD2] [--threads N] [--paired] [--no-nt]\n", argv[0]);
            return 1;
        }
    }

    if (g_threads > 1) {
        static bnbq_exec ex;
        bnbq_cpu_desc d;
        check(bnbq_thread_pool_create(g_threads, &g_pool), "thread pool");
        memset(&d, 0, sizeof d);
        d.parallel_for = bnbq_thread_pool_parallel_for;
        d.parallel_for_user_data = g_pool;
        check(bnbq_cpu_exec_init(&ex, &d), "exec");
        g_ex = &ex;
    }

    /* ---- header */
    {
        FILE* f = fopen("/proc/cpuinfo", "r");
        char line[512];
        time_t tt = time(NULL);
        char date[64];
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char* p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ' || *p == '\t') p++;
                    p[strcspn(p, "\n")] = 0;
                    snprintf(model, sizeof model, "%s", p);
                }
                break;
            }
        }
        if (f) fclose(f);
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&tt));
        if (g_threads > 1)
            printf("bnbq %s CPU benchmark (%d threads: bnbq_thread_pool; memcpy on the same threads)\n",
                   BNBQ_VERSION_STRING, g_threads);
        else
            printf("bnbq %s CPU benchmark (ex = NULL, one thread)\n", BNBQ_VERSION_STRING);
        printf("simd:     %s (best here: %s)\n", bnbq_simd_level_name(bnbq_cpu_simd_level()),
               bnbq_cpu_simd_supported(BNBQ_SIMD_AVX512) ? "avx512" :
               bnbq_cpu_simd_supported(BNBQ_SIMD_AVX2) ? "avx2" :
               bnbq_cpu_simd_supported(BNBQ_SIMD_NEON) ? "neon" : "scalar");
        printf("cpu:      %s\n", model);
#if defined(__clang__)
        printf("compiler: %s\n", __VERSION__);          /* "Clang x.y.z ..." */
#elif defined(__GNUC__)
        printf("compiler: gcc %s\n", __VERSION__);
#elif defined(__VERSION__)
        printf("compiler: %s\n", __VERSION__);
#else
        printf("compiler: unknown\n");
#endif
        printf("date:     %s\n", date);
        if (g_paired)
            printf("elements: 2^24 = %zu; %d runs, each >= %.1f s and followed by memcpy; %%memcpy: the median of the per-run ratios\n\n",
                   n, PAIRED_RUNS, 0.5 * MIN_RUN_S);
        else printf("elements: 2^24 = %zu; median of 3 runs, each >= %.1f s\n\n", n, MIN_RUN_S);
        if (g_pool) {   /* what one parallel-for costs before any work (wake-up and join) */
            int i;
            double t0 = now_s();
            for (i = 0; i < 20000; i++) bnbq_thread_pool_parallel_for(g_pool, bench__empty_range, NULL, 64);
            printf("pool:     an empty parallel-for over %d threads takes %.2f us (mean of 20000)\n\n", g_threads,
                   (now_s() - t0) / 20000 * 1e6);
        }
    }

    /* ---- memcpy ceiling */
    {
        size_t bytes = (size_t)256 << 20;
        static mc_ctx m;
        m.src = xmalloc(bytes);
        m.dst = xmalloc(bytes);
        memset((void*)m.src, 1, bytes);
        m.bytes = bytes;
        g_memcpy_gbs = 1.0;
        sec = time_call(run_memcpy, &m);
        g_memcpy_gbs = 2.0 * (double)bytes / sec * 1e-9;
        for (i = 0; i < (size_t)g_runs; i++) g_run_mc[i] = g_memcpy_gbs;
        printf("%-44s %10s %9s %9s %9s\n", "operation", "ms/call", "GB/s", "%memcpy", "GOP/s");
        print_line("memcpy 256 MiB", sec, 2.0 * (double)bytes, 0);
        g_mc_fn = run_memcpy; g_mc_ctx = &m; g_mc_bytes = 2.0 * (double)bytes;   /* --paired */
    }

    fill_randn(xf, n);
    for (i = 0; i < n; i++) { xh[i] = bnbq_f32_to_f16(xf[i]); xb[i] = bnbq_f32_to_bf16(xf[i]); }
    xs[0] = xf; xs[1] = xh; xs[2] = xb;

    /* ---- 8-bit blockwise */
    for (ib = 0; ib < 3; ib++)
        for (id = 0; id < 3; id++) {
            q_ctx t;
            double nb = (double)(n / (size_t)bs8[ib]), es = (double)dt_size(dts[id]);
            memset(&t, 0, sizeof t);
            t.bits = 8; t.dt = dts[id]; t.bs = bs8[ib]; t.x = xs[id]; t.q = q; t.absmax = absmax; t.out = out;
            snprintf(name, sizeof name, "quantize_blockwise %s bs %d", dt_name(t.dt), t.bs);
            if (wanted(name)) {
                sec = time_call(run_quantize, &t);
                print_line(name, sec, (double)n * es + (double)n + nb * 4, 0);
            } else {
                check(bnbq_quantize_blockwise(g_ex, NULL, t.dt, t.x, NELEM, t.bs, t.q, t.absmax), "quantize_blockwise");
            }
            snprintf(name, sizeof name, "dequantize_blockwise %s bs %d", dt_name(t.dt), t.bs);
            if (wanted(name)) {
                sec = time_call(run_dequantize, &t);
                print_line(name, sec, (double)n + nb * 4 + (double)n * es, 0);
            }
        }

    /* ---- NF4 / FP4, blocksize 64 */
    for (iq = 0; iq < 2; iq++)
        for (id = 0; id < 3; id++) {
            q_ctx t;
            double nb = (double)(n / 64), es = (double)dt_size(dts[id]);
            memset(&t, 0, sizeof t);
            t.bits = 4; t.qt = iq ? BNBQ_FP4 : BNBQ_NF4; t.dt = dts[id]; t.bs = 64;
            t.x = xs[id]; t.q = q; t.absmax = absmax; t.out = out;
            snprintf(name, sizeof name, "quantize_4bit %s %s bs 64", iq ? "fp4" : "nf4", dt_name(t.dt));
            if (wanted(name)) {
                sec = time_call(run_quantize, &t);
                print_line(name, sec, (double)n * es + (double)n / 2 + nb * 4, 0);
            } else {
                check(bnbq_quantize_4bit(g_ex, t.qt, t.dt, t.x, NELEM, t.bs, t.q, t.absmax), "quantize_4bit");
            }
            snprintf(name, sizeof name, "dequantize_4bit %s %s bs 64", iq ? "fp4" : "nf4", dt_name(t.dt));
            if (wanted(name)) {
                sec = time_call(run_dequantize, &t);
                print_line(name, sec, (double)n / 2 + nb * 4 + (double)n * es, 0);
            }
        }

    /* ---- int8 row-wise (LLM.int8) quantization, f16, 4096 columns */
    if (wanted("int8_vectorwise_quant f16 4096 cols")) {
        i8_ctx t;
        memset(&t, 0, sizeof t);
        t.A = xh; t.cols = 4096; t.rows = n / 4096; t.CA = (int8_t*)q; t.stats = absmax;
        sec = time_call(run_vectorwise, &t);
        print_line("int8_vectorwise_quant f16 4096 cols", sec,
                   (double)n * 2 + (double)n + (double)t.rows * 4, 0);
    }

    /* ---- gemv_4bit, cold (>= 128 MiB of packed weights in rotation) and hot */
    if (wanted("gemv_4bit nf4 fp4 f32 f16 bf16 4096x4096 11008x4096 cold hot")) {
        static const size_t Ns[2] = { 4096, 11008 };
        const size_t K = 4096;
        int is;
        for (is = 0; is < 2; is++) {
            size_t N = Ns[is], nw = N * K, pbytes = nw / 2, nab = nw / 64;
            int ncopies = (int)(((size_t)128 << 20) / pbytes) + 1, k;
            uint8_t** packed = (uint8_t**)malloc((size_t)ncopies * sizeof(uint8_t*));
            float** am = (float**)malloc((size_t)ncopies * sizeof(float*));
            float* w = (float*)xmalloc(nw * sizeof(float));
            if (!packed || !am) { fprintf(stderr, "out of memory\n"); return 1; }
            for (i = 0; i < nw; i += n) memcpy(w + i, xf, (nw - i < n ? nw - i : n) * sizeof(float));
            for (i = 0; i < nw; i++) w[i] *= 0.02f;      /* a weight-like scale */
            for (k = 0; k < ncopies; k++) { packed[k] = (uint8_t*)xmalloc(pbytes); am[k] = (float*)xmalloc(nab * sizeof(float)); }
            for (iq = 0; iq < 2; iq++) {
                bnbq_quant_type qt = iq ? BNBQ_FP4 : BNBQ_NF4;
                check(bnbq_quantize_4bit(g_ex, qt, BNBQ_F32, w, nw, 64, packed[0], am[0]), "quantize weight");
                for (k = 1; k < ncopies; k++) {
                    memcpy(packed[k], packed[0], pbytes);
                    memcpy(am[k], am[0], nab * sizeof(float));
                }
                for (id = 0; id < 3; id++) {
                    int hot;
                    for (hot = 0; hot < 2; hot++) {
                        gemv_ctx t;
                        double es = (double)dt_size(dts[id]);
                        memset(&t, 0, sizeof t);
                        t.qt = qt; t.dt = dts[id]; t.N = N; t.K = K; t.bs = 64;
                        t.A = xs[id]; t.out = out; t.packed = packed; t.absmax = am;
                        t.ncopies = hot ? 1 : ncopies;
                        snprintf(name, sizeof name, "gemv_4bit %s %s %zux%zu %s", iq ? "fp4" : "nf4",
                                 dt_name(t.dt), N, K, hot ? "hot" : "cold");
                        if (!wanted(name)) continue;
                        sec = time_call(run_gemv, &t);
                        print_line(name, sec, (double)pbytes + (double)nab * 4 + (double)K * es + (double)N * es, 2.0 * (double)nw);
                    }
                }
            }
            for (k = 0; k < ncopies; k++) { free(packed[k]); free(am[k]); }
            free(packed); free(am); free(w);
        }
    }

    /* ---- int8 matmul 64 x 4096 x 4096 */
    if (wanted("int8_linear_matmul 64x4096x4096")) {
        i8_ctx t;
        size_t M = 64, N = 4096, K = 4096;
        int8_t* a = (int8_t*)xmalloc(M * K);
        int8_t* b = (int8_t*)xmalloc(N * K);
        int32_t* c = (int32_t*)xmalloc(M * N * sizeof(int32_t));
        for (i = 0; i < M * K; i++) a[i] = (int8_t)lrintf(fmaxf(-127.f, fminf(127.f, 40.0f * xf[i])));
        for (i = 0; i < N * K; i++) b[i] = (int8_t)lrintf(fmaxf(-127.f, fminf(127.f, 40.0f * xf[(i * 7) % n])));
        double ops = 2.0 * (double)M * (double)N * (double)K, by = (double)(M * K + N * K) + (double)(M * N) * 4;
        bnbq_simd_level lv = bnbq_cpu_simd_level();
        memset(&t, 0, sizeof t);
        t.a = a; t.b = b; t.c = c; t.M = M; t.N = N; t.K = K;
        sec = time_call(run_int8_mm, &t);
        print_line("int8_linear_matmul 64x4096x4096", sec, by, ops);
#if defined(BNBQ__X86_SIMD)
        if (lv == BNBQ_SIMD_AVX512 && bnbq__simd_vnni) {   /* the AVX-512BW path of CPUs without VNNI */
            bnbq__simd_vnni = 0;
            print_line("int8_linear_matmul 64x4096x4096 no vnni", time_call(run_int8_mm, &t), by, ops);
            bnbq__simd_vnni = 1;
        }
#endif
        if (lv != BNBQ_SIMD_SCALAR) {   /* the scalar reference in the same process: the speed-up */
            double ssec;
            bnbq_cpu_set_simd_level(BNBQ_SIMD_SCALAR);
            ssec = time_call(run_int8_mm, &t);
            bnbq_cpu_set_simd_level(lv);
            print_line("int8_linear_matmul 64x4096x4096 scalar", ssec, by, ops);
            printf("%-44s %9.1fx\n", "int8_linear_matmul speed-up over scalar", ssec / sec);
        }
        free(a); free(b); free(c);
    }

    printf("\ntotal %.1f s\n", now_s() - t_start);
    if (g_pool) bnbq_thread_pool_destroy(g_pool);
    if (g_mc_fn) { free((void*)((mc_ctx*)g_mc_ctx)->src); free(((mc_ctx*)g_mc_ctx)->dst); }
    free(xf); free(xh); free(xb); free(q); free(absmax); free(out);
    return 0;
}
