/* test_io.c - unit tests of bnbq's checkpoints (>>io: safetensors, layer state dicts).

   Build:  cc -std=c99 -Wall -Wextra -pedantic -ffp-contract=off -O2 -I. tests/test_io.c -lm
   Run:    ./build/test_io [--quick] [name-substring ...]   (from the repository root: it reads
           tests/data/official.safetensors and writes under build/)

   One line per test ("ok <name>" or "FAIL <name>: <first failure>"), last line
   "<N> passed, <N> failed". What is covered: Python's float repr; a file written by the official
   safetensors library (read, and written again byte for byte); the writer; corrupt files (every
   truncation, bad lengths, bad JSON, offsets, dtypes, shapes); the layer state dicts of
   spec/tests.md test_linear_serialization (Linear4bit and Linear8bitLt) translated to C, the two
   JSON examples of layers.md 8.1, the float layers, the embeddings, failing loads leaving the layer
   unchanged; every single-byte change of five layers' and a StableEmbedding's checkpoints (refused,
   or a failed load leaving the layer as it was, or loaded and usable); and file writes through a
   temporary file. --quick (the sanitizer run) takes a subset of the Linear4bit combinations and of
   the byte changes. Built with -DBNBQ_NO_STDIO the file tests are left out. */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L
#endif
#define BNBQ_IMPLEMENTATION
#include "bnbq.h"

#include <locale.h>
#include "unit_util.h"
#if (defined(__unix__) || defined(__APPLE__)) && !defined(BNBQ_NO_STDIO)
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#define TEST_POSIX 1
#endif

/* unit_util.h: the harness, and the CPU exec with a recording logger (error paths must log) */
#define CHECK_R(expr, want) do { bnbq_result r_ = (expr); \
    CHECK(r_ == (want), "%s returned %s, expected %s", #expr, bnbq_result_name(r_), \
          bnbq_result_name(want)); } while (0)
#define OK(expr) CHECK_R(expr, BNBQ_SUCCESS)

/* unit_util.h's generator and conversions */
static rng g_r = {12345};
static double urand(void) { return rng_uniform(&g_r); }
static double nrand(void) { return rng_normal(&g_r); }
static void* to_dt(const float* x, size_t n, bnbq_dtype dt) {
    void* p = xmalloc(n * 4 + 4);
    size_t i;
    for (i = 0; i < n; i++) st(dt, p, i, x[i]);
    return p;
}
static float* randn(size_t n, double scale) {
    float* p = (float*)xmalloc(n * sizeof *p + 4);
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)(nrand() * scale);
    return p;
}

/* exec memory -> new host buffer (CPU exec: a copy) */
static void* host_copy(const void* src, size_t bytes) {
    void* h = malloc(bytes ? bytes : 1);
    if (bytes) bnbq_copy(&g_logex, h, src, bytes, BNBQ_COPY_EXEC_TO_HOST);
    return h;
}

/* the whole file of a writer, in a new buffer */
static uint8_t* write_all(const bnbq_st_writer* w, size_t* n) {
    size_t sz = 0, got = 0;
    uint8_t* b;
    *n = 0;
    if (bnbq_st_writer_size(&g_logex, w, &sz) != BNBQ_SUCCESS) return NULL;
    b = (uint8_t*)malloc(sz);
    if (bnbq_st_writer_write(&g_logex, w, b, sz, &got) != BNBQ_SUCCESS || got != sz) {
        free(b);
        return NULL;
    }
    *n = sz;
    return b;
}

/* a whole file from a header text and data bytes (N = strlen(json), no padding) */
static uint8_t* mkfile(const char* json, const uint8_t* data, size_t data_bytes, size_t* n) {
    size_t hl = strlen(json), i;
    uint8_t* b = (uint8_t*)malloc(8 + hl + data_bytes + 1);
    for (i = 0; i < 8; i++) b[i] = (uint8_t)(((uint64_t)hl >> (8 * i)) & 0xff);
    memcpy(b + 8, json, hl);
    if (data_bytes) memcpy(b + 8 + hl, data, data_bytes);
    *n = 8 + hl + data_bytes;
    return b;
}
static bnbq_result read_json(const char* json, size_t data_bytes, bnbq_st_reader* r) {
    uint8_t data[256];
    size_t n, i;
    uint8_t* b;
    bnbq_result res;
    for (i = 0; i < sizeof data; i++) data[i] = (uint8_t)i;
    b = mkfile(json, data, data_bytes, &n);
    res = bnbq_st_reader_init(&g_logex, r, b, n);
    if (res == BNBQ_SUCCESS) {
        /* keep the buffer alive with the reader: hand it over as the reader's file buffer */
        void* own = bnbq_host_alloc(&g_logex, n);
        memcpy(own, b, n);
        bnbq_st_reader_uninit(&g_logex, r);
        res = bnbq_st_reader_init(&g_logex, r, own, n);
        r->file_buffer = own;
    }
    free(b);
    return res;
}
/* expects the header to be rejected with CORRUPT_FILE and a log line */
#define BAD_JSON(json, nbytes) do { bnbq_st_reader rd_; int c_ = g_log.n_total; \
    CHECK_R(read_json(json, nbytes, &rd_), BNBQ_ERROR_CORRUPT_FILE); \
    CHECK(g_log.n_total > c_, "no log line for %s", json); \
    CHECK(rd_.count == 0 && rd_.block == NULL, "reader not zeroed after a failure"); } while (0)
#define GOOD_JSON(json, nbytes) do { bnbq_st_reader rd_; \
    CHECK_R(read_json(json, nbytes, &rd_), BNBQ_SUCCESS); \
    bnbq_st_reader_uninit(&g_logex, &rd_); } while (0)

/* ------------------------------------------------------------------------------------------ */
static void test_repr(void) {
    static const struct { double v; const char* s; } T[] = {
        {0.0, "0.0"}, {1e-05, "1e-05"}, {1e16, "1e+16"}, {0.1, "0.1"}, {1e15, "1000000000000000.0"},
        {0.0001, "0.0001"}, {123.0, "123.0"}, {1.5, "1.5"}, {-2.25, "-2.25"},
        {0.30000000000000004, "0.30000000000000004"}, {2.0 / 3.0, "0.6666666666666666"},
        {123456789012345680.0, "1.2345678901234568e+17"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {1e22, "1e+22"},
        {1.2345e-7, "1.2345e-07"}, {9007199254740993.0, "9007199254740992.0"},
        {0.1232503280043602, "0.1232503280043602"}};
    char out[40];
    size_t i, n;
    for (i = 0; i < sizeof T / sizeof T[0]; i++) {
        n = bnbq_format_double_repr(T[i].v, out);
        CHECK(strcmp(out, T[i].s) == 0 && n == strlen(T[i].s), "repr(%.17g) = %s, want %s", T[i].v,
              out, T[i].s);
    }
    bnbq_format_double_repr(-0.0, out);
    CHECK(strcmp(out, "-0.0") == 0, "repr(-0.0) = %s", out);
    bnbq_format_double_repr((double)NAN, out);
    CHECK(strcmp(out, "NaN") == 0, "repr(nan) = %s", out);
    bnbq_format_double_repr(-(double)HUGE_VAL, out);
    CHECK(strcmp(out, "-Infinity") == 0, "repr(-inf) = %s", out);
    /* the nested offset of layers.md 8.1: the float32 nearest 0.1232503280043602, widened */
    bnbq_format_double_repr((double)(float)0.1232503280043602, out);
    CHECK(strcmp(out, "0.1232503280043602") == 0, "repr(f32 offset) = %s", out);
    /* round trip of float32 values through repr and the reader's number parser */
    for (i = 0; i < 2000; i++) {
        float f = (float)(nrand() * pow(10.0, (double)(int)(urand() * 16) - 8));
        bnbq__js j;
        double back = 0;
        n = bnbq_format_double_repr((double)f, out);
        j.p = out;
        j.e = out + n;
        CHECK(bnbq__js_double(&j, &back) && back == (double)f && (float)back == f,
              "repr %s of %.9g does not read back", out, (double)f);
    }
    /* the same text in a locale whose decimal point is a comma (when the system has one) */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "de_DE.utf8") ||
        setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        bnbq__js j;
        double back = 0;
        n = bnbq_format_double_repr(0.1232503280043602, out);
        CHECK(strcmp(out, "0.1232503280043602") == 0, "repr under a comma locale: %s", out);
        j.p = out;
        j.e = out + n;
        CHECK(bnbq__js_double(&j, &back) && back == 0.1232503280043602, "parse under a comma locale");
        setlocale(LC_NUMERIC, "C");
    }
}

/* ------------------------------------------------------------------------------------------ */
/* tests/data/official.safetensors (tests/data/make_safetensors_fixture.py): bytes of tensor k
   are (seed + 13 * k) % 256 */
typedef struct fx_tensor {
    const char* name;
    bnbq_st_dtype dt;
    size_t ndim, shape[2];
    int seed;
} fx_tensor;
static const fx_tensor FX[] = {
    {"a.weight", BNBQ_ST_F32, 2, {2, 3}, 1},   {"b", BNBQ_ST_F16, 1, {4, 0}, 2},
    {"c.bf16", BNBQ_ST_BF16, 2, {2, 2}, 3},    {"d", BNBQ_ST_U8, 1, {5, 0}, 4},
    {"e", BNBQ_ST_I8, 1, {3, 0}, 5},           {"f", BNBQ_ST_I64, 0, {0, 0}, 6},
    {"g", BNBQ_ST_BOOL, 1, {2, 0}, 7},         {"h", BNBQ_ST_F64, 1, {2, 0}, 8},
    {"i", BNBQ_ST_I32, 2, {2, 1}, 9},          {"j", BNBQ_ST_U16, 1, {1, 0}, 10},
    {"empty", BNBQ_ST_F32, 2, {0, 4}, 11},     {"\xc3\xbc\"\\\n\b\x01/x", BNBQ_ST_U8, 1, {1, 0}, 12},
    {"k.f8", BNBQ_ST_F8_E4M3, 1, {2, 0}, 13},  {"l", BNBQ_ST_U64, 1, {1, 0}, 14},
    {"m", BNBQ_ST_I16, 1, {3, 0}, 15},         {"n", BNBQ_ST_U32, 1, {1, 0}, 16},
    {"o", BNBQ_ST_C64, 1, {1, 0}, 17},         {"p", BNBQ_ST_F8_E5M2, 1, {3, 0}, 18}};
#define NFX (sizeof FX / sizeof FX[0])

static uint8_t* fx_bytes(const fx_tensor* t, size_t* n) {
    size_t numel = 1, i, b;
    uint8_t* p;
    for (i = 0; i < t->ndim; i++) numel *= t->shape[i];
    b = numel * (size_t)bnbq_st_dtype_bits(t->dt) / 8;
    p = (uint8_t*)malloc(b + 1);
    for (i = 0; i < b; i++) p[i] = (uint8_t)((t->seed + 13 * (int)i) % 256);
    *n = b;
    return p;
}

static uint8_t* read_whole(const char* path, size_t* n) {
    FILE* f = fopen(path, "rb");
    uint8_t* b;
    long sz;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (uint8_t*)malloc((size_t)sz + 1);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); fclose(f); return NULL; }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void test_official_fixture(void) {
    size_t n = 0, i, k;
    uint8_t* file = read_whole("tests/data/official.safetensors", &n);
    bnbq_st_reader r;
    bnbq_st_writer w;
    uint8_t* bytes[NFX];
    uint8_t* mine;
    size_t mn;
    CHECK(file != NULL, "cannot read tests/data/official.safetensors (run from the repository root)");
    if (!file) return;
    OK(bnbq_st_reader_init(&g_logex, &r, file, n));
    CHECK(r.count == NFX, "%u tensors", (unsigned)r.count);
    CHECK(r.metadata_count == 1 && bnbq_st_find_metadata(&r, "format") &&
          strcmp(bnbq_st_find_metadata(&r, "format"), "pt") == 0, "metadata");
    CHECK(bnbq_st_find_metadata(&r, "nope") == NULL, "metadata lookup");
    CHECK(r.header_bytes % 8 == 0, "header padded to 8");
    for (i = 0; i < NFX; i++) {
        const bnbq_st_tensor* t = bnbq_st_find(&r, FX[i].name);
        size_t b;
        bytes[i] = fx_bytes(&FX[i], &b);
        CHECK(t != NULL, "tensor %s missing", FX[i].name);
        if (!t) continue;
        CHECK(t->dtype == FX[i].dt, "%s: dtype %s", FX[i].name, bnbq_st_dtype_name(t->dtype));
        CHECK(t->ndim == FX[i].ndim, "%s: ndim %u", FX[i].name, (unsigned)t->ndim);
        for (k = 0; k < t->ndim && k < 2; k++)
            CHECK(t->shape[k] == FX[i].shape[k], "%s: shape[%u]", FX[i].name, (unsigned)k);
        CHECK(t->bytes == b && (b == 0 || memcmp(t->data, bytes[i], b) == 0), "%s: bytes", FX[i].name);
        /* the official layout aligns every tensor to its element size (malloc'd buffer) */
        CHECK(((uintptr_t)t->data) % ((size_t)bnbq_st_dtype_bits(t->dtype) / 8) == 0,
              "%s: unaligned", FX[i].name);
    }
    CHECK(bnbq_st_find(&r, "zzz") == NULL && bnbq_st_find(&r, "") == NULL, "lookup of absent names");
    /* the same tensors through bnbq's writer: the same file, byte for byte */
    OK(bnbq_st_writer_init(&g_logex, &w));
    for (i = NFX; i-- > 0;)   /* reverse order: the writer sorts */
        OK(bnbq_st_writer_add(&g_logex, &w, FX[i].name, FX[i].dt, FX[i].ndim, FX[i].shape, bytes[i]));
    OK(bnbq_st_writer_set_metadata(&g_logex, &w, "format", "pt"));
    mine = write_all(&w, &mn);
    CHECK(mine && mn == n && memcmp(mine, file, n) == 0,
          "bnbq's writer differs from the official file (%u vs %u bytes)", (unsigned)mn, (unsigned)n);
    free(mine);
    bnbq_st_writer_uninit(&g_logex, &w);
    for (i = 0; i < NFX; i++) free(bytes[i]);
    bnbq_st_reader_uninit(&g_logex, &r);
#ifndef BNBQ_NO_STDIO
    OK(bnbq_st_reader_init_file(&g_logex, &r, "tests/data/official.safetensors"));
    CHECK(r.count == NFX && r.buffer_bytes == n && memcmp(r.buffer, file, n) == 0, "init_file");
    bnbq_st_reader_uninit(&g_logex, &r);
    CHECK_R(bnbq_st_reader_init_file(&g_logex, &r, "tests/data/no-such-file.safetensors"), BNBQ_ERROR_IO);
#endif
    free(file);
}

static void test_writer(void) {
    bnbq_st_writer w;
    bnbq_st_reader r;
    size_t n, shp[3] = {2, 3, 0}, one = 1, three = 3, sz;
    uint8_t* b;
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint8_t small[4] = {1, 2, 3, 4}, out[8];
    static const uint8_t empty_file[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    /* an empty writer: the official library's "{}" padded with spaces */
    OK(bnbq_st_writer_init(&g_logex, &w));
    b = write_all(&w, &n);
    CHECK(b && n == 16 && memcmp(b, empty_file, 16) == 0, "empty file");
    OK(bnbq_st_reader_init(&g_logex, &r, b, n));
    CHECK(r.count == 0 && r.metadata_count == 0, "empty file read back");
    bnbq_st_reader_uninit(&g_logex, &r);
    free(b);
    /* add_copy keeps its own bytes; borrowed data is read at write time */
    OK(bnbq_st_writer_add_copy(&g_logex, &w, "copied", BNBQ_ST_F32, 2, shp, a));
    a[0] = 100;
    OK(bnbq_st_writer_add(&g_logex, &w, "borrowed", BNBQ_ST_F32, 2, shp, a));
    OK(bnbq_st_writer_add(&g_logex, &w, "scalar", BNBQ_ST_U8, 0, NULL, small));
    OK(bnbq_st_writer_add(&g_logex, &w, "nothing", BNBQ_ST_F32, 3, shp, NULL));   /* 0 bytes */
    OK(bnbq_st_writer_add(&g_logex, &w, "f4", BNBQ_ST_F4, 1, &shp[0], small));   /* 2 x 4 bits */
    OK(bnbq_st_writer_add(&g_logex, &w, "", BNBQ_ST_U8, 1, &one, small));        /* empty name */
    OK(bnbq_st_writer_set_metadata(&g_logex, &w, "k2", "first"));
    OK(bnbq_st_writer_set_metadata(&g_logex, &w, "k1", "x\"\n\ty"));
    OK(bnbq_st_writer_set_metadata(&g_logex, &w, "k2", "second"));
    b = write_all(&w, &n);
    CHECK(b != NULL, "write");
    if (b) {
        const bnbq_st_tensor* t;
        const char* hdr = (const char*)b + 8;
        CHECK(strncmp(hdr, "{\"__metadata__\":{\"k1\":\"x\\\"\\n\\ty\",\"k2\":\"second\"},", 48) == 0,
              "metadata first, keys sorted, escaped: %.60s", hdr);
        OK(bnbq_st_reader_init(&g_logex, &r, b, n));
        CHECK(r.count == 6 && r.metadata_count == 2, "counts");
        t = bnbq_st_find(&r, "copied");
        CHECK(t && ((const float*)t->data)[0] == 1.0f, "copied data");
        t = bnbq_st_find(&r, "borrowed");
        CHECK(t && ((const float*)t->data)[0] == 100.0f, "borrowed data");
        t = bnbq_st_find(&r, "scalar");
        CHECK(t && t->ndim == 0 && t->numel == 1 && t->bytes == 1 && t->shape == NULL, "scalar");
        t = bnbq_st_find(&r, "nothing");
        CHECK(t && t->ndim == 3 && t->numel == 0 && t->bytes == 0, "empty tensor");
        t = bnbq_st_find(&r, "f4");
        CHECK(t && t->dtype == BNBQ_ST_F4 && t->bytes == 1 && t->numel == 2, "F4");
        CHECK(bnbq_st_find(&r, "") != NULL, "empty name");
        CHECK(strcmp(bnbq_st_find_metadata(&r, "k1"), "x\"\n\ty") == 0, "metadata escapes");
        bnbq_st_reader_uninit(&g_logex, &r);
        /* deterministic: a second write is the same */
        {
            size_t n2;
            uint8_t* b2 = write_all(&w, &n2);
            CHECK(b2 && n2 == n && memcmp(b, b2, n) == 0, "second write differs");
            free(b2);
        }
        CHECK_R(bnbq_st_writer_write(&g_logex, &w, out, sizeof out, &sz), BNBQ_ERROR_INVALID_ARGS);
        free(b);
    }
    /* bad adds */
    CHECK_R(bnbq_st_writer_add(&g_logex, NULL, "x", BNBQ_ST_U8, 1, &one, small), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, NULL, BNBQ_ST_U8, 1, &one, small), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, "x", BNBQ_ST_U8, 1, NULL, small), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, "x", BNBQ_ST_U8, 1, &one, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, "x", (bnbq_st_dtype)99, 1, &one, small), BNBQ_ERROR_BAD_DTYPE);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, "__metadata__", BNBQ_ST_U8, 1, &one, small),
            BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, "\xff", BNBQ_ST_U8, 1, &one, small), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_st_writer_add(&g_logex, &w, "x", BNBQ_ST_F4, 1, &three, small), BNBQ_ERROR_BAD_SHAPE);
    {
        size_t huge[2] = {(size_t)1 << 40, (size_t)1 << 40};
        CHECK_R(bnbq_st_writer_add(&g_logex, &w, "x", BNBQ_ST_U8, 2, huge, small), BNBQ_ERROR_BAD_SHAPE);
    }
    CHECK_R(bnbq_st_writer_set_metadata(&g_logex, &w, "k", NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_set_metadata(&g_logex, &w, "k", "\xc3"), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_st_writer_size(&g_logex, NULL, &sz), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_size(&g_logex, &w, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_write(&g_logex, &w, NULL, 10, &sz), BNBQ_ERROR_NULL_POINTER);
    /* a name twice (also with another dtype) */
    OK(bnbq_st_writer_add(&g_logex, &w, "copied", BNBQ_ST_U8, 1, &one, small));
    CHECK_R(bnbq_st_writer_size(&g_logex, &w, &sz), BNBQ_ERROR_INVALID_ARGS);
    CHECK_R(bnbq_st_writer_write(&g_logex, &w, out, sizeof out, &sz), BNBQ_ERROR_INVALID_ARGS);
    bnbq_st_writer_uninit(&g_logex, &w);
    bnbq_st_writer_uninit(&g_logex, NULL);
    CHECK_R(bnbq_st_writer_init(&g_logex, NULL), BNBQ_ERROR_NULL_POINTER);
    /* dtype helpers */
    CHECK(bnbq_st_dtype_name((bnbq_st_dtype)-1) == NULL && bnbq_st_dtype_bits(BNBQ_ST_DTYPE_COUNT) == 0,
          "dtype helpers out of range");
    CHECK(strcmp(bnbq_st_dtype_name(BNBQ_ST_F8_E4M3FNUZ), "F8_E4M3FNUZ") == 0 &&
          bnbq_st_dtype_bits(BNBQ_ST_F6_E2M3) == 6, "dtype helpers");
    {
        bnbq_st_dtype s = BNBQ_ST_U8;
        bnbq_dtype d = BNBQ_F32;
        OK(bnbq_st_dtype_from(BNBQ_BF16, &s));
        CHECK(s == BNBQ_ST_BF16, "from");
        OK(bnbq_st_dtype_to(BNBQ_ST_I64, &d));
        CHECK(d == BNBQ_I64, "to");
        CHECK_R(bnbq_st_dtype_to(BNBQ_ST_F64, &d), BNBQ_ERROR_BAD_DTYPE);
    }
}

/* ------------------------------------------------------------------------------------------ */
static void test_corrupt(void) {
    bnbq_st_writer w;
    bnbq_st_reader r;
    size_t n = 0, cut, shp[2] = {2, 3}, one = 1;
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint8_t u = 7, *b, *c;
    /* every strict prefix of a valid file fails, and nothing reads past it */
    OK(bnbq_st_writer_init(&g_logex, &w));
    OK(bnbq_st_writer_add(&g_logex, &w, "a", BNBQ_ST_F32, 2, shp, a));
    OK(bnbq_st_writer_add(&g_logex, &w, "b", BNBQ_ST_U8, 1, &one, &u));
    OK(bnbq_st_writer_set_metadata(&g_logex, &w, "format", "pt"));
    b = write_all(&w, &n);
    bnbq_st_writer_uninit(&g_logex, &w);
    if (!b) { CHECK(0, "write"); return; }
    for (cut = 0; cut < n; cut++) {
        c = (uint8_t*)malloc(cut + 1);   /* exact size: ASan sees any read past it */
        memcpy(c, b, cut);
        CHECK_R(bnbq_st_reader_init(&g_logex, &r, c, cut), BNBQ_ERROR_CORRUPT_FILE);
        free(c);
    }
    c = (uint8_t*)malloc(n);
    memcpy(c, b, n);
    OK(bnbq_st_reader_init(&g_logex, &r, c, n));
    bnbq_st_reader_uninit(&g_logex, &r);
    /* a byte after the data area */
    c = (uint8_t*)realloc(c, n + 1);
    c[n] = 0;
    CHECK_R(bnbq_st_reader_init(&g_logex, &r, c, n + 1), BNBQ_ERROR_CORRUPT_FILE);
    /* header lengths: huge, just over the limit, past the end */
    memcpy(c, b, n);
    c[7] = 0x80;
    CHECK_R(bnbq_st_reader_init(&g_logex, &r, c, n), BNBQ_ERROR_CORRUPT_FILE);
    c[7] = 0; c[0] = 0x01; c[1] = 0xe1; c[2] = 0xf5; c[3] = 0x05;   /* 100,000,001 */
    CHECK_R(bnbq_st_reader_init(&g_logex, &r, c, n), BNBQ_ERROR_CORRUPT_FILE);
    memcpy(c, b, 8);
    c[0] = (uint8_t)(n - 8 + 1);   /* n < 256 */
    c[1] = (uint8_t)((n - 8 + 1) >> 8);
    CHECK_R(bnbq_st_reader_init(&g_logex, &r, c, n), BNBQ_ERROR_CORRUPT_FILE);
    free(c);
    free(b);
    /* NULL arguments */
    CHECK_R(bnbq_st_reader_init(&g_logex, NULL, a, 8), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_reader_init(&g_logex, &r, NULL, 8), BNBQ_ERROR_NULL_POINTER);
    CHECK(bnbq_st_find(NULL, "a") == NULL && bnbq_st_find(&r, NULL) == NULL, "find NULL");
    CHECK(bnbq_st_find_metadata(NULL, "a") == NULL, "find_metadata NULL");
    bnbq_st_reader_uninit(&g_logex, NULL);
#ifndef BNBQ_NO_STDIO
    CHECK_R(bnbq_st_reader_init_file(&g_logex, &r, NULL), BNBQ_ERROR_NULL_POINTER);
#endif

    /* well-formed variants */
    GOOD_JSON("{}", 0);
    GOOD_JSON("{}  \n\t\r ", 0);
    GOOD_JSON("{ \"a\" : { \"shape\" : [ 2 ] , \"data_offsets\":[0,8],\n\"dtype\":\"F32\" } }", 8);
    GOOD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4],\"extra\":[{\"x\":null},true,-1.5e3]}}", 4);
    GOOD_JSON("{\"__metadata__\":null,\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1);
    GOOD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0);
    GOOD_JSON("{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},\"a\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 4);
    {
        bnbq_st_reader rr;
        OK(read_json("{\"\\u00fc\\ud83d\\ude00\\/\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &rr));
        CHECK(bnbq_st_find(&rr, "\xc3\xbc\xf0\x9f\x98\x80/") != NULL, "escaped name decoded");
        bnbq_st_reader_uninit(&g_logex, &rr);
    }
    /* malformed JSON and structure */
    BAD_JSON("", 0);
    BAD_JSON(" {}", 0);
    BAD_JSON("[]", 0);
    BAD_JSON("{", 0);
    BAD_JSON("{}x", 0);
    {
        /* NUL padding (the format pads with spaces) */
        uint8_t z[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0, 0, 0, 0, 0};
        CHECK_R(bnbq_st_reader_init(&g_logex, &r, z, sizeof z), BNBQ_ERROR_CORRUPT_FILE);
        z[10] = z[11] = z[12] = z[13] = z[14] = z[15] = ' ';
        OK(bnbq_st_reader_init(&g_logex, &r, z, sizeof z));
        bnbq_st_reader_uninit(&g_logex, &r);
    }
    BAD_JSON("{\"a\":}", 0);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},}", 1);
    BAD_JSON("{\"a\" {\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", 1);
    BAD_JSON("{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\xc0\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\x01\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\\q\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\\udc00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\\u0000\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\\u12\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":[]}", 0);
    BAD_JSON("{\"a\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    BAD_JSON("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 2);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,0]}}", 1);
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999999]}}", 1);
    /* offsets vs shapes and the data area */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1);      /* shape */
    BAD_JSON("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);     /* shape */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 3);      /* past end */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 4);      /* past end */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 5);      /* trailing */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6);         /* overlap */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);         /* same */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12);       /* hole */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8);      /* hole */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
    BAD_JSON("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0);
    BAD_JSON("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1);     /* half byte */
    BAD_JSON("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);         /* twice */
    /* metadata */
    BAD_JSON("{\"__metadata__\":{\"a\":1}}", 0);
    BAD_JSON("{\"__metadata__\":{\"a\":null}}", 0);
    BAD_JSON("{\"__metadata__\":[\"a\"]}", 0);
    BAD_JSON("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0);
    BAD_JSON("{\"__metadata__\":{},\"__metadata__\":{}}", 0);
    /* deep nesting in a skipped value */
    {
        char deep[400];
        int i, o = 0;
        o += sprintf(deep + o, "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":");
        for (i = 0; i < 100; i++) deep[o++] = '[';
        for (i = 0; i < 100; i++) deep[o++] = ']';
        deep[o++] = '}';
        deep[o++] = '}';
        deep[o] = 0;
        BAD_JSON(deep, 0);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* layers */

/* a layer's state dict as a file in memory (the "snapshot" used to prove a layer unchanged) */
static uint8_t* save_linear(const bnbq_linear* L, const char* prefix, bnbq_st_dtype storage,
                            size_t* n) {
    bnbq_st_writer w;
    uint8_t* b;
    bnbq_result r;
    bnbq_st_writer_init(&g_logex, &w);
    r = bnbq_linear_save(&g_logex, L, prefix, storage, &w);
    CHECK(r == BNBQ_SUCCESS, "bnbq_linear_save: %s", bnbq_result_name(r));
    b = write_all(&w, n);
    bnbq_st_writer_uninit(&g_logex, &w);
    return b;
}

/* out of a forward, in a new host buffer */
static void* fwd(bnbq_linear* L, bnbq_dtype xdt, const void* x, size_t T, size_t* bytes) {
    bnbq_dtype odt = bnbq_linear_output_dtype(L, xdt);
    size_t ob = T * L->desc.out_features * bnbq_dtype_size(odt);
    void *out = NULL, *xe = NULL, *h;
    size_t xb = T * L->desc.in_features * bnbq_dtype_size(xdt);
    bnbq_alloc(&g_logex, xb, &xe);
    bnbq_copy(&g_logex, xe, x, xb, BNBQ_COPY_HOST_TO_EXEC);
    bnbq_alloc(&g_logex, ob, &out);
    OK(bnbq_linear_forward(&g_logex, L, xdt, xe, T, out));
    h = host_copy(out, ob);
    bnbq_free(&g_logex, out);
    bnbq_free(&g_logex, xe);
    *bytes = ob;
    return h;
}

/* the quantized 4-bit state of two layers is the same, byte for byte */
static int same_4bit_state(const bnbq_linear* a, const bnbq_linear* b) {
    size_t n = a->desc.out_features * a->desc.in_features, nb, ok = 1;
    if (a->quant_type != b->quant_type || a->blocksize != b->blocksize || a->nested != b->nested ||
        a->quant_dtype != b->quant_dtype || !a->quantized || !b->quantized)
        return 0;
    nb = (n + (size_t)a->blocksize - 1) / (size_t)a->blocksize;
#define SAME(pa, pb, bytes) do { void* x_ = host_copy(pa, bytes); void* y_ = host_copy(pb, bytes); \
    if (memcmp(x_, y_, bytes) != 0) { ok = 0; } free(x_); free(y_); } while (0)
    SAME(a->packed, b->packed, (n + 1) / 2);
    if (a->nested) {
        if (memcmp(&a->nested_offset, &b->nested_offset, 4) != 0) return 0;
        SAME(a->absmax_q, b->absmax_q, nb);
        SAME(a->nested_absmax, b->nested_absmax, (nb + 255) / 256 * 4);
    } else {
        SAME(a->absmax, b->absmax, nb * 4);
    }
#undef SAME
    return (int)ok;
}

static bnbq_result load_from(bnbq_linear* L, const uint8_t* file, size_t n, const char* prefix) {
    bnbq_st_reader r;
    bnbq_result res = bnbq_st_reader_init(&g_logex, &r, file, n);
    if (res != BNBQ_SUCCESS) return res;
    res = bnbq_linear_load(&g_logex, L, &r, prefix);
    bnbq_st_reader_uninit(&g_logex, &r);
    return res;
}

/* test_linear_serialization (test_linear4bit.py) in C: Linear(300 -> 400) */
static void test_linear4bit_serialization(void) {
    static const bnbq_dtype dts[3] = {BNBQ_F16, BNBQ_BF16, BNBQ_F32};
    static const bnbq_st_dtype storages[4] = {BNBQ_ST_U8, BNBQ_ST_F16, BNBQ_ST_BF16, BNBQ_ST_F32};
    const size_t K = 300, N = 400, T = 42;
    float* x = randn(T * K, 1.0);
    int di, qi, nested, bias, sbf, combo = 0;
    double worst[3] = {0, 0, 0}, worst_f32_plain = 0;
    for (di = 0; di < 3; di++)
        for (qi = 0; qi < 2; qi++)
            for (nested = 0; nested < 2; nested++)
                for (bias = 0; bias < 2; bias++)
                    for (sbf = 0; sbf < 2; sbf++, combo++) {
                        bnbq_linear_desc d = ldesc(qi ? BNBQ_LINEAR_NF4 : BNBQ_LINEAR_FP4, K, N,
                                                   dts[di], 100 + (uint64_t)combo);
                        bnbq_st_dtype st = storages[combo % 4];
                        bnbq_linear L, L2, F;
                        uint8_t *file, *ffile, *again;
                        size_t n, fn, an, ob0, ob1, s;
                        void *out0 = NULL, *out1;
                        if (g_quick && combo % 6 != 0) continue;
                        d.no_bias = !bias;
                        d.no_compress_statistics = !nested;
                        /* the original float layer's file (torch: the Linear state dict) */
                        OK(bnbq_linear_init(&g_logex, &F, &d));
                        ffile = save_linear(&F, "layer", BNBQ_ST_U8, &fn);
                        OK(bnbq_linear_init(&g_logex, &L, &d));
                        CHECK_R(bnbq_linear_load(&g_logex, &L, NULL, "layer"), BNBQ_ERROR_NULL_POINTER);
                        OK(load_from(&L, ffile, fn, "layer"));   /* load_state_dict, then .cuda() */
                        OK(bnbq_linear_quantize(&g_logex, &L));
                        if (!sbf) out0 = fwd(&L, BNBQ_F32, x, T, &ob0);
                        file = save_linear(&L, "layer", st, &n);
                        if (sbf) out0 = fwd(&L, BNBQ_F32, x, T, &ob0);
                        /* a fresh layer of other random weights takes the checkpoint */
                        d.seed += 1000;
                        OK(bnbq_linear_init(&g_logex, &L2, &d));
                        OK(load_from(&L2, file, n, "layer"));
                        CHECK(same_4bit_state(&L, &L2), "combo %d: quant state differs", combo);
                        out1 = fwd(&L2, BNBQ_F32, x, T, &ob1);
                        CHECK(ob0 == ob1 && memcmp(out0, out1, ob0) == 0,
                              "combo %d (dt %d %s nested %d bias %d storage %s sbf %d): outputs differ",
                              combo, (int)dts[di], qi ? "nf4" : "fp4", nested, bias,
                              bnbq_st_dtype_name(st), sbf);
                        /* every quant_storage holds the same bytes and reloads the same state */
                        if (combo % 8 == 0) {
                            for (s = 0; s < 4; s++) {
                                bnbq_linear L3;
                                uint8_t* f2 = save_linear(&L2, "m.q", storages[s], &an);
                                OK(bnbq_linear_init(&g_logex, &L3, &d));
                                OK(load_from(&L3, f2, an, "m.q"));
                                CHECK(same_4bit_state(&L, &L3), "storage %u: state differs", (unsigned)s);
                                bnbq_linear_uninit(&g_logex, &L3);
                                free(f2);
                            }
                        }
                        /* saving the reloaded layer gives the same file (bias dtype aside) */
                        again = save_linear(&L2, "layer", st, &an);
                        if (!sbf || !bias) CHECK(an == n, "combo %d: resave size %u vs %u", combo, (unsigned)an, (unsigned)n);
                        /* the size bar */
                        {
                            double ratio = (double)n / (double)fn;
                            if (ratio > worst[di]) worst[di] = ratio;
                            if (dts[di] == BNBQ_F32 && !nested && ratio > worst_f32_plain) worst_f32_plain = ratio;
                            if (dts[di] != BNBQ_F32) CHECK(ratio < 0.29, "combo %d: size ratio %.4f", combo, ratio);
                            else if (nested) CHECK(ratio < 0.143, "combo %d: f32 size ratio %.4f", combo, ratio);
                            else CHECK(ratio < 0.146, "combo %d: f32 size ratio %.4f", combo, ratio);
                        }
                        free(again);
                        free(out0);
                        free(out1);
                        free(file);
                        free(ffile);
                        bnbq_linear_uninit(&g_logex, &L);
                        bnbq_linear_uninit(&g_logex, &L2);
                        bnbq_linear_uninit(&g_logex, &F);
                    }
    free(x);
    if (!g_quick)
        printf("   4-bit file / float file, largest: f16 %.4f, bf16 %.4f, f32 %.4f (f32 without nested "
               "statistics %.4f: 1/8 + 1/64 by construction)\n", worst[0], worst[1], worst[2],
               worst_f32_plain);
}

/* all tensors of r except the named ones, borrowed (r must outlive the write) */
static void copy_except(bnbq_st_writer* w, const bnbq_st_reader* r, const char* skip1,
                        const char* skip2) {
    size_t i;
    for (i = 0; i < r->count; i++) {
        const bnbq_st_tensor* t = r->tensors + i;
        if ((skip1 && strcmp(t->name, skip1) == 0) || (skip2 && strcmp(t->name, skip2) == 0)) continue;
        OK(bnbq_st_writer_add(&g_logex, w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
}
static void add_text(bnbq_st_writer* w, const char* name, const char* text) {
    size_t n = strlen(text);
    OK(bnbq_st_writer_add_copy(&g_logex, w, name, BNBQ_ST_U8, 1, &n, text));
}

/* load must fail with `want` and leave the layer's state dict exactly as it was */
static void expect_load_fail(bnbq_linear* L, const uint8_t* file, size_t n, const char* prefix,
                             bnbq_result want, int line) {
    size_t n0, n1;
    uint8_t* before = save_linear(L, "s", BNBQ_ST_U8, &n0);
    int logs = g_log.n_total;
    bnbq_result r = load_from(L, file, n, prefix);
    uint8_t* after = save_linear(L, "s", BNBQ_ST_U8, &n1);
    check_impl(r == want, line, "load returned %s, expected %s (%s)", bnbq_result_name(r),
               bnbq_result_name(want), g_log.last_msg);
    check_impl(g_log.n_total > logs, line, "the failure was not logged");
    check_impl(before && after && n0 == n1 && memcmp(before, after, n0) == 0, line,
               "a failed load changed the layer");
    free(before);
    free(after);
}
/* the checkpoint in r with tensor `skip` (and `skip2`) left out and, when name is set, a tensor
   added; then expect_load_fail */
static void fail_with(bnbq_linear* L, const bnbq_st_reader* r, const char* prefix, const char* skip,
                      const char* skip2, const char* name, bnbq_st_dtype dt, size_t ndim,
                      const size_t* shape, const void* data, bnbq_result want, int line) {
    bnbq_st_writer w;
    size_t n;
    uint8_t* f;
    bnbq_st_writer_init(&g_logex, &w);
    copy_except(&w, r, skip, skip2);
    if (name) OK(bnbq_st_writer_add_copy(&g_logex, &w, name, dt, ndim, shape, data));
    f = write_all(&w, &n);
    bnbq_st_writer_uninit(&g_logex, &w);
    check_impl(f != NULL, line, "could not build the checkpoint");
    if (f) expect_load_fail(L, f, n, prefix, want, line);
    free(f);
}
#define FAIL_WITH(L, r, skip, skip2, name, dt, ndim, shape, data, want) \
    fail_with(L, r, "m", skip, skip2, name, dt, ndim, shape, data, want, __LINE__)
#define FAIL_WITH_8(L, r, skip, name, dt, ndim, shape, data, want) \
    fail_with(L, r, "fc", skip, NULL, name, dt, ndim, shape, data, want, __LINE__)
#define FAIL_BLOB(L, r, text, want) do { size_t tl_ = strlen(text); \
    fail_with(L, r, "m", "m.weight.quant_state.bitsandbytes__nf4", NULL, \
              "m.weight.quant_state.bitsandbytes__nf4", BNBQ_ST_U8, 1, &tl_, text, want, __LINE__); } while (0)

/* the JSON examples of layers.md 8.1, and the reader's tolerance */
static void test_linear4bit_json(void) {
    static const char* ex_fp4 =
        "{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64]}";
    static const char* ex_nf4 =
        "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], "
        "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.1232503280043602}";
    bnbq_linear_desc d = ldesc(BNBQ_LINEAR_FP4, 64, 96, BNBQ_BF16, 3);
    bnbq_linear L, L2;
    bnbq_st_reader r;
    const bnbq_st_tensor* t;
    uint8_t *file, packed[3072], aq[96];
    float nested_absmax[1] = {0.75f};
    size_t n, i;
    /* FP4, not nested */
    d.no_compress_statistics = 1;
    OK(bnbq_linear_init(&g_logex, &L, &d));
    OK(bnbq_linear_quantize(&g_logex, &L));
    file = save_linear(&L, "m", BNBQ_ST_U8, &n);
    OK(bnbq_st_reader_init(&g_logex, &r, file, n));
    CHECK(r.count == 5, "fp4: %u tensors", (unsigned)r.count);
    t = bnbq_st_find(&r, "m.weight.quant_state.bitsandbytes__fp4");
    CHECK(t && t->dtype == BNBQ_ST_U8 && t->ndim == 1 && t->bytes == strlen(ex_fp4) &&
          memcmp(t->data, ex_fp4, t->bytes) == 0, "fp4 JSON: %.*s", t ? (int)t->bytes : 0,
          t ? (const char*)t->data : "");
    t = bnbq_st_find(&r, "m.weight");
    CHECK(t && t->dtype == BNBQ_ST_U8 && t->ndim == 2 && t->shape[0] == 3072 && t->shape[1] == 1, "weight");
    t = bnbq_st_find(&r, "m.weight.absmax");
    CHECK(t && t->dtype == BNBQ_ST_F32 && t->ndim == 1 && t->shape[0] == 96, "absmax");
    t = bnbq_st_find(&r, "m.weight.quant_map");
    CHECK(t && t->dtype == BNBQ_ST_F32 && t->numel == 16 && memcmp(t->data, bnbq_code_4bit(BNBQ_FP4), 64) == 0,
          "quant_map");
    t = bnbq_st_find(&r, "m.bias");
    CHECK(t && t->dtype == BNBQ_ST_BF16 && t->numel == 96, "bias");
    /* U8 absmax without the nested fields */
    {
        uint8_t a8[96] = {0};
        size_t s96 = 96;
        FAIL_WITH(&L, &r, "m.weight.absmax", NULL, "m.weight.absmax", BNBQ_ST_U8, 1, &s96, a8,
                  BNBQ_ERROR_CORRUPT_FILE);
    }
    bnbq_st_reader_uninit(&g_logex, &r);
    free(file);
    bnbq_linear_uninit(&g_logex, &L);

    /* NF4, nested, with the offset of the example (a state from a checkpoint) */
    d = ldesc(BNBQ_LINEAR_NF4, 64, 96, BNBQ_BF16, 4);
    OK(bnbq_linear_init(&g_logex, &L, &d));
    for (i = 0; i < sizeof packed; i++) packed[i] = (uint8_t)(i * 37 + 11);
    for (i = 0; i < sizeof aq; i++) aq[i] = (uint8_t)(i * 5 + 100);
    OK(bnbq_linear_load_4bit(&g_logex, &L, BNBQ_NF4, 64, BNBQ_BF16, packed, NULL, aq, nested_absmax,
                             (float)0.1232503280043602));
    file = save_linear(&L, "m", BNBQ_ST_U8, &n);
    OK(bnbq_st_reader_init(&g_logex, &r, file, n));
    CHECK(r.count == 7, "nf4: %u tensors", (unsigned)r.count);
    t = bnbq_st_find(&r, "m.weight.quant_state.bitsandbytes__nf4");
    CHECK(t && t->bytes == strlen(ex_nf4) && memcmp(t->data, ex_nf4, t->bytes) == 0,
          "nf4 JSON: %.*s", t ? (int)t->bytes : 0, t ? (const char*)t->data : "");
    t = bnbq_st_find(&r, "m.weight.absmax");
    CHECK(t && t->dtype == BNBQ_ST_U8 && t->numel == 96 && memcmp(t->data, aq, 96) == 0, "absmax_q");
    t = bnbq_st_find(&r, "m.weight.nested_absmax");
    CHECK(t && t->dtype == BNBQ_ST_F32 && t->numel == 1, "nested_absmax");
    t = bnbq_st_find(&r, "m.weight.nested_quant_map");
    CHECK(t && t->numel == 256 && memcmp(t->data, bnbq_code_dynamic(1), 1024) == 0, "nested_quant_map");
    t = bnbq_st_find(&r, "m.weight");
    CHECK(t && t->bytes == 3072 && memcmp(t->data, packed, 3072) == 0, "packed bytes");
    /* the JSON blob in another key order, with other whitespace and an unknown key */
    {
        bnbq_st_writer w;
        uint8_t* f2;
        size_t n2;
        bnbq_st_writer_init(&g_logex, &w);
        copy_except(&w, &r, "m.weight.quant_state.bitsandbytes__nf4", NULL);
        add_text(&w, "m.weight.quant_state.bitsandbytes__nf4",
                 "{\n  \"nested_offset\":0.1232503280043602,\"shape\" :[ 96 ,64 ],\r\n\t\"dtype\":"
                 "\"bfloat16\", \"future\": {\"a\": [1, 2.5, null]}, \"nested_dtype\": \"float32\","
                 "\"blocksize\":64,\"nested_blocksize\":256,\"quant_type\":\"nf4\"}  ");
        f2 = write_all(&w, &n2);
        bnbq_st_writer_uninit(&g_logex, &w);
        OK(bnbq_linear_init(&g_logex, &L2, &d));
        OK(load_from(&L2, f2, n2, "m"));
        CHECK(same_4bit_state(&L, &L2), "reordered JSON: state differs");
        bnbq_linear_uninit(&g_logex, &L2);
        free(f2);
    }
    /* the older unpacked form */
    {
        bnbq_st_writer w;
        uint8_t* f2;
        size_t n2, two = 2;
        int64_t bs = 64, shape[2] = {96, 64};
        int32_t nbs = 256;
        float off = (float)0.1232503280043602;
        bnbq_st_writer_init(&g_logex, &w);
        copy_except(&w, &r, "m.weight.quant_state.bitsandbytes__nf4", NULL);
        add_text(&w, "m.weight.quant_type", "nf4");
        OK(bnbq_st_writer_add_copy(&g_logex, &w, "m.weight.blocksize", BNBQ_ST_I64, 0, NULL, &bs));
        add_text(&w, "m.weight.dtype", "bfloat16");
        OK(bnbq_st_writer_add_copy(&g_logex, &w, "m.weight.shape", BNBQ_ST_I64, 1, &two, shape));
        OK(bnbq_st_writer_add_copy(&g_logex, &w, "m.weight.nested_blocksize", BNBQ_ST_I32, 0, NULL, &nbs));
        add_text(&w, "m.weight.nested_dtype", "float32");
        OK(bnbq_st_writer_add_copy(&g_logex, &w, "m.weight.nested_offset", BNBQ_ST_F32, 0, NULL, &off));
        f2 = write_all(&w, &n2);
        bnbq_st_writer_uninit(&g_logex, &w);
        OK(bnbq_linear_init(&g_logex, &L2, &d));
        OK(load_from(&L2, f2, n2, "m"));
        CHECK(same_4bit_state(&L, &L2), "unpacked form: state differs");
        bnbq_linear_uninit(&g_logex, &L2);
        free(f2);
    }
    /* bad checkpoints: each fails, the layer (a different quantized one) unchanged */
    d.seed = 77;
    OK(bnbq_linear_init(&g_logex, &L2, &d));
    OK(bnbq_linear_quantize(&g_logex, &L2));
    {
        uint16_t a16[96] = {0};
        uint8_t a8[97] = {0}, w8[3073] = {0};
        float qm[16], nqm[256], b32[97] = {0};
        int8_t bi8[96] = {0};
        size_t s96 = 96, s97 = 97, s16 = 16, s256 = 256, ws[2] = {3073, 1}, ws2[2] = {1536, 2};
        memcpy(qm, bnbq_code_4bit(BNBQ_NF4), sizeof qm);
        qm[3] += 1e-6f;
        memcpy(nqm, bnbq_code_dynamic(1), sizeof nqm);
        nqm[100] = 0.5f;
        FAIL_WITH(&L2, &r, "m.weight.absmax", NULL, NULL, BNBQ_ST_U8, 0, NULL, NULL, BNBQ_ERROR_CORRUPT_FILE);
        FAIL_WITH(&L2, &r, "m.weight.absmax", NULL, "m.weight.absmax", BNBQ_ST_F16, 1, &s96, a16,
                  BNBQ_ERROR_BAD_DTYPE);
        FAIL_WITH(&L2, &r, "m.weight.absmax", NULL, "m.weight.absmax", BNBQ_ST_U8, 1, &s97, a8,
                  BNBQ_ERROR_BAD_SHAPE);
        FAIL_WITH(&L2, &r, "m.weight.absmax", NULL, "m.weight.absmax", BNBQ_ST_F32, 1, &s96, b32,
                  BNBQ_ERROR_CORRUPT_FILE);   /* float absmax in a nested state */
        FAIL_WITH(&L2, &r, "m.weight", NULL, "m.weight", BNBQ_ST_U8, 2, ws, w8, BNBQ_ERROR_BAD_SHAPE);
        FAIL_WITH(&L2, &r, "m.weight", NULL, "m.weight", BNBQ_ST_U8, 2, ws2, w8, BNBQ_ERROR_BAD_SHAPE);
        FAIL_WITH(&L2, &r, "m.weight", NULL, "m.weight", BNBQ_ST_I32, 1, &s96, w8, BNBQ_ERROR_BAD_DTYPE);
        FAIL_WITH(&L2, &r, "m.weight", NULL, NULL, BNBQ_ST_U8, 0, NULL, NULL, BNBQ_ERROR_CORRUPT_FILE);
        FAIL_WITH(&L2, &r, "m.weight.quant_map", NULL, NULL, BNBQ_ST_U8, 0, NULL, NULL, BNBQ_ERROR_CORRUPT_FILE);
        FAIL_WITH(&L2, &r, "m.weight.quant_map", NULL, "m.weight.quant_map", BNBQ_ST_F32, 1, &s16, qm,
                  BNBQ_ERROR_NOT_SUPPORTED);
        FAIL_WITH(&L2, &r, "m.weight.nested_quant_map", NULL, "m.weight.nested_quant_map", BNBQ_ST_F32, 1,
                  &s256, nqm, BNBQ_ERROR_NOT_SUPPORTED);
        FAIL_WITH(&L2, &r, "m.weight.nested_absmax", NULL, NULL, BNBQ_ST_U8, 0, NULL, NULL,
                  BNBQ_ERROR_CORRUPT_FILE);
        FAIL_WITH(&L2, &r, "m.bias", NULL, NULL, BNBQ_ST_U8, 0, NULL, NULL, BNBQ_ERROR_CORRUPT_FILE);
        FAIL_WITH(&L2, &r, "m.bias", NULL, "m.bias", BNBQ_ST_F32, 1, &s97, b32, BNBQ_ERROR_BAD_SHAPE);
        FAIL_WITH(&L2, &r, "m.bias", NULL, "m.bias", BNBQ_ST_I8, 1, &s96, bi8, BNBQ_ERROR_BAD_DTYPE);
        FAIL_WITH(&L2, &r, NULL, NULL, "m.weight.quant_state.bitsandbytes__fp4", BNBQ_ST_U8, 1, &s16, a8,
                  BNBQ_ERROR_CORRUPT_FILE);   /* both an nf4 and an fp4 state */
        FAIL_WITH(&L2, &r, "m.weight.quant_state.bitsandbytes__nf4", NULL,
                  "m.weight.quant_state.bitsandbytes__nf4", BNBQ_ST_I8, 1, &s16, a8, BNBQ_ERROR_BAD_DTYPE);
        FAIL_BLOB(&L2, &r, "{", BNBQ_ERROR_CORRUPT_FILE);
        FAIL_BLOB(&L2, &r, "[]", BNBQ_ERROR_CORRUPT_FILE);
        FAIL_BLOB(&L2, &r, "", BNBQ_ERROR_CORRUPT_FILE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\"} x", BNBQ_ERROR_CORRUPT_FILE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12, \"blocksize\": 64}",
                  BNBQ_ERROR_CORRUPT_FILE);   /* a key twice */
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"fp4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_CORRUPT_FILE);   /* fp4 under the nf4 key */
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf5\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64]}",
                  BNBQ_ERROR_CORRUPT_FILE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_CORRUPT_FILE);   /* no blocksize */
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": \"64\", \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_CORRUPT_FILE);   /* wrong JSON type */
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\"}",
                  BNBQ_ERROR_CORRUPT_FILE);   /* nested fields in part */
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64]}",
                  BNBQ_ERROR_CORRUPT_FILE);   /* U8 absmax without nested fields */
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 65], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_BAD_SHAPE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [6144], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_BAD_SHAPE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 48, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_BAD_BLOCKSIZE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float64\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_NOT_SUPPORTED);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 128, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12}",
                  BNBQ_ERROR_NOT_SUPPORTED);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": NaN}",
                  BNBQ_ERROR_CORRUPT_FILE);
        FAIL_BLOB(&L2, &r, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.12\xff}",
                  BNBQ_ERROR_CORRUPT_FILE);
    }
    /* a layer of another shape */
    {
        bnbq_linear L3;
        bnbq_linear_desc d3 = ldesc(BNBQ_LINEAR_NF4, 64, 97, BNBQ_BF16, 5);
        OK(bnbq_linear_init(&g_logex, &L3, &d3));
        expect_load_fail(&L3, file, n, "m", BNBQ_ERROR_BAD_SHAPE, __LINE__);
        bnbq_linear_uninit(&g_logex, &L3);
        d3 = ldesc(BNBQ_LINEAR_NF4, 64, 96, BNBQ_BF16, 5);
        d3.no_bias = 1;
        OK(bnbq_linear_init(&g_logex, &L3, &d3));
        expect_load_fail(&L3, file, n, "m", BNBQ_ERROR_CORRUPT_FILE, __LINE__);   /* bias */
        expect_load_fail(&L3, file, n, "nope", BNBQ_ERROR_CORRUPT_FILE, __LINE__);   /* no keys */
        bnbq_linear_uninit(&g_logex, &L3);
    }
    /* NULL and bad arguments */
    {
        bnbq_linear Z;
        bnbq_st_writer w;
        char longp[1100];
        memset(&Z, 0, sizeof Z);
        memset(longp, 'p', sizeof longp - 1);
        longp[sizeof longp - 1] = 0;
        bnbq_st_writer_init(&g_logex, &w);
        CHECK_R(bnbq_linear_load(&g_logex, NULL, &r, "m"), BNBQ_ERROR_NULL_POINTER);
        CHECK_R(bnbq_linear_load(&g_logex, &L2, NULL, "m"), BNBQ_ERROR_NULL_POINTER);
        CHECK_R(bnbq_linear_load(&g_logex, &Z, &r, "m"), BNBQ_ERROR_INVALID_ARGS);
        CHECK_R(bnbq_linear_load(&g_logex, &L2, &r, longp), BNBQ_ERROR_INVALID_ARGS);
        CHECK_R(bnbq_linear_save(&g_logex, NULL, "m", BNBQ_ST_U8, &w), BNBQ_ERROR_NULL_POINTER);
        CHECK_R(bnbq_linear_save(&g_logex, &L2, "m", BNBQ_ST_U8, NULL), BNBQ_ERROR_NULL_POINTER);
        CHECK_R(bnbq_linear_save(&g_logex, &Z, "m", BNBQ_ST_U8, &w), BNBQ_ERROR_INVALID_ARGS);
        CHECK_R(bnbq_linear_save(&g_logex, &L2, "m", BNBQ_ST_I8, &w), BNBQ_ERROR_BAD_DTYPE);
        CHECK_R(bnbq_linear_save(&g_logex, &L2, longp, BNBQ_ST_U8, &w), BNBQ_ERROR_INVALID_ARGS);
        CHECK(w.count == 0, "failed saves added tensors");
        /* a prefix-less state dict */
        OK(bnbq_linear_save(&g_logex, &L2, "", BNBQ_ST_F16, &w));
        OK(bnbq_linear_save(&g_logex, &L2, "x", BNBQ_ST_F16, &w));
        CHECK(w.count == 14, "%u tensors", (unsigned)w.count);
        {
            size_t wn;
            uint8_t* wf = write_all(&w, &wn);
            bnbq_linear L4;
            OK(bnbq_linear_init(&g_logex, &L4, &d));
            OK(load_from(&L4, wf, wn, NULL));
            CHECK(same_4bit_state(&L2, &L4), "prefix-less state differs");
            OK(load_from(&L4, wf, wn, "x"));
            bnbq_linear_uninit(&g_logex, &L4);
            free(wf);
        }
        bnbq_st_writer_uninit(&g_logex, &w);
    }
    bnbq_linear_uninit(&g_logex, &L2);
    bnbq_st_reader_uninit(&g_logex, &r);
    free(file);
    bnbq_linear_uninit(&g_logex, &L);
}

/* test_linear_serialization (test_linear8bitlt.py) in C: Linear8bitLt(32 -> 96), int8 weights */
static void test_linear8bit_serialization(void) {
    const size_t K = 32, N = 96, T = 4;
    float* xf = randn(T * K, 1.0);
    void* x;
    int ti, bias, sbf;
    size_t i;
    for (i = 0; i < T; i++) { xf[i * K + 3] = 8.0f; xf[i * K + 17] = -7.5f; }   /* outliers at 6 */
    x = to_dt(xf, T * K, BNBQ_F16);
    for (ti = 0; ti < 2; ti++)
        for (bias = 0; bias < 2; bias++)
            for (sbf = 0; sbf < 2; sbf++) {
                bnbq_linear_desc d = ldesc(BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F32, 10 + (uint64_t)(ti * 4 + bias * 2 + sbf));
                bnbq_linear F, L, L2, L3;
                uint8_t *ffile, *file;
                size_t fn, n, ob0, ob1, ob2;
                void *out0 = NULL, *out1, *out2;
                bnbq_st_reader r;
                const bnbq_st_tensor* t;
                d.int8_weights = 1;
                d.threshold = ti ? 6.0f : 0.0f;
                d.no_bias = !bias;
                OK(bnbq_linear_init(&g_logex, &F, &d));
                ffile = save_linear(&F, "fc", BNBQ_ST_U8, &fn);   /* not quantized: float weight */
                OK(bnbq_linear_init(&g_logex, &L, &d));
                OK(load_from(&L, ffile, fn, "fc"));
                OK(bnbq_linear_quantize(&g_logex, &L));
                bnbq_linear_set_training(&L, 0);
                if (!sbf) out0 = fwd(&L, BNBQ_F16, x, T, &ob0);
                file = save_linear(&L, "fc", BNBQ_ST_U8, &n);
                if (sbf) out0 = fwd(&L, BNBQ_F16, x, T, &ob0);
                OK(bnbq_st_reader_init(&g_logex, &r, file, n));
                CHECK(r.count == (size_t)(3 + bias), "%u tensors", (unsigned)r.count);
                t = bnbq_st_find(&r, "fc.weight");
                CHECK(t && t->dtype == BNBQ_ST_I8 && t->ndim == 2 && t->shape[0] == N && t->shape[1] == K, "weight");
                t = bnbq_st_find(&r, "fc.SCB");
                CHECK(t && t->dtype == BNBQ_ST_F32 && t->ndim == 1 && t->shape[0] == N, "SCB");
                t = bnbq_st_find(&r, "fc.weight_format");
                CHECK(t && t->dtype == BNBQ_ST_U8 && t->ndim == 0 && ((const uint8_t*)t->data)[0] == 0,
                      "weight_format");
                CHECK((double)n < 0.5 * (double)fn, "size %u vs float %u", (unsigned)n, (unsigned)fn);
                /* into a layer not quantized yet (bitsandbytes raises; bnbq loads) */
                d.seed += 100;
                OK(bnbq_linear_init(&g_logex, &L2, &d));
                OK(bnbq_linear_load(&g_logex, &L2, &r, "fc"));
                CHECK(L2.quantized && L2.weight == NULL, "not quantized after the load");
                bnbq_linear_set_training(&L2, 0);
                out1 = fwd(&L2, BNBQ_F16, x, T, &ob1);
                CHECK(ob0 == ob1 && memcmp(out0, out1, ob0) == 0, "thr %d bias %d sbf %d: outputs differ",
                      ti, bias, sbf);
                /* into a quantized one */
                d.seed += 100;
                OK(bnbq_linear_init(&g_logex, &L3, &d));
                OK(bnbq_linear_quantize(&g_logex, &L3));
                OK(bnbq_linear_load(&g_logex, &L3, &r, "fc"));
                bnbq_linear_set_training(&L3, 0);
                out2 = fwd(&L3, BNBQ_F16, x, T, &ob2);
                CHECK(ob0 == ob2 && memcmp(out0, out2, ob0) == 0, "quantized target: outputs differ");
                if (ti == 1 && bias == 1 && sbf == 0) {
                    size_t s96 = N;
                    int64_t zero64 = 0;
                    uint8_t one8 = 1;
                    float f0 = 0;
                    int8_t cb[96 * 33];
                    size_t cbs[2] = {96, 33};
                    bnbq_linear_desc d16 = d;
                    bnbq_linear H;
                    bnbq_st_writer w;
                    uint8_t* f2;
                    size_t n2;
                    memset(cb, 0, sizeof cb);
                    /* weight_format: missing, an I64 0, the text "row": loaded */
                    bnbq_st_writer_init(&g_logex, &w);
                    copy_except(&w, &r, "fc.weight_format", NULL);
                    f2 = write_all(&w, &n2);
                    OK(load_from(&L3, f2, n2, "fc"));
                    free(f2);
                    OK(bnbq_st_writer_add(&g_logex, &w, "fc.weight_format", BNBQ_ST_I64, 0, NULL, &zero64));
                    f2 = write_all(&w, &n2);
                    OK(load_from(&L3, f2, n2, "fc"));
                    free(f2);
                    bnbq_st_writer_uninit(&g_logex, &w);
                    bnbq_st_writer_init(&g_logex, &w);
                    copy_except(&w, &r, "fc.weight_format", NULL);
                    add_text(&w, "fc.weight_format", "row");
                    f2 = write_all(&w, &n2);
                    OK(load_from(&L3, f2, n2, "fc"));
                    free(f2);
                    bnbq_st_writer_uninit(&g_logex, &w);
                    out2 = (free(out2), fwd(&L3, BNBQ_F16, x, T, &ob2));
                    CHECK(memcmp(out0, out2, ob0) == 0, "weight_format variants: outputs differ");
                    /* weight_format 1 (col32), "col32", a float: refused, layer unchanged */
                    FAIL_WITH_8(&L3, &r, "fc.weight_format", "fc.weight_format", BNBQ_ST_U8, 0, NULL, &one8,
                                BNBQ_ERROR_NOT_SUPPORTED);
                    {
                        size_t s5 = 5;
                        FAIL_WITH_8(&L3, &r, "fc.weight_format", "fc.weight_format", BNBQ_ST_U8, 1, &s5,
                                    "col32", BNBQ_ERROR_NOT_SUPPORTED);
                    }
                    FAIL_WITH_8(&L3, &r, "fc.weight_format", "fc.weight_format", BNBQ_ST_F32, 0, NULL, &f0,
                                BNBQ_ERROR_CORRUPT_FILE);
                    s96 = N - 1;
                    FAIL_WITH_8(&L3, &r, "fc.SCB", "fc.SCB", BNBQ_ST_F32, 1, &s96, cb, BNBQ_ERROR_BAD_SHAPE);
                    FAIL_WITH_8(&L3, &r, "fc.weight", "fc.weight", BNBQ_ST_I8, 2, cbs, cb, BNBQ_ERROR_BAD_SHAPE);
                    FAIL_WITH_8(&L3, &r, "fc.weight", "fc.weight", BNBQ_ST_U8, 2, cbs, cb, BNBQ_ERROR_BAD_DTYPE);
                    /* an int8 checkpoint into a layer with 16-bit weights */
                    d16.int8_weights = 0;
                    OK(bnbq_linear_init(&g_logex, &H, &d16));
                    expect_load_fail(&H, file, n, "fc", BNBQ_ERROR_INVALID_ARGS, __LINE__);
                    bnbq_linear_uninit(&g_logex, &H);
                }
                bnbq_st_reader_uninit(&g_logex, &r);
                free(out0);
                free(out1);
                free(out2);
                free(file);
                free(ffile);
                bnbq_linear_uninit(&g_logex, &F);
                bnbq_linear_uninit(&g_logex, &L);
                bnbq_linear_uninit(&g_logex, &L2);
                bnbq_linear_uninit(&g_logex, &L3);
            }
    /* 16-bit weights (has_fp16_weights=True): a plain float state dict */
    {
        bnbq_linear_desc d = ldesc(BNBQ_LINEAR_8BIT_LT, K, N, BNBQ_F16, 31);
        bnbq_linear L, L2;
        uint8_t* file;
        size_t n, ob0, ob1;
        void *o0, *o1;
        bnbq_st_reader r;
        d.threshold = 6.0f;
        OK(bnbq_linear_init(&g_logex, &L, &d));
        bnbq_linear_set_training(&L, 0);
        o0 = fwd(&L, BNBQ_F16, x, T, &ob0);
        file = save_linear(&L, "fc", BNBQ_ST_U8, &n);
        OK(bnbq_st_reader_init(&g_logex, &r, file, n));
        CHECK(r.count == 2 && bnbq_st_find(&r, "fc.weight")->dtype == BNBQ_ST_F16 &&
              !bnbq_st_find(&r, "fc.SCB"), "16-bit weights: a float state dict");
        bnbq_st_reader_uninit(&g_logex, &r);
        d.seed = 32;
        OK(bnbq_linear_init(&g_logex, &L2, &d));
        OK(load_from(&L2, file, n, "fc"));
        bnbq_linear_set_training(&L2, 0);
        o1 = fwd(&L2, BNBQ_F16, x, T, &ob1);
        CHECK(ob0 == ob1 && memcmp(o0, o1, ob0) == 0, "16-bit weights: outputs differ");
        free(o0);
        free(o1);
        free(file);
        bnbq_linear_uninit(&g_logex, &L);
        bnbq_linear_uninit(&g_logex, &L2);
    }
    free(x);
    free(xf);
}

/* the float layers (plain weight + bias) and SwitchBack after prepare_for_eval */
static void test_float_layers(void) {
    static const struct { bnbq_linear_kind k; bnbq_dtype dt; int prepare; } C[] = {
        {BNBQ_LINEAR_STANDARD, BNBQ_F16, 0},          {BNBQ_LINEAR_STANDARD, BNBQ_F32, 0},
        {BNBQ_LINEAR_SWITCHBACK_GLOBAL, BNBQ_F16, 0}, {BNBQ_LINEAR_SWITCHBACK_VECTORWISE, BNBQ_F16, 1},
        {BNBQ_LINEAR_SWITCHBACK_GLOBAL, BNBQ_F16, 1}, {BNBQ_LINEAR_SWITCHBACK_GLOBAL_MEMEFF, BNBQ_F16, 1},
        {BNBQ_LINEAR_FP8_MIXED, BNBQ_F32, 0},         {BNBQ_LINEAR_FP8_GLOBAL, BNBQ_BF16, 0},
        {BNBQ_LINEAR_NF4, BNBQ_BF16, 3},   /* not quantized yet: its float weight (no forward) */
        {BNBQ_LINEAR_SWITCHBACK_BNB, BNBQ_F16, 2}};   /* int8 weights: the Linear8bitLt keys */
    const size_t K = 64, N = 48, T = 5;
    float* xf = randn(T * K, 1.0);
    size_t c;
    for (c = 0; c < sizeof C / sizeof C[0]; c++) {
        bnbq_linear_desc d = ldesc(C[c].k, K, N, C[c].dt, 50 + c);
        bnbq_linear L, L2;
        uint8_t* file;
        size_t n, ob0, ob1;
        void *x = to_dt(xf, T * K, C[c].dt), *o0, *o1;
        bnbq_st_reader r;
        if (C[c].prepare == 2) d.int8_weights = 1;
        OK(bnbq_linear_init(&g_logex, &L, &d));
        bnbq_linear_set_training(&L, 0);
        if (C[c].prepare == 1) OK(bnbq_linear_prepare_for_eval(&g_logex, &L));
        if (C[c].prepare == 2) OK(bnbq_linear_quantize(&g_logex, &L));
        o0 = C[c].prepare == 3 ? calloc(1, 1) : fwd(&L, C[c].dt, x, T, &ob0);
        if (C[c].prepare == 3) ob0 = 0;
        file = save_linear(&L, "lin", BNBQ_ST_U8, &n);
        OK(bnbq_st_reader_init(&g_logex, &r, file, n));
        if (C[c].prepare == 1) {
            const bnbq_st_tensor* t = bnbq_st_find(&r, "lin.state_W");
            CHECK(r.count == 3 && !bnbq_st_find(&r, "lin.weight") && bnbq_st_find(&r, "lin.W_int8") && t &&
                  t->dtype == BNBQ_ST_F16 && t->numel == (C[c].k == BNBQ_LINEAR_SWITCHBACK_VECTORWISE ? N : 1),
                  "case %u: prepared keys", (unsigned)c);
        } else if (C[c].prepare == 2) {
            CHECK(r.count == 4 && bnbq_st_find(&r, "lin.SCB") && bnbq_st_find(&r, "lin.weight_format"),
                  "case %u: int8 keys", (unsigned)c);
        } else {
            CHECK(r.count == 2 && bnbq_st_find(&r, "lin.weight") && bnbq_st_find(&r, "lin.bias"),
                  "case %u: keys", (unsigned)c);
        }
        d.seed += 1000;
        OK(bnbq_linear_init(&g_logex, &L2, &d));
        bnbq_linear_set_training(&L2, 0);
        OK(bnbq_linear_load(&g_logex, &L2, &r, "lin"));
        CHECK(L2.prepared_for_eval == (C[c].prepare == 1), "case %u: prepared flag", (unsigned)c);
        o1 = C[c].prepare == 3 ? calloc(1, 1) : fwd(&L2, C[c].dt, x, T, &ob1);
        if (C[c].prepare == 3) ob1 = 0;
        CHECK(ob0 == ob1 && memcmp(o0, o1, ob0) == 0, "case %u: outputs differ", (unsigned)c);
        {
            size_t n2;
            uint8_t* again = save_linear(&L2, "lin", BNBQ_ST_U8, &n2);
            CHECK(again && n2 == n && memcmp(again, file, n) == 0, "case %u: saved again differs", (unsigned)c);
            free(again);
        }
        if (C[c].prepare == 1) {
            /* a prepared checkpoint has no float weight for a StandardLinear */
            bnbq_linear S;
            bnbq_linear_desc ds = ldesc(BNBQ_LINEAR_STANDARD, K, N, BNBQ_F16, 1);
            OK(bnbq_linear_init(&g_logex, &S, &ds));
            expect_load_fail(&S, file, n, "lin", BNBQ_ERROR_CORRUPT_FILE, __LINE__);
            bnbq_linear_uninit(&g_logex, &S);
        }
        if (c == 0) {
            /* shape and dtype mismatches of a float checkpoint */
            bnbq_linear S;
            bnbq_linear_desc ds = ldesc(BNBQ_LINEAR_STANDARD, K + 1, N, BNBQ_F16, 1);
            uint8_t i8w[64 * 48] = {0};
            size_t ws[2] = {48, 64};
            OK(bnbq_linear_init(&g_logex, &S, &ds));
            expect_load_fail(&S, file, n, "lin", BNBQ_ERROR_BAD_SHAPE, __LINE__);
            bnbq_linear_uninit(&g_logex, &S);
            fail_with(&L2, &r, "lin", "lin.weight", NULL, "lin.weight", BNBQ_ST_I8, 2, ws, i8w,
                      BNBQ_ERROR_BAD_DTYPE, __LINE__);
        }
        if (c == 1) {
            /* a float checkpoint in another dtype is converted (torch's copy_) */
            bnbq_linear H;
            bnbq_linear_desc dh = d;
            float *w32, *b32;
            uint16_t* w16;
            size_t i;
            dh.weight_dtype = BNBQ_F16;
            OK(bnbq_linear_init(&g_logex, &H, &dh));
            OK(bnbq_linear_load(&g_logex, &H, &r, "lin"));
            w32 = (float*)host_copy(L.weight, N * K * 4);
            b32 = (float*)host_copy(L.bias, N * 4);
            w16 = (uint16_t*)host_copy(H.weight, N * K * 2);
            for (i = 0; i < N * K; i++)
                if (w16[i] != bnbq_f32_to_f16(w32[i])) break;
            CHECK(i == N * K, "converted weight differs at %u", (unsigned)i);
            free(w32);
            free(b32);
            free(w16);
            bnbq_linear_uninit(&g_logex, &H);
        }
        bnbq_st_reader_uninit(&g_logex, &r);
        free(o0);
        free(o1);
        free(x);
        free(file);
        bnbq_linear_uninit(&g_logex, &L);
        bnbq_linear_uninit(&g_logex, &L2);
    }
    free(xf);
}

static void* emb_fwd(bnbq_embedding* e, const int32_t* idx, size_t count, size_t* bytes) {
    size_t ob = count * e->desc.embedding_dim * bnbq_dtype_size(e->desc.dtype);
    void *out = NULL, *ie = NULL, *h;
    bnbq_alloc(&g_logex, count * 4, &ie);
    bnbq_copy(&g_logex, ie, idx, count * 4, BNBQ_COPY_HOST_TO_EXEC);
    bnbq_alloc(&g_logex, ob, &out);
    OK(bnbq_embedding_forward(&g_logex, e, (const int32_t*)ie, count, out));
    h = host_copy(out, ob);
    bnbq_free(&g_logex, out);
    bnbq_free(&g_logex, ie);
    *bytes = ob;
    return h;
}

static void test_embeddings(void) {
    static const struct { bnbq_embedding_kind k; bnbq_dtype dt; } C[] = {
        {BNBQ_EMBEDDING, BNBQ_F16}, {BNBQ_EMBEDDING_STABLE, BNBQ_F32}, {BNBQ_EMBEDDING_STABLE, BNBQ_BF16}};
    const int32_t idx[7] = {0, 5, 49, 5, 17, 3, 30};
    size_t c;
    for (c = 0; c < sizeof C / sizeof C[0]; c++) {
        bnbq_embedding_desc d;
        bnbq_embedding E, E2;
        bnbq_st_writer w;
        bnbq_st_reader r;
        uint8_t* file;
        size_t n, ob0, ob1;
        void *o0, *o1;
        memset(&d, 0, sizeof d);
        d.kind = C[c].k;
        d.num_embeddings = 50;
        d.embedding_dim = 16;
        d.dtype = C[c].dt;
        d.seed = 9 + c;
        OK(bnbq_embedding_init(&g_logex, &E, &d));
        if (E.norm_weight) {
            float nw[16], nb[16];
            size_t i;
            for (i = 0; i < 16; i++) { nw[i] = 1.0f + 0.1f * (float)i; nb[i] = -0.05f * (float)i; }
            bnbq_copy(&g_logex, E.norm_weight, nw, sizeof nw, BNBQ_COPY_HOST_TO_EXEC);
            bnbq_copy(&g_logex, E.norm_bias, nb, sizeof nb, BNBQ_COPY_HOST_TO_EXEC);
        }
        o0 = emb_fwd(&E, idx, 7, &ob0);
        bnbq_st_writer_init(&g_logex, &w);
        OK(bnbq_embedding_save(&g_logex, &E, "model.embed", &w));
        file = write_all(&w, &n);
        bnbq_st_writer_uninit(&g_logex, &w);
        OK(bnbq_st_reader_init(&g_logex, &r, file, n));
        CHECK(r.count == (C[c].k == BNBQ_EMBEDDING_STABLE ? 3u : 1u), "case %u: %u tensors", (unsigned)c,
              (unsigned)r.count);
        if (C[c].k == BNBQ_EMBEDDING_STABLE) {
            const bnbq_st_tensor* t = bnbq_st_find(&r, "model.embed.norm.weight");
            CHECK(t && t->dtype == BNBQ_ST_F32 && t->numel == 16 && bnbq_st_find(&r, "model.embed.norm.bias"),
                  "norm keys");
        }
        d.seed += 100;
        OK(bnbq_embedding_init(&g_logex, &E2, &d));
        OK(bnbq_embedding_load(&g_logex, &E2, &r, "model.embed"));
        o1 = emb_fwd(&E2, idx, 7, &ob1);
        CHECK(ob0 == ob1 && memcmp(o0, o1, ob0) == 0, "case %u: outputs differ", (unsigned)c);
        CHECK_R(bnbq_embedding_load(&g_logex, &E2, &r, "other"), BNBQ_ERROR_CORRUPT_FILE);
        CHECK_R(bnbq_embedding_load(&g_logex, &E2, NULL, "x"), BNBQ_ERROR_NULL_POINTER);
        bnbq_embedding_uninit(&g_logex, &E2);
        d.num_embeddings = 51;
        OK(bnbq_embedding_init(&g_logex, &E2, &d));
        CHECK_R(bnbq_embedding_load(&g_logex, &E2, &r, "model.embed"), BNBQ_ERROR_BAD_SHAPE);
        bnbq_embedding_uninit(&g_logex, &E2);
        bnbq_st_reader_uninit(&g_logex, &r);
        bnbq_embedding_uninit(&g_logex, &E);
        free(o0);
        free(o1);
        free(file);
    }
    /* Embedding4bit / 8bit: bitsandbytes raises NotImplementedError */
    {
        static const bnbq_embedding_kind Q[3] = {BNBQ_EMBEDDING_NF4, BNBQ_EMBEDDING_FP4, BNBQ_EMBEDDING_8BIT};
        size_t q;
        for (q = 0; q < 3; q++) {
            bnbq_embedding_desc d;
            bnbq_embedding E;
            bnbq_st_writer w;
            bnbq_st_reader r;
            memset(&d, 0, sizeof d);
            d.kind = Q[q];
            d.num_embeddings = 8;
            d.embedding_dim = 64;
            OK(bnbq_embedding_init(&g_logex, &E, &d));
            bnbq_st_writer_init(&g_logex, &w);
            CHECK_R(bnbq_embedding_save(&g_logex, &E, "e", &w), BNBQ_ERROR_NOT_SUPPORTED);
            OK(bnbq_embedding_quantize(&g_logex, &E));
            CHECK_R(bnbq_embedding_save(&g_logex, &E, "e", &w), BNBQ_ERROR_NOT_SUPPORTED);
            CHECK(w.count == 0, "tensors added");
            OK(read_json("{}", 0, &r));
            CHECK_R(bnbq_embedding_load(&g_logex, &E, &r, "e"), BNBQ_ERROR_NOT_SUPPORTED);
            bnbq_st_reader_uninit(&g_logex, &r);
            bnbq_st_writer_uninit(&g_logex, &w);
            bnbq_embedding_uninit(&g_logex, &E);
        }
    }
}

#ifndef BNBQ_NO_STDIO
static int file_equals(const char* path, const uint8_t* want, size_t n) {
    size_t got;
    uint8_t* b = read_whole(path, &got);
    int eq = b && got == n && memcmp(b, want, n) == 0;
    free(b);
    return eq;
}
#ifdef TEST_POSIX
/* names in dir that contain ".tmp-" */
static int temp_files_in(const char* dir) {
    DIR* d = opendir(dir);
    struct dirent* e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}
#endif

static void test_files(void) {
    const char* dir = "build/test_io_files";
    char path[256], sub[256];
    bnbq_st_writer w1, w2;
    size_t n1, n2, shp = 1000;
    uint8_t *f1, *f2, *big;
    float v[4] = {1, 2, 3, 4};
    size_t four = 4;
#ifdef TEST_POSIX
    mkdir("build", 0777);
    mkdir(dir, 0777);
#endif
    sprintf(path, "%s/ckpt.safetensors", dir);
    remove(path);
    bnbq_st_writer_init(&g_logex, &w1);
    OK(bnbq_st_writer_add(&g_logex, &w1, "v", BNBQ_ST_F32, 1, &four, v));
    f1 = write_all(&w1, &n1);
    OK(bnbq_st_writer_write_file(&g_logex, &w1, path));
    CHECK(file_equals(path, f1, n1), "written file differs");
    /* overwrite with other content */
    big = (uint8_t*)calloc(shp, 1);
    bnbq_st_writer_init(&g_logex, &w2);
    OK(bnbq_st_writer_add(&g_logex, &w2, "big", BNBQ_ST_U8, 1, &shp, big));
    f2 = write_all(&w2, &n2);
    OK(bnbq_st_writer_write_file(&g_logex, &w2, path));
    CHECK(file_equals(path, f2, n2), "overwritten file differs");
    OK(bnbq_st_writer_write_file(&g_logex, &w1, path));
    CHECK(file_equals(path, f1, n1), "second overwrite differs");
    /* failures: a missing directory; a directory as the target; nothing left behind */
    sprintf(sub, "%s/no/such/dir/x.safetensors", dir);
    CHECK_R(bnbq_st_writer_write_file(&g_logex, &w1, sub), BNBQ_ERROR_IO);
    CHECK_R(bnbq_st_writer_write_file(&g_logex, &w1, NULL), BNBQ_ERROR_NULL_POINTER);
    CHECK_R(bnbq_st_writer_write_file(&g_logex, NULL, path), BNBQ_ERROR_NULL_POINTER);
#ifdef TEST_POSIX
    sprintf(sub, "%s/adir", dir);
    mkdir(sub, 0777);
    CHECK_R(bnbq_st_writer_write_file(&g_logex, &w1, sub), BNBQ_ERROR_IO);
    {
        struct stat st;
        CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode), "the directory was replaced");
    }
    CHECK(temp_files_in(dir) == 0, "temporary files left in %s", dir);
    /* a write that fails half way (file size limit): the old file survives whole */
    {
        struct rlimit old, lim;
        if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
            void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
            lim = old;
            lim.rlim_cur = 512;   /* f2 is over 1000 bytes, f1 under 512 */
            if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
                CHECK_R(bnbq_st_writer_write_file(&g_logex, &w2, path), BNBQ_ERROR_IO);
                setrlimit(RLIMIT_FSIZE, &old);
                CHECK(file_equals(path, f1, n1), "the old file did not survive a failed write");
                CHECK(temp_files_in(dir) == 0, "temporary file left after a failed write");
            }
            signal(SIGXFSZ, prev);
        }
    }
    rmdir(sub);
#endif
    /* a duplicate name fails before any file is touched */
    OK(bnbq_st_writer_add(&g_logex, &w1, "v", BNBQ_ST_U8, 1, &four, big));
    CHECK_R(bnbq_st_writer_write_file(&g_logex, &w1, path), BNBQ_ERROR_INVALID_ARGS);
    CHECK(file_equals(path, f1, n1), "file changed by a refused write");
    remove(path);
    free(f1);
    free(f2);
    free(big);
    bnbq_st_writer_uninit(&g_logex, &w1);
    bnbq_st_writer_uninit(&g_logex, &w2);
}
#endif

/* allocation failures at every point of a save, a write and a read: an error, no leak (ASan), and
   a failed save adds nothing to the writer */
static long g_alloc_left;
static void* failing_alloc(void* u, size_t n) {
    (void)u;
    if (g_alloc_left-- <= 0) return NULL;
    return malloc(n);
}
static void failing_free(void* u, void* p) { (void)u; free(p); }

static void test_out_of_memory(void) {
    bnbq_cpu_desc cd;
    bnbq_exec fx;
    bnbq_linear_desc d = ldesc(BNBQ_LINEAR_NF4, 64, 96, BNBQ_BF16, 5);
    bnbq_linear L, L2;
    long limit;
    int saved = 0, read = 0, loaded = 0;
    memset(&cd, 0, sizeof cd);
    cd.allocator.alloc_fn = failing_alloc;
    cd.allocator.free_fn = failing_free;
    OK(bnbq_cpu_exec_init(&fx, &cd));
    OK(bnbq_linear_init(&g_logex, &L, &d));
    OK(bnbq_linear_quantize(&g_logex, &L));
    d.seed = 6;
    OK(bnbq_linear_init(&g_logex, &L2, &d));
    for (limit = 0; limit < 60 && !(saved && read && loaded); limit++) {
        bnbq_st_writer w;
        bnbq_st_reader r;
        size_t n = 0, got = 0;
        uint8_t* buf = NULL;
        bnbq_result res;
        g_alloc_left = 1000;
        bnbq_st_writer_init(&fx, &w);
        OK(bnbq_st_writer_add(&fx, &w, "other", BNBQ_ST_U8, 0, NULL, "x"));
        g_alloc_left = limit;
        res = bnbq_linear_save(&fx, &L, "m", BNBQ_ST_U8, &w);
        CHECK(res == BNBQ_SUCCESS || (res == BNBQ_ERROR_OUT_OF_MEMORY && w.count == 1),
              "limit %ld: save returned %s with %u tensors", limit, bnbq_result_name(res), (unsigned)w.count);
        if (res == BNBQ_SUCCESS) {
            saved = 1;
            g_alloc_left = limit;
            res = bnbq_st_writer_size(&fx, &w, &n);
            if (res == BNBQ_SUCCESS) {
                buf = (uint8_t*)malloc(n);
                res = bnbq_st_writer_write(&fx, &w, buf, n, &got);
            }
            CHECK(res == BNBQ_SUCCESS || res == BNBQ_ERROR_OUT_OF_MEMORY, "write: %s", bnbq_result_name(res));
            if (res == BNBQ_SUCCESS) {
                g_alloc_left = limit;
                res = bnbq_st_reader_init(&fx, &r, buf, n);
                CHECK(res == BNBQ_SUCCESS || res == BNBQ_ERROR_OUT_OF_MEMORY, "read: %s", bnbq_result_name(res));
                if (res == BNBQ_SUCCESS) {
                    read = 1;
                    g_alloc_left = limit;
                    res = bnbq_linear_load(&fx, &L2, &r, "m");
                    CHECK(res == BNBQ_SUCCESS || res == BNBQ_ERROR_OUT_OF_MEMORY, "load: %s",
                          bnbq_result_name(res));
                    if (res == BNBQ_SUCCESS) loaded = 1;
                    bnbq_st_reader_uninit(&fx, &r);
                }
            }
            free(buf);
        }
        bnbq_st_writer_uninit(&fx, &w);
    }
    CHECK(saved && read && loaded, "never succeeded");
    CHECK(same_4bit_state(&L, &L2), "state after the loads");
    bnbq_linear_uninit(&g_logex, &L);
    bnbq_linear_uninit(&g_logex, &L2);
    bnbq_exec_uninit(&fx);
}

/* ------------------------------------------------------------------------------------------ */
/* Every single-byte change of saved checkpoints (each byte XOR 0x01 and XOR 0x80; --quick: every
   third byte, XOR 0x01), loaded into a layer that holds another checkpoint: the reader refuses the
   file (CORRUPT_FILE), or the load fails with CORRUPT_FILE / BAD_SHAPE / BAD_DTYPE / BAD_BLOCKSIZE /
   NOT_SUPPORTED, logs it and leaves the layer's state dict exactly as it was, or the load succeeds
   (a changed number in a tensor), a forward (inference) runs, and the original checkpoint loads
   back to the same state.
   (Under the sanitizers nothing may read or write outside its buffers on the way.) */
static int mut_code_ok(bnbq_result r) {
    return r == BNBQ_ERROR_CORRUPT_FILE || r == BNBQ_ERROR_BAD_SHAPE || r == BNBQ_ERROR_BAD_DTYPE ||
           r == BNBQ_ERROR_BAD_BLOCKSIZE || r == BNBQ_ERROR_NOT_SUPPORTED;
}

/* What the mutation loop needs of a layer or an embedding: load (prefix "m"), an inference forward,
   and its state dict as a file (prefix "s", the snapshot that proves it unchanged). */
typedef struct mut_target {
    const char* what;
    void*       obj;
    const void* x;   /* the forward's input */
    bnbq_result (*load)(void* obj, const bnbq_st_reader* r);
    bnbq_result (*forward)(void* obj, const void* x);
    uint8_t* (*save)(const void* obj, size_t* n);
} mut_target;

static bnbq_result mut_load_file(const mut_target* t, const uint8_t* f, size_t n) {
    bnbq_st_reader r;
    bnbq_result res = bnbq_st_reader_init(&g_logex, &r, f, n);
    if (res != BNBQ_SUCCESS) return res;
    res = t->load(t->obj, &r);
    bnbq_st_reader_uninit(&g_logex, &r);
    return res;
}

/* one mutated file f; the target holds the original f0's state, whose state dict is snap (n0 bytes);
   counts: [0] reader refused, [1] load refused, [2] loaded */
static void mut_one(const mut_target* t, const uint8_t* f, size_t n, const uint8_t* f0, size_t fn0,
                    const uint8_t* snap, size_t n0, size_t pos, int* counts) {
    bnbq_st_reader r;
    bnbq_result res = bnbq_st_reader_init(&g_logex, &r, f, n);
    size_t n1 = 0;
    uint8_t* after;
    if (res != BNBQ_SUCCESS) {
        CHECK(res == BNBQ_ERROR_CORRUPT_FILE, "%s: byte %u: reader returned %s", t->what, (unsigned)pos,
              bnbq_result_name(res));
        counts[0]++;
        return;
    }
    {
        int logs = g_log.n_total;
        res = t->load(t->obj, &r);
        bnbq_st_reader_uninit(&g_logex, &r);
        if (res != BNBQ_SUCCESS) {
            CHECK(mut_code_ok(res), "%s: byte %u: load returned %s", t->what, (unsigned)pos, bnbq_result_name(res));
            CHECK(g_log.n_total > logs, "%s: byte %u: the failed load was not logged", t->what, (unsigned)pos);
            counts[1]++;
        } else {
            bnbq_result fr = t->forward(t->obj, t->x);
            CHECK(fr == BNBQ_SUCCESS, "%s: byte %u: loaded, then forward returned %s (%s)", t->what, (unsigned)pos,
                  bnbq_result_name(fr), g_log.last_msg);
            CHECK_R(mut_load_file(t, f0, fn0), BNBQ_SUCCESS);
            counts[2]++;
        }
    }
    after = t->save(t->obj, &n1);
    CHECK(after && n1 == n0 && memcmp(after, snap, n0) == 0, "%s: byte %u: the state changed (load %s)", t->what,
          (unsigned)pos, bnbq_result_name(res));
    free(after);
}

/* loads f0 into the target, then every single-byte change of f0 as above; every outcome must happen
   (the header, the JSON and the tensor data are all reached) */
static void mut_run(const mut_target* t, const uint8_t* f0, size_t fn0) {
    const unsigned masks[2] = {0x01u, 0x80u};
    uint8_t *snap = NULL, *f = (uint8_t*)malloc(fn0 ? fn0 : 1);   /* exact size: ASan sees any read past it */
    size_t n0 = 0, pos;
    int counts[3] = {0, 0, 0}, mi;
    if (f0 && f && mut_load_file(t, f0, fn0) == BNBQ_SUCCESS) snap = t->save(t->obj, &n0);
    if (!snap) {
        CHECK(0, "%s: setup", t->what);
    } else {
        for (mi = 0; mi < (g_quick ? 1 : 2); mi++)
            for (pos = 0; pos < fn0; pos += g_quick ? 3 : 1) {
                long fails = T->fails;
                memcpy(f, f0, fn0);
                f[pos] = (uint8_t)(f[pos] ^ masks[mi]);
                mut_one(t, f, fn0, f0, fn0, snap, n0, pos, counts);
                if (T->fails != fails) break;   /* one report per case */
            }
        CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0, "%s: refused %d / load refused %d / loaded %d",
              t->what, counts[0], counts[1], counts[2]);
    }
    free(f);
    free(snap);
}

static bnbq_result mut_linear_load(void* o, const bnbq_st_reader* r) {
    return bnbq_linear_load(&g_logex, (bnbq_linear*)o, r, "m");
}
/* three tokens of x in the weight's dtype (a forward casts the bias to the input's dtype, as
   bitsandbytes, and the state dict would show it) */
static bnbq_result mut_linear_forward(void* o, const void* x) {
    bnbq_linear* L = (bnbq_linear*)o;
    bnbq_dtype odt = bnbq_linear_output_dtype(L, L->desc.weight_dtype);
    void* out = xmalloc(3 * L->desc.out_features * bnbq_dtype_size(odt) + 4);
    bnbq_result r = bnbq_linear_forward(&g_logex, L, L->desc.weight_dtype, x, 3, out);
    free(out);
    return r;
}
static uint8_t* mut_linear_save(const void* o, size_t* n) {
    return save_linear((const bnbq_linear*)o, "s", BNBQ_ST_U8, n);
}

static void test_mutations(void) {
    static const struct {
        bnbq_linear_kind k;
        bnbq_dtype dt;
        int blocksize, nested, int8w, eval;
        float thr;
        const char* what;
    } C[] = {
        {BNBQ_LINEAR_NF4, BNBQ_BF16, 64, 1, 0, 0, 0.0f, "Linear4bit nf4, nested absmax"},
        {BNBQ_LINEAR_4BIT, BNBQ_F16, 128, 0, 0, 0, 0.0f, "Linear4bit fp4, blocksize 128"},
        {BNBQ_LINEAR_8BIT_LT, BNBQ_F16, 0, 0, 1, 0, 6.0f, "Linear8bitLt int8 weights, threshold 6"},
        {BNBQ_LINEAR_SWITCHBACK_VECTORWISE, BNBQ_F16, 0, 0, 0, 1, 0.0f, "SwitchBackLinearVectorwise for eval"},
        {BNBQ_LINEAR_STANDARD, BNBQ_F32, 0, 0, 0, 0, 0.0f, "StandardLinear"},
    };
    const size_t K = 64, N = 16;
    float* x = randn(3 * K, 1.0);
    size_t ci;
    for (ci = 0; ci < sizeof C / sizeof C[0]; ci++) {
        bnbq_linear A, B;
        bnbq_linear_desc d = ldesc(C[ci].k, K, N, C[ci].dt, 900 + (uint64_t)ci);
        mut_target t;
        uint8_t* f0;
        size_t fn0 = 0;
        d.blocksize = C[ci].blocksize;
        d.no_compress_statistics = !C[ci].nested;
        d.int8_weights = C[ci].int8w;
        d.threshold = C[ci].thr;
        OK(bnbq_linear_init(&g_logex, &A, &d));
        if (C[ci].eval) OK(bnbq_linear_prepare_for_eval(&g_logex, &A));
        else if (C[ci].k != BNBQ_LINEAR_STANDARD) OK(bnbq_linear_quantize(&g_logex, &A));
        f0 = save_linear(&A, "m", BNBQ_ST_U8, &fn0);
        d.seed += 1000;
        OK(bnbq_linear_init(&g_logex, &B, &d));
        bnbq_linear_set_training(&B, 0);
        t.what = C[ci].what;
        t.obj = &B;
        t.x = to_dt(x, 3 * K, C[ci].dt);
        t.load = mut_linear_load;
        t.forward = mut_linear_forward;
        t.save = mut_linear_save;
        mut_run(&t, f0, fn0);
        free((void*)t.x);
        free(f0);
        bnbq_linear_uninit(&g_logex, &A);
        bnbq_linear_uninit(&g_logex, &B);
    }
    free(x);
}

/* the same for a StableEmbedding (weight, norm.weight, norm.bias) */
static bnbq_result mut_emb_load(void* o, const bnbq_st_reader* r) {
    return bnbq_embedding_load(&g_logex, (bnbq_embedding*)o, r, "m");
}
static bnbq_result mut_emb_forward(void* o, const void* idx) {
    uint16_t out[5 * 8];
    return bnbq_embedding_forward(&g_logex, (bnbq_embedding*)o, (const int32_t*)idx, 5, out);
}
static uint8_t* mut_emb_save(const void* o, size_t* n) {
    bnbq_st_writer w;
    uint8_t* b;
    bnbq_st_writer_init(&g_logex, &w);
    OK(bnbq_embedding_save(&g_logex, (const bnbq_embedding*)o, "s", &w));
    b = write_all(&w, n);
    bnbq_st_writer_uninit(&g_logex, &w);
    return b;
}

static void test_mutations_embedding(void) {
    static const int32_t idx[5] = {0, 3, 7, 3, 15};
    bnbq_embedding A, B;
    bnbq_embedding_desc d;
    bnbq_st_writer w;
    mut_target t;
    uint8_t* f0;
    size_t fn0 = 0;
    memset(&d, 0, sizeof d);
    d.kind = BNBQ_EMBEDDING_STABLE;
    d.num_embeddings = 16;
    d.embedding_dim = 8;
    d.dtype = BNBQ_F16;
    d.seed = 77;
    OK(bnbq_embedding_init(&g_logex, &A, &d));
    bnbq_st_writer_init(&g_logex, &w);
    OK(bnbq_embedding_save(&g_logex, &A, "m", &w));
    f0 = write_all(&w, &fn0);
    bnbq_st_writer_uninit(&g_logex, &w);
    d.seed = 78;
    OK(bnbq_embedding_init(&g_logex, &B, &d));
    t.what = "StableEmbedding";
    t.obj = &B;
    t.x = idx;
    t.load = mut_emb_load;
    t.forward = mut_emb_forward;
    t.save = mut_emb_save;
    mut_run(&t, f0, fn0);
    free(f0);
    bnbq_embedding_uninit(&g_logex, &A);
    bnbq_embedding_uninit(&g_logex, &B);
}

/* ------------------------------------------------------------------------------------------ */
static const uu_test TESTS[] = {
    {"repr", test_repr},
    {"official_fixture", test_official_fixture},
    {"writer", test_writer},
    {"corrupt", test_corrupt},
    {"linear4bit_serialization", test_linear4bit_serialization},
    {"linear4bit_json", test_linear4bit_json},
    {"linear8bit_serialization", test_linear8bit_serialization},
    {"float_layers", test_float_layers},
    {"embeddings", test_embeddings},
    {"out_of_memory", test_out_of_memory},
    {"mutations", test_mutations},
    {"mutations_embedding", test_mutations_embedding},
#ifndef BNBQ_NO_STDIO
    {"files", test_files},
#endif
};

int main(int argc, char** argv) {
    return uu_main(argc, argv, TESTS, sizeof TESTS / sizeof TESTS[0]);
}
