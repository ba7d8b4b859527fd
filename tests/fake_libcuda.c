/* fake_libcuda.c - stand-in CUDA driver libraries for tests/test_cuda.c (built by tests/test_cuda.sh
   with cc -shared -fPIC; never linked into bnbq).

   -DFAKE_ONLY_CUINIT   exports cuInit and nothing else (bnbq must answer DRIVER_TOO_OLD)
   otherwise            exports every driver function bnbq resolves (test_cuda's "fake-complete"
                        checks that against bnbq_cuda.h's own symbol table) and simulates one GPU:
                        device memory is host memory, modules are checked to be a real cubin (ELF)
                        or PTX holding the requested kernel, launches are counted, not run.

   Behaviour is read from the environment at each call, so one process can change it:
       FAKE_CUDA_INIT=N        what cuInit returns (default 0)
       FAKE_CUDA_DEVICES=N     what cuDeviceGetCount reports (default 1)
       FAKE_CUDA_CC=MAJOR.MINOR  compute capability (default 9.0)
       FAKE_CUDA_VERSION=N     cuDriverGetVersion (default 13000)
       FAKE_CUDA_REFUSE=1      cuModuleLoadData refuses every image (CUDA_ERROR_INVALID_IMAGE)
       FAKE_CUDA_LOADING=N     what cuModuleGetLoadingMode reports (default 2, lazy)
       FAKE_CUDA_OPTIN=N       the shared memory a block may opt in to (default: the query fails)
       FAKE_CUDA_NO_TMAP=1     cuTensorMapEncodeTiled refuses every map
   bnbq_fake_stats() reports counters (live allocations, modules, primary-context retains, the
   context stack depth, launches, module loads, cuFuncLoad calls, cuLaunchKernelEx calls, tensor
   maps) so tests can check that bnbq releases what it took. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GNUC__) || defined(__clang__)
#define FAKE_EXPORT __attribute__((visibility("default")))
#else
#define FAKE_EXPORT
#endif

static int env_int(const char* name, int dflt) {
    const char* v = getenv(name);
    return (v && *v) ? atoi(v) : dflt;
}

FAKE_EXPORT int cuInit(unsigned int flags) {
    (void)flags;
    return env_int("FAKE_CUDA_INIT", 0);
}

#if !defined(FAKE_ONLY_CUINIT)

typedef unsigned long long fake_dptr;

enum {
    OK = 0, ERR_INVALID_VALUE = 1, ERR_OUT_OF_MEMORY = 2, ERR_INVALID_CONTEXT = 201,
    ERR_INVALID_IMAGE = 200, ERR_INVALID_HANDLE = 400, ERR_NOT_FOUND = 500, ERR_INVALID_DEVICE = 101
};

static struct {
    int live_allocs, live_modules, live_streams, live_events, retains, depth, launches, loads;
    int max_depth, funcloads, launch_ex, tmaps;
} g;

FAKE_EXPORT void bnbq_fake_stats(int* out, int n) {
    int v[12];
    int i;
    v[0] = g.live_allocs; v[1] = g.live_modules; v[2] = g.live_streams; v[3] = g.live_events;
    v[4] = g.retains; v[5] = g.depth; v[6] = g.launches; v[7] = g.loads; v[8] = g.max_depth;
    v[9] = g.funcloads; v[10] = g.launch_ex; v[11] = g.tmaps;
    for (i = 0; i < n && i < 12; i++) out[i] = v[i];
}

static int device_count(void) { return env_int("FAKE_CUDA_DEVICES", 1); }
static int check_dev(int d) { return d >= 0 && d < device_count(); }

static void cc_of(int* major, int* minor) {
    const char* v = getenv("FAKE_CUDA_CC");
    *major = 9; *minor = 0;
    if (v && *v) {
        *major = atoi(v);
        v = strchr(v, '.');
        *minor = v ? atoi(v + 1) : 0;
    }
}

FAKE_EXPORT int cuDriverGetVersion(int* v) {
    if (!v) return ERR_INVALID_VALUE;
    *v = env_int("FAKE_CUDA_VERSION", 13000);
    return OK;
}
FAKE_EXPORT int cuDeviceGetCount(int* n) {
    if (!n) return ERR_INVALID_VALUE;
    *n = device_count();
    return OK;
}
FAKE_EXPORT int cuDeviceGet(int* d, int ordinal) {
    if (!d) return ERR_INVALID_VALUE;
    if (!check_dev(ordinal)) return ERR_INVALID_DEVICE;
    *d = ordinal;
    return OK;
}
FAKE_EXPORT int cuDeviceGetName(char* name, int len, int dev) {
    static const char n[] = "bnbq fake GPU";
    if (!name || len <= 0) return ERR_INVALID_VALUE;
    if (!check_dev(dev)) return ERR_INVALID_DEVICE;
    strncpy(name, n, (size_t)len - 1);
    name[len - 1] = 0;
    return OK;
}
FAKE_EXPORT int cuDeviceGetAttribute(int* v, int attr, int dev) {
    int major, minor;
    if (!v) return ERR_INVALID_VALUE;
    if (!check_dev(dev)) return ERR_INVALID_DEVICE;
    cc_of(&major, &minor);
    switch (attr) {
        case 1: *v = 1024; return OK;             /* max threads per block */
        case 16: *v = 132; return OK;             /* multiprocessors */
        case 38: *v = 50 * 1024 * 1024; return OK; /* L2 bytes */
        case 75: *v = major; return OK;
        case 76: *v = minor; return OK;
        case 97:                                  /* shared memory a block may opt in to: FAKE_CUDA_OPTIN */
            *v = env_int("FAKE_CUDA_OPTIN", 0);
            return *v > 0 ? OK : ERR_INVALID_VALUE;
        default: *v = 0; return ERR_INVALID_VALUE;
    }
}
FAKE_EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int dev) {
    if (!bytes) return ERR_INVALID_VALUE;
    if (!check_dev(dev)) return ERR_INVALID_DEVICE;
    *bytes = (size_t)80 << 30;
    return OK;
}

static int g_ctx_token;
FAKE_EXPORT int cuDevicePrimaryCtxRetain(void** ctx, int dev) {
    if (!ctx) return ERR_INVALID_VALUE;
    if (!check_dev(dev)) return ERR_INVALID_DEVICE;
    *ctx = &g_ctx_token;
    g.retains++;
    return OK;
}
FAKE_EXPORT int cuDevicePrimaryCtxRelease_v2(int dev) {
    if (!check_dev(dev)) return ERR_INVALID_DEVICE;
    if (g.retains <= 0) return ERR_INVALID_CONTEXT;
    g.retains--;
    return OK;
}
FAKE_EXPORT int cuCtxPushCurrent_v2(void* ctx) {
    if (ctx != &g_ctx_token) return ERR_INVALID_CONTEXT;
    g.depth++;
    if (g.depth > g.max_depth) g.max_depth = g.depth;
    return OK;
}
FAKE_EXPORT int cuCtxPopCurrent_v2(void** ctx) {
    if (g.depth <= 0) return ERR_INVALID_CONTEXT;
    g.depth--;
    if (ctx) *ctx = &g_ctx_token;
    return OK;
}
static int need_ctx(void) { return g.depth > 0 ? OK : ERR_INVALID_CONTEXT; }

FAKE_EXPORT int cuMemAlloc_v2(fake_dptr* p, size_t bytes) {
    void* m;
    if (!p || bytes == 0) return ERR_INVALID_VALUE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    m = malloc(bytes);
    if (!m) return ERR_OUT_OF_MEMORY;
    *p = (fake_dptr)(uintptr_t)m;
    g.live_allocs++;
    return OK;
}
FAKE_EXPORT int cuMemFree_v2(fake_dptr p) {
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    if (!p) return ERR_INVALID_VALUE;
    free((void*)(uintptr_t)p);
    g.live_allocs--;
    return OK;
}
FAKE_EXPORT int cuMemcpyHtoDAsync_v2(fake_dptr dst, const void* src, size_t n, void* s) {
    (void)s;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    memcpy((void*)(uintptr_t)dst, src, n);
    return OK;
}
FAKE_EXPORT int cuMemcpyDtoHAsync_v2(void* dst, fake_dptr src, size_t n, void* s) {
    (void)s;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    memcpy(dst, (const void*)(uintptr_t)src, n);
    return OK;
}
FAKE_EXPORT int cuMemcpyDtoDAsync_v2(fake_dptr dst, fake_dptr src, size_t n, void* s) {
    (void)s;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n);
    return OK;
}
FAKE_EXPORT int cuMemsetD8Async(fake_dptr dst, unsigned char v, size_t n, void* s) {
    (void)s;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    memset((void*)(uintptr_t)dst, v, n);
    return OK;
}

FAKE_EXPORT int cuStreamCreate(void** s, unsigned int flags) {
    (void)flags;
    if (!s) return ERR_INVALID_VALUE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    *s = malloc(16);
    if (!*s) return ERR_OUT_OF_MEMORY;
    g.live_streams++;
    return OK;
}
FAKE_EXPORT int cuStreamDestroy_v2(void* s) {
    if (!s) return ERR_INVALID_HANDLE;
    free(s);
    g.live_streams--;
    return OK;
}
FAKE_EXPORT int cuStreamSynchronize(void* s) {
    (void)s;
    return need_ctx();
}

/* A module: the image kind and a copy of the bytes to look kernels up in. */
typedef struct fake_module { unsigned char* bytes; size_t len; int ptx; } fake_module;

/* The size of an ELF64 image from its header (section or program header table end). */
static size_t elf_size(const unsigned char* p) {
    uint64_t shoff, phoff;
    unsigned shentsize, shnum, phentsize, phnum;
    size_t a, b;
    if (p[4] != 2 || p[5] != 1) return 0;   /* ELFCLASS64, little-endian */
    memcpy(&phoff, p + 0x20, 8);
    memcpy(&shoff, p + 0x28, 8);
    phentsize = (unsigned)(p[0x36] | p[0x37] << 8);
    phnum = (unsigned)(p[0x38] | p[0x39] << 8);
    shentsize = (unsigned)(p[0x3A] | p[0x3B] << 8);
    shnum = (unsigned)(p[0x3C] | p[0x3D] << 8);
    a = (size_t)(shoff + (uint64_t)shentsize * shnum);
    b = (size_t)(phoff + (uint64_t)phentsize * phnum);
    if (shoff > ((uint64_t)1 << 30) || phoff > ((uint64_t)1 << 30)) return 0;
    return a > b ? a : b;
}

FAKE_EXPORT int cuModuleLoadData(void** mod, const void* image) {
    const unsigned char* p = (const unsigned char*)image;
    fake_module* m;
    size_t len;
    int ptx;
    if (!mod || !image) return ERR_INVALID_VALUE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    g.loads++;
    if (env_int("FAKE_CUDA_REFUSE", 0)) return ERR_INVALID_IMAGE;
    if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
        len = elf_size(p);
        ptx = 0;
    } else {
        len = strlen((const char*)p);
        ptx = 1;
        if (!strstr((const char*)p, ".version") || !strstr((const char*)p, ".target")) len = 0;
    }
    if (len < 64) return ERR_INVALID_IMAGE;
    m = (fake_module*)malloc(sizeof *m);
    if (!m) return ERR_OUT_OF_MEMORY;
    m->bytes = (unsigned char*)malloc(len);
    if (!m->bytes) { free(m); return ERR_OUT_OF_MEMORY; }
    memcpy(m->bytes, p, len);
    m->len = len;
    m->ptx = ptx;
    *mod = m;
    g.live_modules++;
    return OK;
}
FAKE_EXPORT int cuModuleUnload(void* mod) {
    fake_module* m = (fake_module*)mod;
    if (!m) return ERR_INVALID_HANDLE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    free(m->bytes);
    free(m);
    g.live_modules--;
    return OK;
}
/* The kernel must be named in the image: ".entry NAME" in PTX, the symbol string in a cubin. */
FAKE_EXPORT int cuModuleGetFunction(void** fn, void* mod, const char* name) {
    fake_module* m = (fake_module*)mod;
    size_t nl, i;
    if (!fn || !m || !name) return ERR_INVALID_VALUE;
    nl = strlen(name);
    for (i = 0; i + nl <= m->len; i++)
        if (memcmp(m->bytes + i, name, nl) == 0 &&
            (i + nl == m->len || m->bytes[i + nl] == 0 || m->bytes[i + nl] == '(' ||
             m->bytes[i + nl] == ' ' || m->bytes[i + nl] == '\n')) {
            *fn = m->bytes + i;
            return OK;
        }
    return ERR_NOT_FOUND;
}
/* The newer, optional functions: the lazy-loading mode (FAKE_CUDA_LOADING, default 2 = lazy),
   cuFuncLoad (counted), cuFuncSetAttribute and (below cuLaunchKernel) cuLaunchKernelEx. */
FAKE_EXPORT int cuModuleGetLoadingMode(int* mode) {
    if (!mode) return ERR_INVALID_VALUE;
    *mode = env_int("FAKE_CUDA_LOADING", 2);
    return OK;
}
FAKE_EXPORT int cuFuncLoad(void* fn) {
    if (!fn) return ERR_INVALID_HANDLE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    g.funcloads++;
    return OK;
}
/* a function attribute (gemv_4bit's dynamic shared memory): accepted, not recorded */
FAKE_EXPORT int cuFuncSetAttribute(void* fn, int attr, int value) {
    (void)attr;
    (void)value;
    if (!fn) return ERR_INVALID_HANDLE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    return OK;
}
FAKE_EXPORT int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned smem, void* s, void** args,
                               void** extra) {
    (void)s; (void)smem; (void)extra;
    if (!f || !args) return ERR_INVALID_VALUE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    if (!gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024) return ERR_INVALID_VALUE;
    g.launches++;
    return OK;
}
/* cuLaunchKernelEx (CUDA 12.0): the configuration as cuda.h lays it out (bnbq__CUlaunchConfig);
   the only attribute bnbq sets is programmatic stream serialization (6) = 1. Counted as a launch.
   FAKE_CUDA_LAUNCH_EX_FAIL=1: it refuses every launch (a driver without the feature). */
typedef struct fake_launch_attr { int id; char pad[4]; union { char b[64]; int i; void* p; } v; } fake_launch_attr;
typedef struct fake_launch_config {
    unsigned gx, gy, gz, bx, by, bz, smem;
    void* stream;
    fake_launch_attr* attrs;
    unsigned nattrs;
} fake_launch_config;
FAKE_EXPORT int cuLaunchKernelEx(const fake_launch_config* c, void* f, void** args, void** extra) {
    unsigned i;
    g.launch_ex++;
    if (env_int("FAKE_CUDA_LAUNCH_EX_FAIL", 0)) return 801;   /* CUDA_ERROR_NOT_SUPPORTED */
    if (!c) return ERR_INVALID_VALUE;
    if (c->nattrs && !c->attrs) return ERR_INVALID_VALUE;
    for (i = 0; i < c->nattrs; i++)
        if (c->attrs[i].id != 6 || c->attrs[i].v.i != 1) return ERR_INVALID_VALUE;
    return cuLaunchKernel(f, c->gx, c->gy, c->gz, c->bx, c->by, c->bz, c->smem, c->stream, args, extra);
}
/* cuTensorMapEncodeTiled (CUDA 12.0): checks what the driver documents for the maps bnbq builds (rank 1..5,
   a 64-byte aligned map, a 16-byte aligned address, dims 1..2^32, strides multiples of 16 below 2^40, boxes
   1..256 whose first dimension fits the swizzle span, element strides 1..8, enums in range) and fills the
   map with a recognisable pattern. Counted. FAKE_CUDA_NO_TMAP=1: refuses every map (801). */
FAKE_EXPORT int cuTensorMapEncodeTiled(void* map, int dtype, unsigned rank, void* addr,
                                       const unsigned long long* dims, const unsigned long long* strides,
                                       const unsigned* box, const unsigned* estr, int interleave,
                                       int swizzle, int l2, int oob) {
    static const unsigned esz[13] = { 1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4 };
    unsigned i;
    g.tmaps++;
    if (env_int("FAKE_CUDA_NO_TMAP", 0)) return 801;
    if (!map || ((size_t)map & 63u) || !addr || ((size_t)addr & 15u) || !dims || !box || !estr)
        return ERR_INVALID_VALUE;
    if (rank < 1 || rank > 5 || dtype < 0 || dtype > 12 || interleave < 0 || interleave > 2 || swizzle < 0 ||
        swizzle > 3 || l2 < 0 || l2 > 3 || oob < 0 || oob > 1 || (rank > 1 && !strides))
        return ERR_INVALID_VALUE;
    for (i = 0; i < rank; i++) {
        if (dims[i] == 0 || dims[i] > (1ull << 32) || box[i] == 0 || box[i] > 256 || estr[i] == 0 || estr[i] > 8)
            return ERR_INVALID_VALUE;
        if (i + 1 < rank && (strides[i] % 16 != 0 || strides[i] >= (1ull << 40))) return ERR_INVALID_VALUE;
    }
    if (swizzle && box[0] * esz[dtype] > (16u << swizzle)) return ERR_INVALID_VALUE;
    memset(map, 0x5a, 128);
    return OK;
}
FAKE_EXPORT int cuGetErrorName(int e, const char** s) {
    if (!s) return ERR_INVALID_VALUE;
    switch (e) {
        case 0: *s = "CUDA_SUCCESS"; break;
        case 1: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case 34: *s = "CUDA_ERROR_STUB_LIBRARY"; break;
        case 35: *s = "CUDA_ERROR_INSUFFICIENT_DRIVER"; break;
        case 100: *s = "CUDA_ERROR_NO_DEVICE"; break;
        case 101: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
        case 200: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
        case 201: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
        case 400: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
        case 500: *s = "CUDA_ERROR_NOT_FOUND"; break;
        case 801: *s = "CUDA_ERROR_NOT_SUPPORTED"; break;
        default: *s = "CUDA_ERROR_UNKNOWN"; return ERR_INVALID_VALUE;
    }
    return OK;
}

/* Not used by bnbq. NVRTC 13 opens libcuda.so.1 when it can (found first on LD_LIBRARY_PATH,
   this fake) and looks this up; without it NVRTC crashes. Answer "not supported". */
FAKE_EXPORT int cuGetExportTable(const void** table, const void* id) {
    (void)id;
    if (table) *table = NULL;
    return 801;   /* CUDA_ERROR_NOT_SUPPORTED */
}

typedef struct fake_event { double t; int recorded; } fake_event;
static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
FAKE_EXPORT int cuEventCreate(void** e, unsigned int flags) {
    fake_event* ev;
    (void)flags;
    if (!e) return ERR_INVALID_VALUE;
    if (need_ctx()) return ERR_INVALID_CONTEXT;
    ev = (fake_event*)calloc(1, sizeof *ev);
    if (!ev) return ERR_OUT_OF_MEMORY;
    *e = ev;
    g.live_events++;
    return OK;
}
FAKE_EXPORT int cuEventRecord(void* e, void* s) {
    fake_event* ev = (fake_event*)e;
    (void)s;
    if (!ev) return ERR_INVALID_HANDLE;
    ev->t = now_ms();
    ev->recorded = 1;
    return OK;
}
FAKE_EXPORT int cuEventSynchronize(void* e) { return e ? OK : ERR_INVALID_HANDLE; }
FAKE_EXPORT int cuEventElapsedTime(float* ms, void* a, void* b) {
    fake_event* ea = (fake_event*)a;
    fake_event* eb = (fake_event*)b;
    if (!ms || !ea || !eb) return ERR_INVALID_VALUE;
    if (!ea->recorded || !eb->recorded) return ERR_INVALID_HANDLE;
    *ms = (float)(eb->t - ea->t);
    return OK;
}
FAKE_EXPORT int cuEventDestroy_v2(void* e) {
    if (!e) return ERR_INVALID_HANDLE;
    free(e);
    g.live_events--;
    return OK;
}

#endif /* !FAKE_ONLY_CUINIT */
