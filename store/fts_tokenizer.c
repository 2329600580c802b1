/* store/fts_tokenizer.c: the "rag" FTS5 tokenizer, used as "porter rag".
 *
 * One index serves English and the languages FTS5's unicode61 handles badly:
 *   - Words (runs of letters, marks and digits outside the CJK scripts) are
 *     case folded with diacritics removed, so "Résumé" is indexed as
 *     "resume"; the wrapping porter tokenizer then stems English ("resum").
 *   - Han, Hiragana, Katakana and Hangul are written without spaces between
 *     words (Korean attaches particles: 모델은, 모델의). A run of such
 *     characters is indexed as overlapping character bigrams, each position
 *     also carrying the single character as a colocated token:
 *         모델은  ->  pos0: 모델 (+모)   pos1: 델은 (+델)   pos2: 은
 *     A query run is tokenized as its bigrams only (one character: itself),
 *     and the query builder quotes each run as a phrase, so a query matches
 *     exactly the documents containing it as a substring: 모델 finds 모델은
 *     and 모델의; 東京 finds 東京都.
 *   - Thai, Lao, Khmer and Burmese are also written without spaces between
 *     words, but their words are long and bigrams would match across them
 *     badly. A word run holding any character of these scripts is split by
 *     ICU's word break iterator (UBRK_WORD, root locale: dictionary-based
 *     for these scripts) and each word is folded as above:
 *         ภาษาไทยเป็นภาษา  ->  ภาษา ไทย เป็น ภาษา   (then folded)
 *     The query builder quotes a query run as a phrase, which the same
 *     iterator splits the same way, so a word found inside a document's run
 *     matches. The iterator is opened once per tokenizer instance, at the
 *     first such run, and reads the UTF-8 text in place (utext_openUTF8:
 *     its boundaries are byte offsets). Runs of other scripts never reach
 *     ICU: their tokens are as before.
 *   Why not ICU for Han and Kana too: its dictionary segmentation is right
 *   for whole words (機械学習 -> 機械 学習 in a query and in a document) but
 *   a part of a dictionary word is no longer found (共和 in 共和国, 库 in
 *   数据库 is, 据库 is not), and Hangul is not segmented at all (모델은 stays
 *   one word, so 모델 would not find it). Bigrams find every substring.
 * Porter leaves non-ASCII tokens alone, so bigrams pass through unchanged.
 * Highlighting (snippet()) tokenizes with the document rules, so positions
 * agree with the index. */
#include "store/store_int.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#define MAX_TOKEN_BYTES 256 /* longer words are cut: they are not words people search for */

typedef struct rag_tokenizer {
    rag_buf fold;
    UBreakIterator *words; /* opened at the first dictionary-script run */
    UText *ut;
    int icu_failed; /* could not open: such runs stay whole words */
} rag_tokenizer;

typedef int (*token_fn)(void *ctx, int tflags, const char *tok, int n, int start, int end);

static int rt_create(void *pctx, const char **argv, int argc, Fts5Tokenizer **out)
{
    (void)pctx, (void)argv, (void)argc;
    *out = (Fts5Tokenizer *)rag_xcalloc(1, sizeof(rag_tokenizer));
    return SQLITE_OK;
}

static void rt_delete(Fts5Tokenizer *t)
{
    rag_tokenizer *rt = (rag_tokenizer *)t;
    rag_buf_free(&rt->fold);
    if (rt->words) ubrk_close(rt->words);
    if (rt->ut) utext_close(rt->ut);
    rag_free(rt);
}

/* Decodes at p; invalid bytes decode as U+FFFD of length 1 (a separator). */
static size_t next_cp(const uint8_t *p, size_t n, int32_t *cp)
{
    if (*p < 0x80) {
        *cp = *p;
        return 1;
    }
    size_t l = rag_utf8_decode(p, n, cp);
    if (!l) {
        *cp = 0xFFFD;
        l = 1;
    }
    return l;
}

static int emit_word(rag_tokenizer *rt, void *ctx, token_fn tok, const char *text, size_t start,
                     size_t end)
{
    rag_buf_clear(&rt->fold);
    if (rag_utf8_fold(text + start, end - start, &rt->fold) < 0) return SQLITE_OK;
    size_t n = rt->fold.len;
    if (n == 0) return SQLITE_OK;
    if (n > MAX_TOKEN_BYTES) { /* cut at a character boundary */
        n = MAX_TOKEN_BYTES;
        while (n > 0 && ((unsigned char)rt->fold.data[n] & 0xC0) == 0x80)
            n--;
    }
    return tok(ctx, 0, rt->fold.data, (int)n, (int)start, (int)end);
}

/* Scripts whose words ICU finds with a dictionary: Thai, Lao, Myanmar (and
 * its extensions A and B), Khmer (and its symbols). */
static inline int dict_script(int32_t cp)
{
    return (cp >= 0x0E00 && cp <= 0x0EFF) || (cp >= 0x1000 && cp <= 0x109F) ||
           (cp >= 0x1780 && cp <= 0x17FF) || (cp >= 0x19E0 && cp <= 0x19FF) ||
           (cp >= 0xA9E0 && cp <= 0xA9FF) || (cp >= 0xAA60 && cp <= 0xAA7F);
}

/* Emits the words ICU finds in the word run text[start, end) (valid UTF-8,
 * letters, marks and digits only). */
static int emit_icu(rag_tokenizer *rt, void *ctx, token_fn tok, const char *text, size_t start,
                    size_t end)
{
    UErrorCode st = U_ZERO_ERROR;
    if (!rt->words && !rt->icu_failed) {
        rt->words = ubrk_open(UBRK_WORD, "", NULL, 0, &st);
        if (U_FAILURE(st)) {
            rt->words = NULL;
            rt->icu_failed = 1;
        }
    }
    if (!rt->words) return emit_word(rt, ctx, tok, text, start, end);
    st = U_ZERO_ERROR;
    rt->ut = utext_openUTF8(rt->ut, text + start, (int64_t)(end - start), &st);
    if (U_SUCCESS(st)) ubrk_setUText(rt->words, rt->ut, &st);
    if (U_FAILURE(st)) return emit_word(rt, ctx, tok, text, start, end);
    int rc = SQLITE_OK;
    int32_t a = ubrk_first(rt->words), b;
    while (rc == SQLITE_OK && (b = ubrk_next(rt->words)) != UBRK_DONE) {
        rc = emit_word(rt, ctx, tok, text, start + (size_t)a, start + (size_t)b);
        a = b;
    }
    return rc;
}

/* Emits the CJK run starting at *pi (its first character is CJK) and
 * advances *pi past it. Streams over the run: only the current and the next
 * character's offsets are needed. */
static int emit_cjk(rag_tokenizer *rt, void *ctx, token_fn tok, const char *text, size_t n,
                    size_t *pi, int query)
{
    const uint8_t *p = (const uint8_t *)text;
    int32_t cp;
    size_t a = *pi, b = a + next_cp(p + a, n - a, &cp);
    int single = 1, rc = SQLITE_OK;
    while (b < n && rc == SQLITE_OK) {
        size_t l = next_cp(p + b, n - b, &cp);
        if (!rag_cp_is_cjk(cp)) break;
        single = 0;
        rc = emit_word(rt, ctx, tok, text, a, b + l); /* bigram [a, b+l) */
        if (rc == SQLITE_OK && !query) {
            rag_buf_clear(&rt->fold);
            rag_utf8_fold(text + a, b - a, &rt->fold);
            if (rt->fold.len)
                rc = tok(ctx, FTS5_TOKEN_COLOCATED, rt->fold.data, (int)rt->fold.len, (int)a,
                         (int)b);
        }
        a = b;
        b += l;
    }
    /* The last character stands alone in documents (so one-character queries
     * find it); in a query it is already covered by the last bigram. */
    if (rc == SQLITE_OK && (single || !query)) rc = emit_word(rt, ctx, tok, text, a, b);
    *pi = b;
    return rc;
}

static inline int ascii_word(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int rt_tokenize(Fts5Tokenizer *t, void *ctx, int flags, const char *text, int ntext,
                       token_fn tok)
{
    rag_tokenizer *rt = (rag_tokenizer *)t;
    const uint8_t *p = (const uint8_t *)text;
    size_t n = ntext > 0 ? (size_t)ntext : 0, i = 0;
    int query = (flags & FTS5_TOKENIZE_QUERY) != 0;
    int rc = SQLITE_OK;
    while (i < n && rc == SQLITE_OK) {
        if (p[i] < 0x80) { /* ASCII fast path: most text of most documents */
            if (!ascii_word(p[i])) {
                i++;
                continue;
            }
            size_t start = i;
            while (i < n && ascii_word(p[i]))
                i++;
            if (i == n || p[i] < 0x80) {
                rc = emit_word(rt, ctx, tok, text, start, i);
                continue;
            }
            i = start; /* the word goes on with non-ASCII letters: general path */
        }
        int32_t cp;
        size_t l = next_cp(p + i, n - i, &cp);
        if (rag_cp_is_cjk(cp)) {
            rc = emit_cjk(rt, ctx, tok, text, n, &i, query);
        } else if (rag_cp_is_word(cp)) {
            size_t start = i;
            int dict = 0;
            while (i < n) {
                if (ascii_word(p[i])) {
                    i++;
                    continue;
                }
                l = next_cp(p + i, n - i, &cp);
                if (!rag_cp_is_word(cp) || rag_cp_is_cjk(cp)) break;
                dict |= dict_script(cp);
                i += l;
            }
            rc = dict ? emit_icu(rt, ctx, tok, text, start, i)
                      : emit_word(rt, ctx, tok, text, start, i);
        } else {
            i += l;
        }
    }
    return rc;
}

static fts5_api *fts5_api_of(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return api;
}

int store_fts_register(sqlite3 *db)
{
    fts5_api *api = fts5_api_of(db);
    if (!api) return SQLITE_ERROR;
    static fts5_tokenizer rag_tok = {rt_create, rt_delete, rt_tokenize};
    int rc = api->xCreateTokenizer(api, "rag", NULL, &rag_tok, NULL);
    return rc == SQLITE_OK ? store_fts_register_functions(api) : rc;
}

typedef struct term_ctx {
    store_term_cb cb;
    void *ctx;
    int stop;
} term_ctx;

static int term_adapter(void *pctx, int tflags, const char *tok, int n, int start, int end)
{
    term_ctx *tc = pctx;
    if (tflags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;
    if (tc->cb(tc->ctx, tok, (size_t)n, (size_t)start, (size_t)end)) {
        tc->stop = 1;
        return SQLITE_DONE; /* stops the tokenizer */
    }
    return SQLITE_OK;
}

int store_fts_tokenize(sqlite3 *db, const char *text, size_t len, int query, store_term_cb cb,
                       void *ctx)
{
    fts5_api *api = fts5_api_of(db);
    if (!api) return SQLITE_ERROR;
    void *uctx = NULL;
    fts5_tokenizer porter;
    int rc = api->xFindTokenizer(api, "porter", &uctx, &porter);
    if (rc != SQLITE_OK) return rc;
    const char *args[] = {"rag"};
    Fts5Tokenizer *inst = NULL;
    rc = porter.xCreate(uctx, args, 1, &inst);
    if (rc != SQLITE_OK) return rc;
    term_ctx tc = {cb, ctx, 0};
    rc = porter.xTokenize(inst, &tc, query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT, text,
                          (int)len, term_adapter);
    porter.xDelete(inst);
    return tc.stop ? SQLITE_OK : rc;
}
