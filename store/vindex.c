/* store/vindex.c: vector search over FAISS indexes, one per ACL group: the
 * in-memory state that every layer shares (the indexes of a database, its
 * groups, their locks) and the map of the layers.
 *
 * Why one index per group. Debian's FAISS 1.7.3 C API cannot pass an id
 * filter to search, and filtering after the search returns too few results
 * (and leaks, through timing, what was filtered). So every ACL group has an
 * index of its own, a search asks only the groups the principal may see (the
 * same rule as keyword search, store/visible.c), and the per-group top k
 * lists are merged by score. Nothing invisible is ever ranked, and k hits
 * come back whenever k visible vectors exist.
 *
 * Layers, as SQLite's btree/pager/wal: each file one layer, each with a
 * design note atop; private declarations in store/vindex_int.h.
 *   vindex.c           this file: the indexes in memory, groups, sorted id
 *                      mirrors, configuration, sharing between connections
 *   vindex_faiss.c     FAISS: the only file that includes its headers
 *   vindex_manifest.c  the checksum and the manifest format
 *   vindex_files.c     the files beside the database: writing (lock, fsync,
 *                      rename) and checked reading
 *   vindex_build.c     reading SQLite: building groups, replaying the log
 *   vindex_sync.c      bringing the indexes up to date: sync, rebuild, and
 *                      the background catch-up
 *   vindex_check.c     the integrity check against SQLite
 *   vindex_search.c    the search, and the hits (visibility applied again)
 * Calls go downwards: search uses sync; sync and check use files and
 * build; files use manifest and FAISS; build uses FAISS; all use this
 * file and its state.
 *
 * What this file owns: struct store_vindex (one per database, shared by
 * the connections of a process with store_vindex_share, freed with the
 * last) and its groups, each an index, a sorted mirror of its ids and a
 * lock.
 *
 * Locks. vi->lock (read: searches; write: changing the set of groups, seq
 * or the model, and syncs and configuration, which change groups without
 * their locks); each group's lock (read: a search using the group; write: a
 * catch-up changing it); vi->sync_mu, held by every writer (sync, catch-up,
 * configuration), so that one writes at a time and may read the structure
 * unlocked. Order: sync_mu, vi->lock, one group's lock. The rwlocks prefer
 * writers (a writer is not starved by a stream of searches; none takes one
 * twice). */
#include "store/vindex_int.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

void store_vindex_default_params(store_vindex_params *p)
{
    memset(p, 0, sizeof *p);
    p->large_group = 50000;
    p->large_factory = "HNSW32,Flat";
    p->ef_search = 64;
}

/* ---- lifecycle ----------------------------------------------------------- */

void vindex_group_clear(vgroup *g)
{
    vindex_idx_free(g->idx);
    rag_free(g->ids);
    g->idx = NULL;
    g->ids = NULL;
    g->n_ids = g->cap_ids = 0;
    g->flat = g->rebuild = g->dirty = 0;
    g->file_hash = 0;
    g->file_bytes = 0;
}

vgroup *vindex_group_new(int64_t id)
{
    vgroup *g = rag_xcalloc(1, sizeof *g);
    g->id = id;
    g->dirty = 1;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    /* Writers (catch-up) hold it briefly; they must not starve behind a
     * stream of searches, and a search takes it once, never recursively. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&g->lock, &a);
    pthread_rwlockattr_destroy(&a);
    return g;
}

void vindex_group_free(vgroup *g)
{
    if (!g) return;
    vindex_group_clear(g);
    pthread_rwlock_destroy(&g->lock);
    rag_free(g);
}

void vindex_reset(vindex *vi)
{
    for (size_t i = 0; i < vi->n_g; i++)
        vindex_group_free(vi->g[i]);
    vi->n_g = 0;
    vi->loaded = 0;
    vi->model_id = 0;
    vi->dims = 0;
    vi->seq = 0;
}

void store_vindex_free(struct store_vindex *vi)
{
    if (!vi || __atomic_sub_fetch(&vi->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    pthread_rwlock_destroy(&vi->lock);
    pthread_mutex_destroy(&vi->sync_mu);
    vindex_reset(vi);
    rag_free(vi->g);
    rag_free(vi->dir);
    rag_free(vi);
}

vindex *vindex_new(const char *db_path)
{
    vindex_faiss_init();
    vindex *vi = rag_xcalloc(1, sizeof *vi);
    store_vindex_params p;
    store_vindex_default_params(&p);
    vi->large_group = p.large_group;
    snprintf(vi->large_factory, sizeof vi->large_factory, "%s", p.large_factory);
    vi->ef_search = p.ef_search;
    vi->dir = rag_xasprintf("%s.vectors", db_path);
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    /* A writer waits only for the searches running, not for every search
     * that comes after it (no search takes it twice). */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&vi->lock, &a);
    pthread_rwlockattr_destroy(&a);
    pthread_mutex_init(&vi->sync_mu, NULL);
    vi->refs = 1;
    return vi;
}

vindex *vindex_of(store *s)
{
    if (!s->vindex) s->vindex = vindex_new(s->path);
    return s->vindex;
}

void store_vindex_share(store *s, store *from)
{
    vindex *vi = vindex_of(from);
    if (s->vindex == vi) return;
    store_vindex_free(s->vindex);
    __atomic_add_fetch(&vi->refs, 1, __ATOMIC_ACQ_REL);
    pthread_rwlock_wrlock(&vi->lock);
    vi->shared = 1;
    pthread_rwlock_unlock(&vi->lock);
    s->vindex = vi;
}

/* ---- groups -------------------------------------------------------------- */

vgroup *vindex_group_find(vindex *vi, int64_t id)
{
    size_t lo = 0, hi = vi->n_g;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vi->g[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < vi->n_g && vi->g[lo]->id == id ? vi->g[lo] : NULL;
}

vgroup *vindex_group_get(vindex *vi, int64_t id)
{
    size_t lo = 0, hi = vi->n_g;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vi->g[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < vi->n_g && vi->g[lo]->id == id) return vi->g[lo];
    vi->g = rag_xgrow(vi->g, &vi->cap_g, vi->n_g + 1, sizeof *vi->g);
    memmove(&vi->g[lo + 1], &vi->g[lo], (vi->n_g - lo) * sizeof *vi->g);
    vi->n_g++;
    vi->g[lo] = vindex_group_new(id);
    return vi->g[lo];
}

void vindex_groups_compact(vindex *vi)
{
    size_t w = 0;
    for (size_t i = 0; i < vi->n_g; i++) {
        if (!vi->g[i]->rebuild && vi->g[i]->n_ids == 0) {
            vindex_group_free(vi->g[i]);
            continue;
        }
        vi->g[w++] = vi->g[i];
    }
    vi->n_g = w;
}

char *vindex_group_path(const vindex *vi, int64_t id)
{
    return rag_xasprintf("%s/group-%lld.faiss", vi->dir, (long long)id);
}

void vindex_group_insert(vindex *vi, vgroup *ng)
{
    size_t lo = 0, hi = vi->n_g;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vi->g[mid]->id < ng->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    vi->g = rag_xgrow(vi->g, &vi->cap_g, vi->n_g + 1, sizeof *vi->g);
    memmove(&vi->g[lo + 1], &vi->g[lo], (vi->n_g - lo) * sizeof *vi->g);
    vi->g[lo] = ng;
    vi->n_g++;
}

/* ---- sorted id mirrors --------------------------------------------------- */

int vindex_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int vindex_bsearch_i64(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

void vindex_ids_merge(vgroup *g, const int64_t *add, size_t n)
{
    if (!n) return;
    g->ids = rag_xgrow(g->ids, &g->cap_ids, g->n_ids + n, sizeof *g->ids);
    if (g->n_ids == 0 || add[0] > g->ids[g->n_ids - 1]) {
        memcpy(g->ids + g->n_ids, add, n * sizeof *add); /* the usual case: new chunks */
    } else {
        size_t i = g->n_ids, j = n, w = g->n_ids + n;
        while (j > 0) {
            if (i > 0 && g->ids[i - 1] > add[j - 1])
                g->ids[--w] = g->ids[--i];
            else
                g->ids[--w] = add[--j];
        }
    }
    g->n_ids += n;
}

void vindex_ids_remove(vgroup *g, const int64_t *del, size_t n)
{
    size_t w = 0, j = 0;
    for (size_t i = 0; i < g->n_ids; i++) {
        while (j < n && del[j] < g->ids[i])
            j++;
        if (j < n && del[j] == g->ids[i]) continue;
        g->ids[w++] = g->ids[i];
    }
    g->n_ids = w;
}

/* Walks the shorter list and searches the longer. */
size_t vindex_ids_present(const vgroup *g, const int64_t *q, size_t n, int64_t *out)
{
    if (!n || !g->n_ids || q[0] > g->ids[g->n_ids - 1] || q[n - 1] < g->ids[0]) return 0;
    size_t m = 0;
    if (n <= g->n_ids) {
        for (size_t i = 0; i < n; i++)
            if (vindex_bsearch_i64(g->ids, g->n_ids, q[i])) out[m++] = q[i];
    } else {
        for (size_t i = 0; i < g->n_ids; i++)
            if (g->ids[i] >= q[0] && g->ids[i] <= q[n - 1] && vindex_bsearch_i64(q, n, g->ids[i]))
                out[m++] = g->ids[i];
    }
    return m;
}

/* ---- configuration ------------------------------------------------------- */

void store_vindex_configure(store *s, const store_vindex_params *p)
{
    vindex *vi = vindex_of(s);
    pthread_mutex_lock(&vi->sync_mu);
    pthread_rwlock_wrlock(&vi->lock);
    store_vindex_params d;
    store_vindex_default_params(&d);
    vi->large_group = p->large_group;
    snprintf(vi->large_factory, sizeof vi->large_factory, "%s",
             p->large_factory && *p->large_factory ? p->large_factory : d.large_factory);
    vi->ef_search = p->ef_search > 0 ? p->ef_search : d.ef_search;
    /* efSearch is a search-time knob: loaded indexes take it now. */
    for (size_t i = 0; i < vi->n_g; i++)
        vindex_set_ef_search(vi, vi->g[i]);
    pthread_rwlock_unlock(&vi->lock);
    pthread_mutex_unlock(&vi->sync_mu);
}
