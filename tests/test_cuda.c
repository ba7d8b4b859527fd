/* test_cuda.c - tests of bnbq_cuda.h that need no GPU: the driver loader (missing, stub and fake
   libcuda), NVRTC discovery, the disk cache (corrupt, truncated, foreign, racing entries), precompile
   with the real NVRTC, and the context / module table / cache machinery against a fake driver
   (tests/fake_libcuda.c) that checks the images bnbq loads and counts what it takes and releases.

   build/test_cuda --list          the scenario names
   build/test_cuda SCENARIO        runs one scenario and prints one line:
                                   "ok NAME[: detail]", "FAIL NAME: reason" (more reasons follow as
                                   "#" lines) or "skip NAME: reason"
   tests/test_cuda.sh runs every scenario in its own process (bnbq loads libcuda and NVRTC once per
   process, so each loader scenario needs a fresh one) and prints "N passed, N failed[, N skipped]".

   The fake libraries come from the environment (the script builds them):
       BNBQ_TEST_FAKE_CUDA         fake driver exporting every symbol bnbq resolves
       BNBQ_TEST_FAKE_CUINIT_ONLY  fake driver exporting only cuInit
       BNBQ_TEST_STUB_CUDA         the CUDA toolkit's stub libcuda.so (scenario skipped if unset)
   Temporary directories are made under $TMPDIR (default /tmp) and removed. -v prints every log
   line bnbq emits. The static functions of bnbq_cuda.h's cache are called directly (same
   translation unit). */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#define BNBQ_PTHREADS   /* bnbq_thread_pool: precompile-sm90 compiles on two threads */
#include "bnbq_cuda.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rm_tree.h"

#include "bad_input.h"

/* ---- framework ------------------------------------------------------------------------------ */

static const char* g_name;
static int g_checks, g_fails, g_shown, g_skipped, g_verbose;
static int g_quick;   /* --quick: leave out whole-table NVRTC compilations (the sanitizer pass) */
static char g_first[700], g_skip_reason[300], g_detail[400];

static void check_impl(int ok, int line, const char* fmt, ...) {
    char msg[600];
    va_list ap;
    g_checks++;
    if (ok) return;
    g_fails++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_fails == 1) snprintf(g_first, sizeof g_first, "line %d: %s", line, msg);
    else if (g_shown++ < 12) printf("#   %s line %d: %s\n", g_name, line, msg);
}
#define CHECK(cond, ...) check_impl((cond) ? 1 : 0, __LINE__, __VA_ARGS__)

static void skip(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_skip_reason, sizeof g_skip_reason, fmt, ap);
    va_end(ap);
    g_skipped = 1;
}

/* a short note printed after "ok NAME: " */
static void detail(const char* fmt, ...) {
    va_list ap;
    size_t l = strlen(g_detail);
    if (l && l + 3 < sizeof g_detail) { strcat(g_detail, "; "); l += 2; }
    va_start(ap, fmt);
    vsnprintf(g_detail + l, sizeof g_detail - l, fmt, ap);
    va_end(ap);
}

/* the logger: counts per level, keeps the lines */
#define LOG_MAX 128
static struct {
    int  n[4];
    int  count;
    char line[LOG_MAX][560];
    int  level[LOG_MAX];
} g_log;

/* (a lock: bnbq_cuda_precompile's pool threads may log at once) */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static void rec_logger(void* user, bnbq_log_level level, const char* func, const char* msg) {
    static const char* names[4] = { "ERROR", "WARN", "INFO", "DEBUG" };
    (void)user;
    pthread_mutex_lock(&g_log_mu);
    if ((int)level >= 0 && (int)level < 4) g_log.n[level]++;
    if (g_log.count < LOG_MAX) {
        snprintf(g_log.line[g_log.count], sizeof g_log.line[0], "%s %s: %s",
                 (int)level >= 0 && (int)level < 4 ? names[level] : "?", func, msg);
        g_log.level[g_log.count] = (int)level;
        g_log.count++;
    }
    if (g_verbose) printf("    log %s %s: %s\n", (int)level < 4 ? names[level] : "?", func, msg);
    pthread_mutex_unlock(&g_log_mu);
}
static void log_reset(void) { memset(&g_log, 0, sizeof g_log); }
/* the first line of `level` (or any level if < 0) containing all of the given substrings */
static const char* log_find(int level, const char* a, const char* b) {
    int i;
    for (i = 0; i < g_log.count; i++)
        if ((level < 0 || g_log.level[i] == level) && strstr(g_log.line[i], a) &&
            (!b || strstr(g_log.line[i], b)))
            return g_log.line[i];
    return NULL;
}
static const char* log_first(int level) {
    int i;
    for (i = 0; i < g_log.count; i++)
        if (g_log.level[i] == level) return g_log.line[i];
    return "(none)";
}

static bnbq_logger test_logger(void) {
    bnbq_logger l;
    l.func = rec_logger;
    l.user_data = NULL;
    return l;
}

/* bnbq_cuda_precompile(pd) on a pool of two threads (pd->parallel_for); *wall: its wall seconds.
   Returns 0 (and compiles nothing) when the pool cannot be started. */
static int precompile_on_two_threads(bnbq_cuda_precompile_desc* pd, bnbq_cuda_precompile_report* rep,
                                     bnbq_result* r, double* wall) {
    bnbq_thread_pool* pool = NULL;
    double t0;
    if (bnbq_thread_pool_create(2, &pool) != BNBQ_SUCCESS) return 0;
    pd->parallel_for = bnbq_thread_pool_parallel_for;
    pd->parallel_for_user_data = pool;
    log_reset();
    t0 = bnbq__now();
    *r = bnbq_cuda_precompile(pd, rep);
    *wall = bnbq__now() - t0;
    bnbq_thread_pool_destroy(pool);
    pd->parallel_for = NULL;
    pd->parallel_for_user_data = NULL;
    return 1;
}

/* ---- files ---------------------------------------------------------------------------------- */

static char g_tmp[8][512];
static int g_ntmp;

static const char* make_tmpdir(void) {
    const char* base = getenv("TMPDIR");
    char* p;
    if (!base || !*base) base = "/tmp";
    if (g_ntmp >= 8) return NULL;
    snprintf(g_tmp[g_ntmp], sizeof g_tmp[0], "%s/bnbq_test_cuda_XXXXXX", base);
    p = mkdtemp(g_tmp[g_ntmp]);
    if (!p) return NULL;
    return g_tmp[g_ntmp++];
}


static unsigned char* read_whole(const char* path, size_t* len) {
    FILE* f = fopen(path, "rb");
    unsigned char* b;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    b = (unsigned char*)malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

static int write_whole(const char* path, const void* data, size_t len) {
    FILE* f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0) ok = 0;
    return ok;
}

/* files in dir whose name ends with suffix ("" = all); *other = files that do not */
static int count_files(const char* dir, const char* suffix, int* other) {
    DIR* d = opendir(dir);
    struct dirent* e;
    int n = 0, o = 0;
    size_t sl = strlen(suffix);
    if (!d) { if (other) *other = 0; return -1; }
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (l >= sl && !strcmp(e->d_name + l - sl, suffix)) n++;
        else o++;
    }
    closedir(d);
    if (other) *other = o;
    return n;
}

static int file_exists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- the cache key the runtime computes for a variant ---------------------------------------- */

/* The key and file path of kernel `kernel` of variant (unit, defines) built for arch as cubin or
   PTX, exactly as bnbq__cu_load_kernel computes them. Returns 0 on success. */
static int runtime_key(const char* unit, const char* defines, const char* kernel, int arch, int ptx,
                       const char* dir, char* key, size_t key_cap, char* path, size_t path_cap) {
    char opt_buf[1024], name[40];
    const char* opts[24];
    uint64_t h = 0;
    size_t len = 0;
    int nopts;
    if (bnbq__cu_text_hash(unit, &h, &len) != 0) return -1;
    nopts = bnbq__cu_options(defines, kernel, arch, ptx, opt_buf, sizeof opt_buf, opts, 24);
    if (nopts < 0 || bnbq__cu_key(unit, kernel, h, len, opts, nopts, arch, ptx, key, key_cap) != 0) return -1;
    bnbq__cache_name(key, name);
    snprintf(path, path_cap, "%s/%s.bnbqk", dir, name);
    return 0;
}

/* The kernels variant (unit, defines) defines for arch (bnbq's own listing); -1 on failure. */
static int variant_kernels(const bnbq__cu_variant* var, int arch, const char** out, int max) {
    char* program = bnbq__cu_program_text(var->unit);
    int n;
    if (!program) return -1;
    n = bnbq__cu_list_kernels(NULL, var->unit, var->defines, arch, program, out, max, NULL);
    free(program);
    return n;
}

/* ---- environment ---------------------------------------------------------------------------- */

static const char* fake_cuda(void) {
    const char* p = getenv("BNBQ_TEST_FAKE_CUDA");
    return (p && *p) ? p : NULL;
}

static int nvrtc_loaded(void) {
    int v = 0;
    return bnbq_cuda_nvrtc_version(NULL, &v) == BNBQ_SUCCESS && v > 0;
}

/* 1 when this process can open a real driver by its soname */
static int real_driver_present(void) {
    void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h) dlclose(h);
    return h != NULL;
}

/* the fake's counters: allocations, modules, streams, events, retains, depth, launches, loads */
enum { FS_ALLOCS, FS_MODULES, FS_STREAMS, FS_EVENTS, FS_RETAINS, FS_DEPTH, FS_LAUNCHES, FS_LOADS,
       FS_MAXDEPTH, FS_FUNCLOADS, FS_LAUNCH_EX, FS_TMAPS, FS_N };
static int fake_stats(int* out) {
    typedef void (*stats_fn)(int*, int);
    void* h;
    void* sym;
    stats_fn fn;
    memset(out, 0, FS_N * sizeof(int));
    if (!fake_cuda()) return 0;
    h = dlopen(fake_cuda(), RTLD_NOW | RTLD_LOCAL);   /* the same handle bnbq opened */
    if (!h) return 0;
    sym = dlsym(h, "bnbq_fake_stats");
    if (!sym) { dlclose(h); return 0; }
    memcpy(&fn, &sym, sizeof fn);
    fn(out, FS_N);
    dlclose(h);
    return 1;
}

/* a fake-driver context on cache_dir (NULL: disk cache off) */
static bnbq_result fake_init(const char* cache_dir, int disable_nvrtc, bnbq_cuda** out) {
    bnbq_cuda_desc d;
    memset(&d, 0, sizeof d);
    d.libcuda_path = fake_cuda();
    d.cache_dir = cache_dir;
    d.disable_disk_cache = cache_dir == NULL;
    d.disable_nvrtc = disable_nvrtc;
    d.logger = test_logger();
    return bnbq_cuda_init(&d, out);
}

/* bnbq_convert F32 -> F16 of n elements on the context's device */
static bnbq_result fake_convert(bnbq_cuda* ctx, size_t n) {
    bnbq_exec ex;
    void *src = NULL, *dst = NULL;
    bnbq_result r = bnbq_cuda_exec_init(ctx, NULL, &ex);
    if (r != BNBQ_SUCCESS) return r;
    r = bnbq_cuda_malloc(ctx, n * 4, &src);
    if (r == BNBQ_SUCCESS) r = bnbq_cuda_malloc(ctx, n * 2, &dst);
    if (r == BNBQ_SUCCESS) r = bnbq_cuda_memset(&ex, src, 0, n * 4);
    if (r == BNBQ_SUCCESS) r = bnbq_convert(&ex, BNBQ_F32, src, n, BNBQ_F16, dst);
    if (r == BNBQ_SUCCESS) r = bnbq_cuda_synchronize(&ex);
    bnbq_cuda_free(ctx, src);
    bnbq_cuda_free(ctx, dst);
    bnbq_exec_uninit(&ex);
    return r;
}

static bnbq_cuda_stats stats_of(bnbq_cuda* ctx) {
    bnbq_cuda_stats s;
    memset(&s, 0, sizeof s);
    bnbq_cuda_stats_get(ctx, &s);
    return s;
}

/* ================================================================================================ */
/* loader                                                                                          */

static void t_loader_nowhere(void) {
    bnbq_cuda_desc d;
    bnbq_cuda* ctx = (bnbq_cuda*)&d;   /* must be overwritten with NULL */
    bnbq_result r;
    const char* path = "/nonexistent/bnbq/libcuda.so.1";
    memset(&d, 0, sizeof d);
    d.libcuda_path = path;
    d.logger = test_logger();
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(log_find(BNBQ_LOG_INFO, "cannot open", path) != NULL, "no INFO line says %s cannot be opened", path);
    if (real_driver_present()) {
        /* bnbq falls back to libcuda.so.1 after an explicit path it cannot open (documented:
           LIBRARY SEARCH): with a real driver here, the result is whatever that driver gives. */
        CHECK(r != BNBQ_ERROR_NO_DRIVER, "a real libcuda.so.1 is here, yet %s", bnbq_result_name(r));
        detail("a real libcuda.so.1 is present: bnbq fell back to it (%s)", bnbq_result_name(r));
        bnbq_cuda_uninit(r == BNBQ_SUCCESS ? ctx : NULL);
        return;
    }
    CHECK(r == BNBQ_ERROR_NO_DRIVER, "got %s", bnbq_result_name(r));
    CHECK(ctx == NULL, "*out_ctx not set to NULL on failure");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "%d ERROR lines (want 1)", g_log.n[BNBQ_LOG_ERROR]);
    CHECK(log_find(BNBQ_LOG_ERROR, path, NULL) != NULL, "the ERROR line does not name the path: %s",
          log_first(BNBQ_LOG_ERROR));
    /* nothing is cached on failure: a second attempt reports the same */
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_ERROR_NO_DRIVER && g_log.n[BNBQ_LOG_ERROR] == 1, "second init: %s, %d ERROR lines",
          bnbq_result_name(r), g_log.n[BNBQ_LOG_ERROR]);
    /* the default search (no path) finds no driver here either */
    d.libcuda_path = NULL;
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_ERROR_NO_DRIVER && g_log.n[BNBQ_LOG_ERROR] == 1, "default search: %s, %d ERROR lines",
          bnbq_result_name(r), g_log.n[BNBQ_LOG_ERROR]);
    detail("NO_DRIVER, one ERROR line: %s", log_first(BNBQ_LOG_ERROR));
}

static void t_loader_stub(void) {
    const char* stub = getenv("BNBQ_TEST_STUB_CUDA");
    bnbq_cuda_desc d;
    bnbq_cuda* ctx = NULL;
    bnbq_result r;
    if (!stub || !*stub || !file_exists(stub)) {
        skip("the CUDA toolkit's stub libcuda.so was not found (BNBQ_TEST_STUB_CUDA)");
        return;
    }
    memset(&d, 0, sizeof d);
    d.libcuda_path = stub;
    d.logger = test_logger();
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_ERROR_NO_DRIVER, "got %s", bnbq_result_name(r));
    CHECK(ctx == NULL, "*out_ctx not NULL");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "%d ERROR lines (want 1)", g_log.n[BNBQ_LOG_ERROR]);
    CHECK(log_find(BNBQ_LOG_ERROR, "stub", NULL) != NULL, "the ERROR line does not say stub: %s",
          log_first(BNBQ_LOG_ERROR));
    detail("%s", log_first(BNBQ_LOG_ERROR));
}

static void t_loader_too_old(void) {
    const char* fake = getenv("BNBQ_TEST_FAKE_CUINIT_ONLY");
    bnbq_cuda_desc d;
    bnbq_cuda* ctx = NULL;
    bnbq_result r;
    const char* missing = NULL;
    void* h;
    if (!fake || !*fake) { skip("BNBQ_TEST_FAKE_CUINIT_ONLY is not set"); return; }
    /* the first required symbol of bnbq's table that the fake lacks (in table order) */
    h = dlopen(fake, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL, "cannot open %s: %s", fake, dlerror());
    if (!h) return;
#define FIND_MISSING(name, sym, req, ret, params) \
    if (!missing && req && !dlsym(h, sym)) missing = sym;
    BNBQ__CU_FUNCS(FIND_MISSING)
#undef FIND_MISSING
    dlclose(h);
    CHECK(missing != NULL, "the cuInit-only fake has every symbol?");
    memset(&d, 0, sizeof d);
    d.libcuda_path = fake;
    d.logger = test_logger();
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_ERROR_DRIVER_TOO_OLD, "got %s", bnbq_result_name(r));
    CHECK(ctx == NULL, "*out_ctx not NULL");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "%d ERROR lines (want 1)", g_log.n[BNBQ_LOG_ERROR]);
    CHECK(missing && log_find(BNBQ_LOG_ERROR, missing, NULL) != NULL,
          "the ERROR line does not name %s: %s", missing ? missing : "?", log_first(BNBQ_LOG_ERROR));
    detail("%s", log_first(BNBQ_LOG_ERROR));
}

/* every driver symbol bnbq resolves is exported by the fake (keeps the fake honest) */
static void t_fake_complete(void) {
    void* h;
    int n = 0;
    if (!fake_cuda()) { skip("BNBQ_TEST_FAKE_CUDA is not set"); return; }
    h = dlopen(fake_cuda(), RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL, "cannot open %s", fake_cuda());
    if (!h) return;
#define CHECK_SYM(name, sym, req, ret, params) \
    n++; CHECK(dlsym(h, sym) != NULL, "the fake driver lacks %s", sym);
    BNBQ__CU_FUNCS(CHECK_SYM)
    BNBQ__CU_FUNCS_OPT(CHECK_SYM)
#undef CHECK_SYM
    dlclose(h);
    detail("%d symbols", n);
}

/* the fake driver's cuInit returns `code`, or it reports `devices` devices */
static void loader_fake_case(const char* init_code, const char* devices, int device_index,
                             bnbq_result want, const char* want_text) {
    bnbq_cuda_desc d;
    bnbq_cuda* ctx = NULL;
    bnbq_result r;
    setenv("FAKE_CUDA_INIT", init_code, 1);
    setenv("FAKE_CUDA_DEVICES", devices, 1);
    memset(&d, 0, sizeof d);
    d.libcuda_path = fake_cuda();
    d.device_index = device_index;
    d.logger = test_logger();
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == want, "cuInit %s, %s devices, device %d: got %s, want %s", init_code, devices,
          device_index, bnbq_result_name(r), bnbq_result_name(want));
    CHECK(ctx == NULL, "*out_ctx not NULL on failure");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "cuInit %s, %s devices: %d ERROR lines (want 1)", init_code,
          devices, g_log.n[BNBQ_LOG_ERROR]);
    CHECK(log_find(BNBQ_LOG_ERROR, want_text, NULL) != NULL, "cuInit %s: the ERROR line lacks '%s': %s",
          init_code, want_text, log_first(BNBQ_LOG_ERROR));
}

static void t_loader_fake_codes(void) {
    int fs[FS_N];
    if (!fake_cuda()) { skip("BNBQ_TEST_FAKE_CUDA is not set"); return; }
    loader_fake_case("100", "1", 0, BNBQ_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE");
    loader_fake_case("35", "1", 0, BNBQ_ERROR_DRIVER_TOO_OLD, "CUDA_ERROR_INSUFFICIENT_DRIVER");
    loader_fake_case("34", "1", 0, BNBQ_ERROR_NO_DRIVER, "stub");
    loader_fake_case("999", "1", 0, BNBQ_ERROR_CUDA, "cuInit");
    loader_fake_case("0", "0", 0, BNBQ_ERROR_NO_DEVICE, "0 found");
    loader_fake_case("0", "2", 2, BNBQ_ERROR_NO_DEVICE, "no CUDA device 2");
    /* a failed init takes nothing: no primary context retained */
    fake_stats(fs);
    CHECK(fs[FS_RETAINS] == 0 && fs[FS_DEPTH] == 0, "after failed inits: %d retains, depth %d",
          fs[FS_RETAINS], fs[FS_DEPTH]);
    detail("cuInit 100 -> NO_DEVICE, 35 -> DRIVER_TOO_OLD, 34 -> NO_DRIVER, 999 -> CUDA, "
           "0 devices -> NO_DEVICE, index 2 of 2 -> NO_DEVICE");
}


static void* only_alloc(void* user, size_t bytes) { (void)user; return malloc(bytes); }
static void only_free(void* user, void* p) { (void)user; free(p); }

/* NULL pointers, half allocators, negative device index and NULL contexts: result codes, no crash */
static void t_api_null(void) {
    bnbq_cuda_desc d;
    bnbq_cuda* ctx = (bnbq_cuda*)&d;
    bnbq_cuda_desc qd;
    bnbq_cuda_device_info info;
    bnbq_cuda_stats st;
    bnbq_exec cpu, ex;
    bnbq_cuda_precompile_desc pd;
    bnbq_cuda_precompile_report rep;
    void* p = &d;
    float ms = 0.0f;
    int arch = 90;
    memset(&d, 0, sizeof d);
    CHECK(bnbq_cuda_init(&d, NULL) == BNBQ_ERROR_NULL_POINTER, "init(desc, NULL)");
    CHECK(bnbq_cuda_init(NULL, NULL) == BNBQ_ERROR_NULL_POINTER, "init(NULL, NULL)");
    /* half an allocator: INVALID_ARGS with one ERROR line, before any library is touched */
    d.logger = test_logger();
    d.allocator.alloc_fn = only_alloc;
    log_reset();
    CHECK(bnbq_cuda_init(&d, &ctx) == BNBQ_ERROR_INVALID_ARGS, "only alloc_fn set");
    CHECK(ctx == NULL, "*out_ctx not NULL after INVALID_ARGS");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "only alloc_fn: %d ERROR lines", g_log.n[BNBQ_LOG_ERROR]);
    d.allocator.alloc_fn = NULL;
    d.allocator.free_fn = only_free;
    log_reset();
    CHECK(bnbq_cuda_init(&d, &ctx) == BNBQ_ERROR_INVALID_ARGS, "only free_fn set");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "only free_fn: %d ERROR lines", g_log.n[BNBQ_LOG_ERROR]);
    d.allocator.free_fn = NULL;
    d.device_index = -1;
    log_reset();
    CHECK(bnbq_cuda_init(&d, &ctx) == BNBQ_ERROR_INVALID_ARGS, "device_index -1");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "device_index -1: %d ERROR lines", g_log.n[BNBQ_LOG_ERROR]);
    /* NULL contexts and outputs */
    bnbq_cuda_uninit(NULL);
    CHECK(bnbq_cuda_query_desc(NULL, &qd) == BNBQ_ERROR_NULL_POINTER, "query_desc(NULL)");
    CHECK(bnbq_cuda_query_device(NULL, &info) == BNBQ_ERROR_NULL_POINTER, "query_device(NULL)");
    CHECK(bnbq_cuda_stats_get(NULL, &st) == BNBQ_ERROR_NULL_POINTER, "stats_get(NULL)");
    CHECK(bnbq_cuda_finish_compiles(NULL) == BNBQ_ERROR_NULL_POINTER, "finish_compiles(NULL)");
    CHECK(bnbq_cuda_exec_init(NULL, NULL, &ex) == BNBQ_ERROR_NULL_POINTER, "exec_init(NULL)");
    CHECK(bnbq_cuda_malloc(NULL, 16, &p) == BNBQ_ERROR_NULL_POINTER, "malloc(NULL)");
    CHECK(bnbq_cuda_free(NULL, p) == BNBQ_ERROR_NULL_POINTER, "free(NULL)");
    CHECK(bnbq_cuda_stream_create(NULL, &p) == BNBQ_ERROR_NULL_POINTER, "stream_create(NULL)");
    CHECK(bnbq_cuda_stream_destroy(NULL, p) == BNBQ_ERROR_NULL_POINTER, "stream_destroy(NULL)");
    CHECK(bnbq_cuda_event_create(NULL, &p) == BNBQ_ERROR_NULL_POINTER, "event_create(NULL)");
    CHECK(bnbq_cuda_event_destroy(NULL, p) == BNBQ_ERROR_NULL_POINTER, "event_destroy(NULL)");
    CHECK(bnbq_cuda_event_elapsed_ms(NULL, p, p, &ms) == BNBQ_ERROR_NULL_POINTER, "elapsed(NULL)");
    /* CPU execs and NULL execs are not CUDA execs */
    CHECK(bnbq_cpu_exec_init(&cpu, NULL) == BNBQ_SUCCESS, "cpu exec");
    CHECK(bnbq_cuda_memcpy(NULL, p, p, 4, BNBQ_COPY_HOST_TO_DEVICE) == BNBQ_ERROR_INVALID_ARGS, "memcpy(NULL ex)");
    CHECK(bnbq_cuda_memcpy(&cpu, p, p, 4, BNBQ_COPY_HOST_TO_DEVICE) == BNBQ_ERROR_INVALID_ARGS, "memcpy(CPU ex)");
    CHECK(bnbq_cuda_memset(&cpu, p, 0, 4) == BNBQ_ERROR_INVALID_ARGS, "memset(CPU ex)");
    CHECK(bnbq_cuda_synchronize(NULL) == BNBQ_ERROR_INVALID_ARGS, "synchronize(NULL)");
    CHECK(bnbq_cuda_synchronize(&cpu) == BNBQ_ERROR_INVALID_ARGS, "synchronize(CPU ex)");
    CHECK(bnbq_cuda_event_record(&cpu, p) == BNBQ_ERROR_INVALID_ARGS, "event_record(CPU ex)");
    /* precompile and nvrtc_version argument checks */
    CHECK(bnbq_cuda_precompile(NULL, &rep) == BNBQ_ERROR_NULL_POINTER, "precompile(NULL)");
    memset(&pd, 0, sizeof pd);
    pd.logger = test_logger();
    log_reset();
    CHECK(bnbq_cuda_precompile(&pd, &rep) == BNBQ_ERROR_INVALID_ARGS, "precompile without archs");
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "precompile without archs: %d ERROR lines", g_log.n[BNBQ_LOG_ERROR]);
    pd.archs = &arch;
    pd.num_archs = 0;
    CHECK(bnbq_cuda_precompile(&pd, NULL) == BNBQ_ERROR_INVALID_ARGS, "precompile with num_archs 0");
    CHECK(bnbq_cuda_nvrtc_version(NULL, NULL) == BNBQ_ERROR_NULL_POINTER, "nvrtc_version(NULL)");
    bnbq_exec_uninit(&cpu);
}

/* ================================================================================================ */
/* NVRTC discovery                                                                                 */

static void t_nvrtc_version(void) {
    int v = 0;
    bnbq_result r = bnbq_cuda_nvrtc_version(NULL, &v);
    CHECK(r == BNBQ_SUCCESS, "the standard search finds no NVRTC: %s (set BNBQ_NVRTC_PATH or "
          "install the CUDA toolkit's NVRTC)", bnbq_result_name(r));
    if (r != BNBQ_SUCCESS) return;
    CHECK(v >= 11020 && v < 100000, "implausible version %d", v);
    CHECK(bnbq__cuda_global.nvrtc.num_archs > 0, "no architectures listed");
    detail("NVRTC %d.%d (%d) from %s, %d architectures (%d..%d)", v / 1000, (v % 1000) / 10, v,
           bnbq__cuda_global.nvrtc.path, bnbq__cuda_global.nvrtc.num_archs,
           bnbq__cuda_global.nvrtc.archs[0],
           bnbq__cuda_global.nvrtc.archs[bnbq__cuda_global.nvrtc.num_archs - 1]);
}

/* An explicit path that cannot be opened is skipped without a word; the standard search goes on. */
static void t_nvrtc_bogus(void) {
    int v = 0, v2 = 0;
    char first[512];
    bnbq_result r = bnbq_cuda_nvrtc_version("/nonexistent/bnbq/libnvrtc.so.99", &v);
    CHECK(r == BNBQ_SUCCESS, "bogus explicit path: %s (the standard search should still run)",
          bnbq_result_name(r));
    if (r != BNBQ_SUCCESS) return;
    CHECK(strcmp(bnbq__cuda_global.nvrtc.path, "/nonexistent/bnbq/libnvrtc.so.99") != 0,
          "the bogus path is recorded as loaded");
    snprintf(first, sizeof first, "%s", bnbq__cuda_global.nvrtc.path);
    /* loaded once per process: a later explicit path (even a valid-looking one) is not opened */
    r = bnbq_cuda_nvrtc_version("/another/libnvrtc.so", &v2);
    CHECK(r == BNBQ_SUCCESS && v2 == v, "second call: %s, version %d vs %d", bnbq_result_name(r), v2, v);
    CHECK(strcmp(bnbq__cuda_global.nvrtc.path, first) == 0, "the loaded library changed");
    detail("skipped silently, loaded %s (NVRTC %d); later paths are ignored once loaded", first, v);
}

/* BNBQ_NVRTC_PATH pointing nowhere: the search goes on. Where the environment named the NVRTC to
   use (CI's NVRTC from PyPI), that path is given explicitly instead, which comes first. */
static void t_nvrtc_env(void) {
    int v = 0;
    bnbq_result r;
    char orig[1024] = "";
    const char* e = getenv("BNBQ_NVRTC_PATH");
    if (e && *e) snprintf(orig, sizeof orig, "%s", e);
    setenv("BNBQ_NVRTC_PATH", "/nonexistent/bnbq/libnvrtc.so.99", 1);
    r = bnbq_cuda_nvrtc_version(orig[0] ? orig : NULL, &v);
    CHECK(r == BNBQ_SUCCESS, "BNBQ_NVRTC_PATH pointing nowhere%s: %s", orig[0] ? " with an explicit path" : "",
          bnbq_result_name(r));
    if (r == BNBQ_SUCCESS)
        detail("BNBQ_NVRTC_PATH=/nonexistent/...: loaded %s (%s)", bnbq__cuda_global.nvrtc.path,
               orig[0] ? "the explicit path" : "the standard search");
}

/* a library that is not NVRTC (the fake driver) given as nvrtc_path: one WARN line, then the
   standard search; seen through a context's logger (needs the fake driver) */
static void t_nvrtc_not_nvrtc(void) {
    bnbq_cuda_desc d;
    bnbq_cuda* ctx = NULL;
    bnbq_result r;
    if (!fake_cuda()) { skip("BNBQ_TEST_FAKE_CUDA is not set"); return; }
    memset(&d, 0, sizeof d);
    d.libcuda_path = fake_cuda();
    d.nvrtc_path = fake_cuda();
    d.disable_disk_cache = 1;
    d.logger = test_logger();
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_SUCCESS, "init with the fake driver: %s", bnbq_result_name(r));
    if (ctx) {   /* NVRTC is opened on first need: query_device is one */
        bnbq_cuda_device_info info;
        bnbq_cuda_query_device(ctx, &info);
        CHECK(info.nvrtc_version > 0, "the context has no NVRTC after the fallback");
    }
    CHECK(log_find(BNBQ_LOG_WARN, "not used as NVRTC", fake_cuda()) != NULL,
          "no WARN line says %s is not NVRTC", fake_cuda());
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 0, "%d ERROR lines: %s", g_log.n[BNBQ_LOG_ERROR], log_first(BNBQ_LOG_ERROR));
    CHECK(log_find(BNBQ_LOG_INFO, "NVRTC", "from") != NULL, "no INFO line names the NVRTC loaded");
    if (ctx) detail("%s", log_find(BNBQ_LOG_WARN, "not used as NVRTC", NULL));
    bnbq_cuda_uninit(ctx);
}

/* ================================================================================================ */
/* disk cache                                                                                      */

static const char* K1 = "bnbq 0.1.0 cache 1\nunit=test\nsrc=0123456789abcdef:1000\narch=90\nkind=cubin\nopts=-DX=1\n";
static const char* K2 = "bnbq 0.1.0 cache 1\nunit=test\nsrc=0123456789abcdef:1000\narch=90\nkind=cubin\nopts=-DX=2\n";
static const char* K3 = "another key of another length";

static void make_image(unsigned char* img, size_t len, int seed) {
    size_t i;
    for (i = 0; i < len; i++) img[i] = (unsigned char)((i * 31u + (unsigned)seed * 97u + 7u) & 255u);
}

/* writes K1 with a small image; fills path */
static int write_k1(const char* dir, char* path, size_t cap, unsigned char* img, size_t len) {
    char name[40];
    bnbq__cache_name(K1, name);
    snprintf(path, cap, "%s/%s.bnbqk", dir, name);
    make_image(img, len, 1);
    return bnbq__cache_write(dir, name, K1, BNBQ__KIND_CUBIN, 90, 13000, 58000, img, len);
}

/* 1 when the entry at path is rejected as bad (NULL, bad flag set) */
static int rejected(const char* path, const char* key, int kind, int arch) {
    size_t len = 0;
    int bad = 0;
    unsigned char* img = bnbq__cache_read(path, key, kind, arch, &len, &bad);
    if (img) { free(img); return 0; }
    return bad == 1;
}

static void t_cache_roundtrip(void) {
    const char* dir = make_tmpdir();
    char path[1200], name[40];
    unsigned char img[300];
    unsigned char* back;
    unsigned char* raw;
    size_t len = 0, rawlen = 0;
    int bad = -1, other = 0;
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    CHECK(write_k1(dir, path, sizeof path, img, sizeof img) == 0, "write failed");
    back = bnbq__cache_read(path, K1, BNBQ__KIND_CUBIN, 90, &len, &bad);
    CHECK(back != NULL && bad == 0, "read back failed (bad %d)", bad);
    CHECK(back && len == sizeof img && memcmp(back, img, len) == 0, "image differs (%zu bytes)", len);
    free(back);
    /* the layout of the DISK CACHE section: header 40, key, image, checksum 8 */
    raw = read_whole(path, &rawlen);
    CHECK(raw && rawlen == 40 + strlen(K1) + sizeof img + 8, "file size %zu", rawlen);
    if (raw && rawlen >= 40) {
        CHECK(memcmp(raw, "BNBQKCH\0", 8) == 0, "magic");
        CHECK(bnbq__get_u32(raw + 8) == BNBQ_CUDA_CACHE_FORMAT, "format");
        CHECK(bnbq__get_u32(raw + 12) == 1 && bnbq__get_u32(raw + 16) == 90, "kind/arch");
        CHECK(bnbq__get_u32(raw + 20) == 13000 && bnbq__get_u32(raw + 24) == 58000, "versions");
        CHECK(bnbq__get_u32(raw + 28) == strlen(K1) && bnbq__get_u64(raw + 32) == sizeof img, "lengths");
    }
    free(raw);
    CHECK(count_files(dir, ".bnbqk", &other) == 1 && other == 0, "the directory holds %d other files", other);
    /* a missing entry is a miss, not bad */
    bnbq__cache_name(K2, name);
    snprintf(path, sizeof path, "%s/%s.bnbqk", dir, name);
    back = bnbq__cache_read(path, K2, BNBQ__KIND_CUBIN, 90, &len, &bad);
    CHECK(back == NULL && bad == 0, "a missing entry: bad %d", bad);
    free(back);
    /* a write into a directory that does not exist yet creates it (mkdir -p) */
    {
        char sub[1100];
        snprintf(sub, sizeof sub, "%s/a/b/c", dir);
        bnbq__cache_name(K1, name);
        CHECK(bnbq__cache_write(sub, name, K1, BNBQ__KIND_PTX, 80, 0, 0, img, 10) == 0, "write into a new nested directory");
        snprintf(path, sizeof path, "%s/%s.bnbqk", sub, name);
        CHECK(!rejected(path, K1, BNBQ__KIND_PTX, 80) && file_exists(path), "nested entry unreadable");
    }
}

static void t_cache_flip(void) {
    const char* dir = make_tmpdir();
    char path[1200];
    unsigned char img[24];
    unsigned char *orig, *buf;
    size_t len = 0, o;
    int m, flips = 0, accepted = 0;
    static const unsigned char masks[3] = { 0x01, 0x80, 0xff };
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    CHECK(write_k1(dir, path, sizeof path, img, sizeof img) == 0, "write failed");
    orig = read_whole(path, &len);
    CHECK(orig != NULL, "cannot read the entry");
    if (!orig) return;
    buf = (unsigned char*)malloc(len);
    for (o = 0; o < len && buf; o++)
        for (m = 0; m < 3; m++) {
            memcpy(buf, orig, len);
            buf[o] ^= masks[m];
            if (!write_whole(path, buf, len)) { CHECK(0, "cannot rewrite %s", path); o = len; break; }
            flips++;
            if (!rejected(path, K1, BNBQ__KIND_CUBIN, 90)) {
                accepted++;
                CHECK(0, "byte %zu ^ 0x%02x accepted", o, masks[m]);
            }
        }
    /* the original still reads */
    write_whole(path, orig, len);
    CHECK(!rejected(path, K1, BNBQ__KIND_CUBIN, 90), "the restored entry is rejected");
    free(buf);
    free(orig);
    detail("%d single-byte corruptions of a %zu-byte entry (header, key, image, checksum): %d accepted",
           flips, len, accepted);
}

static void t_cache_truncate(void) {
    const char* dir = make_tmpdir();
    char path[1200];
    unsigned char img[24];
    unsigned char* orig;
    size_t len = 0, l;
    int bad_accept = 0;
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    CHECK(write_k1(dir, path, sizeof path, img, sizeof img) == 0, "write failed");
    orig = read_whole(path, &len);
    if (!orig) { CHECK(0, "cannot read the entry"); return; }
    for (l = 0; l < len; l++) {
        write_whole(path, orig, l);
        if (!rejected(path, K1, BNBQ__KIND_CUBIN, 90)) {
            bad_accept++;
            CHECK(0, "truncated to %zu of %zu bytes: accepted", l, len);
        }
    }
    write_whole(path, orig, len);
    CHECK(!rejected(path, K1, BNBQ__KIND_CUBIN, 90), "the full entry is rejected");
    free(orig);
    detail("every length 0..%zu rejected", len - 1);
}

static void t_cache_trailing(void) {
    const char* dir = make_tmpdir();
    char path[1200];
    unsigned char img[24];
    unsigned char* orig;
    unsigned char* buf;
    size_t len = 0;
    static const size_t extra[4] = { 1, 7, 8, 1000 };
    int k;
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    CHECK(write_k1(dir, path, sizeof path, img, sizeof img) == 0, "write failed");
    orig = read_whole(path, &len);
    if (!orig) { CHECK(0, "cannot read the entry"); return; }
    buf = (unsigned char*)malloc(len + 1000);
    for (k = 0; k < 4 && buf; k++) {
        memcpy(buf, orig, len);
        memset(buf + len, k == 2 ? 0 : 0x5a, extra[k]);
        write_whole(path, buf, len + extra[k]);
        CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 90), "%zu trailing bytes accepted", extra[k]);
    }
    /* a second complete entry appended (a writer that appended instead of replacing) */
    if (buf) {
        memcpy(buf, orig, len);
        write_whole(path, buf, len);
        {
            FILE* f = fopen(path, "ab");
            if (f) { fwrite(orig, 1, len, f); fclose(f); }
        }
        CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 90), "two concatenated entries accepted");
    }
    free(buf);
    free(orig);
}

/* a valid entry of another key under this key's file name (a hash collision, a copied file) */
static void t_cache_foreign_key(void) {
    const char* dir = make_tmpdir();
    char name1[40], name2[40], path1[1200];
    unsigned char img[64];
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    bnbq__cache_name(K1, name1);
    bnbq__cache_name(K2, name2);
    CHECK(strcmp(name1, name2) != 0, "two keys share a name");
    CHECK(strlen(K1) == strlen(K2), "test keys should have equal lengths");
    snprintf(path1, sizeof path1, "%s/%s.bnbqk", dir, name1);
    make_image(img, sizeof img, 2);
    /* K2's entry stored under K1's name: same key length, one character differs */
    CHECK(bnbq__cache_write(dir, name1, K2, BNBQ__KIND_CUBIN, 90, 0, 0, img, sizeof img) == 0, "write");
    CHECK(rejected(path1, K1, BNBQ__KIND_CUBIN, 90), "an entry of an equally long key accepted");
    CHECK(!rejected(path1, K2, BNBQ__KIND_CUBIN, 90), "the entry is not valid for its own key");
    /* a key of another length */
    CHECK(bnbq__cache_write(dir, name1, K3, BNBQ__KIND_CUBIN, 90, 0, 0, img, sizeof img) == 0, "write");
    CHECK(rejected(path1, K1, BNBQ__KIND_CUBIN, 90), "an entry of a shorter key accepted");
    /* a prefix of the key */
    {
        char prefix[200];
        size_t pl = strlen(K1) - 5;
        memcpy(prefix, K1, pl);
        prefix[pl] = 0;
        CHECK(bnbq__cache_write(dir, name1, prefix, BNBQ__KIND_CUBIN, 90, 0, 0, img, sizeof img) == 0, "write");
        CHECK(rejected(path1, K1, BNBQ__KIND_CUBIN, 90), "an entry of a key prefix accepted");
    }
}

static void t_cache_kind_arch(void) {
    const char* dir = make_tmpdir();
    char path[1200];
    unsigned char img[40];
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    CHECK(write_k1(dir, path, sizeof path, img, sizeof img) == 0, "write failed");
    CHECK(!rejected(path, K1, BNBQ__KIND_CUBIN, 90), "the right kind and arch rejected");
    CHECK(rejected(path, K1, BNBQ__KIND_PTX, 90), "kind PTX accepted for a cubin entry");
    CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 80), "arch 80 accepted for an sm_90 entry");
    CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 89), "arch 89 accepted for an sm_90 entry");
    CHECK(rejected(path, K1, 3, 90), "kind 3 accepted");
    /* huge lengths in the header are rejected without allocating them */
    {
        size_t len = 0;
        unsigned char* raw = read_whole(path, &len);
        if (raw) {
            bnbq__put_u64(raw + 32, (uint64_t)1 << 62);
            write_whole(path, raw, len);
            CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 90), "image_len 2^62 accepted");
            bnbq__put_u32(raw + 28, 0xffffffffu);
            write_whole(path, raw, len);
            CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 90), "key_len 2^32-1 accepted");
            free(raw);
        }
    }
    /* an empty image is never valid */
    {
        char name[40];
        bnbq__cache_name(K1, name);
        CHECK(bnbq__cache_write(dir, name, K1, BNBQ__KIND_CUBIN, 90, 0, 0, img, 0) == 0, "write of an empty image");
        CHECK(rejected(path, K1, BNBQ__KIND_CUBIN, 90), "an empty image accepted");
    }
}

static void t_cache_name(void) {
    char a[40], b[40], c[40];
    size_t i;
    bnbq__cache_name(K1, a);
    bnbq__cache_name(K1, b);
    bnbq__cache_name(K2, c);
    CHECK(strlen(a) == 32, "name length %zu", strlen(a));
    for (i = 0; i < strlen(a); i++)
        CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'), "non-hex character '%c'", a[i]);
    CHECK(strcmp(a, b) == 0, "the name is not deterministic");
    CHECK(strcmp(a, c) != 0, "keys differing in one character share a name");
    bnbq__cache_name("", c);
    CHECK(strlen(c) == 32, "empty key name");
    detail("K1 -> %s", a);
}

/* 4 processes rewrite one entry 200 times each with different valid images while this one reads */
static void t_cache_concurrent(void) {
    enum { WRITERS = 4, ROUNDS = 200 };
    const char* dir = make_tmpdir();
    char name[40], path[1200];
    unsigned char* imgs[WRITERS];
    size_t lens[WRITERS];
    pid_t pids[WRITERS];
    int w, running, reads = 0, ok_reads = 0, misses_after = 0, damaged = 0, garbage = 0, seen[WRITERS];
    int child_fail = 0, other = 0;
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    bnbq__cache_name(K1, name);
    snprintf(path, sizeof path, "%s/%s.bnbqk", dir, name);
    for (w = 0; w < WRITERS; w++) {
        lens[w] = 3000 + 1000 * (size_t)w;
        imgs[w] = (unsigned char*)malloc(lens[w]);
        if (!imgs[w]) { CHECK(0, "out of memory"); return; }
        make_image(imgs[w], lens[w], 10 + w);
        seen[w] = 0;
    }
    fflush(stdout);
    for (w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            int k, fails = 0;
            for (k = 0; k < ROUNDS; k++)
                if (bnbq__cache_write(dir, name, K1, BNBQ__KIND_CUBIN, 90, 0, 0, imgs[w], lens[w]) != 0)
                    fails++;
            _exit(fails ? 1 : 0);
        }
        CHECK(pids[w] > 0, "fork failed");
    }
    running = WRITERS;
    while (running > 0 || reads < 50) {
        size_t len = 0;
        int bad = 0;
        unsigned char* img = bnbq__cache_read(path, K1, BNBQ__KIND_CUBIN, 90, &len, &bad);
        reads++;
        if (img) {
            int match = -1;
            ok_reads++;
            for (w = 0; w < WRITERS; w++)
                if (len == lens[w] && memcmp(img, imgs[w], len) == 0) match = w;
            if (match < 0) garbage++;
            else seen[match]++;
            free(img);
        } else if (bad) {
            damaged++;
        } else if (ok_reads > 0) {
            misses_after++;   /* the entry vanished after it existed: rename is not atomic */
        }
        if (running > 0) {
            for (w = 0; w < WRITERS; w++) {
                int status;
                if (pids[w] > 0 && waitpid(pids[w], &status, WNOHANG) == pids[w]) {
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) child_fail++;
                    pids[w] = -1;
                    running--;
                }
            }
        }
    }
    CHECK(child_fail == 0, "%d writer processes failed to write", child_fail);
    CHECK(garbage == 0, "%d successful reads returned an image no writer wrote", garbage);
    CHECK(damaged == 0, "%d reads saw a damaged entry (a torn write)", damaged);
    CHECK(misses_after == 0, "%d reads found no entry after one had been written", misses_after);
    CHECK(ok_reads > 0, "no read succeeded in %d reads", reads);
    CHECK(!rejected(path, K1, BNBQ__KIND_CUBIN, 90), "the final entry is rejected");
    CHECK(count_files(dir, ".bnbqk", &other) == 1 && other == 0, "%d temporary files left behind", other);
    detail("%d reads during %d x %d writes: %d valid (images seen %d/%d/%d/%d), 0 damaged",
           reads, WRITERS, ROUNDS, ok_reads, seen[0], seen[1], seen[2], seen[3]);
    for (w = 0; w < WRITERS; w++) free(imgs[w]);
}

/* a cache directory below a regular file cannot be created (root can write everywhere else) */
static void t_cache_unwritable(void) {
    const char* dir = make_tmpdir();
    char file[1100], bad_dir[1200], longdir[1100], name[40];
    unsigned char img[32];
    int arch = 90;
    bnbq_cuda_precompile_desc pd;
    bnbq_cuda_precompile_report rep;
    bnbq_result r;
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    snprintf(file, sizeof file, "%s/regular_file", dir);
    CHECK(write_whole(file, "x", 1), "cannot create %s", file);
    snprintf(bad_dir, sizeof bad_dir, "%s/sub/dir", file);
    bnbq__cache_name(K1, name);
    make_image(img, sizeof img, 3);
    CHECK(bnbq__cache_write(bad_dir, name, K1, BNBQ__KIND_CUBIN, 90, 0, 0, img, sizeof img) != 0,
          "a write below a regular file succeeded");
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = 0;
    CHECK(bnbq__cache_write(longdir, name, K1, BNBQ__KIND_CUBIN, 90, 0, 0, img, sizeof img) != 0,
          "a write into a 1099-character directory succeeded");
    /* a context-free precompile into it: BNBQ_ERROR_IO, nothing written */
    if (g_quick) { detail("write fails (the precompile part runs without --quick)"); return; }
    if (!nvrtc_loaded()) { CHECK(0, "NVRTC is needed for the precompile part"); return; }
    memset(&pd, 0, sizeof pd);
    pd.archs = &arch;
    pd.num_archs = 1;
    pd.cache_dir = bad_dir;
    pd.emit_ptx = 1;   /* PTX: the cheaper compilation; the write is what fails */
    pd.logger = test_logger();
    log_reset();
    r = bnbq_cuda_precompile(&pd, &rep);
    CHECK(r == BNBQ_ERROR_IO, "precompile into %s: %s", bad_dir, bnbq_result_name(r));
    CHECK(rep.written == 0 && rep.compiled == rep.units && rep.units > rep.variants, "written %d, compiled %d of %d",
          rep.written, rep.compiled, rep.units);
    CHECK(log_find(BNBQ_LOG_ERROR, "cannot write", NULL) != NULL, "no ERROR line says it cannot write");
    detail("write fails, precompile -> %s with %d ERROR lines", bnbq_result_name(r), g_log.n[BNBQ_LOG_ERROR]);
}

static void t_cache_dir_order(void) {
    char out[1024];
    int r;
    unsetenv("BNBQ_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("USERPROFILE");
    setenv("HOME", "/home/bnbq-test", 1);
    r = bnbq__cache_dir(NULL, out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/home/bnbq-test/.cache/bnbq"), "HOME: %d '%s'", r, out);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    r = bnbq__cache_dir(NULL, out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/xdg/bnbq"), "XDG_CACHE_HOME before HOME: %d '%s'", r, out);
    setenv("BNBQ_CACHE_DIR", "/bnbq-env", 1);
    r = bnbq__cache_dir(NULL, out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/bnbq-env"), "BNBQ_CACHE_DIR before XDG: %d '%s'", r, out);
    r = bnbq__cache_dir("/explicit/dir", out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/explicit/dir"), "explicit before the environment: %d '%s'", r, out);
    r = bnbq__cache_dir("", out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/bnbq-env"), "an empty explicit dir counts as unset: %d '%s'", r, out);
    setenv("BNBQ_CACHE_DIR", "", 1);
    r = bnbq__cache_dir(NULL, out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/xdg/bnbq"), "empty BNBQ_CACHE_DIR counts as unset: %d '%s'", r, out);
    setenv("XDG_CACHE_HOME", "", 1);
    r = bnbq__cache_dir(NULL, out, sizeof out);
    CHECK(r == 0 && !strcmp(out, "/home/bnbq-test/.cache/bnbq"), "empty XDG_CACHE_HOME: %d '%s'", r, out);
    unsetenv("HOME");
    r = bnbq__cache_dir(NULL, out, sizeof out);
    CHECK(r != 0, "no explicit dir and no environment: %d '%s'", r, out);
    /* too long for the buffer: refused, never cut */
    setenv("BNBQ_CACHE_DIR", "/a/directory/name/longer/than/the/buffer", 1);
    r = bnbq__cache_dir(NULL, out, 16);
    CHECK(r != 0, "an overlong BNBQ_CACHE_DIR was accepted into 16 bytes: '%s'", out);
    r = bnbq__cache_dir("/an/explicit/directory/too/long", out, 16);
    CHECK(r != 0, "an overlong explicit dir was accepted into 16 bytes");
    detail("explicit > BNBQ_CACHE_DIR > $XDG_CACHE_HOME/bnbq > $HOME/.cache/bnbq; empty values count as unset");
}

/* ================================================================================================ */
/* precompile (real NVRTC, no GPU)                                                                 */

/* every unit's entry (each kernel of each variant) for (arch, ptx) in dir validates under the key
   the runtime computes, and holds that kernel and no other kernel of its file; returns the number
   of valid entries, *out_units the number of units */
static int check_precompiled(const char* dir, int arch, int ptx, int* out_bytes, int* out_units) {
    int v, good = 0;
    *out_bytes = 0;
    *out_units = 0;
    for (v = 0; v < bnbq__cu_num_variants(); v++) {
        const bnbq__cu_variant* var = bnbq__cu_variant_at(v);
        const char* kernels[64];
        int nk = variant_kernels(var, arch, kernels, 64), k;
        CHECK(nk > 0, "%s [%s]: no kernels listed (%d)", var->unit, var->defines, nk);
        for (k = 0; k < nk; k++) {
            char key[2048], path[1200];
            unsigned char* img;
            size_t len = 0;
            int bad = 0;
            const char* const* other;
            (*out_units)++;
            if (runtime_key(var->unit, var->defines, kernels[k], arch, ptx, dir, key, sizeof key, path, sizeof path) != 0) {
                CHECK(0, "no key for %s [%s] %s", var->unit, var->defines, kernels[k]);
                continue;
            }
            img = bnbq__cache_read(path, key, ptx ? BNBQ__KIND_PTX : BNBQ__KIND_CUBIN, arch, &len, &bad);
            CHECK(img != NULL, "%s [%s] %s sm_%d %s: no valid entry at %s (bad %d)", var->unit, var->defines,
                  kernels[k], arch, ptx ? "ptx" : "cubin", path, bad);
            if (!img) continue;
            if (ptx) {
                char target[32];
                snprintf(target, sizeof target, ".target sm_%d", arch);
                CHECK(img[len - 1] == 0, "%s [%s]: PTX is not NUL-terminated", var->unit, var->defines);
                CHECK(img[len - 1] == 0 && strstr((const char*)img, target) != NULL &&
                      strstr((const char*)img, ".entry") != NULL,
                      "%s [%s]: no '%s' / .entry in the PTX", var->unit, var->defines, target);
            } else {
                CHECK(len > 64 && memcmp(img, "\177ELF", 4) == 0, "%s [%s]: the cubin is not ELF",
                      var->unit, var->defines);
            }
            /* the image names its kernel and no other kernel of the file */
            for (other = bnbq__cu_source_of(var->unit)->kernels; *other; other++) {
                size_t ol = strlen(*other), i;
                int hit = 0;
                for (i = 0; i + ol < len && !hit; i++)
                    if (memcmp(img + i, *other, ol) == 0 && !(img[i + ol] == '_' || (img[i + ol] >= 'a' && img[i + ol] <= 'z') ||
                                                             (img[i + ol] >= '0' && img[i + ol] <= '9')))
                        hit = 1;
                CHECK(hit == (strcmp(*other, kernels[k]) == 0), "%s [%s] unit %s: kernel %s %s in the image",
                      var->unit, var->defines, kernels[k], *other, hit ? "found" : "not found");
            }
            {   /* the entry records the NVRTC version that made it, and no driver */
                size_t rl = 0;
                unsigned char* raw = read_whole(path, &rl);
                if (raw && rl >= 40) {
                    CHECK((int)bnbq__get_u32(raw + 20) == bnbq__cuda_global.nvrtc.version,
                          "recorded NVRTC version %u", bnbq__get_u32(raw + 20));
                    CHECK(bnbq__get_u32(raw + 24) == 0, "recorded driver version %u", bnbq__get_u32(raw + 24));
                }
                free(raw);
            }
            *out_bytes += (int)len;
            good++;
            free(img);
        }
    }
    return good;
}

/* every operation the fake context runs comes from the cache in dir (disable_nvrtc): the number of
   operations that ran, *hits / *compiled from the stats */
static int run_from_cache(const char* dir, int* hits, int* compiled);

static void t_precompile_sm90(void) {
    const char* dir;
    int arch = 90, nv = bnbq__cu_num_variants(), other = 0, bytes = 0, good, units = 0;
    bnbq_cuda_precompile_desc pd;
    bnbq_cuda_precompile_report rep;
    double wall = 0.0;
    bnbq_result r = BNBQ_SUCCESS;
    if (g_quick) { skip("compiles the whole kernel table (runs without --quick)"); return; }
    dir = make_tmpdir();
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    memset(&pd, 0, sizeof pd);
    pd.archs = &arch;
    pd.num_archs = 1;
    pd.cache_dir = dir;
    pd.logger = test_logger();
    /* on two threads (the pairs taken as each finishes): the same entries as one thread writes, checked
       below one by one under the runtime's key; precompile-ptx runs on the calling thread */
    if (!precompile_on_two_threads(&pd, &rep, &r, &wall)) { CHECK(0, "bnbq_thread_pool_create(2) failed"); return; }
    CHECK(r == BNBQ_SUCCESS, "precompile sm_90: %s; %s", bnbq_result_name(r), log_first(BNBQ_LOG_ERROR));
    CHECK(rep.variants == nv && rep.units > nv && rep.compiled == rep.units && rep.written == rep.units &&
          rep.failed == 0, "report: %d variants, %d units, %d compiled, %d written, %d failed (table: %d variants)",
          rep.variants, rep.units, rep.compiled, rep.written, rep.failed, nv);
    CHECK(count_files(dir, ".bnbqk", &other) == rep.units, "%d entries for %d units",
          count_files(dir, ".bnbqk", NULL), rep.units);
    CHECK(other == 0, "%d other files (temporary files left?)", other);
    good = check_precompiled(dir, 90, 0, &bytes, &units);
    CHECK(good == rep.units && units == rep.units, "%d of %d entries validate (%d units listed)", good, rep.units, units);
    /* a context without NVRTC (the fake driver) runs operations from these entries alone */
    if (fake_cuda() && nvrtc_loaded()) {
        int hits = 0, compiled = -1, ran;
        setenv("FAKE_CUDA_CC", "9.0", 1);
        ran = run_from_cache(dir, &hits, &compiled);
        CHECK(ran > 0 && compiled == 0 && hits > 0, "without NVRTC: %d operations ran, %d units loaded, %d compiled; %s",
              ran, hits, compiled, log_first(BNBQ_LOG_ERROR));
        detail("%d variants -> %d units -> %d cubin entries (%d bytes), each valid under the runtime's key and "
               "holding only its kernel, %.2f s of NVRTC on 2 threads in %.2f s; without NVRTC %d operations ran "
               "from %d of them", nv, rep.units, good, bytes, rep.seconds, wall, ran, hits);
    } else {
        detail("%d variants -> %d units -> %d cubin entries (%d bytes), each valid under the runtime's key and "
               "holding only its kernel, %.2f s of NVRTC on 2 threads in %.2f s", nv, rep.units, good, bytes,
               rep.seconds, wall);
    }
}

static void t_precompile_ptx(void) {
    const char* dir;
    int archs[1] = { 80 }, other = 0, bytes = 0, good, units = 0;
    if (g_quick) { skip("compiles the whole kernel table (runs without --quick)"); return; }
    dir = make_tmpdir();
    bnbq_cuda_precompile_desc pd;
    bnbq_cuda_precompile_report rep;
    bnbq_result r;
    if (!dir) { CHECK(0, "mkdtemp failed"); return; }
    memset(&pd, 0, sizeof pd);
    pd.archs = archs;
    pd.num_archs = 1;
    pd.cache_dir = dir;
    pd.emit_ptx = 1;
    pd.logger = test_logger();
    log_reset();
    r = bnbq_cuda_precompile(&pd, &rep);
    CHECK(r == BNBQ_SUCCESS, "precompile PTX 80: %s; %s", bnbq_result_name(r), log_first(BNBQ_LOG_ERROR));
    CHECK(rep.written == rep.units && rep.units > 0 && count_files(dir, ".bnbqk", &other) == rep.units && other == 0,
          "written %d, files %d, other %d (want %d)", rep.written, count_files(dir, ".bnbqk", NULL), other, rep.units);
    good = check_precompiled(dir, 80, 1, &bytes, &units);
    CHECK(good == rep.units && units == rep.units, "sm_80 PTX: %d of %d validate", good, rep.units);
    /* PTX entries are not cubin entries: a cubin lookup misses */
    {
        char key[2048], path[1200];
        runtime_key("convert", "", "bnbq_k_convert", 80, 0, dir, key, sizeof key, path, sizeof path);
        CHECK(!file_exists(path), "a cubin key finds a PTX entry");
    }
    detail("%d units -> %d compute_80 PTX entries", rep.units, rep.written);
}

static void t_precompile_bad_arch(void) {
    int archs[2] = { 90, 990 }, nv = bnbq__cu_num_variants(), v, units = 0;
    bnbq_cuda_precompile_desc pd;
    bnbq_cuda_precompile_report rep;
    double wall = 0.0;
    bnbq_result r = BNBQ_SUCCESS;
    if (!nvrtc_loaded()) { CHECK(0, "NVRTC is needed"); return; }
    for (v = 0; v < nv; v++) {
        const char* kernels[64];
        int nk = variant_kernels(bnbq__cu_variant_at(v), 90, kernels, 64);
        units += nk > 0 ? nk : 0;
    }
    memset(&pd, 0, sizeof pd);
    pd.archs = archs;
    pd.num_archs = 2;
    pd.dry_run = 1;
    pd.emit_ptx = 1;   /* compute_90 PTX: the same units, without ptxas (the cubins are precompile-sm90's) */
    pd.logger = test_logger();
    /* on two threads: the counts and the result merged from the pairs as one thread would give them */
    if (!precompile_on_two_threads(&pd, &rep, &r, &wall)) { CHECK(0, "bnbq_thread_pool_create(2) failed"); return; }
    CHECK(r == BNBQ_ERROR_NVRTC_TOO_OLD, "an unknown sm_990: %s", bnbq_result_name(r));
    CHECK(rep.units == units && rep.compiled == units && rep.failed == nv, "units %d, compiled %d, failed %d "
          "(want %d / %d / %d)", rep.units, rep.compiled, rep.failed, units, units, nv);
    CHECK(log_find(BNBQ_LOG_ERROR, "sm_990", NULL) != NULL, "no ERROR line names sm_990");
    detail("%s", log_find(BNBQ_LOG_ERROR, "sm_990", NULL));
}

/* ================================================================================================ */
/* contexts on the fake driver                                                                     */

static int fake_ready(void) {
    if (!fake_cuda()) { skip("BNBQ_TEST_FAKE_CUDA is not set"); return 0; }
    if (!nvrtc_loaded()) { CHECK(0, "NVRTC is needed"); return 0; }
    setenv("FAKE_CUDA_CC", "9.0", 1);
    return 1;
}

/* LLM.int8 quantization with a threshold on the fake sm_90 device: its rows and fix passes go
   through cuLaunchKernelEx (programmatic dependent launch); a driver that refuses it
   (FAKE_CUDA_LAUNCH_EX_FAIL) gets one WARN line and plain launches, and the calls still succeed. */
static void t_fake_pdl(void) {
    const char* dir;
    bnbq_cuda* ctx = NULL;
    bnbq_exec ex;
    void *A = NULL, *CA = NULL, *rs = NULL, *oc = NULL, *no = NULL;
    int f0[FS_N], f1[FS_N], f2[FS_N], f3[FS_N];
    const size_t R = 8, C = 64;
    bnbq_result r;
    if (!fake_ready() || !(dir = make_tmpdir())) return;
    log_reset();
    r = fake_init(dir, 0, &ctx);
    CHECK(r == BNBQ_SUCCESS && ctx, "init on the fake driver: %s", bnbq_result_name(r));
    if (!ctx) { rm_tree(dir); return; }
    CHECK(bnbq_cuda_exec_init(ctx, NULL, &ex) == BNBQ_SUCCESS, "exec_init");
    CHECK(bnbq_cuda_malloc(ctx, R * C * 2, &A) == BNBQ_SUCCESS && bnbq_cuda_malloc(ctx, R * C, &CA) == BNBQ_SUCCESS &&
          bnbq_cuda_malloc(ctx, R * 4, &rs) == BNBQ_SUCCESS && bnbq_cuda_malloc(ctx, C * 4, &oc) == BNBQ_SUCCESS &&
          bnbq_cuda_malloc(ctx, 4, &no) == BNBQ_SUCCESS, "malloc");
#define I8_QUANT() \
    bnbq_int8_vectorwise_quant(&ex, BNBQ_F16, A, R, C, 6.0f, (int8_t*)CA, (float*)rs, (int32_t*)oc, (int32_t*)no)
    if (A && CA && rs && oc && no) {
        unsetenv("FAKE_CUDA_LAUNCH_EX_FAIL");
        fake_stats(f0);
        r = I8_QUANT();
        fake_stats(f1);
        CHECK(r == BNBQ_SUCCESS, "int8_vectorwise_quant: %s; %s", bnbq_result_name(r), log_first(BNBQ_LOG_ERROR));
        CHECK(f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == 3 && f1[FS_LAUNCH_EX] - f0[FS_LAUNCH_EX] == 2,
              "%d launches, %d through cuLaunchKernelEx (want 3 and 2: init plain, rows and fix dependent)",
              f1[FS_LAUNCHES] - f0[FS_LAUNCHES], f1[FS_LAUNCH_EX] - f0[FS_LAUNCH_EX]);
        CHECK(g_log.n[BNBQ_LOG_WARN] == 0, "a WARN line: %s", log_first(BNBQ_LOG_WARN));
        setenv("FAKE_CUDA_LAUNCH_EX_FAIL", "1", 1);
        r = I8_QUANT();
        fake_stats(f2);
        CHECK(r == BNBQ_SUCCESS, "with cuLaunchKernelEx refused: %s; %s", bnbq_result_name(r), log_first(BNBQ_LOG_ERROR));
        CHECK(f2[FS_LAUNCHES] - f1[FS_LAUNCHES] == 3 && f2[FS_LAUNCH_EX] - f1[FS_LAUNCH_EX] == 1,
              "refused: %d launches, %d tries of cuLaunchKernelEx (want 3 and 1: one try, then plain)",
              f2[FS_LAUNCHES] - f1[FS_LAUNCHES], f2[FS_LAUNCH_EX] - f1[FS_LAUNCH_EX]);
        CHECK(g_log.n[BNBQ_LOG_WARN] == 1 && log_find(BNBQ_LOG_WARN, "cuLaunchKernelEx", "plain launches") != NULL,
              "%d WARN lines (want 1 naming cuLaunchKernelEx): %s", g_log.n[BNBQ_LOG_WARN], log_first(BNBQ_LOG_WARN));
        r = I8_QUANT();
        fake_stats(f3);
        CHECK(r == BNBQ_SUCCESS && f3[FS_LAUNCH_EX] == f2[FS_LAUNCH_EX] && f3[FS_LAUNCHES] - f2[FS_LAUNCHES] == 3 &&
              g_log.n[BNBQ_LOG_WARN] == 1, "after the refusal: %s, %d more tries of cuLaunchKernelEx, %d WARN lines",
              bnbq_result_name(r), f3[FS_LAUNCH_EX] - f2[FS_LAUNCH_EX], g_log.n[BNBQ_LOG_WARN]);
        unsetenv("FAKE_CUDA_LAUNCH_EX_FAIL");
    }
#undef I8_QUANT
    bnbq_cuda_free(ctx, A); bnbq_cuda_free(ctx, CA); bnbq_cuda_free(ctx, rs); bnbq_cuda_free(ctx, oc);
    bnbq_cuda_free(ctx, no);
    bnbq_cuda_uninit(ctx);
    rm_tree(dir);
}

/* t_fake_gemm_wg's contexts: a fake-driver context in dir with its exec and three device buffers of na, nb, no
   bytes (NULL where one failed: a failed CHECK); wg_ctx_end frees them and the context */
static bnbq_cuda* wg_ctx(const char* dir, bnbq_exec* ex, void** A, size_t na, void** B, size_t nb, void** O, size_t no) {
    bnbq_cuda* ctx = NULL;
    bnbq_result r = fake_init(dir, 0, &ctx);
    *A = *B = *O = NULL;
    CHECK(r == BNBQ_SUCCESS && ctx, "init on the fake driver: %s", bnbq_result_name(r));
    if (!ctx) return NULL;
    CHECK(bnbq_cuda_exec_init(ctx, NULL, ex) == BNBQ_SUCCESS && bnbq_cuda_malloc(ctx, na, A) == BNBQ_SUCCESS &&
              bnbq_cuda_malloc(ctx, nb, B) == BNBQ_SUCCESS && bnbq_cuda_malloc(ctx, no, O) == BNBQ_SUCCESS,
          "exec_init / malloc");
    return ctx;
}
static void wg_ctx_end(bnbq_cuda* ctx, void* A, void* B, void* O) {
    bnbq_cuda_free(ctx, A); bnbq_cuda_free(ctx, B); bnbq_cuda_free(ctx, O);
    bnbq_cuda_uninit(ctx);
}
/* bnbq_gemm's sm_90a tiles on the fake driver (compute capability 9.0; FAKE_CUDA_OPTIN gives the shared memory
   they need): three tensor maps (A, B and out, checked by the fake's cuTensorMapEncodeTiled as the driver
   documents them) and one dependent launch of an sm_90a unit per call, for every storage order and both tile
   widths, and for int8_linear_matmul's and SwitchBack's many rows; with accumulate the sm_80 tiles (no maps); a contiguous
   dimension that is not a multiple of 8: neither tile kernel, no maps; no opt-in shared memory: the sm_80 tiles
   without maps; maps refused (FAKE_CUDA_NO_TMAP) or an sm_90a unit that does not compile: the call still succeeds
   on the sm_80 tiles, one WARN line, and the sm_90a tiles are not tried again. Also matmul_4bit's many rows
   (bnbq_k_m4_wg: three maps, one dependent launch; afterwards the 64 x 64 tiles). */
static void t_fake_gemm_wg(void) {
    const char* dir;
    bnbq_cuda* ctx = NULL;
    bnbq_exec ex;
    void *A = NULL, *B = NULL, *O = NULL;
    int f0[FS_N], f1[FS_N], t;
    const size_t M = 2048, N = 4352, K = 136;
    bnbq_result r;
    if (!fake_ready() || !(dir = make_tmpdir())) return;
    log_reset();
    setenv("FAKE_CUDA_OPTIN", "232448", 1);
    unsetenv("FAKE_CUDA_NO_TMAP");
    ctx = wg_ctx(dir, &ex, &A, M * K * 2, &B, K * N * 2, &O, M * N * 2);
    if (!ctx) { unsetenv("FAKE_CUDA_OPTIN"); rm_tree(dir); return; }
    if (A && B && O) {
        for (t = 0; t < 8; t++) {   /* storage orders x (M, N, K) = (2048, 4352, 136): 128 x 256 tiles; (256, 256, 136) */
            const int ta = t & 1, tb = (t >> 1) & 1, big = t >> 2;
            const size_t m = big ? M : 256, n = big ? N : 256;
            const unsigned long w0 = ctx->gemm_wg_launches;
            fake_stats(f0);
            r = bnbq_gemm(&ex, t & 4 ? BNBQ_BF16 : BNBQ_F16, ta, tb, m, n, K, A, B, NULL, 0, O);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches - w0 == 1 && f1[FS_TMAPS] - f0[FS_TMAPS] == 3 &&
                  f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == 1 && f1[FS_LAUNCH_EX] - f0[FS_LAUNCH_EX] == 1,
                  "gemm trans_a=%d trans_b=%d %zux%zux%zu: %s, %lu sm_90a launches, %d maps, %d launches (%d dependent); %s",
                  ta, tb, m, n, K, bnbq_result_name(r), ctx->gemm_wg_launches - w0, f1[FS_TMAPS] - f0[FS_TMAPS],
                  f1[FS_LAUNCHES] - f0[FS_LAUNCHES], f1[FS_LAUNCH_EX] - f0[FS_LAUNCH_EX], log_first(BNBQ_LOG_ERROR));
        }
        {
            const unsigned long w0 = ctx->gemm_wg_launches, t0 = ctx->gemm_t2_launches;
            fake_stats(f0);
            r = bnbq_gemm(&ex, BNBQ_F16, 1, 0, 256, 256, K, A, B, NULL, 1, O);   /* accumulate: the sm_80 tiles */
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches == w0 && ctx->gemm_t2_launches - t0 == 1 &&
                      f1[FS_TMAPS] == f0[FS_TMAPS],
                  "accumulate: %s, %lu sm_90a / %lu sm_80 launches, %d maps", bnbq_result_name(r),
                  ctx->gemm_wg_launches - w0, ctx->gemm_t2_launches - t0, f1[FS_TMAPS] - f0[FS_TMAPS]);
        }
        {
            const unsigned long w0 = ctx->gemm_wg_launches, t0 = ctx->gemm_t2_launches;
            fake_stats(f0);
            r = bnbq_gemm(&ex, BNBQ_F16, 0, 1, 256, 256, 132, A, B, NULL, 0, O);   /* K % 8 != 0, K contiguous */
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches == w0 && ctx->gemm_t2_launches == t0 &&
                      f1[FS_TMAPS] == f0[FS_TMAPS] && f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == 1,
                  "K = 132 with K contiguous (neither tile kernel): %s, %lu sm_90a / %lu sm_80 launches, %d maps, %d launches",
                  bnbq_result_name(r), ctx->gemm_wg_launches - w0, ctx->gemm_t2_launches - t0, f1[FS_TMAPS] - f0[FS_TMAPS],
                  f1[FS_LAUNCHES] - f0[FS_LAUNCHES]);
        }
        {   /* int8_linear_matmul's many rows: bnbq_k_int8_wg, three maps (int8 A, B; int32 out) */
            const unsigned long w0 = ctx->gemm_wg_launches;
            fake_stats(f0);
            r = bnbq_int8_linear_matmul(&ex, (const int8_t*)A, (const int8_t*)B, 300, 260, 144, (int32_t*)O);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches - w0 == 1 && f1[FS_TMAPS] - f0[FS_TMAPS] == 3 &&
                      f1[FS_LAUNCH_EX] - f0[FS_LAUNCH_EX] == 1,
                  "int8_linear_matmul 300x260x144: %s, %lu sm_90a launches, %d maps", bnbq_result_name(r),
                  ctx->gemm_wg_launches - w0, f1[FS_TMAPS] - f0[FS_TMAPS]);
        }
        {   /* SwitchBack's int8 matmul (f16 out): bnbq_k_sb_wg, three maps */
            const unsigned long w0 = ctx->gemm_wg_launches;
            fake_stats(f0);
            r = bnbq_int8_matmul_rowwise_dequantize(&ex, (const int8_t*)A, (const int8_t*)B, (const uint16_t*)O,
                                                    (const uint16_t*)O, 300, 264, 144, (uint16_t*)A + 300 * 144, NULL);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches - w0 == 1 && f1[FS_TMAPS] - f0[FS_TMAPS] == 3,
                  "int8_matmul_rowwise_dequantize 300x264x144: %s, %lu sm_90a launches, %d maps", bnbq_result_name(r),
                  ctx->gemm_wg_launches - w0, f1[FS_TMAPS] - f0[FS_TMAPS]);
        }
        {   /* int8_mixed_scaled_mm's many rows: bnbq_k_int8_wg_dq_* (the int8 GEMM with mm_dequant as its epilogue),
               three maps and one launch; f32 out with N % 8 == 4 too, 16-bit out then bnbq_k_int8_wg + mm_dequant */
            static const bnbq_dtype dts[3] = { BNBQ_F16, BNBQ_F32, BNBQ_BF16 };
            static const size_t ns[3] = { 264, 260, 260 };
            char* base = (char*)O + (1u << 20);   /* out, work, statistics: in the fake's memory, never read */
            int i;
            for (i = 0; i < 3; i++) {
                const unsigned long w0 = ctx->i8_wg_dq_launches, g0 = ctx->gemm_wg_launches;
                const int fused = i < 2;
                fake_stats(f0);
                r = bnbq_int8_mixed_scaled_mm(&ex, dts[i], (const int8_t*)A, (const int8_t*)B, 300, ns[i], 144,
                                              (const float*)(base + (4u << 20)), (const float*)(base + (5u << 20)),
                                              BNBQ_F16, base + (6u << 20), NULL, NULL, NULL, (int32_t*)(base + (2u << 20)),
                                              base);
                fake_stats(f1);
                CHECK(r == BNBQ_SUCCESS && ctx->i8_wg_dq_launches - w0 == (unsigned long)fused &&
                          ctx->gemm_wg_launches - g0 == 1 && f1[FS_TMAPS] - f0[FS_TMAPS] == 3 &&
                          f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == (fused ? 1 : 2),
                      "int8_mixed_scaled_mm %s 300x%zux144: %s, %lu fused / %lu sm_90a launches, %d maps, %d launches",
                      bnbq_dtype_name(dts[i]), ns[i], bnbq_result_name(r), ctx->i8_wg_dq_launches - w0,
                      ctx->gemm_wg_launches - g0, f1[FS_TMAPS] - f0[FS_TMAPS], f1[FS_LAUNCHES] - f0[FS_LAUNCHES]);
            }
            /* with outlier columns (16-bit out): bnbq_k_outlier_gather16 + bnbq_k_int8_wg_dqt_* (two launches, three
               maps); f32, desc.exact_outlier_sums, or a work buffer too small for 64 gathered columns (20 rows x 264:
               2 (20 x 264 / 284) = 36) the exact path: bnbq_k_int8_wg_dq_* + the gathered outlier product (three
               launches) */
            for (i = 0; i < 5; i++) {
                const bnbq_dtype dt = i == 1 ? BNBQ_F32 : i == 4 ? BNBQ_F16 : dts[i % 3];
                const size_t M = i == 3 ? 20 : 300, N = i == 1 ? 260 : 264;
                const int fast = i == 0 || i == 2;
                const unsigned long w0 = ctx->i8_wg_dq_launches, t0 = ctx->i8_wg_dqt_launches, g0 = ctx->gemm_wg_launches;
                fake_stats(f0);
                ctx->desc.exact_outlier_sums = i == 4;
                r = bnbq_int8_mixed_scaled_mm(&ex, dt, (const int8_t*)A, (const int8_t*)B, M, N, 144,
                                              (const float*)(base + (4u << 20)), (const float*)(base + (5u << 20)),
                                              BNBQ_F16, base + (6u << 20), base + (7u << 20), (const int32_t*)(base + (8u << 20)),
                                              (const int32_t*)(base + (9u << 20)), (int32_t*)(base + (2u << 20)), base);
                ctx->desc.exact_outlier_sums = 0;
                fake_stats(f1);
                CHECK(r == BNBQ_SUCCESS && ctx->i8_wg_dqt_launches - t0 == (unsigned long)fast &&
                          ctx->i8_wg_dq_launches - w0 == (unsigned long)!fast && ctx->gemm_wg_launches - g0 == 1 &&
                          f1[FS_TMAPS] - f0[FS_TMAPS] == 3 && f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == (fast ? 2 : 3),
                      "int8_mixed_scaled_mm %s %zux%zux144 with outlier columns%s: %s, %lu / %lu fused launches (with / "
                      "without the outlier product), %d maps, %d launches", bnbq_dtype_name(dt), M, N,
                      i == 4 ? " (exact_outlier_sums)" : "", bnbq_result_name(r), ctx->i8_wg_dqt_launches - t0,
                      ctx->i8_wg_dq_launches - w0, f1[FS_TMAPS] - f0[FS_TMAPS], f1[FS_LAUNCHES] - f0[FS_LAUNCHES]);
            }
        }
        {   /* matmul_4bit's many rows: bnbq_k_m4_wg, three maps (A, the packed weight, out); 16 rows: the tensor-core
               form, no maps */
            const unsigned long w0 = ctx->m4_wg_launches, m0 = ctx->m4_mma_launches;
            void* out = (char*)O + 65536;
            fake_stats(f0);
            r = bnbq_matmul_4bit(&ex, BNBQ_NF4, BNBQ_F16, A, (const uint8_t*)B, (const float*)O, 300, 264, 160, 64, out, NULL,
                                 NULL);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->m4_wg_launches - w0 == 1 && f1[FS_TMAPS] - f0[FS_TMAPS] == 3 &&
                      f1[FS_LAUNCH_EX] - f0[FS_LAUNCH_EX] == 1,
                  "matmul_4bit 300x264x160: %s, %lu sm_90a launches, %d maps", bnbq_result_name(r),
                  ctx->m4_wg_launches - w0, f1[FS_TMAPS] - f0[FS_TMAPS]);
            r = bnbq_matmul_4bit(&ex, BNBQ_NF4, BNBQ_BF16, A, (const uint8_t*)B, (const float*)O, 16, 264, 160, 64, out, NULL,
                                 NULL);
            fake_stats(f0);
            CHECK(r == BNBQ_SUCCESS && ctx->m4_wg_launches - w0 == 1 && ctx->m4_mma_launches - m0 == 1 &&
                      f0[FS_TMAPS] == f1[FS_TMAPS],
                  "matmul_4bit 16x264x160: %s, %lu sm_90a / %lu tensor-core launches, %d maps", bnbq_result_name(r),
                  ctx->m4_wg_launches - w0, ctx->m4_mma_launches - m0, f0[FS_TMAPS] - f1[FS_TMAPS]);
        }
        CHECK(g_log.n[BNBQ_LOG_WARN] == 0 && g_log.n[BNBQ_LOG_ERROR] == 0, "a WARN / ERROR line: %s %s",
              log_first(BNBQ_LOG_WARN), log_first(BNBQ_LOG_ERROR));
        setenv("FAKE_CUDA_NO_TMAP", "1", 1);
        for (t = 0; t < 2; t++) {
            const unsigned long w0 = ctx->gemm_wg_launches, t0 = ctx->gemm_t2_launches;
            fake_stats(f0);
            r = bnbq_gemm(&ex, BNBQ_BF16, 0, 1, 256, 256, 136, A, B, NULL, 0, O);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches == w0 && ctx->gemm_t2_launches - t0 == 1 &&
                      f1[FS_TMAPS] - f0[FS_TMAPS] == (t == 0) && g_log.n[BNBQ_LOG_WARN] == 1 &&
                      log_find(BNBQ_LOG_WARN, "cuTensorMapEncodeTiled", "sm_80") != NULL,
                  "maps refused (call %d): %s, %lu sm_90a / %lu sm_80 launches, %d map requests, %d WARN lines: %s", t + 1,
                  bnbq_result_name(r), ctx->gemm_wg_launches - w0, ctx->gemm_t2_launches - t0,
                  f1[FS_TMAPS] - f0[FS_TMAPS], g_log.n[BNBQ_LOG_WARN], log_first(BNBQ_LOG_WARN));
        }
        {   /* ... and int8_mixed_scaled_mm's many rows the sm_80 int8 tiles + mm_dequant */
            const unsigned long w0 = ctx->i8_wg_dq_launches, t0 = ctx->mm_tile_tc_launches;
            char* base = (char*)O + (1u << 20);
            fake_stats(f0);
            r = bnbq_int8_mixed_scaled_mm(&ex, BNBQ_F16, (const int8_t*)A, (const int8_t*)B, 300, 264, 144,
                                          (const float*)(base + (4u << 20)), (const float*)(base + (5u << 20)), BNBQ_F16,
                                          NULL, NULL, NULL, NULL, (int32_t*)(base + (2u << 20)), base);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->i8_wg_dq_launches == w0 && ctx->mm_tile_tc_launches - t0 == 1 &&
                      f1[FS_TMAPS] == f0[FS_TMAPS] && f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == 2,
                  "int8_mixed_scaled_mm after the maps were refused: %s, %lu fused / %lu sm_80 tile launches, %d maps, "
                  "%d launches", bnbq_result_name(r), ctx->i8_wg_dq_launches - w0, ctx->mm_tile_tc_launches - t0,
                  f1[FS_TMAPS] - f0[FS_TMAPS], f1[FS_LAUNCHES] - f0[FS_LAUNCHES]);
        }
        {   /* the sm_90a tiles are off in this context now: matmul_4bit's many rows take the 64 x 64 tiles */
            const unsigned long w0 = ctx->m4_wg_launches;
            fake_stats(f0);
            r = bnbq_matmul_4bit(&ex, BNBQ_FP4, BNBQ_F16, A, (const uint8_t*)B, (const float*)O, 300, 264, 160, 64,
                                 (char*)O + 65536, NULL, NULL);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->m4_wg_launches == w0 && f1[FS_TMAPS] == f0[FS_TMAPS] &&
                      f1[FS_LAUNCHES] - f0[FS_LAUNCHES] == 1,
                  "matmul_4bit after the maps were refused: %s, %lu sm_90a launches, %d maps", bnbq_result_name(r),
                  ctx->m4_wg_launches - w0, f1[FS_TMAPS] - f0[FS_TMAPS]);
        }
        unsetenv("FAKE_CUDA_NO_TMAP");
    }
    wg_ctx_end(ctx, A, B, O);
    /* a new context whose sm_90a unit does not compile (an NVRTC option it refuses; the sm_80 unit loaded before
       that): the call succeeds on the sm_80 tiles, one WARN line, and the sm_90a tiles are not tried again */
    log_reset();
    ctx = wg_ctx(dir, &ex, &A, 256 * 136 * 2, &B, 256 * 136 * 2, &O, 256 * 256 * 2);
    if (ctx) {
        if (A && B && O) {
            bnbq__cu_gemm_wg_off = 1;
            r = bnbq_gemm(&ex, BNBQ_BF16, 0, 1, 256, 256, 136, A, B, NULL, 0, O);   /* loads the sm_80 unit */
            bnbq__cu_gemm_wg_off = 0;
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_t2_launches == 1 && ctx->gemm_wg_launches == 0, "sm_80 tiles: %s",
                  bnbq_result_name(r));
            bnbq__cu_nvrtc_extra = "--no-such-option";
            for (t = 0; t < 2; t++) {
                r = bnbq_gemm(&ex, BNBQ_BF16, 0, 1, 256, 256, 136, A, B, NULL, 0, O);
                CHECK(r == BNBQ_SUCCESS && ctx->gemm_t2_launches == 2u + (unsigned)t && ctx->gemm_wg_launches == 0 &&
                          ctx->wg_off && g_log.n[BNBQ_LOG_WARN] == 1 &&
                          log_find(BNBQ_LOG_WARN, "sm_90a unit", "sm_80") != NULL,
                      "an sm_90a unit that does not compile (call %d): %s, %lu sm_80 / %lu sm_90a launches, %d WARN lines: %s",
                      t + 1, bnbq_result_name(r), ctx->gemm_t2_launches, ctx->gemm_wg_launches, g_log.n[BNBQ_LOG_WARN],
                      log_first(BNBQ_LOG_WARN));
            }
            bnbq__cu_nvrtc_extra = NULL;
        }
        wg_ctx_end(ctx, A, B, O);
    }
    /* a new context without opt-in shared memory: no maps */
    unsetenv("FAKE_CUDA_OPTIN");
    ctx = wg_ctx(dir, &ex, &A, 256 * 136 * 2, &B, 256 * 136 * 2, &O, 256 * 256 * 2);
    if (ctx) {
        if (A && B && O) {
            fake_stats(f0);
            r = bnbq_gemm(&ex, BNBQ_F16, 0, 1, 256, 256, 136, A, B, NULL, 0, O);
            fake_stats(f1);
            CHECK(r == BNBQ_SUCCESS && ctx->gemm_wg_launches == 0 && ctx->gemm_t2_launches == 1 && f1[FS_TMAPS] == f0[FS_TMAPS],
                  "no opt-in shared memory: %s, %lu sm_90a / %lu sm_80 launches", bnbq_result_name(r),
                  ctx->gemm_wg_launches, ctx->gemm_t2_launches);
        }
        wg_ctx_end(ctx, A, B, O);
    }
    rm_tree(dir);
}

static void t_fake_context(void) {
    const char* dir;
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_device_info info;
    bnbq_cuda_desc qd;
    bnbq_cuda_stats st;
    bnbq_exec ex;
    void *a = NULL, *b = NULL, *stream = NULL, *e0 = NULL, *e1 = NULL;
    unsigned char host[4000], back[4000];
    float ms = -1.0f;
    int fs[FS_N], other = 0;
    bnbq_result r;
    size_t i;
    if (!fake_ready() || !(dir = make_tmpdir())) return;
    memset(&qd, 0, sizeof qd);
    log_reset();
    r = fake_init(dir, 0, &ctx);
    CHECK(r == BNBQ_SUCCESS && ctx, "init on the fake driver: %s; %s", bnbq_result_name(r), log_first(BNBQ_LOG_ERROR));
    if (!ctx) return;
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 0 && g_log.n[BNBQ_LOG_WARN] == 0, "init logged %d errors, %d warnings",
          g_log.n[BNBQ_LOG_ERROR], g_log.n[BNBQ_LOG_WARN]);
    CHECK(log_find(BNBQ_LOG_INFO, "bnbq fake GPU", "sm_90") != NULL, "no INFO line describes the device");
    CHECK(bnbq_cuda_query_device(ctx, &info) == BNBQ_SUCCESS, "query_device");
    CHECK(!strcmp(info.name, "bnbq fake GPU") && info.cc_major == 9 && info.cc_minor == 0 &&
          info.sm_count == 132 && info.l2_bytes == (size_t)50 << 20 && info.total_memory == (size_t)80 << 30 &&
          info.driver_version == 13000, "device info: %s %d.%d %d SMs L2 %zu mem %zu driver %d", info.name,
          info.cc_major, info.cc_minor, info.sm_count, info.l2_bytes, info.total_memory, info.driver_version);
    CHECK(info.nvrtc_version == bnbq__cuda_global.nvrtc.version, "nvrtc_version %d", info.nvrtc_version);
    CHECK(info.target_arch == 90 && info.target_is_ptx == 0, "target %d ptx %d", info.target_arch, info.target_is_ptx);
    CHECK(bnbq_cuda_query_desc(ctx, &qd) == BNBQ_SUCCESS && qd.cache_dir && !strcmp(qd.cache_dir, dir),
          "resolved cache_dir '%s'", qd.cache_dir ? qd.cache_dir : "(null)");
    CHECK(qd.allocator.alloc_fn != NULL && qd.allocator.free_fn != NULL, "the resolved allocator is empty");
    CHECK(bnbq_cuda_exec_init(ctx, NULL, &ex) == BNBQ_SUCCESS, "exec_init");
    CHECK(ex.memory == BNBQ_MEMORY_DEVICE && ex.backend != NULL && ex.impl == (void*)ctx, "exec fields");
    CHECK(ex.backend && !strcmp(ex.backend->name, "cuda"), "backend name");
    /* memory and copies */
    CHECK(bnbq_cuda_malloc(ctx, 0, &a) == BNBQ_ERROR_BAD_SHAPE && a == NULL, "malloc(0)");
    CHECK(bnbq_cuda_malloc(ctx, sizeof host, &a) == BNBQ_SUCCESS && a, "malloc");
    CHECK(bnbq_cuda_malloc(ctx, sizeof host, &b) == BNBQ_SUCCESS && b, "malloc");
    for (i = 0; i < sizeof host; i++) host[i] = (unsigned char)(i * 7);
    CHECK(bnbq_cuda_memcpy(&ex, a, host, sizeof host, BNBQ_COPY_HOST_TO_DEVICE) == BNBQ_SUCCESS, "H2D");
    CHECK(bnbq_cuda_memcpy(&ex, b, a, sizeof host, BNBQ_COPY_DEVICE_TO_DEVICE) == BNBQ_SUCCESS, "D2D");
    CHECK(bnbq_cuda_memset(&ex, a, 0x5a, 100) == BNBQ_SUCCESS, "memset");
    CHECK(bnbq_cuda_memcpy(&ex, back, b, sizeof back, BNBQ_COPY_DEVICE_TO_HOST) == BNBQ_SUCCESS, "D2H");
    CHECK(bnbq_cuda_synchronize(&ex) == BNBQ_SUCCESS && memcmp(back, host, sizeof host) == 0, "round trip");
    CHECK(bnbq_cuda_memcpy(&ex, back, a, sizeof back, BNBQ_COPY_DEVICE_TO_HOST) == BNBQ_SUCCESS &&
          back[0] == 0x5a && back[99] == 0x5a && back[100] == host[100], "memset result");
    CHECK(bnbq_cuda_memcpy(&ex, back, a, 4, (bnbq_cuda_copy)7) == BNBQ_ERROR_INVALID_ARGS, "bad copy kind");
    CHECK(bnbq_cuda_memcpy(&ex, NULL, a, 4, BNBQ_COPY_DEVICE_TO_HOST) == BNBQ_ERROR_NULL_POINTER, "memcpy NULL dst");
    CHECK(bnbq_cuda_memcpy(&ex, back, a, 0, BNBQ_COPY_DEVICE_TO_HOST) == BNBQ_SUCCESS, "memcpy of 0 bytes");
    CHECK(bnbq_cuda_free(ctx, NULL) == BNBQ_SUCCESS, "free(NULL)");
    /* streams and events */
    CHECK(bnbq_cuda_stream_create(ctx, &stream) == BNBQ_SUCCESS && stream, "stream_create");
    CHECK(bnbq_cuda_event_create(ctx, &e0) == BNBQ_SUCCESS && bnbq_cuda_event_create(ctx, &e1) == BNBQ_SUCCESS, "event_create");
    {
        bnbq_exec sex;
        CHECK(bnbq_cuda_exec_init(ctx, stream, &sex) == BNBQ_SUCCESS && sex.stream == stream, "exec on a stream");
        CHECK(bnbq_cuda_event_record(&sex, e0) == BNBQ_SUCCESS && bnbq_cuda_event_record(&sex, e1) == BNBQ_SUCCESS, "record");
        CHECK(bnbq_cuda_event_elapsed_ms(ctx, e0, e1, &ms) == BNBQ_SUCCESS && ms >= 0.0f, "elapsed %g", (double)ms);
        CHECK(bnbq_cuda_event_record(&sex, NULL) == BNBQ_ERROR_NULL_POINTER, "record(NULL event)");
        /* the one implemented operation compiles, loads, launches */
        CHECK(bnbq_convert(&sex, BNBQ_F32, a, 1000, BNBQ_F16, b) == BNBQ_SUCCESS, "convert");
    }
    st = stats_of(ctx);
    CHECK(st.units_compiled == 1 && st.disk_hits == 0 && st.modules == 1 && st.compile_seconds > 0.0,
          "after convert: compiled %d, hits %d, modules %d, %.3f s", st.units_compiled, st.disk_hits,
          st.modules, st.compile_seconds);
    CHECK(bnbq_convert(&ex, BNBQ_BF16, a, 1000, BNBQ_F32, b) == BNBQ_SUCCESS, "convert again");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 1 && st.modules == 1, "a second call compiled again (%d)", st.units_compiled);
    fake_stats(fs);
    CHECK(fs[FS_LAUNCHES] == 2 && fs[FS_LOADS] == 1, "fake: %d launches, %d module loads", fs[FS_LAUNCHES], fs[FS_LOADS]);
    CHECK(fs[FS_FUNCLOADS] == 1, "fake: %d cuFuncLoad calls (want 1: the function is loaded when resolved)",
          fs[FS_FUNCLOADS]);
    CHECK(fs[FS_DEPTH] == 0, "the context stack is %d deep between calls", fs[FS_DEPTH]);
    CHECK(count_files(dir, ".bnbqk", &other) == 1 && other == 0, "cache entries %d (+%d other)",
          count_files(dir, ".bnbqk", NULL), other);
    {
        char key[2048], path[1200];
        runtime_key("convert", "", "bnbq_k_convert", 90, 0, dir, key, sizeof key, path, sizeof path);
        CHECK(!rejected(path, key, BNBQ__KIND_CUBIN, 90) && file_exists(path), "the entry is not where the key says");
        {
            size_t rl = 0;
            unsigned char* raw = read_whole(path, &rl);
            CHECK(raw && rl > 40 && bnbq__get_u32(raw + 24) == 13000, "the entry does not record driver 13000");
            free(raw);
        }
    }
    bnbq_cuda_event_destroy(ctx, e0);
    bnbq_cuda_event_destroy(ctx, e1);
    bnbq_cuda_stream_destroy(ctx, stream);
    bnbq_cuda_free(ctx, a);
    bnbq_cuda_free(ctx, b);
    bnbq_cuda_uninit(ctx);
    fake_stats(fs);
    CHECK(fs[FS_ALLOCS] == 0 && fs[FS_MODULES] == 0 && fs[FS_STREAMS] == 0 && fs[FS_EVENTS] == 0 &&
          fs[FS_RETAINS] == 0 && fs[FS_DEPTH] == 0, "after uninit: %d allocations, %d modules, %d streams, "
          "%d events, %d primary-context retains, depth %d", fs[FS_ALLOCS], fs[FS_MODULES], fs[FS_STREAMS],
          fs[FS_EVENTS], fs[FS_RETAINS], fs[FS_DEPTH]);
    detail("init, memory, streams, events, compile -> cache -> launch, uninit releases everything");
}

/* the cache directory a context resolves from the environment (setenv in this process) */
static void t_fake_cache_env(void) {
    const char* base;
    char want[1100];
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_desc qd;
    bnbq_cuda_desc d;
    bnbq_result r;
    if (!fake_ready() || !(base = make_tmpdir())) return;
    memset(&qd, 0, sizeof qd);
    unsetenv("XDG_CACHE_HOME");
    snprintf(want, sizeof want, "%s/env", base);
    setenv("BNBQ_CACHE_DIR", want, 1);
    memset(&d, 0, sizeof d);
    d.libcuda_path = fake_cuda();
    d.logger = test_logger();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_SUCCESS, "init: %s", bnbq_result_name(r));
    if (!ctx) return;
    CHECK(bnbq_cuda_query_desc(ctx, &qd) == BNBQ_SUCCESS && qd.cache_dir && !strcmp(qd.cache_dir, want),
          "BNBQ_CACHE_DIR: resolved '%s'", qd.cache_dir ? qd.cache_dir : "(null)");
    CHECK(fake_convert(ctx, 64) == BNBQ_SUCCESS, "convert");
    CHECK(count_files(want, ".bnbqk", NULL) == 1, "no entry in $BNBQ_CACHE_DIR");
    bnbq_cuda_uninit(ctx);
    /* XDG_CACHE_HOME/bnbq when BNBQ_CACHE_DIR is unset */
    unsetenv("BNBQ_CACHE_DIR");
    setenv("XDG_CACHE_HOME", base, 1);
    snprintf(want, sizeof want, "%s/bnbq", base);
    r = bnbq_cuda_init(&d, &ctx);
    if (ctx) {
        CHECK(bnbq_cuda_query_desc(ctx, &qd) == BNBQ_SUCCESS && qd.cache_dir && !strcmp(qd.cache_dir, want),
              "XDG_CACHE_HOME: resolved '%s'", qd.cache_dir ? qd.cache_dir : "(null)");
        CHECK(fake_convert(ctx, 64) == BNBQ_SUCCESS && count_files(want, ".bnbqk", NULL) == 1, "no entry in $XDG_CACHE_HOME/bnbq");
        bnbq_cuda_uninit(ctx);
    }
    /* HOME/.cache/bnbq */
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", base, 1);
    snprintf(want, sizeof want, "%s/.cache/bnbq", base);
    r = bnbq_cuda_init(&d, &ctx);
    if (ctx) {
        CHECK(bnbq_cuda_query_desc(ctx, &qd) == BNBQ_SUCCESS && qd.cache_dir && !strcmp(qd.cache_dir, want),
              "HOME: resolved '%s'", qd.cache_dir ? qd.cache_dir : "(null)");
        bnbq_cuda_uninit(ctx);
    }
    /* nothing set: the disk cache is off, with one WARN line, and init still succeeds */
    unsetenv("HOME");
    unsetenv("USERPROFILE");
    log_reset();
    r = bnbq_cuda_init(&d, &ctx);
    CHECK(r == BNBQ_SUCCESS, "init with no cache directory: %s", bnbq_result_name(r));
    if (ctx) {
        CHECK(bnbq_cuda_query_desc(ctx, &qd) == BNBQ_SUCCESS && qd.cache_dir == NULL, "cache_dir '%s'", qd.cache_dir);
        CHECK(g_log.n[BNBQ_LOG_WARN] == 1, "%d WARN lines", g_log.n[BNBQ_LOG_WARN]);
        CHECK(fake_convert(ctx, 64) == BNBQ_SUCCESS, "convert without a disk cache");
        bnbq_cuda_uninit(ctx);
    }
    (void)r;
}

/* second context: loads from disk; disable_nvrtc: runs from disk, fails cleanly on an empty dir;
   disable_disk_cache: writes nothing */
static void t_fake_cache_reuse(void) {
    const char *dir, *empty, *nodisk;
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    bnbq_cuda_device_info info;
    bnbq_result r;
    if (!fake_ready() || !(dir = make_tmpdir()) || !(empty = make_tmpdir()) || !(nodisk = make_tmpdir()))
        return;
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 1");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 1");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 1 && st.disk_hits == 0, "ctx 1: compiled %d, hits %d", st.units_compiled, st.disk_hits);
    bnbq_cuda_uninit(ctx);

    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 2");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 2");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.disk_hits == 1 && st.disk_rejected == 0 && st.modules == 1,
          "ctx 2 (same dir): compiled %d, hits %d, rejected %d", st.units_compiled, st.disk_hits, st.disk_rejected);
    CHECK(st.load_seconds >= 0.0 && st.compile_seconds == 0.0, "load %.4f s, compile %.4f s", st.load_seconds, st.compile_seconds);
    bnbq_cuda_uninit(ctx);

    CHECK(fake_init(dir, 1, &ctx) == BNBQ_SUCCESS, "ctx 3 (disable_nvrtc)");
    if (!ctx) return;
    bnbq_cuda_query_device(ctx, &info);
    CHECK(info.nvrtc_version == 0, "disable_nvrtc: nvrtc_version %d", info.nvrtc_version);
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "disable_nvrtc with a filled cache");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.disk_hits == 1, "ctx 3: compiled %d, hits %d", st.units_compiled, st.disk_hits);
    bnbq_cuda_uninit(ctx);

    CHECK(fake_init(empty, 1, &ctx) == BNBQ_SUCCESS, "ctx 4 (disable_nvrtc, empty dir)");
    if (!ctx) return;
    log_reset();
    r = fake_convert(ctx, 256);
    CHECK(r == BNBQ_ERROR_NO_NVRTC, "disable_nvrtc on an empty cache: %s", bnbq_result_name(r));
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "%d ERROR lines: %s", g_log.n[BNBQ_LOG_ERROR], log_first(BNBQ_LOG_ERROR));
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.modules == 0 && count_files(empty, "", NULL) == 0,
          "ctx 4: compiled %d, modules %d, files %d", st.units_compiled, st.modules, count_files(empty, "", NULL));
    /* the failure is not remembered as a module: a second call fails the same way */
    CHECK(fake_convert(ctx, 256) == BNBQ_ERROR_NO_NVRTC, "second call on ctx 4");
    bnbq_cuda_uninit(ctx);

    setenv("BNBQ_CACHE_DIR", nodisk, 1);
    CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "ctx 5 (disable_disk_cache)");
    if (!ctx) return;
    {
        bnbq_cuda_desc qd;
        bnbq_cuda_query_desc(ctx, &qd);
        CHECK(qd.cache_dir == NULL, "disable_disk_cache: cache_dir '%s'", qd.cache_dir);
    }
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert without a disk cache");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 1 && count_files(nodisk, "", NULL) == 0, "ctx 5: compiled %d, %d files in $BNBQ_CACHE_DIR",
          st.units_compiled, count_files(nodisk, "", NULL));
    bnbq_cuda_uninit(ctx);
    detail("ctx 2 loads from disk (0 compiled), disable_nvrtc runs from disk and gives NO_NVRTC on an "
           "empty dir with one ERROR line, disable_disk_cache writes nothing");
}

/* Tiered compilation (bnbq_cuda_desc.no_tiered_compile): a slow kernel missing from the disk cache is
   compiled fast (-Ofc) and used at once; the context's background thread makes the full build, which a
   later lookup or bnbq_cuda_finish_compiles puts in place; only the full build reaches the disk cache;
   the context ends cleanly with a build queued or running; the desc and BNBQ_TIERED_COMPILE=0 switch it
   off. The kernel here is convert's (bnbq__cu_tier_force 1 tiers every unit); the list of slow kernels
   is checked against the embedded sources. (A scenario runs alone in its process: the switches it sets
   need no restoring when it returns.) */
static void t_fake_tiered(void) {
    const char *dir, *dir2, *dir3;
    const char* const* k;
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    bnbq_cuda_desc d;
    int fs[FS_N], loads0, listed = 0, i;
    double bg = 0.0;
    for (k = bnbq__cu_tiered_kernels; *k; k++) {
        const bnbq__cu_source* src;
        int known = 0;
        for (src = bnbq__cu_sources; src->name; src++) known |= bnbq__cu_kernel_known(src->name, *k);
        CHECK(known, "%s (bnbq__cu_tiered_kernels) is no kernel of any source", *k);
        listed++;
    }
    if (!fake_ready() || !(dir = make_tmpdir()) || !(dir2 = make_tmpdir()) || !(dir3 = make_tmpdir())) return;
    bnbq__cu_tier_force = 1;
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 1");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 1 (fast build)");
    if (!ctx->tier_on) {
        bnbq_cuda_device_info info;
        bnbq_cuda_query_device(ctx, &info);
        bnbq_cuda_uninit(ctx);
        CHECK(info.nvrtc_version < 12080, "NVRTC %d, cubin target, yet no tiered compilation", info.nvrtc_version);
        skip("NVRTC %d.%d has no -Ofc (12.8+): no tiered compilation", info.nvrtc_version / 1000,
             (info.nvrtc_version % 1000) / 10);
        return;
    }
    st = stats_of(ctx);
    CHECK(st.units_compiled == 1 && st.units_fast == 1 && st.units_upgraded == 0 && st.modules == 1,
          "ctx 1: compiled %d, fast %d, upgraded %d, modules %d", st.units_compiled, st.units_fast, st.units_upgraded,
          st.modules);
    fake_stats(fs);
    loads0 = fs[FS_LOADS];
    CHECK(bnbq_cuda_finish_compiles(ctx) == BNBQ_SUCCESS, "finish_compiles");
    st = stats_of(ctx);
    fake_stats(fs);
    CHECK(st.units_upgraded == 1 && st.units_pending == 0 && st.background_seconds > 0.0 && st.units_compiled == 1,
          "after finish: upgraded %d, pending %d, background %.3f s, compiled %d", st.units_upgraded,
          st.units_pending, st.background_seconds, st.units_compiled);
    bg = st.background_seconds;
    CHECK(fs[FS_LOADS] == loads0 + 1 && fs[FS_MODULES] == 2, "the full build: %d more loads (want 1), %d live modules "
          "(want 2: the fast one stays loaded until the context ends)", fs[FS_LOADS] - loads0, fs[FS_MODULES]);
    CHECK(count_files(dir, "", NULL) == 1, "%d files in the cache (want 1: the full build)", count_files(dir, "", NULL));
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on the full build");
    CHECK(bnbq_cuda_finish_compiles(ctx) == BNBQ_SUCCESS, "finish_compiles with nothing pending");
    bnbq_cuda_uninit(ctx);
    fake_stats(fs);
    CHECK(fs[FS_MODULES] == 0, "%d modules left after uninit", fs[FS_MODULES]);

    /* the cache's entry is the full build: a new context loads it and compiles nothing */
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 2");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 2");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.units_fast == 0 && st.disk_hits == 1, "ctx 2: compiled %d, fast %d, hits %d",
          st.units_compiled, st.units_fast, st.disk_hits);
    bnbq_cuda_uninit(ctx);

    /* the context ends with the full build queued or running: no leak; the cache holds 0 or 1 good entry */
    for (i = 0; i < 2; i++) {
        CHECK(fake_init(i ? dir3 : dir2, 0, &ctx) == BNBQ_SUCCESS, "ctx 3");
        if (!ctx) return;
        CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 3");
        bnbq_cuda_uninit(ctx);
        fake_stats(fs);
        CHECK(fs[FS_MODULES] == 0, "ctx 3: %d modules left after uninit", fs[FS_MODULES]);
    }
    CHECK(count_files(dir2, "", NULL) <= 1, "%d files", count_files(dir2, "", NULL));
    CHECK(fake_init(dir2, 0, &ctx) == BNBQ_SUCCESS, "ctx 4");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 4");
    st = stats_of(ctx);
    CHECK(st.disk_rejected == 0 && st.disk_hits + st.units_compiled == 1, "ctx 4: hits %d, rejected %d, compiled %d",
          st.disk_hits, st.disk_rejected, st.units_compiled);
    bnbq_cuda_uninit(ctx);

    /* without bnbq_cuda_finish_compiles: a later call that asks for the kernel puts the full build in place */
    CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "ctx 4b");
    if (!ctx) return;
    {
        double t0 = bnbq__now();
        do {
            CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 4b");
            st = stats_of(ctx);
        } while (st.units_upgraded == 0 && bnbq__now() - t0 < 30.0);
        CHECK(st.units_fast == 1 && st.units_upgraded == 1 && st.units_pending == 0,
              "ctx 4b: fast %d, upgraded %d, pending %d after %.1f s of calls", st.units_fast, st.units_upgraded,
              st.units_pending, bnbq__now() - t0);
    }
    bnbq_cuda_uninit(ctx);

    /* an NVRTC that rejects the fast build's option: the full build, no ERROR line, tiering ends */
    {
        const char* saved = bnbq__cu_fast_opt;
        bnbq__cu_fast_opt = "--no-such-option";
        CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "ctx 4c");
        if (!ctx) return;
        log_reset();
        CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert with a rejected fast option");
        st = stats_of(ctx);
        CHECK(st.units_compiled == 1 && st.units_fast == 0 && !ctx->tier_on && g_log.n[BNBQ_LOG_ERROR] == 0,
              "rejected fast option: compiled %d, fast %d, tier_on %d, %d ERROR lines", st.units_compiled,
              st.units_fast, ctx->tier_on, g_log.n[BNBQ_LOG_ERROR]);
        bnbq_cuda_uninit(ctx);
        bnbq__cu_fast_opt = saved;
    }

    /* no background thread: the full build is made at once (put in place by the next call), one WARN line, and
       tiering ends for the context */
    bnbq__cu_no_thread = 1;
    CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "ctx 4d");
    if (!ctx) return;
    log_reset();
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert without a thread");
    st = stats_of(ctx);
    CHECK(st.units_fast == 1 && st.units_pending == 1 && !ctx->tier_on && g_log.n[BNBQ_LOG_WARN] == 1,
          "no thread: fast %d, pending %d, tier_on %d, %d WARN lines", st.units_fast, st.units_pending, ctx->tier_on,
          g_log.n[BNBQ_LOG_WARN]);
    CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "second convert without a thread");
    st = stats_of(ctx);
    CHECK(st.units_upgraded == 1 && st.units_pending == 0, "no thread, second call: upgraded %d, pending %d",
          st.units_upgraded, st.units_pending);
    bnbq_cuda_uninit(ctx);
    bnbq__cu_no_thread = 0;

    /* switched off: the desc, the environment */
    for (i = 0; i < 2; i++) {
        memset(&d, 0, sizeof d);
        d.libcuda_path = fake_cuda();
        d.disable_disk_cache = 1;
        d.logger = test_logger();
        d.no_tiered_compile = i == 0;
        if (i) setenv("BNBQ_TIERED_COMPILE", "0", 1);
        CHECK(bnbq_cuda_init(&d, &ctx) == BNBQ_SUCCESS, "ctx 5");
        if (!ctx) break;
        CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 5");
        st = stats_of(ctx);
        CHECK(st.units_compiled == 1 && st.units_fast == 0, "%s: compiled %d, fast %d",
              i ? "BNBQ_TIERED_COMPILE=0" : "no_tiered_compile", st.units_compiled, st.units_fast);
        bnbq_cuda_uninit(ctx);
        if (i) unsetenv("BNBQ_TIERED_COMPILE");
    }

    /* the default: only the listed kernels */
    bnbq__cu_tier_force = 0;
    CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "ctx 6");
    if (ctx) {
        CHECK(fake_convert(ctx, 256) == BNBQ_SUCCESS, "convert on ctx 6");
        st = stats_of(ctx);
        CHECK(st.units_fast == 0, "convert (not listed) was compiled fast");
        CHECK(bnbq__cu_tier_mode(ctx, "bnbq_k_int8_gemv_dq") == 1 && bnbq__cu_tier_mode(ctx, "bnbq_k_convert") == 0 &&
              bnbq__cu_tier_mode(ctx, "bnbq_k_gemm_wg2_nn") == 0,
              "tier modes gemv_dq %d, convert %d, gemm_wg2_nn %d (want 1, 0, 0)", bnbq__cu_tier_mode(ctx, "bnbq_k_int8_gemv_dq"),
              bnbq__cu_tier_mode(ctx, "bnbq_k_convert"), bnbq__cu_tier_mode(ctx, "bnbq_k_gemm_wg2_nn"));
        bnbq_cuda_uninit(ctx);
    }
    detail("fast build first, the full one from the background (%.2f s) put in place and cached alone; uninit "
           "with a build pending; a rejected fast option; no thread; switched off by the desc and the environment; %d "
           "kernels listed",
           bg, listed);
}

/* damaged and refused entries are misses: recompiled and rewritten, never errors */
static void t_fake_cache_damaged(void) {
    const char *dir, *dir2;
    char key[2048], path[1200];
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    unsigned char* raw;
    size_t rl = 0;
    int fs[FS_N];
    bnbq_result r;
    if (!fake_ready() || !(dir = make_tmpdir()) || !(dir2 = make_tmpdir())) return;
    runtime_key("convert", "", "bnbq_k_convert", 90, 0, dir, key, sizeof key, path, sizeof path);
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 1");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "convert");
    bnbq_cuda_uninit(ctx);
    raw = read_whole(path, &rl);
    CHECK(raw != NULL && rl > 200, "no entry at %s", path);
    if (!raw) return;
    /* one flipped byte in the image */
    raw[rl - 100] ^= 0x10;
    write_whole(path, raw, rl);
    log_reset();
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 2");
    if (!ctx) { free(raw); return; }
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "convert over a damaged entry");
    st = stats_of(ctx);
    CHECK(st.disk_rejected == 1 && st.units_compiled == 1 && st.disk_hits == 0,
          "damaged: rejected %d, compiled %d, hits %d", st.disk_rejected, st.units_compiled, st.disk_hits);
    CHECK(log_find(BNBQ_LOG_WARN, "damaged", NULL) != NULL && g_log.n[BNBQ_LOG_ERROR] == 0,
          "want one WARN about the damaged entry and no ERROR (%d WARN, %d ERROR)", g_log.n[BNBQ_LOG_WARN],
          g_log.n[BNBQ_LOG_ERROR]);
    CHECK(!rejected(path, key, BNBQ__KIND_CUBIN, 90), "the entry was not rewritten");
    bnbq_cuda_uninit(ctx);
    free(raw);
    /* a checksummed cubin entry that is not ELF at all: bnbq rejects it before the driver sees it
       (a driver would read a non-ELF image as NUL-terminated PTX text, past the buffer) */
    {
        unsigned char junk[300];
        char name[40];
        memset(junk, 'j', sizeof junk);
        bnbq__cache_name(key, name);
        CHECK(bnbq__cache_write(dir, name, key, BNBQ__KIND_CUBIN, 90, 0, 0, junk, sizeof junk) == 0, "write non-ELF");
        log_reset();
        CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 2b");
        if (!ctx) return;
        CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "convert over a non-ELF entry");
        st = stats_of(ctx);
        CHECK(st.disk_rejected == 1 && st.units_compiled == 1, "non-ELF: rejected %d, compiled %d",
              st.disk_rejected, st.units_compiled);
        CHECK(log_find(BNBQ_LOG_WARN, "damaged", NULL) != NULL, "no WARN about the non-ELF entry");
        bnbq_cuda_uninit(ctx);
    }
    /* a valid entry the driver refuses: a well-formed ELF64 header (no sections) over junk */
    {
        unsigned char junk[300];
        char name[40];
        memset(junk, 'j', sizeof junk);
        memset(junk, 0, 64);
        memcpy(junk, "\177ELF", 4);
        junk[4] = 2;
        junk[5] = 1;
        bnbq__cache_name(key, name);
        CHECK(bnbq__cache_write(dir, name, key, BNBQ__KIND_CUBIN, 90, 0, 0, junk, sizeof junk) == 0, "write junk");
    }
    log_reset();
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 3");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "convert over a refused entry");
    st = stats_of(ctx);
    CHECK(st.disk_rejected == 1 && st.units_compiled == 1, "refused: rejected %d, compiled %d",
          st.disk_rejected, st.units_compiled);
    CHECK(log_find(BNBQ_LOG_WARN, "refused", NULL) != NULL, "no WARN line says the driver refused the entry");
    {
        size_t len = 0;
        int bad = 0;
        unsigned char* img = bnbq__cache_read(path, key, BNBQ__KIND_CUBIN, 90, &len, &bad);
        CHECK(img && memcmp(img, "\177ELF", 4) == 0, "the refused entry was not replaced by a cubin");
        free(img);
    }
    bnbq_cuda_uninit(ctx);
    /* a driver that refuses every image: the operation fails with one ERROR, nothing is cached */
    setenv("FAKE_CUDA_REFUSE", "1", 1);
    log_reset();
    CHECK(fake_init(dir2, 0, &ctx) == BNBQ_SUCCESS, "ctx 4");
    if (!ctx) return;
    r = fake_convert(ctx, 100);
    CHECK(r == BNBQ_ERROR_CUDA, "every image refused: %s", bnbq_result_name(r));
    CHECK(g_log.n[BNBQ_LOG_ERROR] == 1, "%d ERROR lines", g_log.n[BNBQ_LOG_ERROR]);
    CHECK(count_files(dir2, "", NULL) == 0, "an image the driver refused was cached");
    bnbq_cuda_uninit(ctx);
    unsetenv("FAKE_CUDA_REFUSE");
    fake_stats(fs);
    CHECK(fs[FS_MODULES] == 0 && fs[FS_RETAINS] == 0 && fs[FS_DEPTH] == 0 && fs[FS_ALLOCS] == 0,
          "leftovers: %d modules, %d retains, depth %d, %d allocations", fs[FS_MODULES], fs[FS_RETAINS],
          fs[FS_DEPTH], fs[FS_ALLOCS]);
    detail("flipped byte -> WARN + recompile + rewrite; refused image -> WARN + recompile; all refused -> CUDA");
}

/* The cache entry of one unit, compiled and written the way bnbq_cuda_precompile does it (its
   own static functions), for when compiling the whole table would only cost time. */
static int write_one(const char* dir, const char* unit, const char* defines, const char* kernel, int arch, int ptx) {
    char key[2048], path[1200], name[40], opt_buf[1024];
    const char* opts[24];
    unsigned char* img = NULL;
    size_t len = 0;
    double secs = 0.0;
    int nopts, ok;
    char* program = bnbq__cu_program_text(unit);
    if (!program || runtime_key(unit, defines, kernel, arch, ptx, dir, key, sizeof key, path, sizeof path) != 0) {
        free(program);
        return 0;
    }
    nopts = bnbq__cu_options(defines, kernel, arch, ptx, opt_buf, sizeof opt_buf, opts, 24);
    ok = nopts > 0 && bnbq__nvrtc_compile(NULL, unit, program, opts, nopts, ptx, &img, &len, &secs) == BNBQ_SUCCESS;
    bnbq__cache_name(key, name);
    ok = ok && bnbq__cache_write(dir, name, key, ptx ? BNBQ__KIND_PTX : BNBQ__KIND_CUBIN, arch,
                                 bnbq__cuda_global.nvrtc.version, 0, img, len) == 0;
    free(img);
    free(program);
    return ok;
}

/* a precompiled cache (entries written as bnbq_cuda_precompile writes them, for the one variant
   used; precompile-sm90 / precompile-ptx check the entry point itself) serves a context without
   NVRTC: a cubin of the device's arch, a cubin of the same major, PTX of an older arch; a cubin of
   another major does not */
static void t_fake_precompiled(void) {
    const char *d90, *d80p, *d86;
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    bnbq_result r;
    if (!fake_ready() || !(d90 = make_tmpdir()) || !(d80p = make_tmpdir()) || !(d86 = make_tmpdir())) return;
    CHECK(write_one(d90, "convert", "", "bnbq_k_convert", 90, 0), "compile convert for sm_90");
    CHECK(write_one(d80p, "convert", "", "bnbq_k_convert", 80, 1), "compile convert as compute_80 PTX");
    CHECK(write_one(d86, "convert", "", "bnbq_k_convert", 86, 0), "compile convert for sm_86");

    CHECK(fake_init(d90, 1, &ctx) == BNBQ_SUCCESS, "ctx on the sm_90 cache");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "sm_90 device, sm_90 cubin");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.disk_hits == 1, "sm_90 cubin: compiled %d, hits %d", st.units_compiled, st.disk_hits);
    bnbq_cuda_uninit(ctx);

    CHECK(fake_init(d80p, 1, &ctx) == BNBQ_SUCCESS, "ctx on the PTX cache");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "sm_90 device, compute_80 PTX");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.disk_hits == 1, "PTX 80: compiled %d, hits %d", st.units_compiled, st.disk_hits);
    bnbq_cuda_uninit(ctx);

    CHECK(fake_init(d86, 1, &ctx) == BNBQ_SUCCESS, "ctx on the sm_86 cache");
    if (!ctx) return;
    log_reset();
    r = fake_convert(ctx, 100);
    CHECK(r == BNBQ_ERROR_NO_NVRTC, "sm_90 device with only an sm_86 cubin: %s", bnbq_result_name(r));
    bnbq_cuda_uninit(ctx);

    setenv("FAKE_CUDA_CC", "8.9", 1);
    CHECK(fake_init(d86, 1, &ctx) == BNBQ_SUCCESS, "ctx (sm_89) on the sm_86 cache");
    if (!ctx) return;
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "sm_89 device, sm_86 cubin (same major)");
    st = stats_of(ctx);
    CHECK(st.units_compiled == 0 && st.disk_hits == 1, "sm_86 on 8.9: compiled %d, hits %d", st.units_compiled, st.disk_hits);
    bnbq_cuda_uninit(ctx);
    setenv("FAKE_CUDA_CC", "9.0", 1);
    detail("no NVRTC: sm_90 cubin, compute_80 PTX and (on 8.9) an sm_86 cubin are used; sm_86 on 9.0 -> NO_NVRTC");
}

/* architectures NVRTC does not list: PTX for the newest below; none below: no compilation */
static void t_fake_arch(void) {
    const bnbq__cu_nvrtc* nv = &bnbq__cuda_global.nvrtc;
    char cc[16];
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_device_info info;
    bnbq_result r;
    int newest, oldest, dev, k, listed = 0;
    if (!fake_ready()) return;
    newest = nv->archs[nv->num_archs - 1];
    oldest = nv->archs[0];
    /* one above the newest NVRTC knows: PTX for the newest */
    dev = newest + 1;
    for (k = 0; k < nv->num_archs; k++) if (nv->archs[k] == dev) listed = 1;
    snprintf(cc, sizeof cc, "%d.%d", dev / 10, dev % 10);
    setenv("FAKE_CUDA_CC", cc, 1);
    log_reset();
    CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "init with cc %s", cc);
    if (!ctx) return;
    bnbq_cuda_query_device(ctx, &info);
    CHECK(listed || (info.target_arch == newest && info.target_is_ptx == 1), "cc %s: target %d ptx %d (want compute_%d)",
          cc, info.target_arch, info.target_is_ptx, newest);
    CHECK(listed || log_find(BNBQ_LOG_INFO, "PTX", NULL) != NULL, "no INFO line about PTX");
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "convert through PTX");
    bnbq_cuda_uninit(ctx);
    /* one below the oldest: nothing to compile for */
    dev = oldest - 1;
    snprintf(cc, sizeof cc, "%d.%d", dev / 10, dev % 10);
    setenv("FAKE_CUDA_CC", cc, 1);
    log_reset();
    r = fake_init(NULL, 0, &ctx);
    CHECK(r == BNBQ_SUCCESS, "init with cc %s: %s", cc, bnbq_result_name(r));
    if (!ctx) return;
    CHECK(g_log.n[BNBQ_LOG_WARN] == 0, "a WARN at init (NVRTC is opened on first need): %s", log_first(BNBQ_LOG_WARN));
    r = fake_convert(ctx, 100);
    CHECK(r == BNBQ_ERROR_NO_NVRTC || r == BNBQ_ERROR_NVRTC_TOO_OLD, "cc %s: %s", cc, bnbq_result_name(r));
    CHECK(log_find(BNBQ_LOG_WARN, "knows no architecture", NULL) != NULL, "no WARN about cc %s", cc);
    bnbq_cuda_uninit(ctx);
    setenv("FAKE_CUDA_CC", "9.0", 1);
    detail("cc %d.%d -> compute_%d PTX; cc %s -> WARN when NVRTC is first needed, the operation returns %s",
           (newest + 1) / 10, (newest + 1) % 10, newest, cc, bnbq_result_name(r));
}

/* bad input through a (fake) CUDA exec returns the CPU's codes */
static void t_fake_bad_input(void) {
    bnbq_cuda* ctx = NULL;
    bnbq_exec ex;
    bi_report rep;
    int fs[FS_N];
    if (!fake_ready()) return;
    CHECK(fake_init(NULL, 0, &ctx) == BNBQ_SUCCESS, "init");
    if (!ctx) return;
    bnbq_cuda_exec_init(ctx, NULL, &ex);
    CHECK(bi_run_all(ctx, &ex, &rep), "setup: %s", rep.first);
    CHECK(rep.mismatches == 0, "%d of %d cases: %s", rep.mismatches, rep.cases, rep.first);
    fake_stats(fs);
    CHECK(fs[FS_LAUNCHES] == 0, "%d kernels launched for bad input", fs[FS_LAUNCHES]);
    bnbq_cuda_uninit(ctx);
    detail("%d cases (%d where only the backend rejects the blocksize), 0 launches", rep.cases, rep.gpu_only);
}

/* the operations run_from_cache and fake-units use, on one fake context: convert; blockwise 8-bit
   quantize + dequantize (two kernels of one variant); LLM.int8 vector-wise quantization (three
   kernels of one variant); 4-bit gemv. Returns how many returned BNBQ_SUCCESS (of 5). */
static int run_ops(bnbq_cuda* ctx) {
    bnbq_exec ex;
    void *x = NULL, *q = NULL, *am = NULL, *out = NULL, *oc = NULL;
    int ok = 0;
    if (bnbq_cuda_exec_init(ctx, NULL, &ex) != BNBQ_SUCCESS) return 0;
    if (bnbq_cuda_malloc(ctx, 4096 * 4, &x) == BNBQ_SUCCESS && bnbq_cuda_malloc(ctx, 4096, &q) == BNBQ_SUCCESS &&
        bnbq_cuda_malloc(ctx, 4096, &am) == BNBQ_SUCCESS && bnbq_cuda_malloc(ctx, 4096 * 4, &out) == BNBQ_SUCCESS &&
        bnbq_cuda_malloc(ctx, 4096, &oc) == BNBQ_SUCCESS && bnbq_cuda_memset(&ex, x, 0, 4096 * 4) == BNBQ_SUCCESS &&
        bnbq_cuda_memset(&ex, am, 0, 4096) == BNBQ_SUCCESS) {
        ok += bnbq_convert(&ex, BNBQ_F32, x, 1000, BNBQ_F16, out) == BNBQ_SUCCESS;
        ok += bnbq_quantize_blockwise(&ex, NULL, BNBQ_F32, x, 1024, 64, (uint8_t*)q, (float*)am) == BNBQ_SUCCESS &&
              bnbq_dequantize_blockwise(&ex, NULL, BNBQ_F32, (const uint8_t*)q, (const float*)am, 1024, 64, out) ==
                  BNBQ_SUCCESS;
        ok += bnbq_int8_vectorwise_quant(&ex, BNBQ_F16, x, 4, 64, 6.0f, (int8_t*)q, (float*)am, (int32_t*)oc,
                                         (int32_t*)oc + 64) == BNBQ_SUCCESS;
        ok += bnbq_gemv_4bit(&ex, BNBQ_NF4, BNBQ_F16, x, (const uint8_t*)q, (const float*)am, 16, 128, 64, out,
                             NULL, NULL) == BNBQ_SUCCESS;
        ok += bnbq_cuda_synchronize(&ex) == BNBQ_SUCCESS;
    }
    bnbq_cuda_free(ctx, x);
    bnbq_cuda_free(ctx, q);
    bnbq_cuda_free(ctx, am);
    bnbq_cuda_free(ctx, out);
    bnbq_cuda_free(ctx, oc);
    bnbq_exec_uninit(&ex);
    return ok;
}

static int run_from_cache(const char* dir, int* hits, int* compiled) {
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    int ran;
    log_reset();
    if (fake_init(dir, 1, &ctx) != BNBQ_SUCCESS || !ctx) return 0;
    ran = run_ops(ctx);
    st = stats_of(ctx);
    *hits = st.disk_hits;
    *compiled = st.units_compiled;
    bnbq_cuda_uninit(ctx);
    return ran;
}

/* A unit is one kernel of a variant: each kernel an operation asks for is compiled, cached and
   loaded on its own; a second context loads exactly those; an entry of another unit copied under a
   unit's name is a foreign entry (rejected, recompiled, rewritten); a kernel the file does not
   define, or a variant that is not registered, is NOT_SUPPORTED without compiling. */
static void t_fake_units(void) {
    const char* dir;
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    int fs[FS_N], files, ran;
    char kq[2048], pq[1200], kd[2048], pd[1200];
    if (!fake_ready() || !(dir = make_tmpdir())) return;
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 1");
    if (!ctx) return;
    ran = run_ops(ctx);
    CHECK(ran == 5, "ctx 1: %d of 5 operations ran; %s", ran, log_first(BNBQ_LOG_ERROR));
    st = stats_of(ctx);
    files = count_files(dir, ".bnbqk", NULL);
    fake_stats(fs);
    /* convert 1, blockwise 2, int8 vector-wise 2 or 3, gemv 1 */
    CHECK(st.units_compiled >= 6 && st.modules == st.units_compiled && files == st.units_compiled &&
          fs[FS_MODULES] == st.modules && st.disk_hits == 0,
          "ctx 1: %d compiled, %d modules (fake: %d), %d entries, %d hits", st.units_compiled, st.modules,
          fs[FS_MODULES], files, st.disk_hits);
    CHECK(st.compile_seconds > 0.0, "compile_seconds %.4f", st.compile_seconds);
    bnbq_cuda_uninit(ctx);
    /* the two kernels of the blockwise variant are two entries, each holding its own kernel only */
    runtime_key("quant", "BNBQ_OPS=1 BNBQ_DT=0", "bnbq_k_quant8", 90, 0, dir, kq, sizeof kq, pq, sizeof pq);
    runtime_key("quant", "BNBQ_OPS=1 BNBQ_DT=0", "bnbq_k_dequant8", 90, 0, dir, kd, sizeof kd, pd, sizeof pd);
    CHECK(strcmp(pq, pd) != 0 && file_exists(pq) && file_exists(pd), "no separate entries for quant8 / dequant8");
    {
        size_t len = 0, i;
        int bad = 0, other = 0;
        unsigned char* img = bnbq__cache_read(pq, kq, BNBQ__KIND_CUBIN, 90, &len, &bad);
        CHECK(img != NULL, "the quant8 entry does not validate");
        for (i = 0; img && i + 15 <= len; i++)
            if (memcmp(img + i, "bnbq_k_dequant8", 15) == 0) other = 1;
        CHECK(img && !other, "the quant8 unit holds bnbq_k_dequant8");
        free(img);
    }
    /* ctx 2: everything from disk */
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 2");
    if (!ctx) return;
    ran = run_ops(ctx);
    {
        bnbq_cuda_stats s2 = stats_of(ctx);
        CHECK(ran == 5 && s2.units_compiled == 0 && s2.disk_hits == st.units_compiled && s2.disk_rejected == 0 &&
              s2.modules == st.units_compiled, "ctx 2: %d ran, %d compiled, %d hits (want %d), %d rejected",
              ran, s2.units_compiled, s2.disk_hits, st.units_compiled, s2.disk_rejected);
        CHECK(s2.load_seconds > 0.0 && s2.compile_seconds == 0.0, "load %.5f s, compile %.5f s", s2.load_seconds,
              s2.compile_seconds);
    }
    /* unknown kernels and variants: NOT_SUPPORTED, nothing compiled or loaded */
    {
        bnbq_exec ex;
        bnbq__CUfunction f = NULL;
        bnbq_cuda_stats s3;
        bnbq_cuda_exec_init(ctx, NULL, &ex);
        log_reset();
        CHECK(bnbq__cu_kernel(&ex, "convert", "", "bnbq_k_nope", &f) == BNBQ_ERROR_NOT_SUPPORTED, "unknown kernel");
        CHECK(bnbq__cu_kernel(&ex, "convert", "", "bnbq_k_quant8", &f) == BNBQ_ERROR_NOT_SUPPORTED,
              "a kernel of another file");
        CHECK(bnbq__cu_kernel(&ex, "quant", "BNBQ_OPS=9", "bnbq_k_quant8", &f) == BNBQ_ERROR_NOT_SUPPORTED,
              "an unregistered variant");
        CHECK(g_log.n[BNBQ_LOG_ERROR] == 3 && log_find(BNBQ_LOG_ERROR, "bnbq_k_nope", "not registered"),
              "%d ERROR lines: %s", g_log.n[BNBQ_LOG_ERROR], log_first(BNBQ_LOG_ERROR));
        s3 = stats_of(ctx);
        CHECK(s3.units_compiled == 0 && s3.modules == st.units_compiled, "compiled %d, modules %d", s3.units_compiled,
              s3.modules);
        bnbq_exec_uninit(&ex);
    }
    bnbq_cuda_uninit(ctx);
    /* the dequant8 entry copied under quant8's name: foreign -> WARN, recompiled, rewritten */
    {
        size_t rl = 0;
        unsigned char* raw = read_whole(pd, &rl);
        CHECK(raw && write_whole(pq, raw, rl), "cannot copy the entry");
        free(raw);
    }
    log_reset();
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "ctx 3");
    if (!ctx) return;
    ran = run_ops(ctx);
    {
        bnbq_cuda_stats s4 = stats_of(ctx);
        CHECK(ran == 5 && s4.disk_rejected == 1 && s4.units_compiled == 1 && s4.disk_hits == st.units_compiled - 1,
              "foreign entry: %d ran, rejected %d, compiled %d, hits %d", ran, s4.disk_rejected, s4.units_compiled,
              s4.disk_hits);
        CHECK(log_find(BNBQ_LOG_WARN, "damaged", NULL) != NULL, "no WARN about the foreign entry");
        CHECK(!rejected(pq, kq, BNBQ__KIND_CUBIN, 90), "the foreign entry was not rewritten");
    }
    bnbq_cuda_uninit(ctx);
    fake_stats(fs);
    CHECK(fs[FS_MODULES] == 0 && fs[FS_RETAINS] == 0 && fs[FS_DEPTH] == 0 && fs[FS_ALLOCS] == 0,
          "leftovers: %d modules, %d retains, depth %d, %d allocations", fs[FS_MODULES], fs[FS_RETAINS],
          fs[FS_DEPTH], fs[FS_ALLOCS]);
    detail("5 operations -> %d units (one kernel each, one entry each); ctx 2 loads all %d from disk; a foreign "
           "entry is recompiled; unknown kernel / file / variant -> NOT_SUPPORTED", st.units_compiled, st.units_compiled);
}

/* A program whose kernels are all in the disk cache never opens NVRTC (a dlopen of some
   milliseconds): the entry is written by a child process (which loads NVRTC), then this process's
   context runs convert from it with NVRTC allowed but not loaded; bnbq_cuda_query_device opens it */
static void t_fake_nvrtc_lazy(void) {
    const char* dir;
    bnbq_cuda* ctx = NULL;
    bnbq_cuda_stats st;
    bnbq_cuda_device_info info;
    pid_t pid;
    int status = -1;
    memset(&info, 0, sizeof info);
    if (!fake_cuda()) { skip("BNBQ_TEST_FAKE_CUDA is not set"); return; }
    if (!(dir = make_tmpdir())) { CHECK(0, "mkdtemp failed"); return; }
    CHECK(!bnbq__cuda_global.nvrtc.loaded, "NVRTC loaded before the test");
    fflush(stdout);
    pid = fork();
    if (pid == 0) _exit(nvrtc_loaded() && write_one(dir, "convert", "", "bnbq_k_convert", 90, 0) ? 0 : 1);
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child could not write the entry");
    setenv("FAKE_CUDA_CC", "9.0", 1);
    log_reset();
    CHECK(fake_init(dir, 0, &ctx) == BNBQ_SUCCESS, "init");
    if (!ctx) return;
    CHECK(!bnbq__cuda_global.nvrtc.loaded, "bnbq_cuda_init opened NVRTC");
    CHECK(fake_convert(ctx, 100) == BNBQ_SUCCESS, "convert from the cache");
    st = stats_of(ctx);
    CHECK(st.disk_hits == 1 && st.units_compiled == 0, "hits %d, compiled %d", st.disk_hits, st.units_compiled);
    CHECK(!bnbq__cuda_global.nvrtc.loaded, "a cached kernel opened NVRTC");
    CHECK(bnbq_cuda_query_device(ctx, &info) == BNBQ_SUCCESS && bnbq__cuda_global.nvrtc.loaded &&
          info.nvrtc_version == bnbq__cuda_global.nvrtc.version && info.target_arch == 90 && !info.target_is_ptx,
          "query_device: NVRTC %d (loaded %d), target %d ptx %d", info.nvrtc_version, bnbq__cuda_global.nvrtc.loaded,
          info.target_arch, info.target_is_ptx);
    bnbq_cuda_uninit(ctx);
    detail("a cached kernel ran without opening NVRTC; query_device opened it (NVRTC %d, sm_%d)", info.nvrtc_version,
           info.target_arch);
}

/* ---- embed.c's guards ----------------------------------------------------------------------- */

static const char* embed_tool(void) {
    const char* p = getenv("BNBQ_TEST_EMBED");
    return (p && *p) ? p : "build/embed";
}

/* NVRTC on text (PTX for compute_<arch>) with options; returns the .entry names, space-separated
   and sorted as they come, in out (empty on failure) and the log in log. */
static int nvrtc_entries(const char* text, int arch, const char* const* extra, int nextra, char* out, size_t cap,
                         char* log, size_t log_cap) {
    char opt_buf[1024];
    const char* opts[32];
    unsigned char* ptx = NULL;
    size_t len = 0, used = 0;
    int nopts = bnbq__cu_options("", NULL, arch, 1, opt_buf, sizeof opt_buf, opts, 24), i;
    bnbq__nvrtcProgram prog = NULL;
    const char* p;
    out[0] = 0;
    log[0] = 0;
    for (i = 0; i < nextra && nopts < 32; i++) opts[nopts++] = extra[i];
    if (BNBQ__NV.bnbq__nvrtcCreateProgram(&prog, text, "embed_cases.cu", 0, NULL, NULL) != 0) return 0;
    if (BNBQ__NV.bnbq__nvrtcCompileProgram(prog, nopts, opts) != 0) {
        size_t ll = 0;
        if (BNBQ__NV.bnbq__nvrtcGetProgramLogSize(prog, &ll) == 0 && ll > 0 && ll < log_cap)
            BNBQ__NV.bnbq__nvrtcGetProgramLog(prog, log);
        BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
        return 0;
    }
    if (BNBQ__NV.bnbq__nvrtcGetPTXSize(prog, &len) == 0 && len > 0 && (ptx = (unsigned char*)malloc(len)) != NULL &&
        BNBQ__NV.bnbq__nvrtcGetPTX(prog, (char*)ptx) == 0) {
        ptx[len - 1] = 0;
        for (p = strstr((const char*)ptx, ".entry "); p; p = strstr(p + 7, ".entry ")) {
            size_t l = strspn(p + 7, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$");
            if (used + l + 2 < cap) {
                if (used) out[used++] = ' ';
                memcpy(out + used, p + 7, l);
                used += l;
                out[used] = 0;
            }
        }
    }
    free(ptx);
    BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
    return 1;
}

/* 1 when the space-separated name lists a and b hold the same names */
static int same_names(const char* a, const char* b) {
    char buf[512], *tok, *save = NULL;
    size_t na = 0, nb = 0;
    snprintf(buf, sizeof buf, "%s", a);
    for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        const char* hit = strstr(b, tok);
        size_t l = strlen(tok);
        na++;
        if (!hit || (hit != b && hit[-1] != ' ') || (hit[l] != 0 && hit[l] != ' ')) return 0;
    }
    snprintf(buf, sizeof buf, "%s", b);
    for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) nb++;
    return na == nb;
}

/* runs `embed --transform src out`, output (kernel names) into names; returns the exit status */
static int run_embed(const char* src, const char* out, char* names, size_t cap, char* err, size_t err_cap) {
    char cmd[3000], outp[1200], errp[1200];
    unsigned char* t;
    size_t l = 0;
    int rc;
    snprintf(outp, sizeof outp, "%s.names", out);
    snprintf(errp, sizeof errp, "%s.err", out);
    snprintf(cmd, sizeof cmd, "'%s' --transform '%s' '%s' >'%s' 2>'%s'", embed_tool(), src, out, outp, errp);
    rc = system(cmd);
    names[0] = 0;
    err[0] = 0;
    if ((t = read_whole(outp, &l)) != NULL) {
        size_t i;
        for (i = 0; i < l && i + 1 < cap; i++) names[i] = t[i] == '\n' ? ' ' : (char)t[i];
        names[i < cap ? i : cap - 1] = 0;
        while (i > 0 && names[i - 1] == ' ') names[--i] = 0;
        free(t);
    }
    if ((t = read_whole(errp, &l)) != NULL) {
        snprintf(err, err_cap, "%.*s", (int)(l < err_cap ? l : err_cap - 1), (const char*)t);
        free(t);
    }
    remove(outp);
    remove(errp);
    return rc;
}

/* kernels_src/embed.c's transformation on tests/embed_cases.cu (comments, strings, raw strings and
   character literals with braces, #if branches inside a body, kernels inside #if / #else, text after
   a closing brace, declarations, templates, extern "C" device functions): the kernel list, each
   kernel compiled alone, the LIST stubs, the whole file, NVRTC's line numbers; and sources it must
   refuse with a message */
static void t_embed_guards(void) {
    const char* dir;
    char out[1100], names[512], err[1000], entries[512], log[8000];
    unsigned char* text;
    size_t tl = 0;
    int arch, rc, i, m;
    static const char* const k_all[2] = { "k_plain k_bounds k_mode k_raw", "k_plain k_bounds k_mode k_only_mode0 k_raw" };
    if (access(embed_tool(), X_OK) != 0) { skip("%s is not built (make build/embed)", embed_tool()); return; }
    if (!nvrtc_loaded()) { CHECK(0, "NVRTC is needed"); return; }
    if (!(dir = make_tmpdir())) { CHECK(0, "mkdtemp failed"); return; }
    arch = bnbq__cuda_global.nvrtc.archs[0];
    snprintf(out, sizeof out, "%s/embed_cases.cu", dir);
    rc = run_embed("tests/embed_cases.cu", out, names, sizeof names, err, sizeof err);
    CHECK(rc == 0, "embed --transform failed (%d): %s", rc, err);
    CHECK(!strcmp(names, "k_plain k_bounds k_mode k_only_mode0 k_raw"), "kernel list '%s'", names);
    text = read_whole(out, &tl);
    CHECK(text != NULL, "no output");
    if (!text || rc != 0) { free(text); return; }
    {
        char* t = (char*)realloc(text, tl + 1);
        if (!t) { free(text); return; }
        text = (unsigned char*)t;
        text[tl] = 0;
    }
    for (m = 0; m <= 1; m++) {
        const char* mode = m ? "-DMODE=0" : "-DMODE=1";
        char want[512], kbuf[64], *tok, *save = NULL;
        const char* ex[4];
        /* the whole file, and LIST stubs: every kernel this mode defines */
        ex[0] = mode;
        CHECK(nvrtc_entries((const char*)text, arch, ex, 1, entries, sizeof entries, log, sizeof log) &&
              same_names(entries, k_all[m]), "%s whole file: entries '%s' (want '%s') %.300s", mode, entries, k_all[m], log);
        ex[1] = "-DBNBQ_LIST_KERNELS";
        CHECK(nvrtc_entries((const char*)text, arch, ex, 2, entries, sizeof entries, log, sizeof log) &&
              same_names(entries, k_all[m]), "%s LIST: entries '%s' (want '%s') %.300s", mode, entries, k_all[m], log);
        /* each kernel alone */
        snprintf(want, sizeof want, "%s", k_all[m]);
        for (tok = strtok_r(want, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            snprintf(kbuf, sizeof kbuf, "-DBNBQ_K_%s", tok);
            ex[1] = "-DBNBQ_ONE_KERNEL";
            ex[2] = kbuf;
            CHECK(nvrtc_entries((const char*)text, arch, ex, 3, entries, sizeof entries, log, sizeof log) &&
                  !strcmp(entries, tok), "%s %s alone: entries '%s' %.300s", mode, tok, entries, log);
        }
        /* a kernel the mode leaves out: nothing */
        ex[1] = "-DBNBQ_ONE_KERNEL";
        ex[2] = "-DBNBQ_K_k_only_mode0";
        if (!m)
            CHECK(nvrtc_entries((const char*)text, arch, ex, 3, entries, sizeof entries, log, sizeof log) &&
                  entries[0] == 0, "MODE=1 k_only_mode0: entries '%s'", entries);
    }
    {   /* NVRTC's messages carry the file's own line numbers */
        const char* ex[3] = { "-DMODE=1", "-DEMBED_TEST_ERROR", "-DBNBQ_ONE_KERNEL" };
        unsigned char* src = read_whole("tests/embed_cases.cu", &tl);
        char want[64];
        int line = 1;
        for (i = 0; src && i < (int)tl && memcmp(src + i, "#error embed-guards", 19) != 0; i++) line += src[i] == '\n';
        snprintf(want, sizeof want, "embed_cases.cu(%d)", line);
        free(src);
        nvrtc_entries((const char*)text, arch, ex, 2, entries, sizeof entries, log, sizeof log);
        CHECK(strstr(log, want) != NULL, "the #error is not reported at %s: %.300s", want, log);
        ex[1] = "-DBNBQ_K_k_raw";   /* k_raw alone with the error: the same line */
        {
            const char* ex2[4] = { "-DMODE=1", "-DEMBED_TEST_ERROR", "-DBNBQ_ONE_KERNEL", "-DBNBQ_K_k_raw" };
            nvrtc_entries((const char*)text, arch, ex2, 4, entries, sizeof entries, log, sizeof log);
            CHECK(strstr(log, want) != NULL, "k_raw alone: the #error is not reported at %s: %.300s", want, log);
        }
    }
    free(text);
    {   /* sources embed must refuse (exit status != 0, a message naming the file and line) */
        static const char* const bad[][2] = {
            { "branches", "extern \"C\" __global__ void k(int* p) {\n#if A\n    if (p) {\n#else\n    {\n    {\n#endif\n    }\n}\n" },
            { "straddle", "#if A\nextern \"C\" __global__ void k(int* p) {\n#else\nextern \"C\" __global__ void k(int* p) {\n#endif\n}\n" },
            { "open-group", "extern \"C\" __global__ void k(int* p) {\n#if A\n    {\n#endif\n}\n" },
            { "comment", "extern \"C\" __global__ void k(int* p) { /* never closed\n}\n" },
            { "not-line-start", "__device__ int x; extern \"C\" __global__ void k(int* p) { }\n" },
            { "no-close", "extern \"C\" __global__ void k(int* p) {\n    {\n}\n" },
        };
        for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
            char src[1200];
            snprintf(src, sizeof src, "%s/%s.cu", dir, bad[i][0]);
            write_whole(src, bad[i][1], strlen(bad[i][1]));
            snprintf(out, sizeof out, "%s/%s.out", dir, bad[i][0]);
            rc = run_embed(src, out, names, sizeof names, err, sizeof err);
            CHECK(rc != 0 && strstr(err, bad[i][0]) != NULL && strstr(err, ".cu:") != NULL,
                  "embed accepted '%s' (status %d, message '%s')", bad[i][0], rc, err);
            remove(out);
        }
    }
    detail("5 kernels found (2 modes); each compiles alone, LIST stubs and the whole file give the same kernels, "
           "#line keeps NVRTC's line numbers, 6 bad sources refused");
}

/* ================================================================================================ */

typedef struct scenario { const char* name; void (*fn)(void); } scenario;
static const scenario k_scenarios[] = {
    { "loader-nowhere", t_loader_nowhere },
    { "loader-stub", t_loader_stub },
    { "loader-too-old", t_loader_too_old },
    { "loader-fake-complete", t_fake_complete },
    { "loader-fake-codes", t_loader_fake_codes },
    { "api-null", t_api_null },
    { "nvrtc-version", t_nvrtc_version },
    { "nvrtc-bogus-path", t_nvrtc_bogus },
    { "nvrtc-env", t_nvrtc_env },
    { "nvrtc-not-nvrtc", t_nvrtc_not_nvrtc },
    { "cache-roundtrip", t_cache_roundtrip },
    { "cache-flip", t_cache_flip },
    { "cache-truncate", t_cache_truncate },
    { "cache-trailing", t_cache_trailing },
    { "cache-foreign-key", t_cache_foreign_key },
    { "cache-kind-arch", t_cache_kind_arch },
    { "cache-name", t_cache_name },
    { "cache-concurrent", t_cache_concurrent },
    { "cache-unwritable", t_cache_unwritable },
    { "cache-dir-order", t_cache_dir_order },
    { "precompile-sm90", t_precompile_sm90 },
    { "precompile-ptx", t_precompile_ptx },
    { "precompile-bad-arch", t_precompile_bad_arch },
    { "fake-context", t_fake_context },
    { "fake-cache-env", t_fake_cache_env },
    { "fake-cache-reuse", t_fake_cache_reuse },
    { "fake-cache-damaged", t_fake_cache_damaged },
    { "fake-precompiled", t_fake_precompiled },
    { "fake-arch", t_fake_arch },
    { "fake-bad-input", t_fake_bad_input },
    { "fake-units", t_fake_units },
    { "fake-nvrtc-lazy", t_fake_nvrtc_lazy },
    { "fake-pdl", t_fake_pdl },
    { "fake-gemm-sm90a", t_fake_gemm_wg },
    { "fake-tiered", t_fake_tiered },
    { "embed-guards", t_embed_guards },
};
#define NSCENARIOS ((int)(sizeof k_scenarios / sizeof k_scenarios[0]))

int main(int argc, char** argv) {
    int i, a, found = -1;
    const char* want = NULL;
    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--list")) {
            for (i = 0; i < NSCENARIOS; i++) printf("%s\n", k_scenarios[i].name);
            return 0;
        } else if (!strcmp(argv[a], "-v")) {
            g_verbose = 1;
        } else if (!strcmp(argv[a], "--quick")) {
            g_quick = 1;
        } else {
            want = argv[a];
        }
    }
    if (!want) {
        fprintf(stderr, "usage: test_cuda [-v] [--quick] SCENARIO | --list   (tests/test_cuda.sh runs them all)\n");
        return 2;
    }
    for (i = 0; i < NSCENARIOS; i++)
        if (!strcmp(k_scenarios[i].name, want)) found = i;
    if (found < 0) {
        printf("FAIL %s: no such scenario\n", want);
        return 1;
    }
    g_name = want;
    bnbq__cu_tier_force = -1;   /* the other scenarios count compilations, loads and cache files: no tiers */
    k_scenarios[found].fn();
    for (i = 0; i < g_ntmp; i++) rm_tree(g_tmp[i]);
    if (g_skipped && g_fails == 0) {
        printf("skip %s: %s\n", g_name, g_skip_reason);
        return 0;
    }
    if (g_fails == 0 && g_checks > 0) {
        printf("ok %s%s%s\n", g_name, g_detail[0] ? ": " : "", g_detail);
        return 0;
    }
    if (g_checks == 0) snprintf(g_first, sizeof g_first, "no checks ran");
    printf("FAIL %s: %s", g_name, g_first);
    if (g_fails > 1) printf(" (%d of %d checks failed)", g_fails, g_checks);
    printf("\n");
    return 1;
}
