/* store/search.c: keyword search (BM25 over FTS5) with visibility inside the
 * query, and access to the index's terms.
 *
 * User text never reaches FTS5's query parser as syntax: it is cut into runs
 * of word characters (and runs of CJK characters), each run is quoted as an
 * FTS5 string, and the strings are OR-ed. Quotes, NEAR, AND/OR/NOT, '*', '-',
 * ':' and parentheses in user text are therefore plain words or separators. */
#include "store/store_int.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <stdio.h>
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

/* Builds the FTS5 query: "run1" OR "run2" ... Returns the number of runs.
 * Repeated words are kept: each occurrence is a phrase of its own, so BM25
 * weighs a word the question repeats more (query term frequency). */
static size_t build_match(const char *q, rag_buf *out)
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
        terms++;
    }
    return terms;
}

static int fill_snippet(store *s, const char *match, const store_search_params *p, int64_t group,
                        store_hit *h, rag_err *err)
{
    char sql[256];
    long long G = (long long)group;
    snprintf(sql, sizeof sql,
             "SELECT snippet(chunks_fts_%lld, 0, ?2, ?3, '…', 40) FROM chunks_fts_%lld "
             "WHERE chunks_fts_%lld MATCH ?1 AND rowid = ?4",
             G, G, G);
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->hl_open ? p->hl_open : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->hl_close ? p->hl_close : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, h->chunk_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        h->snippet = store_col_str(st, 0);
    else if (step != SQLITE_DONE)
        rc = store_sqlite_err(s, step, "snippet", err);
    sqlite3_finalize(st);
    return rc;
}

int store_search_keyword(store *s, const char *query, const rag_principal *who,
                         const store_search_params *p, store_hits *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    if (p->k == 0) return 0;
    rag_buf match = {0}, stats = {0}, sql = {0};
    int64_t *groups = NULL, *hit_groups = NULL;
    size_t n_groups = 0, n_phrase = build_match(query, &match);
    int rc = 0;
    if (n_phrase == 0) goto done;
    /* Only the keyword indexes of the groups `who` may see are read (see
     * the design note in fts_groups.c): no work, and no statistic, depends
     * on chunks of other groups. */
    rc = store_visible_groups(s, who, &groups, &n_groups, err);
    if (rc || n_groups == 0) goto done;
    /* One group: its own statistics are the visible ones, and FTS5's bm25()
     * gives the very numbers rag_bm25() would, without a statistics pass. */
    if (n_groups > 1) {
        rc = store_fts_bm25_stats(s, groups, n_groups, match.data, n_phrase, &stats, err);
        if (rc || stats.len == 0) goto done; /* an error, or no visible rows */
    }
    /* One FTS5 query per visible group, merged. rag_bm25() can only be
     * called where the MATCH is, hence the materialized CTE (flattened into
     * the joins below, the planner may also probe the FTS table per chunk);
     * with per_document, the bare cid and gid of a min() aggregate come from
     * the row holding the min (SQLite guarantees this): the best chunk of
     * each document. */
    rag_buf_puts(&sql, "WITH m AS MATERIALIZED (");
    for (size_t i = 0; i < n_groups; i++) {
        long long G = (long long)groups[i];
        rag_buf_printf(&sql,
                       "%sSELECT rowid AS cid, %lld AS gid, %s(chunks_fts_%lld, %s" BM25_WEIGHTS
                       ") AS r FROM chunks_fts_%lld WHERE chunks_fts_%lld MATCH :match",
                       i ? " UNION ALL " : "", G, n_groups > 1 ? "rag_bm25" : "bm25", G,
                       n_groups > 1 ? ":stats, " : "", G, G);
    }
    rag_buf_printf(
        &sql,
        "), ranked AS (SELECT m.cid, c.document_id AS did, m.gid, m.r FROM m "
        "JOIN chunks c ON c.id = m.cid),"
        " best AS (%s) "
        "SELECT " STORE_HIT_COLUMNS ", %s, best.r, best.gid "
        "FROM best JOIN chunks c ON c.id = best.cid JOIN documents d ON d.id = c.document_id "
        "ORDER BY best.r, c.id LIMIT :k",
        p->per_document ? "SELECT cid, gid, min(r) AS r FROM ranked GROUP BY did"
                        : "SELECT cid, gid, r FROM ranked",
        p->want_text ? "c.text" : "NULL");
    sqlite3_stmt *st;
    rc = store_prepare(s, sql.data, &st, err);
    if (rc) goto done;
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":match"), match.data, -1,
                      SQLITE_STATIC);
    if (stats.len)
        sqlite3_bind_blob(st, sqlite3_bind_parameter_index(st, ":stats"), stats.data,
                          (int)stats.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":k"), (int64_t)p->k);
    size_t cap_g = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->v = rag_xgrow(out->v, &out->cap, out->n + 1, sizeof *out->v);
        hit_groups = rag_xgrow(hit_groups, &cap_g, out->n + 1, sizeof *hit_groups);
        store_hit *h = &out->v[out->n];
        hit_groups[out->n++] = sqlite3_column_int64(st, 11);
        store_hit_from_row(st, p->want_text, h);
        h->score = -sqlite3_column_double(st, 10);
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "keyword search", err);
    sqlite3_finalize(st);
    for (size_t i = 0; !rc && p->want_snippet && i < out->n; i++)
        rc = fill_snippet(s, match.data, p, hit_groups[i], &out->v[i], err);
done:
    rag_buf_free(&match);
    rag_buf_free(&stats);
    rag_buf_free(&sql);
    rag_free(groups);
    rag_free(hit_groups);
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
