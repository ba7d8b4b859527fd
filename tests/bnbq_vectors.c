/* bnbq_vectors.c - the bitsandbytes test-vector runner.

   build/bnbq_vectors [--gpu] DIR...

   Every DIR holds case folders (tests/vectors/README.md, "Layout"). The runner runs every folder,
   dispatches on the folder name's prefix (longest prefix first; op= and semantics= are never used),
   feeds bnbq only the INPUTS the "Runner rules" table lists for the family (plus the meta
   arguments), and compares bnbq's outputs with the stored bitsandbytes outputs in the mode the
   table names: exact, allowance (the bounded reciprocal allowance, algorithms.md 2.6), offset or
   tolerance(T). It prints one line per case (PASS / FAIL / SKIP), the counts per family, and as
   its last line "N passed, N failed, N skipped". Exit status 0 only when nothing failed and at
   least one case ran.

   Rules kept here (README "Runner rules"): no per-case special treatment, no expected-failure
   lists, nothing read from check.* keys or reference tensors. Every stored output of a case must
   be compared (or, for the weight state of the 4-bit matmul cases, consumed as the input the
   table names), otherwise the case fails. Every in-scope family must have at least one case in
   each DIR. The layer families run bnbq's layers and research functions: switchback_ through
   the SwitchBackLinear layer (forward + backward), matmul_fp8_ through bnbq_matmul_fp8_* and
   linear8bitlt_ through the Linear8bitLt layer (its own quantized weight is compared, the stored
   one feeds `out`); their cascade exemption follows the README table (ambiguous intermediate
   codes found with the allowance's decision functions).

   Every bnbq operation goes through the single `bnbq_exec* ex` of the case (NULL: the CPU
   reference). Tensors reach bnbq through to_exec() / exec_alloc() and come back through
   from_exec(); on the CPU these are host memory.

   --gpu: the same cases on the CUDA backend (bnbq_cuda.h). CUDA is initialised once (a failure
   prints the reason and exits with status 2) and every case runs on one CUDA exec: to_exec()
   allocates device memory and copies the input there, exec_alloc() allocates device memory and
   fills it with the poison pattern, from_exec() synchronises and copies back into host memory
   the case owns; device memory is freed when the case ends. The comparisons are the CPU's, except
   gemv4_ `out` (README "Runner rules": exact if the kernel keeps the reference's summation order,
   otherwise tolerance(dtype)): it is compared exactly first, and under tolerance(dtype) only when
   that fails; the case line and a closing summary say which applied. Outputs in exec memory (the
   nested offset, the outlier count and list) are read back from the device like every other
   output. Build: cc ... tests/bnbq_vectors.c -lm -ldl -lpthread.
   --gpu-plumbing (tests/test_cuda.sh only): --gpu against the fake driver of tests/fake_libcuda.c,
   whose device memory is host memory, with the CPU kernels: checks the device copies above. */
#define _POSIX_C_SOURCE 200809L
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq_cuda.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------------------------ */
/* element types of the vector files                                                          */

enum vtype { VT_F32 = 0, VT_F16, VT_BF16, VT_U8, VT_I8, VT_I32, VT_I64, VT_COUNT };
#define VT_ANY (-1)
static const char* const VT_NAME[VT_COUNT] = {"f32", "f16", "bf16", "u8", "i8", "i32", "i64"};
static const size_t VT_SIZE[VT_COUNT] = {4, 2, 2, 1, 1, 4, 8};

#define ANY_NUMEL ((size_t)-1)
#define MAX_DIMS 8
#define MAX_TENSORS 64
#define MAX_META_BYTES (1u << 20)

typedef struct tensor {
    char* name;
    enum vtype type;
    size_t numel;
    int ndim;
    size_t shape[MAX_DIMS];
    void* data; /* host memory, numel * VT_SIZE[type] bytes (at least 1 byte allocated) */
} tensor;

typedef struct kv {
    char* key;
    char* val;
} kv;

typedef struct vcase {
    const char* dir;  /* the case folder */
    const char* name; /* the folder name */
    bnbq_exec* ex;    /* every bnbq operation of the case runs on this exec; NULL = CPU */
    int gpu_rules;    /* 1: the GPU backend's comparison rules (gemv4_ out with tolerance) */
    char* meta_text;
    kv* kvs;
    size_t nkv;
    tensor tensors[MAX_TENSORS];
    size_t ntensors;
    void** allocs;
    size_t nallocs, capallocs;
    bnbq_cuda* gpu;   /* --gpu: the CUDA context of ex; NULL on the CPU */
    void** dallocs;   /* device memory of the case, freed when it ends */
    size_t ndallocs, capdallocs;
    int failed;
    char reason[4096];
    size_t reason_len;
    char notes[2048];
    size_t notes_len;
} vcase;

/* ------------------------------------------------------------------------------------------ */
/* small utilities                                                                            */

static void append_v(char* buf, size_t cap, size_t* len, const char* fmt, va_list ap) {
    int w;
    if (*len + 1 >= cap) return;
    w = vsnprintf(buf + *len, cap - *len, fmt, ap);
    if (w < 0) return;
    if ((size_t)w >= cap - *len) {
        *len = cap - 1;
        if (cap > 4) memcpy(buf + cap - 4, "...", 4);
    } else {
        *len += (size_t)w;
    }
}

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#define PRINTF_LIKE(a, b)
#endif

/* Records a failure of the case; reasons accumulate, separated by "; ". */
static void failf(vcase* c, const char* fmt, ...) PRINTF_LIKE(2, 3);
static void failf(vcase* c, const char* fmt, ...) {
    va_list ap;
    if (c->reason_len > 0 && c->reason_len + 3 < sizeof c->reason) {
        memcpy(c->reason + c->reason_len, "; ", 3);
        c->reason_len += 2;
    }
    va_start(ap, fmt);
    append_v(c->reason, sizeof c->reason, &c->reason_len, fmt, ap);
    va_end(ap);
    c->failed = 1;
}

/* Annotations of a passing comparison (allowance counts, tolerance figures). */
static void notef(vcase* c, const char* fmt, ...) PRINTF_LIKE(2, 3);
static void notef(vcase* c, const char* fmt, ...) {
    va_list ap;
    if (c->notes_len > 0 && c->notes_len + 3 < sizeof c->notes) {
        memcpy(c->notes + c->notes_len, ", ", 3);
        c->notes_len += 2;
    }
    va_start(ap, fmt);
    append_v(c->notes, sizeof c->notes, &c->notes_len, fmt, ap);
    va_end(ap);
}

/* Case-owned allocation, freed when the case ends. Fails the case when out of memory. */
static void* cmalloc(vcase* c, size_t bytes) {
    void* p;
    if (c->nallocs == c->capallocs) {
        size_t ncap = c->capallocs ? c->capallocs * 2 : 32;
        void** na = (void**)realloc(c->allocs, ncap * sizeof *na);
        if (!na) {
            failf(c, "out of memory");
            return NULL;
        }
        c->allocs = na;
        c->capallocs = ncap;
    }
    p = malloc(bytes ? bytes : 1);
    if (!p) {
        failf(c, "out of memory (%zu bytes)", bytes);
        return NULL;
    }
    c->allocs[c->nallocs++] = p;
    return p;
}

static char* cstrdup(vcase* c, const char* s) {
    size_t n = strlen(s) + 1;
    char* p = (char*)cmalloc(c, n);
    if (p) memcpy(p, s, n);
    return p;
}

/* a * b without wrapping; 0 on overflow */
static int mul_ok(size_t a, size_t b, size_t* out) {
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

static size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }

/* Float32 operations, each rounded on its own (volatile: no contraction, no excess precision). */
static float f32_mul(float a, float b) {
    volatile float r = a * b;
    return r;
}
static float f32_div(float a, float b) {
    volatile float r = a / b;
    return r;
}
static float f32_sub(float a, float b) {
    volatile float r = a - b;
    return r;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static int host_is_big_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* the exec boundary: every tensor bnbq reads or writes passes through these three             */

/* --gpu: case-owned device memory (freed when the case ends). Fails the case on error. */
static void* dmalloc(vcase* c, size_t bytes) {
    void* p = NULL;
    bnbq_result r;
    if (c->ndallocs == c->capdallocs) {
        size_t ncap = c->capdallocs ? c->capdallocs * 2 : 32;
        void** na = (void**)realloc(c->dallocs, ncap * sizeof *na);
        if (!na) {
            failf(c, "out of memory");
            return NULL;
        }
        c->dallocs = na;
        c->capdallocs = ncap;
    }
    r = bnbq_cuda_malloc(c->gpu, bytes ? bytes : 1, &p);
    if (r != BNBQ_SUCCESS) {
        failf(c, "bnbq_cuda_malloc(%zu) returned %s", bytes, bnbq_result_name(r));
        return NULL;
    }
    c->dallocs[c->ndallocs++] = p;
    return p;
}

/* An input tensor in the exec's memory (CPU: the host buffer itself; GPU: a device copy). */
static const void* to_exec(vcase* c, const void* host, size_t bytes) {
    void* d;
    bnbq_result r;
    if (!c->gpu) {
        (void)bytes;
        return host;
    }
    if (!(d = dmalloc(c, bytes))) return NULL;
    r = bnbq_cuda_memcpy(c->ex, d, host, bytes, BNBQ_COPY_HOST_TO_DEVICE);
    if (r != BNBQ_SUCCESS) {
        failf(c, "copy to the device returned %s", bnbq_result_name(r));
        return NULL;
    }
    return d;
}

/* An output buffer in the exec's memory, filled with a poison pattern so that elements bnbq does
   not write never compare equal by accident. */
static void* exec_alloc(vcase* c, size_t bytes) {
    void* p;
    if (c->gpu) {
        bnbq_result r;
        if (!(p = dmalloc(c, bytes))) return NULL;
        r = bnbq_cuda_memset(c->ex, p, 0xA5, bytes ? bytes : 1);
        if (r != BNBQ_SUCCESS) {
            failf(c, "poisoning device memory returned %s", bnbq_result_name(r));
            return NULL;
        }
        return p;
    }
    p = cmalloc(c, bytes);
    if (p) memset(p, 0xA5, bytes ? bytes : 1);
    return p;
}

/* The host view of an exec buffer (CPU: the buffer itself; GPU: synchronise, then a host copy
   owned by the case). Never NULL: a failed copy fails the case and returns the poison pattern. */
static const void* from_exec(vcase* c, const void* xbuf, size_t bytes) {
    void* h;
    bnbq_result r;
    if (!c->gpu) {
        (void)bytes;
        return xbuf;
    }
    h = cmalloc(c, bytes);
    if (!h) {
        printf("FAIL %s: out of host memory (%zu bytes)\n", c->name, bytes);
        exit(1);
    }
    memset(h, 0xA5, bytes ? bytes : 1);
    if (!xbuf) {
        failf(c, "reading back an exec buffer that was never allocated");
        return h;
    }
    r = bnbq_cuda_memcpy(c->ex, h, xbuf, bytes, BNBQ_COPY_DEVICE_TO_HOST);
    if (r == BNBQ_SUCCESS) r = bnbq_cuda_synchronize(c->ex);
    if (r != BNBQ_SUCCESS) {
        failf(c, "reading back from the device returned %s", bnbq_result_name(r));
        memset(h, 0xA5, bytes ? bytes : 1);
    }
    return h;
}

static int call_ok(vcase* c, bnbq_result r, const char* what) {
    if (r == BNBQ_SUCCESS) return 1;
    failf(c, "%s returned %s (%s)", what, bnbq_result_name(r), bnbq_result_description(r));
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* meta.txt                                                                                   */

static int parse_meta(vcase* c) {
    char path[4096];
    FILE* f;
    long size;
    size_t got, i, nlines = 0, line_no = 0;
    char *p, *end;
    if ((size_t)snprintf(path, sizeof path, "%s/meta.txt", c->dir) >= sizeof path) {
        failf(c, "path too long");
        return 0;
    }
    f = fopen(path, "rb");
    if (!f) {
        failf(c, "cannot open meta.txt: %s", strerror(errno));
        return 0;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        failf(c, "cannot read meta.txt");
        return 0;
    }
    if ((unsigned long)size > MAX_META_BYTES) {
        fclose(f);
        failf(c, "meta.txt is larger than %u bytes", MAX_META_BYTES);
        return 0;
    }
    c->meta_text = (char*)cmalloc(c, (size_t)size + 1);
    if (!c->meta_text) {
        fclose(f);
        return 0;
    }
    got = fread(c->meta_text, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        failf(c, "meta.txt: short read");
        return 0;
    }
    c->meta_text[size] = '\0';
    if (memchr(c->meta_text, '\0', (size_t)size)) {
        failf(c, "meta.txt contains a NUL byte");
        return 0;
    }
    if (size == 0) {
        failf(c, "meta.txt is empty");
        return 0;
    }
    for (i = 0; i < (size_t)size; i++)
        if (c->meta_text[i] == '\n') nlines++;
    nlines++;
    c->kvs = (kv*)cmalloc(c, nlines * sizeof *c->kvs);
    if (!c->kvs) return 0;
    p = c->meta_text;
    while (*p) {
        char *nl = strchr(p, '\n'), *eq;
        size_t k;
        line_no++;
        end = nl ? nl : p + strlen(p);
        if (nl) *nl = '\0';
        if (end > p && end[-1] == '\r') end[-1] = '\0';
        if (*p == '\0') { /* a blank line */
            if (!nl) break;
            p = nl + 1;
            continue;
        }
        eq = strchr(p, '=');
        if (!eq) {
            failf(c, "meta.txt line %zu has no '='", line_no);
            return 0;
        }
        *eq = '\0';
        if (eq == p) {
            failf(c, "meta.txt line %zu has an empty key", line_no);
            return 0;
        }
        for (k = 0; k < c->nkv; k++)
            if (strcmp(c->kvs[k].key, p) == 0) {
                failf(c, "meta.txt: duplicate key '%s'", p);
                return 0;
            }
        c->kvs[c->nkv].key = p;
        c->kvs[c->nkv].val = eq + 1;
        c->nkv++;
        if (!nl) break;
        p = nl + 1;
    }
    if (c->nkv == 0) {
        failf(c, "meta.txt has no keys");
        return 0;
    }
    return 1;
}

static const char* meta(const vcase* c, const char* key) {
    size_t i;
    for (i = 0; i < c->nkv; i++)
        if (strcmp(c->kvs[i].key, key) == 0) return c->kvs[i].val;
    return NULL;
}

static const char* meta_req(vcase* c, const char* key) {
    const char* v = meta(c, key);
    if (!v) failf(c, "meta.txt has no '%s'", key);
    return v;
}

static int parse_size(const char* s, size_t* out) {
    unsigned long long v;
    char* e;
    if (!s || *s < '0' || *s > '9') return 0;
    errno = 0;
    v = strtoull(s, &e, 10);
    if (errno || *e != '\0' || v > (unsigned long long)(size_t)-1) return 0;
    *out = (size_t)v;
    return 1;
}

static int parse_long(const char* s, long* out) {
    long v;
    char* e;
    if (!s || !*s || !(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9'))) return 0;
    errno = 0;
    v = strtol(s, &e, 10);
    if (errno || *e != '\0') return 0;
    *out = v;
    return 1;
}

static int parse_double(const char* s, double* out) {
    double v;
    char* e;
    if (!s || !*s || *s == ' ' || *s == '\t') return 0;
    errno = 0;
    v = strtod(s, &e);
    if (errno || *e != '\0' || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_bool(const char* s, int* out) {
    if (!s) return 0;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "1")) {
        *out = 1;
        return 1;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "0")) {
        *out = 0;
        return 1;
    }
    return 0;
}

/* comma-separated dimensions */
static int parse_dims(const char* s, size_t* dims, int maxd, int* nd) {
    char buf[256];
    char* tok;
    char* save = NULL;
    int n = 0;
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len + 1);
    if (buf[len - 1] == ',' || buf[0] == ',' || strstr(buf, ",,")) return 0;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= maxd || !parse_size(tok, &dims[n])) return 0;
        n++;
    }
    *nd = n;
    return n > 0;
}

/* Integer meta argument in [lo, hi]; required, or dflt when absent. */
static int meta_long(vcase* c, const char* key, long lo, long hi, int required, long dflt,
                     long* out) {
    const char* v = meta(c, key);
    if (!v) {
        if (required) {
            failf(c, "meta.txt has no '%s'", key);
            return 0;
        }
        *out = dflt;
        return 1;
    }
    if (!parse_long(v, out) || *out < lo || *out > hi) {
        failf(c, "meta '%s=%s' is not an integer in [%ld, %ld]", key, v, lo, hi);
        return 0;
    }
    return 1;
}

static int meta_bool(vcase* c, const char* key, int required, int dflt, int* out) {
    const char* v = meta(c, key);
    if (!v) {
        if (required) {
            failf(c, "meta.txt has no '%s'", key);
            return 0;
        }
        *out = dflt;
        return 1;
    }
    if (!parse_bool(v, out)) {
        failf(c, "meta '%s=%s' is not a boolean", key, v);
        return 0;
    }
    return 1;
}

static int meta_double(vcase* c, const char* key, int required, double dflt, double* out) {
    const char* v = meta(c, key);
    if (!v) {
        if (required) {
            failf(c, "meta.txt has no '%s'", key);
            return 0;
        }
        *out = dflt;
        return 1;
    }
    if (!parse_double(v, out)) {
        failf(c, "meta '%s=%s' is not a finite number", key, v);
        return 0;
    }
    return 1;
}

/* exactly nd dimensions, each > 0 */
static int meta_dims(vcase* c, const char* key, int nd, size_t* dims) {
    const char* v = meta_req(c, key);
    int got = 0, i;
    if (!v) return 0;
    if (!parse_dims(v, dims, MAX_DIMS, &got) || got != nd) {
        failf(c, "meta '%s=%s' is not %d dimensions", key, v, nd);
        return 0;
    }
    for (i = 0; i < nd; i++)
        if (dims[i] == 0) {
            failf(c, "meta '%s=%s' has a zero dimension", key, v);
            return 0;
        }
    return 1;
}

static int vt_from_name(const char* s, enum vtype* t) {
    int i;
    for (i = 0; i < VT_COUNT; i++)
        if (!strcmp(s, VT_NAME[i])) {
            *t = (enum vtype)i;
            return 1;
        }
    return 0;
}

static bnbq_dtype vt_dtype(enum vtype t) {
    switch (t) {
        case VT_F32: return BNBQ_F32;
        case VT_F16: return BNBQ_F16;
        case VT_BF16: return BNBQ_BF16;
        case VT_U8: return BNBQ_U8;
        case VT_I8: return BNBQ_I8;
        case VT_I32: return BNBQ_I32;
        default: return BNBQ_I64;
    }
}

/* meta 'dtype' (f32 / f16 / bf16) */
static int meta_float_dtype(vcase* c, enum vtype* vt) {
    const char* v = meta_req(c, "dtype");
    if (!v) return 0;
    if (!vt_from_name(v, vt) || (*vt != VT_F32 && *vt != VT_F16 && *vt != VT_BF16)) {
        failf(c, "meta 'dtype=%s' is not f32, f16 or bf16", v);
        return 0;
    }
    return 1;
}

static int meta_quant_type(vcase* c, bnbq_quant_type* qt) {
    const char* v = meta_req(c, "quant_type");
    if (!v) return 0;
    if (!strcmp(v, "nf4")) *qt = BNBQ_NF4;
    else if (!strcmp(v, "fp4")) *qt = BNBQ_FP4;
    else {
        failf(c, "meta 'quant_type=%s' is not nf4 or fp4", v);
        return 0;
    }
    return 1;
}

static int meta_blocksize(vcase* c, const char* key, int required, long dflt, int* bs) {
    long v;
    if (!meta_long(c, key, 1, INT_MAX, required, dflt, &v)) return 0;
    *bs = (int)v;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* tensors                                                                                    */

static tensor* find_loaded(vcase* c, const char* name) {
    size_t i;
    for (i = 0; i < c->ntensors; i++)
        if (!strcmp(c->tensors[i].name, name)) return &c->tensors[i];
    return NULL;
}

static int tensor_key(vcase* c, char* buf, size_t cap, const char* name, const char* field) {
    if ((size_t)snprintf(buf, cap, "tensor.%s.%s", name, field) >= cap) {
        failf(c, "tensor name too long");
        return 0;
    }
    return 1;
}

static int has_tensor(const vcase* c, const char* name) {
    char key[256];
    if ((size_t)snprintf(key, sizeof key, "tensor.%s.file", name) >= sizeof key) return 0;
    return meta(c, key) != NULL;
}

/* Loads tensor `name` (checked: type, shape, numel, file size). want: VT_ANY or a type; numel:
   ANY_NUMEL or the element count the family needs. required = 0: returns NULL without failing
   when the meta names no such tensor. Any other problem fails the case and returns NULL. */
static tensor* load_tensor(vcase* c, const char* name, int want, size_t numel, int required) {
    char key[256], path[4096];
    const char *file, *type_s, *shape_s, *numel_s;
    tensor* t = find_loaded(c, name);
    enum vtype type;
    size_t dims[MAX_DIMS] = {0}, prod = 1, meta_numel, bytes, got;
    int nd = 0, i;
    FILE* f;
    struct stat st;
    if (t) goto check;
    if (!tensor_key(c, key, sizeof key, name, "file")) return NULL;
    file = meta(c, key);
    if (!file) {
        if (required) failf(c, "tensor '%s' is missing (no %s in meta.txt)", name, key);
        return NULL;
    }
    if (!tensor_key(c, key, sizeof key, name, "type")) return NULL;
    type_s = meta(c, key);
    if (!tensor_key(c, key, sizeof key, name, "shape")) return NULL;
    shape_s = meta(c, key);
    if (!tensor_key(c, key, sizeof key, name, "numel")) return NULL;
    numel_s = meta(c, key);
    if (!type_s || !shape_s || !numel_s) {
        failf(c, "tensor '%s': meta.txt lacks its type, shape or numel", name);
        return NULL;
    }
    if (!vt_from_name(type_s, &type)) {
        failf(c, "tensor '%s': unknown type '%s'", name, type_s);
        return NULL;
    }
    if (!parse_dims(shape_s, dims, MAX_DIMS, &nd)) {
        failf(c, "tensor '%s': bad shape '%s'", name, shape_s);
        return NULL;
    }
    for (i = 0; i < nd; i++)
        if (!mul_ok(prod, dims[i], &prod)) {
            failf(c, "tensor '%s': shape '%s' overflows", name, shape_s);
            return NULL;
        }
    if (!parse_size(numel_s, &meta_numel) || meta_numel != prod) {
        failf(c, "tensor '%s': numel '%s' does not match shape '%s'", name, numel_s, shape_s);
        return NULL;
    }
    if (!*file || strchr(file, '/') || strchr(file, '\\') || !strcmp(file, ".") ||
        !strcmp(file, "..")) {
        failf(c, "tensor '%s': bad file name '%s'", name, file);
        return NULL;
    }
    if (!mul_ok(prod, VT_SIZE[type], &bytes)) {
        failf(c, "tensor '%s': size overflows", name);
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", c->dir, file) >= sizeof path) {
        failf(c, "tensor '%s': path too long", name);
        return NULL;
    }
    if (c->ntensors == MAX_TENSORS) {
        failf(c, "more than %d tensors", MAX_TENSORS);
        return NULL;
    }
    f = fopen(path, "rb");
    if (!f) {
        failf(c, "tensor '%s': cannot open %s: %s", name, file, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        failf(c, "tensor '%s': %s is not a regular file", name, file);
        return NULL;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size != (unsigned long long)bytes) {
        fclose(f);
        failf(c, "tensor '%s': %s has %lld bytes, expected %zu (numel %zu x %zu)", name, file,
              (long long)st.st_size, bytes, prod, VT_SIZE[type]);
        return NULL;
    }
    t = &c->tensors[c->ntensors];
    memset(t, 0, sizeof *t);
    t->data = cmalloc(c, bytes);
    t->name = cstrdup(c, name);
    if (!t->data || !t->name) {
        fclose(f);
        return NULL;
    }
    got = bytes ? fread(t->data, 1, bytes, f) : 0;
    fclose(f);
    if (got != bytes) {
        failf(c, "tensor '%s': short read of %s", name, file);
        return NULL;
    }
    if (host_is_big_endian() && VT_SIZE[type] > 1) {
        unsigned char* b = (unsigned char*)t->data;
        size_t e, k, es = VT_SIZE[type];
        for (e = 0; e < prod; e++)
            for (k = 0; k < es / 2; k++) {
                unsigned char tmp = b[e * es + k];
                b[e * es + k] = b[e * es + es - 1 - k];
                b[e * es + es - 1 - k] = tmp;
            }
    }
    t->type = type;
    t->numel = prod;
    t->ndim = nd;
    memcpy(t->shape, dims, sizeof dims);
    c->ntensors++;
check:
    if (want != VT_ANY && (int)t->type != want) {
        failf(c, "tensor '%s' has type %s, expected %s", name, VT_NAME[t->type], VT_NAME[want]);
        return NULL;
    }
    if (numel != ANY_NUMEL && t->numel != numel) {
        failf(c, "tensor '%s' has %zu elements, expected %zu", name, t->numel, numel);
        return NULL;
    }
    return t;
}

static tensor* need(vcase* c, const char* name, int want, size_t numel) {
    return load_tensor(c, name, want, numel, 1);
}

#define NEED(var, name, want, numel)                  \
    do {                                              \
        (var) = need(c, (name), (want), (numel));     \
        if (!(var)) return;                           \
    } while (0)

/* 2-D tensor (rows, cols); more dims flatten into rows */
static int dims2(vcase* c, const tensor* t, size_t* rows, size_t* cols) {
    if (t->ndim < 1 || t->numel == 0) {
        failf(c, "tensor '%s' is empty", t->name);
        return 0;
    }
    *cols = t->shape[t->ndim - 1];
    *rows = t->numel / *cols;
    return 1;
}

static int strict_2d(vcase* c, const tensor* t, size_t* rows, size_t* cols) {
    if (t->ndim != 2 || t->numel == 0) {
        failf(c, "tensor '%s' is not a non-empty 2-D tensor", t->name);
        return 0;
    }
    *rows = t->shape[0];
    *cols = t->shape[1];
    return 1;
}

/* The element as float (exact widening of f16 / bf16). */
static float widen(enum vtype t, const void* data, size_t i) {
    switch (t) {
        case VT_F32: return ((const float*)data)[i];
        case VT_F16: return bnbq_f16_to_f32(((const uint16_t*)data)[i]);
        case VT_BF16: return bnbq_bf16_to_f32(((const uint16_t*)data)[i]);
        case VT_U8: return (float)((const uint8_t*)data)[i];
        case VT_I8: return (float)((const int8_t*)data)[i];
        case VT_I32: return (float)((const int32_t*)data)[i];
        default: return (float)((const int64_t*)data)[i];
    }
}

static double to_double(enum vtype t, const void* data, size_t i) {
    return (double)widen(t, data, i);
}

static void fmt_elem(char* buf, size_t cap, enum vtype t, const void* data, size_t i) {
    switch (t) {
        case VT_F32: {
            float f = ((const float*)data)[i];
            snprintf(buf, cap, "0x%08lx (%.9g)", (unsigned long)f32_bits(f), (double)f);
            break;
        }
        case VT_F16: {
            uint16_t h = ((const uint16_t*)data)[i];
            snprintf(buf, cap, "0x%04x (%.6g)", (unsigned)h, (double)bnbq_f16_to_f32(h));
            break;
        }
        case VT_BF16: {
            uint16_t h = ((const uint16_t*)data)[i];
            snprintf(buf, cap, "0x%04x (%.5g)", (unsigned)h, (double)bnbq_bf16_to_f32(h));
            break;
        }
        case VT_U8: snprintf(buf, cap, "%u", (unsigned)((const uint8_t*)data)[i]); break;
        case VT_I8: snprintf(buf, cap, "%d", (int)((const int8_t*)data)[i]); break;
        case VT_I32: snprintf(buf, cap, "%ld", (long)((const int32_t*)data)[i]); break;
        default: snprintf(buf, cap, "%lld", (long long)((const int64_t*)data)[i]); break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* comparison modes                                                                           */

/* exact: bnbq's n elements (same type as the stored tensor) equal the stored bits. */
static void cmp_exact(vcase* c, const char* label, const void* bq, const tensor* st) {
    size_t es = VT_SIZE[st->type], i, mism = 0, first = 0;
    const unsigned char* a = (const unsigned char*)bq;
    const unsigned char* b = (const unsigned char*)st->data;
    for (i = 0; i < st->numel; i++)
        if (memcmp(a + i * es, b + i * es, es) != 0) {
            if (mism == 0) first = i;
            mism++;
        }
    if (mism) {
        char x[64], y[64];
        fmt_elem(x, sizeof x, st->type, bq, first);
        fmt_elem(y, sizeof y, st->type, st->data, first);
        failf(c, "%s: %zu of %zu elements differ (exact); first at %zu: bnbq %s, stored %s", label,
              mism, st->numel, first, x, y);
    }
}

/* offset: one float32 whose raw bits differ from the stored one by at most 2. */
static void cmp_offset(vcase* c, const char* label, float bq, const tensor* st) {
    float s = ((const float*)st->data)[0];
    long long d = (long long)f32_bits(bq) - (long long)f32_bits(s);
    if (d < 0) d = -d;
    if (isnan(bq) || isnan(s) || d > 2)
        failf(c, "%s: bnbq 0x%08lx (%.9g), stored 0x%08lx (%.9g): %lld ulp apart (offset mode "
              "allows 2)", label, (unsigned long)f32_bits(bq), (double)bq,
              (unsigned long)f32_bits(s), (double)s, d);
    else
        notef(c, "%s: %lld ulp", label, d);
}

/* tolerance(T) by the output dtype T, over all elements, in double. */
static void cmp_tol(vcase* c, const char* label, const void* bq, const tensor* st) {
    double rel_lim, max_lim, sd = 0.0, ss = 0.0, md = 0.0, ms = 0.0, rel, mx;
    size_t i, worst = 0;
    switch (st->type) {
        case VT_F32: rel_lim = 1e-5; max_lim = 1e-5; break;
        case VT_F16: rel_lim = 2e-3; max_lim = 2e-3; break;
        case VT_BF16: rel_lim = 1e-2; max_lim = 1.6e-2; break;
        default:
            failf(c, "%s: tolerance mode needs a float output, got %s", label, VT_NAME[st->type]);
            return;
    }
    for (i = 0; i < st->numel; i++) {
        double b = to_double(st->type, bq, i), s = to_double(st->type, st->data, i);
        double d = (b == s) ? 0.0 : fabs(b - s);
        if (isnan(d)) d = INFINITY;
        sd += d * d;
        ss += s * s;
        if (d > md) {
            md = d;
            worst = i;
        }
        if (fabs(s) > ms) ms = fabs(s);
    }
    rel = sd == 0.0 ? 0.0 : (ss > 0.0 ? sqrt(sd) / sqrt(ss) : INFINITY);
    mx = md == 0.0 ? 0.0 : (ms > 0.0 ? md / ms : INFINITY);
    if (!(rel <= rel_lim) || !(mx <= max_lim)) {
        char x[64], y[64];
        fmt_elem(x, sizeof x, st->type, bq, worst);
        fmt_elem(y, sizeof y, st->type, st->data, worst);
        failf(c, "%s: rel %.3g (limit %.3g), max %.3g (limit %.3g); largest difference at %zu: "
              "bnbq %s, stored %s", label, rel, rel_lim, mx, max_lim, worst, x, y);
    } else {
        notef(c, "%s: rel %.2g max %.2g", label, rel, mx);
    }
}

/* ---- allowance ------------------------------------------------------------------------------ */

enum jkind {
    J_BLOCK8,  /* xh = f32(x * f32(1/m)); decision bnbq_code_index(code, xh)              */
    J_NESTED,  /* xh = f32(f32(x - offset) * f32(1/m)); decision bnbq_code_index(code, xh) */
    J_NF4,     /* xh = f32(x * f32(1/m)); decision bnbq_nf4_index                         */
    J_FP4,     /* xh = f32(x * f32(1/m)); decision bnbq_fp4_index                         */
    J_INT8ROW, /* y = f32(x * f32(127 * f32(1/m))); decision rint(y)                      */
    J_TRITON   /* xh = f32(x * f32(1/m)); decision rint(f32(127 * xh))                    */
};

typedef struct judge {
    enum jkind kind;
    const float* code;          /* J_BLOCK8 / J_NESTED: the 256-entry table bnbq decided with */
    const float* x;             /* per element: the input value                                */
    const float* m;             /* per element: bnbq's absmax / max of its block, row, column   */
    const unsigned char* exact; /* per element: 1 = outlier entry, must be exact (or NULL)     */
    float offset;               /* J_NESTED: the stored offset                                 */
} judge;

static float scaled_input(const judge* j, size_t i) {
    float inv = f32_div(1.0f, j->m[i]);
    switch (j->kind) {
        case J_NESTED: return f32_mul(f32_sub(j->x[i], j->offset), inv);
        case J_INT8ROW: return f32_mul(j->x[i], f32_mul(127.0f, inv));
        default: return f32_mul(j->x[i], inv);
    }
}

static int rint_code(float v) {
    if (!(fabsf(v) <= 1.0e6f)) return INT_MIN;
    return (int)rintf(v); /* round half to even in the default rounding mode */
}

static int decide(const judge* j, float v) {
    switch (j->kind) {
        case J_BLOCK8:
        case J_NESTED: return bnbq_code_index(j->code, v);
        case J_NF4: return bnbq_nf4_index(v);
        case J_FP4: return bnbq_fp4_index(v);
        case J_INT8ROW: return rint_code(v);
        default: return rint_code(f32_mul(127.0f, v));
    }
}

/* total order of floats with -0 < +0 */
static int fcmp_total(float a, float b) {
    if (a < b) return -1;
    if (a > b) return 1;
    if (signbit(a) && !signbit(b)) return -1;
    if (!signbit(a) && signbit(b)) return 1;
    return 0;
}

/* sign of value(a) - value(b) in the value order of the codes */
static int code_order(const judge* j, int a, int b) {
    int o = 0;
    switch (j->kind) {
        case J_BLOCK8:
        case J_NESTED:
            if (a >= 0 && a < 256 && b >= 0 && b < 256) o = fcmp_total(j->code[a], j->code[b]);
            break;
        case J_FP4:
            if (a >= 0 && a < 16 && b >= 0 && b < 16)
                o = fcmp_total(bnbq_fp4_value(a), bnbq_fp4_value(b));
            break;
        default: break;
    }
    if (o == 0) o = (a > b) - (a < b); /* NF4, integers; equal table values: index order */
    return o;
}

/* 1 when element i may differ: bnbq's decision on its own scaled input gives bnbq's code, and on
   the scaled input moved one or two float32 steps towards the stored code gives the stored code. */
static int allowed(const judge* j, size_t i, int bq, int sq, float* xh_out) {
    float v, t, m = j->m[i];
    int dir, step;
    *xh_out = NAN;
    if (m == 0.0f || !isfinite(m)) return 0; /* all-zero block / row: exact */
    v = scaled_input(j, i);
    *xh_out = v;
    if (j->exact && j->exact[i]) return 0; /* outlier entry: exact */
    if (decide(j, v) != bq) return 0;
    dir = code_order(j, sq, bq);
    if (dir == 0) return 0;
    t = v;
    for (step = 0; step < 2; step++) {
        t = nextafterf(t, dir > 0 ? INFINITY : -INFINITY);
        if (decide(j, t) == sq) return 1;
    }
    return 0;
}

/* allowance: bnbq's codes bq[0..n) against the stored codes sq[0..n). */
static void cmp_allow(vcase* c, const char* label, const int* bq, const int* sq, size_t n,
                      const judge* j) {
    size_t i, diff = 0, bad = 0, first_bad = 0, limit = ceil_div(n, 1000);
    int fb_b = 0, fb_s = 0;
    float fb_x = 0.0f;
    for (i = 0; i < n; i++) {
        float xh;
        if (bq[i] == sq[i]) continue;
        diff++;
        if (!allowed(j, i, bq[i], sq[i], &xh)) {
            if (bad == 0) {
                first_bad = i;
                fb_b = bq[i];
                fb_s = sq[i];
                fb_x = xh;
            }
            bad++;
        }
    }
    if (bad) {
        failf(c, "%s: %zu of %zu codes differ, %zu outside the allowance; first at %zu: bnbq %d, "
              "stored %d (scaled input 0x%08lx = %.9g%s)", label, diff, n, bad, first_bad, fb_b,
              fb_s, (unsigned long)f32_bits(fb_x), (double)fb_x,
              (j->exact && j->exact[first_bad]) ? ", outlier entry"
              : (j->m[first_bad] == 0.0f ? ", all-zero block/row" : ""));
    } else if (diff > limit) {
        failf(c, "%s: %zu of %zu codes differ within the allowance, more than ceil(1e-3*n) = %zu",
              label, diff, n, limit);
    } else {
        notef(c, "%s: %zu allowance", label, diff);
    }
}

static int* codes_u8(vcase* c, const uint8_t* p, size_t n) {
    int* r = (int*)cmalloc(c, n * sizeof *r);
    size_t i;
    if (r)
        for (i = 0; i < n; i++) r[i] = p[i];
    return r;
}

static int* codes_i8(vcase* c, const int8_t* p, size_t n) {
    int* r = (int*)cmalloc(c, n * sizeof *r);
    size_t i;
    if (r)
        for (i = 0; i < n; i++) r[i] = p[i];
    return r;
}

/* the n real nibbles of a packed 4-bit tensor (element 2i high, 2i+1 low) */
static int* codes_nibbles(vcase* c, const uint8_t* p, size_t n) {
    int* r = (int*)cmalloc(c, n * sizeof *r);
    size_t i;
    if (r)
        for (i = 0; i < n; i++) r[i] = (i & 1) ? (p[i / 2] & 15) : (p[i / 2] >> 4);
    return r;
}

static float* floats_of(vcase* c, const tensor* t) {
    float* r = (float*)cmalloc(c, t->numel * sizeof *r);
    size_t i;
    if (r)
        for (i = 0; i < t->numel; i++) r[i] = widen(t->type, t->data, i);
    return r;
}

/* per element i: base[i / group] */
static float* per_group(vcase* c, const float* base, size_t n, size_t group) {
    float* r = (float*)cmalloc(c, n * sizeof *r);
    size_t i;
    if (r)
        for (i = 0; i < n; i++) r[i] = base[i / group];
    return r;
}

/* a stored table must equal bnbq's built-in one, bit for bit (rule 5) */
static int check_table(vcase* c, const char* label, const tensor* st, const float* builtin,
                       size_t n, const char* what) {
    size_t i;
    if (!builtin) {
        failf(c, "%s: bnbq has no built-in table %s", label, what);
        return 0;
    }
    for (i = 0; i < n; i++) {
        float s = ((const float*)st->data)[i];
        if (f32_bits(s) != f32_bits(builtin[i])) {
            failf(c, "%s: stored table differs from bnbq's %s at %zu: bnbq 0x%08lx, stored "
                  "0x%08lx", label, what, i, (unsigned long)f32_bits(builtin[i]),
                  (unsigned long)f32_bits(s));
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* families                                                                                   */

typedef void (*handler_fn)(vcase* c);

/* code_: the code-table functions, arguments from arg.* (or the type name in `call`) */
static void run_code(vcase* c) {
    const char *call, *paren, *q;
    char fname[64];
    size_t flen, k;
    tensor* code;
    float* out;
    bnbq_result r;
    size_t expect = 256;
    long a1, a2, a3;
    int b1;
    double off;
    if (!(call = meta_req(c, "call"))) return;
    paren = strchr(call, '(');
    if (!paren) {
        failf(c, "cannot find the function in call '%s'", call);
        return;
    }
    q = paren;
    while (q > call && (q[-1] == '_' || (q[-1] >= 'a' && q[-1] <= 'z') ||
                        (q[-1] >= 'A' && q[-1] <= 'Z') || (q[-1] >= '0' && q[-1] <= '9')))
        q--;
    flen = (size_t)(paren - q);
    if (flen == 0 || flen >= sizeof fname) {
        failf(c, "cannot find the function in call '%s'", call);
        return;
    }
    memcpy(fname, q, flen);
    fname[flen] = '\0';
    if (!strcmp(fname, "get_4bit_type")) expect = 16;
    NEED(code, "code", VT_F32, expect);
    out = (float*)cmalloc(c, expect * sizeof *out);
    if (!out) return;
    memset(out, 0xA5, expect * sizeof *out);
    if (!strcmp(fname, "create_dynamic_map")) {
        if (!meta_bool(c, "arg.signed", 0, 1, &b1) ||
            !meta_long(c, "arg.max_exponent_bits", 0, 64, 0, 7, &a1) ||
            !meta_long(c, "arg.total_bits", 0, 64, 0, 8, &a2))
            return;
        r = bnbq_create_dynamic_map(b1, (int)a1, (int)a2, out);
    } else if (!strcmp(fname, "create_linear_map")) {
        int add_zero;
        if (!meta_bool(c, "arg.signed", 0, 1, &b1) ||
            !meta_long(c, "arg.total_bits", 0, 64, 0, 8, &a1) ||
            !meta_bool(c, "arg.add_zero", 0, 1, &add_zero))
            return;
        r = bnbq_create_linear_map(b1, (int)a1, add_zero, out);
    } else if (!strcmp(fname, "create_normal_map")) {
        if (!meta_double(c, "arg.offset", 0, 0.9677083, &off) ||
            !meta_bool(c, "arg.use_extra_value", 0, 1, &b1))
            return;
        r = bnbq_create_normal_map(off, b1, out);
    } else if (!strcmp(fname, "create_fp8_map")) {
        if (!meta_bool(c, "arg.signed", 0, 1, &b1) ||
            !meta_long(c, "arg.exponent_bits", 0, 64, 0, 5, &a1) ||
            !meta_long(c, "arg.precision_bits", 0, 64, 0, 2, &a2) ||
            !meta_long(c, "arg.total_bits", 0, 64, 0, 8, &a3))
            return;
        r = bnbq_create_fp8_map(b1, (int)a1, (int)a2, (int)a3, out);
    } else if (!strcmp(fname, "get_4bit_type")) {
        char tname[16];
        const char* s = paren + 1;
        bnbq_quant_type qt;
        int bs;
        while (*s == ' ') s++;
        if (*s != '\'' && *s != '"') {
            failf(c, "get_4bit_type: no quoted type name in call '%s'", call);
            return;
        }
        for (k = 0; s[1 + k] && s[1 + k] != s[0] && k + 1 < sizeof tname; k++) tname[k] = s[1 + k];
        tname[k] = '\0';
        if (s[1 + k] != s[0]) {
            failf(c, "get_4bit_type: bad type name in call '%s'", call);
            return;
        }
        if (!strcmp(tname, "nf4")) qt = BNBQ_NF4;
        else if (!strcmp(tname, "fp4")) qt = BNBQ_FP4;
        else if (!strcmp(tname, "int4")) qt = BNBQ_INT4;
        else if (!strcmp(tname, "af4")) qt = BNBQ_AF4;
        else {
            failf(c, "get_4bit_type: unknown type '%s'", tname);
            return;
        }
        if (!meta_blocksize(c, "blocksize", 0, 64, &bs)) return;
        r = bnbq_get_4bit_type(qt, bs, out);
    } else {
        failf(c, "unknown code-table function '%s' in call", fname);
        return;
    }
    if (!call_ok(c, r, fname)) return;
    cmp_exact(c, "code", out, code);
}

/* 8-bit blockwise: quantize A with the given code; absmax exact, q allowance */
static int quantize_block8(vcase* c, const float* code, bnbq_dtype dt, const tensor* A, int bs,
                           const tensor* q_s, const tensor* absmax_s, const float** habs_out,
                           void** xabs_out) {
    size_t n = A->numel, nblocks = ceil_div(n, (size_t)bs);
    const void* xA = to_exec(c, A->data, n * VT_SIZE[A->type]);
    uint8_t* xq = (uint8_t*)exec_alloc(c, n);
    float* xabs = (float*)exec_alloc(c, nblocks * sizeof(float));
    const uint8_t* hq;
    const float* habs;
    float *xs, *ms;
    int *bqc, *sqc;
    judge j;
    if (!xq || !xabs) return 0;
    if (!call_ok(c, bnbq_quantize_blockwise(c->ex, code, dt, xA, n, bs, xq, xabs),
                 "bnbq_quantize_blockwise"))
        return 0;
    hq = (const uint8_t*)from_exec(c, xq, n);
    habs = (const float*)from_exec(c, xabs, nblocks * sizeof(float));
    if (absmax_s) cmp_exact(c, "absmax", habs, absmax_s);
    xs = floats_of(c, A);
    ms = per_group(c, habs, n, (size_t)bs);
    bqc = codes_u8(c, hq, n);
    sqc = codes_u8(c, (const uint8_t*)q_s->data, n);
    if (!xs || !ms || !bqc || !sqc) return 0;
    memset(&j, 0, sizeof j);
    j.kind = J_BLOCK8;
    j.code = code;
    j.x = xs;
    j.m = ms;
    cmp_allow(c, "q", bqc, sqc, n, &j);
    *habs_out = habs;
    *xabs_out = xabs;
    return 1;
}

/* nested statistics from bnbq's absmax: offset (offset mode), then with the STORED offset:
   nested_absmax exact, absmax_q allowance */
static int nested_stats(vcase* c, const float* nested_code_arg, const float* decide_code,
                        const float* xabs, const float* habs, size_t nblocks, int nbs,
                        const tensor* offset_s, const tensor* absmax_q_s,
                        const tensor* nested_absmax_s) {
    size_t nn = ceil_div(nblocks, (size_t)nbs);
    float* xoff = (float*)exec_alloc(c, sizeof(float));
    uint8_t* xaq = (uint8_t*)exec_alloc(c, nblocks);
    float* xna = (float*)exec_alloc(c, nn * sizeof(float));
    const float *hoff, *hna, *ms;
    float* xs;
    int *bqc, *sqc;
    judge j;
    if (!xoff || !xaq || !xna) return 0;
    if (!call_ok(c, bnbq_nested_offset(c->ex, xabs, nblocks, xoff), "bnbq_nested_offset"))
        return 0;
    hoff = (const float*)from_exec(c, xoff, sizeof(float));
    cmp_offset(c, "offset", hoff[0], offset_s);
    if (!call_ok(c, bnbq_quantize_nested(c->ex, nested_code_arg, xabs, nblocks, nbs,
                                         (const float*)to_exec(c, offset_s->data, sizeof(float)),
                                         xaq, xna),
                 "bnbq_quantize_nested"))
        return 0;
    hna = (const float*)from_exec(c, xna, nn * sizeof(float));
    cmp_exact(c, "nested_absmax", hna, nested_absmax_s);
    xs = (float*)cmalloc(c, nblocks * sizeof *xs);
    ms = per_group(c, hna, nblocks, (size_t)nbs);
    bqc = codes_u8(c, (const uint8_t*)from_exec(c, xaq, nblocks), nblocks);
    sqc = codes_u8(c, (const uint8_t*)absmax_q_s->data, nblocks);
    if (!xs || !ms || !bqc || !sqc) return 0;
    memcpy(xs, habs, nblocks * sizeof *xs);
    memset(&j, 0, sizeof j);
    j.kind = J_NESTED;
    j.code = decide_code;
    j.x = xs;
    j.m = ms;
    j.offset = ((const float*)offset_s->data)[0];
    cmp_allow(c, "absmax_q", bqc, sqc, nblocks, &j);
    return 1;
}

/* the float absmax rebuilt from the STORED absmax_q, nested_absmax, offset (exec memory) */
static const float* rebuild_absmax(vcase* c, const float* nested_code_arg, size_t nblocks,
                                   int nbs, const tensor* absmax_q_s,
                                   const tensor* nested_absmax_s, const tensor* offset_s) {
    float* xabs = (float*)exec_alloc(c, nblocks * sizeof(float));
    if (!xabs) return NULL;
    if (!call_ok(c, bnbq_dequantize_nested(
                        c->ex, nested_code_arg,
                        (const uint8_t*)to_exec(c, absmax_q_s->data, nblocks),
                        (const float*)to_exec(c, nested_absmax_s->data,
                                              nested_absmax_s->numel * sizeof(float)),
                        nblocks, nbs, (const float*)to_exec(c, offset_s->data, sizeof(float)),
                        xabs),
                 "bnbq_dequantize_nested"))
        return NULL;
    return xabs;
}

/* qblock_ and qblock_code_ */
static void run_qblock(vcase* c) {
    enum vtype vt;
    int bs;
    tensor *A, *code, *q_s, *absmax_s, *out_s;
    size_t n, nblocks;
    const float* habs;
    void *xabs, *xout;
    if (!meta_float_dtype(c, &vt) || !meta_blocksize(c, "blocksize", 1, 0, &bs)) return;
    NEED(A, "A", vt, ANY_NUMEL);
    n = A->numel;
    nblocks = ceil_div(n, (size_t)bs);
    NEED(code, "code", VT_F32, 256);
    NEED(q_s, "q", VT_U8, n);
    NEED(absmax_s, "absmax", VT_F32, nblocks);
    NEED(out_s, "out", vt, n);
    if (!quantize_block8(c, (const float*)code->data, vt_dtype(vt), A, bs, q_s, absmax_s, &habs,
                         &xabs))
        return;
    if (!(xout = exec_alloc(c, n * VT_SIZE[vt]))) return;
    if (!call_ok(c, bnbq_dequantize_blockwise(
                        c->ex, (const float*)code->data, vt_dtype(vt),
                        (const uint8_t*)to_exec(c, q_s->data, n),
                        (const float*)to_exec(c, absmax_s->data, nblocks * sizeof(float)), n, bs,
                        xout),
                 "bnbq_dequantize_blockwise"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, n * VT_SIZE[vt]), out_s);
}

/* qblock_nested_ */
static void run_qblock_nested(vcase* c) {
    enum vtype vt;
    int bs, nbs;
    tensor *A, *code, *nested_code, *q_s, *absmax_q_s, *nested_absmax_s, *offset_s, *out_s;
    size_t n, nblocks;
    const float *habs, *xabs2;
    void *xabs, *xout;
    if (!meta_float_dtype(c, &vt) || !meta_blocksize(c, "blocksize", 1, 0, &bs) ||
        !meta_blocksize(c, "nested_blocksize", 1, 0, &nbs))
        return;
    NEED(A, "A", vt, ANY_NUMEL);
    n = A->numel;
    nblocks = ceil_div(n, (size_t)bs);
    NEED(code, "code", VT_F32, 256);
    NEED(nested_code, "nested_code", VT_F32, 256);
    NEED(q_s, "q", VT_U8, n);
    NEED(absmax_q_s, "absmax_q", VT_U8, nblocks);
    NEED(nested_absmax_s, "nested_absmax", VT_F32, ceil_div(nblocks, (size_t)nbs));
    NEED(offset_s, "offset", VT_F32, 1);
    NEED(out_s, "out", vt, n);
    if (!check_table(c, "nested_code", nested_code, bnbq_code_dynamic(1), 256,
                     "bnbq_code_dynamic(1)"))
        return;
    if (!quantize_block8(c, (const float*)code->data, vt_dtype(vt), A, bs, q_s, NULL, &habs,
                         &xabs))
        return;
    if (!nested_stats(c, (const float*)nested_code->data, (const float*)nested_code->data,
                      (const float*)xabs, habs, nblocks, nbs, offset_s, absmax_q_s,
                      nested_absmax_s))
        return;
    xabs2 = rebuild_absmax(c, (const float*)nested_code->data, nblocks, nbs, absmax_q_s,
                           nested_absmax_s, offset_s);
    if (!xabs2) return;
    if (!(xout = exec_alloc(c, n * VT_SIZE[vt]))) return;
    if (!call_ok(c, bnbq_dequantize_blockwise(c->ex, (const float*)code->data, vt_dtype(vt),
                                              (const uint8_t*)to_exec(c, q_s->data, n), xabs2, n,
                                              bs, xout),
                 "bnbq_dequantize_blockwise"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, n * VT_SIZE[vt]), out_s);
}

/* q4_ (nocs and cs) */
static void run_q4(vcase* c) {
    enum vtype vt;
    int bs, nbs = 256, cs;
    bnbq_quant_type qt;
    tensor *A, *code, *packed_s, *out_s, *absmax_s = NULL, *nested_code = NULL;
    tensor *absmax_q_s = NULL, *nested_absmax_s = NULL, *offset_s = NULL;
    size_t n, nbytes, nblocks;
    uint8_t* xp;
    float* xabs;
    const uint8_t* hp;
    const float *habs, *absmax_for_out;
    float *xs, *ms;
    int *bqc, *sqc;
    void* xout;
    judge j;
    if (!meta_float_dtype(c, &vt) || !meta_blocksize(c, "blocksize", 1, 0, &bs) ||
        !meta_quant_type(c, &qt) || !meta_bool(c, "compress_statistics", 1, 0, &cs))
        return;
    NEED(A, "A", vt, ANY_NUMEL);
    n = A->numel;
    nbytes = ceil_div(n, 2);
    nblocks = ceil_div(n, (size_t)bs);
    NEED(code, "code", VT_F32, 16);
    NEED(packed_s, "packed", VT_U8, nbytes);
    NEED(out_s, "out", vt, n);
    if (cs) {
        if (!meta_blocksize(c, "nested_blocksize", 0, 256, &nbs)) return;
        NEED(nested_code, "nested_code", VT_F32, 256);
        NEED(absmax_q_s, "absmax_q", VT_U8, nblocks);
        NEED(nested_absmax_s, "nested_absmax", VT_F32, ceil_div(nblocks, (size_t)nbs));
        NEED(offset_s, "offset", VT_F32, 1);
    } else {
        NEED(absmax_s, "absmax", VT_F32, nblocks);
    }
    if (!check_table(c, "code", code, bnbq_code_4bit(qt), 16,
                     qt == BNBQ_NF4 ? "bnbq_code_4bit(NF4)" : "bnbq_code_4bit(FP4)"))
        return;
    if (cs && !check_table(c, "nested_code", nested_code, bnbq_code_dynamic(1), 256,
                           "bnbq_code_dynamic(1)"))
        return;
    xp = (uint8_t*)exec_alloc(c, nbytes);
    xabs = (float*)exec_alloc(c, nblocks * sizeof(float));
    if (!xp || !xabs) return;
    if (!call_ok(c, bnbq_quantize_4bit(c->ex, qt, vt_dtype(vt),
                                       to_exec(c, A->data, n * VT_SIZE[vt]), n, bs, xp, xabs),
                 "bnbq_quantize_4bit"))
        return;
    hp = (const uint8_t*)from_exec(c, xp, nbytes);
    habs = (const float*)from_exec(c, xabs, nblocks * sizeof(float));
    if (!cs) cmp_exact(c, "absmax", habs, absmax_s);
    /* packed: per nibble, the pad nibble of an odd count exact */
    xs = floats_of(c, A);
    ms = per_group(c, habs, n, (size_t)bs);
    bqc = codes_nibbles(c, hp, n);
    sqc = codes_nibbles(c, (const uint8_t*)packed_s->data, n);
    if (!xs || !ms || !bqc || !sqc) return;
    memset(&j, 0, sizeof j);
    j.kind = qt == BNBQ_NF4 ? J_NF4 : J_FP4;
    j.x = xs;
    j.m = ms;
    cmp_allow(c, "packed", bqc, sqc, n, &j);
    if (n & 1) {
        int bp = hp[nbytes - 1] & 15, sp = ((const uint8_t*)packed_s->data)[nbytes - 1] & 15;
        if (bp != sp)
            failf(c, "packed: pad nibble (low nibble of byte %zu) bnbq %d, stored %d", nbytes - 1,
                  bp, sp);
    }
    if (cs) {
        if (!nested_stats(c, NULL, bnbq_code_dynamic(1), xabs, habs, nblocks, nbs, offset_s,
                          absmax_q_s, nested_absmax_s))
            return;
        absmax_for_out =
            rebuild_absmax(c, NULL, nblocks, nbs, absmax_q_s, nested_absmax_s, offset_s);
        if (!absmax_for_out) return;
    } else {
        absmax_for_out = (const float*)to_exec(c, absmax_s->data, nblocks * sizeof(float));
    }
    if (!(xout = exec_alloc(c, n * VT_SIZE[vt]))) return;
    if (!call_ok(c, bnbq_dequantize_4bit(c->ex, qt, vt_dtype(vt),
                                         (const uint8_t*)to_exec(c, packed_s->data, nbytes),
                                         absmax_for_out, n, bs, xout),
                 "bnbq_dequantize_4bit"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, n * VT_SIZE[vt]), out_s);
}

/* qglobal_ */
static void run_qglobal(vcase* c) {
    enum vtype vt;
    tensor *A, *code, *q_s, *absmax_s, *out_s;
    size_t n;
    uint8_t* xq;
    float *xabs, *xout;
    if (!meta_float_dtype(c, &vt)) return;
    NEED(A, "A", vt, ANY_NUMEL);
    n = A->numel;
    NEED(code, "code", VT_F32, 256);
    NEED(q_s, "q", VT_U8, n);
    NEED(absmax_s, "absmax", VT_F32, 1);
    NEED(out_s, "out", VT_F32, n);
    xq = (uint8_t*)exec_alloc(c, n);
    xabs = (float*)exec_alloc(c, sizeof(float));
    xout = (float*)exec_alloc(c, n * sizeof(float));
    if (!xq || !xabs || !xout) return;
    if (!call_ok(c, bnbq_quantize_global(c->ex, (const float*)code->data, vt_dtype(vt),
                                         to_exec(c, A->data, n * VT_SIZE[vt]), n, xq, xabs),
                 "bnbq_quantize_global"))
        return;
    cmp_exact(c, "absmax", from_exec(c, xabs, sizeof(float)), absmax_s);
    cmp_exact(c, "q", from_exec(c, xq, n), q_s);
    if (!call_ok(c, bnbq_dequantize_global(c->ex, (const float*)code->data, BNBQ_F32,
                                           (const uint8_t*)to_exec(c, q_s->data, n),
                                           (const float*)to_exec(c, absmax_s->data, sizeof(float)),
                                           n, xout),
                 "bnbq_dequantize_global"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, n * sizeof(float)), out_s);
}

/* threshold > 0: outlier_cols (stored int64 list) against bnbq's int32 list */
static void cmp_outliers(vcase* c, const int32_t* hoc, int32_t nout, size_t cols,
                         const tensor* st) {
    size_t i;
    if (nout < 0 || (size_t)nout > cols) {
        failf(c, "outlier_cols: bnbq reports %ld outlier columns of %zu", (long)nout, cols);
        return;
    }
    if ((size_t)nout != st->numel) {
        failf(c, "outlier_cols: bnbq found %ld columns, stored %zu", (long)nout, st->numel);
        return;
    }
    for (i = 0; i < st->numel; i++) {
        int64_t s = ((const int64_t*)st->data)[i];
        if ((int64_t)hoc[i] != s) {
            failf(c, "outlier_cols: entry %zu: bnbq %ld, stored %lld", i, (long)hoc[i],
                  (long long)s);
            return;
        }
    }
    notef(c, "outlier_cols: %zu columns", st->numel);
}

/* CA allowance of the int8 row-wise quantizer (i8vq_, i8dq_) */
static void cmp_ca(vcase* c, const tensor* A, size_t rows, size_t cols, float threshold,
                   const int8_t* hCA, const float* hrs, const int32_t* hoc, int32_t nout,
                   const tensor* CA_s) {
    size_t n = rows * cols, r, k, i;
    float* xs = floats_of(c, A);
    float* ms = (float*)cmalloc(c, n * sizeof *ms);
    unsigned char* ex = (unsigned char*)cmalloc(c, n);
    unsigned char* colflag = (unsigned char*)cmalloc(c, cols);
    int *bqc, *sqc;
    judge j;
    if (!xs || !ms || !ex || !colflag) return;
    memset(colflag, 0, cols);
    if (threshold > 0.0f && nout > 0 && (size_t)nout <= cols)
        for (i = 0; i < (size_t)nout; i++)
            if (hoc[i] >= 0 && (size_t)hoc[i] < cols) colflag[hoc[i]] = 1;
    for (r = 0; r < rows; r++)
        for (k = 0; k < cols; k++) {
            i = r * cols + k;
            ms[i] = hrs[r];
            ex[i] = (unsigned char)(threshold > 0.0f &&
                                    (fabsf(xs[i]) >= threshold || (rows > 1 && colflag[k])));
        }
    bqc = codes_i8(c, hCA, n);
    sqc = codes_i8(c, (const int8_t*)CA_s->data, n);
    if (!bqc || !sqc) return;
    memset(&j, 0, sizeof j);
    j.kind = J_INT8ROW;
    j.x = xs;
    j.m = ms;
    j.exact = ex;
    cmp_allow(c, "CA", bqc, sqc, n, &j);
}

static int int8_threshold(vcase* c, float* thr) {
    double t;
    if (!meta_double(c, "threshold", 1, 0.0, &t)) return 0;
    if (t < 0.0) {
        failf(c, "meta threshold %g is negative", t);
        return 0;
    }
    *thr = (float)t;
    return 1;
}

/* the stored outlier_cols: present exactly when threshold > 0 */
static int outlier_tensor(vcase* c, float thr, tensor** oc_s) {
    *oc_s = NULL;
    if (thr > 0.0f) {
        *oc_s = need(c, "outlier_cols", VT_I64, ANY_NUMEL);
        return *oc_s != NULL;
    }
    if (has_tensor(c, "outlier_cols")) {
        failf(c, "outlier_cols is stored although threshold == 0");
        return 0;
    }
    return 1;
}

/* i8vq_ */
static void run_i8vq(vcase* c) {
    tensor *A, *CA_s, *rs_s, *oc_s, *dq_s;
    size_t rows, cols, n;
    float thr;
    int8_t* xCA;
    float* xrs;
    int32_t *xoc, *xnout;
    const int32_t *hoc, *hnout;
    NEED(A, "A", VT_F16, ANY_NUMEL);
    if (!dims2(c, A, &rows, &cols) || !int8_threshold(c, &thr)) return;
    n = A->numel;
    NEED(CA_s, "CA", VT_I8, n);
    NEED(rs_s, "row_stats", VT_F32, rows);
    if (!outlier_tensor(c, thr, &oc_s)) return;
    dq_s = load_tensor(c, "dequant", VT_F32, n, 0);
    if (c->failed) return;
    xCA = (int8_t*)exec_alloc(c, n);
    xrs = (float*)exec_alloc(c, rows * sizeof(float));
    xoc = (int32_t*)exec_alloc(c, cols * sizeof(int32_t));
    xnout = (int32_t*)exec_alloc(c, sizeof(int32_t));
    if (!xCA || !xrs || !xoc || !xnout) return;
    if (!call_ok(c, bnbq_int8_vectorwise_quant(c->ex, BNBQ_F16, to_exec(c, A->data, n * 2), rows,
                                               cols, thr, xCA, xrs, xoc, xnout),
                 "bnbq_int8_vectorwise_quant"))
        return;
    hoc = (const int32_t*)from_exec(c, xoc, cols * sizeof(int32_t));
    hnout = (const int32_t*)from_exec(c, xnout, sizeof(int32_t));
    cmp_exact(c, "row_stats", from_exec(c, xrs, rows * sizeof(float)), rs_s);
    if (oc_s) cmp_outliers(c, hoc, hnout[0], cols, oc_s);
    cmp_ca(c, A, rows, cols, thr, (const int8_t*)from_exec(c, xCA, n),
           (const float*)from_exec(c, xrs, rows * sizeof(float)), hoc,
           thr > 0.0f ? hnout[0] : 0, CA_s);
    if (dq_s) {
        float* xdq = (float*)exec_alloc(c, n * sizeof(float));
        if (!xdq) return;
        if (!call_ok(c, bnbq_int8_vectorwise_dequant(
                            c->ex, (const int8_t*)to_exec(c, CA_s->data, n),
                            (const float*)to_exec(c, rs_s->data, rows * sizeof(float)), rows, cols,
                            xdq),
                     "bnbq_int8_vectorwise_dequant"))
            return;
        cmp_exact(c, "dequant", from_exec(c, xdq, n * sizeof(float)), dq_s);
    }
}

/* i8dq_ */
static void run_i8dq(vcase* c) {
    tensor *A, *CA_s, *CAt_s, *rs_s, *cs_s, *oc_s;
    size_t rows, cols, n;
    float thr;
    int8_t *xCA, *xCAt;
    float *xrs, *xcs;
    int32_t *xoc, *xnout;
    const int32_t *hoc, *hnout;
    NEED(A, "A", VT_F16, ANY_NUMEL);
    if (!dims2(c, A, &rows, &cols) || !int8_threshold(c, &thr)) return;
    n = A->numel;
    NEED(CA_s, "CA", VT_I8, n);
    NEED(CAt_s, "CAt", VT_I8, n);
    NEED(rs_s, "row_stats", VT_F32, rows);
    NEED(cs_s, "col_stats", VT_F32, cols);
    if (!outlier_tensor(c, thr, &oc_s)) return;
    xCA = (int8_t*)exec_alloc(c, n);
    xCAt = (int8_t*)exec_alloc(c, n);
    xrs = (float*)exec_alloc(c, rows * sizeof(float));
    xcs = (float*)exec_alloc(c, cols * sizeof(float));
    xoc = (int32_t*)exec_alloc(c, cols * sizeof(int32_t));
    xnout = (int32_t*)exec_alloc(c, sizeof(int32_t));
    if (!xCA || !xCAt || !xrs || !xcs || !xoc || !xnout) return;
    if (!call_ok(c, bnbq_int8_double_quant(c->ex, BNBQ_F16, to_exec(c, A->data, n * 2), rows,
                                           cols, thr, xCA, xCAt, xrs, xcs, xoc, xnout),
                 "bnbq_int8_double_quant"))
        return;
    hoc = (const int32_t*)from_exec(c, xoc, cols * sizeof(int32_t));
    hnout = (const int32_t*)from_exec(c, xnout, sizeof(int32_t));
    cmp_exact(c, "row_stats", from_exec(c, xrs, rows * sizeof(float)), rs_s);
    cmp_exact(c, "col_stats", from_exec(c, xcs, cols * sizeof(float)), cs_s);
    if (oc_s) cmp_outliers(c, hoc, hnout[0], cols, oc_s);
    cmp_exact(c, "CAt", from_exec(c, xCAt, n), CAt_s);
    cmp_ca(c, A, rows, cols, thr, (const int8_t*)from_exec(c, xCA, n),
           (const float*)from_exec(c, xrs, rows * sizeof(float)), hoc,
           thr > 0.0f ? hnout[0] : 0, CA_s);
}

/* meta M / N / K, where present, must agree with the tensor shapes */
static int check_dim(vcase* c, const char* key, size_t v) {
    long m;
    if (!meta(c, key)) return 1;
    if (!meta_long(c, key, 1, LONG_MAX, 1, 0, &m)) return 0;
    if ((unsigned long)m != (unsigned long)v) {
        failf(c, "meta %s=%ld disagrees with the tensor shapes (%zu)", key, m, v);
        return 0;
    }
    return 1;
}

/* i8mm_ */
static void run_i8mm(vcase* c) {
    tensor *A, *B, *out_s;
    size_t M, N, K, K2, mn;
    int32_t* xout;
    NEED(A, "A", VT_I8, ANY_NUMEL);
    NEED(B, "B", VT_I8, ANY_NUMEL);
    if (!strict_2d(c, A, &M, &K) || !strict_2d(c, B, &N, &K2)) return;
    if (K != K2) {
        failf(c, "A (%zu x %zu) and B (%zu x %zu) disagree in K", M, K, N, K2);
        return;
    }
    if (!check_dim(c, "M", M) || !check_dim(c, "N", N) || !check_dim(c, "K", K)) return;
    mn = M * N;
    NEED(out_s, "out", VT_I32, mn);
    if (!(xout = (int32_t*)exec_alloc(c, mn * sizeof(int32_t)))) return;
    if (!call_ok(c, bnbq_int8_linear_matmul(c->ex, (const int8_t*)to_exec(c, A->data, M * K),
                                            (const int8_t*)to_exec(c, B->data, N * K), M, N, K,
                                            xout),
                 "bnbq_int8_linear_matmul"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, mn * sizeof(int32_t)), out_s);
}

/* the optional bias: meta bias=true/false (if absent: present when stored) */
static int get_bias(vcase* c, int want, size_t n, tensor** bias) {
    int flag;
    *bias = NULL;
    if (meta(c, "bias")) {
        if (!meta_bool(c, "bias", 1, 0, &flag)) return 0;
    } else {
        flag = has_tensor(c, "bias");
    }
    if (!flag) {
        if (has_tensor(c, "bias")) {
            failf(c, "a bias tensor is stored although bias=false");
            return 0;
        }
        return 1;
    }
    *bias = need(c, "bias", want, n);
    return *bias != NULL;
}

/* i8mmdq_ */
static void run_i8mmdq(vcase* c) {
    tensor *A, *rs, *cs, *bias, *out_s;
    size_t M, N, mn;
    void* xout;
    bnbq_dtype bias_dt = BNBQ_F16;
    NEED(A, "A", VT_I32, ANY_NUMEL);
    if (!strict_2d(c, A, &M, &N)) return;
    mn = M * N;
    NEED(rs, "row_stats", VT_F32, M);
    NEED(cs, "col_stats", VT_F32, N);
    if (!get_bias(c, VT_ANY, N, &bias)) return;
    if (bias) {
        if (bias->type != VT_F16 && bias->type != VT_F32 && bias->type != VT_BF16) {
            failf(c, "bias has type %s", VT_NAME[bias->type]);
            return;
        }
        bias_dt = vt_dtype(bias->type);
    }
    NEED(out_s, "out", VT_ANY, mn);
    if (out_s->type != VT_F16 && out_s->type != VT_F32 && out_s->type != VT_BF16) {
        failf(c, "out has type %s", VT_NAME[out_s->type]);
        return;
    }
    if (!(xout = exec_alloc(c, mn * VT_SIZE[out_s->type]))) return;
    if (!call_ok(c, bnbq_int8_mm_dequant(
                        c->ex, vt_dtype(out_s->type),
                        (const int32_t*)to_exec(c, A->data, mn * sizeof(int32_t)),
                        (const float*)to_exec(c, rs->data, M * sizeof(float)),
                        (const float*)to_exec(c, cs->data, N * sizeof(float)), M, N, xout,
                        bias_dt,
                        bias ? to_exec(c, bias->data, N * VT_SIZE[bias->type]) : NULL),
                 "bnbq_int8_mm_dequant"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, mn * VT_SIZE[out_s->type]), out_s);
}

/* the stored 4-bit weight state of gemv4_ / gemm4_head_: packed and the float absmax (exec) */
typedef struct wstate {
    enum vtype vt;
    bnbq_quant_type qt;
    int bs;
    size_t N, K;
    const uint8_t* xpacked;
    const float* xabsmax;
    const float* code; /* the stored 16-entry quant_map (host) */
} wstate;

static int load_wstate(vcase* c, wstate* w) {
    size_t dims[2], nW, nblocks, nbytes;
    int cs, nbs;
    tensor *packed, *code;
    if (!meta_float_dtype(c, &w->vt) || !meta_quant_type(c, &w->qt) ||
        !meta_blocksize(c, "blocksize", 1, 0, &w->bs) ||
        !meta_bool(c, "compress_statistics", 1, 0, &cs) || !meta_dims(c, "shape_W", 2, dims))
        return 0;
    w->N = dims[0];
    w->K = dims[1];
    if (!mul_ok(w->N, w->K, &nW)) {
        failf(c, "shape_W overflows");
        return 0;
    }
    nbytes = ceil_div(nW, 2);
    nblocks = ceil_div(nW, (size_t)w->bs);
    if (!(packed = need(c, "packed", VT_U8, nbytes))) return 0;
    if (!(code = need(c, "code", VT_F32, 16))) return 0;
    w->code = (const float*)code->data;
    w->xpacked = (const uint8_t*)to_exec(c, packed->data, nbytes);
    if (cs) {
        tensor *aq, *na, *nc, *off;
        const float* xabs;
        if (!meta_blocksize(c, "nested_blocksize", 0, 256, &nbs)) return 0;
        if (!(aq = need(c, "absmax_q", VT_U8, nblocks)) ||
            !(na = need(c, "nested_absmax", VT_F32, ceil_div(nblocks, (size_t)nbs))) ||
            !(nc = need(c, "nested_code", VT_F32, 256)) || !(off = need(c, "offset", VT_F32, 1)))
            return 0;
        xabs = rebuild_absmax(c, (const float*)nc->data, nblocks, nbs, aq, na, off);
        if (!xabs) return 0;
        w->xabsmax = xabs;
    } else {
        tensor* am = need(c, "absmax", VT_F32, nblocks);
        if (!am) return 0;
        w->xabsmax = (const float*)to_exec(c, am->data, nblocks * sizeof(float));
    }
    return 1;
}

/* --gpu: how gemv4_ `out` was compared (exact / under tolerance) */
static unsigned g_gemv_exact, g_gemv_tol;

/* gemv4_ */
static void run_gemv4(vcase* c) {
    wstate w;
    tensor *x, *bias, *out_s;
    void* xout;
    size_t osz;
    if (!load_wstate(c, &w)) return;
    NEED(x, "x", w.vt, w.K);
    if (!get_bias(c, w.vt, w.N, &bias)) return;
    NEED(out_s, "out", w.vt, w.N);
    osz = w.N * VT_SIZE[w.vt];
    if (!(xout = exec_alloc(c, osz))) return;
    if (!call_ok(c, bnbq_gemv_4bit(c->ex, w.qt, vt_dtype(w.vt),
                                   to_exec(c, x->data, w.K * VT_SIZE[w.vt]), w.xpacked, w.xabsmax,
                                   w.N, w.K, w.bs, xout,
                                   bias ? to_exec(c, bias->data, osz) : NULL, w.code),
                 "bnbq_gemv_4bit"))
        return;
    if (c->gpu_rules) {
        /* exact if the kernel keeps the reference's summation order, otherwise tolerance(dtype) */
        const void* hout = from_exec(c, xout, osz);
        size_t k, differ = 0;
        for (k = 0; k < w.N; k++)
            if (memcmp((const char*)hout + k * VT_SIZE[w.vt], (const char*)out_s->data + k * VT_SIZE[w.vt],
                       VT_SIZE[w.vt]) != 0)
                differ++;
        if (differ == 0) {
            notef(c, "out: exact");
            g_gemv_exact++;
        } else {
            notef(c, "out: %zu of %zu differ, tolerance(%s) applied", differ, w.N, VT_NAME[w.vt]);
            g_gemv_tol++;
            cmp_tol(c, "out", hout, out_s);
        }
    } else {
        cmp_exact(c, "out", from_exec(c, xout, osz), out_s);
    }
}

/* gemm4_head_ */
static void run_gemm4(vcase* c) {
    wstate w;
    tensor *x, *bias, *out_s, *api_s;
    void* xout;
    size_t M, mn, osz;
    if (!load_wstate(c, &w)) return;
    NEED(x, "x", w.vt, ANY_NUMEL);
    if (x->numel == 0 || x->numel % w.K != 0 || x->shape[x->ndim - 1] != w.K) {
        failf(c, "x (%zu elements) is not (M, %zu)", x->numel, w.K);
        return;
    }
    M = x->numel / w.K;
    if (!check_dim(c, "M", M)) return;
    mn = M * w.N;
    osz = mn * VT_SIZE[w.vt];
    if (!get_bias(c, w.vt, w.N, &bias)) return;
    NEED(out_s, "out", w.vt, mn);
    NEED(api_s, "out_api", w.vt, mn);
    if (!(xout = exec_alloc(c, osz))) return;
    if (!call_ok(c, bnbq_matmul_4bit(c->ex, w.qt, vt_dtype(w.vt),
                                     to_exec(c, x->data, x->numel * VT_SIZE[w.vt]), w.xpacked,
                                     w.xabsmax, M, w.N, w.K, w.bs, xout,
                                     bias ? to_exec(c, bias->data, w.N * VT_SIZE[w.vt]) : NULL,
                                     w.code),
                 "bnbq_matmul_4bit"))
        return;
    cmp_tol(c, "out", from_exec(c, xout, osz), out_s);
    cmp_tol(c, "out_api", from_exec(c, xout, osz), api_s);
}

/* tr_quantize_rowwise_ / tr_quantize_columnwise_and_transpose_ */
static void run_tr_quantize_rc(vcase* c, int columnwise) {
    const char* in_name = columnwise ? "W" : "X";
    tensor *X, *out_s, *state_s;
    size_t rows, cols, n, nstate, r, k, i;
    int8_t* xq;
    uint16_t* xstate;
    const uint16_t* hstate;
    float *xs, *ms, *xin;
    int *bqc, *sqc;
    judge j;
    NEED(X, in_name, VT_F16, ANY_NUMEL);
    if (!strict_2d(c, X, &rows, &cols)) return;
    n = rows * cols;
    nstate = columnwise ? cols : rows;
    NEED(out_s, "out", VT_I8, n);
    NEED(state_s, "state", VT_F16, nstate);
    xq = (int8_t*)exec_alloc(c, n);
    xstate = (uint16_t*)exec_alloc(c, nstate * 2);
    if (!xq || !xstate) return;
    if (columnwise) {
        if (!call_ok(c, bnbq_quantize_columnwise_and_transpose(
                            c->ex, BNBQ_F16, to_exec(c, X->data, n * 2), rows, cols, xq, xstate),
                     "bnbq_quantize_columnwise_and_transpose"))
            return;
    } else {
        if (!call_ok(c, bnbq_quantize_rowwise(c->ex, BNBQ_F16, to_exec(c, X->data, n * 2), rows,
                                              cols, xq, xstate),
                     "bnbq_quantize_rowwise"))
            return;
    }
    hstate = (const uint16_t*)from_exec(c, xstate, nstate * 2);
    cmp_exact(c, "state", hstate, state_s);
    xin = floats_of(c, X);
    xs = (float*)cmalloc(c, n * sizeof *xs);
    ms = (float*)cmalloc(c, n * sizeof *ms);
    bqc = codes_i8(c, (const int8_t*)from_exec(c, xq, n), n);
    sqc = codes_i8(c, (const int8_t*)out_s->data, n);
    if (!xin || !xs || !ms || !bqc || !sqc) return;
    for (r = 0; r < rows; r++)
        for (k = 0; k < cols; k++) {
            /* row-wise: out[r][k] from X[r][k], max of row r;
               column-wise: out[k][r] from W[r][k], max of column k */
            i = columnwise ? k * rows + r : r * cols + k;
            xs[i] = xin[r * cols + k];
            ms[i] = bnbq_f16_to_f32(hstate[columnwise ? k : r]);
        }
    memset(&j, 0, sizeof j);
    j.kind = J_TRITON;
    j.x = xs;
    j.m = ms;
    cmp_allow(c, "out", bqc, sqc, n, &j);
}

static void run_tr_quantize_rowwise(vcase* c) { run_tr_quantize_rc(c, 0); }
static void run_tr_quantize_colwise(vcase* c) { run_tr_quantize_rc(c, 1); }

/* tr_quantize_global_ / tr_quantize_global_transpose_ */
static void run_tr_quantize_global_any(vcase* c, int transpose) {
    tensor *W, *out_s, *absmax_s;
    size_t rows = 0, cols = 0, n;
    int8_t* xq;
    uint16_t* xabs;
    bnbq_result r;
    NEED(W, "W", VT_F16, ANY_NUMEL);
    if (transpose && !strict_2d(c, W, &rows, &cols)) return;
    n = W->numel;
    NEED(out_s, "out", VT_I8, n);
    NEED(absmax_s, "absmax", VT_F16, 1);
    xq = (int8_t*)exec_alloc(c, n);
    xabs = (uint16_t*)exec_alloc(c, 2);
    if (!xq || !xabs) return;
    if (transpose)
        r = bnbq_quantize_global_int8_transpose(c->ex, BNBQ_F16, to_exec(c, W->data, n * 2), rows,
                                                cols, xq, xabs);
    else
        r = bnbq_quantize_global_int8(c->ex, BNBQ_F16, to_exec(c, W->data, n * 2), n, xq, xabs);
    if (!call_ok(c, r, transpose ? "bnbq_quantize_global_int8_transpose"
                                 : "bnbq_quantize_global_int8"))
        return;
    cmp_exact(c, "absmax", from_exec(c, xabs, 2), absmax_s);
    cmp_exact(c, "out", from_exec(c, xq, n), out_s);
}

static void run_tr_quantize_global(vcase* c) { run_tr_quantize_global_any(c, 0); }
static void run_tr_quantize_global_t(vcase* c) { run_tr_quantize_global_any(c, 1); }

/* tr_dequantize_rowwise_ */
static void run_tr_dequantize_rowwise(vcase* c) {
    tensor *X, *state, *out_s;
    size_t rows, cols, n;
    uint16_t* xout;
    NEED(X, "X_int8", VT_I8, ANY_NUMEL);
    if (!strict_2d(c, X, &rows, &cols)) return;
    n = rows * cols;
    NEED(state, "state", VT_F16, rows);
    NEED(out_s, "out", VT_F16, n);
    if (!(xout = (uint16_t*)exec_alloc(c, n * 2))) return;
    if (!call_ok(c, bnbq_dequantize_rowwise(c->ex, (const int8_t*)to_exec(c, X->data, n),
                                            (const uint16_t*)to_exec(c, state->data, rows * 2),
                                            rows, cols, xout),
                 "bnbq_dequantize_rowwise"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, n * 2), out_s);
}

/* tr_int8_matmul_rowwise_dequantize_ / tr_int8_matmul_mixed_dequantize_ */
static void run_tr_matmul_any(vcase* c, int mixed) {
    tensor *X, *W, *sx, *sw, *bias, *out_s;
    size_t M, K, N, K2, mn;
    uint16_t* xout;
    const uint16_t* xbias;
    bnbq_result r;
    NEED(X, "X_int8", VT_I8, ANY_NUMEL);
    NEED(W, "W_int8", VT_I8, ANY_NUMEL);
    if (!strict_2d(c, X, &M, &K) || !strict_2d(c, W, &N, &K2)) return;
    if (K != K2) {
        failf(c, "X_int8 (%zu x %zu) and W_int8 (%zu x %zu) disagree in K", M, K, N, K2);
        return;
    }
    mn = M * N;
    NEED(sx, "state_x", VT_F16, M);
    NEED(sw, "state_w", VT_F16, mixed ? 1 : N);
    if (!get_bias(c, VT_F16, N, &bias)) return;
    NEED(out_s, "out", VT_F16, mn);
    if (!(xout = (uint16_t*)exec_alloc(c, mn * 2))) return;
    xbias = bias ? (const uint16_t*)to_exec(c, bias->data, N * 2) : NULL;
    if (mixed)
        r = bnbq_int8_matmul_mixed_dequantize(
            c->ex, (const int8_t*)to_exec(c, X->data, M * K),
            (const int8_t*)to_exec(c, W->data, N * K),
            (const uint16_t*)to_exec(c, sx->data, M * 2), (const uint16_t*)to_exec(c, sw->data, 2),
            M, N, K, xout, xbias);
    else
        r = bnbq_int8_matmul_rowwise_dequantize(
            c->ex, (const int8_t*)to_exec(c, X->data, M * K),
            (const int8_t*)to_exec(c, W->data, N * K),
            (const uint16_t*)to_exec(c, sx->data, M * 2),
            (const uint16_t*)to_exec(c, sw->data, N * 2), M, N, K, xout, xbias);
    if (!call_ok(c, r, mixed ? "bnbq_int8_matmul_mixed_dequantize"
                             : "bnbq_int8_matmul_rowwise_dequantize"))
        return;
    cmp_exact(c, "out", from_exec(c, xout, mn * 2), out_s);
}

static void run_tr_matmul_rowwise(vcase* c) { run_tr_matmul_any(c, 0); }
static void run_tr_matmul_mixed(vcase* c) { run_tr_matmul_any(c, 1); }

/* ---- layer families (switchback_, matmul_fp8_, linear8bitlt_) ---------------------------- */

/* 1 when the judge's decision for element i changes when its scaled input moves one or two
   float32 steps either way (the allowance would accept another code: an ambiguous element) */
static int ambiguous(const judge* j, size_t i) {
    float v, t;
    int d, dir, step;
    if (j->m[i] == 0.0f || !isfinite(j->m[i])) return 0;
    if (j->exact && j->exact[i]) return 0;
    v = scaled_input(j, i);
    d = decide(j, v);
    for (dir = -1; dir <= 1; dir += 2) {
        t = v;
        for (step = 0; step < 2; step++) {
            t = nextafterf(t, dir > 0 ? INFINITY : -INFINITY);
            if (decide(j, t) != d) return 1;
        }
    }
    return 0;
}

/* per-row (by_row) or per-column flags of a (rows, cols) quantization whose judge covers the
   elements in row-major order: 1 where any element of that row/column is ambiguous */
static unsigned char* ambiguous_lines(vcase* c, const judge* j, size_t rows, size_t cols,
                                      int by_row) {
    unsigned char* f = (unsigned char*)cmalloc(c, by_row ? rows : cols);
    size_t r, k;
    if (!f) return NULL;
    memset(f, 0, by_row ? rows : cols);
    for (r = 0; r < rows; r++)
        for (k = 0; k < cols; k++)
            if (ambiguous(j, r * cols + k)) f[by_row ? r : k] = 1;
    return f;
}

/* per-element judge arrays for a row-wise (or, with columnwise, column-wise) quantization of
   X (rows, cols) with per-line scales m_line */
static int line_judge(vcase* c, judge* j, enum jkind kind, const tensor* X, size_t rows,
                      size_t cols, const float* m_line, int columnwise) {
    size_t r, k;
    float* ms = (float*)cmalloc(c, rows * cols * sizeof *ms);
    float* xs = floats_of(c, X);
    if (!ms || !xs) return 0;
    for (r = 0; r < rows; r++)
        for (k = 0; k < cols; k++) ms[r * cols + k] = m_line[columnwise ? k : r];
    memset(j, 0, sizeof *j);
    j->kind = kind;
    j->x = xs;
    j->m = ms;
    return 1;
}

/* the Triton row/column max of an f16 (rows, cols) tensor, as float */
static float* f16_line_max(vcase* c, const tensor* X, size_t rows, size_t cols, int columnwise) {
    size_t r, k, nl = columnwise ? cols : rows;
    float* m = (float*)cmalloc(c, nl * sizeof *m);
    if (!m) return NULL;
    for (r = 0; r < nl; r++) m[r] = 0.0f;
    for (r = 0; r < rows; r++)
        for (k = 0; k < cols; k++) {
            float v = fabsf(widen(X->type, X->data, r * cols + k));
            float* d = &m[columnwise ? k : r];
            if (v > *d) *d = v;
        }
    return m;
}

/* cascade exemption: elements (r, k) with rowx[r] or colx[k] set are compared with
   rel <= ex_rel over those elements; the others exactly (tol_mode 0) or with tolerance(T) */
static void cmp_cascade(vcase* c, const char* label, const void* bq, const tensor* st,
                        size_t rows, size_t cols, const unsigned char* rowx,
                        const unsigned char* colx, int tol_mode, double ex_rel) {
    double rel_lim = 0, max_lim = 0, sd = 0, ss = 0, md = 0, ms = 0, ed = 0, es = 0;
    size_t r, k, nex = 0, mism = 0, first = 0;
    size_t esz = VT_SIZE[st->type];
    if (rows * cols != st->numel) {
        failf(c, "%s: shape mismatch", label);
        return;
    }
    switch (st->type) {
        case VT_F32: rel_lim = 1e-5; max_lim = 1e-5; break;
        case VT_F16: rel_lim = 2e-3; max_lim = 2e-3; break;
        case VT_BF16: rel_lim = 1e-2; max_lim = 1.6e-2; break;
        default: failf(c, "%s: needs a float output", label); return;
    }
    for (r = 0; r < rows; r++)
        for (k = 0; k < cols; k++) {
            size_t i = r * cols + k;
            double b = to_double(st->type, bq, i), s = to_double(st->type, st->data, i);
            double d = (b == s) ? 0.0 : fabs(b - s);
            if (isnan(d)) d = INFINITY;
            if ((rowx && rowx[r]) || (colx && colx[k])) {
                nex++;
                ed += d * d;
                es += s * s;
                continue;
            }
            if (!tol_mode) {
                if (memcmp((const unsigned char*)bq + i * esz,
                           (const unsigned char*)st->data + i * esz, esz) != 0) {
                    if (mism == 0) first = i;
                    mism++;
                }
                continue;
            }
            sd += d * d;
            ss += s * s;
            if (d > md) md = d;
            if (fabs(s) > ms) ms = fabs(s);
        }
    if (mism) {
        char x[64], y[64];
        fmt_elem(x, sizeof x, st->type, bq, first);
        fmt_elem(y, sizeof y, st->type, st->data, first);
        failf(c, "%s: %zu of %zu non-exempt elements differ (exact); first at %zu: bnbq %s, "
              "stored %s", label, mism, st->numel - nex, first, x, y);
    }
    if (tol_mode) {
        double rel = sd == 0.0 ? 0.0 : (ss > 0.0 ? sqrt(sd) / sqrt(ss) : INFINITY);
        double mx = md == 0.0 ? 0.0 : (ms > 0.0 ? md / ms : INFINITY);
        if (!(rel <= rel_lim) || !(mx <= max_lim))
            failf(c, "%s: rel %.3g (limit %.3g), max %.3g (limit %.3g)", label, rel, rel_lim, mx,
                  max_lim);
        else
            notef(c, "%s: rel %.2g max %.2g", label, rel, mx);
    }
    if (nex) {
        double rel = ed == 0.0 ? 0.0 : (es > 0.0 ? sqrt(ed) / sqrt(es) : INFINITY);
        if (!(rel <= ex_rel))
            failf(c, "%s: %zu cascade-exempt elements: rel %.3g (limit %.3g)", label, nex, rel,
                  ex_rel);
        else
            notef(c, "%s: %zu cascade-exempt (rel %.2g)", label, nex, rel);
    } else if (!tol_mode && !mism) {
        notef(c, "%s: exact", label);
    }
}

/* switchback_{global,vectorwise,global_memeff}: the SwitchBackLinear layer, forward + backward */
static void run_switchback_layer(vcase* c, bnbq_linear* L) {
    tensor *X, *W, *bias, *G, *out_s, *gx_s, *gw_s, *gb_s;
    size_t T, K, N, K2, T2, N2;
    bnbq_linear_desc d;
    int vw = strstr(c->name, "vectorwise") != NULL;
    int memeff = strstr(c->name, "memeff") != NULL;
    void *xout, *xgx;
    const void *xX, *xG;
    judge jx, jg, jw, jwc;
    float *mx, *mg, *mw, *mwc;
    unsigned char *rx, *rg, *cw = NULL, *cwc = NULL, *cx = NULL;
    NEED(X, "X", VT_F16, ANY_NUMEL);
    NEED(W, "W", VT_F16, ANY_NUMEL);
    if (!dims2(c, X, &T, &K) || !strict_2d(c, W, &N, &K2)) return;
    if (K != K2) {
        failf(c, "X and W disagree in K");
        return;
    }
    NEED(bias, "bias", VT_F16, N);
    NEED(G, "grad_out", VT_F16, T * N);
    if (!dims2(c, G, &T2, &N2) || T2 != T || N2 != N) {
        failf(c, "grad_out has the wrong shape");
        return;
    }
    NEED(out_s, "out", VT_F16, T * N);
    NEED(gx_s, "grad_X", VT_F16, T * K);
    NEED(gw_s, "grad_W", VT_F16, N * K);
    NEED(gb_s, "grad_bias", VT_F16, N);
    memset(&d, 0, sizeof d);
    d.kind = vw ? BNBQ_LINEAR_SWITCHBACK_VECTORWISE
                : (memeff ? BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF : BNBQ_LINEAR_SWITCHBACK_GLOBAL);
    d.in_features = K;
    d.out_features = N;
    d.weight_dtype = BNBQ_F16;
    if (!call_ok(c, bnbq_linear_init(c->ex, L, &d), "bnbq_linear_init")) return;
    if (!call_ok(c, bnbq_linear_set_weight(c->ex, L, W->data, bias->data),
                 "bnbq_linear_set_weight"))
        return;
    xX = to_exec(c, X->data, T * K * 2);
    xG = to_exec(c, G->data, T * N * 2);
    xout = exec_alloc(c, T * N * 2);
    xgx = exec_alloc(c, T * K * 2);
    if (!xX || !xG || !xout || !xgx) return;
    if (!call_ok(c, bnbq_linear_forward(c->ex, L, BNBQ_F16, xX, T, xout), "bnbq_linear_forward"))
        return;
    if (!call_ok(c, bnbq_linear_backward(c->ex, L, BNBQ_F16, memeff ? NULL : xX, T, xG, xgx),
                 "bnbq_linear_backward"))
        return;
    /* the cascades: rows of X's and grad_out's quantize_rowwise; for vectorwise also W's rows
       (columns of out) and W's columns (columns of grad_X) */
    mx = f16_line_max(c, X, T, K, 0);
    mg = f16_line_max(c, G, T, N, 0);
    if (!mx || !mg || !line_judge(c, &jx, J_TRITON, X, T, K, mx, 0) ||
        !line_judge(c, &jg, J_TRITON, G, T, N, mg, 0))
        return;
    rx = ambiguous_lines(c, &jx, T, K, 1);
    rg = ambiguous_lines(c, &jg, T, N, 1);
    if (memeff) cx = ambiguous_lines(c, &jx, T, K, 0);
    if (vw) {
        mw = f16_line_max(c, W, N, K, 0);
        mwc = f16_line_max(c, W, N, K, 1);
        if (!mw || !mwc || !line_judge(c, &jw, J_TRITON, W, N, K, mw, 0) ||
            !line_judge(c, &jwc, J_TRITON, W, N, K, mwc, 1))
            return;
        cw = ambiguous_lines(c, &jw, N, K, 1);
        cwc = ambiguous_lines(c, &jwc, N, K, 0);
        if (!cw || !cwc) return;
    }
    if (!rx || !rg || (memeff && !cx)) return;
    cmp_cascade(c, "out", from_exec(c, xout, T * N * 2), out_s, T, N, rx, cw, 0, 1e-2);
    cmp_cascade(c, "grad_X", from_exec(c, xgx, T * K * 2), gx_s, T, K, rg, cwc, 0, 1e-2);
    if (memeff)
        cmp_cascade(c, "grad_W", from_exec(c, L->grad_weight, N * K * 2), gw_s, N, K, NULL, cx,
                    1, 1e-2);
    else
        cmp_tol(c, "grad_W", from_exec(c, L->grad_weight, N * K * 2), gw_s);
    cmp_tol(c, "grad_bias", from_exec(c, L->grad_bias, N * 2), gb_s);
}

static void run_switchback(vcase* c) {
    bnbq_linear L;
    memset(&L, 0, sizeof L);
    run_switchback_layer(c, &L);
    if (c->gpu) bnbq_cuda_synchronize(c->ex);
    bnbq_linear_uninit(c->ex, &L);
}

/* the 8-bit blockwise absmax of flattened blocks, per element */
static float* block_absmax(vcase* c, const tensor* A, size_t bs) {
    size_t n = A->numel, i;
    float* m = (float*)cmalloc(c, n * sizeof *m);
    if (!m) return NULL;
    for (i = 0; i < n; i += bs) {
        size_t e = i + bs < n ? i + bs : n, k;
        float mx = 0.0f;
        for (k = i; k < e; k++) {
            float v = fabsf(widen(A->type, A->data, k));
            if (v > mx) mx = v;
        }
        for (k = i; k < e; k++) m[k] = mx;
    }
    return m;
}

/* matmul_fp8_{global,mixed}: bitsandbytes.research.matmul_fp8_*, forward + backward */
static void run_matmul_fp8(vcase* c) {
    tensor *A, *B, *G, *fw, *bw, *out_s, *ga_s, *gb_s;
    enum vtype vt;
    size_t M, K, K2, N, wsb = 0, es;
    long bsz = 0, bsz2 = 0;
    int mixed = strstr(c->name, "mixed") != NULL;
    void *xout, *xga, *xgb, *ws;
    const void *xA, *xB, *xG;
    bnbq_dtype dt;
    unsigned char *ra = NULL, *rg = NULL;
    if (!meta_float_dtype(c, &vt)) return;
    dt = vt_dtype(vt);
    es = VT_SIZE[vt];
    NEED(A, "A", vt, ANY_NUMEL);
    NEED(B, "B", vt, ANY_NUMEL);
    if (!strict_2d(c, A, &M, &K) || !strict_2d(c, B, &K2, &N)) return;
    if (K != K2) {
        failf(c, "A and B disagree in K");
        return;
    }
    NEED(G, "grad_out", vt, M * N);
    NEED(fw, "fw_code", VT_F32, 256);
    NEED(bw, "bw_code", VT_F32, 256);
    NEED(out_s, "out", vt, M * N);
    NEED(ga_s, "grad_A", vt, M * K);
    NEED(gb_s, "grad_B", vt, K * N);
    if (!meta_long(c, "bsz", 1, 1L << 30, mixed, 64, &bsz) ||
        !meta_long(c, "bsz2", 1, 1L << 30, mixed, 64, &bsz2))
        return;
    if (!call_ok(c, bnbq_matmul_fp8_workspace_size(M, N, K, &wsb),
                 "bnbq_matmul_fp8_workspace_size"))
        return;
    xA = to_exec(c, A->data, M * K * es);
    xB = to_exec(c, B->data, K * N * es);
    xG = to_exec(c, G->data, M * N * es);
    xout = exec_alloc(c, M * N * es);
    xga = exec_alloc(c, M * K * es);
    xgb = exec_alloc(c, K * N * es);
    ws = exec_alloc(c, wsb);
    if (!xA || !xB || !xG || !xout || !xga || !xgb || !ws) return;
    if (mixed) {
        if (!call_ok(c, bnbq_matmul_fp8_mixed(c->ex, dt, xA, xB, M, N, K,
                                              (const float*)fw->data, (int)bsz, xout, ws, wsb),
                     "bnbq_matmul_fp8_mixed") ||
            !call_ok(c, bnbq_matmul_fp8_mixed_backward(c->ex, dt, xA, xB, M, N, K,
                                                       (const float*)fw->data,
                                                       (const float*)bw->data, (int)bsz2, xG,
                                                       xga, xgb, ws, wsb),
                     "bnbq_matmul_fp8_mixed_backward"))
            return;
    } else {
        if (!call_ok(c, bnbq_matmul_fp8_global(c->ex, dt, xA, xB, M, N, K,
                                               (const float*)fw->data, xout, ws, wsb),
                     "bnbq_matmul_fp8_global") ||
            !call_ok(c, bnbq_matmul_fp8_global_backward(c->ex, dt, xA, xB, M, N, K,
                                                        (const float*)fw->data,
                                                        (const float*)bw->data, xG, xga, xgb,
                                                        ws, wsb),
                     "bnbq_matmul_fp8_global_backward"))
            return;
    }
    if (mixed) {
        /* row i of out <- row i of A's blockwise codes; row i of grad_A <- row i of grad_out's */
        judge ja, jg;
        float *xa = floats_of(c, A), *xg = floats_of(c, G);
        float *ma = block_absmax(c, A, (size_t)bsz), *mg = block_absmax(c, G, (size_t)bsz2);
        if (!xa || !xg || !ma || !mg) return;
        memset(&ja, 0, sizeof ja);
        ja.kind = J_BLOCK8;
        ja.code = (const float*)fw->data;
        ja.x = xa;
        ja.m = ma;
        jg = ja;
        jg.code = (const float*)bw->data;
        jg.x = xg;
        jg.m = mg;
        ra = ambiguous_lines(c, &ja, M, K, 1);
        rg = ambiguous_lines(c, &jg, M, N, 1);
        if (!ra || !rg) return;
    }
    cmp_cascade(c, "out", from_exec(c, xout, M * N * es), out_s, M, N, ra, NULL, 1, 1e-1);
    cmp_cascade(c, "grad_A", from_exec(c, xga, M * K * es), ga_s, M, K, rg, NULL, 1, 1e-1);
    cmp_tol(c, "grad_B", from_exec(c, xgb, K * N * es), gb_s);
}

/* linear8bitlt_{thr0,thr6}: Linear8bitLt(has_fp16_weights=False, threshold) inference */
static void run_linear8bitlt_layer(vcase* c, bnbq_linear* L) {
    tensor *X, *W, *bias, *CB_s, *SCB_s, *out_s;
    size_t T, K, N, K2;
    float thr;
    bnbq_linear_desc d;
    const int8_t* hCB;
    const float* hSCB;
    void* xout;
    const void* xX;
    int8_t* xCA;
    float* xrs;
    int32_t *xoc, *xn;
    judge jw, jx;
    unsigned char* rx;
    NEED(X, "X", VT_F16, ANY_NUMEL);
    NEED(W, "W", VT_F16, ANY_NUMEL);
    if (!dims2(c, X, &T, &K) || !strict_2d(c, W, &N, &K2) || !int8_threshold(c, &thr)) return;
    if (K != K2) {
        failf(c, "X and W disagree in K");
        return;
    }
    if (!get_bias(c, VT_F16, N, &bias)) return;
    NEED(CB_s, "CB", VT_I8, N * K);
    NEED(SCB_s, "SCB", VT_F32, N);
    NEED(out_s, "out", VT_F16, T * N);
    memset(&d, 0, sizeof d);
    d.kind = BNBQ_LINEAR_8BIT_LT;
    d.in_features = K;
    d.out_features = N;
    d.no_bias = bias == NULL;
    d.weight_dtype = BNBQ_F16;
    d.threshold = thr;
    d.int8_weights = 1;
    if (!call_ok(c, bnbq_linear_init(c->ex, L, &d), "bnbq_linear_init") ||
        !call_ok(c, bnbq_linear_set_weight(c->ex, L, W->data, bias ? bias->data : NULL),
                 "bnbq_linear_set_weight") ||
        !call_ok(c, bnbq_linear_quantize(c->ex, L), "bnbq_linear_quantize"))
        return;
    /* bnbq's own quantized weight: SCB exact, CB allowance over the rows of W */
    hCB = (const int8_t*)from_exec(c, L->CB, N * K);
    hSCB = (const float*)from_exec(c, L->SCB, N * 4);
    cmp_exact(c, "SCB", hSCB, SCB_s);
    {
        int *bqc = codes_i8(c, hCB, N * K), *sqc = codes_i8(c, (const int8_t*)CB_s->data, N * K);
        if (!bqc || !sqc || !line_judge(c, &jw, J_INT8ROW, W, N, K, hSCB, 0)) return;
        cmp_allow(c, "CB", bqc, sqc, N * K, &jw);
    }
    /* out from the stored weight state (Int8Params as bitsandbytes holds it) */
    if (!call_ok(c, bnbq_linear_load_8bit(c->ex, L, (const int8_t*)CB_s->data,
                                          (const float*)SCB_s->data),
                 "bnbq_linear_load_8bit"))
        return;
    bnbq_linear_set_training(L, 0);
    xX = to_exec(c, X->data, T * K * 2);
    xout = exec_alloc(c, T * N * 2);
    xCA = (int8_t*)exec_alloc(c, T * K);
    xrs = (float*)exec_alloc(c, T * 4);
    xoc = (int32_t*)exec_alloc(c, K * 4);
    xn = (int32_t*)exec_alloc(c, 4);
    if (!xX || !xout || !xCA || !xrs || !xoc || !xn) return;
    if (!call_ok(c, bnbq_linear_forward(c->ex, L, BNBQ_F16, xX, T, xout), "bnbq_linear_forward"))
        return;
    /* the cascade: row i of out <- row i of X's int8_vectorwise_quant (bnbq's row stats) */
    if (!call_ok(c, bnbq_int8_vectorwise_quant(c->ex, BNBQ_F16, xX, T, K, thr, xCA, xrs, xoc, xn),
                 "bnbq_int8_vectorwise_quant"))
        return;
    {
        const float* hrs = (const float*)from_exec(c, xrs, T * 4);
        const int32_t* hoc = (const int32_t*)from_exec(c, xoc, K * 4);
        const int32_t* hn = (const int32_t*)from_exec(c, xn, 4);
        unsigned char* colf = (unsigned char*)cmalloc(c, K);
        unsigned char* exm = (unsigned char*)cmalloc(c, T * K);
        size_t r, k;
        if (!colf || !exm || !line_judge(c, &jx, J_INT8ROW, X, T, K, hrs, 0)) return;
        memset(colf, 0, K);
        if (thr > 0.0f && hn[0] > 0 && (size_t)hn[0] <= K)
            for (k = 0; k < (size_t)hn[0]; k++)
                if (hoc[k] >= 0 && (size_t)hoc[k] < K) colf[hoc[k]] = 1;
        for (r = 0; r < T; r++)
            for (k = 0; k < K; k++)
                exm[r * K + k] = (unsigned char)(thr > 0.0f &&
                                                 (fabsf(jx.x[r * K + k]) >= thr ||
                                                  (T > 1 && colf[k])));
        jx.exact = exm;
        rx = ambiguous_lines(c, &jx, T, K, 1);
        if (!rx) return;
    }
    cmp_cascade(c, "out", from_exec(c, xout, T * N * 2), out_s, T, N, rx, NULL, thr > 0.0f,
                1e-2);
}

static void run_linear8bitlt(vcase* c) {
    bnbq_linear L;
    memset(&L, 0, sizeof L);
    run_linear8bitlt_layer(c, &L);
    if (c->gpu) bnbq_cuda_synchronize(c->ex);
    bnbq_linear_uninit(c->ex, &L);
}

/* ------------------------------------------------------------------------------------------ */
/* the family table                                                                           */

#define LAYERS_REASON "family out of scope for this runner"

typedef struct family {
    const char* prefix;
    handler_fn run;          /* NULL: out of scope for this runner, cases are skipped */
    unsigned found_in_dir;   /* cases of the family in the current DIR */
    unsigned run_n, passed, failed, skipped;
} family;

static family FAMILIES[] = {
    {"code_", run_code, 0, 0, 0, 0, 0},
    {"qblock_", run_qblock, 0, 0, 0, 0, 0},
    {"qblock_nested_", run_qblock_nested, 0, 0, 0, 0, 0},
    {"qblock_code_", run_qblock, 0, 0, 0, 0, 0},
    {"q4_", run_q4, 0, 0, 0, 0, 0},
    {"qglobal_", run_qglobal, 0, 0, 0, 0, 0},
    {"i8vq_", run_i8vq, 0, 0, 0, 0, 0},
    {"i8dq_", run_i8dq, 0, 0, 0, 0, 0},
    {"i8mm_", run_i8mm, 0, 0, 0, 0, 0},
    {"i8mmdq_", run_i8mmdq, 0, 0, 0, 0, 0},
    {"gemv4_", run_gemv4, 0, 0, 0, 0, 0},
    {"gemm4_head_", run_gemm4, 0, 0, 0, 0, 0},
    {"tr_quantize_rowwise_", run_tr_quantize_rowwise, 0, 0, 0, 0, 0},
    {"tr_quantize_columnwise_and_transpose_", run_tr_quantize_colwise, 0, 0, 0, 0, 0},
    {"tr_quantize_global_", run_tr_quantize_global, 0, 0, 0, 0, 0},
    {"tr_quantize_global_transpose_", run_tr_quantize_global_t, 0, 0, 0, 0, 0},
    {"tr_dequantize_rowwise_", run_tr_dequantize_rowwise, 0, 0, 0, 0, 0},
    {"tr_int8_matmul_rowwise_dequantize_", run_tr_matmul_rowwise, 0, 0, 0, 0, 0},
    {"tr_int8_matmul_mixed_dequantize_", run_tr_matmul_mixed, 0, 0, 0, 0, 0},
    {"switchback_", run_switchback, 0, 0, 0, 0, 0},
    {"matmul_fp8_", run_matmul_fp8, 0, 0, 0, 0, 0},
    {"linear8bitlt_", run_linear8bitlt, 0, 0, 0, 0, 0},
};
#define NFAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

/* the longest matching prefix */
static family* family_of(const char* name) {
    family* best = NULL;
    size_t i, bl = 0;
    for (i = 0; i < NFAMILIES; i++) {
        size_t l = strlen(FAMILIES[i].prefix);
        if (l > bl && strncmp(name, FAMILIES[i].prefix, l) == 0) {
            best = &FAMILIES[i];
            bl = l;
        }
    }
    return best;
}

/* every stored output must have been compared or consumed as a named input */
static void check_outputs_used(vcase* c) {
    const char* list = meta(c, "tensors");
    char buf[4096];
    char *tok, *save = NULL;
    if (!list) {
        failf(c, "meta.txt has no 'tensors'");
        return;
    }
    if (strlen(list) >= sizeof buf) {
        failf(c, "meta 'tensors' is too long");
        return;
    }
    strcpy(buf, list);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char key[256];
        const char* role;
        if ((size_t)snprintf(key, sizeof key, "tensor.%s.role", tok) >= sizeof key) {
            failf(c, "tensor name too long");
            return;
        }
        role = meta(c, key);
        if (!role) {
            failf(c, "tensor '%s' has no role", tok);
            continue;
        }
        if (!strcmp(role, "output") && !find_loaded(c, tok))
            failf(c, "stored output '%s' is not compared by this runner", tok);
    }
}

enum outcome { OUT_PASS, OUT_FAIL, OUT_SKIP };

static enum outcome run_case(const char* dir, const char* name, family* fam, bnbq_exec* ex,
                             int gpu_rules, bnbq_cuda* gpu) {
    static vcase c; /* large; one case at a time */
    char path[4096];
    enum outcome o;
    size_t i;
    if (fam && !fam->run) {
        printf("SKIP %s: %s\n", name, LAYERS_REASON);
        return OUT_SKIP;
    }
    memset(&c, 0, sizeof c);
    c.name = name;
    c.ex = ex;
    c.gpu_rules = gpu_rules;
    c.gpu = gpu;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        printf("FAIL %s: path too long\n", name);
        return OUT_FAIL;
    }
    c.dir = path;
    if (!fam) {
        failf(&c, "no family matches the folder name");
    } else if (parse_meta(&c)) {
        const char* cn = meta(&c, "case");
        if (!cn)
            failf(&c, "meta.txt has no 'case'");
        else if (strcmp(cn, name) != 0)
            failf(&c, "meta case=%s differs from the folder name", cn);
        else {
            fam->run(&c);
            if (!c.failed) check_outputs_used(&c);
        }
    }
    if (c.failed) {
        printf("FAIL %s: %s\n", name, c.reason);
        o = OUT_FAIL;
    } else if (c.notes_len) {
        printf("PASS %s (%s)\n", name, c.notes);
        o = OUT_PASS;
    } else {
        printf("PASS %s\n", name);
        o = OUT_PASS;
    }
    fflush(stdout);
    if (c.gpu) {
        bnbq_cuda_synchronize(c.ex);   /* nothing may still use the memory freed below */
        for (i = 0; i < c.ndallocs; i++) bnbq_cuda_free(c.gpu, c.dallocs[i]);
        free(c.dallocs);
    }
    for (i = 0; i < c.nallocs; i++) free(c.allocs[i]);
    free(c.allocs);
    memset(&c, 0, sizeof c);
    return o;
}

static int cmp_names(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

/* the subfolders of dir (hidden ones excepted), sorted; -1 when dir cannot be read */
static long list_dir(const char* dir, char*** out) {
    DIR* d = opendir(dir);
    struct dirent* e;
    char** names = NULL;
    size_t n = 0, cap = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.') continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char** nn = (char**)realloc(names, ncap * sizeof *nn);
            if (!nn) break;
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    return (long)n;
}

static void usage(void) {
    fprintf(stderr, "usage: bnbq_vectors [--gpu] DIR...\n"
                    "  runs every case folder of each DIR against bnbq "
                    "(tests/vectors/README.md, \"Runner rules\")\n");
}

int main(int argc, char** argv) {
    int i, want_gpu = 0, plumbing = 0, ndirs = 0;
    unsigned long passed = 0, failed = 0, skipped = 0;
    size_t f;
    bnbq_exec* ex = NULL; /* the CPU reference; --gpu: the CUDA exec */
    bnbq_exec gex;
    bnbq_cuda* gpu = NULL;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--gpu")) want_gpu = 1;
        else if (!strcmp(argv[i], "--gpu-plumbing")) want_gpu = plumbing = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "bnbq_vectors: unknown option %s\n", argv[i]);
            usage();
            return 2;
        } else
            ndirs++;
    }
    if (ndirs == 0) {
        usage();
        return 2;
    }
    if (want_gpu) {
        bnbq_cuda_desc d;
        bnbq_cuda_device_info info;
        bnbq_result r;
        memset(&d, 0, sizeof d);
        r = bnbq_cuda_init(&d, &gpu);
        if (r != BNBQ_SUCCESS) {
            printf("bnbq_vectors: --gpu: CUDA is not available: %s (%s)\n", bnbq_result_description(r),
                   bnbq_result_name(r));
            return 2;
        }
        r = bnbq_cuda_exec_init(gpu, NULL, &gex);
        if (r != BNBQ_SUCCESS) {
            printf("bnbq_vectors: --gpu: bnbq_cuda_exec_init: %s\n", bnbq_result_name(r));
            bnbq_cuda_uninit(gpu);
            return 2;
        }
        bnbq_cuda_query_device(gpu, &info);
        if (plumbing) {
            if (strcmp(info.name, "bnbq fake GPU") != 0) {
                printf("bnbq_vectors: --gpu-plumbing needs the fake driver (tests/fake_libcuda.c)\n");
                bnbq_cuda_uninit(gpu);
                return 2;
            }
            gex.backend = NULL;   /* the CPU kernels, on the fake's "device" memory */
        }
        printf("bnbq_vectors --gpu: %s (sm_%d%d), driver %d, NVRTC %d, kernels %s_%d\n", info.name,
               info.cc_major, info.cc_minor, info.driver_version, info.nvrtc_version,
               info.target_is_ptx ? "compute" : "sm", info.target_arch);
        ex = &gex;
    }
    for (i = 1; i < argc; i++) {
        char** names = NULL;
        long n, k;
        const char* dir = argv[i];
        if (!strcmp(dir, "--gpu") || !strcmp(dir, "--gpu-plumbing")) continue;
        n = list_dir(dir, &names);
        if (n < 0) {
            printf("FAIL %s: cannot open the directory: %s\n", dir, strerror(errno));
            failed++;
            continue;
        }
        if (n == 0) {
            printf("FAIL %s: the directory holds no case folders\n", dir);
            failed++;
            free(names);
            continue;
        }
        for (f = 0; f < NFAMILIES; f++) FAMILIES[f].found_in_dir = 0;
        for (k = 0; k < n; k++) {
            family* fam = family_of(names[k]);
            enum outcome o = run_case(dir, names[k], fam, ex, gpu != NULL, gpu);
            if (fam) fam->found_in_dir++;
            if (o == OUT_PASS) passed++;
            else if (o == OUT_FAIL) failed++;
            else skipped++;
            if (fam) {
                if (o != OUT_SKIP) fam->run_n++;
                if (o == OUT_PASS) fam->passed++;
                else if (o == OUT_FAIL) fam->failed++;
                else fam->skipped++;
            }
            free(names[k]);
        }
        free(names);
        for (f = 0; f < NFAMILIES; f++)
            if (FAMILIES[f].run && FAMILIES[f].found_in_dir == 0) {
                printf("FAIL %s: no case of the in-scope family %s\n", dir, FAMILIES[f].prefix);
                FAMILIES[f].failed++;
                failed++;
            }
    }
    printf("\nper family                                  run  passed  failed  skipped\n");
    for (f = 0; f < NFAMILIES; f++)
        printf("  %-40s %4u %7u %7u %8u\n", FAMILIES[f].prefix, FAMILIES[f].run_n,
               FAMILIES[f].passed, FAMILIES[f].failed, FAMILIES[f].skipped);
    if (gpu) {
        printf("gemv4_ out on the GPU: %u exact, %u under tolerance(dtype)\n", g_gemv_exact, g_gemv_tol);
        bnbq_exec_uninit(&gex);
        bnbq_cuda_uninit(gpu);
    }
    printf("%lu passed, %lu failed, %lu skipped\n", passed, failed, skipped);
    return (failed == 0 && passed > 0) ? 0 : 1;
}
