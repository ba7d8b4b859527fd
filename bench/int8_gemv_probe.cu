// bench/int8_gemv_probe.cu - how the int8 gemv of one row of A (Linear8bitLt's decoding step, int32 sums only, no
// epilogue) streams its weight on a cold L2 with different access patterns (session 30): a warp a row (U loads of 16
// bytes a lane in flight: bnbq_k_int8_gemv_dq's core), the same loads without arithmetic, a block a row (its 256
// threads split the row: bnbq_k_int8_gemv_br's core), a block a batch of R rows, and a bare grid-stride read of the
// same bytes; events around one launch after a 256 MB read pass, median of 50; each kernel's sums checked against the
// warp a row's. Build and run (a GPU machine with the CUDA toolkit):
//   nvcc -O3 -arch=sm_90 -std=c++17 -o build/int8_gemv_probe bench/int8_gemv_probe.cu && ./build/int8_gemv_probe
// (results: bench/results/gpu-20261124-h100-session30-int8-gemv.txt)
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include "probe_time.cuh"
#define CK(x) do{cudaError_t e=(x); if(e){printf("err %s line %d\n",cudaGetErrorString(e),__LINE__); exit(1);} }while(0)
typedef unsigned long long u64; typedef unsigned u32;
__device__ __forceinline__ unsigned fold(uint4 a){return a.x^a.y^a.z^a.w;}
__device__ __forceinline__ int dot16(uint4 a, uint4 b, int s){
  s = __dp4a((int)a.x,(int)b.x,s); s = __dp4a((int)a.y,(int)b.y,s); s = __dp4a((int)a.z,(int)b.z,s); return __dp4a((int)a.w,(int)b.w,s);}
// (a) main's bnbq_mm_gemv<2,1,U> core: a warp a row, U 16-byte loads a lane in flight; RO: loads only
template<int U, int RO>
__global__ void __launch_bounds__(256) k_warprow(const int8_t* A, const int8_t* B, u64 N, u64 K, int* out) {
  const u32 lane = threadIdx.x & 31u; const u64 nwarps = ((u64)gridDim.x * blockDim.x) >> 5, K16 = K >> 4;
  for (u64 n = ((u64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; n < N; n += nwarps) {
    const uint4* b4 = (const uint4*)(B + n * K); const uint4* a4 = (const uint4*)A; u32 acc = 0;
    for (u64 c0 = 0; c0 < K16; c0 += 32u * U) {
      uint4 b[U];
#pragma unroll
      for (int u = 0; u < U; u++) { u64 c = c0 + u * 32u + lane; b[u] = c < K16 ? __ldg(b4 + c) : make_uint4(0,0,0,0); }
#pragma unroll
      for (int u = 0; u < U; u++) { u64 c = c0 + u * 32u + lane; if (c >= K16) break;
        if (RO) acc ^= fold(b[u]); else acc += (u32)dot16(__ldg(a4 + c), b[u], 0); }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) out[n] = (int)acc;
  }
}
// (c) a block a row: thread t takes chunks t, t + 256, ... (C of them at most, A's in registers), block sum
// through shared memory; rows grid-strided over blocks
template<int C>
__global__ void __launch_bounds__(256) k_blockrow(const int8_t* A, const int8_t* B, u64 N, u64 K, int* out) {
  __shared__ int part[2][8];
  const u32 t = threadIdx.x, lane = t & 31u, w = t >> 5; const u64 K16 = K >> 4;
  uint4 a[C];
#pragma unroll
  for (int i = 0; i < C; i++) { u64 c = t + 256u * i; a[i] = c < K16 ? __ldg((const uint4*)A + c) : make_uint4(0,0,0,0); }
  int ph = 0;
  for (u64 n = blockIdx.x; n < N; n += gridDim.x, ph ^= 1) {
    const uint4* b4 = (const uint4*)(B + n * K);
    uint4 b[C];
#pragma unroll
    for (int i = 0; i < C; i++) { u64 c = t + 256u * i; b[i] = c < K16 ? __ldg(b4 + c) : make_uint4(0,0,0,0); }
    int s = 0;
#pragma unroll
    for (int i = 0; i < C; i++) s = dot16(a[i], b[i], s);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) part[ph][w] = s;
    __syncthreads();
    if (w == 0) { int v = lane < 8 ? part[ph][lane] : 0;
      for (int o = 4; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0) out[n] = v; }
  }
}
// (e) a block a batch of R consecutive rows at once (its rows contiguous: R K bytes), thread t chunks t, t+256..
// of each (C a row at most), R sums, each reduced by shuffles, block sum in shared memory
template<int C, int R>
__global__ void __launch_bounds__(256) k_blockbatch(const int8_t* A, const int8_t* B, u64 N, u64 K, int* out) {
  __shared__ int part[2][R][8];
  const u32 t = threadIdx.x, lane = t & 31u, w = t >> 5; const u64 K16 = K >> 4;
  uint4 a[C];
#pragma unroll
  for (int i = 0; i < C; i++) { u64 c = t + 256u * i; a[i] = c < K16 ? __ldg((const uint4*)A + c) : make_uint4(0,0,0,0); }
  int ph = 0;
  const u64 nb = (N + R - 1) / R;
  for (u64 bi = blockIdx.x; bi < nb; bi += gridDim.x, ph ^= 1) {
    int s[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
      const u64 n = bi * R + r; s[r] = 0;
      const uint4* b4 = (const uint4*)(B + n * K);
#pragma unroll
      for (int i = 0; i < C; i++) { u64 c = t + 256u * i; if (n < N && c < K16) s[r] = dot16(a[i], __ldg(b4 + c), s[r]); }
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) s[r] += __shfl_xor_sync(0xffffffffu, s[r], o);
      if (lane == 0) part[ph][r][w] = s[r];
    }
    __syncthreads();
    if (w < R) { int v = lane < 8 ? part[ph][w][lane] : 0;
      for (int o = 4; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      const u64 n = bi * R + w; if (lane == 0 && n < N) out[n] = v; }
  }
}
__global__ void k_read(const uint4* p, u64 n, unsigned* out) {
  unsigned x = 0; u64 st = (u64)gridDim.x * blockDim.x, i = blockIdx.x * (u64)blockDim.x + threadIdx.x;
  for (; i + 3 * st < n; i += 4 * st) { uint4 v0 = __ldg(p + i), v1 = __ldg(p + i + st), v2 = __ldg(p + i + 2 * st), v3 = __ldg(p + i + 3 * st); x ^= fold(v0) ^ fold(v1) ^ fold(v2) ^ fold(v3); }
  for (; i < n; i += st) x ^= fold(__ldg(p + i));
  if (x == 0x12345678u) out[0] = x;
}
int main() {
  size_t big = 256u << 20;
  char *fl, *B, *dst; int8_t* A; int* out; int* ref; unsigned* o2;
  CK(cudaMalloc(&fl, big)); CK(cudaMalloc(&B, big)); CK(cudaMalloc(&dst, big)); CK(cudaMalloc(&A, 65536)); CK(cudaMalloc(&out, 1<<20)); CK(cudaMalloc(&ref, 1<<20)); CK(cudaMalloc(&o2, 64));
  { std::vector<int8_t> h(big); uint32_t s = 1; for (auto& x : h) { s = s * 1664525u + 1013904223u; x = (int8_t)(s >> 24); }
    CK(cudaMemcpy(B, h.data(), big, cudaMemcpyHostToDevice)); CK(cudaMemcpy(A, h.data() + 12345, 65536, cudaMemcpyHostToDevice)); }
  CK(cudaMemset(fl, 1, big));
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  auto flush = [&]() { k_read<<<sms*4, 512>>>((const uint4*)fl, big/16, o2); };
  float copyus = 0;
  auto timeit = [&](const char* name, size_t bytes, auto fn) {
    float mn, m = probe_median_ms(e0, e1, flush, fn, &mn);
    CK(cudaGetLastError());
    if (copyus > 1) printf("  %-40s %8.2f us  %6.0f GB/s  %5.1f%% of copy (min %.2f)\n", name, m*1e3, bytes/(m*1e-3)/1e9, 100.0 * (bytes/(m*1e-3)/1e9) / copyus, mn*1e3);
    else printf("  %-40s %8.2f us  %6.0f GB/s  (min %.2f)\n", name, m*1e3, bytes/(m*1e-3)/1e9, mn*1e3);
    return m;
  };
  copyus = 1; float cm = timeit("memcpy D2D 256 MB (read + written)", 2*big, [&]{ cudaMemcpyAsync(dst, B, big, cudaMemcpyDeviceToDevice); });
  copyus = 2*big/(cm*1e-3)/1e9; printf("copy rate %.0f GB/s\n", copyus);
  auto check = [&](const char* nm, u64 N) { std::vector<int> h1(N), h2(N); CK(cudaMemcpy(h1.data(), out, N*4, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(h2.data(), ref, N*4, cudaMemcpyDeviceToHost));
    for (u64 i = 0; i < N; i++) if (h1[i] != h2[i]) { printf("  MISMATCH %s row %llu\n", nm, i); return; } };
  u64 shapes[4][2] = {{4096,4096},{14336,4096},{4096,14336},{8192,8192}};
  for (auto& sh : shapes) {
    u64 N = sh[0], K = sh[1], bytes = N*K; unsigned g8 = (unsigned)std::min<u64>((N + 7)/8, (u64)sms*32);
    printf("N %llu K %llu (%.1f MB)\n", N, K, bytes/1e6);
    timeit("bare grid-stride read 4x512", bytes, [&]{ k_read<<<sms*4, 512>>>((const uint4*)B, bytes/16, o2); });
    timeit("warp-row U4 (main's core)", bytes, [&]{ k_warprow<4,0><<<g8, 256>>>(A, (const int8_t*)B, N, K, ref); });
    timeit("warp-row U8", bytes, [&]{ k_warprow<8,0><<<g8, 256>>>(A, (const int8_t*)B, N, K, out); }); check("U8", N);
    timeit("warp-row U4 loads only", bytes, [&]{ k_warprow<4,1><<<g8, 256>>>(A, (const int8_t*)B, N, K, out); });
    for (int bps : {4, 8}) {
      char nm[64]; unsigned g = sms * bps;
      snprintf(nm, 64, "block-row %d/SM", bps);
      if (K == 4096) timeit(nm, bytes, [&]{ k_blockrow<1><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      else if (K == 8192) timeit(nm, bytes, [&]{ k_blockrow<2><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      else timeit(nm, bytes, [&]{ k_blockrow<4><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      check(nm, N);
      snprintf(nm, 64, "block-batch R4 %d/SM", bps);
      if (K == 4096) timeit(nm, bytes, [&]{ k_blockbatch<1,4><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      else if (K == 8192) timeit(nm, bytes, [&]{ k_blockbatch<2,4><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      else timeit(nm, bytes, [&]{ k_blockbatch<4,2><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      check(nm, N);
      snprintf(nm, 64, "block-batch R8 %d/SM", bps);
      if (K == 4096) timeit(nm, bytes, [&]{ k_blockbatch<1,8><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      else if (K == 8192) timeit(nm, bytes, [&]{ k_blockbatch<2,4><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      else timeit(nm, bytes, [&]{ k_blockbatch<4,4><<<g, 256>>>(A, (const int8_t*)B, N, K, out); });
      check(nm, N);
    }
  }
  return 0;
}
