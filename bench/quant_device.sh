#!/bin/sh
# one device call: correctness + speed of the quantizers in .wt/quant, the main tree as baseline
set -u
W=.wt/quant
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
echo "main tree commit: $(git rev-parse --short HEAD 2>/dev/null)"
( cd $W && make -s build/test_gpu build/bench_gpu build/bnbq_vectors 2>&1 | tail -3 )
echo "===== test_gpu (quant)"
( cd $W && ./build/test_gpu --cache-dir /tmp/c quantize_blockwise quantize_4bit quantize_global nested 2>&1 | tail -12 )
echo "===== vectors --gpu"
( cd $W && ./build/bnbq_vectors --gpu tests/vectors 2>&1 | tail -3 )
echo "===== bench new"
( cd $W && ./build/bench_gpu --only quantize_blockwise,quantize_4bit --runs 30 2>&1 | grep -E "^(quantize|  copy|operation)" )
