/* bnbq_precompile.c - fill a bnbq kernel cache for a list of GPU architectures, on a machine with
   NVRTC and without a GPU. Ship the directory with your program and point bnbq_cuda_desc.cache_dir
   (or BNBQ_CACHE_DIR) at it; with disable_nvrtc = 1 the program then needs no NVRTC at all.

   usage: bnbq_precompile --arch sm_80,sm_86,sm_90 --out DIR [--ptx] [--nvrtc PATH] [--jobs N] [-q]
          (the architectures may also be written 80,86,90)
     --ptx     write PTX instead of cubin (the driver compiles it for the GPU it finds: one PTX
               entry serves that architecture and every newer one, at a JIT cost on first load)
     --nvrtc   the libnvrtc to use (default: BNBQ_NVRTC_PATH, then the usual search)
     --jobs    compile on N threads (default: one per CPU; bnbq.h's BNBQ_PTHREADS pool, not on
               Windows): the whole table for one architecture takes ~30 s on one core
     -q        print only errors and the summary

   One entry per unit: one kernel of one variant (a kernels_src file and its -D defines), as bnbq
   compiles and loads them at run time.

   Exit status: 0 every unit was compiled and written for every architecture; 1 a unit failed
   to compile, an architecture is unknown to this NVRTC, or an entry could not be written; 2 bad
   arguments; 3 NVRTC was not found.

   Build: cc -std=c99 -O2 -I. examples/bnbq_precompile.c -o bnbq_precompile -lm
          (older glibc: add -ldl -lpthread)   `make all` builds build/bnbq_precompile. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#if !defined(_WIN32)
#define BNBQ_PTHREADS   /* bnbq_thread_pool for --jobs */
#endif
#include "bnbq_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if !defined(_WIN32)
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#define MAX_ARCHS 32

static int g_quiet;

static void print_log(void* user, bnbq_log_level level, const char* func, const char* msg) {
    (void)user;
    if (level == BNBQ_LOG_ERROR) fprintf(stderr, "error: %s: %s\n", func, msg);
    else if (level == BNBQ_LOG_WARN) fprintf(stderr, "warning: %s: %s\n", func, msg);
    else if (level == BNBQ_LOG_INFO && !g_quiet) printf("  %s\n", msg);
}

static int parse_archs(const char* s, int* archs, int* n) {
    const char* p = s;
    *n = 0;
    while (*p) {
        char* end;
        long v;
        if (strncmp(p, "sm_", 3) == 0 || strncmp(p, "SM_", 3) == 0) p += 3;
        else if (strncmp(p, "compute_", 8) == 0) p += 8;
        v = strtol(p, &end, 10);
        if (end == p || v < 30 || v > 1000 || *n >= MAX_ARCHS) return 0;
        archs[(*n)++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return 0;
    }
    return *n > 0;
}

/* the number and total size of cache entries in dir (-1 when it cannot be listed) */
static long count_entries(const char* dir, double* bytes) {
    long n = 0;
    *bytes = 0.0;
#if defined(_WIN32)
    (void)dir;
    return -1;
#else
    {
        DIR* d = opendir(dir);
        struct dirent* e;
        if (!d) return -1;
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            char path[2048];
            struct stat st;
            if (l < 6 || strcmp(e->d_name + l - 6, ".bnbqk") != 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (stat(path, &st) == 0) *bytes += (double)st.st_size;
            n++;
        }
        closedir(d);
    }
    return n;
#endif
}

static void usage(FILE* f) {
    fprintf(f, "usage: bnbq_precompile --arch sm_80,sm_86,sm_90 --out DIR [--ptx] [--nvrtc PATH] [--jobs N] [-q]\n"
               "  fills DIR with bnbq's compiled kernels (every kernel of every variant, one entry each)\n"
               "  for each architecture.\n"
               "  exit: 0 ok, 1 compile/write failures, 2 bad arguments, 3 no NVRTC\n");
}

int main(int argc, char** argv) {
    int archs[MAX_ARCHS], narchs = 0, ptx = 0, i, version = 0, failed = 0, written = 0, jobs = 0;
    const char* out = NULL;
    const char* nvrtc = NULL;
    double bytes = 0.0, secs = 0.0;
    long entries;
    bnbq_result r;
#if defined(BNBQ_PTHREADS)
    bnbq_thread_pool* pool = NULL;
#endif
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            if (!parse_archs(argv[++i], archs, &narchs)) {
                fprintf(stderr, "bnbq_precompile: bad architecture list '%s'\n", argv[i]);
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--nvrtc") && i + 1 < argc) {
            nvrtc = argv[++i];
        } else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
            jobs = atoi(argv[++i]);
            if (jobs < 1 || jobs > 1024) {
                fprintf(stderr, "bnbq_precompile: bad --jobs '%s'\n", argv[i]);
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(argv[i], "--ptx")) {
            ptx = 1;
        } else if (!strcmp(argv[i], "-q")) {
            g_quiet = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "bnbq_precompile: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!narchs || !out || !*out) {
        usage(stderr);
        return 2;
    }
    r = bnbq_cuda_nvrtc_version(nvrtc, &version);
    if (r != BNBQ_SUCCESS) {
        fprintf(stderr, "bnbq_precompile: %s. Install the CUDA toolkit's NVRTC (or `pip install "
                        "nvidia-cuda-nvrtc`) and set BNBQ_NVRTC_PATH or --nvrtc to its libnvrtc.so.\n",
                bnbq_result_description(r));
        return 3;
    }
#if defined(BNBQ_PTHREADS)
    if (jobs == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = n > 0 ? (n > 1024 ? 1024 : (int)n) : 1;
    }
    if (jobs > 1 && bnbq_thread_pool_create(jobs, &pool) != BNBQ_SUCCESS) {
        fprintf(stderr, "bnbq_precompile: could not start %d threads; compiling on one\n", jobs);
        pool = NULL;
        jobs = 1;
    }
#else
    jobs = 1;
#endif
    printf("bnbq %s, NVRTC %d.%d: %s for", BNBQ_VERSION_STRING, version / 1000, (version % 1000) / 10,
           ptx ? "PTX" : "cubin");
    for (i = 0; i < narchs; i++) printf(" sm_%d", archs[i]);
    printf(" into %s on %d thread%s\n", out, jobs, jobs > 1 ? "s" : "");
    for (i = 0; i < narchs; i++) {
        bnbq_cuda_precompile_desc d;
        bnbq_cuda_precompile_report rep;
        memset(&d, 0, sizeof d);
        d.archs = &archs[i];
        d.num_archs = 1;
        d.cache_dir = out;
        d.nvrtc_path = nvrtc;
        d.emit_ptx = ptx;
        d.logger.func = print_log;
#if defined(BNBQ_PTHREADS)
        if (pool) {
            d.parallel_for = bnbq_thread_pool_parallel_for;
            d.parallel_for_user_data = pool;
        }
#endif
        r = bnbq_cuda_precompile(&d, &rep);
        written += rep.written;
        failed += rep.failed + (r != BNBQ_SUCCESS && rep.failed == 0);
        secs += rep.seconds;
        if (!g_quiet || r != BNBQ_SUCCESS)
            printf("%s sm_%d: %d variants, %d units, %d compiled, %d written, %d failed (%.2f s of NVRTC, slowest unit "
                   "%.2f s)%s%s\n", r == BNBQ_SUCCESS ? "ok" : "FAIL", archs[i], rep.variants, rep.units,
                   rep.compiled, rep.written, rep.failed, rep.seconds, rep.max_unit_seconds, r == BNBQ_SUCCESS ? "" : ": ",
                   r == BNBQ_SUCCESS ? "" : bnbq_result_description(r));
    }
#if defined(BNBQ_PTHREADS)
    if (pool) bnbq_thread_pool_destroy(pool);
#endif
    entries = count_entries(out, &bytes);
    printf("bnbq_precompile: wrote %d %s entries for %d architecture%s (%.1f s of NVRTC over the threads), %d failures",
           written, ptx ? "PTX" : "cubin", narchs, narchs > 1 ? "s" : "", secs, failed);
    if (entries >= 0) printf("; %s holds %ld entries, %.2f MB", out, entries, bytes / 1e6);
    printf("\n");
    if (!g_quiet && failed == 0)
        printf("use it: bnbq_cuda_desc d = {0}; d.cache_dir = \"%s\"; d.disable_nvrtc = 1;  (or BNBQ_CACHE_DIR)\n", out);
    return failed ? 1 : 0;
}
