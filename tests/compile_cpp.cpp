// Compile test: the implementation in a C++ translation unit (-std=c++11 / -std=c++17).
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"
#include "tests/compile_common.h"

#include <vector>

int main()
{
    // C++ callers hold tensors in std::vector; nothing else changes.
    std::vector<float> w(4096, 0.25f), back(4096);
    std::vector<uint8_t> packed(2048);
    std::vector<float> absmax(64);
    bnbq_result r = bnbq_quantize_4bit(NULL, BNBQ_FP4, BNBQ_F32, w.data(), w.size(), 64,
                                       packed.data(), absmax.data());
    if (r == BNBQ_SUCCESS)
        r = bnbq_dequantize_4bit(NULL, BNBQ_FP4, BNBQ_F32, packed.data(), absmax.data(), w.size(),
                                 64, back.data());
    if (r != BNBQ_SUCCESS || back[100] != 0.25f) return 1;
    return compile_check("compile_cpp");
}
