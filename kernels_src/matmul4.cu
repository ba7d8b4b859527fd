// bnbq_matmul_4bit when M > 1 or K % blocksize != 0: out (M, N) = A (M, K) @ W^T (+ bias), W (N, K)
// (on compute capability 9.0 more than 16 rows mostly take gemm90.cu's bnbq_k_m4_wg: see the launcher)
// 4-bit with W[n, k] = dt(table[nibble] * absmax[(n K + k) / blocksize]) exactly as bnbq__dequant4
// then bnbq__round_to (table: the NF4 values, or bnbq_fp4_value for FP4, resolved on the host).
// The products are accumulated in float32 (the CPU uses double: compare with a tolerance); the
// bias is added before the one rounding to dt.
// Tiles of 64 x 64 outputs, 16 elements of K per step (each W element dequantized once per tile),
// 256 threads with 4 x 4 outputs each. The dtype of A, bias and out is the variant's BNBQ_DT
// (a compile-time constant: one load / store path in the tile loops, not three).

#ifndef BNBQ_DT
#define BNBQ_DT BNBQ_F32
#endif

struct bnbq_code16 { float v[16]; };

#define BNBQ_M4_BM 64
#define BNBQ_M4_BN 64
#define BNBQ_M4_BK 16

// element i of A or bias, widened exactly: only an operand of float arithmetic (f16: the hardware
// widening, whose NaN payload does not matter there)
BNBQ_DEV float bnbq_m4_load(const void* p, u64 i) {
    if (BNBQ_DT == BNBQ_F16) return bnbq_h2f_arith(((const u16*)p)[i]);
    return bnbq_load(BNBQ_DT, p, i);
}

// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile. bs_shift = log2(blocksize).
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_matmul4(const void* A, const u8* packed, const float* absmax, u64 M, u64 N, u64 K,
               int bs_shift, void* out, const void* bias, bnbq_code16 code) {
    const int dt = BNBQ_DT;
    __shared__ float tab[16];
    __shared__ __align__(16) float As[BNBQ_M4_BK][BNBQ_M4_BM + 4];   // [k][m]
    __shared__ __align__(16) float Ws[BNBQ_M4_BK][BNBQ_M4_BN + 4];   // [k][n]
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const u64 mtiles = (M + BNBQ_M4_BM - 1) / BNBQ_M4_BM;
    const u64 n0 = (u64)blockIdx.x * BNBQ_M4_BN;
    if (tid < 16) tab[tid] = code.v[tid];
    __syncthreads();
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * BNBQ_M4_BM;
        float acc[4][4];
        bnbq_tile4x4_zero(acc);
        for (u64 k0 = 0; k0 < K; k0 += BNBQ_M4_BK) {
#pragma unroll
            for (int h = 0; h < 4; h++) {
                const int e = tid + 256 * h, row = e >> 4, kk = e & 15;
                const u64 k = k0 + (u64)kk, m = m0 + (u64)row, n = n0 + (u64)row;
                float a = 0.0f, w = 0.0f;
                if (k < K) {
                    if (m < M) a = bnbq_m4_load(A, m * K + k);
                    if (n < N) {
                        const u64 i = n * K + k;
                        const u32 byte = __ldg(packed + (i >> 1));
                        const u32 nib = (i & 1) ? (byte & 15u) : (byte >> 4);
                        const float v = tab[nib] * __ldg(absmax + (i >> bs_shift));
                        w = dt == BNBQ_F16 ? bnbq_round_f16(v) : bnbq_round_to(dt, v);
                    }
                }
                As[kk][row] = a;
                Ws[kk][row] = w;
            }
            __syncthreads();
            bnbq_tile4x4_step<BNBQ_M4_BK, BNBQ_M4_BM + 4, true>(acc, As, Ws, ty, tx);
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const u64 m = m0 + (u64)ty * 4 + (u64)i;
            if (m >= M) break;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const u64 n = n0 + (u64)tx * 4 + (u64)j;
                if (n < N) {
                    float o = acc[i][j];
                    if (bias) o = o + bnbq_m4_load(bias, n);
                    if (dt == BNBQ_F16) ((u16*)out)[m * N + n] = bnbq_f16_canon(o);
                    else bnbq_store(dt, out, m * N + n, o);
                }
            }
        }
    }
}

// ---- bnbq_k_matmul4_mma: 2..16 rows of A (a few tokens) on tensor cores (f16 / bf16, sm_80+) ------
// Each weight as bnbq_k_matmul4 makes it, dt(table[nibble] * absmax) (float products, one rounding
// each, two at a time by cvt.rn.*x2), then mma.m16n8k16 (dt x dt, float32 sums): the products are
// exact, the sums float32 in the tensor cores' order (a tolerance against the CPU's double sums, as
// the tiles above). W is the mma's A operand (16 rows of W a tile), the tokens its B (8 a tile;
// 9..16 tokens: a second). A block takes 16 rows of W and its BNBQ_M4M_W warps split K in steps of
// 128: lane (g, q) (g = lane / 4, q = lane % 4) takes the 32 elements [128 s + 32 q, + 32) of W's
// rows g and g + 8 (16 packed bytes each, in one absmax block: K % 32 == 0) and of tokens g and
// g + 8; mma j (0..7) gets their elements 4j .. 4j + 3 (the k order permuted alike for both
// operands). The warps' sums meet in shared memory (added in warp order); the bias is added in
// float32 before the one rounding to dt. The launcher: K % 32 == 0, packed and A 16-byte aligned.
// (The dequantize + GEMM of Linear4bit's several-token forward read and wrote the whole 16-bit
// weight: 2.3-3.0x cuBLAS f16 at 16 tokens on the H100; with this kernel and 16 warps a block
// 0.82-0.90x, with 8 (kept since session 20) 0.81-0.85x; 4 were up to 50 % slower:
// bench/results/gpu-20261123-h100-session19-matmul4-mma.txt and -session20-gemm-mma.txt.)
#ifndef BNBQ_M4M_W
#define BNBQ_M4M_W 8    // warps a block (the launcher's BNBQ__CU_M4M_W)
#endif
#if BNBQ_DT != BNBQ_F32
// (dt(lo), dt(hi)) in one word, lo in the low half
BNBQ_DEV u32 bnbq_m4_pair(float lo, float hi) {
    u32 d = 0u;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    d = bnbq_dt_pack2(lo, hi);
#else
    (void)lo; (void)hi;
#endif
    return d;
}
// the weights of packed byte `b` (bits 8 i .. 8 i + 7 of word x): elements 2 i (high nibble) and
// 2 i + 1 (low nibble) as a dt pair
BNBQ_DEV u32 bnbq_m4_byte(const float* tab, u32 x, int i, float s) {
    const float e = tab[(x >> (8 * i + 4)) & 15u] * s, o = tab[(x >> (8 * i)) & 15u] * s;
    return bnbq_m4_pair(e, o);
}
extern "C" __global__ void __launch_bounds__(BNBQ_M4M_W * 32)
bnbq_k_matmul4_mma(const void* A, const u8* packed, const float* absmax, u64 M, u64 N, u64 K,
                   int bs_shift, void* out, const void* bias, bnbq_code16 code) {
    __shared__ float tab[16];
    __shared__ float red[BNBQ_M4M_W][16][17];   // [warp][row of W][token]
    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5, g = lane >> 2, q = lane & 3u;
    const u64 K32 = K >> 5, steps = (K32 + 3) >> 2;
    const bool two = M > 8;
    const uint4 z = make_uint4(0u, 0u, 0u, 0u);
    if (tid < 16) tab[tid] = code.v[tid];
    __syncthreads();
    for (u64 n0 = (u64)blockIdx.x * 16u; n0 < N; n0 += (u64)gridDim.x * 16u) {
        const u64 na = n0 + g, nb = n0 + g + 8u;
        float c0[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, c1[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (u64 s = w; s < steps; s += BNBQ_M4M_W) {
            const u64 ch = s * 4u + q;   // this lane's 32-element chunk of the rows
            const bool in = ch < K32;
            const bool ia = in && na < N, ib = in && nb < N;
            const uint4 pa = ia ? __ldg((const uint4*)packed + na * K32 + ch) : z;
            const uint4 pb = ib ? __ldg((const uint4*)packed + nb * K32 + ch) : z;
            const float sa = ia ? __ldg(absmax + ((na * K + ch * 32u) >> bs_shift)) : 0.0f;
            const float sb = ib ? __ldg(absmax + ((nb * K + ch * 32u) >> bs_shift)) : 0.0f;
            uint4 x0[4], x1[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                x0[i] = in && g < M ? __ldg((const uint4*)((const u16*)A + (u64)g * K + ch * 32u) + i) : z;
                x1[i] = in && two && g + 8u < M ? __ldg((const uint4*)((const u16*)A + (u64)(g + 8u) * K + ch * 32u) + i) : z;
            }
            const u32 wa[4] = { pa.x, pa.y, pa.z, pa.w }, wb[4] = { pb.x, pb.y, pb.z, pb.w };
            const u32 t0[16] = { x0[0].x, x0[0].y, x0[0].z, x0[0].w, x0[1].x, x0[1].y, x0[1].z, x0[1].w,
                                 x0[2].x, x0[2].y, x0[2].z, x0[2].w, x0[3].x, x0[3].y, x0[3].z, x0[3].w };
            const u32 t1[16] = { x1[0].x, x1[0].y, x1[0].z, x1[0].w, x1[1].x, x1[1].y, x1[1].z, x1[1].w,
                                 x1[2].x, x1[2].y, x1[2].z, x1[2].w, x1[3].x, x1[3].y, x1[3].z, x1[3].w };
#pragma unroll
            for (int j = 0; j < 8; j++) {   // elements 4j .. 4j + 3: bytes 2j (a0, a1) and 2j + 1 (a2, a3)
                const int bi = (j & 1) * 2;
                const u32 a0 = bnbq_m4_byte(tab, wa[j >> 1], bi, sa), a1 = bnbq_m4_byte(tab, wb[j >> 1], bi, sb);
                const u32 a2 = bnbq_m4_byte(tab, wa[j >> 1], bi + 1, sa), a3 = bnbq_m4_byte(tab, wb[j >> 1], bi + 1, sb);
                bnbq_mma16816(c0, a0, a1, a2, a3, t0[2 * j], t0[2 * j + 1]);
                if (two) bnbq_mma16816(c1, a0, a1, a2, a3, t1[2 * j], t1[2 * j + 1]);
            }
        }
        bnbq_mma_stash(red[w], g, q, c0, c1);
        __syncthreads();
        for (u32 o = tid; o < 256u; o += blockDim.x) {
            const u32 m = o >> 4, nl = o & 15u;
            const u64 n = n0 + nl;
            if ((u64)m < M && n < N) {
                float v = bnbq_mma_unstash<BNBQ_M4M_W>(red, nl, m);
                if (bias) v = v + bnbq_m4_load(bias, n);
                if (BNBQ_DT == BNBQ_F16) ((u16*)out)[(u64)m * N + n] = bnbq_f16_canon(v);
                else bnbq_store(BNBQ_DT, out, (u64)m * N + n, v);
            }
        }
        __syncthreads();
    }
}
#endif
