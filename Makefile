# bnbq - see README.md. Targets: run, test, vectors, bench-cpu, compile-tests, sanitize, clean
# (embed, check-embed, nvrtc-check, gpu-test, bench-gpu come with the CUDA backend).
CC      ?= cc
CXX     ?= c++
# -ffp-contract=off: bnbq's bytes depend on every float operation being rounded on its own.
CFLAGS  ?= -O2
WARN    := -Wall -Wextra -pedantic
BASE    := -std=c99 $(WARN) -ffp-contract=off -I.
LDLIBS  := -lm
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
B       := build

HDR     := bnbq.h
CUHDR   := bnbq_cuda.h
# kernel sources, in the order they are embedded (prelude first)
KSRC    := kernels_src/prelude.cuh $(filter-out kernels_src/prelude.cuh,$(sort $(wildcard kernels_src/*.cu)))

.PHONY: all run test vectors bench-cpu compile-tests sanitize clean embed check-embed nvrtc-check

all: $(B)/quickstart $(B)/bnbq_vectors $(B)/test_bnbq

$(B):
	mkdir -p $(B)

$(B)/quickstart: examples/quickstart.c $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

$(B)/bnbq_vectors: tests/bnbq_vectors.c $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

$(B)/test_bnbq: tests/test_bnbq.c $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

$(B)/bench_cpu: bench/bench_cpu.c $(HDR) | $(B)
	$(CC) $(BASE) -O2 $< -o $@ $(LDLIBS)

# sanitizer builds of the same programs
$(B)/bnbq_vectors_san: tests/bnbq_vectors.c $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_bnbq_san: tests/test_bnbq.c $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $< -o $@ $(LDLIBS)

run: $(B)/quickstart
	./$(B)/quickstart

vectors: $(B)/bnbq_vectors

bench-cpu: $(B)/bench_cpu
	./$(B)/bench_cpu

compile-tests: | $(B)
	sh tests/compile_tests.sh

sanitize: $(B)/bnbq_vectors_san $(B)/test_bnbq_san

# Everything CI runs. The last line is the plain "N passed, N failed" summary.
test: all sanitize
	sh tests/run_all.sh

$(B)/embed: kernels_src/embed.c | $(B)
	$(CC) $(BASE) -O1 $< -o $@

# Regenerates the fenced kernel region of bnbq_cuda.h from kernels_src/.
embed: $(B)/embed
	./$(B)/embed $(CUHDR) $(CUHDR) $(KSRC)

# Fails when bnbq_cuda.h does not hold exactly what `make embed` would write.
check-embed: $(B)/embed
	./$(B)/embed $(CUHDR) $(B)/bnbq_cuda.h.check $(KSRC)
	@cmp -s $(CUHDR) $(B)/bnbq_cuda.h.check || { echo "bnbq_cuda.h is stale: run 'make embed'"; exit 1; }
	@echo "check-embed: bnbq_cuda.h matches kernels_src/"

clean:
	rm -rf $(B)
