/* store/stats.c: counts for `rag stats` and consistency checks for `rag check`. */
#include "store/store_int.h"
#include "base/mem.h"

#include <string.h>
#include <sys/stat.h>

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

int store_stats_get(store *s, store_stats *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    int rc =
        store_prepare(s,
                      "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks), "
                      "(SELECT coalesce(sum(n_tokens), 0) FROM chunks), "
                      "(SELECT count(*) FROM changes)",
                      &st, err);
    if (rc) return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        out->n_docs = sqlite3_column_int64(st, 0);
        out->n_chunks = sqlite3_column_int64(st, 1);
        out->n_tokens = sqlite3_column_int64(st, 2);
        out->n_changes = sqlite3_column_int64(st, 3);
    } else {
        rc = store_sqlite_err(s, step, "statistics", err);
    }
    sqlite3_finalize(st);
    if (rc) return rc;
    out->db_bytes = file_size(s->path);
    char *wal = rag_xasprintf("%s-wal", s->path);
    out->wal_bytes = file_size(wal);
    rag_free(wal);

    rc = store_prepare(s,
                       "SELECT g.labels, count(DISTINCT d.id), count(c.id) FROM acl_groups g "
                       "JOIN documents d ON d.acl_group = g.id "
                       "LEFT JOIN chunks c ON c.document_id = d.id "
                       "GROUP BY g.id ORDER BY g.labels",
                       &st, err);
    if (rc) return rc;
    size_t cap = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->groups = rag_xgrow(out->groups, &cap, out->n_groups + 1, sizeof *out->groups);
        store_group_stats *g = &out->groups[out->n_groups++];
        g->labels = store_col_str(st, 0);
        g->n_docs = sqlite3_column_int64(st, 1);
        g->n_chunks = sqlite3_column_int64(st, 2);
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "group statistics", err);
    sqlite3_finalize(st);
    return rc;
}

void store_stats_free(store_stats *st)
{
    for (size_t i = 0; i < st->n_groups; i++)
        rag_free(st->groups[i].labels);
    rag_free(st->groups);
    memset(st, 0, sizeof *st);
}

/* Each query returns rows of one text column describing a problem. */
static const struct {
    const char *what;
    const char *sql;
} checks[] = {
    /* a container (an archive, a mailbox) is stored without chunks: its
     * members are the documents (ingest/pipeline.c) */
    {"document without chunks",
     "SELECT 'document ' || id || ' (' || uri || ') has no chunks' FROM documents d "
     "WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id) "
     "AND coalesce(json_extract(d.metadata_json, '$.type'), '') NOT IN ('archive', 'mbox')"},
    {"chunk without document",
     "SELECT 'chunk ' || id || ' belongs to missing document ' || document_id FROM chunks c "
     "WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = c.document_id)"},
    {"chunk ordinals",
     "SELECT 'document ' || document_id || ' has chunk ordinals with gaps' FROM chunks "
     "GROUP BY document_id HAVING max(ordinal) + 1 != count(*)"},
    {"chunk offsets",
     "SELECT 'chunk ' || id || ' has byte range ' || byte_start || '..' || byte_end || "
     "' but ' || length(CAST(text AS BLOB)) || ' bytes of text' FROM chunks "
     "WHERE byte_end - byte_start != length(CAST(text AS BLOB))"},
    {"change log",
     "SELECT 'chunk ' || c.id || ' has no add entry in the change log' FROM chunks c "
     "WHERE NOT EXISTS (SELECT 1 FROM changes x WHERE x.chunk_id = c.id AND x.op = 'add')"},
    {"ACL group of a document",
     "SELECT 'document ' || id || ' names missing ACL group ' || acl_group FROM documents d "
     "WHERE NOT EXISTS (SELECT 1 FROM acl_groups g WHERE g.id = d.acl_group)"},
    {"ACL group labels",
     "SELECT 'ACL group ' || id || ' (' || labels || ') has an inconsistent label index' "
     "FROM acl_groups g WHERE labels != coalesce((SELECT group_concat(label, ',') FROM "
     "(SELECT label FROM acl_group_labels l WHERE l.group_id = g.id ORDER BY label)), '')"},
};

int store_check(store *s, rag_strv *problems, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "PRAGMA integrity_check", &st, err);
    if (rc) return rc;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (r && strcmp(r, "ok") != 0) rag_strv_push(problems, r);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return store_sqlite_err(s, step, "integrity check", err);

    /* FTS5's own check of each group's keyword index */
    rc = store_fts_check(s, problems, err);
    if (rc) return rc;

    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        rc = store_prepare(s, checks[i].sql, &st, err);
        if (rc) return rc;
        int shown = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (shown++ < 20) rag_strv_push(problems, (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) return store_sqlite_err(s, step, checks[i].what, err);
    }
    return 0;
}

int store_fts_rebuild(store *s, rag_err *err)
{
    int rc = store_begin(s, err);
    if (rc) return rc;
    rc = store_fts_rebuild_all(s, err);
    if (rc) {
        store_rollback(s);
        return rc;
    }
    return store_commit(s, err);
}
