// Quantization kernels (bnbq_quantize_blockwise and its family). One source, compiled as several
// units chosen with -D (each a variant listed in bnbq_cuda.h's BNBQ__CU_VARIANTS_QUANT):
//   BNBQ_OPS=1  8-bit blockwise quantize / dequantize (dequantize_global uses it too)
//   BNBQ_OPS=2  global 8-bit quantize: absmax reduction, then the codes
//   BNBQ_OPS=3  nested statistics: offset, quantize, dequantize (float32)
//   BNBQ_OPS=4  4-bit NF4 / FP4 quantize / dequantize (BNBQ_QT)
//   BNBQ_DT     the float tensor's dtype (BNBQ_F32 / F16 / BF16)
// Every kernel runs with 256 threads per block (nested_offset: 1024). Each reproduces bnbq.h's
// CPU reference bit for bit: the same float32 operations per element in the same order.
#ifndef BNBQ_OPS
#define BNBQ_OPS 1
#endif
#ifndef BNBQ_DT
#define BNBQ_DT BNBQ_F32
#endif
#ifndef BNBQ_QT
#define BNBQ_QT BNBQ_NF4
#endif

// Host tables arrive by value, laid out exactly as the C side's structs.
struct bnbq_code256 { float v[256]; };                      // an 8-bit code
struct bnbq_code16 { float v[16]; };                        // 4-bit dequantization values
struct bnbq_q4tab { float thr[16]; int nthr; int c2c[8]; }; // 4-bit thresholds, FP4 count->code

struct alignas(16) bq_v4 { u32 a, b, c, d; };
struct alignas(8) bq_v2 { u32 a, b; };
struct alignas(8) bq_f2 { float x, y; };

#define BQ_THREADS 256
#define BQ_FULL 0xffffffffu
#define BQ_MEMBER __device__ __forceinline__

// max as bnbq.h's block absmax, from m = 0: a NaN never wins (quiet or signaling: the comparison
// is false either way, so no reliance on a max instruction's NaN rules)
BNBQ_DEV float bq_max(float m, float a) { return a > m ? a : m; }

// f16 -> f32 in one instruction; exact for every number (quantizers only: there a NaN's payload
// does not matter, every NaN gives code 0 and never wins the absmax)
BNBQ_DEV float bq_h2f(u32 h) {
#ifdef BNBQ_EMU                                      // a host emulation used for testing
    return bnbq_f16_to_f32((u16)h);
#else
    float f;
    unsigned short s = (unsigned short)h;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(s));
    return f;
#endif
}
template <int DT> BNBQ_DEV float bq_widen(u32 h) {
    return DT == BNBQ_F16 ? bq_h2f(h & 0xffffu) : __uint_as_float(h << 16);
}
// 16 aligned bytes at element e: 4 (F32) or 8 (F16/BF16) elements
template <int DT> BNBQ_DEV void bq_load_vec(const void* x, u64 e, float* v) {
    if (DT == BNBQ_F32) {
        bq_v4 w = *(const bq_v4*)((const float*)x + e);
        v[0] = __uint_as_float(w.a); v[1] = __uint_as_float(w.b);
        v[2] = __uint_as_float(w.c); v[3] = __uint_as_float(w.d);
    } else {
        bq_v4 w = *(const bq_v4*)((const u16*)x + e);
        v[0] = bq_widen<DT>(w.a); v[1] = bq_widen<DT>(w.a >> 16);
        v[2] = bq_widen<DT>(w.b); v[3] = bq_widen<DT>(w.b >> 16);
        v[4] = bq_widen<DT>(w.c); v[5] = bq_widen<DT>(w.c >> 16);
        v[6] = bq_widen<DT>(w.d); v[7] = bq_widen<DT>(w.d >> 16);
    }
}

// The 16 values of thread t in a tile of BQ_THREADS * 16 elements starting at base: 16-byte vector
// loads when vec_ok (the tile is whole and x is 16-byte aligned), else element loads with the
// elements past n read as 0.0f.
template <int DT> BNBQ_DEV void bq_load_tile(const void* x, u64 n, u64 base, int t, bool vec_ok,
                                             float* v) {
    const int VEC = DT == BNBQ_F32 ? 4 : 8;
    const int NV = 16 / VEC;
    if (vec_ok) {
#pragma unroll
        for (int j = 0; j < NV; j++)
            bq_load_vec<DT>(x, base + (u64)((j * BQ_THREADS + t) * VEC), v + j * VEC);
    } else {
#pragma unroll
        for (int j = 0; j < NV; j++) {
#pragma unroll
            for (int k = 0; k < VEC; k++) {
                const u64 e = base + (u64)((j * BQ_THREADS + t) * VEC + k);
                v[j * VEC + k] = e < n ? bnbq_load(DT, x, e) : 0.0f;
            }
        }
    }
}
// one RNE rounding to DT, the prelude's bit-exact conversions (NaN payloads included)
template <int DT> BNBQ_DEV u32 bq_narrow(float v) {
    return DT == BNBQ_F16 ? (u32)bnbq_f32_to_f16(v) : (u32)bnbq_f32_to_bf16(v);
}
// 16 aligned bytes of output at element e: 4 (F32) or 8 (F16/BF16) values
template <int DT> BNBQ_DEV void bq_store_vec(void* out, u64 e, const float* v) {
    bq_v4 w;
    if (DT == BNBQ_F32) {
        w.a = __float_as_uint(v[0]); w.b = __float_as_uint(v[1]);
        w.c = __float_as_uint(v[2]); w.d = __float_as_uint(v[3]);
        *(bq_v4*)((float*)out + e) = w;
    } else {
        w.a = bq_narrow<DT>(v[0]) | (bq_narrow<DT>(v[1]) << 16);
        w.b = bq_narrow<DT>(v[2]) | (bq_narrow<DT>(v[3]) << 16);
        w.c = bq_narrow<DT>(v[4]) | (bq_narrow<DT>(v[5]) << 16);
        w.d = bq_narrow<DT>(v[6]) | (bq_narrow<DT>(v[7]) << 16);
        *(bq_v4*)((u16*)out + e) = w;
    }
}

// ---- blockwise quantization skeleton ----------------------------------------------------------
// A block of 256 threads takes a tile of 4096 elements: 4096 / bs quantization blocks of
// G = bs / 16 threads, each thread holding 16 elements in registers (4 or 2 vectors of 16 bytes;
// vector j of lane l in a group covers elements (j * G + l) * VEC ... + VEC - 1 of its block).
// The block's absmax (a max: order-free) is reduced with shuffles (G <= 32) and shared memory,
// then every element is coded from the registers: the input is read once.
// NESTED: the values are f32(x - off) (quantize_nested). BITS 8: one code per byte; BITS 4: two
// codes per byte, high nibble first, a missing last element coded from 0.0f * inv.
template <int DT, bool NESTED, int BITS, class Coder>
BNBQ_DEV void bq_quant_blocks(const void* x, u64 n, int bs_log2, u8* q, float* absmax, float off,
                              const Coder& cd) {
    const int VEC = DT == BNBQ_F32 ? 4 : 8;
    const int NV = 16 / VEC;
    const int OB = BITS == 8 ? VEC : VEC / 2;        // output bytes per vector
    const int t = threadIdx.x;
    const int lg = bs_log2 - 4;                      // log2(G): 1 .. 8
    const int G = 1 << lg;
    const int g = t >> lg, l = t & (G - 1);
    const u64 bs = (u64)1 << bs_log2;
    const u64 nblocks = (n >> bs_log2) + ((n & (bs - 1)) != 0);
    const u64 per_tile = (u64)(BQ_THREADS >> lg);
    const u64 ntiles = (nblocks + per_tile - 1) / per_tile;
    const bool xal = ((u64)x & 15) == 0;
    const bool qal = ((u64)q & (u64)(OB - 1)) == 0;
    __shared__ float red[BQ_THREADS / 32];
    for (u64 tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
        const u64 qb = tile * per_tile + (u64)g;
        const u64 start = qb << bs_log2;
        const bool active = qb < nblocks;
        const bool full = active && n - start >= bs;
        float v[16];
        if (full && xal) {
#pragma unroll
            for (int j = 0; j < NV; j++)
                bq_load_vec<DT>(x, start + (u64)((j * G + l) * VEC), v + j * VEC);
            if (NESTED) {
#pragma unroll
                for (int k = 0; k < 16; k++) v[k] = v[k] - off;
            }
        } else {
#pragma unroll
            for (int j = 0; j < NV; j++) {
#pragma unroll
                for (int k = 0; k < VEC; k++) {
                    const u64 e = start + (u64)((j * G + l) * VEC + k);
                    float a = 0.0f;
                    if (active && e < n) {
                        a = bnbq_load(DT, x, e);
                        if (NESTED) a = a - off;
                    }
                    v[j * VEC + k] = a;
                }
            }
        }
        float m = 0.0f;
#pragma unroll
        for (int k = 0; k < 16; k++) m = bq_max(m, bnbq_absf(v[k]));
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float w = __shfl_xor_sync(BQ_FULL, m, o);
            if (o < G) m = bq_max(m, w);
        }
        if (G > 32) {                                // uniform: bs >= 1024
            if ((t & 31) == 0) red[t >> 5] = m;
            __syncthreads();
            const int w0 = (g << lg) >> 5, nw = G >> 5;
            m = red[w0];
            for (int i = 1; i < nw; i++) m = bq_max(m, red[w0 + i]);
            __syncthreads();
        }
        const float inv = 1.0f / m;                  // IEEE reciprocal; 0 -> inf -> NaN -> code 0
        if (active && l == 0) absmax[qb] = m;
#pragma unroll
        for (int j = 0; j < NV; j++) {
            const u64 e0 = start + (u64)((j * G + l) * VEC);
            int r[VEC];
#pragma unroll
            for (int k = 0; k < VEC; k++) r[k] = cd(v[j * VEC + k] * inv);
            if (BITS == 8) {
                if (full && qal) {
                    if (VEC == 4) {
                        *(u32*)(q + e0) =
                            (u32)r[0] | ((u32)r[1] << 8) | ((u32)r[2] << 16) | ((u32)r[3] << 24);
                    } else {
                        bq_v2 w;
                        w.a = (u32)r[0] | ((u32)r[1] << 8) | ((u32)r[2] << 16) | ((u32)r[3] << 24);
                        w.b = (u32)r[4 % VEC] | ((u32)r[5 % VEC] << 8) | ((u32)r[6 % VEC] << 16) |
                              ((u32)r[7 % VEC] << 24);
                        *(bq_v2*)(q + e0) = w;
                    }
                } else if (active) {
#pragma unroll
                    for (int k = 0; k < VEC; k++)
                        if (e0 + k < n) q[e0 + k] = (u8)r[k];
                }
            } else {
                if (full && qal) {
                    const u32 b0 = ((u32)r[0] << 4) | (u32)r[1], b1 = ((u32)r[2] << 4) | (u32)r[3];
                    if (VEC == 4) {
                        *(u16*)(q + (e0 >> 1)) = (u16)(b0 | (b1 << 8));
                    } else {
                        const u32 b2 = ((u32)r[4 % VEC] << 4) | (u32)r[5 % VEC];
                        const u32 b3 = ((u32)r[6 % VEC] << 4) | (u32)r[7 % VEC];
                        *(u32*)(q + (e0 >> 1)) = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
                    }
                } else if (active) {
#pragma unroll
                    for (int k = 0; k < VEC; k += 2)
                        if (e0 + k < n) q[(e0 + k) >> 1] = (u8)(((u32)r[k] << 4) | (u32)r[k + 1]);
                }
            }
        }
    }
}

// ---- the 8-bit code search (bnbq.h bnbq__code_index) ------------------------------------------
#if BNBQ_OPS == 1 || BNBQ_OPS == 2 || BNBQ_OPS == 3
// bnbq__code_index's seven steps follow a binary search tree over the odd indices 1..253: node i
// (1-based, level L = floor(log2 i)) holds code[pivot], pivot = 2 * (i - 2^L) * 2^(7-L) + 2^(7-L) - 1,
// and a step goes to node 2i + (x > code[pivot]); after seven steps i - 128 = c and p = 2c. Nodes
// 1..7 live in registers, 8..127 in shared memory (levels 3..5 are 8..32 consecutive words: no
// bank conflicts). The final neighbour test needs code[p] and one midpoint
// mid[k] = (code[k] + code[k-1]) * 0.5f: np = p + 1 uses mid[p + 1], np = p - 1 uses mid[p] (IEEE
// addition is commutative). For p = 0 the CPU's np is 0 = p, so the result is p whatever the test:
// mid[0] is stored as -inf, which makes every test with it false.
__shared__ float bq_code[256];
__shared__ float bq_tree[128];
__shared__ float bq_even[128];
__shared__ bq_f2 bq_mid[128];                        // mid[2c], mid[2c + 1]

struct bq_top { float r1, r2, r3, r4, r5, r6, r7; };

// Fills the tables; returns (block-uniform) whether mid[p] <= code[p] <= mid[p + 1] for every
// even p (p = 0: the upper half only). Then, as every comparison is exact, the final test is
// p + (x > mid[p + 1]) - (x < mid[p]): when x > code[p] the down test cannot hold (x > code[p] >=
// mid[p]), and when not, the up test cannot (x <= code[p] <= mid[p + 1], or x is NaN). Codes where
// a sum overflows or meets inf - inf can fail the check; they take the literal final test.
BNBQ_DEV int bq8_setup(const bnbq_code256& code, bq_top& T) {
    const int t = threadIdx.x;
    bq_code[t] = code.v[t];                          // one parameter read per thread
    __syncthreads();
    ((float*)bq_mid)[t] = t == 0 ? -__uint_as_float(0x7f800000u) : (bq_code[t] + bq_code[t - 1]) * 0.5f;
    if (t < 128) {
        bq_even[t] = bq_code[2 * t];
        if (t > 0) {
            const int L = 31 - __clz(t), s = 1 << (7 - L);
            bq_tree[t] = bq_code[2 * (t - (1 << L)) * s + s - 1];
        } else {
            bq_tree[0] = 0.0f;
        }
    }
    __syncthreads();
    int ok = 1;
    if (t < 128) {
        const float e = bq_even[t];
        const bq_f2 m = bq_mid[t];
        ok = (t == 0 || m.x <= e) && e <= m.y;
    }
    T.r1 = bq_tree[1]; T.r2 = bq_tree[2]; T.r3 = bq_tree[3];
    T.r4 = bq_tree[4]; T.r5 = bq_tree[5]; T.r6 = bq_tree[6]; T.r7 = bq_tree[7];
    return __syncthreads_and(ok);
}

// the float at byte offset o of a shared table (offsets keep the index arithmetic to one op a step)
#define BQ_AT(tab, o) (*(const float*)((const char*)(tab) + (o)))

template <bool FAST> BNBQ_DEV int bq8_index(float x, const bq_top& T) {
    const bool p0 = x > T.r1;                        // levels 0..2: nodes 1..7 in registers
    const bool p1 = x > (p0 ? T.r3 : T.r2);
    const float v2 = p1 ? (p0 ? T.r7 : T.r5) : (p0 ? T.r6 : T.r4);
    const bool p2 = x > v2;
    u32 o = (p0 ? 48u : 32u) + (p1 ? 8u : 0u) + (p2 ? 4u : 0u);   // 4 * node (8..15)
    o = 2 * o + (x > BQ_AT(bq_tree, o) ? 4u : 0u);   // levels 3..6
    o = 2 * o + (x > BQ_AT(bq_tree, o) ? 4u : 0u);
    o = 2 * o + (x > BQ_AT(bq_tree, o) ? 4u : 0u);
    o = 2 * o + (x > BQ_AT(bq_tree, o) ? 4u : 0u);
    // o = 4 * (128 + c): p = 2c = o / 2 - 256
    const int p = (int)(o >> 1) - 256;
    if (FAST) {
        const bq_f2 m = *(const bq_f2*)((const char*)bq_mid + (2 * o - 1024));   // mid[p], mid[p + 1]
        return p + (x > m.y ? 1 : 0) - (x < m.x ? 1 : 0);   // mid[0] is -inf: never below
    } else {
        const float val = BQ_AT(bq_even, o - 512);   // code[p]
        const bool gt = x > val;
        const float mid = ((const float*)bq_mid)[p + gt];
        const int np = gt ? p + 1 : (p > 0 ? p - 1 : 0);
        const bool take = gt ? (x > mid) : (x < mid);
        return take ? np : p;
    }
}

template <bool FAST> struct bq8_coder {
    bq_top T;
    BQ_MEMBER int operator()(float x) const { return bq8_index<FAST>(x, T); }
};
#endif

#if BNBQ_OPS == 1
// out_q, out_absmax = bnbq_quantize_blockwise(code, x, n, 2^bs_log2); bs 64..4096
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant8(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_code256 code) {
    bq_top T;
    if (bq8_setup(code, T)) {
        bq8_coder<true> cd;
        cd.T = T;
        bq_quant_blocks<BNBQ_DT, false, 8>(x, n, bs_log2, q, absmax, 0.0f, cd);
    } else {
        bq8_coder<false> cd;
        cd.T = T;
        bq_quant_blocks<BNBQ_DT, false, 8>(x, n, bs_log2, q, absmax, 0.0f, cd);
    }
}
#endif

// ---- dequantization ---------------------------------------------------------------------------
// A tile is 256 threads x U vectors of 16 output bytes (F32: U = 2, each warp's vectors
// consecutive: vector j of thread t is tile vector (t / 32) * 32U + 32j + t % 32; F16/BF16: U = 4,
// vector j * 256 + t). The F32 shape was the best plain stream on an H200; for the 8-bit F32
// kernel U = 4 with vector j * 256 + t measured better (88.8 % of copy against 86.3 %, two runs:
// bench/results/gpu-20261121-dequant-int8.txt), still to be confirmed in one run.
// Block b takes the tpb consecutive tiles from b * tpb; the launcher makes tpb 1 (one tile a
// block) when the grid allows: blocks start in order, so the tiles in flight stay together.
#if BNBQ_OPS == 1 || BNBQ_OPS == 3 || BNBQ_OPS == 4
template <int DT> struct bq_dq {
    static const int VO = DT == BNBQ_F32 ? 4 : 8;    // values a vector
    static const int U = DT == BNBQ_F32 ? 2 : 4;     // vectors a thread
    static const int TE = BQ_THREADS * U * VO;       // values a tile
    static BQ_MEMBER int vec(int j, int t) {
        return DT == BNBQ_F32 ? (t >> 5) * (32 * U) + j * 32 + (t & 31) : j * BQ_THREADS + t;
    }
};
// Two values narrowed to DT and packed (lo in the low half). sm_80+: one cvt.rn.{f16,bf16}x2.f32,
// for every non-NaN value bit for bit the prelude's RNE; a NaN gives 0x7fff (PTX: the canonical
// NaN; seen on an H200), the prelude's result for the only NaN that reaches here, the canonical
// 0x7fffffff of GPU arithmetic.
template <int DT> BNBQ_DEV u32 bq_dq_pack2(float lo, float hi) {
#if __CUDA_ARCH__ >= 800
    u32 r;
    if (DT == BNBQ_F16) asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    else asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#else
    const u32 l = DT == BNBQ_F16 ? (u32)bnbq_f32_to_f16(lo) : (u32)bnbq_f32_to_bf16(lo);
    const u32 h = DT == BNBQ_F16 ? (u32)bnbq_f32_to_f16(hi) : (u32)bnbq_f32_to_bf16(hi);
    return l | (h << 16);
#endif
}
// 16 aligned bytes of output at element e: 4 (F32) or 8 (F16/BF16) values
template <int DT> BNBQ_DEV void bq_dq_store(void* out, u64 e, const float* v) {
    bq_v4 w;
    if (DT == BNBQ_F32) {
        w.a = __float_as_uint(v[0]); w.b = __float_as_uint(v[1]);
        w.c = __float_as_uint(v[2]); w.d = __float_as_uint(v[3]);
        *(bq_v4*)((float*)out + e) = w;
    } else {
        w.a = bq_dq_pack2<DT>(v[0], v[1]);
        w.b = bq_dq_pack2<DT>(v[2], v[3 % 4]);
        w.c = bq_dq_pack2<DT>(v[4 % 8], v[5 % 8]);
        w.d = bq_dq_pack2<DT>(v[6 % 8], v[7 % 8]);
        *(bq_v4*)((u16*)out + e) = w;
    }
}
#endif

// ---- 8-bit: out[e] = dt(code[q[e]] * absmax[e >> bs_log2]) (NESTED: f32(... + off)) -----------
// bs_log2 = 63 gives one absmax for all (dequantize_global).
#if BNBQ_OPS == 1 || BNBQ_OPS == 3
template <int DT, bool NESTED>
BNBQ_DEV void bq_dequant8(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, float off,
                          const bnbq_code256& code, u32 tpb) {
    typedef bq_dq<DT> L;
    const int VO = L::VO, U = L::U;
    const u64 TE = (u64)L::TE;
    const int t = threadIdx.x;
    __shared__ float s_code[256];
    s_code[t] = code.v[t];
    __syncthreads();
    const bool al = ((u64)q & (u64)(VO - 1)) == 0 && ((u64)out & 15) == 0;
    const u64 ntiles = n / TE + (n % TE != 0);
    const u64 t0 = (u64)blockIdx.x * tpb, t1 = t0 + tpb < ntiles ? t0 + tpb : ntiles;
    for (u64 tile = t0; tile < t1; tile++) {
        const u64 base = tile * TE;
        if (al && n - base >= TE) {
            u32 w[U][VO / 4];
            float a[U];
#pragma unroll
            for (int j = 0; j < U; j++) {
                const u64 e0 = base + (u64)(L::vec(j, t) * VO);
                if (VO == 4) {
                    w[j][0] = *(const u32*)(q + e0);
                } else {
                    const bq_v2 p = *(const bq_v2*)(q + e0);
                    w[j][0] = p.a;
                    w[j][(VO / 4) - 1] = p.b;
                }
                a[j] = absmax[e0 >> bs_log2];
            }
#pragma unroll
            for (int j = 0; j < U; j++) {
                float y[VO];
#pragma unroll
                for (int k = 0; k < VO; k++) {
                    y[k] = s_code[(w[j][k >> 2] >> (8 * (k & 3))) & 255u] * a[j];
                    if (NESTED) y[k] = y[k] + off;
                }
                bq_dq_store<DT>(out, base + (u64)(L::vec(j, t) * VO), y);
            }
        } else {
#pragma unroll
            for (int j = 0; j < U; j++) {
#pragma unroll
                for (int k = 0; k < VO; k++) {
                    const u64 e = base + (u64)(L::vec(j, t) * VO + k);
                    if (e < n) {
                        float y = s_code[q[e]] * absmax[e >> bs_log2];
                        if (NESTED) y = y + off;
                        bnbq_store(DT, out, e, y);
                    }
                }
            }
        }
    }
}
#endif

#if BNBQ_OPS == 1
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 8)
bnbq_k_dequant8(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code256 code,
                u32 tpb) {
    bq_dequant8<BNBQ_DT, false>(q, absmax, n, bs_log2, out, 0.0f, code, tpb);
}
#endif

// ---- global 8-bit quantization ----------------------------------------------------------------
#if BNBQ_OPS == 2
// out[0] (zeroed before) = max |x| over the tensor: per-block maxima, then atomicMax on the bits
// (non-negative floats order as their bit patterns).
extern "C" __global__ void __launch_bounds__(BQ_THREADS)
bnbq_k_absmax_global(const void* x, u64 n, float* out) {
    const u64 TE = (u64)(BQ_THREADS * 16);
    const int t = threadIdx.x;
    const bool xal = ((u64)x & 15) == 0;
    const u64 ntiles = n / TE + (n % TE != 0);
    __shared__ float red[BQ_THREADS / 32];
    float m = 0.0f;
    for (u64 tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
        const u64 base = tile * TE;
        float v[16];
        bq_load_tile<BNBQ_DT>(x, n, base, t, xal && n - base >= TE, v);
#pragma unroll
        for (int k = 0; k < 16; k++) m = bq_max(m, bnbq_absf(v[k]));
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) m = bq_max(m, __shfl_xor_sync(BQ_FULL, m, o));
    if ((t & 31) == 0) red[t >> 5] = m;
    __syncthreads();
    if (t == 0) {
        for (int i = 1; i < BQ_THREADS / 32; i++) m = bq_max(m, red[i]);
        if (m > 0.0f) atomicMax((unsigned int*)out, __float_as_uint(m));
    }
}

// q[e] = code_index(code, f32(x[e] / absmax[0])), an IEEE division as bnbq.h (and torch).
template <class Coder>
BNBQ_DEV void bq_quant_global(const void* x, u64 n, const float* absmax, u8* q, const Coder& cd) {
    const int VEC = BNBQ_DT == BNBQ_F32 ? 4 : 8;
    const int NV = 16 / VEC;
    const u64 TE = (u64)(BQ_THREADS * 16);
    const int t = threadIdx.x;
    const float s = absmax[0];
    const bool xal = ((u64)x & 15) == 0;
    const bool qal = ((u64)q & (u64)(VEC - 1)) == 0;
    const u64 ntiles = n / TE + (n % TE != 0);
    for (u64 tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
        const u64 base = tile * TE;
        const bool full = n - base >= TE;
        float v[16];
        bq_load_tile<BNBQ_DT>(x, n, base, t, full && xal, v);
#pragma unroll
        for (int j = 0; j < NV; j++) {
            const u64 e0 = base + (u64)((j * BQ_THREADS + t) * VEC);
            int r[VEC];
#pragma unroll
            for (int k = 0; k < VEC; k++) r[k] = cd(v[j * VEC + k] / s);
            if (full && qal) {
                const u32 lo = (u32)r[0] | ((u32)r[1] << 8) | ((u32)r[2] << 16) | ((u32)r[3] << 24);
                if (VEC == 4) {
                    *(u32*)(q + e0) = lo;
                } else {
                    bq_v2 w;
                    w.a = lo;
                    w.b = (u32)r[4 % VEC] | ((u32)r[5 % VEC] << 8) | ((u32)r[6 % VEC] << 16) |
                          ((u32)r[7 % VEC] << 24);
                    *(bq_v2*)(q + e0) = w;
                }
            } else {
#pragma unroll
                for (int k = 0; k < VEC; k++)
                    if (e0 + k < n) q[e0 + k] = (u8)r[k];
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant_global(const void* x, u64 n, const float* absmax, u8* q, bnbq_code256 code) {
    bq_top T;
    if (bq8_setup(code, T)) {
        bq8_coder<true> cd;
        cd.T = T;
        bq_quant_global(x, n, absmax, q, cd);
    } else {
        bq8_coder<false> cd;
        cd.T = T;
        bq_quant_global(x, n, absmax, q, cd);
    }
}
#endif

// ---- nested statistics (float32) --------------------------------------------------------------
#if BNBQ_OPS == 3
// out[0] = f32(sum / nblocks), sum in double exactly as bnbq.h: chunks of 1024 blocks summed in
// order, chunk sums added in chunk order. One block: warps 1..31 sum chunks (one per thread, 992
// per round) into one half of a double buffer while thread 0 adds the previous round's sums.
#define BQ_NO_THREADS 1024
#define BQ_NO_WORKERS (BQ_NO_THREADS - 32)
extern "C" __global__ void __launch_bounds__(BQ_NO_THREADS)
bnbq_k_nested_offset(const float* absmax, u64 nblocks, float* out) {
    __shared__ double part[2][BQ_NO_WORKERS];
    const int t = threadIdx.x;
    const u64 nchunks = (nblocks >> 10) + ((nblocks & 1023) != 0);
    const u64 rounds = nchunks / BQ_NO_WORKERS + (nchunks % BQ_NO_WORKERS != 0);
    const bool al = ((u64)absmax & 15) == 0;
    double s = 0.0;
    for (u64 r = 0; r <= rounds; r++) {
        if (t >= 32) {
            const u64 c = r * BQ_NO_WORKERS + (u64)(t - 32);
            if (r < rounds && c < nchunks) {
                const u64 b0 = c << 10;
                const u64 b1 = nblocks - b0 < 1024 ? nblocks : b0 + 1024;
                double p = 0.0;
                if (al && b1 - b0 == 1024) {
                    for (u64 b = b0; b < b1; b += 32) {   // a 128-byte line per step in flight
                        bq_v4 w[8];
#pragma unroll
                        for (int k = 0; k < 8; k++) w[k] = *(const bq_v4*)(absmax + b + 4 * k);
#pragma unroll
                        for (int k = 0; k < 8; k++) {
                            p += (double)__uint_as_float(w[k].a);
                            p += (double)__uint_as_float(w[k].b);
                            p += (double)__uint_as_float(w[k].c);
                            p += (double)__uint_as_float(w[k].d);
                        }
                    }
                } else {
                    for (u64 b = b0; b < b1; b++) p += (double)absmax[b];
                }
                part[r & 1][t - 32] = p;
            }
        } else if (t == 0 && r > 0) {
            const u64 c0 = (r - 1) * BQ_NO_WORKERS;
            const int cnt = nchunks - c0 < BQ_NO_WORKERS ? (int)(nchunks - c0) : BQ_NO_WORKERS;
            const double* pp = part[(r - 1) & 1];
            for (int i = 0; i < cnt; i++) s += pp[i];
        }
        __syncthreads();
    }
    if (t == 0) out[0] = (float)(s / (double)nblocks);
}

// absmax_q, nested_absmax = quantize_blockwise(f32(absmax - offset[0]), code, 2^bs_log2)
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant_nested(const float* absmax, u64 nblocks, int bs_log2, const float* offset, u8* q,
                    float* nested_absmax, bnbq_code256 code) {
    const float off = offset[0];
    bq_top T;
    if (bq8_setup(code, T)) {
        bq8_coder<true> cd;
        cd.T = T;
        bq_quant_blocks<BNBQ_F32, true, 8>(absmax, nblocks, bs_log2, q, nested_absmax, off, cd);
    } else {
        bq8_coder<false> cd;
        cd.T = T;
        bq_quant_blocks<BNBQ_F32, true, 8>(absmax, nblocks, bs_log2, q, nested_absmax, off, cd);
    }
}

// out[b] = f32(f32(code[q[b]] * nested_absmax[b >> bs_log2]) + offset[0])
extern "C" __global__ void __launch_bounds__(BQ_THREADS)
bnbq_k_dequant_nested(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,
                      const float* offset, float* out, bnbq_code256 code, u32 tpb) {
    const float off = offset[0];
    bq_dequant8<BNBQ_F32, true>(q, nested_absmax, nblocks, bs_log2, out, off, code, tpb);
}
#endif

// ---- 4-bit NF4 / FP4 --------------------------------------------------------------------------
#if BNBQ_OPS == 4
// bnbq.h's decisions are threshold counts: NF4 c = #{j < 15 : x > thr[j]}; FP4 on a = |x|,
// c = #{j < 7 : a > thr[j]}, code = c2c[c] + (x < 0 ? 8 : 0). With a monotone bucket function
// k(x) (computed the same way for x and the thresholds), every threshold in a lower bucket is
// below x and every one in a higher bucket is not; so when no bucket holds two thresholds,
// c = lo[k] + (x > thr_k), lo[k] = #{j : k(thr[j]) < k}, thr_k = the threshold in bucket k or
// +inf. The setup checks the one-per-bucket property (else the literal counts run).
__shared__ float bq4_thr[32];      // the threshold in bucket k, or +inf
__shared__ int bq4_codes[32];      // code for c = lo[k] | code for c = lo[k] + 1 << 4
__shared__ float bq4_s_thr[16];
__shared__ int bq4_s_c2c[8];

BNBQ_DEV int bq4_bucket(float x) {
#if BNBQ_QT == BNBQ_NF4
    float y = (x + 1.0f) * 16.0f;                    // NF4: 32 buckets over [-1, 1]
#else
    float y = bnbq_absf(x) * 32.0f;                  // FP4: 32 buckets over |x| in [0, 1]
#endif
    y = y > 0.0f ? y : 0.0f;                         // NaN -> 0
    y = y < 31.0f ? y : 31.0f;
    return (int)y;
}

BNBQ_DEV int bq4_setup(const bnbq_q4tab& tab) {
    const int t = threadIdx.x;
    if (t == 0) {                                    // constant indices: no copy of the struct
#pragma unroll
        for (int j = 0; j < 16; j++) bq4_s_thr[j] = tab.thr[j];
#pragma unroll
        for (int j = 0; j < 8; j++) bq4_s_c2c[j] = tab.c2c[j];
    }
    __syncthreads();
    int ok = 1;
    if (t < 32) {
        const int nthr = BNBQ_QT == BNBQ_NF4 ? 15 : 7;
        int lo = 0, cnt = 0;
        float th = __uint_as_float(0x7f800000u);
        for (int j = 0; j < nthr; j++) {
            const float v = bq4_s_thr[j];
            const int b = bq4_bucket(v);
            lo += b < t;
            if (b == t) { th = v; cnt++; }
        }
#if BNBQ_QT == BNBQ_NF4
        const int c0 = lo, c1 = lo < 15 ? lo + 1 : 15;
#else
        const int c0 = bq4_s_c2c[lo], c1 = bq4_s_c2c[lo < 7 ? lo + 1 : 7];
#endif
        bq4_thr[t] = th;
        bq4_codes[t] = c0 | (c1 << 4);
        ok = cnt <= 1;
    }
    return __syncthreads_and(ok);
}

struct bq4_fast {
    BQ_MEMBER int operator()(float x) const {
        const int k = bq4_bucket(x);
#if BNBQ_QT == BNBQ_NF4
        const int gt = x > bq4_thr[k];
        return (bq4_codes[k] >> (gt ? 4 : 0)) & 15;
#else
        const int gt = bnbq_absf(x) > bq4_thr[k];
        return ((bq4_codes[k] >> (gt ? 4 : 0)) & 15) + (x < 0.0f ? 8 : 0);
#endif
    }
};
struct bq4_exact {                                   // bnbq__nf4_index / bnbq__fp4_index
    BQ_MEMBER int operator()(float x) const {
        int c = 0;
#if BNBQ_QT == BNBQ_NF4
        for (int j = 0; j < 15; j++) c += x > bq4_s_thr[j];
        return c;
#else
        const float a = bnbq_absf(x);
        for (int j = 0; j < 7; j++) c += a > bq4_s_thr[j];
        return bq4_s_c2c[c] + (x < 0.0f ? 8 : 0);
#endif
    }
};

// out_packed, out_absmax = bnbq_quantize_4bit(qt, x, n, 2^bs_log2); bs 32..4096
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant4(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {
    if (bq4_setup(tab)) {
        bq4_fast cd;
        bq_quant_blocks<BNBQ_DT, false, 4>(x, n, bs_log2, packed, absmax, 0.0f, cd);
    } else {
        bq4_exact cd;
        bq_quant_blocks<BNBQ_DT, false, 4>(x, n, bs_log2, packed, absmax, 0.0f, cd);
    }
}

// out[e] = dt(tab[nibble e] * absmax[e >> bs_log2]); nibble e is the high one of byte e / 2 for
// even e. Tiles as bq_dequant8.
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 8)
bnbq_k_dequant4(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code16 tab,
                u32 tpb) {
    typedef bq_dq<BNBQ_DT> L;
    const int VO = L::VO, U = L::U;
    const u64 TE = (u64)L::TE;
    const int t = threadIdx.x;
    __shared__ float s_tab[16];
    if (t < 16) s_tab[t] = tab.v[t];
    __syncthreads();
    const bool al = ((u64)packed & (u64)(VO / 2 - 1)) == 0 && ((u64)out & 15) == 0;
    const u64 ntiles = n / TE + (n % TE != 0);
    const u64 t0 = (u64)blockIdx.x * tpb, t1 = t0 + tpb < ntiles ? t0 + tpb : ntiles;
    for (u64 tile = t0; tile < t1; tile++) {
        const u64 base = tile * TE;
        if (al && n - base >= TE) {
            u32 w[U];
            float a[U];
#pragma unroll
            for (int j = 0; j < U; j++) {
                const u64 e0 = base + (u64)(L::vec(j, t) * VO);
                w[j] = VO == 4 ? (u32)(*(const u16*)(packed + (e0 >> 1)))
                               : *(const u32*)(packed + (e0 >> 1));
                a[j] = absmax[e0 >> bs_log2];
            }
#pragma unroll
            for (int j = 0; j < U; j++) {
                float y[VO];
#pragma unroll
                for (int k = 0; k < VO; k++) {
                    const u32 byte = (w[j] >> (8 * (k >> 1))) & 255u;
                    y[k] = s_tab[(k & 1) ? (byte & 15u) : (byte >> 4)] * a[j];
                }
                bq_dq_store<BNBQ_DT>(out, base + (u64)(L::vec(j, t) * VO), y);
            }
        } else {
#pragma unroll
            for (int j = 0; j < U; j++) {
#pragma unroll
                for (int k = 0; k < VO; k++) {
                    const u64 e = base + (u64)(L::vec(j, t) * VO + k);
                    if (e < n) {
                        const u32 byte = packed[e >> 1];
                        const float a = absmax[e >> bs_log2];
                        const float y = s_tab[(e & 1) ? (byte & 15u) : (byte >> 4)] * a;
                        bnbq_store(BNBQ_DT, out, e, y);
                    }
                }
            }
        }
    }
}
#endif
