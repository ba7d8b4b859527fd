// bench/probe_time.cuh - the timing of the standalone probes (bench/read_probe.cu, bench/int8_gemv_probe.cu): fn
// launched 60 times, each after flush() (their 256 MB read pass, so that nothing is served from the L2), CUDA events
// around fn alone; the first 10 dropped. Returns the median in ms, the fastest in *min_ms.
#include <algorithm>
#include <vector>
#include <cuda_runtime.h>
template <class F, class G>
float probe_median_ms(cudaEvent_t e0, cudaEvent_t e1, F flush, G fn, float* min_ms) {
    std::vector<float> t;
    for (int r = 0; r < 60; r++) {
        flush();
        cudaEventRecord(e0);
        fn();
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        float ms;
        cudaEventElapsedTime(&ms, e0, e1);
        if (r >= 10) t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    *min_ms = t[0];
    return t[t.size() / 2];
}
