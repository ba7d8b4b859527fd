// embed_cases.cu - input of tests/test_cuda.c's embed-guards scenario: what kernels_src/embed.c must
// get right when it wraps each kernel in its BNBQ_ONE_KERNEL guard. Not part of bnbq.
// Braces in comments { { {, in strings and in character literals do not count.
/* a block comment with a brace { and extern "C" __global__ void not_a_kernel(int* p) { */
#define BRACE_MACRO { int unused_ = 0; (void)unused_; }
struct embed_pair { int a, b; };
__device__ int helper(int x) {
    const char* s = "}{\"}";
    BRACE_MACRO
    return x + (s[0] == '}') + ('{' == '{') + ('\'' == '"');
}

extern "C" __global__ void k_plain(int* out) {
    out[0] = helper(1);   // } a brace in a comment
}

extern "C" __global__ void __launch_bounds__(128, 2)
k_bounds(int* out,
         int n) {
    for (int i = 0; i < n; i++) { if (i) { out[i] = i; } }
#if MODE == 1
    if (n > 5) {
#else
    if (n > 6) {
#endif
        out[0] = 2;
    }
} __device__ int after_k_bounds = 0;   // code after the closing brace, on its line

#if MODE == 1
extern "C" __global__ void k_mode(int* out) { out[0] = MODE; }
#else
extern "C" __global__ void k_mode(int* out) { out[0] = -1; }
  extern "C" __global__ void k_only_mode0(int* out) { out[0] = 0; /* } */ }
#endif

extern "C" __global__ void k_decl(int* out);   // a declaration: left alone
extern "C" __device__ int not_global(int x) { return x; }
template <int N> __global__ void k_template(int* out) { out[0] = N; }

extern "C" __global__ void k_raw(int* out) {
    const char* r = R"x(} { " )" )x";
    out[0] = r[0] + not_global(1);
#ifdef EMBED_TEST_ERROR
#error embed-guards line check
#endif
}
