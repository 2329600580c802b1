/* store/vindex_sync.c: bringing the vector indexes up to date with the
 * database: sync (in memory, and the files), rebuild, and the background
 * catch-up of ragd.
 *
 * What it does: decides, from the manifest, the active model and the change
 * log's position, whether the indexes in memory can be replayed forward
 * (vindex_build.c) or must be loaded (vindex_files.c) or rebuilt from
 * SQLite, and writes the files (vindex_persist) when asked. What it owns:
 * the public store_vindex_sync, store_vindex_rebuild,
 * store_vindex_set_background and store_vindex_catch_up, and the sync
 * every other layer calls (vindex_sync_memory). What it calls: the files
 * and build layers, vindex.c for the state and its locks.
 *
 * Every sync reads SQLite inside one read transaction, so the indexes match
 * one snapshot. Everything is rebuilt instead of replayed when the manifest
 * is unusable, when the log no longer holds the entries after the files'
 * seq (compacted: min(seq) > seq + 1) or holds fewer than seq (another
 * database), or when the range is too long to be worth replaying. Inside a
 * caller's write transaction a sync (a search's) sees the uncommitted
 * changes, and the memory is dropped afterwards (a rollback would hand
 * their sequence numbers out again); files are never written inside one.
 *
 * Background mode (ragd: store_vindex_set_background). Replaying inline
 * makes every search that comes after a write wait for the whole replay,
 * under the write lock, whatever groups it searches. In this mode a search
 * never replays: it searches each group's index as it stands and keeps a
 * hit only if its own SQLite snapshot shows the chunk to the caller now
 * (vindex_search.c). What is added shows once store_vindex_catch_up has
 * run: ragd runs it on its own thread and connection, after each of its
 * writes (an upload waits for it before it is answered) and every 250 ms
 * for other processes' writes. A catch-up reads the log and the vectors
 * holding no lock a search takes; it changes a group under that group's
 * own lock only (one remove_ids, or one add of a slice: a flat add is a
 * copy; a non-flat group is fed LIVE_STEP vectors per hold); a group that
 * needs a rebuild is built aside and swapped in; a new group is built aside
 * and inserted, and empty groups dropped, under the structure lock, held
 * for a pointer move. A search therefore waits at most for one step of a
 * group it searches itself, never for another group's changes. What cannot
 * be replayed (no indexes yet, another model, a compacted log, a catch-up
 * that failed half-way) is loaded or rebuilt aside (as a first sync would)
 * and swapped in whole; only indexes of no or another model are still
 * synced by a search. */
#include "store/vindex_int.h"
#include "base/log.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- sync in memory ------------------------------------------------------ */

static void log_reasons(const rag_strv *why, int level)
{
    for (size_t i = 0; i < why->n; i++)
        rag_log(level, "vector index: %s: rebuilding from the database", why->v[i]);
}

int vindex_sync_memory(store *s, vindex *vi, const store_model *m, const logpos *lp,
                       store_progress_fn fn, void *ctx, rag_err *err)
{
    int rc = 0, full = 0;
    rag_strv why = {0};
    if (!vi->loaded || vi->model_id != m->id || vi->dims != m->dims) {
        int first_use;
        rc = vindex_load_files(vi, m, &why, &first_use, err);
        if (rc < 0) goto out;
        full = rc == 1;
        rc = 0;
        if (first_use) { /* nothing written yet: building is expected */
            log_reasons(&why, RAG_LOG_INFO);
            rag_strv_free(&why);
        }
    }
    if (!full) {
        const char *gap = vindex_log_gap(vi->seq, lp);
        if (gap) {
            rag_strv_push(&why, gap);
            full = 1;
        }
    }
    log_reasons(&why, RAG_LOG_WARN);
    vi->model_id = m->id;
    vi->dims = m->dims;
    if (!full && vi->seq < lp->hi) {
        rc = vindex_replay(s, vi, vi->seq, lp->hi, fn, ctx, 0, err);
        if (rc == 1) full = 1, rc = 0;
    }
    if (rc) goto out;
    if (full) {
        prog pr = {fn, ctx, 0, 0};
        rc = vindex_rebuild_all(s, vi, &pr, err);
    } else {
        /* Groups that could not take a removal, whose file failed, or flat
         * ones grown past large_group. */
        prog pr = {fn, ctx, 0, 0};
        int64_t *todo = NULL;
        size_t n = 0, cap = 0;
        for (size_t i = 0; i < vi->n_g; i++) {
            vgroup *g = vi->g[i];
            if (g->flat && g->n_ids > vi->large_group) g->rebuild = 1;
            if (!g->rebuild) continue;
            todo = rag_xgrow(todo, &cap, n + 1, sizeof *todo);
            todo[n++] = g->id;
        }
        int64_t *counts = rag_xcalloc(n ? n : 1, sizeof *counts);
        for (size_t i = 0; !rc && i < n; i++) {
            rc = vindex_count_group(s, vi, todo[i], &counts[i], err);
            pr.total += (size_t)counts[i];
        }
        for (size_t i = 0; !rc && i < n; i++)
            rc = vindex_group_build(s, vi, todo[i], counts[i], &pr, err);
        rag_free(todo);
        rag_free(counts);
        vindex_groups_compact(vi);
    }
    if (!rc) {
        vi->seq = lp->hi;
        vi->loaded = 1;
    }
out:
    rag_strv_free(&why);
    if (rc) vindex_reset(vi); /* half-updated state is never trusted */
    return rc;
}

/* ---- public: sync, rebuild ----------------------------------------------- */

static int sync_locked(store *s, vindex *vi, int persist_files, int force_rebuild,
                       store_progress_fn fn, void *ctx, rag_err *err);

static int sync_impl(store *s, int persist_files, int force_rebuild, store_progress_fn fn,
                     void *ctx, rag_err *err)
{
    vindex *vi = vindex_of(s);
    pthread_mutex_lock(&vi->sync_mu);
    pthread_rwlock_wrlock(&vi->lock);
    int rc =
        vi->shared && s->in_tx
            ? rag_err_set(err, RAG_ERR_INVALID,
                          "%s: shared vector indexes are not synced inside a transaction", s->path)
            : sync_locked(s, vi, persist_files, force_rebuild, fn, ctx, err);
    pthread_rwlock_unlock(&vi->lock);
    pthread_mutex_unlock(&vi->sync_mu);
    return rc;
}

static int sync_locked(store *s, vindex *vi, int persist_files, int force_rebuild,
                       store_progress_fn fn, void *ctx, rag_err *err)
{
    if (persist_files && s->in_tx)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "%s: vector index files are written outside transactions", s->path);
    int began = store_read_begin(s, err);
    if (began < 0) return began;
    store_model m;
    int rc = vindex_active_model(s, &m, err);
    if (rc <= 0) {
        vindex_reset(vi); /* no model: nothing to index */
        store_read_end(s, began);
        return rc;
    }
    logpos lp;
    rc = vindex_log_position(s, &lp, err);
    if (!rc && force_rebuild) {
        vindex_reset(vi);
        vi->model_id = m.id;
        vi->dims = m.dims;
        prog pr = {fn, ctx, 0, 0};
        rc = vindex_rebuild_all(s, vi, &pr, err);
        if (!rc) {
            vi->seq = lp.hi;
            vi->loaded = 1;
        } else {
            vindex_reset(vi);
        }
    } else if (!rc && (!vi->loaded || vi->model_id != m.id || vi->seq != lp.hi)) {
        rc = vindex_sync_memory(s, vi, &m, &lp, fn, ctx, err);
    }
    store_read_end(s, began);
    if (!rc && persist_files) {
        if (force_rebuild)
            for (size_t i = 0; i < vi->n_g; i++)
                vi->g[i]->dirty = 1;
        rc = vindex_persist(vi, err);
        if (rc) vi->loaded = 0; /* memory is fine, but reload to learn the files' state */
    }
    if (!rc && s->in_tx) vi->loaded = 0; /* may hold changes that will be rolled back */
    return rc;
}

int store_vindex_sync(store *s, int persist_files, store_progress_fn progress, void *ctx,
                      rag_err *err)
{
    return sync_impl(s, persist_files, 0, progress, ctx, err);
}

int store_vindex_rebuild(store *s, store_progress_fn progress, void *ctx, rag_err *err)
{
    return sync_impl(s, 1, 1, progress, ctx, err);
}

/* ---- background catch-up ------------------------------------------------- */

void store_vindex_set_background(store *s, int on)
{
    vindex *vi = vindex_of(s);
    pthread_mutex_lock(&vi->sync_mu);
    pthread_rwlock_wrlock(&vi->lock);
    vi->background = on != 0;
    pthread_rwlock_unlock(&vi->lock);
    pthread_mutex_unlock(&vi->sync_mu);
}

/* A private copy of vi's parameters, empty. */
static vindex *vindex_like(store *s, const vindex *vi)
{
    vindex *t = vindex_new(s->path);
    t->large_group = vi->large_group;
    snprintf(t->large_factory, sizeof t->large_factory, "%s", vi->large_factory);
    t->ef_search = vi->ef_search;
    t->model_id = vi->model_id;
    t->dims = vi->dims;
    return t;
}

/* Groups marked for rebuild (a removal from a non-flat index; a flat one
 * grown past large_group), each built aside from SQLite and swapped in
 * under its lock; then groups left empty are dropped under vi->lock. */
static int live_rebuilds(store *s, vindex *vi, rag_err *err)
{
    int rc = 0, empty = 0;
    for (size_t i = 0; !rc && i < vi->n_g; i++) {
        vgroup *g = vi->g[i];
        if (g->flat && g->n_ids > vi->large_group) g->rebuild = 1;
        if (g->rebuild) {
            vindex *t = vindex_like(s, vi);
            rc = vindex_group_build(s, t, g->id, -1, NULL, err);
            vgroup *ng = vindex_group_find(t, g->id);
            if (!rc && ng) {
                struct FaissIndex_H *old_idx = g->idx;
                int64_t *old_ids = g->ids;
                pthread_rwlock_wrlock(&g->lock);
                g->idx = ng->idx;
                g->ids = ng->ids;
                g->n_ids = ng->n_ids;
                g->cap_ids = ng->cap_ids;
                g->flat = ng->flat;
                g->rebuild = 0;
                g->dirty = 1;
                pthread_rwlock_unlock(&g->lock);
                ng->idx = old_idx; /* the old index goes with t */
                ng->ids = old_ids;
            }
            store_vindex_free(t);
        }
        if (!g->rebuild && g->n_ids == 0) empty = 1;
    }
    if (!rc && empty) {
        pthread_rwlock_wrlock(&vi->lock);
        vindex_groups_compact(vi);
        pthread_rwlock_unlock(&vi->lock);
    }
    return rc;
}

/* Loads or rebuilds everything aside (files, replay, rebuilds: as a first
 * sync would), then puts the result in place under vi->lock. */
static int live_full(store *s, vindex *vi, const store_model *m, const logpos *lp, rag_err *err)
{
    vindex *t = vindex_like(s, vi);
    int rc = vindex_sync_memory(s, t, m, lp, NULL, NULL, err);
    if (!rc) {
        pthread_rwlock_wrlock(&vi->lock);
        vgroup **old = vi->g;
        size_t n_old = vi->n_g, cap_old = vi->cap_g;
        vi->g = t->g, vi->n_g = t->n_g, vi->cap_g = t->cap_g;
        vi->model_id = t->model_id, vi->dims = t->dims, vi->seq = t->seq, vi->loaded = t->loaded;
        t->g = old, t->n_g = n_old, t->cap_g = cap_old; /* the old groups go with t */
        pthread_rwlock_unlock(&vi->lock);
    }
    store_vindex_free(t);
    return rc;
}

int store_vindex_catch_up(store *s, rag_err *err)
{
    if (s->in_tx)
        return rag_err_set(err, RAG_ERR_INVALID, "%s: vector indexes catch up outside transactions",
                           s->path);
    vindex *vi = vindex_of(s);
    pthread_mutex_lock(&vi->sync_mu);
    int began = store_read_begin(s, err);
    if (began < 0) {
        pthread_mutex_unlock(&vi->sync_mu);
        return began;
    }
    store_model m;
    int rc = vindex_active_model(s, &m, err);
    if (rc == 0 && (vi->loaded || vi->n_g)) { /* no model any more: nothing to index */
        pthread_rwlock_wrlock(&vi->lock);
        vindex_reset(vi);
        pthread_rwlock_unlock(&vi->lock);
    }
    logpos lp;
    if (rc > 0)
        rc = vindex_log_position(s, &lp, err);
    else if (rc == 0)
        rc = 1; /* done */
    if (rc == 0) {
        int full = vi->need_full || !vi->loaded || vi->model_id != m.id || vi->dims != m.dims ||
                   vindex_log_gap(vi->seq, &lp) != NULL;
        if (!full && vi->seq < lp.hi) {
            rc = vindex_replay(s, vi, vi->seq, lp.hi, NULL, NULL, 1, err);
            if (rc == 1)
                full = 1, rc = 0;
            else if (!rc)
                rc = live_rebuilds(s, vi, err);
            if (!rc && !full) {
                pthread_rwlock_wrlock(&vi->lock);
                vi->seq = lp.hi;
                pthread_rwlock_unlock(&vi->lock);
            }
            /* a failure leaves the groups half replayed: start afresh next time */
            if (rc) vi->need_full = 1;
        }
        if (full && !rc) {
            rc = live_full(s, vi, &m, &lp, err);
            vi->need_full = rc != 0;
        }
    }
    store_read_end(s, began);
    pthread_mutex_unlock(&vi->sync_mu);
    return rc < 0 ? rc : 0;
}
