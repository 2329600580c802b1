/* store/docs.c: documents, their chunks, and ACL groups. */
#include "store/store_int.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int store_acl_group(store *s, const rag_strv *labels, int64_t *group_id, rag_err *err)
{
    char *joined = rag_strv_join(labels, ",");
    sqlite3_stmt *st = NULL;
    int rc = store_prepare(s, "SELECT id FROM acl_groups WHERE labels = ?1", &st, err);
    if (rc) goto out;
    sqlite3_bind_text(st, 1, joined, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *group_id = sqlite3_column_int64(st, 0);
        goto out;
    }
    if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "look up ACL group", err);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* A savepoint makes group, labels and keyword index one change also
     * outside a transaction. */
    rc = store_exec(s, "SAVEPOINT acl_group", err);
    if (rc) goto out;
    rc = store_prepare(s, "INSERT INTO acl_groups(labels) VALUES (?1)", &st, err);
    if (rc) goto undo;
    sqlite3_bind_text(st, 1, joined, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "create ACL group", err);
        goto undo;
    }
    *group_id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    st = NULL;
    rc =
        store_prepare(s, "INSERT INTO acl_group_labels(label, group_id) VALUES (?1, ?2)", &st, err);
    for (size_t i = 0; !rc && i < labels->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, labels->v[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, *group_id);
        step = sqlite3_step(st);
        if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "create ACL group label", err);
    }
    sqlite3_finalize(st);
    st = NULL;
    /* the group's keyword index, in the same transaction as the group */
    if (!rc) rc = store_fts_group_create(s, *group_id, err);
    if (!rc) rc = store_exec(s, "RELEASE acl_group", err);
    if (!rc) goto out;
undo:
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(s->db, "ROLLBACK TO acl_group", NULL, NULL, NULL);
    sqlite3_exec(s->db, "RELEASE acl_group", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    rag_free(joined);
    return rc;
}

void store_doc_free(store_doc *d)
{
    rag_free(d->uri);
    rag_free(d->ext_id);
    rag_free(d->title);
    rag_free(d->mime);
    rag_free(d->labels);
    rag_free(d->metadata_json);
    memset(d, 0, sizeof *d);
}

#define DOC_COLUMNS_ONLY                                                                           \
    "d.id, d.uri, d.ext_id, d.title, d.mime, g.labels, d.metadata_json, d.content_hash, "          \
    "d.mtime, d.size, d.ingested_at, d.acl_group, "                                                \
    "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
#define DOC_COLUMNS DOC_COLUMNS_ONLY "FROM documents d JOIN acl_groups g ON g.id = d.acl_group "

static void doc_from_row(sqlite3_stmt *st, store_doc *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    d->uri = store_col_str(st, 1);
    d->ext_id = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : store_col_str(st, 2);
    d->title = store_col_str(st, 3);
    d->mime = store_col_str(st, 4);
    d->labels = store_col_str(st, 5);
    d->metadata_json = store_col_str(st, 6);
    const unsigned char *h = sqlite3_column_text(st, 7);
    snprintf(d->content_hash, sizeof d->content_hash, "%s", h ? (const char *)h : "");
    d->mtime_ns = sqlite3_column_int64(st, 8);
    d->size = sqlite3_column_int64(st, 9);
    d->ingested_at = sqlite3_column_int64(st, 10);
    d->acl_group = sqlite3_column_int64(st, 11);
    d->n_chunks = sqlite3_column_int64(st, 12);
}

/* Binds who's roles, reads the one row st finds (1, or 0 without one),
 * counts the statement's steps (store_doc_lookup_steps) and finalizes st. */
static int doc_read_one(store *s, sqlite3_stmt *st, const rag_principal *who, store_doc *out,
                        rag_err *err)
{
    int rc;
    char *roles = store_bind_roles(st, who);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        doc_from_row(st, out);
        rc = 1;
    } else if (step == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = store_sqlite_err(s, step, "read document", err);
    }
    s->lookup_steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1); /* and reset */
    store_cached_done(st);
    rag_free(roles);
    return rc;
}

static int doc_get_where(store *s, const char *where, const char *text_key, int64_t int_key,
                         const rag_principal *who, store_doc *out, rag_err *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " DOC_COLUMNS "WHERE %s AND %s", where,
             store_visible_sql(who));
    sqlite3_stmt *st;
    int rc = store_cached(s, sql, &st, err);
    if (rc) return rc;
    if (text_key)
        sqlite3_bind_text(st, 1, text_key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, int_key);
    return doc_read_one(s, st, who, out, err);
}

int64_t store_doc_lookup_steps(const store *s)
{
    return s->lookup_steps;
}

int store_doc_get_by_uri(store *s, const char *uri, store_doc *out, rag_err *err)
{
    return doc_get_where(s, "d.uri = ?1", uri, 0, NULL, out, err);
}

/* For a principal, the loop runs over the groups it may see (always worked
 * out in full) and looks the id up in each: a document it may not see
 * costs the same as one that does not exist, so that the time of an
 * answer does not tell them apart. */
int store_doc_get(store *s, int64_t id, const rag_principal *who, store_doc *out, rag_err *err)
{
    if (!who || who->admin) return doc_get_where(s, "d.id = ?1", NULL, id, who, out, err);
    sqlite3_stmt *st;
    int rc = store_cached(s,
                          "SELECT " DOC_COLUMNS_ONLY
                          "FROM (SELECT DISTINCT group_id AS vg FROM acl_group_labels "
                          "WHERE label IN (SELECT value FROM json_each(:roles))) v "
                          "CROSS JOIN documents d JOIN acl_groups g ON g.id = d.acl_group "
                          "WHERE d.id = :id AND d.acl_group = v.vg",
                          &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":id"), id);
    return doc_read_one(s, st, who, out, err);
}

static int step_done(store *s, sqlite3_stmt *st, const char *what, rag_err *err)
{
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) return 0;
    if ((step & 0xff) == SQLITE_CONSTRAINT)
        return rag_err_set(err, RAG_ERR_INVALID, "%s: %s", what, sqlite3_errmsg(s->db));
    return store_sqlite_err(s, step, what, err);
}

int store_doc_replace(store *s, const store_doc_in *doc, const store_chunk_in *chunks,
                      size_t n_chunks, int64_t model_id, int dims, int64_t *id_out, rag_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    int64_t id = 0;
    store_doc old;
    int found = store_doc_get_by_uri(s, doc->uri, &old, err);
    if (found < 0) return found;
    if (found && doc->id && old.id != doc->id) {
        /* a replica: the cluster gave this uri another document id */
        int64_t gone = old.id;
        store_doc_free(&old);
        rc = store_doc_delete(s, gone, err);
        if (rc) return rc;
        found = 0;
    }
    if (!found && doc->id) {
        found = store_doc_get(s, doc->id, NULL, &old, err); /* renamed in the cluster */
        if (found < 0) return found;
    }
    if (found) {
        id = old.id;
        int64_t old_group = old.acl_group;
        store_doc_free(&old);
        /* the old chunks leave the keyword index of the old group */
        rc = store_fts_doc(s, id, old_group, 0, err);
        if (rc) return rc;
        rc = store_cached(s,
                          "UPDATE documents SET ext_id = ?2, title = ?3, content_hash = ?4, "
                          "mtime = ?5, size = ?6, mime = ?7, acl_group = ?8, "
                          "metadata_json = ?9, ingested_at = ?10, uri = ?11 WHERE id = ?1",
                          &st, err);
    } else {
        rc = store_cached(s,
                          "INSERT INTO documents(uri, ext_id, title, content_hash, mtime, size, "
                          "mime, acl_group, metadata_json, ingested_at, id) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                          &st, err);
    }
    if (rc) return rc;
    if (found) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 11, doc->uri, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_text(st, 1, doc->uri, -1, SQLITE_STATIC);
        if (doc->id) sqlite3_bind_int64(st, 11, doc->id); /* NULL: a new id */
    }
    if (doc->ext_id) sqlite3_bind_text(st, 2, doc->ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, doc->title ? doc->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, doc->content_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, doc->mtime_ns);
    sqlite3_bind_int64(st, 6, doc->size);
    sqlite3_bind_text(st, 7, doc->mime, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, doc->acl_group);
    sqlite3_bind_text(st, 9, doc->metadata_json ? doc->metadata_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (int64_t)time(NULL));
    rc = step_done(s, st, doc->uri, err);
    store_cached_done(st);
    st = NULL;
    if (rc) return rc;
    if (!found) id = sqlite3_last_insert_rowid(s->db);

    if (found) {
        rc = store_prepare(s, "DELETE FROM chunks WHERE document_id = ?1", &st, err);
        if (rc) return rc;
        sqlite3_bind_int64(st, 1, id);
        rc = step_done(s, st, "delete old chunks", err);
        sqlite3_finalize(st);
        st = NULL;
        if (rc) return rc;
    }
    rc = store_cached(s,
                      "INSERT INTO chunks(document_id, ordinal, text, n_tokens, byte_start, "
                      "byte_end, heading_path, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      &st, err);
    for (size_t i = 0; !rc && i < n_chunks; i++) {
        const store_chunk_in *c = &chunks[i];
        sqlite3_reset(st);
        if (c->id)
            sqlite3_bind_int64(st, 8, c->id);
        else
            sqlite3_bind_null(st, 8);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_text(st, 3, c->text, (int)c->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)c->n_tokens);
        sqlite3_bind_int64(st, 5, (int64_t)c->byte_start);
        sqlite3_bind_int64(st, 6, (int64_t)c->byte_end);
        sqlite3_bind_text(st, 7, c->heading_path ? c->heading_path : "", -1, SQLITE_STATIC);
        rc = step_done(s, st, "insert chunk", err);
        if (!rc && c->vector)
            rc = store_vector_put(s, sqlite3_last_insert_rowid(s->db), model_id, c->vector, dims,
                                  err);
    }
    if (st) store_cached_done(st);
    if (!rc) rc = store_fts_doc(s, id, doc->acl_group, 1, err);
    if (!rc && id_out) *id_out = id;
    return rc;
}

/* The ACL group of document id: 1 found, 0 not, < 0 error. */
static int doc_group(store *s, int64_t id, int64_t *group, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT acl_group FROM documents WHERE id = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *group = sqlite3_column_int64(st, 0), rc = 1;
    else if (step != SQLITE_DONE)
        rc = store_sqlite_err(s, step, "read document", err);
    sqlite3_finalize(st);
    return rc;
}

int store_doc_touch(store *s, int64_t id, int64_t mtime_ns, int64_t acl_group, rag_err *err)
{
    int64_t old_group = 0;
    int rc = doc_group(s, id, &old_group, err);
    if (rc < 0) return rc;
    int move = rc == 1 && old_group != acl_group;
    /* an ACL move moves the chunks between the groups' keyword indexes */
    rc = move ? store_fts_doc(s, id, old_group, 0, err) : 0;
    if (rc) return rc;
    sqlite3_stmt *st;
    rc =
        store_prepare(s, "UPDATE documents SET mtime = ?2, acl_group = ?3 WHERE id = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, mtime_ns);
    sqlite3_bind_int64(st, 3, acl_group);
    rc = step_done(s, st, "update document", err);
    sqlite3_finalize(st);
    if (!rc && move) rc = store_fts_doc(s, id, acl_group, 1, err);
    return rc;
}

int store_doc_delete(store *s, int64_t id, rag_err *err)
{
    /* The chunks leave their group's keyword index, then the chunks go,
     * explicitly, so their triggers (change log) run while the document row
     * still exists; then the document (embeddings cascade). */
    int64_t group = 0;
    int rc = doc_group(s, id, &group, err);
    if (rc < 0) return rc;
    rc = rc == 1 ? store_fts_doc(s, id, group, 0, err) : 0;
    if (rc) return rc;
    sqlite3_stmt *st;
    rc = store_prepare(s, "DELETE FROM chunks WHERE document_id = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = step_done(s, st, "delete chunks", err);
    sqlite3_finalize(st);
    if (rc) return rc;
    rc = store_prepare(s, "DELETE FROM documents WHERE id = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = step_done(s, st, "delete document", err);
    sqlite3_finalize(st);
    if (!rc && sqlite3_changes(s->db) == 0)
        rc = rag_err_set(err, RAG_ERR_NOTFOUND, "no document with id %lld", (long long)id);
    return rc;
}

int store_doc_groups(store *s, const int64_t *doc_ids, size_t n, int64_t **groups, size_t *n_groups,
                     rag_err *err)
{
    *groups = NULL;
    *n_groups = 0;
    rag_buf ids = {0};
    rag_buf_putc(&ids, '[');
    for (size_t i = 0; i < n; i++)
        rag_buf_printf(&ids, "%s%lld", i ? "," : "", (long long)doc_ids[i]);
    rag_buf_putc(&ids, ']');
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT DISTINCT acl_group FROM documents "
                           "WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY acl_group",
                           &st, err);
    if (rc) {
        rag_buf_free(&ids);
        return rc;
    }
    sqlite3_bind_text(st, 1, ids.data, -1, SQLITE_STATIC);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        *groups = rag_xgrow(*groups, &cap, *n_groups + 1, sizeof **groups);
        (*groups)[(*n_groups)++] = sqlite3_column_int64(st, 0);
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "groups of documents", err);
    sqlite3_finalize(st);
    rag_buf_free(&ids);
    if (rc) {
        rag_free(*groups);
        *groups = NULL;
        *n_groups = 0;
    }
    return rc;
}

int store_doc_each(store *s, const rag_principal *who, store_doc_cb cb, void *ctx, rag_err *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " DOC_COLUMNS "WHERE %s ORDER BY d.uri",
             store_visible_sql(who));
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc) return rc;
    char *roles = store_bind_roles(st, who);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_doc d;
        doc_from_row(st, &d);
        rc = cb(ctx, &d);
        store_doc_free(&d);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list documents", err);
    sqlite3_finalize(st);
    rag_free(roles);
    return rc;
}

int store_doc_each_prefix(store *s, const char *prefix, store_doc_cb cb, void *ctx, rag_err *err)
{
    size_t n = strlen(prefix);
    if (n == 0) return rag_err_set(err, RAG_ERR_INVALID, "empty uri prefix");
    /* uri >= prefix AND uri < prefix with its last byte raised: an index
     * range, unlike LIKE or GLOB (whose wildcards the prefix may hold) */
    char *hi = rag_xstrdup(prefix);
    int open_end = (unsigned char)hi[n - 1] == 0xff;
    if (!open_end) hi[n - 1] = (char)((unsigned char)hi[n - 1] + 1);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           open_end ? "SELECT " DOC_COLUMNS "WHERE d.uri >= ?1 ORDER BY d.uri"
                                    : "SELECT " DOC_COLUMNS
                                      "WHERE d.uri >= ?1 AND d.uri < ?2 ORDER BY d.uri",
                           &st, err);
    if (rc) {
        rag_free(hi);
        return rc;
    }
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    if (!open_end) sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_doc d;
        doc_from_row(st, &d);
        if (strncmp(d.uri, prefix, n)) {
            store_doc_free(&d);
            continue;
        }
        rc = cb(ctx, &d);
        store_doc_free(&d);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list documents", err);
    sqlite3_finalize(st);
    rag_free(hi);
    return rc;
}

int store_chunk_each(store *s, int64_t document_id, store_chunk_cb cb, void *ctx, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT id, ordinal, text, heading_path, n_tokens, byte_start, byte_end "
                           "FROM chunks WHERE document_id = ?1 ORDER BY ordinal",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, document_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_chunk c = {
            .id = sqlite3_column_int64(st, 0),
            .document_id = document_id,
            .ordinal = sqlite3_column_int(st, 1),
            .text = (const char *)sqlite3_column_text(st, 2),
            .heading_path = (const char *)sqlite3_column_text(st, 3),
            .n_tokens = sqlite3_column_int64(st, 4),
            .byte_start = sqlite3_column_int64(st, 5),
            .byte_end = sqlite3_column_int64(st, 6),
        };
        rc = cb(ctx, &c);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list chunks", err);
    sqlite3_finalize(st);
    return rc;
}
