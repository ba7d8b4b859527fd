/* Compile test: BNBQ_STATIC, second translation unit (see compile_static_a.c). */
#define BNBQ_IMPLEMENTATION
#define BNBQ_STATIC
#include "bnbq.h"
#include "tests/compile_common.h"

int static_a_check(void);

int main(void) { return static_a_check() | compile_check("compile_static_b"); }
