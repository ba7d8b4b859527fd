// bench/gemv_ceiling.cu - how fast can one kernel READ 28-36 MiB once (the packed weights of the
// gemv_4bit shapes), with different load structures, against the 1 GiB device-to-device copy
// measured in the same process (bench_gpu's convention: 2 * bytes / median time).
// Each timed call follows a read-only L2 flush (256 MB read by a kernel, outside the events);
// median of RUNS (30) calls, CUDA events. "% copy" = bytes read / median time / copy GB/s.
//   grid   plain 16-byte loads (ld.global.nc.L1::no_allocate.v4), U unrolled loads per thread per
//          iteration, grid-stride (g) or one contiguous range per block (c), B blocks per SM
//   async  cp.async.cg 16-byte copies into a per-thread ring in shared memory (sm_80+): S stages of
//          U copies per thread, each thread reads back its own bytes (no barriers)
//   bulk   cp.async.bulk (TMA 1D, sm_90) of CH-byte chunks into an S-stage ring with full/empty
//          mbarriers, one producer lane, W consumer warps reading the chunk from shared memory
//   empty  an empty kernel (the event overhead floor)
// Build and run on the device: nvcc -O3 -arch=sm_90 -o build/gemv_ceiling bench/gemv_ceiling.cu
//   && ./build/gemv_ceiling [RUNS]
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>

#define CK(x)                                                                          \
    do {                                                                               \
        cudaError_t e_ = (x);                                                          \
        if (e_ != cudaSuccess) {                                                       \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

typedef unsigned int u32;
typedef unsigned long long u64;

__device__ __forceinline__ uint4 ldnc(const uint4* p) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
__device__ __forceinline__ u32 fold(uint4 v) { return v.x ^ v.y ^ v.z ^ v.w; }

// plain loads; CONTIG: block b takes units [b n / grid, (b + 1) n / grid)
template <int U, int CONTIG>
__global__ void k_grid(const uint4* p, u64 n, u32* sink) {
    u32 acc = 0;
    u64 lo = 0, hi = n, start, stride;
    if (CONTIG) {
        lo = n * blockIdx.x / gridDim.x;
        hi = n * (blockIdx.x + 1) / gridDim.x;
        start = lo + threadIdx.x;
        stride = (u64)blockDim.x * U;
    } else {
        start = (u64)blockIdx.x * blockDim.x * U + threadIdx.x;
        stride = (u64)gridDim.x * blockDim.x * U;
    }
    u64 i = start;
    for (; i + (u64)(U - 1) * blockDim.x < hi; i += stride) {
        uint4 v[U];
#pragma unroll
        for (int u = 0; u < U; u++) v[u] = ldnc(p + i + (u64)u * blockDim.x);
#pragma unroll
        for (int u = 0; u < U; u++) acc ^= fold(v[u]);
    }
    for (; i < hi; i += blockDim.x) acc ^= fold(ldnc(p + i));
    if (acc == 0x9e3779b9u) sink[0] = acc;
}

// cp.async ring: per thread S stages x U units; block range contiguous
__global__ void k_async(const uint4* p, u64 n, u32* sink, int S, int U) {
    extern __shared__ uint4 ring[];
    const u64 lo = n * blockIdx.x / gridDim.x, hi = n * (blockIdx.x + 1) / gridDim.x;
    const u32 T = blockDim.x, t = threadIdx.x;
    const u64 per = (u64)T * U;                   // units per iteration
    const u64 iters = (hi - lo) / per;            // whole iterations (the rest: plain loads)
    u32 acc = 0;
    const u32 sbase = (u32)__cvta_generic_to_shared(ring);
    for (u64 it = 0; it < iters + S - 1; it++) {
        if (it < iters) {
            const u32 st = (u32)(it % S);
            for (int u = 0; u < U; u++) {
                const uint4* g = p + lo + it * per + (u64)u * T + t;
                const u32 d = sbase + ((st * U + u) * T + t) * 16u;
                asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(d), "l"(g));
            }
        }
        asm volatile("cp.async.commit_group;");
        if (it >= (u64)(S - 1)) {
            const u64 c = it - (S - 1);
            switch (S) {   // wait until stage c has landed
                case 2: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
                case 4: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
                case 8: asm volatile("cp.async.wait_group 7;" ::: "memory"); break;
                default: asm volatile("cp.async.wait_group 0;" ::: "memory"); break;
            }
            const u32 st = (u32)(c % S);
            for (int u = 0; u < U; u++) acc ^= fold(ring[(st * U + u) * T + t]);
        }
    }
    for (u64 i = lo + iters * per + t; i < hi; i += T) acc ^= fold(ldnc(p + i));
    if (acc == 0x9e3779b9u) sink[0] = acc;
}

// TMA bulk ring
__device__ __forceinline__ void mb_init(u32 a, u32 cnt) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(a), "r"(cnt));
}
__device__ __forceinline__ void mb_expect(u32 a, u32 tx) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(a), "r"(tx) : "memory");
}
__device__ __forceinline__ void mb_arrive(u32 a) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(a) : "memory");
}
__device__ __forceinline__ void mb_wait(u32 a, u32 par) {
    asm volatile(
        "{\n.reg .pred p;\nW: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n@!p bra W;\n}\n" ::"r"(a),
        "r"(par)
        : "memory");
}
__device__ __forceinline__ void bulk(u32 dst, const void* src, u32 bytes, u32 mb) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(dst),
        "l"(src), "r"(bytes), "r"(mb)
        : "memory");
}

// blockDim = 32 (W + 1): warp W's lane 0 produces; chunks of CH bytes; S stages
__global__ void k_bulk(const unsigned char* p, u64 bytes, u32* sink, int S, u32 CH) {
    extern __shared__ __align__(128) unsigned char sm[];
    __shared__ __align__(8) u64 bars[2 * 16];
    const u32 W = blockDim.x / 32 - 1, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const u64 nch = bytes / CH;
    const u64 c0 = nch * blockIdx.x / gridDim.x, c1 = nch * (blockIdx.x + 1) / gridDim.x;
    const u32 full = (u32)__cvta_generic_to_shared(bars), empty = full + 8 * 16;
    const u32 sbase = (u32)__cvta_generic_to_shared(sm);
    if (threadIdx.x == 0) {
        for (int s = 0; s < S; s++) {
            mb_init(full + 8 * s, 1);
            mb_init(empty + 8 * s, W);
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    u32 acc = 0;
    if (warp == W) {
        if (lane == 0) {
            for (u64 c = c0; c < c1; c++) {
                const u64 it = c - c0;
                const u32 s = (u32)(it % S);
                if (it >= (u64)S) mb_wait(empty + 8 * s, (u32)((it / S + 1) & 1));
                mb_expect(full + 8 * s, CH);
                bulk(sbase + s * CH, p + c * CH, CH, full + 8 * s);
            }
        }
    } else {
        const u32 per = CH / 16 / (32 * W);   // units per consumer thread
        for (u64 c = c0; c < c1; c++) {
            const u64 it = c - c0;
            const u32 s = (u32)(it % S);
            mb_wait(full + 8 * s, (u32)((it / S) & 1));
            const uint4* q = (const uint4*)(sm + s * CH);
            for (u32 u = 0; u < per; u++) acc ^= fold(q[u * 32 * W + threadIdx.x]);
            __syncwarp();
            if (lane == 0) mb_arrive(empty + 8 * s);
        }
    }
    if (acc == 0x9e3779b9u) sink[0] = acc;
}

__global__ void k_empty() {}

static int g_runs = 30, g_sms;
static uint4* g_flush;
static const u64 FLUSH_BYTES = 256ull << 20;
static u32* g_sink;

static void flush() {
    k_grid<8, 0><<<g_sms * 4, 512>>>(g_flush, FLUSH_BYTES / 16, g_sink);
}

template <class F>
static double timeit(F f) {
    std::vector<cudaEvent_t> ev(2 * g_runs);
    for (auto& e : ev) CK(cudaEventCreate(&e));
    f();
    f();
    CK(cudaDeviceSynchronize());
    for (int i = 0; i < g_runs; i++) {
        flush();
        CK(cudaEventRecord(ev[2 * i]));
        f();
        CK(cudaEventRecord(ev[2 * i + 1]));
    }
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<double> ms(g_runs);
    for (int i = 0; i < g_runs; i++) {
        float t;
        CK(cudaEventElapsedTime(&t, ev[2 * i], ev[2 * i + 1]));
        ms[i] = t;
    }
    for (auto& e : ev) CK(cudaEventDestroy(e));
    std::sort(ms.begin(), ms.end());
    return g_runs % 2 ? ms[g_runs / 2] : 0.5 * (ms[g_runs / 2 - 1] + ms[g_runs / 2]);
}

static double g_copy;
static void report(const char* name, u64 bytes, double ms) {
    const double gbs = bytes / (ms * 1e6);
    printf("%-44s %6.1f MiB  %8.4f ms  %6.0f GB/s  %5.1f%% copy\n", name, bytes / 1048576.0, ms, gbs,
           100.0 * gbs / g_copy);
}

int main(int argc, char** argv) {
    if (argc > 1) g_runs = atoi(argv[1]);
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    g_sms = pr.multiProcessorCount;
    printf("gemv_ceiling: %s, %d SMs, L2 %d MB, median of %d\n", pr.name, g_sms, pr.l2CacheSize >> 20, g_runs);
    const u64 GIB = 1ull << 30;
    void *c0, *c1;
    CK(cudaMalloc(&c0, GIB));
    CK(cudaMalloc(&c1, GIB));
    CK(cudaMemset(c0, 1, GIB));
    CK(cudaMalloc(&g_flush, FLUSH_BYTES));
    CK(cudaMemset(g_flush, 3, FLUSH_BYTES));
    CK(cudaMalloc(&g_sink, 64));
    double cms = timeit([&] { CK(cudaMemcpyAsync(c1, c0, GIB, cudaMemcpyDeviceToDevice)); });
    g_copy = 2.0 * GIB / (cms * 1e6);
    printf("copy (D2D 1 GiB, read + written): %.3f ms median, %.0f GB/s\n", cms, g_copy);
    CK(cudaFree(c1));
    unsigned char* buf = (unsigned char*)c0;   // data to read
    report("empty kernel", 0, timeit([&] { k_empty<<<g_sms, 256>>>(); }));
    static const u64 sizes[] = { 32ull << 20, 28ull << 20, 36ull << 20 };
    CK(cudaFuncSetAttribute(k_async, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    CK(cudaFuncSetAttribute(k_bulk, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
    for (u64 bytes : sizes) {
        const u64 n = bytes / 16;
        char nm[128];
        printf("-- %.0f MiB\n", bytes / 1048576.0);
#define GRID(U, C, B, T)                                                                              \
    snprintf(nm, sizeof nm, "grid%s U=%d B/SM=%d T=%d", C ? "c" : "g", U, B, T);                      \
    report(nm, bytes, timeit([&] { k_grid<U, C><<<g_sms * B, T>>>((const uint4*)buf, n, g_sink); }));
        GRID(8, 0, 4, 256) GRID(8, 0, 8, 256) GRID(4, 0, 4, 512) GRID(8, 0, 2, 512) GRID(8, 0, 1, 1024)
        GRID(4, 1, 1, 512) GRID(8, 1, 1, 512) GRID(16, 1, 1, 512) GRID(8, 1, 1, 1024) GRID(8, 1, 2, 512)
        GRID(4, 1, 4, 256) GRID(8, 1, 4, 256) GRID(2, 1, 1, 512) GRID(4, 1, 2, 512)
        {
            static const int ac[][4] = { { 512, 4, 2, 1 }, { 512, 8, 1, 1 }, { 512, 4, 4, 1 }, { 256, 8, 2, 1 },
                                         { 256, 4, 4, 2 }, { 512, 8, 2, 1 }, { 1024, 4, 2, 1 } };
            for (auto& a : ac) {
                const int T = a[0], S = a[1], U = a[2], B = a[3];
                snprintf(nm, sizeof nm, "async T=%d S=%d U=%d (%d KB) B/SM=%d", T, S, U, T * S * U * 16 / 1024, B);
                report(nm, bytes, timeit([&] {
                           k_async<<<g_sms * B, T, T * S * U * 16>>>((const uint4*)buf, n, g_sink, S, U);
                       }));
            }
        }
        {
            static const int bc[][4] = { { 4, 8192, 8, 1 }, { 8, 8192, 8, 1 }, { 4, 16384, 8, 1 },
                                         { 8, 16384, 8, 1 }, { 4, 16384, 4, 2 }, { 6, 16384, 8, 1 },
                                         { 12, 8192, 8, 1 }, { 4, 32768, 8, 1 } };
            for (auto& b : bc) {
                const int S = b[0], CH = b[1], W = b[2], B = b[3];
                snprintf(nm, sizeof nm, "bulk S=%d CH=%d (%d KB) W=%d B/SM=%d", S, CH, S * CH / 1024, W, B);
                report(nm, bytes, timeit([&] {
                           k_bulk<<<g_sms * B, 32 * (W + 1), S * CH>>>(buf, bytes, g_sink, S, (u32)CH);
                       }));
            }
        }
    }
    CK(cudaDeviceSynchronize());
    return 0;
}
