/* fuzz_checkpoint.c - `make fuzz`: libFuzzer on bnbq's checkpoint loading (not part of `make test`:
   it needs clang's -fsanitize=fuzzer and runs as long as it is given).

   Each input is a safetensors file. It goes through bnbq_st_reader_init, then into eight linear
   layers (Linear4bit nf4 nested / fp4 / blocksize 128, Linear8bitLt int8 with threshold,
   StandardLinear, SwitchBackLinearVectorwise, LinearFP8Mixed, SwitchBackLinearBnb int8) and two
   embeddings under the prefixes "l" / "e", each layer holding a state of its own first. A load that
   fails must return a documented code and leave the layer's state dict byte-identical; one that
   succeeds must give a layer whose inference forward succeeds. A broken property aborts (libFuzzer
   keeps the input); ASan / UBSan report any out-of-bounds access.

   Built with -DBNBQ_FUZZ_MAIN it is a program instead (no libFuzzer needed): `seeds DIR` writes the
   seed corpus (the saved states of those layers, float and quantized) into DIR; `replay FILE...` runs
   each file through the same checks and prints "N passed, 0 failed" (a broken property aborts).
   `make test` writes the seeds and replays them: every layer's checkpoint into every other layer. */
#ifndef BNBQ_TEST_LINKED_IMPL   /* the Makefile links build/bnbq_impl.o (tests/bnbq_impl.c) */
#define BNBQ_IMPLEMENTATION
#endif
#include "bnbq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_K 64
#define FZ_N 32

static const bnbq_linear_kind fz_kinds[] = {
    BNBQ_LINEAR_NF4, BNBQ_LINEAR_FP4, BNBQ_LINEAR_4BIT, BNBQ_LINEAR_8BIT_LT, BNBQ_LINEAR_STANDARD,
    BNBQ_LINEAR_SWITCHBACK_VECTORWISE, BNBQ_LINEAR_FP8_MIXED, BNBQ_LINEAR_SWITCHBACK_BNB};
#define FZ_NKINDS (sizeof fz_kinds / sizeof fz_kinds[0])

static bnbq_exec fz_ex;
static int fz_ready;

static void fz_setup(void) {
    if (fz_ready) return;
    if (bnbq_cpu_exec_init(&fz_ex, NULL) != BNBQ_SUCCESS) abort();
    fz_ready = 1;
}

static bnbq_linear_desc fz_desc(size_t i, uint64_t seed) {
    bnbq_linear_desc d;
    memset(&d, 0, sizeof d);
    d.kind = fz_kinds[i];
    d.in_features = FZ_K;
    d.out_features = FZ_N;
    d.seed = seed;
    d.weight_dtype = (i & 1) ? BNBQ_F16 : BNBQ_F32;
    if (i == 2) { d.blocksize = 128; d.no_compress_statistics = 1; d.weight_dtype = BNBQ_BF16; }
    if (i == 3) { d.threshold = 6.0f; d.int8_weights = 1; d.weight_dtype = BNBQ_F16; }
    if (i == 7) { d.int8_weights = 1; d.weight_dtype = BNBQ_F16; }
    return d;
}

static bnbq_embedding_desc fz_edesc(int stable, uint64_t seed) {
    bnbq_embedding_desc d;
    memset(&d, 0, sizeof d);
    d.kind = stable ? BNBQ_EMBEDDING_STABLE : BNBQ_EMBEDDING;
    d.num_embeddings = 16;
    d.embedding_dim = 8;
    d.seed = seed;
    return d;
}

/* the whole file of a writer in a new buffer (NULL on failure) */
static unsigned char* fz_bytes(const bnbq_st_writer* w, size_t* n) {
    size_t sz = 0, got = 0;
    unsigned char* b;
    if (bnbq_st_writer_size(&fz_ex, w, &sz) != BNBQ_SUCCESS || !(b = (unsigned char*)malloc(sz ? sz : 1)))
        return NULL;
    if (bnbq_st_writer_write(&fz_ex, w, b, sz, &got) != BNBQ_SUCCESS || got != sz) {
        free(b);
        return NULL;
    }
    *n = sz;
    return b;
}

static unsigned char* fz_save_linear(const bnbq_linear* L, const char* prefix, size_t* n) {
    bnbq_st_writer w;
    unsigned char* b = NULL;
    bnbq_st_writer_init(&fz_ex, &w);
    if (bnbq_linear_save(&fz_ex, L, prefix, BNBQ_ST_U8, &w) == BNBQ_SUCCESS) b = fz_bytes(&w, n);
    bnbq_st_writer_uninit(&fz_ex, &w);
    return b;
}

static unsigned char* fz_save_emb(const bnbq_embedding* e, const char* prefix, size_t* n) {
    bnbq_st_writer w;
    unsigned char* b = NULL;
    bnbq_st_writer_init(&fz_ex, &w);
    if (bnbq_embedding_save(&fz_ex, e, prefix, &w) == BNBQ_SUCCESS) b = fz_bytes(&w, n);
    bnbq_st_writer_uninit(&fz_ex, &w);
    return b;
}

static int fz_code_ok(bnbq_result r) {
    return r == BNBQ_ERROR_CORRUPT_FILE || r == BNBQ_ERROR_BAD_SHAPE || r == BNBQ_ERROR_BAD_DTYPE ||
           r == BNBQ_ERROR_BAD_BLOCKSIZE || r == BNBQ_ERROR_NOT_SUPPORTED;
}

static void fz_fail(const char* what, size_t i, bnbq_result r) {
    fprintf(stderr, "fuzz_checkpoint: %s (layer %u, %s)\n", what, (unsigned)i, bnbq_result_name(r));
    abort();
}

/* a layer that holds a quantized (or, where it has none, a float) state of another seed */
static int fz_layer(size_t i, bnbq_linear* L) {
    bnbq_linear_desc d = fz_desc(i, 1000 + i);
    if (bnbq_linear_init(&fz_ex, L, &d) != BNBQ_SUCCESS) return 0;
    if (d.kind == BNBQ_LINEAR_SWITCHBACK_VECTORWISE) (void)bnbq_linear_prepare_for_eval(&fz_ex, L);
    else (void)bnbq_linear_quantize(&fz_ex, L);
    bnbq_linear_set_training(L, 0);
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char* data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char* data, size_t size) {
    bnbq_st_reader r;
    bnbq_result res;
    size_t i;
    fz_setup();
    res = bnbq_st_reader_init(&fz_ex, &r, data, size);
    if (res != BNBQ_SUCCESS) {
        if (res != BNBQ_ERROR_CORRUPT_FILE) fz_fail("reader_init", 0, res);
        return 0;
    }
    for (i = 0; i < FZ_NKINDS; i++) {
        bnbq_linear L;
        size_t n0 = 0, n1 = 0;
        unsigned char *before, *after;
        if (!fz_layer(i, &L)) continue;
        before = fz_save_linear(&L, "s", &n0);
        res = bnbq_linear_load(&fz_ex, &L, &r, "l");
        if (res != BNBQ_SUCCESS) {
            if (!fz_code_ok(res)) fz_fail("linear_load returned an undocumented code", i, res);
            after = fz_save_linear(&L, "s", &n1);
            if (!before || !after || n0 != n1 || memcmp(before, after, n0) != 0)
                fz_fail("a failed linear_load changed the layer", i, res);
            free(after);
        } else {
            static unsigned char x[2 * FZ_K * 4], out[2 * FZ_N * 4];
            bnbq_dtype xdt = L.desc.weight_dtype;
            memset(x, 0x3c, sizeof x);   /* 1.0078 in f16 / bf16 pairs, ~0.0115 as float */
            /* a float checkpoint in a 4-bit or int8-weight layer: quantized before use, as in
               bitsandbytes (Params4bit / Int8Params quantize on the move to the GPU) */
            if (!L.quantized && (i <= 2 || L.desc.int8_weights)) {
                res = bnbq_linear_quantize(&fz_ex, &L);
                if (res != BNBQ_SUCCESS) fz_fail("quantize after loading a float checkpoint", i, res);
            }
            res = bnbq_linear_forward(&fz_ex, &L, xdt, x, 2, out);
            if (res != BNBQ_SUCCESS) fz_fail("forward after a successful load", i, res);
        }
        free(before);
        bnbq_linear_uninit(&fz_ex, &L);
    }
    for (i = 0; i < 2; i++) {
        bnbq_embedding e;
        bnbq_embedding_desc d = fz_edesc((int)i, 2000 + i);
        size_t n0 = 0, n1 = 0;
        unsigned char *before, *after;
        if (bnbq_embedding_init(&fz_ex, &e, &d) != BNBQ_SUCCESS) continue;
        before = fz_save_emb(&e, "s", &n0);
        res = bnbq_embedding_load(&fz_ex, &e, &r, "e");
        if (res != BNBQ_SUCCESS) {
            if (!fz_code_ok(res)) fz_fail("embedding_load returned an undocumented code", 100 + i, res);
            after = fz_save_emb(&e, "s", &n1);
            if (!before || !after || n0 != n1 || memcmp(before, after, n0) != 0)
                fz_fail("a failed embedding_load changed the embedding", 100 + i, res);
            free(after);
        } else {
            static const int32_t idx[3] = {0, 5, 15};
            static float out[3 * 8];
            res = bnbq_embedding_forward(&fz_ex, &e, idx, 3, out);
            if (res != BNBQ_SUCCESS) fz_fail("embedding forward after a successful load", 100 + i, res);
        }
        free(before);
        bnbq_embedding_uninit(&fz_ex, &e);
    }
    bnbq_st_reader_uninit(&fz_ex, &r);
    return 0;
}

#ifdef BNBQ_FUZZ_MAIN
/* 1 when the seed b (n bytes, NULL: its save failed) is written to dir/name */
static int fz_write(const char* dir, const char* name, const unsigned char* b, size_t n) {
    char path[1024];
    FILE* f;
    int ok;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!b || !(f = fopen(path, "wb"))) return 0;
    ok = fwrite(b, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static int fz_replay(int argc, char** argv) {
    int a, done = 0;
    for (a = 2; a < argc; a++) {
        FILE* f = fopen(argv[a], "rb");
        unsigned char* b;
        long n;
        if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
            !(b = (unsigned char*)malloc((size_t)n + 1)) || fread(b, 1, (size_t)n, f) != (size_t)n) {
            fprintf(stderr, "fuzz_checkpoint: cannot read %s\n", argv[a]);
            if (f) fclose(f);
            return 1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(b, (size_t)n);
        free(b);
        done++;
    }
    printf("fuzz_checkpoint_replay: %d passed, 0 failed\n", done);
    return done > 0 ? 0 : 1;
}

/* Writes the seeds into dir: every layer float and quantized (SwitchBack vectorwise: prepared for
   eval; StandardLinear and FP8Mixed have no quantized state and save their float one again), and
   the two embeddings. Exit 1 when any of them could not be made or written. */
static int fz_seeds(const char* dir) {
    size_t i, n = 0;
    int q, written = 0, failed = 0;
    char name[64];
    fz_setup();
    for (i = 0; i < FZ_NKINDS; i++)
        for (q = 0; q < 2; q++) {
            bnbq_linear L;
            bnbq_linear_desc d = fz_desc(i, 7 + i);
            unsigned char* b = NULL;
            if (bnbq_linear_init(&fz_ex, &L, &d) == BNBQ_SUCCESS) {
                if (q && d.kind == BNBQ_LINEAR_SWITCHBACK_VECTORWISE) (void)bnbq_linear_prepare_for_eval(&fz_ex, &L);
                else if (q) (void)bnbq_linear_quantize(&fz_ex, &L);   /* NOT_SUPPORTED for the float kinds */
                b = fz_save_linear(&L, "l", &n);
                bnbq_linear_uninit(&fz_ex, &L);
            }
            snprintf(name, sizeof name, "linear%u_%d.safetensors", (unsigned)i, q);
            if (fz_write(dir, name, b, n)) written++;
            else failed++;
            free(b);
        }
    for (i = 0; i < 2; i++) {
        bnbq_embedding e;
        bnbq_embedding_desc d = fz_edesc((int)i, 3);
        unsigned char* b = NULL;
        if (bnbq_embedding_init(&fz_ex, &e, &d) == BNBQ_SUCCESS) {
            b = fz_save_emb(&e, "e", &n);
            bnbq_embedding_uninit(&fz_ex, &e);
        }
        snprintf(name, sizeof name, "embedding%u.safetensors", (unsigned)i);
        if (fz_write(dir, name, b, n)) written++;
        else failed++;
        free(b);
    }
    if (failed) fprintf(stderr, "fuzz_checkpoint: %d of %d seeds not made or not written in %s\n", failed,
                        written + failed, dir);
    return failed ? 1 : 0;
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "replay") == 0) return fz_replay(argc, argv);
    if (argc == 3 && strcmp(argv[1], "seeds") == 0) return fz_seeds(argv[2]);
    fprintf(stderr, "usage: fuzz_checkpoint_tool seeds DIR | replay FILE...\n");
    return 2;
}
#endif
