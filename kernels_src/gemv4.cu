// bnbq_gemv_4bit: out (N,) = W (N, K) 4-bit @ A (K,), bitsandbytes' kgemm_4bit_inference_naive
// element for element, bit-exact with bnbq__cpu_gemv_range (algorithms.md 6.3):
//   lane L of the warp of row n takes the 32-element chunks k0 = 32 L + 1024 j in order; per chunk
//   s = dt(absmax[(n K + k0) / blocksize]); per element w = qmap[nibble] * s and
//     F32:       acc = fmaf(a, w, acc)
//     F16/BF16:  b = dt(w); p = dt(a * b); acc = acc + p
//   then v += shfl_down(v, 1, 2, 4, 8, 16) (lane 0 holds the CPU's tree), out = dt(v) (+ bias).
// qmap[i] = dt(code[i]). In F16/BF16 qmap and s are exact in dt and the products of two dt values
// are exact in float32, so dt(w) and dt(a * b) are single dt multiplies: the kernel uses packed
// f16x2 / bf16x2 multiplies (round to nearest even) on pairs of elements.
// Compile-time BNBQ_DT (0 F32, 1 F16, 2 BF16). Each warp takes BNBQ_G4_ROWS rows, so a lane loads
// its activation chunk once for all of them; the weights of the next DEPTH - 1 chunk steps are
// loaded ahead (the bytes in flight per SM, not the occupancy, bound a GEMV with few long rows).
// K % 32 == 0 (K % blocksize == 0, blocksize >= 32): every chunk is whole; with vec (packed and A
// 16-byte aligned) a chunk's 16 weight bytes are one 16-byte load.
#ifndef BNBQ_DT
#define BNBQ_DT 0
#endif
#define BNBQ_G4_WARPS 4          // warps per block
#define BNBQ_G4_ROWS 2           // rows per warp (they share the activation loads)
#define BNBQ_G4_DEPTH 4          // chunk steps of weights in flight per lane (3 ahead)
#define BNBQ_G4_FULL 0xffffffffu

struct bnbq_code16 { float v[16]; };

// The lookup table in shared memory: F32: qmap (16 floats: 16 banks, conflict-free); F16/BF16:
// per-lane copies of the byte table
// (qmap[b >> 4], qmap[b & 15]) as dt pairs, entry b of lane L at word 32 b + L (bank L).
#if BNBQ_DT == BNBQ_F32
__shared__ __align__(64) float bnbq_g4_tab[16];   // 64-byte aligned: base | offset == base + offset
#else
__shared__ u32 bnbq_g4_tab[256 * 32];
#endif

// The shared-window address of the table plus off, and the word there: the lookups form the address
// in one or two integer operations (F16/BF16: PRMT + LEA; F32: SHF + LOP3 with the 64-byte aligned
// base) instead of adding a base register.
BNBQ_DEV u32 bnbq_g4_tab_addr(u32 off) {
#if defined(__CUDA_ARCH__)
    return (u32)__cvta_generic_to_shared(bnbq_g4_tab) + off;
#else
    return off;
#endif
}
BNBQ_DEV u32 bnbq_g4_lds(u32 addr) {
#if defined(__CUDA_ARCH__)
    u32 v;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(addr));
    return v;
#else
    return *(const u32*)((const u8*)bnbq_g4_tab + addr);
#endif
}

// F32: the address of qmap[nibble] for the high (element 2i) or low nibble of byte i of w
BNBQ_DEV u32 bnbq_g4_addr_hi(u32 w, int i, u32 base) { return ((w >> (8 * i + 2)) & 0x3cu) | base; }
BNBQ_DEV u32 bnbq_g4_addr_lo(u32 w, int i, u32 base) {
    return ((i == 0 ? (w << 2) : (w >> (8 * i - 2))) & 0x3cu) | base;
}

// activation chunk: 32 elements of dt as 16 words (F16/BF16: pairs, element 2j in the low half)
// or 32 words (F32)
#define BNBQ_G4_AW (BNBQ_DT == BNBQ_F32 ? 32 : 16)

template <int VEC>
BNBQ_DEV void bnbq_g4_load_a(const void* A, u64 k0, u32* a) {
    if (VEC) {
        const uint4* p = (const uint4*)((const u8*)A + k0 * (BNBQ_DT == BNBQ_F32 ? 4 : 2));
#pragma unroll
        for (int i = 0; i < BNBQ_G4_AW / 4; i++) {
            uint4 t = __ldg(p + i);
            a[4 * i] = t.x; a[4 * i + 1] = t.y; a[4 * i + 2] = t.z; a[4 * i + 3] = t.w;
        }
    } else if (BNBQ_DT == BNBQ_F32) {
        const u32* p = (const u32*)A + k0;
#pragma unroll
        for (int i = 0; i < 32; i++) a[i] = __ldg(p + i);
    } else {
        const u16* p = (const u16*)A + k0;
#pragma unroll
        for (int i = 0; i < 16; i++) a[i] = (u32)__ldg(p + 2 * i) | ((u32)__ldg(p + 2 * i + 1) << 16);
    }
}

template <int VEC>
BNBQ_DEV uint4 bnbq_g4_load_w(const u8* p) {
    uint4 v;
    if (VEC) {
        v = __ldg((const uint4*)p);
    } else {
        u32 w[4];
#pragma unroll
        for (int i = 0; i < 4; i++)
            w[i] = (u32)__ldg(p + 4 * i) | ((u32)__ldg(p + 4 * i + 1) << 8) |
                   ((u32)__ldg(p + 4 * i + 2) << 16) | ((u32)__ldg(p + 4 * i + 3) << 24);
        v = make_uint4(w[0], w[1], w[2], w[3]);
    }
    return v;
}

// dt bits of a float (one rounding), dt bits to float (exact)
BNBQ_DEV u32 bnbq_g4_bits(float v) {
    return BNBQ_DT == BNBQ_F16 ? (u32)bnbq_f32_to_f16(v) : (u32)bnbq_f32_to_bf16(v);
}
BNBQ_DEV float bnbq_g4_lo(u32 p) {
#if BNBQ_DT == BNBQ_BF16
    return __uint_as_float(p << 16);
#elif defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((u16)(p & 0xffffu)));
    return f;
#else
    return bnbq_f16_to_f32((u16)(p & 0xffffu));
#endif
}
BNBQ_DEV float bnbq_g4_hi(u32 p) {
#if BNBQ_DT == BNBQ_BF16
    return __uint_as_float(p & 0xffff0000u);
#elif defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((u16)(p >> 16)));
    return f;
#else
    return bnbq_f16_to_f32((u16)(p >> 16));
#endif
}

#if BNBQ_DT != BNBQ_F32
// both halves: dt(x * y), round to nearest even (x, y pairs of dt values)
BNBQ_DEV u32 bnbq_g4_mul2(u32 x, u32 y) {
#if BNBQ_DT == BNBQ_F16 && defined(__CUDA_ARCH__)
    u32 d;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(x), "r"(y));
    return d;
#elif BNBQ_DT == BNBQ_BF16 && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u32 d;   // x * y + (-0) rounded once = dt(x * y), signed zeros included
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(x), "r"(y), "r"(0x80008000u));
    return d;
#else
    float lo = bnbq_g4_lo(x) * bnbq_g4_lo(y), hi = bnbq_g4_hi(x) * bnbq_g4_hi(y);
    return bnbq_g4_bits(lo) | (bnbq_g4_bits(hi) << 16);
#endif
}
#endif

// Weights and scales of chunk step j (k0 = 1024 j + 32 lane) of rows nb.. of the warp.
template <int VEC>
BNBQ_DEV void bnbq_g4_fetch(const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,
                            u64 nb, u64 j, u32 lane, uint4* w, float* s) {
    const u64 k0 = j * 1024 + (u64)lane * 32;
    if (k0 < K) {
#pragma unroll
        for (int r = 0; r < BNBQ_G4_ROWS; r++) {
            const u64 n = nb + (u64)r;
            if (n < N) {
                w[r] = bnbq_g4_load_w<VEC>(packed + ((n * K + k0) >> 1));
                s[r] = __ldg(absmax + ((n * K + k0) >> bs_shift));
            }
        }
    }
}

// Chunk step j of the warp's rows: 32 elements of each row into acc[r], in element order.
template <int VEC>
BNBQ_DEV void bnbq_g4_chunk(const void* A, u64 N, u64 K, u64 nb, u64 j, u32 lane, const uint4* w,
                            const float* s, float* acc) {
    const u64 k0 = j * 1024 + (u64)lane * 32;
    if (k0 >= K) return;
    u32 a[BNBQ_G4_AW];
    bnbq_g4_load_a<VEC>(A, k0, a);
#pragma unroll
    for (int r = 0; r < BNBQ_G4_ROWS; r++) {
        if (nb + (u64)r >= N) break;
        const u32 wv[4] = { w[r].x, w[r].y, w[r].z, w[r].w };
        float ac = acc[r];
#if BNBQ_DT == BNBQ_F32
        const float sc = s[r];
        const u32 base = bnbq_g4_tab_addr(0);
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const float qhi = __uint_as_float(bnbq_g4_lds(bnbq_g4_addr_hi(wv[i >> 2], i & 3, base)));
            const float whi = qhi * sc;
            ac = fmaf(__uint_as_float(a[2 * i]), whi, ac);
            const float qlo = __uint_as_float(bnbq_g4_lds(bnbq_g4_addr_lo(wv[i >> 2], i & 3, base)));
            const float wlo = qlo * sc;
            ac = fmaf(__uint_as_float(a[2 * i + 1]), wlo, ac);
        }
#else
        const u32 sbits = bnbq_g4_bits(s[r]), s2 = sbits | (sbits << 16);
        const u32 tl = bnbq_g4_tab_addr(lane * 4);   // this lane's copy: entry b at tl + 128 b
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const u32 q2 = bnbq_g4_lds(tl + (__byte_perm(wv[i >> 2], 0u, 0x4440u + (u32)(i & 3)) << 7));
            const u32 b2 = bnbq_g4_mul2(q2, s2);       // (dt(qmap[hi] * s), dt(qmap[lo] * s))
            const u32 p2 = bnbq_g4_mul2(a[i], b2);     // the two products, rounded to dt
            ac = ac + bnbq_g4_lo(p2);
            ac = ac + bnbq_g4_hi(p2);
        }
#endif
        acc[r] = ac;
    }
}

// The rows nb.. of one warp: chunk steps in order, weights fetched DEPTH - 1 steps ahead through
// a ring of registers (constant indices: the step loop is unrolled by DEPTH; the unaligned
// fallback uses DEPTH 1).
template <int VEC, int DEPTH>
BNBQ_DEV void bnbq_g4_rows(const void* A, const u8* packed, const float* absmax, u64 N, u64 K,
                           int bs_shift, void* out, const void* bias, u64 nb) {
    const u32 lane = threadIdx.x & 31;
    const u64 nsteps = (K + 1023) / 1024;
    float acc[BNBQ_G4_ROWS];
    uint4 wb[DEPTH][BNBQ_G4_ROWS];
    float sb[DEPTH][BNBQ_G4_ROWS];
#pragma unroll
    for (int r = 0; r < BNBQ_G4_ROWS; r++) acc[r] = 0.0f;
#pragma unroll
    for (int d = 0; d < DEPTH; d++)
#pragma unroll
        for (int r = 0; r < BNBQ_G4_ROWS; r++) {
            wb[d][r] = make_uint4(0u, 0u, 0u, 0u);
            sb[d][r] = 0.0f;
        }
#pragma unroll
    for (int d = 0; d + 1 < DEPTH; d++)
        bnbq_g4_fetch<VEC>(packed, absmax, N, K, bs_shift, nb, (u64)d, lane, wb[d], sb[d]);
    for (u64 j0 = 0; j0 < nsteps; j0 += DEPTH) {
#pragma unroll
        for (int d = 0; d < DEPTH; d++) {
            const int f = (d + DEPTH - 1) % DEPTH;
            bnbq_g4_fetch<VEC>(packed, absmax, N, K, bs_shift, nb, j0 + (u64)d + DEPTH - 1,
                               lane, wb[f], sb[f]);
            bnbq_g4_chunk<VEC>(A, N, K, nb, j0 + (u64)d, lane, wb[d], sb[d], acc);
        }
    }
#pragma unroll
    for (int r = 0; r < BNBQ_G4_ROWS; r++) {
        const u64 n = nb + (u64)r;
        if (n >= N) break;
        float v = acc[r];
        for (int off = 1; off < 32; off <<= 1) v = v + __shfl_down_sync(BNBQ_G4_FULL, v, off);
        if (lane == 0) {
            float o = bnbq_round_to(BNBQ_DT, v);
            if (bias) o = o + bnbq_load(BNBQ_DT, bias, n);
            bnbq_store(BNBQ_DT, out, n, o);
        }
    }
}

// Groups of WARPS * ROWS rows, grid-stride over the groups (the launcher caps the grid near the
// number of resident blocks, so the table below is built once per block). bs_shift =
// log2(blocksize). code: the 16-entry quant_map (resolved on the host).
extern "C" __global__ void __launch_bounds__(BNBQ_G4_WARPS * 32)
bnbq_k_gemv4(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,
             void* out, const void* bias, bnbq_code16 code, int vec) {
#if BNBQ_DT == BNBQ_F32
    if (threadIdx.x < 16) bnbq_g4_tab[threadIdx.x] = code.v[threadIdx.x];
#else
    __shared__ u32 q16[16];
    if (threadIdx.x < 16) q16[threadIdx.x] = bnbq_g4_bits(code.v[threadIdx.x]);
    __syncthreads();
    for (u32 i = threadIdx.x; i < 256 * 32; i += blockDim.x) {
        const u32 b = i >> 5;
        bnbq_g4_tab[i] = q16[b >> 4] | (q16[b & 15u] << 16);
    }
#endif
    __syncthreads();
    const u64 per = (u64)BNBQ_G4_WARPS * BNBQ_G4_ROWS, ngroups = (N + per - 1) / per;
    for (u64 g = blockIdx.x; g < ngroups; g += gridDim.x) {
        const u64 nb = g * per + (u64)(threadIdx.x >> 5) * BNBQ_G4_ROWS;
        if (nb >= N) continue;
        if (vec) bnbq_g4_rows<1, BNBQ_G4_DEPTH>(A, packed, absmax, N, K, bs_shift, out, bias, nb);
        else bnbq_g4_rows<0, 1>(A, packed, absmax, N, K, bs_shift, out, bias, nb);
    }
}
