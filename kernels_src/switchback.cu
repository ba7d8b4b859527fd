// SwitchBack (bitsandbytes.triton) quantizers and dequantizer, F16 only, with the arithmetic of
// bnbq.h's CPU functions (quantize_rowwise lives in int8.cu: it shares the LLM.int8 row kernel).
//   columnwise_and_transpose: state[c] = f16(max_r |x|); q = rint(f32(127 * f32(x * (1/state))))
//   global(_transpose):       absmax = f16(max |x|); inv = f16(1 / absmax);
//                             q = rint(f16(127 * f16(x * inv)))  (bnbq__sb_global_q)
//   dequantize_rowwise:       out = f16(f32(f16(state[r] * q) * f32(1/127)))
// Maxima are kept as f16 bits: for values >= 0 (NaN never enters) the bits order as the values,
// so a 16-bit atomicCAS loop takes the maximum in place; the state starts at 0 (memset).

#define BNBQ_SB_FULL 0xffffffffu

BNBQ_DEV u32 bnbq_sb_umax(u32 a, u32 b) { return b > a ? b : a; }

// f16 bits of |x| as an orderable integer, 0 for NaN (NaN never wins the max, as on the CPU)
BNBQ_DEV u32 bnbq_sb_absbits(u32 h) {
    u32 a = h & 0x7fffu;
    return a > 0x7c00u ? 0u : a;
}

BNBQ_DEV void bnbq_sb_atomic_max16(u16* p, u32 v) {
    u32 old = *(volatile u16*)p;
    while (v > old) {
        u32 prev = atomicCAS(p, (unsigned short)old, (unsigned short)v);
        if (prev == old) break;
        old = prev;
    }
}

BNBQ_DEV u32 bnbq_sb_warp_max(u32 v) {
    for (int off = 16; off > 0; off >>= 1) v = bnbq_sb_umax(v, __shfl_xor_sync(BNBQ_SB_FULL, v, off));
    return v;
}

// bnbq_rint without its branches: cvt.rni.s32.f32 rounds half to even, gives 0 for NaN and
// saturates (+-inf: INT_MAX / INT_MIN), which is bnbq_rint everywhere except finite |y| in
// [2^22, 2^23) with a fraction of .5 (bnbq_rint truncates there). Here y is NaN, +-inf or at most
// 127 * (1 + 2^-10) in magnitude (the f16 reciprocal of the global scale rounds up by < 2^-11).
BNBQ_DEV int bnbq_sb_rint(float y) { return __float2int_rn(y); }

// f16 bits to float, exactly (cvt.f32.f16; only int8 codes come out of these values, so a NaN's
// payload never reaches an output)
BNBQ_DEV float bnbq_sb_h2f(u32 h) {
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((u16)(h & 0xffffu)));
    return f;
#else
    return bnbq_f16_to_f32((u16)(h & 0xffffu));
#endif
}

// Both halves: f16(x * y), round to nearest even. x and y are f16 values, so x * y is exact in
// float32 and one f16 multiply is bnbq_round_to(BNBQ_F16, x * y), overflow and NaN included.
BNBQ_DEV u32 bnbq_sb_hmul2(u32 x, u32 y) {
#if defined(__CUDA_ARCH__)
    u32 d;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(x), "r"(y));
    return d;
#else
    u32 lo = bnbq_f32_to_f16(bnbq_f16_to_f32((u16)(x & 0xffffu)) * bnbq_f16_to_f32((u16)(y & 0xffffu)));
    u32 hi = bnbq_f32_to_f16(bnbq_f16_to_f32((u16)(x >> 16)) * bnbq_f16_to_f32((u16)(y >> 16)));
    return lo | (hi << 16);
#endif
}

// rint(f32(127 * f32(x * inv))) (bnbq__sb_q)
BNBQ_DEV int bnbq_sb_q(float x, float inv) {
    float xh = x * inv;
    return bnbq_sb_rint(127.0f * xh);
}

// bnbq__sb_global_q of the two f16 elements of x2: rint(f16(127 * f16(x * inv))) with inv2 the
// f16 bits of inv in both halves (127 is 0x57f0 in f16)
BNBQ_DEV void bnbq_sb_global_q2(u32 x2, u32 inv2, int* q) {
    const u32 y2 = bnbq_sb_hmul2(0x57f057f0u, bnbq_sb_hmul2(x2, inv2));
    q[0] = bnbq_sb_rint(bnbq_sb_h2f(y2));
    q[1] = bnbq_sb_rint(bnbq_sb_h2f(y2 >> 16));
}

// the f16 bits of inv = f16(1 / absmax), twice
BNBQ_DEV u32 bnbq_sb_global_inv2(const u16* absmax) {
    const u32 b = bnbq_f32_to_f16(1.0f / bnbq_f16_to_f32(absmax[0]));
    return b | (b << 16);
}

// ---- column maxima (quantize_columnwise_and_transpose, pass 1) -------------------------------------
// Blocks of 256 threads over tiles of 64 columns x 256 rows: vec (cols % 8 == 0, X 16-byte
// aligned): 8 threads x 8 columns by 32 rows at a time; else 64 threads x 1 column by 4 rows.
// state must be zero.
template <int V>
BNBQ_DEV void bnbq_sb_colmax(const u16* X, u64 rows, u64 cols, u16* state) {
    __shared__ u32 part[256][V == 8 ? 8 : 1];
    const int CPT = 64 / V;                 // column slots per row: 8 or 64
    const int RL = 256 / CPT;               // rows at a time: 32 or 4
    const int slot = threadIdx.x % CPT, rl = threadIdx.x / CPT;
    const u64 nct = (cols + 63) / 64, nrt = (rows + 255) / 256;
    for (u64 t = blockIdx.x; t < nct * nrt; t += gridDim.x) {
        const u64 tc = t % nct, tr = t / nct;
        const u64 c = tc * 64 + (u64)slot * V;
        u32 m[V];
#pragma unroll
        for (int i = 0; i < V; i++) m[i] = 0u;
        if (c < cols) {
            for (int r0 = rl; r0 < 256; r0 += RL * 4) {
                u32 w[4][V == 8 ? 4 : 1];
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    const u64 r = tr * 256 + (u64)(r0 + u * RL);
                    if (r0 + u * RL < 256 && r < rows) {
                        if (V == 8) {
                            uint4 d = __ldg((const uint4*)(X + r * cols + c));
                            w[u][0] = d.x; w[u][V == 8 ? 1 : 0] = d.y;
                            w[u][V == 8 ? 2 : 0] = d.z; w[u][V == 8 ? 3 : 0] = d.w;
                        } else {
                            w[u][0] = __ldg(X + r * cols + c);
                        }
                    } else {
#pragma unroll
                        for (int k = 0; k < (V == 8 ? 4 : 1); k++) w[u][k] = 0u;
                    }
                }
#pragma unroll
                for (int u = 0; u < 4; u++)
#pragma unroll
                    for (int i = 0; i < V; i++)
                        m[i] = bnbq_sb_umax(m[i], bnbq_sb_absbits(w[u][i >> 1] >> ((i & 1) * 16)));
            }
        }
#pragma unroll
        for (int i = 0; i < V; i++) part[threadIdx.x][i] = m[i];
        __syncthreads();
        if (threadIdx.x < 64) {
            // column threadIdx.x of the tile: slot s = col / V, element i = col % V
            const int s = threadIdx.x / V, i = threadIdx.x % V;
            const u64 cc = tc * 64 + threadIdx.x;
            u32 mm = 0u;
            for (int k = 0; k < RL; k++) mm = bnbq_sb_umax(mm, part[k * CPT + s][i]);
            if (cc < cols && mm) bnbq_sb_atomic_max16(state + cc, mm);
        }
        __syncthreads();
    }
}

extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_colmax(const u16* X, u64 rows, u64 cols, u16* state, int vec) {
    if (vec) bnbq_sb_colmax<8>(X, rows, cols, state);
    else bnbq_sb_colmax<1>(X, rows, cols, state);
}

// ---- quantize and transpose: tiles of 64 x 64, out (cols, rows) -----------------------------------
// mode 0: per-column inv = 1 / state[c] (columnwise); mode 1: inv = f16(1 / absmax[0]) (global).
// blockDim.x == 256. vec_out: rows % 16 == 0 and out 16-byte aligned.
extern "C" __global__ void __launch_bounds__(256)
bnbq_k_sb_transpose_q(const u16* X, u64 rows, u64 cols, i8* out, const u16* state, int mode,
                      int vec_out) {
    __shared__ __align__(16) i8 tile[64][64 + 16];   // [c][r]
    __shared__ float inv_s[64];
    const u64 nct = (cols + 63) / 64, nrt = (rows + 63) / 64;
    const int lc = threadIdx.x & 63, lr = threadIdx.x >> 6;
    const u32 ginv2 = mode == 1 ? bnbq_sb_global_inv2(state) : 0u;
    for (u64 t = blockIdx.x; t < nct * nrt; t += gridDim.x) {
        const u64 tc = t % nct, tr = t / nct, c0 = tc * 64, r0 = tr * 64;
        if (mode == 0 && threadIdx.x < 64) {
            const u64 c = c0 + threadIdx.x;
            inv_s[threadIdx.x] = c < cols ? 1.0f / bnbq_f16_to_f32(state[c]) : 0.0f;
        }
        __syncthreads();
        {
            const u64 c = c0 + (u64)lc;
            const float inv = mode == 0 ? inv_s[lc] : 0.0f;
#pragma unroll 4
            for (int rr = lr; rr < 64; rr += 4) {
                const u64 r = r0 + (u64)rr;
                int q[2] = { 0, 0 };
                if (c < cols && r < rows) {
                    const u32 x = __ldg(X + r * cols + c);
                    if (mode == 0) q[0] = bnbq_sb_q(bnbq_sb_h2f(x), inv);
                    else bnbq_sb_global_q2(x, ginv2, q);
                }
                tile[lc][rr] = (i8)q[0];
            }
        }
        __syncthreads();
        if (vec_out && r0 + 64 <= rows) {
            // 64 columns x 4 vectors of 16 bytes
            const int v = threadIdx.x & 3, cc = threadIdx.x >> 2;
            const u64 c = c0 + (u64)cc;
            if (c < cols)
                *(uint4*)(out + c * rows + r0 + (u64)v * 16) = *(const uint4*)&tile[cc][v * 16];
        } else {
            const int rr = threadIdx.x & 63;
            const u64 r = r0 + (u64)rr;
            for (int cc = threadIdx.x >> 6; cc < 64; cc += 4) {
                const u64 c = c0 + (u64)cc;
                if (c < cols && r < rows) out[c * rows + r] = tile[cc][rr];
            }
        }
        __syncthreads();
    }
}

// ---- global absmax: grid-stride max of |x| into absmax[0] (which must be 0) ----------------------
// vec: X 16-byte aligned (8 elements per load; the n % 8 tail one by one).
extern "C" __global__ void bnbq_k_sb_global_max(const u16* X, u64 n, u16* absmax, int vec) {
    __shared__ u32 red[32];
    const u64 i0 = (u64)blockIdx.x * blockDim.x + threadIdx.x, st = (u64)gridDim.x * blockDim.x;
    u32 m = 0u;
    u64 done = 0;
    if (vec) {
        const u64 nv = n / 8;
        for (u64 v = i0; v < nv; v += st) {
            uint4 d = __ldg((const uint4*)X + v);
            u32 w[4] = { d.x, d.y, d.z, d.w };
#pragma unroll
            for (int k = 0; k < 4; k++) {
                m = bnbq_sb_umax(m, bnbq_sb_absbits(w[k] & 0xffffu));
                m = bnbq_sb_umax(m, bnbq_sb_absbits(w[k] >> 16));
            }
        }
        done = nv * 8;
    }
    for (u64 i = done + i0; i < n; i += st) m = bnbq_sb_umax(m, bnbq_sb_absbits(__ldg(X + i)));
    m = bnbq_sb_warp_max(m);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) m = bnbq_sb_umax(m, red[w]);
        if (m) bnbq_sb_atomic_max16(absmax, m);
    }
}

// ---- quantize_global_int8: elementwise with inv = f16(1 / absmax[0]) ------------------------------
// vec: X 16-byte and q 8-byte aligned.
extern "C" __global__ void bnbq_k_sb_global_q(const u16* X, u64 n, i8* q, const u16* absmax, int vec) {
    const u64 i0 = (u64)blockIdx.x * blockDim.x + threadIdx.x, st = (u64)gridDim.x * blockDim.x;
    const u32 inv2 = bnbq_sb_global_inv2(absmax);
    u64 done = 0;
    if (vec) {
        const u64 nv = n / 8;
        for (u64 v = i0; v < nv; v += st) {
            uint4 d = __ldg((const uint4*)X + v);
            int c[8];
            bnbq_sb_global_q2(d.x, inv2, c);
            bnbq_sb_global_q2(d.y, inv2, c + 2);
            bnbq_sb_global_q2(d.z, inv2, c + 4);
            bnbq_sb_global_q2(d.w, inv2, c + 6);
            u32 o[2] = { 0u, 0u };
#pragma unroll
            for (int k = 0; k < 8; k++) o[k >> 2] |= ((u32)c[k] & 0xffu) << ((k & 3) * 8);
            *(uint2*)(q + v * 8) = make_uint2(o[0], o[1]);
        }
        done = nv * 8;
    }
    for (u64 i = done + i0; i < n; i += st) {
        int c[2];
        bnbq_sb_global_q2(__ldg(X + i), inv2, c);
        q[i] = (i8)c[0];
    }
}

// ---- dequantize_rowwise: one block per row (grid-stride) ------------------------------------------
// out = f16(f32(t * f32(1/127))), t = f16(s * q): s and q are f16 values (q exactly), so t is one
// f16 multiply; t * f32(1/127) is a float32 multiply rounded once to f16 (cvt.rn.f16.f32, which
// rounds as bnbq_f32_to_f16). On the GPU four codes become f16 pairs without a conversion: the
// bytes q ^ 0x80 = q + 128 placed under 0x64 are the f16 values 1024 + q + 128, less 1152.

// (f16(q0), f16(q1)) of bytes k, k + 1 of w (k = 0 or 2)
BNBQ_DEV u32 bnbq_sb_q2h(u32 w, int k) {
#if defined(__CUDA_ARCH__)
    const u32 b = __byte_perm(w ^ 0x80808080u, 0x64646464u, k == 0 ? 0x5140u : 0x5342u);
    u32 d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(b), "r"(0x64806480u));   // 0x6480 = 1152
    return d;
#else
    const u32 lo = bnbq_f32_to_f16((float)(i8)(w >> (8 * k)));
    const u32 hi = bnbq_f32_to_f16((float)(i8)(w >> (8 * k + 8)));
    return lo | (hi << 16);
#endif
}

// f16 bits of f32(t * f32(1/127)) for the f16 value t
BNBQ_DEV u32 bnbq_sb_deq_out(u32 t) {
    const float v = bnbq_sb_h2f(t) * 0.00787401572f;
#if defined(__CUDA_ARCH__)
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
#else
    return bnbq_f32_to_f16(v);
#endif
}

// vec 16: cols % 16 == 0, q and out 16-byte aligned; else 1.
template <int V>
BNBQ_DEV void bnbq_sb_dequant_rows(const i8* q, const u16* state, u64 rows, u64 cols, u16* out) {
    const u64 np = cols / V;
    for (u64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const u32 sb = state[r], s2 = sb | (sb << 16);
        const i8* qr = q + r * cols;
        u16* o = out + r * cols;
        for (u64 p = threadIdx.x; p < np; p += blockDim.x) {
            if (V == 16) {
                const uint4 t = __ldg((const uint4*)(qr + p * V));
                const u32 w[4] = { t.x, t.y, t.z, t.w };
                u32 h[8];
#pragma unroll
                for (int i = 0; i < 8; i++) {
                    const u32 t2 = bnbq_sb_hmul2(s2, bnbq_sb_q2h(w[i >> 1], (i & 1) * 2));
                    h[i] = bnbq_sb_deq_out(t2) | (bnbq_sb_deq_out(t2 >> 16) << 16);
                }
                uint4* d = (uint4*)(o + p * V);
                d[0] = make_uint4(h[0], h[1], h[2], h[3]);
                d[1] = make_uint4(h[4], h[5], h[6], h[7]);
            } else {
                const u32 t2 = bnbq_sb_hmul2(s2, bnbq_sb_q2h((u32)(u8)qr[p], 0));
                o[p] = (u16)bnbq_sb_deq_out(t2);
            }
        }
    }
}

extern "C" __global__ void bnbq_k_sb_dequant_rows(const i8* q, const u16* state, u64 rows, u64 cols,
                                                  u16* out, int vec) {
    if (vec == 16) bnbq_sb_dequant_rows<16>(q, state, rows, cols, out);
    else bnbq_sb_dequant_rows<1>(q, state, rows, cols, out);
}
