/* store/answers.c: ragd's answers and their ratings (tables answers and
 * answer_chunks, migration 8).
 *
 * ragd records every answer it gives (store_answer_record, from a thread
 * of its own: ragd/answers.c) so that the key that got it may rate it
 * later; `rag feedback` reads them. An answer is found by its key and its
 * id together (the unique index of both): a key asking about another
 * key's id makes the same lookup as for an id nobody has, and finds
 * nothing. Records are kept for a bounded time and number
 * (store_answers_prune, run by ragd now and then). */
#include "store/store_int.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a cached statement that returns no rows, and gives it back. */
static int run_cached(store *s, sqlite3_stmt *st, const char *what, rag_err *err)
{
    int step = sqlite3_step(st);
    store_cached_done(st);
    return step == SQLITE_DONE ? 0 : store_sqlite_err(s, step, what, err);
}

int store_answer_record(store *s, const store_answer *a, rag_err *err)
{
    sqlite3_stmt *st;
    /* the same key's answer of this id before: replaced, its citations
     * with it (ON DELETE CASCADE) */
    int rc =
        store_cached(s, "DELETE FROM answers WHERE key_name = ?1 AND answer_id = ?2", &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, a->key_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->id, -1, SQLITE_STATIC);
    if ((rc = run_cached(s, st, "replace an answer", err))) return rc;
    rc = store_cached(s,
                      "INSERT INTO answers(answer_id, key_name, created_at, question, rewrite, "
                      "answer, settings_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                      &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->key_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a->created_at);
    sqlite3_bind_text(st, 4, a->question ? a->question : "", -1, SQLITE_STATIC);
    bind_text_or_null(st, 5, a->rewrite);
    sqlite3_bind_text(st, 6, a->answer ? a->answer : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->settings_json ? a->settings_json : "{}", -1, SQLITE_STATIC);
    if ((rc = run_cached(s, st, "record an answer", err))) return rc;
    int64_t row = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < a->n_cites; i++) {
        const store_answer_cite *c = &a->cites[i];
        rc = store_cached(s,
                          "INSERT INTO answer_chunks(answer, pos, n, chunk_id, document_id, uri) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                          &st, err);
        if (rc) return rc;
        sqlite3_bind_int64(st, 1, row);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_int(st, 3, c->n);
        sqlite3_bind_int64(st, 4, c->chunk_id);
        sqlite3_bind_int64(st, 5, c->document_id);
        sqlite3_bind_text(st, 6, c->uri ? c->uri : "", -1, SQLITE_STATIC);
        if ((rc = run_cached(s, st, "record an answer's citation", err))) return rc;
    }
    return 0;
}

int store_answer_rate(store *s, const char *key_name, const char *id, const char *rating,
                      const char *comment, int64_t now, int *replaced, rag_err *err)
{
    *replaced = 0;
    if (strcmp(rating, "up") && strcmp(rating, "down"))
        return rag_err_set(err, RAG_ERR_INVALID, "rating: '%.16s' is not up or down", rating);
    int rc = store_begin(s, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    int64_t row = 0;
    rc = store_cached(s,
                      "SELECT id, rating IS NOT NULL FROM answers "
                      "WHERE key_name = ?1 AND answer_id = ?2",
                      &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, key_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            row = sqlite3_column_int64(st, 0);
            *replaced = sqlite3_column_int(st, 1);
        } else if (step != SQLITE_DONE) {
            rc = store_sqlite_err(s, step, "find an answer", err);
        }
        store_cached_done(st);
    }
    if (!rc && row) {
        rc = store_cached(s,
                          "UPDATE answers SET rating = ?2, comment = ?3, rated_at = ?4 "
                          "WHERE id = ?1",
                          &st, err);
        if (!rc) {
            sqlite3_bind_int64(st, 1, row);
            sqlite3_bind_text(st, 2, rating, -1, SQLITE_STATIC);
            bind_text_or_null(st, 3, comment);
            sqlite3_bind_int64(st, 4, now);
            rc = run_cached(s, st, "rate an answer", err);
        }
    }
    if (!rc) rc = store_commit(s, err);
    if (rc) {
        store_rollback(s);
        *replaced = 0;
        return rc;
    }
    return row != 0;
}

int store_answers_prune(store *s, int64_t before, int64_t max_keep, int64_t *n_deleted,
                        rag_err *err)
{
    if (n_deleted) *n_deleted = 0;
    sqlite3_stmt *st;
    /* by age (an index on created_at), then by number: whatever is older
     * than the newest max_keep (rowids grow with each answer recorded) */
    int rc = store_cached(s, "DELETE FROM answers WHERE created_at < ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, before);
    if ((rc = run_cached(s, st, "delete old answers", err))) return rc;
    if (n_deleted) *n_deleted += sqlite3_changes(s->db);
    if (max_keep <= 0) return 0;
    rc = store_cached(s,
                      "DELETE FROM answers WHERE id <= "
                      "(SELECT id FROM answers ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                      &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, max_keep);
    if ((rc = run_cached(s, st, "delete the oldest answers", err))) return rc;
    if (n_deleted) *n_deleted += sqlite3_changes(s->db);
    return 0;
}

/* The citations of answer `row` into *cites (uris copied: free with
 * free_cites). */
static int read_cites(store *s, int64_t row, store_answer_cite **cites, size_t *n, rag_err *err)
{
    *cites = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = store_cached(s,
                          "SELECT n, chunk_id, document_id, uri FROM answer_chunks "
                          "WHERE answer = ?1 ORDER BY pos",
                          &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, row);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        *cites = rag_xgrow(*cites, &cap, *n + 1, sizeof **cites);
        store_answer_cite *c = &(*cites)[(*n)++];
        c->n = sqlite3_column_int(st, 0);
        c->chunk_id = sqlite3_column_int64(st, 1);
        c->document_id = sqlite3_column_int64(st, 2);
        c->uri = store_col_str(st, 3);
    }
    store_cached_done(st);
    return step == SQLITE_DONE ? 0 : store_sqlite_err(s, step, "read an answer's citations", err);
}

static void free_cites(store_answer_cite *cites, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rag_free((char *)cites[i].uri);
    rag_free(cites);
}

static const char *col_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NULL
                                                       : (const char *)sqlite3_column_text(st, col);
}

int store_answer_each(store *s, const store_answer_query *q, store_answer_cb cb, void *ctx,
                      rag_err *err)
{
    int rated = q->rated_only || q->rating;
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT id, answer_id, key_name, created_at, question, rewrite, answer, "
             "settings_json, rating, comment, rated_at FROM answers WHERE 1%s%s%s "
             "ORDER BY %s %s, id %s LIMIT ?1",
             rated ? " AND rating IS NOT NULL" : "", q->rating ? " AND rating = ?2" : "",
             q->key_name ? " AND key_name = ?3" : "", rated ? "rated_at" : "created_at",
             q->newest_first ? "DESC" : "ASC", q->newest_first ? "DESC" : "ASC");
    int began = store_read_begin(s, err);
    if (began < 0) return began;
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc) {
        store_read_end(s, began);
        return rc;
    }
    sqlite3_bind_int64(st, 1, q->limit ? (int64_t)q->limit : -1);
    if (q->rating) sqlite3_bind_text(st, 2, q->rating, -1, SQLITE_STATIC);
    if (q->key_name) sqlite3_bind_text(st, 3, q->key_name, -1, SQLITE_STATIC);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        store_answer_cite *cites;
        size_t n_cites;
        rc = read_cites(s, sqlite3_column_int64(st, 0), &cites, &n_cites, err);
        if (rc) break;
        store_answer a = {
            .id = (const char *)sqlite3_column_text(st, 1),
            .key_name = (const char *)sqlite3_column_text(st, 2),
            .created_at = sqlite3_column_int64(st, 3),
            .question = (const char *)sqlite3_column_text(st, 4),
            .rewrite = col_or_null(st, 5),
            .answer = (const char *)sqlite3_column_text(st, 6),
            .settings_json = (const char *)sqlite3_column_text(st, 7),
            .cites = cites,
            .n_cites = n_cites,
            .rating = col_or_null(st, 8),
            .comment = col_or_null(st, 9),
            .rated_at = sqlite3_column_int64(st, 10),
        };
        rc = cb(ctx, &a);
        free_cites(cites, n_cites);
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read the answers", err);
    sqlite3_finalize(st);
    store_read_end(s, began);
    return rc;
}
