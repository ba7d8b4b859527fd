/* bnbq_cuda.h - the CUDA backend of bnbq: the operations of bnbq.h on an NVIDIA GPU.
   bnbq 0.1.0 - MIT license (full text at the end of bnbq.h).

   WHAT IT IS
   Include it after (or instead of) bnbq.h. It needs no CUDA header and links nothing CUDA: it
   opens libcuda.so.1 and libnvrtc with dlopen at run time, compiles the kernels embedded below for
   the GPU it finds (cubin for its exact architecture when NVRTC knows it, PTX otherwise) and caches
   the compiled code on disk. Without a driver or GPU every call returns a result code; nothing
   crashes.

   QUICK START
       #define BNBQ_IMPLEMENTATION          // in ONE .c file: builds bnbq.h and bnbq_cuda.h
       #include "bnbq_cuda.h"

       bnbq_cuda* gpu; bnbq_exec ex;
       bnbq_cuda_desc d = {0};            // zero = defaults
       if (bnbq_cuda_init(&d, &gpu) != BNBQ_SUCCESS) { ... use the CPU (ex = NULL) ... }
       bnbq_cuda_exec_init(gpu, NULL, &ex); // default stream
       void* x; bnbq_cuda_malloc(gpu, n * 4, &x); ...
       bnbq_quantize_4bit(&ex, BNBQ_NF4, BNBQ_F32, x, n, 64, packed, absmax);  // device pointers
       bnbq_cuda_synchronize(&ex);

   Build: cc -std=c99 app.c -lm (older glibc: add -ldl -lpthread). Windows: LoadLibrary is used.

   CONTENTS (grep -n '^// >>' bnbq_cuda.h)
       >>cuda-api      public declarations
       >>cuda-loader   the driver and NVRTC symbol tables, dlopen, once-guard
       >>cuda-cache    the disk cache (keys, entry format, atomic writes)
       >>cu-kernels    GENERATED from kernels_src/ by `make embed` (do not edit)
       >>cuda-context  init, devices, memory, streams, compilation, module table, launches
       >>cuda-ops      the operations: argument packing and launch geometry per kernel

   ENVIRONMENT
       BNBQ_NVRTC_PATH   libnvrtc to open (after bnbq_cuda_desc.nvrtc_path)
       BNBQ_CACHE_DIR    kernel cache directory (after bnbq_cuda_desc.cache_dir); then
                         $XDG_CACHE_HOME/bnbq, then $HOME/.cache/bnbq
       CUDA_PATH         $CUDA_PATH/lib64 is searched for libnvrtc

   LIBRARY SEARCH
       libcuda:  desc.libcuda_path, then libcuda.so.1 (Windows: nvcuda.dll)
       libnvrtc: desc.nvrtc_path, BNBQ_NVRTC_PATH, libnvrtc.so.13, .12, .11.2, libnvrtc.so,
                 $CUDA_PATH/lib64/libnvrtc.so, /usr/local/cuda/lib64/libnvrtc.so
     The libraries are loaded once per process (a once-guarded global, never unloaded).

   DISK CACHE
     One file per compiled unit -- one kernel of one variant (a kernels_src file built with its -D
     defines) -- <dir>/<32 hex digits>.bnbqk, named by a hash of the key text: bnbq version, cache
     format, unit name, kernel name, a hash of the full source, the compile options, the target
     architecture and the image kind (cubin/PTX). The NVRTC and driver versions that made an entry
     are recorded inside it, not in the key, so a cache shipped with a product is found on a
     machine without NVRTC. Entry layout (little-endian, field by field):
         "BNBQKCH\0"  u32 format(=2)  u32 kind(1 cubin, 2 ptx)  u32 arch(e.g. 90)
         u32 nvrtc_version  u32 driver_version  u32 key_len  u64 image_len
         key bytes  image bytes  u64 checksum of everything before it (bnbq__sum64)
     Writes go to a temporary file, then rename(). A truncated, corrupt or foreign entry, or one
     the driver refuses, is a miss: recompiled when NVRTC is there, never an error.
     bnbq_cuda_precompile() fills a cache for a list of architectures without a GPU.

   KERNEL UNITS
     A kernel is compiled, cached and loaded on its own the first time an operation needs it: the
     file's other kernels are left out (-DBNBQ_ONE_KERNEL -DBNBQ_K_<name>, guards that `make embed`
     writes around each kernel definition), which keeps each NVRTC compilation short. The module
     table holds one module and its function per (variant, kernel); the function is loaded onto
     the GPU at once (cuFuncLoad, where the driver has it) rather than inside its first launch.
     The units of kernels_src/gemm90.cu (bnbq_gemm's 16-bit GEMM and int8_linear_matmul's many rows
     with TMA and wgmma) are built for sm_90a where the target is sm_90 as cubin (H100 / H200): the
     cache key's options say so, and bnbq_cuda_precompile for sm_90 builds them the same way. They
     need cuTensorMapEncodeTiled (CUDA 12.0 drivers), NVRTC 12.0+ and 225 KB of opt-in shared memory a
     block; without them, or where the driver refuses a tensor map or a unit does not compile (one
     WARN line), the sm_80 kernels run.

   THREAD SAFETY
     bnbq_cuda_init/uninit: any thread. A bnbq_cuda context may be used from several threads;
     its module table is guarded by a mutex. Operations on one exec are queued on its stream.

   EXACTNESS
     NVRTC compiles with --fmad=false and without fast-math; quantization kernels reproduce the
     CPU reference's bytes (bnbq.h, EXACTNESS).
*/
#ifndef BNBQ_CUDA_H_INCLUDED
#define BNBQ_CUDA_H_INCLUDED

#include "bnbq.h"

#ifdef __cplusplus
extern "C" {
#endif

// >>cuda-api
/* Version of the cache entry format (see DISK CACHE). */
#define BNBQ_CUDA_CACHE_FORMAT 2

typedef struct bnbq_cuda bnbq_cuda;   /* opaque context: one device */

/* Zero-initialise; zero means default:
   device_index         0
   cache_dir            NULL: $BNBQ_CACHE_DIR, $XDG_CACHE_HOME/bnbq, $HOME/.cache/bnbq
   disable_disk_cache   0: read and write the disk cache
   libcuda_path         NULL: libcuda.so.1
   nvrtc_path           NULL: see LIBRARY SEARCH
   disable_nvrtc        0: compile with NVRTC when a kernel is not cached; 1: use the disk cache
                        only (what a product that ships a precompiled cache does without NVRTC)
   logger, allocator    as bnbq_cpu_desc (allocator: host memory of the context)
   gemv_fast_order      0 (default): bnbq_gemv_4bit (and matmul_4bit with one token) sums in the
                        CPU's (bitsandbytes') order, byte-identical to the CPU; 1: f16 / bf16 on
                        sm_80+ use the tensor cores: dt(qmap) weights times the activation, exact
                        products summed in float32 per 64-element group, times the block's absmax
                        (K % 128 == 0, blocksize >= 64, 16-byte aligned; measured on an H100 at
                        63-68 % of the copy bandwidth in single calls and 80.9-82.8 % back to back,
                        against 46-55 % and 53-64 % exact), else bitsandbytes' rounded products
                        summed on the tensor cores: within tolerance of the CPU, not bit-identical
                        (README). F32 always uses the exact order. On sm_90 the tensor-core gemv
                        lets the next kernel on the stream start before it ends when that kernel
                        was launched with programmatic dependent launch (CUDA 12): such a kernel
                        must wait (cudaGridDependencySynchronize) before it reads the output, as
                        CUDA requires of those launches; bnbq's own kernels do.
   The same holds on sm_90 after int8_vectorwise_quant with at most as many rows as the GPU has SMs
   (and after its one-row kernel): its passes let the next kernel start as they begin. A kernel of
   yours launched with programmatic dependent launch after a bnbq call must wait before it reads
   what the call wrote; plain launches need nothing.
   exact_outlier_sums   0 (default): bnbq_int8_mixed_scaled_mm (Linear8bitLt's forward) with outlier
                        columns, f16 / bf16 and more than 16 rows on sm_80+, adds the outlier columns'
                        product (exact float32 products) on the tensor cores, in their summation order
                        (compute capability 9.0: in the int8 GEMM's epilogue; elsewhere a tensor-core
                        kernel of its own), where its work buffer holds 64 gathered columns a row
                        (2 M N / (M + N) >= 64): within tolerance of the CPU, not bit-identical
                        (bitsandbytes itself sums them with cuBLAS's fp16 addmm, whose bytes no CPU
                        order reproduces; the vectors' rule for Linear8bitLt with a threshold is
                        tolerance(f16)); 1: the CPU's sequential float32 sum, byte-identical to the CPU
                        (slower: measured in bench/results/gpu-20261124-h100-session28-*).
   no_tiered_compile    0 (default): a memory-bound kernel whose full NVRTC compilation is slow (the
                        gemvs, the quantizers, LLM.int8's row and epilogue kernels: the list
                        bnbq__cu_tiered_kernels, 0.25-0.9 s each) and that is not in the disk cache
                        is first compiled fast (NVRTC's -Ofc=mid: 2-3x sooner; its code runs up to
                        a few times slower; the same results byte for byte) and used at once, while
                        one background thread of the context compiles the fully optimised build;
                        that build replaces the fast one at the next call that asks for the kernel
                        once it is ready, and only it is written to the disk cache
                        (bnbq_cuda_finish_compiles waits for them). The tensor-core GEMMs are always
                        compiled in full (their fast builds ran 20-60x slower). Needs NVRTC 12.8+
                        and a cubin target; else one full compilation before the first launch.
                        1: always that (no thread). The environment variable BNBQ_TIERED_COMPILE=0
                        does the same (=fast, for tests: the listed kernels' fast builds only,
                        never replaced). The logger may be called from the background thread (a
                        failed full build: WARN). bnbq_cuda_uninit waits for a full build under way
                        (up to ~1 s) and drops the queued ones. */
typedef struct bnbq_cuda_desc {
    int            device_index;
    const char*    cache_dir;
    int            disable_disk_cache;
    const char*    libcuda_path;
    const char*    nvrtc_path;
    int            disable_nvrtc;
    bnbq_logger    logger;
    bnbq_allocator allocator;
    int            gemv_fast_order;
    int            exact_outlier_sums;
    int            no_tiered_compile;
} bnbq_cuda_desc;

typedef struct bnbq_cuda_device_info {
    char   name[256];
    int    cc_major, cc_minor;     /* compute capability                                 */
    int    sm_count;
    size_t total_memory;           /* bytes                                              */
    size_t l2_bytes;
    int    driver_version;         /* e.g. 13000                                         */
    int    nvrtc_version;          /* major*1000 + minor*10, 0 when NVRTC is not loaded   */
    int    target_arch;            /* what kernels are built for, e.g. 90                */
    int    target_is_ptx;          /* 1: PTX for an older architecture, JIT by the driver */
} bnbq_cuda_device_info;

/* Compilation and cache counters of a context (for benchmarks and diagnostics). A unit is one
   kernel of one variant: its own NVRTC compilation, cache entry and module. */
typedef struct bnbq_cuda_stats {
    int    units_compiled;         /* NVRTC compilations                                  */
    double compile_seconds;        /* wall seconds spent in NVRTC by the calling threads
                                      (the fast builds too; not the background thread's)   */
    int    disk_hits;              /* units loaded from the disk cache                    */
    int    disk_rejected;          /* cache entries found bad or refused by the driver    */
    double load_seconds;           /* wall seconds from asking for a kernel to having it
                                      ready, for the units found on disk (read, check,
                                      cuModuleLoadData, cuModuleGetFunction, cuFuncLoad)  */
    int    modules;                /* units (modules) in the in-memory table              */
    int    units_fast;             /* of units_compiled, first built fast (tiered compile) */
    int    units_upgraded;         /* fast units replaced by their fully optimised build  */
    int    units_pending;          /* fast units whose full build is not in place yet     */
    double background_seconds;     /* wall seconds of the full builds put in place, spent
                                      in the background thread (not in compile_seconds)   */
} bnbq_cuda_stats;

/* Opens the libraries, picks the device, retains its primary context. Errors: NULL_POINTER,
   INVALID_ARGS (allocator half set), NO_DRIVER (no libcuda, or the toolkit's stub libcuda),
   DRIVER_TOO_OLD (a required symbol is missing, or the driver says so), NO_DEVICE (no GPU, or
   device_index out of range), CUDA. NVRTC is opened on first need -- the first kernel that is not
   in the disk cache, or bnbq_cuda_query_device -- so a program whose kernels are all cached never
   loads it. A missing NVRTC is not an error here: it is logged at INFO and reported by the first
   operation whose kernel is not in the disk cache (NO_NVRTC).
   Thread safety: any thread. */
BNBQ_API bnbq_result bnbq_cuda_init(const bnbq_cuda_desc* desc, bnbq_cuda** out_ctx);
/* Releases the context, its modules and its host memory. NULL is a no-op. Device memory from
   bnbq_cuda_malloc must be freed before. Thread safety: no other call on ctx may run. */
BNBQ_API void bnbq_cuda_uninit(bnbq_cuda* ctx);
/* The resolved desc (cache_dir as chosen; NULL when the disk cache is off). */
BNBQ_API bnbq_result bnbq_cuda_query_desc(const bnbq_cuda* ctx, bnbq_cuda_desc* out_desc);
BNBQ_API bnbq_result bnbq_cuda_query_device(const bnbq_cuda* ctx, bnbq_cuda_device_info* out);
BNBQ_API bnbq_result bnbq_cuda_stats_get(bnbq_cuda* ctx, bnbq_cuda_stats* out);
/* Waits until the background thread has built every kernel that was first compiled fast (desc.
   no_tiered_compile) and puts those builds in place, so that every kernel from here on runs its
   fully optimised code (benchmarks call it after their warm-up). A full build that fails (logged)
   leaves the fast one, which computes the same results. Returns at once when nothing is pending.
   Thread safety: any thread. */
BNBQ_API bnbq_result bnbq_cuda_finish_compiles(bnbq_cuda* ctx);

/* An exec that runs bnbq operations on ctx's device, queued on stream (a CUstream; NULL = the
   legacy default stream). Tensors passed to operations are device pointers; code tables stay in
   host memory. bnbq_exec_uninit() releases nothing of the context. */
BNBQ_API bnbq_result bnbq_cuda_exec_init(bnbq_cuda* ctx, void* stream, bnbq_exec* out_ex);

/* Device memory and copies. Copies and memsets are queued on the exec's stream (host memory
   must stay valid until bnbq_cuda_synchronize). */
typedef enum bnbq_cuda_copy {
    BNBQ_COPY_HOST_TO_DEVICE   = 0,
    BNBQ_COPY_DEVICE_TO_HOST   = 1,
    BNBQ_COPY_DEVICE_TO_DEVICE = 2
} bnbq_cuda_copy;
BNBQ_API bnbq_result bnbq_cuda_malloc(bnbq_cuda* ctx, size_t bytes, void** out_ptr);
BNBQ_API bnbq_result bnbq_cuda_free(bnbq_cuda* ctx, void* ptr);
BNBQ_API bnbq_result bnbq_cuda_memcpy(bnbq_exec* ex, void* dst, const void* src, size_t bytes,
                                      bnbq_cuda_copy kind);
BNBQ_API bnbq_result bnbq_cuda_memset(bnbq_exec* ex, void* dst, int byte_value, size_t bytes);
/* Waits for everything queued on the exec's stream; reports asynchronous kernel errors. */
BNBQ_API bnbq_result bnbq_cuda_synchronize(bnbq_exec* ex);

BNBQ_API bnbq_result bnbq_cuda_stream_create(bnbq_cuda* ctx, void** out_stream);
BNBQ_API bnbq_result bnbq_cuda_stream_destroy(bnbq_cuda* ctx, void* stream);
/* Events for timing: record on the exec's stream; elapsed milliseconds between two. */
BNBQ_API bnbq_result bnbq_cuda_event_create(bnbq_cuda* ctx, void** out_event);
BNBQ_API bnbq_result bnbq_cuda_event_destroy(bnbq_cuda* ctx, void* event);
BNBQ_API bnbq_result bnbq_cuda_event_record(bnbq_exec* ex, void* event);
BNBQ_API bnbq_result bnbq_cuda_event_elapsed_ms(bnbq_cuda* ctx, void* start, void* end,
                                                float* out_ms);

/* Compiles every kernel bnbq can request for each architecture (e.g. {75, 80, 86, 89, 90}): every
   kernel of every registered variant, one unit each, and, unless dry_run, writes them to the cache
   directory. Needs NVRTC, not a GPU or a driver. out_report (optional) counts variants, units,
   compilations and failures. A failing unit is logged at ERROR with NVRTC's message and makes the
   result COMPILE_FAILED (the others still run). With parallel_for (e.g. bnbq_thread_pool_parallel_for
   of bnbq.h's BNBQ_PTHREADS pool) the (architecture, variant) pairs compile on its threads, each
   taking the next pair as it finishes one: ~N times faster on N cores (NVRTC compiles independent
   programs concurrently); the logger may then be called from several threads at once. */
typedef struct bnbq_cuda_precompile_desc {
    const int*     archs;          /* e.g. 90 for sm_90                                   */
    int            num_archs;
    const char*    cache_dir;      /* NULL: as bnbq_cuda_desc                             */
    const char*    nvrtc_path;
    int            emit_ptx;       /* 0: cubin for each arch; 1: PTX                      */
    int            dry_run;        /* 1: compile only (used by `make nvrtc-check`)        */
    bnbq_logger    logger;
    bnbq_parallel_for_fn parallel_for;      /* NULL: one pair after another, this thread  */
    void*          parallel_for_user_data;
} bnbq_cuda_precompile_desc;
typedef struct bnbq_cuda_precompile_report {
    int    variants;               /* registered variants (a kernels_src file + defines)  */
    int    compiled;               /* units compiled, over all archs                      */
    int    failed;                 /* units that failed (a variant whose kernels could not
                                      be listed, or an unknown arch: each variant once)   */
    int    written;                /* cache entries written                               */
    double seconds;                /* seconds spent in NVRTC, summed over the units (with
                                      parallel_for more than the call's wall time)        */
    double max_unit_seconds;       /* the slowest single unit                             */
    int    units;                  /* units (variant x kernel) found, over all archs      */
} bnbq_cuda_precompile_report;
BNBQ_API bnbq_result bnbq_cuda_precompile(const bnbq_cuda_precompile_desc* desc,
                                          bnbq_cuda_precompile_report* out_report);

/* NVRTC's version (major*1000 + minor*10) after loading it with the usual search, or a result
   code (NO_NVRTC). Thread safety: any thread. */
BNBQ_API bnbq_result bnbq_cuda_nvrtc_version(const char* nvrtc_path, int* out_version);

#ifdef __cplusplus
}
#endif
#endif /* BNBQ_CUDA_H_INCLUDED */

/* ============================================================================================== */
/*                                         IMPLEMENTATION                                          */
/* ============================================================================================== */
#ifdef BNBQ_IMPLEMENTATION
#ifndef BNBQ_CUDA__IMPLEMENTATION_DONE
#define BNBQ_CUDA__IMPLEMENTATION_DONE

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(_WIN32)
#include <windows.h>
#include <direct.h>
#include <process.h>
#else
#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#if defined(BNBQ_CUDA_NO_RUNTIME_LINKING)
#include <cuda.h>
#include <nvrtc.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

// >>cuda-loader

/* The few driver and NVRTC types bnbq uses. With BNBQ_CUDA_NO_RUNTIME_LINKING they are the real
   ones, and the functions below are assigned from the real declarations, so the compiler checks
   these prototypes. */
#if defined(BNBQ_CUDA_NO_RUNTIME_LINKING)
typedef CUresult bnbq__CUresult;
typedef CUdevice bnbq__CUdevice;
typedef CUdevice_attribute bnbq__CUattr;
typedef CUfunction_attribute bnbq__CUfuncattr;
typedef CUcontext bnbq__CUcontext;
typedef CUmodule bnbq__CUmodule;
typedef CUfunction bnbq__CUfunction;
typedef CUstream bnbq__CUstream;
typedef CUevent bnbq__CUevent;
typedef CUdeviceptr bnbq__CUdeviceptr;
typedef nvrtcResult bnbq__nvrtcResult;
typedef nvrtcProgram bnbq__nvrtcProgram;
#if CUDA_VERSION >= 11070
typedef CUmoduleLoadingMode bnbq__CUloadingMode;
#else
typedef int bnbq__CUloadingMode;
#endif
#if CUDA_VERSION >= 12000
typedef CUlaunchAttribute bnbq__CUlaunchAttr;
typedef CUlaunchConfig bnbq__CUlaunchConfig;
#define BNBQ__CU_HAVE_LAUNCH_EX 1
#endif
#else
typedef int bnbq__CUresult;
typedef int bnbq__CUdevice;
typedef int bnbq__CUattr;
typedef int bnbq__CUfuncattr;
typedef struct bnbq__CUctx_st* bnbq__CUcontext;
typedef struct bnbq__CUmod_st* bnbq__CUmodule;
typedef struct bnbq__CUfunc_st* bnbq__CUfunction;
typedef struct bnbq__CUstream_st* bnbq__CUstream;
typedef struct bnbq__CUevent_st* bnbq__CUevent;
typedef unsigned long long bnbq__CUdeviceptr;
typedef int bnbq__nvrtcResult;
typedef struct bnbq__nvrtcProgram_st* bnbq__nvrtcProgram;
typedef int bnbq__CUloadingMode;
#endif
/* cuLaunchKernelEx's configuration (CUDA 12.0), laid out as cuda.h's CUlaunchAttribute (an enum, 4
   bytes of padding, a 64-byte union aligned to 8) and CUlaunchConfig; the
   BNBQ_CUDA_NO_RUNTIME_LINKING build (`make compile-tests`) checks the layout against cuda.h. */
typedef struct bnbq__CUlaunchAttr_own {
    int id;
    char pad[4];
    union { char bytes[64]; int i; void* p; unsigned long long u; } value;
} bnbq__CUlaunchAttr_own;
typedef struct bnbq__CUlaunchConfig_own {
    unsigned int gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
    bnbq__CUstream hStream;
    bnbq__CUlaunchAttr_own* attrs;
    unsigned int numAttrs;
} bnbq__CUlaunchConfig_own;
#if defined(BNBQ__CU_HAVE_LAUNCH_EX)
#define BNBQ__CU_ATTR_ID(x) ((CUlaunchAttributeID)(x))
typedef char bnbq__check_launch_attr[sizeof(bnbq__CUlaunchAttr_own) == sizeof(CUlaunchAttribute) &&
                                     offsetof(bnbq__CUlaunchAttr_own, value) ==
                                         offsetof(CUlaunchAttribute, value) ? 1 : -1];
typedef char bnbq__check_launch_cfg[sizeof(bnbq__CUlaunchConfig_own) == sizeof(CUlaunchConfig) &&
                                    offsetof(bnbq__CUlaunchConfig_own, hStream) ==
                                        offsetof(CUlaunchConfig, hStream) &&
                                    offsetof(bnbq__CUlaunchConfig_own, numAttrs) ==
                                        offsetof(CUlaunchConfig, numAttrs) ? 1 : -1];
typedef char bnbq__check_launch_pss[CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION == 6 ? 1 : -1];
#else
#define BNBQ__CU_ATTR_ID(x) (x)
typedef bnbq__CUlaunchAttr_own bnbq__CUlaunchAttr;
typedef bnbq__CUlaunchConfig_own bnbq__CUlaunchConfig;
#endif
#define BNBQ__CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION 6

/* CUresult values bnbq interprets */
#define BNBQ__CUDA_SUCCESS 0
#define BNBQ__CUDA_ERROR_OUT_OF_MEMORY 2
#define BNBQ__CUDA_ERROR_NOT_INITIALIZED 3
#define BNBQ__CUDA_ERROR_STUB_LIBRARY 34
#define BNBQ__CUDA_ERROR_INSUFFICIENT_DRIVER 35
#define BNBQ__CUDA_ERROR_NO_DEVICE 100
#define BNBQ__CUDA_ERROR_INVALID_DEVICE 101
#define BNBQ__CUDA_ERROR_UNSUPPORTED_PTX_VERSION 222
#define BNBQ__CUDA_ERROR_SYSTEM_DRIVER_MISMATCH 803
/* device attributes */
#define BNBQ__ATTR_MAX_THREADS_PER_BLOCK 1
#define BNBQ__ATTR_MULTIPROCESSOR_COUNT 16
#define BNBQ__ATTR_L2_CACHE_SIZE 38
#define BNBQ__ATTR_CC_MAJOR 75
#define BNBQ__ATTR_CC_MINOR 76
#define BNBQ__ATTR_MAX_SHARED_PER_BLOCK_OPTIN 97
/* function attributes */
#define BNBQ__FATTR_MAX_DYNAMIC_SHARED 8

/* X(member, exported symbol, required, return type, parameters) */
#define BNBQ__CU_FUNCS(X) \
    X(cuInit, "cuInit", 1, bnbq__CUresult, (unsigned int)) \
    X(cuDriverGetVersion, "cuDriverGetVersion", 1, bnbq__CUresult, (int*)) \
    X(cuDeviceGetCount, "cuDeviceGetCount", 1, bnbq__CUresult, (int*)) \
    X(cuDeviceGet, "cuDeviceGet", 1, bnbq__CUresult, (bnbq__CUdevice*, int)) \
    X(cuDeviceGetName, "cuDeviceGetName", 1, bnbq__CUresult, (char*, int, bnbq__CUdevice)) \
    X(cuDeviceGetAttribute, "cuDeviceGetAttribute", 1, bnbq__CUresult, \
      (int*, bnbq__CUattr, bnbq__CUdevice)) \
    X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", 1, bnbq__CUresult, (size_t*, bnbq__CUdevice)) \
    X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 1, bnbq__CUresult, \
      (bnbq__CUcontext*, bnbq__CUdevice)) \
    X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", 1, bnbq__CUresult, \
      (bnbq__CUdevice)) \
    X(cuCtxPushCurrent, "cuCtxPushCurrent_v2", 1, bnbq__CUresult, (bnbq__CUcontext)) \
    X(cuCtxPopCurrent, "cuCtxPopCurrent_v2", 1, bnbq__CUresult, (bnbq__CUcontext*)) \
    X(cuMemAlloc, "cuMemAlloc_v2", 1, bnbq__CUresult, (bnbq__CUdeviceptr*, size_t)) \
    X(cuMemFree, "cuMemFree_v2", 1, bnbq__CUresult, (bnbq__CUdeviceptr)) \
    X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", 1, bnbq__CUresult, \
      (bnbq__CUdeviceptr, const void*, size_t, bnbq__CUstream)) \
    X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", 1, bnbq__CUresult, \
      (void*, bnbq__CUdeviceptr, size_t, bnbq__CUstream)) \
    X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", 1, bnbq__CUresult, \
      (bnbq__CUdeviceptr, bnbq__CUdeviceptr, size_t, bnbq__CUstream)) \
    X(cuMemsetD8Async, "cuMemsetD8Async", 1, bnbq__CUresult, \
      (bnbq__CUdeviceptr, unsigned char, size_t, bnbq__CUstream)) \
    X(cuStreamCreate, "cuStreamCreate", 1, bnbq__CUresult, (bnbq__CUstream*, unsigned int)) \
    X(cuStreamDestroy, "cuStreamDestroy_v2", 1, bnbq__CUresult, (bnbq__CUstream)) \
    X(cuStreamSynchronize, "cuStreamSynchronize", 1, bnbq__CUresult, (bnbq__CUstream)) \
    X(cuModuleLoadData, "cuModuleLoadData", 1, bnbq__CUresult, (bnbq__CUmodule*, const void*)) \
    X(cuModuleUnload, "cuModuleUnload", 1, bnbq__CUresult, (bnbq__CUmodule)) \
    X(cuModuleGetFunction, "cuModuleGetFunction", 1, bnbq__CUresult, \
      (bnbq__CUfunction*, bnbq__CUmodule, const char*)) \
    X(cuLaunchKernel, "cuLaunchKernel", 1, bnbq__CUresult, \
      (bnbq__CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int, \
       unsigned int, unsigned int, bnbq__CUstream, void**, void**)) \
    X(cuGetErrorName, "cuGetErrorName", 1, bnbq__CUresult, (bnbq__CUresult, const char**)) \
    X(cuEventCreate, "cuEventCreate", 1, bnbq__CUresult, (bnbq__CUevent*, unsigned int)) \
    X(cuEventRecord, "cuEventRecord", 1, bnbq__CUresult, (bnbq__CUevent, bnbq__CUstream)) \
    X(cuEventSynchronize, "cuEventSynchronize", 1, bnbq__CUresult, (bnbq__CUevent)) \
    X(cuEventElapsedTime, "cuEventElapsedTime", 1, bnbq__CUresult, \
      (float*, bnbq__CUevent, bnbq__CUevent)) \
    X(cuEventDestroy, "cuEventDestroy_v2", 1, bnbq__CUresult, (bnbq__CUevent))
/* Newer driver functions, used when the driver has them (NULL otherwise): the lazy-loading mode
   (CUDA 11.7), loading a function now rather than at its first launch (CUDA 12.4), and a
   function's attributes (gemv_4bit's dynamic shared memory over 48 KB; without it the launcher
   takes a kernel that needs none), and launches with attributes (CUDA 12.0: programmatic
   dependent launch on sm_90+, bnbq__cu_launch_pdl; without it a plain launch), and tensor maps (CUDA
   12.0: the TMA copies of bnbq_gemm's sm_90a tiles, bnbq__cu_gemm_wg; without it the sm_80 tiles). The
   enums of cuTensorMapEncodeTiled pass as int (cuda.h's enums are int-sized). */
#define BNBQ__CU_FUNCS_OPT(X) \
    X(cuModuleGetLoadingMode, "cuModuleGetLoadingMode", 0, bnbq__CUresult, (bnbq__CUloadingMode*)) \
    X(cuFuncLoad, "cuFuncLoad", 0, bnbq__CUresult, (bnbq__CUfunction)) \
    X(cuFuncSetAttribute, "cuFuncSetAttribute", 0, bnbq__CUresult, (bnbq__CUfunction, bnbq__CUfuncattr, int)) \
    X(cuLaunchKernelEx, "cuLaunchKernelEx", 0, bnbq__CUresult, \
      (const bnbq__CUlaunchConfig*, bnbq__CUfunction, void**, void**)) \
    X(cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled", 0, bnbq__CUresult, \
      (void*, int, unsigned int, void*, const unsigned long long*, const unsigned long long*, \
       const unsigned int*, const unsigned int*, int, int, int, int))

#define BNBQ__NVRTC_FUNCS(X) \
    X(nvrtcVersion, "nvrtcVersion", 1, bnbq__nvrtcResult, (int*, int*)) \
    X(nvrtcGetNumSupportedArchs, "nvrtcGetNumSupportedArchs", 0, bnbq__nvrtcResult, (int*)) \
    X(nvrtcGetSupportedArchs, "nvrtcGetSupportedArchs", 0, bnbq__nvrtcResult, (int*)) \
    X(nvrtcCreateProgram, "nvrtcCreateProgram", 1, bnbq__nvrtcResult, \
      (bnbq__nvrtcProgram*, const char*, const char*, int, const char* const*, \
       const char* const*)) \
    X(nvrtcCompileProgram, "nvrtcCompileProgram", 1, bnbq__nvrtcResult, \
      (bnbq__nvrtcProgram, int, const char* const*)) \
    X(nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", 1, bnbq__nvrtcResult, \
      (bnbq__nvrtcProgram, size_t*)) \
    X(nvrtcGetProgramLog, "nvrtcGetProgramLog", 1, bnbq__nvrtcResult, (bnbq__nvrtcProgram, char*)) \
    X(nvrtcGetPTXSize, "nvrtcGetPTXSize", 1, bnbq__nvrtcResult, (bnbq__nvrtcProgram, size_t*)) \
    X(nvrtcGetPTX, "nvrtcGetPTX", 1, bnbq__nvrtcResult, (bnbq__nvrtcProgram, char*)) \
    X(nvrtcGetCUBINSize, "nvrtcGetCUBINSize", 0, bnbq__nvrtcResult, (bnbq__nvrtcProgram, size_t*)) \
    X(nvrtcGetCUBIN, "nvrtcGetCUBIN", 0, bnbq__nvrtcResult, (bnbq__nvrtcProgram, char*)) \
    X(nvrtcDestroyProgram, "nvrtcDestroyProgram", 1, bnbq__nvrtcResult, (bnbq__nvrtcProgram*)) \
    X(nvrtcGetErrorString, "nvrtcGetErrorString", 1, const char*, (bnbq__nvrtcResult))

#define BNBQ__FN_MEMBER(name, sym, req, ret, params) ret (*bnbq__##name) params;

typedef struct bnbq__cu_driver {
    int            loaded;
    void*          handle;
    char           path[512];
    BNBQ__CU_FUNCS(BNBQ__FN_MEMBER)
    BNBQ__CU_FUNCS_OPT(BNBQ__FN_MEMBER)
} bnbq__cu_driver;

typedef struct bnbq__cu_nvrtc {
    int            loaded;
    void*          handle;
    char           path[512];
    int            version;            /* major*1000 + minor*10 */
    int            archs[64];          /* supported sm_XY, ascending */
    int            num_archs;
    BNBQ__NVRTC_FUNCS(BNBQ__FN_MEMBER)
} bnbq__cu_nvrtc;

/* The one process-wide state: the loaded libraries (never unloaded), set up under a lock that
   is statically initialised (the once-guard). Zero-initialised as a static object. */
typedef struct bnbq__cuda_state {
    bnbq__cu_driver drv;
    bnbq__cu_nvrtc  nvrtc;
} bnbq__cuda_state;
static bnbq__cuda_state bnbq__cuda_global;
#if defined(_WIN32)
static SRWLOCK bnbq__cuda_lock = SRWLOCK_INIT;
#else
static pthread_mutex_t bnbq__cuda_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

static void bnbq__global_lock(void) {
#if defined(_WIN32)
    AcquireSRWLockExclusive(&bnbq__cuda_lock);
#else
    pthread_mutex_lock(&bnbq__cuda_lock);
#endif
}
static void bnbq__global_unlock(void) {
#if defined(_WIN32)
    ReleaseSRWLockExclusive(&bnbq__cuda_lock);
#else
    pthread_mutex_unlock(&bnbq__cuda_lock);
#endif
}

#if !defined(BNBQ_CUDA_NO_RUNTIME_LINKING)
static void* bnbq__dlopen(const char* path) {
#if defined(_WIN32)
    return (void*)LoadLibraryA(path);
#else
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
#endif
}
static void* bnbq__dlsym(void* h, const char* sym) {
    void* p;
#if defined(_WIN32)
    FARPROC f = GetProcAddress((HMODULE)h, sym);
    memcpy(&p, &f, sizeof p);
#else
    p = dlsym(h, sym);
#endif
    return p;
}

/* Resolves every symbol of a table; returns the first missing required one, or NULL. Function
   pointers are copied bytewise from the data pointer dlsym returns (the POSIX idiom, legal C). */
#define BNBQ__FN_RESOLVE(name, sym, req, ret, params) \
    { void* p_ = bnbq__dlsym(h, sym); \
      if (!p_ && req && !missing) missing = sym; \
      memcpy(&t->bnbq__##name, &p_, sizeof p_); }

static const char* bnbq__resolve_driver(bnbq__cu_driver* t, void* h) {
    const char* missing = NULL;
    BNBQ__CU_FUNCS(BNBQ__FN_RESOLVE)
    BNBQ__CU_FUNCS_OPT(BNBQ__FN_RESOLVE)
    return missing;
}
static const char* bnbq__resolve_nvrtc(bnbq__cu_nvrtc* t, void* h) {
    const char* missing = NULL;
    BNBQ__NVRTC_FUNCS(BNBQ__FN_RESOLVE)
    return missing;
}
#endif /* !BNBQ_CUDA_NO_RUNTIME_LINKING */

#if defined(BNBQ_CUDA_NO_RUNTIME_LINKING)
#define BNBQ__FN_ASSIGN(name, sym, req, ret, params) t->bnbq__##name = name;
#endif

/* Loads libcuda (under the global lock). */
static bnbq_result bnbq__load_driver(const bnbq_exec* log_ex, const char* explicit_path) {
    bnbq__cu_driver* t = &bnbq__cuda_global.drv;
    const char* candidates[3];
    int nc = 0, i;
    if (t->loaded) return BNBQ_SUCCESS;
#if defined(BNBQ_CUDA_NO_RUNTIME_LINKING)
    (void)explicit_path; (void)candidates; (void)nc; (void)i;
    BNBQ__CU_FUNCS(BNBQ__FN_ASSIGN)
#if CUDA_VERSION >= 11070
    t->bnbq__cuModuleGetLoadingMode = cuModuleGetLoadingMode;
#endif
#if CUDA_VERSION >= 12040
    t->bnbq__cuFuncLoad = cuFuncLoad;
#endif
    t->bnbq__cuFuncSetAttribute = cuFuncSetAttribute;
#if CUDA_VERSION >= 12000
    t->bnbq__cuLaunchKernelEx = cuLaunchKernelEx;
    t->bnbq__cuTensorMapEncodeTiled =
        (bnbq__CUresult(*)(void*, int, unsigned int, void*, const unsigned long long*, const unsigned long long*,
                           const unsigned int*, const unsigned int*, int, int, int, int))cuTensorMapEncodeTiled;
#endif
    strcpy(t->path, "(linked)");
    t->loaded = 1;
    bnbq_log(log_ex, BNBQ_LOG_INFO, "bnbq_cuda_init", "using the linked CUDA driver");
    return BNBQ_SUCCESS;
#else
    if (explicit_path) candidates[nc++] = explicit_path;
#if defined(_WIN32)
    candidates[nc++] = "nvcuda.dll";
#else
    candidates[nc++] = "libcuda.so.1";
#endif
    for (i = 0; i < nc; i++) {
        void* h = bnbq__dlopen(candidates[i]);
        const char* missing;
        if (!h) {
            bnbq_log(log_ex, BNBQ_LOG_INFO, "bnbq_cuda_init", "cannot open %s", candidates[i]);
            continue;
        }
        missing = bnbq__resolve_driver(t, h);
        if (missing) {
            bnbq_log(log_ex, BNBQ_LOG_ERROR, "bnbq_cuda_init",
                     "%s lacks the symbol %s: the driver is too old (or not a CUDA driver)",
                     candidates[i], missing);
            memset(t, 0, sizeof *t);
            return BNBQ_ERROR_DRIVER_TOO_OLD;
        }
        t->handle = h;
        strncpy(t->path, candidates[i], sizeof t->path - 1);
        t->loaded = 1;
        return BNBQ_SUCCESS;
    }
    return BNBQ_ERROR_NO_DRIVER;
#endif
}

/* Loads NVRTC (under the global lock): explicit path, BNBQ_NVRTC_PATH, sonames, CUDA_PATH,
   /usr/local/cuda. */
static bnbq_result bnbq__load_nvrtc(const bnbq_exec* log_ex, const char* explicit_path) {
    bnbq__cu_nvrtc* t = &bnbq__cuda_global.nvrtc;
    const char* candidates[12];
    char cuda_path_lib[600];
    int nc = 0, i, major = 0, minor = 0;
    const char* env;
    if (t->loaded) return BNBQ_SUCCESS;
#if defined(BNBQ_CUDA_NO_RUNTIME_LINKING)
    (void)explicit_path; (void)candidates; (void)cuda_path_lib; (void)nc; (void)i; (void)env;
    BNBQ__NVRTC_FUNCS(BNBQ__FN_ASSIGN)
    strcpy(t->path, "(linked)");
#else
    if (explicit_path) candidates[nc++] = explicit_path;
    env = getenv("BNBQ_NVRTC_PATH");
    if (env && *env) candidates[nc++] = env;
#if defined(_WIN32)
    candidates[nc++] = "nvrtc64_130_0.dll";
    candidates[nc++] = "nvrtc64_120_0.dll";
    candidates[nc++] = "nvrtc64_112_0.dll";
    (void)cuda_path_lib;
#else
    candidates[nc++] = "libnvrtc.so.13";
    candidates[nc++] = "libnvrtc.so.12";
    candidates[nc++] = "libnvrtc.so.11.2";
    candidates[nc++] = "libnvrtc.so";
    env = getenv("CUDA_PATH");
    if (env && *env && strlen(env) < 500) {
        sprintf(cuda_path_lib, "%s/lib64/libnvrtc.so", env);
        candidates[nc++] = cuda_path_lib;
    }
    candidates[nc++] = "/usr/local/cuda/lib64/libnvrtc.so";
#endif
    for (i = 0; i < nc; i++) {
        void* h = bnbq__dlopen(candidates[i]);
        const char* missing;
        if (!h) {
            if (i == 0 && explicit_path)
                bnbq_log(log_ex, BNBQ_LOG_INFO, "bnbq_cuda", "cannot open NVRTC at %s; searching on",
                         explicit_path);
            continue;
        }
        missing = bnbq__resolve_nvrtc(t, h);
        if (missing) {
            bnbq_log(log_ex, BNBQ_LOG_WARN, "bnbq_cuda", "%s lacks %s; not used as NVRTC",
                     candidates[i], missing);
            memset(t, 0, sizeof *t);
            continue;
        }
        t->handle = h;
        strncpy(t->path, candidates[i], sizeof t->path - 1);
        break;
    }
    if (i == nc) {
        bnbq_log(log_ex, BNBQ_LOG_INFO, "bnbq_cuda",
                 "NVRTC (libnvrtc) not found: only kernels in the disk cache can run");
        return BNBQ_ERROR_NO_NVRTC;
    }
#endif
    if (t->bnbq__nvrtcVersion(&major, &minor) != 0) {
        memset(t, 0, sizeof *t);
        return BNBQ_ERROR_NO_NVRTC;
    }
    t->version = major * 1000 + minor * 10;
    t->num_archs = 0;
    if (t->bnbq__nvrtcGetNumSupportedArchs && t->bnbq__nvrtcGetSupportedArchs) {
        int n = 0;
        if (t->bnbq__nvrtcGetNumSupportedArchs(&n) == 0 && n > 0 && n <= 64 &&
            t->bnbq__nvrtcGetSupportedArchs(t->archs) == 0)
            t->num_archs = n;
    }
    if (t->num_archs == 0) {  /* NVRTC 11.2 without the query: a conservative list */
        static const int fallback[] = { 75, 80, 86 };
        memcpy(t->archs, fallback, sizeof fallback);
        t->num_archs = 3;
    }
    t->loaded = 1;
    bnbq_log(log_ex, BNBQ_LOG_INFO, "bnbq_cuda", "NVRTC %d.%d from %s", major, minor, t->path);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_cuda_nvrtc_version(const char* nvrtc_path, int* out_version) {
    bnbq_result r;
    if (!out_version) return BNBQ_ERROR_NULL_POINTER;
    bnbq__global_lock();
    r = bnbq__load_nvrtc(NULL, nvrtc_path);
    *out_version = r == BNBQ_SUCCESS ? bnbq__cuda_global.nvrtc.version : 0;
    bnbq__global_unlock();
    return r;
}

// >>cuda-cache

/* Wall-clock seconds from a monotonic clock where the headers declare one (CLOCK_MONOTONIC needs
   POSIX feature macros: a strict -std=c99 build falls back to gettimeofday). */
static double bnbq__now(void) {
#if defined(_WIN32)
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)f.QuadPart;
#elif defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
#endif
}

/* 64-bit FNV-1a (short strings: the file name of a key) */
static uint64_t bnbq__fnv64(uint64_t h, const void* data, size_t len) {
    const unsigned char* p = (const unsigned char*)data;
    size_t i;
    for (i = 0; i < len; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}
#define BNBQ__FNV_BASIS 0xcbf29ce484222325ull

static void bnbq__put_u32(unsigned char* p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void bnbq__put_u64(unsigned char* p, uint64_t v) {
    bnbq__put_u32(p, (uint32_t)v); bnbq__put_u32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t bnbq__get_u32(const unsigned char* p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t bnbq__get_u64(const unsigned char* p) {
    return (uint64_t)bnbq__get_u32(p) | ((uint64_t)bnbq__get_u32(p + 4) << 32);
}

/* The checksum of cache entries and the hash of kernel sources: four independent lanes over
   little-endian 64-bit words, each step h = rotl(h ^ w, 29) * odd (a bijection of h, so a change
   of any one word always changes its lane and the result), the tail bytes FNV-style, then the
   lanes, the length and a final avalanche mixed together. About 10x faster than byte-wise FNV-1a
   (it runs over every cache entry each time a module is loaded). */
#define BNBQ__SUM_M 0x9e3779b97f4a7c15ull
static uint64_t bnbq__rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t bnbq__sum64(const void* data, size_t len) {
    const unsigned char* p = (const unsigned char*)data;
    uint64_t a = 0x243f6a8885a308d3ull, b = 0x13198a2e03707344ull, c = 0xa4093822299f31d0ull,
             d = 0x082efa98ec4e6c89ull, h;
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        a = bnbq__rotl64(a ^ bnbq__get_u64(p + i), 29) * BNBQ__SUM_M;
        b = bnbq__rotl64(b ^ bnbq__get_u64(p + i + 8), 29) * BNBQ__SUM_M;
        c = bnbq__rotl64(c ^ bnbq__get_u64(p + i + 16), 29) * BNBQ__SUM_M;
        d = bnbq__rotl64(d ^ bnbq__get_u64(p + i + 24), 29) * BNBQ__SUM_M;
    }
    for (; i < len; i++) { d ^= p[i]; d *= 0x100000001b3ull; }
    h = (uint64_t)len * BNBQ__SUM_M;
    h = bnbq__rotl64(h ^ a, 29) * BNBQ__SUM_M;
    h = bnbq__rotl64(h ^ b, 29) * BNBQ__SUM_M;
    h = bnbq__rotl64(h ^ c, 29) * BNBQ__SUM_M;
    h = bnbq__rotl64(h ^ d, 29) * BNBQ__SUM_M;
    h ^= h >> 33; h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

#define BNBQ__CACHE_MAGIC "BNBQKCH"          /* 7 chars + NUL = 8 bytes */
#define BNBQ__CACHE_HEADER 40                 /* magic 8, 6 x u32, u64 image_len */
#define BNBQ__CACHE_MAX_IMAGE ((uint64_t)256 << 20)
#define BNBQ__KIND_CUBIN 1
#define BNBQ__KIND_PTX 2

/* The file name of a key: two FNV-1a hashes with different bases, 32 hex digits. */
static void bnbq__cache_name(const char* key, char out[40]) {
    size_t n = strlen(key);
    uint64_t a = bnbq__fnv64(BNBQ__FNV_BASIS, key, n);
    uint64_t b = bnbq__fnv64(0x84222325cbf29ce4ull, key, n);
    sprintf(out, "%08x%08x%08x%08x", (unsigned)(a >> 32), (unsigned)a, (unsigned)(b >> 32),
            (unsigned)b);
}

/* Reads and validates an entry. Returns a malloc'd image (*out_len bytes) or NULL on any problem
   (missing, truncated, corrupt, foreign key); *out_bad = 1 when a file was there. One read of the
   whole entry into one buffer; the image is moved to its front. */
static unsigned char* bnbq__cache_read(const char* path, const char* key, int kind, int arch,
                                       size_t* out_len, int* out_bad) {
    FILE* f;
    unsigned char* buf = NULL;
    uint32_t key_len;
    uint64_t img_len;
    size_t klen = strlen(key), total;
    *out_bad = 0;
    f = fopen(path, "rb");
    if (!f) return NULL;
    *out_bad = 1;
    buf = (unsigned char*)malloc(BNBQ__CACHE_HEADER);
    if (!buf || fread(buf, 1, BNBQ__CACHE_HEADER, f) != BNBQ__CACHE_HEADER) goto fail;
    if (memcmp(buf, BNBQ__CACHE_MAGIC, 8) != 0) goto fail;
    if (bnbq__get_u32(buf + 8) != BNBQ_CUDA_CACHE_FORMAT) goto fail;
    if (bnbq__get_u32(buf + 12) != (uint32_t)kind || bnbq__get_u32(buf + 16) != (uint32_t)arch)
        goto fail;
    key_len = bnbq__get_u32(buf + 28);
    img_len = bnbq__get_u64(buf + 32);
    if (key_len != klen || img_len == 0 || img_len > BNBQ__CACHE_MAX_IMAGE) goto fail;
    total = BNBQ__CACHE_HEADER + (size_t)key_len + (size_t)img_len + 8;
    {
        unsigned char* grown = (unsigned char*)realloc(buf, total);
        if (!grown) goto fail;
        buf = grown;
    }
    if (fread(buf + BNBQ__CACHE_HEADER, 1, total - BNBQ__CACHE_HEADER, f) != total - BNBQ__CACHE_HEADER)
        goto fail;
    if (fgetc(f) != EOF) goto fail;                                       /* trailing garbage */
    if (memcmp(buf + BNBQ__CACHE_HEADER, key, klen) != 0) goto fail;       /* a foreign entry */
    if (bnbq__sum64(buf, total - 8) != bnbq__get_u64(buf + total - 8)) goto fail;
    fclose(f);
    memmove(buf, buf + BNBQ__CACHE_HEADER + key_len, (size_t)img_len);
    *out_len = (size_t)img_len;
    *out_bad = 0;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

static int bnbq__mkdir_p(const char* dir) {
    char tmp[1024];
    size_t i, n = strlen(dir);
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
#if defined(_WIN32)
            _mkdir(tmp);
#else
            mkdir(tmp, 0777);
#endif
            tmp[i] = c;
        }
    }
    return 0;
}

/* Writes an entry atomically (temp file + rename). Returns 0 on success. */
static int bnbq__cache_write(const char* dir, const char* name, const char* key, int kind, int arch,
                             int nvrtc_version, int driver_version, const void* img, size_t len) {
    char path[1200], tmp[1300];
    static unsigned long counter = 0;   /* with the pid and a stack address (two threads of one process, e.g.
                                           two contexts' background compilers, may race on the counter but
                                           not share a stack), makes temp names unique */
    size_t klen = strlen(key), total = BNBQ__CACHE_HEADER + klen + len + 8;
    unsigned char* buf;
    FILE* f;
    int ok;
    if (strlen(dir) > 1000) return -1;
    buf = (unsigned char*)malloc(total);
    if (!buf) return -1;
    bnbq__mkdir_p(dir);
    sprintf(path, "%s/%s.bnbqk", dir, name);
#if defined(_WIN32)
    sprintf(tmp, "%s.tmp.%d.%lu.%lx", path, (int)_getpid(), ++counter, (unsigned long)(uintptr_t)&ok);
#else
    sprintf(tmp, "%s.tmp.%d.%lu.%lx", path, (int)getpid(), ++counter, (unsigned long)(uintptr_t)&ok);
#endif
    memset(buf, 0, BNBQ__CACHE_HEADER);
    memcpy(buf, BNBQ__CACHE_MAGIC, 8);
    bnbq__put_u32(buf + 8, BNBQ_CUDA_CACHE_FORMAT);
    bnbq__put_u32(buf + 12, (uint32_t)kind);
    bnbq__put_u32(buf + 16, (uint32_t)arch);
    bnbq__put_u32(buf + 20, (uint32_t)nvrtc_version);
    bnbq__put_u32(buf + 24, (uint32_t)driver_version);
    bnbq__put_u32(buf + 28, (uint32_t)klen);
    bnbq__put_u64(buf + 32, (uint64_t)len);
    memcpy(buf + BNBQ__CACHE_HEADER, key, klen);
    memcpy(buf + BNBQ__CACHE_HEADER + klen, img, len);
    bnbq__put_u64(buf + total - 8, bnbq__sum64(buf, total - 8));
    f = fopen(tmp, "wb");
    if (!f) { free(buf); return -1; }
    ok = fwrite(buf, 1, total, f) == total;
    free(buf);
    if (fclose(f) != 0) ok = 0;
#if defined(_WIN32)
    if (ok) { remove(path); }
#endif
    if (!ok || rename(tmp, path) != 0) { remove(tmp); return -1; }
    return 0;
}

/* The cache directory: explicit, BNBQ_CACHE_DIR, $XDG_CACHE_HOME/bnbq, $HOME/.cache/bnbq. */
static int bnbq__cache_dir(const char* explicit_dir, char* out, size_t cap) {
    const char* e;
    if (explicit_dir && *explicit_dir) {
        if (strlen(explicit_dir) >= cap) return -1;
        strcpy(out, explicit_dir);
        return 0;
    }
    e = getenv("BNBQ_CACHE_DIR");
    if (e && *e && strlen(e) < cap) { strcpy(out, e); return 0; }
    e = getenv("XDG_CACHE_HOME");
    if (e && *e && strlen(e) + 6 < cap) { sprintf(out, "%s/bnbq", e); return 0; }
    e = getenv("HOME");
    if (!e || !*e) e = getenv("USERPROFILE");
    if (e && *e && strlen(e) + 13 < cap) { sprintf(out, "%s/.cache/bnbq", e); return 0; }
    return -1;
}

/* ---- kernel sources -------------------------------------------------------------------------- */
/* One file of kernels_src/, as `make embed` writes it (kernels_src/embed.c): its text as lines
   (each kernel definition wrapped in a BNBQ_ONE_KERNEL / BNBQ_K_<name> guard, #line directives
   keep the file's own line numbers) and the names of the kernels it defines. */
typedef struct bnbq__cu_source {
    const char*        name;
    const char* const* lines;
    const char* const* kernels;
} bnbq__cu_source;

// >>cu-kernels
/* Generated by `make embed` from kernels_src/: do not edit by hand. */
static const char* const bnbq__cu_src_prelude[] = {
    "#line 1 \"prelude.cuh\"\n",
    "// bnbq kernel prelude: prepended to every compilation unit. No toolkit headers: the few types and\n",
    "// conversions the kernels need are defined here, bit for bit the same as bnbq.h's CPU functions.\n",
    "// Compiled with --fmad=false and without fast-math, so every float operation rounds on its own.\n",
    "typedef unsigned char u8;\n",
    "typedef signed char i8;\n",
    "typedef unsigned short u16;\n",
    "typedef unsigned int u32;\n",
    "typedef int i32;\n",
    "typedef unsigned long long u64;\n",
    "typedef long long i64;\n",
    "\n",
    "#define BNBQ_F32 0\n",
    "#define BNBQ_F16 1\n",
    "#define BNBQ_BF16 2\n",
    "#define BNBQ_FP4 0\n",
    "#define BNBQ_NF4 1\n",
    "\n",
    "#define BNBQ_DEV static __device__ __forceinline__\n",
    "\n",
    "BNBQ_DEV float bnbq_absf(float x) { return __uint_as_float(__float_as_uint(x) & 0x7fffffffu); }\n",
    "\n",
    "// The tile GEMMs' staging (int8mm.cu bnbq_k_int8_tc / _sb_tc, prims.cu bnbq_k_gemm_t2_*; sm_80+, no-ops\n",
    "// before): a 16-byte cp.async of `bytes` bytes (0: sixteen zero bytes, nothing read), its group commit and\n",
    "// wait (all but the newest N groups in), ldmatrix .x4 (TR: .trans), and the byte offset of 16-byte chunk c of\n",
    "// row `row` in a tile of 64-byte rows (c ^ ((row / 2) % 4): the 8 rows an ldmatrix phase reads lie in 8\n",
    "// different 16-byte bank groups).\n",
    "BNBQ_DEV void bnbq_cp16(u32 dst, const void* src, u32 bytes) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    asm volatile(\"cp.async.cg.shared.global [%0], [%1], 16, %2;\" ::\"r\"(dst), \"l\"(src), \"r\"(bytes) : \"memory\");\n",
    "#else\n",
    "    (void)dst; (void)src; (void)bytes;\n",
    "#endif\n",
    "}\n",
    "BNBQ_DEV void bnbq_cp_commit() {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    asm volatile(\"cp.async.commit_group;\" ::: \"memory\");\n",
    "#endif\n",
    "}\n",
    "template <int N>\n",
    "BNBQ_DEV void bnbq_cp_wait() {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    asm volatile(\"cp.async.wait_group %0;\" ::\"n\"(N) : \"memory\");\n",
    "#endif\n",
    "}\n",
    "template <int TR>\n",
    "BNBQ_DEV void bnbq_ldsm4(u32* r, u32 addr) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    if (TR)\n",
    "        asm volatile(\"ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\"\n",
    "                     : \"=r\"(r[0]), \"=r\"(r[1]), \"=r\"(r[2]), \"=r\"(r[3]) : \"r\"(addr));\n",
    "    else\n",
    "        asm volatile(\"ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\"\n",
    "                     : \"=r\"(r[0]), \"=r\"(r[1]), \"=r\"(r[2]), \"=r\"(r[3]) : \"r\"(addr));\n",
    "#else\n",
    "    r[0] = r[1] = r[2] = r[3] = addr;\n",
    "#endif\n",
    "}\n",
    "BNBQ_DEV u32 bnbq_tile64_off(u32 row, u32 c) { return row * 64u + ((c ^ ((row >> 1) & 3u)) << 4); }\n",
    "// Tile t of the tile GEMMs' tm x tn tiles (a block's grid-stride loop): groups of 8 m tiles, the m tile\n",
    "// fastest within a group, so that the blocks running together share B's tiles in the L2. *mt, *nt: its\n",
    "// m tile and n tile.\n",
    "BNBQ_DEV void bnbq_tile_order(u64 t, u64 tm, u64 tn, u64* mt, u64* nt) {\n",
    "    const u64 grp = t / (8u * tn), first = grp * 8u, gm = tm - first < 8u ? tm - first : 8u;\n",
    "    const u64 in = t - grp * 8u * tn;\n",
    "    *mt = first + in % gm;\n",
    "    *nt = in / gm;\n",
    "}\n",
    "\n",
    "// c[0..3] += A x B: one mma.m16n8k16 of the unit's 16-bit dtype (BNBQ_DT f16 / bf16) with float32\n",
    "// sums, the fragments as the PTX ISA lays them out (lane (g, t) holds A's rows g, g + 8 and B's column\n",
    "// g); sm_80+ (the launchers take these tensor-core kernels there only: elsewhere it traps). Shared by\n",
    "// prims.cu's bnbq_k_gemm_tc and matmul4.cu's bnbq_k_matmul4_mma. (gemv4.cu keeps its own, a plain\n",
    "// asm that ptxas may move: the gemv's measured schedule depends on it.)\n",
    "#if defined(BNBQ_DT) && BNBQ_DT != BNBQ_F32\n",
    "BNBQ_DEV void bnbq_mma16816(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "#if BNBQ_DT == BNBQ_F16\n",
    "    asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, \"\n",
    "                 \"{%8, %9}, {%0, %1, %2, %3};\"\n",
    "                 : \"+f\"(c[0]), \"+f\"(c[1]), \"+f\"(c[2]), \"+f\"(c[3])\n",
    "                 : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n",
    "#else\n",
    "    asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, \"\n",
    "                 \"{%8, %9}, {%0, %1, %2, %3};\"\n",
    "                 : \"+f\"(c[0]), \"+f\"(c[1]), \"+f\"(c[2]), \"+f\"(c[3])\n",
    "                 : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n",
    "#endif\n",
    "#else\n",
    "    (void)c; (void)a0; (void)a1; (void)a2; (void)a3; (void)b0; (void)b1;\n",
    "    __trap();\n",
    "#endif\n",
    "}\n",
    "\n",
    "// The few-token kernels' (bnbq_k_matmul4_mma, bnbq_k_gemm_mma) accumulators into a warp's slice rw of\n",
    "// their shared [warp][row of W][token] sums: c0 holds rows g (0, 1) and g + 8 (2, 3) of W for tokens\n",
    "// 2q, 2q + 1; c1 the same for tokens 8 + 2q, 8 + 2q + 1.\n",
    "BNBQ_DEV void bnbq_mma_stash(float (*rw)[17], u32 g, u32 q, const float* c0, const float* c1) {\n",
    "    rw[g][2 * q] = c0[0];\n",
    "    rw[g][2 * q + 1] = c0[1];\n",
    "    rw[g + 8][2 * q] = c0[2];\n",
    "    rw[g + 8][2 * q + 1] = c0[3];\n",
    "    rw[g][8 + 2 * q] = c1[0];\n",
    "    rw[g][8 + 2 * q + 1] = c1[1];\n",
    "    rw[g + 8][8 + 2 * q] = c1[2];\n",
    "    rw[g + 8][8 + 2 * q + 1] = c1[3];\n",
    "}\n",
    "\n",
    "// After a barrier: output (token m, row nl of W) of the block's W warps, summed in warp order.\n",
    "template <int W>\n",
    "BNBQ_DEV float bnbq_mma_unstash(const float (*red)[16][17], u32 nl, u32 m) {\n",
    "    float v = 0.0f;\n",
    "#pragma unroll\n",
    "    for (int k = 0; k < W; k++) v = v + red[k][nl][m];\n",
    "    return v;\n",
    "}\n",
    "#endif\n",
    "\n",
    "// Programmatic dependent launch (bnbq_cuda.h, bnbq__cu_launch_pdl; sm_90+): a kernel launched that\n",
    "// way waits here until the kernel before it on the stream has finished and its writes are visible;\n",
    "// bnbq_pdl_release lets the next kernel (launched that way) start early. Elsewhere both do nothing.\n",
    "BNBQ_DEV void bnbq_pdl_wait() {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900\n",
    "    asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");\n",
    "#endif\n",
    "}\n",
    "BNBQ_DEV void bnbq_pdl_release() {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900\n",
    "    asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");\n",
    "#endif\n",
    "}\n",
    "// A hint to bring the 128-byte line at p into the L2 (prefetch.global.L2: no value, never stale data); the\n",
    "// kernels launched that way use it for inputs that do not depend on the kernel before them, before they wait.\n",
    "BNBQ_DEV void bnbq_prefetch_l2(const void* p) {\n",
    "    asm volatile(\"prefetch.global.L2 [%0];\" :: \"l\"(p));\n",
    "}\n",
    "\n",
    "// Software RNE narrowing (keeps a NaN's sign and top payload bits, as bnbq.h's bnbq_f32_to_f16).\n",
    "BNBQ_DEV u16 bnbq_f32_to_f16_soft(float x) {\n",
    "    u32 u = __float_as_uint(x);\n",
    "    u32 sign = (u >> 16) & 0x8000u;\n",
    "    u32 a = u & 0x7fffffffu;\n",
    "    if (a > 0x7f800000u) return (u16)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));\n",
    "    if (a >= 0x47800000u) return (u16)(sign | 0x7c00u);\n",
    "    if (a >= 0x38800000u) {\n",
    "        u32 odd = (a >> 13) & 1u;\n",
    "        a = a - 0x38000000u + 0xfffu + odd;\n",
    "        return (u16)(sign | (a >> 13));\n",
    "    }\n",
    "    {\n",
    "        float t = __uint_as_float(a) + 0.5f;\n",
    "        return (u16)(sign | (__float_as_uint(t) - 0x3f000000u));\n",
    "    }\n",
    "}\n",
    "\n",
    "// RNE narrowing with the hardware conversion: for every non-NaN value it is the IEEE result, bit\n",
    "// for bit the software one (subnormals and overflow to inf included); NaN keeps the software path.\n",
    "BNBQ_DEV u16 bnbq_f32_to_f16(float x) {\n",
    "    u16 h;\n",
    "    if (!(x == x)) return bnbq_f32_to_f16_soft(x);\n",
    "    asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(x));\n",
    "    return h;\n",
    "}\n",
    "\n",
    "BNBQ_DEV float bnbq_f16_to_f32(u16 h) {\n",
    "    u32 sign = (u32)(h & 0x8000u) << 16;\n",
    "    u32 e = (h >> 10) & 0x1fu, m = h & 0x3ffu;\n",
    "    if (e == 0) {\n",
    "        float v = (float)m * 5.9604644775390625e-8f;\n",
    "        return __uint_as_float(__float_as_uint(v) | sign);\n",
    "    }\n",
    "    if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));\n",
    "    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));\n",
    "}\n",
    "\n",
    "BNBQ_DEV u16 bnbq_f32_to_bf16(float x) {\n",
    "    u32 u = __float_as_uint(x);\n",
    "    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40u);\n",
    "    u = u + 0x7fffu + ((u >> 16) & 1u);\n",
    "    return (u16)(u >> 16);\n",
    "}\n",
    "\n",
    "BNBQ_DEV float bnbq_bf16_to_f32(u16 h) { return __uint_as_float((u32)h << 16); }\n",
    "\n",
    "// A NaN is always written as the canonical 0x7fffffff (f16/bf16: 0x7fff), as bnbq.h's bnbq__canon:\n",
    "// GPU arithmetic already produces it; this also covers NaN inputs passed through.\n",
    "BNBQ_DEV float bnbq_canon(float v) { return v == v ? v : __uint_as_float(0x7fffffffu); }\n",
    "\n",
    "// element i of an array of dtype dt, widened exactly\n",
    "BNBQ_DEV float bnbq_load(int dt, const void* p, u64 i) {\n",
    "    if (dt == BNBQ_F16) return bnbq_f16_to_f32(((const u16*)p)[i]);\n",
    "    if (dt == BNBQ_BF16) return bnbq_bf16_to_f32(((const u16*)p)[i]);\n",
    "    return ((const float*)p)[i];\n",
    "}\n",
    "\n",
    "// one RNE rounding to dtype dt\n",
    "BNBQ_DEV void bnbq_store(int dt, void* p, u64 i, float v) {\n",
    "    v = bnbq_canon(v);\n",
    "    if (dt == BNBQ_F16) ((u16*)p)[i] = bnbq_f32_to_f16(v);\n",
    "    else if (dt == BNBQ_BF16) ((u16*)p)[i] = bnbq_f32_to_bf16(v);\n",
    "    else ((float*)p)[i] = v;\n",
    "}\n",
    "\n",
    "BNBQ_DEV float bnbq_round_to(int dt, float v) {\n",
    "    v = bnbq_canon(v);\n",
    "    if (dt == BNBQ_F16) return bnbq_f16_to_f32(bnbq_f32_to_f16(v));\n",
    "    if (dt == BNBQ_BF16) return bnbq_bf16_to_f32(bnbq_f32_to_bf16(v));\n",
    "    return v;\n",
    "}\n",
    "\n",
    "// LLM.int8's mm_dequant of one int32 product (int8.cu bnbq_k_int8_mm_dequant, int8mm.cu bnbq_k_int8_gemv_dq):\n",
    "// dt(f16(fmaf(f32(f32((float)a * rs) * cs), 6.200012e-05f, bias_f16_or_0))), a non-F16 bias added to the f16\n",
    "// value afterwards (one more f16 rounding), as bnbq__cpu_mm_dequant_range\n",
    "BNBQ_DEV float bnbq_i8_mmdq(int a, float rs, float cs, int bias_dt, const void* bias, u64 n) {\n",
    "    float v = (float)a * rs;\n",
    "    float w = v * cs;\n",
    "    float b = (bias && bias_dt == BNBQ_F16) ? bnbq_f16_to_f32(((const u16*)bias)[n]) : 0.0f;\n",
    "    float h = bnbq_round_to(BNBQ_F16, fmaf(w, 6.200012e-05f, b));\n",
    "    if (bias && bias_dt != BNBQ_F16) h = bnbq_round_to(BNBQ_F16, h + bnbq_load(bias_dt, bias, n));\n",
    "    return bnbq_canon(h);   // a widened f16 NaN (0x7fffe000) is written as 0x7fffffff, as the CPU\n",
    "}\n",
    "\n",
    "// LLM.int8's outlier product (prims.cu bnbq_k_outlier_*, int8mm.cu bnbq_k_int8_gemv_dq; bnbq.h\n",
    "// bnbq_int8_outlier_mm): the weight w = dt(f32(f32(q * scb) * (1/127))) of an int8 q with its row's scale;\n",
    "// bnbq_i8_outlier_w1 the float32 value before the rounding to dt (bnbq_ol_chunk narrows it itself)\n",
    "BNBQ_DEV float bnbq_i8_outlier_w1(int q, float scb) {\n",
    "    const float w0 = (float)q * scb;\n",
    "    return w0 * 7.874015718698502e-3f;\n",
    "}\n",
    "BNBQ_DEV float bnbq_i8_outlier_w(int dt, int q, float scb) { return bnbq_round_to(dt, bnbq_i8_outlier_w1(q, scb)); }\n",
    "// bnbq_f32_to_f16's results in fewer instructions and no branches (compact code):\n",
    "// bnbq_f16_canon(v) = bnbq_f32_to_f16(bnbq_canon(v)): a NaN gives 0x7fff (what the software path\n",
    "// gives the canonical NaN), any other value the hardware RNE (the prelude's for every non-NaN).\n",
    "BNBQ_DEV u16 bnbq_f16_canon(float v) {\n",
    "    u16 h;\n",
    "    asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(v));\n",
    "    return v == v ? h : (u16)0x7fffu;\n",
    "}\n",
    "// bnbq_f32_to_bf16(bnbq_canon(v)) (a NaN 0x7fff): the hardware RNE on sm_80+ (the same bits for every non-NaN)\n",
    "BNBQ_DEV u16 bnbq_bf16_canon(float v) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    u16 b;\n",
    "    asm(\"cvt.rn.bf16.f32 %0, %1;\" : \"=h\"(b) : \"f\"(v));\n",
    "    return v == v ? b : (u16)0x7fffu;\n",
    "#else\n",
    "    return bnbq_f32_to_bf16(bnbq_canon(v));\n",
    "#endif\n",
    "}\n",
    "// Two values narrowed to DT (f16 / bf16) and packed, lo in the low half, for lo and hi that are results of the GPU's\n",
    "// float arithmetic. sm_80+: one cvt.rn.{f16,bf16}x2.f32, for every non-NaN value bit for bit the RNE of\n",
    "// bnbq_f32_to_f16 / _bf16 (subnormals and overflow included); a NaN gives 0x7fff (PTX: the canonical NaN; seen on an\n",
    "// H200), their result for the only NaNs that reach here: the canonical 0x7fffffff of GPU arithmetic, or an f16 0x7fff\n",
    "// widened (0x7fffe000), either narrowed to 0x7fff whether the conversion keeps payloads or not. Before sm_80 the\n",
    "// software narrowings. (quant.cu's dequantizers used this first; session 34 put it in the GEMM epilogues, whose 64-128\n",
    "// unrolled per-value narrowings a thread were most of their code: bnbq_k_gemm_wg2_nn bf16 cubin 48 -> 30 KB.)\n",
    "template <int DT>\n",
    "BNBQ_DEV u32 bnbq_pack2(float lo, float hi) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    u32 r;\n",
    "    if (DT == BNBQ_F16) asm(\"cvt.rn.f16x2.f32 %0, %1, %2;\" : \"=r\"(r) : \"f\"(hi), \"f\"(lo));\n",
    "    else asm(\"cvt.rn.bf16x2.f32 %0, %1, %2;\" : \"=r\"(r) : \"f\"(hi), \"f\"(lo));\n",
    "    return r;\n",
    "#else\n",
    "    return DT == BNBQ_F16 ? (u32)bnbq_f16_canon(lo) | ((u32)bnbq_f16_canon(hi) << 16)\n",
    "                          : (u32)bnbq_bf16_canon(lo) | ((u32)bnbq_bf16_canon(hi) << 16);\n",
    "#endif\n",
    "}\n",
    "// LLM.int8's outlier product on the tensor cores (gemm90.cu's bnbq_k_int8_wg_dqt_*, prims.cu's bnbq_k_outlier_gather16\n",
    "// and bnbq_k_outlier_mm_tc): rows r < M are A's (M, K), rows M + n the weight's; outlier column j < nc of row r is\n",
    "// A[r, cols[j]], or w[n, j] = dt(f32(f32(CB[n, cols[j]] * SCB[n]) * (1/127))) (bnbq_i8_outlier_w), as dtype ODT's 16\n",
    "// bits; 0 for j >= nc and for a bad column (cols[j] outside [0, K): bad = 1, the exec's error flag). Columns j0 .. j0 + 7\n",
    "// of row r as one 16-byte chunk (the first in the low half of the first word): the eight column indices first, then\n",
    "// the eight loads of A or CB, all in flight at once. The weight's bits are bnbq_i8_outlier_w's value narrowed again,\n",
    "// in one hardware RNE narrowing (bnbq_f16_canon, bnbq_bf16_canon: the same bits, NaN 0x7fff). A template on the dtype,\n",
    "// without the software round trip: this rarely taken code cost NVRTC ~0.08 s in each kernel that has it.\n",
    "template <int ODT>\n",
    "BNBQ_DEV uint4 bnbq_ol_chunk(const u16* A, const i8* CB, const float* SCB, const i32* cols, u64 M, u64 K, u64 r, u64 j0,\n",
    "                             i32 nc, u32& bad) {\n",
    "    i32 c[8];\n",
    "    u32 v[8];\n",
    "    bool ok[8];\n",
    "#pragma unroll\n",
    "    for (int t = 0; t < 8; t++) c[t] = j0 + (u64)t < (u64)nc ? cols[j0 + (u64)t] : -1;\n",
    "    const bool wrow = r >= M;\n",
    "    const float scb = wrow ? SCB[r - M] : 0.0f;\n",
    "#pragma unroll\n",
    "    for (int t = 0; t < 8; t++) {\n",
    "        ok[t] = c[t] >= 0 && (u64)c[t] < K;\n",
    "        if (j0 + (u64)t < (u64)nc && !ok[t]) bad = 1u;\n",
    "        v[t] = !ok[t] ? 0u : wrow ? (u32)(u8)CB[(r - M) * K + (u64)c[t]] : (u32)A[r * K + (u64)c[t]];\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int t = 0; t < 8; t++)\n",
    "        if (wrow && ok[t]) {\n",
    "            const float w1 = bnbq_i8_outlier_w1((int)(i8)(u8)v[t], scb);\n",
    "            v[t] = ODT == BNBQ_F16 ? (u32)bnbq_f16_canon(w1) : (u32)bnbq_bf16_canon(w1);\n",
    "        }\n",
    "    return make_uint4(v[0] | (v[1] << 16), v[2] | (v[3] << 16), v[4] | (v[5] << 16), v[6] | (v[7] << 16));\n",
    "}\n",
    "// bnbq_h2f_arith(h) = bnbq_f16_to_f32(h) for every non-NaN h (the hardware widening is exact); a\n",
    "// NaN gives a NaN whose payload may differ, so it is only for operands of float arithmetic, whose\n",
    "// NaN result is the canonical 0x7fffffff either way.\n",
    "BNBQ_DEV float bnbq_h2f_arith(u16 h) {\n",
    "    float f;\n",
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h));\n",
    "    return f;\n",
    "}\n",
    "#if defined(BNBQ_DT)\n",
    "// element i of a tensor of the unit's dtype BNBQ_DT, widened (f16: the hardware widening; only an operand of\n",
    "// arithmetic or of a store that canonicalises a NaN as the CPU's does), and v rounded to the 16-bit dtype (one\n",
    "// RNE rounding, NaN canonical) as the low 16 bits: prims.cu's and gemm90.cu's GEMM epilogues and float ops\n",
    "BNBQ_DEV float bnbq_dt_ld(const void* p, u64 i) {\n",
    "    if (BNBQ_DT == BNBQ_F16) return bnbq_h2f_arith(((const u16*)p)[i]);\n",
    "    return bnbq_load(BNBQ_DT, p, i);\n",
    "}\n",
    "BNBQ_DEV u32 bnbq_dt_pack(float v) {   // (bf16: the hardware narrowing on sm_80+, bnbq_k_gemm_t2_* 51 -> 45 KB of code)\n",
    "    return BNBQ_DT == BNBQ_F16 ? (u32)bnbq_f16_canon(v) : (u32)bnbq_bf16_canon(v);\n",
    "}\n",
    "// bnbq_dt_pack(lo) | bnbq_dt_pack(hi) << 16 for results of float arithmetic: bnbq_pack2 of the unit's dtype\n",
    "BNBQ_DEV u32 bnbq_dt_pack2(float lo, float hi) { return bnbq_pack2<BNBQ_DT>(lo, hi); }\n",
    "#endif\n",
    "// SwitchBack's scaling of an int32 sum: f = f32(acc) * f32(1/127^2); g = x * f; c = w * g; h = f16(c)\n",
    "// (x = sx[m], w = sw[n] as float32); the bits of h. Shared by int8mm.cu's bnbq_sb_matmul / bnbq_mm_gemv<1> /\n",
    "// bnbq_mm_few_out and gemm90.cu's bnbq_k_sb_wg.\n",
    "BNBQ_DEV u32 bnbq_sb_scale(int acc, float x, float w) {\n",
    "    const float f = (float)acc * 6.20001229e-05f;   // f32(1/127^2)\n",
    "    const float g = x * f;\n",
    "    const float c = w * g;\n",
    "    return bnbq_f16_canon(c);\n",
    "}\n",
    "// bnbq_i8_mmdq's value as f16 bits (a NaN: 0x7fff, what its canonical NaN narrows to): the same roundings with\n",
    "// the hardware conversions (exact widenings; RNE narrowing for every non-NaN). int8.cu's bnbq_k_int8_mm_dequant\n",
    "// and gemm90.cu's bnbq_k_int8_wg_dq_* (the int8 GEMM with it as its epilogue, which reads each column's bias once).\n",
    "// bv: the bias bnbq_i8_mmdq_bias widened (0 without one); other: it is not f16, so it is added to the f16 value\n",
    "// (one more rounding), else it is the fmaf's addend.\n",
    "BNBQ_DEV u16 bnbq_i8_mmdq_hv(int a, float rs, float cs, float bv, bool other) {\n",
    "    u16 h = bnbq_f16_canon(fmaf(((float)a * rs) * cs, 6.200012e-05f, other ? 0.0f : bv));\n",
    "    if (other) h = bnbq_f16_canon(bnbq_h2f_arith(h) + bv);\n",
    "    return h;\n",
    "}\n",
    "// bias[n] of dtype bias_dt widened for bnbq_i8_mmdq_hv (f16 by the hardware: an operand of arithmetic only), 0\n",
    "// without a bias\n",
    "BNBQ_DEV float bnbq_i8_mmdq_bias(int bias_dt, const void* bias, u64 n) {\n",
    "    if (!bias) return 0.0f;\n",
    "    return bias_dt == BNBQ_F16 ? bnbq_h2f_arith(((const u16*)bias)[n]) : bnbq_load(bias_dt, bias, n);\n",
    "}\n",
    "BNBQ_DEV u16 bnbq_i8_mmdq_h(int a, float rs, float cs, int bias_dt, const void* bias, u64 n) {\n",
    "    return bnbq_i8_mmdq_hv(a, rs, cs, bnbq_i8_mmdq_bias(bias_dt, bias, n), bias && bias_dt != BNBQ_F16);\n",
    "}\n",
    "// f16 bits h (0x7fff its only NaN) as dtype DT's bits: bnbq_store's bytes for bnbq_i8_mmdq's value (bf16: the\n",
    "// hardware's RNE narrowing on sm_80+, the software one before; the same for every non-NaN)\n",
    "template <int DT>\n",
    "BNBQ_DEV u32 bnbq_i8_mmdq_out(u16 h) {\n",
    "    if (DT == BNBQ_F16) return h;\n",
    "    if (h == 0x7fffu) return DT == BNBQ_BF16 ? 0x7fffu : 0x7fffffffu;\n",
    "    const float f = bnbq_h2f_arith(h);\n",
    "    if (DT == BNBQ_F32) return __float_as_uint(f);\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    u16 b;\n",
    "    asm(\"cvt.rn.bf16.f32 %0, %1;\" : \"=h\"(b) : \"f\"(f));\n",
    "    return b;\n",
    "#else\n",
    "    return bnbq_f32_to_bf16(f);\n",
    "#endif\n",
    "}\n",
    "// bnbq_round_f16(v) = bnbq_round_to(BNBQ_F16, v): a NaN gives 0x7fffe000 (0x7fff widened), any\n",
    "// other value the hardware round trip\n",
    "BNBQ_DEV float bnbq_round_f16(float v) {\n",
    "    return v == v ? bnbq_h2f_arith(bnbq_f16_canon(v)) : __uint_as_float(0x7fffe000u);\n",
    "}\n",
    "\n",
    "// round half to even for |y| < 2^22; NaN -> 0; saturating beyond (as bnbq.h's bnbq__rint)\n",
    "BNBQ_DEV int bnbq_rint(float y) {\n",
    "    if (!(y == y)) return 0;\n",
    "    if (y >= 4194304.0f) return y >= 2147483520.0f ? 2147483647 : (int)y;\n",
    "    if (y <= -4194304.0f) return y <= -2147483648.0f ? (-2147483647 - 1) : (int)y;\n",
    "    return __float2int_rn(y);\n",
    "}\n",
    "\n",
    "// grid-stride loop over [0, n)\n",
    "#define BNBQ_GRID_LOOP(i, n) \\\n",
    "    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)\n",
    "\n",
    "// The register tile of the 64 x 64 SIMT products (prims.cu bnbq_k_gemm and bnbq_k_outlier_mm,\n",
    "// matmul4.cu): 256 threads of 4 x 4 outputs, operand tiles staged in shared memory as [k][row].\n",
    "// One staged step: for kk < BK, acc[i][j] (+)= As[kk][ty * 4 + i] * Bs[kk][tx * 4 + j], in kk order;\n",
    "// FUSED: fmaf; else the float32 product, then the float32 add (the CPU's p = a * b; s = s + p).\n",
    "BNBQ_DEV void bnbq_tile4x4_zero(float (&acc)[4][4]) {\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;\n",
    "}\n",
    "// acc[i][j] (+)= av[i] * bv[j] for an R x C tile of a thread (FUSED: fmaf; else the product, then the add)\n",
    "template <int R, int C, bool FUSED>\n",
    "BNBQ_DEV void bnbq_outer_acc(float (&acc)[R][C], const float (&av)[R], const float (&bv)[C]) {\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < R; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < C; j++) {\n",
    "            if (FUSED) {\n",
    "                acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);\n",
    "            } else {\n",
    "                const float p = av[i] * bv[j];\n",
    "                acc[i][j] = acc[i][j] + p;\n",
    "            }\n",
    "        }\n",
    "}\n",
    "template <int BK, int LD, bool FUSED>\n",
    "BNBQ_DEV void bnbq_tile4x4_step(float (&acc)[4][4], const float (&As)[BK][LD], const float (&Bs)[BK][LD],\n",
    "                                int ty, int tx) {\n",
    "#pragma unroll\n",
    "    for (int kk = 0; kk < BK; kk++) {\n",
    "        const float4 a4 = *(const float4*)&As[kk][ty * 4];\n",
    "        const float4 b4 = *(const float4*)&Bs[kk][tx * 4];\n",
    "        const float av[4] = { a4.x, a4.y, a4.z, a4.w }, bv[4] = { b4.x, b4.y, b4.z, b4.w };\n",
    "        bnbq_outer_acc<4, 4, FUSED>(acc, av, bv);\n",
    "    }\n",
    "}\n",
    0
};
static const char* const bnbq__cu_kernels_prelude[] = {
    0
};
static const char* const bnbq__cu_src_convert[] = {
    "#line 1 \"convert.cu\"\n",
    "// Elementwise dtype conversion (bnbq_convert). The dtypes are kernel arguments: the branch is\n",
    "// uniform across the grid and the kernel is memory-bound.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_convert(const void* src, int src_dt, void* dst, int dst_dt, u64 n) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_convert)\n",
    "#line 3 \"convert.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_convert(const void* src, int src_dt, void* dst, int dst_dt, u64 n) {\n",
    "    BNBQ_GRID_LOOP(i, n) bnbq_store(dst_dt, dst, i, bnbq_load(src_dt, src, i));\n",
    "}\n",
    "#endif\n",
    "#line 6 \"convert.cu\"\n",
    0
};
static const char* const bnbq__cu_kernels_convert[] = {
    "bnbq_k_convert",
    0
};
static const char* const bnbq__cu_src_gemm90[] = {
    "#line 1 \"gemm90.cu\"\n",
    "// The tile GEMMs on Hopper: TMA copies and wgmma (warpgroup) tensor-core instructions, for bnbq_gemm's 16-bit\n",
    "// GEMM (bnbq_k_gemm_wg*), bnbq_int8_linear_matmul's many rows (bnbq_k_int8_wg), LLM.int8's product with\n",
    "// int8_mm_dequant as its epilogue (bnbq_k_int8_wg_dq_*: bnbq_int8_mixed_scaled_mm's many rows) and SwitchBack's int8\n",
    "// matmuls (bnbq_k_sb_wg; the int8 kernels below, in the BNBQ_DT=1 unit). Compiled as units BNBQ_DT=1 / BNBQ_DT=2 with\n",
    "// BNBQ_ARCH_A=1 (variants in bnbq_cuda.h's BNBQ__CU_VARIANTS_PRIMS): bnbq_cuda.h builds such a unit as sm_90a\n",
    "// where the target is sm_90 (cubin), the only architecture whose code may use wgmma and setmaxnreg; elsewhere\n",
    "// the kernels are empty and the launchers (bnbq__cu_gemm_wg, bnbq__cu_i8_wg) never take them.\n",
    "//\n",
    "// 16-bit: out (M, N) = op(A) @ op(B) [+ bias], as prims.cu's bnbq_k_gemm_t2_* without accumulate (float32 sums;\n",
    "// wgmma's k order within a step of 16 is the hardware's, the steps ascending: a result within the vectors'\n",
    "// tolerance, not the same bytes as bnbq_k_gemm_t2_*). The int8 kernels' sums are exact (g9_gemm, I8).\n",
    "// Tiles of 128 x BN outputs (BN 128 or 256) and 64 of K a stage, a ring of S stages in dynamic shared memory.\n",
    "// A block: three warpgroups. Warpgroup 0 (its first thread) is the producer: for each stage it waits until the\n",
    "// stage is free (its `empty` mbarrier), announces the bytes on its `full` mbarrier and issues the TMA copies\n",
    "// (tensor maps built on the host, 128-byte swizzle, out-of-range elements read as zero: M, N and K need no\n",
    "// multiple). Warpgroups 1 and 2 (the consumers) take 64 rows of the tile each: they wait for `full`, issue\n",
    "// four m64nBNk16 wgmma instructions on the stage (descriptors into shared memory), and free the stage before\n",
    "// once this one's group is in flight (wgmma.wait_group 1). The grid is persistent (at most one block an SM,\n",
    "// tiles grid-strided in bnbq_tile_order), so the producer fills the next tile's stages while the consumers\n",
    "// stage the last one's outputs for their TMA stores.\n",
    "// Shared memory layouts, as TMA writes them with the 128-byte swizzle (16-byte chunk c of 128-byte row r at\n",
    "// c ^ (r % 8)) and as the descriptors describe them (PTX ISA, \"Matrix Descriptor Format\"):\n",
    "//   K contiguous (A as stored, B with trans_b): one box of 64 k x R rows, row r at 128 r; descriptor: K-major,\n",
    "//     stride between 8-row groups (SBO) 1024, a k16 step 32 bytes further.\n",
    "//   M or N contiguous (A with trans_a, B as stored): boxes of 64 rows x 64 k, k at 128 k inside a box, box b\n",
    "//     (rows 64 b .. 64 b + 63) at 8192 b; descriptor: MN-major (the instruction's transpose bit), SBO 1024\n",
    "//     between groups of 8 k, LBO 8192 between groups of 64 rows, a k16 step 2048 bytes further.\n",
    "\n",
    "#if defined(BNBQ_DT) && BNBQ_DT != BNBQ_F32\n",
    "\n",
    "#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)\n",
    "#define G9_ON 1\n",
    "#else\n",
    "#define G9_ON 0\n",
    "#endif\n",
    "#if BNBQ_DT == BNBQ_F16\n",
    "#define G9_TY \"f16\"\n",
    "#else\n",
    "#define G9_TY \"bf16\"\n",
    "#endif\n",
    "\n",
    "// a CUtensorMap (cuTensorMapEncodeTiled's 128 bytes), passed by value\n",
    "struct __align__(64) g9_tmap {\n",
    "    u64 q[16];\n",
    "};\n",
    "\n",
    "#if G9_ON\n",
    "BNBQ_DEV void g9_bar_init(u32 bar, u32 count) {\n",
    "    asm volatile(\"mbarrier.init.shared::cta.b64 [%0], %1;\" ::\"r\"(bar), \"r\"(count) : \"memory\");\n",
    "}\n",
    "BNBQ_DEV void g9_bar_wait(u32 bar, u32 parity) {\n",
    "    u32 ok;\n",
    "    do {\n",
    "        asm volatile(\"{\\n.reg .pred p;\\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\\nselp.u32 %0, 1, 0, p;\\n}\\n\"\n",
    "                     : \"=r\"(ok) : \"r\"(bar), \"r\"(parity) : \"memory\");\n",
    "    } while (!ok);\n",
    "}\n",
    "BNBQ_DEV void g9_bar_expect(u32 bar, u32 bytes) {\n",
    "    asm volatile(\"mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\" ::\"r\"(bar), \"r\"(bytes) : \"memory\");\n",
    "}\n",
    "BNBQ_DEV void g9_bar_arrive(u32 bar) {\n",
    "    asm volatile(\"mbarrier.arrive.shared::cta.b64 _, [%0];\" ::\"r\"(bar) : \"memory\");\n",
    "}\n",
    "// the 2-D box at (c0, c1) (c0 along the contiguous dimension) of map into shared memory at dst; its bytes\n",
    "// count on the mbarrier bar\n",
    "BNBQ_DEV void g9_tma(u32 dst, const g9_tmap* map, u64 c0, u64 c1, u32 bar) {\n",
    "    asm volatile(\"cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\"\n",
    "                 ::\"r\"(dst), \"l\"((u64)map), \"r\"((int)c0), \"r\"((int)c1), \"r\"(bar) : \"memory\");\n",
    "}\n",
    "// the mbarriers of a ring of S stages (8 bytes apart): `full` (one arrival: the producer's, with its bytes) and\n",
    "// `empty` (one arrival from each of the two consumer warpgroups)\n",
    "template <int S>\n",
    "BNBQ_DEV void g9_ring_init(u32 full, u32 empty) {\n",
    "#pragma unroll\n",
    "    for (int s = 0; s < S; s++) {\n",
    "        g9_bar_init(full + 8u * (u32)s, 1u);\n",
    "        g9_bar_init(empty + 8u * (u32)s, 2u);\n",
    "    }\n",
    "}\n",
    "// a shared memory matrix descriptor: start address, leading / stride byte offsets, 128-byte swizzle\n",
    "BNBQ_DEV u64 g9_desc(u32 addr, u32 lbo, u32 sbo) {\n",
    "    return (u64)((addr & 0x3ffffu) >> 4) | ((u64)((lbo & 0x3ffffu) >> 4) << 16) |\n",
    "           ((u64)((sbo & 0x3ffffu) >> 4) << 32) | (1ull << 62);\n",
    "}\n",
    "// the box of map at (c0, c1) from shared memory at src (128-byte swizzle), in this thread's bulk group; the\n",
    "// warpgroup's writes to src must be fenced for the async proxy (fence.proxy.async) and synchronised first\n",
    "BNBQ_DEV void g9_tma_store(const g9_tmap* map, u64 c0, u64 c1, u32 src) {\n",
    "    asm volatile(\"cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\"\n",
    "                 ::\"l\"((u64)map), \"r\"((int)c0), \"r\"((int)c1), \"r\"(src) : \"memory\");\n",
    "}\n",
    "// the 128 threads of consumer warpgroup c (named barrier 1 + c)\n",
    "BNBQ_DEV void g9_wg_sync(u32 c) { asm volatile(\"bar.sync %0, 128;\" ::\"r\"(1u + c) : \"memory\"); }\n",
    "BNBQ_DEV void g9_sts(u32 addr, u32 v) { asm volatile(\"st.shared.u32 [%0], %1;\" ::\"r\"(addr), \"r\"(v) : \"memory\"); }\n",
    "BNBQ_DEV void g9_fence() { asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\"); }\n",
    "BNBQ_DEV void g9_commit() { asm volatile(\"wgmma.commit_group.sync.aligned;\" ::: \"memory\"); }\n",
    "template <int N>\n",
    "BNBQ_DEV void g9_wait() { asm volatile(\"wgmma.wait_group.sync.aligned %0;\" ::\"n\"(N) : \"memory\"); }\n",
    "// The operand lists of the wgmma instructions below: \"%0, ..., %63\" and \"%64, ..., %127\", and the 64 sums\n",
    "// d[o] .. d[o + 63] as in-out operands of constraint c (\"+f\" or \"+r\")\n",
    "#define G9_OPS0_63                                                                   \\\n",
    "    \"%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, \"          \\\n",
    "    \"%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, \" \\\n",
    "    \"%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, \" \\\n",
    "    \"%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63\"\n",
    "#define G9_OPS64_127                                                                          \\\n",
    "    \"%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, \"          \\\n",
    "    \"%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, \"          \\\n",
    "    \"%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, \" \\\n",
    "    \"%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127\"\n",
    "#define G9_D8(c, d, o) \\\n",
    "    c(d[(o)]), c(d[(o) + 1]), c(d[(o) + 2]), c(d[(o) + 3]), c(d[(o) + 4]), c(d[(o) + 5]), c(d[(o) + 6]), c(d[(o) + 7])\n",
    "#define G9_D64(c, d, o)                                                                                          \\\n",
    "    G9_D8(c, d, (o)), G9_D8(c, d, (o) + 8), G9_D8(c, d, (o) + 16), G9_D8(c, d, (o) + 24), G9_D8(c, d, (o) + 32), \\\n",
    "        G9_D8(c, d, (o) + 40), G9_D8(c, d, (o) + 48), G9_D8(c, d, (o) + 56)\n",
    "// d (this thread's 64 x BN / 128 float32 sums) += A (64 x 16, descriptor da) x B (16 x BN, db); TA / TB: the\n",
    "// operand is MN-major (the instruction's transpose bits)\n",
    "template <int TA, int TB>\n",
    "BNBQ_DEV void g9_wgmma128(float* d, u64 da, u64 db) {\n",
    "    asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %66, 0;\\n\"\n",
    "                 \"wgmma.mma_async.sync.aligned.m64n128k16.f32.\" G9_TY \".\" G9_TY \" {\"\n",
    "                 G9_OPS0_63\n",
    "                 \"}, %64, %65, p, 1, 1, %67, %68;\\n}\\n\"\n",
    "                 : G9_D64(\"+f\", d, 0)\n",
    "                 : \"l\"(da), \"l\"(db), \"n\"(1), \"n\"(TA), \"n\"(TB));\n",
    "}\n",
    "template <int TA, int TB>\n",
    "BNBQ_DEV void g9_wgmma256(float* d, u64 da, u64 db) {\n",
    "    asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %130, 0;\\n\"\n",
    "                 \"wgmma.mma_async.sync.aligned.m64n256k16.f32.\" G9_TY \".\" G9_TY \" {\"\n",
    "                 G9_OPS0_63 \", \" G9_OPS64_127\n",
    "                 \"}, %128, %129, p, 1, 1, %131, %132;\\n}\\n\"\n",
    "                 : G9_D64(\"+f\", d, 0), G9_D64(\"+f\", d, 64)\n",
    "                 : \"l\"(da), \"l\"(db), \"n\"(1), \"n\"(TA), \"n\"(TB));\n",
    "}\n",
    "// d (int32 sums, 64 x 128 / 128 a thread) += A (64 x 32 s8, da) x B (32 x 128 s8, db): both K-major (8-bit wgmma has\n",
    "// no transpose); the integer sums wrap exactly\n",
    "BNBQ_DEV void g9_wgmma_i8(u32* d, u64 da, u64 db) {\n",
    "    asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %66, 0;\\n\"\n",
    "                 \"wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {\"\n",
    "                 G9_OPS0_63\n",
    "                 \"}, %64, %65, p;\\n}\\n\"\n",
    "                 : G9_D64(\"+r\", d, 0)\n",
    "                 : \"l\"(da), \"l\"(db), \"n\"(1));\n",
    "}\n",
    "// keeps the compiler from moving reads or writes of the sums across the asynchronous wgmma instructions\n",
    "template <int NR>\n",
    "BNBQ_DEV void g9_hold(float* d) {\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < NR; i++) asm volatile(\"\" : \"+f\"(d[i])::\"memory\");\n",
    "}\n",
    "template <int NR>\n",
    "BNBQ_DEV void g9_hold(u32* d) {\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < NR; i++) asm volatile(\"\" : \"+r\"(d[i])::\"memory\");\n",
    "}\n",
    "template <int I8> struct g9_acc { typedef u32 T; };\n",
    "template <> struct g9_acc<0> { typedef float T; };\n",
    "template <int BN, int TA, int TB>\n",
    "BNBQ_DEV void g9_mma(float* d, u64 da, u64 db) {\n",
    "    if (BN == 256) g9_wgmma256<TA, TB>(d, da, db);\n",
    "    else g9_wgmma128<TA, TB>(d, da, db);\n",
    "}\n",
    "template <int BN, int TA, int TB>\n",
    "BNBQ_DEV void g9_mma(u32* d, u64 da, u64 db) { g9_wgmma_i8(d, da, db); }\n",
    "BNBQ_DEV void g9_sts2(u32 addr, u32 a, u32 b) {\n",
    "    asm volatile(\"st.shared.v2.u32 [%0], {%1, %2};\" ::\"r\"(addr), \"r\"(a), \"r\"(b) : \"memory\");\n",
    "}\n",
    "BNBQ_DEV uint4 g9_lds4(u32 addr) {\n",
    "    uint4 v;\n",
    "    asm volatile(\"ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\" : \"=r\"(v.x), \"=r\"(v.y), \"=r\"(v.z), \"=r\"(v.w) : \"r\"(addr) : \"memory\");\n",
    "    return v;\n",
    "}\n",
    "// The column statistic and widened bias (0 without one, and past N) of column col of the tile as two floats at\n",
    "// dqs + 8 (col - n0): the first 64 threads of each consumer, columns 64 c + tid, when the tile begins\n",
    "BNBQ_DEV void g9_dq_col(u32 dqs, const float* cs, int bdt, const void* bias, u64 col, u64 N, u32 slot) {\n",
    "    const float cc = col < N ? cs[col] : 0.0f, bv = col < N ? bnbq_i8_mmdq_bias(bdt, bias, col) : 0.0f;\n",
    "    g9_sts2(dqs + 8u * slot, __float_as_uint(cc), __float_as_uint(bv));\n",
    "}\n",
    "// LLM.int8's int8_mm_dequant (I8 3..5) of a thread's four int32 sums e (rows a, b: statistics ra, rb; columns n,\n",
    "// n + 1 whose data g9_dq_col staged at dq) in place, as dtype OD's bits: prelude.cuh's bnbq_i8_mmdq_hv / _out, the\n",
    "// bytes of int8.cu's bnbq_k_int8_mm_dequant (other: a bias that is not f16)\n",
    "template <int OD>\n",
    "BNBQ_DEV void g9_dq4(u32* e, float ra, float rb, u32 dq, bool other) {\n",
    "    const uint4 v = g9_lds4(dq);   // (cc, bv) of n, then of n + 1\n",
    "    const float c0 = __uint_as_float(v.x), b0 = __uint_as_float(v.y), c1 = __uint_as_float(v.z), b1 = __uint_as_float(v.w);\n",
    "    if (OD == BNBQ_F32) {\n",
    "        e[0] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[0], ra, c0, b0, other));\n",
    "        e[1] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[1], ra, c1, b1, other));\n",
    "        e[2] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[2], rb, c0, b0, other));\n",
    "        e[3] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[3], rb, c1, b1, other));\n",
    "        return;\n",
    "    }\n",
    "    // 16-bit out: bnbq_i8_mmdq_hv's roundings to f16 a pair at a time (bnbq_pack2: each value a result of arithmetic),\n",
    "    // then (bf16) mmdq_out's narrowing of the widened f16 values, a pair at a time (0x7fff -> 0x7fff)\n",
    "    const float a0 = other ? 0.0f : b0, a1 = other ? 0.0f : b1;\n",
    "    u32 h01 = bnbq_pack2<BNBQ_F16>(fmaf(((float)(int)e[0] * ra) * c0, 6.200012e-05f, a0), fmaf(((float)(int)e[1] * ra) * c1, 6.200012e-05f, a1));\n",
    "    u32 h23 = bnbq_pack2<BNBQ_F16>(fmaf(((float)(int)e[2] * rb) * c0, 6.200012e-05f, a0), fmaf(((float)(int)e[3] * rb) * c1, 6.200012e-05f, a1));\n",
    "    if (other) {\n",
    "        h01 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h01) + b0, bnbq_h2f_arith((u16)(h01 >> 16)) + b1);\n",
    "        h23 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h23) + b0, bnbq_h2f_arith((u16)(h23 >> 16)) + b1);\n",
    "    }\n",
    "    if (OD == BNBQ_BF16) {\n",
    "        h01 = bnbq_pack2<BNBQ_BF16>(bnbq_h2f_arith((u16)h01), bnbq_h2f_arith((u16)(h01 >> 16)));\n",
    "        h23 = bnbq_pack2<BNBQ_BF16>(bnbq_h2f_arith((u16)h23), bnbq_h2f_arith((u16)(h23 >> 16)));\n",
    "    }\n",
    "    e[0] = h01 & 0xffffu; e[1] = h01 >> 16; e[2] = h23 & 0xffffu; e[3] = h23 >> 16;\n",
    "}\n",
    "// the two consumers' barrier (LLM.int8's epilogue: the column data of g9_dq_col are shared)\n",
    "BNBQ_DEV void g9_dq_sync() { asm volatile(\"bar.sync 3, 256;\" ::: \"memory\"); }\n",
    "BNBQ_DEV void g9_sts4(u32 addr, uint4 v) {\n",
    "    asm volatile(\"st.shared.v4.u32 [%0], {%1, %2, %3, %4};\" ::\"r\"(addr), \"r\"(v.x), \"r\"(v.y), \"r\"(v.z), \"r\"(v.w) : \"memory\");\n",
    "}\n",
    "// d (float32 sums, 64 x 128 / 128 a thread) += A (64 x 16, da) x B (16 x 128, db), f16 (BF = 0) or bf16 (BF = 1)\n",
    "// operands, both K-major: LLM.int8's outlier product in the int8 kernels' epilogue (I8 6 / 7, the BNBQ_DT=1 unit)\n",
    "template <int BF>\n",
    "BNBQ_DEV void g9_wgmma_ol(float* d, u64 da, u64 db) {\n",
    "    if (BF)\n",
    "        asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %66, 0;\\n\"\n",
    "                     \"wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {\" G9_OPS0_63 \"}, %64, %65, p, 1, 1, 0, 0;\\n}\\n\"\n",
    "                     : G9_D64(\"+f\", d, 0)\n",
    "                     : \"l\"(da), \"l\"(db), \"n\"(1));\n",
    "    else\n",
    "        asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %66, 0;\\n\"\n",
    "                     \"wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {\" G9_OPS0_63 \"}, %64, %65, p, 1, 1, 0, 0;\\n}\\n\"\n",
    "                     : G9_D64(\"+f\", d, 0)\n",
    "                     : \"l\"(da), \"l\"(db), \"n\"(1));\n",
    "}\n",
    "// the sums of bnbq_k_int8_wg_dqt_* (a thread's 64) as dt pairs, p[k] = (v[2 k], v[2 k + 1]) the first in the low half:\n",
    "// one hardware RNE rounding a pair (prelude.cuh's bnbq_pack2). A NaN among them is 0x7fff as the CPU's: each value\n",
    "// is a wgmma sum (the GPU's canonical NaN 0x7fffffff) or, without outlier columns, mm_dequant's value widened (its NaN\n",
    "// 0x7fff widened), and either narrows to 0x7fff whether the conversion keeps the payload or not. (Until session 34\n",
    "// a warp with a NaN took a second, per-value copy of this code: 59 -> 56 KB of cubin without it.) (A -0 stays -0,\n",
    "// the same value: the CPU's f32(out) + S with S = +0 would give +0 where the dequantized value is -0.)\n",
    "template <int BF, int NV>\n",
    "BNBQ_DEV void g9_ol_out(const float* v, u32* p) {\n",
    "#pragma unroll\n",
    "    for (int k = 0; k < NV / 2; k++) p[k] = bnbq_pack2<BF ? BNBQ_BF16 : BNBQ_F16>(v[2 * k], v[2 * k + 1]);\n",
    "}\n",
    "#endif\n",
    "\n",
    "// bnbq_k_int8_wg_dqt_*'s outlier operands: the gathered arrays (P columns a row), the inputs for the columns past P\n",
    "struct g9_ol {\n",
    "    const u16* Ag;\n",
    "    const u16* Wg;\n",
    "    u64 P;\n",
    "    const u16* A;\n",
    "    const i8* CB;\n",
    "    const i32* cols;\n",
    "    const i32* num_cols;\n",
    "    u32* err;\n",
    "};\n",
    "#if G9_ON\n",
    "// Chunk x (< 512) of consumer c's part of an outlier step into the output staging (ao: its A' rows, bo: B'; 128-byte\n",
    "// rows, 16-byte chunk x % 8 of row x / 8 at (x % 8) ^ (row % 8), the 128-byte swizzle): va of A' row x / 8, vb of B'\n",
    "// row 64 c + x / 8\n",
    "BNBQ_DEV void g9_ol_sts(u32 ao, u32 bo, u32 c, u32 x, uint4 va, uint4 vb) {\n",
    "    const u32 rr = x >> 3, sw16 = ((x & 7u) ^ (rr & 7u)) << 4;\n",
    "    g9_sts4(ao + rr * 128u + sw16, va);\n",
    "    g9_sts4(bo + (64u * c + rr) * 128u + sw16, vb);\n",
    "}\n",
    "// bnbq_ol_chunk's values (prelude.cuh), one column at a time: the rare path's compact form (its unrolled loads made\n",
    "// ~10 KB of bnbq_k_int8_wg_dqt_*'s code)\n",
    "template <int ODT>\n",
    "BNBQ_DEV uint4 g9_ol_chunk1(const u16* A, const i8* CB, const float* SCB, const i32* cols, u64 M, u64 K, u64 r, u64 j0,\n",
    "                            i32 nc, u32& bad) {\n",
    "    u64 lo = 0u, hi = 0u;\n",
    "    const bool wrow = r >= M;\n",
    "    const float scb = wrow ? SCB[r - M] : 0.0f;\n",
    "#pragma unroll 1\n",
    "    for (u32 t = 0; t < 8u; t++) {\n",
    "        u32 v = 0u;\n",
    "        if (j0 + t < (u64)nc) {\n",
    "            const i32 col = cols[j0 + t];\n",
    "            if (col < 0 || (u64)col >= K) {\n",
    "                bad = 1u;\n",
    "            } else if (wrow) {\n",
    "                const float w1 = bnbq_i8_outlier_w1((int)CB[(r - M) * K + (u64)col], scb);\n",
    "                v = ODT == BNBQ_F16 ? (u32)bnbq_f16_canon(w1) : (u32)bnbq_bf16_canon(w1);\n",
    "            } else {\n",
    "                v = A[r * K + (u64)col];\n",
    "            }\n",
    "        }\n",
    "        if (t < 4u) lo |= (u64)v << (16u * t);\n",
    "        else hi |= (u64)v << (16u * (t - 4u));\n",
    "    }\n",
    "    return make_uint4((u32)lo, (u32)(lo >> 32), (u32)hi, (u32)(hi >> 32));\n",
    "}\n",
    "// The outlier operands' chunk of 64 columns at q0 > 0 (more than 64 outlier columns: rare) into the staging, by\n",
    "// consumer c's thread tid (A' rows m0 .., B' rows 64 c .. of the tile's n0): the gathered values where q0 < P, else\n",
    "// read from A and CB (g9_ol_chunk1: the values prims.cu's bnbq_k_outlier_gather16 gathers). A call of\n",
    "// its own, out of the unrolled code (NVRTC time); the caller fences and synchronises.\n",
    "template <int ODT>\n",
    "__device__ __noinline__ void g9_ol_stage_rare(const g9_ol* ol, const float* SCB, u64 M, u64 N, u64 K, u64 m0, u64 n0,\n",
    "                                              u32 c, u32 tid, i32 q0, i32 nc, u32 ao, u32 bo) {\n",
    "    u32 bad = 0u;\n",
    "#pragma unroll 1\n",
    "    for (int i = 0; i < 4; i++) {\n",
    "        const u32 x = tid + 128u * (u32)i, rr = x >> 3;\n",
    "        const u64 ma = m0 + rr, nb = n0 + 64u * c + rr, j0 = (u64)q0 + 8u * (x & 7u);\n",
    "        uint4 va = make_uint4(0u, 0u, 0u, 0u), vb = va;\n",
    "        if (j0 < (u64)nc && (u64)q0 < ol->P) {\n",
    "            if (ma < M) va = *(const uint4*)(ol->Ag + ma * ol->P + j0);\n",
    "            if (nb < N) vb = *(const uint4*)(ol->Wg + nb * ol->P + j0);\n",
    "        } else if (j0 < (u64)nc) {\n",
    "            if (ma < M) va = g9_ol_chunk1<ODT>(ol->A, ol->CB, SCB, ol->cols, M, K, ma, j0, nc, bad);\n",
    "            if (nb < N) vb = g9_ol_chunk1<ODT>(ol->A, ol->CB, SCB, ol->cols, M, K, M + nb, j0, nc, bad);\n",
    "        }\n",
    "        g9_ol_sts(ao, bo, c, x, va, vb);\n",
    "    }\n",
    "    if (bad) *ol->err = 1u;\n",
    "}\n",
    "#endif\n",
    "\n",
    "// TA: A stored (K, M); TB: B stored (N, K) (bnbq_gemm's trans_a / trans_b). S stages of 128 x 64 (A) and\n",
    "// BN x 64 (B) elements; dynamic shared memory: 1024 bytes of slack (the ring starts 1024-aligned), the\n",
    "// ring, each consumer's staging of its 64 x BN outputs (BN / 64 boxes of 64 x 64 in the 128-byte swizzle),\n",
    "// the 2 S mbarriers, then each consumer's BN floats of bias (I8 = 0; the launcher's BNBQ__CU_G9_BIAS). The\n",
    "// outputs (bias added in float32, one rounding to dt) leave through the staging by\n",
    "// TMA stores of mO (out (M, N), boxes of 64 x 64; rows and columns past M and N are not written): the stores\n",
    "// run while the warpgroup goes on with its next tile, which reuses the staging once they have read it. (No\n",
    "// accumulate, out 16-byte aligned, N % 8 == 0: the launcher's conditions. Writing the pairs from the\n",
    "// registers instead took 2-3 times as long as the whole GEMM at K = 512, and tripled the unit's ptxas time.)\n",
    "// I8 = 1 (with TA = 0, TB = 1, BN = 128, no bias): bnbq_int8_linear_matmul's int8 A (M, K) times B (N, K)^T into\n",
    "// int32 out: the same ring with 128 k (bytes) a stage, m64n128k32 s8 instructions, int32 sums staged as boxes\n",
    "// of 32 x 64 (128-byte rows). I8 = 2: SwitchBack's int8 matmul, each sum scaled to f16 on the way (bnbq_sb_scale\n",
    "// with sx[m] and sw[n] (sw[0] when sw_global), then + bias[n] in f16: int8mm.cu's bnbq_mm_few_out<1>, the same\n",
    "// bytes), staged as the 16-bit outputs are. I8 = 3 / 4 / 5: LLM.int8's int8_mm_dequant on the way (g9_dq4: row\n",
    "// statistics sx, column statistics sw as floats, bias of dtype sw_global), out f16 / bf16 (staged as the 16-bit\n",
    "// outputs) / f32 (staged as the int32 sums): int8.cu's bnbq_k_int8_mm_dequant of the int32 sums, the same bytes;\n",
    "// the tile's column statistics and biases are staged in shared memory when it begins (g9_dq_col), and the two\n",
    "// consumers' barriers around the epilogue are one barrier for both (g9_dq_sync) since they share them.\n",
    "// I8 = 6 / 7 (bnbq_k_int8_wg_dqt_f16 / _bf16, ol: the outlier operands): I8 = 3 / 4's values widened to float32, then\n",
    "// LLM.int8's outlier product added on the tensor cores (g9_wgmma_ol, 64 outlier columns a chunk staged in the output\n",
    "// staging: the first chunk's values loaded while the mainloop runs), rounded to dt (g9_ol_out) and staged as 3 / 4.\n",
    "template <int BN, int S, int TA, int TB, int I8>\n",
    "BNBQ_DEV void g9_gemm(const g9_tmap* mA, const g9_tmap* mB, const g9_tmap* mO, u64 M, u64 N, u64 K, const void* bias,\n",
    "                      const void* sx, const void* sw, int sw_global, const g9_ol* ol = 0) {\n",
    "#if G9_ON\n",
    "    typedef typename g9_acc<I8>::T AT;\n",
    "    extern __shared__ unsigned char g9_smem[];\n",
    "    const u32 OB = I8 == 1 || I8 == 5 ? 4u : 2u;   // bytes an output\n",
    "    const u32 SA = 128u * 128u, ST = SA + (u32)BN * 128u, SO = 64u * (u32)BN * OB;\n",
    "    const u32 KS = I8 ? 128u : 64u;   // k (elements) a stage\n",
    "    const u32 sbase = ((u32)__cvta_generic_to_shared(g9_smem) + 1023u) & ~1023u;\n",
    "    const u32 full = sbase + (u32)S * ST + 2u * SO, empty = full + 8u * (u32)S;   // mbarrier s at + 8 s\n",
    "    const u32 dqs = full + 16u * (u32)S;   // LLM.int8 (I8 >= 3): the tile's column data (g9_dq_col), 1 KB; I8 = 0: bias\n",
    "    const u32 wg = threadIdx.x >> 7, tid = threadIdx.x & 127u;\n",
    "    const u64 tm = (M + 127u) / 128u, tn = (N + BN - 1u) / BN, KT = (K + KS - 1u) / KS, tiles = tm * tn;\n",
    "    if (threadIdx.x == 0) {\n",
    "        g9_ring_init<S>(full, empty);\n",
    "        asm volatile(\"fence.mbarrier_init.release.cluster;\" ::: \"memory\");\n",
    "    }\n",
    "    __syncthreads();\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)\n",
    "    // I8 >= 6: the outlier columns' count (clamped to [0, K]; bnbq_k_outlier_gather16 flagged one outside it)\n",
    "    i32 nc = 0;\n",
    "    if (I8 >= 6) {\n",
    "        nc = *ol->num_cols;\n",
    "        nc = nc < 0 ? 0 : (u64)nc > K ? (i32)K : nc;\n",
    "    }\n",
    "    if (wg == 0) {\n",
    "        asm volatile(\"setmaxnreg.dec.sync.aligned.u32 40;\");\n",
    "        if (tid != 0) return;\n",
    "        u64 it = 0;\n",
    "        for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {\n",
    "            u64 mt, nt;\n",
    "            bnbq_tile_order(t, tm, tn, &mt, &nt);\n",
    "            const u64 m0 = mt * 128u, n0 = nt * BN;\n",
    "            for (u64 kt = 0; kt < KT; kt++, it++) {\n",
    "                const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, st = sbase + s * ST, fb = full + 8u * s;\n",
    "                const u64 k0 = kt * KS;\n",
    "                g9_bar_wait(empty + 8u * s, ph ^ 1u);\n",
    "                g9_bar_expect(fb, ST);\n",
    "                if (!TA) g9_tma(st, mA, k0, m0, fb);\n",
    "                else { g9_tma(st, mA, m0, k0, fb); g9_tma(st + 8192u, mA, m0 + 64u, k0, fb); }\n",
    "                if (TB) g9_tma(st + SA, mB, k0, n0, fb);\n",
    "                else {\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < BN / 64; j++) g9_tma(st + SA + 8192u * (u32)j, mB, n0 + 64u * (u64)j, k0, fb);\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "        return;\n",
    "    }\n",
    "    asm volatile(\"setmaxnreg.inc.sync.aligned.u32 232;\");\n",
    "    const u32 c = wg - 1u, w = tid >> 5, lane = tid & 31u;\n",
    "    u64 it = 0;\n",
    "    for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {\n",
    "        u64 mt, nt;\n",
    "        bnbq_tile_order(t, tm, tn, &mt, &nt);\n",
    "        const u64 m0 = mt * 128u + 64u * c, n0 = nt * BN;\n",
    "        AT d[BN / 2];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < BN / 2; i++) d[i] = (AT)0;\n",
    "        // LLM.int8 (I8 >= 3): the statistics of this thread's rows (0 past M: those outputs are not written) into\n",
    "        // registers, the tile's columns' statistics and biases into shared memory (g9_dq_col), for the epilogue\n",
    "        float ra = 0.0f, rb = 0.0f;\n",
    "        if (I8 >= 3) {   // (rows 16 w + lane / 4 and + 8: the epilogue's r)\n",
    "            const u64 ma = m0 + 16u * w + (lane >> 2), mb = ma + 8u;\n",
    "            ra = ma < M ? ((const float*)sx)[ma] : 0.0f;\n",
    "            rb = mb < M ? ((const float*)sx)[mb] : 0.0f;\n",
    "            if (tid < 64u) g9_dq_col(dqs, (const float*)sw, sw_global, bias, n0 + 64u * c + tid, N, 64u * c + tid);\n",
    "        }\n",
    "        // 16-bit GEMM (I8 = 0): the tile's bias widened into this consumer's BN floats at dqs + 4 BN c, -0 without a\n",
    "        // bias and past N (v + -0 is v for every v: the epilogue adds it without a branch; its loads and bounds\n",
    "        // checks out of the unrolled code, which they were a quarter of). Written after the last tile's epilogue\n",
    "        // read them (its closing g9_wg_sync), read after the epilogue's first g9_wg_sync.\n",
    "        // SwitchBack (I8 = 2): the tile's column scales (0 past N) and f16 bias (-0 without one) widened, as pairs at\n",
    "        // dqs + 8 (BN c + column) (the same reasons; bnbq_k_sb_wg 41 -> 25 KB of code)\n",
    "        if (I8 == 0 || I8 == 2) {\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < BN / 128; k++) {\n",
    "                const u32 i = tid + 128u * (u32)k;\n",
    "                const u64 col = n0 + i;\n",
    "                if (I8 == 0) {\n",
    "                    g9_sts(dqs + 4u * ((u32)BN * c + i), __float_as_uint(bias && col < N ? bnbq_dt_ld(bias, col) : -0.0f));\n",
    "                } else {\n",
    "                    const float wv = col < N ? bnbq_h2f_arith(((const u16*)sw)[sw_global ? 0 : col]) : 0.0f;\n",
    "                    const float bv = bias && col < N ? bnbq_h2f_arith(((const u16*)bias)[col]) : -0.0f;\n",
    "                    g9_sts2(dqs + 8u * ((u32)BN * c + i), __float_as_uint(wv), __float_as_uint(bv));\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "        // I8 >= 6: this thread's part of the outlier operands' first 64 columns (for the epilogue, loaded while the\n",
    "        // mainloop runs): chunk i of 4 is 16-byte chunk x % 8 of row x / 8 (x = tid + 128 i) of the consumer's A' rows\n",
    "        // (m0 ..) and of B' rows 64 c .. 64 c + 63 (the tile's columns n0 + 64 c ..); always gathered (P >= 64)\n",
    "        uint4 pa[4], pb[4];\n",
    "        if (I8 >= 6) {\n",
    "            const u32 j0 = 8u * (tid & 7u);\n",
    "            const u64 ma = m0 + (tid >> 3), nb = n0 + 64u * c + (tid >> 3);\n",
    "            const uint4* ga = (const uint4*)(ol->Ag + ma * ol->P + j0);\n",
    "            const uint4* gb = (const uint4*)(ol->Wg + nb * ol->P + j0);\n",
    "            const u64 st16 = 16u * ol->P / 8u;   // 16 rows, in uint4\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 4; i++) {\n",
    "                pa[i] = pb[i] = make_uint4(0u, 0u, 0u, 0u);\n",
    "                if ((i32)j0 < nc && ma + 16u * (u64)i < M) pa[i] = ga[st16 * (u64)i];\n",
    "                if ((i32)j0 < nc && nb + 16u * (u64)i < N) pb[i] = gb[st16 * (u64)i];\n",
    "            }\n",
    "        }\n",
    "        u32 prev = 0;\n",
    "        for (u64 kt = 0; kt < KT; kt++, it++) {\n",
    "            const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, st = sbase + s * ST;\n",
    "            g9_bar_wait(full + 8u * s, ph);\n",
    "            const u32 a0 = st + 8192u * c, b0 = st + SA;\n",
    "            g9_hold<BN / 2>(d);\n",
    "            g9_fence();\n",
    "#pragma unroll\n",
    "            for (u32 kk = 0; kk < 4u; kk++) {\n",
    "                const u64 da = TA ? g9_desc(a0 + 2048u * kk, 8192u, 1024u) : g9_desc(a0 + 32u * kk, 16u, 1024u);\n",
    "                const u64 db = TB ? g9_desc(b0 + 32u * kk, 16u, 1024u) : g9_desc(b0 + 2048u * kk, 8192u, 1024u);\n",
    "                g9_mma<BN, TA, !TB>(d, da, db);\n",
    "            }\n",
    "            g9_commit();\n",
    "            g9_wait<1>();   // the stage before this one is read: free it\n",
    "            g9_hold<BN / 2>(d);\n",
    "            if (kt > 0 && tid == 0) g9_bar_arrive(empty + 8u * prev);\n",
    "            prev = s;\n",
    "        }\n",
    "        g9_wait<0>();\n",
    "        g9_hold<BN / 2>(d);\n",
    "        if (KT > 0 && tid == 0) g9_bar_arrive(empty + 8u * prev);\n",
    "        // sums: for each 8 columns j, d[4 j], d[4 j + 1] at row 16 w + lane / 4, columns 8 j + 2 (lane % 4) + 0 / 1;\n",
    "        // d[4 j + 2], d[4 j + 3] the same 8 rows further\n",
    "        const u32 r = 16u * w + (lane >> 2), q = lane & 3u, stg = sbase + (u32)S * ST + c * SO;\n",
    "        if (tid == 0) asm volatile(\"cp.async.bulk.wait_group.read 0;\" ::: \"memory\");   // the last tile's stores\n",
    "        if (I8 >= 3) g9_dq_sync();   // (also: both consumers' column data are written)\n",
    "        else g9_wg_sync(c);\n",
    "        const bool other = I8 >= 3 && bias && sw_global != BNBQ_F16;   // (LLM.int8: a bias added after the f16 rounding)\n",
    "        const u64 ma = m0 + r, mb = ma + 8u;\n",
    "        if (OB == 4u) {\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < BN / 8; j++) {   // box j / 4 (32 columns), 16-byte chunk 2 (j % 4) + q / 2, bytes 8 (q % 2)\n",
    "                const u32 ch = 2u * ((u32)j & 3u) + (q >> 1);\n",
    "                const u32 at = stg + 8192u * (u32)(j / 4) + r * 128u + ((ch ^ (r & 7u)) << 4) + 8u * (q & 1u);\n",
    "                u32 e[4] = { (u32)d[4 * j], (u32)d[4 * j + 1], (u32)d[4 * j + 2], (u32)d[4 * j + 3] };\n",
    "                if (I8 == 5) g9_dq4<BNBQ_F32>(e, ra, rb, dqs + 8u * (8u * (u32)j + 2u * q), other);\n",
    "                g9_sts2(at, e[0], e[1]);\n",
    "                g9_sts2(at + 1024u, e[2], e[3]);\n",
    "            }\n",
    "        } else {\n",
    "            // SwitchBack (I8 = 2): the rows' and columns' scales (0 past M / N: those outputs are not written)\n",
    "            const float xa = I8 == 2 && ma < M ? bnbq_h2f_arith(((const u16*)sx)[ma]) : 0.0f;\n",
    "            const float xb = I8 == 2 && mb < M ? bnbq_h2f_arith(((const u16*)sx)[mb]) : 0.0f;\n",
    "            // I8 >= 6: f = the dequantized values (mm_dequant's dt bits, widened), then + the outlier product on the\n",
    "            // tensor cores, 64 outlier columns a chunk: A' (the consumer's 64 rows) and B' (the tile's 128 columns)\n",
    "            // staged in the output staging (A' of consumer 0 at its first 8 KB, B' the 16 KB after it, A' of\n",
    "            // consumer 1 the last 8 KB; 128-byte rows in the 128-byte swizzle, K-major as the mainloop's operands)\n",
    "            float f[BN / 2];\n",
    "            u32 pk[BN / 4];\n",
    "            if (I8 >= 6) {\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < BN / 8; j++) {\n",
    "                    u32 e[4] = { (u32)d[4 * j], (u32)d[4 * j + 1], (u32)d[4 * j + 2], (u32)d[4 * j + 3] };\n",
    "                    g9_dq4<I8 == 6 ? BNBQ_F16 : BNBQ_BF16>(e, ra, rb, dqs + 8u * (8u * (u32)j + 2u * q), other);\n",
    "#pragma unroll\n",
    "                    for (int i = 0; i < 4; i++)\n",
    "                        f[4 * j + i] = I8 == 6 ? bnbq_h2f_arith((u16)e[i]) : __uint_as_float(e[i] << 16);\n",
    "                }\n",
    "                const u32 stg0 = sbase + (u32)S * ST, ao = stg0 + (c ? SO + 8192u : 0u), bo = stg0 + 8192u;\n",
    "                for (i32 q0 = 0; q0 < nc; q0 += 64) {\n",
    "                    if (q0 == 0) {\n",
    "#pragma unroll\n",
    "                        for (int i = 0; i < 4; i++) g9_ol_sts(ao, bo, c, tid + 128u * (u32)i, pa[i], pb[i]);\n",
    "                    } else {\n",
    "                        g9_dq_sync();   // both consumers' products of the chunk before are done\n",
    "                        g9_ol_stage_rare<I8 == 6 ? BNBQ_F16 : BNBQ_BF16>(ol, (const float*)sw, M, N, K, m0, n0, c, tid, q0,\n",
    "                                                                          nc, ao, bo);\n",
    "                    }\n",
    "                    asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");   // visible to wgmma\n",
    "                    g9_dq_sync();\n",
    "                    g9_hold<BN / 2>(f);\n",
    "                    g9_fence();\n",
    "#pragma unroll\n",
    "                    for (u32 kk = 0; kk < 4u; kk++)\n",
    "                        g9_wgmma_ol<I8 == 7>(f, g9_desc(ao + 32u * kk, 16u, 1024u), g9_desc(bo + 32u * kk, 16u, 1024u));\n",
    "                    g9_commit();\n",
    "                    g9_wait<0>();\n",
    "                    g9_hold<BN / 2>(f);\n",
    "                }\n",
    "                if (nc > 0) g9_dq_sync();   // both are done with B' before the staging takes the outputs\n",
    "                g9_ol_out<I8 == 7, BN / 2>(f, pk);\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < BN / 8; j++) {\n",
    "                u32 p0, p1;   // (columns n0 + 8 j + 2 q and + 1)\n",
    "                if (I8 == 2) {   // bnbq_sb_scale's values, then + bias in f16 (+ -0 without one keeps each value)\n",
    "                    float w0, b0, w1, b1;\n",
    "                    asm volatile(\"ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];\" : \"=f\"(w0), \"=f\"(b0), \"=f\"(w1), \"=f\"(b1)\n",
    "                                 : \"r\"(dqs + 8u * ((u32)BN * c + 8u * (u32)j + 2u * q)) : \"memory\");\n",
    "                    const u32 h01 = bnbq_pack2<BNBQ_F16>(w0 * (xa * ((float)(i32)d[4 * j] * 6.20001229e-05f)),\n",
    "                                             w1 * (xa * ((float)(i32)d[4 * j + 1] * 6.20001229e-05f)));\n",
    "                    const u32 h23 = bnbq_pack2<BNBQ_F16>(w0 * (xb * ((float)(i32)d[4 * j + 2] * 6.20001229e-05f)),\n",
    "                                             w1 * (xb * ((float)(i32)d[4 * j + 3] * 6.20001229e-05f)));\n",
    "                    p0 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h01) + b0, bnbq_h2f_arith((u16)(h01 >> 16)) + b1);\n",
    "                    p1 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h23) + b0, bnbq_h2f_arith((u16)(h23 >> 16)) + b1);\n",
    "                } else if (I8 >= 6) {   // out = dt(f32(mm_dequant's value) + outlier sum)\n",
    "                    p0 = pk[2 * j];\n",
    "                    p1 = pk[2 * j + 1];\n",
    "                } else if (I8 >= 3) {\n",
    "                    u32 e[4] = { (u32)d[4 * j], (u32)d[4 * j + 1], (u32)d[4 * j + 2], (u32)d[4 * j + 3] };\n",
    "                    g9_dq4<I8 == 3 ? BNBQ_F16 : BNBQ_BF16>(e, ra, rb, dqs + 8u * (8u * (u32)j + 2u * q), other);\n",
    "                    p0 = e[0] | (e[1] << 16);\n",
    "                    p1 = e[2] | (e[3] << 16);\n",
    "                } else {   // + the staged bias of columns n, n + 1\n",
    "                    float b0, b1;\n",
    "                    asm volatile(\"ld.shared.v2.f32 {%0, %1}, [%2];\" : \"=f\"(b0), \"=f\"(b1)\n",
    "                                 : \"r\"(dqs + 4u * ((u32)BN * c + 8u * (u32)j + 2u * q)) : \"memory\");\n",
    "                    const float v0 = d[4 * j] + b0, v1 = d[4 * j + 1] + b1, v2 = d[4 * j + 2] + b0, v3 = d[4 * j + 3] + b1;\n",
    "                    p0 = bnbq_dt_pack2(v0, v1);\n",
    "                    p1 = bnbq_dt_pack2(v2, v3);\n",
    "                }\n",
    "                // box j / 8, 16-byte chunk j % 8 of rows r and r + 8 (the same r % 8), bytes 4 q\n",
    "                const u32 at = stg + 8192u * (u32)(j / 8) + r * 128u + ((((u32)j & 7u) ^ (r & 7u)) << 4) + 4u * q;\n",
    "                g9_sts(at, p0);\n",
    "                g9_sts(at + 1024u, p1);\n",
    "            }\n",
    "        }\n",
    "        asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");   // visible to the TMA store\n",
    "        if (I8 >= 3) g9_dq_sync();   // (also: both consumers have read the column data: the next tile may write them)\n",
    "        else g9_wg_sync(c);\n",
    "        if (tid == 0) {\n",
    "            const u32 bw = OB == 4u ? 32u : 64u;   // columns a box\n",
    "#pragma unroll\n",
    "            for (int b = 0; b < (int)(BN / bw); b++) g9_tma_store(mO, n0 + bw * (u64)b, m0, stg + 8192u * (u32)b);\n",
    "            asm volatile(\"cp.async.bulk.commit_group;\" ::: \"memory\");\n",
    "        }\n",
    "    }\n",
    "    if (tid == 0) asm volatile(\"cp.async.bulk.wait_group 0;\" ::: \"memory\");   // done before the exit\n",
    "#else\n",
    "    (void)mA; (void)mB; (void)mO; (void)M; (void)N; (void)K; (void)bias; (void)sx; (void)sw; (void)sw_global;\n",
    "#endif\n",
    "}\n",
    "\n",
    "#define G9_S128 6   // stages of the 128 x 128 tiles (32 KB each; the launcher's BNBQ__CU_G9_S128)\n",
    "#define G9_S256 3   // stages of the 128 x 256 tiles (48 KB each; BNBQ__CU_G9_S256)\n",
    "// the kernels' parameters: the tensor maps of A, B and out, the shape, the bias (NULL: none)\n",
    "#define G9_PARAMS                                                                                                   \\\n",
    "    const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO, u64 M, \\\n",
    "        u64 N, u64 K, const void* bias\n",
    "// bnbq_k_gemm_wg_<a><b>: 128 x 128 tiles; _wg2_: 128 x 256 (a: A stored (K, M) when t, b: B stored (N, K) when t)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg_nn(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg_nn)\n",
    "#line 582 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_nn(G9_PARAMS) {\n",
    "    g9_gemm<128, G9_S128, 0, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 585 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg_nt(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg_nt)\n",
    "#line 585 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_nt(G9_PARAMS) {\n",
    "    g9_gemm<128, G9_S128, 0, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 588 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg_tn(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg_tn)\n",
    "#line 588 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_tn(G9_PARAMS) {\n",
    "    g9_gemm<128, G9_S128, 1, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 591 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg_tt(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg_tt)\n",
    "#line 591 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_tt(G9_PARAMS) {\n",
    "    g9_gemm<128, G9_S128, 1, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 594 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg2_nn(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg2_nn)\n",
    "#line 594 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_nn(G9_PARAMS) {\n",
    "    g9_gemm<256, G9_S256, 0, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 597 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg2_nt(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg2_nt)\n",
    "#line 597 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_nt(G9_PARAMS) {\n",
    "    g9_gemm<256, G9_S256, 0, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 600 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg2_tn(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg2_tn)\n",
    "#line 600 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_tn(G9_PARAMS) {\n",
    "    g9_gemm<256, G9_S256, 1, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 603 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_wg2_tt(G9_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_wg2_tt)\n",
    "#line 603 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_tt(G9_PARAMS) {\n",
    "    g9_gemm<256, G9_S256, 1, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 606 \"gemm90.cu\"\n",
    "\n",
    "// bnbq_int8_linear_matmul's many rows (the launcher's conditions: K % 16 == 0, A, B and out 16-byte aligned,\n",
    "// N % 4 == 0); in the BNBQ_DT=1 unit only (it has no dtype)\n",
    "#define G9_SI8 5   // stages (32 KB each; BNBQ__CU_G9_SI8)\n",
    "#if BNBQ_DT == BNBQ_F16\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO,\n",
    "               u64 M, u64 N, u64 K) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_wg)\n",
    "#line 611 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1)\n",
    "bnbq_k_int8_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO,\n",
    "               u64 M, u64 N, u64 K) {\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 1>(&mA, &mB, &mO, M, N, K, (const void*)0, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 616 \"gemm90.cu\"\n",
    "// SwitchBack's int8 matmul with its scaling (int8_matmul_rowwise / mixed_dequantize; the launcher: also N % 8 == 0)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO,\n",
    "             u64 M, u64 N, u64 K, const u16* sx, const u16* sw, int sw_global, const u16* bias) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_wg)\n",
    "#line 617 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1)\n",
    "bnbq_k_sb_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO,\n",
    "             u64 M, u64 N, u64 K, const u16* sx, const u16* sw, int sw_global, const u16* bias) {\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 2>(&mA, &mB, &mO, M, N, K, (const void*)bias, sx, sw, sw_global);\n",
    "}\n",
    "#endif\n",
    "#line 622 \"gemm90.cu\"\n",
    "// LLM.int8's int8 matmul with int8_mm_dequant as its epilogue (bnbq_int8_mixed_scaled_mm's many rows: no int32\n",
    "// intermediate, no mm_dequant pass), out f16 / bf16 / f32 (the launcher: N % 8 == 0 for the 16-bit ones, N % 4 == 0\n",
    "// for f32; dynamic shared memory: bnbq_k_int8_wg's + 1 KB for the tile's column data); rs, cs: row and column\n",
    "// statistics, bias of dtype bias_dt or NULL. On the H100 (bench/results/gpu-20261124-h100-session27-int8dq.txt):\n",
    "// 130 us at 4096^3 against 121 + 33 for bnbq_k_int8_wg + bnbq_k_int8_mm_dequant; Linear8bitLt 3-23 % faster.\n",
    "#define G9_DQ_PARAMS                                                                                                \\\n",
    "    const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO, u64 M, \\\n",
    "        u64 N, u64 K, const float* rs, const float* cs, int bias_dt, const void* bias\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_wg_dq_f16(G9_DQ_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_wg_dq_f16)\n",
    "#line 630 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dq_f16(G9_DQ_PARAMS) {\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 3>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt);\n",
    "}\n",
    "#endif\n",
    "#line 633 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_wg_dq_bf16(G9_DQ_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_wg_dq_bf16)\n",
    "#line 633 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dq_bf16(G9_DQ_PARAMS) {\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 4>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt);\n",
    "}\n",
    "#endif\n",
    "#line 636 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_wg_dq_f32(G9_DQ_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_wg_dq_f32)\n",
    "#line 636 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dq_f32(G9_DQ_PARAMS) {\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 5>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt);\n",
    "}\n",
    "#endif\n",
    "#line 639 \"gemm90.cu\"\n",
    "// The same with LLM.int8's outlier product added in the epilogue on the tensor cores (bnbq_int8_mixed_scaled_mm's many\n",
    "// rows with outlier columns, f16 / bf16, unless bnbq_cuda_desc.exact_outlier_sums): out = dt(f32(mm_dequant's dt\n",
    "// value) + S) with S the products of the outlier columns' A and dequantized weights (exact in float32) summed by\n",
    "// wgmma (its order and roundings: within tolerance(dt) of the CPU's sequential sum, as bitsandbytes' own cuBLAS\n",
    "// addmm is). Operands from bnbq_k_outlier_gather16 (Ag, Wg: P columns a row), columns past P from A, CB and cols.\n",
    "#define G9_OL_PARAMS \\\n",
    "    const u16 *Ag, const u16 *Wg, u64 P, const u16 *A, const i8 *CB, const i32 *cols, const i32 *num_cols, u32 *err\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_wg_dqt_f16(G9_DQ_PARAMS, G9_OL_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_wg_dqt_f16)\n",
    "#line 646 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dqt_f16(G9_DQ_PARAMS, G9_OL_PARAMS) {\n",
    "    const g9_ol ol = { Ag, Wg, P, A, CB, cols, num_cols, err };\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 6>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt, &ol);\n",
    "}\n",
    "#endif\n",
    "#line 650 \"gemm90.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_wg_dqt_bf16(G9_DQ_PARAMS, G9_OL_PARAMS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_wg_dqt_bf16)\n",
    "#line 650 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dqt_bf16(G9_DQ_PARAMS, G9_OL_PARAMS) {\n",
    "    const g9_ol ol = { Ag, Wg, P, A, CB, cols, num_cols, err };\n",
    "    g9_gemm<128, G9_SI8, 0, 1, 7>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt, &ol);\n",
    "}\n",
    "#endif\n",
    "#line 654 \"gemm90.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- bnbq_matmul_4bit's many rows on the sm_90a tiles: out (M, N) = A (M, K) @ W^T [+ bias], W 4-bit (N, K) ----\n",
    "// Each weight as bnbq_k_matmul4 makes it, dt(table[nibble] * absmax[(n K + k) / blocksize]) (the float32 product,\n",
    "// one rounding), then wgmma products with float32 sums, + bias, one rounding to dt (a result within the vectors'\n",
    "// tolerance, as bnbq_k_gemm_wg_nt's): the 16-bit weight is never written, not even to shared memory. The roles\n",
    "// are swapped: the weight is wgmma's A operand, taken from registers, and the tokens its B operand (shared\n",
    "// memory), so a block's tile is 128 rows of W (n) x G9_M4T tokens (m) and the sums are out^T's.\n",
    "// A block: three warpgroups. Warpgroup 0: its thread 0 issues the TMA copies of the tokens' 64-k stages into a\n",
    "// ring of G9_M4S (boxes of 64 k x G9_M4T rows, 128-byte swizzle: g9_gemm's K-major B layout); its thread 32 the\n",
    "// packed weight's boxes of 128 rows x 128 bytes (256 k, four stages) into a ring of two. Warpgroups 1-2\n",
    "// (consumer c: W rows 64 c .. 64 c + 63 of the tile; each thread reads its rows' absmax, one a row and 32 k,\n",
    "// from global memory a stage ahead) build each k16 step's A fragment themselves: lane (g, q) of warp w holds rows\n",
    "// 16 w + g and + 8, k 2 q, 2 q + 1 and 2 q + 8, 2 q + 9 (the mma.m16n8k16 layout): byte q of the step's two packed\n",
    "// words of each row. A stage: its fragments (16 registers) converted, its four wgmma, wgmma.wait_group 0, the\n",
    "// stage freed; the two consumers' stages interleave on the tensor cores. (Converting the next stage while the\n",
    "// group before runs, wait_group 1, made ptxas serialize every wgmma, its warning C7513: ~10 % slower; it took two\n",
    "// fragment sets, one is enough after wait_group 0.) The sums (row n, column m) leave through a transposed\n",
    "// staging (out's rows are m) and TMA stores, as g9_gemm's consumers'.\n",
    "// The launcher: K % 32 == 0 (k past K, half a stage, and rows past N read as zeros), A, packed and out 16-byte\n",
    "// aligned, N % 8 == 0. Measured on the H100 (bench/results/gpu-20261124-h100-session25-m4wg.txt, call c10):\n",
    "// 305-369 TFLOP/s at 512 and 4096 tokens (the 64 x 64 tiles before it: 19-20), 1.2-2.0x the time of\n",
    "// dequantize_4bit + bnbq_gemm, which Linear4bit keeps: every tile of tokens converts its weights again, and the\n",
    "// conversion (table read, product, rounding a weight) is the bound. Slower designs tried there: converting\n",
    "// warpgroups writing the weight's B stages in shared memory (shared-memory bandwidth), one fragment set with\n",
    "// wait_group 1 (a race: wrong sums), absmax staged by producer warps (racecheck cannot see their mbarrier sync).\n",
    "#define G9_M4S 6     // stages of tokens (16 KB each; the launcher's BNBQ__CU_G9_M4S)\n",
    "#define G9_M4T 128   // tokens a tile\n",
    "struct g9_code16 {\n",
    "    float v[16];\n",
    "};\n",
    "#if G9_ON\n",
    "// the two weights of packed byte b (bits 0..7; high nibble first) times s as a dt pair, the first in the low half\n",
    "BNBQ_DEV u32 g9_m4_byte(const float* tab, u32 b, float s) {\n",
    "    return bnbq_dt_pack2(tab[(b >> 4) & 15u] * s, tab[b & 15u] * s);\n",
    "}\n",
    "// d (this thread's 64 x 128 / 128 float32 sums) += A (64 x 16, registers a) x B (16 x 128, descriptor db, K-major)\n",
    "BNBQ_DEV void g9_wgmma128_ra(float* d, const u32* a, u64 db) {\n",
    "    asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %69, 0;\\n\"\n",
    "                 \"wgmma.mma_async.sync.aligned.m64n128k16.f32.\" G9_TY \".\" G9_TY \" {\"\n",
    "                 G9_OPS0_63\n",
    "                 \"}, {%64, %65, %66, %67}, %68, p, 1, 1, 0;\\n}\\n\"\n",
    "                 : G9_D64(\"+f\", d, 0)\n",
    "                 : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"l\"(db), \"n\"(1));\n",
    "}\n",
    "BNBQ_DEV void g9_hold4(u32* a) {\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 16; i++) asm volatile(\"\" : \"+r\"(a[i])::\"memory\");\n",
    "}\n",
    "// The absmax of stage kt's two halves of this thread's rows (flat indices ka + k, kb + k; rows va / vb inside W;\n",
    "// 0 past K or N) into sc[0..3]\n",
    "BNBQ_DEV void g9_m4_scales(float* sc, const float* absmax, u64 ka, u64 kb, bool va, bool vb, u64 kt, u64 K, int sh) {\n",
    "    const u64 k0 = kt * 64u, k1 = k0 + 32u;\n",
    "    sc[0] = va ? absmax[(ka + k0) >> sh] : 0.0f;\n",
    "    sc[1] = va && k1 < K ? absmax[(ka + k1) >> sh] : 0.0f;\n",
    "    sc[2] = vb ? absmax[(kb + k0) >> sh] : 0.0f;\n",
    "    sc[3] = vb && k1 < K ? absmax[(kb + k1) >> sh] : 0.0f;\n",
    "}\n",
    "// One stage kt of bnbq_k_m4_wg's consumer c (thread tid: rows ra, rb of the tile's W, byte q of each word): its A\n",
    "// fragments into a (sc: this stage's absmax; the next stage's read into it), the wgmma group on the token stage,\n",
    "// its wait (wait_group 0: a is free again for the next stage), then the token stage freed (its `empty` mbarrier,\n",
    "// one arrival a consumer). Counters: it (stages), ir (packed boxes).\n",
    "BNBQ_DEV void g9_m4_stage(float* d, u32* a, float* sc, u64 kt, u64 KT, u64& it, u64& ir, u32 c,\n",
    "                          u32 tid, u32 ra, u32 rb, u32 q, u32 sbase, u32 raw, u32 full, u32 empty, u32 rfull, u32 rempty,\n",
    "                          const float* tab, const float* absmax, u64 ka, u64 kb, bool va, bool vb, u64 K, int bs_shift) {\n",
    "    const int S = G9_M4S;\n",
    "    const u32 ST = G9_M4T * 128u, SR = 128u * 128u;\n",
    "    // this stage's absmax (read a stage before), the next stage's now\n",
    "    const float sa0 = sc[0], sa1 = sc[1], sb0 = sc[2], sb1 = sc[3];\n",
    "    if (kt + 1u < KT) g9_m4_scales(sc, absmax, ka, kb, va, vb, kt + 1u, K, bs_shift);\n",
    "    const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, qq = (u32)(kt & 3u);\n",
    "    const u32 rs = (u32)(ir & 1u), rph = (u32)(ir >> 1) & 1u;\n",
    "    if (qq == 0u) g9_bar_wait(rfull + 8u * rs, rph);\n",
    "    // rows ra / rb: the stage's 32 packed bytes (logical chunks 2 qq, 2 qq + 1 of the row in the box)\n",
    "    const u32 la = raw + rs * SR + ra * 128u, lb = raw + rs * SR + rb * 128u, sw = ra & 7u;   // (rb % 8 == ra % 8)\n",
    "    const uint4 xa0 = g9_lds4(la + (((2u * qq) ^ sw) << 4)), xa1 = g9_lds4(la + (((2u * qq + 1u) ^ sw) << 4));\n",
    "    const uint4 xb0 = g9_lds4(lb + (((2u * qq) ^ sw) << 4)), xb1 = g9_lds4(lb + (((2u * qq + 1u) ^ sw) << 4));\n",
    "    if ((qq == 3u || kt + 1u == KT)) {   // the box is read: free it (one arrival a warpgroup)\n",
    "        g9_wg_sync(c);\n",
    "        if (tid == 0) g9_bar_arrive(rempty + 8u * rs);\n",
    "        ir++;\n",
    "    }\n",
    "    // byte q of each word: step j takes words 2 j (k 2 q, 2 q + 1) and 2 j + 1 (k 2 q + 8, 2 q + 9)\n",
    "    const u32 sh = 8u * q;\n",
    "    const u32 wa[8] = { xa0.x >> sh, xa0.y >> sh, xa0.z >> sh, xa0.w >> sh, xa1.x >> sh, xa1.y >> sh, xa1.z >> sh, xa1.w >> sh };\n",
    "    const u32 wb[8] = { xb0.x >> sh, xb0.y >> sh, xb0.z >> sh, xb0.w >> sh, xb1.x >> sh, xb1.y >> sh, xb1.z >> sh, xb1.w >> sh };\n",
    "#pragma unroll\n",
    "    for (int j = 0; j < 4; j++) {\n",
    "        const float ka = j < 2 ? sa0 : sa1, kb = j < 2 ? sb0 : sb1;\n",
    "        a[4 * j + 0] = g9_m4_byte(tab, wa[2 * j], ka);\n",
    "        a[4 * j + 1] = g9_m4_byte(tab, wb[2 * j], kb);\n",
    "        a[4 * j + 2] = g9_m4_byte(tab, wa[2 * j + 1], ka);\n",
    "        a[4 * j + 3] = g9_m4_byte(tab, wb[2 * j + 1], kb);\n",
    "    }\n",
    "    g9_bar_wait(full + 8u * s, ph);\n",
    "    g9_hold<G9_M4T / 2>(d);\n",
    "    g9_hold4(a);\n",
    "    g9_fence();\n",
    "    const u32 b0 = sbase + s * ST;\n",
    "#pragma unroll\n",
    "    for (u32 kk = 0; kk < 4u; kk++) g9_wgmma128_ra(d, a + 4u * kk, g9_desc(b0 + 32u * kk, 16u, 1024u));\n",
    "    g9_commit();\n",
    "    g9_wait<0>();   // this stage is read: free it\n",
    "    g9_hold<G9_M4T / 2>(d);\n",
    "    g9_hold4(a);\n",
    "    if (tid == 0) g9_bar_arrive(empty + 8u * s);\n",
    "    it++;\n",
    "}\n",
    "#endif\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_m4_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mW, const __grid_constant__ g9_tmap mO,\n",
    "             u64 M, u64 N, u64 K, const void* bias, const float* absmax, int bs_shift, const __grid_constant__ g9_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_m4_wg)\n",
    "#line 763 \"gemm90.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(384, 1)\n",
    "bnbq_k_m4_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mW, const __grid_constant__ g9_tmap mO,\n",
    "             u64 M, u64 N, u64 K, const void* bias, const float* absmax, int bs_shift, const __grid_constant__ g9_code16 code) {\n",
    "#if G9_ON\n",
    "    const int S = G9_M4S;\n",
    "    extern __shared__ unsigned char g9_smem_m4[];\n",
    "    __shared__ float tab[16];\n",
    "    const u32 ST = G9_M4T * 128u, SO = 64u * G9_M4T * 2u, SR = 128u * 128u;\n",
    "    const u32 sbase = ((u32)__cvta_generic_to_shared(g9_smem_m4) + 1023u) & ~1023u;\n",
    "    const u32 raw = sbase + (u32)S * ST + 2u * SO;    // the packed weight's ring of two boxes\n",
    "    const u32 full = raw + 2u * SR, empty = full + 8u * (u32)S, rfull = empty + 8u * (u32)S, rempty = rfull + 16u;\n",
    "    const u32 wg = threadIdx.x >> 7, tid = threadIdx.x & 127u;\n",
    "    // tiles: tw (128 rows of W) x tt (G9_M4T tokens)\n",
    "    const u64 tw = (N + 127u) / 128u, tt = (M + G9_M4T - 1u) / G9_M4T, KT = (K + 63u) / 64u, KR = (K + 255u) / 256u;\n",
    "    const u64 tiles = tw * tt;\n",
    "    if (threadIdx.x < 16) tab[threadIdx.x] = code.v[threadIdx.x];\n",
    "    if (threadIdx.x == 0) {\n",
    "        g9_ring_init<S>(full, empty);\n",
    "        for (int s = 0; s < 2; s++) {\n",
    "            g9_bar_init(rfull + 8u * (u32)s, 1u);\n",
    "            g9_bar_init(rempty + 8u * (u32)s, 2u);\n",
    "        }\n",
    "        asm volatile(\"fence.mbarrier_init.release.cluster;\" ::: \"memory\");\n",
    "    }\n",
    "    __syncthreads();\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)\n",
    "    if (wg == 0) {\n",
    "        asm volatile(\"setmaxnreg.dec.sync.aligned.u32 56;\");\n",
    "        if (tid == 0) {   // the tokens: 64 k x G9_M4T rows a stage\n",
    "            u64 it = 0;\n",
    "            for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {\n",
    "                u64 wt, mt;\n",
    "                bnbq_tile_order(t, tw, tt, &wt, &mt);\n",
    "                for (u64 kt = 0; kt < KT; kt++, it++) {\n",
    "                    const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, fb = full + 8u * s;\n",
    "                    g9_bar_wait(empty + 8u * s, ph ^ 1u);\n",
    "                    g9_bar_expect(fb, ST);\n",
    "                    g9_tma(sbase + s * ST, &mA, kt * 64u, mt * G9_M4T, fb);\n",
    "                }\n",
    "            }\n",
    "        } else if (tid == 32) {   // the packed weight: 256 k (128 bytes) of 128 rows a box\n",
    "            u64 it = 0;\n",
    "            for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {\n",
    "                u64 wt, mt;\n",
    "                bnbq_tile_order(t, tw, tt, &wt, &mt);\n",
    "                for (u64 kr = 0; kr < KR; kr++, it++) {\n",
    "                    const u32 s = (u32)(it & 1u), ph = (u32)(it >> 1) & 1u, fb = rfull + 8u * s;\n",
    "                    g9_bar_wait(rempty + 8u * s, ph ^ 1u);\n",
    "                    g9_bar_expect(fb, SR);\n",
    "                    g9_tma(raw + s * SR, &mW, kr * 128u, wt * 128u, fb);\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "        return;\n",
    "    }\n",
    "    asm volatile(\"setmaxnreg.inc.sync.aligned.u32 224;\");\n",
    "    const u32 c = wg - 1u, w = tid >> 5, lane = tid & 31u, g = lane >> 2, q = lane & 3u;\n",
    "    const u32 ra = 64u * c + 16u * w + g, rb = ra + 8u;   // this thread's rows of the tile's W\n",
    "    u64 it = 0, ir = 0;\n",
    "    u32 a[16];\n",
    "    float sc[4];\n",
    "    for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {\n",
    "        u64 wt, mt;\n",
    "        bnbq_tile_order(t, tw, tt, &wt, &mt);\n",
    "        const u64 n0 = wt * 128u + 64u * c, m0 = mt * G9_M4T;\n",
    "        float d[G9_M4T / 2];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < G9_M4T / 2; i++) d[i] = 0.0f;\n",
    "        const u64 wa = wt * 128u + ra, wb = wt * 128u + rb;   // this thread's rows of W\n",
    "        const u64 ka = wa * K, kb = wb * K;\n",
    "        const bool va = wa < N, vb = wb < N;\n",
    "        g9_m4_scales(sc, absmax, ka, kb, va, vb, 0u, K, bs_shift);\n",
    "        for (u64 kt = 0; kt < KT; kt++)\n",
    "            g9_m4_stage(d, a, sc, kt, KT, it, ir, c, tid, ra, rb, q, sbase, raw, full, empty, rfull, rempty, tab,\n",
    "                        absmax, ka, kb, va, vb, K, bs_shift);\n",
    "        g9_wait<0>();\n",
    "        g9_hold<G9_M4T / 2>(d);\n",
    "        // (every stage freed itself after its wait)\n",
    "        // sums: d[4 j], d[4 j + 1]: W row 16 w + g (n), tokens 8 j + 2 q + 0 / 1 (m); d[4 j + 2], d[4 j + 3]: row + 8.\n",
    "        // Staged transposed: box b (tokens 64 b .. 64 b + 63), token row mr at 128 mr, n's 16-byte chunk n / 8 at\n",
    "        // (n / 8) ^ (mr % 8), 2 (n % 8) bytes into it\n",
    "        const u32 stg = sbase + (u32)S * ST + c * SO, na = 16u * w + g, nb = na + 8u;\n",
    "        const float ba = bias && n0 + na < N ? bnbq_dt_ld(bias, n0 + na) : 0.0f;\n",
    "        const float bb = bias && n0 + nb < N ? bnbq_dt_ld(bias, n0 + nb) : 0.0f;\n",
    "        if (tid == 0) asm volatile(\"cp.async.bulk.wait_group.read 0;\" ::: \"memory\");   // the last tile's stores\n",
    "        g9_wg_sync(c);\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < G9_M4T / 8; j++) {\n",
    "#pragma unroll\n",
    "            for (int e = 0; e < 2; e++) {\n",
    "                const u32 m = 8u * (u32)j + 2u * q + (u32)e, mr = m & 63u, box = stg + 8192u * (m >> 6) + mr * 128u;\n",
    "                const u32 hp = bnbq_dt_pack2(bias ? d[4 * j + e] + ba : d[4 * j + e], bias ? d[4 * j + 2 + e] + bb : d[4 * j + 2 + e]);\n",
    "                const u16 ha = (u16)hp, hb = (u16)(hp >> 16);\n",
    "                asm volatile(\"st.shared.u16 [%0], %1;\" ::\"r\"(box + ((((na >> 3) ^ (mr & 7u))) << 4) + 2u * (na & 7u)), \"h\"(ha) : \"memory\");\n",
    "                asm volatile(\"st.shared.u16 [%0], %1;\" ::\"r\"(box + ((((nb >> 3) ^ (mr & 7u))) << 4) + 2u * (nb & 7u)), \"h\"(hb) : \"memory\");\n",
    "            }\n",
    "        }\n",
    "        asm volatile(\"fence.proxy.async.shared::cta;\" ::: \"memory\");   // visible to the TMA store\n",
    "        g9_wg_sync(c);\n",
    "        if (tid == 0) {\n",
    "#pragma unroll\n",
    "            for (int b = 0; b < G9_M4T / 64; b++) g9_tma_store(&mO, n0, m0 + 64u * (u64)b, stg + 8192u * (u32)b);\n",
    "            asm volatile(\"cp.async.bulk.commit_group;\" ::: \"memory\");\n",
    "        }\n",
    "    }\n",
    "    if (tid == 0) asm volatile(\"cp.async.bulk.wait_group 0;\" ::: \"memory\");   // done before the exit\n",
    "#else\n",
    "    (void)mA; (void)mW; (void)mO; (void)M; (void)N; (void)K; (void)bias; (void)absmax; (void)bs_shift; (void)code;\n",
    "#endif\n",
    "}\n",
    "#endif\n",
    "#line 873 \"gemm90.cu\"\n",
    "\n",
    "#endif\n",
    0
};
static const char* const bnbq__cu_kernels_gemm90[] = {
    "bnbq_k_gemm_wg_nn",
    "bnbq_k_gemm_wg_nt",
    "bnbq_k_gemm_wg_tn",
    "bnbq_k_gemm_wg_tt",
    "bnbq_k_gemm_wg2_nn",
    "bnbq_k_gemm_wg2_nt",
    "bnbq_k_gemm_wg2_tn",
    "bnbq_k_gemm_wg2_tt",
    "bnbq_k_int8_wg",
    "bnbq_k_sb_wg",
    "bnbq_k_int8_wg_dq_f16",
    "bnbq_k_int8_wg_dq_bf16",
    "bnbq_k_int8_wg_dq_f32",
    "bnbq_k_int8_wg_dqt_f16",
    "bnbq_k_int8_wg_dqt_bf16",
    "bnbq_k_m4_wg",
    0
};
static const char* const bnbq__cu_src_gemv4[] = {
    "#line 1 \"gemv4.cu\"\n",
    "// bnbq_gemv_4bit: out (N,) = W (N, K) 4-bit @ A (K,), bitsandbytes' kgemm_4bit_inference_naive\n",
    "// element for element (algorithms.md 6.3). Per element, in every mode:\n",
    "//   lane L of row n takes the 32-element chunks k0 = 32 L + 1024 j; per chunk\n",
    "//   s = dt(absmax[(n K + k0) / blocksize]); per element w = qmap[nibble] * s and\n",
    "//     F32:       acc = fmaf(a, w, acc)\n",
    "//     F16/BF16:  b = dt(w); p = dt(a * b); acc = acc + p      (the products rounded to dt)\n",
    "// Summation order, compile-time BNBQ_G4_FAST:\n",
    "//   0 (exact): each lane adds its products in element order, then v += shfl_down(v, 1, 2, 4, 8,\n",
    "//     16) (lane 0 holds the CPU's tree), out = dt(v) (+ bias): byte-identical to\n",
    "//     bnbq__cpu_gemv_range.\n",
    "//   1 (fast, F16/BF16 on sm_80+; F32 and sm_75 stay exact): the same products p, but summed by the\n",
    "//     tensor cores: one mma.m16n8k16 with B = ones adds 8 products of each of the 32 lanes (the\n",
    "//     lanes of a group of 4 into one fp32 accumulator row), and the 8 groups' partial sums are\n",
    "//     added by shuffles at the end. The f32 adds are the tensor cores' (not IEEE round-to-nearest\n",
    "//     per add), so the result is within tolerance(dtype) of the CPU (relative L2 ~1e-5), not\n",
    "//     bit-identical. Instructions per element: a pair of elements costs PRMT + IMAD (the table\n",
    "//     address), LDS, two dt multiplies, then exact: 2 x (f16/bf16 -> f32 conversion + FADD) = 9,\n",
    "//     fast: 1/4 of an mma = 5.25, i.e. 4.5 against 2.6 per element (plus ~1 of loads and loop per\n",
    "//     element in both). The launcher uses the fast variant only with bnbq_cuda_desc.gemv_fast_order.\n",
    "// qmap[i] = dt(code[i]). In F16/BF16 qmap and s are exact in dt and the products of two dt values\n",
    "// are exact in float32, so dt(w) and dt(a * b) are single dt multiplies: the kernel uses packed\n",
    "// f16x2 / bf16x2 multiplies (round to nearest even) on pairs of elements.\n",
    "//\n",
    "// Layout (vec: packed and A 16-byte aligned; K % 32 == 0 always, so every chunk is whole): one\n",
    "// block per SM, blockDim = 32 W (W chosen by the launcher so that every block has the same number\n",
    "// of rounds); the N rows are cut into groups of BNBQ_G4_R rows, block b takes the contiguous\n",
    "// groups [b G / grid, (b + 1) G / grid) and its warp w takes group w + r W in round r. A lane\n",
    "// reads its 16 weight bytes of each row with one 16-byte load; the weights of the next\n",
    "// BNBQ_G4_DEPTH - 1 steps (over round boundaries) are always in flight: sm_80+ as cp.async copies\n",
    "// into the thread's own slots of a ring in dynamic shared memory (no barrier: each thread reads back\n",
    "// only what it copied), sm_75 in registers. The activation is staged in shared memory by segments\n",
    "// of BNBQ_G4_SEG steps (two halves: loaded once when K fits in them, else a ring with one barrier\n",
    "// per segment), swizzled so that the lanes' 16-byte reads of their own 64- or 128-byte chunks never\n",
    "// share a bank. Unaligned inputs take the kernel bnbq_k_gemv4_any (lanes load their own bytes).\n",
    "// The ring's copies carry no L2 cache hint (see bnbq_g4_cp16), so BNBQ_G4_EVICT_FIRST now acts on\n",
    "// nothing (the register path is sm_75's, which has no policies).\n",
    "#ifndef BNBQ_DT\n",
    "#define BNBQ_DT 0\n",
    "#endif\n",
    "#ifndef BNBQ_G4_FAST\n",
    "#define BNBQ_G4_FAST 0\n",
    "#endif\n",
    "// 1: bench/gemv_sweep.sh's memory probe (knob probe=1): the weights and scales are loaded as usual\n",
    "// but only folded together (no lookups, no products): the speed of the loads alone. Wrong results.\n",
    "#define BNBQ_G4_PROBE 0\n",
    "// 1: the weights and their scales (read once) are loaded with an L2 evict-first policy (sm_80+), so\n",
    "// that their misses evict lines of the weights themselves rather than other data in the L2 (dirty\n",
    "// lines would have to be written back first)\n",
    "#define BNBQ_G4_EVICT_FIRST 1\n",
    "#if BNBQ_G4_EVICT_FIRST && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "#define BNBQ_G4_HINT 1\n",
    "#else\n",
    "#define BNBQ_G4_HINT 0\n",
    "#endif\n",
    "// 1 (sm_80+): the weights and scales reach the lanes through a per-thread ring in dynamic shared\n",
    "// memory filled with cp.async (no registers held by loads in flight, so the ring can be deep); the\n",
    "// launcher gives the kernel BNBQ_G4_DEPTH * BNBQ_G4_R * 20 bytes per thread. 0 (sm_75): registers.\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "#define BNBQ_G4_ASYNC 1\n",
    "#else\n",
    "#define BNBQ_G4_ASYNC 0\n",
    "#endif\n",
    "#define BNBQ_G4_R 2              // rows per warp (they share the activation chunk)\n",
    "#if BNBQ_G4_ASYNC\n",
    "#define BNBQ_G4_DEPTH 4          // weight steps in the ring per lane (DEPTH - 1 ahead)\n",
    "#else\n",
    "#define BNBQ_G4_DEPTH 3          // (sm_75, registers)\n",
    "#endif\n",
    "#define BNBQ_G4_SEG 4            // steps (1024 elements) per staged activation segment\n",
    "#define BNBQ_G4_MINT 256         // fewest threads per block (the launcher's BNBQ__CU_G4_MINW)\n",
    "#define BNBQ_G4_MAXT 512         // most threads per block (BNBQ__CU_G4_MAXW)\n",
    "#define BNBQ_G4_FULL 0xffffffffu\n",
    "// a step (1024 elements) of the activation in 16-byte units: a lane's chunk is U units\n",
    "#define BNBQ_G4_U (BNBQ_DT == BNBQ_F32 ? 8 : 4)\n",
    "#define BNBQ_G4_STEPU (32 * BNBQ_G4_U)\n",
    "#define BNBQ_G4_SEGU (BNBQ_G4_SEG * BNBQ_G4_STEPU)       // F16/BF16 8 KB, F32 16 KB\n",
    "#define BNBQ_G4_STU (BNBQ_G4_SEGU / BNBQ_G4_MINT)       // staging units per thread (at most)\n",
    "#if BNBQ_G4_FAST && !BNBQ_G4_PROBE && BNBQ_DT != BNBQ_F32 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)\n",
    "#define BNBQ_G4_MMA 1\n",
    "#else\n",
    "#define BNBQ_G4_MMA 0\n",
    "#endif\n",
    "\n",
    "struct bnbq_code16 { float v[16]; };\n",
    "\n",
    "// BNBQ_G4TC_T64 = 1 (a unit of its own; the launcher's choice where the block can have the shared\n",
    "// memory): the lookup table of the tensor-core kernels (below) and of the exact kernel bnbq_k_gemv4\n",
    "// (F16/BF16, sm_80+) sits in the dynamic shared memory at a 64 KB-aligned address of the shared\n",
    "// window, entry b of lane L at + 256 b + 4 L, so that a byte's table address is one PRMT. The other\n",
    "// kernels of the unit keep the static table.\n",
    "#ifndef BNBQ_G4TC_T64\n",
    "#define BNBQ_G4TC_T64 0\n",
    "#endif\n",
    "#if BNBQ_G4TC_T64 && BNBQ_DT != BNBQ_F32 && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800 && !BNBQ_G4_FAST\n",
    "#define BNBQ_G4_T64X 1   // the exact kernel's T64 form\n",
    "#else\n",
    "#define BNBQ_G4_T64X 0\n",
    "#endif\n",
    "\n",
    "// The lookup table in shared memory: F32: qmap (16 floats: 16 banks, conflict-free); F16/BF16:\n",
    "// per-lane copies of the byte table (qmap[b >> 4], qmap[b & 15]) as dt pairs, entry b of lane L\n",
    "// at word 32 b + L (bank L). 32 KB + the two 8 KB activation halves = the 48 KB of static shared\n",
    "// memory a block may have.\n",
    "#if BNBQ_DT == BNBQ_F32\n",
    "__shared__ __align__(64) float bnbq_g4_tab[16];   // 64-byte aligned: base | offset == base + offset\n",
    "#else\n",
    "__shared__ __align__(16) u32 bnbq_g4_tab[256 * 32];\n",
    "#endif\n",
    "__shared__ uint4 bnbq_g4_act[2][BNBQ_G4_SEGU];   // activation segments (vec path)\n",
    "\n",
    "// the position of unit t of lane L's chunk in a staged step: U L + (t ^ h(L)); the 8 lanes of a\n",
    "// quarter-warp then read 8 different 16-byte bank groups, and 8 consecutive units (one store\n",
    "// phase) stay within 128 bytes\n",
    "BNBQ_DEV u32 bnbq_g4_pos(u32 L, u32 t) {\n",
    "    const u32 h = BNBQ_G4_U == 4 ? (L >> 1) & 3u : L & 7u;\n",
    "    return L * BNBQ_G4_U + (t ^ h);\n",
    "}\n",
    "\n",
    "// The shared-window address of the table plus off, and the word there: the lookups form the address\n",
    "// in one or two integer operations (F16/BF16: PRMT + LEA; F32: SHF + LOP3 with the 64-byte aligned\n",
    "// base) instead of adding a base register.\n",
    "BNBQ_DEV u32 bnbq_g4_tab_addr(u32 off) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    return (u32)__cvta_generic_to_shared(bnbq_g4_tab) + off;\n",
    "#else\n",
    "    return off;\n",
    "#endif\n",
    "}\n",
    "BNBQ_DEV u32 bnbq_g4_lds(u32 addr) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    u32 v;\n",
    "    asm volatile(\"ld.shared.u32 %0, [%1];\" : \"=r\"(v) : \"r\"(addr));\n",
    "    return v;\n",
    "#else\n",
    "    return *(const u32*)((const u8*)bnbq_g4_tab + addr);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// F32: the address of qmap[nibble] for the high (element 2i) or low nibble of byte i of w\n",
    "BNBQ_DEV u32 bnbq_g4_addr_hi(u32 w, int i, u32 base) { return ((w >> (8 * i + 2)) & 0x3cu) | base; }\n",
    "BNBQ_DEV u32 bnbq_g4_addr_lo(u32 w, int i, u32 base) {\n",
    "    return ((i == 0 ? (w << 2) : (w >> (8 * i - 2))) & 0x3cu) | base;\n",
    "}\n",
    "\n",
    "// activation chunk: 32 elements of dt as 16 words (F16/BF16: pairs, element 2j in the low half)\n",
    "// or 32 words (F32)\n",
    "#define BNBQ_G4_AW (BNBQ_DT == BNBQ_F32 ? 32 : 16)\n",
    "\n",
    "template <int VEC>\n",
    "BNBQ_DEV void bnbq_g4_load_a(const void* A, u64 k0, u32* a) {\n",
    "    if (VEC) {\n",
    "        const uint4* p = (const uint4*)((const u8*)A + k0 * (BNBQ_DT == BNBQ_F32 ? 4 : 2));\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < BNBQ_G4_AW / 4; i++) {\n",
    "            uint4 t = __ldg(p + i);\n",
    "            a[4 * i] = t.x; a[4 * i + 1] = t.y; a[4 * i + 2] = t.z; a[4 * i + 3] = t.w;\n",
    "        }\n",
    "    } else if (BNBQ_DT == BNBQ_F32) {\n",
    "        const u32* p = (const u32*)A + k0;\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 32; i++) a[i] = __ldg(p + i);\n",
    "    } else {\n",
    "        const u16* p = (const u16*)A + k0;\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 16; i++) a[i] = (u32)__ldg(p + 2 * i) | ((u32)__ldg(p + 2 * i + 1) << 16);\n",
    "    }\n",
    "}\n",
    "\n",
    "// the L2 policy of the weight loads (BNBQ_G4_EVICT_FIRST)\n",
    "BNBQ_DEV u64 bnbq_g4_policy() {\n",
    "    u64 pol = 0;\n",
    "#if BNBQ_G4_HINT\n",
    "    asm(\"createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\" : \"=l\"(pol));\n",
    "#endif\n",
    "    return pol;\n",
    "}\n",
    "\n",
    "// a block scale of the vec path\n",
    "BNBQ_DEV float bnbq_g4_load_s(const float* p, u64 pol) {\n",
    "#if BNBQ_G4_HINT\n",
    "    float v;\n",
    "    asm volatile(\"ld.global.nc.L2::cache_hint.f32 %0, [%1], %2;\" : \"=f\"(v) : \"l\"(p), \"l\"(pol));\n",
    "    return v;\n",
    "#else\n",
    "    (void)pol;\n",
    "    return __ldg(p);\n",
    "#endif\n",
    "}\n",
    "\n",
    "template <int VEC>\n",
    "BNBQ_DEV uint4 bnbq_g4_load_w(const u8* p, u64 pol = 0) {\n",
    "    uint4 v;\n",
    "    (void)pol;\n",
    "    if (VEC) {\n",
    "#if BNBQ_G4_HINT\n",
    "        // streamed once: kept out of L1 (the staged activation and absmax stay there), evicted\n",
    "        // first from L2\n",
    "        asm volatile(\"ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;\"\n",
    "                     : \"=r\"(v.x), \"=r\"(v.y), \"=r\"(v.z), \"=r\"(v.w) : \"l\"(p), \"l\"(pol));\n",
    "#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "        asm volatile(\"ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\"\n",
    "                     : \"=r\"(v.x), \"=r\"(v.y), \"=r\"(v.z), \"=r\"(v.w) : \"l\"(p));\n",
    "#else\n",
    "        v = __ldg((const uint4*)p);\n",
    "#endif\n",
    "    } else {\n",
    "        u32 w[4];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++)\n",
    "            w[i] = (u32)__ldg(p + 4 * i) | ((u32)__ldg(p + 4 * i + 1) << 8) |\n",
    "                   ((u32)__ldg(p + 4 * i + 2) << 16) | ((u32)__ldg(p + 4 * i + 3) << 24);\n",
    "        v = make_uint4(w[0], w[1], w[2], w[3]);\n",
    "    }\n",
    "    return v;\n",
    "}\n",
    "\n",
    "#if BNBQ_G4_ASYNC\n",
    "// the per-thread ring (dynamic shared memory): weights of slot (d, k) of thread t at 16-byte unit\n",
    "// (d R + k) T + t, their scales after all the weights at word (d R + k) T + t (conflict-free).\n",
    "// No L2 cache hint on these copies: NVRTC 13.0's ptxas encodes some LDGSTS with both a uniform\n",
    "// shared offset and a policy descriptor with an odd uniform register pair (desc[UR1]), an illegal\n",
    "// instruction at run time (seen on sm_90).\n",
    "extern __shared__ uint4 bnbq_g4_ring[];\n",
    "BNBQ_DEV void bnbq_g4_cp16(u32 dst, const void* src, u64 pol) {\n",
    "    (void)pol;\n",
    "    asm volatile(\"cp.async.cg.shared.global [%0], [%1], 16;\" ::\"r\"(dst), \"l\"(src) : \"memory\");\n",
    "}\n",
    "BNBQ_DEV void bnbq_g4_cp4(u32 dst, const void* src, u64 pol) {\n",
    "    (void)pol;\n",
    "    asm volatile(\"cp.async.ca.shared.global [%0], [%1], 4;\" ::\"r\"(dst), \"l\"(src) : \"memory\");\n",
    "}\n",
    "BNBQ_DEV void bnbq_g4_commit() { asm volatile(\"cp.async.commit_group;\" ::: \"memory\"); }\n",
    "// all but the newest DEPTH - 1 groups have landed\n",
    "BNBQ_DEV void bnbq_g4_wait() { asm volatile(\"cp.async.wait_group %0;\" ::\"n\"(BNBQ_G4_DEPTH - 1) : \"memory\"); }\n",
    "BNBQ_DEV uint4 bnbq_g4_lds128(u32 addr) {\n",
    "    uint4 v;\n",
    "    asm volatile(\"ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\" : \"=r\"(v.x), \"=r\"(v.y), \"=r\"(v.z), \"=r\"(v.w) : \"r\"(addr)\n",
    "                 : \"memory\");\n",
    "    return v;\n",
    "}\n",
    "BNBQ_DEV float bnbq_g4_ldsf(u32 addr) {\n",
    "    float v;\n",
    "    asm volatile(\"ld.shared.f32 %0, [%1];\" : \"=f\"(v) : \"r\"(addr) : \"memory\");\n",
    "    return v;\n",
    "}\n",
    "#endif\n",
    "\n",
    "// dt bits of a float (one rounding), dt bits to float (exact)\n",
    "BNBQ_DEV u32 bnbq_g4_bits(float v) {\n",
    "    return BNBQ_DT == BNBQ_F16 ? (u32)bnbq_f32_to_f16(v) : (u32)bnbq_f32_to_bf16(v);\n",
    "}\n",
    "BNBQ_DEV float bnbq_g4_lo(u32 p) {\n",
    "#if BNBQ_DT == BNBQ_BF16\n",
    "    return __uint_as_float(p << 16);\n",
    "#elif defined(__CUDA_ARCH__)\n",
    "    float f;\n",
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"((u16)(p & 0xffffu)));\n",
    "    return f;\n",
    "#else\n",
    "    return bnbq_f16_to_f32((u16)(p & 0xffffu));\n",
    "#endif\n",
    "}\n",
    "BNBQ_DEV float bnbq_g4_hi(u32 p) {\n",
    "#if BNBQ_DT == BNBQ_BF16\n",
    "    return __uint_as_float(p & 0xffff0000u);\n",
    "#elif defined(__CUDA_ARCH__)\n",
    "    float f;\n",
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"((u16)(p >> 16)));\n",
    "    return f;\n",
    "#else\n",
    "    return bnbq_f16_to_f32((u16)(p >> 16));\n",
    "#endif\n",
    "}\n",
    "\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "// (dt(s), dt(s)): one rounding of the block scale, in both halves. A NaN scale may come out with\n",
    "// another payload than the software rounding: every product of its chunk is then NaN either way.\n",
    "BNBQ_DEV u32 bnbq_g4_s2(float s) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    u32 d;\n",
    "#if BNBQ_DT == BNBQ_F16\n",
    "    asm(\"cvt.rn.f16x2.f32 %0, %1, %1;\" : \"=r\"(d) : \"f\"(s));\n",
    "#else\n",
    "    asm(\"cvt.rn.bf16x2.f32 %0, %1, %1;\" : \"=r\"(d) : \"f\"(s));\n",
    "#endif\n",
    "    return d;\n",
    "#else\n",
    "    const u32 b = bnbq_g4_bits(s);\n",
    "    return b | (b << 16);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// both halves: dt(x * y), round to nearest even (x, y pairs of dt values)\n",
    "BNBQ_DEV u32 bnbq_g4_mul2(u32 x, u32 y) {\n",
    "#if BNBQ_DT == BNBQ_F16 && defined(__CUDA_ARCH__)\n",
    "    u32 d;\n",
    "    asm(\"mul.rn.f16x2 %0, %1, %2;\" : \"=r\"(d) : \"r\"(x), \"r\"(y));\n",
    "    return d;\n",
    "#elif BNBQ_DT == BNBQ_BF16 && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    u32 d;   // x * y + (-0) rounded once = dt(x * y), signed zeros included\n",
    "    asm(\"fma.rn.bf16x2 %0, %1, %2, %3;\" : \"=r\"(d) : \"r\"(x), \"r\"(y), \"r\"(0x80008000u));\n",
    "    return d;\n",
    "#else\n",
    "    float lo = bnbq_g4_lo(x) * bnbq_g4_lo(y), hi = bnbq_g4_hi(x) * bnbq_g4_hi(y);\n",
    "    return bnbq_g4_bits(lo) | (bnbq_g4_bits(hi) << 16);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// the address of this lane's table entry for byte i (0..15) of the chunk's weights\n",
    "BNBQ_DEV u32 bnbq_g4_eaddr(const u32* wv, int i, u32 tl) {\n",
    "    return tl + (__byte_perm(wv[i >> 2], 0u, 0x4440u + (u32)(i & 3)) << 7);\n",
    "}\n",
    "// the T64 table's address of byte j (0..3) of w for the lane whose base is tl: one PRMT, bytes 0\n",
    "// (4 lane) and 2-3 (the 64 KB-aligned base) from tl, byte 1 the weight byte\n",
    "BNBQ_DEV u32 bnbq_g4_eaddr64(u32 w, int j, u32 tl) {\n",
    "    return __byte_perm(tl, w, 0x3200u + ((4u + (u32)j) << 4));\n",
    "}\n",
    "#endif\n",
    "\n",
    "// The 32 elements of one row's chunk (weights w, block scale s) into ac, in element order.\n",
    "// a: the activation chunk (F32: 32 words; F16/BF16: 16 pairs, element 2i in the low half).\n",
    "// T6 = 1 (F16/BF16): the T64 table, lane is then the lane's table base (64 KB-aligned + 4 lane).\n",
    "template <int T6 = 0>\n",
    "BNBQ_DEV float bnbq_g4_dot(const u32* a, uint4 w, float s, u32 lane, float ac) {\n",
    "    const u32 wv[4] = { w.x, w.y, w.z, w.w };\n",
    "#if BNBQ_DT == BNBQ_F32\n",
    "    const u32 base = bnbq_g4_tab_addr(0);\n",
    "    (void)lane;\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 16; i++) {\n",
    "        const float qhi = __uint_as_float(bnbq_g4_lds(bnbq_g4_addr_hi(wv[i >> 2], i & 3, base)));\n",
    "        const float whi = qhi * s;\n",
    "        ac = fmaf(__uint_as_float(a[2 * i]), whi, ac);\n",
    "        const float qlo = __uint_as_float(bnbq_g4_lds(bnbq_g4_addr_lo(wv[i >> 2], i & 3, base)));\n",
    "        const float wlo = qlo * s;\n",
    "        ac = fmaf(__uint_as_float(a[2 * i + 1]), wlo, ac);\n",
    "    }\n",
    "#else\n",
    "    const u32 s2 = bnbq_g4_s2(s);\n",
    "    const u32 tl = T6 ? lane : bnbq_g4_tab_addr(lane * 4);   // this lane's copy: entry b at tl + 128 b (T6: 256 b)\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 16; i++) {\n",
    "        const u32 q2 = bnbq_g4_lds(T6 ? bnbq_g4_eaddr64(wv[i >> 2], i & 3, tl) : bnbq_g4_eaddr(wv, i, tl));\n",
    "        const u32 b2 = bnbq_g4_mul2(q2, s2);       // (dt(qmap[hi] * s), dt(qmap[lo] * s))\n",
    "        const u32 p2 = bnbq_g4_mul2(a[i], b2);     // the two products, rounded to dt\n",
    "        ac = ac + bnbq_g4_lo(p2);\n",
    "        ac = ac + bnbq_g4_hi(p2);\n",
    "    }\n",
    "#endif\n",
    "    return ac;\n",
    "}\n",
    "\n",
    "#if (BNBQ_DT != BNBQ_F32 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800))\n",
    "// c[0..3] += A (a0..a3) x B (b0, b1): one mma.m16n8k16 with f32 accumulation (the fragments as the\n",
    "// PTX ISA lays them out: lane (g, t) holds A's rows g, g + 8 and B's column g)\n",
    "BNBQ_DEV void bnbq_g4tc_mma(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "#if BNBQ_DT == BNBQ_F16\n",
    "    asm(\"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, \"\n",
    "        \"{%8, %9}, {%0, %1, %2, %3};\"\n",
    "        : \"+f\"(c[0]), \"+f\"(c[1]), \"+f\"(c[2]), \"+f\"(c[3])\n",
    "        : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n",
    "#else\n",
    "    asm(\"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, \"\n",
    "        \"{%8, %9}, {%0, %1, %2, %3};\"\n",
    "        : \"+f\"(c[0]), \"+f\"(c[1]), \"+f\"(c[2]), \"+f\"(c[3])\n",
    "        : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n",
    "#endif\n",
    "#else\n",
    "    (void)c; (void)a0; (void)a1; (void)a2; (void)a3; (void)b0; (void)b1;\n",
    "#endif\n",
    "}\n",
    "\n",
    "#endif\n",
    "\n",
    "#if BNBQ_G4_MMA\n",
    "// c[0..3] += the tensor cores' sum of the 8 products in p0..p3 of each lane of each group of 4\n",
    "// lanes (B = ones: c[0] == c[1] hold the group's row g, c[2] == c[3] its row g + 8)\n",
    "BNBQ_DEV void bnbq_g4_mma(float* c, u32 p0, u32 p1, u32 p2, u32 p3) {\n",
    "    const u32 one = BNBQ_DT == BNBQ_F16 ? 0x3c003c00u : 0x3f803f80u;\n",
    "    bnbq_g4tc_mma(c, p0, p1, p2, p3, one, one);\n",
    "}\n",
    "\n",
    "// fast order: the chunk's 16 product pairs into the tensor-core accumulator c (the whole warp\n",
    "// takes part; a lane without a chunk (live == 0, K's last step) adds zeros)\n",
    "template <int PARTIAL>\n",
    "BNBQ_DEV void bnbq_g4_dot_mma(const u32* a, uint4 w, float s, u32 tl, int live, float* c) {\n",
    "    const u32 wv[4] = { w.x, w.y, w.z, w.w };\n",
    "    const u32 s2 = bnbq_g4_s2(s);\n",
    "    u32 p[16];\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 16; i++) {\n",
    "        const u32 q2 = bnbq_g4_lds(bnbq_g4_eaddr(wv, i, tl));\n",
    "        p[i] = bnbq_g4_mul2(a[i], bnbq_g4_mul2(q2, s2));\n",
    "        if (PARTIAL) p[i] = live ? p[i] : 0u;\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int m = 0; m < 4; m++) bnbq_g4_mma(c, p[4 * m], p[4 * m + 1], p[4 * m + 2], p[4 * m + 3]);\n",
    "}\n",
    "#endif\n",
    "\n",
    "// out[n] = dt(v) (+ bias), by lane 0\n",
    "BNBQ_DEV void bnbq_g4_store(float v, u64 n, void* out, const void* bias) {\n",
    "    float o = bnbq_round_to(BNBQ_DT, v);\n",
    "    if (bias) o = o + bnbq_load(BNBQ_DT, bias, n);\n",
    "    bnbq_store(BNBQ_DT, out, n, o);\n",
    "}\n",
    "\n",
    "// the exact tree: lane 0 gets the CPU's shuffle-down sum of the lanes' accumulators\n",
    "BNBQ_DEV float bnbq_g4_tree(float v) {\n",
    "    for (int off = 1; off < 32; off <<= 1) v = v + __shfl_down_sync(BNBQ_G4_FULL, v, off);\n",
    "    return v;\n",
    "}\n",
    "\n",
    "// ---- unaligned inputs: every lane loads its own bytes, one step at a time (no barriers), exact\n",
    "// order, warps grid-stride over the groups ----\n",
    "\n",
    "BNBQ_DEV void bnbq_g4_rows_unaligned(const void* A, const u8* packed, const float* absmax, u64 N,\n",
    "                                     u64 K, int bs_shift, void* out, const void* bias, u64 nb) {\n",
    "    const u32 lane = threadIdx.x & 31;\n",
    "    float acc[BNBQ_G4_R];\n",
    "#pragma unroll\n",
    "    for (int r = 0; r < BNBQ_G4_R; r++) acc[r] = 0.0f;\n",
    "    for (u64 j = 0; j * 1024 < K; j++) {\n",
    "        const u64 k0 = j * 1024 + (u64)lane * 32;\n",
    "        u32 a[BNBQ_G4_AW];\n",
    "        if (k0 >= K) continue;\n",
    "        bnbq_g4_load_a<0>(A, k0, a);\n",
    "#pragma unroll\n",
    "        for (int r = 0; r < BNBQ_G4_R; r++) {\n",
    "            const u64 n = nb + (u64)r;\n",
    "            if (n < N) {\n",
    "                const uint4 w = bnbq_g4_load_w<0>(packed + ((n * K + k0) >> 1));\n",
    "                const float s = __ldg(absmax + ((n * K + k0) >> bs_shift));\n",
    "                acc[r] = bnbq_g4_dot(a, w, s, lane, acc[r]);\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int r = 0; r < BNBQ_G4_R; r++) {\n",
    "        const float v = bnbq_g4_tree(acc[r]);\n",
    "        if (lane == 0 && nb + (u64)r < N) bnbq_g4_store(v, nb + (u64)r, out, bias);\n",
    "    }\n",
    "}\n",
    "\n",
    "// ---- the vec path ----\n",
    "\n",
    "// A warp's rows of round r: its group w + r W of the block's groups [g0, g1); rows past N are\n",
    "// clamped to N - 1 (loaded, never stored).\n",
    "struct bnbq_g4_rows {\n",
    "    const u8* w[BNBQ_G4_R];      // the row's first weight byte\n",
    "    const float* s[BNBQ_G4_R];   // the row's first absmax\n",
    "    int valid;                   // the round exists and its group too\n",
    "};\n",
    "\n",
    "BNBQ_DEV void bnbq_g4_rows_of(bnbq_g4_rows* q, const u8* packed, const float* absmax, u64 N, u64 K,\n",
    "                              int bs_shift, u64 g0, u64 g1, u32 r, u32 rounds) {\n",
    "    const u64 g = g0 + (u64)r * (blockDim.x >> 5) + (threadIdx.x >> 5);\n",
    "    q->valid = r < rounds && g < g1;\n",
    "#pragma unroll\n",
    "    for (int k = 0; k < BNBQ_G4_R; k++) {\n",
    "        u64 n = g * BNBQ_G4_R + (u64)k;\n",
    "        n = n < N ? n : N - 1;\n",
    "        q->w[k] = packed + ((n * K) >> 1);\n",
    "        q->s[k] = absmax + ((n * K) >> bs_shift);\n",
    "    }\n",
    "}\n",
    "\n",
    "// staging: units m * blockDim + tid of activation segment sg (16 bytes = 16 / es elements;\n",
    "// K % 32 == 0, so a unit is wholly inside or outside [0, K)); zeros past K\n",
    "BNBQ_DEV void bnbq_g4_stage_load(const void* A, u64 K, u32 sg, uint4* st) {\n",
    "    const u32 es = BNBQ_DT == BNBQ_F32 ? 4 : 2;\n",
    "#pragma unroll\n",
    "    for (int m = 0; m < BNBQ_G4_STU; m++) {\n",
    "        const u32 u = (u32)m * blockDim.x + threadIdx.x;\n",
    "        const u64 e = (u64)sg * (BNBQ_G4_SEG * 1024) + (u64)u * (16 / es);\n",
    "        st[m] = make_uint4(0u, 0u, 0u, 0u);\n",
    "        if (u < BNBQ_G4_SEGU && e < K) st[m] = __ldg((const uint4*)((const u8*)A + e * es));\n",
    "    }\n",
    "}\n",
    "BNBQ_DEV void bnbq_g4_stage_store(u32 half, const uint4* st) {\n",
    "#pragma unroll\n",
    "    for (int m = 0; m < BNBQ_G4_STU; m++) {\n",
    "        const u32 u = (u32)m * blockDim.x + threadIdx.x;\n",
    "        const u32 su = u % BNBQ_G4_STEPU;\n",
    "        if (u < BNBQ_G4_SEGU)\n",
    "            bnbq_g4_act[half][u - su + bnbq_g4_pos(su / BNBQ_G4_U, su % BNBQ_G4_U)] = st[m];\n",
    "    }\n",
    "}\n",
    "\n",
    "// code.v[threadIdx.x & 15] (a select chain, not an indexed local copy)\n",
    "BNBQ_DEV float bnbq_g4_code_lane(const bnbq_code16& code) {\n",
    "    const u32 l16 = threadIdx.x & 15u;\n",
    "    float c = code.v[0];\n",
    "#pragma unroll\n",
    "    for (int i = 1; i < 16; i++) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "        asm(\"{.reg .pred p; setp.eq.u32 p, %2, %3; selp.f32 %0, %1, %0, p;}\"\n",
    "            : \"+f\"(c) : \"f\"(code.v[i]), \"r\"(l16), \"r\"((u32)i));\n",
    "#else\n",
    "        if (l16 == (u32)i) c = code.v[i];\n",
    "#endif\n",
    "    }\n",
    "    return c;\n",
    "}\n",
    "\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "// F16/BF16: the per-lane table of byte pairs, entry b = (dt(code[b >> 4]), dt(code[b & 15])) in 32\n",
    "// copies (lane L's at + 4 L), entry b at tp + es b (es: 16-byte units an entry, 8 = packed, 16 = T64),\n",
    "// by the whole block (blockDim.x a multiple of 32)\n",
    "BNBQ_DEV void bnbq_g4_fill_pairs(uint4* tp, u32 es, const bnbq_code16& code) {\n",
    "    const u32 qb = bnbq_g4_bits(bnbq_g4_code_lane(code));\n",
    "    for (u32 i = threadIdx.x; i < 256 * 8; i += blockDim.x) {   // entry i >> 3, lanes 4 (i & 7) ..\n",
    "        const u32 b = i >> 3;\n",
    "        const u32 hi = __shfl_sync(BNBQ_G4_FULL, qb, (int)(b >> 4));\n",
    "        const u32 lo = __shfl_sync(BNBQ_G4_FULL, qb, (int)(b & 15u));\n",
    "        const u32 v = hi | (lo << 16);\n",
    "        tp[es * b + (i & 7u)] = make_uint4(v, v, v, v);\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "\n",
    "// the lookup table; F16/BF16: entry b = (dt(code[b >> 4]), dt(code[b & 15])), 32 copies\n",
    "BNBQ_DEV void bnbq_g4_build_table(const bnbq_code16 code) {\n",
    "#if BNBQ_DT == BNBQ_F32\n",
    "    const float c = bnbq_g4_code_lane(code);\n",
    "    if (threadIdx.x < 16) bnbq_g4_tab[threadIdx.x] = c;\n",
    "#else\n",
    "    bnbq_g4_fill_pairs((uint4*)bnbq_g4_tab, 8, code);\n",
    "#endif\n",
    "}\n",
    "\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "#if BNBQ_G4TC_T64   // (only the T64 unit builds its table so)\n",
    "// %dynamic_smem_size\n",
    "BNBQ_DEV u32 bnbq_g4_dynsize() {\n",
    "    u32 d = 0;\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    asm(\"mov.u32 %0, %%dynamic_smem_size;\" : \"=r\"(d));\n",
    "#endif\n",
    "    return d;\n",
    "}\n",
    "// The T64 table (BNBQ_G4TC_T64) at the first 64 KB boundary of the shared window after the first\n",
    "// `used` bytes of the dynamic shared memory dyn, by the whole block; returns this lane's base\n",
    "// (+ 4 lane). The launcher gives that boundary + 64 KB; a kernel that finds less (%dynamic_smem_size)\n",
    "// traps rather than read past its memory.\n",
    "BNBQ_DEV u32 bnbq_g4_t64_table(void* dyn, u32 used, const bnbq_code16& code) {\n",
    "    const u32 dynb = (u32)__cvta_generic_to_shared(dyn);\n",
    "    const u32 tab = (dynb + used + 0xffffu) & ~0xffffu;\n",
    "    if (tab + 0x10000u > dynb + bnbq_g4_dynsize()) __trap();\n",
    "    bnbq_g4_fill_pairs((uint4*)((char*)dyn + (tab - dynb)), 16, code);\n",
    "    return tab + 4 * (threadIdx.x & 31u);\n",
    "}\n",
    "#endif\n",
    "#endif\n",
    "\n",
    "// Unaligned inputs (packed or A not 16-byte aligned, or K >= 2^31; the launcher's choice, also its\n",
    "// fallback where the vec kernel's shared memory cannot be had): warps grid-stride over the groups.\n",
    "// (Not in the T64 unit: the launcher takes that unit for bnbq_k_gemv4 only.)\n",
    "#if !BNBQ_G4TC_T64\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemv4_any(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "                 void* out, const void* bias, bnbq_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemv4_any)\n",
    "#line 561 \"gemv4.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BNBQ_G4_MAXT, 1)\n",
    "bnbq_k_gemv4_any(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "                 void* out, const void* bias, bnbq_code16 code) {\n",
    "    const u32 nw = blockDim.x >> 5;\n",
    "    const u64 groups = (N + BNBQ_G4_R - 1) / BNBQ_G4_R;\n",
    "    bnbq_g4_build_table(code);\n",
    "    bnbq_pdl_wait();   // launched with programmatic dependent launch: the kernel before it first\n",
    "    __syncthreads();\n",
    "    for (u64 g = (u64)blockIdx.x * nw + (threadIdx.x >> 5); g < groups; g += (u64)gridDim.x * nw)\n",
    "        bnbq_g4_rows_unaligned(A, packed, absmax, N, K, bs_shift, out, bias, g * BNBQ_G4_R);\n",
    "}\n",
    "#endif\n",
    "#line 572 \"gemv4.cu\"\n",
    "#endif\n",
    "\n",
    "// Grid: one block per SM (the launcher); groups of BNBQ_G4_R rows. bs_shift = log2(blocksize).\n",
    "// code: the 16-entry quant_map (resolved on the host). packed and A are 16-byte aligned, K < 2^31.\n",
    "// sm_80+: dynamic shared memory of BNBQ_G4_DEPTH * BNBQ_G4_R * 20 bytes per thread (the ring).\n",
    "// Its register budget in the exact order in F16 / BF16 (NVRTC 12.4+): __maxnreg__(96) / (104) instead\n",
    "// of __launch_bounds__(512, 1) (which allows 128): ptxas then schedules the body differently (f16 88,\n",
    "// bf16 91 registers instead of 84 / 92, sm_90). Measured on the H100 (bench_gpu, the T64 form, % of\n",
    "// copy, 8192^2 / 14336x4096 / 4096x14336, back to back, 2 rounds each;\n",
    "// bench/results/gpu-20261123-h100-session17-gemv-regcap.txt): f16 59.2 / 51.1-51.2 / 56.6-56.8 ->\n",
    "// 60.6-60.8 / 53.2-53.3 / 57.8-57.9; bf16 60.8 / 53.8 / 58.3 -> (128) 62.6-62.7 / 55.3-55.5 / 59.8-59.9\n",
    "// -> (104, against 128 in a later call) 63.6 / 55.9-56.2 / 59.6-59.7; single calls +1-2. (f16 at 128:\n",
    "// 60.3 / 52.6-52.7 / 57.8, at 88: 0.5-0.9 below 96; bf16 at 96: 61.3-61.4 / 54.5 / 58.1-58.2; both at\n",
    "// 80 or 72: 0.5-2 points below the launch bounds.) F32 and the fast order keep the bounds.\n",
    "#if !BNBQ_G4_FAST && BNBQ_DT != BNBQ_F32 && defined(__CUDACC_VER_MAJOR__) && \\\n",
    "    (__CUDACC_VER_MAJOR__ > 12 || (__CUDACC_VER_MAJOR__ == 12 && __CUDACC_VER_MINOR__ >= 4))\n",
    "#define BNBQ_G4_ATTR __maxnreg__(BNBQ_DT == BNBQ_F16 ? 96 : 104)\n",
    "#else\n",
    "#define BNBQ_G4_ATTR __launch_bounds__(BNBQ_G4_MAXT, 1)\n",
    "#endif\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemv4(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "             void* out, const void* bias, bnbq_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemv4)\n",
    "#line 592 \"gemv4.cu\"\n",
    "extern \"C\" __global__ void BNBQ_G4_ATTR\n",
    "bnbq_k_gemv4(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "             void* out, const void* bias, bnbq_code16 code) {\n",
    "    const u32 lane = threadIdx.x & 31, nw = blockDim.x >> 5;\n",
    "    const u64 groups = (N + BNBQ_G4_R - 1) / BNBQ_G4_R;\n",
    "    bnbq_pdl_wait();   // launched with programmatic dependent launch: the kernel before it first\n",
    "    const u64 g0 = groups * blockIdx.x / gridDim.x, g1 = groups * (blockIdx.x + 1) / gridDim.x;\n",
    "    const u32 rounds = (u32)((g1 - g0 + nw - 1) / nw);           // the same for every warp\n",
    "    const u32 nsteps = (u32)((K + 1023) / 1024);\n",
    "    const u32 nseg = (nsteps + BNBQ_G4_SEG - 1) / BNBQ_G4_SEG;\n",
    "    const u32 total = rounds * nsteps;\n",
    "    const int ring = nseg > 2;    // else both segments stay in the two halves for all rounds\n",
    "\n",
    "    // the weights ring: step t of the warp (round t / nsteps, step t % nsteps) in slot t % DEPTH.\n",
    "    // Offsets within a row are 32-bit (the launcher takes this path for K < 2^31 only); a lane has\n",
    "    // a chunk in every step but maybe the last (K % 1024 != 0).\n",
    "    const u32 lk = 32u * lane;\n",
    "    const int lastok = (u64)(nsteps - 1) * 1024 + lk < K;\n",
    "    bnbq_g4_rows fq;              // the fetch cursor: round fr, step fj\n",
    "    u32 fr = 0, fj = 0;\n",
    "    const u64 pol = bnbq_g4_policy();\n",
    "    bnbq_g4_rows_of(&fq, packed, absmax, N, K, bs_shift, g0, g1, 0, rounds);\n",
    "#if BNBQ_G4_ASYNC\n",
    "    // this thread's unit of slot (d, k): rw + (d R + k) T 16, its scale rs + (d R + k) T 4\n",
    "    const u32 rT = blockDim.x;\n",
    "    const u32 rw = (u32)__cvta_generic_to_shared(bnbq_g4_ring) + 16u * threadIdx.x;\n",
    "    const u32 rs = (u32)__cvta_generic_to_shared(bnbq_g4_ring) + 16u * BNBQ_G4_DEPTH * BNBQ_G4_R * rT +\n",
    "                   4u * threadIdx.x;\n",
    "#define BNBQ_G4_PUT(slot, k, wp, sp)                                                               \\\n",
    "    do {                                                                                           \\\n",
    "        bnbq_g4_cp16(rw + 16u * rT * (u32)((slot) * BNBQ_G4_R + (k)), (wp), pol);                 \\\n",
    "        bnbq_g4_cp4(rs + 4u * rT * (u32)((slot) * BNBQ_G4_R + (k)), (sp), pol);                   \\\n",
    "    } while (0)\n",
    "#define BNBQ_G4_GETW(slot, k) bnbq_g4_lds128(rw + 16u * rT * (u32)((slot) * BNBQ_G4_R + (k)))\n",
    "#define BNBQ_G4_GETS(slot, k) bnbq_g4_ldsf(rs + 4u * rT * (u32)((slot) * BNBQ_G4_R + (k)))\n",
    "#define BNBQ_G4_COMMIT() bnbq_g4_commit()\n",
    "#define BNBQ_G4_WAIT() bnbq_g4_wait()\n",
    "#else\n",
    "    uint4 wb[BNBQ_G4_DEPTH][BNBQ_G4_R];\n",
    "    float sb[BNBQ_G4_DEPTH][BNBQ_G4_R];\n",
    "#define BNBQ_G4_PUT(slot, k, wp, sp)                                                               \\\n",
    "    do {                                                                                           \\\n",
    "        wb[slot][k] = bnbq_g4_load_w<1>((wp), pol);                                                \\\n",
    "        sb[slot][k] = bnbq_g4_load_s((sp), pol);                                                   \\\n",
    "    } while (0)\n",
    "#define BNBQ_G4_GETW(slot, k) wb[slot][k]\n",
    "#define BNBQ_G4_GETS(slot, k) sb[slot][k]\n",
    "#define BNBQ_G4_COMMIT() do {} while (0)\n",
    "#define BNBQ_G4_WAIT() do {} while (0)\n",
    "#endif\n",
    "#define BNBQ_G4_FETCH(slot)                                                                        \\\n",
    "    do {                                                                                           \\\n",
    "        if (fq.valid && (fj + 1 < nsteps || lastok)) {                                             \\\n",
    "            const u32 kk = fj * 1024u + lk;                                                        \\\n",
    "            _Pragma(\"unroll\") for (int k = 0; k < BNBQ_G4_R; k++)                                  \\\n",
    "                BNBQ_G4_PUT(slot, k, fq.w[k] + (kk >> 1), fq.s[k] + (kk >> bs_shift));             \\\n",
    "        }                                                                                          \\\n",
    "        BNBQ_G4_COMMIT();                                                                          \\\n",
    "        if (++fj == nsteps) {                                                                      \\\n",
    "            fj = 0;                                                                                \\\n",
    "            ++fr;                                                                                  \\\n",
    "            bnbq_g4_rows_of(&fq, packed, absmax, N, K, bs_shift, g0, g1, fr, rounds);              \\\n",
    "        }                                                                                          \\\n",
    "    } while (0)\n",
    "#if !BNBQ_G4_ASYNC\n",
    "#pragma unroll\n",
    "    for (int d = 0; d < BNBQ_G4_DEPTH; d++)\n",
    "#pragma unroll\n",
    "        for (int k = 0; k < BNBQ_G4_R; k++) {\n",
    "            wb[d][k] = make_uint4(0u, 0u, 0u, 0u);\n",
    "            sb[d][k] = 0.0f;\n",
    "        }\n",
    "#endif\n",
    "#if BNBQ_G4_ASYNC\n",
    "#pragma unroll 1\n",
    "#else\n",
    "#pragma unroll\n",
    "#endif\n",
    "    for (int d = 0; d + 1 < BNBQ_G4_DEPTH; d++) BNBQ_G4_FETCH(d);\n",
    "\n",
    "#if BNBQ_G4_T64X\n",
    "    // the T64 table after the ring (20 DEPTH R bytes a thread), at the next 64 KB boundary; the\n",
    "    // launcher gives that boundary + 64 KB, else the kernel traps rather than read past its memory\n",
    "    const u32 t6l = bnbq_g4_t64_table(bnbq_g4_ring, 20u * BNBQ_G4_DEPTH * BNBQ_G4_R * blockDim.x, code);\n",
    "#else\n",
    "    bnbq_g4_build_table(code);\n",
    "#endif\n",
    "    uint4 st[BNBQ_G4_STU];\n",
    "    bnbq_g4_stage_load(A, K, 0, st);\n",
    "    if (!ring) {\n",
    "        bnbq_g4_stage_store(0, st);\n",
    "        if (nseg > 1) {\n",
    "            bnbq_g4_stage_load(A, K, 1, st);\n",
    "            bnbq_g4_stage_store(1, st);\n",
    "        }\n",
    "    }\n",
    "    __syncthreads();\n",
    "\n",
    "    // the compute cursor: round cr, step cj, segment cs (its half ch)\n",
    "    u32 cr = 0, cj = 0, cs = 0, ch = 0, fs = 0;\n",
    "    u64 cg = g0 + (threadIdx.x >> 5);   // the warp's group of round cr\n",
    "#if BNBQ_G4_MMA\n",
    "    float acc[BNBQ_G4_R][4];\n",
    "#pragma unroll\n",
    "    for (int k = 0; k < BNBQ_G4_R; k++) acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = 0.0f;\n",
    "    const u32 tl = bnbq_g4_tab_addr(lane * 4);\n",
    "#else\n",
    "    float acc[BNBQ_G4_R];\n",
    "#pragma unroll\n",
    "    for (int k = 0; k < BNBQ_G4_R; k++) acc[k] = 0.0f;\n",
    "#endif\n",
    "    // the loop body once per step: sm_80+ with the ring slot d a variable (the ring is addressed);\n",
    "    // sm_75 unrolled DEPTH times (the slots are registers)\n",
    "#if BNBQ_G4_ASYNC\n",
    "    u32 d = 0;\n",
    "    for (u32 t0 = 0; t0 < total; t0++) {\n",
    "        {\n",
    "            {\n",
    "#else\n",
    "    for (u32 t0 = 0; t0 < total; t0 += BNBQ_G4_DEPTH) {\n",
    "#pragma unroll\n",
    "        for (int d = 0; d < BNBQ_G4_DEPTH; d++) {\n",
    "            if (t0 + (u32)d < total) {   // the same in every thread\n",
    "#endif\n",
    "                if (cj % BNBQ_G4_SEG == 0) {   // a segment starts\n",
    "                    cs = cj / BNBQ_G4_SEG;\n",
    "                    if (ring) {\n",
    "                        // store the segment loaded during the previous one (its half was last\n",
    "                        // read two segments ago, before the previous barrier); load the next\n",
    "                        ch = fs & 1u;\n",
    "                        bnbq_g4_stage_store(ch, st);\n",
    "                        fs++;\n",
    "                        if (cs + 1 < nseg || cr + 1 < rounds)\n",
    "                            bnbq_g4_stage_load(A, K, cs + 1 < nseg ? cs + 1 : 0, st);\n",
    "                        __syncthreads();\n",
    "                    } else {\n",
    "                        ch = cs;\n",
    "                    }\n",
    "                }\n",
    "#if BNBQ_G4_ASYNC\n",
    "                BNBQ_G4_FETCH(d == 0 ? BNBQ_G4_DEPTH - 1 : d - 1);\n",
    "#else\n",
    "                BNBQ_G4_FETCH((d + BNBQ_G4_DEPTH - 1) % BNBQ_G4_DEPTH);\n",
    "#endif\n",
    "                BNBQ_G4_WAIT();   // step t0 + d has landed\n",
    "                if (cg < g1) {\n",
    "                    uint4 wd[BNBQ_G4_R];\n",
    "                    float sd[BNBQ_G4_R];\n",
    "#pragma unroll\n",
    "                    for (int k = 0; k < BNBQ_G4_R; k++) {\n",
    "                        wd[k] = BNBQ_G4_GETW(d, k);\n",
    "                        sd[k] = BNBQ_G4_GETS(d, k);\n",
    "                    }\n",
    "                    const int live = cj + 1 < nsteps || lastok;\n",
    "                    u32 a[BNBQ_G4_AW];\n",
    "                    const uint4* ap = bnbq_g4_act[ch] + (cj % BNBQ_G4_SEG) * BNBQ_G4_STEPU;\n",
    "#pragma unroll\n",
    "                    for (int t = 0; t < BNBQ_G4_U; t++) {\n",
    "                        const uint4 v = ap[bnbq_g4_pos(lane, (u32)t)];\n",
    "                        a[4 * t] = v.x; a[4 * t + 1] = v.y; a[4 * t + 2] = v.z; a[4 * t + 3] = v.w;\n",
    "                    }\n",
    "#if BNBQ_G4_PROBE\n",
    "                    (void)a;\n",
    "#pragma unroll\n",
    "                    for (int k = 0; k < BNBQ_G4_R; k++) {\n",
    "                        const uint4 w = wd[k];\n",
    "                        acc[k] = acc[k] + __uint_as_float(((w.x ^ w.y ^ w.z ^ w.w) & 0x7fffffu) | 0x3f800000u) * sd[k];\n",
    "                    }\n",
    "#elif BNBQ_G4_MMA\n",
    "#pragma unroll\n",
    "                    for (int k = 0; k < BNBQ_G4_R; k++)   // one instance (compile time): live masks\n",
    "                        bnbq_g4_dot_mma<1>(a, wd[k], sd[k], tl, live, acc[k]);\n",
    "#else\n",
    "                    if (live) {\n",
    "#pragma unroll\n",
    "                        for (int k = 0; k < BNBQ_G4_R; k++)\n",
    "#if BNBQ_G4_T64X\n",
    "                            acc[k] = bnbq_g4_dot<1>(a, wd[k], sd[k], t6l, acc[k]);\n",
    "#else\n",
    "                            acc[k] = bnbq_g4_dot(a, wd[k], sd[k], lane, acc[k]);\n",
    "#endif\n",
    "                    }\n",
    "#endif\n",
    "                }\n",
    "                if (++cj == nsteps) {   // the round's rows are done\n",
    "                    if (cg < g1) {\n",
    "#pragma unroll\n",
    "                        for (int k = 0; k < BNBQ_G4_R; k++) {\n",
    "                            const u64 n = cg * BNBQ_G4_R + (u64)k;\n",
    "#if BNBQ_G4_MMA\n",
    "                            float v = acc[k][0] + acc[k][2];   // the group's rows g and g + 8\n",
    "                            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 4);\n",
    "                            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 8);\n",
    "                            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 16);\n",
    "                            acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = 0.0f;\n",
    "#else\n",
    "                            const float v = bnbq_g4_tree(acc[k]);\n",
    "                            acc[k] = 0.0f;\n",
    "#endif\n",
    "                            if (lane == 0 && n < N) bnbq_g4_store(v, n, out, bias);\n",
    "                        }\n",
    "                    }\n",
    "                    cj = 0;\n",
    "                    cr++;\n",
    "                    cg += nw;\n",
    "                }\n",
    "#if BNBQ_G4_ASYNC\n",
    "                d = d + 1 == BNBQ_G4_DEPTH ? 0 : d + 1;\n",
    "#endif\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "#undef BNBQ_G4_FETCH\n",
    "#undef BNBQ_G4_PUT\n",
    "#undef BNBQ_G4_GETW\n",
    "#undef BNBQ_G4_GETS\n",
    "#undef BNBQ_G4_COMMIT\n",
    "#undef BNBQ_G4_WAIT\n",
    "}\n",
    "#endif\n",
    "#line 811 \"gemv4.cu\"\n",
    "\n",
    "// ---- bnbq_k_gemv4tc: the fast-order one-token kernel of F16 / BF16 on sm_80+ (tensor cores) ----\n",
    "// Numerics (within tolerance(dtype) of the CPU, not bit-identical): every weight enters as\n",
    "// dt(qmap[nibble]) and the activation as it is; the tensor cores multiply them exactly and add in\n",
    "// float32 over one 64-element group of a row (mma.m16n8k16, f32 accumulate); the group's sum times\n",
    "// its block's absmax (float32) is added to the row's float32 sum (FFMA); the warps' partial sums of\n",
    "// a row are added in a fixed order (the epilogue below: the same result on every run) and out =\n",
    "// dt(sum) (+ bias) as bnbq_g4_store. The reference instead\n",
    "// rounds each weight dt(qmap * dt(absmax)) and each product to dt: the two differ by those roundings\n",
    "// (relative L2 ~3e-4 f16, ~3e-3 bf16 on random data; bitsandbytes' own error against float64 is up\n",
    "// to 5e-4 / 4e-3).\n",
    "// Layout: a tile is 16 rows (the mma's M) and a step 128 elements of them (two 64-element groups).\n",
    "// Lane (g, t) takes rows g and g + 8 and the 16 weight bytes 16t..16t+15 of the step (one 16-byte\n",
    "// load per row): lanes t = 0, 1 hold group 0, lanes 2, 3 group 1. The mma's k is permuted: byte 2i of\n",
    "// the lane's bytes is A's pair (2t, 2t + 1) of mma i (i = 0..7), byte 2i + 1 its pair (2t + 8,\n",
    "// 2t + 9). B's column n holds the activation of group n & 1 only: lane (g, t) loads its 32 elements'\n",
    "// pairs when t >> 1 == g & 1, else holds zeros; so D's even columns are the rows' dot products over\n",
    "// group 0 and the odd ones over group 1 (c[0], c[1]: row g; c[2], c[3]: row g + 8). The nibble pair\n",
    "// of a byte is looked up in the per-lane table bnbq_g4_tab (entry b: (dt(qmap[b >> 4]),\n",
    "// dt(qmap[b & 15])), the pair in element order). Grid: one block per SM; the block takes the tiles\n",
    "// [b NT / grid, (b + 1) NT / grid); of their ntiles * S steps (S = K / 128, tile-major) warp w takes\n",
    "// the range [w T / W, (w + 1) T / W) (T = ntiles * S); the weights and scales of the warp's next\n",
    "// BNBQ_G4TC_D - 1 steps (across tile ends) are in flight in registers. The warps' partial sums of\n",
    "// every tile wait in dynamic shared memory; after the one barrier at the end, warp w adds those of\n",
    "// the tiles w, w + W, ... and stores.\n",
    "// Requirements (the launcher's): K % 128 == 0, blocksize >= 64, packed and A 16-byte aligned, absmax\n",
    "// 8-byte aligned, K < 2^31, the dynamic shared memory (K * 2 + ceil(NT / grid) * W * 64 bytes) to be had.\n",
    "// Ring depth: steps per warp in flight, D - 1 ahead. Measured on the H100 (bench_gpu, % of copy,\n",
    "// 8192^2 / 14336x4096 / 4096x14336 f16, activation from L1): W 24 D 2 53.2 / 52.4 / 50.6; W 16 D 2\n",
    "// 51-54; W 16 D 3-4 44-47; W 24 D 3 44-48; W 32 D 2 (64 registers, spills) 48-50. The activation\n",
    "// staged in shared memory (4 instead of 16 L1 wavefronts per step): 56.9 / 55.3 / 54.1. ncu (8192^2):\n",
    "// L1 data pipe 64 % busy (per step of a warp: weights 32 wavefronts (one per sector), table lookups\n",
    "// 32, scales 16, activation 4), DRAM 43 %, issue 52 %: with one step (1 KB per warp, 24 KB per SM)\n",
    "// in flight the loads' latency bounds it; deeper register rings cost more than they gained. Also\n",
    "// measured and dropped: warp w taking the steps w, w + W, ... (the block reading neighbouring steps of\n",
    "// the same rows together, for DRAM page locality): a 256 MB gemv 151 -> 142 us, but the three shapes\n",
    "// 3-6 points slower (the tile changes every few steps); L2::128B / L2::256B prefetch on the weight\n",
    "// loads: equal / 3 points slower. A 256 MB gemv (K 32768) streams at ~57 % of copy too: the kernel\n",
    "// itself, not its start or tail, is the bound. With the lookups as PRMT + LEA + LDS (8.0M instead of\n",
    "// 10.2M instructions at 8192^2): 57.9 / 55.8 / 55.1; then W 24 D 3, W 16 D 4 and W 32 D 2 all within\n",
    "// 52-57: neither the warps nor the ring depth move it. Session 5's load-only probes streamed at the\n",
    "// same ~55-60 % with per-lane loads and at 80 % (single calls) with TMA bulk copies: the per-lane\n",
    "// 16-byte loads of 16 rows at a time are the cap, not the arithmetic. Tried on top (correct, not\n",
    "// kept): the same arithmetic with the weights brought by TMA bulk copies (cp.async.bulk of each row's\n",
    "// next CH steps into a per-warp ring of NS slots in shared memory, mbarrier completion, LDS.128 back):\n",
    "// CH 2 NS 3 W 16: 51.4 / 50.6 / 48.9; CH 4 NS 2 W 12: 47.4 / 46.1 / 44.1; CH 8 NS 2 W 8: 54.9 / 55.0 /\n",
    "// 50.5. Small copies (128-512 bytes per row) do not stream like session 5's 2-D boxes, and fewer warps\n",
    "// leave the arithmetic short of latency hiding; a tensor-map (2-D box of 16 rows) version is next.\n",
    "// Session 9 (bench/gemv_tma_proto.cu, bench/results/gpu-20261122-h100-session9-gemv-ceiling.txt, %\n",
    "// of copy single | back to back): that version (this arithmetic fed by 2-D TMA boxes of 16 rows x 1-2\n",
    "// KB, also with the tiles interleaved over the blocks) reached 51-59 | 57-66, and 8-row slabs by\n",
    "// contiguous 1-D bulk copies with the weights as the mma's B 44-53 | 49-56: none beats this kernel.\n",
    "// Their loads alone (no arithmetic, absmax included) stream at 79-82 back to back, a bare grid-stride\n",
    "// read of the same 37.7 MB at 81 | 87, and cuMemcpy moving as many bytes at 78-81: at these sizes 80 %\n",
    "// is the ceiling itself, and the shared-memory pipe (a lookup per weight byte, the activation\n",
    "// fragments, the stage traffic) costs the arithmetic 15-20 points. Interleaving this kernel's tiles\n",
    "// over the blocks (block b: tiles b, b + grid, ...) measured within noise (+0-1 point).\n",
    "#define BNBQ_G4TC_D 2\n",
    "// Wide tiles (the body's RG, session 12): A's 16 rows (the mma's M) need not be 16 weight rows. RG = 1\n",
    "// (bnbq_k_gemv4tc, the layout above): 16 rows, one 64-byte range of each a step (128 elements); RG = 2:\n",
    "// 8 rows (A's rows g and g + 8 are ranges 0 and 1 of row g), 128 bytes of each a step; RG = 4\n",
    "// (bnbq_k_gemv4tc_w, the launcher's choice where K % 512 == 0): 4 rows (A's row g: row g >> 1, range\n",
    "// g & 1; row g + 8: row g >> 1, range 2 + (g & 1)), 256 contiguous bytes of each a step, so that one\n",
    "// 16-byte load of the warp covers 4 rows x 128 bytes (whole 128-byte lines) instead of 8 x 64. B's\n",
    "// column n then holds range n >> 1, group n & 1 (zeros where the lane's group is not the column's): D's\n",
    "// columns of a row's own range are its sums, the others mix ranges and are dropped; at a tile's end\n",
    "// the 4 lanes holding a row's ranges add them by shuffles. Same lookups, mmas and loads per step.\n",
    "// Measured on the H100 (bench_gpu --gemv-fast, % of copy, single | back to back, f16, main's kernel in\n",
    "// the same call; bench/results/gpu-20261122-h100-session12-gemv-wide.txt): 8192^2 57.3 | 63.4 ->\n",
    "// RG 2 59.7 | 65.4, RG 4 60.5 | 66.5; 14336x4096 55.2 | 61.8 -> 56.3 | 62.8, 55.9 | 62.1; 4096x14336\n",
    "// 54.5 | 61.1 -> 55.7 | 62.1, 56.6 | 63.3.\n",
    "// Also measured with bnbq_k_gemv4tc_w (-session12-gemv-pf.txt): the warp's first PF steps prefetched\n",
    "// into the L2 (prefetch.global.L2, a line a lane) before the prologue: PF 2 +2-2.5 points single but\n",
    "// -1-3 back to back, PF 4 -0.5 | -5, PF 8 -4 | -8: a trade, not kept.\n",
    "// With the gemv on programmatic dependent launch and the prefetches before its wait: PF 1 equal,\n",
    "// PF 2 -1 | -3 (-session12-gemv-pf-pdl.txt).\n",
    "// Session 13 (branch prmt-dec, -session13-gemv-prmt.txt; it repeats session 11's branch prmt on the\n",
    "// wide-tile kernel with another decode): the weight bytes decoded in registers instead of the table (per 8 nibbles 21 integer operations: PRMTs into the table's low- and\n",
    "// high-byte halves for codes 0-7 and 8-15, a PRMT selecting by bit 3, PRMTs interleaving the bytes\n",
    "// into pairs): one row's words so 49.6 / 46.0 / 46.7 | 57.1 / 53.5 / 54.4, both rows' 43.8 / 41.3 /\n",
    "// 42.2 | 49.6 / 47.3 / 48.3, against this kernel's 61.2 / 56.5 / 57.6 | 72.5 / 67.5 / 69.1. Issue\n",
    "// slots, not the shared-memory pipe alone, bound the arithmetic: the table stays.\n",
    "#define BNBQ_G4TC_MAXW 24         // warps per block (the launcher's BNBQ__CU_G4TC_W)\n",
    "#if BNBQ_DT != BNBQ_F32 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)\n",
    "#define BNBQ_G4TC_ON 1\n",
    "#else\n",
    "#define BNBQ_G4TC_ON 0\n",
    "#endif\n",
    "#if BNBQ_G4TC_ON\n",
    "// dynamic shared memory: the activation (K * 2 bytes, swizzled: unit q of lane t's 4 units of a step\n",
    "// at 4 t + (q ^ 2 (t >> 1)), so that the lanes' loads of a unit hit four bank groups), then the warps' partial\n",
    "// sums [tile of the block][warp][row] (ceil(NT / grid) * W * 64 bytes)\n",
    "extern __shared__ uint4 bnbq_g4tc_dyn[];\n",
    "// BNBQ_G4TC_T64 = 1 (the launcher's choice where the block can have the shared memory, e.g. sm_80 and\n",
    "// sm_90; not sm_86 / sm_89, whose 99 KB are too few; bnbq__cu_g4tc_smem):\n",
    "// - the lookup table lives in the dynamic shared memory at a 64 KB-aligned address of the shared window,\n",
    "//   entry b of lane L at + 256 b + 4 L (bank L; the table spans 64 KB, half of it unused), so that the\n",
    "//   address of a byte's entry is ONE PRMT (bytes 0, 2, 3 from the lane's base, byte 1 the weight byte:\n",
    "//   bnbq_g4tc_q) instead of PRMT + LEA. The activation and the partial sums come first, the table at the\n",
    "//   first 64 KB boundary after them; the launcher gives that boundary + 64 KB (with the window's first\n",
    "//   1 KB reserved), and a kernel that finds less (%dynamic_smem_size) traps instead of reading past it.\n",
    "// - RG = 4: the activation of a step (64 units: range xr, lane t, unit q) at 18 xr + 4 t + (t >> 1) +\n",
    "//   q, 72 units a step, instead of the XOR swizzle: the 4 lanes of a quarter-warp that load (one per\n",
    "//   t) still hit distinct bank groups, and a lane's 4 units are one base plus immediates (with the\n",
    "//   swizzle the compiler rebuilt each address every step, in branches around the loads).\n",
    "// Measured on the H100 (bench_gpu --gemv-fast, % of copy, single | back to back, f16 8192^2 /\n",
    "// 14336x4096 / 4096x14336, 3 rounds alternating; bench/results/gpu-20261122-h100-session13-gemv-t64.txt):\n",
    "// the static table 61.5 / 56.9 / 57.9 | 73.4 / 68.2 / 69.6; the 64 KB-aligned table 63.6 / 58.7 / 59.5\n",
    "// | 75.9 / 71.7 / 73.0; with the activation layout as well 64.6 / 60.0 / 60.7 | 77.3 / 73.0 / 74.3.\n",
    "// SASS instructions of a step (bnbq_k_gemv4tc_w, sm_90): 320 -> 240 -> 215. Also measured: the\n",
    "// activation expanded so that every lane loads (zeros in the chunks of the other column group, 2304\n",
    "// bytes a step): 56.5 / 54.4 / 51.5 | 73.0 / 69.1 / 68.7, fewer instructions (214) but twice the\n",
    "// shared-memory wavefronts of the activation loads and a longer staging at the start.\n",
    "// And the zero-holding lanes loading 64 bytes of shared zeros (a bank group free in their\n",
    "// quarter-warp, step stride 0) instead of CS2R + predicated loads: 193 instructions a step, but\n",
    "// spills at 80 registers; 1.5-2.5 points slower (-session13-gemv-zeroload.txt).\n",
    "\n",
    "// the table word of byte j (0..3) of w for this lane (tl: the shared-window address of the lane's\n",
    "// copy, bnbq_g4_tab + 4 lane): PRMT + LEA + LDS; T64: PRMT + LDS. (A plain C index into the table\n",
    "// compiled to PRMT, IMAD.SHL, LOP3, IMAD + LDS.)\n",
    "BNBQ_DEV u32 bnbq_g4tc_q(u32 w, int j, u32 tl) {\n",
    "#if BNBQ_G4TC_T64\n",
    "    return bnbq_g4_lds(bnbq_g4_eaddr64(w, j, tl));\n",
    "#else\n",
    "    return bnbq_g4_lds(tl + (__byte_perm(w, 0u, 0x4440u + (u32)j) << 7));\n",
    "#endif\n",
    "}\n",
    "\n",
    "BNBQ_DEV uint4 bnbq_g4tc_ldw(const u8* p) {\n",
    "    uint4 v;\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    asm(\"ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\"\n",
    "        : \"=r\"(v.x), \"=r\"(v.y), \"=r\"(v.z), \"=r\"(v.w) : \"l\"(p));\n",
    "#else\n",
    "    v = *(const uint4*)p;\n",
    "#endif\n",
    "    return v;\n",
    "}\n",
    "#endif\n",
    "\n",
    "#if BNBQ_G4TC_ON\n",
    "template <int RG>\n",
    "BNBQ_DEV void bnbq_g4tc_body(const void* A, const u8* packed, const float* absmax, u64 N, u64 K,\n",
    "                             int bs_shift, void* out, const void* bias, bnbq_code16 code) {\n",
    "    const u32 TR = 16 / RG;   // weight rows per tile\n",
    "    const u32 lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;\n",
    "    const u32 g = lane >> 2, t = lane & 3;\n",
    "    // A's rows g and g + 8 of this lane: the tile's weight rows wr0, wr1 and their 64-byte ranges\n",
    "    // rg0, rg1 within the step (RG: see above)\n",
    "    const u32 wr0 = RG == 4 ? g >> 1 : g;\n",
    "    const u32 wr1 = RG == 1 ? g + 8 : RG == 2 ? g : g >> 1;\n",
    "    const u32 rg0 = RG == 4 ? (g & 1u) : 0u;\n",
    "    const u32 rg1 = RG == 1 ? 0u : RG == 2 ? 1u : 2u + (g & 1u);\n",
    "    const u64 NT = (N + TR - 1) / TR;\n",
    "    const u64 tb0 = NT * blockIdx.x / gridDim.x, tb1 = NT * (blockIdx.x + 1) / gridDim.x;\n",
    "    const u32 S = (u32)(K / (128 * RG));\n",
    "    const u32 ntiles = (u32)(tb1 - tb0);\n",
    "    // the warp's steps: [j0, j1) of the block's ntiles * S (tile-major)\n",
    "    const u64 T = (u64)ntiles * S;\n",
    "    const u64 j0 = T * w / W, j1 = T * (w + 1) / W;\n",
    "    const u32 total = (u32)(j1 - j0);\n",
    "    const u64 half = K >> 1;\n",
    "    uint4* xs = bnbq_g4tc_dyn;\n",
    "    // the activation's area: 72 units a step with T64 and RG = 4 (see above), else K / 8 units\n",
    "    const bool xb = BNBQ_G4TC_T64 && RG == 4;\n",
    "    const u64 actu = xb ? (K >> 9) * 72 : (K >> 3);\n",
    "    float* red = (float*)(bnbq_g4tc_dyn + actu);\n",
    "\n",
    "    // the fetch cursor: tile ft (absolute), step fs; the lane's rows (clamped to N - 1)\n",
    "    u64 ft = tb0 + j0 / S;\n",
    "    u32 fs = (u32)(j0 % S);\n",
    "    const u8* fw0; const u8* fw1;\n",
    "    u64 fa0, fa1;   // the lane's first element of its ranges in step 0 (n K + 128 rg)\n",
    "    // sp (T64, RG = 4: both ranges of the lane in one row, the second 256 elements / 128 bytes after\n",
    "    // the first): the scales' addresses from a per-tile base sm (the scale of fa0's block, + gsel) and\n",
    "    // fa0's offset rm in that block, in 32-bit arithmetic (rm + 512 fs < 2^31 + 4096); the second\n",
    "    // range's weights at fw0 + 128. (Else the 64-bit forms below.)\n",
    "    const bool sp = BNBQ_G4TC_T64 && RG == 4;\n",
    "    const float* sm = absmax;\n",
    "    u32 rm = 0;\n",
    "    const u32 gsel = (t >> 1) & (u32)(bs_shift == 6);\n",
    "#define BNBQ_G4TC_ROWS()                                                                           \\\n",
    "    do {                                                                                           \\\n",
    "        u64 r0 = ft * TR + wr0, r1 = ft * TR + wr1;                                                \\\n",
    "        r0 = r0 < N ? r0 : N - 1; r1 = r1 < N ? r1 : N - 1;                                        \\\n",
    "        fw0 = packed + r0 * half + 64 * rg0 + 16 * t; fw1 = packed + r1 * half + 64 * rg1 + 16 * t; \\\n",
    "        fa0 = r0 * K + 128 * rg0; fa1 = r1 * K + 128 * rg1;                                        \\\n",
    "        if (sp) {                                                                                  \\\n",
    "            sm = absmax + (fa0 >> bs_shift) + gsel;                                                \\\n",
    "            rm = (u32)fa0 & ((1u << bs_shift) - 1u);                                               \\\n",
    "        }                                                                                          \\\n",
    "    } while (0)\n",
    "    BNBQ_G4TC_ROWS();\n",
    "    uint4 rw0[BNBQ_G4TC_D], rw1[BNBQ_G4TC_D];\n",
    "    // the scale of the lane's own group (t >> 1) of its ranges, rows g (rs0) and g + 8 (rs1); the other\n",
    "    // group's comes from lane t ^ 2 by a shuffle. (Measured and dropped: one 16-byte load per row\n",
    "    // for two steps at blocksize 64, which halves the scales' L1 wavefronts, and a lane loading one\n",
    "    // scale for two steps with shuffles to the others: both 3-5 points slower on the H100.)\n",
    "    float rs0[BNBQ_G4TC_D], rs1[BNBQ_G4TC_D];\n",
    "#define BNBQ_G4TC_SCALES(slot)                                                                     \\\n",
    "    do {                                                                                           \\\n",
    "        if (sp) {                                                                                  \\\n",
    "            const u32 e_ = rm + 512u * fs;                                                         \\\n",
    "            rs0[slot] = __ldg(sm + (e_ >> bs_shift));                                              \\\n",
    "            rs1[slot] = __ldg(sm + ((e_ + 256u) >> bs_shift));                                     \\\n",
    "        } else {                                                                                   \\\n",
    "            rs0[slot] = __ldg(absmax + ((fa0 + 128 * RG * (u64)fs) >> bs_shift) + gsel);           \\\n",
    "            rs1[slot] = __ldg(absmax + ((fa1 + 128 * RG * (u64)fs) >> bs_shift) + gsel);           \\\n",
    "        }                                                                                          \\\n",
    "    } while (0)\n",
    "#define BNBQ_G4TC_FETCH(slot, i)                                                                   \\\n",
    "    do {                                                                                           \\\n",
    "        const int slot_ = (slot);                                                                  \\\n",
    "        (void)slot_;                                                                               \\\n",
    "        if ((i) < total) {                                                                         \\\n",
    "            rw0[slot_] = bnbq_g4tc_ldw(fw0 + 64 * RG * (u64)fs);                                   \\\n",
    "            rw1[slot_] = bnbq_g4tc_ldw((sp ? fw0 + 128 : fw1) + 64 * RG * (u64)fs);                \\\n",
    "            BNBQ_G4TC_SCALES(slot_);                                                               \\\n",
    "            if (++fs == S) {                                                                       \\\n",
    "                fs = 0;                                                                            \\\n",
    "                ft++;                                                                              \\\n",
    "                BNBQ_G4TC_ROWS();                                                                  \\\n",
    "            }                                                                                      \\\n",
    "        }                                                                                          \\\n",
    "    } while (0)\n",
    "    // Programmatic dependent launch (sm_90): the block lets the next kernel on the stream launch now\n",
    "    // (griddepcontrol.launch_dependents: a gemv queued behind this one is set up while this one runs\n",
    "    // and may start before it ends; it waits before it reads anything), and asks the L2 for its warp's\n",
    "    // first step (prefetch.global.L2, a hint that cannot read stale data) before it waits for the kernel\n",
    "    // before it. Nothing here reads global memory before the wait. Measured on the H100 (bench_gpu\n",
    "    // --gemv-fast, % of copy, f16 8192^2 / 14336x4096 / 4096x14336, single | back to back;\n",
    "    // bench/results/gpu-20261123-h100-session16-gemv-pdl.txt):\n",
    "    // before 65.0 / 60.5 / 61.3 | 78.0 / 73.5 / 74.8; the release 65.3 / 60.0 / 60.9 | 80.1 / 76.2 / 77.9;\n",
    "    // with the prefetch 66.3 / 61.4 / 62.1 | 81.1 / 78.3 / 79.8 (then issued by a lane per 128-byte line\n",
    "    // instead of every lane: +0.3-0.5 back to back in f16). Dropped: the table built before the wait\n",
    "    // (-2 single, +0 back to back: it then delays the first loads), the first step's scales prefetched too\n",
    "    // (-0.5), two first steps (-3 back to back), the warp's last one or two steps (+1-1.5 single, -1.5-3 /\n",
    "    // -6 back to back), the step after the one being loaded prefetched in the loop (-5 to -9), the release\n",
    "    // in the exact-order kernels (-0.5-1 back to back).\n",
    "    bnbq_pdl_release();\n",
    "    // (RG = 4: one lane per line, lanes 8 r .. 8 r + 7 hold row r's 128 + 128 bytes; RG = 1, not measured\n",
    "    // that way, every lane)\n",
    "    if (total != 0 && (RG != 4 || (lane & 7u) == 0u)) {\n",
    "        bnbq_prefetch_l2(fw0 + 64 * RG * (u64)fs);\n",
    "        bnbq_prefetch_l2((sp ? fw0 + 128 : fw1) + 64 * RG * (u64)fs);\n",
    "    }\n",
    "    bnbq_pdl_wait();   // launched with programmatic dependent launch: the kernel before it first\n",
    "#pragma unroll\n",
    "    for (int d = 0; d + 1 < BNBQ_G4TC_D; d++) BNBQ_G4TC_FETCH(d, (u32)d);\n",
    "\n",
    "    for (u32 k = threadIdx.x; k < ntiles * W * TR; k += blockDim.x) red[k] = 0.0f;\n",
    "    // unit u (16 bytes) of the activation: step u / US, range r, lane t and unit q of that lane's\n",
    "    // chunk, at US (u / US) + 16 r + 4 t + (q ^ ((2 (t >> 1) + r) & 3)) (US = 16 RG units a step)\n",
    "    if (xb) {\n",
    "        for (u32 u = threadIdx.x; u < (u32)(K >> 3); u += blockDim.x) {\n",
    "            const u32 v = u & 63u, ut = (v >> 2) & 3u;\n",
    "            xs[(u >> 6) * 72 + 18 * (v >> 4) + 4 * ut + (ut >> 1) + (v & 3u)] = __ldg((const uint4*)A + u);\n",
    "        }\n",
    "    } else {\n",
    "        for (u32 u = threadIdx.x; u < (u32)(K >> 3); u += blockDim.x) {\n",
    "            const u32 v = u % (16 * RG), ur = v >> 4, ut = (v >> 2) & 3u, uq = v & 3u;\n",
    "            xs[(u - v) + 16 * ur + 4 * ut + (uq ^ ((((ut >> 1) << 1) + ur) & 3u))] = __ldg((const uint4*)A + u);\n",
    "        }\n",
    "    }\n",
    "#if BNBQ_G4TC_T64\n",
    "    const u32 tl = bnbq_g4_t64_table(bnbq_g4tc_dyn, (u32)(actu * 16) + ((u32)(ntiles * W * TR) << 2), code);\n",
    "#else\n",
    "    bnbq_g4_build_table(code);\n",
    "    const u32 tl = bnbq_g4_tab_addr(lane * 4);\n",
    "#endif\n",
    "    __syncthreads();\n",
    "\n",
    "    // B's column g: range g >> 1 (RG = 1: range 0 in every column), group g & 1. The lane loads its 32\n",
    "    // elements' pairs of that range when the range exists and its group is the column's (xm), else\n",
    "    // holds zeros.\n",
    "    const u32 xr = RG == 1 ? 0u : g >> 1;\n",
    "    const uint4* Ap = xs + 16 * xr + 4 * t;\n",
    "    const u32 xsw = (((t >> 1) << 1) + xr) & 3u;   // the swizzle of the lane's units\n",
    "    const int xm = (RG == 1 || (g >> 1) < RG) && (t >> 1) == (g & 1);\n",
    "    const uint4* Xp = xs + 18 * (g >> 1) + 4 * t + (t >> 1);   // (xb) the lane's units of step 0\n",
    "    float acc0 = 0.0f, acc1 = 0.0f;\n",
    "    u32 cs = (u32)(j0 % S), ct = (u32)(j0 / S);\n",
    "    for (u32 i0 = 0; i0 < total; i0 += BNBQ_G4TC_D) {\n",
    "#pragma unroll\n",
    "        for (int d = 0; d < BNBQ_G4TC_D; d++) {\n",
    "            const u32 i = i0 + (u32)d;\n",
    "            if (i < total) {   // the same in the whole warp\n",
    "                BNBQ_G4TC_FETCH((d + BNBQ_G4TC_D - 1) % BNBQ_G4TC_D, i + BNBQ_G4TC_D - 1);\n",
    "                u32 x[16];\n",
    "#pragma unroll\n",
    "                for (int q = 0; q < 4; q++) {\n",
    "                    uint4 v = make_uint4(0u, 0u, 0u, 0u);\n",
    "                    if (xb) { if (xm) v = Xp[72 * cs + q]; }\n",
    "                    else if (xm) v = Ap[16 * RG * cs + ((u32)q ^ xsw)];\n",
    "                    x[4 * q] = v.x; x[4 * q + 1] = v.y; x[4 * q + 2] = v.z; x[4 * q + 3] = v.w;\n",
    "                }\n",
    "                const u32 wa[4] = { rw0[d].x, rw0[d].y, rw0[d].z, rw0[d].w };\n",
    "                const u32 wb[4] = { rw1[d].x, rw1[d].y, rw1[d].z, rw1[d].w };\n",
    "                // two accumulators (mmas 0..3 and 4..7), so that two chains of dependent mmas run\n",
    "                float c[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, e[4] = { 0.0f, 0.0f, 0.0f, 0.0f };\n",
    "#pragma unroll\n",
    "                for (int m = 0; m < 8; m++) {\n",
    "                    const u32 a0 = bnbq_g4tc_q(wa[m >> 1], 2 * (m & 1), tl);\n",
    "                    const u32 a2 = bnbq_g4tc_q(wa[m >> 1], 2 * (m & 1) + 1, tl);\n",
    "                    const u32 a1 = bnbq_g4tc_q(wb[m >> 1], 2 * (m & 1), tl);\n",
    "                    const u32 a3 = bnbq_g4tc_q(wb[m >> 1], 2 * (m & 1) + 1, tl);\n",
    "                    bnbq_g4tc_mma(m < 4 ? c : e, a0, a1, a2, a3, x[2 * m], x[2 * m + 1]);\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (int k = 0; k < 4; k++) c[k] = c[k] + e[k];\n",
    "                // c[0], c[1]: A's row g against columns 2t, 2t + 1 (range t, groups 0, 1); c[2],\n",
    "                // c[3]: row g + 8. Those are its sums where t is the row's range (else they mix\n",
    "                // ranges and are dropped at the tile's end). The lane holds the scale of group\n",
    "                // t >> 1; lane t ^ 2 (same g) the other one.\n",
    "                const float o0 = __shfl_xor_sync(BNBQ_G4_FULL, rs0[d], 2);\n",
    "                const float o1 = __shfl_xor_sync(BNBQ_G4_FULL, rs1[d], 2);\n",
    "                const float s00 = t < 2 ? rs0[d] : o0, s01 = t < 2 ? o0 : rs0[d];\n",
    "                const float s10 = t < 2 ? rs1[d] : o1, s11 = t < 2 ? o1 : rs1[d];\n",
    "                acc0 = fmaf(s00, c[0], acc0);\n",
    "                acc0 = fmaf(s01, c[1], acc0);\n",
    "                acc1 = fmaf(s10, c[2], acc1);\n",
    "                acc1 = fmaf(s11, c[3], acc1);\n",
    "                if (++cs == S || i + 1 == total) {   // the warp's part of tile tb0 + ct is done\n",
    "                    float* rt = red + (ct * W + w) * TR;\n",
    "                    if (RG == 1) {\n",
    "                        if (t == 0) {\n",
    "                            rt[g] = acc0;\n",
    "                            rt[g + 8] = acc1;\n",
    "                        }\n",
    "                    } else {   // the weight row's ranges from its lanes (t == rg) into lane 8 (wr) or 4 wr\n",
    "                        float v = (t == rg0 ? acc0 : 0.0f) + (t == rg1 ? acc1 : 0.0f);\n",
    "                        v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 1);\n",
    "                        v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 2);\n",
    "                        if (RG == 4) v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 4);\n",
    "                        if (t == 0 && (RG == 2 || (g & 1u) == 0)) rt[wr0] = v;\n",
    "                    }\n",
    "                    acc0 = acc1 = 0.0f;\n",
    "                    if (cs == S) {\n",
    "                        cs = 0;\n",
    "                        ct++;\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "    __syncthreads();\n",
    "    // every tile's partial sums are in; the tiles' sums are added after the barrier, while the block\n",
    "    // holds its SM: this epilogue is on the critical path (probed without it, -session17-gemv-epilogue.txt:\n",
    "    // +0.6-4.2 points back to back, the most at 14336x4096, whose blocks have 27-28 tiles for 24 warps).\n",
    "    // Warp w adds the tiles w, w + W, ...: lane (j, r) (row r = lane % TR, j = lane / TR of G = 32 /\n",
    "    // TR) adds warps j, j + G, ... in that order, then the G lanes of a row add theirs by a shuffle\n",
    "    // butterfly (offsets TR .. 16); lane r stores. With 4-row tiles and more tiles than warps, each\n",
    "    // half-warp takes a tile (tiles w + 2 W i and w + W + 2 W i: lane (h, j, r) adds warps j, j + 4, ...,\n",
    "    // then offsets 4, 8), so that the block's 27-28 tiles at 14336x4096 take one round instead of two.\n",
    "    // With the launcher's W (BNBQ_G4TC_MAXW) the warp loops are unrolled, their loads independent. (It\n",
    "    // was lane r alone adding the W warps in order until session 16: W dependent shared loads a tile.)\n",
    "    // Measured (session 17): back to back f16 81.9 / 79.6 / 80.2 -> 82.3 / 81.7 / 80.5 %, bf16 82.7 /\n",
    "    // 80.8 / 81.2 -> 82.8 / 81.7 / 81.4 %. (Dropped: no end barrier, the last warp of each tile adding it\n",
    "    // behind a shared-memory arrival counter: the fences it needs wait for the weights in flight, -2.)\n",
    "    if (RG == 4 && W == BNBQ_G4TC_MAXW && ntiles > W) {\n",
    "        const u32 hw = lane >> 4, r = lane & 3u, j = (lane >> 2) & 3u;\n",
    "        for (u32 t0 = w; t0 < ntiles; t0 += 2 * W) {\n",
    "            const u32 tt = t0 + hw * W;\n",
    "            float v = 0.0f;\n",
    "            if (tt < ntiles) {\n",
    "#pragma unroll\n",
    "                for (u32 k = j; k < BNBQ_G4TC_MAXW; k += 4) v = v + red[(tt * W + k) * 4 + r];\n",
    "            }\n",
    "            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 4);\n",
    "            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 8);\n",
    "            const u64 n = (tb0 + tt) * 4 + r;\n",
    "            if (tt < ntiles && j == 0 && n < N) bnbq_g4_store(v, n, out, bias);\n",
    "        }\n",
    "    } else {\n",
    "        for (u32 tt = w; tt < ntiles; tt += W) {\n",
    "            const u32 G = 32 / TR, r = lane % TR;\n",
    "            float v = 0.0f;\n",
    "            if (W == BNBQ_G4TC_MAXW) {\n",
    "#pragma unroll\n",
    "                for (u32 k = lane / TR; k < BNBQ_G4TC_MAXW; k += G) v = v + red[(tt * W + k) * TR + r];\n",
    "            } else {\n",
    "                for (u32 k = lane / TR; k < W; k += G) v = v + red[(tt * W + k) * TR + r];\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (u32 o = TR; o < 32; o <<= 1) v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, (int)o);\n",
    "            const u64 n = (tb0 + tt) * TR + lane;\n",
    "            if (lane < TR && n < N) bnbq_g4_store(v, n, out, bias);\n",
    "        }\n",
    "    }\n",
    "#undef BNBQ_G4TC_FETCH\n",
    "#undef BNBQ_G4TC_ROWS\n",
    "}\n",
    "#endif\n",
    "\n",
    "// The launcher takes these kernels from the units \"BNBQ_DT=1|2\" (static table) and \"BNBQ_DT=1|2\n",
    "// BNBQ_G4TC_T64=1\" on sm_80+ only: F32, sm_75 and the fast-order units (BNBQ_G4_FAST, whose\n",
    "// bnbq_k_gemv4 is the fallback) do not define them, so that no unit is compiled (by\n",
    "// bnbq_cuda_precompile, nvrtc-check) that nothing launches.\n",
    "// Their register budget: __maxnreg__(80) (NVRTC 12.4+; 80 x 32 x 24 warps fit the 64K registers) rather\n",
    "// than __launch_bounds__(768, 1), which also caps them at 80: the same registers, but ptxas schedules the\n",
    "// body differently without the block-size bound. Measured on the H100 (bench_gpu --gemv-fast, % of copy,\n",
    "// 8192^2 / 14336x4096 / 4096x14336, back to back, 2 rounds; bench/results/gpu-20261123-h100-session17-\n",
    "// gemv-regcap.txt): f16 81.0 / 78.6 / 79.7 -> 81.9-82.2 / 79.6-79.7 / 80.1-80.3, bf16 81.9 / 79.9 / 80.3\n",
    "// -> 82.5-82.6 / 80.7 / 81.1, single calls +0.5-1. Also measured: __maxnreg__(72) and (76) (within\n",
    "// 0.5 of 80 in f16, 0.2-0.8 below it in bf16), __launch_bounds__(800, 1) (72 / 70 registers: bf16 +0.7,\n",
    "// f16 -1 back to back), 25 warps a block (0.3-3 points below 24 warps of the same build back to back,\n",
    "// though it balances the 14336 shapes' steps better: at most 9 instead of 10 a warp;\n",
    "// -session17-gemv-wsweep.txt).\n",
    "#if defined(__CUDACC_VER_MAJOR__) && (__CUDACC_VER_MAJOR__ > 12 || (__CUDACC_VER_MAJOR__ == 12 && __CUDACC_VER_MINOR__ >= 4))\n",
    "#define BNBQ_G4TC_ATTR __maxnreg__(80)\n",
    "#else\n",
    "#define BNBQ_G4TC_ATTR __launch_bounds__(BNBQ_G4TC_MAXW * 32, 1)\n",
    "#endif\n",
    "#if BNBQ_G4TC_ON && !BNBQ_G4_FAST\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemv4tc(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "               void* out, const void* bias, bnbq_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemv4tc)\n",
    "#line 1225 \"gemv4.cu\"\n",
    "extern \"C\" __global__ void BNBQ_G4TC_ATTR\n",
    "bnbq_k_gemv4tc(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "               void* out, const void* bias, bnbq_code16 code) {\n",
    "    bnbq_g4tc_body<1>(A, packed, absmax, N, K, bs_shift, out, bias, code);\n",
    "}\n",
    "#endif\n",
    "#line 1230 \"gemv4.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemv4tc_w(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "                 void* out, const void* bias, bnbq_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemv4tc_w)\n",
    "#line 1230 \"gemv4.cu\"\n",
    "extern \"C\" __global__ void BNBQ_G4TC_ATTR\n",
    "bnbq_k_gemv4tc_w(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,\n",
    "                 void* out, const void* bias, bnbq_code16 code) {\n",
    "    bnbq_g4tc_body<4>(A, packed, absmax, N, K, bs_shift, out, bias, code);\n",
    "}\n",
    "#endif\n",
    "#line 1235 \"gemv4.cu\"\n",
    "#endif\n",
    0
};
static const char* const bnbq__cu_kernels_gemv4[] = {
    "bnbq_k_gemv4_any",
    "bnbq_k_gemv4",
    "bnbq_k_gemv4tc",
    "bnbq_k_gemv4tc_w",
    0
};
static const char* const bnbq__cu_src_int8[] = {
    "#line 1 \"int8.cu\"\n",
    "// LLM.int8() quantizers and epilogues (bnbq_int8_vectorwise_quant / _dequant, int8_double_quant,\n",
    "// int8_mm_dequant) and SwitchBack's quantize_rowwise, which shares the row kernel.\n",
    "// The file is compiled as four units (BNBQ_I8_PART): 1 int8_vectorwise_quant, 2 int8_double_quant,\n",
    "// 3 the dequantizers, 4 SwitchBack quantize_rowwise.\n",
    "// Every value is computed with the float32 operations of bnbq.h's CPU functions, in the same\n",
    "// order: scale = 127 * (1 / absmax), q = rint(a * scale) (bnbq__cpu_vectorwise_range),\n",
    "// CAt = rint(f32(f16(a * 127) / col_stats)) with a true division (bnbq_int8_double_quant).\n",
    "//\n",
    "// Outlier columns (threshold > 0) are collected as a bitmask of ceil(cols / 32) words kept at the\n",
    "// END of out_outlier_cols (words [cols - nwords, cols)); the last block of the final kernel\n",
    "// compacts it in place into the sorted column indices and writes the count. In place is safe:\n",
    "// while chunk [w0, w1) is compacted, every index written lands below 32 * w1 <= cols - nwords + w1,\n",
    "// i.e. before the words still to be read (32 * (nwords - 1) < cols). int8_vectorwise_quant without\n",
    "// the snapshot may spread the words bms apart (words [cols - bms nwords, cols), word w at bms w;\n",
    "// the launcher: nwords <= 256, so that one chunk reads them all before anything is written).\n",
    "// out_n_outliers[0] is the arrival counter of that final kernel until the last block overwrites it\n",
    "// with the count.\n",
    "\n",
    "#ifndef BNBQ_I8_PART\n",
    "#define BNBQ_I8_PART 1\n",
    "#endif\n",
    "#define BNBQ_I8_FULL 0xffffffffu\n",
    "#define BNBQ_I8_NR 8            // pieces of a row each thread keeps in registers\n",
    "#define BNBQ_I8_MEM __device__ __forceinline__   // members and explicit specialisations (no static)\n",
    "\n",
    "BNBQ_DEV float bnbq_i8_h2f(u32 h) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    float f;\n",
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"((u16)h));   // exact, as bnbq_f16_to_f32\n",
    "    return f;\n",
    "#else\n",
    "    return bnbq_f16_to_f32((u16)h);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// bnbq_rint without its branches: cvt.rni.s32.f32 rounds half to even, gives 0 for NaN and\n",
    "// saturates (+-inf: INT_MAX / INT_MIN), which is bnbq_rint everywhere except finite |y| in\n",
    "// [2^22, 2^23) with a fraction of .5 (bnbq_rint truncates there). The values rounded here are\n",
    "// NaN, at most 127 * (1 + 2^-22) in magnitude, or (outlier elements) replaced by 0 afterwards.\n",
    "BNBQ_DEV int bnbq_i8_rint(float y) { return __float2int_rn(y); }\n",
    "\n",
    "// max of non-negative, non-NaN values\n",
    "BNBQ_DEV float bnbq_i8_max(float a, float b) { return b > a ? b : a; }\n",
    "\n",
    "BNBQ_DEV float bnbq_i8_warp_max(float v) {\n",
    "    for (int off = 16; off > 0; off >>= 1) v = bnbq_i8_max(v, __shfl_xor_sync(BNBQ_I8_FULL, v, off));\n",
    "    return v;\n",
    "}\n",
    "\n",
    "// Block-wide max (blockDim.x a multiple of 32); every thread gets it. red: 32 floats of shared memory.\n",
    "BNBQ_DEV float bnbq_i8_block_max(float v, float* red) {\n",
    "    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;\n",
    "    v = bnbq_i8_warp_max(v);\n",
    "    if (lane == 0) red[w] = v;\n",
    "    __syncthreads();\n",
    "    v = 0.0f;\n",
    "    for (int i = 0; i < nw; i++) v = bnbq_i8_max(v, red[i]);\n",
    "    __syncthreads();\n",
    "    return v;\n",
    "}\n",
    "\n",
    "// Block-wide exclusive prefix sum of one value per thread (blockDim.x a multiple of 32);\n",
    "// *total gets the sum. sh: 32 words of shared memory. Starts and ends with a barrier.\n",
    "BNBQ_DEV u32 bnbq_i8_block_scan(u32 x, u32* sh, u32* total) {\n",
    "    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;\n",
    "    u32 v = x, base = 0, tot = 0;\n",
    "    for (int off = 1; off < 32; off <<= 1) {\n",
    "        u32 o = __shfl_up_sync(BNBQ_I8_FULL, v, off);\n",
    "        if (lane >= off) v += o;\n",
    "    }\n",
    "    __syncthreads();\n",
    "    if (lane == 31) sh[w] = v;\n",
    "    __syncthreads();\n",
    "    for (int i = 0; i < nw; i++) {\n",
    "        u32 t = sh[i];\n",
    "        if (i < w) base += t;\n",
    "        tot += t;\n",
    "    }\n",
    "    __syncthreads();\n",
    "    *total = tot;\n",
    "    return base + v - x;\n",
    "}\n",
    "\n",
    "// The bitmask bm (nwords words) compacted into cols_out (sorted column indices) and the count into\n",
    "// n_out[0], by one whole block (a uniform call). bms: the words' stride in bm (1: dense; see\n",
    "// bnbq_k_int8_vw_rows_thr).\n",
    "BNBQ_DEV void bnbq_i8_compact(i32* cols_out, i32* n_out, const u32* bm, u64 nwords, u64 bms = 1) {\n",
    "    __shared__ u32 sh[32];\n",
    "    u32 base = 0;\n",
    "    for (u64 w0 = 0; w0 < nwords; w0 += blockDim.x) {\n",
    "        u64 wi = w0 + threadIdx.x;\n",
    "        u32 word = wi < nwords ? bm[wi * bms] : 0u;\n",
    "        u32 tot, pre = bnbq_i8_block_scan(__popc(word), sh, &tot);   // all words of the chunk read\n",
    "        i32* o = cols_out + base + pre;\n",
    "        while (word) {\n",
    "            int b = __ffs(word) - 1;\n",
    "            *o++ = (i32)(wi * 32u + (u64)b);\n",
    "            word &= word - 1u;\n",
    "        }\n",
    "        base += tot;\n",
    "    }\n",
    "    if (threadIdx.x == 0) n_out[0] = (i32)base;\n",
    "}\n",
    "\n",
    "// Called by every thread of every block of a kernel once the block has read the bitmask for the\n",
    "// last time. The last block to arrive compacts the bitmask into cols_out (sorted) and writes the\n",
    "// count over the arrival counter n_out[0].\n",
    "BNBQ_DEV void bnbq_i8_outlier_tail(i32* cols_out, i32* n_out, const u32* bm, u64 nwords, u64 bms = 1) {\n",
    "    __shared__ int last;\n",
    "    __syncthreads();\n",
    "    if (threadIdx.x == 0) {\n",
    "        __threadfence();\n",
    "        last = atomicAdd((u32*)n_out, 1u) == gridDim.x - 1;\n",
    "    }\n",
    "    __syncthreads();\n",
    "    if (!last) return;\n",
    "    __threadfence();\n",
    "    bnbq_i8_compact(cols_out, n_out, bm, nwords, bms);\n",
    "}\n",
    "\n",
    "#if BNBQ_I8_PART == 1 || BNBQ_I8_PART == 2\n",
    "// Zeroes the bitmask words, the arrival counter and up to two float arrays (statistics that are\n",
    "// reduced with atomicMax on their bits).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_init(u32* bm, u64 nwords, i32* counter, float* f1, u64 n1,\n",
    "                                            float* f2, u64 n2) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_init)\n",
    "#line 124 \"int8.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_int8_init(u32* bm, u64 nwords, i32* counter, float* f1, u64 n1,\n",
    "                                            float* f2, u64 n2) {\n",
    "    u64 i0 = (u64)blockIdx.x * blockDim.x + threadIdx.x, st = (u64)gridDim.x * blockDim.x;\n",
    "    bnbq_pdl_release();   // the rows pass may start (it waits before it touches these)\n",
    "    if (i0 == 0 && counter) counter[0] = 0;\n",
    "    if (bm) for (u64 i = i0; i < nwords; i += st) bm[i] = 0u;\n",
    "    if (f1) for (u64 i = i0; i < n1; i += st) f1[i] = 0.0f;\n",
    "    if (f2) for (u64 i = i0; i < n2; i += st) f2[i] = 0.0f;\n",
    "}\n",
    "#endif\n",
    "#line 133 \"int8.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- a piece: V consecutive f16 of a row (V = 8: one 16-byte load; V = 1: one element) -------\n",
    "template <int V> struct bnbq_i8_vec;\n",
    "template <> struct bnbq_i8_vec<8> {\n",
    "    u32 w[4];\n",
    "    BNBQ_I8_MEM void load(const u16* p) {\n",
    "        uint4 t = __ldg((const uint4*)p);\n",
    "        w[0] = t.x; w[1] = t.y; w[2] = t.z; w[3] = t.w;\n",
    "    }\n",
    "    BNBQ_I8_MEM u32 get(int i) const { return (w[i >> 1] >> ((i & 1) * 16)) & 0xffffu; }\n",
    "};\n",
    "template <> struct bnbq_i8_vec<1> {\n",
    "    u32 w[1];\n",
    "    BNBQ_I8_MEM void load(const u16* p) { w[0] = __ldg(p); }\n",
    "    BNBQ_I8_MEM u32 get(int) const { return w[0]; }\n",
    "};\n",
    "\n",
    "// V int8 codes to dst (V = 8: one 8-byte store, dst 8-byte aligned)\n",
    "template <int V> BNBQ_I8_MEM void bnbq_i8_store(i8* dst, const int* q);\n",
    "template <> BNBQ_I8_MEM void bnbq_i8_store<8>(i8* dst, const int* q) {\n",
    "    u32 lo = ((u32)q[0] & 0xffu) | (((u32)q[1] & 0xffu) << 8) | (((u32)q[2] & 0xffu) << 16) |\n",
    "             (((u32)q[3] & 0xffu) << 24);\n",
    "    u32 hi = ((u32)q[4] & 0xffu) | (((u32)q[5] & 0xffu) << 8) | (((u32)q[6] & 0xffu) << 16) |\n",
    "             (((u32)q[7] & 0xffu) << 24);\n",
    "    *(uint2*)dst = make_uint2(lo, hi);\n",
    "}\n",
    "template <> BNBQ_I8_MEM void bnbq_i8_store<1>(i8* dst, const int* q) { dst[0] = (i8)q[0]; }\n",
    "\n",
    "// Row statistic of a piece starting at column c: max |a| over the non-outliers; outliers\n",
    "// (|a| >= thr, use_thr) set their column's bit (V = 8: c % 8 == 0, the piece's bits share a word).\n",
    "template <int V>\n",
    "BNBQ_DEV float bnbq_i8_piece_max(const bnbq_i8_vec<V>& x, float m, u64 c, int use_thr, float thr,\n",
    "                                 u32* bm) {\n",
    "    u32 om = 0u;\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < V; i++) {\n",
    "        float v = bnbq_i8_h2f(x.get(i) & 0x7fffu);   // |a|\n",
    "        int o = use_thr && v >= thr;\n",
    "        om |= (u32)o << i;\n",
    "        m = o ? m : bnbq_i8_max(m, v);\n",
    "    }\n",
    "    if (om) atomicOr(&bm[c >> 5], om << (u32)(c & 31u));\n",
    "    return m;\n",
    "}\n",
    "\n",
    "// Thread 0 stores the row statistic m (MODE 0: row_stats, float; MODE 1: the f16 state); every\n",
    "// thread gets the row's scale: MODE 0 127 * (1 / m), MODE 1 1 / m.\n",
    "template <int MODE>\n",
    "BNBQ_DEV float bnbq_i8_row_scale(float m, void* stats, u64 r) {\n",
    "    if (MODE == 0) {\n",
    "        if (threadIdx.x == 0) ((float*)stats)[r] = m;\n",
    "        return 127.0f * (1.0f / m);\n",
    "    }\n",
    "    if (threadIdx.x == 0) ((u16*)stats)[r] = bnbq_f32_to_f16(m);\n",
    "    return 1.0f / m;\n",
    "}\n",
    "\n",
    "// MODE 0 (LLM.int8): q = rint(a * s), s = 127 * (1 / absmax); outliers 0.\n",
    "// MODE 1 (SwitchBack): q = rint(127 * (a * s)), s = 1 / absmax.\n",
    "template <int MODE, int V>\n",
    "BNBQ_DEV void bnbq_i8_piece_quant(const bnbq_i8_vec<V>& x, float s, int use_thr, float thr, i8* dst) {\n",
    "    int q[V];\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < V; i++) {\n",
    "        float v = bnbq_i8_h2f(x.get(i));\n",
    "        if (MODE == 0) {\n",
    "            int y = bnbq_i8_rint(v * s);\n",
    "            q[i] = (use_thr && bnbq_absf(v) >= thr) ? 0 : y;\n",
    "        } else {\n",
    "            float xh = v * s;\n",
    "            q[i] = bnbq_i8_rint(127.0f * xh);\n",
    "        }\n",
    "    }\n",
    "    bnbq_i8_store<V>(dst, q);\n",
    "}\n",
    "\n",
    "// One block (at most 256 threads) per row, grid-stride over rows: one read of the row (up to NR\n",
    "// pieces per thread kept in registers; the rest of a longer row is read again), the row statistic,\n",
    "// the codes. The launcher picks the fewest threads that keep a row in registers.\n",
    "// MODE 0: stats = float row_stats, outlier bits into bm (use_thr). MODE 1: stats = f16 state.\n",
    "// THR: 1 thr > 0, 0 thr == 0 (the launcher knows), -1 either (a run-time test).\n",
    "template <int MODE, int V, int THR>\n",
    "BNBQ_DEV void bnbq_i8_rows(const u16* A, u64 rows, u64 cols, float thr, i8* CA, void* stats,\n",
    "                           u32* bm) {\n",
    "    __shared__ float red[32];\n",
    "    const int use_thr = MODE == 0 && (THR < 0 ? thr > 0.0f : THR > 0);\n",
    "    const u64 np = cols / V, T = blockDim.x, tid = threadIdx.x;\n",
    "    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {\n",
    "        const u16* a = A + r * cols;\n",
    "        i8* q = CA + r * cols;\n",
    "        bnbq_i8_vec<V> x[BNBQ_I8_NR];\n",
    "        float m = 0.0f, s;\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < BNBQ_I8_NR; j++) {\n",
    "            u64 p = (u64)j * T + tid;\n",
    "            if (p < np) x[j].load(a + p * V);\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < BNBQ_I8_NR; j++) {\n",
    "            u64 p = (u64)j * T + tid;\n",
    "            if (p < np) m = bnbq_i8_piece_max<V>(x[j], m, p * V, use_thr, thr, bm);\n",
    "        }\n",
    "        for (u64 p = BNBQ_I8_NR * T + tid; p < np; p += T) {\n",
    "            bnbq_i8_vec<V> y;\n",
    "            y.load(a + p * V);\n",
    "            m = bnbq_i8_piece_max<V>(y, m, p * V, use_thr, thr, bm);\n",
    "        }\n",
    "        m = bnbq_i8_block_max(m, red);\n",
    "        s = bnbq_i8_row_scale<MODE>(m, stats, r);\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < BNBQ_I8_NR; j++) {\n",
    "            u64 p = (u64)j * T + tid;\n",
    "            if (p < np) bnbq_i8_piece_quant<MODE, V>(x[j], s, use_thr, thr, q + p * V);\n",
    "        }\n",
    "        for (u64 p = BNBQ_I8_NR * T + tid; p < np; p += T) {\n",
    "            bnbq_i8_vec<V> y;\n",
    "            y.load(a + p * V);\n",
    "            bnbq_i8_piece_quant<MODE, V>(y, s, use_thr, thr, q + p * V);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "// ---- the 8-element row path: 16-bit lanes of the f16 bits, no per-element float compares ------\n",
    "// For |a| as f16 bits (0..0x7fff), \"outlier or NaN\" is one unsigned compare a >= T: with a\n",
    "// threshold, T = the bits of the smallest f16 >= thr (NaN bits 0x7c01.. are above it); without\n",
    "// one, T = 0x7c01 (NaN only). Outliers (what the column bits mark) are T <= a <= 0x7c00.\n",
    "// bnbq_i8_T: T for thr (thr > 0 when use_thr).\n",
    "BNBQ_DEV u32 bnbq_i8_T(int use_thr, float thr) {\n",
    "    if (!use_thr) return 0x7c01u;\n",
    "    if (!(thr <= 65504.0f)) return 0x7c00u;               // only inf is >= thr\n",
    "    u32 h = bnbq_f32_to_f16(thr);                         // RNE; thr > 0, so h in [0, 0x7bff]\n",
    "    return bnbq_i8_h2f(h) < thr ? h + 1u : h;             // round up to the first f16 >= thr\n",
    "}\n",
    "\n",
    "// Per 16-bit lane of a word of |a| bits: 0xffff where a >= T, else 0. k2 = (0x8000 - T) * 0x10001:\n",
    "// a + (0x8000 - T) < 0x10000 (no carry between lanes) and has bit 15 set iff a >= T; the PRMT\n",
    "// replicates bit 15 / bit 31 (the sign of byte 1 / byte 3) over the lane.\n",
    "BNBQ_DEV u32 bnbq_i8_zmask(u32 a, u32 k2) {\n",
    "    u32 z;\n",
    "    asm(\"prmt.b32 %0, %1, 0, 0xbb99;\" : \"=r\"(z) : \"r\"(a + k2));\n",
    "    return z;\n",
    "}\n",
    "\n",
    "// Lane-wise max of two words of non-NaN, non-negative f16 bits (<= 0x7c00): float order is the\n",
    "// unsigned order of the bits.\n",
    "BNBQ_DEV u32 bnbq_i8_hmax2(u32 a, u32 b) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    u32 d;\n",
    "    asm(\"max.f16x2 %0, %1, %2;\" : \"=r\"(d) : \"r\"(a), \"r\"(b));\n",
    "    return d;\n",
    "#else\n",
    "    u32 al = a & 0xffffu, bl = b & 0xffffu, ah = a >> 16, bh = b >> 16;\n",
    "    return (al > bl ? al : bl) | ((ah > bh ? ah : bh) << 16);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// The low byte of rint(y) for |y| < 2^22: y + 1.5 * 2^23 rounds to an integer (RNE) whose bits\n",
    "// end with it in two's complement.\n",
    "BNBQ_DEV u32 bnbq_i8_magic(float y) { return __float_as_uint(y + 12582912.0f); }\n",
    "\n",
    "// Four low bytes of t0..t3 as one word (t0 lowest).\n",
    "BNBQ_DEV u32 bnbq_i8_pack4(u32 t0, u32 t1, u32 t2, u32 t3) {\n",
    "    u32 a, b, d;\n",
    "    asm(\"prmt.b32 %0, %1, %2, 0x0040;\" : \"=r\"(a) : \"r\"(t0), \"r\"(t1));\n",
    "    asm(\"prmt.b32 %0, %1, %2, 0x0040;\" : \"=r\"(b) : \"r\"(t2), \"r\"(t3));\n",
    "    asm(\"prmt.b32 %0, %1, %2, 0x5410;\" : \"=r\"(d) : \"r\"(a), \"r\"(b));\n",
    "    return d;\n",
    "}\n",
    "\n",
    "// Byte mask of four lanes from two lane masks (z0: elements 0, 1; z1: elements 2, 3).\n",
    "BNBQ_DEV u32 bnbq_i8_bytemask(u32 z0, u32 z1) {\n",
    "    u32 d;\n",
    "    asm(\"prmt.b32 %0, %1, %2, 0x6420;\" : \"=r\"(d) : \"r\"(z0), \"r\"(z1));\n",
    "    return d;\n",
    "}\n",
    "\n",
    "// Bit i of the result: byte i of w (each 0xff or 0) is set (bit i of byte i to bit 24 + i by one multiply:\n",
    "// the four partial products' bits never meet)\n",
    "BNBQ_DEV u32 bnbq_i8_byte_bits(u32 w) { return ((w & 0x08040201u) * 0x01010101u) >> 24; }\n",
    "\n",
    "// Max of the non-outlier, non-NaN |a| of a piece (packed in m2); outliers set their column bits.\n",
    "// A piece with an outlier or NaN lane (z) finds its outliers from the lane masks: z without the NaN\n",
    "// lanes (a second zmask against 0x7c01), one byte a lane (PRMT), one bit a byte (bnbq_i8_byte_bits).\n",
    "// (It used to test the 8 elements one by one: with systematic outlier columns, e.g. 41 of 4096 in\n",
    "// every row, that branch ran in most warp steps and made the pass issue-bound.)\n",
    "BNBQ_DEV u32 bnbq_i8_piece_max8(const bnbq_i8_vec<8>& x, u32 m2, u64 c, int use_thr, u32 k2, u32* bm,\n",
    "                                u64 bms = 1) {\n",
    "    u32 any = 0u, z[4];\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++) {\n",
    "        u32 a = x.w[i] & 0x7fff7fffu;\n",
    "        z[i] = bnbq_i8_zmask(a, k2);\n",
    "        any |= z[i];\n",
    "        m2 = bnbq_i8_hmax2(m2, a & ~z[i]);\n",
    "    }\n",
    "    if (use_thr && any) {   // rare: which of them are outliers (not NaN)\n",
    "        const u32 kn = (0x8000u - 0x7c01u) * 0x10001u;   // lanes >= 0x7c01: NaN\n",
    "        u32 o[4], lo, hi;\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) o[i] = z[i] & ~bnbq_i8_zmask(x.w[i] & 0x7fff7fffu, kn);\n",
    "        asm(\"prmt.b32 %0, %1, %2, 0x7531;\" : \"=r\"(lo) : \"r\"(o[0]), \"r\"(o[1]));   // elements 0..3: a byte each\n",
    "        asm(\"prmt.b32 %0, %1, %2, 0x7531;\" : \"=r\"(hi) : \"r\"(o[2]), \"r\"(o[3]));   // elements 4..7\n",
    "        const u32 om = bnbq_i8_byte_bits(lo) | (bnbq_i8_byte_bits(hi) << 4);\n",
    "        if (om) atomicOr(&bm[(c >> 5) * bms], om << (u32)(c & 31u));\n",
    "    }\n",
    "    return m2;\n",
    "}\n",
    "\n",
    "// 8 snapshot bits as two byte masks (0xff: zero the code): bit i of a nibble to bit 8 i, then\n",
    "// over the byte.\n",
    "BNBQ_DEV void bnbq_i8_snap_mask(u32 b, u32* lo, u32* hi) {\n",
    "    u32 l = ((b & 0xfu) * 0x00204081u) & 0x01010101u, h = ((b >> 4) * 0x00204081u) & 0x01010101u;\n",
    "    *lo = l * 0xffu;\n",
    "    *hi = h * 0xffu;\n",
    "}\n",
    "\n",
    "// Codes of a piece for a row with 0 < absmax < inf (every non-zeroed |y| <= 127 * (1 + 2^-22)):\n",
    "// MODE 0 q = rint(a * s), MODE 1 q = rint(127 * (a * s)); outliers and NaN 0, and the columns\n",
    "// whose bit is set in sb (the outlier-column snapshot's 8 bits of the piece, below; 0: none).\n",
    "template <int MODE>\n",
    "BNBQ_DEV void bnbq_i8_piece_quant8(const bnbq_i8_vec<8>& x, float s, u32 k2, i8* dst, u32 sb = 0u) {\n",
    "    u32 t[8], z[4], ml, mh;\n",
    "    bnbq_i8_snap_mask(sb, &ml, &mh);\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++) {\n",
    "        z[i] = bnbq_i8_zmask(x.w[i] & 0x7fff7fffu, k2);\n",
    "        float v0 = bnbq_i8_h2f(x.w[i] & 0xffffu), v1 = bnbq_i8_h2f(x.w[i] >> 16);\n",
    "        float y0 = v0 * s, y1 = v1 * s;\n",
    "        if (MODE == 1) { y0 = 127.0f * y0; y1 = 127.0f * y1; }\n",
    "        t[2 * i] = bnbq_i8_magic(y0);\n",
    "        t[2 * i + 1] = bnbq_i8_magic(y1);\n",
    "    }\n",
    "    u32 lo = bnbq_i8_pack4(t[0], t[1], t[2], t[3]) & ~(bnbq_i8_bytemask(z[0], z[1]) | ml);\n",
    "    u32 hi = bnbq_i8_pack4(t[4], t[5], t[6], t[7]) & ~(bnbq_i8_bytemask(z[2], z[3]) | mh);\n",
    "    *(uint2*)dst = make_uint2(lo, hi);\n",
    "}\n",
    "\n",
    "// ---- the outlier-column snapshot (SMP = 1, int8_vectorwise_quant with threshold > 0) -----------\n",
    "// Every row that starts before the flag is out counts itself in smp[0] once its outlier bits are set;\n",
    "// the R0-th to arrive (whichever rows come first) copies the bitmask into the snapshot smp[64 .. 64 +\n",
    "// nwords) and then sets the flag smp[32] (its own 128-byte line). (It used to be the rows [0, R0)\n",
    "// only: one late block of those held the snapshot back while the others wrote their second and\n",
    "// third rows unpatched.) A block that finds the flag set copies the snapshot\n",
    "// into its shared memory once (the grid is about one wave of resident blocks, so that this is not\n",
    "// repeated per row: every block reading the same few lines from L2 for every row made those L2\n",
    "// lines a hot spot and the pass 20-30 % slower) and from then on zeroes the snapshot's columns as it\n",
    "// writes its rows; a row that starts before that is deferred (bnbq_i8_rows8's defer) or, when the\n",
    "// block has deferred rows enough, has its bit set in rb. The fix pass then zeroes every outlier\n",
    "// column in the rows marked in rb and only\n",
    "// the columns missing from the snapshot (usually none: outlier columns are systematic) in the\n",
    "// others. Nothing waits. A block's first row is blockIdx.x, its later rows come from the ticket\n",
    "// counter smp[16] in order of demand (a fixed stride left the last rows to a few blocks: measured\n",
    "// 75 -> 79 % of copy at 4096x14336 on the H100 with the tickets). smp[0], smp[16], smp[32] and rb\n",
    "// start at 0 (bnbq_k_int8_init); the launcher gives nwords words of dynamic shared memory (and with\n",
    "// defer the deferred rows' codes after them) and at least R0 rows.\n",
    "BNBQ_DEV u32 bnbq_i8_ld_cg(const u32* p) {\n",
    "    u32 v;\n",
    "    asm volatile(\"ld.global.cg.u32 %0, [%1];\" : \"=r\"(v) : \"l\"(p));\n",
    "    return v;\n",
    "}\n",
    "BNBQ_DEV u32 bnbq_i8_ld_volatile(const u32* p) {\n",
    "    u32 v;\n",
    "    asm volatile(\"ld.volatile.global.u32 %0, [%1];\" : \"=r\"(v) : \"l\"(p) : \"memory\");\n",
    "    return v;\n",
    "}\n",
    "\n",
    "// The published snapshot into the block's shared memory ssnap (a uniform call; a barrier at the end).\n",
    "BNBQ_DEV void bnbq_i8_take_snapshot(u32* ssnap, const u32* smp, u64 nwords) {\n",
    "    for (u64 w = threadIdx.x; w < nwords; w += blockDim.x) ssnap[w] = bnbq_i8_ld_cg(&smp[64 + w]);\n",
    "    __syncthreads();\n",
    "}\n",
    "\n",
    "// A row's block, after the row's last atomicOr: counts it; the R0-th publishes the snapshot.\n",
    "BNBQ_DEV void bnbq_i8_sample_done(u32* bm, u64 nwords, u32* smp, u64 R0, u64 bms = 1) {\n",
    "    __shared__ int last;\n",
    "    __threadfence();\n",
    "    __syncthreads();\n",
    "    if (threadIdx.x == 0) last = atomicAdd(&smp[0], 1u) == (u32)R0 - 1u;\n",
    "    __syncthreads();\n",
    "    if (!last) return;\n",
    "    __threadfence();\n",
    "    for (u64 w = threadIdx.x; w < nwords; w += blockDim.x) smp[64 + w] = bnbq_i8_ld_cg(&bm[w * bms]);\n",
    "    __threadfence();\n",
    "    __syncthreads();\n",
    "    if (threadIdx.x == 0) atomicExch(&smp[32], 1u);\n",
    "}\n",
    "\n",
    "\n",
    "// bnbq_i8_rows for 8-element pieces (cols % 8 == 0, A 16-byte and CA 8-byte aligned): the same\n",
    "// values. A row whose statistic is 0 or inf gets 0 everywhere (every product is NaN or +-0 then).\n",
    "// SMP = 1: the sample protocol above (MODE 0 with a threshold only).\n",
    "// SMP with defer (1 or 2): the first `defer` rows of a block that start before the snapshot is out\n",
    "// keep their codes in shared memory (after the snapshot) and are written after the block's last row,\n",
    "// with the snapshot's columns zeroed, instead of being marked in rb: marked rows were written first,\n",
    "// had left the L2 when the fix pass zeroed every outlier column in them, and those scattered writes\n",
    "// cost ~4.4 us of ~74 at 4096x14336 on the H100. (A row is still marked when the block has deferred\n",
    "// `defer` rows already, or when the snapshot is not out yet when the block ends.)\n",
    "template <int MODE, int THR, int SMP>\n",
    "BNBQ_DEV void bnbq_i8_rows8(const u16* A, u64 rows, u64 cols, float thr, i8* CA, void* stats,\n",
    "                            u32* bm, u32* smp = 0, u32* rb = 0, u64 R0 = 0, int defer = 0, u64 bms = 1) {\n",
    "    __shared__ float red[32];\n",
    "    __shared__ u32 snapok[2];\n",
    "    __shared__ u32 dfr[2];\n",
    "    __shared__ u32 endflag;\n",
    "    __shared__ u64 nextrow[2];\n",
    "    extern __shared__ u32 ssnap[];   // SMP: the snapshot, nwords words, once the block has seen it\n",
    "    u32 it = 0, have = 0;\n",
    "    const int use_thr = MODE == 0 && (THR < 0 ? thr > 0.0f : THR > 0);\n",
    "    const u32 T = bnbq_i8_T(use_thr, thr), k2 = (0x8000u - T) * 0x10001u;\n",
    "    const u64 np = cols / 8, Tn = blockDim.x, tid = threadIdx.x, nwords = (cols + 31) / 32;\n",
    "    i8* const dsh = (i8*)(ssnap + ((nwords + 1) & ~(u64)1));   // SMP, defer: the deferred rows' codes\n",
    "    u64 dr[2] = { 0, 0 };   // SMP: the block's deferred rows (uniform): dr[0 .. ndr)\n",
    "    u32 ndr = 0;\n",
    "    u64 nxt = 0;   // SMP: the block's next row, from the ticket counter smp[16]\n",
    "    for (u64 r = blockIdx.x; r < rows; r = SMP ? nxt : r + gridDim.x) {\n",
    "        const u16* a = A + r * cols;\n",
    "        i8* q = CA + r * cols;\n",
    "        bnbq_i8_vec<8> x[BNBQ_I8_NR];\n",
    "        u32 m2 = 0u;\n",
    "        float m, s;\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < BNBQ_I8_NR; j++) {\n",
    "            u64 p = (u64)j * Tn + tid;\n",
    "            if (p < np) x[j].load(a + p * 8);\n",
    "        }\n",
    "        // launched after bnbq_k_int8_init (bnbq__cu_launch_pdl): its zeroes first. (It does not\n",
    "        // release the fix pass early: the fix blocks then sit on the SMs the rows still need, measured\n",
    "        // 3-4 points slower on the H100 than the fix pass launched when the rows are done.)\n",
    "        if (it == 0) bnbq_pdl_wait();\n",
    "        if (SMP && threadIdx.x == 0) {   // the snapshot out? (read before the barriers below)\n",
    "            u32 f = have ? 1u : bnbq_i8_ld_volatile(&smp[32]);\n",
    "            if (!have && f) __threadfence();\n",
    "            u32 d = 0u;\n",
    "            if (!f) {\n",
    "                if (ndr < (u32)defer && ndr < 2u) d = 1u;   // kept back (above; room for two)\n",
    "                else atomicOr(&rb[r >> 5], 1u << (u32)(r & 31u));   // patched in full by the fix\n",
    "            }\n",
    "            snapok[it & 1u] = f;\n",
    "            dfr[it & 1u] = d;\n",
    "            // rows after the first are handed out in order of demand: the blocks end together\n",
    "            nextrow[it & 1u] = gridDim.x + (u64)atomicAdd(&smp[16], 1u);\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < BNBQ_I8_NR; j++) {\n",
    "            u64 p = (u64)j * Tn + tid;\n",
    "            if (p < np) m2 = bnbq_i8_piece_max8(x[j], m2, p * 8, use_thr, k2, bm, bms);\n",
    "        }\n",
    "        for (u64 p = BNBQ_I8_NR * Tn + tid; p < np; p += Tn) {\n",
    "            bnbq_i8_vec<8> y;\n",
    "            y.load(a + p * 8);\n",
    "            m2 = bnbq_i8_piece_max8(y, m2, p * 8, use_thr, k2, bm, bms);\n",
    "        }\n",
    "        m2 = bnbq_i8_hmax2(m2, m2 >> 16);\n",
    "        m = bnbq_i8_block_max(bnbq_i8_h2f(m2 & 0xffffu), red);\n",
    "        s = bnbq_i8_row_scale<MODE>(m, stats, r);\n",
    "        const u32 snap = SMP ? snapok[it & 1u] : 0u;\n",
    "        const u32 dthis = SMP ? dfr[it & 1u] : 0u;\n",
    "        if (SMP) nxt = nextrow[it & 1u];\n",
    "        it++;\n",
    "        if (SMP && snap && !have) {   // first sight: copy it (uniform over the block)\n",
    "            bnbq_i8_take_snapshot(ssnap, smp, nwords);\n",
    "            have = 1;\n",
    "        }\n",
    "        if (SMP && !snap) bnbq_i8_sample_done(bm, nwords, smp, R0, bms);   // uniform\n",
    "        if (!(m > 0.0f && m <= 65504.0f)) {   // 0 or inf; uniform over the block\n",
    "            for (u64 p = tid; p < np; p += Tn) *(uint2*)(q + p * 8) = make_uint2(0u, 0u);\n",
    "            continue;   // (a deferred row of zeros is written now: it needs no patch)\n",
    "        }\n",
    "        if (SMP && dthis) {   // uniform: this row's codes wait in dsh (each thread its own pieces)\n",
    "            q = dsh + ndr * cols;\n",
    "            dr[ndr & 1u] = r;\n",
    "            ndr++;\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < BNBQ_I8_NR; j++) {\n",
    "            u64 p = (u64)j * Tn + tid;\n",
    "            if (p < np) {\n",
    "                if (snap) bnbq_i8_piece_quant8<MODE>(x[j], s, k2, q + p * 8, (ssnap[p >> 2] >> (8 * (p & 3))) & 0xffu);\n",
    "                else bnbq_i8_piece_quant8<MODE>(x[j], s, k2, q + p * 8);\n",
    "            }\n",
    "        }\n",
    "        for (u64 p = BNBQ_I8_NR * Tn + tid; p < np; p += Tn) {\n",
    "            bnbq_i8_vec<8> y;\n",
    "            y.load(a + p * 8);\n",
    "            if (snap) bnbq_i8_piece_quant8<MODE>(y, s, k2, q + p * 8, (ssnap[p >> 2] >> (8 * (p & 3))) & 0xffu);\n",
    "            else bnbq_i8_piece_quant8<MODE>(y, s, k2, q + p * 8);\n",
    "        }\n",
    "    }\n",
    "    if (SMP && ndr) {   // the deferred rows, after the block's last (uniform)\n",
    "        if (!have) {\n",
    "            if (threadIdx.x == 0) endflag = bnbq_i8_ld_volatile(&smp[32]);\n",
    "            __syncthreads();\n",
    "            if (endflag) {\n",
    "                __threadfence();\n",
    "                bnbq_i8_take_snapshot(ssnap, smp, nwords);\n",
    "                have = 1;\n",
    "            }\n",
    "        }\n",
    "        for (u32 k = 0; k < ndr; k++) {\n",
    "            i8* q = CA + dr[k] * cols;\n",
    "            const i8* ds = dsh + k * cols;\n",
    "            for (u64 p = tid; p < np; p += Tn) {   // the pieces this thread wrote into dsh\n",
    "                uint2 v = *(const uint2*)(ds + p * 8);\n",
    "                if (have) {\n",
    "                    u32 ml, mh;\n",
    "                    bnbq_i8_snap_mask((ssnap[p >> 2] >> (8 * (p & 3))) & 0xffu, &ml, &mh);\n",
    "                    v.x &= ~ml;\n",
    "                    v.y &= ~mh;\n",
    "                }\n",
    "                *(uint2*)(q + p * 8) = v;\n",
    "            }\n",
    "            if (!have && threadIdx.x == 0) atomicOr(&rb[dr[k] >> 5], 1u << (u32)(dr[k] & 31u));\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "#if BNBQ_I8_PART == 1\n",
    "// int8_vectorwise_quant, pass 1 of 2: row statistics, codes (outlier elements 0) and outlier bits.\n",
    "// The launcher picks: cols % 8 == 0, A 16-byte and CA 8-byte aligned: 8 elements a piece\n",
    "// (bnbq_k_int8_vw_rows for threshold 0, _thr for threshold > 0); else _any (either threshold).\n",
    "// (Each kernel is its own compilation unit: only the kernels a program uses are compiled.)\n",
    "// rel (the launcher: a grid of at most one block an SM, a few decoding steps): the kernel after it on the\n",
    "// stream (launched with bnbq__cu_launch_pdl, waiting in bnbq_pdl_wait) may start at once, its launch\n",
    "// hidden behind this one.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_rows(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                    u32* bm, int rel) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_rows)\n",
    "#line 558 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_vw_rows(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                    u32* bm, int rel) {\n",
    "    if (rel) bnbq_pdl_release();\n",
    "    bnbq_i8_rows8<0, 0, 0>(A, rows, cols, thr, CA, row_stats, bm);\n",
    "}\n",
    "#endif\n",
    "#line 564 \"int8.cu\"\n",
    "// bms: the stride of the bitmask's words in bm (the launcher: 8 where out_outlier_cols has room, so\n",
    "// that the rows' atomicOr spread over 8 times as many L2 sectors; else 1)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_rows_thr(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                        u32* bm, u64 bms, int rel) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_rows_thr)\n",
    "#line 566 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_vw_rows_thr(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                        u32* bm, u64 bms, int rel) {\n",
    "    if (rel) bnbq_pdl_release();\n",
    "    bnbq_i8_rows8<0, 1, 0>(A, rows, cols, thr, CA, row_stats, bm, 0, 0, 0, 0, bms);\n",
    "}\n",
    "#endif\n",
    "#line 572 \"int8.cu\"\n",
    "// _thr with the outlier-column snapshot (the launcher: rows >= R0; smp, rb as above; defer (0..2):\n",
    "// the dynamic shared memory also holds that many rows of codes after the snapshot's words rounded\n",
    "// up to even).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_rows_smp(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                        u32* bm, u32* smp, u32* rb, u64 R0, int defer, u64 bms) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_rows_smp)\n",
    "#line 575 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 4)\n",
    "bnbq_k_int8_vw_rows_smp(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                        u32* bm, u32* smp, u32* rb, u64 R0, int defer, u64 bms) {\n",
    "    bnbq_i8_rows8<0, 1, 1>(A, rows, cols, thr, CA, row_stats, bm, smp, rb, R0, defer, bms);\n",
    "}\n",
    "#endif\n",
    "#line 580 \"int8.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_rows_any(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                        u32* bm) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_rows_any)\n",
    "#line 580 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_vw_rows_any(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,\n",
    "                        u32* bm) {\n",
    "    bnbq_i8_rows<0, 1, -1>(A, rows, cols, thr, CA, row_stats, bm);\n",
    "}\n",
    "#endif\n",
    "#line 585 \"int8.cu\"\n",
    "#endif\n",
    "\n",
    "#if BNBQ_I8_PART == 4\n",
    "// SwitchBack quantize_rowwise: state f16 row absmax, q = rint(127 * (x * (1 / absmax))).\n",
    "// As bnbq_k_int8_vw_rows: _any where the shape or the pointers do not allow 8-element pieces.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_rows(const u16* X, u64 rows, u64 cols, i8* q, u16* state) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_rows)\n",
    "#line 590 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_rows(const u16* X, u64 rows, u64 cols, i8* q, u16* state) {\n",
    "    bnbq_i8_rows8<1, 0, 0>(X, rows, cols, 0.0f, q, state, 0);\n",
    "}\n",
    "#endif\n",
    "#line 594 \"int8.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_rows_any(const u16* X, u64 rows, u64 cols, i8* q, u16* state) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_rows_any)\n",
    "#line 594 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_rows_any(const u16* X, u64 rows, u64 cols, i8* q, u16* state) {\n",
    "    bnbq_i8_rows<1, 1, 0>(X, rows, cols, 0.0f, q, state, 0);\n",
    "}\n",
    "#endif\n",
    "#line 598 \"int8.cu\"\n",
    "#endif\n",
    "\n",
    "#if BNBQ_I8_PART == 1\n",
    "// int8_vectorwise_quant, pass 2 of 2 (threshold > 0). With zero_cols (rows > 1) the outlier columns\n",
    "// are zeroed (a warp per row, its lanes over the bitmask's words): every one in every row (SMP = 0,\n",
    "// after bnbq_k_int8_vw_rows_thr / _any), or (SMP = 1, after _rows_smp) every one in the rows marked\n",
    "// in rb and only those missing from the snapshot snap in the others (usually none: then the unmarked\n",
    "// rows are skipped). The block reads the bitmask (and snapshot, and its warps' first row bits) in\n",
    "// one round trip, into dynamic shared memory when the launcher gives room for it (fsm = 1: nwords\n",
    "// words, SMP twice that), else the zeroing reads them from global memory again. Then the compaction\n",
    "// of the bitmask: lim is the first word of cols_out that the blocks read (the bitmask, or the\n",
    "// snapshot's row bitmap); when the count fits below it, block 0 writes the sorted list and the count,\n",
    "// and no block waits for another; else the last block to finish compacts (bnbq_i8_outlier_tail).\n",
    "// Launched after the rows pass (bnbq__cu_launch_pdl). blockDim.x == 256. (It used to walk the\n",
    "// bitmask in chunks of 256 words with block scans, a count pass first, and read each row's bit on\n",
    "// its own: about six dependent L2 round trips, ~10 us at 4096x14336 on the H100.)\n",
    "// timing probes (wrong results): 1 the fix pass returns after its wait, 2 it zeroes nothing, 3 it\n",
    "// ignores the rows marked in rb\n",
    "#define BNBQ_I8_FIXPROBE 0\n",
    "template <int SMP>\n",
    "BNBQ_DEV void bnbq_i8_fix(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, const u32* bm,\n",
    "                          u64 nwords, const u32* snap, const u32* rb, int zero_cols, u64 lim, int fsm,\n",
    "                          u64 bms = 1) {\n",
    "    extern __shared__ u32 bnbq_i8_fixsh[];   // fsm: [0, nwords) the bitmask, [nwords, 2 nwords) SMP's missing columns\n",
    "    __shared__ u32 cnt[2];\n",
    "    const u32 lane = threadIdx.x & 31u;\n",
    "    const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5;\n",
    "    u64 r = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;\n",
    "    if (threadIdx.x == 0) cnt[0] = cnt[1] = 0u;\n",
    "    bnbq_pdl_wait();\n",
    "    if (BNBQ_I8_FIXPROBE == 1) return;\n",
    "    u32 rbw = SMP && zero_cols && r < rows && BNBQ_I8_FIXPROBE != 3 ? bnbq_i8_ld_cg(&rb[r >> 5]) : 0u;\n",
    "    u32 pn = 0u, pd = 0u;\n",
    "    __syncthreads();   // cnt\n",
    "    for (u64 w0 = 0; w0 < nwords; w0 += 4 * (u64)blockDim.x) {   // 4 words a thread in flight\n",
    "        u32 b[4], d[4];\n",
    "#pragma unroll\n",
    "        for (int k = 0; k < 4; k++) {\n",
    "            const u64 w = w0 + (u64)k * blockDim.x + threadIdx.x;\n",
    "            b[k] = w < nwords ? bnbq_i8_ld_cg(&bm[w * bms]) : 0u;\n",
    "            d[k] = SMP && w < nwords ? bnbq_i8_ld_cg(&snap[w]) : 0u;\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int k = 0; k < 4; k++) {\n",
    "            const u64 w = w0 + (u64)k * blockDim.x + threadIdx.x;\n",
    "            d[k] = b[k] & ~d[k];\n",
    "            pn += (u32)__popc(b[k]);\n",
    "            pd += SMP ? (u32)__popc(d[k]) : 0u;\n",
    "            if (fsm && w < nwords) {\n",
    "                bnbq_i8_fixsh[w] = b[k];\n",
    "                if (SMP) bnbq_i8_fixsh[nwords + w] = d[k];\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int o = 16; o > 0; o >>= 1) {\n",
    "        pn += __shfl_xor_sync(0xffffffffu, pn, o);\n",
    "        pd += __shfl_xor_sync(0xffffffffu, pd, o);\n",
    "    }\n",
    "    if (lane == 0) {\n",
    "        atomicAdd(&cnt[0], pn);\n",
    "        if (SMP) atomicAdd(&cnt[1], pd);\n",
    "    }\n",
    "    __syncthreads();\n",
    "    const u64 n = cnt[0], dn = cnt[1];\n",
    "    const int direct = n <= lim;\n",
    "    if (zero_cols && n && BNBQ_I8_FIXPROBE != 2)\n",
    "        for (; r < rows; r += nwarps) {\n",
    "            const int all = !SMP || ((rbw >> (u32)(r & 31u)) & 1u);\n",
    "            if (all || dn) {\n",
    "                i8* q = CA + r * cols;\n",
    "                for (u64 w = lane; w < nwords; w += 32) {\n",
    "                    u32 x;\n",
    "                    if (fsm) x = bnbq_i8_fixsh[(all ? 0 : nwords) + w];\n",
    "                    else {\n",
    "                        x = bnbq_i8_ld_cg(&bm[w * bms]);\n",
    "                        if (!all) x &= ~bnbq_i8_ld_cg(&snap[w]);\n",
    "                    }\n",
    "                    while (x) {\n",
    "                        const u32 bit = (u32)__ffs(x) - 1u;\n",
    "                        q[w * 32 + bit] = 0;\n",
    "                        x &= x - 1u;\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "            if (SMP && r + nwarps < rows) rbw = bnbq_i8_ld_cg(&rb[(r + nwarps) >> 5]);\n",
    "        }\n",
    "    if (!direct) bnbq_i8_outlier_tail(cols_out, n_out, bm, nwords, bms);\n",
    "    else if (blockIdx.x == 0) bnbq_i8_compact(cols_out, n_out, fsm ? bnbq_i8_fixsh : bm, nwords, fsm ? 1 : bms);\n",
    "}\n",
    "\n",
    "// rel: as bnbq_k_int8_vw_rows's\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_fix(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, u32* bm, u64 nwords,\n",
    "                   int zero_cols, u64 lim, int fsm, u64 bms, int rel) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_fix)\n",
    "#line 690 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_vw_fix(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, u32* bm, u64 nwords,\n",
    "                   int zero_cols, u64 lim, int fsm, u64 bms, int rel) {\n",
    "    if (rel) bnbq_pdl_release();\n",
    "    bnbq_i8_fix<0>(CA, rows, cols, cols_out, n_out, bm, nwords, 0, 0, zero_cols, lim, fsm, bms);\n",
    "}\n",
    "#endif\n",
    "#line 696 \"int8.cu\"\n",
    "// int8_vectorwise_quant with a threshold for ONE row (a decoding step; the launcher: 8-element pieces)\n",
    "// in one block and one launch: bnbq_k_int8_init's zeroes, bnbq_k_int8_vw_rows_thr's row pass, then\n",
    "// bnbq_k_int8_vw_fix's compaction (one row: no columns to zero), the same functions in the same block, so the\n",
    "// bytes are theirs. The three launches cost ~12.5 us (ncu: 2.5 + 5.8 + 4.2) at one token of a 4096-column layer\n",
    "// on the H100, mostly their latency. blockDim.x: 256, or up to 1024 for long rows (the launcher: at most\n",
    "// BNBQ_I8_NR pieces a thread, so that a row of 16384 to 65536 columns is read once, from registers; 256\n",
    "// threads read its pieces past the 8th twice). The bitmask (nwords words, dynamic shared memory: the\n",
    "// launcher takes this kernel only where they fit) lives in shared memory: the row pass's atomicOr on shared\n",
    "// memory, the compaction straight from it (two round trips to the L2 fewer than in the global bitmask). (It also\n",
    "// had the global-bitmask form for longer rows: half of its NVRTC time; such rows take the three launches.)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_one(const u16* A, u64 cols, float thr, i8* CA, float* row_stats, i32* cols_out, i32* n_out,\n",
    "                   u64 nwords) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_one)\n",
    "#line 706 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(1024)\n",
    "bnbq_k_int8_vw_one(const u16* A, u64 cols, float thr, i8* CA, float* row_stats, i32* cols_out, i32* n_out,\n",
    "                   u64 nwords) {\n",
    "    extern __shared__ u32 bnbq_i8_fixsh[];\n",
    "    bnbq_pdl_release();   // (one block: the kernel after it, bnbq_k_int8_gemv_dq, may start at once)\n",
    "    for (u64 w = threadIdx.x; w < nwords; w += blockDim.x) bnbq_i8_fixsh[w] = 0u;\n",
    "    __syncthreads();\n",
    "    bnbq_i8_rows8<0, 1, 0>(A, 1, cols, thr, CA, row_stats, bnbq_i8_fixsh, 0, 0, 0, 0, 1);\n",
    "    __syncthreads();\n",
    "    bnbq_i8_compact(cols_out, n_out, bnbq_i8_fixsh, nwords);\n",
    "}\n",
    "#endif\n",
    "#line 717 \"int8.cu\"\n",
    "\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_fix_smp(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, u32* bm, u64 nwords,\n",
    "                       const u32* snap, const u32* rb, u64 lim, int fsm, u64 bms) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_fix_smp)\n",
    "#line 718 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_vw_fix_smp(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, u32* bm, u64 nwords,\n",
    "                       const u32* snap, const u32* rb, u64 lim, int fsm, u64 bms) {\n",
    "    bnbq_i8_fix<1>(CA, rows, cols, cols_out, n_out, bm, nwords, snap, rb, 1, lim, fsm, bms);\n",
    "}\n",
    "#endif\n",
    "#line 723 \"int8.cu\"\n",
    "#endif\n",
    "\n",
    "\n",
    "// ---- int8_double_quant --------------------------------------------------------------------------\n",
    "\n",
    "#if BNBQ_I8_PART == 2\n",
    "// Pass 1 of 2: tiles of 32 rows x (256 * V) columns. Row and column maxima of the non-outliers\n",
    "// (atomicMax on the float bits: the values are >= 0 and not NaN; the arrays start at 0), outlier\n",
    "// bits. rs, cs: the float arrays as u32.\n",
    "template <int V>\n",
    "BNBQ_DEV void bnbq_i8_dq_stats(const u16* A, u64 rows, u64 cols, float thr, u32* rs, u32* cs,\n",
    "                               u32* bm) {\n",
    "    __shared__ float part[32][8];\n",
    "    const int use_thr = thr > 0.0f;\n",
    "    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;\n",
    "    const u64 np = cols / V, nct = (np + 255) / 256, nrt = (rows + 31) / 32;\n",
    "    for (u64 t = blockIdx.x; t < nct * nrt; t += gridDim.x) {\n",
    "        const u64 tc = t % nct, tr = t / nct;\n",
    "        const u64 p = tc * 256 + threadIdx.x, c = p * V;\n",
    "        const int act = p < np;\n",
    "        float cm[V];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < V; i++) cm[i] = 0.0f;\n",
    "        for (int r0 = 0; r0 < 32; r0 += 8) {\n",
    "            bnbq_i8_vec<V> x[8];\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 8; j++) {\n",
    "                u64 r = tr * 32 + r0 + j;\n",
    "                if (act && r < rows) x[j].load(A + r * cols + c);\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 8; j++) {\n",
    "                u64 r = tr * 32 + r0 + j;\n",
    "                float rm = 0.0f;\n",
    "                if (act && r < rows) {\n",
    "                    u32 om = 0u;\n",
    "#pragma unroll\n",
    "                    for (int i = 0; i < V; i++) {\n",
    "                        float v = bnbq_i8_h2f(x[j].get(i) & 0x7fffu);\n",
    "                        int o = use_thr && v >= thr;\n",
    "                        om |= (u32)o << i;\n",
    "                        cm[i] = o ? cm[i] : bnbq_i8_max(cm[i], v);\n",
    "                        rm = o ? rm : bnbq_i8_max(rm, v);\n",
    "                    }\n",
    "                    if (om) atomicOr(&bm[c >> 5], om << (u32)(c & 31u));\n",
    "                }\n",
    "                rm = bnbq_i8_warp_max(rm);\n",
    "                if (lane == 0) part[r0 + j][warp] = rm;\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "        if (threadIdx.x < 32) {\n",
    "            u64 r = tr * 32 + threadIdx.x;\n",
    "            float m = 0.0f;\n",
    "            for (int w = 0; w < 8; w++) m = bnbq_i8_max(m, part[threadIdx.x][w]);\n",
    "            if (r < rows && m > 0.0f) atomicMax(&rs[r], __float_as_uint(m));\n",
    "        }\n",
    "        if (act) {\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < V; i++)\n",
    "                if (cm[i] > 0.0f) atomicMax(&cs[c + (u64)i], __float_as_uint(cm[i]));\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "\n",
    "// blockDim.x == 256. The launcher picks: cols % 8 == 0 and A 16-byte aligned: 8 elements a\n",
    "// piece; else _any.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_stats(const u16* A, u64 rows, u64 cols, float thr, float* row_stats,\n",
    "                     float* col_stats, u32* bm) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_dq_stats)\n",
    "#line 791 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_dq_stats(const u16* A, u64 rows, u64 cols, float thr, float* row_stats,\n",
    "                     float* col_stats, u32* bm) {\n",
    "    bnbq_i8_dq_stats<8>(A, rows, cols, thr, (u32*)row_stats, (u32*)col_stats, bm);\n",
    "}\n",
    "#endif\n",
    "#line 796 \"int8.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_stats_any(const u16* A, u64 rows, u64 cols, float thr, float* row_stats,\n",
    "                         float* col_stats, u32* bm) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_dq_stats_any)\n",
    "#line 796 \"int8.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_dq_stats_any(const u16* A, u64 rows, u64 cols, float thr, float* row_stats,\n",
    "                         float* col_stats, u32* bm) {\n",
    "    bnbq_i8_dq_stats<1>(A, rows, cols, thr, (u32*)row_stats, (u32*)col_stats, bm);\n",
    "}\n",
    "#endif\n",
    "#line 801 \"int8.cu\"\n",
    "\n",
    "// Pass 2 of 2: one block per row (grid-stride): CA (outlier elements 0, and whole outlier columns\n",
    "// when zero_cols) and CAt, then (use_thr) the outlier compaction. THR as bnbq_i8_rows.\n",
    "template <int V, int THR>\n",
    "BNBQ_DEV void bnbq_i8_dq_quant(const u16* A, u64 rows, u64 cols, float thr, i8* CA, i8* CAt,\n",
    "                               const float* row_stats, const float* col_stats, const u32* bm,\n",
    "                               int zero_cols) {\n",
    "    const int use_thr = THR < 0 ? thr > 0.0f : THR > 0;\n",
    "    const u32 zmask = zero_cols ? 0xffffffffu : 0u;   // a mask, not a branch: one loop body\n",
    "    const u64 np = cols / V;\n",
    "    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {\n",
    "        const u16* a = A + r * cols;\n",
    "        const float s = 127.0f * (1.0f / row_stats[r]);\n",
    "        for (u64 p = threadIdx.x; p < np; p += blockDim.x) {\n",
    "            const u64 c = p * V;\n",
    "            bnbq_i8_vec<V> x;\n",
    "            int q[V], qt[V];\n",
    "            u32 word = use_thr ? bm[c >> 5] & zmask : 0u;   // V == 8: c % 8 == 0, one word\n",
    "            x.load(a + c);\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < V; i++) {\n",
    "                float v = bnbq_i8_h2f(x.get(i));\n",
    "                int outl = use_thr && bnbq_absf(v) >= thr;\n",
    "                float vm = outl ? 0.0f : v;\n",
    "                float h = bnbq_round_to(BNBQ_F16, vm * 127.0f);\n",
    "                float y = h / col_stats[c + (u64)i];\n",
    "                if (y > 127.0f) y = 127.0f;\n",
    "                if (y < -127.0f) y = -127.0f;\n",
    "                qt[i] = bnbq_i8_rint(y);\n",
    "                q[i] = outl ? 0 : bnbq_i8_rint(v * s);\n",
    "                if ((word >> (u32)((c + (u64)i) & 31u)) & 1u) q[i] = 0;   // zero_cols\n",
    "            }\n",
    "            bnbq_i8_store<V>(CA + r * cols + c, q);\n",
    "            bnbq_i8_store<V>(CAt + r * cols + c, qt);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "// The launcher picks: cols % 8 == 0, A 16-byte and CA, CAt 8-byte aligned: 8 elements a piece\n",
    "// (bnbq_k_int8_dq_quant for threshold 0, _thr for threshold > 0); else _any (either threshold).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_quant(const u16* A, u64 rows, u64 cols, float thr, i8* CA,\n",
    "                                                i8* CAt, const float* row_stats,\n",
    "                                                const float* col_stats, u32* bm, u64 nwords,\n",
    "                                                i32* cols_out, i32* n_out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_dq_quant)\n",
    "#line 841 \"int8.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_quant(const u16* A, u64 rows, u64 cols, float thr, i8* CA,\n",
    "                                                i8* CAt, const float* row_stats,\n",
    "                                                const float* col_stats, u32* bm, u64 nwords,\n",
    "                                                i32* cols_out, i32* n_out) {\n",
    "    bnbq_i8_dq_quant<8, 0>(A, rows, cols, thr, CA, CAt, row_stats, col_stats, bm, rows > 1);\n",
    "}\n",
    "#endif\n",
    "#line 847 \"int8.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_quant_thr(const u16* A, u64 rows, u64 cols, float thr,\n",
    "                                                    i8* CA, i8* CAt, const float* row_stats,\n",
    "                                                    const float* col_stats, u32* bm, u64 nwords,\n",
    "                                                    i32* cols_out, i32* n_out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_dq_quant_thr)\n",
    "#line 847 \"int8.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_quant_thr(const u16* A, u64 rows, u64 cols, float thr,\n",
    "                                                    i8* CA, i8* CAt, const float* row_stats,\n",
    "                                                    const float* col_stats, u32* bm, u64 nwords,\n",
    "                                                    i32* cols_out, i32* n_out) {\n",
    "    bnbq_i8_dq_quant<8, 1>(A, rows, cols, thr, CA, CAt, row_stats, col_stats, bm, rows > 1);\n",
    "    bnbq_i8_outlier_tail(cols_out, n_out, bm, nwords);\n",
    "}\n",
    "#endif\n",
    "#line 854 \"int8.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_quant_any(const u16* A, u64 rows, u64 cols, float thr,\n",
    "                                                    i8* CA, i8* CAt, const float* row_stats,\n",
    "                                                    const float* col_stats, u32* bm, u64 nwords,\n",
    "                                                    i32* cols_out, i32* n_out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_dq_quant_any)\n",
    "#line 854 \"int8.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_quant_any(const u16* A, u64 rows, u64 cols, float thr,\n",
    "                                                    i8* CA, i8* CAt, const float* row_stats,\n",
    "                                                    const float* col_stats, u32* bm, u64 nwords,\n",
    "                                                    i32* cols_out, i32* n_out) {\n",
    "    bnbq_i8_dq_quant<1, -1>(A, rows, cols, thr, CA, CAt, row_stats, col_stats, bm, rows > 1);\n",
    "    if (thr > 0.0f) bnbq_i8_outlier_tail(cols_out, n_out, bm, nwords);\n",
    "}\n",
    "#endif\n",
    "#line 861 \"int8.cu\"\n",
    "#endif\n",
    "\n",
    "#if BNBQ_I8_PART == 3\n",
    "// ---- int8_vectorwise_dequant: out = f32(f32((float)CA * row_stats[r]) * f32(1/127)) -----------\n",
    "// vec 16: cols % 16 == 0, CA and out 16-byte aligned; vec 4: cols % 4 == 0, CA 4-, out 16-byte\n",
    "// aligned; vec 1: any.\n",
    "template <int V>\n",
    "BNBQ_DEV void bnbq_i8_vw_dequant(const i8* CA, const float* stats, u64 rows, u64 cols, float* out) {\n",
    "    const u64 np = cols / V;\n",
    "    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {\n",
    "        const float s = stats[r];\n",
    "        const i8* q = CA + r * cols;\n",
    "        float* o = out + r * cols;\n",
    "        for (u64 p = threadIdx.x; p < np; p += blockDim.x) {\n",
    "            int b[V];\n",
    "            float f[V];\n",
    "            if (V == 16) {\n",
    "                uint4 t = __ldg((const uint4*)(q + p * V));\n",
    "                u32 w[4] = { t.x, t.y, t.z, t.w };\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < V; i++) b[i] = (int)(i8)(w[i >> 2] >> ((i & 3) * 8));\n",
    "            } else if (V == 4) {\n",
    "                u32 w = __ldg((const u32*)(q + p * V));\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < V; i++) b[i] = (int)(i8)(w >> ((i & 3) * 8));\n",
    "            } else {\n",
    "                b[0] = q[p];\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < V; i++) {\n",
    "                float v = (float)b[i] * s;\n",
    "                f[i] = v * 0.00787401572f;\n",
    "            }\n",
    "            if (V == 1) {\n",
    "                o[p] = f[0];\n",
    "            } else {\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < V; i += 4)\n",
    "                    *(float4*)(o + p * V + i) = make_float4(f[i], f[i + 1], f[i + 2], f[i + 3]);\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_dequant(const i8* CA, const float* stats, u64 rows,\n",
    "                                                  u64 cols, float* out, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_vw_dequant)\n",
    "#line 905 \"int8.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_int8_vw_dequant(const i8* CA, const float* stats, u64 rows,\n",
    "                                                  u64 cols, float* out, int vec) {\n",
    "    if (vec == 16) bnbq_i8_vw_dequant<16>(CA, stats, rows, cols, out);\n",
    "    else if (vec == 4) bnbq_i8_vw_dequant<4>(CA, stats, rows, cols, out);\n",
    "    else bnbq_i8_vw_dequant<1>(CA, stats, rows, cols, out);\n",
    "}\n",
    "#endif\n",
    "#line 911 \"int8.cu\"\n",
    "\n",
    "// ---- int8_mm_dequant ------------------------------------------------------------------------------\n",
    "// out = dt(f16(fmaf(f32(f32((float)A * rs[m]) * cs[n]), 6.200012e-05f, bias_f16_or_0))), a non-F16\n",
    "// bias added to the f16 value afterwards (one more f16 rounding): prelude.cuh bnbq_i8_mmdq, here as the\n",
    "// f16 bits (prelude.cuh bnbq_i8_mmdq_h / _out) and the output dtype a template constant (the run-time\n",
    "// dtype switches, software widenings and repeated NaN checks of the per-element form made it ALU-bound:\n",
    "// 53.6 us at 4096 x 4096 on the H100, 60 % of the bytes' copy time).\n",
    "// vec 4: N % 4 == 0, A 16-byte aligned, out aligned to 4 elements. Rows over blockIdx.x, each\n",
    "// row's pieces over the gridDim.y blocks of its column (the launcher gives few rows several blocks\n",
    "// each: a decoding step's one row in one block took 9-23 us on the H100, its loads in series).\n",
    "template <int V, int DT>\n",
    "BNBQ_DEV void bnbq_i8_mm_dequant(const i32* A, const float* rs, const float* cs, u64 M, u64 N,\n",
    "                                 void* out, int bias_dt, const void* bias) {\n",
    "    const u64 np = N / V, step = (u64)gridDim.y * blockDim.x;\n",
    "    for (u64 m = blockIdx.x; m < M; m += gridDim.x) {\n",
    "        const float r = rs[m];\n",
    "        for (u64 p = (u64)blockIdx.y * blockDim.x + threadIdx.x; p < np; p += step) {\n",
    "            const u64 n = p * V, i = m * N + n;\n",
    "            if (V == 4) {\n",
    "                const int4 t = *(const int4*)(A + i);\n",
    "                const u32 e0 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.x, r, cs[n], bias_dt, bias, n));\n",
    "                const u32 e1 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.y, r, cs[n + 1], bias_dt, bias, n + 1));\n",
    "                const u32 e2 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.z, r, cs[n + 2], bias_dt, bias, n + 2));\n",
    "                const u32 e3 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.w, r, cs[n + 3], bias_dt, bias, n + 3));\n",
    "                if (DT == BNBQ_F32) *(uint4*)((float*)out + i) = make_uint4(e0, e1, e2, e3);\n",
    "                else *(uint2*)((u16*)out + i) = make_uint2(e0 | (e1 << 16), e2 | (e3 << 16));\n",
    "            } else {\n",
    "                const u32 e = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(A[i], r, cs[n], bias_dt, bias, n));\n",
    "                if (DT == BNBQ_F32) ((u32*)out)[i] = e;\n",
    "                else ((u16*)out)[i] = (u16)e;\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "// launched with bnbq__cu_launch_pdl (the int8 GEMM before it): waits for it first\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_mm_dequant(const i32* A, const float* rs, const float* cs,\n",
    "                                                  u64 M, u64 N, void* out, int dt, int bias_dt,\n",
    "                                                  const void* bias, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_mm_dequant)\n",
    "#line 947 \"int8.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_int8_mm_dequant(const i32* A, const float* rs, const float* cs,\n",
    "                                                  u64 M, u64 N, void* out, int dt, int bias_dt,\n",
    "                                                  const void* bias, int vec) {\n",
    "    bnbq_pdl_wait();\n",
    "    if (vec == 4) {\n",
    "        if (dt == BNBQ_F16) bnbq_i8_mm_dequant<4, BNBQ_F16>(A, rs, cs, M, N, out, bias_dt, bias);\n",
    "        else if (dt == BNBQ_BF16) bnbq_i8_mm_dequant<4, BNBQ_BF16>(A, rs, cs, M, N, out, bias_dt, bias);\n",
    "        else bnbq_i8_mm_dequant<4, BNBQ_F32>(A, rs, cs, M, N, out, bias_dt, bias);\n",
    "    } else {\n",
    "        if (dt == BNBQ_F16) bnbq_i8_mm_dequant<1, BNBQ_F16>(A, rs, cs, M, N, out, bias_dt, bias);\n",
    "        else if (dt == BNBQ_BF16) bnbq_i8_mm_dequant<1, BNBQ_BF16>(A, rs, cs, M, N, out, bias_dt, bias);\n",
    "        else bnbq_i8_mm_dequant<1, BNBQ_F32>(A, rs, cs, M, N, out, bias_dt, bias);\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 961 \"int8.cu\"\n",
    "#endif\n",
    0
};
static const char* const bnbq__cu_kernels_int8[] = {
    "bnbq_k_int8_init",
    "bnbq_k_int8_vw_rows",
    "bnbq_k_int8_vw_rows_thr",
    "bnbq_k_int8_vw_rows_smp",
    "bnbq_k_int8_vw_rows_any",
    "bnbq_k_sb_rows",
    "bnbq_k_sb_rows_any",
    "bnbq_k_int8_vw_fix",
    "bnbq_k_int8_vw_one",
    "bnbq_k_int8_vw_fix_smp",
    "bnbq_k_int8_dq_stats",
    "bnbq_k_int8_dq_stats_any",
    "bnbq_k_int8_dq_quant",
    "bnbq_k_int8_dq_quant_thr",
    "bnbq_k_int8_dq_quant_any",
    "bnbq_k_int8_vw_dequant",
    "bnbq_k_int8_mm_dequant",
    0
};
static const char* const bnbq__cu_src_int8mm[] = {
    "#line 1 \"int8mm.cu\"\n",
    "// int8 GEMMs: out (M, N) from A (M, K) int8 and B (N, K) int8, both row-major along K, exact int32\n",
    "// accumulation with wrap-around (__dp4a), any K (the tail is zero-padded in shared memory).\n",
    "//   bnbq_k_int8_matmul:  int32 out (bnbq_int8_linear_matmul)\n",
    "//   bnbq_k_sb_matmul:    SwitchBack epilogue (int8_matmul_rowwise_dequantize / _mixed_dequantize):\n",
    "//       f = f32(acc) * f32(1/127^2); g = sx[m] * f; c = w * g; h = f16(c); + bias in f16\n",
    "// Tiles of 64 x 64 outputs, 32 bytes of K per step, 256 threads with 4 x 4 outputs each.\n",
    "\n",
    "#define BNBQ_MM_BM 64\n",
    "#define BNBQ_MM_BN 64\n",
    "#define BNBQ_MM_BK 32      // bytes of K per step: 8 words\n",
    "\n",
    "// vec: K % 16 == 0 and A, B 16-byte aligned (16-byte loads); else byte loads.\n",
    "BNBQ_DEV void bnbq_mm_tile(const i8* A, const i8* B, u64 M, u64 N, u64 K, u64 m0, u64 n0, int vec,\n",
    "                           int acc[4][4]) {\n",
    "    __shared__ __align__(16) int As[BNBQ_MM_BK / 4][BNBQ_MM_BM];   // [k word][m]\n",
    "    __shared__ __align__(16) int Bs[BNBQ_MM_BK / 4][BNBQ_MM_BN];   // [k word][n]\n",
    "    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < 4; j++) acc[i][j] = 0;\n",
    "    for (u64 k0 = 0; k0 < K; k0 += BNBQ_MM_BK) {\n",
    "        if (vec) {\n",
    "            // threads 0..127 load the A tile, 128..255 the B tile: 64 rows x 2 vectors of 16 bytes\n",
    "            const int v = tid & 127, row = v >> 1, kk = (v & 1) * 16;\n",
    "            const int isA = tid < 128;\n",
    "            const i8* src = isA ? A : B;\n",
    "            const u64 g = (isA ? m0 : n0) + (u64)row, R = isA ? M : N;\n",
    "            uint4 d = make_uint4(0u, 0u, 0u, 0u);\n",
    "            if (g < R && k0 + (u64)kk < K) d = __ldg((const uint4*)(src + g * K + k0 + (u64)kk));\n",
    "            int (*S)[BNBQ_MM_BM] = isA ? As : Bs;\n",
    "            S[kk / 4 + 0][row] = (int)d.x;\n",
    "            S[kk / 4 + 1][row] = (int)d.y;\n",
    "            S[kk / 4 + 2][row] = (int)d.z;\n",
    "            S[kk / 4 + 3][row] = (int)d.w;\n",
    "        } else {\n",
    "            // 512 words per tile: each thread builds two words of A and two of B from bytes\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < 2; h++) {\n",
    "                const int wv = tid * 2 + h, row = wv >> 3, kw = wv & 7;\n",
    "                const u64 gm = m0 + (u64)row, gn = n0 + (u64)row;\n",
    "                u32 wa = 0u, wb = 0u;\n",
    "#pragma unroll\n",
    "                for (int b = 0; b < 4; b++) {\n",
    "                    const u64 k = k0 + (u64)(kw * 4 + b);\n",
    "                    if (k < K) {\n",
    "                        if (gm < M) wa |= (u32)(u8)A[gm * K + k] << (8 * b);\n",
    "                        if (gn < N) wb |= (u32)(u8)B[gn * K + k] << (8 * b);\n",
    "                    }\n",
    "                }\n",
    "                As[kw][row] = (int)wa;\n",
    "                Bs[kw][row] = (int)wb;\n",
    "            }        }\n",
    "        __syncthreads();\n",
    "#pragma unroll\n",
    "        for (int kw = 0; kw < BNBQ_MM_BK / 4; kw++) {\n",
    "            const int4 a = *(const int4*)&As[kw][ty * 4];\n",
    "            const int4 b = *(const int4*)&Bs[kw][tx * 4];\n",
    "            const int av[4] = { a.x, a.y, a.z, a.w }, bv[4] = { b.x, b.y, b.z, b.w };\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < 4; j++) acc[i][j] = __dp4a(av[i], bv[j], acc[i][j]);\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "\n",
    "// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile. blockDim.x == 256.\n",
    "// vec_out: N % 4 == 0 and out 16-byte aligned.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_matmul(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, int vec, int vec_out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_matmul)\n",
    "#line 71 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_matmul(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, int vec, int vec_out) {\n",
    "    const u64 mtiles = (M + BNBQ_MM_BM - 1) / BNBQ_MM_BM;\n",
    "    const u64 n0 = (u64)blockIdx.x * BNBQ_MM_BN;\n",
    "    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * BNBQ_MM_BM;\n",
    "        int acc[4][4];\n",
    "        bnbq_mm_tile(A, B, M, N, K, m0, n0, vec, acc);\n",
    "        const u64 n = n0 + (u64)tx * 4;\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            const u64 m = m0 + (u64)ty * 4 + (u64)i;\n",
    "            if (m >= M) break;\n",
    "            if (vec_out && n + 3 < N) {\n",
    "                *(int4*)(out + m * N + n) = make_int4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);\n",
    "            } else {\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < 4; j++)\n",
    "                    if (n + (u64)j < N) out[m * N + n + (u64)j] = acc[i][j];\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 95 \"int8mm.cu\"\n",
    "\n",
    "// A value hidden from the optimizer (so that it does not specialise code on it)\n",
    "BNBQ_DEV u64 bnbq_mm_opaque(u64 v) {\n",
    "    u64 r;\n",
    "    asm(\"mov.b64 %0, %1;\" : \"=l\"(r) : \"l\"(v));\n",
    "    return r;\n",
    "}\n",
    "\n",
    "\n",
    "// SwitchBack epilogue. sw_global: state_w has one element. bias: (N,) f16 or NULL.\n",
    "template <int VEC>\n",
    "BNBQ_DEV void bnbq_sb_matmul(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global,\n",
    "                             u64 M, u64 N, u64 K, u16* out, const u16* bias) {\n",
    "    const int vec = VEC;\n",
    "    // masks computed once: sw[n & swmask]; with a bias bp = bias, the result h + bias; without,\n",
    "    // bp[0] = sx[0] is read and not used. Opaque to the optimizer (asm), so that it keeps one\n",
    "    // copy of the epilogue instead of one per case.\n",
    "    const u64 swmask = bnbq_mm_opaque(sw_global ? 0 : ~(u64)0);\n",
    "    const u64 bnmask = bnbq_mm_opaque(bias ? ~(u64)0 : 0);\n",
    "    const u16* bp = bias ? bias : sx;\n",
    "    const u32 bhmask = (u32)bnmask & 0xffffu;\n",
    "    const u64 mtiles = (M + BNBQ_MM_BM - 1) / BNBQ_MM_BM;\n",
    "    const u64 n0 = (u64)blockIdx.x * BNBQ_MM_BN;\n",
    "    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * BNBQ_MM_BM;\n",
    "        int acc[4][4];\n",
    "        bnbq_mm_tile(A, B, M, N, K, m0, n0, vec, acc);\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            const u64 m = m0 + (u64)ty * 4 + (u64)i;\n",
    "            if (m >= M) break;\n",
    "            const float x = bnbq_h2f_arith(sx[m]);\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) {\n",
    "                const u64 n = n0 + (u64)tx * 4 + (u64)j;\n",
    "                if (n < N) {\n",
    "                    // as h = bnbq_round_to(F16, c); h = bnbq_round_to(F16, h + bias); f16(h).\n",
    "                    // sw_global and bias by selects, not branches (one copy of this code).\n",
    "                    const u32 h = bnbq_sb_scale(acc[i][j], x, bnbq_h2f_arith(sw[n & swmask]));\n",
    "                    const float hs = bnbq_h2f_arith((u16)h) + bnbq_h2f_arith(bp[n & bnmask]);\n",
    "                    const u32 hb = bnbq_f16_canon(hs);\n",
    "                    out[m * N + n] = (u16)(h ^ ((h ^ hb) & bhmask));\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "// The launcher picks: K % 16 == 0 and A, B 16-byte aligned: 16-byte loads; else _any (bytes).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_matmul(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M,\n",
    "                 u64 N, u64 K, u16* out, const u16* bias) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_matmul)\n",
    "#line 144 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_matmul(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M,\n",
    "                 u64 N, u64 K, u16* out, const u16* bias) {\n",
    "    bnbq_sb_matmul<1>(A, B, sx, sw, sw_global, M, N, K, out, bias);\n",
    "}\n",
    "#endif\n",
    "#line 149 \"int8mm.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_matmul_any(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M,\n",
    "                     u64 N, u64 K, u16* out, const u16* bias) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_matmul_any)\n",
    "#line 149 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_matmul_any(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M,\n",
    "                     u64 N, u64 K, u16* out, const u16* bias) {\n",
    "    bnbq_sb_matmul<0>(A, B, sx, sw, sw_global, M, N, K, out, bias);\n",
    "}\n",
    "#endif\n",
    "#line 154 \"int8mm.cu\"\n",
    "\n",
    "// ---- bnbq_k_int8_gemv: int32 out for a few rows of A (M <= BNBQ__CU_MM_GV_M; the launcher) -------\n",
    "// A decoding step multiplies one or a few tokens by the weight: the 64 x 64 tiles above then read\n",
    "// each tile of B in 32-byte steps with a barrier each and use M / 64 of their outputs. Here a warp\n",
    "// takes a row n of B and a group of up to BNBQ_MM_GV_M rows of A at a time; its lanes read 16 bytes\n",
    "// of the row each, BNBQ_MM_GV_U loads at once (a 4096-byte row in one round trip), with the same 16\n",
    "// bytes of each of the group's rows of A (from the L1: A is small and every warp reads it); __dp4a\n",
    "// into one int32 sum per row of A and lane, then the warp's sums by shuffles. With more than\n",
    "// BNBQ_MM_GV_M rows of A (at most twice that) the two groups of a row n go to two consecutive warps\n",
    "// (of one block, at the same time), so that B is read from DRAM once. Integer sums (wrapping mod 2^32) do not\n",
    "// depend on their order: the result is the tile kernel's and the CPU's, bit for bit. K % 16 == 0,\n",
    "// A and B 16-byte aligned.\n",
    "// SB = 1 (bnbq_k_sb_gemv): the SwitchBack epilogue of bnbq_sb_matmul on each sum instead of the int32.\n",
    "#define BNBQ_MM_GV_M 8\n",
    "#define BNBQ_MM_GV_U 8\n",
    "// bnbq_k_int8_gemv_dq (one row of A) takes BNBQ_MM_GVDQ_U loads at once: 4 measured 1-5 % faster than 8 for\n",
    "// Linear8bitLt at one token on the H100 (bench/results/gpu-20261124-h100-session29-int8-gemv-dq.txt)\n",
    "#ifndef BNBQ_MM_GVDQ_U\n",
    "#define BNBQ_MM_GVDQ_U 4\n",
    "#endif\n",
    "// A few-rows kernel's output (m, n) of the int32 sum: the int32 itself (SB = 0) or, as bnbq_sb_matmul,\n",
    "// SwitchBack's f16 of it (+ bias). Shared by bnbq_mm_gemv and bnbq_mm_tc.\n",
    "template <int SB>\n",
    "BNBQ_DEV void bnbq_mm_few_out(u32 sum, u64 m, u64 n, u64 N, i32* out, const u16* sx, const u16* sw,\n",
    "                              int sw_global, u16* out16, const u16* bias) {\n",
    "    const u64 e = m * N + n;\n",
    "    if (!SB) {\n",
    "        out[e] = (i32)sum;\n",
    "    } else {\n",
    "        u32 h = bnbq_sb_scale((i32)sum, bnbq_h2f_arith(sx[m]), bnbq_h2f_arith(sw[sw_global ? 0 : n]));\n",
    "        if (bias) h = bnbq_f16_canon(bnbq_h2f_arith((u16)h) + bnbq_h2f_arith(bias[n]));\n",
    "        out16[e] = (u16)h;\n",
    "    }\n",
    "}\n",
    "// SB = 2 (bnbq_k_int8_gemv_dq: bnbq_int8_mixed_scaled_mm for one row of A, a decoding step): LLM.int8's\n",
    "// mm_dequant of each sum to dt (+ bias), then, with outlier columns, the outlier product of bnbq_k_outlier_mm\n",
    "// added: out = dt(f32(out) + S), S the float32 sum in j order of f32(X[m, c_j] * w[n, j]), w[n, j] =\n",
    "// dt(f32(f32(B[n, c_j] * cs[n]) * (1/127))). The warp that summed row n of B reads its outlier bytes again\n",
    "// (from the L1 / L2: it has just streamed the row), lane j % 32 makes product j, and the warp adds them in\n",
    "// j order through shuffles (every lane the same sum), added to the dequantized value as dt holds it: the\n",
    "// bytes of bnbq_k_int8_mm_dequant then bnbq_k_outlier_mm, bit for bit (a bad column: skipped, *err = 1;\n",
    "// *num_cols clamped to [0, K]).\n",
    "// bnbq_i8_outlier_w(dt, q, scb) as an operand of arithmetic: the hardware's RNE narrowings (bnbq_f16_canon /\n",
    "// bnbq_bf16_canon: the same values; a NaN stays a NaN, which the product and the sum keep), selected without a branch\n",
    "// (less code in each of the four unrolled picks than bnbq_round_to's software roundings)\n",
    "BNBQ_DEV float bnbq_mm_outlier_w_hw(int dt, int q, float scb) {\n",
    "    const float w1 = bnbq_i8_outlier_w1(q, scb);\n",
    "    const float h = bnbq_h2f_arith(bnbq_f16_canon(w1)), b = bnbq_bf16_to_f32(bnbq_bf16_canon(w1));\n",
    "    return dt == BNBQ_F16 ? h : dt == BNBQ_BF16 ? b : w1;\n",
    "}\n",
    "#ifndef BNBQ_MM_DQ_WPX\n",
    "#define BNBQ_MM_DQ_WPX 1   // bnbq_k_int8_gemv_dq's one-row outlier sum through shared memory (0: the shuffles, for A/B)\n",
    "#endif\n",
    "struct bnbq_mm_dq {\n",
    "    const float* rs; const float* cs; void* out; const void* bias; const void* X; const i32* cols;\n",
    "    const i32* num_cols; u32* err; int dt; int bias_dt;\n",
    "    float* wpx;   // the warp's 64 floats of shared memory for a row's outlier products (bnbq_k_int8_gemv_dq: wp), or 0\n",
    "};\n",
    "// (Inline: out of line, __noinline__, NVRTC took 0.214 s instead of 0.275 here, but Linear8bitLt at one token\n",
    "// was 10-20 % slower on the H100, bench/results/gpu-20261123-h100-session22-int8-dq-noinline.txt.)\n",
    "// (pre: one row whose outlier sum, the same value, lane 0 has in pre_s: bnbq_k_int8_gemv_bro's picked products)\n",
    "BNBQ_DEV void bnbq_mm_dq_out(u32 mine, u32 lane, u64 rows, u64 m0, u64 n, u64 N, u64 K, const i8* B,\n",
    "                             const bnbq_mm_dq& d, bool pre = false, float pre_s = 0.0f, bool wp = false) {\n",
    "    const bool own = (u64)lane < rows;   // lane r keeps row m0 + r\n",
    "    const u64 e = (m0 + lane) * N + n;\n",
    "    const float h = own ? bnbq_i8_mmdq((int)mine, d.rs[m0 + lane], d.cs[n], d.bias_dt, d.bias, n) : 0.0f;\n",
    "    if (!d.cols) {\n",
    "        if (own) bnbq_store(d.dt, d.out, e, h);\n",
    "        return;\n",
    "    }\n",
    "    i32 nc = pre ? 0 : *d.num_cols;\n",
    "    bool bad = nc < 0 || (u64)nc > K;\n",
    "    if (bad) nc = nc < 0 ? 0 : (i32)K;\n",
    "    const float csn = d.cs[n];\n",
    "    float smine = pre_s;\n",
    "    if (BNBQ_MM_DQ_WPX && wp && !pre) {   // (wp: a constant of the caller, rows == 1 and d.wpx given)\n",
    "        // one row: the lanes' products (the same values, an invalid column's 0 included) into the warp's shared\n",
    "        // slots, 64 at a time, and lane 0 adds them in j order: the shuffles' sum, with fewer instructions. (wp a\n",
    "        // constant and the software rounding of the shuffle path: NVRTC time +8 % over the shuffles alone, where\n",
    "        // a runtime test of d.wpx and bnbq_mm_outlier_w_hw made it +85 %.)\n",
    "        float S = 0.0f;\n",
    "        for (i32 j0 = 0; j0 < nc; j0 += 64) {\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < 2; h++) {\n",
    "                const i32 j = j0 + 32 * h + (i32)lane;\n",
    "                float p = 0.0f;\n",
    "                if (j < nc) {\n",
    "                    const i32 c = d.cols[j];\n",
    "                    if (c >= 0 && (u64)c < K)\n",
    "                        p = bnbq_load(d.dt, d.X, m0 * K + (u64)c) * bnbq_i8_outlier_w(d.dt, B[n * K + (u64)c], csn);\n",
    "                    else\n",
    "                        bad = true;\n",
    "                }\n",
    "                d.wpx[32 * h + (i32)lane] = p;\n",
    "            }\n",
    "            __syncwarp();\n",
    "            if (lane == 0) {\n",
    "                const i32 cnt = nc - j0 < 64 ? nc - j0 : 64;\n",
    "                for (i32 t = 0; t < cnt; t++) S = S + d.wpx[t];\n",
    "            }\n",
    "            __syncwarp();\n",
    "        }\n",
    "        smine = S;\n",
    "        pre = true;   // (done: no shuffle loop)\n",
    "    }\n",
    "    for (u64 r = 0; r < rows && !pre; r++) {\n",
    "        float S = 0.0f;\n",
    "        for (i32 j0 = 0; j0 < nc; j0 += 32) {\n",
    "            const i32 j = j0 + (i32)lane;\n",
    "            float p = 0.0f;\n",
    "            if (j < nc) {\n",
    "                const i32 c = d.cols[j];\n",
    "                if (c >= 0 && (u64)c < K) {\n",
    "                    const float w = bnbq_i8_outlier_w(d.dt, B[n * K + (u64)c], csn);\n",
    "                    p = bnbq_load(d.dt, d.X, (m0 + r) * K + (u64)c) * w;\n",
    "                } else {\n",
    "                    bad = true;\n",
    "                }\n",
    "            }\n",
    "            const i32 cnt = nc - j0 < 32 ? nc - j0 : 32;\n",
    "            for (i32 t = 0; t < cnt; t++) S = S + __shfl_sync(0xffffffffu, p, t);\n",
    "        }\n",
    "        if ((u64)lane == r) smine = S;\n",
    "    }\n",
    "    if (bad) *d.err = 1u;   // (the lane that met it: bad is per lane)\n",
    "    // dt(h) as the unfused path stores it and reads it back: bnbq_round_to gives that value (a NaN's\n",
    "    // payload aside, which the store of the sum makes canonical either way)\n",
    "    if (own) bnbq_store(d.dt, d.out, e, bnbq_round_to(d.dt, h) + smine);\n",
    "}\n",
    "// SB = 2 on the tensor-core tiles (bnbq_k_int8_dq_mma): out (m, n) = dt of LLM.int8's mm_dequant of the\n",
    "// sum, as bnbq_k_int8_mm_dequant stores it, and with outlier columns (s: their sum, bnbq_mm_tc_outl) dt(that\n",
    "// value as dt holds it + s), as bnbq_k_outlier_mm_few then adds it. (The same\n",
    "// epilogue on the 128 x 128 tiles, bnbq_k_int8_dq_tc, out of line as bnbq_mt_sb_out2, made Linear8bitLt at\n",
    "// 512-4096 tokens 10-30 % slower than bnbq_k_int8_tc's int32 pairs + bnbq_k_int8_mm_dequant, bench/results/\n",
    "// gpu-20261123-h100-session22-int8-dq.txt: not kept.)\n",
    "BNBQ_DEV void bnbq_mm_dq_one(u32 sum, u64 m, u64 n, u64 N, const bnbq_mm_dq& d, float s) {\n",
    "    const float h = bnbq_i8_mmdq((int)sum, d.rs[m], d.cs[n], d.bias_dt, d.bias, n);\n",
    "    bnbq_store(d.dt, d.out, m * N + n, d.cols ? bnbq_round_to(d.dt, h) + s : h);\n",
    "}\n",
    "// The int32 dot product of 16 int8 bytes of A and of B (four __dp4a): bnbq_mm_gemv's and bnbq_k_int8_gemv_br's step\n",
    "BNBQ_DEV int bnbq_mm_dot16(uint4 a, uint4 b) {\n",
    "    int s = __dp4a((int)a.x, (int)b.x, 0);\n",
    "    s = __dp4a((int)a.y, (int)b.y, s);\n",
    "    s = __dp4a((int)a.z, (int)b.z, s);\n",
    "    return __dp4a((int)a.w, (int)b.w, s);\n",
    "}\n",
    "// MG: the most rows of A a group (BNBQ_MM_GV_M; 1 for bnbq_k_int8_gemv_dq, whose A is one row); U: the loads of\n",
    "// 16 bytes a lane has in flight. The groups stay BNBQ_MM_GV_M rows apart: MG < BNBQ_MM_GV_M needs M <= MG. (Groups of\n",
    "// MG rows, the general form, made ptxas take gemv_dq to 48 registers and a spill: its speed not measured, not taken.)\n",
    "template <int SB, int MG = BNBQ_MM_GV_M, int U = BNBQ_MM_GV_U>\n",
    "BNBQ_DEV void bnbq_mm_gemv(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, const u16* sx,\n",
    "                           const u16* sw, int sw_global, u16* out16, const u16* bias,\n",
    "                           const bnbq_mm_dq* dq = 0) {\n",
    "    const u32 lane = threadIdx.x & 31u;\n",
    "    const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5, K16 = K >> 4;\n",
    "    const u32 gs = M > BNBQ_MM_GV_M;   // 1: two groups (M <= 2 BNBQ_MM_GV_M, the launcher)\n",
    "    for (u64 wi = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; wi < (N << gs); wi += nwarps) {\n",
    "        const u64 n = wi >> gs, m0 = (wi & gs) * BNBQ_MM_GV_M, mc = M - m0;   // rows m0 .. m0 + min(mc, 8)\n",
    "        const uint4* b4 = (const uint4*)(B + n * K);\n",
    "        const uint4* a4 = (const uint4*)(A + m0 * K);\n",
    "        u32 acc[MG];\n",
    "#pragma unroll\n",
    "        for (int m = 0; m < MG; m++) acc[m] = 0u;\n",
    "        for (u64 c0 = 0; c0 < K16; c0 += 32u * U) {\n",
    "            uint4 b[U];\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < U; u++) {\n",
    "                const u64 c = c0 + (u64)u * 32u + lane;\n",
    "                b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0u, 0u, 0u, 0u);\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < U; u++) {\n",
    "                const u64 c = c0 + (u64)u * 32u + lane;\n",
    "                if (c >= K16) break;\n",
    "#pragma unroll\n",
    "                for (int m = 0; m < MG; m++) {\n",
    "                    if ((u64)m >= mc) break;\n",
    "                    acc[m] += (u32)bnbq_mm_dot16(__ldg(a4 + (u64)m * K16 + c), b[u]);\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "        u32 mine = 0u;   // lane m < min(mc, 8) keeps row m0 + m's sum\n",
    "#pragma unroll\n",
    "        for (int m = 0; m < MG; m++) {\n",
    "            if ((u64)m >= mc) break;\n",
    "#pragma unroll\n",
    "            for (int o = 16; o > 0; o >>= 1) acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], o);\n",
    "            if (lane == (u32)m) mine = acc[m];\n",
    "        }\n",
    "        if (SB == 2)\n",
    "            bnbq_mm_dq_out(mine, lane, mc < MG ? mc : MG, m0, n, N, K, B, *dq, false, 0.0f, MG == 1);\n",
    "        else if ((u64)lane < mc && lane < BNBQ_MM_GV_M)\n",
    "            bnbq_mm_few_out<SB>(mine, m0 + lane, n, N, out, sx, sw, sw_global, out16, bias);\n",
    "    }\n",
    "}\n",
    "// ---- bnbq_k_int8_mma / bnbq_k_sb_mma: the same for 2..16 rows of A on tensor cores (sm_80+) ------\n",
    "// With 9-16 rows the warp-a-row form above reads 16 rows of A from the L1 for every 16 bytes of B\n",
    "// (and misses it once A is larger than the L1: K = 14336 at 16 rows took 170 us on the H100, 5x\n",
    "// its one-row time). Here one mma.m16n8k32 (s8 x s8 + s32) multiplies the 16 rows of A by 8 rows of\n",
    "// B over 32 bytes of K. A block takes BNBQ_MM_TC_T * 8 rows of B and its BNBQ_MM_TC_W warps split K:\n",
    "// warp w takes the 64-byte steps w, w + W, ... of every row, lane (g, q) (g = lane / 4, q = lane % 4)\n",
    "// loading 16 bytes at byte 16 q of the step from A's rows g and g + 8 (zeros past M) and from the\n",
    "// block's B rows 8 t + g, and feeding bytes 0-7 to one mma and bytes 8-15 to a second: the mma's k\n",
    "// order permuted the same way for A and B, which an integer dot product does not see. The warps'\n",
    "// sums meet in shared memory. s32 accumulation wraps mod 2^32 like __dp4a (test_gpu checks it\n",
    "// past 2^31): the result is the CPU's bit for bit. K % 16 == 0, A and B 16-byte aligned.\n",
    "// Geometry measured on the H100 (Linear8bitLt forward at 16 tokens, bench/results/\n",
    "// gpu-20261123-h100-session19-int8-mma.txt): 16 rows of B and 16 warps a block; 32 rows and 8 warps\n",
    "// was 1.3-1.8x slower (half the blocks), 32 rows and 4 warps, or 64 rows, 2-3x; 8 rows or 32 warps\n",
    "// within 0-20 % of the choice. One row of A stays with bnbq_k_int8_gemv (this form was 4-20 % slower there).\n",
    "#ifndef BNBQ_MM_TC_T\n",
    "#define BNBQ_MM_TC_T 2    // n tiles of 8 rows of B a block (the launcher's BNBQ__CU_MM_TC_N / 8)\n",
    "#endif\n",
    "#ifndef BNBQ_MM_TC_W\n",
    "#define BNBQ_MM_TC_W 16   // warps a block, splitting K (the launcher's BNBQ__CU_MM_TC_W)\n",
    "#endif\n",
    "#define BNBQ_MM_TC_N (BNBQ_MM_TC_T * 8)\n",
    "BNBQ_DEV void bnbq_mm_mma16832(u32* c, uint4 lo, uint4 hi, u32 b0, u32 b1, int second) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    const u32 a0 = second ? lo.z : lo.x, a1 = second ? hi.z : hi.x;\n",
    "    const u32 a2 = second ? lo.w : lo.y, a3 = second ? hi.w : hi.y;\n",
    "    asm volatile(\"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, \"\n",
    "                 \"{%8, %9}, {%0, %1, %2, %3};\"\n",
    "                 : \"+r\"(c[0]), \"+r\"(c[1]), \"+r\"(c[2]), \"+r\"(c[3])\n",
    "                 : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n",
    "#else\n",
    "    (void)c; (void)lo; (void)hi; (void)b0; (void)b1; (void)second;\n",
    "    __trap();   // the launcher takes this kernel on sm_80+ only\n",
    "#endif\n",
    "}\n",
    "// bnbq_k_int8_dq_mma with outlier columns: the outlier product of bnbq_k_outlier_mm_few (prims.cu) for the\n",
    "// block's 16 x 16 outputs, the same staged values and sums in the same j order (byte-identical), in the\n",
    "// epilogue of the tile whose 16 rows of B the block has just streamed (their outlier bytes come from the\n",
    "// L1 / L2, not DRAM again) and with no launch of its own: 64 columns a step, thread t staging column t % 64\n",
    "// at rows t / 64 + 8 h (h < 2) of X and of the tile's w, thread t < 256 then adding its output's 64\n",
    "// products (m = t / 16, n = n0 + t % 16). The first step's loads are issued before the tile's K loop, each\n",
    "// next step's during the products of the step before. (The first step's X and B loads issued after the K\n",
    "// loop instead, cols[j] before it, made Linear8bitLt at 16 tokens 4096 x 14336 ~10 % slower on the H100,\n",
    "// bench/results/gpu-20261123-h100-session23-int8-few.txt.)\n",
    "#if BNBQ_MM_TC_N != 16 || BNBQ_MM_TC_W * 32 < 256 || (BNBQ_MM_TC_W * 32) % 64 != 0\n",
    "#error \"bnbq_mm_tc's outlier epilogue takes 16 x 16 output tiles and blocks of 256 threads or more\"\n",
    "#endif\n",
    "// bnbq_int8_mixed_scaled_mm's kernels (bnbq_k_int8_dq_mma, bnbq_k_int8_gemv_dq) are launched with\n",
    "// bnbq__cu_launch_pdl: they may start while the quantization before them still runs (it releases them, for a\n",
    "// few rows). Before they wait for it, the weight rows [n0, n0 + nr) of their first tile, which do not depend\n",
    "// on it, are prefetched into the L2 (prefetch.global.L2: a hint, never stale data), a 128-byte line each of\n",
    "// nt threads (t: this one's index); then bnbq_pdl_wait (immediate when launched the usual way).\n",
    "BNBQ_DEV void bnbq_mm_pdl_prefetch(const i8* B, u64 N, u64 K, u64 n0, u64 nr, u32 t, u32 nt) {\n",
    "    const u64 lpr = (K + 127) / 128, n1 = n0 + nr < N ? n0 + nr : N;\n",
    "    if (n0 < n1)\n",
    "        for (u64 l = t; l < (n1 - n0) * lpr; l += nt) {\n",
    "            const u64 r = n0 + l / lpr, o = (l % lpr) * 128;\n",
    "            bnbq_prefetch_l2(B + r * K + o);\n",
    "        }\n",
    "    bnbq_pdl_wait();\n",
    "}\n",
    "#define BNBQ_MM_OJ 64                                   // outlier columns a step\n",
    "#define BNBQ_MM_ORS (BNBQ_MM_TC_W * 32 / BNBQ_MM_OJ)    // staging rows of a pass (8)\n",
    "#define BNBQ_MM_OH (16 / BNBQ_MM_ORS)                   // staging rows a thread (2)\n",
    "struct bnbq_mm_oload { float a[BNBQ_MM_OH]; int q[BNBQ_MM_OH]; i32 c; bool ok; };\n",
    "struct bnbq_mm_ostage { float a[BNBQ_MM_OJ][17]; float w[BNBQ_MM_OJ][17]; };   // [j][m], [j][n]\n",
    "// this thread's column j (live: j < nc): c = cols[j], ok for a live column in [0, K) (a bad one sets bad)\n",
    "BNBQ_DEV void bnbq_mm_ocol(bnbq_mm_oload& L, i32 j, i32 nc, u64 K, const bnbq_mm_dq& d, u32& bad) {\n",
    "    const bool live = j < nc;\n",
    "    L.c = live ? d.cols[j] : 0;\n",
    "    L.ok = live && L.c >= 0 && (u64)L.c < K;\n",
    "    if (live && !L.ok) bad = 1u;\n",
    "}\n",
    "// then its loads: X[r, c] and B[n0 + r, c] at its staging rows r; 0 past M or N and where !ok\n",
    "BNBQ_DEV void bnbq_mm_oval(bnbq_mm_oload& L, u64 M, u64 N, u64 K, u64 n0, const i8* B, const bnbq_mm_dq& d) {\n",
    "    const u64 r0 = threadIdx.x / BNBQ_MM_OJ;\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < BNBQ_MM_OH; h++) {\n",
    "        const u64 r = r0 + (u64)(BNBQ_MM_ORS * h);\n",
    "        L.a[h] = L.ok && r < M ? bnbq_load(d.dt, d.X, r * K + (u64)L.c) : 0.0f;\n",
    "        L.q[h] = L.ok && n0 + r < N ? (int)B[(n0 + r) * K + (u64)L.c] : 0;\n",
    "    }\n",
    "}\n",
    "// the outlier sum of this thread's output (0 for threads past the tile's 256), every thread of the block\n",
    "// (uniform; its own barriers); L holds the first step's loads, scb the thread's staging rows' scales\n",
    "BNBQ_DEV float bnbq_mm_tc_outl(bnbq_mm_oload& L, const float (&scb)[BNBQ_MM_OH], i32 nc, u64 M, u64 N, u64 K,\n",
    "                               u64 n0, const i8* B, const bnbq_mm_dq& d, u32& bad, bnbq_mm_ostage& st) {\n",
    "    const u32 t = threadIdx.x, jj = t % BNBQ_MM_OJ, r0 = t / BNBQ_MM_OJ, tm = (t >> 4) & 15u, tn = t & 15u;\n",
    "    float s = 0.0f;\n",
    "    for (i32 j0 = 0; j0 < nc; j0 += BNBQ_MM_OJ) {\n",
    "#pragma unroll\n",
    "        for (int h = 0; h < BNBQ_MM_OH; h++) {\n",
    "            const u32 r = r0 + (u32)(BNBQ_MM_ORS * h);\n",
    "            st.a[jj][r] = L.a[h];\n",
    "            st.w[jj][r] = L.ok && n0 + r < N ? bnbq_i8_outlier_w(d.dt, L.q[h], scb[h]) : 0.0f;\n",
    "        }\n",
    "        __syncthreads();\n",
    "        if (j0 + BNBQ_MM_OJ < nc) {\n",
    "            bnbq_mm_ocol(L, j0 + BNBQ_MM_OJ + (i32)jj, nc, K, d, bad);\n",
    "            bnbq_mm_oval(L, M, N, K, n0, B, d);\n",
    "        }\n",
    "        if (t < 256u) {\n",
    "#pragma unroll 16\n",
    "            for (int k = 0; k < BNBQ_MM_OJ; k++) {\n",
    "                const float p = st.a[k][tm] * st.w[k][tn];\n",
    "                s = s + p;\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "    return s;\n",
    "}\n",
    "template <int SB>\n",
    "BNBQ_DEV void bnbq_mm_tc(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, const u16* sx,\n",
    "                         const u16* sw, int sw_global, u16* out16, const u16* bias,\n",
    "                         const bnbq_mm_dq* dq = 0) {\n",
    "    __shared__ u32 red[BNBQ_MM_TC_W][16][BNBQ_MM_TC_N + 4];\n",
    "    __shared__ bnbq_mm_ostage ost;   // SB = 2 with outlier columns\n",
    "    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u64 K16 = K >> 4, steps = (K16 + 3) >> 2;\n",
    "    const uint4 z = make_uint4(0u, 0u, 0u, 0u);\n",
    "    const uint4* alo = (const uint4*)(A + (u64)g * K);\n",
    "    const uint4* ahi = (const uint4*)(A + (u64)(g + 8u) * K);\n",
    "    // SB = 2 with outlier columns (uniform): their count, clamped to [0, K] (outside: *err = 1, once a block)\n",
    "    const bool outl = SB == 2 && dq->cols;\n",
    "    u32 bad = 0u;\n",
    "    i32 nc = 0;\n",
    "    if (outl) {\n",
    "        nc = *dq->num_cols;\n",
    "        if (nc < 0 || (u64)nc > K) {\n",
    "            if (threadIdx.x == 0) bad = 1u;\n",
    "            nc = nc < 0 ? 0 : (i32)K;\n",
    "        }\n",
    "    }\n",
    "    for (u64 n0 = (u64)blockIdx.x * BNBQ_MM_TC_N; n0 < N; n0 += (u64)gridDim.x * BNBQ_MM_TC_N) {\n",
    "        bnbq_mm_oload ol;\n",
    "        float scb[BNBQ_MM_OH];\n",
    "        if (outl) {   // the outlier epilogue's first loads and scales, in flight during the K loop\n",
    "            bnbq_mm_ocol(ol, (i32)(threadIdx.x % BNBQ_MM_OJ), nc, K, *dq, bad);\n",
    "            bnbq_mm_oval(ol, M, N, K, n0, B, *dq);\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < BNBQ_MM_OH; h++) {\n",
    "                const u64 n = n0 + threadIdx.x / BNBQ_MM_OJ + (u64)(BNBQ_MM_ORS * h);\n",
    "                scb[h] = n < N ? dq->cs[n] : 0.0f;\n",
    "            }\n",
    "        }\n",
    "        u32 c[BNBQ_MM_TC_T][4];\n",
    "#pragma unroll\n",
    "        for (int t = 0; t < BNBQ_MM_TC_T; t++) c[t][0] = c[t][1] = c[t][2] = c[t][3] = 0u;\n",
    "        for (u64 s = w; s < steps; s += BNBQ_MM_TC_W) {\n",
    "            const u64 ch = s * 4u + q;   // this lane's 16-byte chunk of the rows\n",
    "            const bool in = ch < K16;\n",
    "            const uint4 lo = in && g < M ? __ldg(alo + ch) : z;\n",
    "            const uint4 hi = in && g + 8u < M ? __ldg(ahi + ch) : z;\n",
    "            uint4 b[BNBQ_MM_TC_T];\n",
    "#pragma unroll\n",
    "            for (int t = 0; t < BNBQ_MM_TC_T; t++) {\n",
    "                const u64 n = n0 + (u64)t * 8u + g;\n",
    "                b[t] = in && n < N ? __ldg((const uint4*)(B + n * K) + ch) : z;\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int t = 0; t < BNBQ_MM_TC_T; t++) {\n",
    "                bnbq_mm_mma16832(c[t], lo, hi, b[t].x, b[t].y, 0);\n",
    "                bnbq_mm_mma16832(c[t], lo, hi, b[t].z, b[t].w, 1);\n",
    "            }\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int t = 0; t < BNBQ_MM_TC_T; t++) {   // c[t]: rows g (0, 1) and g + 8 (2, 3), columns 2q, 2q + 1\n",
    "            red[w][g][t * 8 + 2 * q] = c[t][0];\n",
    "            red[w][g][t * 8 + 2 * q + 1] = c[t][1];\n",
    "            red[w][g + 8][t * 8 + 2 * q] = c[t][2];\n",
    "            red[w][g + 8][t * 8 + 2 * q + 1] = c[t][3];\n",
    "        }\n",
    "        __syncthreads();\n",
    "        // (SB = 2 with outlier columns: thread o < 256 keeps output o, 16 x BNBQ_MM_TC_N = 256 <= blockDim.x)\n",
    "        const float os = outl ? bnbq_mm_tc_outl(ol, scb, nc, M, N, K, n0, B, *dq, bad, ost) : 0.0f;\n",
    "        for (u32 o = threadIdx.x; o < 16u * BNBQ_MM_TC_N; o += blockDim.x) {\n",
    "            const u32 m = o / BNBQ_MM_TC_N, col = o % BNBQ_MM_TC_N;\n",
    "            const u64 n = n0 + col;\n",
    "            u32 sum = 0u;\n",
    "#pragma unroll\n",
    "            for (int v = 0; v < BNBQ_MM_TC_W; v++) sum += red[v][m][col];\n",
    "            if ((u64)m < M && n < N) {\n",
    "                if (SB == 2) bnbq_mm_dq_one(sum, m, n, N, *dq, os);\n",
    "                else bnbq_mm_few_out<SB>(sum, m, n, N, out, sx, sw, sw_global, out16, bias);\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "    if (bad) *dq->err = 1u;\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_mma(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_mma)\n",
    "#line 540 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BNBQ_MM_TC_W * 32)\n",
    "bnbq_k_int8_mma(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {\n",
    "    bnbq_mm_tc<0>(A, B, M, N, K, out, 0, 0, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 544 \"int8mm.cu\"\n",
    "// the same for 2..16 rows of A (bnbq_mm_tc), with the outlier columns where cols is given (2 blocks an SM, as\n",
    "// bnbq_k_int8_mma: 64 registers, no spills on sm_80 / sm_90, where the outlier epilogue took 80 unbounded)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_dq_mma(const i8* A, const i8* B, u64 M, u64 N, u64 K, const float* rs, const float* cs, int dt,\n",
    "                   int bias_dt, const void* bias, void* out, const void* X, const i32* cols, const i32* num_cols,\n",
    "                   u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_dq_mma)\n",
    "#line 546 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BNBQ_MM_TC_W * 32, 2)\n",
    "bnbq_k_int8_dq_mma(const i8* A, const i8* B, u64 M, u64 N, u64 K, const float* rs, const float* cs, int dt,\n",
    "                   int bias_dt, const void* bias, void* out, const void* X, const i32* cols, const i32* num_cols,\n",
    "                   u32* err) {\n",
    "    bnbq_mm_dq d;\n",
    "    d.rs = rs; d.cs = cs; d.out = out; d.bias = bias; d.X = X; d.cols = cols; d.num_cols = num_cols; d.err = err;\n",
    "    d.dt = dt; d.bias_dt = bias_dt; d.wpx = 0;\n",
    "    bnbq_mm_pdl_prefetch(B, N, K, (u64)blockIdx.x * BNBQ_MM_TC_N, BNBQ_MM_TC_N, threadIdx.x, blockDim.x);\n",
    "    bnbq_mm_tc<2>(A, B, M, N, K, 0, 0, 0, 0, 0, 0, &d);\n",
    "}\n",
    "#endif\n",
    "#line 556 \"int8mm.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_mma(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,\n",
    "              u64 K, u16* out, const u16* bias) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_mma)\n",
    "#line 556 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BNBQ_MM_TC_W * 32)\n",
    "bnbq_k_sb_mma(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,\n",
    "              u64 K, u16* out, const u16* bias) {\n",
    "    bnbq_mm_tc<1>(A, B, M, N, K, 0, sx, sw, sw_global, out, bias);\n",
    "}\n",
    "#endif\n",
    "#line 561 \"int8mm.cu\"\n",
    "\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_gemv(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_gemv)\n",
    "#line 562 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_gemv(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {\n",
    "    bnbq_mm_gemv<0>(A, B, M, N, K, out, 0, 0, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 566 \"int8mm.cu\"\n",
    "// bnbq_int8_mixed_scaled_mm (LLM.int8's int8 product, mm_dequant and outlier product) for the same few\n",
    "// rows of A (the launcher: one row), its results bit for bit (SB = 2 above)\n",
    "// vec 0 (K % 16 != 0 or A, B not 16-byte aligned; M <= 8): the same warp a row with byte loads.\n",
    "// (Measured and not kept, bench/results/gpu-20261123-h100-session22-int8-decode.txt: the first 64 outlier\n",
    "// columns loaded before the row is streamed, to hide their latency: 98 registers, and with launch bounds of\n",
    "// 3 or 4 blocks an SM 72 or 64 + spills; all 3-25 % slower than this form.)\n",
    "// What the outlier epilogue costs (session 23, bench/results/gpu-20261123-h100-session23-gemv-dq-probes.txt): at\n",
    "// K = 14336 the weight's outlier bytes come back from DRAM (the row has left the L2 while the weight streamed:\n",
    "// +36 MB, ~8.5 us) and the step-by-step chain (cols[j], then X and the bytes, the shuffle sums) 3-10 us. Not\n",
    "// kept, measured: the columns and X staged in shared memory once a block (noise), the bytes picked out of the\n",
    "// stream (10-35 % slower: the staging before the first row, occupancy), the indices kept in registers (80-106\n",
    "// registers: slower), -session23-gemv-dq.txt.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_gemv_dq(const i8* A, const i8* B, u64 M, u64 N, u64 K, const float* rs, const float* cs,\n",
    "                    int dt, int bias_dt, const void* bias, const void* X, const i32* cols, const i32* num_cols,\n",
    "                    void* out, u32* err, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_gemv_dq)\n",
    "#line 578 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_int8_gemv_dq(const i8* A, const i8* B, u64 M, u64 N, u64 K, const float* rs, const float* cs,\n",
    "                    int dt, int bias_dt, const void* bias, const void* X, const i32* cols, const i32* num_cols,\n",
    "                    void* out, u32* err, int vec) {\n",
    "    bnbq_mm_dq d;\n",
    "    d.rs = rs; d.cs = cs; d.out = out; d.bias = bias; d.X = X; d.cols = cols; d.num_cols = num_cols;\n",
    "    d.err = err; d.dt = dt; d.bias_dt = bias_dt;\n",
    "    __shared__ float wpx[8][64];   // (256 threads; vec: one row, the launcher)\n",
    "    {   // (bnbq_mm_pdl_prefetch for the warp's first row)\n",
    "        const u64 n0 = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;\n",
    "        if (n0 < N)\n",
    "            for (u64 o = (u64)(threadIdx.x & 31u) * 128u; o < K; o += 32u * 128u)\n",
    "                bnbq_prefetch_l2(B + n0 * K + o);\n",
    "        bnbq_pdl_wait();\n",
    "    }\n",
    "    if (vec) {\n",
    "        d.wpx = wpx[threadIdx.x >> 5];\n",
    "        bnbq_mm_gemv<2, 1, BNBQ_MM_GVDQ_U>(A, B, M, N, K, 0, 0, 0, 0, 0, 0, &d);   // (the launcher: M == 1)\n",
    "        return;\n",
    "    }\n",
    "    d.wpx = 0;\n",
    "    const u32 lane = threadIdx.x & 31u;\n",
    "    const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5, rows = M < BNBQ_MM_GV_M ? M : BNBQ_MM_GV_M;\n",
    "    for (u64 n = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; n < N; n += nwarps) {\n",
    "        u32 mine = 0u;\n",
    "        for (u64 m = 0; m < rows; m++) {\n",
    "            u32 acc = 0u;\n",
    "            for (u64 k = lane; k < K; k += 32u) acc += (u32)((int)A[m * K + k] * (int)B[n * K + k]);\n",
    "            for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);\n",
    "            if (lane == (u32)m) mine = acc;\n",
    "        }\n",
    "        bnbq_mm_dq_out(mine, lane, rows, 0, n, N, K, B, d);\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 612 \"int8mm.cu\"\n",
    "// bnbq_k_int8_gemv_br: bnbq_int8_mixed_scaled_mm for ONE row of A (Linear8bitLt's decoding step) with 16-byte loads\n",
    "// (K % 16 == 0, K > 4096, A and B 16-byte aligned; the launcher), a block a row of B at a time: thread t takes the\n",
    "// row's 16-byte chunks t, t + 256, ... (BNBQ_MM_BR_U of them in flight), __dp4a with A's (from the L1), the block's sum\n",
    "// by shuffles and shared-memory atomics, and SB = 2's epilogue (bnbq_mm_dq_out: the bytes of bnbq_k_int8_gemv_dq\n",
    "// and of the unfused path; integer sums do not depend on their order). The grid is persistent (a few blocks an SM,\n",
    "// rows grid-strided): each warp adds its part of a row's sum into shared memory (no barrier a row); every 8 rows,\n",
    "// after a barrier, the 8 warps give those 8 rows their epilogues at once, while the first chunks of the block's\n",
    "// next row, loaded before, are in flight; its first row is prefetched into the L2 before it waits for the kernel\n",
    "// before it (bnbq_mm_pdl_prefetch: a hint; loads before the wait could see a weight that kernel has not flushed\n",
    "// yet). Why a block a row: all of a row's bytes are requested at once,\n",
    "// contiguous, where a warp a row (bnbq_k_int8_gemv_dq) has 32 x U x 16 bytes of each of thousands of rows in\n",
    "// flight; on the H100, without the epilogue, the block a row streamed at 0.92-0.99 of a bare read of the same\n",
    "// bytes and the warp a row at 0.83-0.92 (bench/results/gpu-20261124-h100-session30-int8-gemv.txt). Linear8bitLt at\n",
    "// one token on the H100 (the same file, c6): K = 8192 and 14336 4-13 % faster than the warp a row (threshold 0 8192^2\n",
    "// 40.4 -> 38.0 us, 4096x14336 37.6 -> 33.7; threshold 6 52.2 -> 50.0, 54.0 -> 47.0); K = 4096 4-9 % slower (c4: one\n",
    "// 16-byte load a thread a row), so those keep the warp a row. Measured and not kept: a barrier a row and one warp's\n",
    "// epilogue a row (1.3-2x slower than the warp a row), 6 or 8 blocks an SM (spills), 2 or 4 rows a step for short\n",
    "// rows (60 registers; K = 4096 still slower, c5).\n",
    "#ifndef BNBQ_MM_BR_U\n",
    "#define BNBQ_MM_BR_U 4\n",
    "#endif\n",
    "#ifndef BNBQ_MM_BR_B\n",
    "#define BNBQ_MM_BR_B 5   // blocks an SM (the launch bounds, 48 registers; the launcher's grid: BNBQ__CU_MM_BR_B an SM)\n",
    "#endif\n",
    "BNBQ_DEV void bnbq_mm_br_load(const uint4* b4, u64 K16, u64 c0, u32 t, uint4* b) {\n",
    "#pragma unroll\n",
    "    for (int u = 0; u < BNBQ_MM_BR_U; u++) {\n",
    "        const u64 c = c0 + t + 256u * (u64)u;\n",
    "        b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0u, 0u, 0u, 0u);\n",
    "    }\n",
    "}\n",
    "// bnbq_k_int8_gemv_bro: the same with LLM.int8's outlier columns (cols given; the launcher: K <= BNBQ_MM_BRO_K) and\n",
    "// their products picked out of the streamed bytes. With the epilogue's own loads (bnbq_mm_dq_out) a row's outlier\n",
    "// bytes come back from the DRAM: the 5 x 132 blocks stream ~5000 rows between a row and its epilogue, more than the\n",
    "// L2 holds (at K = 14336 1 % of outlier columns cost ~10 us of ~34, session 30's c7). Here each block, after its\n",
    "// PDL wait, checks the columns (at most cap, strictly ascending, in [0, K)) and puts them into shared\n",
    "// memory: a bit a column, the rank of each 16-byte chunk's first outlier column, f32(X[cols[j]]); the thread that\n",
    "// streams a chunk with outlier bits makes their products f32(X[c_j]) * w[n, j] (bnbq_mm_dq_out's values) into the\n",
    "// row's slot (16 slots: a warp's epilogue reads rows i0 .. i0 + 7 while the others may write rows i0 + 8 ..), and the\n",
    "// epilogue's lane 0 adds the row's products in j order from shared memory: bnbq_mm_dq_out's sum, the same bytes.\n",
    "// Columns that fail the check (or more than cap) take bnbq_mm_dq_out for every row, as gemv_br does. The products'\n",
    "// slots and the X values are dynamic shared memory of 17 cap floats (cap: the launcher's, 256 or, for K > 16384, 512:\n",
    "// 1 % of K outlier columns, what bench_layers assumes, is 287 at K = 28672).\n",
    "#ifndef BNBQ_MM_BRO_K\n",
    "#define BNBQ_MM_BRO_K 32768  // the longest row (K) of the picking form (the launcher's BNBQ__CU_MM_BRO_K; 28672: Llama 70B's\n",
    "                             // down projection)\n",
    "#endif\n",
    "struct bnbq_mm_bro {\n",
    "    u32 mask[BNBQ_MM_BRO_K / 32];        // bit c: column c is an outlier column\n",
    "    u16 first[BNBQ_MM_BRO_K / 16];       // chunk c with outlier bits: the rank j of its first outlier column\n",
    "    u32 fail;                            // a column failed the check\n",
    "};\n",
    "// (dynamic, 17 cap floats) the products of row slot s at [s cap + j], f32(X[cols[j]]) at [16 cap + j]\n",
    "extern __shared__ __align__(16) float bnbq_mm_bro_px[];\n",
    "// byte e (0..15) of v as a signed value\n",
    "BNBQ_DEV int bnbq_mm_byte16(uint4 v, u32 e) {\n",
    "    const u32 w = e < 8u ? (e < 4u ? v.x : v.y) : (e < 12u ? v.z : v.w);\n",
    "    return (int)(i8)(u8)(w >> (8u * (e & 3u)));\n",
    "}\n",
    "// the block's outlier columns into o (after the PDL wait: cols, num_cols and X come from the kernel before); where\n",
    "// they fail the check, o.fail != 0 and the bitmask is empty (no chunk picks anything). (The kernel reads o.fail\n",
    "// again where it needs it rather than keeping a flag: NVVM copied the whole row loop for a flag, which doubled the\n",
    "// unit's NVRTC time.)\n",
    "BNBQ_DEV void bnbq_mm_bro_setup(bnbq_mm_bro& o, const bnbq_mm_dq& d, u64 K, u32 cap, u32 t, i32& nc_out) {\n",
    "    const i32 nc = *d.num_cols;\n",
    "    const int ok = nc >= 0 && (u32)nc <= cap && (u64)nc <= K && K <= BNBQ_MM_BRO_K;   // (else bnbq_mm_dq_out)\n",
    "    for (u32 i = t; i < BNBQ_MM_BRO_K / 32; i += 256u) o.mask[i] = 0u;\n",
    "    if (t == 0) o.fail = ok ? 0u : 1u;\n",
    "    __syncthreads();\n",
    "    i32 c = 0, pc = 0;\n",
    "    if (ok)\n",
    "        for (i32 j = (i32)t; j < nc; j += 256) {\n",
    "            c = d.cols[j], pc = j > 0 ? d.cols[j - 1] : -1;\n",
    "            if (c < 0 || (u64)c >= K || c <= pc) {\n",
    "                atomicOr(&o.fail, 1u);\n",
    "            } else {\n",
    "                atomicOr(&o.mask[c >> 5], 1u << (c & 31));\n",
    "                bnbq_mm_bro_px[16u * cap + (u32)j] = bnbq_load(d.dt, d.X, (u64)c);\n",
    "            }\n",
    "        }\n",
    "    __syncthreads();\n",
    "    // the chunks' first ranks once the columns are known to ascend (one writer a chunk), else no outlier bits\n",
    "    if (o.fail == 0u) {\n",
    "        for (i32 j = (i32)t; j < nc; j += 256) {\n",
    "            c = d.cols[j], pc = j > 0 ? d.cols[j - 1] : -1;\n",
    "            if (j == 0 || (pc >> 4) != (c >> 4)) o.first[c >> 4] = (u16)j;\n",
    "        }\n",
    "    } else {\n",
    "        for (u32 i = t; i < BNBQ_MM_BRO_K / 32; i += 256u) o.mask[i] = 0u;\n",
    "    }\n",
    "    __syncthreads();\n",
    "    nc_out = nc;\n",
    "}\n",
    "// the outlier products of chunk c (bytes v) of row n (slot sl, row scale csn), where it has outlier bits (read\n",
    "// here, after the chunk's product: each step's bits read before its products measured 1-2 us slower at 8192^2, c3 / c5)\n",
    "BNBQ_DEV void bnbq_mm_bro_pick(const bnbq_mm_bro& o, uint4 v, u64 c, u32 sl, u32 cap, float csn, int dt) {\n",
    "    u32 m = (o.mask[c >> 1] >> (16u * (u32)(c & 1u))) & 0xffffu;\n",
    "    if (!m) return;\n",
    "    u32 j = o.first[c];\n",
    "#pragma unroll 1\n",
    "    do {\n",
    "        const u32 e = (u32)(__ffs((int)m) - 1);\n",
    "        m &= m - 1u;\n",
    "        bnbq_mm_bro_px[sl * cap + j] = bnbq_mm_bro_px[16u * cap + j] * bnbq_mm_outlier_w_hw(dt, bnbq_mm_byte16(v, e), csn);\n",
    "        j++;\n",
    "    } while (m);\n",
    "}\n",
    "// a row's nc outlier products (shared memory, 16-byte aligned) added in j order from 0: bnbq_mm_dq_out's sum, for\n",
    "// its `pre` (gemv_bro's and gemv_dqo's lane 0)\n",
    "BNBQ_DEV float bnbq_mm_sum_j(const float* p, i32 nc) {\n",
    "    float S = 0.0f;\n",
    "    i32 j = 0;\n",
    "    for (; j + 4 <= nc; j += 4) {\n",
    "        const float4 q = *(const float4*)(p + j);\n",
    "        S = S + q.x; S = S + q.y; S = S + q.z; S = S + q.w;\n",
    "    }\n",
    "    for (; j < nc; j++) S = S + p[j];\n",
    "    return S;\n",
    "}\n",
    "// the block-a-row kernels' body; OL = 1: bnbq_k_int8_gemv_bro's picking of the outlier products\n",
    "template <int OL>\n",
    "BNBQ_DEV void bnbq_mm_br(const i8* A, const i8* B, u64 N, u64 K, const bnbq_mm_dq& d, u32* rsum, bnbq_mm_bro* o,\n",
    "                         u32 cap) {\n",
    "    const u32 t = threadIdx.x, lane = t & 31u, w = t >> 5;\n",
    "    const u64 K16 = K >> 4, step = 256u * BNBQ_MM_BR_U;\n",
    "    const uint4* a4 = (const uint4*)A;\n",
    "    uint4 b[BNBQ_MM_BR_U];\n",
    "    u64 n = blockIdx.x;\n",
    "    i32 nc = 0;\n",
    "    if (t < 16u) rsum[t] = 0u;\n",
    "    __syncthreads();\n",
    "    bnbq_mm_pdl_prefetch(B, N, K, n, 1, t, 256u);   // (then bnbq_pdl_wait)\n",
    "    // (OL: the setup first, then the first row's loads, which the prefetch has put in the L2: issued before the\n",
    "    // setup, 8192^2 took 1.5-2 us more, bench/results/gpu-20261124-h100-session31-int8-bro.txt c4 / c5)\n",
    "    if (OL) bnbq_mm_bro_setup(*o, d, K, cap, t, nc);\n",
    "    if (n < N) bnbq_mm_br_load((const uint4*)(B + n * K), K16, 0, t, b);\n",
    "    for (u32 i = 0; n < N; n += gridDim.x, i++) {   // i: the block's index of row n\n",
    "        const uint4* b4 = (const uint4*)(B + n * K);\n",
    "        const bool last = n + gridDim.x >= N;\n",
    "        const float csn = OL ? d.cs[n] : 0.0f;\n",
    "        u32 s = 0u;\n",
    "        for (u64 c0 = 0;;) {\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < BNBQ_MM_BR_U; u++) {\n",
    "                const u64 c = c0 + t + 256u * (u64)u;\n",
    "                if (c < K16) {\n",
    "                    s += (u32)bnbq_mm_dot16(__ldg(a4 + c), b[u]);\n",
    "                    if (OL) bnbq_mm_bro_pick(*o, b[u], c, i & 15u, cap, csn, d.dt);\n",
    "                }\n",
    "            }\n",
    "            c0 += step;\n",
    "            if (c0 >= K16) break;\n",
    "            bnbq_mm_br_load(b4, K16, c0, t, b);\n",
    "        }\n",
    "        if (!last) bnbq_mm_br_load((const uint4*)(B + (n + gridDim.x) * K), K16, 0, t, b);\n",
    "#pragma unroll\n",
    "        for (int o2 = 16; o2 > 0; o2 >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o2);\n",
    "        if (lane == 0) atomicAdd(&rsum[i & 15u], s);\n",
    "        // every 8 rows and after the last: the barrier, then warp w gives the w-th of those rows its epilogue (slot\n",
    "        // i0 + w % 16, zeroed for row i0 + w + 16, whose sums come after the barrier 8 rows on)\n",
    "        if ((i & 7u) == 7u || last) {\n",
    "            __syncthreads();\n",
    "            const u32 i0 = i & ~7u;\n",
    "            if (w <= i - i0) {\n",
    "                const u32 sl = (i0 + w) & 15u, v = rsum[sl];\n",
    "                const u64 nw = n - (u64)(i - i0 - w) * gridDim.x;\n",
    "                __syncwarp();\n",
    "                if (lane == 0) rsum[sl] = 0u;\n",
    "                const bool pre = OL && o->fail == 0u;\n",
    "                // the picked products added in j order (bnbq_mm_dq_out's sum)\n",
    "                const float S = pre && lane == 0 ? bnbq_mm_sum_j(bnbq_mm_bro_px + sl * cap, nc) : 0.0f;\n",
    "                bnbq_mm_dq_out(v, lane, 1, 0, nw, N, K, B, d, pre, S);\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#define BNBQ_MM_BR_ARGS                                                                                          \\\n",
    "    const i8 *A, const i8 *B, u64 N, u64 K, const float *rs, const float *cs, int dt, int bias_dt, const void *bias, \\\n",
    "        const void *X, const i32 *cols, const i32 *num_cols, void *out, u32 *err\n",
    "#define BNBQ_MM_BR_DQ                                                                                       \\\n",
    "    bnbq_mm_dq d;                                                                                           \\\n",
    "    d.rs = rs; d.cs = cs; d.out = out; d.bias = bias; d.X = X; d.cols = cols; d.num_cols = num_cols; \\\n",
    "    d.err = err; d.dt = dt; d.bias_dt = bias_dt; d.wpx = 0\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_gemv_br(BNBQ_MM_BR_ARGS) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_gemv_br)\n",
    "#line 795 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, BNBQ_MM_BR_B) bnbq_k_int8_gemv_br(BNBQ_MM_BR_ARGS) {\n",
    "    __shared__ u32 rsum[16];   // the sums of the block's rows i (slot i % 16), added by its warps\n",
    "    BNBQ_MM_BR_DQ;\n",
    "    bnbq_mm_br<0>(A, B, N, K, d, rsum, 0, 0u);\n",
    "}\n",
    "#endif\n",
    "#line 800 \"int8mm.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_gemv_bro(BNBQ_MM_BR_ARGS, u32 cap) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_gemv_bro)\n",
    "#line 800 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, BNBQ_MM_BR_B) bnbq_k_int8_gemv_bro(BNBQ_MM_BR_ARGS, u32 cap) {\n",
    "    __shared__ u32 rsum[16];\n",
    "    __shared__ bnbq_mm_bro o;\n",
    "    BNBQ_MM_BR_DQ;\n",
    "    bnbq_mm_br<1>(A, B, N, K, d, rsum, &o, cap);\n",
    "}\n",
    "#endif\n",
    "#line 806 \"int8mm.cu\"\n",
    "// bnbq_k_int8_gemv_dqo: one row of A with outlier columns, K <= 4096 and many rows of B (the launcher), a warp a row of B\n",
    "// as bnbq_k_int8_gemv_dq, on a persistent grid (BNBQ_MM_DQO_B blocks an SM, the warps' rows grid-strided) so that the\n",
    "// block's setup (bnbq_mm_bro_setup) serves many rows. A lane that streams a chunk with outlier bits stores the chunk\n",
    "// into its warp's staging (16 bytes at the rank of the chunk's first outlier column: one predicated store, where\n",
    "// gemv_bro's picking loops over the bits, diverged); after the row the warp's lanes make the products j = lane,\n",
    "// lane + 32, ... from the staged bytes (bnbq_mm_bro_pick's values), and lane 0 adds them in j order\n",
    "// (bnbq_mm_dq_out with pre) while the warp's next row's first loads fly. Dynamic shared memory: gemv_bro's 17 cap\n",
    "// floats (products at [w cap + j], f32(X[cols[j]]) at [16 cap + j]), then the 8 warps' staging (16 cap bytes each),\n",
    "// then each column's byte in the staging (cap u16): the launcher's BNBQ__CU_MM_DQO_SMEM(cap) bytes.\n",
    "#ifndef BNBQ_MM_DQO_B\n",
    "#define BNBQ_MM_DQO_B 5   // blocks an SM (the launch bounds; the launcher's grid: bnbq__cu_i8_br_b an SM)\n",
    "#endif\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_gemv_dqo(BNBQ_MM_BR_ARGS, u32 cap) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_gemv_dqo)\n",
    "#line 818 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, BNBQ_MM_DQO_B) bnbq_k_int8_gemv_dqo(BNBQ_MM_BR_ARGS, u32 cap) {\n",
    "    __shared__ bnbq_mm_bro o;\n",
    "    BNBQ_MM_BR_DQ;\n",
    "    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5;\n",
    "    const u64 K16 = K >> 4, nw = (u64)gridDim.x * 8u;\n",
    "    const uint4* a4 = (const uint4*)A;\n",
    "    u8* const stg = (u8*)(bnbq_mm_bro_px + 17u * cap);    // [warp][cap][16]\n",
    "    u16* const boff = (u16*)(stg + 8u * 16u * cap);       // [j]: column j's byte in a warp's staging\n",
    "    u8* const ws = stg + w * 16u * cap;\n",
    "    uint4 b[BNBQ_MM_GVDQ_U];\n",
    "    u64 n = (u64)blockIdx.x * 8u + w;\n",
    "    i32 nc = 0;\n",
    "    bnbq_mm_pdl_prefetch(B, N, K, (u64)blockIdx.x * 8u, 8, threadIdx.x, 256u);   // (then bnbq_pdl_wait)\n",
    "    bnbq_mm_bro_setup(o, d, K, cap, threadIdx.x, nc);\n",
    "    if (o.fail == 0u)\n",
    "        for (i32 j = (i32)threadIdx.x; j < nc; j += 256) {\n",
    "            const i32 c = d.cols[j];\n",
    "            boff[j] = (u16)(16u * (u32)o.first[c >> 4] + ((u32)c & 15u));\n",
    "        }\n",
    "    __syncthreads();\n",
    "#pragma unroll\n",
    "    for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {\n",
    "        const u64 c = (u64)u * 32u + lane;\n",
    "        b[u] = n < N && c < K16 ? __ldg((const uint4*)(B + n * K) + c) : make_uint4(0u, 0u, 0u, 0u);\n",
    "    }\n",
    "    for (; n < N; n += nw) {\n",
    "        const uint4* b4 = (const uint4*)(B + n * K);\n",
    "        const float csn = d.cs[n];\n",
    "        u32 s = 0u;\n",
    "        for (u64 c0 = 0;;) {\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {\n",
    "                const u64 c = c0 + (u64)u * 32u + lane;\n",
    "                if (c < K16) {\n",
    "                    s += (u32)bnbq_mm_dot16(__ldg(a4 + c), b[u]);\n",
    "                    if ((o.mask[c >> 1] >> (16u * (u32)(c & 1u))) & 0xffffu)   // (empty where the columns failed)\n",
    "                        *(uint4*)(ws + 16u * (u32)o.first[c]) = b[u];\n",
    "                }\n",
    "            }\n",
    "            c0 += 32u * BNBQ_MM_GVDQ_U;\n",
    "            if (c0 >= K16) break;\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {\n",
    "                const u64 c = c0 + (u64)u * 32u + lane;\n",
    "                b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0u, 0u, 0u, 0u);\n",
    "            }\n",
    "        }\n",
    "        if (n + nw < N) {   // the next row's first loads, in flight during the products and the epilogue\n",
    "            const uint4* bn = (const uint4*)(B + (n + nw) * K);\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {\n",
    "                const u64 c = (u64)u * 32u + lane;\n",
    "                b[u] = c < K16 ? __ldg(bn + c) : make_uint4(0u, 0u, 0u, 0u);\n",
    "            }\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int o2 = 16; o2 > 0; o2 >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o2);\n",
    "        __syncwarp();   // (the warp's staged chunks, then its products)\n",
    "        const bool pre = o.fail == 0u;\n",
    "        float* const pw = bnbq_mm_bro_px + w * cap;\n",
    "        if (pre)\n",
    "            for (i32 j = (i32)lane; j < nc; j += 32)\n",
    "                pw[j] = bnbq_mm_bro_px[16u * cap + (u32)j] * bnbq_mm_outlier_w_hw(d.dt, (int)(i8)ws[boff[j]], csn);\n",
    "        __syncwarp();   // (the lanes' products, then lane 0 reads them)\n",
    "        const float S = pre && lane == 0 ? bnbq_mm_sum_j(pw, nc) : 0.0f;\n",
    "        bnbq_mm_dq_out(s, lane, 1, 0, n, N, K, B, d, pre, S);\n",
    "        __syncwarp();   // (lane 0 has read the products, and the warp the staging, before the next row's)\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 887 \"int8mm.cu\"\n",
    "// int8_matmul_rowwise_dequantize / _mixed_dequantize (SwitchBack) for the same few rows of A:\n",
    "// bnbq_sb_matmul's arguments, its results bit for bit\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_gemv(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,\n",
    "               u64 K, u16* out, const u16* bias) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_gemv)\n",
    "#line 889 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_gemv(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,\n",
    "               u64 K, u16* out, const u16* bias) {\n",
    "    bnbq_mm_gemv<1>(A, B, M, N, K, 0, sx, sw, sw_global, out, bias);\n",
    "}\n",
    "#endif\n",
    "#line 894 \"int8mm.cu\"\n",
    "\n",
    "// ---- bnbq_k_int8_tc / bnbq_k_sb_tc: the same GEMMs for many rows of A on tensor cores (sm_80+) ----\n",
    "// (the launcher: M > BNBQ__CU_MM_GV_M, K % 16 == 0, A and B 16-byte aligned). bnbq_k_int8_matmul's\n",
    "// 64 x 64 SIMT tiles reached ~95 TOP/s on the H100 (Linear8bitLt at 4096 tokens 8x cuBLAS' f16 GEMM).\n",
    "// Here a block takes 128 x 128 outputs with 8 warps (2 x 4, each 64 rows x 32 columns: 4 x 4\n",
    "// mma.m16n8k32 s8 per 32 bytes of K); K goes in steps of 64 bytes through a ring of BNBQ_MT_S stages\n",
    "// in dynamic shared memory filled by cp.async (zero-filled past M, N and K), read with ldmatrix. A\n",
    "// stage holds 128 rows x 64 bytes of A and of B, each row's four 16-byte chunks permuted by the row\n",
    "// (chunk ^ ((row / 2) % 4)), so that the 8 rows of an ldmatrix phase hit 8 different 16-byte bank\n",
    "// groups. Integer sums: any order gives the CPU's int32 (wrapping mod 2^32), bit for bit.\n",
    "// Fragments (PTX ISA, m16n8k32 .s8): lane (g, q) = (lane / 4, lane % 4) holds A's rows g and g + 8 at\n",
    "// bytes 4q .. 4q + 3 and 16 + 4q .., B's row (column of the product) g at the same bytes, and the sums\n",
    "// of rows g, g + 8 at columns 2q, 2q + 1: ldmatrix's 8 x 16-byte matrices deliver exactly those.\n",
    "// Tiles go over the grid with the n tile fastest within groups of 8 m tiles (blocks that run together\n",
    "// share rows of A and of B in the L2).\n",
    "#define BNBQ_MT_BM 128\n",
    "#define BNBQ_MT_BN 128\n",
    "#define BNBQ_MT_BK 64    // bytes of K a stage\n",
    "// stages (the launcher's bnbq__cu_mt_stages: S * 16 KB of dynamic shared memory). 4 where an SM has 164 KB\n",
    "// or more (two blocks an SM): the H100 measured 12 % faster than with 3 (5: between the two,\n",
    "// bench/results/gpu-20261123-h100-session21-stages.txt); 3 on sm_86 / sm_89 / sm_120 (100 KB an SM).\n",
    "#ifndef BNBQ_MT_S\n",
    "#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 800 || __CUDA_ARCH__ == 870 || (__CUDA_ARCH__ >= 900 && __CUDA_ARCH__ < 1200))\n",
    "#define BNBQ_MT_S 4\n",
    "#else\n",
    "#define BNBQ_MT_S 3\n",
    "#endif\n",
    "#endif\n",
    "#define BNBQ_MT_STAGE (2 * BNBQ_MT_BM * BNBQ_MT_BK)   // bytes of a stage: A's tile, then B's\n",
    "BNBQ_DEV void bnbq_mt_mma(u32* c, const u32* a, const u32* b) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    asm volatile(\"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, \"\n",
    "                 \"{%8, %9}, {%0, %1, %2, %3};\"\n",
    "                 : \"+r\"(c[0]), \"+r\"(c[1]), \"+r\"(c[2]), \"+r\"(c[3])\n",
    "                 : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"r\"(b[0]), \"r\"(b[1]));\n",
    "#else\n",
    "    (void)c; (void)a; (void)b;\n",
    "    __trap();   // the launcher takes this kernel on sm_80+ only\n",
    "#endif\n",
    "}\n",
    "// stage kt of the tile (m0, n0) into ring slot `slot`: thread t copies chunks t and t + 256 of A's\n",
    "// 512 and of B's (row = chunk / 4)\n",
    "BNBQ_DEV void bnbq_mt_load(u32 sbase, const i8* A, const i8* B, u64 M, u64 N, u64 K, u64 m0, u64 n0,\n",
    "                           u64 kt, u32 slot) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    const u32 st = sbase + slot * BNBQ_MT_STAGE;\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < 4; h++) {   // h 0, 1: A; 2, 3: B\n",
    "        const u32 e = threadIdx.x + 256u * (u32)(h & 1), row = e >> 2, ch = e & 3u;\n",
    "        const bool isB = h >= 2;\n",
    "        const u64 r = (isB ? n0 : m0) + row, k = kt * BNBQ_MT_BK + 16u * ch;\n",
    "        const bool ok = r < (isB ? N : M) && k < K;\n",
    "        const i8* src = isB ? B : A;\n",
    "        if (ok) src += r * K + k;\n",
    "        bnbq_cp16(st + (isB ? BNBQ_MT_BM * BNBQ_MT_BK : 0u) + bnbq_tile64_off(row, ch), src, ok ? 16u : 0u);\n",
    "    }\n",
    "#else\n",
    "    (void)sbase; (void)A; (void)B; (void)M; (void)N; (void)K; (void)m0; (void)n0; (void)kt; (void)slot;\n",
    "#endif\n",
    "}\n",
    "// SwitchBack's outputs (m, n), (m, n + 1) of a fragment (bnbq_mm_few_out<1> each). Out of line: inline at\n",
    "// the 32 call sites of the epilogue it took most of bnbq_k_sb_tc's NVRTC time (0.38 -> 0.13 s here, 0.63-0.87\n",
    "// s on the device machine); it costs that kernel ~1.5 % on the H100 (measured with bnbq_k_int8_tc's int32\n",
    "// pairs out of line too, bench/results/gpu-20261123-h100-session21-epilogue.txt), so the int32 epilogue\n",
    "// stays inline.\n",
    "__device__ __noinline__ void bnbq_mt_sb_out2(u32 c0, u32 c1, u64 M, u64 N, u64 m, u64 n, const u16* sx,\n",
    "                                             const u16* sw, int sw_global, u16* out16, const u16* bias) {\n",
    "    if (m >= M) return;\n",
    "    if (n < N) bnbq_mm_few_out<1>(c0, m, n, N, 0, sx, sw, sw_global, out16, bias);\n",
    "    if (n + 1u < N) bnbq_mm_few_out<1>(c1, m, n + 1u, N, 0, sx, sw, sw_global, out16, bias);\n",
    "}\n",
    "template <int SB>\n",
    "BNBQ_DEV void bnbq_mt_gemm(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, const u16* sx,\n",
    "                           const u16* sw, int sw_global, u16* out16, const u16* bias) {\n",
    "    extern __shared__ __align__(128) unsigned char bnbq_mt_ring[];\n",
    "    const u32 sbase = (u32)__cvta_generic_to_shared(bnbq_mt_ring);\n",
    "    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u32 wm = w >> 2, wn = w & 3u;   // the warp's 64 rows (wm) and 32 columns (wn) of the tile\n",
    "    const u32 mat = lane >> 3, r8 = lane & 7u;   // the ldmatrix row this lane addresses\n",
    "    const u64 tm = (M + BNBQ_MT_BM - 1) / BNBQ_MT_BM, tn = (N + BNBQ_MT_BN - 1) / BNBQ_MT_BN;\n",
    "    const u64 KT = (K + BNBQ_MT_BK - 1) / BNBQ_MT_BK;\n",
    "    const bool pair = !SB && (N & 1u) == 0u && ((unsigned long long)out & 7u) == 0u;\n",
    "    for (u64 t = blockIdx.x; t < tm * tn; t += gridDim.x) {\n",
    "        u64 mt, nt;\n",
    "        bnbq_tile_order(t, tm, tn, &mt, &nt);\n",
    "        const u64 m0 = mt * BNBQ_MT_BM, n0 = nt * BNBQ_MT_BN;\n",
    "        u32 c[4][4][4];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) c[i][j][0] = c[i][j][1] = c[i][j][2] = c[i][j][3] = 0u;\n",
    "#pragma unroll\n",
    "        for (int s = 0; s < BNBQ_MT_S - 1; s++) {\n",
    "            if ((u64)s < KT) bnbq_mt_load(sbase, A, B, M, N, K, m0, n0, (u64)s, (u32)s);\n",
    "            bnbq_cp_commit();\n",
    "        }\n",
    "        for (u64 kt = 0; kt < KT; kt++) {\n",
    "            bnbq_cp_wait<BNBQ_MT_S - 2>();\n",
    "            __syncthreads();   // stage kt is in; every warp is done with the slot refilled below\n",
    "            const u64 nk = kt + BNBQ_MT_S - 1;\n",
    "            if (nk < KT) bnbq_mt_load(sbase, A, B, M, N, K, m0, n0, nk, (u32)(nk % BNBQ_MT_S));\n",
    "            bnbq_cp_commit();\n",
    "            const u32 sa = sbase + (u32)(kt % BNBQ_MT_S) * BNBQ_MT_STAGE, sb = sa + BNBQ_MT_BM * BNBQ_MT_BK;\n",
    "#pragma unroll\n",
    "            for (u32 kk = 0; kk < 2; kk++) {   // the two 32-byte halves of the stage\n",
    "                u32 a[4][4], b[4][2];\n",
    "#pragma unroll\n",
    "                for (u32 i = 0; i < 4; i++)   // matrices: rows 0-7 / 8-15 (mat & 1) x chunk lo / hi (mat / 2)\n",
    "                    bnbq_ldsm4<0>(a[i], sa + bnbq_tile64_off(wm * 64u + i * 16u + (mat & 1u) * 8u + r8, 2u * kk + (mat >> 1)));\n",
    "#pragma unroll\n",
    "                for (u32 p = 0; p < 2; p++) {   // matrices: chunk lo / hi (mat & 1) x n rows 0-7 / 8-15 (mat / 2)\n",
    "                    u32 r[4];\n",
    "                    bnbq_ldsm4<0>(r, sb + bnbq_tile64_off(wn * 32u + p * 16u + (mat >> 1) * 8u + r8, 2u * kk + (mat & 1u)));\n",
    "                    b[2 * p][0] = r[0]; b[2 * p][1] = r[1]; b[2 * p + 1][0] = r[2]; b[2 * p + 1][1] = r[3];\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < 4; j++) bnbq_mt_mma(c[i][j], a[i], b[j]);\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();   // the ring is free for the next tile\n",
    "#pragma unroll\n",
    "        for (u32 i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "            for (u32 hh = 0; hh < 2; hh++) {\n",
    "                const u64 m = m0 + wm * 64u + i * 16u + g + 8u * hh;\n",
    "                if (SB) {\n",
    "#pragma unroll\n",
    "                    for (u32 j = 0; j < 4; j++)\n",
    "                        bnbq_mt_sb_out2(c[i][j][2 * hh], c[i][j][2 * hh + 1], M, N, m, n0 + wn * 32u + j * 8u + 2u * q,\n",
    "                                        sx, sw, sw_global, out16, bias);\n",
    "                    continue;\n",
    "                }\n",
    "                if (m >= M) continue;\n",
    "#pragma unroll\n",
    "                for (u32 j = 0; j < 4; j++) {\n",
    "                    const u64 n = n0 + wn * 32u + j * 8u + 2u * q;\n",
    "                    if (pair && n + 1u < N) {\n",
    "                        *(int2*)(out + m * N + n) = make_int2((i32)c[i][j][2 * hh], (i32)c[i][j][2 * hh + 1]);\n",
    "                    } else {\n",
    "                        if (n < N) bnbq_mm_few_out<SB>(c[i][j][2 * hh], m, n, N, out, sx, sw, sw_global, out16, bias);\n",
    "                        if (n + 1u < N) bnbq_mm_few_out<SB>(c[i][j][2 * hh + 1], m, n + 1u, N, out, sx, sw, sw_global, out16, bias);\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "    }\n",
    "}\n",
    "// Both are launched with bnbq__cu_launch_pdl (their launch overlaps the end of the quantization before them):\n",
    "// they wait for it first.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_int8_tc(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_int8_tc)\n",
    "#line 1044 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_int8_tc(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {\n",
    "    bnbq_pdl_wait();\n",
    "    bnbq_mt_gemm<0>(A, B, M, N, K, out, 0, 0, 0, 0, 0);\n",
    "}\n",
    "#endif\n",
    "#line 1049 \"int8mm.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_tc(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,\n",
    "             u64 K, u16* out, const u16* bias) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_tc)\n",
    "#line 1049 \"int8mm.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_sb_tc(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,\n",
    "             u64 K, u16* out, const u16* bias) {\n",
    "    bnbq_pdl_wait();\n",
    "    bnbq_mt_gemm<1>(A, B, M, N, K, 0, sx, sw, sw_global, out, bias);\n",
    "}\n",
    "#endif\n",
    "#line 1055 \"int8mm.cu\"\n",
    0
};
static const char* const bnbq__cu_kernels_int8mm[] = {
    "bnbq_k_int8_matmul",
    "bnbq_k_sb_matmul",
    "bnbq_k_sb_matmul_any",
    "bnbq_k_int8_mma",
    "bnbq_k_int8_dq_mma",
    "bnbq_k_sb_mma",
    "bnbq_k_int8_gemv",
    "bnbq_k_int8_gemv_dq",
    "bnbq_k_int8_gemv_br",
    "bnbq_k_int8_gemv_bro",
    "bnbq_k_int8_gemv_dqo",
    "bnbq_k_sb_gemv",
    "bnbq_k_int8_tc",
    "bnbq_k_sb_tc",
    0
};
static const char* const bnbq__cu_src_matmul4[] = {
    "#line 1 \"matmul4.cu\"\n",
    "// bnbq_matmul_4bit when M > 1 or K % blocksize != 0: out (M, N) = A (M, K) @ W^T (+ bias), W (N, K)\n",
    "// (on compute capability 9.0 more than 16 rows mostly take gemm90.cu's bnbq_k_m4_wg: see the launcher)\n",
    "// 4-bit with W[n, k] = dt(table[nibble] * absmax[(n K + k) / blocksize]) exactly as bnbq__dequant4\n",
    "// then bnbq__round_to (table: the NF4 values, or bnbq_fp4_value for FP4, resolved on the host).\n",
    "// The products are accumulated in float32 (the CPU uses double: compare with a tolerance); the\n",
    "// bias is added before the one rounding to dt.\n",
    "// Tiles of 64 x 64 outputs, 16 elements of K per step (each W element dequantized once per tile),\n",
    "// 256 threads with 4 x 4 outputs each. The dtype of A, bias and out is the variant's BNBQ_DT\n",
    "// (a compile-time constant: one load / store path in the tile loops, not three).\n",
    "\n",
    "#ifndef BNBQ_DT\n",
    "#define BNBQ_DT BNBQ_F32\n",
    "#endif\n",
    "\n",
    "struct bnbq_code16 { float v[16]; };\n",
    "\n",
    "#define BNBQ_M4_BM 64\n",
    "#define BNBQ_M4_BN 64\n",
    "#define BNBQ_M4_BK 16\n",
    "\n",
    "// element i of A or bias, widened exactly: only an operand of float arithmetic (f16: the hardware\n",
    "// widening, whose NaN payload does not matter there)\n",
    "BNBQ_DEV float bnbq_m4_load(const void* p, u64 i) {\n",
    "    if (BNBQ_DT == BNBQ_F16) return bnbq_h2f_arith(((const u16*)p)[i]);\n",
    "    return bnbq_load(BNBQ_DT, p, i);\n",
    "}\n",
    "\n",
    "// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile. bs_shift = log2(blocksize).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_matmul4(const void* A, const u8* packed, const float* absmax, u64 M, u64 N, u64 K,\n",
    "               int bs_shift, void* out, const void* bias, bnbq_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_matmul4)\n",
    "#line 29 \"matmul4.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_matmul4(const void* A, const u8* packed, const float* absmax, u64 M, u64 N, u64 K,\n",
    "               int bs_shift, void* out, const void* bias, bnbq_code16 code) {\n",
    "    const int dt = BNBQ_DT;\n",
    "    __shared__ float tab[16];\n",
    "    __shared__ __align__(16) float As[BNBQ_M4_BK][BNBQ_M4_BM + 4];   // [k][m]\n",
    "    __shared__ __align__(16) float Ws[BNBQ_M4_BK][BNBQ_M4_BN + 4];   // [k][n]\n",
    "    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;\n",
    "    const u64 mtiles = (M + BNBQ_M4_BM - 1) / BNBQ_M4_BM;\n",
    "    const u64 n0 = (u64)blockIdx.x * BNBQ_M4_BN;\n",
    "    if (tid < 16) tab[tid] = code.v[tid];\n",
    "    __syncthreads();\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * BNBQ_M4_BM;\n",
    "        float acc[4][4];\n",
    "        bnbq_tile4x4_zero(acc);\n",
    "        for (u64 k0 = 0; k0 < K; k0 += BNBQ_M4_BK) {\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < 4; h++) {\n",
    "                const int e = tid + 256 * h, row = e >> 4, kk = e & 15;\n",
    "                const u64 k = k0 + (u64)kk, m = m0 + (u64)row, n = n0 + (u64)row;\n",
    "                float a = 0.0f, w = 0.0f;\n",
    "                if (k < K) {\n",
    "                    if (m < M) a = bnbq_m4_load(A, m * K + k);\n",
    "                    if (n < N) {\n",
    "                        const u64 i = n * K + k;\n",
    "                        const u32 byte = __ldg(packed + (i >> 1));\n",
    "                        const u32 nib = (i & 1) ? (byte & 15u) : (byte >> 4);\n",
    "                        const float v = tab[nib] * __ldg(absmax + (i >> bs_shift));\n",
    "                        w = dt == BNBQ_F16 ? bnbq_round_f16(v) : bnbq_round_to(dt, v);\n",
    "                    }\n",
    "                }\n",
    "                As[kk][row] = a;\n",
    "                Ws[kk][row] = w;\n",
    "            }\n",
    "            __syncthreads();\n",
    "            bnbq_tile4x4_step<BNBQ_M4_BK, BNBQ_M4_BM + 4, true>(acc, As, Ws, ty, tx);\n",
    "            __syncthreads();\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            const u64 m = m0 + (u64)ty * 4 + (u64)i;\n",
    "            if (m >= M) break;\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) {\n",
    "                const u64 n = n0 + (u64)tx * 4 + (u64)j;\n",
    "                if (n < N) {\n",
    "                    float o = acc[i][j];\n",
    "                    if (bias) o = o + bnbq_m4_load(bias, n);\n",
    "                    if (dt == BNBQ_F16) ((u16*)out)[m * N + n] = bnbq_f16_canon(o);\n",
    "                    else bnbq_store(dt, out, m * N + n, o);\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 85 \"matmul4.cu\"\n",
    "\n",
    "// ---- bnbq_k_matmul4_mma: 2..16 rows of A (a few tokens) on tensor cores (f16 / bf16, sm_80+) ------\n",
    "// Each weight as bnbq_k_matmul4 makes it, dt(table[nibble] * absmax) (float products, one rounding\n",
    "// each, two at a time by cvt.rn.*x2), then mma.m16n8k16 (dt x dt, float32 sums): the products are\n",
    "// exact, the sums float32 in the tensor cores' order (a tolerance against the CPU's double sums, as\n",
    "// the tiles above). W is the mma's A operand (16 rows of W a tile), the tokens its B (8 a tile;\n",
    "// 9..16 tokens: a second). A block takes 16 rows of W and its BNBQ_M4M_W warps split K in steps of\n",
    "// 128: lane (g, q) (g = lane / 4, q = lane % 4) takes the 32 elements [128 s + 32 q, + 32) of W's\n",
    "// rows g and g + 8 (16 packed bytes each, in one absmax block: K % 32 == 0) and of tokens g and\n",
    "// g + 8; mma j (0..7) gets their elements 4j .. 4j + 3 (the k order permuted alike for both\n",
    "// operands). The warps' sums meet in shared memory (added in warp order); the bias is added in\n",
    "// float32 before the one rounding to dt. The launcher: K % 32 == 0, packed and A 16-byte aligned.\n",
    "// (The dequantize + GEMM of Linear4bit's several-token forward read and wrote the whole 16-bit\n",
    "// weight: 2.3-3.0x cuBLAS f16 at 16 tokens on the H100; with this kernel and 16 warps a block\n",
    "// 0.82-0.90x, with 8 (kept since session 20) 0.81-0.85x; 4 were up to 50 % slower:\n",
    "// bench/results/gpu-20261123-h100-session19-matmul4-mma.txt and -session20-gemm-mma.txt.)\n",
    "#ifndef BNBQ_M4M_W\n",
    "#define BNBQ_M4M_W 8    // warps a block (the launcher's BNBQ__CU_M4M_W)\n",
    "#endif\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "// (dt(lo), dt(hi)) in one word, lo in the low half\n",
    "BNBQ_DEV u32 bnbq_m4_pair(float lo, float hi) {\n",
    "    u32 d = 0u;\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "    d = bnbq_dt_pack2(lo, hi);\n",
    "#else\n",
    "    (void)lo; (void)hi;\n",
    "#endif\n",
    "    return d;\n",
    "}\n",
    "// the weights of packed byte `b` (bits 8 i .. 8 i + 7 of word x): elements 2 i (high nibble) and\n",
    "// 2 i + 1 (low nibble) as a dt pair\n",
    "BNBQ_DEV u32 bnbq_m4_byte(const float* tab, u32 x, int i, float s) {\n",
    "    const float e = tab[(x >> (8 * i + 4)) & 15u] * s, o = tab[(x >> (8 * i)) & 15u] * s;\n",
    "    return bnbq_m4_pair(e, o);\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_matmul4_mma(const void* A, const u8* packed, const float* absmax, u64 M, u64 N, u64 K,\n",
    "                   int bs_shift, void* out, const void* bias, bnbq_code16 code) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_matmul4_mma)\n",
    "#line 121 \"matmul4.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BNBQ_M4M_W * 32)\n",
    "bnbq_k_matmul4_mma(const void* A, const u8* packed, const float* absmax, u64 M, u64 N, u64 K,\n",
    "                   int bs_shift, void* out, const void* bias, bnbq_code16 code) {\n",
    "    __shared__ float tab[16];\n",
    "    __shared__ float red[BNBQ_M4M_W][16][17];   // [warp][row of W][token]\n",
    "    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u64 K32 = K >> 5, steps = (K32 + 3) >> 2;\n",
    "    const bool two = M > 8;\n",
    "    const uint4 z = make_uint4(0u, 0u, 0u, 0u);\n",
    "    if (tid < 16) tab[tid] = code.v[tid];\n",
    "    __syncthreads();\n",
    "    for (u64 n0 = (u64)blockIdx.x * 16u; n0 < N; n0 += (u64)gridDim.x * 16u) {\n",
    "        const u64 na = n0 + g, nb = n0 + g + 8u;\n",
    "        float c0[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, c1[4] = { 0.0f, 0.0f, 0.0f, 0.0f };\n",
    "        for (u64 s = w; s < steps; s += BNBQ_M4M_W) {\n",
    "            const u64 ch = s * 4u + q;   // this lane's 32-element chunk of the rows\n",
    "            const bool in = ch < K32;\n",
    "            const bool ia = in && na < N, ib = in && nb < N;\n",
    "            const uint4 pa = ia ? __ldg((const uint4*)packed + na * K32 + ch) : z;\n",
    "            const uint4 pb = ib ? __ldg((const uint4*)packed + nb * K32 + ch) : z;\n",
    "            const float sa = ia ? __ldg(absmax + ((na * K + ch * 32u) >> bs_shift)) : 0.0f;\n",
    "            const float sb = ib ? __ldg(absmax + ((nb * K + ch * 32u) >> bs_shift)) : 0.0f;\n",
    "            uint4 x0[4], x1[4];\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 4; i++) {\n",
    "                x0[i] = in && g < M ? __ldg((const uint4*)((const u16*)A + (u64)g * K + ch * 32u) + i) : z;\n",
    "                x1[i] = in && two && g + 8u < M ? __ldg((const uint4*)((const u16*)A + (u64)(g + 8u) * K + ch * 32u) + i) : z;\n",
    "            }\n",
    "            const u32 wa[4] = { pa.x, pa.y, pa.z, pa.w }, wb[4] = { pb.x, pb.y, pb.z, pb.w };\n",
    "            const u32 t0[16] = { x0[0].x, x0[0].y, x0[0].z, x0[0].w, x0[1].x, x0[1].y, x0[1].z, x0[1].w,\n",
    "                                 x0[2].x, x0[2].y, x0[2].z, x0[2].w, x0[3].x, x0[3].y, x0[3].z, x0[3].w };\n",
    "            const u32 t1[16] = { x1[0].x, x1[0].y, x1[0].z, x1[0].w, x1[1].x, x1[1].y, x1[1].z, x1[1].w,\n",
    "                                 x1[2].x, x1[2].y, x1[2].z, x1[2].w, x1[3].x, x1[3].y, x1[3].z, x1[3].w };\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 8; j++) {   // elements 4j .. 4j + 3: bytes 2j (a0, a1) and 2j + 1 (a2, a3)\n",
    "                const int bi = (j & 1) * 2;\n",
    "                const u32 a0 = bnbq_m4_byte(tab, wa[j >> 1], bi, sa), a1 = bnbq_m4_byte(tab, wb[j >> 1], bi, sb);\n",
    "                const u32 a2 = bnbq_m4_byte(tab, wa[j >> 1], bi + 1, sa), a3 = bnbq_m4_byte(tab, wb[j >> 1], bi + 1, sb);\n",
    "                bnbq_mma16816(c0, a0, a1, a2, a3, t0[2 * j], t0[2 * j + 1]);\n",
    "                if (two) bnbq_mma16816(c1, a0, a1, a2, a3, t1[2 * j], t1[2 * j + 1]);\n",
    "            }\n",
    "        }\n",
    "        bnbq_mma_stash(red[w], g, q, c0, c1);\n",
    "        __syncthreads();\n",
    "        for (u32 o = tid; o < 256u; o += blockDim.x) {\n",
    "            const u32 m = o >> 4, nl = o & 15u;\n",
    "            const u64 n = n0 + nl;\n",
    "            if ((u64)m < M && n < N) {\n",
    "                float v = bnbq_mma_unstash<BNBQ_M4M_W>(red, nl, m);\n",
    "                if (bias) v = v + bnbq_m4_load(bias, n);\n",
    "                if (BNBQ_DT == BNBQ_F16) ((u16*)out)[(u64)m * N + n] = bnbq_f16_canon(v);\n",
    "                else bnbq_store(BNBQ_DT, out, (u64)m * N + n, v);\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 178 \"matmul4.cu\"\n",
    "#endif\n",
    0
};
static const char* const bnbq__cu_kernels_matmul4[] = {
    "bnbq_k_matmul4",
    "bnbq_k_matmul4_mma",
    0
};
static const char* const bnbq__cu_src_prims[] = {
    "#line 1 \"prims.cu\"\n",
    "// The layers' building blocks (bnbq.h >>prims): GEMM, column sums, layer norm (+ backward), row\n",
    "// gathers (plain, int8, 4-bit) and their backward, renorm, transpose, the LLM.int8 outlier product,\n",
    "// column gather / scatter, int8 weight dequantization. Compiled as units chosen with -D (each a\n",
    "// variant listed in bnbq_cuda.h's BNBQ__CU_VARIANTS_PRIMS):\n",
    "//   BNBQ_DT=0/1/2  the kernels on float tensors of that dtype (a compile-time constant)\n",
    "//   (no BNBQ_DT)   the dtype-free data movement: transpose, gather_rows, gather_columns\n",
    "// Each kernel is its own compilation unit (the launcher picks one).\n",
    "// Index errors (an index outside [0, num_rows), an outlier column outside [0, K)): the output row or\n",
    "// element is zeroed / skipped and *err = 1 (the context's sticky flag; bnbq_sync reports it).\n",
    "// Exact ops use the CPU's float operations one by one (--fmad=false); reductions sum in float32.\n",
    "\n",
    "#define PR_FULL 0xffffffffu\n",
    "\n",
    "#if defined(BNBQ_DT)\n",
    "\n",
    "// a 16-bit element of the unit's dtype widened (f16: for arithmetic only, bnbq_dt_ld's)\n",
    "BNBQ_DEV float pr_h2f(u16 h) { return BNBQ_DT == BNBQ_F16 ? bnbq_h2f_arith(h) : bnbq_bf16_to_f32(h); }\n",
    "// one RNE rounding to dt (NaN: canonical), as bnbq.h's bnbq__store\n",
    "BNBQ_DEV void pr_st(void* p, u64 i, float v) {\n",
    "    if (BNBQ_DT == BNBQ_F16) ((u16*)p)[i] = bnbq_f16_canon(v);\n",
    "    else bnbq_store(BNBQ_DT, p, i, v);\n",
    "}\n",
    "\n",
    "BNBQ_DEV float pr_warp_sum(float v) {\n",
    "    for (int o = 16; o > 0; o >>= 1) v = v + __shfl_xor_sync(PR_FULL, v, o);\n",
    "    return v;\n",
    "}\n",
    "// the sum of v over the block (every thread gets it); red: 32 floats of shared memory\n",
    "BNBQ_DEV float pr_block_sum(float v, float* red) {\n",
    "    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;\n",
    "    v = pr_warp_sum(v);\n",
    "    if (lane == 0) red[w] = v;\n",
    "    __syncthreads();\n",
    "    float t = 0.0f;\n",
    "    for (int i = 0; i < nw; i++) t = t + red[i];\n",
    "    __syncthreads();\n",
    "    return t;\n",
    "}\n",
    "\n",
    "// out[e] = dt(v (+ bias[n]) (+ out[e])): an output element of the GEMM kernels (a function of its own:\n",
    "// the unrolled 4 x 4 / MR x 4 epilogues called it inline 16 times, a good part of their units' NVRTC time)\n",
    "__device__ __noinline__ void pr_out(float v, u64 e, u64 n, const void* bias, int accumulate, void* out) {\n",
    "    if (bias) v = v + bnbq_dt_ld(bias, n);\n",
    "    if (accumulate) v = v + bnbq_dt_ld(out, e);\n",
    "    pr_st(out, e, v);\n",
    "}\n",
    "\n",
    "// ---- GEMM: out (M, N) = op(A) @ op(B) [+ bias] [+ out] -----------------------------------------\n",
    "// Tiles of 64 x 64 outputs, 16 of K per step, 256 threads with 4 x 4 outputs each, float32 FMA.\n",
    "// ta: A stored (K, M); tb: B stored (N, K). Loads follow the storage order (coalesced either way).\n",
    "#define PR_BM 64\n",
    "#define PR_BN 64\n",
    "#define PR_BK 16\n",
    "\n",
    "// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, int tb, const void* bias,\n",
    "            int accumulate, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm)\n",
    "#line 56 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_gemm(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, int tb, const void* bias,\n",
    "            int accumulate, void* out) {\n",
    "    __shared__ __align__(16) float As[PR_BK][PR_BM + 4];   // [k][m]\n",
    "    __shared__ __align__(16) float Bs[PR_BK][PR_BN + 4];   // [k][n]\n",
    "    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;\n",
    "    const u64 mtiles = (M + PR_BM - 1) / PR_BM;\n",
    "    const u64 n0 = (u64)blockIdx.x * PR_BN;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * PR_BM;\n",
    "        float acc[4][4];\n",
    "        bnbq_tile4x4_zero(acc);\n",
    "        for (u64 k0 = 0; k0 < K; k0 += PR_BK) {\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < 4; h++) {\n",
    "                const int e = tid + 256 * h;\n",
    "                {\n",
    "                    const int row = ta ? (e & 63) : (e >> 4), kk = ta ? (e >> 6) : (e & 15);\n",
    "                    const u64 m = m0 + (u64)row, k = k0 + (u64)kk;\n",
    "                    float a = 0.0f;\n",
    "                    if (m < M && k < K) a = bnbq_dt_ld(A, ta ? k * M + m : m * K + k);\n",
    "                    As[kk][row] = a;\n",
    "                }\n",
    "                {\n",
    "                    const int col = tb ? (e >> 4) : (e & 63), kk = tb ? (e & 15) : (e >> 6);\n",
    "                    const u64 n = n0 + (u64)col, k = k0 + (u64)kk;\n",
    "                    float b = 0.0f;\n",
    "                    if (n < N && k < K) b = bnbq_dt_ld(B, tb ? n * K + k : k * N + n);\n",
    "                    Bs[kk][col] = b;\n",
    "                }\n",
    "            }\n",
    "            __syncthreads();\n",
    "            bnbq_tile4x4_step<PR_BK, PR_BM + 4, true>(acc, As, Bs, ty, tx);\n",
    "            __syncthreads();\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            const u64 m = m0 + (u64)ty * 4 + (u64)i;\n",
    "            if (m >= M) break;\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) {\n",
    "                const u64 n = n0 + (u64)tx * 4 + (u64)j;\n",
    "                if (n < N) pr_out(acc[i][j], m * N + n, n, bias, accumulate, out);\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 103 \"prims.cu\"\n",
    "\n",
    "// Few rows (M <= 64, B stored (N, K): out = X @ W^T with few tokens): a warp per PR_SW = 4 output\n",
    "// columns n and MR rows m (blockIdx.x: the group of MR rows, so the blocks sharing the W rows are\n",
    "// launched together; blockIdx.y * 4 + warp (grid-stride): the column group). Lane l takes the\n",
    "// elements k of [k0, k0 + V) (V = 16 bytes of dt) for k0 = V * l, V * (l + 32), ...: 16-byte\n",
    "// loads of W (and of A when not ta), float32 FMA in k order per lane, then the MR x 4 sums over the\n",
    "// lanes by halving exchanges (pr_warp_sums: 15 shuffles for MR = 4 instead of 80, and one store a\n",
    "// lane instead of 16 unrolled ones; a fixed order: deterministic). vec: 16-byte loads allowed (K *\n",
    "// size and both pointers). Measured on the H100 against the 16 full warp sums it replaced (session\n",
    "// 11, bench/results/gpu-20261122-h100-session11-compile.txt): NVRTC time of gemm_few4 -35..-40 %,\n",
    "// M = 16 x 4096 x 4096 f16 / bf16 0.040 -> 0.035 ms.\n",
    "#define PR_SW 4\n",
    "#define PR_SV (BNBQ_DT == BNBQ_F32 ? 4 : 8)\n",
    "// V elements [k, k + V) of a dt row at p (row start e0), widened; past K: 0\n",
    "BNBQ_DEV void pr_ldv(const void* p, u64 e0, u64 k, u64 K, int vec, float* v) {\n",
    "    if (vec && k + PR_SV <= K) {\n",
    "        const uint4 q = *(const uint4*)((const char*)p + (e0 + k) * (BNBQ_DT == BNBQ_F32 ? 4 : 2));\n",
    "        const u32 w[4] = { q.x, q.y, q.z, q.w };\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            if (BNBQ_DT == BNBQ_F32) v[i] = __uint_as_float(w[i]);\n",
    "            else if (BNBQ_DT == BNBQ_F16) {\n",
    "                v[2 * i] = bnbq_h2f_arith((u16)(w[i] & 0xffffu));\n",
    "                v[2 * i + 1] = bnbq_h2f_arith((u16)(w[i] >> 16));\n",
    "            } else {\n",
    "                v[2 * i] = __uint_as_float(w[i] << 16);\n",
    "                v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);\n",
    "            }\n",
    "        }\n",
    "    } else {\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < PR_SV; i++) v[i] = k + (u64)i < K ? bnbq_dt_ld(p, e0 + k + (u64)i) : 0.0f;\n",
    "    }\n",
    "}\n",
    "\n",
    "// 16 bytes of W, read past L1 (streamed once; L1 keeps the activation rows)\n",
    "BNBQ_DEV uint4 pr_ld_stream(const void* p) {\n",
    "    uint4 q;\n",
    "    asm volatile(\"ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\"\n",
    "                 : \"=r\"(q.x), \"=r\"(q.y), \"=r\"(q.z), \"=r\"(q.w) : \"l\"(p));\n",
    "    return q;\n",
    "}\n",
    "BNBQ_DEV void pr_widen16(uint4 q, float* v) {\n",
    "    const u32 w[4] = { q.x, q.y, q.z, q.w };\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++) {\n",
    "        if (BNBQ_DT == BNBQ_F32) v[i] = __uint_as_float(w[i]);\n",
    "        else if (BNBQ_DT == BNBQ_F16) {\n",
    "            v[2 * i] = bnbq_h2f_arith((u16)(w[i] & 0xffffu));\n",
    "            v[2 * i + 1] = bnbq_h2f_arith((u16)(w[i] >> 16));\n",
    "        } else {\n",
    "            v[2 * i] = __uint_as_float(w[i] << 16);\n",
    "            v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "// The warp's sums of V values (V a power of two <= 32) of every lane, by halving exchanges: at\n",
    "// offset o = 16, 8, ... a lane keeps the half of its values that its bit o selects and adds its\n",
    "// partner's copy of that half (log2 V rounds, V - 1 shuffles), then the single value left is summed\n",
    "// over the remaining lane bits. Returns the sum of value *idx; every lane whose bits below the last\n",
    "// halving offset are 0 holds a distinct one (v is clobbered). A fixed order: deterministic.\n",
    "template <int V>\n",
    "BNBQ_DEV float pr_warp_sums(float* v, int lane, int* idx) {\n",
    "    int base = 0;\n",
    "#pragma unroll\n",
    "    for (int o = 16, n = V; o >= 1; o >>= 1) {\n",
    "        if (n > 1) {\n",
    "            const int half = n >> 1, up = (lane & o) != 0;\n",
    "#pragma unroll\n",
    "            for (int t = 0; t < half; t++) {\n",
    "                const float send = up ? v[t] : v[t + half];\n",
    "                const float keep = up ? v[t + half] : v[t];\n",
    "                v[t] = keep + __shfl_xor_sync(PR_FULL, send, o);\n",
    "            }\n",
    "            base += up ? half : 0;\n",
    "            n = half;\n",
    "        } else {\n",
    "            v[0] = v[0] + __shfl_xor_sync(PR_FULL, v[0], o);\n",
    "        }\n",
    "    }\n",
    "    *idx = base;\n",
    "    return v[0];\n",
    "}\n",
    "\n",
    "template <int MR>\n",
    "BNBQ_DEV void pr_gemm_few(const void* A, const void* B, u64 M, u64 N, u64 K, int ta,\n",
    "                          const void* bias, int accumulate, void* out, int vec) {\n",
    "    // U chunks per fast step (all their loads issued first): more bytes in flight with few rows\n",
    "    const int U = MR == 1 ? 4 : 1;\n",
    "    const u64 es = BNBQ_DT == BNBQ_F32 ? 4 : 2;\n",
    "    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpb = blockDim.x >> 5;\n",
    "    const u64 m0 = (u64)blockIdx.x * MR;\n",
    "    const int mr = M - m0 < (u64)MR ? (int)(M - m0) : MR;\n",
    "    const u64 groups = (N + PR_SW - 1) / PR_SW;\n",
    "    for (u64 g = (u64)blockIdx.y * wpb + (u64)warp; g < groups; g += (u64)gridDim.y * wpb) {\n",
    "        const u64 n0 = g * PR_SW;\n",
    "        float acc[MR][PR_SW];\n",
    "#pragma unroll\n",
    "        for (int m = 0; m < MR; m++)\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < PR_SW; j++) acc[m][j] = 0.0f;\n",
    "        u64 k = (u64)lane * PR_SV;\n",
    "        // fast steps: 16-byte loads, every W row of the group (rows past N: row n0) and every A\n",
    "        // row (rows past mr: row m0; both computed and dropped), issued before the arithmetic\n",
    "        if (vec && !ta)\n",
    "            for (; k + (u64)(U - 1) * 32 * PR_SV + PR_SV <= K; k += (u64)U * 32 * PR_SV) {\n",
    "                uint4 wq[U][PR_SW], aq[U][MR];\n",
    "#pragma unroll\n",
    "                for (int u = 0; u < U; u++) {\n",
    "                    const u64 kk = k + (u64)u * 32 * PR_SV;\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < PR_SW; j++) {\n",
    "                        const u64 n = n0 + (u64)j < N ? n0 + (u64)j : n0;\n",
    "                        wq[u][j] = pr_ld_stream((const char*)B + (n * K + kk) * es);\n",
    "                    }\n",
    "#pragma unroll\n",
    "                    for (int m = 0; m < MR; m++) {\n",
    "                        const u64 r = m < mr ? m0 + (u64)m : m0;\n",
    "                        aq[u][m] = *(const uint4*)((const char*)A + (r * K + kk) * es);\n",
    "                    }\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (int u = 0; u < U; u++) {\n",
    "                    float w[PR_SW][PR_SV];\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < PR_SW; j++) pr_widen16(wq[u][j], w[j]);\n",
    "#pragma unroll\n",
    "                    for (int m = 0; m < MR; m++) {\n",
    "                        float a[PR_SV];\n",
    "                        pr_widen16(aq[u][m], a);\n",
    "#pragma unroll\n",
    "                        for (int j = 0; j < PR_SW; j++)\n",
    "#pragma unroll\n",
    "                            for (int i = 0; i < PR_SV; i++) acc[m][j] = fmaf(a[i], w[j][i], acc[m][j]);\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "        // the rest (and every step without 16-byte loads), one chunk at a time, same k order:\n",
    "        // element by element (a loop that is not unrolled keeps this rare path's code, and the\n",
    "        // unit's NVRTC time, small; the fmaf order per (m, j) is the same as the fast steps')\n",
    "        for (; k < K; k += 32 * PR_SV) {\n",
    "#pragma unroll 1\n",
    "            for (int i = 0; i < PR_SV; i++) {\n",
    "                const u64 kk = k + (u64)i;\n",
    "                float w[PR_SW];\n",
    "                if (kk >= K) break;\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < PR_SW; j++)\n",
    "                    w[j] = n0 + (u64)j < N ? bnbq_dt_ld(B, (n0 + (u64)j) * K + kk) : 0.0f;\n",
    "#pragma unroll\n",
    "                for (int m = 0; m < MR; m++) {\n",
    "                    const u64 r = m < mr ? m0 + (u64)m : m0;\n",
    "                    const float a = ta ? bnbq_dt_ld(A, kk * M + r) : bnbq_dt_ld(A, r * K + kk);\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < PR_SW; j++) acc[m][j] = fmaf(a, w[j], acc[m][j]);\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "        // the warp's MR x PR_SW sums, one per lane (pr_warp_sums): lane l holds value idx; the lanes\n",
    "        // with l % (32 / (MR PR_SW)) == 0 hold distinct ones and store them\n",
    "        {\n",
    "            float v[MR * PR_SW];\n",
    "            int idx;\n",
    "#pragma unroll\n",
    "            for (int m = 0; m < MR; m++)\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < PR_SW; j++) v[m * PR_SW + j] = acc[m][j];\n",
    "            const float sum = pr_warp_sums<MR * PR_SW>(v, lane, &idx);\n",
    "            const int m = idx / PR_SW, j = idx % PR_SW;\n",
    "            const u64 n = n0 + (u64)j;\n",
    "            if ((lane & (32 / (MR * PR_SW) - 1)) == 0 && m < mr && n < N)\n",
    "                pr_out(sum, (m0 + (u64)m) * N + n, n, bias, accumulate, out);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_few1(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, const void* bias,\n",
    "                 int accumulate, void* out, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_few1)\n",
    "#line 279 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(128)\n",
    "bnbq_k_gemm_few1(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, const void* bias,\n",
    "                 int accumulate, void* out, int vec) {\n",
    "    pr_gemm_few<1>(A, B, M, N, K, ta, bias, accumulate, out, vec);\n",
    "}\n",
    "#endif\n",
    "#line 284 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_few4(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, const void* bias,\n",
    "                 int accumulate, void* out, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_few4)\n",
    "#line 284 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(128)\n",
    "bnbq_k_gemm_few4(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, const void* bias,\n",
    "                 int accumulate, void* out, int vec) {\n",
    "    pr_gemm_few<4>(A, B, M, N, K, ta, bias, accumulate, out, vec);\n",
    "}\n",
    "#endif\n",
    "#line 289 \"prims.cu\"\n",
    "\n",
    "// Tensor cores (f16 / bf16, sm_80+; the launcher picks it): mma.sync m16n8k16 with float32\n",
    "// accumulation. Tiles of 128 x 128 outputs, 32 of K per step, 8 warps of 64 x 32 outputs. The tiles\n",
    "// sit in shared memory K-contiguous (A as [m][k], B as [n][k]) whatever the storage order; the raw\n",
    "// 16-bit elements are copied (a NaN / inf flows through the products as in the SIMT kernel).\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "#define PR_TM 128\n",
    "#define PR_TN 128\n",
    "#define PR_TK 32\n",
    "#define PR_TLD (PR_TK + 8)   // row stride in u16: 20 words, fragment reads without bank conflicts\n",
    "\n",
    "// Few tokens on tensor cores (the launcher: 2..16 rows of A, B stored (N, K), A stored (M, K), K % 16\n",
    "// == 0, A and B 16-byte aligned; sm_80+): out = X @ W^T with W as the mma's A operand (16 rows of W a\n",
    "// tile) and the tokens as its B (8 a tile; 9..16 tokens: a second). A block takes 16 rows of W and its\n",
    "// PR_FW warps split K in steps of 64: lane (g, q) loads the 16 elements [64 s + 16 q, + 16) of W's rows\n",
    "// g and g + 8 and of tokens g and g + 8 (two 16-byte loads each), mma j (0..3) gets their elements\n",
    "// 4j .. 4j + 3 (the k order permuted alike for both operands: the products exact, the float32 sums in\n",
    "// the tensor cores' order, as bnbq_k_gemm_tc). The warps' sums meet in shared memory in warp order;\n",
    "// pr_out adds the bias / the old out. (bnbq_k_gemm_few4 streamed W once per 4 rows of A: StandardLinear\n",
    "// at 16 tokens 1.6-1.9x cuBLAS f16 on the H100; this kernel 1.03-1.14x. 16 warps a block measured\n",
    "// 0.97-1.15x, no better overall: bench/results/gpu-20261123-h100-session20-gemm-mma.txt.)\n",
    "#define PR_FW 8\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_mma(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_mma)\n",
    "#line 311 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(PR_FW * 32)\n",
    "bnbq_k_gemm_mma(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                void* out) {\n",
    "    __shared__ float red[PR_FW][16][17];\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)   // [warp][row of W][token]\n",
    "    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u64 K16 = K >> 4, steps = (K16 + 3) >> 2;\n",
    "    const bool two = M > 8;\n",
    "    const uint4 z = make_uint4(0u, 0u, 0u, 0u);\n",
    "    const u16* X = (const u16*)A;\n",
    "    const u16* W = (const u16*)B;\n",
    "    for (u64 n0 = (u64)blockIdx.x * 16u; n0 < N; n0 += (u64)gridDim.x * 16u) {\n",
    "        const u64 na = n0 + g, nb = n0 + g + 8u;\n",
    "        float c0[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, c1[4] = { 0.0f, 0.0f, 0.0f, 0.0f };\n",
    "        for (u64 s = w; s < steps; s += PR_FW) {\n",
    "            const u64 ch = s * 4u + q;   // this lane's 16-element chunk of the rows\n",
    "            const bool in = ch < K16;\n",
    "            uint4 wa[2], wb[2], x0[2], x1[2];\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 2; i++) {\n",
    "                wa[i] = in && na < N ? __ldg((const uint4*)(W + na * K + ch * 16u) + i) : z;\n",
    "                wb[i] = in && nb < N ? __ldg((const uint4*)(W + nb * K + ch * 16u) + i) : z;\n",
    "                x0[i] = in && g < M ? __ldg((const uint4*)(X + (u64)g * K + ch * 16u) + i) : z;\n",
    "                x1[i] = in && two && g + 8u < M ? __ldg((const uint4*)(X + (u64)(g + 8u) * K + ch * 16u) + i) : z;\n",
    "            }\n",
    "            const u32 ra[8] = { wa[0].x, wa[0].y, wa[0].z, wa[0].w, wa[1].x, wa[1].y, wa[1].z, wa[1].w };\n",
    "            const u32 rb[8] = { wb[0].x, wb[0].y, wb[0].z, wb[0].w, wb[1].x, wb[1].y, wb[1].z, wb[1].w };\n",
    "            const u32 t0[8] = { x0[0].x, x0[0].y, x0[0].z, x0[0].w, x0[1].x, x0[1].y, x0[1].z, x0[1].w };\n",
    "            const u32 t1[8] = { x1[0].x, x1[0].y, x1[0].z, x1[0].w, x1[1].x, x1[1].y, x1[1].z, x1[1].w };\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) {   // elements 4j .. 4j + 3: words 2j (a0, a1, b0) and 2j + 1 (a2, a3, b1)\n",
    "                const u32 a[4] = { ra[2 * j], rb[2 * j], ra[2 * j + 1], rb[2 * j + 1] };\n",
    "                bnbq_mma16816(c0, a[0], a[1], a[2], a[3], t0[2 * j], t0[2 * j + 1]);\n",
    "                if (two) bnbq_mma16816(c1, a[0], a[1], a[2], a[3], t1[2 * j], t1[2 * j + 1]);\n",
    "            }\n",
    "        }\n",
    "        bnbq_mma_stash(red[w], g, q, c0, c1);\n",
    "        __syncthreads();\n",
    "        for (u32 o = tid; o < 256u; o += blockDim.x) {\n",
    "            const u32 m = o >> 4, nl = o & 15u;\n",
    "            const u64 n = n0 + nl;\n",
    "            if ((u64)m < M && n < N) {\n",
    "                pr_out(bnbq_mma_unstash<PR_FW>(red, nl, m), (u64)m * N + n, n, bias, accumulate, out);\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 359 \"prims.cu\"\n",
    "\n",
    "// Few tokens, B stored (K, N) on tensor cores (the launcher: 1..16 rows of A, A stored (M, K), K % 16\n",
    "// == 0, N % 4 == 0, A 8-byte and B 8-byte aligned; sm_80+): out = X @ W, the backward's dY @ W.\n",
    "// The tokens are the mma's A operand (all 16 in one tile: rows >= M are zero) and W its B. A block\n",
    "// takes 32 columns of W and its PR_NW warps split K in steps of 16 (PR_NU of them loaded at once). Lane (g, q) reads rows\n",
    "// k + 4q .. k + 4q + 3 of W at columns 4g .. 4g + 3 of the tile (8 bytes each: the 8 lanes of a q\n",
    "// read 64 contiguous bytes of a row) and X[g], X[g + 8] at k + 4q .. k + 4q + 3; mma i (0..3) takes\n",
    "// column 4g + i of the tile as its column g, its k pairs (2q, 2q + 1) and (2q + 8, 2q + 9) being rows\n",
    "// (4q, 4q + 1) and (4q + 2, 4q + 3) (the same permutation of k for X: products exact, float32 sums in\n",
    "// the tensor cores' order). D[token][2q + j] of mma i is column 4 (2q + j) + i. The warps' sums meet in\n",
    "// shared memory in warp order; pr_out adds the bias / the old out. (bnbq_k_gemm_tc's 128 x 128 tiles\n",
    "// gave such a product 32 blocks: StandardLinear's backward at 16 tokens took 0.5 ms on the H100.)\n",
    "#define PR_NW 8   // warps a block (the launcher's BNBQ__CU_GEMM_NW)\n",
    "#define PR_NU 4   // steps a warp loads at once\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_mma_nn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                   void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_mma_nn)\n",
    "#line 373 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(PR_NW * 32)\n",
    "bnbq_k_gemm_mma_nn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                   void* out) {\n",
    "    __shared__ float red[PR_NW][16][33];\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)   // [warp][token][column of the tile]\n",
    "    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u64 steps = K >> 4;\n",
    "    const u16* X = (const u16*)A;\n",
    "    const u16* W = (const u16*)B;\n",
    "    for (u64 n0 = (u64)blockIdx.x * 32u; n0 < N; n0 += (u64)gridDim.x * 32u) {\n",
    "        const u64 nc = n0 + 4u * g;   // this lane's 4 columns\n",
    "        const bool cin = nc < N;       // (N % 4 == 0: all four or none)\n",
    "        float c[4][4];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) c[i][0] = c[i][1] = c[i][2] = c[i][3] = 0.0f;\n",
    "        for (u64 s0 = w; s0 < steps; s0 += PR_NW * PR_NU) {   // PR_NU steps' loads in flight at once\n",
    "            uint2 wr[PR_NU][4], x0[PR_NU], x1[PR_NU];\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < PR_NU; u++) {   // a step past K: zeros (products +0)\n",
    "                const u64 st = s0 + (u64)u * PR_NW, k = st * 16u + 4u * q;\n",
    "                const bool in = st < steps;\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < 4; j++)\n",
    "                    wr[u][j] = in && cin ? __ldg((const uint2*)(W + (k + (u64)j) * N + nc)) : make_uint2(0u, 0u);\n",
    "                x0[u] = in && g < M ? __ldg((const uint2*)(X + (u64)g * K + k)) : make_uint2(0u, 0u);\n",
    "                x1[u] = in && g + 8u < M ? __ldg((const uint2*)(X + (u64)(g + 8u) * K + k)) : make_uint2(0u, 0u);\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < PR_NU; u++)\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 4; i++) {   // column 4g + i: its 16-bit half of rows j = 0..3\n",
    "                    const u32 sel = (i & 1) ? 0x7632u : 0x5410u;\n",
    "                    const u32 w0 = (i < 2) ? wr[u][0].x : wr[u][0].y, w1 = (i < 2) ? wr[u][1].x : wr[u][1].y;\n",
    "                    const u32 w2 = (i < 2) ? wr[u][2].x : wr[u][2].y, w3 = (i < 2) ? wr[u][3].x : wr[u][3].y;\n",
    "                    bnbq_mma16816(c[i], x0[u].x, x1[u].x, x0[u].y, x1[u].y, __byte_perm(w0, w1, sel),\n",
    "                                  __byte_perm(w2, w3, sel));\n",
    "                }\n",
    "        }\n",
    "        // c[i]: tokens g (0, 1) and g + 8 (2, 3), columns 4 (2q) + i and 4 (2q + 1) + i of the tile\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            red[w][g][8u * q + (u32)i] = c[i][0];\n",
    "            red[w][g][8u * q + 4u + (u32)i] = c[i][1];\n",
    "            red[w][g + 8u][8u * q + (u32)i] = c[i][2];\n",
    "            red[w][g + 8u][8u * q + 4u + (u32)i] = c[i][3];\n",
    "        }\n",
    "        __syncthreads();\n",
    "        for (u32 o = tid; o < 512u; o += blockDim.x) {\n",
    "            const u32 m = o >> 5, nl = o & 31u;\n",
    "            const u64 n = n0 + nl;\n",
    "            if ((u64)m < M && n < N) {\n",
    "                float v = 0.0f;\n",
    "#pragma unroll\n",
    "                for (int k = 0; k < PR_NW; k++) v = v + red[k][m][nl];\n",
    "                pr_out(v, (u64)m * N + n, n, bias, accumulate, out);\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 433 \"prims.cu\"\n",
    "\n",
    "// Small K, A transposed (the launcher: A stored (K, M), B stored (K, N), K <= 16, M % 4 == 0, N % 8\n",
    "// == 0, A and B 8-byte and out 16-byte aligned; sm_80+): out = A^T @ B, the backward's weight gradient\n",
    "// dY^T @ X with K = the tokens. One mma k-step covers K (rows >= K are zero). A warp takes 64 rows x\n",
    "// 32 columns of out: lane (g, q) reads 8 bytes of A's rows 2q, 2q + 1, 2q + 8, 2q + 9 at rows\n",
    "// 4g .. 4g + 3 and 32 + 4g .. 32 + 4g + 3 of the tile, and of B's same rows at columns 4g .. 4g + 3;\n",
    "// prmt pairs the two rows of each element into the mma's registers. mma (i, j) (i, j = 0..3) takes\n",
    "// tile rows 4g + i (its row g) and 32 + 4g + i (g + 8) and tile columns 4g + j (its column g), so its\n",
    "// D[r][2q + t] is out row 4r' + i (r' = r, or 32 + 4 (r - 8) for r >= 8) and column 4 (2q + t) + j.\n",
    "// The warp's 64 x 32 sums go through shared memory and leave as 16-byte stores (pr_out's bias / old\n",
    "// out added in float32 first). (bnbq_k_gemm_tc wrote its fragments 2 bytes at a time: StandardLinear's\n",
    "// weight gradient at 16 tokens x 4096^2 took 83 us on the H100, cuBLAS 17.)\n",
    "#define PR_KW 4   // warps a block (the launcher's BNBQ__CU_GEMM_KW); the block: 64 rows x 32 PR_KW columns\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_smallk(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                   void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_smallk)\n",
    "#line 446 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(PR_KW * 32)\n",
    "bnbq_k_gemm_smallk(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                   void* out) {\n",
    "    __shared__ float sh[PR_KW][64][33];\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)   // [warp][row of the tile][column]\n",
    "    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u16* G = (const u16*)A;\n",
    "    const u16* X = (const u16*)B;\n",
    "    const u64 tm = (M + 63) / 64, tn = (N + 32 * PR_KW - 1) / (32 * PR_KW);\n",
    "    const uint2 z = make_uint2(0u, 0u);\n",
    "    for (u64 t = blockIdx.x; t < tm * tn; t += gridDim.x) {\n",
    "        const u64 m0 = (t / tn) * 64u, n0 = (t % tn) * (32u * PR_KW) + 32u * w;\n",
    "        const u64 ma = m0 + 4u * g, mb = m0 + 32u + 4u * g, nc = n0 + 4u * g;\n",
    "        uint2 ga[4], gb[4], xb[4];   // rows 2q, 2q + 1, 2q + 8, 2q + 9\n",
    "#pragma unroll\n",
    "        for (int r = 0; r < 4; r++) {\n",
    "            const u64 k = 2u * q + (u64)(r & 1) + (r >= 2 ? 8u : 0u);\n",
    "            ga[r] = k < K && ma < M ? __ldg((const uint2*)(G + k * M + ma)) : z;\n",
    "            gb[r] = k < K && mb < M ? __ldg((const uint2*)(G + k * M + mb)) : z;\n",
    "            xb[r] = k < K && nc < N ? __ldg((const uint2*)(X + k * N + nc)) : z;\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++) {\n",
    "            const u32 si = (i & 1) ? 0x7632u : 0x5410u;\n",
    "            const u32 a0 = __byte_perm(i < 2 ? ga[0].x : ga[0].y, i < 2 ? ga[1].x : ga[1].y, si);\n",
    "            const u32 a1 = __byte_perm(i < 2 ? gb[0].x : gb[0].y, i < 2 ? gb[1].x : gb[1].y, si);\n",
    "            const u32 a2 = __byte_perm(i < 2 ? ga[2].x : ga[2].y, i < 2 ? ga[3].x : ga[3].y, si);\n",
    "            const u32 a3 = __byte_perm(i < 2 ? gb[2].x : gb[2].y, i < 2 ? gb[3].x : gb[3].y, si);\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) {\n",
    "                const u32 sj = (j & 1) ? 0x7632u : 0x5410u;\n",
    "                const u32 b0 = __byte_perm(j < 2 ? xb[0].x : xb[0].y, j < 2 ? xb[1].x : xb[1].y, sj);\n",
    "                const u32 b1 = __byte_perm(j < 2 ? xb[2].x : xb[2].y, j < 2 ? xb[3].x : xb[3].y, sj);\n",
    "                float c[4] = { 0.0f, 0.0f, 0.0f, 0.0f };\n",
    "                bnbq_mma16816(c, a0, a1, a2, a3, b0, b1);\n",
    "                sh[w][4u * g + (u32)i][8u * q + (u32)j] = c[0];\n",
    "                sh[w][4u * g + (u32)i][8u * q + 4u + (u32)j] = c[1];\n",
    "                sh[w][32u + 4u * g + (u32)i][8u * q + (u32)j] = c[2];\n",
    "                sh[w][32u + 4u * g + (u32)i][8u * q + 4u + (u32)j] = c[3];\n",
    "            }\n",
    "        }\n",
    "        __syncwarp();\n",
    "#pragma unroll 2\n",
    "        for (u32 o = lane; o < 256u; o += 32u) {   // 64 rows x 4 pieces of 8 columns\n",
    "            const u32 rl = o >> 2, pc = o & 3u;\n",
    "            const u64 m = m0 + rl, n = n0 + 8u * pc;\n",
    "            if (m < M && n < N) {   // (N % 8 == 0: the piece is in or out)\n",
    "                float v[8];\n",
    "                u32 wd[4];\n",
    "#pragma unroll\n",
    "                for (int e = 0; e < 8; e++) {\n",
    "                    v[e] = sh[w][rl][8u * pc + (u32)e];\n",
    "                    if (bias) v[e] = v[e] + bnbq_dt_ld(bias, n + (u64)e);\n",
    "                    if (accumulate) v[e] = v[e] + bnbq_dt_ld(out, m * N + n + (u64)e);\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (int e = 0; e < 4; e++) wd[e] = bnbq_dt_pack2(v[2 * e], v[2 * e + 1]);\n",
    "                *(uint4*)((u16*)out + m * N + n) = make_uint4(wd[0], wd[1], wd[2], wd[3]);\n",
    "            }\n",
    "        }\n",
    "        __syncwarp();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 509 \"prims.cu\"\n",
    "\n",
    "// a warp's 64 x 32 sums of the 128 x 128 tiles (below) set to 0\n",
    "BNBQ_DEV void pr_tc_zero(float (&acc)[4][4][4]) {\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < 4; j++)\n",
    "#pragma unroll\n",
    "            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;\n",
    "}\n",
    "// One k16 step of a warp's 64 x 32 outputs of the 128 x 128 tiles (bnbq_k_gemm_tc, bnbq_k_outlier_mm_tc): A's rows\n",
    "// wm * 64 .. and B's rows (columns of the output) wn * 32 .. of the shared tiles As / Bs ([row][k], LD elements a row)\n",
    "// at k = ks, four m16 x four n8 mma.m16n8k16 into acc (lane (g, t): the PTX ISA's fragments)\n",
    "template <int LD>\n",
    "BNBQ_DEV void pr_tc_k16(float (&acc)[4][4][4], const u16* As, const u16* Bs, int wm, int wn, int g, int t, int ks) {\n",
    "    u32 af[4][4], bf[4][2];\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++) {\n",
    "        const u16* p = As + (wm * 64 + i * 16 + g) * LD + ks + 2 * t;\n",
    "        af[i][0] = *(const u32*)p;\n",
    "        af[i][1] = *(const u32*)(p + 8 * LD);\n",
    "        af[i][2] = *(const u32*)(p + 8);\n",
    "        af[i][3] = *(const u32*)(p + 8 * LD + 8);\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int j = 0; j < 4; j++) {\n",
    "        const u16* p = Bs + (wn * 32 + j * 8 + g) * LD + ks + 2 * t;\n",
    "        bf[j][0] = *(const u32*)p;\n",
    "        bf[j][1] = *(const u32*)(p + 8);\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < 4; j++)\n",
    "            bnbq_mma16816(acc[i][j], af[i][0], af[i][1], af[i][2], af[i][3], bf[j][0], bf[j][1]);\n",
    "}\n",
    "\n",
    "// an output element of bnbq_k_gemm_tc's fragments, those inside (M, N) only (pr_out; the bounds\n",
    "// check here and not at the 16 unrolled call sites keeps the unit's NVRTC time down)\n",
    "__device__ __noinline__ void pr_tc_out(void* out, const void* bias, int accumulate, u64 M, u64 N, u64 m, u64 n, float v) {\n",
    "    if (m < M && n < N) pr_out(v, m * N + n, n, bias, accumulate, out);\n",
    "}\n",
    "\n",
    "// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_tc(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, int tb, const void* bias,\n",
    "               int accumulate, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_tc)\n",
    "#line 553 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_gemm_tc(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, int tb, const void* bias,\n",
    "               int accumulate, void* out) {\n",
    "#if __CUDA_ARCH__ >= 800\n",
    "    __shared__ __align__(16) u16 As[PR_TM * PR_TLD];\n",
    "    __shared__ __align__(16) u16 Bs[PR_TN * PR_TLD];\n",
    "    const u16* a16 = (const u16*)A;\n",
    "    const u16* b16 = (const u16*)B;\n",
    "    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3;\n",
    "    const int g = lane >> 2, t = lane & 3;\n",
    "    const u64 mtiles = (M + PR_TM - 1) / PR_TM;\n",
    "    const u64 n0 = (u64)blockIdx.x * PR_TN;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * PR_TM;\n",
    "        float acc[4][4][4];\n",
    "        pr_tc_zero(acc);\n",
    "        for (u64 k0 = 0; k0 < K; k0 += PR_TK) {\n",
    "#pragma unroll 4\n",
    "            for (int h = 0; h < 16; h++) {\n",
    "                const int e = tid + 256 * h;\n",
    "                {\n",
    "                    const int row = ta ? (e & 127) : (e >> 5), kk = ta ? (e >> 7) : (e & 31);\n",
    "                    const u64 m = m0 + (u64)row, k = k0 + (u64)kk;\n",
    "                    u16 v = 0;\n",
    "                    if (m < M && k < K) v = a16[ta ? k * M + m : m * K + k];\n",
    "                    As[row * PR_TLD + kk] = v;\n",
    "                }\n",
    "                {\n",
    "                    const int col = tb ? (e >> 5) : (e & 127), kk = tb ? (e & 31) : (e >> 7);\n",
    "                    const u64 n = n0 + (u64)col, k = k0 + (u64)kk;\n",
    "                    u16 v = 0;\n",
    "                    if (n < N && k < K) v = b16[tb ? n * K + k : k * N + n];\n",
    "                    Bs[col * PR_TLD + kk] = v;\n",
    "                }\n",
    "            }\n",
    "            __syncthreads();\n",
    "#pragma unroll\n",
    "            for (int ks = 0; ks < PR_TK; ks += 16) pr_tc_k16<PR_TLD>(acc, As, Bs, wm, wn, g, t, ks);\n",
    "            __syncthreads();\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) {\n",
    "                const u64 m = m0 + (u64)(wm * 64 + i * 16 + g), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);\n",
    "                pr_tc_out(out, bias, accumulate, M, N, m, n, acc[i][j][0]);\n",
    "                pr_tc_out(out, bias, accumulate, M, N, m, n + 1, acc[i][j][1]);\n",
    "                pr_tc_out(out, bias, accumulate, M, N, m + 8, n, acc[i][j][2]);\n",
    "                pr_tc_out(out, bias, accumulate, M, N, m + 8, n + 1, acc[i][j][3]);\n",
    "            }\n",
    "    }\n",
    "#endif\n",
    "}\n",
    "#endif\n",
    "#line 606 \"prims.cu\"\n",
    "\n",
    "// ---- bnbq_k_gemm_t2_{nn,nt,tn,tt}: the same tiles fed by cp.async and ldmatrix (sm_80+) ------------\n",
    "// (the launcher: f16 / bf16, A and B 16-byte aligned, the contiguous dimension of each a multiple of 8:\n",
    "// K for A unless trans_a, else M; K for B with trans_b, else N.) bnbq_k_gemm_tc above loads its tiles\n",
    "// 2 bytes at a time with a barrier each step (~70 TFLOP/s on the H100). Here the same 128 x 128 tiles\n",
    "// and 8 warps of 64 x 32 outputs, the same mma.m16n8k16 sequence per output (k ascending in steps of\n",
    "// 16: the sums of bnbq_k_gemm_tc), but the tiles arrive by 16-byte cp.async copies into a ring of\n",
    "// PR_T2_S stages in dynamic shared memory (A's 128 x 32 and B's 32 x 128 elements a stage, 16 KB) and\n",
    "// leave it by ldmatrix (.trans where the operand is stored with M or N contiguous). Layout of a stage's\n",
    "// operand: K contiguous, [row][k] (64 bytes a row, chunk c at c ^ ((row / 2) % 4)); M or N contiguous,\n",
    "// [k][row] (256 bytes a k, chunk c at c ^ (k % 8)): either way the 8 rows an ldmatrix phase reads lie\n",
    "// in 8 different 16-byte bank groups. Fragments (PTX ISA m16n8k16): A's a0..a3 = rows g / g + 8 at k\n",
    "// 2q, 2q + 1 / 8 + 2q, 8 + 2q + 1; B's b0, b1 = column g at the same k; D rows g, g + 8, columns 2q,\n",
    "// 2q + 1. The epilogue goes through the ring (pr_t2_piece).\n",
    "#ifndef PR_T2_S\n",
    "#define PR_T2_S 3   // stages (the launcher's BNBQ__CU_T2_S)\n",
    "#endif\n",
    "#define PR_T2_STAGE 16384u\n",
    "BNBQ_DEV u32 pr_t2_rc(u32 k, u32 c) { return k * 256u + ((c ^ (k & 7u)) << 4); }              // [k][row]\n",
    "// one operand's part of stage kt (k0 = 32 kt) into the stage at st: 512 chunks of 16 bytes, two a thread.\n",
    "// KC (K contiguous): chunk e = row e / 4, k 8 (e % 4); else k e / 16, row 8 (e % 16). rows: M or N; ld:\n",
    "// the stored row length (K when KC, else rows).\n",
    "template <int KC>\n",
    "BNBQ_DEV void pr_t2_load(u32 st, const u16* X, u64 rows, u64 K, u64 r0, u64 k0) {\n",
    "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < 2; h++) {\n",
    "        const u32 e = threadIdx.x + 256u * (u32)h;\n",
    "        const u32 row = KC ? e >> 2 : 8u * (e & 15u), kk = KC ? 8u * (e & 3u) : e >> 4;\n",
    "        const u64 r = r0 + row, k = k0 + kk;\n",
    "        const bool ok = r < rows && k < K;\n",
    "        const u16* src = ok ? X + (KC ? r * K + k : k * rows + r) : X;\n",
    "        bnbq_cp16(st + (KC ? bnbq_tile64_off(row, e & 3u) : pr_t2_rc(kk, e & 15u)), src, ok ? 16u : 0u);\n",
    "    }\n",
    "#else\n",
    "    (void)st; (void)X; (void)rows; (void)K; (void)r0; (void)k0;\n",
    "#endif\n",
    "}\n",
    "// The epilogue of bnbq_k_gemm_t2_* goes through the ring (free after the mainloop), half a tile at a time: the warps\n",
    "// of rows 64 h .. 64 h + 63 store their float32 sums at PR_T2_LD floats a row (8-byte stores, no bank conflict),\n",
    "// then each thread takes 8 pieces of 4 outputs of a row (a warp: the row's 128 columns, 16-byte reads without\n",
    "// bank conflicts): + bias (staged as 128 floats after the half tile, -0 without one: v + -0 is v), + out\n",
    "// (accumulate), one rounding to dt, one 8-byte store. Where a piece is cut by N, or N % 4 or out's alignment rule\n",
    "// out 8-byte stores, its outputs go one by one (pr_out, out of line). Session 34: the fragments' own stores,\n",
    "// unrolled 32 times with their bounds checks, bias and accumulate loads and fallback calls, were 60 % of the units'\n",
    "// code (bnbq_k_gemm_t2_* 45 -> 25 KB).\n",
    "#define PR_T2_LD 136u   // floats a staged row (64 rows: 34816 bytes, then 512 of bias, in the 48 KB ring)\n",
    "BNBQ_DEV void pr_t2_piece(const float* tile, const float* bst, u32 pc, u64 m0, u64 n0, u64 M, u64 N, const void* bias,\n",
    "                          int accumulate, void* out, bool vec, u32 h) {\n",
    "    const u32 row = pc >> 5, c4 = 4u * (pc & 31u);\n",
    "    const u64 m = m0 + 64u * h + row, n = n0 + c4;\n",
    "    if (m >= M || n >= N) return;\n",
    "    const float4 x = *(const float4*)(tile + row * PR_T2_LD + c4);\n",
    "    if (vec && n + 4u <= N) {\n",
    "        const float4 b = *(const float4*)(bst + c4);\n",
    "        float v[4] = { x.x + b.x, x.y + b.y, x.z + b.z, x.w + b.w };\n",
    "        u16* o = (u16*)out + m * N + n;\n",
    "        if (accumulate) {\n",
    "            const uint2 ov = *(const uint2*)o;\n",
    "            const u32 ow[2] = { ov.x, ov.y };\n",
    "#pragma unroll\n",
    "            for (int e = 0; e < 2; e++) {\n",
    "                v[2 * e] = v[2 * e] + pr_h2f((u16)ow[e]);\n",
    "                v[2 * e + 1] = v[2 * e + 1] + pr_h2f((u16)(ow[e] >> 16));\n",
    "            }\n",
    "        }\n",
    "        *(uint2*)o = make_uint2(bnbq_dt_pack2(v[0], v[1]), bnbq_dt_pack2(v[2], v[3]));\n",
    "    } else {\n",
    "        const float v[4] = { x.x, x.y, x.z, x.w };\n",
    "        for (u32 e = 0; e < 4u && n + e < N; e++) pr_out(v[e], m * N + n + e, n + e, bias, accumulate, out);\n",
    "    }\n",
    "}\n",
    "template <int TA, int TB>\n",
    "BNBQ_DEV void pr_gemm_t2(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,\n",
    "                         void* out) {\n",
    "    extern __shared__ __align__(128) unsigned char pr_t2_ring[];\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)\n",
    "    const u32 sbase = (u32)__cvta_generic_to_shared(pr_t2_ring);\n",
    "    const u16* a16 = (const u16*)A;\n",
    "    const u16* b16 = (const u16*)B;\n",
    "    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;\n",
    "    const u32 wm = w >> 2, wn = w & 3u, mat = lane >> 3, r8 = lane & 7u;\n",
    "    const u64 tm = (M + 127) / 128, tn = (N + 127) / 128, KT = (K + 31) / 32;\n",
    "    const bool vec = (N & 3u) == 0u && ((unsigned long long)out & 7u) == 0u;   // 8-byte stores of 4 outputs\n",
    "    for (u64 t = blockIdx.x; t < tm * tn; t += gridDim.x) {\n",
    "        u64 mt, nt;\n",
    "        bnbq_tile_order(t, tm, tn, &mt, &nt);\n",
    "        const u64 m0 = mt * 128u, n0 = nt * 128u;\n",
    "        float acc[4][4][4];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;\n",
    "#pragma unroll\n",
    "        for (int s = 0; s < PR_T2_S - 1; s++) {\n",
    "            if ((u64)s < KT) {\n",
    "                pr_t2_load<!TA>(sbase + (u32)s * PR_T2_STAGE, a16, M, K, m0, 32u * (u64)s);\n",
    "                pr_t2_load<TB>(sbase + (u32)s * PR_T2_STAGE + PR_T2_STAGE / 2, b16, N, K, n0, 32u * (u64)s);\n",
    "            }\n",
    "            bnbq_cp_commit();\n",
    "        }\n",
    "        for (u64 kt = 0; kt < KT; kt++) {\n",
    "            bnbq_cp_wait<PR_T2_S - 2>();\n",
    "            __syncthreads();   // stage kt is in; every warp is done with the slot refilled below\n",
    "            const u64 nk = kt + PR_T2_S - 1;\n",
    "            if (nk < KT) {\n",
    "                const u32 st = sbase + (u32)(nk % PR_T2_S) * PR_T2_STAGE;\n",
    "                pr_t2_load<!TA>(st, a16, M, K, m0, 32u * nk);\n",
    "                pr_t2_load<TB>(st + PR_T2_STAGE / 2, b16, N, K, n0, 32u * nk);\n",
    "            }\n",
    "            bnbq_cp_commit();\n",
    "            const u32 sa = sbase + (u32)(kt % PR_T2_S) * PR_T2_STAGE, sb = sa + PR_T2_STAGE / 2;\n",
    "#pragma unroll\n",
    "            for (u32 kk = 0; kk < 2; kk++) {   // the two k16 steps of the stage\n",
    "                u32 a[4][4], b[4][2];\n",
    "#pragma unroll\n",
    "                for (u32 i = 0; i < 4; i++) {\n",
    "                    const u32 row = wm * 64u + i * 16u;\n",
    "                    if (!TA)   // matrices: rows 0-7 / 8-15 (mat & 1) x k 0-7 / 8-15 (mat / 2)\n",
    "                        bnbq_ldsm4<0>(a[i], sa + bnbq_tile64_off(row + (mat & 1u) * 8u + r8, 2u * kk + (mat >> 1)));\n",
    "                    else       // stored [k][m], transposed: the same four matrices\n",
    "                        bnbq_ldsm4<1>(a[i], sa + pr_t2_rc(16u * kk + (mat >> 1) * 8u + r8, row / 8u + (mat & 1u)));\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (u32 p = 0; p < 2; p++) {   // matrices: k 0-7 / 8-15 (mat & 1) x columns 0-7 / 8-15 (mat / 2)\n",
    "                    u32 r[4];\n",
    "                    const u32 col = wn * 32u + p * 16u;\n",
    "                    if (TB) bnbq_ldsm4<0>(r, sb + bnbq_tile64_off(col + (mat >> 1) * 8u + r8, 2u * kk + (mat & 1u)));\n",
    "                    else bnbq_ldsm4<1>(r, sb + pr_t2_rc(16u * kk + (mat & 1u) * 8u + r8, col / 8u + (mat >> 1)));\n",
    "                    b[2 * p][0] = r[0]; b[2 * p][1] = r[1]; b[2 * p + 1][0] = r[2]; b[2 * p + 1][1] = r[3];\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < 4; j++)\n",
    "                        bnbq_mma16816(acc[i][j], a[i][0], a[i][1], a[i][2], a[i][3], b[j][0], b[j][1]);\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();   // every warp is done with the ring: the epilogue's (pr_t2_piece's comment)\n",
    "        float* tile = (float*)pr_t2_ring;\n",
    "        float* bst = tile + 64u * PR_T2_LD;\n",
    "        if (threadIdx.x < 128u) {\n",
    "            const u64 n = n0 + threadIdx.x;\n",
    "            bst[threadIdx.x] = bias && n < N ? bnbq_dt_ld(bias, n) : -0.0f;\n",
    "        }\n",
    "#pragma unroll 1\n",
    "        for (u32 h = 0; h < 2u; h++) {\n",
    "            if (wm == h) {\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < 4; j++) {\n",
    "                        float* p = tile + ((u32)i * 16u + g) * PR_T2_LD + wn * 32u + (u32)j * 8u + 2u * q;\n",
    "                        *(float2*)p = make_float2(acc[i][j][0], acc[i][j][1]);\n",
    "                        *(float2*)(p + 8u * PR_T2_LD) = make_float2(acc[i][j][2], acc[i][j][3]);\n",
    "                    }\n",
    "            }\n",
    "            __syncthreads();\n",
    "#pragma unroll 4\n",
    "            for (u32 k = 0; k < 8u; k++)\n",
    "                pr_t2_piece(tile, bst, threadIdx.x + 256u * k, m0, n0, M, N, bias, accumulate, out, vec, h);\n",
    "            __syncthreads();   // read: the next half, or the next tile's stages, may be written\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_t2_nn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_t2_nn)\n",
    "#line 771 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_gemm_t2_nn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {\n",
    "    pr_gemm_t2<0, 0>(A, B, M, N, K, bias, accumulate, out);\n",
    "}\n",
    "#endif\n",
    "#line 775 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_t2_nt(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_t2_nt)\n",
    "#line 775 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_gemm_t2_nt(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {\n",
    "    pr_gemm_t2<0, 1>(A, B, M, N, K, bias, accumulate, out);\n",
    "}\n",
    "#endif\n",
    "#line 779 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_t2_tn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_t2_tn)\n",
    "#line 779 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_gemm_t2_tn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {\n",
    "    pr_gemm_t2<1, 0>(A, B, M, N, K, bias, accumulate, out);\n",
    "}\n",
    "#endif\n",
    "#line 783 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gemm_t2_tt(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gemm_t2_tt)\n",
    "#line 783 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_gemm_t2_tt(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {\n",
    "    pr_gemm_t2<1, 1>(A, B, M, N, K, bias, accumulate, out);\n",
    "}\n",
    "#endif\n",
    "#line 787 \"prims.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- column sums: out (N,) = sum over the rows of X (M, N) --------------------------------------\n",
    "// A block takes 32 columns (grid-stride), its 8 warps split the rows; float32 sums.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_colsum(const void* X, u64 M, u64 N, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_colsum)\n",
    "#line 791 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_colsum(const void* X, u64 M, u64 N, void* out) {\n",
    "    __shared__ float red[8][33];\n",
    "    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;\n",
    "    for (u64 n0 = (u64)blockIdx.x * 32; n0 < N; n0 += (u64)gridDim.x * 32) {\n",
    "        const u64 n = n0 + (u64)tx;\n",
    "        float s = 0.0f;\n",
    "        if (n < N)\n",
    "            for (u64 m = (u64)ty; m < M; m += 8) s = s + bnbq_dt_ld(X, m * N + n);\n",
    "        red[ty][tx] = s;\n",
    "        __syncthreads();\n",
    "        if (ty == 0 && n < N) {\n",
    "            float t = red[0][tx];\n",
    "            for (int i = 1; i < 8; i++) t = t + red[i][tx];\n",
    "            pr_st(out, n, t);\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 810 \"prims.cu\"\n",
    "\n",
    "// ---- embedding backward ------------------------------------------------------------------------\n",
    "// grad_weight was zero-filled by the launcher. A block per occurrence i (grid-stride): when i is\n",
    "// the first occurrence of r = idx[i] (no earlier j with idx[j] == r) and r is not padding_idx, it\n",
    "// sums grad_out[j] over the j >= i with idx[j] == r, in index order, float32, and writes row r.\n",
    "#define PR_EB_V 4\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_embed_bwd(const i32* idx, u64 count, const void* G, u64 num_rows, u64 dim, i64 pad,\n",
    "                 int freq, void* gw, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_embed_bwd)\n",
    "#line 816 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_embed_bwd(const i32* idx, u64 count, const void* G, u64 num_rows, u64 dim, i64 pad,\n",
    "                 int freq, void* gw, u32* err) {\n",
    "    __shared__ i32 sidx[256];\n",
    "    const int tid = threadIdx.x;\n",
    "    for (u64 i = blockIdx.x; i < count; i += gridDim.x) {\n",
    "        const i32 r = idx[i];\n",
    "        if (r < 0 || (u64)r >= num_rows) {\n",
    "            if (tid == 0) *err = 1u;\n",
    "            continue;\n",
    "        }\n",
    "        if ((i64)r == pad) continue;\n",
    "        int dup = 0;\n",
    "        for (u64 j = (u64)tid; j < i; j += 256) dup |= idx[j] == r;\n",
    "        if (__syncthreads_or(dup)) continue;\n",
    "        for (u64 d0 = 0; d0 < dim; d0 += 256 * PR_EB_V) {\n",
    "            float acc[PR_EB_V];\n",
    "            u32 cnt = 0;\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < PR_EB_V; u++) acc[u] = 0.0f;\n",
    "            for (u64 j0 = i; j0 < count; j0 += 256) {\n",
    "                const u64 j = j0 + (u64)tid;\n",
    "                const i32 v = j < count ? idx[j] : -1;\n",
    "                sidx[tid] = v;\n",
    "                if (!__syncthreads_or(v == r)) continue;\n",
    "                const int lim = count - j0 < 256 ? (int)(count - j0) : 256;\n",
    "                for (int q = 0; q < lim; q++)\n",
    "                    if (sidx[q] == r) {\n",
    "                        const u64 row = (j0 + (u64)q) * dim;\n",
    "                        cnt++;\n",
    "#pragma unroll\n",
    "                        for (int u = 0; u < PR_EB_V; u++) {\n",
    "                            const u64 d = d0 + (u64)tid + 256 * (u64)u;\n",
    "                            if (d < dim) acc[u] = acc[u] + bnbq_dt_ld(G, row + d);\n",
    "                        }\n",
    "                    }\n",
    "                __syncthreads();\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int u = 0; u < PR_EB_V; u++) {\n",
    "                const u64 d = d0 + (u64)tid + 256 * (u64)u;\n",
    "                if (d < dim) pr_st(gw, (u64)r * dim + d, freq ? acc[u] / (float)cnt : acc[u]);\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 862 \"prims.cu\"\n",
    "\n",
    "// ---- embedding max_norm renorm ----------------------------------------------------------------\n",
    "// A block per occurrence i; the first occurrence of each row computes its norm in double and scales\n",
    "// it in place. P: 2 or 1 (the common norms); 0: any norm_type p (pow).\n",
    "template <int P>\n",
    "BNBQ_DEV void pr_renorm(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm,\n",
    "                        float p, u32* err) {\n",
    "    __shared__ double red[8];\n",
    "    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;\n",
    "    for (u64 i = blockIdx.x; i < count; i += gridDim.x) {\n",
    "        const i32 r = idx[i];\n",
    "        if (r < 0 || (u64)r >= num_rows) {\n",
    "            if (tid == 0) *err = 1u;\n",
    "            continue;\n",
    "        }\n",
    "        int dup = 0;\n",
    "        for (u64 j = (u64)tid; j < i; j += 256) dup |= idx[j] == r;\n",
    "        if (__syncthreads_or(dup)) continue;\n",
    "        const u64 row = (u64)r * dim;\n",
    "        double s = 0.0;\n",
    "        for (u64 d = (u64)tid; d < dim; d += 256) {\n",
    "            const double v = fabs((double)bnbq_dt_ld(W, row + d));\n",
    "            s += P == 2 ? v * v : (P == 1 ? v : pow(v, (double)p));\n",
    "        }\n",
    "        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(PR_FULL, s, o);\n",
    "        if (lane == 0) red[w] = s;\n",
    "        __syncthreads();\n",
    "        double norm = 0.0;\n",
    "        for (int q = 0; q < 8; q++) norm += red[q];\n",
    "        __syncthreads();\n",
    "        norm = P == 2 ? sqrt(norm) : (P == 1 ? norm : pow(norm, 1.0 / (double)p));\n",
    "        if (norm > (double)max_norm) {\n",
    "            const float scale = (float)((double)max_norm / (norm + 1e-7));\n",
    "            for (u64 d = (u64)tid; d < dim; d += 256) pr_st(W, row + d, bnbq_dt_ld(W, row + d) * scale);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_renorm2(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm, float p,\n",
    "               u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_renorm2)\n",
    "#line 899 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_renorm2(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm, float p,\n",
    "               u32* err) {\n",
    "    pr_renorm<2>(W, num_rows, dim, idx, count, max_norm, p, err);\n",
    "}\n",
    "#endif\n",
    "#line 904 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_renorm1(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm, float p,\n",
    "               u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_renorm1)\n",
    "#line 904 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_renorm1(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm, float p,\n",
    "               u32* err) {\n",
    "    pr_renorm<1>(W, num_rows, dim, idx, count, max_norm, p, err);\n",
    "}\n",
    "#endif\n",
    "#line 909 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_renorm_pow(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm,\n",
    "                  float p, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_renorm_pow)\n",
    "#line 909 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_renorm_pow(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm,\n",
    "                  float p, u32* err) {\n",
    "    pr_renorm<0>(W, num_rows, dim, idx, count, max_norm, p, err);\n",
    "}\n",
    "#endif\n",
    "#line 914 \"prims.cu\"\n",
    "\n",
    "// ---- layer norm --------------------------------------------------------------------------------\n",
    "// float32 statistics, two passes (mean, then the mean squared deviation)\n",
    "BNBQ_DEV void pr_row_stats(const void* X, u64 row, u64 N, float eps, float* red, float* mean,\n",
    "                           float* rstd) {\n",
    "    float s = 0.0f;\n",
    "    for (u64 j = threadIdx.x; j < N; j += blockDim.x) s = s + bnbq_dt_ld(X, row + j);\n",
    "    const float mu = pr_block_sum(s, red) / (float)N;\n",
    "    float v = 0.0f;\n",
    "    for (u64 j = threadIdx.x; j < N; j += blockDim.x) {\n",
    "        const float d = bnbq_dt_ld(X, row + j) - mu;\n",
    "        v = v + d * d;\n",
    "    }\n",
    "    const float var = pr_block_sum(v, red) / (float)N;\n",
    "    *mean = mu;\n",
    "    *rstd = 1.0f / sqrtf(var + eps);\n",
    "}\n",
    "\n",
    "// a block per row (grid-stride)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_layer_norm(const void* X, u64 M, u64 N, const float* gamma, const float* beta, float eps,\n",
    "                  void* out, float* out_mean, float* out_rstd) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_layer_norm)\n",
    "#line 933 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_layer_norm(const void* X, u64 M, u64 N, const float* gamma, const float* beta, float eps,\n",
    "                  void* out, float* out_mean, float* out_rstd) {\n",
    "    __shared__ float red[32];\n",
    "    for (u64 m = blockIdx.x; m < M; m += gridDim.x) {\n",
    "        const u64 row = m * N;\n",
    "        float mu, rs;\n",
    "        pr_row_stats(X, row, N, eps, red, &mu, &rs);\n",
    "        for (u64 j = threadIdx.x; j < N; j += blockDim.x) {\n",
    "            float y = (bnbq_dt_ld(X, row + j) - mu) * rs;\n",
    "            if (gamma) y = y * gamma[j];\n",
    "            if (beta) y = y + beta[j];\n",
    "            pr_st(out, row + j, y);\n",
    "        }\n",
    "        if (threadIdx.x == 0) {\n",
    "            if (out_mean) out_mean[m] = mu;\n",
    "            if (out_rstd) out_rstd[m] = rs;\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 953 \"prims.cu\"\n",
    "\n",
    "// grad_x, a block per row: rstd * (g - mean(g) - xhat * mean(g * xhat)), g = grad_out * gamma\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_ln_bwd_x(const void* X, const void* G, u64 M, u64 N, const float* gamma, float eps,\n",
    "                const float* mean, const float* rstd, void* gx) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_ln_bwd_x)\n",
    "#line 955 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_ln_bwd_x(const void* X, const void* G, u64 M, u64 N, const float* gamma, float eps,\n",
    "                const float* mean, const float* rstd, void* gx) {\n",
    "    __shared__ float red[32];\n",
    "    for (u64 m = blockIdx.x; m < M; m += gridDim.x) {\n",
    "        const u64 row = m * N;\n",
    "        float mu, rs;\n",
    "        if (mean) { mu = mean[m]; rs = rstd[m]; }\n",
    "        else pr_row_stats(X, row, N, eps, red, &mu, &rs);\n",
    "        float a = 0.0f, b = 0.0f;\n",
    "        for (u64 j = threadIdx.x; j < N; j += blockDim.x) {\n",
    "            const float xh = (bnbq_dt_ld(X, row + j) - mu) * rs;\n",
    "            const float g = bnbq_dt_ld(G, row + j) * (gamma ? gamma[j] : 1.0f);\n",
    "            a = a + g;\n",
    "            b = b + g * xh;\n",
    "        }\n",
    "        a = pr_block_sum(a, red) / (float)N;\n",
    "        b = pr_block_sum(b, red) / (float)N;\n",
    "        for (u64 j = threadIdx.x; j < N; j += blockDim.x) {\n",
    "            const float xh = (bnbq_dt_ld(X, row + j) - mu) * rs;\n",
    "            const float g = bnbq_dt_ld(G, row + j) * (gamma ? gamma[j] : 1.0f);\n",
    "            pr_st(gx, row + j, rs * (g - a - xh * b));\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 980 \"prims.cu\"\n",
    "\n",
    "// grad_gamma / grad_beta (zero-filled by the launcher): a block per 32 rows (grid-stride) sums its\n",
    "// rows per column and adds the sums atomically (float32)\n",
    "#define PR_LR 32\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_ln_bwd_params(const void* X, const void* G, u64 M, u64 N, float eps, const float* mean,\n",
    "                     const float* rstd, float* gg, float* gb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_ln_bwd_params)\n",
    "#line 984 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_ln_bwd_params(const void* X, const void* G, u64 M, u64 N, float eps, const float* mean,\n",
    "                     const float* rstd, float* gg, float* gb) {\n",
    "    __shared__ float smu[PR_LR], srs[PR_LR];\n",
    "    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;\n",
    "    for (u64 m0 = (u64)blockIdx.x * PR_LR; m0 < M; m0 += (u64)gridDim.x * PR_LR) {\n",
    "        const int rows = M - m0 < PR_LR ? (int)(M - m0) : PR_LR;\n",
    "        if (mean) {\n",
    "            if (tid < rows) { smu[tid] = mean[m0 + tid]; srs[tid] = rstd[m0 + tid]; }\n",
    "        } else {\n",
    "            for (int q = w; q < rows; q += 8) {   // a warp per row\n",
    "                const u64 row = (m0 + (u64)q) * N;\n",
    "                float s = 0.0f;\n",
    "                for (u64 j = lane; j < N; j += 32) s = s + bnbq_dt_ld(X, row + j);\n",
    "                const float mu = pr_warp_sum(s) / (float)N;\n",
    "                float v = 0.0f;\n",
    "                for (u64 j = lane; j < N; j += 32) {\n",
    "                    const float d = bnbq_dt_ld(X, row + j) - mu;\n",
    "                    v = v + d * d;\n",
    "                }\n",
    "                const float var = pr_warp_sum(v) / (float)N;\n",
    "                if (lane == 0) { smu[q] = mu; srs[q] = 1.0f / sqrtf(var + eps); }\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "        for (u64 j = tid; j < N; j += 256) {\n",
    "            float sg = 0.0f, sb = 0.0f;\n",
    "            for (int q = 0; q < rows; q++) {\n",
    "                const u64 e = (m0 + (u64)q) * N + j;\n",
    "                const float g = bnbq_dt_ld(G, e);\n",
    "                sg = sg + g * ((bnbq_dt_ld(X, e) - smu[q]) * srs[q]);\n",
    "                sb = sb + g;\n",
    "            }\n",
    "            if (gg) atomicAdd(gg + j, sg);\n",
    "            if (gb) atomicAdd(gb + j, sb);\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 1023 \"prims.cu\"\n",
    "\n",
    "// ---- quantized row lookups (a warp per output row, grid-stride) --------------------------------\n",
    "// out[i, j] = dt(f32(CB[r, j] * f32(SCB[r] / 127)))\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gather8(const i8* CB, const float* SCB, u64 num_rows, u64 dim, const i32* idx, u64 count,\n",
    "               void* out, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gather8)\n",
    "#line 1026 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_gather8(const i8* CB, const float* SCB, u64 num_rows, u64 dim, const i32* idx, u64 count,\n",
    "               void* out, u32* err) {\n",
    "    const int lane = threadIdx.x & 31;\n",
    "    const u64 wpb = blockDim.x >> 5;\n",
    "    for (u64 i = (u64)blockIdx.x * wpb + (threadIdx.x >> 5); i < count; i += (u64)gridDim.x * wpb) {\n",
    "        const i32 r = idx[i];\n",
    "        const bool bad = r < 0 || (u64)r >= num_rows;\n",
    "        if (bad && lane == 0) *err = 1u;\n",
    "        const float s = bad ? 0.0f : SCB[r] / 127.0f;\n",
    "        for (u64 j = lane; j < dim; j += 32) {\n",
    "            const float v = bad ? 0.0f : (float)CB[(u64)r * dim + j] * s;\n",
    "            pr_st(out, i * dim + j, v);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 1042 \"prims.cu\"\n",
    "\n",
    "struct pr_code16 { float v[16]; };\n",
    "\n",
    "// out[i, j] = dt(tab[nibble e] * absmax[e >> bs_log2]), e = r * dim + j (bnbq__dequant4)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gather4(const u8* packed, const float* absmax, u64 num_rows, u64 dim, int bs_log2,\n",
    "               const i32* idx, u64 count, void* out, pr_code16 tab, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gather4)\n",
    "#line 1046 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_gather4(const u8* packed, const float* absmax, u64 num_rows, u64 dim, int bs_log2,\n",
    "               const i32* idx, u64 count, void* out, pr_code16 tab, u32* err) {\n",
    "    __shared__ float t[16];\n",
    "    if (threadIdx.x < 16) t[threadIdx.x] = tab.v[threadIdx.x];\n",
    "    __syncthreads();\n",
    "    const int lane = threadIdx.x & 31;\n",
    "    const u64 wpb = blockDim.x >> 5;\n",
    "    for (u64 i = (u64)blockIdx.x * wpb + (threadIdx.x >> 5); i < count; i += (u64)gridDim.x * wpb) {\n",
    "        const i32 r = idx[i];\n",
    "        const bool bad = r < 0 || (u64)r >= num_rows;\n",
    "        if (bad && lane == 0) *err = 1u;\n",
    "        for (u64 j = lane; j < dim; j += 32) {\n",
    "            float v = 0.0f;\n",
    "            if (!bad) {\n",
    "                const u64 e = (u64)r * dim + j;\n",
    "                const u32 byte = packed[e >> 1];\n",
    "                const u32 nib = (e & 1) ? (byte & 15u) : (byte >> 4);\n",
    "                v = t[nib] * absmax[e >> bs_log2];\n",
    "            }\n",
    "            pr_st(out, i * dim + j, v);\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 1070 \"prims.cu\"\n",
    "\n",
    "// ---- LLM.int8 pieces ---------------------------------------------------------------------------\n",
    "// out[m, n] = dt(f32(out[m, n]) + S), S the float32 sum over j < *num_cols in j order (bnbq.h).\n",
    "// Tiles of 64 x 64 outputs (blockIdx.x: n tile; blockIdx.y, grid-stride: m tile), 256 threads of\n",
    "// 4 x 4 outputs; per step 16 outlier columns: A[m, c_j] and the dequantized w[n, j] (rounded to dt)\n",
    "// staged in shared memory as float32, then each thread adds its products in j order, the CPU's\n",
    "// operations one by one (byte-identical). Padding past *num_cols and a bad column (skipped on the\n",
    "// CPU's side; *err = 1) stage a = w = 0: p = +0, and s + (+0) = s (s is never -0).\n",
    "// *num_cols clamped to [0, K] (outside it: *err = 1, set by one thread of the grid)\n",
    "BNBQ_DEV i32 pr_outlier_nc(const i32* num_cols, u64 K, u32* err) {\n",
    "    i32 nc = *num_cols;\n",
    "    if (nc < 0 || (u64)nc > K) {\n",
    "        if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) *err = 1u;\n",
    "        nc = nc < 0 ? 0 : (i32)K;\n",
    "    }\n",
    "    return nc;\n",
    "}\n",
    "// A thread's loads for one step: outlier column j (c = cols[j], loaded a step earlier; live: j < nc)\n",
    "// at the tile rows r0 + RS h, h < 4: a[h] = A[m0 + r, c], q[h] = CB[n0 + r, c]; 0 past M or N and\n",
    "// for a dead or bad column (*ok false; a bad one sets bad, which goes to *err once, at the end).\n",
    "// Nothing is stored among these loads, so a step's 8 loads are all in flight at once, behind the\n",
    "// previous step's products. (The first version stored *err between them, which kept the compiler\n",
    "// from hoisting any load above it: one chain of dependent loads at a time, 48 us for the outliers of a\n",
    "// 512-token 4096 x 4096 layer on the H100.)\n",
    "template <int RS>\n",
    "BNBQ_DEV void pr_outlier_load(const void* A, u64 M, u64 K, const i8* CB, u64 N, i32 c, bool live, int r0,\n",
    "                              u64 m0, u64 n0, float (&a)[4], int (&q)[4], bool& ok, u32& bad) {\n",
    "    ok = live && c >= 0 && (u64)c < K;\n",
    "    if (live && !ok) bad = 1u;\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < 4; h++) {\n",
    "        const u64 m = m0 + (u64)(r0 + RS * h), n = n0 + (u64)(r0 + RS * h);\n",
    "        a[h] = ok && m < M ? bnbq_dt_ld(A, m * K + (u64)c) : 0.0f;\n",
    "        q[h] = ok && n < N ? (int)CB[n * K + (u64)c] : 0;\n",
    "    }\n",
    "}\n",
    "// SCB at a thread's staging rows n0 + r0 + RS h (h < 4; 0 past N), loaded once a block\n",
    "template <int RS>\n",
    "BNBQ_DEV void pr_outlier_scb(const float* SCB, u64 N, u64 n0, int r0, float (&scb)[4]) {\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < 4; h++) {\n",
    "        const u64 n = n0 + (u64)(r0 + RS * h);\n",
    "        scb[h] = n < N ? SCB[n] : 0.0f;\n",
    "    }\n",
    "}\n",
    "// w[n, j] = dt(f32(f32(CB[n, c_j] * SCB[n]) * (1/127))) from the loaded q; 0 where nothing was loaded\n",
    "BNBQ_DEV float pr_outlier_w(int q, float scb, bool on) {\n",
    "    return on ? bnbq_i8_outlier_w(BNBQ_DT, q, scb) : 0.0f;\n",
    "}\n",
    "// Stages a thread's loads (rows r0 + RS h of column jj) and w into As[jj][.], Ws[jj][.]\n",
    "template <int RS, int LD>\n",
    "BNBQ_DEV void pr_outlier_put(float (*As)[LD], float (*Ws)[LD], int jj, int r0, const float (&a)[4],\n",
    "                             const int (&q)[4], const float (&scb)[4], bool ok, u64 n0, u64 N) {\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < 4; h++) {\n",
    "        const int r = r0 + RS * h;\n",
    "        As[jj][r] = a[h];\n",
    "        Ws[jj][r] = pr_outlier_w(q[h], scb[h], ok && n0 + (u64)r < N);\n",
    "    }\n",
    "}\n",
    "// out[m, n] += the tile's sums: every load of out first, then the stores (one dependent chain less)\n",
    "BNBQ_DEV void pr_outlier_out(void* out, u64 M, u64 N, u64 m0, u64 n0, const float (&acc)[4][4]) {\n",
    "    float o[4][4];\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < 4; j++) {\n",
    "            const u64 m = m0 + (u64)i, n = n0 + (u64)j;\n",
    "            o[i][j] = m < M && n < N ? bnbq_dt_ld(out, m * N + n) : 0.0f;\n",
    "        }\n",
    "#pragma unroll\n",
    "    for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < 4; j++) {\n",
    "            const u64 m = m0 + (u64)i, n = n0 + (u64)j;\n",
    "            if (m < M && n < N) pr_st(out, m * N + n, o[i][j] + acc[i][j]);\n",
    "        }\n",
    "}\n",
    "#define PR_OT 64\n",
    "#define PR_OJ 16\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_outlier_mm(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N,\n",
    "                  const i32* cols, const i32* num_cols, void* out, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_outlier_mm)\n",
    "#line 1150 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_outlier_mm(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N,\n",
    "                  const i32* cols, const i32* num_cols, void* out, u32* err) {\n",
    "    __shared__ __align__(16) float As[PR_OJ][PR_OT + 4];   // [j][m]\n",
    "    __shared__ __align__(16) float Ws[PR_OJ][PR_OT + 4];   // [j][n]\n",
    "    const i32 nc = pr_outlier_nc(num_cols, K, err);\n",
    "    // staging: column jj = tid % 16 of each step, rows ty + 16 h of the tile\n",
    "    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, jj = tid & 15;\n",
    "    const u64 mtiles = (M + PR_OT - 1) / PR_OT;\n",
    "    const u64 n0 = (u64)blockIdx.x * PR_OT;\n",
    "    float scb[4];\n",
    "    pr_outlier_scb<16>(SCB, N, n0, ty, scb);\n",
    "    u32 bad = 0u;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * PR_OT;\n",
    "        float acc[4][4], a[4];\n",
    "        int q[4];\n",
    "        bool ok;\n",
    "        bnbq_tile4x4_zero(acc);\n",
    "        i32 c = jj < nc ? cols[jj] : 0;\n",
    "        pr_outlier_load<16>(A, M, K, CB, N, c, jj < nc, ty, m0, n0, a, q, ok, bad);\n",
    "        c = PR_OJ + jj < nc ? cols[PR_OJ + jj] : 0;\n",
    "        for (i32 j0 = 0; j0 < nc; j0 += PR_OJ) {\n",
    "            pr_outlier_put<16, PR_OT + 4>(As, Ws, jj, ty, a, q, scb, ok, n0, N);\n",
    "            __syncthreads();\n",
    "            const i32 j1 = j0 + PR_OJ;   // the next step's loads fly during this step's products\n",
    "            if (j1 < nc) {\n",
    "                pr_outlier_load<16>(A, M, K, CB, N, c, j1 + jj < nc, ty, m0, n0, a, q, ok, bad);\n",
    "                c = j1 + PR_OJ + jj < nc ? cols[j1 + PR_OJ + jj] : 0;\n",
    "            }\n",
    "            bnbq_tile4x4_step<PR_OJ, PR_OT + 4, false>(acc, As, Ws, ty, tx);\n",
    "            __syncthreads();\n",
    "        }\n",
    "        pr_outlier_out(out, M, N, m0 + (u64)ty * 4, n0 + (u64)tx * 4, acc);\n",
    "    }\n",
    "    if (bad) *err = 1u;\n",
    "}\n",
    "#endif\n",
    "#line 1187 \"prims.cu\"\n",
    "\n",
    "// The same sums with the staged values gathered first (bnbq_int8_mixed_scaled_mm's path for more rows,\n",
    "// which has its int32 work buffer free after mm_dequant): bnbq_k_outlier_gather writes Ag[j][m] =\n",
    "// A[m, c_j] and Wg[j][n] = w[n, j] (the staged a and w above, 0 for a bad column) for j < min(nc, cap),\n",
    "// each read once; bnbq_k_outlier_mm_g stages those rows (coalesced) instead of re-reading A's and CB's\n",
    "// scattered bytes for every tile (bnbq_k_outlier_mm's 64 x 64 tiles read each outlier byte of A N / 64\n",
    "// times and of CB M / 64 times: ~37 us at 512 x 4096 x 4096 with 41 columns on the H100), and columns\n",
    "// j >= cap (a work buffer too small) the old way. Same values, same j order: byte-identical.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_outlier_gather(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,\n",
    "                      const i32* num_cols, float* Ag, float* Wg, u64 cap, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_outlier_gather)\n",
    "#line 1195 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_outlier_gather(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,\n",
    "                      const i32* num_cols, float* Ag, float* Wg, u64 cap, u32* err) {\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)\n",
    "    const i32 nc = pr_outlier_nc(num_cols, K, err);\n",
    "    const u64 jn = (u64)nc < cap ? (u64)nc : cap, R = M + N;\n",
    "    u32 bad = 0u;\n",
    "    BNBQ_GRID_LOOP(e, jn * R) {\n",
    "        const u64 j = e / R, r = e - j * R;\n",
    "        const i32 c = cols[j];\n",
    "        const bool ok = c >= 0 && (u64)c < K;\n",
    "        if (!ok) bad = 1u;\n",
    "        if (r < M) {\n",
    "            Ag[j * M + r] = ok ? bnbq_dt_ld(A, r * K + (u64)c) : 0.0f;\n",
    "        } else {\n",
    "            const u64 n = r - M;\n",
    "            Wg[j * N + n] = pr_outlier_w(ok ? (int)CB[n * K + (u64)c] : 0, SCB[n], ok);\n",
    "        }\n",
    "    }\n",
    "    if (bad) *err = 1u;\n",
    "}\n",
    "#endif\n",
    "#line 1216 \"prims.cu\"\n",
    "// The sums of bnbq_k_outlier_mm (same values, same j order, the same epilogue: byte-identical) on\n",
    "// 128 x 128 output tiles, 8 x 8 a thread (rows ty 4 + i and 64 + ty 4 + i, columns tx 4 + j and\n",
    "// 64 + tx 4 + j: conflict-free 16-byte shared loads), 16 columns a step staged from Ag / Wg (thread: tile\n",
    "// row / column r = tid % 128 of columns tid / 128 + 2 h) where j < min(nc, cap), else from A and CB\n",
    "// directly; the next step's values are loaded while this one's products run. f16: each product and sum\n",
    "// as one FMA (exact products, below). ncu on the H100, 41 columns at 4096 x 4096 (bench/results/\n",
    "// gpu-20261124-h100-session26-int8.txt): the 64 x 64 tiles with 4 x 4 a thread before it 119 us (issue-bound);\n",
    "// these tiles with FMUL + FADD 125 us (latency-bound at 16 warps an SM), with the f16 FMA 99 us, with the\n",
    "// epilogue's loads batched and prefetched 81 us, the last step cut at nc 76 us. (mm_dequant fused into the\n",
    "// epilogue was slower: 148 us against 34 + 76, its per-element loads.)\n",
    "#define PR_GT 128\n",
    "#define PR_GJ 16\n",
    "// (column j read directly where it was not gathered: a call of its own, rare, out of the unrolled code)\n",
    "struct pr_aw {\n",
    "    float a, w;\n",
    "    u32 bad;\n",
    "};\n",
    "__device__ __noinline__ pr_aw pr_outlier_direct(const void* A, u64 M, u64 K, const i8* CB, float scb, u64 N, i32 c,\n",
    "                                                u64 m, u64 n) {\n",
    "    pr_aw r = { 0.0f, 0.0f, 0u };\n",
    "    if (c < 0 || (u64)c >= K) {\n",
    "        r.bad = 1u;\n",
    "    } else {\n",
    "        if (m < M) r.a = bnbq_dt_ld(A, m * K + (u64)c);\n",
    "        if (n < N) r.w = pr_outlier_w((int)CB[n * K + (u64)c], scb, true);\n",
    "    }\n",
    "    return r;\n",
    "}\n",
    "// a step's staged values of this thread: a[h] = A[m, c_j], w[h] = w[n, j] for j = j0 + jh + 2 h (0 past M /\n",
    "// N / nc; gathered where j < jg)\n",
    "BNBQ_DEV void pr_outlier_gload(const void* A, u64 M, u64 K, const i8* CB, float scb, u64 N, const i32* cols,\n",
    "                               i32 nc, i32 jg, const float* Ag, const float* Wg, i32 j0, int jh, u64 m, u64 n,\n",
    "                               float (&a)[8], float (&w)[8], u32& bad) {\n",
    "#pragma unroll\n",
    "    for (int h = 0; h < 8; h++) {\n",
    "        const i32 j = j0 + jh + 2 * h;\n",
    "        a[h] = w[h] = 0.0f;\n",
    "        if (j < jg) {\n",
    "            if (m < M) a[h] = Ag[(u64)j * M + m];\n",
    "            if (n < N) w[h] = Wg[(u64)j * N + n];\n",
    "        } else if (j < nc) {\n",
    "            const pr_aw r = pr_outlier_direct(A, M, K, CB, scb, N, cols[j], m, n);\n",
    "            a[h] = r.a;\n",
    "            w[h] = r.w;\n",
    "            bad |= r.bad;\n",
    "        }\n",
    "    }\n",
    "}\n",
    "// out[e + j] = dt(f32(out[e + j]) + s_j) for j < min(4, left) (bnbq_k_outlier_mm_g's element-wise epilogue: a call of\n",
    "// its own, out of the unrolled code)\n",
    "__device__ __noinline__ void pr_outlier_add4(void* out, u64 e, u64 left, float s0, float s1, float s2, float s3) {\n",
    "    const float s[4] = { s0, s1, s2, s3 };\n",
    "    float o[4];\n",
    "#pragma unroll\n",
    "    for (int j = 0; j < 4; j++) o[j] = (u64)j < left ? bnbq_dt_ld(out, e + (u64)j) : 0.0f;\n",
    "#pragma unroll\n",
    "    for (int j = 0; j < 4; j++)\n",
    "        if ((u64)j < left) pr_st(out, e + (u64)j, o[j] + s[j]);\n",
    "}\n",
    "// dt bits of v (one RNE rounding, NaN canonical), pr_st's\n",
    "BNBQ_DEV u32 pr_bits(float v) {\n",
    "    if (BNBQ_DT == BNBQ_F32) return __float_as_uint(bnbq_canon(v));\n",
    "    return bnbq_dt_pack(v);\n",
    "}\n",
    "// bnbq_k_outlier_mm_g's output rows and columns of a thread: row i < 8 of its 8 x 8 is tile row (i & 4) 16 +\n",
    "// 4 ty + (i & 3), half hh < 2 of its columns starts at tile column 64 hh + 4 tx\n",
    "BNBQ_DEV u64 pr_g_row(u64 m0, int ty, int i) { return m0 + (u64)((i & 4) * 16 + ty * 4 + (i & 3)); }\n",
    "BNBQ_DEV u64 pr_g_col(u64 n0, int tx, int hh) { return n0 + (u64)(hh * 64 + tx * 4); }\n",
    "// A staged value v of a bf16 unit allows the fused form: 0, inf, NaN or |v| in [2^-63, 2^63), so that with the\n",
    "// other operand so too the product (8 significant bits each) is 0, inf, NaN or a normal float32, exact, and\n",
    "// acc + f32(a w) rounds once as fmaf(a, w, acc) does\n",
    "BNBQ_DEV bool pr_fma_ok(float v) {\n",
    "    const u32 u = __float_as_uint(v) & 0x7fffffffu;\n",
    "    return u == 0u || u >= 0x7f800000u || (u >= 0x20000000u && u < 0x5f000000u);\n",
    "}\n",
    "// A step's products and sums: jn columns of the staged tiles, the thread's 8 x 8 (FMA: one fmaf a product, for\n",
    "// exact products only (f16: 11 significant bits each, |a w| within [2^-48, 2^32]; bf16: pr_fma_ok); else the\n",
    "// multiply, then the add); UNROLL: columns a round (bf16's fallback, rare, takes 1: a smaller second copy of the\n",
    "// loop, for NVRTC time)\n",
    "template <bool FMA, int UNROLL>\n",
    "BNBQ_DEV void pr_outlier_step(float (&acc)[8][8], const float (*As)[PR_GT], const float (*Ws)[PR_GT], int jn, int ty,\n",
    "                              int tx) {\n",
    "#pragma unroll UNROLL\n",
    "    for (int jj = 0; jj < jn; jj++) {\n",
    "        const float4 x0 = *(const float4*)&As[jj][ty * 4], x1 = *(const float4*)&As[jj][64 + ty * 4];\n",
    "        const float4 y0 = *(const float4*)&Ws[jj][tx * 4], y1 = *(const float4*)&Ws[jj][64 + tx * 4];\n",
    "        const float av[8] = { x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w };\n",
    "        const float bv[8] = { y0.x, y0.y, y0.z, y0.w, y1.x, y1.y, y1.z, y1.w };\n",
    "        bnbq_outer_acc<8, 8, FMA>(acc, av, bv);\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_outlier_mm_g(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,\n",
    "                    const i32* num_cols, void* out, u32* err, const float* Ag, const float* Wg, u64 cap) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_outlier_mm_g)\n",
    "#line 1307 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_outlier_mm_g(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,\n",
    "                    const i32* num_cols, void* out, u32* err, const float* Ag, const float* Wg, u64 cap) {\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)\n",
    "    __shared__ __align__(16) float As[PR_GJ][PR_GT];   // [j][m]\n",
    "    __shared__ __align__(16) float Ws[PR_GJ][PR_GT];   // [j][n]\n",
    "    const i32 nc = pr_outlier_nc(num_cols, K, err);\n",
    "    const i32 jg = (u64)nc < cap ? nc : (i32)cap;   // columns gathered\n",
    "    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, r = tid & (PR_GT - 1), jh = tid >> 7;\n",
    "    const u64 mtiles = (M + PR_GT - 1) / PR_GT;\n",
    "    const u64 n0 = (u64)blockIdx.x * PR_GT, n = n0 + (u64)r;\n",
    "    const float scb = n < N ? SCB[n] : 0.0f;\n",
    "    // 4 outputs of a row in one access where out is 16-byte aligned and N % 4 == 0\n",
    "    const bool vec = ((u64)out & 15u) == 0 && N % 4u == 0;\n",
    "    u32 bad = 0u;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * PR_GT, m = m0 + (u64)r;\n",
    "        float acc[8][8], a[8], w[8];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < 8; i++)\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;\n",
    "        pr_outlier_gload(A, M, K, CB, scb, N, cols, nc, jg, Ag, Wg, 0, jh, m, n, a, w, bad);\n",
    "        // the tile's lines of out into the L2 for the epilogue (one thread a 32-byte sector)\n",
    "        if ((tx & (BNBQ_DT == BNBQ_F32 ? 1 : 3)) == 0) {\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 8; i++)\n",
    "#pragma unroll\n",
    "                for (int hh = 0; hh < 2; hh++) {\n",
    "                    const u64 mo = pr_g_row(m0, ty, i), no = pr_g_col(n0, tx, hh);\n",
    "                    if (mo < M && no < N)\n",
    "                        asm volatile(\"prefetch.global.L2 [%0];\" ::\"l\"((const char*)out + (mo * N + no) * (BNBQ_DT == BNBQ_F32 ? 4u : 2u)));\n",
    "                }\n",
    "        }\n",
    "        for (i32 j0 = 0; j0 < nc; j0 += PR_GJ) {\n",
    "            __syncthreads();   // the step before is read\n",
    "            bool ok = true;   // (bf16: this thread's values allow the fused form, pr_fma_ok)\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < 8; h++) {\n",
    "                As[jh + 2 * h][r] = a[h];\n",
    "                Ws[jh + 2 * h][r] = w[h];\n",
    "                if (BNBQ_DT == BNBQ_BF16) ok = ok && pr_fma_ok(a[h]) && pr_fma_ok(w[h]);\n",
    "            }\n",
    "            // one FMA a product where every product of the step is exact in float32: f16 always, bf16 where the\n",
    "            // whole block's values allow it\n",
    "            bool fm = BNBQ_DT == BNBQ_F16;\n",
    "            if (BNBQ_DT == BNBQ_BF16) fm = __syncthreads_and(ok) != 0;\n",
    "            else __syncthreads();\n",
    "            if (j0 + PR_GJ < nc)\n",
    "                pr_outlier_gload(A, M, K, CB, scb, N, cols, nc, jg, Ag, Wg, j0 + PR_GJ, jh, m, n, a, w, bad);\n",
    "            // (the last step's columns past nc are zeros; skipping them leaves the sums' bits: a sum that starts at\n",
    "            // +0 is never -0, and + 0 keeps every other value)\n",
    "            const int jn = nc - j0 < PR_GJ ? (int)(nc - j0) : PR_GJ;\n",
    "            if (fm) pr_outlier_step<true, 2>(acc, As, Ws, jn, ty, tx);\n",
    "            else pr_outlier_step<false, BNBQ_DT == BNBQ_BF16 ? 1 : 2>(acc, As, Ws, jn, ty, tx);\n",
    "        }\n",
    "        // out[m, n] = dt(f32(out[m, n]) + sum), one half of the thread's columns (8 half-rows of 4) at a time: its\n",
    "        // loads before its stores (a load after a store of out waited its full latency: the compiler cannot move it\n",
    "        // above; ncu: 30 % of the kernel's stall samples); the lines were prefetched into the L2 when the tile began\n",
    "#pragma unroll\n",
    "        for (int hh = 0; hh < 2; hh++) {\n",
    "            uint4 ov[8];\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 8; i++) {\n",
    "                const u64 mo = pr_g_row(m0, ty, i), no = pr_g_col(n0, tx, hh), e = mo * N + no;\n",
    "                ov[i] = make_uint4(0u, 0u, 0u, 0u);\n",
    "                if (vec && mo < M && no + 4u <= N) {\n",
    "                    if (BNBQ_DT == BNBQ_F32) {\n",
    "                        ov[i] = *(const uint4*)((const float*)out + e);\n",
    "                    } else {\n",
    "                        const uint2 o = *(const uint2*)((const u16*)out + e);\n",
    "                        ov[i].x = o.x;\n",
    "                        ov[i].y = o.y;\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 8; i++) {\n",
    "                const u64 mo = pr_g_row(m0, ty, i), no = pr_g_col(n0, tx, hh), e = mo * N + no;\n",
    "                const float* s4 = &acc[i][4 * hh];\n",
    "                if (mo >= M) continue;\n",
    "                if (vec && no + 4u <= N) {\n",
    "                    const uint4 o = ov[i];\n",
    "                    if (BNBQ_DT == BNBQ_F32) {\n",
    "                        *(uint4*)((float*)out + e) =\n",
    "                            make_uint4(pr_bits(__uint_as_float(o.x) + s4[0]), pr_bits(__uint_as_float(o.y) + s4[1]),\n",
    "                                       pr_bits(__uint_as_float(o.z) + s4[2]), pr_bits(__uint_as_float(o.w) + s4[3]));\n",
    "                    } else {\n",
    "                        const float o0 = pr_h2f((u16)o.x), o1 = pr_h2f((u16)(o.x >> 16));\n",
    "                        const float o2 = pr_h2f((u16)o.y), o3 = pr_h2f((u16)(o.y >> 16));\n",
    "                        *(uint2*)((u16*)out + e) = make_uint2(bnbq_dt_pack2(o0 + s4[0], o1 + s4[1]),\n",
    "                                                              bnbq_dt_pack2(o2 + s4[2], o3 + s4[3]));\n",
    "                    }\n",
    "                } else if (no < N) {   // (N % 4, unaligned out, or the row's end)\n",
    "                    pr_outlier_add4(out, e, N - no, s4[0], s4[1], s4[2], s4[3]);\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "    if (bad) *err = 1u;\n",
    "}\n",
    "#endif\n",
    "#line 1408 \"prims.cu\"\n",
    "\n",
    "// The values of the outlier product gathered for gemm90.cu's bnbq_k_int8_wg_dqt_* and bnbq_k_outlier_mm_tc below:\n",
    "// Ag (M, P) and Wg (N, P) 16-bit, row r's columns j < min(nc rounded up to 64, P) (zeros past nc; prelude.cuh's\n",
    "// bnbq_ol_chunk), 16 bytes a thread and step; P % 64 == 0. A, the values and the output are the unit's dtype (f16 or\n",
    "// bf16); a num_cols outside [0, K] sets *err and counts as its clamp.\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_outlier_gather16(const u16* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,\n",
    "                        const i32* num_cols, u16* Ag, u16* Wg, u64 P, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_outlier_gather16)\n",
    "#line 1414 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_outlier_gather16(const u16* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,\n",
    "                        const i32* num_cols, u16* Ag, u16* Wg, u64 P, u32* err) {\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)\n",
    "    i32 nc = *num_cols;\n",
    "    if (nc < 0 || (u64)nc > K) {\n",
    "        if (blockIdx.x == 0 && threadIdx.x == 0) *err = 1u;\n",
    "        nc = nc < 0 ? 0 : (i32)K;\n",
    "    }\n",
    "    u64 jn = ((u64)nc + 63u) & ~(u64)63u;\n",
    "    if (jn > P) jn = P;\n",
    "    const u64 U = jn / 8u;\n",
    "    u32 bad = 0u;\n",
    "    BNBQ_GRID_LOOP(e, (M + N) * U) {\n",
    "        const u64 r = e / U, j0 = (e - r * U) * 8u;\n",
    "        const uint4 v = bnbq_ol_chunk<BNBQ_DT>(A, CB, SCB, cols, M, K, r, j0, nc, bad);\n",
    "        *(uint4*)((r < M ? Ag + r * P : Wg + (r - M) * P) + j0) = v;\n",
    "    }\n",
    "    if (bad) *err = 1u;\n",
    "}\n",
    "#endif\n",
    "#line 1434 \"prims.cu\"\n",
    "#endif\n",
    "// bnbq_int8_mixed_scaled_mm's outlier product for more rows on the tensor cores where the int8 product is not the\n",
    "// sm_90a kernel with it in its epilogue (f16 / bf16, sm_80+; the launcher: unless bnbq_cuda_desc.exact_outlier_sums):\n",
    "// out = dt(f32(out) + S), S the products of the outlier columns' values (exact in float32) from\n",
    "// bnbq_k_outlier_gather16 (Ag (M, P), Wg (N, P); columns past P read from A, CB and cols: bnbq_ol_chunk) summed by\n",
    "// mma.m16n8k16 in float32, in their order: within tolerance(dt) of the CPU's sequential sum, as bitsandbytes' own\n",
    "// cuBLAS addmm is. Tiles of 128 x 128 outputs, 8 warps of 64 x 32 (bnbq_k_gemm_tc's fragments), 64 outlier columns\n",
    "// a step staged in shared memory (row stride 72 elements: the fragment reads hit 32 different banks).\n",
    "#if BNBQ_DT != BNBQ_F32\n",
    "#define PR_OC 64\n",
    "#define PR_OLD (PR_OC + 8)\n",
    "// out[e], out[e + 1] (the second where two) += s0, s1: dt(f32(out) + s), one rounding, NaN canonical (a call of its own,\n",
    "// out of the unrolled code, for NVRTC time)\n",
    "__device__ __noinline__ void pr_otc_out(void* out, u64 e, bool two, bool pair, float s0, float s1) {\n",
    "    u16* o = (u16*)out + e;\n",
    "    if (pair) {\n",
    "        const u32 v = *(const u32*)o;\n",
    "        *(u32*)o = bnbq_dt_pack2(pr_h2f((u16)v) + s0, pr_h2f((u16)(v >> 16)) + s1);\n",
    "        return;\n",
    "    }\n",
    "    o[0] = (u16)pr_bits(pr_h2f(o[0]) + s0);\n",
    "    if (two) o[1] = (u16)pr_bits(pr_h2f(o[1]) + s1);\n",
    "}\n",
    "// a step past the gathered columns (rare) read from A and CB (bnbq_ol_chunk) into the tiles; a call of its own\n",
    "__device__ __noinline__ void pr_otc_stage_rare(u16* As, u16* Ws, const u16* A, const i8* CB, const float* SCB,\n",
    "                                               const i32* cols, u64 M, u64 N, u64 K, u64 m0, u64 n0, i32 j0, i32 nc,\n",
    "                                               u32* err) {\n",
    "    u32 bad = 0u;\n",
    "    for (int h = 0; h < 4; h++) {\n",
    "        const int x = (int)threadIdx.x + 256 * h, row = x >> 3, ch = x & 7;\n",
    "        const u64 jc = (u64)j0 + 8u * (u64)ch, m = m0 + (u64)row, n = n0 + (u64)row;\n",
    "        uint4 va = make_uint4(0u, 0u, 0u, 0u), vb = va;\n",
    "        if (m < M) va = bnbq_ol_chunk<BNBQ_DT>(A, CB, SCB, cols, M, K, m, jc, nc, bad);\n",
    "        if (n < N) vb = bnbq_ol_chunk<BNBQ_DT>(A, CB, SCB, cols, M, K, M + n, jc, nc, bad);\n",
    "        *(uint4*)(As + row * PR_OLD + ch * 8) = va;\n",
    "        *(uint4*)(Ws + row * PR_OLD + ch * 8) = vb;\n",
    "    }\n",
    "    if (bad) *err = 1u;\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_outlier_mm_tc(const u16* Ag, const u16* Wg, u64 P, const u16* A, u64 M, u64 K, const i8* CB, const float* SCB,\n",
    "                     u64 N, const i32* cols, const i32* num_cols, void* out, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_outlier_mm_tc)\n",
    "#line 1473 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256, 2)\n",
    "bnbq_k_outlier_mm_tc(const u16* Ag, const u16* Wg, u64 P, const u16* A, u64 M, u64 K, const i8* CB, const float* SCB,\n",
    "                     u64 N, const i32* cols, const i32* num_cols, void* out, u32* err) {\n",
    "#if __CUDA_ARCH__ >= 800\n",
    "    __shared__ __align__(16) u16 As[128 * PR_OLD];\n",
    "    __shared__ __align__(16) u16 Ws[128 * PR_OLD];\n",
    "    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the gather before it first)\n",
    "    i32 nc = *num_cols;\n",
    "    nc = nc < 0 ? 0 : (u64)nc > K ? (i32)K : nc;   // (the gather flagged a count outside [0, K])\n",
    "    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3;\n",
    "    const int g = lane >> 2, t = lane & 3;\n",
    "    const u64 mtiles = (M + 127) / 128, n0 = (u64)blockIdx.x * 128u;\n",
    "    const bool pairs = ((u64)out & 3u) == 0 && N % 2 == 0;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * 128u;\n",
    "        float acc[4][4][4];\n",
    "        pr_tc_zero(acc);\n",
    "        if (t == 0)   // the warp's lines of out into the L2 for the epilogue (64 bytes a row)\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 8; i++) {\n",
    "                const u64 m = m0 + (u64)(wm * 64 + i * 8 + g), n = n0 + (u64)(wn * 32);\n",
    "                if (m < M && n < N) asm volatile(\"prefetch.global.L2 [%0];\" ::\"l\"((const u16*)out + m * N + n));\n",
    "            }\n",
    "        for (i32 j0 = 0; j0 < nc; j0 += PR_OC) {\n",
    "            // 128 rows x 8 chunks of 8 columns of each operand, 4 chunks a thread\n",
    "            // (P % 64 == 0: a step is gathered whole, or read whole from A and CB)\n",
    "            uint4 va[4], vb[4];\n",
    "#pragma unroll\n",
    "            for (int h = 0; h < 4; h++) {\n",
    "                const int x = tid + 256 * h, row = x >> 3;\n",
    "                const u64 jc = (u64)j0 + 8u * (u64)(x & 7), m = m0 + (u64)row, n = n0 + (u64)row;\n",
    "                va[h] = vb[h] = make_uint4(0u, 0u, 0u, 0u);\n",
    "                if (jc < (u64)nc && (u64)j0 < P) {\n",
    "                    if (m < M) va[h] = *(const uint4*)(Ag + m * P + jc);\n",
    "                    if (n < N) vb[h] = *(const uint4*)(Wg + n * P + jc);\n",
    "                }\n",
    "            }\n",
    "            __syncthreads();   // the step before is read\n",
    "            if ((u64)j0 >= P) pr_otc_stage_rare(As, Ws, A, CB, SCB, cols, M, N, K, m0, n0, j0, nc, err);\n",
    "            else\n",
    "#pragma unroll\n",
    "                for (int h = 0; h < 4; h++) {\n",
    "                    const int x = tid + 256 * h, row = x >> 3, ch = x & 7;\n",
    "                    *(uint4*)(As + row * PR_OLD + ch * 8) = va[h];\n",
    "                    *(uint4*)(Ws + row * PR_OLD + ch * 8) = vb[h];\n",
    "                }\n",
    "            __syncthreads();\n",
    "            const int ksn = nc - j0 < PR_OC ? ((nc - j0 + 15) & ~15) : PR_OC;   // (zeros past nc: skipped)\n",
    "            for (int ks = 0; ks < ksn; ks += 16) pr_tc_k16<PR_OLD>(acc, As, Ws, wm, wn, g, t, ks);\n",
    "        }\n",
    "        // out += the sums: a whole tile with 4-byte pairs (the usual case) unrolled, every pair of out loaded first,\n",
    "        // then the stores (a load after a store waits its full latency), in two halves (16 registers of loads);\n",
    "        // a tile at the edge of M / N, odd N or an unaligned out element by element (pr_otc_out, not unrolled)\n",
    "        if (pairs && m0 + 128u <= M && n0 + 128u <= N) {\n",
    "#pragma unroll\n",
    "            for (int ih = 0; ih < 4; ih += 2) {\n",
    "                u32 ov[2][4][2];\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 2; i++)\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < 4; j++)\n",
    "#pragma unroll\n",
    "                        for (int h = 0; h < 2; h++) {\n",
    "                            const u64 m = m0 + (u64)(wm * 64 + (ih + i) * 16 + g + 8 * h), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);\n",
    "                            ov[i][j][h] = *(const u32*)((const u16*)out + m * N + n);\n",
    "                        }\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 2; i++)\n",
    "#pragma unroll\n",
    "                    for (int j = 0; j < 4; j++)\n",
    "#pragma unroll\n",
    "                        for (int h = 0; h < 2; h++) {\n",
    "                            const u64 m = m0 + (u64)(wm * 64 + (ih + i) * 16 + g + 8 * h), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);\n",
    "                            const u32 v = ov[i][j][h];\n",
    "                            *(u32*)((u16*)out + m * N + n) = bnbq_dt_pack2(pr_h2f((u16)v) + acc[ih + i][j][2 * h],\n",
    "                                                                           pr_h2f((u16)(v >> 16)) + acc[ih + i][j][2 * h + 1]);\n",
    "                        }\n",
    "            }\n",
    "        } else {\n",
    "#pragma unroll\n",
    "            for (int i = 0; i < 4; i++)\n",
    "#pragma unroll\n",
    "                for (int j = 0; j < 4; j++)\n",
    "#pragma unroll\n",
    "                    for (int h = 0; h < 2; h++) {\n",
    "                        const u64 m = m0 + (u64)(wm * 64 + i * 16 + g + 8 * h), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);\n",
    "                        if (m < M && n < N)\n",
    "                            pr_otc_out(out, m * N + n, n + 1 < N, pairs && n + 1 < N, acc[i][j][2 * h], acc[i][j][2 * h + 1]);\n",
    "                    }\n",
    "        }\n",
    "    }\n",
    "#else\n",
    "    (void)Ag; (void)Wg; (void)P; (void)A; (void)M; (void)K; (void)CB; (void)SCB; (void)N; (void)cols; (void)num_cols;\n",
    "    (void)out; (void)err;\n",
    "#endif\n",
    "}\n",
    "#endif\n",
    "#line 1569 \"prims.cu\"\n",
    "#endif\n",
    "\n",
    "// The same for few rows (the launcher: M <= 16, a decoding step): 16 x 16 output tiles, a thread an\n",
    "// output (m = m0 + tid / 16, n = n0 + tid % 16), 64 outlier columns a step, staged as above (the same\n",
    "// a and w, zeros past *num_cols and for a bad column), then each thread adds its 64 products in j\n",
    "// order: the operations of bnbq_k_outlier_mm one by one, byte-identical. N / 16 blocks, and one step\n",
    "// for up to 64 outlier columns: the 64 x 64 tiles gave a 4096-column layer 64 blocks and 3-9\n",
    "// dependent steps of scattered CB loads (17-43 us a call at one token on the H100).\n",
    "#define PR_OF 16\n",
    "#define PR_OJF 64\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_outlier_mm_few(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N,\n",
    "                      const i32* cols, const i32* num_cols, void* out, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_outlier_mm_few)\n",
    "#line 1579 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_outlier_mm_few(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N,\n",
    "                      const i32* cols, const i32* num_cols, void* out, u32* err) {\n",
    "    __shared__ float As[PR_OJF][PR_OF + 1];   // [j][m]\n",
    "    __shared__ float Ws[PR_OJF][PR_OF + 1];   // [j][n]\n",
    "    const i32 nc = pr_outlier_nc(num_cols, K, err);\n",
    "    // staging: column jj = tid % 64 of each step, rows tid / 64 + 4 h of the tile\n",
    "    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, jj = tid & (PR_OJF - 1), r0 = tid / PR_OJF;\n",
    "    const u64 mtiles = (M + PR_OF - 1) / PR_OF;\n",
    "    const u64 n0 = (u64)blockIdx.x * PR_OF;\n",
    "    float scb[4];\n",
    "    pr_outlier_scb<4>(SCB, N, n0, r0, scb);\n",
    "    u32 bad = 0u;\n",
    "    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {\n",
    "        const u64 m0 = mt * PR_OF;\n",
    "        float acc = 0.0f, a[4];\n",
    "        int q[4];\n",
    "        bool ok;\n",
    "        i32 c = jj < nc ? cols[jj] : 0;\n",
    "        pr_outlier_load<4>(A, M, K, CB, N, c, jj < nc, r0, m0, n0, a, q, ok, bad);\n",
    "        c = PR_OJF + jj < nc ? cols[PR_OJF + jj] : 0;\n",
    "        for (i32 j0 = 0; j0 < nc; j0 += PR_OJF) {\n",
    "            pr_outlier_put<4, PR_OF + 1>(As, Ws, jj, r0, a, q, scb, ok, n0, N);\n",
    "            __syncthreads();\n",
    "            const i32 j1 = j0 + PR_OJF;\n",
    "            if (j1 < nc) {\n",
    "                pr_outlier_load<4>(A, M, K, CB, N, c, j1 + jj < nc, r0, m0, n0, a, q, ok, bad);\n",
    "                c = j1 + PR_OJF + jj < nc ? cols[j1 + PR_OJF + jj] : 0;\n",
    "            }\n",
    "#pragma unroll 16\n",
    "            for (int k = 0; k < PR_OJF; k++) {\n",
    "                const float p = As[k][ty] * Ws[k][tx];\n",
    "                acc = acc + p;\n",
    "            }\n",
    "            __syncthreads();\n",
    "        }\n",
    "        const u64 m = m0 + (u64)ty, n = n0 + (u64)tx;\n",
    "        if (m < M && n < N) pr_st(out, m * N + n, bnbq_dt_ld(out, m * N + n) + acc);\n",
    "    }\n",
    "    if (bad) *err = 1u;\n",
    "}\n",
    "#endif\n",
    "#line 1620 \"prims.cu\"\n",
    "\n",
    "// column j < *num_cols of P (M, max_cols) into column cols[j] of out (M, K): replaced or added\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_scatter_cols(const void* P, u64 M, u64 max_cols, const i32* cols, const i32* num_cols,\n",
    "                    int accumulate, void* out, u64 K, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_scatter_cols)\n",
    "#line 1622 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_scatter_cols(const void* P, u64 M, u64 max_cols, const i32* cols, const i32* num_cols,\n",
    "                    int accumulate, void* out, u64 K, u32* err) {\n",
    "    i32 nc = *num_cols;\n",
    "    if (nc < 0 || (u64)nc > max_cols) {\n",
    "        if (blockIdx.x == 0 && threadIdx.x == 0) *err = 1u;\n",
    "        nc = nc < 0 ? 0 : (i32)max_cols;\n",
    "    }\n",
    "    BNBQ_GRID_LOOP(e, M * (u64)nc) {\n",
    "        const u64 m = e / (u64)nc, j = e - m * (u64)nc;\n",
    "        const i32 c = cols[j];\n",
    "        if (c < 0 || (u64)c >= K) { *err = 1u; continue; }\n",
    "        const u64 o = m * K + (u64)c;\n",
    "        float v = bnbq_dt_ld(P, m * max_cols + j);\n",
    "        if (accumulate) v = v + bnbq_dt_ld(out, o);\n",
    "        pr_st(out, o, v);\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 1640 \"prims.cu\"\n",
    "\n",
    "// out[n, k] = dt(f32(CB[n, k]) * f32(SCB[n] * f32(1/127)))\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_i8w_dequant(const i8* CB, const float* SCB, u64 N, u64 K, void* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_i8w_dequant)\n",
    "#line 1642 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_i8w_dequant(const i8* CB, const float* SCB, u64 N, u64 K, void* out) {\n",
    "    for (u64 n = blockIdx.y; n < N; n += gridDim.y) {\n",
    "        const float s = SCB[n] * (1.0f / 127.0f);\n",
    "        for (u64 k = (u64)blockIdx.x * blockDim.x + threadIdx.x; k < K; k += (u64)gridDim.x * blockDim.x)\n",
    "            pr_st(out, n * K + k, (float)CB[n * K + k] * s);\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 1650 \"prims.cu\"\n",
    "\n",
    "#else  // ---- dtype-free data movement ----------------------------------------------------------\n",
    "\n",
    "// dst (cols, rows) = src (rows, cols): tiles of 32 x 32 through shared memory, 32 x 8 threads;\n",
    "// blockIdx.x: column tile, blockIdx.y (grid-stride): row tile\n",
    "template <typename T>\n",
    "BNBQ_DEV void pr_transpose(const T* src, u64 rows, u64 cols, T* dst) {\n",
    "    __shared__ T tile[32][33];\n",
    "    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;\n",
    "    const u64 c0 = (u64)blockIdx.x * 32, rtiles = (rows + 31) / 32;\n",
    "    for (u64 rt = blockIdx.y; rt < rtiles; rt += gridDim.y) {\n",
    "        const u64 r0 = rt * 32;\n",
    "        for (int q = ty; q < 32; q += 8) {\n",
    "            const u64 r = r0 + (u64)q, c = c0 + (u64)tx;\n",
    "            if (r < rows && c < cols) tile[q][tx] = src[r * cols + c];\n",
    "        }\n",
    "        __syncthreads();\n",
    "        for (int q = ty; q < 32; q += 8) {\n",
    "            const u64 c = c0 + (u64)q, r = r0 + (u64)tx;\n",
    "            if (r < rows && c < cols) dst[c * rows + r] = tile[tx][q];\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_transpose1(const u8* src, u64 rows, u64 cols, u8* dst) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_transpose1)\n",
    "#line 1674 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_transpose1(const u8* src, u64 rows, u64 cols, u8* dst) { pr_transpose<u8>(src, rows, cols, dst); }\n",
    "#endif\n",
    "#line 1676 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_transpose2(const u16* src, u64 rows, u64 cols, u16* dst) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_transpose2)\n",
    "#line 1676 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_transpose2(const u16* src, u64 rows, u64 cols, u16* dst) { pr_transpose<u16>(src, rows, cols, dst); }\n",
    "#endif\n",
    "#line 1678 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_transpose4(const u32* src, u64 rows, u64 cols, u32* dst) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_transpose4)\n",
    "#line 1678 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_transpose4(const u32* src, u64 rows, u64 cols, u32* dst) { pr_transpose<u32>(src, rows, cols, dst); }\n",
    "#endif\n",
    "#line 1680 \"prims.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_transpose8(const u64* src, u64 rows, u64 cols, u64* dst) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_transpose8)\n",
    "#line 1680 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_transpose8(const u64* src, u64 rows, u64 cols, u64* dst) { pr_transpose<u64>(src, rows, cols, dst); }\n",
    "#endif\n",
    "#line 1682 \"prims.cu\"\n",
    "\n",
    "// out (count, row_bytes) = rows idx[i] of table; a warp per output row (grid-stride); the row is\n",
    "// copied in units of vec bytes (16, 4 or 1: what row_bytes and both pointers allow); a bad index\n",
    "// zeroes the row\n",
    "template <typename T>\n",
    "BNBQ_DEV void pr_gather(const u8* table, u64 num_rows, u64 row_bytes, const i32* idx, u64 count,\n",
    "                        u8* out, u32* err, T zero) {\n",
    "    const int lane = threadIdx.x & 31;\n",
    "    const u64 wpb = blockDim.x >> 5, units = row_bytes / sizeof(T);\n",
    "    for (u64 i = (u64)blockIdx.x * wpb + (threadIdx.x >> 5); i < count; i += (u64)gridDim.x * wpb) {\n",
    "        const i32 r = idx[i];\n",
    "        const bool bad = r < 0 || (u64)r >= num_rows;\n",
    "        if (bad && lane == 0) *err = 1u;\n",
    "        const T* s = (const T*)(table + (bad ? 0 : (u64)r) * row_bytes);\n",
    "        T* d = (T*)(out + i * row_bytes);\n",
    "        for (u64 u = lane; u < units; u += 32) d[u] = bad ? zero : s[u];\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gather_rows(const u8* table, u64 num_rows, u64 row_bytes, const i32* idx, u64 count,\n",
    "                   u8* out, int vec, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gather_rows)\n",
    "#line 1700 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_gather_rows(const u8* table, u64 num_rows, u64 row_bytes, const i32* idx, u64 count,\n",
    "                   u8* out, int vec, u32* err) {\n",
    "    if (vec == 16) pr_gather<uint4>(table, num_rows, row_bytes, idx, count, out, err, make_uint4(0u, 0u, 0u, 0u));\n",
    "    else if (vec == 4) pr_gather<u32>(table, num_rows, row_bytes, idx, count, out, err, 0u);\n",
    "    else pr_gather<u8>(table, num_rows, row_bytes, idx, count, out, err, (u8)0);\n",
    "}\n",
    "#endif\n",
    "#line 1707 \"prims.cu\"\n",
    "\n",
    "// out (M, max_cols) = X (M, K) columns cols[j], j < *num_cols; zero for j >= *num_cols\n",
    "template <typename T>\n",
    "BNBQ_DEV void pr_gather_cols(const T* X, u64 M, u64 K, const i32* cols, const i32* num_cols,\n",
    "                             u64 max_cols, T* out, u32* err) {\n",
    "    i32 nc = *num_cols;\n",
    "    if (nc < 0 || (u64)nc > max_cols) {\n",
    "        if (blockIdx.x == 0 && threadIdx.x == 0) *err = 1u;\n",
    "        nc = nc < 0 ? 0 : (i32)max_cols;\n",
    "    }\n",
    "    BNBQ_GRID_LOOP(e, M * max_cols) {\n",
    "        const u64 m = e / max_cols, j = e - m * max_cols;\n",
    "        T v = (T)0;\n",
    "        if (j < (u64)nc) {\n",
    "            const i32 c = cols[j];\n",
    "            if (c < 0 || (u64)c >= K) *err = 1u;\n",
    "            else v = X[m * K + (u64)c];\n",
    "        }\n",
    "        out[e] = v;\n",
    "    }\n",
    "}\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_gather_cols(const void* X, u64 M, u64 K, const i32* cols, const i32* num_cols, u64 max_cols,\n",
    "                   void* out, int es, u32* err) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_gather_cols)\n",
    "#line 1728 \"prims.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_gather_cols(const void* X, u64 M, u64 K, const i32* cols, const i32* num_cols, u64 max_cols,\n",
    "                   void* out, int es, u32* err) {\n",
    "    if (es == 8) pr_gather_cols<u64>((const u64*)X, M, K, cols, num_cols, max_cols, (u64*)out, err);\n",
    "    else if (es == 4) pr_gather_cols<u32>((const u32*)X, M, K, cols, num_cols, max_cols, (u32*)out, err);\n",
    "    else if (es == 2) pr_gather_cols<u16>((const u16*)X, M, K, cols, num_cols, max_cols, (u16*)out, err);\n",
    "    else pr_gather_cols<u8>((const u8*)X, M, K, cols, num_cols, max_cols, (u8*)out, err);\n",
    "}\n",
    "#endif\n",
    "#line 1736 \"prims.cu\"\n",
    "\n",
    "#endif\n",
    0
};
static const char* const bnbq__cu_kernels_prims[] = {
    "bnbq_k_gemm",
    "bnbq_k_gemm_few1",
    "bnbq_k_gemm_few4",
    "bnbq_k_gemm_mma",
    "bnbq_k_gemm_mma_nn",
    "bnbq_k_gemm_smallk",
    "bnbq_k_gemm_tc",
    "bnbq_k_gemm_t2_nn",
    "bnbq_k_gemm_t2_nt",
    "bnbq_k_gemm_t2_tn",
    "bnbq_k_gemm_t2_tt",
    "bnbq_k_colsum",
    "bnbq_k_embed_bwd",
    "bnbq_k_renorm2",
    "bnbq_k_renorm1",
    "bnbq_k_renorm_pow",
    "bnbq_k_layer_norm",
    "bnbq_k_ln_bwd_x",
    "bnbq_k_ln_bwd_params",
    "bnbq_k_gather8",
    "bnbq_k_gather4",
    "bnbq_k_outlier_mm",
    "bnbq_k_outlier_gather",
    "bnbq_k_outlier_mm_g",
    "bnbq_k_outlier_gather16",
    "bnbq_k_outlier_mm_tc",
    "bnbq_k_outlier_mm_few",
    "bnbq_k_scatter_cols",
    "bnbq_k_i8w_dequant",
    "bnbq_k_transpose1",
    "bnbq_k_transpose2",
    "bnbq_k_transpose4",
    "bnbq_k_transpose8",
    "bnbq_k_gather_rows",
    "bnbq_k_gather_cols",
    0
};
static const char* const bnbq__cu_src_quant[] = {
    "#line 1 \"quant.cu\"\n",
    "// Quantization kernels (bnbq_quantize_blockwise and its family). One source, compiled as several\n",
    "// units chosen with -D (each a variant listed in bnbq_cuda.h's BNBQ__CU_VARIANTS_QUANT):\n",
    "//   BNBQ_OPS=1  8-bit blockwise quantize / dequantize (dequantize_global uses it too)\n",
    "//   BNBQ_OPS=2  global 8-bit quantize: absmax reduction, then the codes\n",
    "//   BNBQ_OPS=3  nested statistics: offset, quantize, dequantize (float32)\n",
    "//   BNBQ_OPS=4  4-bit NF4 / FP4 quantize / dequantize (BNBQ_QT)\n",
    "//   BNBQ_DT     the float tensor's dtype (BNBQ_F32 / F16 / BF16)\n",
    "// Every kernel runs with 256 threads per block (nested_offset: 1024). Each reproduces bnbq.h's\n",
    "// CPU reference bit for bit: the same float32 operations per element in the same order.\n",
    "// Each kernel is its own compilation unit, so rare paths are kernels of their own that the\n",
    "// launcher picks (and only they compile): *_search (8-bit codes whose table needs mode 1),\n",
    "// quant4_exact (4-bit table mode 1), the dequantizers' *_any (pointers not aligned for vectors).\n",
    "#ifndef BNBQ_OPS\n",
    "#define BNBQ_OPS 1\n",
    "#endif\n",
    "#ifndef BNBQ_DT\n",
    "#define BNBQ_DT BNBQ_F32\n",
    "#endif\n",
    "#ifndef BNBQ_QT\n",
    "#define BNBQ_QT BNBQ_NF4\n",
    "#endif\n",
    "\n",
    "// Host tables arrive by value, laid out exactly as the C side's structs.\n",
    "struct bnbq_code256 { float v[256]; };                      // an 8-bit code\n",
    "struct bnbq_code16 { float v[16]; };                        // 4-bit dequantization values\n",
    "\n",
    "struct alignas(16) bq_v4 { u32 a, b, c, d; };\n",
    "struct alignas(8) bq_v2 { u32 a, b; };\n",
    "struct alignas(8) bq_f2 { float x, y; };\n",
    "\n",
    "#define BQ_THREADS 256\n",
    "#define BQ_FULL 0xffffffffu\n",
    "#define BQ_MEMBER __device__ __forceinline__\n",
    "\n",
    "// max as bnbq.h's block absmax, from m = 0: a NaN never wins (quiet or signaling: the comparison\n",
    "// is false either way, so no reliance on a max instruction's NaN rules)\n",
    "BNBQ_DEV float bq_max(float m, float a) { return a > m ? a : m; }\n",
    "\n",
    "// f16 -> f32 in one instruction; exact for every number (quantizers only: there a NaN's payload\n",
    "// does not matter, every NaN gives code 0 and never wins the absmax)\n",
    "BNBQ_DEV float bq_h2f(u32 h) {\n",
    "#ifdef BNBQ_EMU                                      // a host emulation used for testing\n",
    "    return bnbq_f16_to_f32((u16)h);\n",
    "#else\n",
    "    float f;\n",
    "    unsigned short s = (unsigned short)h;\n",
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(s));\n",
    "    return f;\n",
    "#endif\n",
    "}\n",
    "template <int DT> BNBQ_DEV float bq_widen(u32 h) {\n",
    "    return DT == BNBQ_F16 ? bq_h2f(h & 0xffffu) : __uint_as_float(h << 16);\n",
    "}\n",
    "// 16 aligned bytes at element e: 4 (F32) or 8 (F16/BF16) elements\n",
    "template <int DT> BNBQ_DEV void bq_load_vec(const void* x, u64 e, float* v) {\n",
    "    if (DT == BNBQ_F32) {\n",
    "        bq_v4 w = *(const bq_v4*)((const float*)x + e);\n",
    "        v[0] = __uint_as_float(w.a); v[1] = __uint_as_float(w.b);\n",
    "        v[2] = __uint_as_float(w.c); v[3] = __uint_as_float(w.d);\n",
    "    } else {\n",
    "        bq_v4 w = *(const bq_v4*)((const u16*)x + e);\n",
    "        v[0] = bq_widen<DT>(w.a); v[1] = bq_widen<DT>(w.a >> 16);\n",
    "        v[2] = bq_widen<DT>(w.b); v[3] = bq_widen<DT>(w.b >> 16);\n",
    "        v[4] = bq_widen<DT>(w.c); v[5] = bq_widen<DT>(w.c >> 16);\n",
    "        v[6] = bq_widen<DT>(w.d); v[7] = bq_widen<DT>(w.d >> 16);\n",
    "    }\n",
    "}\n",
    "\n",
    "// The 16 values of thread t in a tile of BQ_THREADS * 16 elements starting at base: 16-byte vector\n",
    "// loads when vec_ok (the tile is whole and x is 16-byte aligned), else element loads with the\n",
    "// elements past n read as 0.0f.\n",
    "template <int DT> BNBQ_DEV void bq_load_tile(const void* x, u64 n, u64 base, int t, bool vec_ok,\n",
    "                                             float* v) {\n",
    "    const int VEC = DT == BNBQ_F32 ? 4 : 8;\n",
    "    const int NV = 16 / VEC;\n",
    "    if (vec_ok) {\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < NV; j++)\n",
    "            bq_load_vec<DT>(x, base + (u64)((j * BQ_THREADS + t) * VEC), v + j * VEC);\n",
    "    } else {\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < NV; j++) {\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < VEC; k++) {\n",
    "                const u64 e = base + (u64)((j * BQ_THREADS + t) * VEC + k);\n",
    "                v[j * VEC + k] = e < n ? bnbq_load(DT, x, e) : 0.0f;\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "// one RNE rounding to DT, the prelude's bit-exact conversions (NaN payloads included)\n",
    "template <int DT> BNBQ_DEV u32 bq_narrow(float v) {\n",
    "    return DT == BNBQ_F16 ? (u32)bnbq_f32_to_f16(v) : (u32)bnbq_f32_to_bf16(v);\n",
    "}\n",
    "// 16 aligned bytes of output at element e: 4 (F32) or 8 (F16/BF16) values\n",
    "template <int DT> BNBQ_DEV void bq_store_vec(void* out, u64 e, const float* v) {\n",
    "    bq_v4 w;\n",
    "    if (DT == BNBQ_F32) {\n",
    "        w.a = __float_as_uint(v[0]); w.b = __float_as_uint(v[1]);\n",
    "        w.c = __float_as_uint(v[2]); w.d = __float_as_uint(v[3]);\n",
    "        *(bq_v4*)((float*)out + e) = w;\n",
    "    } else {\n",
    "        w.a = bq_narrow<DT>(v[0]) | (bq_narrow<DT>(v[1]) << 16);\n",
    "        w.b = bq_narrow<DT>(v[2]) | (bq_narrow<DT>(v[3]) << 16);\n",
    "        w.c = bq_narrow<DT>(v[4]) | (bq_narrow<DT>(v[5]) << 16);\n",
    "        w.d = bq_narrow<DT>(v[6]) | (bq_narrow<DT>(v[7]) << 16);\n",
    "        *(bq_v4*)((u16*)out + e) = w;\n",
    "    }\n",
    "}\n",
    "\n",
    "// ---- blockwise quantization skeleton ----------------------------------------------------------\n",
    "// A block of 256 threads takes a tile of 4096 elements: 4096 / bs quantization blocks of\n",
    "// G = bs / 16 threads, each thread holding 16 elements in registers (4 or 2 vectors of 16 bytes;\n",
    "// vector j of lane l in a group covers elements (j * G + l) * VEC ... + VEC - 1 of its block).\n",
    "// They stay as loaded (f16 / bf16 pairs: 8 words), are widened once where they are coded, and the\n",
    "// next tile of the block is loaded before this one is coded (BQ_PREFETCH), so that a few blocks\n",
    "// per SM keep enough bytes in flight. The block's absmax (a max: order-free; f16 / bf16 pairs with\n",
    "// the packed max, whose NaN rule is the scalar one: a NaN never wins) is reduced with shuffles\n",
    "// (G <= 32) and shared memory, then every element is coded from the registers: the input is read\n",
    "// once. The coder's tables are set up once per block, while its first tile is loading.\n",
    "// NESTED: the values are f32(x - off) (quantize_nested). BITS 8: one code per byte; BITS 4: two\n",
    "// codes per byte, high nibble first, a missing last element coded from 0.0f * inv.\n",
    "#ifndef BQ_PREFETCH\n",
    "#define BQ_PREFETCH 1\n",
    "#endif\n",
    "#define BQ_NEG_INF (-__uint_as_float(0x7f800000u))\n",
    "\n",
    "// max.f32: a NaN operand loses (so fmax(m, NaN) = m)\n",
    "BNBQ_DEV float bq_fmax(float a, float b) {\n",
    "    float d;\n",
    "    asm(\"max.f32 %0, %1, %2;\" : \"=f\"(d) : \"f\"(a), \"f\"(b));\n",
    "    return d;\n",
    "}\n",
    "// a << (n & 31), a >> (n & 31): one funnel shift each\n",
    "BNBQ_DEV u32 bq_shl(u32 a, u32 n) {\n",
    "    u32 d;\n",
    "    asm(\"shf.l.wrap.b32 %0, %1, %2, %3;\" : \"=r\"(d) : \"r\"(0u), \"r\"(a), \"r\"(n));\n",
    "    return d;\n",
    "}\n",
    "BNBQ_DEV u32 bq_shr(u32 a, u32 n) {\n",
    "    u32 d;\n",
    "    asm(\"shf.r.wrap.b32 %0, %1, %2, %3;\" : \"=r\"(d) : \"r\"(a), \"r\"(0u), \"r\"(n));\n",
    "    return d;\n",
    "}\n",
    "// max(m, |w|) per half of two f16 / bf16 pairs (max.f16x2 / max.bf16x2, sm_80: a NaN half loses)\n",
    "#if __CUDA_ARCH__ >= 800\n",
    "#define BQ_HMAX 1\n",
    "template <int DT> BNBQ_DEV u32 bq_hmax2(u32 m, u32 w) {\n",
    "    u32 d;\n",
    "    w &= 0x7fff7fffu;\n",
    "    if (DT == BNBQ_F16) asm(\"max.f16x2 %0, %1, %2;\" : \"=r\"(d) : \"r\"(m), \"r\"(w));\n",
    "    else asm(\"max.bf16x2 %0, %1, %2;\" : \"=r\"(d) : \"r\"(m), \"r\"(w));\n",
    "    return d;\n",
    "}\n",
    "#else\n",
    "#define BQ_HMAX 0\n",
    "template <int DT> BNBQ_DEV u32 bq_hmax2(u32 m, u32 w) { return m | w; }   // not used\n",
    "#endif\n",
    "// (a & m) | (b & ~m) in one lop3\n",
    "BNBQ_DEV u32 bq_blend(u32 a, u32 m, u32 b) {\n",
    "    u32 d;\n",
    "    asm(\"lop3.b32 %0, %1, %2, %3, 0xe2;\" : \"=r\"(d) : \"r\"(a), \"r\"(m), \"r\"(b));\n",
    "    return d;\n",
    "}\n",
    "// a > b ? 0xffffffff : 0\n",
    "BNBQ_DEV u32 bq_gtmask(float a, float b) {\n",
    "    u32 d;\n",
    "    asm(\"set.gt.u32.f32 %0, %1, %2;\" : \"=r\"(d) : \"f\"(a), \"f\"(b));\n",
    "    return d;\n",
    "}\n",
    "// shared memory by 32-bit address (no generic-address conversion per load)\n",
    "BNBQ_DEV u32 bq_saddr(const void* p) { return (u32)__cvta_generic_to_shared(p); }\n",
    "BNBQ_DEV u32 bq_lds(u32 a) {\n",
    "    u32 d;\n",
    "    asm volatile(\"ld.shared.u32 %0, [%1];\" : \"=r\"(d) : \"r\"(a));\n",
    "    return d;\n",
    "}\n",
    "BNBQ_DEV bq_f2 bq_lds2(u32 a) {\n",
    "    bq_f2 d;\n",
    "    asm volatile(\"ld.shared.v2.f32 {%0, %1}, [%2];\" : \"=f\"(d.x), \"=f\"(d.y) : \"r\"(a));\n",
    "    return d;\n",
    "}\n",
    "// The 16 values of a thread as loaded: f32 bits, or 8 words of f16 / bf16 pairs.\n",
    "template <int DT> struct bq_raw { u32 w[DT == BNBQ_F32 ? 16 : 8]; };\n",
    "template <int DT> BNBQ_DEV float bq_elem(const bq_raw<DT>& r, int k) {\n",
    "    if (DT == BNBQ_F32) return __uint_as_float(r.w[k]);\n",
    "    return bq_widen<DT>((k & 1) ? r.w[k >> 1] >> 16 : r.w[k >> 1]);\n",
    "}\n",
    "\n",
    "// lane l's 16 values of the tile at element `base`: 16-byte loads when `whole` (every element of\n",
    "// the tile < n, x aligned) from xe = x's address of the lane's first element, else element loads\n",
    "// with those past n read as 0.0f; NESTED (F32): f32(x - off) for those read. off0 = the lane's\n",
    "// first element in the tile, (g << bs_log2) + l * VEC; vector j is j * jstep elements later.\n",
    "template <int DT, bool NESTED> BNBQ_DEV void bq_load_tile16(const void* x, const char* xe, u64 n,\n",
    "                                                            u64 base, bool whole, u32 off0,\n",
    "                                                            u32 jstep, float off, bq_raw<DT>& r) {\n",
    "    const int VEC = DT == BNBQ_F32 ? 4 : 8;\n",
    "    const int NV = 16 / VEC;\n",
    "    const int ES = DT == BNBQ_F32 ? 4 : 2;\n",
    "    if (whole) {\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < NV; j++) {\n",
    "            const bq_v4 w = *(const bq_v4*)(xe + (u32)j * jstep * ES);\n",
    "            r.w[4 * j] = w.a; r.w[4 * j + 1] = w.b; r.w[4 * j + 2] = w.c; r.w[4 * j + 3] = w.d;\n",
    "        }\n",
    "        if (NESTED) {\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < 16; k++) r.w[k] = __float_as_uint(__uint_as_float(r.w[k]) - off);\n",
    "        }\n",
    "    } else {\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < NV; j++) {\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < VEC; k++) {\n",
    "                const u64 e = base + off0 + (u32)j * jstep + (u32)k;\n",
    "                u32 b = 0;\n",
    "                if (e < n) {\n",
    "                    b = DT == BNBQ_F32 ? ((const u32*)x)[e] : (u32)((const u16*)x)[e];\n",
    "                    if (NESTED) b = __float_as_uint(__uint_as_float(b) - off);\n",
    "                }\n",
    "                if (DT == BNBQ_F32) r.w[j * VEC + k] = b;\n",
    "                else if (k & 1) r.w[(j * VEC + k) >> 1] |= b << 16;\n",
    "                else r.w[(j * VEC + k) >> 1] = b;\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "// Coder: setup(tables) once per block (all threads; ends with a barrier), one(x) = the code of x,\n",
    "// pack4(a, b, c, d) = four codes (BITS 8: one per byte; BITS 4: two bytes, high nibble first).\n",
    "// x is always a product (or quotient): a NaN is a quiet one.\n",
    "template <int DT, bool NESTED, int BITS, class Coder, class Tab>\n",
    "BNBQ_DEV void bq_quant_blocks(const void* x, u64 n, int bs_log2, u8* q, float* absmax, float off,\n",
    "                              Coder& cd, const Tab& tab) {\n",
    "    const int VEC = DT == BNBQ_F32 ? 4 : 8;\n",
    "    const int NV = 16 / VEC;\n",
    "    const int OB = BITS == 8 ? VEC : VEC / 2;        // output bytes per vector\n",
    "    const int ES = DT == BNBQ_F32 ? 4 : 2;           // input bytes per element\n",
    "    const int t = threadIdx.x;\n",
    "    const int lg = bs_log2 - 4;                      // log2(G): 1 .. 8\n",
    "    const int G = 1 << lg;\n",
    "    const int g = t >> lg, l = t & (G - 1);\n",
    "    const u64 ntiles = (n >> 12) + ((n & 4095) != 0);   // tiles of 4096 = 4096 / bs blocks\n",
    "    const bool al = ((u64)x & 15) == 0 && ((u64)q & (u64)(OB - 1)) == 0;\n",
    "    const u32 off0 = ((u32)g << bs_log2) + (u32)(l * VEC), jstep = (u32)(G * VEC);\n",
    "    const u64 step = (u64)gridDim.x << 12;           // elements from one tile of the block to the next\n",
    "    // bs >= 1024: the maxima of the block's groups (<= 4), as float bits (non-negative, never NaN,\n",
    "    // so their order is the integers'), reduced with a shared atomicMax by each warp's lane 0.\n",
    "    // Tile i uses set i % 3 and then clears set (i + 2) % 3: it was last read in tile i - 1 (done\n",
    "    // by everyone at tile i's barrier) and is next written in tile i + 2 (after tile i + 1's).\n",
    "    __shared__ u32 red[3][4];\n",
    "    int rs = 0;\n",
    "    if (t < 12) red[t >> 2][t & 3] = 0u;             // cd.setup ends with a barrier\n",
    "    u64 tile = blockIdx.x, base = tile << 12;\n",
    "    // the lane's first input element, output byte and absmax of the current tile\n",
    "    const char* xe = (const char*)x + (base + off0) * ES;\n",
    "    u8* qe = q + (base + off0) * BITS / 8;\n",
    "    float* ae = absmax + (base >> bs_log2) + (u64)g;\n",
    "    bq_raw<DT> cur;\n",
    "    bq_load_tile16<DT, NESTED>(x, xe, n, base, al && n - base >= 4096, off0, jstep, off, cur);\n",
    "    cd.setup(tab);\n",
    "    for (; tile < ntiles; tile += gridDim.x, base += step, xe += step * ES, qe += step * BITS / 8,\n",
    "                          ae += step >> bs_log2) {\n",
    "        const bool whole = al && n - base >= 4096;   // block-uniform\n",
    "        bq_raw<DT> v = cur;\n",
    "#if BQ_PREFETCH\n",
    "        if (tile + gridDim.x < ntiles)\n",
    "            bq_load_tile16<DT, NESTED>(x, xe + step * ES, n, base + step, al && n - base - step >= 4096,\n",
    "                                       off0, jstep, off, cur);\n",
    "#endif\n",
    "        float m = 0.0f;\n",
    "        if (DT == BNBQ_F32) {\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < 16; k++) m = bq_fmax(m, bnbq_absf(__uint_as_float(v.w[k])));\n",
    "        } else if (BQ_HMAX) {\n",
    "            u32 m2 = 0;\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < 8; k++) m2 = bq_hmax2<DT>(m2, v.w[k]);\n",
    "            m = bq_fmax(bq_widen<DT>(m2), bq_widen<DT>(m2 >> 16));\n",
    "        } else {\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < 16; k++) m = bq_fmax(m, bnbq_absf(bq_elem<DT>(v, k)));\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int o = 1; o < 32; o <<= 1)             // G is block-uniform\n",
    "            if (o < G) m = bq_fmax(m, __shfl_xor_sync(BQ_FULL, m, o));\n",
    "        if (G > 32) {                                // uniform: bs >= 1024\n",
    "            if ((t & 31) == 0) atomicMax(&red[rs][g], __float_as_uint(m));\n",
    "            __syncthreads();\n",
    "            m = __uint_as_float(red[rs][g]);\n",
    "            const int rc = rs == 0 ? 2 : rs - 1;     // (rs + 2) % 3\n",
    "            if (t < 4) red[rc][t] = 0u;\n",
    "            rs = rs == 2 ? 0 : rs + 1;\n",
    "        }\n",
    "        const float inv = 1.0f / m;                  // IEEE reciprocal; 0 -> inf -> NaN -> code 0\n",
    "        if (l == 0 && (whole || base + ((u64)g << bs_log2) < n)) *ae = m;\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < NV; j++) {\n",
    "            float y[VEC];\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < VEC; k++) y[k] = bq_elem<DT>(v, j * VEC + k) * inv;\n",
    "            // the codes of the vector, whole tile or not (one coder body: a partial tile writes\n",
    "            // the bytes whose first element is < n; those past n are coded from 0.0f * inv)\n",
    "            const u32 p0 = cd.pack4(y[0], y[1], y[2], y[3]);\n",
    "            const u32 p1 = VEC == 4 ? 0u : cd.pack4(y[4 % VEC], y[5 % VEC], y[6 % VEC], y[7 % VEC]);\n",
    "            u8* qv = qe + (u32)j * jstep * BITS / 8;\n",
    "            if (whole) {\n",
    "                if (VEC == 4) {\n",
    "                    if (BITS == 8) *(u32*)qv = p0;\n",
    "                    else *(u16*)qv = (u16)p0;\n",
    "                } else {\n",
    "                    if (BITS == 8) {\n",
    "                        bq_v2 w;\n",
    "                        w.a = p0;\n",
    "                        w.b = p1;\n",
    "                        *(bq_v2*)qv = w;\n",
    "                    } else {\n",
    "                        *(u32*)qv = p0 | (p1 << 16);\n",
    "                    }\n",
    "                }\n",
    "            } else {\n",
    "                const u64 e0 = base + off0 + (u32)j * jstep;\n",
    "                const u64 pk = BITS == 8 ? ((u64)p0 | ((u64)p1 << 32)) : (u64)(p0 | (p1 << 16));\n",
    "#pragma unroll\n",
    "                for (int b = 0; b < OB; b++)\n",
    "                    if (e0 + (u64)(b * (8 / BITS)) < n) qv[b] = (u8)(pk >> (8 * b));\n",
    "            }\n",
    "        }\n",
    "#if !BQ_PREFETCH\n",
    "        if (tile + gridDim.x < ntiles)\n",
    "            bq_load_tile16<DT, NESTED>(x, xe + step * ES, n, base + step, al && n - base - step >= 4096,\n",
    "                                       off0, jstep, off, cur);\n",
    "#endif\n",
    "    }\n",
    "}\n",
    "\n",
    "// ---- the 8-bit code search (bnbq.h bnbq__code_index) ------------------------------------------\n",
    "#if BNBQ_OPS == 1 || BNBQ_OPS == 2 || BNBQ_OPS == 3\n",
    "// For a sorted code (the API validates it) bnbq__code_index is a monotone step function of x over\n",
    "// the non-NaN floats, NaN -> 0: f(x) = #{k : kt[k] <= key(x)}, 255 threshold keys computed on the\n",
    "// host (bnbq_cuda.h, bnbq__cuq_q8build, which derives them). f(NaN) = f(-inf) = 0, so x is first\n",
    "// mapped with max(x, -inf). Mode 0: a two-level table: l1[top 9 bits of x (sign, exponent)] =\n",
    "// byte offset of its sub-buckets in l2 << 8 | 21 - m; sub-bucket = the next m mantissa bits; an\n",
    "// l2 entry = count at the sub-bucket's start << 24 | the low 23 - m bits of T, the float below the\n",
    "// one step in the sub-bucket (no step: x <= T for every x of it), whose upper bits are x's:\n",
    "// code = count + (x > T). Mode 1 (codes with runs of equal entries and the like): the sorted keys\n",
    "// in l2[0..255] (l2[0] = 0), binary-searched.\n",
    "#define BQ8_L2CAP 736\n",
    "struct bnbq_q8tab { u32 mode; u32 n2; u32 l1[256]; u32 l2[BQ8_L2CAP]; };   // l1: 512 u16\n",
    "__shared__ u32 bq8_l1[512];\n",
    "__shared__ u32 bq8_l2[BQ8_L2CAP];\n",
    "\n",
    "BNBQ_DEV void bq8_load(const bnbq_q8tab& tab) {\n",
    "    const int t = threadIdx.x;\n",
    "    const u32 w = tab.l1[t];                         // entries 2t, 2t + 1: index << 5 | 21 - m\n",
    "    const u32 b = bq_saddr(bq8_l2) << 8;             // l1: shared address of the first entry << 8\n",
    "    bq8_l1[2 * t] = b + ((((w & 0xffffu) >> 5) << 10) | (w & 31u));\n",
    "    bq8_l1[2 * t + 1] = b + (((w >> 21) << 10) | ((w >> 16) & 31u));\n",
    "    const u32 n2 = tab.n2;\n",
    "    for (u32 i = (u32)t; i < n2; i += BQ_THREADS) bq8_l2[i] = tab.l2[i];\n",
    "    __syncthreads();\n",
    "}\n",
    "\n",
    "// the l2 entry of x, plus 1 << 24 where x > T\n",
    "BNBQ_DEV u32 bq8_entry(float x, u32 l1) {\n",
    "    const float xn = x;\n",
    "    const u32 u = __float_as_uint(xn);\n",
    "    const u32 w = bq_lds(l1 + ((u >> 21) & 0x7fcu));\n",
    "    const u32 nm = bq_shl(0xfffffffcu, w);           // ~0 << (23 - m)\n",
    "    const u32 s4 = bq_shr(u & nm & 0x7fffffu, w);    // sub-bucket * 4\n",
    "    const u32 e = bq_lds((w >> 8) + s4);\n",
    "    const float T = __uint_as_float(bq_blend(u, nm, e));\n",
    "    return xn > T ? e + 0x1000000u : e;\n",
    "}\n",
    "struct bq8_table {\n",
    "    u32 l1;                                          // shared address of bq8_l1\n",
    "    BQ_MEMBER void setup(const bnbq_q8tab& tab) {\n",
    "        bq8_load(tab);\n",
    "        l1 = bq_saddr(bq8_l1);\n",
    "    }\n",
    "    BQ_MEMBER int one(float x) const { return (int)(bq8_entry(x, l1) >> 24); }\n",
    "    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {\n",
    "        const u32 lo = __byte_perm(bq8_entry(a, l1), bq8_entry(b, l1), 0x0073u);\n",
    "        const u32 hi = __byte_perm(bq8_entry(c, l1), bq8_entry(d, l1), 0x0073u);\n",
    "        return __byte_perm(lo, hi, 0x5410u);\n",
    "    }\n",
    "};\n",
    "// mode 1 (a rare path: compact, one called body)\n",
    "static __device__ __noinline__ u32 bq8_search_one(float x) {\n",
    "    const u32 u = __float_as_uint(bq_fmax(x, BQ_NEG_INF));\n",
    "    const u32 k = (u >> 31) ? ~u : (u | 0x80000000u);\n",
    "    u32 i = 0;\n",
    "#pragma unroll 1\n",
    "    for (u32 s = 128; s > 0; s >>= 1) i += bq8_l2[i + s] <= k ? s : 0u;\n",
    "    return i;\n",
    "}\n",
    "struct bq8_search {\n",
    "    BQ_MEMBER void setup(const bnbq_q8tab& tab) { bq8_load(tab); }\n",
    "    BQ_MEMBER int one(float x) const { return (int)bq8_search_one(x); }\n",
    "    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {\n",
    "        return (u32)one(a) | ((u32)one(b) << 8) | ((u32)one(c) << 16) | ((u32)one(d) << 24);\n",
    "    }\n",
    "};\n",
    "#endif\n",
    "\n",
    "#if BNBQ_OPS == 1\n",
    "// out_q, out_absmax = bnbq_quantize_blockwise(code, x, n, 2^bs_log2); bs 64..4096\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant8(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_q8tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant8)\n",
    "#line 408 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant8(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_q8tab tab) {\n",
    "    bq8_table cd;\n",
    "    bq_quant_blocks<BNBQ_DT, false, 8>(x, n, bs_log2, q, absmax, 0.0f, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 413 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant8_search(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_q8tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant8_search)\n",
    "#line 413 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant8_search(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_q8tab tab) {\n",
    "    bq8_search cd;\n",
    "    bq_quant_blocks<BNBQ_DT, false, 8>(x, n, bs_log2, q, absmax, 0.0f, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 418 \"quant.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- dequantization ---------------------------------------------------------------------------\n",
    "// A tile is 256 threads x U vectors of 16 output bytes (F32: U = 2, each warp's vectors\n",
    "// consecutive: vector j of thread t is tile vector (t / 32) * 32U + 32j + t % 32; F16/BF16: U = 4,\n",
    "// vector j * 256 + t). The F32 shape was the best plain stream on an H200; for the 8-bit F32\n",
    "// kernel U = 4 with vector j * 256 + t measured better (88.8 % of copy against 86.3 %, two runs:\n",
    "// bench/results/gpu-20261121-dequant-int8.txt), still to be confirmed in one run.\n",
    "// Block b takes the tpb consecutive tiles from b * tpb; the launcher makes tpb 1 (one tile a\n",
    "// block) when the grid allows: blocks start in order, so the tiles in flight stay together.\n",
    "#if BNBQ_OPS == 1 || BNBQ_OPS == 3 || BNBQ_OPS == 4\n",
    "template <int DT> struct bq_dq {\n",
    "    static const int VO = DT == BNBQ_F32 ? 4 : 8;    // values a vector\n",
    "    static const int U = DT == BNBQ_F32 ? 2 : 4;     // vectors a thread\n",
    "    static const int TE = BQ_THREADS * U * VO;       // values a tile\n",
    "    static BQ_MEMBER int vec(int j, int t) {\n",
    "        return DT == BNBQ_F32 ? (t >> 5) * (32 * U) + j * 32 + (t & 31) : j * BQ_THREADS + t;\n",
    "    }\n",
    "};\n",
    "// 16 aligned bytes of output at element e: 4 (F32) or 8 (F16/BF16) values\n",
    "template <int DT> BNBQ_DEV void bq_dq_store(void* out, u64 e, const float* v) {\n",
    "    bq_v4 w;\n",
    "    if (DT == BNBQ_F32) {\n",
    "        w.a = __float_as_uint(v[0]); w.b = __float_as_uint(v[1]);\n",
    "        w.c = __float_as_uint(v[2]); w.d = __float_as_uint(v[3]);\n",
    "        *(bq_v4*)((float*)out + e) = w;\n",
    "    } else {\n",
    "        w.a = bnbq_pack2<DT>(v[0], v[1]);\n",
    "        w.b = bnbq_pack2<DT>(v[2], v[3 % 4]);\n",
    "        w.c = bnbq_pack2<DT>(v[4 % 8], v[5 % 8]);\n",
    "        w.d = bnbq_pack2<DT>(v[6 % 8], v[7 % 8]);\n",
    "        *(bq_v4*)((u16*)out + e) = w;\n",
    "    }\n",
    "}\n",
    "// one value at element e (the partial tiles), rounded as bq_dq_store rounds\n",
    "template <int DT> BNBQ_DEV void bq_dq_store1(void* out, u64 e, float v) {\n",
    "    v = bnbq_canon(v);\n",
    "    if (DT == BNBQ_F32) ((float*)out)[e] = v;\n",
    "    else ((u16*)out)[e] = (u16)bnbq_pack2<DT>(v, 0.0f);\n",
    "}\n",
    "#endif\n",
    "\n",
    "// ---- the dequantizers: out[e] = dt(tab[index e] * absmax[e >> bs_log2]) (NESTED: f32(... + off))\n",
    "// BITS 8: index e = q[e] (bnbq_code256); BITS 4: nibble e of q, the high one of byte e / 2 for even\n",
    "// e (bnbq_code16). bs_log2 = 63 gives one absmax for all (dequantize_global); else bs >= 32, so the\n",
    "// VO values of a vector share one absmax.\n",
    "// ALIGNED (q aligned to its vector's bytes, out 16-byte aligned; the launcher checks): whole tiles\n",
    "// as vectors; the tensor's last, partial tile as vectors too, except the one vector that straddles\n",
    "// n (by elements). Else (the _any kernels) every tile by elements.\n",
    "#if BNBQ_OPS == 1 || BNBQ_OPS == 3 || BNBQ_OPS == 4\n",
    "// the aligned source bytes of a vector at element e0: 8-bit VO bytes, 4-bit VO / 2\n",
    "template <int BITS, int VO> struct bq_dqw { u32 w[BITS == 8 ? VO / 4 : 1]; };\n",
    "template <int BITS, int VO> BNBQ_DEV void bq_dq_loadw(const u8* q, u64 e0, bq_dqw<BITS, VO>& r) {\n",
    "    if (BITS == 8) {\n",
    "        if (VO == 4) {\n",
    "            r.w[0] = *(const u32*)(q + e0);\n",
    "        } else {\n",
    "            const bq_v2 p = *(const bq_v2*)(q + e0);\n",
    "            r.w[0] = p.a;\n",
    "            r.w[(VO / 4) - 1] = p.b;\n",
    "        }\n",
    "    } else {\n",
    "        r.w[0] = VO == 4 ? (u32)(*(const u16*)(q + (e0 >> 1))) : *(const u32*)(q + (e0 >> 1));\n",
    "    }\n",
    "}\n",
    "// the table index of value k of a vector\n",
    "template <int BITS, int VO> BNBQ_DEV u32 bq_dq_idx(const bq_dqw<BITS, VO>& r, int k) {\n",
    "    if (BITS == 8) return (r.w[k >> 2] >> (8 * (k & 3))) & 255u;\n",
    "    const u32 byte = (r.w[0] >> (8 * (k >> 1))) & 255u;\n",
    "    return (k & 1) ? (byte & 15u) : (byte >> 4);\n",
    "}\n",
    "// the table index of element e (any alignment)\n",
    "template <int BITS> BNBQ_DEV u32 bq_dq_idx1(const u8* q, u64 e) {\n",
    "    if (BITS == 8) return q[e];\n",
    "    const u32 byte = q[e >> 1];\n",
    "    return (e & 1) ? (byte & 15u) : (byte >> 4);\n",
    "}\n",
    "\n",
    "template <int DT, bool NESTED, int BITS, bool ALIGNED, class Tab>\n",
    "BNBQ_DEV void bq_dequant(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, float off,\n",
    "                         const Tab& tab, u32 tpb) {\n",
    "    typedef bq_dq<DT> L;\n",
    "    const int VO = L::VO, U = L::U;\n",
    "    const u64 TE = (u64)L::TE;\n",
    "    const int t = threadIdx.x;\n",
    "    __shared__ float s_tab[BITS == 8 ? 256 : 16];\n",
    "    if (BITS == 8 || t < 16) s_tab[t] = tab.v[t];\n",
    "    __syncthreads();\n",
    "    const u64 ntiles = n / TE + (n % TE != 0);\n",
    "    const u64 t0 = (u64)blockIdx.x * tpb, t1 = t0 + tpb < ntiles ? t0 + tpb : ntiles;\n",
    "    for (u64 tile = t0; tile < t1; tile++) {\n",
    "        const u64 base = tile * TE;\n",
    "        if (ALIGNED && n - base >= TE) {\n",
    "            bq_dqw<BITS, VO> w[U];\n",
    "            float a[U];\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < U; j++) {\n",
    "                const u64 e0 = base + (u64)(L::vec(j, t) * VO);\n",
    "                bq_dq_loadw<BITS, VO>(q, e0, w[j]);\n",
    "                a[j] = absmax[e0 >> bs_log2];\n",
    "            }\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < U; j++) {\n",
    "                float y[VO];\n",
    "#pragma unroll\n",
    "                for (int k = 0; k < VO; k++) {\n",
    "                    y[k] = s_tab[bq_dq_idx<BITS, VO>(w[j], k)] * a[j];\n",
    "                    if (NESTED) y[k] = y[k] + off;\n",
    "                }\n",
    "                bq_dq_store<DT>(out, base + (u64)(L::vec(j, t) * VO), y);\n",
    "            }\n",
    "        } else if (ALIGNED) {\n",
    "            int js = -1;                             // this thread's vector that straddles n\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < U; j++) {\n",
    "                const u64 e0 = base + (u64)(L::vec(j, t) * VO);\n",
    "                if (e0 + VO <= n) {\n",
    "                    bq_dqw<BITS, VO> w;\n",
    "                    bq_dq_loadw<BITS, VO>(q, e0, w);\n",
    "                    const float a = absmax[e0 >> bs_log2];\n",
    "                    float y[VO];\n",
    "#pragma unroll\n",
    "                    for (int k = 0; k < VO; k++) {\n",
    "                        y[k] = s_tab[bq_dq_idx<BITS, VO>(w, k)] * a;\n",
    "                        if (NESTED) y[k] = y[k] + off;\n",
    "                    }\n",
    "                    bq_dq_store<DT>(out, e0, y);\n",
    "                } else if (e0 < n) {\n",
    "                    js = j;\n",
    "                }\n",
    "            }\n",
    "            if (js >= 0) {\n",
    "                const u64 e0 = base + (u64)(L::vec(js, t) * VO);\n",
    "                const float a = absmax[e0 >> bs_log2];\n",
    "#pragma unroll\n",
    "                for (int k = 0; k < VO - 1; k++) {\n",
    "                    if (e0 + k < n) {\n",
    "                        float y = s_tab[bq_dq_idx1<BITS>(q, e0 + k)] * a;\n",
    "                        if (NESTED) y = y + off;\n",
    "                        bq_dq_store1<DT>(out, e0 + k, y);\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "        } else {\n",
    "#pragma unroll\n",
    "            for (int j = 0; j < U; j++) {\n",
    "#pragma unroll\n",
    "                for (int k = 0; k < VO; k++) {\n",
    "                    const u64 e = base + (u64)(L::vec(j, t) * VO + k);\n",
    "                    if (e < n) {\n",
    "                        float y = s_tab[bq_dq_idx1<BITS>(q, e)] * absmax[e >> bs_log2];\n",
    "                        if (NESTED) y = y + off;\n",
    "                        bq_dq_store1<DT>(out, e, y);\n",
    "                    }\n",
    "                }\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "\n",
    "#if BNBQ_OPS == 1\n",
    "// 8-bit; the launcher picks _any when q is not VO-byte or out not 16-byte aligned\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_dequant8(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code256 code,\n",
    "                u32 tpb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_dequant8)\n",
    "#line 581 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 8)\n",
    "bnbq_k_dequant8(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code256 code,\n",
    "                u32 tpb) {\n",
    "    bq_dequant<BNBQ_DT, false, 8, true>(q, absmax, n, bs_log2, out, 0.0f, code, tpb);\n",
    "}\n",
    "#endif\n",
    "#line 586 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_dequant8_any(const u8* q, const float* absmax, u64 n, int bs_log2, void* out,\n",
    "                    bnbq_code256 code, u32 tpb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_dequant8_any)\n",
    "#line 586 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 8)\n",
    "bnbq_k_dequant8_any(const u8* q, const float* absmax, u64 n, int bs_log2, void* out,\n",
    "                    bnbq_code256 code, u32 tpb) {\n",
    "    bq_dequant<BNBQ_DT, false, 8, false>(q, absmax, n, bs_log2, out, 0.0f, code, tpb);\n",
    "}\n",
    "#endif\n",
    "#line 591 \"quant.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- global 8-bit quantization ----------------------------------------------------------------\n",
    "#if BNBQ_OPS == 2\n",
    "// out[0] (zeroed before) = max |x| over the tensor: per-block maxima, then atomicMax on the bits\n",
    "// (non-negative floats order as their bit patterns).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_absmax_global(const void* x, u64 n, float* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_absmax_global)\n",
    "#line 597 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS)\n",
    "bnbq_k_absmax_global(const void* x, u64 n, float* out) {\n",
    "    const u64 TE = (u64)(BQ_THREADS * 16);\n",
    "    const int t = threadIdx.x;\n",
    "    const bool xal = ((u64)x & 15) == 0;\n",
    "    const u64 ntiles = n / TE + (n % TE != 0);\n",
    "    __shared__ float red[BQ_THREADS / 32];\n",
    "    float m = 0.0f;\n",
    "    for (u64 tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {\n",
    "        const u64 base = tile * TE;\n",
    "        float v[16];\n",
    "        bq_load_tile<BNBQ_DT>(x, n, base, t, xal && n - base >= TE, v);\n",
    "#pragma unroll\n",
    "        for (int k = 0; k < 16; k++) m = bq_max(m, bnbq_absf(v[k]));\n",
    "    }\n",
    "#pragma unroll\n",
    "    for (int o = 16; o > 0; o >>= 1) m = bq_max(m, __shfl_xor_sync(BQ_FULL, m, o));\n",
    "    if ((t & 31) == 0) red[t >> 5] = m;\n",
    "    __syncthreads();\n",
    "    if (t == 0) {\n",
    "        for (int i = 1; i < BQ_THREADS / 32; i++) m = bq_max(m, red[i]);\n",
    "        if (m > 0.0f) atomicMax((unsigned int*)out, __float_as_uint(m));\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 621 \"quant.cu\"\n",
    "\n",
    "// q[e] = code_index(code, f32(x[e] / absmax[0])), an IEEE division as bnbq.h (and torch).\n",
    "template <class Coder>\n",
    "BNBQ_DEV void bq_quant_global(const void* x, u64 n, const float* absmax, u8* q, Coder& cd,\n",
    "                              const bnbq_q8tab& tab) {\n",
    "    const int VEC = BNBQ_DT == BNBQ_F32 ? 4 : 8;\n",
    "    const int NV = 16 / VEC;\n",
    "    const u64 TE = (u64)(BQ_THREADS * 16);\n",
    "    const int t = threadIdx.x;\n",
    "    const bool xal = ((u64)x & 15) == 0;\n",
    "    const bool qal = ((u64)q & (u64)(VEC - 1)) == 0;\n",
    "    const u64 ntiles = n / TE + (n % TE != 0);\n",
    "    cd.setup(tab);\n",
    "    const float s = absmax[0];\n",
    "    for (u64 tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {\n",
    "        const u64 base = tile * TE;\n",
    "        const bool full = n - base >= TE;\n",
    "        float v[16];\n",
    "        bq_load_tile<BNBQ_DT>(x, n, base, t, full && xal, v);\n",
    "#pragma unroll\n",
    "        for (int j = 0; j < NV; j++) {\n",
    "            const u64 e0 = base + (u64)((j * BQ_THREADS + t) * VEC);\n",
    "            float y[VEC];\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < VEC; k++) y[k] = v[j * VEC + k] / s;\n",
    "            // one coder body for both paths (elements past n are coded from 0.0f / s, not stored)\n",
    "            const u32 lo = cd.pack4(y[0], y[1], y[2], y[3]);\n",
    "            const u32 hi = VEC == 4 ? 0u : cd.pack4(y[4 % VEC], y[5 % VEC], y[6 % VEC], y[7 % VEC]);\n",
    "            if (full && qal) {\n",
    "                if (VEC == 4) {\n",
    "                    *(u32*)(q + e0) = lo;\n",
    "                } else {\n",
    "                    bq_v2 w;\n",
    "                    w.a = lo;\n",
    "                    w.b = hi;\n",
    "                    *(bq_v2*)(q + e0) = w;\n",
    "                }\n",
    "            } else {\n",
    "                const u64 pk = (u64)lo | ((u64)hi << 32);\n",
    "#pragma unroll\n",
    "                for (int k = 0; k < VEC; k++)\n",
    "                    if (e0 + k < n) q[e0 + k] = (u8)(pk >> (8 * k));\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant_global(const void* x, u64 n, const float* absmax, u8* q, bnbq_q8tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant_global)\n",
    "#line 668 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant_global(const void* x, u64 n, const float* absmax, u8* q, bnbq_q8tab tab) {\n",
    "    bq8_table cd;\n",
    "    bq_quant_global(x, n, absmax, q, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 673 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant_global_search(const void* x, u64 n, const float* absmax, u8* q, bnbq_q8tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant_global_search)\n",
    "#line 673 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant_global_search(const void* x, u64 n, const float* absmax, u8* q, bnbq_q8tab tab) {\n",
    "    bq8_search cd;\n",
    "    bq_quant_global(x, n, absmax, q, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 678 \"quant.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- nested statistics (float32) --------------------------------------------------------------\n",
    "#if BNBQ_OPS == 3\n",
    "// out[0] = f32(sum / nblocks), sum in double exactly as bnbq.h: chunks of 1024 blocks summed in\n",
    "// order, chunk sums added in chunk order. One block: warps 1..31 sum chunks (one per thread, 992\n",
    "// per round) into one half of a double buffer while thread 0 adds the previous round's sums.\n",
    "#define BQ_NO_THREADS 1024\n",
    "#define BQ_NO_WORKERS (BQ_NO_THREADS - 32)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_nested_offset(const float* absmax, u64 nblocks, float* out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_nested_offset)\n",
    "#line 687 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_NO_THREADS)\n",
    "bnbq_k_nested_offset(const float* absmax, u64 nblocks, float* out) {\n",
    "    __shared__ double part[2][BQ_NO_WORKERS];\n",
    "    const int t = threadIdx.x;\n",
    "    const u64 nchunks = (nblocks >> 10) + ((nblocks & 1023) != 0);\n",
    "    const u64 rounds = nchunks / BQ_NO_WORKERS + (nchunks % BQ_NO_WORKERS != 0);\n",
    "    const bool al = ((u64)absmax & 15) == 0;\n",
    "    double s = 0.0;\n",
    "    for (u64 r = 0; r <= rounds; r++) {\n",
    "        if (t >= 32) {\n",
    "            const u64 c = r * BQ_NO_WORKERS + (u64)(t - 32);\n",
    "            if (r < rounds && c < nchunks) {\n",
    "                const u64 b0 = c << 10;\n",
    "                const u64 b1 = nblocks - b0 < 1024 ? nblocks : b0 + 1024;\n",
    "                double p = 0.0;\n",
    "                if (al && b1 - b0 == 1024) {\n",
    "                    for (u64 b = b0; b < b1; b += 32) {   // a 128-byte line per step in flight\n",
    "                        bq_v4 w[8];\n",
    "#pragma unroll\n",
    "                        for (int k = 0; k < 8; k++) w[k] = *(const bq_v4*)(absmax + b + 4 * k);\n",
    "#pragma unroll\n",
    "                        for (int k = 0; k < 8; k++) {\n",
    "                            p += (double)__uint_as_float(w[k].a);\n",
    "                            p += (double)__uint_as_float(w[k].b);\n",
    "                            p += (double)__uint_as_float(w[k].c);\n",
    "                            p += (double)__uint_as_float(w[k].d);\n",
    "                        }\n",
    "                    }\n",
    "                } else {\n",
    "                    for (u64 b = b0; b < b1; b++) p += (double)absmax[b];\n",
    "                }\n",
    "                part[r & 1][t - 32] = p;\n",
    "            }\n",
    "        } else if (t == 0 && r > 0) {\n",
    "            const u64 c0 = (r - 1) * BQ_NO_WORKERS;\n",
    "            const int cnt = nchunks - c0 < BQ_NO_WORKERS ? (int)(nchunks - c0) : BQ_NO_WORKERS;\n",
    "            const double* pp = part[(r - 1) & 1];\n",
    "            for (int i = 0; i < cnt; i++) s += pp[i];\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "    if (t == 0) out[0] = (float)(s / (double)nblocks);\n",
    "}\n",
    "#endif\n",
    "#line 730 \"quant.cu\"\n",
    "\n",
    "// absmax_q, nested_absmax = quantize_blockwise(f32(absmax - offset[0]), code, 2^bs_log2)\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant_nested(const float* absmax, u64 nblocks, int bs_log2, const float* offset, u8* q,\n",
    "                    float* nested_absmax, bnbq_q8tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant_nested)\n",
    "#line 732 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant_nested(const float* absmax, u64 nblocks, int bs_log2, const float* offset, u8* q,\n",
    "                    float* nested_absmax, bnbq_q8tab tab) {\n",
    "    const float off = offset[0];\n",
    "    bq8_table cd;\n",
    "    bq_quant_blocks<BNBQ_F32, true, 8>(absmax, nblocks, bs_log2, q, nested_absmax, off, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 739 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant_nested_search(const float* absmax, u64 nblocks, int bs_log2, const float* offset,\n",
    "                           u8* q, float* nested_absmax, bnbq_q8tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant_nested_search)\n",
    "#line 739 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant_nested_search(const float* absmax, u64 nblocks, int bs_log2, const float* offset,\n",
    "                           u8* q, float* nested_absmax, bnbq_q8tab tab) {\n",
    "    const float off = offset[0];\n",
    "    bq8_search cd;\n",
    "    bq_quant_blocks<BNBQ_F32, true, 8>(absmax, nblocks, bs_log2, q, nested_absmax, off, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 746 \"quant.cu\"\n",
    "\n",
    "// out[b] = f32(f32(code[q[b]] * nested_absmax[b >> bs_log2]) + offset[0])\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_dequant_nested(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,\n",
    "                      const float* offset, float* out, bnbq_code256 code, u32 tpb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_dequant_nested)\n",
    "#line 748 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS)\n",
    "bnbq_k_dequant_nested(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,\n",
    "                      const float* offset, float* out, bnbq_code256 code, u32 tpb) {\n",
    "    const float off = offset[0];\n",
    "    bq_dequant<BNBQ_F32, true, 8, true>(q, nested_absmax, nblocks, bs_log2, out, off, code, tpb);\n",
    "}\n",
    "#endif\n",
    "#line 754 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_dequant_nested_any(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,\n",
    "                          const float* offset, float* out, bnbq_code256 code, u32 tpb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_dequant_nested_any)\n",
    "#line 754 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS)\n",
    "bnbq_k_dequant_nested_any(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,\n",
    "                          const float* offset, float* out, bnbq_code256 code, u32 tpb) {\n",
    "    const float off = offset[0];\n",
    "    bq_dequant<BNBQ_F32, true, 8, false>(q, nested_absmax, nblocks, bs_log2, out, off, code, tpb);\n",
    "}\n",
    "#endif\n",
    "#line 760 \"quant.cu\"\n",
    "#endif\n",
    "\n",
    "// ---- 4-bit NF4 / FP4 --------------------------------------------------------------------------\n",
    "#if BNBQ_OPS == 4\n",
    "// bnbq.h's decisions are threshold counts: NF4 c = #{j < 15 : x > thr[j]}; FP4 on a = |x|,\n",
    "// c = #{j < 7 : a > thr[j]}, code = c2c[c] + (x < 0 ? 8 : 0). With a monotone bucket function\n",
    "// k(x) in 0..32 (NF4 over x in [-1, 1], FP4 over |x| in [0, 1]; NaN -> 0; the host computes it\n",
    "// for the thresholds with the same float operations), every threshold in a lower bucket is below\n",
    "// x and every one in a higher bucket is not; so when no bucket holds two thresholds,\n",
    "// c = lo[k] + (x > thr_k), lo[k] = #{j : k(thr[j]) < k}, thr_k = the threshold in bucket k or\n",
    "// +inf. The host builds the 33 entries {thr_k, codes} (NF4: lo[k]; FP4: bytes c2c[lo[k]],\n",
    "// c2c[lo[k] + 1], and both + 8) and checks the one-per-bucket property (else mode 1: the literal\n",
    "// counts over xthr / c2c).\n",
    "struct bnbq_q4tab { u32 mode; float thr[33]; u32 codes[33]; float xthr[16]; u32 c2c[8]; };\n",
    "__shared__ bq_f2 bq4_tab[33];      // {thr_k, codes}\n",
    "__shared__ float bq4_xthr[16];\n",
    "__shared__ u32 bq4_c2c[8];\n",
    "\n",
    "BNBQ_DEV void bq4_load(const bnbq_q4tab& tab) {\n",
    "    const int t = threadIdx.x;\n",
    "    if (t < 33) {\n",
    "        bq_f2 e;\n",
    "        e.x = tab.thr[t];\n",
    "        e.y = __uint_as_float(tab.codes[t]);\n",
    "        bq4_tab[t] = e;\n",
    "    }\n",
    "    if (t < 16) bq4_xthr[t] = tab.xthr[t];\n",
    "    if (t < 8) bq4_c2c[t] = tab.c2c[t];\n",
    "    __syncthreads();\n",
    "}\n",
    "\n",
    "// x's entry: s = sat(x * 0.5 + 0.5) (NF4) or sat(|x|) (FP4), in [0, 1] with NaN -> 0; then\n",
    "// t = f32(2 + s * 2^-17) = 2 + round(32 s) * 2^-22 (ties to even), so 8 * bits(t) is the byte\n",
    "// offset of bucket round(32 s) (0..32) modulo 2^32\n",
    "BNBQ_DEV bq_f2 bq4_entry(float x, u32 tab) {\n",
    "    float s, t;\n",
    "#if BNBQ_QT == BNBQ_NF4\n",
    "    asm(\"fma.rn.sat.f32 %0, %1, 0f3F000000, 0f3F000000;\" : \"=f\"(s) : \"f\"(x));\n",
    "#else\n",
    "    asm(\"{ .reg .f32 a; abs.f32 a, %1; add.rn.sat.f32 %0, a, 0f00000000; }\" : \"=f\"(s) : \"f\"(x));\n",
    "#endif\n",
    "    asm(\"fma.rn.f32 %0, %1, 0f37000000, 0f40000000;\" : \"=f\"(t) : \"f\"(s));\n",
    "    return bq_lds2(tab + (__float_as_uint(t) << 3));\n",
    "}\n",
    "\n",
    "struct bq4_table {\n",
    "    u32 tab;                                         // the table's shared address\n",
    "    BQ_MEMBER void setup(const bnbq_q4tab& tb) {\n",
    "        bq4_load(tb);\n",
    "        tab = bq_saddr(bq4_tab);\n",
    "    }\n",
    "    BQ_MEMBER u32 one(float x) const {\n",
    "        const bq_f2 e = bq4_entry(x, tab);\n",
    "        u32 c = __float_as_uint(e.y);\n",
    "#if BNBQ_QT == BNBQ_NF4\n",
    "        asm(\"{ .reg .pred p; setp.gt.f32 p, %1, %2; @p add.u32 %0, %0, 1; }\"\n",
    "            : \"+r\"(c) : \"f\"(x), \"f\"(e.x));\n",
    "        return c;\n",
    "#else\n",
    "        u32 r;\n",
    "        asm(\"{ .reg .pred p, q; .reg .b32 s; .reg .f32 a; abs.f32 a, %3; setp.gt.f32 p, a, %2;\"\n",
    "            \" setp.lt.f32 q, %3, 0f00000000; selp.b32 s, 0x4441, 0x4440, p; prmt.b32 %0, %1, 0, s;\"\n",
    "            \" @q or.b32 %0, %0, 8; }\"\n",
    "            : \"=r\"(r) : \"r\"(c), \"f\"(e.x), \"f\"(x));\n",
    "        return r;\n",
    "#endif\n",
    "    }\n",
    "    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {\n",
    "        return (one(a) << 4) + one(b) + (((one(c) << 4) + one(d)) << 8);\n",
    "    }\n",
    "};\n",
    "\n",
    "// bnbq__nf4_index / bnbq__fp4_index (mode 1, a rare path: compact, one called body)\n",
    "static __device__ __noinline__ u32 bq4_exact_one(float x) {\n",
    "    u32 c = 0;\n",
    "#if BNBQ_QT == BNBQ_NF4\n",
    "#pragma unroll 1\n",
    "    for (int j = 0; j < 15; j++) c += x > bq4_xthr[j];\n",
    "    return c;\n",
    "#else\n",
    "    const float a = bnbq_absf(x);\n",
    "#pragma unroll 1\n",
    "    for (int j = 0; j < 7; j++) c += a > bq4_xthr[j];\n",
    "    return bq4_c2c[c] + (x < 0.0f ? 8u : 0u);\n",
    "#endif\n",
    "}\n",
    "struct bq4_exact {\n",
    "    BQ_MEMBER void setup(const bnbq_q4tab& tb) { bq4_load(tb); }\n",
    "    BQ_MEMBER u32 one(float x) const { return bq4_exact_one(x); }\n",
    "    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {\n",
    "        return (one(a) << 4) + one(b) + (((one(c) << 4) + one(d)) << 8);\n",
    "    }\n",
    "};\n",
    "\n",
    "// out_packed, out_absmax = bnbq_quantize_4bit(qt, x, n, 2^bs_log2); bs 32..4096\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant4(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant4)\n",
    "#line 855 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant4(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {\n",
    "    bq4_table cd;\n",
    "    bq_quant_blocks<BNBQ_DT, false, 4>(x, n, bs_log2, packed, absmax, 0.0f, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 860 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_quant4_exact(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_quant4_exact)\n",
    "#line 860 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 4)\n",
    "bnbq_k_quant4_exact(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {\n",
    "    bq4_exact cd;\n",
    "    bq_quant_blocks<BNBQ_DT, false, 4>(x, n, bs_log2, packed, absmax, 0.0f, cd, tab);\n",
    "}\n",
    "#endif\n",
    "#line 865 \"quant.cu\"\n",
    "\n",
    "// out[e] = dt(tab[nibble e] * absmax[e >> bs_log2]) (bq_dequant); _any: any alignment\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_dequant4(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code16 tab,\n",
    "                u32 tpb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_dequant4)\n",
    "#line 867 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 8)\n",
    "bnbq_k_dequant4(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code16 tab,\n",
    "                u32 tpb) {\n",
    "    bq_dequant<BNBQ_DT, false, 4, true>(packed, absmax, n, bs_log2, out, 0.0f, tab, tpb);\n",
    "}\n",
    "#endif\n",
    "#line 872 \"quant.cu\"\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_dequant4_any(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out,\n",
    "                    bnbq_code16 tab, u32 tpb) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_dequant4_any)\n",
    "#line 872 \"quant.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(BQ_THREADS, 8)\n",
    "bnbq_k_dequant4_any(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out,\n",
    "                    bnbq_code16 tab, u32 tpb) {\n",
    "    bq_dequant<BNBQ_DT, false, 4, false>(packed, absmax, n, bs_log2, out, 0.0f, tab, tpb);\n",
    "}\n",
    "#endif\n",
    "#line 877 \"quant.cu\"\n",
    "#endif\n",
    0
};
static const char* const bnbq__cu_kernels_quant[] = {
    "bnbq_k_quant8",
    "bnbq_k_quant8_search",
    "bnbq_k_dequant8",
    "bnbq_k_dequant8_any",
    "bnbq_k_absmax_global",
    "bnbq_k_quant_global",
    "bnbq_k_quant_global_search",
    "bnbq_k_nested_offset",
    "bnbq_k_quant_nested",
    "bnbq_k_quant_nested_search",
    "bnbq_k_dequant_nested",
    "bnbq_k_dequant_nested_any",
    "bnbq_k_quant4",
    "bnbq_k_quant4_exact",
    "bnbq_k_dequant4",
    "bnbq_k_dequant4_any",
    0
};
static const char* const bnbq__cu_src_switchback[] = {
    "#line 1 \"switchback.cu\"\n",
    "// SwitchBack (bitsandbytes.triton) quantizers and dequantizer, F16 only, with the arithmetic of\n",
    "// bnbq.h's CPU functions (quantize_rowwise lives in int8.cu: it shares the LLM.int8 row kernel).\n",
    "//   columnwise_and_transpose: state[c] = f16(max_r |x|); q = rint(f32(127 * f32(x * (1/state))))\n",
    "//   global(_transpose):       absmax = f16(max |x|); inv = f16(1 / absmax);\n",
    "//                             q = rint(f16(127 * f16(x * inv)))  (bnbq__sb_global_q)\n",
    "//   dequantize_rowwise:       out = f16(f32(f16(state[r] * q) * f32(1/127)))\n",
    "// Maxima are kept as f16 bits: for values >= 0 (NaN never enters) the bits order as the values,\n",
    "// so a 16-bit atomicCAS loop takes the maximum in place; the state starts at 0 (memset).\n",
    "\n",
    "#define BNBQ_SB_FULL 0xffffffffu\n",
    "\n",
    "BNBQ_DEV u32 bnbq_sb_umax(u32 a, u32 b) { return b > a ? b : a; }\n",
    "\n",
    "// f16 bits of |x| as an orderable integer, 0 for NaN (NaN never wins the max, as on the CPU)\n",
    "BNBQ_DEV u32 bnbq_sb_absbits(u32 h) {\n",
    "    u32 a = h & 0x7fffu;\n",
    "    return a > 0x7c00u ? 0u : a;\n",
    "}\n",
    "\n",
    "BNBQ_DEV void bnbq_sb_atomic_max16(u16* p, u32 v) {\n",
    "    u32 old = *(volatile u16*)p;\n",
    "    while (v > old) {\n",
    "        u32 prev = atomicCAS(p, (unsigned short)old, (unsigned short)v);\n",
    "        if (prev == old) break;\n",
    "        old = prev;\n",
    "    }\n",
    "}\n",
    "\n",
    "BNBQ_DEV u32 bnbq_sb_warp_max(u32 v) {\n",
    "    for (int off = 16; off > 0; off >>= 1) v = bnbq_sb_umax(v, __shfl_xor_sync(BNBQ_SB_FULL, v, off));\n",
    "    return v;\n",
    "}\n",
    "\n",
    "// bnbq_rint without its branches: cvt.rni.s32.f32 rounds half to even, gives 0 for NaN and\n",
    "// saturates (+-inf: INT_MAX / INT_MIN), which is bnbq_rint everywhere except finite |y| in\n",
    "// [2^22, 2^23) with a fraction of .5 (bnbq_rint truncates there). Here y is NaN, +-inf or at most\n",
    "// 127 * (1 + 2^-10) in magnitude (the f16 reciprocal of the global scale rounds up by < 2^-11).\n",
    "BNBQ_DEV int bnbq_sb_rint(float y) { return __float2int_rn(y); }\n",
    "\n",
    "// f16 bits to float, exactly (cvt.f32.f16; only int8 codes come out of these values, so a NaN's\n",
    "// payload never reaches an output)\n",
    "BNBQ_DEV float bnbq_sb_h2f(u32 h) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    float f;\n",
    "    asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"((u16)(h & 0xffffu)));\n",
    "    return f;\n",
    "#else\n",
    "    return bnbq_f16_to_f32((u16)(h & 0xffffu));\n",
    "#endif\n",
    "}\n",
    "\n",
    "// Both halves: f16(x * y), round to nearest even. x and y are f16 values, so x * y is exact in\n",
    "// float32 and one f16 multiply is bnbq_round_to(BNBQ_F16, x * y), overflow and NaN included.\n",
    "BNBQ_DEV u32 bnbq_sb_hmul2(u32 x, u32 y) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    u32 d;\n",
    "    asm(\"mul.rn.f16x2 %0, %1, %2;\" : \"=r\"(d) : \"r\"(x), \"r\"(y));\n",
    "    return d;\n",
    "#else\n",
    "    u32 lo = bnbq_f32_to_f16(bnbq_f16_to_f32((u16)(x & 0xffffu)) * bnbq_f16_to_f32((u16)(y & 0xffffu)));\n",
    "    u32 hi = bnbq_f32_to_f16(bnbq_f16_to_f32((u16)(x >> 16)) * bnbq_f16_to_f32((u16)(y >> 16)));\n",
    "    return lo | (hi << 16);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// rint(f32(127 * f32(x * inv))) (bnbq__sb_q)\n",
    "BNBQ_DEV int bnbq_sb_q(float x, float inv) {\n",
    "    float xh = x * inv;\n",
    "    return bnbq_sb_rint(127.0f * xh);\n",
    "}\n",
    "\n",
    "// bnbq__sb_global_q of the two f16 elements of x2: rint(f16(127 * f16(x * inv))) with inv2 the\n",
    "// f16 bits of inv in both halves (127 is 0x57f0 in f16)\n",
    "BNBQ_DEV void bnbq_sb_global_q2(u32 x2, u32 inv2, int* q) {\n",
    "    const u32 y2 = bnbq_sb_hmul2(0x57f057f0u, bnbq_sb_hmul2(x2, inv2));\n",
    "    q[0] = bnbq_sb_rint(bnbq_sb_h2f(y2));\n",
    "    q[1] = bnbq_sb_rint(bnbq_sb_h2f(y2 >> 16));\n",
    "}\n",
    "\n",
    "// the f16 bits of inv = f16(1 / absmax), twice\n",
    "BNBQ_DEV u32 bnbq_sb_global_inv2(const u16* absmax) {\n",
    "    const u32 b = bnbq_f32_to_f16(1.0f / bnbq_f16_to_f32(absmax[0]));\n",
    "    return b | (b << 16);\n",
    "}\n",
    "\n",
    "// ---- column maxima (quantize_columnwise_and_transpose, pass 1) -------------------------------------\n",
    "// Blocks of 256 threads over tiles of 64 columns x 256 rows: vec (cols % 8 == 0, X 16-byte\n",
    "// aligned): 8 threads x 8 columns by 32 rows at a time; else 64 threads x 1 column by 4 rows.\n",
    "// state must be zero.\n",
    "template <int V>\n",
    "BNBQ_DEV void bnbq_sb_colmax(const u16* X, u64 rows, u64 cols, u16* state) {\n",
    "    __shared__ u32 part[256][V == 8 ? 8 : 1];\n",
    "    const int CPT = 64 / V;                 // column slots per row: 8 or 64\n",
    "    const int RL = 256 / CPT;               // rows at a time: 32 or 4\n",
    "    const int slot = threadIdx.x % CPT, rl = threadIdx.x / CPT;\n",
    "    const u64 nct = (cols + 63) / 64, nrt = (rows + 255) / 256;\n",
    "    for (u64 t = blockIdx.x; t < nct * nrt; t += gridDim.x) {\n",
    "        const u64 tc = t % nct, tr = t / nct;\n",
    "        const u64 c = tc * 64 + (u64)slot * V;\n",
    "        u32 m[V];\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < V; i++) m[i] = 0u;\n",
    "        if (c < cols) {\n",
    "            for (int r0 = rl; r0 < 256; r0 += RL * 4) {\n",
    "                u32 w[4][V == 8 ? 4 : 1];\n",
    "#pragma unroll\n",
    "                for (int u = 0; u < 4; u++) {\n",
    "                    const u64 r = tr * 256 + (u64)(r0 + u * RL);\n",
    "                    if (r0 + u * RL < 256 && r < rows) {\n",
    "                        if (V == 8) {\n",
    "                            uint4 d = __ldg((const uint4*)(X + r * cols + c));\n",
    "                            w[u][0] = d.x; w[u][V == 8 ? 1 : 0] = d.y;\n",
    "                            w[u][V == 8 ? 2 : 0] = d.z; w[u][V == 8 ? 3 : 0] = d.w;\n",
    "                        } else {\n",
    "                            w[u][0] = __ldg(X + r * cols + c);\n",
    "                        }\n",
    "                    } else {\n",
    "#pragma unroll\n",
    "                        for (int k = 0; k < (V == 8 ? 4 : 1); k++) w[u][k] = 0u;\n",
    "                    }\n",
    "                }\n",
    "#pragma unroll\n",
    "                for (int u = 0; u < 4; u++)\n",
    "#pragma unroll\n",
    "                    for (int i = 0; i < V; i++)\n",
    "                        m[i] = bnbq_sb_umax(m[i], bnbq_sb_absbits(w[u][i >> 1] >> ((i & 1) * 16)));\n",
    "            }\n",
    "        }\n",
    "#pragma unroll\n",
    "        for (int i = 0; i < V; i++) part[threadIdx.x][i] = m[i];\n",
    "        __syncthreads();\n",
    "        if (threadIdx.x < 64) {\n",
    "            // column threadIdx.x of the tile: slot s = col / V, element i = col % V\n",
    "            const int s = threadIdx.x / V, i = threadIdx.x % V;\n",
    "            const u64 cc = tc * 64 + threadIdx.x;\n",
    "            u32 mm = 0u;\n",
    "            for (int k = 0; k < RL; k++) mm = bnbq_sb_umax(mm, part[k * CPT + s][i]);\n",
    "            if (cc < cols && mm) bnbq_sb_atomic_max16(state + cc, mm);\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_colmax(const u16* X, u64 rows, u64 cols, u16* state, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_colmax)\n",
    "#line 144 \"switchback.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_colmax(const u16* X, u64 rows, u64 cols, u16* state, int vec) {\n",
    "    if (vec) bnbq_sb_colmax<8>(X, rows, cols, state);\n",
    "    else bnbq_sb_colmax<1>(X, rows, cols, state);\n",
    "}\n",
    "#endif\n",
    "#line 149 \"switchback.cu\"\n",
    "\n",
    "// ---- quantize and transpose: tiles of 64 x 64, out (cols, rows) -----------------------------------\n",
    "// mode 0: per-column inv = 1 / state[c] (columnwise); mode 1: inv = f16(1 / absmax[0]) (global).\n",
    "// blockDim.x == 256. vec_out: rows % 16 == 0 and out 16-byte aligned.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_transpose_q(const u16* X, u64 rows, u64 cols, i8* out, const u16* state, int mode,\n",
    "                      int vec_out) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_transpose_q)\n",
    "#line 153 \"switchback.cu\"\n",
    "extern \"C\" __global__ void __launch_bounds__(256)\n",
    "bnbq_k_sb_transpose_q(const u16* X, u64 rows, u64 cols, i8* out, const u16* state, int mode,\n",
    "                      int vec_out) {\n",
    "    __shared__ __align__(16) i8 tile[64][64 + 16];   // [c][r]\n",
    "    __shared__ float inv_s[64];\n",
    "    const u64 nct = (cols + 63) / 64, nrt = (rows + 63) / 64;\n",
    "    const int lc = threadIdx.x & 63, lr = threadIdx.x >> 6;\n",
    "    const u32 ginv2 = mode == 1 ? bnbq_sb_global_inv2(state) : 0u;\n",
    "    for (u64 t = blockIdx.x; t < nct * nrt; t += gridDim.x) {\n",
    "        const u64 tc = t % nct, tr = t / nct, c0 = tc * 64, r0 = tr * 64;\n",
    "        if (mode == 0 && threadIdx.x < 64) {\n",
    "            const u64 c = c0 + threadIdx.x;\n",
    "            inv_s[threadIdx.x] = c < cols ? 1.0f / bnbq_f16_to_f32(state[c]) : 0.0f;\n",
    "        }\n",
    "        __syncthreads();\n",
    "        {\n",
    "            const u64 c = c0 + (u64)lc;\n",
    "            const float inv = mode == 0 ? inv_s[lc] : 0.0f;\n",
    "#pragma unroll 4\n",
    "            for (int rr = lr; rr < 64; rr += 4) {\n",
    "                const u64 r = r0 + (u64)rr;\n",
    "                int q[2] = { 0, 0 };\n",
    "                if (c < cols && r < rows) {\n",
    "                    const u32 x = __ldg(X + r * cols + c);\n",
    "                    if (mode == 0) q[0] = bnbq_sb_q(bnbq_sb_h2f(x), inv);\n",
    "                    else bnbq_sb_global_q2(x, ginv2, q);\n",
    "                }\n",
    "                tile[lc][rr] = (i8)q[0];\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "        if (vec_out && r0 + 64 <= rows) {\n",
    "            // 64 columns x 4 vectors of 16 bytes\n",
    "            const int v = threadIdx.x & 3, cc = threadIdx.x >> 2;\n",
    "            const u64 c = c0 + (u64)cc;\n",
    "            if (c < cols)\n",
    "                *(uint4*)(out + c * rows + r0 + (u64)v * 16) = *(const uint4*)&tile[cc][v * 16];\n",
    "        } else {\n",
    "            const int rr = threadIdx.x & 63;\n",
    "            const u64 r = r0 + (u64)rr;\n",
    "            for (int cc = threadIdx.x >> 6; cc < 64; cc += 4) {\n",
    "                const u64 c = c0 + (u64)cc;\n",
    "                if (c < cols && r < rows) out[c * rows + r] = tile[cc][rr];\n",
    "            }\n",
    "        }\n",
    "        __syncthreads();\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 201 \"switchback.cu\"\n",
    "\n",
    "// ---- global absmax: grid-stride max of |x| into absmax[0] (which must be 0) ----------------------\n",
    "// vec: X 16-byte aligned (8 elements per load; the n % 8 tail one by one).\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_global_max(const u16* X, u64 n, u16* absmax, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_global_max)\n",
    "#line 204 \"switchback.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_sb_global_max(const u16* X, u64 n, u16* absmax, int vec) {\n",
    "    __shared__ u32 red[32];\n",
    "    const u64 i0 = (u64)blockIdx.x * blockDim.x + threadIdx.x, st = (u64)gridDim.x * blockDim.x;\n",
    "    u32 m = 0u;\n",
    "    u64 done = 0;\n",
    "    if (vec) {\n",
    "        const u64 nv = n / 8;\n",
    "        for (u64 v = i0; v < nv; v += st) {\n",
    "            uint4 d = __ldg((const uint4*)X + v);\n",
    "            u32 w[4] = { d.x, d.y, d.z, d.w };\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < 4; k++) {\n",
    "                m = bnbq_sb_umax(m, bnbq_sb_absbits(w[k] & 0xffffu));\n",
    "                m = bnbq_sb_umax(m, bnbq_sb_absbits(w[k] >> 16));\n",
    "            }\n",
    "        }\n",
    "        done = nv * 8;\n",
    "    }\n",
    "    for (u64 i = done + i0; i < n; i += st) m = bnbq_sb_umax(m, bnbq_sb_absbits(__ldg(X + i)));\n",
    "    m = bnbq_sb_warp_max(m);\n",
    "    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;\n",
    "    __syncthreads();\n",
    "    if (threadIdx.x == 0) {\n",
    "        for (int w = 1; w < (int)(blockDim.x >> 5); w++) m = bnbq_sb_umax(m, red[w]);\n",
    "        if (m) bnbq_sb_atomic_max16(absmax, m);\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 231 \"switchback.cu\"\n",
    "\n",
    "// ---- quantize_global_int8: elementwise with inv = f16(1 / absmax[0]) ------------------------------\n",
    "// vec: X 16-byte and q 8-byte aligned.\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_global_q(const u16* X, u64 n, i8* q, const u16* absmax, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_global_q)\n",
    "#line 234 \"switchback.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_sb_global_q(const u16* X, u64 n, i8* q, const u16* absmax, int vec) {\n",
    "    const u64 i0 = (u64)blockIdx.x * blockDim.x + threadIdx.x, st = (u64)gridDim.x * blockDim.x;\n",
    "    const u32 inv2 = bnbq_sb_global_inv2(absmax);\n",
    "    u64 done = 0;\n",
    "    if (vec) {\n",
    "        const u64 nv = n / 8;\n",
    "        for (u64 v = i0; v < nv; v += st) {\n",
    "            uint4 d = __ldg((const uint4*)X + v);\n",
    "            int c[8];\n",
    "            bnbq_sb_global_q2(d.x, inv2, c);\n",
    "            bnbq_sb_global_q2(d.y, inv2, c + 2);\n",
    "            bnbq_sb_global_q2(d.z, inv2, c + 4);\n",
    "            bnbq_sb_global_q2(d.w, inv2, c + 6);\n",
    "            u32 o[2] = { 0u, 0u };\n",
    "#pragma unroll\n",
    "            for (int k = 0; k < 8; k++) o[k >> 2] |= ((u32)c[k] & 0xffu) << ((k & 3) * 8);\n",
    "            *(uint2*)(q + v * 8) = make_uint2(o[0], o[1]);\n",
    "        }\n",
    "        done = nv * 8;\n",
    "    }\n",
    "    for (u64 i = done + i0; i < n; i += st) {\n",
    "        int c[2];\n",
    "        bnbq_sb_global_q2(__ldg(X + i), inv2, c);\n",
    "        q[i] = (i8)c[0];\n",
    "    }\n",
    "}\n",
    "#endif\n",
    "#line 260 \"switchback.cu\"\n",
    "\n",
    "// ---- dequantize_rowwise: one block per row (grid-stride) ------------------------------------------\n",
    "// out = f16(f32(t * f32(1/127))), t = f16(s * q): s and q are f16 values (q exactly), so t is one\n",
    "// f16 multiply; t * f32(1/127) is a float32 multiply rounded once to f16 (cvt.rn.f16.f32, which\n",
    "// rounds as bnbq_f32_to_f16). On the GPU four codes become f16 pairs without a conversion: the\n",
    "// bytes q ^ 0x80 = q + 128 placed under 0x64 are the f16 values 1024 + q + 128, less 1152.\n",
    "\n",
    "// (f16(q0), f16(q1)) of bytes k, k + 1 of w (k = 0 or 2)\n",
    "BNBQ_DEV u32 bnbq_sb_q2h(u32 w, int k) {\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    const u32 b = __byte_perm(w ^ 0x80808080u, 0x64646464u, k == 0 ? 0x5140u : 0x5342u);\n",
    "    u32 d;\n",
    "    asm(\"sub.rn.f16x2 %0, %1, %2;\" : \"=r\"(d) : \"r\"(b), \"r\"(0x64806480u));   // 0x6480 = 1152\n",
    "    return d;\n",
    "#else\n",
    "    const u32 lo = bnbq_f32_to_f16((float)(i8)(w >> (8 * k)));\n",
    "    const u32 hi = bnbq_f32_to_f16((float)(i8)(w >> (8 * k + 8)));\n",
    "    return lo | (hi << 16);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// f16 bits of f32(t * f32(1/127)) for the f16 value t\n",
    "BNBQ_DEV u32 bnbq_sb_deq_out(u32 t) {\n",
    "    const float v = bnbq_sb_h2f(t) * 0.00787401572f;\n",
    "#if defined(__CUDA_ARCH__)\n",
    "    u16 h;\n",
    "    asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(v));\n",
    "    return h;\n",
    "#else\n",
    "    return bnbq_f32_to_f16(v);\n",
    "#endif\n",
    "}\n",
    "\n",
    "// vec 16: cols % 16 == 0, q and out 16-byte aligned; else 1.\n",
    "template <int V>\n",
    "BNBQ_DEV void bnbq_sb_dequant_rows(const i8* q, const u16* state, u64 rows, u64 cols, u16* out) {\n",
    "    const u64 np = cols / V;\n",
    "    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {\n",
    "        const u32 sb = state[r], s2 = sb | (sb << 16);\n",
    "        const i8* qr = q + r * cols;\n",
    "        u16* o = out + r * cols;\n",
    "        for (u64 p = threadIdx.x; p < np; p += blockDim.x) {\n",
    "            if (V == 16) {\n",
    "                const uint4 t = __ldg((const uint4*)(qr + p * V));\n",
    "                const u32 w[4] = { t.x, t.y, t.z, t.w };\n",
    "                u32 h[8];\n",
    "#pragma unroll\n",
    "                for (int i = 0; i < 8; i++) {\n",
    "                    const u32 t2 = bnbq_sb_hmul2(s2, bnbq_sb_q2h(w[i >> 1], (i & 1) * 2));\n",
    "                    h[i] = bnbq_sb_deq_out(t2) | (bnbq_sb_deq_out(t2 >> 16) << 16);\n",
    "                }\n",
    "                uint4* d = (uint4*)(o + p * V);\n",
    "                d[0] = make_uint4(h[0], h[1], h[2], h[3]);\n",
    "                d[1] = make_uint4(h[4], h[5], h[6], h[7]);\n",
    "            } else {\n",
    "                const u32 t2 = bnbq_sb_hmul2(s2, bnbq_sb_q2h((u32)(u8)qr[p], 0));\n",
    "                o[p] = (u16)bnbq_sb_deq_out(t2);\n",
    "            }\n",
    "        }\n",
    "    }\n",
    "}\n",
    "\n",
    "#if defined(BNBQ_LIST_KERNELS)\n",
    "extern \"C\" __global__ void bnbq_k_sb_dequant_rows(const i8* q, const u16* state, u64 rows, u64 cols,\n",
    "                                                  u16* out, int vec) {}\n",
    "#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_bnbq_k_sb_dequant_rows)\n",
    "#line 322 \"switchback.cu\"\n",
    "extern \"C\" __global__ void bnbq_k_sb_dequant_rows(const i8* q, const u16* state, u64 rows, u64 cols,\n",
    "                                                  u16* out, int vec) {\n",
    "    if (vec == 16) bnbq_sb_dequant_rows<16>(q, state, rows, cols, out);\n",
    "    else bnbq_sb_dequant_rows<1>(q, state, rows, cols, out);\n",
    "}\n",
    "#endif\n",
    "#line 327 \"switchback.cu\"\n",
    0
};
static const char* const bnbq__cu_kernels_switchback[] = {
    "bnbq_k_sb_colmax",
    "bnbq_k_sb_transpose_q",
    "bnbq_k_sb_global_max",
    "bnbq_k_sb_global_q",
    "bnbq_k_sb_dequant_rows",
    0
};
static const bnbq__cu_source bnbq__cu_sources[] = {
    { "prelude", bnbq__cu_src_prelude, bnbq__cu_kernels_prelude },
    { "convert", bnbq__cu_src_convert, bnbq__cu_kernels_convert },
    { "gemm90", bnbq__cu_src_gemm90, bnbq__cu_kernels_gemm90 },
    { "gemv4", bnbq__cu_src_gemv4, bnbq__cu_kernels_gemv4 },
    { "int8", bnbq__cu_src_int8, bnbq__cu_kernels_int8 },
    { "int8mm", bnbq__cu_src_int8mm, bnbq__cu_kernels_int8mm },
    { "matmul4", bnbq__cu_src_matmul4, bnbq__cu_kernels_matmul4 },
    { "prims", bnbq__cu_src_prims, bnbq__cu_kernels_prims },
    { "quant", bnbq__cu_src_quant, bnbq__cu_kernels_quant },
    { "switchback", bnbq__cu_src_switchback, bnbq__cu_kernels_switchback },
    { 0, 0, 0 }
};
// >>cu-kernels-end

/* The source named unit, or NULL. */
static const bnbq__cu_source* bnbq__cu_source_of(const char* unit) {
    const bnbq__cu_source* s;
    for (s = bnbq__cu_sources; s->name; s++)
        if (strcmp(s->name, unit) == 0) return s;
    return NULL;
}

/* 1 when the file of unit defines a kernel of that name. */
static int bnbq__cu_kernel_known(const char* unit, const char* kernel) {
    const bnbq__cu_source* s = bnbq__cu_source_of(unit);
    const char* const* k;
    if (!s || !kernel) return 0;
    for (k = s->kernels; *k; k++)
        if (strcmp(*k, kernel) == 0) return 1;
    return 0;
}

/* The full text of a compilation unit: the prelude, a newline, then the unit's source (every
   kernel of the file; -D options choose). malloc'd, *out_len bytes before the NUL. */
static char* bnbq__cu_program_text_len(const char* unit, size_t* out_len) {
    const bnbq__cu_source* pre = bnbq__cu_source_of("prelude");
    const bnbq__cu_source* src = bnbq__cu_source_of(unit);
    const char* const* l;
    size_t len = 2, used = 0;
    char* out;
    if (!pre || !src) return NULL;
    for (l = pre->lines; *l; l++) len += strlen(*l);
    for (l = src->lines; *l; l++) len += strlen(*l);
    out = (char*)malloc(len);
    if (!out) return NULL;
    for (l = pre->lines; *l; l++) { size_t n = strlen(*l); memcpy(out + used, *l, n); used += n; }
    out[used++] = '\n';
    for (l = src->lines; *l; l++) { size_t n = strlen(*l); memcpy(out + used, *l, n); used += n; }
    out[used] = 0;
    if (out_len) *out_len = used;
    return out;
}
static char* bnbq__cu_program_text(const char* unit) { return bnbq__cu_program_text_len(unit, NULL); }

// >>cuda-context

/* Every (unit, defines) pair an operation may request; precompile and `make nvrtc-check` compile
   exactly this list, and bnbq__cu_kernel refuses anything else. Filled in >>cuda-ops. */
typedef struct bnbq__cu_variant {
    const char* unit;
    const char* defines;     /* space-separated NAME=VALUE, each becomes -DNAME=VALUE */
} bnbq__cu_variant;
static int bnbq__cu_num_variants(void);
static const bnbq__cu_variant* bnbq__cu_variant_at(int i);

/* One loaded kernel: a module compiled from one kernel of one variant (unit, defines, kernel),
   and its function. The strings share one allocation (unit). */
typedef struct bnbq__cu_module {
    uint64_t         hash;        /* of unit, defines, kernel: the lookup's first comparison */
    char*            unit;
    char*            defines;
    char*            kernel;
    bnbq__CUmodule   module;
    bnbq__CUfunction fn;
    struct bnbq__cu_job* job;     /* the full build of a fast (tiered) unit, until it is in place */
    bnbq__CUmodule   fast_module; /* the fast build it replaced: loaded until the context ends (queued
                                     launches and captured graphs may use it); NULL otherwise */
} bnbq__cu_module;

/* Tiered compilation (bnbq_cuda_desc.no_tiered_compile): the full build of a unit that was first compiled
   fast, made by the context's background thread. The thread reads and writes only the job and the disk
   cache; the module table changes in the calling threads (bnbq__cu_tier_take, context lock held). state
   and the queue are guarded by the context's qlock. */
enum { BNBQ__JOB_QUEUED = 0, BNBQ__JOB_RUNNING, BNBQ__JOB_DONE, BNBQ__JOB_FAILED };
typedef struct bnbq__cu_job {
    struct bnbq__cu_job* next;    /* the context's queue, oldest first */
    char*          unit;          /* unit, defines, kernel: one allocation (unit) */
    char*          defines;
    char*          kernel;
    int            state;
    unsigned char* img;           /* malloc'd image (DONE) */
    double         seconds;       /* NVRTC wall time of the full build */
} bnbq__cu_job;

/* Where the first use of a kernel spends its time (wall seconds, this context), for benchmarks:
   key (source hash, options, key text), read (cache file read and checks), load
   (cuModuleLoadData), getfn (cuModuleGetFunction), funcload (cuFuncLoad). */
typedef struct bnbq__cu_timing {
    double key, read, load, getfn, funcload;
    int    loads;
} bnbq__cu_timing;

#define BNBQ__MAX_SOURCES 32

struct bnbq_cuda {
    bnbq_cuda_desc    desc;           /* resolved */
    char              cache_dir[1024];
    bnbq_exec         log_ex;         /* carries the logger and allocator */
    bnbq__CUdevice    device;
    bnbq__CUcontext   cuctx;
    bnbq_cuda_device_info info;
    int               target_arch, target_ptx;
    int               nvrtc_resolved; /* NVRTC looked for (it is opened on first need) */
    int               nvrtc_ok;       /* NVRTC loaded and usable for this device */
    bnbq_result       nvrtc_missing;  /* what an uncached kernel reports when !nvrtc_ok */
#if defined(_WIN32)
    SRWLOCK           lock;
#else
    pthread_mutex_t   lock;
#endif
    bnbq__cu_module*  modules;
    int               num_modules, cap_modules;
    /* tiered compilation: the queue of full builds, its lock and condition, the worker thread, and the
       fast modules replaced by their full build stay in their module entry (fast_module) */
    int               tier_on;        /* desc and NVRTC (12.8+, cubin target) allow it; set with NVRTC */
    int               tier_force;     /* bnbq__cu_tier_force, or 3 for BNBQ_TIERED_COMPILE=fast */
    bnbq__cu_job*     jobs;
    int               tier_stop;      /* uninit: the worker ends after its current build */
    int               worker_state;   /* 0 not started, 1 running, -1 could not start */
#if defined(_WIN32)
    SRWLOCK           qlock;
    CONDITION_VARIABLE qcond;
    HANDLE            worker;
#else
    pthread_mutex_t   qlock;
    pthread_cond_t    qcond;
    pthread_t         worker;
#endif
    uint64_t          src_hash[BNBQ__MAX_SOURCES];  /* per source file, 0: not computed yet */
    size_t            src_len[BNBQ__MAX_SOURCES];
    bnbq_cuda_stats   stats;
    bnbq__cu_timing   timing;
    int               warned_cache_write;
    int               pdl_off;        /* cuLaunchKernelEx failed once: plain launches (launch_pdl)  */
    int               wg_off;         /* a tensor map or an sm_90a unit failed once: no sm_90a tiles */
    size_t            smem_optin;     /* shared memory a block may opt in to (0: not to be had); init */
    void*             err_flag;       /* device u32: sticky index error of the prims (bnbq_sync)    */
    int               err_armed;      /* a kernel that may set it was queued since the last check   */
    unsigned long     mm_gemv_launches; /* few-rows int8 matmul launches (_gemv and _mma; the tests)   */
    unsigned long     mm_tc_launches;   /* of them bnbq_k_int8_mma / bnbq_k_sb_mma (the tests)          */
    unsigned long     m4_mma_launches;  /* bnbq_k_matmul4_mma launches (the tests)                      */
    unsigned long     gemm_mma_launches; /* bnbq_k_gemm_mma, _mma_nn and _smallk launches (the tests)   */
    unsigned long     mm_tile_tc_launches; /* bnbq_k_int8_tc / bnbq_k_sb_tc launches (the tests)          */
    unsigned long     gemv_dq_launches;    /* bnbq_k_int8_gemv_dq / _br launches (the tests)              */
    unsigned long     i8_br_launches;      /* bnbq_k_int8_gemv_br / _bro launches (the tests)              */
    unsigned long     i8_bro_launches;     /* bnbq_k_int8_gemv_bro launches (the tests)                   */
    unsigned long     i8_dqo_launches;     /* bnbq_k_int8_gemv_dqo launches (the tests)                   */
    unsigned long     i8_one_launches;     /* bnbq_k_int8_vw_one launches (the tests)                     */
    unsigned long     outlier_g_launches;  /* bnbq_k_outlier_gather + _mm_g launches (the tests)          */
    unsigned long     dq_outl_launches;    /* bnbq_k_int8_dq_mma launches with the outlier product (the tests) */
    unsigned long     gemm_t2_launches;  /* bnbq_k_gemm_t2_* launches (the tests)                          */
    unsigned long     gemm_wg_launches;  /* bnbq_k_gemm_wg* launches (the tests)                          */
    unsigned long     m4_wg_launches;    /* bnbq_k_m4_wg launches (the tests)                             */
    unsigned long     i8_wg_dq_launches; /* bnbq_k_int8_wg_dq_* launches (the tests)                      */
    unsigned long     i8_wg_dqt_launches; /* bnbq_k_int8_wg_dqt_* launches (the tests)                    */
    unsigned long     outlier_tc_launches; /* bnbq_k_outlier_gather16 + _mm_tc launches (the tests)        */
};

/* cuFuncLoad right after cuModuleGetFunction (where the driver has it): the kernel's code goes to
   the GPU when bnbq first resolves it, not inside its first launch. bench_gpu switches it. */
static int bnbq__cu_func_load = 1;
/* One more NVRTC option for every unit (it becomes part of the cache keys), NULL: none. Only for
   benchmarks: bench_gpu / bench_compile set "-no-cache" so that NVRTC 12.9+ does not answer from
   its own cache (the driver's compute cache) and cold compilations are measured cold. */
static const char* bnbq__cu_nvrtc_extra = NULL;
static void bnbq__q_wake(bnbq_cuda* c);
static void bnbq__cu_job_free(bnbq__cu_job* j);
/* Tiered compilation for tests and benchmarks (read when a context opens NVRTC): 0 as the desc says, -1
   never, 1 every unit tiered (not only bnbq__cu_tiered_kernels), 2 every unit fast and never replaced
   (the fast builds' results checked against the CPU), 3 the listed units fast and never replaced. */
static int bnbq__cu_tier_force = 0;
/* The NVRTC option of the fast build. -Ofc=mid measured 2-4x faster than the full build on the slow units
   (bench/results/cpu-20261125-session33-tiers.txt); -Ofc=max compiled no faster and made cubins 2-4x larger. */
static const char* bnbq__cu_fast_opt = "-Ofc=mid";   /* a variable for the tests (a rejected option) */
static int bnbq__cu_no_thread = 0;   /* tests: the background thread "cannot be created" */

#define BNBQ__DRV (bnbq__cuda_global.drv)
#define BNBQ__NV (bnbq__cuda_global.nvrtc)

/* The context's locks: lock (module table, stats) and qlock (tiered compilation's queue). */
#if defined(_WIN32)
static void bnbq__mutex_lock(SRWLOCK* m) { AcquireSRWLockExclusive(m); }
static void bnbq__mutex_unlock(SRWLOCK* m) { ReleaseSRWLockExclusive(m); }
#else
static void bnbq__mutex_lock(pthread_mutex_t* m) { pthread_mutex_lock(m); }
static void bnbq__mutex_unlock(pthread_mutex_t* m) { pthread_mutex_unlock(m); }
#endif
static void bnbq__ctx_lock(bnbq_cuda* c) { bnbq__mutex_lock(&c->lock); }
static void bnbq__ctx_unlock(bnbq_cuda* c) { bnbq__mutex_unlock(&c->lock); }
static void bnbq__q_lock(bnbq_cuda* c) { bnbq__mutex_lock(&c->qlock); }
static void bnbq__q_unlock(bnbq_cuda* c) { bnbq__mutex_unlock(&c->qlock); }

static const char* bnbq__cu_errname(bnbq__CUresult e) {
    const char* s = NULL;
    if (BNBQ__DRV.loaded && BNBQ__DRV.bnbq__cuGetErrorName &&
        BNBQ__DRV.bnbq__cuGetErrorName(e, &s) == 0 && s)
        return s;
    return "CUDA_ERROR_UNKNOWN";
}

/* Maps a failing driver call to a result code, with one log line. */
static bnbq_result bnbq__cu_check(const bnbq_exec* ex, const char* func, const char* what,
                                  bnbq__CUresult e) {
    bnbq_result r;
    if (e == BNBQ__CUDA_SUCCESS) return BNBQ_SUCCESS;
    switch ((int)e) {
        case BNBQ__CUDA_ERROR_OUT_OF_MEMORY: r = BNBQ_ERROR_OUT_OF_MEMORY; break;
        case BNBQ__CUDA_ERROR_STUB_LIBRARY: r = BNBQ_ERROR_NO_DRIVER; break;
        case BNBQ__CUDA_ERROR_INSUFFICIENT_DRIVER:
        case BNBQ__CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
        case BNBQ__CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: r = BNBQ_ERROR_DRIVER_TOO_OLD; break;
        case BNBQ__CUDA_ERROR_NO_DEVICE:
        case BNBQ__CUDA_ERROR_INVALID_DEVICE: r = BNBQ_ERROR_NO_DEVICE; break;
        default: r = BNBQ_ERROR_CUDA; break;
    }
    bnbq_log(ex, BNBQ_LOG_ERROR, func, "%s failed: %s (%d)", what, bnbq__cu_errname(e), (int)e);
    return r;
}

static bnbq_result bnbq__push(bnbq_cuda* c, const char* func) {
    return bnbq__cu_check(&c->log_ex, func, "cuCtxPushCurrent",
                          BNBQ__DRV.bnbq__cuCtxPushCurrent(c->cuctx));
}
static void bnbq__pop(void) {
    bnbq__CUcontext dummy;
    BNBQ__DRV.bnbq__cuCtxPopCurrent(&dummy);
}

/* r = one driver call made with c's context current, mapped to a result code and logged through
   log_ex on failure (fn: the public function, what: the driver call's name). */
#define BNBQ__CU_CALL(c, log_ex, fn, what, expr) \
    do { \
        r = bnbq__push((c), (fn)); \
        if (r != BNBQ_SUCCESS) return r; \
        r = bnbq__cu_check((log_ex), (fn), (what), (expr)); \
        bnbq__pop(); \
    } while (0)

/* The architecture kernels are built for: the device's own when NVRTC lists it (cubin), else the
   newest NVRTC knows below it (PTX, JIT-compiled by the driver). */
static bnbq_result bnbq__choose_target(bnbq_cuda* c) {
    int dev = c->info.cc_major * 10 + c->info.cc_minor, best = 0, i;
    c->target_arch = dev;
    c->target_ptx = 0;
    if (!c->nvrtc_ok) return BNBQ_SUCCESS;   /* cache only: the lookup tries what fits */
    for (i = 0; i < BNBQ__NV.num_archs; i++) {
        if (BNBQ__NV.archs[i] == dev) return BNBQ_SUCCESS;
        if (BNBQ__NV.archs[i] < dev && BNBQ__NV.archs[i] > best) best = BNBQ__NV.archs[i];
    }
    if (best == 0) {
        bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda",
                 "NVRTC %d.%d knows no architecture at or below sm_%d", BNBQ__NV.version / 1000,
                 BNBQ__NV.version % 1000 / 10, dev);
        c->nvrtc_ok = 0;
        return BNBQ_ERROR_NVRTC_TOO_OLD;
    }
    c->target_arch = best;
    c->target_ptx = 1;
    bnbq_log(&c->log_ex, BNBQ_LOG_INFO, "bnbq_cuda",
             "NVRTC does not list sm_%d: building PTX for compute_%d", dev, best);
    return BNBQ_SUCCESS;
}

/* Opens NVRTC (first need: a kernel missing from the disk cache, or bnbq_cuda_query_device) and
   chooses the target. Until then the target is the device's own architecture as cubin, which is
   what a cache filled for this GPU holds; a program whose kernels are all cached never opens
   NVRTC (some milliseconds of dlopen). Context lock held (or the context not yet shared). */
static void bnbq__cu_resolve_nvrtc(bnbq_cuda* c) {
    bnbq_result r = BNBQ_ERROR_NO_NVRTC;
    if (c->nvrtc_resolved) return;
    c->nvrtc_resolved = 1;
    if (!c->desc.disable_nvrtc) {
        bnbq__global_lock();
        r = bnbq__load_nvrtc(&c->log_ex, c->desc.nvrtc_path);
        bnbq__global_unlock();
    }
    c->nvrtc_ok = r == BNBQ_SUCCESS;
    c->nvrtc_missing = BNBQ_ERROR_NO_NVRTC;
    c->info.nvrtc_version = c->nvrtc_ok ? BNBQ__NV.version : 0;
    if (bnbq__choose_target(c) != BNBQ_SUCCESS) {
        c->nvrtc_ok = 0;
        c->nvrtc_missing = BNBQ_ERROR_NVRTC_TOO_OLD;
    }
    c->info.target_arch = c->target_arch;
    c->info.target_is_ptx = c->target_ptx;
    {   /* tiered compilation: NVRTC 12.8+ (-Ofc), a cubin target, not switched off; BNBQ_TIERED_COMPILE=fast
           (tests): the listed kernels' fast builds only, never replaced */
        const char* env = getenv("BNBQ_TIERED_COMPILE");
        c->tier_force = bnbq__cu_tier_force;
        if (c->tier_force == 0 && env && !strcmp(env, "fast")) c->tier_force = 3;
        c->tier_on = c->nvrtc_ok && !c->target_ptx && BNBQ__NV.version >= 12080 && !c->desc.no_tiered_compile &&
                     !(env && !strcmp(env, "0")) && c->tier_force >= 0;
    }
    if (c->nvrtc_ok)
        bnbq_log(&c->log_ex, BNBQ_LOG_INFO, "bnbq_cuda", "kernels not in the cache are compiled for %s_%d%s",
                 c->target_ptx ? "compute" : "sm", c->target_arch,
                 c->tier_on ? " (slow ones fast first, their full build in the background)" : "");
}

BNBQ_API bnbq_result bnbq_cuda_init(const bnbq_cuda_desc* desc, bnbq_cuda** out_ctx) {
    static const char* fn = "bnbq_cuda_init";
    bnbq_cuda_desc d;
    bnbq_cuda* c;
    bnbq_exec log_ex;
    bnbq_cpu_desc cd;
    bnbq_result r;
    int count = 0, v = 0;
    if (!out_ctx) return BNBQ_ERROR_NULL_POINTER;
    *out_ctx = NULL;
    memset(&d, 0, sizeof d);
    if (desc) d = *desc;
    memset(&cd, 0, sizeof cd);
    cd.logger = d.logger;
    cd.allocator = d.allocator;
    r = bnbq_cpu_exec_init(&log_ex, &cd);       /* validates the allocator pair, logs */
    if (r != BNBQ_SUCCESS) return r;
    if (d.device_index < 0) {
        bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "device_index %d is negative", d.device_index);
        return BNBQ_ERROR_INVALID_ARGS;
    }
    bnbq__global_lock();
    r = bnbq__load_driver(&log_ex, d.libcuda_path);
    if (r == BNBQ_SUCCESS) {
        bnbq__CUresult e = BNBQ__DRV.bnbq__cuInit(0);
        if (e != BNBQ__CUDA_SUCCESS) {
            if ((int)e == BNBQ__CUDA_ERROR_STUB_LIBRARY) {
                bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn,
                         "%s is the CUDA toolkit's stub library, not a driver", BNBQ__DRV.path);
                r = BNBQ_ERROR_NO_DRIVER;
            } else {
                r = bnbq__cu_check(&log_ex, fn, "cuInit", e);
            }
        }
    } else if (r == BNBQ_ERROR_NO_DRIVER) {
        bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "no NVIDIA driver: cannot open %s",
                 d.libcuda_path ? d.libcuda_path : "libcuda.so.1");
    }
    bnbq__global_unlock();
    if (r != BNBQ_SUCCESS) return r;

    r = bnbq__cu_check(&log_ex, fn, "cuDriverGetVersion", BNBQ__DRV.bnbq__cuDriverGetVersion(&v));
    if (r != BNBQ_SUCCESS) return r;
    r = bnbq__cu_check(&log_ex, fn, "cuDeviceGetCount", BNBQ__DRV.bnbq__cuDeviceGetCount(&count));
    if (r != BNBQ_SUCCESS) return r;
    if (count <= 0 || d.device_index >= count) {
        bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "no CUDA device %d (%d found)", d.device_index, count);
        return BNBQ_ERROR_NO_DEVICE;
    }
    c = (bnbq_cuda*)bnbq_host_alloc(&log_ex, sizeof *c);
    if (!c) return BNBQ_ERROR_OUT_OF_MEMORY;
    memset(c, 0, sizeof *c);
    c->log_ex = log_ex;
    c->desc = d;
    c->desc.allocator = log_ex.allocator;
#if defined(_WIN32)
    InitializeSRWLock(&c->lock);
    InitializeSRWLock(&c->qlock);
    InitializeConditionVariable(&c->qcond);
#else
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->qlock, NULL);
    pthread_cond_init(&c->qcond, NULL);
#endif
    c->info.driver_version = v;
    r = bnbq__cu_check(&log_ex, fn, "cuDeviceGet", BNBQ__DRV.bnbq__cuDeviceGet(&c->device, d.device_index));
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_check(&log_ex, fn, "cuDeviceGetName",
                           BNBQ__DRV.bnbq__cuDeviceGetName(c->info.name, (int)sizeof c->info.name - 1, c->device));
    if (r == BNBQ_SUCCESS) {
        int a = 0;
        BNBQ__DRV.bnbq__cuDeviceGetAttribute(&c->info.cc_major, (bnbq__CUattr)BNBQ__ATTR_CC_MAJOR, c->device);
        BNBQ__DRV.bnbq__cuDeviceGetAttribute(&c->info.cc_minor, (bnbq__CUattr)BNBQ__ATTR_CC_MINOR, c->device);
        BNBQ__DRV.bnbq__cuDeviceGetAttribute(&c->info.sm_count, (bnbq__CUattr)BNBQ__ATTR_MULTIPROCESSOR_COUNT, c->device);
        if (BNBQ__DRV.bnbq__cuDeviceGetAttribute(&a, (bnbq__CUattr)BNBQ__ATTR_L2_CACHE_SIZE, c->device) == 0)
            c->info.l2_bytes = (size_t)a;
        /* the opt-in shared memory, once (the launchers of the gemv and sm_90a tiles ask at every call); 0 without
           cuFuncSetAttribute, which a launch above 48 KB needs */
        a = 0;
        if (BNBQ__DRV.bnbq__cuFuncSetAttribute &&
            BNBQ__DRV.bnbq__cuDeviceGetAttribute(&a, (bnbq__CUattr)BNBQ__ATTR_MAX_SHARED_PER_BLOCK_OPTIN, c->device) == 0 &&
            a > 0)
            c->smem_optin = (size_t)a;
        BNBQ__DRV.bnbq__cuDeviceTotalMem(&c->info.total_memory, c->device);
        r = bnbq__cu_check(&log_ex, fn, "cuDevicePrimaryCtxRetain",
                           BNBQ__DRV.bnbq__cuDevicePrimaryCtxRetain(&c->cuctx, c->device));
    }
    if (r != BNBQ_SUCCESS) {
#if !defined(_WIN32)
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->qlock);
        pthread_cond_destroy(&c->qcond);
#endif
        bnbq_host_free(&log_ex, c);
        return r;
    }
    /* NVRTC is opened on first need (bnbq__cu_resolve_nvrtc); until then the target is the device's
       own architecture as cubin */
    c->nvrtc_ok = 0;
    c->nvrtc_missing = BNBQ_ERROR_NO_NVRTC;
    bnbq__choose_target(c);
    c->info.target_arch = c->target_arch;
    c->info.target_is_ptx = c->target_ptx;
    if (d.disable_nvrtc) bnbq__cu_resolve_nvrtc(c);
    if (!d.disable_disk_cache) {
        if (bnbq__cache_dir(d.cache_dir, c->cache_dir, sizeof c->cache_dir) != 0) {
            bnbq_log(&log_ex, BNBQ_LOG_WARN, fn, "no cache directory could be chosen: disk cache off");
            c->cache_dir[0] = 0;
        }
    }
    c->desc.cache_dir = c->cache_dir[0] ? c->cache_dir : NULL;
    bnbq_log(&log_ex, BNBQ_LOG_INFO, fn, "%s, sm_%d%d, %d SMs, driver %d, kernel cache %s",
             c->info.name, c->info.cc_major, c->info.cc_minor, c->info.sm_count, v,
             c->cache_dir[0] ? c->cache_dir : "off");
    *out_ctx = c;
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_cuda_uninit(bnbq_cuda* c) {
    int i;
    bnbq_exec log_ex;
    if (!c) return;
    log_ex = c->log_ex;
    /* the background thread: queued full builds are dropped, a running one is finished (and cached) */
    bnbq__q_lock(c);
    c->tier_stop = 1;
    bnbq__q_wake(c);
    bnbq__q_unlock(c);
    if (c->worker_state > 0) {
#if defined(_WIN32)
        WaitForSingleObject(c->worker, INFINITE);
        CloseHandle(c->worker);
#else
        pthread_join(c->worker, NULL);
#endif
    }
    while (c->jobs) {
        bnbq__cu_job* j = c->jobs;
        c->jobs = j->next;
        bnbq__cu_job_free(j);
    }
    if (bnbq__push(c, "bnbq_cuda_uninit") == BNBQ_SUCCESS) {
        if (c->err_flag) BNBQ__DRV.bnbq__cuMemFree((bnbq__CUdeviceptr)(uintptr_t)c->err_flag);
        for (i = 0; i < c->num_modules; i++) {
            BNBQ__DRV.bnbq__cuModuleUnload(c->modules[i].module);
            if (c->modules[i].fast_module) BNBQ__DRV.bnbq__cuModuleUnload(c->modules[i].fast_module);
        }
        bnbq__pop();
    }
    for (i = 0; i < c->num_modules; i++) bnbq_host_free(&log_ex, c->modules[i].unit);
    bnbq_host_free(&log_ex, c->modules);
    BNBQ__DRV.bnbq__cuDevicePrimaryCtxRelease(c->device);
#if !defined(_WIN32)
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->qlock);
    pthread_cond_destroy(&c->qcond);
#endif
    bnbq_host_free(&log_ex, c);
}

BNBQ_API bnbq_result bnbq_cuda_query_desc(const bnbq_cuda* c, bnbq_cuda_desc* out) {
    if (!c || !out) return BNBQ_ERROR_NULL_POINTER;
    *out = c->desc;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_cuda_query_device(const bnbq_cuda* c, bnbq_cuda_device_info* out) {
    bnbq_cuda* m = (bnbq_cuda*)c;   /* NVRTC is opened on first need: this is one (nvrtc_version) */
    if (!c || !out) return BNBQ_ERROR_NULL_POINTER;
    bnbq__ctx_lock(m);
    bnbq__cu_resolve_nvrtc(m);
    *out = m->info;
    bnbq__ctx_unlock(m);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_cuda_stats_get(bnbq_cuda* c, bnbq_cuda_stats* out) {
    if (!c || !out) return BNBQ_ERROR_NULL_POINTER;
    bnbq__ctx_lock(c);
    *out = c->stats;
    out->modules = c->num_modules;
    {
        int i, n = 0;
        for (i = 0; i < c->num_modules; i++) n += c->modules[i].job != NULL;
        out->units_pending = n;
    }
    bnbq__ctx_unlock(c);
    return BNBQ_SUCCESS;
}

/* ---- memory, streams, events -------------------------------------------------------------------- */

static bnbq_cuda* bnbq__ex_ctx(const bnbq_exec* ex) {
    return (ex && ex->memory == BNBQ_MEMORY_DEVICE) ? (bnbq_cuda*)ex->impl : NULL;
}
#define BNBQ__DPTR(p) ((bnbq__CUdeviceptr)(uintptr_t)(p))

BNBQ_API bnbq_result bnbq_cuda_malloc(bnbq_cuda* c, size_t bytes, void** out_ptr) {
    static const char* fn = "bnbq_cuda_malloc";
    bnbq__CUdeviceptr p = 0;
    bnbq_result r;
    if (!c || !out_ptr) return BNBQ_ERROR_NULL_POINTER;
    *out_ptr = NULL;
    if (bytes == 0) {
        bnbq_log(&c->log_ex, BNBQ_LOG_ERROR, fn, "bytes is 0");
        return BNBQ_ERROR_BAD_SHAPE;
    }
    BNBQ__CU_CALL(c, &c->log_ex, fn, "cuMemAlloc", BNBQ__DRV.bnbq__cuMemAlloc(&p, bytes));
    if (r == BNBQ_SUCCESS) *out_ptr = (void*)(uintptr_t)p;
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_free(bnbq_cuda* c, void* ptr) {
    static const char* fn = "bnbq_cuda_free";
    bnbq_result r;
    if (!c) return BNBQ_ERROR_NULL_POINTER;
    if (!ptr) return BNBQ_SUCCESS;
    BNBQ__CU_CALL(c, &c->log_ex, fn, "cuMemFree", BNBQ__DRV.bnbq__cuMemFree(BNBQ__DPTR(ptr)));
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_memcpy(bnbq_exec* ex, void* dst, const void* src, size_t bytes,
                                      bnbq_cuda_copy kind) {
    static const char* fn = "bnbq_cuda_memcpy";
    bnbq_cuda* c = bnbq__ex_ctx(ex);
    bnbq__CUstream s;
    bnbq__CUresult e;
    bnbq_result r;
    if (!c) return BNBQ_ERROR_INVALID_ARGS;
    if (!dst || !src) return BNBQ_ERROR_NULL_POINTER;
    if (bytes == 0) return BNBQ_SUCCESS;
    s = (bnbq__CUstream)ex->stream;
    r = bnbq__push(c, fn);
    if (r != BNBQ_SUCCESS) return r;
    switch (kind) {
        case BNBQ_COPY_HOST_TO_DEVICE:
            e = BNBQ__DRV.bnbq__cuMemcpyHtoDAsync(BNBQ__DPTR(dst), src, bytes, s); break;
        case BNBQ_COPY_DEVICE_TO_HOST:
            e = BNBQ__DRV.bnbq__cuMemcpyDtoHAsync(dst, BNBQ__DPTR(src), bytes, s); break;
        case BNBQ_COPY_DEVICE_TO_DEVICE:
            e = BNBQ__DRV.bnbq__cuMemcpyDtoDAsync(BNBQ__DPTR(dst), BNBQ__DPTR(src), bytes, s); break;
        default:
            bnbq__pop();
            return BNBQ_ERROR_INVALID_ARGS;
    }
    r = bnbq__cu_check(ex, fn, "cuMemcpyAsync", e);
    bnbq__pop();
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_memset(bnbq_exec* ex, void* dst, int byte_value, size_t bytes) {
    static const char* fn = "bnbq_cuda_memset";
    bnbq_cuda* c = bnbq__ex_ctx(ex);
    bnbq_result r;
    if (!c) return BNBQ_ERROR_INVALID_ARGS;
    if (!dst) return BNBQ_ERROR_NULL_POINTER;
    if (bytes == 0) return BNBQ_SUCCESS;
    BNBQ__CU_CALL(c, ex, fn, "cuMemsetD8Async",
                  BNBQ__DRV.bnbq__cuMemsetD8Async(BNBQ__DPTR(dst), (unsigned char)byte_value, bytes,
                                                  (bnbq__CUstream)ex->stream));
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_synchronize(bnbq_exec* ex) {
    static const char* fn = "bnbq_cuda_synchronize";
    bnbq_cuda* c = bnbq__ex_ctx(ex);
    bnbq_result r;
    if (!c) return BNBQ_ERROR_INVALID_ARGS;
    BNBQ__CU_CALL(c, ex, fn, "cuStreamSynchronize",
                  BNBQ__DRV.bnbq__cuStreamSynchronize((bnbq__CUstream)ex->stream));
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_stream_create(bnbq_cuda* c, void** out_stream) {
    static const char* fn = "bnbq_cuda_stream_create";
    bnbq__CUstream s = NULL;
    bnbq_result r;
    if (!c || !out_stream) return BNBQ_ERROR_NULL_POINTER;
    BNBQ__CU_CALL(c, &c->log_ex, fn, "cuStreamCreate", BNBQ__DRV.bnbq__cuStreamCreate(&s, 1));
    *out_stream = r == BNBQ_SUCCESS ? (void*)s : NULL;
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_stream_destroy(bnbq_cuda* c, void* stream) {
    static const char* fn = "bnbq_cuda_stream_destroy";
    bnbq_result r;
    if (!c) return BNBQ_ERROR_NULL_POINTER;
    if (!stream) return BNBQ_SUCCESS;
    BNBQ__CU_CALL(c, &c->log_ex, fn, "cuStreamDestroy",
                  BNBQ__DRV.bnbq__cuStreamDestroy((bnbq__CUstream)stream));
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_event_create(bnbq_cuda* c, void** out_event) {
    static const char* fn = "bnbq_cuda_event_create";
    bnbq__CUevent e = NULL;
    bnbq_result r;
    if (!c || !out_event) return BNBQ_ERROR_NULL_POINTER;
    BNBQ__CU_CALL(c, &c->log_ex, fn, "cuEventCreate", BNBQ__DRV.bnbq__cuEventCreate(&e, 0));
    *out_event = r == BNBQ_SUCCESS ? (void*)e : NULL;
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_event_destroy(bnbq_cuda* c, void* event) {
    static const char* fn = "bnbq_cuda_event_destroy";
    bnbq_result r;
    if (!c) return BNBQ_ERROR_NULL_POINTER;
    if (!event) return BNBQ_SUCCESS;
    BNBQ__CU_CALL(c, &c->log_ex, fn, "cuEventDestroy",
                  BNBQ__DRV.bnbq__cuEventDestroy((bnbq__CUevent)event));
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_event_record(bnbq_exec* ex, void* event) {
    static const char* fn = "bnbq_cuda_event_record";
    bnbq_cuda* c = bnbq__ex_ctx(ex);
    bnbq_result r;
    if (!c) return BNBQ_ERROR_INVALID_ARGS;
    if (!event) return BNBQ_ERROR_NULL_POINTER;
    BNBQ__CU_CALL(c, ex, fn, "cuEventRecord",
                  BNBQ__DRV.bnbq__cuEventRecord((bnbq__CUevent)event, (bnbq__CUstream)ex->stream));
    return r;
}

BNBQ_API bnbq_result bnbq_cuda_event_elapsed_ms(bnbq_cuda* c, void* start, void* end, float* out_ms) {
    static const char* fn = "bnbq_cuda_event_elapsed_ms";
    bnbq_result r;
    if (!c || !start || !end || !out_ms) return BNBQ_ERROR_NULL_POINTER;
    r = bnbq__push(c, fn);
    if (r != BNBQ_SUCCESS) return r;
    r = bnbq__cu_check(&c->log_ex, fn, "cuEventSynchronize",
                       BNBQ__DRV.bnbq__cuEventSynchronize((bnbq__CUevent)end));
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_check(&c->log_ex, fn, "cuEventElapsedTime",
                           BNBQ__DRV.bnbq__cuEventElapsedTime(out_ms, (bnbq__CUevent)start,
                                                              (bnbq__CUevent)end));
    bnbq__pop();
    return r;
}

/* ---- compilation -------------------------------------------------------------------------------- */

/* (Measured and rejected, session 14: NVRTC 12.8+'s -Ofc=min on every unit compiles ~25 % faster
   (device: 163 units 0.151 -> 0.112 s mean, 5 -> 0 over 0.3 s) but leaves ptxas' code up to 45 %
   slower: dequantize_4bit at half the bandwidth, LLM.int8 -25 points, gemv -7..-14, quantizers -6
   (bench/results/gpu-20261122-h100-session14-ofc.txt). -minimal gained ~2 %, -Xptxas -O2 nothing.)
   The compile options of a unit for an architecture; returns the number of options (-1: they do
   not fit). kernel: that kernel of the file alone (-DBNBQ_ONE_KERNEL -DBNBQ_K_<kernel>: the guards
   `make embed` puts around each kernel); NULL: the whole file. The option strings live in opt_buf. */
static int bnbq__cu_options(const char* defines, const char* kernel, int arch, int ptx, char* opt_buf,
                            size_t cap, const char** opts, int max_opts) {
    int n = 0;
    size_t used = 0;
    const char* p = defines;
    /* a unit whose defines hold BNBQ_ARCH_A=1 (kernels_src/gemm90.cu: wgmma, setmaxnreg) is built for sm_90a
       where the target is sm_90 as cubin: that code runs on compute capability 9.0 alone, which is what a
       cubin for sm_90 is loaded on; elsewhere (other targets, PTX) its kernels compile empty */
    int arch_a = !ptx && arch == 90 && p && strstr(p, "BNBQ_ARCH_A=1") != NULL;
    int w = snprintf(opt_buf, cap, "--gpu-architecture=%s_%d%s", ptx ? "compute" : "sm", arch, arch_a ? "a" : "");
    if (w < 0 || (size_t)w >= cap || max_opts < 5) return -1;
    opts[n++] = opt_buf;
    used = (size_t)w + 1;
    opts[n++] = "--fmad=false";
    opts[n++] = "--std=c++11";
    while (p && *p) {
        size_t len;
        while (*p == ' ') p++;
        if (!*p) break;
        len = strcspn(p, " ");
        if (n + 1 >= max_opts || used + len + 3 > cap) return -1;
        opt_buf[used] = '-'; opt_buf[used + 1] = 'D';
        memcpy(opt_buf + used + 2, p, len);
        opt_buf[used + 2 + len] = 0;
        opts[n++] = opt_buf + used;
        used += len + 3;
        p += len;
    }
    if (bnbq__cu_nvrtc_extra) {
        if (n + 1 >= max_opts) return -1;
        opts[n++] = bnbq__cu_nvrtc_extra;
    }
    if (kernel) {
        size_t len = strlen(kernel);
        if (n + 2 > max_opts || used + len + 10 > cap) return -1;
        opts[n++] = "-DBNBQ_ONE_KERNEL";
        memcpy(opt_buf + used, "-DBNBQ_K_", 9);
        memcpy(opt_buf + used + 9, kernel, len + 1);
        opts[n++] = opt_buf + used;
    }
    return n;
}

/* The cache key text of a unit: bnbq's version and cache format, the file (unit) and kernel
   (NULL: the whole file), the hash and length of the program text, the architecture, the image
   kind and the options. */
static int bnbq__cu_key(const char* unit, const char* kernel, uint64_t src_hash, size_t src_len,
                        const char* const* opts, int nopts, int arch, int ptx, char* key, size_t cap) {
    int i, w;
    size_t used;
    w = snprintf(key, cap, "bnbq %s cache %d\nunit=%s\nkernel=%s\nsrc=%08x%08x:%lu\narch=%d\nkind=%s\nopts=",
                 BNBQ_VERSION_STRING, BNBQ_CUDA_CACHE_FORMAT, unit, kernel ? kernel : "*",
                 (unsigned)(src_hash >> 32), (unsigned)src_hash, (unsigned long)src_len, arch,
                 ptx ? "ptx" : "cubin");
    if (w < 0 || (size_t)w >= cap) return -1;
    used = (size_t)w;
    for (i = 0; i < nopts; i++) {
        size_t l = strlen(opts[i]);
        if (used + l + 2 >= cap) return -1;
        memcpy(key + used, opts[i], l);
        used += l;
        key[used++] = i + 1 < nopts ? ' ' : '\n';
    }
    key[used] = 0;
    return 0;
}

/* The hash (bnbq__sum64) and length of unit's program text; -1 for an unknown unit or no memory. */
static int bnbq__cu_text_hash(const char* unit, uint64_t* out_hash, size_t* out_len) {
    size_t len = 0;
    char* program = bnbq__cu_program_text_len(unit, &len);
    if (!program) return -1;
    *out_hash = bnbq__sum64(program, len);
    *out_len = len;
    free(program);
    return 0;
}

/* bnbq__cu_text_hash, remembered by the context (a source is hashed once per context). Lock held. */
static int bnbq__cu_src_hash(bnbq_cuda* c, const char* unit, uint64_t* out_hash, size_t* out_len) {
    const bnbq__cu_source* s = bnbq__cu_source_of(unit);
    int i = s ? (int)(s - bnbq__cu_sources) : -1;
    if (i < 0) return -1;
    if (i >= BNBQ__MAX_SOURCES) return bnbq__cu_text_hash(unit, out_hash, out_len);
    if (c->src_hash[i] == 0 && bnbq__cu_text_hash(unit, &c->src_hash[i], &c->src_len[i]) != 0) return -1;
    *out_hash = c->src_hash[i];
    *out_len = c->src_len[i];
    return 0;
}

/* Compiles a unit with NVRTC (global NVRTC must be loaded). On success *out_img is malloc'd and
   *seconds (optional) holds the wall time. */
static bnbq_result bnbq__nvrtc_compile(const bnbq_exec* log_ex, const char* unit,
                                       const char* program, const char* const* opts, int nopts,
                                       int ptx, unsigned char** out_img, size_t* out_len,
                                       double* seconds) {
    static const char* fn = "bnbq_cuda";
    bnbq__nvrtcProgram prog = NULL;
    bnbq__nvrtcResult e;
    double t0 = bnbq__now();
    size_t len = 0;
    unsigned char* img;
    char name[80];
    *out_img = NULL;
    sprintf(name, "%.60s.cu", unit);
    if (!ptx && (!BNBQ__NV.bnbq__nvrtcGetCUBINSize || !BNBQ__NV.bnbq__nvrtcGetCUBIN)) ptx = 1;
    e = BNBQ__NV.bnbq__nvrtcCreateProgram(&prog, program, name, 0, NULL, NULL);
    if (e != 0) {
        bnbq_log(log_ex, BNBQ_LOG_ERROR, fn, "nvrtcCreateProgram(%s): %s", unit,
                 BNBQ__NV.bnbq__nvrtcGetErrorString(e));
        return BNBQ_ERROR_COMPILE_FAILED;
    }
    e = BNBQ__NV.bnbq__nvrtcCompileProgram(prog, nopts, opts);
    if (e != 0) {
        size_t ll = 0;
        char* msg = NULL;
        if (BNBQ__NV.bnbq__nvrtcGetProgramLogSize(prog, &ll) == 0 && ll > 0) {
            msg = (char*)malloc(ll + 1);
            if (msg && BNBQ__NV.bnbq__nvrtcGetProgramLog(prog, msg) == 0) msg[ll] = 0;
        }
        bnbq_log(log_ex, BNBQ_LOG_ERROR, fn, "NVRTC failed on %s (%s %s): %.400s", unit, opts[0],
                 nopts > 3 ? opts[nopts - 1] : "", msg ? msg : BNBQ__NV.bnbq__nvrtcGetErrorString(e));
        free(msg);
        BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
        return BNBQ_ERROR_COMPILE_FAILED;
    }
    if (ptx) e = BNBQ__NV.bnbq__nvrtcGetPTXSize(prog, &len);
    else e = BNBQ__NV.bnbq__nvrtcGetCUBINSize(prog, &len);
    img = (e == 0 && len > 0) ? (unsigned char*)malloc(len) : NULL;
    if (img) e = ptx ? BNBQ__NV.bnbq__nvrtcGetPTX(prog, (char*)img)
                     : BNBQ__NV.bnbq__nvrtcGetCUBIN(prog, (char*)img);
    BNBQ__NV.bnbq__nvrtcDestroyProgram(&prog);
    if (!img || e != 0) {
        free(img);
        bnbq_log(log_ex, BNBQ_LOG_ERROR, fn, "NVRTC returned no image for %s", unit);
        return BNBQ_ERROR_COMPILE_FAILED;
    }
    *out_img = img;
    *out_len = len;
    if (seconds) *seconds = bnbq__now() - t0;
    return BNBQ_SUCCESS;
}

static int bnbq__variant_known(const char* unit, const char* defines) {
    int i;
    for (i = 0; i < bnbq__cu_num_variants(); i++)
        if (strcmp(bnbq__cu_variant_at(i)->unit, unit) == 0 &&
            strcmp(bnbq__cu_variant_at(i)->defines, defines) == 0)
            return 1;
    return 0;
}

/* The kernels a variant defines for an architecture: the file compiled to PTX with
   -DBNBQ_LIST_KERNELS (each kernel an empty stub, the other -D options choosing which) and the
   names of its .entry lines. out[] points into the source's kernel table. Returns their number,
   or -1 (logged). program: the unit's text. */
static int bnbq__cu_list_kernels(const bnbq_exec* log_ex, const char* unit, const char* defines, int arch,
                                 const char* program, const char** out, int max_out, double* seconds) {
    const bnbq__cu_source* src = bnbq__cu_source_of(unit);
    char opt_buf[1024];
    const char* opts[24];
    unsigned char* ptx = NULL;
    size_t len = 0;
    const char* p;
    int nopts, n = 0;
    if (!src) return -1;
    nopts = bnbq__cu_options(defines, NULL, arch, 1, opt_buf, sizeof opt_buf, opts, 23);
    if (nopts < 0) return -1;
    opts[nopts++] = "-DBNBQ_LIST_KERNELS";
    if (bnbq__nvrtc_compile(log_ex, unit, program, opts, nopts, 1, &ptx, &len, seconds) != BNBQ_SUCCESS)
        return -1;
    ptx[len - 1] = 0;
    for (p = strstr((const char*)ptx, ".entry"); p; p = strstr(p + 6, ".entry")) {
        const char* b = p + 6;
        const char* const* k;
        size_t l = 0;
        if (*b != ' ' && *b != '\t') continue;
        while (*b == ' ' || *b == '\t') b++;
        while ((b[l] >= 'a' && b[l] <= 'z') || (b[l] >= 'A' && b[l] <= 'Z') || (b[l] >= '0' && b[l] <= '9') ||
               b[l] == '_' || b[l] == '$')
            l++;
        for (k = src->kernels; *k; k++)
            if (strlen(*k) == l && memcmp(*k, b, l) == 0) break;
        if (*k && n < max_out) out[n++] = *k;   /* names not in the table (no extern "C") are not units */
    }
    free(ptx);
    return n;
}

/* A cubin handed to the driver must at least be a well-formed ELF64 little-endian header whose
   section and program header tables lie inside the image (the driver trusts them). */
static int bnbq__elf_ok(const unsigned char* p, size_t len) {
    uint64_t shoff, phoff;
    uint32_t shsz, shn, phsz, phn;
    if (len < 64 || memcmp(p, "\177ELF", 4) != 0 || p[4] != 2 || p[5] != 1) return 0;
    phoff = bnbq__get_u64(p + 32);
    shoff = bnbq__get_u64(p + 40);
    phsz = (uint32_t)p[54] | ((uint32_t)p[55] << 8);
    phn = (uint32_t)p[56] | ((uint32_t)p[57] << 8);
    shsz = (uint32_t)p[58] | ((uint32_t)p[59] << 8);
    shn = (uint32_t)p[60] | ((uint32_t)p[61] << 8);
    if (phoff > len || (uint64_t)phsz * phn > len - phoff) return 0;
    if (shoff > len || (uint64_t)shsz * shn > len - shoff) return 0;
    return 1;
}

/* Tries to load a module from a cache entry; a bad or refused entry counts as rejected. */
static int bnbq__try_cached(bnbq_cuda* c, const char* key, int kind, int arch,
                            bnbq__CUmodule* out_mod) {
    char name[40], path[1200];
    unsigned char* img;
    size_t len = 0;
    int bad = 0;
    bnbq__CUresult e;
    double t0 = bnbq__now(), t1;
    if (!c->cache_dir[0]) return 0;
    bnbq__cache_name(key, name);
    sprintf(path, "%s/%s.bnbqk", c->cache_dir, name);
    img = bnbq__cache_read(path, key, kind, arch, &len, &bad);
    if (!img) {
        c->timing.read += bnbq__now() - t0;
        if (bad) {
            c->stats.disk_rejected++;
            bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda", "ignoring a damaged cache entry %s", path);
        }
        return 0;
    }
    if ((kind == BNBQ__KIND_PTX && img[len - 1] != 0) ||  /* PTX must be NUL-terminated */
        (kind == BNBQ__KIND_CUBIN && !bnbq__elf_ok(img, len))) {
        free(img);
        c->timing.read += bnbq__now() - t0;
        c->stats.disk_rejected++;
        bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda", "ignoring a damaged cache entry %s "
                 "(not a well-formed %s image)", path, kind == BNBQ__KIND_PTX ? "PTX" : "cubin");
        return 0;
    }
    t1 = bnbq__now();
    c->timing.read += t1 - t0;
    e = BNBQ__DRV.bnbq__cuModuleLoadData(out_mod, img);
    c->timing.load += bnbq__now() - t1;
    c->timing.loads++;
    free(img);
    if (e != BNBQ__CUDA_SUCCESS) {
        c->stats.disk_rejected++;
        bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda", "the driver refused cache entry %s", path);
        return 0;
    }
    c->stats.disk_hits++;
    return 1;
}

/* The kernels compiled fast first where the context tiers (desc.no_tiered_compile): those whose full build
   is slow (0.25-0.9 s a unit on the device's CPU: bench_compile, bench/results/gpu-20261125-h100-session33-*)
   and whose fast build runs within a few times the full one's time (the gemvs, the quantizers, LLM.int8's
   row and epilogue kernels: memory-bound; measured in the same results). Not the tensor-core and mma
   GEMMs (bnbq_k_gemm*, _int8_wg*, _int8_tc, _m4_wg, _sb_wg, _outlier_mm*, ...): without NVVM's unrolling
   their fast builds ran 20-60x slower (StandardLinear's forward at 512 tokens 0.036 -> 1.96 ms), which a
   program would pay on every call until the full build arrives, more than the compilation saves. */
static const char* const bnbq__cu_tiered_kernels[] = {
    "bnbq_k_int8_gemv", "bnbq_k_int8_gemv_dq", "bnbq_k_int8_gemv_dqo", "bnbq_k_int8_gemv_br",
    "bnbq_k_int8_gemv_bro", "bnbq_k_sb_gemv", "bnbq_k_sb_colmax", "bnbq_k_sb_rows", "bnbq_k_sb_transpose_q",
    "bnbq_k_int8_mm_dequant", "bnbq_k_int8_dq_stats", "bnbq_k_int8_dq_quant_thr", "bnbq_k_int8_vw_one",
    "bnbq_k_int8_vw_rows_thr", "bnbq_k_int8_vw_rows_smp", "bnbq_k_gemv4", "bnbq_k_gemv4_any", "bnbq_k_gemv4tc",
    "bnbq_k_gemv4tc_w", "bnbq_k_quant_nested", "bnbq_k_quant_nested_search", "bnbq_k_quant_global",
    "bnbq_k_quant_global_search", "bnbq_k_quant4", "bnbq_k_quant4_exact", "bnbq_k_quant8", "bnbq_k_quant8_search",
    "bnbq_k_absmax_global", "bnbq_k_embed_bwd",
    NULL
};

/* Whether this context compiles kernel fast first: 0 no, 1 fast then the full build in the background,
   2 fast only (bnbq__cu_tier_force 2 / 3: tests). */
static int bnbq__cu_tier_listed(const char* kernel) {   /* (bench_compile --tiered asks too) */
    const char* const* k;
    for (k = bnbq__cu_tiered_kernels; *k; k++)
        if (strcmp(*k, kernel) == 0) return 1;
    return 0;
}
static int bnbq__cu_tier_mode(const bnbq_cuda* c, const char* kernel) {
    if (!c->tier_on) return 0;
    if (c->tier_force == 1) return 1;
    if (c->tier_force == 2) return 2;
    if (!bnbq__cu_tier_listed(kernel)) return 0;
    return c->tier_force == 3 ? 2 : 1;
}

/* Loads kernel `kernel` of the variant (unit, defines): from the disk cache, else compiled with
   NVRTC (and written to the cache); then resolves the function (and loads it, cuFuncLoad).
   *out_fast: 0, or the tier mode (bnbq__cu_tier_mode) of a fast build (1: its full build is to be queued).
   Context pushed, lock held. */
static bnbq_result bnbq__cu_load_kernel(bnbq_cuda* c, const char* unit, const char* defines, const char* kernel,
                                        bnbq__CUmodule* out_mod, bnbq__CUfunction* out_fn, int* out_fast) {
    static const char* fn = "bnbq_cuda";
    char opt_buf[1024], key[2048];
    const char* opts[24];
    int nopts, found = 0;
    uint64_t src_hash = 0;
    size_t src_len = 0;
    bnbq__CUmodule mod = NULL;
    bnbq__CUresult e;
    bnbq_result r = BNBQ_SUCCESS;
    double t0 = bnbq__now(), t1;
    if (!bnbq__variant_known(unit, defines) || !bnbq__cu_kernel_known(unit, kernel)) {
        bnbq_log(&c->log_ex, BNBQ_LOG_ERROR, fn, "kernel %s of variant %s [%s] is not registered", kernel, unit,
                 defines);
        return BNBQ_ERROR_NOT_SUPPORTED;
    }
    if (bnbq__cu_src_hash(c, unit, &src_hash, &src_len) != 0) return BNBQ_ERROR_OUT_OF_MEMORY;
    /* 1. the disk cache: the target; when that misses before NVRTC was looked for, NVRTC decides
       the target (the same, or PTX for an older architecture); without NVRTC, any image that can
       run on this device */
    {
        static const int ptx_archs[] = { 120, 100, 90, 89, 87, 86, 80, 75 };
        int dev = c->info.cc_major * 10 + c->info.cc_minor;
        int tries[32][2], nt = 0, t = 0, fallbacks = 0, k, a;
        tries[nt][0] = c->target_arch; tries[nt][1] = c->target_ptx; nt++;
        while (t < nt && !found && r == BNBQ_SUCCESS) {
            int dup = 0;
            for (k = 0; k < t; k++) dup |= tries[k][0] == tries[t][0] && tries[k][1] == tries[t][1];
            if (!dup) {
                double tk = bnbq__now();
                nopts = bnbq__cu_options(defines, kernel, tries[t][0], tries[t][1], opt_buf, sizeof opt_buf, opts, 24);
                if (nopts < 0 || bnbq__cu_key(unit, kernel, src_hash, src_len, opts, nopts, tries[t][0], tries[t][1],
                                              key, sizeof key) != 0) {
                    r = BNBQ_ERROR_INVALID_ARGS;
                    break;
                }
                c->timing.key += bnbq__now() - tk;
                found = bnbq__try_cached(c, key, tries[t][1] ? BNBQ__KIND_PTX : BNBQ__KIND_CUBIN, tries[t][0], &mod);
            }
            t++;
            if (found || t < nt) continue;
            if (!c->nvrtc_resolved) {
                bnbq__cu_resolve_nvrtc(c);
                tries[nt][0] = c->target_arch; tries[nt][1] = c->target_ptx; nt++;
            } else if (!c->nvrtc_ok && !fallbacks) {
                fallbacks = 1;
                for (a = dev - 1; a >= c->info.cc_major * 10 && nt < 12; a--) {   /* same-major cubins */
                    tries[nt][0] = a; tries[nt][1] = 0; nt++;
                }
                for (a = dev; a >= 50 && nt < 32; a--)                               /* PTX at or below */
                    for (k = 0; k < 8; k++)
                        if (ptx_archs[k] == a) { tries[nt][0] = a; tries[nt][1] = 1; nt++; }
            }
        }
    }
    /* 2. NVRTC */
    if (!found && r == BNBQ_SUCCESS) {
        unsigned char* img = NULL;
        size_t len = 0;
        double secs = 0.0;
        char* program;
        if (!c->nvrtc_ok) {
            bnbq_log(&c->log_ex, BNBQ_LOG_ERROR, fn, "kernel %s of %s [%s] is not in the cache and NVRTC %s",
                     kernel, unit, defines, c->nvrtc_missing == BNBQ_ERROR_NVRTC_TOO_OLD
                                                ? "does not know this GPU" : "is not available");
            return c->nvrtc_missing;
        }
        program = bnbq__cu_program_text(unit);
        if (!program) return BNBQ_ERROR_OUT_OF_MEMORY;
        nopts = bnbq__cu_options(defines, kernel, c->target_arch, c->target_ptx, opt_buf, sizeof opt_buf, opts, 24);
        bnbq__cu_key(unit, kernel, src_hash, src_len, opts, nopts, c->target_arch, c->target_ptx, key, sizeof key);
        const int tier = bnbq__cu_tier_mode(c, kernel);
        if (tier && nopts > 0 && nopts < 24) {
            /* tiered: the fast build now (not cached: the disk cache holds full builds only); a failure of
               it (silent: this NVRTC may not take the option) or of its load falls through to the full build
               and ends tiering for the context */
            bnbq_exec quiet = c->log_ex;
            quiet.logger.func = NULL;
            opts[nopts] = bnbq__cu_fast_opt;
            if (bnbq__nvrtc_compile(&quiet, unit, program, opts, nopts + 1, c->target_ptx, &img, &len,
                                    &secs) == BNBQ_SUCCESS) {
                c->stats.compile_seconds += secs;
                if (BNBQ__DRV.bnbq__cuModuleLoadData(&mod, img) == BNBQ__CUDA_SUCCESS) {
                    c->stats.units_compiled++;
                    c->stats.units_fast++;
                    *out_fast = tier;
                    found = 2;
                }
                free(img);
                img = NULL;
            }
            if (found != 2) {
                c->tier_on = 0;
                bnbq_log(&c->log_ex, BNBQ_LOG_INFO, fn, "the fast build of %s [%s] %s failed: no tiered compilation "
                         "in this context", unit, defines, kernel);
            }
        }
        if (!found) r = bnbq__nvrtc_compile(&c->log_ex, unit, program, opts, nopts, c->target_ptx, &img, &len, &secs);
        free(program);
        if (r == BNBQ_SUCCESS && !found) {
            c->stats.units_compiled++;
            c->stats.compile_seconds += secs;
            e = BNBQ__DRV.bnbq__cuModuleLoadData(&mod, img);
            if (e != BNBQ__CUDA_SUCCESS) {
                r = bnbq__cu_check(&c->log_ex, fn, "cuModuleLoadData", e);
            } else if (c->cache_dir[0]) {
                char name[40];
                bnbq__cache_name(key, name);
                if (bnbq__cache_write(c->cache_dir, name, key, c->target_ptx ? BNBQ__KIND_PTX : BNBQ__KIND_CUBIN,
                                      c->target_arch, BNBQ__NV.version, c->info.driver_version, img, len) != 0 &&
                    !c->warned_cache_write) {
                    c->warned_cache_write = 1;
                    bnbq_log(&c->log_ex, BNBQ_LOG_WARN, fn, "cannot write the kernel cache in %s",
                             c->cache_dir);
                }
            }
            free(img);
        }
    }
    if (r != BNBQ_SUCCESS) return r;
    /* 3. the function; its code goes to the GPU now (cuFuncLoad), not inside its first launch */
    t1 = bnbq__now();
    e = BNBQ__DRV.bnbq__cuModuleGetFunction(out_fn, mod, kernel);
    c->timing.getfn += bnbq__now() - t1;
    if (e != BNBQ__CUDA_SUCCESS) {
        r = bnbq__cu_check(&c->log_ex, fn, "cuModuleGetFunction", e);
        BNBQ__DRV.bnbq__cuModuleUnload(mod);
        return r;
    }
    if (bnbq__cu_func_load && BNBQ__DRV.bnbq__cuFuncLoad) {
        t1 = bnbq__now();
        (void)BNBQ__DRV.bnbq__cuFuncLoad(*out_fn);   /* a real problem shows at the launch */
        c->timing.funcload += bnbq__now() - t1;
    }
    if (found == 1) c->stats.load_seconds += bnbq__now() - t0;
    *out_mod = mod;
    return BNBQ_SUCCESS;
}

/* ---- tiered compilation: the background thread ---- */

static void bnbq__q_wait(bnbq_cuda* c) {   /* qlock held */
#if defined(_WIN32)
    SleepConditionVariableSRW(&c->qcond, &c->qlock, INFINITE, 0);
#else
    pthread_cond_wait(&c->qcond, &c->qlock);
#endif
}
static void bnbq__q_wake(bnbq_cuda* c) {
#if defined(_WIN32)
    WakeAllConditionVariable(&c->qcond);
#else
    pthread_cond_broadcast(&c->qcond);
#endif
}

/* The full build of a job: NVRTC with the unit's own options (no lock held), then the disk cache entry.
   Returns the malloc'd image or NULL. Reads only constant context fields (target, cache_dir, desc). */
static unsigned char* bnbq__cu_job_build(bnbq_cuda* c, const bnbq__cu_job* j, double* seconds) {
    char opt_buf[1024], key[2048];
    const char* opts[24];
    unsigned char* img = NULL;
    size_t len = 0, src_len = 0;
    uint64_t src_hash = 0;
    char* program = bnbq__cu_program_text_len(j->unit, &src_len);
    int nopts;
    if (!program) return NULL;
    src_hash = bnbq__sum64(program, src_len);
    nopts = bnbq__cu_options(j->defines, j->kernel, c->target_arch, c->target_ptx, opt_buf, sizeof opt_buf, opts, 24);
    if (nopts > 0 && bnbq__cu_key(j->unit, j->kernel, src_hash, src_len, opts, nopts, c->target_arch, c->target_ptx,
                                  key, sizeof key) == 0 &&
        bnbq__nvrtc_compile(&c->log_ex, j->unit, program, opts, nopts, c->target_ptx, &img, &len, seconds) ==
            BNBQ_SUCCESS &&
        c->cache_dir[0]) {
        char name[40];
        bnbq__cache_name(key, name);
        (void)bnbq__cache_write(c->cache_dir, name, key, c->target_ptx ? BNBQ__KIND_PTX : BNBQ__KIND_CUBIN,
                                c->target_arch, BNBQ__NV.version, c->info.driver_version, img, len);
    }
    free(program);
    return img;
}

/* The worker: builds queued jobs in order until the context stops it. */
static void bnbq__cu_worker_loop(bnbq_cuda* c) {
    bnbq__q_lock(c);
    for (;;) {
        bnbq__cu_job* j = c->jobs;
        unsigned char* img;
        double secs = 0.0;
        while (j && j->state != BNBQ__JOB_QUEUED) j = j->next;
        if (c->tier_stop) break;
        if (!j) { bnbq__q_wait(c); continue; }
        j->state = BNBQ__JOB_RUNNING;
        bnbq__q_unlock(c);
        img = bnbq__cu_job_build(c, j, &secs);
        bnbq__q_lock(c);
        j->img = img;
        j->seconds = secs;
        j->state = img ? BNBQ__JOB_DONE : BNBQ__JOB_FAILED;
        bnbq__q_wake(c);
    }
    bnbq__q_unlock(c);
}
#if defined(_WIN32)
static DWORD WINAPI bnbq__cu_worker(LPVOID arg) { bnbq__cu_worker_loop((bnbq_cuda*)arg); return 0; }
#else
static void* bnbq__cu_worker(void* arg) { bnbq__cu_worker_loop((bnbq_cuda*)arg); return NULL; }
#endif

/* Queues the full build of (unit, defines, kernel); starts the worker on first use. Without a thread the
   full build is made here (and tiering ends for the context). NULL when there is no memory (the caller
   then keeps the fast build: the same results). Lock held. */
static bnbq__cu_job* bnbq__cu_job_add(bnbq_cuda* c, const char* unit, const char* defines, const char* kernel) {
    size_t lu = strlen(unit) + 1, ld = strlen(defines) + 1, lk = strlen(kernel) + 1;
    bnbq__cu_job* j = (bnbq__cu_job*)calloc(1, sizeof *j);
    bnbq__cu_job** tail;
    if (!j) return NULL;
    j->unit = (char*)malloc(lu + ld + lk);
    if (!j->unit) { free(j); return NULL; }
    memcpy(j->unit, unit, lu);
    j->defines = j->unit + lu;
    memcpy(j->defines, defines, ld);
    j->kernel = j->defines + ld;
    memcpy(j->kernel, kernel, lk);
    j->state = BNBQ__JOB_QUEUED;
    if (c->worker_state == 0) {
        if (bnbq__cu_no_thread) {
            c->worker_state = -1;
        } else {
#if defined(_WIN32)
            c->worker = CreateThread(NULL, 0, bnbq__cu_worker, c, 0, NULL);
            c->worker_state = c->worker ? 1 : -1;
#else
            c->worker_state = pthread_create(&c->worker, NULL, bnbq__cu_worker, c) == 0 ? 1 : -1;
#endif
        }
        if (c->worker_state < 0)
            bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda",
                     "no background thread: full builds from here on, compiled before their first launch");
    }
    if (c->worker_state < 0) {   /* the full build now; the next lookup puts it in place */
        c->tier_on = 0;
        j->img = bnbq__cu_job_build(c, j, &j->seconds);
        j->state = j->img ? BNBQ__JOB_DONE : BNBQ__JOB_FAILED;
        bnbq__q_lock(c);
        j->next = c->jobs;
        c->jobs = j;
        bnbq__q_unlock(c);
        return j;
    }
    bnbq__q_lock(c);
    for (tail = &c->jobs; *tail; tail = &(*tail)->next) {}
    *tail = j;
    bnbq__q_wake(c);
    bnbq__q_unlock(c);
    return j;
}

static void bnbq__cu_job_free(bnbq__cu_job* j) {
    free(j->img);
    free(j->unit);
    free(j);
}

/* Puts m's full build in place when its job has ended (context pushed, lock held): the new module and
   function replace the fast ones; the fast module stays loaded until the context ends (m->fast_module:
   queued launches and captured graphs may use it). A failed build or load keeps the fast one. Allocates
   no host memory through the context's allocator (only the driver's module load). */
static void bnbq__cu_tier_take(bnbq_cuda* c, bnbq__cu_module* m) {
    bnbq__cu_job *j = m->job, **pp;
    int st;
    bnbq__q_lock(c);
    st = j->state;
    if (st == BNBQ__JOB_DONE || st == BNBQ__JOB_FAILED)
        for (pp = &c->jobs; *pp; pp = &(*pp)->next)
            if (*pp == j) { *pp = j->next; break; }
    bnbq__q_unlock(c);
    if (st != BNBQ__JOB_DONE && st != BNBQ__JOB_FAILED) return;
    m->job = NULL;
    if (st == BNBQ__JOB_DONE) {
        bnbq__CUmodule mod = NULL;
        bnbq__CUfunction f = NULL;
        bnbq__CUresult e = BNBQ__DRV.bnbq__cuModuleLoadData(&mod, j->img);
        if (e == BNBQ__CUDA_SUCCESS) {
            e = BNBQ__DRV.bnbq__cuModuleGetFunction(&f, mod, m->kernel);
            if (e != BNBQ__CUDA_SUCCESS) BNBQ__DRV.bnbq__cuModuleUnload(mod);
        }
        if (e == BNBQ__CUDA_SUCCESS) {   /* no host allocation here: a steady-state call may end up in it */
            if (bnbq__cu_func_load && BNBQ__DRV.bnbq__cuFuncLoad) (void)BNBQ__DRV.bnbq__cuFuncLoad(f);
            m->fast_module = m->module;
            m->module = mod;
            m->fn = f;
            c->stats.units_upgraded++;
            c->stats.background_seconds += j->seconds;
        } else {
            bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda", "the full build of %s [%s] %s could not be loaded (%s): "
                     "its fast build stays", m->unit, m->defines, m->kernel, bnbq__cu_errname(e));
        }
    } else {
        bnbq_log(&c->log_ex, BNBQ_LOG_WARN, "bnbq_cuda", "the full build of %s [%s] %s failed: its fast build stays",
                 m->unit, m->defines, m->kernel);
    }
    bnbq__cu_job_free(j);
}

/* Whether a job is queued or under way (qlock held): the worker wakes the waiters as each one ends. */
static int bnbq__cu_jobs_busy(const bnbq_cuda* c) {
    const bnbq__cu_job* j;
    for (j = c->jobs; j; j = j->next)
        if (j->state == BNBQ__JOB_QUEUED || j->state == BNBQ__JOB_RUNNING) return 1;
    return 0;
}

BNBQ_API bnbq_result bnbq_cuda_finish_compiles(bnbq_cuda* c) {
    bnbq_result r;
    int i;
    if (!c) return BNBQ_ERROR_NULL_POINTER;
    bnbq__q_lock(c);
    while (bnbq__cu_jobs_busy(c)) bnbq__q_wait(c);
    bnbq__q_unlock(c);
    r = bnbq__push(c, "bnbq_cuda_finish_compiles");
    if (r != BNBQ_SUCCESS) return r;
    bnbq__ctx_lock(c);
    for (i = 0; i < c->num_modules; i++)
        if (c->modules[i].job) bnbq__cu_tier_take(c, &c->modules[i]);
    bnbq__ctx_unlock(c);
    bnbq__pop();
    return BNBQ_SUCCESS;
}

/* FNV-1a of unit, defines and kernel (with separators): the module table's first comparison. */
static uint64_t bnbq__cu_fn_hash(const char* unit, const char* defines, const char* kernel) {
    uint64_t h = bnbq__fnv64(BNBQ__FNV_BASIS, unit, strlen(unit) + 1);
    h = bnbq__fnv64(h, defines, strlen(defines) + 1);
    return bnbq__fnv64(h, kernel, strlen(kernel));
}

/* The kernel `kernel` of variant (unit, defines), compiled or loaded on first use. The context must
   be pushed. Thread safety: takes the context lock. */
static bnbq_result bnbq__cu_kernel(bnbq_exec* ex, const char* unit, const char* defines,
                                   const char* kernel, bnbq__CUfunction* out) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq_result r = BNBQ_SUCCESS;
    uint64_t h;
    int i;
    if (!defines) defines = "";
    h = bnbq__cu_fn_hash(unit, defines, kernel);
    bnbq__ctx_lock(c);
    for (i = 0; i < c->num_modules; i++) {
        const bnbq__cu_module* m = &c->modules[i];
        if (m->hash == h && strcmp(m->kernel, kernel) == 0 && strcmp(m->defines, defines) == 0 &&
            strcmp(m->unit, unit) == 0) {
            if (m->job) bnbq__cu_tier_take(c, &c->modules[i]);
            *out = m->fn;
            bnbq__ctx_unlock(c);
            return BNBQ_SUCCESS;
        }
    }
    if (c->num_modules == c->cap_modules) {
        int cap = c->cap_modules ? c->cap_modules * 2 : 32;
        bnbq__cu_module* m = (bnbq__cu_module*)bnbq_host_alloc(&c->log_ex, (size_t)cap * sizeof *m);
        if (!m) r = BNBQ_ERROR_OUT_OF_MEMORY;
        else {
            if (c->modules) memcpy(m, c->modules, (size_t)c->num_modules * sizeof *m);
            bnbq_host_free(&c->log_ex, c->modules);
            c->modules = m;
            c->cap_modules = cap;
        }
    }
    if (r == BNBQ_SUCCESS) {
        size_t lu = strlen(unit) + 1, ld = strlen(defines) + 1, lk = strlen(kernel) + 1;
        char* names = (char*)bnbq_host_alloc(&c->log_ex, lu + ld + lk);
        bnbq__CUmodule mod = NULL;
        bnbq__CUfunction f = NULL;
        int fast = 0;
        if (!names) r = BNBQ_ERROR_OUT_OF_MEMORY;
        else r = bnbq__cu_load_kernel(c, unit, defines, kernel, &mod, &f, &fast);
        if (r == BNBQ_SUCCESS) {
            bnbq__cu_module* m = &c->modules[c->num_modules++];
            m->job = fast == 1 ? bnbq__cu_job_add(c, unit, defines, kernel) : NULL;
            m->fast_module = NULL;
            memcpy(names, unit, lu);
            memcpy(names + lu, defines, ld);
            memcpy(names + lu + ld, kernel, lk);
            m->hash = h;
            m->unit = names;
            m->defines = names + lu;
            m->kernel = names + lu + ld;
            m->module = mod;
            m->fn = f;
            *out = f;
        } else {
            bnbq_host_free(&c->log_ex, names);
        }
    }
    bnbq__ctx_unlock(c);
    return r;
}

/* Lets kernel f take `bytes` of dynamic shared memory (needed past the 48 KB a block gets by default). */
static bnbq_result bnbq__cu_allow_smem(bnbq_exec* ex, const char* func, bnbq__CUfunction f, unsigned bytes) {
    return bnbq__cu_check(ex, func, "cuFuncSetAttribute",
                          BNBQ__DRV.bnbq__cuFuncSetAttribute(f, (bnbq__CUfuncattr)BNBQ__FATTR_MAX_DYNAMIC_SHARED,
                                                             (int)bytes));
}

/* Launches on the exec's stream; gx blocks of bx threads (gy rows of blocks), smem dynamic bytes. */
static bnbq_result bnbq__cu_launch(bnbq_exec* ex, const char* func, bnbq__CUfunction f,
                                   unsigned gx, unsigned gy, unsigned bx, unsigned smem, void** args) {
    if (gx == 0 || gy == 0) return BNBQ_SUCCESS;
    return bnbq__cu_check(ex, func, "cuLaunchKernel",
                          BNBQ__DRV.bnbq__cuLaunchKernel(f, gx, gy, 1, bx, 1, 1, smem,
                                                         (bnbq__CUstream)ex->stream, args, NULL));
}

/* bnbq__cu_launch for a kernel that follows another of the same operation on the stream (sm_90+ with
   cuLaunchKernelEx): a programmatic dependent launch, so that the GPU may start it while the kernel
   before it finishes. The kernel must execute bnbq_pdl_wait() (prelude.cuh) before it touches
   anything the kernels before it write; it may read what only earlier operations wrote (they were
   complete when the first kernel of this operation, a plain launch, started). The kernel before it
   may release it early with bnbq_pdl_release(). Elsewhere a plain launch (bnbq_pdl_wait is then a
   no-op). */
static int bnbq__cu_pdl_off = 0;   /* bench_gpu's switch */
static bnbq_result bnbq__cu_launch_pdl(bnbq_exec* ex, const char* func, bnbq__CUfunction f,
                                       unsigned gx, unsigned gy, unsigned bx, unsigned smem,
                                       void** args) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq__CUlaunchConfig cfg;
    bnbq__CUlaunchAttr at;
    bnbq__CUresult e;
    int one = 1;
    if (gx == 0 || gy == 0) return BNBQ_SUCCESS;
    if (bnbq__cu_pdl_off || c->pdl_off || !BNBQ__DRV.bnbq__cuLaunchKernelEx || c->target_arch < 90 ||
        c->target_ptx)
        return bnbq__cu_launch(ex, func, f, gx, gy, bx, smem, args);
    memset(&cfg, 0, sizeof cfg);
    memset(&at, 0, sizeof at);
    at.id = BNBQ__CU_ATTR_ID(BNBQ__CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
    memcpy(&at.value, &one, sizeof one);   /* programmaticStreamSerializationAllowed */
    cfg.gridDimX = gx; cfg.gridDimY = gy; cfg.gridDimZ = 1;
    cfg.blockDimX = bx; cfg.blockDimY = 1; cfg.blockDimZ = 1;
    cfg.sharedMemBytes = smem;
    cfg.hStream = (bnbq__CUstream)ex->stream;
    cfg.attrs = &at;
    cfg.numAttrs = 1;
    e = BNBQ__DRV.bnbq__cuLaunchKernelEx(&cfg, f, args, NULL);
    if (e == BNBQ__CUDA_SUCCESS) return BNBQ_SUCCESS;
    /* a driver or setting that refuses the attribute: plain launches from now on (the kernels'
       bnbq_pdl_wait is then a no-op); a launch that is wrong in itself fails again below */
    bnbq_log(ex, BNBQ_LOG_WARN, func, "cuLaunchKernelEx (programmatic dependent launch) failed (%s): "
             "plain launches from now on", bnbq__cu_errname(e));
    c->pdl_off = 1;
    return bnbq__cu_launch(ex, func, f, gx, gy, bx, smem, args);
}

/* A grid for n independent items at `per_block` items per block, capped for grid-stride loops. */
static unsigned bnbq__grid(bnbq_cuda* c, size_t n, size_t per_block) {
    size_t g = n / per_block + (n % per_block != 0);
    size_t cap = (size_t)(c->info.sm_count > 0 ? c->info.sm_count : 80) * 32;
    if (g > cap) g = cap;
    return (unsigned)(g ? g : 1);
}

/* ---- precompile --------------------------------------------------------------------------------- */

#define BNBQ__MAX_UNIT_KERNELS 64

/* One (architecture, variant) pair of bnbq_cuda_precompile: its counts and its last error. */
typedef struct bnbq__pc_item {
    int         arch, variant, unknown_arch;
    int         units, compiled, failed, written, io_failed;
    double      seconds, max_unit_seconds;
    bnbq_result result;
} bnbq__pc_item;
typedef struct bnbq__pc_task {
    const bnbq_cuda_precompile_desc* desc;
    const bnbq_exec* log_ex;
    const char*      dir;
    bnbq__pc_item*   items;
    size_t           count, next;   /* next: the next pair to take (under the global lock) */
} bnbq__pc_task;

/* Lists and compiles the kernels of one pair (and writes them unless dry_run). */
static void bnbq__pc_one(const bnbq__pc_task* t, bnbq__pc_item* it) {
    static const char* fn = "bnbq_cuda_precompile";
    const bnbq_cuda_precompile_desc* desc = t->desc;
    const bnbq__cu_variant* var = bnbq__cu_variant_at(it->variant);
    const char* kernels[BNBQ__MAX_UNIT_KERNELS];
    size_t plen = 0;
    double secs = 0.0;
    uint64_t src_hash;
    int nk, k, arch = it->arch;
    char* program = bnbq__cu_program_text_len(var->unit, &plen);
    if (!program) { it->failed++; it->result = BNBQ_ERROR_NOT_SUPPORTED; return; }
    src_hash = bnbq__sum64(program, plen);
    nk = bnbq__cu_list_kernels(t->log_ex, var->unit, var->defines, arch, program, kernels,
                               BNBQ__MAX_UNIT_KERNELS, &secs);
    it->seconds += secs;
    if (nk <= 0) {
        if (nk == 0)
            bnbq_log(t->log_ex, BNBQ_LOG_ERROR, fn, "variant %s [%s] defines no kernel for sm_%d",
                     var->unit, var->defines, arch);
        it->failed++;
        it->result = BNBQ_ERROR_COMPILE_FAILED;
        free(program);
        return;
    }
    for (k = 0; k < nk; k++) {
        char opt_buf[1024], key[2048];
        const char* opts[24];
        unsigned char* img = NULL;
        size_t len = 0;
        int nopts;
        bnbq_result r;
        it->units++;
        secs = 0.0;
        nopts = bnbq__cu_options(var->defines, kernels[k], arch, desc->emit_ptx, opt_buf, sizeof opt_buf, opts, 24);
        r = (nopts < 0 || bnbq__cu_key(var->unit, kernels[k], src_hash, plen, opts, nopts, arch, desc->emit_ptx,
                                       key, sizeof key) != 0)
                ? BNBQ_ERROR_INVALID_ARGS
                : bnbq__nvrtc_compile(t->log_ex, var->unit, program, opts, nopts, desc->emit_ptx, &img, &len, &secs);
        if (r == BNBQ_SUCCESS) {
            it->compiled++;
            it->seconds += secs;
            if (secs > it->max_unit_seconds) it->max_unit_seconds = secs;
            if (!desc->dry_run) {
                char name[40];
                bnbq__cache_name(key, name);
                if (bnbq__cache_write(t->dir, name, key, desc->emit_ptx ? BNBQ__KIND_PTX : BNBQ__KIND_CUBIN,
                                      arch, BNBQ__NV.version, 0, img, len) == 0)
                    it->written++;
                else {
                    it->io_failed = 1;   /* logged once, by the caller */
                    it->result = BNBQ_ERROR_IO;
                }
            }
        } else {
            it->failed++;
            it->result = r == BNBQ_ERROR_INVALID_ARGS ? r : BNBQ_ERROR_COMPILE_FAILED;
        }
        free(img);
    }
    free(program);
}

/* A worker of the parallel-for: takes the next pair until none is left (whatever range it was
   given, so that the pairs, of very different sizes, spread over the threads as they finish). */
static void bnbq__pc_run(void* task, size_t begin, size_t end) {
    bnbq__pc_task* t = (bnbq__pc_task*)task;
    (void)begin;
    (void)end;
    for (;;) {
        size_t i;
        bnbq__global_lock();
        i = t->next < t->count ? t->next++ : t->count;
        bnbq__global_unlock();
        if (i >= t->count) return;
        if (!t->items[i].unknown_arch) bnbq__pc_one(t, &t->items[i]);
    }
}

BNBQ_API bnbq_result bnbq_cuda_precompile(const bnbq_cuda_precompile_desc* desc,
                                          bnbq_cuda_precompile_report* out_report) {
    static const char* fn = "bnbq_cuda_precompile";
    bnbq_cuda_precompile_report rep;
    bnbq_exec log_ex;
    bnbq_cpu_desc cd;
    bnbq__pc_task task;
    char dir[1024];
    bnbq_result r, result = BNBQ_SUCCESS;
    size_t i, n = 0, nv;
    int a, v, io_logged = 0;
    memset(&rep, 0, sizeof rep);
    if (out_report) *out_report = rep;
    if (!desc) return BNBQ_ERROR_NULL_POINTER;
    memset(&cd, 0, sizeof cd);
    cd.logger = desc->logger;
    bnbq_cpu_exec_init(&log_ex, &cd);
    if (!desc->archs || desc->num_archs <= 0) {
        bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "no architectures given");
        return BNBQ_ERROR_INVALID_ARGS;
    }
    dir[0] = 0;
    if (!desc->dry_run && bnbq__cache_dir(desc->cache_dir, dir, sizeof dir) != 0) {
        bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "no cache directory");
        return BNBQ_ERROR_INVALID_ARGS;
    }
    bnbq__global_lock();
    r = bnbq__load_nvrtc(&log_ex, desc->nvrtc_path);
    bnbq__global_unlock();
    if (r != BNBQ_SUCCESS) {
        bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "precompiling needs NVRTC");
        return r;
    }
    rep.variants = bnbq__cu_num_variants();
    nv = (size_t)rep.variants;
    memset(&task, 0, sizeof task);
    /* the pairs in the serial order (architecture-major); an unknown architecture is one entry */
    task.items = (bnbq__pc_item*)calloc((size_t)desc->num_archs * (nv ? nv : 1), sizeof *task.items);
    if (!task.items) return BNBQ_ERROR_OUT_OF_MEMORY;
    for (a = 0; a < desc->num_archs; a++) {
        int arch = desc->archs[a], known = 0, k;
        for (k = 0; k < BNBQ__NV.num_archs; k++) if (BNBQ__NV.archs[k] == arch) known = 1;
        if (!known) {
            bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "NVRTC %d.%d does not know sm_%d",
                     BNBQ__NV.version / 1000, BNBQ__NV.version % 1000 / 10, arch);
            task.items[n].arch = arch;
            task.items[n].unknown_arch = 1;
            task.items[n].failed = (int)nv;
            task.items[n++].result = BNBQ_ERROR_NVRTC_TOO_OLD;
            continue;
        }
        for (v = 0; v < (int)nv; v++) {
            task.items[n].arch = arch;
            task.items[n].variant = v;
            task.items[n++].result = BNBQ_SUCCESS;
        }
    }
    task.desc = desc;
    task.log_ex = &log_ex;
    task.dir = dir;
    task.count = n;
    if (desc->parallel_for && n > 1) desc->parallel_for(desc->parallel_for_user_data, bnbq__pc_run, &task, n);
    else bnbq__pc_run(&task, 0, n);
    for (i = 0; i < n; i++) {   /* in the serial order: the last error is the result, as one after another */
        const bnbq__pc_item* it = &task.items[i];
        rep.units += it->units;
        rep.compiled += it->compiled;
        rep.failed += it->failed;
        rep.written += it->written;
        rep.seconds += it->seconds;
        if (it->max_unit_seconds > rep.max_unit_seconds) rep.max_unit_seconds = it->max_unit_seconds;
        if (it->io_failed && !io_logged) {
            bnbq_log(&log_ex, BNBQ_LOG_ERROR, fn, "cannot write into %s", dir);
            io_logged = 1;
        }
        if (it->result != BNBQ_SUCCESS) result = it->result;
    }
    free(task.items);
    if (out_report) *out_report = rep;
    return result;
}

// >>cuda-ops

#define BNBQ__CU_BEGIN(fname) \
    static const char* bnbq__func = fname; \
    bnbq_cuda* c = (bnbq_cuda*)ex->impl; \
    bnbq_result r = bnbq__push(c, bnbq__func); \
    if (r != BNBQ_SUCCESS) return r
#define BNBQ__CU_END() bnbq__pop(); return r

static bnbq_result bnbq__cu_convert(bnbq_exec* ex, bnbq_dtype src_dt, const void* src, size_t n,
                                    bnbq_dtype dst_dt, void* dst) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_convert");
    r = bnbq__cu_kernel(ex, "convert", "", "bnbq_k_convert", &f);
    if (r == BNBQ_SUCCESS) {
        int sdt = (int)src_dt, ddt = (int)dst_dt;
        unsigned long long nn = n;
        void* args[5];
        args[0] = (void*)&src; args[1] = &sdt; args[2] = &dst; args[3] = &ddt; args[4] = &nn;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, n, 256 * 4), 1, 256, 0, args);
    }
    BNBQ__CU_END();
}

/* ==== quantization ops: blockwise 8-bit, 4-bit, nested statistics, global (owner: cuda-quant) ==== */
/* Each op: static bnbq_result bnbq__cu_<slot>(<the bnbq_backend slot's signature>), then
   #define BNBQ__CU_SLOT_<slot> bnbq__cu_<slot>, and its kernel variants in BNBQ__CU_VARIANTS_QUANT. */
/* Kernels: kernels_src/quant.cu, compiled per group of ops (BNBQ_OPS) and dtype / quant type; the
   blocksize is a kernel argument (log2). The launchers pick the kernel: by the quantizers' table
   mode (mode 1: bnbq_k_*_search, bnbq_k_quant4_exact) and the dequantizers' pointer alignment
   (unaligned: bnbq_k_*_any). Code tables are host memory: they travel by value in
   these structs, laid out exactly as the kernels' bnbq_code256 / bnbq_code16 / bnbq_q4tab. */
#define BNBQ__CUQ_BW0 "BNBQ_OPS=1 BNBQ_DT=0"
#define BNBQ__CUQ_BW1 "BNBQ_OPS=1 BNBQ_DT=1"
#define BNBQ__CUQ_BW2 "BNBQ_OPS=1 BNBQ_DT=2"
#define BNBQ__CUQ_GL0 "BNBQ_OPS=2 BNBQ_DT=0"
#define BNBQ__CUQ_GL1 "BNBQ_OPS=2 BNBQ_DT=1"
#define BNBQ__CUQ_GL2 "BNBQ_OPS=2 BNBQ_DT=2"
#define BNBQ__CUQ_NE "BNBQ_OPS=3"
#define BNBQ__CUQ_40F "BNBQ_OPS=4 BNBQ_DT=0 BNBQ_QT=0"
#define BNBQ__CUQ_40N "BNBQ_OPS=4 BNBQ_DT=0 BNBQ_QT=1"
#define BNBQ__CUQ_41F "BNBQ_OPS=4 BNBQ_DT=1 BNBQ_QT=0"
#define BNBQ__CUQ_41N "BNBQ_OPS=4 BNBQ_DT=1 BNBQ_QT=1"
#define BNBQ__CUQ_42F "BNBQ_OPS=4 BNBQ_DT=2 BNBQ_QT=0"
#define BNBQ__CUQ_42N "BNBQ_OPS=4 BNBQ_DT=2 BNBQ_QT=1"
#define BNBQ__CU_VARIANTS_QUANT \
    { "quant", BNBQ__CUQ_BW0 }, { "quant", BNBQ__CUQ_BW1 }, { "quant", BNBQ__CUQ_BW2 }, \
    { "quant", BNBQ__CUQ_GL0 }, { "quant", BNBQ__CUQ_GL1 }, { "quant", BNBQ__CUQ_GL2 }, \
    { "quant", BNBQ__CUQ_NE }, \
    { "quant", BNBQ__CUQ_40F }, { "quant", BNBQ__CUQ_40N }, { "quant", BNBQ__CUQ_41F }, \
    { "quant", BNBQ__CUQ_41N }, { "quant", BNBQ__CUQ_42F }, { "quant", BNBQ__CUQ_42N },
static const char* const bnbq__cuq_bw[3] = { BNBQ__CUQ_BW0, BNBQ__CUQ_BW1, BNBQ__CUQ_BW2 };
static const char* const bnbq__cuq_gl[3] = { BNBQ__CUQ_GL0, BNBQ__CUQ_GL1, BNBQ__CUQ_GL2 };
static const char* const bnbq__cuq_4b[3][2] = {   /* [dt][qt]: BNBQ_FP4 = 0, BNBQ_NF4 = 1 */
    { BNBQ__CUQ_40F, BNBQ__CUQ_40N }, { BNBQ__CUQ_41F, BNBQ__CUQ_41N }, { BNBQ__CUQ_42F, BNBQ__CUQ_42N }
};

typedef struct bnbq__cuq_code256 { float v[256]; } bnbq__cuq_code256;
typedef struct bnbq__cuq_code16 { float v[16]; } bnbq__cuq_code16;

#define BNBQ__CUQ_THREADS 256u
#define BNBQ__CUQ_TILE ((size_t)4096)     /* elements per block and step of the quantizers */
/* quantizer blocks per SM: they set their tables up once and loop over tiles, loading the next
   while coding one (-DBNBQ__CUQ_QBLOCKS=N to try others: bench/quant_device.sh does 4 and 8) */
#ifndef BNBQ__CUQ_QBLOCKS
#define BNBQ__CUQ_QBLOCKS 4
#endif

static int bnbq__cuq_al(const void* p, size_t a) { return ((uintptr_t)p % a) == 0; }
static int bnbq__cuq_log2(int bs) {
    int l = 0;
    while (((size_t)1 << l) < (size_t)bs) l++;
    return l;
}
/* tiles blocks, at most per_sm per multiprocessor (the kernels loop over the rest) */
static unsigned bnbq__cuq_grid(const bnbq_cuda* c, size_t tiles, size_t per_sm) {
    size_t cap = (size_t)(c->info.sm_count > 0 ? c->info.sm_count : 80) * per_sm;
    if (tiles > cap) tiles = cap;
    return (unsigned)(tiles ? tiles : 1);
}
/* tiles of the blockwise quantizers: 4096 / bs quantization blocks each */
static size_t bnbq__cuq_qtiles(size_t n, int bs) {
    size_t nb = n / (size_t)bs + (n % (size_t)bs != 0), per = BNBQ__CUQ_TILE / (size_t)bs;
    return nb / per + (nb % per != 0);
}
/* tiles of the dequantizers: 256 threads x 2 (F32) or 4 vectors of 16 output bytes (bq_dq) */
static size_t bnbq__cuq_dtiles(size_t n, bnbq_dtype dt) {
    size_t te = (size_t)BNBQ__CUQ_THREADS * (dt == BNBQ_F32 ? 2 * 4 : 4 * 8);
    return n / te + (n % te != 0);
}
/* The dequantizers' grid: BNBQ__CUQ_DQ_TPB consecutive tiles a block (more when the grid would
   pass its limit). One tile a block measured best (bench/dequant_sweep.sh): blocks start in
   order, so the tiles in flight stay together. */
#define BNBQ__CUQ_DQ_TPB 1
static unsigned bnbq__cuq_dgrid(size_t tiles, unsigned* tpb) {
    size_t t = BNBQ__CUQ_DQ_TPB, g;
    if (tiles / t >= 0x7fffffffu) t = tiles / 0x7fffffffu + 1;
    g = tiles / t + (tiles % t != 0);
    *tpb = (unsigned)t;
    return (unsigned)(g ? g : 1);
}
static void bnbq__cuq_code(bnbq__cuq_code256* cs, const float* code) {
    memcpy(cs->v, code, sizeof cs->v);
}

/* ---- the 8-bit code search as thresholds (host side) ------------------------------------------
   For a sorted NaN-free code (the API validates it), bnbq__code_index(code, x) never decreases
   over the non-NaN floats: its seven steps give p = 2 * #{odd i : code[i] < x} (a search tree over
   the odd entries), and where that p holds the result is p + 1 for x > code[p] and x > mid[p + 1],
   p - 1 for x <= code[p] and x < mid[p] (p > 0), else p: up-sets in x, and p - 1 .. p + 1 lie
   between the neighbouring ranges' values. So f(x) = #{k : kt[k] <= key(x)}, key() the
   order-preserving map of a float to 32 bits (-0 just below +0), with the 255 threshold keys
     kt[p + 1] = min(K>(code[p + 1]) (p < 254), max(K>(code[p]), K>(mid[p + 1])))     p even
     kt[p]     = min(K>(code[p]), max(K>(code[p - 1]), K>=(mid[p])))                  p even >= 2
   where mid[k] = f32(f32(code[k] + code[k - 1]) * 0.5f) as the CPU computes it, K>(v) / K>=(v)
   the first key with x > v / x >= v (a NaN mid: no key / every key, as x < NaN is false).
   f(NaN) = f(-inf) = 0. The kernels find the count with a two-level table: L1 by the top 9 bits of
   x (sign and exponent) gives 2^m sub-buckets by the next m mantissa bits (L2), m chosen per L1
   entry so that each sub-bucket holds at most one step of +1; an L2 entry holds the count at the
   sub-bucket's start (bits 24..31) and the low 23 - m bits of the float just below the step (or,
   with no step, of the sub-bucket's last float for x > 0, its first for x < 0), so the result is
   count + (x > T), T = x's bits above the sub-bucket index and those low bits. The kernels' x is
   a product (or quotient), so a NaN is quiet: +inf's exponent gets m = 1, +inf and then the quiet
   NaNs (count 0); a negative NaN shares -inf's entry (count 0). Codes that need more (a step of 2
   or more inside a bucket, as runs of equal entries give; more than L2CAP entries) get mode 1: the
   kernels binary-search the sorted keys. tests/quant_tables.c checks all this against
   bnbq_code_index on the CPU. */
#define BNBQ__CUQ_L2CAP 736
#define BNBQ__CUQ_NEVER 0xffffffffu
typedef struct bnbq__cuq_q8tab {
    uint32_t mode;                        /* 0: l1 / l2 tables; 1: l2[0..255] = 0, kt[1..255] */
    uint32_t n2;                          /* entries of l2 in use */
    uint16_t l1[512];                     /* base index into l2 << 5 | (23 - m - 2) */
    uint32_t l2[BNBQ__CUQ_L2CAP];         /* count << 24 | low bits of T */
} bnbq__cuq_q8tab;

static uint32_t bnbq__cuq_key(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 31) ? ~u : (u | 0x80000000u);
}
static uint32_t bnbq__cuq_unkey(uint32_t k) { return (k >> 31) ? (k & 0x7fffffffu) : ~k; }
/* first key with x > v (a NaN v: none) */
static uint32_t bnbq__cuq_kgt(float v) {
    if (!(v == v)) return BNBQ__CUQ_NEVER;
    return v == 0.0f ? 0x80000001u : bnbq__cuq_key(v) + 1u;
}
/* first key where x < v is false (x >= v; a NaN v: every key) */
static uint32_t bnbq__cuq_kge(float v) {
    if (!(v == v)) return 0u;
    return v == 0.0f ? 0x7fffffffu : bnbq__cuq_key(v);
}
static uint32_t bnbq__cuq_min(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t bnbq__cuq_max(uint32_t a, uint32_t b) { return a > b ? a : b; }
static float bnbq__cuq_mid(float a, float b) {
    BNBQ__FLT_TMP float s = a + b;
    BNBQ__FLT_TMP float m = s * 0.5f;
    return m;
}
/* kt[0] = 0, kt[1..255] the threshold keys; returns whether they ascend (they always should) */
static int bnbq__cuq_thresholds(const float* c, uint32_t* kt) {
    int k;
    kt[0] = 0;
    for (k = 1; k < 256; k++) {
        if (k & 1) {
            int p = k - 1;
            uint32_t up = p < 254 ? bnbq__cuq_kgt(c[p + 1]) : BNBQ__CUQ_NEVER;
            kt[k] = bnbq__cuq_min(up, bnbq__cuq_max(bnbq__cuq_kgt(c[p]),
                                                     bnbq__cuq_kgt(bnbq__cuq_mid(c[p + 1], c[p]))));
        } else {
            kt[k] = bnbq__cuq_min(bnbq__cuq_kgt(c[k]),
                                  bnbq__cuq_max(bnbq__cuq_kgt(c[k - 1]),
                                                bnbq__cuq_kge(bnbq__cuq_mid(c[k], c[k - 1]))));
        }
        if (kt[k] < kt[k - 1]) return 0;
    }
    return 1;
}
/* The two-level table of `code` into t (mode 0), or its thresholds (mode 1). The L1 ranges and
   their sub-buckets are visited in key order (x < 0 from -inf up, then x >= 0), so the counts
   come from one pointer walking up kt. */
static void bnbq__cuq_q8build(const float* code, bnbq__cuq_q8tab* t) {
    uint32_t kt[257], dval[64];
    int i, n2 = 0, nd = 0, didx[64], c = 0;
    memset(t, 0, sizeof *t);
    if (!bnbq__cuq_thresholds(code, kt)) goto fallback;
    kt[256] = BNBQ__CUQ_NEVER;                /* a sentinel: no key passes it */
    for (i = 0; i < 512; i++) {
        const int j = i < 256 ? 511 - i : i - 256;
        const uint32_t s = (uint32_t)j >> 8, ulo = (uint32_t)j << 23, uhi = ulo | 0x7fffffu;
        const uint32_t k1 = s ? ~ulo : (uhi | 0x80000000u);
        int c0, c1, m = 0, sh, k;
        while (c < 255 && kt[c + 1] <= (s ? ~uhi : (ulo | 0x80000000u))) c++;
        c0 = c1 = c;
        while (c1 < 255 && kt[c1 + 1] <= k1) c1++;
        if (j == 0xff) {                      /* +inf, then the quiet NaNs (code 0) */
            if (n2 + 2 > BNBQ__CUQ_L2CAP) goto fallback;
            t->l1[j] = (uint16_t)((n2 << 5) | 20);
            t->l2[n2++] = ((uint32_t)c0 << 24) | 0x3fffffu;
            t->l2[n2++] = 0x3fffffu;
            continue;
        }
        if (c1 == c0) {                       /* no step: one entry, shared by equal ones */
            const uint32_t v = ((uint32_t)c0 << 24) | (s ? 0u : 0x7fffffu);
            for (k = 0; k < nd && dval[k] != v; k++) {}
            if (k == nd) {
                if (nd == 64 || n2 == BNBQ__CUQ_L2CAP) goto fallback;
                dval[nd] = v;
                didx[nd++] = n2;
                t->l2[n2++] = v;
            }
            t->l1[j] = (uint16_t)((didx[k] << 5) | 21);
            continue;
        }
        for (; m <= 21; m++) {                /* the fewest bits with at most one step per bucket */
            const uint32_t lm = (1u << (23 - m)) - 1u;
            int ok = 1, have = 0;
            uint32_t prev = 0;
            for (k = c0 + 1; k <= c1 && ok; k++) {
                if ((kt[k] & lm) == 0) continue;               /* on a bucket boundary */
                if (kt[k + 1] == kt[k] || (have && (prev | lm) == (kt[k] | lm))) ok = 0;
                prev = kt[k];
                have = 1;
            }
            if (ok) break;
        }
        sh = 23 - m;
        if (m > 21 || n2 + (1 << m) > BNBQ__CUQ_L2CAP) goto fallback;
        t->l1[j] = (uint16_t)((n2 << 5) | (sh - 2));
        for (k = 0; k < (1 << m); k++) {      /* in key order: x < 0 from the top sub-bucket */
            const int sb = s ? (1 << m) - 1 - k : k;
            const uint32_t blo = ulo | ((uint32_t)sb << sh), bhi = blo | ((1u << sh) - 1u);
            const uint32_t ks = s ? ~bhi : (blo | 0x80000000u), ke = s ? ~blo : (bhi | 0x80000000u);
            int lo;
            uint32_t low;
            while (c < 255 && kt[c + 1] <= ks) c++;
            lo = c;
            while (c < 255 && kt[c + 1] <= ke) c++;
            if (c == lo) low = s ? 0u : (1u << sh) - 1u;
            else low = bnbq__cuq_unkey(kt[lo + 1] - 1u) & ((1u << sh) - 1u);
            t->l2[n2 + sb] = ((uint32_t)lo << 24) | low;
        }
        n2 += 1 << m;
    }
    t->mode = 0;
    t->n2 = (uint32_t)n2;
    return;
fallback:
    memset(t, 0, sizeof *t);
    t->mode = 1;
    t->n2 = 256;
    memcpy(t->l2, kt, 256 * sizeof kt[0]);
}

/* ---- the 4-bit quantizers' bucket table (host side; kernels_src/quant.cu bq4_entry) ----------
   Bucket k(v) = round-half-even(32 s), s = sat(f32(v * 0.5 + 0.5)) for NF4, sat(|v|) for FP4 (the
   kernel computes the same with fma.sat and a float whose low bits hold the rounded value). Entry
   k: the one threshold in bucket k (else +inf) and the codes: NF4 lo[k] = #{j : k(thr[j]) < k};
   FP4 bytes c2c[lo], c2c[lo + 1], and both + 8 (x < 0). Mode 1 (two thresholds in a bucket, which
   the fixed tables never have): the kernels count literally over xthr / c2c. */
typedef struct bnbq__cuq_q4tab {
    uint32_t mode;
    float thr[33];
    uint32_t codes[33];
    float xthr[16];
    uint32_t c2c[8];
} bnbq__cuq_q4tab;

static int bnbq__cuq_q4bucket(int nf4, float v) {
    BNBQ__FLT_TMP float s = nf4 ? (float)((double)v * 0.5 + 0.5) : (float)fabs((double)v);
    double k;
    if (!(s > 0.0f)) return 0;                       /* NaN, <= 0 */
    if (s > 1.0f) s = 1.0f;
    k = floor((double)s * 32.0 + 0.5);
    if (k - (double)s * 32.0 == 0.5 && fmod(k, 2.0) != 0.0) k -= 1.0;   /* ties to even */
    return (int)k;
}
static void bnbq__cuq_q4build(bnbq_quant_type qt, bnbq__cuq_q4tab* t) {
    const int nf4 = qt == BNBQ_NF4, nthr = nf4 ? 15 : 7;
    int b[15], j, k;
    memset(t, 0, sizeof *t);
    for (j = 0; j < nthr; j++) {
        t->xthr[j] = nf4 ? bnbq__nf4_thresholds[j] : bnbq__fp4_thresholds[j];
        b[j] = bnbq__cuq_q4bucket(nf4, t->xthr[j]);
    }
    for (j = 0; j < 8; j++) t->c2c[j] = bnbq__fp4_count_to_code[j];
    for (k = 0; k < 33; k++) {
        int lo = 0, in = 0, c0, c1;
        t->thr[k] = (float)HUGE_VAL;
        for (j = 0; j < nthr; j++) {
            lo += b[j] < k;
            if (b[j] == k) { in++; t->thr[k] = t->xthr[j]; }
        }
        if (in > 1) t->mode = 1;
        c0 = nf4 ? lo : (int)t->c2c[lo];
        c1 = nf4 ? lo + 1 : (int)t->c2c[lo < 7 ? lo + 1 : 7];
        t->codes[k] = nf4 ? (uint32_t)c0
                          : (uint32_t)c0 | ((uint32_t)c1 << 8) | ((uint32_t)(c0 | 8) << 16) |
                                ((uint32_t)(c1 | 8) << 24);
    }
}

static bnbq_result bnbq__cu_quantize_blockwise(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                               const void* x, size_t n, int blocksize,
                                               uint8_t* out_q, float* out_absmax) {
    bnbq__CUfunction f;
    bnbq__cuq_q8tab tab;
    BNBQ__CU_BEGIN("bnbq_quantize_blockwise");
    bnbq__cuq_q8build(code, &tab);
    r = bnbq__cu_kernel(ex, "quant", bnbq__cuq_bw[(int)dt],
                        tab.mode ? "bnbq_k_quant8_search" : "bnbq_k_quant8", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long nn = n;
        int lg = bnbq__cuq_log2(blocksize);
        void* args[6];
        args[0] = (void*)&x; args[1] = &nn; args[2] = &lg; args[3] = (void*)&out_q;
        args[4] = (void*)&out_absmax; args[5] = &tab;
        r = bnbq__cu_launch(ex, bnbq__func, f,
                            bnbq__cuq_grid(c, bnbq__cuq_qtiles(n, blocksize), BNBQ__CUQ_QBLOCKS), 1,
                            BNBQ__CUQ_THREADS, 0, args);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_blockwise bnbq__cu_quantize_blockwise

/* the 8-bit dequantizer; bs_log2 63 = one absmax for the whole tensor */
static bnbq_result bnbq__cuq_dequant8(bnbq_exec* ex, const char* func,
                                      const float* code, bnbq_dtype dt, const uint8_t* q,
                                      const float* absmax, size_t n, int bs_log2, void* out) {
    bnbq__CUfunction f;
    int al = bnbq__cuq_al(q, dt == BNBQ_F32 ? 4 : 8) && bnbq__cuq_al(out, 16);
    bnbq_result r = bnbq__cu_kernel(ex, "quant", bnbq__cuq_bw[(int)dt],
                                    al ? "bnbq_k_dequant8" : "bnbq_k_dequant8_any", &f);
    if (r == BNBQ_SUCCESS) {
        bnbq__cuq_code256 cs;
        unsigned long long nn = n;
        unsigned tpb, g = bnbq__cuq_dgrid(bnbq__cuq_dtiles(n, dt), &tpb);
        void* args[7];
        bnbq__cuq_code(&cs, code);
        args[0] = (void*)&q; args[1] = (void*)&absmax; args[2] = &nn; args[3] = &bs_log2;
        args[4] = &out; args[5] = &cs; args[6] = &tpb;
        r = bnbq__cu_launch(ex, func, f, g, 1, BNBQ__CUQ_THREADS, 0, args);
    }
    return r;
}

static bnbq_result bnbq__cu_dequantize_blockwise(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                                 const uint8_t* q, const float* absmax, size_t n,
                                                 int blocksize, void* out) {
    BNBQ__CU_BEGIN("bnbq_dequantize_blockwise");
    r = bnbq__cuq_dequant8(ex, bnbq__func, code, dt, q, absmax, n, bnbq__cuq_log2(blocksize), out);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_dequantize_blockwise bnbq__cu_dequantize_blockwise

static bnbq_result bnbq__cu_quantize_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                          const void* x, size_t n, int blocksize,
                                          uint8_t* out_packed, float* out_absmax) {
    bnbq__CUfunction f;
    bnbq__cuq_q4tab tab;
    BNBQ__CU_BEGIN("bnbq_quantize_4bit");
    bnbq__cuq_q4build(qt, &tab);
    r = bnbq__cu_kernel(ex, "quant", bnbq__cuq_4b[(int)dt][qt == BNBQ_NF4],
                        tab.mode ? "bnbq_k_quant4_exact" : "bnbq_k_quant4", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long nn = n;
        int lg = bnbq__cuq_log2(blocksize);
        void* args[6];
        args[0] = (void*)&x; args[1] = &nn; args[2] = &lg; args[3] = (void*)&out_packed;
        args[4] = (void*)&out_absmax; args[5] = &tab;
        r = bnbq__cu_launch(ex, bnbq__func, f,
                            bnbq__cuq_grid(c, bnbq__cuq_qtiles(n, blocksize), BNBQ__CUQ_QBLOCKS), 1,
                            BNBQ__CUQ_THREADS, 0, args);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_4bit bnbq__cu_quantize_4bit

static bnbq_result bnbq__cu_dequantize_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                            const uint8_t* packed, const float* absmax, size_t n,
                                            int blocksize, void* out) {
    bnbq__CUfunction f;
    int al = bnbq__cuq_al(packed, dt == BNBQ_F32 ? 2 : 4) && bnbq__cuq_al(out, 16);
    BNBQ__CU_BEGIN("bnbq_dequantize_4bit");
    r = bnbq__cu_kernel(ex, "quant", bnbq__cuq_4b[(int)dt][qt == BNBQ_NF4],
                        al ? "bnbq_k_dequant4" : "bnbq_k_dequant4_any", &f);
    if (r == BNBQ_SUCCESS) {
        bnbq__cuq_code16 tab;
        unsigned long long nn = n;
        int lg = bnbq__cuq_log2(blocksize), i;
        unsigned tpb, g = bnbq__cuq_dgrid(bnbq__cuq_dtiles(n, dt), &tpb);
        void* args[7];
        /* bnbq__dequant4's factors: NF4[c], or bnbq_fp4_value(c) (sign from bit 3) */
        for (i = 0; i < 16; i++) tab.v[i] = qt == BNBQ_NF4 ? bnbq__code_nf4[i] : bnbq_fp4_value(i);
        args[0] = (void*)&packed; args[1] = (void*)&absmax; args[2] = &nn; args[3] = &lg;
        args[4] = &out; args[5] = &tab; args[6] = &tpb;
        r = bnbq__cu_launch(ex, bnbq__func, f, g, 1, BNBQ__CUQ_THREADS, 0, args);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_dequantize_4bit bnbq__cu_dequantize_4bit

/* One block of 1024 threads: the double sum's order is bnbq.h's (chunks of 1024 blocks). */
static bnbq_result bnbq__cu_nested_offset(bnbq_exec* ex, const float* absmax, size_t nblocks,
                                          float* out_offset) {
    bnbq__CUfunction f;
    BNBQ__CU_BEGIN("bnbq_nested_offset");
    r = bnbq__cu_kernel(ex, "quant", BNBQ__CUQ_NE, "bnbq_k_nested_offset", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long nn = nblocks;
        void* args[3];
        args[0] = (void*)&absmax; args[1] = &nn; args[2] = (void*)&out_offset;
        r = bnbq__cu_launch(ex, bnbq__func, f, 1, 1, 1024, 0, args);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_nested_offset bnbq__cu_nested_offset

static bnbq_result bnbq__cu_quantize_nested(bnbq_exec* ex, const float* nested_code,
                                            const float* absmax, size_t nblocks,
                                            int nested_blocksize, const float* offset,
                                            uint8_t* out_absmax_q, float* out_nested_absmax) {
    bnbq__CUfunction f;
    bnbq__cuq_q8tab tab;
    BNBQ__CU_BEGIN("bnbq_quantize_nested");
    bnbq__cuq_q8build(nested_code, &tab);
    r = bnbq__cu_kernel(ex, "quant", BNBQ__CUQ_NE,
                        tab.mode ? "bnbq_k_quant_nested_search" : "bnbq_k_quant_nested", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long nn = nblocks;
        int lg = bnbq__cuq_log2(nested_blocksize);
        void* args[7];
        args[0] = (void*)&absmax; args[1] = &nn; args[2] = &lg; args[3] = (void*)&offset;
        args[4] = (void*)&out_absmax_q; args[5] = (void*)&out_nested_absmax; args[6] = &tab;
        r = bnbq__cu_launch(ex, bnbq__func, f,
                            bnbq__cuq_grid(c, bnbq__cuq_qtiles(nblocks, nested_blocksize),
                                           BNBQ__CUQ_QBLOCKS), 1,
                            BNBQ__CUQ_THREADS, 0, args);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_nested bnbq__cu_quantize_nested

static bnbq_result bnbq__cu_dequantize_nested(bnbq_exec* ex, const float* nested_code,
                                              const uint8_t* absmax_q, const float* nested_absmax,
                                              size_t nblocks, int nested_blocksize,
                                              const float* offset, float* out_absmax) {
    bnbq__CUfunction f;
    int al = bnbq__cuq_al(absmax_q, 4) && bnbq__cuq_al(out_absmax, 16);
    BNBQ__CU_BEGIN("bnbq_dequantize_nested");
    r = bnbq__cu_kernel(ex, "quant", BNBQ__CUQ_NE,
                        al ? "bnbq_k_dequant_nested" : "bnbq_k_dequant_nested_any", &f);
    if (r == BNBQ_SUCCESS) {
        bnbq__cuq_code256 cs;
        unsigned long long nn = nblocks;
        int lg = bnbq__cuq_log2(nested_blocksize);
        unsigned tpb, g = bnbq__cuq_dgrid(bnbq__cuq_dtiles(nblocks, BNBQ_F32), &tpb);
        void* args[8];
        bnbq__cuq_code(&cs, nested_code);
        args[0] = (void*)&absmax_q; args[1] = (void*)&nested_absmax; args[2] = &nn; args[3] = &lg;
        args[4] = (void*)&offset; args[5] = (void*)&out_absmax; args[6] = &cs; args[7] = &tpb;
        r = bnbq__cu_launch(ex, bnbq__func, f, g, 1, BNBQ__CUQ_THREADS, 0, args);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_dequantize_nested bnbq__cu_dequantize_nested

/* Three steps on the stream: zero out_absmax, max |x| into it (atomicMax on the bits), codes. */
static bnbq_result bnbq__cu_quantize_global(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                            const void* x, size_t n, uint8_t* out_q,
                                            float* out_absmax) {
    bnbq__CUfunction fa, fq;
    bnbq__cuq_q8tab tab;
    BNBQ__CU_BEGIN("bnbq_quantize_global");
    bnbq__cuq_q8build(code, &tab);
    r = bnbq__cu_kernel(ex, "quant", bnbq__cuq_gl[(int)dt], "bnbq_k_absmax_global", &fa);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "quant", bnbq__cuq_gl[(int)dt],
                            tab.mode ? "bnbq_k_quant_global_search" : "bnbq_k_quant_global", &fq);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_check(ex, bnbq__func, "cuMemsetD8Async",
                           BNBQ__DRV.bnbq__cuMemsetD8Async(BNBQ__DPTR(out_absmax), 0, sizeof(float),
                                                           (bnbq__CUstream)ex->stream));
    if (r == BNBQ_SUCCESS) {
        unsigned long long nn = n;
        size_t tiles = n / BNBQ__CUQ_TILE + (n % BNBQ__CUQ_TILE != 0);
        void* args[5];
        args[0] = (void*)&x; args[1] = &nn; args[2] = (void*)&out_absmax;
        r = bnbq__cu_launch(ex, bnbq__func, fa, bnbq__cuq_grid(c, tiles, 8), 1, BNBQ__CUQ_THREADS, 0,
                            args);
        if (r == BNBQ_SUCCESS) {
            args[0] = (void*)&x; args[1] = &nn; args[2] = (void*)&out_absmax; args[3] = (void*)&out_q;
            args[4] = &tab;
            r = bnbq__cu_launch(ex, bnbq__func, fq, bnbq__cuq_grid(c, tiles, BNBQ__CUQ_QBLOCKS), 1,
                                BNBQ__CUQ_THREADS, 0, args);
        }
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_global bnbq__cu_quantize_global

static bnbq_result bnbq__cu_dequantize_global(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                              const uint8_t* q, const float* absmax, size_t n,
                                              void* out) {
    BNBQ__CU_BEGIN("bnbq_dequantize_global");
    r = bnbq__cuq_dequant8(ex, bnbq__func, code, dt, q, absmax, n, 63, out);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_dequantize_global bnbq__cu_dequantize_global
/* ==== end of quantization ops ==== */

/* ==== int8 / SwitchBack / 4-bit matmul ops (owner: cuda-int8) ==== */
/* Kernels: kernels_src/int8.cu (LLM.int8 quantizers, int8_mm_dequant, SwitchBack rowwise),
   int8mm.cu (int8 GEMMs), switchback.cu (the other SwitchBack quantizers), gemv4.cu (one-token
   4-bit GEMV, one variant per dtype), matmul4.cu (4-bit GEMM, one variant per dtype). Every
   launcher checks which vector widths the shapes and pointer alignments allow and picks the kernel
   (the scalar / byte kernels are the *_any ones; thresholds > 0 have *_thr kernels) or tells it
   (a uniform branch): each kernel compiles alone, so a rare path costs nothing until it is used.
   Outlier columns: see the note at the top of int8.cu (a bitmask at the end of out_outlier_cols,
   compacted in place on the device; no host round trip). */

typedef struct bnbq__cu_code16 { float v[16]; } bnbq__cu_code16;   /* = bnbq_code16 in the kernels */

static int bnbq__cu_al(const void* p, size_t a) { return ((uintptr_t)p % a) == 0; }

/* Threads for one block per row of np pieces: a multiple of 32 from 32 to 256. */
static unsigned bnbq__cu_row_threads(size_t np) {
    if (np >= 256) return 256;
    return np <= 32 ? 32u : (unsigned)((np + 31) / 32 * 32);
}

/* The same for the register-caching row kernels (bnbq_i8_rows, BNBQ_I8_NR = 8 pieces a thread):
   the fewest threads that hold the row, so that many rows are in flight. */
static unsigned bnbq__cu_row_threads8(size_t np) {
    return bnbq__cu_row_threads(np / 8 + (np % 8 != 0));
}

/* SMs of the device (80 when unknown). */
static size_t bnbq__cu_sms(const bnbq_cuda* c) { return (size_t)(c->info.sm_count > 0 ? c->info.sm_count : 80); }

static unsigned bnbq__cu_min_u(size_t a, size_t b) { return (unsigned)(a < b ? a : b); }

static bnbq_result bnbq__cu_memset0(bnbq_exec* ex, const char* func, void* p, size_t bytes) {
    return bnbq__cu_check(ex, func, "cuMemsetD8Async",
                          BNBQ__DRV.bnbq__cuMemsetD8Async(BNBQ__DPTR(p), 0, bytes,
                                                          (bnbq__CUstream)ex->stream));
}

/* Tiles of 64 along a dimension as a grid x size (at most 2^31 - 1). */
static bnbq_result bnbq__cu_tiles_x(bnbq_exec* ex, const char* func, size_t n, unsigned* out) {
    size_t t = n / 64 + (n % 64 != 0);
    if (t > 0x7fffffffu) {
        bnbq_log(ex, BNBQ_LOG_ERROR, func, "N is too large for one launch (%lu tiles)",
                 (unsigned long)t);
        return BNBQ_ERROR_BAD_SHAPE;
    }
    *out = (unsigned)t;
    return BNBQ_SUCCESS;
}

/* How many rows' outlier columns (the first rows to finish their statistics) make the snapshot of
   int8_vectorwise_quant (bnbq_k_int8_vw_rows_smp). */
#define BNBQ__CU_I8_SAMPLE 64
/* The most dynamic shared memory the fix pass takes for its copy of the bitmask (below the 48 KB a
   block has without cuFuncSetAttribute, with its static arrays) */
#define BNBQ__CU_I8_FIXSH (40 * 1024)
static int bnbq__cu_i8_one_256 = 0;   /* (bench switch: bnbq_k_int8_vw_one on 256 threads for every row length) */
static int bnbq__cu_i8_one_ppt = 8;   /* (bench switch: bnbq_k_int8_vw_one's pieces a thread, 1..8, for its block size) */
/* The most dynamic shared memory the snapshot rows pass takes for the snapshot plus one deferred row
   of codes (bnbq_i8_rows8's defer; 4 blocks of it share an SM) */
#define BNBQ__CU_I8_DEFER (40 * 1024)
#define BNBQ__CU_I8_NDEFER 2   /* rows a block may defer (1 or 2; the kernel holds two) */
#define BNBQ__CU_I8_BMS 8      /* the spread of the bitmask's words without the snapshot (below) */
#define BNBQ__CU_I8_BMS_SMP 1  /* with the snapshot too (1; 0: dense there): 4096x14336 on the H100 +0.5-0.8
                                  point, bench/results/gpu-20261122-h100-session12-int8-branches.txt */

static int bnbq__cu_i8_one_off = 0;   /* bench and test switch: the three launches for one row too */
/* Launches the LLM.int8 row pass shared by int8_vectorwise_quant and int8_double_quant's
   outlier handling: init (threshold > 0), rows, fix + compaction (threshold > 0).
   With a threshold, 8-element pieces and room for it in out_outlier_cols (below), the rows pass
   snapshots the outlier columns of the first BNBQ__CU_I8_SAMPLE rows to finish their statistics (any
   rows) and every row written after the snapshot zeroes them itself; a block's rows that start
   before it is out are written after the block's last row (defer: up to BNBQ__CU_I8_NDEFER of them,
   when they fit in BNBQ__CU_I8_DEFER bytes of shared memory with the snapshot), or else marked in
   a bitmap. The fix pass then patches only the marked rows in full, and the columns the snapshot
   missed (kernels_src/int8.cu). Layout of out_outlier_cols (int32 words) until the final compaction
   overwrites it: [cols - nw, cols) the bitmask, [s, s + 64 + nw) with s = cols - 2 nw - 64 the
   counter (s), the row tickets (s + 16), the flag (s + 32) and the snapshot (s + 64),
   [s - ceil(rows / 32), s) the bitmap of rows. */
static bnbq_result bnbq__cu_int8_vectorwise_quant(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                  size_t rows, size_t cols, float threshold,
                                                  int8_t* out_CA, float* out_row_stats,
                                                  int32_t* out_outlier_cols,
                                                  int32_t* out_n_outliers) {
    bnbq__CUfunction f_init = NULL, f_rows = NULL, f_fix = NULL;
    int vec = cols % 8 == 0 && bnbq__cu_al(A, 16) && bnbq__cu_al(out_CA, 8);
    size_t nw_ = (cols + 31) / 32, nrb = (rows + 31) / 32;
    /* threads of a row block; blocks of it an SM holds at 64 registers a thread (at most 32) */
    size_t bt = bnbq__cu_row_threads8(vec ? cols / 8 : cols), per = bnbq__cu_min_u(1024 / bt, 32);
    int smp = vec && threshold > 0.0f && rows > BNBQ__CU_I8_SAMPLE && cols / 4 > nw_ + 16 &&
              cols - 2 * nw_ - 64 > nrb && nw_ <= 8192;
    BNBQ__CU_BEGIN("bnbq_int8_vectorwise_quant");
    if (rows == 1 && vec && threshold > 0.0f && nw_ * 4 <= BNBQ__CU_I8_FIXSH && !bnbq__cu_i8_one_off) {
        /* one row (a decoding step): init, row pass and compaction in one block (bnbq_k_int8_vw_one), the
           bitmask in its dynamic shared memory (measured 1-4 % faster Linear8bitLt at one token on the H100 than
           the bitmask in global memory, bench/results/gpu-20261124-h100-session28-int8-decode.txt); a row too
           long for BNBQ__CU_I8_FIXSH bytes of bitmask takes the three launches below */
        unsigned long long C = cols, nw = nw_;
        void* a[8];
        r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=1", "bnbq_k_int8_vw_one", &f_rows);
        a[0] = (void*)&A; a[1] = &C; a[2] = &threshold; a[3] = (void*)&out_CA; a[4] = (void*)&out_row_stats;
        a[5] = (void*)&out_outlier_cols; a[6] = (void*)&out_n_outliers; a[7] = &nw;
        /* 256 threads, or for rows of more than 256 x 8 pieces of 8 enough (up to 1024) that each holds at most 8 */
        size_t ot = (cols / 8 + (size_t)bnbq__cu_i8_one_ppt - 1) / (size_t)bnbq__cu_i8_one_ppt;
        ot = ot <= 256 ? 256 : ot >= 1024 ? 1024 : (ot + 31) / 32 * 32;
        if (bnbq__cu_i8_one_256) ot = 256;
        if (r == BNBQ_SUCCESS) r = bnbq__cu_launch(ex, bnbq__func, f_rows, 1, 1, (unsigned)ot, (unsigned)(nw_ * 4), a);
        if (r == BNBQ_SUCCESS) {
            bnbq__ctx_lock(c);
            c->i8_one_launches++;
            bnbq__ctx_unlock(c);
        }
        BNBQ__CU_END();
    }
    /* the snapshot only helps the rows that start after the first wave of resident row blocks; the
       snapshot's grid is one such wave (each block copies the snapshot once). Its row blocks of more
       than 128 threads take 256 (4 an SM either way; fewer pieces a thread): 4096x14336 on the H100
       +1 point single and back to back (bench/results/gpu-20261122-h100-session10-int8.txt, D, F) */
    {
        size_t sbt = bt > 128 ? 256 : bt, sper = bnbq__cu_min_u(1024 / sbt, 32);
        smp = smp && rows >= 2 * bnbq__cu_sms(c) * sper;
        if (smp) {
            bt = sbt;
            per = sper;
        }
    }
    (void)dt;
    r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=1",
                        !vec               ? "bnbq_k_int8_vw_rows_any"
                        : smp              ? "bnbq_k_int8_vw_rows_smp"
                        : threshold > 0.0f ? "bnbq_k_int8_vw_rows_thr"
                                           : "bnbq_k_int8_vw_rows", &f_rows);
    if (r == BNBQ_SUCCESS && threshold > 0.0f)
        r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=1", "bnbq_k_int8_init", &f_init);
    if (r == BNBQ_SUCCESS && threshold > 0.0f)
        r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=1",
                            smp ? "bnbq_k_int8_vw_fix_smp" : "bnbq_k_int8_vw_fix", &f_fix);
    if (r == BNBQ_SUCCESS) {
        /* the fix pass keeps the bitmask (SMP: and the columns missing from the snapshot) in
           dynamic shared memory when it fits in BNBQ__CU_I8_FIXSH bytes (fsm), else it reads
           them from global memory again */
        size_t fb = (smp ? 2 : 1) * nw_ * 4;
        int fsm = fb <= BNBQ__CU_I8_FIXSH;
        /* without the snapshot the bitmask's words are spread bms words apart (each in its own
           32-byte sector: the rows' atomicOr queue on 8 times as many L2 sectors) where
           out_outlier_cols has room for it with half of it left below (the fix pass's direct
           compaction) and the fix pass keeps a dense copy in shared memory (fsm); the rows
           kernel and the fix pass take the stride */
        unsigned long long bms = !smp && vec && threshold > 0.0f && nw_ <= 256 &&
                                         2 * BNBQ__CU_I8_BMS * nw_ <= cols && fsm
                                     ? BNBQ__CU_I8_BMS : 1;
        /* with the snapshot too (BNBQ__CU_I8_BMS_SMP), where the spread bitmask, the snapshot's
           words and counters and the row bitmap leave half of out_outlier_cols below them, the fix
           pass has its dense copies, and the in-place compaction of a spread bitmask stays ahead
           of the words it has not read (nwords <= 256: one chunk; or cols % 32 == 0) */
        if (smp && BNBQ__CU_I8_BMS_SMP && (nw_ <= 256 || cols % 32 == 0) && 2 * nw_ * 4 <= BNBQ__CU_I8_FIXSH &&
            cols >= BNBQ__CU_I8_BMS * nw_ + nw_ + 64 + nrb + cols / 2)
            bms = BNBQ__CU_I8_BMS;
        unsigned long long R = rows, C = cols, nw = nw_, nws = nw_ * bms, zero = 0, nz = nrb + 64 + 1,
                           R0 = BNBQ__CU_I8_SAMPLE;
        /* a few rows (a grid of at most one block an SM): the rows pass and the fix pass let the kernel after
           them start at once (bnbq_pdl_release; it waits for them: the fix pass, bnbq_int8_mixed_scaled_mm's).
           (Larger grids do not: the next kernel's blocks would sit on SMs the rows still need, measured 3-4
           points slower for the fix pass at 4096 rows.) */
        int rel = rows <= bnbq__cu_sms(c);
        void* bm = threshold > 0.0f ? (void*)((char*)out_outlier_cols + (cols - nws) * 4) : NULL;
        void* sp = smp ? (void*)((char*)out_outlier_cols + (cols - nws - nw - 64) * 4) : NULL;
        void* snap = smp ? (void*)((char*)sp + 64 * 4) : NULL;
        void* rb = smp ? (void*)((char*)sp - nrb * 4) : NULL;
        void* nul = NULL;
        if (threshold > 0.0f) {   /* the bitmask, the count; the bitmap of rows to the flag */
            void* a[7];
            a[0] = &bm; a[1] = &nws; a[2] = (void*)&out_n_outliers; a[3] = smp ? &rb : &nul;
            a[4] = smp ? &nz : &zero; a[5] = &nul; a[6] = &zero;
            r = bnbq__cu_launch(ex, bnbq__func, f_init, bnbq__grid(c, nws, 256), 1, 256, 0, a);
        }
        if (r == BNBQ_SUCCESS) {
            void* a[12];
            /* the snapshot's words (rounded up to even), and with defer a row of codes after them */
            size_t ssz = ((nw_ + 1) & ~(size_t)1) * 4;
            int defer = !smp ? 0 : ssz + BNBQ__CU_I8_NDEFER * cols <= BNBQ__CU_I8_DEFER ? BNBQ__CU_I8_NDEFER
                                 : ssz + cols <= BNBQ__CU_I8_DEFER;
            a[0] = (void*)&A; a[1] = &R; a[2] = &C; a[3] = &threshold; a[4] = (void*)&out_CA;
            a[5] = (void*)&out_row_stats; a[6] = &bm; a[7] = &sp; a[8] = &rb; a[9] = &R0; a[10] = &defer;
            /* bnbq_k_int8_vw_rows: (..., bm, rel); _thr: (..., bm, bms, rel); _any: (..., bm) */
            if (!smp && vec) {
                if (threshold > 0.0f) { a[7] = &bms; a[8] = &rel; }
                else a[7] = &rel;
            }
            a[11] = &bms;            /* bnbq_k_int8_vw_rows_smp's last */
            unsigned g = smp ? bnbq__cu_min_u(rows, bnbq__cu_sms(c) * per) : bnbq__grid(c, rows, 1);
            /* after the init (threshold > 0) the rows kernels of 8-element pieces wait for it */
            r = (threshold > 0.0f && vec ? bnbq__cu_launch_pdl : bnbq__cu_launch)(
                ex, bnbq__func, f_rows, g, 1, (unsigned)bt, smp ? (unsigned)(ssz + (size_t)defer * cols) : 0, a);
        }
        if (r == BNBQ_SUCCESS && threshold > 0.0f) {
            int zc = rows > 1;
            unsigned g = zc ? bnbq__cu_min_u((rows + 7) / 8, bnbq__cu_sms(c) * 4) : 1u;
            unsigned long long lim = smp ? cols - nws - nw - 64 - nrb   /* the row bitmap */
                                         : cols - nws;                  /* the bitmask */
            void* a[12];
            a[0] = (void*)&out_CA; a[1] = &R; a[2] = &C; a[3] = (void*)&out_outlier_cols;
            a[4] = (void*)&out_n_outliers; a[5] = &bm; a[6] = &nw;
            if (smp) { a[7] = &snap; a[8] = &rb; a[9] = &lim; a[10] = &fsm; a[11] = &bms; }
            else { a[7] = &zc; a[8] = &lim; a[9] = &fsm; a[10] = &bms; a[11] = &rel; }
            r = bnbq__cu_launch_pdl(ex, bnbq__func, f_fix, g, 1, 256, fsm ? (unsigned)fb : 0u, a);
        }
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_vectorwise_quant bnbq__cu_int8_vectorwise_quant

static bnbq_result bnbq__cu_int8_vectorwise_dequant(bnbq_exec* ex, const int8_t* CA,
                                                    const float* row_stats, size_t rows,
                                                    size_t cols, float* out) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_int8_vectorwise_dequant");
    r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=3", "bnbq_k_int8_vw_dequant", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long R = rows, C = cols;
        int vec = (cols % 16 == 0 && bnbq__cu_al(CA, 16) && bnbq__cu_al(out, 16)) ? 16
                : (cols % 4 == 0 && bnbq__cu_al(CA, 4) && bnbq__cu_al(out, 16)) ? 4 : 1;
        void* a[6];
        a[0] = (void*)&CA; a[1] = (void*)&row_stats; a[2] = &R; a[3] = &C; a[4] = (void*)&out;
        a[5] = &vec;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, rows, 1), 1,
                            bnbq__cu_row_threads(cols / (size_t)vec), 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_vectorwise_dequant bnbq__cu_int8_vectorwise_dequant

/* init (row/col statistics to 0, outlier bitmask, counter), tile statistics, then one pass for
   CA and CAt that also zeroes the outlier columns and compacts the outliers. */
static bnbq_result bnbq__cu_int8_double_quant(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                              size_t rows, size_t cols, float threshold,
                                              int8_t* out_CA, int8_t* out_CAt,
                                              float* out_row_stats, float* out_col_stats,
                                              int32_t* out_outlier_cols,
                                              int32_t* out_n_outliers) {
    bnbq__CUfunction f_init = NULL, f_stats = NULL, f_quant = NULL;
    int use_thr = threshold > 0.0f;
    int vec_in = cols % 8 == 0 && bnbq__cu_al(A, 16);
    int vec = vec_in && bnbq__cu_al(out_CA, 8) && bnbq__cu_al(out_CAt, 8);
    BNBQ__CU_BEGIN("bnbq_int8_double_quant");
    (void)dt;
    r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=2", "bnbq_k_int8_init", &f_init);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=2",
                            vec_in ? "bnbq_k_int8_dq_stats" : "bnbq_k_int8_dq_stats_any", &f_stats);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=2",
                            !vec      ? "bnbq_k_int8_dq_quant_any"
                            : use_thr ? "bnbq_k_int8_dq_quant_thr"
                                      : "bnbq_k_int8_dq_quant", &f_quant);
    if (r == BNBQ_SUCCESS) {
        unsigned long long R = rows, C = cols, nw = use_thr ? (cols + 31) / 32 : 0;
        void* bm = use_thr ? (void*)((char*)out_outlier_cols + (cols - (size_t)nw) * 4) : NULL;
        int32_t* counter = use_thr ? out_n_outliers : NULL;
        size_t most = rows > cols ? rows : cols;
        size_t np = vec_in ? cols / 8 : cols;
        size_t tiles = ((np + 255) / 256) * ((rows + 31) / 32);
        unsigned g_quant = bnbq__grid(c, rows, 1);
        {
            void* a[7];
            a[0] = &bm; a[1] = &nw; a[2] = (void*)&counter; a[3] = (void*)&out_row_stats; a[4] = &R;
            a[5] = (void*)&out_col_stats; a[6] = &C;
            r = bnbq__cu_launch(ex, bnbq__func, f_init, bnbq__grid(c, most, 256), 1, 256, 0, a);
        }
        if (r == BNBQ_SUCCESS) {
            void* a[7];
            a[0] = (void*)&A; a[1] = &R; a[2] = &C; a[3] = &threshold; a[4] = (void*)&out_row_stats;
            a[5] = (void*)&out_col_stats; a[6] = &bm;
            r = bnbq__cu_launch(ex, bnbq__func, f_stats, bnbq__grid(c, tiles, 1), 1, 256, 0, a);
        }
        if (r == BNBQ_SUCCESS) {
            void* a[12];
            a[0] = (void*)&A; a[1] = &R; a[2] = &C; a[3] = &threshold; a[4] = (void*)&out_CA;
            a[5] = (void*)&out_CAt; a[6] = (void*)&out_row_stats; a[7] = (void*)&out_col_stats;
            a[8] = &bm; a[9] = &nw; a[10] = (void*)&out_outlier_cols; a[11] = (void*)&out_n_outliers;
            r = bnbq__cu_launch(ex, bnbq__func, f_quant, g_quant, 1,
                                bnbq__cu_row_threads(vec ? cols / 8 : cols), 0, a);
        }
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_double_quant bnbq__cu_int8_double_quant

#define BNBQ__CU_MM_GV_G 8            /* rows of A a warp takes (the kernels' BNBQ_MM_GV_M) */
#define BNBQ__CU_MM_GV_M (2 * BNBQ__CU_MM_GV_G)   /* the most rows of A for bnbq_k_int8_gemv / _sb_gemv */
#define BNBQ__CU_MM_TC_MIN 2          /* the fewest rows of A for the tensor-core form (sm_80+) */
#define BNBQ__CU_MM_TC_N 16           /* rows of B a block of it takes (the kernels' BNBQ_MM_TC_N) */
#define BNBQ__CU_MM_TC_W 16           /* its warps a block (the kernels' BNBQ_MM_TC_W) */
static int bnbq__cu_mm_gemv_off = 0;   /* bench and test switch: the tile kernels for every M (also SwitchBack's) */
static int bnbq__cu_i8_br_off = 0;     /* bench and test switch: one row of A on the warp-a-row bnbq_k_int8_gemv_dq */
#define BNBQ__CU_MM_BR_B 5             /* bnbq_k_int8_gemv_br's blocks an SM (its launch bounds, BNBQ_MM_BR_B) */
static int bnbq__cu_i8_br_b = BNBQ__CU_MM_BR_B;   /* (bench switch: the grid's blocks an SM, for A/B of BNBQ_MM_BR_B) */
#define BNBQ__CU_MM_BRO_K 32768        /* the longest row of bnbq_k_int8_gemv_bro (its BNBQ_MM_BRO_K) */
#define BNBQ__CU_MM_DQO_C 128u         /* the most outlier columns bnbq_k_int8_gemv_dqo stages (more: the epilogue's loads) */
/* the dynamic shared memory of bnbq_k_int8_gemv_bro (the products' 16 row slots and the activation's values: 17 cap
   floats) and of bnbq_k_int8_gemv_dqo (the same, the 8 warps' staging of 16 cap bytes, cap u16 staging offsets) */
#define BNBQ__CU_MM_BRO_SMEM(cap) (17u * 4u * (cap))
#define BNBQ__CU_MM_DQO_SMEM(cap) ((17u * 4u + 8u * 16u + 2u) * (cap))
static int bnbq__cu_i8_bro_off = 0;    /* bench and test switch: outlier columns on bnbq_k_int8_gemv_br's epilogue loads */
static int bnbq__cu_i8_dqo_on = 0;     /* bench and test switch for bnbq_k_int8_gemv_dqo: 1 always, -1 never, 0 by rows */
/* One row of A with K <= 4096 and outlier columns: bnbq_k_int8_gemv_dqo (a persistent warp a row that stages the
   chunks with outlier bytes, its setup once a block) where B has at least two rows for each warp of its grid
   (BNBQ__CU_MM_BR_B blocks an SM, 8 warps each: 10560 rows on the H100); below that the setup is not paid back and
   bnbq_k_int8_gemv_dq (a warp a row, outlier bytes loaded in the epilogue) was faster. Measured on the H100 at
   threshold 6 (session 32, bench/results/gpu-20261124-h100-session32-int8-dqo.txt c9), gemv_dq vs gemv_dqo, us:
   4096 rows 16.8-17.4 vs 18.7-19.5, 6144 23.8-24.3 vs 24.5-24.9, 8192 27.6-28.4 vs 27.6-27.9; c1 (its first form):
   14336 44.6 -> 41.3, 28672 72.5 -> 64.7. */
static int bnbq__cu_i8_dqo_rows(const bnbq_cuda* c, size_t N) {
    size_t warps = (size_t)(c->info.sm_count > 0 ? c->info.sm_count : 80) * (size_t)bnbq__cu_i8_br_b * 8u;
    return bnbq__cu_i8_dqo_on > 0 || (bnbq__cu_i8_dqo_on == 0 && N >= 2u * warps);
}
static size_t bnbq__cu_i8_bro_kmin = 4096;   /* (bench and test switch: the block-a-row kernels for K > this; 4096) */
static int bnbq__cu_mm_tc_off = 0;     /* bench and test switch: the warp-a-row form for every few-rows M */
/* Launches a few-rows kernel for M <= BNBQ__CU_MM_GV_M rows of A; counts the launch.
   BNBQ__CU_MM_TC_MIN..16 rows on sm_80+: bnbq_k_int8_mma / bnbq_k_sb_mma (tc_kernel): 16 rows of B a
   block of 16 warps, mma.m16n8k32. Else bnbq_k_int8_gemv / bnbq_k_sb_gemv (kernel): a warp per row of
   B and group of 8 rows of A (two groups: two warps a row), 8 warps a block. */
static bnbq_result bnbq__cu_mm_gemv(bnbq_exec* ex, const char* func, const char* kernel, const char* tc_kernel,
                                    size_t M, size_t N, int pdl, void** args) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq__CUfunction f = NULL;
    int tc = M >= BNBQ__CU_MM_TC_MIN && c->target_arch >= 80 && !bnbq__cu_mm_tc_off;
    bnbq_result r = bnbq__cu_kernel(ex, "int8mm", "", tc ? tc_kernel : kernel, &f);
    /* pdl: the kernel waits for the kernel before it (bnbq_pdl_wait), so it may be launched to start early */
    if (r == BNBQ_SUCCESS)
        r = (pdl ? bnbq__cu_launch_pdl : bnbq__cu_launch)(ex, func, f,
                            tc ? bnbq__grid(c, N, BNBQ__CU_MM_TC_N)
                               : bnbq__grid(c, N * (M > BNBQ__CU_MM_GV_G ? 2 : 1), 8), 1,
                            tc ? 32 * BNBQ__CU_MM_TC_W : 256, 0, args);
    if (r == BNBQ_SUCCESS) {
        bnbq__ctx_lock(c);
        c->mm_gemv_launches++;
        c->mm_tc_launches += (unsigned long)tc;
        bnbq__ctx_unlock(c);
    }
    return r;
}
/* the shared memory a block may opt in to (bytes), 0 when it cannot be had (no cuFuncSetAttribute, or the
   query failed): queried once, at bnbq_cuda_init */
static size_t bnbq__cu_smem_optin(const bnbq_cuda* c) { return c->smem_optin; }
/* ---- the sm_90a tiles (kernels_src/gemm90.cu): bnbq_gemm's 16-bit GEMM and int8_linear_matmul's many rows ---- */
static int bnbq__cu_gemm_wg_off = 0;   /* bench and test switch: no sm_90a tiles (bnbq_k_gemm_wg*) */
static int bnbq__cu_gemm_wg_bn = 0;    /* bench switch: 128 or 256 forces the tile width (0: by the shape) */
#define BNBQ__CU_G9_S128 6            /* stages of bnbq_k_gemm_wg_* (128 x 128 tiles; gemm90.cu's G9_S128) */
#define BNBQ__CU_G9_S256 3            /* stages of bnbq_k_gemm_wg2_* (128 x 256 tiles; G9_S256) */
/* their dynamic shared memory: 1024 bytes of alignment slack, the ring of stages (128 + bn rows of 128 bytes
   each), the two consumers' staging of 64 x bn outputs of ob bytes, 2 mbarriers a stage */
#define BNBQ__CU_G9_SI8 5             /* stages of bnbq_k_int8_wg (128 x 128 int32 tiles, 128 k a stage; G9_SI8) */
#define BNBQ__CU_G9_SMEM(bn, s, ob) (1024u + (s) * (128u + (bn)) * 128u + 2u * 64u * (bn) * (ob) + 16u * (s))
#define BNBQ__CU_G9_DQS 1024u         /* bnbq_k_int8_wg_dq_*: and the tile's column data (8 bytes a column) */
#define BNBQ__CU_G9_BIAS(bn) (8u * (bn)) /* bnbq_k_gemm_wg*: and the tile's bias, bn floats for each consumer */
#define BNBQ__CU_G9_SBCOL(bn) (16u * (bn)) /* bnbq_k_sb_wg: and the tile's column scales and bias, as float pairs */
#define BNBQ__CU_G9_MAX2(a, b) ((a) > (b) ? (a) : (b))
#define BNBQ__CU_G9_M4S 6             /* stages of tokens of bnbq_k_m4_wg (G9_M4S) */
#define BNBQ__CU_G9_M4T 128u          /* its tokens a tile (G9_M4T; tiles of 128 rows of W x these) */
/* bnbq_k_m4_wg's: 1024 bytes of slack, the ring of token stages (64 k = 128 bytes a token), the two consumers'
   staging of 64 x tokens outputs, the packed weight's ring of two 16 KB boxes, 2 mbarriers a stage and a box
   (plus, outside the dynamic part, the 64 static bytes of its table) */
#define BNBQ__CU_G9_SMEM_M4                                                                                   \
    (1024u + BNBQ__CU_G9_M4S * BNBQ__CU_G9_M4T * 128u + 2u * 64u * BNBQ__CU_G9_M4T * 2u + 2u * 16384u +          \
     16u * BNBQ__CU_G9_M4S + 32u)
#define BNBQ__CU_G9_SMEM_MAX                                                                              \
    BNBQ__CU_G9_MAX2(BNBQ__CU_G9_MAX2(BNBQ__CU_G9_MAX2(BNBQ__CU_G9_SMEM(128u, BNBQ__CU_G9_S128, 2u) + BNBQ__CU_G9_BIAS(128u), \
                                                       BNBQ__CU_G9_SMEM(256u, BNBQ__CU_G9_S256, 2u) + BNBQ__CU_G9_BIAS(256u)), \
                                      BNBQ__CU_G9_SMEM(128u, BNBQ__CU_G9_SI8, 4u) + BNBQ__CU_G9_DQS),    \
                     BNBQ__CU_G9_SMEM_M4 + 64u)
/* A 2-D tensor map of a matrix of `esize`-byte elements (1: UINT8, 2: UINT16, 4: INT32) stored with `inner`
   contiguous elements a row and `outer` rows, for boxes of 128 bytes x `box_outer` rows with the 128-byte
   swizzle (gemm90.cu's layouts); map: 128 bytes, 64-byte aligned. Returns the driver's code. */
static bnbq__CUresult bnbq__cu_tmap(void* map, const void* base, unsigned esize, size_t inner, size_t outer,
                                    unsigned box_outer) {
    unsigned long long dims[2], strides[1];
    unsigned box[2], es[2] = { 1u, 1u };
    dims[0] = inner; dims[1] = outer;
    strides[0] = (unsigned long long)inner * esize;
    box[0] = 128u / esize; box[1] = box_outer;
    return BNBQ__DRV.bnbq__cuTensorMapEncodeTiled(map, esize == 1 ? 0 : esize == 2 ? 1 : 3, 2u, (void*)base, dims,
                                                  strides, box, es, 0 /* no interleave */, 3 /* 128-byte swizzle */,
                                                  2 /* L2 promotion 128 B */, 0 /* zeros outside */);
}
/* The sm_90a tiles cannot be had in this context (what: why, logged as one WARN line): the context takes the
   sm_80 tiles from now on (wg_off); BNBQ_ERROR_NOT_SUPPORTED, which the callers turn into that path. Reasons:
   cuTensorMapEncodeTiled refused a map, or an sm_90a unit did not compile (an NVRTC that does not know sm_90a). */
static bnbq_result bnbq__cu_wg_refused(bnbq_exec* ex, const char* func, const char* what) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq_log(ex, BNBQ_LOG_WARN, func, "%s: the sm_80 GEMM tiles from now on", what);
    bnbq__ctx_lock(c);
    c->wg_off = 1;
    bnbq__ctx_unlock(c);
    return BNBQ_ERROR_NOT_SUPPORTED;
}
static bnbq_result bnbq__cu_tmap_refused(bnbq_exec* ex, const char* func, bnbq__CUresult e) {
    char what[96];
    snprintf(what, sizeof what, "cuTensorMapEncodeTiled failed (%s)", bnbq__cu_errname(e));
    return bnbq__cu_wg_refused(ex, func, what);
}
/* bnbq__cu_kernel for an sm_90a unit: a unit that does not compile turns the sm_90a tiles off (bnbq__cu_wg_refused) */
static bnbq_result bnbq__cu_wg_kernel(bnbq_exec* ex, const char* func, const char* defines, const char* kernel,
                                      bnbq__CUfunction* f) {
    bnbq_result r = bnbq__cu_kernel(ex, "gemm90", defines, kernel, f);
    if (r == BNBQ_ERROR_COMPILE_FAILED) return bnbq__cu_wg_refused(ex, func, "an sm_90a unit did not compile");
    return r;
}
/* Whether the sm_90a tiles of gemm90.cu can run in this context (compute capability 9.0 with a cubin target,
   tensor maps, the opt-in shared memory they take, not switched off) */
static int bnbq__cu_wg_ok(bnbq_cuda* c) {
    return c->target_arch == 90 && !c->target_ptx && c->info.cc_major == 9 && c->info.cc_minor == 0 &&
           BNBQ__DRV.bnbq__cuTensorMapEncodeTiled && !c->wg_off && bnbq__cu_smem_optin(c) >= BNBQ__CU_G9_SMEM_MAX &&
           !bnbq__cu_gemm_wg_off && (!c->nvrtc_ok || BNBQ__NV.version >= 12000);   /* (sm_90a: NVRTC 12.0+) */
}
/* stages of bnbq_k_int8_tc / bnbq_k_sb_tc for the architecture the kernels are compiled for (the kernels'
   BNBQ_MT_S: 4 where an SM has 164 KB of shared memory or more, else 3) */
static unsigned bnbq__cu_mt_stages(int arch) { return arch == 80 || arch == 87 || (arch >= 90 && arch < 120) ? 4u : 3u; }
#define BNBQ__CU_MT_TILE 128          /* their output tiles: 128 x 128 (the kernels' BNBQ_MT_BM, _BN) */
static int bnbq__cu_mm_tile_tc_off = 0;   /* bench and test switch: the SIMT tile kernels for many rows too */
/* The many-rows int8 GEMMs on tensor cores (sm_80+; K % 16 == 0, A and B 16-byte aligned): 128 x 128
   output tiles over a grid of at most 32 blocks an SM, 8 warps a block, bnbq__cu_mt_stages() stages of 16 KB
   (A's and B's 128 x 64 bytes) of dynamic shared memory; counts the launch. */
static bnbq_result bnbq__cu_mm_tiles_tc(bnbq_exec* ex, const char* func, const char* kernel, size_t M,
                                        size_t N, void** args) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq__CUfunction f = NULL;
    size_t tm = M / BNBQ__CU_MT_TILE + (M % BNBQ__CU_MT_TILE != 0), tn = N / BNBQ__CU_MT_TILE + (N % BNBQ__CU_MT_TILE != 0);
    const unsigned smem = bnbq__cu_mt_stages(c->target_arch) * 16384u;
    bnbq_result r = bnbq__cu_kernel(ex, "int8mm", "", kernel, &f);
    if (r == BNBQ_SUCCESS && smem > 49152u) r = bnbq__cu_allow_smem(ex, func, f, smem);
    if (r == BNBQ_SUCCESS)   /* (tm * tn: M and N are below 2^32 here, K >= 16 and M K, N K fit in memory) */
        r = bnbq__cu_launch_pdl(ex, func, f, bnbq__grid(c, tm * tn, 1), 1, 256, smem, args);   /* (they wait) */
    if (r == BNBQ_SUCCESS) {
        bnbq__ctx_lock(c);
        c->mm_tile_tc_launches++;
        bnbq__ctx_unlock(c);
    }
    return r;
}
/* The three tensor maps (A, B, out) of an sm_90a launch, 64-byte aligned in the caller's buffer of
   BNBQ__CU_G9_MAPBUF bytes: maps[0..2] */
#define BNBQ__CU_G9_MAPBUF (3 * 128 + 64)
static void bnbq__cu_wg_maps(unsigned char* buf, void** maps) {
    unsigned char* p = buf + (64u - (unsigned)((uintptr_t)buf & 63u)) % 64u;
    maps[0] = p; maps[1] = p + 128; maps[2] = p + 256;
}
/* Compiles / loads an sm_90a kernel of gemm90.cu (bnbq__cu_wg_kernel), gives it smem bytes of dynamic shared
   memory and launches it dependent on the kernel before (it waits) over a persistent grid of min(tiles, SMs)
   blocks of 384 threads; counts the launch in gemm_wg_launches and, when given, *also (under the lock). */
static bnbq_result bnbq__cu_wg_run(bnbq_exec* ex, const char* func, const char* defines, const char* kernel,
                                   unsigned smem, size_t tiles, void** args, unsigned long* also) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq__CUfunction f = NULL;
    size_t sms = bnbq__cu_sms(c);
    bnbq_result r = bnbq__cu_wg_kernel(ex, func, defines, kernel, &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_allow_smem(ex, func, f, smem);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_launch_pdl(ex, func, f, (unsigned)(tiles < sms ? tiles : sms), 1, 384, smem, args);
    if (r == BNBQ_SUCCESS) {
        bnbq__ctx_lock(c);
        c->gemm_wg_launches++;
        if (also) (*also)++;
        bnbq__ctx_unlock(c);
    }
    return r;
}
/* The int8 sm_90a launches' tensor maps into args[0..2] (in mbuf): A (M, K) and B (N, K) as boxes of 128 k x 128
   rows, out (M, N) of ob-byte elements as boxes of 128 bytes x 64 rows (int32 / f32: 32 n, 16-bit: 64 n); a refused
   map: BNBQ_ERROR_NOT_SUPPORTED (bnbq__cu_tmap_refused). Their 128 x 128 output tiles: bnbq__cu_i8_wg_tiles. */
static bnbq_result bnbq__cu_i8_wg_maps(bnbq_exec* ex, const char* func, unsigned char* mbuf, void** args,
                                       const int8_t* A, const int8_t* B, size_t M, size_t N, size_t K, void* out,
                                       unsigned ob) {
    bnbq__CUresult e;
    bnbq__cu_wg_maps(mbuf, args);
    e = bnbq__cu_tmap(args[0], A, 1u, K, M, 128u);
    if (e == BNBQ__CUDA_SUCCESS) e = bnbq__cu_tmap(args[1], B, 1u, K, N, 128u);
    if (e == BNBQ__CUDA_SUCCESS) e = bnbq__cu_tmap(args[2], out, ob, N, M, 64u);
    return e == BNBQ__CUDA_SUCCESS ? BNBQ_SUCCESS : bnbq__cu_tmap_refused(ex, func, e);
}
static size_t bnbq__cu_i8_wg_tiles(size_t M, size_t N) {
    return (M / 128 + (M % 128 != 0)) * (N / 128 + (N % 128 != 0));
}
/* The many-rows int8 GEMMs on the sm_90a tiles (gemm90.cu: 128 x 128 tiles, TMA copies of 128 k a stage, wgmma
   s8, TMA stores): bnbq_int8_linear_matmul's int32 out (bnbq_k_int8_wg; sb = 0: out is i32*), or SwitchBack's
   scaled f16 out (bnbq_k_sb_wg; sb = 1: out is u16*, with sx, sw, sw_global, bias as bnbq_k_sb_tc's). The
   callers checked bnbq__cu_wg_ok, K % 16 == 0, N % 4 == 0 (sb: N % 8 == 0), A, B and out 16-byte aligned, M, N,
   K below 2^31. Refused tensor maps: BNBQ_ERROR_NOT_SUPPORTED (bnbq__cu_tmap_refused). Counted as tile
   launches (mm_tile_tc_launches) and sm_90a ones (gemm_wg_launches). */
static bnbq_result bnbq__cu_i8_wg(bnbq_exec* ex, const char* func, const int8_t* A, const int8_t* B, size_t M,
                                  size_t N, size_t K, void* out, int sb, const uint16_t* sx, const uint16_t* sw,
                                  int sw_global, const uint16_t* bias) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    unsigned char mbuf[BNBQ__CU_G9_MAPBUF];
    unsigned long long MM = M, NN = N, KK = K;
    void* a[10];
    bnbq_result r = bnbq__cu_i8_wg_maps(ex, func, mbuf, a, A, B, M, N, K, out, sb ? 2u : 4u);
    if (r != BNBQ_SUCCESS) return r;
    a[3] = &MM; a[4] = &NN; a[5] = &KK;
    a[6] = (void*)&sx; a[7] = (void*)&sw; a[8] = &sw_global; a[9] = (void*)&bias;
    return bnbq__cu_wg_run(ex, func, "BNBQ_DT=1 BNBQ_ARCH_A=1", sb ? "bnbq_k_sb_wg" : "bnbq_k_int8_wg",
                           BNBQ__CU_G9_SMEM(128u, BNBQ__CU_G9_SI8, sb ? 2u : 4u) + (sb ? BNBQ__CU_G9_SBCOL(128u) : 0u), bnbq__cu_i8_wg_tiles(M, N), a,
                           &c->mm_tile_tc_launches);
}
/* bnbq_int8_mixed_scaled_mm's int8 product and int8_mm_dequant in one launch on the sm_90a tiles
   (bnbq_k_int8_wg_dq_f16 / _bf16 / _f32 by dt: the int32 sums dequantized in the epilogue, no int32 intermediate
   and no mm_dequant pass; the bytes of bnbq_int8_linear_matmul + bnbq_int8_mm_dequant). The conditions of
   bnbq__cu_i8_wg_dq_can; refused tensor maps: BNBQ_ERROR_NOT_SUPPORTED. */
static int bnbq__cu_i8_wg_dq_off = 0;   /* bench and test switch: bnbq_k_int8_wg + bnbq_k_int8_mm_dequant */
static int bnbq__cu_i8_wg_dq_can(bnbq_cuda* c, bnbq_dtype dt, const int8_t* A, const int8_t* B, size_t M, size_t N,
                                 size_t K, const void* out) {
    return M > BNBQ__CU_MM_GV_M && K % 16 == 0 && bnbq__cu_al(A, 16) && bnbq__cu_al(B, 16) && bnbq__cu_al(out, 16) &&
           N % (dt == BNBQ_F32 ? 4u : 8u) == 0 && M < 0x7fffffffu && N < 0x7fffffffu && K < 0x7fffffffu &&
           !bnbq__cu_mm_tile_tc_off && !bnbq__cu_i8_wg_dq_off && bnbq__cu_wg_ok(c);
}
static bnbq_result bnbq__cu_i8_wg_dq(bnbq_exec* ex, const char* func, bnbq_dtype dt, const int8_t* A,
                                     const int8_t* B, size_t M, size_t N, size_t K, const float* row_stats,
                                     const float* col_stats, bnbq_dtype bias_dt, const void* bias, void* out) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    unsigned char mbuf[BNBQ__CU_G9_MAPBUF];
    unsigned long long MM = M, NN = N, KK = K;
    const unsigned ob = dt == BNBQ_F32 ? 4u : 2u;
    int ibdt = (int)bias_dt;
    void* a[10];
    bnbq_result r = bnbq__cu_i8_wg_maps(ex, func, mbuf, a, A, B, M, N, K, out, ob);
    if (r != BNBQ_SUCCESS) return r;
    a[3] = &MM; a[4] = &NN; a[5] = &KK;
    a[6] = (void*)&row_stats; a[7] = (void*)&col_stats; a[8] = &ibdt; a[9] = (void*)&bias;
    return bnbq__cu_wg_run(ex, func, "BNBQ_DT=1 BNBQ_ARCH_A=1",
                           dt == BNBQ_F16 ? "bnbq_k_int8_wg_dq_f16" : dt == BNBQ_BF16 ? "bnbq_k_int8_wg_dq_bf16"
                                                                        : "bnbq_k_int8_wg_dq_f32",
                           BNBQ__CU_G9_SMEM(128u, BNBQ__CU_G9_SI8, ob) + BNBQ__CU_G9_DQS, bnbq__cu_i8_wg_tiles(M, N), a,
                           &c->i8_wg_dq_launches);
}
/* bnbq_int8_mixed_scaled_mm's many rows with outlier columns on the sm_90a tiles (f16 / bf16, unless
   desc.exact_outlier_sums): bnbq_k_outlier_gather16 writes the outlier columns of A and the dequantized weight, 16-bit,
   into work (Ag (M, P) then Wg (N, P)), then bnbq_k_int8_wg_dqt_* runs the int8 GEMM with mm_dequant and the outlier
   product (wgmma) as its epilogue: two launches, no int32 intermediate and no pass over out. P (bnbq__cu_i8_wg_dqt_p,
   a multiple of 64, >= 64) columns fit in work; columns past P are read from A and CB in the epilogue (rare). The
   conditions of bnbq__cu_i8_wg_dq_can; refused tensor maps: BNBQ_ERROR_NOT_SUPPORTED before any launch. */
static bnbq_result bnbq__cup_err(bnbq_exec* ex, const char* func, void** out);
/* the -D of a per-dtype unit (prims.cu, matmul4.cu, ...) */
static const char* const bnbq__cup_dt[3] = { "BNBQ_DT=0", "BNBQ_DT=1", "BNBQ_DT=2" };
/* the gathered columns a row that fit in work (M N int32): (M + N) P 16-bit values, P a multiple of 64, at most K
   rounded up; 0 when fewer than 64 fit */
static size_t bnbq__cu_i8_wg_dqt_p(size_t M, size_t N, size_t K) {
    size_t p = 2 * (M * N / (M + N)), kr = (K + 63) / 64 * 64;   /* (M, N < 2^31: M N fits) */
    p = p / 64 * 64;
    return p < kr ? p : kr;
}
/* Whether bnbq_int8_mixed_scaled_mm's outlier product goes to the tensor cores (bnbq_k_int8_wg_dqt_* on the sm_90a tiles,
   else bnbq_k_outlier_mm_tc): f16 / bf16, more than BNBQ__CU_OUTLIER_FEW rows, sm_80+, 64 gathered columns a row fit
   in work, not desc.exact_outlier_sums (the caller: outlier columns given) */
/* bnbq_int8_outlier_mm with at most this many rows takes bnbq_k_outlier_mm_few (16 x 16 tiles) */
#define BNBQ__CU_OUTLIER_FEW 16
static int bnbq__cu_outlier_tc_ok(const bnbq_cuda* c, bnbq_dtype dt, size_t M, size_t N, size_t K) {
    return dt != BNBQ_F32 && M > BNBQ__CU_OUTLIER_FEW && c->target_arch >= 80 && !c->desc.exact_outlier_sums &&
           bnbq__cu_i8_wg_dqt_p(M, N, K) >= 64;
}
/* bnbq_k_outlier_gather16 (prims.cu, the dt unit; launched dependent on the kernel before it): the outlier columns of A
   and of the dequantized weight, 16-bit, into work as Ag (M, P) then Wg (N, P) (*ag, *wg); a count outside [0, K] or a
   bad column sets the exec's error flag (*err, bnbq__cup_err's). 8 columns (16 bytes) a thread and step. */
static bnbq_result bnbq__cu_outlier_gather16(bnbq_exec* ex, const char* func, bnbq_dtype dt, const void* A, size_t M,
                                             size_t K, const int8_t* CB, const float* SCB, size_t N, const int32_t* cols,
                                             const int32_t* num_cols, int32_t* work, size_t P, void* err,
                                             uint16_t** ag, uint16_t** wg) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    unsigned long long MM = M, NN = N, KK = K, PP = P;
    uint16_t* Ag = (uint16_t*)work;
    uint16_t* Wg = Ag + M * P;
    bnbq__CUfunction fg = NULL;
    void* g[12];
    bnbq_result r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_outlier_gather16", &fg);
    if (r != BNBQ_SUCCESS) return r;
    g[0] = (void*)&A; g[1] = &MM; g[2] = &KK; g[3] = (void*)&CB; g[4] = (void*)&SCB; g[5] = &NN;
    g[6] = (void*)&cols; g[7] = (void*)&num_cols; g[8] = &Ag; g[9] = &Wg; g[10] = &PP; g[11] = &err;
    *ag = Ag;
    *wg = Wg;
    return bnbq__cu_launch_pdl(ex, func, fg, bnbq__grid(c, (M + N) * 8, 256), 1, 256, 0, g);
}
static bnbq_result bnbq__cu_i8_wg_dqt(bnbq_exec* ex, const char* func, bnbq_dtype dt, const int8_t* CA,
                                      const int8_t* CB, size_t M, size_t N, size_t K, const float* row_stats,
                                      const float* col_stats, bnbq_dtype bias_dt, const void* bias, const void* A,
                                      const int32_t* cols, const int32_t* num_cols, int32_t* work, void* out) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    unsigned char mbuf[BNBQ__CU_G9_MAPBUF];
    unsigned long long MM = M, NN = N, KK = K, PP = bnbq__cu_i8_wg_dqt_p(M, N, K);
    int ibdt = (int)bias_dt;
    uint16_t *Ag = NULL, *Wg = NULL;
    void* err = NULL;
    void* a[18];
    bnbq_result r = bnbq__cu_i8_wg_maps(ex, func, mbuf, a, CA, CB, M, N, K, out, 2u);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, func, &err);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_outlier_gather16(ex, func, dt, A, M, K, CB, col_stats, N, cols, num_cols, work, (size_t)PP, err, &Ag,
                                      &Wg);
    if (r != BNBQ_SUCCESS) return r;
    a[3] = &MM; a[4] = &NN; a[5] = &KK;
    a[6] = (void*)&row_stats; a[7] = (void*)&col_stats; a[8] = &ibdt; a[9] = (void*)&bias;
    a[10] = &Ag; a[11] = &Wg; a[12] = &PP; a[13] = (void*)&A; a[14] = (void*)&CB; a[15] = (void*)&cols;
    a[16] = (void*)&num_cols; a[17] = &err;
    return bnbq__cu_wg_run(ex, func, "BNBQ_DT=1 BNBQ_ARCH_A=1",
                           dt == BNBQ_F16 ? "bnbq_k_int8_wg_dqt_f16" : "bnbq_k_int8_wg_dqt_bf16",
                           BNBQ__CU_G9_SMEM(128u, BNBQ__CU_G9_SI8, 2u) + BNBQ__CU_G9_DQS, bnbq__cu_i8_wg_tiles(M, N), a,
                           &c->i8_wg_dqt_launches);
}
static bnbq_result bnbq__cu_int8_linear_matmul(bnbq_exec* ex, const int8_t* A, const int8_t* B,
                                               size_t M, size_t N, size_t K, int32_t* out) {
    bnbq__CUfunction f = NULL;
    unsigned gx = 0;
    unsigned long long MM = M, NN = N, KK = K;
    int vec = K % 16 == 0 && bnbq__cu_al(A, 16) && bnbq__cu_al(B, 16);
    int vec_out = N % 4 == 0 && bnbq__cu_al(out, 16);
    void* a[8];   /* bnbq_k_int8_gemv takes the first six */
    BNBQ__CU_BEGIN("bnbq_int8_linear_matmul");
    a[0] = (void*)&A; a[1] = (void*)&B; a[2] = &MM; a[3] = &NN; a[4] = &KK; a[5] = (void*)&out;
    a[6] = &vec; a[7] = &vec_out;
    if (vec && M <= BNBQ__CU_MM_GV_M && !bnbq__cu_mm_gemv_off) {   /* a few rows of A (a decoding step) */
        r = bnbq__cu_mm_gemv(ex, bnbq__func, "bnbq_k_int8_gemv", "bnbq_k_int8_mma", M, N, 0, a);
        BNBQ__CU_END();
    }
    if (vec && N % 4 == 0 && bnbq__cu_al(out, 16) && M < 0x7fffffffu && N < 0x7fffffffu && K < 0x7fffffffu &&
        !bnbq__cu_mm_tile_tc_off && bnbq__cu_wg_ok(c)) {   /* Hopper: TMA and wgmma (gemm90.cu) */
        r = bnbq__cu_i8_wg(ex, bnbq__func, A, B, M, N, K, out, 0, NULL, NULL, 0, NULL);
        if (r != BNBQ_ERROR_NOT_SUPPORTED) {
            BNBQ__CU_END();
        }
        r = BNBQ_SUCCESS;   /* tensor maps refused: the sm_80 tiles */
    }
    if (vec && c->target_arch >= 80 && !bnbq__cu_mm_tile_tc_off) {   /* tensor cores */
        r = bnbq__cu_mm_tiles_tc(ex, bnbq__func, "bnbq_k_int8_tc", M, N, a);
        BNBQ__CU_END();
    }
    r = bnbq__cu_tiles_x(ex, bnbq__func, N, &gx);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_kernel(ex, "int8mm", "", "bnbq_k_int8_matmul", &f);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_launch(ex, bnbq__func, f, gx, bnbq__cu_min_u(M / 64 + (M % 64 != 0), 65535), 256,
                            0, a);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_linear_matmul bnbq__cu_int8_linear_matmul

static bnbq_result bnbq__cu_int8_mm_dequant(bnbq_exec* ex, bnbq_dtype dt, const int32_t* A,
                                            const float* row_stats, const float* col_stats,
                                            size_t M, size_t N, void* out, bnbq_dtype bias_dt,
                                            const void* bias) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_int8_mm_dequant");
    r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=3", "bnbq_k_int8_mm_dequant", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, NN = N;
        int idt = (int)dt, ibdt = (int)bias_dt;
        int vec = N % 4 == 0 && bnbq__cu_al(A, 16) && bnbq__cu_al(out, dt == BNBQ_F32 ? 16 : 8) ? 4 : 1;
        void* a[10];
        a[0] = (void*)&A; a[1] = (void*)&row_stats; a[2] = (void*)&col_stats; a[3] = &MM; a[4] = &NN;
        a[5] = &out; a[6] = &idt; a[7] = &ibdt; a[8] = (void*)&bias; a[9] = &vec;
        {
            /* a block a row; with fewer rows than 2 waves of blocks, each row's pieces are split over
               gy blocks (at least 256 pieces each) so that about that many blocks run */
            unsigned bt = bnbq__cu_row_threads(N / (size_t)vec), gx = bnbq__grid(c, M, 1);
            size_t want = 2 * bnbq__cu_sms(c), gy = 1;
            if (M < want) {
                size_t np = N / (size_t)vec, by = (np + 255) / 256;
                gy = bnbq__cu_min_u((want + M - 1) / M, by);
                if (gy > 65535) gy = 65535;
            }
            r = bnbq__cu_launch_pdl(ex, bnbq__func, f, gx, (unsigned)(gy ? gy : 1), bt, 0, a);   /* (it waits) */
        }
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_mm_dequant bnbq__cu_int8_mm_dequant

/* ---- SwitchBack ---- */

static bnbq_result bnbq__cu_quantize_rowwise(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                             size_t rows, size_t cols, int8_t* out_q,
                                             uint16_t* out_state) {
    bnbq__CUfunction f = NULL;
    int vec = cols % 8 == 0 && bnbq__cu_al(X, 16) && bnbq__cu_al(out_q, 8);
    BNBQ__CU_BEGIN("bnbq_quantize_rowwise");
    (void)dt;
    r = bnbq__cu_kernel(ex, "int8", "BNBQ_I8_PART=4", vec ? "bnbq_k_sb_rows" : "bnbq_k_sb_rows_any",
                        &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long R = rows, C = cols;
        void* a[5];
        a[0] = (void*)&X; a[1] = &R; a[2] = &C; a[3] = (void*)&out_q; a[4] = (void*)&out_state;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, rows, 1), 1,
                            bnbq__cu_row_threads8(vec ? cols / 8 : cols), 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_rowwise bnbq__cu_quantize_rowwise

/* The transposing quantizer (mode 0: per-column state, 1: global absmax in state[0]). */
static bnbq_result bnbq__cu_sb_transpose_q(bnbq_exec* ex, const char* func, const void* X,
                                           size_t rows, size_t cols, int8_t* out_q,
                                           const uint16_t* state, int mode) {
    bnbq__CUfunction f = NULL;
    bnbq_result r = bnbq__cu_kernel(ex, "switchback", "", "bnbq_k_sb_transpose_q", &f);
    if (r == BNBQ_SUCCESS) {
        bnbq_cuda* c = (bnbq_cuda*)ex->impl;
        unsigned long long R = rows, C = cols;
        size_t tiles = (rows / 64 + (rows % 64 != 0)) * (cols / 64 + (cols % 64 != 0));
        int vec_out = rows % 16 == 0 && bnbq__cu_al(out_q, 16);
        void* a[7];
        a[0] = (void*)&X; a[1] = &R; a[2] = &C; a[3] = (void*)&out_q; a[4] = (void*)&state;
        a[5] = &mode; a[6] = &vec_out;
        r = bnbq__cu_launch(ex, func, f, bnbq__grid(c, tiles, 1), 1, 256, 0, a);
    }
    return r;
}

/* absmax[0] = f16 max |x| over n elements (memset, then a grid-stride max). */
static bnbq_result bnbq__cu_sb_global_max(bnbq_exec* ex, const char* func, const void* X, size_t n,
                                          uint16_t* out_absmax) {
    bnbq__CUfunction f = NULL;
    bnbq_result r = bnbq__cu_kernel(ex, "switchback", "", "bnbq_k_sb_global_max", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_memset0(ex, func, out_absmax, 2);
    if (r == BNBQ_SUCCESS) {
        bnbq_cuda* c = (bnbq_cuda*)ex->impl;
        unsigned long long nn = n;
        int vec = bnbq__cu_al(X, 16);
        void* a[4];
        a[0] = (void*)&X; a[1] = &nn; a[2] = (void*)&out_absmax; a[3] = &vec;
        r = bnbq__cu_launch(ex, func, f, bnbq__grid(c, n, 256 * 8), 1, 256, 0, a);
    }
    return r;
}

static bnbq_result bnbq__cu_quantize_columnwise_and_transpose(bnbq_exec* ex, bnbq_dtype dt,
                                                              const void* X, size_t rows,
                                                              size_t cols, int8_t* out_q,
                                                              uint16_t* out_state) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_quantize_columnwise_and_transpose");
    (void)dt;
    r = bnbq__cu_kernel(ex, "switchback", "", "bnbq_k_sb_colmax", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_memset0(ex, bnbq__func, out_state, cols * 2);
    if (r == BNBQ_SUCCESS) {
        unsigned long long R = rows, C = cols;
        size_t tiles = (rows / 256 + (rows % 256 != 0)) * (cols / 64 + (cols % 64 != 0));
        int vec = cols % 8 == 0 && bnbq__cu_al(X, 16);
        void* a[5];
        a[0] = (void*)&X; a[1] = &R; a[2] = &C; a[3] = (void*)&out_state; a[4] = &vec;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, tiles, 1), 1, 256, 0, a);
    }
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_sb_transpose_q(ex, bnbq__func, X, rows, cols, out_q, out_state, 0);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_columnwise_and_transpose bnbq__cu_quantize_columnwise_and_transpose

static bnbq_result bnbq__cu_quantize_global_int8(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                                 size_t n, int8_t* out_q, uint16_t* out_absmax) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_quantize_global_int8");
    (void)dt;
    r = bnbq__cu_kernel(ex, "switchback", "", "bnbq_k_sb_global_q", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_sb_global_max(ex, bnbq__func, X, n, out_absmax);
    if (r == BNBQ_SUCCESS) {
        unsigned long long nn = n;
        int vec = bnbq__cu_al(X, 16) && bnbq__cu_al(out_q, 8);
        void* a[5];
        a[0] = (void*)&X; a[1] = &nn; a[2] = (void*)&out_q; a[3] = (void*)&out_absmax; a[4] = &vec;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, n, 256 * 8), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_global_int8 bnbq__cu_quantize_global_int8

static bnbq_result bnbq__cu_quantize_global_int8_transpose(bnbq_exec* ex, bnbq_dtype dt,
                                                           const void* X, size_t rows,
                                                           size_t cols, int8_t* out_q,
                                                           uint16_t* out_absmax) {
    BNBQ__CU_BEGIN("bnbq_quantize_global_int8_transpose");
    (void)dt;
    (void)c;
    r = bnbq__cu_sb_global_max(ex, bnbq__func, X, rows * cols, out_absmax);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_sb_transpose_q(ex, bnbq__func, X, rows, cols, out_q, out_absmax, 1);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_quantize_global_int8_transpose bnbq__cu_quantize_global_int8_transpose

static bnbq_result bnbq__cu_dequantize_rowwise(bnbq_exec* ex, const int8_t* q,
                                               const uint16_t* state, size_t rows, size_t cols,
                                               uint16_t* out) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_dequantize_rowwise");
    r = bnbq__cu_kernel(ex, "switchback", "", "bnbq_k_sb_dequant_rows", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long R = rows, C = cols;
        int vec = cols % 16 == 0 && bnbq__cu_al(q, 16) && bnbq__cu_al(out, 16) ? 16 : 1;
        void* a[6];
        a[0] = (void*)&q; a[1] = (void*)&state; a[2] = &R; a[3] = &C; a[4] = (void*)&out; a[5] = &vec;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, rows, 1), 1,
                            bnbq__cu_row_threads(cols / (size_t)vec), 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_dequantize_rowwise bnbq__cu_dequantize_rowwise

static bnbq_result bnbq__cu_sb_matmul(bnbq_exec* ex, const char* func, const int8_t* a_,
                                      const int8_t* w, const uint16_t* sx, const uint16_t* sw,
                                      size_t M, size_t N, size_t K, uint16_t* out,
                                      const uint16_t* bias, int sw_global) {
    bnbq__CUfunction f = NULL;
    unsigned gx = 0;
    int vec = K % 16 == 0 && bnbq__cu_al(a_, 16) && bnbq__cu_al(w, 16);
    unsigned long long MM = M, NN = N, KK = K;
    void* a[10];   /* the same arguments for bnbq_k_sb_gemv and the tile kernels */
    bnbq_result r;
    a[0] = (void*)&a_; a[1] = (void*)&w; a[2] = (void*)&sx; a[3] = (void*)&sw; a[4] = &sw_global;
    a[5] = &MM; a[6] = &NN; a[7] = &KK; a[8] = (void*)&out; a[9] = (void*)&bias;
    if (vec && M <= BNBQ__CU_MM_GV_M && !bnbq__cu_mm_gemv_off)   /* a few rows of A */
        return bnbq__cu_mm_gemv(ex, func, "bnbq_k_sb_gemv", "bnbq_k_sb_mma", M, N, 0, a);
    if (vec && N % 8 == 0 && bnbq__cu_al(out, 16) && M < 0x7fffffffu && N < 0x7fffffffu && K < 0x7fffffffu &&
        !bnbq__cu_mm_tile_tc_off && bnbq__cu_wg_ok((bnbq_cuda*)ex->impl)) {   /* Hopper: TMA and wgmma */
        r = bnbq__cu_i8_wg(ex, func, a_, w, M, N, K, out, 1, sx, sw, sw_global, bias);
        if (r != BNBQ_ERROR_NOT_SUPPORTED) return r;   /* (refused tensor maps: the sm_80 tiles) */
    }
    if (vec && ((bnbq_cuda*)ex->impl)->target_arch >= 80 && !bnbq__cu_mm_tile_tc_off)   /* tensor cores */
        return bnbq__cu_mm_tiles_tc(ex, func, "bnbq_k_sb_tc", M, N, a);
    r = bnbq__cu_tiles_x(ex, func, N, &gx);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "int8mm", "", vec ? "bnbq_k_sb_matmul" : "bnbq_k_sb_matmul_any", &f);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_launch(ex, func, f, gx, bnbq__cu_min_u(M / 64 + (M % 64 != 0), 65535), 256, 0, a);
    return r;
}

static bnbq_result bnbq__cu_int8_matmul_rowwise_dequantize(bnbq_exec* ex, const int8_t* a,
                                                           const int8_t* w,
                                                           const uint16_t* state_x,
                                                           const uint16_t* state_w, size_t M,
                                                           size_t N, size_t K, uint16_t* out,
                                                           const uint16_t* bias) {
    BNBQ__CU_BEGIN("bnbq_int8_matmul_rowwise_dequantize");
    (void)c;
    r = bnbq__cu_sb_matmul(ex, bnbq__func, a, w, state_x, state_w, M, N, K, out, bias, 0);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_matmul_rowwise_dequantize bnbq__cu_int8_matmul_rowwise_dequantize

static bnbq_result bnbq__cu_int8_matmul_mixed_dequantize(bnbq_exec* ex, const int8_t* a,
                                                         const int8_t* w, const uint16_t* state_x,
                                                         const uint16_t* state_w, size_t M,
                                                         size_t N, size_t K, uint16_t* out,
                                                         const uint16_t* bias) {
    BNBQ__CU_BEGIN("bnbq_int8_matmul_mixed_dequantize");
    (void)c;
    r = bnbq__cu_sb_matmul(ex, bnbq__func, a, w, state_x, state_w, M, N, K, out, bias, 1);
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_matmul_mixed_dequantize bnbq__cu_int8_matmul_mixed_dequantize

/* ---- 4-bit ---- */

static int bnbq__cu_log2(int v) {
    int s = 0;
    while ((1 << s) < v) s++;
    return s;
}

/* gemv_4bit (kernels_src/gemv4.cu): one block per SM (the per-lane lookup table and the staged
   activation fill 48 KB of static shared memory, 16 warps fill the registers), the groups of
   BNBQ__CU_G4_R rows split evenly over the blocks. A block of W warps takes its groups W at a time
   ("rounds"); W (8..16) is the fewest warps that keep the rounds of the fullest block, so that the
   last round is nearly full. Exact (CPU) summation order unless desc.gemv_fast_order (tensor cores,
   f16 / bf16). sm_80+: the weights stream through a per-thread cp.async ring in dynamic shared
   memory (BNBQ__CU_G4_RING bytes per thread, beyond the 48 KB a block gets without
   cuFuncSetAttribute), W at most what the device's shared memory holds. Unaligned inputs, or the
   shared memory not to be had: bnbq_k_gemv4_any (no ring, no dynamic shared memory). */
#define BNBQ__CU_G4_R 2      /* = BNBQ_G4_R in gemv4.cu */
#define BNBQ__CU_G4_MINW 8   /* = BNBQ_G4_MINT / 32 */
#define BNBQ__CU_G4_MAXW 16  /* = BNBQ_G4_MAXT / 32 */
#define BNBQ__CU_G4_DEPTH 4  /* = BNBQ_G4_DEPTH in gemv4.cu (sm_80+) */
#define BNBQ__CU_G4_RING (BNBQ__CU_G4_DEPTH * BNBQ__CU_G4_R * 20)
#define BNBQ__CU_G4TC_W 24   /* = BNBQ_G4TC_MAXW in gemv4.cu: warps per block */
/* the tensor-core gemv's dynamic shared memory: the activation (K * 2 bytes) and ceil(tiles / grid) *
   W * 16 floats (the partial sums of the block's tiles); above what the device gives a block (opt-in
   maximum minus the static table; e.g. an LM head of 128k rows on an sm_86) the other kernel */
#define BNBQ__CU_G4TC_STATIC (33 * 1024)   /* its static shared memory (the 32 KB table), and a margin */
static size_t bnbq__cu_g4tc_smem_max(bnbq_cuda* c) {
    const size_t optin = bnbq__cu_smem_optin(c);
    return optin < BNBQ__CU_G4TC_STATIC ? 0 : optin - BNBQ__CU_G4TC_STATIC;
}
/* rows per tile: 4 for bnbq_k_gemv4tc_w (K % 512 == 0: a warp's step reads 256 bytes of each of 4
   rows), else 16 (bnbq_k_gemv4tc: 64 bytes of each of 16 rows) */
static size_t bnbq__cu_g4tc_rows(size_t K) { return K % 512 == 0 ? 4 : 16; }
/* its grid: a block per SM, at most one per tile */
static size_t bnbq__cu_g4tc_grid(bnbq_cuda* c, size_t N, size_t K) {
    size_t tr = bnbq__cu_g4tc_rows(K), tiles = N / tr + (N % tr != 0);
    return tiles < bnbq__cu_sms(c) ? tiles : bnbq__cu_sms(c);
}
/* The gemv kernels' T64 form (kernels_src/gemv4.cu, the unit of bnbq__cu_g4_t64defs): the 64 KB
   lookup table at the first 64 KB boundary of the shared window after the first `used` bytes of the
   dynamic shared memory. The dynamic part starts between dmin and dmax bytes into the window (the
   reserved kilobyte and the kernel's static shared memory), so the block is given the boundary
   that dmax + used implies, + 64 KB, - dmin. */
static const char* const bnbq__cu_g4_t64defs[3] = { "", "BNBQ_DT=1 BNBQ_G4TC_T64=1", "BNBQ_DT=2 BNBQ_G4TC_T64=1" };
static size_t bnbq__cu_g4_t64_smem(size_t used, size_t dmin, size_t dmax) {
    return ((dmax + used + 0xffff) & ~(size_t)0xffff) + 0x10000 - dmin;
}
/* its dynamic shared memory; t64: the T64 form: the activation (K / 512 * 1152 bytes where K % 512
   == 0) and the sums, then the table (no static shared memory: the dynamic part starts at most the
   reserved kilobyte in) */
static size_t bnbq__cu_g4tc_smem(bnbq_cuda* c, size_t N, size_t K, int t64) {
    size_t tr = bnbq__cu_g4tc_rows(K), tiles = N / tr + (N % tr != 0), warps = BNBQ__CU_G4TC_W;
    size_t grid = bnbq__cu_g4tc_grid(c, N, K), sums, act;
    if (grid == 0) return 0;
    sums = (tiles / grid + (tiles % grid != 0)) * warps * tr * 4;
    if (!t64) return K * 2 + sums;
    act = tr == 4 ? K / 512 * 1152 : K * 2;
    return bnbq__cu_g4_t64_smem(act + sums, 0, 1024);
}
/* the T64 form where the block can have its shared memory (sm_80, sm_90: 164 / 228 KB; not sm_86 /
   sm_89), else the static table where that fits, else 0: the other kernels; *smem: the form's
   dynamic shared memory */
static int bnbq__cu_g4tc_form(bnbq_cuda* c, size_t N, size_t K, size_t* smem) {
    if ((*smem = bnbq__cu_g4tc_smem(c, N, K, 1)) <= bnbq__cu_smem_optin(c)) return 2;
    if ((*smem = bnbq__cu_g4tc_smem(c, N, K, 0)) <= bnbq__cu_g4tc_smem_max(c)) return 1;
    return 0;
}
#define BNBQ__CU_G4_STATIC (51 * 1024)   /* the kernel's static shared memory (49 KB on sm_90), and a margin */
static bnbq_result bnbq__cu_gemv_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                      const void* A, const uint8_t* packed, const float* absmax,
                                      size_t N, size_t K, int blocksize, void* out,
                                      const void* bias, const float* code) {
    static const char* const defs[2][3] = {
        { "BNBQ_DT=0", "BNBQ_DT=1 BNBQ_G4_FAST=1", "BNBQ_DT=2 BNBQ_G4_FAST=1" },   /* fast order */
        { "BNBQ_DT=0", "BNBQ_DT=1", "BNBQ_DT=2" } };                                /* exact order */
    bnbq__CUfunction f = NULL;
    int vec = bnbq__cu_al(packed, 16) && bnbq__cu_al(A, 16) && K < ((size_t)1 << 31);
    size_t maxw = BNBQ__CU_G4_MAXW, smem = 0, optin = 0, grid = 0, warps = 0;
    int form = 0;       /* the tensor-core kernel: 2 T64, 1 static table, 0 none (bnbq__cu_g4tc_form) */
    int set_smem = 0;   /* smem is above the 48 KB a block gets without cuFuncSetAttribute */
    BNBQ__CU_BEGIN("bnbq_gemv_4bit");
    /* (every gemv kernel waits for the kernel before it on the stream before its first global
       access, and is launched with programmatic dependent launch: queued behind another kernel it
       gets resident during that kernel's tail; back to back on the H100 +3-5 points,
       bench/results/gpu-20261122-h100-session12-gemv-pdl.txt. The tensor-core kernels also release
       the next kernel as they start, and prefetch their first weights into the L2 before their wait:
       +3-5 points more, -session16-gemv-pdl.txt) */
    if (c->desc.gemv_fast_order && dt != BNBQ_F32 && c->info.cc_major >= 8 && blocksize >= 64 &&
        K % 128 == 0 && K < ((size_t)1 << 31) && bnbq__cu_al(A, 16) && bnbq__cu_al(packed, 16) &&
        bnbq__cu_al(absmax, 8) && (form = bnbq__cu_g4tc_form(c, N, K, &smem)) != 0) {
        /* the tensor-core kernel (kernels_src/gemv4.cu, bnbq_k_gemv4tc, or _w where K % 512 == 0):
           one block of 24 warps per SM; the block's tiles' steps (16 rows x 128 elements, _w 4 rows x
           512) split evenly over its warps. In its T64 form (form 2: the table 64 KB-aligned in the
           dynamic shared memory, one PRMT a lookup address; +2-3 points single, +4 back to back on
           the H100, bench/results/gpu-20261122-h100-session13-gemv-t64.txt) where the shared memory
           can be had, else with the static table (the exact order's units, defs[1]). */
        r = bnbq__cu_kernel(ex, "gemv4", (form == 2 ? bnbq__cu_g4_t64defs : defs[1])[(int)dt],
                            bnbq__cu_g4tc_rows(K) == 4 ? "bnbq_k_gemv4tc_w" : "bnbq_k_gemv4tc", &f);
        grid = bnbq__cu_g4tc_grid(c, N, K);
        warps = BNBQ__CU_G4TC_W;
        set_smem = form == 2 || smem > 48 * 1024 - BNBQ__CU_G4TC_STATIC;
    } else {
        const char* def = defs[c->desc.gemv_fast_order == 0][(int)dt];
        size_t groups = N / BNBQ__CU_G4_R + (N % BNBQ__CU_G4_R != 0), most, rounds;
        smem = 0;
        if (vec && c->info.cc_major >= 8) {   /* the ring: W capped by the shared memory (opt-in) */
            optin = bnbq__cu_smem_optin(c);
            if (optin < BNBQ__CU_G4_STATIC + 32 * BNBQ__CU_G4_MINW * BNBQ__CU_G4_RING)
                vec = 0;
            else if ((optin - BNBQ__CU_G4_STATIC) / (32 * BNBQ__CU_G4_RING) < maxw)
                maxw = (optin - BNBQ__CU_G4_STATIC) / (32 * BNBQ__CU_G4_RING);
        }
        grid = groups < bnbq__cu_sms(c) ? groups : bnbq__cu_sms(c);
        most = groups / grid + (groups % grid != 0);              /* groups of the fullest block */
        rounds = most / maxw + (most % maxw != 0);
        warps = most / rounds + (most % rounds != 0);
        if (warps < BNBQ__CU_G4_MINW) warps = BNBQ__CU_G4_MINW;
        if (vec && c->info.cc_major >= 8) {
            smem = 32 * warps * BNBQ__CU_G4_RING;
            /* the exact order in f16 / bf16: the kernel's T64 form (kernels_src/gemv4.cu, BNBQ_G4_T64X)
               where its shared memory can be had: the ring, then the 64 KB table at the next 64 KB
               boundary of the window, whose dynamic part starts after the reserved kilobyte and the
               16 KB of static activation segments (assumed at most 17424 bytes in, at least 16384) */
            if (!c->desc.gemv_fast_order && dt != BNBQ_F32) {
                size_t t6 = bnbq__cu_g4_t64_smem(smem, 16384, 17424);
                if (t6 <= optin) {
                    def = bnbq__cu_g4_t64defs[(int)dt];
                    smem = t6;
                }
            }
        }
        r = bnbq__cu_kernel(ex, "gemv4", def, vec ? "bnbq_k_gemv4" : "bnbq_k_gemv4_any", &f);
        set_smem = smem != 0;
    }
    if (r == BNBQ_SUCCESS) {   /* every gemv kernel takes the same arguments */
        bnbq__cu_code16 tab;
        const float* src = code ? code : bnbq_code_4bit(qt);
        unsigned long long NN = N, KK = K;
        int shift = bnbq__cu_log2(blocksize);
        void* a[9];
        if (set_smem) r = bnbq__cu_allow_smem(ex, bnbq__func, f, (unsigned)smem);
        memcpy(tab.v, src, sizeof tab.v);
        a[0] = (void*)&A; a[1] = (void*)&packed; a[2] = (void*)&absmax; a[3] = &NN; a[4] = &KK;
        a[5] = &shift; a[6] = &out; a[7] = (void*)&bias; a[8] = &tab;
        if (r == BNBQ_SUCCESS)
            r = bnbq__cu_launch_pdl(ex, bnbq__func, f, (unsigned)grid, 1, (unsigned)(32 * warps), (unsigned)smem, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gemv_4bit bnbq__cu_gemv_4bit

#define BNBQ__CU_M4M_W 8               /* warps a block of bnbq_k_matmul4_mma (the kernel's BNBQ_M4M_W) */
static int bnbq__cu_m4_mma_off = 0;   /* bench and test switch: the 64 x 64 tiles for every M */
/* one variant per dtype of A, bias and out (kernels_src/matmul4.cu, BNBQ_DT) */
static const char* const bnbq__cu_m4_defs[3] = { "BNBQ_DT=0", "BNBQ_DT=1", "BNBQ_DT=2" };

static int bnbq__cu_m4_wg_off = 0;    /* bench and test switch: no bnbq_k_m4_wg (the 64 x 64 tiles for many rows) */
/* the 16 values of qt's table as the matmul kernels take them (the NF4 values, or bnbq_fp4_value for FP4) */
static void bnbq__cu_m4_table(bnbq_quant_type qt, bnbq__cu_code16* tab) {
    int i;
    for (i = 0; i < 16; i++) tab->v[i] = qt == BNBQ_NF4 ? bnbq_code_4bit(BNBQ_NF4)[i] : bnbq_fp4_value(i);
}
/* Whether bnbq_matmul_4bit's many rows (M > 16) take bnbq_k_m4_wg (gemm90.cu: the sm_90a tiles that convert the
   4-bit weight in registers): f16 / bf16, bnbq__cu_wg_ok, K % 32 == 0 (rows of 16-byte multiples of packed bytes),
   N % 8 == 0 (out's rows), A, packed and out 16-byte aligned, the shape below 2^31 */
static int bnbq__cu_m4_wg_can(bnbq_cuda* c, bnbq_dtype dt, const void* A, const uint8_t* packed, const void* out,
                              size_t M, size_t N, size_t K) {
    return M > 16 && dt != BNBQ_F32 && !bnbq__cu_m4_wg_off && bnbq__cu_wg_ok(c) && K % 32 == 0 && K > 0 &&
           N % 8 == 0 && bnbq__cu_al(A, 16) && bnbq__cu_al(packed, 16) && bnbq__cu_al(out, 16) && M < 0x7fffffffu &&
           N < 0x7fffffffu && K < 0x7fffffffu;
}
/* bnbq_k_m4_wg: tensor maps of A (M, K) (boxes 64 k x BNBQ__CU_G9_M4T m), the packed weight as N rows of K / 2
   bytes (boxes 128 bytes x 128 rows) and out (M, N) (64 x 64); a persistent grid of 384-thread blocks. A refused map: the
   context's sm_90a tiles off (bnbq__cu_tmap_refused: NOT_SUPPORTED, the caller takes the 64 x 64 tiles). */
static bnbq_result bnbq__cu_m4_wg(bnbq_exec* ex, const char* func, bnbq_dtype dt, const void* A, const uint8_t* packed,
                                  const float* absmax, size_t M, size_t N, size_t K, int shift, void* out,
                                  const void* bias, bnbq__cu_code16* tab) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    unsigned char mbuf[BNBQ__CU_G9_MAPBUF];
    unsigned long long MM = M, NN = N, KK = K;
    size_t tiles = (M / BNBQ__CU_G9_M4T + (M % BNBQ__CU_G9_M4T != 0)) * (N / 128 + (N % 128 != 0));
    void* a[10];
    bnbq__CUresult e;
    bnbq__cu_wg_maps(mbuf, a);
    e = bnbq__cu_tmap(a[0], A, 2u, K, M, BNBQ__CU_G9_M4T);
    if (e == BNBQ__CUDA_SUCCESS) e = bnbq__cu_tmap(a[1], packed, 1u, K / 2, N, 128u);
    if (e == BNBQ__CUDA_SUCCESS) e = bnbq__cu_tmap(a[2], out, 2u, N, M, 64u);
    if (e != BNBQ__CUDA_SUCCESS) return bnbq__cu_tmap_refused(ex, func, e);
    a[3] = &MM; a[4] = &NN; a[5] = &KK; a[6] = (void*)&bias; a[7] = (void*)&absmax; a[8] = &shift; a[9] = tab;
    return bnbq__cu_wg_run(ex, func, dt == BNBQ_F16 ? "BNBQ_DT=1 BNBQ_ARCH_A=1" : "BNBQ_DT=2 BNBQ_ARCH_A=1",
                           "bnbq_k_m4_wg", BNBQ__CU_G9_SMEM_M4, tiles, a, &c->m4_wg_launches);
}
static bnbq_result bnbq__cu_matmul_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                        const void* A, const uint8_t* packed, const float* absmax,
                                        size_t M, size_t N, size_t K, int blocksize, void* out,
                                        const void* bias, const float* code) {
    bnbq__CUfunction f = NULL;
    unsigned gx = 0;
    int mma;
    BNBQ__CU_BEGIN("bnbq_matmul_4bit");
    (void)code;   /* the dequantize + GEMM path uses the built-in table, as the CPU */
    if (bnbq__cu_m4_wg_can(c, dt, A, packed, out, M, N, K)) {   /* Hopper, many rows: TMA and wgmma */
        bnbq__cu_code16 tab;
        bnbq__cu_m4_table(qt, &tab);
        r = bnbq__cu_m4_wg(ex, bnbq__func, dt, A, packed, absmax, M, N, K, bnbq__cu_log2(blocksize), out, bias, &tab);
        if (r != BNBQ_ERROR_NOT_SUPPORTED) {
            BNBQ__CU_END();
        }
        r = BNBQ_SUCCESS;   /* tensor maps refused: the 64 x 64 tiles */
    }
    mma = M >= 2 && M <= 16 && dt != BNBQ_F32 && c->target_arch >= 80 && K % 32 == 0 &&
          bnbq__cu_al(packed, 16) && bnbq__cu_al(A, 16) && !bnbq__cu_m4_mma_off;
    r = bnbq__cu_tiles_x(ex, bnbq__func, N, &gx);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "matmul4", bnbq__cu_m4_defs[(int)dt], mma ? "bnbq_k_matmul4_mma" : "bnbq_k_matmul4", &f);
    if (r == BNBQ_SUCCESS) {   /* both kernels take the same arguments */
        bnbq__cu_code16 tab;
        unsigned long long MM = M, NN = N, KK = K;
        int shift = bnbq__cu_log2(blocksize);
        void* a[10];
        bnbq__cu_m4_table(qt, &tab);
        a[0] = (void*)&A; a[1] = (void*)&packed; a[2] = (void*)&absmax; a[3] = &MM;
        a[4] = &NN; a[5] = &KK; a[6] = &shift; a[7] = &out; a[8] = (void*)&bias; a[9] = &tab;
        if (mma) {   /* a few tokens: 16 rows of W a block (bnbq_k_matmul4_mma) */
            r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, N, 16), 1, 32 * BNBQ__CU_M4M_W, 0, a);
            if (r == BNBQ_SUCCESS) {
                bnbq__ctx_lock(c);
                c->m4_mma_launches++;
                bnbq__ctx_unlock(c);
            }
        } else {
            r = bnbq__cu_launch(ex, bnbq__func, f, gx, bnbq__cu_min_u(M / 64 + (M % 64 != 0), 65535), 256,
                                0, a);
        }
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_matmul_4bit bnbq__cu_matmul_4bit

#define BNBQ__CU_VARIANTS_INT8 \
    { "int8", "BNBQ_I8_PART=1" }, \
    { "int8", "BNBQ_I8_PART=2" }, \
    { "int8", "BNBQ_I8_PART=3" }, \
    { "int8", "BNBQ_I8_PART=4" }, \
    { "int8mm", "" }, \
    { "switchback", "" }, \
    { "gemv4", "BNBQ_DT=0" }, \
    { "gemv4", "BNBQ_DT=1" }, \
    { "gemv4", "BNBQ_DT=2" }, \
    { "gemv4", "BNBQ_DT=1 BNBQ_G4_FAST=1" }, \
    { "gemv4", "BNBQ_DT=2 BNBQ_G4_FAST=1" }, \
    { "gemv4", "BNBQ_DT=1 BNBQ_G4TC_T64=1" }, \
    { "gemv4", "BNBQ_DT=2 BNBQ_G4TC_T64=1" }, \
    { "matmul4", "BNBQ_DT=0" }, \
    { "matmul4", "BNBQ_DT=1" }, \
    { "matmul4", "BNBQ_DT=2" },
/* ==== end of int8 / SwitchBack / 4-bit matmul ops ==== */

/* ==== prims: the layers' building blocks (owner: gpuprims) ==== */
/* Kernels: kernels_src/prims.cu, a unit per dtype (BNBQ_DT) for the float ops and one without -D
   for the dtype-free data movement (transpose, gather_rows, gather_columns). No launcher waits for
   the host or allocates; index errors set the context's sticky flag (bnbq__cup_err), which
   bnbq_sync (bnbq__cu_sync) reports as BNBQ_ERROR_INVALID_ARGS. The flag is per context: with
   several streams, bnbq_sync on one of them may report another stream's error. */

/* The sticky error flag (a device u32, allocated and zeroed on the first use of the context) for a
   kernel about to be queued; marks the context for bnbq_sync's read-back. */
static bnbq_result bnbq__cup_err(bnbq_exec* ex, const char* func, void** out) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq_result r = BNBQ_SUCCESS;
    bnbq__ctx_lock(c);
    if (!c->err_flag) {
        bnbq__CUdeviceptr p = 0;
        r = bnbq__cu_check(ex, func, "cuMemAlloc", BNBQ__DRV.bnbq__cuMemAlloc(&p, 4));
        if (r == BNBQ_SUCCESS) {
            r = bnbq__cu_check(ex, func, "cuMemsetD8Async",
                               BNBQ__DRV.bnbq__cuMemsetD8Async(p, 0, 4, (bnbq__CUstream)ex->stream));
            if (r == BNBQ_SUCCESS) c->err_flag = (void*)(uintptr_t)p;
            else BNBQ__DRV.bnbq__cuMemFree(p);
        }
    }
    if (r == BNBQ_SUCCESS) {
        c->err_armed = 1;
        *out = c->err_flag;
    }
    bnbq__ctx_unlock(c);
    return r;
}

static unsigned bnbq__cup_tiles(size_t n, size_t t, unsigned cap) {
    size_t g = n / t + (n % t != 0);
    return (unsigned)(g < cap ? g : cap);
}

#define BNBQ__CU_GEMM_FW 8            /* warps a block of bnbq_k_gemm_mma (the kernel's PR_FW) */
#define BNBQ__CU_GEMM_NW 8            /* warps a block of bnbq_k_gemm_mma_nn (the kernel's PR_NW) */
#define BNBQ__CU_GEMM_KW 4            /* warps a block of bnbq_k_gemm_smallk (the kernel's PR_KW) */
static int bnbq__cu_gemm_mma_off = 0;  /* bench and test switch: no tensor-core kernel for a few tokens */
static int bnbq__cu_gemm_t2_off = 0;   /* bench and test switch: bnbq_k_gemm_tc instead of bnbq_k_gemm_t2_* */
#define BNBQ__CU_T2_S 3               /* stages of bnbq_k_gemm_t2_* (the kernels' PR_T2_S) */
/* Launches one of bnbq_gemm's kernels that take (A, B, M, N, K, bias, accumulate, out): `grid` blocks of
   `threads`, smem bytes of dynamic shared memory (asked for where past the default 48 KB); counts the
   launch in *count (the tests' record of which kernel ran). */
static bnbq_result bnbq__cu_gemm_launch(bnbq_exec* ex, const char* func, bnbq_dtype dt, const char* kernel,
                                        const void* A, const void* B, size_t M, size_t N, size_t K,
                                        const void* bias, int accumulate, void* out, unsigned grid,
                                        unsigned threads, unsigned smem, unsigned long* count) {
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    bnbq__CUfunction f = NULL;
    unsigned long long MM = M, NN = N, KK = K;
    int acc = accumulate != 0;
    void* a[8];
    bnbq_result r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], kernel, &f);
    a[0] = (void*)&A; a[1] = (void*)&B; a[2] = &MM; a[3] = &NN; a[4] = &KK;
    a[5] = (void*)&bias; a[6] = &acc; a[7] = &out;
    if (r == BNBQ_SUCCESS && smem > 49152u) r = bnbq__cu_allow_smem(ex, func, f, smem);
    /* (every kernel launched here waits for the kernel before it first: its launch overlaps that one's end) */
    if (r == BNBQ_SUCCESS) r = bnbq__cu_launch_pdl(ex, func, f, grid, 1, threads, smem, a);
    if (r == BNBQ_SUCCESS) {
        bnbq__ctx_lock(c);
        (*count)++;
        bnbq__ctx_unlock(c);
    }
    return r;
}
/* bnbq_gemm on the sm_90a tiles (kernels_src/gemm90.cu): TMA copies and wgmma, 128 x 256 tiles where they
   give at least as many tiles as SMs twice over, else 128 x 128; a persistent grid of at most one block an
   SM; the outputs leave by TMA stores (a third map). The caller checked: f16 / bf16, a cubin target of sm_90,
   cuTensorMapEncodeTiled, A, B and out 16-byte aligned, each operand's contiguous dimension a multiple of 8
   (its rows 16-byte multiples), N too, no accumulate (the old out would have to be read). A driver that
   refuses the tensor maps: one WARN line, BNBQ_ERROR_NOT_SUPPORTED (the caller takes the sm_80 tiles) and
   the context never asks again (wg_off); likewise an sm_90a unit that does not compile. */
static bnbq_result bnbq__cu_gemm_wg(bnbq_exec* ex, const char* func, bnbq_dtype dt, int trans_a, int trans_b,
                                    size_t M, size_t N, size_t K, const void* A, const void* B, const void* bias,
                                    void* out) {
    static const char* const kn[2][4] = {
        { "bnbq_k_gemm_wg_nn", "bnbq_k_gemm_wg_nt", "bnbq_k_gemm_wg_tn", "bnbq_k_gemm_wg_tt" },
        { "bnbq_k_gemm_wg2_nn", "bnbq_k_gemm_wg2_nt", "bnbq_k_gemm_wg2_tn", "bnbq_k_gemm_wg2_tt" } };
    bnbq_cuda* c = (bnbq_cuda*)ex->impl;
    unsigned char mbuf[BNBQ__CU_G9_MAPBUF];
    unsigned long long MM = M, NN = N, KK = K;
    size_t sms = bnbq__cu_sms(c), tm = M / 128 + (M % 128 != 0);
    int wide = bnbq__cu_gemm_wg_bn ? bnbq__cu_gemm_wg_bn == 256 : tm * (N / 256 + (N % 256 != 0)) >= 2 * sms;
    unsigned bn = wide ? 256u : 128u, stages = wide ? BNBQ__CU_G9_S256 : BNBQ__CU_G9_S128;
    size_t tiles = tm * (N / bn + (N % bn != 0));
    void* a[7];
    bnbq__CUresult e;
    bnbq__cu_wg_maps(mbuf, a);
    /* A: (M, K) K contiguous, boxes 64 k x 128 m; trans_a (K, M): boxes 64 m x 64 k. B with trans_b (N, K): 64 k x
       bn n; else (K, N): 64 n x 64 k */
    e = trans_a ? bnbq__cu_tmap(a[0], A, 2u, M, K, 64u) : bnbq__cu_tmap(a[0], A, 2u, K, M, 128u);
    if (e == BNBQ__CUDA_SUCCESS) e = trans_b ? bnbq__cu_tmap(a[1], B, 2u, K, N, bn) : bnbq__cu_tmap(a[1], B, 2u, N, K, 64u);
    if (e == BNBQ__CUDA_SUCCESS) e = bnbq__cu_tmap(a[2], out, 2u, N, M, 64u);   /* out (M, N): boxes 64 n x 64 m */
    if (e != BNBQ__CUDA_SUCCESS) return bnbq__cu_tmap_refused(ex, func, e);
    a[3] = &MM; a[4] = &NN; a[5] = &KK; a[6] = (void*)&bias;
    return bnbq__cu_wg_run(ex, func, dt == BNBQ_F16 ? "BNBQ_DT=1 BNBQ_ARCH_A=1" : "BNBQ_DT=2 BNBQ_ARCH_A=1",
                           kn[wide][(trans_a != 0) * 2 + (trans_b != 0)], BNBQ__CU_G9_SMEM(bn, stages, 2u) + BNBQ__CU_G9_BIAS(bn), tiles, a,
                           NULL);
}
static bnbq_result bnbq__cu_gemm(bnbq_exec* ex, bnbq_dtype dt, int trans_a, int trans_b, size_t M,
                                 size_t N, size_t K, const void* A, const void* B,
                                 const void* bias, int accumulate, void* out) {
    bnbq__CUfunction f = NULL;
    unsigned gx = 0;
    int tc;
    BNBQ__CU_BEGIN("bnbq_gemm");
    if (M >= 2 && M <= 16 && trans_b && !trans_a && dt != BNBQ_F32 && c->target_arch >= 80 && K % 16 == 0 &&
        bnbq__cu_al(A, 16) && bnbq__cu_al(B, 16) && !bnbq__cu_gemm_mma_off) {
        /* a few tokens on tensor cores: 16 rows of W a block of BNBQ__CU_GEMM_FW warps (bnbq_k_gemm_mma) */
        r = bnbq__cu_gemm_launch(ex, bnbq__func, dt, "bnbq_k_gemm_mma", A, B, M, N, K, bias, accumulate, out,
                                 bnbq__grid(c, N, 16), 32 * BNBQ__CU_GEMM_FW, 0, &c->gemm_mma_launches);
        BNBQ__CU_END();
    }
    if (trans_a && !trans_b && K >= 1 && K <= 16 && M % 4 == 0 && N % 8 == 0 && dt != BNBQ_F32 &&
        c->target_arch >= 80 && bnbq__cu_al(A, 8) && bnbq__cu_al(B, 8) && bnbq__cu_al(out, 16) &&
        !bnbq__cu_gemm_mma_off) {
        /* A^T @ B over a few tokens (the backward's weight gradient) on tensor cores, one k-step: 64 x
           32 outputs a warp, BNBQ__CU_GEMM_KW warps a block, 16-byte stores (bnbq_k_gemm_smallk) */
        size_t tiles = ((M + 63) / 64) * ((N + 32 * BNBQ__CU_GEMM_KW - 1) / (32 * BNBQ__CU_GEMM_KW));
        r = bnbq__cu_gemm_launch(ex, bnbq__func, dt, "bnbq_k_gemm_smallk", A, B, M, N, K, bias, accumulate, out,
                                 bnbq__grid(c, tiles, 1), 32 * BNBQ__CU_GEMM_KW, 0, &c->gemm_mma_launches);
        BNBQ__CU_END();
    }
    if (M >= 1 && M <= 16 && !trans_b && !trans_a && dt != BNBQ_F32 && c->target_arch >= 80 && K % 16 == 0 &&
        N % 4 == 0 && bnbq__cu_al(A, 8) && bnbq__cu_al(B, 8) && !bnbq__cu_gemm_mma_off) {
        /* a few tokens times W stored (K, N) (the backward's dY @ W) on tensor cores: 32 columns of W
           a block of BNBQ__CU_GEMM_NW warps (bnbq_k_gemm_mma_nn); the 128 x 128 tiles below had only
           N / 128 blocks for it */
        r = bnbq__cu_gemm_launch(ex, bnbq__func, dt, "bnbq_k_gemm_mma_nn", A, B, M, N, K, bias, accumulate, out,
                                 bnbq__grid(c, N, 32), 32 * BNBQ__CU_GEMM_NW, 0, &c->gemm_mma_launches);
        BNBQ__CU_END();
    }
    if (M <= 64 && trans_b) {
        /* few rows, B stored (N, K) (X @ W^T with few tokens): a warp per 4 columns streams the W
           rows with 16-byte loads; blockIdx.x the group of 1 or 4 rows, 4 warps a block (a 16-row
           kernel was 2x faster at 16 tokens but took 1.5-2.5 s to compile) */
        size_t es = bnbq_dtype_size(dt), mr = M == 1 ? 1 : 4;
        size_t groups = (N + 3) / 4, gy = (groups + 3) / 4;
        const char* kn = mr == 1 ? "bnbq_k_gemm_few1" : "bnbq_k_gemm_few4";
        int vec = (K * es) % 16 == 0 && (uintptr_t)B % 16 == 0 && (trans_a || (uintptr_t)A % 16 == 0);
        r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], kn, &f);
        if (r == BNBQ_SUCCESS) {
            unsigned long long MM = M, NN = N, KK = K;
            int ta = trans_a != 0, acc = accumulate != 0;
            void* a[10];
            a[0] = (void*)&A; a[1] = (void*)&B; a[2] = &MM; a[3] = &NN; a[4] = &KK; a[5] = &ta;
            a[6] = (void*)&bias; a[7] = &acc; a[8] = &out; a[9] = &vec;
            r = bnbq__cu_launch(ex, bnbq__func, f, (unsigned)((M + mr - 1) / mr),
                                (unsigned)(gy < 65535 ? gy : 65535), 128, 0, a);
        }
        BNBQ__CU_END();
    }
    if (dt != BNBQ_F32 && bnbq__cu_wg_ok(c) && !bnbq__cu_gemm_t2_off && !accumulate && bnbq__cu_al(A, 16) && bnbq__cu_al(B, 16) &&
        bnbq__cu_al(out, 16) && (trans_a ? M : K) % 8 == 0 && (trans_b ? K : N) % 8 == 0 && N % 8 == 0 &&
        M < 0x7fffffffu && N < 0x7fffffffu && K < 0x7fffffffu && K > 0) {
        /* Hopper: TMA and wgmma (bnbq__cu_gemm_wg); tensor maps refused: the sm_80 tiles below */
        r = bnbq__cu_gemm_wg(ex, bnbq__func, dt, trans_a, trans_b, M, N, K, A, B, bias, out);
        if (r != BNBQ_ERROR_NOT_SUPPORTED) {
            BNBQ__CU_END();
        }
        r = BNBQ_SUCCESS;
    }
    if (dt != BNBQ_F32 && c->target_arch >= 80 && !bnbq__cu_gemm_t2_off && bnbq__cu_al(A, 16) && bnbq__cu_al(B, 16) &&
        (trans_a ? M : K) % 8 == 0 && (trans_b ? K : N) % 8 == 0) {
        /* tensor cores fed by cp.async and ldmatrix (bnbq_k_gemm_t2_*): 128 x 128 tiles over a grid of at
           most 32 blocks an SM, BNBQ__CU_T2_S stages of 16 KB of dynamic shared memory; one kernel per
           storage order (each operand's contiguous dimension a multiple of 8 elements: 16-byte copies) */
        static const char* const kn[4] = { "bnbq_k_gemm_t2_nn", "bnbq_k_gemm_t2_nt", "bnbq_k_gemm_t2_tn",
                                           "bnbq_k_gemm_t2_tt" };
        size_t tiles = (M / 128 + (M % 128 != 0)) * (N / 128 + (N % 128 != 0));
        r = bnbq__cu_gemm_launch(ex, bnbq__func, dt, kn[(trans_a != 0) * 2 + (trans_b != 0)], A, B, M, N, K, bias,
                                 accumulate, out, bnbq__grid(c, tiles, 1), 256, BNBQ__CU_T2_S * 16384u,
                                 &c->gemm_t2_launches);
        BNBQ__CU_END();
    }
    tc = dt != BNBQ_F32 && c->target_arch >= 80;   /* tensor cores (mma.sync): 128 x 128 tiles */
    if (tc) {
        size_t t = N / 128 + (N % 128 != 0);
        gx = (unsigned)(t < 0x7fffffffu ? t : 0x7fffffffu);
    } else {
        r = bnbq__cu_tiles_x(ex, bnbq__func, N, &gx);
    }
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], tc ? "bnbq_k_gemm_tc" : "bnbq_k_gemm", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, NN = N, KK = K;
        int ta = trans_a != 0, tb = trans_b != 0, acc = accumulate != 0;
        void* a[10];
        a[0] = (void*)&A; a[1] = (void*)&B; a[2] = &MM; a[3] = &NN; a[4] = &KK; a[5] = &ta;
        a[6] = &tb; a[7] = (void*)&bias; a[8] = &acc; a[9] = &out;
        r = bnbq__cu_launch(ex, bnbq__func, f, gx, bnbq__cup_tiles(M, tc ? 128 : 64, 65535), 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gemm bnbq__cu_gemm

static bnbq_result bnbq__cu_column_sums(bnbq_exec* ex, bnbq_dtype dt, const void* X, size_t M,
                                        size_t N, void* out) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_column_sums");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_colsum", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, NN = N;
        void* a[4];
        a[0] = (void*)&X; a[1] = &MM; a[2] = &NN; a[3] = &out;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, N, 32), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_column_sums bnbq__cu_column_sums

static bnbq_result bnbq__cu_transpose(bnbq_exec* ex, size_t elem_size, const void* src, size_t rows,
                                      size_t cols, void* dst) {
    bnbq__CUfunction f = NULL;
    size_t tx = cols / 32 + (cols % 32 != 0);
    BNBQ__CU_BEGIN("bnbq_transpose");
    if (tx > 0x7fffffffu) {
        bnbq_log(ex, BNBQ_LOG_ERROR, bnbq__func, "cols is too large for one launch");
        r = BNBQ_ERROR_BAD_SHAPE;
    }
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_kernel(ex, "prims", "", elem_size == 1 ? "bnbq_k_transpose1"
                                           : elem_size == 2 ? "bnbq_k_transpose2"
                                           : elem_size == 4 ? "bnbq_k_transpose4"
                                                            : "bnbq_k_transpose8", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long R = rows, C = cols;
        void* a[4];
        a[0] = (void*)&src; a[1] = &R; a[2] = &C; a[3] = &dst;
        r = bnbq__cu_launch(ex, bnbq__func, f, (unsigned)tx, bnbq__cup_tiles(rows, 32, 65535), 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_transpose bnbq__cu_transpose

static bnbq_result bnbq__cu_gather_rows(bnbq_exec* ex, const void* table, size_t num_rows,
                                        size_t row_bytes, const int32_t* idx, size_t count,
                                        void* out) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_gather_rows");
    r = bnbq__cu_kernel(ex, "prims", "", "bnbq_k_gather_rows", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long NR = num_rows, RB = row_bytes, CN = count;
        int vec = (row_bytes % 16 == 0 && bnbq__cu_al(table, 16) && bnbq__cu_al(out, 16)) ? 16
                : (row_bytes % 4 == 0 && bnbq__cu_al(table, 4) && bnbq__cu_al(out, 4)) ? 4 : 1;
        void* a[8];
        a[0] = (void*)&table; a[1] = &NR; a[2] = &RB; a[3] = (void*)&idx; a[4] = &CN; a[5] = &out;
        a[6] = &vec; a[7] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, count, 8), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gather_rows bnbq__cu_gather_rows

/* grad_weight zero-filled, then a block per occurrence (the first occurrence of a row sums it) */
static bnbq_result bnbq__cu_gather_rows_backward(bnbq_exec* ex, bnbq_dtype dt, const int32_t* idx,
                                                 size_t count, const void* grad_out,
                                                 size_t num_rows, size_t dim, int64_t padding_idx,
                                                 int scale_grad_by_freq, void* grad_weight) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_gather_rows_backward");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_embed_bwd", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_memset0(ex, bnbq__func, grad_weight, num_rows * dim * bnbq_dtype_size(dt));
    if (r == BNBQ_SUCCESS) {
        unsigned long long CN = count, NR = num_rows, D = dim;
        long long pad = (long long)padding_idx;
        int freq = scale_grad_by_freq != 0;
        void* a[9];
        a[0] = (void*)&idx; a[1] = &CN; a[2] = (void*)&grad_out; a[3] = &NR; a[4] = &D;
        a[5] = &pad; a[6] = &freq; a[7] = &grad_weight; a[8] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, count, 1), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gather_rows_backward bnbq__cu_gather_rows_backward

static bnbq_result bnbq__cu_renorm_rows(bnbq_exec* ex, bnbq_dtype dt, void* weight, size_t num_rows,
                                        size_t dim, const int32_t* idx, size_t count,
                                        float max_norm, float norm_type) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_renorm_rows");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt],
                        norm_type == 2.0f ? "bnbq_k_renorm2"
                        : norm_type == 1.0f ? "bnbq_k_renorm1" : "bnbq_k_renorm_pow", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long NR = num_rows, D = dim, CN = count;
        void* a[8];
        a[0] = &weight; a[1] = &NR; a[2] = &D; a[3] = (void*)&idx; a[4] = &CN; a[5] = &max_norm;
        a[6] = &norm_type; a[7] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, count, 1), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_renorm_rows bnbq__cu_renorm_rows

static bnbq_result bnbq__cu_layer_norm(bnbq_exec* ex, bnbq_dtype dt, const void* X, size_t M,
                                       size_t N, const float* gamma, const float* beta, float eps,
                                       void* out, float* out_mean, float* out_rstd) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_layer_norm");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_layer_norm", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, NN = N;
        void* a[9];
        a[0] = (void*)&X; a[1] = &MM; a[2] = &NN; a[3] = (void*)&gamma; a[4] = (void*)&beta;
        a[5] = &eps; a[6] = &out; a[7] = (void*)&out_mean; a[8] = (void*)&out_rstd;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, M, 1), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_layer_norm bnbq__cu_layer_norm

/* grad_x: a block per row; grad_gamma / grad_beta: zero-filled, then blocks of 32 rows add their
   column sums atomically (float32; the order of the additions varies from run to run) */
static bnbq_result bnbq__cu_layer_norm_backward(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                                const void* grad_out, size_t M, size_t N,
                                                const float* gamma, float eps, const float* mean,
                                                const float* rstd, void* grad_x,
                                                float* grad_gamma, float* grad_beta) {
    bnbq__CUfunction fx = NULL, fp = NULL;
    BNBQ__CU_BEGIN("bnbq_layer_norm_backward");
    if (grad_x) r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_ln_bwd_x", &fx);
    if (r == BNBQ_SUCCESS && (grad_gamma || grad_beta))
        r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_ln_bwd_params", &fp);
    if (r == BNBQ_SUCCESS && grad_x) {
        unsigned long long MM = M, NN = N;
        void* a[9];
        a[0] = (void*)&X; a[1] = (void*)&grad_out; a[2] = &MM; a[3] = &NN; a[4] = (void*)&gamma;
        a[5] = &eps; a[6] = (void*)&mean; a[7] = (void*)&rstd; a[8] = &grad_x;
        r = bnbq__cu_launch(ex, bnbq__func, fx, bnbq__grid(c, M, 1), 1, 256, 0, a);
    }
    if (r == BNBQ_SUCCESS && grad_gamma) r = bnbq__cu_memset0(ex, bnbq__func, grad_gamma, N * 4);
    if (r == BNBQ_SUCCESS && grad_beta) r = bnbq__cu_memset0(ex, bnbq__func, grad_beta, N * 4);
    if (r == BNBQ_SUCCESS && (grad_gamma || grad_beta)) {
        unsigned long long MM = M, NN = N;
        void* a[9];
        a[0] = (void*)&X; a[1] = (void*)&grad_out; a[2] = &MM; a[3] = &NN; a[4] = &eps;
        a[5] = (void*)&mean; a[6] = (void*)&rstd; a[7] = (void*)&grad_gamma; a[8] = (void*)&grad_beta;
        r = bnbq__cu_launch(ex, bnbq__func, fp, bnbq__grid(c, M, 32), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_layer_norm_backward bnbq__cu_layer_norm_backward

static bnbq_result bnbq__cu_gather_rows_8bit(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CB,
                                             const float* SCB, size_t num_rows, size_t dim,
                                             const int32_t* idx, size_t count, void* out) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_gather_rows_8bit");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_gather8", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long NR = num_rows, D = dim, CN = count;
        void* a[8];
        a[0] = (void*)&CB; a[1] = (void*)&SCB; a[2] = &NR; a[3] = &D; a[4] = (void*)&idx;
        a[5] = &CN; a[6] = &out; a[7] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, count, 8), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gather_rows_8bit bnbq__cu_gather_rows_8bit

static bnbq_result bnbq__cu_gather_rows_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                             const uint8_t* packed, const float* absmax,
                                             size_t num_rows, size_t dim, int blocksize,
                                             const int32_t* idx, size_t count, void* out) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_gather_rows_4bit");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_gather4", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        bnbq__cu_code16 tab;
        unsigned long long NR = num_rows, D = dim, CN = count;
        int shift = bnbq__cu_log2(blocksize);
        void* a[10];
        bnbq__cu_m4_table(qt, &tab);   /* bnbq__dequant4's factors */
        a[0] = (void*)&packed; a[1] = (void*)&absmax; a[2] = &NR; a[3] = &D; a[4] = &shift;
        a[5] = (void*)&idx; a[6] = &CN; a[7] = &out; a[8] = &tab; a[9] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, count, 8), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gather_rows_4bit bnbq__cu_gather_rows_4bit

static bnbq_result bnbq__cu_int8_outlier_mm(bnbq_exec* ex, bnbq_dtype dt, const void* A, size_t M,
                                            size_t K, const int8_t* CB, const float* SCB, size_t N,
                                            const int32_t* cols, const int32_t* num_cols,
                                            void* out) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    int few = M <= BNBQ__CU_OUTLIER_FEW;
    BNBQ__CU_BEGIN("bnbq_int8_outlier_mm");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], few ? "bnbq_k_outlier_mm_few" : "bnbq_k_outlier_mm", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, KK = K, NN = N;
        void* a[10];
        a[0] = (void*)&A; a[1] = &MM; a[2] = &KK; a[3] = (void*)&CB; a[4] = (void*)&SCB; a[5] = &NN;
        a[6] = (void*)&cols; a[7] = (void*)&num_cols; a[8] = &out; a[9] = &err;
        /* 64 x 64 output tiles (few rows: 16 x 16): x the n tile, y (grid-stride) the m tile */
        const unsigned t = few ? 16u : 64u;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__cup_tiles(N, t, 0x7fffffffu),
                            bnbq__cup_tiles(M, t, 65535), 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_outlier_mm bnbq__cu_int8_outlier_mm

/* bnbq_int8_outlier_mm's sums for more than BNBQ__CU_OUTLIER_FEW rows with the outlier columns gathered
   first into ws (cap columns: cap * (M + N) floats; bnbq_k_outlier_gather, then bnbq_k_outlier_mm_g) */
static int bnbq__cu_outlier_g_off = 0;   /* bench and test switch: bnbq_k_outlier_mm (no gathering) */
static bnbq_result bnbq__cu_outlier_mm_g(bnbq_exec* ex, bnbq_dtype dt, const void* A, size_t M, size_t K,
                                         const int8_t* CB, const float* SCB, size_t N, const int32_t* cols,
                                         const int32_t* num_cols, void* out, float* ws, size_t cap) {
    bnbq__CUfunction fg = NULL, fm = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_int8_mixed_scaled_mm");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_outlier_gather", &fg);
    if (r == BNBQ_SUCCESS) r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_outlier_mm_g", &fm);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, KK = K, NN = N, CC = cap;
        float* Ag = ws;
        float* Wg = ws + cap * M;
        void* a[13];
        a[0] = (void*)&A; a[1] = &MM; a[2] = &KK; a[3] = (void*)&CB; a[4] = (void*)&SCB; a[5] = &NN;
        a[6] = (void*)&cols; a[7] = (void*)&num_cols; a[8] = &Ag; a[9] = &Wg; a[10] = &CC; a[11] = &err;
        /* (the grid covers 64 columns; the kernel loops over the rest) */
        /* (both wait for the kernel before them: launched to overlap its end) */
        r = bnbq__cu_launch_pdl(ex, bnbq__func, fg, bnbq__grid(c, (M + N) * (cap < 64 ? cap : 64), 256), 1, 256, 0, a);
        if (r == BNBQ_SUCCESS) {
            a[8] = &out; a[9] = &err; a[10] = (void*)&Ag; a[11] = (void*)&Wg; a[12] = &CC;
            r = bnbq__cu_launch_pdl(ex, bnbq__func, fm, bnbq__cup_tiles(N, 128, 0x7fffffffu),
                                    bnbq__cup_tiles(M, 128, 65535), 256, 0, a);
        }
        if (r == BNBQ_SUCCESS) {
            bnbq__ctx_lock(c);
            c->outlier_g_launches++;
            bnbq__ctx_unlock(c);
        }
    }
    BNBQ__CU_END();
}

/* bnbq_int8_mixed_scaled_mm's outlier product for more than BNBQ__CU_OUTLIER_FEW rows on the tensor cores (f16 / bf16,
   sm_80+, unless desc.exact_outlier_sums; where the int8 product is not bnbq_k_int8_wg_dqt_*, which has it in its
   epilogue): bnbq_k_outlier_gather16 into work (P >= 64 columns a row, bnbq__cu_i8_wg_dqt_p; the caller checked),
   then bnbq_k_outlier_mm_tc's 128 x 128 tiles adding the sums to out (within tolerance of the CPU) */
static bnbq_result bnbq__cu_outlier_mm_tc(bnbq_exec* ex, bnbq_dtype dt, const void* A, size_t M, size_t K,
                                          const int8_t* CB, const float* SCB, size_t N, const int32_t* cols,
                                          const int32_t* num_cols, void* out, int32_t* work) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    uint16_t *Ag = NULL, *Wg = NULL;
    unsigned long long MM = M, NN = N, KK = K, PP = bnbq__cu_i8_wg_dqt_p(M, N, K);
    BNBQ__CU_BEGIN("bnbq_int8_mixed_scaled_mm");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_outlier_mm_tc", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_outlier_gather16(ex, bnbq__func, dt, A, M, K, CB, SCB, N, cols, num_cols, work, (size_t)PP, err,
                                      &Ag, &Wg);
    if (r == BNBQ_SUCCESS) {
        void* a[13];
        a[0] = &Ag; a[1] = &Wg; a[2] = &PP; a[3] = (void*)&A; a[4] = &MM; a[5] = &KK; a[6] = (void*)&CB;
        a[7] = (void*)&SCB; a[8] = &NN; a[9] = (void*)&cols; a[10] = (void*)&num_cols; a[11] = &out; a[12] = &err;
        /* (it waits for the gather: launched to overlap its end) */
        r = bnbq__cu_launch_pdl(ex, bnbq__func, f, bnbq__cup_tiles(N, 128, 0x7fffffffu), bnbq__cup_tiles(M, 128, 65535),
                                256, 0, a);
    }
    if (r == BNBQ_SUCCESS) {
        bnbq__ctx_lock(c);
        c->outlier_tc_launches++;
        bnbq__ctx_unlock(c);
    }
    BNBQ__CU_END();
}

/* bnbq_int8_mixed_scaled_mm for 2..16 rows on sm_80+: bnbq_int8_linear_matmul's tensor-core kernel with
   mm_dequant and, where cols is given, the outlier product as its epilogue (bnbq_k_int8_dq_mma; one launch;
   bnbq__cu_mm_gemv takes its tensor-core branch for these rows, the caller's condition) */
static int bnbq__cu_dq_outl_off = 0;   /* bench and test switch: the outlier product as a launch of its own */
static bnbq_result bnbq__cu_int8_dq_mma(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CA, const int8_t* CB,
                                        size_t M, size_t N, size_t K, const float* row_stats,
                                        const float* col_stats, bnbq_dtype bias_dt, const void* bias,
                                        const void* A, const int32_t* cols, const int32_t* num_cols, void* out) {
    unsigned long long MM = M, NN = N, KK = K;
    int idt = (int)dt, ibdt = (int)bias_dt;
    void* err = NULL;
    void* a[15];
    BNBQ__CU_BEGIN("bnbq_int8_mixed_scaled_mm");
    if (cols) r = bnbq__cup_err(ex, bnbq__func, &err);
    a[0] = (void*)&CA; a[1] = (void*)&CB; a[2] = &MM; a[3] = &NN; a[4] = &KK; a[5] = (void*)&row_stats;
    a[6] = (void*)&col_stats; a[7] = &idt; a[8] = &ibdt; a[9] = (void*)&bias; a[10] = &out; a[11] = (void*)&A;
    a[12] = (void*)&cols; a[13] = (void*)&num_cols; a[14] = &err;
    if (r == BNBQ_SUCCESS) r = bnbq__cu_mm_gemv(ex, bnbq__func, "bnbq_k_int8_dq_mma", "bnbq_k_int8_dq_mma", M, N, 1, a);
    if (r == BNBQ_SUCCESS && cols) {
        bnbq__ctx_lock(c);
        c->dq_outl_launches++;
        bnbq__ctx_unlock(c);
    }
    BNBQ__CU_END();
}

/* bnbq_int8_mixed_scaled_mm's product without the outliers for many rows on the sm_90a tiles (bnbq__cu_i8_wg_dq;
   the caller checked bnbq__cu_i8_wg_dq_can) */
static bnbq_result bnbq__cu_int8_scaled_wg(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CA, const int8_t* CB,
                                           size_t M, size_t N, size_t K, const float* row_stats,
                                           const float* col_stats, bnbq_dtype bias_dt, const void* bias, void* out) {
    BNBQ__CU_BEGIN("bnbq_int8_mixed_scaled_mm");
    (void)c;
    r = bnbq__cu_i8_wg_dq(ex, bnbq__func, dt, CA, CB, M, N, K, row_stats, col_stats, bias_dt, bias, out);
    BNBQ__CU_END();
}

/* ... with the outlier product in its epilogue (bnbq__cu_i8_wg_dqt) */
static bnbq_result bnbq__cu_int8_scaled_wgt(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CA, const int8_t* CB,
                                            size_t M, size_t N, size_t K, const float* row_stats,
                                            const float* col_stats, bnbq_dtype bias_dt, const void* bias,
                                            const void* A, const int32_t* cols, const int32_t* num_cols,
                                            int32_t* work, void* out) {
    BNBQ__CU_BEGIN("bnbq_int8_mixed_scaled_mm");
    (void)c;
    r = bnbq__cu_i8_wg_dqt(ex, bnbq__func, dt, CA, CB, M, N, K, row_stats, col_stats, bias_dt, bias, A, cols, num_cols,
                           work, out);
    BNBQ__CU_END();
}

/* bnbq_int8_mixed_scaled_mm: one row of A (a decoding step) on the warp-a-row gemv with LLM.int8's epilogue
   (bnbq_k_int8_gemv_dq: mm_dequant and the outlier product on each sum, no int32 intermediate; byte loads
   where K % 16 or the alignment rule out 16-byte ones), with K > 4096 (16-byte loads) on a block a row
   (bnbq_k_int8_gemv_br; with outlier columns and K <= BNBQ__CU_MM_BRO_K bnbq_k_int8_gemv_bro, which picks the
   outlier products out of the streamed rows; K <= 4096 with outlier columns and many rows: bnbq_k_int8_gemv_dqo,
   a persistent warp a row that stages the chunks with outlier bytes, bnbq__cu_i8_dqo_rows); 2..16 rows on sm_80+ (K % 16 == 0, 16-byte aligned)
   the tensor-core kernel with mm_dequant as its epilogue, then the outlier product; else the three launches
   of the unfused path through work (more rows: bnbq_k_int8_tc's int32 pairs + mm_dequant measured faster
   than the tiles with that epilogue) */
static bnbq_result bnbq__cu_int8_mixed_scaled_mm(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CA,
                                                 const int8_t* CB, size_t M, size_t N, size_t K,
                                                 const float* row_stats, const float* col_stats,
                                                 bnbq_dtype bias_dt, const void* bias, const void* A,
                                                 const int32_t* cols, const int32_t* num_cols,
                                                 int32_t* work, void* out) {
    int vec = K % 16 == 0 && bnbq__cu_al(CA, 16) && bnbq__cu_al(CB, 16);
    if (M == 1 && (!work || !bnbq__cu_mm_gemv_off)) {   /* (the switch: the unfused path where work is given) */
        bnbq__CUfunction f = NULL;
        void* err = NULL;
        int br = vec && K > bnbq__cu_i8_bro_kmin && !bnbq__cu_i8_br_off;   /* (K <= 4096: the warp a row measured faster) */
        /* with outlier columns: their products picked out of the streamed rows (bnbq_k_int8_gemv_bro) */
        int bro = br && cols && K <= BNBQ__CU_MM_BRO_K && !bnbq__cu_i8_bro_off;
        /* K <= 4096 with outlier columns: the warp a row, persistent, staging the outlier bytes (bnbq_k_int8_gemv_dqo) */
        int dqo = vec && !br && K <= 4096 && cols;
        BNBQ__CU_BEGIN("bnbq_int8_mixed_scaled_mm");
        dqo = dqo && bnbq__cu_i8_dqo_rows(c, N);   /* (where B's rows pay its setup back) */
        r = bnbq__cu_kernel(ex, "int8mm", "",
                            bro ? "bnbq_k_int8_gemv_bro" : br ? "bnbq_k_int8_gemv_br" : dqo ? "bnbq_k_int8_gemv_dqo"
                                                                                             : "bnbq_k_int8_gemv_dq", &f);
        if (r == BNBQ_SUCCESS && cols) r = bnbq__cup_err(ex, bnbq__func, &err);
        if (r == BNBQ_SUCCESS && (br || dqo)) {
            /* a block a row of B, BNBQ__CU_MM_BR_B blocks an SM (persistent: rows grid-strided); it waits for the
               kernel before it in bnbq_pdl_wait, after prefetching its first row into the L2 */
            unsigned long long NN = N, KK = K;
            int idt = (int)dt, ibdt = (int)bias_dt;
            size_t g = (size_t)(c->info.sm_count > 0 ? c->info.sm_count : 80) * (size_t)bnbq__cu_i8_br_b;
            /* bnbq_k_int8_gemv_bro: its most outlier columns (more take the epilogue's loads; its dynamic shared
               memory BNBQ__CU_MM_BRO_SMEM(cap)) */
            unsigned cap = K > 16384 ? 512u : 256u;
            /* bnbq_k_int8_gemv_dqo: 128 columns (more take the epilogue's loads; BNBQ__CU_MM_DQO_SMEM(cap)) */
            if (dqo) cap = BNBQ__CU_MM_DQO_C;
            void* a[15];
            a[0] = (void*)&CA; a[1] = (void*)&CB; a[2] = &NN; a[3] = &KK; a[4] = (void*)&row_stats;
            a[5] = (void*)&col_stats; a[6] = &idt; a[7] = &ibdt; a[8] = (void*)&bias; a[9] = (void*)&A;
            a[10] = (void*)&cols; a[11] = (void*)&num_cols; a[12] = &out; a[13] = &err; a[14] = &cap;
            if (dqo) g = (N + 7) / 8 < g ? (N + 7) / 8 : g;   /* (a warp a row: 8 rows a block) */
            r = bnbq__cu_launch_pdl(ex, bnbq__func, f, (unsigned)(N < g ? N : g), 1, 256,
                                    dqo ? BNBQ__CU_MM_DQO_SMEM(cap) : bro ? BNBQ__CU_MM_BRO_SMEM(cap) : 0u, a);
        } else if (r == BNBQ_SUCCESS) {
            unsigned long long MM = M, NN = N, KK = K;
            int idt = (int)dt, ibdt = (int)bias_dt;
            void* a[16];
            a[0] = (void*)&CA; a[1] = (void*)&CB; a[2] = &MM; a[3] = &NN; a[4] = &KK; a[5] = (void*)&row_stats;
            a[6] = (void*)&col_stats; a[7] = &idt; a[8] = &ibdt; a[9] = (void*)&bias; a[10] = (void*)&A;
            a[11] = (void*)&cols; a[12] = (void*)&num_cols; a[13] = &out; a[14] = &err; a[15] = &vec;
            /* a warp a row of B, 8 warps a block (bnbq_k_int8_gemv's geometry); it waits for the kernel before it
               in bnbq_pdl_wait, after prefetching its first weight rows (bnbq_k_int8_vw_one releases it early) */
            r = bnbq__cu_launch_pdl(ex, bnbq__func, f, bnbq__grid(c, N, 8), 1, 256, 0, a);
        }
        if (r == BNBQ_SUCCESS) {
            bnbq__ctx_lock(c);
            c->gemv_dq_launches++;
            if (br) c->i8_br_launches++;
            if (bro) c->i8_bro_launches++;
            if (dqo) c->i8_dqo_launches++;
            bnbq__ctx_unlock(c);
        }
        BNBQ__CU_END();
    }
    bnbq_result r;
    if (vec && M >= BNBQ__CU_MM_TC_MIN && M <= BNBQ__CU_MM_GV_M && ((bnbq_cuda*)ex->impl)->target_arch >= 80 &&
        !bnbq__cu_mm_gemv_off && !bnbq__cu_mm_tc_off) {
        /* (the outlier columns in its epilogue: M <= 16 = BNBQ__CU_OUTLIER_FEW, bnbq_k_outlier_mm_few's sums) */
        int fuse = cols && !bnbq__cu_dq_outl_off;
        r = bnbq__cu_int8_dq_mma(ex, dt, CA, CB, M, N, K, row_stats, col_stats, bias_dt, bias, A,
                                 fuse ? cols : NULL, num_cols, out);
        if (fuse) return r;
    } else {
        bnbq_cuda* c = (bnbq_cuda*)ex->impl;
        r = BNBQ_ERROR_NOT_SUPPORTED;
        if (bnbq__cu_i8_wg_dq_can(c, dt, CA, CB, M, N, K, out)) {   /* Hopper: one launch (two with outlier columns) */
            if (cols && bnbq__cu_outlier_tc_ok(c, dt, M, N, K)) {
                r = bnbq__cu_int8_scaled_wgt(ex, dt, CA, CB, M, N, K, row_stats, col_stats, bias_dt, bias, A, cols,
                                             num_cols, work, out);
                if (r != BNBQ_ERROR_NOT_SUPPORTED) return r;
            }
            r = bnbq__cu_int8_scaled_wg(ex, dt, CA, CB, M, N, K, row_stats, col_stats, bias_dt, bias, out);
        }
        if (r == BNBQ_ERROR_NOT_SUPPORTED) {   /* (also: tensor maps refused) the int32 products, then mm_dequant */
            r = bnbq__cu_int8_linear_matmul(ex, CA, CB, M, N, K, work);
            if (r == BNBQ_SUCCESS)
                r = bnbq__cu_int8_mm_dequant(ex, dt, work, row_stats, col_stats, M, N, out, bias_dt, bias);
        }
    }
    if (r == BNBQ_SUCCESS && cols) {
        /* more than BNBQ__CU_OUTLIER_FEW rows: the int32 products are spent, work (M N words) holds the
           gathered columns, as many as fit */
        size_t cap = M * N / (M + N);
        if (cap > K) cap = K;
        if (bnbq__cu_outlier_tc_ok((bnbq_cuda*)ex->impl, dt, M, N, K))
            r = bnbq__cu_outlier_mm_tc(ex, dt, A, M, K, CB, col_stats, N, cols, num_cols, out, work);
        else if (M > BNBQ__CU_OUTLIER_FEW && cap >= 16 && !bnbq__cu_outlier_g_off)
            r = bnbq__cu_outlier_mm_g(ex, dt, A, M, K, CB, col_stats, N, cols, num_cols, out, (float*)work, cap);
        else
            r = bnbq__cu_int8_outlier_mm(ex, dt, A, M, K, CB, col_stats, N, cols, num_cols, out);
    }
    return r;
}
#define BNBQ__CU_SLOT_int8_mixed_scaled_mm bnbq__cu_int8_mixed_scaled_mm

static bnbq_result bnbq__cu_gather_columns(bnbq_exec* ex, size_t elem_size, const void* X, size_t M,
                                           size_t K, const int32_t* cols, const int32_t* num_cols,
                                           size_t max_cols, void* out) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_gather_columns");
    r = bnbq__cu_kernel(ex, "prims", "", "bnbq_k_gather_cols", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, KK = K, MC = max_cols;
        int es = (int)elem_size;
        void* a[9];
        a[0] = (void*)&X; a[1] = &MM; a[2] = &KK; a[3] = (void*)&cols; a[4] = (void*)&num_cols;
        a[5] = &MC; a[6] = &out; a[7] = &es; a[8] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, M * max_cols, 256), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_gather_columns bnbq__cu_gather_columns

static bnbq_result bnbq__cu_scatter_columns(bnbq_exec* ex, bnbq_dtype dt, const void* P, size_t M,
                                            size_t max_cols, const int32_t* cols,
                                            const int32_t* num_cols, int accumulate, void* out,
                                            size_t K) {
    bnbq__CUfunction f = NULL;
    void* err = NULL;
    BNBQ__CU_BEGIN("bnbq_scatter_columns");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_scatter_cols", &f);
    if (r == BNBQ_SUCCESS) r = bnbq__cup_err(ex, bnbq__func, &err);
    if (r == BNBQ_SUCCESS) {
        unsigned long long MM = M, MC = max_cols, KK = K;
        int acc = accumulate != 0;
        void* a[9];
        a[0] = (void*)&P; a[1] = &MM; a[2] = &MC; a[3] = (void*)&cols; a[4] = (void*)&num_cols;
        a[5] = &acc; a[6] = &out; a[7] = &KK; a[8] = &err;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__grid(c, M * max_cols, 256), 1, 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_scatter_columns bnbq__cu_scatter_columns

static bnbq_result bnbq__cu_int8_weight_dequant(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CB,
                                                const float* SCB, size_t N, size_t K, void* out) {
    bnbq__CUfunction f = NULL;
    BNBQ__CU_BEGIN("bnbq_int8_weight_dequant");
    r = bnbq__cu_kernel(ex, "prims", bnbq__cup_dt[(int)dt], "bnbq_k_i8w_dequant", &f);
    if (r == BNBQ_SUCCESS) {
        unsigned long long NN = N, KK = K;
        void* a[5];
        a[0] = (void*)&CB; a[1] = (void*)&SCB; a[2] = &NN; a[3] = &KK; a[4] = &out;
        r = bnbq__cu_launch(ex, bnbq__func, f, bnbq__cup_tiles(K, 256, 64),
                            bnbq__cup_tiles(N, 1, 65535), 256, 0, a);
    }
    BNBQ__CU_END();
}
#define BNBQ__CU_SLOT_int8_weight_dequant bnbq__cu_int8_weight_dequant

#define BNBQ__CU_VARIANTS_PRIMS \
    { "prims", "" }, \
    { "prims", "BNBQ_DT=0" }, \
    { "prims", "BNBQ_DT=1" }, \
    { "prims", "BNBQ_DT=2" }, \
    { "gemm90", "BNBQ_DT=1 BNBQ_ARCH_A=1" }, \
    { "gemm90", "BNBQ_DT=2 BNBQ_ARCH_A=1" },
/* ==== end of prims ==== */

static const bnbq__cu_variant bnbq__cu_variants[] = {
    { "convert", "" },
    BNBQ__CU_VARIANTS_QUANT
    BNBQ__CU_VARIANTS_INT8
    BNBQ__CU_VARIANTS_PRIMS
    { 0, 0 }
};
static int bnbq__cu_num_variants(void) {
    return (int)(sizeof bnbq__cu_variants / sizeof bnbq__cu_variants[0]) - 1;
}
static const bnbq__cu_variant* bnbq__cu_variant_at(int i) { return &bnbq__cu_variants[i]; }

/* Slots an op section has not defined stay NULL: the public function then answers
   BNBQ_ERROR_NOT_SUPPORTED. */
#ifndef BNBQ__CU_SLOT_quantize_blockwise
#define BNBQ__CU_SLOT_quantize_blockwise NULL
#endif
#ifndef BNBQ__CU_SLOT_dequantize_blockwise
#define BNBQ__CU_SLOT_dequantize_blockwise NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_4bit
#define BNBQ__CU_SLOT_quantize_4bit NULL
#endif
#ifndef BNBQ__CU_SLOT_dequantize_4bit
#define BNBQ__CU_SLOT_dequantize_4bit NULL
#endif
#ifndef BNBQ__CU_SLOT_nested_offset
#define BNBQ__CU_SLOT_nested_offset NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_nested
#define BNBQ__CU_SLOT_quantize_nested NULL
#endif
#ifndef BNBQ__CU_SLOT_dequantize_nested
#define BNBQ__CU_SLOT_dequantize_nested NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_global
#define BNBQ__CU_SLOT_quantize_global NULL
#endif
#ifndef BNBQ__CU_SLOT_dequantize_global
#define BNBQ__CU_SLOT_dequantize_global NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_vectorwise_quant
#define BNBQ__CU_SLOT_int8_vectorwise_quant NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_vectorwise_dequant
#define BNBQ__CU_SLOT_int8_vectorwise_dequant NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_double_quant
#define BNBQ__CU_SLOT_int8_double_quant NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_linear_matmul
#define BNBQ__CU_SLOT_int8_linear_matmul NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_mm_dequant
#define BNBQ__CU_SLOT_int8_mm_dequant NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_rowwise
#define BNBQ__CU_SLOT_quantize_rowwise NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_columnwise_and_transpose
#define BNBQ__CU_SLOT_quantize_columnwise_and_transpose NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_global_int8
#define BNBQ__CU_SLOT_quantize_global_int8 NULL
#endif
#ifndef BNBQ__CU_SLOT_quantize_global_int8_transpose
#define BNBQ__CU_SLOT_quantize_global_int8_transpose NULL
#endif
#ifndef BNBQ__CU_SLOT_dequantize_rowwise
#define BNBQ__CU_SLOT_dequantize_rowwise NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_matmul_rowwise_dequantize
#define BNBQ__CU_SLOT_int8_matmul_rowwise_dequantize NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_matmul_mixed_dequantize
#define BNBQ__CU_SLOT_int8_matmul_mixed_dequantize NULL
#endif
#ifndef BNBQ__CU_SLOT_gemv_4bit
#define BNBQ__CU_SLOT_gemv_4bit NULL
#endif
#ifndef BNBQ__CU_SLOT_matmul_4bit
#define BNBQ__CU_SLOT_matmul_4bit NULL
#endif

/* ---- exec memory (bnbq_alloc, bnbq_copy, ... of bnbq.h on a CUDA exec) ---- */
static bnbq_result bnbq__cu_alloc(bnbq_exec* ex, size_t bytes, void** out) {
    return bnbq_cuda_malloc(bnbq__ex_ctx(ex), bytes, out);
}
static void bnbq__cu_free(bnbq_exec* ex, void* p) {
    if (p) (void)bnbq_cuda_free(bnbq__ex_ctx(ex), p);
}
/* Host-side copies wait for the stream: the host buffer is then free to reuse (or to read). */
static bnbq_result bnbq__cu_copy(bnbq_exec* ex, void* dst, const void* src, size_t bytes,
                                 bnbq_copy_kind kind) {
    bnbq_result r;
    if (kind == BNBQ_COPY_HOST_TO_EXEC)
        r = bnbq_cuda_memcpy(ex, dst, src, bytes, BNBQ_COPY_HOST_TO_DEVICE);
    else if (kind == BNBQ_COPY_EXEC_TO_HOST)
        r = bnbq_cuda_memcpy(ex, dst, src, bytes, BNBQ_COPY_DEVICE_TO_HOST);
    else
        return bnbq_cuda_memcpy(ex, dst, src, bytes, BNBQ_COPY_DEVICE_TO_DEVICE);
    if (r != BNBQ_SUCCESS) return r;
    return bnbq_cuda_synchronize(ex);
}
static bnbq_result bnbq__cu_fill_bytes(bnbq_exec* ex, void* dst, int v, size_t bytes) {
    return bnbq_cuda_memset(ex, dst, v, bytes);
}
/* bnbq_sync: waits for the stream, then reports (and clears) the context's sticky index error that
   a prims kernel may have set (read back only when such a kernel was queued since the last check). */
static bnbq_result bnbq__cu_sync(bnbq_exec* ex) {
    static const char* fn = "bnbq_sync";
    bnbq_cuda* c = bnbq__ex_ctx(ex);
    bnbq_result r = bnbq_cuda_synchronize(ex);
    uint32_t flag = 0;
    if (r != BNBQ_SUCCESS || !c || !c->err_flag || !c->err_armed) return r;
    c->err_armed = 0;
    r = bnbq__push(c, fn);
    if (r != BNBQ_SUCCESS) return r;
    r = bnbq__cu_check(ex, fn, "cuMemcpyDtoHAsync",
                       BNBQ__DRV.bnbq__cuMemcpyDtoHAsync(&flag, BNBQ__DPTR(c->err_flag), 4,
                                                         (bnbq__CUstream)ex->stream));
    if (r == BNBQ_SUCCESS)
        r = bnbq__cu_check(ex, fn, "cuStreamSynchronize",
                           BNBQ__DRV.bnbq__cuStreamSynchronize((bnbq__CUstream)ex->stream));
    if (r == BNBQ_SUCCESS && flag) {
        r = bnbq__cu_check(ex, fn, "cuMemsetD8Async",
                           BNBQ__DRV.bnbq__cuMemsetD8Async(BNBQ__DPTR(c->err_flag), 0, 4,
                                                           (bnbq__CUstream)ex->stream));
        if (r == BNBQ_SUCCESS) {
            bnbq_log(ex, BNBQ_LOG_ERROR, fn, "an earlier operation met an index out of range "
                     "(gather_rows*, renorm_rows, or an outlier column): its output rows are zero");
            r = BNBQ_ERROR_INVALID_ARGS;
        }
    }
    bnbq__pop();
    return r;
}
#define BNBQ__CU_SLOT_alloc bnbq__cu_alloc
#define BNBQ__CU_SLOT_free bnbq__cu_free
#define BNBQ__CU_SLOT_copy bnbq__cu_copy
#define BNBQ__CU_SLOT_fill_bytes bnbq__cu_fill_bytes
#define BNBQ__CU_SLOT_sync bnbq__cu_sync

#ifndef BNBQ__CU_SLOT_alloc
#define BNBQ__CU_SLOT_alloc NULL
#endif
#ifndef BNBQ__CU_SLOT_free
#define BNBQ__CU_SLOT_free NULL
#endif
#ifndef BNBQ__CU_SLOT_copy
#define BNBQ__CU_SLOT_copy NULL
#endif
#ifndef BNBQ__CU_SLOT_fill_bytes
#define BNBQ__CU_SLOT_fill_bytes NULL
#endif
#ifndef BNBQ__CU_SLOT_sync
#define BNBQ__CU_SLOT_sync NULL
#endif
#ifndef BNBQ__CU_SLOT_gemm
#define BNBQ__CU_SLOT_gemm NULL
#endif
#ifndef BNBQ__CU_SLOT_column_sums
#define BNBQ__CU_SLOT_column_sums NULL
#endif
#ifndef BNBQ__CU_SLOT_transpose
#define BNBQ__CU_SLOT_transpose NULL
#endif
#ifndef BNBQ__CU_SLOT_gather_rows
#define BNBQ__CU_SLOT_gather_rows NULL
#endif
#ifndef BNBQ__CU_SLOT_gather_rows_backward
#define BNBQ__CU_SLOT_gather_rows_backward NULL
#endif
#ifndef BNBQ__CU_SLOT_renorm_rows
#define BNBQ__CU_SLOT_renorm_rows NULL
#endif
#ifndef BNBQ__CU_SLOT_layer_norm
#define BNBQ__CU_SLOT_layer_norm NULL
#endif
#ifndef BNBQ__CU_SLOT_layer_norm_backward
#define BNBQ__CU_SLOT_layer_norm_backward NULL
#endif
#ifndef BNBQ__CU_SLOT_gather_rows_8bit
#define BNBQ__CU_SLOT_gather_rows_8bit NULL
#endif
#ifndef BNBQ__CU_SLOT_gather_rows_4bit
#define BNBQ__CU_SLOT_gather_rows_4bit NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_outlier_mm
#define BNBQ__CU_SLOT_int8_outlier_mm NULL
#endif
#ifndef BNBQ__CU_SLOT_gather_columns
#define BNBQ__CU_SLOT_gather_columns NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_mixed_scaled_mm
#define BNBQ__CU_SLOT_int8_mixed_scaled_mm NULL
#endif
#ifndef BNBQ__CU_SLOT_scatter_columns
#define BNBQ__CU_SLOT_scatter_columns NULL
#endif
#ifndef BNBQ__CU_SLOT_int8_weight_dequant
#define BNBQ__CU_SLOT_int8_weight_dequant NULL
#endif

static const bnbq_backend bnbq__cuda_backend = {
    "cuda",
    bnbq__cu_convert,
    BNBQ__CU_SLOT_quantize_blockwise,
    BNBQ__CU_SLOT_dequantize_blockwise,
    BNBQ__CU_SLOT_quantize_4bit,
    BNBQ__CU_SLOT_dequantize_4bit,
    BNBQ__CU_SLOT_nested_offset,
    BNBQ__CU_SLOT_quantize_nested,
    BNBQ__CU_SLOT_dequantize_nested,
    BNBQ__CU_SLOT_quantize_global,
    BNBQ__CU_SLOT_dequantize_global,
    BNBQ__CU_SLOT_int8_vectorwise_quant,
    BNBQ__CU_SLOT_int8_vectorwise_dequant,
    BNBQ__CU_SLOT_int8_double_quant,
    BNBQ__CU_SLOT_int8_linear_matmul,
    BNBQ__CU_SLOT_int8_mm_dequant,
    BNBQ__CU_SLOT_quantize_rowwise,
    BNBQ__CU_SLOT_quantize_columnwise_and_transpose,
    BNBQ__CU_SLOT_quantize_global_int8,
    BNBQ__CU_SLOT_quantize_global_int8_transpose,
    BNBQ__CU_SLOT_dequantize_rowwise,
    BNBQ__CU_SLOT_int8_matmul_rowwise_dequantize,
    BNBQ__CU_SLOT_int8_matmul_mixed_dequantize,
    BNBQ__CU_SLOT_gemv_4bit,
    BNBQ__CU_SLOT_matmul_4bit,
    BNBQ__CU_SLOT_alloc,
    BNBQ__CU_SLOT_free,
    BNBQ__CU_SLOT_copy,
    BNBQ__CU_SLOT_fill_bytes,
    BNBQ__CU_SLOT_sync,
    BNBQ__CU_SLOT_gemm,
    BNBQ__CU_SLOT_column_sums,
    BNBQ__CU_SLOT_transpose,
    BNBQ__CU_SLOT_gather_rows,
    BNBQ__CU_SLOT_gather_rows_backward,
    BNBQ__CU_SLOT_renorm_rows,
    BNBQ__CU_SLOT_layer_norm,
    BNBQ__CU_SLOT_layer_norm_backward,
    BNBQ__CU_SLOT_gather_rows_8bit,
    BNBQ__CU_SLOT_gather_rows_4bit,
    BNBQ__CU_SLOT_int8_outlier_mm,
    BNBQ__CU_SLOT_gather_columns,
    BNBQ__CU_SLOT_scatter_columns,
    BNBQ__CU_SLOT_int8_weight_dequant,
    BNBQ__CU_SLOT_int8_mixed_scaled_mm
};

BNBQ_API bnbq_result bnbq_cuda_exec_init(bnbq_cuda* c, void* stream, bnbq_exec* out_ex) {
    if (!c || !out_ex) return BNBQ_ERROR_NULL_POINTER;
    memset(out_ex, 0, sizeof *out_ex);
    out_ex->backend = &bnbq__cuda_backend;
    out_ex->impl = c;
    out_ex->stream = stream;
    out_ex->memory = BNBQ_MEMORY_DEVICE;
    out_ex->logger = c->log_ex.logger;
    out_ex->allocator = c->log_ex.allocator;
    return BNBQ_SUCCESS;
}

#ifdef __cplusplus
}
#endif

#endif /* BNBQ_CUDA__IMPLEMENTATION_DONE */
#endif /* BNBQ_IMPLEMENTATION */
