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
// Compile-time BNBQ_DT (0 F32, 1 F16, 2 BF16). Each warp takes BNBQ_G4_ROWS rows, so a lane reads
// its activation chunk once for all of them; the weights of the next DEPTH - 1 chunk steps are
// loaded ahead (the bytes in flight per SM, not the occupancy, bound a GEMV with few long rows).
// K % 32 == 0 (K % blocksize == 0, blocksize >= 32): every chunk is whole. With vec (packed and A
// 16-byte aligned) a chunk's 16 weight bytes are one 16-byte load, and the warps of a block go
// through the steps together: each step's 1024 activation elements are loaded once, coalesced,
// into shared memory (double-buffered, swizzled so that the lanes' 16-byte reads of their own
// 64- or 128-byte chunks never share a bank); reading the chunks straight from global memory
// would cost the L1 four times the wavefronts. Without vec, lanes load their own bytes.
#ifndef BNBQ_DT
#define BNBQ_DT 0
#endif
#define BNBQ_G4_WARPS 4          // warps per block
#define BNBQ_G4_ROWS 4           // rows per warp (they share the activation chunk)
#define BNBQ_G4_DEPTH 3          // chunk steps of weights in flight per lane (2 ahead)
#define BNBQ_G4_FULL 0xffffffffu
// a step (1024 elements) of the activation in 16-byte units: a lane's chunk is U units
#define BNBQ_G4_U (BNBQ_DT == BNBQ_F32 ? 8 : 4)
#define BNBQ_G4_SEG (32 * BNBQ_G4_U)

struct bnbq_code16 { float v[16]; };

// The lookup table in shared memory: F32: qmap (16 floats: 16 banks, conflict-free); F16/BF16:
// per-lane copies of the byte table
// (qmap[b >> 4], qmap[b & 15]) as dt pairs, entry b of lane L at word 32 b + L (bank L).
#if BNBQ_DT == BNBQ_F32
__shared__ __align__(64) float bnbq_g4_tab[16];   // 64-byte aligned: base | offset == base + offset
#else
__shared__ u32 bnbq_g4_tab[256 * 32];
#endif
__shared__ uint4 bnbq_g4_act[2][BNBQ_G4_SEG];   // activation steps (vec path)

// the position of unit t of lane L's chunk in a staged step: U L + (t ^ h(L)); the 8 lanes of a
// quarter-warp then read 8 different 16-byte bank groups, and 8 consecutive units (one store
// phase) stay within 128 bytes
BNBQ_DEV u32 bnbq_g4_pos(u32 L, u32 t) {
    const u32 h = BNBQ_G4_U == 4 ? (L >> 1) & 3u : L & 7u;
    return L * BNBQ_G4_U + (t ^ h);
}

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

// The 32 elements of one row's chunk (weights w, block scale s) into ac, in element order.
// a: the activation chunk (F32: 32 words; F16/BF16: 16 pairs, element 2i in the low half).
BNBQ_DEV float bnbq_g4_dot(const u32* a, uint4 w, float s, u32 lane, float ac) {
    const u32 wv[4] = { w.x, w.y, w.z, w.w };
#if BNBQ_DT == BNBQ_F32
    const u32 base = bnbq_g4_tab_addr(0);
    (void)lane;
#pragma unroll
    for (int i = 0; i < 16; i++) {
        const float qhi = __uint_as_float(bnbq_g4_lds(bnbq_g4_addr_hi(wv[i >> 2], i & 3, base)));
        const float whi = qhi * s;
        ac = fmaf(__uint_as_float(a[2 * i]), whi, ac);
        const float qlo = __uint_as_float(bnbq_g4_lds(bnbq_g4_addr_lo(wv[i >> 2], i & 3, base)));
        const float wlo = qlo * s;
        ac = fmaf(__uint_as_float(a[2 * i + 1]), wlo, ac);
    }
#else
    const u32 sbits = bnbq_g4_bits(s), s2 = sbits | (sbits << 16);
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
    return ac;
}

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

// out[n] = dt(lane 0's shuffle-down tree of acc) (+ bias), for the warp's rows
BNBQ_DEV void bnbq_g4_finish(const float* acc, u64 N, u64 nb, u32 lane, void* out, const void* bias) {
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

// Unaligned inputs: every lane loads its own bytes, one step at a time (no barriers).
BNBQ_DEV void bnbq_g4_rows_unaligned(const void* A, const u8* packed, const float* absmax, u64 N,
                                     u64 K, int bs_shift, void* out, const void* bias, u64 nb) {
    const u32 lane = threadIdx.x & 31;
    float acc[BNBQ_G4_ROWS];
#pragma unroll
    for (int r = 0; r < BNBQ_G4_ROWS; r++) acc[r] = 0.0f;
    for (u64 j = 0; j * 1024 < K; j++) {
        const u64 k0 = j * 1024 + (u64)lane * 32;
        uint4 w[BNBQ_G4_ROWS];
        float s[BNBQ_G4_ROWS];
        u32 a[BNBQ_G4_AW];
        if (k0 >= K) continue;
        bnbq_g4_fetch<0>(packed, absmax, N, K, bs_shift, nb, j, lane, w, s);
        bnbq_g4_load_a<0>(A, k0, a);
#pragma unroll
        for (int r = 0; r < BNBQ_G4_ROWS; r++)
            if (nb + (u64)r < N) acc[r] = bnbq_g4_dot(a, w[r], s[r], lane, acc[r]);
    }
    bnbq_g4_finish(acc, N, nb, lane, out, bias);
}

// The vec path for one group of rows: all warps of the block step through K together (the
// staged activation), warps without rows (nb >= N) only help staging. Weights of step j are
// fetched at step j - DEPTH + 1 into ring slot j % DEPTH (constant indices: the loop is
// unrolled by DEPTH). The stage of step j + 1 is loaded into registers during step j and stored
// at the start of step j + 1; buffer j & 1 was last read in step j - 2, before the barrier of
// step j - 1.
BNBQ_DEV void bnbq_g4_rows_staged(const void* A, const u8* packed, const float* absmax, u64 N,
                                  u64 K, int bs_shift, void* out, const void* bias, u64 nb) {
    const u32 lane = threadIdx.x & 31, tid = threadIdx.x;
    const int valid = nb < N;
    const u64 nsteps = (K + 1023) / 1024;
    const u32 es = BNBQ_DT == BNBQ_F32 ? 4 : 2;
    float acc[BNBQ_G4_ROWS];
    uint4 wb[BNBQ_G4_DEPTH][BNBQ_G4_ROWS];
    float sb[BNBQ_G4_DEPTH][BNBQ_G4_ROWS];
    uint4 st[BNBQ_G4_SEG / (BNBQ_G4_WARPS * 32)];
#pragma unroll
    for (int r = 0; r < BNBQ_G4_ROWS; r++) acc[r] = 0.0f;
#pragma unroll
    for (int d = 0; d < BNBQ_G4_DEPTH; d++)
#pragma unroll
        for (int r = 0; r < BNBQ_G4_ROWS; r++) {
            wb[d][r] = make_uint4(0u, 0u, 0u, 0u);
            sb[d][r] = 0.0f;
        }
    if (valid) {
#pragma unroll
        for (int d = 0; d + 1 < BNBQ_G4_DEPTH; d++)
            bnbq_g4_fetch<1>(packed, absmax, N, K, bs_shift, nb, (u64)d, lane, wb[d], sb[d]);
    }
    // stage 0 into registers: units m * blockDim + tid of the step (16 bytes = 16 / es elements;
    // K % 32 == 0, so a unit is wholly inside or outside [0, K))
#pragma unroll
    for (int m = 0; m < BNBQ_G4_SEG / (BNBQ_G4_WARPS * 32); m++) {
        const u32 u = (u32)m * (BNBQ_G4_WARPS * 32) + tid;
        st[m] = (u64)u * (16 / es) < K ? __ldg((const uint4*)A + u) : make_uint4(0u, 0u, 0u, 0u);
    }
    for (u64 j0 = 0; j0 < nsteps; j0 += BNBQ_G4_DEPTH) {
#pragma unroll
        for (int d = 0; d < BNBQ_G4_DEPTH; d++) {
            const u64 j = j0 + (u64)d;
            if (j < nsteps) {                               // the same in every thread
                uint4* buf = bnbq_g4_act[j & 1];
#pragma unroll
                for (int m = 0; m < BNBQ_G4_SEG / (BNBQ_G4_WARPS * 32); m++) {
                    const u32 u = (u32)m * (BNBQ_G4_WARPS * 32) + tid;
                    buf[bnbq_g4_pos(u / BNBQ_G4_U, u % BNBQ_G4_U)] = st[m];
                }
                if (j + 1 < nsteps) {
#pragma unroll
                    for (int m = 0; m < BNBQ_G4_SEG / (BNBQ_G4_WARPS * 32); m++) {
                        const u32 u = (u32)m * (BNBQ_G4_WARPS * 32) + tid;
                        const u64 e = (j + 1) * 1024 + (u64)u * (16 / es);
                        st[m] = e < K ? __ldg((const uint4*)((const u8*)A + e * es))
                                      : make_uint4(0u, 0u, 0u, 0u);
                    }
                }
                const int f = (d + BNBQ_G4_DEPTH - 1) % BNBQ_G4_DEPTH;
                if (valid)
                    bnbq_g4_fetch<1>(packed, absmax, N, K, bs_shift, nb, j + BNBQ_G4_DEPTH - 1, lane,
                                     wb[f], sb[f]);
                __syncthreads();
                if (valid && j * 1024 + (u64)lane * 32 < K) {
                    u32 a[BNBQ_G4_AW];
#pragma unroll
                    for (int t = 0; t < BNBQ_G4_U; t++) {
                        const uint4 v = buf[bnbq_g4_pos(lane, (u32)t)];
                        a[4 * t] = v.x; a[4 * t + 1] = v.y; a[4 * t + 2] = v.z; a[4 * t + 3] = v.w;
                    }
#pragma unroll
                    for (int r = 0; r < BNBQ_G4_ROWS; r++)
                        if (nb + (u64)r < N) acc[r] = bnbq_g4_dot(a, wb[d][r], sb[d][r], lane, acc[r]);
                }
            }
        }
    }
    __syncthreads();   // the next group's first stage reuses buffer 0
    if (valid) bnbq_g4_finish(acc, N, nb, lane, out, bias);
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
        if (vec) bnbq_g4_rows_staged(A, packed, absmax, N, K, bs_shift, out, bias, nb);
        else if (nb < N) bnbq_g4_rows_unaligned(A, packed, absmax, N, K, bs_shift, out, bias, nb);
    }
}
