/* gpu_smoke.c - a minimal end-to-end check of bnbq_cuda.h's core on a real GPU: load the driver and
   NVRTC, compile one unit, run it, compare with the CPU, reload it from the disk cache in a second
   context, and run it from the cache alone with NVRTC disabled. Without a GPU it reports a skip. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq_cuda.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_fail = 0, g_pass = 0;
#define CHECK(c, ...) do { if (c) g_pass++; else { g_fail++; printf("FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static void logger(void* u, bnbq_log_level l, const char* f, const char* m) {
    (void)u;
    printf("  log[%d] %s: %s\n", (int)l, f, m);
}

static int run_convert(bnbq_cuda* gpu, const float* x, size_t n, const uint16_t* want, float* ms) {
    bnbq_exec ex;
    void *dx = NULL, *dy = NULL, *e0 = NULL, *e1 = NULL;
    uint16_t* got = (uint16_t*)malloc(n * 2);
    int ok = 0;
    if (bnbq_cuda_exec_init(gpu, NULL, &ex) != BNBQ_SUCCESS) return 0;
    if (bnbq_cuda_malloc(gpu, n * 4, &dx) || bnbq_cuda_malloc(gpu, n * 2, &dy)) goto done;
    bnbq_cuda_memcpy(&ex, dx, x, n * 4, BNBQ_COPY_HOST_TO_DEVICE);
    bnbq_cuda_memset(&ex, dy, 0xA5, n * 2);
    bnbq_cuda_event_create(gpu, &e0);
    bnbq_cuda_event_create(gpu, &e1);
    bnbq_cuda_event_record(&ex, e0);
    if (bnbq_convert(&ex, BNBQ_F32, dx, n, BNBQ_F16, dy) != BNBQ_SUCCESS) goto done;
    bnbq_cuda_event_record(&ex, e1);
    bnbq_cuda_memcpy(&ex, got, dy, n * 2, BNBQ_COPY_DEVICE_TO_HOST);
    if (bnbq_cuda_synchronize(&ex) != BNBQ_SUCCESS) goto done;
    bnbq_cuda_event_elapsed_ms(gpu, e0, e1, ms);
    ok = memcmp(got, want, n * 2) == 0;
done:
    bnbq_cuda_event_destroy(gpu, e0);
    bnbq_cuda_event_destroy(gpu, e1);
    bnbq_cuda_free(gpu, dx);
    bnbq_cuda_free(gpu, dy);
    free(got);
    return ok;
}

int main(int argc, char** argv) {
    bnbq_cuda_desc d;
    bnbq_cuda* gpu = NULL;
    bnbq_cuda_device_info info;
    bnbq_cuda_stats st;
    bnbq_result r;
    size_t n = 1000003, i;
    float* x = (float*)malloc(n * 4);
    uint16_t* want = (uint16_t*)malloc(n * 2);
    const char* dir = argc > 1 ? argv[1] : "/tmp/bnbq_smoke_cache";
    unsigned s = 12345u;
    float ms = 0;
    char cmd[600];
    for (i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(int)(s >> 8) - 8388608.0f) / 1024.0f;
    }
    x[0] = 65520.0f; x[1] = -0.0f; x[2] = 1e-8f; x[3] = 5.96e-8f;
    bnbq_convert(NULL, BNBQ_F32, x, n, BNBQ_F16, want);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("(could not clear %s)\n", dir);

    memset(&d, 0, sizeof d);
    d.logger.func = logger;
    d.cache_dir = dir;
    r = bnbq_cuda_init(&d, &gpu);
    if (r == BNBQ_ERROR_NO_DRIVER || r == BNBQ_ERROR_NO_DEVICE) {
        printf("SKIP gpu_smoke: %s\n0 passed, 0 failed, 1 skipped\n", bnbq_result_description(r));
        return 0;
    }
    CHECK(r == BNBQ_SUCCESS, "init: %s", bnbq_result_name(r));
    if (r != BNBQ_SUCCESS) { printf("%d passed, %d failed\n", g_pass, g_fail); return 1; }
    bnbq_cuda_query_device(gpu, &info);
    printf("device: %s sm_%d%d, %d SMs, L2 %zu, driver %d, NVRTC %d, target %s_%d\n", info.name,
           info.cc_major, info.cc_minor, info.sm_count, info.l2_bytes, info.driver_version,
           info.nvrtc_version, info.target_is_ptx ? "compute" : "sm", info.target_arch);
    CHECK(run_convert(gpu, x, n, want, &ms), "cold convert differs from the CPU");
    bnbq_cuda_stats_get(gpu, &st);
    printf("cold: compiled %d units in %.3f s; convert %.3f ms\n", st.units_compiled, st.compile_seconds, ms);
    CHECK(st.units_compiled == 1, "units_compiled %d", st.units_compiled);
    bnbq_cuda_uninit(gpu);

    r = bnbq_cuda_init(&d, &gpu);
    CHECK(r == BNBQ_SUCCESS, "init 2");
    CHECK(run_convert(gpu, x, n, want, &ms), "warm convert differs");
    bnbq_cuda_stats_get(gpu, &st);
    printf("warm: compiled %d, disk hits %d, load %.4f s\n", st.units_compiled, st.disk_hits, st.load_seconds);
    CHECK(st.units_compiled == 0 && st.disk_hits == 1, "warm cache not used");
    bnbq_cuda_uninit(gpu);

    d.disable_nvrtc = 1;
    r = bnbq_cuda_init(&d, &gpu);
    CHECK(r == BNBQ_SUCCESS, "init 3");
    CHECK(run_convert(gpu, x, n, want, &ms), "cache-only convert differs");
    bnbq_cuda_uninit(gpu);

    d.cache_dir = "/tmp/bnbq_smoke_empty_cache";
    if (system("rm -rf /tmp/bnbq_smoke_empty_cache") != 0) printf("(rm failed)\n");
    r = bnbq_cuda_init(&d, &gpu);
    CHECK(r == BNBQ_SUCCESS, "init 4");
    if (r == BNBQ_SUCCESS) {
        bnbq_exec ex;
        void* dx = NULL;
        bnbq_cuda_exec_init(gpu, NULL, &ex);
        bnbq_cuda_malloc(gpu, 64, &dx);
        r = bnbq_convert(&ex, BNBQ_F32, dx, 8, BNBQ_F16, dx);
        CHECK(r == BNBQ_ERROR_NO_NVRTC, "no NVRTC + empty cache gave %s", bnbq_result_name(r));
        r = bnbq_quantize_4bit(&ex, BNBQ_NF4, BNBQ_F32, dx, 8, 64, (uint8_t*)dx, (float*)dx);
        CHECK(r == BNBQ_ERROR_NO_NVRTC, "quantize_4bit without NVRTC and an empty cache gave %s", bnbq_result_name(r));
        bnbq_cuda_free(gpu, dx);
        bnbq_cuda_uninit(gpu);
    }
    free(x);
    free(want);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
