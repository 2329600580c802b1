/* fuzz/fuzz_fts_tokenizer.c: libFuzzer target for the keyword tokenizer
 * ("porter rag", store/fts_tokenizer.c: ASCII fast path, folding, CJK
 * bigrams, ICU words for Thai, Lao, Khmer and Burmese) and the sentence
 * splitter (base/sentence.c, with ICU for other scripts' marks).
 *
 * The input is text (any bytes). It is tokenized as a document and as a
 * query; every token must be non-empty and lie inside the text (start <
 * end <= length). rag_sentence_end and rag_sentence_len must stay inside
 * the text and always advance. Every 64th input is also indexed in an FTS5
 * table and searched for its first run as a phrase, as a search would.
 * Built and run by `make fuzz` (clang, -fsanitize=fuzzer,address,
 * undefined). */
#include "base/sentence.h"
#include "store/store_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;

typedef struct {
    size_t len, n;
} tok_ctx;

static int on_term(void *ctx, const char *term, size_t term_len, size_t start, size_t end)
{
    tok_ctx *t = ctx;
    if (!term || term_len == 0 || start >= end || end > t->len) abort();
    t->n++;
    return 0;
}

static void open_db(void)
{
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || store_fts_register(db) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter rag')", NULL, NULL,
                     NULL) != SQLITE_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db) open_db();
    const char *s = (const char *)data;
    for (int q = 0; q < 2; q++) {
        tok_ctx t = {size, 0};
        if (store_fts_tokenize(db, s, size, q, on_term, &t) != SQLITE_OK) abort();
    }
    for (size_t i = 0; i < size;) {
        size_t e = rag_sentence_end(s, i, size);
        size_t l = rag_sentence_len(s + i, size - i);
        if (e < i || e > size || l == 0 || l > size - i) abort();
        i += l;
    }
    static unsigned calls;
    if (calls++ % 64) return 0;
    /* index it and search for it: FTS5 tokenizes both with the tokenizer */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(x) VALUES (?1)", -1, &st, NULL) != SQLITE_OK) abort();
    sqlite3_bind_text(st, 1, s, (int)size, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_finalize(st);
    char q[256];
    size_t n = 0;
    for (size_t i = 0; i < size && n < sizeof q - 3; i++)
        if (data[i] != '"' && data[i] != 0) q[n++] = (char)data[i];
    char m[300];
    snprintf(m, sizeof m, "\"%.*s\"", (int)n, q);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?1", -1, &st, NULL) !=
        SQLITE_OK)
        abort();
    sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
    }
    sqlite3_finalize(st);
    if (calls % 4096 == 1) sqlite3_exec(db, "DELETE FROM t", NULL, NULL, NULL);
    return 0;
}
