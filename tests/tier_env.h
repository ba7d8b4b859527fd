/* tier_env.h - the --tier option of test_gpu and test_gpu_layers: tiered compilation (bnbq_cuda_desc.
   no_tiered_compile) chosen through BNBQ_TIERED_COMPILE before the first context opens NVRTC.
   off (the programs' default, tier_env_default): full builds, what gpu-test checks in its main part;
   fast: the listed kernels' fast builds only, never replaced (gpu-test's part fast); on: the library's
   default (fast builds replaced by the full ones as they arrive). Include after <stdio.h>, <stdlib.h>
   and <string.h>, with _POSIX_C_SOURCE >= 200809L. */
#ifndef BNBQ_TESTS_TIER_ENV_H
#define BNBQ_TESTS_TIER_ENV_H

static void tier_env_default(void) { setenv("BNBQ_TIERED_COMPILE", "0", 1); }

/* 0, or 2 after a usage line naming prog for a value other than off, fast and on */
static int tier_env_set(const char* prog, const char* t) {
    if (strcmp(t, "fast") && strcmp(t, "on") && strcmp(t, "off")) {
        fprintf(stderr, "%s: --tier off|fast|on\n", prog);
        return 2;
    }
    if (!strcmp(t, "on")) unsetenv("BNBQ_TIERED_COMPILE");
    else setenv("BNBQ_TIERED_COMPILE", !strcmp(t, "fast") ? "fast" : "0", 1);
    return 0;
}

#endif
