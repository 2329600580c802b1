/* store/fts_groups.c: the keyword index, one FTS5 table per ACL group.
 *
 * Design note. A search may only do work that depends on what its principal
 * may see: with one FTS5 index shared by all groups, a word's posting list
 * holds every group's chunks, and reading it takes longer the more chunks
 * of other groups hold the word (the visibility condition filters only
 * after FTS5 has walked the list). So, as the vector indexes do, the
 * keyword index is partitioned by ACL group:
 *   chunks_in_G   a view: the chunks of the documents of group G
 *   chunks_fts_G  FTS5 over it (text, heading_path), external content,
 *                 tokenizer "porter rag"
 * for every group id G. A group's table is created in the transaction that
 * creates the group (store_acl_group); the write path keeps the tables in
 * step (store_fts_doc: a document's chunks enter its group's table when
 * written and leave it before they are deleted or the document moves to
 * another group). A search runs one FTS5 query per visible group only and
 * merges the results (search.c).
 *
 * Scores. FTS5's bm25() takes its statistics (row count, average row
 * length, rows holding each phrase) from the one table it runs on. Here
 * rag_bm25() computes the same formula with statistics summed over the
 * groups the principal sees: an administrator gets exactly the scores of
 * one index over everything (today's scores), a principal exactly the
 * scores of an index holding its groups alone. Nothing of an invisible
 * group enters a score or its cost. The statistics take one statement
 * (store_fts_bm25_stats: each group's averages record and, from its first
 * matching row, the rows holding each phrase), the same walk of each
 * phrase's postings FTS5's bm25() makes on its first row; every search
 * scores with rag_bm25() (with one group the numbers are bm25()'s), which
 * also lets the search choose the expression that finds rows (search.c:
 * bounded work for common words).
 *
 * Cost: a search runs one FTS5 query per visible group (prepared once per
 * connection: store_cached), so a
 * principal (or administrator) who sees many groups pays for many small
 * tables; one who sees few no longer pays for the others' postings.
 *
 * Residual: the number of groups (the schema) is visible in the cost of
 * preparing statements, and SQLite's page cache and the allocator are
 * shared, so a principal can time only what its own groups' pages cost and
 * the memory state other searches leave behind (tests/unit/test_store.c,
 * test_search_time_ignores_invisible, measures the gap). */
#include "store/store_int.h"
#include "base/buf.h"
#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_fts_group_create(store *s, int64_t g, rag_err *err)
{
    char sql[1024];
    long long G = (long long)g;
    snprintf(sql, sizeof sql,
             "CREATE VIEW IF NOT EXISTS chunks_in_%lld AS SELECT c.id, c.text, c.heading_path "
             "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.acl_group = %lld;"
             "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_%lld USING fts5(text, heading_path, "
             "content='chunks_in_%lld', content_rowid='id', tokenize='porter rag');"
             "INSERT INTO chunks_fts_%lld(chunks_fts_%lld) VALUES ('rebuild');",
             G, G, G, G, G, G);
    return store_exec(s, sql, err);
}

static int table_exists(store *s, const char *name, int *out, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &st,
                           err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    *out = step == SQLITE_ROW;
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "schema", err);
    sqlite3_finalize(st);
    return rc;
}

/* Collects the int64 first column of every row of sql (bound with :roles
 * when it has one). */
int store_collect_ids(store *s, const char *sql, const rag_principal *who, int64_t **out,
                      size_t *n_out, rag_err *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n_out = 0;
    int rc = store_prepare(s, sql, &st, err);
    if (rc) return rc;
    char *roles = store_bind_roles(st, who);
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        v = rag_xgrow(v, &cap, n + 1, sizeof *v);
        v[n++] = sqlite3_column_int64(st, 0);
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list ACL groups", err);
    sqlite3_finalize(st);
    rag_free(roles);
    if (rc)
        rag_free(v);
    else
        *out = v, *n_out = n;
    return rc;
}

int store_fts_groups_missing(store *s, int64_t **out, size_t *n_out, rag_err *err)
{
    return store_collect_ids(
        s,
        "SELECT id FROM acl_groups g WHERE NOT EXISTS (SELECT 1 FROM sqlite_master "
        "WHERE type = 'table' AND name = 'chunks_fts_' || g.id) ORDER BY id",
        NULL, out, n_out, err);
}

int store_fts_groups_sync(store *s, rag_err *err)
{
    int legacy;
    int rc = table_exists(s, "chunks_fts", &legacy, err);
    if (rc || legacy) return rc; /* before the migration to per-group indexes */
    int64_t *g;
    size_t n;
    rc = store_fts_groups_missing(s, &g, &n, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = store_fts_group_create(s, g[i], err);
    rag_free(g);
    return rc;
}

/* Puts a document's chunks into (add) or out of its group's keyword index.
 *
 * One FTS5 row per statement, never INSERT ... SELECT, and the additions
 * of a transaction all at its end (store_fts_flush, from store_commit):
 * FTS5 writes its pending terms to disk as a new segment at every
 * statement savepoint, and SQLite opens one for each statement that writes
 * several rows (INSERT ... SELECT, and any insert into chunks: its trigger
 * writes the change log). Indexed as each document was written, that made
 * one tiny segment per document and then merges, a third of the writing
 * thread's time in ingest; indexed at the end, a batch of documents makes
 * one. Removing a document that is still pending only drops it from the
 * list (its rows never entered the index). Outside a transaction every
 * change is made at once. */
static int fts_rows(store *s, int64_t doc, int64_t g, int add, rag_err *err)
{
    char ins[256];
    long long G = (long long)g;
    if (add)
        snprintf(ins, sizeof ins,
                 "INSERT INTO chunks_fts_%lld(rowid, text, heading_path) VALUES (?1, ?2, ?3)", G);
    else
        snprintf(ins, sizeof ins,
                 "INSERT INTO chunks_fts_%lld(chunks_fts_%lld, rowid, text, heading_path) "
                 "VALUES ('delete', ?1, ?2, ?3)",
                 G, G);
    sqlite3_stmt *sel, *st;
    int rc = store_cached(
        s, "SELECT id, text, heading_path FROM chunks WHERE document_id = ?1 ORDER BY id", &sel,
        err);
    if (rc) return rc;
    rc = store_cached(s, ins, &st, err);
    if (rc) {
        store_cached_done(sel);
        return rc;
    }
    sqlite3_bind_int64(sel, 1, doc);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(sel)) == SQLITE_ROW) {
        sqlite3_bind_int64(st, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_value(st, 2, sqlite3_column_value(sel, 1));
        sqlite3_bind_value(st, 3, sqlite3_column_value(sel, 2));
        int w = sqlite3_step(st);
        sqlite3_reset(st);
        if (w != SQLITE_DONE) rc = store_sqlite_err(s, w, "update the keyword index", err);
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read the chunks", err);
    store_cached_done(st);
    store_cached_done(sel);
    if (s->in_tx) s->fts_dirty = 1;
    return rc;
}

int store_fts_doc(store *s, int64_t doc, int64_t g, int add, rag_err *err)
{
    if (!add) {
        for (size_t i = 0; i < s->n_fts_pending; i++)
            if (s->fts_pending[i].doc == doc) {
                memmove(&s->fts_pending[i], &s->fts_pending[i + 1],
                        (s->n_fts_pending - i - 1) * sizeof *s->fts_pending);
                s->n_fts_pending--;
                return 0;
            }
        return fts_rows(s, doc, g, 0, err);
    }
    if (!s->in_tx) return fts_rows(s, doc, g, 1, err);
    s->fts_pending = rag_xgrow(s->fts_pending, &s->cap_fts_pending, s->n_fts_pending + 1,
                               sizeof *s->fts_pending);
    s->fts_pending[s->n_fts_pending++] = (struct store_fts_pending){doc, g};
    return 0;
}

int store_fts_flush(store *s, int for_read, rag_err *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < s->n_fts_pending; i++)
        rc = fts_rows(s, s->fts_pending[i].doc, s->fts_pending[i].group, 1, err);
    /* on failure the caller rolls the transaction back */
    s->n_fts_pending = 0;
    /* A reader in the transaction: FTS5 writes its row counts and sizes
     * (the averages record rag_bm25's statistics read from the _data
     * table) only at a commit or a savepoint: take one. */
    if (!rc && for_read && s->fts_dirty) {
        rc = store_exec(s, "SAVEPOINT rag_fts; RELEASE rag_fts", err);
        if (!rc) s->fts_dirty = 0;
    }
    return rc;
}

/* SQLite's varint (the encoding FTS5 uses in its averages record). Returns
 * the bytes read, 0 when truncated. */
static size_t get_varint(const unsigned char *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 9; i++) {
        if (i == 8) {
            *v = (x << 8) | p[i];
            return 9;
        }
        x = (x << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* Decodes an averages record: rows, then tokens per column (summed). */
static void parse_averages(const unsigned char *p, size_t n, int64_t *n_rows, int64_t *n_tokens)
{
    size_t i = 0, l;
    uint64_t v;
    *n_rows = *n_tokens = 0;
    if (!p || !n || (l = get_varint(p, n, &v)) == 0) return;
    *n_rows = (int64_t)v;
    for (i = l; i < n && (l = get_varint(p + i, n - i, &v)) != 0; i += l)
        *n_tokens += (int64_t)v;
}

int store_fts_group_size(store *s, int64_t g, int64_t *n_rows, int64_t *n_tokens, rag_err *err)
{
    int pending_rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (pending_rc) return pending_rc;
    /* FTS5 keeps the row count and the token count of each column in the
     * "averages" record, id 1 of its _data table: what bm25() reads. */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT block FROM chunks_fts_%lld_data WHERE id = 1", (long long)g);
    sqlite3_stmt *st;
    *n_rows = *n_tokens = 0;
    int rc = store_prepare(s, sql, &st, err);
    if (rc) return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        parse_averages(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), n_rows,
                       n_tokens);
    } else if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "keyword index size", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- ranking functions (FTS5 auxiliary functions) ------------------------- */

static int count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ctx)
{
    (void)api, (void)fts;
    (*(int64_t *)ctx)++;
    return SQLITE_OK;
}

/* rag_fts_hits(T): for each phrase of the query, the number of rows of T
 * holding it, as a blob of int64 (native order). */
static void fts_hits(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_val,
                     sqlite3_value **val)
{
    (void)n_val, (void)val;
    int n = api->xPhraseCount(fts);
    int64_t *hits = rag_xcalloc(n ? (size_t)n : 1, sizeof *hits);
    int rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && i < n; i++)
        rc = api->xQueryPhrase(fts, i, &hits[i], count_cb);
    if (rc == SQLITE_OK)
        sqlite3_result_blob(ctx, hits, (int)(n * sizeof *hits), SQLITE_TRANSIENT);
    else
        sqlite3_result_error_code(ctx, rc);
    rag_free(hits);
}

/* rag_bm25(T, stats, weight...): FTS5's bm25() with the statistics given in
 * `stats` (store_fts_bm25_blob) instead of those of T alone. The formula
 * and the order of its operations are those of FTS5 (fts5_aux.c), so equal
 * statistics give bitwise equal scores. The blob says, for each phrase of
 * the FTS5 expression, its IDF and the place of its word in the user's
 * query; the terms are summed in the query's order, so a row scores the
 * same bits whatever expression found it (the fast path of search.c writes
 * the rarer words first, some of them twice with IDF 0). */
#define BM25_MAX_PHRASES 256
static void fts_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_val,
                     sqlite3_value **val)
{
    const double k1 = 1.2, b = 0.75;
    if (n_val < 1 || sqlite3_value_type(val[0]) != SQLITE_BLOB) {
        sqlite3_result_error(ctx, "rag_bm25: statistics expected", -1);
        return;
    }
    int n_phrase = api->xPhraseCount(fts);
    const double *stats = sqlite3_value_blob(val[0]);
    if (n_phrase > BM25_MAX_PHRASES ||
        (size_t)sqlite3_value_bytes(val[0]) != (size_t)(2 * n_phrase + 2) * sizeof(double)) {
        sqlite3_result_error(ctx, "rag_bm25: statistics do not match the query", -1);
        return;
    }
    double avgdl = stats[0];
    int n_words = (int)stats[1];
    const double *per = stats + 2; /* idf, query position; per phrase */
    if (n_words < 0 || n_words > BM25_MAX_PHRASES) {
        sqlite3_result_error(ctx, "rag_bm25: bad statistics", -1);
        return;
    }
    double freq[BM25_MAX_PHRASES], term[BM25_MAX_PHRASES];
    memset(freq, 0, (size_t)n_phrase * sizeof *freq); /* per row: only what is used */
    memset(term, 0, (size_t)n_words * sizeof *term);
    int n_inst = 0, rc = api->xInstCount(fts, &n_inst);
    for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK) freq[ip] += n_val - 1 > ic ? sqlite3_value_double(val[ic + 1]) : 1.0;
    }
    double d = 0.0, score = 0.0;
    if (rc == SQLITE_OK) {
        int n_tok;
        rc = api->xColumnSize(fts, -1, &n_tok);
        d = (double)n_tok;
    }
    if (rc == SQLITE_OK) {
        for (int i = 0; i < n_phrase; i++) {
            int at = (int)per[2 * i + 1];
            if (at < 0 || at >= n_words) continue;
            term[at] +=
                per[2 * i] * ((freq[i] * (k1 + 1.0)) / (freq[i] + k1 * (1 - b + b * d / avgdl)));
        }
        for (int i = 0; i < n_words; i++)
            score += term[i];
        sqlite3_result_double(ctx, -1.0 * score);
    } else {
        sqlite3_result_error_code(ctx, rc);
    }
}

int store_fts_register_functions(fts5_api *api)
{
    int rc = api->xCreateFunction(api, "rag_fts_hits", NULL, fts_hits, NULL);
    if (rc == SQLITE_OK) rc = api->xCreateFunction(api, "rag_bm25", NULL, fts_bm25, NULL);
    return rc;
}

int store_fts_bm25_stats(store *s, const int64_t *groups, size_t n_groups, const char *match,
                         size_t n_phrase, store_bm25_stats *out, rag_err *err)
{
    int pending_rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (pending_rc) return pending_rc;
    /* One statement: per visible group its averages record and, from its
     * first matching row, the rows holding each phrase. */
    memset(out, 0, sizeof *out);
    rag_buf sql = {0};
    for (size_t i = 0; i < n_groups; i++) {
        long long G = (long long)groups[i];
        rag_buf_printf(&sql,
                       "%sSELECT (SELECT block FROM chunks_fts_%lld_data WHERE id = 1), "
                       "(SELECT rag_fts_hits(chunks_fts_%lld) FROM chunks_fts_%lld "
                       "WHERE chunks_fts_%lld MATCH ?1 LIMIT 1)",
                       i ? " UNION ALL " : "", G, G, G, G);
    }
    sqlite3_stmt *st;
    int rc = store_cached(s, sql.data, &st, err);
    rag_buf_free(&sql);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    int64_t rows = 0, tokens = 0;
    int64_t *hits = rag_xcalloc(n_phrase ? n_phrase : 1, sizeof *hits);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t r, t;
        parse_averages(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &r, &t);
        rows += r;
        tokens += t;
        const unsigned char *h = sqlite3_column_blob(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1) / sizeof(int64_t);
        for (size_t j = 0; h && j < n && j < n_phrase; j++) {
            int64_t x;
            memcpy(&x, h + j * sizeof x, sizeof x); /* blobs need not be aligned */
            hits[j] += x;
        }
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "keyword statistics", err);
    store_cached_done(st);
    if (!rc && rows > 0) {
        out->n_rows = rows;
        out->avgdl = (double)tokens / (double)rows;
        out->n_phrase = n_phrase;
        out->df = hits;
        out->idf = rag_xcalloc(n_phrase ? n_phrase : 1, sizeof *out->idf);
        for (size_t j = 0; j < n_phrase; j++) {
            double idf = log((rows - hits[j] + 0.5) / (hits[j] + 0.5));
            if (idf <= 0.0) idf = 1e-6;
            out->idf[j] = idf;
        }
    } else {
        rag_free(hits);
    }
    return rc;
}

void store_bm25_stats_free(store_bm25_stats *st)
{
    rag_free(st->df);
    rag_free(st->idf);
    memset(st, 0, sizeof *st);
}

void store_fts_bm25_blob(const store_bm25_stats *st, const int *words, size_t n, rag_buf *out)
{
    double v = st->avgdl;
    rag_buf_append(out, &v, sizeof v);
    v = (double)st->n_phrase;
    rag_buf_append(out, &v, sizeof v);
    for (size_t i = 0; i < n; i++) {
        /* words[i] < 0: a phrase repeated to find rows, counted elsewhere */
        v = words[i] >= 0 ? st->idf[words[i]] : 0.0;
        rag_buf_append(out, &v, sizeof v);
        v = words[i] >= 0 ? (double)words[i] : -1.0;
        rag_buf_append(out, &v, sizeof v);
    }
}

int store_fts_check(store *s, rag_strv *problems, rag_err *err)
{
    int pending_rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (pending_rc) return pending_rc;
    int64_t *g;
    size_t n;
    int rc = store_fts_groups_missing(s, &g, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        char *m = rag_xasprintf("ACL group %lld has no keyword index (run 'rag check --repair')",
                                (long long)g[i]);
        rag_strv_push(problems, m);
        rag_free(m);
    }
    rag_free(g);
    rc = store_collect_ids(s,
                           "SELECT id FROM acl_groups g WHERE EXISTS (SELECT 1 FROM sqlite_master "
                           "WHERE type = 'table' AND name = 'chunks_fts_' || g.id) ORDER BY id",
                           NULL, &g, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        /* FTS5's own check compares the index with its group's chunks. */
        char sql[256];
        long long G = (long long)g[i];
        snprintf(sql, sizeof sql,
                 "INSERT INTO chunks_fts_%lld(chunks_fts_%lld, rank) VALUES ('integrity-check', 1)",
                 G, G);
        int frc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (frc == SQLITE_OK) continue;
        char *m =
            (frc & 0xff) == SQLITE_CORRUPT
                ? rag_xasprintf("keyword index of ACL group %lld does not match its chunks "
                                "(run 'rag check --repair')",
                                G)
                : rag_xasprintf("keyword index of ACL group %lld: %s", G, sqlite3_errmsg(s->db));
        rag_strv_push(problems, m);
        rag_free(m);
    }
    rag_free(g);
    return 0;
}

int store_fts_rebuild_all(store *s, rag_err *err)
{
    int pending_rc = store_fts_flush(s, 1, err); /* what this transaction wrote */
    if (pending_rc) return pending_rc;
    int64_t *g;
    size_t n;
    int rc = store_collect_ids(s, "SELECT id FROM acl_groups ORDER BY id", NULL, &g, &n, err);
    /* creates what is missing, rebuilds what exists */
    for (size_t i = 0; !rc && i < n; i++)
        rc = store_fts_group_create(s, g[i], err);
    rag_free(g);
    return rc;
}
