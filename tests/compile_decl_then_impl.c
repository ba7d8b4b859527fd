/* Compile test: bnbq.h included first for its declarations, then again with
   BNBQ_IMPLEMENTATION: the include guard must not block the implementation. */
#include "bnbq.h"
#include "tests/compile_common.h"

#define BNBQ_IMPLEMENTATION
#include "bnbq.h"

int main(void) { return compile_check("compile_decl_then_impl"); }
