/* GGUF: the reader on the shared test models, a write/read round trip, and
 * corrupt files, each refused with a message that names what is wrong and
 * where. Every prefix of a valid file is refused without a crash. */
#include "base/file.h"
#include "base/mem.h"
#include "llm/llm.h"
#include "test.h"

#include <unistd.h>

static const float weights[2 * 32] = {1, 2, 3};

/* A small valid model image in *data (free with rag_free). */
static size_t make_image(uint8_t **data)
{
    llm_gguf_writer *w = llm_gguf_writer_new();
    llm_gguf_set_str(w, "general.architecture", "llama");
    llm_gguf_set_u32(w, "llama.block_count", 2);
    llm_gguf_set_f32(w, "llama.rope.freq_base", 10000.0f);
    llm_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
    const char *toks[] = {"<unk>", "a", "b"};
    llm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3);
    int32_t types[] = {2, 1, 1};
    llm_gguf_set_arr(w, "tokenizer.ggml.token_type", LLM_GGUF_I32, types, 3);
    int64_t ne[2] = {32, 2};
    llm_gguf_add_tensor(w, "tok.weight", LLM_F32, 2, ne, weights);
    char path[512];
    snprintf(path, sizeof path, "%s/small.gguf", test_tmpdir());
    rag_err err = {0};
    CHECK_INT(llm_gguf_write(w, path, &err), 0);
    llm_gguf_writer_free(w);
    size_t n = 0;
    CHECK_INT(rag_file_read(path, 0, (char **)data, &n, &err), 0);
    return n;
}

static int open_mem(const uint8_t *d, size_t n, rag_err *err)
{
    llm_gguf *g = NULL;
    int rc = llm_gguf_open_memory(d, n, "bad.gguf", &g, err);
    llm_gguf_close(g);
    return rc;
}

static size_t find(const uint8_t *d, size_t n, const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; i + l <= n; i++)
        if (!memcmp(d + i, s, l)) return i;
    return SIZE_MAX;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_round_trip(void)
{
    uint8_t *d;
    size_t n = make_image(&d);
    llm_gguf *g;
    rag_err err = {0};
    CHECK_INT(llm_gguf_open_memory(d, n, "small.gguf", &g, &err), 0);
    if (!g) return;
    const char *s;
    size_t len;
    CHECK_INT(llm_gguf_get_str(g, "general.architecture", &s, &len, &err), 0);
    CHECK(len == 5 && !memcmp(s, "llama", 5));
    uint32_t u = 0;
    CHECK_INT(llm_gguf_get_u32(g, "llama.block_count", &u, &err), 0);
    CHECK_INT(u, 2);
    float f = 0;
    CHECK_INT(llm_gguf_get_f32(g, "llama.rope.freq_base", &f, &err), 0);
    CHECK(f == 10000.0f);
    CHECK_INT(llm_gguf_get_u32(g, "llama.rope.freq_base", &u, &err), RAG_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "llama.rope.freq_base");
    CHECK_INT(llm_gguf_get_u32(g, "missing.key", &u, &err), RAG_ERR_NOTFOUND);
    llm_gguf_type et;
    uint64_t cnt;
    CHECK_INT(llm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &cnt, &err), 0);
    CHECK(et == LLM_GGUF_STRING && cnt == 3);
    int64_t ki = llm_gguf_find(g, "tokenizer.ggml.tokens");
    llm_gguf_arr_str(g, ki, 2, &s, &len);
    CHECK(len == 1 && s[0] == 'b');
    ki = llm_gguf_find(g, "tokenizer.ggml.token_type");
    CHECK_INT(llm_gguf_arr_int(g, ki, 0), 2);
    const llm_tensor_info *t = llm_gguf_find_tensor(g, "tok.weight");
    CHECK(t != NULL);
    if (t) {
        CHECK_INT(t->ne[0], 32);
        CHECK_INT(t->ne[1], 2);
        CHECK_INT(t->nbytes, sizeof weights);
        CHECK(!memcmp(t->data, weights, sizeof weights));
        CHECK_INT((uintptr_t)((const uint8_t *)t->data - d) % 32, 0);
    }
    CHECK(llm_gguf_find_tensor(g, "nope") == NULL);
    llm_gguf_close(g);
    rag_free(d);
}

static void test_every_prefix_refused(void)
{
    uint8_t *d;
    size_t n = make_image(&d);
    int all_refused = 1;
    for (size_t len = 0; len < n; len++) { /* the tensor data ends the file: any cut loses some */
        uint8_t *copy = rag_xmalloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(copy, d, len);
        rag_err err = {0};
        int rc = open_mem(copy, len, &err);
        if (rc != RAG_ERR_FORMAT) {
            if (all_refused) printf("    prefix of %zu bytes: rc %d\n", len, rc);
            all_refused = 0;
        }
        rag_free(copy);
    }
    CHECK(all_refused);
    rag_free(d);
}

/* Mutates a fresh image with fn, opens it, returns the message. */
static int corrupt(void (*fn)(uint8_t *d, size_t n), char *msg, size_t cap)
{
    uint8_t *d;
    size_t n = make_image(&d);
    fn(d, n);
    rag_err err = {0};
    int rc = open_mem(d, n, &err);
    snprintf(msg, cap, "%s", err.msg);
    rag_free(d);
    return rc;
}

static void bad_magic(uint8_t *d, size_t n)
{
    (void)n;
    d[0] = 'X';
}
static void version1(uint8_t *d, size_t n)
{
    (void)n;
    d[4] = 1;
}
static void big_endian(uint8_t *d, size_t n)
{
    (void)n;
    d[4] = 0;
    d[7] = 3;
}
static void absurd_kv(uint8_t *d, size_t n)
{
    (void)n;
    put64(d + 16, 1ull << 40);
}
static void absurd_tensors(uint8_t *d, size_t n)
{
    (void)n;
    put64(d + 8, 1ull << 40);
}
static void absurd_string(uint8_t *d, size_t n)
{
    size_t at = find(d, n, "llama.block_count");
    put64(d + at - 8, 1ull << 50); /* the key's length field */
}
static size_t tensor_fields(uint8_t *d, size_t n) /* position after the name */
{
    return find(d, n, "tok.weight") + strlen("tok.weight");
}
static void unknown_type(uint8_t *d, size_t n)
{
    d[tensor_fields(d, n) + 4 + 16] = 99;
}
static void overflow_dims(uint8_t *d, size_t n)
{
    size_t p = tensor_fields(d, n) + 4;
    put64(d + p, 1ull << 62);
    put64(d + p + 8, 1ull << 62);
}
static void past_end(uint8_t *d, size_t n)
{
    put64(d + tensor_fields(d, n) + 4 + 16 + 4, 1u << 20);
}
static void misaligned(uint8_t *d, size_t n)
{
    put64(d + tensor_fields(d, n) + 4 + 16 + 4, 3);
}
static void bad_row(uint8_t *d, size_t n)
{
    size_t p = tensor_fields(d, n);
    d[p + 4 + 16] = LLM_Q4_K; /* rows of 32 are not a multiple of 256 */
}
static void bad_value_type(uint8_t *d, size_t n)
{
    size_t at = find(d, n, "llama.block_count") + strlen("llama.block_count");
    d[at] = 77;
}

static void test_corrupt_files(void)
{
    char m[300];
    CHECK_INT(corrupt(bad_magic, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "bad magic");
    CHECK_CONTAINS(m, "bad.gguf: offset 0");
    CHECK_INT(corrupt(version1, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "version 1");
    CHECK_INT(corrupt(big_endian, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "big-endian");
    CHECK_INT(corrupt(absurd_kv, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "metadata count");
    CHECK_INT(corrupt(absurd_tensors, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "tensor count");
    CHECK_INT(corrupt(absurd_string, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "length");
    CHECK_INT(corrupt(unknown_type, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "tensor 'tok.weight': unknown type 99");
    CHECK_INT(corrupt(overflow_dims, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "tensor 'tok.weight'");
    CHECK_CONTAINS(m, "overflows");
    CHECK_INT(corrupt(past_end, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "tensor 'tok.weight': data at");
    CHECK_CONTAINS(m, "past the end of the file");
    CHECK_INT(corrupt(misaligned, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "not aligned");
    CHECK_INT(corrupt(bad_row, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "not a multiple of the q4_K block");
    CHECK_INT(corrupt(bad_value_type, m, sizeof m), RAG_ERR_FORMAT);
    CHECK_CONTAINS(m, "key 'llama.block_count': unknown value type");
}

static void test_shared_models_open(void)
{
    const char *dir = test_data_dir();
    if (!dir) return;
    const char *names[] = {"models/tiny-llama-f32.gguf", "models/tiny-llama-q4_k_m.gguf",
                           "models/tiny-qwen2-q8_0.gguf", "models/bert-mean-f32.gguf",
                           "vocab/ggml-vocab-phi-3.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        llm_gguf *g;
        rag_err err = {0};
        int rc = llm_gguf_open(path, &g, &err);
        if (rc) printf("    %s\n", err.msg);
        CHECK_INT(rc, 0);
        if (!rc) {
            CHECK(llm_gguf_version(g) == 3);
            CHECK(llm_gguf_find(g, "general.architecture") >= 0 || strstr(names[i], "vocab/"));
            llm_gguf_close(g);
        }
    }
}

static void test_copy_kv(void)
{
    uint8_t *d;
    size_t n = make_image(&d);
    llm_gguf *g;
    rag_err err = {0};
    CHECK_INT(llm_gguf_open_memory(d, n, "small.gguf", &g, &err), 0);
    llm_gguf_writer *w = llm_gguf_writer_new();
    for (size_t i = 0; i < llm_gguf_n_kv(g); i++)
        llm_gguf_copy_kv(w, g, i);
    char path[512];
    snprintf(path, sizeof path, "%s/copy.gguf", test_tmpdir());
    CHECK_INT(llm_gguf_write(w, path, &err), 0);
    llm_gguf_writer_free(w);
    llm_gguf *c;
    CHECK_INT(llm_gguf_open(path, &c, &err), 0);
    if (c) {
        CHECK_INT(llm_gguf_n_kv(c), llm_gguf_n_kv(g));
        int64_t ki = llm_gguf_find(c, "tokenizer.ggml.tokens");
        const char *s;
        size_t len;
        llm_gguf_arr_str(c, ki, 1, &s, &len);
        CHECK(len == 1 && s[0] == 'a');
        llm_gguf_close(c);
    }
    llm_gguf_close(g);
    rag_free(d);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_every_prefix_refused);
    RUN(test_corrupt_files);
    RUN(test_shared_models_open);
    RUN(test_copy_kv);
    return test_summary();
}
