// bench/read_probe.cu - how fast a kernel that only READS n bytes runs on this GPU with a cold L2 (session 27): the
// ceiling of bench_gpu's one-token gemv target (>= 80 % of the 1 GiB copy rate on the weight bytes, one launch after
// an L2 flush). Grid-stride and block-chunk 16-byte loads (U in flight a thread), TMA bulk copies into a ring of shared
// memory stages (one producer thread, consumer warps), and cudaMemcpy D2D; events around one launch after a 256 MB
// read pass, median of 50. Build and run: nvcc -O3 -arch=sm_90a -std=c++17 -o build/read_probe bench/read_probe.cu && ./build/read_probe
// (results: bench/results/gpu-20261124-h100-session27-read-ceiling.txt)
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include "probe_time.cuh"
#define CK(x) do{cudaError_t e=(x); if(e){printf("err %s line %d\n",cudaGetErrorString(e),__LINE__); exit(1);} }while(0)
__device__ __forceinline__ unsigned fold(uint4 a){return a.x^a.y^a.z^a.w;}
// U loads per thread in flight; CHUNK 0: grid-stride over all n, 1: a contiguous chunk per block
template<int U, int CHUNK>
__global__ void rd_ldg_k(const uint4* __restrict__ p, size_t n, unsigned* out) {
  unsigned x = 0;
  size_t per = (n + gridDim.x - 1) / gridDim.x;
  size_t b1 = CHUNK ? min(n, blockIdx.x * per + per) : n;
  size_t st = CHUNK ? (size_t)blockDim.x : (size_t)gridDim.x * blockDim.x;
  size_t i = CHUNK ? blockIdx.x * per + threadIdx.x : blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  for (; i + (U-1)*st < b1; i += U*st) {
    uint4 v[U];
#pragma unroll
    for (int u = 0; u < U; u++) v[u] = __ldg(p + i + u*st);
#pragma unroll
    for (int u = 0; u < U; u++) x ^= fold(v[u]);
  }
  for (; i < b1; i += st) x ^= fold(__ldg(p+i));
  if (x == 0x12345678u) out[0] = x;
}
__device__ __forceinline__ unsigned sa(const void* p){return (unsigned)__cvta_generic_to_shared(p);}
__device__ __forceinline__ void mb_init(unsigned b, unsigned c){asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;"::"r"(b),"r"(c):"memory");}
__device__ __forceinline__ void mb_wait(unsigned b, unsigned ph){
  asm volatile("{\n.reg .pred p;\nW: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n@!p bra W;\n}\n"::"r"(b),"r"(ph):"memory");}
__device__ __forceinline__ void mb_expect(unsigned b, unsigned by){asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;"::"r"(b),"r"(by):"memory");}
__device__ __forceinline__ void mb_arrive(unsigned b){asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];"::"r"(b):"memory");}
__device__ __forceinline__ void bulk(unsigned dst, const void* src, unsigned by, unsigned bar){
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"::"r"(dst),"l"(src),"r"(by),"r"(bar):"memory");}
// one producer thread (warp 0 lane 0), consumer warps 1..; S stages of SB bytes
template<int S, int SB>
__global__ void rd_bulk(const char* p, size_t bytes, unsigned* out) {
  extern __shared__ __align__(128) char sm[];
  __shared__ __align__(8) unsigned long long bars[2*S];
  int tid = threadIdx.x, w = tid >> 5, lane = tid & 31, ncw = (blockDim.x >> 5) - 1;
  size_t per = ((bytes / 16 + gridDim.x - 1) / gridDim.x) * 16, b0 = blockIdx.x * per, b1 = min(bytes, b0 + per);
  if (b0 >= b1) return;
  int nch = (int)((b1 - b0 + SB - 1) / SB);
  unsigned full = sa(bars), empty = full + 8*S, sbase = sa(sm);
  if (tid == 0) { for (int s = 0; s < S; s++) { mb_init(full + 8*s, 1); mb_init(empty + 8*s, ncw); }
    asm volatile("fence.mbarrier_init.release.cluster;":::"memory"); }
  __syncthreads();
  if (w == 0) {
    if (lane == 0) for (int c = 0; c < nch; c++) {
      int s = c % S; if (c >= S) mb_wait(empty + 8*s, ((c / S) - 1) & 1);
      size_t off = b0 + (size_t)c * SB; unsigned len = (unsigned)min((size_t)SB, b1 - off);
      mb_expect(full + 8*s, len); bulk(sbase + s*SB, p + off, len, full + 8*s);
    }
    return;
  }
  unsigned x = 0;
  for (int c = 0; c < nch; c++) {
    int s = c % S; mb_wait(full + 8*s, (c / S) & 1);
    size_t off = b0 + (size_t)c * SB; unsigned len = (unsigned)min((size_t)SB, b1 - off);
    const uint4* q = (const uint4*)(sm + s*SB);
    for (unsigned i = (w-1)*32 + lane; i < len/16; i += ncw*32) x ^= fold(q[i]);
    __syncwarp();
    if (lane == 0) mb_arrive(empty + 8*s);
  }
  if (x == 0x12345678u) out[0] = x;
}
struct Ev { cudaEvent_t a, b; };
int main() {
  size_t big = 256u << 20, nb = 37748736;
  char *fl, *buf, *dst; unsigned* out;
  CK(cudaMalloc(&fl, big)); CK(cudaMalloc(&buf, big)); CK(cudaMalloc(&dst, big)); CK(cudaMalloc(&out, 64));
  CK(cudaMemset(fl, 1, big)); CK(cudaMemset(buf, 2, big));
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  auto flush = [&]() { rd_ldg_k<4, 0><<<sms*4, 512>>>((const uint4*)fl, big/16, out); };
  auto timeit = [&](const char* name, size_t bytes, auto fn) {
    float mn, m = probe_median_ms(e0, e1, flush, fn, &mn);
    CK(cudaGetLastError());
    printf("%-44s %10zu B  %8.2f us  %7.0f GB/s  (min %.2f)\n", name, bytes, m*1e3, bytes/(m*1e-3)/1e9, mn*1e3);
  };
  // copy baseline 1 GiB-ish (256 MB here) and same-size
  timeit("memcpy D2D 256MB (read+written count)", 2*big, [&]{ cudaMemcpyAsync(dst, buf, big, cudaMemcpyDeviceToDevice); });
  timeit("memcpy D2D as many bytes (nb/2 copied)", nb, [&]{ cudaMemcpyAsync(dst, buf, nb/2, cudaMemcpyDeviceToDevice); });
  for (size_t n : {nb, big}) {
    char nm[96];
    for (int bpsm : {1, 2, 4, 8}) for (int th : {256, 512}) {
      if (bpsm * th > 2048) continue;
      snprintf(nm, 96, "ldg grid-stride U4 %dx%d", bpsm, th);
      timeit(nm, n, [&]{ rd_ldg_k<4, 0><<<sms*bpsm, th>>>((const uint4*)buf, n/16, out); });
      snprintf(nm, 96, "ldg block-chunk U4 %dx%d", bpsm, th);
      timeit(nm, n, [&]{ rd_ldg_k<4, 1><<<sms*bpsm, th>>>((const uint4*)buf, n/16, out); });
    }
    snprintf(nm, 96, "ldg grid-stride U8 4x512"); timeit(nm, n, [&]{ rd_ldg_k<8, 0><<<sms*4, 512>>>((const uint4*)buf, n/16, out); });
    {
      auto k = rd_bulk<6, 32768>; int smb = 6*32768; CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smb));
      timeit("bulk 1 blk/SM 6x32KB 288thr", n, [&]{ k<<<sms, 288, smb>>>(buf, n, out); });
      timeit("bulk 1 blk/SM 6x32KB 544thr", n, [&]{ k<<<sms, 544, smb>>>(buf, n, out); });
    }
    {
      auto k = rd_bulk<8, 16384>; int smb = 8*16384; CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smb));
      timeit("bulk 1 blk/SM 8x16KB 544thr", n, [&]{ k<<<sms, 544, smb>>>(buf, n, out); });
    }
    {
      auto k = rd_bulk<4, 24576>; int smb = 4*24576; CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smb));
      timeit("bulk 2 blk/SM 4x24KB 288thr", n, [&]{ k<<<sms*2, 288, smb>>>(buf, n, out); });
    }
    {
      auto k = rd_bulk<12, 16384>; int smb = 12*16384; CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smb));
      timeit("bulk 1 blk/SM 12x16KB 544thr", n, [&]{ k<<<sms, 544, smb>>>(buf, n, out); });
    }
  }
  return 0;
}
