/* bench_gpu.c - speed of bnbq's CUDA backend against the GPU's own copy bandwidth, with the
   bitsandbytes figures and bnbq's targets beside each line.

   Build and run:  make bench-gpu   (about 1-2 minutes on an H100; prints a compact table last)
       cc -std=c99 -O2 -I. bench/bench_gpu.c -o build/bench_gpu -lm -ldl -lpthread
   build/bench_gpu [--runs N] [--warmup N] [--log2n K] [--csv FILE] [--smoke] [--only A,B,...]
   (--only: just the configurations whose name contains one of the words, e.g. --only gemv,int8;
   --flush: how the L2 is emptied before each timed call, see flush_l2; default read;
   --gemv-fast: the context's bnbq_cuda_desc.gemv_fast_order = 1, for the gemv lines;
   --no-pdl: plain launches where bnbq would use programmatic dependent launch, for comparison)

   Method:
   - every operation runs on 2^26 elements (f32 / f16 / bf16 where the operation takes them);
     LLM.int8 quantization on 4096 x 4096 and 4096 x 14336 f16 with ~0.1% outliers (1% of the
     columns carry values |x| in [6, 20) in every tenth row; threshold 6.0); 4-bit gemv on
     8192 x 8192, 14336 x 4096 and 4096 x 14336 NF4 weights (blocksize 64) with one token.
   - each configuration: one first call (host clock + synchronize: it compiles or loads the kernel),
     `warmup` calls, then `runs` calls (default 50), each timed alone with CUDA events
     (bnbq_cuda_event_*); before every timed call a read-only pass over 256 MB flushes the L2
     (50 MB on an H100) outside the events (flush_l2; --flush memset for the older memset). The
     median is reported. A single call timed alone includes the launch latency (about 3 us on an
     H100, measured with an empty kernel), which is most of the gap to the copy rate for the
     small operations; so the gemv and LLM.int8 lines have a second figure, "back-to-back,
     rotated" (time_b2b): the calls queued one after another over several copies of their
     buffers (together >= 3 x the L2, so nothing is served from it), ms per call, median of reps;
     and under it "D2D copy of as many bytes, same way": cuMemcpy device-to-device calls moving the
     operation's byte count (half read, half written) queued the same way over the same buffers,
     the copy's own fraction of the 1 GiB rate at this size (measured 81 % for 8192 x 8192 NF4's
     37.7 MB on an H100: the ceiling the 80 % targets sit against).
   - GB/s = (bytes read + bytes written) / time, GB = 1e9 B; gemv counts the weight bytes (packed
     codes + absmax) only. "copy" is a large device-to-device cuMemcpy (1 GiB, read + written)
     measured in the same process the same way; each line gives its fraction of that.
   - compile: a context on an empty temporary cache directory; every configuration's first call is
     timed, and bnbq_cuda_stats_get gives compile_seconds (wall) / units_compiled.
   - warm load: that context is released (the CUDA context goes with it), then a new context on the
     populated cache (host-converted small inputs, so no kernel runs before) calls every
     configuration once with one synchronize at the end (pass 1: every kernel is read from disk and
     loaded), then the same calls again (steady state, best of two). The load cost is pass 1 minus
     the steady pass; the slowest single call (host time) and the stats (units from disk,
     load_seconds wall, and where it went: key, file read + checks, cuModuleLoadData,
     cuModuleGetFunction, cuFuncLoad) are printed. Done with bnbq's cuFuncLoad on, off, and on again
     (a new context each); the reported figure is the better of the two "on" contexts. Then once
     more from a new process (bench_gpu --warm-cache DIR runs itself): bnbq_cuda_init (libcuda,
     cuInit, the CUDA context) timed apart, the load cost as above, and whether NVRTC was opened.
   - cold compile: NVRTC 12.9+ answers a repeated compilation from the driver's cache; when NVRTC
     accepts -no-cache, every unit is compiled with it (bnbq's internal bnbq__cu_nvrtc_extra).
   - inputs: random normal data (never zeros); dequantize inputs are random codes and positive
     block maxima.
   Header: GPU, driver, NVRTC, git commit (the BNBQ_GIT_COMMIT environment variable, which
   `make bench-gpu` sets, else -DBNBQ_GIT_COMMIT='"..."' at build time), date.
   --smoke: tiny sizes and 2 runs (checks that the program runs, e.g. in CI against a fake driver;
   its numbers mean nothing). Exit status 0 when the GPU could be set up and the copy
   measured (operations the backend lacks are listed as "not supported"); 2 without a GPU. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tests/rm_tree.h"

#ifndef BNBQ_GIT_COMMIT
#define BNBQ_GIT_COMMIT ""
#endif

static bnbq_cuda* g_ctx;
static bnbq_exec g_ex;
static int g_runs = 50, g_warmup = 5, g_smoke;
static size_t g_n = (size_t)1 << 26;
static void* g_flush;
static size_t g_flush_bytes = (size_t)256 << 20;
static double g_copy_gbs;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char* what, bnbq_result r) {
    printf("bench_gpu: %s: %s (%s)\n", what, bnbq_result_description(r), bnbq_result_name(r));
    exit(1);
}
#define TRY(what, call) do { bnbq_result r_ = (call); if (r_ != BNBQ_SUCCESS) die(what, r_); } while (0)

static void* dalloc(size_t bytes) {
    void* p = NULL;
    TRY("bnbq_cuda_malloc", bnbq_cuda_malloc(g_ctx, bytes ? bytes : 1, &p));
    return p;
}
static void upload(void* d, const void* h, size_t bytes) {
    TRY("copy to the device", bnbq_cuda_memcpy(&g_ex, d, h, bytes, BNBQ_COPY_HOST_TO_DEVICE));
    TRY("synchronize", bnbq_cuda_synchronize(&g_ex));
}

/* ---- random data ------------------------------------------------------------------------------- */

#define RNG_NORMAL_SEED 0xbe5c4ull
#include "../tests/rng_normal.h"
static void fill_bytes(unsigned char* p, size_t n) {
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) { uint64_t v = rng_u64(); memcpy(p + i, &v, 8); }
    for (; i < n; i++) p[i] = (unsigned char)rng_u64();
}

/* ---- configurations ---------------------------------------------------------------------------- */

enum kind { K_CONVERT, K_QBLOCK, K_DQBLOCK, K_Q4, K_DQ4, K_I8VQ, K_GEMV };
enum target { T_NONE, T_QUANT, T_DEQUANT, T_INT8, T_GEMV };

typedef struct cfg {
    enum kind k;
    bnbq_dtype dt, dt2;
    bnbq_quant_type qt;
    int bs;
    size_t n, rows, cols;           /* gemv: rows = N (out), cols = K (in) */
    float thr;
    enum target target;
    const char* anchor;             /* bitsandbytes' figure */
    char name[64];
    double bytes;                   /* counted bytes of one call */
    bnbq_result status;
    double first_ms, median_ms, min_ms, gbs, frac;
    double b2b_ms, b2b_frac;        /* back-to-back with rotated inputs (gemv, LLM.int8); 0: not run */
    double b2b_copy_ms;             /* D2D copies moving as many bytes, back to back the same way */
    int b2b_copies;
} cfg;

#define MAX_CFG 96
static cfg g_cfg[MAX_CFG];
static int g_ncfg;

static cfg* add(enum kind k, bnbq_dtype dt, int bs, const char* anchor, enum target t) {
    cfg* c = &g_cfg[g_ncfg++];
    memset(c, 0, sizeof *c);
    c->k = k; c->dt = dt; c->bs = bs; c->anchor = anchor; c->target = t; c->n = g_n;
    return c;
}

/* device buffers shared by the configurations (big: for timing; small: for the warm load) */
typedef struct bufs {
    void* x[3];          /* inputs in f32, f16, bf16 (n elements) */
    void* q;             /* n bytes: codes */
    void* absmax;        /* n/32 floats */
    void* out;           /* n * 4 bytes */
    void* a16;           /* int8 input, 4096 x 14336 f16 */
    void* ca;            /* int8 codes */
    void* rs;            /* row stats */
    void* oc;            /* outlier columns + count */
    void* wp;            /* gemv packed weight */
    void* wa;            /* gemv absmax */
    void* va;            /* gemv activation (K) */
    void* vo;            /* gemv output (N) */
    size_t n;
    int shaped;          /* 1: the configurations' own shapes (g_big and its copies); 0: tiny (g_small) */
} bufs;
static bufs g_big, g_small;

static int dt_index(bnbq_dtype dt) { return dt == BNBQ_F16 ? 1 : dt == BNBQ_BF16 ? 2 : 0; }

static bnbq_result run_cfg(bnbq_exec* ex, const cfg* c, const bufs* b) {
    size_t n = b->n;
    switch (c->k) {
        case K_CONVERT:
            return bnbq_convert(ex, c->dt, b->x[dt_index(c->dt)], n, c->dt2, b->out);
        case K_QBLOCK:
            return bnbq_quantize_blockwise(ex, NULL, c->dt, b->x[dt_index(c->dt)], n, c->bs, (uint8_t*)b->q, (float*)b->absmax);
        case K_DQBLOCK:
            return bnbq_dequantize_blockwise(ex, NULL, c->dt, (const uint8_t*)b->q, (const float*)b->absmax, n, c->bs, b->out);
        case K_Q4:
            return bnbq_quantize_4bit(ex, c->qt, c->dt, b->x[dt_index(c->dt)], n, c->bs, (uint8_t*)b->q, (float*)b->absmax);
        case K_DQ4:
            return bnbq_dequantize_4bit(ex, c->qt, c->dt, (const uint8_t*)b->q, (const float*)b->absmax, n, c->bs, b->out);
        case K_I8VQ: {
            size_t rows = b->shaped ? c->rows : 4, cols = b->shaped ? c->cols : 64;
            return bnbq_int8_vectorwise_quant(ex, BNBQ_F16, b->a16, rows, cols, c->thr, (int8_t*)b->ca, (float*)b->rs,
                                              (int32_t*)b->oc, (int32_t*)b->oc + cols);
        }
        case K_GEMV: {
            size_t N = b->shaped ? c->rows : 16, K = b->shaped ? c->cols : 256;
            return bnbq_gemv_4bit(ex, c->qt, c->dt, b->va, (const uint8_t*)b->wp, (const float*)b->wa, N, K, c->bs, b->vo,
                                  NULL, NULL);
        }
    }
    return BNBQ_ERROR_INVALID_ARGS;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}
/* the median of v[0 .. n) (n > 0), sorting v */
static double median_sorting(double* v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The L2 flush, outside the timed events. Default ("read"): a read-only pass over the 256 MB
   buffer (bnbq_gemv_4bit with the buffer as packed 4-bit weights, K = 32768, blocksize 4096: it
   reads the buffer and writes a few KB), so the L2 holds only clean lines of other data when the
   timed call starts. "memset" (--flush memset, the method of earlier results): a 256 MB memset,
   which leaves the L2 full of dirty lines; the timed call then also pays their write-back
   (measured: a 160 MiB cuMemcpy gets 94% of the 1 GiB copy's bandwidth after it, 99% after a
   read-only pass), which is not part of the operation. */
static int g_flush_memset;
static int g_gemv_fast;   /* --gemv-fast: bnbq_cuda_desc.gemv_fast_order = 1 */
static void* g_flush_absmax;
static void* g_flush_act;
static void* g_flush_out;
#define FLUSH_K ((size_t)32768)
static void flush_l2(void) {
    if (g_flush_memset || !g_flush_absmax) {
        TRY("flush memset", bnbq_cuda_memset(&g_ex, g_flush, (int)(rng_u64() & 255), g_flush_bytes));
    } else {
        const size_t N = g_flush_bytes * 2 / FLUSH_K;
        TRY("flush read", bnbq_gemv_4bit(&g_ex, BNBQ_NF4, BNBQ_F16, g_flush_act, (const uint8_t*)g_flush, (const float*)g_flush_absmax,
                                         N, FLUSH_K, 4096, g_flush_out, NULL, NULL));
    }
}

/* median ms of `runs` calls of a configuration (or the copy when c == NULL) */
static double time_calls(const cfg* c, void* copy_dst, const void* copy_src, size_t copy_bytes, double* min_ms,
                         bnbq_result* status) {
    int i, runs = g_runs;
    void** ev = (void**)malloc(sizeof(void*) * 2 * (size_t)runs);
    double* ms = (double*)malloc(sizeof(double) * (size_t)runs);
    double med;
    *status = BNBQ_SUCCESS;
    if (!ev || !ms) die("out of memory", BNBQ_ERROR_OUT_OF_MEMORY);
    for (i = 0; i < 2 * runs; i++) TRY("event_create", bnbq_cuda_event_create(g_ctx, &ev[i]));
    for (i = 0; i < g_warmup && *status == BNBQ_SUCCESS; i++)
        *status = c ? run_cfg(&g_ex, c, &g_big)
                    : bnbq_cuda_memcpy(&g_ex, copy_dst, copy_src, copy_bytes, BNBQ_COPY_DEVICE_TO_DEVICE);
    for (i = 0; i < runs && *status == BNBQ_SUCCESS; i++) {
        flush_l2();
        TRY("event_record", bnbq_cuda_event_record(&g_ex, ev[2 * i]));
        *status = c ? run_cfg(&g_ex, c, &g_big)
                    : bnbq_cuda_memcpy(&g_ex, copy_dst, copy_src, copy_bytes, BNBQ_COPY_DEVICE_TO_DEVICE);
        TRY("event_record", bnbq_cuda_event_record(&g_ex, ev[2 * i + 1]));
    }
    if (*status == BNBQ_SUCCESS) *status = bnbq_cuda_synchronize(&g_ex);
    med = NAN;
    if (*status == BNBQ_SUCCESS) {
        for (i = 0; i < runs; i++) {
            float t = 0.0f;
            TRY("event_elapsed", bnbq_cuda_event_elapsed_ms(g_ctx, ev[2 * i], ev[2 * i + 1], &t));
            ms[i] = t;
        }
        med = median_sorting(ms, runs);
        if (min_ms) *min_ms = ms[0];
    }
    bnbq_cuda_synchronize(&g_ex);
    for (i = 0; i < 2 * runs; i++) bnbq_cuda_event_destroy(g_ctx, ev[i]);
    free(ev);
    free(ms);
    return med;
}

/* Back-to-back timing with rotated inputs, for the operations whose data is smaller than a few
   L2s (gemv, LLM.int8): `copies` sets of their device buffers (the first is g_big, the others
   copies of it) so that the sets together are >= 3 x the L2; one rep = 8 rounds over the sets,
   every call queued right after the previous one with no flush between (what a program that runs
   one kernel after another sees: the launch latency overlaps the previous call), between two
   events. Returns the median over reps of ms per call, 0 when the configuration is not such an
   operation or a call fails. */
static size_t g_l2_bytes;

/* buffers of `bytes` each that together cover 3 L2s: at least 2, at most max */
static int l2_cover(double bytes, int max) {
    int n = (int)ceil(3.0 * (double)(g_l2_bytes ? g_l2_bytes : (size_t)50 << 20) / bytes);
    return n < 2 ? 2 : n > max ? max : n;
}

/* what one queued call of time_queued does: the operation on input set k % copies, or a copy of
   `half` bytes from that set's input to buffer k % nd of its own ring */
typedef struct b2b_calls {
    cfg* c;
    bufs* set;
    int copies;
    void** ring;   /* NULL: the operation */
    int nd;
    size_t half;
} b2b_calls;
static int b2b_call(const b2b_calls* q, int k) {
    const bufs* s = &q->set[k % q->copies];
    if (!q->ring) return run_cfg(&g_ex, q->c, s) == BNBQ_SUCCESS;
    return bnbq_cuda_memcpy(&g_ex, q->ring[k % q->nd], q->c->k == K_GEMV ? s->wp : s->a16, q->half,
                            BNBQ_COPY_DEVICE_TO_DEVICE) == BNBQ_SUCCESS;
}
/* median over reps of ms per call of `calls` calls queued between the events e0 and e1 (an L2 flush
   before each rep); 0 when a call or the timing fails */
static double time_queued(const b2b_calls* q, int calls, int reps, void* e0, void* e1) {
    double ms[64];
    int rep, k, ok = 1;
    for (rep = 0; rep < reps && ok; rep++) {
        float t = 0.0f;
        flush_l2();
        TRY("event_record", bnbq_cuda_event_record(&g_ex, e0));
        for (k = 0; k < calls && ok; k++) ok = b2b_call(q, k);
        TRY("event_record", bnbq_cuda_event_record(&g_ex, e1));
        ok = ok && bnbq_cuda_synchronize(&g_ex) == BNBQ_SUCCESS &&
             bnbq_cuda_event_elapsed_ms(g_ctx, e0, e1, &t) == BNBQ_SUCCESS;
        ms[rep] = (double)t / calls;
    }
    return ok ? median_sorting(ms, reps) : 0.0;
}

static double time_b2b(cfg* c) {
    enum { MAXC = 16, ROUNDS = 8, MAXD = 16 };
    bufs set[MAXC];
    b2b_calls q;
    double foot = c->bytes, med = 0.0;
    int copies, k, reps = g_runs / 5 < 5 ? 5 : g_runs / 5 > 64 ? 64 : g_runs / 5, ok = 1;
    void *e0 = NULL, *e1 = NULL;
    if (c->k != K_GEMV && c->k != K_I8VQ) return 0.0;
    if (c->k == K_I8VQ) foot = 3.0 * (double)c->rows * (double)c->cols;
    copies = l2_cover(foot, MAXC);
    c->b2b_copies = copies;
    set[0] = g_big;
    for (k = 1; k < copies; k++) {
        set[k] = g_big;
        if (c->k == K_GEMV) {
            size_t wb = c->rows * c->cols / 2, ab = (c->rows * c->cols / (size_t)c->bs) * 4;
            set[k].wp = dalloc(wb); set[k].wa = dalloc(ab); set[k].vo = dalloc(c->rows * 4);
            TRY("copy", bnbq_cuda_memcpy(&g_ex, set[k].wp, g_big.wp, wb, BNBQ_COPY_DEVICE_TO_DEVICE));
            TRY("copy", bnbq_cuda_memcpy(&g_ex, set[k].wa, g_big.wa, ab, BNBQ_COPY_DEVICE_TO_DEVICE));
        } else {
            size_t e = c->rows * c->cols;
            set[k].a16 = dalloc(e * 2); set[k].ca = dalloc(e); set[k].rs = dalloc(c->rows * 4);
            set[k].oc = dalloc((c->cols + 1) * 4);
            TRY("copy", bnbq_cuda_memcpy(&g_ex, set[k].a16, g_big.a16, e * 2, BNBQ_COPY_DEVICE_TO_DEVICE));
        }
    }
    TRY("event_create", bnbq_cuda_event_create(g_ctx, &e0));
    TRY("event_create", bnbq_cuda_event_create(g_ctx, &e1));
    for (k = 0; k < copies && ok; k++) ok = run_cfg(&g_ex, c, &set[k]) == BNBQ_SUCCESS;   /* warm-up */
    q.c = c; q.set = set; q.copies = copies; q.ring = NULL; q.nd = 0; q.half = 0;
    if (ok) med = time_queued(&q, ROUNDS * copies, reps, e0, e1);
    /* the reference at this size: device-to-device copies moving as many bytes (c->bytes / 2 read and
       written), queued back to back the same way: each reads the next input set (nothing writes
       those) and writes the next buffer of its own ring (>= 3 L2s, so that no copy reads lines a
       recent one left in the L2 and the written lines go back to memory) */
    c->b2b_copy_ms = 0.0;
    if (med > 0.0) {
        void* ring[MAXD];
        int d;
        q.half = (size_t)(c->bytes / 2.0) & ~(size_t)15;
        q.nd = l2_cover((double)q.half, MAXD);
        for (d = 0; d < q.nd; d++) ring[d] = dalloc(q.half);
        q.ring = ring;
        c->b2b_copy_ms = time_queued(&q, ROUNDS * copies, reps, e0, e1);
        bnbq_cuda_synchronize(&g_ex);
        for (d = 0; d < q.nd; d++) bnbq_cuda_free(g_ctx, ring[d]);
    }
    bnbq_cuda_synchronize(&g_ex);
    bnbq_cuda_event_destroy(g_ctx, e0);
    bnbq_cuda_event_destroy(g_ctx, e1);
    for (k = 1; k < copies; k++) {
        if (c->k == K_GEMV) { bnbq_cuda_free(g_ctx, set[k].wp); bnbq_cuda_free(g_ctx, set[k].wa); bnbq_cuda_free(g_ctx, set[k].vo); }
        else {
            bnbq_cuda_free(g_ctx, set[k].a16); bnbq_cuda_free(g_ctx, set[k].ca);
            bnbq_cuda_free(g_ctx, set[k].rs); bnbq_cuda_free(g_ctx, set[k].oc);
        }
    }
    return med;
}

static const char* target_text(enum target t) {
    switch (t) {
        case T_QUANT: return ">=85%";
        case T_DEQUANT: return ">=92%";
        case T_INT8: return ">=80%";
        case T_GEMV: return ">=80%";
        default: return "-";
    }
}
static double target_frac(enum target t) {
    switch (t) {
        case T_QUANT: return 0.85;
        case T_DEQUANT: return 0.92;
        case T_INT8: case T_GEMV: return 0.80;
        default: return 0.0;
    }
}

static void bytes_of(cfg* c) {
    double n = (double)c->n, es = (double)bnbq_dtype_size(c->dt);
    switch (c->k) {
        case K_CONVERT: c->bytes = n * (es + (double)bnbq_dtype_size(c->dt2)); break;
        case K_QBLOCK: c->bytes = n * es + n + 4.0 * ceil(n / c->bs); break;
        case K_DQBLOCK: c->bytes = n + 4.0 * ceil(n / c->bs) + n * es; break;
        case K_Q4: c->bytes = n * es + ceil(n / 2) + 4.0 * ceil(n / c->bs); break;
        case K_DQ4: c->bytes = ceil(n / 2) + 4.0 * ceil(n / c->bs) + n * es; break;
        case K_I8VQ: {
            double e = (double)c->rows * (double)c->cols;
            c->bytes = 2.0 * e + e + 4.0 * (double)c->rows;
            break;
        }
        case K_GEMV: {
            double e = (double)c->rows * (double)c->cols;
            c->bytes = e / 2.0 + 4.0 * e / c->bs;   /* weight bytes */
            break;
        }
    }
}

static void setup_configs(void) {
    static const int bs8[3] = { 64, 256, 4096 };
    static const int bs4[2] = { 64, 128 };
    static const char* qb_bf16[3] = { "bnb 11% (bf16)", "bnb 17% (bf16)", "bnb 18% (bf16)" };
    static const size_t gemv_shapes[3][2] = { { 8192, 8192 }, { 14336, 4096 }, { 4096, 14336 } };
    int d, b, q, s;
    cfg* c;
    c = add(K_CONVERT, BNBQ_F32, 0, "-", T_NONE); c->dt2 = BNBQ_F16; snprintf(c->name, sizeof c->name, "convert f32->f16");
    c = add(K_CONVERT, BNBQ_F32, 0, "-", T_NONE); c->dt2 = BNBQ_BF16; snprintf(c->name, sizeof c->name, "convert f32->bf16");
    for (d = 0; d < 3; d++)
        for (b = 0; b < 3; b++) {
            bnbq_dtype dt = d == 0 ? BNBQ_F32 : d == 1 ? BNBQ_F16 : BNBQ_BF16;
            c = add(K_QBLOCK, dt, bs8[b], d == 2 ? qb_bf16[b] : "-", T_QUANT);
            snprintf(c->name, sizeof c->name, "quantize_blockwise %s bs%d", bnbq_dtype_name(dt), bs8[b]);
        }
    for (d = 0; d < 3; d++)
        for (b = 0; b < 3; b++) {
            bnbq_dtype dt = d == 0 ? BNBQ_F32 : d == 1 ? BNBQ_F16 : BNBQ_BF16;
            c = add(K_DQBLOCK, dt, bs8[b], d == 0 ? "bnb 82-84% (f32)" : d == 2 ? "bnb 63-64% (bf16)" : "-", T_DEQUANT);
            snprintf(c->name, sizeof c->name, "dequantize_blockwise %s bs%d", bnbq_dtype_name(dt), bs8[b]);
        }
    for (q = 1; q >= 0; q--)
        for (b = 0; b < 2; b++)
            for (d = 0; d < 3; d++) {
                bnbq_dtype dt = d == 0 ? BNBQ_F32 : d == 1 ? BNBQ_F16 : BNBQ_BF16;
                c = add(K_Q4, dt, bs4[b], q ? (b == 0 ? "bnb 9% (nf4 bs64)" : "bnb 18% (nf4 bs128)") : "-", T_QUANT);
                c->qt = q ? BNBQ_NF4 : BNBQ_FP4;
                snprintf(c->name, sizeof c->name, "quantize_4bit %s %s bs%d", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bs4[b]);
            }
    for (q = 1; q >= 0; q--)
        for (b = 0; b < 2; b++)
            for (d = 0; d < 3; d++) {
                bnbq_dtype dt = d == 0 ? BNBQ_F32 : d == 1 ? BNBQ_F16 : BNBQ_BF16;
                c = add(K_DQ4, dt, bs4[b], "bnb 66-70%", T_DEQUANT);
                c->qt = q ? BNBQ_NF4 : BNBQ_FP4;
                snprintf(c->name, sizeof c->name, "dequantize_4bit %s %s bs%d", q ? "nf4" : "fp4", bnbq_dtype_name(dt), bs4[b]);
            }
    for (s = 0; s < 2; s++) {
        c = add(K_I8VQ, BNBQ_F16, 0, "bnb 0.08-0.47 ms", T_INT8);
        c->rows = 4096; c->cols = s ? 14336 : 4096; c->thr = 6.0f;
        if (g_smoke) { c->rows = 64; c->cols = s ? 224 : 64; }
        snprintf(c->name, sizeof c->name, "int8_vectorwise_quant %zux%zu thr6", c->rows, c->cols);
    }
    for (s = 0; s < 3 && !g_smoke; s++) {   /* a few tokens (decoding): the latency of the call */
        c = add(K_I8VQ, BNBQ_F16, 0, "-", T_NONE);
        c->rows = s == 0 ? 16 : s == 1 ? 128 : 512; c->cols = 4096; c->thr = 6.0f;
        snprintf(c->name, sizeof c->name, "int8_vectorwise_quant %zux%zu thr6", c->rows, c->cols);
    }
    for (d = 1; d < 3; d++)
        for (s = 0; s < 3; s++) {
            bnbq_dtype dt = d == 1 ? BNBQ_F16 : BNBQ_BF16;
            c = add(K_GEMV, dt, 64, "bnb 600-950 GB/s", T_GEMV);
            c->qt = BNBQ_NF4;
            c->rows = gemv_shapes[s][0]; c->cols = gemv_shapes[s][1];
            if (g_smoke) { c->rows /= 16; c->cols /= 16; }
            snprintf(c->name, sizeof c->name, "gemv_4bit nf4 %s %zux%zu", bnbq_dtype_name(dt), c->rows, c->cols);
        }
    for (d = 0; d < g_ncfg; d++) bytes_of(&g_cfg[d]);
}

/* ---- buffers ----------------------------------------------------------------------------------- */

/* n elements per op; an int8 input of up to i8_rows x i8_cols; a gemv weight of up to w_elems
   elements with vectors of up to vmax */
/* host_only: f16 / bf16 inputs converted on the host (no bnbq kernel runs: the warm-load section
   must not load one before it measures) */
static void make_bufs(bufs* b, size_t n, size_t i8_rows, size_t i8_cols, size_t w_elems, size_t vmax, int host_only) {
    size_t i, gk = vmax;
    memset(b, 0, sizeof *b);
    b->n = n;
    b->x[0] = dalloc(n * 4); b->x[1] = dalloc(n * 2); b->x[2] = dalloc(n * 2);
    b->q = dalloc(n);
    b->absmax = dalloc((n / 32 + 1) * 4);
    b->out = dalloc(n * 4);
    b->a16 = dalloc(i8_rows * i8_cols * 2);
    b->ca = dalloc(i8_rows * i8_cols);
    b->rs = dalloc(i8_rows * 4);
    b->oc = dalloc((i8_cols + 1) * 4);
    b->wp = dalloc(w_elems / 2);
    b->wa = dalloc((w_elems / 64 + 1) * 4);
    b->va = dalloc(vmax * 4);
    b->vo = dalloc(vmax * 4);
    if (w_elems / 2 > n) die("the gemv weight does not fit the code buffer", BNBQ_ERROR_INVALID_ARGS);
    {
        float* x = (float*)malloc(n * 4);
        unsigned char* q = (unsigned char*)malloc(n);
        float* a = (float*)malloc((n / 32 + 1) * 4);
        float* w = (float*)malloc((w_elems / 64 + 1) * 4);
        float* v = (float*)malloc(gk * 4);
        bnbq_result r;
        if (!x || !q || !a || !w || !v) die("out of host memory", BNBQ_ERROR_OUT_OF_MEMORY);
        fill_normal(x, n, 1.0f);
        upload(b->x[0], x, n * 4);
        /* f16 / bf16 on the device (bnbq_convert), else on the host */
        r = host_only ? BNBQ_ERROR_NOT_SUPPORTED : bnbq_convert(&g_ex, BNBQ_F32, b->x[0], n, BNBQ_F16, b->x[1]);
        if (r == BNBQ_SUCCESS) r = bnbq_convert(&g_ex, BNBQ_F32, b->x[0], n, BNBQ_BF16, b->x[2]);
        if (r == BNBQ_SUCCESS) r = bnbq_cuda_synchronize(&g_ex);
        if (r != BNBQ_SUCCESS) {
            uint16_t* h = (uint16_t*)malloc(n * 2);
            if (!h) die("out of host memory", BNBQ_ERROR_OUT_OF_MEMORY);
            bnbq_convert(NULL, BNBQ_F32, x, n, BNBQ_F16, h); upload(b->x[1], h, n * 2);
            bnbq_convert(NULL, BNBQ_F32, x, n, BNBQ_BF16, h); upload(b->x[2], h, n * 2);
            free(h);
        }
        fill_bytes(q, n);
        upload(b->q, q, n);
        for (i = 0; i < n / 32 + 1; i++) a[i] = 0.5f + (float)rng_uniform();
        upload(b->absmax, a, (n / 32 + 1) * 4);
        fill_bytes(q, w_elems / 2);
        upload(b->wp, q, w_elems / 2);
        for (i = 0; i < w_elems / 64 + 1; i++) w[i] = 0.01f + 0.05f * (float)rng_uniform();
        upload(b->wa, w, (w_elems / 64 + 1) * 4);
        fill_normal(v, gk, 1.0f);
        {   /* the activation in the gemv dtype is set per configuration (f16 / bf16): keep f32 here */
            uint16_t* h = (uint16_t*)malloc(gk * 2);
            if (!h) die("out of host memory", BNBQ_ERROR_OUT_OF_MEMORY);
            bnbq_convert(NULL, BNBQ_F32, v, gk, BNBQ_F16, h);
            upload(b->va, h, gk * 2);
            free(h);
        }
        free(x); free(q); free(a); free(w); free(v);
    }
}

static void free_bufs(bufs* b) {
    void** all[14];
    int i;
    all[0] = &b->x[0]; all[1] = &b->x[1]; all[2] = &b->x[2]; all[3] = &b->q; all[4] = &b->absmax; all[5] = &b->out;
    all[6] = &b->a16; all[7] = &b->ca; all[8] = &b->rs; all[9] = &b->oc; all[10] = &b->wp; all[11] = &b->wa;
    all[12] = &b->va; all[13] = &b->vo;
    for (i = 0; i < 14; i++) {
        if (*all[i]) bnbq_cuda_free(g_ctx, *all[i]);
        *all[i] = NULL;
    }
}

/* the LLM.int8 input of rows x cols: normal data, 1% of the columns with |x| in [6, 20) in every
   tenth row (~0.1% of the elements) */
static void fill_int8_input(void* dev, size_t rows, size_t cols) {
    size_t n = rows * cols, r, c, outl = 0;
    float* x = (float*)malloc(n * 4);
    uint16_t* h = (uint16_t*)malloc(n * 2);
    if (!x || !h) die("out of host memory", BNBQ_ERROR_OUT_OF_MEMORY);
    fill_normal(x, n, 1.0f);
    for (c = 0; c < cols; c++) {
        if (rng_u64() % 100 != 0) continue;
        for (r = (size_t)(rng_u64() % 10); r < rows; r += 10) {
            x[r * cols + c] = (float)((rng_u64() & 1) ? 1 : -1) * (6.0f + 14.0f * (float)rng_uniform());
            outl++;
        }
    }
    bnbq_convert(NULL, BNBQ_F32, x, n, BNBQ_F16, h);
    upload(dev, h, n * 2);
    printf("  int8 input %zux%zu: %zu outliers (%.3f%%)\n", rows, cols, outl, 100.0 * (double)outl / (double)n);
    free(x);
    free(h);
}

/* keeps the configurations whose name contains one of the comma-separated words */
static void filter_configs(const char* only) {
    int kept = 0, i;
    for (i = 0; i < g_ncfg; i++) {
        const char* p = only;
        int keep = 0;
        while (*p && !keep) {
            size_t len = strcspn(p, ",");
            char word[128];
            if (len > 0 && len < sizeof word) {
                memcpy(word, p, len);
                word[len] = 0;
                keep = strstr(g_cfg[i].name, word) != NULL;
            }
            p += len + (p[len] == ',');
        }
        if (keep) g_cfg[kept++] = g_cfg[i];
    }
    g_ncfg = kept;
}

/* 1 when NVRTC compiles an empty kernel with this option */
static int nvrtc_accepts(const char* opt) {
    bnbq__nvrtcProgram prog = NULL;
    const char* opts[1];
    int ok;
    if (!BNBQ__NV.loaded) return 0;
    opts[0] = opt;
    if (BNBQ__NV.bnbq__nvrtcCreateProgram(&prog, "extern \"C\" __global__ void k(void) {}\n", "probe.cu", 0, NULL,
                                          NULL) != 0)
        return 0;
    ok = BNBQ__NV.bnbq__nvrtcCompileProgram(prog, 1, opts) == 0;
    BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
    return ok;
}

/* ---- warm load ---------------------------------------------------------------------------------- */

/* One pass over every supported configuration on ex (small inputs), one synchronize at the end:
   the pass's wall ms; *max_call the slowest call's host ms (without a synchronize). */
static double warm_pass(bnbq_exec* ex, double* max_call, int* failures) {
    double t0 = now_s(), t;
    int i;
    *max_call = 0.0;
    for (i = 0; i < g_ncfg; i++) {
        double tc;
        if (g_cfg[i].status != BNBQ_SUCCESS) continue;
        bnbq_result r;
        tc = now_s();
        r = run_cfg(ex, &g_cfg[i], &g_small);
        if (r != BNBQ_SUCCESS && r != BNBQ_ERROR_NOT_SUPPORTED) (*failures)++;
        tc = (now_s() - tc) * 1e3;
        if (tc > *max_call) *max_call = tc;
    }
    if (bnbq_cuda_synchronize(ex) != BNBQ_SUCCESS) (*failures)++;
    t = (now_s() - t0) * 1e3;
    return t;
}

/* A new context on the populated cache (dir): pass 1 calls every configuration once (each kernel
   is read from disk and loaded), pass 2 the same calls again (steady state); the load cost is the
   difference. func_load: bnbq's cuFuncLoad after cuModuleGetFunction (on / off). Returns the load
   cost in ms. */
static double warm_context(const char* dir, int func_load, const char* label) {
    bnbq_cuda_desc d;
    bnbq_cuda_stats st;
    bnbq__cu_timing tm;
    bnbq_exec ex;
    double t0, t_init, p1, p2, p3, m1, m2, m3;
    int fails = 0, mode = 0;
    memset(&d, 0, sizeof d);
    d.cache_dir = dir;
    bnbq__cu_func_load = func_load;
    t0 = now_s();
    if (bnbq_cuda_init(&d, &g_ctx) != BNBQ_SUCCESS || bnbq_cuda_exec_init(g_ctx, NULL, &ex) != BNBQ_SUCCESS) {
        printf("  %s: no context\n", label);
        return NAN;
    }
    t_init = (now_s() - t0) * 1e3;
    g_ex = ex;
    make_bufs(&g_small, 4096, 4, 64, 16 * 256, 256, 1);   /* no bnbq kernel runs here */
    TRY("synchronize", bnbq_cuda_synchronize(&ex));
    p1 = warm_pass(&ex, &m1, &fails);
    memset(&st, 0, sizeof st);
    bnbq_cuda_stats_get(g_ctx, &st);
    tm = g_ctx->timing;
    p2 = warm_pass(&ex, &m2, &fails);
    p3 = warm_pass(&ex, &m3, &fails);
    if (p3 < p2) { p2 = p3; m2 = m3; }
    if (BNBQ__DRV.bnbq__cuModuleGetLoadingMode) BNBQ__DRV.bnbq__cuModuleGetLoadingMode(&mode);
    printf("  %s: bnbq_cuda_init (new CUDA context) %.1f ms; pass 1 %.2f ms (slowest call %.2f ms), steady pass "
           "%.2f ms (slowest call %.3f ms) -> load cost %.2f ms%s\n", label, t_init, p1, m1, p2, m2, p1 - p2,
           fails ? " (SOME CALLS FAILED)" : "");
    printf("    %d units from disk (%d compiled, %d rejected), %d modules; stats.load_seconds %.2f ms wall; of it: key %.2f, "
           "read+check %.2f, cuModuleLoadData %.2f (%d), cuModuleGetFunction %.2f, cuFuncLoad %.2f ms; driver loading "
           "mode %s\n", st.disk_hits, st.units_compiled, st.disk_rejected, st.modules, st.load_seconds * 1e3,
           tm.key * 1e3, tm.read * 1e3, tm.load * 1e3, tm.loads, tm.getfn * 1e3, tm.funcload * 1e3,
           mode == 2 ? "lazy" : mode == 1 ? "eager" : "unknown");
    free_bufs(&g_small);
    bnbq_exec_uninit(&ex);
    bnbq_cuda_uninit(g_ctx);
    g_ctx = NULL;
    bnbq__cu_func_load = 1;
    return p1 - p2;
}

/* The warm-load section (see the file comment). Returns the load cost of bnbq's default. */
static double warm_load(const char* dir) {
    double a, b;
    printf("\nwarm load (a new context on the cache the run filled; every configuration once, small inputs, one "
           "synchronize at the end; then the same calls again):\n");
    a = warm_context(dir, 1, "cuFuncLoad on (default)");
    if (BNBQ__DRV.bnbq__cuFuncLoad) {
        warm_context(dir, 0, "cuFuncLoad off");
        b = warm_context(dir, 1, "cuFuncLoad on, again");
        if (b < a) a = b;
    } else {
        printf("  (the driver has no cuFuncLoad)\n");
    }
    printf("warm load: %.2f ms for every kernel of the %d configurations (target <= 10 ms total)%s\n", a, g_ncfg,
           a <= 10.0 ? " met" : " MISSED");
    return a;
}

/* --warm-cache DIR (bench_gpu runs itself so): a NEW PROCESS on the cache the run filled. Times
   bnbq_cuda_init (dlopen of libcuda, cuInit, the CUDA context: the driver's, not kernel loading),
   then pass 1 / steady passes as warm_context, and says whether NVRTC was opened (it is not needed
   when every kernel is cached). */
static int warm_cache_main(const char* dir) {
    bnbq_cuda_desc d;
    bnbq_cuda_stats st;
    bnbq_exec ex;
    double t0, t_init, p1, p2, p3, m1, m2, m3;
    int fails = 0, i;
    for (i = 0; i < g_ncfg; i++) g_cfg[i].status = BNBQ_SUCCESS;
    memset(&d, 0, sizeof d);
    d.cache_dir = dir;
    t0 = now_s();
    if (bnbq_cuda_init(&d, &g_ctx) != BNBQ_SUCCESS || bnbq_cuda_exec_init(g_ctx, NULL, &ex) != BNBQ_SUCCESS) {
        printf("  new process: no context\n");
        return 1;
    }
    t_init = (now_s() - t0) * 1e3;
    g_ex = ex;
    make_bufs(&g_small, 4096, 4, 64, 16 * 256, 256, 1);
    TRY("synchronize", bnbq_cuda_synchronize(&ex));
    p1 = warm_pass(&ex, &m1, &fails);
    memset(&st, 0, sizeof st);
    bnbq_cuda_stats_get(g_ctx, &st);
    p2 = warm_pass(&ex, &m2, &fails);
    p3 = warm_pass(&ex, &m3, &fails);
    if (p3 < p2) { p2 = p3; m2 = m3; }
    printf("  new process: bnbq_cuda_init %.1f ms (libcuda, cuInit, CUDA context); pass 1 %.2f ms (slowest call %.2f ms), "
           "steady pass %.2f ms -> load cost %.2f ms; %d units from disk, %d compiled, stats.load_seconds %.2f ms; "
           "NVRTC opened: %s%s\n", t_init, p1, m1, p2, p1 - p2, st.disk_hits, st.units_compiled, st.load_seconds * 1e3,
           BNBQ__NV.loaded ? "yes" : "no", fails ? " (SOME CALLS FAILED)" : "");
    free_bufs(&g_small);
    bnbq_exec_uninit(&ex);
    bnbq_cuda_uninit(g_ctx);
    return fails != 0;
}

/* ---- main -------------------------------------------------------------------------------------- */


int main(int argc, char** argv) {
    bnbq_cuda_desc d;
    bnbq_cuda_device_info info;
    bnbq_cuda_stats cold;
    bnbq_result r;
    char dir[600], date[64];
    const char* csv = NULL;
    const char* only = NULL;
    const char* warm_dir = NULL;
    const char* commit = BNBQ_GIT_COMMIT;
    int i, unsupported = 0;
    double t_start = now_s(), warm_total = 0.0;
    size_t copy_bytes;
    void *c0, *c1;
    time_t tt = time(NULL);
    bnbq__cu_tier_force = -1;   /* the kernels timed are the full builds; the cold compile lines time them too */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) g_runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) g_warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--log2n") && i + 1 < argc) g_n = (size_t)1 << atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--flush") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "memset")) g_flush_memset = 1;
            else if (!strcmp(argv[i], "read")) g_flush_memset = 0;
            else { fprintf(stderr, "--flush read|memset\n"); return 2; }
        }
        else if (!strcmp(argv[i], "--smoke")) { g_smoke = 1; g_runs = 2; g_warmup = 1; g_n = (size_t)1 << 18; g_flush_bytes = (size_t)1 << 20; }
        else if (!strcmp(argv[i], "--warm-cache") && i + 1 < argc) warm_dir = argv[++i];
        else if (!strcmp(argv[i], "--no-cache")) bnbq__cu_nvrtc_extra = "-no-cache";
        else if (!strcmp(argv[i], "--tier-fast")) bnbq__cu_tier_force = 3;   /* time the fast builds of tiered compilation */
        else if (!strcmp(argv[i], "--gemv-fast")) g_gemv_fast = 1;
        else if (!strcmp(argv[i], "--no-pdl")) bnbq__cu_pdl_off = 1;
        else { fprintf(stderr, "usage: bench_gpu [--runs N] [--warmup N] [--log2n K] [--csv FILE] [--smoke] [--only A,B,...] "
                                "[--no-cache] [--warm-cache DIR] [--gemv-fast] [--no-pdl] [--tier-fast]\n"); return 2; }
    }
    if (g_runs < 1) g_runs = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (warm_dir) {   /* the child of the warm-load section */
        setup_configs();
        if (only) filter_configs(only);
        return warm_cache_main(warm_dir);
    }
    if (getenv("BNBQ_GIT_COMMIT") && *getenv("BNBQ_GIT_COMMIT")) commit = getenv("BNBQ_GIT_COMMIT");
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&tt));
    snprintf(dir, sizeof dir, "%s/bnbq_bench_cache_XXXXXX", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) { printf("bench_gpu: cannot make a temporary cache directory\n"); return 1; }

    memset(&d, 0, sizeof d);
    d.cache_dir = dir;                 /* empty: every kernel is compiled (cold) */
    d.gemv_fast_order = g_gemv_fast;
    r = bnbq_cuda_init(&d, &g_ctx);
    if (r != BNBQ_SUCCESS) {
        printf("bench_gpu: no GPU: %s (%s)\n", bnbq_result_description(r), bnbq_result_name(r));
        rm_tree(dir);
        return 2;
    }
    TRY("exec_init", bnbq_cuda_exec_init(g_ctx, NULL, &g_ex));
    bnbq_cuda_query_device(g_ctx, &info);
    g_l2_bytes = info.l2_bytes;
    /* NVRTC 12.9+ answers repeated compilations from the driver's cache: bypass it (the option goes
       into bnbq's cache keys, so the warm-load process below gets it too) */
    if (!bnbq__cu_nvrtc_extra && nvrtc_accepts("-no-cache")) bnbq__cu_nvrtc_extra = "-no-cache";
    printf("bench_gpu: bnbq %s, commit %s, %s\n", BNBQ_VERSION_STRING, *commit ? commit : "(unknown)", date);
    printf("  GPU %s, sm_%d%d, %d SMs, L2 %.0f MB, %.1f GiB; driver %d; NVRTC %d.%d%s; kernels %s_%d\n", info.name,
           info.cc_major, info.cc_minor, info.sm_count, (double)info.l2_bytes / 1e6,
           (double)info.total_memory / 1073741824.0, info.driver_version, info.nvrtc_version / 1000,
           (info.nvrtc_version % 1000) / 10, bnbq__cu_nvrtc_extra ? " (-no-cache: its own cache bypassed)" : "",
           info.target_is_ptx ? "compute" : "sm", info.target_arch);
    printf("  %zu elements per op, median of %d runs after %d warm-up, L2 flushed before each run by a %s of %zu MB\n",
           g_n, g_runs, g_warmup, g_flush_memset ? "memset" : "read-only pass (4-bit gemv)", g_flush_bytes >> 20);

    g_flush = dalloc(g_flush_bytes);
    TRY("memset", bnbq_cuda_memset(&g_ex, g_flush, 0x11, g_flush_bytes));
    if (!g_flush_memset) {
        const size_t N = g_flush_bytes * 2 / FLUSH_K;
        g_flush_absmax = dalloc(N * FLUSH_K / 4096 * 4);
        g_flush_act = dalloc(FLUSH_K * 2);
        g_flush_out = dalloc(N * 2);
        TRY("memset", bnbq_cuda_memset(&g_ex, g_flush_absmax, 0, N * FLUSH_K / 4096 * 4));
        TRY("memset", bnbq_cuda_memset(&g_ex, g_flush_act, 0, FLUSH_K * 2));
        flush_l2();
        TRY("flush read", bnbq_cuda_synchronize(&g_ex));
    }
    /* copy bandwidth: 1 GiB device to device, read + written */
    copy_bytes = g_smoke ? ((size_t)4 << 20) : ((size_t)1 << 30);
    c0 = dalloc(copy_bytes);
    c1 = dalloc(copy_bytes);
    TRY("memset", bnbq_cuda_memset(&g_ex, c0, 1, copy_bytes));
    {
        double mn = 0.0, med = time_calls(NULL, c1, c0, copy_bytes, &mn, &r);
        if (r != BNBQ_SUCCESS || !(med > 0.0)) die("device-to-device copy", r != BNBQ_SUCCESS ? r : BNBQ_ERROR_CUDA);
        g_copy_gbs = 2.0 * (double)copy_bytes / (med * 1e6);
        printf("  copy (cuMemcpy D2D %zu MiB, read + written): %.3f ms median, %.0f GB/s\n", copy_bytes >> 20, med, g_copy_gbs);
    }
    bnbq_cuda_free(g_ctx, c0);
    bnbq_cuda_free(g_ctx, c1);

    setup_configs();
    if (only) {
        filter_configs(only);
        printf("  --only %s: %d configurations\n", only, g_ncfg);
    }
    printf("  preparing inputs...\n");
    make_bufs(&g_big, g_n, g_smoke ? 64 : 4096, g_smoke ? 224 : 14336, g_smoke ? 512 * 512 : (size_t)8192 * 8192,
              g_smoke ? 896 : 14336, 0);
    g_big.shaped = 1;
    printf("\n%-40s %9s %9s %8s %7s  %-20s %s\n", "operation", "first ms", "median ms", "GB/s", "copy", "bitsandbytes", "target");
    for (i = 0; i < g_ncfg; i++) {
        cfg* c = &g_cfg[i];
        double t0;
        if (c->k == K_I8VQ) fill_int8_input(g_big.a16, c->rows, c->cols);
        if (c->k == K_GEMV) {   /* the activation in the configuration's dtype */
            size_t k;
            float* v = (float*)malloc(c->cols * 4);
            uint16_t* h = (uint16_t*)malloc(c->cols * 2);
            if (!v || !h) die("out of host memory", BNBQ_ERROR_OUT_OF_MEMORY);
            for (k = 0; k < c->cols; k++) v[k] = (float)(rng_uniform() * 2.0 - 1.0);
            bnbq_convert(NULL, BNBQ_F32, v, c->cols, c->dt, h);
            upload(g_big.va, h, c->cols * 2);
            free(v); free(h);
        }
        bnbq_cuda_synchronize(&g_ex);
        t0 = now_s();
        c->status = run_cfg(&g_ex, c, &g_big);
        if (c->status == BNBQ_SUCCESS) c->status = bnbq_cuda_synchronize(&g_ex);
        c->first_ms = (now_s() - t0) * 1e3;
        if (c->status == BNBQ_SUCCESS) c->median_ms = time_calls(c, NULL, NULL, 0, &c->min_ms, &c->status);
        if (c->status != BNBQ_SUCCESS) {
            if (c->status == BNBQ_ERROR_NOT_SUPPORTED) unsupported++;
            printf("%-40s %9s %9s %8s %7s  %-20s %s\n", c->name, "-", "-", "-", "-", c->anchor,
                   c->status == BNBQ_ERROR_NOT_SUPPORTED ? "not supported" : bnbq_result_name(c->status));
            continue;
        }
        c->gbs = c->bytes / (c->median_ms * 1e6);
        c->frac = c->gbs / g_copy_gbs;
        printf("%-40s %9.1f %9.4f %8.0f %6.1f%%  %-20s %s%s\n", c->name, c->first_ms, c->median_ms, c->gbs, 100.0 * c->frac,
               c->anchor, target_text(c->target),
               c->target == T_NONE ? "" : (c->frac >= target_frac(c->target) ? " met" : " MISSED"));
        c->b2b_ms = time_b2b(c);
        if (c->b2b_ms > 0.0) {
            c->b2b_frac = c->bytes / (c->b2b_ms * 1e6) / g_copy_gbs;
            printf("%-40s %9s %9.4f %8.0f %6.1f%%  %-20s %s%s\n", "  back-to-back, rotated", "", c->b2b_ms,
                   c->bytes / (c->b2b_ms * 1e6), 100.0 * c->b2b_frac, "", target_text(c->target),
                   c->target == T_NONE ? "" : c->b2b_frac >= target_frac(c->target) ? " met" : " MISSED");
            if (c->b2b_copy_ms > 0.0)
                printf("%-40s %9s %9.4f %8.0f %6.1f%%  %-20s %s\n", "  D2D copy of as many bytes, same way", "", c->b2b_copy_ms,
                       c->bytes / (c->b2b_copy_ms * 1e6), 100.0 * c->bytes / (c->b2b_copy_ms * 1e6) / g_copy_gbs, "",
                       "(the copy at this size)");
        }
    }
    memset(&cold, 0, sizeof cold);
    bnbq_cuda_stats_get(g_ctx, &cold);
    printf("\ncompile (cold, empty cache): %d units (one kernel of a variant each) in %.2f s wall = %.3f s per unit "
           "(target <= 0.3 s)%s\n", cold.units_compiled, cold.compile_seconds,
           cold.units_compiled ? cold.compile_seconds / cold.units_compiled : 0.0,
           cold.units_compiled ? (cold.compile_seconds / cold.units_compiled <= 0.3 ? " met" : " MISSED") : "");

    /* warm load: the first context goes (and the CUDA context with it: nothing else holds the
       primary context), then new contexts on the populated cache */
    free_bufs(&g_big);
    bnbq_cuda_free(g_ctx, g_flush);
    if (g_flush_absmax) bnbq_cuda_free(g_ctx, g_flush_absmax);
    if (g_flush_act) bnbq_cuda_free(g_ctx, g_flush_act);
    if (g_flush_out) bnbq_cuda_free(g_ctx, g_flush_out);
    g_flush_absmax = g_flush_act = g_flush_out = NULL;
    g_flush = NULL;
    bnbq_exec_uninit(&g_ex);
    bnbq_cuda_uninit(g_ctx);
    g_ctx = NULL;
    warm_total = warm_load(dir);
    {   /* the same from a new process */
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "'%s' --warm-cache '%s'%s%s%s%s", argv[0], dir, only ? " --only '" : "", only ? only : "",
                 only ? "'" : "", bnbq__cu_nvrtc_extra ? " --no-cache" : "");
        fflush(stdout);
        if (system(cmd) != 0) printf("  new process: FAILED (%s)\n", cmd);
    }
    /* the compact table */
    {
        char head[64];
        int lg = 0;
        while (((size_t)1 << (lg + 1)) <= g_n) lg++;
        snprintf(head, sizeof head, "op (2^%d elements unless shaped)", lg);
        printf("\n%-38s %8s %7s %6s %s\n", head, "ms", "GB/s", "copy", "bnb | target");
    }
    for (i = 0; i < g_ncfg; i++) {
        const cfg* c = &g_cfg[i];
        if (c->status != BNBQ_SUCCESS)
            printf("%-38s %8s %7s %6s %s\n", c->name, "-", "-", "-",
                   c->status == BNBQ_ERROR_NOT_SUPPORTED ? "not supported" : bnbq_result_name(c->status));
        else {
            printf("%-38s %8.4f %7.0f %5.1f%% %s | %s%s\n", c->name, c->median_ms, c->gbs, 100.0 * c->frac, c->anchor,
                   target_text(c->target),
                   c->target == T_NONE ? "" : (c->frac >= target_frac(c->target) ? " met" : " MISSED"));
            if (c->b2b_ms > 0.0)
                printf("%-38s %8.4f %7.0f %5.1f%% %d input sets | %s%s\n", "  back-to-back, rotated", c->b2b_ms,
                       c->bytes / (c->b2b_ms * 1e6), 100.0 * c->b2b_frac, c->b2b_copies, target_text(c->target),
                       c->target == T_NONE ? "" : c->b2b_frac >= target_frac(c->target) ? " met" : " MISSED");
            if (c->b2b_ms > 0.0 && c->b2b_copy_ms > 0.0)
                printf("%-38s %8.4f %7.0f %5.1f%% (the copy at this size)\n", "  D2D copy of as many bytes", c->b2b_copy_ms,
                       c->bytes / (c->b2b_copy_ms * 1e6), 100.0 * c->bytes / (c->b2b_copy_ms * 1e6) / g_copy_gbs);
        }
    }
    printf("%-38s %8s %7.0f %5.1f%%\n", "copy (cuMemcpy D2D)", "", g_copy_gbs, 100.0);
    printf("cold compile %.3f s/unit wall (%d units) | warm load %.2f ms (new context, all configurations, vs the "
           "same calls again) | %d of %d configurations not supported | %.0f s in all\n",
           cold.units_compiled ? cold.compile_seconds / cold.units_compiled : 0.0, cold.units_compiled, warm_total,
           unsupported, g_ncfg, now_s() - t_start);

    if (csv) {
        FILE* f = fopen(csv, "w");
        if (f) {
            fprintf(f, "op,status,first_ms,median_ms,min_ms,bytes,gbs,copy_fraction,anchor,target\n");
            for (i = 0; i < g_ncfg; i++) {
                const cfg* c = &g_cfg[i];
                fprintf(f, "%s,%s,%.4f,%.5f,%.5f,%.0f,%.1f,%.4f,%s,%s\n", c->name, bnbq_result_name(c->status), c->first_ms,
                        c->median_ms, c->min_ms, c->bytes, c->gbs, c->frac, c->anchor, target_text(c->target));
            }
            fprintf(f, "copy,BNBQ_SUCCESS,,,,,%.1f,1,,\n", g_copy_gbs);
            fclose(f);
        }
    }
    rm_tree(dir);
    return 0;
}
