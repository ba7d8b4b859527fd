// bnbq_gemv_4bit: out (N,) = W (N, K) 4-bit @ A (K,), bitsandbytes' kgemm_4bit_inference_naive
// element for element (algorithms.md 6.3). Per element, in every mode:
//   lane L of row n takes the 32-element chunks k0 = 32 L + 1024 j; per chunk
//   s = dt(absmax[(n K + k0) / blocksize]); per element w = qmap[nibble] * s and
//     F32:       acc = fmaf(a, w, acc)
//     F16/BF16:  b = dt(w); p = dt(a * b); acc = acc + p      (the products rounded to dt)
// Summation order, compile-time BNBQ_G4_FAST:
//   0 (exact): each lane adds its products in element order, then v += shfl_down(v, 1, 2, 4, 8,
//     16) (lane 0 holds the CPU's tree), out = dt(v) (+ bias): byte-identical to
//     bnbq__cpu_gemv_range.
//   1 (fast, F16/BF16 on sm_80+; F32 and sm_75 stay exact): the same products p, but summed by the
//     tensor cores: one mma.m16n8k16 with B = ones adds 8 products of each of the 32 lanes (the
//     lanes of a group of 4 into one fp32 accumulator row), and the 8 groups' partial sums are
//     added by shuffles at the end. The f32 adds are the tensor cores' (not IEEE round-to-nearest
//     per add), so the result is within tolerance(dtype) of the CPU (relative L2 ~1e-5), not
//     bit-identical. Instructions per element: a pair of elements costs PRMT + IMAD (the table
//     address), LDS, two dt multiplies, then exact: 2 x (f16/bf16 -> f32 conversion + FADD) = 9,
//     fast: 1/4 of an mma = 5.25, i.e. 4.5 against 2.6 per element (plus ~1 of loads and loop per
//     element in both). The launcher uses the fast variant only with bnbq_cuda_desc.gemv_fast_order.
// qmap[i] = dt(code[i]). In F16/BF16 qmap and s are exact in dt and the products of two dt values
// are exact in float32, so dt(w) and dt(a * b) are single dt multiplies: the kernel uses packed
// f16x2 / bf16x2 multiplies (round to nearest even) on pairs of elements.
//
// Layout (vec: packed and A 16-byte aligned; K % 32 == 0 always, so every chunk is whole): one
// block per SM, blockDim = 32 W (W chosen by the launcher so that every block has the same number
// of rounds); the N rows are cut into groups of BNBQ_G4_R rows, block b takes the contiguous
// groups [b G / grid, (b + 1) G / grid) and its warp w takes group w + r W in round r. A lane
// reads its 16 weight bytes of each row with one 16-byte load; the weights of the next
// BNBQ_G4_DEPTH - 1 steps (over round boundaries) are always in flight: sm_80+ as cp.async copies
// into the thread's own slots of a ring in dynamic shared memory (no barrier: each thread reads back
// only what it copied), sm_75 in registers. The activation is staged in shared memory by segments
// of BNBQ_G4_SEG steps (two halves: loaded once when K fits in them, else a ring with one barrier
// per segment), swizzled so that the lanes' 16-byte reads of their own 64- or 128-byte chunks never
// share a bank. Unaligned inputs take the kernel bnbq_k_gemv4_any (lanes load their own bytes).
// The ring's copies carry no L2 cache hint (see bnbq_g4_cp16), so BNBQ_G4_EVICT_FIRST now acts on
// nothing (the register path is sm_75's, which has no policies).
#ifndef BNBQ_DT
#define BNBQ_DT 0
#endif
#ifndef BNBQ_G4_FAST
#define BNBQ_G4_FAST 0
#endif
// 1: bench/gemv_sweep.sh's memory probe (knob probe=1): the weights and scales are loaded as usual
// but only folded together (no lookups, no products): the speed of the loads alone. Wrong results.
#define BNBQ_G4_PROBE 0
// 1: the weights and their scales (read once) are loaded with an L2 evict-first policy (sm_80+), so
// that their misses evict lines of the weights themselves rather than other data in the L2 (dirty
// lines would have to be written back first)
#define BNBQ_G4_EVICT_FIRST 1
#if BNBQ_G4_EVICT_FIRST && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define BNBQ_G4_HINT 1
#else
#define BNBQ_G4_HINT 0
#endif
// 1 (sm_80+): the weights and scales reach the lanes through a per-thread ring in dynamic shared
// memory filled with cp.async (no registers held by loads in flight, so the ring can be deep); the
// launcher gives the kernel BNBQ_G4_DEPTH * BNBQ_G4_R * 20 bytes per thread. 0 (sm_75): registers.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define BNBQ_G4_ASYNC 1
#else
#define BNBQ_G4_ASYNC 0
#endif
#define BNBQ_G4_R 2              // rows per warp (they share the activation chunk)
#if BNBQ_G4_ASYNC
#define BNBQ_G4_DEPTH 4          // weight steps in the ring per lane (DEPTH - 1 ahead)
#else
#define BNBQ_G4_DEPTH 3          // (sm_75, registers)
#endif
#define BNBQ_G4_SEG 4            // steps (1024 elements) per staged activation segment
#define BNBQ_G4_MINT 256         // fewest threads per block (the launcher's BNBQ__CU_G4_MINW)
#define BNBQ_G4_MAXT 512         // most threads per block (BNBQ__CU_G4_MAXW)
#define BNBQ_G4_FULL 0xffffffffu
// a step (1024 elements) of the activation in 16-byte units: a lane's chunk is U units
#define BNBQ_G4_U (BNBQ_DT == BNBQ_F32 ? 8 : 4)
#define BNBQ_G4_STEPU (32 * BNBQ_G4_U)
#define BNBQ_G4_SEGU (BNBQ_G4_SEG * BNBQ_G4_STEPU)       // F16/BF16 8 KB, F32 16 KB
#define BNBQ_G4_STU (BNBQ_G4_SEGU / BNBQ_G4_MINT)       // staging units per thread (at most)
#if BNBQ_G4_FAST && !BNBQ_G4_PROBE && BNBQ_DT != BNBQ_F32 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define BNBQ_G4_MMA 1
#else
#define BNBQ_G4_MMA 0
#endif

struct bnbq_code16 { float v[16]; };

// BNBQ_G4TC_T64 = 1 (a unit of its own; the launcher's choice where the block can have the shared
// memory): the lookup table of the tensor-core kernels (below) and of the exact kernel bnbq_k_gemv4
// (F16/BF16, sm_80+) sits in the dynamic shared memory at a 64 KB-aligned address of the shared
// window, entry b of lane L at + 256 b + 4 L, so that a byte's table address is one PRMT. The other
// kernels of the unit keep the static table.
#ifndef BNBQ_G4TC_T64
#define BNBQ_G4TC_T64 0
#endif
#if BNBQ_G4TC_T64 && BNBQ_DT != BNBQ_F32 && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800 && !BNBQ_G4_FAST
#define BNBQ_G4_T64X 1   // the exact kernel's T64 form
#else
#define BNBQ_G4_T64X 0
#endif

// The lookup table in shared memory: F32: qmap (16 floats: 16 banks, conflict-free); F16/BF16:
// per-lane copies of the byte table (qmap[b >> 4], qmap[b & 15]) as dt pairs, entry b of lane L
// at word 32 b + L (bank L). 32 KB + the two 8 KB activation halves = the 48 KB of static shared
// memory a block may have.
#if BNBQ_DT == BNBQ_F32
__shared__ __align__(64) float bnbq_g4_tab[16];   // 64-byte aligned: base | offset == base + offset
#else
__shared__ __align__(16) u32 bnbq_g4_tab[256 * 32];
#endif
__shared__ uint4 bnbq_g4_act[2][BNBQ_G4_SEGU];   // activation segments (vec path)

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

// the L2 policy of the weight loads (BNBQ_G4_EVICT_FIRST)
BNBQ_DEV u64 bnbq_g4_policy() {
    u64 pol = 0;
#if BNBQ_G4_HINT
    asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
#endif
    return pol;
}

// a block scale of the vec path
BNBQ_DEV float bnbq_g4_load_s(const float* p, u64 pol) {
#if BNBQ_G4_HINT
    float v;
    asm volatile("ld.global.nc.L2::cache_hint.f32 %0, [%1], %2;" : "=f"(v) : "l"(p), "l"(pol));
    return v;
#else
    (void)pol;
    return __ldg(p);
#endif
}

template <int VEC>
BNBQ_DEV uint4 bnbq_g4_load_w(const u8* p, u64 pol = 0) {
    uint4 v;
    (void)pol;
    if (VEC) {
#if BNBQ_G4_HINT
        // streamed once: kept out of L1 (the staged activation and absmax stay there), evicted
        // first from L2
        asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p), "l"(pol));
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
        asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
#else
        v = __ldg((const uint4*)p);
#endif
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

#if BNBQ_G4_ASYNC
// the per-thread ring (dynamic shared memory): weights of slot (d, k) of thread t at 16-byte unit
// (d R + k) T + t, their scales after all the weights at word (d R + k) T + t (conflict-free).
// No L2 cache hint on these copies: NVRTC 13.0's ptxas encodes some LDGSTS with both a uniform
// shared offset and a policy descriptor with an odd uniform register pair (desc[UR1]), an illegal
// instruction at run time (seen on sm_90).
extern __shared__ uint4 bnbq_g4_ring[];
BNBQ_DEV void bnbq_g4_cp16(u32 dst, const void* src, u64 pol) {
    (void)pol;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src) : "memory");
}
BNBQ_DEV void bnbq_g4_cp4(u32 dst, const void* src, u64 pol) {
    (void)pol;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src) : "memory");
}
BNBQ_DEV void bnbq_g4_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// all but the newest DEPTH - 1 groups have landed
BNBQ_DEV void bnbq_g4_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(BNBQ_G4_DEPTH - 1) : "memory"); }
BNBQ_DEV uint4 bnbq_g4_lds128(u32 addr) {
    uint4 v;
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr)
                 : "memory");
    return v;
}
BNBQ_DEV float bnbq_g4_ldsf(u32 addr) {
    float v;
    asm volatile("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr) : "memory");
    return v;
}
#endif

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
// (dt(s), dt(s)): one rounding of the block scale, in both halves. A NaN scale may come out with
// another payload than the software rounding: every product of its chunk is then NaN either way.
BNBQ_DEV u32 bnbq_g4_s2(float s) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    u32 d;
#if BNBQ_DT == BNBQ_F16
    asm("cvt.rn.f16x2.f32 %0, %1, %1;" : "=r"(d) : "f"(s));
#else
    asm("cvt.rn.bf16x2.f32 %0, %1, %1;" : "=r"(d) : "f"(s));
#endif
    return d;
#else
    const u32 b = bnbq_g4_bits(s);
    return b | (b << 16);
#endif
}

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

// the address of this lane's table entry for byte i (0..15) of the chunk's weights
BNBQ_DEV u32 bnbq_g4_eaddr(const u32* wv, int i, u32 tl) {
    return tl + (__byte_perm(wv[i >> 2], 0u, 0x4440u + (u32)(i & 3)) << 7);
}
// the T64 table's address of byte j (0..3) of w for the lane whose base is tl: one PRMT, bytes 0
// (4 lane) and 2-3 (the 64 KB-aligned base) from tl, byte 1 the weight byte
BNBQ_DEV u32 bnbq_g4_eaddr64(u32 w, int j, u32 tl) {
    return __byte_perm(tl, w, 0x3200u + ((4u + (u32)j) << 4));
}
#endif

// The 32 elements of one row's chunk (weights w, block scale s) into ac, in element order.
// a: the activation chunk (F32: 32 words; F16/BF16: 16 pairs, element 2i in the low half).
// T6 = 1 (F16/BF16): the T64 table, lane is then the lane's table base (64 KB-aligned + 4 lane).
template <int T6 = 0>
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
    const u32 s2 = bnbq_g4_s2(s);
    const u32 tl = T6 ? lane : bnbq_g4_tab_addr(lane * 4);   // this lane's copy: entry b at tl + 128 b (T6: 256 b)
#pragma unroll
    for (int i = 0; i < 16; i++) {
        const u32 q2 = bnbq_g4_lds(T6 ? bnbq_g4_eaddr64(wv[i >> 2], i & 3, tl) : bnbq_g4_eaddr(wv, i, tl));
        const u32 b2 = bnbq_g4_mul2(q2, s2);       // (dt(qmap[hi] * s), dt(qmap[lo] * s))
        const u32 p2 = bnbq_g4_mul2(a[i], b2);     // the two products, rounded to dt
        ac = ac + bnbq_g4_lo(p2);
        ac = ac + bnbq_g4_hi(p2);
    }
#endif
    return ac;
}

#if (BNBQ_DT != BNBQ_F32 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800))
// c[0..3] += A (a0..a3) x B (b0, b1): one mma.m16n8k16 with f32 accumulation (the fragments as the
// PTX ISA lays them out: lane (g, t) holds A's rows g, g + 8 and B's column g)
BNBQ_DEV void bnbq_g4tc_mma(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {
#if defined(__CUDA_ARCH__)
#if BNBQ_DT == BNBQ_F16
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
#else
    (void)c; (void)a0; (void)a1; (void)a2; (void)a3; (void)b0; (void)b1;
#endif
}

#endif

#if BNBQ_G4_MMA
// c[0..3] += the tensor cores' sum of the 8 products in p0..p3 of each lane of each group of 4
// lanes (B = ones: c[0] == c[1] hold the group's row g, c[2] == c[3] its row g + 8)
BNBQ_DEV void bnbq_g4_mma(float* c, u32 p0, u32 p1, u32 p2, u32 p3) {
    const u32 one = BNBQ_DT == BNBQ_F16 ? 0x3c003c00u : 0x3f803f80u;
    bnbq_g4tc_mma(c, p0, p1, p2, p3, one, one);
}

// fast order: the chunk's 16 product pairs into the tensor-core accumulator c (the whole warp
// takes part; a lane without a chunk (live == 0, K's last step) adds zeros)
template <int PARTIAL>
BNBQ_DEV void bnbq_g4_dot_mma(const u32* a, uint4 w, float s, u32 tl, int live, float* c) {
    const u32 wv[4] = { w.x, w.y, w.z, w.w };
    const u32 s2 = bnbq_g4_s2(s);
    u32 p[16];
#pragma unroll
    for (int i = 0; i < 16; i++) {
        const u32 q2 = bnbq_g4_lds(bnbq_g4_eaddr(wv, i, tl));
        p[i] = bnbq_g4_mul2(a[i], bnbq_g4_mul2(q2, s2));
        if (PARTIAL) p[i] = live ? p[i] : 0u;
    }
#pragma unroll
    for (int m = 0; m < 4; m++) bnbq_g4_mma(c, p[4 * m], p[4 * m + 1], p[4 * m + 2], p[4 * m + 3]);
}
#endif

// out[n] = dt(v) (+ bias), by lane 0
BNBQ_DEV void bnbq_g4_store(float v, u64 n, void* out, const void* bias) {
    float o = bnbq_round_to(BNBQ_DT, v);
    if (bias) o = o + bnbq_load(BNBQ_DT, bias, n);
    bnbq_store(BNBQ_DT, out, n, o);
}

// the exact tree: lane 0 gets the CPU's shuffle-down sum of the lanes' accumulators
BNBQ_DEV float bnbq_g4_tree(float v) {
    for (int off = 1; off < 32; off <<= 1) v = v + __shfl_down_sync(BNBQ_G4_FULL, v, off);
    return v;
}

// ---- unaligned inputs: every lane loads its own bytes, one step at a time (no barriers), exact
// order, warps grid-stride over the groups ----

BNBQ_DEV void bnbq_g4_rows_unaligned(const void* A, const u8* packed, const float* absmax, u64 N,
                                     u64 K, int bs_shift, void* out, const void* bias, u64 nb) {
    const u32 lane = threadIdx.x & 31;
    float acc[BNBQ_G4_R];
#pragma unroll
    for (int r = 0; r < BNBQ_G4_R; r++) acc[r] = 0.0f;
    for (u64 j = 0; j * 1024 < K; j++) {
        const u64 k0 = j * 1024 + (u64)lane * 32;
        u32 a[BNBQ_G4_AW];
        if (k0 >= K) continue;
        bnbq_g4_load_a<0>(A, k0, a);
#pragma unroll
        for (int r = 0; r < BNBQ_G4_R; r++) {
            const u64 n = nb + (u64)r;
            if (n < N) {
                const uint4 w = bnbq_g4_load_w<0>(packed + ((n * K + k0) >> 1));
                const float s = __ldg(absmax + ((n * K + k0) >> bs_shift));
                acc[r] = bnbq_g4_dot(a, w, s, lane, acc[r]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < BNBQ_G4_R; r++) {
        const float v = bnbq_g4_tree(acc[r]);
        if (lane == 0 && nb + (u64)r < N) bnbq_g4_store(v, nb + (u64)r, out, bias);
    }
}

// ---- the vec path ----

// A warp's rows of round r: its group w + r W of the block's groups [g0, g1); rows past N are
// clamped to N - 1 (loaded, never stored).
struct bnbq_g4_rows {
    const u8* w[BNBQ_G4_R];      // the row's first weight byte
    const float* s[BNBQ_G4_R];   // the row's first absmax
    int valid;                   // the round exists and its group too
};

BNBQ_DEV void bnbq_g4_rows_of(bnbq_g4_rows* q, const u8* packed, const float* absmax, u64 N, u64 K,
                              int bs_shift, u64 g0, u64 g1, u32 r, u32 rounds) {
    const u64 g = g0 + (u64)r * (blockDim.x >> 5) + (threadIdx.x >> 5);
    q->valid = r < rounds && g < g1;
#pragma unroll
    for (int k = 0; k < BNBQ_G4_R; k++) {
        u64 n = g * BNBQ_G4_R + (u64)k;
        n = n < N ? n : N - 1;
        q->w[k] = packed + ((n * K) >> 1);
        q->s[k] = absmax + ((n * K) >> bs_shift);
    }
}

// staging: units m * blockDim + tid of activation segment sg (16 bytes = 16 / es elements;
// K % 32 == 0, so a unit is wholly inside or outside [0, K)); zeros past K
BNBQ_DEV void bnbq_g4_stage_load(const void* A, u64 K, u32 sg, uint4* st) {
    const u32 es = BNBQ_DT == BNBQ_F32 ? 4 : 2;
#pragma unroll
    for (int m = 0; m < BNBQ_G4_STU; m++) {
        const u32 u = (u32)m * blockDim.x + threadIdx.x;
        const u64 e = (u64)sg * (BNBQ_G4_SEG * 1024) + (u64)u * (16 / es);
        st[m] = make_uint4(0u, 0u, 0u, 0u);
        if (u < BNBQ_G4_SEGU && e < K) st[m] = __ldg((const uint4*)((const u8*)A + e * es));
    }
}
BNBQ_DEV void bnbq_g4_stage_store(u32 half, const uint4* st) {
#pragma unroll
    for (int m = 0; m < BNBQ_G4_STU; m++) {
        const u32 u = (u32)m * blockDim.x + threadIdx.x;
        const u32 su = u % BNBQ_G4_STEPU;
        if (u < BNBQ_G4_SEGU)
            bnbq_g4_act[half][u - su + bnbq_g4_pos(su / BNBQ_G4_U, su % BNBQ_G4_U)] = st[m];
    }
}

// code.v[threadIdx.x & 15] (a select chain, not an indexed local copy)
BNBQ_DEV float bnbq_g4_code_lane(const bnbq_code16& code) {
    const u32 l16 = threadIdx.x & 15u;
    float c = code.v[0];
#pragma unroll
    for (int i = 1; i < 16; i++) {
#if defined(__CUDA_ARCH__)
        asm("{.reg .pred p; setp.eq.u32 p, %2, %3; selp.f32 %0, %1, %0, p;}"
            : "+f"(c) : "f"(code.v[i]), "r"(l16), "r"((u32)i));
#else
        if (l16 == (u32)i) c = code.v[i];
#endif
    }
    return c;
}

#if BNBQ_DT != BNBQ_F32
// F16/BF16: the per-lane table of byte pairs, entry b = (dt(code[b >> 4]), dt(code[b & 15])) in 32
// copies (lane L's at + 4 L), entry b at tp + es b (es: 16-byte units an entry, 8 = packed, 16 = T64),
// by the whole block (blockDim.x a multiple of 32)
BNBQ_DEV void bnbq_g4_fill_pairs(uint4* tp, u32 es, const bnbq_code16& code) {
    const u32 qb = bnbq_g4_bits(bnbq_g4_code_lane(code));
    for (u32 i = threadIdx.x; i < 256 * 8; i += blockDim.x) {   // entry i >> 3, lanes 4 (i & 7) ..
        const u32 b = i >> 3;
        const u32 hi = __shfl_sync(BNBQ_G4_FULL, qb, (int)(b >> 4));
        const u32 lo = __shfl_sync(BNBQ_G4_FULL, qb, (int)(b & 15u));
        const u32 v = hi | (lo << 16);
        tp[es * b + (i & 7u)] = make_uint4(v, v, v, v);
    }
}
#endif

// the lookup table; F16/BF16: entry b = (dt(code[b >> 4]), dt(code[b & 15])), 32 copies
BNBQ_DEV void bnbq_g4_build_table(const bnbq_code16 code) {
#if BNBQ_DT == BNBQ_F32
    const float c = bnbq_g4_code_lane(code);
    if (threadIdx.x < 16) bnbq_g4_tab[threadIdx.x] = c;
#else
    bnbq_g4_fill_pairs((uint4*)bnbq_g4_tab, 8, code);
#endif
}

#if BNBQ_DT != BNBQ_F32
#if BNBQ_G4TC_T64   // (only the T64 unit builds its table so)
// %dynamic_smem_size
BNBQ_DEV u32 bnbq_g4_dynsize() {
    u32 d = 0;
#if defined(__CUDA_ARCH__)
    asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(d));
#endif
    return d;
}
// The T64 table (BNBQ_G4TC_T64) at the first 64 KB boundary of the shared window after the first
// `used` bytes of the dynamic shared memory dyn, by the whole block; returns this lane's base
// (+ 4 lane). The launcher gives that boundary + 64 KB; a kernel that finds less (%dynamic_smem_size)
// traps rather than read past its memory.
BNBQ_DEV u32 bnbq_g4_t64_table(void* dyn, u32 used, const bnbq_code16& code) {
    const u32 dynb = (u32)__cvta_generic_to_shared(dyn);
    const u32 tab = (dynb + used + 0xffffu) & ~0xffffu;
    if (tab + 0x10000u > dynb + bnbq_g4_dynsize()) __trap();
    bnbq_g4_fill_pairs((uint4*)((char*)dyn + (tab - dynb)), 16, code);
    return tab + 4 * (threadIdx.x & 31u);
}
#endif
#endif

// Unaligned inputs (packed or A not 16-byte aligned, or K >= 2^31; the launcher's choice, also its
// fallback where the vec kernel's shared memory cannot be had): warps grid-stride over the groups.
// (Not in the T64 unit: the launcher takes that unit for bnbq_k_gemv4 only.)
#if !BNBQ_G4TC_T64
extern "C" __global__ void __launch_bounds__(BNBQ_G4_MAXT, 1)
bnbq_k_gemv4_any(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,
                 void* out, const void* bias, bnbq_code16 code) {
    const u32 nw = blockDim.x >> 5;
    const u64 groups = (N + BNBQ_G4_R - 1) / BNBQ_G4_R;
    bnbq_g4_build_table(code);
    bnbq_pdl_wait();   // launched with programmatic dependent launch: the kernel before it first
    __syncthreads();
    for (u64 g = (u64)blockIdx.x * nw + (threadIdx.x >> 5); g < groups; g += (u64)gridDim.x * nw)
        bnbq_g4_rows_unaligned(A, packed, absmax, N, K, bs_shift, out, bias, g * BNBQ_G4_R);
}
#endif

// Grid: one block per SM (the launcher); groups of BNBQ_G4_R rows. bs_shift = log2(blocksize).
// code: the 16-entry quant_map (resolved on the host). packed and A are 16-byte aligned, K < 2^31.
// sm_80+: dynamic shared memory of BNBQ_G4_DEPTH * BNBQ_G4_R * 20 bytes per thread (the ring).
// Its register budget in the exact order in F16 / BF16 (NVRTC 12.4+): __maxnreg__(96) / (104) instead
// of __launch_bounds__(512, 1) (which allows 128): ptxas then schedules the body differently (f16 88,
// bf16 91 registers instead of 84 / 92, sm_90). Measured on the H100 (bench_gpu, the T64 form, % of
// copy, 8192^2 / 14336x4096 / 4096x14336, back to back, 2 rounds each;
// bench/results/gpu-20261123-h100-session17-gemv-regcap.txt): f16 59.2 / 51.1-51.2 / 56.6-56.8 ->
// 60.6-60.8 / 53.2-53.3 / 57.8-57.9; bf16 60.8 / 53.8 / 58.3 -> (128) 62.6-62.7 / 55.3-55.5 / 59.8-59.9
// -> (104, against 128 in a later call) 63.6 / 55.9-56.2 / 59.6-59.7; single calls +1-2. (f16 at 128:
// 60.3 / 52.6-52.7 / 57.8, at 88: 0.5-0.9 below 96; bf16 at 96: 61.3-61.4 / 54.5 / 58.1-58.2; both at
// 80 or 72: 0.5-2 points below the launch bounds.) F32 and the fast order keep the bounds.
#if !BNBQ_G4_FAST && BNBQ_DT != BNBQ_F32 && defined(__CUDACC_VER_MAJOR__) && \
    (__CUDACC_VER_MAJOR__ > 12 || (__CUDACC_VER_MAJOR__ == 12 && __CUDACC_VER_MINOR__ >= 4))
#define BNBQ_G4_ATTR __maxnreg__(BNBQ_DT == BNBQ_F16 ? 96 : 104)
#else
#define BNBQ_G4_ATTR __launch_bounds__(BNBQ_G4_MAXT, 1)
#endif
extern "C" __global__ void BNBQ_G4_ATTR
bnbq_k_gemv4(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,
             void* out, const void* bias, bnbq_code16 code) {
    const u32 lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    const u64 groups = (N + BNBQ_G4_R - 1) / BNBQ_G4_R;
    bnbq_pdl_wait();   // launched with programmatic dependent launch: the kernel before it first
    const u64 g0 = groups * blockIdx.x / gridDim.x, g1 = groups * (blockIdx.x + 1) / gridDim.x;
    const u32 rounds = (u32)((g1 - g0 + nw - 1) / nw);           // the same for every warp
    const u32 nsteps = (u32)((K + 1023) / 1024);
    const u32 nseg = (nsteps + BNBQ_G4_SEG - 1) / BNBQ_G4_SEG;
    const u32 total = rounds * nsteps;
    const int ring = nseg > 2;    // else both segments stay in the two halves for all rounds

    // the weights ring: step t of the warp (round t / nsteps, step t % nsteps) in slot t % DEPTH.
    // Offsets within a row are 32-bit (the launcher takes this path for K < 2^31 only); a lane has
    // a chunk in every step but maybe the last (K % 1024 != 0).
    const u32 lk = 32u * lane;
    const int lastok = (u64)(nsteps - 1) * 1024 + lk < K;
    bnbq_g4_rows fq;              // the fetch cursor: round fr, step fj
    u32 fr = 0, fj = 0;
    const u64 pol = bnbq_g4_policy();
    bnbq_g4_rows_of(&fq, packed, absmax, N, K, bs_shift, g0, g1, 0, rounds);
#if BNBQ_G4_ASYNC
    // this thread's unit of slot (d, k): rw + (d R + k) T 16, its scale rs + (d R + k) T 4
    const u32 rT = blockDim.x;
    const u32 rw = (u32)__cvta_generic_to_shared(bnbq_g4_ring) + 16u * threadIdx.x;
    const u32 rs = (u32)__cvta_generic_to_shared(bnbq_g4_ring) + 16u * BNBQ_G4_DEPTH * BNBQ_G4_R * rT +
                   4u * threadIdx.x;
#define BNBQ_G4_PUT(slot, k, wp, sp)                                                               \
    do {                                                                                           \
        bnbq_g4_cp16(rw + 16u * rT * (u32)((slot) * BNBQ_G4_R + (k)), (wp), pol);                 \
        bnbq_g4_cp4(rs + 4u * rT * (u32)((slot) * BNBQ_G4_R + (k)), (sp), pol);                   \
    } while (0)
#define BNBQ_G4_GETW(slot, k) bnbq_g4_lds128(rw + 16u * rT * (u32)((slot) * BNBQ_G4_R + (k)))
#define BNBQ_G4_GETS(slot, k) bnbq_g4_ldsf(rs + 4u * rT * (u32)((slot) * BNBQ_G4_R + (k)))
#define BNBQ_G4_COMMIT() bnbq_g4_commit()
#define BNBQ_G4_WAIT() bnbq_g4_wait()
#else
    uint4 wb[BNBQ_G4_DEPTH][BNBQ_G4_R];
    float sb[BNBQ_G4_DEPTH][BNBQ_G4_R];
#define BNBQ_G4_PUT(slot, k, wp, sp)                                                               \
    do {                                                                                           \
        wb[slot][k] = bnbq_g4_load_w<1>((wp), pol);                                                \
        sb[slot][k] = bnbq_g4_load_s((sp), pol);                                                   \
    } while (0)
#define BNBQ_G4_GETW(slot, k) wb[slot][k]
#define BNBQ_G4_GETS(slot, k) sb[slot][k]
#define BNBQ_G4_COMMIT() do {} while (0)
#define BNBQ_G4_WAIT() do {} while (0)
#endif
#define BNBQ_G4_FETCH(slot)                                                                        \
    do {                                                                                           \
        if (fq.valid && (fj + 1 < nsteps || lastok)) {                                             \
            const u32 kk = fj * 1024u + lk;                                                        \
            _Pragma("unroll") for (int k = 0; k < BNBQ_G4_R; k++)                                  \
                BNBQ_G4_PUT(slot, k, fq.w[k] + (kk >> 1), fq.s[k] + (kk >> bs_shift));             \
        }                                                                                          \
        BNBQ_G4_COMMIT();                                                                          \
        if (++fj == nsteps) {                                                                      \
            fj = 0;                                                                                \
            ++fr;                                                                                  \
            bnbq_g4_rows_of(&fq, packed, absmax, N, K, bs_shift, g0, g1, fr, rounds);              \
        }                                                                                          \
    } while (0)
#if !BNBQ_G4_ASYNC
#pragma unroll
    for (int d = 0; d < BNBQ_G4_DEPTH; d++)
#pragma unroll
        for (int k = 0; k < BNBQ_G4_R; k++) {
            wb[d][k] = make_uint4(0u, 0u, 0u, 0u);
            sb[d][k] = 0.0f;
        }
#endif
#if BNBQ_G4_ASYNC
#pragma unroll 1
#else
#pragma unroll
#endif
    for (int d = 0; d + 1 < BNBQ_G4_DEPTH; d++) BNBQ_G4_FETCH(d);

#if BNBQ_G4_T64X
    // the T64 table after the ring (20 DEPTH R bytes a thread), at the next 64 KB boundary; the
    // launcher gives that boundary + 64 KB, else the kernel traps rather than read past its memory
    const u32 t6l = bnbq_g4_t64_table(bnbq_g4_ring, 20u * BNBQ_G4_DEPTH * BNBQ_G4_R * blockDim.x, code);
#else
    bnbq_g4_build_table(code);
#endif
    uint4 st[BNBQ_G4_STU];
    bnbq_g4_stage_load(A, K, 0, st);
    if (!ring) {
        bnbq_g4_stage_store(0, st);
        if (nseg > 1) {
            bnbq_g4_stage_load(A, K, 1, st);
            bnbq_g4_stage_store(1, st);
        }
    }
    __syncthreads();

    // the compute cursor: round cr, step cj, segment cs (its half ch)
    u32 cr = 0, cj = 0, cs = 0, ch = 0, fs = 0;
    u64 cg = g0 + (threadIdx.x >> 5);   // the warp's group of round cr
#if BNBQ_G4_MMA
    float acc[BNBQ_G4_R][4];
#pragma unroll
    for (int k = 0; k < BNBQ_G4_R; k++) acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = 0.0f;
    const u32 tl = bnbq_g4_tab_addr(lane * 4);
#else
    float acc[BNBQ_G4_R];
#pragma unroll
    for (int k = 0; k < BNBQ_G4_R; k++) acc[k] = 0.0f;
#endif
    // the loop body once per step: sm_80+ with the ring slot d a variable (the ring is addressed);
    // sm_75 unrolled DEPTH times (the slots are registers)
#if BNBQ_G4_ASYNC
    u32 d = 0;
    for (u32 t0 = 0; t0 < total; t0++) {
        {
            {
#else
    for (u32 t0 = 0; t0 < total; t0 += BNBQ_G4_DEPTH) {
#pragma unroll
        for (int d = 0; d < BNBQ_G4_DEPTH; d++) {
            if (t0 + (u32)d < total) {   // the same in every thread
#endif
                if (cj % BNBQ_G4_SEG == 0) {   // a segment starts
                    cs = cj / BNBQ_G4_SEG;
                    if (ring) {
                        // store the segment loaded during the previous one (its half was last
                        // read two segments ago, before the previous barrier); load the next
                        ch = fs & 1u;
                        bnbq_g4_stage_store(ch, st);
                        fs++;
                        if (cs + 1 < nseg || cr + 1 < rounds)
                            bnbq_g4_stage_load(A, K, cs + 1 < nseg ? cs + 1 : 0, st);
                        __syncthreads();
                    } else {
                        ch = cs;
                    }
                }
#if BNBQ_G4_ASYNC
                BNBQ_G4_FETCH(d == 0 ? BNBQ_G4_DEPTH - 1 : d - 1);
#else
                BNBQ_G4_FETCH((d + BNBQ_G4_DEPTH - 1) % BNBQ_G4_DEPTH);
#endif
                BNBQ_G4_WAIT();   // step t0 + d has landed
                if (cg < g1) {
                    uint4 wd[BNBQ_G4_R];
                    float sd[BNBQ_G4_R];
#pragma unroll
                    for (int k = 0; k < BNBQ_G4_R; k++) {
                        wd[k] = BNBQ_G4_GETW(d, k);
                        sd[k] = BNBQ_G4_GETS(d, k);
                    }
                    const int live = cj + 1 < nsteps || lastok;
                    u32 a[BNBQ_G4_AW];
                    const uint4* ap = bnbq_g4_act[ch] + (cj % BNBQ_G4_SEG) * BNBQ_G4_STEPU;
#pragma unroll
                    for (int t = 0; t < BNBQ_G4_U; t++) {
                        const uint4 v = ap[bnbq_g4_pos(lane, (u32)t)];
                        a[4 * t] = v.x; a[4 * t + 1] = v.y; a[4 * t + 2] = v.z; a[4 * t + 3] = v.w;
                    }
#if BNBQ_G4_PROBE
                    (void)a;
#pragma unroll
                    for (int k = 0; k < BNBQ_G4_R; k++) {
                        const uint4 w = wd[k];
                        acc[k] = acc[k] + __uint_as_float(((w.x ^ w.y ^ w.z ^ w.w) & 0x7fffffu) | 0x3f800000u) * sd[k];
                    }
#elif BNBQ_G4_MMA
#pragma unroll
                    for (int k = 0; k < BNBQ_G4_R; k++)   // one instance (compile time): live masks
                        bnbq_g4_dot_mma<1>(a, wd[k], sd[k], tl, live, acc[k]);
#else
                    if (live) {
#pragma unroll
                        for (int k = 0; k < BNBQ_G4_R; k++)
#if BNBQ_G4_T64X
                            acc[k] = bnbq_g4_dot<1>(a, wd[k], sd[k], t6l, acc[k]);
#else
                            acc[k] = bnbq_g4_dot(a, wd[k], sd[k], lane, acc[k]);
#endif
                    }
#endif
                }
                if (++cj == nsteps) {   // the round's rows are done
                    if (cg < g1) {
#pragma unroll
                        for (int k = 0; k < BNBQ_G4_R; k++) {
                            const u64 n = cg * BNBQ_G4_R + (u64)k;
#if BNBQ_G4_MMA
                            float v = acc[k][0] + acc[k][2];   // the group's rows g and g + 8
                            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 4);
                            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 8);
                            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 16);
                            acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = 0.0f;
#else
                            const float v = bnbq_g4_tree(acc[k]);
                            acc[k] = 0.0f;
#endif
                            if (lane == 0 && n < N) bnbq_g4_store(v, n, out, bias);
                        }
                    }
                    cj = 0;
                    cr++;
                    cg += nw;
                }
#if BNBQ_G4_ASYNC
                d = d + 1 == BNBQ_G4_DEPTH ? 0 : d + 1;
#endif
            }
        }
    }
#undef BNBQ_G4_FETCH
#undef BNBQ_G4_PUT
#undef BNBQ_G4_GETW
#undef BNBQ_G4_GETS
#undef BNBQ_G4_COMMIT
#undef BNBQ_G4_WAIT
}

// ---- bnbq_k_gemv4tc: the fast-order one-token kernel of F16 / BF16 on sm_80+ (tensor cores) ----
// Numerics (within tolerance(dtype) of the CPU, not bit-identical): every weight enters as
// dt(qmap[nibble]) and the activation as it is; the tensor cores multiply them exactly and add in
// float32 over one 64-element group of a row (mma.m16n8k16, f32 accumulate); the group's sum times
// its block's absmax (float32) is added to the row's float32 sum (FFMA); the warps' partial sums of
// a row are added in a fixed order (the epilogue below: the same result on every run) and out =
// dt(sum) (+ bias) as bnbq_g4_store. The reference instead
// rounds each weight dt(qmap * dt(absmax)) and each product to dt: the two differ by those roundings
// (relative L2 ~3e-4 f16, ~3e-3 bf16 on random data; bitsandbytes' own error against float64 is up
// to 5e-4 / 4e-3).
// Layout: a tile is 16 rows (the mma's M) and a step 128 elements of them (two 64-element groups).
// Lane (g, t) takes rows g and g + 8 and the 16 weight bytes 16t..16t+15 of the step (one 16-byte
// load per row): lanes t = 0, 1 hold group 0, lanes 2, 3 group 1. The mma's k is permuted: byte 2i of
// the lane's bytes is A's pair (2t, 2t + 1) of mma i (i = 0..7), byte 2i + 1 its pair (2t + 8,
// 2t + 9). B's column n holds the activation of group n & 1 only: lane (g, t) loads its 32 elements'
// pairs when t >> 1 == g & 1, else holds zeros; so D's even columns are the rows' dot products over
// group 0 and the odd ones over group 1 (c[0], c[1]: row g; c[2], c[3]: row g + 8). The nibble pair
// of a byte is looked up in the per-lane table bnbq_g4_tab (entry b: (dt(qmap[b >> 4]),
// dt(qmap[b & 15])), the pair in element order). Grid: one block per SM; the block takes the tiles
// [b NT / grid, (b + 1) NT / grid); of their ntiles * S steps (S = K / 128, tile-major) warp w takes
// the range [w T / W, (w + 1) T / W) (T = ntiles * S); the weights and scales of the warp's next
// BNBQ_G4TC_D - 1 steps (across tile ends) are in flight in registers. The warps' partial sums of
// every tile wait in dynamic shared memory; after the one barrier at the end, warp w adds those of
// the tiles w, w + W, ... and stores.
// Requirements (the launcher's): K % 128 == 0, blocksize >= 64, packed and A 16-byte aligned, absmax
// 8-byte aligned, K < 2^31, the dynamic shared memory (K * 2 + ceil(NT / grid) * W * 64 bytes) to be had.
// Ring depth: steps per warp in flight, D - 1 ahead. Measured on the H100 (bench_gpu, % of copy,
// 8192^2 / 14336x4096 / 4096x14336 f16, activation from L1): W 24 D 2 53.2 / 52.4 / 50.6; W 16 D 2
// 51-54; W 16 D 3-4 44-47; W 24 D 3 44-48; W 32 D 2 (64 registers, spills) 48-50. The activation
// staged in shared memory (4 instead of 16 L1 wavefronts per step): 56.9 / 55.3 / 54.1. ncu (8192^2):
// L1 data pipe 64 % busy (per step of a warp: weights 32 wavefronts (one per sector), table lookups
// 32, scales 16, activation 4), DRAM 43 %, issue 52 %: with one step (1 KB per warp, 24 KB per SM)
// in flight the loads' latency bounds it; deeper register rings cost more than they gained. Also
// measured and dropped: warp w taking the steps w, w + W, ... (the block reading neighbouring steps of
// the same rows together, for DRAM page locality): a 256 MB gemv 151 -> 142 us, but the three shapes
// 3-6 points slower (the tile changes every few steps); L2::128B / L2::256B prefetch on the weight
// loads: equal / 3 points slower. A 256 MB gemv (K 32768) streams at ~57 % of copy too: the kernel
// itself, not its start or tail, is the bound. With the lookups as PRMT + LEA + LDS (8.0M instead of
// 10.2M instructions at 8192^2): 57.9 / 55.8 / 55.1; then W 24 D 3, W 16 D 4 and W 32 D 2 all within
// 52-57: neither the warps nor the ring depth move it. Session 5's load-only probes streamed at the
// same ~55-60 % with per-lane loads and at 80 % (single calls) with TMA bulk copies: the per-lane
// 16-byte loads of 16 rows at a time are the cap, not the arithmetic. Tried on top (correct, not
// kept): the same arithmetic with the weights brought by TMA bulk copies (cp.async.bulk of each row's
// next CH steps into a per-warp ring of NS slots in shared memory, mbarrier completion, LDS.128 back):
// CH 2 NS 3 W 16: 51.4 / 50.6 / 48.9; CH 4 NS 2 W 12: 47.4 / 46.1 / 44.1; CH 8 NS 2 W 8: 54.9 / 55.0 /
// 50.5. Small copies (128-512 bytes per row) do not stream like session 5's 2-D boxes, and fewer warps
// leave the arithmetic short of latency hiding; a tensor-map (2-D box of 16 rows) version is next.
// Session 9 (bench/gemv_tma_proto.cu, bench/results/gpu-20261122-h100-session9-gemv-ceiling.txt, %
// of copy single | back to back): that version (this arithmetic fed by 2-D TMA boxes of 16 rows x 1-2
// KB, also with the tiles interleaved over the blocks) reached 51-59 | 57-66, and 8-row slabs by
// contiguous 1-D bulk copies with the weights as the mma's B 44-53 | 49-56: none beats this kernel.
// Their loads alone (no arithmetic, absmax included) stream at 79-82 back to back, a bare grid-stride
// read of the same 37.7 MB at 81 | 87, and cuMemcpy moving as many bytes at 78-81: at these sizes 80 %
// is the ceiling itself, and the shared-memory pipe (a lookup per weight byte, the activation
// fragments, the stage traffic) costs the arithmetic 15-20 points. Interleaving this kernel's tiles
// over the blocks (block b: tiles b, b + grid, ...) measured within noise (+0-1 point).
#define BNBQ_G4TC_D 2
// Wide tiles (the body's RG, session 12): A's 16 rows (the mma's M) need not be 16 weight rows. RG = 1
// (bnbq_k_gemv4tc, the layout above): 16 rows, one 64-byte range of each a step (128 elements); RG = 2:
// 8 rows (A's rows g and g + 8 are ranges 0 and 1 of row g), 128 bytes of each a step; RG = 4
// (bnbq_k_gemv4tc_w, the launcher's choice where K % 512 == 0): 4 rows (A's row g: row g >> 1, range
// g & 1; row g + 8: row g >> 1, range 2 + (g & 1)), 256 contiguous bytes of each a step, so that one
// 16-byte load of the warp covers 4 rows x 128 bytes (whole 128-byte lines) instead of 8 x 64. B's
// column n then holds range n >> 1, group n & 1 (zeros where the lane's group is not the column's): D's
// columns of a row's own range are its sums, the others mix ranges and are dropped; at a tile's end
// the 4 lanes holding a row's ranges add them by shuffles. Same lookups, mmas and loads per step.
// Measured on the H100 (bench_gpu --gemv-fast, % of copy, single | back to back, f16, main's kernel in
// the same call; bench/results/gpu-20261122-h100-session12-gemv-wide.txt): 8192^2 57.3 | 63.4 ->
// RG 2 59.7 | 65.4, RG 4 60.5 | 66.5; 14336x4096 55.2 | 61.8 -> 56.3 | 62.8, 55.9 | 62.1; 4096x14336
// 54.5 | 61.1 -> 55.7 | 62.1, 56.6 | 63.3.
// Also measured with bnbq_k_gemv4tc_w (-session12-gemv-pf.txt): the warp's first PF steps prefetched
// into the L2 (prefetch.global.L2, a line a lane) before the prologue: PF 2 +2-2.5 points single but
// -1-3 back to back, PF 4 -0.5 | -5, PF 8 -4 | -8: a trade, not kept.
// With the gemv on programmatic dependent launch and the prefetches before its wait: PF 1 equal,
// PF 2 -1 | -3 (-session12-gemv-pf-pdl.txt).
// Session 13 (branch prmt-dec, -session13-gemv-prmt.txt; it repeats session 11's branch prmt on the
// wide-tile kernel with another decode): the weight bytes decoded in registers instead of the table (per 8 nibbles 21 integer operations: PRMTs into the table's low- and
// high-byte halves for codes 0-7 and 8-15, a PRMT selecting by bit 3, PRMTs interleaving the bytes
// into pairs): one row's words so 49.6 / 46.0 / 46.7 | 57.1 / 53.5 / 54.4, both rows' 43.8 / 41.3 /
// 42.2 | 49.6 / 47.3 / 48.3, against this kernel's 61.2 / 56.5 / 57.6 | 72.5 / 67.5 / 69.1. Issue
// slots, not the shared-memory pipe alone, bound the arithmetic: the table stays.
#define BNBQ_G4TC_MAXW 24         // warps per block (the launcher's BNBQ__CU_G4TC_W)
#if BNBQ_DT != BNBQ_F32 && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define BNBQ_G4TC_ON 1
#else
#define BNBQ_G4TC_ON 0
#endif
#if BNBQ_G4TC_ON
// dynamic shared memory: the activation (K * 2 bytes, swizzled: unit q of lane t's 4 units of a step
// at 4 t + (q ^ 2 (t >> 1)), so that the lanes' loads of a unit hit four bank groups), then the warps' partial
// sums [tile of the block][warp][row] (ceil(NT / grid) * W * 64 bytes)
extern __shared__ uint4 bnbq_g4tc_dyn[];
// BNBQ_G4TC_T64 = 1 (the launcher's choice where the block can have the shared memory, e.g. sm_80 and
// sm_90; not sm_86 / sm_89, whose 99 KB are too few; bnbq__cu_g4tc_smem):
// - the lookup table lives in the dynamic shared memory at a 64 KB-aligned address of the shared window,
//   entry b of lane L at + 256 b + 4 L (bank L; the table spans 64 KB, half of it unused), so that the
//   address of a byte's entry is ONE PRMT (bytes 0, 2, 3 from the lane's base, byte 1 the weight byte:
//   bnbq_g4tc_q) instead of PRMT + LEA. The activation and the partial sums come first, the table at the
//   first 64 KB boundary after them; the launcher gives that boundary + 64 KB (with the window's first
//   1 KB reserved), and a kernel that finds less (%dynamic_smem_size) traps instead of reading past it.
// - RG = 4: the activation of a step (64 units: range xr, lane t, unit q) at 18 xr + 4 t + (t >> 1) +
//   q, 72 units a step, instead of the XOR swizzle: the 4 lanes of a quarter-warp that load (one per
//   t) still hit distinct bank groups, and a lane's 4 units are one base plus immediates (with the
//   swizzle the compiler rebuilt each address every step, in branches around the loads).
// Measured on the H100 (bench_gpu --gemv-fast, % of copy, single | back to back, f16 8192^2 /
// 14336x4096 / 4096x14336, 3 rounds alternating; bench/results/gpu-20261122-h100-session13-gemv-t64.txt):
// the static table 61.5 / 56.9 / 57.9 | 73.4 / 68.2 / 69.6; the 64 KB-aligned table 63.6 / 58.7 / 59.5
// | 75.9 / 71.7 / 73.0; with the activation layout as well 64.6 / 60.0 / 60.7 | 77.3 / 73.0 / 74.3.
// SASS instructions of a step (bnbq_k_gemv4tc_w, sm_90): 320 -> 240 -> 215. Also measured: the
// activation expanded so that every lane loads (zeros in the chunks of the other column group, 2304
// bytes a step): 56.5 / 54.4 / 51.5 | 73.0 / 69.1 / 68.7, fewer instructions (214) but twice the
// shared-memory wavefronts of the activation loads and a longer staging at the start.
// And the zero-holding lanes loading 64 bytes of shared zeros (a bank group free in their
// quarter-warp, step stride 0) instead of CS2R + predicated loads: 193 instructions a step, but
// spills at 80 registers; 1.5-2.5 points slower (-session13-gemv-zeroload.txt).

// the table word of byte j (0..3) of w for this lane (tl: the shared-window address of the lane's
// copy, bnbq_g4_tab + 4 lane): PRMT + LEA + LDS; T64: PRMT + LDS. (A plain C index into the table
// compiled to PRMT, IMAD.SHL, LOP3, IMAD + LDS.)
BNBQ_DEV u32 bnbq_g4tc_q(u32 w, int j, u32 tl) {
#if BNBQ_G4TC_T64
    return bnbq_g4_lds(bnbq_g4_eaddr64(w, j, tl));
#else
    return bnbq_g4_lds(tl + (__byte_perm(w, 0u, 0x4440u + (u32)j) << 7));
#endif
}

BNBQ_DEV uint4 bnbq_g4tc_ldw(const u8* p) {
    uint4 v;
#if defined(__CUDA_ARCH__)
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
#else
    v = *(const uint4*)p;
#endif
    return v;
}
#endif

#if BNBQ_G4TC_ON
template <int RG>
BNBQ_DEV void bnbq_g4tc_body(const void* A, const u8* packed, const float* absmax, u64 N, u64 K,
                             int bs_shift, void* out, const void* bias, bnbq_code16 code) {
    const u32 TR = 16 / RG;   // weight rows per tile
    const u32 lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;
    const u32 g = lane >> 2, t = lane & 3;
    // A's rows g and g + 8 of this lane: the tile's weight rows wr0, wr1 and their 64-byte ranges
    // rg0, rg1 within the step (RG: see above)
    const u32 wr0 = RG == 4 ? g >> 1 : g;
    const u32 wr1 = RG == 1 ? g + 8 : RG == 2 ? g : g >> 1;
    const u32 rg0 = RG == 4 ? (g & 1u) : 0u;
    const u32 rg1 = RG == 1 ? 0u : RG == 2 ? 1u : 2u + (g & 1u);
    const u64 NT = (N + TR - 1) / TR;
    const u64 tb0 = NT * blockIdx.x / gridDim.x, tb1 = NT * (blockIdx.x + 1) / gridDim.x;
    const u32 S = (u32)(K / (128 * RG));
    const u32 ntiles = (u32)(tb1 - tb0);
    // the warp's steps: [j0, j1) of the block's ntiles * S (tile-major)
    const u64 T = (u64)ntiles * S;
    const u64 j0 = T * w / W, j1 = T * (w + 1) / W;
    const u32 total = (u32)(j1 - j0);
    const u64 half = K >> 1;
    uint4* xs = bnbq_g4tc_dyn;
    // the activation's area: 72 units a step with T64 and RG = 4 (see above), else K / 8 units
    const bool xb = BNBQ_G4TC_T64 && RG == 4;
    const u64 actu = xb ? (K >> 9) * 72 : (K >> 3);
    float* red = (float*)(bnbq_g4tc_dyn + actu);

    // the fetch cursor: tile ft (absolute), step fs; the lane's rows (clamped to N - 1)
    u64 ft = tb0 + j0 / S;
    u32 fs = (u32)(j0 % S);
    const u8* fw0; const u8* fw1;
    u64 fa0, fa1;   // the lane's first element of its ranges in step 0 (n K + 128 rg)
    // sp (T64, RG = 4: both ranges of the lane in one row, the second 256 elements / 128 bytes after
    // the first): the scales' addresses from a per-tile base sm (the scale of fa0's block, + gsel) and
    // fa0's offset rm in that block, in 32-bit arithmetic (rm + 512 fs < 2^31 + 4096); the second
    // range's weights at fw0 + 128. (Else the 64-bit forms below.)
    const bool sp = BNBQ_G4TC_T64 && RG == 4;
    const float* sm = absmax;
    u32 rm = 0;
    const u32 gsel = (t >> 1) & (u32)(bs_shift == 6);
#define BNBQ_G4TC_ROWS()                                                                           \
    do {                                                                                           \
        u64 r0 = ft * TR + wr0, r1 = ft * TR + wr1;                                                \
        r0 = r0 < N ? r0 : N - 1; r1 = r1 < N ? r1 : N - 1;                                        \
        fw0 = packed + r0 * half + 64 * rg0 + 16 * t; fw1 = packed + r1 * half + 64 * rg1 + 16 * t; \
        fa0 = r0 * K + 128 * rg0; fa1 = r1 * K + 128 * rg1;                                        \
        if (sp) {                                                                                  \
            sm = absmax + (fa0 >> bs_shift) + gsel;                                                \
            rm = (u32)fa0 & ((1u << bs_shift) - 1u);                                               \
        }                                                                                          \
    } while (0)
    BNBQ_G4TC_ROWS();
    uint4 rw0[BNBQ_G4TC_D], rw1[BNBQ_G4TC_D];
    // the scale of the lane's own group (t >> 1) of its ranges, rows g (rs0) and g + 8 (rs1); the other
    // group's comes from lane t ^ 2 by a shuffle. (Measured and dropped: one 16-byte load per row
    // for two steps at blocksize 64, which halves the scales' L1 wavefronts, and a lane loading one
    // scale for two steps with shuffles to the others: both 3-5 points slower on the H100.)
    float rs0[BNBQ_G4TC_D], rs1[BNBQ_G4TC_D];
#define BNBQ_G4TC_SCALES(slot)                                                                     \
    do {                                                                                           \
        if (sp) {                                                                                  \
            const u32 e_ = rm + 512u * fs;                                                         \
            rs0[slot] = __ldg(sm + (e_ >> bs_shift));                                              \
            rs1[slot] = __ldg(sm + ((e_ + 256u) >> bs_shift));                                     \
        } else {                                                                                   \
            rs0[slot] = __ldg(absmax + ((fa0 + 128 * RG * (u64)fs) >> bs_shift) + gsel);           \
            rs1[slot] = __ldg(absmax + ((fa1 + 128 * RG * (u64)fs) >> bs_shift) + gsel);           \
        }                                                                                          \
    } while (0)
#define BNBQ_G4TC_FETCH(slot, i)                                                                   \
    do {                                                                                           \
        const int slot_ = (slot);                                                                  \
        (void)slot_;                                                                               \
        if ((i) < total) {                                                                         \
            rw0[slot_] = bnbq_g4tc_ldw(fw0 + 64 * RG * (u64)fs);                                   \
            rw1[slot_] = bnbq_g4tc_ldw((sp ? fw0 + 128 : fw1) + 64 * RG * (u64)fs);                \
            BNBQ_G4TC_SCALES(slot_);                                                               \
            if (++fs == S) {                                                                       \
                fs = 0;                                                                            \
                ft++;                                                                              \
                BNBQ_G4TC_ROWS();                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    // Programmatic dependent launch (sm_90): the block lets the next kernel on the stream launch now
    // (griddepcontrol.launch_dependents: a gemv queued behind this one is set up while this one runs
    // and may start before it ends; it waits before it reads anything), and asks the L2 for its warp's
    // first step (prefetch.global.L2, a hint that cannot read stale data) before it waits for the kernel
    // before it. Nothing here reads global memory before the wait. Measured on the H100 (bench_gpu
    // --gemv-fast, % of copy, f16 8192^2 / 14336x4096 / 4096x14336, single | back to back;
    // bench/results/gpu-20261123-h100-session16-gemv-pdl.txt):
    // before 65.0 / 60.5 / 61.3 | 78.0 / 73.5 / 74.8; the release 65.3 / 60.0 / 60.9 | 80.1 / 76.2 / 77.9;
    // with the prefetch 66.3 / 61.4 / 62.1 | 81.1 / 78.3 / 79.8 (then issued by a lane per 128-byte line
    // instead of every lane: +0.3-0.5 back to back in f16). Dropped: the table built before the wait
    // (-2 single, +0 back to back: it then delays the first loads), the first step's scales prefetched too
    // (-0.5), two first steps (-3 back to back), the warp's last one or two steps (+1-1.5 single, -1.5-3 /
    // -6 back to back), the step after the one being loaded prefetched in the loop (-5 to -9), the release
    // in the exact-order kernels (-0.5-1 back to back).
    bnbq_pdl_release();
    // (RG = 4: one lane per line, lanes 8 r .. 8 r + 7 hold row r's 128 + 128 bytes; RG = 1, not measured
    // that way, every lane)
    if (total != 0 && (RG != 4 || (lane & 7u) == 0u)) {
        bnbq_prefetch_l2(fw0 + 64 * RG * (u64)fs);
        bnbq_prefetch_l2((sp ? fw0 + 128 : fw1) + 64 * RG * (u64)fs);
    }
    bnbq_pdl_wait();   // launched with programmatic dependent launch: the kernel before it first
#pragma unroll
    for (int d = 0; d + 1 < BNBQ_G4TC_D; d++) BNBQ_G4TC_FETCH(d, (u32)d);

    for (u32 k = threadIdx.x; k < ntiles * W * TR; k += blockDim.x) red[k] = 0.0f;
    // unit u (16 bytes) of the activation: step u / US, range r, lane t and unit q of that lane's
    // chunk, at US (u / US) + 16 r + 4 t + (q ^ ((2 (t >> 1) + r) & 3)) (US = 16 RG units a step)
    if (xb) {
        for (u32 u = threadIdx.x; u < (u32)(K >> 3); u += blockDim.x) {
            const u32 v = u & 63u, ut = (v >> 2) & 3u;
            xs[(u >> 6) * 72 + 18 * (v >> 4) + 4 * ut + (ut >> 1) + (v & 3u)] = __ldg((const uint4*)A + u);
        }
    } else {
        for (u32 u = threadIdx.x; u < (u32)(K >> 3); u += blockDim.x) {
            const u32 v = u % (16 * RG), ur = v >> 4, ut = (v >> 2) & 3u, uq = v & 3u;
            xs[(u - v) + 16 * ur + 4 * ut + (uq ^ ((((ut >> 1) << 1) + ur) & 3u))] = __ldg((const uint4*)A + u);
        }
    }
#if BNBQ_G4TC_T64
    const u32 tl = bnbq_g4_t64_table(bnbq_g4tc_dyn, (u32)(actu * 16) + ((u32)(ntiles * W * TR) << 2), code);
#else
    bnbq_g4_build_table(code);
    const u32 tl = bnbq_g4_tab_addr(lane * 4);
#endif
    __syncthreads();

    // B's column g: range g >> 1 (RG = 1: range 0 in every column), group g & 1. The lane loads its 32
    // elements' pairs of that range when the range exists and its group is the column's (xm), else
    // holds zeros.
    const u32 xr = RG == 1 ? 0u : g >> 1;
    const uint4* Ap = xs + 16 * xr + 4 * t;
    const u32 xsw = (((t >> 1) << 1) + xr) & 3u;   // the swizzle of the lane's units
    const int xm = (RG == 1 || (g >> 1) < RG) && (t >> 1) == (g & 1);
    const uint4* Xp = xs + 18 * (g >> 1) + 4 * t + (t >> 1);   // (xb) the lane's units of step 0
    float acc0 = 0.0f, acc1 = 0.0f;
    u32 cs = (u32)(j0 % S), ct = (u32)(j0 / S);
    for (u32 i0 = 0; i0 < total; i0 += BNBQ_G4TC_D) {
#pragma unroll
        for (int d = 0; d < BNBQ_G4TC_D; d++) {
            const u32 i = i0 + (u32)d;
            if (i < total) {   // the same in the whole warp
                BNBQ_G4TC_FETCH((d + BNBQ_G4TC_D - 1) % BNBQ_G4TC_D, i + BNBQ_G4TC_D - 1);
                u32 x[16];
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    uint4 v = make_uint4(0u, 0u, 0u, 0u);
                    if (xb) { if (xm) v = Xp[72 * cs + q]; }
                    else if (xm) v = Ap[16 * RG * cs + ((u32)q ^ xsw)];
                    x[4 * q] = v.x; x[4 * q + 1] = v.y; x[4 * q + 2] = v.z; x[4 * q + 3] = v.w;
                }
                const u32 wa[4] = { rw0[d].x, rw0[d].y, rw0[d].z, rw0[d].w };
                const u32 wb[4] = { rw1[d].x, rw1[d].y, rw1[d].z, rw1[d].w };
                // two accumulators (mmas 0..3 and 4..7), so that two chains of dependent mmas run
                float c[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, e[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
#pragma unroll
                for (int m = 0; m < 8; m++) {
                    const u32 a0 = bnbq_g4tc_q(wa[m >> 1], 2 * (m & 1), tl);
                    const u32 a2 = bnbq_g4tc_q(wa[m >> 1], 2 * (m & 1) + 1, tl);
                    const u32 a1 = bnbq_g4tc_q(wb[m >> 1], 2 * (m & 1), tl);
                    const u32 a3 = bnbq_g4tc_q(wb[m >> 1], 2 * (m & 1) + 1, tl);
                    bnbq_g4tc_mma(m < 4 ? c : e, a0, a1, a2, a3, x[2 * m], x[2 * m + 1]);
                }
#pragma unroll
                for (int k = 0; k < 4; k++) c[k] = c[k] + e[k];
                // c[0], c[1]: A's row g against columns 2t, 2t + 1 (range t, groups 0, 1); c[2],
                // c[3]: row g + 8. Those are its sums where t is the row's range (else they mix
                // ranges and are dropped at the tile's end). The lane holds the scale of group
                // t >> 1; lane t ^ 2 (same g) the other one.
                const float o0 = __shfl_xor_sync(BNBQ_G4_FULL, rs0[d], 2);
                const float o1 = __shfl_xor_sync(BNBQ_G4_FULL, rs1[d], 2);
                const float s00 = t < 2 ? rs0[d] : o0, s01 = t < 2 ? o0 : rs0[d];
                const float s10 = t < 2 ? rs1[d] : o1, s11 = t < 2 ? o1 : rs1[d];
                acc0 = fmaf(s00, c[0], acc0);
                acc0 = fmaf(s01, c[1], acc0);
                acc1 = fmaf(s10, c[2], acc1);
                acc1 = fmaf(s11, c[3], acc1);
                if (++cs == S || i + 1 == total) {   // the warp's part of tile tb0 + ct is done
                    float* rt = red + (ct * W + w) * TR;
                    if (RG == 1) {
                        if (t == 0) {
                            rt[g] = acc0;
                            rt[g + 8] = acc1;
                        }
                    } else {   // the weight row's ranges from its lanes (t == rg) into lane 8 (wr) or 4 wr
                        float v = (t == rg0 ? acc0 : 0.0f) + (t == rg1 ? acc1 : 0.0f);
                        v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 1);
                        v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 2);
                        if (RG == 4) v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 4);
                        if (t == 0 && (RG == 2 || (g & 1u) == 0)) rt[wr0] = v;
                    }
                    acc0 = acc1 = 0.0f;
                    if (cs == S) {
                        cs = 0;
                        ct++;
                    }
                }
            }
        }
    }
    __syncthreads();
    // every tile's partial sums are in; the tiles' sums are added after the barrier, while the block
    // holds its SM: this epilogue is on the critical path (probed without it, -session17-gemv-epilogue.txt:
    // +0.6-4.2 points back to back, the most at 14336x4096, whose blocks have 27-28 tiles for 24 warps).
    // Warp w adds the tiles w, w + W, ...: lane (j, r) (row r = lane % TR, j = lane / TR of G = 32 /
    // TR) adds warps j, j + G, ... in that order, then the G lanes of a row add theirs by a shuffle
    // butterfly (offsets TR .. 16); lane r stores. With 4-row tiles and more tiles than warps, each
    // half-warp takes a tile (tiles w + 2 W i and w + W + 2 W i: lane (h, j, r) adds warps j, j + 4, ...,
    // then offsets 4, 8), so that the block's 27-28 tiles at 14336x4096 take one round instead of two.
    // With the launcher's W (BNBQ_G4TC_MAXW) the warp loops are unrolled, their loads independent. (It
    // was lane r alone adding the W warps in order until session 16: W dependent shared loads a tile.)
    // Measured (session 17): back to back f16 81.9 / 79.6 / 80.2 -> 82.3 / 81.7 / 80.5 %, bf16 82.7 /
    // 80.8 / 81.2 -> 82.8 / 81.7 / 81.4 %. (Dropped: no end barrier, the last warp of each tile adding it
    // behind a shared-memory arrival counter: the fences it needs wait for the weights in flight, -2.)
    if (RG == 4 && W == BNBQ_G4TC_MAXW && ntiles > W) {
        const u32 hw = lane >> 4, r = lane & 3u, j = (lane >> 2) & 3u;
        for (u32 t0 = w; t0 < ntiles; t0 += 2 * W) {
            const u32 tt = t0 + hw * W;
            float v = 0.0f;
            if (tt < ntiles) {
#pragma unroll
                for (u32 k = j; k < BNBQ_G4TC_MAXW; k += 4) v = v + red[(tt * W + k) * 4 + r];
            }
            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 4);
            v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, 8);
            const u64 n = (tb0 + tt) * 4 + r;
            if (tt < ntiles && j == 0 && n < N) bnbq_g4_store(v, n, out, bias);
        }
    } else {
        for (u32 tt = w; tt < ntiles; tt += W) {
            const u32 G = 32 / TR, r = lane % TR;
            float v = 0.0f;
            if (W == BNBQ_G4TC_MAXW) {
#pragma unroll
                for (u32 k = lane / TR; k < BNBQ_G4TC_MAXW; k += G) v = v + red[(tt * W + k) * TR + r];
            } else {
                for (u32 k = lane / TR; k < W; k += G) v = v + red[(tt * W + k) * TR + r];
            }
#pragma unroll
            for (u32 o = TR; o < 32; o <<= 1) v = v + __shfl_xor_sync(BNBQ_G4_FULL, v, (int)o);
            const u64 n = (tb0 + tt) * TR + lane;
            if (lane < TR && n < N) bnbq_g4_store(v, n, out, bias);
        }
    }
#undef BNBQ_G4TC_FETCH
#undef BNBQ_G4TC_ROWS
}
#endif

// The launcher takes these kernels from the units "BNBQ_DT=1|2" (static table) and "BNBQ_DT=1|2
// BNBQ_G4TC_T64=1" on sm_80+ only: F32, sm_75 and the fast-order units (BNBQ_G4_FAST, whose
// bnbq_k_gemv4 is the fallback) do not define them, so that no unit is compiled (by
// bnbq_cuda_precompile, nvrtc-check) that nothing launches.
// Their register budget: __maxnreg__(80) (NVRTC 12.4+; 80 x 32 x 24 warps fit the 64K registers) rather
// than __launch_bounds__(768, 1), which also caps them at 80: the same registers, but ptxas schedules the
// body differently without the block-size bound. Measured on the H100 (bench_gpu --gemv-fast, % of copy,
// 8192^2 / 14336x4096 / 4096x14336, back to back, 2 rounds; bench/results/gpu-20261123-h100-session17-
// gemv-regcap.txt): f16 81.0 / 78.6 / 79.7 -> 81.9-82.2 / 79.6-79.7 / 80.1-80.3, bf16 81.9 / 79.9 / 80.3
// -> 82.5-82.6 / 80.7 / 81.1, single calls +0.5-1. Also measured: __maxnreg__(72) and (76) (within
// 0.5 of 80 in f16, 0.2-0.8 below it in bf16), __launch_bounds__(800, 1) (72 / 70 registers: bf16 +0.7,
// f16 -1 back to back), 25 warps a block (0.3-3 points below 24 warps of the same build back to back,
// though it balances the 14336 shapes' steps better: at most 9 instead of 10 a warp;
// -session17-gemv-wsweep.txt).
#if defined(__CUDACC_VER_MAJOR__) && (__CUDACC_VER_MAJOR__ > 12 || (__CUDACC_VER_MAJOR__ == 12 && __CUDACC_VER_MINOR__ >= 4))
#define BNBQ_G4TC_ATTR __maxnreg__(80)
#else
#define BNBQ_G4TC_ATTR __launch_bounds__(BNBQ_G4TC_MAXW * 32, 1)
#endif
#if BNBQ_G4TC_ON && !BNBQ_G4_FAST
extern "C" __global__ void BNBQ_G4TC_ATTR
bnbq_k_gemv4tc(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,
               void* out, const void* bias, bnbq_code16 code) {
    bnbq_g4tc_body<1>(A, packed, absmax, N, K, bs_shift, out, bias, code);
}
extern "C" __global__ void BNBQ_G4TC_ATTR
bnbq_k_gemv4tc_w(const void* A, const u8* packed, const float* absmax, u64 N, u64 K, int bs_shift,
                 void* out, const void* bias, bnbq_code16 code) {
    bnbq_g4tc_body<4>(A, packed, absmax, N, K, bs_shift, out, bias, code);
}
#endif
