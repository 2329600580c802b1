/* store/vindex_check.c: the integrity check of the vector index files
 * against the database (rag index check, rag check).
 *
 * What it does: loads the files as a search would, on a private copy that
 * nobody else sees (the indexes in memory are left alone), reports every
 * file that fails its manifest, brings the copy forward over the change
 * log the way a sync would (files merely behind are normal: readers do not
 * write them), and then compares, group by group, the chunk ids each index
 * holds with the chunks SQLite has vectors for. Problems are appended as
 * lines; nothing is repaired here (a sync or rag index rebuild does). What
 * it owns: store_vindex_check. What it calls: vindex_files.c
 * (vindex_load_files), vindex_build.c (the read transaction, the log, the
 * replay) and vindex.c. */
#include "store/vindex_int.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* SQLite's sorted chunk ids for group gid against g's ids. */
static int compare_group(store *s, vindex *vi, int64_t gid, const vgroup *g, rag_strv *problems,
                         rag_err *err)
{
    sqlite3_stmt *st;
    int rc = store_prepare(
        s, "SELECT c.id " GROUP_VECTORS_SQL "WHERE d.acl_group = ?2 ORDER BY c.id", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, vi->model_id);
    sqlite3_bind_int64(st, 2, gid);
    size_t j = 0, n_db = 0, missing = 0, extra = 0;
    size_t n_idx = g ? g->n_ids : 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        n_db++;
        while (j < n_idx && g->ids[j] < id)
            j++, extra++;
        if (j < n_idx && g->ids[j] == id)
            j++;
        else
            missing++;
    }
    extra += n_idx - j;
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list the vectors of a group", err);
    sqlite3_finalize(st);
    if (!rc && (missing || extra))
        rag_strv_pushf(
            problems,
            "%s/group-%lld.faiss: the index has %zu vectors, the database %zu (%zu missing from "
            "the index, %zu not in the database)",
            vi->dir, (long long)gid, n_idx, n_db, missing, extra);
    return rc;
}

int store_vindex_check(store *s, rag_strv *problems, rag_err *err)
{
    int began = store_read_begin(s, err);
    if (began < 0) return began;
    store_model m;
    int rc = vindex_active_model(s, &m, err);
    if (rc <= 0) {
        store_read_end(s, began);
        return rc; /* no model: no vector index to check */
    }
    logpos lp;
    rc = vindex_log_position(s, &lp, err);
    vindex *cur = vindex_of(s);
    vindex *t = vindex_new(s->path);
    pthread_rwlock_rdlock(&cur->lock);
    t->large_group = cur->large_group;
    snprintf(t->large_factory, sizeof t->large_factory, "%s", cur->large_factory);
    t->ef_search = cur->ef_search;
    pthread_rwlock_unlock(&cur->lock);
    rag_strv why = {0};
    if (!rc) rc = vindex_load_files(t, &m, &why, NULL, err);
    if (rc < 0) goto out;
    for (size_t i = 0; i < why.n; i++)
        rag_strv_push(problems, why.v[i]);
    if (rc == 1) { /* no usable manifest: nothing more to compare */
        rc = 0;
        goto out;
    }
    const char *gap = vindex_log_gap(t->seq, &lp);
    if (gap) {
        rag_strv_pushf(problems, "%s/manifest: sequence %lld, change log up to %lld: %s", t->dir,
                       (long long)t->seq, (long long)lp.hi, gap);
        goto out;
    }
    /* Files that are merely behind are normal (readers do not write them):
     * bring the copy up to date the way a sync would, then compare. Groups
     * whose file failed (reported above) or that cannot take a removal stay
     * marked for rebuild and are not compared. */
    if (t->seq < lp.hi) {
        rc = vindex_replay(s, t, t->seq, lp.hi, NULL, NULL, 0, err);
        if (rc == 1) {
            rc = 0;
            rag_strv_pushf(problems, "%s/manifest: too far behind the change log to replay",
                           t->dir);
            goto out;
        }
        if (rc) goto out;
    }
    /* Every group SQLite has vectors for, and every group the index has. */
    sqlite3_stmt *st;
    rc = store_prepare(s, "SELECT DISTINCT d.acl_group " GROUP_VECTORS_SQL "ORDER BY d.acl_group",
                       &st, err);
    if (rc) goto out;
    sqlite3_bind_int64(st, 1, t->model_id);
    int64_t *gids = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        gids = rag_xgrow(gids, &cap, n + 1, sizeof *gids);
        gids[n++] = sqlite3_column_int64(st, 0);
    }
    if (step != SQLITE_DONE) rc = store_sqlite_err(s, step, "list groups", err);
    sqlite3_finalize(st);
    for (size_t i = 0; !rc && i < n; i++) {
        const vgroup *g = vindex_group_find(t, gids[i]);
        if (g && g->rebuild) continue; /* its file failed or cannot take a removal */
        rc = compare_group(s, t, gids[i], g, problems, err);
    }
    for (size_t i = 0; !rc && i < t->n_g; i++) {
        const vgroup *g = t->g[i];
        if (g->rebuild || !g->n_ids || vindex_bsearch_i64(gids, n, g->id)) continue;
        rag_strv_pushf(problems, "%s/group-%lld.faiss: holds %zu vectors of a group without any",
                       t->dir, (long long)g->id, g->n_ids);
    }
    rag_free(gids);
out:
    rag_strv_free(&why);
    store_vindex_free(t);
    store_read_end(s, began);
    return rc < 0 ? rc : 0;
}
