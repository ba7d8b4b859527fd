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

.PHONY: all run test vectors bench-cpu compile-tests sanitize clean

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

clean:
	rm -rf $(B)
