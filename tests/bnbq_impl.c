/* bnbq.h and bnbq_cuda.h's implementation as one object file (build/bnbq_impl.o, and
   build/bnbq_impl_san.o with the sanitizers): the test programs that use only bnbq's public API are
   built with -DBNBQ_TEST_LINKED_IMPL and link it, instead of compiling the whole implementation
   again in each of them (most of `make test`'s build time). Each of those programs still builds on
   its own without the flag (it then defines BNBQ_IMPLEMENTATION itself). The single-file usage
   stays covered by the examples (quickstart, gpu_quickstart, ...) and tests/compile_tests.sh. */
#define _POSIX_C_SOURCE 200809L
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"
#include "bnbq_cuda.h"
