// Elementwise dtype conversion (bnbq_convert). The dtypes are kernel arguments: the branch is
// uniform across the grid and the kernel is memory-bound.
extern "C" __global__ void bnbq_k_convert(const void* src, int src_dt, void* dst, int dst_dt, u64 n) {
    BNBQ_GRID_LOOP(i, n) bnbq_store(dst_dt, dst, i, bnbq_load(src_dt, src, i));
}
