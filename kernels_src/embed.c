/* embed.c - writes the CUDA kernel sources of kernels_src/ into the fenced region of bnbq_cuda.h.

   usage: embed HEADER OUT SOURCE...
     Reads HEADER, replaces everything between the lines "// >>cu-kernels" and
     "// >>cu-kernels-end" with the SOURCE files as arrays of string lines, writes OUT.
     (OUT may equal HEADER; `make check-embed` writes to a temporary file and compares.)
          embed --transform SOURCE OUT
     Writes the transformed text of one SOURCE (below) to OUT and its kernel names to stdout, one
     a line (tests/test_cuda.c's embed-guards scenario checks the transformation with it).

   Each source becomes
       static const char* const bnbq__cu_src_<name>[] = { "line\n", ..., 0 };
       static const char* const bnbq__cu_kernels_<name>[] = { "kernel", ..., 0 };
   (an array of short literals, so no string exceeds what ISO C requires compilers to accept), and
   a table bnbq__cu_sources[] maps "<name>" to both. <name> is the file name without its extension.
   The file kernels_src/prelude.cuh is expected among the sources; the header prepends it to every
   compilation unit.

   The transformation (one kernel per compilation unit): the text starts with `#line 1 "FILE"`,
   and every kernel definition -- `extern "C"` ... `__global__` ... NAME(...) { ... } -- is wrapped
   in a guard:
       #if defined(BNBQ_LIST_KERNELS)
       extern "C" __global__ void NAME(PARAMETERS) {}
       #elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_NAME)
       #line L "FILE"
       ...the definition, unchanged...
       #endif
       #line E "FILE"
   so -DBNBQ_ONE_KERNEL -DBNBQ_K_NAME compiles that kernel alone (with everything that is not a
   kernel), no -D compiles the file as written, and -DBNBQ_LIST_KERNELS compiles an empty stub of
   every kernel the other -D options leave in (its PTX lists them). The #line directives keep
   NVRTC's messages at the file's own line numbers. The scan knows comments, string and character
   literals (raw strings too) and preprocessor lines, so braces in them do not count; braces inside
   #if / #elif / #else branches must leave every branch at the same depth, and a kernel may not
   straddle a conditional group that begins outside it: anything else is an error with the file
   and line, and nothing is written. NAMEs are listed once each, in the order of first definition.
   The output depends only on the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char* read_file(const char* path, size_t* len) {
    FILE* f = fopen(path, "rb");
    char* buf;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = (char*)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static void base_name(const char* path, char* out, size_t cap) {
    const char* b = strrchr(path, '/');
    size_t i = 0;
    b = b ? b + 1 : path;
    while (*b && *b != '.' && i + 1 < cap) {
        char c = *b++;
        out[i++] = (c == '-') ? '_' : c;
    }
    out[i] = 0;
}

static const char* file_part(const char* path) {
    const char* b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* ---- a growable string ------------------------------------------------------------------------ */
typedef struct sbuf { char* p; size_t n, cap; } sbuf;

static void sb_add(sbuf* s, const char* d, size_t n) {
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->n + n + 1) cap *= 2;
        s->p = (char*)realloc(s->p, cap);
        if (!s->p) { fprintf(stderr, "embed: out of memory\n"); exit(1); }
        s->cap = cap;
    }
    memcpy(s->p + s->n, d, n);
    s->n += n;
    s->p[s->n] = 0;
}
static void sb_str(sbuf* s, const char* d) { sb_add(s, d, strlen(d)); }

/* ---- tokens ------------------------------------------------------------------------------------- */
enum { T_ID, T_STR, T_CHR, T_NUM, T_PUNCT, T_PP };
typedef struct tok { int kind; size_t b, e; int line; } tok;
typedef struct toks { tok* t; size_t n, cap; } toks;

static const char* g_file;   /* for messages */

static int fail_at(int line, const char* msg, const char* arg) {
    fprintf(stderr, "embed: %s:%d: %s%s%s\n", g_file, line, msg, arg ? " " : "", arg ? arg : "");
    return -1;
}

static void push_tok(toks* ts, int kind, size_t b, size_t e, int line) {
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 1024;
        ts->t = (tok*)realloc(ts->t, ts->cap * sizeof *ts->t);
        if (!ts->t) { fprintf(stderr, "embed: out of memory\n"); exit(1); }
    }
    ts->t[ts->n].kind = kind;
    ts->t[ts->n].b = b;
    ts->t[ts->n].e = e;
    ts->t[ts->n].line = line;
    ts->n++;
}

static int is_id0(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_id(int c) { return is_id0(c) || (c >= '0' && c <= '9'); }

/* Splits src into tokens; comments and white space are dropped, a preprocessor line (with its
   continuations) is one T_PP token. Returns 0, or -1 after a message. */
static int tokenize(const char* s, size_t n, toks* ts) {
    size_t i = 0;
    int line = 1, bol = 1;
    while (i < n) {
        char c = s[i];
        if (c == '\n') { line++; bol = 1; i++; continue; }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') { i++; continue; }
        if (c == '\\' && i + 1 < n && s[i + 1] == '\n') { i += 2; line++; continue; }
        if (c == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n') i++;
            continue;
        }
        if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            int l0 = line;
            i += 2;
            while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) { if (s[i] == '\n') line++; i++; }
            if (i + 1 >= n) return fail_at(l0, "unterminated comment", NULL);
            i += 2;
            continue;
        }
        if (c == '#' && bol) {   /* a directive: to the end of the line, continuations included */
            size_t b = i;
            int l0 = line;
            while (i < n && s[i] != '\n') {
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\n') { i += 2; line++; continue; }
                if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                    i += 2;
                    while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) { if (s[i] == '\n') line++; i++; }
                    if (i + 1 >= n) return fail_at(l0, "unterminated comment", NULL);
                    i += 2;
                    continue;
                }
                if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') { while (i < n && s[i] != '\n') i++; break; }
                i++;
            }
            push_tok(ts, T_PP, b, i, l0);
            continue;
        }
        bol = 0;
        if (is_id0((unsigned char)c)) {
            size_t b = i;
            while (i < n && is_id((unsigned char)s[i])) i++;
            /* raw string literal: R"delim( ... )delim" (also u8R, uR, UR, LR) */
            if (i < n && s[i] == '"' && s[i - 1] == 'R' &&
                (i - b == 1 || (i - b == 2 && strchr("uUL", s[b])) || (i - b == 3 && s[b] == 'u' && s[b + 1] == '8'))) {
                char delim[20];
                size_t dl = 0;
                int l0 = line;
                i++;
                while (i < n && s[i] != '(' && dl < 16) delim[dl++] = s[i++];
                if (i >= n || s[i] != '(') return fail_at(l0, "bad raw string literal", NULL);
                i++;
                for (;;) {
                    if (i >= n) return fail_at(l0, "unterminated raw string literal", NULL);
                    if (s[i] == ')' && i + 1 + dl < n && memcmp(s + i + 1, delim, dl) == 0 && s[i + 1 + dl] == '"') {
                        i += dl + 2;
                        break;
                    }
                    if (s[i] == '\n') line++;
                    i++;
                }
                push_tok(ts, T_STR, b, i, l0);
                continue;
            }
            if (i < n && (s[i] == '"' || s[i] == '\'') &&
                ((i - b == 1 && strchr("uUL", s[b])) || (i - b == 2 && s[b] == 'u' && s[b + 1] == '8'))) {
                b = i;   /* an encoding prefix: the literal follows */
                c = s[i];
            } else {
                push_tok(ts, T_ID, b, i, line);
                continue;
            }
        }
        if (c == '"' || c == '\'') {
            size_t b = i;
            char q = c;
            i++;
            while (i < n && s[i] != q) {
                if (s[i] == '\n') return fail_at(line, q == '"' ? "unterminated string literal" : "unterminated character literal", NULL);
                if (s[i] == '\\' && i + 1 < n) {
                    if (s[i + 1] == '\n') line++;
                    i++;
                }
                i++;
            }
            if (i >= n) return fail_at(line, "unterminated literal", NULL);
            i++;
            push_tok(ts, q == '"' ? T_STR : T_CHR, b, i, line);
            continue;
        }
        if ((c >= '0' && c <= '9') || (c == '.' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')) {
            size_t b = i;
            i++;
            while (i < n) {
                char d = s[i];
                if ((d == '+' || d == '-') && strchr("eEpP", s[i - 1])) { i++; continue; }
                if (is_id((unsigned char)d) || d == '.') { i++; continue; }
                if (d == '\'' && i + 1 < n && is_id((unsigned char)s[i + 1])) { i += 2; continue; }
                break;
            }
            push_tok(ts, T_NUM, b, i, line);
            continue;
        }
        push_tok(ts, T_PUNCT, i, i + 1, line);
        i++;
    }
    return 0;
}

static int tok_is(const char* s, const tok* t, const char* text) {
    size_t l = strlen(text);
    return t->e - t->b == l && memcmp(s + t->b, text, l) == 0;
}
static int tok_punct(const char* s, const tok* t, char c) { return t->kind == T_PUNCT && s[t->b] == c; }

/* the directive name of a T_PP token ("if", "endif", ...), in buf */
static void pp_name(const char* s, const tok* t, char* buf, size_t cap) {
    size_t i = t->b + 1, k = 0;
    while (i < t->e && (s[i] == ' ' || s[i] == '\t' || (s[i] == '\\' && i + 1 < t->e && s[i + 1] == '\n'))) i += s[i] == '\\' ? 2 : 1;
    while (i < t->e && is_id((unsigned char)s[i]) && k + 1 < cap) buf[k++] = s[i++];
    buf[k] = 0;
}

/* index of the token after the ')' that closes the '(' at tokens[i], or 0 on a mismatch */
static size_t skip_parens(const char* s, const toks* ts, size_t i) {
    int depth = 0;
    for (; i < ts->n; i++) {
        const tok* t = &ts->t[i];
        if (t->kind == T_PP) return 0;
        if (tok_punct(s, t, '(')) depth++;
        else if (tok_punct(s, t, ')') && --depth == 0) return i + 1;
    }
    return 0;
}

typedef struct kdef {
    char   name[128];
    size_t line_start;   /* offset of the line holding `extern` */
    size_t close;        /* offset just after the closing '}' */
    size_t params_b, params_e;   /* the parameter list, '(' to ')' inclusive */
    int    line, end_line;
} kdef;

#define MAX_GROUPS 64
#define MAX_KERNELS 256

/* The closing brace of the body that opens at tokens[i] ('{'): its token index, or 0 after a
   message. Tracks #if groups inside the body (see the file comment). */
static size_t match_body(const char* s, const toks* ts, size_t i, const char* kname) {
    int brace = 0, depth = 0;
    int at_open[MAX_GROUPS], first_end[MAX_GROUPS], has_else[MAX_GROUPS];
    char d[16];
    for (; i < ts->n; i++) {
        const tok* t = &ts->t[i];
        if (t->kind == T_PP) {
            pp_name(s, t, d, sizeof d);
            if (!strcmp(d, "if") || !strcmp(d, "ifdef") || !strcmp(d, "ifndef")) {
                if (depth == MAX_GROUPS) { fail_at(t->line, "#if groups nest too deep in kernel", kname); return 0; }
                at_open[depth] = brace;
                first_end[depth] = 0;
                has_else[depth] = 0;
                depth++;
            } else if (!strcmp(d, "elif") || !strcmp(d, "else") || !strcmp(d, "elifdef") || !strcmp(d, "elifndef")) {
                if (depth == 0) {
                    fail_at(t->line, "a conditional group that begins before the kernel continues inside it:", kname);
                    return 0;
                }
                if (!has_else[depth - 1]) { first_end[depth - 1] = brace; has_else[depth - 1] = 1; }
                else if (brace != first_end[depth - 1]) {
                    fail_at(t->line, "the branches of a #if group leave different brace depths in kernel", kname);
                    return 0;
                }
                brace = at_open[depth - 1];
            } else if (!strcmp(d, "endif")) {
                if (depth == 0) {
                    fail_at(t->line, "a conditional group that begins before the kernel ends inside it:", kname);
                    return 0;
                }
                depth--;
                if (has_else[depth]) {
                    if (brace != first_end[depth]) {
                        fail_at(t->line, "the branches of a #if group leave different brace depths in kernel", kname);
                        return 0;
                    }
                } else if (brace != at_open[depth]) {
                    fail_at(t->line, "braces inside a #if group without #else do not balance in kernel", kname);
                    return 0;
                }
            }
            continue;
        }
        if (tok_punct(s, t, '{')) brace++;
        else if (tok_punct(s, t, '}')) {
            brace--;
            if (brace == 0) {
                if (depth != 0) { fail_at(t->line, "the body ends inside a #if group in kernel", kname); return 0; }
                return i;
            }
        }
    }
    fail_at(ts->t[ts->n ? ts->n - 1 : 0].line, "no closing brace for kernel", kname);
    return 0;
}

/* Finds the kernel definitions. Returns their number, or -1 after a message. */
static int find_kernels(const char* s, const toks* ts, kdef* ks, int max) {
    static const char* const attrs[] = { "__launch_bounds__", "__maxnreg__", "__cluster_dims__", "__attribute__",
                                         "__align__", "__declspec", "alignas", 0 };
    size_t i;
    int nk = 0;
    for (i = 0; i + 1 < ts->n; i++) {
        const tok* t = &ts->t[i];
        size_t j, name_tok = 0, close;
        int global = 0;
        if (t->kind != T_ID || !tok_is(s, t, "extern") || ts->t[i + 1].kind != T_STR || !tok_is(s, &ts->t[i + 1], "\"C\""))
            continue;
        for (j = i + 2; j < ts->n; j++) {
            const tok* u = &ts->t[j];
            if (u->kind == T_PP || tok_punct(s, u, '{') || tok_punct(s, u, ';') || tok_punct(s, u, '}')) break;
            if (u->kind == T_ID) {
                int k, attr = 0;
                for (k = 0; attrs[k]; k++) if (tok_is(s, u, attrs[k])) attr = 1;
                if (attr && j + 1 < ts->n && tok_punct(s, &ts->t[j + 1], '(')) {
                    size_t after = skip_parens(s, ts, j + 1);
                    if (!after) return fail_at(u->line, "unbalanced parentheses after", "extern \"C\"");
                    j = after - 1;
                    continue;
                }
                if (tok_is(s, u, "__global__")) global = 1;
                name_tok = j;
                continue;
            }
            if (tok_punct(s, u, '(')) break;
        }
        if (!global || j >= ts->n || !tok_punct(s, &ts->t[j], '(') || !name_tok || name_tok + 1 != j) continue;
        {   /* the parameter list, then '{' (a definition) or ';' (a declaration: left alone) */
            size_t after = skip_parens(s, ts, j);
            const tok* nt = &ts->t[name_tok];
            kdef* k;
            size_t ls;
            if (!after || after >= ts->n) return fail_at(nt->line, "unbalanced parameter list of a kernel", NULL);
            if (tok_punct(s, &ts->t[after], ';')) continue;
            if (!tok_punct(s, &ts->t[after], '{'))
                return fail_at(ts->t[after].line, "expected '{' after the parameters of a kernel", NULL);
            if (nk == max) return fail_at(nt->line, "too many kernels", NULL);
            if (nt->e - nt->b >= sizeof ks[0].name) return fail_at(nt->line, "kernel name too long", NULL);
            k = &ks[nk];
            memcpy(k->name, s + nt->b, nt->e - nt->b);
            k->name[nt->e - nt->b] = 0;
            close = match_body(s, ts, after, k->name);
            if (!close) return -1;
            ls = t->b;
            while (ls > 0 && s[ls - 1] != '\n') {
                if (s[ls - 1] != ' ' && s[ls - 1] != '\t')
                    return fail_at(t->line, "a kernel definition must start its line:", k->name);
                ls--;
            }
            k->line_start = ls;
            k->params_b = ts->t[j].b;
            k->params_e = ts->t[after - 1].e;
            k->close = ts->t[close].e;
            k->line = t->line;
            k->end_line = ts->t[close].line;
            nk++;
            i = close;
        }
    }
    return nk;
}

/* The transformed text of a source (see the file comment) and its distinct kernel names.
   Returns 0, or -1 after a message. */
static int transform(const char* path, const char* src, size_t len, sbuf* out, char (*names)[128], int* nnames) {
    toks ts = { 0, 0, 0 };
    kdef* ks = (kdef*)malloc(MAX_KERNELS * sizeof *ks);
    const char* fname = file_part(path);
    size_t pos = 0;
    int nk, k;
    char line[768];
    g_file = path;
    *nnames = 0;
    if (!ks) { fprintf(stderr, "embed: out of memory\n"); return -1; }
    if (strchr(fname, '"') || strchr(fname, '\\') || strlen(fname) > 200) {
        fprintf(stderr, "embed: %s: the file name cannot go into a #line directive\n", path);
        free(ks);
        return -1;
    }
    if (tokenize(src, len, &ts) != 0 || (nk = find_kernels(src, &ts, ks, MAX_KERNELS)) < 0) {
        free(ts.t);
        free(ks);
        return -1;
    }
    snprintf(line, sizeof line, "#line 1 \"%s\"\n", fname);
    sb_str(out, line);
    for (k = 0; k < nk; k++) {
        const kdef* d = &ks[k];
        size_t e = d->close, r;
        int seen = 0, m;
        sb_add(out, src + pos, d->line_start - pos);
        snprintf(line, sizeof line, "#if defined(BNBQ_LIST_KERNELS)\nextern \"C\" __global__ void %s", d->name);
        sb_str(out, line);
        sb_add(out, src + d->params_b, d->params_e - d->params_b);
        snprintf(line, sizeof line, " {}\n#elif !defined(BNBQ_ONE_KERNEL) || defined(BNBQ_K_%s)\n#line %d \"%s\"\n",
                 d->name, d->line, fname);
        sb_str(out, line);
        sb_add(out, src + d->line_start, e - d->line_start);
        /* the rest of the closing line: blank or a // comment -> #endif after it; else split */
        r = e;
        while (r < len && (src[r] == ' ' || src[r] == '\t' || src[r] == '\r')) r++;
        if (r >= len || src[r] == '\n' || (src[r] == '/' && r + 1 < len && src[r + 1] == '/')) {
            while (r < len && src[r] != '\n') r++;
            sb_add(out, src + e, r - e);
            snprintf(line, sizeof line, "\n#endif\n#line %d \"%s\"\n", d->end_line + 1, fname);
            sb_str(out, line);
            pos = r < len ? r + 1 : len;
        } else {
            snprintf(line, sizeof line, "\n#endif\n#line %d \"%s\"\n", d->end_line, fname);
            sb_str(out, line);
            pos = e;
        }
        for (m = 0; m < *nnames; m++) if (!strcmp(names[m], d->name)) seen = 1;
        if (!seen) strcpy(names[(*nnames)++], d->name);
    }
    sb_add(out, src + pos, len - pos);
    free(ts.t);
    free(ks);
    return 0;
}

static void emit_source(sbuf* o, const char* name, const char* src) {
    const char* p = src;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "static const char* const bnbq__cu_src_%s[] = {\n", name);
    sb_str(o, tmp);
    while (*p) {
        sb_str(o, "    \"");
        while (*p && *p != '\n') {
            unsigned char c = (unsigned char)*p++;
            if (c == '\\' || c == '"') { tmp[0] = '\\'; tmp[1] = (char)c; sb_add(o, tmp, 2); }
            else if (c == '\t') sb_str(o, "    ");
            else if (c == '\r') continue;
            else if (c < 32 || c > 126) { snprintf(tmp, sizeof tmp, "\\%03o", c); sb_str(o, tmp); }
            else { tmp[0] = (char)c; sb_add(o, tmp, 1); }
        }
        if (*p == '\n') p++;
        sb_str(o, "\\n\",\n");
    }
    sb_str(o, "    0\n};\n");
}

static int transform_only(const char* in, const char* outp) {
    size_t len;
    char* src = read_file(in, &len);
    sbuf out = { 0, 0, 0 };
    char (*names)[128] = (char (*)[128])malloc(MAX_KERNELS * 128);
    int nn = 0, i;
    FILE* o;
    if (!src || !names) { fprintf(stderr, "embed: cannot read %s\n", in); return 1; }
    if (transform(in, src, len, &out, names, &nn) != 0) return 1;
    o = fopen(outp, "wb");
    if (!o || fwrite(out.p, 1, out.n, o) != out.n || fclose(o) != 0) {
        fprintf(stderr, "embed: cannot write %s\n", outp);
        return 1;
    }
    for (i = 0; i < nn; i++) printf("%s\n", names[i]);
    free(src);
    free(out.p);
    free(names);
    return 0;
}

int main(int argc, char** argv) {
    const char* begin_mark = "// >>cu-kernels\n";
    const char* end_mark = "// >>cu-kernels-end\n";
    char* hdr;
    char* b;
    char* e;
    size_t hlen, i;
    sbuf gen = { 0, 0, 0 };
    char (*names)[128];
    FILE* o;
    if (argc == 4 && !strcmp(argv[1], "--transform")) return transform_only(argv[2], argv[3]);
    if (argc < 4) {
        fprintf(stderr, "usage: embed HEADER OUT SOURCE...  |  embed --transform SOURCE OUT\n");
        return 2;
    }
    hdr = read_file(argv[1], &hlen);
    if (!hdr) { fprintf(stderr, "embed: cannot read %s\n", argv[1]); return 1; }
    b = strstr(hdr, begin_mark);
    e = b ? strstr(b, end_mark) : NULL;
    if (!b || !e) { fprintf(stderr, "embed: no fenced region in %s\n", argv[1]); return 1; }
    names = (char (*)[128])malloc(MAX_KERNELS * 128);
    if (!names) { fprintf(stderr, "embed: out of memory\n"); return 1; }
    /* everything is generated in memory first: nothing is written when a source is bad */
    for (i = 3; i < (size_t)argc; i++) {
        size_t len;
        char name[128], tmp[256];
        int nn = 0, k;
        sbuf out = { 0, 0, 0 };
        char* src = read_file(argv[i], &len);
        if (!src) { fprintf(stderr, "embed: cannot read %s\n", argv[i]); return 1; }
        if (transform(argv[i], src, len, &out, names, &nn) != 0) return 1;
        base_name(argv[i], name, sizeof name);
        emit_source(&gen, name, out.p ? out.p : "");
        snprintf(tmp, sizeof tmp, "static const char* const bnbq__cu_kernels_%s[] = {\n", name);
        sb_str(&gen, tmp);
        for (k = 0; k < nn; k++) {
            snprintf(tmp, sizeof tmp, "    \"%s\",\n", names[k]);
            sb_str(&gen, tmp);
        }
        sb_str(&gen, "    0\n};\n");
        free(out.p);
        free(src);
    }
    o = fopen(argv[2], "wb");
    if (!o) { fprintf(stderr, "embed: cannot write %s\n", argv[2]); return 1; }
    fwrite(hdr, 1, (size_t)(b - hdr) + strlen(begin_mark), o);
    fputs("/* Generated by `make embed` from kernels_src/: do not edit by hand. */\n", o);
    if (gen.n) fwrite(gen.p, 1, gen.n, o);
    fputs("static const bnbq__cu_source bnbq__cu_sources[] = {\n", o);
    for (i = 3; i < (size_t)argc; i++) {
        char name[128];
        base_name(argv[i], name, sizeof name);
        fprintf(o, "    { \"%s\", bnbq__cu_src_%s, bnbq__cu_kernels_%s },\n", name, name, name);
    }
    fputs("    { 0, 0, 0 }\n};\n", o);
    fputs(e, o);
    if (fclose(o) != 0) { fprintf(stderr, "embed: write failed\n"); return 1; }
    free(gen.p);
    free(names);
    free(hdr);
    return 0;
}
