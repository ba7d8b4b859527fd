// i8_proto.cu - session 10's questions for LLM.int8's int8_vectorwise_quant at 4096 x 4096
// (threshold 6): can two passes, the second reading the input back from the L2, beat the one-pass
// rows kernel + fix pass? The input (32 MB f16) fits the H100's 50 MB L2, so:
//   P1: per row, max |a| over the non-outliers, the row statistic, the outlier columns' bits
//       (atomicOr), loads with an L2 evict_last policy (HINT 1) so that the row stays in the L2;
//   P2: per row, read it again (from the L2), codes with the outliers and EVERY outlier column
//       zeroed (the bitmask is complete when P2 starts): no fix pass, no snapshot.
// Measured against the same process's copy: cudaMemcpy moving as many bytes (48 MB) and a one-pass
// "copy-shaped" kernel (read the row, write a byte per element). Single calls after a 256 MB L2
// flush (median of 40) and back to back over 4 rotated inputs (median of 7 x 32 calls).
// Second question: where the one-pass path's time goes. bnbq's own kernels (kernels_src/int8.cu,
// included below: the init, the rows pass of 64-thread blocks, the fix pass, launched as
// bnbq__cu_int8_vectorwise_quant launches them) against the same call without the fix pass, the
// rows pass alone, and a copy-shaped kernel of the rows pass's geometry (64 threads, 8 pieces).
// nvcc -O3 -arch=sm_90 --fmad=false -o build/i8_proto bench/i8_proto.cu. Not embedded; the numbers
// are in bench/results/gpu-20261122-h100-session10-int8.txt.
#include "gemv_proto_common.cuh"
#define BNBQ_I8_PART 1
#include "../kernels_src/prelude.cuh"
#include "../kernels_src/int8.cu"

#define ROWS 4096
#define COLS 4096
#define TPB 128                      // threads a row block
#define NP (COLS / 8 / TPB)          // 16-byte pieces a thread
#define THR 6.0f

__device__ __forceinline__ u64 pol_last() { u64 p; asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(p)); return p; }
__device__ __forceinline__ u64 pol_first() { u64 p; asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(p)); return p; }
__device__ __forceinline__ uint4 ldh(const uint4* p, u64 pol) {
    uint4 v;
    asm volatile("ld.global.nc.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p), "l"(pol));
    return v;
}
__device__ __forceinline__ uint4 ld_plain(const uint4* p) { return __ldg(p); }
__device__ __forceinline__ float h2f(u32 h) { return __half2float(__ushort_as_half((unsigned short)h)); }
__device__ __forceinline__ u32 hget(const uint4& x, int i) {
    u32 w = i < 2 ? x.x : i < 4 ? x.y : i < 6 ? x.z : x.w;
    return (w >> ((i & 1) * 16)) & 0xffffu;
}
__device__ __forceinline__ float block_max(float m) {
    __shared__ float red[TPB / 32];
    for (int o = 16; o; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    m = red[0];
    for (int i = 1; i < TPB / 32; i++) m = fmaxf(m, red[i]);
    return m;
}
__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

// the row's statistic and outlier bits from its pieces
__device__ __forceinline__ float row_max(const uint4* x, u32* bm) {
    float m = 0.f;
#pragma unroll
    for (int j = 0; j < NP; j++) {
        const int p = j * TPB + threadIdx.x;
        u32 om = 0;
#pragma unroll
        for (int i = 0; i < 8; i++) {
            float v = fabsf(h2f(hget(x[j], i)));
            if (v >= THR) om |= 1u << i; else m = fmaxf(m, v);
        }
        if (om) atomicOr(&bm[(p * 8) >> 5], om << ((p * 8) & 31));
    }
    return block_max(m);
}
__device__ __forceinline__ uint2 codes(const uint4& x, float s, u32 zb) {
    u32 b[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float v = h2f(hget(x, i));
        int q = __float2int_rn(v * s);
        b[i] = (fabsf(v) >= THR || ((zb >> i) & 1u)) ? 0u : ((u32)q & 0xffu);
    }
    return make_uint2(b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24, b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24);
}

template <int HINT>
__global__ void __launch_bounds__(TPB) p1(const uint4* A, u32* bm, float* stats) {
    const uint4* a = A + (size_t)blockIdx.x * (COLS / 8);
    uint4 x[NP];
    const u64 pol = HINT ? pol_last() : 0;
#pragma unroll
    for (int j = 0; j < NP; j++) x[j] = HINT ? ldh(a + j * TPB + threadIdx.x, pol) : ld_plain(a + j * TPB + threadIdx.x);
    float m = row_max(x, bm);
    if (threadIdx.x == 0) stats[blockIdx.x] = m;
}

template <int HINT, int PDL>
__global__ void __launch_bounds__(TPB) p2(const uint4* A, const u32* bm, const float* stats, uint2* CA) {
    if (PDL) pdl_wait();
    const uint4* a = A + (size_t)blockIdx.x * (COLS / 8);
    uint2* q = CA + (size_t)blockIdx.x * (COLS / 8);
    const u64 pol = HINT ? pol_first() : 0;
    uint4 x[NP];
#pragma unroll
    for (int j = 0; j < NP; j++) x[j] = HINT ? ldh(a + j * TPB + threadIdx.x, pol) : ld_plain(a + j * TPB + threadIdx.x);
    const float m = stats[blockIdx.x], s = 127.0f * (1.0f / m);
#pragma unroll
    for (int j = 0; j < NP; j++) {
        const int p = j * TPB + threadIdx.x;
        const u32 zb = (__ldg(&bm[p >> 2]) >> ((p & 3) * 8)) & 0xffu;
        q[p] = codes(x[j], s, zb);
    }
}

// one pass, no outlier columns zeroed (what the rows kernel alone costs)
__global__ void __launch_bounds__(TPB) fused(const uint4* A, u32* bm, float* stats, uint2* CA) {
    const uint4* a = A + (size_t)blockIdx.x * (COLS / 8);
    uint2* q = CA + (size_t)blockIdx.x * (COLS / 8);
    uint4 x[NP];
#pragma unroll
    for (int j = 0; j < NP; j++) x[j] = ld_plain(a + j * TPB + threadIdx.x);
    float m = row_max(x, bm);
    if (threadIdx.x == 0) stats[blockIdx.x] = m;
    const float s = 127.0f * (1.0f / m);
#pragma unroll
    for (int j = 0; j < NP; j++) q[j * TPB + threadIdx.x] = codes(x[j], s, 0u);
}

// copy-shaped: read the row, write its high bytes
__global__ void __launch_bounds__(TPB) copyk(const uint4* A, uint2* CA) {
    const uint4* a = A + (size_t)blockIdx.x * (COLS / 8);
    uint2* q = CA + (size_t)blockIdx.x * (COLS / 8);
#pragma unroll
    for (int j = 0; j < NP; j++) {
        uint4 v = ld_plain(a + j * TPB + threadIdx.x);
        q[j * TPB + threadIdx.x] = make_uint2(__byte_perm(v.x, v.y, 0x7531), __byte_perm(v.z, v.w, 0x7531));
    }
}

// copy-shaped at the rows pass's geometry: 64 threads, 8 pieces a thread
__global__ void __launch_bounds__(64) copyk64(const uint4* A, uint2* CA) {
    const uint4* a = A + (size_t)blockIdx.x * (COLS / 8);
    uint2* q = CA + (size_t)blockIdx.x * (COLS / 8);
    uint4 v[8];
#pragma unroll
    for (int j = 0; j < 8; j++) v[j] = ld_plain(a + j * 64 + threadIdx.x);
#pragma unroll
    for (int j = 0; j < 8; j++) q[j * 64 + threadIdx.x] = make_uint2(__byte_perm(v[j].x, v[j].y, 0x7531), __byte_perm(v[j].z, v[j].w, 0x7531));
}
struct bufs { uint4* A; u32* bm; float* st; uint2* CA; void* cp; int* oc; int* nout; };

static void launch_p2(int hint, int pdl, const bufs& b) {
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    cfg.gridDim = dim3(ROWS); cfg.blockDim = dim3(TPB);
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at; cfg.numAttrs = pdl ? 1 : 0;
    const uint4* A = b.A; const u32* bm = b.bm; const float* st = b.st; uint2* CA = b.CA;
    if (hint && pdl) CK(cudaLaunchKernelEx(&cfg, p2<1, 1>, A, bm, st, CA));
    else if (hint) CK(cudaLaunchKernelEx(&cfg, p2<1, 0>, A, bm, st, CA));
    else if (pdl) CK(cudaLaunchKernelEx(&cfg, p2<0, 1>, A, bm, st, CA));
    else CK(cudaLaunchKernelEx(&cfg, p2<0, 0>, A, bm, st, CA));
}

static void launch_ex(const void* f, unsigned grid, unsigned block, unsigned sh, int pdl, void** args) {
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    cfg.gridDim = dim3(grid); cfg.blockDim = dim3(block); cfg.dynamicSmemBytes = sh;
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at; cfg.numAttrs = pdl ? 1 : 0;
    CK(cudaLaunchKernelExC(&cfg, f, args));
}
// bnbq's call at this shape (bnbq__cu_int8_vectorwise_quant without the snapshot): init, rows (PDL),
// fix (PDL), with main's kernels. fix 0: the fix pass is left out; init 0: a memset instead and a
// plain launch of the rows; thr: the threshold
static void bnbq_call(const bufs& b, int fix, int init = 1, float thr = THR) {
    u32* bm = (u32*)(b.oc + COLS - COLS / 32);
    u64 nw = COLS / 32, zero = 0, R = ROWS, C = COLS, lim = COLS - COLS / 32;
    void* nul = NULL;
    int zc = 1, fsm = 1;
    const u16* A = (const u16*)b.A; i8* CA = (i8*)b.CA; float* rs = b.st; int* oc = b.oc; int* no = b.nout;
    void* ai[7] = { &bm, &nw, &no, &nul, &zero, &nul, &zero };
    if (init) launch_ex((const void*)bnbq_k_int8_init, 1, 256, 0, 0, ai);
    else cudaMemsetAsync(bm, 0, COLS / 8);
    void* ar[7] = { (void*)&A, &R, &C, &thr, (void*)&CA, (void*)&rs, &bm };
    launch_ex((const void*)bnbq_k_int8_vw_rows_thr, ROWS, 64, 0, init, ar);
    if (fix) {
        void* af[10] = { (void*)&CA, &R, &C, (void*)&oc, (void*)&no, &bm, &nw, &zc, &lim, &fsm };
        launch_ex((const void*)bnbq_k_int8_vw_fix, (ROWS + 7) / 8 < 132 * 4 ? (ROWS + 7) / 8 : 132 * 4, 256, COLS / 8, 1, af);
    }
}

// variant v on buffer set b
static void run(int v, const bufs& b) {
    switch (v) {
    case 0: CK(cudaMemcpyAsync(b.cp, b.A, (size_t)ROWS * COLS * 3 / 2, cudaMemcpyDeviceToDevice)); break;   // 24 MB read + 24 written
    case 1: copyk<<<ROWS, TPB>>>(b.A, b.CA); break;
    case 2: cudaMemsetAsync(b.bm, 0, COLS / 8); fused<<<ROWS, TPB>>>(b.A, b.bm, b.st, b.CA); break;
    case 3: cudaMemsetAsync(b.bm, 0, COLS / 8); p1<0><<<ROWS, TPB>>>(b.A, b.bm, b.st); launch_p2(0, 0, b); break;
    case 4: cudaMemsetAsync(b.bm, 0, COLS / 8); p1<1><<<ROWS, TPB>>>(b.A, b.bm, b.st); launch_p2(1, 0, b); break;
    case 5: cudaMemsetAsync(b.bm, 0, COLS / 8); p1<0><<<ROWS, TPB>>>(b.A, b.bm, b.st); launch_p2(0, 1, b); break;
    case 6: cudaMemsetAsync(b.bm, 0, COLS / 8); p1<1><<<ROWS, TPB>>>(b.A, b.bm, b.st); launch_p2(1, 1, b); break;
    case 7: cudaMemsetAsync(b.bm, 0, COLS / 8); p1<1><<<ROWS, TPB>>>(b.A, b.bm, b.st); break;               // P1 alone
    case 8: launch_p2(1, 0, b); break;                                                                       // P2 alone (input cold)
    case 9: bnbq_call(b, 1); break;
    case 10: bnbq_call(b, 0); break;
    case 11: bnbq_call(b, 0, 0); break;
    case 12: copyk64<<<ROWS, 64>>>(b.A, b.CA); break;
    case 13: bnbq_call(b, 0, 0, 1000.0f); break;
    case 14: bnbq_call(b, 1, 1, 1000.0f); break;
    }
}
static const char* names[] = {
    "cudaMemcpy of 24 MB (48 MB moved; the copy's own)",
    "copy-shaped kernel (32 MB read, 16 MB written)",
    "one pass, no column fix (the rows kernel alone)",
    "P1 + P2, no hints, plain launches",
    "P1 + P2, evict_last / evict_first, plain launches",
    "P1 + P2, no hints, P2 by PDL",
    "P1 + P2, evict_last / evict_first, P2 by PDL",
    "P1 alone (32 MB read, evict_last)",
    "P2 alone, its input NOT in the L2 (48 MB)",
    "bnbq's call: init + rows_thr + fix (PDL)",
    "bnbq's call without the fix pass",
    "memset + rows_thr alone (plain launch)",
    "copy-shaped, rows_thr's geometry (64 thr x 8 pieces)",
    "memset + rows_thr alone, threshold 1000 (no outliers)",
    "bnbq's call, threshold 1000 (no outliers)",
};

int main() {
    proto_env env = proto_init("i8_proto");
    const int NC = 4;
    const size_t ab = (size_t)ROWS * COLS * 2, cb = (size_t)ROWS * COLS;
    // the input: normal-ish data, 1 % of the columns with |x| in [6, 20) in every tenth row
    std::vector<unsigned short> h((size_t)ROWS * COLS);
    u64 seed = 99;
    for (size_t i = 0; i < h.size(); i++) {
        float u = frand(&seed) + frand(&seed) + frand(&seed) - 1.5f;
        h[i] = __half_as_ushort(__float2half_rn(2.0f * u));
    }
    int nout = 0;
    for (int c = 0; c < COLS; c++) {
        if (frand(&seed) >= 0.01f) continue;
        for (int r = (int)(frand(&seed) * 10); r < ROWS; r += 10) {
            h[(size_t)r * COLS + c] = __half_as_ushort(__float2half_rn((frand(&seed) < 0.5f ? -1.f : 1.f) * (6.f + 14.f * frand(&seed))));
            nout++;
        }
    }
    printf("input %dx%d f16, %d outliers; TPB %d, %d pieces a thread\n", ROWS, COLS, nout, TPB, NP);
    bufs b[NC];
    for (int c = 0; c < NC; c++) {
        CK(cudaMalloc(&b[c].A, ab)); CK(cudaMalloc(&b[c].CA, cb)); CK(cudaMalloc(&b[c].bm, COLS / 8)); CK(cudaMalloc(&b[c].st, ROWS * 4)); CK(cudaMalloc(&b[c].cp, ab * 3 / 4)); CK(cudaMalloc(&b[c].oc, COLS * 4)); CK(cudaMalloc(&b[c].nout, 4));
        CK(cudaMemcpy(b[c].A, h.data(), ab, cudaMemcpyHostToDevice));
    }
    // correctness of P1 + P2 (variant 6) and of bnbq's call (variant 9) against a plain host computation
    for (int cv : {6, 9}) {
        CK(cudaMemset(b[0].CA, 0x55, cb));
        run(cv, b[0]);
        CK(cudaDeviceSynchronize());
        std::vector<signed char> q(cb);
        CK(cudaMemcpy(q.data(), b[0].CA, cb, cudaMemcpyDeviceToHost));
        std::vector<int> oc(COLS, 0);
        std::vector<float> m(ROWS, 0.f);
        for (int r = 0; r < ROWS; r++)
            for (int c = 0; c < COLS; c++) {
                float v = fabsf(__half2float(__ushort_as_half(h[(size_t)r * COLS + c])));
                if (v >= THR) oc[c] = 1; else m[r] = std::max(m[r], v);
            }
        size_t bad = 0;
        for (int r = 0; r < ROWS; r++) {
            float s = 127.0f * (1.0f / m[r]);
            for (int c = 0; c < COLS; c++) {
                float v = __half2float(__ushort_as_half(h[(size_t)r * COLS + c]));
                int e = (oc[c] || fabsf(v) >= THR) ? 0 : (int)(signed char)(nearbyintf(v * s));
                if (q[(size_t)r * COLS + c] != e) bad++;
            }
        }
        int ncols = 0, gn = -1;
        for (int c = 0; c < COLS; c++) ncols += oc[c];
        if (cv != 6) CK(cudaMemcpy(&gn, b[0].nout, 4, cudaMemcpyDeviceToHost));
        printf("variant %d: codes vs host: %zu of %zu differ; outlier columns %d (GPU count %d)\n", cv, bad, cb, ncols, gn);
    }
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0); cudaEventCreate(&e1);
    const double bytes = (double)ab + (double)cb + ROWS * 4.0;
    printf("copy rate (1 GiB D2D): %.0f GB/s; %% below = (48 MB / time) / that\n", env.copy_gbs);
    for (int v = 0; v <= 14; v++) {
        std::vector<float> ts, tr;
        for (int it = 0; it < 45; it++) {
            do_flush(env.flush, env.flushb, env.sms);
            cudaEventRecord(e0);
            run(v, b[it % NC]);
            cudaEventRecord(e1);
            CK(cudaEventSynchronize(e1));
            float t; cudaEventElapsedTime(&t, e0, e1);
            if (it >= 5) ts.push_back(t);
        }
        for (int rep = 0; rep < 7; rep++) {
            cudaEventRecord(e0);
            for (int it = 0; it < 32; it++) run(v, b[it % NC]);
            cudaEventRecord(e1);
            CK(cudaEventSynchronize(e1));
            float t; cudaEventElapsedTime(&t, e0, e1);
            tr.push_back(t / 32);
        }
        CK(cudaGetLastError());
        std::sort(ts.begin(), ts.end()); std::sort(tr.begin(), tr.end());
        double vb = v == 0 ? 1.5 * ab : v == 7 ? (double)ab : bytes;
        double s1 = ts[ts.size() / 2], s2 = tr[3];
        printf("%d %-52s single %7.2f us %5.1f %% | back to back %7.2f us %5.1f %%  (as 48 MB: %5.1f | %5.1f %%)\n", v, names[v],
               s1 * 1e3, vb / (s1 * 1e6) / env.copy_gbs * 100, s2 * 1e3, vb / (s2 * 1e6) / env.copy_gbs * 100,
               bytes / (s1 * 1e6) / env.copy_gbs * 100, bytes / (s2 * 1e6) / env.copy_gbs * 100);
    }
    return 0;
}
