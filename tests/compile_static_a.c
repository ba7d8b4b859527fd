/* Compile test: BNBQ_STATIC, first of two translation units that each carry a private copy of
   the implementation. Linked with compile_static_b.c: there must be no duplicate symbols. */
#define BNBQ_IMPLEMENTATION
#define BNBQ_STATIC
#include "bnbq.h"
#include "tests/compile_common.h"

int static_a_check(void);
int static_a_check(void) { return compile_check("compile_static_a"); }
