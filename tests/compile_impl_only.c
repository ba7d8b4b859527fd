/* Compile test: the one translation unit that holds the implementation (extern linkage); the
   callers are compile_user.c (C) and compile_user_cpp.cpp (C++, through extern "C"). */
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"
