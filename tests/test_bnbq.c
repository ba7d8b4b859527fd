/* test_bnbq.c - unit tests of bnbq.h (CPU reference).

   Build:  cc -std=c99 -Wall -Wextra -pedantic -ffp-contract=off -O2 -I. tests/test_bnbq.c -lm
   Run:    ./build/test_bnbq [--quick] [--time] [name-substring ...]

   Each test is a function; it counts its checks and failed checks. One line per test:
   "ok <name>" or "FAIL <name>: <first failure>" (more failures follow as "#" lines), and as the
   last line "<N> passed, <N> failed" counted in tests. Exit status 1 when any test failed.
   --quick shrinks sizes and iteration counts (for the sanitizer build) but keeps at least one
   case of every acceptance bar. Statistical bars come from spec/tests.md (bitsandbytes' own
   tests); bit-exact properties from spec/algorithms.md and formats.md. */
#define _POSIX_C_SOURCE 200809L   /* fork/waitpid: isolating calls under sanitizers */
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq.h"

#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#  define TEST_SANITIZED 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#    define TEST_SANITIZED 1
#  endif
#endif
#if defined(TEST_SANITIZED) && defined(__unix__)
#  include <sys/types.h>
#  include <sys/wait.h>
#  include <unistd.h>
#  define TEST_CAN_FORK 1
#endif

/* ------------------------------------------------------------------------------------------ */
/* the framework                                                                              */

typedef struct test_ctx {
    const char* name;
    long        checks;
    long        fails;
    char        first[600];
    int         shown;
} test_ctx;

static test_ctx* T;          /* the running test */
static int       g_quick;    /* --quick          */
static int       g_passed, g_failed;

static void check_impl(int ok, const char* file, int line, const char* fmt, ...)
{
    char msg[512];
    va_list ap;
    T->checks++;
    if (ok) return;
    T->fails++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (void)file;
    if (T->fails == 1) {
        snprintf(T->first, sizeof T->first, "line %d: %s", line, msg);
    } else if (T->shown < 12) {
        T->shown++;
        printf("#   %s line %d: %s\n", T->name, line, msg);
    }
}
/* CHECK(condition, printf-format, args...) - the format is required. */
#define CHECK(cond, ...) check_impl((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

static void crash_handler(int sig)
{
    /* Not async-signal-safe, but the process is dying anyway: say where it died and leave a
       summary line so that tests/run_all.sh counts the crash as a failure. */
    printf("FAIL %s: crashed with signal %d\n", T ? T->name : "?", sig);
    printf("%d passed, %d failed\n", g_passed, g_failed + 1);
    fflush(stdout);
    _Exit(1);
}

/* ------------------------------------------------------------------------------------------ */
/* deterministic random numbers: splitmix64, Box-Muller                                       */

typedef struct rng { uint64_t s; int have; double spare; } rng;

static rng rng_make(uint64_t seed) { rng r; r.s = seed; r.have = 0; r.spare = 0.0; return r; }
static uint64_t rng_u64(rng* r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform double in [0, 1) with 53 random bits */
static double rng_uniform(rng* r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
/* uniform float in [0, 1) with 24 random bits (like torch.rand) */
static float rng_uniformf(rng* r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
static double rng_normal(rng* r)
{
    double u1, u2, rad;
    if (r->have) { r->have = 0; return r->spare; }
    u1 = 1.0 - rng_uniform(r);                 /* (0, 1] */
    u2 = rng_uniform(r);
    rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(6.283185307179586 * u2);
    r->have = 1;
    return rad * cos(6.283185307179586 * u2);
}
static float rng_randnf(rng* r) { return (float)rng_normal(r); }
static int rng_int(rng* r, int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_u64(r) % (uint64_t)(hi - lo + 1));
}
static void fill_randn(rng* r, float* x, size_t n, float scale)
{
    size_t i;
    for (i = 0; i < n; i++) x[i] = rng_randnf(r) * scale;
}
static void fill_rand(rng* r, float* x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) x[i] = rng_uniformf(r);
}

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                    */

static void* xmalloc(size_t bytes)
{
    void* p = malloc(bytes ? bytes : 1);
    if (!p) { printf("out of memory (%lu bytes)\n", (unsigned long)bytes); exit(2); }
    return p;
}
static void* xcalloc(size_t n, size_t size)
{
    void* p = calloc(n ? n : 1, size ? size : 1);
    if (!p) { printf("out of memory\n"); exit(2); }
    return p;
}

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float    bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Independent, exact widening (not the library's): */
static float ref_f16_to_f32(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0)       v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else              v = ldexpf((float)(m + 1024), e - 25);
    return s ? -v : v;
}
static float ref_bf16_to_f32(uint16_t h) { return bitsf((uint32_t)h << 16); }

static const bnbq_dtype k_float_dtypes[3] = { BNBQ_F32, BNBQ_F16, BNBQ_BF16 };
static const char* dt_name(bnbq_dtype dt)
{
    return dt == BNBQ_F32 ? "f32" : dt == BNBQ_F16 ? "f16" : dt == BNBQ_BF16 ? "bf16" : "other";
}
static size_t dt_size(bnbq_dtype dt) { return dt == BNBQ_F32 ? 4 : 2; }

/* x (n floats) converted to dt with the library's RNE conversion (tested on its own below);
   when widened != NULL it receives the values the dt buffer really holds. */
static void* to_dt(bnbq_dtype dt, const float* x, size_t n, float* widened)
{
    size_t i;
    void* p = xmalloc(n * dt_size(dt) + 16);
    for (i = 0; i < n; i++) {
        if (dt == BNBQ_F32) {
            ((float*)p)[i] = x[i];
            if (widened) widened[i] = x[i];
        } else if (dt == BNBQ_F16) {
            uint16_t h = bnbq_f32_to_f16(x[i]);
            ((uint16_t*)p)[i] = h;
            if (widened) widened[i] = ref_f16_to_f32(h);
        } else {
            uint16_t h = bnbq_f32_to_bf16(x[i]);
            ((uint16_t*)p)[i] = h;
            if (widened) widened[i] = ref_bf16_to_f32(h);
        }
    }
    return p;
}
static float get_dt(bnbq_dtype dt, const void* p, size_t i)
{
    if (dt == BNBQ_F32) return ((const float*)p)[i];
    if (dt == BNBQ_F16) return ref_f16_to_f32(((const uint16_t*)p)[i]);
    return ref_bf16_to_f32(((const uint16_t*)p)[i]);
}
/* round a float to dt and back (library conversion) */
static float round_dt(bnbq_dtype dt, float x)
{
    if (dt == BNBQ_F16) return ref_f16_to_f32(bnbq_f32_to_f16(x));
    if (dt == BNBQ_BF16) return ref_bf16_to_f32(bnbq_f32_to_bf16(x));
    return x;
}

typedef struct errstat { double abs_sum, rel_sum, max_abs; size_t n; } errstat;
/* mean |a-b|, mean |a-b| / (|a| + eps) (bitsandbytes' relerr), max |a-b| */
static errstat err_stats(const float* a, bnbq_dtype dt, const void* b, size_t n, double eps)
{
    errstat s;
    size_t i;
    s.abs_sum = s.rel_sum = s.max_abs = 0.0;
    s.n = n;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)get_dt(dt, b, i));
        s.abs_sum += d;
        s.rel_sum += d / (fabs((double)a[i]) + eps);
        if (!(d <= s.max_abs)) s.max_abs = d;
    }
    return s;
}

static const unsigned char CANARY = 0xA5;
static void canary_fill(void* p, size_t bytes) { memset(p, CANARY, bytes); }
static int canary_intact(const void* p, size_t bytes)
{
    const unsigned char* c = (const unsigned char*)p;
    size_t i;
    for (i = 0; i < bytes; i++) if (c[i] != CANARY) return 0;
    return 1;
}
#define RC(r) bnbq_result_name(r)

/* Exec with a logger that records what it is given. */
typedef struct log_rec {
    int  n_total, n_error;
    int  last_level;
    char last_func[128];
    char last_msg[512];
} log_rec;
static log_rec   g_log;
static bnbq_exec g_logex;        /* CPU exec with the recording logger */

static void rec_logger(void* user, bnbq_log_level level, const char* func, const char* msg)
{
    log_rec* L = (log_rec*)user;
    L->n_total++;
    if (level == BNBQ_LOG_ERROR) L->n_error++;
    L->last_level = (int)level;
    snprintf(L->last_func, sizeof L->last_func, "%s", func ? func : "(null)");
    snprintf(L->last_msg, sizeof L->last_msg, "%s", msg ? msg : "(null)");
}
static void log_reset(void) { memset(&g_log, 0, sizeof g_log); }

/* The function's name as the log should mention it: without the "bnbq_" prefix, so that both
   "bnbq_quantize_4bit" and "quantize_4bit" count. */
static int log_names(const char* fname)
{
    const char* s = strncmp(fname, "bnbq_", 5) == 0 ? fname + 5 : fname;
    return strstr(g_log.last_func, s) != NULL || strstr(g_log.last_msg, s) != NULL;
}

static void expect_impl(int line, const char* fname, bnbq_result want, bnbq_result r_null,
                        bnbq_result r_ex, int logged)
{
    check_impl(r_null == want, __FILE__, line, "%s (ex=NULL): got %s, expected %s", fname,
               RC(r_null), RC(want));
    check_impl(r_ex == want, __FILE__, line, "%s (logging exec): got %s, expected %s", fname,
               RC(r_ex), RC(want));
    if (!logged) return;
    if (want != BNBQ_SUCCESS) {
        check_impl(g_log.n_error == 1, __FILE__, line,
                   "%s failing with %s logged %d ERROR lines (expected exactly 1)", fname,
                   RC(want), g_log.n_error);
        if (g_log.n_error >= 1)
            check_impl(log_names(fname), __FILE__, line,
                       "%s: ERROR line does not name the function: func='%s' msg='%s'", fname,
                       g_log.last_func, g_log.last_msg);
    } else {
        check_impl(g_log.n_error == 0, __FILE__, line,
                   "%s succeeded but logged %d ERROR lines (last: %s: %s)", fname, g_log.n_error,
                   g_log.last_func, g_log.last_msg);
    }
}
/* Calls fn(NULL, ...) and fn(&g_logex, ...); both must return `want`; the logging exec must log
   exactly one ERROR line naming fn on failure and none on success. */
#define EXPECT(want, fn, ...) do { \
        bnbq_result r0_ = fn(NULL, __VA_ARGS__); \
        bnbq_result r1_; \
        log_reset(); \
        r1_ = fn(&g_logex, __VA_ARGS__); \
        expect_impl(__LINE__, #fn, (want), r0_, r1_, 1); \
    } while (0)
/* For functions without an exec argument. */
#define EXPECT_NOEX(want, fn, ...) do { \
        bnbq_result r_ = fn(__VA_ARGS__); \
        expect_impl(__LINE__, #fn, (want), r_, r_, 0); \
    } while (0)
/* A call that must succeed (ex=NULL), checked as a test failure otherwise. */
#define MUST(call) do { \
        bnbq_result rr_ = (call); \
        CHECK(rr_ == BNBQ_SUCCESS, "%s returned %s", #call, RC(rr_)); \
    } while (0)

/* misaligned views of a buffer */
#define MIS(p, k) ((void*)((char*)(p) + (k)))

static const uint32_t NF4_HEX[16] = {
    0xbf800000u, 0xbf3239b1u, 0xbf066b30u, 0xbeca32a0u, 0xbe91a24du, 0xbe3d353fu, 0xbdba7871u,
    0x00000000u, 0x3da2faffu, 0x3e24cae3u, 0x3e7c04ddu, 0x3ead033au, 0x3ee1a4b8u, 0x3f1007abu,
    0x3f3913b3u, 0x3f800000u };
static const uint32_t FP4_TABLE_HEX[16] = {
    0x00000000u, 0x3baaaaabu, 0x3f2aaaabu, 0x3f800000u, 0x3eaaaaabu, 0x3f000000u, 0x3e2aaaabu,
    0x3e800000u, 0x00000000u, 0xbbaaaaabu, 0xbf2aaaabu, 0xbf800000u, 0xbeaaaaabu, 0xbf000000u,
    0xbe2aaaabu, 0xbe800000u };

/* ------------------------------------------------------------------------------------------ */
/* results, dtypes, exec, logger                                                              */

static void test_result_names(void)
{
    static const bnbq_result all[] = {
        BNBQ_SUCCESS, BNBQ_ERROR_INVALID_ARGS, BNBQ_ERROR_NULL_POINTER, BNBQ_ERROR_BAD_SHAPE,
        BNBQ_ERROR_BAD_BLOCKSIZE, BNBQ_ERROR_BAD_DTYPE, BNBQ_ERROR_BAD_QUANT_TYPE,
        BNBQ_ERROR_OVERFLOW, BNBQ_ERROR_MISALIGNED, BNBQ_ERROR_OUT_OF_MEMORY,
        BNBQ_ERROR_NOT_SUPPORTED, BNBQ_ERROR_BAD_CODE, BNBQ_ERROR_IO, BNBQ_ERROR_CORRUPT_FILE,
        BNBQ_ERROR_NO_DRIVER, BNBQ_ERROR_DRIVER_TOO_OLD, BNBQ_ERROR_NO_DEVICE,
        BNBQ_ERROR_NO_NVRTC, BNBQ_ERROR_NVRTC_TOO_OLD, BNBQ_ERROR_COMPILE_FAILED,
        BNBQ_ERROR_CUDA };
    static const char* names[] = {
        "BNBQ_SUCCESS", "BNBQ_ERROR_INVALID_ARGS", "BNBQ_ERROR_NULL_POINTER",
        "BNBQ_ERROR_BAD_SHAPE", "BNBQ_ERROR_BAD_BLOCKSIZE", "BNBQ_ERROR_BAD_DTYPE",
        "BNBQ_ERROR_BAD_QUANT_TYPE", "BNBQ_ERROR_OVERFLOW", "BNBQ_ERROR_MISALIGNED",
        "BNBQ_ERROR_OUT_OF_MEMORY", "BNBQ_ERROR_NOT_SUPPORTED", "BNBQ_ERROR_BAD_CODE",
        "BNBQ_ERROR_IO", "BNBQ_ERROR_CORRUPT_FILE", "BNBQ_ERROR_NO_DRIVER",
        "BNBQ_ERROR_DRIVER_TOO_OLD", "BNBQ_ERROR_NO_DEVICE", "BNBQ_ERROR_NO_NVRTC",
        "BNBQ_ERROR_NVRTC_TOO_OLD", "BNBQ_ERROR_COMPILE_FAILED", "BNBQ_ERROR_CUDA" };
    size_t n = sizeof all / sizeof all[0], i, j;
    const bnbq_result unknown[] = { (bnbq_result)1, (bnbq_result)99, (bnbq_result)111,
                                    (bnbq_result)-1, (bnbq_result)12345 };
    CHECK(sizeof names / sizeof names[0] == n, "table sizes");
    for (i = 0; i < n; i++) {
        const char* nm = bnbq_result_name(all[i]);
        const char* ds = bnbq_result_description(all[i]);
        CHECK(nm != NULL && strcmp(nm, names[i]) == 0, "name of %d: %s", (int)all[i],
              nm ? nm : "(null)");
        CHECK(ds != NULL && ds[0] != 0, "description of %d", (int)all[i]);
        for (j = 0; j < i; j++) {
            const char* a = bnbq_result_name(all[j]);
            const char* b = bnbq_result_description(all[j]);
            CHECK(!(nm && a && strcmp(nm, a) == 0), "duplicate name %s", nm);
            CHECK(!(ds && b && strcmp(ds, b) == 0), "duplicate description '%s'", ds);
        }
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char* nm = bnbq_result_name(unknown[i]);
        const char* ds = bnbq_result_description(unknown[i]);
        CHECK(nm != NULL && strcmp(nm, "BNBQ_UNKNOWN_RESULT") == 0, "name of unknown %d: %s",
              (int)unknown[i], nm ? nm : "(null)");
        CHECK(ds != NULL && ds[0] != 0, "description of unknown %d", (int)unknown[i]);
    }
}

static void test_dtypes(void)
{
    CHECK(bnbq_dtype_size(BNBQ_F32) == 4, "F32 size");
    CHECK(bnbq_dtype_size(BNBQ_F16) == 2, "F16 size");
    CHECK(bnbq_dtype_size(BNBQ_BF16) == 2, "BF16 size");
    CHECK(bnbq_dtype_size(BNBQ_U8) == 1, "U8 size");
    CHECK(bnbq_dtype_size(BNBQ_I8) == 1, "I8 size");
    CHECK(bnbq_dtype_size(BNBQ_I32) == 4, "I32 size");
    CHECK(bnbq_dtype_size(BNBQ_I64) == 8, "I64 size");
    CHECK(bnbq_dtype_size((bnbq_dtype)99) == 0, "unknown dtype size %lu",
          (unsigned long)bnbq_dtype_size((bnbq_dtype)99));
    CHECK(bnbq_dtype_size((bnbq_dtype)-1) == 0, "negative dtype size");
    {
        int i, j;
        for (i = 0; i <= 6; i++) {
            const char* a = bnbq_dtype_name((bnbq_dtype)i);
            CHECK(a != NULL && a[0] != 0, "dtype_name(%d)", i);
            for (j = 0; j < i; j++) {
                const char* b = bnbq_dtype_name((bnbq_dtype)j);
                CHECK(!(a && b && strcmp(a, b) == 0), "dtype names %d and %d equal", i, j);
            }
        }
        CHECK(bnbq_dtype_name((bnbq_dtype)99) != NULL, "dtype_name(99) is NULL");
    }
}

typedef struct alloc_rec { int n_alloc, n_free; size_t bytes; } alloc_rec;
static void* rec_alloc(void* user, size_t bytes)
{
    alloc_rec* a = (alloc_rec*)user;
    a->n_alloc++;
    a->bytes += bytes;
    return malloc(bytes);
}
static void rec_free(void* user, void* p)
{
    alloc_rec* a = (alloc_rec*)user;
    if (p) a->n_free++;
    free(p);
}

static void test_exec_init(void)
{
    bnbq_exec ex;
    bnbq_cpu_desc d, q;
    alloc_rec ar;
    log_rec lr;
    memset(&ar, 0, sizeof ar);
    memset(&lr, 0, sizeof lr);

    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_cpu_exec_init, NULL, NULL);
    memset(&ex, 0, sizeof ex);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_cpu_exec_init, &ex, NULL);
    CHECK(ex.backend == NULL, "CPU exec has a backend");
    CHECK(ex.memory == BNBQ_MEMORY_HOST, "CPU exec memory");
    bnbq_exec_uninit(&ex);

    /* only one of alloc/free */
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = rec_alloc;
    d.allocator.user_data = &ar;
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_cpu_exec_init, &ex, &d);
    memset(&d, 0, sizeof d);
    d.allocator.free_fn = rec_free;
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_cpu_exec_init, &ex, &d);

    /* INVALID_ARGS is logged through the desc's logger (it names cpu_exec_init) */
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = rec_alloc;
    d.logger.func = rec_logger;
    d.logger.user_data = &lr;
    bnbq_cpu_exec_init(&ex, &d);
    CHECK(lr.n_error <= 1, "exec_init INVALID_ARGS logged %d ERROR lines", lr.n_error);

    /* both: the allocator is used by host_alloc/free */
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = rec_alloc;
    d.allocator.free_fn = rec_free;
    d.allocator.user_data = &ar;
    d.logger.func = rec_logger;
    d.logger.user_data = &lr;
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_cpu_exec_init, &ex, &d);
    {
        void* p = bnbq_host_alloc(&ex, 1000);
        CHECK(p != NULL, "host_alloc returned NULL");
        CHECK(ar.n_alloc == 1 && ar.bytes >= 1000, "allocator not used (%d calls, %lu bytes)",
              ar.n_alloc, (unsigned long)ar.bytes);
        if (p) memset(p, 1, 1000);
        bnbq_host_free(&ex, p);
        CHECK(ar.n_free == 1, "free_fn not used (%d)", ar.n_free);
    }
    {
        void* p = bnbq_host_alloc(NULL, 64);   /* NULL exec: malloc/free */
        CHECK(p != NULL, "host_alloc(NULL) returned NULL");
        if (p) memset(p, 2, 64);
        bnbq_host_free(NULL, p);
        bnbq_host_free(&ex, NULL);
        CHECK(ar.n_free == 1, "free of NULL reached free_fn or NULL exec used it");
    }
    /* query_desc gives back what was set */
    memset(&q, 0, sizeof q);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_cpu_exec_query_desc, &ex, &q);
    CHECK(q.logger.func == rec_logger && q.logger.user_data == &lr, "query_desc logger");
    CHECK(q.allocator.alloc_fn == rec_alloc && q.allocator.free_fn == rec_free &&
          q.allocator.user_data == &ar, "query_desc allocator");
    CHECK(q.parallel_for == NULL, "query_desc parallel_for");
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_cpu_exec_query_desc, NULL, &q);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_cpu_exec_query_desc, &ex, NULL);
    bnbq_exec_uninit(&ex);

    /* default desc resolves to a working allocator */
    memset(&ex, 0, sizeof ex);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_cpu_exec_init, &ex, NULL);
    memset(&q, 0, sizeof q);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_cpu_exec_query_desc, &ex, &q);
    CHECK((q.allocator.alloc_fn == NULL) == (q.allocator.free_fn == NULL),
          "resolved default allocator has only one function");
    {
        void* p = bnbq_host_alloc(&ex, 32);
        CHECK(p != NULL, "default host_alloc");
        bnbq_host_free(&ex, p);
    }
    bnbq_exec_uninit(&ex);
    memset(&ex, 0, sizeof ex);
    bnbq_exec_uninit(&ex);  /* safe on a zeroed exec */
    CHECK(1, "uninit");
}

static void test_logger(void)
{
    bnbq_exec ex;
    bnbq_cpu_desc d;
    log_rec lr;
    char big[3000];
    memset(&lr, 0, sizeof lr);
    memset(&d, 0, sizeof d);
    d.logger.func = rec_logger;
    d.logger.user_data = &lr;
    MUST(bnbq_cpu_exec_init(&ex, &d));
    bnbq_log(&ex, BNBQ_LOG_WARN, "my_func", "value=%d name=%s", 42, "abc");
    CHECK(lr.n_total == 1 && lr.last_level == BNBQ_LOG_WARN, "log level/count %d %d", lr.n_total,
          lr.last_level);
    CHECK(strcmp(lr.last_func, "my_func") == 0, "log func '%s'", lr.last_func);
    CHECK(strstr(lr.last_msg, "value=42 name=abc") != NULL, "log message '%s'", lr.last_msg);
    CHECK(lr.n_error == 0, "WARN counted as ERROR");
    /* long messages are truncated into the stack buffer, not overflowed */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    bnbq_log(&ex, BNBQ_LOG_INFO, "f", "%s", big);
    CHECK(lr.n_total == 2, "long message not delivered");
    bnbq_exec_uninit(&ex);
    /* silent exec */
    MUST(bnbq_cpu_exec_init(&ex, NULL));
    bnbq_log(&ex, BNBQ_LOG_ERROR, "f", "nobody listens %d", 1);
    bnbq_exec_uninit(&ex);
    /* a failing call through a logging exec logs once; a good call logs no error */
    {
        float x[64], am[1];
        uint8_t q[64];
        memset(x, 0, sizeof x);
        log_reset();
        bnbq_quantize_blockwise(&g_logex, NULL, BNBQ_F32, x, 64, 64, NULL, am);
        CHECK(g_log.n_error == 1, "NULL out_q logged %d errors", g_log.n_error);
        CHECK(log_names("bnbq_quantize_blockwise"), "error line '%s: %s' lacks the name",
              g_log.last_func, g_log.last_msg);
        log_reset();
        MUST(bnbq_quantize_blockwise(&g_logex, NULL, BNBQ_F32, x, 64, 64, q, am));
        CHECK(g_log.n_error == 0, "good call logged an error");
    }
}

/* ------------------------------------------------------------------------------------------ */
/* conversions                                                                                */

static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
static int bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0; }

static void test_convert_f16(void)
{
    uint32_t h;
    long bad_rt = 0, bad_w = 0, bad_tie = 0, bad_near = 0, bad_rand = 0;
    rng r = rng_make(11);
    int i;
    for (h = 0; h < 65536; h++) {
        float f = bnbq_f16_to_f32((uint16_t)h);
        float ref = ref_f16_to_f32((uint16_t)h);
        uint16_t back;
        if (f16_is_nan((uint16_t)h)) {
            if (!isnan(f)) bad_w++;
            back = bnbq_f32_to_f16(f);
            if (!f16_is_nan(back) && bad_rt++ < 3) CHECK(0, "NaN %04x -> %04x", h, back);
            continue;
        }
        if (fbits(f) != fbits(ref) && bad_w++ < 3)
            CHECK(0, "f16_to_f32(%04x) = %08x, expected %08x", h, fbits(f), fbits(ref));
        back = bnbq_f32_to_f16(f);
        if (back != h && bad_rt++ < 3) CHECK(0, "round trip %04x -> %04x", h, back);
    }
    CHECK(bad_w == 0, "%ld f16 widenings wrong", bad_w);
    CHECK(bad_rt == 0, "%ld f16 round trips wrong", bad_rt);
    /* ties: exactly halfway between neighbours goes to the even one; one f32 ulp off goes to
       the nearer one. Covers subnormals (2^-25 -> 0) and 65520 -> inf. */
    for (h = 0; h < 0x7c00; h++) {
        int sgn;
        for (sgn = 0; sgn < 2; sgn++) {
            uint16_t lo = (uint16_t)(h | (sgn << 15)), hi = (uint16_t)((h + 1) | (sgn << 15));
            double a = ref_f16_to_f32(lo);
            double b = (h + 1 == 0x7c00) ? (sgn ? -65536.0 : 65536.0) : ref_f16_to_f32(hi);
            float mid = (float)((a + b) * 0.5);   /* exact in f32 */
            uint16_t even = (lo & 1) ? hi : lo;
            uint16_t got = bnbq_f32_to_f16(mid);
            if ((double)mid != (a + b) * 0.5) { CHECK(0, "midpoint not exact"); continue; }
            if (got != even && bad_tie++ < 3)
                CHECK(0, "tie %.9g -> %04x, expected %04x", (double)mid, got, even);
            got = bnbq_f32_to_f16(nextafterf(mid, 0.0f));
            if (got != lo && bad_near++ < 3)
                CHECK(0, "below tie %.9g -> %04x, expected %04x", (double)mid, got, lo);
            got = bnbq_f32_to_f16(nextafterf(mid, sgn ? -INFINITY : INFINITY));
            if (got != hi && bad_near++ < 3)
                CHECK(0, "above tie %.9g -> %04x, expected %04x", (double)mid, got, hi);
        }
    }
    CHECK(bad_tie == 0, "%ld f16 ties not to even", bad_tie);
    CHECK(bad_near == 0, "%ld f16 near-ties wrong", bad_near);
    /* specials */
    CHECK(bnbq_f32_to_f16(65520.0f) == 0x7c00, "65520 -> %04x", bnbq_f32_to_f16(65520.0f));
    CHECK(bnbq_f32_to_f16(-65520.0f) == 0xfc00, "-65520");
    CHECK(bnbq_f32_to_f16(nextafterf(65520.0f, 0)) == 0x7bff, "65519.996");
    CHECK(bnbq_f32_to_f16(65504.0f) == 0x7bff, "65504");
    CHECK(bnbq_f32_to_f16(1e10f) == 0x7c00 && bnbq_f32_to_f16(FLT_MAX) == 0x7c00, "big -> inf");
    CHECK(bnbq_f32_to_f16(-FLT_MAX) == 0xfc00, "-FLT_MAX");
    CHECK(bnbq_f32_to_f16(INFINITY) == 0x7c00 && bnbq_f32_to_f16(-INFINITY) == 0xfc00, "inf");
    CHECK(bnbq_f32_to_f16(-0.0f) == 0x8000 && bnbq_f32_to_f16(0.0f) == 0x0000, "signed zero");
    CHECK(signbit(bnbq_f16_to_f32(0x8000)) && bnbq_f16_to_f32(0x8000) == 0.0f, "-0 widening");
    CHECK(bnbq_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001, "2^-24");
    CHECK(bnbq_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "2^-25 ties to 0");
    CHECK(bnbq_f32_to_f16(-ldexpf(1.0f, -25)) == 0x8000, "-2^-25 -> -0");
    CHECK(bnbq_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)) == 0x0001, "above 2^-25");
    CHECK(bnbq_f32_to_f16(3.0f * ldexpf(1.0f, -25)) == 0x0002, "3*2^-25 ties to 2");
    CHECK(bnbq_f32_to_f16(1e-30f) == 0x0000 && bnbq_f32_to_f16(-1e-30f) == 0x8000, "tiny");
    CHECK(bnbq_f32_to_f16(FLT_MIN) == 0 && bnbq_f32_to_f16(ldexpf(1.0f, -149)) == 0, "f32 denorm");
    CHECK(bnbq_f32_to_f16(ldexpf(1.0f, -14)) == 0x0400, "min normal");
    CHECK(bnbq_f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400, "largest subnormal tie -> normal");
    {
        static const uint32_t nans[] = { 0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu,
                                         0xffffffffu, 0x7f802000u, 0x7fa00000u };
        size_t k;
        for (k = 0; k < sizeof nans / sizeof nans[0]; k++)
            CHECK(f16_is_nan(bnbq_f32_to_f16(bitsf(nans[k]))), "NaN %08x -> %04x", nans[k],
                  bnbq_f32_to_f16(bitsf(nans[k])));
    }
    /* random f32 values: the result is a nearest f16 (ties to even) */
    for (i = 0; i < (g_quick ? 20000 : 400000); i++) {
        uint32_t u = (uint32_t)rng_u64(&r);
        float x;
        uint16_t got;
        double ax, d0, dlo, dhi, v;
        if ((u & 0x7f800000u) == 0x7f800000u) continue;
        if (i & 1) u = (u & 0x807fffffu) | ((uint32_t)(rng_int(&r, 100, 145)) << 23);
        x = bitsf(u);
        ax = fabs((double)x);
        got = bnbq_f32_to_f16(x);
        if (ax >= 65520.0) {
            if (got != (x < 0 ? 0xfc00 : 0x7c00) && bad_rand++ < 3) CHECK(0, "%g -> %04x", ax, got);
            continue;
        }
        if (((got >> 15) != (uint16_t)(x < 0 || (x == 0 && signbit(x)))) ||
            (got & 0x7fff) >= 0x7c00) {
            if (bad_rand++ < 3) CHECK(0, "%.9g -> %04x (sign/range)", (double)x, got);
            continue;
        }
        v = fabs((double)ref_f16_to_f32(got));
        d0 = fabs(ax - v);
        dlo = (got & 0x7fff) ? fabs(ax - fabs((double)ref_f16_to_f32((uint16_t)(got - 1)))) : 1e300;
        dhi = ((got & 0x7fff) + 1 < 0x7c00) ?
              fabs(ax - fabs((double)ref_f16_to_f32((uint16_t)(got + 1)))) :
              fabs(ax - 65536.0);
        if ((d0 > dlo || d0 > dhi || ((d0 == dlo || d0 == dhi) && (got & 1))) && bad_rand++ < 3)
            CHECK(0, "%.9g -> %04x not nearest-even", (double)x, got);
    }
    CHECK(bad_rand == 0, "%ld random f32 -> f16 conversions wrong", bad_rand);
}

static void test_convert_bf16(void)
{
    uint32_t h;
    long bad_rt = 0, bad_w = 0, bad_tie = 0, bad_near = 0;
    for (h = 0; h < 65536; h++) {
        float f = bnbq_bf16_to_f32((uint16_t)h);
        uint16_t back;
        if (bf16_is_nan((uint16_t)h)) {
            if (!isnan(f) && bad_w++ < 3) CHECK(0, "bf16 NaN %04x widened to %08x", h, fbits(f));
            back = bnbq_f32_to_bf16(f);
            if (!bf16_is_nan(back) && bad_rt++ < 3) CHECK(0, "bf16 NaN %04x -> %04x", h, back);
            continue;
        }
        if (fbits(f) != (h << 16) && bad_w++ < 3)
            CHECK(0, "bf16_to_f32(%04x) = %08x", h, fbits(f));
        back = bnbq_f32_to_bf16(f);
        if (back != h && bad_rt++ < 3) CHECK(0, "bf16 round trip %04x -> %04x", h, back);
        /* ties and near-ties to the next bf16 of larger magnitude */
        if ((h & 0x7fff) < 0x7f80) {
            uint32_t mid = (h << 16) + 0x8000u;
            uint16_t hi = (uint16_t)(h + 1);
            uint16_t even = (h & 1) ? hi : (uint16_t)h;
            uint16_t got = bnbq_f32_to_bf16(bitsf(mid));
            if (got != even && bad_tie++ < 3) CHECK(0, "bf16 tie %08x -> %04x", mid, got);
            got = bnbq_f32_to_bf16(bitsf(mid - 1));
            if (got != (uint16_t)h && bad_near++ < 3) CHECK(0, "bf16 %08x -> %04x", mid - 1, got);
            got = bnbq_f32_to_bf16(bitsf(mid + 1));
            if (got != hi && bad_near++ < 3) CHECK(0, "bf16 %08x -> %04x", mid + 1, got);
        }
    }
    CHECK(bad_w == 0, "%ld bf16 widenings wrong", bad_w);
    CHECK(bad_rt == 0, "%ld bf16 round trips wrong", bad_rt);
    CHECK(bad_tie == 0, "%ld bf16 ties wrong", bad_tie);
    CHECK(bad_near == 0, "%ld bf16 near-ties wrong", bad_near);
    CHECK(bnbq_f32_to_bf16(bitsf(0x7f7f8000u)) == 0x7f80, "bf16 overflow tie -> inf");
    CHECK(bnbq_f32_to_bf16(bitsf(0x7f7f7fffu)) == 0x7f7f, "bf16 below overflow tie");
    CHECK(bnbq_f32_to_bf16(FLT_MAX) == 0x7f80, "FLT_MAX -> inf");
    CHECK(bnbq_f32_to_bf16(-0.0f) == 0x8000, "bf16 -0");
    CHECK(bnbq_f32_to_bf16(bitsf(0x00008000u)) == 0x0000, "bf16 subnormal tie to even 0");
    CHECK(bnbq_f32_to_bf16(bitsf(0x00018000u)) == 0x0002, "bf16 subnormal tie to even 2");
    CHECK(bnbq_f32_to_bf16(bitsf(0x80008001u)) == 0x8001, "bf16 negative subnormal");
    {
        static const uint32_t nans[] = { 0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu,
                                         0xffffffffu, 0x7f80ffffu, 0x7f808000u };
        size_t k;
        for (k = 0; k < sizeof nans / sizeof nans[0]; k++)
            CHECK(bf16_is_nan(bnbq_f32_to_bf16(bitsf(nans[k]))), "NaN %08x -> %04x", nans[k],
                  bnbq_f32_to_bf16(bitsf(nans[k])));
    }
}

static void test_convert_array(void)
{
    enum { N = 1003 };
    rng r = rng_make(12);
    float x[N + 1], back[N + 1];
    uint16_t h[N + 1], b[N + 1], t[N + 1];
    size_t i;
    long bad = 0;
    for (i = 0; i < N; i++) x[i] = rng_randnf(&r) * (i % 7 == 0 ? 3e4f : 1.0f);
    x[0] = 70000.0f; x[1] = -0.0f; x[2] = NAN; x[3] = 1e-7f; x[4] = INFINITY;
    MUST(bnbq_convert(NULL, BNBQ_F32, x, N, BNBQ_F16, h));
    MUST(bnbq_convert(NULL, BNBQ_F32, x, N, BNBQ_BF16, b));
    for (i = 0; i < N; i++) {
        uint16_t eh = bnbq_f32_to_f16(x[i]), eb = bnbq_f32_to_bf16(x[i]);
        if (i == 2) { bad += !f16_is_nan(h[i]) + !bf16_is_nan(b[i]); continue; }
        if (h[i] != eh || b[i] != eb) bad++;
    }
    CHECK(bad == 0, "convert f32->f16/bf16: %ld elements differ from the scalar functions", bad);
    bad = 0;
    MUST(bnbq_convert(NULL, BNBQ_F16, h, N, BNBQ_F32, back));
    for (i = 0; i < N; i++)
        if (i != 2 && fbits(back[i]) != fbits(ref_f16_to_f32(h[i]))) bad++;
    MUST(bnbq_convert(NULL, BNBQ_BF16, b, N, BNBQ_F32, back));
    for (i = 0; i < N; i++)
        if (i != 2 && fbits(back[i]) != fbits(ref_bf16_to_f32(b[i]))) bad++;
    CHECK(bad == 0, "convert widening: %ld wrong", bad);
    bad = 0;
    MUST(bnbq_convert(NULL, BNBQ_F16, h, N, BNBQ_BF16, t));
    for (i = 0; i < N; i++)
        if (i != 2 && t[i] != bnbq_f32_to_bf16(ref_f16_to_f32(h[i]))) bad++;
    MUST(bnbq_convert(NULL, BNBQ_BF16, b, N, BNBQ_F16, t));
    for (i = 0; i < N; i++)
        if (i != 2 && t[i] != bnbq_f32_to_f16(ref_bf16_to_f32(b[i]))) bad++;
    CHECK(bad == 0, "convert f16<->bf16: %ld wrong", bad);
    /* same-size in place */
    memcpy(t, h, sizeof h);
    MUST(bnbq_convert(NULL, BNBQ_F16, t, N, BNBQ_BF16, t));
    bad = 0;
    for (i = 0; i < N; i++)
        if (i != 2 && t[i] != bnbq_f32_to_bf16(ref_f16_to_f32(h[i]))) bad++;
    CHECK(bad == 0, "in-place f16->bf16: %ld wrong", bad);
    memcpy(back, x, sizeof x);
    MUST(bnbq_convert(NULL, BNBQ_F32, back, N, BNBQ_F32, back));
    CHECK(memcmp(back, x, N * sizeof(float)) == 0, "in-place f32->f32 changed data");
}

/* ------------------------------------------------------------------------------------------ */
/* code tables                                                                                */

static int count_unique(const float* code, int n)
{
    float tmp[256];
    int i, j, u = 0;
    for (i = 0; i < n; i++) {
        int seen = 0;
        for (j = 0; j < u; j++) if (tmp[j] == code[i]) { seen = 1; break; }  /* -0 == +0 */
        if (!seen) tmp[u++] = code[i];
    }
    return u;
}
static int is_sorted(const float* code, int n)
{
    int i;
    for (i = 1; i < n; i++) if (!(code[i - 1] <= code[i])) return 0;
    return 1;
}

static void test_code_dynamic(void)
{
    float c[256];
    const float* s = bnbq_code_dynamic(1);
    const float* u = bnbq_code_dynamic(0);
    int k;
    CHECK(s != NULL && u != NULL, "bnbq_code_dynamic returned NULL");
    if (!s || !u) return;
    MUST(bnbq_create_dynamic_map(1, 7, 8, c));
    CHECK(memcmp(c, s, sizeof c) == 0, "create_dynamic_map(1,7,8) != bnbq_code_dynamic(1)");
    for (k = 0; k < 256; k++)
        if (fbits(c[k]) != fbits(s[k])) {
            CHECK(0, "signed map [%d]: created %08x, built-in %08x", k, fbits(c[k]), fbits(s[k]));
            break;
        }
    MUST(bnbq_create_dynamic_map(0, 7, 8, c));
    CHECK(memcmp(c, u, sizeof c) == 0, "create_dynamic_map(0,7,8) != bnbq_code_dynamic(0)");
    for (k = 0; k < 256; k++)
        if (fbits(c[k]) != fbits(u[k])) {
            CHECK(0, "unsigned map [%d]: created %08x, built-in %08x", k, fbits(c[k]),
                  fbits(u[k]));
            break;
        }
    /* Appendix A spot values */
    CHECK(fbits(s[0]) == 0xbf7e3333u, "signed[0] %08x", fbits(s[0]));
    CHECK(fbits(s[1]) == 0xbf7a999au, "signed[1] %08x", fbits(s[1]));
    CHECK(fbits(s[64]) == 0xbdc9eb85u, "signed[64] %08x", fbits(s[64]));
    CHECK(fbits(s[126]) == 0xb513a3b7u, "signed[126] %08x", fbits(s[126]));
    CHECK(fbits(s[127]) == 0u, "signed[127] %08x", fbits(s[127]));
    CHECK(fbits(s[128]) == 0x3513a3b7u, "signed[128] %08x", fbits(s[128]));
    CHECK(fbits(s[191]) == 0x3ddb3334u, "signed[191] %08x", fbits(s[191]));
    CHECK(fbits(s[255]) == 0x3f800000u, "signed[255] %08x", fbits(s[255]));
    CHECK(fbits(u[0]) == 0u && fbits(u[1]) == 0x34ae7baau && fbits(u[127]) == 0x3dd40000u &&
          fbits(u[128]) == 0x3de26666u && fbits(u[255]) == 0x3f800000u, "unsigned spot values");
    for (k = 0; k < 127; k++)
        if (fbits(s[254 - k]) != (fbits(s[k]) ^ 0x80000000u)) {
            CHECK(0, "signed map not antisymmetric at %d", k);
            break;
        }
    CHECK(is_sorted(s, 256) && count_unique(s, 256) == 256, "signed map sorted/unique");
    CHECK(is_sorted(u, 256) && count_unique(u, 256) == 256, "unsigned map sorted/unique");
}

/* test_few_bit_quant: unique counts of the few-bit tables; for the 8-bit sorted maps, blockwise
   quantization picks a nearest entry. */
static void test_code_few_bit(void)
{
    rng r = rng_make(13);
    int bits;
    for (bits = 2; bits <= 8; bits++) {
        float lin[256], fp8[256], dyn[256];
        int e = (bits + 1) / 2, p = bits - (bits + 1) / 2 - 1, want = 1 << bits, u, m;
        MUST(bnbq_create_linear_map(1, bits, 1, lin));
        MUST(bnbq_create_fp8_map(1, e, p, bits, fp8));
        MUST(bnbq_create_dynamic_map(1, bits, bits, dyn));
        u = count_unique(lin, 256);
        CHECK(u == want || u == want - 1, "linear(1,%d): %d unique values", bits, u);
        u = count_unique(fp8, 256);
        CHECK(u == want || u == want - 1, "fp8(1,%d,%d,%d): %d unique values", e, p, bits, u);
        u = count_unique(dyn, 256);
        CHECK(u == want || u == want - 1, "dynamic(1,%d,%d): %d unique values", bits, bits, u);
        CHECK(is_sorted(fp8, 256), "fp8 map %d bits not sorted", bits);
        CHECK(is_sorted(dyn, 256), "dynamic map %d bits not sorted", bits);
        CHECK(fabsf(lin[0] + 1.0f) < 1e-6f, "linear(1,%d)[0] = %g", bits, (double)lin[0]);
        if (bits < 8) continue;
        /* 8-bit sorted maps: quantize_blockwise(values/max|values|) picks a nearest entry */
        for (m = 0; m < 2; m++) {
            const float* code = m == 0 ? fp8 : dyn;
            int it;
            for (it = 0; it < 10; it++) {
                float v[32], mx = 0.0f, am[1];
                uint8_t q[32];
                int i, k;
                fill_randn(&r, v, 32, 1.0f);
                for (i = 0; i < 32; i++) if (fabsf(v[i]) > mx) mx = fabsf(v[i]);
                for (i = 0; i < 32; i++) v[i] /= mx;
                MUST(bnbq_quantize_blockwise(NULL, code, BNBQ_F32, v, 32, 4096, q, am));
                for (i = 0; i < 32; i++) {
                    float best = INFINITY, d = fabsf(v[i] - code[q[i]]);
                    for (k = 0; k < 256; k++) if (fabsf(v[i] - code[k]) < best) best = fabsf(v[i] - code[k]);
                    CHECK(d == best, "%s map: %.9g -> code %d (dist %g, best %g)",
                          m ? "dynamic" : "fp8", (double)v[i], q[i], (double)d, (double)best);
                }
            }
        }
    }
}

static void test_code_tables(void)
{
    float c[256], t[16];
    int k;
    static const double af4[16] = { -1.0, -0.69441008, -0.51243739, -0.3736951, -0.25607552,
        -0.14982478, -0.04934812, 0.0, 0.04273164, 0.12934483, 0.21961274, 0.31675666,
        0.42563882, 0.55496234, 0.72424863, 1.0 };
    const float* nf4 = bnbq_code_4bit(BNBQ_NF4);
    const float* fp4 = bnbq_code_4bit(BNBQ_FP4);
    CHECK(nf4 && fp4, "bnbq_code_4bit returned NULL");
    CHECK(bnbq_code_4bit((bnbq_quant_type)7) == NULL, "code_4bit(7) not NULL");
    CHECK(bnbq_code_4bit(BNBQ_INT4) != NULL && bnbq_code_4bit(BNBQ_AF4) != NULL,
          "code_4bit INT4/AF4");
    if (!nf4 || !fp4) return;
    for (k = 0; k < 16; k++) {
        CHECK(fbits(nf4[k]) == NF4_HEX[k], "NF4[%d] = %08x", k, fbits(nf4[k]));
        CHECK(fbits(fp4[k]) == FP4_TABLE_HEX[k], "FP4[%d] = %08x", k, fbits(fp4[k]));
    }
    MUST(bnbq_get_4bit_type(BNBQ_NF4, 64, t));
    CHECK(memcmp(t, nf4, sizeof t) == 0, "get_4bit_type(nf4) != NF4 table");
    MUST(bnbq_get_4bit_type(BNBQ_NF4, 128, t));
    CHECK(memcmp(t, nf4, sizeof t) == 0, "get_4bit_type(nf4, 128)");
    MUST(bnbq_get_4bit_type(BNBQ_FP4, 64, t));
    for (k = 0; k < 16; k++) CHECK(fbits(t[k]) == FP4_TABLE_HEX[k], "get_4bit_type(fp4)[%d]", k);
    CHECK(fbits(t[8]) == 0u, "fp4 table index 8 is %08x, expected +0.0", fbits(t[8]));
    MUST(bnbq_get_4bit_type(BNBQ_INT4, 64, t));
    for (k = 0; k < 16; k++) {
        float want = (k < 8 ? (float)(7 - k) : -(float)(k - 8)) / 7.0f;
        if (k == 8) want = 0.0f;
        CHECK(fbits(t[k]) == fbits(want), "int4[%d] = %08x, expected %08x", k, fbits(t[k]),
              fbits(want));
    }
    MUST(bnbq_get_4bit_type(BNBQ_AF4, 64, t));
    for (k = 0; k < 16; k++)
        CHECK(fbits(t[k]) == fbits((float)af4[15 - k]), "af4[%d] = %.9g", k, (double)t[k]);
    CHECK(memcmp(t, bnbq_code_4bit(BNBQ_AF4), sizeof t) == 0, "code_4bit(AF4)");
    EXPECT_NOEX(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_get_4bit_type, BNBQ_AF4, 128, t);
    EXPECT_NOEX(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_get_4bit_type, BNBQ_AF4, 32, t);
    for (k = 0; k < 8; k++)
        CHECK(fbits(bnbq_fp4_value(k)) == FP4_TABLE_HEX[k] &&
              fbits(bnbq_fp4_value(k | 8)) == (FP4_TABLE_HEX[k] ^ 0x80000000u),
              "fp4_value(%d) / (%d)", k, k | 8);
    CHECK(fbits(bnbq_fp4_value(8)) == 0x80000000u, "fp4_value(8) is not -0.0");

    /* NF4 from the generator (formats 3): 7 negatives, 241 zeros, 8 positives */
    MUST(bnbq_create_normal_map(0.9677083, 1, c));
    for (k = 0; k < 7; k++)
        CHECK(fbits(c[k]) == NF4_HEX[k], "normal map [%d] = %08x, want %08x", k, fbits(c[k]),
              NF4_HEX[k]);
    for (k = 7; k < 248; k++) if (c[k] != 0.0f) { CHECK(0, "normal map [%d] = %g", k, (double)c[k]); break; }
    for (k = 248; k < 256; k++)
        CHECK(fbits(c[k]) == NF4_HEX[k - 240], "normal map [%d] = %08x, want %08x", k,
              fbits(c[k]), NF4_HEX[k - 240]);
    MUST(bnbq_create_normal_map(0.9677083, 0, c));
    CHECK(is_sorted(c, 256) && count_unique(c, 256) == 15, "normal map without extra value");
    for (k = 0; k < 7; k++) CHECK(c[k] == -c[255 - k], "symmetric normal map at %d", k);
    CHECK(c[255] == 1.0f && c[0] == -1.0f, "normal map ends");

    /* linear maps (formats 2) */
    MUST(bnbq_create_linear_map(1, 8, 1, c));
    CHECK(c[0] == -1.0f && c[255] == 1.0f && fbits(c[127]) == 0u, "linear(1,8) ends");
    CHECK(fbits(c[128]) == 0x31800000u, "linear(1,8)[128] = %08x (formats 2: 0x31800000)",
          fbits(c[128]));
    MUST(bnbq_create_linear_map(0, 8, 1, c));
    CHECK(c[0] == 0.0f && c[255] == 1.0f && is_sorted(c, 256) && count_unique(c, 256) == 256,
          "linear(0,8)");

    /* fp8 maps (Appendix B) */
    MUST(bnbq_create_fp8_map(1, 4, 3, 8, c));
    CHECK(fbits(c[0]) == 0xbf800000u && fbits(c[1]) == 0xbf6eeeefu && fbits(c[120]) == 0xb6eeeeefu &&
          fbits(c[127]) == 0u && fbits(c[128]) == 0x80000000u && fbits(c[135]) == 0x36eeeeefu &&
          fbits(c[136]) == 0x38088889u && fbits(c[255]) == 0x3f800000u, "e4m3 spot values");
    MUST(bnbq_create_fp8_map(1, 5, 2, 8, c));
    CHECK(fbits(c[1]) == 0xbf5b6db7u && fbits(c[124]) == 0xaedb6db7u &&
          fbits(c[128]) == 0x80000000u && fbits(c[254]) == 0x3f5b6db7u, "e5m2 spot values");
}

static void test_sizes(void)
{
    size_t v = 0;
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_blocks_size, 1000, 64, &v);
    CHECK(v == 16, "blocks_size(1000,64) = %lu", (unsigned long)v);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_blocks_size, 1024, 64, &v);
    CHECK(v == 16, "blocks_size(1024,64) = %lu", (unsigned long)v);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_blocks_size, 1, 4096, &v);
    CHECK(v == 1, "blocks_size(1,4096)");
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_blocks_size, SIZE_MAX, 64, &v);
    CHECK(v == SIZE_MAX / 64 + 1, "blocks_size(SIZE_MAX,64) = %lu", (unsigned long)v);
    EXPECT_NOEX(BNBQ_ERROR_BAD_SHAPE, bnbq_blocks_size, 0, 64, &v);
    EXPECT_NOEX(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_blocks_size, 100, 0, &v);
    EXPECT_NOEX(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_blocks_size, 100, -64, &v);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_blocks_size, 100, 64, NULL);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_packed_4bit_size, 7, &v);
    CHECK(v == 4, "packed(7) = %lu", (unsigned long)v);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_packed_4bit_size, 1, &v);
    CHECK(v == 1, "packed(1)");
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_packed_4bit_size, 8, &v);
    CHECK(v == 4, "packed(8)");
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_packed_4bit_size, SIZE_MAX, &v);
    CHECK(v == SIZE_MAX / 2 + 1, "packed(SIZE_MAX) = %lu (n+1 overflowed?)", (unsigned long)v);
    EXPECT_NOEX(BNBQ_ERROR_BAD_SHAPE, bnbq_packed_4bit_size, 0, &v);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_packed_4bit_size, 5, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* statistical bars (spec/tests.md)                                                           */

static const int k_bs8[7] = { 4096, 2048, 1024, 512, 256, 128, 64 };

/* 8-bit blockwise round trip of x (given in dt; xw = the values it holds), optionally with
   nested statistics (nested blocksize = blocksize, as bitsandbytes' 8-bit nested=True). */
static int roundtrip8(const float* code, bnbq_dtype dt, const void* x, size_t n, int bs,
                      int nested, void* out)
{
    size_t nb = (n + (size_t)bs - 1) / (size_t)bs;
    uint8_t* q = (uint8_t*)xmalloc(n);
    float* am = (float*)xmalloc(nb * sizeof(float));
    float* am2 = (float*)xmalloc(nb * sizeof(float));
    float off = 0.0f;
    int ok = 1;
    bnbq_result r = bnbq_quantize_blockwise(NULL, code, dt, x, n, bs, q, am);
    if (r == BNBQ_SUCCESS && nested) {
        size_t nb2 = (nb + (size_t)bs - 1) / (size_t)bs;
        uint8_t* aq = (uint8_t*)xmalloc(nb);
        float* nabs = (float*)xmalloc(nb2 * sizeof(float));
        r = bnbq_nested_offset(NULL, am, nb, &off);
        if (r == BNBQ_SUCCESS) r = bnbq_quantize_nested(NULL, NULL, am, nb, bs, &off, aq, nabs);
        if (r == BNBQ_SUCCESS) r = bnbq_dequantize_nested(NULL, NULL, aq, nabs, nb, bs, &off, am2);
        if (r == BNBQ_SUCCESS) memcpy(am, am2, nb * sizeof(float));
        free(aq);
        free(nabs);
    }
    if (r == BNBQ_SUCCESS) r = bnbq_dequantize_blockwise(NULL, code, dt, q, am, n, bs, out);
    if (r != BNBQ_SUCCESS) {
        CHECK(0, "8-bit round trip %s bs %d nested %d: %s", dt_name(dt), bs, nested, RC(r));
        ok = 0;
    }
    free(q);
    free(am);
    free(am2);
    return ok;
}

static void test_q8_bars_randn(void)
{
    size_t n = g_quick ? 256 * 1024 : 1024 * 1024;
    rng r = rng_make(21);
    float* a = (float*)xmalloc(n * sizeof(float));
    float* aw = (float*)xmalloc(n * sizeof(float));
    void* out = xmalloc(n * 4);
    int ib, id, nested;
    fill_randn(&r, a, n, 1.0f);
    for (id = 0; id < 3; id++) {
        bnbq_dtype dt = k_float_dtypes[id];
        void* x = to_dt(dt, a, n, aw);
        for (ib = 0; ib < 7; ib++) {
            for (nested = 0; nested < 2; nested++) {
                errstat e;
                if (!roundtrip8(NULL, dt, x, n, k_bs8[ib], nested, out)) continue;
                e = err_stats(aw, dt, out, n, 1e-8);
                CHECK(e.abs_sum / n < 0.011, "randn %s bs %d nested %d: abserr %.6f >= 0.011",
                      dt_name(dt), k_bs8[ib], nested, e.abs_sum / n);
                CHECK(e.rel_sum / n < 0.018, "randn %s bs %d nested %d: relerr %.6f >= 0.018",
                      dt_name(dt), k_bs8[ib], nested, e.rel_sum / n);
            }
        }
        free(x);
    }
    free(a);
    free(aw);
    free(out);
}

static void test_q8_bars_uniform(void)
{
    size_t n = g_quick ? 256 * 1024 : 1024 * 1024;
    rng r = rng_make(22);
    float* a = (float*)xmalloc(n * sizeof(float));
    float* aw = (float*)xmalloc(n * sizeof(float));
    void* out = xmalloc(n * 4);
    int ib, id, nested, sgn;
    fill_rand(&r, a, n);
    for (sgn = 0; sgn < 2; sgn++) {
        float code[256];
        double bar_abs = sgn ? 0.0036 : 0.0023, bar_rel = sgn ? 0.015 : 0.012;
        MUST(bnbq_create_dynamic_map(sgn, 7, 8, code));
        for (id = 0; id < 3; id++) {
            bnbq_dtype dt = k_float_dtypes[id];
            void* x = to_dt(dt, a, n, aw);
            for (ib = 0; ib < 7; ib++) {
                for (nested = 0; nested < 2; nested++) {
                    errstat e;
                    if (!roundtrip8(code, dt, x, n, k_bs8[ib], nested, out)) continue;
                    e = err_stats(aw, dt, out, n, 1e-8);
                    CHECK(e.abs_sum / n < bar_abs, "rand %s map %s bs %d nested %d: abserr %.6f",
                          sgn ? "signed" : "unsigned", dt_name(dt), k_bs8[ib], nested,
                          e.abs_sum / n);
                    CHECK(e.rel_sum / n < bar_rel, "rand %s map %s bs %d nested %d: relerr %.6f",
                          sgn ? "signed" : "unsigned", dt_name(dt), k_bs8[ib], nested,
                          e.rel_sum / n);
                }
            }
            free(x);
        }
    }
    free(a);
    free(aw);
    free(out);
}

/* test_blockwise_cpu_large: blocksizes beyond 4096 are accepted on the CPU. */
static void test_q8_cpu_large(void)
{
    size_t n = g_quick ? 64 * 128 * 128 : 128 * 128 * 128;
    static const int bss[] = { 4096, 8192, 16384, 32768 };
    rng r = rng_make(23);
    float* a = (float*)xmalloc(n * sizeof(float));
    float* out = (float*)xmalloc(n * sizeof(float));
    size_t k;
    fill_randn(&r, a, n, 1.0f);
    for (k = 0; k < sizeof bss / sizeof bss[0]; k++) {
        errstat e;
        if (!roundtrip8(NULL, BNBQ_F32, a, n, bss[k], 0, out)) continue;
        e = err_stats(a, BNBQ_F32, out, n, 1e-8);
        CHECK(e.abs_sum / n < 0.011, "bs %d: abserr %.6f", bss[k], e.abs_sum / n);
    }
    free(a);
    free(out);
}

/* test_4bit_quant: table values + 1e-3 */
static void test_q4_bars(void)
{
    static const int bss[8] = { 32, 64, 128, 256, 512, 1024, 2048, 4096 };
    static const double tab[8][4] = { /* fp4 err, fp4 rel, nf4 err, nf4 rel */
        { 0.088918, 0.242380, 0.067745, 0.189700 }, { 0.096545, 0.260130, 0.072792, 0.203299 },
        { 0.102947, 0.275734, 0.076835, 0.215252 }, { 0.108685, 0.289842, 0.080326, 0.226044 },
        { 0.114087, 0.302852, 0.083535, 0.236021 }, { 0.119312, 0.314982, 0.086603, 0.245365 },
        { 0.124460, 0.326402, 0.089592, 0.254146 }, { 0.129573, 0.337228, 0.092537, 0.262457 } };
    size_t n = 1024 * 1024;
    rng r = rng_make(24);
    float* a = (float*)xmalloc(n * sizeof(float));
    float* aw = (float*)xmalloc(n * sizeof(float));
    uint8_t* packed = (uint8_t*)xmalloc(n / 2);
    float* am = (float*)xmalloc(n / 32 * sizeof(float));
    void* out = xmalloc(n * 4);
    int id, ib, iq;
    fill_randn(&r, a, n, 1.0f);
    for (id = 0; id < 3; id++) {
        bnbq_dtype dt = k_float_dtypes[id];
        void* x = to_dt(dt, a, n, aw);
        for (ib = 0; ib < 8; ib++) {
            for (iq = 0; iq < 2; iq++) {
                bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
                bnbq_result rq, rd;
                errstat e;
                rq = bnbq_quantize_4bit(NULL, qt, dt, x, n, bss[ib], packed, am);
                rd = bnbq_dequantize_4bit(NULL, qt, dt, packed, am, n, bss[ib], out);
                CHECK(rq == BNBQ_SUCCESS && rd == BNBQ_SUCCESS, "4-bit %s %s bs %d: %s / %s",
                      iq ? "nf4" : "fp4", dt_name(dt), bss[ib], RC(rq), RC(rd));
                if (rq != BNBQ_SUCCESS || rd != BNBQ_SUCCESS) continue;
                e = err_stats(aw, dt, out, n, 1e-8);
                CHECK(e.abs_sum / n < tab[ib][2 * iq] + 1e-3, "%s %s bs %d: err %.6f >= %.6f",
                      iq ? "nf4" : "fp4", dt_name(dt), bss[ib], e.abs_sum / n,
                      tab[ib][2 * iq] + 1e-3);
                CHECK(e.rel_sum / n < tab[ib][2 * iq + 1] + 1e-3,
                      "%s %s bs %d: relerr %.6f >= %.6f", iq ? "nf4" : "fp4", dt_name(dt),
                      bss[ib], e.rel_sum / n, tab[ib][2 * iq + 1] + 1e-3);
            }
        }
        free(x);
    }
    free(a);
    free(aw);
    free(packed);
    free(am);
    free(out);
}

/* 4-bit round trip with optional nested statistics (nested blocksize 256). */
static int roundtrip4(bnbq_quant_type qt, bnbq_dtype dt, const void* x, size_t n, int bs,
                      int nested, void* out)
{
    size_t nb = (n + (size_t)bs - 1) / (size_t)bs, nb2 = (nb + 255) / 256;
    uint8_t* packed = (uint8_t*)xmalloc(n / 2 + 1);
    float* am = (float*)xmalloc(nb * sizeof(float));
    uint8_t* aq = (uint8_t*)xmalloc(nb);
    float* nabs = (float*)xmalloc(nb2 * sizeof(float));
    float off = 0.0f;
    bnbq_result r = bnbq_quantize_4bit(NULL, qt, dt, x, n, bs, packed, am);
    if (r == BNBQ_SUCCESS && nested) {
        r = bnbq_nested_offset(NULL, am, nb, &off);
        if (r == BNBQ_SUCCESS) r = bnbq_quantize_nested(NULL, NULL, am, nb, 256, &off, aq, nabs);
        if (r == BNBQ_SUCCESS) r = bnbq_dequantize_nested(NULL, NULL, aq, nabs, nb, 256, &off, am);
    }
    if (r == BNBQ_SUCCESS) r = bnbq_dequantize_4bit(NULL, qt, dt, packed, am, n, bs, out);
    CHECK(r == BNBQ_SUCCESS, "4-bit round trip %s bs %d nested %d: %s", dt_name(dt), bs, nested,
          RC(r));
    free(packed);
    free(am);
    free(aq);
    free(nabs);
    return r == BNBQ_SUCCESS;
}

/* test_4bit_compressed_stats */
static void test_q4_compressed_stats(void)
{
    static const int bss[3] = { 32, 64, 128 };
    size_t n = g_quick ? 256 * 1024 : 1024 * 1024;
    int iters = g_quick ? 1 : 2, it, ib, id, iq, nested;
    rng r = rng_make(25);
    float* a = (float*)xmalloc(n * sizeof(float));
    float* aw = (float*)xmalloc(n * sizeof(float));
    void* out = xmalloc(n * 4);
    for (it = 0; it < iters; it++) {
        fill_randn(&r, a, n, 1.0f);
        for (id = 0; id < 2; id++) {
            bnbq_dtype dt = k_float_dtypes[id];
            void* x = to_dt(dt, a, n, aw);
            for (ib = 0; ib < 3; ib++)
                for (iq = 0; iq < 2; iq++)
                    for (nested = 0; nested < 2; nested++) {
                        errstat e;
                        if (!roundtrip4(iq ? BNBQ_NF4 : BNBQ_FP4, dt, x, n, bss[ib], nested, out))
                            continue;
                        e = err_stats(aw, dt, out, n, 1e-15);
                        CHECK(e.abs_sum / n < 0.11, "%s %s bs %d nested %d: err %.6f",
                              iq ? "nf4" : "fp4", dt_name(dt), bss[ib], nested, e.abs_sum / n);
                        CHECK(e.rel_sum / n < 0.28, "%s %s bs %d nested %d: relerr %.6f",
                              iq ? "nf4" : "fp4", dt_name(dt), bss[ib], nested, e.rel_sum / n);
                    }
            free(x);
        }
    }
    free(a);
    free(aw);
    free(out);
}

/* test_dynamic_quantization (global quantize / dequantize) */
static void test_global_bars(void)
{
    size_t n = g_quick ? 256 * 1024 : 1024 * 1024;
    int iters = g_quick ? 1 : 3, it;
    rng r = rng_make(26);
    float* a = (float*)xmalloc(n * sizeof(float));
    float* out = (float*)xmalloc(n * sizeof(float));
    uint8_t* q = (uint8_t*)xmalloc(n);
    float am = 0.0f;
    for (it = 0; it < iters; it++) {
        errstat e;
        fill_randn(&r, a, n, 1.0f);
        MUST(bnbq_quantize_global(NULL, NULL, BNBQ_F32, a, n, q, &am));
        MUST(bnbq_dequantize_global(NULL, NULL, BNBQ_F32, q, &am, n, out));
        e = err_stats(a, BNBQ_F32, out, n, 1e-8);
        CHECK(e.abs_sum / n < 0.0135, "randn: mean abs err %.6f >= 0.0135", e.abs_sum / n);
        fill_rand(&r, a, n);
        MUST(bnbq_quantize_global(NULL, NULL, BNBQ_F32, a, n, q, &am));
        MUST(bnbq_dequantize_global(NULL, NULL, BNBQ_F32, q, &am, n, out));
        e = err_stats(a, BNBQ_F32, out, n, 1e-8);
        CHECK(e.max_abs <= 1e-2, "rand: max abs err %.6f > 1e-2", e.max_abs);
        CHECK(e.abs_sum / n < 0.004, "rand: mean abs err %.6f >= 0.004", e.abs_sum / n);
    }
    /* f16 input (= quantize(A.float())), f16 output */
    {
        float* aw = (float*)xmalloc(n * sizeof(float));
        void* x, *o = xmalloc(n * 2);
        errstat e;
        size_t i;
        float mx = 0.0f;
        fill_randn(&r, a, n, 1.0f);
        x = to_dt(BNBQ_F16, a, n, aw);
        MUST(bnbq_quantize_global(NULL, NULL, BNBQ_F16, x, n, q, &am));
        for (i = 0; i < n; i++) if (fabsf(aw[i]) > mx) mx = fabsf(aw[i]);
        CHECK(am == mx, "global absmax %g, expected %g", (double)am, (double)mx);
        MUST(bnbq_dequantize_global(NULL, NULL, BNBQ_F16, q, &am, n, o));
        e = err_stats(aw, BNBQ_F16, o, n, 1e-8);
        CHECK(e.abs_sum / n < 0.0135, "f16 randn: mean abs err %.6f", e.abs_sum / n);
        free(aw);
        free(x);
        free(o);
    }
    free(a);
    free(out);
    free(q);
}

/* ------------------------------------------------------------------------------------------ */
/* bit-exact properties (tests.md "Suggested additional bit-exact vectors")                   */

/* Every midpoint of the signed dynamic map -> [0,2,2,4,4,...] (algorithms 2.2). */
static void test_exact_midpoints(void)
{
    const float* code = bnbq_code_dynamic(1);
    float x[256], am[1];
    uint8_t q[256];
    int k;
    long bad = 0;
    if (!code) { CHECK(0, "no code"); return; }
    for (k = 0; k < 255; k++) {
        float mid = (code[k] + code[k + 1]) * 0.5f;   /* f32((code[k]+code[k+1])*0.5f) */
        int want = (k + 1) & ~1;
        int got = bnbq_code_index(code, mid);
        x[k] = mid;
        if (got != want && bad++ < 5)
            CHECK(0, "code_index(midpoint %d = %08x) = %d, expected %d", k, fbits(mid), got, want);
        got = bnbq_code_index(code, code[k]);
        if (got != k && bad++ < 5) CHECK(0, "code_index(code[%d]) = %d", k, got);
        got = bnbq_code_index(code, nextafterf(mid, INFINITY));
        if (got != k + 1 && bad++ < 5) CHECK(0, "code_index(above midpoint %d) = %d", k, got);
        got = bnbq_code_index(code, nextafterf(mid, -INFINITY));
        if (got != k && bad++ < 5) CHECK(0, "code_index(below midpoint %d) = %d", k, got);
    }
    CHECK(bnbq_code_index(code, code[255]) == 255, "code_index(1.0)");
    CHECK(bnbq_code_index(code, 2.0f) == 255 && bnbq_code_index(code, -2.0f) == 0, "beyond ends");
    CHECK(bnbq_code_index(code, -1.0f) == 0, "-1.0 -> 0");
    CHECK(bad == 0, "%ld code_index mismatches", bad);
    /* the same through quantize_blockwise: one block with absmax 1 (so the scale is exactly 1) */
    x[255] = 1.0f;
    MUST(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, x, 256, 256, q, am));
    CHECK(am[0] == 1.0f, "absmax %g", (double)am[0]);
    bad = 0;
    for (k = 0; k < 255; k++)
        if (q[k] != ((k + 1) & ~1) && bad++ < 5)
            CHECK(0, "quantize_blockwise(midpoint %d) = %d, expected %d", k, q[k], (k + 1) & ~1);
    CHECK(q[255] == 255, "1.0 -> %d", q[255]);
    /* and with the unsigned map */
    {
        const float* u = bnbq_code_dynamic(0);
        bad = 0;
        for (k = 0; k < 255; k++) {
            float mid = (u[k] + u[k + 1]) * 0.5f;
            if (bnbq_code_index(u, mid) != ((k + 1) & ~1) && bad++ < 3)
                CHECK(0, "unsigned midpoint %d -> %d", k, bnbq_code_index(u, mid));
        }
    }
}

/* bitsandbytes' dQuantize<0> written out literally (algorithms.md 2.2): lower/upper tracked with
   the kernel's -1/+1 start values and late fix-ups. bnbq's search must agree with it for every
   table (sorted or not, with duplicate zeros) and every input. */
static int literal_dquantize(const float* code, float x)
{
    int pivot = 127, upper_pivot = 255, lower_pivot = 0, step;
    float lower = -1.0f, upper = 1.0f, val = code[127], mid;
    for (step = 64; step > 0; step >>= 1) {
        if (x > val) { lower_pivot = pivot; lower = val; pivot += step; }
        else { upper_pivot = pivot; upper = val; pivot -= step; }
        val = code[pivot];
    }
    if (upper_pivot == 255) upper = code[255];
    if (lower_pivot == 0) lower = code[0];
    if (x > val) {
        mid = (upper + val) * 0.5f;
        return x > mid ? upper_pivot : pivot;
    }
    mid = (lower + val) * 0.5f;
    return x < mid ? lower_pivot : pivot;
}

static void test_code_index_literal(void)
{
    float tables[8][256];
    const char* names[8] = { "dynamic signed", "dynamic unsigned", "linear signed",
                             "linear unsigned 4-bit (unsorted)", "fp8 e4m3", "fp8 e5m2",
                             "fp8 (1,2,1,4)", "random unsorted" };
    rng r = rng_make(77);
    int t, k;
    long bad = 0, checked = 0;
    memcpy(tables[0], bnbq_code_dynamic(1), sizeof tables[0]);
    memcpy(tables[1], bnbq_code_dynamic(0), sizeof tables[1]);
    MUST(bnbq_create_linear_map(1, 8, 1, tables[2]));
    MUST(bnbq_create_linear_map(0, 4, 1, tables[3]));
    MUST(bnbq_create_fp8_map(1, 4, 3, 8, tables[4]));
    MUST(bnbq_create_fp8_map(1, 5, 2, 8, tables[5]));
    MUST(bnbq_create_fp8_map(1, 2, 1, 4, tables[6]));
    for (k = 0; k < 256; k++) tables[7][k] = (float)(rng_uniform(&r) * 2.0 - 1.0);
    for (t = 0; t < 8; t++) {
        const float* code = tables[t];
        for (k = 0; k < 20000 + 256 * 6; k++) {
            float x;
            if (k < 256) x = code[k];
            else if (k < 511) x = (code[k - 256] + code[k - 255]) * 0.5f;
            else if (k < 766) x = nextafterf((code[k - 511] + code[k - 510]) * 0.5f, INFINITY);
            else if (k < 1021) x = nextafterf((code[k - 766] + code[k - 765]) * 0.5f, -INFINITY);
            else if (k < 1030) {
                static const float specials[9] = { 0.0f, -0.0f, 1.0f, -1.0f, 2.0f, -2.0f,
                                                   1e-30f, -1e-30f, 0.5f };
                x = specials[k - 1021];
            } else if (k == 1030) x = NAN;
            else if (k == 1031) x = INFINITY;
            else if (k == 1032) x = -INFINITY;
            else x = (float)(rng_uniform(&r) * 2.2 - 1.1);
            checked++;
            if (bnbq_code_index(code, x) != literal_dquantize(code, x) && bad++ < 6)
                CHECK(0, "%s: x=%08x bnbq %d, literal kernel %d", names[t], fbits(x),
                      bnbq_code_index(code, x), literal_dquantize(code, x));
        }
    }
    CHECK(bad == 0, "%ld of %ld searches differ from the literal kernel", bad, checked);
}

/* All-zero blocks: codes 0, absmax 0, dequantized -0.0 (8-bit, NF4); FP4 gives +0.0. */
static void test_exact_zero_blocks(void)
{
    enum { N = 192, BS = 64 };
    rng r = rng_make(31);
    float x[N], am[3], out[N];
    uint8_t q[N], pk[N / 2];
    int id, i;
    memset(x, 0, sizeof x);
    for (i = 64; i < 128; i++) x[i] = -0.0f;                  /* second block: negative zeros */
    for (i = 128; i < N; i++) x[i] = rng_randnf(&r);
    for (id = 0; id < 3; id++) {
        bnbq_dtype dt = k_float_dtypes[id];
        void* xd = to_dt(dt, x, N, NULL);
        void* od = xmalloc(N * 4);
        MUST(bnbq_quantize_blockwise(NULL, NULL, dt, xd, N, BS, q, am));
        for (i = 0; i < 128; i++) if (q[i] != 0) { CHECK(0, "%s zero block code[%d] = %d", dt_name(dt), i, q[i]); break; }
        CHECK(fbits(am[0]) == 0u && fbits(am[1]) == 0u, "%s zero-block absmax %08x %08x",
              dt_name(dt), fbits(am[0]), fbits(am[1]));
        MUST(bnbq_dequantize_blockwise(NULL, NULL, dt, q, am, N, BS, od));
        for (i = 0; i < 128; i++) {
            float v = get_dt(dt, od, i);
            if (!(v == 0.0f && signbit(v))) { CHECK(0, "%s 8-bit zero block out[%d] = %g (sign %d)", dt_name(dt), i, (double)v, signbit(v) != 0); break; }
        }
        /* NF4: nibbles 0, -0.0 out */
        MUST(bnbq_quantize_4bit(NULL, BNBQ_NF4, dt, xd, N, BS, pk, am));
        for (i = 0; i < 64; i++) if (pk[i] != 0) { CHECK(0, "%s NF4 zero block byte %d = %02x", dt_name(dt), i, pk[i]); break; }
        CHECK(fbits(am[0]) == 0u && fbits(am[1]) == 0u, "%s NF4 zero absmax", dt_name(dt));
        MUST(bnbq_dequantize_4bit(NULL, BNBQ_NF4, dt, pk, am, N, BS, od));
        for (i = 0; i < 128; i++) {
            float v = get_dt(dt, od, i);
            if (!(v == 0.0f && signbit(v))) { CHECK(0, "%s NF4 zero block out[%d] = %g", dt_name(dt), i, (double)v); break; }
        }
        /* FP4: NaN scaled input -> nibble 0 -> +0.0 */
        MUST(bnbq_quantize_4bit(NULL, BNBQ_FP4, dt, xd, N, BS, pk, am));
        for (i = 0; i < 64; i++) if (pk[i] != 0) { CHECK(0, "%s FP4 zero block byte %d = %02x", dt_name(dt), i, pk[i]); break; }
        MUST(bnbq_dequantize_4bit(NULL, BNBQ_FP4, dt, pk, am, N, BS, od));
        for (i = 0; i < 128; i++) {
            float v = get_dt(dt, od, i);
            if (!(v == 0.0f && !signbit(v))) { CHECK(0, "%s FP4 zero block out[%d] = %g (sign %d)", dt_name(dt), i, (double)v, signbit(v) != 0); break; }
        }
        free(xd);
        free(od);
    }
    (void)out;
}

/* NF4/FP4: inputs equal to each threshold -> the lower code; one ulp above -> the upper. */
static void test_exact_4bit_thresholds(void)
{
    static const uint32_t nf4_thr[15] = { 0x3d22faffu, 0x3ec753f9u, 0x3f248dafu, 0x3f5c89d9u,
        0x3f006d03u, 0x3e5067e0u, 0x3e9582d4u, 0x3df64863u, 0xbeadea76u, 0xbe0d38bcu,
        0xbd3a7871u, 0xbe703cecu, 0xbf1c5270u, 0xbeeb8480u, 0xbf591cd9u };
    /* FP4 magnitude thresholds in increasing order, and the magnitude codes in value order */
    static const uint32_t fp4_thr[7] = { 0x3b2aaab9u, 0x3db00000u, 0x3e555555u, 0x3e955555u,
        0x3ed55556u, 0x3f155550u, 0x3f555555u };
    static const int fp4_order[8] = { 0, 1, 6, 7, 4, 5, 2, 3 };
    float thr[15], x[64], am[2], v;
    uint8_t pk[32];
    int i, j, n;
    for (i = 0; i < 15; i++) thr[i] = bitsf(nf4_thr[i]);
    for (i = 0; i < 15; i++)                          /* sort ascending */
        for (j = i + 1; j < 15; j++)
            if (thr[j] < thr[i]) { v = thr[i]; thr[i] = thr[j]; thr[j] = v; }
    for (i = 0; i < 15; i++) {
        CHECK(bnbq_nf4_index(thr[i]) == i, "nf4_index(%08x) = %d, expected %d", fbits(thr[i]),
              bnbq_nf4_index(thr[i]), i);
        CHECK(bnbq_nf4_index(nextafterf(thr[i], INFINITY)) == i + 1, "nf4_index(above %08x) = %d",
              fbits(thr[i]), bnbq_nf4_index(nextafterf(thr[i], INFINITY)));
    }
    /* verified special cases (algorithms 3.2 / 3.3) */
    CHECK(bnbq_nf4_index(NAN) == 0 && bnbq_nf4_index(1.0f) == 15 && bnbq_nf4_index(-0.0f) == 7 &&
          bnbq_nf4_index(-1e-30f) == 7 && bnbq_nf4_index(0.5f) == 12 && bnbq_nf4_index(-0.5f) == 2,
          "NF4 special cases");
    CHECK(bnbq_fp4_index(NAN) == 0 && bnbq_fp4_index(1.0f) == 3 && bnbq_fp4_index(-0.0f) == 0 &&
          bnbq_fp4_index(-1e-30f) == 8 && bnbq_fp4_index(0.5f) == 5 && bnbq_fp4_index(-0.5f) == 13,
          "FP4 special cases");
    for (i = 0; i < 7; i++) {
        float t = bitsf(fp4_thr[i]), up = nextafterf(t, INFINITY);
        CHECK(bnbq_fp4_index(t) == fp4_order[i], "fp4_index(%08x) = %d, expected %d",
              fp4_thr[i], bnbq_fp4_index(t), fp4_order[i]);
        CHECK(bnbq_fp4_index(up) == fp4_order[i + 1], "fp4_index(above %08x) = %d", fp4_thr[i],
              bnbq_fp4_index(up));
        CHECK(bnbq_fp4_index(-t) == (fp4_order[i] | 8), "fp4_index(-%08x) = %d", fp4_thr[i],
              bnbq_fp4_index(-t));
        CHECK(bnbq_fp4_index(-up) == (fp4_order[i + 1] | 8), "fp4_index(-above %08x)", fp4_thr[i]);
    }
    /* through quantize_4bit: a block whose absmax is 1 */
    n = 0;
    x[n++] = 1.0f;
    for (i = 0; i < 15; i++) { x[n++] = thr[i]; x[n++] = nextafterf(thr[i], INFINITY); }
    x[n++] = 0.0f;                                      /* n = 32 */
    MUST(bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, x, 32, 32, pk, am));
    for (i = 0; i < 32; i++) {
        int nib = (i & 1) ? (pk[i / 2] & 15) : (pk[i / 2] >> 4);
        int want = i == 0 ? 15 : i == 31 ? 7 : (i - 1) / 2 + ((i - 1) & 1);
        CHECK(nib == want, "NF4 quantize_4bit element %d (%08x): nibble %d, expected %d", i,
              fbits(x[i]), nib, want);
    }
    n = 0;
    x[n++] = 1.0f;
    for (i = 0; i < 7; i++) {
        float t = bitsf(fp4_thr[i]);
        x[n++] = t; x[n++] = nextafterf(t, INFINITY); x[n++] = -t; x[n++] = -nextafterf(t, INFINITY);
    }
    x[n++] = 0.0f; x[n++] = -0.0f; x[n++] = -1e-30f;         /* n = 32 */
    MUST(bnbq_quantize_4bit(NULL, BNBQ_FP4, BNBQ_F32, x, 32, 32, pk, am));
    for (i = 0; i < 32; i++) {
        int nib = (i & 1) ? (pk[i / 2] & 15) : (pk[i / 2] >> 4), want;
        if (i == 0) want = 3;
        else if (i >= 29) want = i == 31 ? 8 : 0;
        else {
            int t = (i - 1) / 4, k = (i - 1) % 4;
            want = fp4_order[t + (k & 1)] | (k >= 2 ? 8 : 0);
        }
        CHECK(nib == want, "FP4 quantize_4bit element %d (%08x): nibble %d, expected %d", i,
              fbits(x[i]), nib, want);
    }
}

/* Odd-length 4-bit tensors: last low nibble 7 (NF4) / 0 (FP4); absmax over real elements. */
static void test_exact_4bit_odd(void)
{
    static const size_t ns[] = { 1, 3, 63, 65, 129 };
    rng r = rng_make(32);
    size_t k;
    for (k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        size_t n = ns[k], i;
        int iq, id;
        for (id = 0; id < 3; id++) {
            bnbq_dtype dt = k_float_dtypes[id];
            float x[129], xw[129];
            void* xd;
            void* od = xmalloc(130 * 4);
            fill_randn(&r, x, n, 1.0f);
            x[n - 1] = -0.25f;
            xd = to_dt(dt, x, n, xw);
            for (iq = 0; iq < 2; iq++) {
                bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
                uint8_t pk[66];
                float am[5], mx = 0.0f;
                memset(pk, 0xEE, sizeof pk);
                MUST(bnbq_quantize_4bit(NULL, qt, dt, xd, n, 64, pk, am));
                CHECK(n % 2 == 0 || (pk[n / 2] & 15) == (iq ? 7 : 0),
                      "%s %s n=%lu: last low nibble %d", iq ? "nf4" : "fp4", dt_name(dt),
                      (unsigned long)n, pk[n / 2] & 15);
                CHECK(pk[(n + 1) / 2] == 0xEE, "%s n=%lu: wrote past ceil(n/2) bytes",
                      iq ? "nf4" : "fp4", (unsigned long)n);
                for (i = (n - 1) / 64 * 64; i < n; i++) if (fabsf(xw[i]) > mx) mx = fabsf(xw[i]);
                CHECK(am[(n - 1) / 64] == mx, "%s n=%lu: last absmax %g, expected %g",
                      iq ? "nf4" : "fp4", (unsigned long)n, (double)am[(n - 1) / 64], (double)mx);
                /* dequantize writes exactly n outputs */
                memset(od, 0xEE, 130 * 4);
                MUST(bnbq_dequantize_4bit(NULL, qt, dt, pk, am, n, 64, od));
                CHECK(((unsigned char*)od)[n * dt_size(dt)] == 0xEE, "dequantize wrote past n");
            }
            free(xd);
            free(od);
        }
    }
}

/* NaN inputs: code 0, absmax ignores NaN. */
static void test_exact_nan(void)
{
    enum { N = 128 };
    const float* code = bnbq_code_dynamic(1);
    rng r = rng_make(33);
    float x[N], am[2], out[N];
    uint8_t q[N], pk[N / 2];
    int i;
    fill_randn(&r, x, N, 0.5f);
    x[0] = NAN;  x[5] = 1.5f;  x[6] = -3.0f;  x[63] = NAN;    /* block 0: absmax 3 */
    x[64] = NAN; x[65] = 2.0f; x[127] = -NAN;                  /* block 1: absmax >= 2 */
    for (i = 66; i < 127; i++) x[i] = fminf(fmaxf(x[i], -1.9f), 1.9f);
    CHECK(bnbq_code_index(code, NAN) == 0, "code_index(NaN) = %d", bnbq_code_index(code, NAN));
    MUST(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, x, N, 64, q, am));
    CHECK(am[0] == 3.0f && am[1] == 2.0f, "8-bit absmax with NaN: %g %g", (double)am[0],
          (double)am[1]);
    CHECK(q[0] == 0 && q[63] == 0 && q[64] == 0 && q[127] == 0, "NaN codes %d %d %d %d", q[0],
          q[63], q[64], q[127]);
    CHECK(q[6] == 0 && q[65] == 255, "extreme codes %d %d", q[6], q[65]);
    MUST(bnbq_dequantize_blockwise(NULL, NULL, BNBQ_F32, q, am, N, 64, out));
    CHECK(fbits(out[0]) == fbits(code[0] * 3.0f), "NaN dequantizes to %g", (double)out[0]);
    MUST(bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, x, N, 64, pk, am));
    CHECK(am[0] == 3.0f && am[1] == 2.0f, "NF4 absmax with NaN: %g %g", (double)am[0],
          (double)am[1]);
    CHECK((pk[0] >> 4) == 0 && (pk[31] & 15) == 0 && (pk[32] >> 4) == 0 && (pk[63] & 15) == 0,
          "NF4 NaN nibbles %02x %02x %02x %02x", pk[0], pk[31], pk[32], pk[63]);
    MUST(bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, pk, am, N, 64, out));
    CHECK(out[0] == -3.0f && out[64] == -2.0f, "NF4 NaN dequantizes to -absmax: %g %g",
          (double)out[0], (double)out[64]);
    MUST(bnbq_quantize_4bit(NULL, BNBQ_FP4, BNBQ_F32, x, N, 64, pk, am));
    CHECK((pk[0] >> 4) == 0 && (pk[31] & 15) == 0 && (pk[32] >> 4) == 0 && (pk[63] & 15) == 0,
          "FP4 NaN nibbles");
    {   /* f16 NaN input */
        void* xh = to_dt(BNBQ_F16, x, N, NULL);
        MUST(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F16, xh, N, 64, q, am));
        CHECK(am[0] == 3.0f && q[0] == 0, "f16 NaN: absmax %g code %d", (double)am[0], q[0]);
        MUST(bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_BF16, xh, N, 64, pk, am));  /* any bits */
        free(xh);
    }
}

/* FP4 nibble 8 dequantizes to -0.0 (the sign comes from bit 3), nibble 0 to +0.0. */
static void test_exact_fp4_negzero(void)
{
    uint8_t pk[8] = { 0x88, 0x80, 0x08, 0x00, 0x3b, 0xb3, 0x91, 0x19 };
    float am[1] = { 2.5f };
    int id, i;
    for (id = 0; id < 3; id++) {
        bnbq_dtype dt = k_float_dtypes[id];
        unsigned char od[64];
        float want[16];
        MUST(bnbq_dequantize_4bit(NULL, BNBQ_FP4, dt, pk, am, 16, 64, od));
        for (i = 0; i < 16; i++) {
            int nib = (i & 1) ? (pk[i / 2] & 15) : (pk[i / 2] >> 4);
            float mag = round_dt(dt, bitsf(FP4_TABLE_HEX[nib & 7]) * 2.5f);
            want[i] = (nib & 8) ? -mag : mag;
        }
        for (i = 0; i < 16; i++) {
            float v = get_dt(dt, od, i);
            CHECK(fbits(v) == fbits(want[i]), "%s FP4 element %d: %08x, expected %08x",
                  dt_name(dt), i, fbits(v), fbits(want[i]));
        }
    }
}

/* int8_mm_dequant: f16(fmaf(f32(f32(A*row)*col), 6.200012e-05f, bias16)) (algorithms 5.4) */
static void test_exact_mm_dequant(void)
{
    enum { M = 7, N = 9 };
    rng r = rng_make(34);
    int32_t A[M * N];
    float rs[M], cs[N];
    uint16_t bias[N], out16[M * N];
    float out32[M * N];
    uint16_t outbf[M * N];
    int i, m, nn, pass;
    for (i = 0; i < M * N; i++) A[i] = rng_int(&r, -(1 << 20), 1 << 20);
    A[0] = 0; A[1] = 2147483647; A[2] = -2147483647 - 1;
    for (i = 0; i < M; i++) rs[i] = (float)(0.01 + 10.0 * rng_uniform(&r));
    for (i = 0; i < N; i++) cs[i] = (float)(0.01 + 10.0 * rng_uniform(&r));
    for (i = 0; i < N; i++) bias[i] = bnbq_f32_to_f16(rng_randnf(&r));
    for (pass = 0; pass < 2; pass++) {
        const void* b = pass ? (const void*)bias : NULL;
        long bad = 0;
        MUST(bnbq_int8_mm_dequant(NULL, BNBQ_F16, A, rs, cs, M, N, out16, BNBQ_F16, b));
        MUST(bnbq_int8_mm_dequant(NULL, BNBQ_F32, A, rs, cs, M, N, out32, BNBQ_F16, b));
        MUST(bnbq_int8_mm_dequant(NULL, BNBQ_BF16, A, rs, cs, M, N, outbf, BNBQ_F16, b));
        for (m = 0; m < M; m++)
            for (nn = 0; nn < N; nn++) {
                float t = ((float)A[m * N + nn] * rs[m]) * cs[nn];
                float bc = pass ? ref_f16_to_f32(bias[nn]) : 0.0f;
                uint16_t want = bnbq_f32_to_f16(fmaf(t, 6.200012e-05f, bc));
                float w32 = ref_f16_to_f32(want);
                if (out16[m * N + nn] != want && bad++ < 3)
                    CHECK(0, "bias %d [%d,%d]: %04x, expected %04x", pass, m, nn,
                          out16[m * N + nn], want);
                if (fbits(out32[m * N + nn]) != fbits(w32) && bad++ < 3)
                    CHECK(0, "F32 out bias %d [%d,%d]: %.9g, expected %.9g", pass, m, nn,
                          (double)out32[m * N + nn], (double)w32);
                if (outbf[m * N + nn] != bnbq_f32_to_bf16(w32) && bad++ < 3)
                    CHECK(0, "BF16 out bias %d [%d,%d]", pass, m, nn);
            }
        CHECK(bad == 0, "int8_mm_dequant bias %d: %ld mismatches", pass, bad);
    }
}

/* test_gemv_eye_4bit: identity weight reproduces A (assert_close default tolerances). */
static void test_gemv_eye(void)
{
    static const size_t dims_full[4] = { 64, 320, 1024, 2112 };
    static const size_t dims_quick[2] = { 64, 448 };
    const size_t* dims = g_quick ? dims_quick : dims_full;
    int nd = g_quick ? 2 : 4, k, id, iq;
    rng r = rng_make(35);
    for (k = 0; k < nd; k++) {
        size_t dim = dims[k], i;
        float* W = (float*)xcalloc(dim * dim, sizeof(float));
        uint8_t* pk = (uint8_t*)xmalloc(dim * dim / 2);
        float* am = (float*)xmalloc(dim * dim / 64 * sizeof(float));
        float* a = (float*)xmalloc(dim * sizeof(float));
        float* aw = (float*)xmalloc(dim * sizeof(float));
        void* out = xmalloc(dim * 4);
        void* out2 = xmalloc(dim * 4);
        for (i = 0; i < dim; i++) W[i * dim + i] = 1.0f;
        fill_randn(&r, a, dim, 0.1f);
        for (iq = 0; iq < 2; iq++) {
            bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
            MUST(bnbq_quantize_4bit(NULL, qt, BNBQ_F32, W, dim * dim, 64, pk, am));
            for (id = 0; id < 3; id++) {
                bnbq_dtype dt = k_float_dtypes[id];
                double rtol = dt == BNBQ_F32 ? 1.3e-6 : dt == BNBQ_F16 ? 1e-3 : 1.6e-2, atol = 1e-5;
                void* ad = to_dt(dt, a, dim, aw);
                long bad = 0;
                MUST(bnbq_gemv_4bit(NULL, qt, dt, ad, pk, am, dim, dim, 64, out, NULL, NULL));
                MUST(bnbq_matmul_4bit(NULL, qt, dt, ad, pk, am, 1, dim, dim, 64, out2, NULL, NULL));
                for (i = 0; i < dim; i++) {
                    double g = get_dt(dt, out, i), g2 = get_dt(dt, out2, i);
                    if (!(fabs(g - aw[i]) <= atol + rtol * fabs(aw[i])) && bad++ < 3)
                        CHECK(0, "%s %s dim %lu: gemv out[%lu] = %.9g, A = %.9g",
                              iq ? "nf4" : "fp4", dt_name(dt), (unsigned long)dim,
                              (unsigned long)i, g, (double)aw[i]);
                    if (!(fabs(g2 - aw[i]) <= atol + rtol * fabs(aw[i])) && bad++ < 3)
                        CHECK(0, "%s %s dim %lu: matmul out[%lu] = %.9g, A = %.9g",
                              iq ? "nf4" : "fp4", dt_name(dt), (unsigned long)dim,
                              (unsigned long)i, g2, (double)aw[i]);
                }
                CHECK(bad == 0, "%s %s dim %lu: %ld elements not close", iq ? "nf4" : "fp4",
                      dt_name(dt), (unsigned long)dim, bad);
                free(ad);
            }
        }
        free(W); free(pk); free(am); free(a); free(aw); free(out); free(out2);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* round trips and consistency                                                                */

/* quantize -> dequantize (f32) -> quantize gives the same codes. For 8-bit the block maxima are
   made positive so that the dequantized block keeps its absmax (code[255] = 1.0). */
static void test_roundtrip_idempotent(void)
{
    size_t n = g_quick ? 8192 : 65536 + 37, i, b;
    rng r = rng_make(41);
    float* x = (float*)xmalloc(n * sizeof(float));
    float* y = (float*)xmalloc(n * sizeof(float));
    uint8_t* q1 = (uint8_t*)xmalloc(n);
    uint8_t* q2 = (uint8_t*)xmalloc(n);
    float* am1 = (float*)xmalloc((n / 32 + 2) * sizeof(float));
    float* am2 = (float*)xmalloc((n / 32 + 2) * sizeof(float));
    int ib, iq;
    fill_randn(&r, x, n, 1.0f);
    for (ib = 0; ib < 7; ib++) {
        size_t bs = (size_t)k_bs8[ib], diff = 0, adiff = 0, nb = (n + bs - 1) / bs;
        float* xs = (float*)xmalloc(n * sizeof(float));
        memcpy(xs, x, n * sizeof(float));
        for (b = 0; b < nb; b++) {          /* make each block's max-|x| element positive */
            size_t im = b * bs;
            for (i = b * bs; i < n && i < (b + 1) * bs; i++) if (fabsf(xs[i]) > fabsf(xs[im])) im = i;
            xs[im] = fabsf(xs[im]);
        }
        MUST(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, xs, n, (int)bs, q1, am1));
        MUST(bnbq_dequantize_blockwise(NULL, NULL, BNBQ_F32, q1, am1, n, (int)bs, y));
        MUST(bnbq_quantize_blockwise(NULL, NULL, BNBQ_F32, y, n, (int)bs, q2, am2));
        for (i = 0; i < n; i++) diff += q1[i] != q2[i];
        for (b = 0; b < nb; b++) adiff += am1[b] != am2[b];
        CHECK(diff == 0, "8-bit bs %lu: %lu codes changed on re-quantization", (unsigned long)bs,
              (unsigned long)diff);
        CHECK(adiff == 0, "8-bit bs %lu: %lu absmax changed", (unsigned long)bs, (unsigned long)adiff);
        free(xs);
    }
    for (iq = 0; iq < 2; iq++) {
        static const int bss[4] = { 32, 64, 256, 4096 };
        bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
        for (ib = 0; ib < 4; ib++) {
            size_t diff = 0, nbytes = (n + 1) / 2;
            MUST(bnbq_quantize_4bit(NULL, qt, BNBQ_F32, x, n, bss[ib], q1, am1));
            MUST(bnbq_dequantize_4bit(NULL, qt, BNBQ_F32, q1, am1, n, bss[ib], y));
            MUST(bnbq_quantize_4bit(NULL, qt, BNBQ_F32, y, n, bss[ib], q2, am2));
            for (i = 0; i < nbytes; i++) {
                int h1 = q1[i] >> 4, l1 = q1[i] & 15, h2 = q2[i] >> 4, l2 = q2[i] & 15;
                if (!iq) {                 /* FP4 nibble 8 (-0.0) re-quantizes to 0 (+0.0) */
                    if (h1 == 8) h1 = 0;
                    if (l1 == 8) l1 = 0;
                }
                diff += (h1 != h2) + (l1 != l2);
            }
            CHECK(diff == 0, "%s bs %d: %lu nibbles changed on re-quantization",
                  iq ? "nf4" : "fp4", bss[ib], (unsigned long)diff);
        }
    }
    free(x); free(y); free(q1); free(q2); free(am1); free(am2);
}

/* Quantize W (N, K) in f32 to 4-bit; returns packed and absmax (caller frees). */
static void quant_weight(bnbq_quant_type qt, const float* W, size_t N, size_t K, int bs,
                         uint8_t** pk, float** am)
{
    size_t n = N * K;
    *pk = (uint8_t*)xmalloc(n / 2 + 1);
    *am = (float*)xmalloc((n / (size_t)bs + 1) * sizeof(float));
    MUST(bnbq_quantize_4bit(NULL, qt, BNBQ_F32, W, n, bs, *pk, *am));
}

static void test_matmul4_m1_is_gemv(void)
{
    enum { N = 96, K = 256 };
    rng r = rng_make(42);
    float W[N * K], a[K], bias[N];
    int iq, id, ib, withbias;
    fill_randn(&r, W, N * K, 0.0625f);
    fill_randn(&r, a, K, 1.0f);
    fill_randn(&r, bias, N, 1.0f);
    for (iq = 0; iq < 2; iq++)
        for (ib = 0; ib < 2; ib++) {
            int bs = ib ? 128 : 64;
            bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
            uint8_t* pk;
            float* am;
            quant_weight(qt, W, N, K, bs, &pk, &am);
            for (id = 0; id < 3; id++)
                for (withbias = 0; withbias < 2; withbias++) {
                    bnbq_dtype dt = k_float_dtypes[id];
                    void* ad = to_dt(dt, a, K, NULL);
                    void* bd = to_dt(dt, bias, N, NULL);
                    unsigned char o1[N * 4], o2[N * 4];
                    const float* code = bnbq_code_4bit(qt);
                    memset(o1, 1, sizeof o1);
                    memset(o2, 2, sizeof o2);
                    MUST(bnbq_gemv_4bit(NULL, qt, dt, ad, pk, am, N, K, bs, o1,
                                        withbias ? bd : NULL, NULL));
                    MUST(bnbq_matmul_4bit(NULL, qt, dt, ad, pk, am, 1, N, K, bs, o2,
                                          withbias ? bd : NULL, NULL));
                    CHECK(memcmp(o1, o2, N * dt_size(dt)) == 0,
                          "%s %s bs %d bias %d: matmul_4bit(M=1) != gemv_4bit", iq ? "nf4" : "fp4",
                          dt_name(dt), bs, withbias);
                    /* code = the built-in table gives the same bytes as code = NULL */
                    MUST(bnbq_gemv_4bit(NULL, qt, dt, ad, pk, am, N, K, bs, o2,
                                        withbias ? bd : NULL, code));
                    CHECK(memcmp(o1, o2, N * dt_size(dt)) == 0, "%s %s: explicit code differs",
                          iq ? "nf4" : "fp4", dt_name(dt));
                    free(ad);
                    free(bd);
                }
            free(pk);
            free(am);
        }
}

/* matmul_4bit (dequantize path) vs a double-precision product of the dequantized weight. */
static void test_matmul4_vs_double(void)
{
    static const struct { size_t M, N, K; int bs; } cases[] = {
        { 5, 48, 192, 64 }, { 17, 33, 128, 128 }, { 1, 40, 100, 64 }, { 3, 7, 30, 32 } };
    rng r = rng_make(43);
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t M = cases[c].M, N = cases[c].N, K = cases[c].K, m, nn, k;
        int bs = cases[c].bs, iq, id, withbias;
        float* W = (float*)xmalloc(N * K * sizeof(float));
        float* A = (float*)xmalloc(M * K * sizeof(float));
        float* bias = (float*)xmalloc(N * sizeof(float));
        fill_randn(&r, W, N * K, 0.1f);
        fill_randn(&r, A, M * K, 1.0f);
        fill_randn(&r, bias, N, 0.5f);
        for (iq = 0; iq < 2; iq++) {
            bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
            uint8_t* pk;
            float* am;
            quant_weight(qt, W, N, K, bs, &pk, &am);
            for (id = 0; id < 3; id++)
                for (withbias = 0; withbias < 2; withbias++) {
                    bnbq_dtype dt = k_float_dtypes[id];
                    float* Aw = (float*)xmalloc(M * K * sizeof(float));
                    float* bw = (float*)xmalloc(N * sizeof(float));
                    void* Ad = to_dt(dt, A, M * K, Aw);
                    void* bd = to_dt(dt, bias, N, bw);
                    void* Wd = xmalloc(N * K * 4);
                    void* out = xmalloc(M * N * 4);
                    double ulp = dt == BNBQ_F32 ? ldexp(1.0, -23) : dt == BNBQ_F16 ? ldexp(1.0, -10) : ldexp(1.0, -7);
                    double tiny = dt == BNBQ_F16 ? ldexp(1.0, -24) : 1e-30;
                    long bad = 0;
                    MUST(bnbq_dequantize_4bit(NULL, qt, dt, pk, am, N * K, bs, Wd));
                    MUST(bnbq_matmul_4bit(NULL, qt, dt, Ad, pk, am, M, N, K, bs, out,
                                          withbias ? bd : NULL, NULL));
                    for (m = 0; m < M; m++)
                        for (nn = 0; nn < N; nn++) {
                            double s = withbias ? (double)bw[nn] : 0.0, g;
                            for (k = 0; k < K; k++)
                                s += (double)Aw[m * K + k] * (double)get_dt(dt, Wd, nn * K + k);
                            g = get_dt(dt, out, m * N + nn);
                            if (!(fabs(g - s) <= ulp * fabs(s) + tiny) && bad++ < 3)
                                CHECK(0, "M%lu N%lu K%lu %s %s bias %d: out[%lu,%lu] = %.9g, "
                                      "reference %.9g", (unsigned long)M, (unsigned long)N,
                                      (unsigned long)K, iq ? "nf4" : "fp4", dt_name(dt), withbias,
                                      (unsigned long)m, (unsigned long)nn, g, s);
                        }
                    CHECK(bad == 0, "matmul_4bit M%lu N%lu K%lu %s %s: %ld elements off",
                          (unsigned long)M, (unsigned long)N, (unsigned long)K,
                          iq ? "nf4" : "fp4", dt_name(dt), bad);
                    free(Aw); free(bw); free(Ad); free(bd); free(Wd); free(out);
                }
            free(pk);
            free(am);
        }
        free(W); free(A); free(bias);
    }
}

/* test_gemv_4bit (fc1 kind): gemv vs dequantize+matmul (C1) and vs the float product (C3). */
static void test_gemv_bars(void)
{
    static const size_t dims[4] = { 128, 256, 512, 1024 };
    int nd = g_quick ? 2 : 4, iters = g_quick ? 1 : 3, k, id, iq, it;
    rng r = rng_make(44);
    for (k = 0; k < nd; k++) {
        size_t dim = dims[k], N = 4 * dim, K = dim, i, j;
        for (id = 0; id < 3; id++)
            for (iq = 0; iq < 2; iq++) {
                bnbq_dtype dt = k_float_dtypes[id];
                bnbq_quant_type qt = iq ? BNBQ_NF4 : BNBQ_FP4;
                double e1 = 0, r1 = 0, m1 = 0, e2 = 0, e3 = 0, sq = sqrt((double)dim);
                for (it = 0; it < iters; it++) {
                    float* W = (float*)xmalloc(N * K * sizeof(float));
                    float* Ww = (float*)xmalloc(N * K * sizeof(float));
                    float* a = (float*)xmalloc(K * sizeof(float));
                    float* aw = (float*)xmalloc(K * sizeof(float));
                    void* Wt, *ad, *Wdq, *out;
                    uint8_t* pk = (uint8_t*)xmalloc(N * K / 2);
                    float* am = (float*)xmalloc(N * K / 64 * sizeof(float));
                    double se1 = 0, sr1 = 0, sm1 = 0, se2 = 0, se3 = 0;
                    fill_randn(&r, W, N * K, (float)(1.0 / sq));
                    fill_randn(&r, a, K, 1.0f);
                    Wt = to_dt(dt, W, N * K, Ww);                  /* B in dtype */
                    ad = to_dt(dt, a, K, aw);
                    Wdq = xmalloc(N * K * 4);
                    out = xmalloc(N * 4);
                    MUST(bnbq_quantize_4bit(NULL, qt, dt, Wt, N * K, 64, pk, am));
                    MUST(bnbq_dequantize_4bit(NULL, qt, dt, pk, am, N * K, 64, Wdq));
                    MUST(bnbq_gemv_4bit(NULL, qt, dt, ad, pk, am, N, K, 64, out, NULL, NULL));
                    for (i = 0; i < N; i++) {
                        double c1 = 0, c3 = 0, c2 = get_dt(dt, out, i), d;
                        for (j = 0; j < K; j++) {
                            c1 += (double)aw[j] * (double)get_dt(dt, Wdq, i * K + j);
                            c3 += (double)aw[j] * (double)Ww[i * K + j];
                        }
                        c1 = round_dt(dt, (float)c1);
                        c3 = round_dt(dt, (float)c3);
                        d = fabs(c1 - c2);
                        se1 += d;
                        sr1 += d / (fabs(c1) + 1e-5);
                        if (d > sm1) sm1 = d;
                        se2 += fabs(c3 - c2);
                        se3 += fabs(c3 - c1);
                    }
                    e1 += se1 / N; r1 += sr1 / N; m1 += sm1; e2 += se2 / N; e3 += se3 / N;
                    free(W); free(Ww); free(a); free(aw); free(Wt); free(ad); free(Wdq);
                    free(out); free(pk); free(am);
                }
                e1 /= iters * sq; r1 /= iters * sq; m1 /= iters * sq;
                {
                    double be1, br1, ratio = e2 / e3, rlo = 0.995, rhi = 1.005;
                    if (dt == BNBQ_F16) { be1 = dim <= 512 ? 7e-5 : 6e-5; br1 = dim <= 512 ? 8e-4 : 2e-4; }
                    else if (dt == BNBQ_BF16) { be1 = dim <= 512 ? 6e-4 : 2e-4; br1 = dim <= 512 ? 0.007 : 0.002; }
                    else { be1 = 5e-8; br1 = dim <= 512 ? 1e-6 : 8e-6; }
                    CHECK(e1 < be1, "%s %s dim %lu: err1 %.3g >= %.3g", iq ? "nf4" : "fp4",
                          dt_name(dt), (unsigned long)dim, e1, be1);
                    CHECK(r1 < br1, "%s %s dim %lu: relerr1 %.3g >= %.3g", iq ? "nf4" : "fp4",
                          dt_name(dt), (unsigned long)dim, r1, br1);
                    if (dt == BNBQ_F32) {
                        double bm = dim <= 512 ? 1.05e-7 : 1e-7;
                        CHECK(m1 < bm, "%s f32 dim %lu: maxerr1 %.3g >= %.3g", iq ? "nf4" : "fp4",
                              (unsigned long)dim, m1, bm);
                    }
                    CHECK(ratio > rlo && ratio < rhi, "%s %s dim %lu: err2/err3 = %.5f",
                          iq ? "nf4" : "fp4", dt_name(dt), (unsigned long)dim, ratio);
                }
            }
    }
}

static void test_int8_linear_matmul(void)
{
    static const size_t Ks[] = { 1, 3, 4, 499, 512 };
    rng r = rng_make(45);
    size_t c;
    for (c = 0; c < sizeof Ks / sizeof Ks[0]; c++) {
        size_t M = 13, N = 11, K = Ks[c], m, n, k;
        int8_t* A = (int8_t*)xmalloc(M * K);
        int8_t* B = (int8_t*)xmalloc(N * K);
        int32_t* out = (int32_t*)xmalloc(M * N * sizeof(int32_t));
        long bad = 0;
        for (k = 0; k < M * K; k++) A[k] = (int8_t)rng_int(&r, -128, 127);
        for (k = 0; k < N * K; k++) B[k] = (int8_t)rng_int(&r, -128, 127);
        A[0] = -128; B[0] = -128;
        MUST(bnbq_int8_linear_matmul(NULL, A, B, M, N, K, out));
        for (m = 0; m < M; m++)
            for (n = 0; n < N; n++) {
                int64_t s = 0;
                for (k = 0; k < K; k++) s += (int64_t)A[m * K + k] * (int64_t)B[n * K + k];
                if ((int64_t)out[m * N + n] != s && bad++ < 3)
                    CHECK(0, "K=%lu out[%lu,%lu] = %ld, expected %ld", (unsigned long)K,
                          (unsigned long)m, (unsigned long)n, (long)out[m * N + n], (long)s);
            }
        CHECK(bad == 0, "K=%lu: %ld wrong", (unsigned long)K, bad);
        free(A); free(B); free(out);
    }
    {   /* wrapping int32 accumulation: 70000 * 127 * 127 > 2^31 */
        size_t K = 140000, k;
        int8_t* A = (int8_t*)xmalloc(K);
        int8_t* B = (int8_t*)xmalloc(K);
        int32_t out = 0;
        int64_t s = (int64_t)K * 127 * 127;
        for (k = 0; k < K; k++) { A[k] = 127; B[k] = 127; }
        MUST(bnbq_int8_linear_matmul(NULL, A, B, 1, 1, K, &out));
        CHECK(out == (int32_t)(uint32_t)(uint64_t)s, "wrapping sum %ld", (long)out);
        free(A); free(B);
    }
}

/* LLM.int8() vector-wise quantization: exact codes, row stats and outlier handling. */
static void test_int8_vectorwise(void)
{
    enum { R = 5, C = 12 };
    rng r = rng_make(46);
    float a[R * C], aw[R * C], rs[R], deq[R * C];
    uint16_t* h;
    int8_t CA[R * C];
    int32_t oc[C], no = -1;
    int i, j, pass;
    fill_randn(&r, a, R * C, 1.0f);
    a[1 * C + 2] = 10.0f;      /* outlier column 2 */
    a[3 * C + 7] = -6.0f;      /* |a| >= threshold: outlier column 7 */
    a[4 * C + 9] = 5.99f;      /* below threshold */
    a[2 * C + 0] = 0.0f;
    h = (uint16_t*)to_dt(BNBQ_F16, a, R * C, aw);
    for (pass = 0; pass < 2; pass++) {
        size_t rows = pass ? 1 : R;
        const uint16_t* src = pass ? h + 1 * C : h;     /* rows == 1: the row with 10.0 */
        const float* sw = pass ? aw + 1 * C : aw;
        memset(oc, 0x7f, sizeof oc);
        MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, src, rows, C, 6.0f, CA, rs, oc, &no));
        if (!pass) {
            CHECK(no == 2 && oc[0] == 2 && oc[1] == 7, "outlier cols: n=%d [%d %d]", (int)no,
                  (int)oc[0], (int)oc[1]);
        } else {
            CHECK(no == 1 && oc[0] == 2, "rows=1 outlier cols: n=%d [%d]", (int)no, (int)oc[0]);
        }
        for (i = 0; i < (int)rows; i++) {
            float mx = 0.0f, s;
            for (j = 0; j < C; j++)
                if (fabsf(sw[i * C + j]) < 6.0f && fabsf(sw[i * C + j]) > mx) mx = fabsf(sw[i * C + j]);
            CHECK(rs[i] == mx, "rows %lu: row_stats[%d] = %g, expected %g", (unsigned long)rows,
                  i, (double)rs[i], (double)mx);
            s = 127.0f * (1.0f / mx);
            for (j = 0; j < C; j++) {
                int outlier_col = pass ? (fabsf(sw[i * C + j]) >= 6.0f) : (j == 2 || j == 7);
                int want = outlier_col ? 0 : (int)rintf(sw[i * C + j] * s);
                CHECK(CA[i * C + j] == want, "rows %lu: CA[%d,%d] = %d, expected %d",
                      (unsigned long)rows, i, j, CA[i * C + j], want);
            }
        }
    }
    /* threshold 0: no outliers, NULL outlier buffers are fine and all elements count */
    MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, h, R, C, 0.0f, CA, rs, NULL, NULL));
    CHECK(rs[1] == 10.0f && CA[1 * C + 2] == 127, "threshold 0: row stat %g code %d", (double)rs[1],
          CA[1 * C + 2]);
    /* vectorwise_dequant = f32(f32(CA * stats) * f32(1/127)) */
    MUST(bnbq_int8_vectorwise_dequant(NULL, CA, rs, R, C, deq));
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++) {
            float want = ((float)CA[i * C + j] * rs[i]) * (1.0f / 127.0f);
            CHECK(fbits(deq[i * C + j]) == fbits(want), "dequant [%d,%d] %.9g vs %.9g", i, j,
                  (double)deq[i * C + j], (double)want);
        }
    /* an all-zero row: stat 0, codes 0 */
    {
        uint16_t z[2 * 4] = { 0, 0x8000, 0, 0, 0x3c00, 0, 0, 0 };
        int8_t cz[8];
        float sz[2];
        MUST(bnbq_int8_vectorwise_quant(NULL, BNBQ_F16, z, 2, 4, 0.0f, cz, sz, NULL, NULL));
        CHECK(sz[0] == 0.0f && cz[0] == 0 && cz[1] == 0 && cz[2] == 0 && cz[3] == 0,
              "zero row: stat %g codes %d %d", (double)sz[0], cz[0], cz[1]);
        CHECK(sz[1] == 1.0f && cz[4] == 127, "row 1");
    }
    /* double quant: column codes f32(f16(x*127) / col_absmax), outlier elements zero */
    {
        int8_t CAt[R * C];
        float cs[C];
        MUST(bnbq_int8_double_quant(NULL, BNBQ_F16, h, R, C, 6.0f, CA, CAt, rs, cs, oc, &no));
        CHECK(no == 2, "double quant outliers %d", (int)no);
        for (j = 0; j < C; j++) {
            float mx = 0.0f;
            for (i = 0; i < R; i++)
                if (fabsf(aw[i * C + j]) < 6.0f && fabsf(aw[i * C + j]) > mx) mx = fabsf(aw[i * C + j]);
            CHECK(cs[j] == mx, "col_stats[%d] = %g, expected %g", j, (double)cs[j], (double)mx);
            for (i = 0; i < R; i++) {
                float x = aw[i * C + j];
                int want = fabsf(x) >= 6.0f ? 0 : (int)rintf(round_dt(BNBQ_F16, x * 127.0f) / mx);
                CHECK(CAt[i * C + j] == want, "CAt[%d,%d] = %d, expected %d", i, j,
                      CAt[i * C + j], want);
            }
        }
    }
    free(h);
}

/* nested statistics: the rebuilt absmax is close to the original, and the offset is the mean */
static void test_nested_roundtrip(void)
{
    static const size_t nbs[] = { 1, 255, 256, 1000, 3000 };
    rng r = rng_make(47);
    size_t c;
    for (c = 0; c < sizeof nbs / sizeof nbs[0]; c++) {
        size_t nb = nbs[c], i, nb2 = (nb + 255) / 256;
        float* am = (float*)xmalloc(nb * sizeof(float));
        float* back = (float*)xmalloc(nb * sizeof(float));
        float* nabs = (float*)xmalloc(nb2 * sizeof(float));
        uint8_t* aq = (uint8_t*)xmalloc(nb);
        float off = -1.0f;
        double mean = 0.0, maxerr = 0.0;
        long bad = 0;
        for (i = 0; i < nb; i++) am[i] = (float)(2.0 + fabs(rng_normal(&r)));
        for (i = 0; i < nb; i++) mean += am[i];
        mean /= (double)nb;
        MUST(bnbq_nested_offset(NULL, am, nb, &off));
        CHECK(off == (float)mean, "nb %lu: offset %.9g, double mean %.9g", (unsigned long)nb,
              (double)off, mean);
        MUST(bnbq_quantize_nested(NULL, NULL, am, nb, 256, &off, aq, nabs));
        MUST(bnbq_dequantize_nested(NULL, NULL, aq, nabs, nb, 256, &off, back));
        for (i = 0; i < nb; i++) {
            double e = fabs((double)back[i] - (double)am[i]);
            double bound = 0.0075 * nabs[i / 256] + 4e-7 * fabs(am[i]);
            float want = bnbq_code_dynamic(1)[aq[i]] * nabs[i / 256] + off;
            if (e > maxerr) maxerr = e;
            if (e > bound && bad++ < 3)
                CHECK(0, "nb %lu: absmax[%lu] %.9g rebuilt %.9g (nested absmax %g)",
                      (unsigned long)nb, (unsigned long)i, (double)am[i], (double)back[i],
                      (double)nabs[i / 256]);
            if (fbits(back[i]) != fbits(want) && bad++ < 3)
                CHECK(0, "nb %lu: rebuilt[%lu] %08x, formula %08x", (unsigned long)nb,
                      (unsigned long)i, fbits(back[i]), fbits(want));
        }
        for (i = 0; i < nb2; i++) {
            float mx = 0.0f;
            size_t b;
            for (b = i * 256; b < nb && b < (i + 1) * 256; b++)
                if (fabsf(am[b] - off) > mx) mx = fabsf(am[b] - off);
            CHECK(nabs[i] == mx, "nested absmax[%lu] %g, expected %g", (unsigned long)i,
                  (double)nabs[i], (double)mx);
        }
        CHECK(bad == 0, "nb %lu: %ld bad (max err %g)", (unsigned long)nb, bad, maxerr);
        free(am); free(back); free(nabs); free(aq);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* result codes of every public function                                                      */

enum { EN = 256, ER = 8, EC = 32 };   /* EN = ER * EC */
static float    e_x[EN + 16], e_out[EN + 16], e_am[EN + 16], e_am2[EN + 16], e_nabs[16];
static float    e_rs[EN + 16], e_cs[EN + 16], e_off[4], e_code[256 + 4];
static uint16_t e_h[EN + 16], e_outh[EN + 16], e_st[EN + 16], e_st2[EN + 16], e_bias[EN + 16];
static uint8_t  e_q[EN + 16], e_q2[EN + 16];
static int8_t   e_i8[EN + 16], e_i8b[EN + 16], e_i8c[EN + 16];
static int32_t  e_i32[EN + 16], e_i32o[EN + 16], e_oc[EN + 16], e_no[4];

static void err_setup(void)
{
    rng r = rng_make(51);
    int i;
    for (i = 0; i < EN + 16; i++) {
        e_x[i] = rng_randnf(&r);
        e_h[i] = bnbq_f32_to_f16(rng_randnf(&r));
        e_am[i] = 0.5f + (float)rng_uniform(&r);
        e_q[i] = (uint8_t)rng_u64(&r);
        e_i8[i] = (int8_t)rng_int(&r, -127, 127);
        e_i8b[i] = (int8_t)rng_int(&r, -127, 127);
        e_i32[i] = rng_int(&r, -100000, 100000);
        e_rs[i] = 0.5f + (float)rng_uniform(&r);
        e_cs[i] = 0.5f + (float)rng_uniform(&r);
        e_st[i] = bnbq_f32_to_f16(0.5f + (float)rng_uniform(&r));
        e_st2[i] = bnbq_f32_to_f16(0.5f + (float)rng_uniform(&r));
        e_bias[i] = bnbq_f32_to_f16(rng_randnf(&r));
    }
    for (i = 0; i < 16; i++) e_nabs[i] = 0.5f;
    e_off[0] = 0.75f;
    memcpy(e_code, bnbq_code_dynamic(1), 256 * sizeof(float));
}
#define CANARY2(a, b) do { canary_fill(a, sizeof a); canary_fill(b, sizeof b); } while (0)
#define INTACT(a) CHECK(canary_intact(a, sizeof a), "%s written by a failing call", #a)

static const int k_bad_bs8[] = { 0, -64, -1, 1, 16, 32, 48, 63, 65, 96, 100, 4095, 6144 };
static const int k_bad_bs4[] = { 0, -64, -32, 1, 8, 16, 48, 96, 100, 33, 6144 };
static const bnbq_dtype k_bad_dt[] = { BNBQ_U8, BNBQ_I8, BNBQ_I32, BNBQ_I64, (bnbq_dtype)99,
                                       (bnbq_dtype)-1 };
#define NBAD(a) (sizeof a / sizeof a[0])
static const size_t BIG = SIZE_MAX / 2;   /* BIG * 3 overflows */

static void test_errors_blockwise(void)
{
    size_t k;
    int bs;
    err_setup();
    /* quantize_blockwise */
    CANARY2(e_q2, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_blockwise, NULL, BNBQ_F32, NULL, EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, EN, 64, NULL, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, EN, 64, e_q2, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, 0, 64, e_q2, e_am2);
    for (k = 0; k < NBAD(k_bad_bs8); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, EN,
               k_bad_bs8[k], e_q2, e_am2);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_quantize_blockwise, NULL, k_bad_dt[k], e_x, EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, SIZE_MAX, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_blockwise, NULL, BNBQ_F16, e_h, BIG + 1, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, BIG, 4096, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_blockwise, NULL, BNBQ_F16, MIS(e_h, 1), EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_blockwise, NULL, BNBQ_BF16, MIS(e_h, 1), EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_blockwise, NULL, BNBQ_F32, MIS(e_x, 1), EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_blockwise, NULL, BNBQ_F32, MIS(e_x, 2), EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, EN, 64, e_q2, (float*)MIS(e_am2, 1));
    {   /* a code table that is not ascending, or holds a NaN, cannot be searched */
        float bad[256];
        int j;
        for (j = 0; j < 256; j++) bad[j] = e_code[255 - j];
        EXPECT(BNBQ_ERROR_BAD_CODE, bnbq_quantize_blockwise, bad, BNBQ_F32, e_x, EN, 64, e_q2, e_am2);
        EXPECT(BNBQ_ERROR_BAD_CODE, bnbq_quantize_global, bad, BNBQ_F32, e_x, EN, e_q2, e_am2);
        memcpy(bad, e_code, sizeof bad);
        bad[200] = NAN;
        EXPECT(BNBQ_ERROR_BAD_CODE, bnbq_quantize_blockwise, bad, BNBQ_F32, e_x, EN, 64, e_q2, e_am2);
    }
    INTACT(e_q2);
    INTACT(e_am2);
    for (bs = 64; bs <= 32768; bs *= 2)     /* CPU: 64..4096 and larger powers of two */
        EXPECT(BNBQ_SUCCESS, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, EN, bs, e_q2, e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_blockwise, e_code, BNBQ_F16, e_h, 1, 64, e_q2, e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_blockwise, NULL, BNBQ_F16, MIS(e_h, 2), EN, 64, MIS(e_q2, 1), e_am2);

    /* dequantize_blockwise */
    CANARY2(e_out, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_blockwise, NULL, BNBQ_F32, NULL, e_am, EN, 64, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, NULL, EN, 64, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, e_am, EN, 64, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, e_am, 0, 64, e_out);
    for (k = 0; k < NBAD(k_bad_bs8); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, e_am, EN,
               k_bad_bs8[k], e_out);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_dequantize_blockwise, NULL, k_bad_dt[k], e_q, e_am, EN, 64, e_out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, e_am, SIZE_MAX, 64, e_out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_dequantize_blockwise, NULL, BNBQ_BF16, e_q, e_am, BIG + 1, 4096, e_outh);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, e_am, EN, 64, MIS(e_out, 1));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_blockwise, NULL, BNBQ_F16, e_q, e_am, EN, 64, MIS(e_outh, 1));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, (const float*)MIS(e_am, 3), EN, 64, e_out);
    INTACT(e_out);
    INTACT(e_outh);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_blockwise, NULL, BNBQ_F32, e_q, e_am, EN, 16384, e_out);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_blockwise, e_code, BNBQ_BF16, MIS(e_q, 1), e_am, EN - 1, 64, e_outh);
}

static void test_errors_4bit(void)
{
    size_t k;
    static const bnbq_quant_type badqt[] = { BNBQ_INT4, BNBQ_AF4, (bnbq_quant_type)7,
                                             (bnbq_quant_type)-1 };
    err_setup();
    CANARY2(e_q2, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, NULL, EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, e_x, EN, 64, NULL, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_4bit, BNBQ_FP4, BNBQ_F32, e_x, EN, 64, e_q2, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, e_x, 0, 64, e_q2, e_am2);
    for (k = 0; k < NBAD(k_bad_bs4); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, e_x, EN,
               k_bad_bs4[k], e_q2, e_am2);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_quantize_4bit, BNBQ_NF4, k_bad_dt[k], e_x, EN, 64, e_q2, e_am2);
    for (k = 0; k < NBAD(badqt); k++)
        EXPECT(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_quantize_4bit, badqt[k], BNBQ_F32, e_x, EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, e_x, SIZE_MAX, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_4bit, BNBQ_FP4, BNBQ_BF16, e_h, BIG + 1, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F16, MIS(e_h, 1), EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, MIS(e_x, 2), EN, 64, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, e_x, EN, 64, e_q2, (float*)MIS(e_am2, 1));
    INTACT(e_q2);
    INTACT(e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_4bit, BNBQ_NF4, BNBQ_F32, e_x, EN, 32, e_q2, e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_4bit, BNBQ_FP4, BNBQ_F32, e_x, EN, 8192, e_q2, e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_4bit, BNBQ_FP4, BNBQ_BF16, e_h, 1, 64, MIS(e_q2, 1), e_am2);
    /* blocksize 32: rejected for 8-bit, accepted for 4-bit */
    EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_quantize_blockwise, NULL, BNBQ_F32, e_x, EN, 32, e_q2, e_am2);

    CANARY2(e_out, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, NULL, e_am, EN, 64, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, NULL, EN, 64, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, e_am, EN, 64, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, e_am, 0, 64, e_out);
    for (k = 0; k < NBAD(k_bad_bs4); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_dequantize_4bit, BNBQ_FP4, BNBQ_F32, e_q, e_am, EN,
               k_bad_bs4[k], e_out);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_dequantize_4bit, BNBQ_NF4, k_bad_dt[k], e_q, e_am, EN, 64, e_out);
    for (k = 0; k < NBAD(badqt); k++)
        EXPECT(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_dequantize_4bit, badqt[k], BNBQ_F32, e_q, e_am, EN, 64, e_out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, e_am, SIZE_MAX, 64, e_out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F16, e_q, e_am, EN, 64, MIS(e_outh, 1));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, e_am, EN, 64, MIS(e_out, 2));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, (const float*)MIS(e_am, 1), EN, 64, e_out);
    INTACT(e_out);
    INTACT(e_outh);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_4bit, BNBQ_NF4, BNBQ_F32, e_q, e_am, EN, 32, e_out);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_4bit, BNBQ_FP4, BNBQ_F16, MIS(e_q, 1), e_am, EN - 3, 4096, e_outh);
}

static void test_errors_nested_global_convert(void)
{
    size_t k;
    err_setup();
    /* nested_offset */
    CANARY2(e_am2, e_nabs);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_nested_offset, NULL, 16, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_nested_offset, e_am, 16, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_nested_offset, e_am, 0, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_nested_offset, e_am, SIZE_MAX, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_nested_offset, (const float*)MIS(e_am, 1), 16, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_nested_offset, e_am, 16, (float*)MIS(e_am2, 2));
    INTACT(e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_nested_offset, e_am, 16, e_off);
    /* quantize_nested(code, absmax, nblocks, nested_bs, offset, out_q, out_nested_absmax) */
    CANARY2(e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_nested, NULL, NULL, 16, 256, e_off, e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_nested, NULL, e_am, 16, 256, NULL, e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_nested, NULL, e_am, 16, 256, e_off, NULL, e_nabs);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_nested, NULL, e_am, 16, 256, e_off, e_q2, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_quantize_nested, NULL, e_am, 0, 256, e_off, e_q2, e_nabs);
    for (k = 0; k < NBAD(k_bad_bs8); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_quantize_nested, NULL, e_am, 16, k_bad_bs8[k], e_off,
               e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_nested, NULL, e_am, SIZE_MAX, 256, e_off, e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_nested, NULL, (const float*)MIS(e_am, 1), 16, 256, e_off, e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_nested, NULL, e_am, 16, 256, (const float*)MIS(e_off, 1), e_q2, e_nabs);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_nested, NULL, e_am, 16, 256, e_off, e_q2, (float*)MIS(e_nabs, 1));
    INTACT(e_q2);
    INTACT(e_nabs);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_nested, e_code, e_am, 16, 256, e_off, e_q2, e_nabs);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_nested, NULL, e_am, 16, 64, e_off, e_q2, e_nabs);
    /* dequantize_nested(code, absmax_q, nested_absmax, nblocks, nested_bs, offset, out) */
    canary_fill(e_am2, sizeof e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_nested, NULL, NULL, e_nabs, 16, 256, e_off, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_nested, NULL, e_q, NULL, 16, 256, e_off, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_nested, NULL, e_q, e_nabs, 16, 256, NULL, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_nested, NULL, e_q, e_nabs, 16, 256, e_off, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_dequantize_nested, NULL, e_q, e_nabs, 0, 256, e_off, e_am2);
    for (k = 0; k < NBAD(k_bad_bs8); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_dequantize_nested, NULL, e_q, e_nabs, 16,
               k_bad_bs8[k], e_off, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_dequantize_nested, NULL, e_q, e_nabs, SIZE_MAX, 256, e_off, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_nested, NULL, e_q, (const float*)MIS(e_nabs, 1), 16, 256, e_off, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_nested, NULL, e_q, e_nabs, 16, 256, e_off, (float*)MIS(e_am2, 1));
    INTACT(e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_nested, NULL, e_q, e_nabs, 16, 256, e_off, e_am2);

    /* quantize_global(code, dt, x, n, out_q, out_absmax) */
    CANARY2(e_q2, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global, NULL, BNBQ_F32, NULL, EN, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global, NULL, BNBQ_F32, e_x, EN, NULL, e_am2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global, NULL, BNBQ_F32, e_x, EN, e_q2, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_quantize_global, NULL, BNBQ_F32, e_x, 0, e_q2, e_am2);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_quantize_global, NULL, k_bad_dt[k], e_x, EN, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_global, NULL, BNBQ_F32, e_x, SIZE_MAX, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_global, NULL, BNBQ_F16, MIS(e_h, 1), EN, e_q2, e_am2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_global, NULL, BNBQ_F32, e_x, EN, e_q2, (float*)MIS(e_am2, 1));
    INTACT(e_q2);
    INTACT(e_am2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_global, e_code, BNBQ_BF16, e_h, EN, e_q2, e_am2);
    /* dequantize_global(code, dt, q, absmax, n, out) */
    CANARY2(e_out, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_global, NULL, BNBQ_F32, NULL, e_am, EN, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_global, NULL, BNBQ_F32, e_q, NULL, EN, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_global, NULL, BNBQ_F32, e_q, e_am, EN, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_dequantize_global, NULL, BNBQ_F32, e_q, e_am, 0, e_out);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_dequantize_global, NULL, k_bad_dt[k], e_q, e_am, EN, e_out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_dequantize_global, NULL, BNBQ_F32, e_q, e_am, SIZE_MAX, e_out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_global, NULL, BNBQ_F16, e_q, e_am, EN, MIS(e_outh, 1));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_global, NULL, BNBQ_F32, e_q, (const float*)MIS(e_am, 1), EN, e_out);
    INTACT(e_out);
    INTACT(e_outh);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_global, NULL, BNBQ_F16, e_q, e_am, EN, e_outh);

    /* convert(src_dt, src, n, dst_dt, dst) */
    CANARY2(e_out, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_convert, BNBQ_F32, NULL, EN, BNBQ_F16, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_convert, BNBQ_F32, e_x, EN, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_convert, BNBQ_F32, e_x, 0, BNBQ_F16, e_outh);
    for (k = 0; k < NBAD(k_bad_dt); k++) {
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_convert, k_bad_dt[k], e_x, EN, BNBQ_F16, e_outh);
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_convert, BNBQ_F16, e_h, EN, k_bad_dt[k], e_out);
    }
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_convert, BNBQ_F32, e_x, SIZE_MAX, BNBQ_F16, e_outh);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_convert, BNBQ_F16, e_h, BIG + 1, BNBQ_BF16, e_outh);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_convert, BNBQ_F32, MIS(e_x, 1), EN, BNBQ_F16, e_outh);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_convert, BNBQ_F32, e_x, EN, BNBQ_F16, MIS(e_outh, 1));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_convert, BNBQ_BF16, MIS(e_h, 1), EN, BNBQ_F32, e_out);
    INTACT(e_out);
    INTACT(e_outh);
    EXPECT(BNBQ_SUCCESS, bnbq_convert, BNBQ_BF16, e_h, EN, BNBQ_F32, e_out);
}

static void test_errors_int8(void)
{
    static const bnbq_dtype not_f16[] = { BNBQ_F32, BNBQ_BF16, BNBQ_I8, (bnbq_dtype)99 };
    size_t k;
    err_setup();
    /* int8_vectorwise_quant(dt, A, rows, cols, threshold, CA, row_stats, outlier_cols, n) */
    CANARY2(e_i8c, e_am2);
    canary_fill(e_oc, sizeof e_oc);
    canary_fill(e_no, sizeof e_no);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_quant, BNBQ_F16, NULL, ER, EC, 0.0f, e_i8c, e_am2, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 0.0f, NULL, e_am2, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, NULL, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 6.0f, e_i8c, e_am2, NULL, e_no);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 6.0f, e_i8c, e_am2, e_oc, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, 0, EC, 0.0f, e_i8c, e_am2, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, 0, 0.0f, e_i8c, e_am2, NULL, NULL);
    for (k = 0; k < NBAD(not_f16); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_vectorwise_quant, not_f16[k], e_h, ER, EC, 0.0f, e_i8c, e_am2, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, BIG, 3, 0.0f, e_i8c, e_am2, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, 3, BIG, 6.0f, e_i8c, e_am2, e_oc, e_no);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_vectorwise_quant, BNBQ_F16, MIS(e_h, 1), ER, EC, 0.0f, e_i8c, e_am2, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, (float*)MIS(e_am2, 1), NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 6.0f, e_i8c, e_am2, (int32_t*)MIS(e_oc, 2), e_no);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 6.0f, e_i8c, e_am2, e_oc, (int32_t*)MIS(e_no, 1));
    INTACT(e_i8c);
    INTACT(e_am2);
    INTACT(e_oc);
    INTACT(e_no);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, e_am2, NULL, NULL);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, ER, EC, 1.0f, e_i8c, e_am2, e_oc, e_no);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_vectorwise_quant, BNBQ_F16, e_h, 1, 1, 0.0f, MIS(e_i8c, 1), e_am2, NULL, NULL);

    /* int8_vectorwise_dequant(CA, row_stats, rows, cols, out) */
    canary_fill(e_out, sizeof e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_dequant, NULL, e_rs, ER, EC, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_dequant, e_i8, NULL, ER, EC, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_vectorwise_dequant, e_i8, e_rs, ER, EC, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_vectorwise_dequant, e_i8, e_rs, 0, EC, e_out);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_vectorwise_dequant, e_i8, e_rs, ER, 0, e_out);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_vectorwise_dequant, e_i8, e_rs, BIG, 3, e_out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_vectorwise_dequant, e_i8, (const float*)MIS(e_rs, 1), ER, EC, e_out);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_vectorwise_dequant, e_i8, e_rs, ER, EC, (float*)MIS(e_out, 1));
    INTACT(e_out);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_vectorwise_dequant, e_i8, e_rs, ER, EC, e_out);

    /* int8_double_quant(dt, A, rows, cols, thr, CA, CAt, row_stats, col_stats, oc, n) */
    CANARY2(e_i8c, e_am2);
    canary_fill(e_out, sizeof e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_double_quant, BNBQ_F16, NULL, ER, EC, 0.0f, e_i8c, e_i8c + EN / 2, e_am2, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 0.0f, NULL, e_i8c, e_am2, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, NULL, e_am2, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, e_i8c, NULL, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, e_i8c, e_am2, NULL, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 6.0f, e_i8c, e_i8c, e_am2, e_out, NULL, e_no);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_double_quant, BNBQ_F16, e_h, 0, EC, 0.0f, e_i8c, e_i8c, e_am2, e_out, NULL, NULL);
    for (k = 0; k < NBAD(not_f16); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_double_quant, not_f16[k], e_h, ER, EC, 0.0f, e_i8c, e_i8c, e_am2, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_double_quant, BNBQ_F16, e_h, BIG, 3, 0.0f, e_i8c, e_i8c, e_am2, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_double_quant, BNBQ_F16, MIS(e_h, 1), ER, EC, 0.0f, e_i8c, e_i8c, e_am2, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 0.0f, e_i8c, e_i8c, e_am2, (float*)MIS(e_out, 1), NULL, NULL);
    INTACT(e_i8c);
    INTACT(e_am2);
    INTACT(e_out);
    {
        static int8_t ca[EN], cat[EN];
        EXPECT(BNBQ_SUCCESS, bnbq_int8_double_quant, BNBQ_F16, e_h, ER, EC, 2.0f, ca, cat, e_am2, e_out, e_oc, e_no);
    }

    /* int8_linear_matmul(A, B, M, N, K, out) */
    canary_fill(e_i32o, sizeof e_i32o);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_linear_matmul, NULL, e_i8b, ER, ER, EC, e_i32o);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_linear_matmul, e_i8, NULL, ER, ER, EC, e_i32o);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_linear_matmul, e_i8, e_i8b, ER, ER, EC, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_linear_matmul, e_i8, e_i8b, 0, ER, EC, e_i32o);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_linear_matmul, e_i8, e_i8b, ER, 0, EC, e_i32o);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_linear_matmul, e_i8, e_i8b, ER, ER, 0, e_i32o);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_linear_matmul, e_i8, e_i8b, BIG, 3, 3, e_i32o);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_linear_matmul, e_i8, e_i8b, 3, 3, BIG, e_i32o);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_linear_matmul, e_i8, e_i8b, 3, BIG, 3, e_i32o);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_linear_matmul, e_i8, e_i8b, ER, ER, EC, (int32_t*)MIS(e_i32o, 2));
    INTACT(e_i32o);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_linear_matmul, (const int8_t*)MIS(e_i8, 1), e_i8b, ER, ER, EC, e_i32o);

    /* int8_mm_dequant(dt, A, row_stats, col_stats, M, N, out, bias_dt, bias) */
    CANARY2(e_outh, e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mm_dequant, BNBQ_F16, NULL, e_rs, e_cs, ER, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, NULL, e_cs, ER, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, NULL, ER, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, EC, NULL, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, 0, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, 0, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_mm_dequant, BNBQ_I8, e_i32, e_rs, e_cs, ER, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_mm_dequant, (bnbq_dtype)99, e_i32, e_rs, e_cs, ER, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, EC, e_outh, BNBQ_I32, e_bias);
    EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, EC, e_outh, (bnbq_dtype)99, e_bias);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, BIG, 3, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mm_dequant, BNBQ_F16, (const int32_t*)MIS(e_i32, 2), e_rs, e_cs, ER, EC, e_outh, BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, EC, MIS(e_outh, 1), BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mm_dequant, BNBQ_F32, e_i32, e_rs, e_cs, ER, EC, MIS(e_out, 2), BNBQ_F16, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, EC, e_outh, BNBQ_F16, MIS(e_bias, 1));
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, (const float*)MIS(e_rs, 1), e_cs, ER, EC, e_outh, BNBQ_F16, NULL);
    INTACT(e_outh);
    INTACT(e_out);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_mm_dequant, BNBQ_F16, e_i32, e_rs, e_cs, ER, EC, e_outh, BNBQ_F16, e_bias);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_mm_dequant, BNBQ_BF16, e_i32, e_rs, e_cs, ER, EC, e_outh, BNBQ_F32, e_x);
    EXPECT(BNBQ_SUCCESS, bnbq_int8_mm_dequant, BNBQ_F32, e_i32, e_rs, e_cs, ER, EC, e_out, BNBQ_F16, NULL);
}

static void test_errors_switchback(void)
{
    static const bnbq_dtype not_f16[] = { BNBQ_F32, BNBQ_BF16, BNBQ_U8, (bnbq_dtype)99 };
    size_t k;
    err_setup();
    /* quantize_rowwise(dt, X, rows, cols, out_q, out_state) and
       quantize_columnwise_and_transpose: same signature */
    {
        int which;
        for (which = 0; which < 2; which++) {
            bnbq_result (*fn)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t, int8_t*, uint16_t*) =
                which ? bnbq_quantize_columnwise_and_transpose : bnbq_quantize_rowwise;
            const char* nm = which ? "bnbq_quantize_columnwise_and_transpose" : "bnbq_quantize_rowwise";
            bnbq_result r0, r1;
#define EXPECT_FN(want, ...) do { r0 = fn(NULL, __VA_ARGS__); log_reset(); \
        r1 = fn(&g_logex, __VA_ARGS__); expect_impl(__LINE__, nm, (want), r0, r1, 1); } while (0)
            CANARY2(e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, BNBQ_F16, NULL, ER, EC, e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, BNBQ_F16, e_h, ER, EC, NULL, e_st2);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, BNBQ_F16, e_h, ER, EC, e_i8c, NULL);
            EXPECT_FN(BNBQ_ERROR_BAD_SHAPE, BNBQ_F16, e_h, 0, EC, e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_BAD_SHAPE, BNBQ_F16, e_h, ER, 0, e_i8c, e_st2);
            for (k = 0; k < NBAD(not_f16); k++)
                EXPECT_FN(BNBQ_ERROR_BAD_DTYPE, not_f16[k], e_h, ER, EC, e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_OVERFLOW, BNBQ_F16, e_h, BIG, 3, e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_OVERFLOW, BNBQ_F16, e_h, 3, BIG, e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_MISALIGNED, BNBQ_F16, MIS(e_h, 1), ER, EC, e_i8c, e_st2);
            EXPECT_FN(BNBQ_ERROR_MISALIGNED, BNBQ_F16, e_h, ER, EC, e_i8c, (uint16_t*)MIS(e_st2, 1));
            INTACT(e_i8c);
            INTACT(e_st2);
            EXPECT_FN(BNBQ_SUCCESS, BNBQ_F16, e_h, ER, EC, e_i8c, e_st2);
#undef EXPECT_FN
        }
    }
    /* quantize_global_int8(dt, X, n, out_q, out_absmax) */
    CANARY2(e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global_int8, BNBQ_F16, NULL, EN, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global_int8, BNBQ_F16, e_h, EN, NULL, e_st2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global_int8, BNBQ_F16, e_h, EN, e_i8c, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_quantize_global_int8, BNBQ_F16, e_h, 0, e_i8c, e_st2);
    for (k = 0; k < NBAD(not_f16); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_quantize_global_int8, not_f16[k], e_h, EN, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_global_int8, BNBQ_F16, e_h, SIZE_MAX, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_global_int8, BNBQ_F16, MIS(e_h, 1), EN, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_global_int8, BNBQ_F16, e_h, EN, e_i8c, (uint16_t*)MIS(e_st2, 1));
    INTACT(e_i8c);
    INTACT(e_st2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_global_int8, BNBQ_F16, e_h, EN, e_i8c, e_st2);
    /* quantize_global_int8_transpose(dt, X, rows, cols, out_q, out_absmax) */
    CANARY2(e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global_int8_transpose, BNBQ_F16, NULL, ER, EC, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global_int8_transpose, BNBQ_F16, e_h, ER, EC, NULL, e_st2);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_quantize_global_int8_transpose, BNBQ_F16, e_h, ER, EC, e_i8c, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_quantize_global_int8_transpose, BNBQ_F16, e_h, ER, 0, e_i8c, e_st2);
    for (k = 0; k < NBAD(not_f16); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_quantize_global_int8_transpose, not_f16[k], e_h, ER, EC, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_quantize_global_int8_transpose, BNBQ_F16, e_h, BIG, 3, e_i8c, e_st2);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_quantize_global_int8_transpose, BNBQ_F16, MIS(e_h, 1), ER, EC, e_i8c, e_st2);
    INTACT(e_i8c);
    INTACT(e_st2);
    EXPECT(BNBQ_SUCCESS, bnbq_quantize_global_int8_transpose, BNBQ_F16, e_h, ER, EC, e_i8c, e_st2);
    /* dequantize_rowwise(q, state, rows, cols, out) */
    canary_fill(e_outh, sizeof e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_rowwise, NULL, e_st, ER, EC, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_rowwise, e_i8, NULL, ER, EC, e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_dequantize_rowwise, e_i8, e_st, ER, EC, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_dequantize_rowwise, e_i8, e_st, 0, EC, e_outh);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_dequantize_rowwise, e_i8, e_st, BIG, 3, e_outh);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_rowwise, e_i8, (const uint16_t*)MIS(e_st, 1), ER, EC, e_outh);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_dequantize_rowwise, e_i8, e_st, ER, EC, (uint16_t*)MIS(e_outh, 1));
    INTACT(e_outh);
    EXPECT(BNBQ_SUCCESS, bnbq_dequantize_rowwise, e_i8, e_st, ER, EC, e_outh);
    /* int8_matmul_rowwise_dequantize / _mixed_(a, w, sx, sw, M, N, K, out, bias) */
    {
        int which;
        for (which = 0; which < 2; which++) {
            bnbq_result (*fn)(bnbq_exec*, const int8_t*, const int8_t*, const uint16_t*,
                              const uint16_t*, size_t, size_t, size_t, uint16_t*, const uint16_t*) =
                which ? bnbq_int8_matmul_mixed_dequantize : bnbq_int8_matmul_rowwise_dequantize;
            const char* nm = which ? "bnbq_int8_matmul_mixed_dequantize" : "bnbq_int8_matmul_rowwise_dequantize";
            bnbq_result r0, r1;
#define EXPECT_FN(want, ...) do { r0 = fn(NULL, __VA_ARGS__); log_reset(); \
        r1 = fn(&g_logex, __VA_ARGS__); expect_impl(__LINE__, nm, (want), r0, r1, 1); } while (0)
            canary_fill(e_outh, sizeof e_outh);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, NULL, e_i8b, e_st, e_st2, ER, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, e_i8, NULL, e_st, e_st2, ER, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, e_i8, e_i8b, NULL, e_st2, ER, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, e_i8, e_i8b, e_st, NULL, ER, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_NULL_POINTER, e_i8, e_i8b, e_st, e_st2, ER, ER, EC, NULL, NULL);
            EXPECT_FN(BNBQ_ERROR_BAD_SHAPE, e_i8, e_i8b, e_st, e_st2, 0, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_BAD_SHAPE, e_i8, e_i8b, e_st, e_st2, ER, 0, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_BAD_SHAPE, e_i8, e_i8b, e_st, e_st2, ER, ER, 0, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_OVERFLOW, e_i8, e_i8b, e_st, e_st2, BIG, 3, 3, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_OVERFLOW, e_i8, e_i8b, e_st, e_st2, 3, 3, BIG, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_MISALIGNED, e_i8, e_i8b, (const uint16_t*)MIS(e_st, 1), e_st2, ER, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_MISALIGNED, e_i8, e_i8b, e_st, (const uint16_t*)MIS(e_st2, 1), ER, ER, EC, e_outh, NULL);
            EXPECT_FN(BNBQ_ERROR_MISALIGNED, e_i8, e_i8b, e_st, e_st2, ER, ER, EC, (uint16_t*)MIS(e_outh, 1), NULL);
            EXPECT_FN(BNBQ_ERROR_MISALIGNED, e_i8, e_i8b, e_st, e_st2, ER, ER, EC, e_outh, (const uint16_t*)MIS(e_bias, 1));
            INTACT(e_outh);
            EXPECT_FN(BNBQ_SUCCESS, e_i8, e_i8b, e_st, e_st2, ER, ER, EC, e_outh, e_bias);
            EXPECT_FN(BNBQ_SUCCESS, e_i8, e_i8b, e_st, e_st2, ER, ER, EC, e_outh, NULL);
#undef EXPECT_FN
        }
    }
}

static void test_errors_gemv(void)
{
    enum { GN = 4, GK = 64 };      /* packed GN*GK/2 = 128 bytes, absmax 4 */
    size_t k;
    static const bnbq_quant_type badqt[] = { BNBQ_INT4, BNBQ_AF4, (bnbq_quant_type)7 };
    err_setup();
    canary_fill(e_outh, sizeof e_outh);
    canary_fill(e_out, sizeof e_out);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, NULL, e_q, e_am, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, NULL, e_am, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, NULL, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, GK, 64, NULL, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 0, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, 0, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, 96, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_gemv_4bit, BNBQ_FP4, BNBQ_F32, e_x, e_q, e_am, GN, 32, 64, e_out, NULL, NULL);
    for (k = 0; k < NBAD(k_bad_bs4); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, GK, k_bad_bs4[k], e_outh, NULL, NULL);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_gemv_4bit, BNBQ_NF4, k_bad_dt[k], e_h, e_q, e_am, GN, GK, 64, e_outh, NULL, NULL);
    for (k = 0; k < NBAD(badqt); k++)
        EXPECT(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_gemv_4bit, badqt[k], BNBQ_F16, e_h, e_q, e_am, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, SIZE_MAX / 64, 128, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F32, e_x, e_q, e_am, 1, SIZE_MAX - 63, 64, e_out, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, MIS(e_h, 1), e_q, e_am, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, (const float*)MIS(e_am, 1), GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, GK, 64, MIS(e_outh, 1), NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, GK, 64, e_outh, MIS(e_bias, 1), NULL);
    INTACT(e_outh);
    INTACT(e_out);
    EXPECT(BNBQ_SUCCESS, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, GN, GK, 64, e_outh, e_bias, NULL);
    EXPECT(BNBQ_SUCCESS, bnbq_gemv_4bit, BNBQ_FP4, BNBQ_F32, e_x, MIS(e_q, 1), e_am, GN, GK, 32, e_out, NULL, bnbq_code_4bit(BNBQ_FP4));
    EXPECT(BNBQ_SUCCESS, bnbq_gemv_4bit, BNBQ_NF4, BNBQ_BF16, e_h, e_q, e_am, 2, 128, 128, e_outh, NULL, NULL);

    /* matmul_4bit(qt, dt, A, packed, absmax, M, N, K, bs, out, bias, code) */
    canary_fill(e_outh, sizeof e_outh);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, NULL, e_q, e_am, 2, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, NULL, e_am, 2, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, NULL, 2, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_NULL_POINTER, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, GN, GK, 64, NULL, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 0, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, 0, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_BAD_SHAPE, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, GN, 0, 64, e_outh, NULL, NULL);
    for (k = 0; k < NBAD(k_bad_bs4); k++)
        EXPECT(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, GN, GK, k_bad_bs4[k], e_outh, NULL, NULL);
    for (k = 0; k < NBAD(k_bad_dt); k++)
        EXPECT(BNBQ_ERROR_BAD_DTYPE, bnbq_matmul_4bit, BNBQ_NF4, k_bad_dt[k], e_h, e_q, e_am, 2, GN, GK, 64, e_outh, NULL, NULL);
    for (k = 0; k < NBAD(badqt); k++)
        EXPECT(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_matmul_4bit, badqt[k], BNBQ_F16, e_h, e_q, e_am, 2, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, BIG, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_OVERFLOW, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, SIZE_MAX / 64, 128, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, MIS(e_h, 1), e_q, e_am, 2, GN, GK, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_ERROR_MISALIGNED, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, GN, GK, 64, MIS(e_outh, 1), NULL, NULL);
    INTACT(e_outh);
    EXPECT(BNBQ_SUCCESS, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 2, GN, GK, 64, e_outh, e_bias, NULL);
    /* K % blocksize != 0 is fine for matmul (the dequantize path), also with M == 1 */
    EXPECT(BNBQ_SUCCESS, bnbq_matmul_4bit, BNBQ_NF4, BNBQ_F16, e_h, e_q, e_am, 1, GN, 96, 64, e_outh, NULL, NULL);
    EXPECT(BNBQ_SUCCESS, bnbq_matmul_4bit, BNBQ_FP4, BNBQ_F32, e_x, e_q, e_am, 3, 5, 30, 64, e_out, NULL, NULL);
}

/* A misaligned code table (the `code` / `nested_code` argument, a float array in host memory) is
   MISALIGNED before anything reads it. Under sanitizers each call runs in a child process, so a
   library that reads the table anyway (UB that UBSan aborts on) fails this test only. */
static bnbq_result misaligned_code_call(int which, bnbq_exec* ex)
{
    const float* c = (const float*)MIS(e_code, 2);
    switch (which) {
    case 0: return bnbq_quantize_blockwise(ex, c, BNBQ_F32, e_x, EN, 64, e_q2, e_am2);
    case 1: return bnbq_dequantize_blockwise(ex, c, BNBQ_F32, e_q, e_am, EN, 64, e_out);
    case 2: return bnbq_quantize_nested(ex, c, e_am, 16, 256, e_off, e_q2, e_nabs);
    case 3: return bnbq_dequantize_nested(ex, c, e_q, e_nabs, 16, 256, e_off, e_am2);
    case 4: return bnbq_quantize_global(ex, c, BNBQ_F32, e_x, EN, e_q2, e_am2);
    case 5: return bnbq_dequantize_global(ex, c, BNBQ_F32, e_q, e_am, EN, e_out);
    case 6: return bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_F32, e_x, e_q, e_am, 4, 64, 64, e_out, NULL, c);
    case 7: return bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_F32, e_x, e_q, e_am, 1, 4, 64, 64, e_out, NULL, c);
    default: return BNBQ_ERROR_INVALID_ARGS;
    }
}
static void test_errors_misaligned_code(void)
{
    static const char* names[8] = { "bnbq_quantize_blockwise", "bnbq_dequantize_blockwise",
        "bnbq_quantize_nested", "bnbq_dequantize_nested", "bnbq_quantize_global",
        "bnbq_dequantize_global", "bnbq_gemv_4bit", "bnbq_matmul_4bit" };
    int w;
    err_setup();
    for (w = 0; w < 8; w++) {
#if defined(TEST_CAN_FORK)
        pid_t pid;
        int status = 0;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            bnbq_result r;
            signal(SIGSEGV, SIG_DFL);      /* the child must not print a summary line */
            signal(SIGFPE, SIG_DFL);
            signal(SIGILL, SIG_DFL);
            signal(SIGABRT, SIG_DFL);
            r = misaligned_code_call(w, NULL);
            _exit(r == BNBQ_ERROR_MISALIGNED ? 10 : 11 + (r == BNBQ_SUCCESS));
        }
        if (pid > 0 && waitpid(pid, &status, 0) == pid) {
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            CHECK(code == 10, "%s with a misaligned code table: %s", names[w],
                  code == 11 ? "returned another error" : code == 12 ? "returned BNBQ_SUCCESS" :
                  "the child died (the table was read: UB under the sanitizer)");
            continue;
        }
#endif
        {
            bnbq_result r0 = misaligned_code_call(w, NULL), r1;
            log_reset();
            r1 = misaligned_code_call(w, &g_logex);
            expect_impl(__LINE__, names[w], BNBQ_ERROR_MISALIGNED, r0, r1, 1);
        }
    }
}

static void test_errors_formats(void)
{
    float c[256 + 4], t[16 + 4];
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_create_dynamic_map, 1, 7, 8, NULL);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_dynamic_map, 1, 7, 9, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_dynamic_map, 1, 0, 8, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_dynamic_map, 1, 9, 8, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_dynamic_map, 1, 1, 0, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_dynamic_map, 1, -1, 8, c);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_create_dynamic_map, 1, 4, 8, c);
    /* unsigned, 4 exponent bits: 249 entries != 2^8, which bitsandbytes asserts against */
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_dynamic_map, 0, 4, 8, c);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_create_linear_map, 1, 8, 1, NULL);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_linear_map, 1, 9, 1, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_linear_map, 1, 0, 1, c);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_create_linear_map, 1, 4, 0, c);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_create_normal_map, 0.9677083, 1, NULL);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_normal_map, 0.5, 1, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_normal_map, 1.0, 1, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_normal_map, 0.2, 1, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_normal_map, 1.5, 0, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_normal_map, (double)NAN, 1, c);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_create_normal_map, 0.99, 1, c);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_create_fp8_map, 1, 4, 3, 8, NULL);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_fp8_map, 1, 4, 4, 8, c);
    EXPECT_NOEX(BNBQ_ERROR_INVALID_ARGS, bnbq_create_fp8_map, 1, 5, 3, 9, c);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_create_fp8_map, 1, 2, 1, 4, c);
    EXPECT_NOEX(BNBQ_ERROR_NULL_POINTER, bnbq_get_4bit_type, BNBQ_NF4, 64, NULL);
    EXPECT_NOEX(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_get_4bit_type, (bnbq_quant_type)7, 64, t);
    EXPECT_NOEX(BNBQ_ERROR_BAD_QUANT_TYPE, bnbq_get_4bit_type, (bnbq_quant_type)-1, 64, t);
    EXPECT_NOEX(BNBQ_ERROR_BAD_BLOCKSIZE, bnbq_get_4bit_type, BNBQ_AF4, 128, t);
    EXPECT_NOEX(BNBQ_SUCCESS, bnbq_get_4bit_type, BNBQ_FP4, 0, t);
}

/* ------------------------------------------------------------------------------------------ */
/* SwitchBack (Triton) formulas, algorithms 8                                                 */

static void test_switchback_formulas(void)
{
    enum { R = 6, C = 21, N = 5 };
    rng r = rng_make(52);
    float x[R * C], xw[R * C];
    uint16_t* h, st[C], gst[1], outh[R * C];
    int8_t q[R * C], w[N * C];
    int i, j, n;
    const float inv127 = 1.0f / 127.0f, div = (float)(1.0 / (127.0 * 127.0));
    fill_randn(&r, x, R * C, 2.0f);
    for (j = 0; j < C; j++) x[2 * C + j] = 0.0f;        /* an all-zero row */
    h = (uint16_t*)to_dt(BNBQ_F16, x, R * C, xw);
    CHECK(fbits(inv127) == 0x3c010204u && fbits(div) == 0x38820610u, "constants");
    /* quantize_rowwise */
    MUST(bnbq_quantize_rowwise(NULL, BNBQ_F16, h, R, C, q, st));
    for (i = 0; i < R; i++) {
        float mx = 0.0f;
        for (j = 0; j < C; j++) if (fabsf(xw[i * C + j]) > mx) mx = fabsf(xw[i * C + j]);
        CHECK(st[i] == bnbq_f32_to_f16(mx), "rowwise state[%d] %04x", i, st[i]);
        for (j = 0; j < C; j++) {
            int want = mx == 0.0f ? 0 : (int)rintf(127.0f * (xw[i * C + j] * (1.0f / mx)));
            CHECK(q[i * C + j] == want, "rowwise q[%d,%d] = %d, expected %d", i, j, q[i * C + j], want);
        }
    }
    /* dequantize_rowwise: f16(f32(f16(s*q) * f32(1/127))) */
    MUST(bnbq_dequantize_rowwise(NULL, q, st, R, C, outh));
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++) {
            float t = round_dt(BNBQ_F16, ref_f16_to_f32(st[i]) * (float)q[i * C + j]);
            uint16_t want = bnbq_f32_to_f16(t * inv127);
            CHECK(outh[i * C + j] == want, "dequantize_rowwise [%d,%d] %04x vs %04x", i, j,
                  outh[i * C + j], want);
        }
    /* columnwise_and_transpose: out (C, R) */
    MUST(bnbq_quantize_columnwise_and_transpose(NULL, BNBQ_F16, h, R, C, q, st));
    for (j = 0; j < C; j++) {
        float mx = 0.0f;
        for (i = 0; i < R; i++) if (fabsf(xw[i * C + j]) > mx) mx = fabsf(xw[i * C + j]);
        CHECK(st[j] == bnbq_f32_to_f16(mx), "columnwise state[%d]", j);
        for (i = 0; i < R; i++) {
            int want = mx == 0.0f ? 0 : (int)rintf(127.0f * (xw[i * C + j] * (1.0f / mx)));
            CHECK(q[j * R + i] == want, "columnwise q[%d,%d] = %d, expected %d", j, i, q[j * R + i], want);
        }
    }
    /* quantize_global_int8 (fp16 arithmetic) and its transpose */
    {
        float mx = 0.0f, inv;
        int8_t qt[R * C];
        for (i = 0; i < R * C; i++) if (fabsf(xw[i]) > mx) mx = fabsf(xw[i]);
        inv = round_dt(BNBQ_F16, 1.0f / mx);
        MUST(bnbq_quantize_global_int8(NULL, BNBQ_F16, h, R * C, q, gst));
        MUST(bnbq_quantize_global_int8_transpose(NULL, BNBQ_F16, h, R, C, qt, st));
        CHECK(gst[0] == bnbq_f32_to_f16(mx) && st[0] == gst[0], "global absmax %04x %04x", gst[0], st[0]);
        for (i = 0; i < R; i++)
            for (j = 0; j < C; j++) {
                float hh = round_dt(BNBQ_F16, xw[i * C + j] * inv);
                int want = (int)rintf(round_dt(BNBQ_F16, 127.0f * hh));
                CHECK(q[i * C + j] == want, "global q[%d,%d] = %d, expected %d", i, j, q[i * C + j], want);
                CHECK(qt[j * R + i] == want, "global transpose q[%d,%d] = %d", j, i, qt[j * R + i]);
            }
    }
    /* int8_matmul_rowwise_dequantize / mixed */
    {
        uint16_t sx[R], sw[N], bias[N], o1[R * N], o2[R * N];
        for (i = 0; i < N * C; i++) w[i] = (int8_t)rng_int(&r, -127, 127);
        for (i = 0; i < R * C; i++) q[i] = (int8_t)rng_int(&r, -127, 127);
        for (i = 0; i < R; i++) sx[i] = bnbq_f32_to_f16((float)(0.1 + 3.0 * rng_uniform(&r)));
        for (i = 0; i < N; i++) sw[i] = bnbq_f32_to_f16((float)(0.1 + 3.0 * rng_uniform(&r)));
        for (i = 0; i < N; i++) bias[i] = bnbq_f32_to_f16(rng_randnf(&r));
        MUST(bnbq_int8_matmul_rowwise_dequantize(NULL, q, w, sx, sw, R, N, C, o1, bias));
        MUST(bnbq_int8_matmul_mixed_dequantize(NULL, q, w, sx, sw, R, N, C, o2, NULL));
        for (i = 0; i < R; i++)
            for (n = 0; n < N; n++) {
                int32_t acc = 0;
                float f, g, c1, c2;
                uint16_t h1, h2;
                for (j = 0; j < C; j++) acc += (int32_t)q[i * C + j] * (int32_t)w[n * C + j];
                f = (float)acc * div;
                g = ref_f16_to_f32(sx[i]) * f;
                c1 = ref_f16_to_f32(sw[n]) * g;
                c2 = ref_f16_to_f32(sw[0]) * g;
                h1 = bnbq_f32_to_f16(c1);
                h1 = bnbq_f32_to_f16(ref_f16_to_f32(h1) + ref_f16_to_f32(bias[n]));
                h2 = bnbq_f32_to_f16(c2);
                CHECK(o1[i * N + n] == h1, "rowwise_dequantize [%d,%d] %04x vs %04x", i, n, o1[i * N + n], h1);
                CHECK(o2[i * N + n] == h2, "mixed_dequantize [%d,%d] %04x vs %04x", i, n, o2[i * N + n], h2);
            }
    }
    free(h);
}

/* ------------------------------------------------------------------------------------------ */
/* every operation through: an empty backend, a parallel-for exec, a counting allocator        */

enum {
    OP_CONVERT_F32_F16, OP_CONVERT_BF16_F32, OP_QB_F16, OP_QB_F32_4096, OP_QB_BF16_CODE,
    OP_DQB_BF16, OP_DQB_F32, OP_Q4_NF4_BF16, OP_Q4_FP4_F32, OP_Q4_NF4_F16_32, OP_DQ4_FP4_F16,
    OP_DQ4_NF4_F32, OP_NESTED_OFFSET, OP_Q_NESTED, OP_DQ_NESTED, OP_QGLOBAL_F16, OP_DQGLOBAL_F32,
    OP_I8_VQ, OP_I8_VQ0, OP_I8_VDQ, OP_I8_DQ, OP_I8_MM, OP_I8_MMDQ, OP_I8_MMDQ_F32, OP_QROW,
    OP_QCOLT, OP_QGLOB8, OP_QGLOB8T, OP_DQROW, OP_MM_ROWDQ, OP_MM_MIXDQ, OP_GEMV_F32_NF4,
    OP_GEMV_F16_FP4, OP_GEMV_BF16_NF4, OP_MM4_F16, OP_MM4_BF16_ODD, OP_MM4_F32_M1, OP_COUNT
};
static const char* const k_op_names[OP_COUNT] = {
    "convert f32->f16", "convert bf16->f32", "quantize_blockwise f16", "quantize_blockwise f32 4096",
    "quantize_blockwise bf16 code", "dequantize_blockwise bf16", "dequantize_blockwise f32",
    "quantize_4bit nf4 bf16", "quantize_4bit fp4 f32", "quantize_4bit nf4 f16 bs32",
    "dequantize_4bit fp4 f16", "dequantize_4bit nf4 f32", "nested_offset", "quantize_nested",
    "dequantize_nested", "quantize_global f16", "dequantize_global f32",
    "int8_vectorwise_quant thr", "int8_vectorwise_quant 0", "int8_vectorwise_dequant",
    "int8_double_quant", "int8_linear_matmul", "int8_mm_dequant", "int8_mm_dequant f32",
    "quantize_rowwise", "quantize_columnwise_and_transpose", "quantize_global_int8",
    "quantize_global_int8_transpose", "dequantize_rowwise", "int8_matmul_rowwise_dequantize",
    "int8_matmul_mixed_dequantize", "gemv_4bit f32 nf4", "gemv_4bit f16 fp4 bias",
    "gemv_4bit bf16 nf4", "matmul_4bit f16", "matmul_4bit bf16 K%bs", "matmul_4bit f32 M=1" };

enum { PN = 100003, PR = 67, PC = 130, PM = 9, PGN = 300, PGK = 512, PNB = 3001, OUTB = 512 * 1024 };
typedef struct op_inputs {
    float* xf; uint16_t* xh; uint16_t* xb; uint8_t* q; float* am; float* am_small; float off;
    uint16_t* a16; int8_t* i8a; int8_t* i8b; int32_t* i32; float* rs; float* cs;
    uint16_t* st; uint16_t* st2; uint16_t* bias16; float* code; float* bias32;
} op_inputs;
static op_inputs g_in;

static void op_inputs_init(void)
{
    rng r = rng_make(61);
    size_t i;
    if (g_in.xf) return;
    g_in.xf = (float*)xmalloc(PN * sizeof(float));
    fill_randn(&r, g_in.xf, PN, 1.0f);
    g_in.xf[7] = 0.0f;
    g_in.xh = (uint16_t*)to_dt(BNBQ_F16, g_in.xf, PN, NULL);
    g_in.xb = (uint16_t*)to_dt(BNBQ_BF16, g_in.xf, PN, NULL);
    g_in.q = (uint8_t*)xmalloc(PN);
    for (i = 0; i < PN; i++) g_in.q[i] = (uint8_t)rng_u64(&r);
    g_in.am = (float*)xmalloc((PN / 8) * sizeof(float));
    for (i = 0; i < PN / 8; i++) g_in.am[i] = (float)(0.2 + rng_uniform(&r));
    g_in.off = 0.7f;
    g_in.a16 = (uint16_t*)xmalloc(PR * PC * sizeof(uint16_t));
    for (i = 0; i < PR * PC; i++) g_in.a16[i] = bnbq_f32_to_f16(rng_randnf(&r));
    g_in.a16[5 * PC + 3] = bnbq_f32_to_f16(9.0f);
    g_in.a16[40 * PC + 100] = bnbq_f32_to_f16(-4.0f);
    g_in.i8a = (int8_t*)xmalloc(PR * PC);
    g_in.i8b = (int8_t*)xmalloc(PR * PC);
    for (i = 0; i < PR * PC; i++) {
        g_in.i8a[i] = (int8_t)rng_int(&r, -127, 127);
        g_in.i8b[i] = (int8_t)rng_int(&r, -127, 127);
    }
    g_in.i32 = (int32_t*)xmalloc(PR * PR * sizeof(int32_t));
    for (i = 0; i < PR * PR; i++) g_in.i32[i] = rng_int(&r, -300000, 300000);
    g_in.rs = (float*)xmalloc(PR * sizeof(float));
    g_in.cs = (float*)xmalloc(PR * sizeof(float));
    g_in.st = (uint16_t*)xmalloc(PR * sizeof(uint16_t));
    g_in.st2 = (uint16_t*)xmalloc(PR * sizeof(uint16_t));
    g_in.bias16 = (uint16_t*)xmalloc(PGN * sizeof(uint16_t));
    g_in.bias32 = (float*)xmalloc(PGN * sizeof(float));
    for (i = 0; i < PR; i++) {
        g_in.rs[i] = (float)(0.5 + rng_uniform(&r));
        g_in.cs[i] = (float)(0.5 + rng_uniform(&r));
        g_in.st[i] = bnbq_f32_to_f16((float)(0.5 + rng_uniform(&r)));
        g_in.st2[i] = bnbq_f32_to_f16((float)(0.5 + rng_uniform(&r)));
    }
    for (i = 0; i < PGN; i++) {
        g_in.bias32[i] = rng_randnf(&r);
        g_in.bias16[i] = bnbq_f32_to_f16(g_in.bias32[i]);
    }
    g_in.code = (float*)xmalloc(256 * sizeof(float));
    MUST(bnbq_create_fp8_map(1, 4, 3, 8, g_in.code));
}

/* Runs one operation with fixed inputs; outputs go to o[0..3] (OUTB bytes each). */
static bnbq_result run_op(int op, bnbq_exec* ex, unsigned char* o[4])
{
    op_inputs* I = &g_in;
    switch (op) {
    case OP_CONVERT_F32_F16: return bnbq_convert(ex, BNBQ_F32, I->xf, PN, BNBQ_F16, o[0]);
    case OP_CONVERT_BF16_F32: return bnbq_convert(ex, BNBQ_BF16, I->xb, PN, BNBQ_F32, o[0]);
    case OP_QB_F16: return bnbq_quantize_blockwise(ex, NULL, BNBQ_F16, I->xh, PN, 256, o[0], (float*)o[1]);
    case OP_QB_F32_4096: return bnbq_quantize_blockwise(ex, NULL, BNBQ_F32, I->xf, PN, 4096, o[0], (float*)o[1]);
    case OP_QB_BF16_CODE: return bnbq_quantize_blockwise(ex, I->code, BNBQ_BF16, I->xb, PN, 64, o[0], (float*)o[1]);
    case OP_DQB_BF16: return bnbq_dequantize_blockwise(ex, NULL, BNBQ_BF16, I->q, I->am, PN, 256, o[0]);
    case OP_DQB_F32: return bnbq_dequantize_blockwise(ex, I->code, BNBQ_F32, I->q, I->am, PN, 64, o[0]);
    case OP_Q4_NF4_BF16: return bnbq_quantize_4bit(ex, BNBQ_NF4, BNBQ_BF16, I->xb, PN, 64, o[0], (float*)o[1]);
    case OP_Q4_FP4_F32: return bnbq_quantize_4bit(ex, BNBQ_FP4, BNBQ_F32, I->xf, PN, 128, o[0], (float*)o[1]);
    case OP_Q4_NF4_F16_32: return bnbq_quantize_4bit(ex, BNBQ_NF4, BNBQ_F16, I->xh, PN, 32, o[0], (float*)o[1]);
    case OP_DQ4_FP4_F16: return bnbq_dequantize_4bit(ex, BNBQ_FP4, BNBQ_F16, I->q, I->am, PN, 64, o[0]);
    case OP_DQ4_NF4_F32: return bnbq_dequantize_4bit(ex, BNBQ_NF4, BNBQ_F32, I->q, I->am, PN, 128, o[0]);
    case OP_NESTED_OFFSET: return bnbq_nested_offset(ex, I->am, PNB, (float*)o[0]);
    case OP_Q_NESTED: return bnbq_quantize_nested(ex, NULL, I->am, PNB, 256, &I->off, o[0], (float*)o[1]);
    case OP_DQ_NESTED: return bnbq_dequantize_nested(ex, NULL, I->q, I->am, PNB, 256, &I->off, (float*)o[0]);
    case OP_QGLOBAL_F16: return bnbq_quantize_global(ex, NULL, BNBQ_F16, I->xh, PN, o[0], (float*)o[1]);
    case OP_DQGLOBAL_F32: return bnbq_dequantize_global(ex, I->code, BNBQ_F32, I->q, I->am, PN, o[0]);
    case OP_I8_VQ: return bnbq_int8_vectorwise_quant(ex, BNBQ_F16, I->a16, PR, PC, 3.0f, (int8_t*)o[0], (float*)o[1], (int32_t*)o[2], (int32_t*)o[3]);
    case OP_I8_VQ0: return bnbq_int8_vectorwise_quant(ex, BNBQ_F16, I->a16, PR, PC, 0.0f, (int8_t*)o[0], (float*)o[1], NULL, NULL);
    case OP_I8_VDQ: return bnbq_int8_vectorwise_dequant(ex, I->i8a, I->rs, PR, PC, (float*)o[0]);
    case OP_I8_DQ: return bnbq_int8_double_quant(ex, BNBQ_F16, I->a16, PR, PC, 3.0f, (int8_t*)o[0], (int8_t*)o[1], (float*)o[2], (float*)o[3], (int32_t*)(o[3] + 4096), (int32_t*)(o[3] + 8192));
    case OP_I8_MM: return bnbq_int8_linear_matmul(ex, I->i8a, I->i8b, PR, PR - 3, PC, (int32_t*)o[0]);
    case OP_I8_MMDQ: return bnbq_int8_mm_dequant(ex, BNBQ_F16, I->i32, I->rs, I->cs, PR, PR, o[0], BNBQ_F16, I->bias16);
    case OP_I8_MMDQ_F32: return bnbq_int8_mm_dequant(ex, BNBQ_F32, I->i32, I->rs, I->cs, PR, PR, o[0], BNBQ_F32, I->bias32);
    case OP_QROW: return bnbq_quantize_rowwise(ex, BNBQ_F16, I->a16, PR, PC, (int8_t*)o[0], (uint16_t*)o[1]);
    case OP_QCOLT: return bnbq_quantize_columnwise_and_transpose(ex, BNBQ_F16, I->a16, PR, PC, (int8_t*)o[0], (uint16_t*)o[1]);
    case OP_QGLOB8: return bnbq_quantize_global_int8(ex, BNBQ_F16, I->a16, PR * PC, (int8_t*)o[0], (uint16_t*)o[1]);
    case OP_QGLOB8T: return bnbq_quantize_global_int8_transpose(ex, BNBQ_F16, I->a16, PR, PC, (int8_t*)o[0], (uint16_t*)o[1]);
    case OP_DQROW: return bnbq_dequantize_rowwise(ex, I->i8a, I->st, PR, PC, (uint16_t*)o[0]);
    case OP_MM_ROWDQ: return bnbq_int8_matmul_rowwise_dequantize(ex, I->i8a, I->i8b, I->st, I->st2, PR, PR - 1, PC, (uint16_t*)o[0], I->bias16);
    case OP_MM_MIXDQ: return bnbq_int8_matmul_mixed_dequantize(ex, I->i8a, I->i8b, I->st, I->st2, PR, PR - 1, PC, (uint16_t*)o[0], NULL);
    case OP_GEMV_F32_NF4: return bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_F32, I->xf, I->q, I->am, PGN, PGK, 64, o[0], NULL, NULL);
    case OP_GEMV_F16_FP4: return bnbq_gemv_4bit(ex, BNBQ_FP4, BNBQ_F16, I->xh, I->q, I->am, PGN, PGK, 128, o[0], I->bias16, NULL);
    case OP_GEMV_BF16_NF4: return bnbq_gemv_4bit(ex, BNBQ_NF4, BNBQ_BF16, I->xb, I->q, I->am, PGN, PGK, 64, o[0], NULL, bnbq_code_4bit(BNBQ_NF4));
    case OP_MM4_F16: return bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_F16, I->xh, I->q, I->am, PM, PGN, PGK, 64, o[0], I->bias16, NULL);
    case OP_MM4_BF16_ODD: return bnbq_matmul_4bit(ex, BNBQ_FP4, BNBQ_BF16, I->xb, I->q, I->am, 3, 101, 300, 64, o[0], NULL, NULL);
    case OP_MM4_F32_M1: return bnbq_matmul_4bit(ex, BNBQ_NF4, BNBQ_F32, I->xf, I->q, I->am, 1, PGN, PGK, 32, o[0], I->bias32, NULL);
    default: return BNBQ_ERROR_INVALID_ARGS;
    }
}

typedef struct out_set { unsigned char* o[4]; } out_set;
static out_set out_set_make(void)
{
    out_set s;
    int i;
    for (i = 0; i < 4; i++) { s.o[i] = (unsigned char*)xmalloc(OUTB); canary_fill(s.o[i], OUTB); }
    return s;
}
static void out_set_reset(out_set* s)
{
    int i;
    for (i = 0; i < 4; i++) canary_fill(s->o[i], OUTB);
}
static void out_set_free(out_set* s)
{
    int i;
    for (i = 0; i < 4; i++) free(s->o[i]);
}

static bnbq_backend g_empty_backend;   /* every slot NULL */

static void test_not_supported_backend(void)
{
    bnbq_exec ex;
    out_set s;
    int op;
    op_inputs_init();
    memset(&g_empty_backend, 0, sizeof g_empty_backend);
    g_empty_backend.name = "empty";
    MUST(bnbq_cpu_exec_init(&ex, NULL));
    ex.backend = &g_empty_backend;
    ex.logger.func = rec_logger;
    ex.logger.user_data = &g_log;
    s = out_set_make();
    for (op = 0; op < OP_COUNT; op++) {
        bnbq_result r;
        int i, intact = 1;
        log_reset();
        r = run_op(op, &ex, s.o);
        CHECK(r == BNBQ_ERROR_NOT_SUPPORTED, "%s on an empty backend: %s", k_op_names[op], RC(r));
        CHECK(g_log.n_error == 1, "%s NOT_SUPPORTED logged %d errors", k_op_names[op], g_log.n_error);
        for (i = 0; i < 4; i++) intact &= canary_intact(s.o[i], OUTB);
        CHECK(intact, "%s on an empty backend wrote its outputs", k_op_names[op]);
    }
    /* arguments are validated before the backend is called */
    log_reset();
    CHECK(bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, NULL, 64, 64, s.o[0], (float*)s.o[1]) ==
          BNBQ_ERROR_NULL_POINTER, "validation before NOT_SUPPORTED");
    out_set_free(&s);
}

static int g_fake_calls;
static bnbq_result fake_qb(bnbq_exec* ex, const float* code, bnbq_dtype dt, const void* x,
                           size_t n, int bs, uint8_t* q, float* am)
{
    (void)ex; (void)code; (void)dt; (void)x; (void)n; (void)bs; (void)q; (void)am;
    g_fake_calls++;
    return BNBQ_SUCCESS;
}
static void test_backend_dispatch(void)
{
    bnbq_backend be;
    bnbq_exec ex;
    float x[64], am[1];
    uint8_t q[64];
    memset(&be, 0, sizeof be);
    memset(x, 0, sizeof x);
    be.name = "fake";
    be.quantize_blockwise = fake_qb;
    MUST(bnbq_cpu_exec_init(&ex, NULL));
    ex.backend = &be;
    g_fake_calls = 0;
    CHECK(bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, x, 64, 64, q, am) == BNBQ_SUCCESS,
          "fake backend call");
    CHECK(g_fake_calls == 1, "backend slot called %d times", g_fake_calls);
    CHECK(bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, NULL, 64, 64, q, am) == BNBQ_ERROR_NULL_POINTER &&
          bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, x, 64, 48, q, am) == BNBQ_ERROR_BAD_BLOCKSIZE &&
          bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, x, SIZE_MAX, 64, q, am) == BNBQ_ERROR_OVERFLOW,
          "invalid arguments reached the backend or were not rejected");
    CHECK(g_fake_calls == 1, "backend called with invalid arguments (%d calls)", g_fake_calls);
    CHECK(bnbq_dequantize_blockwise(&ex, NULL, BNBQ_F32, q, am, 64, 64, x) == BNBQ_ERROR_NOT_SUPPORTED,
          "NULL slot -> NOT_SUPPORTED");
}

typedef struct pf_state { int mode; long calls; long ranges; } pf_state;
static void test_parallel_for(void* user, bnbq_range_fn fn, void* task, size_t count)
{
    pf_state* s = (pf_state*)user;
    s->calls++;
    if (count == 0) return;
    if (s->mode == 0) {             /* up to 7 uneven ranges, last first */
        size_t parts = count < 7 ? count : 7, b[8], i;
        for (i = 0; i <= parts; i++) b[i] = (size_t)((double)count * (double)(i * i) / (double)(parts * parts));
        b[parts] = count;
        for (i = parts; i-- > 0;)
            if (b[i] < b[i + 1]) { s->ranges++; fn(task, b[i], b[i + 1]); }
    } else {                        /* one item per range */
        size_t i;
        for (i = 0; i < count; i++) { s->ranges++; fn(task, i, i + 1); }
    }
}

static void test_parallel_identical(void)
{
    bnbq_exec ex[2];
    bnbq_cpu_desc d;
    pf_state st[2];
    out_set ref, got;
    int op, m, n_unused = 0;
    char unused[1024] = "";
    op_inputs_init();
    for (m = 0; m < 2; m++) {
        memset(&st[m], 0, sizeof st[m]);
        st[m].mode = m;
        memset(&d, 0, sizeof d);
        d.parallel_for = test_parallel_for;
        d.parallel_for_user_data = &st[m];
        d.logger.func = rec_logger;
        d.logger.user_data = &g_log;
        MUST(bnbq_cpu_exec_init(&ex[m], &d));
    }
    ref = out_set_make();
    got = out_set_make();
    for (op = 0; op < OP_COUNT; op++) {
        bnbq_result r0;
        out_set_reset(&ref);
        r0 = run_op(op, NULL, ref.o);
        CHECK(r0 == BNBQ_SUCCESS, "%s (ex=NULL): %s", k_op_names[op], RC(r0));
        for (m = 0; m < 2; m++) {
            bnbq_result r1;
            long calls0 = st[m].calls;
            int i, same = 1;
            out_set_reset(&got);
            log_reset();
            r1 = run_op(op, &ex[m], got.o);
            CHECK(r1 == r0, "%s (parallel mode %d): %s", k_op_names[op], m, RC(r1));
            CHECK(g_log.n_error == 0, "%s (parallel mode %d) logged an error: %s", k_op_names[op],
                  m, g_log.last_msg);
            for (i = 0; i < 4; i++) same &= memcmp(ref.o[i], got.o[i], OUTB) == 0;
            CHECK(same, "%s: parallel mode %d output differs from ex=NULL", k_op_names[op], m);
            if (m == 0 && op != OP_NESTED_OFFSET && st[m].calls == calls0) {
                /* collected into one message below */
                size_t len = strlen(unused);
                snprintf(unused + len, sizeof unused - len, "%s%s", len ? ", " : "",
                         k_op_names[op]);
                n_unused++;
            }
        }
    }
    CHECK(n_unused == 0, "%d operations never called the parallel-for callback: %s", n_unused,
          unused);
    CHECK(st[0].ranges > st[0].calls, "mode 0 never split (%ld ranges, %ld calls)", st[0].ranges,
          st[0].calls);
    out_set_free(&ref);
    out_set_free(&got);
}

/* CPU operations never allocate through the exec's allocator (STYLE 15). */
static void test_no_allocation(void)
{
    bnbq_exec ex;
    bnbq_cpu_desc d;
    alloc_rec ar;
    out_set s;
    int op;
    op_inputs_init();
    memset(&ar, 0, sizeof ar);
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = rec_alloc;
    d.allocator.free_fn = rec_free;
    d.allocator.user_data = &ar;
    MUST(bnbq_cpu_exec_init(&ex, &d));
    s = out_set_make();
    for (op = 0; op < OP_COUNT; op++) {
        int before = ar.n_alloc;
        bnbq_result r = run_op(op, &ex, s.o);
        CHECK(r == BNBQ_SUCCESS, "%s: %s", k_op_names[op], RC(r));
        CHECK(ar.n_alloc == before, "%s allocated %d times", k_op_names[op], ar.n_alloc - before);
    }
    CHECK(ar.n_alloc == ar.n_free, "allocations %d, frees %d", ar.n_alloc, ar.n_free);
    out_set_free(&s);
    bnbq_exec_uninit(&ex);
}

/* ------------------------------------------------------------------------------------------ */

typedef struct test_def { const char* name; void (*fn)(void); } test_def;
static const test_def k_tests[] = {
    { "result_names", test_result_names },
    { "dtypes", test_dtypes },
    { "exec_init", test_exec_init },
    { "logger", test_logger },
    { "convert_f16", test_convert_f16 },
    { "convert_bf16", test_convert_bf16 },
    { "convert_array", test_convert_array },
    { "code_dynamic", test_code_dynamic },
    { "code_few_bit", test_code_few_bit },
    { "code_tables", test_code_tables },
    { "sizes", test_sizes },
    { "q8_bars_randn", test_q8_bars_randn },
    { "q8_bars_uniform", test_q8_bars_uniform },
    { "q8_cpu_large_blocksize", test_q8_cpu_large },
    { "q4_bars", test_q4_bars },
    { "q4_compressed_stats", test_q4_compressed_stats },
    { "global_bars", test_global_bars },
    { "exact_midpoints", test_exact_midpoints },
    { "code_index_literal", test_code_index_literal },
    { "exact_zero_blocks", test_exact_zero_blocks },
    { "exact_4bit_thresholds", test_exact_4bit_thresholds },
    { "exact_4bit_odd_length", test_exact_4bit_odd },
    { "exact_nan", test_exact_nan },
    { "exact_fp4_negative_zero", test_exact_fp4_negzero },
    { "exact_int8_mm_dequant", test_exact_mm_dequant },
    { "gemv_eye_4bit", test_gemv_eye },
    { "roundtrip_idempotent", test_roundtrip_idempotent },
    { "matmul4_m1_is_gemv", test_matmul4_m1_is_gemv },
    { "matmul4_vs_double", test_matmul4_vs_double },
    { "gemv4_bars", test_gemv_bars },
    { "int8_linear_matmul", test_int8_linear_matmul },
    { "int8_vectorwise", test_int8_vectorwise },
    { "nested_roundtrip", test_nested_roundtrip },
    { "switchback_formulas", test_switchback_formulas },
    { "errors_blockwise", test_errors_blockwise },
    { "errors_4bit", test_errors_4bit },
    { "errors_nested_global_convert", test_errors_nested_global_convert },
    { "errors_int8", test_errors_int8 },
    { "errors_switchback", test_errors_switchback },
    { "errors_gemv_matmul", test_errors_gemv },
    { "errors_formats", test_errors_formats },
    { "errors_misaligned_code", test_errors_misaligned_code },
    { "not_supported_backend", test_not_supported_backend },
    { "backend_dispatch", test_backend_dispatch },
    { "parallel_for_identical", test_parallel_identical },
    { "no_allocation", test_no_allocation },
};

int main(int argc, char** argv)
{
    size_t i;
    int a, show_time = 0, nfilters = 0;
    bnbq_cpu_desc d;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) g_quick = 1;
        else if (strcmp(argv[a], "--time") == 0) show_time = 1;
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
        printf("FAIL setup: bnbq_cpu_exec_init\n0 passed, 1 failed\n");
        return 1;
    }
    for (i = 0; i < sizeof k_tests / sizeof k_tests[0]; i++) {
        test_ctx ctx;
        clock_t t0;
        if (nfilters) {
            int match = 0;
            for (a = 1; a < argc; a++)
                if (argv[a][0] != '-' && strstr(k_tests[i].name, argv[a])) match = 1;
            if (!match) continue;
        }
        memset(&ctx, 0, sizeof ctx);
        ctx.name = k_tests[i].name;
        T = &ctx;
        t0 = clock();
        k_tests[i].fn();
        if (ctx.fails == 0 && ctx.checks > 0) {
            g_passed++;
            printf("ok %s", ctx.name);
        } else {
            g_failed++;
            if (ctx.checks == 0) snprintf(ctx.first, sizeof ctx.first, "no checks ran");
            printf("FAIL %s: %s", ctx.name, ctx.first);
            if (ctx.fails > 1) printf(" (%ld of %ld checks failed)", ctx.fails, ctx.checks);
        }
        if (show_time) printf("  [%ld checks, %.2f s]", ctx.checks, (double)(clock() - t0) / CLOCKS_PER_SEC);
        printf("\n");
        fflush(stdout);
    }
    T = NULL;
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
