/* tests/rng_normal.h - the seeded generator of the GPU test and bench programs (test_gpu.c,
   test_gpu_layers.c, bench/bench_gpu.c): splitmix64 over the global g_seed, uniform doubles with 53
   random bits, and normal floats by Box-Muller in pairs. The includer defines RNG_NORMAL_SEED (each
   program keeps its own sequence) and may set g_seed later (e.g. from --seed). */
#ifndef RNG_NORMAL_H
#define RNG_NORMAL_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

static uint64_t g_seed = RNG_NORMAL_SEED;
static uint64_t rng_u64(void) {
    uint64_t z = (g_seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_uniform(void) { return (double)(rng_u64() >> 11) * (1.0 / 9007199254740992.0); }
/* x[i] = scale * N(0, 1), two values per pair of uniforms */
static void fill_normal(float* x, size_t n, float scale) {
    size_t i;
    for (i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(1.0 - rng_uniform())), t = 6.283185307179586 * rng_uniform();
        x[i] = (float)(r * cos(t)) * scale;
        if (i + 1 < n) x[i + 1] = (float)(r * sin(t)) * scale;
    }
}
#endif
