/* fuzz/fuzz_markdown.c: libFuzzer target for the Markdown extractor
 * (ingest/markdown.c over libcmark-gfm, front matter, HTML blocks).
 *
 * Any input must be extracted or refused with RAG_ERR_FORMAT (not text) or
 * RAG_ERR_LIMIT; what is extracted must hold the ing_text invariants: blocks
 * inside the text, in order, non-empty, separated by "\n\n", heading levels
 * 1..6, valid UTF-8, a title of at most 512 bytes on one line, and metadata
 * members that make a JSON object. The result is chunked too. Seeds: the
 * demo corpus and README.md (copied by `make fuzz`). Built and run by `make
 * fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include "base/utf8.h"
#include "ingest/ing_int.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rag_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!l) abort();
        i += l;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ing_limits lim;
    ing_limits_default(&lim);
    lim.max_text = (size_t)1 << 20;
    lim.max_line = (size_t)256 << 10;
    ing_text t = {0};
    rag_err err = {0};
    int rc = ing_extract(ING_TYPE_MARKDOWN, "fuzz.md", data, size, &lim, &t, &err);
    if (rc) {
        if (rc != RAG_ERR_FORMAT && rc != RAG_ERR_LIMIT) abort();
        if (!strstr(err.msg, "fuzz.md")) abort(); /* messages name the file */
        ing_text_free(&t);
        return 0;
    }
    size_t prev_end = 0;
    for (size_t i = 0; i < t.n_blocks; i++) {
        const ing_block *b = &t.blocks[i];
        if (b->len == 0 || b->start + b->len > t.text.len) abort();
        if (i && (b->start != prev_end + 2 || memcmp(t.text.data + prev_end, "\n\n", 2))) abort();
        if (b->kind == ING_HEADING && (b->level < 1 || b->level > 6)) abort();
        if (b->kind == ING_HEADING && memchr(t.text.data + b->start, '\n', b->len)) abort();
        prev_end = b->start + b->len;
    }
    if (t.n_blocks && prev_end != t.text.len) abort();
    check_utf8(t.text.data, t.text.len);
    if (t.title) {
        size_t tl = strlen(t.title);
        if (tl > 512 || strchr(t.title, '\n')) abort();
        check_utf8(t.title, tl);
    }
    if (t.meta.len) {
        char *obj = malloc(t.meta.len + 3);
        obj[0] = '{';
        memcpy(obj + 1, t.meta.data, t.meta.len);
        memcpy(obj + 1 + t.meta.len, "}", 2);
        cJSON *j = cJSON_Parse(obj);
        if (!j || !cJSON_IsObject(j) || cJSON_GetArraySize(j) > 32) abort();
        cJSON_Delete(j);
        free(obj);
    }
    ing_chunks c = {0};
    ing_chunk_text(&t, NULL, &c);
    for (size_t i = 0; i < c.n; i++)
        if (c.v[i].byte_end > t.text.len || c.v[i].byte_start > c.v[i].byte_end) abort();
    ing_chunks_free(&c);
    ing_text_free(&t);
    return 0;
}
