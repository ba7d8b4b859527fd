// LLM.int8() quantizers and epilogues (bnbq_int8_vectorwise_quant / _dequant, int8_double_quant,
// int8_mm_dequant) and SwitchBack's quantize_rowwise, which shares the row kernel.
// The file is compiled as four units (BNBQ_I8_PART): 1 int8_vectorwise_quant, 2 int8_double_quant,
// 3 the dequantizers, 4 SwitchBack quantize_rowwise.
// Every value is computed with the float32 operations of bnbq.h's CPU functions, in the same
// order: scale = 127 * (1 / absmax), q = rint(a * scale) (bnbq__cpu_vectorwise_range),
// CAt = rint(f32(f16(a * 127) / col_stats)) with a true division (bnbq_int8_double_quant).
//
// Outlier columns (threshold > 0) are collected as a bitmask of ceil(cols / 32) words kept at the
// END of out_outlier_cols (words [cols - nwords, cols)); the last block of the final kernel
// compacts it in place into the sorted column indices and writes the count. In place is safe:
// while chunk [w0, w1) is compacted, every index written lands below 32 * w1 <= cols - nwords + w1,
// i.e. before the words still to be read (32 * (nwords - 1) < cols). int8_vectorwise_quant without
// the snapshot may spread the words bms apart (words [cols - bms nwords, cols), word w at bms w;
// the launcher: nwords <= 256, so that one chunk reads them all before anything is written).
// out_n_outliers[0] is the arrival counter of that final kernel until the last block overwrites it
// with the count.

#ifndef BNBQ_I8_PART
#define BNBQ_I8_PART 1
#endif
#define BNBQ_I8_FULL 0xffffffffu
#define BNBQ_I8_NR 8            // pieces of a row each thread keeps in registers
#define BNBQ_I8_MEM __device__ __forceinline__   // members and explicit specialisations (no static)

BNBQ_DEV float bnbq_i8_h2f(u32 h) {
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((u16)h));   // exact, as bnbq_f16_to_f32
    return f;
#else
    return bnbq_f16_to_f32((u16)h);
#endif
}

// bnbq_rint without its branches: cvt.rni.s32.f32 rounds half to even, gives 0 for NaN and
// saturates (+-inf: INT_MAX / INT_MIN), which is bnbq_rint everywhere except finite |y| in
// [2^22, 2^23) with a fraction of .5 (bnbq_rint truncates there). The values rounded here are
// NaN, at most 127 * (1 + 2^-22) in magnitude, or (outlier elements) replaced by 0 afterwards.
BNBQ_DEV int bnbq_i8_rint(float y) { return __float2int_rn(y); }

// max of non-negative, non-NaN values
BNBQ_DEV float bnbq_i8_max(float a, float b) { return b > a ? b : a; }

BNBQ_DEV float bnbq_i8_warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) v = bnbq_i8_max(v, __shfl_xor_sync(BNBQ_I8_FULL, v, off));
    return v;
}

// Block-wide max (blockDim.x a multiple of 32); every thread gets it. red: 32 floats of shared memory.
BNBQ_DEV float bnbq_i8_block_max(float v, float* red) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = bnbq_i8_warp_max(v);
    if (lane == 0) red[w] = v;
    __syncthreads();
    v = 0.0f;
    for (int i = 0; i < nw; i++) v = bnbq_i8_max(v, red[i]);
    __syncthreads();
    return v;
}

// Block-wide exclusive prefix sum of one value per thread (blockDim.x a multiple of 32);
// *total gets the sum. sh: 32 words of shared memory. Starts and ends with a barrier.
BNBQ_DEV u32 bnbq_i8_block_scan(u32 x, u32* sh, u32* total) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    u32 v = x, base = 0, tot = 0;
    for (int off = 1; off < 32; off <<= 1) {
        u32 o = __shfl_up_sync(BNBQ_I8_FULL, v, off);
        if (lane >= off) v += o;
    }
    __syncthreads();
    if (lane == 31) sh[w] = v;
    __syncthreads();
    for (int i = 0; i < nw; i++) {
        u32 t = sh[i];
        if (i < w) base += t;
        tot += t;
    }
    __syncthreads();
    *total = tot;
    return base + v - x;
}

// The bitmask bm (nwords words) compacted into cols_out (sorted column indices) and the count into
// n_out[0], by one whole block (a uniform call). bms: the words' stride in bm (1: dense; see
// bnbq_k_int8_vw_rows_thr).
BNBQ_DEV void bnbq_i8_compact(i32* cols_out, i32* n_out, const u32* bm, u64 nwords, u64 bms = 1) {
    __shared__ u32 sh[32];
    u32 base = 0;
    for (u64 w0 = 0; w0 < nwords; w0 += blockDim.x) {
        u64 wi = w0 + threadIdx.x;
        u32 word = wi < nwords ? bm[wi * bms] : 0u;
        u32 tot, pre = bnbq_i8_block_scan(__popc(word), sh, &tot);   // all words of the chunk read
        i32* o = cols_out + base + pre;
        while (word) {
            int b = __ffs(word) - 1;
            *o++ = (i32)(wi * 32u + (u64)b);
            word &= word - 1u;
        }
        base += tot;
    }
    if (threadIdx.x == 0) n_out[0] = (i32)base;
}

// Called by every thread of every block of a kernel once the block has read the bitmask for the
// last time. The last block to arrive compacts the bitmask into cols_out (sorted) and writes the
// count over the arrival counter n_out[0].
BNBQ_DEV void bnbq_i8_outlier_tail(i32* cols_out, i32* n_out, const u32* bm, u64 nwords, u64 bms = 1) {
    __shared__ int last;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        last = atomicAdd((u32*)n_out, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    bnbq_i8_compact(cols_out, n_out, bm, nwords, bms);
}

#if BNBQ_I8_PART == 1 || BNBQ_I8_PART == 2
// Zeroes the bitmask words, the arrival counter and up to two float arrays (statistics that are
// reduced with atomicMax on their bits).
extern "C" __global__ void bnbq_k_int8_init(u32* bm, u64 nwords, i32* counter, float* f1, u64 n1,
                                            float* f2, u64 n2) {
    u64 i0 = (u64)blockIdx.x * blockDim.x + threadIdx.x, st = (u64)gridDim.x * blockDim.x;
    bnbq_pdl_release();   // the rows pass may start (it waits before it touches these)
    if (i0 == 0 && counter) counter[0] = 0;
    if (bm) for (u64 i = i0; i < nwords; i += st) bm[i] = 0u;
    if (f1) for (u64 i = i0; i < n1; i += st) f1[i] = 0.0f;
    if (f2) for (u64 i = i0; i < n2; i += st) f2[i] = 0.0f;
}
#endif

// ---- a piece: V consecutive f16 of a row (V = 8: one 16-byte load; V = 1: one element) -------
template <int V> struct bnbq_i8_vec;
template <> struct bnbq_i8_vec<8> {
    u32 w[4];
    BNBQ_I8_MEM void load(const u16* p) {
        uint4 t = __ldg((const uint4*)p);
        w[0] = t.x; w[1] = t.y; w[2] = t.z; w[3] = t.w;
    }
    BNBQ_I8_MEM u32 get(int i) const { return (w[i >> 1] >> ((i & 1) * 16)) & 0xffffu; }
};
template <> struct bnbq_i8_vec<1> {
    u32 w[1];
    BNBQ_I8_MEM void load(const u16* p) { w[0] = __ldg(p); }
    BNBQ_I8_MEM u32 get(int) const { return w[0]; }
};

// V int8 codes to dst (V = 8: one 8-byte store, dst 8-byte aligned)
template <int V> BNBQ_I8_MEM void bnbq_i8_store(i8* dst, const int* q);
template <> BNBQ_I8_MEM void bnbq_i8_store<8>(i8* dst, const int* q) {
    u32 lo = ((u32)q[0] & 0xffu) | (((u32)q[1] & 0xffu) << 8) | (((u32)q[2] & 0xffu) << 16) |
             (((u32)q[3] & 0xffu) << 24);
    u32 hi = ((u32)q[4] & 0xffu) | (((u32)q[5] & 0xffu) << 8) | (((u32)q[6] & 0xffu) << 16) |
             (((u32)q[7] & 0xffu) << 24);
    *(uint2*)dst = make_uint2(lo, hi);
}
template <> BNBQ_I8_MEM void bnbq_i8_store<1>(i8* dst, const int* q) { dst[0] = (i8)q[0]; }

// Row statistic of a piece starting at column c: max |a| over the non-outliers; outliers
// (|a| >= thr, use_thr) set their column's bit (V = 8: c % 8 == 0, the piece's bits share a word).
template <int V>
BNBQ_DEV float bnbq_i8_piece_max(const bnbq_i8_vec<V>& x, float m, u64 c, int use_thr, float thr,
                                 u32* bm) {
    u32 om = 0u;
#pragma unroll
    for (int i = 0; i < V; i++) {
        float v = bnbq_i8_h2f(x.get(i) & 0x7fffu);   // |a|
        int o = use_thr && v >= thr;
        om |= (u32)o << i;
        m = o ? m : bnbq_i8_max(m, v);
    }
    if (om) atomicOr(&bm[c >> 5], om << (u32)(c & 31u));
    return m;
}

// Thread 0 stores the row statistic m (MODE 0: row_stats, float; MODE 1: the f16 state); every
// thread gets the row's scale: MODE 0 127 * (1 / m), MODE 1 1 / m.
template <int MODE>
BNBQ_DEV float bnbq_i8_row_scale(float m, void* stats, u64 r) {
    if (MODE == 0) {
        if (threadIdx.x == 0) ((float*)stats)[r] = m;
        return 127.0f * (1.0f / m);
    }
    if (threadIdx.x == 0) ((u16*)stats)[r] = bnbq_f32_to_f16(m);
    return 1.0f / m;
}

// MODE 0 (LLM.int8): q = rint(a * s), s = 127 * (1 / absmax); outliers 0.
// MODE 1 (SwitchBack): q = rint(127 * (a * s)), s = 1 / absmax.
template <int MODE, int V>
BNBQ_DEV void bnbq_i8_piece_quant(const bnbq_i8_vec<V>& x, float s, int use_thr, float thr, i8* dst) {
    int q[V];
#pragma unroll
    for (int i = 0; i < V; i++) {
        float v = bnbq_i8_h2f(x.get(i));
        if (MODE == 0) {
            int y = bnbq_i8_rint(v * s);
            q[i] = (use_thr && bnbq_absf(v) >= thr) ? 0 : y;
        } else {
            float xh = v * s;
            q[i] = bnbq_i8_rint(127.0f * xh);
        }
    }
    bnbq_i8_store<V>(dst, q);
}

// One block (at most 256 threads) per row, grid-stride over rows: one read of the row (up to NR
// pieces per thread kept in registers; the rest of a longer row is read again), the row statistic,
// the codes. The launcher picks the fewest threads that keep a row in registers.
// MODE 0: stats = float row_stats, outlier bits into bm (use_thr). MODE 1: stats = f16 state.
// THR: 1 thr > 0, 0 thr == 0 (the launcher knows), -1 either (a run-time test).
template <int MODE, int V, int THR>
BNBQ_DEV void bnbq_i8_rows(const u16* A, u64 rows, u64 cols, float thr, i8* CA, void* stats,
                           u32* bm) {
    __shared__ float red[32];
    const int use_thr = MODE == 0 && (THR < 0 ? thr > 0.0f : THR > 0);
    const u64 np = cols / V, T = blockDim.x, tid = threadIdx.x;
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const u16* a = A + r * cols;
        i8* q = CA + r * cols;
        bnbq_i8_vec<V> x[BNBQ_I8_NR];
        float m = 0.0f, s;
#pragma unroll
        for (int j = 0; j < BNBQ_I8_NR; j++) {
            u64 p = (u64)j * T + tid;
            if (p < np) x[j].load(a + p * V);
        }
#pragma unroll
        for (int j = 0; j < BNBQ_I8_NR; j++) {
            u64 p = (u64)j * T + tid;
            if (p < np) m = bnbq_i8_piece_max<V>(x[j], m, p * V, use_thr, thr, bm);
        }
        for (u64 p = BNBQ_I8_NR * T + tid; p < np; p += T) {
            bnbq_i8_vec<V> y;
            y.load(a + p * V);
            m = bnbq_i8_piece_max<V>(y, m, p * V, use_thr, thr, bm);
        }
        m = bnbq_i8_block_max(m, red);
        s = bnbq_i8_row_scale<MODE>(m, stats, r);
#pragma unroll
        for (int j = 0; j < BNBQ_I8_NR; j++) {
            u64 p = (u64)j * T + tid;
            if (p < np) bnbq_i8_piece_quant<MODE, V>(x[j], s, use_thr, thr, q + p * V);
        }
        for (u64 p = BNBQ_I8_NR * T + tid; p < np; p += T) {
            bnbq_i8_vec<V> y;
            y.load(a + p * V);
            bnbq_i8_piece_quant<MODE, V>(y, s, use_thr, thr, q + p * V);
        }
    }
}

// ---- the 8-element row path: 16-bit lanes of the f16 bits, no per-element float compares ------
// For |a| as f16 bits (0..0x7fff), "outlier or NaN" is one unsigned compare a >= T: with a
// threshold, T = the bits of the smallest f16 >= thr (NaN bits 0x7c01.. are above it); without
// one, T = 0x7c01 (NaN only). Outliers (what the column bits mark) are T <= a <= 0x7c00.
// bnbq_i8_T: T for thr (thr > 0 when use_thr).
BNBQ_DEV u32 bnbq_i8_T(int use_thr, float thr) {
    if (!use_thr) return 0x7c01u;
    if (!(thr <= 65504.0f)) return 0x7c00u;               // only inf is >= thr
    u32 h = bnbq_f32_to_f16(thr);                         // RNE; thr > 0, so h in [0, 0x7bff]
    return bnbq_i8_h2f(h) < thr ? h + 1u : h;             // round up to the first f16 >= thr
}

// Per 16-bit lane of a word of |a| bits: 0xffff where a >= T, else 0. k2 = (0x8000 - T) * 0x10001:
// a + (0x8000 - T) < 0x10000 (no carry between lanes) and has bit 15 set iff a >= T; the PRMT
// replicates bit 15 / bit 31 (the sign of byte 1 / byte 3) over the lane.
BNBQ_DEV u32 bnbq_i8_zmask(u32 a, u32 k2) {
    u32 z;
    asm("prmt.b32 %0, %1, 0, 0xbb99;" : "=r"(z) : "r"(a + k2));
    return z;
}

// Lane-wise max of two words of non-NaN, non-negative f16 bits (<= 0x7c00): float order is the
// unsigned order of the bits.
BNBQ_DEV u32 bnbq_i8_hmax2(u32 a, u32 b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u32 d;
    asm("max.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
#else
    u32 al = a & 0xffffu, bl = b & 0xffffu, ah = a >> 16, bh = b >> 16;
    return (al > bl ? al : bl) | ((ah > bh ? ah : bh) << 16);
#endif
}

// The low byte of rint(y) for |y| < 2^22: y + 1.5 * 2^23 rounds to an integer (RNE) whose bits
// end with it in two's complement.
BNBQ_DEV u32 bnbq_i8_magic(float y) { return __float_as_uint(y + 12582912.0f); }

// Four low bytes of t0..t3 as one word (t0 lowest).
BNBQ_DEV u32 bnbq_i8_pack4(u32 t0, u32 t1, u32 t2, u32 t3) {
    u32 a, b, d;
    asm("prmt.b32 %0, %1, %2, 0x0040;" : "=r"(a) : "r"(t0), "r"(t1));
    asm("prmt.b32 %0, %1, %2, 0x0040;" : "=r"(b) : "r"(t2), "r"(t3));
    asm("prmt.b32 %0, %1, %2, 0x5410;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

// Byte mask of four lanes from two lane masks (z0: elements 0, 1; z1: elements 2, 3).
BNBQ_DEV u32 bnbq_i8_bytemask(u32 z0, u32 z1) {
    u32 d;
    asm("prmt.b32 %0, %1, %2, 0x6420;" : "=r"(d) : "r"(z0), "r"(z1));
    return d;
}

// Bit i of the result: byte i of w (each 0xff or 0) is set (bit i of byte i to bit 24 + i by one multiply:
// the four partial products' bits never meet)
BNBQ_DEV u32 bnbq_i8_byte_bits(u32 w) { return ((w & 0x08040201u) * 0x01010101u) >> 24; }

// Max of the non-outlier, non-NaN |a| of a piece (packed in m2); outliers set their column bits.
// A piece with an outlier or NaN lane (z) finds its outliers from the lane masks: z without the NaN
// lanes (a second zmask against 0x7c01), one byte a lane (PRMT), one bit a byte (bnbq_i8_byte_bits).
// (It used to test the 8 elements one by one: with systematic outlier columns, e.g. 41 of 4096 in
// every row, that branch ran in most warp steps and made the pass issue-bound.)
BNBQ_DEV u32 bnbq_i8_piece_max8(const bnbq_i8_vec<8>& x, u32 m2, u64 c, int use_thr, u32 k2, u32* bm,
                                u64 bms = 1) {
    u32 any = 0u, z[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        u32 a = x.w[i] & 0x7fff7fffu;
        z[i] = bnbq_i8_zmask(a, k2);
        any |= z[i];
        m2 = bnbq_i8_hmax2(m2, a & ~z[i]);
    }
    if (use_thr && any) {   // rare: which of them are outliers (not NaN)
        const u32 kn = (0x8000u - 0x7c01u) * 0x10001u;   // lanes >= 0x7c01: NaN
        u32 o[4], lo, hi;
#pragma unroll
        for (int i = 0; i < 4; i++) o[i] = z[i] & ~bnbq_i8_zmask(x.w[i] & 0x7fff7fffu, kn);
        asm("prmt.b32 %0, %1, %2, 0x7531;" : "=r"(lo) : "r"(o[0]), "r"(o[1]));   // elements 0..3: a byte each
        asm("prmt.b32 %0, %1, %2, 0x7531;" : "=r"(hi) : "r"(o[2]), "r"(o[3]));   // elements 4..7
        const u32 om = bnbq_i8_byte_bits(lo) | (bnbq_i8_byte_bits(hi) << 4);
        if (om) atomicOr(&bm[(c >> 5) * bms], om << (u32)(c & 31u));
    }
    return m2;
}

// 8 snapshot bits as two byte masks (0xff: zero the code): bit i of a nibble to bit 8 i, then
// over the byte.
BNBQ_DEV void bnbq_i8_snap_mask(u32 b, u32* lo, u32* hi) {
    u32 l = ((b & 0xfu) * 0x00204081u) & 0x01010101u, h = ((b >> 4) * 0x00204081u) & 0x01010101u;
    *lo = l * 0xffu;
    *hi = h * 0xffu;
}

// Codes of a piece for a row with 0 < absmax < inf (every non-zeroed |y| <= 127 * (1 + 2^-22)):
// MODE 0 q = rint(a * s), MODE 1 q = rint(127 * (a * s)); outliers and NaN 0, and the columns
// whose bit is set in sb (the outlier-column snapshot's 8 bits of the piece, below; 0: none).
template <int MODE>
BNBQ_DEV void bnbq_i8_piece_quant8(const bnbq_i8_vec<8>& x, float s, u32 k2, i8* dst, u32 sb = 0u) {
    u32 t[8], z[4], ml, mh;
    bnbq_i8_snap_mask(sb, &ml, &mh);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        z[i] = bnbq_i8_zmask(x.w[i] & 0x7fff7fffu, k2);
        float v0 = bnbq_i8_h2f(x.w[i] & 0xffffu), v1 = bnbq_i8_h2f(x.w[i] >> 16);
        float y0 = v0 * s, y1 = v1 * s;
        if (MODE == 1) { y0 = 127.0f * y0; y1 = 127.0f * y1; }
        t[2 * i] = bnbq_i8_magic(y0);
        t[2 * i + 1] = bnbq_i8_magic(y1);
    }
    u32 lo = bnbq_i8_pack4(t[0], t[1], t[2], t[3]) & ~(bnbq_i8_bytemask(z[0], z[1]) | ml);
    u32 hi = bnbq_i8_pack4(t[4], t[5], t[6], t[7]) & ~(bnbq_i8_bytemask(z[2], z[3]) | mh);
    *(uint2*)dst = make_uint2(lo, hi);
}

// ---- the outlier-column snapshot (SMP = 1, int8_vectorwise_quant with threshold > 0) -----------
// Every row that starts before the flag is out counts itself in smp[0] once its outlier bits are set;
// the R0-th to arrive (whichever rows come first) copies the bitmask into the snapshot smp[64 .. 64 +
// nwords) and then sets the flag smp[32] (its own 128-byte line). (It used to be the rows [0, R0)
// only: one late block of those held the snapshot back while the others wrote their second and
// third rows unpatched.) A block that finds the flag set copies the snapshot
// into its shared memory once (the grid is about one wave of resident blocks, so that this is not
// repeated per row: every block reading the same few lines from L2 for every row made those L2
// lines a hot spot and the pass 20-30 % slower) and from then on zeroes the snapshot's columns as it
// writes its rows; a row that starts before that is deferred (bnbq_i8_rows8's defer) or, when the
// block has deferred rows enough, has its bit set in rb. The fix pass then zeroes every outlier
// column in the rows marked in rb and only
// the columns missing from the snapshot (usually none: outlier columns are systematic) in the
// others. Nothing waits. A block's first row is blockIdx.x, its later rows come from the ticket
// counter smp[16] in order of demand (a fixed stride left the last rows to a few blocks: measured
// 75 -> 79 % of copy at 4096x14336 on the H100 with the tickets). smp[0], smp[16], smp[32] and rb
// start at 0 (bnbq_k_int8_init); the launcher gives nwords words of dynamic shared memory (and with
// defer the deferred rows' codes after them) and at least R0 rows.
BNBQ_DEV u32 bnbq_i8_ld_cg(const u32* p) {
    u32 v;
    asm volatile("ld.global.cg.u32 %0, [%1];" : "=r"(v) : "l"(p));
    return v;
}
BNBQ_DEV u32 bnbq_i8_ld_volatile(const u32* p) {
    u32 v;
    asm volatile("ld.volatile.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// The published snapshot into the block's shared memory ssnap (a uniform call; a barrier at the end).
BNBQ_DEV void bnbq_i8_take_snapshot(u32* ssnap, const u32* smp, u64 nwords) {
    for (u64 w = threadIdx.x; w < nwords; w += blockDim.x) ssnap[w] = bnbq_i8_ld_cg(&smp[64 + w]);
    __syncthreads();
}

// A row's block, after the row's last atomicOr: counts it; the R0-th publishes the snapshot.
BNBQ_DEV void bnbq_i8_sample_done(u32* bm, u64 nwords, u32* smp, u64 R0, u64 bms = 1) {
    __shared__ int last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(&smp[0], 1u) == (u32)R0 - 1u;
    __syncthreads();
    if (!last) return;
    __threadfence();
    for (u64 w = threadIdx.x; w < nwords; w += blockDim.x) smp[64 + w] = bnbq_i8_ld_cg(&bm[w * bms]);
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) atomicExch(&smp[32], 1u);
}


// bnbq_i8_rows for 8-element pieces (cols % 8 == 0, A 16-byte and CA 8-byte aligned): the same
// values. A row whose statistic is 0 or inf gets 0 everywhere (every product is NaN or +-0 then).
// SMP = 1: the sample protocol above (MODE 0 with a threshold only).
// SMP with defer (1 or 2): the first `defer` rows of a block that start before the snapshot is out
// keep their codes in shared memory (after the snapshot) and are written after the block's last row,
// with the snapshot's columns zeroed, instead of being marked in rb: marked rows were written first,
// had left the L2 when the fix pass zeroed every outlier column in them, and those scattered writes
// cost ~4.4 us of ~74 at 4096x14336 on the H100. (A row is still marked when the block has deferred
// `defer` rows already, or when the snapshot is not out yet when the block ends.)
template <int MODE, int THR, int SMP>
BNBQ_DEV void bnbq_i8_rows8(const u16* A, u64 rows, u64 cols, float thr, i8* CA, void* stats,
                            u32* bm, u32* smp = 0, u32* rb = 0, u64 R0 = 0, int defer = 0, u64 bms = 1) {
    __shared__ float red[32];
    __shared__ u32 snapok[2];
    __shared__ u32 dfr[2];
    __shared__ u32 endflag;
    __shared__ u64 nextrow[2];
    extern __shared__ u32 ssnap[];   // SMP: the snapshot, nwords words, once the block has seen it
    u32 it = 0, have = 0;
    const int use_thr = MODE == 0 && (THR < 0 ? thr > 0.0f : THR > 0);
    const u32 T = bnbq_i8_T(use_thr, thr), k2 = (0x8000u - T) * 0x10001u;
    const u64 np = cols / 8, Tn = blockDim.x, tid = threadIdx.x, nwords = (cols + 31) / 32;
    i8* const dsh = (i8*)(ssnap + ((nwords + 1) & ~(u64)1));   // SMP, defer: the deferred rows' codes
    u64 dr[2] = { 0, 0 };   // SMP: the block's deferred rows (uniform): dr[0 .. ndr)
    u32 ndr = 0;
    u64 nxt = 0;   // SMP: the block's next row, from the ticket counter smp[16]
    for (u64 r = blockIdx.x; r < rows; r = SMP ? nxt : r + gridDim.x) {
        const u16* a = A + r * cols;
        i8* q = CA + r * cols;
        bnbq_i8_vec<8> x[BNBQ_I8_NR];
        u32 m2 = 0u;
        float m, s;
#pragma unroll
        for (int j = 0; j < BNBQ_I8_NR; j++) {
            u64 p = (u64)j * Tn + tid;
            if (p < np) x[j].load(a + p * 8);
        }
        // launched after bnbq_k_int8_init (bnbq__cu_launch_pdl): its zeroes first. (It does not
        // release the fix pass early: the fix blocks then sit on the SMs the rows still need, measured
        // 3-4 points slower on the H100 than the fix pass launched when the rows are done.)
        if (it == 0) bnbq_pdl_wait();
        if (SMP && threadIdx.x == 0) {   // the snapshot out? (read before the barriers below)
            u32 f = have ? 1u : bnbq_i8_ld_volatile(&smp[32]);
            if (!have && f) __threadfence();
            u32 d = 0u;
            if (!f) {
                if (ndr < (u32)defer && ndr < 2u) d = 1u;   // kept back (above; room for two)
                else atomicOr(&rb[r >> 5], 1u << (u32)(r & 31u));   // patched in full by the fix
            }
            snapok[it & 1u] = f;
            dfr[it & 1u] = d;
            // rows after the first are handed out in order of demand: the blocks end together
            nextrow[it & 1u] = gridDim.x + (u64)atomicAdd(&smp[16], 1u);
        }
#pragma unroll
        for (int j = 0; j < BNBQ_I8_NR; j++) {
            u64 p = (u64)j * Tn + tid;
            if (p < np) m2 = bnbq_i8_piece_max8(x[j], m2, p * 8, use_thr, k2, bm, bms);
        }
        for (u64 p = BNBQ_I8_NR * Tn + tid; p < np; p += Tn) {
            bnbq_i8_vec<8> y;
            y.load(a + p * 8);
            m2 = bnbq_i8_piece_max8(y, m2, p * 8, use_thr, k2, bm, bms);
        }
        m2 = bnbq_i8_hmax2(m2, m2 >> 16);
        m = bnbq_i8_block_max(bnbq_i8_h2f(m2 & 0xffffu), red);
        s = bnbq_i8_row_scale<MODE>(m, stats, r);
        const u32 snap = SMP ? snapok[it & 1u] : 0u;
        const u32 dthis = SMP ? dfr[it & 1u] : 0u;
        if (SMP) nxt = nextrow[it & 1u];
        it++;
        if (SMP && snap && !have) {   // first sight: copy it (uniform over the block)
            bnbq_i8_take_snapshot(ssnap, smp, nwords);
            have = 1;
        }
        if (SMP && !snap) bnbq_i8_sample_done(bm, nwords, smp, R0, bms);   // uniform
        if (!(m > 0.0f && m <= 65504.0f)) {   // 0 or inf; uniform over the block
            for (u64 p = tid; p < np; p += Tn) *(uint2*)(q + p * 8) = make_uint2(0u, 0u);
            continue;   // (a deferred row of zeros is written now: it needs no patch)
        }
        if (SMP && dthis) {   // uniform: this row's codes wait in dsh (each thread its own pieces)
            q = dsh + ndr * cols;
            dr[ndr & 1u] = r;
            ndr++;
        }
#pragma unroll
        for (int j = 0; j < BNBQ_I8_NR; j++) {
            u64 p = (u64)j * Tn + tid;
            if (p < np) {
                if (snap) bnbq_i8_piece_quant8<MODE>(x[j], s, k2, q + p * 8, (ssnap[p >> 2] >> (8 * (p & 3))) & 0xffu);
                else bnbq_i8_piece_quant8<MODE>(x[j], s, k2, q + p * 8);
            }
        }
        for (u64 p = BNBQ_I8_NR * Tn + tid; p < np; p += Tn) {
            bnbq_i8_vec<8> y;
            y.load(a + p * 8);
            if (snap) bnbq_i8_piece_quant8<MODE>(y, s, k2, q + p * 8, (ssnap[p >> 2] >> (8 * (p & 3))) & 0xffu);
            else bnbq_i8_piece_quant8<MODE>(y, s, k2, q + p * 8);
        }
    }
    if (SMP && ndr) {   // the deferred rows, after the block's last (uniform)
        if (!have) {
            if (threadIdx.x == 0) endflag = bnbq_i8_ld_volatile(&smp[32]);
            __syncthreads();
            if (endflag) {
                __threadfence();
                bnbq_i8_take_snapshot(ssnap, smp, nwords);
                have = 1;
            }
        }
        for (u32 k = 0; k < ndr; k++) {
            i8* q = CA + dr[k] * cols;
            const i8* ds = dsh + k * cols;
            for (u64 p = tid; p < np; p += Tn) {   // the pieces this thread wrote into dsh
                uint2 v = *(const uint2*)(ds + p * 8);
                if (have) {
                    u32 ml, mh;
                    bnbq_i8_snap_mask((ssnap[p >> 2] >> (8 * (p & 3))) & 0xffu, &ml, &mh);
                    v.x &= ~ml;
                    v.y &= ~mh;
                }
                *(uint2*)(q + p * 8) = v;
            }
            if (!have && threadIdx.x == 0) atomicOr(&rb[dr[k] >> 5], 1u << (u32)(dr[k] & 31u));
        }
    }
}

#if BNBQ_I8_PART == 1
// int8_vectorwise_quant, pass 1 of 2: row statistics, codes (outlier elements 0) and outlier bits.
// The launcher picks: cols % 8 == 0, A 16-byte and CA 8-byte aligned: 8 elements a piece
// (bnbq_k_int8_vw_rows for threshold 0, _thr for threshold > 0); else _any (either threshold).
// (Each kernel is its own compilation unit: only the kernels a program uses are compiled.)
// rel (the launcher: a grid of at most one block an SM, a few decoding steps): the kernel after it on the
// stream (launched with bnbq__cu_launch_pdl, waiting in bnbq_pdl_wait) may start at once, its launch
// hidden behind this one.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_vw_rows(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,
                    u32* bm, int rel) {
    if (rel) bnbq_pdl_release();
    bnbq_i8_rows8<0, 0, 0>(A, rows, cols, thr, CA, row_stats, bm);
}
// bms: the stride of the bitmask's words in bm (the launcher: 8 where out_outlier_cols has room, so
// that the rows' atomicOr spread over 8 times as many L2 sectors; else 1)
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_vw_rows_thr(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,
                        u32* bm, u64 bms, int rel) {
    if (rel) bnbq_pdl_release();
    bnbq_i8_rows8<0, 1, 0>(A, rows, cols, thr, CA, row_stats, bm, 0, 0, 0, 0, bms);
}
// _thr with the outlier-column snapshot (the launcher: rows >= R0; smp, rb as above; defer (0..2):
// the dynamic shared memory also holds that many rows of codes after the snapshot's words rounded
// up to even).
extern "C" __global__ void __launch_bounds__(256, 4)
bnbq_k_int8_vw_rows_smp(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,
                        u32* bm, u32* smp, u32* rb, u64 R0, int defer, u64 bms) {
    bnbq_i8_rows8<0, 1, 1>(A, rows, cols, thr, CA, row_stats, bm, smp, rb, R0, defer, bms);
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_vw_rows_any(const u16* A, u64 rows, u64 cols, float thr, i8* CA, float* row_stats,
                        u32* bm) {
    bnbq_i8_rows<0, 1, -1>(A, rows, cols, thr, CA, row_stats, bm);
}
#endif

#if BNBQ_I8_PART == 4
// SwitchBack quantize_rowwise: state f16 row absmax, q = rint(127 * (x * (1 / absmax))).
// As bnbq_k_int8_vw_rows: _any where the shape or the pointers do not allow 8-element pieces.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_rows(const u16* X, u64 rows, u64 cols, i8* q, u16* state) {
    bnbq_i8_rows8<1, 0, 0>(X, rows, cols, 0.0f, q, state, 0);
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_rows_any(const u16* X, u64 rows, u64 cols, i8* q, u16* state) {
    bnbq_i8_rows<1, 1, 0>(X, rows, cols, 0.0f, q, state, 0);
}
#endif

#if BNBQ_I8_PART == 1
// int8_vectorwise_quant, pass 2 of 2 (threshold > 0). With zero_cols (rows > 1) the outlier columns
// are zeroed (a warp per row, its lanes over the bitmask's words): every one in every row (SMP = 0,
// after bnbq_k_int8_vw_rows_thr / _any), or (SMP = 1, after _rows_smp) every one in the rows marked
// in rb and only those missing from the snapshot snap in the others (usually none: then the unmarked
// rows are skipped). The block reads the bitmask (and snapshot, and its warps' first row bits) in
// one round trip, into dynamic shared memory when the launcher gives room for it (fsm = 1: nwords
// words, SMP twice that), else the zeroing reads them from global memory again. Then the compaction
// of the bitmask: lim is the first word of cols_out that the blocks read (the bitmask, or the
// snapshot's row bitmap); when the count fits below it, block 0 writes the sorted list and the count,
// and no block waits for another; else the last block to finish compacts (bnbq_i8_outlier_tail).
// Launched after the rows pass (bnbq__cu_launch_pdl). blockDim.x == 256. (It used to walk the
// bitmask in chunks of 256 words with block scans, a count pass first, and read each row's bit on
// its own: about six dependent L2 round trips, ~10 us at 4096x14336 on the H100.)
// timing probes (wrong results): 1 the fix pass returns after its wait, 2 it zeroes nothing, 3 it
// ignores the rows marked in rb
#define BNBQ_I8_FIXPROBE 0
template <int SMP>
BNBQ_DEV void bnbq_i8_fix(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, const u32* bm,
                          u64 nwords, const u32* snap, const u32* rb, int zero_cols, u64 lim, int fsm,
                          u64 bms = 1) {
    extern __shared__ u32 bnbq_i8_fixsh[];   // fsm: [0, nwords) the bitmask, [nwords, 2 nwords) SMP's missing columns
    __shared__ u32 cnt[2];
    const u32 lane = threadIdx.x & 31u;
    const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5;
    u64 r = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (threadIdx.x == 0) cnt[0] = cnt[1] = 0u;
    bnbq_pdl_wait();
    if (BNBQ_I8_FIXPROBE == 1) return;
    u32 rbw = SMP && zero_cols && r < rows && BNBQ_I8_FIXPROBE != 3 ? bnbq_i8_ld_cg(&rb[r >> 5]) : 0u;
    u32 pn = 0u, pd = 0u;
    __syncthreads();   // cnt
    for (u64 w0 = 0; w0 < nwords; w0 += 4 * (u64)blockDim.x) {   // 4 words a thread in flight
        u32 b[4], d[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const u64 w = w0 + (u64)k * blockDim.x + threadIdx.x;
            b[k] = w < nwords ? bnbq_i8_ld_cg(&bm[w * bms]) : 0u;
            d[k] = SMP && w < nwords ? bnbq_i8_ld_cg(&snap[w]) : 0u;
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const u64 w = w0 + (u64)k * blockDim.x + threadIdx.x;
            d[k] = b[k] & ~d[k];
            pn += (u32)__popc(b[k]);
            pd += SMP ? (u32)__popc(d[k]) : 0u;
            if (fsm && w < nwords) {
                bnbq_i8_fixsh[w] = b[k];
                if (SMP) bnbq_i8_fixsh[nwords + w] = d[k];
            }
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        pn += __shfl_xor_sync(0xffffffffu, pn, o);
        pd += __shfl_xor_sync(0xffffffffu, pd, o);
    }
    if (lane == 0) {
        atomicAdd(&cnt[0], pn);
        if (SMP) atomicAdd(&cnt[1], pd);
    }
    __syncthreads();
    const u64 n = cnt[0], dn = cnt[1];
    const int direct = n <= lim;
    if (zero_cols && n && BNBQ_I8_FIXPROBE != 2)
        for (; r < rows; r += nwarps) {
            const int all = !SMP || ((rbw >> (u32)(r & 31u)) & 1u);
            if (all || dn) {
                i8* q = CA + r * cols;
                for (u64 w = lane; w < nwords; w += 32) {
                    u32 x;
                    if (fsm) x = bnbq_i8_fixsh[(all ? 0 : nwords) + w];
                    else {
                        x = bnbq_i8_ld_cg(&bm[w * bms]);
                        if (!all) x &= ~bnbq_i8_ld_cg(&snap[w]);
                    }
                    while (x) {
                        const u32 bit = (u32)__ffs(x) - 1u;
                        q[w * 32 + bit] = 0;
                        x &= x - 1u;
                    }
                }
            }
            if (SMP && r + nwarps < rows) rbw = bnbq_i8_ld_cg(&rb[(r + nwarps) >> 5]);
        }
    if (!direct) bnbq_i8_outlier_tail(cols_out, n_out, bm, nwords, bms);
    else if (blockIdx.x == 0) bnbq_i8_compact(cols_out, n_out, fsm ? bnbq_i8_fixsh : bm, nwords, fsm ? 1 : bms);
}

// rel: as bnbq_k_int8_vw_rows's
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_vw_fix(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, u32* bm, u64 nwords,
                   int zero_cols, u64 lim, int fsm, u64 bms, int rel) {
    if (rel) bnbq_pdl_release();
    bnbq_i8_fix<0>(CA, rows, cols, cols_out, n_out, bm, nwords, 0, 0, zero_cols, lim, fsm, bms);
}
// int8_vectorwise_quant with a threshold for ONE row (a decoding step; the launcher: 8-element pieces)
// in one block and one launch: bnbq_k_int8_init's zeroes, bnbq_k_int8_vw_rows_thr's row pass, then
// bnbq_k_int8_vw_fix's compaction (one row: no columns to zero), the same functions in the same block, so the
// bytes are theirs. The three launches cost ~12.5 us (ncu: 2.5 + 5.8 + 4.2) at one token of a 4096-column layer
// on the H100, mostly their latency. blockDim.x: 256, or up to 1024 for long rows (the launcher: at most
// BNBQ_I8_NR pieces a thread, so that a row of 16384 to 65536 columns is read once, from registers; 256
// threads read its pieces past the 8th twice). The bitmask (nwords words, dynamic shared memory: the
// launcher takes this kernel only where they fit) lives in shared memory: the row pass's atomicOr on shared
// memory, the compaction straight from it (two round trips to the L2 fewer than in the global bitmask). (It also
// had the global-bitmask form for longer rows: half of its NVRTC time; such rows take the three launches.)
extern "C" __global__ void __launch_bounds__(1024)
bnbq_k_int8_vw_one(const u16* A, u64 cols, float thr, i8* CA, float* row_stats, i32* cols_out, i32* n_out,
                   u64 nwords) {
    extern __shared__ u32 bnbq_i8_fixsh[];
    bnbq_pdl_release();   // (one block: the kernel after it, bnbq_k_int8_gemv_dq, may start at once)
    for (u64 w = threadIdx.x; w < nwords; w += blockDim.x) bnbq_i8_fixsh[w] = 0u;
    __syncthreads();
    bnbq_i8_rows8<0, 1, 0>(A, 1, cols, thr, CA, row_stats, bnbq_i8_fixsh, 0, 0, 0, 0, 1);
    __syncthreads();
    bnbq_i8_compact(cols_out, n_out, bnbq_i8_fixsh, nwords);
}

extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_vw_fix_smp(i8* CA, u64 rows, u64 cols, i32* cols_out, i32* n_out, u32* bm, u64 nwords,
                       const u32* snap, const u32* rb, u64 lim, int fsm, u64 bms) {
    bnbq_i8_fix<1>(CA, rows, cols, cols_out, n_out, bm, nwords, snap, rb, 1, lim, fsm, bms);
}
#endif


// ---- int8_double_quant --------------------------------------------------------------------------

#if BNBQ_I8_PART == 2
// Pass 1 of 2: tiles of 32 rows x (256 * V) columns. Row and column maxima of the non-outliers
// (atomicMax on the float bits: the values are >= 0 and not NaN; the arrays start at 0), outlier
// bits. rs, cs: the float arrays as u32.
template <int V>
BNBQ_DEV void bnbq_i8_dq_stats(const u16* A, u64 rows, u64 cols, float thr, u32* rs, u32* cs,
                               u32* bm) {
    __shared__ float part[32][8];
    const int use_thr = thr > 0.0f;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const u64 np = cols / V, nct = (np + 255) / 256, nrt = (rows + 31) / 32;
    for (u64 t = blockIdx.x; t < nct * nrt; t += gridDim.x) {
        const u64 tc = t % nct, tr = t / nct;
        const u64 p = tc * 256 + threadIdx.x, c = p * V;
        const int act = p < np;
        float cm[V];
#pragma unroll
        for (int i = 0; i < V; i++) cm[i] = 0.0f;
        for (int r0 = 0; r0 < 32; r0 += 8) {
            bnbq_i8_vec<V> x[8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                u64 r = tr * 32 + r0 + j;
                if (act && r < rows) x[j].load(A + r * cols + c);
            }
#pragma unroll
            for (int j = 0; j < 8; j++) {
                u64 r = tr * 32 + r0 + j;
                float rm = 0.0f;
                if (act && r < rows) {
                    u32 om = 0u;
#pragma unroll
                    for (int i = 0; i < V; i++) {
                        float v = bnbq_i8_h2f(x[j].get(i) & 0x7fffu);
                        int o = use_thr && v >= thr;
                        om |= (u32)o << i;
                        cm[i] = o ? cm[i] : bnbq_i8_max(cm[i], v);
                        rm = o ? rm : bnbq_i8_max(rm, v);
                    }
                    if (om) atomicOr(&bm[c >> 5], om << (u32)(c & 31u));
                }
                rm = bnbq_i8_warp_max(rm);
                if (lane == 0) part[r0 + j][warp] = rm;
            }
        }
        __syncthreads();
        if (threadIdx.x < 32) {
            u64 r = tr * 32 + threadIdx.x;
            float m = 0.0f;
            for (int w = 0; w < 8; w++) m = bnbq_i8_max(m, part[threadIdx.x][w]);
            if (r < rows && m > 0.0f) atomicMax(&rs[r], __float_as_uint(m));
        }
        if (act) {
#pragma unroll
            for (int i = 0; i < V; i++)
                if (cm[i] > 0.0f) atomicMax(&cs[c + (u64)i], __float_as_uint(cm[i]));
        }
        __syncthreads();
    }
}

// blockDim.x == 256. The launcher picks: cols % 8 == 0 and A 16-byte aligned: 8 elements a
// piece; else _any.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_dq_stats(const u16* A, u64 rows, u64 cols, float thr, float* row_stats,
                     float* col_stats, u32* bm) {
    bnbq_i8_dq_stats<8>(A, rows, cols, thr, (u32*)row_stats, (u32*)col_stats, bm);
}
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_int8_dq_stats_any(const u16* A, u64 rows, u64 cols, float thr, float* row_stats,
                         float* col_stats, u32* bm) {
    bnbq_i8_dq_stats<1>(A, rows, cols, thr, (u32*)row_stats, (u32*)col_stats, bm);
}

// Pass 2 of 2: one block per row (grid-stride): CA (outlier elements 0, and whole outlier columns
// when zero_cols) and CAt, then (use_thr) the outlier compaction. THR as bnbq_i8_rows.
template <int V, int THR>
BNBQ_DEV void bnbq_i8_dq_quant(const u16* A, u64 rows, u64 cols, float thr, i8* CA, i8* CAt,
                               const float* row_stats, const float* col_stats, const u32* bm,
                               int zero_cols) {
    const int use_thr = THR < 0 ? thr > 0.0f : THR > 0;
    const u32 zmask = zero_cols ? 0xffffffffu : 0u;   // a mask, not a branch: one loop body
    const u64 np = cols / V;
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const u16* a = A + r * cols;
        const float s = 127.0f * (1.0f / row_stats[r]);
        for (u64 p = threadIdx.x; p < np; p += blockDim.x) {
            const u64 c = p * V;
            bnbq_i8_vec<V> x;
            int q[V], qt[V];
            u32 word = use_thr ? bm[c >> 5] & zmask : 0u;   // V == 8: c % 8 == 0, one word
            x.load(a + c);
#pragma unroll
            for (int i = 0; i < V; i++) {
                float v = bnbq_i8_h2f(x.get(i));
                int outl = use_thr && bnbq_absf(v) >= thr;
                float vm = outl ? 0.0f : v;
                float h = bnbq_round_to(BNBQ_F16, vm * 127.0f);
                float y = h / col_stats[c + (u64)i];
                if (y > 127.0f) y = 127.0f;
                if (y < -127.0f) y = -127.0f;
                qt[i] = bnbq_i8_rint(y);
                q[i] = outl ? 0 : bnbq_i8_rint(v * s);
                if ((word >> (u32)((c + (u64)i) & 31u)) & 1u) q[i] = 0;   // zero_cols
            }
            bnbq_i8_store<V>(CA + r * cols + c, q);
            bnbq_i8_store<V>(CAt + r * cols + c, qt);
        }
    }
}

// The launcher picks: cols % 8 == 0, A 16-byte and CA, CAt 8-byte aligned: 8 elements a piece
// (bnbq_k_int8_dq_quant for threshold 0, _thr for threshold > 0); else _any (either threshold).
extern "C" __global__ void bnbq_k_int8_dq_quant(const u16* A, u64 rows, u64 cols, float thr, i8* CA,
                                                i8* CAt, const float* row_stats,
                                                const float* col_stats, u32* bm, u64 nwords,
                                                i32* cols_out, i32* n_out) {
    bnbq_i8_dq_quant<8, 0>(A, rows, cols, thr, CA, CAt, row_stats, col_stats, bm, rows > 1);
}
extern "C" __global__ void bnbq_k_int8_dq_quant_thr(const u16* A, u64 rows, u64 cols, float thr,
                                                    i8* CA, i8* CAt, const float* row_stats,
                                                    const float* col_stats, u32* bm, u64 nwords,
                                                    i32* cols_out, i32* n_out) {
    bnbq_i8_dq_quant<8, 1>(A, rows, cols, thr, CA, CAt, row_stats, col_stats, bm, rows > 1);
    bnbq_i8_outlier_tail(cols_out, n_out, bm, nwords);
}
extern "C" __global__ void bnbq_k_int8_dq_quant_any(const u16* A, u64 rows, u64 cols, float thr,
                                                    i8* CA, i8* CAt, const float* row_stats,
                                                    const float* col_stats, u32* bm, u64 nwords,
                                                    i32* cols_out, i32* n_out) {
    bnbq_i8_dq_quant<1, -1>(A, rows, cols, thr, CA, CAt, row_stats, col_stats, bm, rows > 1);
    if (thr > 0.0f) bnbq_i8_outlier_tail(cols_out, n_out, bm, nwords);
}
#endif

#if BNBQ_I8_PART == 3
// ---- int8_vectorwise_dequant: out = f32(f32((float)CA * row_stats[r]) * f32(1/127)) -----------
// vec 16: cols % 16 == 0, CA and out 16-byte aligned; vec 4: cols % 4 == 0, CA 4-, out 16-byte
// aligned; vec 1: any.
template <int V>
BNBQ_DEV void bnbq_i8_vw_dequant(const i8* CA, const float* stats, u64 rows, u64 cols, float* out) {
    const u64 np = cols / V;
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const float s = stats[r];
        const i8* q = CA + r * cols;
        float* o = out + r * cols;
        for (u64 p = threadIdx.x; p < np; p += blockDim.x) {
            int b[V];
            float f[V];
            if (V == 16) {
                uint4 t = __ldg((const uint4*)(q + p * V));
                u32 w[4] = { t.x, t.y, t.z, t.w };
#pragma unroll
                for (int i = 0; i < V; i++) b[i] = (int)(i8)(w[i >> 2] >> ((i & 3) * 8));
            } else if (V == 4) {
                u32 w = __ldg((const u32*)(q + p * V));
#pragma unroll
                for (int i = 0; i < V; i++) b[i] = (int)(i8)(w >> ((i & 3) * 8));
            } else {
                b[0] = q[p];
            }
#pragma unroll
            for (int i = 0; i < V; i++) {
                float v = (float)b[i] * s;
                f[i] = v * 0.00787401572f;
            }
            if (V == 1) {
                o[p] = f[0];
            } else {
#pragma unroll
                for (int i = 0; i < V; i += 4)
                    *(float4*)(o + p * V + i) = make_float4(f[i], f[i + 1], f[i + 2], f[i + 3]);
            }
        }
    }
}

extern "C" __global__ void bnbq_k_int8_vw_dequant(const i8* CA, const float* stats, u64 rows,
                                                  u64 cols, float* out, int vec) {
    if (vec == 16) bnbq_i8_vw_dequant<16>(CA, stats, rows, cols, out);
    else if (vec == 4) bnbq_i8_vw_dequant<4>(CA, stats, rows, cols, out);
    else bnbq_i8_vw_dequant<1>(CA, stats, rows, cols, out);
}

// ---- int8_mm_dequant ------------------------------------------------------------------------------
// out = dt(f16(fmaf(f32(f32((float)A * rs[m]) * cs[n]), 6.200012e-05f, bias_f16_or_0))), a non-F16
// bias added to the f16 value afterwards (one more f16 rounding): prelude.cuh bnbq_i8_mmdq, here as the
// f16 bits (prelude.cuh bnbq_i8_mmdq_h / _out) and the output dtype a template constant (the run-time
// dtype switches, software widenings and repeated NaN checks of the per-element form made it ALU-bound:
// 53.6 us at 4096 x 4096 on the H100, 60 % of the bytes' copy time).
// vec 4: N % 4 == 0, A 16-byte aligned, out aligned to 4 elements. Rows over blockIdx.x, each
// row's pieces over the gridDim.y blocks of its column (the launcher gives few rows several blocks
// each: a decoding step's one row in one block took 9-23 us on the H100, its loads in series).
template <int V, int DT>
BNBQ_DEV void bnbq_i8_mm_dequant(const i32* A, const float* rs, const float* cs, u64 M, u64 N,
                                 void* out, int bias_dt, const void* bias) {
    const u64 np = N / V, step = (u64)gridDim.y * blockDim.x;
    for (u64 m = blockIdx.x; m < M; m += gridDim.x) {
        const float r = rs[m];
        for (u64 p = (u64)blockIdx.y * blockDim.x + threadIdx.x; p < np; p += step) {
            const u64 n = p * V, i = m * N + n;
            if (V == 4) {
                const int4 t = *(const int4*)(A + i);
                const u32 e0 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.x, r, cs[n], bias_dt, bias, n));
                const u32 e1 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.y, r, cs[n + 1], bias_dt, bias, n + 1));
                const u32 e2 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.z, r, cs[n + 2], bias_dt, bias, n + 2));
                const u32 e3 = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(t.w, r, cs[n + 3], bias_dt, bias, n + 3));
                if (DT == BNBQ_F32) *(uint4*)((float*)out + i) = make_uint4(e0, e1, e2, e3);
                else *(uint2*)((u16*)out + i) = make_uint2(e0 | (e1 << 16), e2 | (e3 << 16));
            } else {
                const u32 e = bnbq_i8_mmdq_out<DT>(bnbq_i8_mmdq_h(A[i], r, cs[n], bias_dt, bias, n));
                if (DT == BNBQ_F32) ((u32*)out)[i] = e;
                else ((u16*)out)[i] = (u16)e;
            }
        }
    }
}

// launched with bnbq__cu_launch_pdl (the int8 GEMM before it): waits for it first
extern "C" __global__ void bnbq_k_int8_mm_dequant(const i32* A, const float* rs, const float* cs,
                                                  u64 M, u64 N, void* out, int dt, int bias_dt,
                                                  const void* bias, int vec) {
    bnbq_pdl_wait();
    if (vec == 4) {
        if (dt == BNBQ_F16) bnbq_i8_mm_dequant<4, BNBQ_F16>(A, rs, cs, M, N, out, bias_dt, bias);
        else if (dt == BNBQ_BF16) bnbq_i8_mm_dequant<4, BNBQ_BF16>(A, rs, cs, M, N, out, bias_dt, bias);
        else bnbq_i8_mm_dequant<4, BNBQ_F32>(A, rs, cs, M, N, out, bias_dt, bias);
    } else {
        if (dt == BNBQ_F16) bnbq_i8_mm_dequant<1, BNBQ_F16>(A, rs, cs, M, N, out, bias_dt, bias);
        else if (dt == BNBQ_BF16) bnbq_i8_mm_dequant<1, BNBQ_BF16>(A, rs, cs, M, N, out, bias_dt, bias);
        else bnbq_i8_mm_dequant<1, BNBQ_F32>(A, rs, cs, M, N, out, bias_dt, bias);
    }
}
#endif
