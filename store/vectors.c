/* store/vectors.c: embedding models and the vectors of chunks. Vectors are
 * stored as dims float32 values, little-endian, in embeddings.vector. */
#include "store/store_int.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void model_from_row(sqlite3_stmt *st, store_model *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    snprintf(m->name, sizeof m->name, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(m->file_sha256, sizeof m->file_sha256, "%s", (const char *)sqlite3_column_text(st, 2));
    m->dims = sqlite3_column_int(st, 3);
    snprintf(m->pooling, sizeof m->pooling, "%s", (const char *)sqlite3_column_text(st, 4));
    m->normalized = sqlite3_column_int(st, 5);
    snprintf(m->query_prefix, sizeof m->query_prefix, "%s",
             (const char *)sqlite3_column_text(st, 6));
    snprintf(m->doc_prefix, sizeof m->doc_prefix, "%s", (const char *)sqlite3_column_text(st, 7));
}

#define MODEL_COLUMNS "id, name, file_sha256, dims, pooling, normalized, query_prefix, doc_prefix"

int store_model_ensure(store *s, store_model *m, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(
        s,
        "INSERT INTO models(name, file_sha256, dims, pooling, normalized, "
        "query_prefix, doc_prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(file_sha256, pooling, query_prefix, doc_prefix) DO UPDATE SET "
        "name = excluded.name RETURNING id",
        &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->file_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, m->dims);
    sqlite3_bind_text(st, 4, m->pooling, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, m->normalized);
    sqlite3_bind_text(st, 6, m->query_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, m->doc_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (int64_t)time(NULL));
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        m->id = sqlite3_column_int64(st, 0);
    else
        rc = store_sqlite_err(s, step, "record the embedding model", err);
    sqlite3_finalize(st);
    return rc;
}

static int setting_id(store *s, const char *key, int64_t *out, rag_err *err)
{
    char *v;
    int rc = store_meta_get(s, key, &v, err);
    *out = v ? strtoll(v, NULL, 10) : 0;
    rag_free(v);
    return rc;
}

static int set_setting_id(store *s, const char *key, int64_t id, rag_err *err)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", (long long)id);
    return store_meta_set(s, key, id ? v : NULL, err);
}

int store_model_active(store *s, store_model *out, rag_err *err)
{
    int64_t id;
    int rc = setting_id(s, "embed.model_id", &id, err);
    if (rc || !id) return rc;
    sqlite3_stmt *st;
    rc = store_prepare(s, "SELECT " MODEL_COLUMNS " FROM models WHERE id = ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        model_from_row(st, out);
        rc = 1;
    } else if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "read the embedding model", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_model_set_active(store *s, int64_t model_id, rag_err *err)
{
    return set_setting_id(s, "embed.model_id", model_id, err);
}

int store_model_target(store *s, int64_t *model_id, rag_err *err)
{
    return setting_id(s, "embed.target_id", model_id, err);
}

int store_model_set_target(store *s, int64_t model_id, rag_err *err)
{
    return set_setting_id(s, "embed.target_id", model_id, err);
}

int store_vector_put(store *s, int64_t chunk_id, int64_t model_id, const float *v, int dims,
                     rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "INSERT INTO embeddings(chunk_id, model_id, vector) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT(chunk_id, model_id) DO UPDATE SET vector = excluded.vector",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, chunk_id);
    sqlite3_bind_int64(st, 2, model_id);
    sqlite3_bind_blob(st, 3, v, dims * (int)sizeof(float),
                      SQLITE_STATIC); /* hosts are little-endian */
    int step = sqlite3_step(st);
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "store a vector", err);
    sqlite3_finalize(st);
    return rc;
}

int store_vector_get(store *s, int64_t chunk_id, int64_t model_id, float *v, int dims, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "SELECT vector FROM embeddings WHERE chunk_id = ?1 AND model_id = ?2",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, chunk_id);
    sqlite3_bind_int64(st, 2, model_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != dims * (int)sizeof(float))
            rc = rag_err_set(
                err, RAG_ERR_CORRUPT, "chunk %lld: stored vector has %d bytes, expected %d",
                (long long)chunk_id, sqlite3_column_bytes(st, 0), dims * (int)sizeof(float));
        else {
            memcpy(v, sqlite3_column_blob(st, 0), (size_t)dims * sizeof(float));
            rc = 1;
        }
    } else if (step != SQLITE_DONE) {
        rc = store_sqlite_err(s, step, "read a vector", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_chunks_without_vector(store *s, int64_t model_id, int64_t after_id, size_t limit,
                                store_chunk_cb cb, void *ctx, rag_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store_prepare(s,
                      "SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.n_tokens, "
                      "c.byte_start, c.byte_end FROM chunks c WHERE c.id > ?1 AND NOT EXISTS "
                      "(SELECT 1 FROM embeddings e WHERE e.chunk_id = c.id AND e.model_id = ?2) "
                      "ORDER BY c.id LIMIT ?3",
                      &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, model_id);
    sqlite3_bind_int64(st, 3, (int64_t)limit);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_chunk c = {
            .id = sqlite3_column_int64(st, 0),
            .document_id = sqlite3_column_int64(st, 1),
            .ordinal = sqlite3_column_int(st, 2),
            .text = (const char *)sqlite3_column_text(st, 3),
            .heading_path = (const char *)sqlite3_column_text(st, 4),
            .n_tokens = sqlite3_column_int64(st, 5),
            .byte_start = sqlite3_column_int64(st, 6),
            .byte_end = sqlite3_column_int64(st, 7),
        };
        rc = cb(ctx, &c);
        if (rc) break;
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list chunks to embed", err);
    sqlite3_finalize(st);
    return rc;
}

int store_vector_counts(store *s, int64_t model_id, int64_t *n_chunks, int64_t *n_with,
                        rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT (SELECT count(*) FROM chunks), "
                           "(SELECT count(*) FROM embeddings WHERE model_id = ?1)",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, model_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *n_chunks = sqlite3_column_int64(st, 0);
        *n_with = sqlite3_column_int64(st, 1);
    } else {
        rc = store_sqlite_err(s, step, "count vectors", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_vectors_drop_others(store *s, int64_t keep_id, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "DELETE FROM embeddings WHERE model_id != ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, keep_id);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return store_sqlite_err(s, step, "drop old vectors", err);
    rc = store_prepare(s, "DELETE FROM models WHERE id != ?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, keep_id);
    step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : store_sqlite_err(s, step, "drop old models", err);
}
