// gemv_proto.cu - prototype of a one-token 4-bit GEMV for sm_90 fed by a 2-D TMA tensor map, in the
// exact (CPU) summation order or with tensor-core sums; compared bit for bit with a plain reference kernel of the same
// semantics and timed against the device-to-device copy in the same process.
//   nvcc -O3 -arch=sm_90 --fmad=false -o build/gemv_proto bench/gemv_proto.cu && ./build/gemv_proto
#include "gemv_proto_common.cuh"

// ---------------- the prototype ----------------
__device__ __forceinline__ u32 hmul2(u32 x, u32 y) { u32 d; asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(x), "r"(y)); return d; }
__device__ __forceinline__ float lo16(u32 p) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((unsigned short)(p & 0xffff))); return f; }
__device__ __forceinline__ float hi16(u32 p) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((unsigned short)(p >> 16))); return f; }
__device__ __forceinline__ u32 s2of(float s) { u32 d; asm("cvt.rn.f16x2.f32 %0, %1, %1;" : "=r"(d) : "f"(s)); return d; }

// act unit u (16 bytes) lives in the table's holes: hole u >> 3 at 256 (u >> 3) + 128 + 16 (u & 7)
__device__ __forceinline__ u32 act_off(u32 u) { return ((u >> 3) << 8) + 128u + ((u & 7u) << 4); }
// position of unit t of lane L's chunk within step j
__device__ __forceinline__ u32 act_unit(u32 j, u32 L, u32 t) { return 128u * j + 4u * L + (t ^ ((L >> 1) & 3u)); }

// the per-lane pair table (entry b of lane L at 256 b + 4 L) and the activation in the table's holes
__device__ void stage_table_act(u8* smem, const __half* A, int K, const code16& code) {
    const u32 l16 = threadIdx.x & 15u;
    float c = code.v[0];
#pragma unroll
    for (int i = 1; i < 16; i++) c = l16 == (u32)i ? code.v[i] : c;
    const u32 qb = (u32)__half_as_ushort(__float2half_rn(c));
    for (u32 i = threadIdx.x; i < 256 * 8; i += blockDim.x) {   // entry b = i >> 3, lanes 4 (i & 7) .. +3
        const u32 b = i >> 3;
        const u32 hi = __shfl_sync(0xffffffffu, qb, (int)(b >> 4));
        const u32 lo = __shfl_sync(0xffffffffu, qb, (int)(b & 15u));
        const u32 v = hi | (lo << 16);
        *(uint4*)(smem + (b << 8) + ((i & 7u) << 4)) = make_uint4(v, v, v, v);
    }
    const u32 units = (u32)K / 8u;
    for (u32 u = threadIdx.x; u < units; u += blockDim.x) {
        const uint4 v = __ldg((const uint4*)A + u);
        const u32 j = u >> 7, vv = u & 127u, LL = vv >> 2, t = vv & 3u;
        *(uint4*)(smem + act_off(act_unit(j, LL, t))) = v;
    }
}

// ---- the kernel: a 2-D tensor map; a stage is W rows x SEGB bytes (one TMA), warp w takes row w of
// the stage; the last warp to finish a stage refills it ----
__device__ __forceinline__ void cp4(u32 dst, const void* src) { asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src) : "memory"); }
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N_> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N_) : "memory"); }
__device__ __forceinline__ float ldsf(u32 a) { float v; asm volatile("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(a) : "memory"); return v; }
__device__ __forceinline__ void mma_ones(float* c, u32 p0, u32 p1, u32 p2, u32 p3) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %8}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(p0), "r"(p1), "r"(p2), "r"(p3), "r"(0x3c003c00u));
}

// PROBE: 0 compute, 1 loads but no math, 2 no scales, 3 TMA only, 4 setup only. FAST: tensor-core sums.
template <int W, int S, int SEGB, int PROBE, int FAST, int R>
__global__ void __launch_bounds__(W * 32, 1)
gemv_tm(const __grid_constant__ tmap_t tm, const __half* A, const float* absmax, int N, int K, int bs_shift, __half* out, code16 code) {
    extern __shared__ __align__(1024) u8 smem[];
    constexpr int SPS = SEGB / 512;   // steps per stage
    const u32 L = threadIdx.x & 31, w = threadIdx.x >> 5;
    const u32 base = smem_u32(smem);
    const u32 ring = base + 65536u;
    const u32 sring = ring + (u32)(S * W * R * SEGB);                       // scales: [S][SPS][W*32] floats
    const u32 full = sring + (u32)(S * SPS * R * W * 32 * 4);
    u32* cnt = (u32*)(smem + (full - base) + 8 * S);
    const int G = (N + W * R - 1) / (W * R);
    const int ng = blockIdx.x < (u32)G ? (G - 1 - (int)blockIdx.x) / (int)gridDim.x + 1 : 0;
    const int nseg = (K / 2 + SEGB - 1) / SEGB;
    const int items = PROBE == 4 ? 0 : ng * nseg;
    u64 pol;
    asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
    auto fetch = [&](int i) {
        const int g = (int)blockIdx.x + (int)gridDim.x * (i / nseg), sg = i % nseg;
        const u32 slot = (u32)(i % S);
        mbar_expect(full + 8u * slot, (u32)(W * R * SEGB));
        tma2d(ring + slot * (u32)(W * R * SEGB), &tm, sg * (SEGB / 8), g * W * R, full + 8u * slot, pol);
    };
    if (threadIdx.x == 0) {
        for (int i = 0; i < S; i++) { mbar_init(full + 8u * i, 1); cnt[i] = 0; }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
        for (int i = 0; i < S && i < items; i++) fetch(i);
    }
    // scales of item (pg, psg) into scale slot pslot (this thread's own words)
    int pg = (int)blockIdx.x, psg = 0, pi = 0;
    auto fetch_sc = [&]() {
        if (pi < items && PROBE < 2) {
            const u32 slot = (u32)(pi % S);
#pragma unroll
            for (int r = 0; r < R; r++) {
                const u64 n = (u64)pg * W * R + w * R + r;
#pragma unroll
                for (int st = 0; st < SPS; st++) {
                    const int k0 = psg * SEGB * 2 + 1024 * st + 32 * (int)L;
                    if (n < (u64)N && k0 < K)
                        cp4(sring + 4u * (((slot * SPS + st) * R + r) * (W * 32) + threadIdx.x), absmax + ((n * (u64)K + (u64)k0) >> bs_shift));
                }
            }
        }
        cp_commit();
        pi++;
        if (++psg == nseg) { psg = 0; pg += gridDim.x; }
    };
    for (int i = 0; i + 1 < S; i++) fetch_sc();
    stage_table_act(smem, A, K, code);
    __syncthreads();
    const u32 lane4 = L << 2;
    u32 aoff[4];
#pragma unroll
    for (int t = 0; t < 4; t++) aoff[t] = base + act_off(act_unit(0, L, (u32)t));
    int g = (int)blockIdx.x, sg = 0;
    float acc[R];
    float c4[R][4];
#pragma unroll
    for (int r = 0; r < R; r++) { acc[r] = 0.f; c4[r][0] = c4[r][1] = c4[r][2] = c4[r][3] = 0.f; }
    for (int i = 0; i < items; i++) {
        fetch_sc();
        cp_wait<S - 1>();
        const u32 slot = (u32)(i % S);
        mbar_wait(full + 8u * slot, (u32)((i / S) & 1));
        const u32 sb = ring + slot * (u32)(W * R * SEGB) + w * (u32)(R * SEGB) + 16u * L;
        const int nb = g * W * R + (int)w * R;
        if (nb < N && PROBE != 3) {
#pragma unroll
            for (int st = 0; st < SPS; st++) {
                const int k0 = sg * SEGB * 2 + 1024 * st + 32 * (int)L;
                const bool live = k0 < K;
                if (FAST || live) {
                    const u32 jo = (u32)(sg * SPS + st) * 4096u;
                    u32 a[16];
#pragma unroll
                    for (int tt = 0; tt < 4; tt++) {
                        const uint4 v = lds128(aoff[tt] + jo);
                        a[4 * tt] = v.x; a[4 * tt + 1] = v.y; a[4 * tt + 2] = v.z; a[4 * tt + 3] = v.w;
                    }
#pragma unroll
                    for (int r = 0; r < R; r++) {
                        const uint4 wq = lds128(sb + (u32)(r * SEGB) + 512u * st);
                        const u32 wv[4] = {wq.x, wq.y, wq.z, wq.w};
                        const float scv = PROBE >= 2 ? 1.0f : ldsf(sring + 4u * (((slot * SPS + st) * R + r) * (W * 32) + threadIdx.x));
                        if (PROBE) {
                            acc[r] += __uint_as_float(((wv[0] ^ wv[1] ^ wv[2] ^ wv[3] ^ a[0]) & 0x7fffffu) | 0x3f800000u) * scv;
                        } else if (FAST) {
                            const u32 s2 = s2of(scv);
                            u32 p[16];
#pragma unroll
                            for (int ii = 0; ii < 16; ii++) {
                                const u32 addr = __byte_perm(wv[ii >> 2], lane4, 0x5504u | ((u32)(ii & 3) << 4));
                                p[ii] = live ? hmul2(a[ii], hmul2(lds32(base + addr), s2)) : 0u;
                            }
#pragma unroll
                            for (int m = 0; m < 4; m++) mma_ones(c4[r], p[4 * m], p[4 * m + 1], p[4 * m + 2], p[4 * m + 3]);
                        } else {
                            const u32 s2 = s2of(scv);
#pragma unroll
                            for (int ii = 0; ii < 16; ii++) {
                                const u32 addr = __byte_perm(wv[ii >> 2], lane4, 0x5504u | ((u32)(ii & 3) << 4));
                                const u32 q2 = lds32(base + addr);
                                const u32 p2 = hmul2(a[ii], hmul2(q2, s2));
                                acc[r] = acc[r] + lo16(p2);
                                acc[r] = acc[r] + hi16(p2);
                            }
                        }
                    }
                }
            }
        }
        __syncwarp();
        if (L == 0) {
            __threadfence_block();
            const u32 old = atomicAdd(cnt + slot, 1u);
            if (old % W == W - 1 && i + S < items) fetch(i + S);
        }
        if (sg == nseg - 1) {
#pragma unroll
            for (int r = 0; r < R; r++) {
                float v;
                if (FAST) {
                    v = c4[r][0] + c4[r][2];
                    v = v + __shfl_xor_sync(0xffffffffu, v, 4);
                    v = v + __shfl_xor_sync(0xffffffffu, v, 8);
                    v = v + __shfl_xor_sync(0xffffffffu, v, 16);
                    c4[r][0] = c4[r][1] = c4[r][2] = c4[r][3] = 0.f;
                } else {
                    v = acc[r];
                    for (int off = 1; off < 32; off <<= 1) v = v + __shfl_down_sync(0xffffffffu, v, off);
                }
                if (L == 0 && nb + r < N) out[nb + r] = __float2half_rn(v);
                acc[r] = 0.f;
            }
        }
        if (++sg == nseg) { sg = 0; g += gridDim.x; }
    }
    cp_wait<0>();
}

static bool make_map(tmap_t* tm, const u8* dP, int N, int K, int SEGB, int rows) {
    cuuint64_t dims[2] = {(cuuint64_t)K / 16, (cuuint64_t)N};
    cuuint64_t strides[1] = {(cuuint64_t)K / 2};
    cuuint32_t box[2] = {(cuuint32_t)SEGB / 8, (cuuint32_t)rows}, es[2] = {1, 1};
    CUresult r = cuTensorMapEncodeTiled((CUtensorMap*)tm, CU_TENSOR_MAP_DATA_TYPE_UINT64, 2, (void*)dP, dims, strides, box, es,
                                        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS;
}

template <int W, int S, int SEGB, int PROBE, int FAST = 0, int R = 1>
static void run_tm(const char* name, const proto_env& env, proto_shape& sh) {
    auto kern = gemv_tm<W, S, SEGB, PROBE, FAST, R>;
    const int N = sh.N, K = sh.K;
    const size_t smem = 65536 + (size_t)S * W * R * SEGB + (size_t)S * (SEGB / 512) * R * W * 128 + 16 * S;
    CK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    tmap_t tm, tms[6];
    const float* cms[6];
    if (!make_map(&tm, sh.dP, N, K, SEGB, W * R)) { printf("%s: cuTensorMapEncodeTiled failed\n", name); return; }
    CK(cudaMemset(sh.dO, 0xff, N * 2));
    kern<<<env.sms, W * 32, smem>>>(tm, sh.dA, sh.dM, N, K, 6, sh.dO, env.code);
    CK(cudaDeviceSynchronize());
    proto_cmp cmp = proto_compare(sh);
    if (FAST) printf("   fast order: %d of %d differ from the exact order, relative L2 %.2e\n", cmp.bad, N, cmp.rel), cmp.bad = 0;
    double ms, msr;
    proto_time(env, sh, [&](int c, const u8* P, const float* M) { make_map(&tms[c], P, N, K, SEGB, W * R); cms[c] = M; },
               [&](int c) { kern<<<env.sms, W * 32, smem>>>(c < 0 ? tm : tms[c], sh.dA, c < 0 ? sh.dM : cms[c], N, K, 6, sh.dO, env.code); },
               &ms, &msr);
    const double bytes = proto_bytes(sh);
    printf("%-28s %5d x %5d  %8.4f ms %6.1f%% copy | rotated %8.4f ms %6.1f%%  %s\n", name, N, K, ms, 100.0 * bytes / ms / 1e6 / env.copy_gbs,
           msr, 100.0 * bytes / msr / 1e6 / env.copy_gbs,
           PROBE ? (PROBE == 1 ? "(probe: loads, no math)" : PROBE == 2 ? "(probe: no scales)" : PROBE == 3 ? "(probe: TMA only)" : "(setup only)") : cmp.bad ? "MISMATCH" : "exact");
    if (cmp.bad && !PROBE) printf("   %d of %d outputs differ\n", cmp.bad, N);
}

int main() {
    const proto_env env = proto_init("gemv_proto");
    {
        std::vector<float> et;
        cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
        for (int i = 0; i < 30; i++) {
            do_flush(env.flush, env.flushb, env.sms);
            cudaEventRecord(e0); empty_kernel<<<env.sms, 512>>>(); cudaEventRecord(e1); cudaEventSynchronize(e1);
            float ms; cudaEventElapsedTime(&ms, e0, e1); et.push_back(ms);
        }
        std::sort(et.begin(), et.end());
        printf("empty kernel (events around one launch, after a flush): %.4f ms\n", et[15]);
        cudaEventRecord(e0); for (int i = 0; i < 100; i++) empty_kernel<<<env.sms, 512>>>(); cudaEventRecord(e1); cudaEventSynchronize(e1);
        float ms; cudaEventElapsedTime(&ms, e0, e1);
        printf("empty kernel, 100 launches back to back: %.4f ms each\n", ms / 100);
    }
    for (int si = 0; si < 3; si++) {
        proto_shape sh = proto_shape_make(si, env);
        run_tm<16, 4, 1024, 0>("tm W16 R1 S4 SEG1K", env, sh);
        run_tm<16, 4, 1024, 3>("tm W16 R1 S4 SEG1K", env, sh);
        run_tm<16, 3, 1024, 0, 0, 2>("tm W16 R2 S3 SEG1K", env, sh);
        run_tm<16, 3, 1024, 1, 0, 2>("tm W16 R2 S3 SEG1K", env, sh);
        run_tm<16, 3, 1024, 0, 1, 2>("tm W16 R2 S3 SEG1K fast", env, sh);
        run_tm<8, 4, 1024, 0, 1, 2>("tm W8 R2 S4 SEG1K fast", env, sh);
        proto_shape_free(sh);
    }
    return 0;
}
