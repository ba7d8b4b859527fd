/* Compile test: a C caller that sees only the declarations (see compile_impl_only.c). */
#include "bnbq.h"
#include "tests/compile_common.h"

int main(void) { return compile_check("compile_user"); }
