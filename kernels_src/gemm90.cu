// The tile GEMMs on Hopper: TMA copies and wgmma (warpgroup) tensor-core instructions, for bnbq_gemm's 16-bit
// GEMM (bnbq_k_gemm_wg*), bnbq_int8_linear_matmul's many rows (bnbq_k_int8_wg), LLM.int8's product with
// int8_mm_dequant as its epilogue (bnbq_k_int8_wg_dq_*: bnbq_int8_mixed_scaled_mm's many rows) and SwitchBack's int8
// matmuls (bnbq_k_sb_wg; the int8 kernels below, in the BNBQ_DT=1 unit). Compiled as units BNBQ_DT=1 / BNBQ_DT=2 with
// BNBQ_ARCH_A=1 (variants in bnbq_cuda.h's BNBQ__CU_VARIANTS_PRIMS): bnbq_cuda.h builds such a unit as sm_90a
// where the target is sm_90 (cubin), the only architecture whose code may use wgmma and setmaxnreg; elsewhere
// the kernels are empty and the launchers (bnbq__cu_gemm_wg, bnbq__cu_i8_wg) never take them.
//
// 16-bit: out (M, N) = op(A) @ op(B) [+ bias], as prims.cu's bnbq_k_gemm_t2_* without accumulate (float32 sums;
// wgmma's k order within a step of 16 is the hardware's, the steps ascending: a result within the vectors'
// tolerance, not the same bytes as bnbq_k_gemm_t2_*). The int8 kernels' sums are exact (g9_gemm, I8).
// Tiles of 128 x BN outputs (BN 128 or 256) and 64 of K a stage, a ring of S stages in dynamic shared memory.
// A block: three warpgroups. Warpgroup 0 (its first thread) is the producer: for each stage it waits until the
// stage is free (its `empty` mbarrier), announces the bytes on its `full` mbarrier and issues the TMA copies
// (tensor maps built on the host, 128-byte swizzle, out-of-range elements read as zero: M, N and K need no
// multiple). Warpgroups 1 and 2 (the consumers) take 64 rows of the tile each: they wait for `full`, issue
// four m64nBNk16 wgmma instructions on the stage (descriptors into shared memory), and free the stage before
// once this one's group is in flight (wgmma.wait_group 1). The grid is persistent (at most one block an SM,
// tiles grid-strided in bnbq_tile_order), so the producer fills the next tile's stages while the consumers
// stage the last one's outputs for their TMA stores.
// Shared memory layouts, as TMA writes them with the 128-byte swizzle (16-byte chunk c of 128-byte row r at
// c ^ (r % 8)) and as the descriptors describe them (PTX ISA, "Matrix Descriptor Format"):
//   K contiguous (A as stored, B with trans_b): one box of 64 k x R rows, row r at 128 r; descriptor: K-major,
//     stride between 8-row groups (SBO) 1024, a k16 step 32 bytes further.
//   M or N contiguous (A with trans_a, B as stored): boxes of 64 rows x 64 k, k at 128 k inside a box, box b
//     (rows 64 b .. 64 b + 63) at 8192 b; descriptor: MN-major (the instruction's transpose bit), SBO 1024
//     between groups of 8 k, LBO 8192 between groups of 64 rows, a k16 step 2048 bytes further.

#if defined(BNBQ_DT) && BNBQ_DT != BNBQ_F32

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define G9_ON 1
#else
#define G9_ON 0
#endif
#if BNBQ_DT == BNBQ_F16
#define G9_TY "f16"
#else
#define G9_TY "bf16"
#endif

// a CUtensorMap (cuTensorMapEncodeTiled's 128 bytes), passed by value
struct __align__(64) g9_tmap {
    u64 q[16];
};

#if G9_ON
BNBQ_DEV void g9_bar_init(u32 bar, u32 count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
BNBQ_DEV void g9_bar_wait(u32 bar, u32 parity) {
    u32 ok;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(ok) : "r"(bar), "r"(parity) : "memory");
    } while (!ok);
}
BNBQ_DEV void g9_bar_expect(u32 bar, u32 bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
BNBQ_DEV void g9_bar_arrive(u32 bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
// the 2-D box at (c0, c1) (c0 along the contiguous dimension) of map into shared memory at dst; its bytes
// count on the mbarrier bar
BNBQ_DEV void g9_tma(u32 dst, const g9_tmap* map, u64 c0, u64 c1, u32 bar) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
                 ::"r"(dst), "l"((u64)map), "r"((int)c0), "r"((int)c1), "r"(bar) : "memory");
}
// the mbarriers of a ring of S stages (8 bytes apart): `full` (one arrival: the producer's, with its bytes) and
// `empty` (one arrival from each of the two consumer warpgroups)
template <int S>
BNBQ_DEV void g9_ring_init(u32 full, u32 empty) {
#pragma unroll
    for (int s = 0; s < S; s++) {
        g9_bar_init(full + 8u * (u32)s, 1u);
        g9_bar_init(empty + 8u * (u32)s, 2u);
    }
}
// a shared memory matrix descriptor: start address, leading / stride byte offsets, 128-byte swizzle
BNBQ_DEV u64 g9_desc(u32 addr, u32 lbo, u32 sbo) {
    return (u64)((addr & 0x3ffffu) >> 4) | ((u64)((lbo & 0x3ffffu) >> 4) << 16) |
           ((u64)((sbo & 0x3ffffu) >> 4) << 32) | (1ull << 62);
}
// the box of map at (c0, c1) from shared memory at src (128-byte swizzle), in this thread's bulk group; the
// warpgroup's writes to src must be fenced for the async proxy (fence.proxy.async) and synchronised first
BNBQ_DEV void g9_tma_store(const g9_tmap* map, u64 c0, u64 c1, u32 src) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];"
                 ::"l"((u64)map), "r"((int)c0), "r"((int)c1), "r"(src) : "memory");
}
// the 128 threads of consumer warpgroup c (named barrier 1 + c)
BNBQ_DEV void g9_wg_sync(u32 c) { asm volatile("bar.sync %0, 128;" ::"r"(1u + c) : "memory"); }
BNBQ_DEV void g9_sts(u32 addr, u32 v) { asm volatile("st.shared.u32 [%0], %1;" ::"r"(addr), "r"(v) : "memory"); }
BNBQ_DEV void g9_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
BNBQ_DEV void g9_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
BNBQ_DEV void g9_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory"); }
// The operand lists of the wgmma instructions below: "%0, ..., %63" and "%64, ..., %127", and the 64 sums
// d[o] .. d[o + 63] as in-out operands of constraint c ("+f" or "+r")
#define G9_OPS0_63                                                                   \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "          \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define G9_OPS64_127                                                                          \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "          \
    "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "          \
    "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
    "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
#define G9_D8(c, d, o) \
    c(d[(o)]), c(d[(o) + 1]), c(d[(o) + 2]), c(d[(o) + 3]), c(d[(o) + 4]), c(d[(o) + 5]), c(d[(o) + 6]), c(d[(o) + 7])
#define G9_D64(c, d, o)                                                                                          \
    G9_D8(c, d, (o)), G9_D8(c, d, (o) + 8), G9_D8(c, d, (o) + 16), G9_D8(c, d, (o) + 24), G9_D8(c, d, (o) + 32), \
        G9_D8(c, d, (o) + 40), G9_D8(c, d, (o) + 48), G9_D8(c, d, (o) + 56)
// d (this thread's 64 x BN / 128 float32 sums) += A (64 x 16, descriptor da) x B (16 x BN, db); TA / TB: the
// operand is MN-major (the instruction's transpose bits)
template <int TA, int TB>
BNBQ_DEV void g9_wgmma128(float* d, u64 da, u64 db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." G9_TY "." G9_TY " {"
                 G9_OPS0_63
                 "}, %64, %65, p, 1, 1, %67, %68;\n}\n"
                 : G9_D64("+f", d, 0)
                 : "l"(da), "l"(db), "n"(1), "n"(TA), "n"(TB));
}
template <int TA, int TB>
BNBQ_DEV void g9_wgmma256(float* d, u64 da, u64 db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32." G9_TY "." G9_TY " {"
                 G9_OPS0_63 ", " G9_OPS64_127
                 "}, %128, %129, p, 1, 1, %131, %132;\n}\n"
                 : G9_D64("+f", d, 0), G9_D64("+f", d, 64)
                 : "l"(da), "l"(db), "n"(1), "n"(TA), "n"(TB));
}
// d (int32 sums, 64 x 128 / 128 a thread) += A (64 x 32 s8, da) x B (32 x 128 s8, db): both K-major (8-bit wgmma has
// no transpose); the integer sums wrap exactly
BNBQ_DEV void g9_wgmma_i8(u32* d, u64 da, u64 db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {"
                 G9_OPS0_63
                 "}, %64, %65, p;\n}\n"
                 : G9_D64("+r", d, 0)
                 : "l"(da), "l"(db), "n"(1));
}
// keeps the compiler from moving reads or writes of the sums across the asynchronous wgmma instructions
template <int NR>
BNBQ_DEV void g9_hold(float* d) {
#pragma unroll
    for (int i = 0; i < NR; i++) asm volatile("" : "+f"(d[i])::"memory");
}
template <int NR>
BNBQ_DEV void g9_hold(u32* d) {
#pragma unroll
    for (int i = 0; i < NR; i++) asm volatile("" : "+r"(d[i])::"memory");
}
template <int I8> struct g9_acc { typedef u32 T; };
template <> struct g9_acc<0> { typedef float T; };
template <int BN, int TA, int TB>
BNBQ_DEV void g9_mma(float* d, u64 da, u64 db) {
    if (BN == 256) g9_wgmma256<TA, TB>(d, da, db);
    else g9_wgmma128<TA, TB>(d, da, db);
}
template <int BN, int TA, int TB>
BNBQ_DEV void g9_mma(u32* d, u64 da, u64 db) { g9_wgmma_i8(d, da, db); }
BNBQ_DEV void g9_sts2(u32 addr, u32 a, u32 b) {
    asm volatile("st.shared.v2.u32 [%0], {%1, %2};" ::"r"(addr), "r"(a), "r"(b) : "memory");
}
BNBQ_DEV uint4 g9_lds4(u32 addr) {
    uint4 v;
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr) : "memory");
    return v;
}
// The column statistic and widened bias (0 without one, and past N) of column col of the tile as two floats at
// dqs + 8 (col - n0): the first 64 threads of each consumer, columns 64 c + tid, when the tile begins
BNBQ_DEV void g9_dq_col(u32 dqs, const float* cs, int bdt, const void* bias, u64 col, u64 N, u32 slot) {
    const float cc = col < N ? cs[col] : 0.0f, bv = col < N ? bnbq_i8_mmdq_bias(bdt, bias, col) : 0.0f;
    g9_sts2(dqs + 8u * slot, __float_as_uint(cc), __float_as_uint(bv));
}
// LLM.int8's int8_mm_dequant (I8 3..5) of a thread's four int32 sums e (rows a, b: statistics ra, rb; columns n,
// n + 1 whose data g9_dq_col staged at dq) in place, as dtype OD's bits: prelude.cuh's bnbq_i8_mmdq_hv / _out, the
// bytes of int8.cu's bnbq_k_int8_mm_dequant (other: a bias that is not f16)
template <int OD>
BNBQ_DEV void g9_dq4(u32* e, float ra, float rb, u32 dq, bool other) {
    const uint4 v = g9_lds4(dq);   // (cc, bv) of n, then of n + 1
    const float c0 = __uint_as_float(v.x), b0 = __uint_as_float(v.y), c1 = __uint_as_float(v.z), b1 = __uint_as_float(v.w);
    if (OD == BNBQ_F32) {
        e[0] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[0], ra, c0, b0, other));
        e[1] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[1], ra, c1, b1, other));
        e[2] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[2], rb, c0, b0, other));
        e[3] = bnbq_i8_mmdq_out<OD>(bnbq_i8_mmdq_hv((int)e[3], rb, c1, b1, other));
        return;
    }
    // 16-bit out: bnbq_i8_mmdq_hv's roundings to f16 a pair at a time (bnbq_pack2: each value a result of arithmetic),
    // then (bf16) mmdq_out's narrowing of the widened f16 values, a pair at a time (0x7fff -> 0x7fff)
    const float a0 = other ? 0.0f : b0, a1 = other ? 0.0f : b1;
    u32 h01 = bnbq_pack2<BNBQ_F16>(fmaf(((float)(int)e[0] * ra) * c0, 6.200012e-05f, a0), fmaf(((float)(int)e[1] * ra) * c1, 6.200012e-05f, a1));
    u32 h23 = bnbq_pack2<BNBQ_F16>(fmaf(((float)(int)e[2] * rb) * c0, 6.200012e-05f, a0), fmaf(((float)(int)e[3] * rb) * c1, 6.200012e-05f, a1));
    if (other) {
        h01 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h01) + b0, bnbq_h2f_arith((u16)(h01 >> 16)) + b1);
        h23 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h23) + b0, bnbq_h2f_arith((u16)(h23 >> 16)) + b1);
    }
    if (OD == BNBQ_BF16) {
        h01 = bnbq_pack2<BNBQ_BF16>(bnbq_h2f_arith((u16)h01), bnbq_h2f_arith((u16)(h01 >> 16)));
        h23 = bnbq_pack2<BNBQ_BF16>(bnbq_h2f_arith((u16)h23), bnbq_h2f_arith((u16)(h23 >> 16)));
    }
    e[0] = h01 & 0xffffu; e[1] = h01 >> 16; e[2] = h23 & 0xffffu; e[3] = h23 >> 16;
}
// the two consumers' barrier (LLM.int8's epilogue: the column data of g9_dq_col are shared)
BNBQ_DEV void g9_dq_sync() { asm volatile("bar.sync 3, 256;" ::: "memory"); }
BNBQ_DEV void g9_sts4(u32 addr, uint4 v) {
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};" ::"r"(addr), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
}
// d (float32 sums, 64 x 128 / 128 a thread) += A (64 x 16, da) x B (16 x 128, db), f16 (BF = 0) or bf16 (BF = 1)
// operands, both K-major: LLM.int8's outlier product in the int8 kernels' epilogue (I8 6 / 7, the BNBQ_DT=1 unit)
template <int BF>
BNBQ_DEV void g9_wgmma_ol(float* d, u64 da, u64 db) {
    if (BF)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" G9_OPS0_63 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                     : G9_D64("+f", d, 0)
                     : "l"(da), "l"(db), "n"(1));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" G9_OPS0_63 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                     : G9_D64("+f", d, 0)
                     : "l"(da), "l"(db), "n"(1));
}
// the sums of bnbq_k_int8_wg_dqt_* (a thread's 64) as dt pairs, p[k] = (v[2 k], v[2 k + 1]) the first in the low half:
// one hardware RNE rounding a pair (prelude.cuh's bnbq_pack2). A NaN among them is 0x7fff as the CPU's: each value
// is a wgmma sum (the GPU's canonical NaN 0x7fffffff) or, without outlier columns, mm_dequant's value widened (its NaN
// 0x7fff widened), and either narrows to 0x7fff whether the conversion keeps the payload or not. (Until session 34
// a warp with a NaN took a second, per-value copy of this code: 59 -> 56 KB of cubin without it.) (A -0 stays -0,
// the same value: the CPU's f32(out) + S with S = +0 would give +0 where the dequantized value is -0.)
template <int BF, int NV>
BNBQ_DEV void g9_ol_out(const float* v, u32* p) {
#pragma unroll
    for (int k = 0; k < NV / 2; k++) p[k] = bnbq_pack2<BF ? BNBQ_BF16 : BNBQ_F16>(v[2 * k], v[2 * k + 1]);
}
#endif

// bnbq_k_int8_wg_dqt_*'s outlier operands: the gathered arrays (P columns a row), the inputs for the columns past P
struct g9_ol {
    const u16* Ag;
    const u16* Wg;
    u64 P;
    const u16* A;
    const i8* CB;
    const i32* cols;
    const i32* num_cols;
    u32* err;
};
#if G9_ON
// Chunk x (< 512) of consumer c's part of an outlier step into the output staging (ao: its A' rows, bo: B'; 128-byte
// rows, 16-byte chunk x % 8 of row x / 8 at (x % 8) ^ (row % 8), the 128-byte swizzle): va of A' row x / 8, vb of B'
// row 64 c + x / 8
BNBQ_DEV void g9_ol_sts(u32 ao, u32 bo, u32 c, u32 x, uint4 va, uint4 vb) {
    const u32 rr = x >> 3, sw16 = ((x & 7u) ^ (rr & 7u)) << 4;
    g9_sts4(ao + rr * 128u + sw16, va);
    g9_sts4(bo + (64u * c + rr) * 128u + sw16, vb);
}
// bnbq_ol_chunk's values (prelude.cuh), one column at a time: the rare path's compact form (its unrolled loads made
// ~10 KB of bnbq_k_int8_wg_dqt_*'s code)
template <int ODT>
BNBQ_DEV uint4 g9_ol_chunk1(const u16* A, const i8* CB, const float* SCB, const i32* cols, u64 M, u64 K, u64 r, u64 j0,
                            i32 nc, u32& bad) {
    u64 lo = 0u, hi = 0u;
    const bool wrow = r >= M;
    const float scb = wrow ? SCB[r - M] : 0.0f;
#pragma unroll 1
    for (u32 t = 0; t < 8u; t++) {
        u32 v = 0u;
        if (j0 + t < (u64)nc) {
            const i32 col = cols[j0 + t];
            if (col < 0 || (u64)col >= K) {
                bad = 1u;
            } else if (wrow) {
                const float w1 = bnbq_i8_outlier_w1((int)CB[(r - M) * K + (u64)col], scb);
                v = ODT == BNBQ_F16 ? (u32)bnbq_f16_canon(w1) : (u32)bnbq_bf16_canon(w1);
            } else {
                v = A[r * K + (u64)col];
            }
        }
        if (t < 4u) lo |= (u64)v << (16u * t);
        else hi |= (u64)v << (16u * (t - 4u));
    }
    return make_uint4((u32)lo, (u32)(lo >> 32), (u32)hi, (u32)(hi >> 32));
}
// The outlier operands' chunk of 64 columns at q0 > 0 (more than 64 outlier columns: rare) into the staging, by
// consumer c's thread tid (A' rows m0 .., B' rows 64 c .. of the tile's n0): the gathered values where q0 < P, else
// read from A and CB (g9_ol_chunk1: the values prims.cu's bnbq_k_outlier_gather16 gathers). A call of
// its own, out of the unrolled code (NVRTC time); the caller fences and synchronises.
template <int ODT>
__device__ __noinline__ void g9_ol_stage_rare(const g9_ol* ol, const float* SCB, u64 M, u64 N, u64 K, u64 m0, u64 n0,
                                              u32 c, u32 tid, i32 q0, i32 nc, u32 ao, u32 bo) {
    u32 bad = 0u;
#pragma unroll 1
    for (int i = 0; i < 4; i++) {
        const u32 x = tid + 128u * (u32)i, rr = x >> 3;
        const u64 ma = m0 + rr, nb = n0 + 64u * c + rr, j0 = (u64)q0 + 8u * (x & 7u);
        uint4 va = make_uint4(0u, 0u, 0u, 0u), vb = va;
        if (j0 < (u64)nc && (u64)q0 < ol->P) {
            if (ma < M) va = *(const uint4*)(ol->Ag + ma * ol->P + j0);
            if (nb < N) vb = *(const uint4*)(ol->Wg + nb * ol->P + j0);
        } else if (j0 < (u64)nc) {
            if (ma < M) va = g9_ol_chunk1<ODT>(ol->A, ol->CB, SCB, ol->cols, M, K, ma, j0, nc, bad);
            if (nb < N) vb = g9_ol_chunk1<ODT>(ol->A, ol->CB, SCB, ol->cols, M, K, M + nb, j0, nc, bad);
        }
        g9_ol_sts(ao, bo, c, x, va, vb);
    }
    if (bad) *ol->err = 1u;
}
#endif

// TA: A stored (K, M); TB: B stored (N, K) (bnbq_gemm's trans_a / trans_b). S stages of 128 x 64 (A) and
// BN x 64 (B) elements; dynamic shared memory: 1024 bytes of slack (the ring starts 1024-aligned), the
// ring, each consumer's staging of its 64 x BN outputs (BN / 64 boxes of 64 x 64 in the 128-byte swizzle),
// the 2 S mbarriers, then each consumer's BN floats of bias (I8 = 0; the launcher's BNBQ__CU_G9_BIAS). The
// outputs (bias added in float32, one rounding to dt) leave through the staging by
// TMA stores of mO (out (M, N), boxes of 64 x 64; rows and columns past M and N are not written): the stores
// run while the warpgroup goes on with its next tile, which reuses the staging once they have read it. (No
// accumulate, out 16-byte aligned, N % 8 == 0: the launcher's conditions. Writing the pairs from the
// registers instead took 2-3 times as long as the whole GEMM at K = 512, and tripled the unit's ptxas time.)
// I8 = 1 (with TA = 0, TB = 1, BN = 128, no bias): bnbq_int8_linear_matmul's int8 A (M, K) times B (N, K)^T into
// int32 out: the same ring with 128 k (bytes) a stage, m64n128k32 s8 instructions, int32 sums staged as boxes
// of 32 x 64 (128-byte rows). I8 = 2: SwitchBack's int8 matmul, each sum scaled to f16 on the way (bnbq_sb_scale
// with sx[m] and sw[n] (sw[0] when sw_global), then + bias[n] in f16: int8mm.cu's bnbq_mm_few_out<1>, the same
// bytes), staged as the 16-bit outputs are. I8 = 3 / 4 / 5: LLM.int8's int8_mm_dequant on the way (g9_dq4: row
// statistics sx, column statistics sw as floats, bias of dtype sw_global), out f16 / bf16 (staged as the 16-bit
// outputs) / f32 (staged as the int32 sums): int8.cu's bnbq_k_int8_mm_dequant of the int32 sums, the same bytes;
// the tile's column statistics and biases are staged in shared memory when it begins (g9_dq_col), and the two
// consumers' barriers around the epilogue are one barrier for both (g9_dq_sync) since they share them.
// I8 = 6 / 7 (bnbq_k_int8_wg_dqt_f16 / _bf16, ol: the outlier operands): I8 = 3 / 4's values widened to float32, then
// LLM.int8's outlier product added on the tensor cores (g9_wgmma_ol, 64 outlier columns a chunk staged in the output
// staging: the first chunk's values loaded while the mainloop runs), rounded to dt (g9_ol_out) and staged as 3 / 4.
template <int BN, int S, int TA, int TB, int I8>
BNBQ_DEV void g9_gemm(const g9_tmap* mA, const g9_tmap* mB, const g9_tmap* mO, u64 M, u64 N, u64 K, const void* bias,
                      const void* sx, const void* sw, int sw_global, const g9_ol* ol = 0) {
#if G9_ON
    typedef typename g9_acc<I8>::T AT;
    extern __shared__ unsigned char g9_smem[];
    const u32 OB = I8 == 1 || I8 == 5 ? 4u : 2u;   // bytes an output
    const u32 SA = 128u * 128u, ST = SA + (u32)BN * 128u, SO = 64u * (u32)BN * OB;
    const u32 KS = I8 ? 128u : 64u;   // k (elements) a stage
    const u32 sbase = ((u32)__cvta_generic_to_shared(g9_smem) + 1023u) & ~1023u;
    const u32 full = sbase + (u32)S * ST + 2u * SO, empty = full + 8u * (u32)S;   // mbarrier s at + 8 s
    const u32 dqs = full + 16u * (u32)S;   // LLM.int8 (I8 >= 3): the tile's column data (g9_dq_col), 1 KB; I8 = 0: bias
    const u32 wg = threadIdx.x >> 7, tid = threadIdx.x & 127u;
    const u64 tm = (M + 127u) / 128u, tn = (N + BN - 1u) / BN, KT = (K + KS - 1u) / KS, tiles = tm * tn;
    if (threadIdx.x == 0) {
        g9_ring_init<S>(full, empty);
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)
    // I8 >= 6: the outlier columns' count (clamped to [0, K]; bnbq_k_outlier_gather16 flagged one outside it)
    i32 nc = 0;
    if (I8 >= 6) {
        nc = *ol->num_cols;
        nc = nc < 0 ? 0 : (u64)nc > K ? (i32)K : nc;
    }
    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;");
        if (tid != 0) return;
        u64 it = 0;
        for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {
            u64 mt, nt;
            bnbq_tile_order(t, tm, tn, &mt, &nt);
            const u64 m0 = mt * 128u, n0 = nt * BN;
            for (u64 kt = 0; kt < KT; kt++, it++) {
                const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, st = sbase + s * ST, fb = full + 8u * s;
                const u64 k0 = kt * KS;
                g9_bar_wait(empty + 8u * s, ph ^ 1u);
                g9_bar_expect(fb, ST);
                if (!TA) g9_tma(st, mA, k0, m0, fb);
                else { g9_tma(st, mA, m0, k0, fb); g9_tma(st + 8192u, mA, m0 + 64u, k0, fb); }
                if (TB) g9_tma(st + SA, mB, k0, n0, fb);
                else {
#pragma unroll
                    for (int j = 0; j < BN / 64; j++) g9_tma(st + SA + 8192u * (u32)j, mB, n0 + 64u * (u64)j, k0, fb);
                }
            }
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;");
    const u32 c = wg - 1u, w = tid >> 5, lane = tid & 31u;
    u64 it = 0;
    for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        u64 mt, nt;
        bnbq_tile_order(t, tm, tn, &mt, &nt);
        const u64 m0 = mt * 128u + 64u * c, n0 = nt * BN;
        AT d[BN / 2];
#pragma unroll
        for (int i = 0; i < BN / 2; i++) d[i] = (AT)0;
        // LLM.int8 (I8 >= 3): the statistics of this thread's rows (0 past M: those outputs are not written) into
        // registers, the tile's columns' statistics and biases into shared memory (g9_dq_col), for the epilogue
        float ra = 0.0f, rb = 0.0f;
        if (I8 >= 3) {   // (rows 16 w + lane / 4 and + 8: the epilogue's r)
            const u64 ma = m0 + 16u * w + (lane >> 2), mb = ma + 8u;
            ra = ma < M ? ((const float*)sx)[ma] : 0.0f;
            rb = mb < M ? ((const float*)sx)[mb] : 0.0f;
            if (tid < 64u) g9_dq_col(dqs, (const float*)sw, sw_global, bias, n0 + 64u * c + tid, N, 64u * c + tid);
        }
        // 16-bit GEMM (I8 = 0): the tile's bias widened into this consumer's BN floats at dqs + 4 BN c, -0 without a
        // bias and past N (v + -0 is v for every v: the epilogue adds it without a branch; its loads and bounds
        // checks out of the unrolled code, which they were a quarter of). Written after the last tile's epilogue
        // read them (its closing g9_wg_sync), read after the epilogue's first g9_wg_sync.
        // SwitchBack (I8 = 2): the tile's column scales (0 past N) and f16 bias (-0 without one) widened, as pairs at
        // dqs + 8 (BN c + column) (the same reasons; bnbq_k_sb_wg 41 -> 25 KB of code)
        if (I8 == 0 || I8 == 2) {
#pragma unroll
            for (int k = 0; k < BN / 128; k++) {
                const u32 i = tid + 128u * (u32)k;
                const u64 col = n0 + i;
                if (I8 == 0) {
                    g9_sts(dqs + 4u * ((u32)BN * c + i), __float_as_uint(bias && col < N ? bnbq_dt_ld(bias, col) : -0.0f));
                } else {
                    const float wv = col < N ? bnbq_h2f_arith(((const u16*)sw)[sw_global ? 0 : col]) : 0.0f;
                    const float bv = bias && col < N ? bnbq_h2f_arith(((const u16*)bias)[col]) : -0.0f;
                    g9_sts2(dqs + 8u * ((u32)BN * c + i), __float_as_uint(wv), __float_as_uint(bv));
                }
            }
        }
        // I8 >= 6: this thread's part of the outlier operands' first 64 columns (for the epilogue, loaded while the
        // mainloop runs): chunk i of 4 is 16-byte chunk x % 8 of row x / 8 (x = tid + 128 i) of the consumer's A' rows
        // (m0 ..) and of B' rows 64 c .. 64 c + 63 (the tile's columns n0 + 64 c ..); always gathered (P >= 64)
        uint4 pa[4], pb[4];
        if (I8 >= 6) {
            const u32 j0 = 8u * (tid & 7u);
            const u64 ma = m0 + (tid >> 3), nb = n0 + 64u * c + (tid >> 3);
            const uint4* ga = (const uint4*)(ol->Ag + ma * ol->P + j0);
            const uint4* gb = (const uint4*)(ol->Wg + nb * ol->P + j0);
            const u64 st16 = 16u * ol->P / 8u;   // 16 rows, in uint4
#pragma unroll
            for (int i = 0; i < 4; i++) {
                pa[i] = pb[i] = make_uint4(0u, 0u, 0u, 0u);
                if ((i32)j0 < nc && ma + 16u * (u64)i < M) pa[i] = ga[st16 * (u64)i];
                if ((i32)j0 < nc && nb + 16u * (u64)i < N) pb[i] = gb[st16 * (u64)i];
            }
        }
        u32 prev = 0;
        for (u64 kt = 0; kt < KT; kt++, it++) {
            const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, st = sbase + s * ST;
            g9_bar_wait(full + 8u * s, ph);
            const u32 a0 = st + 8192u * c, b0 = st + SA;
            g9_hold<BN / 2>(d);
            g9_fence();
#pragma unroll
            for (u32 kk = 0; kk < 4u; kk++) {
                const u64 da = TA ? g9_desc(a0 + 2048u * kk, 8192u, 1024u) : g9_desc(a0 + 32u * kk, 16u, 1024u);
                const u64 db = TB ? g9_desc(b0 + 32u * kk, 16u, 1024u) : g9_desc(b0 + 2048u * kk, 8192u, 1024u);
                g9_mma<BN, TA, !TB>(d, da, db);
            }
            g9_commit();
            g9_wait<1>();   // the stage before this one is read: free it
            g9_hold<BN / 2>(d);
            if (kt > 0 && tid == 0) g9_bar_arrive(empty + 8u * prev);
            prev = s;
        }
        g9_wait<0>();
        g9_hold<BN / 2>(d);
        if (KT > 0 && tid == 0) g9_bar_arrive(empty + 8u * prev);
        // sums: for each 8 columns j, d[4 j], d[4 j + 1] at row 16 w + lane / 4, columns 8 j + 2 (lane % 4) + 0 / 1;
        // d[4 j + 2], d[4 j + 3] the same 8 rows further
        const u32 r = 16u * w + (lane >> 2), q = lane & 3u, stg = sbase + (u32)S * ST + c * SO;
        if (tid == 0) asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");   // the last tile's stores
        if (I8 >= 3) g9_dq_sync();   // (also: both consumers' column data are written)
        else g9_wg_sync(c);
        const bool other = I8 >= 3 && bias && sw_global != BNBQ_F16;   // (LLM.int8: a bias added after the f16 rounding)
        const u64 ma = m0 + r, mb = ma + 8u;
        if (OB == 4u) {
#pragma unroll
            for (int j = 0; j < BN / 8; j++) {   // box j / 4 (32 columns), 16-byte chunk 2 (j % 4) + q / 2, bytes 8 (q % 2)
                const u32 ch = 2u * ((u32)j & 3u) + (q >> 1);
                const u32 at = stg + 8192u * (u32)(j / 4) + r * 128u + ((ch ^ (r & 7u)) << 4) + 8u * (q & 1u);
                u32 e[4] = { (u32)d[4 * j], (u32)d[4 * j + 1], (u32)d[4 * j + 2], (u32)d[4 * j + 3] };
                if (I8 == 5) g9_dq4<BNBQ_F32>(e, ra, rb, dqs + 8u * (8u * (u32)j + 2u * q), other);
                g9_sts2(at, e[0], e[1]);
                g9_sts2(at + 1024u, e[2], e[3]);
            }
        } else {
            // SwitchBack (I8 = 2): the rows' and columns' scales (0 past M / N: those outputs are not written)
            const float xa = I8 == 2 && ma < M ? bnbq_h2f_arith(((const u16*)sx)[ma]) : 0.0f;
            const float xb = I8 == 2 && mb < M ? bnbq_h2f_arith(((const u16*)sx)[mb]) : 0.0f;
            // I8 >= 6: f = the dequantized values (mm_dequant's dt bits, widened), then + the outlier product on the
            // tensor cores, 64 outlier columns a chunk: A' (the consumer's 64 rows) and B' (the tile's 128 columns)
            // staged in the output staging (A' of consumer 0 at its first 8 KB, B' the 16 KB after it, A' of
            // consumer 1 the last 8 KB; 128-byte rows in the 128-byte swizzle, K-major as the mainloop's operands)
            float f[BN / 2];
            u32 pk[BN / 4];
            if (I8 >= 6) {
#pragma unroll
                for (int j = 0; j < BN / 8; j++) {
                    u32 e[4] = { (u32)d[4 * j], (u32)d[4 * j + 1], (u32)d[4 * j + 2], (u32)d[4 * j + 3] };
                    g9_dq4<I8 == 6 ? BNBQ_F16 : BNBQ_BF16>(e, ra, rb, dqs + 8u * (8u * (u32)j + 2u * q), other);
#pragma unroll
                    for (int i = 0; i < 4; i++)
                        f[4 * j + i] = I8 == 6 ? bnbq_h2f_arith((u16)e[i]) : __uint_as_float(e[i] << 16);
                }
                const u32 stg0 = sbase + (u32)S * ST, ao = stg0 + (c ? SO + 8192u : 0u), bo = stg0 + 8192u;
                for (i32 q0 = 0; q0 < nc; q0 += 64) {
                    if (q0 == 0) {
#pragma unroll
                        for (int i = 0; i < 4; i++) g9_ol_sts(ao, bo, c, tid + 128u * (u32)i, pa[i], pb[i]);
                    } else {
                        g9_dq_sync();   // both consumers' products of the chunk before are done
                        g9_ol_stage_rare<I8 == 6 ? BNBQ_F16 : BNBQ_BF16>(ol, (const float*)sw, M, N, K, m0, n0, c, tid, q0,
                                                                          nc, ao, bo);
                    }
                    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");   // visible to wgmma
                    g9_dq_sync();
                    g9_hold<BN / 2>(f);
                    g9_fence();
#pragma unroll
                    for (u32 kk = 0; kk < 4u; kk++)
                        g9_wgmma_ol<I8 == 7>(f, g9_desc(ao + 32u * kk, 16u, 1024u), g9_desc(bo + 32u * kk, 16u, 1024u));
                    g9_commit();
                    g9_wait<0>();
                    g9_hold<BN / 2>(f);
                }
                if (nc > 0) g9_dq_sync();   // both are done with B' before the staging takes the outputs
                g9_ol_out<I8 == 7, BN / 2>(f, pk);
            }
#pragma unroll
            for (int j = 0; j < BN / 8; j++) {
                u32 p0, p1;   // (columns n0 + 8 j + 2 q and + 1)
                if (I8 == 2) {   // bnbq_sb_scale's values, then + bias in f16 (+ -0 without one keeps each value)
                    float w0, b0, w1, b1;
                    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(w0), "=f"(b0), "=f"(w1), "=f"(b1)
                                 : "r"(dqs + 8u * ((u32)BN * c + 8u * (u32)j + 2u * q)) : "memory");
                    const u32 h01 = bnbq_pack2<BNBQ_F16>(w0 * (xa * ((float)(i32)d[4 * j] * 6.20001229e-05f)),
                                             w1 * (xa * ((float)(i32)d[4 * j + 1] * 6.20001229e-05f)));
                    const u32 h23 = bnbq_pack2<BNBQ_F16>(w0 * (xb * ((float)(i32)d[4 * j + 2] * 6.20001229e-05f)),
                                             w1 * (xb * ((float)(i32)d[4 * j + 3] * 6.20001229e-05f)));
                    p0 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h01) + b0, bnbq_h2f_arith((u16)(h01 >> 16)) + b1);
                    p1 = bnbq_pack2<BNBQ_F16>(bnbq_h2f_arith((u16)h23) + b0, bnbq_h2f_arith((u16)(h23 >> 16)) + b1);
                } else if (I8 >= 6) {   // out = dt(f32(mm_dequant's value) + outlier sum)
                    p0 = pk[2 * j];
                    p1 = pk[2 * j + 1];
                } else if (I8 >= 3) {
                    u32 e[4] = { (u32)d[4 * j], (u32)d[4 * j + 1], (u32)d[4 * j + 2], (u32)d[4 * j + 3] };
                    g9_dq4<I8 == 3 ? BNBQ_F16 : BNBQ_BF16>(e, ra, rb, dqs + 8u * (8u * (u32)j + 2u * q), other);
                    p0 = e[0] | (e[1] << 16);
                    p1 = e[2] | (e[3] << 16);
                } else {   // + the staged bias of columns n, n + 1
                    float b0, b1;
                    asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];" : "=f"(b0), "=f"(b1)
                                 : "r"(dqs + 4u * ((u32)BN * c + 8u * (u32)j + 2u * q)) : "memory");
                    const float v0 = d[4 * j] + b0, v1 = d[4 * j + 1] + b1, v2 = d[4 * j + 2] + b0, v3 = d[4 * j + 3] + b1;
                    p0 = bnbq_dt_pack2(v0, v1);
                    p1 = bnbq_dt_pack2(v2, v3);
                }
                // box j / 8, 16-byte chunk j % 8 of rows r and r + 8 (the same r % 8), bytes 4 q
                const u32 at = stg + 8192u * (u32)(j / 8) + r * 128u + ((((u32)j & 7u) ^ (r & 7u)) << 4) + 4u * q;
                g9_sts(at, p0);
                g9_sts(at + 1024u, p1);
            }
        }
        asm volatile("fence.proxy.async.shared::cta;" ::: "memory");   // visible to the TMA store
        if (I8 >= 3) g9_dq_sync();   // (also: both consumers have read the column data: the next tile may write them)
        else g9_wg_sync(c);
        if (tid == 0) {
            const u32 bw = OB == 4u ? 32u : 64u;   // columns a box
#pragma unroll
            for (int b = 0; b < (int)(BN / bw); b++) g9_tma_store(mO, n0 + bw * (u64)b, m0, stg + 8192u * (u32)b);
            asm volatile("cp.async.bulk.commit_group;" ::: "memory");
        }
    }
    if (tid == 0) asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");   // done before the exit
#else
    (void)mA; (void)mB; (void)mO; (void)M; (void)N; (void)K; (void)bias; (void)sx; (void)sw; (void)sw_global;
#endif
}

#define G9_S128 6   // stages of the 128 x 128 tiles (32 KB each; the launcher's BNBQ__CU_G9_S128)
#define G9_S256 3   // stages of the 128 x 256 tiles (48 KB each; BNBQ__CU_G9_S256)
// the kernels' parameters: the tensor maps of A, B and out, the shape, the bias (NULL: none)
#define G9_PARAMS                                                                                                   \
    const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO, u64 M, \
        u64 N, u64 K, const void* bias
// bnbq_k_gemm_wg_<a><b>: 128 x 128 tiles; _wg2_: 128 x 256 (a: A stored (K, M) when t, b: B stored (N, K) when t)
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_nn(G9_PARAMS) {
    g9_gemm<128, G9_S128, 0, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_nt(G9_PARAMS) {
    g9_gemm<128, G9_S128, 0, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_tn(G9_PARAMS) {
    g9_gemm<128, G9_S128, 1, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg_tt(G9_PARAMS) {
    g9_gemm<128, G9_S128, 1, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_nn(G9_PARAMS) {
    g9_gemm<256, G9_S256, 0, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_nt(G9_PARAMS) {
    g9_gemm<256, G9_S256, 0, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_tn(G9_PARAMS) {
    g9_gemm<256, G9_S256, 1, 0, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_gemm_wg2_tt(G9_PARAMS) {
    g9_gemm<256, G9_S256, 1, 1, 0>(&mA, &mB, &mO, M, N, K, bias, 0, 0, 0);
}

// bnbq_int8_linear_matmul's many rows (the launcher's conditions: K % 16 == 0, A, B and out 16-byte aligned,
// N % 4 == 0); in the BNBQ_DT=1 unit only (it has no dtype)
#define G9_SI8 5   // stages (32 KB each; BNBQ__CU_G9_SI8)
#if BNBQ_DT == BNBQ_F16
extern "C" __global__ void __launch_bounds__(384, 1)
bnbq_k_int8_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO,
               u64 M, u64 N, u64 K) {
    g9_gemm<128, G9_SI8, 0, 1, 1>(&mA, &mB, &mO, M, N, K, (const void*)0, 0, 0, 0);
}
// SwitchBack's int8 matmul with its scaling (int8_matmul_rowwise / mixed_dequantize; the launcher: also N % 8 == 0)
extern "C" __global__ void __launch_bounds__(384, 1)
bnbq_k_sb_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO,
             u64 M, u64 N, u64 K, const u16* sx, const u16* sw, int sw_global, const u16* bias) {
    g9_gemm<128, G9_SI8, 0, 1, 2>(&mA, &mB, &mO, M, N, K, (const void*)bias, sx, sw, sw_global);
}
// LLM.int8's int8 matmul with int8_mm_dequant as its epilogue (bnbq_int8_mixed_scaled_mm's many rows: no int32
// intermediate, no mm_dequant pass), out f16 / bf16 / f32 (the launcher: N % 8 == 0 for the 16-bit ones, N % 4 == 0
// for f32; dynamic shared memory: bnbq_k_int8_wg's + 1 KB for the tile's column data); rs, cs: row and column
// statistics, bias of dtype bias_dt or NULL. On the H100 (bench/results/gpu-20261124-h100-session27-int8dq.txt):
// 130 us at 4096^3 against 121 + 33 for bnbq_k_int8_wg + bnbq_k_int8_mm_dequant; Linear8bitLt 3-23 % faster.
#define G9_DQ_PARAMS                                                                                                \
    const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mB, const __grid_constant__ g9_tmap mO, u64 M, \
        u64 N, u64 K, const float* rs, const float* cs, int bias_dt, const void* bias
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dq_f16(G9_DQ_PARAMS) {
    g9_gemm<128, G9_SI8, 0, 1, 3>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dq_bf16(G9_DQ_PARAMS) {
    g9_gemm<128, G9_SI8, 0, 1, 4>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dq_f32(G9_DQ_PARAMS) {
    g9_gemm<128, G9_SI8, 0, 1, 5>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt);
}
// The same with LLM.int8's outlier product added in the epilogue on the tensor cores (bnbq_int8_mixed_scaled_mm's many
// rows with outlier columns, f16 / bf16, unless bnbq_cuda_desc.exact_outlier_sums): out = dt(f32(mm_dequant's dt
// value) + S) with S the products of the outlier columns' A and dequantized weights (exact in float32) summed by
// wgmma (its order and roundings: within tolerance(dt) of the CPU's sequential sum, as bitsandbytes' own cuBLAS
// addmm is). Operands from bnbq_k_outlier_gather16 (Ag, Wg: P columns a row), columns past P from A, CB and cols.
#define G9_OL_PARAMS \
    const u16 *Ag, const u16 *Wg, u64 P, const u16 *A, const i8 *CB, const i32 *cols, const i32 *num_cols, u32 *err
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dqt_f16(G9_DQ_PARAMS, G9_OL_PARAMS) {
    const g9_ol ol = { Ag, Wg, P, A, CB, cols, num_cols, err };
    g9_gemm<128, G9_SI8, 0, 1, 6>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt, &ol);
}
extern "C" __global__ void __launch_bounds__(384, 1) bnbq_k_int8_wg_dqt_bf16(G9_DQ_PARAMS, G9_OL_PARAMS) {
    const g9_ol ol = { Ag, Wg, P, A, CB, cols, num_cols, err };
    g9_gemm<128, G9_SI8, 0, 1, 7>(&mA, &mB, &mO, M, N, K, bias, rs, cs, bias_dt, &ol);
}
#endif

// ---- bnbq_matmul_4bit's many rows on the sm_90a tiles: out (M, N) = A (M, K) @ W^T [+ bias], W 4-bit (N, K) ----
// Each weight as bnbq_k_matmul4 makes it, dt(table[nibble] * absmax[(n K + k) / blocksize]) (the float32 product,
// one rounding), then wgmma products with float32 sums, + bias, one rounding to dt (a result within the vectors'
// tolerance, as bnbq_k_gemm_wg_nt's): the 16-bit weight is never written, not even to shared memory. The roles
// are swapped: the weight is wgmma's A operand, taken from registers, and the tokens its B operand (shared
// memory), so a block's tile is 128 rows of W (n) x G9_M4T tokens (m) and the sums are out^T's.
// A block: three warpgroups. Warpgroup 0: its thread 0 issues the TMA copies of the tokens' 64-k stages into a
// ring of G9_M4S (boxes of 64 k x G9_M4T rows, 128-byte swizzle: g9_gemm's K-major B layout); its thread 32 the
// packed weight's boxes of 128 rows x 128 bytes (256 k, four stages) into a ring of two. Warpgroups 1-2
// (consumer c: W rows 64 c .. 64 c + 63 of the tile; each thread reads its rows' absmax, one a row and 32 k,
// from global memory a stage ahead) build each k16 step's A fragment themselves: lane (g, q) of warp w holds rows
// 16 w + g and + 8, k 2 q, 2 q + 1 and 2 q + 8, 2 q + 9 (the mma.m16n8k16 layout): byte q of the step's two packed
// words of each row. A stage: its fragments (16 registers) converted, its four wgmma, wgmma.wait_group 0, the
// stage freed; the two consumers' stages interleave on the tensor cores. (Converting the next stage while the
// group before runs, wait_group 1, made ptxas serialize every wgmma, its warning C7513: ~10 % slower; it took two
// fragment sets, one is enough after wait_group 0.) The sums (row n, column m) leave through a transposed
// staging (out's rows are m) and TMA stores, as g9_gemm's consumers'.
// The launcher: K % 32 == 0 (k past K, half a stage, and rows past N read as zeros), A, packed and out 16-byte
// aligned, N % 8 == 0. Measured on the H100 (bench/results/gpu-20261124-h100-session25-m4wg.txt, call c10):
// 305-369 TFLOP/s at 512 and 4096 tokens (the 64 x 64 tiles before it: 19-20), 1.2-2.0x the time of
// dequantize_4bit + bnbq_gemm, which Linear4bit keeps: every tile of tokens converts its weights again, and the
// conversion (table read, product, rounding a weight) is the bound. Slower designs tried there: converting
// warpgroups writing the weight's B stages in shared memory (shared-memory bandwidth), one fragment set with
// wait_group 1 (a race: wrong sums), absmax staged by producer warps (racecheck cannot see their mbarrier sync).
#define G9_M4S 6     // stages of tokens (16 KB each; the launcher's BNBQ__CU_G9_M4S)
#define G9_M4T 128   // tokens a tile
struct g9_code16 {
    float v[16];
};
#if G9_ON
// the two weights of packed byte b (bits 0..7; high nibble first) times s as a dt pair, the first in the low half
BNBQ_DEV u32 g9_m4_byte(const float* tab, u32 b, float s) {
    return bnbq_dt_pack2(tab[(b >> 4) & 15u] * s, tab[b & 15u] * s);
}
// d (this thread's 64 x 128 / 128 float32 sums) += A (64 x 16, registers a) x B (16 x 128, descriptor db, K-major)
BNBQ_DEV void g9_wgmma128_ra(float* d, const u32* a, u64 db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." G9_TY "." G9_TY " {"
                 G9_OPS0_63
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
                 : G9_D64("+f", d, 0)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "n"(1));
}
BNBQ_DEV void g9_hold4(u32* a) {
#pragma unroll
    for (int i = 0; i < 16; i++) asm volatile("" : "+r"(a[i])::"memory");
}
// The absmax of stage kt's two halves of this thread's rows (flat indices ka + k, kb + k; rows va / vb inside W;
// 0 past K or N) into sc[0..3]
BNBQ_DEV void g9_m4_scales(float* sc, const float* absmax, u64 ka, u64 kb, bool va, bool vb, u64 kt, u64 K, int sh) {
    const u64 k0 = kt * 64u, k1 = k0 + 32u;
    sc[0] = va ? absmax[(ka + k0) >> sh] : 0.0f;
    sc[1] = va && k1 < K ? absmax[(ka + k1) >> sh] : 0.0f;
    sc[2] = vb ? absmax[(kb + k0) >> sh] : 0.0f;
    sc[3] = vb && k1 < K ? absmax[(kb + k1) >> sh] : 0.0f;
}
// One stage kt of bnbq_k_m4_wg's consumer c (thread tid: rows ra, rb of the tile's W, byte q of each word): its A
// fragments into a (sc: this stage's absmax; the next stage's read into it), the wgmma group on the token stage,
// its wait (wait_group 0: a is free again for the next stage), then the token stage freed (its `empty` mbarrier,
// one arrival a consumer). Counters: it (stages), ir (packed boxes).
BNBQ_DEV void g9_m4_stage(float* d, u32* a, float* sc, u64 kt, u64 KT, u64& it, u64& ir, u32 c,
                          u32 tid, u32 ra, u32 rb, u32 q, u32 sbase, u32 raw, u32 full, u32 empty, u32 rfull, u32 rempty,
                          const float* tab, const float* absmax, u64 ka, u64 kb, bool va, bool vb, u64 K, int bs_shift) {
    const int S = G9_M4S;
    const u32 ST = G9_M4T * 128u, SR = 128u * 128u;
    // this stage's absmax (read a stage before), the next stage's now
    const float sa0 = sc[0], sa1 = sc[1], sb0 = sc[2], sb1 = sc[3];
    if (kt + 1u < KT) g9_m4_scales(sc, absmax, ka, kb, va, vb, kt + 1u, K, bs_shift);
    const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, qq = (u32)(kt & 3u);
    const u32 rs = (u32)(ir & 1u), rph = (u32)(ir >> 1) & 1u;
    if (qq == 0u) g9_bar_wait(rfull + 8u * rs, rph);
    // rows ra / rb: the stage's 32 packed bytes (logical chunks 2 qq, 2 qq + 1 of the row in the box)
    const u32 la = raw + rs * SR + ra * 128u, lb = raw + rs * SR + rb * 128u, sw = ra & 7u;   // (rb % 8 == ra % 8)
    const uint4 xa0 = g9_lds4(la + (((2u * qq) ^ sw) << 4)), xa1 = g9_lds4(la + (((2u * qq + 1u) ^ sw) << 4));
    const uint4 xb0 = g9_lds4(lb + (((2u * qq) ^ sw) << 4)), xb1 = g9_lds4(lb + (((2u * qq + 1u) ^ sw) << 4));
    if ((qq == 3u || kt + 1u == KT)) {   // the box is read: free it (one arrival a warpgroup)
        g9_wg_sync(c);
        if (tid == 0) g9_bar_arrive(rempty + 8u * rs);
        ir++;
    }
    // byte q of each word: step j takes words 2 j (k 2 q, 2 q + 1) and 2 j + 1 (k 2 q + 8, 2 q + 9)
    const u32 sh = 8u * q;
    const u32 wa[8] = { xa0.x >> sh, xa0.y >> sh, xa0.z >> sh, xa0.w >> sh, xa1.x >> sh, xa1.y >> sh, xa1.z >> sh, xa1.w >> sh };
    const u32 wb[8] = { xb0.x >> sh, xb0.y >> sh, xb0.z >> sh, xb0.w >> sh, xb1.x >> sh, xb1.y >> sh, xb1.z >> sh, xb1.w >> sh };
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const float ka = j < 2 ? sa0 : sa1, kb = j < 2 ? sb0 : sb1;
        a[4 * j + 0] = g9_m4_byte(tab, wa[2 * j], ka);
        a[4 * j + 1] = g9_m4_byte(tab, wb[2 * j], kb);
        a[4 * j + 2] = g9_m4_byte(tab, wa[2 * j + 1], ka);
        a[4 * j + 3] = g9_m4_byte(tab, wb[2 * j + 1], kb);
    }
    g9_bar_wait(full + 8u * s, ph);
    g9_hold<G9_M4T / 2>(d);
    g9_hold4(a);
    g9_fence();
    const u32 b0 = sbase + s * ST;
#pragma unroll
    for (u32 kk = 0; kk < 4u; kk++) g9_wgmma128_ra(d, a + 4u * kk, g9_desc(b0 + 32u * kk, 16u, 1024u));
    g9_commit();
    g9_wait<0>();   // this stage is read: free it
    g9_hold<G9_M4T / 2>(d);
    g9_hold4(a);
    if (tid == 0) g9_bar_arrive(empty + 8u * s);
    it++;
}
#endif
extern "C" __global__ void __launch_bounds__(384, 1)
bnbq_k_m4_wg(const __grid_constant__ g9_tmap mA, const __grid_constant__ g9_tmap mW, const __grid_constant__ g9_tmap mO,
             u64 M, u64 N, u64 K, const void* bias, const float* absmax, int bs_shift, const __grid_constant__ g9_code16 code) {
#if G9_ON
    const int S = G9_M4S;
    extern __shared__ unsigned char g9_smem_m4[];
    __shared__ float tab[16];
    const u32 ST = G9_M4T * 128u, SO = 64u * G9_M4T * 2u, SR = 128u * 128u;
    const u32 sbase = ((u32)__cvta_generic_to_shared(g9_smem_m4) + 1023u) & ~1023u;
    const u32 raw = sbase + (u32)S * ST + 2u * SO;    // the packed weight's ring of two boxes
    const u32 full = raw + 2u * SR, empty = full + 8u * (u32)S, rfull = empty + 8u * (u32)S, rempty = rfull + 16u;
    const u32 wg = threadIdx.x >> 7, tid = threadIdx.x & 127u;
    // tiles: tw (128 rows of W) x tt (G9_M4T tokens)
    const u64 tw = (N + 127u) / 128u, tt = (M + G9_M4T - 1u) / G9_M4T, KT = (K + 63u) / 64u, KR = (K + 255u) / 256u;
    const u64 tiles = tw * tt;
    if (threadIdx.x < 16) tab[threadIdx.x] = code.v[threadIdx.x];
    if (threadIdx.x == 0) {
        g9_ring_init<S>(full, empty);
        for (int s = 0; s < 2; s++) {
            g9_bar_init(rfull + 8u * (u32)s, 1u);
            g9_bar_init(rempty + 8u * (u32)s, 2u);
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    bnbq_pdl_wait();   // (launched with bnbq__cu_launch_pdl: the kernel before it first)
    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 56;");
        if (tid == 0) {   // the tokens: 64 k x G9_M4T rows a stage
            u64 it = 0;
            for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {
                u64 wt, mt;
                bnbq_tile_order(t, tw, tt, &wt, &mt);
                for (u64 kt = 0; kt < KT; kt++, it++) {
                    const u32 s = (u32)(it % S), ph = (u32)(it / S) & 1u, fb = full + 8u * s;
                    g9_bar_wait(empty + 8u * s, ph ^ 1u);
                    g9_bar_expect(fb, ST);
                    g9_tma(sbase + s * ST, &mA, kt * 64u, mt * G9_M4T, fb);
                }
            }
        } else if (tid == 32) {   // the packed weight: 256 k (128 bytes) of 128 rows a box
            u64 it = 0;
            for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {
                u64 wt, mt;
                bnbq_tile_order(t, tw, tt, &wt, &mt);
                for (u64 kr = 0; kr < KR; kr++, it++) {
                    const u32 s = (u32)(it & 1u), ph = (u32)(it >> 1) & 1u, fb = rfull + 8u * s;
                    g9_bar_wait(rempty + 8u * s, ph ^ 1u);
                    g9_bar_expect(fb, SR);
                    g9_tma(raw + s * SR, &mW, kr * 128u, wt * 128u, fb);
                }
            }
        }
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;");
    const u32 c = wg - 1u, w = tid >> 5, lane = tid & 31u, g = lane >> 2, q = lane & 3u;
    const u32 ra = 64u * c + 16u * w + g, rb = ra + 8u;   // this thread's rows of the tile's W
    u64 it = 0, ir = 0;
    u32 a[16];
    float sc[4];
    for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        u64 wt, mt;
        bnbq_tile_order(t, tw, tt, &wt, &mt);
        const u64 n0 = wt * 128u + 64u * c, m0 = mt * G9_M4T;
        float d[G9_M4T / 2];
#pragma unroll
        for (int i = 0; i < G9_M4T / 2; i++) d[i] = 0.0f;
        const u64 wa = wt * 128u + ra, wb = wt * 128u + rb;   // this thread's rows of W
        const u64 ka = wa * K, kb = wb * K;
        const bool va = wa < N, vb = wb < N;
        g9_m4_scales(sc, absmax, ka, kb, va, vb, 0u, K, bs_shift);
        for (u64 kt = 0; kt < KT; kt++)
            g9_m4_stage(d, a, sc, kt, KT, it, ir, c, tid, ra, rb, q, sbase, raw, full, empty, rfull, rempty, tab,
                        absmax, ka, kb, va, vb, K, bs_shift);
        g9_wait<0>();
        g9_hold<G9_M4T / 2>(d);
        // (every stage freed itself after its wait)
        // sums: d[4 j], d[4 j + 1]: W row 16 w + g (n), tokens 8 j + 2 q + 0 / 1 (m); d[4 j + 2], d[4 j + 3]: row + 8.
        // Staged transposed: box b (tokens 64 b .. 64 b + 63), token row mr at 128 mr, n's 16-byte chunk n / 8 at
        // (n / 8) ^ (mr % 8), 2 (n % 8) bytes into it
        const u32 stg = sbase + (u32)S * ST + c * SO, na = 16u * w + g, nb = na + 8u;
        const float ba = bias && n0 + na < N ? bnbq_dt_ld(bias, n0 + na) : 0.0f;
        const float bb = bias && n0 + nb < N ? bnbq_dt_ld(bias, n0 + nb) : 0.0f;
        if (tid == 0) asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");   // the last tile's stores
        g9_wg_sync(c);
#pragma unroll
        for (int j = 0; j < G9_M4T / 8; j++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const u32 m = 8u * (u32)j + 2u * q + (u32)e, mr = m & 63u, box = stg + 8192u * (m >> 6) + mr * 128u;
                const u32 hp = bnbq_dt_pack2(bias ? d[4 * j + e] + ba : d[4 * j + e], bias ? d[4 * j + 2 + e] + bb : d[4 * j + 2 + e]);
                const u16 ha = (u16)hp, hb = (u16)(hp >> 16);
                asm volatile("st.shared.u16 [%0], %1;" ::"r"(box + ((((na >> 3) ^ (mr & 7u))) << 4) + 2u * (na & 7u)), "h"(ha) : "memory");
                asm volatile("st.shared.u16 [%0], %1;" ::"r"(box + ((((nb >> 3) ^ (mr & 7u))) << 4) + 2u * (nb & 7u)), "h"(hb) : "memory");
            }
        }
        asm volatile("fence.proxy.async.shared::cta;" ::: "memory");   // visible to the TMA store
        g9_wg_sync(c);
        if (tid == 0) {
#pragma unroll
            for (int b = 0; b < G9_M4T / 64; b++) g9_tma_store(&mO, n0, m0 + 64u * (u64)b, stg + 8192u * (u32)b);
            asm volatile("cp.async.bulk.commit_group;" ::: "memory");
        }
    }
    if (tid == 0) asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");   // done before the exit
#else
    (void)mA; (void)mW; (void)mO; (void)M; (void)N; (void)K; (void)bias; (void)absmax; (void)bs_shift; (void)code;
#endif
}

#endif
