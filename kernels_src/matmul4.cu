// bnbq_matmul_4bit when M > 1 or K % blocksize != 0: out (M, N) = A (M, K) @ W^T (+ bias), W (N, K)
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
