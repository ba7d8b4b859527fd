/* bnbq.h - the quantization library of bitsandbytes as a single C header.
   bnbq 0.1.0 - MIT license (full text at the end of this file).

   WHAT IT IS
   Every number format and functional operation of bitsandbytes (8-bit dynamic / linear / FP8 codes,
   NF4, FP4, blockwise and global quantization with nested statistics, LLM.int8(), the SwitchBack
   int8 kernels, 4-bit matrix-vector and matrix products) with a portable CPU reference that
   reproduces bitsandbytes' CUDA outputs bit for bit (up to the bounded reciprocal allowance
   documented under EXACTNESS below). bnbq_cuda.h adds an NVIDIA GPU backend behind the same
   function names.

   QUICK START
       #define BNBQ_IMPLEMENTATION      // in exactly ONE .c or .cpp file
       #include "bnbq.h"

       float w[4096];  ...              // your weights
       uint8_t packed[2048]; float absmax[64];
       bnbq_result r = bnbq_quantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, w, 4096, 64, packed, absmax);
       if (r != BNBQ_SUCCESS) puts(bnbq_result_description(r));
       bnbq_dequantize_4bit(NULL, BNBQ_NF4, BNBQ_F32, packed, absmax, 4096, 64, w);

   Compile with any C99 or C++ compiler; link with -lm. Pass -ffp-contract=off when your compiler
   does not honour the pragmas this file sets (see EXACTNESS).

   CONTENTS (grep -n '^// >>' bnbq.h)
       >>config      version numbers, BNBQ_API, options
       >>results     result codes, names and descriptions
       >>types       dtypes, quant types, logger, allocator, parallel-for, exec
       >>convert     f32 <-> f16 / bf16 (round to nearest even)
       >>formats     code tables: dynamic, linear, normal/NF4, FP4, FP8 maps, get_4bit_type
       >>sizes       how big the outputs are
       >>ops         the functional operations
       >>simd        the SIMD level of the CPU paths (AVX2, AVX-512, NEON): query, force, BNBQ_SIMD
       >>memory      exec memory: alloc, copy, fill, sync
       >>prims       building blocks of the layers (GEMM, sums, gathers, layer norm, ...)
       >>research    matmul_fp8_mixed / _global and switchback_bnb, with backward
       >>layers      every bitsandbytes nn / research layer: _init, _forward, _backward
       >>io          safetensors read / write; layer state dicts as bitsandbytes / HF save them
       >>backend     the table a backend fills (bnbq_cuda.h fills one for CUDA)

   OPTIONS (#define before including the implementation)
       BNBQ_IMPLEMENTATION   compile the implementation in this translation unit
       BNBQ_STATIC           make every public function static (private copy per file)
       BNBQ_API              decoration of every public function (default: extern, or static)
       BNBQ_DLL              with BNBQ_IMPLEMENTATION: export; without: import (Windows DLLs)
       BNBQ_ASSERT(c)        internal invariant check (default: assert from <assert.h>)
       BNBQ_DEBUG            enable costly checks
       BNBQ_NO_STDIO         leave out the functions that open files (>>io: _init_file, _write_file)
       BNBQ_NO_SIMD          compile the scalar CPU code only (no AVX2 / AVX-512 / NEON paths; >>simd)
       BNBQ_PTHREADS         add bnbq_thread_pool, a POSIX thread pool for the parallel-for (>>simd)

   EXECUTION CONTEXT
   Every operation takes a `bnbq_exec*` first. NULL runs the CPU reference on host memory,
   synchronously, silently, on the calling thread. bnbq_cpu_exec_init() makes a CPU exec with a
   logger, an allocator and an optional parallel-for callback (bnbq starts no threads of its own).
   bnbq_cuda.h makes a CUDA exec: the same calls then run on device memory, asynchronously on the
   exec's stream. Code tables (the `code` arguments) always live in HOST memory; every other
   tensor lives in the exec's memory.

   THREAD SAFETY
   bnbq has no mutable global state but the CPU's SIMD level (>>simd: resolved once, atomically;
   every level writes the same bytes). Functions may be called concurrently from any threads as long
   as concurrent calls do not write the same buffers. An exec may be shared between threads only
   if its parallel-for callback and logger are thread safe.

   LAYOUTS
   Tensors are dense row-major. Weights are [out_features, in_features]; activations are
   [tokens, in_features]. Half and bfloat16 values travel as uint16_t bit patterns.
   - Blockwise formats: block b covers flattened elements [b*bs, min((b+1)*bs, n)); absmax is one
     float32 per block; the last block may be partial.
   - 4-bit packing: byte i holds element 2i in its high nibble and element 2i+1 in its low nibble;
     ceil(n/2) bytes; for odd n the last low nibble is the code of a quantized 0.0.
   - Nested statistics (compress_statistics): offset = mean(absmax) (double, fixed order, rounded
     once); absmax_q = 8-bit blockwise codes of f32(absmax - offset) with the signed dynamic map and
     a nested blocksize (256 for 4-bit); rebuilt absmax = f32(f32(code[absmax_q]*nested_absmax)+offset).

   EXACTNESS
   bnbq's CPU results are deterministic and the GPU backend reproduces their bytes: quantization
   scales are x * f32(1/absmax) with a correctly rounded reciprocal, every float operation is rounded
   on its own (no FMA contraction; fmaf only where bitsandbytes' formula is fused), the nested mean
   is accumulated in double, and a NaN computed by arithmetic is stored as the canonical 0x7fffffff
   (f16/bf16 0x7fff) on every backend. bitsandbytes' CUDA build uses an approximate reciprocal, so about one
   code in 10^4 differs from its outputs by one step at an exact decision boundary.
*/
#ifndef BNBQ_H_INCLUDED
#define BNBQ_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

// >>config
#define BNBQ_VERSION_MAJOR 0
#define BNBQ_VERSION_MINOR 1
#define BNBQ_VERSION_PATCH 0
#define BNBQ_VERSION_STRING "0.1.0"
/* Bumped whenever a byte layout that bnbq writes changes (packed data, state files). */
#define BNBQ_FORMAT_VERSION 1

#ifndef BNBQ_API
#  if defined(BNBQ_STATIC) && (defined(__GNUC__) || defined(__clang__))
#    define BNBQ_API static __attribute__((unused))
#  elif defined(BNBQ_STATIC)
#    define BNBQ_API static
#  elif defined(BNBQ_DLL) && defined(_WIN32)
#    if defined(BNBQ_IMPLEMENTATION)
#      define BNBQ_API __declspec(dllexport)
#    else
#      define BNBQ_API __declspec(dllimport)
#    endif
#  else
#    define BNBQ_API extern
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

// >>results
/* X(name, value, description). Codes are grouped by hundreds and never renumbered. */
#define BNBQ__RESULTS(X) \
    X(BNBQ_SUCCESS,                   0, "success") \
    X(BNBQ_ERROR_INVALID_ARGS,      100, "an argument is invalid") \
    X(BNBQ_ERROR_NULL_POINTER,      101, "a required pointer is NULL") \
    X(BNBQ_ERROR_BAD_SHAPE,         102, "a size or shape is zero, negative or inconsistent") \
    X(BNBQ_ERROR_BAD_BLOCKSIZE,     103, "the blocksize is not supported by this operation") \
    X(BNBQ_ERROR_BAD_DTYPE,         104, "the dtype is not supported by this operation") \
    X(BNBQ_ERROR_BAD_QUANT_TYPE,    105, "the quant type is not supported by this operation") \
    X(BNBQ_ERROR_OVERFLOW,          106, "a size overflows the address space") \
    X(BNBQ_ERROR_MISALIGNED,        107, "a pointer is not aligned to its element size") \
    X(BNBQ_ERROR_OUT_OF_MEMORY,     108, "an allocation failed") \
    X(BNBQ_ERROR_NOT_SUPPORTED,     109, "the operation is not supported by this backend") \
    X(BNBQ_ERROR_BAD_CODE,          110, "the code table is invalid for this operation") \
    X(BNBQ_ERROR_IO,                200, "a file could not be read or written") \
    X(BNBQ_ERROR_CORRUPT_FILE,      201, "a file is truncated, corrupt or of another format") \
    X(BNBQ_ERROR_NO_DRIVER,         300, "no NVIDIA driver (libcuda) was found") \
    X(BNBQ_ERROR_DRIVER_TOO_OLD,    301, "the NVIDIA driver is too old") \
    X(BNBQ_ERROR_NO_DEVICE,         302, "no CUDA device is available") \
    X(BNBQ_ERROR_NO_NVRTC,          303, "NVRTC (libnvrtc) was not found and no cached kernel fits") \
    X(BNBQ_ERROR_NVRTC_TOO_OLD,     304, "NVRTC does not know this GPU architecture") \
    X(BNBQ_ERROR_COMPILE_FAILED,    305, "a kernel failed to compile") \
    X(BNBQ_ERROR_CUDA,              306, "a CUDA driver call failed")

typedef enum bnbq_result {
#define BNBQ__RESULT_ENUM(name, value, text) name = value,
    BNBQ__RESULTS(BNBQ__RESULT_ENUM)
#undef BNBQ__RESULT_ENUM
    BNBQ__RESULT_FORCE_INT = 0x7fffffff
} bnbq_result;

/* "BNBQ_ERROR_BAD_SHAPE" etc.; "BNBQ_UNKNOWN_RESULT" for values not in the list.
   Thread safety: any thread. */
BNBQ_API const char* bnbq_result_name(bnbq_result r);
/* One sentence describing the result. Thread safety: any thread. */
BNBQ_API const char* bnbq_result_description(bnbq_result r);

// >>types
typedef enum bnbq_dtype {
    BNBQ_F32  = 0,  /* IEEE binary32                                  */
    BNBQ_F16  = 1,  /* IEEE binary16, as uint16_t bits                 */
    BNBQ_BF16 = 2,  /* bfloat16, as uint16_t bits (upper half of f32)  */
    BNBQ_U8   = 3,
    BNBQ_I8   = 4,
    BNBQ_I32  = 5,
    BNBQ_I64  = 6
} bnbq_dtype;

/* 4-bit data types. bitsandbytes' default is FP4, so it is the zero value. INT4 and AF4 exist as
   tables (bnbq_get_4bit_type) only; the 4-bit kernels know FP4 and NF4. */
typedef enum bnbq_quant_type {
    BNBQ_FP4  = 0,
    BNBQ_NF4  = 1,
    BNBQ_INT4 = 2,
    BNBQ_AF4  = 3
} bnbq_quant_type;

typedef enum bnbq_log_level {
    BNBQ_LOG_ERROR = 0,
    BNBQ_LOG_WARN  = 1,
    BNBQ_LOG_INFO  = 2,
    BNBQ_LOG_DEBUG = 3
} bnbq_log_level;

/* Called with a message formatted into a stack buffer; may be called from any thread. */
typedef void (*bnbq_log_fn)(void* user_data, bnbq_log_level level, const char* func,
                            const char* message);
typedef struct bnbq_logger {
    bnbq_log_fn func;    /* NULL: silent */
    void*       user_data;
} bnbq_logger;

typedef void* (*bnbq_alloc_fn)(void* user_data, size_t bytes);
typedef void  (*bnbq_free_fn)(void* user_data, void* ptr);
/* Both functions or neither (neither = malloc/free). */
typedef struct bnbq_allocator {
    bnbq_alloc_fn alloc_fn;
    bnbq_free_fn  free_fn;
    void*         user_data;
} bnbq_allocator;

/* A range of independent work items [begin, end). */
typedef void (*bnbq_range_fn)(void* task, size_t begin, size_t end);
/* Runs fn(task, b, e) over disjoint ranges covering [0, count), possibly on several threads, and
   returns when all have finished. */
typedef void (*bnbq_parallel_for_fn)(void* user_data, bnbq_range_fn fn, void* task, size_t count);

struct bnbq_backend;

typedef enum bnbq_memory {
    BNBQ_MEMORY_HOST   = 0,
    BNBQ_MEMORY_DEVICE = 1
} bnbq_memory;

/* An execution context. Caller-owned; make it with bnbq_cpu_exec_init() or a backend's init
   function (bnbq_cuda_exec_init in bnbq_cuda.h). Fields are public so that backends can fill them;
   treat them as read-only. */
typedef struct bnbq_exec {
    const struct bnbq_backend* backend;   /* NULL: the CPU reference                      */
    void*                      impl;      /* the backend's own data (CUDA: the context)   */
    void*                      stream;    /* the backend's queue (CUDA: a CUstream)       */
    bnbq_memory                memory;    /* where tensors live                            */
    bnbq_logger                logger;
    bnbq_allocator             allocator;
    bnbq_parallel_for_fn       parallel_for;
    void*                      parallel_for_user_data;
} bnbq_exec;

/* Zero-initialise; zero means default:
   logger       silent
   allocator    malloc/free
   parallel_for none (work runs in a loop on the calling thread) */
typedef struct bnbq_cpu_desc {
    bnbq_logger          logger;
    bnbq_allocator       allocator;
    bnbq_parallel_for_fn parallel_for;
    void*                parallel_for_user_data;
} bnbq_cpu_desc;

/* Fills *ex for the CPU. desc may be NULL (all defaults). Errors: NULL_POINTER (ex),
   INVALID_ARGS (only one of alloc_fn/free_fn). Thread safety: any thread. */
BNBQ_API bnbq_result bnbq_cpu_exec_init(bnbq_exec* ex, const bnbq_cpu_desc* desc);
/* The resolved copy of the desc a CPU exec was made from. Thread safety: any thread. */
BNBQ_API bnbq_result bnbq_cpu_exec_query_desc(const bnbq_exec* ex, bnbq_cpu_desc* out_desc);
/* Releases what init acquired (nothing for the CPU). Safe on a zeroed exec. */
BNBQ_API void bnbq_exec_uninit(bnbq_exec* ex);
/* Allocate / free host memory through the exec's allocator (NULL ex: malloc/free).
   Thread safety: as the allocator. */
BNBQ_API void* bnbq_host_alloc(bnbq_exec* ex, size_t bytes);
BNBQ_API void  bnbq_host_free(bnbq_exec* ex, void* ptr);
/* Bytes per element of a dtype, 0 for an unknown value. */
BNBQ_API size_t bnbq_dtype_size(bnbq_dtype dt);
BNBQ_API const char* bnbq_dtype_name(bnbq_dtype dt);

// >>convert
/* Scalar conversions, round to nearest even; NaN stays NaN (quiet), infinities and subnormals
   are exact or correctly rounded. Thread safety: any thread. */
BNBQ_API uint16_t bnbq_f32_to_f16(float x);
BNBQ_API float    bnbq_f16_to_f32(uint16_t h);
BNBQ_API uint16_t bnbq_f32_to_bf16(float x);
BNBQ_API float    bnbq_bf16_to_f32(uint16_t h);
/* Elementwise conversion between F32, F16 and BF16 (exact widening, RNE narrowing).
   src and dst live in the exec's memory and must not overlap, except src == dst for equal element
   sizes (F16 <-> BF16, or a no-op): INVALID_ARGS otherwise. */
BNBQ_API bnbq_result bnbq_convert(bnbq_exec* ex, bnbq_dtype src_dt, const void* src,
                                  size_t n, bnbq_dtype dst_dt, void* dst);

// >>formats
/* Built-in tables (static, read-only, host memory):
   bnbq_code_dynamic(1)  create_dynamic_map(signed=True)  (256; code[0] = -0.99296875, no -1.0)
   bnbq_code_dynamic(0)  create_dynamic_map(signed=False) (256)
   bnbq_code_4bit(qt)    get_4bit_type(qt) for FP4 / NF4 / INT4 / AF4 (16; NULL for others) */
BNBQ_API const float* bnbq_code_dynamic(int is_signed);
BNBQ_API const float* bnbq_code_4bit(bnbq_quant_type qt);

/* bitsandbytes.functional.create_dynamic_map(signed, max_exponent_bits, total_bits), 256 entries.
   Errors: NULL_POINTER; INVALID_ARGS (total_bits not 1..8, max_exponent_bits not 1..total_bits,
   or a combination bitsandbytes itself rejects). */
BNBQ_API bnbq_result bnbq_create_dynamic_map(int is_signed, int max_exponent_bits, int total_bits,
                                             float* out_code /* (256,) */);
/* create_linear_map(signed, total_bits, add_zero), 256 entries (not re-sorted, as bitsandbytes). */
BNBQ_API bnbq_result bnbq_create_linear_map(int is_signed, int total_bits, int add_zero,
                                            float* out_code /* (256,) */);
/* create_normal_map(offset, use_extra_value), 256 entries. bitsandbytes' default offset is
   0.9677083. Errors: INVALID_ARGS unless 0.5 < offset < 1. */
BNBQ_API bnbq_result bnbq_create_normal_map(double offset, int use_extra_value,
                                            float* out_code /* (256,) */);
/* create_fp8_map(signed, exponent_bits, precision_bits, total_bits), 256 entries (padded with
   zeros and sorted when total_bits < 8). e4m3 = (1,4,3,8), e5m2 = (1,5,2,8). */
BNBQ_API bnbq_result bnbq_create_fp8_map(int is_signed, int exponent_bits, int precision_bits,
                                         int total_bits, float* out_code /* (256,) */);
/* get_4bit_type(type, blocksize): 16 entries. AF4 needs blocksize 64 (BAD_BLOCKSIZE otherwise);
   the other types ignore blocksize. */
BNBQ_API bnbq_result bnbq_get_4bit_type(bnbq_quant_type qt, int blocksize,
                                        float* out_code /* (16,) */);

/* The scalar decision functions of the quantizers (the reference every backend matches):
   bnbq_code_index: nearest entry of a sorted 256-entry code, ties to the even index, NaN -> 0
                    (bitsandbytes' CUDA binary search, algorithms.md 2.2);
   bnbq_nf4_index / bnbq_fp4_index: the NF4 / FP4 decision trees on a normalized value.
   bnbq_fp4_value: the dequantized value of an FP4 nibble for absmax 1 (sign from bit 3). */
BNBQ_API int   bnbq_code_index(const float* code /* (256,) */, float x);
BNBQ_API int   bnbq_nf4_index(float x);
BNBQ_API int   bnbq_fp4_index(float x);
BNBQ_API float bnbq_fp4_value(int nibble);

// >>sizes
/* ceil(n / blocksize). Errors: BAD_SHAPE (n == 0), BAD_BLOCKSIZE (blocksize <= 0). */
BNBQ_API bnbq_result bnbq_blocks_size(size_t n, int blocksize, size_t* out_nblocks);
/* ceil(n / 2), the bytes of n packed 4-bit codes. */
BNBQ_API bnbq_result bnbq_packed_4bit_size(size_t n, size_t* out_bytes);

// >>ops
/* Conventions for every operation below:
   - ex: NULL = CPU reference; otherwise the exec decides where tensors live.
   - Blocksizes: 8-bit 64..4096 (powers of two); the CPU also accepts larger powers of two, as
     bitsandbytes' CPU path does. 32 is rejected for 8-bit (bitsandbytes launches no kernel).
     4-bit: 32..4096 (CPU: any power of two >= 32).
   - Errors common to all: NULL_POINTER for a required pointer, BAD_SHAPE for a zero size,
     OVERFLOW when a byte count does not fit in size_t, BAD_DTYPE, BAD_BLOCKSIZE,
     MISALIGNED for a pointer not aligned to its element size, BAD_CODE for an 8-bit code table
     that is not ascending or holds NaN (quantizers only), NOT_SUPPORTED when the exec's
     backend lacks the operation. Every failure is logged once at ERROR through the exec's logger.
   - Thread safety: any thread; concurrent calls must not share output buffers. */

/* 8-bit blockwise quantization (bitsandbytes quantize_blockwise). code: 256 sorted entries,
   NULL = signed dynamic map. dt: F32/F16/BF16.
   out_q (n,) codes; out_absmax (ceil(n/blocksize),) float32 block maxima. */
BNBQ_API bnbq_result bnbq_quantize_blockwise(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                             const void* x, size_t n, int blocksize,
                                             uint8_t* out_q, float* out_absmax);
/* out[i] = dt(f32(code[q[i]] * absmax[i / blocksize])). */
BNBQ_API bnbq_result bnbq_dequantize_blockwise(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                               const uint8_t* q, const float* absmax, size_t n,
                                               int blocksize, void* out);

/* 4-bit NF4/FP4 blockwise quantization (bitsandbytes quantize_4bit without compress_statistics;
   use bnbq_nested_offset + bnbq_quantize_nested for it).
   out_packed (ceil(n/2),) bytes; out_absmax (ceil(n/blocksize),) float32. */
BNBQ_API bnbq_result bnbq_quantize_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                        const void* x, size_t n, int blocksize,
                                        uint8_t* out_packed, float* out_absmax);
/* out (n,) in dt. absmax: the float32 block maxima (rebuild nested ones with
   bnbq_dequantize_nested first). FP4 takes the sign from bit 3 of the nibble. */
BNBQ_API bnbq_result bnbq_dequantize_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                          const uint8_t* packed, const float* absmax, size_t n,
                                          int blocksize, void* out);

/* Nested statistics. offset = f32(mean of absmax) accumulated in double in chunks of 1024 blocks
   (algorithms.md 3.1); written to out_offset[0] in the exec's memory. */
BNBQ_API bnbq_result bnbq_nested_offset(bnbq_exec* ex, const float* absmax, size_t nblocks,
                                        float* out_offset /* (1,) */);
/* absmax_q, nested_absmax = quantize_blockwise(f32(absmax - offset[0]), nested_code,
   nested_blocksize). nested_code NULL = signed dynamic map. 4-bit uses nested_blocksize 256;
   8-bit nested uses its own blocksize. out_nested_absmax has ceil(nblocks/nested_blocksize). */
BNBQ_API bnbq_result bnbq_quantize_nested(bnbq_exec* ex, const float* nested_code,
                                          const float* absmax, size_t nblocks,
                                          int nested_blocksize, const float* offset /* (1,) */,
                                          uint8_t* out_absmax_q, float* out_nested_absmax);
/* out_absmax[b] = f32(f32(nested_code[absmax_q[b]] * nested_absmax[b / nested_blocksize])
   + offset[0]). */
BNBQ_API bnbq_result bnbq_dequantize_nested(bnbq_exec* ex, const float* nested_code,
                                            const uint8_t* absmax_q, const float* nested_absmax,
                                            size_t nblocks, int nested_blocksize,
                                            const float* offset /* (1,) */, float* out_absmax);

/* Global 8-bit quantization (bitsandbytes' deprecated quantize / dequantize): one absmax for the
   whole tensor, q = code_index(f32(x / absmax)) with an IEEE division. dt F16/BF16 inputs are
   widened first (= quantize(A.float())). code NULL = signed dynamic map. */
BNBQ_API bnbq_result bnbq_quantize_global(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                          const void* x, size_t n, uint8_t* out_q,
                                          float* out_absmax /* (1,) */);
/* out[i] = dt(f32(code[q[i]] * absmax[0])); bitsandbytes returns F32. */
BNBQ_API bnbq_result bnbq_dequantize_global(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                            const uint8_t* q, const float* absmax /* (1,) */,
                                            size_t n, void* out);

/* LLM.int8() vector-wise quantization of A (rows, cols), F16 only (as bitsandbytes).
   threshold > 0: columns holding any |a| >= threshold are outlier columns: left out of the row
   statistics and zeroed in CA (with rows == 1 only the outlier elements are zeroed); their sorted
   indices go to out_outlier_cols (capacity cols) and their count to out_n_outliers[0], both in
   the exec's memory. threshold == 0: the two may be NULL and nothing is written to them.
   out_CA (rows, cols) int8; out_row_stats (rows,) float32 absmax of each row. */
BNBQ_API bnbq_result bnbq_int8_vectorwise_quant(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                size_t rows, size_t cols, float threshold,
                                                int8_t* out_CA, float* out_row_stats,
                                                int32_t* out_outlier_cols,
                                                int32_t* out_n_outliers);
/* out (rows, cols) float32 = f32(f32(CA * row_stats[r]) * f32(1/127)). */
BNBQ_API bnbq_result bnbq_int8_vectorwise_dequant(bnbq_exec* ex, const int8_t* CA,
                                                  const float* row_stats, size_t rows,
                                                  size_t cols, float* out);
/* int8_double_quant: the vector-wise quantization above plus column-wise codes of the same
   layout (out_CAt is (rows, cols), NOT transposed, as bitsandbytes) and column statistics
   (cols,). Outlier elements (not whole columns) are zero in CAt. */
BNBQ_API bnbq_result bnbq_int8_double_quant(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                            size_t rows, size_t cols, float threshold,
                                            int8_t* out_CA, int8_t* out_CAt,
                                            float* out_row_stats, float* out_col_stats,
                                            int32_t* out_outlier_cols, int32_t* out_n_outliers);
/* out (M, N) int32 = A (M, K) @ B (N, K)^T, exact int32 accumulation (wrapping), any K. */
BNBQ_API bnbq_result bnbq_int8_linear_matmul(bnbq_exec* ex, const int8_t* A, const int8_t* B,
                                             size_t M, size_t N, size_t K, int32_t* out);
/* out (M, N) in dt (F16, F32 or BF16; bitsandbytes' default F16):
   f16(fmaf(f32(f32(A * row_stats[m]) * col_stats[n]), 6.200012e-05f, bias16[n])) then cast to dt.
   bias: NULL, or (N,) of bias_dt; an F16 bias is fused, any other is added to the f16 result. */
BNBQ_API bnbq_result bnbq_int8_mm_dequant(bnbq_exec* ex, bnbq_dtype dt, const int32_t* A,
                                          const float* row_stats, const float* col_stats,
                                          size_t M, size_t N, void* out,
                                          bnbq_dtype bias_dt, const void* bias);

/* SwitchBack (bitsandbytes.triton) quantizers and epilogues, F16 only.
   quantize_rowwise: out_q (rows, cols), out_state (rows,) f16 row absmax. */
BNBQ_API bnbq_result bnbq_quantize_rowwise(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                           size_t rows, size_t cols, int8_t* out_q,
                                           uint16_t* out_state);
/* out_q (cols, rows): column j of X quantized with its absmax, written transposed;
   out_state (cols,) f16. */
BNBQ_API bnbq_result bnbq_quantize_columnwise_and_transpose(bnbq_exec* ex, bnbq_dtype dt,
                                                            const void* X, size_t rows,
                                                            size_t cols, int8_t* out_q,
                                                            uint16_t* out_state);
/* quantize_global: one f16 absmax, fp16 arithmetic: rint(f16(127 * f16(x * f16(1/absmax)))). */
BNBQ_API bnbq_result bnbq_quantize_global_int8(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                               size_t n, int8_t* out_q,
                                               uint16_t* out_absmax /* (1,) */);
/* The same, X (rows, cols) written transposed to out_q (cols, rows). */
BNBQ_API bnbq_result bnbq_quantize_global_int8_transpose(bnbq_exec* ex, bnbq_dtype dt,
                                                         const void* X, size_t rows, size_t cols,
                                                         int8_t* out_q,
                                                         uint16_t* out_absmax /* (1,) */);
/* out (rows, cols) f16 = f16(f32(f16(state[r] * q) * f32(1/127))). */
BNBQ_API bnbq_result bnbq_dequantize_rowwise(bnbq_exec* ex, const int8_t* q,
                                             const uint16_t* state, size_t rows, size_t cols,
                                             uint16_t* out);
/* out (M, N) f16 from a (M, K) int8 and w (N, K) int8 (the weight, row-major; bitsandbytes passes
   its transpose): f16(state_w[n] * f32(state_x[m] * f32(acc * f32(1/127^2)))), then + bias in
   f16. bias (N,) f16 or NULL. */
BNBQ_API bnbq_result bnbq_int8_matmul_rowwise_dequantize(bnbq_exec* ex, const int8_t* a,
                                                         const int8_t* w,
                                                         const uint16_t* state_x,
                                                         const uint16_t* state_w, size_t M,
                                                         size_t N, size_t K, uint16_t* out,
                                                         const uint16_t* bias);
/* As above with one global weight scale state_w[0]. */
BNBQ_API bnbq_result bnbq_int8_matmul_mixed_dequantize(bnbq_exec* ex, const int8_t* a,
                                                       const int8_t* w, const uint16_t* state_x,
                                                       const uint16_t* state_w /* (1,) */,
                                                       size_t M, size_t N, size_t K,
                                                       uint16_t* out, const uint16_t* bias);

/* 4-bit matrix-vector product for one token (bitsandbytes gemv_4bit): out (N,) in dt from A (K,)
   in dt and a packed 4-bit weight (N, K) with float32 absmax. In F16/BF16 every absmax, weight and
   product is rounded to dt (bitsandbytes' one-token numerics, algorithms.md 6.3); F32 uses fmaf.
   code: the 16-entry quant_map, NULL = the built-in table of qt. bias (N,) in dt or NULL, added
   after the product with one rounding. Requires K % blocksize == 0. */
BNBQ_API bnbq_result bnbq_gemv_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                    const void* A, const uint8_t* packed, const float* absmax,
                                    size_t N, size_t K, int blocksize, void* out,
                                    const void* bias, const float* code);
/* bitsandbytes matmul_4bit: out (M, N) = A (M, K) @ W^T (+ bias). M == 1 with K % blocksize == 0
   runs bnbq_gemv_4bit (one-token numerics); otherwise the weight is dequantized to dt and
   multiplied with the products accumulated in double, rounded once to dt (bias added before that
   rounding). code is used by the one-token path only. */
BNBQ_API bnbq_result bnbq_matmul_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                      const void* A, const uint8_t* packed, const float* absmax,
                                      size_t M, size_t N, size_t K, int blocksize, void* out,
                                      const void* bias, const float* code);

// >>simd
/* The CPU operations pick a SIMD level once, at the first call: the best the CPU and this build
   support, or the environment variable BNBQ_SIMD=scalar|avx2|avx512|neon when it names a level
   the CPU has. Every level writes the same bytes as the scalar reference (tests/test_simd.c).
   x86-64 levels are compiled with function-level target attributes (gcc >= 8, clang >= 8), so a
   plain -std=c99 build gets them; on little-endian aarch64 NEON is part of the base architecture
   (gcc / clang: __aarch64__ and __ARM_NEON); BNBQ_NO_SIMD (or another compiler / target) leaves the
   scalar code only. Paths: 4-bit and 8-bit blockwise quantize / dequantize (every dtype), LLM.int8
   row-wise quantize (every level), the 4-bit GEMV (AVX-512 with VBMI, NEON), the int8 matmul
   bnbq_int8_linear_matmul and SwitchBack's int8 matmul + dequantize (every level; AVX-512 uses
   VNNI where the CPU has it); the other operations always run the scalar code. On AVX-512, large
   dequantize outputs (>= 16 MiB) and LLM.int8 rows (>= 1024 columns), 64-byte aligned, are written
   with streaming stores (the same bytes, without a read for ownership of each line). A level this CPU or build lacks is refused (NOT_SUPPORTED) by
   bnbq_cpu_set_simd_level and ignored in BNBQ_SIMD (the best level is used).
   The level is the one piece of global state of bnbq: set it before starting threads that call
   bnbq (reads and writes are atomic on gcc / clang, so a concurrent change is safe, not ordered). */
typedef enum bnbq_simd_level {
    BNBQ_SIMD_SCALAR = 0,   /* the portable reference                             */
    BNBQ_SIMD_NEON   = 1,   /* aarch64: Advanced SIMD (NEON), baseline there       */
    BNBQ_SIMD_AVX2   = 2,   /* x86: AVX2 + F16C                                    */
    BNBQ_SIMD_AVX512 = 3    /* x86: AVX-512 F + BW + VL + DQ                       */
} bnbq_simd_level;
/* The level in use (resolving it on the first call). Thread safety: any thread. */
BNBQ_API bnbq_simd_level bnbq_cpu_simd_level(void);
/* 1 when this CPU and this build can run the level (SCALAR always). */
BNBQ_API int bnbq_cpu_simd_supported(bnbq_simd_level level);
/* Forces a level. Errors: INVALID_ARGS (not a level), NOT_SUPPORTED (this CPU or build lacks it;
   the level in use stays). Thread safety: any thread (see above). */
BNBQ_API bnbq_result bnbq_cpu_set_simd_level(bnbq_simd_level level);
/* "scalar", "neon", "avx2", "avx512"; "unknown" otherwise. */
BNBQ_API const char* bnbq_simd_level_name(bnbq_simd_level level);

#ifdef BNBQ_PTHREADS
/* Opt-in (define BNBQ_PTHREADS wherever bnbq.h is included, link -lpthread): a small pool of POSIX
   worker threads to plug into bnbq_cpu_desc.parallel_for. bnbq starts no threads otherwise.
       bnbq_thread_pool* pool;  bnbq_thread_pool_create(2, &pool);
       desc.parallel_for = bnbq_thread_pool_parallel_for;  desc.parallel_for_user_data = pool;
   nthreads counts the calling thread (which runs one share): nthreads - 1 workers are started.
   parallel_for cuts [0, count) into nthreads contiguous ranges; calls through one pool from
   several threads are serialised. Errors: NULL_POINTER, INVALID_ARGS (nthreads < 1 or > 1024),
   OUT_OF_MEMORY (or a thread that could not start). */
typedef struct bnbq_thread_pool bnbq_thread_pool;
BNBQ_API bnbq_result bnbq_thread_pool_create(int nthreads, bnbq_thread_pool** out_pool);
BNBQ_API void bnbq_thread_pool_destroy(bnbq_thread_pool* pool);
BNBQ_API void bnbq_thread_pool_parallel_for(void* pool, bnbq_range_fn fn, void* task, size_t count);
#endif

// >>memory
/* Exec memory: host memory through the exec's allocator for the CPU (ex NULL: malloc), device
   memory for a GPU exec. Layers allocate their parameters and workspaces with these; a program can
   use them to move tensors in and out without knowing the backend.
   bnbq_copy is ordered on the exec's stream; EXEC_TO_HOST and HOST_TO_EXEC return when the host
   buffer may be read / reused. bnbq_sync waits for everything queued on the exec and reports an
   error an earlier asynchronous operation left (a GPU gather with an index out of range). */
typedef enum bnbq_copy_kind {
    BNBQ_COPY_HOST_TO_EXEC = 0,
    BNBQ_COPY_EXEC_TO_HOST = 1,
    BNBQ_COPY_EXEC_TO_EXEC = 2
} bnbq_copy_kind;
BNBQ_API bnbq_result bnbq_alloc(bnbq_exec* ex, size_t bytes, void** out_ptr);
BNBQ_API void        bnbq_free(bnbq_exec* ex, void* ptr);   /* NULL is a no-op */
BNBQ_API bnbq_result bnbq_copy(bnbq_exec* ex, void* dst, const void* src, size_t bytes,
                               bnbq_copy_kind kind);
BNBQ_API bnbq_result bnbq_fill_bytes(bnbq_exec* ex, void* dst, int byte_value, size_t bytes);
BNBQ_API bnbq_result bnbq_sync(bnbq_exec* ex);

// >>prims
/* Building blocks of the layers (public; on every backend). Float tensors are in dt (F32, F16,
   BF16) unless said; index tensors are int32 in exec memory.
   Reductions: the CPU sums in double and rounds once; a GPU sums in float32 in its own order and
   is compared with tolerance(dt) of the vectors README. */

/* out (M, N) = op(A) @ op(B) [+ bias] [+ out].
   op(A) is (M, K): A stored (M, K); with trans_a, A stored (K, M) and transposed.
   op(B) is (K, N): B stored (K, N); with trans_b, B stored (N, K) (a weight [out, in]: X @ W^T).
   bias (N,) or NULL. accumulate != 0 adds the old out (torch addmm, beta 1). The products and
   sums are exact in double on the CPU; bias and the old out join the sum before the one rounding. */
BNBQ_API bnbq_result bnbq_gemm(bnbq_exec* ex, bnbq_dtype dt, int trans_a, int trans_b,
                               size_t M, size_t N, size_t K, const void* A, const void* B,
                               const void* bias, int accumulate, void* out);
/* out (N,) = the sum of the M rows of X (M, N) (grad_bias = grad_out.sum(0)). */
BNBQ_API bnbq_result bnbq_column_sums(bnbq_exec* ex, bnbq_dtype dt, const void* X, size_t M,
                                      size_t N, void* out);
/* dst (cols, rows) = src (rows, cols) transposed; elem_size 1, 2, 4 or 8 bytes. */
BNBQ_API bnbq_result bnbq_transpose(bnbq_exec* ex, size_t elem_size, const void* src,
                                    size_t rows, size_t cols, void* dst);
/* out (count, row_bytes) = rows idx[i] of table (num_rows, row_bytes) (torch F.embedding).
   An index outside [0, num_rows): the CPU returns INVALID_ARGS and writes nothing; a GPU zeroes
   that output row and the exec's next bnbq_sync returns INVALID_ARGS. */
BNBQ_API bnbq_result bnbq_gather_rows(bnbq_exec* ex, const void* table, size_t num_rows,
                                      size_t row_bytes, const int32_t* idx, size_t count,
                                      void* out);
/* The gradient of an embedding lookup: grad_weight (num_rows, dim) is OVERWRITTEN with, per row r,
   the sum of grad_out[i] over the i with idx[i] == r (0 for rows never looked up), taken in index
   order; padding_idx >= 0 names a row whose gradient stays 0 (-1: none); scale_grad_by_freq
   divides each row's sum by the number of its occurrences. Index errors as bnbq_gather_rows.
   No temporary memory on any backend (each distinct row is summed at its first occurrence, after
   a scan of the earlier indices: O(count) per distinct row). */
BNBQ_API bnbq_result bnbq_gather_rows_backward(bnbq_exec* ex, bnbq_dtype dt, const int32_t* idx,
                                             size_t count, const void* grad_out,
                                             size_t num_rows, size_t dim, int64_t padding_idx,
                                             int scale_grad_by_freq, void* grad_weight);
/* torch embedding max_norm: each distinct looked-up row r of weight (num_rows, dim) whose
   norm_type-norm (computed in double; norm_type +inf: the largest |w|, as torch) exceeds
   max_norm is scaled in place by f32(max_norm / (norm + 1e-7)), each element rounded to dt.
   No temporary memory (as bnbq_gather_rows_backward: each distinct row at its first occurrence). */
BNBQ_API bnbq_result bnbq_renorm_rows(bnbq_exec* ex, bnbq_dtype dt, void* weight,
                                           size_t num_rows, size_t dim, const int32_t* idx,
                                           size_t count, float max_norm, float norm_type);
/* Layer norm over the last dimension of X (M, N), as torch.nn.LayerNorm on X converted to
   float32: mean, biased variance, rstd = 1 / sqrt(var + eps); out (M, N) in dt =
   dt((x - mean) * rstd * gamma[j] + beta[j]). gamma, beta (N,) float32 (NULL: 1 and 0).
   out_mean, out_rstd (M,) float32 or NULL (saved for the backward). */
BNBQ_API bnbq_result bnbq_layer_norm(bnbq_exec* ex, bnbq_dtype dt, const void* X, size_t M,
                                     size_t N, const float* gamma, const float* beta, float eps,
                                     void* out, float* out_mean, float* out_rstd);
/* Its gradient: grad_x (M, N) in dt (or NULL); grad_gamma, grad_beta (N,) float32, OVERWRITTEN
   (or NULL). mean / rstd from the forward, or NULL to recompute them from X. */
BNBQ_API bnbq_result bnbq_layer_norm_backward(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                              const void* grad_out, size_t M, size_t N,
                                              const float* gamma, float eps, const float* mean,
                                              const float* rstd, void* grad_x,
                                              float* grad_gamma, float* grad_beta);
/* Embedding8bit lookup: out (count, dim) in dt, out[i, j] = dt(f32(CB[r, j] * f32(SCB[r] / 127)))
   with r = idx[i]; CB (num_rows, dim) int8, SCB (num_rows,) float32. */
BNBQ_API bnbq_result bnbq_gather_rows_8bit(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CB,
                                         const float* SCB, size_t num_rows, size_t dim,
                                         const int32_t* idx, size_t count, void* out);
/* Embedding4bit lookup: out (count, dim) in dt = the values bnbq_dequantize_4bit gives for the
   elements of rows idx[i] of a packed (num_rows, dim) table (element (r, j) is flattened element
   r * dim + j of packed and absmax; float32 absmax, i.e. not nested). */
BNBQ_API bnbq_result bnbq_gather_rows_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                         const uint8_t* packed, const float* absmax,
                                         size_t num_rows, size_t dim, int blocksize,
                                         const int32_t* idx, size_t count, void* out);
/* LLM.int8 outlier product (int8_mixed_scaled_mm's addmm): with c_j = cols[j], j < *num_cols
   (num_cols in exec memory, as bnbq_int8_vectorwise_quant writes it; no host wait),
   out[m, n] = dt(f32(out[m, n]) + S), S = the float32 sum in j order of
   f32(A[m, c_j] * w[n, j]), w[n, j] = dt(f32(f32(CB[n, c_j] * SCB[n]) * 7.874015718698502e-3f))
   (the dequantized int8 weight rounded to dt). A (M, K) in dt, CB (N, K), SCB (N,). */
BNBQ_API bnbq_result bnbq_int8_outlier_mm(bnbq_exec* ex, bnbq_dtype dt, const void* A, size_t M,
                                          size_t K, const int8_t* CB, const float* SCB,
                                          size_t N, const int32_t* cols,
                                          const int32_t* num_cols, void* out);
/* LLM.int8's product of a quantized input (bitsandbytes' int8_mixed_scaled_mm; Linear8bitLt's
   forward): out (M, N) in dt = bnbq_int8_mm_dequant(dt, P, row_stats, col_stats, M, N, bias_dt,
   bias) with P = bnbq_int8_linear_matmul(CA (M, K), CB (N, K)), then, where cols is not NULL,
   bnbq_int8_outlier_mm(dt, A (M, K) in dt, M, K, CB, col_stats, N, cols, num_cols) added to it:
   the bytes of those calls in that order (on the CUDA backend, f16 / bf16 with more than 16 rows
   sum the outlier product on the tensor cores, within tolerance, unless
   bnbq_cuda_desc.exact_outlier_sums). work: (M, N) int32 for P; it may be NULL where M == 1
   (a decoding step: one kernel on the GPU, no intermediate). A and num_cols: needed with cols. */
BNBQ_API bnbq_result bnbq_int8_mixed_scaled_mm(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CA,
                                               const int8_t* CB, size_t M, size_t N, size_t K,
                                               const float* row_stats, const float* col_stats,
                                               bnbq_dtype bias_dt, const void* bias,
                                               const void* A, const int32_t* cols,
                                               const int32_t* num_cols, int32_t* work, void* out);
/* out (M, max_cols) = X (M, K) columns cols[j] for j < *num_cols, zero for j >= *num_cols
   (elem_size 1, 2, 4 or 8 bytes). Entries of cols past *num_cols are not read. */
BNBQ_API bnbq_result bnbq_gather_columns(bnbq_exec* ex, size_t elem_size, const void* X, size_t M,
                                         size_t K, const int32_t* cols, const int32_t* num_cols,
                                         size_t max_cols, void* out);
/* Column j < *num_cols of P (M, max_cols) into column cols[j] of out (M, K) in dt: replaced, or
   with accumulate out = dt(f32(out) + f32(P)). */
BNBQ_API bnbq_result bnbq_scatter_columns(bnbq_exec* ex, bnbq_dtype dt, const void* P, size_t M,
                                          size_t max_cols, const int32_t* cols,
                                          const int32_t* num_cols, int accumulate, void* out,
                                          size_t K);
/* The int8 weight as floats for the LLM.int8 input gradient: out (N, K) in dt,
   out[n, k] = dt(f32(CB[n, k]) * f32(SCB[n] * f32(1/127))). */
BNBQ_API bnbq_result bnbq_int8_weight_dequant(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CB,
                                              const float* SCB, size_t N, size_t K, void* out);

// >>research
/* (declarations: the research functions, matmul_fp8_* and switchback_bnb) */
/* bitsandbytes.research functions (algorithms.md 7) with their backward passes, and switchback_bnb.
   Every tensor in exec memory, dt F16/BF16/F32 (switchback_bnb: F16). They never allocate: work is
   a caller buffer of at least the bytes the matching _workspace_size reports (exec memory).
   fw_code / bw_code: 256-entry FP8 code tables in host memory (bnbq_create_fp8_map).
   A (M, K), B (K, N) (matmul_fp8_*: B is weight^T, as LinearFP8* passes it), out (M, N).
   bsz / bsz2: the blockwise blocksizes of A and of grad_out (mixed only; bnbq_fp8_block_sizes).
   Backward: grad_A (M, K) and grad_B (K, N), each NULL to skip. */
BNBQ_API bnbq_result bnbq_fp8_block_sizes(size_t in_features, size_t out_features, int* bsz,
                                          int* bsz2);
BNBQ_API bnbq_result bnbq_matmul_fp8_workspace_size(size_t M, size_t N, size_t K,
                                                    size_t* out_bytes);
BNBQ_API bnbq_result bnbq_matmul_fp8_mixed(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                           const void* B, size_t M, size_t N, size_t K,
                                           const float* fw_code, int bsz, void* out,
                                           void* work, size_t work_bytes);
BNBQ_API bnbq_result bnbq_matmul_fp8_mixed_backward(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                    const void* B, size_t M, size_t N, size_t K,
                                                    const float* fw_code, const float* bw_code,
                                                    int bsz2, const void* grad_out,
                                                    void* grad_A, void* grad_B, void* work,
                                                    size_t work_bytes);
BNBQ_API bnbq_result bnbq_matmul_fp8_global(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                            const void* B, size_t M, size_t N, size_t K,
                                            const float* fw_code, void* out, void* work,
                                            size_t work_bytes);
BNBQ_API bnbq_result bnbq_matmul_fp8_global_backward(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                     const void* B, size_t M, size_t N, size_t K,
                                                     const float* fw_code, const float* bw_code,
                                                     const void* grad_out, void* grad_A,
                                                     void* grad_B, void* work, size_t work_bytes);
/* switchback_bnb (algorithms.md 7.4) with 16-bit weights: A (M, K) f16, W (N, K) f16 (the weight,
   [out, in]), bias (N,) f16 or NULL, out (M, N) f16; threshold as LLM.int8. Backward: grad_A =
   grad @ dequant(W int8), grad_W = grad^T @ A (16-bit), grad_bias = column sums (each NULL to
   skip). */
BNBQ_API bnbq_result bnbq_switchback_bnb_workspace_size(size_t M, size_t N, size_t K,
                                                        size_t* out_bytes);
BNBQ_API bnbq_result bnbq_switchback_bnb(bnbq_exec* ex, const uint16_t* A, const uint16_t* W,
                                         size_t M, size_t N, size_t K, float threshold,
                                         const uint16_t* bias, uint16_t* out, void* work,
                                         size_t work_bytes);
BNBQ_API bnbq_result bnbq_switchback_bnb_backward(bnbq_exec* ex, const uint16_t* A,
                                                  const uint16_t* W, size_t M, size_t N,
                                                  size_t K, float threshold,
                                                  const uint16_t* grad_out, uint16_t* grad_A,
                                                  uint16_t* grad_W, uint16_t* grad_bias,
                                                  void* work, size_t work_bytes);

// >>layers
/* (declarations: the linear layers) */
/* Every layer of bitsandbytes.nn, its Triton SwitchBack modules and research.nn, as a struct with
   _init (from a zero-initialised desc: zero means bitsandbytes' default), _forward, _backward
   (where bitsandbytes trains the layer) and _uninit. A layer allocates its parameters, gradients
   and workspace through the exec at init (workspaces grow on the first call with more tokens than
   any before: no allocation in the steady state) and runs every step on the exec: the same code on
   the CPU and on a GPU, no host synchronisation inside a forward.
   Activations are (tokens, features) row-major in exec memory. _backward takes the forward's input
   again (the caller keeps it alive) and grad_out; it OVERWRITES layer->grad_weight / grad_bias
   (where the layer trains them) and writes grad_x (NULL: skip). Parameters are initialised as
   bitsandbytes / torch does (kaiming-uniform, Xavier-uniform, N(0,1)) from a deterministic bnbq
   generator seeded by desc.seed (torch's random stream is not reproduced); load real weights with
   _set_weight. Thread safety: one thread per layer at a time. */

typedef enum bnbq_linear_kind {
    BNBQ_LINEAR_STANDARD = 0,           /* StandardLinear (and torch nn.Linear): X @ W^T + b     */
    BNBQ_LINEAR_4BIT,                   /* Linear4bit (desc.quant_type, default FP4)             */
    BNBQ_LINEAR_FP4,                    /* LinearFP4                                              */
    BNBQ_LINEAR_NF4,                    /* LinearNF4                                              */
    BNBQ_LINEAR_8BIT_LT,                /* Linear8bitLt (LLM.int8)                                */
    BNBQ_LINEAR_OUTLIER_AWARE,          /* OutlierAwareLinear (callbacks in the desc)             */
    BNBQ_LINEAR_SWITCHBACK_BNB,         /* SwitchBackLinearBnb (switchback_bnb; see its note)     */
    BNBQ_LINEAR_SWITCHBACK_GLOBAL,      /* SwitchBackLinear / SwitchBackLinearGlobal              */
    BNBQ_LINEAR_SWITCHBACK_VECTORWISE,  /* SwitchBackLinearVectorwise                             */
    BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF, /* SwitchBackLinearGlobalMemEfficient                   */
    BNBQ_LINEAR_FP8_MIXED,              /* research.nn.LinearFP8Mixed                             */
    BNBQ_LINEAR_FP8_GLOBAL              /* research.nn.LinearFP8Global (see its note)             */
} bnbq_linear_kind;

struct bnbq_linear;
struct bnbq_outlier_tracer;
/* OutlierAwareLinear is abstract in bitsandbytes: the subclass supplies these two. quantize_weight
   rewrites layer->weight in place (it runs once); forward_with_outliers computes out. */
typedef bnbq_result (*bnbq_outlier_quantize_fn)(void* user_data, bnbq_exec* ex,
                                                struct bnbq_linear* layer,
                                                const int32_t* outlier_idx /* host */,
                                                size_t count);
typedef bnbq_result (*bnbq_outlier_forward_fn)(void* user_data, bnbq_exec* ex,
                                               struct bnbq_linear* layer, bnbq_dtype x_dt,
                                               const void* x, size_t tokens,
                                               const int32_t* outlier_idx /* host */,
                                               size_t count, void* out);

typedef struct bnbq_linear_desc {
    bnbq_linear_kind kind;
    size_t           in_features, out_features;
    int              no_bias;             /* bitsandbytes' default is bias=True                 */
    bnbq_dtype       weight_dtype;        /* float weight and bias dtype (0: F32, as bnb makes) */
    uint64_t         seed;                /* parameter init                                     */
    /* 4-bit (Params4bit) */
    bnbq_quant_type  quant_type;          /* BNBQ_LINEAR_4BIT only; default FP4                 */
    int              blocksize;           /* 0: 64                                               */
    int              no_compress_statistics; /* default: nested absmax (compress_statistics)     */
    bnbq_dtype       compute_dtype;       /* used when compute_dtype_set                        */
    int              compute_dtype_set;
    /* LLM.int8 (Linear8bitLt, SwitchBackLinearBnb) */
    float            threshold;           /* 0: no outlier decomposition                        */
    int              int8_weights;        /* has_fp16_weights=False (bnb default: True)          */
    int              weight_grad_16bit;   /* Linear8bitLt training: grad_W = grad^T @ A in 16
                                             bit instead of the intended int8 formula (5.6)      */
    int              memory_efficient_backward; /* SwitchBackLinearBnb's flag (kept, unused)     */
    /* OutlierAwareLinear */
    bnbq_outlier_quantize_fn quantize_weight;
    bnbq_outlier_forward_fn  forward_with_outliers;
    void*                    user_data;
} bnbq_linear_desc;

/* Fields are public for reading (and for copying tensors in); change them through the functions. */
typedef struct bnbq_linear {
    bnbq_linear_desc desc;        /* resolved: defaults filled in                               */
    int        training;          /* module.training: 1 after init; bnbq_linear_set_training     */
    void*      weight;            /* (out, in) float weight in desc.weight_dtype; NULL when the
                                     layer holds only a quantized weight                         */
    void*      bias;              /* (out,) in bias_dtype, or NULL                               */
    bnbq_dtype bias_dtype;        /* bitsandbytes casts the bias to the input dtype on forward  */
    void*      grad_weight;       /* (out, in) in desc.weight_dtype, when the layer trains W    */
    void*      grad_bias;         /* (out,) in bias_dtype                                        */
    int        quantized;         /* the weight state holds a quantized weight                  */
    /* Params4bit / QuantState */
    bnbq_quant_type quant_type;
    int        blocksize;
    int        nested;
    bnbq_dtype quant_dtype;       /* the dtype the weight had when it was quantized              */
    uint8_t*   packed;            /* ceil(out * in / 2) bytes                                    */
    float*     absmax;            /* (nblocks,) float32; not nested                              */
    uint8_t*   absmax_q;          /* (nblocks,) nested: 8-bit codes of absmax - offset           */
    float*     nested_absmax;     /* (ceil(nblocks / 256),)                                      */
    float      nested_offset;
    /* Int8Params / MatmulLtState */
    int8_t*    CB;                /* (out, in)                                                   */
    float*     SCB;               /* (out,)                                                      */
    int32_t*   outlier_cols;      /* (in,) the last forward's outlier columns (state.idx)       */
    int32_t*   num_outliers;      /* (1,) their count, exec memory                              */
    /* SwitchBackLinear after prepare_for_eval */
    int8_t*    W_int8;
    uint16_t*  state_W;
    int        prepared_for_eval;
    /* LinearFP8* */
    float      fw_code[256], bw_code[256];
    int        bsz, bsz2;
    /* OutlierAwareLinear */
    int32_t*   outlier_dim;       /* host, from the tracer                                       */
    size_t     outlier_count;
    int        outlier_dim_set;
    /* private */
    void*      work;
    size_t     work_bytes;
    size_t     saved_tokens;
    void*      impl;
} bnbq_linear;

BNBQ_API bnbq_result bnbq_linear_init(bnbq_exec* ex, bnbq_linear* layer,
                                      const bnbq_linear_desc* desc);
BNBQ_API void        bnbq_linear_uninit(bnbq_exec* ex, bnbq_linear* layer);
/* Copies a float weight (out, in) and bias (out,) (NULL: keep) from HOST memory, in
   desc.weight_dtype; clears a quantized state. */
BNBQ_API bnbq_result bnbq_linear_set_weight(bnbq_exec* ex, bnbq_linear* layer, const void* weight,
                                            const void* bias);
/* Int8Params / Params4bit "move to the device": quantizes the float weight (4-bit in its dtype;
   8-bit after rounding to f16) and frees it unless the layer keeps 16-bit weights. Layers without
   a quantized weight state: NOT_SUPPORTED. */
BNBQ_API bnbq_result bnbq_linear_quantize(bnbq_exec* ex, bnbq_linear* layer);
/* Params4bit.from_prequantized: a packed state from a bitsandbytes checkpoint (host memory);
   absmax float32 (nested NULL) or absmax_q + nested_absmax + nested_offset. */
BNBQ_API bnbq_result bnbq_linear_load_4bit(bnbq_exec* ex, bnbq_linear* layer,
                                           bnbq_quant_type qt, int blocksize,
                                           bnbq_dtype quant_dtype, const uint8_t* packed,
                                           const float* absmax, const uint8_t* absmax_q,
                                           const float* nested_absmax, float nested_offset);
/* Linear8bitLt from a checkpoint: CB (out, in) int8 and SCB (out,) float32, host memory. */
BNBQ_API bnbq_result bnbq_linear_load_8bit(bnbq_exec* ex, bnbq_linear* layer, const int8_t* CB,
                                           const float* SCB);
/* SwitchBackLinear.prepare_for_eval: keeps the int8 weight and its state, drops the float weight. */
BNBQ_API bnbq_result bnbq_linear_prepare_for_eval(bnbq_exec* ex, bnbq_linear* layer);
BNBQ_API void        bnbq_linear_set_training(bnbq_linear* layer, int training);
/* The dtype forward writes for input x_dt (SwitchBack: always F16). */
BNBQ_API bnbq_dtype  bnbq_linear_output_dtype(const bnbq_linear* layer, bnbq_dtype x_dt);
BNBQ_API bnbq_result bnbq_linear_forward(bnbq_exec* ex, bnbq_linear* layer, bnbq_dtype x_dt,
                                         const void* x, size_t tokens, void* out);
/* grad_out in bnbq_linear_output_dtype(x_dt); grad_x in x_dt. The memory-efficient SwitchBack
   uses the int8 input its last training forward saved (x may then be NULL). */
BNBQ_API bnbq_result bnbq_linear_backward(bnbq_exec* ex, bnbq_linear* layer, bnbq_dtype x_dt,
                                          const void* x, size_t tokens, const void* grad_out,
                                          void* grad_x);

/* OutlierTracer: C has no module graph, so instead of forward pre-hooks the caller hands the tracer
   to each linear layer's forward during one tracing pass, in call order. */
typedef struct bnbq_outlier_tracer {
    int      active;        /* 1 after init, 0 once a layer is seen twice (tracing done)        */
    size_t   num_layers;
    const void** seen;      /* layers in call order (keyed by weight pointer)                   */
    int32_t** outliers;     /* per layer, host                                                   */
    size_t*  counts;
    size_t   cap;
    bnbq_allocator allocator;
} bnbq_outlier_tracer;
BNBQ_API bnbq_result bnbq_outlier_tracer_init(bnbq_outlier_tracer* t, const bnbq_allocator* a);
BNBQ_API void        bnbq_outlier_tracer_uninit(bnbq_outlier_tracer* t);
/* The pre-hook: records the layer's outlier dimensions (layers.md 5), then runs
   bnbq_linear_forward. With a NULL or inactive tracer it is bnbq_linear_forward. */
BNBQ_API bnbq_result bnbq_linear_forward_traced(bnbq_exec* ex, bnbq_outlier_tracer* t,
                                                bnbq_linear* layer, bnbq_dtype x_dt,
                                                const void* x, size_t tokens, void* out);
/* find_outlier_dims: indices whose z-score of the unbiased std along reduction_dim (0: std of each
   column over rows, 1: of each row) exceeds zscore (topk > 0: the topk largest stds instead).
   X (rows, cols) in HOST memory; out_idx has room for rows + cols entries. */
BNBQ_API bnbq_result bnbq_find_outlier_dims(bnbq_dtype dt, const void* X, size_t rows,
                                            size_t cols, int reduction_dim, float zscore,
                                            size_t topk, int32_t* out_idx, size_t* out_count);

/* (declarations: the embeddings) */
/* bitsandbytes.nn Embedding, StableEmbedding, Embedding4bit / EmbeddingFP4 / EmbeddingNF4 and
   Embedding8bit (layers.md 1, 2, 9, 10). A bnbq_embedding is caller-owned; _init allocates the
   table (and the gradients of the trainable kinds) in exec memory; _forward / _backward run on the
   exec with no host wait and no allocation once the workspace has grown to the largest count
   seen; _uninit frees everything. Indices are int32 (torch uses int64) in exec memory; an index
   outside [0, num_embeddings) is INVALID_ARGS (on a GPU: reported by the next bnbq_sync, the
   output row zeroed). Thread safety: one thread per embedding at a time.

   bitsandbytes behaviour kept (and its quirks):
   - Embedding / StableEmbedding: Xavier-uniform init U(-a, a), a = sqrt(6 / (num + dim)) (NOT
     torch's N(0, 1)), then the padding row zeroed; both register optim_bits = 32 for the weight
     (bitsandbytes' 8-bit optimizers keep 32-bit states for embeddings): the optim_bits field.
     bnbq draws from its own generator (splitmix64 seeded by desc.seed), not torch's stream.
   - max_norm (torch F.embedding): the looked-up rows of the WEIGHT are renormalised in place by
     every forward (bnbq_renorm_rows), before the gather; the backward treats the renorm as
     constant, as torch does.
   - StableEmbedding: out = dt(LayerNorm(float32(rows))) with the norm's weight 1, bias 0, eps
     1e-5 in float32 whatever the weight dtype (bitsandbytes casts to torch's default dtype, which
     is float32 unless a program changed it); its gradients flow through the norm.
   - The quantized kinds take no padding_idx / max_norm / scale_grad_by_freq (their bitsandbytes
     constructors lack them: INVALID_ARGS here), start from torch's nn.Embedding init N(0, 1), are
     quantized by bnbq_embedding_quantize (bitsandbytes quantizes on the first move to a device;
     a forward before it fails) and cannot be trained (bitsandbytes sets requires_grad=False):
     _backward is NOT_SUPPORTED. They are not serializable in bitsandbytes (state_dict raises).
   - Embedding4bit: Params4bit without nested statistics, blocksize 64, quant_type desc.quant_type
     (FP4 by default); the table is quantized as one flat tensor of num * dim elements in the
     construction dtype. An embedding_dim that is not a multiple of 64 is logged at WARN (as
     bitsandbytes warns: its blocks then straddle rows, and it dequantizes the whole table per
     forward; bnbq gives the same values by decoding only the looked-up elements).
   - Embedding8bit: Int8Params: the weight is ROUNDED TO F16 FIRST, then row-wise int8 with
     threshold 0 (CB (num, dim) int8, SCB (num,) float32 row absmax); lookups give
     dt(f32(CB * f32(SCB / 127))) (bitsandbytes divides by 127.0, it does not multiply by 1/127).
     Lossless for weights in {-1, +1}.
   - Output dtype: desc.dtype (the construction dtype) for every kind. */
typedef enum bnbq_embedding_kind {
    BNBQ_EMBEDDING = 0,         /* Embedding (Xavier init; optimizer keeps 32-bit state)      */
    BNBQ_EMBEDDING_STABLE,      /* StableEmbedding (+ LayerNorm in float32)                    */
    BNBQ_EMBEDDING_4BIT,        /* Embedding4bit (desc.quant_type, default FP4)                */
    BNBQ_EMBEDDING_FP4,
    BNBQ_EMBEDDING_NF4,
    BNBQ_EMBEDDING_8BIT         /* Embedding8bit                                               */
} bnbq_embedding_kind;

/* Zero-initialise; zero means bitsandbytes' default. */
typedef struct bnbq_embedding_desc {
    bnbq_embedding_kind kind;
    size_t          num_embeddings, embedding_dim;
    int             padding_idx_set;     /* padding_idx=None by default                        */
    int64_t         padding_idx;         /* negative counts from the end, as torch             */
    float           max_norm;            /* 0: None; negative: INVALID_ARGS                    */
    float           norm_type;           /* 0: 2.0                                             */
    int             scale_grad_by_freq;
    int             sparse;              /* accepted; gradients are dense                      */
    bnbq_dtype      dtype;               /* weight dtype F32 (0), F16 or BF16                  */
    uint64_t        seed;
    bnbq_quant_type quant_type;          /* BNBQ_EMBEDDING_4BIT only; default FP4              */
} bnbq_embedding_desc;

/* Read-only for the caller (the gradients are the caller's to read after a backward). */
typedef struct bnbq_embedding {
    bnbq_embedding_desc desc;            /* resolved: padding_idx >= 0, norm_type, quant_type  */
    int      optim_bits;                 /* 32 for Embedding / StableEmbedding (the bnb
                                            optimizer override), 0 otherwise                   */
    int64_t  padding_row;                /* resolved padding_idx, -1 none                      */
    void*    weight;                     /* (num, dim) in desc.dtype; NULL once quantized      */
    void*    grad_weight;                /* (num, dim) in desc.dtype; trainable kinds only     */
    float*   norm_weight, *norm_bias;    /* StableEmbedding LayerNorm (dim,) float32           */
    float*   grad_norm_weight, *grad_norm_bias;
    int      quantized;
    int      blocksize;                  /* 4-bit: 64                                          */
    uint8_t* packed;  float* absmax;     /* 4-bit: (ceil(num*dim/2),), (ceil(num*dim/64),)     */
    int8_t*  CB;      float* SCB;        /* 8-bit: (num, dim), (num,)                          */
    void*    work;    size_t work_bytes; /* private                                            */
} bnbq_embedding;

/* Validates and resolves desc, allocates and initialises the table (and, for Embedding /
   StableEmbedding, grad_weight and the norm's parameters and gradients, all zero). On failure
   *e is left zeroed. Errors: NULL_POINTER, BAD_SHAPE (a zero size), INVALID_ARGS (kind,
   padding_idx out of [-num, num), max_norm < 0, norm_type < 0, an option the kind lacks),
   BAD_DTYPE, BAD_QUANT_TYPE (4-bit: not FP4 / NF4), OVERFLOW, OUT_OF_MEMORY. */
BNBQ_API bnbq_result bnbq_embedding_init(bnbq_exec* ex, bnbq_embedding* e,
                                         const bnbq_embedding_desc* desc);
/* Frees what init and the calls allocated and zeroes *e. NULL or a zeroed e: no-op. */
BNBQ_API void        bnbq_embedding_uninit(bnbq_exec* ex, bnbq_embedding* e);
/* Copies a (num, dim) table in desc.dtype from HOST memory into the weight, as is (the padding
   row is not zeroed: torch's _weight argument). INVALID_ARGS once quantized. */
BNBQ_API bnbq_result bnbq_embedding_set_weight(bnbq_exec* ex, bnbq_embedding* e,
                                               const void* weight /* host, desc.dtype */);
/* Embedding4bit / 8bit: quantize the table (the "move to the device") and free the float table;
   a second call is a no-op. Embedding / StableEmbedding: NOT_SUPPORTED. */
BNBQ_API bnbq_result bnbq_embedding_quantize(bnbq_exec* ex, bnbq_embedding* e);
/* out (count, dim) in desc.dtype; idx (count,) int32 in exec memory. With max_norm the looked-up
   weight rows are renormalised in place first. Quantized kinds: INVALID_ARGS before quantize. */
BNBQ_API bnbq_result bnbq_embedding_forward(bnbq_exec* ex, bnbq_embedding* e, const int32_t* idx,
                                            size_t count, void* out);
/* Embedding / StableEmbedding: OVERWRITES grad_weight (padding row 0; scale_grad_by_freq divides
   each row's sum by its count) and, for StableEmbedding, grad_norm_weight / grad_norm_bias,
   from the forward's idx and grad_out (count, dim) in desc.dtype. Quantized kinds:
   NOT_SUPPORTED. */
BNBQ_API bnbq_result bnbq_embedding_backward(bnbq_exec* ex, bnbq_embedding* e,
                                             const int32_t* idx, size_t count,
                                             const void* grad_out);

// >>io
/* Checkpoints: safetensors files ("st" below), and the state dicts of the layers in the tensor
   names and layouts bitsandbytes and Hugging Face write (spec: layers.md 8).

   The safetensors format: 8 bytes N (u64 little-endian), N bytes of UTF-8 JSON
   {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
    "__metadata__": {"key": "text", ...}} padded with spaces, then the data area; offsets are
   relative to the data area, and the tensors cover it exactly (no holes, no overlap).

   READER (bnbq_st_reader_init): validates everything before it answers: the header length (at
   most 100,000,000 bytes, as the official reader), the header inside the buffer, UTF-8, well-formed
   JSON (keys of a tensor in any order, whitespace anywhere JSON allows; unknown keys inside a
   tensor entry are skipped), known dtype names, shapes whose element counts fit size_t, data
   offsets that match dtype x shape, lie inside the data area and cover it exactly, no duplicate
   names, `__metadata__` a map of strings (or null). A failure is CORRUPT_FILE (or OUT_OF_MEMORY),
   logged with what was wrong. Tensor data is NOT copied: each
   tensor points into the caller's buffer (which must outlive the reader); in a buffer aligned to 8
   bytes, a file written by bnbq or the official library has every tensor aligned to its element
   size, but other writers may leave data unaligned. Names holding U+0000 are rejected.
   WRITER (bnbq_st_writer_*): collects tensors (host memory) and metadata, then writes the whole
   file into a caller buffer (_size first) or to a file. The output is deterministic and is the
   official library's layout: tensors ordered by dtype (largest element type first, in the
   official Dtype order) then by name (bytewise), so every tensor is aligned to its element size;
   compact JSON with keys "dtype", "shape", "data_offsets"; "__metadata__" first, its keys sorted
   bytewise (the official writer keeps a hash map's order there, so with two or more metadata keys
   only the content, not the byte order, can match); the header padded with spaces to a multiple
   of 8 bytes.
   FILES (compiled out by BNBQ_NO_STDIO): bnbq_st_reader_init_file reads a whole file into memory
   the reader owns; bnbq_st_writer_write_file writes "<path>.tmp-<hex>" in the same directory, then
   renames it over path, so an existing file is replaced whole or not at all (no fsync: a power
   loss right after the call may still lose the new file; on Windows the old file is removed just
   before the rename).

   LAYER STATE DICTS (bnbq_linear_save / _load, bnbq_embedding_save / _load), tensors under
   "PREFIX." (prefix "" or NULL: no prefix):
   - Linear4bit / FP4 / NF4 once quantized: PREFIX.weight (the packed bytes as quant_storage U8 /
     F16 / BF16 / F32, shape [ceil(ceil(N*K/2) / itemsize), 1]: bitsandbytes' [(N*K+1)//(2*itemsize),
     1] wherever that holds every byte), .bias, .weight.absmax (F32; U8 when nested),
     .weight.quant_map (F32 [16]), nested: .weight.nested_absmax (F32), .weight.nested_quant_map
     (F32 [256]), and .weight.quant_state.bitsandbytes__nf4 | __fp4: U8 [len] holding the JSON
     Python's json.dumps writes for the quant state, byte for byte, e.g.
     {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [96, 64],
      "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.1232503280043602}
     (nested_offset: the float32 offset widened to double, in Python's repr: the shortest text that
     reads back as the same double).
   - Linear8bitLt with int8 weights once quantized: PREFIX.weight (I8 [N, K]), .SCB (F32 [N]),
     .weight_format (U8 scalar, 0 = "row"), .bias. SwitchBackLinearBnb with int8 weights saves the
     same (bitsandbytes' SwitchBackLinearBnb saves no SCB, so its int8 checkpoints cannot be loaded
     again there; bnbq keeps them loadable).
   - SwitchBackLinear* after bnbq_linear_prepare_for_eval: PREFIX.W_int8 (I8 [N, K]), .state_W
     (F16 [N] vector-wise, [1] global), .bias.
   - Every other linear state (StandardLinear, SwitchBack*, FP8*, OutlierAwareLinear, Linear8bitLt
     with 16-bit weights or not yet quantized, a 4-bit layer not yet quantized): PREFIX.weight
     (+ .bias) in their dtypes.
   - Embedding / StableEmbedding: PREFIX.weight; StableEmbedding adds PREFIX.norm.weight and
     PREFIX.norm.bias (F32 [dim]). Embedding4bit / 8bit: NOT_SUPPORTED (bitsandbytes raises
     NotImplementedError).
   Loading (torch's load_state_dict(strict=True) semantics for the keys the layer needs): what the
   checkpoint holds decides the state: a 4-bit layer takes a quantized checkpoint (the JSON blob,
   or the older unpacked form: .weight.quant_type / .blocksize / .dtype / .shape / nested_* as
   tensors of their own, text as U8 bytes, numbers as integer or float tensors of one or two
   elements) or a float one (then bnbq_linear_quantize later, as bitsandbytes); quant_storage may be
   any of the four item types (the bytes are the same); JSON keys in any order, any whitespace;
   absmax U8 only with the nested fields; quant_map / nested_quant_map must be bitsandbytes' NF4 /
   FP4 / signed dynamic tables (bnbq's layers hold no other: NOT_SUPPORTED) and nested_blocksize
   256. Linear8bitLt / SwitchBackLinearBnb take .SCB with an I8 weight (weight_format missing, 0,
   or the text "row"; any other value is NOT_SUPPORTED) or a float weight. SwitchBackLinear* take
   .W_int8 + .state_W (the layer becomes prepared for eval) or a float weight. Float tensors are
   converted to the layer's dtypes (weight: desc.weight_dtype; bias: the layer's current bias
   dtype), as torch's copy_ does. A missing key, a key of the wrong dtype or shape (checked
   against the layer's desc), bad JSON, or a bias the layer lacks (or lacks in the file) fail
   with CORRUPT_FILE / BAD_SHAPE / BAD_DTYPE (a bad blocksize in the quant state: BAD_BLOCKSIZE)
   before anything changes: the layer is left as it was (an allocation failure while copying in
   can leave it partly loaded).
   Deviation: bitsandbytes raises RuntimeError when an int8 checkpoint is loaded into a
   Linear8bitLt that was not moved to the GPU (quantized) first; bnbq has no device move and simply
   loads it (the layer becomes quantized). An int8 checkpoint needs a layer with
   desc.int8_weights (has_fp16_weights=False): INVALID_ARGS otherwise.
   Thread safety: a reader is read-only after init (any threads may look up); a writer and a
   layer belong to one thread at a time. */

/* The safetensors dtypes. BNBQ_ST_U8 is 0 so that a zeroed quant_storage means bitsandbytes'
   default. */
typedef enum bnbq_st_dtype {
    BNBQ_ST_U8 = 0, BNBQ_ST_I8, BNBQ_ST_BOOL, BNBQ_ST_F4, BNBQ_ST_F6_E2M3, BNBQ_ST_F6_E3M2,
    BNBQ_ST_F8_E5M2, BNBQ_ST_F8_E4M3, BNBQ_ST_F8_E8M0, BNBQ_ST_F8_E4M3FNUZ, BNBQ_ST_F8_E5M2FNUZ,
    BNBQ_ST_I16, BNBQ_ST_U16, BNBQ_ST_F16, BNBQ_ST_BF16, BNBQ_ST_I32, BNBQ_ST_U32, BNBQ_ST_F32,
    BNBQ_ST_C64, BNBQ_ST_F64, BNBQ_ST_I64, BNBQ_ST_U64,
    BNBQ_ST_DTYPE_COUNT
} bnbq_st_dtype;

/* "F32", "BF16", ... (the names in the file); NULL for a value outside the enum. */
BNBQ_API const char* bnbq_st_dtype_name(bnbq_st_dtype dt);
/* Bits per element (4 for F4, 6 for F6_*, 8..64), 0 for a value outside the enum. */
BNBQ_API int         bnbq_st_dtype_bits(bnbq_st_dtype dt);
/* bnbq_dtype <-> safetensors dtype; BAD_DTYPE where there is no counterpart. */
BNBQ_API bnbq_result bnbq_st_dtype_from(bnbq_dtype dt, bnbq_st_dtype* out);
BNBQ_API bnbq_result bnbq_st_dtype_to(bnbq_st_dtype dt, bnbq_dtype* out);

typedef struct bnbq_st_tensor {
    const char*   name;     /* NUL-terminated UTF-8, JSON escapes decoded                       */
    bnbq_st_dtype dtype;
    size_t        ndim;     /* 0 for a scalar                                                   */
    const size_t* shape;    /* (ndim,)                                                          */
    size_t        numel;    /* product of shape (1 for a scalar)                                */
    const void*   data;     /* into the buffer (see READER on alignment)                        */
    size_t        bytes;
    size_t        offset;   /* data_offsets[0], relative to the data area                       */
} bnbq_st_tensor;

/* Read-only for the caller. */
typedef struct bnbq_st_reader {
    const uint8_t*  buffer;            /* the whole file                                         */
    size_t          buffer_bytes;
    size_t          header_bytes;      /* N                                                      */
    const uint8_t*  data_area;         /* buffer + 8 + N                                         */
    size_t          data_bytes;
    size_t          count;             /* tensors, in the header's order                         */
    const bnbq_st_tensor* tensors;
    size_t          metadata_count;    /* __metadata__ entries, in the header's order            */
    const char* const* metadata_keys;
    const char* const* metadata_values;
    /* private */
    void*           block;
    const bnbq_st_tensor** by_name;
    void*           file_buffer;
} bnbq_st_reader;

/* Parses and validates a safetensors file held in buffer (host memory, `bytes` long); allocates
   its tables through the exec's allocator; the data stays in buffer. On failure *r is zeroed.
   Errors: NULL_POINTER, CORRUPT_FILE, OUT_OF_MEMORY. Thread safety: any thread. */
BNBQ_API bnbq_result bnbq_st_reader_init(bnbq_exec* ex, bnbq_st_reader* r, const void* buffer,
                                         size_t bytes);
#ifndef BNBQ_NO_STDIO
/* Reads the whole file into a buffer the reader owns, then as bnbq_st_reader_init.
   Errors: as above, IO (the file cannot be opened or read). */
BNBQ_API bnbq_result bnbq_st_reader_init_file(bnbq_exec* ex, bnbq_st_reader* r,
                                              const char* path);
#endif
/* Frees what init allocated (same exec) and zeroes *r. NULL or zeroed r: no-op. */
BNBQ_API void        bnbq_st_reader_uninit(bnbq_exec* ex, bnbq_st_reader* r);
/* The tensor called name, or NULL (also for NULL arguments). O(log count). */
BNBQ_API const bnbq_st_tensor* bnbq_st_find(const bnbq_st_reader* r, const char* name);
/* The __metadata__ value of key, or NULL. */
BNBQ_API const char* bnbq_st_find_metadata(const bnbq_st_reader* r, const char* key);

/* Caller-owned; private fields. */
typedef struct bnbq_st_writer {
    size_t count, cap;          /* tensors                                                      */
    void*  entries;
    size_t metadata_count, metadata_cap;
    void*  metadata;
} bnbq_st_writer;

/* Zeroes *w (a zeroed writer is an empty one). Errors: NULL_POINTER. */
BNBQ_API bnbq_result bnbq_st_writer_init(bnbq_exec* ex, bnbq_st_writer* w);
/* Frees everything the writer copied (same exec) and zeroes *w. */
BNBQ_API void        bnbq_st_writer_uninit(bnbq_exec* ex, bnbq_st_writer* w);
/* Adds a tensor. name is copied; data (host memory, bytes = numel * bits / 8) is BORROWED: it
   must stay valid and unchanged until the last write (data may be NULL only when it is 0 bytes).
   Errors: NULL_POINTER, INVALID_ARGS (name "__metadata__" or not UTF-8), BAD_DTYPE (not a
   bnbq_st_dtype), BAD_SHAPE (numel * bits not a whole number of bytes), OVERFLOW, OUT_OF_MEMORY.
   A name added twice is reported by _size / _write. */
BNBQ_API bnbq_result bnbq_st_writer_add(bnbq_exec* ex, bnbq_st_writer* w, const char* name,
                                        bnbq_st_dtype dtype, size_t ndim, const size_t* shape,
                                        const void* data);
/* The same, but the data is copied into the writer (from HOST memory). */
BNBQ_API bnbq_result bnbq_st_writer_add_copy(bnbq_exec* ex, bnbq_st_writer* w, const char* name,
                                             bnbq_st_dtype dtype, size_t ndim,
                                             const size_t* shape, const void* data);
/* Sets a __metadata__ entry (key and value copied, UTF-8); a key set twice keeps the last value. */
BNBQ_API bnbq_result bnbq_st_writer_set_metadata(bnbq_exec* ex, bnbq_st_writer* w,
                                                 const char* key, const char* value);
/* Bytes of the whole file. Errors: NULL_POINTER, INVALID_ARGS (two tensors of one name),
   OVERFLOW. */
BNBQ_API bnbq_result bnbq_st_writer_size(bnbq_exec* ex, const bnbq_st_writer* w,
                                         size_t* out_bytes);
/* Writes the file into out (host, capacity bytes); *out_bytes = its size. Errors: as _size, and
   INVALID_ARGS when capacity is too small (nothing is written then). */
BNBQ_API bnbq_result bnbq_st_writer_write(bnbq_exec* ex, const bnbq_st_writer* w, void* out,
                                          size_t capacity, size_t* out_bytes);
#ifndef BNBQ_NO_STDIO
/* Writes the file to path through a temporary file and a rename (see FILES). Errors: as _size,
   IO (the old file, if any, is untouched and the temporary file removed), OUT_OF_MEMORY. */
BNBQ_API bnbq_result bnbq_st_writer_write_file(bnbq_exec* ex, const bnbq_st_writer* w,
                                               const char* path);
#endif

/* The layer's tensors under "prefix." into w (copied out of exec memory: the writer owns them).
   quant_storage: item type of a quantized 4-bit weight: U8 (0, bitsandbytes' default), F16, BF16
   or F32 (BAD_DTYPE otherwise); ignored by other states. Errors: NULL_POINTER, INVALID_ARGS (the
   layer is not initialised, or holds no weight), BAD_DTYPE, OUT_OF_MEMORY, and the writer's; on a
   failure the writer holds none of the layer's tensors. */
BNBQ_API bnbq_result bnbq_linear_save(bnbq_exec* ex, const bnbq_linear* layer, const char* prefix,
                                      bnbq_st_dtype quant_storage, bnbq_st_writer* w);
/* Loads the layer's state from r (see LAYER STATE DICTS). */
BNBQ_API bnbq_result bnbq_linear_load(bnbq_exec* ex, bnbq_linear* layer,
                                      const bnbq_st_reader* r, const char* prefix);
/* Embedding / StableEmbedding (NOT_SUPPORTED for the quantized kinds, as bitsandbytes). */
BNBQ_API bnbq_result bnbq_embedding_save(bnbq_exec* ex, const bnbq_embedding* e,
                                         const char* prefix, bnbq_st_writer* w);
BNBQ_API bnbq_result bnbq_embedding_load(bnbq_exec* ex, bnbq_embedding* e,
                                         const bnbq_st_reader* r, const char* prefix);

/* Python's repr() of a double (what json.dumps writes for a float): the shortest decimal that
   reads back as v, "0.1", "1e-05", "1e+16", "1000000000000000.0", "-0.0", and json.dumps' "NaN",
   "Infinity", "-Infinity"; independent of the C locale. out has room for 32 bytes; returns the
   length. */
BNBQ_API size_t bnbq_format_double_repr(double v, char* out /* (32,) */);

// >>backend
/* One function pointer per operation, with the public signature. A backend leaves a slot NULL
   for an operation it lacks (the public function then returns BNBQ_ERROR_NOT_SUPPORTED). The
   public functions validate their arguments before calling the backend. */
typedef struct bnbq_backend {
    const char* name;
    bnbq_result (*convert)(bnbq_exec*, bnbq_dtype, const void*, size_t, bnbq_dtype, void*);
    bnbq_result (*quantize_blockwise)(bnbq_exec*, const float*, bnbq_dtype, const void*, size_t,
                                      int, uint8_t*, float*);
    bnbq_result (*dequantize_blockwise)(bnbq_exec*, const float*, bnbq_dtype, const uint8_t*,
                                        const float*, size_t, int, void*);
    bnbq_result (*quantize_4bit)(bnbq_exec*, bnbq_quant_type, bnbq_dtype, const void*, size_t,
                                 int, uint8_t*, float*);
    bnbq_result (*dequantize_4bit)(bnbq_exec*, bnbq_quant_type, bnbq_dtype, const uint8_t*,
                                   const float*, size_t, int, void*);
    bnbq_result (*nested_offset)(bnbq_exec*, const float*, size_t, float*);
    bnbq_result (*quantize_nested)(bnbq_exec*, const float*, const float*, size_t, int,
                                   const float*, uint8_t*, float*);
    bnbq_result (*dequantize_nested)(bnbq_exec*, const float*, const uint8_t*, const float*,
                                     size_t, int, const float*, float*);
    bnbq_result (*quantize_global)(bnbq_exec*, const float*, bnbq_dtype, const void*, size_t,
                                   uint8_t*, float*);
    bnbq_result (*dequantize_global)(bnbq_exec*, const float*, bnbq_dtype, const uint8_t*,
                                     const float*, size_t, void*);
    bnbq_result (*int8_vectorwise_quant)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t,
                                         float, int8_t*, float*, int32_t*, int32_t*);
    bnbq_result (*int8_vectorwise_dequant)(bnbq_exec*, const int8_t*, const float*, size_t,
                                           size_t, float*);
    bnbq_result (*int8_double_quant)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t, float,
                                     int8_t*, int8_t*, float*, float*, int32_t*, int32_t*);
    bnbq_result (*int8_linear_matmul)(bnbq_exec*, const int8_t*, const int8_t*, size_t, size_t,
                                      size_t, int32_t*);
    bnbq_result (*int8_mm_dequant)(bnbq_exec*, bnbq_dtype, const int32_t*, const float*,
                                   const float*, size_t, size_t, void*, bnbq_dtype,
                                   const void*);
    bnbq_result (*quantize_rowwise)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t,
                                    int8_t*, uint16_t*);
    bnbq_result (*quantize_columnwise_and_transpose)(bnbq_exec*, bnbq_dtype, const void*, size_t,
                                                     size_t, int8_t*, uint16_t*);
    bnbq_result (*quantize_global_int8)(bnbq_exec*, bnbq_dtype, const void*, size_t, int8_t*,
                                        uint16_t*);
    bnbq_result (*quantize_global_int8_transpose)(bnbq_exec*, bnbq_dtype, const void*, size_t,
                                                  size_t, int8_t*, uint16_t*);
    bnbq_result (*dequantize_rowwise)(bnbq_exec*, const int8_t*, const uint16_t*, size_t, size_t,
                                      uint16_t*);
    bnbq_result (*int8_matmul_rowwise_dequantize)(bnbq_exec*, const int8_t*, const int8_t*,
                                                  const uint16_t*, const uint16_t*, size_t,
                                                  size_t, size_t, uint16_t*, const uint16_t*);
    bnbq_result (*int8_matmul_mixed_dequantize)(bnbq_exec*, const int8_t*, const int8_t*,
                                                const uint16_t*, const uint16_t*, size_t, size_t,
                                                size_t, uint16_t*, const uint16_t*);
    bnbq_result (*gemv_4bit)(bnbq_exec*, bnbq_quant_type, bnbq_dtype, const void*,
                             const uint8_t*, const float*, size_t, size_t, int, void*,
                             const void*, const float*);
    bnbq_result (*matmul_4bit)(bnbq_exec*, bnbq_quant_type, bnbq_dtype, const void*,
                               const uint8_t*, const float*, size_t, size_t, size_t, int, void*,
                               const void*, const float*);
    /* memory (all five required of a backend whose memory is not the host's) */
    bnbq_result (*alloc)(bnbq_exec*, size_t, void**);
    void        (*free)(bnbq_exec*, void*);
    bnbq_result (*copy)(bnbq_exec*, void*, const void*, size_t, bnbq_copy_kind);
    bnbq_result (*fill_bytes)(bnbq_exec*, void*, int, size_t);
    bnbq_result (*sync)(bnbq_exec*);
    /* prims */
    bnbq_result (*gemm)(bnbq_exec*, bnbq_dtype, int, int, size_t, size_t, size_t, const void*,
                        const void*, const void*, int, void*);
    bnbq_result (*column_sums)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t, void*);
    bnbq_result (*transpose)(bnbq_exec*, size_t, const void*, size_t, size_t, void*);
    bnbq_result (*gather_rows)(bnbq_exec*, const void*, size_t, size_t, const int32_t*, size_t,
                               void*);
    bnbq_result (*gather_rows_backward)(bnbq_exec*, bnbq_dtype, const int32_t*, size_t,
                                        const void*, size_t, size_t, int64_t, int, void*);
    bnbq_result (*renorm_rows)(bnbq_exec*, bnbq_dtype, void*, size_t, size_t, const int32_t*,
                               size_t, float, float);
    bnbq_result (*layer_norm)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t, const float*,
                              const float*, float, void*, float*, float*);
    bnbq_result (*layer_norm_backward)(bnbq_exec*, bnbq_dtype, const void*, const void*, size_t,
                                       size_t, const float*, float, const float*, const float*,
                                       void*, float*, float*);
    bnbq_result (*gather_rows_8bit)(bnbq_exec*, bnbq_dtype, const int8_t*, const float*, size_t,
                                    size_t, const int32_t*, size_t, void*);
    bnbq_result (*gather_rows_4bit)(bnbq_exec*, bnbq_quant_type, bnbq_dtype, const uint8_t*,
                                    const float*, size_t, size_t, int, const int32_t*, size_t,
                                    void*);
    bnbq_result (*int8_outlier_mm)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t,
                                   const int8_t*, const float*, size_t, const int32_t*,
                                   const int32_t*, void*);
    bnbq_result (*gather_columns)(bnbq_exec*, size_t, const void*, size_t, size_t,
                                  const int32_t*, const int32_t*, size_t, void*);
    bnbq_result (*scatter_columns)(bnbq_exec*, bnbq_dtype, const void*, size_t, size_t,
                                   const int32_t*, const int32_t*, int, void*, size_t);
    bnbq_result (*int8_weight_dequant)(bnbq_exec*, bnbq_dtype, const int8_t*, const float*,
                                       size_t, size_t, void*);
    bnbq_result (*int8_mixed_scaled_mm)(bnbq_exec*, bnbq_dtype, const int8_t*, const int8_t*,
                                        size_t, size_t, size_t, const float*, const float*,
                                        bnbq_dtype, const void*, const void*, const int32_t*,
                                        const int32_t*, int32_t*, void*);
} bnbq_backend;

/* Log through an exec's logger (used by backends). Thread safety: as the logger. */
BNBQ_API void bnbq_log(const bnbq_exec* ex, bnbq_log_level level, const char* func,
                       const char* fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif /* BNBQ_H_INCLUDED */

/* ============================================================================================== */
/*                                         IMPLEMENTATION                                          */
/* ============================================================================================== */
#ifdef BNBQ_IMPLEMENTATION
#ifndef BNBQ__IMPLEMENTATION_DONE
#define BNBQ__IMPLEMENTATION_DONE

#include <stdarg.h>
#include <stdio.h>   /* vsnprintf only: bnbq never prints */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>
#include <locale.h>  /* localeconv: checkpoints read and write numbers in the C notation */
#include <time.h>    /* time, clock: temporary file names */

/* Where float expressions are evaluated in a wider format (x87), force float rounding. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#define BNBQ__FLT_TMP volatile
#else
#define BNBQ__FLT_TMP
#endif

#ifndef BNBQ_ASSERT
#include <assert.h>
#define BNBQ_ASSERT(c) assert(c)
#endif

/* Exactness: no floating-point contraction in this file. gcc: an optimize pragma (scoped with
   push/pop so the user's code after this header is unaffected); clang: the standard pragma.
   Other compilers: build with their equivalent of -ffp-contract=off. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#define BNBQ__GCC_POP_OPTIONS
#endif

#if defined(BNBQ_STATIC)
#define BNBQ__IMPL static
#else
#define BNBQ__IMPL
#endif

#ifdef __cplusplus
extern "C" {
#endif

// >>config

static float bnbq__bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bnbq__f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// >>results

BNBQ_API const char* bnbq_result_name(bnbq_result r) {
    switch (r) {
#define BNBQ__RESULT_NAME(name, value, text) case name: return #name;
        BNBQ__RESULTS(BNBQ__RESULT_NAME)
#undef BNBQ__RESULT_NAME
        default: break;
    }
    return "BNBQ_UNKNOWN_RESULT";
}

BNBQ_API const char* bnbq_result_description(bnbq_result r) {
    switch (r) {
#define BNBQ__RESULT_TEXT(name, value, text) case name: return text;
        BNBQ__RESULTS(BNBQ__RESULT_TEXT)
#undef BNBQ__RESULT_TEXT
        default: break;
    }
    return "unknown result code";
}

// >>types

BNBQ_API void bnbq_log(const bnbq_exec* ex, bnbq_log_level level, const char* func,
                       const char* fmt, ...) {
    char buf[512];
    va_list ap;
    if (!ex || !ex->logger.func || !fmt) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ex->logger.func(ex->logger.user_data, level, func ? func : "bnbq", buf);
}

/* Every failing public call goes through here: one ERROR line naming the function. */
static bnbq_result bnbq__fail(const bnbq_exec* ex, const char* func, bnbq_result r,
                              const char* what) {
    bnbq_log(ex, BNBQ_LOG_ERROR, func, "%s: %s (%s)", bnbq_result_name(r), what,
             bnbq_result_description(r));
    return r;
}

static void* bnbq__default_alloc(void* user, size_t bytes) { (void)user; return malloc(bytes); }
static void bnbq__default_free(void* user, void* ptr) { (void)user; free(ptr); }

BNBQ_API bnbq_result bnbq_cpu_exec_init(bnbq_exec* ex, const bnbq_cpu_desc* desc) {
    bnbq_cpu_desc d;
    if (!ex) return BNBQ_ERROR_NULL_POINTER;
    memset(&d, 0, sizeof d);
    if (desc) d = *desc;
    memset(ex, 0, sizeof *ex);
    ex->logger = d.logger;
    if ((d.allocator.alloc_fn == NULL) != (d.allocator.free_fn == NULL))
        return bnbq__fail(ex, "bnbq_cpu_exec_init", BNBQ_ERROR_INVALID_ARGS,
                          "set both allocator.alloc_fn and allocator.free_fn, or neither");
    if (!d.allocator.alloc_fn) {
        d.allocator.alloc_fn = bnbq__default_alloc;
        d.allocator.free_fn = bnbq__default_free;
        d.allocator.user_data = NULL;
    }
    ex->backend = NULL;
    ex->memory = BNBQ_MEMORY_HOST;
    ex->allocator = d.allocator;
    ex->parallel_for = d.parallel_for;
    ex->parallel_for_user_data = d.parallel_for_user_data;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_cpu_exec_query_desc(const bnbq_exec* ex, bnbq_cpu_desc* out_desc) {
    if (!ex || !out_desc) return BNBQ_ERROR_NULL_POINTER;
    if (ex->backend) return BNBQ_ERROR_INVALID_ARGS;
    memset(out_desc, 0, sizeof *out_desc);
    out_desc->logger = ex->logger;
    out_desc->allocator = ex->allocator;
    if (!out_desc->allocator.alloc_fn) {
        out_desc->allocator.alloc_fn = bnbq__default_alloc;
        out_desc->allocator.free_fn = bnbq__default_free;
    }
    out_desc->parallel_for = ex->parallel_for;
    out_desc->parallel_for_user_data = ex->parallel_for_user_data;
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_exec_uninit(bnbq_exec* ex) {
    if (ex) memset(ex, 0, sizeof *ex);
}

BNBQ_API void* bnbq_host_alloc(bnbq_exec* ex, size_t bytes) {
    if (ex && ex->allocator.alloc_fn) return ex->allocator.alloc_fn(ex->allocator.user_data, bytes);
    return malloc(bytes);
}

BNBQ_API void bnbq_host_free(bnbq_exec* ex, void* ptr) {
    if (!ptr) return;
    if (ex && ex->allocator.free_fn) { ex->allocator.free_fn(ex->allocator.user_data, ptr); return; }
    free(ptr);
}

BNBQ_API size_t bnbq_dtype_size(bnbq_dtype dt) {
    switch (dt) {
        case BNBQ_F32: case BNBQ_I32: return 4;
        case BNBQ_F16: case BNBQ_BF16: return 2;
        case BNBQ_U8: case BNBQ_I8: return 1;
        case BNBQ_I64: return 8;
        default: return 0;
    }
}

BNBQ_API const char* bnbq_dtype_name(bnbq_dtype dt) {
    switch (dt) {
        case BNBQ_F32: return "f32"; case BNBQ_F16: return "f16"; case BNBQ_BF16: return "bf16";
        case BNBQ_U8: return "u8"; case BNBQ_I8: return "i8"; case BNBQ_I32: return "i32";
        case BNBQ_I64: return "i64";
        default: return "unknown";
    }
}

/* Runs fn over [0, count) through the exec's parallel-for, or in one call. */
static void bnbq__parallel(bnbq_exec* ex, bnbq_range_fn fn, void* task, size_t count) {
    if (count == 0) return;
    if (ex && ex->parallel_for) ex->parallel_for(ex->parallel_for_user_data, fn, task, count);
    else fn(task, 0, count);
}

// >>convert

BNBQ_API uint16_t bnbq_f32_to_f16(float x) {
    uint32_t u = bnbq__f32_bits(x);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN, quiet */
    if (a >= 0x47800000u) return (uint16_t)(sign | 0x7c00u);   /* >= 65536 (and inf): inf     */
    if (a >= 0x38800000u) {                                    /* normal half                 */
        uint32_t odd = (a >> 13) & 1u;
        a = a - 0x38000000u + 0xfffu + odd;                    /* rebias, round half to even  */
        return (uint16_t)(sign | (a >> 13));                   /* a carry may give inf: right */
    }
    /* subnormal half or zero: align the mantissa by adding 0.5 (the hardware rounds to even) */
    {
        float t = bnbq__bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (bnbq__f32_bits(t) - 0x3f000000u));
    }
}

BNBQ_API float bnbq_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f;           /* m * 2^-24, exact */
        return bnbq__bits_f32(bnbq__f32_bits(v) | sign);
    }
    if (e == 31) return bnbq__bits_f32(sign | 0x7f800000u | (m << 13));
    return bnbq__bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

BNBQ_API uint16_t bnbq_f32_to_bf16(float x) {
    uint32_t u = bnbq__f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  /* quiet NaN */
    u = u + 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

BNBQ_API float bnbq_bf16_to_f32(uint16_t h) { return bnbq__bits_f32((uint32_t)h << 16); }

/* NaN produced by arithmetic is written as one canonical pattern, 0x7fffffff (f16 0x7fff, bf16
   0x7fff after rounding): the pattern NVIDIA GPUs produce. x86 CPUs produce 0xffc00000 or pass
   payloads through, so without this the CPU and GPU bytes would differ on inputs holding inf/NaN. */
static float bnbq__canon(float v) { return v == v ? v : bnbq__bits_f32(0x7fffffffu); }

/* Load element i of a F32/F16/BF16 array as float (exact widening). */
static float bnbq__load(bnbq_dtype dt, const void* p, size_t i) {
    switch (dt) {
        case BNBQ_F16: return bnbq_f16_to_f32(((const uint16_t*)p)[i]);
        case BNBQ_BF16: return bnbq_bf16_to_f32(((const uint16_t*)p)[i]);
        default: return ((const float*)p)[i];
    }
}

/* Store a float into element i of a F32/F16/BF16 array (one RNE rounding). */
static void bnbq__store(bnbq_dtype dt, void* p, size_t i, float v) {
    v = bnbq__canon(v);
    switch (dt) {
        case BNBQ_F16: ((uint16_t*)p)[i] = bnbq_f32_to_f16(v); break;
        case BNBQ_BF16: ((uint16_t*)p)[i] = bnbq_f32_to_bf16(v); break;
        default: ((float*)p)[i] = v; break;
    }
}

/* Round a float to dtype dt and back (the value an array of dt would hold). */
static float bnbq__round_to(bnbq_dtype dt, float v) {
    v = bnbq__canon(v);
    switch (dt) {
        case BNBQ_F16: return bnbq_f16_to_f32(bnbq_f32_to_f16(v));
        case BNBQ_BF16: return bnbq_bf16_to_f32(bnbq_f32_to_bf16(v));
        default: return v;
    }
}

/* Load cnt elements starting at i of a F32/F16/BF16 array into floats (the dtype switch sits
   outside the loop so the loops stay simple). */
static void bnbq__load_chunk(bnbq_dtype dt, const void* p, size_t i, size_t cnt, float* dst) {
    size_t k;
    if (dt == BNBQ_F16) {
        const uint16_t* h = (const uint16_t*)p + i;
        for (k = 0; k < cnt; k++) dst[k] = bnbq_f16_to_f32(h[k]);
    } else if (dt == BNBQ_BF16) {
        const uint16_t* h = (const uint16_t*)p + i;
        for (k = 0; k < cnt; k++) dst[k] = bnbq_bf16_to_f32(h[k]);
    } else {
        memcpy(dst, (const float*)p + i, cnt * sizeof(float));
    }
}

/* Store cnt floats into elements i.. of a F32/F16/BF16 array (RNE). */
static void bnbq__store_chunk(bnbq_dtype dt, void* p, size_t i, size_t cnt, const float* src) {
    size_t k;
    if (dt == BNBQ_F16) {
        uint16_t* h = (uint16_t*)p + i;
        for (k = 0; k < cnt; k++) h[k] = bnbq_f32_to_f16(bnbq__canon(src[k]));
    } else if (dt == BNBQ_BF16) {
        uint16_t* h = (uint16_t*)p + i;
        for (k = 0; k < cnt; k++) h[k] = bnbq_f32_to_bf16(bnbq__canon(src[k]));
    } else {
        float* f = (float*)p + i;
        for (k = 0; k < cnt; k++) f[k] = bnbq__canon(src[k]);
    }
}

#define BNBQ__CHUNK 256

/* Round half to even to an integer, for |y| < 2^22; NaN -> 0; larger values saturate. */
static int32_t bnbq__rint(float y) {
    if (!(y == y)) return 0;
    if (y >= 4194304.0f) return y >= 2147483520.0f ? INT32_MAX : (int32_t)y;
    if (y <= -4194304.0f) return y <= -2147483648.0f ? INT32_MIN : (int32_t)y;
    {
        BNBQ__FLT_TMP float t = y + 12582912.0f;  /* 1.5 * 2^23: the add rounds to an integer, RNE */
        float r = t - 12582912.0f;
        return (int32_t)r;
    }
}

/* |x| without a library call */
static float bnbq__absf(float x) { return bnbq__bits_f32(bnbq__f32_bits(x) & 0x7fffffffu); }

// >>formats

static const float bnbq__code_dynamic_signed[256] = {
    -0.992968738f, -0.978906274f, -0.96484375f, -0.950781226f, -0.936718762f, -0.922656238f,
    -0.908593774f, -0.89453125f, -0.880468726f, -0.866406262f, -0.852343738f, -0.838281274f,
    -0.82421875f, -0.810156226f, -0.796093762f, -0.782031238f, -0.767968774f, -0.75390625f,
    -0.739843726f, -0.725781262f, -0.711718798f, -0.697656274f, -0.68359375f, -0.669531226f,
    -0.655468762f, -0.641406298f, -0.627343774f, -0.61328125f, -0.599218726f, -0.585156262f,
    -0.571093798f, -0.557031274f, -0.54296875f, -0.528906226f, -0.514843702f, -0.500781238f,
    -0.486718714f, -0.47265625f, -0.458593726f, -0.444531262f, -0.430468738f, -0.416406244f,
    -0.40234375f, -0.388281226f, -0.374218762f, -0.360156238f, -0.346093744f, -0.33203125f,
    -0.317968726f, -0.303906262f, -0.289843738f, -0.275781274f, -0.26171875f, -0.247656241f,
    -0.233593747f, -0.219531253f, -0.205468744f, -0.19140625f, -0.177343756f, -0.163281247f,
    -0.149218753f, -0.135156244f, -0.12109375f, -0.107031256f, -0.0985937491f, -0.0957812592f,
    -0.0929687545f, -0.0901562497f, -0.0873437524f, -0.0845312476f, -0.0817187577f, -0.078906253f,
    -0.0760937482f, -0.0732812509f, -0.0704687461f, -0.0676562563f, -0.0648437515f, -0.0620312504f,
    -0.0592187531f, -0.0564062484f, -0.053593751f, -0.05078125f, -0.047968749f, -0.0451562516f,
    -0.0423437469f, -0.0395312496f, -0.0367187522f, -0.0339062512f, -0.0310937501f, -0.028281251f,
    -0.0254687499f, -0.0226562507f, -0.0198437516f, -0.0170312505f, -0.0142187504f, -0.0114062503f,
    -0.00971874967f, -0.00915624946f, -0.00859375019f, -0.00803124998f, -0.00746874977f, -0.00690625003f,
    -0.00634374982f, -0.00578125007f, -0.00521875033f, -0.00465624966f, -0.00409374991f, -0.00353124971f,
    -0.00296874996f, -0.00240624999f, -0.00184375001f, -0.00128124992f, -0.000943750085f, -0.000831249985f,
    -0.00071875006f, -0.000606250076f, -0.000493750034f, -0.000381250022f, -0.000268750038f, -0.000156250011f,
    -8.87499991e-05f, -6.62500024e-05f, -4.37499984e-05f, -2.12499981e-05f, -7.7499999e-06f, -3.25000019e-06f,
    -5.50000038e-07f, 0.0f, 5.50000038e-07f, 3.25000019e-06f, 7.7499999e-06f, 2.12499981e-05f,
    4.37499984e-05f, 6.62500024e-05f, 8.87499991e-05f, 0.000156250011f, 0.000268750038f, 0.000381250022f,
    0.000493750034f, 0.000606250076f, 0.00071875006f, 0.000831249985f, 0.000943750085f, 0.00128124992f,
    0.00184375001f, 0.00240624999f, 0.00296874996f, 0.00353124971f, 0.00409374991f, 0.00465624966f,
    0.00521875033f, 0.00578125007f, 0.00634374982f, 0.00690625003f, 0.00746874977f, 0.00803124998f,
    0.00859375019f, 0.00915624946f, 0.00971874967f, 0.0114062503f, 0.0142187504f, 0.0170312505f,
    0.0198437516f, 0.0226562507f, 0.0254687499f, 0.028281251f, 0.0310937501f, 0.0339062512f,
    0.0367187522f, 0.0395312496f, 0.0423437469f, 0.0451562516f, 0.047968749f, 0.05078125f,
    0.053593751f, 0.0564062484f, 0.0592187531f, 0.0620312504f, 0.0648437515f, 0.0676562563f,
    0.0704687461f, 0.0732812509f, 0.0760937482f, 0.078906253f, 0.0817187577f, 0.0845312476f,
    0.0873437524f, 0.0901562497f, 0.0929687545f, 0.0957812592f, 0.0985937491f, 0.107031256f,
    0.12109375f, 0.135156244f, 0.149218753f, 0.163281247f, 0.177343756f, 0.19140625f,
    0.205468744f, 0.219531253f, 0.233593747f, 0.247656241f, 0.26171875f, 0.275781274f,
    0.289843738f, 0.303906262f, 0.317968726f, 0.33203125f, 0.346093744f, 0.360156238f,
    0.374218762f, 0.388281226f, 0.40234375f, 0.416406244f, 0.430468738f, 0.444531262f,
    0.458593726f, 0.47265625f, 0.486718714f, 0.500781238f, 0.514843702f, 0.528906226f,
    0.54296875f, 0.557031274f, 0.571093798f, 0.585156262f, 0.599218726f, 0.61328125f,
    0.627343774f, 0.641406298f, 0.655468762f, 0.669531226f, 0.68359375f, 0.697656274f,
    0.711718798f, 0.725781262f, 0.739843726f, 0.75390625f, 0.767968774f, 0.782031238f,
    0.796093762f, 0.810156226f, 0.82421875f, 0.838281274f, 0.852343738f, 0.866406262f,
    0.880468726f, 0.89453125f, 0.908593774f, 0.922656238f, 0.936718762f, 0.950781226f,
    0.96484375f, 0.978906274f, 0.992968738f, 1.0f,
};
static const float bnbq__code_dynamic_unsigned[256] = {
    0.0f, 3.2500003e-07f, 7.7499999e-07f, 2.12499981e-06f, 4.37499966e-06f, 6.62499997e-06f,
    8.87499937e-06f, 1.56249989e-05f, 2.68750009e-05f, 3.81249993e-05f, 4.93749976e-05f, 6.06250032e-05f,
    7.18750016e-05f, 8.31249927e-05f, 9.43749983e-05f, 0.000128125001f, 0.000184375007f, 0.000240625013f,
    0.00029687502f, 0.000353124982f, 0.000409375032f, 0.000465625024f, 0.000521875045f, 0.000578125007f,
    0.000634375028f, 0.000690625049f, 0.000746875012f, 0.000803125091f, 0.000859375054f, 0.000915625016f,
    0.000971875037f, 0.00114062498f, 0.00142187497f, 0.00170312496f, 0.00198437506f, 0.00226562493f,
    0.00254687481f, 0.00282812491f, 0.00310937478f, 0.00339062512f, 0.00367187499f, 0.00395312486f,
    0.0042343745f, 0.00451562507f, 0.00479687471f, 0.00507812481f, 0.00535937492f, 0.00564062456f,
    0.00592187513f, 0.00620312477f, 0.00648437487f, 0.00676562544f, 0.00704687461f, 0.00732812518f,
    0.00760937436f, 0.00789062493f, 0.00817187503f, 0.0084531242f, 0.00873437524f, 0.00901562441f,
    0.00929687452f, 0.00957812555f, 0.00985937472f, 0.010703126f, 0.0121093756f, 0.0135156242f,
    0.0149218757f, 0.0163281243f, 0.0177343767f, 0.0191406254f, 0.020546874f, 0.0219531264f,
    0.0233593751f, 0.0247656237f, 0.0261718761f, 0.0275781285f, 0.0289843734f, 0.0303906258f,
    0.0317968726f, 0.033203125f, 0.0346093737f, 0.036015626f, 0.0374218784f, 0.0388281234f,
    0.0402343757f, 0.0416406244f, 0.0430468731f, 0.0444531254f, 0.0458593741f, 0.0472656265f,
    0.0486718714f, 0.0500781238f, 0.0514843725f, 0.0528906249f, 0.0542968772f, 0.0557031296f,
    0.057109382f, 0.0585156269f, 0.0599218719f, 0.0613281243f, 0.0627343804f, 0.0641406327f,
    0.0655468777f, 0.0669531226f, 0.068359375f, 0.0697656274f, 0.0711718798f, 0.0725781247f,
    0.0739843771f, 0.0753906295f, 0.0767968819f, 0.0782031268f, 0.0796093792f, 0.0810156241f,
    0.0824218765f, 0.0838281289f, 0.0852343738f, 0.0866406262f, 0.0880468711f, 0.0894531235f,
    0.0908593759f, 0.0922656283f, 0.0936718807f, 0.0950781256f, 0.096484378f, 0.0978906304f,
    0.0992968753f, 0.103515625f, 0.110546872f, 0.117578126f, 0.124609374f, 0.131640613f,
    0.138671875f, 0.145703137f, 0.152734369f, 0.159765631f, 0.166796863f, 0.173828125f,
    0.180859387f, 0.187890619f, 0.194921881f, 0.201953113f, 0.208984375f, 0.216015637f,
    0.223046869f, 0.230078131f, 0.237109363f, 0.244140625f, 0.251171857f, 0.258203119f,
    0.265234381f, 0.272265613f, 0.279296875f, 0.286328137f, 0.293359369f, 0.300390601f,
    0.307421863f, 0.314453125f, 0.321484387f, 0.328515619f, 0.335546851f, 0.342578113f,
    0.349609375f, 0.356640637f, 0.363671869f, 0.370703101f, 0.377734363f, 0.384765625f,
    0.391796887f, 0.398828119f, 0.405859351f, 0.412890613f, 0.419921875f, 0.426953137f,
    0.433984369f, 0.441015601f, 0.448046863f, 0.455078125f, 0.462109387f, 0.469140619f,
    0.476171851f, 0.483203113f, 0.490234375f, 0.497265607f, 0.504296899f, 0.511328101f,
    0.518359363f, 0.525390625f, 0.532421827f, 0.539453149f, 0.546484351f, 0.553515673f,
    0.560546875f, 0.567578137f, 0.574609399f, 0.581640601f, 0.588671923f, 0.595703125f,
    0.602734387f, 0.609765649f, 0.616796851f, 0.623828173f, 0.630859375f, 0.637890637f,
    0.644921899f, 0.651953101f, 0.658984423f, 0.666015625f, 0.673046887f, 0.680078149f,
    0.687109351f, 0.694140673f, 0.701171875f, 0.708203137f, 0.715234399f, 0.722265601f,
    0.729296923f, 0.736328125f, 0.743359387f, 0.750390649f, 0.757421851f, 0.764453173f,
    0.771484375f, 0.778515577f, 0.785546899f, 0.792578101f, 0.799609423f, 0.806640625f,
    0.813671827f, 0.820703149f, 0.827734351f, 0.834765673f, 0.841796875f, 0.848828077f,
    0.855859399f, 0.862890601f, 0.869921923f, 0.876953125f, 0.883984327f, 0.891015649f,
    0.898046851f, 0.905078173f, 0.912109375f, 0.919140577f, 0.926171899f, 0.933203101f,
    0.940234423f, 0.947265625f, 0.954296827f, 0.961328149f, 0.968359351f, 0.975390673f,
    0.982421875f, 0.989453077f, 0.996484399f, 1.0f,
};
static const float bnbq__code_nf4[16] = {
    -1.0f, -0.696192801f, -0.525073051f, -0.394917488f,
    -0.284441382f, -0.18477343f, -0.0910500363f, 0.0f,
    0.0795802996f, 0.160930201f, 0.246112302f, 0.337915242f,
    0.440709829f, 0.562617004f, 0.722956836f, 1.0f,
};

/* get_4bit_type('fp4') / the FP4 dequantization LUT (low 3 bits; the sign is bit 3). */
static const float bnbq__fp4_lut[8] = {
    0.0f, 0.00520833349f, 0.666666687f, 1.0f, 0.333333343f, 0.5f, 0.166666672f, 0.25f
};

BNBQ_API const float* bnbq_code_dynamic(int is_signed) {
    return is_signed ? bnbq__code_dynamic_signed : bnbq__code_dynamic_unsigned;
}

static const float bnbq__code_fp4[16] = {
    0.0f, 0.00520833349f, 0.666666687f, 1.0f, 0.333333343f, 0.5f, 0.166666672f, 0.25f,
    0.0f, -0.00520833349f, -0.666666687f, -1.0f, -0.333333343f, -0.5f, -0.166666672f, -0.25f
};
/* get_4bit_type('int4'): [7..0, -0, -1..-7] / 7 in float32 (index 8 is +0.0). */
static const float bnbq__code_int4[16] = {
    1.0f, (float)(6.0f / 7.0f), (float)(5.0f / 7.0f), (float)(4.0f / 7.0f),
    (float)(3.0f / 7.0f), (float)(2.0f / 7.0f), (float)(1.0f / 7.0f), 0.0f,
    0.0f, (float)(-1.0f / 7.0f), (float)(-2.0f / 7.0f), (float)(-3.0f / 7.0f),
    (float)(-4.0f / 7.0f), (float)(-5.0f / 7.0f), (float)(-6.0f / 7.0f), -1.0f
};
/* get_4bit_type('af4', blocksize=64): the AbnormalFloat table, descending. The Python doubles are
   rounded to float32, so the literals are doubles cast to float on purpose. */
static const float bnbq__code_af4[16] = {
    (float)1.0, (float)0.72424863, (float)0.55496234, (float)0.42563882, (float)0.31675666,
    (float)0.21961274, (float)0.12934483, (float)0.04273164, (float)0.0, (float)-0.04934812,
    (float)-0.14982478, (float)-0.25607552, (float)-0.3736951, (float)-0.51243739,
    (float)-0.69441008, (float)-1.0
};

BNBQ_API const float* bnbq_code_4bit(bnbq_quant_type qt) {
    switch (qt) {
        case BNBQ_FP4: return bnbq__code_fp4;
        case BNBQ_NF4: return bnbq__code_nf4;
        case BNBQ_INT4: return bnbq__code_int4;
        case BNBQ_AF4: return bnbq__code_af4;
        default: return NULL;
    }
}

BNBQ_API bnbq_result bnbq_get_4bit_type(bnbq_quant_type qt, int blocksize, float* out_code) {
    const float* t;
    if (!out_code) return BNBQ_ERROR_NULL_POINTER;
    t = bnbq_code_4bit(qt);
    if (!t) return BNBQ_ERROR_BAD_QUANT_TYPE;
    if (qt == BNBQ_AF4 && blocksize != 64) return BNBQ_ERROR_BAD_BLOCKSIZE;
    memcpy(out_code, t, 16 * sizeof(float));
    return BNBQ_SUCCESS;
}

/* torch.linspace(start, end, n) in float32 as PyTorch's CPU kernel computes it: the first half
   as start + step*i and the second half as end - step*(n-1-i), each with ONE rounding (fused). */
static void bnbq__linspace_f32(float start, float end, int n, float* out) {
    float step;
    int i;
    if (n <= 0) return;
    if (n == 1) { out[0] = start; return; }
    step = (end - start) / (float)(n - 1);
    for (i = 0; i < n; i++) {
        if (i < n / 2) out[i] = fmaf(step, (float)i, start);
        else out[i] = fmaf(-step, (float)(n - 1 - i), end);
    }
}

/* Stable ascending insertion sort of doubles (keeps the order of +0.0 / -0.0 as Python does). */
static void bnbq__sort_stable(double* v, int n) {
    int i, j;
    for (i = 1; i < n; i++) {
        double x = v[i];
        for (j = i; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

static int bnbq__ipow2(int e) { return (e >= 0 && e < 30) ? (1 << e) : 0; }

/* Appends f32(s * m_j) (and the negations) for the bucket means of linspace(0.1, 1, items). */
static int bnbq__dynamic_append(double* data, int count, int cap, int items, int exponent,
                                int is_signed) {
    float b[257];
    float s;
    int j;
    if (items > 257 || items < 1) return -1;
    bnbq__linspace_f32(0.1f, 1.0f, items, b);
    s = (float)pow(10.0, (double)exponent);          /* Python 10**k (int or float), as float32 */
    for (j = 0; j + 1 < items; j++) {
        float m = (b[j] + b[j + 1]) / 2.0f;
        if (count >= cap) return -1;
        data[count++] = (double)(s * m);
    }
    if (is_signed) {
        for (j = 0; j + 1 < items; j++) {
            float m = (b[j] + b[j + 1]) / 2.0f;
            if (count >= cap) return -1;
            data[count++] = (double)(-s * m);
        }
    }
    return count;
}

BNBQ_API bnbq_result bnbq_create_dynamic_map(int is_signed, int max_exponent_bits, int total_bits,
                                             float* out_code) {
    double data[512];
    int count = 0, i, last_i = 0;
    int non_sign_bits;
    double additional;
    if (!out_code) return BNBQ_ERROR_NULL_POINTER;
    if (total_bits < 1 || total_bits > 8 || max_exponent_bits < 1 || max_exponent_bits > total_bits)
        return BNBQ_ERROR_INVALID_ARGS;
    non_sign_bits = total_bits - 1;
    additional = pow(2.0, (double)(non_sign_bits - max_exponent_bits)) - 1.0;
    for (i = 0; i < max_exponent_bits; i++) {
        /* int(2 ** (i + non_sign_bits - max_exponent_bits [+1 if unsigned]) + 1) */
        double e = (double)(i + non_sign_bits - max_exponent_bits + (is_signed ? 0 : 1));
        int items = (int)(pow(2.0, e) + 1.0);
        count = bnbq__dynamic_append(data, count, 512, items, i - (max_exponent_bits - 1),
                                     is_signed);
        if (count < 0) return BNBQ_ERROR_INVALID_ARGS;
        last_i = i;
    }
    if (additional > 0.0) {  /* reuses the last loop's exponent, as bitsandbytes does */
        count = bnbq__dynamic_append(data, count, 512, (int)additional + 1,
                                     last_i - (max_exponent_bits - 1), is_signed);
        if (count < 0) return BNBQ_ERROR_INVALID_ARGS;
    }
    if (count + 2 > 512) return BNBQ_ERROR_INVALID_ARGS;
    data[count++] = 0.0;
    data[count++] = 1.0;
    if (count != bnbq__ipow2(total_bits)) return BNBQ_ERROR_INVALID_ARGS;  /* bnb asserts */
    while (count < 256) data[count++] = 0.0;
    bnbq__sort_stable(data, 256);
    for (i = 0; i < 256; i++) out_code[i] = (float)data[i];
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_create_linear_map(int is_signed, int total_bits, int add_zero,
                                            float* out_code) {
    float values[256];
    int total, gap, l, i, k = 0;
    if (!out_code) return BNBQ_ERROR_NULL_POINTER;
    if (total_bits < 1 || total_bits > 8) return BNBQ_ERROR_INVALID_ARGS;
    total = 1 << total_bits;
    if (add_zero || total_bits < 8) total = is_signed ? total - 1 : total;
    bnbq__linspace_f32(is_signed ? -1.0f : 0.0f, 1.0f, total, values);
    gap = 256 - total;
    if (gap == 0) { memcpy(out_code, values, sizeof values); return BNBQ_SUCCESS; }
    l = total / 2;
    for (i = 0; i < l; i++) out_code[k++] = values[i];
    for (i = 0; i < gap; i++) out_code[k++] = 0.0f;
    for (i = l; i < total; i++) out_code[k++] = values[i];
    return BNBQ_SUCCESS;
}

/* Inverse of the standard normal CDF in double precision (scipy.stats.norm.ppf), for
   0 < p < 1: Newton steps on Phi(x) = erfc(-x/sqrt2)/2 from x = 0 (monotone for p >= 0.5),
   then polished until the step vanishes. */
static double bnbq__norm_ppf(double p) {
    double x = 0.0, q = p;
    int i, neg = 0;
    if (q < 0.5) { q = 1.0 - q; neg = 1; }
    for (i = 0; i < 200; i++) {
        double cdf = 0.5 * erfc(-x / 1.4142135623730951);
        double pdf = 0.3989422804014327 * exp(-0.5 * x * x);
        double dx = (cdf - q) / pdf;
        x -= dx;
        if (fabs(dx) <= 1e-17 * (1.0 + fabs(x))) break;
    }
    return neg ? -x : x;
}

BNBQ_API bnbq_result bnbq_create_normal_map(double offset, int use_extra_value, float* out_code) {
    float p9[9], p8[8];
    float v[256];
    double d[256];
    float mx;
    int i, k = 0;
    if (!out_code) return BNBQ_ERROR_NULL_POINTER;
    if (!(offset > 0.5 && offset < 1.0)) return BNBQ_ERROR_INVALID_ARGS;
    bnbq__linspace_f32((float)offset, 0.5f, 9, p9);
    bnbq__linspace_f32((float)offset, 0.5f, 8, p8);
    if (use_extra_value) {
        for (i = 0; i < 8; i++) v[k++] = (float)bnbq__norm_ppf((double)p9[i]);
        for (i = 0; i < 256 - 15; i++) v[k++] = 0.0f;
    } else {
        for (i = 0; i < 7; i++) v[k++] = (float)bnbq__norm_ppf((double)p8[i]);
        for (i = 0; i < 256 - 14; i++) v[k++] = 0.0f;
    }
    for (i = 0; i < 7; i++) v[k++] = -(float)bnbq__norm_ppf((double)p8[i]);
    for (i = 0; i < 256; i++) d[i] = (double)v[i];
    bnbq__sort_stable(d, 256);
    mx = (float)d[255];
    for (i = 0; i < 256; i++) out_code[i] = (float)d[i] / mx;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_create_fp8_map(int is_signed, int exponent_bits, int precision_bits,
                                         int total_bits, float* out_code) {
    double values[256];
    int count = 0, E, pat, i, bias;
    float mx;
    if (!out_code) return BNBQ_ERROR_NULL_POINTER;
    if (total_bits < 1 || total_bits > 8 || exponent_bits < 1 || precision_bits < 0 ||
        exponent_bits + precision_bits != total_bits - (is_signed ? 1 : 0))
        return BNBQ_ERROR_INVALID_ARGS;
    bias = 1 << (exponent_bits - 1);
    for (E = 0; E < (1 << exponent_bits); E++) {
        for (pat = 0; pat < (1 << precision_bits); pat++) {   /* MSB-first lexicographic order */
            double v = (E != 0) ? 1.0 : 0.0;
            for (i = 0; i < precision_bits; i++)
                if ((pat >> (precision_bits - 1 - i)) & 1) v += ldexp(1.0, -(i + 1));
            v = (E == 0) ? ldexp(v, -bias) : ldexp(v, bias + 1 - E);
            if (count >= 256) return BNBQ_ERROR_INVALID_ARGS;
            values[count++] = v;
            if (is_signed) {
                if (count >= 256 + 1) return BNBQ_ERROR_INVALID_ARGS;
                values[count++] = -v;
            }
        }
    }
    if (count != (1 << total_bits)) return BNBQ_ERROR_INVALID_ARGS;
    bnbq__sort_stable(values, count);
    while (count < 256) values[count++] = 0.0;
    bnbq__sort_stable(values, 256);
    mx = (float)values[0];
    for (i = 0; i < 256; i++) if ((float)values[i] > mx) mx = (float)values[i];
    for (i = 0; i < 256; i++) out_code[i] = (float)values[i] / mx;
    return BNBQ_SUCCESS;
}

/* bitsandbytes' CUDA binary search over a 256-entry code (algorithms.md 2.2): the nearest entry of
   a sorted code with ties to the even index; values beyond the ends map to 0 / 255; NaN -> 0.
   The kernel's pivots 127 +- 64 +- ... +- 2 form a binary search tree over the odd indices 1..253,
   so after its seven steps the pivot p is even and the pivots it kept for the final test,
   upper_pivot (the last ancestor where the search went left, the in-order successor of the last
   leaf) and lower_pivot, are always p + 1 and p - 1; the virtual ends are p = 0 (code[0], where
   the kernel's fix-up sets lower = code[0]) and p = 254 (upper = code[255]). So the search is
   seven branch-free steps plus one neighbour test, for any table. */
#define BNBQ__CODE_STEP(s) p += (s) * (2 * (x > code[p]) - 1);
static int bnbq__code_index(const float* code, float x) {
    int p = 127, gt, np, take;
    float val, mid;
    BNBQ__CODE_STEP(64) BNBQ__CODE_STEP(32) BNBQ__CODE_STEP(16) BNBQ__CODE_STEP(8)
    BNBQ__CODE_STEP(4) BNBQ__CODE_STEP(2) BNBQ__CODE_STEP(1)
    val = code[p];
    gt = x > val;
    np = p + 2 * gt - 1;
    np = np < 0 ? 0 : np;
    mid = (code[np] + val) * 0.5f;
    take = (gt & (x > mid)) | ((gt ^ 1) & (x < mid));
    return p + take * (np - p);
}
#undef BNBQ__CODE_STEP

/* q[k] = code_index(code, x[k] * inv) for k < cnt, four independent searches at a time. */
static void bnbq__code_index_scaled(const float* code, const float* x, float inv, size_t cnt,
                                    uint8_t* q) {
    size_t k = 0;
    for (; k + 4 <= cnt; k += 4) {
        BNBQ__FLT_TMP float x0 = x[k] * inv, x1 = x[k + 1] * inv;
        BNBQ__FLT_TMP float x2 = x[k + 2] * inv, x3 = x[k + 3] * inv;
        int a = bnbq__code_index(code, x0), b = bnbq__code_index(code, x1);
        int c = bnbq__code_index(code, x2), d = bnbq__code_index(code, x3);
        q[k] = (uint8_t)a; q[k + 1] = (uint8_t)b; q[k + 2] = (uint8_t)c; q[k + 3] = (uint8_t)d;
    }
    for (; k < cnt; k++) {
        BNBQ__FLT_TMP float xh = x[k] * inv;
        q[k] = (uint8_t)bnbq__code_index(code, xh);
    }
}

BNBQ_API int bnbq_code_index(const float* code, float x) { return bnbq__code_index(code, x); }

/* The NF4 decision tree of bitsandbytes (algorithms.md 3.2) compares with strict '>' against
   these float32 thresholds (the kernel's literals, correctly rounded). Because the thresholds are
   strictly increasing, the tree's answer is the number of thresholds below x: a value equal to a
   threshold goes to the lower code, NaN -> 0. */
static const float bnbq__nf4_thresholds[15] = {
    -0.84809643f, -0.610632896f, -0.45999527f, -0.33967942f, -0.234607399f, -0.137911737f,
    -0.0455250181f, 0.0397901498f, 0.120255254f, 0.203521252f, 0.292013764f, 0.389312536f,
    0.501663387f, 0.64278692f, 0.861478388f
};

static int bnbq__nf4_index(float x) {
    int i, c = 0;
    for (i = 0; i < 15; i++) c += x > bnbq__nf4_thresholds[i];
    return c;
}

BNBQ_API int bnbq_nf4_index(float x) { return bnbq__nf4_index(x); }

/* The FP4 tree (algorithms.md 3.3) on |x|, as a threshold count mapped to the 3-bit code; sign bit
   8 for x < 0 (so -0.0 and NaN get 0; tiny negatives become 0b1000). */
static const float bnbq__fp4_thresholds[7] = {
    0.00260417f, 0.0859375f, 0.208333328f, 0.291666657f, 0.416666687f, 0.583333015f, 0.833333313f
};
static const unsigned char bnbq__fp4_count_to_code[8] = { 0, 1, 6, 7, 4, 5, 2, 3 };

static int bnbq__fp4_index(float x) {
    int i, c = 0;
    float a = bnbq__absf(x);
    for (i = 0; i < 7; i++) c += a > bnbq__fp4_thresholds[i];
    return bnbq__fp4_count_to_code[c] + (x < 0.0f ? 8 : 0);
}

BNBQ_API int bnbq_fp4_index(float x) { return bnbq__fp4_index(x); }

BNBQ_API float bnbq_fp4_value(int nibble) {
    float sign = (nibble & 8) ? -1.0f : 1.0f;
    return bnbq__fp4_lut[nibble & 7] * sign;
}

// >>sizes

static int bnbq__is_pow2(long v) { return v > 0 && (v & (v - 1)) == 0; }

BNBQ_API bnbq_result bnbq_blocks_size(size_t n, int blocksize, size_t* out_nblocks) {
    if (!out_nblocks) return BNBQ_ERROR_NULL_POINTER;
    if (n == 0) return BNBQ_ERROR_BAD_SHAPE;
    if (blocksize <= 0) return BNBQ_ERROR_BAD_BLOCKSIZE;
    *out_nblocks = n / (size_t)blocksize + (n % (size_t)blocksize != 0);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_packed_4bit_size(size_t n, size_t* out_bytes) {
    if (!out_bytes) return BNBQ_ERROR_NULL_POINTER;
    if (n == 0) return BNBQ_ERROR_BAD_SHAPE;
    *out_bytes = n / 2 + (n & 1);
    return BNBQ_SUCCESS;
}

// >>ops

/* ---- validation helpers (shared by every backend: the public functions check, then dispatch) */

#define BNBQ__REQUIRE(cond, code, what) \
    do { if (!(cond)) return bnbq__fail(ex, bnbq__func, (code), (what)); } while (0)

static int bnbq__is_float_dtype(bnbq_dtype dt) {
    return dt == BNBQ_F32 || dt == BNBQ_F16 || dt == BNBQ_BF16;
}
static int bnbq__aligned(const void* p, size_t align) {
    return align <= 1 || ((uintptr_t)p % align) == 0;
}
/* a * b without overflow, also times the element size */
static int bnbq__mul_ok(size_t a, size_t b, size_t elem, size_t* out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    if (elem != 0 && a * b > SIZE_MAX / elem) return 0;
    if (out) *out = a * b;
    return 1;
}
static int bnbq__on_backend(const bnbq_exec* ex) { return ex && ex->backend; }

/* 8-bit blockwise blocksizes: powers of two >= 64; <= 4096 on every backend, any larger power of
   two (up to 2^30) on the CPU. */
static int bnbq__blocksize8_ok(const bnbq_exec* ex, int bs) {
    if (!bnbq__is_pow2(bs) || bs < 64) return 0;
    if (bnbq__on_backend(ex) && bs > 4096) return 0;
    return bs <= (1 << 30);
}
/* 4-bit blocksizes: powers of two >= 32 (<= 4096 on a backend). */
static int bnbq__blocksize4_ok(const bnbq_exec* ex, int bs) {
    if (!bnbq__is_pow2(bs) || bs < 32) return 0;
    if (bnbq__on_backend(ex) && bs > 4096) return 0;
    return bs <= (1 << 30);
}

/* The 8-bit quantizers search the code: it must be ascending (equal neighbours allowed) and free
   of NaN, or the search would silently return wrong codes. */
static int bnbq__code_sorted(const float* code) {
    int i;
    for (i = 0; i < 256; i++) if (!(code[i] == code[i])) return 0;
    for (i = 0; i < 255; i++) if (code[i] > code[i + 1]) return 0;
    return 1;
}

#define BNBQ__DISPATCH(slot, args) \
    do { \
        if (bnbq__on_backend(ex)) { \
            if (!ex->backend->slot) \
                return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_NOT_SUPPORTED, \
                                  "this backend does not implement the operation"); \
            return ex->backend->slot args; \
        } \
    } while (0)

/* ---- CPU reference kernels -------------------------------------------------------------------- */

typedef struct bnbq__task_blockwise {
    const float* code; bnbq_dtype dt; const void* x; size_t n; size_t bs;
    uint8_t* q; float* absmax; const uint8_t* cq; const float* cabsmax; void* out;
    bnbq_quant_type qt; float scale; bnbq_dtype dt2;
} bnbq__task_blockwise;

/* Element-wise operations are cut into ranges of this many elements for the parallel-for. */
#define BNBQ__ELEMS_PER_TASK ((size_t)16384)
static size_t bnbq__ntasks(size_t n) {
    return n / BNBQ__ELEMS_PER_TASK + (n % BNBQ__ELEMS_PER_TASK != 0);
}

// >>simd

/* SIMD paths of the CPU kernels. Each one writes exactly the bytes of the scalar reference: table
   values are computed with the reference's float operations, searches compare against the same
   entries with the same predicates, conversions round as bnbq_f32_to_f16 / _bf16 do, and a
   partial last block is handed to the scalar kernel. */
#if !defined(BNBQ_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    ((defined(__clang__) && __clang_major__ >= 8) || \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 8))
#define BNBQ__X86_SIMD 1
#include <immintrin.h>
#include <cpuid.h>
/* F16C (CPUID.1:ECX bit 29): __builtin_cpu_supports has no name for it on every compiler. */
static int bnbq__cpu_has_f16c(void) {
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c >> 29) & 1u;
}
#endif
/* aarch64 (little-endian): NEON (Advanced SIMD) is part of the base architecture, so its paths
   need no target attributes and no run-time check. */
#if !defined(BNBQ_NO_SIMD) && defined(__aarch64__) && defined(__ARM_NEON) && !defined(__AARCH64EB__)
#define BNBQ__NEON_SIMD 1
#include <arm_neon.h>
#endif


/* -1: not resolved yet */
static int bnbq__simd_state = -1;

static int bnbq__simd_load_state(void) {
#if defined(__GNUC__) || defined(__clang__)
    return __atomic_load_n(&bnbq__simd_state, __ATOMIC_RELAXED);
#else
    return bnbq__simd_state;
#endif
}
static void bnbq__simd_store_state(int v) {
#if defined(__GNUC__) || defined(__clang__)
    __atomic_store_n(&bnbq__simd_state, v, __ATOMIC_RELAXED);
#else
    bnbq__simd_state = v;
#endif
}

BNBQ_API const char* bnbq_simd_level_name(bnbq_simd_level level) {
    switch (level) {
        case BNBQ_SIMD_SCALAR: return "scalar";
        case BNBQ_SIMD_NEON: return "neon";
        case BNBQ_SIMD_AVX2: return "avx2";
        case BNBQ_SIMD_AVX512: return "avx512";
        default: return "unknown";
    }
}

BNBQ_API int bnbq_cpu_simd_supported(bnbq_simd_level level) {
    switch (level) {
        case BNBQ_SIMD_SCALAR: return 1;
#if defined(BNBQ__X86_SIMD)
        case BNBQ_SIMD_AVX2:
            __builtin_cpu_init();
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx") &&
                   bnbq__cpu_has_f16c();
        case BNBQ_SIMD_AVX512:
            __builtin_cpu_init();
            return bnbq_cpu_simd_supported(BNBQ_SIMD_AVX2) &&
                   __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
#if defined(BNBQ__NEON_SIMD)
        case BNBQ_SIMD_NEON: return 1;
#endif
        default: return 0;
    }
}

/* AVX512_VBMI (byte permutes) on the AVX-512 level: the 8-bit dequantizer's fast table lookup.
   Without it that operation runs its AVX2 code. Resolved with the level. */
#if defined(BNBQ__X86_SIMD)
static int bnbq__simd_vbmi = 0;
/* AVX512_VNNI (vpdpbusd, CPUID.(7,0):ECX bit 11) on the AVX-512 level: the int8 matmul's dot
   product; without it that operation runs AVX-512BW vpmaddwd code. Resolved with the level. */
static int bnbq__simd_vnni = 0;
/* AVX512_BITALG (vpopcntb) with VBMI: the 8-bit quantizer's gather-free step function. */
static int bnbq__simd_bitalg = 0;
static int bnbq__cpu_has_vnni(void) {
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (c >> 11) & 1u;
}
/* AVX512_BF16 (vcvtne2ps2bf16, CPUID.(7,1):EAX bit 5) on the AVX-512 level: the bf16 gemv's fast
   rounds (bnbq__zb_gemv_bf16); without it the bf16 gemv rounds on the integer bits. Resolved with
   the level. */
static int bnbq__simd_bf16 = 0;
static int bnbq__cpu_has_bf16(void) {
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1) return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1u;
}
#endif

static int bnbq__simd_resolve(void) {
    int best = BNBQ_SIMD_SCALAR, lv;
    const char* env = getenv("BNBQ_SIMD");
    for (lv = BNBQ_SIMD_AVX512; lv > BNBQ_SIMD_SCALAR; lv--)
        if (bnbq_cpu_simd_supported((bnbq_simd_level)lv)) { best = lv; break; }
    if (env && *env) {
        for (lv = BNBQ_SIMD_SCALAR; lv <= BNBQ_SIMD_AVX512; lv++)
            if (strcmp(env, bnbq_simd_level_name((bnbq_simd_level)lv)) == 0 &&
                bnbq_cpu_simd_supported((bnbq_simd_level)lv)) { best = lv; break; }
    }
    return best;
}

static int bnbq__simd(void) {
    int s = bnbq__simd_load_state();
    if (s < 0) {
#if defined(BNBQ__X86_SIMD)
        __builtin_cpu_init();
        __atomic_store_n(&bnbq__simd_vbmi, __builtin_cpu_supports("avx512vbmi") ? 1 : 0,
                         __ATOMIC_RELAXED);       /* the same value from every thread */
        __atomic_store_n(&bnbq__simd_vnni, bnbq__cpu_has_vnni(), __ATOMIC_RELAXED);
        __atomic_store_n(&bnbq__simd_bitalg, __builtin_cpu_supports("avx512bitalg") ? 1 : 0,
                         __ATOMIC_RELAXED);
        __atomic_store_n(&bnbq__simd_bf16, bnbq__cpu_has_bf16(), __ATOMIC_RELAXED);
#endif
        s = bnbq__simd_resolve();
        bnbq__simd_store_state(s);
    }
    return s;
}

BNBQ_API bnbq_simd_level bnbq_cpu_simd_level(void) { return (bnbq_simd_level)bnbq__simd(); }

BNBQ_API bnbq_result bnbq_cpu_set_simd_level(bnbq_simd_level level) {
    if ((int)level < BNBQ_SIMD_SCALAR || (int)level > BNBQ_SIMD_AVX512) return BNBQ_ERROR_INVALID_ARGS;
    if (!bnbq_cpu_simd_supported(level)) return BNBQ_ERROR_NOT_SUPPORTED;
    (void)bnbq__simd();                           /* resolves the sub-features once */
    bnbq__simd_store_state((int)level);
    return BNBQ_SUCCESS;
}

#if defined(BNBQ__X86_SIMD) || defined(BNBQ__NEON_SIMD)

/* The 16 values of a 4-bit code for absmax 1, as bnbq__dequant4 multiplies them (FP4: index 8
   is -0.0, the sign applied to the LUT). */
static void bnbq__code4_values(bnbq_quant_type qt, float* tab) {
    int c;
    for (c = 0; c < 16; c++) tab[c] = qt == BNBQ_NF4 ? bnbq__code_nf4[c] : bnbq_fp4_value(c);
}

/* Search tables of an ascending 256-entry code (bnbq__code_index as lookups, algorithms.md 2.2):
   the seven steps of the binary search count the odd entries o[k] = code[2k+1] below x (steps of
   stride s look up o[j*2s + s - 1] at j = count / 2s); p = 2 * count; the final test compares x with
   code[p] and the two midpoints (code[p +- 1] + code[p]) * 0.5f, exactly as the reference. */
typedef struct bnbq__qsearch {
    float s32[16], s16[16], s8[16], s4[16], s2[32], s1[64];
    float val[128], mhi[128], mlo[128];
    float pivot64;
} bnbq__qsearch;

static void bnbq__qsearch_init(const float* code, bnbq__qsearch* s) {
    int j;
    memset(s, 0, sizeof *s);
    s->pivot64 = code[2 * 63 + 1];
#define BNBQ__QS_FILL(arr, st) \
    for (j = 0; j < 64 / (st); j++) arr[j] = code[2 * (j * 2 * (st) + (st) - 1) + 1];
    BNBQ__QS_FILL(s->s32, 32) BNBQ__QS_FILL(s->s16, 16) BNBQ__QS_FILL(s->s8, 8)
    BNBQ__QS_FILL(s->s4, 4) BNBQ__QS_FILL(s->s2, 2) BNBQ__QS_FILL(s->s1, 1)
#undef BNBQ__QS_FILL
    for (j = 0; j < 128; j++) {
        float val = code[2 * j];
        s->val[j] = val;
        s->mhi[j] = (code[2 * j + 1] + val) * 0.5f;
        s->mlo[j] = j == 0 ? -INFINITY : (code[2 * j - 1] + val) * 0.5f;
    }
}

/* NF4 / FP4 codes of 16 normalized values without a search: the thresholds (bnbq__nf4_thresholds
   on x, bnbq__fp4_thresholds on |x|) are at least 0.08 apart, so on a grid of cells 1/16 wide
   (NF4: 32 cells over [-1, 1), FP4: 16 over [0, 1); values beyond clamp to the end cells) each
   cell holds at most one threshold, none within 1e-3 of a cell edge. The count of thresholds below
   x is then below[cell] + (x > thr[cell]) (thr = +inf for a cell without one), whichever of two
   neighbouring cells a rounding of x * 16 picks near an edge; NaN lands in cell 0 and compares
   false, as in the reference. bnbq__z_q4_init checks these conditions (and the test compares every
   threshold and its neighbours with the scalar code). */
typedef struct bnbq__zq4 {
    float thr[32];
    int32_t below[32];
    int32_t c2c[16];
} bnbq__zq4;

static int bnbq__zq4_init(bnbq_quant_type qt, bnbq__zq4* g) {
    const float* th = qt == BNBQ_NF4 ? bnbq__nf4_thresholds : bnbq__fp4_thresholds;
    int nt = qt == BNBQ_NF4 ? 15 : 7, cells = qt == BNBQ_NF4 ? 32 : 16, j, i;
    double lo0 = qt == BNBQ_NF4 ? -1.0 : 0.0;
    for (j = 0; j < 32; j++) { g->thr[j] = INFINITY; g->below[j] = 0; }
    for (j = 0; j < 16; j++) g->c2c[j] = bnbq__fp4_count_to_code[j & 7];
    for (j = 0; j < cells; j++) {
        double lo = lo0 + j / 16.0, hi = lo + 1.0 / 16.0;
        int in = 0;
        for (i = 0; i < nt; i++) {
            double t = (double)th[i];
            if (t < lo) g->below[j]++;
            if (fabs(t - lo) < 1e-3 || fabs(t - hi) < 1e-3) return 0;
            if ((j == 0 || t >= lo) && (j == cells - 1 || t < hi)) { g->thr[j] = th[i]; in++; }
        }
        if (j == 0) g->below[0] = 0;
        if (in > 1 || (j == 0 && g->below[0] != 0)) return 0;
    }
    /* cell 0 takes everything below its upper edge: no threshold may lie below -1 (NF4) */
    for (i = 0; i < nt; i++) if ((double)th[i] < lo0) return 0;
    return 1;
}

#endif /* BNBQ__X86_SIMD || BNBQ__NEON_SIMD */

#if defined(BNBQ__X86_SIMD)

/* g++ 12 reports its own intrinsics' deliberately undefined operands (__Y = __Y) as uninitialized
   once they are inlined here; the values are never read. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define BNBQ__T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,avx,f16c")))
#define BNBQ__T256 __attribute__((target("avx2,avx,f16c")))

/* ---- AVX-512 ---- */

static BNBQ__T256 void bnbq__y_quantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1);

/* f16 bits to f32 (the masked form: gcc's unmasked one trips -Wmaybe-uninitialized in C++) */
static BNBQ__T512 __m512 bnbq__z_cvtph(__m256i h) {
    return _mm512_mask_cvtph_ps(_mm512_setzero_ps(), (__mmask16)0xffff, h);
}

static BNBQ__T512 __m512 bnbq__z_load(bnbq_dtype dt, const void* p, size_t i) {
    if (dt == BNBQ_F16)
        return bnbq__z_cvtph(_mm256_loadu_si256((const __m256i*)((const uint16_t*)p + i)));
    if (dt == BNBQ_BF16)
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)((const uint16_t*)p + i))), 16));
    return _mm512_loadu_ps((const float*)p + i);
}

static BNBQ__T512 __m512 bnbq__z_canon(__m512 v) {
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(nan, v, _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff)));
}

/* 16 canonical floats (no NaN but 0x7fffffff) to f16 / bf16 bits, as bnbq_f32_to_f16 / _bf16. */
static BNBQ__T512 __m256i bnbq__z_to16(bnbq_dtype dt, __m512 v) {
    if (dt == BNBQ_F16) return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    {
        __m512i u = _mm512_castps_si512(v);
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
        r = _mm512_srli_epi32(r, 16);
        r = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(_mm512_srli_epi32(u, 16),
                                                            _mm512_set1_epi32(0x40)));
        return _mm512_cvtepi32_epi16(r);
    }
}

/* Streaming (non-temporal) stores for large dequantize outputs: an output of at least
   bnbq__nt_min_bytes (half the L3 of a Zen 4 CCX: it would not stay in cache anyway), aligned to
   64 bytes, in blocks of a multiple of 32 elements, is written without the read for ownership of
   each line (and without evicting the inputs); the same bytes. The range ends with an sfence. */
static size_t bnbq__nt_min_bytes = (size_t)16 << 20;   /* a constant: only tests and bench_cpu change it */
static int bnbq__nt_out(const bnbq__task_blockwise* t) {
    return t->n * (t->dt == BNBQ_F32 ? 4u : 2u) >= bnbq__nt_min_bytes && t->bs % 32 == 0 &&
           bnbq__aligned(t->out, 64);
}
static BNBQ__T512 void bnbq__z_put32(float* p, __m512 v, int nt) {
    if (nt) _mm512_stream_ps(p, v);
    else _mm512_storeu_ps(p, v);
}
static BNBQ__T512 void bnbq__z_put16(uint16_t* p, __m256i h, int nt) {
    if (nt) _mm256_stream_si256((__m256i*)p, h);
    else _mm256_storeu_si256((__m256i*)p, h);
}

/* the same for values known not to be NaN (finite code times finite absmax) */
static BNBQ__T512 void bnbq__z_store_nonan(bnbq_dtype dt, void* p, size_t i, __m512 v, int nt) {
    if (dt == BNBQ_F32) { bnbq__z_put32((float*)p + i, v, nt); return; }
    if (dt == BNBQ_F16) {
        bnbq__z_put16((uint16_t*)p + i, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT), nt);
        return;
    }
    {
        __m512i u = _mm512_castps_si512(v);
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
        bnbq__z_put16((uint16_t*)p + i, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)), nt);
    }
}

static BNBQ__T512 void bnbq__z_store(bnbq_dtype dt, void* p, size_t i, __m512 v, int nt) {
    v = bnbq__z_canon(v);
    if (dt == BNBQ_F32) bnbq__z_put32((float*)p + i, v, nt);
    else bnbq__z_put16((uint16_t*)p + i, bnbq__z_to16(dt, v), nt);
}

/* absmax of [start, end), end - start a multiple of 16; max_ps(a, m) is the reference's
   a > m ? a : m, so NaN never wins. */
static BNBQ__T512 float bnbq__z_absmax(bnbq_dtype dt, const void* x, size_t start, size_t end) {
    __m512 m = _mm512_setzero_ps(), m2 = _mm512_setzero_ps();
    size_t i = start;
    for (; i + 32 <= end; i += 32) {
        m = _mm512_max_ps(_mm512_abs_ps(bnbq__z_load(dt, x, i)), m);
        m2 = _mm512_max_ps(_mm512_abs_ps(bnbq__z_load(dt, x, i + 16)), m2);
    }
    if (i < end) m = _mm512_max_ps(_mm512_abs_ps(bnbq__z_load(dt, x, i)), m);
    m = _mm512_max_ps(m, m2);
    return _mm512_reduce_max_ps(m);
}

/* absmax of 64 loaded values (as bnbq__z_absmax: NaN never wins, the chain starts at 0), stored
   to *am; returns 1 / absmax (IEEE division, as the scalar 1.0f / m) in every lane */
static BNBQ__T512 __m512 bnbq__z_inv64(__m512 x0, __m512 x1, __m512 x2, __m512 x3, float* am) {
    __m512 m = _mm512_max_ps(_mm512_abs_ps(x0), _mm512_setzero_ps());
    __m512 m2 = _mm512_max_ps(_mm512_abs_ps(x1), _mm512_setzero_ps());
    __m128 r;
    m = _mm512_max_ps(_mm512_abs_ps(x2), m);
    m2 = _mm512_max_ps(_mm512_abs_ps(x3), m2);
    m = _mm512_max_ps(m, m2);
    m = _mm512_max_ps(m, _mm512_shuffle_f32x4(m, m, 0x4e));
    m = _mm512_max_ps(m, _mm512_shuffle_f32x4(m, m, 0xb1));
    m = _mm512_max_ps(m, _mm512_permute_ps(m, 0x4e));
    m = _mm512_max_ps(m, _mm512_permute_ps(m, 0xb1));
    r = _mm512_castps512_ps128(m);
    _mm_store_ss(am, r);
    return _mm512_broadcastss_ps(_mm_div_ss(_mm_set_ss(1.0f), r));
}

static BNBQ__T512 void bnbq__z_dequantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    float tab[16];
    __m512 code;
    const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i sh = _mm512_set1_epi32(0x00000004);  /* per 16-bit lane: 4, 0, 4, 0, ... */
    size_t b, k;
    const int nt = bnbq__nt_out(t);
    bnbq__code4_values(t->qt, tab);
    code = _mm512_loadu_ps(tab);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        const uint8_t* src = t->cq + start / 2;
        __m512 lut;
        lut = bnbq__z_canon(_mm512_mul_ps(code, _mm512_set1_ps(t->cabsmax[b])));
        if (t->dt == BNBQ_F32) {
            float* o = (float*)t->out + start;
            for (k = 0; k < t->bs / 2; k += 16) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)(src + k)));
                __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut);
                __m512 lo = _mm512_permutexvar_ps(v, lut);   /* uses the low 4 bits */
                bnbq__z_put32(o + 2 * k, _mm512_permutex2var_ps(hi, ilo, lo), nt);
                bnbq__z_put32(o + 2 * k + 16, _mm512_permutex2var_ps(hi, ihi, lo), nt);
            }
        } else {
            uint16_t* o = (uint16_t*)t->out + start;
            __m256i h = bnbq__z_to16(t->dt, lut);
            __m512i tab32 = _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
            for (k = 0; k < t->bs / 2; k += 16) {
                __m128i x = _mm_loadu_si128((const __m128i*)(src + k));
                __m256i d = _mm256_set_m128i(_mm_unpackhi_epi8(x, x), _mm_unpacklo_epi8(x, x));
                __m512i w = _mm512_srlv_epi16(_mm512_cvtepu8_epi16(d), sh);
                __m512i r = _mm512_permutexvar_epi16(w, tab32);
                if (nt) _mm512_stream_si512((__m512i*)(o + 2 * k), r);
                else _mm512_storeu_si512((void*)(o + 2 * k), r);
            }
        }
    }
    if (nt) _mm_sfence();
}

#define BNBQ__TVBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx2,avx,f16c")))

/* 8-bit dequantize with AVX512_VBMI: the code is split into four byte planes (byte k of every
   entry, 256 bytes = 4 registers each); 64 indices look up each plane with two vpermi2b (7 low
   bits) and a blend on bit 7, then the planes interleave back into floats. The indices are first
   permuted so that the in-lane interleave yields the elements in order. */
static BNBQ__TVBMI void bnbq__zv_dequantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    __m512i pl[4][4];
    uint8_t planes[4][256], perm[64];
    size_t b, k;
    int i, r, L;
    for (i = 0; i < 256; i++) {
        uint32_t u;
        memcpy(&u, &t->code[i], 4);
        for (r = 0; r < 4; r++) planes[r][i] = (uint8_t)(u >> (8 * r));
    }
    for (r = 0; r < 4; r++)
        for (i = 0; i < 4; i++) pl[r][i] = _mm512_loadu_si512((const void*)(planes[r] + 64 * i));
    /* lane L, group g, byte j of the permuted vector holds element 16 g + 4 L + j */
    for (L = 0; L < 4; L++)
        for (r = 0; r < 4; r++)
            for (i = 0; i < 4; i++) perm[16 * L + 4 * r + i] = (uint8_t)(16 * r + 4 * L + i);
    for (i = 0; i < 256; i++) if (!(bnbq__absf(t->code[i]) <= FLT_MAX)) break;
    {
        const __m512i vperm = _mm512_loadu_si512((const void*)perm);
        /* streaming stores for f32 only: the 32-byte f16 / bf16 stores measured no faster */
        const int code_finite = i == 256, nt = t->dt == BNBQ_F32 && bnbq__nt_out(t);
        for (b = b0; b < b1; b++) {
            size_t start = b * t->bs;
            const uint8_t* src = t->cq + start;
            __m512 a = _mm512_set1_ps(t->cabsmax[b]);
            /* finite code times finite absmax is never NaN: no canonicalisation needed */
            const int nonan = code_finite && bnbq__absf(t->cabsmax[b]) <= FLT_MAX;
            for (k = 0; k < t->bs; k += 64) {
                __m512i idx = _mm512_permutexvar_epi8(vperm, _mm512_loadu_si512((const void*)(src + k)));
                __mmask64 hi = _mm512_movepi8_mask(idx);
                __m512i p[4], lo01, hi01, lo23, hi23;
                __m512 v[4];
                /* written out (no loop over r): gcc 12 kept pl, p and v in memory around the loops */
#define BNBQ__ZV_PLANE(r) p[r] = _mm512_mask_blend_epi8(hi, _mm512_permutex2var_epi8(pl[r][0], idx, pl[r][1]), \
                                                        _mm512_permutex2var_epi8(pl[r][2], idx, pl[r][3]));
                BNBQ__ZV_PLANE(0) BNBQ__ZV_PLANE(1) BNBQ__ZV_PLANE(2) BNBQ__ZV_PLANE(3)
#undef BNBQ__ZV_PLANE
                lo01 = _mm512_unpacklo_epi8(p[0], p[1]); hi01 = _mm512_unpackhi_epi8(p[0], p[1]);
                lo23 = _mm512_unpacklo_epi8(p[2], p[3]); hi23 = _mm512_unpackhi_epi8(p[2], p[3]);
                v[0] = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_unpacklo_epi16(lo01, lo23)), a);
                v[1] = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_unpackhi_epi16(lo01, lo23)), a);
                v[2] = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_unpacklo_epi16(hi01, hi23)), a);
                v[3] = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_unpackhi_epi16(hi01, hi23)), a);
                if (nonan) {
                    bnbq__z_store_nonan(t->dt, t->out, start + k, v[0], nt);
                    bnbq__z_store_nonan(t->dt, t->out, start + k + 16, v[1], nt);
                    bnbq__z_store_nonan(t->dt, t->out, start + k + 32, v[2], nt);
                    bnbq__z_store_nonan(t->dt, t->out, start + k + 48, v[3], nt);
                } else {
                    bnbq__z_store(t->dt, t->out, start + k, v[0], nt);
                    bnbq__z_store(t->dt, t->out, start + k + 16, v[1], nt);
                    bnbq__z_store(t->dt, t->out, start + k + 32, v[2], nt);
                    bnbq__z_store(t->dt, t->out, start + k + 48, v[3], nt);
                }
            }
        }
        if (nt) _mm_sfence();
    }
}

/* 8-bit dequantize to f16 / bf16 with AVX512_VBMI, blocks of >= 256: the block's 256 possible
   outputs (code[i] * absmax stored as bnbq__z_store rounds them) as two byte planes of 4
   registers; per 64 indices a lookup in each plane (two vpermi2b and a blend on bit 7) and one
   byte interleave, instead of four f32 planes, 4 multiplies and 4 conversions. The indices are
   first permuted so that the in-lane interleave yields the elements in order. */
static BNBQ__TVBMI void bnbq__zv_dequantize_blockwise16(const bnbq__task_blockwise* t, size_t b0,
                                                        size_t b1) {
    __m512 code[16];
    uint8_t perm[64];
    size_t b, k;
    int i, L, j;
    const int nt = bnbq__nt_out(t);
    __m512i vperm;
    for (i = 0; i < 16; i++) code[i] = _mm512_loadu_ps(t->code + 16 * i);
    for (L = 0; L < 4; L++)
        for (j = 0; j < 8; j++) {
            perm[16 * L + j] = (uint8_t)(8 * L + j);
            perm[16 * L + 8 + j] = (uint8_t)(32 + 8 * L + j);
        }
    vperm = _mm512_loadu_si512((const void*)perm);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        const uint8_t* src = t->cq + start;
        uint16_t* o = (uint16_t*)t->out + start;
        __m512 a = _mm512_set1_ps(t->cabsmax[b]);
        __m512i lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3;   /* named: gcc 12 keeps arrays in memory */
#define BNBQ__ZV16_PLANES(i, lo, hi) { \
            __m512i w0, w1; \
            w0 = _mm512_inserti64x4(_mm512_castsi256_si512( \
                     bnbq__z_to16(t->dt, bnbq__z_canon(_mm512_mul_ps(code[4 * (i)], a)))), \
                     bnbq__z_to16(t->dt, bnbq__z_canon(_mm512_mul_ps(code[4 * (i) + 1], a))), 1); \
            w1 = _mm512_inserti64x4(_mm512_castsi256_si512( \
                     bnbq__z_to16(t->dt, bnbq__z_canon(_mm512_mul_ps(code[4 * (i) + 2], a)))), \
                     bnbq__z_to16(t->dt, bnbq__z_canon(_mm512_mul_ps(code[4 * (i) + 3], a))), 1); \
            lo = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(w0)), \
                                    _mm512_cvtepi16_epi8(w1), 1); \
            hi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(_mm512_srli_epi16(w0, 8))), \
                                    _mm512_cvtepi16_epi8(_mm512_srli_epi16(w1, 8)), 1); }
        BNBQ__ZV16_PLANES(0, lo0, hi0) BNBQ__ZV16_PLANES(1, lo1, hi1)   /* entries 64 i .. 64 i + 63 */
        BNBQ__ZV16_PLANES(2, lo2, hi2) BNBQ__ZV16_PLANES(3, lo3, hi3)
#undef BNBQ__ZV16_PLANES
        for (k = 0; k < t->bs; k += 64) {
            __m512i idx = _mm512_permutexvar_epi8(vperm, _mm512_loadu_si512((const void*)(src + k)));
            __mmask64 m = _mm512_movepi8_mask(idx);
            __m512i l = _mm512_mask_blend_epi8(m, _mm512_permutex2var_epi8(lo0, idx, lo1),
                                               _mm512_permutex2var_epi8(lo2, idx, lo3));
            __m512i h = _mm512_mask_blend_epi8(m, _mm512_permutex2var_epi8(hi0, idx, hi1),
                                               _mm512_permutex2var_epi8(hi2, idx, hi3));
            __m512i r0 = _mm512_unpacklo_epi8(l, h), r1 = _mm512_unpackhi_epi8(l, h);
            if (nt) {
                _mm512_stream_si512((__m512i*)(o + k), r0);
                _mm512_stream_si512((__m512i*)(o + k + 32), r1);
            } else {
                _mm512_storeu_si512((void*)(o + k), r0);
                _mm512_storeu_si512((void*)(o + k + 32), r1);
            }
        }
    }
    if (nt) _mm_sfence();
}

/* f32 -> bf16 -> f32 as bnbq_f32_to_bf16 rounds (RNE; a NaN stays a NaN) */
static BNBQ__T512 __attribute__((always_inline)) inline __m512 bnbq__z_round_bf16(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                 _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), u, _mm512_set1_epi32(0x00400000));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}
/* f32 -> f16 -> f32 (RNE; NaN stays NaN) */
static BNBQ__T512 __attribute__((always_inline)) inline __m512 bnbq__z_round_f16(__m512 x) {
    return bnbq__z_cvtph(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

/* 4-bit GEMV (bnbq__cpu_gemv_range, bitsandbytes' kgemm_4bit_inference_naive order), AVX-512F:
   the 32 lanes of the reference are the lanes of two registers per row (halves h = 0, 1: lanes
   16 h .. 16 h + 15), two rows at a time (four independent chains). Register lane i of half h is
   the reference's lane 16 h + 4 (i % 4) + i / 4: then the 16 lanes' 16-byte chunk slices
   (4 loads of 64 bytes, one lane per 128-bit lane) become 4 registers of 32-bit words (word w of
   every lane: bytes 4 w .. 4 w + 3, elements 8 w .. 8 w + 7) by a 4x4 dword transpose within the
   128-bit lanes (8 unpacks); element 8 w + t is then a shift of word w (vpermps reads the low 4
   bits). A is transposed once per call to the same lane order (bnbq__simd_gemv). Each weight is
   qmap[nibble] * absmax and goes into the lane's chain in element order: F32 a fused multiply-add
   as the reference's fmaf; F16 / BF16 the weight and the product rounded to dt, then added. The
   32 lane sums then take the reference's scalar tree and final rounding. */
static BNBQ__T512 __m512 bnbq__z_gemv_scale(bnbq_dtype dt, const float* absmax, size_t e0,
                                            size_t eend, int lgbs, __m512i sidx, int nsc) {
    /* the absmax of the 16 lanes of the half that starts at element e0 of the matrix (eend: the
       row's end; only blocks that start before it are read) */
    size_t b0 = e0 >> lgbs, bl = (eend - 1) >> lgbs;
    int cnt = bl - b0 + 1 < (size_t)nsc ? (int)(bl - b0 + 1) : nsc;
    __m512 s = _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1u), absmax + b0);
    s = bnbq__z_canon(_mm512_permutexvar_ps(sidx, s));          /* bnbq__round_to(dt, absmax) */
    if (dt == BNBQ_F16) s = bnbq__z_round_f16(s);
    if (dt == BNBQ_BF16) s = bnbq__z_round_bf16(s);
    return s;
}

/* the 4 word registers of 16 lanes from 256 bytes (64 per load; bytes >= act are not read) */
static BNBQ__T512 __attribute__((always_inline)) inline void bnbq__z_gemv_words(const uint8_t* p, size_t act, __m512i* R) {
    __m512i z0, z1, z2, z3, t0, t1, t2, t3;
    if (act >= 256) {
        z0 = _mm512_loadu_si512((const void*)p); z1 = _mm512_loadu_si512((const void*)(p + 64));
        z2 = _mm512_loadu_si512((const void*)(p + 128)); z3 = _mm512_loadu_si512((const void*)(p + 192));
    } else {
        __m512i zz[4];
        int q;
        for (q = 0; q < 4; q++) {
            size_t lo = 64 * (size_t)q;
            __mmask64 mk = act >= lo + 64 ? ~(__mmask64)0 : act <= lo ? (__mmask64)0
                           : (((__mmask64)1 << (act - lo)) - 1);
            zz[q] = _mm512_maskz_loadu_epi8(mk, p + lo);
        }
        z0 = zz[0]; z1 = zz[1]; z2 = zz[2]; z3 = zz[3];
    }
    t0 = _mm512_unpacklo_epi32(z0, z1); t1 = _mm512_unpackhi_epi32(z0, z1);
    t2 = _mm512_unpacklo_epi32(z2, z3); t3 = _mm512_unpackhi_epi32(z2, z3);
    R[0] = _mm512_unpacklo_epi64(t0, t2); R[1] = _mm512_unpackhi_epi64(t0, t2);
    R[2] = _mm512_unpacklo_epi64(t1, t3); R[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* x's f32 bits rounded to nearest even at bit k (k = 16: bf16; 13: f16 where the result is a normal
   f16), the k low bits 0: + 2^(k-1) - 1, + 1 more where bit k is set. No NaN, infinity or overflow
   handling: the callers' values need none (below). */
static BNBQ__T512 __attribute__((always_inline)) inline __m512 bnbq__z_round_bits(__m512 x, int k) {
    __m512i u = _mm512_castps_si512(x);
    __m512i r = _mm512_mask_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32((1 << (k - 1)) - 1)),
                                      _mm512_test_epi32_mask(u, _mm512_set1_epi32(1 << k)),
                                      u, _mm512_set1_epi32(1 << (k - 1)));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)(0xffffffffu << k))));
}
/* bnbq__z_round_bf16 without its NaN case: for values whose NaNs have their low 16 bits 0 (the
   gemv's: every NaN there is a bf16 input, qmap entry or absmax, or a product of two such, which
   keeps the payload of one or is the default NaN; + 0x7fff or 0x8000 then carries no further) */
static BNBQ__T512 __attribute__((always_inline)) inline __m512 bnbq__z_round_bf16q(__m512 x) {
    return bnbq__z_round_bits(x, 16);
}
/* cold weights: each row's round is prefetched into L2 this many rows ahead (the hardware
   prefetchers do not follow the two rows' interleaved streams: 19 % of memcpy without, 30-36 %
   with, 4096x4096 f32 on Zen 4; T1 beat T0, 8 rows beat 2, 4, 16, 32) */
#ifndef BNBQ__ZG_PF
#define BNBQ__ZG_PF 8
#endif
#ifndef BNBQ__ZG_PFH
#define BNBQ__ZG_PFH _MM_HINT_T1
#endif
/* bnbq__z_round_f16, inlined */
static BNBQ__T512 __attribute__((always_inline)) inline __m512 bnbq__z_round_f16q(__m512 x) {
    return _mm512_mask_cvtph_ps(_mm512_setzero_ps(), (__mmask16)0xffff,
                                _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}
/* f32 -> f16 -> f32 for the values whose f16 rounding is normal or 0 (|x| in [2^-14, 65504], or
   0): RNE on the integer bits (the low 13 bits dropped), without a conversion: the F16 fast
   rounds' weights (BNBQ__ZG_F16_OK) */
static BNBQ__T512 __attribute__((always_inline)) inline __m512 bnbq__z_round_f16n(__m512 x) {
    return bnbq__z_round_bits(x, 13);
}
/* F16, a full round whose 16 absmax s of a half all give normal f16 weights: every lane has s == 0
   or lo <= |s| <= hi, lo = 2^-14 / (the least nonzero |qmap|), hi = 65504 / (the largest |qmap|):
   then every qmap[v] * s (exact in f32: two f16 values) is 0 or in [2^-14, 65504] */
static BNBQ__T512 __attribute__((always_inline)) inline int bnbq__z_gemv_f16ok(__m512 s, __m512 lo,
                                                                              __m512 hi) {
    __m512 a = _mm512_abs_ps(s);
    return (__mmask16)((_mm512_cmp_ps_mask(a, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(a, hi, _CMP_LE_OQ)) |
                       _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_EQ_OQ)) == (__mmask16)0xffff;
}
/* one chain step: acc += a * w in the reference's arithmetic for the dtype */
#define BNBQ__ZG_F32(acc, av, wv, m) acc = _mm512_mask3_fmadd_ps(av, wv, acc, m);
#define BNBQ__ZG_F16(acc, av, wv, m) acc = _mm512_mask_add_ps(acc, m, acc, \
    bnbq__z_round_f16q(_mm512_mul_ps(av, bnbq__z_round_f16q(wv))));
#define BNBQ__ZG_BF16(acc, av, wv, m) acc = _mm512_mask_add_ps(acc, m, acc, \
    bnbq__z_round_bf16q(_mm512_mul_ps(av, bnbq__z_round_bf16q(wv))));
/* the same with every lane active */
#define BNBQ__ZG_F32_ALL(acc, av, wv, m) acc = _mm512_fmadd_ps(av, wv, acc);
#define BNBQ__ZG_F16_ALL(acc, av, wv, m) acc = _mm512_add_ps(acc, \
    bnbq__z_round_f16q(_mm512_mul_ps(av, bnbq__z_round_f16q(wv))));
#define BNBQ__ZG_BF16_ALL(acc, av, wv, m) acc = _mm512_add_ps(acc, \
    bnbq__z_round_bf16q(_mm512_mul_ps(av, bnbq__z_round_bf16q(wv))));
/* F16 in a fast round: the weight rounded on its bits (bnbq__z_gemv_f16ok) */
#define BNBQ__ZG_F16_FAST(acc, av, wv, m) acc = _mm512_add_ps(acc, \
    bnbq__z_round_f16q(_mm512_mul_ps(av, bnbq__z_round_f16n(wv))));
/* the 8 steps of word w of the 4 chains */
#define BNBQ__ZG_WORD(OP) { \
    const float* a = at + 256 * w; \
    __m512i x00 = R[0][0][w], x01 = R[0][1][w], x10 = R[1][0][w], x11 = R[1][1][w]; \
    BNBQ__ZG_STEP(OP, 0, 4) BNBQ__ZG_STEP(OP, 1, 0) BNBQ__ZG_STEP(OP, 2, 12) \
    BNBQ__ZG_STEP(OP, 3, 8) BNBQ__ZG_STEP(OP, 4, 20) BNBQ__ZG_STEP(OP, 5, 16) \
    BNBQ__ZG_STEP(OP, 6, 28) BNBQ__ZG_STEP(OP, 7, 24) }
/* rows [n0, n1), two at a time; OP: one of the three above; FAST: the fast full rounds, a prefix of
   three macros: FAST##_INIT (once), FAST##_OK (this round's 4 halves qualify) and FAST##_ROUND
   (the round's steps): BNBQ__ZG_NOFAST (none), BNBQ__ZG_F16W (F16 weights rounded on their bits),
   BNBQ__ZG_BFNE (BF16 by vcvtne2ps2bf16 and vdpbf16ps, bnbq__zb_gemv_bf16) */
#define BNBQ__ZG_BODY(OP, FAST) \
    size_t n, j, nch = K / 32, rounds = (nch + 31) / 32; \
    int i, w, r, h, lgbs = 0, nsc, fastok = 0; \
    const __m512 qm = _mm512_loadu_ps(qmap); \
    __m512 flo = _mm512_setzero_ps(), fhi = flo; \
    const __m512i lid = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15); \
    __m512i sidx; \
    while (((size_t)1 << lgbs) < bs) lgbs++; \
    /* lane l's absmax: block (e0 + 32 l) >> lgbs = b0 + (32 l >> lgbs) when bs <= 512, else b0 */ \
    sidx = bs <= 512 ? _mm512_srli_epi32(_mm512_slli_epi32(lid, 5), (unsigned)lgbs) : _mm512_setzero_si512(); \
    nsc = bs <= 512 ? (int)(512 / bs) : 1; \
    FAST##_INIT \
    for (n = n0; n < n1; n += 2) { \
        size_t rows[2]; \
        __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00; \
        rows[0] = n; rows[1] = n + 1 < n1 ? n + 1 : n;        /* an odd last row: computed twice */ \
        for (j = 0; j < rounds; j++) { \
            size_t la = nch - 32 * j < 32 ? nch - 32 * j : 32;     /* active lanes */ \
            __mmask16 m0, m1; \
            __m512i R[2][2][4]; \
            __m512 s[2][2], s00, s01, s10, s11; \
            const float* at = At + 1024 * j; \
            m0 = _mm512_cmplt_epi32_mask(lid, _mm512_set1_epi32((int)la)); \
            m1 = _mm512_cmplt_epi32_mask(_mm512_add_epi32(lid, _mm512_set1_epi32(16)), \
                                         _mm512_set1_epi32((int)la)); \
            for (r = 0; r < 2; r++) { \
                const uint8_t* wp = packed + rows[r] * K / 2 + 512 * j; \
                size_t e0 = rows[r] * K + 1024 * j; \
                if (rows[r] + BNBQ__ZG_PF < n1) {   /* cold weights: the same round some rows on */ \
                    const char* pf = (const char*)(wp + BNBQ__ZG_PF * K / 2); \
                    for (i = 0; i < 512; i += 64) _mm_prefetch(pf + i, BNBQ__ZG_PFH); \
                    _mm_prefetch((const char*)(absmax + ((e0 + BNBQ__ZG_PF * K) >> lgbs)), BNBQ__ZG_PFH); \
                    if (bs == 32) \
                        _mm_prefetch((const char*)(absmax + ((e0 + BNBQ__ZG_PF * K) >> lgbs) + 16), BNBQ__ZG_PFH); \
                } \
                for (h = 0; h < 2; h++) { \
                    size_t act = 16 * la > 256 * (size_t)h ? 16 * la - 256 * (size_t)h : 0; \
                    bnbq__z_gemv_words(wp + 256 * h, act, R[r][h]); \
                    s[r][h] = act ? bnbq__z_gemv_scale(dt, absmax, e0 + 512 * (size_t)h, \
                                                       rows[r] * K + K, lgbs, sidx, nsc) \
                                  : _mm512_setzero_ps(); \
                } \
            } \
            s00 = s[0][0]; s01 = s[0][1]; s10 = s[1][0]; s11 = s[1][1]; \
            if (la == 32 && fastok && FAST##_OK) { \
                FAST##_ROUND \
            } else if (la == 32) { \
                for (w = 0; w < 4; w++) BNBQ__ZG_WORD(OP##_ALL) \
            } else { \
                for (w = 0; w < 4; w++) BNBQ__ZG_WORD(OP) \
            } \
        } \
        bnbq__z_gemv_out(dt, bias, out, rows, c00, c01, c10, c11); \
    } \
    (void)i; (void)w; (void)r; (void)h; (void)flo; (void)fhi;
/* no fast rounds */
#define BNBQ__ZG_NOFAST_INIT
#define BNBQ__ZG_NOFAST_OK 0
#define BNBQ__ZG_NOFAST_ROUND
/* F16: the least nonzero and the largest |qmap| (all finite, else no fast round) give the absmax
   bounds of bnbq__z_gemv_f16ok */
#define BNBQ__ZG_F16W_INIT { \
    float qmin = 0.0f, qmax = 0.0f; \
    fastok = 1; \
    for (i = 0; i < 16; i++) { \
        float q = fabsf(qmap[i]); \
        if (!(q <= 3.0e38f)) fastok = 0; \
        else if (q > 0.0f) { if (qmin == 0.0f || q < qmin) qmin = q; if (q > qmax) qmax = q; } \
    } \
    if (qmax == 0.0f) fastok = 0; \
    else { flo = _mm512_set1_ps((float)(6.103515625e-05 / (double)qmin * (1.0 + 1e-6))); \
           fhi = _mm512_set1_ps((float)(65504.0 / (double)qmax * (1.0 - 1e-6))); } }
#define BNBQ__ZG_F16W_OK (bnbq__z_gemv_f16ok(s00, flo, fhi) && bnbq__z_gemv_f16ok(s01, flo, fhi) && \
                          bnbq__z_gemv_f16ok(s10, flo, fhi) && bnbq__z_gemv_f16ok(s11, flo, fhi))
#define BNBQ__ZG_F16W_ROUND for (w = 0; w < 4; w++) BNBQ__ZG_WORD(BNBQ__ZG_F16_FAST)
/* the weights w00 .. w11 of element 8 w + t of the 4 chains: word w >> sh, looked up, times the
   absmax */
#define BNBQ__ZG_WEIGHTS(sh) \
    __m512 w00 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(x00, sh), qm), s00); \
    __m512 w01 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(x01, sh), qm), s01); \
    __m512 w10 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(x10, sh), qm), s10); \
    __m512 w11 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(x11, sh), qm), s11);
/* element 8 w + t of the 4 chains */
#define BNBQ__ZG_STEP(OP, t, sh) { \
    __m512 a0 = _mm512_loadu_ps(a + 32 * (t)), a1 = _mm512_loadu_ps(a + 32 * (t) + 16); \
    BNBQ__ZG_WEIGHTS(sh) \
    OP(c00, a0, w00, m0) OP(c01, a1, w01, m1) OP(c10, a0, w10, m0) OP(c11, a1, w11, m1) }

/* the lane sums of rows[0] (c00, c01) and rows[1] (c10, c11; not when it is rows[0] again):
   the reference's tree, rounding and bias */
static BNBQ__T512 void bnbq__z_gemv_out(bnbq_dtype dt, const void* bias, void* out,
                                        const size_t* rows, __m512 c00, __m512 c01, __m512 c10,
                                        __m512 c11) {
    /* register lane i of a half is the reference's lane 4 (i % 4) + i / 4 (and back) */
    const __m512i lid = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512 z = _mm512_setzero_ps();
    int r;
    for (r = 0; r < (rows[1] != rows[0] ? 2 : 1); r++) {
        /* v[i] += v[i + off] for off 1, 2, 4, 8, 16 (lanes past 31 - off are never read by v[0]'s
           additions, whatever they hold) */
        __m512 lo = _mm512_permutexvar_ps(lid, r ? c10 : c00), hi = _mm512_permutexvar_ps(lid, r ? c11 : c01);
#define BNBQ__ZG_TREE(k) \
        lo = _mm512_add_ps(lo, _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), k))); \
        hi = _mm512_add_ps(hi, _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(z), _mm512_castps_si512(hi), k)));
        BNBQ__ZG_TREE(1) BNBQ__ZG_TREE(2) BNBQ__ZG_TREE(4) BNBQ__ZG_TREE(8)
#undef BNBQ__ZG_TREE
        lo = _mm512_add_ps(lo, hi);
        {
            float o = bnbq__round_to(dt, _mm_cvtss_f32(_mm512_castps512_ps128(lo)));
            if (bias) o = o + bnbq__load(dt, bias, rows[r]);   /* torch: out += bias */
            bnbq__store(dt, out, rows[r], o);
        }
    }
}

#define BNBQ__ZG_ARGS bnbq_dtype dt, const float* qmap, const float* At, const uint8_t* packed, \
    const float* absmax, size_t K, size_t bs, const void* bias, void* out, size_t n0, size_t n1
static BNBQ__T512 void bnbq__z_gemv_f32(BNBQ__ZG_ARGS) { BNBQ__ZG_BODY(BNBQ__ZG_F32, BNBQ__ZG_NOFAST) }
static BNBQ__T512 void bnbq__z_gemv_f16(BNBQ__ZG_ARGS) { BNBQ__ZG_BODY(BNBQ__ZG_F16, BNBQ__ZG_F16W) }
static BNBQ__T512 void bnbq__z_gemv_bf16(BNBQ__ZG_ARGS) { BNBQ__ZG_BODY(BNBQ__ZG_BF16, BNBQ__ZG_NOFAST) }

/* BF16 with AVX512_BF16: vcvtne2ps2bf16 rounds two registers to bf16 as bnbq_f32_to_bf16 does
   (RNE; a NaN keeps its top bits and is made quiet) except that it reads f32 subnormals as 0, and
   vdpbf16ps multiplies the packed weights by packed activations exactly (the other bf16 of each
   pair is 0 on the activation side), flushing subnormal inputs and results to 0. A full round
   takes them when no weight qmap[v] * s, no activation and no product of the round can be
   subnormal, inf or NaN: every s is 0 or 2^-125 / (qmin * min(1, amin_j)) <= |s| <= 3e38 /
   (qmax * max(1, amax_j)) (thr[2 j], thr[2 j + 1]), qmin / qmax the least nonzero / largest
   |qmap| (all finite), amin_j / amax_j the least nonzero / largest |a| of round j (all finite,
   else thr[2 j] = -1: no fast round); then every nonzero weight is >= 2^-125 and every nonzero
   product >= 2^-125 * (1 - 2^-8), and both are below 3e38. The packed weights of halves A, B of a row
   (vcvtne2ps2bf16: A0..A15 in the low, B0..B15 in the high 16 words) give the products of their
   odd elements [A1 A3 .. A15 B1 .. B15] and their even ones [A0 A2 .. B14] with the activations
   stored once per call in that order as bf16 pairs (At3: a << 16, then a, 32 words per element);
   the products, rounded by vcvtne2ps2bf16, come back to f32 by unpacks with 0 as
   [A0 A2 A4 A6 B0 B2 B4 B6 A1 A3 A5 A7 B1 B3 B5 B7] and [A8 .. B15 likewise]: the round's sums are
   permuted into that order at its start and back at its end. Other rounds: bnbq__z_gemv_bf16's. */
#define BNBQ__TBF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,avx,f16c")))
static BNBQ__T512 __attribute__((always_inline)) inline int bnbq__zb_ok(__m512 s0, __m512 s1, __m512 s2,
                                                                       __m512 s3, float thr, float hi) {
    const __m512 t = _mm512_set1_ps(thr), z = _mm512_setzero_ps(), big = _mm512_set1_ps(hi);
    __m512 a0 = _mm512_abs_ps(s0), a1 = _mm512_abs_ps(s1), a2 = _mm512_abs_ps(s2), a3 = _mm512_abs_ps(s3);
    /* bad: 0 < |s| < thr, or |s| not <= hi (also inf, NaN) */
    __mmask16 bad = (__mmask16)((_mm512_cmp_ps_mask(a0, t, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a0, z, _CMP_GT_OQ)) |
                                (_mm512_cmp_ps_mask(a1, t, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a1, z, _CMP_GT_OQ)) |
                                (_mm512_cmp_ps_mask(a2, t, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a2, z, _CMP_GT_OQ)) |
                                (_mm512_cmp_ps_mask(a3, t, _CMP_LT_OQ) & _mm512_cmp_ps_mask(a3, z, _CMP_GT_OQ)) |
                                _mm512_cmp_ps_mask(a0, big, _CMP_NLE_UQ) | _mm512_cmp_ps_mask(a1, big, _CMP_NLE_UQ) |
                                _mm512_cmp_ps_mask(a2, big, _CMP_NLE_UQ) | _mm512_cmp_ps_mask(a3, big, _CMP_NLE_UQ));
    return thr >= 0.0f && bad == 0;
}
/* the chains of halves A, B of a row (sums cl, ch in the products' order) take weights wA, wB
   against the packed activations aO (odd elements' lanes), aE (even) */
#define BNBQ__ZB_PAIR(cl, ch, aO, aE, wA, wB) { \
    __m512i bb = (__m512i)_mm512_cvtne2ps_pbh(wB, wA); \
    __m512 pO = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)aO, (__m512bh)bb); \
    __m512 pE = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)aE, (__m512bh)bb); \
    __m512i pp = (__m512i)_mm512_cvtne2ps_pbh(pO, pE); \
    cl = _mm512_add_ps(cl, _mm512_castsi512_ps(_mm512_unpacklo_epi16(_mm512_setzero_si512(), pp))); \
    ch = _mm512_add_ps(ch, _mm512_castsi512_ps(_mm512_unpackhi_epi16(_mm512_setzero_si512(), pp))); }
#define BNBQ__ZB_STEP(t, sh) { \
    __m512i aO = _mm512_loadu_si512((const void*)(a + 32 * (t))); \
    __m512i aE = _mm512_loadu_si512((const void*)(a + 32 * (t) + 16)); \
    BNBQ__ZG_WEIGHTS(sh) \
    BNBQ__ZB_PAIR(l0, h0, aO, aE, w00, w01) BNBQ__ZB_PAIR(l1, h1, aO, aE, w10, w11) }
#define BNBQ__ZG_BFNE_INIT fastok = 1;
#define BNBQ__ZG_BFNE_OK bnbq__zb_ok(s00, s01, s10, s11, thr[2 * j], thr[2 * j + 1])
#define BNBQ__ZG_BFNE_ROUND { \
    const __m512i sc0 = _mm512_setr_epi32(0, 2, 4, 6, 16, 18, 20, 22, 1, 3, 5, 7, 17, 19, 21, 23); \
    const __m512i sc1 = _mm512_setr_epi32(8, 10, 12, 14, 24, 26, 28, 30, 9, 11, 13, 15, 25, 27, 29, 31); \
    const __m512i us0 = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 16, 24, 17, 25, 18, 26, 19, 27); \
    const __m512i us1 = _mm512_setr_epi32(4, 12, 5, 13, 6, 14, 7, 15, 20, 28, 21, 29, 22, 30, 23, 31); \
    __m512 l0 = _mm512_permutex2var_ps(c00, sc0, c01), h0 = _mm512_permutex2var_ps(c00, sc1, c01); \
    __m512 l1 = _mm512_permutex2var_ps(c10, sc0, c11), h1 = _mm512_permutex2var_ps(c10, sc1, c11); \
    for (w = 0; w < 4; w++) { \
        const uint32_t* a = At3 + 1024 * j + 256 * w; \
        __m512i x00 = R[0][0][w], x01 = R[0][1][w], x10 = R[1][0][w], x11 = R[1][1][w]; \
        BNBQ__ZB_STEP(0, 4) BNBQ__ZB_STEP(1, 0) BNBQ__ZB_STEP(2, 12) BNBQ__ZB_STEP(3, 8) \
        BNBQ__ZB_STEP(4, 20) BNBQ__ZB_STEP(5, 16) BNBQ__ZB_STEP(6, 28) BNBQ__ZB_STEP(7, 24) \
    } \
    c00 = _mm512_permutex2var_ps(l0, us0, h0); c01 = _mm512_permutex2var_ps(l0, us1, h0); \
    c10 = _mm512_permutex2var_ps(l1, us0, h1); c11 = _mm512_permutex2var_ps(l1, us1, h1); }
static BNBQ__TBF16 void bnbq__zb_gemv_body(BNBQ__ZG_ARGS, const uint32_t* At3, const float* thr) {
    BNBQ__ZG_BODY(BNBQ__ZG_BF16, BNBQ__ZG_BFNE)
}
static void bnbq__zb_gemv_bf16(BNBQ__ZG_ARGS) {
    size_t rounds = (K / 32 + 31) / 32, j, e, m;
    uint32_t* At3 = (uint32_t*)malloc(rounds * 1024 * sizeof(uint32_t) + 2 * rounds * sizeof(float));
    float* thr;
    double qmin = 0.0, qmax = 0.0;
    int v, qok = 1;
    if (!At3) { bnbq__z_gemv_bf16(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1); return; }
    thr = (float*)(At3 + rounds * 1024);
    for (v = 0; v < 16; v++) {
        double q = fabs((double)qmap[v]);
        if (!(q <= 3.5e38)) qok = 0;
        else if (q > 0.0) { if (qmin == 0.0 || q < qmin) qmin = q; if (q > qmax) qmax = q; }
    }
    if (qmin == 0.0) qmin = qmax = 1.0;
    for (j = 0; j < rounds; j++) {
        double amin = 1.0, amax = 1.0, t;
        int aok = qok;
        for (e = 0; e < 32; e++)
            for (m = 0; m < 32; m++) {
                /* At3's order: the odd lanes A1 .. A15 B1 .. B15 as a << 16, then the even ones */
                size_t i = m % 16, src = (i < 8 ? 2 * i : 16 + 2 * (i - 8)) + (m < 16 ? 1 : 0);
                float x = At[1024 * j + 32 * e + src];
                double ax = fabs((double)x);
                uint32_t u;
                memcpy(&u, &x, 4);
                At3[1024 * j + 32 * e + m] = m < 16 ? (u & 0xffff0000u) : (u >> 16);
                if (!(ax <= 3.5e38)) aok = 0;
                else if (ax > 0.0) { if (ax < amin) amin = ax; if (ax > amax) amax = ax; }
            }
        t = ldexp(1.0, -125) / (qmin * amin);
        thr[2 * j] = !aok ? -1.0f : t > 3.0e38 ? (float)HUGE_VAL : (float)t;
        thr[2 * j + 1] = (float)(3.0e38 / (qmax * amax));   /* weights and products finite */
    }
    bnbq__zb_gemv_body(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1, At3, thr);
    free(At3);
}
static BNBQ__T512 void bnbq__z_gemv(BNBQ__ZG_ARGS) {
    if (dt == BNBQ_F32) bnbq__z_gemv_f32(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
    else if (dt == BNBQ_F16) bnbq__z_gemv_f16(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
    else if (__atomic_load_n(&bnbq__simd_bf16, __ATOMIC_RELAXED))
        bnbq__zb_gemv_bf16(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
    else bnbq__z_gemv_bf16(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
}
#undef BNBQ__ZB_PAIR
#undef BNBQ__ZB_STEP
#undef BNBQ__ZG_BFNE_INIT
#undef BNBQ__ZG_BFNE_OK
#undef BNBQ__ZG_BFNE_ROUND
#undef BNBQ__ZG_ARGS
#undef BNBQ__ZG_BODY
#undef BNBQ__ZG_STEP
#undef BNBQ__ZG_WEIGHTS
#undef BNBQ__ZG_F32
#undef BNBQ__ZG_F16
#undef BNBQ__ZG_BF16
#undef BNBQ__ZG_F32_ALL
#undef BNBQ__ZG_F16_ALL
#undef BNBQ__ZG_BF16_ALL
#undef BNBQ__ZG_F16_FAST
#undef BNBQ__ZG_NOFAST_INIT
#undef BNBQ__ZG_NOFAST_OK
#undef BNBQ__ZG_NOFAST_ROUND
#undef BNBQ__ZG_F16W_INIT
#undef BNBQ__ZG_F16W_OK
#undef BNBQ__ZG_F16W_ROUND
#undef BNBQ__ZG_WORD

static BNBQ__T256 void bnbq__y_dequantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1);

/* AVX-512 without VBMI: the AVX2 code (a gather; tested at the AVX2 level) */
static BNBQ__T512 void bnbq__z_dequantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    if (!__atomic_load_n(&bnbq__simd_vbmi, __ATOMIC_RELAXED)) bnbq__y_dequantize_blockwise(t, b0, b1);
    else if (t->dt != BNBQ_F32 && t->bs >= 256) bnbq__zv_dequantize_blockwise16(t, b0, b1);
    else bnbq__zv_dequantize_blockwise(t, b0, b1);
}

/* 128-entry table lookup (idx 0..127) from 8 registers */
static BNBQ__T512 __m512 bnbq__z_lut128(const __m512* tb, __m512i idx) {
    __m512 a = _mm512_permutex2var_ps(tb[0], idx, tb[1]);
    __m512 b = _mm512_permutex2var_ps(tb[2], idx, tb[3]);
    __m512 c = _mm512_permutex2var_ps(tb[4], idx, tb[5]);
    __m512 d = _mm512_permutex2var_ps(tb[6], idx, tb[7]);
    __mmask16 m5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
    __mmask16 m6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
    return _mm512_mask_blend_ps(m6, _mm512_mask_blend_ps(m5, a, b), _mm512_mask_blend_ps(m5, c, d));
}

typedef struct bnbq__zsearch {
    __m512 p64, s32, s16, s8, s4, s2a, s2b, s1[4], mhi[8], mlo[8];
} bnbq__zsearch;

static BNBQ__T512 void bnbq__z_search_init(const bnbq__qsearch* q, bnbq__zsearch* z) {
    int i;
    z->p64 = _mm512_set1_ps(q->pivot64);
    z->s32 = _mm512_loadu_ps(q->s32); z->s16 = _mm512_loadu_ps(q->s16);
    z->s8 = _mm512_loadu_ps(q->s8); z->s4 = _mm512_loadu_ps(q->s4);
    z->s2a = _mm512_loadu_ps(q->s2); z->s2b = _mm512_loadu_ps(q->s2 + 16);
    for (i = 0; i < 4; i++) z->s1[i] = _mm512_loadu_ps(q->s1 + 16 * i);
    for (i = 0; i < 8; i++) {
        z->mhi[i] = _mm512_loadu_ps(q->mhi + 16 * i);
        z->mlo[i] = _mm512_loadu_ps(q->mlo + 16 * i);
    }
}

/* bnbq__code_index of 16 values */
static BNBQ__T512 __m512i bnbq__z_code_index(const bnbq__zsearch* z, __m512 x) {
    __m512i c = _mm512_setzero_si512(), r;
    __mmask16 m, up, dn;
    m = _mm512_cmp_ps_mask(x, z->p64, _CMP_GT_OQ);
    c = _mm512_mask_add_epi32(c, m, c, _mm512_set1_epi32(64));
#define BNBQ__ZSTEP(tab, shift, s) \
    m = _mm512_cmp_ps_mask(x, _mm512_permutexvar_ps(_mm512_srli_epi32(c, shift), tab), _CMP_GT_OQ); \
    c = _mm512_mask_add_epi32(c, m, c, _mm512_set1_epi32(s));
    BNBQ__ZSTEP(z->s32, 6, 32) BNBQ__ZSTEP(z->s16, 5, 16) BNBQ__ZSTEP(z->s8, 4, 8)
    BNBQ__ZSTEP(z->s4, 3, 4)
#undef BNBQ__ZSTEP
    m = _mm512_cmp_ps_mask(x, _mm512_permutex2var_ps(z->s2a, _mm512_srli_epi32(c, 2), z->s2b),
                           _CMP_GT_OQ);
    c = _mm512_mask_add_epi32(c, m, c, _mm512_set1_epi32(2));
    {
        __m512i j = _mm512_srli_epi32(c, 1);
        __m512 a = _mm512_permutex2var_ps(z->s1[0], j, z->s1[1]);
        __m512 b = _mm512_permutex2var_ps(z->s1[2], j, z->s1[3]);
        __mmask16 m5 = _mm512_test_epi32_mask(j, _mm512_set1_epi32(32));
        m = _mm512_cmp_ps_mask(x, _mm512_mask_blend_ps(m5, a, b), _CMP_GT_OQ);
        c = _mm512_mask_add_epi32(c, m, c, _mm512_set1_epi32(1));
    }
    /* the reference's (x > val && x > mhi) is x > mhi and its (x <= val && x < mlo) is x < mlo:
       mlo <= val <= mhi (a midpoint (a + b) * 0.5f of a <= b lies in [a, b]; a NaN midpoint
       compares false on both sides) */
    up = _mm512_cmp_ps_mask(x, bnbq__z_lut128(z->mhi, c), _CMP_GT_OQ);
    dn = _mm512_cmp_ps_mask(x, bnbq__z_lut128(z->mlo, c), _CMP_LT_OQ);
    r = _mm512_slli_epi32(c, 1);
    r = _mm512_mask_add_epi32(r, up, r, _mm512_set1_epi32(1));
    r = _mm512_mask_sub_epi32(r, dn, r, _mm512_set1_epi32(1));
    return r;
}

/* The 8-bit code search as a step function (AVX-512 and AVX2 paths, ranges of >= 16384 values).
   For an ascending code whose midpoints lie between their neighbours (checked),
   bnbq__code_index(x) is nondecreasing in x and, for non-NaN x,
   r(x) = #{k in 1..255 : key(x) >= T[k]} with key the order-preserving int32 of a float (-0
   taken as +0) and, in the notation of bnbq__qsearch (c = count of odd entries o[] below x):
   T[2c+1] = key(mhi[c]) + 1 (x > mhi[c]); T[2c] = max(key(mlo[c]), key(o[c-1]) + 1) (x >= mlo[c]
   within c). The values are bucketed by sign and |x|'s exponent and top m mantissa bits (|x| at
   or below alo and from 2.0 on clamped into the end buckets, which then hold no threshold: every
   |threshold| lies in (alo, 2.0)); the bucket index is nondecreasing in the key, so thresholds in
   lower buckets are passed and those in higher ones are not, and inside a bucket the offset of |x|
   (mirrored for negative x) orders the keys. With at most one threshold per bucket (the smallest m
   of 4..7 that gives it), r = base[bucket] + (offset >= the threshold's offset): one gathered
   int32 per value, no search. NaN gives 0. bnbq__qstep_init returns 0 where a code does not fit
   (then the search runs); tests/test_simd.c (quantize_blockwise_bounds) compares the result with
   the reference on every threshold's neighbourhood and a sweep of [-1, 1] (all of it on demand). */
#define BNBQ__QSTEP_NB 4096
typedef struct bnbq__qstep {
    int32_t e[BNBQ__QSTEP_NB];   /* base << 24 | the in-bucket threshold's offset (0xffffff: none) */
    int32_t alo, arange, shift, nbh;
} bnbq__qstep;

static int32_t bnbq__qstep_key(float f) {
    uint32_t u;
    f = f + 0.0f;   /* -0 -> +0 */
    memcpy(&u, &f, 4);
    return (int32_t)(u ^ ((uint32_t)(-(int32_t)(u >> 31)) >> 1));
}
/* bucket (and in *off the offset that orders keys within it) of key k, as bnbq__z_code_step */
static int32_t bnbq__qstep_bucket(const bnbq__qstep* s, int32_t k, int32_t* off) {
    int32_t a = k >= 0 ? k : ~k, v, mask = (1 << s->shift) - 1;
    v = (a < s->alo ? s->alo : a) - s->alo;
    v = v > s->arange ? s->arange : v;
    *off = k >= 0 ? (v & mask) : mask - (v & mask);
    return k >= 0 ? s->nbh + (v >> s->shift) : s->nbh - 1 - (v >> s->shift);
}

/* T[1..255] of the comment above and the least / largest magnitude of their keys (*amin, *amax;
   a key k < 0 has magnitude ~k); 0 where the code's midpoints do not lie between their neighbours
   or T is not ascending */
static int bnbq__qstep_thresholds(const float* code, int32_t* T, int32_t* amin, int32_t* amax) {
    int c, k;
    for (c = 0; c < 128; c++) {
        float val = code[2 * c], mhi = (code[2 * c + 1] + val) * 0.5f;
        if (!(mhi >= val && mhi <= code[2 * c + 1])) return 0;   /* also NaN */
        T[2 * c + 1] = bnbq__qstep_key(mhi) + 1;
        if (c > 0) {
            float mlo = (code[2 * c - 1] + val) * 0.5f;
            int32_t a = bnbq__qstep_key(mlo), b = bnbq__qstep_key(code[2 * c - 1]) + 1;
            if (!(mlo >= code[2 * c - 1] && mlo <= val)) return 0;
            T[2 * c] = a > b ? a : b;
        }
    }
    for (k = 2; k < 256; k++) if (T[k] < T[k - 1]) return 0;
    *amin = 0x7fffffff; *amax = 0;
    for (k = 1; k < 256; k++) {
        int32_t a = T[k] >= 0 ? T[k] : ~T[k];
        if (a < *amin) *amin = a;
        if (a > *amax) *amax = a;
    }
    return 1;
}

static int bnbq__qstep_init(const float* code, bnbq__qstep* s) {
    int32_t T[256], amin, amax;
    int k, m;
    if (!bnbq__qstep_thresholds(code, T, &amin, &amax)) return 0;
    /* |thresholds| in (alo, 2.0): below alo and from 2.0 on, offsets are clamped */
    if (amin <= (0x7f - 60) << 23 || amax >= 0x40000000) return 0;
    s->alo = (amin - 1) & ~0x7fffff;
    s->arange = 0x40000000 - s->alo;
    for (m = 4; m <= 7; m++) {
        int32_t nbh, prev = -1, b, off;
        s->shift = 23 - m;
        nbh = (s->arange >> s->shift) + 1;
        if (2 * nbh > BNBQ__QSTEP_NB) return 0;
        s->nbh = nbh;
        for (k = 1; k < 256; k++) {
            b = bnbq__qstep_bucket(s, T[k], &off);
            if (b == prev) break;
            prev = b;
        }
        if (k < 256) continue;
        k = 1;
        for (b = 0; b < 2 * nbh; b++) {
            int32_t kb = k < 256 ? bnbq__qstep_bucket(s, T[k], &off) : -1;
            s->e[b] = (int32_t)((uint32_t)(k - 1) << 24) | 0xffffff;
            if (kb == b) { s->e[b] = (int32_t)((uint32_t)(k - 1) << 24) | off; k++; }
        }
        return 1;
    }
    return 0;
}

/* bnbq__code_index of 16 values with the table of bnbq__qstep_init (two 8-lane gathers: faster
   than one 16-lane gather on Zen 4) */
static BNBQ__T512 __m512i bnbq__z_code_step(const bnbq__qstep* s, __m512 x) {
    /* -0 needs no canonicalisation here: every threshold magnitude is above alo, so -0 (bucket
       nbh - 1 at offset mask) and +0 (bucket nbh at offset 0) give the same count */
    __m512i bits = _mm512_castps_si512(x);
    __m512i sg = _mm512_srai_epi32(bits, 31), mask = _mm512_set1_epi32((1 << s->shift) - 1);
    __m512i v = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
    __m512i idx, off, e, r;
    v = _mm512_sub_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(s->alo)), _mm512_set1_epi32(s->alo));
    v = _mm512_xor_si512(_mm512_min_epi32(v, _mm512_set1_epi32(s->arange)), sg);
    /* negative: ~v >> shift (arithmetic) = ~(v >> shift), the bucket nbh - 1 - u; ~v & mask = mask - off */
    idx = _mm512_add_epi32(_mm512_sra_epi32(v, _mm_cvtsi32_si128(s->shift)), _mm512_set1_epi32(s->nbh));
    off = _mm512_and_si512(v, mask);
    e = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_i32gather_epi32((const int*)s->e, _mm512_castsi512_si256(idx), 4)),
        _mm256_i32gather_epi32((const int*)s->e, _mm512_extracti64x4_epi64(idx, 1), 4), 1);
    r = _mm512_srli_epi32(e, 24);
    r = _mm512_mask_add_epi32(r, _mm512_cmpge_epi32_mask(off, _mm512_and_si512(e, _mm512_set1_epi32(0xffffff))),
                              r, _mm512_set1_epi32(1));
    return _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), r);
}

/* large ranges with a code that fits: the step function (2 gathers per 16 values) */
static BNBQ__T512 int bnbq__z_quantize_blockwise_step(const bnbq__task_blockwise* t, size_t b0,
                                                      size_t b1) {
    bnbq__qstep st;
    size_t b, k;
#ifdef BNBQ__NO_QSTEP
    return 0;
#endif
    if ((b1 - b0) * t->bs < 16384 || !bnbq__qstep_init(t->code, &st)) return 0;
    if (t->bs == 64) {   /* one load of each value */
        for (b = b0; b < b1; b++) {
            __m512 x0 = bnbq__z_load(t->dt, t->x, 64 * b), x1 = bnbq__z_load(t->dt, t->x, 64 * b + 16);
            __m512 x2 = bnbq__z_load(t->dt, t->x, 64 * b + 32), x3 = bnbq__z_load(t->dt, t->x, 64 * b + 48);
            __m512 vinv = bnbq__z_inv64(x0, x1, x2, x3, t->absmax + b);
            __m512i c0 = bnbq__z_code_step(&st, _mm512_mul_ps(x0, vinv));
            __m512i c1 = bnbq__z_code_step(&st, _mm512_mul_ps(x1, vinv));
            __m512i c2 = bnbq__z_code_step(&st, _mm512_mul_ps(x2, vinv));
            __m512i c3 = bnbq__z_code_step(&st, _mm512_mul_ps(x3, vinv));
            /* packs leave in lane L the dwords c0..c3 [4L..4L+3]: dword 4L + i goes to 4i + L */
            __m512i qb = _mm512_packus_epi16(_mm512_packus_epi32(c0, c1), _mm512_packus_epi32(c2, c3));
            _mm512_storeu_si512((void*)(t->q + 64 * b), _mm512_permutexvar_epi32(
                _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0), qb));
        }
        return 1;
    }
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m, inv;
        __m512 vinv;
        m = bnbq__z_absmax(t->dt, t->x, start, start + t->bs);
        inv = 1.0f / m;
        t->absmax[b] = m;
        vinv = _mm512_set1_ps(inv);
        for (k = start; k < start + t->bs; k += 32) {   /* bs >= 64 */
            __m512 x0 = _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k), vinv);
            __m512 x1 = _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k + 16), vinv);
            __m512i c0 = bnbq__z_code_step(&st, x0), c1 = bnbq__z_code_step(&st, x1);
            _mm_storeu_si128((__m128i*)(t->q + k), _mm512_cvtepi32_epi8(c0));
            _mm_storeu_si128((__m128i*)(t->q + k + 16), _mm512_cvtepi32_epi8(c1));
        }
    }
    return 1;
}

/* The same step function without gathers (AVX-512 with VBMI and BITALG, 64 values at a time).
   The key of a value (bnbq__qstep_key, NaN first replaced by -C) maps to the 32-bit V below,
   nondecreasing in the key and strictly increasing where alo < |key| < ahi (which holds every
   threshold): |key| is clamped to [alo, ahi] (ahi: the end of the largest threshold's binade, C the
   float with those bits), v = |key| - alo, V = (key >= 0 ? v : ~v) + nbh * 2^16. So key >= T[k]
   exactly when V >= V(T[k]). Buckets are V >> 16 (0 .. 2 nbh - 1; bucket 0 holds only -C, where
   NaN goes, below every threshold), and each holds at most one threshold (checked; else the
   gathers run). Then r = c + (has && (V & 0xffff) >= (V(T[c + 1]) & 0xffff)), with c the number
   of thresholds in lower buckets and has = bucket holds one (the (c + 1)-th, the thresholds being
   ascending). c comes from two byte tables over groups of 8 buckets, looked up with vpermi2b:
   the count below the group and the group's bitmap (c = pre + popcount(bitmap & below(b & 7)));
   the two bytes of the threshold's low 16 bits from two 256-entry tables by c + 1. */
typedef struct bnbq__qlut {
    uint8_t bmp[1024], pre[1024], tlo[256], thi[256];
    int32_t alo, ahi, nbs, np;
} bnbq__qlut;

static int32_t bnbq__qlut_v(const bnbq__qlut* s, int32_t k) {
    int32_t a = k >= 0 ? k : ~k, v;
    a = a < s->alo ? s->alo : a > s->ahi ? s->ahi : a;
    v = a - s->alo;
    return (k >= 0 ? v : ~v) + s->nbs;
}

static int bnbq__qlut_init(const float* code, bnbq__qlut* s) {
    int32_t T[256], amin, amax, nbh, prev = -1, cnt = 0;
    int k, g, i;
    if (!bnbq__qstep_thresholds(code, T, &amin, &amax)) return 0;
    if (amin <= (0x7f - 60) << 23 || amax >= 0x7f000000) return 0;
    s->alo = (amin - 1) & ~0x7fffff;
    s->ahi = ((amax >> 23) + 1) << 23;   /* <= 0x7f000000: C is finite */
    nbh = ((s->ahi - s->alo) >> 16) + 1;
    if (2 * nbh > 8192) return 0;
    s->nbs = nbh << 16;
    s->np = (2 * nbh + 1023) / 1024;   /* 128-byte tables (pairs of registers) per lookup */
    s->np = s->np <= 2 ? 2 : s->np <= 4 ? 4 : s->np <= 6 ? 6 : 8;
    memset(s->bmp, 0, sizeof s->bmp);
    memset(s->tlo, 0, sizeof s->tlo);
    memset(s->thi, 0, sizeof s->thi);
    for (k = 1; k < 256; k++) {
        int32_t v = bnbq__qlut_v(s, T[k]), b = v >> 16;
        if (b == prev) return 0;
        prev = b;
        s->bmp[b >> 3] = (uint8_t)(s->bmp[b >> 3] | (1 << (b & 7)));
        s->tlo[k] = (uint8_t)(v & 0xff);
        s->thi[k] = (uint8_t)((v >> 8) & 0xff);
    }
    for (g = 0; g < 1024; g++) {
        s->pre[g] = (uint8_t)cnt;
        for (i = 0; i < 8; i++) cnt += (s->bmp[g] >> i) & 1;
    }
    return 1;
}

#define BNBQ__TVB __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bitalg,avx2,avx,f16c")))
/* inlined into the range functions, so that np is a constant there */
#define BNBQ__TVBI __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bitalg,avx2,avx,f16c"))) inline
typedef struct bnbq__zqlut {
    __m512i bmp[16], pre[16], tlo[4], thi[4];
    __m512i whi, wlo, blo, bhi, i0, i1, below, bit;
} bnbq__zqlut;

static BNBQ__TVB void bnbq__zqlut_load(const bnbq__qlut* s, int bf16, bnbq__zqlut* z) {
    uint16_t w[64];
    uint8_t b[4][64];
    int i;
    for (i = 0; i < 16; i++) {
        z->bmp[i] = _mm512_loadu_si512((const void*)(s->bmp + 64 * i));
        z->pre[i] = _mm512_loadu_si512((const void*)(s->pre + 64 * i));
    }
    for (i = 0; i < 4; i++) {
        z->tlo[i] = _mm512_loadu_si512((const void*)(s->tlo + 64 * i));
        z->thi[i] = _mm512_loadu_si512((const void*)(s->thi + 64 * i));
    }
    /* word i of the b / offset words: value i of the 32 in a pair of registers, the high / low
       half of its dword (bf16: the registers hold the even values, then the odd ones) */
    for (i = 0; i < 32; i++) {
        int d = bf16 ? (i & 1) * 16 + i / 2 : i;
        w[i] = (uint16_t)(2 * d + 1); w[32 + i] = (uint16_t)(2 * d);
    }
    z->whi = _mm512_loadu_si512((const void*)w);
    z->wlo = _mm512_loadu_si512((const void*)(w + 32));
    for (i = 0; i < 64; i++) {
        b[0][i] = (uint8_t)(2 * i); b[1][i] = (uint8_t)(2 * i + 1);
        b[2][i] = (uint8_t)((i & 1 ? 64 : 0) + (i >> 1)); b[3][i] = (uint8_t)((i & 1 ? 96 : 32) + (i >> 1));
    }
    z->blo = _mm512_loadu_si512((const void*)b[0]); z->bhi = _mm512_loadu_si512((const void*)b[1]);
    z->i0 = _mm512_loadu_si512((const void*)b[2]); z->i1 = _mm512_loadu_si512((const void*)b[3]);
    for (i = 0; i < 64; i++) { b[0][i] = (uint8_t)((1 << (i & 7)) - 1); b[1][i] = (uint8_t)(1 << (i & 7)); }
    z->below = _mm512_loadu_si512((const void*)b[0]); z->bit = _mm512_loadu_si512((const void*)b[1]);
}

/* V of 16 scaled values */
static BNBQ__TVBI __m512i bnbq__zq_v(__m512 x, __m512 negc, __m512i ahi, __m512i alo, __m512i nbs) {
    __m512i bits = _mm512_castps_si512(_mm512_max_ps(x, negc));   /* NaN -> -C */
    __m512i a = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
    __m512i v = _mm512_sub_epi32(_mm512_max_epi32(_mm512_min_epi32(a, ahi), alo), alo);
    return _mm512_add_epi32(_mm512_xor_si512(v, _mm512_srai_epi32(bits, 31)), nbs);
}

/* 128 * np-entry byte table lookup (np = 2, 4, 6, 8); m7 / m8 / m9: bits 7 / 8 / 9 of the index */
static BNBQ__TVBI __m512i bnbq__zq_lut(const __m512i* t, __m512i i, __mmask64 m7, __mmask64 m8,
                                      __mmask64 m9, int np) {
    __m512i r = _mm512_mask_blend_epi8(m7, _mm512_permutex2var_epi8(t[0], i, t[1]),
                                       _mm512_permutex2var_epi8(t[2], i, t[3])), r2, r3;
    if (np == 2) return r;
    r2 = _mm512_mask_blend_epi8(m7, _mm512_permutex2var_epi8(t[4], i, t[5]),
                                _mm512_permutex2var_epi8(t[6], i, t[7]));
    r = _mm512_mask_blend_epi8(m8, r, r2);
    if (np == 4) return r;
    r2 = _mm512_mask_blend_epi8(m7, _mm512_permutex2var_epi8(t[8], i, t[9]),
                                _mm512_permutex2var_epi8(t[10], i, t[11]));
    if (np == 6) return _mm512_mask_blend_epi8(m9, r, r2);
    r3 = _mm512_mask_blend_epi8(m7, _mm512_permutex2var_epi8(t[12], i, t[13]),
                                _mm512_permutex2var_epi8(t[14], i, t[15]));
    return _mm512_mask_blend_epi8(m9, r, _mm512_mask_blend_epi8(m8, r2, r3));
}

/* the codes of 64 values from their V (16 per register, in order) */
static BNBQ__TVBI __m512i bnbq__zq_codes(const bnbq__zqlut* z, __m512i v0, __m512i v1, __m512i v2,
                                        __m512i v3, int np) {
    __m512i bw0 = _mm512_permutex2var_epi16(v0, z->whi, v1), bw1 = _mm512_permutex2var_epi16(v2, z->whi, v3);
    __m512i ow0 = _mm512_permutex2var_epi16(v0, z->wlo, v1), ow1 = _mm512_permutex2var_epi16(v2, z->wlo, v3);
    __m512i g0 = _mm512_srli_epi16(bw0, 3), g1 = _mm512_srli_epi16(bw1, 3);
    __m512i gl = _mm512_permutex2var_epi8(g0, z->blo, g1), gh = _mm512_permutex2var_epi8(g0, z->bhi, g1);
    __m512i jb = _mm512_permutex2var_epi8(bw0, z->blo, bw1);
    __mmask64 m7 = _mm512_movepi8_mask(gl);
    __mmask64 m8 = _mm512_test_epi8_mask(gh, _mm512_set1_epi8(1));
    __mmask64 m9 = _mm512_test_epi8_mask(gh, _mm512_set1_epi8(2));
    __m512i bmp = bnbq__zq_lut(z->bmp, gl, m7, m8, m9, np), pre = bnbq__zq_lut(z->pre, gl, m7, m8, m9, np);
    __m512i c = _mm512_add_epi8(pre, _mm512_popcnt_epi8(_mm512_and_si512(bmp, _mm512_permutexvar_epi8(jb, z->below))));
    __mmask64 has = _mm512_test_epi8_mask(bmp, _mm512_permutexvar_epi8(jb, z->bit));
    __m512i k = _mm512_add_epi8(c, _mm512_set1_epi8(1));
    __mmask64 k7 = _mm512_movepi8_mask(k), ge;
    __m512i tl = _mm512_mask_blend_epi8(k7, _mm512_permutex2var_epi8(z->tlo[0], k, z->tlo[1]),
                                        _mm512_permutex2var_epi8(z->tlo[2], k, z->tlo[3]));
    __m512i th = _mm512_mask_blend_epi8(k7, _mm512_permutex2var_epi8(z->thi[0], k, z->thi[1]),
                                        _mm512_permutex2var_epi8(z->thi[2], k, z->thi[3]));
    __m512i tw0 = _mm512_permutex2var_epi8(tl, z->i0, th), tw1 = _mm512_permutex2var_epi8(tl, z->i1, th);
    ge = _mm512_kunpackd(_mm512_cmpge_epu16_mask(ow1, tw1), _mm512_cmpge_epu16_mask(ow0, tw0));
    return _mm512_mask_add_epi8(c, ge & has, c, _mm512_set1_epi8(1));
}

/* absmax of a block of 16-bit floats (a multiple of 64 values) on their bits: |x| bits, NaN
   excluded, order as the floats' (the reference's chain from 0 never takes NaN); with a NaN in
   the block, the float path */
static BNBQ__TVB float bnbq__zq_absmax16(bnbq_dtype dt, const void* x, size_t start, size_t end) {
    const uint16_t* p = (const uint16_t*)x;
    const __m512i am = _mm512_set1_epi16(0x7fff);
    __m512i m = _mm512_setzero_si512(), m2 = _mm512_setzero_si512();
    __m256i h;
    __m128i r;
    size_t i;
    unsigned top;
    for (i = start; i < end; i += 64) {
        m = _mm512_max_epu16(m, _mm512_and_si512(_mm512_loadu_si512((const void*)(p + i)), am));
        m2 = _mm512_max_epu16(m2, _mm512_and_si512(_mm512_loadu_si512((const void*)(p + i + 32)), am));
    }
    m = _mm512_max_epu16(m, m2);
    h = _mm256_max_epu16(_mm512_castsi512_si256(m), _mm512_extracti64x4_epi64(m, 1));
    r = _mm_max_epu16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    r = _mm_max_epu16(r, _mm_srli_si128(r, 8));
    r = _mm_max_epu16(r, _mm_srli_si128(r, 4));
    r = _mm_max_epu16(r, _mm_srli_si128(r, 2));
    top = (unsigned)_mm_extract_epi16(r, 0);
    if (top > (dt == BNBQ_F16 ? 0x7c00u : 0x7f80u)) return bnbq__z_absmax(dt, x, start, end);
    if (dt == BNBQ_F16) return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)top)));
    return bnbq__bits_f32((uint32_t)top << 16);
}

/* absmax of the four blocks of 64 values at start, each in every lane of its 128-bit lane of *am
   (as bnbq__z_inv64: NaN never wins, the chain starts at 0; 16-bit floats: on their bits as
   bnbq__zq_absmax16). Returns 0 where a 16-bit block holds a NaN (then the caller's float path). */
static BNBQ__TVBI int bnbq__zq_absmax4(bnbq_dtype dt, const void* x, size_t start, __m512* am) {
    __m512i m[4], e, f;
    int j;
    if (dt == BNBQ_F32) {
        const float* p = (const float*)x + start;
        __m512 a[4], g, h;
        for (j = 0; j < 4; j++) {
            __m512 m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(p + 64 * j)), _mm512_setzero_ps());
            __m512 m2 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(p + 64 * j + 16)), _mm512_setzero_ps());
            m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(p + 64 * j + 32)), m1);
            m2 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(p + 64 * j + 48)), m2);
            a[j] = _mm512_max_ps(m1, m2);
        }
        g = _mm512_max_ps(_mm512_shuffle_f32x4(a[0], a[1], 0x44), _mm512_shuffle_f32x4(a[0], a[1], 0xee));
        h = _mm512_max_ps(_mm512_shuffle_f32x4(a[2], a[3], 0x44), _mm512_shuffle_f32x4(a[2], a[3], 0xee));
        g = _mm512_max_ps(_mm512_shuffle_f32x4(g, h, 0x88), _mm512_shuffle_f32x4(g, h, 0xdd));
        g = _mm512_max_ps(g, _mm512_permute_ps(g, 0x4e));
        *am = _mm512_max_ps(g, _mm512_permute_ps(g, 0xb1));
        return 1;
    }
    for (j = 0; j < 4; j++) {
        const uint16_t* p = (const uint16_t*)x + start + 64 * j;
        m[j] = _mm512_max_epu16(_mm512_and_si512(_mm512_loadu_si512((const void*)p), _mm512_set1_epi16(0x7fff)),
                                _mm512_and_si512(_mm512_loadu_si512((const void*)(p + 32)), _mm512_set1_epi16(0x7fff)));
    }
    e = _mm512_max_epu16(_mm512_shuffle_i64x2(m[0], m[1], 0x44), _mm512_shuffle_i64x2(m[0], m[1], 0xee));
    f = _mm512_max_epu16(_mm512_shuffle_i64x2(m[2], m[3], 0x44), _mm512_shuffle_i64x2(m[2], m[3], 0xee));
    e = _mm512_max_epu16(_mm512_shuffle_i64x2(e, f, 0x88), _mm512_shuffle_i64x2(e, f, 0xdd));
    e = _mm512_max_epu16(e, _mm512_shuffle_epi32(e, (_MM_PERM_ENUM)0x4e));
    e = _mm512_max_epu16(e, _mm512_shuffle_epi32(e, (_MM_PERM_ENUM)0xb1));
    e = _mm512_max_epu16(e, _mm512_or_si512(_mm512_slli_epi32(e, 16), _mm512_srli_epi32(e, 16)));
    if (_mm512_cmpgt_epu16_mask(e, _mm512_set1_epi16(dt == BNBQ_F16 ? 0x7c00 : 0x7f80))) return 0;
    if (dt == BNBQ_F16) *am = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(e));
    else *am = _mm512_castsi512_ps(_mm512_slli_epi32(e, 16));
    return 1;
}

/* the 64 values at i as four registers of floats (bf16: even values of 32, then odd) */
#define BNBQ__ZQ_LOAD4(i) \
    if (t->dt == BNBQ_BF16) { \
        __m512i w0 = _mm512_loadu_si512((const void*)((const uint16_t*)t->x + (i))); \
        __m512i w1 = _mm512_loadu_si512((const void*)((const uint16_t*)t->x + (i) + 32)); \
        x0 = _mm512_castsi512_ps(_mm512_slli_epi32(w0, 16)); \
        x1 = _mm512_castsi512_ps(_mm512_and_si512(w0, _mm512_set1_epi32((int32_t)0xffff0000u))); \
        x2 = _mm512_castsi512_ps(_mm512_slli_epi32(w1, 16)); \
        x3 = _mm512_castsi512_ps(_mm512_and_si512(w1, _mm512_set1_epi32((int32_t)0xffff0000u))); \
    } else { \
        x0 = bnbq__z_load(t->dt, t->x, (i)); x1 = bnbq__z_load(t->dt, t->x, (i) + 16); \
        x2 = bnbq__z_load(t->dt, t->x, (i) + 32); x3 = bnbq__z_load(t->dt, t->x, (i) + 48); \
    }

/* the codes of the 64 values x0 .. x3 times vinv, stored at q */
static BNBQ__TVBI void bnbq__zq_store64(const bnbq__zqlut* z, uint8_t* q, __m512 x0, __m512 x1, __m512 x2,
                                        __m512 x3, __m512 vinv, __m512 negc, __m512i ahi, __m512i alo,
                                        __m512i nbs, int np) {
    _mm512_storeu_si512((void*)q, bnbq__zq_codes(z, bnbq__zq_v(_mm512_mul_ps(x0, vinv), negc, ahi, alo, nbs),
                                                 bnbq__zq_v(_mm512_mul_ps(x1, vinv), negc, ahi, alo, nbs),
                                                 bnbq__zq_v(_mm512_mul_ps(x2, vinv), negc, ahi, alo, nbs),
                                                 bnbq__zq_v(_mm512_mul_ps(x3, vinv), negc, ahi, alo, nbs), np));
}

#define BNBQ__ZQ_RANGE(np) \
static BNBQ__TVB void bnbq__zq_range##np(const bnbq__task_blockwise* t, size_t b0, size_t b1, \
                                         const bnbq__qlut* s) { \
    bnbq__zqlut z; \
    const __m512 negc = _mm512_castsi512_ps(_mm512_set1_epi32(s->ahi | (int32_t)0x80000000u)); \
    const __m512i ahi = _mm512_set1_epi32(s->ahi), alo = _mm512_set1_epi32(s->alo); \
    const __m512i nbs = _mm512_set1_epi32(s->nbs); \
    size_t b, k, es = t->dt == BNBQ_F32 ? 4 : 2; \
    int pf; \
    __m512 x0, x1, x2, x3, vinv; \
    bnbq__zqlut_load(s, t->dt == BNBQ_BF16, &z); \
    for (b = b0; b < b1; b++) { \
        size_t start = b * t->bs; \
        if (t->bs == 64) {   /* four blocks at a time: one reduction and division for their absmax */ \
            size_t j, nb4 = b1 - b < 4 ? b1 - b : 4; \
            __m512 am4, inv4 = _mm512_setzero_ps(); \
            int four = nb4 == 4 && bnbq__zq_absmax4(t->dt, t->x, start, &am4); \
            if (four) { \
                inv4 = _mm512_div_ps(_mm512_set1_ps(1.0f), am4); \
                _mm_storeu_ps(t->absmax + b, _mm512_castps512_ps128(_mm512_permutexvar_ps( \
                    _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), am4))); \
            } \
            for (j = 0; j < nb4; j++) { \
                BNBQ__ZQ_LOAD4(start + 64 * j) \
                if (four) vinv = _mm512_permutexvar_ps(_mm512_set1_epi32(4 * (int)j), inv4); \
                else vinv = bnbq__z_inv64(x0, x1, x2, x3, t->absmax + b + j); \
                bnbq__zq_store64(&z, t->q + start + 64 * j, x0, x1, x2, x3, vinv, negc, ahi, alo, nbs, np); \
            } \
            b += nb4 - 1; \
            continue; \
        } \
        pf = t->bs >= 2048 && b + 1 < b1; \
        { \
            float m = t->dt == BNBQ_F32 ? bnbq__z_absmax(t->dt, t->x, start, start + t->bs) \
                                        : bnbq__zq_absmax16(t->dt, t->x, start, start + t->bs); \
            t->absmax[b] = m; \
            vinv = _mm512_set1_ps(1.0f / m); \
        } \
        for (k = start; k < start + t->bs; k += 64) { \
            if (pf) {   /* the next block, for its absmax pass (which would wait on memory) */ \
                const char* nx = (const char*)t->x + (k + t->bs) * es; \
                _mm_prefetch(nx, _MM_HINT_T0); _mm_prefetch(nx + 64, _MM_HINT_T0); \
                if (es == 4) { _mm_prefetch(nx + 128, _MM_HINT_T0); _mm_prefetch(nx + 192, _MM_HINT_T0); } \
            } \
            BNBQ__ZQ_LOAD4(k) \
            bnbq__zq_store64(&z, t->q + k, x0, x1, x2, x3, vinv, negc, ahi, alo, nbs, np); \
        } \
    } \
}
BNBQ__ZQ_RANGE(2) BNBQ__ZQ_RANGE(4) BNBQ__ZQ_RANGE(6) BNBQ__ZQ_RANGE(8)
#undef BNBQ__ZQ_RANGE
#undef BNBQ__ZQ_LOAD4

static int bnbq__zq_quantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    bnbq__qlut s;
#ifdef BNBQ__NO_QLUT
    return 0;
#endif
    if (!__atomic_load_n(&bnbq__simd_vbmi, __ATOMIC_RELAXED) ||
        !__atomic_load_n(&bnbq__simd_bitalg, __ATOMIC_RELAXED)) return 0;
    if ((b1 - b0) * t->bs < 16384 || !bnbq__qlut_init(t->code, &s)) return 0;
    if (s.np == 2) bnbq__zq_range2(t, b0, b1, &s);
    else if (s.np == 4) bnbq__zq_range4(t, b0, b1, &s);
    else if (s.np == 6) bnbq__zq_range6(t, b0, b1, &s);
    else bnbq__zq_range8(t, b0, b1, &s);
    return 1;
}

static BNBQ__T512 void bnbq__z_quantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    bnbq__qsearch q;
    bnbq__zsearch z;
    size_t b, k;
    if (bnbq__zq_quantize_blockwise(t, b0, b1)) return;
    if (bnbq__z_quantize_blockwise_step(t, b0, b1)) return;
    bnbq__qsearch_init(t->code, &q);
    bnbq__z_search_init(&q, &z);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m, inv;
        __m512 vinv;
        m = bnbq__z_absmax(t->dt, t->x, start, start + t->bs);
        inv = 1.0f / m;
        t->absmax[b] = m;
        vinv = _mm512_set1_ps(inv);
        for (k = start; k < start + t->bs; k += 32) {   /* bs >= 64: two independent searches */
            __m512 x0 = _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k), vinv);
            __m512 x1 = _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k + 16), vinv);
            __m512i c0 = bnbq__z_code_index(&z, x0), c1 = bnbq__z_code_index(&z, x1);
            _mm_storeu_si128((__m128i*)(t->q + k), _mm512_cvtepi32_epi8(c0));
            _mm_storeu_si128((__m128i*)(t->q + k + 16), _mm512_cvtepi32_epi8(c1));
        }
    }
}

static BNBQ__T512 __m512i bnbq__z_quant4(bnbq_quant_type qt, __m512 x, const __m512* thr,
                                         const __m512i* below, __m512i c2c) {
    __m512i cell, c;
    if (qt == BNBQ_NF4) {
        /* clamp keeping NaN (min / max return their second operand on NaN) */
        /* x clamped to [-1, 0.99] (cells 0 and 31 take what lies beyond); NaN: min_ps(c, NaN)
           is NaN, max_ps(NaN, -1) is -1, so cell 0 */
        __m512 xc = _mm512_max_ps(_mm512_min_ps(_mm512_set1_ps(0.99f), x), _mm512_set1_ps(-1.0f));
        cell = _mm512_cvttps_epi32(_mm512_fmadd_ps(xc, _mm512_set1_ps(16.0f), _mm512_set1_ps(16.0f)));
        c = _mm512_permutex2var_epi32(below[0], cell, below[1]);
        return _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(x, _mm512_permutex2var_ps(thr[0], cell, thr[1]), _CMP_GT_OQ),
                                     c, _mm512_set1_epi32(1));
    } else {
        __m512 a = _mm512_abs_ps(x);
        __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
        /* |x| up to 0.99 (cell 15 takes what lies beyond); NaN stays NaN, converts to INT_MIN
           and becomes cell 0 */
        __m512 ac = _mm512_min_ps(_mm512_set1_ps(0.99f), a);
        cell = _mm512_max_epi32(_mm512_cvttps_epi32(_mm512_mul_ps(ac, _mm512_set1_ps(16.0f))),
                                _mm512_setzero_si512());
        c = _mm512_permutexvar_epi32(cell, below[0]);
        c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_permutexvar_ps(cell, thr[0]), _CMP_GT_OQ),
                                  c, _mm512_set1_epi32(1));
        c = _mm512_permutexvar_epi32(c, c2c);
        return _mm512_mask_add_epi32(c, neg, c, _mm512_set1_epi32(8));
    }
}

static BNBQ__T512 void bnbq__z_quantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    bnbq__zq4 g;
    __m512 thr[2];
    __m512i below[2], vc2c, perm;
    size_t b, k;
    if (!bnbq__zq4_init(t->qt, &g)) { bnbq__y_quantize_4bit(t, b0, b1); return; }
    thr[0] = _mm512_loadu_ps(g.thr); thr[1] = _mm512_loadu_ps(g.thr + 16);
    below[0] = _mm512_loadu_si512((const void*)g.below);
    below[1] = _mm512_loadu_si512((const void*)(g.below + 16));
    vc2c = _mm512_loadu_si512((const void*)g.c2c);
    {   /* output word 8i + 2L + j <- word 8L + 2i + j (vector i, lane L, pair j) */
        int16_t pi[32];
        int i, L, j;
        for (i = 0; i < 4; i++) for (L = 0; L < 4; L++) for (j = 0; j < 2; j++)
            pi[8 * i + 2 * L + j] = (int16_t)(8 * L + 2 * i + j);
        perm = _mm512_loadu_si512((const void*)pi);
    }
    if (t->bs == 64) {   /* one load of each value */
        for (b = b0; b < b1; b++) {
            __m512 x0 = bnbq__z_load(t->dt, t->x, 64 * b), x1 = bnbq__z_load(t->dt, t->x, 64 * b + 16);
            __m512 x2 = bnbq__z_load(t->dt, t->x, 64 * b + 32), x3 = bnbq__z_load(t->dt, t->x, 64 * b + 48);
            __m512 vinv = bnbq__z_inv64(x0, x1, x2, x3, t->absmax + b);
            __m512i c0 = bnbq__z_quant4(t->qt, _mm512_mul_ps(x0, vinv), thr, below, vc2c);
            __m512i c1 = bnbq__z_quant4(t->qt, _mm512_mul_ps(x1, vinv), thr, below, vc2c);
            __m512i c2 = bnbq__z_quant4(t->qt, _mm512_mul_ps(x2, vinv), thr, below, vc2c);
            __m512i c3 = bnbq__z_quant4(t->qt, _mm512_mul_ps(x3, vinv), thr, below, vc2c);
            __m512i qb = _mm512_packus_epi16(_mm512_packus_epi32(c0, c1), _mm512_packus_epi32(c2, c3));
            __m512i w = _mm512_maddubs_epi16(qb, _mm512_set1_epi16(0x0110));
            _mm256_storeu_si256((__m256i*)(t->q + 32 * b), _mm512_cvtepi16_epi8(_mm512_permutexvar_epi16(perm, w)));
        }
        return;
    }
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m, inv;
        __m512 vinv;
        m = bnbq__z_absmax(t->dt, t->x, start, start + t->bs);
        inv = 1.0f / m;
        t->absmax[b] = m;
        vinv = _mm512_set1_ps(inv);
        for (k = start; k + 64 <= start + t->bs; k += 64) {
            /* 64 codes to 32 bytes: packs give each 128-bit lane L the codes 4L..4L+3 of the
               four vectors, maddubs pairs them (c0 * 16 + c1), a word permute restores the order */
            __m512i c0 = bnbq__z_quant4(t->qt, _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k), vinv), thr, below, vc2c);
            __m512i c1 = bnbq__z_quant4(t->qt, _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k + 16), vinv), thr, below, vc2c);
            __m512i c2 = bnbq__z_quant4(t->qt, _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k + 32), vinv), thr, below, vc2c);
            __m512i c3 = bnbq__z_quant4(t->qt, _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k + 48), vinv), thr, below, vc2c);
            __m512i qb = _mm512_packus_epi16(_mm512_packus_epi32(c0, c1), _mm512_packus_epi32(c2, c3));
            __m512i w = _mm512_maddubs_epi16(qb, _mm512_set1_epi16(0x0110));
            _mm256_storeu_si256((__m256i*)(t->q + k / 2), _mm512_cvtepi16_epi8(_mm512_permutexvar_epi16(perm, w)));
        }
        for (; k < start + t->bs; k += 16) {
            __m512 xh = _mm512_mul_ps(bnbq__z_load(t->dt, t->x, k), vinv);
            __m512i c = bnbq__z_quant4(t->qt, xh, thr, below, vc2c);
            /* qword j = (code 2j+1) << 32 | code 2j  ->  byte (code 2j) << 4 | code 2j+1 */
            __m512i p = _mm512_or_si512(_mm512_slli_epi64(c, 4), _mm512_srli_epi64(c, 32));
            _mm_storel_epi64((__m128i*)(t->q + k / 2), _mm512_cvtepi64_epi8(p));
        }
    }
}

/* 16 codes of an LLM.int8 row (lanes of ld), as int32: v * s rounded to nearest even, 0 for
   an outlier (|v| >= thr when use_thr) */
static BNBQ__T512 __m512i bnbq__z_vw16(const uint16_t* a, __mmask16 ld, __m512 vs, __m512 vthr,
                                       int use_thr) {
    __m512 v = bnbq__z_cvtph(_mm256_maskz_loadu_epi16(ld, a));
    __m512i r = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v, vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (use_thr) r = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(_mm512_abs_ps(v), vthr, _CMP_NGE_UQ), r);
    return r;
}

/* rows of at least this many columns (64-byte aligned) get streaming stores (a constant: only
   tests and bench_cpu change it) */
static size_t bnbq__vw_nt_cols = 1024;

/* LLM.int8 row-wise quantization of one row (bnbq__cpu_vectorwise_range); 0: left to the scalar
   code (a product could reach bnbq__rint's saturating range). */
static BNBQ__T512 int bnbq__z_vectorwise_row(const uint16_t* a, size_t cols, float thr, int8_t* q,
                                             float* out_m) {
    __m512 m = _mm512_setzero_ps(), mall = _mm512_setzero_ps(), vs, vthr = _mm512_set1_ps(thr);
    int use_thr = thr > 0.0f;
    size_t c;
    float s, all;
    for (c = 0; c < cols; c += 16) {
        __mmask16 ld = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1u);
        __m512 v = _mm512_abs_ps(bnbq__z_cvtph(_mm256_maskz_loadu_epi16(ld, a + c)));
        __mmask16 keep = use_thr ? (__mmask16)~_mm512_cmp_ps_mask(v, vthr, _CMP_GE_OQ) : (__mmask16)0xffff;
        m = _mm512_mask_max_ps(m, keep, v, m);
        mall = _mm512_max_ps(v, mall);
    }
    *out_m = _mm512_reduce_max_ps(m);
    all = _mm512_reduce_max_ps(mall);              /* max |v| of the row, NaN left out */
    s = 127.0f * (1.0f / *out_m);
    /* |v * s| <= all * s (rounding is monotone): below 2^22 the reference's bnbq__rint is a
       round-to-nearest-even, which cvtps2dq does; NaN converts to 0x80000000, whose low byte is 0 */
    if (!(all * s < 4194304.0f)) return 0;
    vs = _mm512_set1_ps(s);
    c = 0;
    if (cols >= bnbq__vw_nt_cols && bnbq__aligned(q, 64)) {
        /* wide rows, 64-byte aligned: groups of 64 codes with one streaming store (the int8 output
           of a large matrix would not stay in cache; no read for ownership) */
        for (; c + 64 <= cols; c += 64) {
            __m128i b0 = _mm512_cvtepi32_epi8(bnbq__z_vw16(a + c, 0xffff, vs, vthr, use_thr));
            __m128i b1 = _mm512_cvtepi32_epi8(bnbq__z_vw16(a + c + 16, 0xffff, vs, vthr, use_thr));
            __m128i b2 = _mm512_cvtepi32_epi8(bnbq__z_vw16(a + c + 32, 0xffff, vs, vthr, use_thr));
            __m128i b3 = _mm512_cvtepi32_epi8(bnbq__z_vw16(a + c + 48, 0xffff, vs, vthr, use_thr));
            __m512i z = _mm512_inserti32x4(_mm512_castsi128_si512(b0), b1, 1);
            z = _mm512_inserti32x4(_mm512_inserti32x4(z, b2, 2), b3, 3);
            _mm512_stream_si512((__m512i*)(q + c), z);
        }
        _mm_sfence();
    }
    for (; c < cols; c += 16) {
        __mmask16 ld = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1u);
        __m512i r = bnbq__z_vw16(a + c, ld, vs, vthr, use_thr);
        if (ld == 0xffff) _mm_storeu_si128((__m128i*)(q + c), _mm512_cvtepi32_epi8(r));   /* vpmovdb to memory is slow */
        else _mm512_mask_cvtepi32_storeu_epi8(q + c, ld, r);
    }
    return 1;
}

/* int8 matmul tiles (bnbq__i8mm_range): s[4 * i + j] = sum over k < kl of a[i][k] * b[j][k],
   modulo 2^32, for 4 rows of A and 4 rows of B (the caller repeats a row to fill a partial tile).
   Sums of 4 vectors to one xmm [sum a, sum b, sum c, sum d] (wrapping adds). */
static BNBQ__T512 __m128i bnbq__z_hsum4(__m512i a, __m512i b, __m512i c, __m512i d) {
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    __m512i r = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(r), _mm512_extracti64x4_epi64(r, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

#define BNBQ__ZI8_STORE \
    _mm_storeu_si128((__m128i*)(s + 0), bnbq__z_hsum4(c00, c01, c02, c03)); \
    _mm_storeu_si128((__m128i*)(s + 4), bnbq__z_hsum4(c10, c11, c12, c13)); \
    _mm_storeu_si128((__m128i*)(s + 8), bnbq__z_hsum4(c20, c21, c22, c23)); \
    _mm_storeu_si128((__m128i*)(s + 12), bnbq__z_hsum4(c30, c31, c32, c33));

/* AVX-512BW: 32 bytes sign-extended to 16 bits, vpmaddwd (a pair of products, at most 2 * 2^14,
   fits in int32), 32-bit adds. Exact for every input. */
#define BNBQ__ZW_COL(j, bv) { \
        __m512i bw = (bv); \
        c0##j = _mm512_add_epi32(c0##j, _mm512_madd_epi16(a0, bw)); \
        c1##j = _mm512_add_epi32(c1##j, _mm512_madd_epi16(a1, bw)); \
        c2##j = _mm512_add_epi32(c2##j, _mm512_madd_epi16(a2, bw)); \
        c3##j = _mm512_add_epi32(c3##j, _mm512_madd_epi16(a3, bw)); }
#define BNBQ__ZW_STEP(LD) { \
        __m512i a0 = _mm512_cvtepi8_epi16(LD(a[0])), a1 = _mm512_cvtepi8_epi16(LD(a[1])); \
        __m512i a2 = _mm512_cvtepi8_epi16(LD(a[2])), a3 = _mm512_cvtepi8_epi16(LD(a[3])); \
        BNBQ__ZW_COL(0, _mm512_cvtepi8_epi16(LD(b[0]))) BNBQ__ZW_COL(1, _mm512_cvtepi8_epi16(LD(b[1]))) \
        BNBQ__ZW_COL(2, _mm512_cvtepi8_epi16(LD(b[2]))) BNBQ__ZW_COL(3, _mm512_cvtepi8_epi16(LD(b[3]))) }
#define BNBQ__ZW_LD(p) _mm256_loadu_si256((const __m256i*)((p) + k))
#define BNBQ__ZW_LDM(p) _mm256_maskz_loadu_epi8(ld, (p) + k)

static BNBQ__T512 size_t bnbq__z_i8tile(const int8_t* const* a, const int8_t* const* b, size_t kl,
                                      int32_t* s) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00;
    __m512i c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00;
    __m512i c31 = c00, c32 = c00, c33 = c00;
    size_t k;
    for (k = 0; k + 32 <= kl; k += 32) BNBQ__ZW_STEP(BNBQ__ZW_LD)
    if (k < kl) {
        __mmask32 ld = (__mmask32)((1u << (kl - k)) - 1u);
        BNBQ__ZW_STEP(BNBQ__ZW_LDM)
    }
    BNBQ__ZI8_STORE
    return kl;
}

/* AVX512_VNNI: vpdpbusd multiplies unsigned bytes by signed bytes, four products per int32 lane,
   wrapping adds: B ^ 0x80 is B + 128 as an unsigned byte, so the tile holds
   sum a * b + 128 * sum a, which the caller corrects with the rows' sums (bnbq__zn_rowsum).
   Masked lanes of the last step load 0 in A, so B's 0x80 there adds nothing. */
#define BNBQ__TVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,avx,f16c")))
/* gcc 12 copies every accumulator to a new register (and spills) around _mm512_dpbusd_epi32;
   the instruction itself in asm keeps the 16 accumulators in place (clang does that either way) */
#if defined(__GNUC__) && !defined(__clang__)
#define BNBQ__ZN_DP(c, u, s) __asm__("vpdpbusd %2, %1, %0" : "+v"(c) : "v"(u), "v"(s))
#else
#define BNBQ__ZN_DP(c, u, s) (c) = _mm512_dpbusd_epi32((c), (u), (s))
#endif
#define BNBQ__ZN_COL(j, bv) { \
        __m512i bu = _mm512_xor_si512((bv), x80); \
        BNBQ__ZN_DP(c0##j, bu, a0); BNBQ__ZN_DP(c1##j, bu, a1); \
        BNBQ__ZN_DP(c2##j, bu, a2); BNBQ__ZN_DP(c3##j, bu, a3); }
#define BNBQ__ZN_STEP(LD) { \
        __m512i a0 = LD(a[0]), a1 = LD(a[1]), a2 = LD(a[2]), a3 = LD(a[3]); \
        BNBQ__ZN_COL(0, LD(b[0])) BNBQ__ZN_COL(1, LD(b[1])) BNBQ__ZN_COL(2, LD(b[2])) \
        BNBQ__ZN_COL(3, LD(b[3])) }
#define BNBQ__ZN_LD(p) _mm512_loadu_si512((const void*)((p) + k))
#define BNBQ__ZN_LDM(p) _mm512_maskz_loadu_epi8(ld, (p) + k)

static BNBQ__TVNNI size_t bnbq__zn_i8tile(const int8_t* const* a, const int8_t* const* b,
                                          size_t kl, int32_t* s) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00;
    __m512i c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00;
    __m512i c31 = c00, c32 = c00, c33 = c00, x80 = _mm512_set1_epi8((char)-128);
    size_t k;
    for (k = 0; k < kl; k += 64) {   /* one loop body (gcc 12 copies registers around two) */
        __mmask64 ld = kl - k >= 64 ? ~(__mmask64)0 : (__mmask64)((~0ull) >> (64 - (kl - k)));
        BNBQ__ZN_STEP(BNBQ__ZN_LDM)
    }
    BNBQ__ZI8_STORE
    return kl;
}

/* sum of a[0..K) modulo 2^32 (vpdpbusd of 1-bytes by a) */
static BNBQ__TVNNI uint32_t bnbq__zn_rowsum(const int8_t* a, size_t K) {
    __m512i acc = _mm512_setzero_si512(), one = _mm512_set1_epi8(1);
    size_t k;
    for (k = 0; k + 64 <= K; k += 64) acc = _mm512_dpbusd_epi32(acc, one, _mm512_loadu_si512((const void*)(a + k)));
    if (k < K) acc = _mm512_dpbusd_epi32(acc, one, _mm512_maskz_loadu_epi8((__mmask64)((~0ull) >> (64 - (K - k))), a + k));
    return (uint32_t)_mm512_reduce_add_epi32(acc);
}
#undef BNBQ__ZW_COL
#undef BNBQ__ZW_STEP
#undef BNBQ__ZW_LD
#undef BNBQ__ZW_LDM
#undef BNBQ__ZN_COL
#undef BNBQ__ZN_DP
#undef BNBQ__ZN_STEP
#undef BNBQ__ZN_LD
#undef BNBQ__ZN_LDM
#undef BNBQ__ZI8_STORE

/* ---- AVX2 ---- */

static BNBQ__T256 __m256 bnbq__y_load(bnbq_dtype dt, const void* p, size_t i) {
    if (dt == BNBQ_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)((const uint16_t*)p + i)));
    if (dt == BNBQ_BF16)
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)((const uint16_t*)p + i))), 16));
    return _mm256_loadu_ps((const float*)p + i);
}

static BNBQ__T256 __m256 bnbq__y_abs(__m256 v) {
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

static BNBQ__T256 __m256 bnbq__y_canon(__m256 v) {
    __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), nan);
}

/* 8 canonical floats to f16 / bf16 bits */
static BNBQ__T256 __m128i bnbq__y_to16(bnbq_dtype dt, __m256 v) {
    if (dt == BNBQ_F16) return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    {
        __m256i u = _mm256_castps_si256(v);
        __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                     _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
        r = _mm256_srli_epi32(r, 16);
        r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40)), nan);
        r = _mm256_packus_epi32(r, r);
        return _mm256_castsi256_si128(_mm256_permute4x64_epi64(r, 0x08));
    }
}

static BNBQ__T256 void bnbq__y_store(bnbq_dtype dt, void* p, size_t i, __m256 v) {
    v = bnbq__y_canon(v);
    if (dt == BNBQ_F32) _mm256_storeu_ps((float*)p + i, v);
    else _mm_storeu_si128((__m128i*)((uint16_t*)p + i), bnbq__y_to16(dt, v));
}

static BNBQ__T256 float bnbq__y_absmax(bnbq_dtype dt, const void* x, size_t start, size_t end) {
    __m256 m = _mm256_setzero_ps(), m2 = _mm256_setzero_ps();
    float r[8], mx;
    size_t i = start;
    int k;
    for (; i + 16 <= end; i += 16) {
        m = _mm256_max_ps(bnbq__y_abs(bnbq__y_load(dt, x, i)), m);
        m2 = _mm256_max_ps(bnbq__y_abs(bnbq__y_load(dt, x, i + 8)), m2);
    }
    if (i < end) m = _mm256_max_ps(bnbq__y_abs(bnbq__y_load(dt, x, i)), m);
    _mm256_storeu_ps(r, _mm256_max_ps(m, m2));
    mx = r[0];
    for (k = 1; k < 8; k++) mx = r[k] > mx ? r[k] : mx;
    return mx;
}

/* 16-entry lookup from two registers (idx 0..15; bit 3 picks the register) */
static BNBQ__T256 __m256 bnbq__y_lut16(__m256 lo, __m256 hi, __m256i idx) {
    __m256 sel = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx), sel);
}

/* 4-bit GEMV at the AVX2 level (with FMA; bnbq__cpu_gemv_range's order, as bnbq__z_gemv): the
   32 lanes of the reference are 4 registers of 8 (groups g: lanes 8 g .. 8 g + 7); register lane
   i of a group is the reference's lane 8 g + 2 (i % 4) + i / 4, so that the group's 8 16-byte
   chunk slices (4 loads of 32 bytes, one lane per 128-bit lane) become 4 registers of 32-bit
   words by a 4x4 dword transpose within the 128-bit lanes. A is transposed once per call to
   this order (bnbq__simd_gemv). One row at a time (4 chains). */
#define BNBQ__T256F __attribute__((target("avx2,avx,f16c,fma")))
static BNBQ__T256F __m256 bnbq__yg_round_bf16(__m256 x) {    /* as bnbq_f32_to_bf16, in f32 */
    __m256i u = _mm256_castps_si256(x);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)),
                                 _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)));
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    r = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r),
            _mm256_castsi256_ps(_mm256_or_si256(u, _mm256_set1_epi32(0x00400000))), nan));
    return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32((int)0xffff0000u)));
}
/* the same without the NaN case (see bnbq__z_round_bf16q: the gemv's NaNs have low bits 0) */
static BNBQ__T256F __m256 bnbq__yg_round_bf16q(__m256 x) {
    __m256i u = _mm256_castps_si256(x);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)),
                                 _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)));
    return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32((int)0xffff0000u)));
}
static BNBQ__T256F __m256 bnbq__yg_round_f16(__m256 x) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}
#define BNBQ__YG_F32(acc, av, wv) acc = _mm256_fmadd_ps(av, wv, acc);
#define BNBQ__YG_F16(acc, av, wv) acc = _mm256_add_ps(acc, \
    bnbq__yg_round_f16(_mm256_mul_ps(av, bnbq__yg_round_f16(wv))));
#define BNBQ__YG_BF16(acc, av, wv) acc = _mm256_add_ps(acc, \
    bnbq__yg_round_bf16q(_mm256_mul_ps(av, bnbq__yg_round_bf16q(wv))));
#define BNBQ__YG_STEP(OP, t, sh) { \
    const float* ae = a + 32 * (t); \
    __m256 n0 = acc[0], n1 = acc[1], n2 = acc[2], n3 = acc[3]; \
    OP(n0, _mm256_loadu_ps(ae), _mm256_mul_ps(bnbq__y_lut16(qlo, qhi, _mm256_srli_epi32(R[0][w], sh)), s[0])) \
    OP(n1, _mm256_loadu_ps(ae + 8), _mm256_mul_ps(bnbq__y_lut16(qlo, qhi, _mm256_srli_epi32(R[1][w], sh)), s[1])) \
    OP(n2, _mm256_loadu_ps(ae + 16), _mm256_mul_ps(bnbq__y_lut16(qlo, qhi, _mm256_srli_epi32(R[2][w], sh)), s[2])) \
    OP(n3, _mm256_loadu_ps(ae + 24), _mm256_mul_ps(bnbq__y_lut16(qlo, qhi, _mm256_srli_epi32(R[3][w], sh)), s[3])) \
    if (full) { acc[0] = n0; acc[1] = n1; acc[2] = n2; acc[3] = n3; } \
    else { acc[0] = _mm256_blendv_ps(acc[0], n0, act[0]); acc[1] = _mm256_blendv_ps(acc[1], n1, act[1]); \
           acc[2] = _mm256_blendv_ps(acc[2], n2, act[2]); acc[3] = _mm256_blendv_ps(acc[3], n3, act[3]); } }
#define BNBQ__YG_BODY(OP) \
    size_t n, j, nch = K / 32, rounds = (nch + 31) / 32; \
    int i, g, w, off; \
    const __m256 qlo = _mm256_loadu_ps(qmap), qhi = _mm256_loadu_ps(qmap + 8); \
    for (n = n0; n < n1; n++) { \
        __m256 acc[4]; \
        float v[32], u[32]; \
        const uint8_t* wrow = packed + n * K / 2; \
        for (g = 0; g < 4; g++) acc[g] = _mm256_setzero_ps(); \
        for (j = 0; j < rounds; j++) { \
            size_t la = nch - 32 * j < 32 ? nch - 32 * j : 32; \
            int full = la == 32; \
            uint8_t buf[512]; \
            float sc[32]; \
            const uint8_t* wp = wrow + 512 * j; \
            const float* at = At + 1024 * j; \
            __m256i R[4][4]; \
            __m256 s[4], act[4]; \
            if (!full) { memset(buf, 0, sizeof buf); memcpy(buf, wp, 16 * la); wp = buf; } \
            else if (n + 8 < n1) { \
                for (i = 0; i < 512; i += 64) _mm_prefetch((const char*)(wp + 4 * K + i), _MM_HINT_T1); \
            } \
            for (i = 0; i < 32; i++) {        /* register lane i: the reference's lane 8 (i / 8) + 2 (i % 4) + i % 8 / 4 */ \
                size_t L = (size_t)(8 * (i / 8) + 2 * (i % 4) + (i % 8) / 4); \
                sc[i] = L < la ? absmax[(n * K + 1024 * j + 32 * L) / bs] : 0.0f; \
                u[i] = L < la ? -1.0f : 0.0f; \
            } \
            for (g = 0; g < 4; g++) { \
                const uint8_t* p = wp + 128 * g; \
                __m256i z0 = _mm256_loadu_si256((const __m256i*)p), z1 = _mm256_loadu_si256((const __m256i*)(p + 32)); \
                __m256i z2 = _mm256_loadu_si256((const __m256i*)(p + 64)), z3 = _mm256_loadu_si256((const __m256i*)(p + 96)); \
                __m256i t0 = _mm256_unpacklo_epi32(z0, z1), t1 = _mm256_unpackhi_epi32(z0, z1); \
                __m256i t2 = _mm256_unpacklo_epi32(z2, z3), t3 = _mm256_unpackhi_epi32(z2, z3); \
                R[g][0] = _mm256_unpacklo_epi64(t0, t2); R[g][1] = _mm256_unpackhi_epi64(t0, t2); \
                R[g][2] = _mm256_unpacklo_epi64(t1, t3); R[g][3] = _mm256_unpackhi_epi64(t1, t3); \
                s[g] = bnbq__y_canon(_mm256_loadu_ps(sc + 8 * g));      /* bnbq__round_to(dt, absmax) */ \
                if (dt == BNBQ_F16) s[g] = bnbq__yg_round_f16(s[g]); \
                if (dt == BNBQ_BF16) s[g] = bnbq__yg_round_bf16(s[g]); \
                act[g] = _mm256_loadu_ps(u + 8 * g); \
            } \
            for (w = 0; w < 4; w++) { \
                const float* a = at + 256 * w; \
                BNBQ__YG_STEP(OP, 0, 4) BNBQ__YG_STEP(OP, 1, 0) BNBQ__YG_STEP(OP, 2, 12) \
                BNBQ__YG_STEP(OP, 3, 8) BNBQ__YG_STEP(OP, 4, 20) BNBQ__YG_STEP(OP, 5, 16) \
                BNBQ__YG_STEP(OP, 6, 28) BNBQ__YG_STEP(OP, 7, 24) \
            } \
        } \
        for (g = 0; g < 4; g++) _mm256_storeu_ps(u + 8 * g, acc[g]); \
        for (i = 0; i < 32; i++) v[8 * (i / 8) + 2 * (i % 4) + (i % 8) / 4] = u[i]; \
        for (off = 1; off < 32; off <<= 1) \
            for (i = 0; i + off < 32; i++) v[i] = v[i] + v[i + off]; \
        { \
            float o = bnbq__round_to(dt, v[0]); \
            if (bias) o = o + bnbq__load(dt, bias, n);   /* torch: out += bias */ \
            bnbq__store(dt, out, n, o); \
        } \
    }
#define BNBQ__YG_ARGS bnbq_dtype dt, const float* qmap, const float* At, const uint8_t* packed, \
    const float* absmax, size_t K, size_t bs, const void* bias, void* out, size_t n0, size_t n1
static BNBQ__T256F void bnbq__y_gemv_f32(BNBQ__YG_ARGS) { BNBQ__YG_BODY(BNBQ__YG_F32) }
static BNBQ__T256F void bnbq__y_gemv_f16(BNBQ__YG_ARGS) { BNBQ__YG_BODY(BNBQ__YG_F16) }
static BNBQ__T256F void bnbq__y_gemv_bf16(BNBQ__YG_ARGS) { BNBQ__YG_BODY(BNBQ__YG_BF16) }
static void bnbq__y_gemv(BNBQ__YG_ARGS) {
    if (dt == BNBQ_F32) bnbq__y_gemv_f32(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
    else if (dt == BNBQ_F16) bnbq__y_gemv_f16(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
    else bnbq__y_gemv_bf16(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
}
#undef BNBQ__YG_ARGS
#undef BNBQ__YG_BODY
#undef BNBQ__YG_STEP
#undef BNBQ__YG_F32
#undef BNBQ__YG_F16
#undef BNBQ__YG_BF16
#undef BNBQ__T256F

static BNBQ__T256 void bnbq__y_dequantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    float tab[16];
    __m256 c0, c1;
    const __m128i m0f = _mm_set1_epi8(0x0f);
    size_t b, k;
    bnbq__code4_values(t->qt, tab);
    c0 = _mm256_loadu_ps(tab); c1 = _mm256_loadu_ps(tab + 8);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        const uint8_t* src = t->cq + start / 2;
        __m256 a, l0, l1;
        a = _mm256_set1_ps(t->cabsmax[b]);
        l0 = bnbq__y_canon(_mm256_mul_ps(c0, a));
        l1 = bnbq__y_canon(_mm256_mul_ps(c1, a));
        if (t->dt == BNBQ_F32) {
            float* o = (float*)t->out + start;
            for (k = 0; k < t->bs / 2; k += 16) {
                __m128i x = _mm_loadu_si128((const __m128i*)(src + k));
                __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m0f), lo = _mm_and_si128(x, m0f);
                __m128i i0 = _mm_unpacklo_epi8(hi, lo), i1 = _mm_unpackhi_epi8(hi, lo);
                _mm256_storeu_ps(o + 2 * k, bnbq__y_lut16(l0, l1, _mm256_cvtepu8_epi32(i0)));
                _mm256_storeu_ps(o + 2 * k + 8, bnbq__y_lut16(l0, l1, _mm256_cvtepu8_epi32(_mm_srli_si128(i0, 8))));
                _mm256_storeu_ps(o + 2 * k + 16, bnbq__y_lut16(l0, l1, _mm256_cvtepu8_epi32(i1)));
                _mm256_storeu_ps(o + 2 * k + 24, bnbq__y_lut16(l0, l1, _mm256_cvtepu8_epi32(_mm_srli_si128(i1, 8))));
            }
        } else {
            uint16_t* o = (uint16_t*)t->out + start;
            __m128i h0 = bnbq__y_to16(t->dt, l0), h1 = bnbq__y_to16(t->dt, l1);
            /* byte tables: low bytes and high bytes of the 16 values, in both lanes */
            const __m128i sl = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
            __m128i a0 = _mm_shuffle_epi8(h0, sl), a1 = _mm_shuffle_epi8(h1, sl);
            __m128i tl = _mm_unpacklo_epi64(a0, a1), th = _mm_unpackhi_epi64(a0, a1);
            __m256i TL = _mm256_broadcastsi128_si256(tl), TH = _mm256_broadcastsi128_si256(th);
            for (k = 0; k < t->bs / 2; k += 16) {
                __m128i x = _mm_loadu_si128((const __m128i*)(src + k));
                __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), m0f), lo = _mm_and_si128(x, m0f);
                __m256i idx = _mm256_set_m128i(_mm_unpackhi_epi8(hi, lo), _mm_unpacklo_epi8(hi, lo));
                __m256i L = _mm256_shuffle_epi8(TL, idx), H = _mm256_shuffle_epi8(TH, idx);
                __m256i w0 = _mm256_unpacklo_epi8(L, H), w1 = _mm256_unpackhi_epi8(L, H);
                _mm256_storeu_si256((__m256i*)(o + 2 * k), _mm256_permute2x128_si256(w0, w1, 0x20));
                _mm256_storeu_si256((__m256i*)(o + 2 * k + 16), _mm256_permute2x128_si256(w0, w1, 0x31));
            }
        }
    }
}

static BNBQ__T256 void bnbq__y_dequantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    size_t b, k;
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        const uint8_t* src = t->cq + start;
        __m256 a;
        a = _mm256_set1_ps(t->cabsmax[b]);
        for (k = 0; k < t->bs; k += 8) {
            __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)(src + k)));
            __m256 c = _mm256_i32gather_ps(t->code, idx, 4);
            bnbq__y_store(t->dt, t->out, start + k, _mm256_mul_ps(c, a));
        }
    }
}

/* bnbq__code_index of 8 values: the same counts; tables of up to 32 entries in registers
   (vpermps and blends), the larger ones gathered */
typedef struct bnbq__ysearch { __m256 p64, s32, s16, s8, s4[2], s2[4]; } bnbq__ysearch;

static BNBQ__T256 void bnbq__y_search_init(const bnbq__qsearch* q, bnbq__ysearch* y) {
    int i;
    y->p64 = _mm256_set1_ps(q->pivot64);
    y->s32 = _mm256_loadu_ps(q->s32); y->s16 = _mm256_loadu_ps(q->s16); y->s8 = _mm256_loadu_ps(q->s8);
    for (i = 0; i < 2; i++) y->s4[i] = _mm256_loadu_ps(q->s4 + 8 * i);
    for (i = 0; i < 4; i++) y->s2[i] = _mm256_loadu_ps(q->s2 + 8 * i);
}

static BNBQ__T256 __m256i bnbq__y_code_index(const bnbq__qsearch* q, const bnbq__ysearch* y, __m256 x) {
    __m256i c = _mm256_setzero_si256(), r, up, dn, j;
    __m256i m = _mm256_castps_si256(_mm256_cmp_ps(x, y->p64, _CMP_GT_OQ));
    c = _mm256_sub_epi32(c, _mm256_slli_epi32(m, 6));   /* m is 0 or -1: c += 64 */
#define BNBQ__YSTEP(piv, lg) \
    m = _mm256_castps_si256(_mm256_cmp_ps(x, piv, _CMP_GT_OQ)); \
    c = _mm256_sub_epi32(c, _mm256_slli_epi32(m, lg));
    BNBQ__YSTEP(_mm256_permutevar8x32_ps(y->s32, _mm256_srli_epi32(c, 6)), 5)
    BNBQ__YSTEP(_mm256_permutevar8x32_ps(y->s16, _mm256_srli_epi32(c, 5)), 4)
    BNBQ__YSTEP(_mm256_permutevar8x32_ps(y->s8, _mm256_srli_epi32(c, 4)), 3)
    j = _mm256_srli_epi32(c, 3);
    BNBQ__YSTEP(bnbq__y_lut16(y->s4[0], y->s4[1], j), 2)
    j = _mm256_srli_epi32(c, 2);
    BNBQ__YSTEP(_mm256_blendv_ps(bnbq__y_lut16(y->s2[0], y->s2[1], j), bnbq__y_lut16(y->s2[2], y->s2[3], j),
                                 _mm256_castsi256_ps(_mm256_slli_epi32(j, 27))), 1)
    BNBQ__YSTEP(_mm256_i32gather_ps(q->s1, _mm256_srli_epi32(c, 1), 4), 0)
#undef BNBQ__YSTEP
    /* as the AVX-512 code: x > mhi and x < mlo decide (mlo <= code[p] <= mhi) */
    up = _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_i32gather_ps(q->mhi, c, 4), _CMP_GT_OQ));
    dn = _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_i32gather_ps(q->mlo, c, 4), _CMP_LT_OQ));
    r = _mm256_slli_epi32(c, 1);
    r = _mm256_sub_epi32(r, up);
    r = _mm256_add_epi32(r, dn);
    return r;
}

/* 8 int32 (0..255) to 8 bytes */
static BNBQ__T256 __m128i bnbq__y_bytes(__m256i v) {
    __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packus_epi16(p, p);
}

/* bnbq__z_code_step for 8 values (AVX2) */
static BNBQ__T256 __m256i bnbq__y_code_step(const bnbq__qstep* s, __m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    __m256i sg = _mm256_srai_epi32(bits, 31), mask = _mm256_set1_epi32((1 << s->shift) - 1);
    __m256i v = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
    __m256i idx, off, e, r;
    v = _mm256_sub_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(s->alo)), _mm256_set1_epi32(s->alo));
    v = _mm256_xor_si256(_mm256_min_epi32(v, _mm256_set1_epi32(s->arange)), sg);
    idx = _mm256_add_epi32(_mm256_sra_epi32(v, _mm_cvtsi32_si128(s->shift)), _mm256_set1_epi32(s->nbh));
    off = _mm256_and_si256(v, mask);
    e = _mm256_i32gather_epi32((const int*)s->e, idx, 4);
    /* off >= thr as off + 1 > thr (off < 2^24); the compare's -1 adds one */
    r = _mm256_sub_epi32(_mm256_srli_epi32(e, 24),
                         _mm256_cmpgt_epi32(_mm256_add_epi32(off, _mm256_set1_epi32(1)),
                                            _mm256_and_si256(e, _mm256_set1_epi32(0xffffff))));
    return _mm256_and_si256(r, _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_ORD_Q)));
}

static BNBQ__T256 int bnbq__y_quantize_blockwise_step(const bnbq__task_blockwise* t, size_t b0,
                                                      size_t b1) {
    bnbq__qstep st;
    size_t b, k;
    if ((b1 - b0) * t->bs < 16384 || !bnbq__qstep_init(t->code, &st)) return 0;
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m, inv;
        __m256 vinv;
        m = bnbq__y_absmax(t->dt, t->x, start, start + t->bs);
        inv = 1.0f / m;
        t->absmax[b] = m;
        vinv = _mm256_set1_ps(inv);
        for (k = start; k < start + t->bs; k += 16) {
            __m256i c0 = bnbq__y_code_step(&st, _mm256_mul_ps(bnbq__y_load(t->dt, t->x, k), vinv));
            __m256i c1 = bnbq__y_code_step(&st, _mm256_mul_ps(bnbq__y_load(t->dt, t->x, k + 8), vinv));
            _mm_storel_epi64((__m128i*)(t->q + k), bnbq__y_bytes(c0));
            _mm_storel_epi64((__m128i*)(t->q + k + 8), bnbq__y_bytes(c1));
        }
    }
    return 1;
}

static BNBQ__T256 void bnbq__y_quantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    bnbq__qsearch q;
    bnbq__ysearch y;
    size_t b, k;
    if (bnbq__y_quantize_blockwise_step(t, b0, b1)) return;
    bnbq__qsearch_init(t->code, &q);
    bnbq__y_search_init(&q, &y);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m, inv;
        __m256 vinv;
        m = bnbq__y_absmax(t->dt, t->x, start, start + t->bs);
        inv = 1.0f / m;
        t->absmax[b] = m;
        vinv = _mm256_set1_ps(inv);
        for (k = start; k < start + t->bs; k += 8) {
            __m256 xh = _mm256_mul_ps(bnbq__y_load(t->dt, t->x, k), vinv);
            _mm_storel_epi64((__m128i*)(t->q + k), bnbq__y_bytes(bnbq__y_code_index(&q, &y, xh)));
        }
    }
}

static BNBQ__T256 __m256i bnbq__y_quant4(bnbq_quant_type qt, __m256 x, __m256 t0, __m256 t1,
                                         __m256i c2c) {
    __m256i c = _mm256_setzero_si256(), m;
#define BNBQ__YQ4(s, lg) \
    m = _mm256_castps_si256(_mm256_cmp_ps(x, bnbq__y_lut16(t0, t1, _mm256_add_epi32(c, _mm256_set1_epi32((s) - 1))), _CMP_GT_OQ)); \
    c = _mm256_sub_epi32(c, _mm256_slli_epi32(m, lg));
    if (qt == BNBQ_NF4) {
        BNBQ__YQ4(8, 3) BNBQ__YQ4(4, 2) BNBQ__YQ4(2, 1) BNBQ__YQ4(1, 0)
        return c;
    } else {
        __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
        x = bnbq__y_abs(x);
        BNBQ__YQ4(4, 2) BNBQ__YQ4(2, 1) BNBQ__YQ4(1, 0)
        c = _mm256_permutevar8x32_epi32(c2c, c);
        return _mm256_sub_epi32(c, _mm256_slli_epi32(neg, 3));
    }
#undef BNBQ__YQ4
}

static BNBQ__T256 void bnbq__y_quantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    float th[16];
    int32_t c2c[8];
    __m256 t0, t1;
    __m256i vc2c;
    size_t b, k;
    int i;
    for (i = 0; i < 16; i++)
        th[i] = t->qt == BNBQ_NF4 ? (i < 15 ? bnbq__nf4_thresholds[i] : INFINITY)
                                  : (i < 7 ? bnbq__fp4_thresholds[i] : INFINITY);
    for (i = 0; i < 8; i++) c2c[i] = bnbq__fp4_count_to_code[i];
    t0 = _mm256_loadu_ps(th); t1 = _mm256_loadu_ps(th + 8);
    vc2c = _mm256_loadu_si256((const __m256i*)c2c);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m, inv;
        __m256 vinv;
        m = bnbq__y_absmax(t->dt, t->x, start, start + t->bs);
        inv = 1.0f / m;
        t->absmax[b] = m;
        vinv = _mm256_set1_ps(inv);
        for (k = start; k < start + t->bs; k += 16) {
            __m256i c0 = bnbq__y_quant4(t->qt, _mm256_mul_ps(bnbq__y_load(t->dt, t->x, k), vinv), t0, t1, vc2c);
            __m256i c1 = bnbq__y_quant4(t->qt, _mm256_mul_ps(bnbq__y_load(t->dt, t->x, k + 8), vinv), t0, t1, vc2c);
            /* 16 codes in order as u16 words w_j = code 2j | code 2j+1 << 8; byte j = (code 2j) << 4 | code 2j+1 */
            __m256i pk = _mm256_permute4x64_epi64(_mm256_packus_epi32(c0, c1), 0xD8);
            __m128i e = _mm_packus_epi16(_mm256_castsi256_si128(pk), _mm256_extracti128_si256(pk, 1));
            __m128i r = _mm_or_si128(_mm_and_si128(_mm_slli_epi16(e, 4), _mm_set1_epi16(0x00f0)),
                                     _mm_srli_epi16(e, 8));
            _mm_storel_epi64((__m128i*)(t->q + k / 2), _mm_packus_epi16(r, r));
        }
    }
}

static BNBQ__T256 int bnbq__y_vectorwise_row(const uint16_t* a, size_t cols, float thr, int8_t* q,
                                             float* out_m) {
    __m256 m = _mm256_setzero_ps(), vs, vthr = _mm256_set1_ps(thr);
    int use_thr = thr > 0.0f;
    size_t c, full = cols & ~(size_t)7;
    float s, r[8], mx;
    int k;
    for (c = 0; c < full; c += 8) {
        __m256 v = bnbq__y_abs(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(a + c))));
        if (use_thr) {
            __m256 keep = _mm256_cmp_ps(v, vthr, _CMP_NGE_UQ);
            m = _mm256_blendv_ps(m, _mm256_max_ps(v, m), keep);
        } else {
            m = _mm256_max_ps(v, m);
        }
    }
    _mm256_storeu_ps(r, m);
    mx = r[0];
    for (k = 1; k < 8; k++) mx = r[k] > mx ? r[k] : mx;
    for (; c < cols; c++) {
        float v = bnbq__absf(bnbq_f16_to_f32(a[c]));
        if (use_thr && v >= thr) continue;
        if (v > mx) mx = v;
    }
    *out_m = mx;
    s = 127.0f * (1.0f / mx);
    vs = _mm256_set1_ps(s);
    for (c = 0; c < full; c += 8) {
        __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(a + c)));
        __m256 y = _mm256_mul_ps(v, vs);
        __m256 zero = _mm256_cmp_ps(y, y, _CMP_UNORD_Q);
        __m256 big = _mm256_cmp_ps(bnbq__y_abs(y), _mm256_set1_ps(4194304.0f), _CMP_GE_OQ);
        __m256i ri;
        __m128i p;
        if (_mm256_movemask_ps(big)) return 0;
        if (use_thr) zero = _mm256_or_ps(zero, _mm256_cmp_ps(bnbq__y_abs(v), vthr, _CMP_GE_OQ));
        ri = _mm256_cvtps_epi32(_mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        ri = _mm256_andnot_si256(_mm256_castps_si256(zero), ri);
        p = _mm_packs_epi32(_mm256_castsi256_si128(ri), _mm256_extracti128_si256(ri, 1));
        _mm_storel_epi64((__m128i*)(q + c), _mm_packs_epi16(p, p));
    }
    for (; c < cols; c++) {
        float v = bnbq_f16_to_f32(a[c]);
        if (use_thr && bnbq__absf(v) >= thr) { q[c] = 0; continue; }
        {
            BNBQ__FLT_TMP float y = v * s;
            q[c] = (int8_t)bnbq__rint(y);
        }
    }
    return 1;
}

/* int8 matmul tile (see bnbq__z_i8tile): 16 bytes sign-extended to 16 bits, vpmaddwd, 32-bit
   adds (exact); the 4 x 4 tile as two 4 x 2 halves (16 ymm registers); the k tail left to the
   caller (returns the k reached). */
static BNBQ__T256 __m128i bnbq__y_hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i r = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

static BNBQ__T256 size_t bnbq__y_i8tile(const int8_t* const* a, const int8_t* const* b, size_t kl,
                                        int32_t* s) {
    size_t k = 0;
    int h;
    for (h = 0; h < 2; h++) {
        const int8_t* b0 = b[2 * h];
        const int8_t* b1 = b[2 * h + 1];
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
        __m256i c21 = c00, c30 = c00, c31 = c00;
        int32_t t[8];
        for (k = 0; k + 16 <= kl; k += 16) {
            __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(a[0] + k)));
            __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(a[1] + k)));
            __m256i a2 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(a[2] + k)));
            __m256i a3 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(a[3] + k)));
            __m256i bw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(b0 + k)));
            c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(a0, bw));
            c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(a1, bw));
            c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(a2, bw));
            c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(a3, bw));
            bw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(b1 + k)));
            c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(a0, bw));
            c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(a1, bw));
            c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(a2, bw));
            c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(a3, bw));
        }
        _mm_storeu_si128((__m128i*)t, bnbq__y_hsum4(c00, c01, c10, c11));
        _mm_storeu_si128((__m128i*)(t + 4), bnbq__y_hsum4(c20, c21, c30, c31));
        s[2 * h] = t[0]; s[2 * h + 1] = t[1]; s[4 + 2 * h] = t[2]; s[5 + 2 * h] = t[3];
        s[8 + 2 * h] = t[4]; s[9 + 2 * h] = t[5]; s[12 + 2 * h] = t[6]; s[13 + 2 * h] = t[7];
    }
    return k;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif /* BNBQ__X86_SIMD */

#if defined(BNBQ__NEON_SIMD)

/* ---- NEON (aarch64) ---- */

/* NaN lanes to the canonical 0x7fffffff (bnbq__canon) */
static float32x4_t bnbq__n_canon(float32x4_t v) {
    return vbslq_f32(vceqq_f32(v, v), v, vreinterpretq_f32_u32(vdupq_n_u32(0x7fffffffu)));
}

/* 4 floats to f16 / bf16 bits as bnbq_f32_to_f16 / _bf16 round them (RNE). F16: FCVTN under the
   default FPCR (round to nearest even, no flush to zero, DN = 0: a NaN keeps its sign and top
   payload bits with the quiet bit set, the reference's NaN); BF16: the reference's integer
   rounding, NaN lanes (u >> 16) | 0x40. */
static uint16x4_t bnbq__n_to16(bnbq_dtype dt, float32x4_t v) {
    if (dt == BNBQ_F16) return vreinterpret_u16_f16(vcvt_f16_f32(v));
    {
        uint32x4_t u = vreinterpretq_u32_f32(v);
        uint32x4_t r = vaddq_u32(u, vaddq_u32(vdupq_n_u32(0x7fffu),
                                              vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1u))));
        r = vbslq_u32(vceqq_f32(v, v), r, vorrq_u32(u, vdupq_n_u32(0x00400000u)));
        return vshrn_n_u32(r, 16);
    }
}

/* 4 elements of a F32 / F16 / BF16 array as floats (f16: FCVTL, exact; a NaN may come back
   quieted, which no caller can see: NaN only ever compares false or becomes code 0) */
static float32x4_t bnbq__n_load(bnbq_dtype dt, const void* p, size_t i) {
    if (dt == BNBQ_F16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t*)p + i)));
    if (dt == BNBQ_BF16) return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t*)p + i), 16));
    return vld1q_f32((const float*)p + i);
}

static void bnbq__n_store(bnbq_dtype dt, void* p, size_t i, float32x4_t v) {
    v = bnbq__n_canon(v);
    if (dt == BNBQ_F32) vst1q_f32((float*)p + i, v);
    else vst1_u16((uint16_t*)p + i, bnbq__n_to16(dt, v));
}

/* four 32-bit masks (elements 0..15 in order) to 16 byte masks */
static uint8x16_t bnbq__n_narrow(uint32x4_t m0, uint32x4_t m1, uint32x4_t m2, uint32x4_t m3) {
    uint16x8_t a = vcombine_u16(vmovn_u32(m0), vmovn_u32(m1));
    uint16x8_t b = vcombine_u16(vmovn_u32(m2), vmovn_u32(m3));
    return vcombine_u8(vmovn_u16(a), vmovn_u16(b));
}

/* absmax of [start, end), end - start a multiple of 16; the reference's a > m ? a : m per lane
   (vmaxq would let a NaN win), then the maximum of the four non-NaN lanes */
static float bnbq__n_absmax(bnbq_dtype dt, const void* x, size_t start, size_t end) {
    float32x4_t m[4], a;
    size_t i;
    int r;
    for (r = 0; r < 4; r++) m[r] = vdupq_n_f32(0.0f);
    for (i = start; i < end; i += 16)
        for (r = 0; r < 4; r++) {
            a = vabsq_f32(bnbq__n_load(dt, x, i + 4 * (size_t)r));
            m[r] = vbslq_f32(vcgtq_f32(a, m[r]), a, m[r]);
        }
    return vmaxvq_f32(vmaxq_f32(vmaxq_f32(m[0], m[1]), vmaxq_f32(m[2], m[3])));
}

/* 4-bit dequantize: the 16 values of the block (canonical, rounded to dt) as byte planes (plane r
   holds byte r of every value, vld4q / vld2q); each nibble looks its bytes up with one tbl per
   plane and vst4q / vst2q interleaves them back into values. */
static void bnbq__n_dequantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    float tab[16], lut[16];
    uint16_t lut16[16];
    float32x4_t code[4];
    const uint8x16_t m0f = vdupq_n_u8(0x0f);
    size_t b, k;
    int r;
    bnbq__code4_values(t->qt, tab);
    for (r = 0; r < 4; r++) code[r] = vld1q_f32(tab + 4 * r);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        const uint8_t* src = t->cq + start / 2;
        const float32x4_t a = vdupq_n_f32(t->cabsmax[b]);
        for (r = 0; r < 4; r++) {
            float32x4_t v = bnbq__n_canon(vmulq_f32(code[r], a));
            if (t->dt == BNBQ_F32) vst1q_f32(lut + 4 * r, v);
            else vst1_u16(lut16 + 4 * r, bnbq__n_to16(t->dt, v));
        }
        if (t->dt == BNBQ_F32) {
            const uint8x16x4_t pl = vld4q_u8((const uint8_t*)lut);
            uint8_t* o = (uint8_t*)((float*)t->out + start);
            for (k = 0; k < t->bs / 2; k += 16) {
                uint8x16_t x = vld1q_u8(src + k), hi = vshrq_n_u8(x, 4), lo = vandq_u8(x, m0f);
                uint8x16_t i0 = vzip1q_u8(hi, lo), i1 = vzip2q_u8(hi, lo);
                uint8x16x4_t w;
                for (r = 0; r < 4; r++) w.val[r] = vqtbl1q_u8(pl.val[r], i0);
                vst4q_u8(o + 8 * k, w);
                for (r = 0; r < 4; r++) w.val[r] = vqtbl1q_u8(pl.val[r], i1);
                vst4q_u8(o + 8 * k + 64, w);
            }
        } else {
            const uint8x16x2_t pl = vld2q_u8((const uint8_t*)lut16);
            uint8_t* o = (uint8_t*)((uint16_t*)t->out + start);
            for (k = 0; k < t->bs / 2; k += 16) {
                uint8x16_t x = vld1q_u8(src + k), hi = vshrq_n_u8(x, 4), lo = vandq_u8(x, m0f);
                uint8x16_t i0 = vzip1q_u8(hi, lo), i1 = vzip2q_u8(hi, lo);
                uint8x16x2_t w;
                for (r = 0; r < 2; r++) w.val[r] = vqtbl1q_u8(pl.val[r], i0);
                vst2q_u8(o + 4 * k, w);
                for (r = 0; r < 2; r++) w.val[r] = vqtbl1q_u8(pl.val[r], i1);
                vst2q_u8(o + 4 * k + 32, w);
            }
        }
    }
}

/* 8-bit dequantize: blocks of >= 256 elements first make the block's 256 output values
   (code[i] * absmax, canonical, rounded to dt: the reference's operations) and then copy the
   looked-up values; smaller blocks gather the code entries and multiply 4 at a time. */
static void bnbq__n_dequantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    float g[256];
    uint16_t g16[256];
    size_t b, k;
    int j;
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        const uint8_t* src = t->cq + start;
        const float32x4_t a = vdupq_n_f32(t->cabsmax[b]);
        if (t->bs >= 256) {
            for (j = 0; j < 256; j += 4) {
                float32x4_t v = bnbq__n_canon(vmulq_f32(vld1q_f32(t->code + j), a));
                if (t->dt == BNBQ_F32) vst1q_f32(g + j, v);
                else vst1_u16(g16 + j, bnbq__n_to16(t->dt, v));
            }
            if (t->dt == BNBQ_F32) {
                float* o = (float*)t->out + start;
                for (k = 0; k < t->bs; k += 4) {
                    o[k] = g[src[k]]; o[k + 1] = g[src[k + 1]];
                    o[k + 2] = g[src[k + 2]]; o[k + 3] = g[src[k + 3]];
                }
            } else {
                uint16_t* o = (uint16_t*)t->out + start;
                for (k = 0; k < t->bs; k += 4) {
                    o[k] = g16[src[k]]; o[k + 1] = g16[src[k + 1]];
                    o[k + 2] = g16[src[k + 2]]; o[k + 3] = g16[src[k + 3]];
                }
            }
        } else {
            for (k = 0; k < t->bs; k += 16) {
                for (j = 0; j < 16; j++) g[j] = t->code[src[k + (size_t)j]];
                for (j = 0; j < 16; j += 4)
                    bnbq__n_store(t->dt, t->out, start + k + (size_t)j, vmulq_f32(vld1q_f32(g + j), a));
            }
        }
    }
}

/* A table of up to 64 floats as four byte planes of 64 bytes (vqtbl4q; entries past the table 0) */
typedef struct bnbq__nplanes { uint8x16x4_t p[4]; } bnbq__nplanes;

static void bnbq__n_planes(const float* v, int cnt, bnbq__nplanes* out) {
    uint8_t bytes[4][64];
    int i, r;
    memset(bytes, 0, sizeof bytes);
    for (i = 0; i < cnt; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (r = 0; r < 4; r++) bytes[r][i] = (uint8_t)(u >> (8 * r));
    }
    for (r = 0; r < 4; r++)
        for (i = 0; i < 4; i++) out->p[r].val[i] = vld1q_u8(bytes[r] + 16 * i);
}

/* planes looked up at 16 byte indices back to 4 vectors of floats, elements in order */
static void bnbq__n_unplane(uint8x16_t p0, uint8x16_t p1, uint8x16_t p2, uint8x16_t p3, float32x4_t* v) {
    uint16x8_t a = vreinterpretq_u16_u8(vzip1q_u8(p0, p1)), b = vreinterpretq_u16_u8(vzip2q_u8(p0, p1));
    uint16x8_t c = vreinterpretq_u16_u8(vzip1q_u8(p2, p3)), d = vreinterpretq_u16_u8(vzip2q_u8(p2, p3));
    v[0] = vreinterpretq_f32_u16(vzip1q_u16(a, c));
    v[1] = vreinterpretq_f32_u16(vzip2q_u16(a, c));
    v[2] = vreinterpretq_f32_u16(vzip1q_u16(b, d));
    v[3] = vreinterpretq_f32_u16(vzip2q_u16(b, d));
}

/* entries j (< cnt <= 64) of a table: one tbl per plane over the registers the table fills */
static uint8x16_t bnbq__n_tbl(const uint8x16x4_t* p, int cnt, uint8x16_t j) {
    if (cnt <= 16) return vqtbl1q_u8(p->val[0], j);
    if (cnt <= 32) {
        uint8x16x2_t h;
        h.val[0] = p->val[0]; h.val[1] = p->val[1];
        return vqtbl2q_u8(h, j);
    }
    return vqtbl4q_u8(*p, j);
}
static void bnbq__n_lookup64(const bnbq__nplanes* t, int cnt, uint8x16_t j, float32x4_t* v) {
    bnbq__n_unplane(bnbq__n_tbl(&t->p[0], cnt, j), bnbq__n_tbl(&t->p[1], cnt, j),
                    bnbq__n_tbl(&t->p[2], cnt, j), bnbq__n_tbl(&t->p[3], cnt, j), v);
}

/* entries j (< 128) of a table in two halves: indices past 63 are out of the first half's range
   (tbl gives 0), j - 64 below 64 is in the second's (tbx replaces) */
static void bnbq__n_lookup128(const bnbq__nplanes* t, uint8x16_t j, float32x4_t* v) {
    uint8x16_t jh = vsubq_u8(j, vdupq_n_u8(64)), p[4];
    int r;
    for (r = 0; r < 4; r++) p[r] = vqtbx4q_u8(vqtbl4q_u8(t[0].p[r], j), t[1].p[r], jh);
    bnbq__n_unplane(p[0], p[1], p[2], p[3], v);
}

static uint8x16_t bnbq__n_gt(const float32x4_t* x, const float32x4_t* v) {
    return bnbq__n_narrow(vcgtq_f32(x[0], v[0]), vcgtq_f32(x[1], v[1]), vcgtq_f32(x[2], v[2]),
                          vcgtq_f32(x[3], v[3]));
}

/* bnbq__code_index of 16 values with the search tables of bnbq__qsearch as byte planes: the same
   counts as the AVX paths, kept as bytes */
typedef struct bnbq__nsearch {
    bnbq__nplanes s32, s16, s8, s4, s2, s1, mhi[2], mlo[2];
    float32x4_t p64;
} bnbq__nsearch;

static void bnbq__n_search_init(const bnbq__qsearch* q, bnbq__nsearch* s) {
    s->p64 = vdupq_n_f32(q->pivot64);
    bnbq__n_planes(q->s32, 2, &s->s32); bnbq__n_planes(q->s16, 4, &s->s16);
    bnbq__n_planes(q->s8, 8, &s->s8); bnbq__n_planes(q->s4, 16, &s->s4);
    bnbq__n_planes(q->s2, 32, &s->s2); bnbq__n_planes(q->s1, 64, &s->s1);
    bnbq__n_planes(q->mhi, 64, &s->mhi[0]); bnbq__n_planes(q->mhi + 64, 64, &s->mhi[1]);
    bnbq__n_planes(q->mlo, 64, &s->mlo[0]); bnbq__n_planes(q->mlo + 64, 64, &s->mlo[1]);
}

static uint8x16_t bnbq__n_code_index(const bnbq__nsearch* s, const float32x4_t* x) {
    float32x4_t v[4];
    uint8x16_t c, up, dn;
    v[0] = v[1] = v[2] = v[3] = s->p64;
    c = vandq_u8(bnbq__n_gt(x, v), vdupq_n_u8(64));
#define BNBQ__NSTEP(tab, sh, st) \
    bnbq__n_lookup64(&s->tab, 64 / (st), vshrq_n_u8(c, sh), v); \
    c = vaddq_u8(c, vandq_u8(bnbq__n_gt(x, v), vdupq_n_u8(st)));
    BNBQ__NSTEP(s32, 6, 32) BNBQ__NSTEP(s16, 5, 16) BNBQ__NSTEP(s8, 4, 8)
    BNBQ__NSTEP(s4, 3, 4) BNBQ__NSTEP(s2, 2, 2) BNBQ__NSTEP(s1, 1, 1)
#undef BNBQ__NSTEP
    /* as the AVX paths: x > mhi and x < mlo decide (mlo <= code[p] <= mhi) */
    bnbq__n_lookup128(s->mhi, c, v);
    up = bnbq__n_gt(x, v);
    bnbq__n_lookup128(s->mlo, c, v);
    dn = bnbq__n_narrow(vcltq_f32(x[0], v[0]), vcltq_f32(x[1], v[1]), vcltq_f32(x[2], v[2]),
                        vcltq_f32(x[3], v[3]));
    return vaddq_u8(vsubq_u8(vshlq_n_u8(c, 1), up), dn);   /* masks are 0 or -1 */
}

static void bnbq__n_quantize_blockwise(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    bnbq__qsearch q;
    bnbq__nsearch s;
    size_t b, k;
    int r;
    bnbq__qsearch_init(t->code, &q);
    bnbq__n_search_init(&q, &s);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m = bnbq__n_absmax(t->dt, t->x, start, start + t->bs), inv = 1.0f / m;
        float32x4_t vinv = vdupq_n_f32(inv), x[4];
        t->absmax[b] = m;
        for (k = start; k < start + t->bs; k += 16) {
            for (r = 0; r < 4; r++) x[r] = vmulq_f32(bnbq__n_load(t->dt, t->x, k + 4 * (size_t)r), vinv);
            vst1q_u8(t->q + k, bnbq__n_code_index(&s, x));
        }
    }
}

/* NF4 / FP4 codes of 4 values: the count of thresholds below x (|x| for FP4), as the reference
   counts them (used when bnbq__zq4_init refuses the grid) */
static uint32x4_t bnbq__n_count(float32x4_t x, const float32x4_t* thr, int nt) {
    uint32x4_t c = vdupq_n_u32(0);
    int i;
    for (i = 0; i < nt; i++) c = vsubq_u32(c, vcgtq_f32(x, thr[i]));
    return c;
}

/* The grid of bnbq__zq4 (see there) as tbl tables: below[] as bytes, thr[] as byte planes */
typedef struct bnbq__nq4 { uint8x16x2_t below, thr[4]; uint8x16_t c2c; } bnbq__nq4;

static void bnbq__n_q4_init(const bnbq__zq4* g, bnbq__nq4* n) {
    uint8_t planes[4][32], below[32], c2c[16];
    int j, r;
    for (j = 0; j < 32; j++) {
        uint32_t u;
        memcpy(&u, &g->thr[j], 4);
        for (r = 0; r < 4; r++) planes[r][j] = (uint8_t)(u >> (8 * r));
        below[j] = (uint8_t)g->below[j];
    }
    for (j = 0; j < 16; j++) c2c[j] = (uint8_t)g->c2c[j];
    for (r = 0; r < 4; r++) { n->thr[r].val[0] = vld1q_u8(planes[r]); n->thr[r].val[1] = vld1q_u8(planes[r] + 16); }
    n->below.val[0] = vld1q_u8(below); n->below.val[1] = vld1q_u8(below + 16);
    n->c2c = vld1q_u8(c2c);
}

/* codes of 16 normalized values on the grid: NF4 cell = trunc((clamp(x, -2, 2) + 1) * 16), FP4
   cell = trunc(min(|x|, 2) * 16), clamped to the cells (FMIN / FMAX keep a NaN, FCVTZS makes it
   cell 0); count = below[cell] + (x > thr[cell]); FP4 maps the count and adds 8 for x < 0 */
static uint8x16_t bnbq__n_quant4_grid(int nf4, const bnbq__nq4* g, const float32x4_t* x) {
    float32x4_t v[4], t[4];
    int32x4_t cell[4];
    uint32x4_t neg[4];
    uint8x16_t cb, c;
    int r;
    for (r = 0; r < 4; r++) {
        if (nf4) {
            float32x4_t xc = vmaxq_f32(vdupq_n_f32(-2.0f), vminq_f32(vdupq_n_f32(2.0f), x[r]));
            cell[r] = vcvtq_s32_f32(vmulq_f32(vaddq_f32(xc, vdupq_n_f32(1.0f)), vdupq_n_f32(16.0f)));
            v[r] = x[r];
        } else {
            v[r] = vabsq_f32(x[r]);
            neg[r] = vcltq_f32(x[r], vdupq_n_f32(0.0f));
            cell[r] = vcvtq_s32_f32(vmulq_f32(vminq_f32(vdupq_n_f32(2.0f), v[r]), vdupq_n_f32(16.0f)));
        }
    }
    cb = vcombine_u8(vqmovun_s16(vcombine_s16(vqmovn_s32(cell[0]), vqmovn_s32(cell[1]))),
                     vqmovun_s16(vcombine_s16(vqmovn_s32(cell[2]), vqmovn_s32(cell[3]))));
    cb = vminq_u8(cb, vdupq_n_u8(nf4 ? 31 : 15));
    c = vqtbl2q_u8(g->below, cb);
    bnbq__n_unplane(vqtbl2q_u8(g->thr[0], cb), vqtbl2q_u8(g->thr[1], cb), vqtbl2q_u8(g->thr[2], cb),
                    vqtbl2q_u8(g->thr[3], cb), t);
    c = vsubq_u8(c, bnbq__n_gt(v, t));
    if (!nf4)
        c = vorrq_u8(vqtbl1q_u8(g->c2c, c),
                     vandq_u8(bnbq__n_narrow(neg[0], neg[1], neg[2], neg[3]), vdupq_n_u8(8)));
    return c;
}

static void bnbq__n_quantize_4bit(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    const int nf4 = t->qt == BNBQ_NF4, nt = nf4 ? 15 : 7;
    float32x4_t thr[15];
    uint8_t c2c_b[16];
    uint8x16_t c2c, cb[2];
    bnbq__zq4 zg;
    bnbq__nq4 g;
    const int grid = bnbq__zq4_init(t->qt, &zg);
    size_t b, k;
    int i, h, r;
    for (i = 0; i < nt; i++) thr[i] = vdupq_n_f32(nf4 ? bnbq__nf4_thresholds[i] : bnbq__fp4_thresholds[i]);
    for (i = 0; i < 16; i++) c2c_b[i] = i < 8 ? bnbq__fp4_count_to_code[i] : 0;
    c2c = vld1q_u8(c2c_b);
    if (grid) bnbq__n_q4_init(&zg, &g);
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs;
        float m = bnbq__n_absmax(t->dt, t->x, start, start + t->bs), inv = 1.0f / m;
        const float32x4_t vinv = vdupq_n_f32(inv);
        t->absmax[b] = m;
        for (k = start; k < start + t->bs; k += 32) {      /* bs >= 32 */
            for (h = 0; h < 2; h++) {
                float32x4_t x[4];
                uint32x4_t c[4], neg[4];
                for (r = 0; r < 4; r++)
                    x[r] = vmulq_f32(bnbq__n_load(t->dt, t->x, k + 16 * (size_t)h + 4 * (size_t)r), vinv);
                if (grid) { cb[h] = bnbq__n_quant4_grid(nf4, &g, x); continue; }
                for (r = 0; r < 4; r++) {
                    if (nf4) {
                        c[r] = bnbq__n_count(x[r], thr, 15);
                    } else {
                        neg[r] = vcltq_f32(x[r], vdupq_n_f32(0.0f));
                        c[r] = bnbq__n_count(vabsq_f32(x[r]), thr, 7);
                    }
                }
                cb[h] = bnbq__n_narrow(c[0], c[1], c[2], c[3]);
                if (!nf4)
                    cb[h] = vorrq_u8(vqtbl1q_u8(c2c, cb[h]),
                                     vandq_u8(bnbq__n_narrow(neg[0], neg[1], neg[2], neg[3]), vdupq_n_u8(8)));
            }
            /* element 2j in the high nibble of byte j, 2j + 1 in the low one */
            vst1q_u8(t->q + k / 2, vorrq_u8(vshlq_n_u8(vuzp1q_u8(cb[0], cb[1]), 4), vuzp2q_u8(cb[0], cb[1])));
        }
    }
}

/* LLM.int8 row-wise quantization of one row (bnbq__cpu_vectorwise_range), 8 columns at a time,
   the rest as the reference; 0: left to the scalar code (a product could reach bnbq__rint's
   saturating range: a guard, as in the x86 paths; with f16 inputs every kept |v| <= m, so
   |v * s| stays near 127). */
static int bnbq__n_vectorwise_row(const uint16_t* a, size_t cols, float thr, int8_t* q, float* out_m) {
    const float32x4_t vthr = vdupq_n_f32(thr), big = vdupq_n_f32(4194304.0f);
    float32x4_t m0 = vdupq_n_f32(0.0f), m1 = m0, vs;
    int use_thr = thr > 0.0f;
    size_t c, full = cols & ~(size_t)7;
    float s, mx;
    for (c = 0; c < full; c += 8) {
        float32x4_t v0 = vabsq_f32(bnbq__n_load(BNBQ_F16, a, c)), v1 = vabsq_f32(bnbq__n_load(BNBQ_F16, a, c + 4));
        uint32x4_t k0 = vcgtq_f32(v0, m0), k1 = vcgtq_f32(v1, m1);   /* NaN never wins */
        if (use_thr) { k0 = vandq_u32(k0, vcltq_f32(v0, vthr)); k1 = vandq_u32(k1, vcltq_f32(v1, vthr)); }
        m0 = vbslq_f32(k0, v0, m0);
        m1 = vbslq_f32(k1, v1, m1);
    }
    mx = vmaxvq_f32(vmaxq_f32(m0, m1));
    for (; c < cols; c++) {
        float v = bnbq__absf(bnbq_f16_to_f32(a[c]));
        if (use_thr && v >= thr) continue;
        if (v > mx) mx = v;
    }
    *out_m = mx;
    s = 127.0f * (1.0f / mx);
    vs = vdupq_n_f32(s);
    for (c = 0; c < full; c += 8) {
        float32x4_t v0 = bnbq__n_load(BNBQ_F16, a, c), v1 = bnbq__n_load(BNBQ_F16, a, c + 4);
        float32x4_t y0 = vmulq_f32(v0, vs), y1 = vmulq_f32(v1, vs);
        uint32x4_t bad0 = vcageq_f32(y0, big), bad1 = vcageq_f32(y1, big);
        /* FCVTNS: round to nearest even, NaN -> 0, as bnbq__rint below 2^22 */
        int32x4_t r0 = vcvtnq_s32_f32(y0), r1 = vcvtnq_s32_f32(y1);
        if (use_thr) {   /* outliers (|v| >= thr) are 0 whatever their product */
            uint32x4_t o0 = vcageq_f32(v0, vthr), o1 = vcageq_f32(v1, vthr);
            bad0 = vbicq_u32(bad0, o0); bad1 = vbicq_u32(bad1, o1);
            r0 = vbicq_s32(r0, vreinterpretq_s32_u32(o0)); r1 = vbicq_s32(r1, vreinterpretq_s32_u32(o1));
        }
        if (vmaxvq_u32(vorrq_u32(bad0, bad1))) return 0;
        /* the reference's (int8_t) cast: the low byte */
        vst1_s8(q + c, vmovn_s16(vcombine_s16(vmovn_s32(r0), vmovn_s32(r1))));
    }
    for (; c < cols; c++) {
        float v = bnbq_f16_to_f32(a[c]);
        if (use_thr && bnbq__absf(v) >= thr) { q[c] = 0; continue; }
        {
            BNBQ__FLT_TMP float y = v * s;
            q[c] = (int8_t)bnbq__rint(y);
        }
    }
    return 1;
}

/* f32 -> f16 / bf16 -> f32 of 4 values as bnbq__round_to's conversions round them (RNE; a NaN
   stays a NaN) */
static float32x4_t bnbq__n_round16(bnbq_dtype dt, float32x4_t x) {
    if (dt == BNBQ_F16) return vcvt_f32_f16(vcvt_f16_f32(x));
    {
        uint32x4_t u = vreinterpretq_u32_f32(x);
        uint32x4_t r = vaddq_u32(u, vaddq_u32(vdupq_n_u32(0x7fffu),
                                              vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1u))));
        r = vbslq_u32(vceqq_f32(x, x), r, vorrq_u32(u, vdupq_n_u32(0x00400000u)));
        return vreinterpretq_f32_u32(vandq_u32(r, vdupq_n_u32(0xffff0000u)));
    }
}

/* 4-bit GEMV (bnbq__cpu_gemv_range, bitsandbytes' kgemm_4bit_inference_naive order), as the
   AVX-512 path: the 32 lanes of the reference are 8 registers; lane L takes chunk L + 32 j in
   round j; At holds A transposed per round (element e of the 32 lanes' chunks is one load). The
   packed bytes of 16 lanes (16 bytes each) are transposed with four rounds of zips, so byte i of
   the 16 chunks is one register: its high nibbles are element 2i, its low nibbles 2i + 1, looked
   up in the code's byte planes. Each weight is qmap[nibble] * absmax and goes into its lane's
   chain in element order: F32 a fused multiply-add (the reference's fmaf); F16 / BF16 the weight
   and the product rounded to dt, then added. Lanes without a chunk in the last round keep their
   sums (bit select). The 32 sums then take the reference's tree and final rounding. */
static void bnbq__n_gemv(bnbq_dtype dt, const float* qmap, const float* At, const uint8_t* packed,
                         const float* absmax, size_t K, size_t bs, const void* bias, void* out,
                         size_t n0, size_t n1) {
    const uint8x16x4_t qp = vld4q_u8((const uint8_t*)qmap);
    size_t n, j, nch = K / 32, rounds = (nch + 31) / 32;
    int i, r, g, l, off;
    for (n = n0; n < n1; n++) {
        const uint8_t* wrow = packed + n * K / 2;
        const float* arow = absmax + n * K / bs;
        float32x4_t acc[8];
        float v[32];
        for (r = 0; r < 8; r++) acc[r] = vdupq_n_f32(0.0f);
        for (j = 0; j < rounds; j++) {
            size_t la = nch - 32 * j < 32 ? nch - 32 * j : 32;       /* active lanes */
            for (g = 0; g < 2 && (size_t)(16 * g) < la; g++) {
                uint8x16_t c[16], tr[16];
                uint32x4_t act[4];
                float32x4_t s[4];
                float sv[16];
                uint32_t av[16];
                uint8_t tmp[256];
                const uint8_t* wp = wrow + 512 * j + 256 * (size_t)g;
                size_t lg = la - 16 * (size_t)g < 16 ? la - 16 * (size_t)g : 16;  /* of these 16 */
                const float* at = At + 1024 * j + 16 * (size_t)g;
                if (lg < 16) {            /* read only the active lanes' bytes */
                    memset(tmp, 0, sizeof tmp);
                    memcpy(tmp, wp, 16 * lg);
                    wp = tmp;
                }
                for (l = 0; l < 16; l++) {
                    size_t L = 16 * (size_t)g + (size_t)l;
                    sv[l] = (size_t)l < lg ? bnbq__round_to(dt, arow[(1024 * j + 32 * L) / bs]) : 0.0f;
                    av[l] = (size_t)l < lg ? 0xffffffffu : 0u;
                    c[l] = vld1q_u8(wp + 16 * l);
                }
                for (r = 0; r < 4; r++) { s[r] = vld1q_f32(sv + 4 * r); act[r] = vld1q_u32(av + 4 * r); }
                for (r = 0; r < 4; r++) {   /* transpose: c[i] = byte i of the 16 chunks */
                    for (l = 0; l < 8; l++) { tr[2 * l] = vzip1q_u8(c[l], c[l + 8]); tr[2 * l + 1] = vzip2q_u8(c[l], c[l + 8]); }
                    memcpy(c, tr, sizeof c);
                }
                for (i = 0; i < 32; i++) {   /* element i of the 16 chunks */
                    uint8x16_t nib = (i & 1) ? vandq_u8(c[i / 2], vdupq_n_u8(0x0f)) : vshrq_n_u8(c[i / 2], 4);
                    float32x4_t q[4];
                    bnbq__n_unplane(vqtbl1q_u8(qp.val[0], nib), vqtbl1q_u8(qp.val[1], nib),
                                    vqtbl1q_u8(qp.val[2], nib), vqtbl1q_u8(qp.val[3], nib), q);
                    for (r = 0; r < 4; r++) {
                        float32x4_t a = vld1q_f32(at + 32 * i + 4 * r), w = vmulq_f32(q[r], s[r]), nv;
                        float32x4_t* ac = &acc[4 * g + r];
                        if (dt == BNBQ_F32) nv = vfmaq_f32(*ac, a, w);
                        else nv = vaddq_f32(*ac, bnbq__n_round16(dt, vmulq_f32(a, bnbq__n_round16(dt, w))));
                        *ac = vbslq_f32(act[r], nv, *ac);
                    }
                }
            }
        }
        for (r = 0; r < 8; r++) vst1q_f32(v + 4 * r, acc[r]);
        for (off = 1; off < 32; off <<= 1)
            for (i = 0; i + off < 32; i++) v[i] = v[i] + v[i + off];
        {
            float o = bnbq__round_to(dt, v[0]);
            if (bias) o = o + bnbq__load(dt, bias, n);   /* torch: out += bias */
            bnbq__store(dt, out, n, o);
        }
    }
}

/* int8 matmul tile (see bnbq__z_i8tile): smull of 8 byte pairs (each product fits int16, even
   -128 * -128), sadalp into int32 lanes (pairwise, wrapping); the k tail left to the caller. */
static size_t bnbq__n_i8tile(const int8_t* const* a, const int8_t* const* b, size_t kl, int32_t* s) {
    int32x4_t c[4][4];
    size_t k;
    int i, j;
    for (i = 0; i < 4; i++) for (j = 0; j < 4; j++) c[i][j] = vdupq_n_s32(0);
    for (k = 0; k + 16 <= kl; k += 16) {
        int8x16_t av[4];
        for (i = 0; i < 4; i++) av[i] = vld1q_s8(a[i] + k);
        for (j = 0; j < 4; j++) {
            int8x16_t bv = vld1q_s8(b[j] + k);
            for (i = 0; i < 4; i++) {
                c[i][j] = vpadalq_s16(c[i][j], vmull_s8(vget_low_s8(av[i]), vget_low_s8(bv)));
                c[i][j] = vpadalq_s16(c[i][j], vmull_high_s8(av[i], bv));
            }
        }
    }
    for (i = 0; i < 4; i++)
        vst1q_s32(s + 4 * i, vpaddq_s32(vpaddq_s32(c[i][0], c[i][1]), vpaddq_s32(c[i][2], c[i][3])));
    return k;
}

#endif /* BNBQ__NEON_SIMD */

#ifdef BNBQ_PTHREADS
#include <pthread.h>

typedef struct bnbq__pool_worker { struct bnbq_thread_pool* pool; int idx; } bnbq__pool_worker;

/* Waking a thread from a condition variable takes tens of microseconds (measured 38-56 us for an
   empty parallel-for on 2 threads of a Zen 4 machine: ~30 % of a 4096 x 4096 gemv). So the workers
   poll for the next call, and the caller for the end of the workers' shares, for
   BNBQ__POOL_SPIN pause instructions (~50 us) before they sleep on the condition variables. gen,
   pending and stop are written under mu with atomic stores and read with atomic loads; fn, task
   and count are written before gen's release store. */
#define BNBQ__POOL_SPIN 4096
static void bnbq__pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct bnbq_thread_pool {
    pthread_mutex_t mu, call_mu;
    pthread_cond_t work, done;
    int nthreads, started, stop, pending;
    unsigned long gen;
    bnbq_range_fn fn;
    void* task;
    size_t count;
    pthread_t* threads;
    bnbq__pool_worker* workers;
};

static void bnbq__pool_share(const bnbq_thread_pool* p, int idx, bnbq_range_fn fn, void* task,
                             size_t count) {
    size_t b = count / (size_t)p->nthreads * (size_t)idx + (count % (size_t)p->nthreads) * (size_t)idx / (size_t)p->nthreads;
    size_t e = count / (size_t)p->nthreads * (size_t)(idx + 1) +
               (count % (size_t)p->nthreads) * (size_t)(idx + 1) / (size_t)p->nthreads;
    if (e > b) fn(task, b, e);
}

static void* bnbq__pool_main(void* arg) {
    bnbq__pool_worker* w = (bnbq__pool_worker*)arg;
    bnbq_thread_pool* p = w->pool;
    unsigned long seen = 0;
    for (;;) {
        int i;
        for (i = 0; i < BNBQ__POOL_SPIN && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) &&
                    __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == seen; i++)
            bnbq__pool_pause();
        if (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) && __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == seen) {
            pthread_mutex_lock(&p->mu);
            while (!p->stop && p->gen == seen) pthread_cond_wait(&p->work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) break;
        seen = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
        bnbq__pool_share(p, w->idx, p->fn, p->task, p->count);
        if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&p->mu);   /* the caller may be asleep on done */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

BNBQ_API void bnbq_thread_pool_destroy(bnbq_thread_pool* p) {
    int i;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->call_mu);
    free(p->threads);
    free(p->workers);
    free(p);
}

BNBQ_API bnbq_result bnbq_thread_pool_create(int nthreads, bnbq_thread_pool** out_pool) {
    bnbq_thread_pool* p;
    int i;
    if (!out_pool) return BNBQ_ERROR_NULL_POINTER;
    *out_pool = NULL;
    if (nthreads < 1 || nthreads > 1024) return BNBQ_ERROR_INVALID_ARGS;
    p = (bnbq_thread_pool*)calloc(1, sizeof *p);
    if (!p) return BNBQ_ERROR_OUT_OF_MEMORY;
    p->nthreads = nthreads;
    p->threads = (pthread_t*)calloc((size_t)nthreads, sizeof(pthread_t));
    p->workers = (bnbq__pool_worker*)calloc((size_t)nthreads, sizeof(bnbq__pool_worker));
    if (!p->threads || !p->workers) { free(p->threads); free(p->workers); free(p); return BNBQ_ERROR_OUT_OF_MEMORY; }
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->call_mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (i = 1; i < nthreads; i++) {
        p->workers[i - 1].pool = p;
        p->workers[i - 1].idx = i;
        if (pthread_create(&p->threads[i - 1], NULL, bnbq__pool_main, &p->workers[i - 1]) != 0) {
            bnbq_thread_pool_destroy(p);
            return BNBQ_ERROR_OUT_OF_MEMORY;
        }
        p->started++;
    }
    *out_pool = p;
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_thread_pool_parallel_for(void* pool, bnbq_range_fn fn, void* task, size_t count) {
    bnbq_thread_pool* p = (bnbq_thread_pool*)pool;
    int i;
    if (count == 0) return;
    if (!p || p->nthreads == 1 || count == 1) { fn(task, 0, count); return; }
    pthread_mutex_lock(&p->call_mu);
    pthread_mutex_lock(&p->mu);
    p->fn = fn; p->task = task; p->count = count;
    __atomic_store_n(&p->pending, p->nthreads - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->work);   /* for the workers that stopped polling */
    pthread_mutex_unlock(&p->mu);
    bnbq__pool_share(p, 0, fn, task, count);
    for (i = 0; i < BNBQ__POOL_SPIN && __atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0; i++)
        bnbq__pool_pause();
    if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0) {
        pthread_mutex_lock(&p->mu);
        while (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->call_mu);
}
#endif /* BNBQ_PTHREADS */

/* Dispatch from the CPU kernels: a SIMD level does the full blocks of [b0, b1) and returns where
   the scalar loop goes on (b1, or the partial last block, or b0 when no SIMD level runs). */
static size_t bnbq__simd_full_end(const bnbq__task_blockwise* t, size_t b0, size_t b1) {
    size_t nf = t->n / t->bs;
    return b1 < nf ? b1 : (nf > b0 ? nf : b0);
}
#if defined(BNBQ__X86_SIMD)
#define BNBQ__SIMD_BLOCKS(name) \
    static size_t bnbq__simd_##name(const bnbq__task_blockwise* t, size_t b0, size_t b1) { \
        size_t e = bnbq__simd_full_end(t, b0, b1); \
        int lv = e > b0 ? bnbq__simd() : BNBQ_SIMD_SCALAR; \
        if (lv >= BNBQ_SIMD_AVX512) { bnbq__z_##name(t, b0, e); return e; } \
        if (lv >= BNBQ_SIMD_AVX2) { bnbq__y_##name(t, b0, e); return e; } \
        return b0; \
    }
#elif defined(BNBQ__NEON_SIMD)
#define BNBQ__SIMD_BLOCKS(name) \
    static size_t bnbq__simd_##name(const bnbq__task_blockwise* t, size_t b0, size_t b1) { \
        size_t e = bnbq__simd_full_end(t, b0, b1); \
        if (e > b0 && bnbq__simd() == BNBQ_SIMD_NEON) { bnbq__n_##name(t, b0, e); return e; } \
        return b0; \
    }
#else
#define BNBQ__SIMD_BLOCKS(name) \
    static size_t bnbq__simd_##name(const bnbq__task_blockwise* t, size_t b0, size_t b1) { \
        (void)t; (void)b1; (void)bnbq__simd_full_end; return b0; \
    }
#endif
BNBQ__SIMD_BLOCKS(quantize_blockwise)
BNBQ__SIMD_BLOCKS(dequantize_blockwise)
BNBQ__SIMD_BLOCKS(quantize_4bit)
BNBQ__SIMD_BLOCKS(dequantize_4bit)
#undef BNBQ__SIMD_BLOCKS

/* gemv rows [n0, n1) (bnbq__cpu_gemv_range); 0: left to the scalar code. */
static int bnbq__simd_gemv(bnbq_dtype dt, const float* qmap, const void* A, const uint8_t* packed,
                           const float* absmax, size_t K, size_t bs, const void* bias, void* out,
                           size_t n0, size_t n1) {
#if defined(BNBQ__X86_SIMD) || defined(BNBQ__NEON_SIMD)
    size_t nch = K / 32, rounds = (nch + 31) / 32, j, e, L;
    float* At;
#if defined(BNBQ__X86_SIMD)
    int lv = bnbq__simd();
    if (lv < BNBQ_SIMD_AVX2 || (lv == BNBQ_SIMD_AVX2 && !__builtin_cpu_supports("fma")) ||
        K % 32 != 0 || K > ((size_t)1 << 30))
        return 0;
#else
    if (bnbq__simd() != BNBQ_SIMD_NEON || K % 32 != 0 || K > ((size_t)1 << 30)) return 0;
#endif
    At = (float*)malloc(rounds * 1024 * sizeof(float));     /* A as floats, transposed per round */
    if (!At) return 0;
    for (j = 0; j < rounds; j++)
        for (e = 0; e < 32; e++)
            for (L = 0; L < 32; L++) {
#if defined(BNBQ__X86_SIMD)
                /* register lane L of a round is the reference's lane 16 (L / 16) + 4 (L % 4) + L % 16 / 4
                   (AVX-512), 8 (L / 8) + 2 (L % 4) + L % 8 / 4 (AVX2) */
                size_t k = 1024 * j + e + 32 * (lv == BNBQ_SIMD_AVX2 ? 8 * (L / 8) + 2 * (L % 4) + (L % 8) / 4
                                                                     : 16 * (L / 16) + 4 * (L % 4) + (L % 16) / 4);
#else
                size_t k = 1024 * j + 32 * L + e;
#endif
                At[1024 * j + 32 * e + L] = k < K ? bnbq__load(dt, A, k) : 0.0f;
            }
#if defined(BNBQ__X86_SIMD)
    if (lv == BNBQ_SIMD_AVX2) bnbq__y_gemv(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
    else bnbq__z_gemv(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
#else
    bnbq__n_gemv(dt, qmap, At, packed, absmax, K, bs, bias, out, n0, n1);
#endif
    free(At);
    return 1;
#else
    (void)dt; (void)qmap; (void)A; (void)packed; (void)absmax; (void)K; (void)bs; (void)bias;
    (void)out; (void)n0; (void)n1;
    return 0;
#endif
}

/* one LLM.int8 row; 0: not done (no SIMD, or a value the scalar code must saturate) */
static int bnbq__simd_vectorwise_row(const uint16_t* a, size_t cols, float thr, int8_t* q,
                                     float* out_m) {
#if defined(BNBQ__X86_SIMD)
    int lv = bnbq__simd();
    if (lv >= BNBQ_SIMD_AVX512) return bnbq__z_vectorwise_row(a, cols, thr, q, out_m);
    if (lv >= BNBQ_SIMD_AVX2) return bnbq__y_vectorwise_row(a, cols, thr, q, out_m);
#elif defined(BNBQ__NEON_SIMD)
    if (bnbq__simd() == BNBQ_SIMD_NEON) return bnbq__n_vectorwise_row(a, cols, thr, q, out_m);
#else
    (void)a; (void)cols; (void)thr; (void)q; (void)out_m;
#endif
    return 0;
}

/* ---- int8 matmul (bnbq_int8_linear_matmul) on a SIMD level ----
   out (M, N) = A (M, K) B (N, K)^T modulo 2^32, the bytes of bnbq__dot_i8: tiles of 4 rows of A
   by 4 rows of B (bnbq__*_i8tile, the caller repeating the last row of a partial tile), over
   blocks of BNBQ__I8_KC bytes of K (a later block adds its sums to out: a wrapping sum does not
   depend on the order), in panels of BNBQ__I8_NC rows of B (NC * KC bytes stay in L2 while every
   4-row strip of A passes over them; the strip's KC-byte rows stay in L1). The work is cut along
   N (units of 16 rows of B), or along M (units of 4 rows of A) when N is small next to M. */
#if defined(BNBQ__X86_SIMD) || defined(BNBQ__NEON_SIMD)
typedef size_t (*bnbq__i8tile_fn)(const int8_t* const*, const int8_t* const*, size_t, int32_t*);
typedef struct bnbq__task_i8mm {
    const int8_t* A; const int8_t* B; size_t M, N, K; int32_t* out;
    const uint32_t* corr;   /* NULL, or per row of A what the tile adds to it (VNNI: 128 * row sum) */
    bnbq__i8tile_fn tile;
    int by_n;
} bnbq__task_i8mm;

#ifndef BNBQ__I8_KC
#define BNBQ__I8_KC 4096
#endif
#ifndef BNBQ__I8_NC
#define BNBQ__I8_NC 64
#endif

static int32_t bnbq__i8_wrap(uint32_t u) {
    return u <= 0x7fffffffu ? (int32_t)u : -(int32_t)(~u) - 1;
}

static void bnbq__i8mm_range(void* task, size_t u0, size_t u1) {
    const bnbq__task_i8mm* t = (const bnbq__task_i8mm*)task;
    size_t m0 = 0, m1 = t->M, n0 = 0, n1 = t->N, K = t->K, nc, kb, m, n;
    if (t->by_n) { n0 = u0 * 16; n1 = u1 * 16 < t->N ? u1 * 16 : t->N; }
    else { m0 = u0 * 4; m1 = u1 * 4 < t->M ? u1 * 4 : t->M; }
    for (nc = n0; nc < n1; nc += BNBQ__I8_NC) {
        size_t ne = n1 - nc < BNBQ__I8_NC ? n1 : nc + BNBQ__I8_NC;
        for (kb = 0; kb < K; kb += BNBQ__I8_KC) {
            size_t kl = K - kb < BNBQ__I8_KC ? K - kb : BNBQ__I8_KC;
            for (m = m0; m < m1; m += 4)
                for (n = nc; n < ne; n += 4) {
                    const int8_t* ap[4];
                    const int8_t* bp[4];
                    int32_t s[16];
                    size_t i, j, k, kv;
                    for (i = 0; i < 4; i++) {
                        ap[i] = t->A + (m + i < m1 ? m + i : m1 - 1) * K + kb;
                        bp[i] = t->B + (n + i < ne ? n + i : ne - 1) * K + kb;
                    }
                    kv = t->tile(ap, bp, kl, s);
                    for (i = 0; i < 4 && m + i < m1; i++)
                        for (j = 0; j < 4 && n + j < ne; j++) {
                            uint32_t v = (uint32_t)s[4 * i + j];
                            int32_t* o = t->out + (m + i) * t->N + n + j;
                            for (k = kv; k < kl; k++) v += (uint32_t)((int32_t)ap[i][k] * (int32_t)bp[j][k]);
                            if (kb) v += (uint32_t)*o;
                            else if (t->corr) v -= t->corr[m + i];
                            *o = bnbq__i8_wrap(v);
                        }
                }
        }
    }
}

#endif

/* 0: left to the scalar code (no SIMD level, or no memory for the VNNI row sums) */
static int bnbq__simd_int8_matmul(bnbq_exec* ex, const int8_t* A, const int8_t* B, size_t M,
                                  size_t N, size_t K, int32_t* out) {
#if defined(BNBQ__X86_SIMD) || defined(BNBQ__NEON_SIMD)
    bnbq__task_i8mm t;
    uint32_t* corr = NULL;
    int lv = bnbq__simd();
    memset(&t, 0, sizeof t);
#if defined(BNBQ__X86_SIMD)
    if (lv >= BNBQ_SIMD_AVX512 && __atomic_load_n(&bnbq__simd_vnni, __ATOMIC_RELAXED)) {
        size_t m;
        corr = (uint32_t*)malloc(M * sizeof(uint32_t));
        if (!corr) return 0;
        for (m = 0; m < M; m++) corr[m] = bnbq__zn_rowsum(A + m * K, K) << 7;
        t.tile = bnbq__zn_i8tile;
    } else if (lv >= BNBQ_SIMD_AVX512) t.tile = bnbq__z_i8tile;
    else if (lv >= BNBQ_SIMD_AVX2) t.tile = bnbq__y_i8tile;
#else
    if (lv == BNBQ_SIMD_NEON) t.tile = bnbq__n_i8tile;
#endif
    if (!t.tile) return 0;
    t.A = A; t.B = B; t.M = M; t.N = N; t.K = K; t.out = out; t.corr = corr;
    t.by_n = N >= 64 || N >= M;
    bnbq__parallel(ex, bnbq__i8mm_range, &t, t.by_n ? (N + 15) / 16 : (M + 3) / 4);
    free(corr);
    return 1;
#else
    (void)ex; (void)A; (void)B; (void)M; (void)N; (void)K; (void)out;
    return 0;
#endif
}


/* absmax of elements [start, end) (NaN never wins: fmaxf semantics) */
static float bnbq__block_absmax(bnbq_dtype dt, const void* x, size_t start, size_t end) {
    float buf[BNBQ__CHUNK];
    float m = 0.0f;
    size_t i, k;
    for (i = start; i < end; i += BNBQ__CHUNK) {
        size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
        bnbq__load_chunk(dt, x, i, cnt, buf);
        for (k = 0; k < cnt; k++) {
            float a = bnbq__absf(buf[k]);
            m = a > m ? a : m;
        }
    }
    return m;
}

static void bnbq__cpu_quantize_blockwise_range(void* task, size_t b0, size_t b1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK];
    size_t b, i;
    b0 = bnbq__simd_quantize_blockwise(t, b0, b1);   /* SIMD levels: the full blocks */
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs, end = start + t->bs < t->n ? start + t->bs : t->n;
        float m = bnbq__block_absmax(t->dt, t->x, start, end);
        float inv = 1.0f / m;                 /* IEEE reciprocal; 0 -> inf -> NaN -> code 0 */
        t->absmax[b] = m;
        for (i = start; i < end; i += BNBQ__CHUNK) {
            size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
            bnbq__load_chunk(t->dt, t->x, i, cnt, buf);
            bnbq__code_index_scaled(t->code, buf, inv, cnt, t->q + i);
        }
    }
}

static void bnbq__cpu_dequantize_blockwise_range(void* task, size_t b0, size_t b1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK];
    size_t b, i, k;
    b0 = bnbq__simd_dequantize_blockwise(t, b0, b1);   /* SIMD levels: the full blocks */
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs, end = start + t->bs < t->n ? start + t->bs : t->n;
        float a = t->cabsmax[b];
        for (i = start; i < end; i += BNBQ__CHUNK) {
            size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
            for (k = 0; k < cnt; k++) buf[k] = t->code[t->cq[i + k]] * a;
            bnbq__store_chunk(t->dt, t->out, i, cnt, buf);
        }
    }
}

static int bnbq__quant4(bnbq_quant_type qt, float x) {
    return qt == BNBQ_NF4 ? bnbq__nf4_index(x) : bnbq__fp4_index(x);
}

static void bnbq__cpu_quantize_4bit_range(void* task, size_t b0, size_t b1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK + 1];
    size_t b, i, k;
    b0 = bnbq__simd_quantize_4bit(t, b0, b1);   /* SIMD levels: the full blocks */
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs, end = start + t->bs < t->n ? start + t->bs : t->n;
        float m = bnbq__block_absmax(t->dt, t->x, start, end);
        float inv = 1.0f / m;
        t->absmax[b] = m;
        /* pairs (2j, 2j+1); start is even. A missing element past n is a loaded 0.0, scaled and
           quantized like the others, as in the CUDA kernel. */
        for (i = start; i < end; i += BNBQ__CHUNK) {
            size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
            bnbq__load_chunk(t->dt, t->x, i, cnt, buf);
            if (cnt & 1) buf[cnt] = 0.0f;
            for (k = 0; k < cnt; k += 2) {
                BNBQ__FLT_TMP float hi = buf[k] * inv;
                BNBQ__FLT_TMP float lo = buf[k + 1] * inv;
                t->q[(i + k) / 2] = (uint8_t)((bnbq__quant4(t->qt, hi) << 4) | bnbq__quant4(t->qt, lo));
            }
        }
    }
}

/* The dequantized value of a nibble before rounding to the output dtype. */
static float bnbq__dequant4(bnbq_quant_type qt, int c, float absmax) {
    if (qt == BNBQ_NF4) return bnbq__code_nf4[c] * absmax;
    return bnbq_fp4_value(c) * absmax;
}

static void bnbq__cpu_dequantize_4bit_range(void* task, size_t b0, size_t b1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK];
    float lut[16];
    size_t b, i, k;
    int c;
    b0 = bnbq__simd_dequantize_4bit(t, b0, b1);   /* SIMD levels: the full blocks */
    for (b = b0; b < b1; b++) {
        size_t start = b * t->bs, end = start + t->bs < t->n ? start + t->bs : t->n;
        for (c = 0; c < 16; c++) lut[c] = bnbq__dequant4(t->qt, c, t->cabsmax[b]);
        for (i = start; i < end; i += BNBQ__CHUNK) {
            size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
            for (k = 0; k < cnt; k++) {
                size_t e = i + k;
                buf[k] = lut[(t->cq[e / 2] >> ((e & 1) ? 0 : 4)) & 15];
            }
            bnbq__store_chunk(t->dt, t->out, i, cnt, buf);
        }
    }
}

/* ---- 8-bit blockwise ---------------------------------------------------------------------------- */

static bnbq_result bnbq__check_floats_in(bnbq_exec* ex, const char* bnbq__func, bnbq_dtype dt,
                                         const void* x, size_t n) {
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(x != NULL, BNBQ_ERROR_NULL_POINTER, "input tensor is NULL");
    BNBQ__REQUIRE(n > 0, BNBQ_ERROR_BAD_SHAPE, "n is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(n, 1, bnbq_dtype_size(dt), NULL), BNBQ_ERROR_OVERFLOW,
                  "n elements overflow size_t bytes");
    BNBQ__REQUIRE(bnbq__aligned(x, bnbq_dtype_size(dt)), BNBQ_ERROR_MISALIGNED,
                  "input tensor is not aligned to its element size");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_quantize_blockwise(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                             const void* x, size_t n, int blocksize,
                                             uint8_t* out_q, float* out_absmax) {
    static const char* bnbq__func = "bnbq_quantize_blockwise";
    bnbq__task_blockwise t;
    bnbq_result r = bnbq__check_floats_in(ex, bnbq__func, dt, x, n);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(out_q && out_absmax, BNBQ_ERROR_NULL_POINTER, "out_q or out_absmax is NULL");
    BNBQ__REQUIRE(bnbq__aligned(out_absmax, 4), BNBQ_ERROR_MISALIGNED, "out_absmax is misaligned");
    BNBQ__REQUIRE(bnbq__blocksize8_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "8-bit blocksize must be a power of two from 64 to 4096 (CPU: or larger)");
    BNBQ__REQUIRE(bnbq__aligned(code, 4), BNBQ_ERROR_MISALIGNED, "code is misaligned");
    if (!code) code = bnbq__code_dynamic_signed;
    BNBQ__REQUIRE(bnbq__code_sorted(code), BNBQ_ERROR_BAD_CODE,
                  "code must hold 256 ascending values without NaN");
    BNBQ__DISPATCH(quantize_blockwise, (ex, code, dt, x, n, blocksize, out_q, out_absmax));
    memset(&t, 0, sizeof t);
    t.code = code; t.dt = dt; t.x = x; t.n = n; t.bs = (size_t)blocksize;
    t.q = out_q; t.absmax = out_absmax;
    bnbq__parallel(ex, bnbq__cpu_quantize_blockwise_range, &t, n / t.bs + (n % t.bs != 0));
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_dequantize_blockwise(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                               const uint8_t* q, const float* absmax, size_t n,
                                               int blocksize, void* out) {
    static const char* bnbq__func = "bnbq_dequantize_blockwise";
    bnbq__task_blockwise t;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(q && absmax && out, BNBQ_ERROR_NULL_POINTER, "q, absmax or out is NULL");
    BNBQ__REQUIRE(n > 0, BNBQ_ERROR_BAD_SHAPE, "n is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(n, 1, bnbq_dtype_size(dt), NULL), BNBQ_ERROR_OVERFLOW,
                  "n elements overflow size_t bytes");
    BNBQ__REQUIRE(bnbq__aligned(absmax, 4) && bnbq__aligned(out, bnbq_dtype_size(dt)),
                  BNBQ_ERROR_MISALIGNED, "absmax or out is misaligned");
    BNBQ__REQUIRE(bnbq__blocksize8_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "8-bit blocksize must be a power of two from 64 to 4096 (CPU: or larger)");
    BNBQ__REQUIRE(bnbq__aligned(code, 4), BNBQ_ERROR_MISALIGNED, "code is misaligned");
    if (!code) code = bnbq__code_dynamic_signed;
    BNBQ__DISPATCH(dequantize_blockwise, (ex, code, dt, q, absmax, n, blocksize, out));
    memset(&t, 0, sizeof t);
    t.code = code; t.dt = dt; t.n = n; t.bs = (size_t)blocksize;
    t.cq = q; t.cabsmax = absmax; t.out = out;
    bnbq__parallel(ex, bnbq__cpu_dequantize_blockwise_range, &t, n / t.bs + (n % t.bs != 0));
    return BNBQ_SUCCESS;
}

/* ---- 4-bit -------------------------------------------------------------------------------------- */

BNBQ_API bnbq_result bnbq_quantize_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                        const void* x, size_t n, int blocksize,
                                        uint8_t* out_packed, float* out_absmax) {
    static const char* bnbq__func = "bnbq_quantize_4bit";
    bnbq__task_blockwise t;
    bnbq_result r;
    BNBQ__REQUIRE(qt == BNBQ_NF4 || qt == BNBQ_FP4, BNBQ_ERROR_BAD_QUANT_TYPE,
                  "quant type must be BNBQ_NF4 or BNBQ_FP4");
    r = bnbq__check_floats_in(ex, bnbq__func, dt, x, n);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(out_packed && out_absmax, BNBQ_ERROR_NULL_POINTER,
                  "out_packed or out_absmax is NULL");
    BNBQ__REQUIRE(bnbq__aligned(out_absmax, 4), BNBQ_ERROR_MISALIGNED, "out_absmax is misaligned");
    BNBQ__REQUIRE(bnbq__blocksize4_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "4-bit blocksize must be a power of two from 32 to 4096 (CPU: or larger)");
    BNBQ__DISPATCH(quantize_4bit, (ex, qt, dt, x, n, blocksize, out_packed, out_absmax));
    memset(&t, 0, sizeof t);
    t.qt = qt; t.dt = dt; t.x = x; t.n = n; t.bs = (size_t)blocksize;
    t.q = out_packed; t.absmax = out_absmax;
    bnbq__parallel(ex, bnbq__cpu_quantize_4bit_range, &t, n / t.bs + (n % t.bs != 0));
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_dequantize_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                          const uint8_t* packed, const float* absmax, size_t n,
                                          int blocksize, void* out) {
    static const char* bnbq__func = "bnbq_dequantize_4bit";
    bnbq__task_blockwise t;
    BNBQ__REQUIRE(qt == BNBQ_NF4 || qt == BNBQ_FP4, BNBQ_ERROR_BAD_QUANT_TYPE,
                  "quant type must be BNBQ_NF4 or BNBQ_FP4");
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(packed && absmax && out, BNBQ_ERROR_NULL_POINTER,
                  "packed, absmax or out is NULL");
    BNBQ__REQUIRE(n > 0, BNBQ_ERROR_BAD_SHAPE, "n is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(n, 1, bnbq_dtype_size(dt), NULL), BNBQ_ERROR_OVERFLOW,
                  "n elements overflow size_t bytes");
    BNBQ__REQUIRE(bnbq__aligned(absmax, 4) && bnbq__aligned(out, bnbq_dtype_size(dt)),
                  BNBQ_ERROR_MISALIGNED, "absmax or out is misaligned");
    BNBQ__REQUIRE(bnbq__blocksize4_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "4-bit blocksize must be a power of two from 32 to 4096 (CPU: or larger)");
    BNBQ__DISPATCH(dequantize_4bit, (ex, qt, dt, packed, absmax, n, blocksize, out));
    memset(&t, 0, sizeof t);
    t.qt = qt; t.dt = dt; t.n = n; t.bs = (size_t)blocksize;
    t.cq = packed; t.cabsmax = absmax; t.out = out;
    bnbq__parallel(ex, bnbq__cpu_dequantize_4bit_range, &t, n / t.bs + (n % t.bs != 0));
    return BNBQ_SUCCESS;
}

/* ---- nested statistics -------------------------------------------------------------------------- */

BNBQ_API bnbq_result bnbq_nested_offset(bnbq_exec* ex, const float* absmax, size_t nblocks,
                                        float* out_offset) {
    static const char* bnbq__func = "bnbq_nested_offset";
    double s = 0.0;
    size_t c, b;
    BNBQ__REQUIRE(absmax && out_offset, BNBQ_ERROR_NULL_POINTER, "absmax or out_offset is NULL");
    BNBQ__REQUIRE(nblocks > 0, BNBQ_ERROR_BAD_SHAPE, "nblocks is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(nblocks, 1, 4, NULL), BNBQ_ERROR_OVERFLOW, "nblocks overflows");
    BNBQ__REQUIRE(bnbq__aligned(absmax, 4) && bnbq__aligned(out_offset, 4), BNBQ_ERROR_MISALIGNED,
                  "absmax or out_offset is misaligned");
    BNBQ__DISPATCH(nested_offset, (ex, absmax, nblocks, out_offset));
    /* sequential double sums over chunks of 1024 blocks, chunk sums added in order (3.1) */
    for (c = 0; c < nblocks; c += 1024) {
        double part = 0.0;
        size_t e = c + 1024 < nblocks ? c + 1024 : nblocks;
        for (b = c; b < e; b++) part += (double)absmax[b];
        s += part;
    }
    out_offset[0] = bnbq__canon((float)(s / (double)nblocks));
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_nested {
    const float* code; const float* absmax; size_t nblocks; size_t nbs; float offset;
    uint8_t* q; float* nabs; const uint8_t* cq; const float* cnabs; float* out;
} bnbq__task_nested;

static void bnbq__cpu_quantize_nested_range(void* task, size_t k0, size_t k1) {
    const bnbq__task_nested* t = (const bnbq__task_nested*)task;
    size_t k, b;
    for (k = k0; k < k1; k++) {
        size_t start = k * t->nbs, end = start + t->nbs < t->nblocks ? start + t->nbs : t->nblocks;
        float m = 0.0f, inv;
        for (b = start; b < end; b++) {
            float a = bnbq__absf(t->absmax[b] - t->offset);
            if (a > m) m = a;
        }
        t->nabs[k] = m;
        inv = 1.0f / m;
        for (b = start; b < end; b++) {
            BNBQ__FLT_TMP float d = t->absmax[b] - t->offset;
            BNBQ__FLT_TMP float xh = d * inv;
            t->q[b] = (uint8_t)bnbq__code_index(t->code, xh);
        }
    }
}

static void bnbq__cpu_dequantize_nested_range(void* task, size_t b0, size_t b1) {
    const bnbq__task_nested* t = (const bnbq__task_nested*)task;
    size_t b;
    for (b = b0; b < b1; b++) {
        BNBQ__FLT_TMP float v = t->code[t->cq[b]] * t->cnabs[b / t->nbs];
        t->out[b] = bnbq__canon(v + t->offset);
    }
}

static bnbq_result bnbq__check_nested(bnbq_exec* ex, const char* bnbq__func, const void* a,
                                      const void* b, size_t nblocks, int nbs, const float* offset,
                                      const void* o1) {
    BNBQ__REQUIRE(a && b && offset && o1, BNBQ_ERROR_NULL_POINTER,
                  "a tensor argument is NULL");
    BNBQ__REQUIRE(nblocks > 0, BNBQ_ERROR_BAD_SHAPE, "nblocks is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(nblocks, 1, 4, NULL), BNBQ_ERROR_OVERFLOW, "nblocks overflows");
    BNBQ__REQUIRE(bnbq__aligned(offset, 4), BNBQ_ERROR_MISALIGNED, "offset is misaligned");
    BNBQ__REQUIRE(bnbq__blocksize8_ok(ex, nbs), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "nested blocksize must be a power of two from 64 to 4096 (CPU: or larger)");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_quantize_nested(bnbq_exec* ex, const float* nested_code,
                                          const float* absmax, size_t nblocks,
                                          int nested_blocksize, const float* offset,
                                          uint8_t* out_absmax_q, float* out_nested_absmax) {
    static const char* bnbq__func = "bnbq_quantize_nested";
    bnbq__task_nested t;
    bnbq_result r = bnbq__check_nested(ex, bnbq__func, absmax, out_absmax_q, nblocks,
                                       nested_blocksize, offset, out_nested_absmax);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(bnbq__aligned(absmax, 4) && bnbq__aligned(out_nested_absmax, 4),
                  BNBQ_ERROR_MISALIGNED, "absmax or out_nested_absmax is misaligned");
    BNBQ__REQUIRE(bnbq__aligned(nested_code, 4), BNBQ_ERROR_MISALIGNED,
                  "nested_code is misaligned");
    if (!nested_code) nested_code = bnbq__code_dynamic_signed;
    BNBQ__REQUIRE(bnbq__code_sorted(nested_code), BNBQ_ERROR_BAD_CODE,
                  "nested_code must hold 256 ascending values without NaN");
    BNBQ__DISPATCH(quantize_nested, (ex, nested_code, absmax, nblocks, nested_blocksize, offset,
                                     out_absmax_q, out_nested_absmax));
    memset(&t, 0, sizeof t);
    t.code = nested_code; t.absmax = absmax; t.nblocks = nblocks; t.nbs = (size_t)nested_blocksize;
    t.offset = offset[0]; t.q = out_absmax_q; t.nabs = out_nested_absmax;
    bnbq__parallel(ex, bnbq__cpu_quantize_nested_range, &t,
                   nblocks / t.nbs + (nblocks % t.nbs != 0));
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_dequantize_nested(bnbq_exec* ex, const float* nested_code,
                                            const uint8_t* absmax_q, const float* nested_absmax,
                                            size_t nblocks, int nested_blocksize,
                                            const float* offset, float* out_absmax) {
    static const char* bnbq__func = "bnbq_dequantize_nested";
    bnbq__task_nested t;
    bnbq_result r = bnbq__check_nested(ex, bnbq__func, absmax_q, nested_absmax, nblocks,
                                       nested_blocksize, offset, out_absmax);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(bnbq__aligned(nested_absmax, 4) && bnbq__aligned(out_absmax, 4),
                  BNBQ_ERROR_MISALIGNED, "nested_absmax or out_absmax is misaligned");
    BNBQ__REQUIRE(bnbq__aligned(nested_code, 4), BNBQ_ERROR_MISALIGNED,
                  "nested_code is misaligned");
    if (!nested_code) nested_code = bnbq__code_dynamic_signed;
    BNBQ__DISPATCH(dequantize_nested, (ex, nested_code, absmax_q, nested_absmax, nblocks,
                                       nested_blocksize, offset, out_absmax));
    memset(&t, 0, sizeof t);
    t.code = nested_code; t.nblocks = nblocks; t.nbs = (size_t)nested_blocksize;
    t.offset = offset[0]; t.cq = absmax_q; t.cnabs = nested_absmax; t.out = out_absmax;
    bnbq__parallel(ex, bnbq__cpu_dequantize_nested_range, &t, nblocks);
    return BNBQ_SUCCESS;
}

static void bnbq__cpu_quantize_global_range(void* task, size_t c0, size_t c1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK];
    size_t i, k, end = c1 * t->bs < t->n ? c1 * t->bs : t->n;
    for (i = c0 * t->bs; i < end; i += BNBQ__CHUNK) {
        size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
        bnbq__load_chunk(t->dt, t->x, i, cnt, buf);
        for (k = 0; k < cnt; k++) {
            BNBQ__FLT_TMP float xh = buf[k] / t->scale;    /* torch's IEEE division */
            t->q[i + k] = (uint8_t)bnbq__code_index(t->code, xh);
        }
    }
}

static void bnbq__cpu_dequantize_global_range(void* task, size_t c0, size_t c1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK];
    size_t i, k, end = c1 * t->bs < t->n ? c1 * t->bs : t->n;
    for (i = c0 * t->bs; i < end; i += BNBQ__CHUNK) {
        size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
        for (k = 0; k < cnt; k++) buf[k] = t->code[t->cq[i + k]] * t->scale;
        bnbq__store_chunk(t->dt, t->out, i, cnt, buf);
    }
}

static void bnbq__cpu_convert_range(void* task, size_t c0, size_t c1) {
    const bnbq__task_blockwise* t = (const bnbq__task_blockwise*)task;
    float buf[BNBQ__CHUNK];
    size_t i, end = c1 * t->bs < t->n ? c1 * t->bs : t->n;
    for (i = c0 * t->bs; i < end; i += BNBQ__CHUNK) {
        size_t cnt = end - i < BNBQ__CHUNK ? end - i : BNBQ__CHUNK;
        bnbq__load_chunk(t->dt, t->x, i, cnt, buf);
        bnbq__store_chunk(t->dt2, t->out, i, cnt, buf);
    }
}

/* ---- global 8-bit ------------------------------------------------------------------------------- */

BNBQ_API bnbq_result bnbq_quantize_global(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                          const void* x, size_t n, uint8_t* out_q,
                                          float* out_absmax) {
    static const char* bnbq__func = "bnbq_quantize_global";
    bnbq__task_blockwise t;
    float m;
    bnbq_result r = bnbq__check_floats_in(ex, bnbq__func, dt, x, n);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(out_q && out_absmax, BNBQ_ERROR_NULL_POINTER, "out_q or out_absmax is NULL");
    BNBQ__REQUIRE(bnbq__aligned(out_absmax, 4), BNBQ_ERROR_MISALIGNED, "out_absmax is misaligned");
    BNBQ__REQUIRE(bnbq__aligned(code, 4), BNBQ_ERROR_MISALIGNED, "code is misaligned");
    if (!code) code = bnbq__code_dynamic_signed;
    BNBQ__REQUIRE(bnbq__code_sorted(code), BNBQ_ERROR_BAD_CODE,
                  "code must hold 256 ascending values without NaN");
    BNBQ__DISPATCH(quantize_global, (ex, code, dt, x, n, out_q, out_absmax));
    m = bnbq__block_absmax(dt, x, 0, n);
    out_absmax[0] = m;
    memset(&t, 0, sizeof t);
    t.code = code; t.dt = dt; t.x = x; t.n = n; t.bs = BNBQ__ELEMS_PER_TASK; t.q = out_q;
    t.scale = m;
    bnbq__parallel(ex, bnbq__cpu_quantize_global_range, &t, bnbq__ntasks(n));
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_dequantize_global(bnbq_exec* ex, const float* code, bnbq_dtype dt,
                                            const uint8_t* q, const float* absmax, size_t n,
                                            void* out) {
    static const char* bnbq__func = "bnbq_dequantize_global";
    bnbq__task_blockwise t;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(q && absmax && out, BNBQ_ERROR_NULL_POINTER, "q, absmax or out is NULL");
    BNBQ__REQUIRE(n > 0, BNBQ_ERROR_BAD_SHAPE, "n is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(n, 1, bnbq_dtype_size(dt), NULL), BNBQ_ERROR_OVERFLOW,
                  "n elements overflow size_t bytes");
    BNBQ__REQUIRE(bnbq__aligned(absmax, 4) && bnbq__aligned(out, bnbq_dtype_size(dt)),
                  BNBQ_ERROR_MISALIGNED, "absmax or out is misaligned");
    BNBQ__REQUIRE(bnbq__aligned(code, 4), BNBQ_ERROR_MISALIGNED, "code is misaligned");
    if (!code) code = bnbq__code_dynamic_signed;
    BNBQ__DISPATCH(dequantize_global, (ex, code, dt, q, absmax, n, out));
    memset(&t, 0, sizeof t);
    t.code = code; t.dt = dt; t.n = n; t.bs = BNBQ__ELEMS_PER_TASK; t.cq = q; t.out = out;
    t.scale = absmax[0];
    bnbq__parallel(ex, bnbq__cpu_dequantize_global_range, &t, bnbq__ntasks(n));
    return BNBQ_SUCCESS;
}

/* ---- convert ------------------------------------------------------------------------------------ */

BNBQ_API bnbq_result bnbq_convert(bnbq_exec* ex, bnbq_dtype src_dt, const void* src, size_t n,
                                  bnbq_dtype dst_dt, void* dst) {
    static const char* bnbq__func = "bnbq_convert";
    bnbq__task_blockwise t;
    bnbq_result r = bnbq__check_floats_in(ex, bnbq__func, src_dt, src, n);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dst_dt), BNBQ_ERROR_BAD_DTYPE,
                  "dst_dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(dst != NULL, BNBQ_ERROR_NULL_POINTER, "dst is NULL");
    BNBQ__REQUIRE(bnbq__mul_ok(n, 1, bnbq_dtype_size(dst_dt), NULL), BNBQ_ERROR_OVERFLOW,
                  "n elements overflow size_t bytes");
    BNBQ__REQUIRE(bnbq__aligned(dst, bnbq_dtype_size(dst_dt)), BNBQ_ERROR_MISALIGNED,
                  "dst is misaligned");
    BNBQ__REQUIRE(src == dst || (const char*)src + n * bnbq_dtype_size(src_dt) <= (const char*)dst ||
                  (const char*)dst + n * bnbq_dtype_size(dst_dt) <= (const char*)src,
                  BNBQ_ERROR_INVALID_ARGS, "src and dst overlap");
    BNBQ__REQUIRE(src != dst || bnbq_dtype_size(dst_dt) == bnbq_dtype_size(src_dt),
                  BNBQ_ERROR_INVALID_ARGS,
                  "an in-place conversion needs equal element sizes (F16 <-> BF16)");
    BNBQ__DISPATCH(convert, (ex, src_dt, src, n, dst_dt, dst));
    if (src == dst && src_dt == dst_dt) return BNBQ_SUCCESS;
    memset(&t, 0, sizeof t);
    t.dt = src_dt; t.x = src; t.dt2 = dst_dt; t.out = dst; t.n = n; t.bs = BNBQ__ELEMS_PER_TASK;
    bnbq__parallel(ex, bnbq__cpu_convert_range, &t, bnbq__ntasks(n));
    return BNBQ_SUCCESS;
}

/* ---- LLM.int8() --------------------------------------------------------------------------------- */

static int32_t bnbq__wrap_i32(uint32_t u) {
    return u <= 0x7fffffffu ? (int32_t)u : -(int32_t)(~u) - 1;
}

typedef struct bnbq__task_int8 {
    const uint16_t* A; size_t rows, cols; float threshold;
    int8_t* CA; float* row_stats; const int32_t* outliers; int32_t n_outliers;
    const int8_t* cq; const float* cstats; float* out;
} bnbq__task_int8;

static void bnbq__cpu_vectorwise_range(void* task, size_t r0, size_t r1) {
    const bnbq__task_int8* t = (const bnbq__task_int8*)task;
    size_t r, c;
    int use_thr = t->threshold > 0.0f;
    for (r = r0; r < r1; r++) {
        const uint16_t* a = t->A + r * t->cols;
        int8_t* q = t->CA + r * t->cols;
        float m = 0.0f, s;
        if (bnbq__simd_vectorwise_row(a, t->cols, use_thr ? t->threshold : 0.0f, q, &m)) {
            t->row_stats[r] = m;                  /* a SIMD level did the row */
        } else {
            for (c = 0; c < t->cols; c++) {
                float v = bnbq__absf(bnbq_f16_to_f32(a[c]));
                if (use_thr && v >= t->threshold) continue;
                if (v > m) m = v;
            }
            t->row_stats[r] = m;
            s = 127.0f * (1.0f / m);              /* bitsandbytes: __fdividef(127, absmax) */
            for (c = 0; c < t->cols; c++) {
                float v = bnbq_f16_to_f32(a[c]);
                if (use_thr && bnbq__absf(v) >= t->threshold) { q[c] = 0; continue; }
                {
                    BNBQ__FLT_TMP float y = v * s;
                    q[c] = (int8_t)bnbq__rint(y);
                }
            }
        }
        if (t->rows > 1) {
            int32_t k;
            for (k = 0; k < t->n_outliers; k++) q[t->outliers[k]] = 0;
        }
    }
}

/* Marks the outlier columns (any |a| >= threshold) and compacts them, sorted, into cols_out. */
static int32_t bnbq__find_outlier_cols(const uint16_t* A, size_t rows, size_t cols, float thr,
                                       int32_t* cols_out) {
    size_t r, c;
    int32_t n = 0;
    memset(cols_out, 0, cols * sizeof(int32_t));
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            if (bnbq__absf(bnbq_f16_to_f32(A[r * cols + c])) >= thr) cols_out[c] = 1;
    for (c = 0; c < cols; c++)
        if (cols_out[c]) cols_out[n++] = (int32_t)c;   /* n <= c: in place is safe */
    return n;
}

static bnbq_result bnbq__check_matrix_in(bnbq_exec* ex, const char* bnbq__func, const void* A,
                                         size_t rows, size_t cols, size_t elem) {
    BNBQ__REQUIRE(A != NULL, BNBQ_ERROR_NULL_POINTER, "input tensor is NULL");
    BNBQ__REQUIRE(rows > 0 && cols > 0, BNBQ_ERROR_BAD_SHAPE, "rows or cols is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(rows, cols, elem, NULL) && bnbq__mul_ok(rows, cols, 4, NULL),
                  BNBQ_ERROR_OVERFLOW, "rows * cols overflows");
    BNBQ__REQUIRE(cols <= 0x7fffffffu, BNBQ_ERROR_OVERFLOW, "cols exceeds INT32_MAX");
    BNBQ__REQUIRE(bnbq__aligned(A, elem), BNBQ_ERROR_MISALIGNED, "input tensor is misaligned");
    return BNBQ_SUCCESS;
}

static bnbq_result bnbq__check_int8_quant(bnbq_exec* ex, const char* bnbq__func, bnbq_dtype dt,
                                          const void* A, size_t rows, size_t cols,
                                          float threshold, const void* CA,
                                          const float* row_stats, const int32_t* outlier_cols,
                                          const int32_t* n_outliers) {
    bnbq_result r;
    BNBQ__REQUIRE(dt == BNBQ_F16, BNBQ_ERROR_BAD_DTYPE,
                  "LLM.int8 quantization takes F16 input (as bitsandbytes)");
    r = bnbq__check_matrix_in(ex, bnbq__func, A, rows, cols, 2);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(threshold == threshold && threshold >= 0.0f, BNBQ_ERROR_INVALID_ARGS,
                  "threshold must be >= 0");
    BNBQ__REQUIRE(CA && row_stats, BNBQ_ERROR_NULL_POINTER, "out_CA or out_row_stats is NULL");
    BNBQ__REQUIRE(threshold == 0.0f || (outlier_cols && n_outliers), BNBQ_ERROR_NULL_POINTER,
                  "threshold > 0 needs out_outlier_cols and out_n_outliers");
    BNBQ__REQUIRE(bnbq__aligned(row_stats, 4) && bnbq__aligned(outlier_cols, 4) &&
                  bnbq__aligned(n_outliers, 4), BNBQ_ERROR_MISALIGNED,
                  "an output is misaligned");
    return BNBQ_SUCCESS;
}

static void bnbq__cpu_int8_vectorwise(bnbq_exec* ex, const uint16_t* A, size_t rows, size_t cols,
                                      float threshold, int8_t* CA, float* row_stats,
                                      int32_t* outlier_cols, int32_t* n_outliers) {
    bnbq__task_int8 t;
    memset(&t, 0, sizeof t);
    t.A = A; t.rows = rows; t.cols = cols; t.threshold = threshold; t.CA = CA;
    t.row_stats = row_stats;
    if (threshold > 0.0f) {
        t.n_outliers = bnbq__find_outlier_cols(A, rows, cols, threshold, outlier_cols);
        t.outliers = outlier_cols;
        *n_outliers = t.n_outliers;
    }
    bnbq__parallel(ex, bnbq__cpu_vectorwise_range, &t, rows);
}

BNBQ_API bnbq_result bnbq_int8_vectorwise_quant(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                size_t rows, size_t cols, float threshold,
                                                int8_t* out_CA, float* out_row_stats,
                                                int32_t* out_outlier_cols,
                                                int32_t* out_n_outliers) {
    static const char* bnbq__func = "bnbq_int8_vectorwise_quant";
    bnbq_result r = bnbq__check_int8_quant(ex, bnbq__func, dt, A, rows, cols, threshold, out_CA,
                                           out_row_stats, out_outlier_cols, out_n_outliers);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__DISPATCH(int8_vectorwise_quant, (ex, dt, A, rows, cols, threshold, out_CA,
                                           out_row_stats, out_outlier_cols, out_n_outliers));
    bnbq__cpu_int8_vectorwise(ex, (const uint16_t*)A, rows, cols, threshold, out_CA,
                              out_row_stats, out_outlier_cols, out_n_outliers);
    return BNBQ_SUCCESS;
}

static void bnbq__cpu_vectorwise_dequant_range(void* task, size_t r0, size_t r1) {
    const bnbq__task_int8* t = (const bnbq__task_int8*)task;
    size_t r, c;
    for (r = r0; r < r1; r++) {
        float s = t->cstats[r];
        for (c = 0; c < t->cols; c++) {
            BNBQ__FLT_TMP float v = (float)t->cq[r * t->cols + c] * s;
            t->out[r * t->cols + c] = bnbq__canon(v * 0.00787401572f);   /* f32(1/127) */
        }
    }
}

BNBQ_API bnbq_result bnbq_int8_vectorwise_dequant(bnbq_exec* ex, const int8_t* CA,
                                                  const float* row_stats, size_t rows,
                                                  size_t cols, float* out) {
    static const char* bnbq__func = "bnbq_int8_vectorwise_dequant";
    bnbq__task_int8 t;
    bnbq_result r = bnbq__check_matrix_in(ex, bnbq__func, CA, rows, cols, 1);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(row_stats && out, BNBQ_ERROR_NULL_POINTER, "row_stats or out is NULL");
    BNBQ__REQUIRE(bnbq__aligned(row_stats, 4) && bnbq__aligned(out, 4), BNBQ_ERROR_MISALIGNED,
                  "row_stats or out is misaligned");
    BNBQ__DISPATCH(int8_vectorwise_dequant, (ex, CA, row_stats, rows, cols, out));
    memset(&t, 0, sizeof t);
    t.cq = CA; t.cstats = row_stats; t.rows = rows; t.cols = cols; t.out = out;
    bnbq__parallel(ex, bnbq__cpu_vectorwise_dequant_range, &t, rows);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_int8_double_quant(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                            size_t rows, size_t cols, float threshold,
                                            int8_t* out_CA, int8_t* out_CAt,
                                            float* out_row_stats, float* out_col_stats,
                                            int32_t* out_outlier_cols, int32_t* out_n_outliers) {
    static const char* bnbq__func = "bnbq_int8_double_quant";
    const uint16_t* a = (const uint16_t*)A;
    size_t r, c;
    int use_thr;
    bnbq_result res = bnbq__check_int8_quant(ex, bnbq__func, dt, A, rows, cols, threshold, out_CA,
                                             out_row_stats, out_outlier_cols, out_n_outliers);
    if (res != BNBQ_SUCCESS) return res;
    BNBQ__REQUIRE(out_CAt && out_col_stats, BNBQ_ERROR_NULL_POINTER,
                  "out_CAt or out_col_stats is NULL");
    BNBQ__REQUIRE(bnbq__aligned(out_col_stats, 4), BNBQ_ERROR_MISALIGNED,
                  "out_col_stats is misaligned");
    BNBQ__DISPATCH(int8_double_quant, (ex, dt, A, rows, cols, threshold, out_CA, out_CAt,
                                       out_row_stats, out_col_stats, out_outlier_cols,
                                       out_n_outliers));
    bnbq__cpu_int8_vectorwise(ex, a, rows, cols, threshold, out_CA, out_row_stats,
                              out_outlier_cols, out_n_outliers);
    use_thr = threshold > 0.0f;
    /* column statistics over the non-outlier elements (outliers count as 0) */
    for (c = 0; c < cols; c++) out_col_stats[c] = 0.0f;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) {
            float v = bnbq__absf(bnbq_f16_to_f32(a[r * cols + c]));
            if (use_thr && v >= threshold) continue;
            if (v > out_col_stats[c]) out_col_stats[c] = v;
        }
    /* CAt = rint(f32(f16(a * 127) / col_stats)): torch code, a true division */
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) {
            float v = bnbq_f16_to_f32(a[r * cols + c]);
            float h, y;
            if (use_thr && bnbq__absf(v) >= threshold) v = 0.0f;
            h = bnbq__round_to(BNBQ_F16, v * 127.0f);
            y = h / out_col_stats[c];
            if (y > 127.0f) y = 127.0f;        /* only when f16(a * 127) overflowed to inf */
            if (y < -127.0f) y = -127.0f;
            out_CAt[r * cols + c] = (int8_t)bnbq__rint(y);
        }
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_mm {
    const int8_t* A; const int8_t* B; size_t M, N, K;
    int32_t* out32; const int32_t* cin32; const float* rs; const float* cs;
    bnbq_dtype dt; void* out; bnbq_dtype bias_dt; const void* bias;
    const uint16_t* sx; const uint16_t* sw; int sw_global; uint16_t* out16; const uint16_t* bias16;
} bnbq__task_mm;

static int32_t bnbq__dot_i8(const int8_t* a, const int8_t* b, size_t K) {
    uint32_t acc = 0;   /* unsigned: exact modulo 2^32, like the hardware's int32 accumulator */
    size_t k;
    for (k = 0; k < K; k++) acc += (uint32_t)((int32_t)a[k] * (int32_t)b[k]);
    return bnbq__wrap_i32(acc);
}

static void bnbq__cpu_int8_matmul_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_mm* t = (const bnbq__task_mm*)task;
    size_t m, n;
    for (m = m0; m < m1; m++)
        for (n = 0; n < t->N; n++)
            t->out32[m * t->N + n] = bnbq__dot_i8(t->A + m * t->K, t->B + n * t->K, t->K);
}

static bnbq_result bnbq__check_mm(bnbq_exec* ex, const char* bnbq__func, const void* A,
                                  const void* B, size_t M, size_t N, size_t K, const void* out,
                                  size_t out_elem) {
    BNBQ__REQUIRE(A && B && out, BNBQ_ERROR_NULL_POINTER, "an operand or out is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, 4, NULL) && bnbq__mul_ok(N, K, 4, NULL) &&
                  bnbq__mul_ok(M, N, out_elem > 4 ? out_elem : 4, NULL), BNBQ_ERROR_OVERFLOW,
                  "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__aligned(out, out_elem), BNBQ_ERROR_MISALIGNED, "out is misaligned");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_int8_linear_matmul(bnbq_exec* ex, const int8_t* A, const int8_t* B,
                                             size_t M, size_t N, size_t K, int32_t* out) {
    static const char* bnbq__func = "bnbq_int8_linear_matmul";
    bnbq__task_mm t;
    bnbq_result r = bnbq__check_mm(ex, bnbq__func, A, B, M, N, K, out, 4);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__DISPATCH(int8_linear_matmul, (ex, A, B, M, N, K, out));
    if (bnbq__simd_int8_matmul(ex, A, B, M, N, K, out)) return BNBQ_SUCCESS;
    memset(&t, 0, sizeof t);
    t.A = A; t.B = B; t.M = M; t.N = N; t.K = K; t.out32 = out;
    bnbq__parallel(ex, bnbq__cpu_int8_matmul_range, &t, M);
    return BNBQ_SUCCESS;
}

static void bnbq__cpu_mm_dequant_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_mm* t = (const bnbq__task_mm*)task;
    size_t m, n;
    for (m = m0; m < m1; m++)
        for (n = 0; n < t->N; n++) {
            BNBQ__FLT_TMP float v = (float)t->cin32[m * t->N + n] * t->rs[m];
            BNBQ__FLT_TMP float w = v * t->cs[n];
            float b = (t->bias && t->bias_dt == BNBQ_F16) ? bnbq__load(BNBQ_F16, t->bias, n) : 0.0f;
            float h = bnbq__round_to(BNBQ_F16, fmaf(w, 6.200012e-05f, b));
            if (t->bias && t->bias_dt != BNBQ_F16)     /* torch: out.add_(bias) on the f16 result */
                h = bnbq__round_to(BNBQ_F16, h + bnbq__load(t->bias_dt, t->bias, n));
            bnbq__store(t->dt, t->out, m * t->N + n, h);
        }
}

BNBQ_API bnbq_result bnbq_int8_mm_dequant(bnbq_exec* ex, bnbq_dtype dt, const int32_t* A,
                                          const float* row_stats, const float* col_stats,
                                          size_t M, size_t N, void* out, bnbq_dtype bias_dt,
                                          const void* bias) {
    static const char* bnbq__func = "bnbq_int8_mm_dequant";
    bnbq__task_mm t;
    bnbq_result r;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    r = bnbq__check_mm(ex, bnbq__func, A, row_stats, M, N, 1, out, bnbq_dtype_size(dt));
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(col_stats != NULL, BNBQ_ERROR_NULL_POINTER, "col_stats is NULL");
    BNBQ__REQUIRE(!bias || bnbq__is_float_dtype(bias_dt), BNBQ_ERROR_BAD_DTYPE,
                  "bias_dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(bnbq__aligned(A, 4) && bnbq__aligned(row_stats, 4) &&
                  bnbq__aligned(col_stats, 4) && (!bias || bnbq__aligned(bias, bnbq_dtype_size(bias_dt))),
                  BNBQ_ERROR_MISALIGNED, "an input is misaligned");
    BNBQ__DISPATCH(int8_mm_dequant, (ex, dt, A, row_stats, col_stats, M, N, out, bias_dt, bias));
    memset(&t, 0, sizeof t);
    t.cin32 = A; t.rs = row_stats; t.cs = col_stats; t.M = M; t.N = N; t.dt = dt; t.out = out;
    t.bias_dt = bias_dt; t.bias = bias;
    bnbq__parallel(ex, bnbq__cpu_mm_dequant_range, &t, M);
    return BNBQ_SUCCESS;
}

/* ---- SwitchBack (Triton kernels of bitsandbytes, algorithms.md 8) ------------------------------ */

static bnbq_result bnbq__check_sb_in(bnbq_exec* ex, const char* bnbq__func, bnbq_dtype dt,
                                     const void* X, size_t rows, size_t cols, const void* o1,
                                     const void* o2) {
    bnbq_result r;
    BNBQ__REQUIRE(dt == BNBQ_F16, BNBQ_ERROR_BAD_DTYPE,
                  "SwitchBack quantizers take F16 input (as bitsandbytes)");
    r = bnbq__check_matrix_in(ex, bnbq__func, X, rows, cols, 2);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(o1 && o2, BNBQ_ERROR_NULL_POINTER, "an output is NULL");
    BNBQ__REQUIRE(bnbq__aligned(o2, 2), BNBQ_ERROR_MISALIGNED, "the state output is misaligned");
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_sb {
    const uint16_t* x; size_t rows, cols, n; int8_t* q; uint16_t* state; float inv;
    const int8_t* cq; const uint16_t* cstate; uint16_t* out;
} bnbq__task_sb;

/* rint(f32(127 * f32(x * f32(1/max)))), 0 when max == 0 */
static int8_t bnbq__sb_q(float x, float inv) {
    BNBQ__FLT_TMP float xh = x * inv;
    BNBQ__FLT_TMP float y = 127.0f * xh;
    return (int8_t)bnbq__rint(y);
}

static void bnbq__cpu_quantize_rowwise_range(void* task, size_t r0, size_t r1) {
    const bnbq__task_sb* t = (const bnbq__task_sb*)task;
    size_t r, c;
    for (r = r0; r < r1; r++) {
        const uint16_t* x = t->x + r * t->cols;
        float m = 0.0f, inv;
        for (c = 0; c < t->cols; c++) {
            float a = bnbq__absf(bnbq_f16_to_f32(x[c]));
            m = a > m ? a : m;
        }
        t->state[r] = bnbq_f32_to_f16(m);
        inv = 1.0f / m;
        for (c = 0; c < t->cols; c++) t->q[r * t->cols + c] = bnbq__sb_q(bnbq_f16_to_f32(x[c]), inv);
    }
}

static void bnbq__cpu_quantize_columnwise_range(void* task, size_t c0, size_t c1) {
    const bnbq__task_sb* t = (const bnbq__task_sb*)task;
    size_t r, c;
    for (c = c0; c < c1; c++) {
        float inv = 1.0f / bnbq_f16_to_f32(t->state[c]);
        for (r = 0; r < t->rows; r++)
            t->q[c * t->rows + r] = bnbq__sb_q(bnbq_f16_to_f32(t->x[r * t->cols + c]), inv);
    }
}

BNBQ_API bnbq_result bnbq_quantize_rowwise(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                           size_t rows, size_t cols, int8_t* out_q,
                                           uint16_t* out_state) {
    static const char* bnbq__func = "bnbq_quantize_rowwise";
    bnbq__task_sb t;
    bnbq_result res = bnbq__check_sb_in(ex, bnbq__func, dt, X, rows, cols, out_q, out_state);
    if (res != BNBQ_SUCCESS) return res;
    BNBQ__DISPATCH(quantize_rowwise, (ex, dt, X, rows, cols, out_q, out_state));
    memset(&t, 0, sizeof t);
    t.x = (const uint16_t*)X; t.rows = rows; t.cols = cols; t.q = out_q; t.state = out_state;
    bnbq__parallel(ex, bnbq__cpu_quantize_rowwise_range, &t, rows);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_quantize_columnwise_and_transpose(bnbq_exec* ex, bnbq_dtype dt,
                                                            const void* X, size_t rows,
                                                            size_t cols, int8_t* out_q,
                                                            uint16_t* out_state) {
    static const char* bnbq__func = "bnbq_quantize_columnwise_and_transpose";
    const uint16_t* x = (const uint16_t*)X;
    bnbq__task_sb t;
    size_t r, c;
    bnbq_result res = bnbq__check_sb_in(ex, bnbq__func, dt, X, rows, cols, out_q, out_state);
    if (res != BNBQ_SUCCESS) return res;
    BNBQ__DISPATCH(quantize_columnwise_and_transpose, (ex, dt, X, rows, cols, out_q, out_state));
    for (c = 0; c < cols; c++) out_state[c] = 0;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) {
            uint16_t a = (uint16_t)(x[r * cols + c] & 0x7fffu);   /* |x|, exact in f16 */
            if (bnbq_f16_to_f32(a) > bnbq_f16_to_f32(out_state[c])) out_state[c] = a;
        }
    memset(&t, 0, sizeof t);
    t.x = x; t.rows = rows; t.cols = cols; t.q = out_q; t.state = out_state;
    bnbq__parallel(ex, bnbq__cpu_quantize_columnwise_range, &t, cols);
    return BNBQ_SUCCESS;
}

/* f16 absmax of all of X, and the fp16 reciprocal f16(f32(1/absmax)) */
static float bnbq__sb_global_inv(const uint16_t* x, size_t n, uint16_t* out_absmax) {
    size_t i;
    float m = 0.0f;
    for (i = 0; i < n; i++) {
        float a = bnbq__absf(bnbq_f16_to_f32(x[i]));
        if (a > m) m = a;
    }
    *out_absmax = bnbq_f32_to_f16(m);
    return bnbq__round_to(BNBQ_F16, 1.0f / m);
}

/* rint(f16(127 * f16(x * inv))) in fp16 arithmetic; NaN (absmax 0) -> 0 */
static int8_t bnbq__sb_global_q(float x, float inv) {
    float h = bnbq__round_to(BNBQ_F16, x * inv);
    float y = bnbq__round_to(BNBQ_F16, 127.0f * h);
    return (int8_t)bnbq__rint(y);
}

static void bnbq__cpu_quantize_global_int8_range(void* task, size_t c0, size_t c1) {
    const bnbq__task_sb* t = (const bnbq__task_sb*)task;
    size_t i, end = c1 * BNBQ__ELEMS_PER_TASK < t->n ? c1 * BNBQ__ELEMS_PER_TASK : t->n;
    for (i = c0 * BNBQ__ELEMS_PER_TASK; i < end; i++)
        t->q[i] = bnbq__sb_global_q(bnbq_f16_to_f32(t->x[i]), t->inv);
}

static void bnbq__cpu_quantize_global_int8_t_range(void* task, size_t r0, size_t r1) {
    const bnbq__task_sb* t = (const bnbq__task_sb*)task;
    size_t r, c;
    for (r = r0; r < r1; r++)
        for (c = 0; c < t->cols; c++)
            t->q[c * t->rows + r] = bnbq__sb_global_q(bnbq_f16_to_f32(t->x[r * t->cols + c]), t->inv);
}

static void bnbq__cpu_dequantize_rowwise_range(void* task, size_t r0, size_t r1) {
    const bnbq__task_sb* t = (const bnbq__task_sb*)task;
    size_t r, c;
    for (r = r0; r < r1; r++) {
        float s = bnbq_f16_to_f32(t->cstate[r]);
        for (c = 0; c < t->cols; c++) {
            float v = bnbq__round_to(BNBQ_F16, s * (float)t->cq[r * t->cols + c]);
            t->out[r * t->cols + c] = bnbq_f32_to_f16(bnbq__canon(v * 0.00787401572f));
        }
    }
}

BNBQ_API bnbq_result bnbq_quantize_global_int8(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                               size_t n, int8_t* out_q, uint16_t* out_absmax) {
    static const char* bnbq__func = "bnbq_quantize_global_int8";
    bnbq__task_sb t;
    bnbq_result res = bnbq__check_sb_in(ex, bnbq__func, dt, X, n, 1, out_q, out_absmax);
    if (res != BNBQ_SUCCESS) return res;
    BNBQ__DISPATCH(quantize_global_int8, (ex, dt, X, n, out_q, out_absmax));
    memset(&t, 0, sizeof t);
    t.x = (const uint16_t*)X; t.n = n; t.q = out_q;
    t.inv = bnbq__sb_global_inv(t.x, n, out_absmax);
    bnbq__parallel(ex, bnbq__cpu_quantize_global_int8_range, &t, bnbq__ntasks(n));
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_quantize_global_int8_transpose(bnbq_exec* ex, bnbq_dtype dt,
                                                         const void* X, size_t rows, size_t cols,
                                                         int8_t* out_q, uint16_t* out_absmax) {
    static const char* bnbq__func = "bnbq_quantize_global_int8_transpose";
    bnbq__task_sb t;
    bnbq_result res = bnbq__check_sb_in(ex, bnbq__func, dt, X, rows, cols, out_q, out_absmax);
    if (res != BNBQ_SUCCESS) return res;
    BNBQ__DISPATCH(quantize_global_int8_transpose, (ex, dt, X, rows, cols, out_q, out_absmax));
    memset(&t, 0, sizeof t);
    t.x = (const uint16_t*)X; t.rows = rows; t.cols = cols; t.q = out_q;
    t.inv = bnbq__sb_global_inv(t.x, rows * cols, out_absmax);
    bnbq__parallel(ex, bnbq__cpu_quantize_global_int8_t_range, &t, rows);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_dequantize_rowwise(bnbq_exec* ex, const int8_t* q,
                                             const uint16_t* state, size_t rows, size_t cols,
                                             uint16_t* out) {
    static const char* bnbq__func = "bnbq_dequantize_rowwise";
    bnbq__task_sb t;
    bnbq_result res = bnbq__check_matrix_in(ex, bnbq__func, q, rows, cols, 1);
    if (res != BNBQ_SUCCESS) return res;
    BNBQ__REQUIRE(state && out, BNBQ_ERROR_NULL_POINTER, "state or out is NULL");
    BNBQ__REQUIRE(bnbq__aligned(state, 2) && bnbq__aligned(out, 2), BNBQ_ERROR_MISALIGNED,
                  "state or out is misaligned");
    BNBQ__DISPATCH(dequantize_rowwise, (ex, q, state, rows, cols, out));
    memset(&t, 0, sizeof t);
    t.cq = q; t.cstate = state; t.rows = rows; t.cols = cols; t.out = out;
    bnbq__parallel(ex, bnbq__cpu_dequantize_rowwise_range, &t, rows);
    return BNBQ_SUCCESS;
}

static void bnbq__cpu_sb_matmul_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_mm* t = (const bnbq__task_mm*)task;
    size_t m, n;
    for (m = m0; m < m1; m++) {
        float sx = bnbq_f16_to_f32(t->sx[m]);
        for (n = 0; n < t->N; n++) {
            int32_t acc = t->cin32 ? t->cin32[m * t->N + n]     /* from a SIMD level */
                                   : bnbq__dot_i8(t->A + m * t->K, t->B + n * t->K, t->K);
            float w = bnbq_f16_to_f32(t->sw[t->sw_global ? 0 : n]);
            BNBQ__FLT_TMP float f = (float)acc * 6.20001229e-05f;   /* f32(1/127^2) */
            BNBQ__FLT_TMP float g = sx * f;
            BNBQ__FLT_TMP float c = w * g;
            float h = bnbq__round_to(BNBQ_F16, c);
            if (t->bias16) h = bnbq__round_to(BNBQ_F16, h + bnbq_f16_to_f32(t->bias16[n]));
            t->out16[m * t->N + n] = bnbq_f32_to_f16(h);
        }
    }
}

static bnbq_result bnbq__sb_matmul(bnbq_exec* ex, const char* bnbq__func, const int8_t* a,
                                   const int8_t* w, const uint16_t* sx, const uint16_t* sw,
                                   size_t M, size_t N, size_t K, uint16_t* out,
                                   const uint16_t* bias, int global) {
    bnbq__task_mm t;
    bnbq_result r = bnbq__check_mm(ex, bnbq__func, a, w, M, N, K, out, 2);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(sx && sw, BNBQ_ERROR_NULL_POINTER, "state_x or state_w is NULL");
    BNBQ__REQUIRE(bnbq__aligned(sx, 2) && bnbq__aligned(sw, 2) && bnbq__aligned(bias, 2),
                  BNBQ_ERROR_MISALIGNED, "a state or the bias is misaligned");
    if (global) BNBQ__DISPATCH(int8_matmul_mixed_dequantize, (ex, a, w, sx, sw, M, N, K, out, bias));
    else BNBQ__DISPATCH(int8_matmul_rowwise_dequantize, (ex, a, w, sx, sw, M, N, K, out, bias));
    memset(&t, 0, sizeof t);
    t.A = a; t.B = w; t.sx = sx; t.sw = sw; t.M = M; t.N = N; t.K = K; t.out16 = out;
    t.bias16 = bias; t.sw_global = global;
    {   /* a SIMD level computes the int32 products first (>>simd); the epilogue is the same */
        int32_t* acc = bnbq__simd() != BNBQ_SIMD_SCALAR ? (int32_t*)malloc(M * N * sizeof(int32_t)) : NULL;
        if (acc && bnbq__simd_int8_matmul(ex, a, w, M, N, K, acc)) t.cin32 = acc;
        bnbq__parallel(ex, bnbq__cpu_sb_matmul_range, &t, M);
        free(acc);
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_int8_matmul_rowwise_dequantize(bnbq_exec* ex, const int8_t* a,
                                                         const int8_t* w,
                                                         const uint16_t* state_x,
                                                         const uint16_t* state_w, size_t M,
                                                         size_t N, size_t K, uint16_t* out,
                                                         const uint16_t* bias) {
    return bnbq__sb_matmul(ex, "bnbq_int8_matmul_rowwise_dequantize", a, w, state_x, state_w, M,
                           N, K, out, bias, 0);
}

BNBQ_API bnbq_result bnbq_int8_matmul_mixed_dequantize(bnbq_exec* ex, const int8_t* a,
                                                       const int8_t* w, const uint16_t* state_x,
                                                       const uint16_t* state_w, size_t M,
                                                       size_t N, size_t K, uint16_t* out,
                                                       const uint16_t* bias) {
    return bnbq__sb_matmul(ex, "bnbq_int8_matmul_mixed_dequantize", a, w, state_x, state_w, M, N,
                           K, out, bias, 1);
}

/* ---- 4-bit matmul ------------------------------------------------------------------------------- */

typedef struct bnbq__task_gemv {
    bnbq_quant_type qt; bnbq_dtype dt; const void* A; const uint8_t* packed; const float* absmax;
    size_t M, N, K, bs; void* out; const void* bias; float qmap[16];
} bnbq__task_gemv;

static int bnbq__nibble(const uint8_t* packed, size_t i) {
    return (packed[i / 2] >> ((i & 1) ? 0 : 4)) & 15;
}

/* bitsandbytes' kgemm_4bit_inference_naive, element for element (algorithms.md 6.3): 32 lanes,
   lane L takes 32-element chunks L*32 + 1024*j, one absmax per chunk, then a shuffle-down tree. */
static void bnbq__cpu_gemv_range(void* task, size_t n0, size_t n1) {
    const bnbq__task_gemv* t = (const bnbq__task_gemv*)task;
    size_t n, k0, e;
    int L, off, i;
    if (bnbq__simd_gemv(t->dt, t->qmap, t->A, t->packed, t->absmax, t->K, t->bs, t->bias, t->out,
                        n0, n1))
        return;                                   /* an AVX-512 / NEON level did the rows */
    for (n = n0; n < n1; n++) {
        float v[32];
        size_t row = n * t->K;
        for (L = 0; L < 32; L++) {
            float acc = 0.0f;
            for (k0 = (size_t)L * 32; k0 < t->K; k0 += 1024) {
                float a[32], w[32];
                float s = bnbq__round_to(t->dt, t->absmax[(row + k0) / t->bs]);
                size_t cnt = t->K - k0 < 32 ? t->K - k0 : 32;
                bnbq__load_chunk(t->dt, t->A, k0, cnt, a);
                for (e = 0; e < cnt; e++) w[e] = t->qmap[bnbq__nibble(t->packed, row + k0 + e)] * s;
                if (t->dt == BNBQ_F32) {
                    for (e = 0; e < cnt; e++) acc = fmaf(a[e], w[e], acc);
                } else if (t->dt == BNBQ_F16) {
                    for (e = 0; e < cnt; e++) {
                        float b = bnbq_f16_to_f32(bnbq_f32_to_f16(w[e]));
                        acc = acc + bnbq_f16_to_f32(bnbq_f32_to_f16(a[e] * b));
                    }
                } else {
                    for (e = 0; e < cnt; e++) {
                        float b = bnbq_bf16_to_f32(bnbq_f32_to_bf16(w[e]));
                        acc = acc + bnbq_bf16_to_f32(bnbq_f32_to_bf16(a[e] * b));
                    }
                }
            }
            v[L] = acc;
        }
        for (off = 1; off < 32; off <<= 1)
            for (i = 0; i + off < 32; i++) v[i] = v[i] + v[i + off];
        {
            float o = bnbq__round_to(t->dt, v[0]);
            if (t->bias) o = o + bnbq__load(t->dt, t->bias, n);   /* torch: out += bias */
            bnbq__store(t->dt, t->out, n, o);
        }
    }
}

/* dequantize + GEMM: W rounded to dt, products summed in double, rounded to dt. */
static void bnbq__cpu_matmul4_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_gemv* t = (const bnbq__task_gemv*)task;
    size_t m, n, k;
    for (m = m0; m < m1; m++)
        for (n = 0; n < t->N; n++) {
            double acc = 0.0;
            size_t row = n * t->K;
            for (k = 0; k < t->K; k++) {
                float w = bnbq__round_to(t->dt, bnbq__dequant4(t->qt, bnbq__nibble(t->packed, row + k),
                                                               t->absmax[(row + k) / t->bs]));
                acc += (double)bnbq__load(t->dt, t->A, m * t->K + k) * (double)w;
            }
            if (t->bias) acc += (double)bnbq__load(t->dt, t->bias, n);
            bnbq__store(t->dt, t->out, m * t->N + n, (float)acc);
        }
}

static bnbq_result bnbq__check_4bit_mm(bnbq_exec* ex, const char* bnbq__func, bnbq_quant_type qt,
                                       bnbq_dtype dt, const void* A, const uint8_t* packed,
                                       const float* absmax, size_t M, size_t N, size_t K,
                                       int blocksize, const void* out, const void* bias,
                                       const float* code) {
    size_t es = bnbq_dtype_size(dt);
    BNBQ__REQUIRE(qt == BNBQ_NF4 || qt == BNBQ_FP4, BNBQ_ERROR_BAD_QUANT_TYPE,
                  "quant type must be BNBQ_NF4 or BNBQ_FP4");
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(A && packed && absmax && out, BNBQ_ERROR_NULL_POINTER,
                  "A, packed, absmax or out is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, es, NULL) && bnbq__mul_ok(N, K, 4, NULL) &&
                  bnbq__mul_ok(M, N, es, NULL), BNBQ_ERROR_OVERFLOW, "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__blocksize4_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "4-bit blocksize must be a power of two from 32 to 4096 (CPU: or larger)");
    BNBQ__REQUIRE(bnbq__aligned(A, es) && bnbq__aligned(absmax, 4) && bnbq__aligned(out, es) &&
                  bnbq__aligned(bias, es) && bnbq__aligned(code, 4), BNBQ_ERROR_MISALIGNED,
                  "a tensor or the code is misaligned");
    return BNBQ_SUCCESS;
}

static void bnbq__fill_qmap(bnbq__task_gemv* t, const float* code) {
    int i;
    const float* c = code ? code : bnbq_code_4bit(t->qt);
    for (i = 0; i < 16; i++) t->qmap[i] = bnbq__round_to(t->dt, c[i]);
}

BNBQ_API bnbq_result bnbq_gemv_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                    const void* A, const uint8_t* packed, const float* absmax,
                                    size_t N, size_t K, int blocksize, void* out,
                                    const void* bias, const float* code) {
    static const char* bnbq__func = "bnbq_gemv_4bit";
    bnbq__task_gemv t;
    bnbq_result r = bnbq__check_4bit_mm(ex, bnbq__func, qt, dt, A, packed, absmax, 1, N, K,
                                        blocksize, out, bias, code);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(K % (size_t)blocksize == 0, BNBQ_ERROR_BAD_SHAPE,
                  "gemv_4bit needs K % blocksize == 0 (use bnbq_matmul_4bit)");
    BNBQ__DISPATCH(gemv_4bit, (ex, qt, dt, A, packed, absmax, N, K, blocksize, out, bias, code));
    memset(&t, 0, sizeof t);
    t.qt = qt; t.dt = dt; t.A = A; t.packed = packed; t.absmax = absmax; t.M = 1; t.N = N; t.K = K;
    t.bs = (size_t)blocksize; t.out = out; t.bias = bias;
    bnbq__fill_qmap(&t, code);
    bnbq__parallel(ex, bnbq__cpu_gemv_range, &t, N);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_matmul_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                      const void* A, const uint8_t* packed, const float* absmax,
                                      size_t M, size_t N, size_t K, int blocksize, void* out,
                                      const void* bias, const float* code) {
    static const char* bnbq__func = "bnbq_matmul_4bit";
    bnbq__task_gemv t;
    bnbq_result r = bnbq__check_4bit_mm(ex, bnbq__func, qt, dt, A, packed, absmax, M, N, K,
                                        blocksize, out, bias, code);
    if (r != BNBQ_SUCCESS) return r;
    if (M == 1 && K % (size_t)blocksize == 0)
        return bnbq_gemv_4bit(ex, qt, dt, A, packed, absmax, N, K, blocksize, out, bias, code);
    BNBQ__DISPATCH(matmul_4bit, (ex, qt, dt, A, packed, absmax, M, N, K, blocksize, out, bias, code));
    memset(&t, 0, sizeof t);
    t.qt = qt; t.dt = dt; t.A = A; t.packed = packed; t.absmax = absmax; t.M = M; t.N = N; t.K = K;
    t.bs = (size_t)blocksize; t.out = out; t.bias = bias;
    bnbq__parallel(ex, bnbq__cpu_matmul4_range, &t, M);
    return BNBQ_SUCCESS;
}

// >>memory

BNBQ_API bnbq_result bnbq_alloc(bnbq_exec* ex, size_t bytes, void** out_ptr) {
    static const char* bnbq__func = "bnbq_alloc";
    void* p;
    BNBQ__REQUIRE(out_ptr, BNBQ_ERROR_NULL_POINTER, "out_ptr is NULL");
    *out_ptr = NULL;
    BNBQ__REQUIRE(bytes > 0, BNBQ_ERROR_BAD_SHAPE, "bytes is 0");
    BNBQ__DISPATCH(alloc, (ex, bytes, out_ptr));
    p = bnbq_host_alloc(ex, bytes);
    BNBQ__REQUIRE(p, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    *out_ptr = p;
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_free(bnbq_exec* ex, void* ptr) {
    if (!ptr) return;
    if (bnbq__on_backend(ex)) {
        if (ex->backend->free) ex->backend->free(ex, ptr);
        return;
    }
    bnbq_host_free(ex, ptr);
}

BNBQ_API bnbq_result bnbq_copy(bnbq_exec* ex, void* dst, const void* src, size_t bytes,
                               bnbq_copy_kind kind) {
    static const char* bnbq__func = "bnbq_copy";
    BNBQ__REQUIRE(kind == BNBQ_COPY_HOST_TO_EXEC || kind == BNBQ_COPY_EXEC_TO_HOST ||
                  kind == BNBQ_COPY_EXEC_TO_EXEC, BNBQ_ERROR_INVALID_ARGS, "unknown copy kind");
    if (bytes == 0) return BNBQ_SUCCESS;
    BNBQ__REQUIRE(dst && src, BNBQ_ERROR_NULL_POINTER, "dst or src is NULL");
    BNBQ__DISPATCH(copy, (ex, dst, src, bytes, kind));
    if (dst != src) memmove(dst, src, bytes);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_fill_bytes(bnbq_exec* ex, void* dst, int byte_value, size_t bytes) {
    static const char* bnbq__func = "bnbq_fill_bytes";
    if (bytes == 0) return BNBQ_SUCCESS;
    BNBQ__REQUIRE(dst, BNBQ_ERROR_NULL_POINTER, "dst is NULL");
    BNBQ__DISPATCH(fill_bytes, (ex, dst, byte_value, bytes));
    memset(dst, byte_value & 0xff, bytes);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_sync(bnbq_exec* ex) {
    static const char* bnbq__func = "bnbq_sync";
    BNBQ__DISPATCH(sync, (ex));
    (void)bnbq__func;
    return BNBQ_SUCCESS;
}

// >>prims

/* Store a double sum into element i of dt with the rounding the CPU reference uses everywhere for
   sums: to float32 first, then to dt. */
static void bnbq__store_d(bnbq_dtype dt, void* p, size_t i, double v) {
    bnbq__store(dt, p, i, (float)v);
}
static int bnbq__elem_size_ok(size_t e) { return e == 1 || e == 2 || e == 4 || e == 8; }

typedef struct bnbq__task_gemm {
    bnbq_dtype dt; int ta, tb; size_t M, N, K; const void* A; const void* B; const void* bias;
    int acc; void* out;
} bnbq__task_gemm;

/* Tiles of 16 x 16 outputs, the operands converted to double one 32-deep slice at a time on the
   stack (10 KB): each output is still the double sum over k in order, then + bias, then + the old
   out, rounded once; the tiles only cut the conversions (1/8 per product instead of 2). */
#define BNBQ__GT_M 16
#define BNBQ__GT_N 16
#define BNBQ__GT_K 32
static void bnbq__cpu_gemm_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_gemm* t = (const bnbq__task_gemm*)task;
    double a[BNBQ__GT_M][BNBQ__GT_K], b[BNBQ__GT_K][BNBQ__GT_N], s[BNBQ__GT_M][BNBQ__GT_N];
    size_t mb, nb, kb, i, j, k, M = t->M, N = t->N, K = t->K;
    for (mb = m0; mb < m1; mb += BNBQ__GT_M) {
        size_t mc = m1 - mb < BNBQ__GT_M ? m1 - mb : BNBQ__GT_M;
        for (nb = 0; nb < N; nb += BNBQ__GT_N) {
            size_t nc = N - nb < BNBQ__GT_N ? N - nb : BNBQ__GT_N;
            for (i = 0; i < mc; i++)
                for (j = 0; j < nc; j++) s[i][j] = 0.0;
            for (kb = 0; kb < K; kb += BNBQ__GT_K) {
                size_t kc = K - kb < BNBQ__GT_K ? K - kb : BNBQ__GT_K;
                for (i = 0; i < mc; i++)
                    for (k = 0; k < kc; k++)
                        a[i][k] = bnbq__load(t->dt, t->A, t->ta ? (kb + k) * M + mb + i
                                                                : (mb + i) * K + kb + k);
                for (k = 0; k < kc; k++)
                    for (j = 0; j < nc; j++)
                        b[k][j] = bnbq__load(t->dt, t->B, t->tb ? (nb + j) * K + kb + k
                                                                : (kb + k) * N + nb + j);
                for (i = 0; i < mc; i++)
                    for (k = 0; k < kc; k++) {
                        double av = a[i][k];
                        for (j = 0; j < nc; j++) s[i][j] += av * b[k][j];
                    }
            }
            for (i = 0; i < mc; i++)
                for (j = 0; j < nc; j++) {
                    size_t o = (mb + i) * N + nb + j;
                    double v = s[i][j];
                    if (t->bias) v += bnbq__load(t->dt, t->bias, nb + j);
                    if (t->acc) v += bnbq__load(t->dt, t->out, o);
                    bnbq__store_d(t->dt, t->out, o, v);
                }
        }
    }
}

BNBQ_API bnbq_result bnbq_gemm(bnbq_exec* ex, bnbq_dtype dt, int trans_a, int trans_b,
                               size_t M, size_t N, size_t K, const void* A, const void* B,
                               const void* bias, int accumulate, void* out) {
    static const char* bnbq__func = "bnbq_gemm";
    bnbq__task_gemm t;
    size_t es = bnbq_dtype_size(dt);
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(A && B && out, BNBQ_ERROR_NULL_POINTER, "A, B or out is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, es, NULL) && bnbq__mul_ok(K, N, es, NULL) &&
                  bnbq__mul_ok(M, N, es, NULL), BNBQ_ERROR_OVERFLOW, "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__aligned(A, es) && bnbq__aligned(B, es) && bnbq__aligned(out, es) &&
                  bnbq__aligned(bias, es), BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(gemm, (ex, dt, trans_a, trans_b, M, N, K, A, B, bias, accumulate, out));
    t.dt = dt; t.ta = trans_a != 0; t.tb = trans_b != 0; t.M = M; t.N = N; t.K = K; t.A = A;
    t.B = B; t.bias = bias; t.acc = accumulate != 0; t.out = out;
    bnbq__parallel(ex, bnbq__cpu_gemm_range, &t, M);
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_colsum {
    bnbq_dtype dt; const void* X; size_t M, N; void* out;
} bnbq__task_colsum;

static void bnbq__cpu_colsum_range(void* task, size_t n0, size_t n1) {
    const bnbq__task_colsum* t = (const bnbq__task_colsum*)task;
    size_t m, n;
    for (n = n0; n < n1; n++) {
        double s = 0.0;
        for (m = 0; m < t->M; m++) s += bnbq__load(t->dt, t->X, m * t->N + n);
        bnbq__store_d(t->dt, t->out, n, s);
    }
}

BNBQ_API bnbq_result bnbq_column_sums(bnbq_exec* ex, bnbq_dtype dt, const void* X, size_t M,
                                      size_t N, void* out) {
    static const char* bnbq__func = "bnbq_column_sums";
    bnbq__task_colsum t;
    size_t es = bnbq_dtype_size(dt);
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(X && out, BNBQ_ERROR_NULL_POINTER, "X or out is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0, BNBQ_ERROR_BAD_SHAPE, "M or N is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, N, es, NULL), BNBQ_ERROR_OVERFLOW, "M * N overflows");
    BNBQ__REQUIRE(bnbq__aligned(X, es) && bnbq__aligned(out, es), BNBQ_ERROR_MISALIGNED,
                  "X or out is misaligned");
    BNBQ__DISPATCH(column_sums, (ex, dt, X, M, N, out));
    t.dt = dt; t.X = X; t.M = M; t.N = N; t.out = out;
    bnbq__parallel(ex, bnbq__cpu_colsum_range, &t, N);
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_tr {
    size_t es; const uint8_t* src; size_t rows, cols; uint8_t* dst;
} bnbq__task_tr;

static void bnbq__cpu_transpose_range(void* task, size_t r0, size_t r1) {
    const bnbq__task_tr* t = (const bnbq__task_tr*)task;
    size_t r, c;
    for (r = r0; r < r1; r++)
        for (c = 0; c < t->cols; c++)
            memcpy(t->dst + (c * t->rows + r) * t->es, t->src + (r * t->cols + c) * t->es, t->es);
}

BNBQ_API bnbq_result bnbq_transpose(bnbq_exec* ex, size_t elem_size, const void* src,
                                    size_t rows, size_t cols, void* dst) {
    static const char* bnbq__func = "bnbq_transpose";
    bnbq__task_tr t;
    BNBQ__REQUIRE(bnbq__elem_size_ok(elem_size), BNBQ_ERROR_INVALID_ARGS,
                  "elem_size must be 1, 2, 4 or 8");
    BNBQ__REQUIRE(src && dst, BNBQ_ERROR_NULL_POINTER, "src or dst is NULL");
    BNBQ__REQUIRE(rows > 0 && cols > 0, BNBQ_ERROR_BAD_SHAPE, "rows or cols is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(rows, cols, elem_size, NULL), BNBQ_ERROR_OVERFLOW,
                  "rows * cols overflows");
    BNBQ__REQUIRE(bnbq__aligned(src, elem_size) && bnbq__aligned(dst, elem_size),
                  BNBQ_ERROR_MISALIGNED, "src or dst is misaligned");
    BNBQ__REQUIRE(src != dst, BNBQ_ERROR_INVALID_ARGS, "transpose cannot work in place");
    BNBQ__DISPATCH(transpose, (ex, elem_size, src, rows, cols, dst));
    t.es = elem_size; t.src = (const uint8_t*)src; t.rows = rows; t.cols = cols;
    t.dst = (uint8_t*)dst;
    bnbq__parallel(ex, bnbq__cpu_transpose_range, &t, rows);
    return BNBQ_SUCCESS;
}

/* every idx[i] in [0, num_rows) (CPU: host memory) */
static int bnbq__idx_ok(const int32_t* idx, size_t count, size_t num_rows) {
    size_t i;
    for (i = 0; i < count; i++)
        if (idx[i] < 0 || (size_t)idx[i] >= num_rows) return 0;
    return 1;
}

BNBQ_API bnbq_result bnbq_gather_rows(bnbq_exec* ex, const void* table, size_t num_rows,
                                      size_t row_bytes, const int32_t* idx, size_t count,
                                      void* out) {
    static const char* bnbq__func = "bnbq_gather_rows";
    size_t i;
    BNBQ__REQUIRE(table && idx && out, BNBQ_ERROR_NULL_POINTER, "table, idx or out is NULL");
    BNBQ__REQUIRE(num_rows > 0 && row_bytes > 0 && count > 0, BNBQ_ERROR_BAD_SHAPE,
                  "num_rows, row_bytes or count is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(num_rows, row_bytes, 1, NULL) &&
                  bnbq__mul_ok(count, row_bytes, 1, NULL) && bnbq__mul_ok(count, 4, 1, NULL),
                  BNBQ_ERROR_OVERFLOW, "a size overflows");
    BNBQ__REQUIRE(bnbq__aligned(idx, 4), BNBQ_ERROR_MISALIGNED, "idx is misaligned");
    BNBQ__DISPATCH(gather_rows, (ex, table, num_rows, row_bytes, idx, count, out));
    BNBQ__REQUIRE(bnbq__idx_ok(idx, count, num_rows), BNBQ_ERROR_INVALID_ARGS,
                  "an index is out of range");
    for (i = 0; i < count; i++)
        memcpy((uint8_t*)out + i * row_bytes, (const uint8_t*)table + (size_t)idx[i] * row_bytes,
               row_bytes);
    return BNBQ_SUCCESS;
}

/* Both functions below visit each distinct looked-up row once, at its first occurrence in idx
   (no earlier position holds the same index), as the GPU kernels do: no temporary memory, and
   the occurrences run in parallel (each writes only its own row). The scan for earlier
   occurrences costs O(count) per distinct row. */
static int bnbq__first_occurrence(const int32_t* idx, size_t i) {
    size_t j;
    for (j = 0; j < i; j++)
        if (idx[j] == idx[i]) return 0;
    return 1;
}

typedef struct bnbq__task_embbwd {
    bnbq_dtype dt; const int32_t* idx; size_t count; const void* G; size_t dim; int64_t pad;
    int freq; void* gw;
} bnbq__task_embbwd;

/* the double accumulators of one row, BNBQ__EMB_CHUNK columns at a time (on the stack) */
#define BNBQ__EMB_CHUNK 256

static void bnbq__cpu_embbwd_range(void* task, size_t i0, size_t i1) {
    const bnbq__task_embbwd* t = (const bnbq__task_embbwd*)task;
    size_t i, j, d, d0, dim = t->dim;
    double acc[BNBQ__EMB_CHUNK];
    for (i = i0; i < i1; i++) {
        int32_t r = t->idx[i];
        size_t occ = 1, row = (size_t)r * dim;
        if ((int64_t)r == t->pad || !bnbq__first_occurrence(t->idx, i)) continue;
        for (j = i + 1; j < t->count; j++) occ += t->idx[j] == r;
        for (d0 = 0; d0 < dim; d0 += BNBQ__EMB_CHUNK) {
            size_t n = dim - d0 < BNBQ__EMB_CHUNK ? dim - d0 : BNBQ__EMB_CHUNK;
            for (d = 0; d < n; d++) acc[d] = 0.0;
            /* the occurrences of r in index order (the sum of a row is the double sum in that
               order, rounded once) */
            for (j = i; j < t->count; j++) {
                size_t g = j * dim + d0;
                if (t->idx[j] != r) continue;
                for (d = 0; d < n; d++) acc[d] += bnbq__load(t->dt, t->G, g + d);
            }
            for (d = 0; d < n; d++)
                bnbq__store_d(t->dt, t->gw, row + d0 + d,
                              t->freq ? acc[d] / (double)occ : acc[d]);
        }
    }
}

BNBQ_API bnbq_result bnbq_gather_rows_backward(bnbq_exec* ex, bnbq_dtype dt, const int32_t* idx,
                                               size_t count, const void* grad_out,
                                               size_t num_rows, size_t dim,
                                               int64_t padding_idx, int scale_grad_by_freq,
                                               void* grad_weight) {
    static const char* bnbq__func = "bnbq_gather_rows_backward";
    size_t es = bnbq_dtype_size(dt);
    bnbq__task_embbwd t;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(idx && grad_out && grad_weight, BNBQ_ERROR_NULL_POINTER,
                  "idx, grad_out or grad_weight is NULL");
    BNBQ__REQUIRE(count > 0 && num_rows > 0 && dim > 0, BNBQ_ERROR_BAD_SHAPE,
                  "count, num_rows or dim is 0");
    BNBQ__REQUIRE(padding_idx >= -1 && (padding_idx < 0 || (uint64_t)padding_idx < num_rows),
                  BNBQ_ERROR_INVALID_ARGS, "padding_idx must be -1 or a row index");
    BNBQ__REQUIRE(bnbq__mul_ok(num_rows, dim, es, NULL) && bnbq__mul_ok(count, dim, es, NULL) &&
                  bnbq__mul_ok(count, 4, 1, NULL), BNBQ_ERROR_OVERFLOW, "a size overflows");
    BNBQ__REQUIRE(bnbq__aligned(idx, 4) && bnbq__aligned(grad_out, es) &&
                  bnbq__aligned(grad_weight, es), BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(gather_rows_backward, (ex, dt, idx, count, grad_out, num_rows, dim, padding_idx,
                                          scale_grad_by_freq, grad_weight));
    BNBQ__REQUIRE(bnbq__idx_ok(idx, count, num_rows), BNBQ_ERROR_INVALID_ARGS,
                  "an index is out of range");
    memset(grad_weight, 0, num_rows * dim * es);
    t.dt = dt; t.idx = idx; t.count = count; t.G = grad_out; t.dim = dim; t.pad = padding_idx;
    t.freq = scale_grad_by_freq != 0; t.gw = grad_weight;
    bnbq__parallel(ex, bnbq__cpu_embbwd_range, &t, count);
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_renorm {
    bnbq_dtype dt; void* W; size_t dim; const int32_t* idx; float max_norm, norm_type;
} bnbq__task_renorm;

static void bnbq__cpu_renorm_range(void* task, size_t i0, size_t i1) {
    const bnbq__task_renorm* t = (const bnbq__task_renorm*)task;
    int inf_norm = t->norm_type > FLT_MAX;   /* torch's inf-norm: the largest |w| */
    float p = t->norm_type;
    size_t i, d;
    for (i = i0; i < i1; i++) {
        size_t row = (size_t)t->idx[i] * t->dim;
        double norm = 0.0;
        if (!bnbq__first_occurrence(t->idx, i)) continue;
        for (d = 0; d < t->dim; d++) {
            double v = fabs((double)bnbq__load(t->dt, t->W, row + d));
            if (inf_norm) { if (v > norm || v != v) norm = v; }   /* max |w|, NaN sticks */
            else norm += p == 2.0f ? v * v : (p == 1.0f ? v : pow(v, p));
        }
        if (!inf_norm)
            norm = p == 2.0f ? sqrt(norm) : (p == 1.0f ? norm : pow(norm, 1.0 / p));
        if (norm > (double)t->max_norm) {
            float scale = (float)((double)t->max_norm / (norm + 1e-7));
            for (d = 0; d < t->dim; d++) {
                BNBQ__FLT_TMP float v = bnbq__load(t->dt, t->W, row + d) * scale;
                bnbq__store(t->dt, t->W, row + d, v);
            }
        }
    }
}

BNBQ_API bnbq_result bnbq_renorm_rows(bnbq_exec* ex, bnbq_dtype dt, void* weight,
                                      size_t num_rows, size_t dim, const int32_t* idx,
                                      size_t count, float max_norm, float norm_type) {
    static const char* bnbq__func = "bnbq_renorm_rows";
    size_t es = bnbq_dtype_size(dt);
    bnbq__task_renorm t;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(weight && idx, BNBQ_ERROR_NULL_POINTER, "weight or idx is NULL");
    BNBQ__REQUIRE(count > 0 && num_rows > 0 && dim > 0, BNBQ_ERROR_BAD_SHAPE,
                  "count, num_rows or dim is 0");
    BNBQ__REQUIRE(max_norm > 0.0f && norm_type > 0.0f, BNBQ_ERROR_INVALID_ARGS,
                  "max_norm and norm_type must be positive");
    BNBQ__REQUIRE(bnbq__mul_ok(num_rows, dim, es, NULL) && bnbq__mul_ok(count, 4, 1, NULL),
                  BNBQ_ERROR_OVERFLOW, "a size overflows");
    BNBQ__REQUIRE(bnbq__aligned(idx, 4) && bnbq__aligned(weight, es), BNBQ_ERROR_MISALIGNED,
                  "a tensor is misaligned");
    BNBQ__DISPATCH(renorm_rows, (ex, dt, weight, num_rows, dim, idx, count, max_norm, norm_type));
    BNBQ__REQUIRE(bnbq__idx_ok(idx, count, num_rows), BNBQ_ERROR_INVALID_ARGS,
                  "an index is out of range");
    t.dt = dt; t.W = weight; t.dim = dim; t.idx = idx; t.max_norm = max_norm;
    t.norm_type = norm_type;
    bnbq__parallel(ex, bnbq__cpu_renorm_range, &t, count);
    return BNBQ_SUCCESS;
}

typedef struct bnbq__task_ln {
    bnbq_dtype dt; const void* X; const void* G; size_t M, N; const float* gamma; const float* beta;
    float eps; void* out; float* mean; float* rstd; const float* imean; const float* irstd;
    float* gg; float* gb;
} bnbq__task_ln;

static void bnbq__ln_stats(const bnbq__task_ln* t, size_t m, double* mean, double* rstd) {
    size_t j;
    double s = 0.0, v = 0.0;
    for (j = 0; j < t->N; j++) s += bnbq__load(t->dt, t->X, m * t->N + j);
    s /= (double)t->N;
    for (j = 0; j < t->N; j++) {
        double d = bnbq__load(t->dt, t->X, m * t->N + j) - s;
        v += d * d;
    }
    v /= (double)t->N;
    *mean = s;
    *rstd = 1.0 / sqrt(v + (double)t->eps);
}

static void bnbq__cpu_ln_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_ln* t = (const bnbq__task_ln*)task;
    size_t m, j;
    for (m = m0; m < m1; m++) {
        double mean, rstd;
        bnbq__ln_stats(t, m, &mean, &rstd);
        for (j = 0; j < t->N; j++) {
            double y = (bnbq__load(t->dt, t->X, m * t->N + j) - mean) * rstd;
            if (t->gamma) y *= t->gamma[j];
            if (t->beta) y += t->beta[j];
            bnbq__store_d(t->dt, t->out, m * t->N + j, y);
        }
        if (t->mean) t->mean[m] = (float)mean;
        if (t->rstd) t->rstd[m] = (float)rstd;
    }
}

static bnbq_result bnbq__check_ln(bnbq_exec* ex, const char* bnbq__func, bnbq_dtype dt,
                                  const void* X, size_t M, size_t N, float eps) {
    size_t es = bnbq_dtype_size(dt);
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(X, BNBQ_ERROR_NULL_POINTER, "X is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0, BNBQ_ERROR_BAD_SHAPE, "M or N is 0");
    BNBQ__REQUIRE(eps >= 0.0f, BNBQ_ERROR_INVALID_ARGS, "eps must be >= 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, N, es, NULL), BNBQ_ERROR_OVERFLOW, "M * N overflows");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_layer_norm(bnbq_exec* ex, bnbq_dtype dt, const void* X, size_t M,
                                     size_t N, const float* gamma, const float* beta, float eps,
                                     void* out, float* out_mean, float* out_rstd) {
    static const char* bnbq__func = "bnbq_layer_norm";
    bnbq__task_ln t;
    size_t es = bnbq_dtype_size(dt);
    bnbq_result r = bnbq__check_ln(ex, bnbq__func, dt, X, M, N, eps);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(out, BNBQ_ERROR_NULL_POINTER, "out is NULL");
    BNBQ__REQUIRE(bnbq__aligned(X, es) && bnbq__aligned(out, es) && bnbq__aligned(gamma, 4) &&
                  bnbq__aligned(beta, 4) && bnbq__aligned(out_mean, 4) &&
                  bnbq__aligned(out_rstd, 4), BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(layer_norm, (ex, dt, X, M, N, gamma, beta, eps, out, out_mean, out_rstd));
    memset(&t, 0, sizeof t);
    t.dt = dt; t.X = X; t.M = M; t.N = N; t.gamma = gamma; t.beta = beta; t.eps = eps;
    t.out = out; t.mean = out_mean; t.rstd = out_rstd;
    bnbq__parallel(ex, bnbq__cpu_ln_range, &t, M);
    return BNBQ_SUCCESS;
}

/* grad_x rows (parallel over rows) */
static void bnbq__cpu_ln_bwd_range(void* task, size_t m0, size_t m1) {
    const bnbq__task_ln* t = (const bnbq__task_ln*)task;
    size_t m, j;
    for (m = m0; m < m1; m++) {
        double mean, rstd, a = 0.0, b = 0.0;
        if (t->imean && t->irstd) { mean = t->imean[m]; rstd = t->irstd[m]; }
        else bnbq__ln_stats(t, m, &mean, &rstd);
        for (j = 0; j < t->N; j++) {
            double xh = (bnbq__load(t->dt, t->X, m * t->N + j) - mean) * rstd;
            double g = bnbq__load(t->dt, t->G, m * t->N + j) * (t->gamma ? t->gamma[j] : 1.0f);
            a += g; b += g * xh;
        }
        a /= (double)t->N; b /= (double)t->N;
        for (j = 0; j < t->N; j++) {
            double xh = (bnbq__load(t->dt, t->X, m * t->N + j) - mean) * rstd;
            double g = bnbq__load(t->dt, t->G, m * t->N + j) * (t->gamma ? t->gamma[j] : 1.0f);
            bnbq__store_d(t->dt, t->out, m * t->N + j, rstd * (g - a - xh * b));
        }
    }
}
/* grad_gamma / grad_beta columns (parallel over columns) */
/* grad_gamma / grad_beta of columns [j0, j1): per column, double sums over the rows in row order.
   The columns go in blocks of BNBQ__LN_COLS, rows outer, so that a row's statistics (when mean /
   rstd are not given) are computed once per block instead of once per column (M N^2 work). */
#define BNBQ__LN_COLS 512
static void bnbq__cpu_ln_bwd_params_range(void* task, size_t j0, size_t j1) {
    const bnbq__task_ln* t = (const bnbq__task_ln*)task;
    double sg[BNBQ__LN_COLS], sb[BNBQ__LN_COLS];
    size_t m, j, b0, b1;
    for (b0 = j0; b0 < j1; b0 = b1) {
        b1 = j1 - b0 > BNBQ__LN_COLS ? b0 + BNBQ__LN_COLS : j1;
        for (j = b0; j < b1; j++) sg[j - b0] = sb[j - b0] = 0.0;
        for (m = 0; m < t->M; m++) {
            double mean, rstd;
            if (t->imean && t->irstd) { mean = t->imean[m]; rstd = t->irstd[m]; }
            else bnbq__ln_stats(t, m, &mean, &rstd);
            for (j = b0; j < b1; j++) {
                const double g = bnbq__load(t->dt, t->G, m * t->N + j);
                sg[j - b0] += g * (bnbq__load(t->dt, t->X, m * t->N + j) - mean) * rstd;
                sb[j - b0] += g;
            }
        }
        for (j = b0; j < b1; j++) {
            if (t->gg) t->gg[j] = (float)sg[j - b0];
            if (t->gb) t->gb[j] = (float)sb[j - b0];
        }
    }
}

BNBQ_API bnbq_result bnbq_layer_norm_backward(bnbq_exec* ex, bnbq_dtype dt, const void* X,
                                              const void* grad_out, size_t M, size_t N,
                                              const float* gamma, float eps, const float* mean,
                                              const float* rstd, void* grad_x,
                                              float* grad_gamma, float* grad_beta) {
    static const char* bnbq__func = "bnbq_layer_norm_backward";
    bnbq__task_ln t;
    size_t es = bnbq_dtype_size(dt);
    bnbq_result r = bnbq__check_ln(ex, bnbq__func, dt, X, M, N, eps);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(grad_out, BNBQ_ERROR_NULL_POINTER, "grad_out is NULL");
    BNBQ__REQUIRE(grad_x || grad_gamma || grad_beta, BNBQ_ERROR_NULL_POINTER,
                  "no output: grad_x, grad_gamma and grad_beta are NULL");
    BNBQ__REQUIRE((mean == NULL) == (rstd == NULL), BNBQ_ERROR_INVALID_ARGS,
                  "give both mean and rstd, or neither");
    BNBQ__REQUIRE(bnbq__aligned(X, es) && bnbq__aligned(grad_out, es) &&
                  bnbq__aligned(grad_x, es) && bnbq__aligned(gamma, 4) && bnbq__aligned(mean, 4) &&
                  bnbq__aligned(rstd, 4) && bnbq__aligned(grad_gamma, 4) &&
                  bnbq__aligned(grad_beta, 4), BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(layer_norm_backward, (ex, dt, X, grad_out, M, N, gamma, eps, mean, rstd, grad_x,
                                         grad_gamma, grad_beta));
    memset(&t, 0, sizeof t);
    t.dt = dt; t.X = X; t.G = grad_out; t.M = M; t.N = N; t.gamma = gamma; t.eps = eps;
    t.imean = mean; t.irstd = rstd; t.out = grad_x; t.gg = grad_gamma; t.gb = grad_beta;
    if (grad_x) bnbq__parallel(ex, bnbq__cpu_ln_bwd_range, &t, M);
    if (grad_gamma || grad_beta) bnbq__parallel(ex, bnbq__cpu_ln_bwd_params_range, &t, N);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_gather_rows_8bit(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CB,
                                           const float* SCB, size_t num_rows, size_t dim,
                                           const int32_t* idx, size_t count, void* out) {
    static const char* bnbq__func = "bnbq_gather_rows_8bit";
    size_t es = bnbq_dtype_size(dt), i, j;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(CB && SCB && idx && out, BNBQ_ERROR_NULL_POINTER,
                  "CB, SCB, idx or out is NULL");
    BNBQ__REQUIRE(num_rows > 0 && dim > 0 && count > 0, BNBQ_ERROR_BAD_SHAPE,
                  "num_rows, dim or count is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(num_rows, dim, 4, NULL) && bnbq__mul_ok(count, dim, es, NULL),
                  BNBQ_ERROR_OVERFLOW, "a size overflows");
    BNBQ__REQUIRE(bnbq__aligned(SCB, 4) && bnbq__aligned(idx, 4) && bnbq__aligned(out, es),
                  BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(gather_rows_8bit, (ex, dt, CB, SCB, num_rows, dim, idx, count, out));
    BNBQ__REQUIRE(bnbq__idx_ok(idx, count, num_rows), BNBQ_ERROR_INVALID_ARGS,
                  "an index is out of range");
    for (i = 0; i < count; i++) {
        size_t r = (size_t)idx[i];
        BNBQ__FLT_TMP float s = SCB[r] / 127.0f;
        for (j = 0; j < dim; j++) {
            BNBQ__FLT_TMP float v = (float)CB[r * dim + j] * s;
            bnbq__store(dt, out, i * dim + j, v);
        }
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_gather_rows_4bit(bnbq_exec* ex, bnbq_quant_type qt, bnbq_dtype dt,
                                           const uint8_t* packed, const float* absmax,
                                           size_t num_rows, size_t dim, int blocksize,
                                           const int32_t* idx, size_t count, void* out) {
    static const char* bnbq__func = "bnbq_gather_rows_4bit";
    size_t es = bnbq_dtype_size(dt), i, j;
    BNBQ__REQUIRE(qt == BNBQ_NF4 || qt == BNBQ_FP4, BNBQ_ERROR_BAD_QUANT_TYPE,
                  "quant type must be BNBQ_NF4 or BNBQ_FP4");
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(packed && absmax && idx && out, BNBQ_ERROR_NULL_POINTER,
                  "packed, absmax, idx or out is NULL");
    BNBQ__REQUIRE(num_rows > 0 && dim > 0 && count > 0, BNBQ_ERROR_BAD_SHAPE,
                  "num_rows, dim or count is 0");
    BNBQ__REQUIRE(bnbq__blocksize4_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                  "4-bit blocksize must be a power of two from 32 to 4096 (CPU: or larger)");
    BNBQ__REQUIRE(bnbq__mul_ok(num_rows, dim, 4, NULL) && bnbq__mul_ok(count, dim, es, NULL),
                  BNBQ_ERROR_OVERFLOW, "a size overflows");
    BNBQ__REQUIRE(bnbq__aligned(absmax, 4) && bnbq__aligned(idx, 4) && bnbq__aligned(out, es),
                  BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(gather_rows_4bit, (ex, qt, dt, packed, absmax, num_rows, dim, blocksize, idx,
                                      count, out));
    BNBQ__REQUIRE(bnbq__idx_ok(idx, count, num_rows), BNBQ_ERROR_INVALID_ARGS,
                  "an index is out of range");
    for (i = 0; i < count; i++)
        for (j = 0; j < dim; j++) {
            size_t e = (size_t)idx[i] * dim + j;
            int nib = (packed[e >> 1] >> ((e & 1) ? 0 : 4)) & 15;
            bnbq__store(dt, out, i * dim + j, bnbq__dequant4(qt, nib, absmax[e / (size_t)blocksize]));
        }
    return BNBQ_SUCCESS;
}

/* the outlier-column list of a CPU call: count in [0, limit], columns in [0, K) */
static int bnbq__cols_ok(const int32_t* cols, const int32_t* num_cols, size_t limit, size_t K) {
    int32_t i;
    if (*num_cols < 0 || (size_t)*num_cols > limit) return 0;
    for (i = 0; i < *num_cols; i++)
        if (cols[i] < 0 || (size_t)cols[i] >= K) return 0;
    return 1;
}

BNBQ_API bnbq_result bnbq_int8_outlier_mm(bnbq_exec* ex, bnbq_dtype dt, const void* A, size_t M,
                                          size_t K, const int8_t* CB, const float* SCB,
                                          size_t N, const int32_t* cols,
                                          const int32_t* num_cols, void* out) {
    static const char* bnbq__func = "bnbq_int8_outlier_mm";
    size_t es = bnbq_dtype_size(dt), m, n;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(A && CB && SCB && cols && num_cols && out, BNBQ_ERROR_NULL_POINTER,
                  "A, CB, SCB, cols, num_cols or out is NULL");
    BNBQ__REQUIRE(M > 0 && K > 0 && N > 0, BNBQ_ERROR_BAD_SHAPE, "M, K or N is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, es, NULL) && bnbq__mul_ok(N, K, 4, NULL) &&
                  bnbq__mul_ok(M, N, es, NULL), BNBQ_ERROR_OVERFLOW, "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__aligned(A, es) && bnbq__aligned(SCB, 4) && bnbq__aligned(cols, 4) &&
                  bnbq__aligned(num_cols, 4) && bnbq__aligned(out, es), BNBQ_ERROR_MISALIGNED,
                  "a tensor is misaligned");
    BNBQ__DISPATCH(int8_outlier_mm, (ex, dt, A, M, K, CB, SCB, N, cols, num_cols, out));
    BNBQ__REQUIRE(bnbq__cols_ok(cols, num_cols, K, K), BNBQ_ERROR_INVALID_ARGS,
                  "the outlier count or a column is out of range");
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            BNBQ__FLT_TMP float s = 0.0f;
            int32_t j;
            for (j = 0; j < *num_cols; j++) {
                size_t c = (size_t)cols[j];
                BNBQ__FLT_TMP float w0 = (float)CB[n * K + c] * SCB[n];
                BNBQ__FLT_TMP float w1 = w0 * 7.874015718698502e-3f;
                BNBQ__FLT_TMP float p = bnbq__load(dt, A, m * K + c) * bnbq__round_to(dt, w1);
                s = s + p;
            }
            {
                BNBQ__FLT_TMP float v = bnbq__load(dt, out, m * N + n) + s;
                bnbq__store(dt, out, m * N + n, v);
            }
        }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_int8_mixed_scaled_mm(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CA,
                                               const int8_t* CB, size_t M, size_t N, size_t K,
                                               const float* row_stats, const float* col_stats,
                                               bnbq_dtype bias_dt, const void* bias,
                                               const void* A, const int32_t* cols,
                                               const int32_t* num_cols, int32_t* work, void* out) {
    static const char* bnbq__func = "bnbq_int8_mixed_scaled_mm";
    size_t es = bnbq_dtype_size(dt);
    int32_t* P = work;
    bnbq_result r;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(!bias || bnbq__is_float_dtype(bias_dt), BNBQ_ERROR_BAD_DTYPE,
                  "bias_dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(CA && CB && row_stats && col_stats && out, BNBQ_ERROR_NULL_POINTER,
                  "CA, CB, row_stats, col_stats or out is NULL");
    BNBQ__REQUIRE(!cols || (A && num_cols), BNBQ_ERROR_NULL_POINTER,
                  "cols is given and A or num_cols is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    BNBQ__REQUIRE(work || M == 1, BNBQ_ERROR_NULL_POINTER, "work is NULL and M > 1");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, es, NULL) && bnbq__mul_ok(N, K, 1, NULL) &&
                  bnbq__mul_ok(M, N, 4, NULL) && bnbq__mul_ok(M, N, es, NULL), BNBQ_ERROR_OVERFLOW,
                  "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__aligned(row_stats, 4) && bnbq__aligned(col_stats, 4) &&
                  bnbq__aligned(work, 4) && bnbq__aligned(out, es) &&
                  (!bias || bnbq__aligned(bias, bnbq_dtype_size(bias_dt))) &&
                  (!cols || (bnbq__aligned(A, es) && bnbq__aligned(cols, 4) &&
                             bnbq__aligned(num_cols, 4))), BNBQ_ERROR_MISALIGNED,
                  "a tensor is misaligned");
    BNBQ__DISPATCH(int8_mixed_scaled_mm, (ex, dt, CA, CB, M, N, K, row_stats, col_stats, bias_dt,
                                          bias, A, cols, num_cols, work, out));
    /* the CPU: the three calls (the columns checked first, so that bad ones leave out as it was) */
    BNBQ__REQUIRE(!cols || bnbq__cols_ok(cols, num_cols, K, K), BNBQ_ERROR_INVALID_ARGS,
                  "the outlier count or a column is out of range");
    if (!P) {
        P = (int32_t*)malloc(N * sizeof(int32_t));
        BNBQ__REQUIRE(P != NULL, BNBQ_ERROR_OUT_OF_MEMORY, "no memory for the int32 products");
    }
    r = bnbq_int8_linear_matmul(ex, CA, CB, M, N, K, P);
    if (r == BNBQ_SUCCESS)
        r = bnbq_int8_mm_dequant(ex, dt, P, row_stats, col_stats, M, N, out, bias_dt, bias);
    if (r == BNBQ_SUCCESS && cols)
        r = bnbq_int8_outlier_mm(ex, dt, A, M, K, CB, col_stats, N, cols, num_cols, out);
    if (!work) free(P);
    return r;
}

BNBQ_API bnbq_result bnbq_gather_columns(bnbq_exec* ex, size_t elem_size, const void* X, size_t M,
                                         size_t K, const int32_t* cols, const int32_t* num_cols,
                                         size_t max_cols, void* out) {
    static const char* bnbq__func = "bnbq_gather_columns";
    size_t m, j;
    BNBQ__REQUIRE(bnbq__elem_size_ok(elem_size), BNBQ_ERROR_INVALID_ARGS,
                  "elem_size must be 1, 2, 4 or 8");
    BNBQ__REQUIRE(X && cols && num_cols && out, BNBQ_ERROR_NULL_POINTER,
                  "X, cols, num_cols or out is NULL");
    BNBQ__REQUIRE(M > 0 && K > 0 && max_cols > 0, BNBQ_ERROR_BAD_SHAPE, "M, K or max_cols is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, elem_size, NULL) && bnbq__mul_ok(M, max_cols, elem_size, NULL),
                  BNBQ_ERROR_OVERFLOW, "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__aligned(X, elem_size) && bnbq__aligned(out, elem_size) &&
                  bnbq__aligned(cols, 4) && bnbq__aligned(num_cols, 4), BNBQ_ERROR_MISALIGNED,
                  "a tensor is misaligned");
    BNBQ__DISPATCH(gather_columns, (ex, elem_size, X, M, K, cols, num_cols, max_cols, out));
    BNBQ__REQUIRE(bnbq__cols_ok(cols, num_cols, max_cols, K), BNBQ_ERROR_INVALID_ARGS,
                  "the column count or a column is out of range");
    for (m = 0; m < M; m++)
        for (j = 0; j < max_cols; j++) {
            uint8_t* d = (uint8_t*)out + (m * max_cols + j) * elem_size;
            if (j < (size_t)*num_cols)
                memcpy(d, (const uint8_t*)X + (m * K + (size_t)cols[j]) * elem_size, elem_size);
            else
                memset(d, 0, elem_size);
        }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_scatter_columns(bnbq_exec* ex, bnbq_dtype dt, const void* P, size_t M,
                                          size_t max_cols, const int32_t* cols,
                                          const int32_t* num_cols, int accumulate, void* out,
                                          size_t K) {
    static const char* bnbq__func = "bnbq_scatter_columns";
    size_t es = bnbq_dtype_size(dt), m;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(P && cols && num_cols && out, BNBQ_ERROR_NULL_POINTER,
                  "P, cols, num_cols or out is NULL");
    BNBQ__REQUIRE(M > 0 && K > 0 && max_cols > 0, BNBQ_ERROR_BAD_SHAPE, "M, K or max_cols is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, es, NULL) && bnbq__mul_ok(M, max_cols, es, NULL),
                  BNBQ_ERROR_OVERFLOW, "a matrix size overflows");
    BNBQ__REQUIRE(bnbq__aligned(P, es) && bnbq__aligned(out, es) && bnbq__aligned(cols, 4) &&
                  bnbq__aligned(num_cols, 4), BNBQ_ERROR_MISALIGNED, "a tensor is misaligned");
    BNBQ__DISPATCH(scatter_columns, (ex, dt, P, M, max_cols, cols, num_cols, accumulate, out, K));
    BNBQ__REQUIRE(bnbq__cols_ok(cols, num_cols, max_cols, K), BNBQ_ERROR_INVALID_ARGS,
                  "the column count or a column is out of range");
    for (m = 0; m < M; m++) {
        int32_t j;
        for (j = 0; j < *num_cols; j++) {
            size_t o = m * K + (size_t)cols[j];
            BNBQ__FLT_TMP float v = bnbq__load(dt, P, m * max_cols + (size_t)j);
            if (accumulate) v = v + bnbq__load(dt, out, o);
            bnbq__store(dt, out, o, v);
        }
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_int8_weight_dequant(bnbq_exec* ex, bnbq_dtype dt, const int8_t* CB,
                                              const float* SCB, size_t N, size_t K, void* out) {
    static const char* bnbq__func = "bnbq_int8_weight_dequant";
    size_t es = bnbq_dtype_size(dt), n, k;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(CB && SCB && out, BNBQ_ERROR_NULL_POINTER, "CB, SCB or out is NULL");
    BNBQ__REQUIRE(N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "N or K is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(N, K, es > 4 ? es : 4, NULL), BNBQ_ERROR_OVERFLOW,
                  "N * K overflows");
    BNBQ__REQUIRE(bnbq__aligned(SCB, 4) && bnbq__aligned(out, es), BNBQ_ERROR_MISALIGNED,
                  "a tensor is misaligned");
    BNBQ__DISPATCH(int8_weight_dequant, (ex, dt, CB, SCB, N, K, out));
    for (n = 0; n < N; n++) {
        BNBQ__FLT_TMP float s = SCB[n] * (1.0f / 127.0f);
        for (k = 0; k < K; k++) {
            BNBQ__FLT_TMP float v = (float)CB[n * K + k] * s;
            bnbq__store(dt, out, n * K + k, v);
        }
    }
    return BNBQ_SUCCESS;
}

// >>research

/* A bump allocator over a caller's workspace. measure: only count the bytes (base NULL). Every
   carve is 64-byte aligned. The research functions and the layers carve their buffers first and
   run their operations afterwards, so one pass with measure = 1 gives the size the real pass uses. */
typedef struct bnbq__arena {
    uint8_t* base;
    size_t   off, cap;
    int      measure;
    int      overflow;
} bnbq__arena;

static void* bnbq__take(bnbq__arena* a, size_t count, size_t elem) {
    size_t bytes, o;
    if (!bnbq__mul_ok(count, elem, 1, &bytes)) { a->overflow = 1; return NULL; }
    o = (a->off + 63u) & ~(size_t)63u;
    if (o < a->off || bytes > SIZE_MAX - o - 64u) { a->overflow = 1; return NULL; }
    a->off = o + (bytes ? bytes : 1u);
    if (a->measure || a->overflow || !a->base || a->off > a->cap) return NULL;
    return a->base + o;
}
static bnbq__arena bnbq__arena_measure(void) {
    bnbq__arena a;
    memset(&a, 0, sizeof a);
    a.measure = 1;
    return a;
}
static bnbq__arena bnbq__arena_on(void* base, size_t cap) {
    bnbq__arena a;
    memset(&a, 0, sizeof a);
    a.base = (uint8_t*)base;
    a.cap = cap;
    return a;
}

/* dst (n,) in ddt from src (n,) in sdt: a conversion, or a copy for equal dtypes. */
static bnbq_result bnbq__cvt(bnbq_exec* ex, bnbq_dtype sdt, const void* src, size_t n,
                             bnbq_dtype ddt, void* dst) {
    if (sdt == ddt) {
        if (src == dst) return BNBQ_SUCCESS;
        return bnbq_copy(ex, dst, src, n * bnbq_dtype_size(sdt), BNBQ_COPY_EXEC_TO_EXEC);
    }
    return bnbq_convert(ex, sdt, src, n, ddt, dst);
}

#define BNBQ__TRY(expr) do { bnbq_result bnbq__r = (expr); if (bnbq__r != BNBQ_SUCCESS) return bnbq__r; } while (0)

BNBQ_API bnbq_result bnbq_fp8_block_sizes(size_t in_features, size_t out_features, int* bsz,
                                          int* bsz2) {
    static const int sizes[8] = {4096, 2048, 1024, 512, 256, 128, 64, 0};
    bnbq_exec* ex = NULL;
    static const char* bnbq__func = "bnbq_fp8_block_sizes";
    int i;
    BNBQ__REQUIRE(bsz && bsz2, BNBQ_ERROR_NULL_POINTER, "bsz or bsz2 is NULL");
    BNBQ__REQUIRE(in_features > 0 && out_features > 0, BNBQ_ERROR_BAD_SHAPE,
                  "in_features or out_features is 0");
    *bsz = 4096;
    *bsz2 = 4096;
    for (i = 0; i < 7; i++)
        if ((size_t)sizes[i + 1] < in_features) { *bsz = sizes[i]; break; }
    for (i = 0; i < 7; i++)
        if ((size_t)sizes[i + 1] < out_features) { *bsz2 = sizes[i]; break; }
    return BNBQ_SUCCESS;
}

/* the FP8 workspace: codes, scales and dequantized values of A (M, K), B (K, N), grad (M, N) */
typedef struct bnbq__fp8_ws {
    uint8_t *qA, *qB, *qG;
    float *sA, *sB, *sG;
    void *fA, *fB, *fG;
} bnbq__fp8_ws;

static void bnbq__fp8_carve(bnbq__arena* a, size_t M, size_t N, size_t K, size_t es,
                            bnbq__fp8_ws* w) {
    size_t mk = 0, kn = 0, mn = 0;
    if (!bnbq__mul_ok(M, K, 1, &mk) || !bnbq__mul_ok(K, N, 1, &kn) || !bnbq__mul_ok(M, N, 1, &mn)) {
        a->overflow = 1;
        return;
    }
    w->qA = (uint8_t*)bnbq__take(a, mk, 1);
    w->sA = (float*)bnbq__take(a, mk / 64 + 1, 4);   /* blocksizes are >= 64 */
    w->fA = bnbq__take(a, mk, es);
    w->qB = (uint8_t*)bnbq__take(a, kn, 1);
    w->sB = (float*)bnbq__take(a, 1, 4);
    w->fB = bnbq__take(a, kn, es);
    w->qG = (uint8_t*)bnbq__take(a, mn, 1);
    w->sG = (float*)bnbq__take(a, mn / 64 + 1, 4);
    w->fG = bnbq__take(a, mn, es);
}

BNBQ_API bnbq_result bnbq_matmul_fp8_workspace_size(size_t M, size_t N, size_t K,
                                                    size_t* out_bytes) {
    static const char* bnbq__func = "bnbq_matmul_fp8_workspace_size";
    bnbq_exec* ex = NULL;
    bnbq__arena a = bnbq__arena_measure();
    bnbq__fp8_ws w;
    BNBQ__REQUIRE(out_bytes, BNBQ_ERROR_NULL_POINTER, "out_bytes is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    bnbq__fp8_carve(&a, M, N, K, 4, &w);
    BNBQ__REQUIRE(!a.overflow, BNBQ_ERROR_OVERFLOW, "the workspace size overflows");
    *out_bytes = a.off;
    return BNBQ_SUCCESS;
}

/* shared validation of the FP8 functions; fills the workspace carve */
static bnbq_result bnbq__fp8_check(bnbq_exec* ex, const char* bnbq__func, bnbq_dtype dt,
                                   const void* A, const void* B, size_t M, size_t N, size_t K,
                                   const float* code1, const float* code2, void* work,
                                   size_t work_bytes, bnbq__fp8_ws* w) {
    size_t need = 0, es = bnbq_dtype_size(dt);
    bnbq__arena a;
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(A && B && code1 && work, BNBQ_ERROR_NULL_POINTER,
                  "A, B, a code table or work is NULL");
    (void)code2;
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(M, K, 8, NULL) && bnbq__mul_ok(K, N, 8, NULL) &&
                  bnbq__mul_ok(M, N, 8, NULL), BNBQ_ERROR_OVERFLOW, "a matrix size overflows");
    BNBQ__REQUIRE(bnbq_matmul_fp8_workspace_size(M, N, K, &need) == BNBQ_SUCCESS,
                  BNBQ_ERROR_OVERFLOW, "the workspace size overflows");
    BNBQ__REQUIRE(work_bytes >= need, BNBQ_ERROR_INVALID_ARGS,
                  "work is smaller than bnbq_matmul_fp8_workspace_size");
    BNBQ__REQUIRE(bnbq__aligned(work, 4), BNBQ_ERROR_MISALIGNED, "work must be 4-byte aligned");
    a = bnbq__arena_on(work, work_bytes);
    bnbq__fp8_carve(&a, M, N, K, es, w);
    return BNBQ_SUCCESS;
}

/* The steps of bnbq_matmul_fp8_mixed / _global (w: the carved workspace): A (M, K) quantized and dequantized with
   fw_code (blockwise with bsz where mixed, else globally), B's K N values globally, then out = fA @ fB. wt: B is
   given as the weight (N, K) itself, B^T: the global quantization is elementwise with one absmax, so its values
   are B's, transposed, and the product takes it with tb (the FP8 layers, without a transposed copy). */
static bnbq_result bnbq__fp8_fwd_steps(bnbq_exec* ex, bnbq_dtype dt, int mixed, const void* A, const void* B,
                                       int wt, size_t M, size_t N, size_t K, const float* fw_code, int bsz,
                                       void* out, const bnbq__fp8_ws* w) {
    if (mixed) {
        BNBQ__TRY(bnbq_quantize_blockwise(ex, fw_code, dt, A, M * K, bsz, w->qA, w->sA));
        BNBQ__TRY(bnbq_dequantize_blockwise(ex, fw_code, dt, w->qA, w->sA, M * K, bsz, w->fA));
    } else {
        BNBQ__TRY(bnbq_quantize_global(ex, fw_code, dt, A, M * K, w->qA, w->sA));
        BNBQ__TRY(bnbq_dequantize_global(ex, fw_code, dt, w->qA, w->sA, M * K, w->fA));
    }
    BNBQ__TRY(bnbq_quantize_global(ex, fw_code, dt, B, K * N, w->qB, w->sB));
    BNBQ__TRY(bnbq_dequantize_global(ex, fw_code, dt, w->qB, w->sB, K * N, w->fB));
    return bnbq_gemm(ex, dt, 0, wt != 0, M, N, K, w->fA, w->fB, NULL, 0, out);
}

/* The steps of bnbq_matmul_fp8_mixed_backward / _global_backward: grad_out G (M, N) quantized with bw_code
   (blockwise with bsz2 where mixed, and there only for grad_A), grad_A = fG @ fB^T (B globally with fw_code),
   grad_B = A^T @ G (mixed) or fA^T @ fG (global, A globally with fw_code); each skipped where NULL. wt: B given
   as the weight (N, K) itself (as bnbq__fp8_fwd_steps), and grad_B written as its gradient (N, K) = G^T @ A. */
static bnbq_result bnbq__fp8_bwd_steps(bnbq_exec* ex, bnbq_dtype dt, int mixed, const void* A, const void* B,
                                       int wt, size_t M, size_t N, size_t K, const float* fw_code,
                                       const float* bw_code, int bsz2, const void* grad_out, void* grad_A,
                                       void* grad_B, const bnbq__fp8_ws* w) {
    const void *a = A, *g = grad_out;
    if (!grad_A && !grad_B) return BNBQ_SUCCESS;
    if (!mixed) {
        BNBQ__TRY(bnbq_quantize_global(ex, bw_code, dt, grad_out, M * N, w->qG, w->sG));
        BNBQ__TRY(bnbq_dequantize_global(ex, bw_code, dt, w->qG, w->sG, M * N, w->fG));
    }
    if (grad_A) {
        if (mixed) {
            BNBQ__TRY(bnbq_quantize_blockwise(ex, bw_code, dt, grad_out, M * N, bsz2, w->qG, w->sG));
            BNBQ__TRY(bnbq_dequantize_blockwise(ex, bw_code, dt, w->qG, w->sG, M * N, bsz2, w->fG));
        }
        BNBQ__TRY(bnbq_quantize_global(ex, fw_code, dt, B, K * N, w->qB, w->sB));
        BNBQ__TRY(bnbq_dequantize_global(ex, fw_code, dt, w->qB, w->sB, K * N, w->fB));
        BNBQ__TRY(bnbq_gemm(ex, dt, 0, wt == 0, M, K, N, w->fG, w->fB, NULL, 0, grad_A));
    }
    if (grad_B) {
        if (!mixed) {
            /* the global quantization of A^T holds the same values as that of A, transposed */
            BNBQ__TRY(bnbq_quantize_global(ex, fw_code, dt, A, M * K, w->qA, w->sA));
            BNBQ__TRY(bnbq_dequantize_global(ex, fw_code, dt, w->qA, w->sA, M * K, w->fA));
            a = w->fA;
            g = w->fG;
        }
        BNBQ__TRY(wt ? bnbq_gemm(ex, dt, 1, 0, N, K, M, g, a, NULL, 0, grad_B)
                     : bnbq_gemm(ex, dt, 1, 0, K, N, M, a, g, NULL, 0, grad_B));
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_matmul_fp8_mixed(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                           const void* B, size_t M, size_t N, size_t K,
                                           const float* fw_code, int bsz, void* out,
                                           void* work, size_t work_bytes) {
    static const char* bnbq__func = "bnbq_matmul_fp8_mixed";
    bnbq__fp8_ws w;
    BNBQ__REQUIRE(out, BNBQ_ERROR_NULL_POINTER, "out is NULL");
    BNBQ__TRY(bnbq__fp8_check(ex, bnbq__func, dt, A, B, M, N, K, fw_code, NULL, work, work_bytes,
                              &w));
    BNBQ__REQUIRE(bnbq__blocksize8_ok(ex, bsz), BNBQ_ERROR_BAD_BLOCKSIZE, "bad bsz");
    return bnbq__fp8_fwd_steps(ex, dt, 1, A, B, 0, M, N, K, fw_code, bsz, out, &w);
}

BNBQ_API bnbq_result bnbq_matmul_fp8_mixed_backward(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                    const void* B, size_t M, size_t N, size_t K,
                                                    const float* fw_code, const float* bw_code,
                                                    int bsz2, const void* grad_out,
                                                    void* grad_A, void* grad_B, void* work,
                                                    size_t work_bytes) {
    static const char* bnbq__func = "bnbq_matmul_fp8_mixed_backward";
    bnbq__fp8_ws w;
    BNBQ__REQUIRE(grad_out && bw_code, BNBQ_ERROR_NULL_POINTER, "grad_out or bw_code is NULL");
    BNBQ__TRY(bnbq__fp8_check(ex, bnbq__func, dt, A, B, M, N, K, fw_code, bw_code, work,
                              work_bytes, &w));
    BNBQ__REQUIRE(bnbq__blocksize8_ok(ex, bsz2), BNBQ_ERROR_BAD_BLOCKSIZE, "bad bsz2");
    return bnbq__fp8_bwd_steps(ex, dt, 1, A, B, 0, M, N, K, fw_code, bw_code, bsz2, grad_out, grad_A, grad_B,
                               &w);
}

BNBQ_API bnbq_result bnbq_matmul_fp8_global(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                            const void* B, size_t M, size_t N, size_t K,
                                            const float* fw_code, void* out, void* work,
                                            size_t work_bytes) {
    static const char* bnbq__func = "bnbq_matmul_fp8_global";
    bnbq__fp8_ws w;
    BNBQ__REQUIRE(out, BNBQ_ERROR_NULL_POINTER, "out is NULL");
    BNBQ__TRY(bnbq__fp8_check(ex, bnbq__func, dt, A, B, M, N, K, fw_code, NULL, work, work_bytes,
                              &w));
    return bnbq__fp8_fwd_steps(ex, dt, 0, A, B, 0, M, N, K, fw_code, 0, out, &w);
}

BNBQ_API bnbq_result bnbq_matmul_fp8_global_backward(bnbq_exec* ex, bnbq_dtype dt, const void* A,
                                                     const void* B, size_t M, size_t N, size_t K,
                                                     const float* fw_code, const float* bw_code,
                                                     const void* grad_out, void* grad_A,
                                                     void* grad_B, void* work, size_t work_bytes) {
    static const char* bnbq__func = "bnbq_matmul_fp8_global_backward";
    bnbq__fp8_ws w;
    BNBQ__REQUIRE(grad_out && bw_code, BNBQ_ERROR_NULL_POINTER, "grad_out or bw_code is NULL");
    BNBQ__TRY(bnbq__fp8_check(ex, bnbq__func, dt, A, B, M, N, K, fw_code, bw_code, work,
                              work_bytes, &w));
    return bnbq__fp8_bwd_steps(ex, dt, 0, A, B, 0, M, N, K, fw_code, bw_code, 0, grad_out, grad_A, grad_B, &w);
}

/* switchback_bnb workspace */
typedef struct bnbq__sbb_ws {
    int8_t *CA, *CB;
    float *SCA, *SCB;
    int32_t *cols, *cnt, *out32;
    uint16_t *subA, *subB, *Wd;
} bnbq__sbb_ws;

static void bnbq__sbb_carve(bnbq__arena* a, size_t M, size_t N, size_t K, bnbq__sbb_ws* w) {
    size_t mk = 0, nk = 0, mn = 0;
    if (!bnbq__mul_ok(M, K, 1, &mk) || !bnbq__mul_ok(N, K, 1, &nk) || !bnbq__mul_ok(M, N, 1, &mn)) {
        a->overflow = 1;
        return;
    }
    w->CA = (int8_t*)bnbq__take(a, mk, 1);
    w->SCA = (float*)bnbq__take(a, M, 4);
    w->cols = (int32_t*)bnbq__take(a, K, 4);
    w->cnt = (int32_t*)bnbq__take(a, 1, 4);
    w->CB = (int8_t*)bnbq__take(a, nk, 1);
    w->SCB = (float*)bnbq__take(a, N, 4);
    w->out32 = (int32_t*)bnbq__take(a, mn, 4);
    w->subA = (uint16_t*)bnbq__take(a, mk, 2);
    w->subB = (uint16_t*)bnbq__take(a, nk, 2);
    w->Wd = (uint16_t*)bnbq__take(a, nk, 2);
}

BNBQ_API bnbq_result bnbq_switchback_bnb_workspace_size(size_t M, size_t N, size_t K,
                                                        size_t* out_bytes) {
    static const char* bnbq__func = "bnbq_switchback_bnb_workspace_size";
    bnbq_exec* ex = NULL;
    bnbq__arena a = bnbq__arena_measure();
    bnbq__sbb_ws w;
    BNBQ__REQUIRE(out_bytes, BNBQ_ERROR_NULL_POINTER, "out_bytes is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    bnbq__sbb_carve(&a, M, N, K, &w);
    BNBQ__REQUIRE(!a.overflow, BNBQ_ERROR_OVERFLOW, "the workspace size overflows");
    *out_bytes = a.off;
    return BNBQ_SUCCESS;
}

static bnbq_result bnbq__sbb_check(bnbq_exec* ex, const char* bnbq__func, const uint16_t* A,
                                   const uint16_t* W, size_t M, size_t N, size_t K,
                                   float threshold, void* work, size_t work_bytes,
                                   bnbq__sbb_ws* w) {
    size_t need = 0;
    bnbq__arena a;
    BNBQ__REQUIRE(A && W && work, BNBQ_ERROR_NULL_POINTER, "A, W or work is NULL");
    BNBQ__REQUIRE(M > 0 && N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "M, N or K is 0");
    BNBQ__REQUIRE(threshold >= 0.0f && threshold <= FLT_MAX, BNBQ_ERROR_INVALID_ARGS,
                  "threshold must be finite and >= 0");
    BNBQ__REQUIRE(bnbq_switchback_bnb_workspace_size(M, N, K, &need) == BNBQ_SUCCESS &&
                  bnbq__mul_ok(M, K, 8, NULL) && bnbq__mul_ok(N, K, 8, NULL) &&
                  bnbq__mul_ok(M, N, 8, NULL), BNBQ_ERROR_OVERFLOW, "a size overflows");
    BNBQ__REQUIRE(work_bytes >= need, BNBQ_ERROR_INVALID_ARGS,
                  "work is smaller than bnbq_switchback_bnb_workspace_size");
    BNBQ__REQUIRE(bnbq__aligned(work, 4), BNBQ_ERROR_MISALIGNED, "work must be 4-byte aligned");
    a = bnbq__arena_on(work, work_bytes);
    bnbq__sbb_carve(&a, M, N, K, w);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_switchback_bnb(bnbq_exec* ex, const uint16_t* A, const uint16_t* W,
                                         size_t M, size_t N, size_t K, float threshold,
                                         const uint16_t* bias, uint16_t* out, void* work,
                                         size_t work_bytes) {
    static const char* bnbq__func = "bnbq_switchback_bnb";
    bnbq__sbb_ws w;
    int outl = threshold > 0.0f;
    BNBQ__REQUIRE(out, BNBQ_ERROR_NULL_POINTER, "out is NULL");
    BNBQ__TRY(bnbq__sbb_check(ex, bnbq__func, A, W, M, N, K, threshold, work, work_bytes, &w));
    BNBQ__TRY(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, A, M, K, threshold, w.CA, w.SCA,
                                         outl ? w.cols : NULL, outl ? w.cnt : NULL));
    BNBQ__TRY(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, W, N, K, 0.0f, w.CB, w.SCB, NULL, NULL));
    /* int8_linear_matmul + int8_mm_dequant, the same bytes (one kernel where the backend fuses them) */
    BNBQ__TRY(bnbq_int8_mixed_scaled_mm(ex, BNBQ_F16, w.CA, w.CB, M, N, K, w.SCA, w.SCB, BNBQ_F16, bias,
                                        NULL, NULL, NULL, w.out32, out));
    if (outl) {
        /* output += A[:, idx] @ W[:, idx]^T with the 16-bit weights (zero-padded columns past
           the count add nothing; the count stays in exec memory) */
        BNBQ__TRY(bnbq_gather_columns(ex, 2, A, M, K, w.cols, w.cnt, K, w.subA));
        BNBQ__TRY(bnbq_gather_columns(ex, 2, W, N, K, w.cols, w.cnt, K, w.subB));
        BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 0, 1, M, N, K, w.subA, w.subB, NULL, 1, out));
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_switchback_bnb_backward(bnbq_exec* ex, const uint16_t* A,
                                                  const uint16_t* W, size_t M, size_t N,
                                                  size_t K, float threshold,
                                                  const uint16_t* grad_out, uint16_t* grad_A,
                                                  uint16_t* grad_W, uint16_t* grad_bias,
                                                  void* work, size_t work_bytes) {
    static const char* bnbq__func = "bnbq_switchback_bnb_backward";
    bnbq__sbb_ws w;
    BNBQ__REQUIRE(grad_out, BNBQ_ERROR_NULL_POINTER, "grad_out is NULL");
    BNBQ__TRY(bnbq__sbb_check(ex, bnbq__func, A, W, M, N, K, threshold, work, work_bytes, &w));
    if (grad_bias) BNBQ__TRY(bnbq_column_sums(ex, BNBQ_F16, grad_out, M, N, grad_bias));
    if (grad_W) BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 1, 0, N, K, M, grad_out, A, NULL, 0, grad_W));
    if (grad_A) {
        BNBQ__TRY(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, W, N, K, 0.0f, w.CB, w.SCB, NULL,
                                             NULL));
        BNBQ__TRY(bnbq_int8_weight_dequant(ex, BNBQ_F16, w.CB, w.SCB, N, K, w.Wd));
        BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 0, 0, M, K, N, grad_out, w.Wd, NULL, 0, grad_A));
    }
    return BNBQ_SUCCESS;
}

// >>layers

/* Layer notes (where bnbq departs from bitsandbytes, and why):
   - OutlierAwareLinear.forward in bitsandbytes returns None after the one-time weight
     quantization; bnbq runs the intended forward_with_outliers callback afterwards. It has no
     backward (the subclass owns the numerics): NOT_SUPPORTED.
   - SwitchBackLinearBnb calls bnb.matmul_mixed, which does not exist; bnbq runs
     switchback_bnb(x.half(), W.half()) + bias (algorithms.md 7.4), output F16 (the bias is added
     in F16 after rounding it to F16). The outlier product joins the int8 output in one rounding.
   - LinearFP8Global calls bnb.matmul_fp8_global, which does not exist; bnbq runs the intended
     bitsandbytes.research.matmul_fp8_global.
   - Linear8bitLt's int8 weight gradient is wrong in bitsandbytes (algorithms.md 5.6); bnbq
     computes the intended one: column-quantized grad and input (int8_double_quant's CAt/SCAt),
     contiguous transposed operands, int8_linear_matmul, int8_mm_dequant with SCgradt/SCAt, and the
     outlier columns REPLACED by the exact 16-bit grad^T @ A[:, idx]. desc.weight_grad_16bit:
     grad^T @ A in 16 bit. With 16-bit weights in training mode the weight is re-quantized on every
     forward (bnbq has no gradient accumulation state); in eval mode it is quantized once.
   - Linear4bit uses the one-token gemv path whenever tokens == 1 and in % blocksize == 0 (bnb
     also requires that x does not require grad, which a C caller cannot express).
   - LinearFP8* / SwitchBackLinearBnb add the bias after the product as torch's `out += bias`
     (one rounding of out + bias); a bias of another dtype than the output is first rounded to it.
   - SwitchBackLinear* take any float input and weight and round them to F16 first (the Triton
     kernels are fp16-only); their output and grad_out are F16.
   - StandardLinear and LinearFP8* need x in the weight dtype (torch would raise): BAD_DTYPE.
   - Linear4bit / Linear8bitLt cast the bias PERMANENTLY to the dtype of a forward's x, as
     bitsandbytes' forward does (`self.bias.data = self.bias.data.to(x.dtype)`): a layer created
     in F32 keeps an F32 bias (bias_dtype) until the first F16 forward, then holds it in F16 (and
     grad_bias in F16). The cast allocates the new bias once, in exec memory, on the forward that
     changes the dtype; forwards in the same dtype allocate nothing. A backward needs the dtype of
     the last forward.
   - Linear4bit without desc.compute_dtype_set runs bitsandbytes' set_compute_type on its first
     forward only: an F32 / BF16 input fixes the compute dtype to its own; an F16 input leaves it
     unset (the layer computes in each input's dtype) and logs one WARN through the exec's logger,
     "... slow inference." for one token, "... slow inference or training speed." for more.
     bitsandbytes warns through Python's warnings module, which also shows each message once per
     process (its test: two nets of 10 layers, exactly 2 warnings); C has no process-wide
     registry, so bnbq warns once per layer (each layer's first forward). */

typedef struct bnbq__linear_impl {
    float*     offset_x;      /* (1,) nested offset in exec memory                             */
    void*      saved;         /* memory-efficient SwitchBack: Xq, sX, Wq, sW of the last forward */
    size_t     saved_bytes;
    int8_t*    sv_Xq; uint16_t* sv_sX; int8_t* sv_Wq; uint16_t* sv_sW;
    int        saved_valid;
    void*      ones;          /* (ones_count,) 1.0 in ones_dt: the bias-add GEMM's left operand  */
    size_t     ones_count;
    bnbq_dtype ones_dt;
    bnbq_dtype compute_dt;    /* Linear4bit compute dtype once set                             */
    int        compute_set;
    int        compute_checked; /* Linear4bit compute_type_is_set: the first forward ran        */
    int        cb_valid;      /* Linear8bitLt: CB/SCB hold the quantized weight                 */
} bnbq__linear_impl;

#define BNBQ__LIMPL(L) ((bnbq__linear_impl*)(L)->impl)

static int bnbq__lin_is4(bnbq_linear_kind k) {
    return k == BNBQ_LINEAR_4BIT || k == BNBQ_LINEAR_FP4 || k == BNBQ_LINEAR_NF4;
}
static int bnbq__lin_isi8(bnbq_linear_kind k) {
    return k == BNBQ_LINEAR_8BIT_LT || k == BNBQ_LINEAR_SWITCHBACK_BNB;
}
static int bnbq__lin_issb(bnbq_linear_kind k) {
    return k == BNBQ_LINEAR_SWITCHBACK_GLOBAL || k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE ||
           k == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF;
}
static int bnbq__lin_isfp8(bnbq_linear_kind k) {
    return k == BNBQ_LINEAR_FP8_MIXED || k == BNBQ_LINEAR_FP8_GLOBAL;
}
/* the layer trains its float weight */
static int bnbq__lin_trains_w(const bnbq_linear_desc* d) {
    if (bnbq__lin_is4(d->kind) || d->kind == BNBQ_LINEAR_OUTLIER_AWARE) return 0;
    if (bnbq__lin_isi8(d->kind)) return !d->int8_weights;
    return 1;
}

static uint64_t bnbq__splitmix64(uint64_t* s) {
    uint64_t z;
    *s += ((uint64_t)0x9E3779B9u << 32) | 0x7F4A7C15u;
    z = *s;
    z = (z ^ (z >> 30)) * (((uint64_t)0xBF58476Du << 32) | 0x1CE4E5B9u);
    z = (z ^ (z >> 27)) * (((uint64_t)0x94D049BBu << 32) | 0x133111EBu);
    return z ^ (z >> 31);
}

/* n values of U(-bound, bound) in dt, written to exec memory dst */
static bnbq_result bnbq__lin_uniform(bnbq_exec* ex, uint64_t* state, double bound, bnbq_dtype dt,
                                     size_t n, void* dst) {
    size_t es = bnbq_dtype_size(dt), i;
    bnbq_result r;
    void* h = bnbq_host_alloc(ex, n * es);
    if (!h) return BNBQ_ERROR_OUT_OF_MEMORY;
    for (i = 0; i < n; i++) {
        double u = (double)(bnbq__splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
        bnbq__store(dt, h, i, (float)((2.0 * u - 1.0) * bound));
    }
    r = bnbq_copy(ex, dst, h, n * es, BNBQ_COPY_HOST_TO_EXEC);
    bnbq_host_free(ex, h);
    return r;
}

static void bnbq__xfree(bnbq_exec* ex, void* pp) {
    void** p = (void**)pp;
    bnbq_free(ex, *p);
    *p = NULL;
}

/* drops the quantized weight state (Params4bit / Int8Params / prepared SwitchBack) */
static void bnbq__lin_clear_quant(bnbq_exec* ex, bnbq_linear* L) {
    bnbq__linear_impl* im = BNBQ__LIMPL(L);
    bnbq__xfree(ex, &L->packed);
    bnbq__xfree(ex, &L->absmax);
    bnbq__xfree(ex, &L->absmax_q);
    bnbq__xfree(ex, &L->nested_absmax);
    bnbq__xfree(ex, &L->W_int8);
    bnbq__xfree(ex, &L->state_W);
    L->prepared_for_eval = 0;
    L->quantized = 0;
    if (im) im->cb_valid = 0;
    if (L->desc.int8_weights || !bnbq__lin_isi8(L->desc.kind)) {
        bnbq__xfree(ex, &L->CB);
        bnbq__xfree(ex, &L->SCB);
    }
}

BNBQ_API void bnbq_linear_uninit(bnbq_exec* ex, bnbq_linear* L) {
    bnbq__linear_impl* im;
    if (!L) return;
    im = BNBQ__LIMPL(L);
    bnbq__xfree(ex, &L->weight);
    bnbq__xfree(ex, &L->bias);
    bnbq__xfree(ex, &L->grad_weight);
    bnbq__xfree(ex, &L->grad_bias);
    bnbq__xfree(ex, &L->packed);
    bnbq__xfree(ex, &L->absmax);
    bnbq__xfree(ex, &L->absmax_q);
    bnbq__xfree(ex, &L->nested_absmax);
    bnbq__xfree(ex, &L->CB);
    bnbq__xfree(ex, &L->SCB);
    bnbq__xfree(ex, &L->outlier_cols);
    bnbq__xfree(ex, &L->num_outliers);
    bnbq__xfree(ex, &L->W_int8);
    bnbq__xfree(ex, &L->state_W);
    bnbq__xfree(ex, &L->work);
    if (im) {
        bnbq__xfree(ex, &im->offset_x);
        bnbq__xfree(ex, &im->saved);
        bnbq__xfree(ex, &im->ones);
        bnbq_host_free(ex, im);
    }
    memset(L, 0, sizeof *L);
}

BNBQ_API bnbq_result bnbq_linear_init(bnbq_exec* ex, bnbq_linear* L, const bnbq_linear_desc* desc) {
    static const char* bnbq__func = "bnbq_linear_init";
    bnbq_linear_desc d;
    bnbq__linear_impl* im;
    size_t N, K, es, nk;
    uint64_t st;
    double bound;
    bnbq_result r;
    BNBQ__REQUIRE(L && desc, BNBQ_ERROR_NULL_POINTER, "layer or desc is NULL");
    memset(L, 0, sizeof *L);
    d = *desc;
    N = d.out_features;
    K = d.in_features;
    BNBQ__REQUIRE((int)d.kind >= (int)BNBQ_LINEAR_STANDARD &&
                  (int)d.kind <= (int)BNBQ_LINEAR_FP8_GLOBAL, BNBQ_ERROR_INVALID_ARGS,
                  "unknown layer kind");
    BNBQ__REQUIRE(N > 0 && K > 0, BNBQ_ERROR_BAD_SHAPE, "in_features or out_features is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(N, K, 8, &nk) && N <= (size_t)INT32_MAX &&
                  K <= (size_t)INT32_MAX, BNBQ_ERROR_OVERFLOW, "out * in overflows");
    BNBQ__REQUIRE(bnbq__is_float_dtype(d.weight_dtype), BNBQ_ERROR_BAD_DTYPE,
                  "weight_dtype must be F32, F16 or BF16");
    if (d.kind == BNBQ_LINEAR_FP4) d.quant_type = BNBQ_FP4;
    if (d.kind == BNBQ_LINEAR_NF4) d.quant_type = BNBQ_NF4;
    if (bnbq__lin_is4(d.kind)) {
        BNBQ__REQUIRE(d.quant_type == BNBQ_FP4 || d.quant_type == BNBQ_NF4,
                      BNBQ_ERROR_BAD_QUANT_TYPE, "quant_type must be FP4 or NF4");
        if (d.blocksize == 0) d.blocksize = 64;
        BNBQ__REQUIRE(bnbq__blocksize4_ok(ex, d.blocksize), BNBQ_ERROR_BAD_BLOCKSIZE,
                      "bad 4-bit blocksize");
        BNBQ__REQUIRE(!d.compute_dtype_set || bnbq__is_float_dtype(d.compute_dtype),
                      BNBQ_ERROR_BAD_DTYPE, "compute_dtype must be F32, F16 or BF16");
    }
    BNBQ__REQUIRE(d.threshold >= 0.0f && d.threshold <= FLT_MAX, BNBQ_ERROR_INVALID_ARGS,
                  "threshold must be finite and >= 0");
    if (d.kind == BNBQ_LINEAR_OUTLIER_AWARE)
        BNBQ__REQUIRE(d.quantize_weight && d.forward_with_outliers, BNBQ_ERROR_NULL_POINTER,
                      "OutlierAwareLinear needs quantize_weight and forward_with_outliers");
    if (!bnbq__lin_isi8(d.kind)) d.int8_weights = 0;
    es = bnbq_dtype_size(d.weight_dtype);
    im = (bnbq__linear_impl*)bnbq_host_alloc(ex, sizeof *im);
    BNBQ__REQUIRE(im, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    memset(im, 0, sizeof *im);
    L->impl = im;
    L->desc = d;
    L->training = 1;
    L->bias_dtype = d.weight_dtype;
    L->quant_type = d.quant_type;
    L->blocksize = d.blocksize;
    L->nested = bnbq__lin_is4(d.kind) && !d.no_compress_statistics;
    L->quant_dtype = d.weight_dtype;
    /* parameters: torch nn.Linear's kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)) */
    st = d.seed;
    bound = 1.0 / sqrt((double)K);
    r = bnbq_alloc(ex, N * K * es, &L->weight);
    if (r == BNBQ_SUCCESS) r = bnbq__lin_uniform(ex, &st, bound, d.weight_dtype, N * K, L->weight);
    if (r == BNBQ_SUCCESS && !d.no_bias) {
        r = bnbq_alloc(ex, N * es, &L->bias);
        if (r == BNBQ_SUCCESS) r = bnbq__lin_uniform(ex, &st, bound, d.weight_dtype, N, L->bias);
        if (r == BNBQ_SUCCESS && d.kind != BNBQ_LINEAR_OUTLIER_AWARE)
            r = bnbq_alloc(ex, N * es, &L->grad_bias);
    }
    if (r == BNBQ_SUCCESS && bnbq__lin_trains_w(&d)) r = bnbq_alloc(ex, N * K * es, &L->grad_weight);
    if (r == BNBQ_SUCCESS && bnbq__lin_isi8(d.kind)) {
        r = bnbq_alloc(ex, K * 4, (void**)&L->outlier_cols);
        if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, 4, (void**)&L->num_outliers);
        if (r == BNBQ_SUCCESS) r = bnbq_fill_bytes(ex, L->num_outliers, 0, 4);
        if (r == BNBQ_SUCCESS && !d.int8_weights) {
            r = bnbq_alloc(ex, N * K, (void**)&L->CB);
            if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, N * 4, (void**)&L->SCB);
        }
    }
    if (r == BNBQ_SUCCESS && bnbq__lin_isfp8(d.kind)) {
        r = bnbq_fp8_block_sizes(K, N, &L->bsz, &L->bsz2);
        if (r == BNBQ_SUCCESS) r = bnbq_create_fp8_map(1, 4, 3, 8, L->fw_code);
        if (r == BNBQ_SUCCESS) r = bnbq_create_fp8_map(1, 5, 2, 8, L->bw_code);
    }
    if (r != BNBQ_SUCCESS) {
        bnbq_linear_uninit(ex, L);
        return bnbq__fail(ex, bnbq__func, r, "could not allocate or initialise the parameters");
    }
    return BNBQ_SUCCESS;
}

static bnbq_result bnbq__lin_check(bnbq_exec* ex, const char* bnbq__func, const bnbq_linear* L) {
    BNBQ__REQUIRE(L, BNBQ_ERROR_NULL_POINTER, "layer is NULL");
    BNBQ__REQUIRE(L->impl, BNBQ_ERROR_INVALID_ARGS, "the layer is not initialised");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_set_weight(bnbq_exec* ex, bnbq_linear* L, const void* weight,
                                            const void* bias) {
    static const char* bnbq__func = "bnbq_linear_set_weight";
    size_t N, K, es;
    BNBQ__TRY(bnbq__lin_check(ex, bnbq__func, L));
    BNBQ__REQUIRE(weight, BNBQ_ERROR_NULL_POINTER, "weight is NULL");
    BNBQ__REQUIRE(!bias || L->bias, BNBQ_ERROR_INVALID_ARGS, "the layer has no bias");
    N = L->desc.out_features;
    K = L->desc.in_features;
    es = bnbq_dtype_size(L->desc.weight_dtype);
    bnbq__lin_clear_quant(ex, L);
    BNBQ__LIMPL(L)->saved_valid = 0;
    if (!L->weight) BNBQ__TRY(bnbq_alloc(ex, N * K * es, &L->weight));
    BNBQ__TRY(bnbq_copy(ex, L->weight, weight, N * K * es, BNBQ_COPY_HOST_TO_EXEC));
    if (bias) {
        if (L->bias_dtype != L->desc.weight_dtype) {
            bnbq__xfree(ex, &L->bias);
            bnbq__xfree(ex, &L->grad_bias);
            L->bias_dtype = L->desc.weight_dtype;
            BNBQ__TRY(bnbq_alloc(ex, N * es, &L->bias));
            if (L->desc.kind != BNBQ_LINEAR_OUTLIER_AWARE)
                BNBQ__TRY(bnbq_alloc(ex, N * es, &L->grad_bias));
        }
        BNBQ__TRY(bnbq_copy(ex, L->bias, bias, N * es, BNBQ_COPY_HOST_TO_EXEC));
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_quantize(bnbq_exec* ex, bnbq_linear* L) {
    static const char* bnbq__func = "bnbq_linear_quantize";
    bnbq_linear_kind k;
    size_t N, K, n;
    BNBQ__TRY(bnbq__lin_check(ex, bnbq__func, L));
    k = L->desc.kind;
    N = L->desc.out_features;
    K = L->desc.in_features;
    n = N * K;
    if (bnbq__lin_is4(k)) {
        size_t nb = (n + (size_t)L->blocksize - 1) / (size_t)L->blocksize;
        bnbq__linear_impl* im = BNBQ__LIMPL(L);
        bnbq_result r;
        if (L->quantized) return BNBQ_SUCCESS;   /* bnb_quantized: a later move does nothing */
        BNBQ__REQUIRE(L->weight, BNBQ_ERROR_INVALID_ARGS, "the layer has no float weight");
        L->quant_type = L->desc.quant_type;
        L->blocksize = L->desc.blocksize;
        L->nested = !L->desc.no_compress_statistics;
        L->quant_dtype = L->desc.weight_dtype;
        r = bnbq_alloc(ex, (n + 1) / 2, (void**)&L->packed);
        if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, nb * 4, (void**)&L->absmax);
        if (r == BNBQ_SUCCESS)
            r = bnbq_quantize_4bit(ex, L->quant_type, L->quant_dtype, L->weight, n, L->blocksize,
                                   L->packed, L->absmax);
        if (r == BNBQ_SUCCESS && L->nested) {
            if (!im->offset_x) r = bnbq_alloc(ex, 4, (void**)&im->offset_x);
            if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, nb, (void**)&L->absmax_q);
            if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, (nb + 255) / 256 * 4, (void**)&L->nested_absmax);
            if (r == BNBQ_SUCCESS) r = bnbq_nested_offset(ex, L->absmax, nb, im->offset_x);
            if (r == BNBQ_SUCCESS)
                r = bnbq_quantize_nested(ex, NULL, L->absmax, nb, 256, im->offset_x, L->absmax_q,
                                         L->nested_absmax);
            if (r == BNBQ_SUCCESS)
                r = bnbq_copy(ex, &L->nested_offset, im->offset_x, 4, BNBQ_COPY_EXEC_TO_HOST);
            if (r == BNBQ_SUCCESS) bnbq__xfree(ex, &L->absmax);
        }
        if (r != BNBQ_SUCCESS) {
            bnbq__lin_clear_quant(ex, L);
            return r;
        }
        bnbq__xfree(ex, &L->weight);
        L->quantized = 1;
        return BNBQ_SUCCESS;
    }
    if (bnbq__lin_isi8(k)) {
        void* w16 = NULL;
        bnbq_result r;
        if (!L->desc.int8_weights) return BNBQ_SUCCESS;  /* has_fp16_weights: an ordinary move */
        if (L->quantized) return BNBQ_SUCCESS;
        BNBQ__REQUIRE(L->weight, BNBQ_ERROR_INVALID_ARGS, "the layer has no float weight");
        r = bnbq_alloc(ex, n * 2, &w16);
        if (r == BNBQ_SUCCESS) r = bnbq__cvt(ex, L->desc.weight_dtype, L->weight, n, BNBQ_F16, w16);
        if (r == BNBQ_SUCCESS && !L->CB) r = bnbq_alloc(ex, n, (void**)&L->CB);
        if (r == BNBQ_SUCCESS && !L->SCB) r = bnbq_alloc(ex, N * 4, (void**)&L->SCB);
        if (r == BNBQ_SUCCESS)
            r = bnbq_int8_vectorwise_quant(ex, BNBQ_F16, w16, N, K, 0.0f, L->CB, L->SCB, NULL, NULL);
        bnbq_free(ex, w16);
        if (r != BNBQ_SUCCESS) return r;
        bnbq__xfree(ex, &L->weight);
        L->quantized = 1;
        BNBQ__LIMPL(L)->cb_valid = 1;
        return BNBQ_SUCCESS;
    }
    return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_NOT_SUPPORTED,
                      "this layer kind has no quantized weight state");
}

BNBQ_API bnbq_result bnbq_linear_load_4bit(bnbq_exec* ex, bnbq_linear* L, bnbq_quant_type qt,
                                           int blocksize, bnbq_dtype quant_dtype,
                                           const uint8_t* packed, const float* absmax,
                                           const uint8_t* absmax_q, const float* nested_absmax,
                                           float nested_offset) {
    static const char* bnbq__func = "bnbq_linear_load_4bit";
    size_t n, nb;
    bnbq__linear_impl* im;
    int nested = absmax == NULL;
    BNBQ__TRY(bnbq__lin_check(ex, bnbq__func, L));
    BNBQ__REQUIRE(bnbq__lin_is4(L->desc.kind), BNBQ_ERROR_NOT_SUPPORTED, "not a 4-bit layer");
    BNBQ__REQUIRE(packed, BNBQ_ERROR_NULL_POINTER, "packed is NULL");
    BNBQ__REQUIRE(!nested || (absmax_q && nested_absmax), BNBQ_ERROR_NULL_POINTER,
                  "give absmax, or absmax_q and nested_absmax");
    BNBQ__REQUIRE(qt == BNBQ_FP4 || qt == BNBQ_NF4, BNBQ_ERROR_BAD_QUANT_TYPE,
                  "quant type must be FP4 or NF4");
    BNBQ__REQUIRE(bnbq__blocksize4_ok(ex, blocksize), BNBQ_ERROR_BAD_BLOCKSIZE, "bad blocksize");
    BNBQ__REQUIRE(bnbq__is_float_dtype(quant_dtype), BNBQ_ERROR_BAD_DTYPE, "bad quant dtype");
    BNBQ__REQUIRE(nested_offset == nested_offset, BNBQ_ERROR_INVALID_ARGS, "offset is NaN");
    im = BNBQ__LIMPL(L);
    n = L->desc.out_features * L->desc.in_features;
    nb = (n + (size_t)blocksize - 1) / (size_t)blocksize;
    bnbq__lin_clear_quant(ex, L);
    bnbq__xfree(ex, &L->weight);
    L->quant_type = qt;
    L->blocksize = blocksize;
    L->quant_dtype = quant_dtype;
    L->nested = nested;
    BNBQ__TRY(bnbq_alloc(ex, (n + 1) / 2, (void**)&L->packed));
    BNBQ__TRY(bnbq_copy(ex, L->packed, packed, (n + 1) / 2, BNBQ_COPY_HOST_TO_EXEC));
    if (!nested) {
        BNBQ__TRY(bnbq_alloc(ex, nb * 4, (void**)&L->absmax));
        BNBQ__TRY(bnbq_copy(ex, L->absmax, absmax, nb * 4, BNBQ_COPY_HOST_TO_EXEC));
    } else {
        if (!im->offset_x) BNBQ__TRY(bnbq_alloc(ex, 4, (void**)&im->offset_x));
        BNBQ__TRY(bnbq_copy(ex, im->offset_x, &nested_offset, 4, BNBQ_COPY_HOST_TO_EXEC));
        BNBQ__TRY(bnbq_alloc(ex, nb, (void**)&L->absmax_q));
        BNBQ__TRY(bnbq_copy(ex, L->absmax_q, absmax_q, nb, BNBQ_COPY_HOST_TO_EXEC));
        BNBQ__TRY(bnbq_alloc(ex, (nb + 255) / 256 * 4, (void**)&L->nested_absmax));
        BNBQ__TRY(bnbq_copy(ex, L->nested_absmax, nested_absmax, (nb + 255) / 256 * 4,
                            BNBQ_COPY_HOST_TO_EXEC));
        L->nested_offset = nested_offset;
    }
    L->quantized = 1;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_load_8bit(bnbq_exec* ex, bnbq_linear* L, const int8_t* CB,
                                           const float* SCB) {
    static const char* bnbq__func = "bnbq_linear_load_8bit";
    size_t N, K;
    BNBQ__TRY(bnbq__lin_check(ex, bnbq__func, L));
    BNBQ__REQUIRE(bnbq__lin_isi8(L->desc.kind), BNBQ_ERROR_NOT_SUPPORTED,
                  "not an LLM.int8 layer");
    BNBQ__REQUIRE(CB && SCB, BNBQ_ERROR_NULL_POINTER, "CB or SCB is NULL");
    N = L->desc.out_features;
    K = L->desc.in_features;
    if (!L->CB) BNBQ__TRY(bnbq_alloc(ex, N * K, (void**)&L->CB));
    if (!L->SCB) BNBQ__TRY(bnbq_alloc(ex, N * 4, (void**)&L->SCB));
    BNBQ__TRY(bnbq_copy(ex, L->CB, CB, N * K, BNBQ_COPY_HOST_TO_EXEC));
    BNBQ__TRY(bnbq_copy(ex, L->SCB, SCB, N * 4, BNBQ_COPY_HOST_TO_EXEC));
    if (L->desc.int8_weights) {
        bnbq__xfree(ex, &L->weight);
        L->quantized = 1;
    }
    BNBQ__LIMPL(L)->cb_valid = 1;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_prepare_for_eval(bnbq_exec* ex, bnbq_linear* L) {
    static const char* bnbq__func = "bnbq_linear_prepare_for_eval";
    size_t N, K;
    void* w16 = NULL;
    bnbq_result r;
    int vw;
    BNBQ__TRY(bnbq__lin_check(ex, bnbq__func, L));
    BNBQ__REQUIRE(bnbq__lin_issb(L->desc.kind), BNBQ_ERROR_NOT_SUPPORTED,
                  "only SwitchBackLinear layers have prepare_for_eval");
    if (L->prepared_for_eval) return BNBQ_SUCCESS;
    BNBQ__REQUIRE(L->weight, BNBQ_ERROR_INVALID_ARGS, "the layer has no float weight");
    N = L->desc.out_features;
    K = L->desc.in_features;
    vw = L->desc.kind == BNBQ_LINEAR_SWITCHBACK_VECTORWISE;
    r = bnbq_alloc(ex, N * K * 2, &w16);
    if (r == BNBQ_SUCCESS) r = bnbq__cvt(ex, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16, w16);
    if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, N * K, (void**)&L->W_int8);
    if (r == BNBQ_SUCCESS) r = bnbq_alloc(ex, (vw ? N : 1) * 2, (void**)&L->state_W);
    if (r == BNBQ_SUCCESS)
        r = vw ? bnbq_quantize_rowwise(ex, BNBQ_F16, w16, N, K, L->W_int8, L->state_W)
               : bnbq_quantize_global_int8(ex, BNBQ_F16, w16, N * K, L->W_int8, L->state_W);
    bnbq_free(ex, w16);
    if (r != BNBQ_SUCCESS) {
        bnbq__xfree(ex, &L->W_int8);
        bnbq__xfree(ex, &L->state_W);
        return r;
    }
    bnbq__xfree(ex, &L->weight);   /* del self.weight */
    L->prepared_for_eval = 1;
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_linear_set_training(bnbq_linear* L, int training) {
    if (L) L->training = training != 0;
}

BNBQ_API bnbq_dtype bnbq_linear_output_dtype(const bnbq_linear* L, bnbq_dtype x_dt) {
    if (L && (bnbq__lin_issb(L->desc.kind) || L->desc.kind == BNBQ_LINEAR_SWITCHBACK_BNB))
        return BNBQ_F16;
    return x_dt;
}

/* ---- one step: arguments, and the two-pass workspace driver ---- */
typedef struct bnbq__lin_args {
    bnbq_dtype  x_dt;
    const void* x;
    size_t      T;
    void*       out;
    const void* g;       /* grad_out */
    void*       gx;      /* grad_x or NULL */
} bnbq__lin_args;

typedef bnbq_result (*bnbq__lin_fn)(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                    bnbq__arena* a, bnbq__arena* s);

static bnbq_result bnbq__lin_grow(bnbq_exec* ex, void** buf, size_t* bytes, size_t need) {
    if (need <= *bytes) return BNBQ_SUCCESS;
    bnbq_free(ex, *buf);
    *buf = NULL;
    *bytes = 0;
    BNBQ__TRY(bnbq_alloc(ex, need, buf));
    *bytes = need;
    return BNBQ_SUCCESS;
}

static bnbq_result bnbq__lin_drive(bnbq_exec* ex, const char* bnbq__func, bnbq_linear* L,
                                   bnbq__lin_fn fn, const bnbq__lin_args* g) {
    bnbq__linear_impl* im = BNBQ__LIMPL(L);
    bnbq__arena a = bnbq__arena_measure(), s = bnbq__arena_measure();
    BNBQ__TRY(fn(ex, L, g, &a, &s));
    BNBQ__REQUIRE(!a.overflow && !s.overflow, BNBQ_ERROR_OVERFLOW, "the workspace size overflows");
    if (a.off) BNBQ__TRY(bnbq__lin_grow(ex, &L->work, &L->work_bytes, a.off));
    if (s.off) BNBQ__TRY(bnbq__lin_grow(ex, &im->saved, &im->saved_bytes, s.off));
    a = bnbq__arena_on(L->work, L->work_bytes);
    s = bnbq__arena_on(im->saved, im->saved_bytes);
    return fn(ex, L, g, &a, &s);
}

/* src (n,) in sdt as ddt: src itself, or a converted copy carved from the workspace */
static const void* bnbq__lin_as(bnbq__arena* a, bnbq_dtype sdt, const void* src, size_t n,
                                bnbq_dtype ddt) {
    if (sdt == ddt) return src;
    return bnbq__take(a, n, bnbq_dtype_size(ddt));
}
static bnbq_result bnbq__lin_as_run(bnbq_exec* ex, bnbq_dtype sdt, const void* src, size_t n,
                                    bnbq_dtype ddt, const void* dst) {
    if (sdt == ddt) return BNBQ_SUCCESS;
    return bnbq_convert(ex, sdt, src, n, ddt, (void*)dst);
}

/* out (T, N) in dt += bias (torch's in-place `out += bias`: one rounding of out + bias). Uses the
   layer's ones vector (prepared before the step by bnbq__lin_ones). */
static bnbq_result bnbq__lin_add_bias(bnbq_exec* ex, bnbq_linear* L, bnbq__arena* a,
                                      bnbq_dtype dt, void* out, size_t T) {
    size_t N = L->desc.out_features;
    const void* b;
    if (!L->bias) return BNBQ_SUCCESS;
    b = bnbq__lin_as(a, L->bias_dtype, L->bias, N, dt);
    if (a->measure) return BNBQ_SUCCESS;
    BNBQ__TRY(bnbq__lin_as_run(ex, L->bias_dtype, L->bias, N, dt, b));
    return bnbq_gemm(ex, dt, 0, 0, T, N, 1, BNBQ__LIMPL(L)->ones, b, NULL, 1, out);
}

static bnbq_result bnbq__lin_ones(bnbq_exec* ex, bnbq_linear* L, bnbq_dtype dt, size_t T) {
    bnbq__linear_impl* im = BNBQ__LIMPL(L);
    size_t es = bnbq_dtype_size(dt), i;
    void* h;
    bnbq_result r;
    if (!L->bias || (im->ones && im->ones_dt == dt && im->ones_count >= T)) return BNBQ_SUCCESS;
    bnbq__xfree(ex, &im->ones);
    im->ones_count = 0;
    BNBQ__TRY(bnbq_alloc(ex, T * es, &im->ones));
    h = bnbq_host_alloc(ex, T * es);
    if (!h) return BNBQ_ERROR_OUT_OF_MEMORY;
    for (i = 0; i < T; i++) bnbq__store(dt, h, i, 1.0f);
    r = bnbq_copy(ex, im->ones, h, T * es, BNBQ_COPY_HOST_TO_EXEC);
    bnbq_host_free(ex, h);
    if (r == BNBQ_SUCCESS) {
        im->ones_count = T;
        im->ones_dt = dt;
    }
    return r;
}

/* grad_bias (N,) in bias_dtype = column sums of G (T, N) in gdt */
static bnbq_result bnbq__lin_grad_bias(bnbq_exec* ex, bnbq_linear* L, bnbq__arena* a,
                                       bnbq_dtype gdt, const void* G, size_t T) {
    size_t N = L->desc.out_features;
    void* tmp;
    if (!L->bias || !L->grad_bias) return BNBQ_SUCCESS;
    tmp = gdt == L->bias_dtype ? L->grad_bias : bnbq__take(a, N, bnbq_dtype_size(gdt));
    if (a->measure) return BNBQ_SUCCESS;
    BNBQ__TRY(bnbq_column_sums(ex, gdt, G, T, N, tmp));
    return bnbq__lin_as_run(ex, gdt, tmp, N, L->bias_dtype, L->grad_bias);
}

/* grad_weight (N, K) in weight_dtype from a 16-bit result gw (N, K) in gdt */
static bnbq_result bnbq__lin_store_gw(bnbq_exec* ex, bnbq_linear* L, bnbq_dtype gdt,
                                      const void* gw) {
    return bnbq__cvt(ex, gdt, gw, L->desc.out_features * L->desc.in_features,
                     L->desc.weight_dtype, L->grad_weight);
}

/* in the step functions: an operation runs only in the real pass (carves run in both) */
#define BNBQ__RUN(expr) do { if (!a->measure) BNBQ__TRY(expr); } while (0)

/* ---- StandardLinear ---- */
static bnbq_result bnbq__std_fwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                 bnbq__arena* a, bnbq__arena* s) {
    (void)s;
    if (a->measure) return BNBQ_SUCCESS;
    return bnbq_gemm(ex, g->x_dt, 0, 1, g->T, L->desc.out_features, L->desc.in_features, g->x,
                     L->weight, L->bias, 0, g->out);
}
static bnbq_result bnbq__std_bwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                 bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features;
    bnbq_dtype dt = g->x_dt;
    (void)s;
    if (a->measure) return BNBQ_SUCCESS;
    if (g->gx) BNBQ__TRY(bnbq_gemm(ex, dt, 0, 0, g->T, K, N, g->g, L->weight, NULL, 0, g->gx));
    BNBQ__TRY(bnbq_gemm(ex, dt, 1, 0, N, K, g->T, g->g, g->x, NULL, 0, L->grad_weight));
    return bnbq__lin_grad_bias(ex, L, a, dt, g->g, g->T);
}

/* ---- LinearFP8Mixed / LinearFP8Global ---- */
static bnbq_result bnbq__fp8_layer(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                   bnbq__arena* a, int backward) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T, wsb = 0;
    bnbq_dtype dt = g->x_dt;
    size_t es = bnbq_dtype_size(dt);
    int mixed = L->desc.kind == BNBQ_LINEAR_FP8_MIXED;
    void* ws;
    BNBQ__TRY(bnbq_matmul_fp8_workspace_size(T, N, K, &wsb));
    /* B = weight^T (in, out): bnbq_matmul_fp8_*'s steps on the weight itself (wt; no transposed copy, 64 MB of
       traffic a call at 4096 x 4096 in f16), and backward grad_weight written directly as G^T @ A */
    ws = bnbq__take(a, wsb, 1);
    if (!a->measure) {
        bnbq__fp8_ws w;
        bnbq__arena wa = bnbq__arena_on(ws, wsb);
        bnbq__fp8_carve(&wa, T, N, K, es, &w);
        if (!backward)
            BNBQ__TRY(bnbq__fp8_fwd_steps(ex, dt, mixed, g->x, L->weight, 1, T, N, K, L->fw_code, L->bsz, g->out,
                                          &w));
        else
            BNBQ__TRY(bnbq__fp8_bwd_steps(ex, dt, mixed, g->x, L->weight, 1, T, N, K, L->fw_code, L->bw_code,
                                          L->bsz2, g->g, g->gx, L->grad_weight, &w));
    }
    if (!backward) return bnbq__lin_add_bias(ex, L, a, dt, g->out, T);
    return bnbq__lin_grad_bias(ex, L, a, dt, g->g, T);
}
static bnbq_result bnbq__fp8_fwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                 bnbq__arena* a, bnbq__arena* s) {
    (void)s;
    return bnbq__fp8_layer(ex, L, g, a, 0);
}
static bnbq_result bnbq__fp8_bwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                 bnbq__arena* a, bnbq__arena* s) {
    (void)s;
    return bnbq__fp8_layer(ex, L, g, a, 1);
}

/* ---- Linear4bit ---- */
static bnbq_dtype bnbq__lin4_cdt(const bnbq_linear* L, bnbq_dtype x_dt) {
    const bnbq__linear_impl* im = BNBQ__LIMPL(L);
    if (L->desc.compute_dtype_set) return L->desc.compute_dtype;
    if (im->compute_set) return im->compute_dt;
    return x_dt;
}

/* the dequantized weight (N, K) in cdt: dequantize_4bit to the state's dtype, then .to(cdt) */
static const void* bnbq__lin4_deq(bnbq_exec* ex, bnbq_linear* L, bnbq__arena* a, bnbq_dtype cdt,
                                  const float* absmax, bnbq_result* r) {
    size_t n = L->desc.out_features * L->desc.in_features;
    bnbq_dtype qdt = (L->quant_dtype == BNBQ_F32) ? cdt : L->quant_dtype;
    void* Wq = qdt == cdt ? NULL : bnbq__take(a, n, bnbq_dtype_size(qdt));
    void* Wd = bnbq__take(a, n, bnbq_dtype_size(cdt));
    *r = BNBQ_SUCCESS;
    if (a->measure) return NULL;
    *r = bnbq_dequantize_4bit(ex, L->quant_type, qdt, L->packed, absmax, n, L->blocksize,
                              Wq ? Wq : Wd);
    if (*r == BNBQ_SUCCESS && Wq) *r = bnbq_convert(ex, qdt, Wq, n, cdt, Wd);
    return Wd;
}

static const float* bnbq__lin4_absmax(bnbq_exec* ex, bnbq_linear* L, bnbq__arena* a,
                                      bnbq_result* r) {
    size_t n = L->desc.out_features * L->desc.in_features;
    size_t nb = (n + (size_t)L->blocksize - 1) / (size_t)L->blocksize;
    float* am;
    *r = BNBQ_SUCCESS;
    if (!L->nested) return L->absmax;
    am = (float*)bnbq__take(a, nb, 4);
    if (a->measure) return NULL;
    *r = bnbq_dequantize_nested(ex, NULL, L->absmax_q, L->nested_absmax, nb, 256,
                                BNBQ__LIMPL(L)->offset_x, am);
    return am;
}

static bnbq_result bnbq__lin4_fwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                  bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T;
    bnbq_dtype cdt = bnbq__lin4_cdt(L, g->x_dt);
    int gemv = T == 1 && K % (size_t)L->blocksize == 0;
    /* a few tokens on a GPU: bnbq_matmul_4bit, the same product (the weight dequantized to dt, then
       multiplied) without the 16-bit weight in memory (bnbq_cuda.h: tensor cores on sm_80+, 16-bit
       dt); elsewhere the dequantize + bnbq_gemm of bitsandbytes' own path. Only where that path
       dequantizes straight to cdt (bnbq__lin4_deq: a 16-bit state dtype other than cdt rounds twice).
       (More tokens stay on dequantize + GEMM: on the H100 bnbq_matmul_4bit's sm_90a tiles, which
       convert the weight in every tile, took 1.2-2.0x its time at 512-4096 tokens, bench/results/
       gpu-20261124-h100-session25-m4wg.txt.) */
    int fused = !gemv && T <= 16 && cdt != BNBQ_F32 && K % 32 == 0 && bnbq__on_backend(ex) &&
                (L->quant_dtype == BNBQ_F32 || L->quant_dtype == cdt);
    const void *xc, *bc = NULL, *Wd = NULL;
    const float* am;
    void* oc;
    bnbq_result r;
    (void)s;
    xc = bnbq__lin_as(a, g->x_dt, g->x, T * K, cdt);
    if (L->bias) bc = bnbq__lin_as(a, L->bias_dtype, L->bias, N, cdt);
    oc = cdt == g->x_dt ? g->out : bnbq__take(a, T * N, bnbq_dtype_size(cdt));
    am = bnbq__lin4_absmax(ex, L, a, &r);
    BNBQ__TRY(r);
    if (!gemv && !fused) {
        Wd = bnbq__lin4_deq(ex, L, a, cdt, am, &r);
        BNBQ__TRY(r);
    }
    if (a->measure) return BNBQ_SUCCESS;
    BNBQ__TRY(bnbq__lin_as_run(ex, g->x_dt, g->x, T * K, cdt, xc));
    if (L->bias) BNBQ__TRY(bnbq__lin_as_run(ex, L->bias_dtype, L->bias, N, cdt, bc));
    if (gemv)
        BNBQ__TRY(bnbq_gemv_4bit(ex, L->quant_type, cdt, xc, L->packed, am, N, K, L->blocksize, oc,
                                 bc, NULL));
    else if (fused)
        BNBQ__TRY(bnbq_matmul_4bit(ex, L->quant_type, cdt, xc, L->packed, am, T, N, K, L->blocksize, oc,
                                   bc, NULL));
    else
        BNBQ__TRY(bnbq_gemm(ex, cdt, 0, 1, T, N, K, xc, Wd, bc, 0, oc));
    return bnbq__lin_as_run(ex, cdt, oc, T * N, g->x_dt, g->out);
}

static bnbq_result bnbq__lin4_bwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                  bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T;
    bnbq_dtype cdt = bnbq__lin4_cdt(L, g->x_dt);
    const void *gc, *Wd = NULL;
    const float* am = NULL;
    void* gxc = NULL;
    bnbq_result r;
    (void)s;
    gc = bnbq__lin_as(a, g->x_dt, g->g, T * N, cdt);
    if (g->gx) {
        gxc = cdt == g->x_dt ? g->gx : bnbq__take(a, T * K, bnbq_dtype_size(cdt));
        am = bnbq__lin4_absmax(ex, L, a, &r);
        BNBQ__TRY(r);
        Wd = bnbq__lin4_deq(ex, L, a, cdt, am, &r);
        BNBQ__TRY(r);
    }
    BNBQ__RUN(bnbq__lin_as_run(ex, g->x_dt, g->g, T * N, cdt, gc));
    BNBQ__TRY(bnbq__lin_grad_bias(ex, L, a, cdt, gc, T));
    if (a->measure) return BNBQ_SUCCESS;
    if (g->gx) {
        BNBQ__TRY(bnbq_gemm(ex, cdt, 0, 0, T, K, N, gc, Wd, NULL, 0, gxc));
        if (cdt != g->x_dt) BNBQ__TRY(bnbq_convert(ex, cdt, gxc, T * K, g->x_dt, g->gx));
    }
    return BNBQ_SUCCESS;
}

/* ---- LLM.int8 (Linear8bitLt; SwitchBackLinearBnb with int8 weights) ---- */

/* out (T, N) in adt = int8 product of A (T, K) [A16 its f16 copy] and the layer's CB/SCB, with
   the outlier columns (bnbq_int8_mixed_scaled_mm); bias in bias_dt fused as int8_mm_dequant
   does (NULL: none). Re-quantizes 16-bit weights when needed. */
static bnbq_result bnbq__i8_core(bnbq_exec* ex, bnbq_linear* L, bnbq__arena* a, bnbq_dtype adt,
                                 const void* A, const void* A16, size_t T, bnbq_dtype bias_dt,
                                 const void* bias, void* out) {
    size_t N = L->desc.out_features, K = L->desc.in_features;
    bnbq__linear_impl* im = BNBQ__LIMPL(L);
    float thr = L->desc.threshold;
    int8_t* CA = (int8_t*)bnbq__take(a, T * K, 1);
    float* SCA = (float*)bnbq__take(a, T, 4);
    int32_t* o32 = (int32_t*)bnbq__take(a, T * N, 4);
    const void* W16 = NULL;
    int requant = !L->desc.int8_weights;
    if (requant) W16 = bnbq__lin_as(a, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16);
    if (a->measure) return BNBQ_SUCCESS;
    if (requant && (L->training || !im->cb_valid)) {
        BNBQ__TRY(bnbq__lin_as_run(ex, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16, W16));
        BNBQ__TRY(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, W16, N, K, 0.0f, L->CB, L->SCB, NULL,
                                             NULL));
        im->cb_valid = 1;
    }
    BNBQ__TRY(bnbq_int8_vectorwise_quant(ex, BNBQ_F16, A16, T, K, thr, CA, SCA,
                                         thr > 0.0f ? L->outlier_cols : NULL,
                                         thr > 0.0f ? L->num_outliers : NULL));
    return bnbq_int8_mixed_scaled_mm(ex, adt, CA, L->CB, T, N, K, SCA, L->SCB, bias_dt, bias, A,
                                     thr > 0.0f ? L->outlier_cols : NULL,
                                     thr > 0.0f ? L->num_outliers : NULL, o32, out);
}

static bnbq_result bnbq__i8_fwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                bnbq__arena* a, bnbq__arena* s) {
    size_t K = L->desc.in_features, T = g->T;
    const void* A16 = bnbq__lin_as(a, g->x_dt, g->x, T * K, BNBQ_F16);
    (void)s;
    if (!a->measure) BNBQ__TRY(bnbq__lin_as_run(ex, g->x_dt, g->x, T * K, BNBQ_F16, A16));
    return bnbq__i8_core(ex, L, a, g->x_dt, g->x, A16, T, L->bias_dtype, L->bias, g->out);
}

/* int8 weight gradient of Linear8bitLt with 16-bit weights (algorithms.md 5.6, intended form) */
static bnbq_result bnbq__i8_grad_w(bnbq_exec* ex, bnbq_linear* L, bnbq__arena* a,
                                   const void* G16, const void* A16, size_t T) {
    size_t N = L->desc.out_features, K = L->desc.in_features;
    float thr = L->desc.threshold;
    uint16_t* gw16 = (uint16_t*)bnbq__take(a, N * K, 2);
    int8_t *Cg = NULL, *Cgt = NULL, *CA = NULL, *CAt = NULL, *CgtT = NULL, *CAtT = NULL;
    float *SCg = NULL, *SCgt = NULL, *SCA = NULL, *SCAt = NULL;
    int32_t* i32 = NULL;
    uint16_t *subA = NULL, *P = NULL;
    if (!L->desc.weight_grad_16bit) {
        Cg = (int8_t*)bnbq__take(a, T * N, 1);
        Cgt = (int8_t*)bnbq__take(a, T * N, 1);
        SCg = (float*)bnbq__take(a, T, 4);
        SCgt = (float*)bnbq__take(a, N, 4);
        CA = (int8_t*)bnbq__take(a, T * K, 1);
        CAt = (int8_t*)bnbq__take(a, T * K, 1);
        SCA = (float*)bnbq__take(a, T, 4);
        SCAt = (float*)bnbq__take(a, K, 4);
        CgtT = (int8_t*)bnbq__take(a, N * T, 1);
        CAtT = (int8_t*)bnbq__take(a, K * T, 1);
        i32 = (int32_t*)bnbq__take(a, N * K, 4);
        if (thr > 0.0f) {
            subA = (uint16_t*)bnbq__take(a, T * K, 2);
            P = (uint16_t*)bnbq__take(a, N * K, 2);
        }
    }
    if (a->measure) return BNBQ_SUCCESS;
    if (L->desc.weight_grad_16bit) {
        BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 1, 0, N, K, T, G16, A16, NULL, 0, gw16));
        return bnbq__lin_store_gw(ex, L, BNBQ_F16, gw16);
    }
    BNBQ__TRY(bnbq_int8_double_quant(ex, BNBQ_F16, G16, T, N, 0.0f, Cg, Cgt, SCg, SCgt, NULL,
                                     NULL));
    BNBQ__TRY(bnbq_int8_double_quant(ex, BNBQ_F16, A16, T, K, thr, CA, CAt, SCA, SCAt,
                                     thr > 0.0f ? L->outlier_cols : NULL,
                                     thr > 0.0f ? L->num_outliers : NULL));
    BNBQ__TRY(bnbq_transpose(ex, 1, Cgt, T, N, CgtT));
    BNBQ__TRY(bnbq_transpose(ex, 1, CAt, T, K, CAtT));
    /* int8_linear_matmul + int8_mm_dequant, the same bytes (one kernel where the backend fuses them) */
    BNBQ__TRY(bnbq_int8_mixed_scaled_mm(ex, BNBQ_F16, CgtT, CAtT, N, K, T, SCgt, SCAt, BNBQ_F16, NULL, NULL, NULL,
                                        NULL, i32, gw16));
    if (thr > 0.0f) {
        BNBQ__TRY(bnbq_gather_columns(ex, 2, A16, T, K, L->outlier_cols, L->num_outliers, K, subA));
        BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 1, 0, N, K, T, G16, subA, NULL, 0, P));
        BNBQ__TRY(bnbq_scatter_columns(ex, BNBQ_F16, P, N, K, L->outlier_cols, L->num_outliers, 0,
                                       gw16, K));
    }
    return bnbq__lin_store_gw(ex, L, BNBQ_F16, gw16);
}

static bnbq_result bnbq__i8_bwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T;
    bnbq_dtype dt = g->x_dt;
    void* Wd = g->gx ? bnbq__take(a, N * K, bnbq_dtype_size(dt)) : NULL;
    const void *G16 = NULL, *A16 = NULL;
    int gw = !L->desc.int8_weights;
    (void)s;
    BNBQ__TRY(bnbq__lin_grad_bias(ex, L, a, dt, g->g, T));
    if (g->gx) {
        BNBQ__RUN(bnbq_int8_weight_dequant(ex, dt, L->CB, L->SCB, N, K, Wd));
        BNBQ__RUN(bnbq_gemm(ex, dt, 0, 0, T, K, N, g->g, Wd, NULL, 0, g->gx));
    }
    if (gw) {
        G16 = bnbq__lin_as(a, dt, g->g, T * N, BNBQ_F16);
        A16 = bnbq__lin_as(a, dt, g->x, T * K, BNBQ_F16);
        BNBQ__RUN(bnbq__lin_as_run(ex, dt, g->g, T * N, BNBQ_F16, G16));
        BNBQ__RUN(bnbq__lin_as_run(ex, dt, g->x, T * K, BNBQ_F16, A16));
        BNBQ__TRY(bnbq__i8_grad_w(ex, L, a, G16, A16, T));
    }
    return BNBQ_SUCCESS;
}

/* ---- SwitchBackLinearBnb: switchback_bnb(x.half(), W.half()) + bias ---- */
static bnbq_result bnbq__sbb_fwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                 bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T, wsb = 0;
    const void* A16 = bnbq__lin_as(a, g->x_dt, g->x, T * K, BNBQ_F16);
    const void* W16 = NULL;
    void* ws = NULL;
    (void)s;
    BNBQ__RUN(bnbq__lin_as_run(ex, g->x_dt, g->x, T * K, BNBQ_F16, A16));
    if (L->desc.int8_weights) {
        BNBQ__TRY(bnbq__i8_core(ex, L, a, BNBQ_F16, A16, A16, T, BNBQ_F16, NULL, g->out));
    } else {
        BNBQ__TRY(bnbq_switchback_bnb_workspace_size(T, N, K, &wsb));
        W16 = bnbq__lin_as(a, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16);
        ws = bnbq__take(a, wsb, 1);
        BNBQ__RUN(bnbq__lin_as_run(ex, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16, W16));
        BNBQ__RUN(bnbq_switchback_bnb(ex, (const uint16_t*)A16, (const uint16_t*)W16, T, N, K,
                                      L->desc.threshold, NULL, (uint16_t*)g->out, ws, wsb));
    }
    return bnbq__lin_add_bias(ex, L, a, BNBQ_F16, g->out, T);
}

static bnbq_result bnbq__sbb_bwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                 bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T, wsb = 0;
    const void *A16 = NULL, *W16 = NULL;
    void *ws = NULL, *gx16 = NULL, *gw16 = NULL, *Wd = NULL;
    (void)s;
    if (g->gx) gx16 = g->x_dt == BNBQ_F16 ? g->gx : bnbq__take(a, T * K, 2);
    if (L->desc.int8_weights) {
        if (g->gx) Wd = bnbq__take(a, N * K, 2);
    } else {
        BNBQ__TRY(bnbq_switchback_bnb_workspace_size(T, N, K, &wsb));
        A16 = bnbq__lin_as(a, g->x_dt, g->x, T * K, BNBQ_F16);
        W16 = bnbq__lin_as(a, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16);
        ws = bnbq__take(a, wsb, 1);
        gw16 = L->desc.weight_dtype == BNBQ_F16 ? L->grad_weight : bnbq__take(a, N * K, 2);
    }
    BNBQ__TRY(bnbq__lin_grad_bias(ex, L, a, BNBQ_F16, g->g, T));
    if (a->measure) return BNBQ_SUCCESS;
    if (L->desc.int8_weights) {
        if (g->gx) {
            BNBQ__TRY(bnbq_int8_weight_dequant(ex, BNBQ_F16, L->CB, L->SCB, N, K, Wd));
            BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 0, 0, T, K, N, g->g, Wd, NULL, 0, gx16));
        }
    } else {
        BNBQ__TRY(bnbq__lin_as_run(ex, g->x_dt, g->x, T * K, BNBQ_F16, A16));
        BNBQ__TRY(bnbq__lin_as_run(ex, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16, W16));
        BNBQ__TRY(bnbq_switchback_bnb_backward(ex, (const uint16_t*)A16, (const uint16_t*)W16, T,
                                               N, K, L->desc.threshold, (const uint16_t*)g->g,
                                               (uint16_t*)gx16, (uint16_t*)gw16, NULL, ws, wsb));
        BNBQ__TRY(bnbq__lin_store_gw(ex, L, BNBQ_F16, gw16));
    }
    if (g->gx && g->x_dt != BNBQ_F16) BNBQ__TRY(bnbq_convert(ex, BNBQ_F16, gx16, T * K, g->x_dt, g->gx));
    return BNBQ_SUCCESS;
}

/* ---- SwitchBackLinear (global, vector-wise, memory-efficient global) ---- */
static bnbq_result bnbq__sb_fwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T;
    bnbq__linear_impl* im = BNBQ__LIMPL(L);
    int vw = L->desc.kind == BNBQ_LINEAR_SWITCHBACK_VECTORWISE;
    int save = L->desc.kind == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF && L->training;
    int prepared = L->prepared_for_eval && !L->training;
    bnbq__arena* sa = save ? s : a;
    const void* X16 = bnbq__lin_as(a, g->x_dt, g->x, T * K, BNBQ_F16);
    int8_t* Xq = (int8_t*)bnbq__take(sa, T * K, 1);
    uint16_t* sX = (uint16_t*)bnbq__take(sa, T, 2);
    const void* W16 = NULL;
    int8_t* Wq = L->W_int8;
    uint16_t* sW = L->state_W;
    const void* b16 = NULL;
    if (!prepared) {
        W16 = bnbq__lin_as(a, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16);
        Wq = (int8_t*)bnbq__take(sa, N * K, 1);
        sW = (uint16_t*)bnbq__take(sa, vw ? N : 1, 2);
    }
    if (L->bias) b16 = bnbq__lin_as(a, L->bias_dtype, L->bias, N, BNBQ_F16);
    if (a->measure) return BNBQ_SUCCESS;
    if (save) im->saved_valid = 0;
    BNBQ__TRY(bnbq__lin_as_run(ex, g->x_dt, g->x, T * K, BNBQ_F16, X16));
    if (L->bias) BNBQ__TRY(bnbq__lin_as_run(ex, L->bias_dtype, L->bias, N, BNBQ_F16, b16));
    if (!prepared) {
        BNBQ__TRY(bnbq__lin_as_run(ex, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16, W16));
        BNBQ__TRY(vw ? bnbq_quantize_rowwise(ex, BNBQ_F16, W16, N, K, Wq, sW)
                     : bnbq_quantize_global_int8(ex, BNBQ_F16, W16, N * K, Wq, sW));
    }
    BNBQ__TRY(bnbq_quantize_rowwise(ex, BNBQ_F16, X16, T, K, Xq, sX));
    BNBQ__TRY(vw ? bnbq_int8_matmul_rowwise_dequantize(ex, Xq, Wq, sX, sW, T, N, K,
                                                       (uint16_t*)g->out, (const uint16_t*)b16)
                 : bnbq_int8_matmul_mixed_dequantize(ex, Xq, Wq, sX, sW, T, N, K,
                                                     (uint16_t*)g->out, (const uint16_t*)b16));
    if (save) {
        im->sv_Xq = Xq;
        im->sv_sX = sX;
        im->sv_Wq = Wq;
        im->sv_sW = sW;
        im->saved_valid = 1;
        L->saved_tokens = T;
    }
    return BNBQ_SUCCESS;
}

static bnbq_result bnbq__sb_bwd(bnbq_exec* ex, bnbq_linear* L, const bnbq__lin_args* g,
                                bnbq__arena* a, bnbq__arena* s) {
    size_t N = L->desc.out_features, K = L->desc.in_features, T = g->T;
    bnbq__linear_impl* im = BNBQ__LIMPL(L);
    bnbq_linear_kind k = L->desc.kind;
    int memeff = k == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF;
    int8_t* Gq = (int8_t*)bnbq__take(a, T * N, 1);
    uint16_t* sG = (uint16_t*)bnbq__take(a, T, 2);
    void* gx16 = NULL;
    void* gw16 = L->desc.weight_dtype == BNBQ_F16 ? L->grad_weight : bnbq__take(a, N * K, 2);
    const void *X16 = NULL, *W16 = NULL;
    int8_t* Wt = NULL;
    uint16_t* sWt = NULL;
    (void)s;
    if (g->gx) {
        gx16 = g->x_dt == BNBQ_F16 ? g->gx : bnbq__take(a, T * K, 2);
        Wt = (int8_t*)bnbq__take(a, K * N, 1);
        if (!memeff) {
            W16 = bnbq__lin_as(a, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16);
            sWt = (uint16_t*)bnbq__take(a, k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE ? K : 1, 2);
        }
    }
    X16 = memeff ? bnbq__take(a, T * K, 2) : bnbq__lin_as(a, g->x_dt, g->x, T * K, BNBQ_F16);
    BNBQ__TRY(bnbq__lin_grad_bias(ex, L, a, BNBQ_F16, g->g, T));
    if (a->measure) return BNBQ_SUCCESS;
    BNBQ__TRY(bnbq_quantize_rowwise(ex, BNBQ_F16, g->g, T, N, Gq, sG));
    if (g->gx) {
        if (memeff) {
            BNBQ__TRY(bnbq_transpose(ex, 1, im->sv_Wq, N, K, Wt));
            BNBQ__TRY(bnbq_int8_matmul_mixed_dequantize(ex, Gq, Wt, sG, im->sv_sW, T, K, N,
                                                        (uint16_t*)gx16, NULL));
        } else {
            BNBQ__TRY(bnbq__lin_as_run(ex, L->desc.weight_dtype, L->weight, N * K, BNBQ_F16, W16));
            if (k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE) {
                BNBQ__TRY(bnbq_quantize_columnwise_and_transpose(ex, BNBQ_F16, W16, N, K, Wt, sWt));
                BNBQ__TRY(bnbq_int8_matmul_rowwise_dequantize(ex, Gq, Wt, sG, sWt, T, K, N,
                                                              (uint16_t*)gx16, NULL));
            } else {
                BNBQ__TRY(bnbq_quantize_global_int8_transpose(ex, BNBQ_F16, W16, N, K, Wt, sWt));
                BNBQ__TRY(bnbq_int8_matmul_mixed_dequantize(ex, Gq, Wt, sG, sWt, T, K, N,
                                                            (uint16_t*)gx16, NULL));
            }
        }
        if (g->x_dt != BNBQ_F16) BNBQ__TRY(bnbq_convert(ex, BNBQ_F16, gx16, T * K, g->x_dt, g->gx));
    }
    if (memeff)
        BNBQ__TRY(bnbq_dequantize_rowwise(ex, im->sv_Xq, im->sv_sX, T, K, (uint16_t*)X16));
    else
        BNBQ__TRY(bnbq__lin_as_run(ex, g->x_dt, g->x, T * K, BNBQ_F16, X16));
    BNBQ__TRY(bnbq_gemm(ex, BNBQ_F16, 1, 0, N, K, T, g->g, X16, NULL, 0, gw16));
    return bnbq__lin_store_gw(ex, L, BNBQ_F16, gw16);
}

/* ---- public forward / backward ---- */

/* bitsandbytes casts the bias parameter permanently to x's dtype (Linear4bit, Linear8bitLt) */
static bnbq_result bnbq__lin_cast_bias(bnbq_exec* ex, bnbq_linear* L, bnbq_dtype x_dt) {
    size_t N = L->desc.out_features;
    void *nb = NULL, *ng = NULL;
    bnbq_result r;
    if (!L->bias || L->bias_dtype == x_dt) return BNBQ_SUCCESS;
    r = bnbq_alloc(ex, N * bnbq_dtype_size(x_dt), &nb);
    if (r == BNBQ_SUCCESS && L->grad_bias) r = bnbq_alloc(ex, N * bnbq_dtype_size(x_dt), &ng);
    if (r == BNBQ_SUCCESS) r = bnbq_convert(ex, L->bias_dtype, L->bias, N, x_dt, nb);
    if (r != BNBQ_SUCCESS) {
        bnbq_free(ex, nb);
        bnbq_free(ex, ng);
        return r;
    }
    bnbq_free(ex, L->bias);
    bnbq_free(ex, L->grad_bias);
    L->bias = nb;
    L->grad_bias = ng;
    L->bias_dtype = x_dt;
    return BNBQ_SUCCESS;
}

static bnbq_result bnbq__lin_step_check(bnbq_exec* ex, const char* bnbq__func, bnbq_linear* L,
                                        bnbq_dtype x_dt, size_t tokens, int backward) {
    bnbq_linear_kind k;
    size_t N, K, m = 0;
    BNBQ__TRY(bnbq__lin_check(ex, bnbq__func, L));
    k = L->desc.kind;
    N = L->desc.out_features;
    K = L->desc.in_features;
    BNBQ__REQUIRE(bnbq__is_float_dtype(x_dt), BNBQ_ERROR_BAD_DTYPE,
                  "x_dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(tokens > 0, BNBQ_ERROR_BAD_SHAPE, "tokens is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(tokens, N > K ? N : K, 8, &m) && tokens <= (size_t)INT32_MAX,
                  BNBQ_ERROR_OVERFLOW, "tokens * features overflows");
    if (k == BNBQ_LINEAR_STANDARD || bnbq__lin_isfp8(k))
        BNBQ__REQUIRE(x_dt == L->desc.weight_dtype, BNBQ_ERROR_BAD_DTYPE,
                      "x must have the weight's dtype for this layer");
    if (bnbq__lin_is4(k))
        BNBQ__REQUIRE(L->quantized, BNBQ_ERROR_INVALID_ARGS,
                      "the 4-bit layer is not quantized: call bnbq_linear_quantize or _load_4bit");
    if (bnbq__lin_isi8(k) && L->desc.int8_weights)
        BNBQ__REQUIRE(L->quantized && L->CB && L->SCB, BNBQ_ERROR_INVALID_ARGS,
                      "the int8 layer is not quantized: call bnbq_linear_quantize or _load_8bit");
    if (bnbq__lin_isi8(k) && !L->desc.int8_weights)
        BNBQ__REQUIRE(L->weight, BNBQ_ERROR_INVALID_ARGS, "the layer has no weight");
    if (k == BNBQ_LINEAR_STANDARD || bnbq__lin_isfp8(k) ||
        (bnbq__lin_issb(k) && !(L->prepared_for_eval && !L->training && !backward)))
        BNBQ__REQUIRE(L->weight || (backward && k == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF),
                      BNBQ_ERROR_INVALID_ARGS,
                      "the layer has no float weight (prepared for eval?)");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_forward(bnbq_exec* ex, bnbq_linear* L, bnbq_dtype x_dt,
                                         const void* x, size_t tokens, void* out) {
    static const char* bnbq__func = "bnbq_linear_forward";
    bnbq__lin_args g;
    bnbq_linear_kind k;
    bnbq__lin_fn fn = NULL;
    BNBQ__TRY(bnbq__lin_step_check(ex, bnbq__func, L, x_dt, tokens, 0));
    BNBQ__REQUIRE(x && out, BNBQ_ERROR_NULL_POINTER, "x or out is NULL");
    k = L->desc.kind;
    memset(&g, 0, sizeof g);
    g.x_dt = x_dt;
    g.x = x;
    g.T = tokens;
    g.out = out;
    switch (k) {
        case BNBQ_LINEAR_STANDARD: fn = bnbq__std_fwd; break;
        case BNBQ_LINEAR_4BIT:
        case BNBQ_LINEAR_FP4:
        case BNBQ_LINEAR_NF4: {
            bnbq__linear_impl* im = BNBQ__LIMPL(L);
            BNBQ__TRY(bnbq__lin_cast_bias(ex, L, x_dt));
            if (!L->desc.compute_dtype_set && !im->compute_checked) {
                /* set_compute_type, on the first forward only: a float32 / bf16 input sets the
                   compute dtype; an f16 one leaves it unset (f16 compute) and warns */
                im->compute_checked = 1;
                if (x_dt == BNBQ_F32 || x_dt == BNBQ_BF16) {
                    im->compute_dt = x_dt;
                    im->compute_set = 1;
                } else {
                    bnbq_log(ex, BNBQ_LOG_WARN, bnbq__func,
                             "input type into Linear4bit is F16, but the compute dtype is the "
                             "default (bitsandbytes: bnb_4bit_compute_dtype=torch.float32). This "
                             "will lead to slow inference%s",
                             tokens == 1 ? "." : " or training speed.");
                }
            }
            fn = bnbq__lin4_fwd;
            break;
        }
        case BNBQ_LINEAR_8BIT_LT:
            BNBQ__TRY(bnbq__lin_cast_bias(ex, L, x_dt));
            fn = bnbq__i8_fwd;
            break;
        case BNBQ_LINEAR_OUTLIER_AWARE: {
            bnbq_result r;
            if (!L->quantized) {
                r = L->desc.quantize_weight(L->desc.user_data, ex, L,
                                            L->outlier_dim_set ? L->outlier_dim : NULL,
                                            L->outlier_dim_set ? L->outlier_count : 0);
                if (r != BNBQ_SUCCESS) return r;
                L->quantized = 1;
            }
            return L->desc.forward_with_outliers(L->desc.user_data, ex, L, x_dt, x, tokens,
                                                 L->outlier_dim_set ? L->outlier_dim : NULL,
                                                 L->outlier_dim_set ? L->outlier_count : 0, out);
        }
        case BNBQ_LINEAR_SWITCHBACK_BNB:
            BNBQ__TRY(bnbq__lin_ones(ex, L, BNBQ_F16, tokens));
            fn = bnbq__sbb_fwd;
            break;
        case BNBQ_LINEAR_SWITCHBACK_GLOBAL:
        case BNBQ_LINEAR_SWITCHBACK_VECTORWISE:
        case BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF: fn = bnbq__sb_fwd; break;
        case BNBQ_LINEAR_FP8_MIXED:
        case BNBQ_LINEAR_FP8_GLOBAL:
            BNBQ__TRY(bnbq__lin_ones(ex, L, x_dt, tokens));
            fn = bnbq__fp8_fwd;
            break;
    }
    BNBQ__REQUIRE(fn, BNBQ_ERROR_INVALID_ARGS, "unknown layer kind");
    return bnbq__lin_drive(ex, bnbq__func, L, fn, &g);
}

BNBQ_API bnbq_result bnbq_linear_backward(bnbq_exec* ex, bnbq_linear* L, bnbq_dtype x_dt,
                                          const void* x, size_t tokens, const void* grad_out,
                                          void* grad_x) {
    static const char* bnbq__func = "bnbq_linear_backward";
    bnbq__lin_args g;
    bnbq_linear_kind k;
    bnbq__lin_fn fn = NULL;
    BNBQ__TRY(bnbq__lin_step_check(ex, bnbq__func, L, x_dt, tokens, 1));
    k = L->desc.kind;
    BNBQ__REQUIRE(k != BNBQ_LINEAR_OUTLIER_AWARE, BNBQ_ERROR_NOT_SUPPORTED,
                  "OutlierAwareLinear has no backward (the subclass computes the output)");
    BNBQ__REQUIRE(grad_out, BNBQ_ERROR_NULL_POINTER, "grad_out is NULL");
    if (k == BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF) {
        BNBQ__REQUIRE(BNBQ__LIMPL(L)->saved_valid && L->saved_tokens == tokens,
                      BNBQ_ERROR_INVALID_ARGS,
                      "no training forward with this many tokens was saved");
    } else {
        BNBQ__REQUIRE(x, BNBQ_ERROR_NULL_POINTER, "x is NULL");
    }
    if (bnbq__lin_issb(k))
        BNBQ__REQUIRE(L->grad_weight && !L->prepared_for_eval, BNBQ_ERROR_INVALID_ARGS,
                      "a layer prepared for eval has no backward");
    if ((bnbq__lin_is4(k) || k == BNBQ_LINEAR_8BIT_LT) && L->bias)
        BNBQ__REQUIRE(L->bias_dtype == x_dt || !L->bias, BNBQ_ERROR_INVALID_ARGS,
                      "run the forward with this x dtype first");
    if (k == BNBQ_LINEAR_8BIT_LT || (k == BNBQ_LINEAR_SWITCHBACK_BNB && L->desc.int8_weights))
        BNBQ__REQUIRE(BNBQ__LIMPL(L)->cb_valid, BNBQ_ERROR_INVALID_ARGS,
                      "run the forward first (the int8 weight is not quantized)");
    memset(&g, 0, sizeof g);
    g.x_dt = x_dt;
    g.x = x;
    g.T = tokens;
    g.g = grad_out;
    g.gx = grad_x;
    switch (k) {
        case BNBQ_LINEAR_STANDARD: fn = bnbq__std_bwd; break;
        case BNBQ_LINEAR_4BIT:
        case BNBQ_LINEAR_FP4:
        case BNBQ_LINEAR_NF4: fn = bnbq__lin4_bwd; break;
        case BNBQ_LINEAR_8BIT_LT: fn = bnbq__i8_bwd; break;
        case BNBQ_LINEAR_SWITCHBACK_BNB: fn = bnbq__sbb_bwd; break;
        case BNBQ_LINEAR_SWITCHBACK_GLOBAL:
        case BNBQ_LINEAR_SWITCHBACK_VECTORWISE:
        case BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF: fn = bnbq__sb_bwd; break;
        case BNBQ_LINEAR_FP8_MIXED:
        case BNBQ_LINEAR_FP8_GLOBAL: fn = bnbq__fp8_bwd; break;
        default: break;
    }
    BNBQ__REQUIRE(fn, BNBQ_ERROR_INVALID_ARGS, "unknown layer kind");
    return bnbq__lin_drive(ex, bnbq__func, L, fn, &g);
}

/* ---- OutlierTracer and find_outlier_dims ---- */

BNBQ_API bnbq_result bnbq_find_outlier_dims(bnbq_dtype dt, const void* X, size_t rows,
                                            size_t cols, int reduction_dim, float zscore,
                                            size_t topk, int32_t* out_idx, size_t* out_count) {
    static const char* bnbq__func = "bnbq_find_outlier_dims";
    bnbq_exec* ex = NULL;
    size_t n, len, i, j, cnt = 0;
    double *sd, mean = 0.0, var = 0.0, ssd;
    BNBQ__REQUIRE(X && out_idx && out_count, BNBQ_ERROR_NULL_POINTER,
                  "X, out_idx or out_count is NULL");
    BNBQ__REQUIRE(bnbq__is_float_dtype(dt), BNBQ_ERROR_BAD_DTYPE, "dt must be F32, F16 or BF16");
    BNBQ__REQUIRE(rows > 0 && cols > 0, BNBQ_ERROR_BAD_SHAPE, "rows or cols is 0");
    BNBQ__REQUIRE(reduction_dim == 0 || reduction_dim == 1, BNBQ_ERROR_INVALID_ARGS,
                  "reduction_dim must be 0 or 1");
    BNBQ__REQUIRE(bnbq__mul_ok(rows, cols, 8, NULL) && rows <= (size_t)INT32_MAX &&
                  cols <= (size_t)INT32_MAX, BNBQ_ERROR_OVERFLOW, "rows * cols overflows");
    *out_count = 0;
    len = reduction_dim == 0 ? cols : rows;   /* one std per column (dim 0) or per row (dim 1) */
    n = reduction_dim == 0 ? rows : cols;
    sd = (double*)malloc(len * sizeof *sd);
    BNBQ__REQUIRE(sd, BNBQ_ERROR_OUT_OF_MEMORY, "malloc failed");
    for (i = 0; i < len; i++) {
        double m = 0.0, v = 0.0;
        for (j = 0; j < n; j++)
            m += bnbq__load(dt, X, reduction_dim == 0 ? j * cols + i : i * cols + j);
        m /= (double)n;
        for (j = 0; j < n; j++) {
            double d = bnbq__load(dt, X, reduction_dim == 0 ? j * cols + i : i * cols + j) - m;
            v += d * d;
        }
        sd[i] = n > 1 ? sqrt(v / (double)(n - 1)) : NAN;
    }
    if (topk > 0) {
        /* torch.topk(std, k): the k largest, in descending order */
        size_t k = topk < len ? topk : len;
        unsigned char* used = (unsigned char*)calloc(len, 1);
        if (!used) {
            free(sd);
            return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "malloc failed");
        }
        for (j = 0; j < k; j++) {
            size_t best = len;
            for (i = 0; i < len; i++)
                if (!used[i] && (best == len || sd[i] > sd[best])) best = i;
            used[best] = 1;
            out_idx[cnt++] = (int32_t)best;
        }
        free(used);
    } else {
        for (i = 0; i < len; i++) mean += sd[i];
        mean /= (double)len;
        for (i = 0; i < len; i++) var += (sd[i] - mean) * (sd[i] - mean);
        ssd = len > 1 ? sqrt(var / (double)(len - 1)) : NAN;
        for (i = 0; i < len; i++)
            if ((sd[i] - mean) / ssd > (double)zscore) out_idx[cnt++] = (int32_t)i;
    }
    free(sd);
    *out_count = cnt;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_outlier_tracer_init(bnbq_outlier_tracer* t, const bnbq_allocator* a) {
    static const char* bnbq__func = "bnbq_outlier_tracer_init";
    bnbq_exec* ex = NULL;
    BNBQ__REQUIRE(t, BNBQ_ERROR_NULL_POINTER, "tracer is NULL");
    memset(t, 0, sizeof *t);
    if (a) {
        BNBQ__REQUIRE((a->alloc_fn == NULL) == (a->free_fn == NULL), BNBQ_ERROR_INVALID_ARGS,
                      "give both alloc_fn and free_fn or neither");
        t->allocator = *a;
    }
    t->active = 1;
    return BNBQ_SUCCESS;
}

static void* bnbq__tr_alloc(bnbq_outlier_tracer* t, size_t bytes) {
    if (t->allocator.alloc_fn) return t->allocator.alloc_fn(t->allocator.user_data, bytes ? bytes : 1);
    return malloc(bytes ? bytes : 1);
}
static void bnbq__tr_free(bnbq_outlier_tracer* t, void* p) {
    if (!p) return;
    if (t->allocator.free_fn) t->allocator.free_fn(t->allocator.user_data, p);
    else free(p);
}

BNBQ_API void bnbq_outlier_tracer_uninit(bnbq_outlier_tracer* t) {
    size_t i;
    if (!t) return;
    for (i = 0; i < t->num_layers; i++) bnbq__tr_free(t, t->outliers ? t->outliers[i] : NULL);
    bnbq__tr_free(t, (void*)t->seen);
    bnbq__tr_free(t, t->outliers);
    bnbq__tr_free(t, t->counts);
    memset(t, 0, sizeof *t);
}

static int bnbq__cmp_i32(const void* a, const void* b) {
    int32_t x = *(const int32_t*)a, y = *(const int32_t*)b;
    return (x > y) - (x < y);
}

/* the pre-hook of one layer: its outlier list (host), appended to the tracer */
static bnbq_result bnbq__tr_record(bnbq_exec* ex, bnbq_outlier_tracer* t, bnbq_linear* L,
                                   bnbq_dtype x_dt, const void* x, size_t tokens) {
    static const char* bnbq__func = "bnbq_linear_forward_traced";
    size_t N = L->desc.out_features, K = L->desc.in_features, cnt = 0, cap, i;
    size_t wes = bnbq_dtype_size(L->desc.weight_dtype), xes = bnbq_dtype_size(x_dt);
    int32_t* idx;
    void* h;
    bnbq_result r;
    BNBQ__REQUIRE(L->weight, BNBQ_ERROR_INVALID_ARGS, "tracing needs the float weight");
    if (t->num_layers == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 8;
        const void** ns = (const void**)bnbq__tr_alloc(t, nc * sizeof *ns);
        int32_t** no = (int32_t**)bnbq__tr_alloc(t, nc * sizeof *no);
        size_t* nn = (size_t*)bnbq__tr_alloc(t, nc * sizeof *nn);
        if (!ns || !no || !nn) {
            bnbq__tr_free(t, (void*)ns);
            bnbq__tr_free(t, no);
            bnbq__tr_free(t, nn);
            return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "allocation failed");
        }
        if (t->num_layers) {
            memcpy((void*)ns, (const void*)t->seen, t->num_layers * sizeof *ns);
            memcpy(no, t->outliers, t->num_layers * sizeof *no);
            memcpy(nn, t->counts, t->num_layers * sizeof *nn);
        }
        bnbq__tr_free(t, (void*)t->seen);
        bnbq__tr_free(t, t->outliers);
        bnbq__tr_free(t, t->counts);
        t->seen = ns;
        t->outliers = no;
        t->counts = nn;
        t->cap = nc;
    }
    cap = N + K + tokens + K;
    idx = (int32_t*)bnbq__tr_alloc(t, cap * sizeof *idx);
    h = bnbq__tr_alloc(t, (N * K * wes > tokens * K * xes ? N * K * wes : tokens * K * xes));
    if (!idx || !h) {
        bnbq__tr_free(t, idx);
        bnbq__tr_free(t, h);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "allocation failed");
    }
    if (t->num_layers > 0) {
        /* outliers[-1] after the append: this layer's own weight columns (bnb quirk) */
        r = bnbq_copy(ex, h, L->weight, N * K * wes, BNBQ_COPY_EXEC_TO_HOST);
        if (r == BNBQ_SUCCESS)
            r = bnbq_find_outlier_dims(L->desc.weight_dtype, h, N, K, 0, 4.0f, 0, idx, &cnt);
    } else {
        /* first linear: token indices of find_outlier_dims(x, dim 1, z 3) (bnb quirk) united
           with the features where any |x| > 6, sorted and unique */
        size_t c2 = 0, j;
        r = bnbq_copy(ex, h, x, tokens * K * xes, BNBQ_COPY_EXEC_TO_HOST);
        if (r == BNBQ_SUCCESS)
            r = bnbq_find_outlier_dims(x_dt, h, tokens, K, 1, 3.0f, 0, idx, &cnt);
        if (r == BNBQ_SUCCESS) {
            for (j = 0; j < K; j++)
                for (i = 0; i < tokens; i++)
                    if (fabsf(bnbq__load(x_dt, h, i * K + j)) > 6.0f) {
                        idx[cnt + c2++] = (int32_t)j;
                        break;
                    }
            cnt += c2;
            qsort(idx, cnt, sizeof *idx, bnbq__cmp_i32);
            for (i = 0, j = 0; i < cnt; i++)
                if (j == 0 || idx[i] != idx[j - 1]) idx[j++] = idx[i];
            cnt = j;
        }
    }
    bnbq__tr_free(t, h);
    if (r != BNBQ_SUCCESS) {
        bnbq__tr_free(t, idx);
        return r;
    }
    t->seen[t->num_layers] = L->weight;
    t->outliers[t->num_layers] = idx;
    t->counts[t->num_layers] = cnt;
    t->num_layers++;
    L->outlier_dim = idx;
    L->outlier_count = cnt;
    L->outlier_dim_set = 1;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_forward_traced(bnbq_exec* ex, bnbq_outlier_tracer* t,
                                                bnbq_linear* L, bnbq_dtype x_dt,
                                                const void* x, size_t tokens, void* out) {
    static const char* bnbq__func = "bnbq_linear_forward_traced";
    BNBQ__TRY(bnbq__lin_step_check(ex, bnbq__func, L, x_dt, tokens, 0));
    BNBQ__REQUIRE(x && out, BNBQ_ERROR_NULL_POINTER, "x or out is NULL");
    if (t && t->active) {
        size_t i;
        int seen = 0;
        for (i = 0; i < t->num_layers; i++)
            if (L->weight && t->seen[i] == L->weight) seen = 1;
        if (seen) {
            t->active = 0;   /* a weight seen twice: every hook is removed */
        } else {
            BNBQ__TRY(bnbq__tr_record(ex, t, L, x_dt, x, tokens));
        }
    }
    return bnbq_linear_forward(ex, L, x_dt, x, tokens, out);
}

/* ---- the embeddings (declared under >>layers) ---- */

/* splitmix64 stream of the embeddings' parameter init (bnbq's own, not torch's) */
static uint64_t bnbq__emb_next(uint64_t* s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform in [0, 1) with 53 bits */
static double bnbq__emb_uniform(uint64_t* s) {
    return (double)(bnbq__emb_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int bnbq__emb_trainable(const bnbq_embedding* e) {
    return e->desc.kind == BNBQ_EMBEDDING || e->desc.kind == BNBQ_EMBEDDING_STABLE;
}

/* Grows the private workspace to at least bytes (exec memory; only when a call needs more than
   any call before). */
static bnbq_result bnbq__emb_reserve(bnbq_exec* ex, bnbq_embedding* e, size_t bytes) {
    void* p = NULL;
    bnbq_result r;
    if (bytes <= e->work_bytes) return BNBQ_SUCCESS;
    bnbq_free(ex, e->work);
    e->work = NULL; e->work_bytes = 0;
    r = bnbq_alloc(ex, bytes, &p);
    if (r != BNBQ_SUCCESS) return r;
    e->work = p; e->work_bytes = bytes;
    return BNBQ_SUCCESS;
}

/* A host array of n float32 values copied into exec memory as dt (init only). */
static bnbq_result bnbq__emb_upload(bnbq_exec* ex, const float* host, size_t n, bnbq_dtype dt,
                                    void* dst) {
    size_t es = bnbq_dtype_size(dt);
    bnbq_result r;
    void* tmp;
    if (dt == BNBQ_F32) return bnbq_copy(ex, dst, host, n * 4, BNBQ_COPY_HOST_TO_EXEC);
    tmp = bnbq_host_alloc(ex, n * es);
    if (!tmp) return bnbq__fail(ex, "bnbq_embedding_init", BNBQ_ERROR_OUT_OF_MEMORY,
                                "temporary host memory");
    r = bnbq_convert(NULL, BNBQ_F32, host, n, dt, tmp);
    if (r == BNBQ_SUCCESS) r = bnbq_copy(ex, dst, tmp, n * es, BNBQ_COPY_HOST_TO_EXEC);
    bnbq_host_free(ex, tmp);
    return r;
}

static bnbq_result bnbq__emb_alloc_f32(bnbq_exec* ex, size_t n, float** out) {
    void* p = NULL;
    bnbq_result r = bnbq_alloc(ex, n * sizeof(float), &p);
    *out = (float*)p;
    return r;
}
static bnbq_result bnbq__emb_alloc_u8(bnbq_exec* ex, size_t n, uint8_t** out) {
    void* p = NULL;
    bnbq_result r = bnbq_alloc(ex, n, &p);
    *out = (uint8_t*)p;
    return r;
}

BNBQ_API void bnbq_embedding_uninit(bnbq_exec* ex, bnbq_embedding* e) {
    if (!e) return;
    bnbq_free(ex, e->weight);
    bnbq_free(ex, e->grad_weight);
    bnbq_free(ex, e->norm_weight);
    bnbq_free(ex, e->norm_bias);
    bnbq_free(ex, e->grad_norm_weight);
    bnbq_free(ex, e->grad_norm_bias);
    bnbq_free(ex, e->packed);
    bnbq_free(ex, e->absmax);
    bnbq_free(ex, e->CB);
    bnbq_free(ex, e->SCB);
    bnbq_free(ex, e->work);
    memset(e, 0, sizeof *e);
}

static bnbq_result bnbq__emb_init(bnbq_exec* ex, bnbq_embedding* e,
                                  const bnbq_embedding_desc* desc) {
    static const char* bnbq__func = "bnbq_embedding_init";
    bnbq_embedding_desc d;
    size_t num, dim, n, es, i, bytes;
    int trainable, quant;
    float* host = NULL;
    uint64_t s;
    bnbq_result r;
    BNBQ__REQUIRE(e, BNBQ_ERROR_NULL_POINTER, "e is NULL");
    memset(e, 0, sizeof *e);
    BNBQ__REQUIRE(desc, BNBQ_ERROR_NULL_POINTER, "desc is NULL");
    d = *desc;
    BNBQ__REQUIRE((int)d.kind >= (int)BNBQ_EMBEDDING && (int)d.kind <= (int)BNBQ_EMBEDDING_8BIT,
                  BNBQ_ERROR_INVALID_ARGS, "unknown embedding kind");
    num = d.num_embeddings; dim = d.embedding_dim;
    BNBQ__REQUIRE(num > 0 && dim > 0, BNBQ_ERROR_BAD_SHAPE,
                  "num_embeddings or embedding_dim is 0");
    BNBQ__REQUIRE(bnbq__is_float_dtype(d.dtype), BNBQ_ERROR_BAD_DTYPE,
                  "dtype must be F32, F16 or BF16");
    es = bnbq_dtype_size(d.dtype);
    BNBQ__REQUIRE(bnbq__mul_ok(num, dim, 8, &n), BNBQ_ERROR_OVERFLOW,
                  "num_embeddings * embedding_dim overflows");
    BNBQ__REQUIRE(num <= (size_t)INT32_MAX + 1u, BNBQ_ERROR_INVALID_ARGS,
                  "num_embeddings exceeds the int32 index range");
    trainable = d.kind == BNBQ_EMBEDDING || d.kind == BNBQ_EMBEDDING_STABLE;
    quant = !trainable;
    if (d.kind == BNBQ_EMBEDDING_FP4) d.quant_type = BNBQ_FP4;
    else if (d.kind == BNBQ_EMBEDDING_NF4) d.quant_type = BNBQ_NF4;
    else if (d.kind != BNBQ_EMBEDDING_4BIT) d.quant_type = BNBQ_FP4;
    BNBQ__REQUIRE(d.quant_type == BNBQ_FP4 || d.quant_type == BNBQ_NF4,
                  BNBQ_ERROR_BAD_QUANT_TYPE, "quant_type must be BNBQ_FP4 or BNBQ_NF4");
    BNBQ__REQUIRE(!(d.max_norm < 0.0f) && d.max_norm == d.max_norm, BNBQ_ERROR_INVALID_ARGS,
                  "max_norm must be 0 (None) or positive");
    BNBQ__REQUIRE(!(d.norm_type < 0.0f) && d.norm_type == d.norm_type, BNBQ_ERROR_INVALID_ARGS,
                  "norm_type must be 0 (2.0) or positive");
    if (d.norm_type == 0.0f) d.norm_type = 2.0f;
    BNBQ__REQUIRE(!quant || (!d.padding_idx_set && d.max_norm == 0.0f && !d.scale_grad_by_freq),
                  BNBQ_ERROR_INVALID_ARGS,
                  "Embedding4bit / Embedding8bit take no padding_idx, max_norm or "
                  "scale_grad_by_freq (bitsandbytes' constructors lack them)");
    e->padding_row = -1;
    if (d.padding_idx_set) {
        BNBQ__REQUIRE(d.padding_idx < 0 ? (uint64_t)(-(d.padding_idx + 1)) < (uint64_t)num
                                        : (uint64_t)d.padding_idx < (uint64_t)num,
                      BNBQ_ERROR_INVALID_ARGS, "padding_idx must be in [-num_embeddings, "
                      "num_embeddings)");
        if (d.padding_idx < 0) d.padding_idx += (int64_t)num;
        e->padding_row = d.padding_idx;
    } else {
        d.padding_idx = 0;
    }
    if (quant && d.kind != BNBQ_EMBEDDING_8BIT && dim % 64 != 0)
        bnbq_log(ex, BNBQ_LOG_WARN, bnbq__func,
                 "embedding_dim %lu is not a multiple of the blocksize 64: quantization blocks "
                 "straddle rows (bitsandbytes then dequantizes the whole table every forward)",
                 (unsigned long)dim);
    e->desc = d;
    e->optim_bits = trainable ? 32 : 0;
    e->blocksize = (d.kind == BNBQ_EMBEDDING_4BIT || d.kind == BNBQ_EMBEDDING_FP4 ||
                    d.kind == BNBQ_EMBEDDING_NF4) ? 64 : 0;

    /* the table: Xavier-uniform (Embedding, StableEmbedding) or torch's N(0, 1) (the quantized
       kinds inherit nn.Embedding's init); drawn in float32, rounded once to the dtype */
    host = (float*)bnbq_host_alloc(ex, n * sizeof(float));
    if (!host) return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "temporary host memory");
    s = d.seed;
    if (trainable) {
        double a = sqrt(6.0 / ((double)num + (double)dim));
        for (i = 0; i < n; i++) host[i] = (float)(a * (2.0 * bnbq__emb_uniform(&s) - 1.0));
        if (e->padding_row >= 0)
            memset(host + (size_t)e->padding_row * dim, 0, dim * sizeof(float));
    } else {
        for (i = 0; i < n; i += 2) {   /* Box-Muller pairs */
            double u1 = 1.0 - bnbq__emb_uniform(&s), u2 = bnbq__emb_uniform(&s);
            double rad = sqrt(-2.0 * log(u1));
            host[i] = (float)(rad * cos(6.283185307179586 * u2));
            if (i + 1 < n) host[i + 1] = (float)(rad * sin(6.283185307179586 * u2));
        }
    }
    bytes = n * es;
    r = bnbq_alloc(ex, bytes, &e->weight);
    if (r == BNBQ_SUCCESS) r = bnbq__emb_upload(ex, host, n, d.dtype, e->weight);
    if (r == BNBQ_SUCCESS && trainable) {
        r = bnbq_alloc(ex, bytes, &e->grad_weight);
        if (r == BNBQ_SUCCESS) r = bnbq_fill_bytes(ex, e->grad_weight, 0, bytes);
    }
    if (r == BNBQ_SUCCESS && d.kind == BNBQ_EMBEDDING_STABLE) {
        for (i = 0; i < dim; i++) host[i] = 1.0f;
        r = bnbq__emb_alloc_f32(ex, dim, &e->norm_weight);
        if (r == BNBQ_SUCCESS) r = bnbq__emb_alloc_f32(ex, dim, &e->norm_bias);
        if (r == BNBQ_SUCCESS) r = bnbq__emb_alloc_f32(ex, dim, &e->grad_norm_weight);
        if (r == BNBQ_SUCCESS) r = bnbq__emb_alloc_f32(ex, dim, &e->grad_norm_bias);
        if (r == BNBQ_SUCCESS)
            r = bnbq_copy(ex, e->norm_weight, host, dim * 4, BNBQ_COPY_HOST_TO_EXEC);
        if (r == BNBQ_SUCCESS) r = bnbq_fill_bytes(ex, e->norm_bias, 0, dim * 4);
        if (r == BNBQ_SUCCESS) r = bnbq_fill_bytes(ex, e->grad_norm_weight, 0, dim * 4);
        if (r == BNBQ_SUCCESS) r = bnbq_fill_bytes(ex, e->grad_norm_bias, 0, dim * 4);
    }
    bnbq_host_free(ex, host);   /* HOST_TO_EXEC copies have returned: the buffer is free */
    return r;
}

BNBQ_API bnbq_result bnbq_embedding_init(bnbq_exec* ex, bnbq_embedding* e,
                                         const bnbq_embedding_desc* desc) {
    bnbq_result r = bnbq__emb_init(ex, e, desc);
    if (r != BNBQ_SUCCESS && e) bnbq_embedding_uninit(ex, e);   /* frees and zeroes */
    return r;
}

BNBQ_API bnbq_result bnbq_embedding_set_weight(bnbq_exec* ex, bnbq_embedding* e,
                                               const void* weight) {
    static const char* bnbq__func = "bnbq_embedding_set_weight";
    BNBQ__REQUIRE(e && weight, BNBQ_ERROR_NULL_POINTER, "e or weight is NULL");
    BNBQ__REQUIRE(!e->quantized, BNBQ_ERROR_INVALID_ARGS,
                  "the embedding is quantized: its float table is gone");
    BNBQ__REQUIRE(e->weight, BNBQ_ERROR_INVALID_ARGS, "the embedding is not initialised");
    return bnbq_copy(ex, e->weight, weight,
                     e->desc.num_embeddings * e->desc.embedding_dim *
                     bnbq_dtype_size(e->desc.dtype), BNBQ_COPY_HOST_TO_EXEC);
}

BNBQ_API bnbq_result bnbq_embedding_quantize(bnbq_exec* ex, bnbq_embedding* e) {
    static const char* bnbq__func = "bnbq_embedding_quantize";
    size_t n, nb;
    bnbq_result r;
    BNBQ__REQUIRE(e, BNBQ_ERROR_NULL_POINTER, "e is NULL");
    BNBQ__REQUIRE(e->weight || e->quantized, BNBQ_ERROR_INVALID_ARGS,
                  "the embedding is not initialised");
    BNBQ__REQUIRE(!bnbq__emb_trainable(e), BNBQ_ERROR_NOT_SUPPORTED,
                  "Embedding and StableEmbedding are not quantized (only Embedding4bit / "
                  "EmbeddingFP4 / EmbeddingNF4 / Embedding8bit)");
    if (e->quantized) return BNBQ_SUCCESS;
    n = e->desc.num_embeddings * e->desc.embedding_dim;
    if (e->desc.kind == BNBQ_EMBEDDING_8BIT) {
        /* Int8Params: the weight goes to f16 first, then row-wise int8 with threshold 0 */
        uint8_t* cb = NULL;
        r = bnbq__emb_alloc_u8(ex, n, &cb);
        e->CB = (int8_t*)cb;
        if (r == BNBQ_SUCCESS) r = bnbq__emb_alloc_f32(ex, e->desc.num_embeddings, &e->SCB);
        if (r == BNBQ_SUCCESS && e->desc.dtype != BNBQ_F16) {
            r = bnbq__emb_reserve(ex, e, n * 2);
            if (r == BNBQ_SUCCESS) r = bnbq_convert(ex, e->desc.dtype, e->weight, n, BNBQ_F16,
                                                    e->work);
        }
        if (r == BNBQ_SUCCESS)
            r = bnbq_int8_vectorwise_quant(ex, BNBQ_F16,
                                           e->desc.dtype == BNBQ_F16 ? e->weight : e->work,
                                           e->desc.num_embeddings, e->desc.embedding_dim, 0.0f,
                                           e->CB, e->SCB, NULL, NULL);
        /* the f16 copy is as large as half the table: do not keep it as the lookups' workspace
           (they need none) */
        bnbq_free(ex, e->work);
        e->work = NULL; e->work_bytes = 0;
    } else {
        nb = (n + 63) / 64;
        r = bnbq__emb_alloc_u8(ex, (n + 1) / 2, &e->packed);
        if (r == BNBQ_SUCCESS) r = bnbq__emb_alloc_f32(ex, nb, &e->absmax);
        if (r == BNBQ_SUCCESS)
            r = bnbq_quantize_4bit(ex, e->desc.quant_type, e->desc.dtype, e->weight, n, 64,
                                   e->packed, e->absmax);
    }
    if (r != BNBQ_SUCCESS) {
        bnbq_free(ex, e->CB); bnbq_free(ex, e->SCB);
        bnbq_free(ex, e->packed); bnbq_free(ex, e->absmax);
        e->CB = NULL; e->SCB = NULL; e->packed = NULL; e->absmax = NULL;
        return r;
    }
    bnbq_free(ex, e->weight);
    e->weight = NULL;
    e->quantized = 1;
    return BNBQ_SUCCESS;
}

/* the checks forward and backward share */
static bnbq_result bnbq__emb_check_call(bnbq_exec* ex, const char* bnbq__func,
                                        const bnbq_embedding* e, const int32_t* idx,
                                        size_t count, const void* t) {
    BNBQ__REQUIRE(e && idx && t, BNBQ_ERROR_NULL_POINTER, "e, idx or a tensor is NULL");
    BNBQ__REQUIRE(e->weight || e->quantized, BNBQ_ERROR_INVALID_ARGS,
                  "the embedding is not initialised");
    BNBQ__REQUIRE(count > 0, BNBQ_ERROR_BAD_SHAPE, "count is 0");
    BNBQ__REQUIRE(bnbq__mul_ok(count, e->desc.embedding_dim, 2 * sizeof(double), NULL),
                  BNBQ_ERROR_OVERFLOW, "count * embedding_dim overflows");
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_embedding_forward(bnbq_exec* ex, bnbq_embedding* e, const int32_t* idx,
                                            size_t count, void* out) {
    static const char* bnbq__func = "bnbq_embedding_forward";
    size_t num, dim, es;
    bnbq_dtype dt;
    bnbq_result r = bnbq__emb_check_call(ex, bnbq__func, e, idx, count, out);
    if (r != BNBQ_SUCCESS) return r;
    num = e->desc.num_embeddings; dim = e->desc.embedding_dim; dt = e->desc.dtype;
    es = bnbq_dtype_size(dt);
    switch (e->desc.kind) {
        case BNBQ_EMBEDDING:
        case BNBQ_EMBEDDING_STABLE:
            if (e->desc.max_norm > 0.0f) {
                r = bnbq_renorm_rows(ex, dt, e->weight, num, dim, idx, count, e->desc.max_norm,
                                     e->desc.norm_type);
                if (r != BNBQ_SUCCESS) return r;
            }
            if (e->desc.kind == BNBQ_EMBEDDING)
                return bnbq_gather_rows(ex, e->weight, num, dim * es, idx, count, out);
            r = bnbq__emb_reserve(ex, e, count * dim * es);
            if (r == BNBQ_SUCCESS) r = bnbq_gather_rows(ex, e->weight, num, dim * es, idx, count,
                                                        e->work);
            if (r == BNBQ_SUCCESS)
                r = bnbq_layer_norm(ex, dt, e->work, count, dim, e->norm_weight, e->norm_bias,
                                    1e-5f, out, NULL, NULL);
            return r;
        case BNBQ_EMBEDDING_8BIT:
            BNBQ__REQUIRE(e->quantized, BNBQ_ERROR_INVALID_ARGS,
                          "Embedding8bit is not quantized yet: call bnbq_embedding_quantize "
                          "(bitsandbytes needs weight.SCB)");
            return bnbq_gather_rows_8bit(ex, dt, e->CB, e->SCB, num, dim, idx, count, out);
        default:
            BNBQ__REQUIRE(e->quantized, BNBQ_ERROR_INVALID_ARGS,
                          "Embedding4bit is not quantized yet: call bnbq_embedding_quantize");
            return bnbq_gather_rows_4bit(ex, e->desc.quant_type, dt, e->packed, e->absmax, num,
                                         dim, e->blocksize, idx, count, out);
    }
}

BNBQ_API bnbq_result bnbq_embedding_backward(bnbq_exec* ex, bnbq_embedding* e,
                                             const int32_t* idx, size_t count,
                                             const void* grad_out) {
    static const char* bnbq__func = "bnbq_embedding_backward";
    size_t num, dim, es, half;
    bnbq_dtype dt;
    bnbq_result r = bnbq__emb_check_call(ex, bnbq__func, e, idx, count, grad_out);
    if (r != BNBQ_SUCCESS) return r;
    BNBQ__REQUIRE(bnbq__emb_trainable(e), BNBQ_ERROR_NOT_SUPPORTED,
                  "the quantized embeddings (Embedding4bit / FP4 / NF4 / 8bit) have no backward: "
                  "bitsandbytes does not train them (requires_grad=False)");
    num = e->desc.num_embeddings; dim = e->desc.embedding_dim; dt = e->desc.dtype;
    es = bnbq_dtype_size(dt);
    if (e->desc.kind == BNBQ_EMBEDDING)
        return bnbq_gather_rows_backward(ex, dt, idx, count, grad_out, num, dim, e->padding_row,
                                         e->desc.scale_grad_by_freq, e->grad_weight);
    /* StableEmbedding: the norm's input again (the rows after the forward's renorm), the
       norm's backward into grad_x (dt) and its parameter gradients, then the lookup's */
    half = count * dim * es;
    r = bnbq__emb_reserve(ex, e, 2 * half);
    if (r == BNBQ_SUCCESS) r = bnbq_gather_rows(ex, e->weight, num, dim * es, idx, count, e->work);
    if (r == BNBQ_SUCCESS)
        r = bnbq_layer_norm_backward(ex, dt, e->work, grad_out, count, dim, e->norm_weight, 1e-5f,
                                     NULL, NULL, (uint8_t*)e->work + half, e->grad_norm_weight,
                                     e->grad_norm_bias);
    if (r == BNBQ_SUCCESS)
        r = bnbq_gather_rows_backward(ex, dt, idx, count, (uint8_t*)e->work + half, num, dim,
                                      e->padding_row, e->desc.scale_grad_by_freq, e->grad_weight);
    return r;
}

// >>io

/* ---- safetensors dtypes ---- */
static const char* const bnbq__st_names[BNBQ_ST_DTYPE_COUNT] = {
    "U8", "I8", "BOOL", "F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0",
    "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64",
    "I64", "U64"};
static const unsigned char bnbq__st_bitsz[BNBQ_ST_DTYPE_COUNT] = {
    8, 8, 8, 4, 6, 6, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64};
/* position in the official library's Dtype order (BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2,
   ...): its writer puts the largest first */
static const unsigned char bnbq__st_rank[BNBQ_ST_DTYPE_COUNT] = {
    4, 5, 0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};

static int bnbq__st_dtype_ok(bnbq_st_dtype dt) {
    return (int)dt >= 0 && (int)dt < (int)BNBQ_ST_DTYPE_COUNT;
}
BNBQ_API const char* bnbq_st_dtype_name(bnbq_st_dtype dt) {
    return bnbq__st_dtype_ok(dt) ? bnbq__st_names[dt] : NULL;
}
BNBQ_API int bnbq_st_dtype_bits(bnbq_st_dtype dt) {
    return bnbq__st_dtype_ok(dt) ? (int)bnbq__st_bitsz[dt] : 0;
}
/* the dtypes both enums know */
static const int bnbq__st_pairs[7][2] = {
    {BNBQ_F32, BNBQ_ST_F32}, {BNBQ_F16, BNBQ_ST_F16}, {BNBQ_BF16, BNBQ_ST_BF16}, {BNBQ_U8, BNBQ_ST_U8},
    {BNBQ_I8, BNBQ_ST_I8},   {BNBQ_I32, BNBQ_ST_I32}, {BNBQ_I64, BNBQ_ST_I64}};
/* the value paired with v in column col of the table, -1 for none */
static int bnbq__st_pair(int col, int v) {
    int i;
    for (i = 0; i < 7; i++)
        if (bnbq__st_pairs[i][col] == v) return bnbq__st_pairs[i][1 - col];
    return -1;
}
BNBQ_API bnbq_result bnbq_st_dtype_from(bnbq_dtype dt, bnbq_st_dtype* out) {
    int v = bnbq__st_pair(0, (int)dt);
    if (v < 0) return BNBQ_ERROR_BAD_DTYPE;
    if (!out) return BNBQ_ERROR_NULL_POINTER;
    *out = (bnbq_st_dtype)v;
    return BNBQ_SUCCESS;
}
BNBQ_API bnbq_result bnbq_st_dtype_to(bnbq_st_dtype dt, bnbq_dtype* out) {
    int v = bnbq__st_pair(1, (int)dt);
    if (v < 0) return BNBQ_ERROR_BAD_DTYPE;
    if (!out) return BNBQ_ERROR_NULL_POINTER;
    *out = (bnbq_dtype)v;
    return BNBQ_SUCCESS;
}

/* numel and bytes of a tensor; 0 when a count overflows or the bits are not whole bytes
   (*why says which) */
static int bnbq__st_sizes(bnbq_st_dtype dt, size_t ndim, const size_t* shape, size_t* numel,
                          size_t* bytes, const char** why) {
    size_t n = 1, i, bits = bnbq__st_bitsz[dt];
    for (i = 0; i < ndim; i++) {
        if (shape[i] != 0 && n > SIZE_MAX / shape[i]) { *why = "the element count overflows"; return 0; }
        n *= shape[i];
    }
    if (n > SIZE_MAX / bits) { *why = "the size in bits overflows"; return 0; }
    if ((n * bits) % 8 != 0) { *why = "the elements do not fill whole bytes"; return 0; }
    *numel = n;
    *bytes = n * bits / 8;
    return 1;
}

/* strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF) */
static int bnbq__utf8_ok(const uint8_t* s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k, len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1fu; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0fu; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07u; }
        else return 0;
        if (n - i < len) return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* ---- a small JSON reader over a byte range (no allocation) ---- */
typedef struct bnbq__js {
    const char* p;
    const char* e;
} bnbq__js;

static void bnbq__js_ws(bnbq__js* j) {
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}
/* skips whitespace, then consumes c if it is next */
static int bnbq__js_eat(bnbq__js* j, char c) {
    bnbq__js_ws(j);
    if (j->p < j->e && *j->p == c) { j->p++; return 1; }
    return 0;
}
static int bnbq__js_peek(bnbq__js* j) {
    bnbq__js_ws(j);
    return j->p < j->e ? (unsigned char)*j->p : -1;
}
static int bnbq__js_hex4(const char* p, uint32_t* v) {
    int i;
    *v = 0;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return 0;
        *v = (*v << 4) | d;
    }
    return 1;
}
/* A string (after whitespace). Decodes into out (NULL: only measure), at most cap bytes plus a
   NUL (longer: *len is the full length and out holds a truncated prefix); *len = decoded bytes.
   Rejects control characters, bad escapes, lone surrogates and U+0000. The input must already
   be valid UTF-8. */
static int bnbq__js_str(bnbq__js* j, char* out, size_t cap, size_t* len) {
    size_t n = 0;
    if (!bnbq__js_eat(j, '"')) return 0;
    for (;;) {
        unsigned char c;
        char tmp[4];
        size_t tn = 0, k;
        if (j->p >= j->e) return 0;
        c = (unsigned char)*j->p++;
        if (c == '"') break;
        if (c < 0x20) return 0;
        if (c != '\\') {
            tmp[tn++] = (char)c;
        } else {
            if (j->p >= j->e) return 0;
            c = (unsigned char)*j->p++;
            switch (c) {
                case '"': tmp[tn++] = '"'; break;
                case '\\': tmp[tn++] = '\\'; break;
                case '/': tmp[tn++] = '/'; break;
                case 'b': tmp[tn++] = '\b'; break;
                case 'f': tmp[tn++] = '\f'; break;
                case 'n': tmp[tn++] = '\n'; break;
                case 'r': tmp[tn++] = '\r'; break;
                case 't': tmp[tn++] = '\t'; break;
                case 'u': {
                    uint32_t cp, lo;
                    if (j->e - j->p < 4 || !bnbq__js_hex4(j->p, &cp)) return 0;
                    j->p += 4;
                    if (cp >= 0xdc00 && cp <= 0xdfff) return 0;
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (j->e - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                            !bnbq__js_hex4(j->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                            return 0;
                        j->p += 6;
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    if (cp == 0) return 0;
                    if (cp < 0x80) {
                        tmp[tn++] = (char)cp;
                    } else if (cp < 0x800) {
                        tmp[tn++] = (char)(0xc0 | (cp >> 6));
                        tmp[tn++] = (char)(0x80 | (cp & 0x3f));
                    } else if (cp < 0x10000) {
                        tmp[tn++] = (char)(0xe0 | (cp >> 12));
                        tmp[tn++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                        tmp[tn++] = (char)(0x80 | (cp & 0x3f));
                    } else {
                        tmp[tn++] = (char)(0xf0 | (cp >> 18));
                        tmp[tn++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                        tmp[tn++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                        tmp[tn++] = (char)(0x80 | (cp & 0x3f));
                    }
                    break;
                }
                default: return 0;
            }
        }
        for (k = 0; k < tn; k++, n++)
            if (out && n < cap) out[n] = tmp[k];
    }
    if (out) out[n < cap ? n : cap] = 0;
    *len = n;
    return 1;
}
/* The span of a JSON number; *is_uint: digits only. */
static int bnbq__js_numspan(bnbq__js* j, const char** s, size_t* n, int* is_uint) {
    const char* p;
    int integral = 1;
    bnbq__js_ws(j);
    p = j->p;
    if (p < j->e && *p == '-') { p++; integral = 0; }
    if (p >= j->e || *p < '0' || *p > '9') return 0;
    if (*p == '0') p++;
    else while (p < j->e && *p >= '0' && *p <= '9') p++;
    if (p < j->e && *p == '.') {
        p++;
        integral = 0;
        if (p >= j->e || *p < '0' || *p > '9') return 0;
        while (p < j->e && *p >= '0' && *p <= '9') p++;
    }
    if (p < j->e && (*p == 'e' || *p == 'E')) {
        p++;
        integral = 0;
        if (p < j->e && (*p == '+' || *p == '-')) p++;
        if (p >= j->e || *p < '0' || *p > '9') return 0;
        while (p < j->e && *p >= '0' && *p <= '9') p++;
    }
    *s = j->p;
    *n = (size_t)(p - j->p);
    *is_uint = integral;
    j->p = p;
    return 1;
}
/* A non-negative integer that fits size_t (serde's usize: no sign, fraction or exponent). */
static int bnbq__js_size(bnbq__js* j, size_t* v) {
    const char* s;
    size_t n, i, x = 0;
    int u;
    if (!bnbq__js_numspan(j, &s, &n, &u) || !u) return 0;
    for (i = 0; i < n; i++) {
        size_t d = (size_t)(s[i] - '0');
        if (x > (SIZE_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/* strtod on text in the C locale's notation, whatever the program's locale: the '.' is replaced
   by the locale's decimal point first. *ok = the whole text was a number. */
static double bnbq__strtod_c(const char* s, size_t n, int* ok) {
    char buf[400];
    const struct lconv* lc = localeconv();
    const char* dp = (lc && lc->decimal_point && lc->decimal_point[0]) ? lc->decimal_point : ".";
    size_t dl = strlen(dp), o = 0, i;
    char* end = NULL;
    double v;
    *ok = 0;
    if (n + dl + 1 > sizeof buf) return 0.0;
    for (i = 0; i < n; i++) {
        if (s[i] == '.') { memcpy(buf + o, dp, dl); o += dl; }
        else buf[o++] = s[i];
    }
    buf[o] = 0;
    v = strtod(buf, &end);
    *ok = end == buf + o && o > 0;
    return v;
}
/* A number as double; also Python json's NaN, Infinity, -Infinity. */
static int bnbq__js_double(bnbq__js* j, double* v) {
    const char* s;
    size_t n;
    int u, ok;
    bnbq__js_ws(j);
    if (j->e - j->p >= 3 && memcmp(j->p, "NaN", 3) == 0) { j->p += 3; *v = (double)NAN; return 1; }
    if (j->e - j->p >= 8 && memcmp(j->p, "Infinity", 8) == 0) {
        j->p += 8; *v = (double)HUGE_VAL; return 1;
    }
    if (j->e - j->p >= 9 && memcmp(j->p, "-Infinity", 9) == 0) {
        j->p += 9; *v = -(double)HUGE_VAL; return 1;
    }
    if (!bnbq__js_numspan(j, &s, &n, &u)) return 0;
    *v = bnbq__strtod_c(s, n, &ok);
    return ok;
}
/* Skips any value (depth-limited). */
static int bnbq__js_skip(bnbq__js* j, int depth) {
    int c = bnbq__js_peek(j);
    size_t len;
    if (depth > 64) return 0;
    if (c == '"') return bnbq__js_str(j, NULL, 0, &len);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (bnbq__js_eat(j, close)) return 1;
        for (;;) {
            if (c == '{' && (!bnbq__js_str(j, NULL, 0, &len) || !bnbq__js_eat(j, ':'))) return 0;
            if (!bnbq__js_skip(j, depth + 1)) return 0;
            if (bnbq__js_eat(j, ',')) continue;
            return bnbq__js_eat(j, close);
        }
    }
    if (c == 't' && j->e - j->p >= 4 && memcmp(j->p, "true", 4) == 0) { j->p += 4; return 1; }
    if (c == 'f' && j->e - j->p >= 5 && memcmp(j->p, "false", 5) == 0) { j->p += 5; return 1; }
    if (c == 'n' && j->e - j->p >= 4 && memcmp(j->p, "null", 4) == 0) { j->p += 4; return 1; }
    {
        double d;
        return bnbq__js_double(j, &d);
    }
}

/* ---- Python's float repr ---- */
/* d: digits (n of them, no trailing zero), value = 0.d * 10^decpt; writes Python's layout */
static size_t bnbq__repr_layout(int neg, const char* d, int n, int decpt, char* out) {
    size_t o = 0;
    int i;
    if (neg) out[o++] = '-';
    if (decpt <= -4 || decpt > 16) {
        int e = decpt - 1, ae = e < 0 ? -e : e;
        char eb[8];
        int en = 0;
        out[o++] = d[0];
        if (n > 1) {
            out[o++] = '.';
            for (i = 1; i < n; i++) out[o++] = d[i];
        }
        out[o++] = 'e';
        out[o++] = e < 0 ? '-' : '+';
        do { eb[en++] = (char)('0' + ae % 10); ae /= 10; } while (ae);
        if (en < 2) eb[en++] = '0';
        while (en) out[o++] = eb[--en];
    } else if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (i = 0; i < -decpt; i++) out[o++] = '0';
        for (i = 0; i < n; i++) out[o++] = d[i];
    } else {
        for (i = 0; i < decpt; i++) out[o++] = i < n ? d[i] : '0';
        out[o++] = '.';
        if (n > decpt) for (i = decpt; i < n; i++) out[o++] = d[i];
        else out[o++] = '0';
    }
    out[o] = 0;
    return o;
}
/* "D.DDDDe<exp>" from p digits of m (m < 10^p) and exponent e, read back */
static double bnbq__repr_read(uint64_t m, int p, int e, int* ok) {
    char buf[48];
    int i, o = 0;
    char dg[20];
    for (i = p - 1; i >= 0; i--) { dg[i] = (char)('0' + (int)(m % 10)); m /= 10; }
    buf[o++] = dg[0];
    if (p > 1) {
        buf[o++] = '.';
        for (i = 1; i < p; i++) buf[o++] = dg[i];
    }
    o += sprintf(buf + o, "e%d", e);
    return bnbq__strtod_c(buf, (size_t)o, ok);
}

BNBQ_API size_t bnbq_format_double_repr(double v, char* out) {
    int p, neg = signbit(v) != 0;
    double a = neg ? -v : v;
    if (!out) return 0;
    if (v != v) { memcpy(out, "NaN", 4); return 3; }
    if (a > DBL_MAX) {
        if (neg) { memcpy(out, "-Infinity", 10); return 9; }
        memcpy(out, "Infinity", 9);
        return 8;
    }
    if (a == 0.0) {
        if (neg) { memcpy(out, "-0.0", 5); return 4; }
        memcpy(out, "0.0", 4);
        return 3;
    }
    for (p = 1; p <= 17; p++) {
        char buf[64], dg[20];
        uint64_t m = 0, pow10 = 1;
        int i, nd = 0, e, ok, k;
        const char* s;
        snprintf(buf, sizeof buf, "%.*e", p - 1, a);
        for (s = buf; *s && *s != 'e' && *s != 'E'; s++)
            if (*s >= '0' && *s <= '9') m = m * 10 + (uint64_t)(*s - '0');
        if (!*s) break;
        e = atoi(s + 1);
        for (i = 0; i < p; i++) pow10 *= 10;
        for (k = 0; k < 3; k++) {
            /* the nearest p-digit decimal, then its neighbour on the other side of a (the only
               other p-digit candidate that can read back as a at a power-of-two boundary) */
            uint64_t c = m;
            double back;
            if (k == 1) c = m + 1;
            if (k == 2) c = m - 1;
            if (c >= pow10 || c < pow10 / 10) continue;
            back = bnbq__repr_read(c, p, e, &ok);
            if (!ok || back != a) continue;
            for (i = p - 1; i >= 0; i--) { dg[i] = (char)('0' + (int)(c % 10)); c /= 10; }
            nd = p;
            while (nd > 1 && dg[nd - 1] == '0') nd--;
            return bnbq__repr_layout(neg, dg, nd, e + 1, out);
        }
    }
    /* unreachable with a correct printf: 17 digits always read back */
    return (size_t)sprintf(out, "%.17g", v);
}

/* ---- reader ---- */
#define BNBQ__ST_MAX_HEADER 100000000u

/* logs "CORRUPT_FILE: <formatted>" (or another code) and returns the code */
static bnbq_result bnbq__st_bad(const bnbq_exec* ex, const char* func, bnbq_result r,
                                const char* fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static bnbq_result bnbq__st_bad(const bnbq_exec* ex, const char* func, bnbq_result r,
                                const char* fmt, ...) {
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return bnbq__fail(ex, func, r, buf);
}

/* what the two passes over the header share */
typedef struct bnbq__st_parse {
    size_t tensors, dims, chars, meta;    /* counted by the first pass                        */
    int    fill;                          /* second pass: write into the tables below          */
    bnbq_st_tensor* t;
    const char** mkeys;
    const char** mvals;
    size_t* dimv;
    char*   str;
    size_t  ti, di, ci, mi;               /* fill cursors                                       */
    const char* why;
    char    what[160];
} bnbq__st_parse;

/* a string into the string table (second pass) or only counted (first pass) */
static int bnbq__st_take_str(bnbq__js* j, bnbq__st_parse* ps, const char** out) {
    size_t len;
    bnbq__js save = *j;
    if (!bnbq__js_str(j, NULL, 0, &len)) return 0;
    if (!ps->fill) { ps->chars += len + 1; return 1; }
    *j = save;
    if (!bnbq__js_str(j, ps->str + ps->ci, len, &len)) return 0;
    *out = ps->str + ps->ci;
    ps->ci += len + 1;
    return 1;
}

/* one tensor entry {"dtype": ..., "shape": [...], "data_offsets": [b, e]} */
static int bnbq__st_tensor_entry(bnbq__js* j, bnbq__st_parse* ps, bnbq_st_tensor* t) {
    int have_dt = 0, have_shape = 0, have_off = 0;
    size_t ndim = 0, b = 0, e = 0;
    if (!bnbq__js_eat(j, '{')) { ps->why = "a tensor entry is not an object"; return 0; }
    if (!bnbq__js_eat(j, '}')) {
        for (;;) {
            char key[16];
            size_t kl;
            if (!bnbq__js_str(j, key, sizeof key - 1, &kl) || !bnbq__js_eat(j, ':')) {
                ps->why = "malformed JSON in a tensor entry";
                return 0;
            }
            if (kl == 5 && strcmp(key, "dtype") == 0) {
                char dn[16];
                size_t dl;
                int d, found = -1;
                if (have_dt++) { ps->why = "\"dtype\" appears twice"; return 0; }
                if (!bnbq__js_str(j, dn, sizeof dn - 1, &dl)) { ps->why = "\"dtype\" is not a string"; return 0; }
                for (d = 0; d < (int)BNBQ_ST_DTYPE_COUNT && dl < sizeof dn; d++)
                    if (strcmp(dn, bnbq__st_names[d]) == 0) found = d;
                if (found < 0) {
                    ps->why = "unknown dtype";
                    snprintf(ps->what, sizeof ps->what, "%s", dn);
                    return 0;
                }
                if (t) t->dtype = (bnbq_st_dtype)found;
            } else if (kl == 5 && strcmp(key, "shape") == 0) {
                if (have_shape++) { ps->why = "\"shape\" appears twice"; return 0; }
                if (!bnbq__js_eat(j, '[')) { ps->why = "\"shape\" is not an array"; return 0; }
                if (!bnbq__js_eat(j, ']')) {
                    for (;;) {
                        size_t v;
                        if (!bnbq__js_size(j, &v)) {
                            ps->why = "a shape entry is not a non-negative integer";
                            return 0;
                        }
                        if (ps->fill) ps->dimv[ps->di + ndim] = v;
                        ndim++;
                        if (bnbq__js_eat(j, ',')) continue;
                        if (bnbq__js_eat(j, ']')) break;
                        ps->why = "malformed \"shape\"";
                        return 0;
                    }
                }
            } else if (kl == 12 && strcmp(key, "data_offsets") == 0) {
                if (have_off++) { ps->why = "\"data_offsets\" appears twice"; return 0; }
                if (!bnbq__js_eat(j, '[') || !bnbq__js_size(j, &b) || !bnbq__js_eat(j, ',') ||
                    !bnbq__js_size(j, &e) || !bnbq__js_eat(j, ']')) {
                    ps->why = "\"data_offsets\" is not two non-negative integers";
                    return 0;
                }
            } else if (!bnbq__js_skip(j, 0)) {
                ps->why = "malformed JSON in a tensor entry";
                return 0;
            }
            if (bnbq__js_eat(j, ',')) continue;
            if (bnbq__js_eat(j, '}')) break;
            ps->why = "malformed JSON in a tensor entry";
            return 0;
        }
    }
    if (!have_dt || !have_shape || !have_off) {
        ps->why = !have_dt ? "missing \"dtype\"" : !have_shape ? "missing \"shape\""
                                                               : "missing \"data_offsets\"";
        return 0;
    }
    if (e < b) { ps->why = "data_offsets end before they begin"; return 0; }
    if (ps->fill) {
        t->ndim = ndim;
        t->shape = ps->dimv + ps->di;
        t->offset = b;
        t->bytes = e - b;   /* checked against dtype x shape later */
    }
    ps->di += ndim;
    ps->dims += ndim;
    return 1;
}

/* the whole header: {"name": entry, ..., "__metadata__": {...}} then only whitespace */
static int bnbq__st_header(const char* h, size_t n, bnbq__st_parse* ps) {
    bnbq__js j;
    int have_meta = 0;
    j.p = h;
    j.e = h + n;
    ps->ti = ps->di = ps->ci = ps->mi = 0;
    if (n == 0 || h[0] != '{') { ps->why = "the header does not start with '{'"; return 0; }
    j.p++;
    if (!bnbq__js_eat(&j, '}')) {
        for (;;) {
            const char* name = NULL;
            bnbq__js save = j;
            size_t kl;
            char kb[16];
            if (!bnbq__js_str(&j, kb, sizeof kb - 1, &kl)) { ps->why = "malformed JSON (a key)"; return 0; }
            if (kl == 12 && strcmp(kb, "__metadata__") == 0) {
                if (have_meta++) { ps->why = "__metadata__ appears twice"; return 0; }
                if (!bnbq__js_eat(&j, ':')) { ps->why = "malformed JSON after a key"; return 0; }
                if (bnbq__js_peek(&j) == 'n') {
                    if (!bnbq__js_skip(&j, 0)) { ps->why = "malformed __metadata__"; return 0; }
                } else {
                    if (!bnbq__js_eat(&j, '{')) { ps->why = "__metadata__ is not an object"; return 0; }
                    if (!bnbq__js_eat(&j, '}')) {
                        for (;;) {
                            const char *k = NULL, *v = NULL;
                            if (!bnbq__st_take_str(&j, ps, &k) || !bnbq__js_eat(&j, ':')) {
                                ps->why = "malformed __metadata__";
                                return 0;
                            }
                            if (bnbq__js_peek(&j) != '"' || !bnbq__st_take_str(&j, ps, &v)) {
                                ps->why = "a __metadata__ value is not a string";
                                return 0;
                            }
                            if (ps->fill) { ps->mkeys[ps->mi] = k; ps->mvals[ps->mi] = v; }
                            ps->mi++;
                            if (bnbq__js_eat(&j, ',')) continue;
                            if (bnbq__js_eat(&j, '}')) break;
                            ps->why = "malformed __metadata__";
                            return 0;
                        }
                    }
                }
            } else {
                bnbq_st_tensor* t = ps->fill ? ps->t + ps->ti : NULL;
                j = save;
                if (!bnbq__st_take_str(&j, ps, &name) || !bnbq__js_eat(&j, ':')) {
                    ps->why = "malformed JSON (a tensor name)";
                    return 0;
                }
                if (t) t->name = name;
                if (!bnbq__st_tensor_entry(&j, ps, t)) {
                    char nb[64], detail[sizeof ps->what];
                    size_t nl;
                    bnbq__js nj = save;
                    if (!bnbq__js_str(&nj, nb, sizeof nb - 1, &nl)) nb[0] = 0;
                    memcpy(detail, ps->what, sizeof detail);
                    snprintf(ps->what, sizeof ps->what, "tensor '%.60s'%s%.80s", nb,
                             detail[0] ? ": " : "", detail);
                    return 0;
                }
                ps->ti++;
            }
            if (bnbq__js_eat(&j, ',')) continue;
            if (bnbq__js_eat(&j, '}')) break;
            ps->why = "malformed JSON (expected ',' or '}')";
            return 0;
        }
    }
    bnbq__js_ws(&j);
    if (j.p != j.e) { ps->why = "text after the JSON object (the header may only be padded with whitespace)"; return 0; }
    if (!ps->fill) { ps->tensors = ps->ti; ps->meta = ps->mi; }
    return 1;
}

static int bnbq__st_cmp_offset(const void* a, const void* b) {
    const bnbq_st_tensor* x = *(const bnbq_st_tensor* const*)a;
    const bnbq_st_tensor* y = *(const bnbq_st_tensor* const*)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? -1 : 1;
    return 0;
}
static int bnbq__st_cmp_name(const void* a, const void* b) {
    const bnbq_st_tensor* x = *(const bnbq_st_tensor* const*)a;
    const bnbq_st_tensor* y = *(const bnbq_st_tensor* const*)b;
    return strcmp(x->name, y->name);
}
static int bnbq__st_cmp_cstr(const void* a, const void* b) {
    return strcmp(*(const char* const*)a, *(const char* const*)b);
}

BNBQ_API bnbq_result bnbq_st_reader_init(bnbq_exec* ex, bnbq_st_reader* r, const void* buffer,
                                         size_t bytes) {
    static const char* bnbq__func = "bnbq_st_reader_init";
    const uint8_t* buf = (const uint8_t*)buffer;
    uint64_t n64 = 0;
    size_t n, i, total, off_tab, off_mk, off_dims, off_str, cursor;
    bnbq__st_parse ps;
    uint8_t* block;
    bnbq_st_tensor* ts;
    const bnbq_st_tensor** idx;
    bnbq_result res;
    BNBQ__REQUIRE(r, BNBQ_ERROR_NULL_POINTER, "reader is NULL");
    memset(r, 0, sizeof *r);
    BNBQ__REQUIRE(buffer, BNBQ_ERROR_NULL_POINTER, "buffer is NULL");
    if (bytes < 8)
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                            "%lu bytes: shorter than the 8-byte header length", (unsigned long)bytes);
    for (i = 0; i < 8; i++) n64 |= (uint64_t)buf[i] << (8 * i);
    if (n64 > BNBQ__ST_MAX_HEADER)
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                            "header length %.0f is over the 100,000,000-byte limit", (double)n64);
    n = (size_t)n64;
    if (n > bytes - 8)
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                            "the %lu-byte header runs past the end of the %lu-byte buffer",
                            (unsigned long)n, (unsigned long)bytes);
    if (!bnbq__utf8_ok(buf + 8, n))
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, "the header is not UTF-8");
    memset(&ps, 0, sizeof ps);
    if (!bnbq__st_header((const char*)buf + 8, n, &ps))
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, "header: %s%s%s", ps.why,
                            ps.what[0] ? ": " : "", ps.what);
    /* one block: tensors, name index, metadata pointers, dims, strings */
    off_tab = ps.tensors * sizeof(bnbq_st_tensor);
    off_mk = off_tab + ps.tensors * sizeof(bnbq_st_tensor*);
    off_dims = off_mk + 2 * ps.meta * sizeof(char*);
    off_dims = (off_dims + sizeof(size_t) - 1) / sizeof(size_t) * sizeof(size_t);
    off_str = off_dims + ps.dims * sizeof(size_t);
    total = off_str + ps.chars + 1;
    block = (uint8_t*)bnbq_host_alloc(ex, total);
    BNBQ__REQUIRE(block, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    memset(block, 0, total);
    ps.fill = 1;
    ps.t = (bnbq_st_tensor*)(void*)block;
    ps.mkeys = (const char**)(void*)(block + off_mk);
    ps.mvals = ps.mkeys + ps.meta;
    ps.dimv = (size_t*)(void*)(block + off_dims);
    ps.str = (char*)(block + off_str);
    if (!bnbq__st_header((const char*)buf + 8, n, &ps)) {   /* cannot fail after the first pass */
        bnbq_host_free(ex, block);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, "header");
    }
    ts = ps.t;
    idx = (const bnbq_st_tensor**)(void*)(block + off_tab);
    r->buffer = buf;
    r->buffer_bytes = bytes;
    r->header_bytes = n;
    r->data_area = buf + 8 + n;
    r->data_bytes = bytes - 8 - n;
    /* each tensor: dtype x shape = its bytes, inside the data area (on a failure: log while
       the names are still there, then free) */
    res = BNBQ_SUCCESS;
    for (i = 0; i < ps.tensors && res == BNBQ_SUCCESS; i++) {
        size_t numel = 0, want = 0;   /* set by bnbq__st_sizes; initialised for -Wmaybe-uninitialized */
        const char* why = NULL;
        if (!bnbq__st_sizes(ts[i].dtype, ts[i].ndim, ts[i].shape, &numel, &want, &why))
            res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, "tensor '%s': %s",
                               ts[i].name, why);
        else if (want != ts[i].bytes)
            res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                               "tensor '%s': data_offsets span %lu bytes, dtype and shape need %lu",
                               ts[i].name, (unsigned long)ts[i].bytes, (unsigned long)want);
        else if (ts[i].offset > r->data_bytes || ts[i].bytes > r->data_bytes - ts[i].offset)
            res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                               "tensor '%s': data_offsets end past the %lu-byte data area",
                               ts[i].name, (unsigned long)r->data_bytes);
        ts[i].numel = numel;
        ts[i].data = r->data_area + ts[i].offset;
        if (ts[i].ndim == 0) ts[i].shape = NULL;
        idx[i] = ts + i;
    }
    /* the tensors tile the data area: no hole, no overlap, nothing after the last */
    if (res == BNBQ_SUCCESS && ps.tensors)
        qsort((void*)idx, ps.tensors, sizeof *idx, bnbq__st_cmp_offset);
    cursor = 0;
    for (i = 0; i < ps.tensors && res == BNBQ_SUCCESS; i++) {
        if (idx[i]->offset != cursor)
            res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                               "tensor '%s': its data %s the previous tensor's", idx[i]->name,
                               idx[i]->offset < cursor ? "overlaps" : "leaves a hole after");
        cursor += idx[i]->bytes;
    }
    if (res == BNBQ_SUCCESS && cursor != r->data_bytes)
        res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                           "the tensors cover %lu of the %lu bytes of the data area",
                           (unsigned long)cursor, (unsigned long)r->data_bytes);
    if (res == BNBQ_SUCCESS && ps.tensors) {
        qsort((void*)idx, ps.tensors, sizeof *idx, bnbq__st_cmp_name);
        for (i = 1; i < ps.tensors && res == BNBQ_SUCCESS; i++)
            if (strcmp(idx[i - 1]->name, idx[i]->name) == 0)
                res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                                   "tensor name '%s' appears twice", idx[i]->name);
    }
    if (res == BNBQ_SUCCESS && ps.meta > 1) {
        /* duplicate metadata keys, on a sorted copy of the key pointers */
        const char** tmp = (const char**)bnbq_host_alloc(ex, ps.meta * sizeof(char*));
        if (!tmp) {
            res = bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
        } else {
            memcpy((void*)tmp, (const void*)ps.mkeys, ps.meta * sizeof(char*));
            qsort((void*)tmp, ps.meta, sizeof(char*), bnbq__st_cmp_cstr);
            for (i = 1; i < ps.meta && res == BNBQ_SUCCESS; i++)
                if (strcmp(tmp[i - 1], tmp[i]) == 0)
                    res = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                                       "__metadata__ key '%s' appears twice", tmp[i]);
            bnbq_host_free(ex, (void*)tmp);
        }
    }
    if (res != BNBQ_SUCCESS) {
        bnbq_host_free(ex, block);
        memset(r, 0, sizeof *r);
        return res;
    }
    r->count = ps.tensors;
    r->tensors = ts;
    r->metadata_count = ps.meta;
    r->metadata_keys = ps.mkeys;
    r->metadata_values = ps.mvals;
    r->block = block;
    r->by_name = idx;
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_st_reader_uninit(bnbq_exec* ex, bnbq_st_reader* r) {
    if (!r) return;
    bnbq_host_free(ex, r->block);
    bnbq_host_free(ex, r->file_buffer);
    memset(r, 0, sizeof *r);
}

BNBQ_API const bnbq_st_tensor* bnbq_st_find(const bnbq_st_reader* r, const char* name) {
    size_t lo = 0, hi;
    if (!r || !name || !r->by_name) return NULL;
    hi = r->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->by_name[mid]->name, name);
        if (c == 0) return r->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

BNBQ_API const char* bnbq_st_find_metadata(const bnbq_st_reader* r, const char* key) {
    size_t i;
    if (!r || !key) return NULL;
    for (i = 0; i < r->metadata_count; i++)
        if (strcmp(r->metadata_keys[i], key) == 0) return r->metadata_values[i];
    return NULL;
}

#ifndef BNBQ_NO_STDIO
BNBQ_API bnbq_result bnbq_st_reader_init_file(bnbq_exec* ex, bnbq_st_reader* r,
                                              const char* path) {
    static const char* bnbq__func = "bnbq_st_reader_init_file";
    FILE* f;
    long sz;
    size_t got = 0, n;
    uint8_t* buf;
    bnbq_result res;
    BNBQ__REQUIRE(r, BNBQ_ERROR_NULL_POINTER, "reader is NULL");
    memset(r, 0, sizeof *r);
    BNBQ__REQUIRE(path, BNBQ_ERROR_NULL_POINTER, "path is NULL");
    f = fopen(path, "rb");
    if (!f) return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_IO, "cannot open '%s'", path);
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_IO, "cannot size '%s'", path);
    }
    n = (size_t)sz;
    buf = (uint8_t*)bnbq_host_alloc(ex, n ? n : 1);
    if (!buf) {
        fclose(f);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    }
    while (got < n) {
        size_t k = fread(buf + got, 1, n - got, f);
        if (k == 0) break;
        got += k;
    }
    if (got != n || ferror(f)) {
        fclose(f);
        bnbq_host_free(ex, buf);
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_IO, "cannot read '%s'", path);
    }
    fclose(f);
    res = bnbq_st_reader_init(ex, r, buf, n);
    if (res != BNBQ_SUCCESS) {
        bnbq_host_free(ex, buf);
        return res;
    }
    r->file_buffer = buf;
    return BNBQ_SUCCESS;
}
#endif

/* ---- writer ---- */
typedef struct bnbq__st_entry {
    char*         name;
    bnbq_st_dtype dtype;
    size_t        ndim;
    size_t*       shape;
    const void*   data;
    size_t        bytes;
    void*         mem;      /* name, shape and (owned) data, one allocation */
    void*         owned;    /* data handed over by the layer savers (freed with the entry) */
} bnbq__st_entry;
typedef struct bnbq__st_meta {
    char* key;
    char* value;
} bnbq__st_meta;

BNBQ_API bnbq_result bnbq_st_writer_init(bnbq_exec* ex, bnbq_st_writer* w) {
    static const char* bnbq__func = "bnbq_st_writer_init";
    BNBQ__REQUIRE(w, BNBQ_ERROR_NULL_POINTER, "writer is NULL");
    memset(w, 0, sizeof *w);
    return BNBQ_SUCCESS;
}

BNBQ_API void bnbq_st_writer_uninit(bnbq_exec* ex, bnbq_st_writer* w) {
    size_t i;
    if (!w) return;
    for (i = 0; i < w->count; i++) {
        bnbq__st_entry* e = (bnbq__st_entry*)w->entries + i;
        bnbq_host_free(ex, e->mem);
        bnbq_host_free(ex, e->owned);
    }
    for (i = 0; i < w->metadata_count; i++) {
        bnbq__st_meta* m = (bnbq__st_meta*)w->metadata + i;
        bnbq_host_free(ex, m->key);
    }
    bnbq_host_free(ex, w->entries);
    bnbq_host_free(ex, w->metadata);
    memset(w, 0, sizeof *w);
}

/* grows an array of elem-byte items to hold one more */
static int bnbq__st_grow(bnbq_exec* ex, void** arr, size_t* cap, size_t count, size_t elem) {
    size_t ncap;
    void* p;
    if (count < *cap) return 1;
    ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / elem) return 0;
    p = bnbq_host_alloc(ex, ncap * elem);
    if (!p) return 0;
    if (count) memcpy(p, *arr, count * elem);
    bnbq_host_free(ex, *arr);
    *arr = p;
    *cap = ncap;
    return 1;
}

/* mode 0: borrow data, 1: copy it, 2: take ownership of `data` (host memory from the exec's
   allocator; freed on failure too) */
static bnbq_result bnbq__st_add(bnbq_exec* ex, const char* bnbq__func, bnbq_st_writer* w,
                                const char* name, bnbq_st_dtype dtype, size_t ndim,
                                const size_t* shape, const void* data, int mode) {
    size_t numel = 0, bytes = 0, nl, memsz;
    const char* why = NULL;
    bnbq__st_entry* e;
    uint8_t* mem;
    void* owned = mode == 2 ? (void*)data : NULL;
    bnbq_result r = BNBQ_SUCCESS;
    if (!w || !name || (ndim && !shape)) r = BNBQ_ERROR_NULL_POINTER;
    else if (!bnbq__st_dtype_ok(dtype)) r = BNBQ_ERROR_BAD_DTYPE;
    if (r != BNBQ_SUCCESS) {
        bnbq_host_free(ex, owned);
        return bnbq__fail(ex, bnbq__func, r, r == BNBQ_ERROR_BAD_DTYPE ? "dtype is not a bnbq_st_dtype"
                                                                      : "writer, name or shape is NULL");
    }
    nl = strlen(name);
    if (strcmp(name, "__metadata__") == 0 || !bnbq__utf8_ok((const uint8_t*)name, nl)) {
        bnbq_host_free(ex, owned);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_INVALID_ARGS,
                          "a tensor name must be UTF-8 and not \"__metadata__\"");
    }
    if (!bnbq__st_sizes(dtype, ndim, shape, &numel, &bytes, &why)) {
        bnbq_host_free(ex, owned);
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_BAD_SHAPE, "tensor '%s': %s", name, why);
    }
    if (bytes && !data) {
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_NULL_POINTER, "tensor '%s': data is NULL",
                            name);
    }
    memsz = ndim * sizeof(size_t) + nl + 1;
    if (mode == 1) {
        if (bytes > SIZE_MAX - memsz - 16) {
            return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_OVERFLOW, "tensor '%s' is too large", name);
        }
        memsz = (memsz + 15) / 16 * 16 + bytes;
    }
    if (!bnbq__st_grow(ex, &w->entries, &w->cap, w->count, sizeof(bnbq__st_entry)) ||
        !(mem = (uint8_t*)bnbq_host_alloc(ex, memsz ? memsz : 1))) {
        bnbq_host_free(ex, owned);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    }
    e = (bnbq__st_entry*)w->entries + w->count;
    memset(e, 0, sizeof *e);
    e->mem = mem;
    e->shape = (size_t*)(void*)mem;
    if (ndim) memcpy(e->shape, shape, ndim * sizeof(size_t));
    e->name = (char*)mem + ndim * sizeof(size_t);
    memcpy(e->name, name, nl + 1);
    e->dtype = dtype;
    e->ndim = ndim;
    e->bytes = bytes;
    e->data = data;
    e->owned = owned;
    if (mode == 1) {
        uint8_t* d = mem + (ndim * sizeof(size_t) + nl + 1 + 15) / 16 * 16;
        if (bytes) memcpy(d, data, bytes);
        e->data = d;
    }
    w->count++;
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_st_writer_add(bnbq_exec* ex, bnbq_st_writer* w, const char* name,
                                        bnbq_st_dtype dtype, size_t ndim, const size_t* shape,
                                        const void* data) {
    return bnbq__st_add(ex, "bnbq_st_writer_add", w, name, dtype, ndim, shape, data, 0);
}
BNBQ_API bnbq_result bnbq_st_writer_add_copy(bnbq_exec* ex, bnbq_st_writer* w, const char* name,
                                             bnbq_st_dtype dtype, size_t ndim,
                                             const size_t* shape, const void* data) {
    return bnbq__st_add(ex, "bnbq_st_writer_add_copy", w, name, dtype, ndim, shape, data, 1);
}

/* drops the tensors added after the first `count` (a layer save that failed half way) */
static void bnbq__st_truncate(bnbq_exec* ex, bnbq_st_writer* w, size_t count) {
    while (w->count > count) {
        bnbq__st_entry* e = (bnbq__st_entry*)w->entries + --w->count;
        bnbq_host_free(ex, e->mem);
        bnbq_host_free(ex, e->owned);
    }
}

BNBQ_API bnbq_result bnbq_st_writer_set_metadata(bnbq_exec* ex, bnbq_st_writer* w,
                                                 const char* key, const char* value) {
    static const char* bnbq__func = "bnbq_st_writer_set_metadata";
    size_t kl, vl, i;
    char* mem;
    bnbq__st_meta* m;
    BNBQ__REQUIRE(w && key && value, BNBQ_ERROR_NULL_POINTER, "writer, key or value is NULL");
    kl = strlen(key);
    vl = strlen(value);
    BNBQ__REQUIRE(bnbq__utf8_ok((const uint8_t*)key, kl) && bnbq__utf8_ok((const uint8_t*)value, vl),
                  BNBQ_ERROR_INVALID_ARGS, "metadata must be UTF-8");
    BNBQ__REQUIRE(kl < SIZE_MAX / 2 - vl, BNBQ_ERROR_OVERFLOW, "metadata too large");
    mem = (char*)bnbq_host_alloc(ex, kl + vl + 2);
    BNBQ__REQUIRE(mem, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    memcpy(mem, key, kl + 1);
    memcpy(mem + kl + 1, value, vl + 1);
    for (i = 0; i < w->metadata_count; i++) {
        m = (bnbq__st_meta*)w->metadata + i;
        if (strcmp(m->key, key) == 0) {
            bnbq_host_free(ex, m->key);
            m->key = mem;
            m->value = mem + kl + 1;
            return BNBQ_SUCCESS;
        }
    }
    if (!bnbq__st_grow(ex, &w->metadata, &w->metadata_cap, w->metadata_count,
                       sizeof(bnbq__st_meta))) {
        bnbq_host_free(ex, mem);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    }
    m = (bnbq__st_meta*)w->metadata + w->metadata_count++;
    m->key = mem;
    m->value = mem + kl + 1;
    return BNBQ_SUCCESS;
}

/* JSON text of s as serde_json writes it; returns its length, writes it when o != NULL */
static size_t bnbq__st_emit_str(char* o, const char* s) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    const unsigned char* p;
#define BNBQ__PUT(c) do { if (o) o[n] = (char)(c); n++; } while (0)
    BNBQ__PUT('"');
    for (p = (const unsigned char*)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') { BNBQ__PUT('\\'); BNBQ__PUT(c); }
        else if (c == '\n') { BNBQ__PUT('\\'); BNBQ__PUT('n'); }
        else if (c == '\t') { BNBQ__PUT('\\'); BNBQ__PUT('t'); }
        else if (c == '\r') { BNBQ__PUT('\\'); BNBQ__PUT('r'); }
        else if (c == '\b') { BNBQ__PUT('\\'); BNBQ__PUT('b'); }
        else if (c == '\f') { BNBQ__PUT('\\'); BNBQ__PUT('f'); }
        else if (c < 0x20) {
            BNBQ__PUT('\\'); BNBQ__PUT('u'); BNBQ__PUT('0'); BNBQ__PUT('0');
            BNBQ__PUT(hex[c >> 4]); BNBQ__PUT(hex[c & 15]);
        } else BNBQ__PUT(c);
    }
    BNBQ__PUT('"');
    return n;
#undef BNBQ__PUT
}
static size_t bnbq__st_emit_raw(char* o, const char* s) {
    size_t n = strlen(s);
    if (o) memcpy(o, s, n);
    return n;
}
static size_t bnbq__st_emit_size(char* o, size_t v) {
    char b[24];
    size_t n = 0, k;
    do { b[n++] = (char)('0' + (int)(v % 10)); v /= 10; } while (v);
    if (o) for (k = 0; k < n; k++) o[k] = b[n - 1 - k];
    return n;
}

static int bnbq__st_cmp_entry(const void* a, const void* b) {
    const bnbq__st_entry* x = *(const bnbq__st_entry* const*)a;
    const bnbq__st_entry* y = *(const bnbq__st_entry* const*)b;
    if (x->dtype != y->dtype)
        return bnbq__st_rank[x->dtype] > bnbq__st_rank[y->dtype] ? -1 : 1;
    return strcmp(x->name, y->name);
}
static int bnbq__st_cmp_entry_name(const void* a, const void* b) {
    return strcmp((*(const bnbq__st_entry* const*)a)->name, (*(const bnbq__st_entry* const*)b)->name);
}
static int bnbq__st_cmp_meta(const void* a, const void* b) {
    return strcmp((*(const bnbq__st_meta* const*)a)->key, (*(const bnbq__st_meta* const*)b)->key);
}

/* The layout of a write: the order of the tensors and metadata, the header (built in host
   memory), the data bytes. */
typedef struct bnbq__st_plan {
    const bnbq__st_entry** order;
    const bnbq__st_meta**  mord;
    char*  header;          /* 8 length bytes + padded JSON */
    size_t header_bytes;    /* 8 + N */
    size_t total;
} bnbq__st_plan;

static void bnbq__st_plan_free(bnbq_exec* ex, bnbq__st_plan* p) {
    bnbq_host_free(ex, (void*)p->order);
    bnbq_host_free(ex, (void*)p->mord);
    bnbq_host_free(ex, p->header);
    memset(p, 0, sizeof *p);
}

/* emits the JSON header (o NULL: measure) */
static size_t bnbq__st_emit_header(char* o, const bnbq_st_writer* w, const bnbq__st_plan* p) {
    size_t n = 0, i, k, off = 0;
#define BNBQ__AT (o ? o + n : NULL)
    n += bnbq__st_emit_raw(BNBQ__AT, "{");
    if (w->metadata_count) {
        n += bnbq__st_emit_raw(BNBQ__AT, "\"__metadata__\":{");
        for (i = 0; i < w->metadata_count; i++) {
            if (i) n += bnbq__st_emit_raw(BNBQ__AT, ",");
            n += bnbq__st_emit_str(BNBQ__AT, p->mord[i]->key);
            n += bnbq__st_emit_raw(BNBQ__AT, ":");
            n += bnbq__st_emit_str(BNBQ__AT, p->mord[i]->value);
        }
        n += bnbq__st_emit_raw(BNBQ__AT, "}");
        if (w->count) n += bnbq__st_emit_raw(BNBQ__AT, ",");
    }
    for (i = 0; i < w->count; i++) {
        const bnbq__st_entry* e = p->order[i];
        if (i) n += bnbq__st_emit_raw(BNBQ__AT, ",");
        n += bnbq__st_emit_str(BNBQ__AT, e->name);
        n += bnbq__st_emit_raw(BNBQ__AT, ":{\"dtype\":\"");
        n += bnbq__st_emit_raw(BNBQ__AT, bnbq__st_names[e->dtype]);
        n += bnbq__st_emit_raw(BNBQ__AT, "\",\"shape\":[");
        for (k = 0; k < e->ndim; k++) {
            if (k) n += bnbq__st_emit_raw(BNBQ__AT, ",");
            n += bnbq__st_emit_size(BNBQ__AT, e->shape[k]);
        }
        n += bnbq__st_emit_raw(BNBQ__AT, "],\"data_offsets\":[");
        n += bnbq__st_emit_size(BNBQ__AT, off);
        n += bnbq__st_emit_raw(BNBQ__AT, ",");
        off += e->bytes;
        n += bnbq__st_emit_size(BNBQ__AT, off);
        n += bnbq__st_emit_raw(BNBQ__AT, "]}");
    }
    n += bnbq__st_emit_raw(BNBQ__AT, "}");
#undef BNBQ__AT
    return n;
}

static bnbq_result bnbq__st_plan_make(bnbq_exec* ex, const char* bnbq__func,
                                      const bnbq_st_writer* w, int build_header,
                                      bnbq__st_plan* p) {
    size_t i, data = 0, json, padded;
    memset(p, 0, sizeof *p);
    BNBQ__REQUIRE(w, BNBQ_ERROR_NULL_POINTER, "writer is NULL");
    p->order = (const bnbq__st_entry**)bnbq_host_alloc(ex, (w->count + 1) * sizeof(void*));
    p->mord = (const bnbq__st_meta**)bnbq_host_alloc(ex, (w->metadata_count + 1) * sizeof(void*));
    if (!p->order || !p->mord) {
        bnbq__st_plan_free(ex, p);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    }
    for (i = 0; i < w->count; i++) p->order[i] = (const bnbq__st_entry*)w->entries + i;
    for (i = 0; i < w->metadata_count; i++) p->mord[i] = (const bnbq__st_meta*)w->metadata + i;
    if (w->count) qsort((void*)p->order, w->count, sizeof(void*), bnbq__st_cmp_entry);
    if (w->metadata_count) qsort((void*)p->mord, w->metadata_count, sizeof(void*), bnbq__st_cmp_meta);
    for (i = 0; i < w->count; i++) {
        if (p->order[i]->bytes > SIZE_MAX - data) {
            bnbq__st_plan_free(ex, p);
            return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OVERFLOW, "the data size overflows");
        }
        data += p->order[i]->bytes;
    }
    if (w->count > 1) {
        /* duplicate names: sorted by name alone they are neighbours */
        const bnbq__st_entry** byname =
            (const bnbq__st_entry**)bnbq_host_alloc(ex, w->count * sizeof(void*));
        const char* dup = NULL;
        if (!byname) {
            bnbq__st_plan_free(ex, p);
            return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
        }
        memcpy((void*)byname, (const void*)p->order, w->count * sizeof(void*));
        qsort((void*)byname, w->count, sizeof(void*), bnbq__st_cmp_entry_name);
        for (i = 1; i < w->count && !dup; i++)
            if (strcmp(byname[i - 1]->name, byname[i]->name) == 0) dup = byname[i]->name;
        bnbq_host_free(ex, (void*)byname);
        if (dup) {
            bnbq_result r = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_INVALID_ARGS,
                                         "tensor name '%s' was added twice", dup);
            bnbq__st_plan_free(ex, p);
            return r;
        }
    }
    json = bnbq__st_emit_header(NULL, w, p);
    padded = (json + 7) / 8 * 8;
    if (padded > SIZE_MAX - 8 - data) {
        bnbq__st_plan_free(ex, p);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OVERFLOW, "the file size overflows");
    }
    p->header_bytes = 8 + padded;
    p->total = 8 + padded + data;
    if (build_header) {
        p->header = (char*)bnbq_host_alloc(ex, p->header_bytes);
        if (!p->header) {
            bnbq__st_plan_free(ex, p);
            return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
        }
        for (i = 0; i < 8; i++) p->header[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xff);
        bnbq__st_emit_header(p->header + 8, w, p);
        memset(p->header + 8 + json, ' ', padded - json);
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_st_writer_size(bnbq_exec* ex, const bnbq_st_writer* w,
                                         size_t* out_bytes) {
    static const char* bnbq__func = "bnbq_st_writer_size";
    bnbq__st_plan p;
    BNBQ__REQUIRE(out_bytes, BNBQ_ERROR_NULL_POINTER, "out_bytes is NULL");
    BNBQ__TRY(bnbq__st_plan_make(ex, bnbq__func, w, 0, &p));
    *out_bytes = p.total;
    bnbq__st_plan_free(ex, &p);
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_st_writer_write(bnbq_exec* ex, const bnbq_st_writer* w, void* out,
                                          size_t capacity, size_t* out_bytes) {
    static const char* bnbq__func = "bnbq_st_writer_write";
    bnbq__st_plan p;
    size_t i, o;
    BNBQ__REQUIRE(out && out_bytes, BNBQ_ERROR_NULL_POINTER, "out or out_bytes is NULL");
    BNBQ__TRY(bnbq__st_plan_make(ex, bnbq__func, w, 1, &p));
    if (p.total > capacity) {
        bnbq_result r = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_INVALID_ARGS,
                                     "capacity %lu is less than the %lu bytes of the file",
                                     (unsigned long)capacity, (unsigned long)p.total);
        bnbq__st_plan_free(ex, &p);
        return r;
    }
    memcpy(out, p.header, p.header_bytes);
    o = p.header_bytes;
    for (i = 0; i < w->count; i++) {
        if (p.order[i]->bytes) memcpy((uint8_t*)out + o, p.order[i]->data, p.order[i]->bytes);
        o += p.order[i]->bytes;
    }
    *out_bytes = p.total;
    bnbq__st_plan_free(ex, &p);
    return BNBQ_SUCCESS;
}

#ifndef BNBQ_NO_STDIO
BNBQ_API bnbq_result bnbq_st_writer_write_file(bnbq_exec* ex, const bnbq_st_writer* w,
                                               const char* path) {
    static const char* bnbq__func = "bnbq_st_writer_write_file";
    bnbq__st_plan p;
    size_t pl, i;
    char* tmp;
    FILE* f = NULL;
    int ok, attempt;
    uint64_t h;
    BNBQ__REQUIRE(path, BNBQ_ERROR_NULL_POINTER, "path is NULL");
    BNBQ__TRY(bnbq__st_plan_make(ex, bnbq__func, w, 1, &p));
    pl = strlen(path);
    tmp = (char*)bnbq_host_alloc(ex, pl + 32);
    if (!tmp) {
        bnbq__st_plan_free(ex, &p);
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    }
    /* a temporary name unlikely to be in use: a hash of this call's addresses and the time */
    h = (uint64_t)(uintptr_t)w * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&p ^
        ((uint64_t)time(NULL) << 20) ^ (uint64_t)clock();
    for (attempt = 0; attempt < 16; attempt++) {
        FILE* probe;
        static const char hx[] = "0123456789abcdef";
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull + (uint64_t)attempt;
        memcpy(tmp, path, pl);
        memcpy(tmp + pl, ".tmp-", 5);
        for (i = 0; i < 16; i++) tmp[pl + 5 + i] = hx[(h >> (4 * i)) & 15];
        tmp[pl + 21] = 0;
        probe = fopen(tmp, "rb");
        if (!probe) break;
        fclose(probe);
    }
    f = fopen(tmp, "wb");
    if (!f) {
        bnbq_result r = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_IO,
                                     "cannot create the temporary file '%s'", tmp);
        bnbq_host_free(ex, tmp);
        bnbq__st_plan_free(ex, &p);
        return r;
    }
    ok = fwrite(p.header, 1, p.header_bytes, f) == p.header_bytes;
    for (i = 0; ok && i < w->count; i++)
        if (p.order[i]->bytes)
            ok = fwrite(p.order[i]->data, 1, p.order[i]->bytes, f) == p.order[i]->bytes;
    if (fflush(f) != 0) ok = 0;
    if (fclose(f) != 0) ok = 0;
#if defined(_WIN32)
    if (ok) remove(path);
#endif
    if (ok && rename(tmp, path) != 0) ok = 0;
    bnbq__st_plan_free(ex, &p);
    if (!ok) {
        bnbq_result r;
        remove(tmp);
        r = bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_IO, "cannot write '%s' (through '%s')", path,
                         tmp);
        bnbq_host_free(ex, tmp);
        return r;
    }
    bnbq_host_free(ex, tmp);
    return BNBQ_SUCCESS;
}
#endif

/* ---- layer state dicts ---- */
#define BNBQ__ST_KEY_MAX 1024

/* "prefix.suffix" (or suffix alone for an empty prefix) into key; 0 when too long */
static int bnbq__st_key(char* key, const char* prefix, const char* suffix) {
    size_t pl = prefix ? strlen(prefix) : 0, sl = strlen(suffix);
    if (pl + sl + 2 > BNBQ__ST_KEY_MAX) return 0;
    if (pl) {
        memcpy(key, prefix, pl);
        key[pl++] = '.';
    }
    memcpy(key + pl, suffix, sl + 1);
    return 1;
}

/* copies bytes of exec memory into a new host buffer and adds it (the writer owns it) */
static bnbq_result bnbq__st_add_exec(bnbq_exec* ex, const char* bnbq__func, bnbq_st_writer* w,
                                     const char* key, bnbq_st_dtype dt, size_t ndim,
                                     const size_t* shape, const void* src, size_t src_bytes,
                                     size_t bytes) {
    uint8_t* h = (uint8_t*)bnbq_host_alloc(ex, bytes ? bytes : 1);
    bnbq_result r;
    BNBQ__REQUIRE(h, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    if (bytes > src_bytes) memset(h + src_bytes, 0, bytes - src_bytes);
    r = src_bytes ? bnbq_copy(ex, h, src, src_bytes, BNBQ_COPY_EXEC_TO_HOST) : BNBQ_SUCCESS;
    if (r != BNBQ_SUCCESS) {
        bnbq_host_free(ex, h);
        return r;
    }
    return bnbq__st_add(ex, bnbq__func, w, key, dt, ndim, shape, h, 2);
}

static const char* bnbq__st_torch_dtype(bnbq_dtype dt) {
    return dt == BNBQ_F16 ? "float16" : dt == BNBQ_BF16 ? "bfloat16" : "float32";
}

/* the quant state JSON of a quantized 4-bit layer, as json.dumps writes it; returns length */
static size_t bnbq__st_qs_json(const bnbq_linear* L, char* out /* (400,) */) {
    char off[40];
    int n;
    n = sprintf(out, "{\"quant_type\": \"%s\", \"blocksize\": %d, \"dtype\": \"%s\", \"shape\": [%lu, %lu]",
                L->quant_type == BNBQ_NF4 ? "nf4" : "fp4", L->blocksize,
                bnbq__st_torch_dtype(L->quant_dtype), (unsigned long)L->desc.out_features,
                (unsigned long)L->desc.in_features);
    if (L->nested) {
        bnbq_format_double_repr((double)L->nested_offset, off);
        n += sprintf(out + n, ", \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", "
                              "\"nested_offset\": %s", off);
    }
    out[n++] = '}';
    out[n] = 0;
    return (size_t)n;
}

static bnbq_result bnbq__st_add_bias(bnbq_exec* ex, const char* bnbq__func, const bnbq_linear* L,
                                     const char* prefix, bnbq_st_writer* w) {
    char key[BNBQ__ST_KEY_MAX];
    size_t N = L->desc.out_features;
    bnbq_st_dtype sdt;
    if (!L->bias) return BNBQ_SUCCESS;
    bnbq__st_key(key, prefix, "bias");
    BNBQ__TRY(bnbq_st_dtype_from(L->bias_dtype, &sdt));
    return bnbq__st_add_exec(ex, bnbq__func, w, key, sdt, 1, &N, L->bias,
                             N * bnbq_dtype_size(L->bias_dtype), N * bnbq_dtype_size(L->bias_dtype));
}

static bnbq_result bnbq__st_linear_save(bnbq_exec* ex, const char* bnbq__func, const bnbq_linear* L,
                                        const char* prefix, bnbq_st_dtype quant_storage,
                                        bnbq_st_writer* w);
BNBQ_API bnbq_result bnbq_linear_save(bnbq_exec* ex, const bnbq_linear* L, const char* prefix,
                                      bnbq_st_dtype quant_storage, bnbq_st_writer* w) {
    size_t before = w ? w->count : 0;
    bnbq_result r = bnbq__st_linear_save(ex, "bnbq_linear_save", L, prefix, quant_storage, w);
    if (r != BNBQ_SUCCESS && w) bnbq__st_truncate(ex, w, before);
    return r;
}
static bnbq_result bnbq__st_linear_save(bnbq_exec* ex, const char* bnbq__func, const bnbq_linear* L,
                                        const char* prefix, bnbq_st_dtype quant_storage,
                                        bnbq_st_writer* w) {
    char key[BNBQ__ST_KEY_MAX];
    size_t N, K, n, shp[2];
    bnbq_linear_kind k;
    BNBQ__REQUIRE(L && w, BNBQ_ERROR_NULL_POINTER, "layer or writer is NULL");
    BNBQ__REQUIRE(L->impl, BNBQ_ERROR_INVALID_ARGS, "the layer is not initialised");
    BNBQ__REQUIRE(quant_storage == BNBQ_ST_U8 || quant_storage == BNBQ_ST_F16 ||
                  quant_storage == BNBQ_ST_BF16 || quant_storage == BNBQ_ST_F32,
                  BNBQ_ERROR_BAD_DTYPE, "quant_storage must be U8, F16, BF16 or F32");
    BNBQ__REQUIRE(bnbq__st_key(key, prefix, "weight.quant_state.bitsandbytes__nf4"),
                  BNBQ_ERROR_INVALID_ARGS, "prefix is too long");
    k = L->desc.kind;
    N = L->desc.out_features;
    K = L->desc.in_features;
    n = N * K;
    shp[0] = N;
    shp[1] = K;
    if (bnbq__lin_is4(k) && L->quantized) {
        size_t pb = (n + 1) / 2, item = (size_t)bnbq_st_dtype_bits(quant_storage) / 8;
        size_t elems = (pb + item - 1) / item, one = 1;
        size_t nb = (n + (size_t)L->blocksize - 1) / (size_t)L->blocksize, nn = (nb + 255) / 256;
        size_t s16 = 16, s256 = 256, jl;
        char js[400];
        size_t wshape[2];
        uint8_t* blob;
        wshape[0] = elems;
        wshape[1] = one;
        bnbq__st_key(key, prefix, "weight");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, quant_storage, 2, wshape, L->packed,
                                    pb, elems * item));
        BNBQ__TRY(bnbq__st_add_bias(ex, bnbq__func, L, prefix, w));
        bnbq__st_key(key, prefix, "weight.absmax");
        if (L->nested) {
            BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_U8, 1, &nb, L->absmax_q,
                                        nb, nb));
            bnbq__st_key(key, prefix, "weight.nested_absmax");
            BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, &nn,
                                        L->nested_absmax, nn * 4, nn * 4));
            bnbq__st_key(key, prefix, "weight.nested_quant_map");
            BNBQ__TRY(bnbq__st_add(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, &s256,
                                   bnbq_code_dynamic(1), 0));
        } else {
            BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, &nb, L->absmax,
                                        nb * 4, nb * 4));
        }
        bnbq__st_key(key, prefix, "weight.quant_map");
        BNBQ__TRY(bnbq__st_add(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, &s16,
                               bnbq_code_4bit(L->quant_type), 0));
        jl = bnbq__st_qs_json(L, js);
        bnbq__st_key(key, prefix, L->quant_type == BNBQ_NF4 ? "weight.quant_state.bitsandbytes__nf4"
                                                            : "weight.quant_state.bitsandbytes__fp4");
        blob = (uint8_t*)bnbq_host_alloc(ex, jl);
        BNBQ__REQUIRE(blob, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
        memcpy(blob, js, jl);
        return bnbq__st_add(ex, bnbq__func, w, key, BNBQ_ST_U8, 1, &jl, blob, 2);
    }
    if (bnbq__lin_isi8(k) && L->desc.int8_weights && L->quantized) {
        uint8_t* fmt;
        bnbq__st_key(key, prefix, "weight");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_I8, 2, shp, L->CB, n, n));
        BNBQ__TRY(bnbq__st_add_bias(ex, bnbq__func, L, prefix, w));
        bnbq__st_key(key, prefix, "SCB");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, &N, L->SCB, N * 4,
                                    N * 4));
        fmt = (uint8_t*)bnbq_host_alloc(ex, 1);
        BNBQ__REQUIRE(fmt, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
        fmt[0] = 0;
        bnbq__st_key(key, prefix, "weight_format");
        return bnbq__st_add(ex, bnbq__func, w, key, BNBQ_ST_U8, 0, NULL, fmt, 2);
    }
    if (bnbq__lin_issb(k) && L->prepared_for_eval) {
        size_t ns = k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE ? N : 1;
        bnbq__st_key(key, prefix, "W_int8");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_I8, 2, shp, L->W_int8, n, n));
        bnbq__st_key(key, prefix, "state_W");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_F16, 1, &ns, L->state_W,
                                    ns * 2, ns * 2));
        return bnbq__st_add_bias(ex, bnbq__func, L, prefix, w);
    }
    {
        bnbq_st_dtype sdt;
        size_t es = bnbq_dtype_size(L->desc.weight_dtype);
        BNBQ__REQUIRE(L->weight, BNBQ_ERROR_INVALID_ARGS, "the layer holds no weight to save");
        BNBQ__TRY(bnbq_st_dtype_from(L->desc.weight_dtype, &sdt));
        bnbq__st_key(key, prefix, "weight");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, sdt, 2, shp, L->weight, n * es, n * es));
        return bnbq__st_add_bias(ex, bnbq__func, L, prefix, w);
    }
}

/* ---- loading ---- */

/* element i of a float tensor of any float dtype (the data may be unaligned) */
static float bnbq__st_getf(bnbq_st_dtype dt, const void* p, size_t i) {
    const uint8_t* b = (const uint8_t*)p;
    if (dt == BNBQ_ST_F32) {
        float v;
        memcpy(&v, b + 4 * i, 4);
        return v;
    } else {
        uint16_t h;
        memcpy(&h, b + 2 * i, 2);
        return dt == BNBQ_ST_F16 ? bnbq_f16_to_f32(h) : bnbq_bf16_to_f32(h);
    }
}
static int bnbq__st_is_float(bnbq_st_dtype dt) {
    return dt == BNBQ_ST_F32 || dt == BNBQ_ST_F16 || dt == BNBQ_ST_BF16;
}

/* t (numel elements of a float dtype) into exec memory dst of dtype ddt, converting on the host
   when the dtypes differ (torch's copy_) */
static bnbq_result bnbq__st_put_float(bnbq_exec* ex, const bnbq_st_tensor* t, bnbq_dtype ddt,
                                      void* dst) {
    size_t es = bnbq_dtype_size(ddt), i;
    bnbq_dtype sdt;
    void* h;
    bnbq_result r;
    if (bnbq_st_dtype_to(t->dtype, &sdt) == BNBQ_SUCCESS && sdt == ddt)
        return bnbq_copy(ex, dst, t->data, t->numel * es, BNBQ_COPY_HOST_TO_EXEC);
    h = bnbq_host_alloc(ex, t->numel * es + 1);
    if (!h) return BNBQ_ERROR_OUT_OF_MEMORY;
    for (i = 0; i < t->numel; i++) bnbq__store(ddt, h, i, bnbq__st_getf(t->dtype, t->data, i));
    r = bnbq_copy(ex, dst, h, t->numel * es, BNBQ_COPY_HOST_TO_EXEC);
    bnbq_host_free(ex, h);
    return r;
}
/* t converted to ddt in a new host buffer (or t's own bytes when the dtype matches: *owned 0) */
static void* bnbq__st_host_as(bnbq_exec* ex, const bnbq_st_tensor* t, bnbq_dtype ddt, int* owned) {
    size_t es = bnbq_dtype_size(ddt), i;
    bnbq_dtype sdt;
    void* h;
    *owned = 0;
    if (bnbq_st_dtype_to(t->dtype, &sdt) == BNBQ_SUCCESS && sdt == ddt) return (void*)t->data;
    h = bnbq_host_alloc(ex, t->numel * es + 1);
    if (!h) return NULL;
    for (i = 0; i < t->numel; i++) bnbq__store(ddt, h, i, bnbq__st_getf(t->dtype, t->data, i));
    *owned = 1;
    return h;
}

/* is t exactly (dims...) ? */
static int bnbq__st_shape_is(const bnbq_st_tensor* t, size_t ndim, size_t d0, size_t d1) {
    if (t->ndim != ndim) return 0;
    if (ndim >= 1 && t->shape[0] != d0) return 0;
    if (ndim >= 2 && t->shape[1] != d1) return 0;
    return 1;
}
static void bnbq__st_shape_text(const bnbq_st_tensor* t, char* out /* (64,) */) {
    size_t i, o = 0;
    out[o++] = '[';
    for (i = 0; i < t->ndim && o < 40; i++)
        o += (size_t)sprintf(out + o, "%s%lu", i ? ", " : "", (unsigned long)t->shape[i]);
    if (i < t->ndim) o += (size_t)sprintf(out + o, ", ...");
    out[o++] = ']';
    out[o] = 0;
}

/* finds "prefix.suffix": required (missing: CORRUPT_FILE), of one of the dtypes in the mask
   (bit per bnbq_st_dtype; else BAD_DTYPE) */
static bnbq_result bnbq__st_need(bnbq_exec* ex, const char* bnbq__func, const bnbq_st_reader* rd,
                                 const char* prefix, const char* suffix, unsigned long dtypes,
                                 const bnbq_st_tensor** out) {
    char key[BNBQ__ST_KEY_MAX];
    const bnbq_st_tensor* t;
    bnbq__st_key(key, prefix, suffix);
    t = bnbq_st_find(rd, key);
    if (!t) return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, "missing key '%s'", key);
    if (!(dtypes & (1ul << t->dtype)))
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_BAD_DTYPE, "'%s' has dtype %s", key,
                            bnbq__st_names[t->dtype]);
    *out = t;
    return BNBQ_SUCCESS;
}
static const bnbq_st_tensor* bnbq__st_opt(const bnbq_st_reader* rd, const char* prefix,
                                          const char* suffix) {
    char key[BNBQ__ST_KEY_MAX];
    bnbq__st_key(key, prefix, suffix);
    return bnbq_st_find(rd, key);
}
static bnbq_result bnbq__st_bad_shape(bnbq_exec* ex, const char* bnbq__func, const char* prefix,
                                      const char* suffix, const bnbq_st_tensor* t,
                                      const char* want) {
    char key[BNBQ__ST_KEY_MAX], got[64];
    bnbq__st_key(key, prefix, suffix);
    bnbq__st_shape_text(t, got);
    return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_BAD_SHAPE, "'%s' has shape %s, the layer needs %s",
                        key, got, want);
}

/* bnbq__st_need, then the shape must be [d0] (ndim 1) or [d0, d1] (ndim 2): BAD_SHAPE */
static bnbq_result bnbq__st_need_shaped(bnbq_exec* ex, const char* bnbq__func,
                                        const bnbq_st_reader* rd, const char* prefix,
                                        const char* suffix, unsigned long dtypes, size_t ndim,
                                        size_t d0, size_t d1, const bnbq_st_tensor** out) {
    char want[64];
    BNBQ__TRY(bnbq__st_need(ex, bnbq__func, rd, prefix, suffix, dtypes, out));
    if (bnbq__st_shape_is(*out, ndim, d0, d1)) return BNBQ_SUCCESS;
    if (ndim == 2) sprintf(want, "[%lu, %lu]", (unsigned long)d0, (unsigned long)d1);
    else sprintf(want, "[%lu]", (unsigned long)d0);
    return bnbq__st_bad_shape(ex, bnbq__func, prefix, suffix, *out, want);
}

#define BNBQ__ST_FLOATS ((1ul << BNBQ_ST_F32) | (1ul << BNBQ_ST_F16) | (1ul << BNBQ_ST_BF16))
#define BNBQ__ST_INTS ((1ul << BNBQ_ST_U8) | (1ul << BNBQ_ST_I8) | (1ul << BNBQ_ST_I16) | \
                       (1ul << BNBQ_ST_U16) | (1ul << BNBQ_ST_I32) | (1ul << BNBQ_ST_U32) | \
                       (1ul << BNBQ_ST_I64) | (1ul << BNBQ_ST_U64))

/* the bias: present in the file exactly when the layer has one; (N,) float */
static bnbq_result bnbq__st_check_bias(bnbq_exec* ex, const char* bnbq__func,
                                       const bnbq_st_reader* rd, const char* prefix, int has_bias,
                                       size_t N, const bnbq_st_tensor** out) {
    const bnbq_st_tensor* t = bnbq__st_opt(rd, prefix, "bias");
    *out = NULL;
    if (!has_bias) {
        if (!t) return BNBQ_SUCCESS;
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                          "the checkpoint has a bias and the layer has none (unexpected key)");
    }
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "bias", BNBQ__ST_FLOATS, 1, N, 0,
                                   &t));
    *out = t;
    return BNBQ_SUCCESS;
}

/* an integer tensor of one element as int64 (0 when it is not one) */
static int bnbq__st_int1(const bnbq_st_tensor* t, int64_t* v) {
    const uint8_t* b = (const uint8_t*)t->data;
    if (t->numel != 1 || !(BNBQ__ST_INTS & (1ul << t->dtype))) return 0;
    switch (t->dtype) {
        case BNBQ_ST_U8: *v = b[0]; break;
        case BNBQ_ST_I8: *v = (int8_t)b[0]; break;
        case BNBQ_ST_I16: { int16_t x; memcpy(&x, b, 2); *v = x; break; }
        case BNBQ_ST_U16: { uint16_t x; memcpy(&x, b, 2); *v = x; break; }
        case BNBQ_ST_I32: { int32_t x; memcpy(&x, b, 4); *v = x; break; }
        case BNBQ_ST_U32: { uint32_t x; memcpy(&x, b, 4); *v = x; break; }
        case BNBQ_ST_I64: { int64_t x; memcpy(&x, b, 8); *v = x; break; }
        default: { uint64_t x; memcpy(&x, b, 8); if (x > (uint64_t)INT64_MAX) return 0; *v = (int64_t)x; break; }
    }
    return 1;
}

/* the fields of a 4-bit quant state (QuantState.as_dict(packed=True)'s JSON) */
typedef struct bnbq__st_qs {
    int        qt;                 /* -1 missing                                         */
    size_t     blocksize;          /* 0 missing                                          */
    int        dtype;              /* -1 missing, -2 a dtype bnbq cannot dequantize to   */
    size_t     ndim, shape[2];     /* ndim (0 missing) and the first two extents         */
    int        has_shape;
    size_t     nested_blocksize;
    int        has_nbs, has_ndt, has_noff;
    int        nested_f32;         /* nested_dtype is "float32"                          */
    double     nested_offset;
} bnbq__st_qs;

static int bnbq__st_qs_qt(const char* s, size_t n) {
    if (n == 3 && memcmp(s, "nf4", 3) == 0) return BNBQ_NF4;
    if (n == 3 && memcmp(s, "fp4", 3) == 0) return BNBQ_FP4;
    return -1;
}
static int bnbq__st_qs_dt(const char* s, size_t n) {
    if (n == 7 && memcmp(s, "float16", 7) == 0) return BNBQ_F16;
    if (n == 8 && memcmp(s, "bfloat16", 8) == 0) return BNBQ_BF16;
    if (n == 7 && memcmp(s, "float32", 7) == 0) return BNBQ_F32;
    return -2;
}

/* parses the JSON blob (any key order, any whitespace, unknown keys skipped) */
static int bnbq__st_qs_parse(const char* s, size_t n, bnbq__st_qs* q, const char** why) {
    bnbq__js j;
    int seen[7];
    memset(seen, 0, sizeof seen);
    j.p = s;
    j.e = s + n;
    *why = "the quant state is not a JSON object";
    if (!bnbq__utf8_ok((const uint8_t*)s, n) || !bnbq__js_eat(&j, '{')) return 0;
    if (!bnbq__js_eat(&j, '}')) {
        for (;;) {
            char key[24], val[24];
            size_t kl, vl;
            int which = -1;
            *why = "malformed quant state JSON";
            if (!bnbq__js_str(&j, key, sizeof key - 1, &kl) || !bnbq__js_eat(&j, ':')) return 0;
            if (kl < sizeof key) {
                static const char* const names[7] = {"quant_type", "blocksize", "dtype", "shape",
                                                     "nested_blocksize", "nested_dtype",
                                                     "nested_offset"};
                int i;
                for (i = 0; i < 7; i++) if (strcmp(key, names[i]) == 0) which = i;
            }
            if (which >= 0 && seen[which]++) { *why = "a quant state key appears twice"; return 0; }
            switch (which) {
                case 0:
                    if (!bnbq__js_str(&j, val, sizeof val - 1, &vl)) { *why = "quant_type is not a string"; return 0; }
                    q->qt = vl < sizeof val ? bnbq__st_qs_qt(val, vl) : -1;
                    if (q->qt < 0) { *why = "quant_type is neither \"nf4\" nor \"fp4\""; return 0; }
                    break;
                case 1:
                    if (!bnbq__js_size(&j, &q->blocksize)) { *why = "blocksize is not an integer"; return 0; }
                    break;
                case 2:
                    if (!bnbq__js_str(&j, val, sizeof val - 1, &vl)) { *why = "dtype is not a string"; return 0; }
                    q->dtype = vl < sizeof val ? bnbq__st_qs_dt(val, vl) : -2;
                    break;
                case 3:
                    q->has_shape = 1;
                    if (!bnbq__js_eat(&j, '[')) { *why = "shape is not an array"; return 0; }
                    if (!bnbq__js_eat(&j, ']')) {
                        for (;;) {
                            size_t v;
                            if (!bnbq__js_size(&j, &v)) { *why = "a shape entry is not an integer"; return 0; }
                            if (q->ndim < 2) q->shape[q->ndim] = v;
                            q->ndim++;
                            if (bnbq__js_eat(&j, ',')) continue;
                            if (bnbq__js_eat(&j, ']')) break;
                            *why = "malformed shape";
                            return 0;
                        }
                    }
                    break;
                case 4:
                    q->has_nbs = 1;
                    if (!bnbq__js_size(&j, &q->nested_blocksize)) { *why = "nested_blocksize is not an integer"; return 0; }
                    break;
                case 5:
                    q->has_ndt = 1;
                    if (!bnbq__js_str(&j, val, sizeof val - 1, &vl)) { *why = "nested_dtype is not a string"; return 0; }
                    q->nested_f32 = vl == 7 && memcmp(val, "float32", 7) == 0;
                    break;
                case 6:
                    q->has_noff = 1;
                    if (!bnbq__js_double(&j, &q->nested_offset)) { *why = "nested_offset is not a number"; return 0; }
                    break;
                default:
                    if (!bnbq__js_skip(&j, 0)) return 0;
                    break;
            }
            if (bnbq__js_eat(&j, ',')) continue;
            if (bnbq__js_eat(&j, '}')) break;
            *why = "malformed quant state JSON";
            return 0;
        }
    }
    bnbq__js_ws(&j);
    if (j.p != j.e) { *why = "text after the quant state JSON"; return 0; }
    return 1;
}

/* a number from an unpacked quant-state tensor: an integer or float tensor of one element, or
   U8 text */
static int bnbq__st_qs_num(const bnbq_st_tensor* t, double* v) {
    int64_t iv;
    if (bnbq__st_int1(t, &iv) && !(t->dtype == BNBQ_ST_U8 && t->ndim > 0 && t->numel != 1)) {
        *v = (double)iv;
        return 1;
    }
    if (t->numel == 1 && bnbq__st_is_float(t->dtype)) { *v = bnbq__st_getf(t->dtype, t->data, 0); return 1; }
    if (t->numel == 1 && t->dtype == BNBQ_ST_F64) { memcpy(v, t->data, 8); return 1; }
    if (t->dtype == BNBQ_ST_U8) {
        bnbq__js j;
        j.p = (const char*)t->data;
        j.e = j.p + t->numel;
        if (!bnbq__js_double(&j, v)) return 0;
        bnbq__js_ws(&j);
        return j.p == j.e;
    }
    return 0;
}
/* the older unpacked form: .weight.quant_type etc. as tensors of their own */
static int bnbq__st_qs_unpacked(const bnbq_st_reader* rd, const char* prefix, bnbq__st_qs* q,
                                const char** why) {
    const bnbq_st_tensor* t;
    double v;
    *why = "a 4-bit quant state field has the wrong type";
    if ((t = bnbq__st_opt(rd, prefix, "weight.quant_type")) != NULL) {
        if (t->dtype != BNBQ_ST_U8) return 0;
        q->qt = bnbq__st_qs_qt((const char*)t->data, t->numel);
        if (q->qt < 0) { *why = "quant_type is neither \"nf4\" nor \"fp4\""; return 0; }
    }
    if ((t = bnbq__st_opt(rd, prefix, "weight.blocksize")) != NULL) {
        if (!bnbq__st_qs_num(t, &v) || !(v >= 1.0 && v <= 1073741824.0) || v != floor(v)) return 0;
        q->blocksize = (size_t)v;
    }
    if ((t = bnbq__st_opt(rd, prefix, "weight.dtype")) != NULL) {
        if (t->dtype != BNBQ_ST_U8) return 0;
        q->dtype = bnbq__st_qs_dt((const char*)t->data, t->numel);
    }
    if ((t = bnbq__st_opt(rd, prefix, "weight.shape")) != NULL) {
        size_t i;
        if (!(BNBQ__ST_INTS & (1ul << t->dtype)) || t->ndim > 1) return 0;
        q->has_shape = 1;
        q->ndim = t->numel;
        for (i = 0; i < t->numel && i < 2; i++) {
            bnbq_st_tensor one = *t;
            int64_t x;
            one.numel = 1;
            one.data = (const uint8_t*)t->data + i * (size_t)bnbq__st_bitsz[t->dtype] / 8;
            if (!bnbq__st_int1(&one, &x) || x < 0) return 0;
            q->shape[i] = (size_t)x;
        }
    }
    if ((t = bnbq__st_opt(rd, prefix, "weight.nested_blocksize")) != NULL) {
        if (!bnbq__st_qs_num(t, &v) || !(v >= 1.0 && v <= 1073741824.0) || v != floor(v)) return 0;
        q->has_nbs = 1;
        q->nested_blocksize = (size_t)v;
    }
    if ((t = bnbq__st_opt(rd, prefix, "weight.nested_dtype")) != NULL) {
        if (t->dtype != BNBQ_ST_U8) return 0;
        q->has_ndt = 1;
        q->nested_f32 = t->numel == 7 && memcmp(t->data, "float32", 7) == 0;
    }
    if ((t = bnbq__st_opt(rd, prefix, "weight.nested_offset")) != NULL) {
        if (!bnbq__st_qs_num(t, &q->nested_offset)) return 0;
        q->has_noff = 1;
    }
    return 1;
}

static bnbq_result bnbq__st_load4(bnbq_exec* ex, const char* bnbq__func, bnbq_linear* L,
                                  const bnbq_st_reader* rd, const char* prefix) {
    const bnbq_st_tensor *blob_nf4, *blob_fp4, *blob, *wt, *am, *qm, *nam = NULL, *nqm = NULL, *bias;
    bnbq__st_qs q;
    const char* why = NULL;
    size_t N = L->desc.out_features, K = L->desc.in_features, n = N * K, pb = (n + 1) / 2;
    size_t nb, item;
    int nested;
    char want[64];
    memset(&q, 0, sizeof q);
    q.qt = -1;
    q.dtype = -1;
    blob_nf4 = bnbq__st_opt(rd, prefix, "weight.quant_state.bitsandbytes__nf4");
    blob_fp4 = bnbq__st_opt(rd, prefix, "weight.quant_state.bitsandbytes__fp4");
    BNBQ__REQUIRE(!(blob_nf4 && blob_fp4), BNBQ_ERROR_CORRUPT_FILE,
                  "the checkpoint holds both an nf4 and an fp4 quant state");
    blob = blob_nf4 ? blob_nf4 : blob_fp4;
    if (blob) {
        BNBQ__REQUIRE(blob->dtype == BNBQ_ST_U8, BNBQ_ERROR_BAD_DTYPE,
                      "the packed quant state is not a U8 tensor");
        if (!bnbq__st_qs_parse((const char*)blob->data, blob->numel, &q, &why))
            return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, "'%s': %s", blob->name, why);
        BNBQ__REQUIRE(q.qt == (blob_nf4 ? BNBQ_NF4 : BNBQ_FP4), BNBQ_ERROR_CORRUPT_FILE,
                      "the quant state's quant_type does not match its key");
    } else if (!bnbq__st_qs_unpacked(rd, prefix, &q, &why)) {
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE, why);
    }
    BNBQ__REQUIRE(q.qt >= 0 && q.blocksize && q.dtype != -1 && q.has_shape,
                  BNBQ_ERROR_CORRUPT_FILE,
                  "the quant state lacks quant_type, blocksize, dtype or shape");
    BNBQ__REQUIRE(q.dtype >= 0, BNBQ_ERROR_NOT_SUPPORTED,
                  "the quant state's dtype is not float16, bfloat16 or float32");
    if (q.ndim != 2 || q.shape[0] != N || q.shape[1] != K) {
        return bnbq__st_bad(ex, bnbq__func, BNBQ_ERROR_BAD_SHAPE,
                            "the quant state's shape is not the layer's [%lu, %lu]",
                            (unsigned long)N, (unsigned long)K);
    }
    BNBQ__REQUIRE(q.blocksize <= (size_t)INT32_MAX && bnbq__blocksize4_ok(ex, (int)q.blocksize),
                  BNBQ_ERROR_BAD_BLOCKSIZE, "the quant state's blocksize is not supported");
    nb = (n + q.blocksize - 1) / q.blocksize;
    nested = q.has_nbs || q.has_ndt || q.has_noff;
    if (nested) {
        BNBQ__REQUIRE(q.has_nbs && q.has_ndt && q.has_noff, BNBQ_ERROR_CORRUPT_FILE,
                      "the quant state has some of nested_blocksize, nested_dtype and "
                      "nested_offset but not all");
        BNBQ__REQUIRE(q.nested_blocksize == 256 && q.nested_f32, BNBQ_ERROR_NOT_SUPPORTED,
                      "nested statistics other than float32 with blocksize 256");
        BNBQ__REQUIRE(q.nested_offset == q.nested_offset, BNBQ_ERROR_CORRUPT_FILE,
                      "nested_offset is NaN");
    }
    /* the tensors */
    BNBQ__TRY(bnbq__st_need(ex, bnbq__func, rd, prefix, "weight",
                            (1ul << BNBQ_ST_U8) | (1ul << BNBQ_ST_I8) | BNBQ__ST_FLOATS, &wt));
    item = (size_t)bnbq__st_bitsz[wt->dtype] / 8;
    sprintf(want, "[%lu, 1] of %s", (unsigned long)((pb + item - 1) / item), bnbq__st_names[wt->dtype]);
    if (!((wt->ndim == 2 && wt->shape[1] == 1) || wt->ndim == 1) ||
        wt->bytes != (pb + item - 1) / item * item)
        return bnbq__st_bad_shape(ex, bnbq__func, prefix, "weight", wt, want);
    BNBQ__TRY(bnbq__st_need(ex, bnbq__func, rd, prefix, "weight.absmax",
                            (1ul << BNBQ_ST_U8) | (1ul << BNBQ_ST_F32), &am));
    if (nested != (am->dtype == BNBQ_ST_U8))
        return bnbq__fail(ex, bnbq__func, BNBQ_ERROR_CORRUPT_FILE,
                          nested ? "a nested quant state needs a U8 absmax"
                                 : "a U8 absmax needs the nested quant state fields");
    sprintf(want, "[%lu]", (unsigned long)nb);
    if (!bnbq__st_shape_is(am, 1, nb, 0))
        return bnbq__st_bad_shape(ex, bnbq__func, prefix, "weight.absmax", am, want);
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "weight.quant_map", 1ul << BNBQ_ST_F32,
                                   1, 16, 0, &qm));
    BNBQ__REQUIRE(memcmp(qm->data, bnbq_code_4bit((bnbq_quant_type)q.qt), 64) == 0,
                  BNBQ_ERROR_NOT_SUPPORTED,
                  "quant_map is not bitsandbytes' table of the quant type (bnbq's layers hold no other)");
    if (nested) {
        size_t nn = (nb + 255) / 256;
        BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "weight.nested_absmax",
                                       1ul << BNBQ_ST_F32, 1, nn, 0, &nam));
        BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "weight.nested_quant_map",
                                       1ul << BNBQ_ST_F32, 1, 256, 0, &nqm));
        BNBQ__REQUIRE(memcmp(nqm->data, bnbq_code_dynamic(1), 1024) == 0, BNBQ_ERROR_NOT_SUPPORTED,
                      "nested_quant_map is not bitsandbytes' signed dynamic map");
    } else {
        BNBQ__REQUIRE(!bnbq__st_opt(rd, prefix, "weight.nested_absmax"), BNBQ_ERROR_CORRUPT_FILE,
                      "nested_absmax without the nested quant state fields");
    }
    BNBQ__TRY(bnbq__st_check_bias(ex, bnbq__func, rd, prefix, L->bias != NULL, N, &bias));
    /* everything checked: load */
    BNBQ__TRY(bnbq_linear_load_4bit(ex, L, (bnbq_quant_type)q.qt, (int)q.blocksize,
                                    (bnbq_dtype)q.dtype, (const uint8_t*)wt->data,
                                    nested ? NULL : (const float*)am->data,
                                    nested ? (const uint8_t*)am->data : NULL,
                                    nested ? (const float*)nam->data : NULL,
                                    nested ? (float)q.nested_offset : 0.0f));
    return bias ? bnbq__st_put_float(ex, bias, L->bias_dtype, L->bias) : BNBQ_SUCCESS;
}

static bnbq_result bnbq__st_load8(bnbq_exec* ex, const char* bnbq__func, bnbq_linear* L,
                                  const bnbq_st_reader* rd, const char* prefix) {
    const bnbq_st_tensor *wt, *scb, *fmt, *bias;
    size_t N = L->desc.out_features, K = L->desc.in_features;
    BNBQ__REQUIRE(L->desc.int8_weights, BNBQ_ERROR_INVALID_ARGS,
                  "an int8 checkpoint needs a layer with int8_weights (has_fp16_weights=False)");
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "weight", 1ul << BNBQ_ST_I8, 2, N,
                                   K, &wt));
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "SCB", 1ul << BNBQ_ST_F32, 1, N, 0,
                                   &scb));
    fmt = bnbq__st_opt(rd, prefix, "weight_format");
    if (fmt) {
        int64_t v;
        if (fmt->dtype == BNBQ_ST_U8 && fmt->numel != 1) {
            BNBQ__REQUIRE(fmt->numel == 3 && memcmp(fmt->data, "row", 3) == 0,
                          BNBQ_ERROR_NOT_SUPPORTED, "weight_format other than \"row\"");
        } else {
            BNBQ__REQUIRE(bnbq__st_int1(fmt, &v), BNBQ_ERROR_CORRUPT_FILE,
                          "weight_format is not an integer or \"row\"");
            BNBQ__REQUIRE(v == 0, BNBQ_ERROR_NOT_SUPPORTED,
                          "weight_format is not 0 (\"row\"): the tiled formats col32 / col_turing / "
                          "col_ampere are no longer supported");
        }
    }
    BNBQ__TRY(bnbq__st_check_bias(ex, bnbq__func, rd, prefix, L->bias != NULL, N, &bias));
    BNBQ__TRY(bnbq_linear_load_8bit(ex, L, (const int8_t*)wt->data, (const float*)scb->data));
    return bias ? bnbq__st_put_float(ex, bias, L->bias_dtype, L->bias) : BNBQ_SUCCESS;
}

static bnbq_result bnbq__st_loadsb(bnbq_exec* ex, const char* bnbq__func, bnbq_linear* L,
                                   const bnbq_st_reader* rd, const char* prefix) {
    const bnbq_st_tensor *wq, *sw, *bias;
    size_t N = L->desc.out_features, K = L->desc.in_features;
    size_t ns = L->desc.kind == BNBQ_LINEAR_SWITCHBACK_VECTORWISE ? N : 1;
    bnbq_result r;
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "W_int8", 1ul << BNBQ_ST_I8, 2, N,
                                   K, &wq));
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "state_W", 1ul << BNBQ_ST_F16, 1, ns, 0,
                                   &sw));
    BNBQ__TRY(bnbq__st_check_bias(ex, bnbq__func, rd, prefix, L->bias != NULL, N, &bias));
    if (!L->W_int8) BNBQ__TRY(bnbq_alloc(ex, N * K, (void**)&L->W_int8));
    if (!L->state_W) BNBQ__TRY(bnbq_alloc(ex, ns * 2, (void**)&L->state_W));
    r = bnbq_copy(ex, L->W_int8, wq->data, N * K, BNBQ_COPY_HOST_TO_EXEC);
    if (r == BNBQ_SUCCESS) r = bnbq_copy(ex, L->state_W, sw->data, ns * 2, BNBQ_COPY_HOST_TO_EXEC);
    if (r != BNBQ_SUCCESS) return r;
    bnbq__xfree(ex, &L->weight);   /* prepare_for_eval deletes the float weight */
    L->prepared_for_eval = 1;
    BNBQ__LIMPL(L)->saved_valid = 0;
    return bias ? bnbq__st_put_float(ex, bias, L->bias_dtype, L->bias) : BNBQ_SUCCESS;
}

/* a float weight (N, K) (+ bias), torch's plain Linear state */
static bnbq_result bnbq__st_loadf(bnbq_exec* ex, const char* bnbq__func, bnbq_linear* L,
                                  const bnbq_st_reader* rd, const char* prefix) {
    const bnbq_st_tensor *wt, *bias;
    size_t N = L->desc.out_features, K = L->desc.in_features;
    void* h;
    int owned;
    bnbq_result r;
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "weight", BNBQ__ST_FLOATS, 2, N,
                                   K, &wt));
    BNBQ__TRY(bnbq__st_check_bias(ex, bnbq__func, rd, prefix, L->bias != NULL, N, &bias));
    h = bnbq__st_host_as(ex, wt, L->desc.weight_dtype, &owned);
    BNBQ__REQUIRE(h, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    r = bnbq_linear_set_weight(ex, L, h, NULL);
    if (owned) bnbq_host_free(ex, h);
    if (r != BNBQ_SUCCESS) return r;
    return bias ? bnbq__st_put_float(ex, bias, L->bias_dtype, L->bias) : BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_linear_load(bnbq_exec* ex, bnbq_linear* L, const bnbq_st_reader* rd,
                                      const char* prefix) {
    static const char* bnbq__func = "bnbq_linear_load";
    char key[BNBQ__ST_KEY_MAX];
    bnbq_linear_kind k;
    BNBQ__REQUIRE(L && rd, BNBQ_ERROR_NULL_POINTER, "layer or reader is NULL");
    BNBQ__REQUIRE(L->impl, BNBQ_ERROR_INVALID_ARGS, "the layer is not initialised");
    BNBQ__REQUIRE(rd->by_name || rd->count == 0, BNBQ_ERROR_INVALID_ARGS,
                  "the reader is not initialised");
    BNBQ__REQUIRE(bnbq__st_key(key, prefix, "weight.quant_state.bitsandbytes__nf4"),
                  BNBQ_ERROR_INVALID_ARGS, "prefix is too long");
    k = L->desc.kind;
    if (bnbq__lin_is4(k) && (bnbq__st_opt(rd, prefix, "weight.absmax") ||
                             bnbq__st_opt(rd, prefix, "weight.quant_state.bitsandbytes__nf4") ||
                             bnbq__st_opt(rd, prefix, "weight.quant_state.bitsandbytes__fp4") ||
                             bnbq__st_opt(rd, prefix, "weight.quant_type")))
        return bnbq__st_load4(ex, bnbq__func, L, rd, prefix);
    if (bnbq__lin_isi8(k) && bnbq__st_opt(rd, prefix, "SCB"))
        return bnbq__st_load8(ex, bnbq__func, L, rd, prefix);
    if (bnbq__lin_issb(k) && bnbq__st_opt(rd, prefix, "W_int8"))
        return bnbq__st_loadsb(ex, bnbq__func, L, rd, prefix);
    return bnbq__st_loadf(ex, bnbq__func, L, rd, prefix);
}

/* ---- embeddings ---- */
static int bnbq__st_emb_plain(const bnbq_embedding* e) {
    return e->desc.kind == BNBQ_EMBEDDING || e->desc.kind == BNBQ_EMBEDDING_STABLE;
}

static bnbq_result bnbq__st_embedding_save(bnbq_exec* ex, const char* bnbq__func,
                                           const bnbq_embedding* e, const char* prefix,
                                           bnbq_st_writer* w);
BNBQ_API bnbq_result bnbq_embedding_save(bnbq_exec* ex, const bnbq_embedding* e,
                                         const char* prefix, bnbq_st_writer* w) {
    size_t before = w ? w->count : 0;
    bnbq_result r = bnbq__st_embedding_save(ex, "bnbq_embedding_save", e, prefix, w);
    if (r != BNBQ_SUCCESS && w) bnbq__st_truncate(ex, w, before);
    return r;
}
static bnbq_result bnbq__st_embedding_save(bnbq_exec* ex, const char* bnbq__func,
                                           const bnbq_embedding* e, const char* prefix,
                                           bnbq_st_writer* w) {
    char key[BNBQ__ST_KEY_MAX];
    size_t shp[2], es;
    bnbq_st_dtype sdt;
    BNBQ__REQUIRE(e && w, BNBQ_ERROR_NULL_POINTER, "embedding or writer is NULL");
    BNBQ__REQUIRE(e->weight || e->quantized, BNBQ_ERROR_INVALID_ARGS,
                  "the embedding is not initialised");
    BNBQ__REQUIRE(bnbq__st_emb_plain(e), BNBQ_ERROR_NOT_SUPPORTED,
                  "Embedding4bit / Embedding8bit cannot be saved (bitsandbytes raises "
                  "NotImplementedError)");
    BNBQ__REQUIRE(bnbq__st_key(key, prefix, "norm.weight"), BNBQ_ERROR_INVALID_ARGS,
                  "prefix is too long");
    shp[0] = e->desc.num_embeddings;
    shp[1] = e->desc.embedding_dim;
    es = bnbq_dtype_size(e->desc.dtype);
    BNBQ__TRY(bnbq_st_dtype_from(e->desc.dtype, &sdt));
    bnbq__st_key(key, prefix, "weight");
    BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, sdt, 2, shp, e->weight,
                                shp[0] * shp[1] * es, shp[0] * shp[1] * es));
    if (e->desc.kind == BNBQ_EMBEDDING_STABLE) {
        bnbq__st_key(key, prefix, "norm.weight");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, shp + 1,
                                    e->norm_weight, shp[1] * 4, shp[1] * 4));
        bnbq__st_key(key, prefix, "norm.bias");
        BNBQ__TRY(bnbq__st_add_exec(ex, bnbq__func, w, key, BNBQ_ST_F32, 1, shp + 1, e->norm_bias,
                                    shp[1] * 4, shp[1] * 4));
    }
    return BNBQ_SUCCESS;
}

BNBQ_API bnbq_result bnbq_embedding_load(bnbq_exec* ex, bnbq_embedding* e,
                                         const bnbq_st_reader* rd, const char* prefix) {
    static const char* bnbq__func = "bnbq_embedding_load";
    char key[BNBQ__ST_KEY_MAX];
    const bnbq_st_tensor *wt, *nw = NULL, *nbias = NULL;
    size_t num, dim;
    void* h;
    int owned;
    bnbq_result r;
    BNBQ__REQUIRE(e && rd, BNBQ_ERROR_NULL_POINTER, "embedding or reader is NULL");
    BNBQ__REQUIRE(e->weight || e->quantized, BNBQ_ERROR_INVALID_ARGS,
                  "the embedding is not initialised");
    BNBQ__REQUIRE(bnbq__st_emb_plain(e), BNBQ_ERROR_NOT_SUPPORTED,
                  "Embedding4bit / Embedding8bit have no state dict in bitsandbytes");
    BNBQ__REQUIRE(bnbq__st_key(key, prefix, "norm.weight"), BNBQ_ERROR_INVALID_ARGS,
                  "prefix is too long");
    num = e->desc.num_embeddings;
    dim = e->desc.embedding_dim;
    BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "weight", BNBQ__ST_FLOATS, 2, num,
                                   dim, &wt));
    if (e->desc.kind == BNBQ_EMBEDDING_STABLE) {
        BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "norm.weight", BNBQ__ST_FLOATS, 1,
                                       dim, 0, &nw));
        BNBQ__TRY(bnbq__st_need_shaped(ex, bnbq__func, rd, prefix, "norm.bias", BNBQ__ST_FLOATS, 1,
                                       dim, 0, &nbias));
    }
    h = bnbq__st_host_as(ex, wt, e->desc.dtype, &owned);
    BNBQ__REQUIRE(h, BNBQ_ERROR_OUT_OF_MEMORY, "the allocator returned NULL");
    r = bnbq_embedding_set_weight(ex, e, h);
    if (owned) bnbq_host_free(ex, h);
    if (r == BNBQ_SUCCESS && nw) r = bnbq__st_put_float(ex, nw, BNBQ_F32, e->norm_weight);
    if (r == BNBQ_SUCCESS && nbias) r = bnbq__st_put_float(ex, nbias, BNBQ_F32, e->norm_bias);
    return r;
}

#ifdef __cplusplus
}
#endif

#ifdef BNBQ__GCC_POP_OPTIONS
#pragma GCC pop_options
#undef BNBQ__GCC_POP_OPTIONS
#endif

#endif /* BNBQ__IMPLEMENTATION_DONE */
#endif /* BNBQ_IMPLEMENTATION */

/*
MIT License

Copyright (c) 2026 the bnbq authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
