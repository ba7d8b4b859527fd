/* unit_util.h - the small test framework of tests/test_prims.c, tests/test_layers.c,
   tests/test_layers_embed.c and the other CPU unit tests: one "ok NAME" / "FAIL NAME: first failure" line
   per test, then "N passed, N failed" counted in tests; exit status 1 when any test failed.
   Include after bnbq.h (with its implementation). Arguments: [--quick] [name-substring ...]. */
#ifndef BNBQ_TESTS_UNIT_UTIL_H
#define BNBQ_TESTS_UNIT_UTIL_H

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* helpers a test program may not use */
#if defined(__GNUC__) || defined(__clang__)
#  define UU_UNUSED __attribute__((unused))
#else
#  define UU_UNUSED
#endif

typedef struct uu_ctx {
    const char* name;
    long        checks, fails;
    char        first[600];
    int         shown;
} uu_ctx;

static uu_ctx* T;
static int     g_quick;
static int     g_passed, g_failed;

static UU_UNUSED void check_impl(int ok, int line, const char* fmt, ...)
{
    char msg[512];
    va_list ap;
    T->checks++;
    if (ok) return;
    T->fails++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (T->fails == 1) snprintf(T->first, sizeof T->first, "line %d: %s", line, msg);
    else if (T->shown < 12) { T->shown++; printf("#   %s line %d: %s\n", T->name, line, msg); }
}
#define CHECK(cond, ...) check_impl((cond) ? 1 : 0, __LINE__, __VA_ARGS__)
#define RC(r) bnbq_result_name(r)

static UU_UNUSED void crash_handler(int sig)
{
    printf("FAIL %s: crashed with signal %d\n", T ? T->name : "?", sig);
    printf("%d passed, %d failed\n", g_passed, g_failed + 1);
    fflush(stdout);
    _Exit(1);
}

/* ---- deterministic random numbers (splitmix64) ------------------------------------------- */
typedef struct rng { uint64_t s; } rng;
static UU_UNUSED rng rng_make(uint64_t seed) { rng r; r.s = seed; return r; }
static UU_UNUSED uint64_t rng_u64(rng* r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static UU_UNUSED double rng_uniform(rng* r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
/* uniform float in [lo, hi) */
static UU_UNUSED float rng_range(rng* r, float lo, float hi) { return lo + (hi - lo) * (float)rng_uniform(r); }
static UU_UNUSED double rng_normal(rng* r)
{
    double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
static UU_UNUSED int rng_int(rng* r, int lo, int hi) { return lo + (int)(rng_u64(r) % (uint64_t)(hi - lo + 1)); }

/* ---- helpers ----------------------------------------------------------------------------- */
static UU_UNUSED void* xmalloc(size_t bytes)
{
    void* p = malloc(bytes ? bytes : 1);
    if (!p) { printf("out of memory\n"); exit(2); }
    return p;
}
static UU_UNUSED uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static const bnbq_dtype k_dts[3] = { BNBQ_F32, BNBQ_F16, BNBQ_BF16 };
static UU_UNUSED const char* dtn(bnbq_dtype dt)
{
    return dt == BNBQ_F32 ? "f32" : dt == BNBQ_F16 ? "f16" : dt == BNBQ_BF16 ? "bf16" : "?";
}
static UU_UNUSED size_t dts(bnbq_dtype dt) { return dt == BNBQ_F32 ? 4 : 2; }
/* element i of a dt array as float */
static UU_UNUSED float ld(bnbq_dtype dt, const void* p, size_t i)
{
    if (dt == BNBQ_F32) return ((const float*)p)[i];
    if (dt == BNBQ_F16) return bnbq_f16_to_f32(((const uint16_t*)p)[i]);
    return bnbq_bf16_to_f32(((const uint16_t*)p)[i]);
}
/* element i of a dt array as double (exact: for float64 references and sums) */
static UU_UNUSED double ld_f64(bnbq_dtype dt, const void* p, size_t i) { return (double)ld(dt, p, i); }
/* store a float (one RNE rounding) */
static UU_UNUSED void st(bnbq_dtype dt, void* p, size_t i, float v)
{
    if (dt == BNBQ_F32) ((float*)p)[i] = v;
    else if (dt == BNBQ_F16) ((uint16_t*)p)[i] = bnbq_f32_to_f16(v);
    else ((uint16_t*)p)[i] = bnbq_f32_to_bf16(v);
}
/* the bit pattern element i holds (for exact comparisons) */
static UU_UNUSED uint32_t bits_at(bnbq_dtype dt, const void* p, size_t i)
{
    if (dt == BNBQ_F32) return fbits(((const float*)p)[i]);
    return ((const uint16_t*)p)[i];
}
/* the pattern a float rounds to in dt */
static UU_UNUSED uint32_t bits_of(bnbq_dtype dt, float v)
{
    if (dt == BNBQ_F32) return fbits(v);
    return dt == BNBQ_F16 ? bnbq_f32_to_f16(v) : bnbq_f32_to_bf16(v);
}
static UU_UNUSED float round_dt(bnbq_dtype dt, float v)
{
    if (dt == BNBQ_F32) return v;
    if (dt == BNBQ_F16) return bnbq_f16_to_f32(bnbq_f32_to_f16(v));
    return bnbq_bf16_to_f32(bnbq_f32_to_bf16(v));
}
/* a dt array of n random values N(0, scale^2) */
static UU_UNUSED void* rand_dt(rng* r, bnbq_dtype dt, size_t n, float scale)
{
    size_t i;
    void* p = xmalloc(n * dts(dt) + 16);
    for (i = 0; i < n; i++) st(dt, p, i, (float)rng_normal(r) * scale);
    return p;
}
/* one unit in the last place of dt at |x| (a tolerance) */
static UU_UNUSED double ulp_dt(bnbq_dtype dt, double x)
{
    int e;
    int mant = dt == BNBQ_F32 ? 24 : dt == BNBQ_F16 ? 11 : 8;
    x = fabs(x);
    if (x < 1e-30) x = 1e-30;
    (void)frexp(x, &e);
    if (dt == BNBQ_F16 && e < -13) e = -13;
    return ldexp(1.0, e - mant);
}

/* a linear layer desc: kind, in -> out features, weight dtype, init seed; the rest zero (defaults) */
static UU_UNUSED bnbq_linear_desc ldesc(bnbq_linear_kind k, size_t in, size_t out, bnbq_dtype wdt,
                                        uint64_t seed)
{
    bnbq_linear_desc d;
    memset(&d, 0, sizeof d);
    d.kind = k;
    d.in_features = in;
    d.out_features = out;
    d.weight_dtype = wdt;
    d.seed = seed;
    return d;
}

/* ---- the logging exec -------------------------------------------------------------------- */
typedef struct log_rec {
    int  n_total, n_error, n_warn;
    char last_func[128];
    char last_msg[512];
} log_rec;
static log_rec   g_log;
static bnbq_exec g_logex;

static UU_UNUSED void rec_logger(void* user, bnbq_log_level level, const char* func, const char* msg)
{
    log_rec* L = (log_rec*)user;
    L->n_total++;
    if (level == BNBQ_LOG_ERROR) L->n_error++;
    if (level == BNBQ_LOG_WARN) L->n_warn++;
    snprintf(L->last_func, sizeof L->last_func, "%s", func ? func : "(null)");
    snprintf(L->last_msg, sizeof L->last_msg, "%s", msg ? msg : "(null)");
}
static UU_UNUSED void log_reset(void) { memset(&g_log, 0, sizeof g_log); }

/* Both calls (ex = NULL and the logging exec) must return want; a failure on the logging exec
   must log at least one ERROR line, the first naming the function or one of its building
   blocks; a success none. */
static UU_UNUSED void expect_impl(int line, const char* fname, bnbq_result want, bnbq_result r0,
                        bnbq_result r1)
{
    check_impl(r0 == want, line, "%s (ex=NULL): got %s, expected %s", fname, RC(r0), RC(want));
    check_impl(r1 == want, line, "%s (logging exec): got %s, expected %s", fname, RC(r1),
               RC(want));
    if (want != BNBQ_SUCCESS)
        check_impl(g_log.n_error >= 1, line, "%s failing with %s logged no ERROR line", fname,
                   RC(want));
    else
        check_impl(g_log.n_error == 0, line, "%s succeeded but logged %d ERROR lines (%s: %s)",
                   fname, g_log.n_error, g_log.last_func, g_log.last_msg);
}
#define EXPECT(want, fn, ...) do { \
        bnbq_result r0_ = fn(NULL, __VA_ARGS__), r1_; \
        log_reset(); \
        r1_ = fn(&g_logex, __VA_ARGS__); \
        expect_impl(__LINE__, #fn, (want), r0_, r1_); \
    } while (0)
#define MUST(call) do { \
        bnbq_result rr_ = (call); \
        CHECK(rr_ == BNBQ_SUCCESS, "%s returned %s", #call, RC(rr_)); \
    } while (0)

/* A parallel-for that runs the ranges on the calling thread in chunks of 3 (covers the range
   splitting of the CPU kernels). */
static UU_UNUSED void chunked_for(void* user, bnbq_range_fn fn, void* task, size_t count)
{
    size_t b;
    (void)user;
    for (b = 0; b < count; b += 3) fn(task, b, b + 3 < count ? b + 3 : count);
}

typedef struct uu_test { const char* name; void (*fn)(void); } uu_test;

static UU_UNUSED int uu_main(int argc, char** argv, const uu_test* tests, size_t ntests)
{
    size_t i;
    int a, nfilters = 0;
    bnbq_cpu_desc d;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) g_quick = 1;
        else nfilters++;
    }
    signal(SIGSEGV, crash_handler);
    signal(SIGFPE, crash_handler);
    signal(SIGILL, crash_handler);
    signal(SIGABRT, crash_handler);
    memset(&d, 0, sizeof d);
    d.logger.func = rec_logger;
    d.logger.user_data = &g_log;
    if (bnbq_cpu_exec_init(&g_logex, &d) != BNBQ_SUCCESS) {
        printf("FAIL setup\n0 passed, 1 failed\n");
        return 1;
    }
    for (i = 0; i < ntests; i++) {
        uu_ctx ctx;
        if (nfilters) {
            int match = 0;
            for (a = 1; a < argc; a++)
                if (argv[a][0] != '-' && strstr(tests[i].name, argv[a])) match = 1;
            if (!match) continue;
        }
        memset(&ctx, 0, sizeof ctx);
        ctx.name = tests[i].name;
        T = &ctx;
        tests[i].fn();
        if (ctx.fails == 0 && ctx.checks > 0) {
            g_passed++;
            printf("ok %s (%ld checks)\n", ctx.name, ctx.checks);
        } else {
            g_failed++;
            if (ctx.checks == 0) snprintf(ctx.first, sizeof ctx.first, "no checks ran");
            printf("FAIL %s: %s (%ld of %ld checks failed)\n", ctx.name, ctx.first, ctx.fails,
                   ctx.checks);
        }
        fflush(stdout);
    }
    T = NULL;
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}

#endif
