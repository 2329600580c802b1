/* cluster/follow.c: a local replica follows the cluster's change log.
 *
 * The replica is an ordinary SQLite database of store/ (keyword indexes per
 * ACL group, vector indexes beside it), written only by clu_follow. Its
 * settings table keeps the cluster's id ('cluster.id'), the last sequence
 * applied ('cluster.seq') and when ('cluster.synced_at').
 *
 * One round reads, in one REPEATABLE READ snapshot of PostgreSQL, up to
 * BATCH entries after the replica's position and the current state of the
 * documents they name (a document changed three times is applied once, as
 * it is now; a removed one is removed), and applies them in one SQLite
 * transaction that also records the sequence reached: a replica killed at
 * any point holds a whole round or none, and the next run goes on from
 * there. A new replica, or one behind a log that was cut, copies every
 * document instead (a full round) and removes what the cluster no longer
 * has. Ids are the cluster's, so every replica returns the same ids. */
#include "cluster/cluster_int.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/principal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 500

char *clu_replica_default_path(void)
{
    char *def = store_default_path();
    char *slash = strrchr(def, '/');
    char *path = slash ? rag_xasprintf("%.*s/replica.db", (int)(slash - def), def)
                       : rag_xstrdup("replica.db");
    rag_free(def);
    return path;
}

int clu_replica_position(store *replica, int64_t *seq, double *synced_at, rag_err *err)
{
    char *v = NULL;
    int rc = store_meta_get(replica, "cluster.seq", &v, err);
    *seq = v ? strtoll(v, NULL, 10) : 0;
    rag_free(v);
    v = NULL;
    if (!rc && synced_at) {
        rc = store_meta_get(replica, "cluster.synced_at", &v, err);
        *synced_at = v ? strtod(v, NULL) : 0;
        rag_free(v);
    }
    return rc;
}

static int set_meta_i64(store *s, const char *key, int64_t v, rag_err *err)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return store_meta_set(s, key, b, err);
}

/* The replica belongs to this cluster (or to none yet). */
static int check_identity(clu *c, store *replica, rag_err *err)
{
    char *id = NULL;
    int rc = store_meta_get(replica, "cluster.id", &id, err);
    if (!rc && id && strcmp(id, c->id))
        rc = rag_err_set(err, RAG_ERR_INVALID,
                         "%s is a replica of another cluster (%s), not of %s (%s): give this "
                         "node another replica path (cluster.replica) or remove that file",
                         store_path(replica), id, c->name, c->id);
    rag_free(id);
    return rc;
}

/* The cluster's embedding model, made the replica's: *local is its id there
 * (0 when the cluster has none yet), *dims its size. */
static int sync_model(clu *c, store *replica, int64_t *local, int *dims, rag_err *err)
{
    *local = 0;
    *dims = 0;
    PGresult *r = clu_query(c,
                            "SELECT m.name, m.file_sha256, m.dims, m.pooling, m.normalized, "
                            "m.query_prefix, m.doc_prefix" CLU_MODEL_FROM,
                            0, NULL, NULL, NULL, err);
    if (!r) return err->code;
    int rc = 0;
    if (PQntuples(r)) {
        store_model m = {0};
        snprintf(m.name, sizeof m.name, "%s", PQgetvalue(r, 0, 0));
        snprintf(m.file_sha256, sizeof m.file_sha256, "%s", PQgetvalue(r, 0, 1));
        m.dims = atoi(PQgetvalue(r, 0, 2));
        snprintf(m.pooling, sizeof m.pooling, "%s", PQgetvalue(r, 0, 3));
        m.normalized = atoi(PQgetvalue(r, 0, 4));
        snprintf(m.query_prefix, sizeof m.query_prefix, "%s", PQgetvalue(r, 0, 5));
        snprintf(m.doc_prefix, sizeof m.doc_prefix, "%s", PQgetvalue(r, 0, 6));
        store_model cur;
        int has = store_model_active(replica, &cur, err);
        rc = has < 0 ? has : store_model_ensure(replica, &m, err);
        if (!rc && (!has || cur.id != m.id)) rc = store_model_set_active(replica, m.id, err);
        *local = m.id;
        *dims = m.dims;
    }
    PQclear(r);
    return rc;
}

/* The key of the ids the API shows: the cluster's, so that every node
 * shows the same ids (rag/ids.c reads it from the settings). */
static int sync_id_key(clu *c, store *replica, rag_err *err)
{
    PGresult *r = clu_query(c, "SELECT value FROM settings WHERE key = 'api.id_key'", 0, NULL, NULL,
                            NULL, err);
    if (!r) return err->code;
    int rc = 0;
    if (PQntuples(r)) {
        char *cur = NULL;
        rc = store_meta_get(replica, "api.id_key", &cur, err);
        if (!rc && (!cur || strcmp(cur, PQgetvalue(r, 0, 0))))
            rc = store_meta_set(replica, "api.id_key", PQgetvalue(r, 0, 0), err);
        rag_free(cur);
    }
    PQclear(r);
    return rc;
}

static int apply_keys(clu *c, store *replica, rag_err *err)
{
    store_key *keys;
    size_t n;
    int rc = clu_key_list(c, &keys, &n, err);
    if (rc) return rc;
    rc = store_key_clear(replica, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = store_key_add(replica, &keys[i], err);
    store_keys_free(keys, n);
    return rc;
}

static int apply_doc(clu *c, store *replica, int64_t id, int64_t model, int dims, rag_err *err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *v[] = {ids};
    PGresult *d = clu_query(c,
                            "SELECT uri, ext_id, title, content_hash, mtime, size, mime, labels, "
                            "metadata_json FROM documents WHERE id = $1",
                            1, v, NULL, NULL, err);
    if (!d) return err->code;
    int rc = 0;
    if (PQntuples(d) == 0) { /* removed from the cluster */
        PQclear(d);
        store_doc old;
        int found = store_doc_get(replica, id, NULL, &old, err);
        if (found <= 0) return found;
        store_doc_free(&old);
        return store_doc_delete(replica, id, err);
    }
    PGresult *ch = clu_query(c,
                             "SELECT id, text, n_tokens, byte_start, byte_end, heading_path, "
                             "vector FROM chunks WHERE document_id = $1 ORDER BY ordinal",
                             1, v, NULL, NULL, err);
    if (!ch) {
        PQclear(d);
        return err->code;
    }
    rag_strv labels = {0};
    rc = rag_labels_parse(PQgetvalue(d, 0, 7), "labels", &labels, err);
    int64_t group = 0;
    if (!rc) rc = store_acl_group(replica, &labels, &group, err);
    rag_strv_free(&labels);
    size_t n = (size_t)PQntuples(ch);
    store_chunk_in *in = rag_xcalloc(n ? n : 1, sizeof *in);
    unsigned char **vecs = rag_xcalloc(n ? n : 1, sizeof *vecs);
    for (size_t i = 0; !rc && i < n; i++) {
        int row = (int)i;
        in[i].id = clu_col_i64(ch, row, 0);
        in[i].text = PQgetvalue(ch, row, 1);
        in[i].len = (size_t)PQgetlength(ch, row, 1);
        in[i].n_tokens = (size_t)clu_col_i64(ch, row, 2);
        in[i].byte_start = (size_t)clu_col_i64(ch, row, 3);
        in[i].byte_end = (size_t)clu_col_i64(ch, row, 4);
        in[i].heading_path = PQgetvalue(ch, row, 5);
        if (PQgetisnull(ch, row, 6)) continue;
        size_t len = 0;
        vecs[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(ch, row, 6), &len);
        if (!model || len != (size_t)dims * sizeof(float))
            rc = rag_err_set(err, RAG_ERR_CORRUPT,
                             "%s: chunk %lld has a vector of %zu bytes; the cluster's model "
                             "makes %d floats",
                             c->name, (long long)in[i].id, len, dims);
        else
            in[i].vector = (const float *)vecs[i];
    }
    if (!rc) {
        store_doc_in din = {
            .id = id,
            .uri = PQgetvalue(d, 0, 0),
            .ext_id = PQgetisnull(d, 0, 1) ? NULL : PQgetvalue(d, 0, 1),
            .title = PQgetvalue(d, 0, 2),
            .content_hash = PQgetvalue(d, 0, 3),
            .mtime_ns = clu_col_i64(d, 0, 4),
            .size = clu_col_i64(d, 0, 5),
            .mime = PQgetvalue(d, 0, 6),
            .metadata_json = PQgetvalue(d, 0, 8),
            .acl_group = group,
        };
        rc = store_doc_replace(replica, &din, in, n, model, dims, NULL, err);
    }
    for (size_t i = 0; i < n; i++)
        if (vecs[i]) PQfreemem(vecs[i]);
    rag_free(vecs);
    rag_free(in);
    PQclear(ch);
    PQclear(d);
    return rc;
}

/* Every local document the cluster no longer has goes (a full round). */
typedef struct local_ids {
    int64_t *v;
    size_t n, cap;
} local_ids;

static int collect_id(void *ctx, const store_doc *d)
{
    local_ids *l = ctx;
    l->v = rag_xgrow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = d->id;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int drop_missing(store *replica, const int64_t *keep, size_t n_keep, rag_err *err)
{
    local_ids l = {0};
    int rc = store_doc_each(replica, NULL, collect_id, &l, err);
    for (size_t i = 0; !rc && i < l.n; i++)
        if (!bsearch(&l.v[i], keep, n_keep, sizeof *keep, cmp_i64))
            rc = store_doc_delete(replica, l.v[i], err);
    rag_free(l.v);
    return rc;
}

/* One round: 1 when the replica reached the head, 0 when more remains. */
static int follow_round(clu *c, store *replica, clu_follow_report *rep, rag_err *err)
{
    int64_t pos;
    int rc = clu_replica_position(replica, &pos, NULL, err);
    if (rc) return rc;
    rc = clu_begin(c, "ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (rc) return rc;
    PGresult *h = clu_query(c, "SELECT coalesce(max(seq), 0), coalesce(min(seq), 0) FROM changes",
                            0, NULL, NULL, NULL, err);
    if (!h) {
        clu_rollback(c);
        return err->code;
    }
    int64_t head = clu_col_i64(h, 0, 0), low = clu_col_i64(h, 0, 1);
    PQclear(h);
    if (head == pos) {
        clu_rollback(c);
        return 1;
    }
    /* a new replica, one behind a cut log, or one ahead of a cluster that
     * was restored from an older backup: copy everything */
    int full = pos == 0 || low > pos + 1 || head < pos;
    int64_t upto = head;
    int keys = full;
    int64_t *docs = NULL;
    size_t n_docs = 0;
    char ps[24];
    snprintf(ps, sizeof ps, "%lld", (long long)pos);
    char bs[16];
    snprintf(bs, sizeof bs, "%d", BATCH);
    const char *bv[] = {ps, bs};
    PGresult *r =
        full ? clu_query(c, "SELECT id FROM documents ORDER BY id", 0, NULL, NULL, NULL, err)
             : clu_query(c,
                         "SELECT seq, kind, ref FROM changes WHERE seq > $1 "
                         "ORDER BY seq LIMIT $2",
                         2, bv, NULL, NULL, err);
    if (!r) {
        clu_rollback(c);
        return err->code;
    }
    size_t n = (size_t)PQntuples(r);
    docs = rag_xcalloc(n ? n : 1, sizeof *docs);
    for (size_t i = 0; i < n; i++) {
        if (full) {
            docs[n_docs++] = clu_col_i64(r, (int)i, 0);
            continue;
        }
        upto = clu_col_i64(r, (int)i, 0);
        if (!strcmp(PQgetvalue(r, (int)i, 1), "keys"))
            keys = 1;
        else
            docs[n_docs++] = clu_col_i64(r, (int)i, 2);
    }
    PQclear(r);
    qsort(docs, n_docs, sizeof *docs, cmp_i64);
    size_t w = 0; /* each document once */
    for (size_t i = 0; i < n_docs; i++)
        if (!w || docs[w - 1] != docs[i]) docs[w++] = docs[i];
    n_docs = w;

    int64_t model = 0;
    int dims = 0;
    rc = check_identity(c, replica, err);
    if (!rc) rc = store_begin(replica, err);
    if (!rc) {
        rc = sync_model(c, replica, &model, &dims, err);
        if (!rc) rc = sync_id_key(c, replica, err);
        if (!rc && full) rc = drop_missing(replica, docs, n_docs, err);
        for (size_t i = 0; !rc && i < n_docs; i++)
            rc = apply_doc(c, replica, docs[i], model, dims, err);
        if (!rc && keys) rc = apply_keys(c, replica, err);
        if (!rc) rc = store_meta_set(replica, "cluster.id", c->id, err);
        if (!rc) rc = set_meta_i64(replica, "cluster.seq", upto, err);
        char now[32];
        snprintf(now, sizeof now, "%.3f", (double)time(NULL));
        if (!rc) rc = store_meta_set(replica, "cluster.synced_at", now, err);
        if (!rc) rc = store_commit(replica, err);
        if (rc) store_rollback(replica);
    }
    clu_rollback(c); /* read only: nothing to commit */
    rag_free(docs);
    if (rc) return rc;
    if (rep) {
        rep->docs += n_docs;
        rep->keys += (size_t)keys;
        rep->full |= full;
        rep->seq_after = upto;
    }
    return upto == head;
}

int clu_follow(clu *c, store *replica, clu_follow_report *rep, rag_err *err)
{
    clu_follow_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    int rc = clu_replica_position(replica, &rep->seq_before, NULL, err);
    rep->seq_after = rep->seq_before;
    /* a new replica takes the cluster's identity and id key first, even
     * from an empty cluster */
    char *id = NULL;
    if (!rc) rc = store_meta_get(replica, "cluster.id", &id, err);
    if (!rc && !id) {
        rc = store_begin(replica, err);
        if (!rc) rc = sync_id_key(c, replica, err);
        if (!rc) rc = store_meta_set(replica, "cluster.id", c->id, err);
        if (!rc) rc = store_commit(replica, err);
        if (rc) store_rollback(replica);
    }
    rag_free(id);
    for (int rounds = 0; !rc; rounds++) {
        rc = follow_round(c, replica, rep, err);
        if (rc == 1) return 0;
        if (rounds > 100000) break; /* bounded: the log grows faster than we read */
    }
    return rc;
}

/* ---- comparing a replica with the cluster -------------------------------------------- */
typedef struct doc_sum {
    int64_t id;
    char *uri, *labels;
    char hash[65];
    int64_t n_chunks, n_vectors;
    char chunk_ids_sha[65], text_sha[65], vec_sha[65];
} doc_sum;

typedef struct local_sums {
    store *s;
    int64_t model;
    int dims;
    doc_sum *v;
    size_t n, cap;
    rag_buf ids, text, vecs;
    float *vec;
    int rc;
    rag_err *err;
} local_sums;

static int sum_chunk(void *ctx, const store_chunk *ch)
{
    local_sums *ls = ctx;
    doc_sum *d = &ls->v[ls->n - 1];
    rag_buf_printf(&ls->ids, "%s%lld", d->n_chunks ? "," : "", (long long)ch->id);
    if (d->n_chunks) rag_buf_putc(&ls->text, '\x1f');
    rag_buf_puts(&ls->text, ch->text);
    d->n_chunks++;
    if (ls->model) {
        int got = store_vector_get(ls->s, ch->id, ls->model, ls->vec, ls->dims, ls->err);
        if (got < 0) return got;
        if (got) {
            rag_buf_append(&ls->vecs, ls->vec, (size_t)ls->dims * sizeof(float));
            d->n_vectors++;
        }
    }
    return 0;
}

static int sum_doc(void *ctx, const store_doc *sd)
{
    local_sums *ls = ctx;
    ls->v = rag_xgrow(ls->v, &ls->cap, ls->n + 1, sizeof *ls->v);
    doc_sum *d = &ls->v[ls->n++];
    memset(d, 0, sizeof *d);
    d->id = sd->id;
    d->uri = rag_xstrdup(sd->uri);
    d->labels = rag_xstrdup(sd->labels ? sd->labels : "");
    snprintf(d->hash, sizeof d->hash, "%s", sd->content_hash);
    rag_buf_clear(&ls->ids);
    rag_buf_clear(&ls->text);
    rag_buf_clear(&ls->vecs);
    int rc = store_chunk_each(ls->s, sd->id, sum_chunk, ls, ls->err);
    if (rc) return rc;
    rag_sha256_hex(ls->ids.data ? ls->ids.data : "", ls->ids.len, d->chunk_ids_sha);
    rag_sha256_hex(ls->text.data ? ls->text.data : "", ls->text.len, d->text_sha);
    rag_sha256_hex(ls->vecs.data ? ls->vecs.data : "", ls->vecs.len, d->vec_sha);
    return 0;
}

static int cmp_sum(const void *a, const void *b)
{
    return cmp_i64(&((const doc_sum *)a)->id, &((const doc_sum *)b)->id);
}

int clu_check(clu *c, store *replica, rag_strv *problems, rag_err *err)
{
    /* the replica at the head of a snapshot the comparison then reads */
    int rc = 0;
    int64_t pos = 0, head = -1;
    for (int tries = 0; tries < 20; tries++) {
        rc = clu_follow(c, replica, NULL, err);
        if (!rc) rc = clu_replica_position(replica, &pos, NULL, err);
        if (!rc) rc = clu_begin(c, "ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
        if (!rc) rc = clu_log_head(c, &head, err);
        if (rc || head == pos) break;
        clu_rollback(c); /* writes came in between: again */
    }
    if (rc) {
        clu_rollback(c);
        return rc;
    }
    if (head != pos) {
        clu_rollback(c);
        return rag_err_set(err, RAG_ERR_BUSY,
                           "%s: the change log kept moving; check again when writes pause",
                           c->name);
    }
    PGresult *r = clu_query(
        c,
        "SELECT d.id, d.uri, d.labels, d.content_hash, count(c.id), count(c.vector), "
        "encode(sha256(convert_to(coalesce(string_agg(c.id::text, ',' ORDER BY c.ordinal), ''), "
        "'UTF8')), 'hex'), "
        "encode(sha256(convert_to(coalesce(string_agg(c.text, E'\\x1f' ORDER BY c.ordinal), ''), "
        "'UTF8')), 'hex'), "
        "encode(sha256(coalesce(string_agg(c.vector, ''::bytea ORDER BY c.ordinal), "
        "''::bytea)), 'hex') "
        "FROM documents d LEFT JOIN chunks c ON c.document_id = d.id GROUP BY d.id ORDER BY d.id",
        0, NULL, NULL, NULL, err);
    clu_rollback(c);
    if (!r) return err->code;

    local_sums ls = {.s = replica, .err = err};
    store_model m;
    int has = store_model_active(replica, &m, err);
    if (has < 0) rc = has;
    if (has > 0) {
        ls.model = m.id;
        ls.dims = m.dims;
        ls.vec = rag_xcalloc((size_t)m.dims, sizeof(float));
    }
    if (!rc) rc = store_doc_each(replica, NULL, sum_doc, &ls, err);
    if (!rc) {
        qsort(ls.v, ls.n, sizeof *ls.v, cmp_sum);
        size_t n = (size_t)PQntuples(r), j = 0;
        for (size_t i = 0; i < n; i++) {
            int row = (int)i;
            int64_t id = clu_col_i64(r, row, 0);
            const char *uri = PQgetvalue(r, row, 1);
            for (; j < ls.n && ls.v[j].id < id; j++)
                rag_strv_pushf(problems, "replica: document %lld (%s) is not in the cluster",
                               (long long)ls.v[j].id, ls.v[j].uri);
            if (j == ls.n || ls.v[j].id != id) {
                rag_strv_pushf(problems, "replica: document %lld (%s) is missing", (long long)id,
                               uri);
                continue;
            }
            doc_sum *d = &ls.v[j++];
            const char *what = strcmp(d->uri, uri)                               ? "uri"
                               : strcmp(d->labels, PQgetvalue(r, row, 2))        ? "labels"
                               : strcmp(d->hash, PQgetvalue(r, row, 3))          ? "content hash"
                               : d->n_chunks != clu_col_i64(r, row, 4)           ? "chunk count"
                               : d->n_vectors != clu_col_i64(r, row, 5)          ? "vector count"
                               : strcmp(d->chunk_ids_sha, PQgetvalue(r, row, 6)) ? "chunk ids"
                               : strcmp(d->text_sha, PQgetvalue(r, row, 7))      ? "chunk texts"
                               : strcmp(d->vec_sha, PQgetvalue(r, row, 8))       ? "vectors"
                                                                                 : NULL;
            if (what)
                rag_strv_pushf(problems,
                               "replica: document %lld (%s): %s differ from the cluster's",
                               (long long)id, uri, what);
        }
        for (; j < ls.n; j++)
            rag_strv_pushf(problems, "replica: document %lld (%s) is not in the cluster",
                           (long long)ls.v[j].id, ls.v[j].uri);
    }
    PQclear(r);
    for (size_t i = 0; i < ls.n; i++) {
        rag_free(ls.v[i].uri);
        rag_free(ls.v[i].labels);
    }
    rag_free(ls.v);
    rag_free(ls.vec);
    rag_buf_free(&ls.ids);
    rag_buf_free(&ls.text);
    rag_buf_free(&ls.vecs);
    return rc;
}
