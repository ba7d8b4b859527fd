#!/bin/sh
# bench/quant_device.sh - one GPU run for the quantizers of this tree: test_gpu on the quantize
# ops, the vectors on the GPU, bench_gpu's quantize lines (BNBQ__CUQ_QBLOCKS 4 and 8), the same
# for the tree at $BASE (the baseline, e.g. ../.. for a copy in .wt/NAME), and ncu of two kernels
# into $OUT (when set). usage: sh bench/quant_device.sh [COMMIT]
set -u
cd "$(dirname "$0")/.." || exit 1
BASE=${BASE:-../..}
echo "quant_device.sh: commit ${1:-?}, $(date -u +%Y-%m-%dT%H:%MZ), GPU: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
make -s build/test_gpu build/bench_gpu build/bnbq_vectors 2>&1 | tail -3
echo "===== ./build/test_gpu --cache-dir /tmp/c quantize_blockwise quantize_4bit quantize_global nested"
./build/test_gpu --cache-dir /tmp/c quantize_blockwise quantize_4bit quantize_global nested 2>&1 | tail -9
echo "===== ./build/bnbq_vectors --gpu tests/vectors | tail -3"
./build/bnbq_vectors --gpu tests/vectors 2>&1 | tail -3
echo "===== ./build/bench_gpu --only quantize_blockwise,quantize_4bit --runs 30 (BNBQ__CUQ_QBLOCKS 4)"
./build/bench_gpu --only quantize_blockwise,quantize_4bit --runs 30 2>&1 | grep -E "^(quantize|  copy|operation)" | head -23
echo "===== the same with BNBQ__CUQ_QBLOCKS 8"
cc -std=c99 -O2 -ffp-contract=off -DBNBQ__CUQ_QBLOCKS=8 -I. bench/bench_gpu.c -o build/bench_gpu_b8 -lm -ldl -lpthread &&
    ./build/bench_gpu_b8 --only quantize_blockwise,quantize_4bit --runs 30 2>&1 | grep -E "^(quantize|  copy)" | head -22
echo "===== baseline: $BASE (its git commit $(cd $BASE && git rev-parse --short HEAD 2>/dev/null))"
(cd "$BASE" && make -s build/bench_gpu 2>&1 | tail -2 &&
    ./build/bench_gpu --only quantize_blockwise,quantize_4bit --runs 30 2>&1 | grep -E "^(quantize|  copy)" | head -22)
if [ -n "${OUT:-}" ] && command -v ncu >/dev/null; then
    S="--section SpeedOfLight --section WarpStateStats --section InstructionStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section Occupancy --section SchedulerStats"
    M="--metrics l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,smsp__sass_thread_inst_executed.sum"
    ncu -k regex:bnbq_k_quant8 -c 1 $S $M ./build/bench_gpu --only "quantize_blockwise f16 bs256" --runs 1 --warmup 0 > "$OUT/ncu_quant8_f16_bs256.txt" 2>&1
    ncu -k regex:bnbq_k_quant4 -c 1 $S $M ./build/bench_gpu --only "quantize_4bit nf4 f16 bs64" --runs 1 --warmup 0 > "$OUT/ncu_quant4_nf4_f16_bs64.txt" 2>&1
    echo "===== ncu (full reports in OUT)"
    grep -H -E "Duration|DRAM Throughput|Compute \(SM\) Throughput|Issue Slots Busy|Registers Per|Achieved Occupancy|No Eligible|bank_conflicts|wavefronts_mem|thread_inst_executed" "$OUT"/ncu_*.txt | sed 's|.*/ncu_||'
fi
