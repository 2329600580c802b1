/* cluster/publish.c: writing documents and API keys into the cluster.
 *
 * A document reaches PostgreSQL whole: the ingest pipeline puts it into a
 * staging SQLite database first (extracted, chunked, embedded), and
 * clu_publish copies it in one transaction: the document row (replacing
 * the one of the same uri), its chunks with their vectors, the end of the
 * job that made it (only while the job's lease is still this worker's),
 * and one entry of the change log. Either all of it commits or none. */
#include "cluster/cluster_int.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void clu_doc_free(clu_doc *d)
{
    rag_free(d->labels);
    rag_free(d->ext_id);
    memset(d, 0, sizeof *d);
}

int clu_doc_find(clu *c, const char *uri, clu_doc *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    const char *v[] = {uri};
    PGresult *r = clu_query(c,
                            "SELECT id, size, mtime, content_hash, labels, ext_id FROM documents "
                            "WHERE uri = $1",
                            1, v, NULL, NULL, err);
    if (!r) return err->code;
    int found = PQntuples(r) > 0;
    if (found) {
        out->id = clu_col_i64(r, 0, 0);
        out->size = clu_col_i64(r, 0, 1);
        out->mtime_ns = clu_col_i64(r, 0, 2);
        snprintf(out->content_hash, sizeof out->content_hash, "%s", PQgetvalue(r, 0, 3));
        out->labels = clu_col_str(r, 0, 4);
        out->ext_id = clu_col_str(r, 0, 5);
    }
    PQclear(r);
    return found;
}

/* ---- reading the staged document ---------------------------------------------------- */
typedef struct staged_chunk {
    int64_t id;
    char *text, *heading_path;
    int64_t n_tokens, byte_start, byte_end;
} staged_chunk;

typedef struct staged {
    store_doc doc;
    staged_chunk *v;
    size_t n, cap;
    store_model model; /* id 0: none */
    float *vectors;    /* n * model.dims, or NULL */
} staged;

static int stage_chunk(void *ctx, const store_chunk *ch)
{
    staged *sd = ctx;
    sd->v = rag_xgrow(sd->v, &sd->cap, sd->n + 1, sizeof *sd->v);
    sd->v[sd->n++] = (staged_chunk){
        ch->id,       rag_xstrdup(ch->text), rag_xstrdup(ch->heading_path ? ch->heading_path : ""),
        ch->n_tokens, ch->byte_start,        ch->byte_end};
    return 0;
}

static void staged_free(staged *sd)
{
    for (size_t i = 0; i < sd->n; i++) {
        rag_free(sd->v[i].text);
        rag_free(sd->v[i].heading_path);
    }
    rag_free(sd->v);
    rag_free(sd->vectors);
    store_doc_free(&sd->doc);
}

static int stage_read(store *st, const char *uri, staged *sd, rag_err *err)
{
    memset(sd, 0, sizeof *sd);
    int rc = store_doc_get_by_uri(st, uri, &sd->doc, err);
    if (rc < 0) return rc;
    if (rc == 0) return rag_err_set(err, RAG_ERR_NOTFOUND, "%s: not in the staging database", uri);
    rc = store_chunk_each(st, sd->doc.id, stage_chunk, sd, err);
    if (!rc) rc = store_model_active(st, &sd->model, err);
    if (rc < 0) return rc;
    rc = 0;
    if (sd->model.id && sd->n) {
        sd->vectors = rag_xcalloc(sd->n * (size_t)sd->model.dims, sizeof(float));
        for (size_t i = 0; !rc && i < sd->n; i++) {
            int got =
                store_vector_get(st, sd->v[i].id, sd->model.id,
                                 sd->vectors + i * (size_t)sd->model.dims, sd->model.dims, err);
            if (got < 0) rc = got;
            if (got == 0)
                rc = rag_err_set(err, RAG_ERR_CORRUPT, "%s: chunk %zu has no vector", uri, i);
        }
    }
    return rc;
}

/* ---- the embedding model ----------------------------------------------------------- */
/* The cluster's model id for m: the one the cluster already uses, which
 * must be m; or m, recorded and made the cluster's when it has none. */
static int model_id(clu *c, const store_model *m, int64_t *id, rag_err *err)
{
    char dims[16], norm[4];
    snprintf(dims, sizeof dims, "%d", m->dims);
    snprintf(norm, sizeof norm, "%d", m->normalized);
    const char *v[] = {m->name, m->file_sha256,  dims,         m->pooling,
                       norm,    m->query_prefix, m->doc_prefix};
    int rc = clu_run(c,
                     "INSERT INTO models(name, file_sha256, dims, pooling, normalized, "
                     "query_prefix, doc_prefix) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                     "ON CONFLICT DO NOTHING",
                     7, v, err);
    PGresult *r =
        rc ? NULL
           : clu_query(c,
                       "SELECT id FROM models WHERE file_sha256 = $1 AND pooling = $2 AND "
                       "query_prefix = $3 AND doc_prefix = $4",
                       4,
                       (const char *[]){m->file_sha256, m->pooling, m->query_prefix, m->doc_prefix},
                       NULL, NULL, err);
    if (!r) return err->code;
    char mid[24];
    snprintf(mid, sizeof mid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *sv[] = {mid};
    rc = clu_run(c,
                 "INSERT INTO settings(key, value) VALUES ('embed.model_id', $1) "
                 "ON CONFLICT DO NOTHING",
                 1, sv, err);
    r = rc ? NULL
           : clu_query(c, "SELECT m.id, m.name, m.file_sha256" CLU_MODEL_FROM, 0, NULL, NULL, NULL,
                       err);
    if (!r) return err->code;
    if (strcmp(PQgetvalue(r, 0, 0), mid))
        rc =
            rag_err_set(err, RAG_ERR_INVALID,
                        "%s: the cluster's vectors come from %s (%.12s); this program embeds "
                        "with %s (%.12s), or the same file with other pooling or prefixes",
                        c->name, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), m->name, m->file_sha256);
    *id = clu_col_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* The cluster's model, if it has one: 1, 0 when none. */
static int cluster_model(clu *c, char *name, size_t n, rag_err *err)
{
    PGresult *r = clu_query(c, "SELECT m.name" CLU_MODEL_FROM, 0, NULL, NULL, NULL, err);
    if (!r) return err->code;
    int found = PQntuples(r) > 0;
    if (found) snprintf(name, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return found;
}

/* ---- the document ------------------------------------------------------------------ */
static int write_doc(clu *c, const staged *sd, int64_t *id, int *existed, rag_err *err)
{
    const store_doc *d = &sd->doc;
    char mtime[24], size[24], at[24];
    snprintf(mtime, sizeof mtime, "%lld", (long long)d->mtime_ns);
    snprintf(size, sizeof size, "%lld", (long long)d->size);
    snprintf(at, sizeof at, "%lld", (long long)time(NULL));
    const char *v[] = {d->uri, d->ext_id, d->title ? d->title : "",   d->content_hash,  mtime,
                       size,   d->mime,   d->labels ? d->labels : "", d->metadata_json, at};
    PGresult *r = clu_query(c,
                            "INSERT INTO documents(uri, ext_id, title, content_hash, mtime, size, "
                            "mime, labels, metadata_json, ingested_at) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                            "ON CONFLICT (uri) DO UPDATE SET ext_id = excluded.ext_id, "
                            "title = excluded.title, content_hash = excluded.content_hash, "
                            "mtime = excluded.mtime, size = excluded.size, mime = excluded.mime, "
                            "labels = excluded.labels, metadata_json = excluded.metadata_json, "
                            "ingested_at = excluded.ingested_at "
                            "RETURNING id, (xmax <> 0)",
                            10, v, NULL, NULL, err);
    if (!r) return err->code;
    *id = clu_col_i64(r, 0, 0);
    *existed = !strcmp(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)*id);
    const char *dv[] = {ids};
    int rc = *existed ? clu_run(c, "DELETE FROM chunks WHERE document_id = $1", 1, dv, err) : 0;
    for (size_t i = 0; !rc && i < sd->n; i++) {
        const staged_chunk *ch = &sd->v[i];
        char ord[24], nt[24], bs[24], be[24];
        snprintf(ord, sizeof ord, "%zu", i);
        snprintf(nt, sizeof nt, "%lld", (long long)ch->n_tokens);
        snprintf(bs, sizeof bs, "%lld", (long long)ch->byte_start);
        snprintf(be, sizeof be, "%lld", (long long)ch->byte_end);
        const char *cv[] = {ids,
                            ord,
                            ch->text,
                            nt,
                            bs,
                            be,
                            ch->heading_path,
                            sd->vectors ? (const char *)(sd->vectors + i * (size_t)sd->model.dims)
                                        : NULL};
        int lens[8] = {0, 0, 0, 0, 0, 0, 0, sd->model.dims * (int)sizeof(float)};
        int bin[8] = {0, 0, 0, 0, 0, 0, 0, 1};
        r = clu_query(c,
                      "INSERT INTO chunks(document_id, ordinal, text, n_tokens, byte_start, "
                      "byte_end, heading_path, vector) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      8, cv, lens, bin, err);
        if (!r)
            rc = err->code;
        else
            PQclear(r);
    }
    return rc;
}

static int end_job(clu *c, int64_t job_id, int64_t token, const char *outcome, const char *reason,
                   int64_t doc_id, rag_err *err)
{
    char jid[24], tok[24], did[24];
    snprintf(jid, sizeof jid, "%lld", (long long)job_id);
    snprintf(tok, sizeof tok, "%lld", (long long)token);
    snprintf(did, sizeof did, "%lld", (long long)doc_id);
    const char *v[] = {jid,     tok,    !strcmp(outcome, "failed") ? "failed" : "done",
                       outcome, reason, doc_id ? did : NULL};
    PGresult *r = clu_query(c,
                            "UPDATE jobs SET state = $3, outcome = $4, reason = $5, "
                            "document_id = $6, finished_at = now(), lease_until = NULL "
                            "WHERE id = $1 AND lease_token = $2 AND state = 'running' "
                            "RETURNING worker",
                            6, v, NULL, NULL, err);
    if (!r) return err->code;
    int rc = 0;
    if (PQntuples(r) == 0) {
        rc = rag_err_set(err, RAG_ERR_BUSY,
                         "job %lld: its lease ran out and another worker took it; nothing "
                         "of this attempt was kept",
                         (long long)job_id);
    } else {
        const char *wv[] = {PQgetvalue(r, 0, 0)};
        rc = clu_run(c,
                     "INSERT INTO workers(name, jobs_done) VALUES ($1, 1) ON CONFLICT (name) "
                     "DO UPDATE SET jobs_done = workers.jobs_done + 1, seen_at = now()",
                     1, wv, err);
    }
    PQclear(r);
    return rc;
}

static int keep_upload(clu *c, int64_t id, const rag_buf *upload, rag_err *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = {ids, upload->data ? upload->data : ""};
    int lens[2] = {0, (int)upload->len};
    int bin[2] = {0, 1};
    PGresult *r = clu_query(c,
                            "INSERT INTO uploads(document_id, bytes) VALUES ($1, $2) "
                            "ON CONFLICT (document_id) DO UPDATE SET bytes = excluded.bytes",
                            2, v, lens, bin, err);
    if (!r) return err->code;
    PQclear(r);
    return 0;
}

int clu_publish(clu *c, store *staging, const char *uri, int64_t job_id, int64_t lease_token,
                const rag_buf *upload, int64_t *id_out, rag_err *err)
{
    staged sd;
    int rc = stage_read(staging, uri, &sd, err);
    if (rc) {
        staged_free(&sd);
        return rc;
    }
    int64_t mid = 0, id = 0;
    int existed = 0;
    rc = clu_begin(c, NULL, err);
    if (!rc && sd.model.id) rc = model_id(c, &sd.model, &mid, err);
    if (!rc && !sd.model.id) {
        char name[128];
        int has = cluster_model(c, name, sizeof name, err);
        if (has < 0) rc = has;
        if (has > 0)
            rc = rag_err_set(err, RAG_ERR_INVALID,
                             "%s: the cluster's documents have vectors of %s: ingest with that "
                             "embedding model (--embed-model)",
                             uri, name);
    }
    if (!rc) rc = write_doc(c, &sd, &id, &existed, err);
    if (!rc && upload) rc = keep_upload(c, id, upload, err);
    if (!rc && job_id)
        rc = end_job(c, job_id, lease_token, existed ? "updated" : "added", NULL, id, err);
    if (!rc) rc = clu_log_lock(c, err);
    if (!rc) rc = clu_log_append(c, "doc", id, err);
    if (!rc) rc = clu_commit(c, err);
    if (rc)
        clu_rollback(c);
    else if (id_out)
        *id_out = id;
    staged_free(&sd);
    return rc;
}

int clu_job_end(clu *c, const clu_job *j, const char *outcome, const char *reason,
                int64_t document_id, rag_err *err)
{
    int rc = clu_begin(c, NULL, err);
    if (!rc) rc = end_job(c, j->id, j->lease_token, outcome, reason, document_id, err);
    if (!rc) rc = clu_commit(c, err);
    if (rc) clu_rollback(c);
    return rc;
}

/* Runs sql (one parameter: the document id, more in v) and, when it
 * changed a row, logs the document; in one transaction. 1 changed, 0 not. */
static int doc_change(clu *c, const char *sql, int n, const char *const *v, int64_t id,
                      rag_err *err)
{
    int rc = clu_begin(c, NULL, err);
    PGresult *r = rc ? NULL : clu_query(c, sql, n, v, NULL, NULL, err);
    if (!r) {
        clu_rollback(c);
        return err->code;
    }
    int changed = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    if (changed) rc = clu_log_lock(c, err);
    if (!rc && changed) rc = clu_log_append(c, "doc", id, err);
    if (!rc) rc = clu_commit(c, err);
    if (rc) {
        clu_rollback(c);
        return rc;
    }
    return changed;
}

int clu_doc_touch(clu *c, int64_t id, int64_t mtime_ns, const char *labels, rag_err *err)
{
    char ids[24], mt[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    snprintf(mt, sizeof mt, "%lld", (long long)mtime_ns);
    const char *v[] = {ids, mt, labels};
    int rc = doc_change(c,
                        "UPDATE documents SET mtime = $2, labels = coalesce($3, labels) "
                        "WHERE id = $1 AND (mtime <> $2 OR labels <> coalesce($3, labels))",
                        3, v, id, err);
    return rc < 0 ? rc : 0;
}

int clu_doc_delete(clu *c, int64_t id, rag_err *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = {ids};
    return doc_change(c, "DELETE FROM documents WHERE id = $1", 1, v, id, err);
}

/* ---- API keys ---------------------------------------------------------------------- */
static int keys_logged(clu *c, int rc, rag_err *err)
{
    if (!rc) rc = clu_log_lock(c, err);
    if (!rc) rc = clu_log_append(c, "keys", 0, err);
    if (!rc) rc = clu_commit(c, err);
    if (rc) clu_rollback(c);
    return rc;
}

int clu_key_add(clu *c, const store_key *k, rag_err *err)
{
    char perms[16], at[24];
    snprintf(perms, sizeof perms, "%d", k->perms);
    snprintf(at, sizeof at, "%lld", (long long)(k->created_at ? k->created_at : time(NULL)));
    const char *v[] = {k->name, k->prefix, k->hash, k->roles ? k->roles : "", perms, at};
    int rc = clu_begin(c, NULL, err);
    PGresult *r = rc ? NULL
                     : clu_query(c,
                                 "INSERT INTO api_keys(name, prefix, hash, roles, perms, "
                                 "created_at) VALUES ($1, $2, $3, $4, $5, $6) "
                                 "ON CONFLICT DO NOTHING",
                                 6, v, NULL, NULL, err);
    if (!r) {
        clu_rollback(c);
        return err->code;
    }
    if (atoi(PQcmdTuples(r)) == 0)
        rc = rag_err_set(err, RAG_ERR_INVALID, "%s: a key named '%s' exists already", c->name,
                         k->name);
    PQclear(r);
    return keys_logged(c, rc, err);
}

int clu_key_delete(clu *c, const char *name, rag_err *err)
{
    const char *v[] = {name};
    int rc = clu_begin(c, NULL, err);
    PGresult *r =
        rc ? NULL : clu_query(c, "DELETE FROM api_keys WHERE name = $1", 1, v, NULL, NULL, err);
    if (!r) {
        clu_rollback(c);
        return err->code;
    }
    int gone = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    if (!gone) {
        clu_rollback(c);
        return 0;
    }
    rc = keys_logged(c, 0, err);
    return rc ? rc : 1;
}

int clu_key_list(clu *c, store_key **out, size_t *n, rag_err *err)
{
    *out = NULL;
    *n = 0;
    PGresult *r = clu_query(c,
                            "SELECT id, name, prefix, hash, roles, perms, created_at FROM api_keys "
                            "ORDER BY name",
                            0, NULL, NULL, NULL, err);
    if (!r) return err->code;
    size_t m = (size_t)PQntuples(r);
    store_key *v = rag_xcalloc(m ? m : 1, sizeof *v);
    for (size_t i = 0; i < m; i++) {
        v[i].id = clu_col_i64(r, (int)i, 0);
        v[i].name = clu_col_str(r, (int)i, 1);
        v[i].prefix = clu_col_str(r, (int)i, 2);
        v[i].hash = clu_col_str(r, (int)i, 3);
        v[i].roles = clu_col_str(r, (int)i, 4);
        v[i].perms = (int)clu_col_i64(r, (int)i, 5);
        v[i].created_at = clu_col_i64(r, (int)i, 6);
    }
    PQclear(r);
    *out = v;
    *n = m;
    return 0;
}
