# bnbq - see README.md. Targets: run, test, vectors, bench-cpu, compile-tests, sanitize, clean,
# embed, check-embed, nvrtc-check, gpu-test, bench-gpu, test-neon, fuzz.
CC      ?= cc
CXX     ?= c++
# -ffp-contract=off: bnbq's bytes depend on every float operation being rounded on its own.
CFLAGS  ?= -O2
WARN    := -Wall -Wextra -pedantic
BASE    := -std=c99 $(WARN) -ffp-contract=off -I.
LDLIBS  := -lm
# programs that include bnbq_cuda.h (dlopen, pthread; both in libc on new glibc, harmless there)
CULIBS  := -lm -ldl -lpthread
# -g1: line tables (the sanitizers' reports name file and line) without the full debug info, which
# made the 11 sanitizer builds ~20 % slower (they are most of `make test`'s build)
SAN     := -O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# test_gpu_san runs longest under the sanitizers (its CPU references): -O2 saves more there than
# it costs to build
SAN_O2  := $(subst -O1,-O2,$(SAN))
B       := build
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)

HDR     := bnbq.h
CUHDR   := bnbq_cuda.h
# kernel sources, in the order they are embedded (prelude first)
KSRC    := kernels_src/prelude.cuh $(filter-out kernels_src/prelude.cuh,$(sort $(wildcard kernels_src/*.cu)))

.PHONY: all run test vectors bench-cpu compile-tests sanitize clean embed check-embed nvrtc-check \
        gpu-test bench-gpu bench-layers test-neon test-neon-run fuzz

all: $(B)/quickstart $(B)/bnbq_vectors $(B)/test_bnbq $(B)/test_simd $(B)/test_simd_nosimd $(B)/test_prims $(B)/test_layers_embed $(B)/test_layers $(B)/test_layers_bars $(B)/test_io $(B)/test_io_nostdio $(B)/test_cuda $(B)/test_gpu $(B)/test_gpu_layers $(B)/nvrtc_check \
     $(B)/bnbq_precompile $(B)/gpu_quickstart $(B)/train_switchback $(B)/bench_gpu $(B)/bench_layers \
     $(B)/quant_tables $(B)/fuzz_checkpoint_tool

$(B):
	mkdir -p $(B)

# The implementation compiled once (tests/bnbq_impl.c) for the test programs that use only the public
# API: they are built with $(LINKED) and link it (one compilation instead of one per program; the
# implementation is nearly all of each program's build time). The examples stay single-file builds.
LINKED  := -DBNBQ_TEST_LINKED_IMPL
IMPL    := $(B)/bnbq_impl.o
IMPLSAN := $(B)/bnbq_impl_san.o

$(IMPL): tests/bnbq_impl.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) -c $< -o $@

$(IMPLSAN): tests/bnbq_impl.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(SAN) -c $< -o $@

$(B)/quickstart: examples/quickstart.c $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

$(B)/bnbq_vectors: tests/bnbq_vectors.c $(IMPL) $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) $< $(IMPL) -o $@ $(CULIBS)

$(B)/test_bnbq: tests/test_bnbq.c $(IMPL) $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) $< $(IMPL) -o $@ $(CULIBS)

$(B)/test_simd: tests/test_simd.c $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/test_prims: tests/test_prims.c tests/unit_util.h $(IMPL) $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) $< $(IMPL) -o $@ $(CULIBS)

$(B)/test_layers: tests/test_layers.c tests/unit_util.h $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

$(B)/test_io: tests/test_io.c tests/unit_util.h $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

# the same without bnbq's file functions (BNBQ_NO_STDIO, for embedded users)
$(B)/test_io_nostdio: tests/test_io.c tests/unit_util.h $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) -DBNBQ_NO_STDIO $< -o $@ $(LDLIBS)

$(B)/test_layers_embed: tests/test_layers_embed.c tests/unit_util.h $(IMPL) $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) $< $(IMPL) -o $@ $(CULIBS)

$(B)/test_layers_bars: tests/test_layers_bars.c tests/unit_util.h $(IMPL) $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) $< $(IMPL) -o $@ $(CULIBS)

# tests/fuzz_checkpoint.c without libFuzzer: `seeds DIR` / `replay FILE...` (make test replays the seeds
# under the sanitizers; make fuzz seeds its corpus with it)
$(B)/fuzz_checkpoint_tool: tests/fuzz_checkpoint.c $(IMPL) $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) -DBNBQ_FUZZ_MAIN $< $(IMPL) -o $@ $(CULIBS)

$(B)/bench_cpu: bench/bench_cpu.c $(HDR) | $(B)
	$(CC) $(BASE) -O2 $< -o $@ $(CULIBS)

# the CUDA backend's programs: they build and run without a GPU, CUDA header or CUDA library
$(B)/test_cuda: tests/test_cuda.c tests/bad_input.h $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/test_gpu: tests/test_gpu.c tests/bad_input.h tests/rng_normal.h tests/tier_env.h $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/test_gpu_layers: tests/test_gpu_layers.c tests/rng_normal.h tests/tier_env.h $(IMPL) $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $(LINKED) $< $(IMPL) -o $@ $(CULIBS)

$(B)/nvrtc_check: tests/nvrtc_check.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/bnbq_precompile: examples/bnbq_precompile.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/gpu_quickstart: examples/gpu_quickstart.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/train_switchback: examples/train_switchback.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(CULIBS)

$(B)/bench_layers: bench/bench_layers.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) -O2 $< -o $@ $(CULIBS)

$(B)/quant_tables: tests/quant_tables.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) $< -o $@ $(LDLIBS)

$(B)/bench_gpu: bench/bench_gpu.c tests/rng_normal.h $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) -O2 $< -o $@ $(CULIBS)

# sanitizer builds of the same programs
$(B)/bnbq_vectors_san: tests/bnbq_vectors.c $(IMPLSAN) $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) $< $(IMPLSAN) -o $@ $(CULIBS)

$(B)/test_bnbq_san: tests/test_bnbq.c $(IMPLSAN) $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) $< $(IMPLSAN) -o $@ $(CULIBS)

# the same without SIMD code (BNBQ_NO_SIMD): every level but scalar is skipped
$(B)/test_simd_nosimd: tests/test_simd.c $(HDR) | $(B)
	$(CC) $(BASE) $(CFLAGS) -DBNBQ_NO_SIMD $< -o $@ $(CULIBS)

$(B)/test_simd_san: tests/test_simd.c $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $< -o $@ $(CULIBS)

$(B)/test_prims_san: tests/test_prims.c tests/unit_util.h $(IMPLSAN) $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) $< $(IMPLSAN) -o $@ $(CULIBS)

$(B)/test_layers_san: tests/test_layers.c tests/unit_util.h $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_io_san: tests/test_io.c tests/unit_util.h $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $< -o $@ $(LDLIBS)

$(B)/test_layers_embed_san: tests/test_layers_embed.c tests/unit_util.h $(IMPLSAN) $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) $< $(IMPLSAN) -o $@ $(CULIBS)

$(B)/test_layers_bars_san: tests/test_layers_bars.c tests/unit_util.h $(IMPLSAN) $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) $< $(IMPLSAN) -o $@ $(CULIBS)

$(B)/test_cuda_san: tests/test_cuda.c tests/bad_input.h $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(SAN) $< -o $@ $(CULIBS)

$(B)/test_gpu_san: tests/test_gpu.c tests/bad_input.h tests/rng_normal.h tests/tier_env.h $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(SAN_O2) $< -o $@ $(CULIBS)

$(B)/fuzz_checkpoint_tool_san: tests/fuzz_checkpoint.c $(IMPLSAN) $(HDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) -DBNBQ_FUZZ_MAIN $< $(IMPLSAN) -o $@ $(CULIBS)

$(B)/test_gpu_layers_san: tests/test_gpu_layers.c tests/rng_normal.h tests/tier_env.h $(IMPLSAN) $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) $(SAN) $(LINKED) $< $(IMPLSAN) -o $@ $(CULIBS)

run: $(B)/quickstart
	./$(B)/quickstart

vectors: $(B)/bnbq_vectors

bench-cpu: $(B)/bench_cpu
	./$(B)/bench_cpu

compile-tests: | $(B)
	sh tests/compile_tests.sh

sanitize: $(B)/bnbq_vectors_san $(B)/test_bnbq_san $(B)/test_simd_san $(B)/test_prims_san $(B)/test_layers_embed_san $(B)/test_layers_san $(B)/test_layers_bars_san $(B)/test_io_san $(B)/test_cuda_san $(B)/test_gpu_san $(B)/test_gpu_layers_san $(B)/fuzz_checkpoint_tool_san

# The NEON level (aarch64): test_simd (every path against the scalar reference), test_bnbq --quick
# and the vectors with BNBQ_SIMD=neon (the vectors also with BNBQ_SIMD=scalar), cross-compiled
# static and run under qemu-user (about a minute; speed is not measured there). Where the tools
# are missing it is one skipped test (the reason printed), or one failure with BNBQ_REQUIRE_NEON=1
# (.ci/run sets it: CI installs the tools and must run the level). The last line sums the
# programs' "N passed, N failed" lines.
AARCH64_CC   ?= aarch64-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64
NEON_CFLAGS  := -static -O2 -std=c99 $(WARN) -Werror -ffp-contract=off -I.
test-neon:
	@command -v $(AARCH64_CC) >/dev/null 2>&1 && command -v $(QEMU_AARCH64) >/dev/null 2>&1 || \
	  { echo "test-neon: $(AARCH64_CC) or $(QEMU_AARCH64) is missing (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"; \
	    if [ "$${BNBQ_REQUIRE_NEON:-0}" = 1 ]; then echo "test-neon: 0 passed, 1 failed"; exit 1; fi; \
	    echo "test-neon: 0 passed, 0 failed, 1 skipped"; exit 0; } && \
	  $(MAKE) --no-print-directory test-neon-run
test-neon-run:
	@mkdir -p $(B)/aarch64
	$(AARCH64_CC) $(NEON_CFLAGS) tests/test_simd.c -o $(B)/aarch64/test_simd -lm -lpthread
	$(AARCH64_CC) $(NEON_CFLAGS) tests/test_bnbq.c -o $(B)/aarch64/test_bnbq -lm
	@echo "$(AARCH64_CC) $(NEON_CFLAGS) tests/bnbq_vectors.c -o $(B)/aarch64/bnbq_vectors -lm -ldl -lpthread"; \
	$(AARCH64_CC) $(NEON_CFLAGS) tests/bnbq_vectors.c -o $(B)/aarch64/bnbq_vectors -lm -ldl -lpthread \
	  >$(B)/aarch64/cc.log 2>&1; rc=$$?; \
	grep -v -e "in function .bnbq__load_" -e "dlopen. in statically linked" $(B)/aarch64/cc.log; exit $$rc
	@p=0; f=0; st=0; log=$$(mktemp); \
	for lt in "neon test_simd" "neon test_bnbq --quick" "neon bnbq_vectors tests/vectors" \
	          "scalar bnbq_vectors tests/vectors"; do \
	  lv=$${lt%% *}; t=$${lt#* }; \
	  echo "== aarch64 $$t (qemu, BNBQ_SIMD=$$lv)"; \
	  BNBQ_SIMD=$$lv $(QEMU_AARCH64) ./$(B)/aarch64/$$t >$$log 2>&1; rc=$$?; cat $$log; \
	  line=$$(grep -E '^[0-9]+ passed, [0-9]+ failed' $$log | tail -n 1); \
	  if [ $$rc -ne 0 ] || [ -z "$$line" ]; then st=1; fi; \
	  if [ -z "$$line" ]; then f=$$((f + 1)); continue; fi; \
	  p=$$((p + $$(echo "$$line" | sed -E 's/^([0-9]+) passed.*/\1/'))); \
	  n=$$(echo "$$line" | sed -E 's/.* ([0-9]+) failed.*/\1/'); f=$$((f + n)); \
	  if [ $$rc -ne 0 ] && [ $$n -eq 0 ]; then f=$$((f + 1)); fi; \
	  case $$t in test_simd) grep -q '^levels compared with scalar:.* neon' $$log || \
	    { echo "!! test_simd did not run the NEON level"; f=$$((f + 1)); st=1; } ;; esac; \
	done; rm -f $$log; \
	echo "test-neon: $$p passed, $$f failed"; exit $$st

# Everything CI runs. The last line is the plain "N passed, N failed" summary.
test: all sanitize $(B)/embed
	MAKE="$(MAKE)" sh tests/run_all.sh

# libFuzzer on the checkpoint loaders (tests/fuzz_checkpoint.c; clang with -fsanitize=fuzzer;
# not part of `make test`): seeds from the saved states of its layers, then FUZZ_SECONDS of fuzzing
# on build/fuzz_corpus (kept between runs). A crash or a broken property leaves the input in
# build/fuzz_artifacts.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
fuzz: $(B)/fuzz_checkpoint_tool | $(B)
	$(FUZZ_CC) $(BASE) -O1 -g1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  tests/fuzz_checkpoint.c -o $(B)/fuzz_checkpoint $(LDLIBS)
	mkdir -p $(B)/fuzz_corpus $(B)/fuzz_artifacts
	./$(B)/fuzz_checkpoint_tool seeds $(B)/fuzz_corpus
	./$(B)/fuzz_checkpoint -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	  -artifact_prefix=$(B)/fuzz_artifacts/ $(B)/fuzz_corpus

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

# Every registered kernel variant compiles with NVRTC for sm_75, 80, 86, 89, 90 (no GPU needed;
# one process per architecture, as many at a time as there are CPUs).
nvrtc-check: $(B)/nvrtc_check
	./$(B)/nvrtc_check

# On a GPU: every operation and every layer against the CPU reference, the vectors with --gpu,
# SwitchBack training, compute-sanitizer.
gpu-test: $(B)/test_gpu $(B)/test_gpu_layers $(B)/bnbq_vectors $(B)/train_switchback
	sh tests/gpu_test.sh

# On a GPU: speed against the copy bandwidth, compile and cache-load times. The commit goes into
# the header through BNBQ_GIT_COMMIT (a -DBNBQ_GIT_COMMIT='"..."' build works too).
$(B)/bench_compile: bench/bench_compile.c $(HDR) $(CUHDR) | $(B)
	$(CC) $(BASE) -O2 $< -o $@ $(CULIBS)

bench-gpu: $(B)/bench_gpu $(B)/bench_layers
	BNBQ_GIT_COMMIT="$(GIT_COMMIT)" ./$(B)/bench_gpu
	BNBQ_GIT_COMMIT="$(GIT_COMMIT)" ./$(B)/bench_layers

bench-layers: $(B)/bench_layers
	BNBQ_GIT_COMMIT="$(GIT_COMMIT)" ./$(B)/bench_layers

clean:
	rm -rf $(B)
