// int8 GEMMs: out (M, N) from A (M, K) int8 and B (N, K) int8, both row-major along K, exact int32
// accumulation with wrap-around (__dp4a), any K (the tail is zero-padded in shared memory).
//   bnbq_k_int8_matmul:  int32 out (bnbq_int8_linear_matmul)
//   bnbq_k_sb_matmul:    SwitchBack epilogue (int8_matmul_rowwise_dequantize / _mixed_dequantize):
//       f = f32(acc) * f32(1/127^2); g = sx[m] * f; c = w * g; h = f16(c); + bias in f16
// Tiles of 64 x 64 outputs, 32 bytes of K per step, 256 threads with 4 x 4 outputs each.

#define BNBQ_MM_BM 64
#define BNBQ_MM_BN 64
#define BNBQ_MM_BK 32      // bytes of K per step: 8 words

// vec: K % 16 == 0 and A, B 16-byte aligned (16-byte loads); else byte loads.
BNBQ_DEV void bnbq_mm_tile(const i8* A, const i8* B, u64 M, u64 N, u64 K, u64 m0, u64 n0, int vec,
                           int acc[4][4]) {
    __shared__ __align__(16) int As[BNBQ_MM_BK / 4][BNBQ_MM_BM];   // [k word][m]
    __shared__ __align__(16) int Bs[BNBQ_MM_BK / 4][BNBQ_MM_BN];   // [k word][n]
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0;
    for (u64 k0 = 0; k0 < K; k0 += BNBQ_MM_BK) {
        if (vec) {
            // threads 0..127 load the A tile, 128..255 the B tile: 64 rows x 2 vectors of 16 bytes
            const int v = tid & 127, row = v >> 1, kk = (v & 1) * 16;
            const int isA = tid < 128;
            const i8* src = isA ? A : B;
            const u64 g = (isA ? m0 : n0) + (u64)row, R = isA ? M : N;
            uint4 d = make_uint4(0u, 0u, 0u, 0u);
            if (g < R && k0 + (u64)kk < K) d = __ldg((const uint4*)(src + g * K + k0 + (u64)kk));
            int (*S)[BNBQ_MM_BM] = isA ? As : Bs;
            S[kk / 4 + 0][row] = (int)d.x;
            S[kk / 4 + 1][row] = (int)d.y;
            S[kk / 4 + 2][row] = (int)d.z;
            S[kk / 4 + 3][row] = (int)d.w;
        } else {
            // 512 words per tile: each thread builds two words of A and two of B from bytes
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int wv = tid * 2 + h, row = wv >> 3, kw = wv & 7;
                const u64 gm = m0 + (u64)row, gn = n0 + (u64)row;
                u32 wa = 0u, wb = 0u;
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    const u64 k = k0 + (u64)(kw * 4 + b);
                    if (k < K) {
                        if (gm < M) wa |= (u32)(u8)A[gm * K + k] << (8 * b);
                        if (gn < N) wb |= (u32)(u8)B[gn * K + k] << (8 * b);
                    }
                }
                As[kw][row] = (int)wa;
                Bs[kw][row] = (int)wb;
            }        }
        __syncthreads();
#pragma unroll
        for (int kw = 0; kw < BNBQ_MM_BK / 4; kw++) {
            const int4 a = *(const int4*)&As[kw][ty * 4];
            const int4 b = *(const int4*)&Bs[kw][tx * 4];
            const int av[4] = { a.x, a.y, a.z, a.w }, bv[4] = { b.x, b.y, b.z, b.w };
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = __dp4a(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
}

// blockIdx.x: n tile; blockIdx.y (grid-stride): m tile. blockDim.x == 256.
// vec_out: N % 4 == 0 and out 16-byte aligned.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_matmul(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, int vec, int vec_out) {
    const u64 mtiles = (M + BNBQ_MM_BM - 1) / BNBQ_MM_BM;
    const u64 n0 = (u64)blockIdx.x * BNBQ_MM_BN;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * BNBQ_MM_BM;
        int acc[4][4];
        bnbq_mm_tile(A, B, M, N, K, m0, n0, vec, acc);
        const u64 n = n0 + (u64)tx * 4;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const u64 m = m0 + (u64)ty * 4 + (u64)i;
            if (m >= M) break;
            if (vec_out && n + 3 < N) {
                *(int4*)(out + m * N + n) = make_int4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
            } else {
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (n + (u64)j < N) out[m * N + n + (u64)j] = acc[i][j];
            }
        }
    }
}

// A value hidden from the optimizer (so that it does not specialise code on it)
BNBQ_DEV u64 bnbq_mm_opaque(u64 v) {
    u64 r;
    asm("mov.b64 %0, %1;" : "=l"(r) : "l"(v));
    return r;
}


// SwitchBack epilogue. sw_global: state_w has one element. bias: (N,) f16 or NULL.
template <int VEC>
BNBQ_DEV void bnbq_sb_matmul(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global,
                             u64 M, u64 N, u64 K, u16* out, const u16* bias) {
    const int vec = VEC;
    // masks computed once: sw[n & swmask]; with a bias bp = bias, the result h + bias; without,
    // bp[0] = sx[0] is read and not used. Opaque to the optimizer (asm), so that it keeps one
    // copy of the epilogue instead of one per case.
    const u64 swmask = bnbq_mm_opaque(sw_global ? 0 : ~(u64)0);
    const u64 bnmask = bnbq_mm_opaque(bias ? ~(u64)0 : 0);
    const u16* bp = bias ? bias : sx;
    const u32 bhmask = (u32)bnmask & 0xffffu;
    const u64 mtiles = (M + BNBQ_MM_BM - 1) / BNBQ_MM_BM;
    const u64 n0 = (u64)blockIdx.x * BNBQ_MM_BN;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    for (u64 mt = blockIdx.y; mt < mtiles; mt += gridDim.y) {
        const u64 m0 = mt * BNBQ_MM_BM;
        int acc[4][4];
        bnbq_mm_tile(A, B, M, N, K, m0, n0, vec, acc);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const u64 m = m0 + (u64)ty * 4 + (u64)i;
            if (m >= M) break;
            const float x = bnbq_h2f_arith(sx[m]);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const u64 n = n0 + (u64)tx * 4 + (u64)j;
                if (n < N) {
                    // as h = bnbq_round_to(F16, c); h = bnbq_round_to(F16, h + bias); f16(h).
                    // sw_global and bias by selects, not branches (one copy of this code).
                    const u32 h = bnbq_sb_scale(acc[i][j], x, bnbq_h2f_arith(sw[n & swmask]));
                    const float hs = bnbq_h2f_arith((u16)h) + bnbq_h2f_arith(bp[n & bnmask]);
                    const u32 hb = bnbq_f16_canon(hs);
                    out[m * N + n] = (u16)(h ^ ((h ^ hb) & bhmask));
                }
            }
        }
    }
}
// The launcher picks: K % 16 == 0 and A, B 16-byte aligned: 16-byte loads; else _any (bytes).
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_matmul(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M,
                 u64 N, u64 K, u16* out, const u16* bias) {
    bnbq_sb_matmul<1>(A, B, sx, sw, sw_global, M, N, K, out, bias);
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_matmul_any(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M,
                     u64 N, u64 K, u16* out, const u16* bias) {
    bnbq_sb_matmul<0>(A, B, sx, sw, sw_global, M, N, K, out, bias);
}

// ---- bnbq_k_int8_gemv: int32 out for a few rows of A (M <= BNBQ__CU_MM_GV_M; the launcher) -------
// A decoding step multiplies one or a few tokens by the weight: the 64 x 64 tiles above then read
// each tile of B in 32-byte steps with a barrier each and use M / 64 of their outputs. Here a warp
// takes a row n of B and a group of up to BNBQ_MM_GV_M rows of A at a time; its lanes read 16 bytes
// of the row each, BNBQ_MM_GV_U loads at once (a 4096-byte row in one round trip), with the same 16
// bytes of each of the group's rows of A (from the L1: A is small and every warp reads it); __dp4a
// into one int32 sum per row of A and lane, then the warp's sums by shuffles. With more than
// BNBQ_MM_GV_M rows of A (at most twice that) the two groups of a row n go to two consecutive warps
// (of one block, at the same time), so that B is read from DRAM once. Integer sums (wrapping mod 2^32) do not
// depend on their order: the result is the tile kernel's and the CPU's, bit for bit. K % 16 == 0,
// A and B 16-byte aligned.
// SB = 1 (bnbq_k_sb_gemv): the SwitchBack epilogue of bnbq_sb_matmul on each sum instead of the int32.
#define BNBQ_MM_GV_M 8
#define BNBQ_MM_GV_U 8
// bnbq_k_int8_gemv_dq (one row of A) takes BNBQ_MM_GVDQ_U loads at once: 4 measured 1-5 % faster than 8 for
// Linear8bitLt at one token on the H100 (bench/results/gpu-20261124-h100-session29-int8-gemv-dq.txt)
#ifndef BNBQ_MM_GVDQ_U
#define BNBQ_MM_GVDQ_U 4
#endif
// A few-rows kernel's output (m, n) of the int32 sum: the int32 itself (SB = 0) or, as bnbq_sb_matmul,
// SwitchBack's f16 of it (+ bias). Shared by bnbq_mm_gemv and bnbq_mm_tc.
template <int SB>
BNBQ_DEV void bnbq_mm_few_out(u32 sum, u64 m, u64 n, u64 N, i32* out, const u16* sx, const u16* sw,
                              int sw_global, u16* out16, const u16* bias) {
    const u64 e = m * N + n;
    if (!SB) {
        out[e] = (i32)sum;
    } else {
        u32 h = bnbq_sb_scale((i32)sum, bnbq_h2f_arith(sx[m]), bnbq_h2f_arith(sw[sw_global ? 0 : n]));
        if (bias) h = bnbq_f16_canon(bnbq_h2f_arith((u16)h) + bnbq_h2f_arith(bias[n]));
        out16[e] = (u16)h;
    }
}
// SB = 2 (bnbq_k_int8_gemv_dq: bnbq_int8_mixed_scaled_mm for one row of A, a decoding step): LLM.int8's
// mm_dequant of each sum to dt (+ bias), then, with outlier columns, the outlier product of bnbq_k_outlier_mm
// added: out = dt(f32(out) + S), S the float32 sum in j order of f32(X[m, c_j] * w[n, j]), w[n, j] =
// dt(f32(f32(B[n, c_j] * cs[n]) * (1/127))). The warp that summed row n of B reads its outlier bytes again
// (from the L1 / L2: it has just streamed the row), lane j % 32 makes product j, and the warp adds them in
// j order through shuffles (every lane the same sum), added to the dequantized value as dt holds it: the
// bytes of bnbq_k_int8_mm_dequant then bnbq_k_outlier_mm, bit for bit (a bad column: skipped, *err = 1;
// *num_cols clamped to [0, K]).
// bnbq_i8_outlier_w(dt, q, scb) as an operand of arithmetic: the hardware's RNE narrowings (bnbq_f16_canon /
// bnbq_bf16_canon: the same values; a NaN stays a NaN, which the product and the sum keep), selected without a branch
// (less code in each of the four unrolled picks than bnbq_round_to's software roundings)
BNBQ_DEV float bnbq_mm_outlier_w_hw(int dt, int q, float scb) {
    const float w1 = bnbq_i8_outlier_w1(q, scb);
    const float h = bnbq_h2f_arith(bnbq_f16_canon(w1)), b = bnbq_bf16_to_f32(bnbq_bf16_canon(w1));
    return dt == BNBQ_F16 ? h : dt == BNBQ_BF16 ? b : w1;
}
#ifndef BNBQ_MM_DQ_WPX
#define BNBQ_MM_DQ_WPX 1   // bnbq_k_int8_gemv_dq's one-row outlier sum through shared memory (0: the shuffles, for A/B)
#endif
struct bnbq_mm_dq {
    const float* rs; const float* cs; void* out; const void* bias; const void* X; const i32* cols;
    const i32* num_cols; u32* err; int dt; int bias_dt;
    float* wpx;   // the warp's 64 floats of shared memory for a row's outlier products (bnbq_k_int8_gemv_dq: wp), or 0
};
// (Inline: out of line, __noinline__, NVRTC took 0.214 s instead of 0.275 here, but Linear8bitLt at one token
// was 10-20 % slower on the H100, bench/results/gpu-20261123-h100-session22-int8-dq-noinline.txt.)
// (pre: one row whose outlier sum, the same value, lane 0 has in pre_s: bnbq_k_int8_gemv_bro's picked products)
BNBQ_DEV void bnbq_mm_dq_out(u32 mine, u32 lane, u64 rows, u64 m0, u64 n, u64 N, u64 K, const i8* B,
                             const bnbq_mm_dq& d, bool pre = false, float pre_s = 0.0f, bool wp = false) {
    const bool own = (u64)lane < rows;   // lane r keeps row m0 + r
    const u64 e = (m0 + lane) * N + n;
    const float h = own ? bnbq_i8_mmdq((int)mine, d.rs[m0 + lane], d.cs[n], d.bias_dt, d.bias, n) : 0.0f;
    if (!d.cols) {
        if (own) bnbq_store(d.dt, d.out, e, h);
        return;
    }
    i32 nc = pre ? 0 : *d.num_cols;
    bool bad = nc < 0 || (u64)nc > K;
    if (bad) nc = nc < 0 ? 0 : (i32)K;
    const float csn = d.cs[n];
    float smine = pre_s;
    if (BNBQ_MM_DQ_WPX && wp && !pre) {   // (wp: a constant of the caller, rows == 1 and d.wpx given)
        // one row: the lanes' products (the same values, an invalid column's 0 included) into the warp's shared
        // slots, 64 at a time, and lane 0 adds them in j order: the shuffles' sum, with fewer instructions. (wp a
        // constant and the software rounding of the shuffle path: NVRTC time +8 % over the shuffles alone, where
        // a runtime test of d.wpx and bnbq_mm_outlier_w_hw made it +85 %.)
        float S = 0.0f;
        for (i32 j0 = 0; j0 < nc; j0 += 64) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const i32 j = j0 + 32 * h + (i32)lane;
                float p = 0.0f;
                if (j < nc) {
                    const i32 c = d.cols[j];
                    if (c >= 0 && (u64)c < K)
                        p = bnbq_load(d.dt, d.X, m0 * K + (u64)c) * bnbq_i8_outlier_w(d.dt, B[n * K + (u64)c], csn);
                    else
                        bad = true;
                }
                d.wpx[32 * h + (i32)lane] = p;
            }
            __syncwarp();
            if (lane == 0) {
                const i32 cnt = nc - j0 < 64 ? nc - j0 : 64;
                for (i32 t = 0; t < cnt; t++) S = S + d.wpx[t];
            }
            __syncwarp();
        }
        smine = S;
        pre = true;   // (done: no shuffle loop)
    }
    for (u64 r = 0; r < rows && !pre; r++) {
        float S = 0.0f;
        for (i32 j0 = 0; j0 < nc; j0 += 32) {
            const i32 j = j0 + (i32)lane;
            float p = 0.0f;
            if (j < nc) {
                const i32 c = d.cols[j];
                if (c >= 0 && (u64)c < K) {
                    const float w = bnbq_i8_outlier_w(d.dt, B[n * K + (u64)c], csn);
                    p = bnbq_load(d.dt, d.X, (m0 + r) * K + (u64)c) * w;
                } else {
                    bad = true;
                }
            }
            const i32 cnt = nc - j0 < 32 ? nc - j0 : 32;
            for (i32 t = 0; t < cnt; t++) S = S + __shfl_sync(0xffffffffu, p, t);
        }
        if ((u64)lane == r) smine = S;
    }
    if (bad) *d.err = 1u;   // (the lane that met it: bad is per lane)
    // dt(h) as the unfused path stores it and reads it back: bnbq_round_to gives that value (a NaN's
    // payload aside, which the store of the sum makes canonical either way)
    if (own) bnbq_store(d.dt, d.out, e, bnbq_round_to(d.dt, h) + smine);
}
// SB = 2 on the tensor-core tiles (bnbq_k_int8_dq_mma): out (m, n) = dt of LLM.int8's mm_dequant of the
// sum, as bnbq_k_int8_mm_dequant stores it, and with outlier columns (s: their sum, bnbq_mm_tc_outl) dt(that
// value as dt holds it + s), as bnbq_k_outlier_mm_few then adds it. (The same
// epilogue on the 128 x 128 tiles, bnbq_k_int8_dq_tc, out of line as bnbq_mt_sb_out2, made Linear8bitLt at
// 512-4096 tokens 10-30 % slower than bnbq_k_int8_tc's int32 pairs + bnbq_k_int8_mm_dequant, bench/results/
// gpu-20261123-h100-session22-int8-dq.txt: not kept.)
BNBQ_DEV void bnbq_mm_dq_one(u32 sum, u64 m, u64 n, u64 N, const bnbq_mm_dq& d, float s) {
    const float h = bnbq_i8_mmdq((int)sum, d.rs[m], d.cs[n], d.bias_dt, d.bias, n);
    bnbq_store(d.dt, d.out, m * N + n, d.cols ? bnbq_round_to(d.dt, h) + s : h);
}
// The int32 dot product of 16 int8 bytes of A and of B (four __dp4a): bnbq_mm_gemv's and bnbq_k_int8_gemv_br's step
BNBQ_DEV int bnbq_mm_dot16(uint4 a, uint4 b) {
    int s = __dp4a((int)a.x, (int)b.x, 0);
    s = __dp4a((int)a.y, (int)b.y, s);
    s = __dp4a((int)a.z, (int)b.z, s);
    return __dp4a((int)a.w, (int)b.w, s);
}
// MG: the most rows of A a group (BNBQ_MM_GV_M; 1 for bnbq_k_int8_gemv_dq, whose A is one row); U: the loads of
// 16 bytes a lane has in flight. The groups stay BNBQ_MM_GV_M rows apart: MG < BNBQ_MM_GV_M needs M <= MG. (Groups of
// MG rows, the general form, made ptxas take gemv_dq to 48 registers and a spill: its speed not measured, not taken.)
template <int SB, int MG = BNBQ_MM_GV_M, int U = BNBQ_MM_GV_U>
BNBQ_DEV void bnbq_mm_gemv(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, const u16* sx,
                           const u16* sw, int sw_global, u16* out16, const u16* bias,
                           const bnbq_mm_dq* dq = 0) {
    const u32 lane = threadIdx.x & 31u;
    const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5, K16 = K >> 4;
    const u32 gs = M > BNBQ_MM_GV_M;   // 1: two groups (M <= 2 BNBQ_MM_GV_M, the launcher)
    for (u64 wi = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; wi < (N << gs); wi += nwarps) {
        const u64 n = wi >> gs, m0 = (wi & gs) * BNBQ_MM_GV_M, mc = M - m0;   // rows m0 .. m0 + min(mc, 8)
        const uint4* b4 = (const uint4*)(B + n * K);
        const uint4* a4 = (const uint4*)(A + m0 * K);
        u32 acc[MG];
#pragma unroll
        for (int m = 0; m < MG; m++) acc[m] = 0u;
        for (u64 c0 = 0; c0 < K16; c0 += 32u * U) {
            uint4 b[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                const u64 c = c0 + (u64)u * 32u + lane;
                b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0u, 0u, 0u, 0u);
            }
#pragma unroll
            for (int u = 0; u < U; u++) {
                const u64 c = c0 + (u64)u * 32u + lane;
                if (c >= K16) break;
#pragma unroll
                for (int m = 0; m < MG; m++) {
                    if ((u64)m >= mc) break;
                    acc[m] += (u32)bnbq_mm_dot16(__ldg(a4 + (u64)m * K16 + c), b[u]);
                }
            }
        }
        u32 mine = 0u;   // lane m < min(mc, 8) keeps row m0 + m's sum
#pragma unroll
        for (int m = 0; m < MG; m++) {
            if ((u64)m >= mc) break;
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], o);
            if (lane == (u32)m) mine = acc[m];
        }
        if (SB == 2)
            bnbq_mm_dq_out(mine, lane, mc < MG ? mc : MG, m0, n, N, K, B, *dq, false, 0.0f, MG == 1);
        else if ((u64)lane < mc && lane < BNBQ_MM_GV_M)
            bnbq_mm_few_out<SB>(mine, m0 + lane, n, N, out, sx, sw, sw_global, out16, bias);
    }
}
// ---- bnbq_k_int8_mma / bnbq_k_sb_mma: the same for 2..16 rows of A on tensor cores (sm_80+) ------
// With 9-16 rows the warp-a-row form above reads 16 rows of A from the L1 for every 16 bytes of B
// (and misses it once A is larger than the L1: K = 14336 at 16 rows took 170 us on the H100, 5x
// its one-row time). Here one mma.m16n8k32 (s8 x s8 + s32) multiplies the 16 rows of A by 8 rows of
// B over 32 bytes of K. A block takes BNBQ_MM_TC_T * 8 rows of B and its BNBQ_MM_TC_W warps split K:
// warp w takes the 64-byte steps w, w + W, ... of every row, lane (g, q) (g = lane / 4, q = lane % 4)
// loading 16 bytes at byte 16 q of the step from A's rows g and g + 8 (zeros past M) and from the
// block's B rows 8 t + g, and feeding bytes 0-7 to one mma and bytes 8-15 to a second: the mma's k
// order permuted the same way for A and B, which an integer dot product does not see. The warps'
// sums meet in shared memory. s32 accumulation wraps mod 2^32 like __dp4a (test_gpu checks it
// past 2^31): the result is the CPU's bit for bit. K % 16 == 0, A and B 16-byte aligned.
// Geometry measured on the H100 (Linear8bitLt forward at 16 tokens, bench/results/
// gpu-20261123-h100-session19-int8-mma.txt): 16 rows of B and 16 warps a block; 32 rows and 8 warps
// was 1.3-1.8x slower (half the blocks), 32 rows and 4 warps, or 64 rows, 2-3x; 8 rows or 32 warps
// within 0-20 % of the choice. One row of A stays with bnbq_k_int8_gemv (this form was 4-20 % slower there).
#ifndef BNBQ_MM_TC_T
#define BNBQ_MM_TC_T 2    // n tiles of 8 rows of B a block (the launcher's BNBQ__CU_MM_TC_N / 8)
#endif
#ifndef BNBQ_MM_TC_W
#define BNBQ_MM_TC_W 16   // warps a block, splitting K (the launcher's BNBQ__CU_MM_TC_W)
#endif
#define BNBQ_MM_TC_N (BNBQ_MM_TC_T * 8)
BNBQ_DEV void bnbq_mm_mma16832(u32* c, uint4 lo, uint4 hi, u32 b0, u32 b1, int second) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const u32 a0 = second ? lo.z : lo.x, a1 = second ? hi.z : hi.x;
    const u32 a2 = second ? lo.w : lo.y, a3 = second ? hi.w : hi.y;
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
    (void)c; (void)lo; (void)hi; (void)b0; (void)b1; (void)second;
    __trap();   // the launcher takes this kernel on sm_80+ only
#endif
}
// bnbq_k_int8_dq_mma with outlier columns: the outlier product of bnbq_k_outlier_mm_few (prims.cu) for the
// block's 16 x 16 outputs, the same staged values and sums in the same j order (byte-identical), in the
// epilogue of the tile whose 16 rows of B the block has just streamed (their outlier bytes come from the
// L1 / L2, not DRAM again) and with no launch of its own: 64 columns a step, thread t staging column t % 64
// at rows t / 64 + 8 h (h < 2) of X and of the tile's w, thread t < 256 then adding its output's 64
// products (m = t / 16, n = n0 + t % 16). The first step's loads are issued before the tile's K loop, each
// next step's during the products of the step before. (The first step's X and B loads issued after the K
// loop instead, cols[j] before it, made Linear8bitLt at 16 tokens 4096 x 14336 ~10 % slower on the H100,
// bench/results/gpu-20261123-h100-session23-int8-few.txt.)
#if BNBQ_MM_TC_N != 16 || BNBQ_MM_TC_W * 32 < 256 || (BNBQ_MM_TC_W * 32) % 64 != 0
#error "bnbq_mm_tc's outlier epilogue takes 16 x 16 output tiles and blocks of 256 threads or more"
#endif
// bnbq_int8_mixed_scaled_mm's kernels (bnbq_k_int8_dq_mma, bnbq_k_int8_gemv_dq) are launched with
// bnbq__cu_launch_pdl: they may start while the quantization before them still runs (it releases them, for a
// few rows). Before they wait for it, the weight rows [n0, n0 + nr) of their first tile, which do not depend
// on it, are prefetched into the L2 (prefetch.global.L2: a hint, never stale data), a 128-byte line each of
// nt threads (t: this one's index); then bnbq_pdl_wait (immediate when launched the usual way).
BNBQ_DEV void bnbq_mm_pdl_prefetch(const i8* B, u64 N, u64 K, u64 n0, u64 nr, u32 t, u32 nt) {
    const u64 lpr = (K + 127) / 128, n1 = n0 + nr < N ? n0 + nr : N;
    if (n0 < n1)
        for (u64 l = t; l < (n1 - n0) * lpr; l += nt) {
            const u64 r = n0 + l / lpr, o = (l % lpr) * 128;
            bnbq_prefetch_l2(B + r * K + o);
        }
    bnbq_pdl_wait();
}
#define BNBQ_MM_OJ 64                                   // outlier columns a step
#define BNBQ_MM_ORS (BNBQ_MM_TC_W * 32 / BNBQ_MM_OJ)    // staging rows of a pass (8)
#define BNBQ_MM_OH (16 / BNBQ_MM_ORS)                   // staging rows a thread (2)
struct bnbq_mm_oload { float a[BNBQ_MM_OH]; int q[BNBQ_MM_OH]; i32 c; bool ok; };
struct bnbq_mm_ostage { float a[BNBQ_MM_OJ][17]; float w[BNBQ_MM_OJ][17]; };   // [j][m], [j][n]
// this thread's column j (live: j < nc): c = cols[j], ok for a live column in [0, K) (a bad one sets bad)
BNBQ_DEV void bnbq_mm_ocol(bnbq_mm_oload& L, i32 j, i32 nc, u64 K, const bnbq_mm_dq& d, u32& bad) {
    const bool live = j < nc;
    L.c = live ? d.cols[j] : 0;
    L.ok = live && L.c >= 0 && (u64)L.c < K;
    if (live && !L.ok) bad = 1u;
}
// then its loads: X[r, c] and B[n0 + r, c] at its staging rows r; 0 past M or N and where !ok
BNBQ_DEV void bnbq_mm_oval(bnbq_mm_oload& L, u64 M, u64 N, u64 K, u64 n0, const i8* B, const bnbq_mm_dq& d) {
    const u64 r0 = threadIdx.x / BNBQ_MM_OJ;
#pragma unroll
    for (int h = 0; h < BNBQ_MM_OH; h++) {
        const u64 r = r0 + (u64)(BNBQ_MM_ORS * h);
        L.a[h] = L.ok && r < M ? bnbq_load(d.dt, d.X, r * K + (u64)L.c) : 0.0f;
        L.q[h] = L.ok && n0 + r < N ? (int)B[(n0 + r) * K + (u64)L.c] : 0;
    }
}
// the outlier sum of this thread's output (0 for threads past the tile's 256), every thread of the block
// (uniform; its own barriers); L holds the first step's loads, scb the thread's staging rows' scales
BNBQ_DEV float bnbq_mm_tc_outl(bnbq_mm_oload& L, const float (&scb)[BNBQ_MM_OH], i32 nc, u64 M, u64 N, u64 K,
                               u64 n0, const i8* B, const bnbq_mm_dq& d, u32& bad, bnbq_mm_ostage& st) {
    const u32 t = threadIdx.x, jj = t % BNBQ_MM_OJ, r0 = t / BNBQ_MM_OJ, tm = (t >> 4) & 15u, tn = t & 15u;
    float s = 0.0f;
    for (i32 j0 = 0; j0 < nc; j0 += BNBQ_MM_OJ) {
#pragma unroll
        for (int h = 0; h < BNBQ_MM_OH; h++) {
            const u32 r = r0 + (u32)(BNBQ_MM_ORS * h);
            st.a[jj][r] = L.a[h];
            st.w[jj][r] = L.ok && n0 + r < N ? bnbq_i8_outlier_w(d.dt, L.q[h], scb[h]) : 0.0f;
        }
        __syncthreads();
        if (j0 + BNBQ_MM_OJ < nc) {
            bnbq_mm_ocol(L, j0 + BNBQ_MM_OJ + (i32)jj, nc, K, d, bad);
            bnbq_mm_oval(L, M, N, K, n0, B, d);
        }
        if (t < 256u) {
#pragma unroll 16
            for (int k = 0; k < BNBQ_MM_OJ; k++) {
                const float p = st.a[k][tm] * st.w[k][tn];
                s = s + p;
            }
        }
        __syncthreads();
    }
    return s;
}
template <int SB>
BNBQ_DEV void bnbq_mm_tc(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, const u16* sx,
                         const u16* sw, int sw_global, u16* out16, const u16* bias,
                         const bnbq_mm_dq* dq = 0) {
    __shared__ u32 red[BNBQ_MM_TC_W][16][BNBQ_MM_TC_N + 4];
    __shared__ bnbq_mm_ostage ost;   // SB = 2 with outlier columns
    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;
    const u64 K16 = K >> 4, steps = (K16 + 3) >> 2;
    const uint4 z = make_uint4(0u, 0u, 0u, 0u);
    const uint4* alo = (const uint4*)(A + (u64)g * K);
    const uint4* ahi = (const uint4*)(A + (u64)(g + 8u) * K);
    // SB = 2 with outlier columns (uniform): their count, clamped to [0, K] (outside: *err = 1, once a block)
    const bool outl = SB == 2 && dq->cols;
    u32 bad = 0u;
    i32 nc = 0;
    if (outl) {
        nc = *dq->num_cols;
        if (nc < 0 || (u64)nc > K) {
            if (threadIdx.x == 0) bad = 1u;
            nc = nc < 0 ? 0 : (i32)K;
        }
    }
    for (u64 n0 = (u64)blockIdx.x * BNBQ_MM_TC_N; n0 < N; n0 += (u64)gridDim.x * BNBQ_MM_TC_N) {
        bnbq_mm_oload ol;
        float scb[BNBQ_MM_OH];
        if (outl) {   // the outlier epilogue's first loads and scales, in flight during the K loop
            bnbq_mm_ocol(ol, (i32)(threadIdx.x % BNBQ_MM_OJ), nc, K, *dq, bad);
            bnbq_mm_oval(ol, M, N, K, n0, B, *dq);
#pragma unroll
            for (int h = 0; h < BNBQ_MM_OH; h++) {
                const u64 n = n0 + threadIdx.x / BNBQ_MM_OJ + (u64)(BNBQ_MM_ORS * h);
                scb[h] = n < N ? dq->cs[n] : 0.0f;
            }
        }
        u32 c[BNBQ_MM_TC_T][4];
#pragma unroll
        for (int t = 0; t < BNBQ_MM_TC_T; t++) c[t][0] = c[t][1] = c[t][2] = c[t][3] = 0u;
        for (u64 s = w; s < steps; s += BNBQ_MM_TC_W) {
            const u64 ch = s * 4u + q;   // this lane's 16-byte chunk of the rows
            const bool in = ch < K16;
            const uint4 lo = in && g < M ? __ldg(alo + ch) : z;
            const uint4 hi = in && g + 8u < M ? __ldg(ahi + ch) : z;
            uint4 b[BNBQ_MM_TC_T];
#pragma unroll
            for (int t = 0; t < BNBQ_MM_TC_T; t++) {
                const u64 n = n0 + (u64)t * 8u + g;
                b[t] = in && n < N ? __ldg((const uint4*)(B + n * K) + ch) : z;
            }
#pragma unroll
            for (int t = 0; t < BNBQ_MM_TC_T; t++) {
                bnbq_mm_mma16832(c[t], lo, hi, b[t].x, b[t].y, 0);
                bnbq_mm_mma16832(c[t], lo, hi, b[t].z, b[t].w, 1);
            }
        }
#pragma unroll
        for (int t = 0; t < BNBQ_MM_TC_T; t++) {   // c[t]: rows g (0, 1) and g + 8 (2, 3), columns 2q, 2q + 1
            red[w][g][t * 8 + 2 * q] = c[t][0];
            red[w][g][t * 8 + 2 * q + 1] = c[t][1];
            red[w][g + 8][t * 8 + 2 * q] = c[t][2];
            red[w][g + 8][t * 8 + 2 * q + 1] = c[t][3];
        }
        __syncthreads();
        // (SB = 2 with outlier columns: thread o < 256 keeps output o, 16 x BNBQ_MM_TC_N = 256 <= blockDim.x)
        const float os = outl ? bnbq_mm_tc_outl(ol, scb, nc, M, N, K, n0, B, *dq, bad, ost) : 0.0f;
        for (u32 o = threadIdx.x; o < 16u * BNBQ_MM_TC_N; o += blockDim.x) {
            const u32 m = o / BNBQ_MM_TC_N, col = o % BNBQ_MM_TC_N;
            const u64 n = n0 + col;
            u32 sum = 0u;
#pragma unroll
            for (int v = 0; v < BNBQ_MM_TC_W; v++) sum += red[v][m][col];
            if ((u64)m < M && n < N) {
                if (SB == 2) bnbq_mm_dq_one(sum, m, n, N, *dq, os);
                else bnbq_mm_few_out<SB>(sum, m, n, N, out, sx, sw, sw_global, out16, bias);
            }
        }
        __syncthreads();
    }
    if (bad) *dq->err = 1u;
}
extern "C" __global__ void __launch_bounds__(BNBQ_MM_TC_W * 32)
bnbq_k_int8_mma(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {
    bnbq_mm_tc<0>(A, B, M, N, K, out, 0, 0, 0, 0, 0);
}
// the same for 2..16 rows of A (bnbq_mm_tc), with the outlier columns where cols is given (2 blocks an SM, as
// bnbq_k_int8_mma: 64 registers, no spills on sm_80 / sm_90, where the outlier epilogue took 80 unbounded)
extern "C" __global__ void __launch_bounds__(BNBQ_MM_TC_W * 32, 2)
bnbq_k_int8_dq_mma(const i8* A, const i8* B, u64 M, u64 N, u64 K, const float* rs, const float* cs, int dt,
                   int bias_dt, const void* bias, void* out, const void* X, const i32* cols, const i32* num_cols,
                   u32* err) {
    bnbq_mm_dq d;
    d.rs = rs; d.cs = cs; d.out = out; d.bias = bias; d.X = X; d.cols = cols; d.num_cols = num_cols; d.err = err;
    d.dt = dt; d.bias_dt = bias_dt; d.wpx = 0;
    bnbq_mm_pdl_prefetch(B, N, K, (u64)blockIdx.x * BNBQ_MM_TC_N, BNBQ_MM_TC_N, threadIdx.x, blockDim.x);
    bnbq_mm_tc<2>(A, B, M, N, K, 0, 0, 0, 0, 0, 0, &d);
}
extern "C" __global__ void __launch_bounds__(BNBQ_MM_TC_W * 32)
bnbq_k_sb_mma(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,
              u64 K, u16* out, const u16* bias) {
    bnbq_mm_tc<1>(A, B, M, N, K, 0, sx, sw, sw_global, out, bias);
}

extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_gemv(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {
    bnbq_mm_gemv<0>(A, B, M, N, K, out, 0, 0, 0, 0, 0);
}
// bnbq_int8_mixed_scaled_mm (LLM.int8's int8 product, mm_dequant and outlier product) for the same few
// rows of A (the launcher: one row), its results bit for bit (SB = 2 above)
// vec 0 (K % 16 != 0 or A, B not 16-byte aligned; M <= 8): the same warp a row with byte loads.
// (Measured and not kept, bench/results/gpu-20261123-h100-session22-int8-decode.txt: the first 64 outlier
// columns loaded before the row is streamed, to hide their latency: 98 registers, and with launch bounds of
// 3 or 4 blocks an SM 72 or 64 + spills; all 3-25 % slower than this form.)
// What the outlier epilogue costs (session 23, bench/results/gpu-20261123-h100-session23-gemv-dq-probes.txt): at
// K = 14336 the weight's outlier bytes come back from DRAM (the row has left the L2 while the weight streamed:
// +36 MB, ~8.5 us) and the step-by-step chain (cols[j], then X and the bytes, the shuffle sums) 3-10 us. Not
// kept, measured: the columns and X staged in shared memory once a block (noise), the bytes picked out of the
// stream (10-35 % slower: the staging before the first row, occupancy), the indices kept in registers (80-106
// registers: slower), -session23-gemv-dq.txt.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_gemv_dq(const i8* A, const i8* B, u64 M, u64 N, u64 K, const float* rs, const float* cs,
                    int dt, int bias_dt, const void* bias, const void* X, const i32* cols, const i32* num_cols,
                    void* out, u32* err, int vec) {
    bnbq_mm_dq d;
    d.rs = rs; d.cs = cs; d.out = out; d.bias = bias; d.X = X; d.cols = cols; d.num_cols = num_cols;
    d.err = err; d.dt = dt; d.bias_dt = bias_dt;
    __shared__ float wpx[8][64];   // (256 threads; vec: one row, the launcher)
    {   // (bnbq_mm_pdl_prefetch for the warp's first row)
        const u64 n0 = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
        if (n0 < N)
            for (u64 o = (u64)(threadIdx.x & 31u) * 128u; o < K; o += 32u * 128u)
                bnbq_prefetch_l2(B + n0 * K + o);
        bnbq_pdl_wait();
    }
    if (vec) {
        d.wpx = wpx[threadIdx.x >> 5];
        bnbq_mm_gemv<2, 1, BNBQ_MM_GVDQ_U>(A, B, M, N, K, 0, 0, 0, 0, 0, 0, &d);   // (the launcher: M == 1)
        return;
    }
    d.wpx = 0;
    const u32 lane = threadIdx.x & 31u;
    const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5, rows = M < BNBQ_MM_GV_M ? M : BNBQ_MM_GV_M;
    for (u64 n = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; n < N; n += nwarps) {
        u32 mine = 0u;
        for (u64 m = 0; m < rows; m++) {
            u32 acc = 0u;
            for (u64 k = lane; k < K; k += 32u) acc += (u32)((int)A[m * K + k] * (int)B[n * K + k]);
            for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
            if (lane == (u32)m) mine = acc;
        }
        bnbq_mm_dq_out(mine, lane, rows, 0, n, N, K, B, d);
    }
}
// bnbq_k_int8_gemv_br: bnbq_int8_mixed_scaled_mm for ONE row of A (Linear8bitLt's decoding step) with 16-byte loads
// (K % 16 == 0, K > 4096, A and B 16-byte aligned; the launcher), a block a row of B at a time: thread t takes the
// row's 16-byte chunks t, t + 256, ... (BNBQ_MM_BR_U of them in flight), __dp4a with A's (from the L1), the block's sum
// by shuffles and shared-memory atomics, and SB = 2's epilogue (bnbq_mm_dq_out: the bytes of bnbq_k_int8_gemv_dq
// and of the unfused path; integer sums do not depend on their order). The grid is persistent (a few blocks an SM,
// rows grid-strided): each warp adds its part of a row's sum into shared memory (no barrier a row); every 8 rows,
// after a barrier, the 8 warps give those 8 rows their epilogues at once, while the first chunks of the block's
// next row, loaded before, are in flight; its first row is prefetched into the L2 before it waits for the kernel
// before it (bnbq_mm_pdl_prefetch: a hint; loads before the wait could see a weight that kernel has not flushed
// yet). Why a block a row: all of a row's bytes are requested at once,
// contiguous, where a warp a row (bnbq_k_int8_gemv_dq) has 32 x U x 16 bytes of each of thousands of rows in
// flight; on the H100, without the epilogue, the block a row streamed at 0.92-0.99 of a bare read of the same
// bytes and the warp a row at 0.83-0.92 (bench/results/gpu-20261124-h100-session30-int8-gemv.txt). Linear8bitLt at
// one token on the H100 (the same file, c6): K = 8192 and 14336 4-13 % faster than the warp a row (threshold 0 8192^2
// 40.4 -> 38.0 us, 4096x14336 37.6 -> 33.7; threshold 6 52.2 -> 50.0, 54.0 -> 47.0); K = 4096 4-9 % slower (c4: one
// 16-byte load a thread a row), so those keep the warp a row. Measured and not kept: a barrier a row and one warp's
// epilogue a row (1.3-2x slower than the warp a row), 6 or 8 blocks an SM (spills), 2 or 4 rows a step for short
// rows (60 registers; K = 4096 still slower, c5).
#ifndef BNBQ_MM_BR_U
#define BNBQ_MM_BR_U 4
#endif
#ifndef BNBQ_MM_BR_B
#define BNBQ_MM_BR_B 5   // blocks an SM (the launch bounds, 48 registers; the launcher's grid: BNBQ__CU_MM_BR_B an SM)
#endif
BNBQ_DEV void bnbq_mm_br_load(const uint4* b4, u64 K16, u64 c0, u32 t, uint4* b) {
#pragma unroll
    for (int u = 0; u < BNBQ_MM_BR_U; u++) {
        const u64 c = c0 + t + 256u * (u64)u;
        b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0u, 0u, 0u, 0u);
    }
}
// bnbq_k_int8_gemv_bro: the same with LLM.int8's outlier columns (cols given; the launcher: K <= BNBQ_MM_BRO_K) and
// their products picked out of the streamed bytes. With the epilogue's own loads (bnbq_mm_dq_out) a row's outlier
// bytes come back from the DRAM: the 5 x 132 blocks stream ~5000 rows between a row and its epilogue, more than the
// L2 holds (at K = 14336 1 % of outlier columns cost ~10 us of ~34, session 30's c7). Here each block, after its
// PDL wait, checks the columns (at most cap, strictly ascending, in [0, K)) and puts them into shared
// memory: a bit a column, the rank of each 16-byte chunk's first outlier column, f32(X[cols[j]]); the thread that
// streams a chunk with outlier bits makes their products f32(X[c_j]) * w[n, j] (bnbq_mm_dq_out's values) into the
// row's slot (16 slots: a warp's epilogue reads rows i0 .. i0 + 7 while the others may write rows i0 + 8 ..), and the
// epilogue's lane 0 adds the row's products in j order from shared memory: bnbq_mm_dq_out's sum, the same bytes.
// Columns that fail the check (or more than cap) take bnbq_mm_dq_out for every row, as gemv_br does. The products'
// slots and the X values are dynamic shared memory of 17 cap floats (cap: the launcher's, 256 or, for K > 16384, 512:
// 1 % of K outlier columns, what bench_layers assumes, is 287 at K = 28672).
#ifndef BNBQ_MM_BRO_K
#define BNBQ_MM_BRO_K 32768  // the longest row (K) of the picking form (the launcher's BNBQ__CU_MM_BRO_K; 28672: Llama 70B's
                             // down projection)
#endif
struct bnbq_mm_bro {
    u32 mask[BNBQ_MM_BRO_K / 32];        // bit c: column c is an outlier column
    u16 first[BNBQ_MM_BRO_K / 16];       // chunk c with outlier bits: the rank j of its first outlier column
    u32 fail;                            // a column failed the check
};
// (dynamic, 17 cap floats) the products of row slot s at [s cap + j], f32(X[cols[j]]) at [16 cap + j]
extern __shared__ __align__(16) float bnbq_mm_bro_px[];
// byte e (0..15) of v as a signed value
BNBQ_DEV int bnbq_mm_byte16(uint4 v, u32 e) {
    const u32 w = e < 8u ? (e < 4u ? v.x : v.y) : (e < 12u ? v.z : v.w);
    return (int)(i8)(u8)(w >> (8u * (e & 3u)));
}
// the block's outlier columns into o (after the PDL wait: cols, num_cols and X come from the kernel before); where
// they fail the check, o.fail != 0 and the bitmask is empty (no chunk picks anything). (The kernel reads o.fail
// again where it needs it rather than keeping a flag: NVVM copied the whole row loop for a flag, which doubled the
// unit's NVRTC time.)
BNBQ_DEV void bnbq_mm_bro_setup(bnbq_mm_bro& o, const bnbq_mm_dq& d, u64 K, u32 cap, u32 t, i32& nc_out) {
    const i32 nc = *d.num_cols;
    const int ok = nc >= 0 && (u32)nc <= cap && (u64)nc <= K && K <= BNBQ_MM_BRO_K;   // (else bnbq_mm_dq_out)
    for (u32 i = t; i < BNBQ_MM_BRO_K / 32; i += 256u) o.mask[i] = 0u;
    if (t == 0) o.fail = ok ? 0u : 1u;
    __syncthreads();
    i32 c = 0, pc = 0;
    if (ok)
        for (i32 j = (i32)t; j < nc; j += 256) {
            c = d.cols[j], pc = j > 0 ? d.cols[j - 1] : -1;
            if (c < 0 || (u64)c >= K || c <= pc) {
                atomicOr(&o.fail, 1u);
            } else {
                atomicOr(&o.mask[c >> 5], 1u << (c & 31));
                bnbq_mm_bro_px[16u * cap + (u32)j] = bnbq_load(d.dt, d.X, (u64)c);
            }
        }
    __syncthreads();
    // the chunks' first ranks once the columns are known to ascend (one writer a chunk), else no outlier bits
    if (o.fail == 0u) {
        for (i32 j = (i32)t; j < nc; j += 256) {
            c = d.cols[j], pc = j > 0 ? d.cols[j - 1] : -1;
            if (j == 0 || (pc >> 4) != (c >> 4)) o.first[c >> 4] = (u16)j;
        }
    } else {
        for (u32 i = t; i < BNBQ_MM_BRO_K / 32; i += 256u) o.mask[i] = 0u;
    }
    __syncthreads();
    nc_out = nc;
}
// the outlier products of chunk c (bytes v) of row n (slot sl, row scale csn), where it has outlier bits (read
// here, after the chunk's product: each step's bits read before its products measured 1-2 us slower at 8192^2, c3 / c5)
BNBQ_DEV void bnbq_mm_bro_pick(const bnbq_mm_bro& o, uint4 v, u64 c, u32 sl, u32 cap, float csn, int dt) {
    u32 m = (o.mask[c >> 1] >> (16u * (u32)(c & 1u))) & 0xffffu;
    if (!m) return;
    u32 j = o.first[c];
#pragma unroll 1
    do {
        const u32 e = (u32)(__ffs((int)m) - 1);
        m &= m - 1u;
        bnbq_mm_bro_px[sl * cap + j] = bnbq_mm_bro_px[16u * cap + j] * bnbq_mm_outlier_w_hw(dt, bnbq_mm_byte16(v, e), csn);
        j++;
    } while (m);
}
// a row's nc outlier products (shared memory, 16-byte aligned) added in j order from 0: bnbq_mm_dq_out's sum, for
// its `pre` (gemv_bro's and gemv_dqo's lane 0)
BNBQ_DEV float bnbq_mm_sum_j(const float* p, i32 nc) {
    float S = 0.0f;
    i32 j = 0;
    for (; j + 4 <= nc; j += 4) {
        const float4 q = *(const float4*)(p + j);
        S = S + q.x; S = S + q.y; S = S + q.z; S = S + q.w;
    }
    for (; j < nc; j++) S = S + p[j];
    return S;
}
// the block-a-row kernels' body; OL = 1: bnbq_k_int8_gemv_bro's picking of the outlier products
template <int OL>
BNBQ_DEV void bnbq_mm_br(const i8* A, const i8* B, u64 N, u64 K, const bnbq_mm_dq& d, u32* rsum, bnbq_mm_bro* o,
                         u32 cap) {
    const u32 t = threadIdx.x, lane = t & 31u, w = t >> 5;
    const u64 K16 = K >> 4, step = 256u * BNBQ_MM_BR_U;
    const uint4* a4 = (const uint4*)A;
    uint4 b[BNBQ_MM_BR_U];
    u64 n = blockIdx.x;
    i32 nc = 0;
    if (t < 16u) rsum[t] = 0u;
    __syncthreads();
    bnbq_mm_pdl_prefetch(B, N, K, n, 1, t, 256u);   // (then bnbq_pdl_wait)
    // (OL: the setup first, then the first row's loads, which the prefetch has put in the L2: issued before the
    // setup, 8192^2 took 1.5-2 us more, bench/results/gpu-20261124-h100-session31-int8-bro.txt c4 / c5)
    if (OL) bnbq_mm_bro_setup(*o, d, K, cap, t, nc);
    if (n < N) bnbq_mm_br_load((const uint4*)(B + n * K), K16, 0, t, b);
    for (u32 i = 0; n < N; n += gridDim.x, i++) {   // i: the block's index of row n
        const uint4* b4 = (const uint4*)(B + n * K);
        const bool last = n + gridDim.x >= N;
        const float csn = OL ? d.cs[n] : 0.0f;
        u32 s = 0u;
        for (u64 c0 = 0;;) {
#pragma unroll
            for (int u = 0; u < BNBQ_MM_BR_U; u++) {
                const u64 c = c0 + t + 256u * (u64)u;
                if (c < K16) {
                    s += (u32)bnbq_mm_dot16(__ldg(a4 + c), b[u]);
                    if (OL) bnbq_mm_bro_pick(*o, b[u], c, i & 15u, cap, csn, d.dt);
                }
            }
            c0 += step;
            if (c0 >= K16) break;
            bnbq_mm_br_load(b4, K16, c0, t, b);
        }
        if (!last) bnbq_mm_br_load((const uint4*)(B + (n + gridDim.x) * K), K16, 0, t, b);
#pragma unroll
        for (int o2 = 16; o2 > 0; o2 >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o2);
        if (lane == 0) atomicAdd(&rsum[i & 15u], s);
        // every 8 rows and after the last: the barrier, then warp w gives the w-th of those rows its epilogue (slot
        // i0 + w % 16, zeroed for row i0 + w + 16, whose sums come after the barrier 8 rows on)
        if ((i & 7u) == 7u || last) {
            __syncthreads();
            const u32 i0 = i & ~7u;
            if (w <= i - i0) {
                const u32 sl = (i0 + w) & 15u, v = rsum[sl];
                const u64 nw = n - (u64)(i - i0 - w) * gridDim.x;
                __syncwarp();
                if (lane == 0) rsum[sl] = 0u;
                const bool pre = OL && o->fail == 0u;
                // the picked products added in j order (bnbq_mm_dq_out's sum)
                const float S = pre && lane == 0 ? bnbq_mm_sum_j(bnbq_mm_bro_px + sl * cap, nc) : 0.0f;
                bnbq_mm_dq_out(v, lane, 1, 0, nw, N, K, B, d, pre, S);
            }
        }
    }
}
#define BNBQ_MM_BR_ARGS                                                                                          \
    const i8 *A, const i8 *B, u64 N, u64 K, const float *rs, const float *cs, int dt, int bias_dt, const void *bias, \
        const void *X, const i32 *cols, const i32 *num_cols, void *out, u32 *err
#define BNBQ_MM_BR_DQ                                                                                       \
    bnbq_mm_dq d;                                                                                           \
    d.rs = rs; d.cs = cs; d.out = out; d.bias = bias; d.X = X; d.cols = cols; d.num_cols = num_cols; \
    d.err = err; d.dt = dt; d.bias_dt = bias_dt; d.wpx = 0
extern "C" __global__ void __launch_bounds__(256, BNBQ_MM_BR_B) bnbq_k_int8_gemv_br(BNBQ_MM_BR_ARGS) {
    __shared__ u32 rsum[16];   // the sums of the block's rows i (slot i % 16), added by its warps
    BNBQ_MM_BR_DQ;
    bnbq_mm_br<0>(A, B, N, K, d, rsum, 0, 0u);
}
extern "C" __global__ void __launch_bounds__(256, BNBQ_MM_BR_B) bnbq_k_int8_gemv_bro(BNBQ_MM_BR_ARGS, u32 cap) {
    __shared__ u32 rsum[16];
    __shared__ bnbq_mm_bro o;
    BNBQ_MM_BR_DQ;
    bnbq_mm_br<1>(A, B, N, K, d, rsum, &o, cap);
}
// bnbq_k_int8_gemv_dqo: one row of A with outlier columns, K <= 4096 and many rows of B (the launcher), a warp a row of B
// as bnbq_k_int8_gemv_dq, on a persistent grid (BNBQ_MM_DQO_B blocks an SM, the warps' rows grid-strided) so that the
// block's setup (bnbq_mm_bro_setup) serves many rows. A lane that streams a chunk with outlier bits stores the chunk
// into its warp's staging (16 bytes at the rank of the chunk's first outlier column: one predicated store, where
// gemv_bro's picking loops over the bits, diverged); after the row the warp's lanes make the products j = lane,
// lane + 32, ... from the staged bytes (bnbq_mm_bro_pick's values), and lane 0 adds them in j order
// (bnbq_mm_dq_out with pre) while the warp's next row's first loads fly. Dynamic shared memory: gemv_bro's 17 cap
// floats (products at [w cap + j], f32(X[cols[j]]) at [16 cap + j]), then the 8 warps' staging (16 cap bytes each),
// then each column's byte in the staging (cap u16): the launcher's BNBQ__CU_MM_DQO_SMEM(cap) bytes.
#ifndef BNBQ_MM_DQO_B
#define BNBQ_MM_DQO_B 5   // blocks an SM (the launch bounds; the launcher's grid: bnbq__cu_i8_br_b an SM)
#endif
extern "C" __global__ void __launch_bounds__(256, BNBQ_MM_DQO_B) bnbq_k_int8_gemv_dqo(BNBQ_MM_BR_ARGS, u32 cap) {
    __shared__ bnbq_mm_bro o;
    BNBQ_MM_BR_DQ;
    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5;
    const u64 K16 = K >> 4, nw = (u64)gridDim.x * 8u;
    const uint4* a4 = (const uint4*)A;
    u8* const stg = (u8*)(bnbq_mm_bro_px + 17u * cap);    // [warp][cap][16]
    u16* const boff = (u16*)(stg + 8u * 16u * cap);       // [j]: column j's byte in a warp's staging
    u8* const ws = stg + w * 16u * cap;
    uint4 b[BNBQ_MM_GVDQ_U];
    u64 n = (u64)blockIdx.x * 8u + w;
    i32 nc = 0;
    bnbq_mm_pdl_prefetch(B, N, K, (u64)blockIdx.x * 8u, 8, threadIdx.x, 256u);   // (then bnbq_pdl_wait)
    bnbq_mm_bro_setup(o, d, K, cap, threadIdx.x, nc);
    if (o.fail == 0u)
        for (i32 j = (i32)threadIdx.x; j < nc; j += 256) {
            const i32 c = d.cols[j];
            boff[j] = (u16)(16u * (u32)o.first[c >> 4] + ((u32)c & 15u));
        }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {
        const u64 c = (u64)u * 32u + lane;
        b[u] = n < N && c < K16 ? __ldg((const uint4*)(B + n * K) + c) : make_uint4(0u, 0u, 0u, 0u);
    }
    for (; n < N; n += nw) {
        const uint4* b4 = (const uint4*)(B + n * K);
        const float csn = d.cs[n];
        u32 s = 0u;
        for (u64 c0 = 0;;) {
#pragma unroll
            for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {
                const u64 c = c0 + (u64)u * 32u + lane;
                if (c < K16) {
                    s += (u32)bnbq_mm_dot16(__ldg(a4 + c), b[u]);
                    if ((o.mask[c >> 1] >> (16u * (u32)(c & 1u))) & 0xffffu)   // (empty where the columns failed)
                        *(uint4*)(ws + 16u * (u32)o.first[c]) = b[u];
                }
            }
            c0 += 32u * BNBQ_MM_GVDQ_U;
            if (c0 >= K16) break;
#pragma unroll
            for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {
                const u64 c = c0 + (u64)u * 32u + lane;
                b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0u, 0u, 0u, 0u);
            }
        }
        if (n + nw < N) {   // the next row's first loads, in flight during the products and the epilogue
            const uint4* bn = (const uint4*)(B + (n + nw) * K);
#pragma unroll
            for (int u = 0; u < BNBQ_MM_GVDQ_U; u++) {
                const u64 c = (u64)u * 32u + lane;
                b[u] = c < K16 ? __ldg(bn + c) : make_uint4(0u, 0u, 0u, 0u);
            }
        }
#pragma unroll
        for (int o2 = 16; o2 > 0; o2 >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o2);
        __syncwarp();   // (the warp's staged chunks, then its products)
        const bool pre = o.fail == 0u;
        float* const pw = bnbq_mm_bro_px + w * cap;
        if (pre)
            for (i32 j = (i32)lane; j < nc; j += 32)
                pw[j] = bnbq_mm_bro_px[16u * cap + (u32)j] * bnbq_mm_outlier_w_hw(d.dt, (int)(i8)ws[boff[j]], csn);
        __syncwarp();   // (the lanes' products, then lane 0 reads them)
        const float S = pre && lane == 0 ? bnbq_mm_sum_j(pw, nc) : 0.0f;
        bnbq_mm_dq_out(s, lane, 1, 0, n, N, K, B, d, pre, S);
        __syncwarp();   // (lane 0 has read the products, and the warp the staging, before the next row's)
    }
}
// int8_matmul_rowwise_dequantize / _mixed_dequantize (SwitchBack) for the same few rows of A:
// bnbq_sb_matmul's arguments, its results bit for bit
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_gemv(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,
               u64 K, u16* out, const u16* bias) {
    bnbq_mm_gemv<1>(A, B, M, N, K, 0, sx, sw, sw_global, out, bias);
}

// ---- bnbq_k_int8_tc / bnbq_k_sb_tc: the same GEMMs for many rows of A on tensor cores (sm_80+) ----
// (the launcher: M > BNBQ__CU_MM_GV_M, K % 16 == 0, A and B 16-byte aligned). bnbq_k_int8_matmul's
// 64 x 64 SIMT tiles reached ~95 TOP/s on the H100 (Linear8bitLt at 4096 tokens 8x cuBLAS' f16 GEMM).
// Here a block takes 128 x 128 outputs with 8 warps (2 x 4, each 64 rows x 32 columns: 4 x 4
// mma.m16n8k32 s8 per 32 bytes of K); K goes in steps of 64 bytes through a ring of BNBQ_MT_S stages
// in dynamic shared memory filled by cp.async (zero-filled past M, N and K), read with ldmatrix. A
// stage holds 128 rows x 64 bytes of A and of B, each row's four 16-byte chunks permuted by the row
// (chunk ^ ((row / 2) % 4)), so that the 8 rows of an ldmatrix phase hit 8 different 16-byte bank
// groups. Integer sums: any order gives the CPU's int32 (wrapping mod 2^32), bit for bit.
// Fragments (PTX ISA, m16n8k32 .s8): lane (g, q) = (lane / 4, lane % 4) holds A's rows g and g + 8 at
// bytes 4q .. 4q + 3 and 16 + 4q .., B's row (column of the product) g at the same bytes, and the sums
// of rows g, g + 8 at columns 2q, 2q + 1: ldmatrix's 8 x 16-byte matrices deliver exactly those.
// Tiles go over the grid with the n tile fastest within groups of 8 m tiles (blocks that run together
// share rows of A and of B in the L2).
#define BNBQ_MT_BM 128
#define BNBQ_MT_BN 128
#define BNBQ_MT_BK 64    // bytes of K a stage
// stages (the launcher's bnbq__cu_mt_stages: S * 16 KB of dynamic shared memory). 4 where an SM has 164 KB
// or more (two blocks an SM): the H100 measured 12 % faster than with 3 (5: between the two,
// bench/results/gpu-20261123-h100-session21-stages.txt); 3 on sm_86 / sm_89 / sm_120 (100 KB an SM).
#ifndef BNBQ_MT_S
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 800 || __CUDA_ARCH__ == 870 || (__CUDA_ARCH__ >= 900 && __CUDA_ARCH__ < 1200))
#define BNBQ_MT_S 4
#else
#define BNBQ_MT_S 3
#endif
#endif
#define BNBQ_MT_STAGE (2 * BNBQ_MT_BM * BNBQ_MT_BK)   // bytes of a stage: A's tile, then B's
BNBQ_DEV void bnbq_mt_mma(u32* c, const u32* a, const u32* b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    (void)c; (void)a; (void)b;
    __trap();   // the launcher takes this kernel on sm_80+ only
#endif
}
// stage kt of the tile (m0, n0) into ring slot `slot`: thread t copies chunks t and t + 256 of A's
// 512 and of B's (row = chunk / 4)
BNBQ_DEV void bnbq_mt_load(u32 sbase, const i8* A, const i8* B, u64 M, u64 N, u64 K, u64 m0, u64 n0,
                           u64 kt, u32 slot) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const u32 st = sbase + slot * BNBQ_MT_STAGE;
#pragma unroll
    for (int h = 0; h < 4; h++) {   // h 0, 1: A; 2, 3: B
        const u32 e = threadIdx.x + 256u * (u32)(h & 1), row = e >> 2, ch = e & 3u;
        const bool isB = h >= 2;
        const u64 r = (isB ? n0 : m0) + row, k = kt * BNBQ_MT_BK + 16u * ch;
        const bool ok = r < (isB ? N : M) && k < K;
        const i8* src = isB ? B : A;
        if (ok) src += r * K + k;
        bnbq_cp16(st + (isB ? BNBQ_MT_BM * BNBQ_MT_BK : 0u) + bnbq_tile64_off(row, ch), src, ok ? 16u : 0u);
    }
#else
    (void)sbase; (void)A; (void)B; (void)M; (void)N; (void)K; (void)m0; (void)n0; (void)kt; (void)slot;
#endif
}
// SwitchBack's outputs (m, n), (m, n + 1) of a fragment (bnbq_mm_few_out<1> each). Out of line: inline at
// the 32 call sites of the epilogue it took most of bnbq_k_sb_tc's NVRTC time (0.38 -> 0.13 s here, 0.63-0.87
// s on the device machine); it costs that kernel ~1.5 % on the H100 (measured with bnbq_k_int8_tc's int32
// pairs out of line too, bench/results/gpu-20261123-h100-session21-epilogue.txt), so the int32 epilogue
// stays inline.
__device__ __noinline__ void bnbq_mt_sb_out2(u32 c0, u32 c1, u64 M, u64 N, u64 m, u64 n, const u16* sx,
                                             const u16* sw, int sw_global, u16* out16, const u16* bias) {
    if (m >= M) return;
    if (n < N) bnbq_mm_few_out<1>(c0, m, n, N, 0, sx, sw, sw_global, out16, bias);
    if (n + 1u < N) bnbq_mm_few_out<1>(c1, m, n + 1u, N, 0, sx, sw, sw_global, out16, bias);
}
template <int SB>
BNBQ_DEV void bnbq_mt_gemm(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out, const u16* sx,
                           const u16* sw, int sw_global, u16* out16, const u16* bias) {
    extern __shared__ __align__(128) unsigned char bnbq_mt_ring[];
    const u32 sbase = (u32)__cvta_generic_to_shared(bnbq_mt_ring);
    const u32 lane = threadIdx.x & 31u, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3u;
    const u32 wm = w >> 2, wn = w & 3u;   // the warp's 64 rows (wm) and 32 columns (wn) of the tile
    const u32 mat = lane >> 3, r8 = lane & 7u;   // the ldmatrix row this lane addresses
    const u64 tm = (M + BNBQ_MT_BM - 1) / BNBQ_MT_BM, tn = (N + BNBQ_MT_BN - 1) / BNBQ_MT_BN;
    const u64 KT = (K + BNBQ_MT_BK - 1) / BNBQ_MT_BK;
    const bool pair = !SB && (N & 1u) == 0u && ((unsigned long long)out & 7u) == 0u;
    for (u64 t = blockIdx.x; t < tm * tn; t += gridDim.x) {
        u64 mt, nt;
        bnbq_tile_order(t, tm, tn, &mt, &nt);
        const u64 m0 = mt * BNBQ_MT_BM, n0 = nt * BNBQ_MT_BN;
        u32 c[4][4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) c[i][j][0] = c[i][j][1] = c[i][j][2] = c[i][j][3] = 0u;
#pragma unroll
        for (int s = 0; s < BNBQ_MT_S - 1; s++) {
            if ((u64)s < KT) bnbq_mt_load(sbase, A, B, M, N, K, m0, n0, (u64)s, (u32)s);
            bnbq_cp_commit();
        }
        for (u64 kt = 0; kt < KT; kt++) {
            bnbq_cp_wait<BNBQ_MT_S - 2>();
            __syncthreads();   // stage kt is in; every warp is done with the slot refilled below
            const u64 nk = kt + BNBQ_MT_S - 1;
            if (nk < KT) bnbq_mt_load(sbase, A, B, M, N, K, m0, n0, nk, (u32)(nk % BNBQ_MT_S));
            bnbq_cp_commit();
            const u32 sa = sbase + (u32)(kt % BNBQ_MT_S) * BNBQ_MT_STAGE, sb = sa + BNBQ_MT_BM * BNBQ_MT_BK;
#pragma unroll
            for (u32 kk = 0; kk < 2; kk++) {   // the two 32-byte halves of the stage
                u32 a[4][4], b[4][2];
#pragma unroll
                for (u32 i = 0; i < 4; i++)   // matrices: rows 0-7 / 8-15 (mat & 1) x chunk lo / hi (mat / 2)
                    bnbq_ldsm4<0>(a[i], sa + bnbq_tile64_off(wm * 64u + i * 16u + (mat & 1u) * 8u + r8, 2u * kk + (mat >> 1)));
#pragma unroll
                for (u32 p = 0; p < 2; p++) {   // matrices: chunk lo / hi (mat & 1) x n rows 0-7 / 8-15 (mat / 2)
                    u32 r[4];
                    bnbq_ldsm4<0>(r, sb + bnbq_tile64_off(wn * 32u + p * 16u + (mat >> 1) * 8u + r8, 2u * kk + (mat & 1u)));
                    b[2 * p][0] = r[0]; b[2 * p][1] = r[1]; b[2 * p + 1][0] = r[2]; b[2 * p + 1][1] = r[3];
                }
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++) bnbq_mt_mma(c[i][j], a[i], b[j]);
            }
        }
        __syncthreads();   // the ring is free for the next tile
#pragma unroll
        for (u32 i = 0; i < 4; i++)
#pragma unroll
            for (u32 hh = 0; hh < 2; hh++) {
                const u64 m = m0 + wm * 64u + i * 16u + g + 8u * hh;
                if (SB) {
#pragma unroll
                    for (u32 j = 0; j < 4; j++)
                        bnbq_mt_sb_out2(c[i][j][2 * hh], c[i][j][2 * hh + 1], M, N, m, n0 + wn * 32u + j * 8u + 2u * q,
                                        sx, sw, sw_global, out16, bias);
                    continue;
                }
                if (m >= M) continue;
#pragma unroll
                for (u32 j = 0; j < 4; j++) {
                    const u64 n = n0 + wn * 32u + j * 8u + 2u * q;
                    if (pair && n + 1u < N) {
                        *(int2*)(out + m * N + n) = make_int2((i32)c[i][j][2 * hh], (i32)c[i][j][2 * hh + 1]);
                    } else {
                        if (n < N) bnbq_mm_few_out<SB>(c[i][j][2 * hh], m, n, N, out, sx, sw, sw_global, out16, bias);
                        if (n + 1u < N) bnbq_mm_few_out<SB>(c[i][j][2 * hh + 1], m, n + 1u, N, out, sx, sw, sw_global, out16, bias);
                    }
                }
            }
    }
}
// Both are launched with bnbq__cu_launch_pdl (their launch overlaps the end of the quantization before them):
// they wait for it first.
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_int8_tc(const i8* A, const i8* B, u64 M, u64 N, u64 K, i32* out) {
    bnbq_pdl_wait();
    bnbq_mt_gemm<0>(A, B, M, N, K, out, 0, 0, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(256, 2)
bnbq_k_sb_tc(const i8* A, const i8* B, const u16* sx, const u16* sw, int sw_global, u64 M, u64 N,
             u64 K, u16* out, const u16* bias) {
    bnbq_pdl_wait();
    bnbq_mt_gemm<1>(A, B, M, N, K, 0, sx, sw, sw_global, out, bias);
}
