/* store/vindex_search.c: vector search, and its hits.
 *
 * What it does: store_search_vector. It checks the active model and the
 * change log's last sequence (two small queries) and syncs the indexes in
 * memory (vindex_sync.c, no files) when they moved; then it searches the
 * index of every group the principal may see (store_visible_groups, the
 * list keyword search uses), merges the per-group top k by score (ties:
 * the lower chunk id), keeps the best chunk per document when asked
 * (looking deeper when documents with many close chunks crowd the top),
 * and fetches the hits' fields in one query that applies the visibility
 * rule again (store_visible_sql) and reads rows with the function keyword
 * search uses (store_hit_from_row, search.c). What it owns: the ranking of
 * candidates and the vector snippet (the chunk's first SNIPPET_BYTES).
 * What it calls: vindex_sync.c and vindex_build.c (snapshot, model, log),
 * vindex_faiss.c (one group's search, one OpenMP thread around them),
 * visible.c and search.c.
 *
 * Visibility. The index only ever holds what SQLite said, but a hit leaves
 * here only if this search's SQLite snapshot shows the chunk to the caller
 * now: in the background mode (vindex_sync.c) an index may still hold a
 * chunk deleted or moved to another group, and such a chunk is dropped
 * (fetch_hits and fill_docs join chunks and documents); the price is a
 * search that may return fewer than k hits until the catch-up. Inside a
 * caller's write transaction the search sees the uncommitted changes, and
 * the memory it synced is dropped afterwards. */
#include "store/vindex_int.h"
#include "base/buf.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define SNIPPET_BYTES 240

typedef struct cand {
    float score;
    int64_t id;
    int64_t doc;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_cand_id(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The ids of the groups `who` may see (store_visible_groups, as keyword
 * search takes them) that have an index. */
static int visible_groups(store *s, vindex *vi, const rag_principal *who, int64_t **out,
                          size_t *n_out, rag_err *err)
{
    int rc = store_visible_groups(s, who, out, n_out, err);
    if (rc) return rc;
    size_t k = 0;
    for (size_t i = 0; i < *n_out; i++) /* (an index may be empty: searched, nothing found) */
        if (vindex_group_find(vi, (*out)[i])) (*out)[k++] = (*out)[i];
    *n_out = k;
    return 0;
}

/* The best kk over the given groups, merged by score (ties: lower id). */
static int search_groups(vindex *vi, const float *q, const int64_t *gids, size_t n_g, size_t kk,
                         cand **out, size_t *n_out, rag_err *err)
{
    cand *c = NULL;
    size_t n = 0, cap = 0;
    float *dist = NULL;
    int64_t *lab = NULL;
    size_t buf = 0;
    int rc = 0;
    int prev = vindex_omp_single_begin();
    for (size_t i = 0; !rc && i < n_g; i++) {
        vgroup *g = vindex_group_find(vi, gids[i]);
        pthread_rwlock_rdlock(&g->lock); /* a catch-up of this group waits, not of others */
        size_t k = g->idx ? (kk < g->n_ids ? kk : g->n_ids) : 0;
        if (k > buf) {
            dist = rag_xrealloc(dist, k * sizeof *dist);
            lab = rag_xrealloc(lab, k * sizeof *lab);
            buf = k;
        }
        rc = vindex_group_search(vi, g, q, k, dist, lab, err);
        pthread_rwlock_unlock(&g->lock);
        if (rc || !k) continue;
        c = rag_xgrow(c, &cap, n + k, sizeof *c);
        for (size_t j = 0; j < k; j++)
            if (lab[j] >= 0) c[n++] = (cand){dist[j], lab[j], 0};
    }
    vindex_omp_single_end(prev);
    rag_free(dist);
    rag_free(lab);
    if (rc) {
        rag_free(c);
        return rc;
    }
    qsort(c, n, sizeof *c, cmp_cand);
    if (n > kk) n = kk;
    *out = c;
    *n_out = n;
    return 0;
}

static char *ids_json(const cand *c, size_t n)
{
    rag_buf b = {0};
    rag_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++)
        rag_buf_printf(&b, "%s%lld", i ? "," : "", (long long)c[i].id);
    rag_buf_putc(&b, ']');
    return rag_buf_steal(&b);
}

/* Position of chunk id in c sorted by id (the copy `by_id`), or -1. */
static ssize_t rank_of(const cand *by_id, const size_t *pos, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (by_id[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && by_id[lo].id == id ? (ssize_t)pos[lo] : -1;
}

typedef struct idpos {
    cand c;
    size_t pos;
} idpos;

static int cmp_idpos(const void *a, const void *b)
{
    return cmp_cand_id(&((const idpos *)a)->c, &((const idpos *)b)->c);
}

/* Sorted-by-id view of c for rank_of. */
static void by_id_view(const cand *c, size_t n, cand **by_id, size_t **pos)
{
    idpos *t = rag_xmalloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; i < n; i++)
        t[i] = (idpos){c[i], i};
    qsort(t, n, sizeof *t, cmp_idpos);
    *by_id = rag_xmalloc((n ? n : 1) * sizeof **by_id);
    *pos = rag_xmalloc((n ? n : 1) * sizeof **pos);
    for (size_t i = 0; i < n; i++)
        (*by_id)[i] = t[i].c, (*pos)[i] = t[i].pos;
    rag_free(t);
}

/* Fills c[].doc for per-document selection. */
static int fill_docs(store *s, cand *c, size_t n, rag_err *err)
{
    char *json = ids_json(c, n);
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT c.id, c.document_id FROM json_each(?1) j "
                           "JOIN chunks c ON c.id = j.value",
                           &st, err);
    if (!rc) {
        cand *by_id;
        size_t *pos;
        by_id_view(c, n, &by_id, &pos);
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
        for (size_t i = 0; i < n; i++)
            c[i].doc = -1; /* chunk gone: never chosen */
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            ssize_t r = rank_of(by_id, pos, n, sqlite3_column_int64(st, 0));
            if (r >= 0) c[r].doc = sqlite3_column_int64(st, 1);
        }
        if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read chunk documents", err);
        sqlite3_finalize(st);
        rag_free(by_id);
        rag_free(pos);
    }
    rag_free(json);
    return rc;
}

typedef struct docrank {
    int64_t doc;
    size_t rank;
} docrank;

static int cmp_docrank(const void *a, const void *b)
{
    const docrank *x = a, *y = b;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Keeps the best chunk of each document (c in rank order), at most k. */
static size_t best_per_document(cand *c, size_t n, size_t k)
{
    docrank *d = rag_xmalloc((n ? n : 1) * sizeof *d);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].doc >= 0) d[m++] = (docrank){c[i].doc, i};
    qsort(d, m, sizeof *d, cmp_docrank);
    size_t *keep = rag_xmalloc((m ? m : 1) * sizeof *keep), nk = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || d[i].doc != d[i - 1].doc) keep[nk++] = d[i].rank;
    qsort(keep, nk, sizeof *keep, cmp_size);
    if (nk > k) nk = k;
    for (size_t i = 0; i < nk; i++)
        c[i] = c[keep[i]];
    rag_free(d);
    rag_free(keep);
    return nk;
}

/* The first SNIPPET_BYTES of the chunk, cut on a character boundary. */
static char *make_snippet(const unsigned char *b, int len)
{
    if (!b || len <= 0) return rag_xstrdup("");
    size_t n = (size_t)len;
    if (n <= SNIPPET_BYTES) return rag_xstrndup((const char *)b, n);
    n = SNIPPET_BYTES;
    while (n > 0 && (b[n] & 0xC0) == 0x80)
        n--; /* b[n] starts the cut-off character */
    char *out = rag_xmalloc(n + 4);
    memcpy(out, b, n);
    memcpy(out + n, "\xE2\x80\xA6", 4); /* … and the NUL */
    return out;
}

static int fetch_hits(store *s, const cand *c, size_t n, const rag_principal *who,
                      const store_search_params *p, store_hits *out, rag_err *err)
{
    char sql[2048];
    /* Visibility again, in SQL, on every hit: the index only ever held what
     * SQLite says, but a hit leaves here only if the database agrees now. */
    snprintf(sql, sizeof sql,
             "SELECT " STORE_HIT_COLUMNS ", %s, %s FROM json_each(:ids) j "
             "JOIN chunks c ON c.id = j.value JOIN documents d ON d.id = c.document_id WHERE %s",
             p->want_text ? "c.text" : "NULL",
             p->want_snippet ? "substr(CAST(c.text AS BLOB), 1, 256)" : "NULL",
             store_visible_sql(who));
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, err);
    if (rc) return rc;
    char *json = ids_json(c, n);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":ids"), json, -1, SQLITE_STATIC);
    char *roles = store_bind_roles(st, who);
    cand *by_id;
    size_t *pos;
    by_id_view(c, n, &by_id, &pos);
    store_hit *slot = rag_xcalloc(n ? n : 1, sizeof *slot);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        ssize_t r = rank_of(by_id, pos, n, sqlite3_column_int64(st, 0));
        if (r < 0 || slot[r].uri) continue;
        store_hit *h = &slot[r];
        store_hit_from_row(st, p->want_text, h); /* chunk_id: c[r].id */
        h->score = c[r].score;
        if (p->want_snippet)
            h->snippet = make_snippet(sqlite3_column_blob(st, 10), sqlite3_column_bytes(st, 10));
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read vector hits", err);
    sqlite3_finalize(st);
    rag_free(roles);
    rag_free(json);
    rag_free(by_id);
    rag_free(pos);
    /* In rank order, leaving out chunks the database no longer shows. */
    out->v = rag_xcalloc(n ? n : 1, sizeof *out->v);
    out->cap = n ? n : 1;
    for (size_t i = 0; i < n; i++)
        if (slot[i].uri) out->v[out->n++] = slot[i];
    rag_free(slot);
    if (rc) store_hits_free(out);
    return rc;
}

int store_search_vector(store *s, const float *q, int dims, const rag_principal *who,
                        const store_search_params *p, store_hits *out, rag_err *err)
{
    memset(out, 0, sizeof *out);
    if (!q || dims < 1) return rag_err_set(err, RAG_ERR_INVALID, "vector search: no query vector");
    vindex *vi = vindex_of(s);
    int locked = 0, resnapshots = 0;
retry:;
    int began = store_read_begin(s, err);
    if (began < 0) return began;
    store_model m;
    int rc = vindex_active_model(s, &m, err);
    if (rc == 0)
        rc = rag_err_set(err, RAG_ERR_INVALID,
                         "%s: the database has no vectors (ingest with --embed-model)", s->path);
    if (rc < 0) goto out;
    rc = 0;
    if (dims != m.dims) {
        rc = rag_err_set(err, RAG_ERR_INVALID,
                         "vector search: the query has %d dimensions, the database's embedding "
                         "model (%s) has %d",
                         dims, m.name, m.dims);
        goto out;
    }
    if (p->k == 0) goto out;
    int tainted = 0;
    logpos lp = {0, 0};
    /* Up to date for this snapshot: search under the read lock. Else sync
     * under the write lock (and search under it: rare). Indexes shared with
     * a connection that saw a newer snapshot are ahead of this one: take a
     * new snapshot rather than replay backwards. In the background mode the
     * indexes are searched as they stand (store_vindex_catch_up brings them
     * up to date; fetch_hits drops what this snapshot does not show): only
     * indexes of no or another model are synced here. */
    pthread_rwlock_rdlock(&vi->lock);
    locked = 1;
    int behind = !vi->loaded || vi->model_id != m.id || vi->dims != m.dims;
    if (!behind && !vi->background) {
        pthread_rwlock_unlock(&vi->lock);
        locked = 0;
        rc = vindex_log_position(s, &lp, err);
        if (rc) goto out;
        pthread_rwlock_rdlock(&vi->lock);
        locked = 1;
        behind = !vi->loaded || vi->model_id != m.id || vi->dims != m.dims || vi->seq != lp.hi;
    }
    if (behind) {
        pthread_rwlock_unlock(&vi->lock);
        locked = 0;
        if (vi->shared && s->in_tx) {
            rc = rag_err_set(err, RAG_ERR_INVALID,
                             "%s: shared vector indexes are not searched inside a transaction",
                             s->path);
            goto out;
        }
        rc = vindex_log_position(s, &lp, err);
        if (rc) goto out;
        pthread_mutex_lock(&vi->sync_mu);
        pthread_rwlock_wrlock(&vi->lock);
        locked = 1;
        if (vi->shared && began == 1 && vi->loaded && vi->model_id == m.id && vi->seq > lp.hi &&
            resnapshots < 3) {
            pthread_rwlock_unlock(&vi->lock);
            pthread_mutex_unlock(&vi->sync_mu);
            locked = 0;
            store_read_end(s, began);
            resnapshots++;
            goto retry;
        }
        if (!vi->loaded || vi->model_id != m.id || vi->dims != m.dims ||
            (!vi->background && vi->seq != lp.hi)) {
            rc = vindex_sync_memory(s, vi, &m, &lp, NULL, NULL, err);
            if (!rc) tainted = s->in_tx; /* may hold changes that will be rolled back */
        }
        pthread_mutex_unlock(&vi->sync_mu);
        if (rc) goto out;
    }
    int64_t *gids = NULL;
    size_t n_g = 0, total = 0;
    rc = visible_groups(s, vi, who, &gids, &n_g, err);
    if (rc) goto out;
    for (size_t i = 0; i < n_g; i++) {
        vgroup *g = vindex_group_find(vi, gids[i]);
        pthread_rwlock_rdlock(&g->lock);
        total += g->n_ids;
        pthread_rwlock_unlock(&g->lock);
    }
    size_t k = p->k < total ? p->k : total;
    cand *c = NULL;
    size_t n = 0;
    for (size_t kk = k; k;) {
        rag_free(c);
        c = NULL;
        rc = search_groups(vi, q, gids, n_g, kk, &c, &n, err);
        if (rc || !p->per_document) break;
        rc = fill_docs(s, c, n, err);
        if (rc) break;
        cand *copy = rag_xmalloc((n ? n : 1) * sizeof *copy);
        memcpy(copy, c, n * sizeof *c);
        size_t nd = best_per_document(copy, n, k);
        rag_free(copy);
        /* Enough documents, or every visible chunk seen: choose. Else look
         * deeper (documents with many close chunks crowd the top). */
        if (nd >= k || kk >= total) {
            n = best_per_document(c, n, k);
            break;
        }
        kk = kk > total / 4 ? total : kk * 4;
    }
    rag_free(gids);
    if (!rc && k) rc = fetch_hits(s, c, n, who, p, out, err);
    rag_free(c);
    if (tainted) vi->loaded = 0;
out:
    if (locked) pthread_rwlock_unlock(&vi->lock);
    store_read_end(s, began);
    return rc;
}
