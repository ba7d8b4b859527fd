// Compile test: a C++ caller of an implementation compiled as C (see compile_impl_only.c);
// checks that the declarations have C linkage.
#include "bnbq.h"
#include "tests/compile_common.h"

int main() { return compile_check("compile_user_cpp"); }
