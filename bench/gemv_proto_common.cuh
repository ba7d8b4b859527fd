// gemv_proto_common.cuh - what the one-token 4-bit GEMV prototypes bench/gemv_proto.cu (session 7)
// and bench/gemv_tma_proto.cu (session 9) share: the reference kernel of bnbq's exact semantics,
// shared-memory / mbarrier / TMA helpers, the L2 flush, the copy-bandwidth measure, the three
// shapes' data, the comparison of an output with the reference and the two timings (single calls
// after an L2 flush; calls back to back over rotated copies of the weights). nvcc only.
#include <cuda_fp16.h>
#include <cuda.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <algorithm>
#include <math.h>
#include <vector>

typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned char u8;

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); exit(1); } } while (0)

struct code16 { float v[16]; };
struct __align__(64) tmap_t { u64 v[16]; };

// ---------------- reference: bnbq's exact one-token semantics, one warp per row, plain code ----------------
__global__ void ref_kernel(const __half* A, const u8* packed, const float* absmax, int N, int K, int bs, __half* out, code16 code) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, L = threadIdx.x & 31;
    if (warp >= N) return;
    u64 n = warp;
    float acc = 0.f;
    for (int k0 = 32 * L; k0 < K; k0 += 1024) {
        __half s = __float2half_rn(absmax[(n * K + k0) / bs]);
        for (int e = 0; e < 32; e++) {
            u64 idx = n * K + k0 + e;
            u8 byte = packed[idx >> 1];
            int nib = (idx & 1) ? (byte & 15) : (byte >> 4);
            __half q = __float2half_rn(code.v[nib]);
            __half b = __hmul(q, s);
            __half p = __hmul(A[k0 + e], b);
            acc = acc + __half2float(p);
        }
    }
    for (int off = 1; off < 32; off <<= 1) acc = acc + __shfl_down_sync(0xffffffffu, acc, off);
    if (L == 0) out[n] = __float2half_rn(acc);
}

// ---------------- device helpers ----------------
__device__ __forceinline__ u32 smem_u32(const void* p) { return (u32)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void mbar_init(u32 a, u32 count) { asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(a), "r"(count)); }
__device__ __forceinline__ void mbar_expect(u32 a, u32 bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(a), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(u32 a, u32 parity) {
    asm volatile("{\n.reg .pred p;\nW: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n@!p bra W;\n}" ::"r"(a), "r"(parity) : "memory");
}
__device__ __forceinline__ u32 lds32(u32 a) { u32 v; asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(a)); return v; }
__device__ __forceinline__ uint4 lds128(u32 a) {
    uint4 v; asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(a)); return v;
}
__device__ __forceinline__ void tma2d(u32 dst, const tmap_t* tm, int x, int y, u32 mbar, u64 pol) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1, {%2, %3}], [%4], %5;"
                 ::"r"(dst), "l"((u64)tm), "r"(x), "r"(y), "r"(mbar), "l"(pol) : "memory");
}

// ---------------- host side ----------------
// the L2 flush: a read-only pass over 256 MB (a memset would leave dirty lines to write back)
__global__ void flush_read(const uint4* p, size_t n, int* sink) {
    u32 x = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) { uint4 v = __ldcg(p + i); x ^= v.x ^ v.w; }
    if (x == 0x12345678u) *sink = 1;
}
__global__ void empty_kernel() {}
static int* g_sink;
static void do_flush(void* f, size_t b, int sms) { flush_read<<<sms * 4, 512>>>((const uint4*)f, b / 16, g_sink); }

static float frand(u64* s) { *s = *s * 6364136223846793005ull + 1442695040888963407ull; return (float)((*s >> 40) & 0xffffff) / 16777216.0f; }

// the device, the copy rate (cudaMemcpy D2D of 1 GiB, median of 15), the flush buffer, NF4's code
struct proto_env {
    int sms;
    double copy_gbs;
    void* flush;
    size_t flushb;
    code16 code;
};
static proto_env proto_init(const char* prog) {
    proto_env env;
    CK(cudaDeviceGetAttribute(&env.sms, cudaDevAttrMultiProcessorCount, 0));
    cudaDeviceProp pr; CK(cudaGetDeviceProperties(&pr, 0));
    printf("%s: %s, %d SMs\n", prog, pr.name, env.sms);
    const size_t cb = 1ull << 30;
    void *c0, *c1; CK(cudaMalloc(&c0, cb)); CK(cudaMalloc(&c1, cb));
    CK(cudaMemset(c0, 1, cb));
    std::vector<float> ct;
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    for (int i = 0; i < 15; i++) {
        cudaEventRecord(e0); CK(cudaMemcpyAsync(c1, c0, cb, cudaMemcpyDeviceToDevice)); cudaEventRecord(e1); cudaEventSynchronize(e1);
        float ms; cudaEventElapsedTime(&ms, e0, e1); ct.push_back(ms);
    }
    std::sort(ct.begin(), ct.end());
    env.copy_gbs = 2.0 * cb / ct[7] / 1e6;
    printf("copy D2D 1 GiB: %.3f ms, %.0f GB/s\n", ct[7], env.copy_gbs);
    CK(cudaFree(c1));
    env.flush = c0; env.flushb = 256u << 20;
    CK(cudaMalloc(&g_sink, 4));
    const float nf4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,
                           -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                           0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    memcpy(env.code.v, nf4, sizeof nf4);
    return env;
}

// the shapes (N x K) and their data: random packed weights, absmax in [0.5, 2.5) (blocksize 64), an
// activation in [-1, 1) (seed 1234 + shape), and the reference output dR
static const int g_shapes[3][2] = {{8192, 8192}, {14336, 4096}, {4096, 14336}};
struct proto_shape {
    int N, K;
    u8* dP;
    float* dM;
    __half *dA, *dO, *dR;
};
static proto_shape proto_shape_make(int si, const proto_env& env) {
    proto_shape s;
    s.N = g_shapes[si][0]; s.K = g_shapes[si][1];
    const int N = s.N, K = s.K;
    const size_t ne = (size_t)N * K;
    std::vector<u8> hp(ne / 2); std::vector<float> hm(ne / 64); std::vector<__half> ha(K);
    u64 seed = 1234 + si;
    for (auto& b : hp) b = (u8)(frand(&seed) * 256);
    for (auto& m : hm) m = 0.5f + 2.0f * frand(&seed);
    for (auto& a : ha) a = __float2half_rn(2.0f * frand(&seed) - 1.0f);
    CK(cudaMalloc(&s.dP, ne / 2)); CK(cudaMalloc(&s.dM, ne / 64 * 4)); CK(cudaMalloc(&s.dA, K * 2)); CK(cudaMalloc(&s.dO, N * 2)); CK(cudaMalloc(&s.dR, N * 2));
    CK(cudaMemcpy(s.dP, hp.data(), ne / 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(s.dM, hm.data(), ne / 64 * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(s.dA, ha.data(), K * 2, cudaMemcpyHostToDevice));
    ref_kernel<<<(N * 32 + 255) / 256, 256>>>(s.dA, s.dP, s.dM, N, K, 64, s.dR, env.code);
    CK(cudaDeviceSynchronize());
    return s;
}
static void proto_shape_free(proto_shape& s) { cudaFree(s.dP); cudaFree(s.dM); cudaFree(s.dA); cudaFree(s.dO); cudaFree(s.dR); }
// weight bytes (packed codes + absmax), as bench_gpu counts them
static double proto_bytes(const proto_shape& s) { return (double)s.N * s.K / 2 + (double)s.N * s.K / 64 * 4; }

// dO against dR: outputs not bit-identical, NaNs, relative L2 and max error over max |reference|
struct proto_cmp {
    int bad, nan;
    double rel, mrel;
};
static proto_cmp proto_compare(const proto_shape& s) {
    std::vector<unsigned short> o(s.N), rr(s.N);
    CK(cudaMemcpy(o.data(), s.dO, s.N * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(rr.data(), s.dR, s.N * 2, cudaMemcpyDeviceToHost));
    proto_cmp c = {0, 0, 0.0, 0.0};
    double num = 0, den = 0, mx = 0, my = 0;
    for (int i = 0; i < s.N; i++) {
        c.bad += o[i] != rr[i];
        __half_raw ho, hr; ho.x = o[i]; hr.x = rr[i];
        const double x = __half2float(__half(ho)), y = __half2float(__half(hr));
        if (x != x) c.nan++;
        num += (x - y) * (x - y); den += y * y;
        mx = std::max(mx, fabs(x - y)); my = std::max(my, fabs(y));
    }
    c.rel = sqrt(num / den);
    c.mrel = mx / my;
    return c;
}

// The two timings of a kernel. single: events around one launch after an L2 flush, 40 times, the
// first 5 dropped, median; rotated: 6 copies of the weights (> the 50 MB L2), 36 launches back to
// back between two events, median of 7 reps. bind(c, P, M) prepares launches on copy c (its packed
// weights P, absmax M); launch(c) queues one, c = -1 on the shape's own weights.
template <class Bind, class Launch>
static void proto_time(const proto_env& env, const proto_shape& s, Bind bind, Launch launch, double* ms, double* msr) {
    const int NC = 6;
    const size_t pb = (size_t)s.N * s.K / 2, mb = (size_t)s.N * s.K / 64 * 4;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0); cudaEventCreate(&e1);
    std::vector<float> ts;
    for (int it = 0; it < 40; it++) {
        do_flush(env.flush, env.flushb, env.sms);
        cudaEventRecord(e0);
        launch(-1);
        cudaEventRecord(e1);
        CK(cudaEventSynchronize(e1));
        float t; cudaEventElapsedTime(&t, e0, e1);
        if (it >= 5) ts.push_back(t);
    }
    u8* cp[NC]; float* cm[NC];
    for (int c = 0; c < NC; c++) {
        CK(cudaMalloc(&cp[c], pb)); CK(cudaMalloc(&cm[c], mb));
        CK(cudaMemcpy(cp[c], s.dP, pb, cudaMemcpyDeviceToDevice));
        CK(cudaMemcpy(cm[c], s.dM, mb, cudaMemcpyDeviceToDevice));
        bind(c, cp[c], cm[c]);
    }
    std::vector<float> tr;
    for (int rep = 0; rep < 7; rep++) {
        cudaEventRecord(e0);
        for (int it = 0; it < 36; it++) launch(it % NC);
        cudaEventRecord(e1);
        CK(cudaEventSynchronize(e1));
        float t; cudaEventElapsedTime(&t, e0, e1);
        tr.push_back(t / 36);
    }
    CK(cudaGetLastError());
    for (int c = 0; c < NC; c++) { cudaFree(cp[c]); cudaFree(cm[c]); }
    std::sort(tr.begin(), tr.end());
    std::sort(ts.begin(), ts.end());
    *msr = tr[3];
    *ms = ts[ts.size() / 2];
    cudaEventDestroy(e0); cudaEventDestroy(e1);
}
