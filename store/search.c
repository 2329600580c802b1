/* store/search.c: keyword search (BM25 over FTS5) with visibility inside the
 * query, and access to the index's terms.
 *
 * User text never reaches FTS5's query parser as syntax: it is cut into runs
 * of word characters (and runs of CJK characters), each run is quoted as an
 * FTS5 string, and the strings are OR-ed. Quotes, NEAR, AND/OR/NOT, '*', '-',
 * ':' and parentheses in user text are therefore plain words or separators. */
#include "store/store_int.h"
#include "base/mem.h"
#include "base/time.h"
#include "base/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERY_TERMS 64
#define MAX_QUERY_BYTES 4096
#define BM25_WEIGHTS "1.0, 0.5" /* text, heading_path */

void store_search_default_params(store_search_params *p)
{
    memset(p, 0, sizeof *p);
    p->k = 10;
    p->want_snippet = 1;
    p->hl_open = "[";
    p->hl_close = "]";
}

void store_hits_free(store_hits *h)
{
    for (size_t i = 0; i < h->n; i++) {
        store_hit *x = &h->v[i];
        rag_free(x->uri);
        rag_free(x->ext_id);
        rag_free(x->title);
        rag_free(x->heading_path);
        rag_free(x->snippet);
        rag_free(x->text);
    }
    rag_free(h->v);
    memset(h, 0, sizeof *h);
}

void store_hit_from_row(sqlite3_stmt *st, int want_text, store_hit *h)
{
    memset(h, 0, sizeof *h);
    h->chunk_id = sqlite3_column_int64(st, 0);
    h->document_id = sqlite3_column_int64(st, 1);
    h->ordinal = sqlite3_column_int(st, 2);
    h->heading_path = store_col_str(st, 3);
    h->byte_start = sqlite3_column_int64(st, 4);
    h->byte_end = sqlite3_column_int64(st, 5);
    h->uri = store_col_str(st, 6);
    h->ext_id = sqlite3_column_type(st, 7) == SQLITE_NULL ? NULL : store_col_str(st, 7);
    h->title = store_col_str(st, 8);
    if (want_text) h->text = store_col_str(st, 9);
}

/* Builds the FTS5 query: "run1" OR "run2" ... Returns the number of runs;
 * runs (when not NULL) receives each run quoted. Repeated words are kept:
 * each occurrence is a phrase of its own, so BM25 weighs a word the
 * question repeats more (query term frequency). */
static size_t build_match(const char *q, rag_buf *out, rag_strv *runs)
{
    const uint8_t *p = (const uint8_t *)q;
    size_t n = strnlen(q, MAX_QUERY_BYTES), i = 0, terms = 0;
    while (i < n && terms < MAX_QUERY_TERMS) {
        int32_t cp;
        size_t l = rag_utf8_decode(p + i, n - i, &cp);
        if (!l) {
            i++;
            continue;
        }
        int cjk = rag_cp_is_cjk(cp);
        if (!cjk && !rag_cp_is_word(cp)) {
            i += l;
            continue;
        }
        size_t start = i;
        while (i < n) {
            l = rag_utf8_decode(p + i, n - i, &cp);
            if (!l || (cjk ? !rag_cp_is_cjk(cp) : (!rag_cp_is_word(cp) || rag_cp_is_cjk(cp))))
                break;
            i += l;
        }
        /* runs hold only word characters: no quote to escape */
        rag_buf_printf(out, "%s\"%.*s\"", terms ? " OR " : "", (int)(i - start), q + start);
        if (runs) {
            char *r = rag_xasprintf("\"%.*s\"", (int)(i - start), q + start);
            rag_strv_push(runs, r);
            rag_free(r);
        }
        terms++;
    }
    return terms;
}

/* The snippet of hit h, found again by its id in its group's index. */
static int fill_snippet(store *s, const char *match, const store_search_params *p, store_hit *h,
                        rag_err *err)
{
    char sql[256];
    long long G = (long long)h->acl_group;
    snprintf(sql, sizeof sql,
             "SELECT snippet(chunks_fts_%lld, 0, ?2, ?3, '…', 40) FROM chunks_fts_%lld "
             "WHERE chunks_fts_%lld MATCH ?1 AND rowid = ?4",
             G, G, G);
    sqlite3_stmt *st;
    int rc = store_cached(s, sql, &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->hl_open ? p->hl_open : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->hl_close ? p->hl_close : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, h->chunk_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rag_free(h->snippet);
        h->snippet = store_col_str(st, 0);
    } else if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "snippet", err);
    }
    store_cached_done(st);
    return rc;
}

int store_search_snippets(store *s, const char *query, const store_search_params *p,
                          store_hit *const *hits, size_t n, rag_err *err)
{
    int rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (rc) return rc;
    rag_buf match = {0};
    if (n > 0 && build_match(query, &match, NULL)) {
        int began = store_read_begin(s, err);
        if (began < 0) rc = began;
        for (size_t i = 0; !rc && i < n; i++)
            if (hits[i]->acl_group > 0) rc = fill_snippet(s, match.data, p, hits[i], err);
        store_read_end(s, began);
    }
    rag_buf_free(&match);
    return rc;
}

/* ---- ranking -----------------------------------------------------------------
 *
 * Design note. FTS5 scores every row its expression matches; what a search
 * adds must not multiply that. Each visible group's index runs
 *   SELECT rowid, rag_bm25(...) AS r ... MATCH e ORDER BY r, rowid LIMIT n
 * (SQLite keeps only the best n while scoring: no join, no grouping, no
 * materialized result per matching row), the groups' lists are merged by
 * (r, rowid), and only then are chunks looked up: their document (best
 * chunk per document) while walking the merged list, and the hit fields of
 * the k kept. When a group filled its n, rows past its last one are
 * unknown: the walk stops there and, short of k, runs again with a larger
 * n (then without a limit). The order is the one the former single SQL
 * statement gave: score, then chunk id.
 *
 * Common words (bounded work). A word in most rows adds little to a score
 * (BM25's IDF) but costs one scored row per row holding it. A word's
 * contribution is below idf * (k1 + 1) whatever the row (the term
 * tf*(k1+1)/(tf+K) < k1+1, column weights at most 1). When the query also
 * holds rarer words, the most common words C are scored only in the rows
 * that hold a rarer word R, with the expression
 *   (R) AND (R OR C)
 * (FTS5 walks R's postings and seeks C's; the second copy of R only keeps
 * the rows holding no C, and scores nothing). The k-th best score s_k
 * found there is exact for those rows; a row holding only words of C
 * scores below UB(C) = sum of idf * (k1 + 1) over C; so when s_k >= UB(C)
 * no such row can enter the top k and the result is exactly the exhaustive
 * one (same rows, same scores bit for bit: rag_bm25 sums the terms in the
 * query's order whatever the expression). Otherwise the search tries again
 * with only the most common word in C, then scores everything.
 * tests/unit/test_store.c (test_bounded_equals_exhaustive) compares both
 * on generated text. */
#define BM25_K1 1.2

typedef struct kw_row {
    int64_t cid, gid;
    double r; /* -score */
} kw_row;

static int cmp_row(const void *a, const void *b)
{
    const kw_row *x = a, *y = b;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    return x->cid < y->cid ? -1 : x->cid > y->cid;
}

typedef struct kw_ctx {
    store *s;
    const int64_t *groups;
    size_t n_groups;
    const store_search_params *p;
} kw_ctx;

/* chunk id -> document id; asked of the cache at each use, never held
 * across other store_cached calls (with many groups, their statements
 * could push a held one out of the cache and finalize it) */
#define DOC_OF_SQL "SELECT document_id FROM chunks WHERE id = ?1"

/* One ranking pass of expr (scored with blob) with at most `limit` rows per
 * group (-1: all). Keeps up to k rows in kept (best chunk per document when
 * asked). *complete: 1 when kept holds the true top k of the expression
 * (or every row there is), 0 when a larger limit is needed. */
static int rank_pass(kw_ctx *c, const char *expr, const rag_buf *blob, int64_t limit, kw_row *kept,
                     size_t *n_kept, int *complete, rag_err *err)
{
    kw_row *rows = NULL, cut = {0};
    size_t n = 0, cap = 0;
    int have_cut = 0, rc = 0;
    *n_kept = 0;
    *complete = 1;
    for (size_t g = 0; !rc && g < c->n_groups; g++) {
        char sql[512];
        long long G = (long long)c->groups[g];
        snprintf(sql, sizeof sql,
                 "SELECT rowid, rag_bm25(chunks_fts_%lld, ?2, " BM25_WEIGHTS
                 ") AS r FROM chunks_fts_%lld WHERE chunks_fts_%lld MATCH ?1 "
                 "ORDER BY r, rowid LIMIT ?3",
                 G, G, G);
        sqlite3_stmt *st;
        rc = store_cached(c->s, sql, &st, err);
        if (rc) break;
        sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, blob->data, (int)blob->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, limit);
        int step;
        int64_t got = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            rows = rag_xgrow(rows, &cap, n + 1, sizeof *rows);
            rows[n].cid = sqlite3_column_int64(st, 0);
            rows[n].gid = c->groups[g];
            rows[n].r = sqlite3_column_double(st, 1);
            n++, got++;
        }
        if (step != SQLITE_DONE) rc = store_sqlite_err(c->s, step, "keyword search", err);
        store_cached_done(st);
        /* this group may hold more rows, all after its last one */
        if (!rc && limit >= 0 && got == limit && (!have_cut || cmp_row(&rows[n - 1], &cut) < 0))
            cut = rows[n - 1], have_cut = 1;
    }
    if (rc) goto done;
    if (n > 1) qsort(rows, n, sizeof *rows, cmp_row);
    int64_t *docs = rag_xcalloc(c->p->k, sizeof *docs);
    size_t i = 0;
    for (; !rc && i < n && *n_kept < c->p->k; i++) {
        if (have_cut && cmp_row(&rows[i], &cut) > 0) break;
        if (c->p->per_document) {
            sqlite3_stmt *dq;
            if ((rc = store_cached(c->s, DOC_OF_SQL, &dq, err))) break;
            sqlite3_bind_int64(dq, 1, rows[i].cid);
            int step = sqlite3_step(dq);
            int64_t d = step == SQLITE_ROW ? sqlite3_column_int64(dq, 0) : 0, seen = 0;
            store_cached_done(dq);
            if (step != SQLITE_ROW) {
                if (step != SQLITE_DONE) rc = store_sqlite_err(c->s, step, "keyword search", err);
                continue; /* a chunk deleted meanwhile */
            }
            for (size_t j = 0; j < *n_kept && !seen; j++)
                seen = docs[j] == d;
            if (seen) continue;
            docs[*n_kept] = d;
        }
        kept[(*n_kept)++] = rows[i];
    }
    /* short of k only because a group was cut: more rows are needed */
    if (*n_kept < c->p->k && have_cut) *complete = 0;
    rag_free(docs);
done:
    rag_free(rows);
    return rc;
}

/* Ranks expr until complete: per group first a few more rows than k, then
 * many, then all. */
static int rank(kw_ctx *c, const char *expr, const rag_buf *blob, kw_row *kept, size_t *n_kept,
                store_kw_profile *prof, rag_err *err)
{
    int64_t k = (int64_t)c->p->k;
    int64_t limits[3] = {c->p->per_document ? 4 * k : k, 64 * k, -1};
    int rc = 0, complete = 0;
    for (int i = 0; !rc && !complete && i < 3; i++) {
        rc = rank_pass(c, expr, blob, limits[i], kept, n_kept, &complete, err);
        prof->passes++;
    }
    return rc;
}

typedef struct phrase_df {
    int64_t df;
    int word;
} phrase_df;

static int cmp_df_desc(const void *a, const void *b)
{
    const phrase_df *x = a, *y = b;
    if (x->df != y->df) return x->df > y->df ? -1 : 1;
    return x->word - y->word;
}

/* The bounded pass with the n_common most common phrases (order[0..)) as C:
 * 1 and kept when its top k is provably the exhaustive one. */
static int try_bounded(kw_ctx *c, const store_bm25_stats *st, const rag_strv *runs,
                       const phrase_df *order, size_t n_common, kw_row *kept, size_t *n_kept,
                       int *ok, store_kw_profile *prof, rag_err *err)
{
    size_t n = st->n_phrase;
    rag_buf expr = {0}, blob = {0};
    int *words = rag_xcalloc(2 * n, sizeof *words);
    size_t w = 0;
    double ub = 0.0;
    *ok = 0;
    /* (R) AND (R OR C): R by query order, scored once */
    rag_buf_puts(&expr, "(");
    for (size_t i = n_common, j = 0; i < n; i++, j++) {
        rag_buf_printf(&expr, "%s%s", j ? " OR " : "", runs->v[order[i].word]);
        words[w++] = order[i].word;
    }
    rag_buf_puts(&expr, ") AND (");
    for (size_t i = n_common, j = 0; i < n; i++, j++) {
        rag_buf_printf(&expr, "%s%s", j ? " OR " : "", runs->v[order[i].word]);
        words[w++] = -1;
    }
    for (size_t i = 0; i < n_common; i++) {
        rag_buf_printf(&expr, " OR %s", runs->v[order[i].word]);
        words[w++] = order[i].word;
        ub += st->idf[order[i].word] * (BM25_K1 + 1.0);
    }
    rag_buf_puts(&expr, ")");
    store_fts_bm25_blob(st, words, w, &blob);
    int rc = rank(c, expr.data, &blob, kept, n_kept, prof, err);
    /* a row holding only C scores below ub: it cannot beat the k-th */
    if (!rc && *n_kept == c->p->k && -kept[*n_kept - 1].r >= ub) *ok = 1;
    rag_buf_free(&expr);
    rag_buf_free(&blob);
    rag_free(words);
    return rc;
}

/* Bounded work applies when the most common phrases hold far more rows
 * than the others together: C grows from the most common phrase while each
 * holds at least four times the rows of the rarer ones (and enough rows for
 * the saving to matter); a word the query repeats goes into C with its copies.
 * Returns |C| (0: score everything). */
static size_t common_count(const phrase_df *order, size_t n, const rag_strv *runs,
                           const double *idf)
{
    size_t c = 0;
    for (; c + 1 < n; c++) {
        int copy = 0;
        for (size_t j = 0; j < c && !copy; j++)
            copy = !strcmp(runs->v[order[j].word], runs->v[order[c].word]);
        if (copy) continue;
        int64_t rest = 0;
        for (size_t j = c + 1; j < n; j++)
            if (strcmp(runs->v[order[j].word], runs->v[order[c].word])) rest += order[j].df;
        if (order[c].df < 1000 || order[c].df < 4 * rest) break;
        /* and while C's bound stays below what one rare word scores in a
         * row of average length (about its idf): else the k-th best rarely
         * beats the bound and the pass is lost */
        double ub = 0, best = 0;
        for (size_t j = 0; j <= c; j++)
            ub += idf[order[j].word] * (BM25_K1 + 1.0);
        for (size_t j = c + 1; j < n; j++)
            if (idf[order[j].word] > best) best = idf[order[j].word];
        if (ub > best) break;
    }
    /* R must hold a word of its own */
    for (size_t j = c; j < n; j++) {
        int in_c = 0;
        for (size_t i = 0; i < c && !in_c; i++)
            in_c = !strcmp(runs->v[order[i].word], runs->v[order[j].word]);
        if (!in_c) return c;
    }
    return 0;
}

int store_search_keyword(store *s, const char *query, const rag_principal *who,
                         const store_search_params *p, store_hits *out, rag_err *err)
{
    int pending_rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (pending_rc) return pending_rc;
    memset(out, 0, sizeof *out);
    if (p->k == 0) return 0;
    int began = store_read_begin(s, err); /* every statement below: one snapshot */
    if (began < 0) return began;
    rag_buf match = {0}, blob = {0};
    rag_strv runs = {0};
    int64_t *groups = NULL;
    kw_row *kept = NULL;
    phrase_df *order = NULL;
    store_bm25_stats st = {0};
    kw_ctx c = {s, NULL, 0, p};
    size_t n_groups = 0, n_kept = 0, n_phrase = build_match(query, &match, &runs);
    int rc = 0;
    double t = rag_now_ms();
    if (n_phrase == 0) goto done;
    /* Only the keyword indexes of the groups `who` may see are read (see
     * the design note in fts_groups.c): no work, and no statistic, depends
     * on chunks of other groups. */
    rc = store_visible_groups(s, who, &groups, &n_groups, err);
    if (rc || n_groups == 0) goto done;
    c.groups = groups, c.n_groups = n_groups;
    rc = store_fts_bm25_stats(s, groups, n_groups, match.data, n_phrase, &st, err);
    if (rc || st.n_rows == 0) goto done; /* an error, or no visible rows */
    out->prof.stats_ms = rag_now_ms() - t;
    t = rag_now_ms();
    kept = rag_xcalloc(p->k, sizeof *kept);
    order = rag_xcalloc(n_phrase, sizeof *order);
    for (size_t i = 0; i < n_phrase; i++)
        order[i].df = st.df[i], order[i].word = (int)i;
    qsort(order, n_phrase, sizeof *order, cmp_df_desc);
    size_t n_common = p->exhaustive ? 0 : common_count(order, n_phrase, &runs, st.idf);
    int ok = 0;
    if (n_common > 0) {
        rc = try_bounded(&c, &st, &runs, order, n_common, kept, &n_kept, &ok, &out->prof, err);
        if (!rc && !ok && n_common > 1)
            rc = try_bounded(&c, &st, &runs, order, 1, kept, &n_kept, &ok, &out->prof, err);
        out->prof.bounded = ok;
    }
    if (!rc && !ok) {
        int *words = rag_xcalloc(n_phrase, sizeof *words);
        for (size_t i = 0; i < n_phrase; i++)
            words[i] = (int)i;
        store_fts_bm25_blob(&st, words, n_phrase, &blob);
        rag_free(words);
        rc = rank(&c, match.data, &blob, kept, &n_kept, &out->prof, err);
    }
    out->prof.rank_ms = rag_now_ms() - t;
    if (rc) goto done;

    /* the fields of the hits kept */
    t = rag_now_ms();
    sqlite3_stmt *f;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT " STORE_HIT_COLUMNS ", %s FROM chunks c JOIN documents d "
             "ON d.id = c.document_id WHERE c.id = ?1",
             p->want_text ? "c.text" : "NULL");
    rc = store_cached(s, sql, &f, err);
    if (rc) goto done;
    for (size_t i = 0; !rc && i < n_kept; i++) {
        store_cached_done(f);
        sqlite3_bind_int64(f, 1, kept[i].cid);
        int step = sqlite3_step(f);
        if (step == SQLITE_ROW) {
            out->v = rag_xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
            store_hit *h = &out->v[out->n++];
            store_hit_from_row(f, p->want_text, h);
            h->score = -kept[i].r;
            h->acl_group = kept[i].gid;
        } else if (step != SQLITE_DONE) { /* DONE: deleted meanwhile */
            rc = store_sqlite_err(s, step, "keyword search", err);
        }
    }
    store_cached_done(f);
    out->prof.fetch_ms = rag_now_ms() - t;
    t = rag_now_ms();
    for (size_t i = 0; !rc && p->want_snippet && i < out->n; i++)
        rc = fill_snippet(s, match.data, p, &out->v[i], err);
    out->prof.snippet_ms = rag_now_ms() - t;
done:
    store_read_end(s, began);
    store_bm25_stats_free(&st);
    rag_buf_free(&match);
    rag_buf_free(&blob);
    rag_strv_free(&runs);
    rag_free(groups);
    rag_free(kept);
    rag_free(order);
    if (rc) store_hits_free(out);
    return rc;
}

int store_terms(store *s, const char *text, size_t len, int query, store_term_cb cb, void *ctx,
                rag_err *err)
{
    int rc = store_fts_tokenize(s->db, text, len, query, cb, ctx);
    if (rc != SQLITE_OK) return store_sqlite_err(s, rc, "tokenize", err);
    return 0;
}

int store_term_stats(store *s, const char *term, size_t term_len, const int64_t *groups,
                     size_t n_groups, int64_t *n_chunks_with, int64_t *n_chunks_total, rag_err *err)
{
    int pending_rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (pending_rc) return pending_rc;
    *n_chunks_with = *n_chunks_total = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n_groups; i++) {
        long long G = (long long)groups[i];
        int64_t rows, tokens;
        rc = store_fts_group_size(s, groups[i], &rows, &tokens, err);
        if (rc) break;
        *n_chunks_total += rows;
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab_%lld "
                 "USING fts5vocab(main, chunks_fts_%lld, row)",
                 G, G);
        rc = store_exec(s, sql, err);
        if (rc) break;
        snprintf(sql, sizeof sql, "SELECT doc FROM temp.chunks_vocab_%lld WHERE term = ?1", G);
        sqlite3_stmt *st;
        rc = store_prepare(s, sql, &st, err);
        if (rc) break;
        sqlite3_bind_text(st, 1, term, (int)term_len, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *n_chunks_with += sqlite3_column_int64(st, 0);
        else if (step != SQLITE_DONE)
            rc = store_sqlite_err(s, step, "term statistics", err);
        sqlite3_finalize(st);
    }
    return rc;
}
