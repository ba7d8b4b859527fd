/* Compile test: the implementation in a C translation unit (-std=c99 / -std=c11). */
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"
#include "tests/compile_common.h"

int main(void) { return compile_check("compile_c"); }
