// The layers' building blocks (bnbq.h >>prims): GEMM, column sums, layer norm (+ backward), row
// gathers (plain, int8, 4-bit) and their backward, renorm, transpose, the LLM.int8 outlier product,
// column gather / scatter, int8 weight dequantization. Compiled as units chosen with -D (each a
// variant listed in bnbq_cuda.h's BNBQ__CU_VARIANTS_PRIMS):
//   BNBQ_DT=0/1/2  the kernels on float tensors of that dtype (a compile-time constant)
//   (no BNBQ_DT)   the dtype-free data movement: transpose, gather_rows, gather_columns
// Each kernel is its own compilation unit (the launcher picks one).
// Index errors (an index outside [0, num_rows), an outlier column outside [0, K)): the output row or
// element is zeroed / skipped and *err = 1 (the context's sticky flag; bnbq_sync reports it).
// Exact ops use the CPU's float operations one by one (--fmad=false); reductions sum in float32.

#define PR_FULL 0xffffffffu

#if defined(BNBQ_DT)

// a 16-bit element of the unit's dtype widened (f16: for arithmetic only, bnbq_dt_ld's)
BNBQ_DEV float pr_h2f(u16 h) { return BNBQ_DT == BNBQ_F16 ? bnbq_h2f_arith(h) : bnbq_bf16_to_f32(h); }
// one RNE rounding to dt (NaN: canonical), as bnbq.h's bnbq__store
BNBQ_DEV void pr_st(void* p, u64 i, float v) {
    if (BNBQ_DT == BNBQ_F16) ((u16*)p)[i] = bnbq_f16_canon(v);
    else bnbq_store(BNBQ_DT, p, i, v);
}

BNBQ_DEV float pr_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v = v + __shfl_xor_sync(PR_FULL, v, o);
    return v;
}
// the sum of v over the block (every thread gets it); red: 32 floats of shared memory
BNBQ_DEV float pr_block_sum(float v, float* red) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = pr_warp_sum(v);
    if (lane == 0) red[w] = v;
    __syncthreads();
    float t = 0.0f;
    for (int i = 0; i < nw; i++) t = t + red[i];
    __syncthreads();
    return t;
}

// out[e] = dt(v (+ bias[n]) (+ out[e])): an output element of the GEMM kernels (a function of its own:
// the unrolled 4 x 4 / MR x 4 epilogues called it inline 16 times, a good part of their units' NVRTC time)
__device__ __noinline__ void pr_out(float v, u64 e, u64 n, const void* bias, int accumulate, void* out) {
    if (bias) v = v + bnbq_dt_ld(bias, n);
    if (accumulate) v = v + bnbq_dt_ld(out, e);
    pr_st(out, e, v);
}

// ---- GEMM: out (M, N) = op(A) @ op(B) [+ bias] [+ out] -----------------------------------------
// Tiles of 64 x 64 outputs, 16 of K per step, 256 threads with 4 x 4 outputs each, float32 FMA.
// ta: A stored (K, M); tb: B stored (N, K). Loads follow the storage order (coalesced either way).
#define PR_BM 64
#define PR_BN 64
#define PR_BK 16

// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_gemm(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, int tb, const void* bias,
            int accumulate, void* out) {
    __shared__ __align__(16) float As[PR_BK][PR_BM + 4];   // [k][m]
    __shared__ __align__(16) float Bs[PR_BK][PR_BN + 4];   // [k][n]
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const u64 mtiles = (M + PR_BM - 1) / PR_BM;
    const u64 n0 = (u64)blockIdx.x * PR_BN;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * PR_BM;
        float acc[4][4];
        bnbq_tile4x4_zero(acc);
        for (u64 k0 = 0; k0 < K; k0 += PR_BK) {
#pragma unroll
            for (int h = 0; h < 4; h++) {
                const int e = tid + 256 * h;
                {
                    const int row = ta ? (e & 63) : (e >> 4), kk = ta ? (e >> 6) : (e & 15);
                    const u64 m = m0 + (u64)row, k = k0 + (u64)kk;
                    float a = 0.0f;
                    if (m < M && k < K) a = bnbq_dt_ld(A, ta ? k * M + m : m * K + k);
                    As[kk][row] = a;
                }
                {
                    const int col = tb ? (e >> 4) : (e & 63), kk = tb ? (e & 15) : (e >> 6);
                    const u64 n = n0 + (u64)col, k = k0 + (u64)kk;
                    float b = 0.0f;
                    if (n < N && k < K) b = bnbq_dt_ld(B, tb ? n * K + k : k * N + n);
                    Bs[kk][col] = b;
                }
            }
            __syncthreads();
            bnbq_tile4x4_step<PR_BK, PR_BM + 4, true>(acc, As, Bs, ty, tx);
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const u64 m = m0 + (u64)ty * 4 + (u64)i;
            if (m >= M) break;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const u64 n = n0 + (u64)tx * 4 + (u64)j;
                if (n < N) pr_out(acc[i][j], m * N + n, n, bias, accumulate, out);
            }
        }
    }
}

// Few rows (M <= 64, B stored (N, K): out = X @ W^T with few tokens): a warp per PR_SW = 4 output
// columns n and MR rows m (blockIdx.x: the group of MR rows, so the blocks sharing the W rows are
// launched together; blockIdx.y * 4 + warp (grid-stride): the column group). Lane l takes the
// elements k of [k0, k0 + V) (V = 16 bytes of dt) for k0 = V * l, V * (l + 32), ...: 16-byte
// loads of W (and of A when not ta), float32 FMA in k order per lane, then the MR x 4 sums over the
// lanes by halving exchanges (pr_warp_sums: 15 shuffles for MR = 4 instead of 80, and one store a
// lane instead of 16 unrolled ones; a fixed order: deterministic). vec: 16-byte loads allowed (K *
// size and both pointers). Measured on the H100 against the 16 full warp sums it replaced (session
// 11, bench/results/gpu-20261122-h100-session11-compile.txt): NVRTC time of gemm_few4 -35..-40 %,
// M = 16 x 4096 x 4096 f16 / bf16 0.040 -> 0.035 ms.
#define PR_SW 4
#define PR_SV (BNBQ_DT == BNBQ_F32 ? 4 : 8)
// V elements [k, k + V) of a dt row at p (row start e0), widened; past K: 0
BNBQ_DEV void pr_ldv(const void* p, u64 e0, u64 k, u64 K, int vec, float* v) {
    if (vec && k + PR_SV <= K) {
        const uint4 q = *(const uint4*)((const char*)p + (e0 + k) * (BNBQ_DT == BNBQ_F32 ? 4 : 2));
        const u32 w[4] = { q.x, q.y, q.z, q.w };
#pragma unroll
        for (int i = 0; i < 4; i++) {
            if (BNBQ_DT == BNBQ_F32) v[i] = __uint_as_float(w[i]);
            else if (BNBQ_DT == BNBQ_F16) {
                v[2 * i] = bnbq_h2f_arith((u16)(w[i] & 0xffffu));
                v[2 * i + 1] = bnbq_h2f_arith((u16)(w[i] >> 16));
            } else {
                v[2 * i] = __uint_as_float(w[i] << 16);
                v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
            }
        }
    } else {
#pragma unroll
        for (int i = 0; i < PR_SV; i++) v[i] = k + (u64)i < K ? bnbq_dt_ld(p, e0 + k + (u64)i) : 0.0f;
    }
}

// 16 bytes of W, read past L1 (streamed once; L1 keeps the activation rows)
BNBQ_DEV uint4 pr_ld_stream(const void* p) {
    uint4 q;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(q.x), "=r"(q.y), "=r"(q.z), "=r"(q.w) : "l"(p));
    return q;
}
BNBQ_DEV void pr_widen16(uint4 q, float* v) {
    const u32 w[4] = { q.x, q.y, q.z, q.w };
#pragma unroll
    for (int i = 0; i < 4; i++) {
        if (BNBQ_DT == BNBQ_F32) v[i] = __uint_as_float(w[i]);
        else if (BNBQ_DT == BNBQ_F16) {
            v[2 * i] = bnbq_h2f_arith((u16)(w[i] & 0xffffu));
            v[2 * i + 1] = bnbq_h2f_arith((u16)(w[i] >> 16));
        } else {
            v[2 * i] = __uint_as_float(w[i] << 16);
            v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        }
    }
}

// The warp's sums of V values (V a power of two <= 32) of every lane, by halving exchanges: at
// offset o = 16, 8, ... a lane keeps the half of its values that its bit o selects and adds its
// partner's copy of that half (log2 V rounds, V - 1 shuffles), then the single value left is summed
// over the remaining lane bits. Returns the sum of value *idx; every lane whose bits below the last
// halving offset are 0 holds a distinct one (v is clobbered). A fixed order: deterministic.
template <int V>
BNBQ_DEV float pr_warp_sums(float* v, int lane, int* idx) {
    int base = 0;
#pragma unroll
    for (int o = 16, n = V; o >= 1; o >>= 1) {
        if (n > 1) {
            const int half = n >> 1, up = (lane & o) != 0;
#pragma unroll
            for (int t = 0; t < half; t++) {
                const float send = up ? v[t] : v[t + half];
                const float keep = up ? v[t + half] : v[t];
                v[t] = keep + __shfl_xor_sync(PR_FULL, send, o);
            }
            base += up ? half : 0;
            n = half;
        } else {
            v[0] = v[0] + __shfl_xor_sync(PR_FULL, v[0], o);
        }
    }
    *idx = base;
    return v[0];
}

template <int MR>
BNBQ_DEV void pr_gemm_few(const void* A, const void* B, u64 M, u64 N, u64 K, int ta,
                          const void* bias, int accumulate, void* out, int vec) {
    // U chunks per fast step (all their loads issued first): more bytes in flight with few rows
    const int U = MR == 1 ? 4 : 1;
    const u64 es = BNBQ_DT == BNBQ_F32 ? 4 : 2;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpb = blockDim.x >> 5;
    const u64 m0 = (u64)blockIdx.x * MR;
    const int mr = M - m0 < (u64)MR ? (int)(M - m0) : MR;
    const u64 groups = (N + PR_SW - 1) / PR_SW;
    for (u64 g = (u64)blockIdx.y * wpb + (u64)warp; g < groups; g += (u64)gridDim.y * wpb) {
        const u64 n0 = g * PR_SW;
        float acc[MR][PR_SW];
#pragma unroll
        for (int m = 0; m < MR; m++)
#pragma unroll
            for (int j = 0; j < PR_SW; j++) acc[m][j] = 0.0f;
        u64 k = (u64)lane * PR_SV;
        // fast steps: 16-byte loads, every W row of the group (rows past N: row n0) and every A
        // row (rows past mr: row m0; both computed and dropped), issued before the arithmetic
        if (vec && !ta)
            for (; k + (u64)(U - 1) * 32 * PR_SV + PR_SV <= K; k += (u64)U * 32 * PR_SV) {
                uint4 wq[U][PR_SW], aq[U][MR];
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const u64 kk = k + (u64)u * 32 * PR_SV;
#pragma unroll
                    for (int j = 0; j < PR_SW; j++) {
                        const u64 n = n0 + (u64)j < N ? n0 + (u64)j : n0;
                        wq[u][j] = pr_ld_stream((const char*)B + (n * K + kk) * es);
                    }
#pragma unroll
                    for (int m = 0; m < MR; m++) {
                        const u64 r = m < mr ? m0 + (u64)m : m0;
                        aq[u][m] = *(const uint4*)((const char*)A + (r * K + kk) * es);
                    }
                }
#pragma unroll
                for (int u = 0; u < U; u++) {
                    float w[PR_SW][PR_SV];
#pragma unroll
                    for (int j = 0; j < PR_SW; j++) pr_widen16(wq[u][j], w[j]);
#pragma unroll
                    for (int m = 0; m < MR; m++) {
                        float a[PR_SV];
                        pr_widen16(aq[u][m], a);
#pragma unroll
                        for (int j = 0; j < PR_SW; j++)
#pragma unroll
                            for (int i = 0; i < PR_SV; i++) acc[m][j] = fmaf(a[i], w[j][i], acc[m][j]);
                    }
                }
            }
        // the rest (and every step without 16-byte loads), one chunk at a time, same k order:
        // element by element (a loop that is not unrolled keeps this rare path's code, and the
        // unit's NVRTC time, small; the fmaf order per (m, j) is the same as the fast steps')
        for (; k < K; k += 32 * PR_SV) {
#pragma unroll 1
            for (int i = 0; i < PR_SV; i++) {
                const u64 kk = k + (u64)i;
                float w[PR_SW];
                if (kk >= K) break;
#pragma unroll
                for (int j = 0; j < PR_SW; j++)
                    w[j] = n0 + (u64)j < N ? bnbq_dt_ld(B, (n0 + (u64)j) * K + kk) : 0.0f;
#pragma unroll
                for (int m = 0; m < MR; m++) {
                    const u64 r = m < mr ? m0 + (u64)m : m0;
                    const float a = ta ? bnbq_dt_ld(A, kk * M + r) : bnbq_dt_ld(A, r * K + kk);
#pragma unroll
                    for (int j = 0; j < PR_SW; j++) acc[m][j] = fmaf(a, w[j], acc[m][j]);
                }
            }
        }
        // the warp's MR x PR_SW sums, one per lane (pr_warp_sums): lane l holds value idx; the lanes
        // with l % (32 / (MR PR_SW)) == 0 hold distinct ones and store them
        {
            float v[MR * PR_SW];
            int idx;
#pragma unroll
            for (int m = 0; m < MR; m++)
#pragma unroll
                for (int j = 0; j < PR_SW; j++) v[m * PR_SW + j] = acc[m][j];
            const float sum = pr_warp_sums<MR * PR_SW>(v, lane, &idx);
            const int m = idx / PR_SW, j = idx % PR_SW;
            const u64 n = n0 + (u64)j;
            if ((lane & (32 / (MR * PR_SW) - 1)) == 0 && m < mr && n < N)
                pr_out(sum, (m0 + (u64)m) * N + n, n, bias, accumulate, out);
        }
    }
}
extern "C" __global__ void __launch_bounds__(128)
bnbq_k_gemm_few1(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, const void* bias,
                 int accumulate, void* out, int vec) {
    pr_gemm_few<1>(A, B, M, N, K, ta, bias, accumulate, out, vec);
}
extern "C" __global__ void __launch_bounds__(128)
bnbq_k_gemm_few4(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, const void* bias,
                 int accumulate, void* out, int vec) {
    pr_gemm_few<4>(A, B, M, N, K, ta, bias, accumulate, out, vec);
}

// Tensor cores (f16 / bf16, sm_80+; the launcher picks it): mma.sync m16n8k16 with float32
// accumulation. Tiles of 128 x 128 outputs, 32 of K per step, 8 warps of 64 x 32 outputs. The tiles
// sit in shared memory K-contiguous (A as [m][k], B as [n][k]) whatever the storage order; the raw
// 16-bit elements are copied (a NaN / inf flows through the products as in the SIMT kernel).
#if BNBQ_DT != BNBQ_F32
#define PR_TM 128
#define PR_TN 128
#define PR_TK 32
#define PR_TLD (PR_TK + 8)   // row stride in u16: 20 words, fragment reads without bank conflicts

// Few tokens on tensor cores (the launcher: 2..16 rows of A, B stored (N, K), A stored (M, K), K % 16
// == 0, A and B 16-byte aligned; sm_80+): out = X @ W^T with W as the mma's A operand (16 rows of W a
// tile) and the tokens as its B (8 a tile; 9..16 tokens: a second). A block takes 16 rows of W and its
// PR_FW warps split K in steps of 64: lane (g, q) loads the 16 elements [64 s + 16 q, + 16) of W's rows
// g and g + 8 and of tokens g and g + 8 (two 16-byte loads each), mma j (0..3) gets their elements
// 4j .. 4j + 3 (the k order permuted alike for both operands: the products exact, the float32 sums in
// the tensor cores' order, as bnbq_k_gemm_tc). The warps' sums meet in shared memory in warp order;
// pr_out adds the bias / the old out. (bnbq_k_gemm_few4 streamed W once per 4 rows of A: StandardLinear
// at 16 tokens 1.6-1.9x cuBLAS f16 on the H100; this kernel 1.03-1.14x. 16 warps a block measured
// 0.97-1.15x, no better overall: bench/results/gpu-20261123-h100-session20-gemm-mma.txt.)
#define PR_FW 8
extern "C" __global__ void __launch_bounds__(PR_FW * 32)
bnbq_k_gemm_mma(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,
                void* out) {
    __shared__ float red[PR_FW][16][17];
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)   // [warp][row of W][token]
    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5, g = lane >> 2, q = lane & 3u;
    const u64 K16 = K >> 4, steps = (K16 + 3) >> 2;
    const bool two = M > 8;
    const uint4 z = make_uint4(0u, 0u, 0u, 0u);
    const u16* X = (const u16*)A;
    const u16* W = (const u16*)B;
    for (u64 n0 = (u64)blockIdx.x * 16u; n0 < N; n0 += (u64)gridDim.x * 16u) {
        const u64 na = n0 + g, nb = n0 + g + 8u;
        float c0[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, c1[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (u64 s = w; s < steps; s += PR_FW) {
            const u64 ch = s * 4u + q;   // this lane's 16-element chunk of the rows
            const bool in = ch < K16;
            uint4 wa[2], wb[2], x0[2], x1[2];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                wa[i] = in && na < N ? __ldg((const uint4*)(W + na * K + ch * 16u) + i) : z;
                wb[i] = in && nb < N ? __ldg((const uint4*)(W + nb * K + ch * 16u) + i) : z;
                x0[i] = in && g < M ? __ldg((const uint4*)(X + (u64)g * K + ch * 16u) + i) : z;
                x1[i] = in && two && g + 8u < M ? __ldg((const uint4*)(X + (u64)(g + 8u) * K + ch * 16u) + i) : z;
            }
            const u32 ra[8] = { wa[0].x, wa[0].y, wa[0].z, wa[0].w, wa[1].x, wa[1].y, wa[1].z, wa[1].w };
            const u32 rb[8] = { wb[0].x, wb[0].y, wb[0].z, wb[0].w, wb[1].x, wb[1].y, wb[1].z, wb[1].w };
            const u32 t0[8] = { x0[0].x, x0[0].y, x0[0].z, x0[0].w, x0[1].x, x0[1].y, x0[1].z, x0[1].w };
            const u32 t1[8] = { x1[0].x, x1[0].y, x1[0].z, x1[0].w, x1[1].x, x1[1].y, x1[1].z, x1[1].w };
#pragma unroll
            for (int j = 0; j < 4; j++) {   // elements 4j .. 4j + 3: words 2j (a0, a1, b0) and 2j + 1 (a2, a3, b1)
                const u32 a[4] = { ra[2 * j], rb[2 * j], ra[2 * j + 1], rb[2 * j + 1] };
                bnbq_mma16816(c0, a[0], a[1], a[2], a[3], t0[2 * j], t0[2 * j + 1]);
                if (two) bnbq_mma16816(c1, a[0], a[1], a[2], a[3], t1[2 * j], t1[2 * j + 1]);
            }
        }
        bnbq_mma_stash(red[w], g, q, c0, c1);
        __syncthreads();
        for (u32 o = tid; o < 256u; o += blockDim.x) {
            const u32 m = o >> 4, nl = o & 15u;
            const u64 n = n0 + nl;
            if ((u64)m < M && n < N) {
                pr_out(bnbq_mma_unstash<PR_FW>(red, nl, m), (u64)m * N + n, n, bias, accumulate, out);
            }
        }
        __syncthreads();
    }
}

// Few tokens, B stored (K, N) on tensor cores (the launcher: 1..16 rows of A, A stored (M, K), K % 16
// == 0, N % 4 == 0, A 8-byte and B 8-byte aligned; sm_80+): out = X @ W, the backward's dY @ W.
// The tokens are the mma's A operand (all 16 in one tile: rows >= M are zero) and W its B. A block
// takes 32 columns of W and its PR_NW warps split K in steps of 16 (PR_NU of them loaded at once). Lane (g, q) reads rows
// k + 4q .. k + 4q + 3 of W at columns 4g .. 4g + 3 of the tile (8 bytes each: the 8 lanes of a q
// read 64 contiguous bytes of a row) and X[g], X[g + 8] at k + 4q .. k + 4q + 3; mma i (0..3) takes
// column 4g + i of the tile as its column g, its k pairs (2q, 2q + 1) and (2q + 8, 2q + 9) being rows
// (4q, 4q + 1) and (4q + 2, 4q + 3) (the same permutation of k for X: products exact, float32 sums in
// the tensor cores' order). D[token][2q + j] of mma i is column 4 (2q + j) + i. The warps' sums meet in
// shared memory in warp order; pr_out adds the bias / the old out. (bnbq_k_gemm_tc's 128 x 128 tiles
// gave such a product 32 blocks: StandardLinear's backward at 16 tokens took 0.5 ms on the H100.)
#define PR_NW 8   // warps a block (the launcher's BNBQ__CU_GEMM_NW)
#define PR_NU 4   // steps a warp loads at once
extern "C" __global__ void __launch_bounds__(PR_NW * 32)
bnbq_k_gemm_mma_nn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,
                   void* out) {
    __shared__ float red[PR_NW][16][33];
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)   // [warp][token][column of the tile]
    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5, g = lane >> 2, q = lane & 3u;
    const u64 steps = K >> 4;
    const u16* X = (const u16*)A;
    const u16* W = (const u16*)B;
    for (u64 n0 = (u64)blockIdx.x * 32u; n0 < N; n0 += (u64)gridDim.x * 32u) {
        const u64 nc = n0 + 4u * g;   // this lane's 4 columns
        const bool cin = nc < N;       // (N % 4 == 0: all four or none)
        float c[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++) c[i][0] = c[i][1] = c[i][2] = c[i][3] = 0.0f;
        for (u64 s0 = w; s0 < steps; s0 += PR_NW * PR_NU) {   // PR_NU steps' loads in flight at once
            uint2 wr[PR_NU][4], x0[PR_NU], x1[PR_NU];
#pragma unroll
            for (int u = 0; u < PR_NU; u++) {   // a step past K: zeros (products +0)
                const u64 st = s0 + (u64)u * PR_NW, k = st * 16u + 4u * q;
                const bool in = st < steps;
#pragma unroll
                for (int j = 0; j < 4; j++)
                    wr[u][j] = in && cin ? __ldg((const uint2*)(W + (k + (u64)j) * N + nc)) : make_uint2(0u, 0u);
                x0[u] = in && g < M ? __ldg((const uint2*)(X + (u64)g * K + k)) : make_uint2(0u, 0u);
                x1[u] = in && g + 8u < M ? __ldg((const uint2*)(X + (u64)(g + 8u) * K + k)) : make_uint2(0u, 0u);
            }
#pragma unroll
            for (int u = 0; u < PR_NU; u++)
#pragma unroll
                for (int i = 0; i < 4; i++) {   // column 4g + i: its 16-bit half of rows j = 0..3
                    const u32 sel = (i & 1) ? 0x7632u : 0x5410u;
                    const u32 w0 = (i < 2) ? wr[u][0].x : wr[u][0].y, w1 = (i < 2) ? wr[u][1].x : wr[u][1].y;
                    const u32 w2 = (i < 2) ? wr[u][2].x : wr[u][2].y, w3 = (i < 2) ? wr[u][3].x : wr[u][3].y;
                    bnbq_mma16816(c[i], x0[u].x, x1[u].x, x0[u].y, x1[u].y, __byte_perm(w0, w1, sel),
                                  __byte_perm(w2, w3, sel));
                }
        }
        // c[i]: tokens g (0, 1) and g + 8 (2, 3), columns 4 (2q) + i and 4 (2q + 1) + i of the tile
#pragma unroll
        for (int i = 0; i < 4; i++) {
            red[w][g][8u * q + (u32)i] = c[i][0];
            red[w][g][8u * q + 4u + (u32)i] = c[i][1];
            red[w][g + 8u][8u * q + (u32)i] = c[i][2];
            red[w][g + 8u][8u * q + 4u + (u32)i] = c[i][3];
        }
        __syncthreads();
        for (u32 o = tid; o < 512u; o += blockDim.x) {
            const u32 m = o >> 5, nl = o & 31u;
            const u64 n = n0 + nl;
            if ((u64)m < M && n < N) {
                float v = 0.0f;
#pragma unroll
                for (int k = 0; k < PR_NW; k++) v = v + red[k][m][nl];
                pr_out(v, (u64)m * N + n, n, bias, accumulate, out);
            }
        }
        __syncthreads();
    }
}

// Small K, A transposed (the launcher: A stored (K, M), B stored (K, N), K <= 16, M % 4 == 0, N % 8
// == 0, A and B 8-byte and out 16-byte aligned; sm_80+): out = A^T @ B, the backward's weight gradient
// dY^T @ X with K = the tokens. One mma k-step covers K (rows >= K are zero). A warp takes 64 rows x
// 32 columns of out: lane (g, q) reads 8 bytes of A's rows 2q, 2q + 1, 2q + 8, 2q + 9 at rows
// 4g .. 4g + 3 and 32 + 4g .. 32 + 4g + 3 of the tile, and of B's same rows at columns 4g .. 4g + 3;
// prmt pairs the two rows of each element into the mma's registers. mma (i, j) (i, j = 0..3) takes
// tile rows 4g + i (its row g) and 32 + 4g + i (g + 8) and tile columns 4g + j (its column g), so its
// D[r][2q + t] is out row 4r' + i (r' = r, or 32 + 4 (r - 8) for r >= 8) and column 4 (2q + t) + j.
// The warp's 64 x 32 sums go through shared memory and leave as 16-byte stores (pr_out's bias / old
// out added in float32 first). (bnbq_k_gemm_tc wrote its fragments 2 bytes at a time: StandardLinear's
// weight gradient at 16 tokens x 4096^2 took 83 us on the H100, cuBLAS 17.)
#define PR_KW 4   // warps a block (the launcher's BNBQ__CU_GEMM_KW); the block: 64 rows x 32 PR_KW columns
extern "C" __global__ void __launch_bounds__(PR_KW * 32)
bnbq_k_gemm_smallk(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,
                   void* out) {
    __shared__ float sh[PR_KW][64][33];
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)   // [warp][row of the tile][column]
    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;
    const u16* G = (const u16*)A;
    const u16* X = (const u16*)B;
    const u64 tm = (M + 63) / 64, tn = (N + 32 * PR_KW - 1) / (32 * PR_KW);
    const uint2 z = make_uint2(0u, 0u);
    for (u64 t = blockIdx.x; t < tm * tn; t += gridDim.x) {
        const u64 m0 = (t / tn) * 64u, n0 = (t % tn) * (32u * PR_KW) + 32u * w;
        const u64 ma = m0 + 4u * g, mb = m0 + 32u + 4u * g, nc = n0 + 4u * g;
        uint2 ga[4], gb[4], xb[4];   // rows 2q, 2q + 1, 2q + 8, 2q + 9
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const u64 k = 2u * q + (u64)(r & 1) + (r >= 2 ? 8u : 0u);
            ga[r] = k < K && ma < M ? __ldg((const uint2*)(G + k * M + ma)) : z;
            gb[r] = k < K && mb < M ? __ldg((const uint2*)(G + k * M + mb)) : z;
            xb[r] = k < K && nc < N ? __ldg((const uint2*)(X + k * N + nc)) : z;
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const u32 si = (i & 1) ? 0x7632u : 0x5410u;
            const u32 a0 = __byte_perm(i < 2 ? ga[0].x : ga[0].y, i < 2 ? ga[1].x : ga[1].y, si);
            const u32 a1 = __byte_perm(i < 2 ? gb[0].x : gb[0].y, i < 2 ? gb[1].x : gb[1].y, si);
            const u32 a2 = __byte_perm(i < 2 ? ga[2].x : ga[2].y, i < 2 ? ga[3].x : ga[3].y, si);
            const u32 a3 = __byte_perm(i < 2 ? gb[2].x : gb[2].y, i < 2 ? gb[3].x : gb[3].y, si);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const u32 sj = (j & 1) ? 0x7632u : 0x5410u;
                const u32 b0 = __byte_perm(j < 2 ? xb[0].x : xb[0].y, j < 2 ? xb[1].x : xb[1].y, sj);
                const u32 b1 = __byte_perm(j < 2 ? xb[2].x : xb[2].y, j < 2 ? xb[3].x : xb[3].y, sj);
                float c[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
                bnbq_mma16816(c, a0, a1, a2, a3, b0, b1);
                sh[w][4u * g + (u32)i][8u * q + (u32)j] = c[0];
                sh[w][4u * g + (u32)i][8u * q + 4u + (u32)j] = c[1];
                sh[w][32u + 4u * g + (u32)i][8u * q + (u32)j] = c[2];
                sh[w][32u + 4u * g + (u32)i][8u * q + 4u + (u32)j] = c[3];
            }
        }
        __syncwarp();
#pragma unroll 2
        for (u32 o = lane; o < 256u; o += 32u) {   // 64 rows x 4 pieces of 8 columns
            const u32 rl = o >> 2, pc = o & 3u;
            const u64 m = m0 + rl, n = n0 + 8u * pc;
            if (m < M && n < N) {   // (N % 8 == 0: the piece is in or out)
                float v[8];
                u32 wd[4];
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    v[e] = sh[w][rl][8u * pc + (u32)e];
                    if (bias) v[e] = v[e] + bnbq_dt_ld(bias, n + (u64)e);
                    if (accumulate) v[e] = v[e] + bnbq_dt_ld(out, m * N + n + (u64)e);
                }
#pragma unroll
                for (int e = 0; e < 4; e++) wd[e] = bnbq_dt_pack2(v[2 * e], v[2 * e + 1]);
                *(uint4*)((u16*)out + m * N + n) = make_uint4(wd[0], wd[1], wd[2], wd[3]);
            }
        }
        __syncwarp();
    }
}

// a warp's 64 x 32 sums of the 128 x 128 tiles (below) set to 0
BNBQ_DEV void pr_tc_zero(float (&acc)[4][4][4]) {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;
}
// One k16 step of a warp's 64 x 32 outputs of the 128 x 128 tiles (bnbq_k_gemm_tc, bnbq_k_outlier_mm_tc): A's rows
// wm * 64 .. and B's rows (columns of the output) wn * 32 .. of the shared tiles As / Bs ([row][k], LD elements a row)
// at k = ks, four m16 x four n8 mma.m16n8k16 into acc (lane (g, t): the PTX ISA's fragments)
template <int LD>
BNBQ_DEV void pr_tc_k16(float (&acc)[4][4][4], const u16* As, const u16* Bs, int wm, int wn, int g, int t, int ks) {
    u32 af[4][4], bf[4][2];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const u16* p = As + (wm * 64 + i * 16 + g) * LD + ks + 2 * t;
        af[i][0] = *(const u32*)p;
        af[i][1] = *(const u32*)(p + 8 * LD);
        af[i][2] = *(const u32*)(p + 8);
        af[i][3] = *(const u32*)(p + 8 * LD + 8);
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const u16* p = Bs + (wn * 32 + j * 8 + g) * LD + ks + 2 * t;
        bf[j][0] = *(const u32*)p;
        bf[j][1] = *(const u32*)(p + 8);
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            bnbq_mma16816(acc[i][j], af[i][0], af[i][1], af[i][2], af[i][3], bf[j][0], bf[j][1]);
}

// an output element of bnbq_k_gemm_tc's fragments, those inside (M, N) only (pr_out; the bounds
// check here and not at the 16 unrolled call sites keeps the unit's NVRTC time down)
__device__ __noinline__ void pr_tc_out(void* out, const void* bias, int accumulate, u64 M, u64 N, u64 m, u64 n, float v) {
    if (m < M && n < N) pr_out(v, m * N + n, n, bias, accumulate, out);
}

// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_gemm_tc(const void* A, const void* B, u64 M, u64 N, u64 K, int ta, int tb, const void* bias,
               int accumulate, void* out) {
#if __CUDA_ARCH__ >= 800
    __shared__ __align__(16) u16 As[PR_TM * PR_TLD];
    __shared__ __align__(16) u16 Bs[PR_TN * PR_TLD];
    const u16* a16 = (const u16*)A;
    const u16* b16 = (const u16*)B;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3;
    const int g = lane >> 2, t = lane & 3;
    const u64 mtiles = (M + PR_TM - 1) / PR_TM;
    const u64 n0 = (u64)blockIdx.x * PR_TN;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * PR_TM;
        float acc[4][4][4];
        pr_tc_zero(acc);
        for (u64 k0 = 0; k0 < K; k0 += PR_TK) {
#pragma unroll 4
            for (int h = 0; h < 16; h++) {
                const int e = tid + 256 * h;
                {
                    const int row = ta ? (e & 127) : (e >> 5), kk = ta ? (e >> 7) : (e & 31);
                    const u64 m = m0 + (u64)row, k = k0 + (u64)kk;
                    u16 v = 0;
                    if (m < M && k < K) v = a16[ta ? k * M + m : m * K + k];
                    As[row * PR_TLD + kk] = v;
                }
                {
                    const int col = tb ? (e >> 5) : (e & 127), kk = tb ? (e & 31) : (e >> 7);
                    const u64 n = n0 + (u64)col, k = k0 + (u64)kk;
                    u16 v = 0;
                    if (n < N && k < K) v = b16[tb ? n * K + k : k * N + n];
                    Bs[col * PR_TLD + kk] = v;
                }
            }
            __syncthreads();
#pragma unroll
            for (int ks = 0; ks < PR_TK; ks += 16) pr_tc_k16<PR_TLD>(acc, As, Bs, wm, wn, g, t, ks);
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const u64 m = m0 + (u64)(wm * 64 + i * 16 + g), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);
                pr_tc_out(out, bias, accumulate, M, N, m, n, acc[i][j][0]);
                pr_tc_out(out, bias, accumulate, M, N, m, n + 1, acc[i][j][1]);
                pr_tc_out(out, bias, accumulate, M, N, m + 8, n, acc[i][j][2]);
                pr_tc_out(out, bias, accumulate, M, N, m + 8, n + 1, acc[i][j][3]);
            }
    }
#endif
}

// ---- bnbq_k_gemm_t2_{nn,nt,tn,tt}: the same tiles fed by cp.async and ldmatrix (sm_80+) ------------
// (the launcher: f16 / bf16, A and B 16-byte aligned, the contiguous dimension of each a multiple of 8:
// K for A unless trans_a, else M; K for B with trans_b, else N.) bnbq_k_gemm_tc above loads its tiles
// 2 bytes at a time with a barrier each step (~70 TFLOP/s on the H100). Here the same 128 x 128 tiles
// and 8 warps of 64 x 32 outputs, the same mma.m16n8k16 sequence per output (k ascending in steps of
// 16: the sums of bnbq_k_gemm_tc), but the tiles arrive by 16-byte cp.async copies into a ring of
// PR_T2_S stages in dynamic shared memory (A's 128 x 32 and B's 32 x 128 elements a stage, 16 KB) and
// leave it by ldmatrix (.trans where the operand is stored with M or N contiguous). Layout of a stage's
// operand: K contiguous, [row][k] (64 bytes a row, chunk c at c ^ ((row / 2) % 4)); M or N contiguous,
// [k][row] (256 bytes a k, chunk c at c ^ (k % 8)): either way the 8 rows an ldmatrix phase reads lie
// in 8 different 16-byte bank groups. Fragments (PTX ISA m16n8k16): A's a0..a3 = rows g / g + 8 at k
// 2q, 2q + 1 / 8 + 2q, 8 + 2q + 1; B's b0, b1 = column g at the same k; D rows g, g + 8, columns 2q,
// 2q + 1. The epilogue goes through the ring (pr_t2_piece).
#ifndef PR_T2_S
#define PR_T2_S 3   // stages (the launcher's BNBQ__CU_T2_S)
#endif
#define PR_T2_STAGE 16384u
BNBQ_DEV u32 pr_t2_rc(u32 k, u32 c) { return k * 256u + ((c ^ (k & 7u)) << 4); }              // [k][row]
// one operand's part of stage kt (k0 = 32 kt) into the stage at st: 512 chunks of 16 bytes, two a thread.
// KC (K contiguous): chunk e = row e / 4, k 8 (e % 4); else k e / 16, row 8 (e % 16). rows: M or N; ld:
// the stored row length (K when KC, else rows).
template <int KC>
BNBQ_DEV void pr_t2_load(u32 st, const u16* X, u64 rows, u64 K, u64 r0, u64 k0) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const u32 e = threadIdx.x + 256u * (u32)h;
        const u32 row = KC ? e >> 2 : 8u * (e & 15u), kk = KC ? 8u * (e & 3u) : e >> 4;
        const u64 r = r0 + row, k = k0 + kk;
        const bool ok = r < rows && k < K;
        const u16* src = ok ? X + (KC ? r * K + k : k * rows + r) : X;
        bnbq_cp16(st + (KC ? bnbq_tile64_off(row, e & 3u) : pr_t2_rc(kk, e & 15u)), src, ok ? 16u : 0u);
    }
#else
    (void)st; (void)X; (void)rows; (void)K; (void)r0; (void)k0;
#endif
}
// The epilogue of bnbq_k_gemm_t2_* goes through the ring (free after the mainloop), half a tile at a time: the warps
// of rows 64 h .. 64 h + 63 store their float32 sums at PR_T2_LD floats a row (8-byte stores, no bank conflict),
// then each thread takes 8 pieces of 4 outputs of a row (a warp: the row's 128 columns, 16-byte reads without
// bank conflicts): + bias (staged as 128 floats after the half tile, -0 without one: v + -0 is v), + out
// (accumulate), one rounding to dt, one 8-byte store. Where a piece is cut by N, or N % 4 or out's alignment rule
// out 8-byte stores, its outputs go one by one (pr_out, out of line). Session 34: the fragments' own stores,
// unrolled 32 times with their bounds checks, bias and accumulate loads and fallback calls, were 60 % of the units'
// code (bnbq_k_gemm_t2_* 45 -> 25 KB).
#define PR_T2_LD 136u   // floats a staged row (64 rows: 34816 bytes, then 512 of bias, in the 48 KB ring)
BNBQ_DEV void pr_t2_piece(const float* tile, const float* bst, u32 pc, u64 m0, u64 n0, u64 M, u64 N, const void* bias,
                          int accumulate, void* out, bool vec, u32 h) {
    const u32 row = pc >> 5, c4 = 4u * (pc & 31u);
    const u64 m = m0 + 64u * h + row, n = n0 + c4;
    if (m >= M || n >= N) return;
    const float4 x = *(const float4*)(tile + row * PR_T2_LD + c4);
    if (vec && n + 4u <= N) {
        const float4 b = *(const float4*)(bst + c4);
        float v[4] = { x.x + b.x, x.y + b.y, x.z + b.z, x.w + b.w };
        u16* o = (u16*)out + m * N + n;
        if (accumulate) {
            const uint2 ov = *(const uint2*)o;
            const u32 ow[2] = { ov.x, ov.y };
#pragma unroll
            for (int e = 0; e < 2; e++) {
                v[2 * e] = v[2 * e] + pr_h2f((u16)ow[e]);
                v[2 * e + 1] = v[2 * e + 1] + pr_h2f((u16)(ow[e] >> 16));
            }
        }
        *(uint2*)o = make_uint2(bnbq_dt_pack2(v[0], v[1]), bnbq_dt_pack2(v[2], v[3]));
    } else {
        const float v[4] = { x.x, x.y, x.z, x.w };
        for (u32 e = 0; e < 4u && n + e < N; e++) pr_out(v[e], m * N + n + e, n + e, bias, accumulate, out);
    }
}
template <int TA, int TB>
BNBQ_DEV void pr_gemm_t2(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate,
                         void* out) {
    extern __shared__ __align__(128) unsigned char pr_t2_ring[];
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl, bnbq__cu_gemm_launch: the kernel before it first)
    const u32 sbase = (u32)__cvta_generic_to_shared(pr_t2_ring);
    const u16* a16 = (const u16*)A;
    const u16* b16 = (const u16*)B;
    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;
    const u32 wm = w >> 2, wn = w & 3u, mat = lane >> 3, r8 = lane & 7u;
    const u64 tm = (M + 127) / 128, tn = (N + 127) / 128, KT = (K + 31) / 32;
    const bool vec = (N & 3u) == 0u && ((unsigned long long)out & 7u) == 0u;   // 8-byte stores of 4 outputs
    for (u64 t = blockIdx.x; t < tm * tn; t += gridDim.x) {
        u64 mt, nt;
        bnbq_tile_order(t, tm, tn, &mt, &nt);
        const u64 m0 = mt * 128u, n0 = nt * 128u;
        float acc[4][4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
#pragma unroll
        for (int s = 0; s < PR_T2_S - 1; s++) {
            if ((u64)s < KT) {
                pr_t2_load<!TA>(sbase + (u32)s * PR_T2_STAGE, a16, M, K, m0, 32u * (u64)s);
                pr_t2_load<TB>(sbase + (u32)s * PR_T2_STAGE + PR_T2_STAGE / 2, b16, N, K, n0, 32u * (u64)s);
            }
            bnbq_cp_commit();
        }
        for (u64 kt = 0; kt < KT; kt++) {
            bnbq_cp_wait<PR_T2_S - 2>();
            __syncthreads();   // stage kt is in; every warp is done with the slot refilled below
            const u64 nk = kt + PR_T2_S - 1;
            if (nk < KT) {
                const u32 st = sbase + (u32)(nk % PR_T2_S) * PR_T2_STAGE;
                pr_t2_load<!TA>(st, a16, M, K, m0, 32u * nk);
                pr_t2_load<TB>(st + PR_T2_STAGE / 2, b16, N, K, n0, 32u * nk);
            }
            bnbq_cp_commit();
            const u32 sa = sbase + (u32)(kt % PR_T2_S) * PR_T2_STAGE, sb = sa + PR_T2_STAGE / 2;
#pragma unroll
            for (u32 kk = 0; kk < 2; kk++) {   // the two k16 steps of the stage
                u32 a[4][4], b[4][2];
#pragma unroll
                for (u32 i = 0; i < 4; i++) {
                    const u32 row = wm * 64u + i * 16u;
                    if (!TA)   // matrices: rows 0-7 / 8-15 (mat & 1) x k 0-7 / 8-15 (mat / 2)
                        bnbq_ldsm4<0>(a[i], sa + bnbq_tile64_off(row + (mat & 1u) * 8u + r8, 2u * kk + (mat >> 1)));
                    else       // stored [k][m], transposed: the same four matrices
                        bnbq_ldsm4<1>(a[i], sa + pr_t2_rc(16u * kk + (mat >> 1) * 8u + r8, row / 8u + (mat & 1u)));
                }
#pragma unroll
                for (u32 p = 0; p < 2; p++) {   // matrices: k 0-7 / 8-15 (mat & 1) x columns 0-7 / 8-15 (mat / 2)
                    u32 r[4];
                    const u32 col = wn * 32u + p * 16u;
                    if (TB) bnbq_ldsm4<0>(r, sb + bnbq_tile64_off(col + (mat >> 1) * 8u + r8, 2u * kk + (mat & 1u)));
                    else bnbq_ldsm4<1>(r, sb + pr_t2_rc(16u * kk + (mat & 1u) * 8u + r8, col / 8u + (mat >> 1)));
                    b[2 * p][0] = r[0]; b[2 * p][1] = r[1]; b[2 * p + 1][0] = r[2]; b[2 * p + 1][1] = r[3];
                }
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++)
                        bnbq_mma16816(acc[i][j], a[i][0], a[i][1], a[i][2], a[i][3], b[j][0], b[j][1]);
            }
        }
        __syncthreads();   // every warp is done with the ring: the epilogue's (pr_t2_piece's comment)
        float* tile = (float*)pr_t2_ring;
        float* bst = tile + 64u * PR_T2_LD;
        if (threadIdx.x < 128u) {
            const u64 n = n0 + threadIdx.x;
            bst[threadIdx.x] = bias && n < N ? bnbq_dt_ld(bias, n) : -0.0f;
        }
#pragma unroll 1
        for (u32 h = 0; h < 2u; h++) {
            if (wm == h) {
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++) {
                        float* p = tile + ((u32)i * 16u + g) * PR_T2_LD + wn * 32u + (u32)j * 8u + 2u * q;
                        *(float2*)p = make_float2(acc[i][j][0], acc[i][j][1]);
                        *(float2*)(p + 8u * PR_T2_LD) = make_float2(acc[i][j][2], acc[i][j][3]);
                    }
            }
            __syncthreads();
#pragma unroll 4
            for (u32 k = 0; k < 8u; k++)
                pr_t2_piece(tile, bst, threadIdx.x + 256u * k, m0, n0, M, N, bias, accumulate, out, vec, h);
            __syncthreads();   // read: the next half, or the next tile's stages, may be written
        }
    }
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_gemm_t2_nn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {
    pr_gemm_t2<0, 0>(A, B, M, N, K, bias, accumulate, out);
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_gemm_t2_nt(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {
    pr_gemm_t2<0, 1>(A, B, M, N, K, bias, accumulate, out);
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_gemm_t2_tn(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {
    pr_gemm_t2<1, 0>(A, B, M, N, K, bias, accumulate, out);
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_gemm_t2_tt(const void* A, const void* B, u64 M, u64 N, u64 K, const void* bias, int accumulate, void* out) {
    pr_gemm_t2<1, 1>(A, B, M, N, K, bias, accumulate, out);
}
#endif

// ---- column sums: out (N,) = sum over the rows of X (M, N) --------------------------------------
// A block takes 32 columns (grid-stride), its 8 warps split the rows; float32 sums.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_colsum(const void* X, u64 M, u64 N, void* out) {
    __shared__ float red[8][33];
    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
    for (u64 n0 = (u64)blockIdx.x * 32; n0 < N; n0 += (u64)gridDim.x * 32) {
        const u64 n = n0 + (u64)tx;
        float s = 0.0f;
        if (n < N)
            for (u64 m = (u64)ty; m < M; m += 8) s = s + bnbq_dt_ld(X, m * N + n);
        red[ty][tx] = s;
        __syncthreads();
        if (ty == 0 && n < N) {
            float t = red[0][tx];
            for (int i = 1; i < 8; i++) t = t + red[i][tx];
            pr_st(out, n, t);
        }
        __syncthreads();
    }
}

// ---- embedding backward ------------------------------------------------------------------------
// grad_weight was zero-filled by the launcher. A block per occurrence i (grid-stride): when i is
// the first occurrence of r = idx[i] (no earlier j with idx[j] == r) and r is not padding_idx, it
// sums grad_out[j] over the j >= i with idx[j] == r, in index order, float32, and writes row r.
#define PR_EB_V 4
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_embed_bwd(const i32* idx, u64 count, const void* G, u64 num_rows, u64 dim, i64 pad,
                 int freq, void* gw, u32* err) {
    __shared__ i32 sidx[256];
    const int tid = threadIdx.x;
    for (u64 i = blockIdx.x; i < count; i += gridDim.x) {
        const i32 r = idx[i];
        if (r < 0 || (u64)r >= num_rows) {
            if (tid == 0) *err = 1u;
            continue;
        }
        if ((i64)r == pad) continue;
        int dup = 0;
        for (u64 j = (u64)tid; j < i; j += 256) dup |= idx[j] == r;
        if (__syncthreads_or(dup)) continue;
        for (u64 d0 = 0; d0 < dim; d0 += 256 * PR_EB_V) {
            float acc[PR_EB_V];
            u32 cnt = 0;
#pragma unroll
            for (int u = 0; u < PR_EB_V; u++) acc[u] = 0.0f;
            for (u64 j0 = i; j0 < count; j0 += 256) {
                const u64 j = j0 + (u64)tid;
                const i32 v = j < count ? idx[j] : -1;
                sidx[tid] = v;
                if (!__syncthreads_or(v == r)) continue;
                const int lim = count - j0 < 256 ? (int)(count - j0) : 256;
                for (int q = 0; q < lim; q++)
                    if (sidx[q] == r) {
                        const u64 row = (j0 + (u64)q) * dim;
                        cnt++;
#pragma unroll
                        for (int u = 0; u < PR_EB_V; u++) {
                            const u64 d = d0 + (u64)tid + 256 * (u64)u;
                            if (d < dim) acc[u] = acc[u] + bnbq_dt_ld(G, row + d);
                        }
                    }
                __syncthreads();
            }
#pragma unroll
            for (int u = 0; u < PR_EB_V; u++) {
                const u64 d = d0 + (u64)tid + 256 * (u64)u;
                if (d < dim) pr_st(gw, (u64)r * dim + d, freq ? acc[u] / (float)cnt : acc[u]);
            }
        }
    }
}

// ---- embedding max_norm renorm ----------------------------------------------------------------
// A block per occurrence i; the first occurrence of each row computes its norm in double and scales
// it in place. P: 2 or 1 (the common norms); 0: any norm_type p (pow).
template <int P>
BNBQ_DEV void pr_renorm(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm,
                        float p, u32* err) {
    __shared__ double red[8];
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    for (u64 i = blockIdx.x; i < count; i += gridDim.x) {
        const i32 r = idx[i];
        if (r < 0 || (u64)r >= num_rows) {
            if (tid == 0) *err = 1u;
            continue;
        }
        int dup = 0;
        for (u64 j = (u64)tid; j < i; j += 256) dup |= idx[j] == r;
        if (__syncthreads_or(dup)) continue;
        const u64 row = (u64)r * dim;
        double s = 0.0;
        for (u64 d = (u64)tid; d < dim; d += 256) {
            const double v = fabs((double)bnbq_dt_ld(W, row + d));
            s += P == 2 ? v * v : (P == 1 ? v : pow(v, (double)p));
        }
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(PR_FULL, s, o);
        if (lane == 0) red[w] = s;
        __syncthreads();
        double norm = 0.0;
        for (int q = 0; q < 8; q++) norm += red[q];
        __syncthreads();
        norm = P == 2 ? sqrt(norm) : (P == 1 ? norm : pow(norm, 1.0 / (double)p));
        if (norm > (double)max_norm) {
            const float scale = (float)((double)max_norm / (norm + 1e-7));
            for (u64 d = (u64)tid; d < dim; d += 256) pr_st(W, row + d, bnbq_dt_ld(W, row + d) * scale);
        }
    }
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_renorm2(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm, float p,
               u32* err) {
    pr_renorm<2>(W, num_rows, dim, idx, count, max_norm, p, err);
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_renorm1(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm, float p,
               u32* err) {
    pr_renorm<1>(W, num_rows, dim, idx, count, max_norm, p, err);
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_renorm_pow(void* W, u64 num_rows, u64 dim, const i32* idx, u64 count, float max_norm,
                  float p, u32* err) {
    pr_renorm<0>(W, num_rows, dim, idx, count, max_norm, p, err);
}

// ---- layer norm --------------------------------------------------------------------------------
// float32 statistics, two passes (mean, then the mean squared deviation)
BNBQ_DEV void pr_row_stats(const void* X, u64 row, u64 N, float eps, float* red, float* mean,
                           float* rstd) {
    float s = 0.0f;
    for (u64 j = threadIdx.x; j < N; j += blockDim.x) s = s + bnbq_dt_ld(X, row + j);
    const float mu = pr_block_sum(s, red) / (float)N;
    float v = 0.0f;
    for (u64 j = threadIdx.x; j < N; j += blockDim.x) {
        const float d = bnbq_dt_ld(X, row + j) - mu;
        v = v + d * d;
    }
    const float var = pr_block_sum(v, red) / (float)N;
    *mean = mu;
    *rstd = 1.0f / sqrtf(var + eps);
}

// a block per row (grid-stride)
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_layer_norm(const void* X, u64 M, u64 N, const float* gamma, const float* beta, float eps,
                  void* out, float* out_mean, float* out_rstd) {
    __shared__ float red[32];
    for (u64 m = blockIdx.x; m < M; m += gridDim.x) {
        const u64 row = m * N;
        float mu, rs;
        pr_row_stats(X, row, N, eps, red, &mu, &rs);
        for (u64 j = threadIdx.x; j < N; j += blockDim.x) {
            float y = (bnbq_dt_ld(X, row + j) - mu) * rs;
            if (gamma) y = y * gamma[j];
            if (beta) y = y + beta[j];
            pr_st(out, row + j, y);
        }
        if (threadIdx.x == 0) {
            if (out_mean) out_mean[m] = mu;
            if (out_rstd) out_rstd[m] = rs;
        }
    }
}

// grad_x, a block per row: rstd * (g - mean(g) - xhat * mean(g * xhat)), g = grad_out * gamma
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_ln_bwd_x(const void* X, const void* G, u64 M, u64 N, const float* gamma, float eps,
                const float* mean, const float* rstd, void* gx) {
    __shared__ float red[32];
    for (u64 m = blockIdx.x; m < M; m += gridDim.x) {
        const u64 row = m * N;
        float mu, rs;
        if (mean) { mu = mean[m]; rs = rstd[m]; }
        else pr_row_stats(X, row, N, eps, red, &mu, &rs);
        float a = 0.0f, b = 0.0f;
        for (u64 j = threadIdx.x; j < N; j += blockDim.x) {
            const float xh = (bnbq_dt_ld(X, row + j) - mu) * rs;
            const float g = bnbq_dt_ld(G, row + j) * (gamma ? gamma[j] : 1.0f);
            a = a + g;
            b = b + g * xh;
        }
        a = pr_block_sum(a, red) / (float)N;
        b = pr_block_sum(b, red) / (float)N;
        for (u64 j = threadIdx.x; j < N; j += blockDim.x) {
            const float xh = (bnbq_dt_ld(X, row + j) - mu) * rs;
            const float g = bnbq_dt_ld(G, row + j) * (gamma ? gamma[j] : 1.0f);
            pr_st(gx, row + j, rs * (g - a - xh * b));
        }
    }
}

// grad_gamma / grad_beta (zero-filled by the launcher): a block per 32 rows (grid-stride) sums its
// rows per column and adds the sums atomically (float32)
#define PR_LR 32
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_ln_bwd_params(const void* X, const void* G, u64 M, u64 N, float eps, const float* mean,
                     const float* rstd, float* gg, float* gb) {
    __shared__ float smu[PR_LR], srs[PR_LR];
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    for (u64 m0 = (u64)blockIdx.x * PR_LR; m0 < M; m0 += (u64)gridDim.x * PR_LR) {
        const int rows = M - m0 < PR_LR ? (int)(M - m0) : PR_LR;
        if (mean) {
            if (tid < rows) { smu[tid] = mean[m0 + tid]; srs[tid] = rstd[m0 + tid]; }
        } else {
            for (int q = w; q < rows; q += 8) {   // a warp per row
                const u64 row = (m0 + (u64)q) * N;
                float s = 0.0f;
                for (u64 j = lane; j < N; j += 32) s = s + bnbq_dt_ld(X, row + j);
                const float mu = pr_warp_sum(s) / (float)N;
                float v = 0.0f;
                for (u64 j = lane; j < N; j += 32) {
                    const float d = bnbq_dt_ld(X, row + j) - mu;
                    v = v + d * d;
                }
                const float var = pr_warp_sum(v) / (float)N;
                if (lane == 0) { smu[q] = mu; srs[q] = 1.0f / sqrtf(var + eps); }
            }
        }
        __syncthreads();
        for (u64 j = tid; j < N; j += 256) {
            float sg = 0.0f, sb = 0.0f;
            for (int q = 0; q < rows; q++) {
                const u64 e = (m0 + (u64)q) * N + j;
                const float g = bnbq_dt_ld(G, e);
                sg = sg + g * ((bnbq_dt_ld(X, e) - smu[q]) * srs[q]);
                sb = sb + g;
            }
            if (gg) atomicAdd(gg + j, sg);
            if (gb) atomicAdd(gb + j, sb);
        }
        __syncthreads();
    }
}

// ---- quantized row lookups (a warp per output row, grid-stride) --------------------------------
// out[i, j] = dt(f32(CB[r, j] * f32(SCB[r] / 127)))
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_gather8(const i8* CB, const float* SCB, u64 num_rows, u64 dim, const i32* idx, u64 count,
               void* out, u32* err) {
    const int lane = threadIdx.x & 31;
    const u64 wpb = blockDim.x >> 5;
    for (u64 i = (u64)blockIdx.x * wpb + (threadIdx.x >> 5); i < count; i += (u64)gridDim.x * wpb) {
        const i32 r = idx[i];
        const bool bad = r < 0 || (u64)r >= num_rows;
        if (bad && lane == 0) *err = 1u;
        const float s = bad ? 0.0f : SCB[r] / 127.0f;
        for (u64 j = lane; j < dim; j += 32) {
            const float v = bad ? 0.0f : (float)CB[(u64)r * dim + j] * s;
            pr_st(out, i * dim + j, v);
        }
    }
}

struct pr_code16 { float v[16]; };

// out[i, j] = dt(tab[nibble e] * absmax[e >> bs_log2]), e = r * dim + j (bnbq__dequant4)
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_gather4(const u8* packed, const float* absmax, u64 num_rows, u64 dim, int bs_log2,
               const i32* idx, u64 count, void* out, pr_code16 tab, u32* err) {
    __shared__ float t[16];
    if (threadIdx.x < 16) t[threadIdx.x] = tab.v[threadIdx.x];
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const u64 wpb = blockDim.x >> 5;
    for (u64 i = (u64)blockIdx.x * wpb + (threadIdx.x >> 5); i < count; i += (u64)gridDim.x * wpb) {
        const i32 r = idx[i];
        const bool bad = r < 0 || (u64)r >= num_rows;
        if (bad && lane == 0) *err = 1u;
        for (u64 j = lane; j < dim; j += 32) {
            float v = 0.0f;
            if (!bad) {
                const u64 e = (u64)r * dim + j;
                const u32 byte = packed[e >> 1];
                const u32 nib = (e & 1) ? (byte & 15u) : (byte >> 4);
                v = t[nib] * absmax[e >> bs_log2];
            }
            pr_st(out, i * dim + j, v);
        }
    }
}

// ---- LLM.int8 pieces ---------------------------------------------------------------------------
// out[m, n] = dt(f32(out[m, n]) + S), S the float32 sum over j < *num_cols in j order (bnbq.h).
// Tiles of 64 x 64 outputs (blockIdx.x: n tile; blockIdx.y, grid-stride: m tile), 256 threads of
// 4 x 4 outputs; per step 16 outlier columns: A[m, c_j] and the dequantized w[n, j] (rounded to dt)
// staged in shared memory as float32, then each thread adds its products in j order, the CPU's
// operations one by one (byte-identical). Padding past *num_cols and a bad column (skipped on the
// CPU's side; *err = 1) stage a = w = 0: p = +0, and s + (+0) = s (s is never -0).
// *num_cols clamped to [0, K] (outside it: *err = 1, set by one thread of the grid)
BNBQ_DEV i32 pr_outlier_nc(const i32* num_cols, u64 K, u32* err) {
    i32 nc = *num_cols;
    if (nc < 0 || (u64)nc > K) {
        if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) *err = 1u;
        nc = nc < 0 ? 0 : (i32)K;
    }
    return nc;
}
// A thread's loads for one step: outlier column j (c = cols[j], loaded a step earlier; live: j < nc)
// at the tile rows r0 + RS h, h < 4: a[h] = A[m0 + r, c], q[h] = CB[n0 + r, c]; 0 past M or N and
// for a dead or bad column (*ok false; a bad one sets bad, which goes to *err once, at the end).
// Nothing is stored among these loads, so a step's 8 loads are all in flight at once, behind the
// previous step's products. (The first version stored *err between them, which kept the compiler
// from hoisting any load above it: one chain of dependent loads at a time, 48 us for the outliers of a
// 512-token 4096 x 4096 layer on the H100.)
template <int RS>
BNBQ_DEV void pr_outlier_load(const void* A, u64 M, u64 K, const i8* CB, u64 N, i32 c, bool live, int r0,
                              u64 m0, u64 n0, float (&a)[4], int (&q)[4], bool& ok, u32& bad) {
    ok = live && c >= 0 && (u64)c < K;
    if (live && !ok) bad = 1u;
#pragma unroll
    for (int h = 0; h < 4; h++) {
        const u64 m = m0 + (u64)(r0 + RS * h), n = n0 + (u64)(r0 + RS * h);
        a[h] = ok && m < M ? bnbq_dt_ld(A, m * K + (u64)c) : 0.0f;
        q[h] = ok && n < N ? (int)CB[n * K + (u64)c] : 0;
    }
}
// SCB at a thread's staging rows n0 + r0 + RS h (h < 4; 0 past N), loaded once a block
template <int RS>
BNBQ_DEV void pr_outlier_scb(const float* SCB, u64 N, u64 n0, int r0, float (&scb)[4]) {
#pragma unroll
    for (int h = 0; h < 4; h++) {
        const u64 n = n0 + (u64)(r0 + RS * h);
        scb[h] = n < N ? SCB[n] : 0.0f;
    }
}
// w[n, j] = dt(f32(f32(CB[n, c_j] * SCB[n]) * (1/127))) from the loaded q; 0 where nothing was loaded
BNBQ_DEV float pr_outlier_w(int q, float scb, bool on) {
    return on ? bnbq_i8_outlier_w(BNBQ_DT, q, scb) : 0.0f;
}
// Stages a thread's loads (rows r0 + RS h of column jj) and w into As[jj][.], Ws[jj][.]
template <int RS, int LD>
BNBQ_DEV void pr_outlier_put(float (*As)[LD], float (*Ws)[LD], int jj, int r0, const float (&a)[4],
                             const int (&q)[4], const float (&scb)[4], bool ok, u64 n0, u64 N) {
#pragma unroll
    for (int h = 0; h < 4; h++) {
        const int r = r0 + RS * h;
        As[jj][r] = a[h];
        Ws[jj][r] = pr_outlier_w(q[h], scb[h], ok && n0 + (u64)r < N);
    }
}
// out[m, n] += the tile's sums: every load of out first, then the stores (one dependent chain less)
BNBQ_DEV void pr_outlier_out(void* out, u64 M, u64 N, u64 m0, u64 n0, const float (&acc)[4][4]) {
    float o[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const u64 m = m0 + (u64)i, n = n0 + (u64)j;
            o[i][j] = m < M && n < N ? bnbq_dt_ld(out, m * N + n) : 0.0f;
        }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const u64 m = m0 + (u64)i, n = n0 + (u64)j;
            if (m < M && n < N) pr_st(out, m * N + n, o[i][j] + acc[i][j]);
        }
}
#define PR_OT 64
#define PR_OJ 16
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_outlier_mm(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N,
                  const i32* cols, const i32* num_cols, void* out, u32* err) {
    __shared__ __align__(16) float As[PR_OJ][PR_OT + 4];   // [j][m]
    __shared__ __align__(16) float Ws[PR_OJ][PR_OT + 4];   // [j][n]
    const i32 nc = pr_outlier_nc(num_cols, K, err);
    // staging: column jj = tid % 16 of each step, rows ty + 16 h of the tile
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, jj = tid & 15;
    const u64 mtiles = (M + PR_OT - 1) / PR_OT;
    const u64 n0 = (u64)blockIdx.x * PR_OT;
    float scb[4];
    pr_outlier_scb<16>(SCB, N, n0, ty, scb);
    u32 bad = 0u;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * PR_OT;
        float acc[4][4], a[4];
        int q[4];
        bool ok;
        bnbq_tile4x4_zero(acc);
        i32 c = jj < nc ? cols[jj] : 0;
        pr_outlier_load<16>(A, M, K, CB, N, c, jj < nc, ty, m0, n0, a, q, ok, bad);
        c = PR_OJ + jj < nc ? cols[PR_OJ + jj] : 0;
        for (i32 j0 = 0; j0 < nc; j0 += PR_OJ) {
            pr_outlier_put<16, PR_OT + 4>(As, Ws, jj, ty, a, q, scb, ok, n0, N);
            __syncthreads();
            const i32 j1 = j0 + PR_OJ;   // the next step's loads fly during this step's products
            if (j1 < nc) {
                pr_outlier_load<16>(A, M, K, CB, N, c, j1 + jj < nc, ty, m0, n0, a, q, ok, bad);
                c = j1 + PR_OJ + jj < nc ? cols[j1 + PR_OJ + jj] : 0;
            }
            bnbq_tile4x4_step<PR_OJ, PR_OT + 4, false>(acc, As, Ws, ty, tx);
            __syncthreads();
        }
        pr_outlier_out(out, M, N, m0 + (u64)ty * 4, n0 + (u64)tx * 4, acc);
    }
    if (bad) *err = 1u;
}

// The same sums with the staged values gathered first (bnbq_int8_mixed_scaled_mm's path for more rows,
// which has its int32 work buffer free after mm_dequant): bnbq_k_outlier_gather writes Ag[j][m] =
// A[m, c_j] and Wg[j][n] = w[n, j] (the staged a and w above, 0 for a bad column) for j < min(nc, cap),
// each read once; bnbq_k_outlier_mm_g stages those rows (coalesced) instead of re-reading A's and CB's
// scattered bytes for every tile (bnbq_k_outlier_mm's 64 x 64 tiles read each outlier byte of A N / 64
// times and of CB M / 64 times: ~37 us at 512 x 4096 x 4096 with 41 columns on the H100), and columns
// j >= cap (a work buffer too small) the old way. Same values, same j order: byte-identical.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_outlier_gather(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,
                      const i32* num_cols, float* Ag, float* Wg, u64 cap, u32* err) {
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)
    const i32 nc = pr_outlier_nc(num_cols, K, err);
    const u64 jn = (u64)nc < cap ? (u64)nc : cap, R = M + N;
    u32 bad = 0u;
    BNBQ_GRID_LOOP(e, jn * R) {
        const u64 j = e / R, r = e - j * R;
        const i32 c = cols[j];
        const bool ok = c >= 0 && (u64)c < K;
        if (!ok) bad = 1u;
        if (r < M) {
            Ag[j * M + r] = ok ? bnbq_dt_ld(A, r * K + (u64)c) : 0.0f;
        } else {
            const u64 n = r - M;
            Wg[j * N + n] = pr_outlier_w(ok ? (int)CB[n * K + (u64)c] : 0, SCB[n], ok);
        }
    }
    if (bad) *err = 1u;
}
// The sums of bnbq_k_outlier_mm (same values, same j order, the same epilogue: byte-identical) on
// 128 x 128 output tiles, 8 x 8 a thread (rows ty 4 + i and 64 + ty 4 + i, columns tx 4 + j and
// 64 + tx 4 + j: conflict-free 16-byte shared loads), 16 columns a step staged from Ag / Wg (thread: tile
// row / column r = tid % 128 of columns tid / 128 + 2 h) where j < min(nc, cap), else from A and CB
// directly; the next step's values are loaded while this one's products run. f16: each product and sum
// as one FMA (exact products, below). ncu on the H100, 41 columns at 4096 x 4096 (bench/results/
// gpu-20261124-h100-session26-int8.txt): the 64 x 64 tiles with 4 x 4 a thread before it 119 us (issue-bound);
// these tiles with FMUL + FADD 125 us (latency-bound at 16 warps an SM), with the f16 FMA 99 us, with the
// epilogue's loads batched and prefetched 81 us, the last step cut at nc 76 us. (mm_dequant fused into the
// epilogue was slower: 148 us against 34 + 76, its per-element loads.)
#define PR_GT 128
#define PR_GJ 16
// (column j read directly where it was not gathered: a call of its own, rare, out of the unrolled code)
struct pr_aw {
    float a, w;
    u32 bad;
};
__device__ __noinline__ pr_aw pr_outlier_direct(const void* A, u64 M, u64 K, const i8* CB, float scb, u64 N, i32 c,
                                                u64 m, u64 n) {
    pr_aw r = { 0.0f, 0.0f, 0u };
    if (c < 0 || (u64)c >= K) {
        r.bad = 1u;
    } else {
        if (m < M) r.a = bnbq_dt_ld(A, m * K + (u64)c);
        if (n < N) r.w = pr_outlier_w((int)CB[n * K + (u64)c], scb, true);
    }
    return r;
}
// a step's staged values of this thread: a[h] = A[m, c_j], w[h] = w[n, j] for j = j0 + jh + 2 h (0 past M /
// N / nc; gathered where j < jg)
BNBQ_DEV void pr_outlier_gload(const void* A, u64 M, u64 K, const i8* CB, float scb, u64 N, const i32* cols,
                               i32 nc, i32 jg, const float* Ag, const float* Wg, i32 j0, int jh, u64 m, u64 n,
                               float (&a)[8], float (&w)[8], u32& bad) {
#pragma unroll
    for (int h = 0; h < 8; h++) {
        const i32 j = j0 + jh + 2 * h;
        a[h] = w[h] = 0.0f;
        if (j < jg) {
            if (m < M) a[h] = Ag[(u64)j * M + m];
            if (n < N) w[h] = Wg[(u64)j * N + n];
        } else if (j < nc) {
            const pr_aw r = pr_outlier_direct(A, M, K, CB, scb, N, cols[j], m, n);
            a[h] = r.a;
            w[h] = r.w;
            bad |= r.bad;
        }
    }
}
// out[e + j] = dt(f32(out[e + j]) + s_j) for j < min(4, left) (bnbq_k_outlier_mm_g's element-wise epilogue: a call of
// its own, out of the unrolled code)
__device__ __noinline__ void pr_outlier_add4(void* out, u64 e, u64 left, float s0, float s1, float s2, float s3) {
    const float s[4] = { s0, s1, s2, s3 };
    float o[4];
#pragma unroll
    for (int j = 0; j < 4; j++) o[j] = (u64)j < left ? bnbq_dt_ld(out, e + (u64)j) : 0.0f;
#pragma unroll
    for (int j = 0; j < 4; j++)
        if ((u64)j < left) pr_st(out, e + (u64)j, o[j] + s[j]);
}
// dt bits of v (one RNE rounding, NaN canonical), pr_st's
BNBQ_DEV u32 pr_bits(float v) {
    if (BNBQ_DT == BNBQ_F32) return __float_as_uint(bnbq_canon(v));
    return bnbq_dt_pack(v);
}
// bnbq_k_outlier_mm_g's output rows and columns of a thread: row i < 8 of its 8 x 8 is tile row (i & 4) 16 +
// 4 ty + (i & 3), half hh < 2 of its columns starts at tile column 64 hh + 4 tx
BNBQ_DEV u64 pr_g_row(u64 m0, int ty, int i) { return m0 + (u64)((i & 4) * 16 + ty * 4 + (i & 3)); }
BNBQ_DEV u64 pr_g_col(u64 n0, int tx, int hh) { return n0 + (u64)(hh * 64 + tx * 4); }
// A staged value v of a bf16 unit allows the fused form: 0, inf, NaN or |v| in [2^-63, 2^63), so that with the
// other operand so too the product (8 significant bits each) is 0, inf, NaN or a normal float32, exact, and
// acc + f32(a w) rounds once as fmaf(a, w, acc) does
BNBQ_DEV bool pr_fma_ok(float v) {
    const u32 u = __float_as_uint(v) & 0x7fffffffu;
    return u == 0u || u >= 0x7f800000u || (u >= 0x20000000u && u < 0x5f000000u);
}
// A step's products and sums: jn columns of the staged tiles, the thread's 8 x 8 (FMA: one fmaf a product, for
// exact products only (f16: 11 significant bits each, |a w| within [2^-48, 2^32]; bf16: pr_fma_ok); else the
// multiply, then the add); UNROLL: columns a round (bf16's fallback, rare, takes 1: a smaller second copy of the
// loop, for NVRTC time)
template <bool FMA, int UNROLL>
BNBQ_DEV void pr_outlier_step(float (&acc)[8][8], const float (*As)[PR_GT], const float (*Ws)[PR_GT], int jn, int ty,
                              int tx) {
#pragma unroll UNROLL
    for (int jj = 0; jj < jn; jj++) {
        const float4 x0 = *(const float4*)&As[jj][ty * 4], x1 = *(const float4*)&As[jj][64 + ty * 4];
        const float4 y0 = *(const float4*)&Ws[jj][tx * 4], y1 = *(const float4*)&Ws[jj][64 + tx * 4];
        const float av[8] = { x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w };
        const float bv[8] = { y0.x, y0.y, y0.z, y0.w, y1.x, y1.y, y1.z, y1.w };
        bnbq_outer_acc<8, 8, FMA>(acc, av, bv);
    }
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_outlier_mm_g(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,
                    const i32* num_cols, void* out, u32* err, const float* Ag, const float* Wg, u64 cap) {
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)
    __shared__ __align__(16) float As[PR_GJ][PR_GT];   // [j][m]
    __shared__ __align__(16) float Ws[PR_GJ][PR_GT];   // [j][n]
    const i32 nc = pr_outlier_nc(num_cols, K, err);
    const i32 jg = (u64)nc < cap ? nc : (i32)cap;   // columns gathered
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, r = tid & (PR_GT - 1), jh = tid >> 7;
    const u64 mtiles = (M + PR_GT - 1) / PR_GT;
    const u64 n0 = (u64)blockIdx.x * PR_GT, n = n0 + (u64)r;
    const float scb = n < N ? SCB[n] : 0.0f;
    // 4 outputs of a row in one access where out is 16-byte aligned and N % 4 == 0
    const bool vec = ((u64)out & 15u) == 0 && N % 4u == 0;
    u32 bad = 0u;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * PR_GT, m = m0 + (u64)r;
        float acc[8][8], a[8], w[8];
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
            for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;
        pr_outlier_gload(A, M, K, CB, scb, N, cols, nc, jg, Ag, Wg, 0, jh, m, n, a, w, bad);
        // the tile's lines of out into the L2 for the epilogue (one thread a 32-byte sector)
        if ((tx & (BNBQ_DT == BNBQ_F32 ? 1 : 3)) == 0) {
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int hh = 0; hh < 2; hh++) {
                    const u64 mo = pr_g_row(m0, ty, i), no = pr_g_col(n0, tx, hh);
                    if (mo < M && no < N)
                        asm volatile("prefetch.global.L2 [%0];" ::"l"((const char*)out + (mo * N + no) * (BNBQ_DT == BNBQ_F32 ? 4u : 2u)));
                }
        }
        for (i32 j0 = 0; j0 < nc; j0 += PR_GJ) {
            __syncthreads();   // the step before is read
            bool ok = true;   // (bf16: this thread's values allow the fused form, pr_fma_ok)
#pragma unroll
            for (int h = 0; h < 8; h++) {
                As[jh + 2 * h][r] = a[h];
                Ws[jh + 2 * h][r] = w[h];
                if (BNBQ_DT == BNBQ_BF16) ok = ok && pr_fma_ok(a[h]) && pr_fma_ok(w[h]);
            }
            // one FMA a product where every product of the step is exact in float32: f16 always, bf16 where the
            // whole block's values allow it
            bool fm = BNBQ_DT == BNBQ_F16;
            if (BNBQ_DT == BNBQ_BF16) fm = __syncthreads_and(ok) != 0;
            else __syncthreads();
            if (j0 + PR_GJ < nc)
                pr_outlier_gload(A, M, K, CB, scb, N, cols, nc, jg, Ag, Wg, j0 + PR_GJ, jh, m, n, a, w, bad);
            // (the last step's columns past nc are zeros; skipping them leaves the sums' bits: a sum that starts at
            // +0 is never -0, and + 0 keeps every other value)
            const int jn = nc - j0 < PR_GJ ? (int)(nc - j0) : PR_GJ;
            if (fm) pr_outlier_step<true, 2>(acc, As, Ws, jn, ty, tx);
            else pr_outlier_step<false, BNBQ_DT == BNBQ_BF16 ? 1 : 2>(acc, As, Ws, jn, ty, tx);
        }
        // out[m, n] = dt(f32(out[m, n]) + sum), one half of the thread's columns (8 half-rows of 4) at a time: its
        // loads before its stores (a load after a store of out waited its full latency: the compiler cannot move it
        // above; ncu: 30 % of the kernel's stall samples); the lines were prefetched into the L2 when the tile began
#pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            uint4 ov[8];
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const u64 mo = pr_g_row(m0, ty, i), no = pr_g_col(n0, tx, hh), e = mo * N + no;
                ov[i] = make_uint4(0u, 0u, 0u, 0u);
                if (vec && mo < M && no + 4u <= N) {
                    if (BNBQ_DT == BNBQ_F32) {
                        ov[i] = *(const uint4*)((const float*)out + e);
                    } else {
                        const uint2 o = *(const uint2*)((const u16*)out + e);
                        ov[i].x = o.x;
                        ov[i].y = o.y;
                    }
                }
            }
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const u64 mo = pr_g_row(m0, ty, i), no = pr_g_col(n0, tx, hh), e = mo * N + no;
                const float* s4 = &acc[i][4 * hh];
                if (mo >= M) continue;
                if (vec && no + 4u <= N) {
                    const uint4 o = ov[i];
                    if (BNBQ_DT == BNBQ_F32) {
                        *(uint4*)((float*)out + e) =
                            make_uint4(pr_bits(__uint_as_float(o.x) + s4[0]), pr_bits(__uint_as_float(o.y) + s4[1]),
                                       pr_bits(__uint_as_float(o.z) + s4[2]), pr_bits(__uint_as_float(o.w) + s4[3]));
                    } else {
                        const float o0 = pr_h2f((u16)o.x), o1 = pr_h2f((u16)(o.x >> 16));
                        const float o2 = pr_h2f((u16)o.y), o3 = pr_h2f((u16)(o.y >> 16));
                        *(uint2*)((u16*)out + e) = make_uint2(bnbq_dt_pack2(o0 + s4[0], o1 + s4[1]),
                                                              bnbq_dt_pack2(o2 + s4[2], o3 + s4[3]));
                    }
                } else if (no < N) {   // (N % 4, unaligned out, or the row's end)
                    pr_outlier_add4(out, e, N - no, s4[0], s4[1], s4[2], s4[3]);
                }
            }
        }
    }
    if (bad) *err = 1u;
}

// The values of the outlier product gathered for gemm90.cu's bnbq_k_int8_wg_dqt_* and bnbq_k_outlier_mm_tc below:
// Ag (M, P) and Wg (N, P) 16-bit, row r's columns j < min(nc rounded up to 64, P) (zeros past nc; prelude.cuh's
// bnbq_ol_chunk), 16 bytes a thread and step; P % 64 == 0. A, the values and the output are the unit's dtype (f16 or
// bf16); a num_cols outside [0, K] sets *err and counts as its clamp.
#if BNBQ_DT != BNBQ_F32
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_outlier_gather16(const u16* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N, const i32* cols,
                        const i32* num_cols, u16* Ag, u16* Wg, u64 P, u32* err) {
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)
    i32 nc = *num_cols;
    if (nc < 0 || (u64)nc > K) {
        if (blockIdx.x == 0 && threadIdx.x == 0) *err = 1u;
        nc = nc < 0 ? 0 : (i32)K;
    }
    u64 jn = ((u64)nc + 63u) & ~(u64)63u;
    if (jn > P) jn = P;
    const u64 U = jn / 8u;
    u32 bad = 0u;
    BNBQ_GRID_LOOP(e, (M + N) * U) {
        const u64 r = e / U, j0 = (e - r * U) * 8u;
        const uint4 v = bnbq_ol_chunk<BNBQ_DT>(A, CB, SCB, cols, M, K, r, j0, nc, bad);
        *(uint4*)((r < M ? Ag + r * P : Wg + (r - M) * P) + j0) = v;
    }
    if (bad) *err = 1u;
}
#endif
// bnbq_int8_mixed_scaled_mm's outlier product for more rows on the tensor cores where the int8 product is not the
// sm_90a kernel with it in its epilogue (f16 / bf16, sm_80+; the launcher: unless bnbq_cuda_desc.exact_outlier_sums):
// out = dt(f32(out) + S), S the products of the outlier columns' values (exact in float32) from
// bnbq_k_outlier_gather16 (Ag (M, P), Wg (N, P); columns past P read from A, CB and cols: bnbq_ol_chunk) summed by
// mma.m16n8k16 in float32, in their order: within tolerance(dt) of the CPU's sequential sum, as bitsandbytes' own
// cuBLAS addmm is. Tiles of 128 x 128 outputs, 8 warps of 64 x 32 (bnbq_k_gemm_tc's fragments), 64 outlier columns
// a step staged in shared memory (row stride 72 elements: the fragment reads hit 32 different banks).
#if BNBQ_DT != BNBQ_F32
#define PR_OC 64
#define PR_OLD (PR_OC + 8)
// out[e], out[e + 1] (the second where two) += s0, s1: dt(f32(out) + s), one rounding, NaN canonical (a call of its own,
// out of the unrolled code, for NVRTC time)
__device__ __noinline__ void pr_otc_out(void* out, u64 e, bool two, bool pair, float s0, float s1) {
    u16* o = (u16*)out + e;
    if (pair) {
        const u32 v = *(const u32*)o;
        *(u32*)o = bnbq_dt_pack2(pr_h2f((u16)v) + s0, pr_h2f((u16)(v >> 16)) + s1);
        return;
    }
    o[0] = (u16)pr_bits(pr_h2f(o[0]) + s0);
    if (two) o[1] = (u16)pr_bits(pr_h2f(o[1]) + s1);
}
// a step past the gathered columns (rare) read from A and CB (bnbq_ol_chunk) into the tiles; a call of its own
__device__ __noinline__ void pr_otc_stage_rare(u16* As, u16* Ws, const u16* A, const i8* CB, const float* SCB,
                                               const i32* cols, u64 M, u64 N, u64 K, u64 m0, u64 n0, i32 j0, i32 nc,
                                               u32* err) {
    u32 bad = 0u;
    for (int h = 0; h < 4; h++) {
        const int x = (int)threadIdx.x + 256 * h, row = x >> 3, ch = x & 7;
        const u64 jc = (u64)j0 + 8u * (u64)ch, m = m0 + (u64)row, n = n0 + (u64)row;
        uint4 va = make_uint4(0u, 0u, 0u, 0u), vb = va;
        if (m < M) va = bnbq_ol_chunk<BNBQ_DT>(A, CB, SCB, cols, M, K, m, jc, nc, bad);
        if (n < N) vb = bnbq_ol_chunk<BNBQ_DT>(A, CB, SCB, cols, M, K, M + n, jc, nc, bad);
        *(uint4*)(As + row * PR_OLD + ch * 8) = va;
        *(uint4*)(Ws + row * PR_OLD + ch * 8) = vb;
    }
    if (bad) *err = 1u;
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_outlier_mm_tc(const u16* Ag, const u16* Wg, u64 P, const u16* A, u64 M, u64 K, const i8* CB, const float* SCB,
                     u64 N, const i32* cols, const i32* num_cols, void* out, u32* err) {
#if __CUDA_ARCH__ >= 800
    __shared__ __align__(16) u16 As[128 * PR_OLD];
    __shared__ __align__(16) u16 Ws[128 * PR_OLD];
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the gather before it first)
    i32 nc = *num_cols;
    nc = nc < 0 ? 0 : (u64)nc > K ? (i32)K : nc;   // (the gather flagged a count outside [0, K])
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3;
    const int g = lane >> 2, t = lane & 3;
    const u64 mtiles = (M + 127) / 128, n0 = (u64)blockIdx.x * 128u;
    const bool pairs = ((u64)out & 3u) == 0 && N % 2 == 0;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * 128u;
        float acc[4][4][4];
        pr_tc_zero(acc);
        if (t == 0)   // the warp's lines of out into the L2 for the epilogue (64 bytes a row)
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const u64 m = m0 + (u64)(wm * 64 + i * 8 + g), n = n0 + (u64)(wn * 32);
                if (m < M && n < N) asm volatile("prefetch.global.L2 [%0];" ::"l"((const u16*)out + m * N + n));
            }
        for (i32 j0 = 0; j0 < nc; j0 += PR_OC) {
            // 128 rows x 8 chunks of 8 columns of each operand, 4 chunks a thread
            // (P % 64 == 0: a step is gathered whole, or read whole from A and CB)
            uint4 va[4], vb[4];
#pragma unroll
            for (int h = 0; h < 4; h++) {
                const int x = tid + 256 * h, row = x >> 3;
                const u64 jc = (u64)j0 + 8u * (u64)(x & 7), m = m0 + (u64)row, n = n0 + (u64)row;
                va[h] = vb[h] = make_uint4(0u, 0u, 0u, 0u);
                if (jc < (u64)nc && (u64)j0 < P) {
                    if (m < M) va[h] = *(const uint4*)(Ag + m * P + jc);
                    if (n < N) vb[h] = *(const uint4*)(Wg + n * P + jc);
                }
            }
            __syncthreads();   // the step before is read
            if ((u64)j0 >= P) pr_otc_stage_rare(As, Ws, A, CB, SCB, cols, M, N, K, m0, n0, j0, nc, err);
            else
#pragma unroll
                for (int h = 0; h < 4; h++) {
                    const int x = tid + 256 * h, row = x >> 3, ch = x & 7;
                    *(uint4*)(As + row * PR_OLD + ch * 8) = va[h];
                    *(uint4*)(Ws + row * PR_OLD + ch * 8) = vb[h];
                }
            __syncthreads();
            const int ksn = nc - j0 < PR_OC ? ((nc - j0 + 15) & ~15) : PR_OC;   // (zeros past nc: skipped)
            for (int ks = 0; ks < ksn; ks += 16) pr_tc_k16<PR_OLD>(acc, As, Ws, wm, wn, g, t, ks);
        }
        // out += the sums: a whole tile with 4-byte pairs (the usual case) unrolled, every pair of out loaded first,
        // then the stores (a load after a store waits its full latency), in two halves (16 registers of loads);
        // a tile at the edge of M / N, odd N or an unaligned out element by element (pr_otc_out, not unrolled)
        if (pairs && m0 + 128u <= M && n0 + 128u <= N) {
#pragma unroll
            for (int ih = 0; ih < 4; ih += 2) {
                u32 ov[2][4][2];
#pragma unroll
                for (int i = 0; i < 2; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++)
#pragma unroll
                        for (int h = 0; h < 2; h++) {
                            const u64 m = m0 + (u64)(wm * 64 + (ih + i) * 16 + g + 8 * h), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);
                            ov[i][j][h] = *(const u32*)((const u16*)out + m * N + n);
                        }
#pragma unroll
                for (int i = 0; i < 2; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++)
#pragma unroll
                        for (int h = 0; h < 2; h++) {
                            const u64 m = m0 + (u64)(wm * 64 + (ih + i) * 16 + g + 8 * h), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);
                            const u32 v = ov[i][j][h];
                            *(u32*)((u16*)out + m * N + n) = bnbq_dt_pack2(pr_h2f((u16)v) + acc[ih + i][j][2 * h],
                                                                           pr_h2f((u16)(v >> 16)) + acc[ih + i][j][2 * h + 1]);
                        }
            }
        } else {
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
#pragma unroll
                    for (int h = 0; h < 2; h++) {
                        const u64 m = m0 + (u64)(wm * 64 + i * 16 + g + 8 * h), n = n0 + (u64)(wn * 32 + j * 8 + 2 * t);
                        if (m < M && n < N)
                            pr_otc_out(out, m * N + n, n + 1 < N, pairs && n + 1 < N, acc[i][j][2 * h], acc[i][j][2 * h + 1]);
                    }
        }
    }
#else
    (void)Ag; (void)Wg; (void)P; (void)A; (void)M; (void)K; (void)CB; (void)SCB; (void)N; (void)cols; (void)num_cols;
    (void)out; (void)err;
#endif
}
#endif

// The same for few rows (the launcher: M <= 16, a decoding step): 16 x 16 output tiles, a thread an
// output (m = m0 + tid / 16, n = n0 + tid % 16), 64 outlier columns a step, staged as above (the same
// a and w, zeros past *num_cols and for a bad column), then each thread adds its 64 products in j
// order: the operations of bnbq_k_outlier_mm one by one, byte-identical. N / 16 blocks, and one step
// for up to 64 outlier columns: the 64 x 64 tiles gave a 4096-column layer 64 blocks and 3-9
// dependent steps of scattered CB loads (17-43 us a call at one token on the H100).
#define PR_OF 16
#define PR_OJF 64
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_outlier_mm_few(const void* A, u64 M, u64 K, const i8* CB, const float* SCB, u64 N,
                      const i32* cols, const i32* num_cols, void* out, u32* err) {
    __shared__ float As[PR_OJF][PR_OF + 1];   // [j][m]
    __shared__ float Ws[PR_OJF][PR_OF + 1];   // [j][n]
    const i32 nc = pr_outlier_nc(num_cols, K, err);
    // staging: column jj = tid % 64 of each step, rows tid / 64 + 4 h of the tile
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4, jj = tid & (PR_OJF - 1), r0 = tid / PR_OJF;
    const u64 mtiles = (M + PR_OF - 1) / PR_OF;
    const u64 n0 = (u64)blockIdx.x * PR_OF;
    float scb[4];
    pr_outlier_scb<4>(SCB, N, n0, r0, scb);
    u32 bad = 0u;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * PR_OF;
        float acc = 0.0f, a[4];
        int q[4];
        bool ok;
        i32 c = jj < nc ? cols[jj] : 0;
        pr_outlier_load<4>(A, M, K, CB, N, c, jj < nc, r0, m0, n0, a, q, ok, bad);
        c = PR_OJF + jj < nc ? cols[PR_OJF + jj] : 0;
        for (i32 j0 = 0; j0 < nc; j0 += PR_OJF) {
            pr_outlier_put<4, PR_OF + 1>(As, Ws, jj, r0, a, q, scb, ok, n0, N);
            __syncthreads();
            const i32 j1 = j0 + PR_OJF;
            if (j1 < nc) {
                pr_outlier_load<4>(A, M, K, CB, N, c, j1 + jj < nc, r0, m0, n0, a, q, ok, bad);
                c = j1 + PR_OJF + jj < nc ? cols[j1 + PR_OJF + jj] : 0;
            }
#pragma unroll 16
            for (int k = 0; k < PR_OJF; k++) {
                const float p = As[k][ty] * Ws[k][tx];
                acc = acc + p;
            }
            __syncthreads();
        }
        const u64 m = m0 + (u64)ty, n = n0 + (u64)tx;
        if (m < M && n < N) pr_st(out, m * N + n, bnbq_dt_ld(out, m * N + n) + acc);
    }
    if (bad) *err = 1u;
}

// column j < *num_cols of P (M, max_cols) into column cols[j] of out (M, K): replaced or added
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_scatter_cols(const void* P, u64 M, u64 max_cols, const i32* cols, const i32* num_cols,
                    int accumulate, void* out, u64 K, u32* err) {
    i32 nc = *num_cols;
    if (nc < 0 || (u64)nc > max_cols) {
        if (blockIdx.x == 0 && threadIdx.x == 0) *err = 1u;
        nc = nc < 0 ? 0 : (i32)max_cols;
    }
    BNBQ_GRID_LOOP(e, M * (u64)nc) {
        const u64 m = e / (u64)nc, j = e - m * (u64)nc;
        const i32 c = cols[j];
        if (c < 0 || (u64)c >= K) { *err = 1u; continue; }
        const u64 o = m * K + (u64)c;
        float v = bnbq_dt_ld(P, m * max_cols + j);
        if (accumulate) v = v + bnbq_dt_ld(out, o);
        pr_st(out, o, v);
    }
}

// out[n, k] = dt(f32(CB[n, k]) * f32(SCB[n] * f32(1/127)))
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_i8w_dequant(const i8* CB, const float* SCB, u64 N, u64 K, void* out) {
    for (u64 n = blockIdx.y; n < N; n += gridDim.y) {
        const float s = SCB[n] * (1.0f / 127.0f);
        for (u64 k = (u64)blockIdx.x * blockDim.x + threadIdx.x; k < K; k += (u64)gridDim.x * blockDim.x)
            pr_st(out, n * K + k, (float)CB[n * K + k] * s);
    }
}

#else  // ---- dtype-free data movement ----------------------------------------------------------

// dst (cols, rows) = src (rows, cols): tiles of 32 x 32 through shared memory, 32 x 8 threads;
// blockIdx.x: column tile, blockIdx.y (grid-stride): row tile
template <typename T>
BNBQ_DEV void pr_transpose(const T* src, u64 rows, u64 cols, T* dst) {
    __shared__ T tile[32][33];
    const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
    const u64 c0 = (u64)blockIdx.x * 32, rtiles = (rows + 31) / 32;
    for (u64 rt = blockIdx.y; rt < rtiles; rt += gridDim.y) {
        const u64 r0 = rt * 32;
        for (int q = ty; q < 32; q += 8) {
            const u64 r = r0 + (u64)q, c = c0 + (u64)tx;
            if (r < rows && c < cols) tile[q][tx] = src[r * cols + c];
        }
        __syncthreads();
        for (int q = ty; q < 32; q += 8) {
            const u64 c = c0 + (u64)q, r = r0 + (u64)tx;
            if (r < rows && c < cols) dst[c * rows + r] = tile[tx][q];
        }
        __syncthreads();
    }
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_transpose1(const u8* src, u64 rows, u64 cols, u8* dst) { pr_transpose<u8>(src, rows, cols, dst); }
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_transpose2(const u16* src, u64 rows, u64 cols, u16* dst) { pr_transpose<u16>(src, rows, cols, dst); }
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_transpose4(const u32* src, u64 rows, u64 cols, u32* dst) { pr_transpose<u32>(src, rows, cols, dst); }
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_transpose8(const u64* src, u64 rows, u64 cols, u64* dst) { pr_transpose<u64>(src, rows, cols, dst); }

// out (count, row_bytes) = rows idx[i] of table; a warp per output row (grid-stride); the row is
// copied in units of vec bytes (16, 4 or 1: what row_bytes and both pointers allow); a bad index
// zeroes the row
template <typename T>
BNBQ_DEV void pr_gather(const u8* table, u64 num_rows, u64 row_bytes, const i32* idx, u64 count,
                        u8* out, u32* err, T zero) {
    const int lane = threadIdx.x & 31;
    const u64 wpb = blockDim.x >> 5, units = row_bytes / sizeof(T);
    for (u64 i = (u64)blockIdx.x * wpb + (threadIdx.x >> 5); i < count; i += (u64)gridDim.x * wpb) {
        const i32 r = idx[i];
        const bool bad = r < 0 || (u64)r >= num_rows;
        if (bad && lane == 0) *err = 1u;
        const T* s = (const T*)(table + (bad ? 0 : (u64)r) * row_bytes);
        T* d = (T*)(out + i * row_bytes);
        for (u64 u = lane; u < units; u += 32) d[u] = bad ? zero : s[u];
    }
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_gather_rows(const u8* table, u64 num_rows, u64 row_bytes, const i32* idx, u64 count,
                   u8* out, int vec, u32* err) {
    if (vec == 16) pr_gather<uint4>(table, num_rows, row_bytes, idx, count, out, err, make_uint4(0u, 0u, 0u, 0u));
    else if (vec == 4) pr_gather<u32>(table, num_rows, row_bytes, idx, count, out, err, 0u);
    else pr_gather<u8>(table, num_rows, row_bytes, idx, count, out, err, (u8)0);
}

// out (M, max_cols) = X (M, K) columns cols[j], j < *num_cols; zero for j >= *num_cols
template <typename T>
BNBQ_DEV void pr_gather_cols(const T* X, u64 M, u64 K, const i32* cols, const i32* num_cols,
                             u64 max_cols, T* out, u32* err) {
    i32 nc = *num_cols;
    if (nc < 0 || (u64)nc > max_cols) {
        if (blockIdx.x == 0 && threadIdx.x == 0) *err = 1u;
        nc = nc < 0 ? 0 : (i32)max_cols;
    }
    BNBQ_GRID_LOOP(e, M * max_cols) {
        const u64 m = e / max_cols, j = e - m * max_cols;
        T v = (T)0;
        if (j < (u64)nc) {
            const i32 c = cols[j];
            if (c < 0 || (u64)c >= K) *err = 1u;
            else v = X[m * K + (u64)c];
        }
        out[e] = v;
    }
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_gather_cols(const void* X, u64 M, u64 K, const i32* cols, const i32* num_cols, u64 max_cols,
                   void* out, int es, u32* err) {
    if (es == 8) pr_gather_cols<u64>((const u64*)X, M, K, cols, num_cols, max_cols, (u64*)out, err);
    else if (es == 4) pr_gather_cols<u32>((const u32*)X, M, K, cols, num_cols, max_cols, (u32*)out, err);
    else if (es == 2) pr_gather_cols<u16>((const u16*)X, M, K, cols, num_cols, max_cols, (u16*)out, err);
    else pr_gather_cols<u8>((const u8*)X, M, K, cols, num_cols, max_cols, (u8*)out, err);
}

#endif
