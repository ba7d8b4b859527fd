/* nvrtc_check.c - `make nvrtc-check`: every unit of bnbq_cuda.h -- every kernel of every registered
   variant, compiled alone as bnbq compiles it at run time -- compiles with NVRTC for every
   architecture bnbq supports. Needs NVRTC, not a GPU or a driver.

   build/nvrtc_check [--arch 75,80,86,89,90] [--jobs N] [--nvrtc PATH] [--probe]

   --probe: only whether bnbq finds an NVRTC that compiles (an empty kernel for the first --arch):
   exit status 0 / 1 (.ci/run asks this before it installs NVRTC from PyPI)

   Each architecture is compiled by bnbq_cuda_precompile() (dry_run = 1) in its own child process
   (up to --jobs at a time; default: the number of CPUs), so the architectures compile in parallel.
   A child's log lines (bnbq's logger) come back through a pipe and are printed under its
   architecture. When an architecture has failures, every variant of it is compiled once more
   directly through NVRTC to print the failing unit's variant, defines, kernel and NVRTC's full log
   (bnbq's log line is cut at 400 characters).

   Output: one "ok sm_XY ..." / "FAIL sm_XY ..." line per architecture, then
       nvrtc-check: V variants x A archs: U units, C compiled, F failures (max unit X.XX s)
       C passed, F failed
   Exit status 0 only when every unit compiled for every architecture; 1 on any failure and
   when NVRTC cannot be loaded (the message says how to get it); 2 on bad arguments. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARCHS 16

typedef struct arch_result {
    int    arch;
    int    variants, units, compiled, failed;
    double seconds, max_unit;
    int    result;             /* bnbq_result of the precompile call */
    int    crashed;            /* the child did not report */
    char*  log;                /* the child's log lines (malloc'd) */
} arch_result;

/* ---- child side: log lines and the report go to fd ---------------------------------------- */

static int g_out_fd = 1;

static void write_all(int fd, const char* s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

static void child_logger(void* user, bnbq_log_level level, const char* func, const char* msg) {
    char line[1024];
    int n;
    (void)user;
    if (level > BNBQ_LOG_WARN) return;   /* errors and warnings only */
    n = snprintf(line, sizeof line, "    %s %s: %s\n", level == BNBQ_LOG_ERROR ? "ERROR" : "WARN",
                 func, msg);
    if (n > 0) write_all(g_out_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void compile_arch(int arch, const char* nvrtc_path, arch_result* out) {
    bnbq_cuda_precompile_desc d;
    bnbq_cuda_precompile_report rep;
    memset(&d, 0, sizeof d);
    memset(&rep, 0, sizeof rep);
    d.archs = &arch;
    d.num_archs = 1;
    d.nvrtc_path = nvrtc_path;
    d.dry_run = 1;
    d.logger.func = child_logger;
    out->result = (int)bnbq_cuda_precompile(&d, &rep);
    out->arch = arch;
    out->variants = rep.variants;
    out->units = rep.units;
    out->compiled = rep.compiled;
    out->failed = rep.failed;
    out->seconds = rep.seconds;
    out->max_unit = rep.max_unit_seconds;
}

/* Compiles one unit (kernel NULL: the whole file) directly through NVRTC; on failure prints its
   variant, kernel, options and NVRTC's log. Returns 0 when it compiled. */
static int explain_one(const bnbq__cu_variant* var, const char* kernel, int arch, const char* program) {
    char opt_buf[1024], line[2048], cu_name[96];
    const char* opts[24];
    bnbq__nvrtcProgram prog = NULL;
    int nopts, e, n;
    size_t ll = 0;
    char* log = NULL;
    nopts = bnbq__cu_options(var->defines, kernel, arch, 0, opt_buf, sizeof opt_buf, opts, 24);
    if (nopts < 0) {
        n = snprintf(line, sizeof line, "    variant %s [%s]: the options do not fit\n", var->unit, var->defines);
        write_all(g_out_fd, line, (size_t)n);
        return 1;
    }
    snprintf(cu_name, sizeof cu_name, "%.60s.cu", var->unit);
    e = (int)BNBQ__NV.bnbq__nvrtcCreateProgram(&prog, program, cu_name, 0, NULL, NULL);
    if (e == 0) e = (int)BNBQ__NV.bnbq__nvrtcCompileProgram(prog, nopts, opts);
    if (e != 0) {
        int k;
        n = snprintf(line, sizeof line, "    variant %s [%s], %s, for sm_%d: %s; options:", var->unit,
                     var->defines, kernel ? kernel : "the whole file", arch,
                     BNBQ__NV.bnbq__nvrtcGetErrorString((bnbq__nvrtcResult)e));
        write_all(g_out_fd, line, (size_t)n);
        for (k = 0; k < nopts; k++) {
            write_all(g_out_fd, " ", 1);
            write_all(g_out_fd, opts[k], strlen(opts[k]));
        }
        write_all(g_out_fd, "\n", 1);
        if (prog && BNBQ__NV.bnbq__nvrtcGetProgramLogSize(prog, &ll) == 0 && ll > 1) {
            log = (char*)malloc(ll + 1);
            if (log && BNBQ__NV.bnbq__nvrtcGetProgramLog(prog, log) == 0) {
                const char* p = log;
                int lines = 0;
                log[ll] = 0;
                while (*p && lines < 80) {
                    const char* nl = strchr(p, '\n');
                    size_t len = nl ? (size_t)(nl - p) : strlen(p);
                    write_all(g_out_fd, "      | ", 8);
                    write_all(g_out_fd, p, len);
                    write_all(g_out_fd, "\n", 1);
                    lines++;
                    p += len + (nl ? 1 : 0);
                }
                if (*p) write_all(g_out_fd, "      | ... (log cut at 80 lines)\n", 34);
            }
            free(log);
        }
    }
    if (prog) BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
    return e != 0;
}

/* Compiles every unit for arch directly through NVRTC and prints the failing ones with NVRTC's
   whole log. Uses bnbq_cuda.h's own option, program and kernel-list builders (same translation
   unit), so it compiles exactly what bnbq_cuda_precompile compiles. */
static void explain_failures(int arch) {
    int v, n;
    char line[2048];
    n = snprintf(line, sizeof line, "    (NVRTC's file names and line numbers are those of kernels_src/: "
                 "the embedded text carries #line directives)\n");
    write_all(g_out_fd, line, (size_t)n);
    for (v = 0; v < bnbq__cu_num_variants(); v++) {
        const bnbq__cu_variant* var = bnbq__cu_variant_at(v);
        const char* kernels[64];
        char* program = bnbq__cu_program_text(var->unit);
        int nk, k;
        if (!program) {
            n = snprintf(line, sizeof line, "    variant %s [%s]: no source for the unit\n",
                         var->unit, var->defines);
            write_all(g_out_fd, line, (size_t)n);
            continue;
        }
        nk = bnbq__cu_list_kernels(NULL, var->unit, var->defines, arch, program, kernels, 64, NULL);
        if (nk <= 0) {   /* the file itself does not compile (or defines no kernel here) */
            if (!explain_one(var, NULL, arch, program)) {
                n = snprintf(line, sizeof line, "    variant %s [%s]: %s\n", var->unit, var->defines,
                             nk == 0 ? "defines no kernel" : "listing its kernels failed");
                write_all(g_out_fd, line, (size_t)n);
            }
        } else {
            for (k = 0; k < nk; k++) explain_one(var, kernels[k], arch, program);
        }
        free(program);
    }
}

static void child_main(int arch, const char* nvrtc_path, int fd) {
    arch_result r;
    char line[256];
    int n;
    g_out_fd = fd;
    memset(&r, 0, sizeof r);
    compile_arch(arch, nvrtc_path, &r);
    if (r.failed > 0 && BNBQ__NV.loaded) explain_failures(arch);
    n = snprintf(line, sizeof line, "@report %d %d %d %d %d %.6f %.6f\n", r.result, r.variants,
                 r.units, r.compiled, r.failed, r.seconds, r.max_unit);
    write_all(fd, line, (size_t)n);
}

/* ---- parent side ------------------------------------------------------------------------------ */

static char* read_fd(int fd) {
    size_t cap = 4096, len = 0;
    char* buf = (char*)malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        ssize_t r;
        if (len + 1024 > cap) {
            char* nb = (char*)realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = 0;
    return buf;
}

/* Splits the child's output into its log and its report line. */
static void parse_child(char* text, arch_result* r) {
    char* rep = text ? strstr(text, "@report ") : NULL;
    r->crashed = 1;
    r->log = text;
    if (!rep) return;
    if (sscanf(rep, "@report %d %d %d %d %d %lf %lf", &r->result, &r->variants, &r->units, &r->compiled,
               &r->failed, &r->seconds, &r->max_unit) == 7)
        r->crashed = 0;
    *rep = 0;   /* the log is what came before */
}

static int parse_archs(const char* s, int* archs, int* n) {
    char buf[256];
    char* tok;
    char* save = NULL;
    if (strlen(s) >= sizeof buf) return 0;
    strcpy(buf, s);
    *n = 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char* e;
        long v;
        if (strncmp(tok, "sm_", 3) == 0) tok += 3;
        v = strtol(tok, &e, 10);
        if (*e || v < 10 || v > 1000 || *n >= MAX_ARCHS) return 0;
        archs[(*n)++] = (int)v;
    }
    return *n > 0;
}

static void usage(void) {
    fprintf(stderr, "usage: nvrtc_check [--arch 75,80,86,89,90] [--jobs N] [--nvrtc PATH] [--probe]\n");
}

int main(int argc, char** argv) {
    int archs[MAX_ARCHS] = { 75, 80, 86, 89, 90 };
    int narchs = 5, jobs = 0, i, version = 0, next = 0, total_c = 0, total_f = 0, variants = 0, units = 0;
    double max_unit = 0.0;
    const char* nvrtc_path = NULL;
    arch_result res[MAX_ARCHS];
    bnbq_result r;
    int probe = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            if (!parse_archs(argv[++i], archs, &narchs)) { usage(); return 2; }
        } else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
            jobs = atoi(argv[++i]);
            if (jobs < 1) { usage(); return 2; }
        } else if (!strcmp(argv[i], "--nvrtc") && i + 1 < argc) {
            nvrtc_path = argv[++i];
        } else if (!strcmp(argv[i], "--probe")) {
            probe = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (jobs == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = n > 0 ? (int)n : 1;
    }
    if (jobs > narchs) jobs = narchs;

    r = bnbq_cuda_nvrtc_version(nvrtc_path, &version);
    if (r != BNBQ_SUCCESS) {
        printf("FAIL nvrtc-check: NVRTC cannot be loaded: %s (%s)\n", bnbq_result_description(r),
               bnbq_result_name(r));
        printf("  bnbq looks for libnvrtc.so.13, .12, .11.2, libnvrtc.so, $CUDA_PATH/lib64 and\n"
               "  /usr/local/cuda/lib64 (and first BNBQ_NVRTC_PATH, or --nvrtc PATH). Get it with the\n"
               "  CUDA toolkit (Debian/Ubuntu with NVIDIA's repository: apt-get install cuda-nvrtc-13-0)\n"
               "  or from PyPI without root:\n"
               "    python3 -m pip install --target .ci/nvrtc nvidia-cuda-nvrtc\n"
               "    export BNBQ_NVRTC_PATH=$(find .ci/nvrtc -name 'libnvrtc.so.*' | grep -v builtins | head -n 1)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (probe) {   /* one empty kernel, compiled as bnbq compiles its units */
        char opt_buf[256];
        const char* opts[8];
        unsigned char* img = NULL;
        size_t len = 0;
        bnbq_exec log_ex;
        int nopts = bnbq__cu_options("", NULL, archs[0], 0, opt_buf, sizeof opt_buf, opts, 8);
        memset(&log_ex, 0, sizeof log_ex);
        r = nopts < 0 ? BNBQ_ERROR_INVALID_ARGS
                      : bnbq__nvrtc_compile(&log_ex, "probe", "extern \"C\" __global__ void k(void) {}\n", opts, nopts,
                                            0, &img, &len, NULL);
        free(img);
        printf("nvrtc-check --probe: NVRTC %d.%d from %s: %s for sm_%d\n", version / 1000, (version % 1000) / 10,
               bnbq__cuda_global.nvrtc.path, r == BNBQ_SUCCESS ? "compiles" : "does NOT compile", archs[0]);
        return r == BNBQ_SUCCESS ? 0 : 1;
    }
    {
        const bnbq__cu_nvrtc* nv = &bnbq__cuda_global.nvrtc;
        printf("nvrtc-check: NVRTC %d.%d from %s; it knows", version / 1000, (version % 1000) / 10,
               nv->path);
        for (i = 0; i < nv->num_archs; i++) printf(" %d", nv->archs[i]);
        printf("; %d job%s\n", jobs, jobs > 1 ? "s" : "");
        fflush(stdout);
    }

    memset(res, 0, sizeof res);
    {
        /* up to `jobs` children at a time; each writes into its own pipe */
        int fds[MAX_ARCHS];
        pid_t pids[MAX_ARCHS];
        while (next < narchs) {
            int batch_end = next + jobs < narchs ? next + jobs : narchs;
            for (i = next; i < batch_end; i++) {
                int p[2];
                if (pipe(p) != 0) { perror("pipe"); return 1; }
                fflush(stdout);
                pids[i] = fork();
                if (pids[i] < 0) { perror("fork"); return 1; }
                if (pids[i] == 0) {
                    int k;
                    close(p[0]);
                    for (k = next; k < i; k++) close(fds[k]);
                    child_main(archs[i], nvrtc_path, p[1]);
                    close(p[1]);
                    _exit(0);
                }
                close(p[1]);
                fds[i] = p[0];
            }
            for (i = next; i < batch_end; i++) {
                parse_child(read_fd(fds[i]), &res[i]);
                close(fds[i]);
                waitpid(pids[i], NULL, 0);
                res[i].arch = archs[i];
            }
            next = batch_end;
        }
    }

    for (i = 0; i < narchs; i++) {
        arch_result* a = &res[i];
        if (a->crashed) {
            printf("FAIL sm_%d: the compiling process ended without a report\n", a->arch);
            if (a->log && *a->log) fputs(a->log, stdout);
            total_f += variants > 0 ? variants : 1;
        } else {
            if (a->variants > variants) variants = a->variants;
            total_c += a->compiled;
            total_f += a->failed;
            if (a->max_unit > max_unit) max_unit = a->max_unit;
            units += a->units;
            if (a->failed == 0 && a->result == BNBQ_SUCCESS && a->compiled == a->units && a->units > 0) {
                printf("ok sm_%d: %d variants, %d units (kernels) compiled, %.2f s (slowest unit %.2f s)\n",
                       a->arch, a->variants, a->compiled, a->seconds, a->max_unit);
            } else {
                printf("FAIL sm_%d: %d of %d units compiled, %d failed (%s)\n", a->arch,
                       a->compiled, a->units, a->failed,
                       bnbq_result_name((bnbq_result)a->result));
                if (a->failed == 0) total_f++;   /* e.g. no units at all */
            }
            if (a->log && *a->log) fputs(a->log, stdout);
        }
        free(a->log);
    }
    printf("nvrtc-check: %d variants x %d archs: %d units, %d compiled, %d failures (max unit %.2f s)\n",
           variants, narchs, units, total_c, total_f, max_unit);
    printf("%d passed, %d failed\n", total_c, total_f);
    return (total_f == 0 && total_c == units && units > 0) ? 0 : 1;
}
