/* BNBQ_CUDA_NO_RUNTIME_LINKING: bnbq_cuda.h assigns the real driver and NVRTC functions (from the
   toolkit's cuda.h / nvrtc.h) to its own function-pointer types, so this translation unit compiles
   only if bnbq's prototypes match the real ones. Compiled (not run) by tests/compile_tests.sh when
   the CUDA toolkit's headers are installed. */
#define BNBQ_IMPLEMENTATION
#define BNBQ_CUDA_NO_RUNTIME_LINKING
#include "bnbq_cuda.h"

int main(void) {
    bnbq_cuda* gpu = NULL;
    bnbq_cuda_desc d;
    memset(&d, 0, sizeof d);
    if (bnbq_cuda_init(&d, &gpu) == BNBQ_SUCCESS) bnbq_cuda_uninit(gpu);
    return 0;
}
