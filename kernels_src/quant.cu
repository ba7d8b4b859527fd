// Quantization kernels (bnbq_quantize_blockwise and its family). One source, compiled as several
// units chosen with -D (each a variant listed in bnbq_cuda.h's BNBQ__CU_VARIANTS_QUANT):
//   BNBQ_OPS=1  8-bit blockwise quantize / dequantize (dequantize_global uses it too)
//   BNBQ_OPS=2  global 8-bit quantize: absmax reduction, then the codes
//   BNBQ_OPS=3  nested statistics: offset, quantize, dequantize (float32)
//   BNBQ_OPS=4  4-bit NF4 / FP4 quantize / dequantize (BNBQ_QT)
//   BNBQ_DT     the float tensor's dtype (BNBQ_F32 / F16 / BF16)
// Every kernel runs with 256 threads per block (nested_offset: 1024). Each reproduces bnbq.h's
// CPU reference bit for bit: the same float32 operations per element in the same order.
// Each kernel is its own compilation unit, so rare paths are kernels of their own that the
// launcher picks (and only they compile): *_search (8-bit codes whose table needs mode 1),
// quant4_exact (4-bit table mode 1), the dequantizers' *_any (pointers not aligned for vectors).
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
// They stay as loaded (f16 / bf16 pairs: 8 words), are widened once where they are coded, and the
// next tile of the block is loaded before this one is coded (BQ_PREFETCH), so that a few blocks
// per SM keep enough bytes in flight. The block's absmax (a max: order-free; f16 / bf16 pairs with
// the packed max, whose NaN rule is the scalar one: a NaN never wins) is reduced with shuffles
// (G <= 32) and shared memory, then every element is coded from the registers: the input is read
// once. The coder's tables are set up once per block, while its first tile is loading.
// NESTED: the values are f32(x - off) (quantize_nested). BITS 8: one code per byte; BITS 4: two
// codes per byte, high nibble first, a missing last element coded from 0.0f * inv.
#ifndef BQ_PREFETCH
#define BQ_PREFETCH 1
#endif
#define BQ_NEG_INF (-__uint_as_float(0x7f800000u))

// max.f32: a NaN operand loses (so fmax(m, NaN) = m)
BNBQ_DEV float bq_fmax(float a, float b) {
    float d;
    asm("max.f32 %0, %1, %2;" : "=f"(d) : "f"(a), "f"(b));
    return d;
}
// a << (n & 31), a >> (n & 31): one funnel shift each
BNBQ_DEV u32 bq_shl(u32 a, u32 n) {
    u32 d;
    asm("shf.l.wrap.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(0u), "r"(a), "r"(n));
    return d;
}
BNBQ_DEV u32 bq_shr(u32 a, u32 n) {
    u32 d;
    asm("shf.r.wrap.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(0u), "r"(n));
    return d;
}
// max(m, |w|) per half of two f16 / bf16 pairs (max.f16x2 / max.bf16x2, sm_80: a NaN half loses)
#if __CUDA_ARCH__ >= 800
#define BQ_HMAX 1
template <int DT> BNBQ_DEV u32 bq_hmax2(u32 m, u32 w) {
    u32 d;
    w &= 0x7fff7fffu;
    if (DT == BNBQ_F16) asm("max.f16x2 %0, %1, %2;" : "=r"(d) : "r"(m), "r"(w));
    else asm("max.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(m), "r"(w));
    return d;
}
#else
#define BQ_HMAX 0
template <int DT> BNBQ_DEV u32 bq_hmax2(u32 m, u32 w) { return m | w; }   // not used
#endif
// (a & m) | (b & ~m) in one lop3
BNBQ_DEV u32 bq_blend(u32 a, u32 m, u32 b) {
    u32 d;
    asm("lop3.b32 %0, %1, %2, %3, 0xe2;" : "=r"(d) : "r"(a), "r"(m), "r"(b));
    return d;
}
// a > b ? 0xffffffff : 0
BNBQ_DEV u32 bq_gtmask(float a, float b) {
    u32 d;
    asm("set.gt.u32.f32 %0, %1, %2;" : "=r"(d) : "f"(a), "f"(b));
    return d;
}
// shared memory by 32-bit address (no generic-address conversion per load)
BNBQ_DEV u32 bq_saddr(const void* p) { return (u32)__cvta_generic_to_shared(p); }
BNBQ_DEV u32 bq_lds(u32 a) {
    u32 d;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(d) : "r"(a));
    return d;
}
BNBQ_DEV bq_f2 bq_lds2(u32 a) {
    bq_f2 d;
    asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];" : "=f"(d.x), "=f"(d.y) : "r"(a));
    return d;
}
// The 16 values of a thread as loaded: f32 bits, or 8 words of f16 / bf16 pairs.
template <int DT> struct bq_raw { u32 w[DT == BNBQ_F32 ? 16 : 8]; };
template <int DT> BNBQ_DEV float bq_elem(const bq_raw<DT>& r, int k) {
    if (DT == BNBQ_F32) return __uint_as_float(r.w[k]);
    return bq_widen<DT>((k & 1) ? r.w[k >> 1] >> 16 : r.w[k >> 1]);
}

// lane l's 16 values of the tile at element `base`: 16-byte loads when `whole` (every element of
// the tile < n, x aligned) from xe = x's address of the lane's first element, else element loads
// with those past n read as 0.0f; NESTED (F32): f32(x - off) for those read. off0 = the lane's
// first element in the tile, (g << bs_log2) + l * VEC; vector j is j * jstep elements later.
template <int DT, bool NESTED> BNBQ_DEV void bq_load_tile16(const void* x, const char* xe, u64 n,
                                                            u64 base, bool whole, u32 off0,
                                                            u32 jstep, float off, bq_raw<DT>& r) {
    const int VEC = DT == BNBQ_F32 ? 4 : 8;
    const int NV = 16 / VEC;
    const int ES = DT == BNBQ_F32 ? 4 : 2;
    if (whole) {
#pragma unroll
        for (int j = 0; j < NV; j++) {
            const bq_v4 w = *(const bq_v4*)(xe + (u32)j * jstep * ES);
            r.w[4 * j] = w.a; r.w[4 * j + 1] = w.b; r.w[4 * j + 2] = w.c; r.w[4 * j + 3] = w.d;
        }
        if (NESTED) {
#pragma unroll
            for (int k = 0; k < 16; k++) r.w[k] = __float_as_uint(__uint_as_float(r.w[k]) - off);
        }
    } else {
#pragma unroll
        for (int j = 0; j < NV; j++) {
#pragma unroll
            for (int k = 0; k < VEC; k++) {
                const u64 e = base + off0 + (u32)j * jstep + (u32)k;
                u32 b = 0;
                if (e < n) {
                    b = DT == BNBQ_F32 ? ((const u32*)x)[e] : (u32)((const u16*)x)[e];
                    if (NESTED) b = __float_as_uint(__uint_as_float(b) - off);
                }
                if (DT == BNBQ_F32) r.w[j * VEC + k] = b;
                else if (k & 1) r.w[(j * VEC + k) >> 1] |= b << 16;
                else r.w[(j * VEC + k) >> 1] = b;
            }
        }
    }
}

// Coder: setup(tables) once per block (all threads; ends with a barrier), one(x) = the code of x,
// pack4(a, b, c, d) = four codes (BITS 8: one per byte; BITS 4: two bytes, high nibble first).
// x is always a product (or quotient): a NaN is a quiet one.
template <int DT, bool NESTED, int BITS, class Coder, class Tab>
BNBQ_DEV void bq_quant_blocks(const void* x, u64 n, int bs_log2, u8* q, float* absmax, float off,
                              Coder& cd, const Tab& tab) {
    const int VEC = DT == BNBQ_F32 ? 4 : 8;
    const int NV = 16 / VEC;
    const int OB = BITS == 8 ? VEC : VEC / 2;        // output bytes per vector
    const int ES = DT == BNBQ_F32 ? 4 : 2;           // input bytes per element
    const int t = threadIdx.x;
    const int lg = bs_log2 - 4;                      // log2(G): 1 .. 8
    const int G = 1 << lg;
    const int g = t >> lg, l = t & (G - 1);
    const u64 ntiles = (n >> 12) + ((n & 4095) != 0);   // tiles of 4096 = 4096 / bs blocks
    const bool al = ((u64)x & 15) == 0 && ((u64)q & (u64)(OB - 1)) == 0;
    const u32 off0 = ((u32)g << bs_log2) + (u32)(l * VEC), jstep = (u32)(G * VEC);
    const u64 step = (u64)gridDim.x << 12;           // elements from one tile of the block to the next
    // bs >= 1024: the maxima of the block's groups (<= 4), as float bits (non-negative, never NaN,
    // so their order is the integers'), reduced with a shared atomicMax by each warp's lane 0.
    // Tile i uses set i % 3 and then clears set (i + 2) % 3: it was last read in tile i - 1 (done
    // by everyone at tile i's barrier) and is next written in tile i + 2 (after tile i + 1's).
    __shared__ u32 red[3][4];
    int rs = 0;
    if (t < 12) red[t >> 2][t & 3] = 0u;             // cd.setup ends with a barrier
    u64 tile = blockIdx.x, base = tile << 12;
    // the lane's first input element, output byte and absmax of the current tile
    const char* xe = (const char*)x + (base + off0) * ES;
    u8* qe = q + (base + off0) * BITS / 8;
    float* ae = absmax + (base >> bs_log2) + (u64)g;
    bq_raw<DT> cur;
    bq_load_tile16<DT, NESTED>(x, xe, n, base, al && n - base >= 4096, off0, jstep, off, cur);
    cd.setup(tab);
    for (; tile < ntiles; tile += gridDim.x, base += step, xe += step * ES, qe += step * BITS / 8,
                          ae += step >> bs_log2) {
        const bool whole = al && n - base >= 4096;   // block-uniform
        bq_raw<DT> v = cur;
#if BQ_PREFETCH
        if (tile + gridDim.x < ntiles)
            bq_load_tile16<DT, NESTED>(x, xe + step * ES, n, base + step, al && n - base - step >= 4096,
                                       off0, jstep, off, cur);
#endif
        float m = 0.0f;
        if (DT == BNBQ_F32) {
#pragma unroll
            for (int k = 0; k < 16; k++) m = bq_fmax(m, bnbq_absf(__uint_as_float(v.w[k])));
        } else if (BQ_HMAX) {
            u32 m2 = 0;
#pragma unroll
            for (int k = 0; k < 8; k++) m2 = bq_hmax2<DT>(m2, v.w[k]);
            m = bq_fmax(bq_widen<DT>(m2), bq_widen<DT>(m2 >> 16));
        } else {
#pragma unroll
            for (int k = 0; k < 16; k++) m = bq_fmax(m, bnbq_absf(bq_elem<DT>(v, k)));
        }
#pragma unroll
        for (int o = 1; o < 32; o <<= 1)             // G is block-uniform
            if (o < G) m = bq_fmax(m, __shfl_xor_sync(BQ_FULL, m, o));
        if (G > 32) {                                // uniform: bs >= 1024
            if ((t & 31) == 0) atomicMax(&red[rs][g], __float_as_uint(m));
            __syncthreads();
            m = __uint_as_float(red[rs][g]);
            const int rc = rs == 0 ? 2 : rs - 1;     // (rs + 2) % 3
            if (t < 4) red[rc][t] = 0u;
            rs = rs == 2 ? 0 : rs + 1;
        }
        const float inv = 1.0f / m;                  // IEEE reciprocal; 0 -> inf -> NaN -> code 0
        if (l == 0 && (whole || base + ((u64)g << bs_log2) < n)) *ae = m;
#pragma unroll
        for (int j = 0; j < NV; j++) {
            float y[VEC];
#pragma unroll
            for (int k = 0; k < VEC; k++) y[k] = bq_elem<DT>(v, j * VEC + k) * inv;
            // the codes of the vector, whole tile or not (one coder body: a partial tile writes
            // the bytes whose first element is < n; those past n are coded from 0.0f * inv)
            const u32 p0 = cd.pack4(y[0], y[1], y[2], y[3]);
            const u32 p1 = VEC == 4 ? 0u : cd.pack4(y[4 % VEC], y[5 % VEC], y[6 % VEC], y[7 % VEC]);
            u8* qv = qe + (u32)j * jstep * BITS / 8;
            if (whole) {
                if (VEC == 4) {
                    if (BITS == 8) *(u32*)qv = p0;
                    else *(u16*)qv = (u16)p0;
                } else {
                    if (BITS == 8) {
                        bq_v2 w;
                        w.a = p0;
                        w.b = p1;
                        *(bq_v2*)qv = w;
                    } else {
                        *(u32*)qv = p0 | (p1 << 16);
                    }
                }
            } else {
                const u64 e0 = base + off0 + (u32)j * jstep;
                const u64 pk = BITS == 8 ? ((u64)p0 | ((u64)p1 << 32)) : (u64)(p0 | (p1 << 16));
#pragma unroll
                for (int b = 0; b < OB; b++)
                    if (e0 + (u64)(b * (8 / BITS)) < n) qv[b] = (u8)(pk >> (8 * b));
            }
        }
#if !BQ_PREFETCH
        if (tile + gridDim.x < ntiles)
            bq_load_tile16<DT, NESTED>(x, xe + step * ES, n, base + step, al && n - base - step >= 4096,
                                       off0, jstep, off, cur);
#endif
    }
}

// ---- the 8-bit code search (bnbq.h bnbq__code_index) ------------------------------------------
#if BNBQ_OPS == 1 || BNBQ_OPS == 2 || BNBQ_OPS == 3
// For a sorted code (the API validates it) bnbq__code_index is a monotone step function of x over
// the non-NaN floats, NaN -> 0: f(x) = #{k : kt[k] <= key(x)}, 255 threshold keys computed on the
// host (bnbq_cuda.h, bnbq__cuq_q8build, which derives them). f(NaN) = f(-inf) = 0, so x is first
// mapped with max(x, -inf). Mode 0: a two-level table: l1[top 9 bits of x (sign, exponent)] =
// byte offset of its sub-buckets in l2 << 8 | 21 - m; sub-bucket = the next m mantissa bits; an
// l2 entry = count at the sub-bucket's start << 24 | the low 23 - m bits of T, the float below the
// one step in the sub-bucket (no step: x <= T for every x of it), whose upper bits are x's:
// code = count + (x > T). Mode 1 (codes with runs of equal entries and the like): the sorted keys
// in l2[0..255] (l2[0] = 0), binary-searched.
#define BQ8_L2CAP 736
struct bnbq_q8tab { u32 mode; u32 n2; u32 l1[256]; u32 l2[BQ8_L2CAP]; };   // l1: 512 u16
__shared__ u32 bq8_l1[512];
__shared__ u32 bq8_l2[BQ8_L2CAP];

BNBQ_DEV void bq8_load(const bnbq_q8tab& tab) {
    const int t = threadIdx.x;
    const u32 w = tab.l1[t];                         // entries 2t, 2t + 1: index << 5 | 21 - m
    const u32 b = bq_saddr(bq8_l2) << 8;             // l1: shared address of the first entry << 8
    bq8_l1[2 * t] = b + ((((w & 0xffffu) >> 5) << 10) | (w & 31u));
    bq8_l1[2 * t + 1] = b + (((w >> 21) << 10) | ((w >> 16) & 31u));
    const u32 n2 = tab.n2;
    for (u32 i = (u32)t; i < n2; i += BQ_THREADS) bq8_l2[i] = tab.l2[i];
    __syncthreads();
}

// the l2 entry of x, plus 1 << 24 where x > T
BNBQ_DEV u32 bq8_entry(float x, u32 l1) {
    const float xn = x;
    const u32 u = __float_as_uint(xn);
    const u32 w = bq_lds(l1 + ((u >> 21) & 0x7fcu));
    const u32 nm = bq_shl(0xfffffffcu, w);           // ~0 << (23 - m)
    const u32 s4 = bq_shr(u & nm & 0x7fffffu, w);    // sub-bucket * 4
    const u32 e = bq_lds((w >> 8) + s4);
    const float T = __uint_as_float(bq_blend(u, nm, e));
    return xn > T ? e + 0x1000000u : e;
}
struct bq8_table {
    u32 l1;                                          // shared address of bq8_l1
    BQ_MEMBER void setup(const bnbq_q8tab& tab) {
        bq8_load(tab);
        l1 = bq_saddr(bq8_l1);
    }
    BQ_MEMBER int one(float x) const { return (int)(bq8_entry(x, l1) >> 24); }
    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {
        const u32 lo = __byte_perm(bq8_entry(a, l1), bq8_entry(b, l1), 0x0073u);
        const u32 hi = __byte_perm(bq8_entry(c, l1), bq8_entry(d, l1), 0x0073u);
        return __byte_perm(lo, hi, 0x5410u);
    }
};
// mode 1 (a rare path: compact, one called body)
static __device__ __noinline__ u32 bq8_search_one(float x) {
    const u32 u = __float_as_uint(bq_fmax(x, BQ_NEG_INF));
    const u32 k = (u >> 31) ? ~u : (u | 0x80000000u);
    u32 i = 0;
#pragma unroll 1
    for (u32 s = 128; s > 0; s >>= 1) i += bq8_l2[i + s] <= k ? s : 0u;
    return i;
}
struct bq8_search {
    BQ_MEMBER void setup(const bnbq_q8tab& tab) { bq8_load(tab); }
    BQ_MEMBER int one(float x) const { return (int)bq8_search_one(x); }
    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {
        return (u32)one(a) | ((u32)one(b) << 8) | ((u32)one(c) << 16) | ((u32)one(d) << 24);
    }
};
#endif

#if BNBQ_OPS == 1
// out_q, out_absmax = bnbq_quantize_blockwise(code, x, n, 2^bs_log2); bs 64..4096
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant8(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_q8tab tab) {
    bq8_table cd;
    bq_quant_blocks<BNBQ_DT, false, 8>(x, n, bs_log2, q, absmax, 0.0f, cd, tab);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant8_search(const void* x, u64 n, int bs_log2, u8* q, float* absmax, bnbq_q8tab tab) {
    bq8_search cd;
    bq_quant_blocks<BNBQ_DT, false, 8>(x, n, bs_log2, q, absmax, 0.0f, cd, tab);
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
// 16 aligned bytes of output at element e: 4 (F32) or 8 (F16/BF16) values
template <int DT> BNBQ_DEV void bq_dq_store(void* out, u64 e, const float* v) {
    bq_v4 w;
    if (DT == BNBQ_F32) {
        w.a = __float_as_uint(v[0]); w.b = __float_as_uint(v[1]);
        w.c = __float_as_uint(v[2]); w.d = __float_as_uint(v[3]);
        *(bq_v4*)((float*)out + e) = w;
    } else {
        w.a = bnbq_pack2<DT>(v[0], v[1]);
        w.b = bnbq_pack2<DT>(v[2], v[3 % 4]);
        w.c = bnbq_pack2<DT>(v[4 % 8], v[5 % 8]);
        w.d = bnbq_pack2<DT>(v[6 % 8], v[7 % 8]);
        *(bq_v4*)((u16*)out + e) = w;
    }
}
// one value at element e (the partial tiles), rounded as bq_dq_store rounds
template <int DT> BNBQ_DEV void bq_dq_store1(void* out, u64 e, float v) {
    v = bnbq_canon(v);
    if (DT == BNBQ_F32) ((float*)out)[e] = v;
    else ((u16*)out)[e] = (u16)bnbq_pack2<DT>(v, 0.0f);
}
#endif

// ---- the dequantizers: out[e] = dt(tab[index e] * absmax[e >> bs_log2]) (NESTED: f32(... + off))
// BITS 8: index e = q[e] (bnbq_code256); BITS 4: nibble e of q, the high one of byte e / 2 for even
// e (bnbq_code16). bs_log2 = 63 gives one absmax for all (dequantize_global); else bs >= 32, so the
// VO values of a vector share one absmax.
// ALIGNED (q aligned to its vector's bytes, out 16-byte aligned; the launcher checks): whole tiles
// as vectors; the tensor's last, partial tile as vectors too, except the one vector that straddles
// n (by elements). Else (the _any kernels) every tile by elements.
#if BNBQ_OPS == 1 || BNBQ_OPS == 3 || BNBQ_OPS == 4
// the aligned source bytes of a vector at element e0: 8-bit VO bytes, 4-bit VO / 2
template <int BITS, int VO> struct bq_dqw { u32 w[BITS == 8 ? VO / 4 : 1]; };
template <int BITS, int VO> BNBQ_DEV void bq_dq_loadw(const u8* q, u64 e0, bq_dqw<BITS, VO>& r) {
    if (BITS == 8) {
        if (VO == 4) {
            r.w[0] = *(const u32*)(q + e0);
        } else {
            const bq_v2 p = *(const bq_v2*)(q + e0);
            r.w[0] = p.a;
            r.w[(VO / 4) - 1] = p.b;
        }
    } else {
        r.w[0] = VO == 4 ? (u32)(*(const u16*)(q + (e0 >> 1))) : *(const u32*)(q + (e0 >> 1));
    }
}
// the table index of value k of a vector
template <int BITS, int VO> BNBQ_DEV u32 bq_dq_idx(const bq_dqw<BITS, VO>& r, int k) {
    if (BITS == 8) return (r.w[k >> 2] >> (8 * (k & 3))) & 255u;
    const u32 byte = (r.w[0] >> (8 * (k >> 1))) & 255u;
    return (k & 1) ? (byte & 15u) : (byte >> 4);
}
// the table index of element e (any alignment)
template <int BITS> BNBQ_DEV u32 bq_dq_idx1(const u8* q, u64 e) {
    if (BITS == 8) return q[e];
    const u32 byte = q[e >> 1];
    return (e & 1) ? (byte & 15u) : (byte >> 4);
}

template <int DT, bool NESTED, int BITS, bool ALIGNED, class Tab>
BNBQ_DEV void bq_dequant(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, float off,
                         const Tab& tab, u32 tpb) {
    typedef bq_dq<DT> L;
    const int VO = L::VO, U = L::U;
    const u64 TE = (u64)L::TE;
    const int t = threadIdx.x;
    __shared__ float s_tab[BITS == 8 ? 256 : 16];
    if (BITS == 8 || t < 16) s_tab[t] = tab.v[t];
    __syncthreads();
    const u64 ntiles = n / TE + (n % TE != 0);
    const u64 t0 = (u64)blockIdx.x * tpb, t1 = t0 + tpb < ntiles ? t0 + tpb : ntiles;
    for (u64 tile = t0; tile < t1; tile++) {
        const u64 base = tile * TE;
        if (ALIGNED && n - base >= TE) {
            bq_dqw<BITS, VO> w[U];
            float a[U];
#pragma unroll
            for (int j = 0; j < U; j++) {
                const u64 e0 = base + (u64)(L::vec(j, t) * VO);
                bq_dq_loadw<BITS, VO>(q, e0, w[j]);
                a[j] = absmax[e0 >> bs_log2];
            }
#pragma unroll
            for (int j = 0; j < U; j++) {
                float y[VO];
#pragma unroll
                for (int k = 0; k < VO; k++) {
                    y[k] = s_tab[bq_dq_idx<BITS, VO>(w[j], k)] * a[j];
                    if (NESTED) y[k] = y[k] + off;
                }
                bq_dq_store<DT>(out, base + (u64)(L::vec(j, t) * VO), y);
            }
        } else if (ALIGNED) {
            int js = -1;                             // this thread's vector that straddles n
#pragma unroll
            for (int j = 0; j < U; j++) {
                const u64 e0 = base + (u64)(L::vec(j, t) * VO);
                if (e0 + VO <= n) {
                    bq_dqw<BITS, VO> w;
                    bq_dq_loadw<BITS, VO>(q, e0, w);
                    const float a = absmax[e0 >> bs_log2];
                    float y[VO];
#pragma unroll
                    for (int k = 0; k < VO; k++) {
                        y[k] = s_tab[bq_dq_idx<BITS, VO>(w, k)] * a;
                        if (NESTED) y[k] = y[k] + off;
                    }
                    bq_dq_store<DT>(out, e0, y);
                } else if (e0 < n) {
                    js = j;
                }
            }
            if (js >= 0) {
                const u64 e0 = base + (u64)(L::vec(js, t) * VO);
                const float a = absmax[e0 >> bs_log2];
#pragma unroll
                for (int k = 0; k < VO - 1; k++) {
                    if (e0 + k < n) {
                        float y = s_tab[bq_dq_idx1<BITS>(q, e0 + k)] * a;
                        if (NESTED) y = y + off;
                        bq_dq_store1<DT>(out, e0 + k, y);
                    }
                }
            }
        } else {
#pragma unroll
            for (int j = 0; j < U; j++) {
#pragma unroll
                for (int k = 0; k < VO; k++) {
                    const u64 e = base + (u64)(L::vec(j, t) * VO + k);
                    if (e < n) {
                        float y = s_tab[bq_dq_idx1<BITS>(q, e)] * absmax[e >> bs_log2];
                        if (NESTED) y = y + off;
                        bq_dq_store1<DT>(out, e, y);
                    }
                }
            }
        }
    }
}
#endif

#if BNBQ_OPS == 1
// 8-bit; the launcher picks _any when q is not VO-byte or out not 16-byte aligned
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 8)
bnbq_k_dequant8(const u8* q, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code256 code,
                u32 tpb) {
    bq_dequant<BNBQ_DT, false, 8, true>(q, absmax, n, bs_log2, out, 0.0f, code, tpb);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 8)
bnbq_k_dequant8_any(const u8* q, const float* absmax, u64 n, int bs_log2, void* out,
                    bnbq_code256 code, u32 tpb) {
    bq_dequant<BNBQ_DT, false, 8, false>(q, absmax, n, bs_log2, out, 0.0f, code, tpb);
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
BNBQ_DEV void bq_quant_global(const void* x, u64 n, const float* absmax, u8* q, Coder& cd,
                              const bnbq_q8tab& tab) {
    const int VEC = BNBQ_DT == BNBQ_F32 ? 4 : 8;
    const int NV = 16 / VEC;
    const u64 TE = (u64)(BQ_THREADS * 16);
    const int t = threadIdx.x;
    const bool xal = ((u64)x & 15) == 0;
    const bool qal = ((u64)q & (u64)(VEC - 1)) == 0;
    const u64 ntiles = n / TE + (n % TE != 0);
    cd.setup(tab);
    const float s = absmax[0];
    for (u64 tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
        const u64 base = tile * TE;
        const bool full = n - base >= TE;
        float v[16];
        bq_load_tile<BNBQ_DT>(x, n, base, t, full && xal, v);
#pragma unroll
        for (int j = 0; j < NV; j++) {
            const u64 e0 = base + (u64)((j * BQ_THREADS + t) * VEC);
            float y[VEC];
#pragma unroll
            for (int k = 0; k < VEC; k++) y[k] = v[j * VEC + k] / s;
            // one coder body for both paths (elements past n are coded from 0.0f / s, not stored)
            const u32 lo = cd.pack4(y[0], y[1], y[2], y[3]);
            const u32 hi = VEC == 4 ? 0u : cd.pack4(y[4 % VEC], y[5 % VEC], y[6 % VEC], y[7 % VEC]);
            if (full && qal) {
                if (VEC == 4) {
                    *(u32*)(q + e0) = lo;
                } else {
                    bq_v2 w;
                    w.a = lo;
                    w.b = hi;
                    *(bq_v2*)(q + e0) = w;
                }
            } else {
                const u64 pk = (u64)lo | ((u64)hi << 32);
#pragma unroll
                for (int k = 0; k < VEC; k++)
                    if (e0 + k < n) q[e0 + k] = (u8)(pk >> (8 * k));
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant_global(const void* x, u64 n, const float* absmax, u8* q, bnbq_q8tab tab) {
    bq8_table cd;
    bq_quant_global(x, n, absmax, q, cd, tab);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant_global_search(const void* x, u64 n, const float* absmax, u8* q, bnbq_q8tab tab) {
    bq8_search cd;
    bq_quant_global(x, n, absmax, q, cd, tab);
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
                    float* nested_absmax, bnbq_q8tab tab) {
    const float off = offset[0];
    bq8_table cd;
    bq_quant_blocks<BNBQ_F32, true, 8>(absmax, nblocks, bs_log2, q, nested_absmax, off, cd, tab);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant_nested_search(const float* absmax, u64 nblocks, int bs_log2, const float* offset,
                           u8* q, float* nested_absmax, bnbq_q8tab tab) {
    const float off = offset[0];
    bq8_search cd;
    bq_quant_blocks<BNBQ_F32, true, 8>(absmax, nblocks, bs_log2, q, nested_absmax, off, cd, tab);
}

// out[b] = f32(f32(code[q[b]] * nested_absmax[b >> bs_log2]) + offset[0])
extern "C" __global__ void __launch_bounds__(BQ_THREADS)
bnbq_k_dequant_nested(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,
                      const float* offset, float* out, bnbq_code256 code, u32 tpb) {
    const float off = offset[0];
    bq_dequant<BNBQ_F32, true, 8, true>(q, nested_absmax, nblocks, bs_log2, out, off, code, tpb);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS)
bnbq_k_dequant_nested_any(const u8* q, const float* nested_absmax, u64 nblocks, int bs_log2,
                          const float* offset, float* out, bnbq_code256 code, u32 tpb) {
    const float off = offset[0];
    bq_dequant<BNBQ_F32, true, 8, false>(q, nested_absmax, nblocks, bs_log2, out, off, code, tpb);
}
#endif

// ---- 4-bit NF4 / FP4 --------------------------------------------------------------------------
#if BNBQ_OPS == 4
// bnbq.h's decisions are threshold counts: NF4 c = #{j < 15 : x > thr[j]}; FP4 on a = |x|,
// c = #{j < 7 : a > thr[j]}, code = c2c[c] + (x < 0 ? 8 : 0). With a monotone bucket function
// k(x) in 0..32 (NF4 over x in [-1, 1], FP4 over |x| in [0, 1]; NaN -> 0; the host computes it
// for the thresholds with the same float operations), every threshold in a lower bucket is below
// x and every one in a higher bucket is not; so when no bucket holds two thresholds,
// c = lo[k] + (x > thr_k), lo[k] = #{j : k(thr[j]) < k}, thr_k = the threshold in bucket k or
// +inf. The host builds the 33 entries {thr_k, codes} (NF4: lo[k]; FP4: bytes c2c[lo[k]],
// c2c[lo[k] + 1], and both + 8) and checks the one-per-bucket property (else mode 1: the literal
// counts over xthr / c2c).
struct bnbq_q4tab { u32 mode; float thr[33]; u32 codes[33]; float xthr[16]; u32 c2c[8]; };
__shared__ bq_f2 bq4_tab[33];      // {thr_k, codes}
__shared__ float bq4_xthr[16];
__shared__ u32 bq4_c2c[8];

BNBQ_DEV void bq4_load(const bnbq_q4tab& tab) {
    const int t = threadIdx.x;
    if (t < 33) {
        bq_f2 e;
        e.x = tab.thr[t];
        e.y = __uint_as_float(tab.codes[t]);
        bq4_tab[t] = e;
    }
    if (t < 16) bq4_xthr[t] = tab.xthr[t];
    if (t < 8) bq4_c2c[t] = tab.c2c[t];
    __syncthreads();
}

// x's entry: s = sat(x * 0.5 + 0.5) (NF4) or sat(|x|) (FP4), in [0, 1] with NaN -> 0; then
// t = f32(2 + s * 2^-17) = 2 + round(32 s) * 2^-22 (ties to even), so 8 * bits(t) is the byte
// offset of bucket round(32 s) (0..32) modulo 2^32
BNBQ_DEV bq_f2 bq4_entry(float x, u32 tab) {
    float s, t;
#if BNBQ_QT == BNBQ_NF4
    asm("fma.rn.sat.f32 %0, %1, 0f3F000000, 0f3F000000;" : "=f"(s) : "f"(x));
#else
    asm("{ .reg .f32 a; abs.f32 a, %1; add.rn.sat.f32 %0, a, 0f00000000; }" : "=f"(s) : "f"(x));
#endif
    asm("fma.rn.f32 %0, %1, 0f37000000, 0f40000000;" : "=f"(t) : "f"(s));
    return bq_lds2(tab + (__float_as_uint(t) << 3));
}

struct bq4_table {
    u32 tab;                                         // the table's shared address
    BQ_MEMBER void setup(const bnbq_q4tab& tb) {
        bq4_load(tb);
        tab = bq_saddr(bq4_tab);
    }
    BQ_MEMBER u32 one(float x) const {
        const bq_f2 e = bq4_entry(x, tab);
        u32 c = __float_as_uint(e.y);
#if BNBQ_QT == BNBQ_NF4
        asm("{ .reg .pred p; setp.gt.f32 p, %1, %2; @p add.u32 %0, %0, 1; }"
            : "+r"(c) : "f"(x), "f"(e.x));
        return c;
#else
        u32 r;
        asm("{ .reg .pred p, q; .reg .b32 s; .reg .f32 a; abs.f32 a, %3; setp.gt.f32 p, a, %2;"
            " setp.lt.f32 q, %3, 0f00000000; selp.b32 s, 0x4441, 0x4440, p; prmt.b32 %0, %1, 0, s;"
            " @q or.b32 %0, %0, 8; }"
            : "=r"(r) : "r"(c), "f"(e.x), "f"(x));
        return r;
#endif
    }
    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {
        return (one(a) << 4) + one(b) + (((one(c) << 4) + one(d)) << 8);
    }
};

// bnbq__nf4_index / bnbq__fp4_index (mode 1, a rare path: compact, one called body)
static __device__ __noinline__ u32 bq4_exact_one(float x) {
    u32 c = 0;
#if BNBQ_QT == BNBQ_NF4
#pragma unroll 1
    for (int j = 0; j < 15; j++) c += x > bq4_xthr[j];
    return c;
#else
    const float a = bnbq_absf(x);
#pragma unroll 1
    for (int j = 0; j < 7; j++) c += a > bq4_xthr[j];
    return bq4_c2c[c] + (x < 0.0f ? 8u : 0u);
#endif
}
struct bq4_exact {
    BQ_MEMBER void setup(const bnbq_q4tab& tb) { bq4_load(tb); }
    BQ_MEMBER u32 one(float x) const { return bq4_exact_one(x); }
    BQ_MEMBER u32 pack4(float a, float b, float c, float d) const {
        return (one(a) << 4) + one(b) + (((one(c) << 4) + one(d)) << 8);
    }
};

// out_packed, out_absmax = bnbq_quantize_4bit(qt, x, n, 2^bs_log2); bs 32..4096
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant4(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {
    bq4_table cd;
    bq_quant_blocks<BNBQ_DT, false, 4>(x, n, bs_log2, packed, absmax, 0.0f, cd, tab);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 4)
bnbq_k_quant4_exact(const void* x, u64 n, int bs_log2, u8* packed, float* absmax, bnbq_q4tab tab) {
    bq4_exact cd;
    bq_quant_blocks<BNBQ_DT, false, 4>(x, n, bs_log2, packed, absmax, 0.0f, cd, tab);
}

// out[e] = dt(tab[nibble e] * absmax[e >> bs_log2]) (bq_dequant); _any: any alignment
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 8)
bnbq_k_dequant4(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out, bnbq_code16 tab,
                u32 tpb) {
    bq_dequant<BNBQ_DT, false, 4, true>(packed, absmax, n, bs_log2, out, 0.0f, tab, tpb);
}
extern "C" __global__ void __launch_bounds__(BQ_THREADS, 8)
bnbq_k_dequant4_any(const u8* packed, const float* absmax, u64 n, int bs_log2, void* out,
                    bnbq_code16 tab, u32 tpb) {
    bq_dequant<BNBQ_DT, false, 4, false>(packed, absmax, n, bs_log2, out, 0.0f, tab, tpb);
}
#endif
