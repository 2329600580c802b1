/* store/vindex_build.c: the vector indexes from SQLite: building groups
 * and replaying the change log.
 *
 * What it does: reads the database for the other layers (one read
 * transaction per sync, the change log's position, the active model),
 * builds a group's index from the vectors SQLite holds, and replays the
 * change log into the indexes in memory. What it owns: the SQL that reads
 * vectors and the log. What it calls: SQLite (store.c's helpers), the
 * FAISS layer (vindex_faiss.c) to create, fill and empty indexes, and
 * vindex.c for the groups and their id mirrors.
 *
 * Building. A group with more than params.large_group vectors, at the time
 * it is (re)built, gets the large factory, else a flat index. HNSW cannot
 * remove ids: a removal or an update that touches such a group marks it,
 * and the group is rebuilt from SQLite at the end of the sync. A flat group
 * that grows past large_group is rebuilt the same way (it becomes a large
 * one); a large group shrinks back to flat at its next rebuild. Factories
 * that need training (IVF...) are trained on the first TRAIN_MAX vectors
 * of the group.
 *
 * Replay. The manifest's seq says which prefix of the change log the files
 * reflect. Every op in the log (add, del, acl) is replayed the same way:
 * remove the chunk id from whichever group holds it, then, if the chunk
 * exists and has a vector of the active model, add that vector to its
 * document's group, as SQLite says now. The result depends only on
 * SQLite's current state, so replaying an entry twice, or out of order, or
 * after a group file that already contains it, gives the same indexes: that
 * is what makes a crash anywhere harmless. Replay reads the distinct chunk
 * ids of the log range and works in slices of SLICE ids: one remove_ids per
 * touched group, one SQL query for the vectors, one add_with_ids per group.
 * Each group keeps a sorted mirror of its ids so that finding which groups
 * hold an id costs a binary search, not a FAISS scan. The caller rebuilds
 * everything instead when the range is too long to be worth replaying
 * (more than MAX_REPLAY_IDS chunks), as when the log no longer holds the
 * entries after seq (vindex_log_gap). */
#include "store/vindex_int.h"
#include "base/buf.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLICE 16384                /* chunk ids per replay step */
#define BATCH_BYTES (64u << 20)    /* vectors per add call while building */
#define TRAIN_MAX 131072           /* training set of factories that need one */
#define MAX_REPLAY_IDS (64u << 20) /* beyond this many, rebuilding is cheaper */
#define LIVE_STEP 256              /* vectors added to a live non-flat group at once */

/* ---- reading SQLite ------------------------------------------------------ */

int vindex_log_position(store *s, logpos *lp, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = "
                           "'changes'), 0), coalesce((SELECT max(seq) FROM changes), 0)), "
                           "coalesce((SELECT min(seq) FROM changes), 0)",
                           &st, err);
    if (rc) return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        lp->hi = sqlite3_column_int64(st, 0);
        lp->lo = sqlite3_column_int64(st, 1);
    } else {
        rc = store_sqlite_err(s, step, "read the change log position", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Can the log bring files at `seq` up to lp->hi? */
const char *vindex_log_gap(int64_t seq, const logpos *lp)
{
    if (seq > lp->hi) return "the index files are newer than the change log (another database?)";
    if (seq < lp->hi && (lp->lo == 0 || lp->lo > seq + 1))
        return "the change log no longer holds the changes after the index files";
    return NULL;
}

int vindex_active_model(store *s, store_model *m, rag_err *err)
{
    int rc = store_model_active(s, m, err);
    if (rc == 1 && (m->dims < 1 || m->dims > VINDEX_MAX_DIMS))
        return rag_err_set(err, RAG_ERR_CORRUPT, "%s: embedding model %lld has %d dimensions",
                           s->path, (long long)m->id, m->dims);
    return rc;
}

static int vector_blob(store *s, sqlite3_stmt *st, int col, int64_t chunk, int dims, float *out,
                       rag_err *err)
{
    if (sqlite3_column_bytes(st, col) != dims * (int)sizeof(float))
        return rag_err_set(
            err, RAG_ERR_CORRUPT, "%s: chunk %lld: stored vector has %d bytes, expected %d",
            s->path, (long long)chunk, sqlite3_column_bytes(st, col), dims * (int)sizeof(float));
    memcpy(out, sqlite3_column_blob(st, col),
           (size_t)dims * sizeof(float)); /* little-endian hosts */
    return 0;
}

/* ---- building a group from SQLite ---------------------------------------- */

static void progress_add(prog *pr, size_t n)
{
    pr->done += n;
    if (pr->fn) pr->fn(pr->ctx, pr->done, pr->total);
}

int vindex_count_group(store *s, const vindex *vi, int64_t gid, int64_t *n, rag_err *err)
{
    sqlite3_stmt *st;
    int rc =
        store_prepare(s, "SELECT count(*) " GROUP_VECTORS_SQL "WHERE d.acl_group = ?2", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, vi->model_id);
    sqlite3_bind_int64(st, 2, gid);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = store_sqlite_err(s, step, "count the vectors of a group", err);
    sqlite3_finalize(st);
    return rc;
}

int vindex_group_build(store *s, vindex *vi, int64_t gid, int64_t count, prog *pr, rag_err *err)
{
    int rc = count < 0 ? vindex_count_group(s, vi, gid, &count, err) : 0;
    if (rc) return rc;
    vgroup *g = vindex_group_get(vi, gid);
    vindex_group_clear(g);
    g->id = gid;
    g->dirty = 1;
    if (count == 0) return 0; /* dropped by vindex_groups_compact */
    int large = (uint64_t)count > (uint64_t)vi->large_group;
    rc = vindex_idx_new(vi, gid, large, &g->idx, err);
    if (rc) return rc;
    g->flat = vindex_idx_is_flat(g->idx);
    vindex_set_ef_search(vi, g);
    /* Untrained factories get their first batch as the training set. */
    size_t per = BATCH_BYTES / ((size_t)vi->dims * sizeof(float));
    if (per < 1024) per = 1024;
    if (!vindex_idx_is_trained(g->idx)) per = per > TRAIN_MAX ? per : TRAIN_MAX;
    if ((uint64_t)per > (uint64_t)count) per = (size_t)count;
    float *x = rag_xcalloc(per, (size_t)vi->dims * sizeof(float));
    int64_t *ids = rag_xcalloc(per, sizeof *ids);
    sqlite3_stmt *st;
    rc = store_prepare(s, "SELECT c.id, e.vector " GROUP_VECTORS_SQL "WHERE d.acl_group = ?2", &st,
                       err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, vi->model_id);
        sqlite3_bind_int64(st, 2, gid);
        size_t n = 0;
        int step;
        while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
            ids[n] = sqlite3_column_int64(st, 0);
            rc = vector_blob(s, st, 1, ids[n], vi->dims, x + n * (size_t)vi->dims, err);
            if (!rc && ++n == per) {
                rc = vindex_group_add(vi, g, n, x, ids, err);
                if (pr) progress_add(pr, n);
                n = 0;
            }
        }
        if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read vectors", err);
        if (!rc) rc = vindex_group_add(vi, g, n, x, ids, err);
        if (!rc && pr && n) progress_add(pr, n);
        sqlite3_finalize(st);
    }
    rag_free(x);
    rag_free(ids);
    g = vindex_group_find(vi, gid);
    if (!rc && vindex_ids_from_index(g))
        rc = rag_err_set(err, RAG_ERR_CORRUPT, "%s: group %lld: duplicate chunk ids", vi->dir,
                         (long long)gid);
    return rc;
}

int vindex_rebuild_all(store *s, vindex *vi, prog *pr, rag_err *err)
{
    for (size_t i = 0; i < vi->n_g; i++)
        vindex_group_free(vi->g[i]);
    vi->n_g = 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT d.acl_group, count(*) " GROUP_VECTORS_SQL
                           "GROUP BY d.acl_group ORDER BY d.acl_group",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, vi->model_id);
    int64_t *gc = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        gc = rag_xgrow(gc, &cap, 2 * (n + 1), sizeof *gc);
        gc[2 * n] = sqlite3_column_int64(st, 0);
        gc[2 * n + 1] = sqlite3_column_int64(st, 1);
        pr->total += (size_t)gc[2 * n + 1];
        n++;
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "count vectors per group", err);
    sqlite3_finalize(st);
    for (size_t i = 0; !rc && i < n; i++)
        rc = vindex_group_build(s, vi, gc[2 * i], gc[2 * i + 1], pr, err);
    rag_free(gc);
    vindex_groups_compact(vi);
    return rc;
}

/* ---- replaying the change log -------------------------------------------- */

typedef struct pending {
    int64_t group, id;
    size_t row; /* vector index in the slice's buffer */
} pending;

static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Adds n vectors (sorted ids, none present) to g, creating its index. */
static int group_add_ids(vindex *vi, vgroup *g, size_t n, const float *x, const int64_t *ids,
                         rag_err *err)
{
    int rc = 0;
    if (!g->idx) {
        rc = vindex_idx_new(vi, g->id, 0, &g->idx, err);
        g->flat = 1;
    }
    if (!rc) rc = vindex_group_add(vi, g, n, x, ids, err);
    if (!rc) vindex_ids_merge(g, ids, n);
    return rc;
}

/* One slice of sorted, distinct chunk ids: out of every group, then back
 * into the group SQLite says, with the vector SQLite has. live: searches
 * may be using vi (store_vindex_catch_up): SQLite is read holding no lock,
 * a group is changed under its own lock (a non-flat one LIVE_STEP vectors
 * at a time, so that its searches wait for a short step only), and a new
 * group is built aside and put in place under vi->lock. */
static int replay_slice(store *s, vindex *vi, const int64_t *ids, size_t n, int live, rag_err *err)
{
    int64_t *hit = rag_xmalloc(n * sizeof *hit);
    int rc = 0;
    for (size_t i = 0; !rc && i < vi->n_g; i++) {
        vgroup *g = vi->g[i];
        if (g->rebuild || !g->idx) continue;
        size_t m = vindex_ids_present(g, ids, n, hit);
        if (!m) continue;
        if (live) pthread_rwlock_wrlock(&g->lock);
        rc = vindex_group_remove(vi, g, hit, m, err);
        if (live) pthread_rwlock_unlock(&g->lock);
    }
    rag_free(hit);
    if (rc) return rc;

    rag_buf json = {0};
    rag_buf_putc(&json, '[');
    for (size_t i = 0; i < n; i++)
        rag_buf_printf(&json, "%s%lld", i ? "," : "", (long long)ids[i]);
    rag_buf_putc(&json, ']');
    sqlite3_stmt *st;
    rc = store_prepare(s,
                       "SELECT c.id, d.acl_group, e.vector FROM json_each(?2) j "
                       "JOIN chunks c ON c.id = j.value JOIN documents d ON d.id = c.document_id "
                       "JOIN embeddings e ON e.chunk_id = c.id AND e.model_id = ?1",
                       &st, err);
    if (rc) {
        rag_buf_free(&json);
        return rc;
    }
    sqlite3_bind_int64(st, 1, vi->model_id);
    sqlite3_bind_text(st, 2, json.data, (int)json.len, SQLITE_STATIC);
    const size_t dims = (size_t)vi->dims;
    float *x = rag_xmalloc(n * dims * sizeof *x);
    pending *pv = rag_xmalloc(n * sizeof *pv);
    size_t np = 0;
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (np == n) { /* cannot happen with distinct ids; bound it anyway */
            rc = rag_err_set(err, RAG_ERR_CORRUPT, "%s: a chunk has two vectors of one model",
                             s->path);
            break;
        }
        pv[np].id = sqlite3_column_int64(st, 0);
        pv[np].group = sqlite3_column_int64(st, 1);
        pv[np].row = np;
        rc = vector_blob(s, st, 2, pv[np].id, vi->dims, x + np * dims, err);
        np++;
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read vectors to replay", err);
    sqlite3_finalize(st);
    rag_buf_free(&json);

    qsort(pv, np, sizeof *pv, cmp_pending);
    float *gx = rag_xmalloc((np ? np : 1) * dims * sizeof *gx);
    int64_t *gid = rag_xmalloc((np ? np : 1) * sizeof *gid);
    for (size_t a = 0; !rc && a < np;) {
        size_t b = a;
        while (b < np && pv[b].group == pv[a].group)
            b++;
        for (size_t i = a; i < b; i++) {
            gid[i - a] = pv[i].id;
            memcpy(gx + (i - a) * dims, x + pv[i].row * dims, dims * sizeof *gx);
        }
        vgroup *g = live ? vindex_group_find(vi, pv[a].group) : vindex_group_get(vi, pv[a].group);
        if (!g) { /* live, a new group: built aside, then put in place */
            vgroup *ng = vindex_group_new(pv[a].group);
            rc = group_add_ids(vi, ng, b - a, gx, gid, err);
            if (rc) {
                vindex_group_free(ng);
                break;
            }
            pthread_rwlock_wrlock(&vi->lock);
            vindex_group_insert(vi, ng);
            pthread_rwlock_unlock(&vi->lock);
        } else if (!g->rebuild) { /* a group being rebuilt reads SQLite itself */
            size_t step_n = live && !(g->flat || !g->idx) ? LIVE_STEP : b - a;
            for (size_t i = 0; !rc && i < b - a; i += step_n) {
                size_t m = b - a - i < step_n ? b - a - i : step_n;
                if (live) pthread_rwlock_wrlock(&g->lock);
                rc = group_add_ids(vi, g, m, gx + i * dims, gid + i, err);
                if (live) pthread_rwlock_unlock(&g->lock);
            }
        }
        a = b;
    }
    rag_free(gx);
    rag_free(gid);
    rag_free(x);
    rag_free(pv);
    return rc;
}

/* Replays (from, to]. Returns 1 (nothing changed) when the range names too
 * many chunks to be worth it: the caller rebuilds instead. */
int vindex_replay(store *s, vindex *vi, int64_t from, int64_t to, store_progress_fn fn, void *ctx,
                  int live, rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s,
                           "SELECT DISTINCT chunk_id FROM changes WHERE seq > ?1 AND seq <= ?2 "
                           "ORDER BY chunk_id",
                           &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == MAX_REPLAY_IDS) {
            rc = 1;
            break;
        }
        ids = rag_xgrow(ids, &cap, n + 1, sizeof *ids);
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && step != SQLITE_DONE) rc = store_sqlite_err(s, step, "read the change log", err);
    sqlite3_finalize(st);
    prog pr = {fn, ctx, 0, n};
    for (size_t i = 0; !rc && i < n; i += SLICE) {
        size_t m = n - i < SLICE ? n - i : SLICE;
        rc = replay_slice(s, vi, ids + i, m, live, err);
        if (!rc) progress_add(&pr, m);
    }
    rag_free(ids);
    return rc;
}
