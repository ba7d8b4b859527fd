/* Compile test: bnbq.h included twice with the implementation switched on (the implementation
   has its own guard). */
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"
#include "bnbq.h"
#include "tests/compile_common.h"

int main(void) { return compile_check("compile_twice"); }
