/* llm tokenizers: llama.cpp's golden cases for every vocabulary in the
 * test data, the model prompts of the manifest, round trips, streaming
 * detokenization, special-token text, corrupt metadata, invalid UTF-8, a
 * tiny synthetic Unigram vocabulary, random input, and a 1 MB timing
 * (printed, not asserted). */
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "base/time.h"
#include "base/utf8.h"
#include "llm/llm.h"
#include "llm/tok_int.h" /* the pre-tokenizer splitting, tested directly */
#include "test.h"

#include <cJSON.h>
#include <dirent.h>

/* U+FF5C, as DeepSeek spells its FIM tokens. */
#define FW_BAR_T "\xEF\xBD\x9C"

static cJSON *manifest;

static char *data_path(const char *rel)
{
    return rag_xasprintf("%s/%s", test_data_dir(), rel);
}

/* The manifest, parsed once; NULL (case skipped) without test data. */
static cJSON *get_manifest(void)
{
    if (manifest) return manifest;
    const char *dir = test_data_dir();
    if (!dir) return NULL;
    char *path = rag_xasprintf("%s/manifest.json", dir), *text;
    size_t len;
    rag_err err = {0};
    if (rag_file_read(path, 1 << 24, &text, &len, &err)) {
        printf("    %s\n", err.msg);
        test_case_failed = 1;
        rag_free(path);
        return NULL;
    }
    manifest = cJSON_Parse(text);
    rag_free(text);
    rag_free(path);
    if (!manifest) test_case_failed = 1;
    return manifest;
}

static llm_vocab *load_vocab(const char *rel)
{
    char *path = data_path(rel);
    llm_gguf *g;
    llm_vocab *v = NULL;
    rag_err err = {0};
    int rc = llm_gguf_open(path, &g, &err);
    if (!rc) {
        rc = llm_vocab_load(g, &v, &err);
        llm_gguf_close(g);
    }
    if (rc) {
        printf("    %s: %s\n", rel, err.msg);
        test_case_failed = 1;
    }
    rag_free(path);
    return v;
}

static void print_ids(const char *label, const int32_t *v, size_t n)
{
    printf("      %s (%zu):", label, n);
    for (size_t i = 0; i < n && i < 80; i++)
        printf(" %d", v[i]);
    printf("%s\n", n > 80 ? " ..." : "");
}

static void print_escaped(const char *s, size_t n)
{
    printf("      text: \"");
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            printf("\\n");
        else if (c == '\t')
            printf("\\t");
        else if (c < 0x20)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf("\"\n");
}

/* Detokenizes through the streaming interface into b; checks on the way
 * that every chunk is valid UTF-8. Returns 0 when a chunk was not. */
static int detok_all(const llm_vocab *v, const int32_t *ids, size_t n, rag_buf *b)
{
    llm_detok d;
    llm_detok_init(&d);
    size_t cap = llm_detok_bound(v);
    char *chunk = rag_xmalloc(cap);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        size_t k = llm_detok_push(v, &d, ids[i], 0, chunk, cap);
        if (k > cap) {
            ok = 0;
            break;
        }
        rag_buf fixed = {0};
        if (rag_utf8_repair((const uint8_t *)chunk, k, &fixed, NULL) != 0) ok = 0;
        rag_buf_free(&fixed);
        rag_buf_append(b, chunk, k);
    }
    size_t k = llm_detok_flush(&d, chunk, cap);
    rag_buf_append(b, chunk, k);
    rag_free(chunk);
    return ok;
}

/* The concatenated raw pieces (no UTF-8 repair): what the ids stand for. */
static void pieces_all(const llm_vocab *v, const int32_t *ids, size_t n, rag_buf *b)
{
    char buf[512];
    for (size_t i = 0; i < n; i++) {
        size_t k = llm_token_to_piece(v, ids[i], 0, buf, sizeof buf);
        rag_buf_append(b, buf, k < sizeof buf ? k : sizeof buf);
    }
}

/* ---- golden cases ------------------------------------------------------------ */

static const char SEP[] = "\n__ggml_vocab_test__\n";

static void test_golden(void)
{
    cJSON *m = get_manifest();
    if (!m) return;
    cJSON *cases = cJSON_GetObjectItem(m, "tokenizer"), *c;
    CHECK(cJSON_GetArraySize(cases) > 0);
    cJSON_ArrayForEach(c, cases)
    {
        const char *vocab = cJSON_GetStringValue(cJSON_GetObjectItem(c, "vocab"));
        const char *inp = cJSON_GetStringValue(cJSON_GetObjectItem(c, "inputs"));
        const char *exp = cJSON_GetStringValue(cJSON_GetObjectItem(c, "expected"));
        if (!vocab || !inp || !exp) {
            CHECK(!"tokenizer entry lacks vocab/inputs/expected");
            continue;
        }
        llm_vocab *v = load_vocab(vocab);
        char *pi = data_path(inp), *pe = data_path(exp), *in_text = NULL, *out_text = NULL;
        size_t in_len = 0, out_len = 0;
        rag_err err = {0};
        if (!v || rag_file_read(pi, 1 << 24, &in_text, &in_len, &err) ||
            rag_file_read(pe, 1 << 24, &out_text, &out_len, &err)) {
            printf("    %s: %s\n", vocab, err.msg);
            test_case_failed = 1;
            llm_vocab_free(v);
            rag_free(in_text);
            rag_free(pi);
            rag_free(pe);
            continue;
        }
        int kind = llm_vocab_kind_of(v);
        size_t n_cases = 0, n_pass = 0, n_round = 0, n_round_ok = 0;
        int shown = 0;
        const char *p = in_text, *end = in_text + in_len;
        const char *line = out_text, *lend = out_text + out_len;
        for (;;) {
            const char *sep = strstr(p, SEP);
            if (!sep) break; /* the piece after the last separator is not a case */
            size_t len = (size_t)(sep - p);
            /* The matching line of expected ids. */
            const char *nl = memchr(line, '\n', (size_t)(lend - line));
            if (!nl) nl = lend;
            int32_t want[1024];
            size_t n_want = 0;
            for (const char *q = line; q < nl && n_want < 1024;) {
                char *e;
                long x = strtol(q, &e, 10);
                if (e == q) {
                    q++;
                    continue;
                }
                want[n_want++] = (int32_t)x;
                q = e;
            }
            line = nl < lend ? nl + 1 : lend;

            llm_tokens t = {0};
            int rc = llm_tokenize(v, p, len, 0, 0, &t, &err);
            n_cases++;
            int same =
                !rc && t.n == n_want && (n_want == 0 || !memcmp(t.v, want, n_want * sizeof *want));
            if (same) {
                n_pass++;
            } else if (!shown++) {
                printf("    %s: case %zu differs%s%s\n", vocab, n_cases - 1, rc ? ": " : "",
                       rc ? err.msg : "");
                print_escaped(p, len);
                print_ids("got", t.v, t.n);
                print_ids("expected", want, n_want);
            }
            /* Round trip: byte-level BPE and SPM give the text back (the
             * SPM space prefix is removed by the detokenizer); WordPiece
             * normalises, so it is not expected to. Unigram normalises too
             * (NFKC, spaces): there the text the ids stand for must give
             * the same ids again, unless an unknown token lost some of it. */
            if (!rc && kind == LLM_VOCAB_UGM) {
                int32_t unk = llm_vocab_special(v)->unk;
                int has_unk = 0;
                for (size_t i = 0; i < t.n; i++)
                    has_unk |= t.v[i] == unk;
                if (!has_unk) {
                    rag_buf b = {0};
                    llm_tokens again = {0};
                    int chunks_ok = detok_all(v, t.v, t.n, &b);
                    n_round++;
                    if (chunks_ok && !llm_tokenize(v, rag_buf_str(&b), b.len, 0, 0, &again, &err) &&
                        again.n == t.n && (t.n == 0 || !memcmp(again.v, t.v, t.n * sizeof *t.v))) {
                        n_round_ok++;
                    } else {
                        printf("    %s: case %zu: its text does not give its ids again\n", vocab,
                               n_cases - 1);
                        print_escaped(p, len);
                        print_escaped(rag_buf_str(&b), b.len);
                    }
                    llm_tokens_free(&again);
                    rag_buf_free(&b);
                }
            } else if (!rc && kind != LLM_VOCAB_WPM) {
                rag_buf b = {0};
                int chunks_ok = detok_all(v, t.v, t.n, &b);
                n_round++;
                if (chunks_ok && b.len == len && !memcmp(rag_buf_str(&b), p, len)) {
                    n_round_ok++;
                } else {
                    printf("    %s: case %zu does not round-trip\n", vocab, n_cases - 1);
                    print_escaped(p, len);
                    print_escaped(rag_buf_str(&b), b.len);
                }
                rag_buf_free(&b);
            }
            llm_tokens_free(&t);
            p = sep + sizeof SEP - 1;
            if (p > end) break;
        }
        printf("    %-40s %zu/%zu golden cases pass", vocab, n_pass, n_cases);
        if (kind != LLM_VOCAB_WPM) printf(", %zu/%zu round trips", n_round_ok, n_round);
        printf("\n");
        CHECK(n_cases > 0);
        CHECK_INT(n_pass, n_cases);
        CHECK_INT(n_round_ok, n_round);
        rag_free(in_text);
        rag_free(out_text);
        rag_free(pi);
        rag_free(pe);
        llm_vocab_free(v);
    }
}

/* ---- the model prompts of the manifest -------------------------------------------- */

static int same_ids(const llm_tokens *t, const cJSON *arr)
{
    if ((size_t)cJSON_GetArraySize(arr) != t->n) return 0;
    for (size_t i = 0; i < t->n; i++)
        if ((int32_t)cJSON_GetArrayItem(arr, (int)i)->valuedouble != t->v[i]) return 0;
    return 1;
}

static void show_diff(const llm_tokens *t, const cJSON *arr)
{
    int32_t want[512];
    size_t n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) if (n < 512) want[n++] = (int32_t)x->valuedouble;
    print_ids("got", t->v, t->n);
    print_ids("expected", want, n);
}

static void test_greedy_prompts(void)
{
    cJSON *m = get_manifest();
    if (!m) return;
    cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "greedy"))
    {
        const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(c, "model"));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(c, "prompt_text"));
        cJSON *want = cJSON_GetObjectItem(c, "prompt_tokens");
        int add = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_special"));
        llm_vocab *v = model ? load_vocab(model) : NULL;
        if (!v || !text) {
            test_case_failed = 1;
            continue;
        }
        llm_tokens t = {0};
        rag_err err = {0};
        CHECK_INT(llm_tokenize(v, text, strlen(text), add, 0, &t, &err), 0);
        if (!same_ids(&t, want)) {
            printf("    %s: prompt tokens differ\n", model);
            show_diff(&t, want);
            test_case_failed = 1;
        }
        /* Detokenizing the prompt (BOS is not printed) gives it back. */
        rag_buf b = {0};
        CHECK(detok_all(v, t.v, t.n, &b));
        CHECK_STR(rag_buf_str(&b), text);
        rag_buf_free(&b);
        llm_tokens_free(&t);
        llm_vocab_free(v);
        n++;
    }
    printf("    %d greedy prompts checked\n", n);
    CHECK(n > 0);
}

static void test_embedding_and_rerank_tokens(void)
{
    cJSON *m = get_manifest();
    if (!m) return;
    cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "embeddings"))
    {
        const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(c, "model"));
        cJSON *texts = cJSON_GetObjectItem(c, "texts"), *tokens = cJSON_GetObjectItem(c, "tokens");
        llm_vocab *v = model ? load_vocab(model) : NULL;
        if (!v) continue;
        for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
            const char *text = cJSON_GetStringValue(cJSON_GetArrayItem(texts, i));
            llm_tokens t = {0};
            rag_err err = {0};
            CHECK_INT(llm_tokenize(v, text, strlen(text), 1, 0, &t, &err), 0);
            if (!same_ids(&t, cJSON_GetArrayItem(tokens, i))) {
                printf("    %s: text %d differs\n", model, i);
                print_escaped(text, strlen(text));
                show_diff(&t, cJSON_GetArrayItem(tokens, i));
                test_case_failed = 1;
            }
            llm_tokens_free(&t);
            n++;
        }
        llm_vocab_free(v);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "rerank"))
    {
        const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(c, "model"));
        llm_vocab *v = model ? load_vocab(model) : NULL;
        if (!v) continue;
        cJSON *pair;
        cJSON_ArrayForEach(pair, cJSON_GetObjectItem(c, "pairs"))
        {
            const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(pair, "query"));
            const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(pair, "document"));
            llm_tokens t = {0};
            rag_err err = {0};
            CHECK_INT(llm_tokenize_pair(v, q, strlen(q), d, strlen(d), &t, &err), 0);
            if (!same_ids(&t, cJSON_GetObjectItem(pair, "tokens"))) {
                printf("    %s: pair differs\n", model);
                show_diff(&t, cJSON_GetObjectItem(pair, "tokens"));
                test_case_failed = 1;
            }
            llm_tokens_free(&t);
            n++;
        }
        llm_vocab_free(v);
    }
    printf("    %d embedding texts and rerank pairs checked\n", n);
    CHECK(n > 0);
}

/* Every model of the manifest has a vocabulary this module loads. */
static void test_all_models_load(void)
{
    cJSON *m = get_manifest();
    if (!m) return;
    static const char *const sections[] = {"logits", "greedy", "embeddings", "rerank"};
    int n = 0;
    for (size_t i = 0; i < 4; i++) {
        cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, sections[i]))
        {
            const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(c, "model"));
            if (!model) continue;
            llm_vocab *v = load_vocab(model);
            if (!v) continue;
            /* A short text goes through and comes back as text. */
            llm_tokens t = {0};
            rag_err err = {0};
            CHECK_INT(llm_tokenize(v, "Hello world", 11, 1, 0, &t, &err), 0);
            CHECK(t.n > 0);
            rag_buf b = {0};
            CHECK(detok_all(v, t.v, t.n, &b));
            rag_buf_free(&b);
            llm_tokens_free(&t);
            llm_vocab_free(v);
            n++;
        }
    }
    printf("    %d model vocabularies loaded\n", n);
    CHECK(n > 0);
}

/* ---- streaming ------------------------------------------------------------------ */

static void test_streaming(void)
{
    if (!test_data_dir()) return;
    llm_vocab *v = load_vocab("vocab/ggml-vocab-llama-spm.gguf");
    if (!v) return;
    /* Emoji and rare CJK characters that SentencePiece spells in bytes. */
    const char *text = "Llamas \xF0\x9F\xA6\x99 and rockets \xF0\x9F\x9A\x80, "
                       "\xE9\xBE\x98\xE9\xBD\x89 and \xE2\x9C\x85 done.";
    llm_tokens t = {0};
    rag_err err = {0};
    CHECK_INT(llm_tokenize(v, text, strlen(text), 1, 0, &t, &err), 0);
    size_t n_bytes = 0;
    for (size_t i = 0; i < t.n; i++) {
        size_t len;
        const char *s = llm_token_text(v, t.v[i], &len);
        if (len == 6 && !memcmp(s, "<0x", 3)) n_bytes++;
    }
    CHECK(n_bytes >= 8); /* the test is only worth it if bytes are split */

    rag_buf all = {0};
    CHECK(detok_all(v, t.v, t.n, &all));
    CHECK_STR(rag_buf_str(&all), text);
    rag_buf_free(&all);

    /* Token by token: a character split over byte tokens comes out whole
     * with its last byte, never before. */
    llm_detok d;
    llm_detok_init(&d);
    char out[64];
    int32_t rocket[4];
    for (int i = 0; i < 4; i++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", (unsigned char)"\xF0\x9F\x9A\x80"[i]);
        rocket[i] = -1;
        for (int32_t id = 0; id < llm_vocab_size(v); id++) {
            size_t len;
            const char *s = llm_token_text(v, id, &len);
            if (len == 6 && !memcmp(s, hex, 6)) rocket[i] = id;
        }
        CHECK(rocket[i] >= 0);
    }
    if (rocket[0] >= 0 && rocket[1] >= 0 && rocket[2] >= 0 && rocket[3] >= 0) {
        CHECK_INT(llm_detok_push(v, &d, rocket[0], 0, out, sizeof out), 0);
        CHECK_INT(llm_detok_push(v, &d, rocket[1], 0, out, sizeof out), 0);
        CHECK_INT(llm_detok_push(v, &d, rocket[2], 0, out, sizeof out), 0);
        /* Too small a buffer: nothing happens, the room needed is returned. */
        CHECK_INT(llm_detok_push(v, &d, rocket[3], 0, out, 2), 4);
        CHECK_INT(llm_detok_push(v, &d, rocket[3], 0, out, sizeof out), 4);
        CHECK(!memcmp(out, "\xF0\x9F\x9A\x80", 4));
        /* A tail that never completes is flushed as U+FFFD. */
        CHECK_INT(llm_detok_push(v, &d, rocket[0], 0, out, sizeof out), 0);
        CHECK_INT(llm_detok_flush(&d, out, sizeof out), 3);
        CHECK(!memcmp(out, "\xEF\xBF\xBD", 3));
        CHECK_INT(llm_detok_flush(&d, out, sizeof out), 0);
        /* A continuation byte where a character should start: U+FFFD. */
        llm_detok_init(&d);
        CHECK_INT(llm_detok_push(v, &d, rocket[2], 0, out, sizeof out), 3);
        CHECK(!memcmp(out, "\xEF\xBF\xBD", 3));
    }
    /* Control tokens print only when asked. */
    char buf[16];
    CHECK_INT(llm_token_to_piece(v, 1, 0, buf, sizeof buf), 0);
    CHECK_INT(llm_token_to_piece(v, 1, 1, buf, sizeof buf), 3);
    CHECK(!memcmp(buf, "<s>", 3));
    llm_tokens_free(&t);
    llm_vocab_free(v);
}

/* ---- special-token text --------------------------------------------------------- */

static void cat_tokens(const llm_vocab *v, const char *s, llm_tokens *out)
{
    rag_err err = {0};
    CHECK_INT(llm_tokenize(v, s, strlen(s), 0, 0, out, &err), 0);
}

static int has_id(const llm_tokens *t, int32_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i] == id) return 1;
    return 0;
}

static void test_parse_special(void)
{
    if (!test_data_dir()) return;
    rag_err err = {0};
    /* SentencePiece: "</s>" is EOS (2). */
    llm_vocab *v = load_vocab("vocab/ggml-vocab-llama-spm.gguf");
    if (v) {
        const char *text = "Hello</s>world";
        llm_tokens on = {0}, off = {0}, want = {0};
        CHECK_INT(llm_tokenize(v, text, strlen(text), 0, 1, &on, &err), 0);
        CHECK_INT(llm_tokenize(v, text, strlen(text), 0, 0, &off, &err), 0);
        cat_tokens(v, "Hello", &want);
        want.v = rag_xgrow(want.v, &want.cap, want.n + 1, sizeof *want.v);
        want.v[want.n++] = 2;
        cat_tokens(v, "world", &want); /* after a special token the space prefix returns */
        CHECK(on.n == want.n && !memcmp(on.v, want.v, want.n * sizeof *want.v));
        CHECK(!has_id(&off, 2));
        CHECK(llm_token_is_eog(v, 2));
        CHECK(llm_token_is_control(v, 2));
        CHECK(!llm_token_is_eog(v, 100));
        const llm_special *sp = llm_vocab_special(v);
        CHECK_INT(sp->bos, 1);
        CHECK_INT(sp->eos, 2);
        CHECK_INT(sp->unk, 0);
        CHECK_INT(sp->add_bos, 1);
        CHECK_INT(sp->add_eos, 0);
        CHECK_INT(llm_vocab_kind_of(v), LLM_VOCAB_SPM);
        CHECK_STR(llm_vocab_pre(v), "");
        llm_tokens_free(&on);
        llm_tokens_free(&off);
        llm_tokens_free(&want);
        llm_vocab_free(v);
    }
    /* Byte-level BPE: "<|endoftext|>" (50256). */
    v = load_vocab("vocab/ggml-vocab-gpt-2.gguf");
    if (v) {
        const char *text = "a<|endoftext|>b <|endoftext|>";
        llm_tokens on = {0}, off = {0};
        CHECK_INT(llm_tokenize(v, text, strlen(text), 0, 1, &on, &err), 0);
        CHECK_INT(llm_tokenize(v, text, strlen(text), 0, 0, &off, &err), 0);
        size_t n_eot = 0;
        for (size_t i = 0; i < on.n; i++)
            n_eot += on.v[i] == 50256;
        CHECK_INT(n_eot, 2);
        CHECK(!has_id(&off, 50256));
        /* Plain text round-trips through the pieces; special text too when
         * control tokens are rendered. */
        rag_buf b = {0};
        pieces_all(v, off.v, off.n, &b);
        CHECK_STR(rag_buf_str(&b), text);
        rag_buf_free(&b);
        CHECK(llm_token_is_eog(v, 50256));
        CHECK_STR(llm_vocab_pre(v), "gpt-2");
        CHECK_INT(llm_vocab_special(v)->add_bos, 0);
        llm_tokens_free(&on);
        llm_tokens_free(&off);
        llm_vocab_free(v);
    }
    /* WordPiece: [SEP] in the text; CLS ... SEP added with add_special. */
    v = load_vocab("vocab/ggml-vocab-bert-bge.gguf");
    if (v) {
        const char *text = "hello [SEP] world";
        llm_tokens on = {0}, off = {0};
        CHECK_INT(llm_tokenize(v, text, strlen(text), 1, 1, &on, &err), 0);
        CHECK_INT(llm_tokenize(v, text, strlen(text), 1, 0, &off, &err), 0);
        CHECK(on.n == 5 && on.v[0] == 101 && on.v[2] == 102 && on.v[4] == 102);
        CHECK(off.n > 5 && off.v[0] == 101 && off.v[off.n - 1] == 102);
        CHECK_INT(llm_vocab_special(v)->cls, 101);
        CHECK_INT(llm_vocab_special(v)->sep, 102);
        rag_buf b = {0};
        CHECK(detok_all(v, off.v, off.n, &b));
        CHECK_STR(rag_buf_str(&b), "hello [ sep ] world"); /* normalised, words spaced */
        rag_buf_free(&b);
        llm_tokens_free(&on);
        llm_tokens_free(&off);
        llm_vocab_free(v);
    }
}

/* ---- invalid UTF-8 ---------------------------------------------------------------- */

static void test_invalid_utf8(void)
{
    if (!test_data_dir()) return;
    static const char *vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                   "vocab/ggml-vocab-falcon.gguf",
                                   "vocab/ggml-vocab-deepseek-coder.gguf",
                                   "vocab/ggml-vocab-bert-bge.gguf"};
    /* lone continuation, truncated sequences, overlong, surrogate, 0xFF,
     * a NUL, U+180E, and an invalid byte at the very end */
    static const char bad[] = "ok \x80 x\xC3 \xE2\x82 \xC0\xAF \xED\xA0\x80 \xFF\xFE a\0b "
                              "\xE1\xA0\x8E end\xF0\x9F";
    size_t n = sizeof bad - 1;
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        llm_vocab *v = load_vocab(vocabs[k]);
        if (!v) continue;
        llm_tokens t = {0};
        rag_err err = {0};
        CHECK_INT(llm_tokenize(v, bad, n, 1, 1, &t, &err), 0);
        CHECK(t.n > 0);
        for (size_t i = 0; i < t.n; i++)
            CHECK(t.v[i] >= 0 && t.v[i] < llm_vocab_size(v));
        rag_buf b = {0};
        CHECK(detok_all(v, t.v, t.n, &b)); /* valid UTF-8 whatever came in */
        rag_buf_free(&b);
        if (k < 2) {
            /* Byte fallback and byte-level BPE with all 256 byte characters
             * as normal tokens keep every byte. (Falcon lacks the bytes that
             * never occur in UTF-8; DeepSeek-Coder has them as user-defined
             * tokens, which print as their text.) */
            rag_buf raw = {0};
            pieces_all(v, t.v, t.n, &raw);
            const char *r = rag_buf_str(&raw);
            if (llm_vocab_kind_of(v) == LLM_VOCAB_SPM && raw.len && r[0] == ' ') r++, raw.len--;
            if (raw.len != n || memcmp(r, bad, n)) {
                printf("    %s: the pieces do not give the bytes back\n", vocabs[k]);
                print_escaped(r, raw.len);
                print_ids("tokens", t.v, t.n);
                test_case_failed = 1;
            }
            rag_buf_free(&raw);
        } else if (llm_vocab_kind_of(v) == LLM_VOCAB_WPM) {
            CHECK(has_id(&t, llm_vocab_special(v)->unk));
        }
        llm_tokens_free(&t);
        llm_vocab_free(v);
    }
}

/* ---- corrupt metadata ------------------------------------------------------------- */

/* A GGUF image under construction: metadata only. */
typedef struct gimg {
    rag_buf kv;
    uint64_t n_kv;
} gimg;

static void put_u32(rag_buf *b, uint32_t x)
{
    rag_buf_append(b, &x, 4);
}
static void put_u64(rag_buf *b, uint64_t x)
{
    rag_buf_append(b, &x, 8);
}
static void put_str(rag_buf *b, const char *s)
{
    put_u64(b, strlen(s));
    rag_buf_append(b, s, strlen(s));
}
static void key(gimg *g, const char *k, uint32_t type)
{
    put_str(&g->kv, k);
    put_u32(&g->kv, type);
    g->n_kv++;
}
static void kv_str(gimg *g, const char *k, const char *v)
{
    key(g, k, LLM_GGUF_STRING);
    put_str(&g->kv, v);
}
static void kv_u32(gimg *g, const char *k, uint32_t v)
{
    key(g, k, LLM_GGUF_U32);
    put_u32(&g->kv, v);
}
static void kv_bool(gimg *g, const char *k, int v)
{
    key(g, k, LLM_GGUF_BOOL);
    rag_buf_putc(&g->kv, (char)(v != 0));
}
static void kv_strs(gimg *g, const char *k, const char *const *v, size_t n)
{
    key(g, k, LLM_GGUF_ARRAY);
    put_u32(&g->kv, LLM_GGUF_STRING);
    put_u64(&g->kv, n);
    for (size_t i = 0; i < n; i++)
        put_str(&g->kv, v[i]);
}
static void kv_f32s(gimg *g, const char *k, const float *v, size_t n)
{
    key(g, k, LLM_GGUF_ARRAY);
    put_u32(&g->kv, LLM_GGUF_F32);
    put_u64(&g->kv, n);
    rag_buf_append(&g->kv, v, n * 4);
}
static void kv_i32s(gimg *g, const char *k, const int32_t *v, size_t n)
{
    key(g, k, LLM_GGUF_ARRAY);
    put_u32(&g->kv, LLM_GGUF_I32);
    put_u64(&g->kv, n);
    rag_buf_append(&g->kv, v, n * 4);
}

/* Loads the image; returns the llm_vocab_load code (vocab freed), with the
 * message in err. */
static int try_load(gimg *g, llm_vocab **keep, rag_err *err)
{
    rag_buf img = {0};
    rag_buf_append(&img, "GGUF", 4);
    put_u32(&img, 3);
    put_u64(&img, 0);
    put_u64(&img, g->n_kv);
    rag_buf_append(&img, g->kv.data, g->kv.len);
    llm_gguf *gg;
    llm_vocab *v = NULL;
    int rc = llm_gguf_open_memory(img.data, img.len, "mem.gguf", &gg, err);
    if (!rc) {
        rc = llm_vocab_load(gg, &v, err);
        llm_gguf_close(gg);
    }
    if (keep)
        *keep = v;
    else
        llm_vocab_free(v);
    rag_buf_free(&img);
    rag_buf_free(&g->kv);
    g->n_kv = 0;
    return rc;
}

static const char *const spm_tokens[] = {
    "<unk>",  "<s>",   "</s>", "\xE2\x96\x81",
    "a",      "b",     "ab",   "\342\226\201ab", /* octal: \x would run on */
    "<0x41>", "<0x0A>"};
static const float spm_scores[] = {0, 0, 0, -5, -3, -3, -2, -1, 0, 0};
static const int32_t spm_types[] = {2, 3, 3, 1, 1, 1, 1, 1, 6, 6};
#define N_SPM 10

static void spm_base(gimg *g, int with_scores, int with_types)
{
    kv_str(g, "tokenizer.ggml.model", "llama");
    kv_strs(g, "tokenizer.ggml.tokens", spm_tokens, N_SPM);
    if (with_scores) kv_f32s(g, "tokenizer.ggml.scores", spm_scores, N_SPM);
    if (with_types) kv_i32s(g, "tokenizer.ggml.token_type", spm_types, N_SPM);
}

static void test_corrupt_metadata(void)
{
    gimg g = {0};
    rag_err err = {0};
    llm_vocab *v = NULL;

    /* A tiny valid SentencePiece vocabulary first. */
    spm_base(&g, 1, 1);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        llm_tokens t = {0};
        CHECK_INT(llm_tokenize(v, "ab A\n", 5, 1, 0, &t, &err), 0);
        /* <s> ▁ab ▁ <0x41> <0x0A>: "A" and "\n" fall back to bytes */
        int32_t want[] = {1, 7, 3, 8, 9};
        CHECK(t.n == 5 && !memcmp(t.v, want, sizeof want));
        llm_tokens_free(&t);
        llm_vocab_free(v);
    }

    spm_base(&g, 1, 1);
    kv_u32(&g, "tokenizer.ggml.bos_token_id", 999); /* out of range: ignored */
    kv_u32(&g, "tokenizer.ggml.eos_token_id", 2);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        CHECK_INT(llm_vocab_special(v)->bos, 1);
        llm_vocab_free(v);
    }

    kv_str(&g, "tokenizer.ggml.model", "llama");
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.tokens");

    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_f32s(&g, "tokenizer.ggml.tokens", spm_scores, N_SPM);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.tokens");

    spm_base(&g, 0, 1);
    kv_f32s(&g, "tokenizer.ggml.scores", spm_scores, N_SPM - 1);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.scores");

    spm_base(&g, 1, 0);
    kv_strs(&g, "tokenizer.ggml.token_type", spm_tokens, N_SPM);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.token_type");

    spm_base(&g, 1, 0);
    int32_t bad_types[N_SPM];
    memcpy(bad_types, spm_types, sizeof bad_types);
    bad_types[4] = 6; /* "a" claimed to be a byte token */
    kv_i32s(&g, "tokenizer.ggml.token_type", bad_types, N_SPM);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "<0xXX>");

    static const char *const dup[] = {"<unk>", "a", "b", "a"};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", dup, 4);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "repeats");

    kv_str(&g, "tokenizer.ggml.model", "sentencepiece-ish");
    kv_strs(&g, "tokenizer.ggml.tokens", spm_tokens, N_SPM);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.model");

    kv_str(&g, "tokenizer.ggml.model", "rwkv");
    kv_strs(&g, "tokenizer.ggml.tokens", spm_tokens, N_SPM);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_UNSUPPORTED);
    CHECK_CONTAINS(err.msg, "rwkv");

    spm_base(&g, 1, 1);
    kv_str(&g, "tokenizer.ggml.bos_token_id", "one");
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "bos_token_id");

    /* Byte-level BPE. */
    static const char *const bpe_tokens[] = {"a", "b", "c", "ab", "abc", "\xC4\xA0"};
    static const char *const merges[] = {"a b", "ab c"};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_str(&g, "tokenizer.ggml.pre", "gpt-2");
    kv_strs(&g, "tokenizer.ggml.tokens", bpe_tokens, 6);
    kv_strs(&g, "tokenizer.ggml.merges", merges, 2);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        llm_tokens t = {0};
        CHECK_INT(llm_tokenize(v, "abc ab", 6, 1, 0, &t, &err), 0);
        /* abc | " ab": the space (Ġ) has no merge with "ab" */
        int32_t want[] = {4, 5, 3};
        CHECK(t.n == 3 && !memcmp(t.v, want, sizeof want));
        CHECK_INT(llm_vocab_special(v)->bos, -1); /* default 11 is past the end */
        llm_tokens_free(&t);
        llm_vocab_free(v);
    }

    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_str(&g, "tokenizer.ggml.pre", "no-such-pretokenizer");
    kv_strs(&g, "tokenizer.ggml.tokens", bpe_tokens, 6);
    kv_strs(&g, "tokenizer.ggml.merges", merges, 2);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.pre");
    CHECK_CONTAINS(err.msg, "no-such-pretokenizer");

    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_strs(&g, "tokenizer.ggml.tokens", bpe_tokens, 6);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tokenizer.ggml.merges");

    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_strs(&g, "tokenizer.ggml.tokens", bpe_tokens, 6);
    kv_strs(&g, "tokenizer.ggml.merges", merges, 2);
    kv_bool(&g, "tokenizer.ggml.add_bos_token", 1);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "add_bos_token");

    /* A merge list with odd entries (no space, lone space) is harmless. */
    static const char *const odd_merges[] = {"ab", " ", "a b", "x y"};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_strs(&g, "tokenizer.ggml.tokens", bpe_tokens, 6);
    kv_strs(&g, "tokenizer.ggml.merges", odd_merges, 4);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        CHECK_STR(llm_vocab_pre(v), "default");
        llm_tokens t = {0};
        CHECK_INT(llm_tokenize(v, "abxy", 4, 0, 0, &t, &err), 0);
        CHECK(t.n == 1 && t.v[0] == 3); /* "xy" has no tokens at all: dropped */
        llm_tokens_free(&t);
        llm_vocab_free(v);
    }

    /* WordPiece without SEP. */
    static const char *const wpm_tokens[] = {"[PAD]", "[UNK]", "\342\226\201a"};
    kv_str(&g, "tokenizer.ggml.model", "bert");
    kv_strs(&g, "tokenizer.ggml.tokens", wpm_tokens, 3);
    kv_u32(&g, "tokenizer.ggml.cls_token_id", 0);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "seperator_token_id");
}

/* ---- a tiny Unigram vocabulary ------------------------------------------------------ */

static void kv_u8s(gimg *g, const char *k, const void *v, size_t n)
{
    key(g, k, LLM_GGUF_ARRAY);
    put_u32(&g->kv, LLM_GGUF_U8);
    put_u64(&g->kv, n);
    rag_buf_append(&g->kv, v, n);
}

static const char *const ugm_tokens[] = {"<unk>",          "<s>", "</s>", "<mask>",
                                         "\342\226\201",   "a",   "b",    "\342\226\201a",
                                         "\342\226\201ab", "bb",  "ab",   "<"};
static const float ugm_scores[] = {0, 0, 0, 0, -2, -3, -3, -2.5f, -4, -2, -2.5f, -6};
static const int32_t ugm_types[] = {2, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1};
#define N_UGM 12

/* A character map of two entries: "A" -> "a", "B" -> "bb". The root's
 * BASE is 1; the node of byte c is 1 ^ c, whose entry holds LCHECK c, LEAF
 * and BASE 1, pointing to the entry (1 ^ c) ^ 1 that holds the offset of
 * the replacement. 258 entries keep every byte's node in the array. */
static size_t ugm_charsmap(uint8_t *out)
{
    uint32_t a[258] = {0};
    a[0] = 1u << 10;
    a[1 ^ 'A'] = 'A' | 1u << 8 | 1u << 10;
    a[(1 ^ 'A') ^ 1] = 1u << 31 | 0; /* "a" at 0 */
    a[1 ^ 'B'] = 'B' | 1u << 8 | 1u << 10;
    a[(1 ^ 'B') ^ 1] = 1u << 31 | 2; /* "bb" at 2 */
    uint32_t blob = sizeof a;
    memcpy(out, &blob, 4);
    memcpy(out + 4, a, sizeof a);
    memcpy(out + 4 + sizeof a, "a\0bb\0", 5);
    return 4 + sizeof a + 5;
}

static void ugm_base(gimg *g)
{
    kv_str(g, "tokenizer.ggml.model", "t5");
    kv_strs(g, "tokenizer.ggml.tokens", ugm_tokens, N_UGM);
    kv_f32s(g, "tokenizer.ggml.scores", ugm_scores, N_UGM);
    kv_i32s(g, "tokenizer.ggml.token_type", ugm_types, N_UGM);
    kv_u32(g, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(g, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(g, "tokenizer.ggml.unknown_token_id", 0);
}

static void check_ugm(const llm_vocab *v, const char *text, int add_special, const int32_t *want,
                      size_t n_want)
{
    llm_tokens t = {0};
    rag_err err = {0};
    CHECK_INT(llm_tokenize(v, text, strlen(text), add_special, 0, &t, &err), 0);
    if (t.n != n_want || (n_want && memcmp(t.v, want, n_want * sizeof *want))) {
        printf("    unigram: \"%s\"\n", text);
        print_ids("got", t.v, t.n);
        print_ids("expected", want, n_want);
        test_case_failed = 1;
    }
    llm_tokens_free(&t);
}

static void test_ugm_synthetic(void)
{
    gimg g = {0};
    rag_err err = {0};
    llm_vocab *v = NULL;
    uint8_t map[4 + 258 * 4 + 5];
    size_t n_map = ugm_charsmap(map);

    /* XLM-R's settings: the map, a space prefix, extra spaces removed. */
    ugm_base(&g);
    kv_u8s(&g, "tokenizer.ggml.precompiled_charsmap", map, n_map);
    kv_bool(&g, "tokenizer.ggml.add_space_prefix", 1);
    kv_bool(&g, "tokenizer.ggml.remove_extra_whitespaces", 1);
    kv_bool(&g, "tokenizer.ggml.add_bos_token", 1);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        CHECK_INT(llm_vocab_kind_of(v), LLM_VOCAB_UGM);
        CHECK_INT(llm_vocab_special(v)->add_eos, 1); /* the t5 default */
        /* "▁ab" (-4) beats "▁a" "b" (-5.5) and "▁" "ab" (-4.5) */
        check_ugm(v, "ab", 0, (const int32_t[]){8}, 1);
        /* the map: "A" -> "a", "B" -> "bb"; spaces merged and trimmed */
        check_ugm(v, "  A   B ", 0, (const int32_t[]){7, 4, 9}, 3);
        check_ugm(v, "AB", 0, (const int32_t[]){7, 9}, 2); /* "▁abb": "▁a" "bb" (-4.5) */
        check_ugm(v, "ab", 1, (const int32_t[]){1, 8, 2}, 3);
        /* unknown characters: min score - 10 each, a run becomes one <unk> */
        check_ugm(v, "x\xC3\xA9y a", 0, (const int32_t[]){4, 0, 7}, 3);
        /* a user-defined token at the start takes no "▁"; after it, one */
        check_ugm(v, "<mask>a", 0, (const int32_t[]){3, 7}, 2);
        check_ugm(v, "a<mask>", 0, (const int32_t[]){7, 3}, 2);
        /* "<s>" is control: plain text unless parsed; "<" is a normal token */
        check_ugm(v, "<s>", 0, (const int32_t[]){4, 11, 0}, 3);
        check_ugm(v, "", 1, (const int32_t[]){1, 2}, 2);
        check_ugm(v, "   ", 0, NULL, 0);
        check_ugm(v, " \t ", 0, (const int32_t[]){4, 0}, 2); /* this map keeps tabs */
        /* invalid UTF-8: U+FFFD, unknown */
        check_ugm(v, "a\xFF", 0, (const int32_t[]){7, 0}, 2);

        /* detokenized: "▁" back to spaces, the prefix's space removed */
        llm_tokens t = {0};
        CHECK_INT(llm_tokenize(v, "AB ab", 5, 1, 0, &t, &err), 0);
        rag_buf b = {0};
        CHECK(detok_all(v, t.v, t.n, &b));
        CHECK_STR(rag_buf_str(&b), "abb ab");
        rag_buf_free(&b);
        llm_tokens_free(&t);
        llm_vocab_free(v);
    }

    /* No map, no prefix, spaces kept (llama.cpp's defaults): each space is
     * a "▁" of its own. */
    ugm_base(&g);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        CHECK_INT(llm_vocab_special(v)->add_bos, 0);
        check_ugm(v, "a  b", 0, (const int32_t[]){5, 4, 4, 6}, 4);
        check_ugm(v, "A", 0, (const int32_t[]){0}, 1); /* no map: "A" is unknown */
        llm_vocab_free(v);
    }

    /* A map whose first word leaves no room for replacements. */
    ugm_base(&g);
    uint8_t short_map[8] = {4, 0, 0, 0, 0, 4, 0, 0};
    kv_u8s(&g, "tokenizer.ggml.precompiled_charsmap", short_map, sizeof short_map);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "precompiled_charsmap");

    /* A map of the wrong type. */
    ugm_base(&g);
    kv_f32s(&g, "tokenizer.ggml.precompiled_charsmap", ugm_scores, N_UGM);
    CHECK_INT(try_load(&g, NULL, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "precompiled_charsmap");
}

/* ---- random input ------------------------------------------------------------------ */

static uint64_t fuzz_state = 0x9E3779B97F4A7C15ull;

static uint32_t fuzz_rnd(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return (uint32_t)(fuzz_state >> 32);
}

/* Appends random text of up to max_len bytes (+ one piece) to b: any
 * bytes, valid characters of every length, whitespace, special-token texts
 * whole and cut, and characters a normaliser rewrites. */
static void fuzz_text(rag_buf *b, size_t max_len)
{
    static const char *const bits[] = {
        "<mask>",       "<s>",          "</s>",          "<unk>",
        "<ma",          "[SEP]",        "<|endoftext|>", "\xE2\x96\x81",
        "\xC2\xBD",     "\xEF\xAC\x81", "\xEF\xBC\xA1",  "e\xCC\x81",
        "\xE2\x96",     "\xC0\xAF",     "\xED\xA0\x80",  "\xF4\x90\x80\x80",
        "\xE3\x80\x80", "\xC2\xA0",     "\xE2\x80\x8D",  "\xF0\x9F\xA6\x99"};
    size_t target = fuzz_rnd() % (max_len + 1);
    while (b->len < target) {
        uint32_t r = fuzz_rnd();
        switch (r % 8) {
        case 0:
            rag_buf_putc(b, (char)(r >> 8));
            break;
        case 1:
            rag_buf_putc(b, " \t\n\r"[(r >> 8) % 4]);
            break;
        case 2: {
            int32_t cp;
            do {
                static const int32_t top[] = {0x80, 0x800, 0x10000, 0x110000};
                cp = (int32_t)((r >> 8) % (uint32_t)top[(r >> 3) % 4]);
                r = fuzz_rnd();
            } while (cp >= 0xD800 && cp < 0xE000);
            char u[4];
            rag_buf_append(b, u, rag_utf8_encode(cp, u));
            break;
        }
        case 3: {
            const char *s = bits[(r >> 8) % (sizeof bits / sizeof bits[0])];
            rag_buf_append(b, s, strlen(s));
            break;
        }
        default:
            rag_buf_putc(b, (char)(' ' + (r >> 8) % 95));
        }
    }
}

/* Random text through every step, for each kind of vocabulary: tokenizing
 * succeeds with valid ids, pieces fit the bound, the streamed text is valid
 * UTF-8. Bounded: 400 short texts and one of 64 KB per vocabulary. */
static void test_random_input(void)
{
    if (!test_data_dir()) return;
    static const char *vocabs[] = {"vocab/ggml-vocab-ugm-xlmr.gguf",
                                   "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                   "vocab/ggml-vocab-bert-bge.gguf"};
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        llm_vocab *v = load_vocab(vocabs[k]);
        if (!v) continue;
        size_t n_tok = 0, bad = 0;
        for (int i = 0; i <= 400 && !bad; i++) {
            rag_buf text = {0};
            fuzz_text(&text, i < 400 ? 200 : 65536);
            llm_tokens t = {0};
            rag_err err = {0};
            uint32_t r = fuzz_rnd();
            if (llm_tokenize(v, text.data ? text.data : "", text.len, r & 1, (r >> 1) & 1, &t,
                             &err)) {
                printf("    %s: %s\n", vocabs[k], err.msg);
                bad++;
            }
            for (size_t j = 0; j < t.n; j++) {
                if (t.v[j] < 0 || t.v[j] >= llm_vocab_size(v)) bad++;
                char piece[8];
                size_t len;
                llm_token_text(v, t.v[j], &len);
                if (llm_token_to_piece(v, t.v[j], 1, piece, sizeof piece) > len) bad++;
            }
            rag_buf out = {0};
            if (!detok_all(v, t.v, t.n, &out)) bad++;
            /* What came out tokenizes again. */
            llm_tokens again = {0};
            if (llm_tokenize(v, out.data ? out.data : "", out.len, 0, 0, &again, &err)) bad++;
            if (bad) print_escaped(text.data ? text.data : "", text.len);
            n_tok += t.n;
            llm_tokens_free(&again);
            rag_buf_free(&out);
            llm_tokens_free(&t);
            rag_buf_free(&text);
        }
        printf("    %-36s 401 random texts -> %zu tokens\n", vocabs[k], n_tok);
        CHECK_INT(bad, 0);
        llm_vocab_free(v);
    }
}

/* ---- pre-tokenizer pieces --------------------------------------------------------- */

/* Splits text with pre-tokenizer `pre` and compares the pieces, given as
 * one string with pieces separated by '|'. */
static void check_split(const char *pre, const char *text, const char *want)
{
    tok_pre *p;
    int ign, bos;
    rag_err err = {0};
    CHECK_INT(tok_pre_new(pre, &p, &ign, &bos, &err), 0);
    if (!p) return;
    tok_spans sp = {0};
    CHECK_INT(tok_pre_split(p, text, strlen(text), &sp, &err), 0);
    rag_buf got = {0};
    for (size_t i = 0; i < sp.n; i++) {
        if (i) rag_buf_putc(&got, '|');
        rag_buf_append(&got, text + sp.v[i].off, sp.v[i].len);
    }
    if (strcmp(rag_buf_str(&got), want)) {
        printf("    pre-tokenizer %s:\n", pre);
        print_escaped(rag_buf_str(&got), got.len);
        print_escaped(want, strlen(want));
        test_case_failed = 1;
    }
    rag_buf_free(&got);
    rag_free(sp.v);
    tok_pre_free(p);
}

static void test_pretokenizer_pieces(void)
{
    const char *text = "Hello world's 12345 !!\n\n  x";
    check_split("gpt-2", text, "Hello| world|'s| 12345| !!|\n\n | x");
    check_split("llama-bpe", text, "Hello| world|'s| |123|45| !!\n\n| | x");
    check_split("qwen2", text, "Hello| world|'s| |1|2|3|4|5| !!\n\n| | x");
    check_split("starcoder", text, "Hello| world|'s| |1|2|3|4|5| !!|\n\n | x");
    check_split("llama-bpe", "I'M HERE'S", "I|'M| HERE|'S");
    check_split("gpt-2", "I'M HERE'S", "I|'|M| HERE|'|S");
    check_split("falcon", "a+b=1234567", "a|+|b|=|123|456|7");
    check_split("deepseek-coder", "ab,c\n12", "ab|,|c|\n|1|2");
    check_split("deepseek-llm", "word  \t", "word|  \t");
    check_split("bloom", "Hello, world. Yes", "Hello|,| world|.| Yes");
    tok_pre *p = NULL;
    int ign = 0, bos = 0;
    rag_err err = {0};
    CHECK_INT(tok_pre_new("llama-bpe", &p, &ign, &bos, &err), 0);
    CHECK(ign == 1 && bos == 1);
    tok_pre_free(p);
}

/* ---- every pre-tokenizer on hostile input -------------------------------------- */

/* UTF-8 of the GPT-2 character for byte b. */
static size_t gpt2_char(unsigned b, char out[2])
{
    unsigned cp = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE))
        cp = 0x100 + (b <= 0x20 ? b : b <= 0xA0 ? 33 + (b - 0x7F) : 67);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* Inputs that have made regex engines and tokenizers go quadratic. */
static char *hostile(int kind, size_t n)
{
    char *s = rag_xmalloc(n + 8);
    static const char *const unit[] = {" ",          "a",
                                       "A",          "aA",
                                       "1234567890", "\n \n \t\r\n",
                                       "!?.,;:-",    "\xE6\x9D\xB1\xE4\xBA\xAC",
                                       "'s'S'll"};
    if (kind == 9) {
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            s[i] = (char)(x >> 16);
        }
        return s;
    }
    if (kind == 10) { /* long whitespace runs between symbols */
        for (size_t i = 0; i < n; i++)
            s[i] = i % 4000 == 3999 ? '#' : ' ';
        return s;
    }
    const char *u = unit[kind];
    size_t ul = strlen(u);
    for (size_t i = 0; i < n; i++)
        s[i] = u[i % ul];
    return s;
}
#define N_HOSTILE 11

static void test_pretokenizers_hostile(void)
{
    static const char *const pres[] = {
        "default",     "gpt-2",  "phi-2",  "mpt",          "gpt-neox",
        "llama-bpe",   "qwen2",  "qwen35", "seed-coder",   "falcon",
        "starcoder",   "refact", "smollm", "deepseek-llm", "deepseek-coder",
        "deepseek-v3", "bloom",  "viking", "gpt-4o",       "tekken"};
    char chars[256][2];
    const char *tok[256];
    char *store = rag_xmalloc(256 * 3);
    for (unsigned b = 0; b < 256; b++) {
        size_t l = gpt2_char(b, chars[b]);
        memcpy(store + 3 * b, chars[b], l);
        store[3 * b + l] = 0;
        tok[b] = store + 3 * b;
    }
    size_t n = 256 * 1024;
    double worst = 0;
    const char *worst_what = "";
    for (size_t p = 0; p < sizeof pres / sizeof pres[0]; p++) {
        gimg g = {0};
        rag_err err = {0};
        llm_vocab *v = NULL;
        kv_str(&g, "tokenizer.ggml.model", "gpt2");
        kv_str(&g, "tokenizer.ggml.pre", pres[p]);
        kv_strs(&g, "tokenizer.ggml.tokens", tok, 256);
        kv_strs(&g, "tokenizer.ggml.merges", NULL, 0);
        CHECK_INT(try_load(&g, &v, &err), 0);
        if (!v) {
            printf("    %s: %s\n", pres[p], err.msg);
            continue;
        }
        for (int k = 0; k < N_HOSTILE; k++) {
            char *text = hostile(k, n);
            llm_tokens t = {0};
            double t0 = rag_now_s();
            int rc = llm_tokenize(v, text, n, 0, 0, &t, &err);
            double dt = rag_now_s() - t0;
            if (dt > worst) worst = dt, worst_what = pres[p];
            if (rc) printf("    %s, input %d: %s\n", pres[p], k, err.msg);
            CHECK_INT(rc, 0);
            /* No merges: one token per byte, in order, whatever the split. */
            int exact = t.n == n;
            for (size_t i = 0; exact && i < n; i++)
                exact = t.v[i] == (int32_t)(uint8_t)text[i];
            if (!exact) printf("    %s, input %d: pieces do not cover the text\n", pres[p], k);
            CHECK(exact);
            llm_tokens_free(&t);
            rag_free(text);
        }
        llm_vocab_free(v);
    }
    printf("    %zu pre-tokenizers x %d hostile inputs of %zu KB; slowest %.3f s (%s)\n",
           sizeof pres / sizeof pres[0], N_HOSTILE, n / 1024, worst, worst_what);
    rag_free(store);

    /* The real vocabularies on the same inputs, 512 KB. */
    if (!test_data_dir()) return;
    static const char *vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                   "vocab/ggml-vocab-deepseek-coder.gguf",
                                   "vocab/ggml-vocab-bert-bge.gguf"};
    n = 512 * 1024;
    worst = 0;
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        llm_vocab *v = load_vocab(vocabs[k]);
        if (!v) continue;
        for (int i = 0; i < N_HOSTILE + 2; i++) {
            char *text;
            if (i < N_HOSTILE) {
                text = hostile(i, n);
            } else {
                /* special-token text everywhere */
                const char *u = i == N_HOSTILE ? "<s></s><|endoftext|>[CLS]" : "\xC3\xB5\xC3\xBC";
                text = rag_xmalloc(n);
                for (size_t j = 0; j < n; j++)
                    text[j] = u[j % strlen(u)];
            }
            llm_tokens t = {0};
            rag_err err = {0};
            double t0 = rag_now_s();
            CHECK_INT(llm_tokenize(v, text, n, 1, i & 1, &t, &err), 0);
            double dt = rag_now_s() - t0;
            if (dt > worst) worst = dt, worst_what = vocabs[k];
            CHECK(t.n > 0);
            llm_tokens_free(&t);
            rag_free(text);
        }
        llm_vocab_free(v);
    }
    printf("    real vocabularies, %d hostile 512 KB inputs each; slowest %.3f s (%s)\n",
           N_HOSTILE + 2, worst, worst_what);
}

/* ---- user-defined tokens ---------------------------------------------------------- */

/* ids of text tokenized without BOS/EOS equal want[0..n). */
static void check_ids(const llm_vocab *v, const char *text, int parse_special, const int32_t *want,
                      size_t n)
{
    llm_tokens t = {0};
    rag_err err = {0};
    CHECK_INT(llm_tokenize(v, text, strlen(text), 0, parse_special, &t, &err), 0);
    if (t.n != n || memcmp(t.v, want, n * sizeof *want)) {
        printf("    '%s' (parse_special %d):\n", text, parse_special);
        print_ids("got", t.v, t.n);
        print_ids("want", want, n);
        test_case_failed = 1;
    }
    llm_tokens_free(&t);
}

/* Tokens of GGUF type 4 (user-defined) are matched in plain text even
 * without parse_special, as llama.cpp's tokenizer_st_partition does, and
 * print as their raw text. The expected ids follow llama.cpp's algorithm
 * (the golden inputs hold no such case): special tokens are cut out first,
 * the text between them is tokenized on its own, and a SentencePiece
 * stretch after a special token gets its space prefix back. */
static void test_user_defined(void)
{
    gimg g = {0};
    rag_err err = {0};
    llm_vocab *v = NULL;

    /* A user-defined token that the metadata names as EOS, and one named
     * as FIM pad: llama.cpp makes them end generation but keeps their type
     * (only tokens found by their spelling become control tokens), so
     * their text is still cut out of plain text. A control token named as
     * EOT is matched only with parse_special. */
    const char *toks[N_SPM + 3];
    int32_t types[N_SPM + 3];
    float scores[N_SPM + 3];
    for (int i = 0; i < N_SPM; i++)
        toks[i] = spm_tokens[i], types[i] = spm_types[i], scores[i] = spm_scores[i];
    toks[N_SPM] = "<|stop|>", types[N_SPM] = 4, scores[N_SPM] = 0;
    toks[N_SPM + 1] = "<|fill|>", types[N_SPM + 1] = 4, scores[N_SPM + 1] = 0;
    toks[N_SPM + 2] = "<|turn|>", types[N_SPM + 2] = 3, scores[N_SPM + 2] = 0;
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, N_SPM + 3);
    kv_f32s(&g, "tokenizer.ggml.scores", scores, N_SPM + 3);
    kv_i32s(&g, "tokenizer.ggml.token_type", types, N_SPM + 3);
    kv_u32(&g, "tokenizer.ggml.eos_token_id", N_SPM);
    kv_u32(&g, "tokenizer.ggml.fim_pad_token_id", N_SPM + 1);
    kv_u32(&g, "tokenizer.ggml.eot_token_id", N_SPM + 2);
    CHECK_INT(try_load(&g, &v, &err), 0);
    if (v) {
        const int32_t stop = N_SPM, fill = N_SPM + 1, turn = N_SPM + 2;
        CHECK(llm_token_is_eog(v, stop));
        CHECK(llm_token_is_eog(v, fill));
        CHECK(llm_token_is_eog(v, turn));
        CHECK(!llm_token_is_control(v, stop));
        CHECK(!llm_token_is_control(v, fill));
        CHECK(llm_token_is_control(v, turn));
        /* ▁ab <|stop|> ▁ab <|fill|> ▁ab */
        int32_t want[] = {7, stop, 7, fill, 7};
        check_ids(v, "ab<|stop|>ab<|fill|>ab", 0, want, 5);
        check_ids(v, "ab<|stop|>ab<|fill|>ab", 1, want, 5);
        /* <|turn|> is control: text without parse_special (the pieces
         * fall back to <unk>, which is what this tiny vocabulary has). */
        llm_tokens t = {0};
        CHECK_INT(llm_tokenize(v, "ab<|turn|>", 10, 0, 0, &t, &err), 0);
        CHECK(!has_id(&t, turn));
        llm_tokens_free(&t);
        int32_t want_turn[] = {7, turn};
        check_ids(v, "ab<|turn|>", 1, want_turn, 2);
        /* A user-defined token prints its text, special or not. */
        char buf[16];
        CHECK_INT(llm_token_to_piece(v, stop, 0, buf, sizeof buf), 8);
        CHECK(!memcmp(buf, "<|stop|>", 8));
        CHECK_INT(llm_token_to_piece(v, turn, 0, buf, sizeof buf), 0);
        llm_vocab_free(v);
    }

    if (!test_data_dir()) return;
    /* DeepSeek-Coder: 254 user-defined tokens, e.g. "õ" (32000), whose
     * text is cut out before the byte-level BPE runs and prints as itself
     * (as a normal token, the GPT-2 mapping would turn it into byte 0xF5). */
    v = load_vocab("vocab/ggml-vocab-deepseek-coder.gguf");
    if (v) {
        int32_t want[] = {64, 32000, 65};
        check_ids(v,
                  "a\xC3\xB5"
                  "b",
                  0, want, 3);
        rag_buf b = {0};
        pieces_all(v, want, 3, &b);
        CHECK_STR(rag_buf_str(&b), "a\xC3\xB5"
                                   "b");
        rag_buf_free(&b);
        /* <｜fim▁hole｜> is user-defined in the file, but llama.cpp finds it
         * by its spelling as the FIM suffix token and makes it control. */
        const char *hole = "x<" FW_BAR_T "fim\xE2\x96\x81hole" FW_BAR_T ">y";
        llm_tokens t = {0};
        CHECK_INT(llm_tokenize(v, hole, strlen(hole), 0, 0, &t, &err), 0);
        CHECK(!has_id(&t, 32015));
        llm_tokens_free(&t);
        int32_t want_hole[] = {87, 32015, 88};
        check_ids(v, hole, 1, want_hole, 3);
        llm_vocab_free(v);
    }
    /* Phi-3 marks "</s>" (2) user-defined, but it is on llama.cpp's list of
     * end-of-generation spellings, which makes it a control token: plain
     * "</s>" is text, and with parse_special it eats the whitespace after
     * it (the phi-3 strip rule). */
    v = load_vocab("vocab/ggml-vocab-phi-3.gguf");
    if (v) {
        CHECK(llm_token_is_eog(v, 2));
        CHECK(llm_token_is_control(v, 2));
        int32_t plain[] = {15043, 829, 29879, 29958, 11526};
        check_ids(v, "Hello</s>world", 0, plain, 5);
        int32_t parsed[] = {15043, 2, 3186};
        check_ids(v, "Hello</s>world", 1, parsed, 3);
        int32_t stripped[] = {15043, 29871, 2, 3186};
        check_ids(v, "Hello </s>  world", 1, stripped, 4);
        llm_vocab_free(v);
    }
}

/* ---- 1 MB timing ------------------------------------------------------------------ */

/* About 1 MB of English: the CISI abstracts, repeated as needed. */
static char *english_mb(size_t *len)
{
    const char *dir = test_data_dir();
    if (!dir) return NULL;
    char *docs = rag_xasprintf("%s/ir/cisi/docs", dir);
    rag_buf b = {0};
    for (int round = 0; round < 8 && b.len < (1u << 20); round++) {
        for (int id = 1; id <= 1460 && b.len < (1u << 20); id++) {
            char *path = rag_xasprintf("%s/%d.txt", docs, id), *text;
            size_t n;
            rag_err err = {0};
            if (!rag_file_read(path, 1 << 20, &text, &n, &err)) {
                rag_buf_append(&b, text, n);
                rag_buf_putc(&b, '\n');
                rag_free(text);
            }
            rag_free(path);
        }
        if (b.len == 0) break;
    }
    rag_free(docs);
    if (b.len == 0) {
        rag_buf_free(&b);
        return NULL;
    }
    *len = b.len < (1u << 20) ? b.len : (1u << 20);
    return rag_buf_steal(&b);
}

static void test_timing_1mb(void)
{
    size_t len;
    char *text = english_mb(&len);
    if (!text) SKIP("no CISI documents in the test data");
    static const char *vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                   "vocab/ggml-vocab-falcon.gguf", "vocab/ggml-vocab-bert-bge.gguf",
                                   "vocab/ggml-vocab-ugm-xlmr.gguf"};
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        llm_vocab *v = load_vocab(vocabs[k]);
        if (!v) continue;
        llm_tokens t = {0};
        rag_err err = {0};
        double t0 = rag_now_s();
        int rc = llm_tokenize(v, text, len, 1, 0, &t, &err);
        double dt = rag_now_s() - t0;
        CHECK_INT(rc, 0);
        printf("    %-36s %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n", vocabs[k], len, t.n, dt,
               len / dt / 1e6);
        llm_tokens_free(&t);
        llm_vocab_free(v);
    }
    rag_free(text);
}

int main(void)
{
    RUN(test_golden);
    RUN(test_greedy_prompts);
    RUN(test_embedding_and_rerank_tokens);
    RUN(test_all_models_load);
    RUN(test_streaming);
    RUN(test_parse_special);
    RUN(test_invalid_utf8);
    RUN(test_corrupt_metadata);
    RUN(test_user_defined);
    RUN(test_ugm_synthetic);
    RUN(test_random_input);
    RUN(test_pretokenizer_pieces);
    RUN(test_pretokenizers_hostile);
    RUN(test_timing_1mb);
    cJSON_Delete(manifest);
    return test_summary();
}
