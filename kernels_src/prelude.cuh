// bnbq kernel prelude: prepended to every compilation unit. No toolkit headers: the few types and
// conversions the kernels need are defined here, bit for bit the same as bnbq.h's CPU functions.
// Compiled with --fmad=false and without fast-math, so every float operation rounds on its own.
typedef unsigned char u8;
typedef signed char i8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;

#define BNBQ_F32 0
#define BNBQ_F16 1
#define BNBQ_BF16 2
#define BNBQ_FP4 0
#define BNBQ_NF4 1

#define BNBQ_DEV static __device__ __forceinline__

BNBQ_DEV float bnbq_absf(float x) { return __uint_as_float(__float_as_uint(x) & 0x7fffffffu); }

// The tile GEMMs' staging (int8mm.cu bnbq_k_int8_tc / _sb_tc, prims.cu bnbq_k_gemm_t2_*; sm_80+, no-ops
// before): a 16-byte cp.async of `bytes` bytes (0: sixteen zero bytes, nothing read), its group commit and
// wait (all but the newest N groups in), ldmatrix .x4 (TR: .trans), and the byte offset of 16-byte chunk c of
// row `row` in a tile of 64-byte rows (c ^ ((row / 2) % 4): the 8 rows an ldmatrix phase reads lie in 8
// different 16-byte bank groups).
BNBQ_DEV void bnbq_cp16(u32 dst, const void* src, u32 bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes) : "memory");
#else
    (void)dst; (void)src; (void)bytes;
#endif
}
BNBQ_DEV void bnbq_cp_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
template <int N>
BNBQ_DEV void bnbq_cp_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}
template <int TR>
BNBQ_DEV void bnbq_ldsm4(u32* r, u32 addr) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if (TR)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
#else
    r[0] = r[1] = r[2] = r[3] = addr;
#endif
}
BNBQ_DEV u32 bnbq_tile64_off(u32 row, u32 c) { return row * 64u + ((c ^ ((row >> 1) & 3u)) << 4); }
// Tile t of the tile GEMMs' tm x tn tiles (a block's grid-stride loop): groups of 8 m tiles, the m tile
// fastest within a group, so that the blocks running together share B's tiles in the L2. *mt, *nt: its
// m tile and n tile.
BNBQ_DEV void bnbq_tile_order(u64 t, u64 tm, u64 tn, u64* mt, u64* nt) {
    const u64 grp = t / (8u * tn), first = grp * 8u, gm = tm - first < 8u ? tm - first : 8u;
    const u64 in = t - grp * 8u * tn;
    *mt = first + in % gm;
    *nt = in / gm;
}

// c[0..3] += A x B: one mma.m16n8k16 of the unit's 16-bit dtype (BNBQ_DT f16 / bf16) with float32
// sums, the fragments as the PTX ISA lays them out (lane (g, t) holds A's rows g, g + 8 and B's column
// g); sm_80+ (the launchers take these tensor-core kernels there only: elsewhere it traps). Shared by
// prims.cu's bnbq_k_gemm_tc and matmul4.cu's bnbq_k_matmul4_mma. (gemv4.cu keeps its own, a plain
// asm that ptxas may move: the gemv's measured schedule depends on it.)
#if defined(BNBQ_DT) && BNBQ_DT != BNBQ_F32
BNBQ_DEV void bnbq_mma16816(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#if BNBQ_DT == BNBQ_F16
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
#else
    (void)c; (void)a0; (void)a1; (void)a2; (void)a3; (void)b0; (void)b1;
    __trap();
#endif
}

// The few-token kernels' (bnbq_k_matmul4_mma, bnbq_k_gemm_mma) accumulators into a warp's slice rw of
// their shared [warp][row of W][token] sums: c0 holds rows g (0, 1) and g + 8 (2, 3) of W for tokens
// 2q, 2q + 1; c1 the same for tokens 8 + 2q, 8 + 2q + 1.
BNBQ_DEV void bnbq_mma_stash(float (*rw)[17], u32 g, u32 q, const float* c0, const float* c1) {
    rw[g][2 * q] = c0[0];
    rw[g][2 * q + 1] = c0[1];
    rw[g + 8][2 * q] = c0[2];
    rw[g + 8][2 * q + 1] = c0[3];
    rw[g][8 + 2 * q] = c1[0];
    rw[g][8 + 2 * q + 1] = c1[1];
    rw[g + 8][8 + 2 * q] = c1[2];
    rw[g + 8][8 + 2 * q + 1] = c1[3];
}

// After a barrier: output (token m, row nl of W) of the block's W warps, summed in warp order.
template <int W>
BNBQ_DEV float bnbq_mma_unstash(const float (*red)[16][17], u32 nl, u32 m) {
    float v = 0.0f;
#pragma unroll
    for (int k = 0; k < W; k++) v = v + red[k][nl][m];
    return v;
}
#endif

// Programmatic dependent launch (bnbq_cuda.h, bnbq__cu_launch_pdl; sm_90+): a kernel launched that
// way waits here until the kernel before it on the stream has finished and its writes are visible;
// bnbq_pdl_release lets the next kernel (launched that way) start early. Elsewhere both do nothing.
BNBQ_DEV void bnbq_pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
BNBQ_DEV void bnbq_pdl_release() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// A hint to bring the 128-byte line at p into the L2 (prefetch.global.L2: no value, never stale data); the
// kernels launched that way use it for inputs that do not depend on the kernel before them, before they wait.
BNBQ_DEV void bnbq_prefetch_l2(const void* p) {
    asm volatile("prefetch.global.L2 [%0];" :: "l"(p));
}

// Software RNE narrowing (keeps a NaN's sign and top payload bits, as bnbq.h's bnbq_f32_to_f16).
BNBQ_DEV u16 bnbq_f32_to_f16_soft(float x) {
    u32 u = __float_as_uint(x);
    u32 sign = (u >> 16) & 0x8000u;
    u32 a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (u16)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x47800000u) return (u16)(sign | 0x7c00u);
    if (a >= 0x38800000u) {
        u32 odd = (a >> 13) & 1u;
        a = a - 0x38000000u + 0xfffu + odd;
        return (u16)(sign | (a >> 13));
    }
    {
        float t = __uint_as_float(a) + 0.5f;
        return (u16)(sign | (__float_as_uint(t) - 0x3f000000u));
    }
}

// RNE narrowing with the hardware conversion: for every non-NaN value it is the IEEE result, bit
// for bit the software one (subnormals and overflow to inf included); NaN keeps the software path.
BNBQ_DEV u16 bnbq_f32_to_f16(float x) {
    u16 h;
    if (!(x == x)) return bnbq_f32_to_f16_soft(x);
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
    return h;
}

BNBQ_DEV float bnbq_f16_to_f32(u16 h) {
    u32 sign = (u32)(h & 0x8000u) << 16;
    u32 e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f;
        return __uint_as_float(__float_as_uint(v) | sign);
    }
    if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

BNBQ_DEV u16 bnbq_f32_to_bf16(float x) {
    u32 u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40u);
    u = u + 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}

BNBQ_DEV float bnbq_bf16_to_f32(u16 h) { return __uint_as_float((u32)h << 16); }

// A NaN is always written as the canonical 0x7fffffff (f16/bf16: 0x7fff), as bnbq.h's bnbq__canon:
// GPU arithmetic already produces it; this also covers NaN inputs passed through.
BNBQ_DEV float bnbq_canon(float v) { return v == v ? v : __uint_as_float(0x7fffffffu); }

// element i of an array of dtype dt, widened exactly
BNBQ_DEV float bnbq_load(int dt, const void* p, u64 i) {
    if (dt == BNBQ_F16) return bnbq_f16_to_f32(((const u16*)p)[i]);
    if (dt == BNBQ_BF16) return bnbq_bf16_to_f32(((const u16*)p)[i]);
    return ((const float*)p)[i];
}

// one RNE rounding to dtype dt
BNBQ_DEV void bnbq_store(int dt, void* p, u64 i, float v) {
    v = bnbq_canon(v);
    if (dt == BNBQ_F16) ((u16*)p)[i] = bnbq_f32_to_f16(v);
    else if (dt == BNBQ_BF16) ((u16*)p)[i] = bnbq_f32_to_bf16(v);
    else ((float*)p)[i] = v;
}

BNBQ_DEV float bnbq_round_to(int dt, float v) {
    v = bnbq_canon(v);
    if (dt == BNBQ_F16) return bnbq_f16_to_f32(bnbq_f32_to_f16(v));
    if (dt == BNBQ_BF16) return bnbq_bf16_to_f32(bnbq_f32_to_bf16(v));
    return v;
}

// LLM.int8's mm_dequant of one int32 product (int8.cu bnbq_k_int8_mm_dequant, int8mm.cu bnbq_k_int8_gemv_dq):
// dt(f16(fmaf(f32(f32((float)a * rs) * cs), 6.200012e-05f, bias_f16_or_0))), a non-F16 bias added to the f16
// value afterwards (one more f16 rounding), as bnbq__cpu_mm_dequant_range
BNBQ_DEV float bnbq_i8_mmdq(int a, float rs, float cs, int bias_dt, const void* bias, u64 n) {
    float v = (float)a * rs;
    float w = v * cs;
    float b = (bias && bias_dt == BNBQ_F16) ? bnbq_f16_to_f32(((const u16*)bias)[n]) : 0.0f;
    float h = bnbq_round_to(BNBQ_F16, fmaf(w, 6.200012e-05f, b));
    if (bias && bias_dt != BNBQ_F16) h = bnbq_round_to(BNBQ_F16, h + bnbq_load(bias_dt, bias, n));
    return bnbq_canon(h);   // a widened f16 NaN (0x7fffe000) is written as 0x7fffffff, as the CPU
}

// LLM.int8's outlier product (prims.cu bnbq_k_outlier_*, int8mm.cu bnbq_k_int8_gemv_dq; bnbq.h
// bnbq_int8_outlier_mm): the weight w = dt(f32(f32(q * scb) * (1/127))) of an int8 q with its row's scale;
// bnbq_i8_outlier_w1 the float32 value before the rounding to dt (bnbq_ol_chunk narrows it itself)
BNBQ_DEV float bnbq_i8_outlier_w1(int q, float scb) {
    const float w0 = (float)q * scb;
    return w0 * 7.874015718698502e-3f;
}
BNBQ_DEV float bnbq_i8_outlier_w(int dt, int q, float scb) { return bnbq_round_to(dt, bnbq_i8_outlier_w1(q, scb)); }
// bnbq_f32_to_f16's results in fewer instructions and no branches (compact code):
// bnbq_f16_canon(v) = bnbq_f32_to_f16(bnbq_canon(v)): a NaN gives 0x7fff (what the software path
// gives the canonical NaN), any other value the hardware RNE (the prelude's for every non-NaN).
BNBQ_DEV u16 bnbq_f16_canon(float v) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return v == v ? h : (u16)0x7fffu;
}
// bnbq_f32_to_bf16(bnbq_canon(v)) (a NaN 0x7fff): the hardware RNE on sm_80+ (the same bits for every non-NaN)
BNBQ_DEV u16 bnbq_bf16_canon(float v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u16 b;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(v));
    return v == v ? b : (u16)0x7fffu;
#else
    return bnbq_f32_to_bf16(bnbq_canon(v));
#endif
}
// Two values narrowed to DT (f16 / bf16) and packed, lo in the low half, for lo and hi that are results of the GPU's
// float arithmetic. sm_80+: one cvt.rn.{f16,bf16}x2.f32, for every non-NaN value bit for bit the RNE of
// bnbq_f32_to_f16 / _bf16 (subnormals and overflow included); a NaN gives 0x7fff (PTX: the canonical NaN; seen on an
// H200), their result for the only NaNs that reach here: the canonical 0x7fffffff of GPU arithmetic, or an f16 0x7fff
// widened (0x7fffe000), either narrowed to 0x7fff whether the conversion keeps payloads or not. Before sm_80 the
// software narrowings. (quant.cu's dequantizers used this first; session 34 put it in the GEMM epilogues, whose 64-128
// unrolled per-value narrowings a thread were most of their code: bnbq_k_gemm_wg2_nn bf16 cubin 48 -> 30 KB.)
template <int DT>
BNBQ_DEV u32 bnbq_pack2(float lo, float hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u32 r;
    if (DT == BNBQ_F16) asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    else asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#else
    return DT == BNBQ_F16 ? (u32)bnbq_f16_canon(lo) | ((u32)bnbq_f16_canon(hi) << 16)
                          : (u32)bnbq_bf16_canon(lo) | ((u32)bnbq_bf16_canon(hi) << 16);
#endif
}
// LLM.int8's outlier product on the tensor cores (gemm90.cu's bnbq_k_int8_wg_dqt_*, prims.cu's bnbq_k_outlier_gather16
// and bnbq_k_outlier_mm_tc): rows r < M are A's (M, K), rows M + n the weight's; outlier column j < nc of row r is
// A[r, cols[j]], or w[n, j] = dt(f32(f32(CB[n, cols[j]] * SCB[n]) * (1/127))) (bnbq_i8_outlier_w), as dtype ODT's 16
// bits; 0 for j >= nc and for a bad column (cols[j] outside [0, K): bad = 1, the exec's error flag). Columns j0 .. j0 + 7
// of row r as one 16-byte chunk (the first in the low half of the first word): the eight column indices first, then
// the eight loads of A or CB, all in flight at once. The weight's bits are bnbq_i8_outlier_w's value narrowed again,
// in one hardware RNE narrowing (bnbq_f16_canon, bnbq_bf16_canon: the same bits, NaN 0x7fff). A template on the dtype,
// without the software round trip: this rarely taken code cost NVRTC ~0.08 s in each kernel that has it.
template <int ODT>
BNBQ_DEV uint4 bnbq_ol_chunk(const u16* A, const i8* CB, const float* SCB, const i32* cols, u64 M, u64 K, u64 r, u64 j0,
                             i32 nc, u32& bad) {
    i32 c[8];
    u32 v[8];
    bool ok[8];
#pragma unroll
    for (int t = 0; t < 8; t++) c[t] = j0 + (u64)t < (u64)nc ? cols[j0 + (u64)t] : -1;
    const bool wrow = r >= M;
    const float scb = wrow ? SCB[r - M] : 0.0f;
#pragma unroll
    for (int t = 0; t < 8; t++) {
        ok[t] = c[t] >= 0 && (u64)c[t] < K;
        if (j0 + (u64)t < (u64)nc && !ok[t]) bad = 1u;
        v[t] = !ok[t] ? 0u : wrow ? (u32)(u8)CB[(r - M) * K + (u64)c[t]] : (u32)A[r * K + (u64)c[t]];
    }
#pragma unroll
    for (int t = 0; t < 8; t++)
        if (wrow && ok[t]) {
            const float w1 = bnbq_i8_outlier_w1((int)(i8)(u8)v[t], scb);
            v[t] = ODT == BNBQ_F16 ? (u32)bnbq_f16_canon(w1) : (u32)bnbq_bf16_canon(w1);
        }
    return make_uint4(v[0] | (v[1] << 16), v[2] | (v[3] << 16), v[4] | (v[5] << 16), v[6] | (v[7] << 16));
}
// bnbq_h2f_arith(h) = bnbq_f16_to_f32(h) for every non-NaN h (the hardware widening is exact); a
// NaN gives a NaN whose payload may differ, so it is only for operands of float arithmetic, whose
// NaN result is the canonical 0x7fffffff either way.
BNBQ_DEV float bnbq_h2f_arith(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
#if defined(BNBQ_DT)
// element i of a tensor of the unit's dtype BNBQ_DT, widened (f16: the hardware widening; only an operand of
// arithmetic or of a store that canonicalises a NaN as the CPU's does), and v rounded to the 16-bit dtype (one
// RNE rounding, NaN canonical) as the low 16 bits: prims.cu's and gemm90.cu's GEMM epilogues and float ops
BNBQ_DEV float bnbq_dt_ld(const void* p, u64 i) {
    if (BNBQ_DT == BNBQ_F16) return bnbq_h2f_arith(((const u16*)p)[i]);
    return bnbq_load(BNBQ_DT, p, i);
}
BNBQ_DEV u32 bnbq_dt_pack(float v) {   // (bf16: the hardware narrowing on sm_80+, bnbq_k_gemm_t2_* 51 -> 45 KB of code)
    return BNBQ_DT == BNBQ_F16 ? (u32)bnbq_f16_canon(v) : (u32)bnbq_bf16_canon(v);
}
// bnbq_dt_pack(lo) | bnbq_dt_pack(hi) << 16 for results of float arithmetic: bnbq_pack2 of the unit's dtype
BNBQ_DEV u32 bnbq_dt_pack2(float lo, float hi) { return bnbq_pack2<BNBQ_DT>(lo, hi); }
#endif
// SwitchBack's scaling of an int32 sum: f = f32(acc) * f32(1/127^2); g = x * f; c = w * g; h = f16(c)
// (x = sx[m], w = sw[n] as float32); the bits of h. Shared by int8mm.cu's bnbq_sb_matmul / bnbq_mm_gemv<1> /
// bnbq_mm_few_out and gemm90.cu's bnbq_k_sb_wg.
BNBQ_DEV u32 bnbq_sb_scale(int acc, float x, float w) {
    const float f = (float)acc * 6.20001229e-05f;   // f32(1/127^2)
    const float g = x * f;
    const float c = w * g;
    return bnbq_f16_canon(c);
}
// bnbq_i8_mmdq's value as f16 bits (a NaN: 0x7fff, what its canonical NaN narrows to): the same roundings with
// the hardware conversions (exact widenings; RNE narrowing for every non-NaN). int8.cu's bnbq_k_int8_mm_dequant
// and gemm90.cu's bnbq_k_int8_wg_dq_* (the int8 GEMM with it as its epilogue, which reads each column's bias once).
// bv: the bias bnbq_i8_mmdq_bias widened (0 without one); other: it is not f16, so it is added to the f16 value
// (one more rounding), else it is the fmaf's addend.
BNBQ_DEV u16 bnbq_i8_mmdq_hv(int a, float rs, float cs, float bv, bool other) {
    u16 h = bnbq_f16_canon(fmaf(((float)a * rs) * cs, 6.200012e-05f, other ? 0.0f : bv));
    if (other) h = bnbq_f16_canon(bnbq_h2f_arith(h) + bv);
    return h;
}
// bias[n] of dtype bias_dt widened for bnbq_i8_mmdq_hv (f16 by the hardware: an operand of arithmetic only), 0
// without a bias
BNBQ_DEV float bnbq_i8_mmdq_bias(int bias_dt, const void* bias, u64 n) {
    if (!bias) return 0.0f;
    return bias_dt == BNBQ_F16 ? bnbq_h2f_arith(((const u16*)bias)[n]) : bnbq_load(bias_dt, bias, n);
}
BNBQ_DEV u16 bnbq_i8_mmdq_h(int a, float rs, float cs, int bias_dt, const void* bias, u64 n) {
    return bnbq_i8_mmdq_hv(a, rs, cs, bnbq_i8_mmdq_bias(bias_dt, bias, n), bias && bias_dt != BNBQ_F16);
}
// f16 bits h (0x7fff its only NaN) as dtype DT's bits: bnbq_store's bytes for bnbq_i8_mmdq's value (bf16: the
// hardware's RNE narrowing on sm_80+, the software one before; the same for every non-NaN)
template <int DT>
BNBQ_DEV u32 bnbq_i8_mmdq_out(u16 h) {
    if (DT == BNBQ_F16) return h;
    if (h == 0x7fffu) return DT == BNBQ_BF16 ? 0x7fffu : 0x7fffffffu;
    const float f = bnbq_h2f_arith(h);
    if (DT == BNBQ_F32) return __float_as_uint(f);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u16 b;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(f));
    return b;
#else
    return bnbq_f32_to_bf16(f);
#endif
}
// bnbq_round_f16(v) = bnbq_round_to(BNBQ_F16, v): a NaN gives 0x7fffe000 (0x7fff widened), any
// other value the hardware round trip
BNBQ_DEV float bnbq_round_f16(float v) {
    return v == v ? bnbq_h2f_arith(bnbq_f16_canon(v)) : __uint_as_float(0x7fffe000u);
}

// round half to even for |y| < 2^22; NaN -> 0; saturating beyond (as bnbq.h's bnbq__rint)
BNBQ_DEV int bnbq_rint(float y) {
    if (!(y == y)) return 0;
    if (y >= 4194304.0f) return y >= 2147483520.0f ? 2147483647 : (int)y;
    if (y <= -4194304.0f) return y <= -2147483648.0f ? (-2147483647 - 1) : (int)y;
    return __float2int_rn(y);
}

// grid-stride loop over [0, n)
#define BNBQ_GRID_LOOP(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// The register tile of the 64 x 64 SIMT products (prims.cu bnbq_k_gemm and bnbq_k_outlier_mm,
// matmul4.cu): 256 threads of 4 x 4 outputs, operand tiles staged in shared memory as [k][row].
// One staged step: for kk < BK, acc[i][j] (+)= As[kk][ty * 4 + i] * Bs[kk][tx * 4 + j], in kk order;
// FUSED: fmaf; else the float32 product, then the float32 add (the CPU's p = a * b; s = s + p).
BNBQ_DEV void bnbq_tile4x4_zero(float (&acc)[4][4]) {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
}
// acc[i][j] (+)= av[i] * bv[j] for an R x C tile of a thread (FUSED: fmaf; else the product, then the add)
template <int R, int C, bool FUSED>
BNBQ_DEV void bnbq_outer_acc(float (&acc)[R][C], const float (&av)[R], const float (&bv)[C]) {
#pragma unroll
    for (int i = 0; i < R; i++)
#pragma unroll
        for (int j = 0; j < C; j++) {
            if (FUSED) {
                acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
            } else {
                const float p = av[i] * bv[j];
                acc[i][j] = acc[i][j] + p;
            }
        }
}
template <int BK, int LD, bool FUSED>
BNBQ_DEV void bnbq_tile4x4_step(float (&acc)[4][4], const float (&As)[BK][LD], const float (&Bs)[BK][LD],
                                int ty, int tx) {
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
        const float4 a4 = *(const float4*)&As[kk][ty * 4];
        const float4 b4 = *(const float4*)&Bs[kk][tx * 4];
        const float av[4] = { a4.x, a4.y, a4.z, a4.w }, bv[4] = { b4.x, b4.y, b4.z, b4.w };
        bnbq_outer_acc<4, 4, FUSED>(acc, av, bv);
    }
}
